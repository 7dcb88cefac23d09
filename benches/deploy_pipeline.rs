//! Criterion bench: the whole deployment pipeline on the example fleet (five agents review,
//! vote, the graph is approved, GPUs recorded, files checked with rnix and written, the
//! deployment recorded and awaited in every agent's knowledge replica), in process and over a
//! real nats-server, beside the baseline of the same run: loading, translating and writing the
//! fleet without any agent (what the pipeline adds is the coordination).
//!
//! Over NATS every iteration deploys a new version of the fleet (the load balancer's server
//! name changes), since a version already decided is not voted on again.

use std::hint::black_box;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

use cim_jetstream::testing::NatsServer;
use cim_leaf::Fleet;
use cim_leaf::pipeline::{EmbeddedBackend, NatsBackend, NixCheck, Pipeline, PipelineOptions};
use criterion::{Criterion, criterion_group, criterion_main};

fn root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

/// The cim-leaf flake the generated hosts import the agent modules from.
const AGENT_FLAKE: &str = "github:example/cim-leaf";

fn options() -> PipelineOptions {
    let mut options = PipelineOptions {
        nix: NixCheck::RnixOnly,
        ..PipelineOptions::default()
    };
    options.fleet.flake.cim_leaf = Some(AGENT_FLAKE.to_owned());
    options
}

/// The example fleet with the agents' definitions by absolute path and the load balancer's
/// server name numbered `n`, written into `dir`.
fn numbered_fleet(dir: &Path, n: u64) -> Result<PathBuf, std::io::Error> {
    let agents = root().join("examples/agents");
    let text = std::fs::read_to_string(root().join("examples/graphs/fleet.yaml"))?
        .replace(
            "definition: ../agents/",
            &format!("definition: {}/", agents.display()),
        )
        .replace("fleet.example.org", &format!("fleet-{n}.example.org"));
    let path = dir.join(format!("fleet-{n}.yaml"));
    std::fs::write(&path, text)?;
    Ok(path)
}

fn bench(c: &mut Criterion) {
    let Ok(runtime) = tokio::runtime::Runtime::new() else {
        eprintln!("no tokio runtime; skipping");
        return;
    };
    let Ok(dir) = tempfile::tempdir() else {
        eprintln!("no temporary directory; skipping");
        return;
    };
    let graph = root().join("examples/graphs/fleet.yaml");
    let out = dir.path().join("out");
    let mut group = c.benchmark_group("deploy_pipeline");
    group.sample_size(10);

    // A bench of a failing run would time the error path: the baseline must work.
    if let Err(error) = Fleet::load(&graph, options().fleet)
        .map_err(|e| e.to_string())
        .and_then(|fleet| fleet.translate().map_err(|e| e.to_string()))
    {
        panic!("the example fleet does not translate: {error}");
    }
    group.bench_function("baseline_load_translate_write", |b| {
        b.iter(|| {
            let fleet = Fleet::load(&graph, options().fleet);
            let written = fleet
                .ok()
                .and_then(|fleet| fleet.translate().ok())
                .and_then(|spec| spec.check_syntax().and_then(|()| spec.write_to(&out)).ok());
            black_box(written)
        });
    });

    // Likewise one embedded run must approve before it is timed.
    let first = EmbeddedBackend::embedded()
        .map_err(|e| e.to_string())
        .map(|backend| Pipeline::new(backend, options()))
        .and_then(|pipeline| {
            runtime
                .block_on(pipeline.deploy(&graph, &out, &()))
                .map_err(|e| e.to_string())
        });
    match first {
        Ok(report) if report.approved() => {}
        Ok(report) => panic!("the example fleet was not approved: {report}"),
        Err(error) => panic!("the pipeline failed: {error}"),
    }
    group.bench_function("embedded", |b| {
        b.to_async(&runtime).iter(|| async {
            let Ok(backend) = EmbeddedBackend::embedded() else {
                return None;
            };
            let pipeline = Pipeline::new(backend, options());
            black_box(pipeline.deploy(&graph, &out, &()).await.ok())
        });
    });

    let server = runtime.block_on(NatsServer::start());
    let backend = match &server {
        Ok(server) => runtime.block_on(NatsBackend::connect(&server.url())).ok(),
        Err(error) => {
            eprintln!("no nats-server ({error}); skipping the NATS bench");
            None
        }
    };
    if let Some(backend) = backend {
        let pipeline = Pipeline::new(backend, options());
        let n = AtomicU64::new(0);
        group.bench_function("over_nats", |b| {
            b.to_async(&runtime).iter(|| async {
                let graph = numbered_fleet(dir.path(), n.fetch_add(1, Ordering::Relaxed)).ok()?;
                black_box(pipeline.deploy(&graph, &out, &()).await.ok())
            });
        });
    }
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
