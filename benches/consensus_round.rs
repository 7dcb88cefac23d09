//! Criterion bench of consensus (`. scripts/install-test-tools` first for `nats-server`):
//! a full 10-agent round over NATS (open, announcement to ten agents, ten votes with receipts,
//! decision published and received), with the in-memory and with the JetStream event store,
//! beside a bare async-nats baseline moving the same messages; and the in-process tally of
//! 1,000 votes (a count from scratch, and 1,000 votes through the aggregate).
use std::collections::BTreeMap;
use std::sync::Arc;

use cim_agent_coordination::consensus::wire::OutcomeMessage;
use cim_agent_coordination::consensus::{
    Choice, Coordinator, Electorate, MessageStream, Proposal, ProposalCommand, ProposalId,
    ProposalSubject, Protocol, Quorum, Rules, ServeHandle, SystemClock, Tally, Threshold, Voter,
    evaluate,
};
use cim_agent_coordination::transport::NatsTransport;
use cim_domain_agent::AgentId;
use cim_jetstream::testing::NatsServer;
use cim_jetstream::{
    InMemoryEventRepository, InMemoryEventStore, JetStreamConfig, JetStreamEventRepository,
    JetStreamEventStore,
};
use cqrs_es::{Aggregate, EventStore};
use criterion::{BatchSize, Criterion, Throughput, criterion_group, criterion_main};
use futures::StreamExt;
use tokio::runtime::Runtime;
use tokio::task::JoinHandle;

type Failure = Box<dyn std::error::Error + Send + Sync>;

/// A round that takes longer than this is a failure, not a measurement.
const LIMIT: std::time::Duration = std::time::Duration::from_secs(10);

/// Everyone votes; 7 of 10 for passes; the tenth vote decides.
fn rules() -> Rules {
    Rules {
        quorum: Some(Quorum {
            threshold: Threshold::at_least(1, 1),
            count_abstentions: true,
        }),
        ..Rules::new(
            Protocol::QualifiedMajority(Threshold::at_least(7, 10)),
            3600,
        )
    }
}

struct Round<ES> {
    coordinator: Coordinator<NatsTransport, ES>,
    electorate: Electorate,
    outcomes: MessageStream<OutcomeMessage>,
    _serving: ServeHandle,
    _agents: Vec<JoinHandle<()>>,
}

async fn setup_round<ES>(bus: NatsTransport, store: ES) -> Result<Round<ES>, Failure>
where
    ES: EventStore<Proposal> + 'static,
    ES::AC: Send,
{
    let ids: Vec<AgentId> = (0..10).map(|_| AgentId::new_v7()).collect();
    let mut agents = Vec::new();
    for id in &ids {
        let voter = Voter::new(bus.clone(), *id);
        let mut proposals = voter.proposals().await?;
        agents.push(tokio::spawn(async move {
            while let Some(announcement) = proposals.next().await {
                if let Err(error) = voter.vote(announcement.proposal, Choice::For).await {
                    eprintln!("vote failed: {error}");
                }
            }
        }));
    }
    let outcomes = Voter::new(bus.clone(), AgentId::new_v7())
        .outcomes()
        .await?;
    let coordinator = Coordinator::new(bus, store, Arc::new(SystemClock));
    let serving = coordinator.serve().await?;
    Ok(Round {
        coordinator,
        electorate: Electorate::equal(ids),
        outcomes,
        _serving: serving,
        _agents: agents,
    })
}

async fn round<ES>(round: &mut Round<ES>) -> Result<(), Failure>
where
    ES: EventStore<Proposal> + 'static,
    ES::AC: Send,
{
    let id = ProposalId::new_v7();
    round
        .coordinator
        .open(
            id,
            ProposalSubject::DeploymentGraphVersion {
                version: "sha256-bench".into(),
            },
            round.electorate.clone(),
            rules(),
        )
        .await?;
    let wait = async {
        while let Some(outcome) = round.outcomes.next().await {
            if outcome.proposal == id {
                return Ok(());
            }
        }
        Err::<(), Failure>("outcome stream ended".into())
    };
    tokio::time::timeout(LIMIT, wait).await?
}

/// The same traffic with bare async-nats: one announcement to ten agents, ten requests and
/// replies, one outcome.
struct Baseline {
    client: async_nats::Client,
    outcomes: async_nats::Subscriber,
    _tasks: Vec<JoinHandle<()>>,
}

