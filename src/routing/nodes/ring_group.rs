//! `ring_group`: ring a group of extensions. `simultaneous` rings every
//! member at once for `ring_seconds`; `sequential` rings them one after
//! another in the listed order, `ring_seconds` each; `round_robin` does the
//! same starting one member further on each call (the rotation lives in the
//! compiled flow, shared by its calls); `random` in a new order per call. A
//! busy or unreachable member is skipped at once. When nobody answers the
//! call goes to `next` or is hung up (busy when every member was busy).
//! A member is an extension (every registered device) or an E.164 number
//! (through the account's trunk); an extension already on a call is skipped
//! unless `ring_busy`. `group` caps the time the whole group rings.

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
    /// The whole group rings at most this long (sequential strategies).
    pub group: Option<Duration>,
    /// Ring members that are on a call already.
    pub ring_busy: bool,
    pub next: Option<NodeId>,
    /// Where the next round-robin call starts.
    pub rotation: AtomicUsize,
}

impl RingGroup {
    fn target(&self, member: &str) -> DialTarget {
        if crate::dialplan::is_e164(member) {
            DialTarget::External(member.to_string())
        } else if self.ring_busy {
            DialTarget::Extension(member.to_string())
        } else {
            DialTarget::IdleExtension(member.to_string())
        }
    }

    fn ring_member(&self, cx: &mut Cx) {
        let st = cx.state();
        let m = st.order[st.member];
        let target = self.target(&self.members[m]);
        // a member rings its time, or what is left of the group's
        let ring = match cx.state().until {
            Some(until) => self.ring.min(until.saturating_duration_since(cx.now())),
            None => self.ring,
        };
        cx.dial(vec![target], ring);
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
        if let Some(g) = self.group {
            let until = cx.now() + g;
            cx.state().until = Some(until);
        }
        match self.strategy {
            RingStrategy::Simultaneous => {
                let targets = self.members.iter().map(|m| self.target(m)).collect();
                let ring = self.group.map_or(self.ring, |g| g.min(self.ring));
                cx.dial(targets, ring);
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
        let time_left = match st.until {
            Some(until) => until > cx.now(),
            None => true,
        };
        if cx.state().member < cx.state().order.len() && time_left {
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
