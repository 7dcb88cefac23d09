//! nix-darwin forms: launchd daemons (`launchd.daemons.<name>`), the dedicated users they run
//! as (`users.users`, `users.groups`, `users.knownUsers`, `users.knownGroups`), and NATS as a
//! launchd daemon built from the same `services.nats` value the NixOS builder
//! ([`NatsServer`](crate::NatsServer)) writes.
//!
//! nix-darwin has no NATS module and no systemd: a daemon is a launchd property list
//! (`serviceConfig`: `ProgramArguments`, `KeepAlive`, `RunAtLoad`, `UserName`, ...), and
//! nix-darwin creates or deletes only the users and groups listed in `knownUsers`/`knownGroups`,
//! which need a fixed `uid`/`gid`.

use std::collections::BTreeMap;

use crate::{AttrPath, AttrSet, Expr, NixError, ident, list};

/// One launchd daemon: `launchd.daemons.<label>.serviceConfig`, kept alive and started at boot.
#[derive(Debug, Clone, PartialEq)]
pub struct LaunchdDaemon {
    label: String,
    program_arguments: Vec<Expr>,
    user: Option<String>,
    working_directory: Option<String>,
    environment: BTreeMap<String, String>,
    log_path: Option<String>,
}

impl LaunchdDaemon {
    /// A daemon named `label` (`launchd.daemons.<label>`) running `program_arguments` (each
    /// must evaluate to a string: the program first).
    ///
    /// # Errors
    /// [`NixError::InvalidOptionValue`] for an empty label or no program.
    pub fn new(label: &str, program_arguments: Vec<Expr>) -> Result<Self, NixError> {
        if label.is_empty() || program_arguments.is_empty() {
            return Err(NixError::InvalidOptionValue {
                option: format!("launchd.daemons.{label}.serviceConfig.ProgramArguments"),
                value: label.to_owned(),
                reason: "a daemon needs a label and a program",
            });
        }
        Ok(Self {
            label: label.to_owned(),
            program_arguments,
            user: None,
            working_directory: None,
            environment: BTreeMap::new(),
            log_path: None,
        })
    }

    /// Runs the daemon as `user` and its group of the same name (`UserName`, `GroupName`).
    #[must_use]
    pub fn user(mut self, user: &DarwinUser) -> Self {
        self.user = Some(user.name.clone());
        self
    }

    /// Starts the daemon in `dir` (`WorkingDirectory`).
    #[must_use]
    pub fn working_directory(mut self, dir: impl Into<String>) -> Self {
        self.working_directory = Some(dir.into());
        self
    }

    /// Sets the daemon's environment (`EnvironmentVariables`).
    #[must_use]
    pub fn environment(mut self, environment: BTreeMap<String, String>) -> Self {
        self.environment = environment;
        self
    }

    /// Appends stdout and stderr to `path` (`StandardOutPath`, `StandardErrorPath`).
    #[must_use]
    pub fn log_path(mut self, path: impl Into<String>) -> Self {
        self.log_path = Some(path.into());
        self
    }

    /// The attribute path the daemon is set at: `launchd.daemons.<label>`.
    pub fn path(&self) -> AttrPath {
        AttrPath::new(["launchd", "daemons", self.label.as_str()])
    }

    /// The value of `launchd.daemons.<label>`.
    pub fn to_expr(&self) -> Expr {
        let mut config = AttrSet::new();
        config.insert("ProgramArguments", list(self.program_arguments.clone()));
        config.insert("KeepAlive", true);
        config.insert("RunAtLoad", true);
        if let Some(user) = &self.user {
            config.insert("UserName", user.as_str());
            config.insert("GroupName", user.as_str());
        }
        if let Some(dir) = &self.working_directory {
            config.insert("WorkingDirectory", dir.as_str());
        }
        if !self.environment.is_empty() {
            let env: AttrSet = self
                .environment
                .iter()
                .map(|(k, v)| (k.as_str(), Expr::from(v.as_str())))
                .collect();
            config.insert("EnvironmentVariables", Expr::AttrSet(env));
        }
        if let Some(log) = &self.log_path {
            config.insert("StandardOutPath", log.as_str());
            config.insert("StandardErrorPath", log.as_str());
        }
        let mut daemon = AttrSet::new();
        daemon.insert("serviceConfig", Expr::AttrSet(config));
        Expr::AttrSet(daemon)
    }
}

