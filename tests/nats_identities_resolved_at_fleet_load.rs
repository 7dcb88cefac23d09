//! NATS identities are resolved when a fleet is loaded: `cim-leaf keys generate` writes one
//! seed (mode 0600, never overwritten) per agent and per service that connects to a message
//! bus, and the public keys file; the translation puts those public keys, with the
//! permissions of each identity, into every bus's `authorization.users`, names the identities
//! a keys file lacks, carries TLS and leaf credentials as paths, and never writes a seed.

use std::collections::BTreeMap;
use std::path::Path;

use cim_domain_graph::GraphDocument;
use cim_leaf::nats_keys::{PUBLIC_KEYS_FILE, PublicKeys, seed_file};
use cim_leaf::{Fleet, FleetError, FleetOptions, NatsKeys};
use proptest::prelude::*;

type TestResult = Result<(), Box<dyn std::error::Error>>;

const GRAPH: &str = r#"
flake:
  cim_leaf: github:example/cim-leaf/v1
hosts:
  - { name: h1, addresses: [10.0.0.1] }
nodes:
  - { name: bus, type: message_bus, host: h1 }
  - { name: alice, type: agent, host: h1, definition: agents/alice.md }
  - { name: bob, type: agent, host: h1, definition: agents/bob.md }
  - { name: ingest, type: service, host: h1, package: hello }
  - { name: quiet, type: service, host: h1, package: hello }
edges:
  - { from: alice, to: bus, type: connects_to }
  - { from: bob, to: bus, type: connects_to }
  - { from: ingest, to: bus, type: publishes_to }
"#;

fn agent(name: &str) -> String {
    format!("---\nagent:\n  name: {name}\n  version: 1.0.0\n---\n# Role\nHelp.\n")
}

fn definitions(names: &[&str]) -> BTreeMap<String, String> {
    names.iter().map(|n| ((*n).to_owned(), agent(n))).collect()
}

fn load(graph: &str, keys: NatsKeys) -> Result<Fleet, FleetError> {
    let document = GraphDocument::from_yaml_str(graph).map_err(FleetError::Unreadable)?;
    let options = FleetOptions {
        nats_keys: keys,
        ..FleetOptions::default()
    };
    Fleet::from_definition_texts(&document, &definitions(&["alice", "bob"]), options)
}

fn generate(dir: &Path) -> Result<std::process::Output, std::io::Error> {
    std::fs::write(dir.join("graph.yaml"), GRAPH)?;
    std::process::Command::new(env!("CARGO_BIN_EXE_cim-leaf"))
        .args(["keys", "generate"])
        .arg(dir.join("graph.yaml"))
        .arg("--dir")
        .arg(dir.join("keys"))
        .output()
}

#[test]
fn keys_generate_writes_private_seeds_and_keeps_existing_ones() -> TestResult {
    let dir = tempfile::tempdir()?;
    let out = generate(dir.path())?;
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let keys_dir = dir.path().join("keys");
    let mut seeds = BTreeMap::new();
    for identity in ["alice", "bob", "ingest"] {
        let path = seed_file(&keys_dir, identity);
        let seed = std::fs::read_to_string(&path)?;
        assert!(seed.starts_with("SU"), "{identity}");
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt as _;
            assert_eq!(
                std::fs::metadata(&path)?.permissions().mode() & 0o777,
                0o600
            );
        }
        seeds.insert(identity, seed);
    }
    assert!(
        !seed_file(&keys_dir, "quiet").exists(),
        "no bus edge, no identity"
    );
    let keys = PublicKeys::read(&keys_dir.join(PUBLIC_KEYS_FILE))?;
    let public_text = std::fs::read_to_string(keys_dir.join(PUBLIC_KEYS_FILE))?;
    for (identity, seed) in &seeds {
        let pair = nkeys::KeyPair::from_seed(seed.trim())?;
        assert_eq!(keys.get(identity), Some(pair.public_key().as_str()));
        assert!(!public_text.contains(seed.trim()));
    }

    // Again: every seed stays as it was, and so do the public keys.
    let out = generate(dir.path())?;
    assert!(out.status.success());
    assert!(String::from_utf8(out.stdout)?.contains("0 seeds created, 4 kept"));
    for (identity, seed) in &seeds {
        assert_eq!(
            &std::fs::read_to_string(seed_file(&keys_dir, identity))?,
            seed
        );
    }
    assert_eq!(PublicKeys::read(&keys_dir.join(PUBLIC_KEYS_FILE))?, keys);

    // A seed file that is not a seed is refused, never replaced.
    std::fs::write(seed_file(&keys_dir, "bob"), "not a seed")?;
    let out = generate(dir.path())?;
    assert!(!out.status.success());
    assert!(String::from_utf8(out.stderr)?.contains("bob.nk exists but does not hold"));
    assert_eq!(
        std::fs::read_to_string(seed_file(&keys_dir, "bob"))?,
        "not a seed"
    );
    Ok(())
}

