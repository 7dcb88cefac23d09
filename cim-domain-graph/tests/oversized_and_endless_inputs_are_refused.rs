//! Inputs that would take unbounded memory or time are refused with a clear error naming the
//! file (issue 12, item 5): files over `MAX_INPUT_BYTES`, FIFOs and devices such as
//! `/dev/zero`, and GPU declarations with absurd counts.

use std::path::Path;
use std::time::{Duration, Instant};

use cim_domain_graph::{DeclaredGpu, GraphDocument, MAX_INPUT_BYTES, read_input};
use cim_gpu::{DeclaredInventory, InventoryBackend as _, InventoryError, MAX_DECLARED_GPUS};

type TestResult = Result<(), Box<dyn std::error::Error>>;

fn message_of(path: &Path) -> String {
    match GraphDocument::from_path(path) {
        Ok(_) => panic!("{} was accepted", path.display()),
        Err(error) => format!(
            "{error}: {:?}",
            std::error::Error::source(&error).map(|s| s.to_string())
        ),
    }
}

#[test]
fn a_graph_over_the_size_limit_is_refused_naming_the_file() -> TestResult {
    let dir = tempfile::tempdir()?;
    let path = dir.path().join("huge.yaml");
    // 5 MB of valid YAML comments: the limit, not the parser, refuses it.
    let line = "# padding padding padding padding padding padding padding padding\n";
    let big = line.repeat((5 * 1024 * 1024) / line.len() + 1);
    std::fs::write(&path, big)?;
    let message = message_of(&path);
    assert!(message.contains("huge.yaml"), "{message}");
    assert!(message.contains(&MAX_INPUT_BYTES.to_string()), "{message}");
    Ok(())
}

#[test]
fn a_file_at_the_limit_is_still_read() -> TestResult {
    let dir = tempfile::tempdir()?;
    let path = dir.path().join("full.yaml");
    let limit = usize::try_from(MAX_INPUT_BYTES)?;
    std::fs::write(&path, "#".repeat(limit))?;
    assert_eq!(read_input(&path)?.len(), limit);
    Ok(())
}

#[test]
fn dev_zero_is_refused_without_reading_it() {
    let started = Instant::now();
    let message = message_of(Path::new("/dev/zero"));
    assert!(message.contains("not a regular file"), "{message}");
    assert!(started.elapsed() < Duration::from_secs(5));
}

#[test]
fn a_fifo_is_refused_without_waiting_for_a_writer() -> TestResult {
    let dir = tempfile::tempdir()?;
    let path = dir.path().join("pipe.yaml");
    let status = std::process::Command::new("mkfifo").arg(&path).status()?;
    assert!(status.success());
    // Opening a FIFO for reading blocks until a writer comes; the reader must not open it.
    let (sender, receiver) = std::sync::mpsc::channel();
    let reader_path = path.clone();
    std::thread::spawn(move || {
        let _ = sender.send(read_input(&reader_path).map_err(|e| e.to_string()));
    });
    let result = receiver.recv_timeout(Duration::from_secs(5));
    if result.is_err() {
        // Unblock the stuck reader before failing.
        let _ = std::fs::OpenOptions::new().write(true).open(&path);
    }
    let message = result?.err().unwrap_or_default();
    assert!(message.contains("not a regular file"), "{message}");
    Ok(())
}

#[test]
fn a_directory_is_refused() -> TestResult {
    let dir = tempfile::tempdir()?;
    let message = message_of(dir.path());
    assert!(
        message.contains("not a regular file") || message.contains("directory"),
        "{message}"
    );
    Ok(())
}

#[test]
fn a_huge_declared_gpu_count_is_refused_at_once() -> TestResult {
    let gpus: Vec<DeclaredGpu> = serde_yaml_ng::from_str(
        "- { model: NVIDIA L4, compute_capability: '8.9', count: 4294967295 }",
    )?;
    let inventory = DeclaredInventory {
        host: "h1".into(),
        gpus,
        source_name: "gpus.yaml".into(),
    };
    let started = Instant::now();
    match inventory.devices() {
        Err(InventoryError::DeclaredTooMany { field, limit, .. }) => {
            assert_eq!(field, "gpus[0].count");
            assert_eq!(limit, MAX_DECLARED_GPUS);
        }
        other => panic!("expected DeclaredTooMany, got {other:?}"),
    }
    assert!(started.elapsed() < Duration::from_secs(1));
    Ok(())
}

#[test]
fn deeply_nested_flow_yaml_is_refused_before_parsing() {
    let started = Instant::now();
    let text = format!("hosts: {}{}", "[".repeat(100_000), "]".repeat(100_000));
    match GraphDocument::from_yaml_str(&text) {
        Err(cim_domain_graph::DocumentError::TooDeep { line, .. }) => assert_eq!(line, 1),
        other => panic!("expected TooDeep, got {other:?}"),
    }
    assert!(started.elapsed() < Duration::from_secs(2));
}

#[test]
fn deeply_nested_block_yaml_is_refused_naming_the_line() {
    let mut text = String::from("hosts:\n");
    for depth in 1..200 {
        text.push_str(&" ".repeat(depth));
        text.push_str("- a:\n");
    }
    match GraphDocument::from_yaml_str(&text) {
        Err(error @ cim_domain_graph::DocumentError::TooDeep { .. }) => {
            assert!(error.to_string().contains("nested deeper than"), "{error}");
        }
        other => panic!("expected TooDeep, got {other:?}"),
    }
}

#[test]
fn ordinary_nesting_is_accepted() -> TestResult {
    let text = "hosts:\n  - name: h1\n    gpus:\n      - { model: NVIDIA L4, compute_capability: '8.9', count: 2 }\nnodes:\n  - { name: api, type: service, host: h1, command: \"echo {a} [b]\" }\n";
    GraphDocument::from_yaml_str(text)?;
    Ok(())
}
