//! `*97`, the owner's voicemail: answer, ask for the PIN (keys, then `#`),
//! and play every unheard message oldest first, each marked heard once it has
//! played (a key skips to the next). Three wrong or missing PINs hang up.

use std::time::Duration;

use crate::dialplan::Step;
use crate::events::HangupCause;
use crate::routing::{Cx, Event, Flow, Node};

#[derive(Debug)]
pub struct VoicemailCheck {
    pub id: String,
    pub r#box: String,
}

/// Seconds to wait for the next key of the PIN.
const KEY_WAIT: Duration = Duration::from_secs(8);
const TRIES: u32 = 3;

// phases, kept in `NodeState::member`
const ASK: usize = 0;
const CHECKING: usize = 1;
const PLAYING: usize = 2;
const BYE: usize = 3;

fn say(text: &str) -> Vec<Step> {
    vec![Step::Say {
        text: text.to_string(),
        voice: None,
    }]
}

impl VoicemailCheck {
    fn ask(&self, cx: &mut Cx, before: &str) -> Flow {
        if cx.state().tries >= TRIES {
            return cx.hangup(HangupCause::CallRejected);
        }
        cx.state().tries += 1;
        cx.state().member = ASK;
        cx.state().digits.clear();
        let text = format!("{before}Please enter your PIN, then press pound.");
        cx.play(say(&text));
        let at = cx.now() + KEY_WAIT * 2;
        cx.wake_at(Some(at));
        Flow::Stay
    }

    /// The next message, or the goodbye when there is none left.
    fn next(&self, cx: &mut Cx) -> Flow {
        let next = cx.state().queue.first().cloned();
        match next {
            Some((_, path)) => {
                cx.play_file(&path);
            }
            None => {
                cx.state().member = BYE;
                cx.play(say("No more messages. Goodbye."));
            }
        }
        Flow::Stay
    }

    fn heard_one(&self, cx: &mut Cx) -> Flow {
        if !cx.state().queue.is_empty() {
            let (id, _) = cx.state().queue.remove(0);
            cx.mark_heard(&id);
        }
        self.next(cx)
    }
}

impl Node for VoicemailCheck {
    fn id(&self) -> &str {
        &self.id
    }
    fn kind(&self) -> &'static str {
        "voicemail_check"
    }
    fn enter(&self, cx: &mut Cx) -> Flow {
        self.ask(cx, "")
    }
    fn on_event(&self, cx: &mut Cx, ev: &Event) -> Flow {
        let phase = cx.state().member;
        match (phase, ev) {
            (ASK, Event::Digit('#')) => {
                cx.stop_play();
                cx.wake_at(None);
                cx.state().member = CHECKING;
                let pin = std::mem::take(&mut cx.state().digits);
                cx.open_mailbox(&self.r#box, &pin);
                Flow::Stay
            }
            (ASK, Event::Digit(d)) if d.is_ascii_digit() => {
                if cx.state().digits.is_empty() {
                    cx.stop_play();
                }
                cx.state().digits.push(*d);
                let at = cx.now() + KEY_WAIT;
                cx.wake_at(Some(at));
                Flow::Stay
            }
            (CHECKING, Event::Mailbox { id, messages }) if cx.is_pending(*id) => match messages {
                None => self.ask(cx, "Sorry, that PIN is not valid. "),
                Some(list) => {
                    cx.state().member = PLAYING;
                    cx.state().queue = list.clone();
                    let n = list.len();
                    let text = match n {
                        0 => "You have no new messages.".to_string(),
                        1 => "You have one new message.".to_string(),
                        n => format!("You have {n} new messages."),
                    };
                    cx.play(say(&text));
                    Flow::Stay
                }
            },
            // the count was said, or a message played to its end
            (PLAYING, Event::PlayDone { id }) if cx.is_pending(*id) => {
                if cx.state().waiting_key {
                    return self.heard_one(cx);
                }
                // the first PlayDone of this phase is the count; messages follow
                cx.state().waiting_key = true;
                self.next(cx)
            }
            // a key skips the rest of a message
            (PLAYING, Event::Digit(_)) if cx.state().waiting_key => {
                cx.stop_play();
                self.heard_one(cx)
            }
            (BYE, Event::PlayDone { id }) if cx.is_pending(*id) => {
                cx.hangup(HangupCause::NormalClearing)
            }
            _ => Flow::Stay,
        }
    }
    fn on_timeout(&self, cx: &mut Cx) -> Flow {
        if cx.state().member == ASK {
            return self.ask(cx, "");
        }
        Flow::Stay
    }
}
