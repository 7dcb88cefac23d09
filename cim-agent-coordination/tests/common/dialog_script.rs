//! One multi-agent conversation (broadcast, capability routing, two hand-offs, a direct reply),
//! run against the in-process bus and a real nats-server: same deliveries, same transcript.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use cim_agent_coordination::dialog::{
    AgentDialogRouter, ChannelConfig, Delivery, Dialog, DialogAgent, DialogChannel, DialogContext,
    DialogEvent, DialogId, Message, Priority, RouterConfig, Strategy, Visibility,
    create_agent_channel_with_id,
};
use cim_agent_coordination::transport::Transport;
use cim_domain_agent::AgentId;
use uuid::Uuid;

pub type ScriptResult<T> = Result<T, Box<dyn std::error::Error + Send + Sync>>;

const WAIT: Duration = Duration::from_secs(5);

pub const ORCHESTRATOR: AgentId = AgentId(Uuid::from_u128(1));
pub const PLANNER: AgentId = AgentId(Uuid::from_u128(2));
pub const NIX: AgentId = AgentId(Uuid::from_u128(3));
pub const GPU: AgentId = AgentId(Uuid::from_u128(4));
pub const REVIEWER: AgentId = AgentId(Uuid::from_u128(5));
pub const ALL: [AgentId; 5] = [ORCHESTRATOR, PLANNER, NIX, GPU, REVIEWER];

/// The fixed dialog id of the script, so both transports produce identical transcripts.
pub const DIALOG: DialogId = DialogId(Uuid::from_u128(0xd1a1_0600));

/// Five agents: an orchestrator, a planner, a Nix expert holding the deploy secrets, a GPU
/// expert who also knows Nix, and a reviewer.
pub fn team(config: RouterConfig) -> AgentDialogRouter {
    let mut router = AgentDialogRouter::new(config);
    router.upsert_agent(DialogAgent::online(
        ORCHESTRATOR,
        "orchestrator",
        ["orchestration"],
    ));
    router.upsert_agent(DialogAgent::online(PLANNER, "planner", ["planning"]));
    router.upsert_agent(
        DialogAgent::online(NIX, "nix-expert", ["nix", "deploy-secrets"]).with_preference(5),
    );
    router.upsert_agent(DialogAgent::online(GPU, "gpu-expert", ["gpu", "nix"]).with_preference(1));
    router.upsert_agent(DialogAgent::online(REVIEWER, "reviewer", ["review"]));
    router
}

pub async fn next<T: Transport>(
    channel: &DialogChannel<T>,
    agent: AgentId,
) -> ScriptResult<Delivery> {
    Ok(tokio::time::timeout(WAIT, channel.recv(agent)).await??)
}

