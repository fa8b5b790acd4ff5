//! Identifier newtypes shared by every layer: a call and each of its legs have
//! ids of their own (never a SIP Call-ID, which belongs to one dialog), and the
//! provisioning keys that used to float around as bare strings (account,
//! extension number, queue) are typed so one cannot be passed for another.
//! They serialise as the plain value, so wire formats do not change.

use serde::{Deserialize, Serialize};
use std::fmt;
use uuid::Uuid;

macro_rules! uuid_id {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
        #[serde(transparent)]
        pub struct $name(pub Uuid);

        impl $name {
            pub fn new() -> Self {
                $name(Uuid::new_v4())
            }
        }

        impl Default for $name {
            fn default() -> Self {
                Self::new()
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                self.0.fmt(f)
            }
        }

        impl std::str::FromStr for $name {
            type Err = uuid::Error;
            fn from_str(s: &str) -> Result<Self, Self::Err> {
                Uuid::parse_str(s).map($name)
            }
        }
    };
}

macro_rules! string_id {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        #[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
        #[serde(transparent)]
        pub struct $name(pub String);

        impl $name {
            pub fn as_str(&self) -> &str {
                &self.0
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }

        impl From<&str> for $name {
            fn from(s: &str) -> Self {
                $name(s.to_string())
            }
        }

        impl From<String> for $name {
            fn from(s: String) -> Self {
                $name(s)
            }
        }

        impl std::borrow::Borrow<str> for $name {
            fn borrow(&self) -> &str {
                &self.0
            }
        }
    };
}

uuid_id!(
    /// One call: the task that owns its legs, from the first leg to the last.
    CallId
);
uuid_id!(
    /// One leg (channel) of a call: a SIP dialog or a browser session, with its media.
    LegId
);
uuid_id!(
    /// One webhook subscription of an account.
    WebhookId
);
string_id!(
    /// A tenant: every extension, number, callflow and queue belongs to one.
    AccountId
);
string_id!(
    /// An extension number inside an account (`1001`).
    ExtensionNumber
);
string_id!(
    /// An ACD queue inside an account (`sales`).
    QueueId
);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_serialise_as_plain_values() {
        let call = CallId::new();
        let json = serde_json::to_string(&call).expect("json");
        assert_eq!(json, format!("\"{}\"", call.0));
        assert_eq!(json.trim_matches('"').parse::<CallId>().ok(), Some(call));
        let acct = AccountId::from("acme");
        assert_eq!(serde_json::to_string(&acct).expect("json"), "\"acme\"");
        assert_ne!(LegId::new(), LegId::new());
    }
}
