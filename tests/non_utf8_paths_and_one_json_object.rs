//! A path that is not UTF-8 never panics the CLI, and `--json` prints exactly one JSON object
//! whatever happens (usage errors and a failing `gpu inventory` included).

use std::process::{Command, Output};

fn cim_leaf(args: &[&std::ffi::OsStr]) -> std::io::Result<Output> {
    Command::new(env!("CARGO_BIN_EXE_cim-leaf"))
        .env("CIM_LEAF_AGENT_FLAKE", "github:example/cim-leaf")
        .args(args)
        .output()
}

fn one_json_object(output: &Output) -> Result<serde_json::Value, Box<dyn std::error::Error>> {
    let stdout = String::from_utf8(output.stdout.clone())?;
    let value: serde_json::Value = serde_json::from_str(&stdout)?;
    assert!(value.is_object(), "{stdout}");
    Ok(value)
}

#[cfg(unix)]
#[test]
fn a_graph_path_that_is_not_utf8_fails_cleanly() -> Result<(), Box<dyn std::error::Error>> {
    use std::os::unix::ffi::OsStrExt as _;
    let dir = tempfile::tempdir()?;
    let weird = dir
        .path()
        .join(std::ffi::OsStr::from_bytes(b"weird\xffname.yaml"));
    std::fs::write(&weird, "nodes: []\n")?;
    for json in [false, true] {
        let mut args = vec![
            std::ffi::OsStr::new("translate"),
            weird.as_os_str(),
            "--check".as_ref(),
        ];
        if json {
            args.push("--json".as_ref());
        }
        let output = cim_leaf(&args)?;
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(!stderr.contains("panicked"), "{stderr}");
        assert!(output.status.code().is_some_and(|c| c <= 2), "{output:?}");
        if json {
            let value = one_json_object(&output)?;
            assert!(
                value["graph"].as_str().is_some_and(|g| g.contains("weird")),
                "{value}"
            );
        }
    }
    Ok(())
}

#[test]
fn a_usage_error_with_json_is_one_object() -> Result<(), Box<dyn std::error::Error>> {
    let output = cim_leaf(&["translate".as_ref(), "--json".as_ref(), "--bogus".as_ref()])?;
    assert_eq!(output.status.code(), Some(2));
    assert_eq!(one_json_object(&output)?["status"], "usage");
    Ok(())
}

#[test]
fn a_failing_gpu_inventory_with_json_is_one_object() -> Result<(), Box<dyn std::error::Error>> {
    let output = cim_leaf(&[
        "gpu".as_ref(),
        "inventory".as_ref(),
        "--json".as_ref(),
        "--declared".as_ref(),
        "/nonexistent/gpus.yaml".as_ref(),
    ])?;
    assert_eq!(output.status.code(), Some(1));
    assert_eq!(one_json_object(&output)?["status"], "failed");
    Ok(())
}
