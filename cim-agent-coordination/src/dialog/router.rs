//! [`AgentDialogRouter`]: the pure routing decision and the little per-dialog state it keeps.
//!
//! Agents live in dense arrays indexed through one `FxHashMap<AgentId, u32>`; capabilities are
//! interned to small integers and kept per agent as a bit set, so "has every required
//! capability" is a few word ANDs. A decision over 1,000 participants is one hash lookup per
//! participant plus the strategy's own work (a sort of the capable few, a partial selection for
//! priority), measured in `benches/dialog_routing.rs`.

use std::fmt;
use std::sync::Arc;

use cim_domain_agent::AgentId;
use rustc_hash::FxHashMap;

use super::agent::{DialogAgent, Presence};
use super::config::{OfflinePolicy, RouterConfig, SelectorFallback};
use super::error::RoutingError;
use super::message::{DialogId, Message, Priority, Strategy};

/// What a selector function sees when it is asked for the next speaker.
pub struct SelectorInput<'a> {
    /// The message being routed.
    pub message: &'a Message,
    /// The participants, as given to `route_message`.
    pub participants: &'a [AgentId],
    /// 0 for the first question, then 1, 2, … after refused answers.
    pub attempt: u32,
    /// Answers refused so far in this decision (`None`: the selector named nobody).
    pub rejected: &'a [Option<AgentId>],
    /// Turns the dialog has had before this one.
    pub turn: u32,
    /// The router, to look agents up ([`AgentDialogRouter::agent`]).
    pub router: &'a AgentDialogRouter,
}

/// A user function (or, later, a model) that names the next speaker. Its answer is validated: a
/// participant, not the sender, known, and reachable under the offline policy.
pub type Selector = Arc<dyn Fn(&SelectorInput<'_>) -> Option<AgentId> + Send + Sync>;

/// Per-dialog state the router keeps between decisions.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct DialogCounters {
    /// Turns routed so far.
    pub turns: u32,
    /// Hand-offs in a row up to now (0 after any other turn).
    pub handoff_chain: u32,
    /// Round-robin position of the next pick (taken modulo the participant count).
    pub next: usize,
}

/// A routing decision before it is committed: recipients and the counters it leaves behind.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RoutePlan {
    /// Who receives the message, best first where the strategy ranks; offline ones only under
    /// `OfflinePolicy::Queue`.
    pub recipients: Vec<AgentId>,
    /// The dialog's counters once the message is routed.
    pub counters: DialogCounters,
}

/// A bit set of interned capabilities: the first 128 inline (no pointer to chase on the hot
/// path), more in `spill`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
struct CapSet {
    inline: [u64; 2],
    spill: Box<[u64]>,
}

impl CapSet {
    fn from_ids(ids: impl IntoIterator<Item = u32>) -> Self {
        let mut inline = [0u64; 2];
        let mut spill: Vec<u64> = Vec::new();
        for id in ids {
            let word = (id / 64) as usize;
            let bit = 1u64 << (id % 64);
            if word < 2 {
                inline[word] |= bit;
            } else {
                if spill.len() <= word - 2 {
                    spill.resize(word - 1, 0);
                }
                spill[word - 2] |= bit;
            }
        }
        Self {
            inline,
            spill: spill.into_boxed_slice(),
        }
    }

    fn contains_all(&self, required: &CapSet) -> bool {
        self.inline[0] & required.inline[0] == required.inline[0]
            && self.inline[1] & required.inline[1] == required.inline[1]
            && required
                .spill
                .iter()
                .enumerate()
                .all(|(i, w)| self.spill.get(i).copied().unwrap_or(0) & w == *w)
    }

    fn count_common(&self, other: &CapSet) -> u32 {
        (self.inline[0] & other.inline[0]).count_ones()
            + (self.inline[1] & other.inline[1]).count_ones()
            + other
                .spill
                .iter()
                .zip(self.spill.iter())
                .map(|(a, b)| (a & b).count_ones())
                .sum::<u32>()
    }
}

