//! How a trunk is reached (`transport = "udp" | "tcp" | "tls"`): part of the dialplan
//! format, stored by the store as its lower-case name.

use std::fmt;
use std::str::FromStr;

use serde::Deserialize;

/// The SIP transport used to reach a trunk. Stored as its lower-case name.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum TrunkTransport {
    #[default]
    Udp,
    Tcp,
    Tls,
}

impl TrunkTransport {
    pub fn as_str(self) -> &'static str {
        match self {
            TrunkTransport::Udp => "udp",
            TrunkTransport::Tcp => "tcp",
            TrunkTransport::Tls => "tls",
        }
    }
}

impl fmt::Display for TrunkTransport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The text was not one of `udp`, `tcp`, `tls`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown transport {0:?} (expected udp, tcp or tls)")]
pub struct UnknownTransport(pub String);

impl FromStr for TrunkTransport {
    type Err = UnknownTransport;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "udp" => Ok(TrunkTransport::Udp),
            "tcp" => Ok(TrunkTransport::Tcp),
            "tls" => Ok(TrunkTransport::Tls),
            other => Err(UnknownTransport(other.to_owned())),
        }
    }
}
