{ config, lib, pkgs, inputs, ... }:

{
  networking = {
    hostName = "app-2";
    firewall.allowedTCPPorts = [ 6379 8686 ];
  };
  nixpkgs.hostPlatform = "x86_64-linux";
  system.stateVersion = "25.05";
  systemd.services = {
    cache = {
      description = "cache (deployment graph service)";
      wantedBy = [ "multi-user.target" ];
      serviceConfig = {
        ExecStart = "${pkgs.redis}/bin/redis-server --port 6379 --protected-mode no";
        DynamicUser = true;
        Restart = "on-failure";
        CPUQuota = "50%";
        MemoryMax = "1024M";
      };
      after = [ "network.target" ];
    };
    collector = {
      description = "collector (deployment graph service)";
      wantedBy = [ "multi-user.target" ];
      serviceConfig = {
        ExecStart = lib.getExe pkgs.vector;
        DynamicUser = true;
        Restart = "on-failure";
      };
      after = [ "network.target" ];
    };
    scheduler = {
      description = "scheduler (deployment graph service)";
      wantedBy = [ "multi-user.target" ];
      serviceConfig = {
        ExecStart = "${pkgs.hello}/bin/hello --greeting=tick";
        DynamicUser = true;
        Restart = "on-failure";
        CPUQuota = "25%";
        MemoryMax = "256M";
      };
      after = [ "network.target" "cache.service" ];
      requires = [ "cache.service" ];
    };
  };
}
