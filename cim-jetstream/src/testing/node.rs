use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use tempfile::TempDir;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use super::{HarnessError, binary};
use crate::SyncPolicy;

/// How long a node may take to report healthy; a cluster needs a meta leader election.
const READY_TIMEOUT: Duration = Duration::from_secs(30);
const POLL_INTERVAL: Duration = Duration::from_millis(20);
/// How long a graceful stop may take before the process is killed.
const STOP_TIMEOUT: Duration = Duration::from_secs(10);
const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);

/// The ports and routes of one node; a cluster node also has routes to its peers.
#[derive(Debug, Clone)]
pub(crate) struct NodeSpec {
    pub(crate) name: String,
    pub(crate) port: u16,
    pub(crate) monitor_port: u16,
    pub(crate) cluster: Option<ClusterSpec>,
    pub(crate) sync: SyncPolicy,
    /// Configuration appended verbatim (the builder's).
    pub(crate) extra: String,
}

/// The route listener of a cluster node and the route ports of all nodes.
#[derive(Debug, Clone)]
pub(crate) struct ClusterSpec {
    pub(crate) name: String,
    pub(crate) port: u16,
    pub(crate) routes: Vec<u16>,
}

/// One real `nats-server` with JetStream on a loopback port and its own store directory.
///
/// Killed (SIGKILL) when dropped; the store directory is removed with it.
///
/// ```no_run
/// # async fn demo() -> Result<(), Box<dyn std::error::Error>> {
/// use cim_jetstream::testing::NatsServer;
/// let mut server = NatsServer::start().await?;
/// let client = server.client().await?;
/// drop(client);
/// server.kill();
/// server.restart().await?; // same port, same store directory
/// # Ok(()) }
/// ```
#[derive(Debug)]
pub struct NatsServer {
    spec: NodeSpec,
    binary: PathBuf,
    dir: TempDir,
    child: Option<Child>,
}

impl NatsServer {
    /// Starts a single JetStream server on free loopback ports with the sync policy of
    /// [`harness_sync_policy`](super::harness_sync_policy) and waits until it is healthy.
    pub async fn start() -> Result<Self, HarnessError> {
        Self::start_with_sync(super::harness_sync_policy()?).await
    }

    /// Starts a single JetStream server whose store syncs to disk as `sync` says.
    pub async fn start_with_sync(sync: SyncPolicy) -> Result<Self, HarnessError> {
        Self::builder().sync(sync).start().await
    }

    /// Prepares a node without starting it (the cluster starts all nodes, then waits for all).
    pub(crate) fn create(spec: NodeSpec) -> Result<Self, HarnessError> {
        let binary = binary::find()?;
        let dir = tempfile::Builder::new()
            .prefix("cim-nats-")
            .tempdir()
            .map_err(|e| HarnessError::io("creating the server's temp directory", e))?;
        let server = Self {
            spec,
            binary,
            dir,
            child: None,
        };
        std::fs::write(server.config_path(), server.config_text())
            .map_err(|e| HarnessError::io("writing the server config", e))?;
        Ok(server)
    }

    /// The client URL, `nats://127.0.0.1:<port>`.
    pub fn url(&self) -> String {
        format!("nats://127.0.0.1:{}", self.spec.port)
    }

    /// The disk-sync policy the server runs with.
    pub fn sync_policy(&self) -> SyncPolicy {
        self.spec.sync
    }

