//! `[[accounts.apps]]`: numbers the switch answers itself and runs a list of media steps on.
//!
//! This file owns the shape of an app and of its steps: how a step's inline table is read
//! from TOML (with an error naming the app and the step when it is malformed) and how a
//! [`Step`] is written to and read back from JSON, the form the store keeps. Range and
//! naming rules (seconds, paths, voices) are checked by `validate/apps.rs`; running the
//! steps is the media layer's business, not this file's.

use std::fmt;

use serde::{Deserialize, Serialize};

/// `[[accounts.apps]]`, with its steps already decoded.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(try_from = "AppTable")]
pub struct AppDef {
    /// Dialled like an extension.
    pub number: String,
    pub name: String,
    /// Record the call: the caller on the left channel, the switch's audio on the right.
    pub record: bool,
    pub steps: Vec<Step>,
}

/// One media step of an app, in the order it runs.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(try_from = "StepTable", into = "StepTable")]
pub enum Step {
    /// Play a WAV file under the media directory (`.wav` optional). With `barge_in`, a
    /// DTMF digit stops it.
    Play {
        path: String,
        barge_in: bool,
    },
    /// Text to speech.
    Say {
        text: String,
        voice: Option<String>,
    },
    Tone {
        tone: ToneName,
        seconds: u32,
    },
    /// Music on hold of a class.
    Moh {
        class: String,
        seconds: u32,
    },
    /// Silence.
    Pause {
        seconds: f64,
    },
    /// Send the caller's audio back to them.
    Echo {
        seconds: u32,
    },
    /// Hang up (also what happens after the last step).
    Hangup,
}

/// The call-progress tones a [`Step::Tone`] can play.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum ToneName {
    /// North American ringback (440 + 480 Hz, 2 s on, 4 s off).
    Ringback,
    /// Busy (480 + 620 Hz, 0.5 s on, 0.5 s off).
    Busy,
    /// European ringback (425 Hz, 1 s on, 4 s off).
    RingbackEu,
}

/// The keys that say which kind a step is; a step holds exactly one of them.
const KINDS: [&str; 7] = ["play", "say", "tone", "moh", "pause", "echo", "hangup"];

/// The file form of an app, before its steps are decoded.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct AppTable {
    number: String,
    name: String,
    #[serde(default)]
    record: bool,
    steps: Vec<toml::Value>,
}

/// Why one step of an app could not be read. Shown by the TOML reader after the line.
#[derive(Debug)]
struct BadStep {
    number: String,
    index: usize,
    reason: String,
}

impl fmt::Display for BadStep {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "accounts.apps: app {:?}: steps[{}]: {}",
            self.number, self.index, self.reason
        )
    }
}

impl TryFrom<AppTable> for AppDef {
    type Error = BadStep;

    fn try_from(table: AppTable) -> Result<AppDef, BadStep> {
        let mut steps = Vec::with_capacity(table.steps.len());
        for (index, value) in table.steps.into_iter().enumerate() {
            let step = step_from_toml(value).map_err(|reason| BadStep {
                number: table.number.clone(),
                index,
                reason,
            })?;
            steps.push(step);
        }
        Ok(AppDef {
            number: table.number,
            name: table.name,
            record: table.record,
            steps,
        })
    }
}

/// Decodes one step, picking its kind by key first so that a mistake gets a precise
/// message ("unknown field `volume`, expected `play` or `barge_in`") rather than "matches
/// no kind of step".
fn step_from_toml(value: toml::Value) -> Result<Step, String> {
    let toml::Value::Table(table) = &value else {
        return Err(format!(
            "a step is an inline table such as {{ play = \"prompts/en/welcome\" }}, not a {}",
            value.type_str()
        ));
    };
    let kinds: Vec<&str> = KINDS
        .into_iter()
        .filter(|k| table.contains_key(*k))
        .collect();
    let repr = match kinds.as_slice() {
        ["play"] => value.try_into().map(StepTable::Play),
        ["say"] => value.try_into().map(StepTable::Say),
        ["tone"] => value.try_into().map(StepTable::Tone),
        ["moh"] => value.try_into().map(StepTable::Moh),
        ["pause"] => value.try_into().map(StepTable::Pause),
        ["echo"] => value.try_into().map(StepTable::Echo),
        ["hangup"] => value.try_into().map(StepTable::Hangup),
        [] => {
            let keys: Vec<&str> = table.keys().map(String::as_str).collect();
            return Err(format!(
                "unknown kind of step with keys {keys:?}; a step has one of: {}",
                KINDS.join(", ")
            ));
        }
        several => {
            return Err(format!(
                "a step does one thing, but this one has {}",
                several.join(" and ")
            ))
        }
    };
    let repr = repr.map_err(|e| e.message().to_owned())?;
    Step::try_from(repr).map_err(|e| e.to_string())
}

