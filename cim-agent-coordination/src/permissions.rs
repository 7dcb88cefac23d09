//! NATS permissions of an agent, generated from the subject scheme ([`crate::subject`]).
//!
//! Each agent is its own NATS user (an NKey); the server enforces what the user may publish and
//! subscribe to. The rules come from the subject table: an agent publishes only on subjects that
//! carry its own name, so no agent can publish as another.
//!
//! | | allowed |
//! |---|---|
//! | publish | `cim.agents.<a>.>`, `cim.tasks.<a>.report`, `cim.dialog.*.to.*`, `cim.consensus.*.vote.<a>`, `cim.consensus.*.veto.<a>`, `cim.knowledge.*.hello.<a>`, `cim.knowledge.*.sync.<a>.*`, `cim.knowledge.*.changes.<a>`, `_INBOX.>` (replies) |
//! | subscribe | `cim.agents.>`, `cim.tasks.<a>.inbox.>`, `cim.dialog.*.to.<a>`, `cim.consensus.*.opened`, `cim.consensus.*.outcome`, `cim.knowledge.*.hello.*`, `cim.knowledge.*.sync.*.<a>`, `cim.knowledge.*.changes.*`, `$SRV.>` (service discovery), `_INBOX.>` |
//!
//! Dialog turns are addressed to the recipient (`cim.dialog.<dialog>.to.<recipient>`), so a
//! participant publishes to other agents' dialog inboxes; that subject does not name the sender.
//! Not covered yet: the JetStream API (`$JS.API.>`) the durable task inbox consumer needs.

use serde::Serialize;

use crate::subject::{AGENTS, CONSENSUS, DIALOG, KNOWLEDGE, TASKS, validate_token};
use crate::transport::TransportError;

/// Prefix of the reply inboxes async-nats creates (`_INBOX.<nuid>`).
pub const REPLY_INBOXES: &str = "_INBOX.>";

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

/// The permissions of agent `agent`, per the table in the [module documentation](self).
///
/// # Errors
/// [`TransportError::InvalidSubject`] when `agent` is not a subject token (empty, or holding
/// whitespace, `.`, `*` or `>`), so a name never widens a permission.
pub fn agent_permissions(agent: &str) -> Result<Permissions, TransportError> {
    validate_token(agent)?;
    let a = agent;
    let publish = vec![
        format!("{AGENTS}.{a}.>"),
        format!("{TASKS}.{a}.report"),
        format!("{DIALOG}.*.to.*"),
        format!("{CONSENSUS}.*.vote.{a}"),
        format!("{CONSENSUS}.*.veto.{a}"),
        format!("{KNOWLEDGE}.*.hello.{a}"),
        format!("{KNOWLEDGE}.*.sync.{a}.*"),
        format!("{KNOWLEDGE}.*.changes.{a}"),
        // Reviewing deployment proposals from its own process (`cim_leaf::runtime`): asking
        // for the material, its findings, its replica's report.
        "cim.deployment.*.material".to_owned(),
        format!("cim.deployment.*.findings.{a}"),
        format!("cim.deployment.*.shown.{a}"),
        REPLY_INBOXES.to_owned(),
    ];
    let subscribe = vec![
        format!("{AGENTS}.>"),
        format!("{TASKS}.{a}.inbox.>"),
        format!("{DIALOG}.*.to.{a}"),
        format!("{CONSENSUS}.*.opened"),
        format!("{CONSENSUS}.*.outcome"),
        format!("{KNOWLEDGE}.*.hello.*"),
        format!("{KNOWLEDGE}.*.sync.*.{a}"),
        format!("{KNOWLEDGE}.*.changes.*"),
        // Service discovery (`nats micro ls`: `$SRV.PING|INFO|STATS...`): the runtime answers
        // as a NATS service; its answers go to reply inboxes.
        "$SRV.>".to_owned(),
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

    fn may_publish(p: &Permissions, subject: &str) -> bool {
        p.publish.allow.iter().any(|f| matches(f, subject))
    }

    #[test]
    fn an_agent_publishes_only_as_itself() -> Result<(), TransportError> {
        let a = agent_permissions("alice")?;
        assert!(may_publish(&a, "cim.agents.alice.heartbeat"));
        assert!(may_publish(&a, "cim.tasks.alice.report"));
        assert!(may_publish(&a, "cim.consensus.p1.vote.alice"));
        assert!(may_publish(&a, "cim.knowledge.s.sync.alice.bob"));
        assert!(!may_publish(&a, "cim.agents.bob.heartbeat"));
        assert!(!may_publish(&a, "cim.tasks.bob.report"));
        assert!(!may_publish(&a, "cim.consensus.p1.vote.bob"));
        assert!(!may_publish(&a, "cim.knowledge.s.sync.bob.alice"));
        assert!(!may_publish(&a, "cim.tasks.alice.inbox.assign"));
        assert!(may_publish(&a, "cim.deployment.p1.findings.alice"));
        assert!(!may_publish(&a, "cim.deployment.p1.findings.bob"));
        assert!(!may_publish(&a, "cim.deployment.deploy"));
        assert!(!may_publish(&a, "cim.agents.roll-call"));
        Ok(())
    }

    #[test]
    fn names_that_would_widen_a_permission_are_refused() {
        for bad in ["", "*", ">", "a.b", "a b"] {
            assert!(agent_permissions(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn every_filter_is_valid() -> Result<(), TransportError> {
        let p = agent_permissions("alice")?;
        for f in p.publish.allow.iter().chain(&p.subscribe.allow) {
            crate::subject::validate_filter(f)?;
        }
        Ok(())
    }
}
