{ config, lib, pkgs, inputs, ... }:

{
  networking.hostName = "edge-1";
  nixpkgs.hostPlatform = "x86_64-linux";
  system.stateVersion = "26.05";
  services.nats = {
    enable = true;
    serverName = "edge-bus";
    port = 4222;
    jetstream = true;
    settings = {
      jetstream.sync_interval = "always";
      leafnodes.remotes = [ { url = "nats-leaf://10.0.3.1:7422"; } ];
    };
  };
  systemd.services.sensor = {
    description = "sensor (deployment graph service)";
    wantedBy = [ "multi-user.target" ];
    environment.NATS_URL = "nats://127.0.0.1:4222";
    serviceConfig = {
      ExecStart = lib.getExe pkgs.hello;
      Restart = "on-failure";
      DynamicUser = true;
      NoNewPrivileges = true;
      ProtectSystem = "strict";
      ProtectHome = true;
      PrivateTmp = true;
    };
    after = [ "network.target" "nats.service" ];
    requires = [ "nats.service" ];
  };
}
