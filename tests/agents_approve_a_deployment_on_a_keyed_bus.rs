//! The whole loop on a bus that requires NKeys (issue 13): a real nats-server runs the
//! authorization the translator generates for the example fleet from `cim-leaf keys generate`;
//! every agent runs as `cim-leaf agents run --nkey-seed <its seed>` and `cim-leaf deploy` as the
//! `_operator` identity. The agents register, review, vote under their own ids and keep their
//! knowledge replicas, and the deployment passes; without the operator's seed, `deploy` is
//! refused at the door.

use std::path::{Path, PathBuf};
use std::process::Stdio;

use cim_jetstream::testing::NatsServer;
use cim_leaf::nats_keys::{OPERATOR_IDENTITY, PUBLIC_KEYS_FILE, seed_file};
use cim_leaf::{Fleet, FleetOptions, NatsKeys};
use tokio::process::{Child, Command};

type TestResult = Result<(), Box<dyn std::error::Error>>;

const AGENTS: [&str; 5] = [
    "db-expert",
    "nats-expert",
    "network-expert",
    "nix-expert",
    "sage",
];

const GRAPH: &str = "examples/graphs/fleet.yaml";

fn repo(path: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join(path)
}

fn cim_leaf() -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_cim-leaf"));
    command.env("CIM_LEAF_AGENT_FLAKE", "github:example/cim-leaf");
    command
}

fn start_agent(url: &str, agent: &str, keys: &Path, dir: &Path) -> Result<Child, std::io::Error> {
    let log = std::fs::File::create(dir.join(format!("{agent}.log")))?;
    cim_leaf()
        .args(["agents", "run", "--agent-file"])
        .arg(repo(&format!("examples/agents/{agent}.md")))
        .args(["--nats-url", url, "--heartbeat-secs", "1", "--nkey-seed"])
        .arg(seed_file(keys, agent))
        .arg("--data-dir")
        .arg(dir.join(agent))
        .env("RUST_LOG", "info")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(log)
        .kill_on_drop(true)
        .spawn()
}

async fn deploy(
    url: &str,
    out: &Path,
    seed: Option<&Path>,
) -> Result<std::process::Output, std::io::Error> {
    let mut command = cim_leaf();
    command
        .arg("deploy")
        .arg(repo(GRAPH))
        .arg("--out")
        .arg(out)
        .args(["--nats", url, "--remote-agents", "60", "--json"]);
    if let Some(seed) = seed {
        command.arg("--nkey-seed").arg(seed);
    }
    command.output().await
}

#[tokio::test]
async fn agents_with_their_keys_approve_the_example_fleet_on_a_keyed_bus() -> TestResult {
    let dir = tempfile::tempdir()?;
    let keys = dir.path().join("keys");
    let generated = cim_leaf()
        .args(["keys", "generate"])
        .arg(repo(GRAPH))
        .arg("--dir")
        .arg(&keys)
        .output()
        .await?;
    assert!(
        generated.status.success(),
        "{}",
        String::from_utf8_lossy(&generated.stderr)
    );
    assert!(seed_file(&keys, OPERATOR_IDENTITY).is_file());

    // The server runs exactly what the translator generates for the fleet's first bus.
    let options = FleetOptions {
        nats_keys: NatsKeys::File(keys.join(PUBLIC_KEYS_FILE)),
        ..FleetOptions::default()
    }
    .with_agent_flake("github:example/cim-leaf");
    let fleet = Fleet::load(repo(GRAPH), options)?;
    let settings = fleet
        .nats_settings("bus-1")?
        .ok_or("bus-1 has no settings")?;
    assert!(settings["authorization"]["users"].is_array(), "{settings}");
    let server = NatsServer::builder().settings(&settings)?.start().await?;
    let url = server.url();

    let mut agents = Vec::new();
    for agent in AGENTS {
        agents.push(start_agent(&url, agent, &keys, dir.path())?);
    }

    // Without the operator's seed the pipeline cannot even connect.
    let refused = deploy(&url, &dir.path().join("refused"), None).await?;
    assert_eq!(refused.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&refused.stderr);
    assert!(stderr.to_lowercase().contains("authorization"), "{stderr}");

    let out = dir.path().join("out");
    let operator = seed_file(&keys, OPERATOR_IDENTITY);
    let output = deploy(&url, &out, Some(&operator)).await?;
    let report: serde_json::Value = serde_json::from_slice(&output.stdout).map_err(|error| {
        format!(
            "{error}: {}\n{}",
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        )
    })?;
    let logs: Vec<String> = AGENTS
        .iter()
        .map(|a| std::fs::read_to_string(dir.path().join(format!("{a}.log"))).unwrap_or_default())
        .collect();
    assert_eq!(output.status.code(), Some(0), "{report:#}\n{logs:#?}");
    assert_eq!(report["outcome"], "Passed", "{report:#}");
    let votes = report["votes"].as_array().ok_or("no votes")?;
    assert_eq!(votes.len(), AGENTS.len(), "{report:#}");
    for vote in votes {
        assert_eq!(vote["counted"], true, "{vote}");
    }
    assert_eq!(report["replicas_showing_deployment"], AGENTS.len());
    // Each replica is kept in JetStream (the agents may use their knowledge stream), and no
    // agent was refused anything by the server on the way.
    for (agent, log) in AGENTS.iter().zip(&logs) {
        assert!(!log.contains("keeping it in memory"), "{agent}: {log}");
    }
    assert!(
        !server.log().contains("Permissions Violation"),
        "{}",
        server.log()
    );
    drop(agents);
    Ok(())
}
