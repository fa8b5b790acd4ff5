//! The ACD state: queues with their members, agents with their presence and
//! activity (one state per agent across all its queues), and the callers
//! waiting, in the order they joined. Every input takes the time; `poll`
//! expires what is due and offers waiting callers to free agents, the longest
//! waiter first.

use std::collections::{BTreeMap, HashMap};
use std::time::{Duration, Instant};

use rand::rngs::StdRng;
use rand::SeedableRng;
use serde::Serialize;

use super::stats::{Counters, QueueStats};
use super::strategy::{self, Candidate};
use super::{Action, AgentChoices, AgentKey, Exit, LeaveReason, QueueConfig, QueueKey};
use crate::ids::{CallId, ExtensionNumber};

mod agents;

/// Why a caller could not join.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum JoinError {
    #[error("no such queue")]
    NoSuchQueue,
    #[error("the queue is full")]
    Full,
    #[error("no agent is logged in")]
    Empty,
    #[error("the call is already waiting in a queue")]
    AlreadyWaiting,
}

/// How an offer ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum OfferEnd {
    /// This agent answered and is now talking to the caller.
    Answered(ExtensionNumber),
    /// Nobody answered; these agents could not be rung at all (no device).
    NotAnswered { unreachable: Vec<ExtensionNumber> },
}

/// What an agent is doing, as shown to people.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum AgentStatus {
    LoggedOut,
    Paused,
    /// Logged in, but no registered device.
    Unreachable,
    Available,
    Ringing,
    OnCall,
    WrapUp,
}

/// One member of a queue, as shown to people.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct AgentView {
    pub extension: ExtensionNumber,
    pub penalty: u32,
    /// Logged in by feature code (not listed in the dialplan).
    pub dynamic: bool,
    pub status: AgentStatus,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub pause_reason: Option<String>,
    /// Calls taken from this queue.
    pub calls: u32,
}

#[derive(Debug)]
struct Member {
    ext: ExtensionNumber,
    penalty: u32,
    dynamic: bool,
    logged_in: bool,
    calls: u32,
    last_end: Option<Instant>,
}

#[derive(Debug)]
struct Queue {
    cfg: QueueConfig,
    members: Vec<Member>,
    /// Member index by extension (rebuilt whenever the list changes).
    index: HashMap<ExtensionNumber, usize>,
    rr_next: usize,
    counters: Counters,
}

impl Queue {
    fn reindex(&mut self) {
        self.index = self
            .members
            .iter()
            .enumerate()
            .map(|(i, m)| (m.ext.clone(), i))
            .collect();
    }
}

#[derive(Debug, Clone, PartialEq)]
enum Activity {
    Idle,
    Ringing(CallId),
    OnCall {
        call: CallId,
        queue: QueueKey,
        since: Instant,
    },
    WrapUp(Instant),
}

#[derive(Debug)]
struct Agent {
    paused: Option<String>,
    reachable: bool,
    /// On a call the queues did not give it (offered only by `ringinuse` queues).
    in_use: bool,
    activity: Activity,
}

impl Agent {
    fn new() -> Agent {
        Agent {
            paused: None,
            reachable: true,
            in_use: false,
            activity: Activity::Idle,
        }
    }
}

#[derive(Debug)]
struct Waiter {
    queue: QueueKey,
    seq: u64,
    joined: Instant,
    /// The agents rung for this caller now.
    ringing: Vec<ExtensionNumber>,
    retry_at: Option<Instant>,
    /// Agents offered since the caller last went through them all.
    tried: Vec<ExtensionNumber>,
    next_announce: Option<Instant>,
}

/// Every queue, agent and waiting caller of the switch.
#[derive(Debug)]
pub struct Acd {
    queues: HashMap<QueueKey, Queue>,
    agents: HashMap<AgentKey, Agent>,
    waiting: HashMap<CallId, Waiter>,
    /// Waiting callers by join order: the longest waiter comes first.
    order: BTreeMap<u64, CallId>,
    /// Agents talking to a caller a queue gave them.
    talking: HashMap<CallId, AgentKey>,
    seq: u64,
    rng: StdRng,
}

impl Acd {
    /// `seed` drives the random strategies (tests pass a fixed one).
    pub fn new(seed: u64) -> Acd {
        Acd {
            queues: HashMap::new(),
            agents: HashMap::new(),
            waiting: HashMap::new(),
            order: BTreeMap::new(),
            talking: HashMap::new(),
            seq: 0,
            rng: StdRng::seed_from_u64(seed),
        }
    }

