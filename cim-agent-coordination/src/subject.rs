//! NATS subjects: validation of the subjects this crate publishes to and subscribes on, and the
//! one subject scheme of the coordination layer.
//!
//! # Rules (NATS "Subject-Based Messaging", the server's `subjectIsValid`)
//! A subject is one or more *tokens* joined by `.`; a token is non-empty and contains no
//! whitespace (space, tab, CR, LF), no `.`, and no NUL. A *filter* may also use the wildcards `*`
//! (exactly one token) and `>` (one or more tokens, last token only); a subject a message is
//! *published* to may not. Every subject this crate builds goes through these checks, so a name
//! from outside never turns into a wildcard or an extra token.
//!
//! # The scheme
//! Every coordination subject starts with [`ROOT`] (`cim`); the second token names the layer:
//!
//! | subjects | who publishes | what |
//! |---|---|---|
//! | `cim.agents.<name>.{registered,heartbeat,deregistered}` | the agent `<name>` | announcements ([`cim_domain_agent::announce`]) |
//! | `cim.agents.roll-call` ([`crate::registry::ROLL_CALL`]) | a registry or the deployment pipeline | every agent runtime announces its registration again |
//! | `cim.deployment.<proposal>.{material,findings.<agent>,shown.<agent>}` | the pipeline / the agent `<agent>` | a deployment proposal reviewed by agents in other processes (`cim_leaf::pipeline::remote`) |
//! | `cim.tasks.api` | clients (CLI) | request/reply: submit, cancel, show, list ([`crate::tasks::TaskRequest`]) |
//! | `cim.tasks.<agent>.inbox.{assign,cancel}` | coordinator | durable (JetStream work queue): assignments and cancellations for `<agent>` |
//! | `cim.tasks.<agent>.report` | the agent `<agent>` | durable: acknowledgement, progress, result of an assignment, fenced by attempt |
//! | `cim.dialog.<dialog>.to.<agent>` ([`dialog_inbox`]) | dialog participants (via [`crate::dialog::DialogChannel`]) | one turn of dialog `<dialog>` delivered to `<agent>`, its context filtered for that agent; `<agent>` subscribes to `cim.dialog.*.to.<agent>` |
//! | `cim.consensus.<proposal>.{opened,outcome}` | the consensus coordinator | announcement, decision ([`crate::consensus::wire`]) |
//! | `cim.consensus.<proposal>.{vote,veto}.<agent>` | the voter `<agent>` (request) | ballot, answered with a receipt |
//! | `cim.knowledge.<space>.hello.<agent>` | the replica of `<agent>` | presence: incarnation, heads ([`crate::knowledge::KnowledgeSubjects`]) |
//! | `cim.knowledge.<space>.sync.<from>.<to>` | the replica of `<from>` | one automerge sync message to `<to>` |
//! | `cim.knowledge.<space>.changes.<agent>` | the replica of `<agent>` (JetStream) | its stored changes, `Nats-Msg-Id` = change hash |
//!
//! An agent publishes only on subjects that carry its own name (or, for replies, on the inbox it
//! was given), which is what lets NATS permissions be generated from this table.

use crate::transport::TransportError;

/// First token of every coordination subject.
pub const ROOT: &str = "cim";
/// Prefix of agent announcements (`cim.agents`), shared with `cim-domain-agent`.
pub const AGENTS: &str = cim_domain_agent::announce::SUBJECT_PREFIX;
/// Prefix of task coordination subjects.
pub const TASKS: &str = "cim.tasks";
/// Request/reply subject of the task API (submit, cancel, show, list).
pub const TASKS_API: &str = "cim.tasks.api";

/// Filter of every agent's task reports (`cim.tasks.*.report`), consumed by the coordinator.
pub const TASK_REPORTS: &str = "cim.tasks.*.report";

/// The subjects the durable task stream stores: inboxes and reports, never the API.
pub fn task_stream_subjects() -> Vec<String> {
    vec!["cim.tasks.*.inbox.>".to_owned(), TASK_REPORTS.to_owned()]
}

/// `cim.tasks.<agent>.inbox.<kind>`: where the coordinator sends `<agent>` an assignment
/// (`assign`) or a cancellation (`cancel`).
///
/// # Errors
/// [`TransportError::InvalidSubject`] when `agent` or `kind` is not a token.
pub fn task_inbox(agent: &str, kind: &str) -> Result<String, TransportError> {
    validate_token(agent)?;
    validate_token(kind)?;
    Ok(format!("{TASKS}.{agent}.inbox.{kind}"))
}

/// `cim.tasks.<agent>.inbox.>`: everything for `<agent>`, the filter of its durable consumer.
///
/// # Errors
/// [`TransportError::InvalidSubject`] when `agent` is not a token.
pub fn task_inbox_filter(agent: &str) -> Result<String, TransportError> {
    validate_token(agent)?;
    Ok(format!("{TASKS}.{agent}.inbox.>"))
}

/// `cim.tasks.<agent>.report`: where `<agent>` reports on its assignments.
///
/// # Errors
/// [`TransportError::InvalidSubject`] when `agent` is not a token.
pub fn task_report(agent: &str) -> Result<String, TransportError> {
    validate_token(agent)?;
    Ok(format!("{TASKS}.{agent}.report"))
}

