{
  networking = {
    firewall.enable = true;
    hosts = {
      "10.0.5.2" = [ "infer-1" ];
      "10.0.5.3" = [ "train-1" ];
      "10.0.5.4" = [ "legacy-1" ];
      "10.0.9.1" = [ "mon-1" ];
    };
  };
  nix.settings.experimental-features = [ "nix-command" "flakes" ];
}
