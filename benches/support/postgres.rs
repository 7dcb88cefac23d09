//! A private PostgreSQL for benches: Debian's (or any) PostgreSQL binaries, a fresh data directory
//! in a temp dir, a free loopback port, default settings (so `fsync` and `synchronous_commit` are
//! on), stopped and removed on drop — the way `cim_jetstream::testing::NatsServer` runs
//! nats-server.
//!
//! The binaries come from `CIM_PG_BIN` (a directory), else `PATH`, else
//! `/usr/lib/postgresql/<version>/bin` (where Debian's `postgresql-NN` package puts them;
//! `CIM_WITH_POSTGRES=1 . scripts/install-test-tools` installs it). PostgreSQL refuses to run as
//! root, so as root the server runs as the `postgres` user (or `nobody`) through `setpriv`.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use tempfile::TempDir;

const READY_TIMEOUT: Duration = Duration::from_secs(60);

/// A running private PostgreSQL; stopped (immediate shutdown) and deleted when dropped.
pub struct Postgres {
    bin: PathBuf,
    port: u16,
    dir: TempDir,
    child: Option<Child>,
    run_as: Option<(u32, u32)>,
}

impl Postgres {
    /// Starts a fresh server and waits until it accepts connections; `Err` says why it cannot.
    pub fn start() -> Result<Self, String> {
        let bin = find_bin().ok_or(
            "no PostgreSQL binaries (initdb, postgres): set CIM_PG_BIN, put them on PATH or \
             install Debian's postgresql package (CIM_WITH_POSTGRES=1 . scripts/install-test-tools)",
        )?;
        let run_as = if is_root() {
            Some(unprivileged_user()?)
        } else {
            None
        };
        let dir = tempfile::Builder::new()
            .prefix("cim-pg-")
            .tempdir()
            .map_err(|e| format!("temp dir: {e}"))?;
        if let Some((uid, gid)) = run_as {
            let status = Command::new("chown")
                .arg(format!("{uid}:{gid}"))
                .arg(dir.path())
                .status()
                .map_err(|e| format!("chown: {e}"))?;
            if !status.success() {
                return Err(format!("chown {} failed", dir.path().display()));
            }
        }
        let port = free_port()?;
        let mut server = Self {
            bin,
            port,
            dir,
            child: None,
            run_as,
        };
        let data = server.data_dir();
        let initdb = server
            .command("initdb")
            .args(["--auth=trust", "--username=postgres", "--no-sync", "-D"])
            .arg(&data)
            .output()
            .map_err(|e| format!("running initdb: {e}"))?;
        if !initdb.status.success() {
            return Err(format!(
                "initdb failed: {}",
                String::from_utf8_lossy(&initdb.stderr)
            ));
        }
        let child = server
            .command("postgres")
            .arg("-D")
            .arg(&data)
            .arg("-p")
            .arg(port.to_string())
            .arg("-k")
            .arg(server.dir.path())
            .args(["-c", "listen_addresses=127.0.0.1"])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .map_err(|e| format!("starting postgres: {e}"))?;
        server.child = Some(child);
        server.wait_ready()?;
        Ok(server)
    }

    /// `postgresql://postgres@127.0.0.1:<port>/postgres`.
    pub fn url(&self) -> String {
        format!("postgresql://postgres@127.0.0.1:{}/postgres", self.port)
    }

    /// Runs SQL with `psql` (found next to the server binaries or on PATH).
    pub fn psql(&self, sql: &str) -> Result<(), String> {
        let psql = Some(self.bin.join("psql"))
            .filter(|p| p.is_file())
            .unwrap_or_else(|| PathBuf::from("psql"));
        let output = Command::new(psql)
            .args([
                "-X",
                "-q",
                "-v",
                "ON_ERROR_STOP=1",
                "-h",
                "127.0.0.1",
                "-U",
                "postgres",
            ])
            .arg("-p")
            .arg(self.port.to_string())
            .args(["-d", "postgres", "-c", sql])
            .output()
            .map_err(|e| format!("running psql: {e}"))?;
        if output.status.success() {
            Ok(())
        } else {
            Err(format!("psql: {}", String::from_utf8_lossy(&output.stderr)))
        }
    }

