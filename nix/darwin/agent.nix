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

  runtime = import ../agent-runtime.nix { inherit lib; };
  runArgs =
    agent:
    runtime.runArgs {
      inherit (cfg) package;
      inherit agent;
      inherit (agent) dataDir;
    };

  agentOptions =
    { name, ... }:
    {
      options = runtime.options // {
        uid = mkOption {
          type = types.int;
          description = "uid and gid of the agent's user `_cim-agent-<name>`.";
        };
        dataDir = mkOption {
          type = types.str;
          default = "/var/lib/cim-agent/${name}";
          description = "The agent's home: the only directory it owns.";
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
          EnvironmentVariables = runtime.environment agent;
          StandardOutPath = "${agent.dataDir}/agent.log";
          StandardErrorPath = "${agent.dataDir}/agent.log";
        };
      }
    ) cfg.agents;
  };
}
