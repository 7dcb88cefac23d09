//! The deployment pipeline: a fleet is reviewed by its agents, agreed by consensus, then
//! translated, checked and written, and what was deployed is recorded in the shared knowledge
//! base that every agent holds a replica of.
//!
//! [`Pipeline::deploy`] runs these steps ([`Step`]):
//! 1. **load**: [`Fleet::load`](crate::Fleet::load) (graph, agent definitions, GPU plan, every
//!    problem at once) and translation in memory; the [`GraphVersion`] is the content hash of
//!    the normalised graph and definitions;
//! 2. **register**: every agent in the registry (`cim_agent_coordination::registry`), and a
//!    knowledge replica per agent;
//! 3. **propose**: a consensus proposal (`cim_agent_coordination::consensus`) for exactly this
//!    version, its id derived from the version, electorate = the fleet's agents;
//! 4. **discuss**: each agent receives the proposal over the transport, runs the reviewers its
//!    capabilities select ([`review`]), posts its findings as a turn of the proposal's dialog
//!    (`cim_agent_coordination::dialog`) and votes: against when a finding is blocking;
//! 5. **decide**: the Proposal aggregate decides with the configured protocol; an agent that
//!    failed is a missing vote (the consensus clock is moved to the deadline once every agent
//!    is done, so nobody waits in real time);
//! 6. passed: **allocate-gpus** (the grants recorded in each GPU host's pool, from the hosts'
//!    declared GPUs), **write** (rnix, `nix-instantiate --parse` where installed, then the
//!    files), **record** (facts in `cim_agent_coordination::knowledge`, awaited in every
//!    agent's replica). Rejected: nothing is written; the report names the findings.
//!
//! The same code runs on the embedded back end ([`EmbeddedBackend`]: in-process transport,
//! in-memory event store, KV and knowledge store) and on NATS ([`NatsBackend`]: core NATS and
//! JetStream).

mod backend;
mod gather;
mod participant;
pub mod record;
pub mod remote;
pub mod review;
mod run;
mod summary;
mod version;

pub use backend::{
    Backend, BackendError, EmbeddedBackend, EventStores, KNOWLEDGE_SPACE, NatsBackend,
    REGISTRY_BUCKET,
};
pub(crate) use participant::review_and_choose;
pub use run::{
    AgentParticipation, NixCheck, Pipeline, PipelineError, PipelineOptions, Progress, deployer_id,
};
pub use summary::{DeployReport, EventCounts, Step, StepReport, VoteRecord, WrittenFile};
pub use version::{GraphVersion, content_hash, short_version};
