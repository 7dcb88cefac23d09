//! Dialog context: per-recipient filtering (visibility, allow-lists, secrets redacted) and the
//! merge strategies (last writer, first writer, union, per key), references and history.

use cim_agent_coordination::dialog::{
    ContextFilter, DialogAgent, DialogContext, MergePolicy, MergeStrategy, PriorTurn, Visibility,
};
use cim_domain_agent::AgentId;
use serde_json::json;
use uuid::Uuid;

const A: AgentId = AgentId(Uuid::from_u128(1));
const B: AgentId = AgentId(Uuid::from_u128(2));

fn context() -> DialogContext {
    let mut c = DialogContext::default();
    c.set("goal", json!("deploy"), A, 1)
        .set_with(
            "token",
            json!("s3cr3t"),
            Visibility::Secret("secrets".into()),
            A,
            1,
        )
        .set_with(
            "budget",
            json!(48),
            Visibility::Capability("gpu".into()),
            A,
            1,
        )
        .set("notes", json!("long"), A, 1);
    c.references.graph_version = Some(3);
    c
}

#[test]
fn a_secret_never_reaches_a_recipient_without_the_capability() -> Result<(), serde_json::Error> {
    let outsider = DialogAgent::online(B, "outsider", ["planning"]);
    let seen = ContextFilter::default().for_recipient(&context(), &outsider);
    let token = &seen.values["token"];
    assert!(token.redacted && token.value.is_null());
    assert_eq!(seen.get("token"), None);
    assert!(
        !seen.values.contains_key("budget"),
        "capability-only key is not even named"
    );
    assert_eq!(seen.get("goal"), Some(&json!("deploy")));
    assert_eq!(
        seen.references.graph_version,
        Some(3),
        "references always travel"
    );
    assert!(!serde_json::to_string(&seen)?.contains("s3cr3t"));

    let insider = DialogAgent::online(B, "insider", ["secrets", "gpu"]);
    let seen = ContextFilter::default().for_recipient(&context(), &insider);
    assert_eq!(seen.get("token"), Some(&json!("s3cr3t")));
    assert_eq!(seen.get("budget"), Some(&json!(48)));
    Ok(())
}

#[test]
fn an_allow_list_narrows_what_a_recipient_gets_and_visibility_still_applies() {
    let filter = ContextFilter::default().allow(B, ["goal", "token"]);
    let seen = filter.for_recipient(&context(), &DialogAgent::online(B, "b", ["gpu"]));
    let keys: Vec<&str> = seen.values.keys().map(String::as_str).collect();
    assert_eq!(keys, ["goal", "token"]);
    assert!(seen.values["token"].redacted);
    // Others are not narrowed.
    let other = filter.for_recipient(&context(), &DialogAgent::online(A, "a", ["gpu"]));
    assert_eq!(other.values.len(), 4);
}

fn two_writers() -> (DialogContext, DialogContext) {
    let mut first = DialogContext::default();
    first
        .set("owner", json!("alice"), A, 1)
        .set("hosts", json!(["gpu-1", "gpu-2"]), A, 1)
        .set("limits", json!({"cpu": 2, "tags": ["a"]}), A, 1)
        .set("tier", json!("small"), A, 1);
    first.references.facts.insert("f1".into());
    first.history.turns.push(PriorTurn {
        seq: 1,
        from: A,
        content: "hi".into(),
    });
    let mut second = DialogContext::default();
    second
        .set("owner", json!("bob"), B, 2)
        .set("hosts", json!(["gpu-2", "gpu-3"]), B, 2)
        .set("limits", json!({"mem": 4, "tags": ["b"]}), B, 2)
        .set_with(
            "tier",
            json!("large"),
            Visibility::Secret("ops".into()),
            B,
            2,
        );
    second.references.facts.insert("f2".into());
    second.references.graph_version = Some(9);
    second.history.turns.push(PriorTurn {
        seq: 2,
        from: B,
        content: "yo".into(),
    });
    second.history.turns.push(PriorTurn {
        seq: 1,
        from: A,
        content: "hi".into(),
    });
    (first, second)
}

#[test]
fn last_writer_wins_whatever_the_order_of_arrival() {
    let (first, second) = two_writers();
    let policy = MergePolicy::all(MergeStrategy::LastWriter);
    let ab = first.merged(&second, &policy);
    let ba = second.merged(&first, &policy);
    assert_eq!(ab, ba);
    assert_eq!(ab.get("owner"), Some(&json!("bob")));
    assert_eq!(ab.get("hosts"), Some(&json!(["gpu-2", "gpu-3"])));
    // References: union of facts, newest graph version; history by sequence without repeats.
    assert_eq!(ab.references.facts.len(), 2);
    assert_eq!(ab.references.graph_version, Some(9));
    let seqs: Vec<u32> = ab.history.turns.iter().map(|t| t.seq).collect();
    assert_eq!(seqs, [1, 2]);
}

#[test]
fn first_writer_keeps_the_first_answer() {
    let (first, second) = two_writers();
    let merged = second.merged(&first, &MergePolicy::all(MergeStrategy::FirstWriter));
    assert_eq!(merged.get("owner"), Some(&json!("alice")));
}

#[test]
fn union_keeps_both_sides() {
    let (first, second) = two_writers();
    let merged = first.merged(&second, &MergePolicy::all(MergeStrategy::Union));
    assert_eq!(
        merged.get("hosts"),
        Some(&json!(["gpu-1", "gpu-2", "gpu-3"]))
    );
    assert_eq!(
        merged.get("limits"),
        Some(&json!({"cpu": 2, "mem": 4, "tags": ["a", "b"]}))
    );
    assert_eq!(merged.get("owner"), Some(&json!(["alice", "bob"])));
    assert_eq!(
        merged,
        second.merged(&first, &MergePolicy::all(MergeStrategy::Union))
    );
}

#[test]
fn a_per_key_policy_picks_per_key_and_a_merge_never_loosens_visibility() {
    let (first, second) = two_writers();
    let policy = MergePolicy::all(MergeStrategy::LastWriter)
        .key("hosts", MergeStrategy::Union)
        .key("owner", MergeStrategy::FirstWriter)
        .key("tier", MergeStrategy::FirstWriter);
    let merged = first.merged(&second, &policy);
    assert_eq!(
        merged.get("hosts"),
        Some(&json!(["gpu-1", "gpu-2", "gpu-3"]))
    );
    assert_eq!(merged.get("owner"), Some(&json!("alice")));
    assert_eq!(
        merged.get("limits"),
        Some(&json!({"mem": 4, "tags": ["b"]}))
    );
    // "small" was public, but the other writer marked the key secret: the merge stays secret.
    let tier = &merged.values["tier"];
    assert_eq!(
        (&tier.value, &tier.visibility),
        (&json!("small"), &Visibility::Secret("ops".into()))
    );
}
