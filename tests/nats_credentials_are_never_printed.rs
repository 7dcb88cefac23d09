//! Credentials in a NATS URL are never printed (issue 12, item 8): a failed connection names
//! the server without the password, and `agents k8s` refuses a URL with credentials instead of
//! writing it into a Deployment's arguments.

use std::path::PathBuf;
use std::process::Command;

type TestResult = Result<(), Box<dyn std::error::Error>>;

const URL: &str = "nats://alice:s3cret@127.0.0.1:1";

#[test]
fn a_failed_connection_shows_the_url_without_the_password() -> TestResult {
    for args in [&["agents", "ls"][..], &["tasks", "ls"][..]] {
        let out = Command::new(env!("CARGO_BIN_EXE_cim-leaf"))
            .args(args)
            .args(["--nats-url", URL])
            .env_remove("NATS_URL")
            .output()?;
        assert!(!out.status.success(), "{args:?}");
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(
            stderr.contains("nats://***@127.0.0.1:1"),
            "{args:?}: {stderr}"
        );
        assert!(!stderr.contains("s3cret"), "{args:?}: {stderr}");
    }
    Ok(())
}

#[test]
fn agents_k8s_refuses_a_nats_url_with_credentials() -> TestResult {
    let agents = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("cim-domain-agent/tests/golden");
    let out = Command::new(env!("CARGO_BIN_EXE_cim-leaf"))
        .current_dir(agents)
        .args(["agents", "k8s", "agents/sage.md", "--tier", "gpu"])
        .args(["--nats-url", "nats://alice:s3cret@nats.cim:4222"])
        .output()?;
    assert_eq!(out.status.code(), Some(1));
    assert!(out.stdout.is_empty(), "no manifests are printed");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!stderr.contains("s3cret"), "{stderr}");
    assert!(stderr.contains("Secret"), "{stderr}");
    Ok(())
}
