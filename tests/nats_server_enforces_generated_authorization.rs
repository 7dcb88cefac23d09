//! A real nats-server started with exactly the `services.nats.settings` the translator
//! generates for a fleet with keys (rendered as NixOS renders them, as JSON): an agent with its
//! seed connects and registers (the real runtime, `cim-leaf agents run --nkey-seed`); a client
//! without credentials, or with a key the fleet does not know, is refused; an agent publishing
//! on another agent's subjects is refused with a permissions violation; and where the bus
//! requires TLS (certificates made at test time) a plaintext client is refused while one that
//! trusts the CA gets in; and a leaf node joins its hub over TLS with the generated `leafnodes`
//! blocks (an open hub: an NKey hub cannot accept leaves, see `docs/security.md`, "Limits").

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

use cim_domain_agent::announce::AgentRegistration;
use cim_domain_graph::GraphDocument;
use cim_jetstream::testing::NatsServer;
use cim_leaf::nats_client::NatsClientAuth;
use cim_leaf::nats_keys::{OPERATOR_IDENTITY, PUBLIC_KEYS_FILE, generate, seed_file};
use cim_leaf::{Fleet, FleetOptions, NatsKeys};
use futures::StreamExt as _;
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};

type TestResult = Result<(), Box<dyn std::error::Error>>;

const WAIT: Duration = Duration::from_secs(15);

fn agent(name: &str) -> String {
    format!("---\nagent:\n  name: {name}\n  version: 1.0.0\n---\n# Role\nHelp.\n")
}

/// The fleet's graph; `tls` is the bus's `tls:` value, if any.
fn graph(tls: Option<&str>) -> String {
    let tls = tls.map(|t| format!(", tls: {t}")).unwrap_or_default();
    format!(
        r#"
flake:
  cim_leaf: github:example/cim-leaf/v1
hosts:
  - {{ name: h1, addresses: [10.0.0.1] }}
nodes:
  - {{ name: bus, type: message_bus, host: h1{tls} }}
  - {{ name: sage, type: agent, host: h1, definition: agents/sage.md }}
  - {{ name: bob, type: agent, host: h1, definition: agents/bob.md }}
  - {{ name: ingest, type: service, host: h1, package: hello }}
edges:
  - {{ from: sage, to: bus, type: connects_to }}
  - {{ from: bob, to: bus, type: connects_to }}
  - {{ from: ingest, to: bus, type: publishes_to }}
"#
    )
}

/// Keys generated into a temporary directory and a server running the bus's generated
/// settings.
struct Deployed {
    dir: tempfile::TempDir,
    server: NatsServer,
}

impl Deployed {
    async fn start(tls: Option<&str>) -> Result<Self, Box<dyn std::error::Error>> {
        let dir = tempfile::tempdir()?;
        let keys = dir.path().join("keys");
        generate(
            &[
                "sage".into(),
                "bob".into(),
                "ingest".into(),
                OPERATOR_IDENTITY.into(),
            ],
            &keys,
        )?;
        let document = GraphDocument::from_yaml_str(&graph(tls))?;
        let texts: BTreeMap<String, String> = ["sage", "bob"]
            .iter()
            .map(|n| ((*n).to_owned(), agent(n)))
            .collect();
        let options = FleetOptions {
            nats_keys: NatsKeys::File(keys.join(PUBLIC_KEYS_FILE)),
            ..FleetOptions::default()
        };
        let fleet = Fleet::from_definition_texts(&document, &texts, options)?;
        let settings = fleet
            .nats_settings("bus")?
            .ok_or("the bus has no settings")?;
        let server = NatsServer::builder().settings(&settings)?.start().await?;
        Ok(Self { dir, server })
    }

    fn seed(&self, identity: &str) -> PathBuf {
        seed_file(&self.dir.path().join("keys"), identity)
    }

