use super::node::{ClusterSpec, NodeSpec, connect, free_ports};
use super::{HarnessError, NatsServer};
use crate::SyncPolicy;

/// A JetStream cluster of real `nats-server` processes on loopback, fully routed to each other.
///
/// Every node keeps its ports and store directory across [`kill`](Self::kill) and
/// [`restart`](Self::restart), so a restarted node rejoins as the same peer.
///
/// ```no_run
/// # async fn demo() -> Result<(), Box<dyn std::error::Error>> {
/// use cim_jetstream::testing::NatsCluster;
/// let mut cluster = NatsCluster::start(3).await?;
/// let client = cluster.client().await?;
/// cluster.kill(0)?;
/// cluster.restart(0).await?;
/// # drop(client); Ok(()) }
/// ```
#[derive(Debug)]
pub struct NatsCluster {
    nodes: Vec<NatsServer>,
}

impl NatsCluster {
    /// Starts `size` routed nodes with the sync policy of
    /// [`harness_sync_policy`](super::harness_sync_policy) and waits until every one reports
    /// JetStream healthy (which needs an elected meta leader).
    pub async fn start(size: usize) -> Result<Self, HarnessError> {
        Self::start_with_sync(size, super::harness_sync_policy()?).await
    }

    /// Starts `size` routed nodes whose stores sync to disk as `sync` says.
    pub async fn start_with_sync(size: usize, sync: SyncPolicy) -> Result<Self, HarnessError> {
        let mut ports = Vec::with_capacity(size);
        for _ in 0..size {
            ports.push(free_ports::<3>()?);
        }
        let route_ports: Vec<u16> = ports.iter().map(|[_, _, route]| *route).collect();
        let mut nodes = Vec::with_capacity(size);
        for (index, [port, monitor_port, route_port]) in ports.into_iter().enumerate() {
            let spec = NodeSpec {
                name: format!("cim-test-n{}", index + 1),
                port,
                monitor_port,
                cluster: Some(ClusterSpec {
                    name: "cim-test".to_string(),
                    port: route_port,
                    routes: route_ports
                        .iter()
                        .copied()
                        .filter(|p| *p != route_port)
                        .collect(),
                }),
                sync,
                extra: String::new(),
            };
            nodes.push(NatsServer::create(spec)?);
        }
        // Start all before waiting: a node is only healthy once it sees a quorum.
        for node in &mut nodes {
            node.spawn()?;
        }
        for node in &mut nodes {
            node.wait_ready().await?;
        }
        Ok(Self { nodes })
    }

    /// How many nodes the cluster has.
    pub fn len(&self) -> usize {
        self.nodes.len()
    }

    /// Whether the cluster has no nodes.
    pub fn is_empty(&self) -> bool {
        self.nodes.is_empty()
    }

    /// The client URLs of all nodes.
    pub fn urls(&self) -> Vec<String> {
        self.nodes.iter().map(NatsServer::url).collect()
    }

    /// Connects a client that knows every node, so it fails over when one dies.
    pub async fn client(&self) -> Result<async_nats::Client, HarnessError> {
        connect(&self.urls()).await
    }

    /// One node, for its URL, name or store directory.
    pub fn node(&self, index: usize) -> Result<&NatsServer, HarnessError> {
        let size = self.nodes.len();
        self.nodes
            .get(index)
            .ok_or(HarnessError::NoSuchNode { index, size })
    }

    /// One node, mutably, to stop, kill or restart it.
    pub fn node_mut(&mut self, index: usize) -> Result<&mut NatsServer, HarnessError> {
        let size = self.nodes.len();
        self.nodes
            .get_mut(index)
            .ok_or(HarnessError::NoSuchNode { index, size })
    }

    /// Kills one node with SIGKILL.
    pub fn kill(&mut self, index: usize) -> Result<(), HarnessError> {
        self.node_mut(index)?.kill();
        Ok(())
    }

    /// Restarts one node on its old ports and store directory and waits until it is healthy.
    pub async fn restart(&mut self, index: usize) -> Result<(), HarnessError> {
        self.node_mut(index)?.restart().await
    }
}
