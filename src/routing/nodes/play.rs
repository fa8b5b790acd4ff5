//! `play`: answer, play steps (prompts, speech, tones, music), then go to
//! `next` or hang up.

use crate::dialplan::Step;
use crate::events::HangupCause;
use crate::routing::{Cx, Event, Flow, Node, NodeId};

#[derive(Debug)]
pub struct Play {
    pub id: String,
    pub steps: Vec<Step>,
    pub next: Option<NodeId>,
}

impl Node for Play {
    fn id(&self) -> &str {
        &self.id
    }
    fn kind(&self) -> &'static str {
        "play"
    }
    fn enter(&self, cx: &mut Cx) -> Flow {
        cx.play(self.steps.clone());
        Flow::Stay
    }
    fn on_event(&self, cx: &mut Cx, ev: &Event) -> Flow {
        match ev {
            Event::PlayDone { id } if cx.is_pending(*id) => match self.next {
                Some(n) => Flow::Goto(n),
                None => cx.hangup(HangupCause::NormalClearing),
            },
            _ => Flow::Stay,
        }
    }
}
