//! `[[accounts.queues]]`: an ACD queue — callers wait with music on hold
//! while the queue offers them to its agents by a strategy. This file owns the
//! shape (read from TOML, kept in the store as JSON); ranges and references are
//! checked by `validate/queues.rs`; deciding who gets a call is
//! `routing::queue`'s business. Field names follow Asterisk's `queues.conf`
//! (and the voice API that lists queues), so call-center people find them.

use serde::{Deserialize, Serialize};

/// Who is offered the next caller.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum QueueStrategy {
    /// Every available agent at once; the first to answer gets the call.
    Ringall,
    /// The agent whose last call from this queue ended longest ago.
    Leastrecent,
    /// The agent who took the fewest calls from this queue.
    Fewestcalls,
    /// Any available agent, uniformly.
    Random,
    /// Round robin, remembering where the last call went.
    #[default]
    Rrmemory,
    /// Always in the listed order, from the top.
    Linear,
    /// Random, weighted by penalty: a lower penalty is more likely.
    Wrandom,
}

impl QueueStrategy {
    pub fn as_str(self) -> &'static str {
        match self {
            QueueStrategy::Ringall => "ringall",
            QueueStrategy::Leastrecent => "leastrecent",
            QueueStrategy::Fewestcalls => "fewestcalls",
            QueueStrategy::Random => "random",
            QueueStrategy::Rrmemory => "rrmemory",
            QueueStrategy::Linear => "linear",
            QueueStrategy::Wrandom => "wrandom",
        }
    }
}

/// A static member: an extension, with a penalty (0 is rung first).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum MemberDef {
    /// `"1002"`: penalty 0.
    Extension(String),
    /// `{ extension = "1003", penalty = 1 }`.
    WithPenalty {
        extension: String,
        #[serde(default)]
        penalty: u32,
    },
}

impl MemberDef {
    pub fn extension(&self) -> &str {
        match self {
            MemberDef::Extension(e) | MemberDef::WithPenalty { extension: e, .. } => e,
        }
    }
    pub fn penalty(&self) -> u32 {
        match self {
            MemberDef::Extension(_) => 0,
            MemberDef::WithPenalty { penalty, .. } => *penalty,
        }
    }
}

fn default_timeout() -> u32 {
    15
}
fn default_retry() -> u32 {
    5
}
fn default_moh() -> String {
    "default".into()
}
fn yes() -> bool {
    true
}
fn default_service_level() -> u32 {
    20
}

/// `[[accounts.queues]]`
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct QueueDef {
    /// The queue's id in its account (`sales`).
    pub id: String,
    /// Shown to people (`Sales Queue`).
    pub name: String,
    /// Dialling this number enters the queue (optional).
    pub number: Option<String>,
    #[serde(default)]
    pub strategy: QueueStrategy,
    #[serde(default)]
    pub members: Vec<MemberDef>,
    /// Seconds an agent rings per attempt.
    #[serde(default = "default_timeout")]
    pub timeout: u32,
    /// Seconds before the next attempt after nobody answered.
    #[serde(default = "default_retry")]
    pub retry: u32,
    /// Seconds an agent rests after a call before the next is offered.
    #[serde(default)]
    pub wrapuptime: u32,
    /// Callers that may wait at once (0: no limit).
    #[serde(default)]
    pub maxlen: u32,
    /// Callers may join while no agent is logged in.
    #[serde(default = "yes")]
    pub joinempty: bool,
    /// Waiting callers leave when the last agent logs out.
    #[serde(default)]
    pub leavewhenempty: bool,
    /// Agents already on a call may be offered another.
    #[serde(default)]
    pub ringinuse: bool,
    /// Music-on-hold class callers hear while they wait.
    #[serde(default = "default_moh")]
    pub musiconhold: String,
    /// Seconds between announcements to a waiting caller (0: none).
    #[serde(default)]
    pub announce_frequency: u32,
    /// Announcements say the caller's position.
    #[serde(default = "yes")]
    pub announce_position: bool,
    /// Announcements say the estimated wait.
    #[serde(default)]
    pub announce_holdtime: bool,
    /// Seconds a caller may wait before the queue gives up (0: no limit).
    #[serde(default)]
    pub max_wait: u32,
    /// A key that takes the waiting caller out of the queue (to the queue
    /// node's `exit`, e.g. voicemail).
    pub exit_key: Option<String>,
    /// Calls answered within this many seconds count towards the service level.
    #[serde(default = "default_service_level")]
    pub service_level: u32,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_queue_reads_with_defaults_and_round_trips_through_json() {
        let q: QueueDef = toml::from_str(
            r#"
            id = "sales"
            name = "Sales Queue"
            number = "8100"
            members = ["1002", { extension = "1003", penalty = 2 }]
            "#,
        )
        .expect("queue");
        assert_eq!(q.strategy, QueueStrategy::Rrmemory);
        assert_eq!(
            (q.timeout, q.retry, q.musiconhold.as_str()),
            (15, 5, "default")
        );
        assert_eq!(q.members[1].extension(), "1003");
        assert_eq!((q.members[0].penalty(), q.members[1].penalty()), (0, 2));
        let json = serde_json::to_string(&q).expect("json");
        let back: QueueDef = serde_json::from_str(&json).expect("back");
        assert_eq!(back, q);
        assert!(toml::from_str::<QueueDef>("id='x'\nname='x'\nstrategy='roundrobin'").is_err());
    }
}