/// Routes dialog messages among agents: pure decisions from the agents it was told about and
/// the small per-dialog state ([`DialogCounters`]) its own decisions leave.
///
/// ```
/// use cim_agent_coordination::dialog::{AgentDialogRouter, DialogAgent, DialogId, Message, Strategy};
/// use cim_domain_agent::AgentId;
/// use uuid::Uuid;
///
/// let (a, b, c) = (AgentId(Uuid::from_u128(1)), AgentId(Uuid::from_u128(2)), AgentId(Uuid::from_u128(3)));
/// let mut router = AgentDialogRouter::default();
/// router.upsert_agent(DialogAgent::online(a, "orchestrator", ["orchestration"]));
/// router.upsert_agent(DialogAgent::online(b, "nix-expert", ["nix"]));
/// router.upsert_agent(DialogAgent::online(c, "gpu-expert", ["gpu"]));
/// let dialog = DialogId::new_v7();
/// let ask = Message::new(dialog, a, Strategy::Capability { required: vec!["nix".into()], preferred: vec![], limit: None }, "which module?");
/// assert_eq!(router.route_message(&ask, &[a, b, c]), Ok(vec![b]));
/// ```
#[derive(Clone, Default)]
pub struct AgentDialogRouter {
    config: RouterConfig,
    index: FxHashMap<AgentId, u32>,
    agents: Vec<DialogAgent>,
    online: Vec<bool>,
    preference: Vec<i32>,
    caps: Vec<CapSet>,
    capability_ids: FxHashMap<String, u32>,
    dialogs: FxHashMap<DialogId, DialogCounters>,
    /// Per dialog, the last participant list routed and its slots: a decision over the same
    /// list reads slots instead of hashing every id again.
    resolved: FxHashMap<DialogId, Resolved>,
    selector: Option<Selector>,
}

impl fmt::Debug for AgentDialogRouter {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AgentDialogRouter")
            .field("config", &self.config)
            .field("agents", &self.agents.len())
            .field("capabilities", &self.capability_ids.len())
            .field("dialogs", &self.dialogs.len())
            .field("selector", &self.selector.is_some())
            .finish()
    }
}

/// A participant list and where each id sits in the router's arrays.
#[derive(Debug, Clone, Default)]
struct Resolved {
    ids: Vec<AgentId>,
    slots: Vec<u32>,
}

/// Finds participants' slots: from the dialog's cached list when it is the same list, else by
/// hash lookup.
struct Slots<'a> {
    router: &'a AgentDialogRouter,
    cached: Option<&'a [u32]>,
}

impl Slots<'_> {
    /// The slot of `participants[i] == id`.
    #[inline]
    fn at(&self, i: usize, id: AgentId) -> Result<u32, RoutingError> {
        match self.cached {
            Some(slots) => Ok(slots[i]),
            None => self.router.slot(id),
        }
    }
}

/// One candidate: index into the router's arrays and its id.
type Candidate = (u32, AgentId);

impl AgentDialogRouter {
    /// A router with these bounds and policies and no agents.
    pub fn new(config: RouterConfig) -> Self {
        Self {
            config,
            ..Self::default()
        }
    }

    /// The bounds and policies.
    pub fn config(&self) -> &RouterConfig {
        &self.config
    }

    /// Installs the selector used by `Strategy::Selector`.
    pub fn set_selector(&mut self, selector: Selector) {
        self.selector = Some(selector);
    }

    /// Adds an agent or replaces what the router knows of it (the registry's feed).
    pub fn upsert_agent(&mut self, agent: DialogAgent) {
        let mut ids = Vec::with_capacity(agent.capabilities.len());
        for capability in &agent.capabilities {
            let next = self.capability_ids.len() as u32;
            ids.push(
                *self
                    .capability_ids
                    .entry(capability.clone())
                    .or_insert(next),
            );
        }
        let caps = CapSet::from_ids(ids);
        let online = agent.presence == Presence::Online;
        match self.index.get(&agent.id) {
            Some(&i) => {
                let i = i as usize;
                self.online[i] = online;
                self.preference[i] = agent.preference;
                self.caps[i] = caps;
                self.agents[i] = agent;
            }
            None => {
                self.index.insert(agent.id, self.agents.len() as u32);
                self.online.push(online);
                self.preference.push(agent.preference);
                self.caps.push(caps);
                self.agents.push(agent);
            }
        }
    }

