//! Criterion bench: validate + translate + render deployment graphs of 100, 1,000 and 10,000
//! nodes (hosts included), to show the cost grows linearly.
//!
//! The graphs are a fleet of hosts with ten services each in dependency chains, a
//! PostgreSQL per host that the services depend on, a NATS server per host clustered with its
//! neighbours, load balancers in front of services on other hosts, and cross-host connections.

use std::hint::black_box;

use cim_domain_graph::translate::{FlakeTranslator, GraphToNixTranslator};
use cim_domain_graph::{
    DatabaseSpec, DeploymentEdgeType, DeploymentGraph, DeploymentNode, DeploymentNodeType,
    GraphError, HostSpec, LoadBalancerSpec, MessageBusSpec, ServiceSpec,
};
use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};

const SERVICES_PER_HOST: usize = 10;

fn fleet(total_nodes: usize) -> Result<DeploymentGraph, GraphError> {
    let mut graph = DeploymentGraph::new();
    let mut added = 0;
    // A host with its database, bus and load balancer takes four nodes: stop when the next
    // one would not fit, so the graph has between n - 4 and n nodes.
    for h in 0usize.. {
        if added + 5 > total_nodes {
            break;
        }
        let host = format!("host-{h}");
        let spec = HostSpec {
            addresses: vec![format!("10.{}.{}.{}", h / 65536, (h / 256) % 256, h % 256)],
            ..HostSpec::default()
        };
        graph.add_node(DeploymentNode::new(&host, DeploymentNodeType::Host(spec)))?;
        added += 1;
        let place = |graph: &mut DeploymentGraph, name: &str, node: DeploymentNodeType| {
            graph.add_node(DeploymentNode::new(name, node))?;
            graph.place_on_host(name, &host)
        };
        let db = format!("db-{h}");
        place(
            &mut graph,
            &db,
            DeploymentNodeType::Database(DatabaseSpec::default()),
        )?;
        let bus = format!("bus-{h}");
        place(
            &mut graph,
            &bus,
            DeploymentNodeType::MessageBus(MessageBusSpec::default()),
        )?;
        if h > 0 && h % 3 != 0 {
            graph.connect(
                &bus,
                &format!("bus-{}", h - 1),
                DeploymentEdgeType::Replicates,
            )?;
        }
        added += 2;
        let upstream = format!("svc-{}-0", h.saturating_sub(1));
        if h > 0 && graph.contains(&upstream) {
            let lb = format!("lb-{h}");
            let spec = LoadBalancerSpec::default();
            place(&mut graph, &lb, DeploymentNodeType::LoadBalancer(spec))?;
            graph.connect(
                &lb,
                &format!("svc-{}-0", h - 1),
                DeploymentEdgeType::LoadBalances,
            )?;
            added += 1;
        }
        let mut previous: Option<String> = None;
        for s in 0..SERVICES_PER_HOST {
            if added >= total_nodes {
                break;
            }
            let name = format!("svc-{h}-{s}");
            let service = ServiceSpec {
                package: Some("hello".into()),
                port: Some(8000 + u16::try_from(s).unwrap_or(0)),
                ..ServiceSpec::default()
            };
            place(&mut graph, &name, DeploymentNodeType::Service(service))?;
            graph.connect(&name, &db, DeploymentEdgeType::DependsOn)?;
            graph.connect(&name, &bus, DeploymentEdgeType::PublishesTo)?;
            if let Some(previous) = &previous {
                graph.connect(&name, previous, DeploymentEdgeType::DependsOn)?;
            }
            if h > 0 {
                let remote = format!("svc-{}-{s}", h - 1);
                if graph.contains(&remote) {
                    graph.connect(
                        &name,
                        &remote,
                        DeploymentEdgeType::ConnectsTo { port: None },
                    )?;
                }
            }
            previous = Some(name);
            added += 1;
        }
    }
    Ok(graph)
}

fn bench_translate(c: &mut Criterion) {
    let translator = FlakeTranslator::default();
    let mut group = c.benchmark_group("graph_translate");
    for size in [100, 1_000, 10_000] {
        let graph = match fleet(size) {
            Ok(graph) => graph,
            Err(error) => panic!("the bench fleet of {size} nodes must build: {error}"),
        };
        if let Err(error) = translator.translate_graph(&graph) {
            panic!("the bench fleet of {size} nodes must translate: {error}");
        }
        group.throughput(Throughput::Elements(graph.node_count() as u64));
        group.bench_with_input(BenchmarkId::from_parameter(size), &graph, |b, graph| {
            b.iter(|| translator.translate_graph(black_box(graph)));
        });
    }
    group.finish();
}

criterion_group!(benches, bench_translate);
criterion_main!(benches);