#[test]
fn translation_writes_public_keys_with_each_identitys_permissions() -> TestResult {
    let dir = tempfile::tempdir()?;
    assert!(generate(dir.path())?.status.success());
    let keys_path = dir.path().join("keys").join(PUBLIC_KEYS_FILE);
    let keys = PublicKeys::read(&keys_path)?;
    let fleet = load(GRAPH, NatsKeys::File(keys_path))?;

    let settings = fleet.nats_settings("bus")?.ok_or("no settings")?;
    let users = settings["authorization"]["users"]
        .as_array()
        .ok_or("no users")?;
    // The three nodes and the operator tools' `_operator`, which may do everything.
    assert_eq!(users.len(), 4);
    let user = |identity: &str| {
        let key = keys.get(identity).unwrap_or_default();
        users.iter().find(|u| u["nkey"] == key).cloned()
    };
    let operator = user(cim_leaf::nats_keys::OPERATOR_IDENTITY).ok_or("no operator user")?;
    assert_eq!(
        operator["permissions"]["publish"]["allow"],
        serde_json::json!([">"])
    );
    let alice = user("alice").ok_or("alice is not a user")?;
    let publish = &alice["permissions"]["publish"]["allow"];
    assert!(
        publish
            .as_array()
            .is_some_and(|a| a.contains(&"cim.agents.alice.>".into()))
    );
    assert!(!publish.to_string().contains("cim.agents.bob"));
    assert!(
        publish
            .as_array()
            .is_some_and(|a| a.contains(&"_INBOX.>".into()))
    );
    let ingest = user("ingest").ok_or("ingest is not a user")?;
    assert_eq!(
        ingest["permissions"]["publish"]["allow"],
        serde_json::json!(["cim.services.ingest.>", "_INBOX.>"])
    );

    // The generated host file carries the same keys and no seed.
    let spec = fleet.translate()?;
    let host = spec.file("hosts/h1.nix").ok_or("no host file")?;
    assert!(host.contains(keys.get("alice").ok_or("no key")?));
    // Each agent container gets its own seed file, bound read-only, as `--nkey-seed`.
    assert!(host.contains(r#"natsNkeySeedFile = "/run/secrets/cim/nats/alice.nk";"#));
    let bind = host
        .find(r#""/run/secrets/cim/nats/alice.nk" = {"#)
        .ok_or("no bind mount of alice's seed")?;
    let mount = &host[bind..host[bind..].find('}').map_or(host.len(), |end| bind + end)];
    assert!(mount.contains("isReadOnly = true;"), "{mount}");
    // A service that talks to the bus loads its seed as a systemd credential and is told where;
    // one that does not gets none.
    assert!(
        host.contains(r#"LoadCredential = [ "nats-seed:/run/secrets/cim/nats/ingest.nk" ];"#),
        "{host}"
    );
    assert!(
        host.contains(r#"NATS_NKEY_SEED_FILE = "/run/credentials/ingest.service/nats-seed";"#),
        "{host}"
    );
    assert!(!host.contains("/run/secrets/cim/nats/quiet.nk"), "{host}");
    for identity in ["alice", "bob", "ingest"] {
        let seed = std::fs::read_to_string(seed_file(&dir.path().join("keys"), identity))?;
        for text in spec.files().values() {
            assert!(!text.contains(seed.trim()));
        }
    }
    Ok(())
}

#[test]
fn keys_missing_for_some_identities_are_named() -> TestResult {
    let alice = nkeys::KeyPair::new_user().public_key();
    let keys = PublicKeys::new(BTreeMap::from([("alice".to_owned(), alice)]))?;
    match load(GRAPH, NatsKeys::Keys(keys)) {
        Err(FleetError::MissingNatsKeys { missing }) => {
            assert_eq!(missing, ["bob", "ingest"]);
            let message = FleetError::MissingNatsKeys { missing }.to_string();
            assert!(message.contains("`bob`, `ingest`"), "{message}");
            assert!(message.contains("cim-leaf keys generate"), "{message}");
        }
        Err(other) => return Err(other.into()),
        Ok(_) => return Err("a fleet without all its keys loaded".into()),
    }
    // Without keys the buses stay open: an explicit choice (NatsKeys::Open, the default).
    let open = load(GRAPH, NatsKeys::Open)?;
    assert!(open.nats_users().is_empty());
    let settings = open.nats_settings("bus")?.unwrap_or_default();
    assert!(settings.get("authorization").is_none());
    Ok(())
}

#[test]
fn tls_and_leaf_credentials_are_paths_in_the_settings() -> TestResult {
    let graph = r#"
hosts:
  - { name: hub-host, addresses: [10.0.0.1] }
  - { name: edge-host, addresses: [10.0.0.2] }
nodes:
  - name: hub
    type: message_bus
    host: hub-host
    tls: { cert_file: /run/secrets/nats/hub.crt, key_file: /run/secrets/nats/hub.key, ca_file: /run/secrets/nats/ca.crt, verify_clients: true }
  - name: edge
    type: message_bus
    host: edge-host
    leaf_credentials: /run/secrets/cim/nats/edge.creds
    tls: { cert_file: /run/secrets/nats/edge.crt, key_file: /run/secrets/nats/edge.key, ca_file: /run/secrets/nats/ca.crt }
edges:
  - { from: edge, to: hub, type: connects_to }
"#;
    let document = GraphDocument::from_yaml_str(graph)?;
    let fleet = Fleet::from_definition_texts(&document, &BTreeMap::new(), FleetOptions::default())?;
    let hub = fleet.nats_settings("hub")?.ok_or("no hub settings")?;
    assert_eq!(hub["tls"]["cert_file"], "/run/secrets/nats/hub.crt");
    assert_eq!(hub["tls"]["verify"], true);
    assert_eq!(
        hub["leafnodes"]["tls"]["ca_file"],
        "/run/secrets/nats/ca.crt"
    );
    assert_eq!(hub["leafnodes"]["port"], 7422);
    let edge = fleet.nats_settings("edge")?.ok_or("no edge settings")?;
    let remote = &edge["leafnodes"]["remotes"][0];
    assert_eq!(remote["url"], "nats-leaf://10.0.0.1:7422");
    assert_eq!(remote["credentials"], "/run/secrets/cim/nats/edge.creds");
    assert_eq!(remote["tls"]["key_file"], "/run/secrets/nats/edge.key");

    // A key in the Nix store (readable by every user) is refused when the fleet is loaded.
    let in_store = graph.replace("/run/secrets/nats/hub.key", "/nix/store/abc-hub.key");
    let document = GraphDocument::from_yaml_str(&in_store)?;
    match Fleet::from_definition_texts(&document, &BTreeMap::new(), FleetOptions::default()) {
        Err(FleetError::Invalid(errors)) => {
            let text = errors.to_string();
            assert!(
                text.contains("tls.key_file") && text.contains("Nix store"),
                "{text}"
            );
        }
        Err(other) => return Err(other.into()),
        Ok(_) => return Err("a key in the Nix store was accepted".into()),
    }
    Ok(())
}

/// A graph of `agents` agents and `services` services (each publishing, subscribing or both)
/// over `buses` message buses in a cluster (one per host, as NixOS runs one), on `hosts` hosts.
fn random_graph(agents: usize, services: &[u8], buses: usize, hosts: usize) -> String {
    let mut text = String::from("flake:\n  cim_leaf: github:example/cim-leaf/v1\nhosts:\n");
    for h in 0..hosts {
        text.push_str(&format!(
            "  - {{ name: h{h}, addresses: [10.0.0.{}] }}\n",
            h + 1
        ));
    }
    text.push_str("nodes:\n");
    for b in 0..buses {
        text.push_str(&format!(
            "  - {{ name: bus{b}, type: message_bus, host: h{b} }}\n"
        ));
    }
    for a in 0..agents {
        text.push_str(&format!(
            "  - {{ name: agent{a}, type: agent, host: h{}, definition: agents/agent{a}.md }}\n",
            a % hosts
        ));
    }
    for s in 0..services.len() {
        text.push_str(&format!(
            "  - {{ name: svc{s}, type: service, host: h{}, package: hello }}\n",
            s % hosts
        ));
    }
    text.push_str("edges:\n");
    for b in 1..buses {
        text.push_str(&format!(
            "  - {{ from: bus0, to: bus{b}, type: replicates }}\n"
        ));
    }
    for a in 0..agents {
        text.push_str(&format!(
            "  - {{ from: agent{a}, to: bus{}, type: connects_to }}\n",
            a % buses
        ));
    }
    for (s, kind) in services.iter().enumerate() {
        let edge = ["publishes_to", "subscribes_to", "connects_to"][usize::from(*kind) % 3];
        text.push_str(&format!(
            "  - {{ from: svc{s}, to: bus{}, type: {edge} }}\n",
            s % buses
        ));
    }
    text
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(24))]

    #[test]
    fn no_generated_file_ever_contains_a_seed(
        agents in 0usize..4,
        services in proptest::collection::vec(0u8..3, 0..4),
        buses in 1usize..3,
        extra_hosts in 0usize..2,
    ) {
        let hosts = buses + extra_hosts;
        let graph = random_graph(agents, &services, buses, hosts);
        let document = GraphDocument::from_yaml_str(&graph).map_err(|e| TestCaseError::fail(e.to_string()))?;
        let names: Vec<String> = (0..agents).map(|a| format!("agent{a}")).collect();
        let texts: BTreeMap<String, String> = names.iter().map(|n| (n.clone(), agent(n))).collect();
        let identities: Vec<String> = names.iter().cloned()
            .chain((0..services.len()).map(|s| format!("svc{s}")))
            .collect();
        let mut seeds = Vec::new();
        let mut keys = BTreeMap::new();
        for identity in &identities {
            let pair = nkeys::KeyPair::new_user();
            seeds.push(pair.seed().map_err(|e| TestCaseError::fail(e.to_string()))?);
            keys.insert(identity.clone(), pair.public_key());
        }
        let keys = PublicKeys::new(keys).map_err(|e| TestCaseError::fail(e.to_string()))?;
        let options = FleetOptions { nats_keys: NatsKeys::Keys(keys.clone()), ..FleetOptions::default() };
        let fleet = Fleet::from_definition_texts(&document, &texts, options)
            .map_err(|e| TestCaseError::fail(e.to_string()))?;
        prop_assert_eq!(fleet.nats_users().len(), identities.len());
        let spec = fleet.translate().map_err(|e| TestCaseError::fail(e.to_string()))?;
        let seed_like = |text: &str| text.match_indices("SU").any(|(at, _)| {
            text[at..].chars().take(58).filter(|c| c.is_ascii_uppercase() || ('2'..='7').contains(c)).count() == 58
        });
        for (path, text) in spec.files() {
            for seed in &seeds {
                prop_assert!(!text.contains(seed.as_str()), "{} holds a seed", path.display());
            }
            prop_assert!(!seed_like(text), "{} holds something shaped like a seed", path.display());
        }
        // And every public key is there, in each bus's users.
        for b in 0..buses {
            let settings = fleet.nats_settings(&format!("bus{b}")).map_err(|e| TestCaseError::fail(e.to_string()))?;
            let users = settings.as_ref().and_then(|s| s["authorization"]["users"].as_array().cloned()).unwrap_or_default();
            prop_assert_eq!(users.len(), identities.len());
        }
    }
}

#[test]
fn a_mac_agent_is_given_its_seed_file_too() -> TestResult {
    let graph = r#"
flake:
  cim_leaf: github:example/cim-leaf/v1
hosts:
  - { name: h1, addresses: [10.0.0.1] }
  - { name: studio, system: aarch64-darwin, addresses: [10.0.0.2] }
nodes:
  - { name: bus, type: message_bus, host: h1 }
  - { name: alice, type: agent, host: studio, definition: agents/alice.md }
  - { name: bob, type: agent, host: h1, definition: agents/bob.md }
edges:
  - { from: alice, to: bus, type: connects_to }
"#;
    let keys: BTreeMap<String, String> = ["alice", "bob"]
        .iter()
        .map(|n| ((*n).to_owned(), nkeys::KeyPair::new_user().public_key()))
        .collect();
    let fleet = load(graph, NatsKeys::Keys(PublicKeys::new(keys)?))?;
    let spec = fleet.translate()?;
    let mac = spec
        .files()
        .iter()
        .find(|(path, _)| path.to_string_lossy().contains("studio"))
        .map(|(_, text)| text)
        .ok_or("no module for the Mac")?;
    assert!(
        mac.contains(r#"natsNkeySeedFile = "/run/secrets/cim/nats/alice.nk";"#),
        "{mac}"
    );
    Ok(())
}

#[test]
fn translate_takes_the_public_keys_file_and_warns_without_it() -> TestResult {
    let dir = tempfile::tempdir()?;
    assert!(generate(dir.path())?.status.success());
    std::fs::create_dir(dir.path().join("agents"))?;
    for name in ["alice", "bob"] {
        std::fs::write(dir.path().join(format!("agents/{name}.md")), agent(name))?;
    }
    let translate = |extra: &[&str]| {
        std::process::Command::new(env!("CARGO_BIN_EXE_cim-leaf"))
            .arg("translate")
            .arg(dir.path().join("graph.yaml"))
            .arg("--out")
            .arg(dir.path().join("out"))
            .args(extra)
            .output()
    };
    let keys = dir.path().join("keys").join(PUBLIC_KEYS_FILE);
    let keys_arg = keys.to_string_lossy().into_owned();
    let out = translate(&["--nats-keys", &keys_arg])?;
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(!String::from_utf8(out.stderr)?.contains("warning"));
    let host = std::fs::read_to_string(dir.path().join("out/hosts/h1.nix"))?;
    let public = PublicKeys::read(&keys)?;
    for (_, key) in public.iter() {
        assert!(host.contains(key));
    }

    let open = translate(&[])?;
    assert!(open.status.success());
    let stderr = String::from_utf8(open.stderr)?;
    assert!(stderr.contains("no --nats-keys"), "{stderr}");
    let host = std::fs::read_to_string(dir.path().join("out/hosts/h1.nix"))?;
    assert!(!host.contains("authorization"));
    Ok(())
}
