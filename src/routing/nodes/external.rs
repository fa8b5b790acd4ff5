//! `external`: ring an outside number through the account's trunk.

use std::time::Duration;

use super::{after_dial, dial_ended};
use crate::routing::{Cx, DialTarget, Event, Flow, Node, NodeId};

#[derive(Debug)]
pub struct External {
    pub id: String,
    pub number: String,
    pub ring: Duration,
    pub next: Option<NodeId>,
}

impl Node for External {
    fn id(&self) -> &str {
        &self.id
    }
    fn kind(&self) -> &'static str {
        "external"
    }
    fn enter(&self, cx: &mut Cx) -> Flow {
        cx.dial(vec![DialTarget::External(self.number.clone())], self.ring);
        Flow::Stay
    }
    fn on_event(&self, cx: &mut Cx, ev: &Event) -> Flow {
        match dial_ended(cx, ev) {
            Some(outcome) => after_dial(cx, outcome, self.next),
            None => Flow::Stay,
        }
    }
}
