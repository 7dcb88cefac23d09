//! What each request does to the graph: pure functions from one graph document to the next.
//! Nothing here checks the result as a whole; the changed document is loaded as a
//! [`Fleet`](crate::Fleet), which reports every problem, before the agents review it.

use std::collections::BTreeMap;

use cim_domain_graph::{
    AgentSpec, DeploymentEdgeType, DeploymentNodeType, GraphDocument, NodeEntry,
};

use cim_domain_graph::translate::darwin::is_darwin;

use super::wire::{ErrorBody, ErrorCode, GpuAgentRequest, MAX_REPLICAS, ModelRequirements};

fn error(code: ErrorCode, message: impl Into<String>, field: &str) -> ErrorBody {
    ErrorBody {
        code,
        message: message.into(),
        field: Some(field.to_owned()),
    }
}

fn position(document: &GraphDocument, name: &str) -> Option<usize> {
    document.nodes.iter().position(|node| node.name == name)
}

/// Adds `node`; refused when a node or host of that name exists.
///
/// # Errors
/// [`ErrorCode::AlreadyExists`] naming `node.name`.
pub fn add_node(document: &GraphDocument, node: NodeEntry) -> Result<GraphDocument, ErrorBody> {
    if position(document, &node.name).is_some()
        || document.hosts.iter().any(|host| host.name == node.name)
    {
        return Err(error(
            ErrorCode::AlreadyExists,
            format!(
                "node `{}` already exists (use cim.deployment.update)",
                node.name
            ),
            "node.name",
        ));
    }
    let mut next = document.clone();
    next.nodes.push(node);
    Ok(next)
}

/// Replaces the node of the same name (its type may change; its edges stay).
///
/// # Errors
/// [`ErrorCode::NotFound`] naming `node.name`.
pub fn update_node(document: &GraphDocument, node: NodeEntry) -> Result<GraphDocument, ErrorBody> {
    let Some(at) = position(document, &node.name) else {
        return Err(error(
            ErrorCode::NotFound,
            format!(
                "no node `{}` to update (use cim.deployment.deploy)",
                node.name
            ),
            "node.name",
        ));
    };
    let mut next = document.clone();
    next.nodes[at] = node;
    Ok(next)
}

/// The name of instance `i` (2, 3, ...) of `service`; instance 1 is the service node itself.
pub fn instance_name(service: &str, i: u32) -> String {
    format!("{service}-{i}")
}

