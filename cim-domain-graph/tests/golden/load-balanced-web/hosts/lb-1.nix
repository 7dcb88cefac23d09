{ config, lib, pkgs, inputs, ... }:

{
  networking = {
    hostName = "lb-1";
    firewall.allowedTCPPorts = [ 80 443 ];
  };
  nixpkgs.hostPlatform = "x86_64-linux";
  system.stateVersion = "26.05";
  security.acme = {
    acceptTerms = true;
    certs."shop.example.org".email = "ops@example.org";
  };
  services = {
    nginx = {
      enable = true;
      upstreams.front.servers = {
        "10.0.4.11:8080" = { };
        "10.0.4.11:8081" = { };
        "10.0.4.12:8080" = { };
      };
      virtualHosts."shop.example.org" = {
        listen = [
          {
            addr = "0.0.0.0";
            port = 80;
          }
          {
            addr = "0.0.0.0";
            port = 443;
            ssl = true;
          }
          {
            addr = "[::]";
            port = 80;
          }
          {
            addr = "[::]";
            port = 443;
            ssl = true;
          }
        ];
        locations."/".proxyPass = "http://front";
        forceSSL = true;
        enableACME = true;
      };
    };
    prometheus = {
      exporters.node.enable = true;
      enable = true;
      port = 9090;
      scrapeConfigs = [
        {
          job_name = "node";
          static_configs = [ { targets = [ "127.0.0.1:9100" "10.0.4.11:9100" "10.0.4.12:9100" ]; } ];
        }
      ];
    };
  };
}