/// Runs the conversation; returns the transcript and the channel's final dialog state.
pub async fn run<T: Transport>(transport: T) -> ScriptResult<(Vec<DialogEvent>, Dialog)> {
    let router = Arc::new(Mutex::new(team(RouterConfig::default())));
    let channel =
        create_agent_channel_with_id(transport, router, DIALOG, &ALL, ChannelConfig::default())
            .await?;

    // 1. The orchestrator broadcasts the question, with references and context for everyone.
    let mut context = DialogContext::default();
    context.references.graph_version = Some(7);
    context.references.proposal = Some(Uuid::from_u128(42));
    context.references.facts.insert("fact-gpu-inventory".into());
    context.set("goal", "deploy ollama on gpu-1".into(), ORCHESTRATOR, 1);
    context.set_with(
        "deploy-token",
        "s3cr3t".into(),
        Visibility::Secret("deploy-secrets".into()),
        ORCHESTRATOR,
        1,
    );
    context.set_with(
        "gpu-budget",
        serde_json::json!({"gib": 48}),
        Visibility::Capability("gpu".into()),
        ORCHESTRATOR,
        1,
    );
    let ask = Message::new(DIALOG, ORCHESTRATOR, Strategy::Broadcast, "can we deploy?")
        .with_context(context);
    let sent = channel.send(&ask).await?;
    assert_eq!(sent.delivered, [PLANNER, NIX, GPU, REVIEWER]);
    for agent in [PLANNER, NIX, GPU, REVIEWER] {
        let got = next(&channel, agent).await?;
        assert_eq!((got.seq, got.from, got.to), (1, ORCHESTRATOR, agent));
        assert_eq!(got.context.references.graph_version, Some(7));
        assert_eq!(
            got.context.get("goal"),
            Some(&"deploy ollama on gpu-1".into())
        );
        // The secret reaches only the holder of `deploy-secrets`; the others see it redacted.
        let token = got
            .context
            .values
            .get("deploy-token")
            .ok_or("token key missing")?;
        if agent == NIX {
            assert_eq!((token.redacted, &token.value), (false, &"s3cr3t".into()));
        } else {
            assert!(
                token.redacted && token.value.is_null(),
                "secret leaked to {agent}"
            );
        }
        // The budget is visible to GPU holders only; others do not get the key.
        assert_eq!(got.context.values.contains_key("gpu-budget"), agent == GPU);
    }

    // 2. Capability routing: who knows Nix? Both experts, the preferred one first; ask the best.
    let nix_question = Strategy::Capability {
        required: vec!["nix".into()],
        preferred: vec![],
        limit: None,
    };
    let plan = channel
        .send(&Message::new(
            DIALOG,
            ORCHESTRATOR,
            nix_question,
            "which module?",
        ))
        .await?;
    assert_eq!(plan.delivered, [NIX, GPU]);
    let best = Strategy::Capability {
        required: vec!["nix".into()],
        preferred: vec![],
        limit: Some(1),
    };
    let urgent =
        Message::new(DIALOG, ORCHESTRATOR, best, "you decide").with_priority(Priority::Urgent);
    assert_eq!(channel.send(&urgent).await?.delivered, [NIX]);
    // NIX has two waiting: the urgent one comes first.
    assert_eq!(next(&channel, NIX).await?.seq, 3);
    assert_eq!(next(&channel, NIX).await?.seq, 2);
    assert_eq!(next(&channel, GPU).await?.seq, 2);

    // 3. First hand-off: the Nix expert passes the turn to the GPU expert, with its findings.
    let mut findings = DialogContext::default();
    findings.set("module", "services.ollama".into(), NIX, 4);
    findings.history.summary = Some("orchestrator asks to deploy ollama on gpu-1".into());
    let handoff = Message::new(
        DIALOG,
        NIX,
        Strategy::HandOff {
            to: GPU,
            reason: "needs GPU sizing".into(),
        },
        "module is services.ollama; how much VRAM?",
    )
    .with_context(findings);
    assert_eq!(channel.send(&handoff).await?.delivered, [GPU]);
    let got = next(&channel, GPU).await?;
    assert_eq!(
        got.strategy,
        Strategy::HandOff {
            to: GPU,
            reason: "needs GPU sizing".into()
        }
    );
    assert_eq!(got.context.get("module"), Some(&"services.ollama".into()));
    assert!(got.context.history.summary.is_some());

    // 4. Second hand-off: the GPU expert passes to the reviewer.
    let mut sizing = DialogContext::default();
    sizing.set("vram-gib", 24.into(), GPU, 5);
    let review = Message::new(
        DIALOG,
        GPU,
        Strategy::HandOff {
            to: REVIEWER,
            reason: "plan ready for review".into(),
        },
        "24 GiB on gpu-1",
    )
    .with_context(sizing);
    assert_eq!(channel.send(&review).await?.delivered, [REVIEWER]);
    let got = next(&channel, REVIEWER).await?;
    assert_eq!((got.seq, got.from), (5, GPU));
    assert_eq!(got.context.get("vram-gib"), Some(&24.into()));
    assert_eq!(channel.dialog().handoff_chain, 2);

    // 5. The reviewer answers the orchestrator directly: the hand-off chain ends.
    let answer = Message::new(
        DIALOG,
        REVIEWER,
        Strategy::Direct { to: ORCHESTRATOR },
        "approved",
    );
    assert_eq!(channel.send(&answer).await?.delivered, [ORCHESTRATOR]);
    assert_eq!(next(&channel, ORCHESTRATOR).await?.content, "approved");
    channel.close("approved")?;

    // Nothing else arrived anywhere, and nothing was dropped.
    tokio::time::sleep(Duration::from_millis(50)).await;
    for agent in ALL {
        assert!(
            channel.mailbox(agent).ok_or("no mailbox")?.is_empty(),
            "{agent}"
        );
    }
    let stats = channel.stats();
    assert_eq!(
        (
            stats.delivered,
            stats.malformed,
            stats.oversized,
            stats.overflowed
        ),
        (10, 0, 0, 0)
    );

    let dialog = channel.dialog();
    assert_eq!(dialog.turns.len(), 6);
    assert_eq!(
        (dialog.handoff_chain, dialog.speaker),
        (0, Some(ORCHESTRATOR))
    );
    assert_eq!(
        dialog.context.get("module"),
        Some(&"services.ollama".into())
    );
    assert_eq!(dialog.context.get("vram-gib"), Some(&24.into()));
    assert_eq!(dialog.closed.as_deref(), Some("approved"));
    Ok((channel.transcript(), dialog))
}
