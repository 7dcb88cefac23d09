//! Where the pipeline keeps its state and how its agents talk: in process (the embedded
//! default) or on a NATS server (JetStream for events, KV and knowledge; core NATS for
//! messages). Both run the same code; only these handles differ.

use cim_agent_coordination::consensus::Proposal;
use cim_agent_coordination::knowledge::{
    JetStreamKnowledgeStore, JetStreamStoreConfig, KnowledgeError, KnowledgeSubjects,
    MemoryKnowledgeStore,
};
use cim_agent_coordination::transport::kv::{InProcessKeyValue, JetStreamKeyValue, KvError};
use cim_agent_coordination::transport::{InProcessTransport, NatsTransport};
use cim_domain_graph::aggregate::DeploymentGraphAggregate;
use cim_gpu::GpuPool;

use crate::nats_client::NatsClientAuth;
use cim_jetstream::{
    InMemoryEventRepository, InMemoryEventStore, JetStreamConfig, JetStreamError,
    JetStreamEventRepository, JetStreamEventStore,
};
use cqrs_es::EventStore;

/// The registry's KV bucket on a NATS server (shared with `cim-leaf agents ls` and `tasks`).
pub const REGISTRY_BUCKET: &str = "cim-agents";

/// The knowledge space deployments are recorded in (`cim.knowledge.fleet.…`).
pub const KNOWLEDGE_SPACE: &str = "fleet";

/// The event stores of the aggregates the pipeline drives, opened as often as needed over one
/// backing repository.
pub trait EventStores: Clone + Send + Sync + 'static {
    /// Consensus proposals.
    type Proposals: EventStore<Proposal, AC: Send> + 'static;
    /// GPU pools (one aggregate per GPU host).
    type GpuPools: EventStore<GpuPool, AC: Send> + 'static;
    /// Deployment graphs (one aggregate per graph file).
    type Graphs: EventStore<DeploymentGraphAggregate, AC: Send> + 'static;

    /// A store of proposals.
    fn proposals(&self) -> Self::Proposals;

    /// A store of GPU pools.
    fn gpu_pools(&self) -> Self::GpuPools;

    /// A store of deployment graphs.
    fn graphs(&self) -> Self::Graphs;
}

impl EventStores for InMemoryEventRepository {
    type Proposals = InMemoryEventStore<Proposal>;
    type GpuPools = InMemoryEventStore<GpuPool>;
    type Graphs = InMemoryEventStore<DeploymentGraphAggregate>;

    fn proposals(&self) -> Self::Proposals {
        InMemoryEventStore::new_event_store(self.clone())
    }

    fn gpu_pools(&self) -> Self::GpuPools {
        InMemoryEventStore::new_event_store(self.clone())
    }

    fn graphs(&self) -> Self::Graphs {
        InMemoryEventStore::new_event_store(self.clone())
    }
}

impl EventStores for JetStreamEventRepository {
    type Proposals = JetStreamEventStore<Proposal>;
    type GpuPools = JetStreamEventStore<GpuPool>;
    type Graphs = JetStreamEventStore<DeploymentGraphAggregate>;

    fn proposals(&self) -> Self::Proposals {
        JetStreamEventStore::new_event_store(self.clone())
    }

    fn gpu_pools(&self) -> Self::GpuPools {
        JetStreamEventStore::new_event_store(self.clone())
    }

    fn graphs(&self) -> Self::Graphs {
        JetStreamEventStore::new_event_store(self.clone())
    }
}

/// Everything the pipeline runs over. Clones share the same state.
#[derive(Clone)]
pub struct Backend<T, K, S, E> {
    /// Messages between the agents, the coordinator and the replicas.
    pub transport: T,
    /// The registry's bucket.
    pub registry: K,
    /// The knowledge base's durable change log and snapshot.
    pub knowledge: S,
    /// The knowledge space's subjects.
    pub knowledge_subjects: KnowledgeSubjects,
    /// Event stores.
    pub events: E,
    /// Where this is, in words (`in process`, `NATS at nats://…`).
    pub description: String,
}

