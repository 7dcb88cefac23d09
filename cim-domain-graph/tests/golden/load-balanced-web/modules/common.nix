{
  networking = {
    firewall.enable = true;
    hosts = {
      "10.0.4.1" = [ "lb-1" ];
      "10.0.4.11" = [ "web-1" ];
      "10.0.4.12" = [ "web-2" ];
    };
  };
  nix.settings.experimental-features = [ "nix-command" "flakes" ];
}
