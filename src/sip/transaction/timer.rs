//! The timers of the transaction layer: a min-heap of
//! `(deadline, tx, timer)` entries with lazy deletion, and the per-transaction
//! slots that say which entry is still live.
//!
//! Every transaction has at most two armed timers at once: a retransmission
//! timer (A, E, G: slot 0) and a lifetime timer (B, D, F, H, I, J, K, L, M:
//! slot 1). Re-arming or cancelling only rewrites the slot; heap entries that
//! no longer match their slot are skipped when popped. This module also holds
//! [`Ctx`], the borrowed output sink the state machines write into. It never
//! reads the clock.

use std::cmp::Reverse;
use std::collections::{BinaryHeap, VecDeque};
use std::time::{Duration, Instant};

use bytes::Bytes;

use super::{Timers, Transmit, TxEvent, TxId};
use crate::sip::target::Target;

/// The RFC 3261 / RFC 6026 transaction timers.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum TimerKind {
    /// INVITE client retransmission.
    A,
    /// INVITE client transaction timeout.
    B,
    /// INVITE client wait for response retransmissions (Completed).
    D,
    /// Non-INVITE client retransmission.
    E,
    /// Non-INVITE client transaction timeout.
    F,
    /// INVITE server final-response retransmission.
    G,
    /// INVITE server wait for ACK.
    H,
    /// INVITE server wait for ACK retransmissions (Confirmed).
    I,
    /// Non-INVITE server wait for request retransmissions (Completed).
    J,
    /// Non-INVITE client wait for response retransmissions (Completed).
    K,
    /// INVITE server Accepted state (RFC 6026).
    L,
    /// INVITE client Accepted state (RFC 6026).
    M,
}

impl TimerKind {
    fn slot(self) -> usize {
        match self {
            TimerKind::A | TimerKind::E | TimerKind::G => 0,
            _ => 1,
        }
    }
}

/// The armed timers of one transaction.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) struct Slots([Option<(TimerKind, Instant)>; 2]);

impl Slots {
    /// Whether the heap entry `(kind, at)` is still the live one.
    pub fn is_live(&self, kind: TimerKind, at: Instant) -> bool {
        self.0[kind.slot()] == Some((kind, at))
    }

    pub fn clear(&mut self, kind: TimerKind) {
        self.0[kind.slot()] = None;
    }

    pub fn clear_all(&mut self) {
        self.0 = [None, None];
    }

    pub fn armed(&self) -> impl Iterator<Item = (TimerKind, Instant)> + '_ {
        self.0.iter().flatten().copied()
    }

    #[cfg(test)]
    pub fn get(&self, kind: TimerKind) -> Option<Instant> {
        match self.0[kind.slot()] {
            Some((k, at)) if k == kind => Some(at),
            _ => None,
        }
    }
}

type Entry = Reverse<(Instant, u64, TimerKind)>;

/// Min-heap of deadlines; stale entries are dropped when they reach the top.
#[derive(Debug, Default)]
pub(crate) struct TimerQueue {
    heap: BinaryHeap<Entry>,
}

impl TimerQueue {
    pub fn push(&mut self, at: Instant, tx: TxId, kind: TimerKind) {
        self.heap.push(Reverse((at, tx.0, kind)));
    }

    pub fn peek(&self) -> Option<(Instant, TxId, TimerKind)> {
        self.heap
            .peek()
            .map(|Reverse((at, tx, kind))| (*at, TxId(*tx), *kind))
    }

    pub fn pop(&mut self) -> Option<(Instant, TxId, TimerKind)> {
        self.heap
            .pop()
            .map(|Reverse((at, tx, kind))| (at, TxId(tx), kind))
    }

    pub fn len(&self) -> usize {
        self.heap.len()
    }

    /// Replace the whole heap by the given live entries (compaction).
    pub fn rebuild(&mut self, live: impl Iterator<Item = (Instant, TxId, TimerKind)>) {
        let entries: Vec<Entry> = live
            .map(|(at, tx, kind)| Reverse((at, tx.0, kind)))
            .collect();
        self.heap = BinaryHeap::from(entries);
    }
}

/// What a state machine step wants done with its transaction afterwards.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Next {
    Stay,
    Terminate,
}

/// Borrowed outputs of the layer, handed to one transaction for one step.
pub(crate) struct Ctx<'a> {
    pub now: Instant,
    pub timers: &'a Timers,
    pub id: TxId,
    pub queue: &'a mut TimerQueue,
    pub out: &'a mut VecDeque<Transmit>,
    pub events: &'a mut VecDeque<TxEvent>,
}

impl Ctx<'_> {
    /// Arm `kind` to fire `after` from now, replacing whatever its slot held.
    pub fn arm(&mut self, slots: &mut Slots, kind: TimerKind, after: Duration) {
        let at = self.now + after;
        slots.0[kind.slot()] = Some((kind, at));
        self.queue.push(at, self.id, kind);
    }

    pub fn send(&mut self, target: Target, bytes: Bytes) {
        self.out.push_back(Transmit { target, bytes });
    }

    pub fn event(&mut self, event: TxEvent) {
        self.events.push_back(event);
    }

    /// 64*T1: timers B, F, H, J (unreliable), L, M.
    pub fn t1x64(&self) -> Duration {
        self.timers.t1 * 64
    }
}
