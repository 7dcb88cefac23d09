//! `Fleet::load` on real files: every problem of the graph, its agent definitions and the
//! translators' checks comes back at once; each agent's GPUs are the devices the allocator
//! granted it; definitions are read when loading, never while translating; and every systemd
//! service the fleet generates is hardened.

use std::path::{Path, PathBuf};

use cim_domain_graph::translate::{
    HostModules, NodeTranslator, NodeTranslatorRegistry, TranslationContext, TranslationError,
};
use cim_domain_graph::{DeploymentNode, DeploymentNodeType, ValidationError};
use cim_leaf::{Fleet, FleetError, FleetOptions};

type TestResult = Result<(), Box<dyn std::error::Error>>;

/// A graph file and agent definitions in a fresh directory.
struct Files {
    dir: tempfile::TempDir,
}

impl Files {
    fn new(graph: &str, agents: &[(&str, &str)]) -> Result<Self, std::io::Error> {
        let dir = tempfile::tempdir()?;
        std::fs::write(dir.path().join("graph.yaml"), graph)?;
        std::fs::create_dir(dir.path().join("agents"))?;
        for (name, text) in agents {
            std::fs::write(dir.path().join("agents").join(name), text)?;
        }
        Ok(Self { dir })
    }

    fn graph(&self) -> PathBuf {
        self.dir.path().join("graph.yaml")
    }

    fn agents_dir(&self) -> PathBuf {
        self.dir.path().join("agents")
    }
}

/// A valid definition of agent `name`, asking for `gpus` GPUs itself.
fn agent(name: &str, gpus: u32) -> String {
    format!(
        "---\nagent:\n  name: {name}\n  version: 1.0.0\ndeployment:\n  resources:\n    gpus: {gpus}\n---\n# Role\nHelp.\n"
    )
}

fn invalid(result: Result<Fleet, FleetError>) -> Result<Vec<ValidationError>, String> {
    match result {
        Err(FleetError::Invalid(errors)) => Ok(errors.0),
        Err(other) => Err(format!("expected problems, got {other}")),
        Ok(_) => Err("expected problems, the fleet loaded".to_owned()),
    }
}

/// The GPU device nodes the container `cim-agent-<agent>` binds, in a host file.
fn devices_of(host_file: &str, agent: &str) -> Vec<String> {
    let start = format!("cim-agent-{agent} = {{");
    let Some(at) = host_file.find(&start) else {
        return Vec::new();
    };
    // The container's set ends at the closing brace indented like its opening line.
    let line_start = host_file[..at].rfind('\n').map_or(0, |i| i + 1);
    let indent = &host_file[line_start..at];
    let block = &host_file[at..];
    let end = block.find(&format!("\n{indent}}};")).unwrap_or(block.len());
    let mut devices: Vec<String> = block[..end]
        .lines()
        .filter_map(|line| {
            let number = line
                .trim()
                .strip_prefix("node = \"/dev/nvidia")?
                .strip_suffix("\";")?;
            number
                .chars()
                .all(|c| c.is_ascii_digit())
                .then(|| format!("/dev/nvidia{number}"))
        })
        .collect();
    devices.dedup();
    devices
}

const TWO_GPUS: &str = r#"
hosts:
  - { name: gpu-1, gpus: [{ model: NVIDIA L4, compute_capability: '8.9', count: 2 }] }
nodes:
  - { name: alpha, type: agent, host: gpu-1, definition: agents/alpha.md, gpus: 1 }
  - { name: beta, type: agent, host: gpu-1, definition: agents/beta.md, gpus: 1 }
"#;

#[test]
fn two_gpu_agents_on_a_two_gpu_host_get_different_devices() -> TestResult {
    let files = Files::new(
        TWO_GPUS,
        &[
            ("alpha.md", &agent("alpha", 0)),
            ("beta.md", &agent("beta", 0)),
        ],
    )?;
    let fleet = Fleet::load(
        files.graph(),
        FleetOptions::default().with_agent_flake("github:example/cim-leaf"),
    )?;
    let grants = fleet.gpu_grants();
    let device = |agent: &str| {
        grants
            .get(agent)
            .map(|g| g.iter().map(|g| g.device).collect::<Vec<_>>())
    };
    assert_eq!(device("alpha"), Some(vec![Some(0)]));
    assert_eq!(device("beta"), Some(vec![Some(1)]));
    assert_ne!(grants["alpha"][0].uuid, grants["beta"][0].uuid);

    let spec = fleet.translate()?;
    let host = spec.file("hosts/gpu-1.nix").ok_or("no hosts/gpu-1.nix")?;
    assert_eq!(devices_of(host, "alpha"), ["/dev/nvidia0"], "{host}");
    assert_eq!(devices_of(host, "beta"), ["/dev/nvidia1"], "{host}");
    assert!(host.contains("\"/dev/nvidia1 rw\""), "{host}");
    Ok(())
}