    /// The sync policy the running server reports on its monitoring endpoint (`/varz`), to
    /// check that a configuration took effect.
    pub async fn reported_sync_policy(&self) -> Result<SyncPolicy, HarnessError> {
        let unreadable = |detail: String| HarnessError::Monitoring {
            name: self.spec.name.clone(),
            detail,
        };
        let response = http_get(self.spec.monitor_port, "/varz")
            .await
            .map_err(|e| unreadable(e.to_string()))?;
        let body = response
            .windows(4)
            .position(|w| w == b"\r\n\r\n")
            .map_or(&[][..], |end| &response[end + 4..]);
        let varz: serde_json::Value =
            serde_json::from_slice(body).map_err(|e| unreadable(e.to_string()))?;
        let config = &varz["jetstream"]["config"];
        if config["sync_always"].as_bool() == Some(true) {
            return Ok(SyncPolicy::Always);
        }
        let nanos = config["sync_interval"]
            .as_u64()
            .ok_or_else(|| unreadable(format!("no jetstream.config.sync_interval in {config}")))?;
        Ok(SyncPolicy::Interval(Duration::from_nanos(nanos)))
    }

    /// The server's name (unique within a cluster).
    pub fn name(&self) -> &str {
        &self.spec.name
    }

    /// The JetStream store directory; it survives [`kill`](Self::kill) and
    /// [`restart`](Self::restart).
    pub fn store_dir(&self) -> PathBuf {
        self.dir.path().join("store")
    }

    /// Whether the process is running (it has not been stopped, killed or exited).
    pub fn is_running(&mut self) -> bool {
        match self.child.as_mut().map(Child::try_wait) {
            Some(Ok(None)) => true,
            Some(Ok(Some(_)) | Err(_)) | None => false,
        }
    }

    /// Connects a client with a bounded connection timeout.
    pub async fn client(&self) -> Result<async_nats::Client, HarnessError> {
        connect(&[self.url()]).await
    }

    /// Stops the server gracefully (as on SIGINT), killing it if it does not exit in time.
    pub fn stop(&mut self) {
        let Some(mut child) = self.child.take() else {
            return;
        };
        let signalled = Command::new(&self.binary)
            .arg("--signal")
            .arg(format!("quit={}", child.id()))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|s| s.success());
        if signalled {
            let deadline = Instant::now() + STOP_TIMEOUT;
            while Instant::now() < deadline {
                if let Ok(Some(_)) = child.try_wait() {
                    return;
                }
                std::thread::sleep(POLL_INTERVAL);
            }
        }
        kill_child(&mut child);
    }

    /// Kills the server with SIGKILL: no flush, no goodbye, as in a crash.
    pub fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            kill_child(&mut child);
        }
    }

    /// Starts the server again on the same ports with the same store directory and waits until
    /// it is healthy. A running server is stopped first.
    pub async fn restart(&mut self) -> Result<(), HarnessError> {
        self.stop();
        self.spawn()?;
        self.wait_ready().await
    }

    pub(crate) fn spawn(&mut self) -> Result<(), HarnessError> {
        let child = Command::new(&self.binary)
            .arg("-c")
            .arg(self.config_path())
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .map_err(|e| HarnessError::io(format!("starting {}", self.binary.display()), e))?;
        self.child = Some(child);
        Ok(())
    }

    /// Polls the monitoring endpoint's `/healthz` (which includes JetStream) until it answers 200.
    pub(crate) async fn wait_ready(&mut self) -> Result<(), HarnessError> {
        let started = Instant::now();
        loop {
            if let Some(child) = self.child.as_mut()
                && let Ok(Some(status)) = child.try_wait()
            {
                self.child = None;
                return Err(HarnessError::Exited {
                    name: self.spec.name.clone(),
                    status: status.to_string(),
                    log_tail: self.log_tail(),
                });
            }
            if healthz_ok(self.spec.monitor_port).await {
                return Ok(());
            }
            if started.elapsed() > READY_TIMEOUT {
                return Err(HarnessError::NotReady {
                    name: self.spec.name.clone(),
                    waited_ms: started.elapsed().as_millis(),
                    log_tail: self.log_tail(),
                });
            }
            tokio::time::sleep(POLL_INTERVAL).await;
        }
    }

    fn config_path(&self) -> PathBuf {
        self.dir.path().join("server.conf")
    }

    fn log_path(&self) -> PathBuf {
        self.dir.path().join("server.log")
    }

    fn config_text(&self) -> String {
        let spec = &self.spec;
        let mut text = format!(
            "server_name: {name:?}\nlisten: \"127.0.0.1:{port}\"\nhttp: \"127.0.0.1:{monitor}\"\n\
             log_file: {log:?}\njetstream {{\n  store_dir: {store:?}\n  {sync}\n}}\n",
            name = spec.name,
            port = spec.port,
            monitor = spec.monitor_port,
            log = path_text(&self.log_path()),
            store = path_text(&self.store_dir()),
            sync = spec.sync.server_setting(),
        );
        if let Some(cluster) = &spec.cluster {
            let routes: Vec<String> = cluster
                .routes
                .iter()
                .map(|p| format!("\"nats-route://127.0.0.1:{p}\""))
                .collect();
            text.push_str(&format!(
                "cluster {{\n  name: {name:?}\n  listen: \"127.0.0.1:{port}\"\n  routes: [{routes}]\n}}\n",
                name = cluster.name,
                port = cluster.port,
                routes = routes.join(", "),
            ));
        }
        text.push_str(&spec.extra);
        text
    }

    /// The server's log so far (connections refused, permissions violations...).
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.log_path()).unwrap_or_default()
    }

    fn log_tail(&self) -> String {
        let text = std::fs::read_to_string(self.log_path()).unwrap_or_default();
        let lines: Vec<&str> = text.lines().collect();
        lines[lines.len().saturating_sub(20)..].join("\n")
    }
}