    /// Makes the queues those of `configs`: new ones appear, changed ones keep
    /// their members' state and figures, static members follow the list
    /// (dynamic ones stay), and the callers of a removed queue are let go.
    pub fn configure(&mut self, configs: Vec<QueueConfig>, now: Instant) -> Vec<Action> {
        let mut keep = std::collections::HashSet::new();
        for cfg in configs {
            let key = cfg.key();
            keep.insert(key.clone());
            for (ext, _) in &cfg.members {
                self.agents
                    .entry((cfg.account.clone(), ext.clone()))
                    .or_insert_with(Agent::new);
            }
            let q = self.queues.entry(key).or_insert_with(|| Queue {
                cfg: cfg.clone(),
                members: Vec::new(),
                index: HashMap::new(),
                rr_next: 0,
                counters: Counters::default(),
            });
            let mut old: Vec<Member> = std::mem::take(&mut q.members);
            for (ext, penalty) in &cfg.members {
                let m = match old.iter().position(|m| &m.ext == ext) {
                    Some(i) => {
                        let mut m = old.remove(i);
                        m.penalty = *penalty;
                        m.dynamic = false;
                        m
                    }
                    None => Member {
                        ext: ext.clone(),
                        penalty: *penalty,
                        dynamic: false,
                        logged_in: true,
                        calls: 0,
                        last_end: None,
                    },
                };
                q.members.push(m);
            }
            q.members.extend(old.into_iter().filter(|m| m.dynamic));
            q.reindex();
            q.cfg = cfg;
        }
        let gone: Vec<CallId> = self
            .waiting
            .iter()
            .filter(|(_, w)| !keep.contains(&w.queue))
            .map(|(c, _)| *c)
            .collect();
        self.queues.retain(|k, _| keep.contains(k));
        let mut out = Vec::new();
        for call in gone {
            self.remove_waiter(call, Exit::Left(LeaveReason::Removed), now);
            out.push(Action::Leave {
                call,
                reason: LeaveReason::Removed,
            });
        }
        out
    }

    pub fn config(&self, key: &QueueKey) -> Option<&QueueConfig> {
        self.queues.get(key).map(|q| &q.cfg)
    }

    pub fn queue_keys(&self) -> impl Iterator<Item = &QueueKey> {
        self.queues.keys()
    }

    /// Every agent the queues know (for the driver's registration checks).
    pub fn agent_keys(&self) -> impl Iterator<Item = &AgentKey> {
        self.agents.keys()
    }

    /// The caller starts waiting; its position (1 = next) on success.
    pub fn join(&mut self, call: CallId, key: &QueueKey, now: Instant) -> Result<usize, JoinError> {
        if self.waiting.contains_key(&call) {
            return Err(JoinError::AlreadyWaiting);
        }
        let q = self.queues.get_mut(key).ok_or(JoinError::NoSuchQueue)?;
        let count = self.waiting.values().filter(|w| &w.queue == key).count();
        if q.cfg.maxlen > 0 && count >= q.cfg.maxlen {
            q.counters.refused += 1;
            return Err(JoinError::Full);
        }
        if !q.cfg.joinempty && !staffed(q, &self.agents) {
            q.counters.refused += 1;
            return Err(JoinError::Empty);
        }
        self.seq += 1;
        let next_announce = q.cfg.announce_every.map(|e| now + e);
        self.waiting.insert(
            call,
            Waiter {
                queue: key.clone(),
                seq: self.seq,
                joined: now,
                ringing: Vec::new(),
                retry_at: None,
                tried: Vec::new(),
                next_announce,
            },
        );
        self.order.insert(self.seq, call);
        Ok(count + 1)
    }

    /// The caller left on its own: hung up (`Abandoned`) or pressed the exit key.
    pub fn leave(&mut self, call: CallId, exit: Exit, now: Instant) {
        self.remove_waiter(call, exit, now);
    }

    pub fn is_waiting(&self, call: CallId) -> bool {
        self.waiting.contains_key(&call)
    }

    /// Position of a waiting caller in its queue (1 = next).
    pub fn position(&self, call: CallId) -> Option<usize> {
        let w = self.waiting.get(&call)?;
        let ahead = self
            .order
            .range(..w.seq)
            .filter(|(_, c)| self.waiting.get(c).is_some_and(|o| o.queue == w.queue))
            .count();
        Some(ahead + 1)
    }

