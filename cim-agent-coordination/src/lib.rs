//! Agent coordination over NATS: registry and presence, task coordination, dialog routing,
//! consensus voting and the shared knowledge base (an automerge CRDT synchronised over NATS).
//!
//! Every part talks through one seam, [`transport::Transport`], with two implementations of the
//! same behaviour: [`transport::NatsTransport`] (core NATS, production) and
//! [`transport::InProcessTransport`] (the embedded default). Subjects follow the one scheme in
//! [`subject`]; decisions (assignment, routing, tally) are pure functions of state, so they are
//! property-tested and benched in process, and the transport only moves messages.

pub mod clock;
pub mod consensus;
pub mod dialog;
pub mod knowledge;
pub mod permissions;
pub mod registry;
pub mod subject;
pub mod tasks;
pub mod transport;
