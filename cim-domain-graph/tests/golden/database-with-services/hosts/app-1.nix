{ config, lib, pkgs, inputs, ... }:

{
  networking.hostName = "app-1";
  nixpkgs.hostPlatform = "x86_64-linux";
  system.stateVersion = "26.05";
  systemd.services.shop = {
    description = "shop (deployment graph service)";
    wantedBy = [ "multi-user.target" ];
    environment = {
      DATABASE_URL = "postgresql://shop@10.0.2.10:5432/shop";
      PGDATABASE = "shop";
      PGHOST = "10.0.2.10";
      PGPASSWORD_FILE = "/run/credentials/shop.service/pg-password";
      PGPORT = "5432";
      PGUSER = "shop";
      PG_HOST = "10.0.2.10";
      PG_PORT = "5432";
    };
    serviceConfig = {
      ExecStart = lib.getExe pkgs.hello;
      Restart = "on-failure";
      DynamicUser = true;
      NoNewPrivileges = true;
      ProtectSystem = "strict";
      ProtectHome = true;
      PrivateTmp = true;
      LoadCredential = [ "pg-password:/run/secrets/cim/postgres/shop.password" ];
    };
    after = [ "network.target" ];
  };
}
