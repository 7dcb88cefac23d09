//! NATS permissions of an agent, generated from the subject scheme ([`crate::subject`]).
//!
//! Each agent is its own NATS user (an NKey); the server enforces what the user may publish and
//! subscribe to. The rules come from the subject table: an agent publishes only on subjects that
//! carry its own name or id, so no agent can publish as another.
//!
//! `<a>` is the agent's name, `<id>` its id (UUID, hyphenated) and `<k>` its id without hyphens,
//! as each layer's subjects carry them.
//!
//! | | allowed |
//! |---|---|
//! | publish | `cim.agents.<a>.>`, `cim.tasks.<a>.report`, `cim.dialog.*.to.*`, `cim.consensus.*.vote.<id>`, `cim.consensus.*.veto.<id>`, `cim.knowledge.*.hello.<k>`, `cim.knowledge.*.sync.<k>.*`, `cim.knowledge.*.changes.<k>`, `cim.deployment.*.material`, `cim.deployment.*.{findings,shown}.<a>`, the knowledge JetStream API, `_INBOX.>` (replies) |
//! | subscribe | `cim.agents.>`, `cim.tasks.<a>.inbox.>`, `cim.dialog.*.to.<id>`, `cim.consensus.*.opened`, `cim.consensus.*.outcome`, `cim.knowledge.*.hello.*`, `cim.knowledge.*.sync.*.<k>`, `cim.knowledge.*.changes.*`, the snapshot bucket's `$O.<bucket>.>`, `$SRV.>` (service discovery), `_INBOX.>` |
//!
//! Dialog turns are addressed to the recipient (`cim.dialog.<dialog>.to.<recipient>`), so a
//! participant publishes to other agents' dialog inboxes; that subject does not name the sender.
//!
//! The JetStream API is granted only for the knowledge base's own stream and snapshot bucket
//! (`CIM_KNOWLEDGE_<space>`, object store `cim_knowledge_<space>`, see
//! [`KnowledgeSubjects`](crate::knowledge::KnowledgeSubjects)), for what a replica does with
//! them: look them up and create them when missing, read the stream with an ordered consumer,
//! read and replace the snapshot ([`jetstream_knowledge`]). Nothing lets an agent delete,
//! update or purge a stream, or touch any other stream. Not covered yet: the durable task inbox
//! consumer.

use serde::Serialize;

use cim_domain_agent::AgentId;

use crate::knowledge::KnowledgeSubjects;
use crate::subject::{AGENTS, CONSENSUS, DIALOG, KNOWLEDGE, TASKS, validate_token};
use crate::transport::TransportError;

/// Prefix of the reply inboxes async-nats creates (`_INBOX.<nuid>`).
pub const REPLY_INBOXES: &str = "_INBOX.>";

/// The JetStream API subjects a knowledge replica of `knowledge`'s space publishes to (ADR-1 API
/// subjects, ADR-20 object store): look up and create its stream and snapshot bucket, read the
/// stream with an ordered consumer, read and write the snapshot. NATS wildcards are whole
/// tokens, so every grant names the space's own stream and bucket.
pub fn jetstream_knowledge(knowledge: &KnowledgeSubjects) -> Vec<String> {
    let stream = knowledge.stream_name();
    let bucket = knowledge.bucket();
    let objects = format!("OBJ_{bucket}");
    let mut grants = vec!["$JS.API.INFO".to_owned()];
    for name in [&stream, &objects] {
        grants.extend([
            format!("$JS.API.STREAM.INFO.{name}"),
            format!("$JS.API.STREAM.CREATE.{name}"),
            format!("$JS.API.CONSUMER.CREATE.{name}"),
            format!("$JS.API.CONSUMER.CREATE.{name}.>"),
            format!("$JS.API.CONSUMER.MSG.NEXT.{name}.*"),
            format!("$JS.API.CONSUMER.DELETE.{name}.*"),
        ]);
    }
    grants.extend([
        format!("$JS.API.STREAM.MSG.GET.{objects}"),
        format!("$JS.API.DIRECT.GET.{objects}"),
        format!("$JS.API.DIRECT.GET.{objects}.>"),
        format!("$O.{bucket}.>"),
    ]);
    grants
}

