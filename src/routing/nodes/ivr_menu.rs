//! `ivr_menu`: answer, play the prompt, and send the call where the caller's
//! key says. A key cuts the prompt short. After the prompt the menu waits
//! `timeout` for a key; a wrong key plays `invalid` and the menu again, and
//! after `retries` replays (timeouts or wrong keys) the call goes to
//! `on_timeout` or is hung up. With direct dial the caller may instead key
//! in an extension's number (ended by `#` or a pause of [`INTER_DIGIT`]): a
//! key that could begin an extension's number waits that long for more.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;
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
    /// Extension numbers the caller may dial directly (empty: no direct dial).
    pub direct: Arc<HashSet<String>>,
}

/// The pause that ends a number keyed in for direct dial.
pub const INTER_DIGIT: Duration = Duration::from_secs(2);

impl IvrMenu {
    /// What the keys the caller entered mean: an option, an extension's
    /// number (direct dial), or nothing.
    fn choose(&self, cx: &mut Cx, keyed: &str) -> Flow {
        cx.state().collecting = false;
        let mut chars = keyed.chars();
        if let (Some(k), None) = (chars.next(), chars.clone().next()) {
            if let Some((n, name)) = self.options.get(&k) {
                cx.audit(&self.id, keyed, name);
                return Flow::Goto(*n);
            }
        }
        if self.direct.contains(keyed) {
            cx.audit(&self.id, keyed, &format!("extension {keyed}"));
            return cx.transfer(keyed);
        }
        self.again(cx, keyed, &self.invalid)
    }

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
                if !cx.state().waiting_key && cx.state().digits.is_empty() {
                    cx.stop_play();
                }
                if self.direct.is_empty() {
                    return self.choose(cx, &d.to_string());
                }
                if *d == '#' && !cx.state().digits.is_empty() {
                    let keyed = std::mem::take(&mut cx.state().digits);
                    return self.choose(cx, &keyed);
                }
                cx.state().digits.push(*d);
                let keyed = cx.state().digits.clone();
                if self
                    .direct
                    .iter()
                    .any(|n| n.starts_with(&keyed) && *n != keyed)
                {
                    // could still become an extension's number: wait for more
                    cx.state().collecting = true;
                    let at = cx.now() + INTER_DIGIT;
                    cx.wake_at(Some(at));
                    return Flow::Stay;
                }
                cx.state().digits.clear();
                self.choose(cx, &keyed)
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
        if std::mem::take(&mut cx.state().collecting) {
            let keyed = std::mem::take(&mut cx.state().digits);
            return self.choose(cx, &keyed);
        }
        self.again(cx, "timeout", &[])
    }
}
