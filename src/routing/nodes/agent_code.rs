//! Agent feature codes: an agent dials `*45` to log in to its queues (`*45`
//! followed by a queue's number: that queue, joining it when not listed),
//! `*46` to log out, `*47` to pause (reason `break`) and `*48` to resume. The
//! switch answers, the queue engine applies it, a voice confirms, and the
//! call ends. Not a callflow node kind: admission builds it for the codes.

use crate::dialplan::Step;
use crate::events::HangupCause;
use crate::ids::QueueId;
use crate::routing::{AgentAction, Cx, Event, Flow, Node};

#[derive(Debug)]
pub struct AgentCode {
    pub id: String,
    pub action: AgentAction,
    pub queue: Option<QueueId>,
}

impl Node for AgentCode {
    fn id(&self) -> &str {
        &self.id
    }
    fn kind(&self) -> &'static str {
        "agent_code"
    }
    fn enter(&self, cx: &mut Cx) -> Flow {
        cx.agent(self.action, self.queue.clone());
        Flow::Stay
    }
    fn on_event(&self, cx: &mut Cx, ev: &Event) -> Flow {
        match ev {
            Event::AgentDone { id, queues } if cx.is_pending(*id) => {
                let text = confirmation(self.action, *queues);
                cx.play(vec![Step::Say { text, voice: None }]);
                Flow::Stay
            }
            Event::PlayDone { id } if cx.is_pending(*id) => cx.hangup(HangupCause::NormalClearing),
            _ => Flow::Stay,
        }
    }
}

/// What the agent hears: what changed, in how many queues.
pub fn confirmation(action: AgentAction, queues: usize) -> String {
    let n = match queues {
        1 => "one queue".to_string(),
        n => format!("{n} queues"),
    };
    match (action, queues) {
        (AgentAction::Login, 0) => "You were already logged in, or are in no queue.".into(),
        (AgentAction::Login, _) => format!("You are logged in to {n}."),
        (AgentAction::Logout, 0) => "You were not logged in.".into(),
        (AgentAction::Logout, _) => format!("You are logged out of {n}."),
        (AgentAction::Pause, 0) => "You are in no queue.".into(),
        (AgentAction::Pause, _) => "You are paused.".into(),
        (AgentAction::Unpause, 0) => "You are in no queue.".into(),
        (AgentAction::Unpause, _) => "You are available again.".into(),
    }
}
