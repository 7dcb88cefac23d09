{ config, lib, pkgs, inputs, ... }:

{
  containers = {
    cim-agent-ddd-expert = {
      autoStart = true;
      ephemeral = false;
      privateNetwork = true;
      hostAddress = "10.233.208.57";
      localAddress = "10.233.208.58";
      bindMounts."/var/lib/cim-agent" = {
        hostPath = "/var/lib/cim-agents/ddd-expert";
        isReadOnly = false;
      };
      config = { config, lib, pkgs, ... }: {
        imports = [ inputs.cim-leaf.nixosModules.agent ];
        services.cim-agent = {
          enable = true;
          agentFile = builtins.toFile "cim-agent-ddd-expert.md" "---\nname: ddd-expert\ndisplay_name: \"DDD Expert\"\ndescription: \"Domain-driven design guidance: aggregates, events, bounded contexts.\"\nversion: 0.3.0\nauthor: \"CIM team\"\ntags: [ddd, modeling]\ncapabilities:\n  - domain-modeling\n  - event-storming\ndependencies:\n  - sage\nmodel: opus\nmodel_preferences:\n  provider: anthropic\n  model: claude-opus\n  temperature: 0.4\n  max_tokens: 4096\ntools:\n  - Read\n  - Write\n---\n# Role\nYou guide domain modelling.\n\n## Examples\nOrder aggregate with OrderPlaced and OrderShipped events.\n";
          agentId = "a49e6de8-f3b6-50ce-a1f1-3bfc4204610b";
          natsUrl = "nats://10.233.208.57:4222";
          dataDir = "/var/lib/cim-agent";
        };
        system.stateVersion = "26.05";
      };
    };
    cim-agent-nix-expert = {
      autoStart = true;
      ephemeral = false;
      privateNetwork = true;
      hostAddress = "10.233.41.157";
      localAddress = "10.233.41.158";
      bindMounts."/var/lib/cim-agent" = {
        hostPath = "/var/lib/cim-agents/nix-expert";
        isReadOnly = false;
      };
      config = { config, lib, pkgs, ... }: {
        imports = [ inputs.cim-leaf.nixosModules.agent ];
        services.cim-agent = {
          enable = true;
          agentFile = builtins.toFile "cim-agent-nix-expert.md" "---\nagent:\n  id: \"\"\n  name: nix-expert\n  display_name: \"Nix Expert\"\n  version: \"1.0.0\"\ndescription: \"Writes and reviews NixOS modules and flakes.\"\ncapabilities:\n  - nix\n  - nixos\nmodel:\n  provider: ollama\n  ollama:\n    url: \"http://gpu-1:11434\"\n    model: \"qwen2.5-coder:32b\"\n  parameters:\n    temperature: 0.2\nnats:\n  url: \"nats://10.0.0.1:4222\"\ndeployment:\n  target_node: host-a\n  resources:\n    memory_max: 4G\n    cpu_quota: \"200%\"\n  logging:\n    level: debug\n---\n# Role\nYou know Nix.\n";
          agentId = "405320b5-9e77-5ffc-ab7f-75eee9685b5f";
          natsUrl = "nats://10.0.0.1:4222";
          ollamaUrl = "http://gpu-1:11434";
          dataDir = "/var/lib/cim-agent";
          memoryMax = "4G";
          cpuQuota = "200%";
          logLevel = "debug";
        };
        system.stateVersion = "26.05";
      };
    };
  };
  networking = {
    nat = {
      enable = true;
      internalInterfaces = [ (if config.networking.nftables.enable then "ve-*" else "ve-+") ];
    };
    firewall.interfaces = {
      "ve-+".allowedTCPPorts = if !config.networking.nftables.enable then [ 4222 ] else [ ];
      "ve-*".allowedTCPPorts = if config.networking.nftables.enable then [ 4222 ] else [ ];
    };
  };
  systemd.tmpfiles.rules = [
    "d /var/lib/cim-agents/ddd-expert 0750 - - -"
    "d /var/lib/cim-agents/nix-expert 0750 - - -"
  ];
}
