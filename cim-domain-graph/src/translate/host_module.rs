//! The NixOS module of one host, as translators contribute to it.

use std::collections::BTreeMap;

use cim_domain_nix::{AttrPath, AttrSet, Expr, FirewallPorts, Protocol, list};
use rustc_hash::FxHashMap;

use crate::translate::TranslationError;

/// What the translators contribute to one host's `hosts/<host>.nix`.
///
/// Plain options are [`set`](Self::set) (a later value for the same path replaces an earlier one;
/// attribute sets merge key by key). List options that several nodes add to, such as a unit's
/// `after`, are [`append`](Self::append)ed: items keep their first-added order, duplicates are
/// dropped, and the list is written once all translators ran. Firewall ports, flake inputs and
/// shared modules have their own methods so the flake can collect them.
#[derive(Debug, Clone, PartialEq)]
pub struct HostModule {
    host: String,
    config: AttrSet,
    lists: BTreeMap<AttrPath, Vec<Expr>>,
    list_conditions: BTreeMap<AttrPath, Expr>,
    units: BTreeMap<String, UnitLinks>,
    firewall: FirewallPorts,
    shared_modules: BTreeMap<String, Expr>,
    inputs: BTreeMap<String, String>,
}

impl HostModule {
    /// An empty module for `host`.
    pub fn new(host: impl Into<String>) -> Self {
        Self {
            host: host.into(),
            config: AttrSet::new(),
            lists: BTreeMap::new(),
            list_conditions: BTreeMap::new(),
            units: BTreeMap::new(),
            firewall: FirewallPorts::new(),
            shared_modules: BTreeMap::new(),
            inputs: BTreeMap::new(),
        }
    }

    /// The host's name.
    pub fn host(&self) -> &str {
        &self.host
    }

    /// Sets the option at `path`.
    pub fn set(&mut self, path: impl Into<AttrPath>, value: impl Into<Expr>) -> &mut Self {
        self.config.insert(path, value);
        self
    }

    /// Adds `item` to the list option at `path` unless it is there already.
    pub fn append(&mut self, path: impl Into<AttrPath>, item: impl Into<Expr>) -> &mut Self {
        let items = self.lists.entry(path.into()).or_default();
        let item = item.into();
        if !items.contains(&item) {
            items.push(item);
        }
        self
    }

    /// Writes the list at `path` (its items still come from [`append`](Self::append)) as
    /// `if condition then [ … ] else [ ]`: for list options that apply only under a setting of
    /// the host, such as its firewall backend.
    pub fn list_when(&mut self, path: impl Into<AttrPath>, condition: Expr) -> &mut Self {
        self.list_conditions.insert(path.into(), condition);
        self
    }

    /// The list at `path` as written: plain, or under its [`list_when`](Self::list_when)
    /// condition.
    fn list_value(
        conditions: &BTreeMap<AttrPath, Expr>,
        path: &AttrPath,
        items: Vec<Expr>,
    ) -> Expr {
        match conditions.get(path) {
            Some(condition) => cim_domain_nix::list_when(condition.clone(), items),
            None => list(items),
        }
    }

    /// Starts the systemd service `unit` after `dependency` (a full unit name such as
    /// `network.target` or `postgresql.service`).
    pub fn order_after(&mut self, unit: &str, dependency: &str) -> &mut Self {
        push_new(&mut self.links(unit).after, dependency);
        self
    }

    /// Makes the systemd service `unit` require `dependency` (a full unit name).
    pub fn require(&mut self, unit: &str, dependency: &str) -> &mut Self {
        push_new(&mut self.links(unit).requires, dependency);
        self
    }

    /// Makes the systemd service `unit` wait for the mount at `path`.
    pub fn require_mounts_for(&mut self, unit: &str, path: &str) -> &mut Self {
        push_new(&mut self.links(unit).mounts, path);
        self
    }

    fn links(&mut self, unit: &str) -> &mut UnitLinks {
        self.units.entry(unit.to_owned()).or_default()
    }

    /// Opens a TCP port in the host's firewall (`cim-domain-nix`'s `FirewallPorts`: sorted,
    /// de-duplicated).
    ///
    /// # Errors
    /// [`TranslationError::Nix`] for port 0 (validation refuses such graphs before).
    pub fn open_tcp_port(&mut self, port: u16) -> Result<&mut Self, TranslationError> {
        self.firewall
            .allow(Protocol::Tcp, port)
            .map_err(|source| TranslationError::nix(&self.host, source))?;
        Ok(self)
    }

