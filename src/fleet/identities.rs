//! NATS identities of a fleet, resolved when it is loaded: every agent and every service node
//! that connects to a message bus is one NKey user, with the permissions of its role
//! (agents: `cim_agent_coordination::permissions`; services: their edges,
//! [`service_permissions`]). Their public keys come from [`NatsKeys`].

use std::collections::BTreeMap;
use std::path::PathBuf;

use cim_domain_agent::AgentId;

use cim_agent_coordination::knowledge::KnowledgeSubjects;
use cim_agent_coordination::permissions::agent_permissions;
use cim_domain_graph::DeploymentGraph;
use cim_domain_graph::translate::nats_auth::{
    Allowed, ClientKind, NatsUser, nats_clients, service_permissions,
};

use super::FleetError;
use crate::nats_keys::{OPERATOR_IDENTITY, PublicKeys};

/// Where the public NKeys of a fleet's NATS identities come from ([`FleetOptions`]).
///
/// [`FleetOptions`]: super::FleetOptions
#[derive(Debug, Clone, Default)]
pub enum NatsKeys {
    /// No keys: the buses are generated without authorization, open to anyone who reaches
    /// their port. The library default, so embedders that do not deploy NATS are unaffected;
    /// `cim-leaf translate` says so on stderr when the fleet has NATS identities.
    #[default]
    Open,
    /// The public keys file `cim-leaf keys generate` wrote (`nats-public-keys.json`), read when
    /// the fleet is loaded.
    File(PathBuf),
    /// Keys already in memory.
    Keys(PublicKeys),
}

/// The NATS users of `graph`, sorted by identity; empty for [`NatsKeys::Open`]. An agent's
/// permissions name its id (`agent_ids`, from its definition) where the coordination subjects
/// carry ids.
///
/// # Errors
/// [`FleetError::NatsKeys`] when the file cannot be read; [`FleetError::MissingNatsKeys`]
/// naming every identity without a key.
pub(super) fn resolve(
    graph: &DeploymentGraph,
    agent_ids: &BTreeMap<&str, AgentId>,
    keys: &NatsKeys,
) -> Result<Vec<NatsUser>, FleetError> {
    let read;
    let keys = match keys {
        NatsKeys::Open => return Ok(Vec::new()),
        NatsKeys::File(path) => {
            read = PublicKeys::read(path).map_err(FleetError::NatsKeys)?;
            &read
        }
        NatsKeys::Keys(keys) => keys,
    };
    let mut users = Vec::new();
    let mut missing = Vec::new();
    // The operator tools (deploy, serve, tasks serve) administer the coordination streams.
    if let Some(nkey) = keys.get(OPERATOR_IDENTITY) {
        users.push(NatsUser {
            identity: OPERATOR_IDENTITY.to_owned(),
            nkey: nkey.to_owned(),
            allowed: Allowed {
                publish: vec![">".to_owned()],
                subscribe: vec![">".to_owned()],
            },
        });
    }
    // The knowledge space every agent's replica lives in (the pipeline's): a constant name.
    let space = KnowledgeSubjects::new(crate::pipeline::KNOWLEDGE_SPACE).map_err(|error| {
        FleetError::NatsIdentity {
            identity: crate::pipeline::KNOWLEDGE_SPACE.to_owned(),
            reason: error.to_string(),
        }
    })?;
    for client in nats_clients(graph) {
        let Some(nkey) = keys.get(&client.name) else {
            missing.push(client.name);
            continue;
        };
        let allowed = match client.kind {
            ClientKind::Agent => {
                let Some(id) = agent_ids.get(client.name.as_str()) else {
                    // An agent node whose definition did not load: reported by the loader.
                    continue;
                };
                let permissions =
                    agent_permissions(&client.name, *id, &space).map_err(|error| {
                        FleetError::NatsIdentity {
                            identity: client.name.clone(),
                            reason: error.to_string(),
                        }
                    })?;
                Allowed {
                    publish: permissions.publish.allow,
                    subscribe: permissions.subscribe.allow,
                }
            }
            ClientKind::Service => service_permissions(graph, &client.name),
        };
        users.push(NatsUser {
            identity: client.name,
            nkey: nkey.to_owned(),
            allowed,
        });
    }
    if missing.is_empty() {
        Ok(users)
    } else {
        Err(FleetError::MissingNatsKeys { missing })
    }
}
