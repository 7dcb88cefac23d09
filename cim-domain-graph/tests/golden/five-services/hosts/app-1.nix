{ config, lib, pkgs, inputs, ... }:

{
  networking.hostName = "app-1";
  nixpkgs.hostPlatform = "x86_64-linux";
  system.stateVersion = "25.05";
  systemd.services = {
    api = {
      description = "api (deployment graph service)";
      wantedBy = [ "multi-user.target" ];
      environment = {
        CACHE_URL = "redis://10.0.1.12:6379";
        RUST_LOG = "info";
      };
      serviceConfig = {
        ExecStart = lib.getExe pkgs.hello;
        DynamicUser = true;
        Restart = "on-failure";
        CPUQuota = "150%";
        MemoryMax = "2048M";
      };
      after = [ "network.target" ];
    };
    worker = {
      description = "worker (deployment graph service)";
      wantedBy = [ "multi-user.target" ];
      serviceConfig = {
        ExecStart = "/run/current-system/sw/bin/sleep infinity";
        DynamicUser = true;
        Restart = "on-failure";
        CPUQuota = "100%";
        MemoryMax = "1024M";
      };
      after = [ "network.target" "api.service" ];
      requires = [ "api.service" ];
    };
  };
}
