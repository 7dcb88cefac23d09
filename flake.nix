{
  description = "CIM Leaf: describe a fleet as a graph, coordinate agents over NATS, emit a deployable flake.";

  inputs.nixpkgs.url = "github:NixOS/nixpkgs/nixos-26.05";

  outputs =
    { self, nixpkgs }:
    let
      systems = [ "x86_64-linux" "aarch64-linux" "aarch64-darwin" "x86_64-darwin" ];
      forAllSystems = f: nixpkgs.lib.genAttrs systems (system: f nixpkgs.legacyPackages.${system});
    in
    {
      packages = forAllSystems (pkgs: rec {
        cim-leaf = pkgs.rustPlatform.buildRustPackage {
          pname = "cim-leaf";
          version = (builtins.fromTOML (builtins.readFile ./Cargo.toml)).workspace.package.version;
          src = ./.;
          cargoLock.lockFile = ./Cargo.lock;
          cargoBuildFlags = [ "--package" "cim-leaf" "--bin" "cim-leaf" ];
          # The test suite starts nats-server and nix-instantiate, which the build sandbox lacks;
          # scripts/test runs it outside the sandbox.
          doCheck = false;
          meta = {
            description = "CIM Leaf command line and agent runtime";
            mainProgram = "cim-leaf";
          };
        };
        default = cim-leaf;
      });

      # `services.cim-agent`, with the package defaulting to the cim-leaf built by this flake.
      nixosModules.agent =
        { lib, pkgs, ... }:
        {
          imports = [ ./nix/modules/agent.nix ];
          services.cim-agent.package = lib.mkDefault self.packages.${pkgs.stdenv.hostPlatform.system}.cim-leaf;
        };
      nixosModules.default = self.nixosModules.agent;

      # `services.cim-agent` for nix-darwin: agents as launchd daemons of their own users.
      darwinModules.agent =
        { lib, pkgs, ... }:
        {
          imports = [ ./nix/darwin/agent.nix ];
          services.cim-agent.package = lib.mkDefault self.packages.${pkgs.stdenv.hostPlatform.system}.cim-leaf;
        };
      darwinModules.default = self.darwinModules.agent;
    };
}
