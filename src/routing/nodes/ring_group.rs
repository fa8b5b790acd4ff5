//! `ring_group`: ring a group of extensions. `simultaneous` rings every
//! member at once for `ring_seconds`; `sequential` rings them one after
//! another in the listed order, `ring_seconds` each; `round_robin` does the
//! same starting one member further on each call (the rotation lives in the
//! compiled flow, shared by its calls); `random` in a new order per call. A
//! busy or unreachable member is skipped at once. When nobody answers the
//! call goes to `next` or is hung up (busy when every member was busy).

use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use rand::seq::SliceRandom;

use super::{after_dial, dial_ended};
use crate::dialplan::RingStrategy;
use crate::routing::{Cx, DialOutcome, DialTarget, Event, Flow, Node, NodeId};

#[derive(Debug)]
pub struct RingGroup {
    pub id: String,
    pub name: String,
    pub members: Vec<String>,
    pub strategy: RingStrategy,
    pub ring: Duration,
    pub next: Option<NodeId>,
    /// Where the next round-robin call starts.
    pub rotation: AtomicUsize,
}

impl RingGroup {
    fn ring_member(&self, cx: &mut Cx) {
        let st = cx.state();
        let m = st.order[st.member];
        let target = DialTarget::Extension(self.members[m].clone());
        cx.dial(vec![target], self.ring);
    }
}

impl Node for RingGroup {
    fn id(&self) -> &str {
        &self.id
    }
    fn kind(&self) -> &'static str {
        "ring_group"
    }
    fn enter(&self, cx: &mut Cx) -> Flow {
        let n = self.members.len();
        if n == 0 {
            return after_dial(cx, DialOutcome::Unavailable, self.next);
        }
        let mut order: Vec<usize> = (0..n).collect();
        match self.strategy {
            RingStrategy::Simultaneous => {
                let targets = self
                    .members
                    .iter()
                    .map(|m| DialTarget::Extension(m.clone()))
                    .collect();
                cx.dial(targets, self.ring);
                return Flow::Stay;
            }
            RingStrategy::Sequential => {}
            RingStrategy::RoundRobin => {
                let first = self.rotation.fetch_add(1, Ordering::Relaxed) % n;
                order.rotate_left(first);
            }
            RingStrategy::Random => order.shuffle(&mut rand::thread_rng()),
        }
        cx.state().order = order;
        self.ring_member(cx);
        Flow::Stay
    }
    fn on_event(&self, cx: &mut Cx, ev: &Event) -> Flow {
        let Some(outcome) = dial_ended(cx, ev) else {
            return Flow::Stay;
        };
        if outcome == DialOutcome::Answered || self.strategy == RingStrategy::Simultaneous {
            return after_dial(cx, outcome, self.next);
        }
        let st = cx.state();
        if outcome != DialOutcome::Busy {
            st.tries += 1; // members that were not busy
        }
        st.member += 1;
        if st.member < st.order.len() {
            self.ring_member(cx);
            return Flow::Stay;
        }
        let all_busy = cx.state().tries == 0;
        let outcome = if all_busy {
            DialOutcome::Busy
        } else {
            DialOutcome::NoAnswer
        };
        after_dial(cx, outcome, self.next)
    }
}
