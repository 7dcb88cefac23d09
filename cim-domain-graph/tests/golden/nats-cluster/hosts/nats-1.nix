{ config, lib, pkgs, inputs, ... }:

{
  networking = {
    hostName = "nats-1";
    firewall.allowedTCPPorts = [ 6222 7422 ];
  };
  nixpkgs.hostPlatform = "x86_64-linux";
  system.stateVersion = "26.05";
  services.nats = {
    enable = true;
    serverName = "bus-1";
    port = 4222;
    jetstream = true;
    settings = {
      jetstream.sync_interval = "always";
      cluster = {
        name = "bus-1";
        port = 6222;
        routes = [ "nats-route://10.0.3.2:6222" "nats-route://10.0.3.3:6222" ];
      };
      leafnodes.port = 7422;
      http_port = 8222;
    };
  };
}
