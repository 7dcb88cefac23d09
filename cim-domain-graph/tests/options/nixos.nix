# The NixOS options the generated host modules set, declared with the types nixpkgs gives them
# (nixos/modules/...: networking, hardware/video/nvidia.nix, hardware/graphics.nix,
# services/x11/xserver.nix, services/networking/nats.nix, services/monitoring/prometheus,
# misc/nixpkgs.nix).
let
  t = import ./types.nix;
  inherit (t) mkOption;
  # What `lib.getName` sees of a package, for checking `allowUnfreePredicate`.
  samplePackage = { name = "nvidia-x11-570.86.16-6.12.10"; };
  exporter = extra: {
    enable = mkOption t.bool;
    port = mkOption t.port;
    openFirewall = mkOption t.bool;
    listenAddress = mkOption t.str;
  } // extra;
in
{
  networking = {
    hostName = mkOption t.str;
    hosts = mkOption (t.attrsOf (t.listOf t.str));
    firewall = {
      enable = mkOption t.bool;
      allowedTCPPorts = mkOption (t.listOf t.port);
      allowedUDPPorts = mkOption (t.listOf t.port);
    };
  };
  nixpkgs = {
    hostPlatform = mkOption (t.either t.str (t.attrsOf t.str));
    config = {
      _freeformType = t.leaf "anything" (v: true);
      allowUnfree = mkOption t.bool;
      allowUnfreePredicate = mkOption (t.functionTo t.bool samplePackage);
    };
  };
  nix.settings = {
    _freeformType = t.leaf "anything" (v: true);
    experimental-features = mkOption (t.listOf t.str);
  };
  system.stateVersion = mkOption t.str;
  hardware = {
    graphics = {
      enable = mkOption t.bool;
      enable32Bit = mkOption t.bool;
    };
    nvidia = {
      open = mkOption (t.nullOr t.bool);
      nvidiaPersistenced = mkOption t.bool;
      nvidiaSettings = mkOption t.bool;
      modesetting.enable = mkOption t.bool;
      powerManagement.enable = mkOption t.bool;
      datacenter = {
        enable = mkOption t.bool;
        settings = mkOption (t.attrsOf (t.leaf "anything" (v: true)));
      };
    };
  };
  security.acme = {
    acceptTerms = mkOption t.bool;
    defaults = {
      email = mkOption (t.nullOr t.str);
      server = mkOption (t.nullOr t.str);
    };
    certs = mkOption (t.attrsOf (t.submodule {
      email = mkOption (t.nullOr t.str);
      server = mkOption (t.nullOr t.str);
    }));
  };
  services = {
    # services/web-servers/nginx/default.nix and vhost-options.nix.
    nginx = {
      enable = mkOption t.bool;
      upstreams = mkOption (t.attrsOf (t.submodule {
        servers = mkOption (t.attrsOf (t.submodule {
          backup = mkOption t.bool;
        }));
      }));
      virtualHosts = mkOption (t.attrsOf (t.submodule {
        listen = mkOption (t.listOf (t.submodule {
          addr = mkOption t.str;
          port = mkOption (t.nullOr t.port);
          ssl = mkOption t.bool;
        }));
        forceSSL = mkOption t.bool;
        enableACME = mkOption t.bool;
        sslCertificate = mkOption t.path;
        sslCertificateKey = mkOption t.path;
        locations = mkOption (t.attrsOf (t.submodule {
          proxyPass = mkOption (t.nullOr t.str);
        }));
      }));
    };
    xserver = {
      enable = mkOption t.bool;
      videoDrivers = mkOption (t.listOf t.str);
    };
    nats = {
      enable = mkOption t.bool;
      serverName = mkOption t.str;
      port = mkOption t.port;
      jetstream = mkOption t.bool;
      dataDir = mkOption t.path;
      settings = mkOption (t.attrsOf (t.leaf "JSON value" (v: true)));
    };
    prometheus = {
      enable = mkOption t.bool;
      port = mkOption t.port;
      scrapeConfigs = mkOption (t.listOf (t.submodule {
        job_name = mkOption t.str;
        static_configs = mkOption (t.listOf (t.submodule {
          targets = mkOption (t.listOf t.str);
          labels = mkOption (t.attrsOf t.str);
        }));
      }));
      exporters = {
        node = exporter { enabledCollectors = mkOption (t.listOf t.str); };
        postgres = exporter { runAsLocalSuperUser = mkOption t.bool; };
        nvidia-gpu = exporter { };
      };
    };
  };
}