    async fn client_as(
        &self,
        identity: &str,
        options: async_nats::ConnectOptions,
    ) -> Result<async_nats::Client, Box<dyn std::error::Error>> {
        let auth = NatsClientAuth {
            nkey_seed: Some(self.seed(identity)),
            ..NatsClientAuth::default()
        };
        let options = auth.apply(options.connection_timeout(WAIT)).await?;
        Ok(options.connect(self.server.url()).await?)
    }
}

async fn next(
    messages: &mut async_nats::Subscriber,
) -> Result<async_nats::Message, Box<dyn std::error::Error>> {
    let message = tokio::time::timeout(WAIT, messages.next()).await?;
    Ok(message.ok_or("subscription closed")?)
}

#[tokio::test]
async fn an_agent_with_its_seed_registers_and_strangers_are_refused() -> TestResult {
    let deployed = Deployed::start(None).await?;
    let observer = deployed
        .client_as("bob", async_nats::ConnectOptions::new())
        .await?;
    let mut announcements = observer.subscribe("cim.agents.sage.>").await?;
    observer.flush().await?;

    let agent_file = deployed.dir.path().join("sage.md");
    std::fs::write(&agent_file, agent("sage"))?;
    let _runtime = tokio::process::Command::new(env!("CARGO_BIN_EXE_cim-leaf"))
        .args(["agents", "run", "--agent-file"])
        .arg(&agent_file)
        .args(["--nats-url", &deployed.server.url(), "--nkey-seed"])
        .arg(deployed.seed("sage"))
        .arg("--data-dir")
        .arg(deployed.dir.path().join("data"))
        .args(["--heartbeat-secs", "1"])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .kill_on_drop(true)
        .spawn()?;
    let first = next(&mut announcements).await?;
    assert_eq!(first.subject.as_str(), "cim.agents.sage.registered");
    let registration: AgentRegistration = serde_json::from_slice(&first.payload)?;
    assert_eq!(registration.name.as_str(), "sage");

    // No credentials at all.
    let anonymous = async_nats::ConnectOptions::new()
        .connection_timeout(WAIT)
        .connect(deployed.server.url())
        .await;
    let error = anonymous
        .err()
        .ok_or("a client without credentials got in")?;
    assert_eq!(
        error.kind(),
        async_nats::ConnectErrorKind::AuthorizationViolation
    );
    // A valid seed the fleet never heard of.
    let stranger = nkeys::KeyPair::new_user().seed()?;
    let refused = async_nats::ConnectOptions::with_nkey(stranger)
        .connection_timeout(WAIT)
        .connect(deployed.server.url())
        .await;
    let error = refused.err().ok_or("an unknown key got in")?;
    assert_eq!(
        error.kind(),
        async_nats::ConnectErrorKind::AuthorizationViolation
    );
    Ok(())
}

#[tokio::test]
async fn an_agent_publishing_on_another_agents_subjects_is_refused() -> TestResult {
    let deployed = Deployed::start(None).await?;
    let observer = deployed
        .client_as("sage", async_nats::ConnectOptions::new())
        .await?;
    let mut announcements = observer.subscribe("cim.agents.>").await?;
    observer.flush().await?;

    let (options, mut errors) = server_errors(async_nats::ConnectOptions::new());
    let bob = deployed.client_as("bob", options).await?;
    bob.publish("cim.agents.sage.registered", "i am sage".into())
        .await?;
    bob.publish("cim.agents.bob.heartbeat", "bob".into())
        .await?;
    bob.flush().await?;

    // Messages from one client arrive in order: had the forged one passed, it came first.
    let delivered = next(&mut announcements).await?;
    assert_eq!(delivered.subject.as_str(), "cim.agents.bob.heartbeat");
    let error = tokio::time::timeout(WAIT, errors.recv())
        .await?
        .ok_or("no server error")?;
    assert!(
        error.contains("Permissions Violation for Publish to \"cim.agents.sage.registered\""),
        "{error}"
    );
    assert!(
        deployed.server.log().contains("Publish Violation")
            || deployed.server.log().contains("Permissions Violation"),
        "the server logs the violation"
    );

    // A service may not speak for an agent either: its forged heartbeat, processed before
    // bob's genuine one (it flushed first), never reaches the observer.
    let ingest = deployed
        .client_as("ingest", async_nats::ConnectOptions::new())
        .await?;
    ingest
        .publish("cim.agents.bob.heartbeat", "forged".into())
        .await?;
    ingest.flush().await?;
    bob.publish("cim.agents.bob.heartbeat", "genuine".into())
        .await?;
    bob.flush().await?;
    let delivered = next(&mut announcements).await?;
    assert_eq!(&delivered.payload[..], b"genuine");
    Ok(())
}

