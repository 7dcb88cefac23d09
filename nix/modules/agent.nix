# services.cim-agent: one CIM agent runtime (`cim-leaf agents run`) as a hardened systemd service.
#
# The runtime loads the agent definition file, connects to NATS, registers the agent and heartbeats.
# Everything the agent may write lives under `dataDir`; the rest of the file system is read-only to it.
{ config, lib, ... }:

let
  cfg = config.services.cim-agent;
  inherit (lib) mkEnableOption mkIf mkOption types;

  runtime = import ../agent-runtime.nix { inherit lib; };
  # Secrets reach the runtime through systemd credentials (`LoadCredential`): read by systemd
  # from the root-only file, visible only to this service under $CREDENTIALS_DIRECTORY (%d).
  runArgs = runtime.runArgs {
    inherit (cfg) package dataDir;
    agent = cfg;
    nkeySeed = "%d/nats-nkey-seed";
    natsCreds = "%d/nats-creds";
  };
in
{
  options.services.cim-agent = runtime.options // {
    enable = mkEnableOption "a CIM agent runtime";

    package = mkOption {
      type = types.package;
      description = "Package that provides `bin/cim-leaf`.";
    };

    dataDir = mkOption {
      type = types.str;
      default = "/var/lib/cim-agent";
      description = "The only directory the agent may write to.";
    };

    memoryMax = mkOption {
      type = types.str;
      default = "8G";
      description = "systemd MemoryMax, such as `8G`.";
    };

    cpuQuota = mkOption {
      type = types.str;
      default = "300%";
      description = "systemd CPUQuota, such as `300%`.";
    };

    tasksMax = mkOption {
      type = types.int;
      default = 512;
      description = "systemd TasksMax.";
    };

    restartPolicy = mkOption {
      type = types.enum [ "no" "on-success" "on-failure" "on-abnormal" "on-watchdog" "on-abort" "always" ];
      default = "always";
      description = "systemd Restart policy.";
    };

    restartSec = mkOption {
      type = types.int;
      default = 10;
      description = "Seconds systemd waits before a restart.";
    };

    maxRetries = mkOption {
      type = types.nullOr types.int;
      default = null;
      description = ''
        Restarts systemd makes before it gives up (the agent definition's `restart.max_retries`):
        the unit's start limit is `maxRetries + 1` starts within `(maxRetries + 1) * (restartSec + 60)`
        seconds, so a crash loop stops after `maxRetries` restarts. Null keeps systemd's default.
      '';
    };

    deviceAllow = mkOption {
      type = types.listOf types.str;
      default = [ ];
      example = [ "/dev/nvidia0 rw" "/dev/nvidiactl rw" "/dev/nvidia-uvm rw" ];
      description = "Devices the agent may open (systemd DeviceAllow), such as GPUs; empty keeps PrivateDevices.";
    };

  };

  config = mkIf cfg.enable {
    users.users.cim-agent = {
      isSystemUser = true;
      group = "cim-agent";
      home = cfg.dataDir;
      description = "CIM agent runtime";
    };
    users.groups.cim-agent = { };

    systemd.tmpfiles.rules = [ "d ${cfg.dataDir} 0750 cim-agent cim-agent - -" ];

    systemd.services.cim-agent = {
      description = "CIM agent runtime";
      wantedBy = [ "multi-user.target" ];
      wants = [ "network-online.target" ];
      after = [ "network-online.target" ];

      environment = runtime.environment cfg;

      serviceConfig = {
        ExecStart = lib.escapeShellArgs runArgs;
        User = "cim-agent";
        Group = "cim-agent";
        WorkingDirectory = cfg.dataDir;
        Restart = cfg.restartPolicy;
        RestartSec = cfg.restartSec;

        MemoryMax = cfg.memoryMax;
        CPUQuota = cfg.cpuQuota;
        TasksMax = cfg.tasksMax;

        NoNewPrivileges = true;
        ProtectSystem = "strict";
        ProtectHome = true;
        PrivateTmp = true;
        # A GPU agent needs its device nodes; every other agent sees no devices at all.
        PrivateDevices = cfg.deviceAllow == [ ];
        DeviceAllow = cfg.deviceAllow;
        ProtectKernelTunables = true;
        ProtectKernelModules = true;
        ProtectControlGroups = true;
        RestrictSUIDSGID = true;
        LockPersonality = true;
        RestrictNamespaces = true;
        CapabilityBoundingSet = "";
        ReadWritePaths = [ cfg.dataDir ];
        LoadCredential =
          lib.optionals (cfg.natsNkeySeedFile != null) [ "nats-nkey-seed:${cfg.natsNkeySeedFile}" ]
          ++ lib.optionals (cfg.natsCredsFile != null) [ "nats-creds:${cfg.natsCredsFile}" ];
      };
    } // lib.optionalAttrs (cfg.maxRetries != null) {
      startLimitBurst = cfg.maxRetries + 1;
      startLimitIntervalSec = (cfg.maxRetries + 1) * (cfg.restartSec + 60);
    };
  };
}
