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

/// Two agents sharing the M2 Ultra's unified memory (144 GiB declared; the allocator grants up
/// to 90% of it).
const SHARED: &str = r#"
hosts:
  - name: studio-1
    system: aarch64-darwin
    gpus: [{ vendor: apple, model: Apple M2 Ultra, gpu_family: apple8, memory_mb: 147456 }]
nodes:
  - { name: sage, type: agent, host: studio-1, definition: sage.md, gpu_memory_mb: 65536 }
  - { name: coder, type: agent, host: studio-1, definition: coder.md, gpu_memory_mb: 49152 }
"#;

#[test]
fn agents_on_a_mac_share_its_unified_memory() -> TestResult {
    let (_dir, fleet) = load(SHARED)?;
    let fleet = fleet?;
    let grants = fleet.gpu_grants();
    let (sage, coder) = (
        grants.get("sage").ok_or("sage got no share")?,
        grants.get("coder").ok_or("coder got no share")?,
    );
    assert_eq!(sage.len(), 1);
    assert_eq!(coder.len(), 1);
    assert_eq!(sage[0].uuid, coder[0].uuid, "one Apple GPU, shared");
    assert_eq!(sage[0].memory_mb, Some(65536));
    assert_eq!(coder[0].memory_mb, Some(49152));
    assert_eq!(sage[0].device, None);
    Ok(())
}

#[test]
fn shares_beyond_the_unified_memory_are_a_problem_naming_the_agent() -> TestResult {
    // 64 + 80 GiB = 144 GiB: more than the 90% of 144 GiB the allocator hands out.
    let (_dir, fleet) = load(&SHARED.replace("gpu_memory_mb: 49152", "gpu_memory_mb: 81920"))?;
    let Err(FleetError::Invalid(problems)) = fleet else {
        return Err("shares larger than the unified memory were accepted".into());
    };
    let text = problems.to_string();
    assert!(
        text.contains("node `sage`, field `gpu_memory_mb`")
            || text.contains("node `coder`, field `gpu_memory_mb`"),
        "{text}"
    );
    assert!(text.contains("studio-1"), "{text}");
    Ok(())
}

#[test]
fn a_share_and_whole_gpus_together_is_a_problem() -> TestResult {
    let (_dir, fleet) =
        load(&SHARED.replace("gpu_memory_mb: 49152", "gpus: 1, gpu_memory_mb: 49152"))?;
    let Err(FleetError::Invalid(problems)) = fleet else {
        return Err("`gpus` with `gpu_memory_mb` was accepted".into());
    };
    let text = problems.to_string();
    assert!(text.contains("exclude each other"), "{text}");
    Ok(())
}
