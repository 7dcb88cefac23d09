# services.cim-agent for nix-darwin: CIM agent runtimes (`cim-leaf agents run`) on a Mac.
#
# A Mac has no NixOS containers: each agent in `services.cim-agent.agents` becomes the launchd
# daemon `cim-agent-<name>`, running as its own hidden user and group `_cim-agent-<name>` (uid and
# gid `uid`), whose home `dataDir` is the only directory it owns. nix-darwin manages only users
# listed in `users.knownUsers`, so each agent needs a fixed `uid`. Models reach the GPU through
# Metal (unified memory), which needs no device node.
{ config, lib, ... }:

let
  cfg = config.services.cim-agent;
  inherit (lib) mkOption types;

  userName = name: "_cim-agent-${name}";

  # Flags match `cim-leaf agents run` (src/cli/agents/run.rs), as in the NixOS module.
  runArgs =
    agent:
    [
      "${cfg.package}/bin/cim-leaf"
      "agents"
      "run"
      "--agent-file"
      (toString agent.agentFile)
      "--nats-url"
      agent.natsUrl
      "--data-dir"
      agent.dataDir
    ]
    ++ lib.optionals (agent.natsNkeySeedFile != null) [ "--nkey-seed" agent.natsNkeySeedFile ]
    ++ lib.optionals (agent.agentId != null) [ "--agent-id" agent.agentId ]
    ++ lib.optionals (agent.ollamaUrl != null) [ "--ollama-url" agent.ollamaUrl ];

  agentOptions =
    { name, ... }:
    {
      options = {
        agentFile = mkOption {
          type = types.path;
          description = "Agent definition: Markdown with YAML front matter.";
        };
        agentId = mkOption {
          type = types.nullOr types.str;
          default = null;
          description = "Agent id (UUID); null uses the id in the agent file.";
        };
        natsUrl = mkOption {
          type = types.str;
          default = "nats://127.0.0.1:4222";
          description = "NATS server the agent registers with.";
        };
        ollamaUrl = mkOption {
          type = types.nullOr types.str;
          default = null;
          description = "Ollama endpoint; null keeps the one in the agent file.";
        };
        natsNkeySeedFile = mkOption {
          type = types.nullOr types.str;
          default = null;
          description = ''
            NKey seed file the agent authenticates to NATS with (e.g. /run/secrets/cim/nats/<name>.nk),
            readable by the agent's user `_cim-agent-<name>` only; never a store path.
          '';
        };
        uid = mkOption {
          type = types.int;
          description = "uid and gid of the agent's user `_cim-agent-<name>`.";
        };
        dataDir = mkOption {
          type = types.str;
          default = "/var/lib/cim-agent/${name}";
          description = "The agent's home: the only directory it owns.";
        };
        logLevel = mkOption {
          type = types.enum [ "trace" "debug" "info" "warn" "error" ];
          default = "info";
          description = "Log level, passed to the runtime as RUST_LOG.";
        };
        logFormat = mkOption {
          type = types.enum [ "json" "text" ];
          default = "json";
          description = "Log line format.";
        };
        extraEnv = mkOption {
          type = types.attrsOf types.str;
          default = { };
          description = "Extra environment variables for the runtime.";
        };
      };
    };
in
{
  options.services.cim-agent = {
    package = mkOption {
      type = types.package;
      description = "Package that provides `bin/cim-leaf`.";
    };

    agents = mkOption {
      type = types.attrsOf (types.submodule agentOptions);
      default = { };
      description = "Agents to run, by name; each is a launchd daemon of its own user.";
    };
  };

  config = lib.mkIf (cfg.agents != { }) {
    users.knownUsers = map userName (lib.attrNames cfg.agents);
    users.knownGroups = map userName (lib.attrNames cfg.agents);

    users.users = lib.mapAttrs' (
      name: agent:
      lib.nameValuePair (userName name) {
        uid = agent.uid;
        gid = agent.uid;
        home = agent.dataDir;
        createHome = true;
        shell = "/usr/bin/false";
        isHidden = true;
        description = "CIM agent ${name}";
      }
    ) cfg.agents;

    users.groups = lib.mapAttrs' (
      name: agent:
      lib.nameValuePair (userName name) {
        gid = agent.uid;
        description = "CIM agent ${name}";
      }
    ) cfg.agents;

    # macOS creates no home outside /Users for a service account: make each data directory.
    system.activationScripts.postActivation.text = lib.concatStrings (
      lib.mapAttrsToList (name: agent: ''
        mkdir -p ${lib.escapeShellArg agent.dataDir}
        chown ${lib.escapeShellArg "${userName name}:${userName name}"} ${lib.escapeShellArg agent.dataDir}
        chmod 0750 ${lib.escapeShellArg agent.dataDir}
      '') cfg.agents
    );

    launchd.daemons = lib.mapAttrs' (
      name: agent:
      lib.nameValuePair "cim-agent-${name}" {
        serviceConfig = {
          ProgramArguments = runArgs agent;
          UserName = userName name;
          GroupName = userName name;
          WorkingDirectory = agent.dataDir;
          KeepAlive = true;
          RunAtLoad = true;
          ProcessType = "Background";
          EnvironmentVariables = {
            RUST_LOG = agent.logLevel;
            CIM_LOG_FORMAT = agent.logFormat;
          } // agent.extraEnv;
          StandardOutPath = "${agent.dataDir}/agent.log";
          StandardErrorPath = "${agent.dataDir}/agent.log";
        };
      }
    ) cfg.agents;
  };
}