    fn data_dir(&self) -> PathBuf {
        self.dir.path().join("data")
    }

    fn command(&self, program: &str) -> Command {
        let path = self.bin.join(program);
        match self.run_as {
            Some((uid, gid)) => {
                let mut command = Command::new("setpriv");
                command
                    .arg(format!("--reuid={uid}"))
                    .arg(format!("--regid={gid}"))
                    .arg("--clear-groups")
                    .arg(path);
                command
            }
            None => Command::new(path),
        }
    }

    fn wait_ready(&mut self) -> Result<(), String> {
        let started = Instant::now();
        loop {
            if let Some(child) = self.child.as_mut()
                && let Ok(Some(status)) = child.try_wait()
            {
                self.child = None;
                return Err(format!("postgres exited early ({status})"));
            }
            if self.psql("SELECT 1").is_ok() {
                return Ok(());
            }
            if started.elapsed() > READY_TIMEOUT {
                return Err(format!("postgres not ready within {READY_TIMEOUT:?}"));
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    }
}

impl Drop for Postgres {
    fn drop(&mut self) {
        let Some(mut child) = self.child.take() else {
            return;
        };
        // Immediate shutdown (SIGQUIT) lets the postmaster stop its backends; the data goes too.
        let quit = Command::new("kill")
            .args(["-QUIT", &child.id().to_string()])
            .status()
            .is_ok_and(|s| s.success());
        let deadline = Instant::now() + Duration::from_secs(10);
        while quit && Instant::now() < deadline {
            if let Ok(Some(_)) = child.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        let _ = child.kill();
        let _ = child.wait();
    }
}

fn find_bin() -> Option<PathBuf> {
    let has_server = |dir: &Path| dir.join("initdb").is_file() && dir.join("postgres").is_file();
    if let Some(dir) = std::env::var_os("CIM_PG_BIN").filter(|v| !v.is_empty()) {
        return Some(PathBuf::from(dir)).filter(|d| has_server(d));
    }
    let on_path = std::env::var_os("PATH")
        .map(|paths| std::env::split_paths(&paths).collect::<Vec<_>>())
        .unwrap_or_default();
    // Debian links initdb into /usr/local/bin or not at all; the real directory has all tools.
    let debian = std::fs::read_dir("/usr/lib/postgresql")
        .map(|entries| {
            let mut dirs: Vec<PathBuf> = entries
                .filter_map(Result::ok)
                .map(|e| e.path().join("bin"))
                .collect();
            dirs.sort();
            dirs.reverse();
            dirs
        })
        .unwrap_or_default();
    on_path
        .into_iter()
        .filter(|d| has_server(d))
        .map(|d| {
            // Follow a symlinked initdb to the directory holding every tool.
            std::fs::canonicalize(d.join("initdb"))
                .ok()
                .and_then(|p| p.parent().map(Path::to_path_buf))
                .filter(|real| has_server(real))
                .unwrap_or(d)
        })
        .chain(debian.into_iter().filter(|d| has_server(d)))
        .next()
}

fn is_root() -> bool {
    Command::new("id")
        .arg("-u")
        .output()
        .is_ok_and(|o| String::from_utf8_lossy(&o.stdout).trim() == "0")
}

/// The uid and gid of `postgres`, else `nobody`, from `id`.
fn unprivileged_user() -> Result<(u32, u32), String> {
    for user in ["postgres", "nobody"] {
        let id = |flag: &str| {
            Command::new("id")
                .args([flag, user])
                .output()
                .ok()
                .filter(|o| o.status.success())
                .and_then(|o| {
                    String::from_utf8_lossy(&o.stdout)
                        .trim()
                        .parse::<u32>()
                        .ok()
                })
        };
        if let (Some(uid), Some(gid)) = (id("-u"), id("-g")) {
            return Ok((uid, gid));
        }
    }
    Err("running as root and there is no postgres or nobody user to run PostgreSQL as".to_string())
}

fn free_port() -> Result<u16, String> {
    let listener =
        std::net::TcpListener::bind("127.0.0.1:0").map_err(|e| format!("free port: {e}"))?;
    listener
        .local_addr()
        .map(|a| a.port())
        .map_err(|e| format!("free port: {e}"))
}
