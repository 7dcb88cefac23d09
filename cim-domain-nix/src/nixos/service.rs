//! `systemd.services.<name>` with sandboxing and resource limits.

use crate::attrs::AttrSet;
use crate::error::NixError;
use crate::expr::{Expr, list};

/// `ProtectSystem=` values.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ProtectSystem {
    /// The whole file system is read-only except API file systems and `ReadWritePaths`.
    Strict,
    /// `/usr`, `/boot`, `/efi` and `/etc` are read-only.
    Full,
    /// `/usr`, `/boot` and `/efi` are read-only.
    Yes,
}

impl ProtectSystem {
    fn value(self) -> Expr {
        match self {
            Self::Strict => "strict".into(),
            Self::Full => "full".into(),
            Self::Yes => true.into(),
        }
    }
}

/// `Restart=` policies.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum RestartPolicy {
    /// `no`
    No,
    /// `always`
    Always,
    /// `on-failure`
    OnFailure,
    /// `on-abnormal`
    OnAbnormal,
}

impl RestartPolicy {
    fn as_str(self) -> &'static str {
        match self {
            Self::No => "no",
            Self::Always => "always",
            Self::OnFailure => "on-failure",
            Self::OnAbnormal => "on-abnormal",
        }
    }
}

/// A `MemoryMax=` value: bytes with an optional `K`/`M`/`G`/`T` suffix, a percentage, or `infinity`.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct MemoryMax(String);

impl MemoryMax {
    /// Validates a systemd memory size such as `512M`, `2G`, `1073741824`, `50%` or `infinity`.
    ///
    /// # Errors
    /// [`NixError::InvalidOptionValue`] for anything else.
    pub fn new(value: &str) -> Result<Self, NixError> {
        let digits = value
            .strip_suffix(['K', 'M', 'G', 'T', '%'])
            .unwrap_or(value);
        let ok = value == "infinity"
            || (!digits.is_empty()
                && digits.bytes().all(|b| b.is_ascii_digit())
                && !(value.ends_with('%') && digits.parse::<u32>().map_or(true, |p| p > 100)));
        if ok {
            Ok(Self(value.to_owned()))
        } else {
            Err(NixError::InvalidOptionValue {
                option: "serviceConfig.MemoryMax".to_owned(),
                value: value.to_owned(),
                reason: "expected bytes with an optional K/M/G/T suffix, a percentage up to 100%, or infinity",
            })
        }
    }

    /// `<n>M`: `mebibytes` MiB, always valid.
    pub fn mebibytes(mebibytes: u64) -> Self {
        Self(format!("{mebibytes}M"))
    }

    /// The value as systemd reads it.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// Sandboxing applied to a service; [`Hardening::default`] is the strict profile CIM uses.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Hardening {
    /// `NoNewPrivileges=`
    pub no_new_privileges: bool,
    /// `ProtectSystem=` (`None` leaves it unset).
    pub protect_system: Option<ProtectSystem>,
    /// `ProtectHome=`
    pub protect_home: bool,
    /// `PrivateTmp=`
    pub private_tmp: bool,
    /// `ReadWritePaths=`: host paths that stay writable under `ProtectSystem = "strict"`.
    pub read_write_paths: Vec<String>,
}

impl Default for Hardening {
    fn default() -> Self {
        Self {
            no_new_privileges: true,
            protect_system: Some(ProtectSystem::Strict),
            protect_home: true,
            private_tmp: true,
            read_write_paths: Vec::new(),
        }
    }
}

/// Resource limits (`MemoryMax=`, `CPUQuota=`, `TasksMax=`); `None` leaves a limit unset.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ResourceLimits {
    /// `MemoryMax=`
    pub memory_max: Option<MemoryMax>,
    /// `CPUQuota=` in percent of one CPU (`200` = two CPUs).
    pub cpu_quota_percent: Option<u32>,
    /// `TasksMax=`
    pub tasks_max: Option<u32>,
}

impl ResourceLimits {
    /// The limits of a reservation of `cpu_millis` thousandths of a core (as `CPUQuota`, a
    /// percentage of one core rounded up) and `memory_mb` MiB (as `MemoryMax`); zero leaves a
    /// limit unset. The one place a reservation becomes systemd limits.
    pub fn reservation(cpu_millis: u32, memory_mb: u64) -> Self {
        Self {
            memory_max: (memory_mb > 0).then(|| MemoryMax::mebibytes(memory_mb)),
            cpu_quota_percent: (cpu_millis > 0).then(|| cpu_millis.div_ceil(10)),
            tasks_max: None,
        }
    }