/// Runs `replicas` instances of the service node `service`: instance 1 is the node itself,
/// instances 2..=n are copies named `<service>-<i>`, each on its own NixOS host (the hosts with the
/// fewest nodes first, then by name; a host never runs two instances, so their ports cannot
/// clash) with every edge of the service copied (a load balancer's `load_balances` edge puts
/// each instance in its upstream). Scaling down removes the highest instances and their edges.
///
/// # Errors
/// [`ErrorCode::NotFound`] when `service` is not a service node; [`ErrorCode::InvalidField`]
/// for `replicas` out of range or more instances than hosts that can take one.
pub fn scale(
    document: &GraphDocument,
    service: &str,
    replicas: u32,
) -> Result<GraphDocument, ErrorBody> {
    if !(1..=MAX_REPLICAS).contains(&replicas) {
        return Err(error(
            ErrorCode::InvalidField,
            format!("replicas must be 1 to {MAX_REPLICAS}, not {replicas}"),
            "replicas",
        ));
    }
    let Some(original) = position(document, service).map(|at| document.nodes[at].clone()) else {
        return Err(error(
            ErrorCode::NotFound,
            format!("no service `{service}`"),
            "service",
        ));
    };
    if !matches!(original.node_type, DeploymentNodeType::Service(_)) {
        return Err(error(
            ErrorCode::InvalidField,
            format!("`{service}` is not a service node"),
            "service",
        ));
    }
    let is_instance = |name: &str| {
        name.strip_prefix(service)
            .and_then(|rest| rest.strip_prefix('-'))
            .and_then(|i| i.parse::<u32>().ok())
            .filter(|i| *i >= 2)
    };
    // Down to one instance: every copy and its edges go.
    let mut next = document.clone();
    next.nodes.retain(|node| is_instance(&node.name).is_none());
    next.edges
        .retain(|edge| is_instance(&edge.from).is_none() && is_instance(&edge.to).is_none());
    // Services run on NixOS hosts only (a Darwin host refuses them).
    let mut load: BTreeMap<&str, usize> = next
        .hosts
        .iter()
        .filter(|host| !is_darwin(&host.spec.system))
        .map(|host| (host.name.as_str(), 0))
        .collect();
    for node in &next.nodes {
        if let Some(host) = node.host.as_deref().and_then(|h| load.get_mut(h)) {
            *host += 1;
        }
    }
    let mut free: Vec<(usize, String)> = load
        .iter()
        .filter(|(host, _)| Some(**host) != original.host.as_deref())
        .map(|(host, nodes)| (*nodes, (*host).to_owned()))
        .collect();
    free.sort();
    let wanted = usize::try_from(replicas - 1).unwrap_or(usize::MAX);
    if wanted > free.len() {
        return Err(error(
            ErrorCode::InvalidField,
            format!(
                "{replicas} instances of `{service}` need {replicas} hosts; the graph has {}",
                free.len() + 1
            ),
            "replicas",
        ));
    }
    let edges: Vec<_> = document
        .edges
        .iter()
        .filter(|edge| edge.edge != DeploymentEdgeType::RunsOn)
        .filter(|edge| edge.from == service || edge.to == service)
        .cloned()
        .collect();
    for (i, (_, host)) in (2..=replicas).zip(free) {
        let name = instance_name(service, i);
        next.nodes.push(NodeEntry {
            name: name.clone(),
            host: Some(host),
            node_type: original.node_type.clone(),
        });
        for edge in &edges {
            let mut copy = edge.clone();
            if copy.from == service {
                copy.from.clone_from(&name);
            }
            if copy.to == service {
                copy.to.clone_from(&name);
            }
            next.edges.push(copy);
        }
    }
    Ok(next)
}

