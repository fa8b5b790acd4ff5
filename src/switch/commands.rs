//! Commands on a live call from outside its task — the operator API today, the
//! voice API and supervisors' tools later. A call owns legs (its caller, the
//! callee it bridged, and any leg dialled by command); each command names the
//! legs it acts on by [`LegId`] and is answered on its own oneshot channel, so
//! a command never waits on another call. What the call does with a command is
//! the call layer's; this module only says what may be asked and answered.

use serde::Serialize;
use tokio::sync::oneshot;

use crate::dialplan::Step;
use crate::ids::{CallId, LegId};

pub type Reply<T> = oneshot::Sender<Result<T, CommandError>>;

/// What may be asked of a call.
#[derive(Debug)]
pub enum CallCommand {
    /// The call and its legs as they are now.
    Show { reply: Reply<CallView> },
    /// Dial `numbers` (each an extension of the call's account: all its
    /// devices; or an outside number through the account's trunk), all at
    /// once, as one new leg of the call — the first to answer wins — ringing
    /// at most `ring_secs`; once it answers it does `join`. Answered at once
    /// with the new leg's id (it rings on).
    Dial {
        numbers: Vec<String>,
        ring_secs: u32,
        join: Join,
        reply: Reply<LegId>,
    },
    /// Hang up one leg (cancel it while it rings). The caller's leg ends the call.
    HangupLeg { leg: LegId, reply: Reply<()> },
    /// `a` and `b` hear each other; each one's previous bridge ends.
    Bridge {
        a: LegId,
        b: LegId,
        reply: Reply<()>,
    },
    /// The leg's bridge ends (both then hear silence until bridged or played to).
    Unbridge { leg: LegId, reply: Reply<()> },
    /// The leg joins the call's conference in `role` (or changes role);
    /// `None`: it leaves it (its bridge, if any, carries again).
    Mix {
        leg: LegId,
        role: Option<MixMode>,
        reply: Reply<()>,
    },
    /// Play steps (speech, file, tone, music on hold, silence) to a leg,
    /// replacing what plays to it. Answered once the playback started.
    Play {
        leg: LegId,
        steps: Vec<Step>,
        reply: Reply<()>,
    },
    /// Record a leg (left channel) and what it hears (right) to a stereo WAV
    /// (`on`), replacing the call's recording; or stop the call's recording.
    /// Answered with the file's path when one starts. The recording is stored
    /// and announced (`recording` event) when it closes.
    Record {
        leg: LegId,
        on: bool,
        reply: Reply<Option<String>>,
    },
    /// Collect digits from a leg, after an optional prompt the first digit
    /// stops. Answered when the collection ends (count, terminator, timeout
    /// or the leg's end).
    Collect {
        leg: LegId,
        spec: CollectSpec,
        reply: Reply<Collected>,
    },
}

/// What a dialled leg does once it answers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Join {
    /// Nothing: it hears silence until a command bridges, mixes or plays to it.
    Alone,
    /// Bridged to that leg (whose previous bridge ends).
    Bridge(LegId),
    /// A supervisor: that leg and its bridged peer go into the call's
    /// conference, the new leg in `mode` towards that leg.
    Monitor { leg: LegId, mode: MonitorMode },
}

/// How a supervisor takes part in a monitored conversation.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum MonitorMode {
    /// Hears both, heard by nobody.
    Listen,
    /// Hears both, heard by the monitored leg only (coaching an agent).
    Whisper,
    /// Hears both, heard by both (a three-way call).
    Barge,
}

/// A leg's part in the call's conference.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MixMode {
    Speak,
    Listen,
    Whisper(LegId),
}

/// How digits are collected.
#[derive(Debug, Clone)]
pub struct CollectSpec {
    /// Stop after this many digits (1–64).
    pub max_digits: usize,
    /// Digits that end the collection (not part of the result), e.g. "#".
    pub terminators: String,
    /// Time for the first digit, from the end of the prompt (or at once).
    pub first_digit_ms: u64,
    /// Time between digits.
    pub inter_digit_ms: u64,
    /// Played first; the first digit stops it (barge-in).
    pub prompt: Vec<Step>,
}

/// Why a collection ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum CollectEnd {
    MaxDigits,
    Terminator,
    Timeout,
    LegEnded,
}

/// The digits collected.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Collected {
    pub digits: String,
    pub terminator: Option<char>,
    pub ended_by: CollectEnd,
}

/// A call as the operator sees it.
#[derive(Debug, Clone, Serialize)]
pub struct CallView {
    pub id: CallId,
    pub account_id: String,
    pub caller: String,
    pub dialled: String,
    pub legs: Vec<LegView>,
}

/// One leg of a call.
#[derive(Debug, Clone, Serialize)]
pub struct LegView {
    pub id: LegId,
    /// `caller` (the inbound leg, or an originated call's first leg),
    /// `callee` (the leg the call bridged through its route), `dialled` (by command).
    pub role: &'static str,
    /// The number the leg is (caller's number, or the number dialled).
    pub number: String,
    /// `ringing`, `answered`.
    pub state: &'static str,
    pub bridged_to: Option<LegId>,
    /// `speak`, `listen` or `whisper` while the leg is in the call's conference.
    pub mix: Option<&'static str>,
}

/// Why a command was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum CommandError {
    #[error("the call is over")]
    Over,
    #[error("the call has no such leg")]
    UnknownLeg,
    #[error("the leg has not answered")]
    NotAnswered,
    #[error("the leg is steered by a callflow or app (it takes no command until it is bridged)")]
    LegBusy,
    #[error("the number is not one the call's account can reach")]
    UnknownNumber,
    #[error("nothing to ring: no device of the extension is registered (or no trunk)")]
    Unreachable,
    #[error("no RTP ports left")]
    NoPorts,
    #[error("the request is not valid for this leg")]
    Invalid,
    #[error("another collection is running on this leg")]
    Collecting,
}

impl CommandError {
    /// A machine-readable code for the HTTP layer.
    pub fn code(self) -> &'static str {
        match self {
            CommandError::Over => "call_over",
            CommandError::UnknownLeg => "unknown_leg",
            CommandError::NotAnswered => "leg_not_answered",
            CommandError::LegBusy => "leg_busy",
            CommandError::UnknownNumber => "unknown_number",
            CommandError::Unreachable => "not_registered",
            CommandError::NoPorts => "no_media_ports",
            CommandError::Invalid => "invalid_for_leg",
            CommandError::Collecting => "already_collecting",
        }
    }
}
