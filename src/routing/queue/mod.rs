//! ACD queues: who is offered the next waiting caller. [`Acd`] is a sans-IO
//! state machine over every queue and agent of the switch — callers join and
//! leave, agents log in, pause and answer, and [`Acd::poll`] (given the time)
//! answers with [`Action`]s: offer this caller to these agents, announce a
//! position, let a caller go. The call layer drives it from one task and
//! carries the actions out; nothing here does IO or reads a clock.
//!
//! Split: `engine` the state and its transitions, `strategy` the choice among
//! available agents, `stats` the live figures the HTTP layer reads.

mod engine;
mod stats;
mod strategy;
#[cfg(test)]
mod tests;

use std::time::Duration;

use crate::dialplan::{QueueDef, QueueStrategy};
use crate::ids::{AccountId, CallId, ExtensionNumber, QueueId};

pub use engine::{Acd, AgentStatus, AgentView, JoinError, OfferEnd};
pub use stats::QueueStats;

/// A queue of an account.
pub type QueueKey = (AccountId, QueueId);
/// An agent: an extension of an account (one state across all its queues).
pub type AgentKey = (AccountId, ExtensionNumber);

/// An agent's own choices, where they differ from the dialplan.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AgentChoices {
    pub logged_in: Vec<QueueId>,
    pub logged_out: Vec<QueueId>,
    pub paused: Option<String>,
}

/// A queue's settings, compiled from its definition.
#[derive(Debug, Clone, PartialEq)]
pub struct QueueConfig {
    pub account: AccountId,
    pub id: QueueId,
    pub name: String,
    pub number: Option<String>,
    pub strategy: QueueStrategy,
    /// Static members (extension, penalty), in the listed order.
    pub members: Vec<(ExtensionNumber, u32)>,
    pub timeout: Duration,
    pub retry: Duration,
    pub wrapup: Duration,
    /// 0: no limit.
    pub maxlen: usize,
    pub joinempty: bool,
    pub leavewhenempty: bool,
    pub ringinuse: bool,
    pub moh: String,
    pub announce_every: Option<Duration>,
    pub announce_position: bool,
    pub announce_holdtime: bool,
    pub max_wait: Option<Duration>,
    pub exit_key: Option<char>,
    pub service_level: Duration,
}

impl QueueConfig {
    pub fn key(&self) -> QueueKey {
        (self.account.clone(), self.id.clone())
    }

    pub fn from_def(account: &str, d: &QueueDef) -> QueueConfig {
        let secs = |s: u32| Duration::from_secs(u64::from(s));
        let nonzero = |s: u32| (s > 0).then(|| secs(s));
        QueueConfig {
            account: AccountId::from(account),
            id: QueueId::from(d.id.as_str()),
            name: d.name.clone(),
            number: d.number.clone(),
            strategy: d.strategy,
            members: d
                .members
                .iter()
                .map(|m| (ExtensionNumber::from(m.extension()), m.penalty()))
                .collect(),
            timeout: secs(d.timeout.max(1)),
            retry: secs(d.retry),
            wrapup: secs(d.wrapuptime),
            maxlen: d.maxlen as usize,
            joinempty: d.joinempty,
            leavewhenempty: d.leavewhenempty,
            ringinuse: d.ringinuse,
            moh: d.musiconhold.clone(),
            announce_every: nonzero(d.announce_frequency),
            announce_position: d.announce_position,
            announce_holdtime: d.announce_holdtime,
            max_wait: nonzero(d.max_wait),
            exit_key: d.exit_key.as_deref().and_then(|k| k.chars().next()),
            service_level: secs(d.service_level),
        }
    }
}

/// Why a waiting caller was let go by the queue (not by hanging up).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LeaveReason {
    /// Waited the queue's `max_wait`.
    Timeout,
    /// The last agent logged out (`leavewhenempty`).
    Empty,
    /// The queue was removed from the dialplan.
    Removed,
}

/// Why a caller left the queue, for the figures and events.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Exit {
    Answered,
    /// The caller hung up while waiting.
    Abandoned,
    /// The caller pressed the queue's exit key.
    ExitKey,
    /// An operator sent the caller elsewhere.
    Transferred,
    Left(LeaveReason),
}

/// What the driver must do.
#[derive(Debug, Clone, PartialEq)]
pub enum Action {
    /// Ring these agents for `ring` for this caller (the first to answer gets it).
    Offer {
        call: CallId,
        agents: Vec<ExtensionNumber>,
        ring: Duration,
    },
    /// Tell the caller where it stands.
    Announce {
        call: CallId,
        position: usize,
        estimate: Option<Duration>,
    },
    /// The caller is out of the queue: continue its callflow.
    Leave { call: CallId, reason: LeaveReason },
}
