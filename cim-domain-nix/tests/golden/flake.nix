{
  description = "CIM Leaf fleet";
  inputs = {
    nixpkgs.url = "github:NixOS/nixpkgs/nixos-25.05";
    cim = {
      url = "github:example/cim-leaf";
      inputs.nixpkgs.follows = "nixpkgs";
    };
  };
  outputs = { self, nixpkgs, cim, ... }: {
    nixosConfigurations.leaf-1 = nixpkgs.lib.nixosSystem {
      system = "x86_64-linux";
      modules = [ ./hosts/leaf-1.nix self.nixosModules.cim-agents ];
    };
    nixosModules.cim-agents = import ./modules/agents.nix;
    packages.x86_64-linux.default = nixpkgs.legacyPackages.x86_64-linux.hello;
    devShells.x86_64-linux.default = nixpkgs.legacyPackages.x86_64-linux.mkShell { packages = [ ]; };
  };
}
