{ config, lib, pkgs, inputs, ... }:

{
  networking = {
    hostName = "hub-1";
    firewall.allowedTCPPorts = [ 7422 ];
  };
  nixpkgs.hostPlatform = "x86_64-linux";
  system.stateVersion = "26.05";
  services.nats = {
    enable = true;
    serverName = "hub";
    port = 4222;
    jetstream = true;
    settings = {
      jetstream.sync_interval = "always";
      leafnodes.port = 7422;
    };
  };
}
