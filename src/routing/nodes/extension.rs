//! `extension`: ring every device of one extension for `ring_seconds`; on no
//! answer or busy go to `next` (voicemail, an operator) or hang up.

use std::time::Duration;

use super::{after_dial, dial_ended};
use crate::routing::{Cx, DialTarget, Event, Flow, Node, NodeId};

#[derive(Debug)]
pub struct Extension {
    pub id: String,
    pub number: String,
    pub ring: Duration,
    pub next: Option<NodeId>,
}

impl Node for Extension {
    fn id(&self) -> &str {
        &self.id
    }
    fn kind(&self) -> &'static str {
        "extension"
    }
    fn enter(&self, cx: &mut Cx) -> Flow {
        cx.dial(vec![DialTarget::Extension(self.number.clone())], self.ring);
        Flow::Stay
    }
    fn on_event(&self, cx: &mut Cx, ev: &Event) -> Flow {
        match dial_ended(cx, ev) {
            Some(outcome) => after_dial(cx, outcome, self.next),
            None => Flow::Stay,
        }
    }
}
