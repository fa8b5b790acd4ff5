//! `[[accounts.callflows]]`: what a business number does — a graph of nodes
//! (IVR menu, ring group, extension, play, time condition, transfer, external,
//! hangup), entered at `start`, each node naming where the call goes next.
//!
//! This file owns the shape (read from TOML, kept in the store as JSON); the
//! rules (references resolve, digits are keys of a phone, ranges) are checked
//! by `validate/callflows.rs`, and running a flow is `routing`'s business.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::Step;

/// `[[accounts.callflows]]`
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CallflowDef {
    /// Dialled like an extension (`8000`).
    pub number: String,
    pub name: String,
    /// E.164 numbers (DIDs) that reach this flow from a trunk.
    #[serde(default)]
    pub numbers: Vec<String>,
    /// The id of the first node.
    pub start: String,
    pub nodes: Vec<NodeDef>,
}

/// How a ring group rings its members.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RingStrategy {
    /// Every member at once; the first to answer gets the call.
    #[default]
    Simultaneous,
    /// One member after another, in the listed order.
    Sequential,
    /// One after another, starting after the member that was rung first last time.
    RoundRobin,
    /// One after another, in a new random order for each call.
    Random,
}

/// Why a `hangup` node ends the call.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum HangupReason {
    #[default]
    Normal,
    Busy,
    Rejected,
    Unavailable,
}

/// Days of the week, for time conditions.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Weekday {
    Mon,
    Tue,
    Wed,
    Thu,
    Fri,
    Sat,
    Sun,
}

fn default_ring() -> u32 {
    20
}
fn default_message() -> u32 {
    120
}
fn default_timeout() -> u32 {
    5
}
fn default_retries() -> u32 {
    2
}

/// `[[accounts.callflows.nodes]]`: one node, its `kind` choosing the fields.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
pub enum NodeDef {
    /// Ring one extension's devices; on no answer or busy go to `next`
    /// (or hang up with that cause).
    Extension {
        id: String,
        number: String,
        #[serde(default = "default_ring")]
        ring_seconds: u32,
        next: Option<String>,
    },
    /// Ring a group of extensions (or E.164 numbers) with a strategy.
    RingGroup {
        id: String,
        name: String,
        /// Extensions of the account, or E.164 numbers rung through its trunk.
        members: Vec<String>,
        #[serde(default)]
        strategy: RingStrategy,
        /// How long the group rings (simultaneous) or each member rings (the others).
        #[serde(default = "default_ring")]
        ring_seconds: u32,
        /// The most the whole group rings (the one-after-another strategies).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        group_seconds: Option<u32>,
        /// Ring members that are on a call already (else they are skipped).
        #[serde(default, skip_serializing_if = "std::ops::Not::not")]
        ring_busy: bool,
        next: Option<String>,
    },
    /// Answer, play `prompt`, and go where the caller's key says.
    IvrMenu {
        id: String,
        prompt: Vec<Step>,
        /// Key (`0`-`9`, `*`, `#`) → node id.
        options: BTreeMap<String, String>,
        /// Seconds to wait for a key once the prompt has played.
        #[serde(default = "default_timeout")]
        timeout_seconds: u32,
        /// Times the menu is played again after a timeout or a wrong key.
        #[serde(default = "default_retries")]
        retries: u32,
        /// Played after a key that is not an option.
        #[serde(default)]
        invalid: Vec<Step>,
        /// Where the call goes when the retries are used up (else it is hung up).
        on_timeout: Option<String>,
        /// The caller may also dial an extension of the account by its number
        /// (digits, ended by `#` or a 2 s pause): a blind transfer to it.
        #[serde(default)]
        direct_dial: bool,
    },
    /// Answer and play steps, then go to `next` (or hang up).
    Play {
        id: String,
        steps: Vec<Step>,
        next: Option<String>,
    },
    /// Go to `then` on the listed days between `from` and `to` (local time in
    /// `time_zone`, an IANA name such as `America/New_York`, or at the fixed
    /// `utc_offset_minutes`), except on `holidays`; else to `otherwise`.
    TimeCondition {
        id: String,
        days: Vec<Weekday>,
        /// `HH:MM`, inclusive.
        from: String,
        /// `HH:MM`, exclusive.
        to: String,
        #[serde(default)]
        utc_offset_minutes: i32,
        /// IANA time zone (daylight saving followed); overrides the offset.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        time_zone: Option<String>,
        /// `YYYY-MM-DD` local dates on which the condition never holds.
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        holidays: Vec<String>,
        then: String,
        otherwise: String,
    },
    /// Send the call on to another number of the account (extension, app,
    /// callflow) as if it had been dialled: a blind transfer.
    Transfer { id: String, number: String },
    /// Ring an outside number through the account's trunk.
    External {
        id: String,
        number: String,
        #[serde(default = "default_ring")]
        ring_seconds: u32,
        next: Option<String>,
    },
    /// Take a message for an extension's voicemail box.
    Voicemail {
        id: String,
        /// The extension whose box it is.
        r#box: String,
        #[serde(default = "default_message")]
        max_seconds: u32,
    },
    /// Wait in an ACD queue (`[[accounts.queues]]`) until an agent answers;
    /// when the queue lets the caller go (full, empty, waited too long) go to
    /// `next`, when the caller presses the queue's exit key go to `exit`.
    Queue {
        id: String,
        queue: String,
        next: Option<String>,
        exit: Option<String>,
    },
    /// End the call.
    Hangup {
        id: String,
        #[serde(default)]
        reason: HangupReason,
    },
}

