//! A NixOS module: `{ config, lib, pkgs, ... }: { imports = [ ... ]; <options> }`.

use crate::attrs::{AttrPath, AttrSet};
use crate::error::NixError;
use crate::expr::{Expr, lambda, let_in};
use crate::nixos::container::NixosContainer;
use crate::nixos::firewall::FirewallPorts;
use crate::nixos::service::SystemdService;
use crate::pattern::{Pattern, SetPattern};
use crate::render::render;

/// A NixOS module built option by option.
#[derive(Debug, Clone, PartialEq)]
pub struct NixosModule {
    pattern: Pattern,
    let_bindings: AttrSet,
    imports: Vec<Expr>,
    config: AttrSet,
    /// Kept apart from `config` so ports opened by several calls end up in one sorted list.
    firewall: Vec<FirewallPorts>,
}

impl Default for NixosModule {
    fn default() -> Self {
        Self::new()
    }
}

impl NixosModule {
    /// An empty module taking `{ config, lib, pkgs, ... }`.
    pub fn new() -> Self {
        Self {
            pattern: Pattern::module(),
            let_bindings: AttrSet::new(),
            imports: Vec::new(),
            config: AttrSet::new(),
            firewall: Vec::new(),
        }
    }

    /// Replaces the argument pattern (e.g. to add `inputs` from `specialArgs`).
    #[must_use]
    pub fn with_pattern(mut self, pattern: SetPattern) -> Self {
        self.pattern = Pattern::Set(pattern);
        self
    }

    /// Adds a `let` binding visible to all option values.
    pub fn let_binding(&mut self, name: &str, value: impl Into<Expr>) -> &mut Self {
        self.let_bindings.insert(name, value);
        self
    }

    /// Adds an entry to `imports` (a path such as `./hardware.nix`, or a module expression).
    pub fn import(&mut self, module: impl Into<Expr>) -> &mut Self {
        self.imports.push(module.into());
        self
    }

    /// Sets an option (`["services", "nats", "enable"]`); see [`AttrSet::insert`] for merging.
    pub fn set(&mut self, option: impl Into<AttrPath>, value: impl Into<Expr>) -> &mut Self {
        self.config.insert(option, value);
        self
    }

    /// The option tree, for anything the typed helpers do not cover.
    pub fn config_mut(&mut self) -> &mut AttrSet {
        &mut self.config
    }

    /// The option tree set so far (firewall ports are added by [`NixosModule::to_expr`]).
    pub fn config(&self) -> &AttrSet {
        &self.config
    }

    /// Declares `systemd.services.<name>`.
    pub fn add_service(&mut self, service: &SystemdService) -> &mut Self {
        self.config
            .insert(["systemd", "services", service.name()], service.to_expr());
        self
    }

    /// Opens firewall ports (merged with any already open).
    pub fn open_ports(&mut self, ports: &FirewallPorts) -> &mut Self {
        match self
            .firewall
            .iter_mut()
            .find(|open| open.interface() == ports.interface())
        {
            Some(open) => open.extend_from(ports),
            None => self.firewall.push(ports.clone()),
        }
        self
    }

    /// Declares `containers.<name>`.
    ///
    /// # Errors
    /// As [`NixosContainer::to_expr`].
    pub fn add_container(&mut self, container: &NixosContainer) -> Result<&mut Self, NixError> {
        self.config.insert(
            ["containers", container.name().as_str()],
            container.to_expr()?,
        );
        Ok(self)
    }

    /// The module as an expression: a function of its pattern returning the options.
    pub fn to_expr(&self) -> Expr {
        let mut body = AttrSet::new();
        if !self.imports.is_empty() {
            body.insert("imports", Expr::List(self.imports.clone()));
        }
        body.merge(self.config.clone());
        for ports in &self.firewall {
            ports.apply_to(&mut body);
        }
        let body = if self.let_bindings.is_empty() {
            Expr::AttrSet(body)
        } else {
            let_in(self.let_bindings.clone(), body)
        };
        lambda(self.pattern.clone(), body)
    }

    /// The module as Nix source.
    pub fn render(&self) -> String {
        render(&self.to_expr())
    }
}
