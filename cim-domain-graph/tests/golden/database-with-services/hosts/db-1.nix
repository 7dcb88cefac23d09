{ config, lib, pkgs, inputs, ... }:

{
  networking = {
    hostName = "db-1";
    firewall.allowedTCPPorts = [ 5432 ];
  };
  nixpkgs.hostPlatform = "x86_64-linux";
  system.stateVersion = "26.05";
  systemd.services = {
    billing = {
      description = "billing (deployment graph service)";
      wantedBy = [ "multi-user.target" ];
      environment = {
        PGDATABASE = "billing";
        PGHOST = "/run/postgresql";
        PGPORT = "5432";
        PGUSER = "billing";
      };
      serviceConfig = {
        ExecStart = lib.getExe pkgs.hello;
        Restart = "on-failure";
        DynamicUser = true;
        NoNewPrivileges = true;
        ProtectSystem = "strict";
        ProtectHome = true;
        PrivateTmp = true;
      };
      after = [ "network.target" "postgresql.service" ];
      requires = [ "postgresql.service" ];
    };
    postgresql = {
      serviceConfig = {
        MemoryMax = "16384M";
        CPUQuota = "400%";
      };
      unitConfig.RequiresMountsFor = [ "/var/lib/postgresql" ];
    };
  };
  services.postgresql = {
    enable = true;
    settings.port = 5432;
    ensureDatabases = [ "analytics" "billing" "shop" ];
    ensureUsers = [
      {
        name = "analytics";
        ensureDBOwnership = true;
      }
      {
        name = "billing";
        ensureDBOwnership = true;
      }
      { name = "reporting"; }
      {
        name = "shop";
        ensureDBOwnership = true;
      }
    ];
    enableTCPIP = true;
    authentication = "host all all 10.0.2.20/32 scram-sha-256\n";
  };
  fileSystems."/var/lib/postgresql" = {
    device = "/dev/disk/by-label/pgdata";
    fsType = "ext4";
  };
}