/// A hidden service user with a group of the same name and id, whose home (created by
/// nix-darwin) is the only directory its daemon writes to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DarwinUser {
    name: String,
    id: u32,
    home: String,
    description: String,
}

impl DarwinUser {
    /// User and group `name` with uid and gid `id` and home `home`.
    ///
    /// # Errors
    /// [`NixError::InvalidOptionValue`] for an id below 200 (macOS' own accounts) or a
    /// relative home.
    pub fn new(
        name: &str,
        id: u32,
        home: &str,
        description: impl Into<String>,
    ) -> Result<Self, NixError> {
        if id < 200 {
            return Err(NixError::InvalidOptionValue {
                option: format!("users.users.{name}.uid"),
                value: id.to_string(),
                reason: "ids below 200 belong to macOS itself",
            });
        }
        if !home.starts_with('/') {
            return Err(NixError::InvalidOptionValue {
                option: format!("users.users.{name}.home"),
                value: home.to_owned(),
                reason: "must be an absolute path",
            });
        }
        Ok(Self {
            name: name.to_owned(),
            id,
            home: home.to_owned(),
            description: description.into(),
        })
    }

    /// The user's (and group's) name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Shell lines that create the home (mode 0750, owned by the user), for
    /// `system.activationScripts.postActivation.text`: macOS does not create a home outside
    /// `/Users` for a service account by itself.
    pub fn activation_script(&self) -> String {
        let home = shell_quote(&self.home);
        let owner = shell_quote(&format!("{0}:{0}", self.name));
        format!("mkdir -p {home}\nchown {owner} {home}\nchmod 0750 {home}\n")
    }

    /// `(path, value)` of the user and the group; the name also goes into
    /// `users.knownUsers`/`users.knownGroups` (see [`KNOWN_USERS`], [`KNOWN_GROUPS`]).
    pub fn options(&self) -> Vec<(AttrPath, Expr)> {
        let mut user = AttrSet::new();
        user.insert("uid", self.id);
        user.insert("gid", self.id);
        user.insert("home", self.home.as_str());
        user.insert("createHome", true);
        user.insert("shell", "/usr/bin/false");
        user.insert("isHidden", true);
        user.insert("description", self.description.as_str());
        let mut group = AttrSet::new();
        group.insert("gid", self.id);
        group.insert("description", self.description.as_str());
        vec![
            (
                AttrPath::new(["users", "users", self.name.as_str()]),
                Expr::AttrSet(user),
            ),
            (
                AttrPath::new(["users", "groups", self.name.as_str()]),
                Expr::AttrSet(group),
            ),
        ]
    }
}

/// `text` single-quoted for a POSIX shell.
fn shell_quote(text: &str) -> String {
    format!("'{}'", text.replace('\'', "'\\''"))
}

/// `system.activationScripts.postActivation.text`: shell run as root at the end of every
/// activation (nix-darwin runs only its named scripts, this one last).
pub const POST_ACTIVATION: [&str; 4] = ["system", "activationScripts", "postActivation", "text"];

/// `users.knownUsers`: the users nix-darwin manages.
pub const KNOWN_USERS: [&str; 2] = ["users", "knownUsers"];

/// `users.knownGroups`: the groups nix-darwin manages.
pub const KNOWN_GROUPS: [&str; 2] = ["users", "knownGroups"];

/// The user NATS runs as on a Mac.
pub const NATS_USER: &str = "_cim-nats";

/// Its uid and gid.
pub const NATS_UID: u32 = 540;

/// Where NATS keeps JetStream on a Mac unless `services.nats.dataDir` says otherwise (the
/// NixOS default).
pub const NATS_DATA_DIR: &str = "/var/lib/nats";