    /// The offer made for `call` is over.
    pub fn offer_ended(&mut self, call: CallId, end: OfferEnd, now: Instant) {
        let Some(w) = self.waiting.get_mut(&call) else {
            return;
        };
        let account = w.queue.0.clone();
        let ringing = std::mem::take(&mut w.ringing);
        for ext in &ringing {
            if let Some(a) = self.agents.get_mut(&(account.clone(), ext.clone())) {
                if a.activity == Activity::Ringing(call) {
                    a.activity = Activity::Idle;
                }
            }
        }
        match end {
            OfferEnd::Answered(ext) => {
                let key = w.queue.clone();
                self.remove_waiter(call, Exit::Answered, now);
                let agent = (account, ext.clone());
                if let Some(a) = self.agents.get_mut(&agent) {
                    a.activity = Activity::OnCall {
                        call,
                        queue: key.clone(),
                        since: now,
                    };
                }
                if let Some(m) = self
                    .queues
                    .get_mut(&key)
                    .and_then(|q| q.members.iter_mut().find(|m| m.ext == ext))
                {
                    m.calls += 1;
                }
                self.talking.insert(call, agent);
            }
            OfferEnd::NotAnswered { unreachable } => {
                let retry = self
                    .queues
                    .get(&w.queue)
                    .map(|q| q.cfg.retry)
                    .unwrap_or_default();
                w.retry_at = Some(now + retry);
                for ext in unreachable {
                    if let Some(a) = self.agents.get_mut(&(account.clone(), ext)) {
                        a.reachable = false;
                    }
                }
            }
        }
    }

    /// The agent's call with a caller the queue gave it is over: wrap-up starts.
    pub fn call_ended(&mut self, call: CallId, now: Instant) -> Option<(QueueKey, Duration)> {
        let agent = self.talking.remove(&call)?;
        let a = self.agents.get_mut(&agent)?;
        let Activity::OnCall { queue, since, .. } = a.activity.clone() else {
            return None;
        };
        let q = self.queues.get_mut(&queue);
        let wrapup = q.as_ref().map(|q| q.cfg.wrapup).unwrap_or_default();
        // the call that kept it in use was this one (another one shows at the next check)
        a.in_use = false;
        a.activity = if wrapup.is_zero() {
            Activity::Idle
        } else {
            Activity::WrapUp(now + wrapup)
        };
        let talk = now.saturating_duration_since(since);
        if let Some(q) = q {
            q.counters.talk_total += talk;
            q.counters.talk_count += 1;
            if let Some(m) = q.members.iter_mut().find(|m| m.ext == agent.1) {
                m.last_end = Some(now);
            }
        }
        Some((queue, talk))
    }

    /// Expires what is due and offers waiting callers to free agents.
    pub fn poll(&mut self, now: Instant) -> Vec<Action> {
        let mut out = Vec::new();
        for a in self.agents.values_mut() {
            if matches!(a.activity, Activity::WrapUp(t) if t <= now) {
                a.activity = Activity::Idle;
            }
        }
        self.expire(now, &mut out);
        self.announce(now, &mut out);
        self.dispatch(now, &mut out);
        out
    }

    /// When `poll` next has something to do (an offer can also follow any input).
    pub fn next_deadline(&self) -> Option<Instant> {
        let wrap = self.agents.values().filter_map(|a| match a.activity {
            Activity::WrapUp(t) => Some(t),
            _ => None,
        });
        let waits = self.waiting.values().flat_map(|w| {
            let q = self.queues.get(&w.queue);
            let max = q.and_then(|q| q.cfg.max_wait).map(|m| w.joined + m);
            let retry = w.retry_at.filter(|_| w.ringing.is_empty());
            [max, retry, w.next_announce].into_iter().flatten()
        });
        wrap.chain(waits).min()
    }

    fn expire(&mut self, now: Instant, out: &mut Vec<Action>) {
        let any = self
            .queues
            .values()
            .any(|q| q.cfg.max_wait.is_some() || q.cfg.leavewhenempty);
        if !any {
            return;
        }
        let mut gone = Vec::new();
        for call in self.order.values() {
            let w = &self.waiting[call];
            let Some(q) = self.queues.get(&w.queue) else {
                continue;
            };
            if q.cfg.max_wait.is_some_and(|m| now >= w.joined + m) {
                gone.push((*call, LeaveReason::Timeout));
            } else if q.cfg.leavewhenempty && !staffed(q, &self.agents) {
                gone.push((*call, LeaveReason::Empty));
            }
        }
        for (call, reason) in gone {
            self.remove_waiter(call, Exit::Left(reason), now);
            out.push(Action::Leave { call, reason });
        }
    }

