//! Shared behaviour scripts: each runs against the in-process default and a real nats-server.
#![allow(dead_code)]

pub mod consensus_script;
pub mod dialog_script;
pub mod knowledge_script;
pub mod transport_script;
