{ config, lib, pkgs, inputs, ... }:

{
  networking = {
    hostName = "web-1";
    firewall.allowedTCPPorts = [ 8080 8081 9100 ];
  };
  nixpkgs.hostPlatform = "x86_64-linux";
  system.stateVersion = "25.05";
  services.prometheus.exporters.node.enable = true;
  systemd.services = {
    web-a = {
      description = "web-a (deployment graph service)";
      wantedBy = [ "multi-user.target" ];
      serviceConfig = {
        ExecStart = lib.getExe pkgs.hello;
        DynamicUser = true;
        Restart = "on-failure";
        CPUQuota = "100%";
        MemoryMax = "1024M";
      };
      after = [ "network.target" ];
    };
    web-b = {
      description = "web-b (deployment graph service)";
      wantedBy = [ "multi-user.target" ];
      serviceConfig = {
        ExecStart = lib.getExe pkgs.hello;
        DynamicUser = true;
        Restart = "on-failure";
        CPUQuota = "100%";
        MemoryMax = "1024M";
      };
      after = [ "network.target" ];
    };
  };
}
