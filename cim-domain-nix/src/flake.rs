//! `flake.nix`: description, inputs and an `outputs` function.

use crate::attrs::{AttrPath, AttrSet};
use crate::error::NixError;
use crate::expr::{Expr, attrs, ident, lambda, list};
use crate::pattern::SetPattern;
use crate::render::render;

/// A flake input.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FlakeInput {
    /// `inputs.<name>.url`, e.g. `github:NixOS/nixpkgs/nixos-25.05`.
    pub url: String,
    /// `inputs.<name>.inputs.<input>.follows`, in order.
    pub follows: Vec<(String, String)>,
    /// `flake = false` for plain sources.
    pub is_flake: bool,
}

impl FlakeInput {
    /// A flake input from a URL.
    pub fn new(url: impl Into<String>) -> Self {
        Self {
            url: url.into(),
            follows: Vec::new(),
            is_flake: true,
        }
    }

    /// Makes this input's `input` follow the top-level input `target`.
    #[must_use]
    pub fn follows(mut self, input: impl Into<String>, target: impl Into<String>) -> Self {
        self.follows.push((input.into(), target.into()));
        self
    }
}

/// A flake whose `outputs` is `{ self, <inputs>... }: { ... }`.
///
/// Output attributes are set with [`Flake::output`] or the helpers for the standard outputs;
/// values can refer to the inputs by name (`ident("nixpkgs")?`) and to `self`.
#[derive(Debug, Clone, PartialEq)]
pub struct Flake {
    description: String,
    inputs: Vec<(String, FlakeInput)>,
    /// `{ self, <inputs>, ... }`, grown as inputs are added.
    arguments: SetPattern,
    outputs: AttrSet,
    let_bindings: AttrSet,
}

impl Flake {
    /// An empty flake.
    pub fn new(description: impl Into<String>) -> Self {
        let arguments = SetPattern::default().ellipsis();
        // `self` is a valid identifier and the first field, so this cannot fail.
        let arguments = arguments.clone().field("self").unwrap_or(arguments);
        Self {
            description: description.into(),
            inputs: Vec::new(),
            arguments,
            outputs: AttrSet::new(),
            let_bindings: AttrSet::new(),
        }
    }

    /// Adds (or replaces) an input.
    ///
    /// # Errors
    /// [`NixError::InvalidIdentifier`] when `name` cannot be an argument of `outputs`.
    pub fn input(&mut self, name: &str, input: FlakeInput) -> Result<&mut Self, NixError> {
        if name == "self" {
            return Err(NixError::InvalidIdentifier {
                name: name.to_owned(),
                reason: "`self` is the flake itself, not an input",
            });
        }
        match self.inputs.iter_mut().find(|(n, _)| n == name) {
            Some((_, existing)) => *existing = input,
            None => {
                self.arguments = self.arguments.clone().field(name)?;
                self.inputs.push((name.to_owned(), input));
            }
        }
        Ok(self)
    }

    /// Binds the whole `outputs` argument as `inputs` (`{ self, ... }@inputs`), so outputs can
    /// hand every input to NixOS modules (`specialArgs = { inherit inputs; }`).
    pub fn bind_inputs(&mut self) -> &mut Self {
        // `inputs` is a valid identifier and no input may be named so (it is the binding), so
        // this cannot fail; the pattern is kept as it was if it did.
        if let Ok(bound) = self.arguments.clone().bind("inputs") {
            self.arguments = bound;
        }
        self
    }

    /// Adds a `let` binding around the outputs set (e.g. `system = "x86_64-linux";`).
    pub fn let_binding(&mut self, name: &str, value: impl Into<Expr>) -> &mut Self {
        self.let_bindings.insert(name, value);
        self
    }

    /// Sets an output attribute (any path).
    pub fn output(&mut self, path: impl Into<AttrPath>, value: impl Into<Expr>) -> &mut Self {
        self.outputs.insert(path, value);
        self
    }

    /// `nixosConfigurations.<host> = <nixpkgs>.lib.nixosSystem { system; modules; }`, where
    /// `nixpkgs` names the input that provides `lib.nixosSystem`.
    ///
    /// # Errors
    /// [`NixError::InvalidIdentifier`] when `nixpkgs` is not an identifier.
    pub fn nixos_configuration(
        &mut self,
        host: &str,
        nixpkgs: &str,
        system: &str,
        modules: Vec<Expr>,
    ) -> Result<&mut Self, NixError> {
        let value = ident(nixpkgs)?.select(["lib", "nixosSystem"]).apply(attrs([
            ("system", system.into()),
            ("modules", list(modules)),
        ]));
        self.outputs.insert(["nixosConfigurations", host], value);
        Ok(self)
    }

    /// `nixosModules.<name> = module`.
    pub fn nixos_module(&mut self, name: &str, module: impl Into<Expr>) -> &mut Self {
        self.outputs.insert(["nixosModules", name], module);
        self
    }

    /// `packages.<system>.<name> = package`.
    pub fn package(&mut self, system: &str, name: &str, package: impl Into<Expr>) -> &mut Self {
        self.outputs.insert(["packages", system, name], package);
        self
    }

    /// `devShells.<system>.<name> = shell`.
    pub fn dev_shell(&mut self, system: &str, name: &str, shell: impl Into<Expr>) -> &mut Self {
        self.outputs.insert(["devShells", system, name], shell);
        self
    }

    /// The flake as an expression.
    pub fn to_expr(&self) -> Expr {
        let mut top = AttrSet::new();
        top.insert("description", self.description.as_str());
        for (name, input) in &self.inputs {
            let mut entry = AttrSet::new();
            entry.insert("url", input.url.as_str());
            if !input.is_flake {
                entry.insert("flake", false);
            }
            for (inner, target) in &input.follows {
                entry.insert(["inputs", inner.as_str(), "follows"], target.as_str());
            }
            top.insert(["inputs", name.as_str()], entry);
        }
        let body = Expr::AttrSet(self.outputs.clone());
        let body = if self.let_bindings.is_empty() {
            body
        } else {
            crate::expr::let_in(self.let_bindings.clone(), body)
        };
        top.insert("outputs", lambda(self.arguments.clone(), body));
        Expr::AttrSet(top)
    }

    /// The flake as Nix source.
    pub fn render(&self) -> String {
        render(&self.to_expr())
    }
}
