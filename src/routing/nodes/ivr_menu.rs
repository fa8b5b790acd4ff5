//! `ivr_menu`: answer, play the prompt, and send the call where the caller's
//! key says. A key cuts the prompt short. After the prompt the menu waits
//! `timeout` for a key; a wrong key plays `invalid` and the menu again, and
//! after `retries` replays (timeouts or wrong keys) the call goes to
//! `on_timeout` or is hung up.

use std::collections::HashMap;
use std::time::Duration;

use crate::dialplan::Step;
use crate::events::HangupCause;
use crate::routing::{Cx, Event, Flow, Node, NodeId};

#[derive(Debug)]
pub struct IvrMenu {
    pub id: String,
    pub prompt: Vec<Step>,
    /// Key → the node it leads to (index, and id for the audit).
    pub options: HashMap<char, (NodeId, String)>,
    pub timeout: Duration,
    pub retries: u32,
    pub invalid: Vec<Step>,
    pub on_timeout: Option<NodeId>,
}

impl IvrMenu {
    /// Another try, or the way out when the tries are used up.
    fn again(&self, cx: &mut Cx, input: &str, before: &[Step]) -> Flow {
        if cx.state().tries >= self.retries {
            cx.audit(&self.id, input, "retries exhausted");
            return match self.on_timeout {
                Some(n) => Flow::Goto(n),
                None => cx.hangup(HangupCause::NormalClearing),
            };
        }
        cx.audit(
            &self.id,
            input,
            if input == "timeout" {
                "replay"
            } else {
                "invalid"
            },
        );
        cx.state().tries += 1;
        cx.state().waiting_key = false;
        cx.wake_at(None);
        let steps: Vec<Step> = before.iter().chain(&self.prompt).cloned().collect();
        cx.play(steps);
        Flow::Stay
    }
}

impl Node for IvrMenu {
    fn id(&self) -> &str {
        &self.id
    }
    fn kind(&self) -> &'static str {
        "ivr_menu"
    }
    fn enter(&self, cx: &mut Cx) -> Flow {
        cx.play(self.prompt.clone());
        Flow::Stay
    }
    fn on_event(&self, cx: &mut Cx, ev: &Event) -> Flow {
        match ev {
            Event::Digit(d) => {
                if !cx.state().waiting_key {
                    cx.stop_play();
                }
                match self.options.get(d) {
                    Some((n, name)) => {
                        cx.audit(&self.id, &d.to_string(), name);
                        Flow::Goto(*n)
                    }
                    None => self.again(cx, &d.to_string(), &self.invalid),
                }
            }
            Event::PlayDone { id } if cx.is_pending(*id) => {
                cx.state().waiting_key = true;
                let at = cx.now() + self.timeout;
                cx.wake_at(Some(at));
                Flow::Stay
            }
            _ => Flow::Stay,
        }
    }
    fn on_timeout(&self, cx: &mut Cx) -> Flow {
        self.again(cx, "timeout", &[])
    }
}
