//! A fleet's GPU grants recorded in a persistent pool follow the graph: when the graph changes,
//! grants it no longer makes are released and new ones made, so rerunning a changed graph
//! against the same store never trips over stale grants, and rerunning the same graph records
//! nothing.

use std::collections::BTreeSet;

use cim_gpu::{GpuAllocator, GpuPool};
use cim_jetstream::{InMemoryEventRepository, InMemoryEventStore};
use cim_leaf::fleet::pool_id;
use cim_leaf::{Fleet, FleetOptions};
use cqrs_es::EventStore;

type TestResult = Result<(), Box<dyn std::error::Error>>;

fn agent(name: &str) -> String {
    format!("---\nname: {name}\nversion: 1.0.0\n---\n# Role\nHelp.\n")
}

/// Loads a fleet of one host `gpu-1` declaring `gpus`, with one agent per `(name, request)`,
/// `request` being its node's GPU fields.
fn load_fleet(
    dir: &std::path::Path,
    gpus: &str,
    agents: &[(&str, String)],
) -> Result<Fleet, Box<dyn std::error::Error>> {
    let mut graph = format!("hosts:\n  - {{ name: gpu-1, gpus: [{gpus}] }}\nnodes:\n");
    for (name, request) in agents {
        std::fs::write(dir.join(format!("{name}.md")), agent(name))?;
        graph.push_str(&format!(
            "  - {{ name: {name}, type: agent, host: gpu-1, definition: {name}.md, {request} }}\n"
        ));
    }
    let path = dir.join("graph.yaml");
    std::fs::write(&path, graph)?;
    Ok(Fleet::load(
        &path,
        FleetOptions::default().with_agent_flake("github:example/cim-leaf"),
    )?)
}

/// Loads a fleet of agents `names`, each asking for one GPU on a two-GPU host.
fn fleet(dir: &std::path::Path, names: &[&str]) -> Result<Fleet, Box<dyn std::error::Error>> {
    let agents: Vec<(&str, String)> = names.iter().map(|n| (*n, "gpus: 1".to_owned())).collect();
    load_fleet(
        dir,
        "{ model: NVIDIA L4, compute_capability: '8.9', count: 2 }",
        &agents,
    )
}

/// What the stored pool holds: (agent, GPU) per live allocation.
async fn held<ES: EventStore<GpuPool>>(
    store: ES,
) -> Result<BTreeSet<(String, String)>, Box<dyn std::error::Error>> {
    let pool = GpuAllocator::new(store, pool_id("gpu-1")).pool().await?;
    Ok(pool
        .allocations()
        .into_iter()
        .map(|a| (a.agent.clone(), a.device.to_string()))
        .collect())
}

fn granted(fleet: &Fleet) -> BTreeSet<(String, String)> {
    fleet
        .gpu_grants()
        .iter()
        .flat_map(|(agent, grants)| grants.iter().map(|g| (agent.clone(), g.uuid.to_string())))
        .collect()
}

#[tokio::test]
async fn a_changed_graph_releases_stale_grants_and_reruns_record_nothing() -> TestResult {
    let dir = tempfile::tempdir()?;
    let repo = InMemoryEventRepository::new();
    let store = || InMemoryEventStore::<GpuPool>::new_event_store(repo.clone());

    let first = fleet(dir.path(), &["alpha", "beta"])?;
    first.record_gpu_grants(store).await?;
    assert_eq!(held(store()).await?, granted(&first));
    let events = || async {
        store()
            .load_events(&pool_id("gpu-1"))
            .await
            .map(|e| e.len())
    };
    let events_after_first = events().await?;

    // Same graph again: nothing new is recorded.
    first.record_gpu_grants(store).await?;
    assert_eq!(events().await?, events_after_first);

    // beta leaves, gamma arrives and is granted beta's GPU: beta's grant must be released first,
    // or the pinned request for that GPU would be refused.
    let second = fleet(dir.path(), &["alpha", "gamma"])?;
    assert_eq!(
        second.gpu_grants()["gamma"][0].uuid,
        first.gpu_grants()["beta"][0].uuid
    );
    second.record_gpu_grants(store).await?;
    assert_eq!(held(store()).await?, granted(&second));
    Ok(())
}

/// Loads agents sharing one 48 GiB GPU, each with its share in MiB.
fn sharing(
    dir: &std::path::Path,
    shares: &[(&str, u64)],
) -> Result<Fleet, Box<dyn std::error::Error>> {
    let agents: Vec<(&str, String)> = shares
        .iter()
        .map(|(name, mb)| (*name, format!("gpu_memory_mb: {mb}")))
        .collect();
    load_fleet(
        dir,
        "{ model: NVIDIA L40S, compute_capability: '8.9', memory_mb: 49152 }",
        &agents,
    )
}

/// What the stored pool holds: (agent, MiB) per live allocation.
async fn held_shares<ES: EventStore<GpuPool>>(
    store: ES,
) -> Result<BTreeSet<(String, u64)>, Box<dyn std::error::Error>> {
    let pool = GpuAllocator::new(store, pool_id("gpu-1")).pool().await?;
    Ok(pool
        .allocations()
        .into_iter()
        .map(|a| (a.agent.clone(), a.bytes / (1024 * 1024)))
        .collect())
}

#[tokio::test]
async fn memory_shares_are_recorded_as_shares_and_follow_a_resized_share() -> TestResult {
    let dir = tempfile::tempdir()?;
    let repo = InMemoryEventRepository::new();
    let store = || InMemoryEventStore::<GpuPool>::new_event_store(repo.clone());

    let first = sharing(dir.path(), &[("alpha", 16384), ("beta", 8192)])?;
    let grants = first.gpu_grants();
    assert_eq!(grants["alpha"][0].device, Some(0));
    assert_eq!(
        grants["beta"][0].device,
        Some(0),
        "both containers bind the one GPU"
    );
    first.record_gpu_grants(store).await?;
    let expected = BTreeSet::from([("alpha".to_owned(), 16384), ("beta".to_owned(), 8192)]);
    assert_eq!(held_shares(store()).await?, expected);
    let count = store().load_events(&pool_id("gpu-1")).await?.len();
    first.record_gpu_grants(store).await?;
    assert_eq!(store().load_events(&pool_id("gpu-1")).await?.len(), count);

    // beta's share grows: its old allocation is released and the new one recorded.
    let second = sharing(dir.path(), &[("alpha", 16384), ("beta", 20480)])?;
    second.record_gpu_grants(store).await?;
    let expected = BTreeSet::from([("alpha".to_owned(), 16384), ("beta".to_owned(), 20480)]);
    assert_eq!(held_shares(store()).await?, expected);
    Ok(())
}