/// NATS as a launchd daemon, from the value of `services.nats` the NixOS builder writes
/// (`serverName`, `port`, `jetstream`, `dataDir`, `settings`): the server reads a JSON
/// configuration file, as the NixOS module generates it (`server_name`, `port`,
/// `jetstream.store_dir`, then `settings`), runs as [`NATS_USER`] in its data directory and
/// logs to `nats.log` there.
///
/// # Errors
/// [`NixError::InvalidOptionValue`] when `services_nats` is not an attribute set.
pub fn nats_daemon(services_nats: &Expr) -> Result<(LaunchdDaemon, DarwinUser), NixError> {
    let Expr::AttrSet(nats) = services_nats else {
        return Err(NixError::InvalidOptionValue {
            option: "services.nats".to_owned(),
            value: String::new(),
            reason: "must be an attribute set",
        });
    };
    let data_dir = match nats.get("dataDir") {
        Some(Expr::Str(dir)) => dir.as_literal().unwrap_or(NATS_DATA_DIR).to_owned(),
        _ => NATS_DATA_DIR.to_owned(),
    };
    let user = DarwinUser::new(NATS_USER, NATS_UID, &data_dir, "NATS server")?;
    let mut conf = AttrSet::new();
    if let Some(name) = nats.get("serverName") {
        conf.insert("server_name", name.clone());
    }
    if let Some(port) = nats.get("port") {
        conf.insert("port", port.clone());
    }
    if nats.get("jetstream") == Some(&Expr::Bool(true)) {
        conf.insert(["jetstream", "store_dir"], data_dir.as_str());
    }
    if let Some(Expr::AttrSet(settings)) = nats.get("settings") {
        conf.merge(settings.clone());
    }
    let pkgs = ident("pkgs")?;
    let server = ident("lib")?
        .select("getExe")
        .apply(pkgs.clone().select("nats-server"));
    let file = pkgs.select("writeText").call([
        Expr::from("nats.conf"),
        ident("builtins")?
            .select("toJSON")
            .apply(Expr::AttrSet(conf)),
    ]);
    let file = ident("builtins")?.select("toString").apply(file);
    let daemon = LaunchdDaemon::new("nats", vec![server, "-c".into(), file])?
        .user(&user)
        .log_path(format!("{data_dir}/nats.log"))
        .working_directory(data_dir);
    Ok((daemon, user))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{NatsServer, render};

    #[test]
    fn bad_daemons_and_users_are_typed_errors() {
        assert!(matches!(
            LaunchdDaemon::new("", vec![Expr::from("/bin/true")]),
            Err(NixError::InvalidOptionValue { .. })
        ));
        assert!(matches!(
            LaunchdDaemon::new("x", Vec::new()),
            Err(NixError::InvalidOptionValue { .. })
        ));
        assert!(matches!(
            DarwinUser::new("_x", 99, "/var/lib/x", "x"),
            Err(NixError::InvalidOptionValue { option, .. }) if option == "users.users._x.uid"
        ));
        assert!(matches!(
            DarwinUser::new("_x", 600, "var/lib/x", "x"),
            Err(NixError::InvalidOptionValue { .. })
        ));
        assert!(matches!(
            nats_daemon(&Expr::from("nats")),
            Err(NixError::InvalidOptionValue { .. })
        ));
    }

    #[test]
    fn nats_settings_become_the_daemon_config_file() -> Result<(), NixError> {
        let server = NatsServer::new()
            .server_name("bus")
            .port(4223)?
            .jetstream(Some("/srv/nats".to_owned()))
            .monitoring(8222)?;
        let (daemon, user) = nats_daemon(&server.to_expr())?;
        assert_eq!(user.name(), NATS_USER);
        let text = render(&daemon.to_expr());
        for wanted in [
            "server_name = \"bus\";",
            "port = 4223;",
            "jetstream.store_dir = \"/srv/nats\";",
            "http_port = 8222;",
            "UserName = \"_cim-nats\";",
            "WorkingDirectory = \"/srv/nats\";",
            "StandardErrorPath = \"/srv/nats/nats.log\";",
        ] {
            assert!(text.contains(wanted), "{wanted} in {text}");
        }
        Ok(())
    }
}
