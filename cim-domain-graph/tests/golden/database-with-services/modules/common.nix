{
  networking = {
    firewall.enable = true;
    hosts = {
      "10.0.2.10" = [ "db-1" ];
      "10.0.2.20" = [ "app-1" ];
    };
  };
  nix.settings.experimental-features = [ "nix-command" "flakes" ];
}