    /// Forgets an agent; returns what the router knew of it.
    pub fn remove_agent(&mut self, id: AgentId) -> Option<DialogAgent> {
        let i = self.index.remove(&id)? as usize;
        // Slots move: every cached participant list is stale.
        self.resolved.clear();
        let removed = self.agents.swap_remove(i);
        self.online.swap_remove(i);
        self.preference.swap_remove(i);
        self.caps.swap_remove(i);
        if let Some(moved) = self.agents.get(i) {
            self.index.insert(moved.id, i as u32);
        }
        Some(removed)
    }

    /// Records an agent's presence; `false` when the agent is unknown.
    pub fn set_presence(&mut self, id: AgentId, presence: Presence) -> bool {
        match self.index.get(&id) {
            Some(&i) => {
                self.online[i as usize] = presence == Presence::Online;
                self.agents[i as usize].presence = presence;
                true
            }
            None => false,
        }
    }

    /// What the router knows of an agent.
    pub fn agent(&self, id: AgentId) -> Option<&DialogAgent> {
        self.index.get(&id).map(|&i| &self.agents[i as usize])
    }

    /// How many agents the router knows.
    pub fn len(&self) -> usize {
        self.agents.len()
    }

    /// Whether the router knows no agent.
    pub fn is_empty(&self) -> bool {
        self.agents.is_empty()
    }

    /// The counters of a dialog (zero for a dialog never routed).
    pub fn counters(&self, dialog: DialogId) -> DialogCounters {
        self.dialogs.get(&dialog).copied().unwrap_or_default()
    }

    /// Forgets a dialog's counters (when it is closed).
    pub fn forget_dialog(&mut self, dialog: DialogId) {
        self.dialogs.remove(&dialog);
        self.resolved.remove(&dialog);
    }

    /// Routes `message` among `participants` and records the turn: the recipients, best first
    /// where the strategy ranks. The same router state and message always give the same
    /// recipients; the state changes only by the turn counters and the round-robin position.
    ///
    /// # Errors
    /// See [`RoutingError`]: no participants or recipient (fails fast), unknown agents, a named
    /// agent that is not a participant, an offline recipient under `OfflinePolicy::Error`, the
    /// turn and hand-off bounds, and selector failures.
    pub fn route_message(
        &mut self,
        message: &Message,
        participants: &[AgentId],
    ) -> Result<Vec<AgentId>, RoutingError> {
        let plan = self.plan(message, participants)?;
        self.commit(message.dialog, plan.counters);
        self.remember(message.dialog, participants);
        Ok(plan.recipients)
    }

    /// Records a plan's counters as the dialog's state (what `route_message` does after `plan`).
    pub fn commit(&mut self, dialog: DialogId, counters: DialogCounters) {
        self.dialogs.insert(dialog, counters);
    }

