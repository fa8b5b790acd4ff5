//! Live figures of a queue: kept exactly by the engine as counters, and
//! turned into a [`QueueStats`] snapshot the driver publishes for readers
//! (the HTTP layer) so they never touch the engine itself.

use std::time::Duration;

use serde::Serialize;

use crate::ids::QueueId;

/// What the engine counts per queue.
#[derive(Debug, Default, Clone)]
pub(super) struct Counters {
    pub answered: u64,
    pub answered_in_sl: u64,
    pub abandoned: u64,
    pub timed_out: u64,
    /// Left unanswered another way (exit key, empty queue, queue removed).
    pub left: u64,
    /// Refused at the door (full, or empty with `joinempty = false`).
    pub refused: u64,
    pub wait_total: Duration,
    pub talk_total: Duration,
    pub talk_count: u64,
}

/// A queue's figures at one instant.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct QueueStats {
    pub queue_id: QueueId,
    pub queue_name: String,
    pub extension: Option<String>,
    /// Agents logged in (paused ones included).
    pub agents_online: usize,
    /// Logged in, not paused, registered and free.
    pub agents_available: usize,
    pub agents_on_call: usize,
    pub agents_paused: usize,
    pub calls_waiting: usize,
    pub longest_wait_secs: f64,
    pub answered: u64,
    pub abandoned: u64,
    pub timed_out: u64,
    /// Callers who left unanswered by the exit key, an emptied or removed queue.
    pub left: u64,
    /// Callers turned away at the door (queue full, or empty with `joinempty = false`).
    pub refused: u64,
    /// Mean wait of answered callers.
    pub avg_wait_secs: f64,
    /// Mean talk time of finished agent calls.
    pub avg_talk_secs: f64,
    pub service_level_secs: u64,
    /// Answered within `service_level_secs`, as a share of the callers whose
    /// wait is over (answered, abandoned, timed out): 100 when none yet.
    pub service_level_pct: f64,
}

impl Counters {
    pub fn avg_wait(&self) -> f64 {
        if self.answered == 0 {
            0.0
        } else {
            self.wait_total.as_secs_f64() / self.answered as f64
        }
    }

    pub fn avg_talk(&self) -> f64 {
        if self.talk_count == 0 {
            0.0
        } else {
            self.talk_total.as_secs_f64() / self.talk_count as f64
        }
    }

    pub fn service_level(&self) -> f64 {
        let over = self.answered + self.abandoned + self.timed_out;
        if over == 0 {
            100.0
        } else {
            self.answered_in_sl as f64 * 100.0 / over as f64
        }
    }
}
