//! Field checks of single nodes: values that parse but cannot be deployed.

use crate::node::{DeploymentNode, DeploymentNodeType, StorageSource};
use cim_gpu::InventoryBackend as _;
use cim_naming::{host_address_problem, line_value_problem, server_name_problem};

use crate::validate::ValidationError;

/// Appends an `InvalidField` for each bad field of `node`.
pub(super) fn check(node: &DeploymentNode, problems: &mut Vec<ValidationError>) {
    // Values NixOS writes unescaped into line-based files (unit lines, nginx, /etc/hosts,
    // fstab): one rule per kind of value, from `cim-naming`.
    let mut line = |field: &str, value: &str| {
        if let Some(reason) = line_value_problem(value) {
            problems.push(ValidationError::InvalidField {
                node: node.name.clone(),
                field: field.to_owned(),
                reason: reason.to_owned(),
            });
        }
    };
    line_fields(&node.node_type, &mut line);
    let mut bad = |field: &str, reason: &str| {
        problems.push(ValidationError::InvalidField {
            node: node.name.clone(),
            field: field.to_owned(),
            reason: reason.to_owned(),
        });
    };
    for port in node.node_type.listen_ports() {
        if port == 0 {
            bad("port", "port 0 cannot be listened on");
        }
    }
    match &node.node_type {
        DeploymentNodeType::Host(spec) => {
            if spec.system.is_empty() {
                bad("system", "must name a Nix system such as `x86_64-linux`");
            }
            // A Mac's (nix-darwin's integer) is checked with the platform, in `darwin::check`.
            if let Some(version) = &spec.state_version
                && !crate::translate::darwin::is_darwin(&spec.system)
                && let Some(reason) = crate::settings::nixos_release_problem(version)
            {
                bad("state_version", reason);
            }
            for (index, address) in spec.addresses.iter().enumerate() {
                if let Some(reason) = host_address_problem(address) {
                    bad(&format!("addresses[{index}]"), reason);
                }
            }
            // The declaration must give the allocator usable devices (compute capability for
            // NVIDIA, consistent counts and UUIDs).
            if let Err(error) = spec.gpu_inventory(&node.name).devices() {
                bad("gpus", &error.to_string());
            }
        }
        DeploymentNodeType::Service(spec) => {
            match (&spec.package, &spec.command) {
                (None, None) => bad("command", "a service needs a `package` or a `command`"),
                (_, Some(command)) if command.trim().is_empty() => {
                    bad("command", "must not be empty");
                }
                _ => {}
            }
            if let Some(package) = &spec.package
                && !is_attribute_path(package)
            {
                bad(
                    "package",
                    "must be a nixpkgs attribute path such as `nginx` or `python3Packages.gunicorn`",
                );
            }
            for key in spec.environment.keys() {
                if !is_identifier(key, |c| c.is_ascii_alphanumeric() || c == '_') {
                    bad(
                        &format!("environment.{key}"),
                        "variable names are letters, digits and `_`, not starting with a digit",
                    );
                }
            }
        }
        DeploymentNodeType::Database(spec) => {
            let postgres = |c: char| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_';
            for (field, names) in [("databases", &spec.databases), ("users", &spec.users)] {
                for name in names.iter().filter(|n| !is_identifier(n, postgres)) {
                    bad(
                        &format!("{field}.{name}"),
                        "PostgreSQL names are lowercase letters, digits and `_`, not starting with a digit",
                    );
                }
            }
        }
        DeploymentNodeType::MessageBus(spec) => {
            if spec.leaf_remotes.iter().any(|url| !url.contains("://")) {
                bad(
                    "leaf_remotes",
                    "each remote must be a URL such as `nats-leaf://hub:7422`",
                );
            }
        }
        DeploymentNodeType::LoadBalancer(spec) => {
            if let Some(name) = &spec.server_name
                && let Some(reason) = server_name_problem(name)
            {
                bad("server_name", reason);
            }
            match &spec.tls {
                None if spec.port == 443 => bad(
                    "tls",
                    "port 443 is HTTPS' port but the load balancer has no `tls`: add \
                     `tls: { acme: { email, accept_terms: true } }` or `tls: { certificate, \
                     key }` (file paths), or choose another port for plain HTTP",
                ),
                None => {}
                Some(tls) => {
                    for (field, reason) in super::tls::problems(spec.port, tls) {
                        bad(&field, &reason);
                    }
                }
            }
        }
        DeploymentNodeType::Agent(spec) => {
            if spec.definition.trim().is_empty() {
                bad("definition", "must reference an agent definition");
            }
            match spec.gpu_memory_mb {
                Some(0) => bad("gpu_memory_mb", "a GPU memory share must be at least 1 MiB"),
                Some(_) if spec.gpus > 0 => bad(
                    "gpu_memory_mb",
                    "`gpus` (whole GPUs) and `gpu_memory_mb` (a share of one) exclude each other",
                ),
                _ => {}
            }
        }
        DeploymentNodeType::Storage(spec) => {
            let path = spec.mount_point.as_str();
            if !path.starts_with('/') || (path.len() > 1 && path.ends_with('/')) {
                bad(
                    "mount_point",
                    "must be an absolute path without a trailing `/`",
                );
            }
            let source = match &spec.source {
                StorageSource::Volume { device, .. } => device,
                StorageSource::Bind { path } => path,
            };
            if !source.starts_with('/') {
                bad("source", "must be an absolute path");
            }
            if let StorageSource::Volume { fs_type, .. } = &spec.source
                && !is_identifier(fs_type, |c| {
                    c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-' | '+')
                })
            {
                bad(
                    "source.fs_type",
                    "must be a file system type such as `ext4` (letters, digits, `.`, `_`, `-`, `+`)",
                );
            }
        }
        DeploymentNodeType::Monitoring(spec) => {
            if spec.exporters.is_empty() {
                bad("exporters", "must name at least one exporter");
            }
        }
        DeploymentNodeType::Custom { kind, .. } => {
            if kind.trim().is_empty() {
                bad("kind", "must name the translator of this node");
            }
        }
    }
}

