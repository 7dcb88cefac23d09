{ config, lib, pkgs, inputs, ... }:

{
  networking = {
    hostName = "web-1";
    firewall.allowedTCPPorts = [ 8080 8081 9100 ];
  };
  nixpkgs.hostPlatform = "x86_64-linux";
  system.stateVersion = "26.05";
  services.prometheus.exporters.node.enable = true;
  systemd.services = {
    web-a = {
      description = "web-a (deployment graph service)";
      wantedBy = [ "multi-user.target" ];
      serviceConfig = {
        ExecStart = lib.getExe pkgs.hello;
        Restart = "on-failure";
        DynamicUser = true;
        NoNewPrivileges = true;
        ProtectSystem = "strict";
        ProtectHome = true;
        PrivateTmp = true;
        MemoryMax = "1024M";
        CPUQuota = "100%";
      };
      after = [ "network.target" ];
    };
    web-b = {
      description = "web-b (deployment graph service)";
      wantedBy = [ "multi-user.target" ];
      serviceConfig = {
        ExecStart = lib.getExe pkgs.hello;
        Restart = "on-failure";
        DynamicUser = true;
        NoNewPrivileges = true;
        ProtectSystem = "strict";
        ProtectHome = true;
        PrivateTmp = true;
        MemoryMax = "1024M";
        CPUQuota = "100%";
      };
      after = [ "network.target" ];
    };
  };
}
