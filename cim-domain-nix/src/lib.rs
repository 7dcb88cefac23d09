//! A correct, deterministic Nix emitter.
//!
//! Every Nix file CIM Leaf writes is built here as an expression tree ([`Expr`]) and printed by
//! [`render`]; no other crate formats Nix text by hand. The tree makes escaping a property of the
//! printer instead of every call site: strings escape `\`, `"`, every `$`, newline, CR and tab;
//! attribute names are bare only when Nix reads them back unchanged (`bindMounts."/var/lib/x"`);
//! identifiers and path literals are validated types ([`Ident`], [`NixPath`]) whose constructors
//! return [`NixError`]. Output is byte-identical for the same tree: keys keep insertion order (or
//! are sorted with [`RenderOptions::sort_keys`]), indentation is two spaces.
//!
//! # Building and printing a NixOS module
//!
//! ```
//! use cim_domain_nix::{attrs, ident, lambda, list, render, AttrSet, Expr, Pattern};
//!
//! # fn main() -> Result<(), cim_domain_nix::NixError> {
//! let pkgs = ident("pkgs")?;
//! let mut config = AttrSet::new();
//! // An array key is a nested path; paths that share a prefix merge into one set.
//! config.insert(["services", "nats", "enable"], true);
//! config.insert(["services", "nats", "jetstream"], true);
//! config.insert(
//!     ["systemd", "services", "cim-agent"],
//!     attrs([
//!         ("description", "CIM agent".into()),
//!         ("wantedBy", list(["multi-user.target"])),
//!         (
//!             "serviceConfig",
//!             attrs([
//!                 ("ExecStart", pkgs.select(["cim-agent", "meta", "mainProgram"])),
//!                 ("NoNewPrivileges", true.into()),
//!                 ("ProtectSystem", "strict".into()),
//!             ]),
//!         ),
//!     ]),
//! );
//! // A single-name key is taken literally, dots and slashes included.
//! config.insert(["networking", "firewall", "allowedTCPPorts"], list([4222, 8222]));
//! let module = lambda(Pattern::module(), config);
//!
//! assert_eq!(
//!     render(&module),
//!     r#"{ config, lib, pkgs, ... }:
//!
//! {
//!   services.nats = {
//!     enable = true;
//!     jetstream = true;
//!   };
//!   systemd.services.cim-agent = {
//!     description = "CIM agent";
//!     wantedBy = [ "multi-user.target" ];
//!     serviceConfig = {
//!       ExecStart = pkgs.cim-agent.meta.mainProgram;
//!       NoNewPrivileges = true;
//!       ProtectSystem = "strict";
//!     };
//!   };
//!   networking.firewall.allowedTCPPorts = [ 4222 8222 ];
//! }
//! "#
//! );
//! # Ok(())
//! # }
//! ```
//!
//! # The builder vocabulary
//!
//! - values: `true.into()`, `42.into()`, `"text".into()`, [`Expr::float`], `Expr::Null`,
//!   [`list`], [`attrs`], [`rec_attrs`], [`AttrSet`] (`insert`, `with_attr`, `inherit`,
//!   `inherit_from`, `merge`);
//! - names and paths: [`ident`], [`path`] (path literals; host paths stay strings), [`AttrPath`];
//! - strings: [`interpolated`] with [`StrPart`]s, [`indented`] (printed `''...''` only when that
//!   form keeps the text exactly);
//! - code: [`Expr::select`], [`Expr::select_or`], [`Expr::apply`], [`Expr::call`], [`lambda`]
//!   with [`Pattern`] / [`SetPattern`], [`let_in`], [`with`], [`if_then_else`], [`import`],
//!   [`Expr::update`] (`//`), [`Expr::concat`] (`++`), [`Expr::binop`].
//!
//! # NixOS and flake builders
//!
//! [`NixosModule`] collects options and typed parts: [`SystemdService`] (hardened by default:
//! `NoNewPrivileges`, `ProtectSystem = "strict"`, `ProtectHome`, `PrivateTmp`, plus
//! [`ResourceLimits`]), [`FirewallPorts`], [`NixosContainer`] (`containers.<name>` with a
//! validated [`ContainerName`]) and [`NatsServer`] (`services.nats`, with cluster, leaf-node and
//! monitoring settings under `settings`). [`Flake`] writes `flake.nix` with inputs and
//! `nixosConfigurations` / `nixosModules` / `packages` / `devShells` outputs.
//!
//! # Validation
//!
//! [`check_syntax_named`] parses text with rnix in process and reports file, line and column.
//! [`NixTool`] runs `nix-instantiate --parse` (which also catches undefined variables and
//! duplicate attributes) and `--eval --strict --json`:
//!
//! ```
//! use cim_domain_nix::{NixosModule, NixTool, check_syntax_named};
//!
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let mut module = NixosModule::new();
//! module.set(["services", "openssh", "enable"], true);
//! let text = module.render();
//! check_syntax_named("hosts/a.nix", &text)?;
//! if let Some(nix) = NixTool::from_path() {
//!     nix.parse("hosts/a.nix", &text)?;
//!     assert_eq!(nix.eval_json("sum.nix", "1 + 2")?, serde_json::json!(3));
//! }
//! # Ok(())
//! # }
//! ```

mod attrs;
mod check;
pub mod darwin;
mod error;
mod expr;
mod flake;
pub mod json;
mod lookup;
mod names;
pub mod nixos;
mod path;
mod pattern;
mod render;
mod string;
mod tool;

pub use attrs::{AttrPath, AttrSet, Binding};
pub use check::{check_syntax, check_syntax_named};
pub use darwin::{DarwinUser, LaunchdDaemon};
pub use error::{NixError, NixSyntaxError, NixToolError};
pub use expr::{
    BinOp, Expr, Float, attrs, ident, if_then_else, import, indented, interpolated, lambda, let_in,
    list, list_when, path, rec_attrs, with,
};
pub use flake::{Flake, FlakeInput};
pub use lookup::literal_at;
pub use names::{Ident, KEYWORDS, is_bare_name};
pub use nixos::container::{
    AllowedDevice, BindMount, ContainerName, ContainerNetwork, ForwardPort, NixosContainer,
};
pub use nixos::firewall::{FirewallPorts, Protocol};
pub use nixos::module::NixosModule;
pub use nixos::nats::{NatsCluster, NatsServer};
pub use nixos::service::{
    Hardening, MemoryMax, ProtectSystem, ResourceLimits, RestartPolicy, SystemdService,
};
pub use path::NixPath;
pub use pattern::{Pattern, SetPattern};
pub use render::{RenderOptions, render, render_with};
pub use string::{NixString, StrPart};
pub use tool::{NixTool, REQUIRE_NIX_INSTANTIATE_ENV};
