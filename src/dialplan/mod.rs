//! Dialplan files: the TOML that declares accounts, extensions, phone numbers, trunks and
//! media apps.
//!
//! This module owns the file format (typed serde structs that refuse unknown fields; apps
//! and their steps in `apps.rs`), reading a file, and validating the whole plan before
//! anything is applied (rules in `validate.rs`). Every error names the file, the table and the field. It must not touch
//! the database: `Store::import_dialplan` applies a validated [`Dialplan`]. The format is
//! documented for users in `docs/dialplans.md`; keep the two in step.

mod apps;
mod callflows;
mod queues;
mod transport;
mod validate;

use std::fmt;
use std::path::{Path, PathBuf};

use serde::Deserialize;

pub use apps::{AppDef, Step, ToneName};
pub use callflows::{parse_hhmm, CallflowDef, HangupReason, NodeDef, RingStrategy, Weekday};
pub use queues::{MemberDef, QueueDef, QueueStrategy};
pub use transport::{TrunkTransport, UnknownTransport};
pub use validate::{is_e164, is_extension_number, is_media_path, step_problems};

/// A parsed dialplan file, remembering where it came from for error messages.
#[derive(Debug, Clone, PartialEq)]
pub struct Dialplan {
    /// The file the plan was read from (or a label for plans parsed from text).
    pub source: PathBuf,
    pub accounts: Vec<AccountDef>,
}

/// The top level of a dialplan file.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct DialplanFile {
    #[serde(default)]
    accounts: Vec<AccountDef>,
}

/// `[[accounts]]`
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AccountDef {
    pub id: String,
    pub name: String,
    pub sip_domain: String,
    /// Owns requests addressed to the switch's own IPs. At most one account may set it.
    #[serde(default)]
    pub default: bool,
    #[serde(default)]
    pub extensions: Vec<ExtensionDef>,
    #[serde(default)]
    pub numbers: Vec<NumberDef>,
    #[serde(default)]
    pub trunks: Vec<TrunkDef>,
    #[serde(default)]
    pub apps: Vec<AppDef>,
    #[serde(default)]
    pub callflows: Vec<CallflowDef>,
    #[serde(default)]
    pub queues: Vec<QueueDef>,
}

/// `[[accounts.extensions]]`
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ExtensionDef {
    pub number: String,
    pub password: String,
    /// Shown to callees; empty when not given.
    #[serde(default)]
    pub display_name: String,
    pub caller_id: Option<String>,
    pub forward_number: Option<String>,
    /// Unanswered calls to the extension go to its voicemail box.
    #[serde(default)]
    pub voicemail: bool,
    /// Digits the owner enters to hear the box (`*97`); 4 to 10 digits.
    pub voicemail_pin: Option<String>,
    /// Record every call placed from or answered by this extension.
    #[serde(default)]
    pub record: bool,
    /// The user's profile in the voice API (`/user/profile`, `/availability`):
    /// names default to the display name split at its first space.
    pub first_name: Option<String>,
    pub last_name: Option<String>,
    pub email: Option<String>,
    /// An IANA zone name (`America/New_York`).
    pub time_zone: Option<String>,
}

/// `[[accounts.numbers]]`: an E.164 number routed to one of the account's extensions.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NumberDef {
    pub number: String,
    pub extension: String,
    /// Shown in the voice API's number lists.
    pub friendly_name: Option<String>,
    /// Whether the number sends and receives SMS (default yes) and MMS (default no).
    #[serde(default = "yes")]
    pub sms: bool,
    #[serde(default)]
    pub mms: bool,
}

fn yes() -> bool {
    true
}

/// `[[accounts.trunks]]`
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TrunkDef {
    pub id: String,
    pub host: String,
    /// Read as a plain integer so that an out-of-range port gets a dialplan error naming
    /// the field rather than a bare type error.
    pub port: i64,
    #[serde(default)]
    pub transport: TrunkTransport,
    pub username: Option<String>,
    pub password: Option<String>,
    pub caller_id: Option<String>,
}