/// The embedded default: everything in this process.
pub type EmbeddedBackend =
    Backend<InProcessTransport, InProcessKeyValue, MemoryKnowledgeStore, InMemoryEventRepository>;

/// On a NATS server: JetStream and core NATS.
pub type NatsBackend =
    Backend<NatsTransport, JetStreamKeyValue, JetStreamKnowledgeStore, JetStreamEventRepository>;

/// Why a back end could not be opened.
#[derive(Debug, thiserror::Error)]
pub enum BackendError {
    /// The NATS server cannot be reached.
    #[error(
        "connecting to NATS at {}: {reason}",
        cim_naming::redact::redact_url(url)
    )]
    Connect {
        /// The URL.
        url: String,
        /// Why.
        reason: String,
    },
    /// The event store cannot be opened.
    #[error(transparent)]
    Events(#[from] JetStreamError),
    /// The registry's bucket cannot be opened.
    #[error("registry bucket: {0}")]
    Registry(#[from] KvError),
    /// The knowledge store cannot be opened.
    #[error(transparent)]
    Knowledge(#[from] KnowledgeError),
}

impl EmbeddedBackend {
    /// A fresh in-process back end.
    ///
    /// # Errors
    /// Never in practice: only when the fixed knowledge space name were invalid.
    pub fn embedded() -> Result<Self, BackendError> {
        Ok(Self {
            transport: InProcessTransport::default(),
            registry: InProcessKeyValue::new(),
            knowledge: MemoryKnowledgeStore::default(),
            knowledge_subjects: KnowledgeSubjects::new(KNOWLEDGE_SPACE)?,
            events: InMemoryEventRepository::new(),
            description: "in process".to_owned(),
        })
    }
}

impl NatsBackend {
    /// Connects to the NATS server at `url` (JetStream enabled) and opens the event stream, the
    /// registry bucket [`REGISTRY_BUCKET`] and the knowledge space [`KNOWLEDGE_SPACE`].
    ///
    /// # Errors
    /// [`BackendError`] naming what could not be opened.
    pub async fn connect(url: &str) -> Result<Self, BackendError> {
        Self::connect_with(url, &NatsClientAuth::default()).await
    }

    /// Like [`connect`](Self::connect), authenticating with `auth` (the `_operator` seed on a
    /// bus that requires NKeys, see [`crate::nats_keys::OPERATOR_IDENTITY`]).
    ///
    /// # Errors
    /// [`BackendError`] naming what could not be opened; a credential that cannot be used is a
    /// [`BackendError::Connect`].
    pub async fn connect_with(url: &str, auth: &NatsClientAuth) -> Result<Self, BackendError> {
        let connect_error = |reason: String| BackendError::Connect {
            url: url.to_owned(),
            reason,
        };
        let options = auth
            .apply(async_nats::ConnectOptions::new())
            .await
            .map_err(|error| connect_error(error.to_string()))?;
        let client = options
            .connect(url)
            .await
            .map_err(|error| connect_error(error.to_string()))?;
        let events =
            JetStreamEventRepository::new(client.clone(), JetStreamConfig::default()).await?;
        let registry = JetStreamKeyValue::open(client.clone(), REGISTRY_BUCKET, 1).await?;
        let knowledge_subjects = KnowledgeSubjects::new(KNOWLEDGE_SPACE)?;
        let knowledge = JetStreamKnowledgeStore::open(
            client.clone(),
            knowledge_subjects.clone(),
            JetStreamStoreConfig::default(),
        )
        .await?;
        Ok(Self {
            transport: NatsTransport::new(client),
            registry,
            knowledge,
            knowledge_subjects,
            events,
            description: format!("NATS at {}", cim_naming::redact::redact_url(url)),
        })
    }
}
