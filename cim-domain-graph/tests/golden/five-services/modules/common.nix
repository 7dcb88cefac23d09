{
  networking = {
    firewall.enable = true;
    hosts = {
      "10.0.1.11" = [ "app-1" ];
      "10.0.1.12" = [ "app-2" ];
    };
  };
  nix.settings.experimental-features = [ "nix-command" "flakes" ];
}