    /// The decision alone, without changing the router: a pure function of the router's state,
    /// the message and the participants.
    ///
    /// # Errors
    /// As [`AgentDialogRouter::route_message`].
    pub fn plan(
        &self,
        message: &Message,
        participants: &[AgentId],
    ) -> Result<RoutePlan, RoutingError> {
        let dialog = message.dialog;
        if participants.is_empty() {
            return Err(RoutingError::NoParticipants { dialog });
        }
        let mut counters = self.counters(dialog);
        if counters.turns >= self.config.max_turns {
            return Err(RoutingError::TurnLimit {
                dialog,
                max: self.config.max_turns,
            });
        }
        let mut handoff = false;
        let recipients = match &message.strategy {
            Strategy::Broadcast => self.broadcast(message, participants)?,
            Strategy::RoundRobin => {
                let (picked, next) = self.round_robin(message, participants, counters.next)?;
                counters.next = next;
                vec![picked]
            }
            Strategy::Capability {
                required,
                preferred,
                limit,
            } => self.by_capability(message, participants, required, preferred, *limit)?,
            Strategy::Priority => self.by_priority(message, participants)?,
            Strategy::Direct { to } => self.named(message, participants, *to)?,
            Strategy::HandOff { to, reason } => {
                if reason.trim().is_empty() {
                    return Err(RoutingError::HandOffWithoutReason { dialog });
                }
                if *to == message.from {
                    return Err(RoutingError::HandOffToSelf { dialog, agent: *to });
                }
                if !participants.contains(&message.from) {
                    return Err(RoutingError::NotAParticipant {
                        dialog,
                        agent: message.from,
                    });
                }
                if counters.handoff_chain >= self.config.max_handoff_chain {
                    return Err(RoutingError::HandOffChainLimit {
                        dialog,
                        max: self.config.max_handoff_chain,
                    });
                }
                handoff = true;
                self.named(message, participants, *to)?
            }
            Strategy::Selector => {
                let (picked, next) = self.by_selector(message, participants, counters)?;
                counters.next = next;
                vec![picked]
            }
        };
        counters.turns += 1;
        counters.handoff_chain = if handoff {
            counters.handoff_chain + 1
        } else {
            0
        };
        Ok(RoutePlan {
            recipients,
            counters,
        })
    }

    /// Caches the slots of a dialog's participant list (all known, checked by the plan).
    fn remember(&mut self, dialog: DialogId, participants: &[AgentId]) {
        if self
            .resolved
            .get(&dialog)
            .is_some_and(|r| r.ids == participants)
        {
            return;
        }
        let slots: Option<Vec<u32>> = participants
            .iter()
            .map(|id| self.index.get(id).copied())
            .collect();
        if let Some(slots) = slots {
            self.resolved.insert(
                dialog,
                Resolved {
                    ids: participants.to_vec(),
                    slots,
                },
            );
        }
    }

