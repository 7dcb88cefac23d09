{ config, lib, pkgs, inputs, ... }:

{
  containers.cim-agent-sage = {
    autoStart = true;
    ephemeral = false;
    privateNetwork = true;
    hostAddress = "10.233.114.53";
    localAddress = "10.233.114.54";
    bindMounts = {
      "/var/lib/cim-agent" = {
        hostPath = "/var/lib/cim-agents/sage";
        isReadOnly = false;
      };
      "/dev/nvidia0" = {
        hostPath = "/dev/nvidia0";
        isReadOnly = false;
      };
      "/dev/nvidiactl" = {
        hostPath = "/dev/nvidiactl";
        isReadOnly = false;
      };
      "/dev/nvidia-modeset" = {
        hostPath = "/dev/nvidia-modeset";
        isReadOnly = false;
      };
      "/dev/nvidia-uvm" = {
        hostPath = "/dev/nvidia-uvm";
        isReadOnly = false;
      };
      "/dev/nvidia-uvm-tools" = {
        hostPath = "/dev/nvidia-uvm-tools";
        isReadOnly = false;
      };
      "/run/opengl-driver" = {
        hostPath = "/run/opengl-driver";
        isReadOnly = true;
      };
    };
    allowedDevices = [
      {
        node = "/dev/nvidia0";
        modifier = "rwm";
      }
      {
        node = "/dev/nvidiactl";
        modifier = "rwm";
      }
      {
        node = "/dev/nvidia-modeset";
        modifier = "rwm";
      }
      {
        node = "/dev/nvidia-uvm";
        modifier = "rwm";
      }
      {
        node = "/dev/nvidia-uvm-tools";
        modifier = "rwm";
      }
    ];
    config = { config, lib, pkgs, ... }: {
      imports = [ inputs.cim-leaf.nixosModules.agent ];
      services.cim-agent = {
        enable = true;
        agentFile = builtins.toFile "cim-agent-sage.md" "---\nagent:\n  id: \"5f0c9a8e-3b1d-4c2a-9e7f-1a2b3c4d5e6f\"\n  name: sage\n  display_name: \"SAGE — Systematic Agent Guidance Engine\"\n  version: \"2.1.0\"\nconceptual_space:\n  boundary: orchestration\ndescription: \"Orchestrates the other agents and keeps the domain model consistent.\"\ncapabilities:\n  - orchestration\n  - domain-modeling\nmodel:\n  provider: ollama\n  ollama:\n    url: \"http://gpu-1:11434\"\n    model: \"llama3.1:70b\"\n  parameters:\n    temperature: 0.7\n    max_tokens: 8192\nnats:\n  url: \"nats://10.0.0.1:4222\"\n  subjects:\n    commands: \"cim.agents.sage.commands.>\"\n    events:\n      registered: \"cim.agents.sage.events.registered\"\ndeployment:\n  target_node: gpu-1\n  resources:\n    memory_max: 16G\n    cpu_quota: \"400%\"\n    tasks_max: 1024\n    gpus: 1\n  restart:\n    policy: on-failure\n    interval_sec: 10\n    max_retries: 5\n  logging:\n    level: info\n    format: json\ndependencies:\n  required:\n    - nix-expert\n---\n# Role\nYou orchestrate the other agents.\n\n## Knowledge Base\nEvent storming, bounded contexts.\n";
        agentId = "5f0c9a8e-3b1d-4c2a-9e7f-1a2b3c4d5e6f";
        natsUrl = "nats://10.0.0.1:4222";
        ollamaUrl = "http://gpu-1:11434";
        dataDir = "/var/lib/cim-agent";
        memoryMax = "16G";
        cpuQuota = "400%";
        tasksMax = 1024;
        restartPolicy = "on-failure";
        restartSec = 10;
        maxRetries = 5;
        logLevel = "info";
        logFormat = "json";
        deviceAllow = [
          "/dev/nvidia0 rw"
          "/dev/nvidiactl rw"
          "/dev/nvidia-modeset rw"
          "/dev/nvidia-uvm rw"
          "/dev/nvidia-uvm-tools rw"
        ];
      };
      system.stateVersion = "26.05";
    };
  };
  networking.nat = {
    enable = true;
    internalInterfaces = [ (if config.networking.nftables.enable then "ve-*" else "ve-+") ];
  };
  systemd.tmpfiles.rules = [ "d /var/lib/cim-agents/sage 0750 - - -" ];
}
