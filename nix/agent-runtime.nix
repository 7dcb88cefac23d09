# One CIM agent runtime (`cim-leaf agents run`): the settings it takes and its command line,
# shared by the NixOS module (modules/agent.nix) and the nix-darwin module (darwin/agent.nix), so
# both platforms offer the same settings and run the same flags (src/cli/agents/run.rs).
{ lib }:

let
  inherit (lib) mkOption types;
in
{
  # The settings of one runtime; each module adds what is its platform's (data directory,
  # limits, the Mac's uid).
  options = {
    agentFile = mkOption {
      type = types.path;
      description = "Agent definition: Markdown with YAML front matter.";
    };

    agentId = mkOption {
      type = types.nullOr types.str;
      default = null;
      description = "Agent id (UUID); null uses the id in the agent file, or one derived from its name.";
    };

    natsUrl = mkOption {
      type = types.str;
      default = "nats://127.0.0.1:4222";
      description = "NATS server the agent registers with.";
    };

    natsNkeySeedFile = mkOption {
      type = types.nullOr types.str;
      default = null;
      example = "/run/secrets/cim/nats/sage.nk";
      description = ''
        NKey seed file (`SU...`) the agent authenticates to NATS with, as `cim-leaf keys generate`
        writes it. A path on the machine (sops-nix, agenix), never a store path: on NixOS it is
        handed to the service as a systemd credential, so only root and the service read it; on a
        Mac it must be readable by the agent's user `_cim-agent-<name>` only.
      '';
    };

    natsCredsFile = mkOption {
      type = types.nullOr types.str;
      default = null;
      description = "NATS credentials file (user JWT and seed); passed like `natsNkeySeedFile`.";
    };

    natsCaFile = mkOption {
      type = types.nullOr types.str;
      default = null;
      description = "PEM CA certificate that signs the NATS server's certificate; TLS is then required.";
    };

    ollamaUrl = mkOption {
      type = types.nullOr types.str;
      default = null;
      description = "Ollama endpoint; null keeps the one in the agent file.";
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

  # The runtime's command line. `nkeySeed` and `natsCreds` are where the runtime reads those
  # files: the files themselves, or (NixOS) the systemd credentials they were loaded as.
  runArgs =
    {
      package,
      agent,
      dataDir,
      nkeySeed ? agent.natsNkeySeedFile,
      natsCreds ? agent.natsCredsFile,
    }:
    [
      "${package}/bin/cim-leaf"
      "agents"
      "run"
      "--agent-file"
      (toString agent.agentFile)
      "--nats-url"
      agent.natsUrl
      "--data-dir"
      dataDir
    ]
    ++ lib.optionals (agent.natsNkeySeedFile != null) [ "--nkey-seed" nkeySeed ]
    ++ lib.optionals (agent.natsCredsFile != null) [ "--nats-creds" natsCreds ]
    ++ lib.optionals (agent.natsCaFile != null) [ "--nats-ca" agent.natsCaFile ]
    ++ lib.optionals (agent.agentId != null) [ "--agent-id" agent.agentId ]
    ++ lib.optionals (agent.ollamaUrl != null) [ "--ollama-url" agent.ollamaUrl ];

  # The runtime's environment.
  environment =
    agent:
    {
      RUST_LOG = agent.logLevel;
      CIM_LOG_FORMAT = agent.logFormat;
    }
    // agent.extraEnv;
}
