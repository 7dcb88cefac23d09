# The nix-darwin options the generated Mac host modules set, declared with the types nix-darwin
# gives them (modules/launchd/launchd.nix, modules/users, modules/networking,
# modules/system/version.nix, modules/nix; users and launchd compared with nix-darwin's
# modules/users/{user,group}.nix and modules/launchd/launchd.nix of 2025), plus `services.cim-agent` as the shipped
# nix/darwin/agent.nix declares it. `imports` is a module attribute, not an option: the checker
# is given modules without it.
let
  t = import ./types.nix;
  inherit (t) mkOption;
  agentModule = import ../../../nix/darwin/agent.nix {
    config.services.cim-agent = { agents = { }; };
    lib = t.lib;
  };
  optional = type: mkOption (t.nullOr type);
in
{
  networking = {
    hostName = optional t.str;
    localHostName = optional t.str;
    computerName = optional t.str;
  };
  nixpkgs.hostPlatform = mkOption (t.either t.str (t.attrsOf t.str));
  # nix-darwin: `types.ints.between 1 config.system.maxStateVersion`.
  system.activationScripts = mkOption (t.attrsOf (t.submodule {
    text = mkOption t.str;
  }));
  system.stateVersion = mkOption (t.leaf "integer between 1 and 6" (v: t.isInt v && v >= 1 && v <= 6));
  nix.settings = {
    _freeformType = t.leaf "anything" (v: true);
    experimental-features = mkOption (t.listOf t.str);
  };
  launchd.daemons = mkOption (t.attrsOf (t.submodule {
    command = mkOption (t.either t.str t.path);
    environment = mkOption (t.attrsOf t.str);
    serviceConfig = mkOption (t.submodule {
      Label = mkOption t.str;
      ProgramArguments = optional (t.listOf t.str);
      Program = optional t.path;
      KeepAlive = optional (t.either t.bool (t.attrsOf t.bool));
      RunAtLoad = optional t.bool;
      UserName = optional t.str;
      GroupName = optional t.str;
      WorkingDirectory = optional t.str;
      EnvironmentVariables = optional (t.attrsOf t.str);
      StandardOutPath = optional t.path;
      StandardErrorPath = optional t.path;
      ProcessType = optional (t.enum [ "Background" "Standard" "Adaptive" "Interactive" ]);
    });
  }));
  users = {
    knownUsers = mkOption (t.listOf t.str);
    knownGroups = mkOption (t.listOf t.str);
    users = mkOption (t.attrsOf (t.submodule {
      uid = mkOption t.int;
      gid = mkOption t.int;
      home = optional t.path;
      createHome = mkOption t.bool;
      shell = optional (t.either t.package t.path);
      isHidden = mkOption t.bool;
      description = optional t.str;
    }));
    groups = mkOption (t.attrsOf (t.submodule {
      gid = mkOption t.int;
      description = mkOption t.str;
      members = mkOption (t.listOf t.str);
    }));
  };
  services.cim-agent = agentModule.options.services.cim-agent;
}
