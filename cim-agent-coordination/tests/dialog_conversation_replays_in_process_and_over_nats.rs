//! A multi-agent conversation (broadcast, capability routing, two hand-offs) runs the same over
//! the in-process bus and a real nats-server, and its transcript replays to the same state:
//! folded by hand, and stored and loaded through cqrs-es on the in-memory and JetStream stores.

mod common;

use cim_agent_coordination::dialog::{Dialog, DialogCommand, DialogEvent};
use cim_agent_coordination::transport::{InProcessTransport, NatsTransport};
use cim_jetstream::testing::NatsServer;
use cim_jetstream::{
    InMemoryEventRepository, InMemoryEventStore, JetStreamConfig, JetStreamEventRepository,
    JetStreamEventStore,
};
use common::dialog_script::{self, DIALOG, ScriptResult};
use cqrs_es::{AggregateContext, CqrsFramework, EventStore};

/// The commands that produce a transcript (what a coordinator executes against a store).
fn commands(transcript: &[DialogEvent]) -> Vec<DialogCommand> {
    transcript
        .iter()
        .map(|event| match event.clone() {
            DialogEvent::Opened {
                id,
                participants,
                max_turns,
                max_handoff_chain,
                merge,
            } => DialogCommand::Open {
                id,
                participants,
                max_turns,
                max_handoff_chain,
                merge,
            },
            DialogEvent::TurnTaken { turn } => DialogCommand::TakeTurn {
                from: turn.from,
                strategy: turn.strategy,
                priority: turn.priority,
                content: turn.content,
                recipients: turn.recipients,
                context: turn.context,
            },
            DialogEvent::Closed { reason } => DialogCommand::Close { reason },
        })
        .collect()
}

/// Executes the transcript's commands through cqrs-es on one store, then loads the dialog
/// through a second store on the same repository.
async fn stored_and_loaded<S: EventStore<Dialog>>(
    make_store: impl Fn() -> S,
    transcript: &[DialogEvent],
) -> ScriptResult<Dialog> {
    let id = DIALOG.to_string();
    let cqrs = CqrsFramework::new(make_store(), vec![], ());
    for command in commands(transcript) {
        cqrs.execute(&id, command).await?;
    }
    let mut context = make_store().load_aggregate(&id).await?;
    Ok(context.aggregate().clone())
}

#[tokio::test]
async fn in_process_conversation_replays() -> ScriptResult<()> {
    let (transcript, state) = dialog_script::run(InProcessTransport::default()).await?;
    assert_eq!(Dialog::replay(transcript.clone()), state);
    let repo = InMemoryEventRepository::new();
    let loaded = stored_and_loaded(
        || InMemoryEventStore::new_event_store(repo.clone()),
        &transcript,
    )
    .await?;
    assert_eq!(loaded, state);
    Ok(())
}

#[tokio::test]
async fn nats_conversation_replays_and_matches_in_process() -> ScriptResult<()> {
    let server = NatsServer::start().await?;
    let client = server.client().await?;
    let (transcript, state) = dialog_script::run(NatsTransport::new(client.clone())).await?;
    assert_eq!(Dialog::replay(transcript.clone()), state);
    let (in_process, _) = dialog_script::run(InProcessTransport::default()).await?;
    assert_eq!(
        transcript, in_process,
        "transports gave different transcripts"
    );

    let repo = JetStreamEventRepository::new(client, JetStreamConfig::named("dialogs")).await?;
    let loaded = stored_and_loaded(
        || JetStreamEventStore::new_event_store(repo.clone()),
        &transcript,
    )
    .await?;
    assert_eq!(loaded, state);
    Ok(())
}