/// What is wrong with one field of a dialplan.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Problem {
    Empty,
    BadId(String),
    BadDomain(String),
    BadHost(String),
    NotExtensionNumber(String),
    NotE164(String),
    /// A caller id or forward target that is neither an extension nor E.164.
    NotDialable(String),
    Duplicate {
        value: String,
        first: String,
    },
    UnknownExtension {
        extension: String,
        account: String,
    },
    PortOutOfRange(i64),
    SecondDefault {
        first: String,
    },
    /// Set without the field it needs (a trunk `username` without a `password`).
    Requires(&'static str),
    /// A media path that is absolute or climbs out of the media directory.
    NotRelativePath(String),
    /// Text whose length in characters is outside `1..=max`.
    Length {
        len: usize,
        max: usize,
    },
    /// A name (voice, music-on-hold class) with characters outside `allowed`.
    BadName {
        value: String,
        allowed: &'static str,
    },
    /// A number of seconds outside `range` (shown as written in the docs).
    OutOfRange {
        value: String,
        range: &'static str,
    },
    TooManySteps {
        count: usize,
        max: usize,
    },
    /// A callflow names a node it does not define.
    UnknownNode(String),
    /// An IVR option that is not one key of a phone.
    BadKey(String),
    /// A time of day that is not `HH:MM`.
    BadTime(String),
    /// A callflow names a queue its account does not define.
    UnknownQueue(String),
    /// Nodes that lead back to themselves without waiting for anything (the path).
    CycleWithoutPrompt(String),
    /// Not an IANA time zone name.
    BadTimeZone(String),
    /// Not a `YYYY-MM-DD` date.
    BadDate(String),
    /// Set together with the named field, which it contradicts.
    Conflicts(&'static str),
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Problem::Empty => write!(f, "must not be empty"),
            Problem::BadId(v) => write!(
                f,
                "{v:?} is not a valid id (1 to 64 letters, digits, '.', '_' or '-')"
            ),
            Problem::BadDomain(v) => write!(
                f,
                "{v:?} is not a valid SIP domain (letters, digits, '.' and '-')"
            ),
            Problem::BadHost(v) => write!(f, "{v:?} is not a valid host name or IP address"),
            Problem::NotExtensionNumber(v) => {
                write!(
                    f,
                    "{v:?} is not a dial-able extension number (1 to 15 digits)"
                )
            }
            Problem::NotE164(v) => write!(
                f,
                "{v:?} is not an E.164 number ('+', then 7 to 15 digits, the first not 0)"
            ),
            Problem::NotDialable(v) => {
                write!(
                    f,
                    "{v:?} is neither an extension number nor an E.164 number"
                )
            }
            Problem::Duplicate { value, first } => {
                write!(f, "{value:?} is already used by {first}")
            }
            Problem::UnknownExtension { extension, account } => write!(
                f,
                "extension {extension:?} is not defined in account {account:?}"
            ),
            Problem::PortOutOfRange(p) => write!(f, "{p} is not a port (1 to 65535)"),
            Problem::SecondDefault { first } => write!(
                f,
                "only one account may be the default, and {first} already is"
            ),
            Problem::Requires(other) => write!(f, "is set, so {other} must be set too"),
            Problem::NotRelativePath(v) => write!(
                f,
                "{v:?} is not a relative path inside the media directory (no leading '/', no '..')"
            ),
            Problem::Length { len, max } => {
                write!(f, "is {len} characters long; it must be 1 to {max}")
            }
            Problem::BadName { value, allowed } => {
                write!(f, "{value:?} is not a valid name ({allowed})")
            }
            Problem::OutOfRange { value, range } => {
                write!(f, "{value} is out of range ({range})")
            }
            Problem::TooManySteps { count, max } => {
                write!(f, "has {count} steps; an app may have at most {max}")
            }
            Problem::UnknownNode(v) => write!(f, "no node of this callflow has the id {v:?}"),
            Problem::BadKey(v) => {
                write!(f, "{v:?} is not a key of a phone (one of 0-9, '*' or '#')")
            }
            Problem::BadTime(v) => write!(f, "{v:?} is not a time of day (HH:MM, 00:00 to 24:00)"),
            Problem::UnknownQueue(v) => write!(f, "queue {v:?} is not defined in this account"),
            Problem::BadTimeZone(v) => write!(
                f,
                "{v:?} is not an IANA time zone (e.g. \"America/New_York\")"
            ),
            Problem::BadDate(v) => write!(f, "{v:?} is not a date (YYYY-MM-DD)"),
            Problem::Conflicts(other) => write!(f, "cannot be set together with `{other}`"),
            Problem::CycleWithoutPrompt(path) => write!(
                f,
                "the call would go round {path} forever without a prompt, menu or dial"
            ),
        }
    }
}

/// One invalid field: its path inside the file (`accounts[0].extensions[2].number`) and
/// what is wrong with it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Issue {
    pub field: String,
    pub problem: Problem,
}

/// Why a dialplan could not be loaded. Nothing is applied when any of these is returned.
#[derive(Debug, thiserror::Error)]
pub enum DialplanError {
    #[error("{}: cannot read the dialplan file", path.display())]
    Read {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("{}: {source}", path.display())]
    Parse {
        path: PathBuf,
        #[source]
        source: toml::de::Error,
    },
    #[error("{}", render_issues(path, issues))]
    Invalid { path: PathBuf, issues: Vec<Issue> },
}

fn render_issues(path: &Path, issues: &[Issue]) -> String {
    let lines: Vec<String> = issues
        .iter()
        .map(|issue| format!("{}: {}: {}", path.display(), issue.field, issue.problem))
        .collect();
    lines.join("\n")
}

/// Reads, parses and validates one dialplan file.
pub fn load_file(path: impl AsRef<Path>) -> Result<Dialplan, DialplanError> {
    let path = path.as_ref();
    let text = std::fs::read_to_string(path).map_err(|source| DialplanError::Read {
        path: path.to_owned(),
        source,
    })?;
    let plan = Dialplan::parse(path, &text)?;
    plan.validate()?;
    Ok(plan)
}

impl Dialplan {
    /// Parses dialplan TOML without validating it. `source` labels errors.
    pub fn parse(source: impl Into<PathBuf>, text: &str) -> Result<Dialplan, DialplanError> {
        let source = source.into();
        match toml::from_str::<DialplanFile>(text) {
            Ok(file) => Ok(Dialplan {
                source,
                accounts: file.accounts,
            }),
            Err(err) => Err(DialplanError::Parse {
                path: source,
                source: err,
            }),
        }
    }

    /// Checks the plan as a whole; returns every problem found, not just the first.
    pub fn validate(&self) -> Result<(), DialplanError> {
        let issues = validate::check(self);
        if issues.is_empty() {
            Ok(())
        } else {
            Err(DialplanError::Invalid {
                path: self.source.clone(),
                issues,
            })
        }
    }
}