/// The table form of a step, shared by the dialplan file and the store's JSON column:
/// exactly the inline tables of `docs/dialplans.md`.
#[derive(Serialize, Deserialize)]
#[serde(untagged)]
enum StepTable {
    Play(PlayTable),
    Say(SayTable),
    Tone(ToneTable),
    Moh(MohTable),
    Pause(PauseTable),
    Echo(EchoTable),
    Hangup(HangupTable),
}

#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct PlayTable {
    play: String,
    #[serde(default, skip_serializing_if = "is_false")]
    barge_in: bool,
}

#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct SayTable {
    say: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    voice: Option<String>,
}

#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct ToneTable {
    tone: ToneName,
    seconds: u32,
}

#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct MohTable {
    moh: String,
    seconds: u32,
}

#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct PauseTable {
    pause: f64,
}

#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct EchoTable {
    echo: u32,
}

#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct HangupTable {
    hangup: bool,
}

fn is_false(b: &bool) -> bool {
    !*b
}

/// `{ hangup = false }`: a step that would do nothing is a mistake, not a no-op.
#[derive(Debug)]
struct HangupFalse;

impl fmt::Display for HangupFalse {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("`hangup` must be true (leave the step out to not hang up here)")
    }
}

impl TryFrom<StepTable> for Step {
    type Error = HangupFalse;

    fn try_from(table: StepTable) -> Result<Step, HangupFalse> {
        Ok(match table {
            StepTable::Play(t) => Step::Play {
                path: t.play,
                barge_in: t.barge_in,
            },
            StepTable::Say(t) => Step::Say {
                text: t.say,
                voice: t.voice,
            },
            StepTable::Tone(t) => Step::Tone {
                tone: t.tone,
                seconds: t.seconds,
            },
            StepTable::Moh(t) => Step::Moh {
                class: t.moh,
                seconds: t.seconds,
            },
            StepTable::Pause(t) => Step::Pause { seconds: t.pause },
            StepTable::Echo(t) => Step::Echo { seconds: t.echo },
            StepTable::Hangup(HangupTable { hangup: true }) => Step::Hangup,
            StepTable::Hangup(HangupTable { hangup: false }) => return Err(HangupFalse),
        })
    }
}

