{
  networking = {
    firewall.enable = true;
    hosts = {
      "10.0.1.1" = [ "hub-1" ];
      "10.0.6.1" = [ "studio-1" ];
    };
  };
  nix.settings.experimental-features = [ "nix-command" "flakes" ];
}
