//! Shared behaviour scripts: each runs against the in-process default and a real nats-server.
#![allow(dead_code)]
pub mod consensus_script;
pub mod delivery_script;
pub mod dialog_script;
pub mod knowledge_script;
pub mod kv_script;
pub mod registry_script;
pub mod tasks_script;
pub mod transport_script;
pub mod work_queue_script;
