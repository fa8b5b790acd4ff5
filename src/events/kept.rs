//! Rows that belong to an event: a call's detail record (with `CALL_ENDED`),
//! a recording (with `recording`), a voicemail message (with `voicemail_new`),
//! an IVR decision (with `ivr_choice`). Published with their event
//! ([`super::Bus::publish_with`]), they reach the store in the same
//! transaction as it, so neither is kept without the other. Plain data: the
//! store persists them (and re-exports these types), nothing here does IO.

use std::fmt;
use std::str::FromStr;

/// A row to keep with its event.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Kept {
    Cdr(Cdr),
    Recording(Recording),
    Voicemail(Voicemail),
    IvrAudit(IvrAudit),
}

/// Which way a call went relative to the switch. Stored as its lower-case name.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum CdrDirection {
    /// From a trunk to a local extension.
    Inbound,
    /// From a local extension out through a trunk.
    Outbound,
    /// Between two extensions of the switch.
    Internal,
}

impl CdrDirection {
    pub fn as_str(self) -> &'static str {
        match self {
            CdrDirection::Inbound => "inbound",
            CdrDirection::Outbound => "outbound",
            CdrDirection::Internal => "internal",
        }
    }
}

impl fmt::Display for CdrDirection {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for CdrDirection {
    type Err = ();

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "inbound" => Ok(CdrDirection::Inbound),
            "outbound" => Ok(CdrDirection::Outbound),
            "internal" => Ok(CdrDirection::Internal),
            _ => Err(()),
        }
    }
}

/// One finished call. Times are unix milliseconds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Cdr {
    pub id: String,
    /// SIP Call-ID of the A leg.
    pub call_id: String,
    pub account_id: String,
    pub caller: String,
    pub callee: String,
    pub direction: CdrDirection,
    pub started_at: i64,
    pub answered_at: Option<i64>,
    pub ended_at: i64,
    /// `ended_at - started_at`.
    pub duration_ms: i64,
    /// Time billed: `ended_at - answered_at`, 0 when never answered.
    pub billsec_ms: i64,
    pub hangup_cause: String,
    pub a_leg: String,
    pub b_leg: Option<String>,
    /// The extension that answered (a callee, a queue agent, a ring-group member).
    pub answered_by: Option<String>,
}

/// One finished recording. Times are unix milliseconds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Recording {
    /// A UUID.
    pub id: String,
    pub account_id: String,
    /// The switch's call UUID.
    pub call_id: String,
    /// The channel (leg) recorded, or the call's mix.
    pub channel_id: String,
    /// Where the WAV file is, as the recorder wrote it.
    pub path: String,
    pub duration_ms: i64,
    pub size_bytes: i64,
    /// Sample rate in Hz.
    pub rate: u32,
    pub created_at: i64,
}

/// One row of `voicemails`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Voicemail {
    pub id: String,
    pub account_id: String,
    /// The extension whose box holds it.
    pub r#box: String,
    pub caller: String,
    pub call_id: String,
    pub path: String,
    pub duration_ms: i64,
    pub heard: bool,
    pub created_at: i64,
}

/// One menu decision. Times are unix milliseconds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IvrAudit {
    pub id: String,
    pub account_id: String,
    pub call_id: String,
    /// The callflow's number.
    pub flow: String,
    /// The menu node's id.
    pub node: String,
    pub input: String,
    pub outcome: String,
    pub created_at: i64,
}