/// Calls `check(field, value)` for every free-text field of a node that ends up in a generated
/// file: commands, environment values, paths, URLs, Nix strings.
fn line_fields(node_type: &DeploymentNodeType, check: &mut impl FnMut(&str, &str)) {
    match node_type {
        DeploymentNodeType::Host(spec) => {
            check("system", &spec.system);
            if let Some(version) = &spec.state_version {
                check("state_version", version);
            }
            for (index, gpu) in spec.gpus.iter().enumerate() {
                check(&format!("gpus[{index}].model"), &gpu.model);
            }
        }
        DeploymentNodeType::Service(spec) => {
            if let Some(command) = &spec.command {
                check("command", command);
            }
            for (key, value) in &spec.environment {
                check(&format!("environment.{key}"), value);
            }
        }
        DeploymentNodeType::MessageBus(spec) => {
            for (index, url) in spec.leaf_remotes.iter().enumerate() {
                check(&format!("leaf_remotes[{index}]"), url);
            }
        }
        DeploymentNodeType::Agent(spec) => check("definition", &spec.definition),
        DeploymentNodeType::Storage(spec) => {
            check("mount_point", &spec.mount_point);
            match &spec.source {
                StorageSource::Volume { device, .. } => check("source.device", device),
                StorageSource::Bind { path } => check("source.path", path),
            }
        }
        DeploymentNodeType::Custom { kind, .. } => check("kind", kind),
        DeploymentNodeType::LoadBalancer(spec) => {
            if let Some(tls) = &spec.tls {
                for (field, value) in [("tls.certificate", &tls.certificate), ("tls.key", &tls.key)]
                {
                    if let Some(value) = value {
                        check(field, value);
                    }
                }
                if let Some(acme) = &tls.acme {
                    check("tls.acme.email", &acme.email);
                    if let Some(server) = &acme.server {
                        check("tls.acme.server", server);
                    }
                }
            }
        }
        DeploymentNodeType::Database(_) | DeploymentNodeType::Monitoring(_) => {}
    }
}

fn is_identifier(text: &str, allowed: impl Fn(char) -> bool) -> bool {
    text.chars().next().is_some_and(|c| !c.is_ascii_digit()) && text.chars().all(allowed)
}

fn is_attribute_path(path: &str) -> bool {
    path.split('.').all(|segment| {
        is_identifier(segment, |c| {
            c.is_ascii_alphanumeric() || c == '_' || c == '-' || c == '\''
        }) && !segment.starts_with('-')
    })
}