impl Drop for NatsServer {
    fn drop(&mut self) {
        self.kill();
    }
}

fn kill_child(child: &mut Child) {
    // Both fail only when the process is already gone, which is the goal.
    let _ = child.kill();
    let _ = child.wait();
}

fn path_text(path: &Path) -> String {
    path.to_string_lossy().into_owned()
}

/// Reserves `N` distinct free loopback ports (all listeners are held until every port is known).
pub(crate) fn free_ports<const N: usize>() -> Result<[u16; N], HarnessError> {
    let mut listeners = Vec::with_capacity(N);
    let mut ports = [0u16; N];
    for port in &mut ports {
        let listener = std::net::TcpListener::bind("127.0.0.1:0")
            .map_err(|e| HarnessError::io("reserving a loopback port", e))?;
        *port = listener
            .local_addr()
            .map_err(|e| HarnessError::io("reading a reserved port", e))?
            .port();
        listeners.push(listener);
    }
    Ok(ports)
}

/// Connects to any of `urls` with a bounded timeout.
pub(crate) async fn connect(urls: &[String]) -> Result<async_nats::Client, HarnessError> {
    async_nats::ConnectOptions::new()
        .connection_timeout(CONNECT_TIMEOUT)
        .connect(urls)
        .await
        .map_err(|source| HarnessError::Connect {
            url: urls.join(","),
            source,
        })
}

/// One HTTP/1.0 GET on the monitoring port, bounded by a second; the whole response.
async fn http_get(monitor_port: u16, path: &str) -> std::io::Result<Vec<u8>> {
    let attempt = async {
        let mut stream = tokio::net::TcpStream::connect(("127.0.0.1", monitor_port)).await?;
        stream
            .write_all(format!("GET {path} HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n").as_bytes())
            .await?;
        let mut response = Vec::new();
        stream.read_to_end(&mut response).await?;
        Ok(response)
    };
    tokio::time::timeout(Duration::from_secs(1), attempt)
        .await
        .map_err(|_| std::io::Error::from(std::io::ErrorKind::TimedOut))?
}

async fn healthz_ok(monitor_port: u16) -> bool {
    http_get(monitor_port, "/healthz")
        .await
        .is_ok_and(|response| {
            response.starts_with(b"HTTP/1.1 200") || response.starts_with(b"HTTP/1.0 200")
        })
}