    /// Whether no limit is set.
    pub fn is_empty(&self) -> bool {
        self.memory_max.is_none() && self.cpu_quota_percent.is_none() && self.tasks_max.is_none()
    }

    /// The `serviceConfig` keys of the limits that are set.
    pub fn to_service_config(&self) -> AttrSet {
        let mut sc = AttrSet::new();
        if let Some(memory) = &self.memory_max {
            sc.insert("MemoryMax", memory.as_str());
        }
        if let Some(quota) = self.cpu_quota_percent {
            sc.insert("CPUQuota", format!("{quota}%"));
        }
        if let Some(tasks) = self.tasks_max {
            sc.insert("TasksMax", tasks);
        }
        sc
    }
}

/// A systemd service as NixOS declares it under `systemd.services.<name>`.
#[derive(Debug, Clone, PartialEq)]
pub struct SystemdService {
    name: String,
    description: Option<String>,
    exec_start: Expr,
    wanted_by: Vec<String>,
    after: Vec<String>,
    requires: Vec<String>,
    environment: Vec<(String, Expr)>,
    path: Vec<Expr>,
    restart: Option<RestartPolicy>,
    restart_sec: Option<u32>,
    user: Option<String>,
    group: Option<String>,
    dynamic_user: bool,
    state_directory: Option<String>,
    hardening: Hardening,
    limits: ResourceLimits,
    extra_service_config: AttrSet,
}

fn is_unit_name_char(b: u8) -> bool {
    b.is_ascii_alphanumeric() || matches!(b, b':' | b'_' | b'.' | b'@' | b'-' | b'\\')
}

impl SystemdService {
    /// A service named `name` (without `.service`) running `exec_start` (a string, or an
    /// interpolated string such as `"${pkgs.nats-server}/bin/nats-server"`), wanted by
    /// `multi-user.target`, restarted on failure, with the default [`Hardening`].
    ///
    /// # Errors
    /// [`NixError::InvalidOptionValue`] when `name` is empty, longer than 255 bytes, ends in
    /// `.service` or has characters systemd does not allow in unit names.
    pub fn new(name: &str, exec_start: impl Into<Expr>) -> Result<Self, NixError> {
        let invalid = |reason| NixError::InvalidOptionValue {
            option: "systemd.services.<name>".to_owned(),
            value: name.to_owned(),
            reason,
        };
        if name.is_empty() || name.len() > 255 {
            return Err(invalid("a unit name has 1 to 255 characters"));
        }
        if name.ends_with(".service") {
            return Err(invalid("give the name without the .service suffix"));
        }
        if !name.bytes().all(is_unit_name_char) {
            return Err(invalid(
                "unit names may only contain letters, digits and `:_.@-\\`",
            ));
        }
        Ok(Self {
            name: name.to_owned(),
            description: None,
            exec_start: exec_start.into(),
            wanted_by: vec!["multi-user.target".to_owned()],
            after: Vec::new(),
            requires: Vec::new(),
            environment: Vec::new(),
            path: Vec::new(),
            restart: Some(RestartPolicy::OnFailure),
            restart_sec: None,
            user: None,
            group: None,
            dynamic_user: false,
            state_directory: None,
            hardening: Hardening::default(),
            limits: ResourceLimits::default(),
            extra_service_config: AttrSet::new(),
        })
    }

    /// The unit name (without `.service`).
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Sets `description`.
    #[must_use]
    pub fn description(mut self, text: impl Into<String>) -> Self {
        self.description = Some(text.into());
        self
    }

    /// Replaces `wantedBy` (default `[ "multi-user.target" ]`).
    #[must_use]
    pub fn wanted_by<S: Into<String>>(mut self, targets: impl IntoIterator<Item = S>) -> Self {
        self.wanted_by = targets.into_iter().map(Into::into).collect();
        self
    }

    /// Adds a unit to `after` (ordering).
    #[must_use]
    pub fn after(mut self, unit: impl Into<String>) -> Self {
        self.after.push(unit.into());
        self
    }

    /// Adds a unit to `requires` and to `after` (a dependency is also started first).
    #[must_use]
    pub fn requires(mut self, unit: impl Into<String>) -> Self {
        let unit = unit.into();
        if !self.after.contains(&unit) {
            self.after.push(unit.clone());
        }
        self.requires.push(unit);
        self
    }

    /// Sets an environment variable (`environment.NAME = value`).
    #[must_use]
    pub fn env(mut self, name: impl Into<String>, value: impl Into<Expr>) -> Self {
        self.environment.push((name.into(), value.into()));
        self
    }