/// A CA and a server certificate for 127.0.0.1, made with `openssl` in `dir`.
fn certificates(dir: &Path) -> Result<(), Box<dyn std::error::Error>> {
    let openssl = |args: &[&str]| -> Result<(), Box<dyn std::error::Error>> {
        let out = std::process::Command::new("openssl")
            .args(args)
            .current_dir(dir)
            .output()
            .map_err(|e| format!("openssl is needed to make test certificates: {e}"))?;
        if out.status.success() {
            Ok(())
        } else {
            Err(format!("openssl {args:?}: {}", String::from_utf8_lossy(&out.stderr)).into())
        }
    };
    let ec = [
        "-newkey",
        "ec",
        "-pkeyopt",
        "ec_paramgen_curve:prime256v1",
        "-nodes",
    ];
    let mut ca = vec!["req", "-x509", "-days", "1", "-subj", "/CN=cim-test-ca"];
    ca.extend(ec);
    ca.extend([
        "-keyout",
        "ca.key",
        "-out",
        "ca.crt",
        "-addext",
        "basicConstraints=critical,CA:TRUE",
        "-addext",
        "keyUsage=critical,keyCertSign,cRLSign",
    ]);
    openssl(&ca)?;
    let mut csr = vec!["req", "-subj", "/CN=127.0.0.1"];
    csr.extend(ec);
    csr.extend(["-keyout", "server.key", "-out", "server.csr"]);
    openssl(&csr)?;
    std::fs::write(
        dir.join("server.ext"),
        "subjectAltName=IP:127.0.0.1\nbasicConstraints=CA:FALSE\nkeyUsage=critical,digitalSignature\nextendedKeyUsage=serverAuth,clientAuth\n",
    )?;
    openssl(&[
        "x509",
        "-req",
        "-in",
        "server.csr",
        "-CA",
        "ca.crt",
        "-CAkey",
        "ca.key",
        "-CAcreateserial",
        "-days",
        "1",
        "-out",
        "server.crt",
        "-extfile",
        "server.ext",
    ])
}

#[tokio::test]
async fn plaintext_is_refused_where_tls_is_required() -> TestResult {
    let certs = tempfile::tempdir()?;
    certificates(certs.path())?;
    let path = |name: &str| certs.path().join(name).to_string_lossy().into_owned();
    let tls = format!(
        "{{ cert_file: {}, key_file: {}, ca_file: {} }}",
        path("server.crt"),
        path("server.key"),
        path("ca.crt")
    );
    let deployed = Deployed::start(Some(&tls)).await?;
    let port: u16 = deployed
        .server
        .url()
        .rsplit(':')
        .next()
        .ok_or("no port")?
        .parse()?;

    // Plaintext on the wire: the server announces TLS as required and never answers a
    // plaintext CONNECT with PONG.
    let mut stream = tokio::net::TcpStream::connect(("127.0.0.1", port)).await?;
    let mut info = vec![0u8; 4096];
    let read = tokio::time::timeout(WAIT, stream.read(&mut info)).await??;
    let info = String::from_utf8_lossy(&info[..read]).into_owned();
    assert!(info.contains("\"tls_required\":true"), "{info}");
    stream
        .write_all(b"CONNECT {\"verbose\":false,\"tls_required\":false}\r\nPING\r\n")
        .await?;
    let mut answer = Vec::new();
    let _ = tokio::time::timeout(WAIT, stream.read_to_end(&mut answer)).await;
    let answer = String::from_utf8_lossy(&answer);
    assert!(!answer.contains("PONG"), "plaintext was served: {answer}");

    // A client that does not trust the CA cannot complete TLS, even with its seed.
    let untrusted = deployed
        .client_as("bob", async_nats::ConnectOptions::new())
        .await;
    assert!(untrusted.is_err(), "TLS to an unknown CA was accepted");

    // With the CA (what `agents run --nats-ca` passes) and its seed, the agent gets in.
    let auth = NatsClientAuth {
        nkey_seed: Some(deployed.seed("bob")),
        creds: None,
        ca: Some(certs.path().join("ca.crt")),
    };
    let options = auth
        .apply(async_nats::ConnectOptions::new().connection_timeout(WAIT))
        .await?;
    let bob = options.connect(deployed.server.url()).await?;
    bob.publish("cim.agents.bob.heartbeat", "over TLS".into())
        .await?;
    bob.flush().await?;
    Ok(())
}