impl From<Step> for StepTable {
    fn from(step: Step) -> StepTable {
        match step {
            Step::Play { path, barge_in } => StepTable::Play(PlayTable {
                play: path,
                barge_in,
            }),
            Step::Say { text, voice } => StepTable::Say(SayTable { say: text, voice }),
            Step::Tone { tone, seconds } => StepTable::Tone(ToneTable { tone, seconds }),
            Step::Moh { class, seconds } => StepTable::Moh(MohTable {
                moh: class,
                seconds,
            }),
            Step::Pause { seconds } => StepTable::Pause(PauseTable { pause: seconds }),
            Step::Echo { seconds } => StepTable::Echo(EchoTable { echo: seconds }),
            Step::Hangup => StepTable::Hangup(HangupTable { hangup: true }),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::{Dialplan, DialplanError};
    use super::*;

    fn app(steps: &str) -> Result<AppDef, DialplanError> {
        let text = format!(
            "[[accounts]]\nid = \"a\"\nname = \"A\"\nsip_domain = \"a.test\"\n\
             [[accounts.apps]]\nnumber = \"7000\"\nname = \"Welcome\"\nsteps = [\n{steps}\n]\n"
        );
        let plan = Dialplan::parse("plans/a.toml", &text)?;
        Ok(plan.accounts[0].apps[0].clone())
    }

    const EVERY_KIND: &str = r#"
        { play = "prompts/en/welcome" },
        { play = "prompts/en/tone-1khz", barge_in = true },
        { say = "Thank you for calling.", voice = "en-us" },
        { say = "Bye." },
        { tone = "ringback", seconds = 3 },
        { tone = "ringback-eu", seconds = 2 },
        { moh = "default", seconds = 30 },
        { pause = 1.5 },
        { pause = 2 },
        { echo = 10 },
        { hangup = true },
    "#;

    #[test]
    fn every_kind_of_step_parses() {
        let app = app(EVERY_KIND).expect("parses");
        assert_eq!((app.number.as_str(), app.record), ("7000", false));
        assert_eq!(
            app.steps,
            vec![
                Step::Play {
                    path: "prompts/en/welcome".into(),
                    barge_in: false
                },
                Step::Play {
                    path: "prompts/en/tone-1khz".into(),
                    barge_in: true
                },
                Step::Say {
                    text: "Thank you for calling.".into(),
                    voice: Some("en-us".into())
                },
                Step::Say {
                    text: "Bye.".into(),
                    voice: None
                },
                Step::Tone {
                    tone: ToneName::Ringback,
                    seconds: 3
                },
                Step::Tone {
                    tone: ToneName::RingbackEu,
                    seconds: 2
                },
                Step::Moh {
                    class: "default".into(),
                    seconds: 30
                },
                Step::Pause { seconds: 1.5 },
                Step::Pause { seconds: 2.0 },
                Step::Echo { seconds: 10 },
                Step::Hangup,
            ]
        );
    }

    #[test]
    fn steps_round_trip_through_json_in_the_file_shape() {
        let steps = app(EVERY_KIND).expect("parses").steps;
        let json = serde_json::to_string(&steps).expect("serializes");
        assert!(
            json.starts_with(
                r#"[{"play":"prompts/en/welcome"},{"play":"prompts/en/tone-1khz","barge_in":true},{"say":"Thank you for calling.","voice":"en-us"},{"say":"Bye."},{"tone":"ringback","seconds":3}"#
            ),
            "{json}"
        );
        assert!(json.ends_with(r#"{"echo":10},{"hangup":true}]"#), "{json}");
        let back: Vec<Step> = serde_json::from_str(&json).expect("deserializes");
        assert_eq!(back, steps);
    }

    #[test]
    fn malformed_steps_name_the_file_table_app_and_step() {
        let cases = [
            (
                r#"{ play = "a" }, { play = "b", volume = 3 }"#,
                "steps[1]: unknown field `volume`",
            ),
            (r#"{ beep = 3 }"#, "steps[0]: unknown kind of step"),
            (
                r#"{ play = "a", say = "b" }"#,
                "steps[0]: a step does one thing, but this one has play and say",
            ),
            (
                r#"{ tone = "beep", seconds = 1 }"#,
                "steps[0]: unknown variant `beep`",
            ),
            (r#"{ tone = "busy" }"#, "steps[0]: missing field `seconds`"),
            (r#"{ echo = -1 }"#, "steps[0]: invalid value"),
            (r#"{ hangup = false }"#, "steps[0]: `hangup` must be true"),
            (
                r#""prompts/en/welcome""#,
                "steps[0]: a step is an inline table",
            ),
        ];
        for (steps, expected) in cases {
            let err = app(steps).expect_err(steps).to_string();
            assert!(err.starts_with("plans/a.toml: "), "{err}");
            let context = format!("accounts.apps: app \"7000\": {expected}");
            assert!(err.contains(&context), "{steps}: {context:?} not in {err}");
        }
    }

    #[test]
    fn unknown_app_fields_are_refused() {
        let text = "[[accounts]]\nid = \"a\"\nname = \"A\"\nsip_domain = \"a.test\"\n\
                    [[accounts.apps]]\nnumber = \"7000\"\nname = \"W\"\nrecrod = true\nsteps = []\n";
        let err = Dialplan::parse("p.toml", text).expect_err("typo");
        assert!(err.to_string().contains("unknown field `recrod`"), "{err}");
    }
}
