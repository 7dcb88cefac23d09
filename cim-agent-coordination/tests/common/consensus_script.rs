//! One behaviour script for consensus over the transport, run against the in-process bus with
//! the in-memory event store and against a real nats-server with the JetStream event store:
//! a 10-agent consensus, an agent killed during voting, the coordinator restarted mid-vote, and
//! malformed or oversized ballots.

use std::error::Error;
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use chrono::{TimeZone, Utc};
use cim_agent_coordination::consensus::wire::{
    MAX_BALLOT_BYTES, OutcomeMessage, Receipt, VoteMessage, vote_subject,
};
use cim_agent_coordination::consensus::{
    Choice, Coordinator, Electorate, ManualClock, MessageStream, Outcome, Proposal, ProposalId,
    ProposalSubject, Protocol, Quorum, Refusal, Rules, Threshold, Voter, VoterError,
};
use cim_agent_coordination::transport::Transport;
use cim_domain_agent::AgentId;
use cqrs_es::EventStore;
use futures::StreamExt;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;
use uuid::Uuid;

type Failure = Box<dyn Error + Send + Sync>;
type Result<T> = std::result::Result<T, Failure>;

const WAIT: Duration = Duration::from_secs(10);

fn agent(i: u128) -> AgentId {
    AgentId(Uuid::from_u128(0xc000 + i))
}

fn agents() -> Vec<AgentId> {
    (0..10).map(agent).collect()
}

fn graph(version: &str) -> ProposalSubject {
    ProposalSubject::DeploymentGraphVersion {
        version: version.into(),
    }
}

/// Everyone must take part; 7 of 10 for passes.
fn all_must_vote() -> Rules {
    Rules {
        quorum: Some(Quorum {
            threshold: Threshold::at_least(1, 1),
            count_abstentions: true,
        }),
        ..Rules::new(Protocol::QualifiedMajority(Threshold::at_least(7, 10)), 60)
    }
}

/// An agent that votes `choice` on every proposal it is a voter of, once `gate` opens (or at
/// once without a gate). Its subscription is in place when this returns.
async fn spawn_agent<T: Transport>(
    bus: &T,
    id: AgentId,
    choice: Choice,
    gate: Option<oneshot::Receiver<()>>,
) -> Result<JoinHandle<std::result::Result<(), VoterError>>> {
    let voter = Voter::new(bus.clone(), id);
    let mut proposals = voter.proposals().await?;
    Ok(tokio::spawn(async move {
        if let Some(announcement) = proposals.next().await
            && announcement.electorate.get(&id).is_some()
        {
            if let Some(gate) = gate {
                let _ = gate.await;
            }
            voter.vote(announcement.proposal, choice).await?;
        }
        Ok(())
    }))
}

async fn next_outcome(outcomes: &mut MessageStream<OutcomeMessage>) -> Result<OutcomeMessage> {
    Ok(tokio::time::timeout(WAIT, outcomes.next())
        .await?
        .ok_or("outcome stream ended")?)
}

