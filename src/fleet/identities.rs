//! NATS identities of a fleet, resolved when it is loaded: every agent and every service node
//! that connects to a message bus is one NKey user, with the permissions of its role
//! (agents: `cim_agent_coordination::permissions`; services: their edges,
//! [`service_permissions`]). Their public keys come from [`NatsKeys`].

use std::path::PathBuf;

use cim_agent_coordination::permissions::agent_permissions;
use cim_domain_graph::DeploymentGraph;
use cim_domain_graph::translate::nats_auth::{
    Allowed, ClientKind, NatsUser, nats_clients, service_permissions,
};

use super::FleetError;
use crate::nats_keys::PublicKeys;

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

/// The NATS users of `graph`, sorted by identity; empty for [`NatsKeys::Open`].
///
/// # Errors
/// [`FleetError::NatsKeys`] when the file cannot be read; [`FleetError::MissingNatsKeys`]
/// naming every identity without a key.
pub(super) fn resolve(
    graph: &DeploymentGraph,
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
    for client in nats_clients(graph) {
        let Some(nkey) = keys.get(&client.name) else {
            missing.push(client.name);
            continue;
        };
        let allowed = match client.kind {
            ClientKind::Agent => {
                let permissions =
                    agent_permissions(&client.name).map_err(|error| FleetError::NatsIdentity {
                        identity: client.name.clone(),
                        reason: error.to_string(),
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
