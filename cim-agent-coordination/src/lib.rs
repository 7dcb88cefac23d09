//! Agent coordination over NATS: registry and presence, task coordination, dialog routing,
//! consensus voting and the shared knowledge base (an automerge CRDT synchronised over NATS).
//!
//! This crate is a placeholder until its issue is taken: it owns nothing yet, and the crates it
//! will build on (`cim-domain-agent` for ids and capabilities, `async-nats` and `automerge` for
//! transport and state) are already wired so its public API can grow without reshaping the workspace.