/// Polls the store until `proposal` holds `count` ballots.
async fn ballots_reach<T, ES>(
    coordinator: &Coordinator<T, ES>,
    proposal: ProposalId,
    count: usize,
) -> Result<()>
where
    T: Transport,
    ES: EventStore<Proposal> + 'static,
    ES::AC: Send,
{
    let until = tokio::time::Instant::now() + WAIT;
    loop {
        let recorded = coordinator.load(proposal).await?.ballots().len();
        if recorded >= count {
            return Ok(());
        }
        if tokio::time::Instant::now() > until {
            return Err(format!("{recorded} of {count} ballots recorded").into());
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}

/// Runs every scenario. `make_store` returns a fresh handle on the SAME backing store each
/// time (a restarted coordinator gets a new one).
pub async fn run<T, ES, F, Fut>(bus: T, make_store: F) -> Result<()>
where
    T: Transport,
    ES: EventStore<Proposal> + 'static,
    ES::AC: Send,
    F: Fn() -> Fut,
    Fut: Future<Output = Result<ES>>,
{
    let start = Utc
        .with_ymd_and_hms(2026, 11, 30, 12, 0, 0)
        .single()
        .ok_or("bad time")?;
    let clock = ManualClock::new(start);
    let observer = Voter::new(bus.clone(), agent(500));
    let mut outcomes = observer.outcomes().await?;

    let coordinator = Coordinator::new(bus.clone(), make_store().await?, Arc::new(clock.clone()));
    let serving = coordinator.serve().await?;

    // 1. Ten agents, all vote over the transport, the tenth vote decides.
    let mut tasks = Vec::new();
    for (i, id) in agents().into_iter().enumerate() {
        let choice = if i < 8 { Choice::For } else { Choice::Against };
        tasks.push(spawn_agent(&bus, id, choice, None).await?);
    }
    let first = ProposalId(Uuid::from_u128(0x1));
    coordinator
        .open(
            first,
            graph("sha256-aaaa"),
            Electorate::equal(agents()),
            all_must_vote(),
        )
        .await?;
    let decided = next_outcome(&mut outcomes).await?;
    assert_eq!(decided.proposal, first);
    assert_eq!(decided.subject, graph("sha256-aaaa"));
    assert_eq!(decided.outcome, Outcome::Passed);
    assert_eq!(
        (decided.tally.yes, decided.tally.no, decided.tally.voters),
        (8, 2, 10)
    );
    for task in tasks {
        tokio::time::timeout(WAIT, task).await???;
    }

    // 2. One agent is killed during voting: simply a missing vote, decided at the deadline.
    let mut tasks = Vec::new();
    let mut gates = Vec::new();
    for (i, id) in agents().into_iter().enumerate() {
        let choice = if i < 5 { Choice::For } else { Choice::Against };
        let (open_gate, gate) = oneshot::channel();
        gates.push(open_gate);
        let gate = if i == 9 { Some(gate) } else { None };
        tasks.push(spawn_agent(&bus, id, choice, gate).await?);
    }
    let second = ProposalId(Uuid::from_u128(0x2));
    coordinator
        .open(
            second,
            graph("sha256-bbbb"),
            Electorate::equal(agents()),
            Rules::new(Protocol::SimpleMajority, 60),
        )
        .await?;
    ballots_reach(&coordinator, second, 9).await?;
    let killed = tasks.pop().ok_or("no tasks")?;
    killed.abort();
    for task in tasks {
        tokio::time::timeout(WAIT, task).await???;
    }
    // 5 for, 4 against, one missing vote that could still tie it: nothing closes early.
    assert_eq!(coordinator.tick().await?, vec![]);
    clock.advance(chrono::Duration::seconds(60));
    assert_eq!(coordinator.tick().await?, vec![second]);
    let decided = next_outcome(&mut outcomes).await?;
    assert_eq!(
        (decided.proposal, decided.outcome),
        (second, Outcome::Passed)
    );
    assert_eq!(
        (decided.tally.yes, decided.tally.no, decided.tally.voters),
        (5, 4, 9)
    );
    drop(gates);

    // 3. The coordinator restarts mid-vote: nothing is lost.
    let third = ProposalId(Uuid::from_u128(0x3));
    coordinator
        .open(
            third,
            graph("sha256-cccc"),
            Electorate::equal(agents()),
            all_must_vote(),
        )
        .await?;
    let voters: Vec<Voter<T>> = agents()
        .into_iter()
        .map(|id| Voter::new(bus.clone(), id))
        .collect();
    for voter in &voters[..5] {
        voter.vote(third, Choice::For).await?;
    }
    serving.stop();
    drop(coordinator);
    // Agent 5 votes while no coordinator runs; its client retries until one answers.
    let waiting = {
        let voter = voters[5].clone();
        tokio::spawn(async move { voter.vote(third, Choice::For).await })
    };
    tokio::time::sleep(Duration::from_millis(50)).await;
    let restarted = Coordinator::new(bus.clone(), make_store().await?, Arc::new(clock.clone()));
    let _serving = restarted.serve().await?;
    tokio::time::timeout(WAIT, waiting).await???;
    for (i, voter) in voters.iter().enumerate().skip(6) {
        let choice = if i == 9 { Choice::Against } else { Choice::For };
        voter.vote(third, choice).await?;
    }
    let decided = next_outcome(&mut outcomes).await?;
    assert_eq!(
        (decided.proposal, decided.outcome),
        (third, Outcome::Passed)
    );
    assert_eq!(
        (decided.tally.yes, decided.tally.no, decided.tally.voters),
        (9, 1, 10)
    );
    assert_eq!(restarted.load(third).await?.ballots().len(), 10);

    // 4. Malformed and oversized ballots are refused, counted, and break nothing.
    let fourth = ProposalId(Uuid::from_u128(0x4));
    restarted
        .open(
            fourth,
            graph("sha256-dddd"),
            Electorate::equal(agents()),
            all_must_vote(),
        )
        .await?;
    let subject = vote_subject(fourth, agent(0));
    let wrong_agent = serde_json::to_vec(&VoteMessage {
        voter: agent(1),
        choice: Choice::For,
    })?;
    for payload in [
        Bytes::from(vec![b'{'; MAX_BALLOT_BYTES + 1]),
        Bytes::from_static(b"not json"),
        Bytes::from_static(b"{\"voter\": 7}"),
        Bytes::from(wrong_agent),
    ] {
        let reply = bus.request(&subject, payload, WAIT).await?;
        let receipt: Receipt = serde_json::from_slice(&reply.payload)?;
        assert_eq!(
            receipt,
            Receipt::Refused {
                refusal: Refusal::Malformed
            }
        );
    }
    // Names no proposal and no agent: counted as malformed (nobody to answer), nothing breaks.
    bus.publish("cim.consensus.x.vote.y", Bytes::from_static(b"{}"))
        .await?;
    bus.flush().await?;
    let until = tokio::time::Instant::now() + WAIT;
    while restarted.stats().malformed < 5 && tokio::time::Instant::now() < until {
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    assert_eq!(restarted.stats().malformed, 5);
    voters[0].vote(fourth, Choice::For).await?;
    // An ineligible voter gets a typed refusal.
    let outsider = Voter::new(bus.clone(), agent(77));
    assert!(matches!(
        outsider.vote(fourth, Choice::For).await,
        Err(VoterError::Refused(Refusal::Ineligible))
    ));
    assert_eq!(restarted.load(fourth).await?.ballots().len(), 1);
    Ok(())
}
