//! Agents on a Mac (a Darwin host run by nix-darwin): no NixOS containers; each agent is a
//! launchd daemon `cim-agent-<name>` running as its own hidden user `_cim-agent-<name>`,
//! declared through the nix-darwin module `services.cim-agent` shipped in `nix/darwin/agent.nix`
//! (exported by the repository's flake as `darwinModules.agent`):
//! `services.cim-agent.agents.<name> = { agentFile; agentId; natsUrl; ollamaUrl; uid; ... }`.
//!
//! GPUs on a Mac are the unified memory Metal serves to every process; the allocator accounts
//! for what an agent is granted, and there is no device node to pass through. launchd has no
//! CPU quota or memory ceiling, so the reservation is not turned into limits here.

use cim_domain_nix::{AttrSet, Expr, NixError, ident};

use super::error::DeployError;
use super::settings::AgentSettings;
use super::source::AgentSource;

/// The uid (and gid) of the first agent on a Mac; the others follow in name order.
pub const FIRST_AGENT_UID: u32 = 541;

/// The user an agent's daemon runs as on a Mac.
pub fn agent_user(name: &str) -> String {
    format!("_cim-agent-{name}")
}

/// The value of `services.cim-agent.agents.<name>` for `agent` with `settings`, running as uid
/// `uid`. Loopback NATS and Ollama URLs stay loopback: the agent runs on the Mac itself.
///
/// # Errors
/// [`DeployError::Nix`] when an expression cannot be built.
pub fn darwin_agent(
    agent: &AgentSource,
    settings: &AgentSettings,
    uid: u32,
) -> Result<Expr, DeployError> {
    let name = agent.name();
    let nix = |source: NixError| DeployError::Nix {
        agent: name.to_owned(),
        source,
    };
    let mut config = AttrSet::new();
    config.insert(
        "agentFile",
        ident("builtins").map_err(nix)?.select(["toFile"]).call([
            format!("cim-agent-{name}.md").into(),
            agent.text.as_str().into(),
        ]),
    );
    config.insert("agentId", agent.definition.id.to_string());
    config.insert("natsUrl", settings.nats.url());
    if let Some(seed) = &settings.nats_seed_file {
        config.insert("natsNkeySeedFile", seed.as_str());
    }
    if let Some(ollama) = &settings.ollama {
        config.insert("ollamaUrl", ollama.url());
    }
    config.insert("uid", uid);
    if let Some(level) = settings.log_level {
        config.insert("logLevel", level.as_str());
    }
    if let Some(format) = &settings.log_format {
        config.insert("logFormat", format.as_str());
    }
    Ok(Expr::AttrSet(config))
}
