{ config, lib, pkgs, inputs, ... }:

{
  networking = {
    hostName = "nats-2";
    firewall.allowedTCPPorts = [ 6222 ];
  };
  nixpkgs.hostPlatform = "x86_64-linux";
  system.stateVersion = "26.05";
  services.nats = {
    enable = true;
    serverName = "bus-2";
    port = 4222;
    jetstream = true;
    settings = {
      jetstream.sync_interval = "always";
      cluster = {
        name = "bus-1";
        port = 6222;
        routes = [ "nats-route://10.0.3.1:6222" "nats-route://10.0.3.3:6222" ];
      };
      http_port = 8222;
    };
  };
}