#[test]
fn three_gpu_agents_on_two_gpus_is_a_problem_naming_the_host() -> TestResult {
    let graph = format!(
        "{TWO_GPUS}  - {{ name: gamma, type: agent, host: gpu-1, definition: agents/gamma.md, gpus: 1 }}\n"
    );
    let agents = [
        ("alpha.md", agent("alpha", 0)),
        ("beta.md", agent("beta", 0)),
        ("gamma.md", agent("gamma", 0)),
    ];
    let refs: Vec<(&str, &str)> = agents.iter().map(|(f, t)| (*f, t.as_str())).collect();
    let files = Files::new(&graph, &refs)?;
    let problems = invalid(Fleet::load(
        files.graph(),
        FleetOptions::default().with_agent_flake("github:example/cim-leaf"),
    ))?;
    assert_eq!(
        problems,
        [ValidationError::Overcommit {
            host: "gpu-1".into(),
            resource: "gpus".into(),
            capacity: 2,
            requested: 3,
            nodes: vec!["alpha".into(), "beta".into(), "gamma".into()],
        }]
    );
    assert!(
        problems[0]
            .to_string()
            .starts_with("host `gpu-1` has 2 gpus")
    );
    Ok(())
}

#[test]
fn gpus_asked_for_by_definitions_count_too() -> TestResult {
    // The nodes ask for one GPU each, but alpha's definition asks for two: three in all.
    let files = Files::new(
        TWO_GPUS,
        &[
            ("alpha.md", &agent("alpha", 2)),
            ("beta.md", &agent("beta", 0)),
        ],
    )?;
    let problems = invalid(Fleet::load(
        files.graph(),
        FleetOptions::default().with_agent_flake("github:example/cim-leaf"),
    ))?;
    assert_eq!(
        problems,
        [ValidationError::Overcommit {
            host: "gpu-1".into(),
            resource: "gpus".into(),
            capacity: 2,
            requested: 3,
            nodes: vec!["alpha".into(), "beta".into()],
        }]
    );
    Ok(())
}

#[test]
fn host_gpus_without_memory_are_granted() -> TestResult {
    let graph = r#"
hosts:
  - { name: gpu-1, gpus: [{ model: NVIDIA L4, compute_capability: '8.9' }, { model: NVIDIA T4, compute_capability: '7.5' }] }
nodes:
  - { name: alpha, type: agent, host: gpu-1, definition: agents/alpha.md, gpus: 2 }
"#;
    let files = Files::new(graph, &[("alpha.md", &agent("alpha", 0))])?;
    let fleet = Fleet::load(
        files.graph(),
        FleetOptions::default().with_agent_flake("github:example/cim-leaf"),
    )?;
    let models: Vec<&str> = fleet.gpu_grants()["alpha"]
        .iter()
        .map(|grant| grant.model.as_str())
        .collect();
    assert_eq!(models, ["NVIDIA L4", "NVIDIA T4"]);
    let spec = fleet.translate()?;
    let host = spec.file("hosts/gpu-1.nix").ok_or("no host file")?;
    assert_eq!(devices_of(host, "alpha"), ["/dev/nvidia0", "/dev/nvidia1"]);
    Ok(())
}

#[test]
fn definitions_are_read_when_loading_and_never_while_translating() -> TestResult {
    let files = Files::new(
        TWO_GPUS,
        &[
            ("alpha.md", &agent("alpha", 0)),
            ("beta.md", &agent("beta", 0)),
        ],
    )?;
    let fleet = Fleet::load(
        files.graph(),
        FleetOptions::default().with_agent_flake("github:example/cim-leaf"),
    )?;
    let before = fleet.translate()?;
    // With the files gone, translating still works and gives the same output: everything it
    // needs was read, once, by `load`.
    std::fs::remove_dir_all(files.agents_dir())?;
    let after = fleet.translate()?;
    assert_eq!(before, after);
    let names: Vec<&str> = fleet.agents().iter().map(|a| a.source.name()).collect();
    assert_eq!(names, ["alpha", "beta"]);
    assert!(
        before
            .file("hosts/gpu-1.nix")
            .is_some_and(|f| f.contains("cim-agent-beta"))
    );
    Ok(())
}

/// `custom` nodes of kind `backup` need `config.paths`.
struct Backup;

