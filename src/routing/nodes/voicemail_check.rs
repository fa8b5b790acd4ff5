//! `*97`, the owner's voicemail: answer, ask for the PIN (keys, then `#`),
//! and play every unheard message oldest first. During a message or the menu
//! after it, `1` plays it again, `7` deletes it, `9` (or `#`) keeps it and goes
//! on; silence after the menu keeps it too. A kept message is marked heard.
//! Three wrong or missing PINs hang up.

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
/// Saying how many messages there are.
const COUNT: usize = 2;
/// A message plays.
const PLAYING: usize = 3;
/// The menu after a message plays, or waits for its key.
const MENU: usize = 4;
/// "Message deleted."
const DELETED: usize = 5;
const BYE: usize = 6;

const MENU_TEXT: &str =
    "To hear it again press 1, to delete it press 7, for the next message press 9.";

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

    /// The current message, or the goodbye when there is none left.
    fn play_current(&self, cx: &mut Cx) -> Flow {
        let next = cx.state().queue.first().cloned();
        match next {
            Some((_, path)) => {
                cx.state().member = PLAYING;
                cx.wake_at(None);
                cx.play_file(&path);
            }
            None => {
                cx.state().member = BYE;
                cx.play(say("No more messages. Goodbye."));
            }
        }
        Flow::Stay
    }

    /// Keeps the current message (heard) and goes on.
    fn keep(&self, cx: &mut Cx) -> Flow {
        if !cx.state().queue.is_empty() {
            let (id, _) = cx.state().queue.remove(0);
            cx.mark_heard(&id);
        }
        self.play_current(cx)
    }

    /// What a key does to the message playing or just played.
    fn key(&self, cx: &mut Cx, d: char) -> Flow {
        match d {
            '1' => {
                cx.stop_play();
                self.play_current(cx)
            }
            '7' => {
                cx.stop_play();
                if !cx.state().queue.is_empty() {
                    let (id, path) = cx.state().queue.remove(0);
                    cx.delete_message(&self.r#box, &id, &path);
                }
                cx.state().member = DELETED;
                cx.wake_at(None);
                cx.play(say("Message deleted."));
                Flow::Stay
            }
            '9' | '#' => {
                cx.stop_play();
                self.keep(cx)
            }
            _ => Flow::Stay,
        }
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
                    cx.state().member = COUNT;
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
            (COUNT | DELETED, Event::PlayDone { id }) if cx.is_pending(*id) => {
                self.play_current(cx)
            }
            // a message played to its end: the menu
            (PLAYING, Event::PlayDone { id }) if cx.is_pending(*id) => {
                cx.state().member = MENU;
                cx.play(say(MENU_TEXT));
                Flow::Stay
            }
            (MENU, Event::PlayDone { id }) if cx.is_pending(*id) => {
                let at = cx.now() + KEY_WAIT;
                cx.wake_at(Some(at));
                Flow::Stay
            }
            (PLAYING | MENU, Event::Digit(d)) => self.key(cx, *d),
            (BYE, Event::PlayDone { id }) if cx.is_pending(*id) => {
                cx.hangup(HangupCause::NormalClearing)
            }
            _ => Flow::Stay,
        }
    }
    fn on_timeout(&self, cx: &mut Cx) -> Flow {
        match cx.state().member {
            ASK => self.ask(cx, ""),
            // no key after the menu: keep the message, go on
            MENU => self.keep(cx),
            _ => Flow::Stay,
        }
    }
}