#[tokio::test]
async fn a_leaf_node_joins_its_hub_over_tls() -> TestResult {
    let certs = tempfile::tempdir()?;
    certificates(certs.path())?;
    let path = |name: &str| certs.path().join(name).to_string_lossy().into_owned();
    let tls = format!(
        "{{ cert_file: {}, key_file: {}, ca_file: {} }}",
        path("server.crt"),
        path("server.key"),
        path("ca.crt")
    );
    let leaf_port = std::net::TcpListener::bind("127.0.0.1:0")?
        .local_addr()?
        .port();
    let graph = format!(
        r#"
hosts:
  - {{ name: hub-host, addresses: [127.0.0.1] }}
  - {{ name: edge-host, addresses: [127.0.0.2] }}
nodes:
  - {{ name: hub, type: message_bus, host: hub-host, leaf_port: {leaf_port}, tls: {tls} }}
  - {{ name: edge, type: message_bus, host: edge-host, tls: {tls} }}
edges:
  - {{ from: edge, to: hub, type: connects_to }}
"#
    );
    let document = GraphDocument::from_yaml_str(&graph)?;
    let fleet = Fleet::from_definition_texts(&document, &BTreeMap::new(), FleetOptions::default())?;
    let hub_settings = fleet.nats_settings("hub")?.ok_or("no hub settings")?;
    let edge_settings = fleet.nats_settings("edge")?.ok_or("no edge settings")?;
    assert_eq!(
        edge_settings["leafnodes"]["remotes"][0]["url"],
        format!("nats-leaf://127.0.0.1:{leaf_port}")
    );
    let hub = NatsServer::builder()
        .settings(&hub_settings)?
        .start()
        .await?;
    let edge = NatsServer::builder()
        .settings(&edge_settings)?
        .start()
        .await?;
    let ca = NatsClientAuth {
        ca: Some(certs.path().join("ca.crt")),
        ..NatsClientAuth::default()
    };
    let connect = |url: String| {
        let ca = ca.clone();
        async move {
            let options = ca
                .apply(async_nats::ConnectOptions::new().connection_timeout(WAIT))
                .await?;
            Ok::<_, Box<dyn std::error::Error>>(options.connect(url).await?)
        }
    };
    let at_hub = connect(hub.url()).await?;
    let at_edge = connect(edge.url()).await?;
    let mut received = at_hub.subscribe("cim.services.edge.ping").await?;
    at_hub.flush().await?;
    // The leaf link comes up on its own schedule: publish until the hub's subscriber hears it.
    let deadline = tokio::time::Instant::now() + WAIT;
    loop {
        at_edge
            .publish("cim.services.edge.ping", "over the leaf".into())
            .await?;
        at_edge.flush().await?;
        match tokio::time::timeout(Duration::from_millis(200), received.next()).await {
            Ok(Some(message)) => {
                assert_eq!(&message.payload[..], b"over the leaf");
                break;
            }
            _ if tokio::time::Instant::now() > deadline => {
                return Err(format!("the leaf never joined; edge log:\n{}", edge.log()).into());
            }
            _ => {}
        }
    }
    assert!(
        edge.log().contains("Leafnode connection created"),
        "{}",
        edge.log()
    );
    Ok(())
}

