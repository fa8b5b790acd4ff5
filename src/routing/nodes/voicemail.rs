//! `voicemail`: the caller leaves a message in an extension's box. The switch
//! answers, plays the box's greeting (its own recording if one was uploaded,
//! else the default prompt) and a tone, and records the caller until `#`,
//! 5 s of silence, `max_seconds`, or the caller hangs up (the usual way); `#`,
//! the silence or the time limit is followed by a short goodbye. The call stores the message and
//! announces it (`voicemail_new`).

use std::time::Duration;

use crate::dialplan::{Step, ToneName};
use crate::events::HangupCause;
use crate::routing::{Cx, Event, Flow, Node};

#[derive(Debug)]
pub struct Voicemail {
    pub id: String,
    /// The extension whose box takes the message.
    pub r#box: String,
    pub max: Duration,
}

const GREETING: u32 = 0;
const RECORDING: u32 = 1;
const GOODBYE: u32 = 2;
const TONE: u32 = 3;

impl Voicemail {
    fn goodbye(&self, cx: &mut Cx) -> Flow {
        cx.stop_record();
        cx.state().tries = GOODBYE;
        cx.wake_at(None);
        cx.play(vec![Step::Say {
            text: "Your message has been saved. Goodbye.".into(),
            voice: None,
        }]);
        Flow::Stay
    }
}

impl Node for Voicemail {
    fn id(&self) -> &str {
        &self.id
    }
    fn kind(&self) -> &'static str {
        "voicemail"
    }
    fn enter(&self, cx: &mut Cx) -> Flow {
        cx.play_greeting(&self.r#box);
        cx.state().tries = GREETING;
        Flow::Stay
    }
    fn on_event(&self, cx: &mut Cx, ev: &Event) -> Flow {
        match (cx.state().tries, ev) {
            (GREETING, Event::PlayDone { id }) if cx.is_pending(*id) => {
                cx.play(vec![Step::Tone {
                    tone: ToneName::RingbackEu,
                    seconds: 1,
                }]);
                cx.state().tries = TONE;
                Flow::Stay
            }
            (TONE, Event::PlayDone { id }) if cx.is_pending(*id) => {
                cx.record(&self.r#box, self.max);
                cx.state().tries = RECORDING;
                let at = cx.now() + self.max;
                cx.wake_at(Some(at));
                Flow::Stay
            }
            (RECORDING, Event::Digit('#') | Event::Silence) => self.goodbye(cx),
            (GOODBYE, Event::PlayDone { id }) if cx.is_pending(*id) => {
                cx.hangup(HangupCause::NormalClearing)
            }
            _ => Flow::Stay,
        }
    }
    fn on_timeout(&self, cx: &mut Cx) -> Flow {
        if cx.state().tries == RECORDING {
            return self.goodbye(cx);
        }
        Flow::Stay
    }
}
