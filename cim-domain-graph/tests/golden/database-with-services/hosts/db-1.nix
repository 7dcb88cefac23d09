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
    cim-postgres-passwords = {
      description = "Set PostgreSQL role passwords from secret files";
      wantedBy = [ "multi-user.target" ];
      requires = [ "postgresql.service" ];
      after = [ "postgresql.service" "postgresql-setup.service" ];
      path = [ config.services.postgresql.package ];
      environment.PGPORT = toString config.services.postgresql.settings.port;
      serviceConfig = {
        Type = "oneshot";
        RemainAfterExit = true;
        User = "postgres";
        Group = "postgres";
        LoadCredential = [ "role0:/run/secrets/cim/postgres/shop.password" ];
      };
      script = ''
        psql --no-psqlrc -v ON_ERROR_STOP=1 --port="$PGPORT" --dbname=postgres <<'SQL'
        \set pw `cat "$CREDENTIALS_DIRECTORY/role0"`
        ALTER ROLE "shop" PASSWORD :'pw';
        \unset pw
        SQL
      '';
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
