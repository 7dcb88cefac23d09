{
  networking = {
    firewall.enable = true;
    hosts = {
      "10.0.3.1" = [ "nats-1" ];
      "10.0.3.2" = [ "nats-2" ];
      "10.0.3.3" = [ "nats-3" ];
      "192.168.1.50" = [ "edge-1" ];
    };
  };
  nix.settings.experimental-features = [ "nix-command" "flakes" ];
}