    /// Adds a package to the service's `path`.
    #[must_use]
    pub fn path_package(mut self, package: Expr) -> Self {
        self.path.push(package);
        self
    }

    /// Sets `Restart=` (default `on-failure`) and optionally `RestartSec=` in seconds.
    #[must_use]
    pub fn restart(mut self, policy: RestartPolicy, delay_secs: Option<u32>) -> Self {
        self.restart = Some(policy);
        self.restart_sec = delay_secs;
        self
    }

    /// Runs as `user` (and `group`, when given).
    #[must_use]
    pub fn user(mut self, user: impl Into<String>, group: Option<String>) -> Self {
        self.user = Some(user.into());
        self.group = group;
        self
    }

    /// `DynamicUser=true`: a transient user per run.
    #[must_use]
    pub fn dynamic_user(mut self) -> Self {
        self.dynamic_user = true;
        self
    }

    /// `StateDirectory=`: a writable `/var/lib/<dir>` owned by the service.
    #[must_use]
    pub fn state_directory(mut self, dir: impl Into<String>) -> Self {
        self.state_directory = Some(dir.into());
        self
    }

    /// Replaces the sandboxing options.
    #[must_use]
    pub fn hardening(mut self, hardening: Hardening) -> Self {
        self.hardening = hardening;
        self
    }

    /// Replaces the resource limits.
    ///
    /// # Errors
    /// [`NixError::InvalidOptionValue`] for a zero `CPUQuota` or `TasksMax`.
    pub fn limits(mut self, limits: ResourceLimits) -> Result<Self, NixError> {
        for (option, value) in [
            ("serviceConfig.CPUQuota", limits.cpu_quota_percent),
            ("serviceConfig.TasksMax", limits.tasks_max),
        ] {
            if value == Some(0) {
                return Err(NixError::InvalidOptionValue {
                    option: option.to_owned(),
                    value: "0".to_owned(),
                    reason: "must be at least 1",
                });
            }
        }
        self.limits = limits;
        Ok(self)
    }

    /// Sets any other `serviceConfig` key (e.g. `LimitNOFILE`); later calls win.
    #[must_use]
    pub fn service_config(mut self, key: &str, value: impl Into<Expr>) -> Self {
        self.extra_service_config.insert(key, value);
        self
    }

    /// The value of `systemd.services.<name>`.
    pub fn to_expr(&self) -> Expr {
        let mut unit = AttrSet::new();
        if let Some(description) = &self.description {
            unit.insert("description", description.as_str());
        }
        if !self.wanted_by.is_empty() {
            unit.insert("wantedBy", list(self.wanted_by.iter()));
        }
        if !self.after.is_empty() {
            unit.insert("after", list(self.after.iter()));
        }
        if !self.requires.is_empty() {
            unit.insert("requires", list(self.requires.iter()));
        }
        if !self.path.is_empty() {
            unit.insert("path", Expr::List(self.path.clone()));
        }
        if !self.environment.is_empty() {
            let env: AttrSet = self
                .environment
                .iter()
                .map(|(k, v)| (k.as_str(), v.clone()))
                .collect();
            unit.insert("environment", env);
        }
        unit.insert("serviceConfig", self.service_config_expr());
        Expr::AttrSet(unit)
    }

    fn service_config_expr(&self) -> AttrSet {
        let mut sc = AttrSet::new();
        sc.insert("ExecStart", self.exec_start.clone());
        if let Some(restart) = self.restart {
            sc.insert("Restart", restart.as_str());
        }
        if let Some(secs) = self.restart_sec {
            sc.insert("RestartSec", secs);
        }
        if let Some(user) = &self.user {
            sc.insert("User", user.as_str());
        }
        if let Some(group) = &self.group {
            sc.insert("Group", group.as_str());
        }
        if self.dynamic_user {
            sc.insert("DynamicUser", true);
        }
        if let Some(dir) = &self.state_directory {
            sc.insert("StateDirectory", dir.as_str());
        }
        let h = &self.hardening;
        sc.insert("NoNewPrivileges", h.no_new_privileges);
        if let Some(protect) = h.protect_system {
            sc.insert("ProtectSystem", protect.value());
        }
        sc.insert("ProtectHome", h.protect_home);
        sc.insert("PrivateTmp", h.private_tmp);
        if !h.read_write_paths.is_empty() {
            sc.insert("ReadWritePaths", list(h.read_write_paths.iter()));
        }
        sc.merge(self.limits.to_service_config());
        sc.merge(self.extra_service_config.clone());
        sc
    }
}