    fn announce(&mut self, now: Instant, out: &mut Vec<Action>) {
        if !self.queues.values().any(|q| q.cfg.announce_every.is_some()) {
            return;
        }
        let due: Vec<CallId> = self
            .waiting
            .iter()
            .filter(|(_, w)| w.next_announce.is_some_and(|t| t <= now))
            .map(|(c, _)| *c)
            .collect();
        for call in due {
            let position = self.position(call).unwrap_or(1);
            let w = &self.waiting[&call];
            let estimate = self.estimate(&w.queue, position);
            let every = self.queues.get(&w.queue).and_then(|q| q.cfg.announce_every);
            let w = self.waiting.get_mut(&call).expect("due caller waits");
            w.next_announce = every.map(|e| {
                let mut t = w.next_announce.unwrap_or(now);
                while t <= now {
                    t += e;
                }
                t
            });
            out.push(Action::Announce {
                call,
                position,
                estimate,
            });
        }
    }

    /// Estimated wait at `position`: the mean time an agent spends per call
    /// (talk and wrap-up), shared among the logged-in agents. `None` before the
    /// queue has finished a call.
    pub fn estimate(&self, key: &QueueKey, position: usize) -> Option<Duration> {
        let q = self.queues.get(key)?;
        if q.counters.talk_count == 0 {
            return None;
        }
        let per_call = q.counters.avg_talk() + q.cfg.wrapup.as_secs_f64();
        let online = q.members.iter().filter(|m| m.logged_in).count().max(1);
        Some(Duration::from_secs_f64(
            per_call * position as f64 / online as f64,
        ))
    }

    fn dispatch(&mut self, now: Instant, out: &mut Vec<Action>) {
        // the agents free now; the loop ends as soon as none is left
        let mut free: std::collections::HashSet<AgentKey> = self
            .agents
            .iter()
            .filter(|(_, a)| a.offerable())
            .map(|(k, _)| k.clone())
            .collect();
        let Acd {
            order,
            waiting,
            queues,
            agents,
            rng,
            ..
        } = self;
        for call in order.values() {
            if free.is_empty() {
                break;
            }
            let w = waiting.get_mut(call).expect("ordered caller waits");
            if !w.ringing.is_empty() || w.retry_at.is_some_and(|t| t > now) {
                continue;
            }
            let Some(q) = queues.get_mut(&w.queue) else {
                continue;
            };
            let account = &w.queue.0;
            let ringinuse = q.cfg.ringinuse;
            // the queue's free members, in listed order (ties go to the first listed)
            let mut cands: Vec<Candidate> = free
                .iter()
                .filter(|k| &k.0 == account)
                .filter(|k| ringinuse || !agents.get(*k).is_some_and(|a| a.in_use))
                .filter_map(|k| q.index.get(&k.1).copied())
                .filter(|&i| q.members[i].logged_in)
                .map(|idx| {
                    let m = &q.members[idx];
                    Candidate {
                        idx,
                        penalty: m.penalty,
                        calls: m.calls,
                        last_end: m.last_end,
                    }
                })
                .collect();
            if cands.is_empty() {
                continue;
            }
            cands.sort_by_key(|c| c.idx);
            let mut untried: Vec<Candidate> = cands
                .iter()
                .filter(|c| !w.tried.contains(&q.members[c.idx].ext))
                .copied()
                .collect();
            if untried.is_empty() {
                // everyone free was tried: go round again
                w.tried.clear();
                untried = cands;
            }
            let picked = strategy::choose(
                q.cfg.strategy,
                &untried,
                q.members.len(),
                &mut q.rr_next,
                rng,
            );
            if picked.is_empty() {
                continue;
            }
            let chosen: Vec<ExtensionNumber> =
                picked.iter().map(|i| q.members[*i].ext.clone()).collect();
            for ext in &chosen {
                let key = (account.clone(), ext.clone());
                if let Some(a) = agents.get_mut(&key) {
                    a.activity = Activity::Ringing(*call);
                }
                free.remove(&key);
                w.tried.push(ext.clone());
            }
            w.ringing = chosen.clone();
            w.retry_at = None;
            out.push(Action::Offer {
                call: *call,
                agents: chosen,
                ring: q.cfg.timeout,
            });
        }
    }