/// Prefix of dialog subjects.
pub const DIALOG: &str = "cim.dialog";
/// Prefix of consensus subjects.
pub const CONSENSUS: &str = "cim.consensus";
/// Prefix of shared-knowledge subjects.
pub const KNOWLEDGE: &str = "cim.knowledge";

/// The subject on which agent `agent` receives the turns of dialog `dialog`:
/// `cim.dialog.<dialog>.to.<agent>`.
///
/// # Errors
/// [`TransportError::InvalidSubject`] when either name is not a valid token.
pub fn dialog_inbox(dialog: &str, agent: &str) -> Result<String, TransportError> {
    validate_token(dialog)?;
    validate_token(agent)?;
    Ok(format!("{DIALOG}.{dialog}.to.{agent}"))
}

/// Why a token, subject or filter is not valid.
fn token_problem(token: &str, wildcards: bool) -> Option<&'static str> {
    if token.is_empty() {
        return Some("empty token");
    }
    if token
        .chars()
        .any(|c| c.is_whitespace() || c == '\0' || c == '.')
    {
        return Some("whitespace, NUL or '.' inside a token");
    }
    if !wildcards && (token == "*" || token == ">") {
        return Some("wildcard in a subject that is published to");
    }
    if token.len() > 1 && (token.contains('*') || token.contains('>')) && !wildcards {
        // `a*b` is a literal token to the server, but it reads as a wildcard to people and to
        // permission rules; refuse it where we build subjects from names.
        return Some("'*' or '>' inside a token");
    }
    None
}

/// Checks one token that will be placed inside a subject (an agent name, a dialog id).
///
/// # Errors
/// [`TransportError::InvalidSubject`] when the token is empty, contains whitespace, NUL, `.`,
/// `*` or `>`.
pub fn validate_token(token: &str) -> Result<(), TransportError> {
    match token_problem(token, false) {
        Some(reason) => Err(TransportError::InvalidSubject {
            subject: token.to_owned(),
            reason,
        }),
        None if token.contains('*') || token.contains('>') => Err(TransportError::InvalidSubject {
            subject: token.to_owned(),
            reason: "'*' or '>' inside a token",
        }),
        None => Ok(()),
    }
}

/// Checks a subject a message is published to: tokens only, no wildcards.
///
/// # Errors
/// [`TransportError::InvalidSubject`] naming the subject and the rule it breaks.
pub fn validate_subject(subject: &str) -> Result<(), TransportError> {
    for token in subject.split('.') {
        if let Some(reason) = token_problem(token, false) {
            return Err(TransportError::InvalidSubject {
                subject: subject.to_owned(),
                reason,
            });
        }
    }
    Ok(())
}

/// Checks a subscription filter: tokens, `*` for one token, `>` as the last token only.
///
/// # Errors
/// [`TransportError::InvalidSubject`] naming the filter and the rule it breaks.
pub fn validate_filter(filter: &str) -> Result<(), TransportError> {
    let tokens: Vec<&str> = filter.split('.').collect();
    for (i, token) in tokens.iter().enumerate() {
        if let Some(reason) = token_problem(token, true) {
            return Err(TransportError::InvalidSubject {
                subject: filter.to_owned(),
                reason,
            });
        }
        if *token == ">" && i + 1 != tokens.len() {
            return Err(TransportError::InvalidSubject {
                subject: filter.to_owned(),
                reason: "'>' is allowed only as the last token",
            });
        }
        if token.len() > 1 && (token.contains('*') || token.contains('>')) {
            return Err(TransportError::InvalidSubject {
                subject: filter.to_owned(),
                reason: "'*' or '>' inside a token",
            });
        }
    }
    Ok(())
}

/// Whether `subject` (already valid) matches `filter` (already valid), with NATS wildcard rules.
pub fn matches(filter: &str, subject: &str) -> bool {
    let mut f = filter.split('.');
    let mut s = subject.split('.');
    loop {
        match (f.next(), s.next()) {
            (Some(">"), Some(_)) => return true,
            (Some("*"), Some(_)) => {}
            (Some(a), Some(b)) if a == b => {}
            (None, None) => return true,
            _ => return false,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wildcards_match_like_the_server() {
        assert!(matches(
            "cim.agents.*.heartbeat",
            "cim.agents.sage.heartbeat"
        ));
        assert!(!matches(
            "cim.agents.*.heartbeat",
            "cim.agents.sage.x.heartbeat"
        ));
        assert!(matches("cim.>", "cim.agents.sage"));
        assert!(!matches("cim.>", "cim"));
        assert!(matches("a.b", "a.b"));
        assert!(!matches("a.b", "a.b.c"));
        assert!(!matches("a.b.c", "a.b"));
    }

    #[test]
    fn names_that_would_break_a_subject_are_refused() {
        for bad in ["", "a b", "a.b", "*", ">", "a*", "x>", "a\nb", "a\0"] {
            assert!(validate_token(bad).is_err(), "{bad:?}");
        }
        assert!(validate_token("sage-2_x").is_ok());
        assert!(validate_subject("cim..x").is_err());
        assert!(validate_subject("cim.*.x").is_err());
        assert!(validate_filter("cim.>.x").is_err());
        assert!(validate_filter("cim.*.x.>").is_ok());
    }
}
