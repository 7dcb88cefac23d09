{ config, lib, pkgs, inputs, ... }:

{
  networking = {
    hostName = "app-2";
    firewall.allowedTCPPorts = [ 6379 8686 ];
  };
  nixpkgs.hostPlatform = "x86_64-linux";
  system.stateVersion = "26.05";
  systemd.services = {
    cache = {
      description = "cache (deployment graph service)";
      wantedBy = [ "multi-user.target" ];
      serviceConfig = {
        ExecStart = "${pkgs.redis}/bin/redis-server --port 6379 --protected-mode no";
        Restart = "on-failure";
        DynamicUser = true;
        NoNewPrivileges = true;
        ProtectSystem = "strict";
        ProtectHome = true;
        PrivateTmp = true;
        MemoryMax = "1024M";
        CPUQuota = "50%";
      };
      after = [ "network.target" ];
    };
    collector = {
      description = "collector (deployment graph service)";
      wantedBy = [ "multi-user.target" ];
      serviceConfig = {
        ExecStart = lib.getExe pkgs.vector;
        Restart = "on-failure";
        DynamicUser = true;
        NoNewPrivileges = true;
        ProtectSystem = "strict";
        ProtectHome = true;
        PrivateTmp = true;
      };
      after = [ "network.target" ];
    };
    scheduler = {
      description = "scheduler (deployment graph service)";
      wantedBy = [ "multi-user.target" ];
      serviceConfig = {
        ExecStart = "${pkgs.hello}/bin/hello --greeting=tick";
        Restart = "on-failure";
        DynamicUser = true;
        NoNewPrivileges = true;
        ProtectSystem = "strict";
        ProtectHome = true;
        PrivateTmp = true;
        MemoryMax = "256M";
        CPUQuota = "25%";
      };
      after = [ "network.target" "cache.service" ];
      requires = [ "cache.service" ];
    };
  };
}