    fn remove_waiter(&mut self, call: CallId, exit: Exit, now: Instant) {
        let Some(w) = self.waiting.remove(&call) else {
            return;
        };
        self.order.remove(&w.seq);
        for ext in &w.ringing {
            if let Some(a) = self.agents.get_mut(&(w.queue.0.clone(), ext.clone())) {
                if a.activity == Activity::Ringing(call) {
                    a.activity = Activity::Idle;
                }
            }
        }
        let Some(q) = self.queues.get_mut(&w.queue) else {
            return;
        };
        let waited = now.saturating_duration_since(w.joined);
        let c = &mut q.counters;
        match exit {
            Exit::Answered => {
                c.answered += 1;
                c.wait_total += waited;
                if waited <= q.cfg.service_level {
                    c.answered_in_sl += 1;
                }
            }
            Exit::Abandoned => c.abandoned += 1,
            Exit::Left(LeaveReason::Timeout) => c.timed_out += 1,
            Exit::ExitKey | Exit::Transferred | Exit::Left(_) => c.left += 1,
        }
    }

    /// How long the caller has waited.
    pub fn waited(&self, call: CallId, now: Instant) -> Option<Duration> {
        self.waiting
            .get(&call)
            .map(|w| now.saturating_duration_since(w.joined))
    }

    /// The queue's figures now.
    pub fn stats(&self, key: &QueueKey, now: Instant) -> Option<QueueStats> {
        let q = self.queues.get(key)?;
        let views = self.agents(key);
        let count = |s: AgentStatus| views.iter().filter(|v| v.status == s).count();
        let waiting = self.waiting.values().filter(|w| &w.queue == key);
        let (mut calls_waiting, mut longest) = (0, Duration::ZERO);
        for w in waiting {
            calls_waiting += 1;
            longest = longest.max(now.saturating_duration_since(w.joined));
        }
        let c = &q.counters;
        Some(QueueStats {
            queue_id: q.cfg.id.clone(),
            queue_name: q.cfg.name.clone(),
            extension: q.cfg.number.clone(),
            agents_online: views
                .iter()
                .filter(|v| v.status != AgentStatus::LoggedOut)
                .count(),
            agents_available: count(AgentStatus::Available),
            agents_on_call: count(AgentStatus::OnCall),
            agents_paused: count(AgentStatus::Paused),
            calls_waiting,
            longest_wait_secs: longest.as_secs_f64(),
            answered: c.answered,
            abandoned: c.abandoned,
            timed_out: c.timed_out,
            left: c.left,
            refused: c.refused,
            avg_wait_secs: c.avg_wait(),
            avg_talk_secs: c.avg_talk(),
            service_level_secs: q.cfg.service_level.as_secs(),
            service_level_pct: c.service_level(),
        })
    }

    /// The queue's members and what each is doing.
    pub fn agents(&self, key: &QueueKey) -> Vec<AgentView> {
        let Some(q) = self.queues.get(key) else {
            return Vec::new();
        };
        q.members
            .iter()
            .map(|m| {
                let a = self.agents.get(&(key.0.clone(), m.ext.clone()));
                let status = match a {
                    _ if !m.logged_in => AgentStatus::LoggedOut,
                    None => AgentStatus::Unreachable,
                    Some(a) => match a.activity {
                        Activity::Ringing(_) => AgentStatus::Ringing,
                        Activity::OnCall { .. } => AgentStatus::OnCall,
                        Activity::WrapUp(_) => AgentStatus::WrapUp,
                        Activity::Idle if a.paused.is_some() => AgentStatus::Paused,
                        Activity::Idle if !a.reachable => AgentStatus::Unreachable,
                        Activity::Idle => AgentStatus::Available,
                    },
                };
                AgentView {
                    extension: m.ext.clone(),
                    penalty: m.penalty,
                    dynamic: m.dynamic,
                    status,
                    pause_reason: a.and_then(|a| a.paused.clone()),
                    calls: m.calls,
                }
            })
            .collect()
    }
}

impl Agent {
    /// May be offered a caller: free, not paused, with a registered device.
    /// (An agent on a queue call is never offered a second one, whatever
    /// `ringinuse` says.)
    fn offerable(&self) -> bool {
        self.paused.is_none() && self.reachable && self.activity == Activity::Idle
    }
}

/// Some member is logged in and has a registered device.
fn staffed(q: &Queue, agents: &HashMap<AgentKey, Agent>) -> bool {
    q.members.iter().any(|m| {
        m.logged_in
            && agents
                .get(&(q.cfg.account.clone(), m.ext.clone()))
                .is_some_and(|a| a.reachable)
    })
}
