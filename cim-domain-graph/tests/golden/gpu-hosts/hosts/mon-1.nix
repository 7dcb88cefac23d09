{ config, lib, pkgs, inputs, ... }:

{
  networking.hostName = "mon-1";
  nixpkgs.hostPlatform = "x86_64-linux";
  system.stateVersion = "26.05";
  services.prometheus = {
    enable = true;
    port = 9090;
    scrapeConfigs = [
      {
        job_name = "node";
        static_configs = [ { targets = [ "10.0.5.2:9100" "10.0.5.4:9100" "10.0.5.3:9100" ]; } ];
      }
      {
        job_name = "nvidia-gpu";
        static_configs = [ { targets = [ "10.0.5.2:9835" "10.0.5.4:9835" "10.0.5.3:9835" ]; } ];
      }
    ];
  };
}
