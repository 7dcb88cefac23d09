{ config, lib, pkgs, ... }:

{
  containers.planner = {
    autoStart = true;
    ephemeral = true;
    privateNetwork = true;
    hostAddress = "10.233.1.1";
    localAddress = "10.233.1.2";
    bindMounts = {
      "/var/lib/cim-agent" = {
        hostPath = "/srv/cim agents/planner";
        isReadOnly = false;
      };
      "/etc/cim" = {
        hostPath = "/etc/cim";
        isReadOnly = true;
      };
    };
    forwardPorts = [
      {
        protocol = "tcp";
        hostPort = 18080;
        containerPort = 8080;
      }
    ];
    allowedDevices = [
      {
        node = "/dev/nvidia0";
        modifier = "rw";
      }
    ];
    extraFlags = [ "--private-users-ownership=chown" ];
    config = { config, lib, pkgs, ... }: {
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
    };
  };
}
