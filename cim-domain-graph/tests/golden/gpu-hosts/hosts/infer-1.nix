{ config, lib, pkgs, inputs, ... }:

{
  networking = {
    hostName = "infer-1";
    firewall.allowedTCPPorts = [ 9100 9835 ];
  };
  nixpkgs = {
    hostPlatform = "x86_64-linux";
    config.allowUnfreePredicate = pkg: builtins.elem (lib.getName pkg) [
      "nvidia-persistenced"
      "nvidia-settings"
      "nvidia-x11"
    ];
  };
  system.stateVersion = "26.05";
  hardware = {
    graphics.enable = true;
    nvidia = {
      open = true;
      nvidiaPersistenced = true;
      nvidiaSettings = false;
    };
  };
  services = {
    prometheus.exporters = {
      node.enable = true;
      nvidia-gpu.enable = true;
    };
    xserver.videoDrivers = [ "nvidia" ];
  };
}
