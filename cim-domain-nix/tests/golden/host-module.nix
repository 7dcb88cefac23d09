{ config, lib, pkgs, ... }:

{
  imports = [ ./hardware-configuration.nix ];
  networking = {
    hostName = "leaf-1";
    firewall = {
      allowedTCPPorts = [ 4222 6222 ];
      allowedTCPPortRanges = [
        {
          from = 9000;
          to = 9010;
        }
      ];
      allowedUDPPorts = [ 5353 ];
    };
  };
  services.nats = {
    enable = true;
    serverName = "leaf-1";
    port = 4222;
    jetstream = true;
    dataDir = "/var/lib/nats";
    settings = {
      cluster = {
        name = "cim";
        port = 6222;
        routes = [ "nats://10.0.0.2:6222" ];
      };
      leafnodes.remotes = [ { url = "nats-leaf://hub.example.org:7422"; } ];
      http_port = 8222;
    };
  };
  systemd.services.cim-agent-planner = {
    description = "CIM agent: planner";
    wantedBy = [ "multi-user.target" ];
    after = [ "nats.service" ];
    requires = [ "nats.service" ];
    environment = {
      RUST_LOG = "info";
      NATS_URL = "nats://127.0.0.1:4222";
    };
    serviceConfig = {
      ExecStart = "${pkgs.cim-agent}/bin/cim-agent --config /etc/cim/agent.toml";
      Restart = "on-failure";
      DynamicUser = true;
      StateDirectory = "cim-agent-planner";
      NoNewPrivileges = true;
      ProtectSystem = "strict";
      ProtectHome = true;
      PrivateTmp = true;
      ReadWritePaths = [ "/var/lib/cim-agent-planner" ];
      MemoryMax = "512M";
      CPUQuota = "50%";
      TasksMax = 64;
    };
  };
  system.stateVersion = "25.05";
}