/// Adds an agent node on `request.host` with as many of the host's GPUs as the model's memory
/// needs (each GPU's declared `memory_mb`; a host whose GPUs declare no memory gives one GPU);
/// on a Mac, a share of its unified memory (`gpu_memory_mb`) instead, so agents share it.
///
/// # Errors
/// [`ErrorCode::InvalidField`] for out-of-range model numbers, a host that is not in the graph
/// or declares no GPUs, or a model larger than all the host's GPUs together;
/// [`ErrorCode::AlreadyExists`] when the name is taken.
pub fn add_gpu_agent(
    document: &GraphDocument,
    request: &GpuAgentRequest,
) -> Result<GraphDocument, ErrorBody> {
    let ModelRequirements {
        vram_gib,
        batch_size,
        name,
        ..
    } = &request.model;
    if name.trim().is_empty() || name.len() > 256 || name.chars().any(char::is_control) {
        return Err(error(
            ErrorCode::InvalidField,
            "the model name must be 1 to 256 characters without control characters",
            "model.name",
        ));
    }
    for (value, field) in [
        (*vram_gib, "model.vram_gib"),
        (*batch_size, "model.batch_size"),
    ] {
        if !(1..=4096).contains(&value) {
            return Err(error(
                ErrorCode::InvalidField,
                format!("{field} must be 1 to 4096, not {value}"),
                field,
            ));
        }
    }
    let Some(host) = document.hosts.iter().find(|h| h.name == request.host) else {
        return Err(error(
            ErrorCode::InvalidField,
            format!("no host `{}` in the graph", request.host),
            "host",
        ));
    };
    let gpu_mb: Vec<Option<u64>> = host
        .spec
        .gpus
        .iter()
        .flat_map(|gpu| {
            let count = gpu.count.map_or(gpu.uuids.len().max(1), |c| c as usize);
            std::iter::repeat_n(gpu.memory_mb, count)
        })
        .collect();
    if gpu_mb.is_empty() {
        return Err(error(
            ErrorCode::InvalidField,
            format!("host `{}` declares no GPUs", request.host),
            "host",
        ));
    }
    let needed_mb = u64::from(*vram_gib) * 1024;
    let darwin = cim_domain_graph::translate::darwin::is_darwin(&host.spec.system);
    let per_gpu = gpu_mb.iter().flatten().copied().min();
    let gpus = match per_gpu {
        Some(mb) if mb > 0 => needed_mb.div_ceil(mb),
        _ => 1,
    };
    if gpus > gpu_mb.len() as u64 {
        return Err(error(
            ErrorCode::InvalidField,
            format!(
                "{vram_gib} GiB needs {gpus} GPUs; host `{}` has {}",
                request.host,
                gpu_mb.len()
            ),
            "model.vram_gib",
        ));
    }
    add_node(
        document,
        NodeEntry {
            name: request.name.clone(),
            host: Some(request.host.clone()),
            node_type: DeploymentNodeType::Agent(if darwin {
                // A Mac serves the model from its unified memory, shared with other agents.
                AgentSpec {
                    definition: request.definition.clone(),
                    gpu_memory_mb: Some(needed_mb),
                    ..AgentSpec::default()
                }
            } else {
                AgentSpec {
                    definition: request.definition.clone(),
                    gpus: u32::try_from(gpus).unwrap_or(u32::MAX),
                    ..AgentSpec::default()
                }
            }),
        },
    )
    .map_err(|mut e| {
        e.field = Some("name".to_owned());
        e
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::service::wire::Precision;

    fn request(host: &str, vram_gib: u32) -> GpuAgentRequest {
        GpuAgentRequest {
            request_id: "r1".to_owned(),
            expected_version: None,
            name: "coder".to_owned(),
            host: host.to_owned(),
            definition: "agents/coder.md".to_owned(),
            model: ModelRequirements {
                name: "qwen2.5-coder:32b".to_owned(),
                vram_gib,
                batch_size: 1,
                precision: Precision::Fp16,
            },
        }
    }

    fn agent_of(document: &GraphDocument) -> Option<&AgentSpec> {
        document
            .nodes
            .iter()
            .find_map(|node| match &node.node_type {
                DeploymentNodeType::Agent(spec) if node.name == "coder" => Some(spec),
                _ => None,
            })
    }

    #[test]
    fn a_gpu_agent_on_a_mac_asks_for_a_share_of_unified_memory_elsewhere_whole_gpus()
    -> Result<(), Box<dyn std::error::Error>> {
        let document = GraphDocument::from_yaml_str(
            r#"
hosts:
  - name: studio-1
    system: aarch64-darwin
    gpus: [{ vendor: apple, model: Apple M2 Ultra, gpu_family: apple8, memory_mb: 147456 }]
  - name: gpu-1
    gpus: [{ model: NVIDIA L40S, compute_capability: "8.9", memory_mb: 49152, count: 2 }]
"#,
        )?;
        let mac = add_gpu_agent(&document, &request("studio-1", 40)).map_err(|e| e.message)?;
        let spec = agent_of(&mac).ok_or("no agent added")?;
        assert_eq!((spec.gpus, spec.gpu_memory_mb), (0, Some(40 * 1024)));
        let linux = add_gpu_agent(&document, &request("gpu-1", 60)).map_err(|e| e.message)?;
        let spec = agent_of(&linux).ok_or("no agent added")?;
        assert_eq!((spec.gpus, spec.gpu_memory_mb), (2, None));
        Ok(())
    }
}