    /// Imports a module shared between hosts: it is written once to `modules/<name>.nix`,
    /// exported as the flake's `nixosModules.<name>` and added to this host's modules.
    pub fn use_shared_module(&mut self, name: impl Into<String>, module: Expr) -> &mut Self {
        self.shared_modules.insert(name.into(), module);
        self
    }

    /// Adds a flake input; host modules reach it as `inputs.<name>`.
    pub fn add_flake_input(
        &mut self,
        name: impl Into<String>,
        url: impl Into<String>,
    ) -> &mut Self {
        self.inputs.insert(name.into(), url.into());
        self
    }

    /// The options set so far, lists not yet included.
    pub fn config(&self) -> &AttrSet {
        &self.config
    }

    /// The items appended to the list at `path` so far.
    pub fn list(&self, path: impl Into<AttrPath>) -> &[Expr] {
        self.lists.get(&path.into()).map_or(&[], Vec::as_slice)
    }

    /// The firewall ports opened so far.
    pub fn firewall(&self) -> &FirewallPorts {
        &self.firewall
    }

    /// Shared modules used by this host.
    pub(crate) fn shared_modules(&self) -> &BTreeMap<String, Expr> {
        &self.shared_modules
    }

    /// Flake inputs asked for by this host's translators.
    pub(crate) fn inputs(&self) -> &BTreeMap<String, String> {
        &self.inputs
    }

    /// The units `unit` is ordered after so far.
    pub fn after(&self, unit: &str) -> &[String] {
        self.units
            .get(unit)
            .map_or(&[], |links| links.after.as_slice())
    }

    /// The module's attribute set: the options, then the unit links and lists in name order,
    /// then the firewall.
    pub(crate) fn into_attrs(self) -> AttrSet {
        let mut config = self.config;
        // One set of all unit links, merged in one insert: inserting each unit under its own
        // `systemd.services.<unit>` path would rebuild the two outer levels per unit.
        let mut services = AttrSet::new();
        for (unit, links) in self.units {
            let mut set = AttrSet::new();
            for (key, items) in [("after", links.after), ("requires", links.requires)] {
                if !items.is_empty() {
                    set.insert(key, list(items));
                }
            }
            if !links.mounts.is_empty() {
                set.insert(["unitConfig", "RequiresMountsFor"], list(links.mounts));
            }
            services.insert(unit, Expr::AttrSet(set));
        }
        if !services.is_empty() {
            config.insert(["systemd", "services"], Expr::AttrSet(services));
        }
        for (path, items) in self.lists {
            let value = Self::list_value(&self.list_conditions, &path, items);
            config.insert(path, value);
        }
        self.firewall.apply_to(&mut config);
        config
    }
}

impl HostModule {
    /// The module's attribute set on a nix-darwin host: the options, then the lists in name
    /// order. Unit links and firewall ports are left out: nix-darwin has neither systemd nor
    /// a port firewall (see [`darwin`](crate::translate::darwin)).
    pub(crate) fn into_darwin_attrs(self) -> AttrSet {
        let mut config = self.config;
        for (path, items) in self.lists {
            let value = Self::list_value(&self.list_conditions, &path, items);
            config.insert(path, value);
        }
        config
    }
}

/// What one systemd service is ordered after, requires and waits to be mounted.
#[derive(Debug, Clone, Default, PartialEq)]
struct UnitLinks {
    after: Vec<String>,
    requires: Vec<String>,
    mounts: Vec<String>,
}

fn push_new(items: &mut Vec<String>, item: &str) {
    if !items.iter().any(|existing| existing == item) {
        items.push(item.to_owned());
    }
}

/// The modules of every host of a graph, found by host name.
#[derive(Debug, Clone, Default)]
pub struct HostModules {
    modules: FxHashMap<String, HostModule>,
}

impl HostModules {
    /// Empty modules for the given hosts.
    pub fn new<'a>(hosts: impl IntoIterator<Item = &'a str>) -> Self {
        Self {
            modules: hosts
                .into_iter()
                .map(|h| (h.to_owned(), HostModule::new(h)))
                .collect(),
        }
    }

    /// The module of `host`.
    pub fn get(&self, host: &str) -> Option<&HostModule> {
        self.modules.get(host)
    }

    /// The module of `host`, to add to.
    pub fn get_mut(&mut self, host: &str) -> Result<&mut HostModule, TranslationError> {
        self.modules
            .get_mut(host)
            .ok_or_else(|| TranslationError::NotAHost {
                name: host.to_owned(),
            })
    }

    /// Every module, sorted by host name.
    pub(crate) fn into_sorted(self) -> Vec<HostModule> {
        let mut modules: Vec<HostModule> = self.modules.into_values().collect();
        modules.sort_by(|a, b| a.host.cmp(&b.host));
        modules
    }
}