impl NodeTranslator for Backup {
    fn check(
        &self,
        node: &DeploymentNode,
        _context: &TranslationContext<'_>,
    ) -> Vec<ValidationError> {
        let has_paths = matches!(&node.node_type, DeploymentNodeType::Custom { config, .. }
            if config.get("paths").is_some_and(serde_json::Value::is_array));
        if has_paths {
            Vec::new()
        } else {
            vec![ValidationError::InvalidField {
                node: node.name.clone(),
                field: "config.paths".into(),
                reason: "a list of paths is required".into(),
            }]
        }
    }

    fn translate(
        &self,
        _node: &DeploymentNode,
        _context: &TranslationContext<'_>,
        _modules: &mut HostModules,
    ) -> Result<(), TranslationError> {
        Ok(())
    }
}

#[test]
fn graph_definition_and_translator_problems_come_back_together() -> TestResult {
    let graph = r#"
hosts:
  - { name: gpu-1, gpus: [{ model: NVIDIA L4 }] }
nodes:
  - { name: alpha, type: agent, host: gpu-1, definition: agents/alpha.md }
  - { name: helper, type: agent, host: gpu-1, definition: agents/beta.md }
  - { name: ghost, type: agent, host: gpu-1, definition: agents/ghost.md }
  - { name: broken, type: agent, host: gpu-1, definition: agents/broken.md }
  - { name: nightly, type: custom, kind: backup, host: gpu-1, config: {} }
  - { name: web, type: service, package: hello }
"#;
    let files = Files::new(
        graph,
        &[
            ("alpha.md", &agent("alpha", 0)),
            ("beta.md", &agent("beta", 0)),
            (
                "broken.md",
                "---\nagent:\n  name: broken\n  version: one\n---\n",
            ),
        ],
    )?;
    let mut translators = NodeTranslatorRegistry::new();
    translators.register("backup", Backup);
    let options = FleetOptions {
        translators,
        ..FleetOptions::default()
    }
    .with_agent_flake("github:example/cim-leaf");
    let problems = invalid(Fleet::load(files.graph(), options))?;
    let text: Vec<String> = problems.iter().map(ToString::to_string).collect();
    let has = |needle: &str| text.iter().any(|t| t.contains(needle));
    // The graph's own: a GPU declared without its compute capability, an unplaced service.
    assert!(
        has("node `gpu-1`, field `gpus`: host `gpu-1`: gpus[0].compute_capability"),
        "{text:#?}"
    );
    assert!(has("node `web` is not placed on a host"), "{text:#?}");
    // The definitions': one missing, one invalid (file, line and field named).
    assert!(
        has("node `ghost`, field `definition`:") && has("ghost.md"),
        "{text:#?}"
    );
    assert!(
        has("node `broken`, field `definition`:") && has("broken.md:4:3: agent.version"),
        "{text:#?}"
    );
    // The translators' checks: a node named unlike its agent, a custom kind's config.
    assert!(
        has("node `helper`, field `name`: the node is named `helper`"),
        "{text:#?}"
    );
    assert!(
        has("node `nightly`, field `config.paths`: a list of paths is required"),
        "{text:#?}"
    );
    assert_eq!(problems.len(), 6, "{text:#?}");
    // The graph's own problems come first.
    assert!(
        text[0].starts_with("node `gpu-1`, field `gpus`"),
        "{text:#?}"
    );
    Ok(())
}

#[test]
fn every_generated_systemd_service_is_hardened() -> TestResult {
    let graph = Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/graphs/fleet.yaml");
    let spec = Fleet::load(
        graph,
        FleetOptions::default().with_agent_flake("github:example/cim-leaf"),
    )?
    .translate()?;
    let mut services = 0;
    for (path, text) in spec.files() {
        for (at, _) in text.match_indices("ExecStart = ") {
            // A service's `serviceConfig` set runs from `ExecStart` to its closing brace.
            let rest = &text[at..];
            let config = &rest[..rest.find("};").unwrap_or(rest.len())];
            for setting in [
                "NoNewPrivileges = true;",
                "ProtectSystem = \"strict\";",
                "ProtectHome = true;",
                "PrivateTmp = true;",
            ] {
                assert!(
                    config.contains(setting),
                    "{}: {setting} missing in\n{config}",
                    path.display()
                );
            }
            services += 1;
        }
    }
    assert_eq!(services, 2, "fleet.yaml has two service nodes");
    // Agents run in containers under the `services.cim-agent` module, which hardens its unit.
    let module = std::fs::read_to_string(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("nix/modules/agent.nix"),
    )?;
    assert!(
        module.contains("NoNewPrivileges = true;")
            && module.contains("ProtectSystem = \"strict\";")
    );
    Ok(())
}
