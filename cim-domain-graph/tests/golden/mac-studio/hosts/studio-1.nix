{ config, lib, pkgs, inputs, ... }:

{
  networking.hostName = "studio-1";
  nixpkgs.hostPlatform = "aarch64-darwin";
  system = {
    stateVersion = 6;
    activationScripts.postActivation.text = "mkdir -p '/var/lib/nats'\nchown '_cim-nats:_cim-nats' '/var/lib/nats'\nchmod 0750 '/var/lib/nats'\n";
  };
  nix.settings.experimental-features = [ "nix-command" "flakes" ];
  launchd.daemons.nats.serviceConfig = {
    ProgramArguments = [
      (lib.getExe pkgs.nats-server)
      "-c"
      (builtins.toString (pkgs.writeText "nats.conf" (builtins.toJSON {
        server_name = "studio-bus";
        port = 4222;
        jetstream = {
          store_dir = "/var/lib/nats";
          sync_interval = "always";
        };
        leafnodes.remotes = [ { url = "nats-leaf://10.0.1.1:7422"; } ];
        http_port = 8222;
      })))
    ];
    KeepAlive = true;
    RunAtLoad = true;
    UserName = "_cim-nats";
    GroupName = "_cim-nats";
    WorkingDirectory = "/var/lib/nats";
    StandardOutPath = "/var/lib/nats/nats.log";
    StandardErrorPath = "/var/lib/nats/nats.log";
  };
  users = {
    users._cim-nats = {
      uid = 540;
      gid = 540;
      home = "/var/lib/nats";
      createHome = true;
      shell = "/usr/bin/false";
      isHidden = true;
      description = "NATS server";
    };
    groups._cim-nats = {
      gid = 540;
      description = "NATS server";
    };
    knownGroups = [ "_cim-nats" ];
    knownUsers = [ "_cim-nats" ];
  };
}