impl NodeDef {
    pub fn id(&self) -> &str {
        match self {
            NodeDef::Extension { id, .. }
            | NodeDef::RingGroup { id, .. }
            | NodeDef::IvrMenu { id, .. }
            | NodeDef::Play { id, .. }
            | NodeDef::TimeCondition { id, .. }
            | NodeDef::Transfer { id, .. }
            | NodeDef::External { id, .. }
            | NodeDef::Voicemail { id, .. }
            | NodeDef::Queue { id, .. }
            | NodeDef::Hangup { id, .. } => id,
        }
    }

    pub fn kind(&self) -> &'static str {
        match self {
            NodeDef::Extension { .. } => "extension",
            NodeDef::RingGroup { .. } => "ring_group",
            NodeDef::IvrMenu { .. } => "ivr_menu",
            NodeDef::Play { .. } => "play",
            NodeDef::TimeCondition { .. } => "time_condition",
            NodeDef::Transfer { .. } => "transfer",
            NodeDef::External { .. } => "external",
            NodeDef::Voicemail { .. } => "voicemail",
            NodeDef::Queue { .. } => "queue",
            NodeDef::Hangup { .. } => "hangup",
        }
    }

    /// The node ids this node may send the call to, with the field naming each.
    pub fn exits(&self) -> Vec<(String, &str)> {
        let mut out: Vec<(String, &str)> = Vec::new();
        fn opt<'a>(out: &mut Vec<(String, &'a str)>, field: &str, v: &'a Option<String>) {
            if let Some(v) = v {
                out.push((field.to_string(), v.as_str()));
            }
        }
        match self {
            NodeDef::Extension { next, .. }
            | NodeDef::RingGroup { next, .. }
            | NodeDef::Play { next, .. }
            | NodeDef::External { next, .. } => opt(&mut out, "next", next),
            NodeDef::IvrMenu {
                options,
                on_timeout,
                ..
            } => {
                opt(&mut out, "on_timeout", on_timeout);
                for (k, v) in options {
                    out.push((format!("options.{k:?}"), v.as_str()));
                }
            }
            NodeDef::TimeCondition {
                then, otherwise, ..
            } => {
                out.push(("then".into(), then.as_str()));
                out.push(("otherwise".into(), otherwise.as_str()));
            }
            NodeDef::Queue { next, exit, .. } => {
                opt(&mut out, "next", next);
                opt(&mut out, "exit", exit);
            }
            NodeDef::Transfer { .. } | NodeDef::Hangup { .. } | NodeDef::Voicemail { .. } => {}
        }
        out
    }
}

/// `HH:MM` → minutes after midnight.
pub fn parse_hhmm(s: &str) -> Option<u32> {
    let (h, m) = s.split_once(':')?;
    if h.len() != 2 || m.len() != 2 {
        return None;
    }
    let (h, m): (u32, u32) = (h.parse().ok()?, m.parse().ok()?);
    (h <= 24 && m < 60 && h * 60 + m <= 24 * 60).then_some(h * 60 + m)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nodes_read_by_kind_and_round_trip_through_json() {
        let text = r#"
            number = "8000"
            name = "Main"
            numbers = ["+15550100100"]
            start = "menu"
            [[nodes]]
            id = "menu"
            kind = "ivr_menu"
            prompt = [{ say = "Press 1 for sales" }]
            options = { "1" = "sales" }
            [[nodes]]
            id = "sales"
            kind = "ring_group"
            name = "Sales"
            members = ["1002", "1003"]
            strategy = "round_robin"
        "#;
        let def: CallflowDef = toml::from_str(text).expect("parses");
        assert_eq!(def.nodes.len(), 2);
        assert_eq!(def.nodes[1].kind(), "ring_group");
        match &def.nodes[0] {
            NodeDef::IvrMenu {
                timeout_seconds,
                retries,
                ..
            } => assert_eq!((*timeout_seconds, *retries), (5, 2)),
            other => panic!("{other:?}"),
        }
        let json = serde_json::to_string(&def).expect("json");
        let back: CallflowDef = serde_json::from_str(&json).expect("back");
        assert_eq!(back, def);
        // a field of another kind is refused
        let bad = "id = \"x\"\nkind = \"hangup\"\nmembers = []";
        assert!(toml::from_str::<NodeDef>(bad).is_err());
    }

    #[test]
    fn times_of_day() {
        assert_eq!(parse_hhmm("09:30"), Some(570));
        assert_eq!(parse_hhmm("24:00"), Some(1440));
        assert_eq!(parse_hhmm("24:01"), None);
        assert_eq!(parse_hhmm("9:30"), None);
        assert_eq!(parse_hhmm("09:60"), None);
    }
}
