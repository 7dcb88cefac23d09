{ config, lib, pkgs, inputs, ... }:

{
  networking.hostName = "app-1";
  nixpkgs.hostPlatform = "x86_64-linux";
  system.stateVersion = "26.05";
  systemd.services = {
    api = {
      description = "api (deployment graph service)";
      wantedBy = [ "multi-user.target" ];
      environment = {
        CACHE_HOST = "10.0.1.12";
        CACHE_PORT = "6379";
        CACHE_URL = "redis://10.0.1.12:6379";
        COLLECTOR_HOST = "10.0.1.12";
        COLLECTOR_PORT = "8686";
        RUST_LOG = "info";
      };
      serviceConfig = {
        ExecStart = lib.getExe pkgs.hello;
        Restart = "on-failure";
        DynamicUser = true;
        NoNewPrivileges = true;
        ProtectSystem = "strict";
        ProtectHome = true;
        PrivateTmp = true;
        MemoryMax = "2048M";
        CPUQuota = "150%";
      };
      after = [ "network.target" ];
    };
    worker = {
      description = "worker (deployment graph service)";
      wantedBy = [ "multi-user.target" ];
      environment = {
        CACHE_HOST = "10.0.1.12";
        CACHE_PORT = "6379";
      };
      serviceConfig = {
        ExecStart = "/run/current-system/sw/bin/sleep infinity";
        Restart = "on-failure";
        DynamicUser = true;
        NoNewPrivileges = true;
        ProtectSystem = "strict";
        ProtectHome = true;
        PrivateTmp = true;
        MemoryMax = "1024M";
        CPUQuota = "100%";
      };
      after = [ "network.target" "api.service" ];
      requires = [ "api.service" ];
    };
  };
}