    fn slots(&self, dialog: DialogId, participants: &[AgentId]) -> Slots<'_> {
        Slots {
            router: self,
            cached: self
                .resolved
                .get(&dialog)
                .filter(|r| r.ids == participants)
                .map(|r| r.slots.as_slice()),
        }
    }

    fn slot(&self, agent: AgentId) -> Result<u32, RoutingError> {
        self.index
            .get(&agent)
            .copied()
            .ok_or(RoutingError::UnknownAgent { agent })
    }

    /// Every participant but the sender, in one pass with the offline policy applied.
    fn broadcast(
        &self,
        message: &Message,
        participants: &[AgentId],
    ) -> Result<Vec<AgentId>, RoutingError> {
        let mut out = Vec::with_capacity(participants.len());
        let mut skipped = 0;
        let slots = self.slots(message.dialog, participants);
        for (i, &id) in participants.iter().enumerate() {
            let slot = slots.at(i, id)?;
            if id == message.from {
                continue;
            }
            if !self.online[slot as usize] && !self.reachable_offline(message, id, &mut skipped)? {
                continue;
            }
            out.push(id);
        }
        if out.is_empty() {
            return Err(RoutingError::NoRecipient {
                dialog: message.dialog,
                strategy: message.strategy.name(),
                offline_skipped: skipped,
            });
        }
        Ok(out)
    }

    /// For an offline candidate: `Ok(true)` to keep it (queue), `Ok(false)` to skip it (counted),
    /// or the offline error.
    fn reachable_offline(
        &self,
        message: &Message,
        agent: AgentId,
        skipped: &mut usize,
    ) -> Result<bool, RoutingError> {
        match self.config.offline {
            OfflinePolicy::Queue => Ok(true),
            OfflinePolicy::Skip => {
                *skipped += 1;
                Ok(false)
            }
            OfflinePolicy::Error => Err(RoutingError::RecipientOffline {
                dialog: message.dialog,
                agent,
            }),
        }
    }

    /// Applies the offline policy to ranked candidates; empty is `NoRecipient`.
    fn apply_offline(
        &self,
        message: &Message,
        mut candidates: Vec<Candidate>,
    ) -> Result<Vec<AgentId>, RoutingError> {
        let before = candidates.len();
        match self.config.offline {
            OfflinePolicy::Queue => {}
            OfflinePolicy::Skip => candidates.retain(|(slot, _)| self.online[*slot as usize]),
            OfflinePolicy::Error => {
                if let Some((_, agent)) = candidates
                    .iter()
                    .find(|(slot, _)| !self.online[*slot as usize])
                {
                    return Err(RoutingError::RecipientOffline {
                        dialog: message.dialog,
                        agent: *agent,
                    });
                }
            }
        }
        if candidates.is_empty() {
            return Err(RoutingError::NoRecipient {
                dialog: message.dialog,
                strategy: message.strategy.name(),
                offline_skipped: before,
            });
        }
        Ok(candidates.into_iter().map(|(_, id)| id).collect())
    }

    /// The next participant in turn from position `next`, skipping the sender and (unless the
    /// policy queues) offline agents; returns it and the position after it.
    fn round_robin(
        &self,
        message: &Message,
        participants: &[AgentId],
        next: usize,
    ) -> Result<(AgentId, usize), RoutingError> {
        let n = participants.len();
        let start = next % n;
        let slots = self.slots(message.dialog, participants);
        let mut first_offline = None;
        let mut skipped = 0;
        for step in 0..n {
            let position = (start + step) % n;
            let id = participants[position];
            if id == message.from {
                continue;
            }
            let slot = slots.at(position, id)?;
            if self.online[slot as usize] || self.config.offline == OfflinePolicy::Queue {
                return Ok((id, position + 1));
            }
            skipped += 1;
            first_offline.get_or_insert((id, position));
        }
        match (self.config.offline, first_offline) {
            (OfflinePolicy::Error, Some((agent, _))) => Err(RoutingError::RecipientOffline {
                dialog: message.dialog,
                agent,
            }),
            _ => Err(RoutingError::NoRecipient {
                dialog: message.dialog,
                strategy: message.strategy.name(),
                offline_skipped: skipped,
            }),
        }
    }

    fn by_capability(
        &self,
        message: &Message,
        participants: &[AgentId],
        required: &[String],
        preferred: &[String],
        limit: Option<usize>,
    ) -> Result<Vec<AgentId>, RoutingError> {
        let mut required_ids = Vec::with_capacity(required.len());
        for capability in required {
            match self.capability_ids.get(capability) {
                Some(&id) => required_ids.push(id),
                // Nobody has ever had it: nobody can be capable.
                None => {
                    return Err(RoutingError::NoRecipient {
                        dialog: message.dialog,
                        strategy: message.strategy.name(),
                        offline_skipped: 0,
                    });
                }
            }
        }
        let required = CapSet::from_ids(required_ids);
        let preferred = CapSet::from_ids(
            preferred
                .iter()
                .filter_map(|c| self.capability_ids.get(c).copied()),
        );
        let mut capable: Vec<(u32, i32, Candidate)> = Vec::new();
        let slots = self.slots(message.dialog, participants);
        for (i, &id) in participants.iter().enumerate() {
            let slot = slots.at(i, id)?;
            let caps = &self.caps[slot as usize];
            if id != message.from && caps.contains_all(&required) {
                let score = caps.count_common(&preferred);
                capable.push((score, self.preference[slot as usize], (slot, id)));
            }
        }
        capable.sort_unstable_by(|a, b| b.0.cmp(&a.0).then(b.1.cmp(&a.1)).then(a.2.1.cmp(&b.2.1)));
        let mut ranked: Vec<Candidate> = capable.into_iter().map(|(_, _, c)| c).collect();
        if self.config.offline == OfflinePolicy::Skip {
            ranked.retain(|(slot, _)| self.online[*slot as usize]);
            if ranked.is_empty() {
                return Err(RoutingError::NoRecipient {
                    dialog: message.dialog,
                    strategy: message.strategy.name(),
                    offline_skipped: 0,
                });
            }
        }
        if let Some(limit) = limit {
            ranked.truncate(limit.max(1));
        }
        self.apply_offline(message, ranked)
    }

    fn by_priority(
        &self,
        message: &Message,
        participants: &[AgentId],
    ) -> Result<Vec<AgentId>, RoutingError> {
        let fanout = if message.priority == Priority::Urgent {
            self.config.urgent_fanout.max(1)
        } else {
            1
        };
        // Best `fanout` so far, best first, by (preference desc, id asc): one pass, no
        // allocation beyond the answer.
        let mut best: Vec<(i32, AgentId, u32)> = Vec::with_capacity(fanout + 1);
        let mut skipped = 0;
        let slots = self.slots(message.dialog, participants);
        for (i, &id) in participants.iter().enumerate() {
            let slot = slots.at(i, id)?;
            if id == message.from {
                continue;
            }
            if self.config.offline == OfflinePolicy::Skip && !self.online[slot as usize] {
                skipped += 1;
                continue;
            }
            let preference = self.preference[slot as usize];
            let beats = |(p, other, _): &(i32, AgentId, u32)| {
                preference > *p || (preference == *p && id < *other)
            };
            if best.len() == fanout && !best.last().is_some_and(beats) {
                continue;
            }
            let at = best.iter().position(beats).unwrap_or(best.len());
            best.insert(at, (preference, id, slot));
            best.truncate(fanout);
        }
        if best.is_empty() {
            return Err(RoutingError::NoRecipient {
                dialog: message.dialog,
                strategy: message.strategy.name(),
                offline_skipped: skipped,
            });
        }
        self.apply_offline(
            message,
            best.into_iter().map(|(_, id, slot)| (slot, id)).collect(),
        )
    }

    fn named(
        &self,
        message: &Message,
        participants: &[AgentId],
        to: AgentId,
    ) -> Result<Vec<AgentId>, RoutingError> {
        if !participants.contains(&to) {
            return Err(RoutingError::NotAParticipant {
                dialog: message.dialog,
                agent: to,
            });
        }
        let slot = self.slot(to)?;
        self.apply_offline(message, vec![(slot, to)])
    }

    fn by_selector(
        &self,
        message: &Message,
        participants: &[AgentId],
        counters: DialogCounters,
    ) -> Result<(AgentId, usize), RoutingError> {
        let dialog = message.dialog;
        let Some(selector) = &self.selector else {
            return Err(RoutingError::NoSelector { dialog });
        };
        let attempts = self.config.selector_attempts.max(1);
        let mut rejected: Vec<Option<AgentId>> = Vec::new();
        for attempt in 0..attempts {
            let answer = selector(&SelectorInput {
                message,
                participants,
                attempt,
                rejected: &rejected,
                turn: counters.turns,
                router: self,
            });
            if let Some(id) = answer
                && id != message.from
                && participants.contains(&id)
                && let Some(&slot) = self.index.get(&id)
                && (self.online[slot as usize] || self.config.offline == OfflinePolicy::Queue)
            {
                return Ok((id, counters.next));
            }
            tracing::debug!(%dialog, attempt, ?answer, "selector answer refused");
            rejected.push(answer);
        }
        tracing::warn!(%dialog, attempts, "selector gave no valid participant; falling back");
        match self.config.selector_fallback {
            SelectorFallback::RoundRobin => self.round_robin(message, participants, counters.next),
            SelectorFallback::Error => Err(RoutingError::SelectorExhausted {
                dialog,
                attempts,
                rejected,
            }),
        }
    }
}
