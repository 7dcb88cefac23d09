//! The GPU reviewer: every agent's GPU request is granted from its host's declared inventory,
//! whole devices, none twice.

use std::collections::{BTreeMap, BTreeSet};

use cim_domain_graph::{DeploymentGraph, DeploymentNodeType};
use cim_gpu::InventoryBackend as _;

use super::{Finding, ReviewContext, ReviewError, Reviewer, Severity};
use crate::GpuGrant;

/// Checks the fleet's GPU grants against what each agent asks for (the larger of its node's
/// `gpus` and its definition's `deployment.resources.gpus`) and the hosts' declared GPUs
/// (`cim_gpu::DeclaredInventory`). `Fleet::load` already refuses requests a host cannot meet;
/// this is the GPU expert's independent check of the grants themselves.
#[derive(Debug, Clone, Copy, Default)]
pub struct GpuReviewer;

const NAME: &str = "gpu";

impl Reviewer for GpuReviewer {
    fn name(&self) -> &str {
        NAME
    }

    fn review(&self, context: &ReviewContext<'_>) -> Result<Vec<Finding>, ReviewError> {
        let fleet = context.fleet;
        let requests: BTreeMap<String, u64> = fleet
            .agents()
            .iter()
            .filter_map(|agent| {
                let node = match fleet.graph().node(&agent.node).map(|n| &n.node_type) {
                    Some(DeploymentNodeType::Agent(spec)) => spec.gpus,
                    _ => 0,
                };
                let definition = agent
                    .source
                    .definition
                    .deployment
                    .resources
                    .gpus
                    .unwrap_or(0);
                let gpus = u64::from(node.max(definition));
                (gpus > 0).then(|| (agent.node.clone(), gpus))
            })
            .collect();
        Ok(review_gpu_grants(
            fleet.graph(),
            &requests,
            fleet.gpu_grants(),
        ))
    }
}

/// The findings for `grants` (by agent) against `requests` (GPUs per agent) and the declared
/// GPUs of `graph`'s hosts: an agent granted fewer or more GPUs than it asks for, a grant on
/// another host than the agent's, a GPU its host does not declare, and a GPU granted twice.
/// Blocking, each naming the agent; sorted by agent.
pub fn review_gpu_grants(
    graph: &DeploymentGraph,
    requests: &BTreeMap<String, u64>,
    grants: &BTreeMap<String, Vec<GpuGrant>>,
) -> Vec<Finding> {
    let mut findings = Vec::new();
    let agents: BTreeSet<&String> = requests.keys().chain(grants.keys()).collect();
    let mut granted_to: BTreeMap<(String, String), &str> = BTreeMap::new();
    for agent in agents {
        let asked = requests.get(agent).copied().unwrap_or(0);
        let given = grants.get(agent).map(Vec::as_slice).unwrap_or_default();
        let block = |reason: String| Finding::new(Severity::Blocking, NAME, Some(agent), reason);
        if given.len() as u64 != asked {
            findings.push(block(format!(
                "asks for {asked} GPU(s) but is granted {}",
                given.len()
            )));
        }
        let host = graph.host_of(agent).map(|h| h.name.as_str());
        for grant in given {
            if host != Some(grant.host.as_str()) {
                findings.push(block(format!(
                    "granted GPU {} on host {}, but runs on {}",
                    grant.uuid,
                    grant.host,
                    host.unwrap_or("no host")
                )));
                continue;
            }
            let declared = match graph.node(&grant.host).map(|n| &n.node_type) {
                Some(DeploymentNodeType::Host(spec)) => spec
                    .gpu_inventory(&grant.host)
                    .devices()
                    .map(|devices| devices.iter().any(|d| d.uuid() == &grant.uuid))
                    .unwrap_or(false),
                _ => false,
            };
            if !declared {
                findings.push(block(format!(
                    "granted GPU {}, which host {} does not declare",
                    grant.uuid, grant.host
                )));
            }
            let key = (grant.host.clone(), grant.uuid.to_string());
            if let Some(other) = granted_to.insert(key, agent) {
                findings.push(block(format!(
                    "granted GPU {} on {}, already granted to {other}",
                    grant.uuid, grant.host
                )));
            }
        }
    }
    findings
}
