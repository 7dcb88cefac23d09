//! A GPU agent on a Mac is granted the Mac's Apple GPU by the allocator (Metal, unified
//! memory): the grant has no device node, and the agent runs as a launchd daemon of the
//! nix-darwin module, binding no `/dev/nvidia*`. A second GPU agent on a one-GPU Mac is a
//! problem naming the host, as on any host.

use cim_leaf::{Fleet, FleetError, FleetOptions};

type TestResult = Result<(), Box<dyn std::error::Error>>;

fn agent(name: &str) -> String {
    format!("---\nagent:\n  name: {name}\n  version: 1.0.0\n---\n# Role\nHelp.\n")
}

fn load(graph: &str) -> Result<(tempfile::TempDir, Result<Fleet, FleetError>), std::io::Error> {
    let dir = tempfile::tempdir()?;
    std::fs::write(dir.path().join("graph.yaml"), graph)?;
    for name in ["sage", "coder"] {
        std::fs::write(dir.path().join(format!("{name}.md")), agent(name))?;
    }
    let fleet = Fleet::load(
        dir.path().join("graph.yaml"),
        FleetOptions::default().with_agent_flake("github:example/cim-leaf"),
    );
    Ok((dir, fleet))
}

const MAC: &str = r#"
hosts:
  - name: studio-1
    system: aarch64-darwin
    gpus: [{ vendor: apple, model: Apple M2 Ultra, gpu_family: apple8, memory_mb: 147456 }]
nodes:
  - { name: sage, type: agent, host: studio-1, definition: sage.md, gpus: 1 }
  - { name: coder, type: agent, host: studio-1, definition: coder.md }
"#;

#[test]
fn a_gpu_agent_on_a_mac_gets_the_metal_gpu_and_no_device_node() -> TestResult {
    let (_dir, fleet) = load(MAC)?;
    let fleet = fleet?;
    let grants = fleet.gpu_grants();
    let sage = grants.get("sage").ok_or("sage got no GPU")?;
    assert_eq!(sage.len(), 1);
    assert_eq!(sage[0].host, "studio-1");
    assert_eq!(sage[0].model, "Apple M2 Ultra");
    assert_eq!(sage[0].device, None);
    assert!(!grants.contains_key("coder"));
    let spec = fleet.translate()?;
    let mac = spec
        .file("hosts/studio-1.nix")
        .ok_or("no hosts/studio-1.nix")?;
    assert!(!mac.contains("/dev/nvidia"), "{mac}");
    assert!(!mac.contains("containers"), "{mac}");
    assert!(mac.contains("services.cim-agent.agents"), "{mac}");
    Ok(())
}

#[test]
fn two_gpu_agents_on_a_one_gpu_mac_is_a_problem_naming_the_host() -> TestResult {
    let (_dir, fleet) =
        load(&MAC.replace("definition: coder.md }", "definition: coder.md, gpus: 1 }"))?;
    let Err(FleetError::Invalid(problems)) = fleet else {
        return Err("two GPU agents on one Apple GPU were accepted".into());
    };
    let text = problems.to_string();
    assert!(text.contains("studio-1") && text.contains("gpus"), "{text}");
    Ok(())
}
