//! `queue`: answer and wait in an ACD queue. The call joins the queue engine
//! and hears music on hold until an agent answers (the flow is done), or the
//! queue lets it go — full, empty, waited too long: on to `next`, else hung
//! up — or the caller presses the queue's exit key: on to `exit` (voicemail).

use crate::events::HangupCause;
use crate::ids::QueueId;
use crate::routing::{Cx, Event, Flow, Node, NodeId, QueueOutcome};

#[derive(Debug)]
pub struct Queue {
    pub id: String,
    pub queue: QueueId,
    pub next: Option<NodeId>,
    pub exit: Option<NodeId>,
}

impl Node for Queue {
    fn id(&self) -> &str {
        &self.id
    }
    fn kind(&self) -> &'static str {
        "queue"
    }
    fn enter(&self, cx: &mut Cx) -> Flow {
        cx.queue(&self.queue);
        Flow::Stay
    }
    fn on_event(&self, cx: &mut Cx, ev: &Event) -> Flow {
        let Event::QueueEnded { id, outcome } = ev else {
            return Flow::Stay;
        };
        if !cx.is_pending(*id) {
            return Flow::Stay;
        }
        let next = match outcome {
            QueueOutcome::Answered => return Flow::Done,
            QueueOutcome::ExitKey => self.exit.or(self.next),
            _ => self.next,
        };
        match next {
            Some(n) => Flow::Goto(n),
            None => cx.hangup(match outcome {
                QueueOutcome::Timeout => HangupCause::NoAnswer,
                QueueOutcome::Full => HangupCause::UserBusy,
                QueueOutcome::NoSuchQueue => HangupCause::UnallocatedNumber,
                _ => HangupCause::NormalClearing,
            }),
        }
    }
}