async fn setup_baseline(client: async_nats::Client) -> Result<Baseline, Failure> {
    let mut tasks = Vec::new();
    let mut votes = client.subscribe("bench.vote.*").await?;
    let coordinator = client.clone();
    tasks.push(tokio::spawn(async move {
        let mut count = 0;
        while let Some(message) = votes.next().await {
            if let Some(reply) = message.reply {
                let _ = coordinator
                    .publish(reply, "{\"status\":\"accepted\"}".into())
                    .await;
            }
            count += 1;
            if count == 10 {
                count = 0;
                let _ = coordinator
                    .publish("bench.outcome", "{\"outcome\":\"Passed\"}".into())
                    .await;
            }
        }
    }));
    for i in 0..10 {
        let agent = client.clone();
        let mut opened = client.subscribe("bench.opened").await?;
        tasks.push(tokio::spawn(async move {
            while opened.next().await.is_some() {
                let _ = agent
                    .request(format!("bench.vote.{i}"), "{\"choice\":\"For\"}".into())
                    .await;
            }
        }));
    }
    let outcomes = client.subscribe("bench.outcome").await?;
    client.flush().await?;
    Ok(Baseline {
        client,
        outcomes,
        _tasks: tasks,
    })
}

async fn baseline_round(baseline: &mut Baseline) -> Result<(), Failure> {
    baseline
        .client
        .publish("bench.opened", "{\"proposal\":\"x\"}".into())
        .await?;
    tokio::time::timeout(LIMIT, baseline.outcomes.next())
        .await?
        .map(drop)
        .ok_or_else(|| "outcome subscription ended".into())
}

fn must<T>(result: Result<T, Failure>) -> T {
    match result {
        Ok(value) => value,
        Err(error) => panic!("bench setup: {error}"),
    }
}

fn consensus_round(c: &mut Criterion) {
    let runtime = match Runtime::new() {
        Ok(runtime) => runtime,
        Err(error) => panic!("tokio runtime: {error}"),
    };
    // One server per variant: coordinators on one bus share a queue group, and two coordinators
    // over different stores would each see votes for the other's proposals.
    let (_servers, mut memory, mut jetstream, mut baseline) = must(runtime.block_on(async {
        let servers = [
            NatsServer::start().await?,
            NatsServer::start().await?,
            NatsServer::start().await?,
        ];
        let memory = setup_round(
            NatsTransport::new(servers[0].client().await?),
            InMemoryEventStore::<Proposal>::new_event_store(InMemoryEventRepository::new()),
        )
        .await?;
        let repo = JetStreamEventRepository::connect(&servers[1].url(), JetStreamConfig::default())
            .await?;
        let jetstream = setup_round(
            NatsTransport::new(servers[1].client().await?),
            JetStreamEventStore::<Proposal>::new_event_store(repo),
        )
        .await?;
        let baseline = setup_baseline(servers[2].client().await?).await?;
        Ok::<_, Failure>((servers, memory, jetstream, baseline))
    }));

    let mut group = c.benchmark_group("consensus_round_10_agents");
    group.sample_size(20);
    group.bench_function("nats_in_memory_store", |b| {
        b.iter(|| must(runtime.block_on(round(&mut memory))));
    });
    group.bench_function("nats_jetstream_store", |b| {
        b.iter(|| must(runtime.block_on(round(&mut jetstream))));
    });
    group.bench_function("bare_async_nats_baseline", |b| {
        b.iter(|| must(runtime.block_on(baseline_round(&mut baseline))));
    });
    group.finish();
}

fn tally_1000(c: &mut Criterion) {
    let ids: Vec<AgentId> = (0..1000).map(|_| AgentId::new_v7()).collect();
    let electorate = Electorate::equal(ids.iter().copied());
    let rules = rules();
    let choices = [Choice::For, Choice::For, Choice::Against, Choice::Abstain];
    let ballots: BTreeMap<AgentId, Choice> = ids
        .iter()
        .zip(choices.iter().cycle())
        .map(|(id, choice)| (*id, *choice))
        .collect();

    let mut group = c.benchmark_group("consensus_tally_1000_votes");
    group.throughput(Throughput::Elements(1000));
    group.bench_function("count_and_evaluate", |b| {
        b.iter(|| {
            let tally = Tally::count(&rules, &electorate, std::hint::black_box(&ballots));
            evaluate(&rules, &tally)
        });
    });

    let now = chrono::Utc::now();
    let mut opened = Proposal::default();
    let open = ProposalCommand::Open {
        proposal: ProposalId::new_v7(),
        subject: ProposalSubject::DeploymentGraphVersion {
            version: "sha256-bench".into(),
        },
        electorate: electorate.clone(),
        rules: rules.clone(),
        now,
    };
    for event in opened.decide(open).unwrap_or_default() {
        opened.apply(event);
    }
    group.bench_function("aggregate_decide_and_apply", |b| {
        b.iter_batched(
            || opened.clone(),
            |mut state| {
                for (voter, choice) in &ballots {
                    let command = ProposalCommand::Vote {
                        voter: *voter,
                        choice: *choice,
                        now,
                    };
                    for event in state.decide(command).unwrap_or_default() {
                        state.apply(event);
                    }
                }
                state.outcome()
            },
            BatchSize::SmallInput,
        );
    });
    group.finish();
}

criterion_group!(benches, consensus_round, tally_1000);
criterion_main!(benches);