/// An allow list, in the shape of nats-server's `permissions.publish` / `permissions.subscribe`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct AllowList {
    /// Subjects (filters, may hold wildcards) the user may use.
    pub allow: Vec<String>,
}

/// What one NATS user may publish and subscribe to, serialised as nats-server's `permissions`
/// block (JSON is valid nats-server configuration syntax, and it is what NixOS's
/// `services.nats.settings` renders).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Permissions {
    /// Subjects the user may publish to.
    pub publish: AllowList,
    /// Subjects the user may subscribe to.
    pub subscribe: AllowList,
}

/// One NKey user of nats-server's `authorization.users`: its public key (never the seed) and its
/// permissions.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct NkeyUser {
    /// The user's public NKey (`U...`).
    pub nkey: String,
    /// What it may do.
    pub permissions: Permissions,
}

/// The permissions of agent `agent`, per the table in the [module documentation](self), with
/// the JetStream API of the knowledge space `knowledge`.
///
/// # Errors
/// [`TransportError::InvalidSubject`] when `agent` is not a subject token (empty, or holding
/// whitespace, `.`, `*` or `>`), so a name never widens a permission.
pub fn agent_permissions(
    agent: &str,
    id: AgentId,
    knowledge: &KnowledgeSubjects,
) -> Result<Permissions, TransportError> {
    validate_token(agent)?;
    let a = agent;
    // Consensus and dialog subjects carry the agent's id (hyphenated), knowledge subjects its
    // simple form (see `KnowledgeSubjects`); the registry, tasks and deployments its name.
    let i = id.to_string();
    let k = id.0.simple().to_string();
    let publish = vec![
        format!("{AGENTS}.{a}.>"),
        format!("{TASKS}.{a}.report"),
        format!("{DIALOG}.*.to.*"),
        format!("{CONSENSUS}.*.vote.{i}"),
        format!("{CONSENSUS}.*.veto.{i}"),
        format!("{KNOWLEDGE}.*.hello.{k}"),
        format!("{KNOWLEDGE}.*.sync.{k}.*"),
        format!("{KNOWLEDGE}.*.changes.{k}"),
        // Reviewing deployment proposals from its own process (`cim_leaf::runtime`): asking
        // for the material, its findings, its replica's report.
        "cim.deployment.*.material".to_owned(),
        format!("cim.deployment.*.findings.{a}"),
        format!("cim.deployment.*.shown.{a}"),
        REPLY_INBOXES.to_owned(),
    ]
    .into_iter()
    .chain(jetstream_knowledge(knowledge))
    .collect::<Vec<_>>();
    let subscribe = vec![
        format!("{AGENTS}.>"),
        format!("{TASKS}.{a}.inbox.>"),
        format!("{DIALOG}.*.to.{i}"),
        format!("{CONSENSUS}.*.opened"),
        format!("{CONSENSUS}.*.outcome"),
        format!("{KNOWLEDGE}.*.hello.*"),
        format!("{KNOWLEDGE}.*.sync.*.{k}"),
        format!("{KNOWLEDGE}.*.changes.*"),
        // Service discovery (`nats micro ls`: `$SRV.PING|INFO|STATS...`): the runtime answers
        // as a NATS service; its answers go to reply inboxes.
        "$SRV.>".to_owned(),
        // The snapshot's chunks and metadata, read back from the object store.
        format!("$O.{}.>", knowledge.bucket()),
        REPLY_INBOXES.to_owned(),
    ];
    Ok(Permissions {
        publish: AllowList { allow: publish },
        subscribe: AllowList { allow: subscribe },
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::subject::matches;

    fn alice() -> AgentId {
        AgentId(uuid::Uuid::from_u128(0xa11ce))
    }

    fn fleet() -> Result<KnowledgeSubjects, TransportError> {
        KnowledgeSubjects::new("fleet").map_err(|_| TransportError::InvalidSubject {
            subject: "fleet".to_owned(),
            reason: "not a knowledge space",
        })
    }

    fn may_publish(p: &Permissions, subject: &str) -> bool {
        p.publish.allow.iter().any(|f| matches(f, subject))
    }

    #[test]
    fn an_agent_publishes_only_as_itself() -> Result<(), TransportError> {
        let a = agent_permissions("alice", alice(), &fleet()?)?;
        assert!(may_publish(&a, "cim.agents.alice.heartbeat"));
        assert!(may_publish(&a, "cim.tasks.alice.report"));
        let (id, k) = (alice().to_string(), alice().0.simple().to_string());
        assert!(may_publish(&a, &format!("cim.consensus.p1.vote.{id}")));
        assert!(may_publish(&a, &format!("cim.knowledge.s.sync.{k}.bob")));
        assert!(may_publish(&a, &format!("cim.knowledge.s.changes.{k}")));
        assert!(!may_publish(&a, "cim.agents.bob.heartbeat"));
        assert!(!may_publish(&a, "cim.tasks.bob.report"));
        let bob = AgentId(uuid::Uuid::from_u128(0xb0b));
        assert!(!may_publish(&a, &format!("cim.consensus.p1.vote.{bob}")));
        assert!(!may_publish(&a, "cim.consensus.p1.vote.alice"));
        assert!(!may_publish(
            &a,
            &format!("cim.knowledge.s.sync.{}.{k}", bob.0.simple())
        ));
        assert!(!may_publish(&a, "cim.tasks.alice.inbox.assign"));
        assert!(may_publish(&a, "cim.deployment.p1.findings.alice"));
        assert!(!may_publish(&a, "cim.deployment.p1.findings.bob"));
        assert!(!may_publish(&a, "cim.deployment.deploy"));
        assert!(!may_publish(&a, "cim.agents.roll-call"));
        // JetStream: the knowledge stream and bucket only, and never destructive.
        assert!(may_publish(&a, "$JS.API.STREAM.INFO.CIM_KNOWLEDGE_fleet"));
        assert!(may_publish(
            &a,
            "$JS.API.CONSUMER.CREATE.CIM_KNOWLEDGE_fleet"
        ));
        assert!(may_publish(&a, "$O.cim_knowledge_fleet.C.abc"));
        assert!(!may_publish(&a, "$O.other_bucket.C.abc"));
        assert!(!may_publish(
            &a,
            "$JS.API.STREAM.DELETE.CIM_KNOWLEDGE_fleet"
        ));
        assert!(!may_publish(&a, "$JS.API.STREAM.PURGE.CIM_KNOWLEDGE_fleet"));
        assert!(!may_publish(
            &a,
            "$JS.API.STREAM.UPDATE.CIM_KNOWLEDGE_fleet"
        ));
        assert!(!may_publish(&a, "$JS.API.STREAM.CREATE.CIM_TASKS"));
        assert!(!may_publish(&a, "$JS.API.STREAM.INFO.CIM_TASKS"));
        Ok(())
    }

    #[test]
    fn names_that_would_widen_a_permission_are_refused() {
        for bad in ["", "*", ">", "a.b", "a b"] {
            let space = KnowledgeSubjects::new("fleet").map_err(|e| e.to_string());
            let refused = space.map(|space| agent_permissions(bad, alice(), &space).is_err());
            assert_eq!(refused, Ok(true), "{bad:?}");
        }
    }

    #[test]
    fn every_filter_is_valid() -> Result<(), TransportError> {
        let p = agent_permissions("alice", alice(), &fleet()?)?;
        for f in p.publish.allow.iter().chain(&p.subscribe.allow) {
            crate::subject::validate_filter(f)?;
        }
        Ok(())
    }
}