/// What the server said to `client` (permission violations arrive as server errors).
fn server_errors(
    options: async_nats::ConnectOptions,
) -> (
    async_nats::ConnectOptions,
    tokio::sync::mpsc::UnboundedReceiver<String>,
) {
    let (errors_tx, errors) = tokio::sync::mpsc::unbounded_channel();
    let options = options.event_callback(move |event| {
        let errors_tx = errors_tx.clone();
        async move {
            if let async_nats::Event::ServerError(error) = event {
                let _ = errors_tx.send(error.to_string());
            }
        }
    });
    (options, errors)
}

#[tokio::test]
async fn an_agent_votes_and_keeps_its_knowledge_replica_under_its_own_id_only() -> TestResult {
    use cim_agent_coordination::knowledge::{
        JetStreamKnowledgeStore, JetStreamStoreConfig, KnowledgeStore as _, KnowledgeSubjects,
        LocalChange,
    };
    use cim_domain_agent::{AgentId, AgentName};

    let deployed = Deployed::start(None).await?;
    let sage_id = AgentId::from_name(&AgentName::new("sage")?);
    let bob_id = AgentId::from_name(&AgentName::new("bob")?);
    // The operator tools count the ballots.
    let observer = deployed
        .client_as(OPERATOR_IDENTITY, async_nats::ConnectOptions::new())
        .await?;
    let mut ballots = observer.subscribe("cim.consensus.>").await?;
    observer.flush().await?;

    let (options, mut errors) = server_errors(async_nats::ConnectOptions::new());
    let sage = deployed.client_as("sage", options).await?;
    // Consensus subjects carry the voter's id: sage may vote as itself, not as bob.
    let proposal = uuid::Uuid::from_u128(7);
    sage.publish(
        format!("cim.consensus.{proposal}.vote.{bob_id}"),
        "forged".into(),
    )
    .await?;
    sage.publish(
        format!("cim.consensus.{proposal}.vote.{sage_id}"),
        "mine".into(),
    )
    .await?;
    sage.flush().await?;
    let delivered = next(&mut ballots).await?;
    assert_eq!(
        delivered.subject.as_str(),
        format!("cim.consensus.{proposal}.vote.{sage_id}")
    );
    let error = tokio::time::timeout(WAIT, errors.recv())
        .await?
        .ok_or("no server error")?;
    assert!(error.contains("Permissions Violation"), "{error}");

    // The knowledge replica's JetStream stream and snapshot bucket work under sage's key...
    let subjects = KnowledgeSubjects::new(cim_leaf::pipeline::KNOWLEDGE_SPACE)?;
    let store =
        JetStreamKnowledgeStore::open(sage.clone(), subjects, JetStreamStoreConfig::default())
            .await?;
    let change = LocalChange {
        hash: "ab".repeat(32),
        bytes: b"change".to_vec(),
    };
    store.append(sage_id, &change).await?;
    assert_eq!(store.changes_after(0).await?.len(), 1);
    store.put_snapshot(b"snapshot".to_vec()).await?;
    assert_eq!(store.snapshot().await?, Some(b"snapshot".to_vec()));
    // ...but sage cannot store a change in bob's name, nor delete the stream.
    assert!(store.append(bob_id, &change).await.is_err());
    let jetstream = async_nats::jetstream::new(sage.clone());
    assert!(
        jetstream
            .delete_stream("CIM_KNOWLEDGE_fleet")
            .await
            .is_err()
    );
    assert_eq!(store.changes_after(0).await?.len(), 1);
    Ok(())
}
