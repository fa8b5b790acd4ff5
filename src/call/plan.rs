//! What admission decided about a new call: who placed it (`Origin`) and where
//! it goes first (`Destination`). The call task starts from these. `route` is
//! the one place a number of an account is resolved — for a new call and for a
//! callflow's transfer alike.

use crate::events::HangupCause;
use crate::store::{Account, Trunk};
use crate::switch::directory::Directory;

/// Who placed the call.
#[derive(Clone, Debug)]
pub struct Origin {
    pub account: Account,
    /// Caller number (extension number, or the carrier's caller ID).
    pub caller: String,
    pub display_name: Option<String>,
    /// Caller ID to present on outbound trunk calls.
    pub external_caller_id: Option<String>,
    pub from_trunk: bool,
}

/// Where the call goes.
#[derive(Clone, Debug)]
pub enum Destination {
    Extension {
        number: String,
    },
    Trunk {
        trunk: Trunk,
        number: String,
    },
    /// A dialplan app: the switch answers and runs its steps.
    App(crate::store::App),
    /// A callflow: the call runs its nodes.
    Flow(std::sync::Arc<crate::routing::Callflow>),
    /// Nothing to ring: end with this cause (404 unknown number, …).
    Nowhere(HangupCause),
}

/// A number dialled from inside `account`: an extension, an app, a callflow
/// (by number or DID), a queue's number, a DID of an extension, or an outside number through the
/// account's trunk.
pub fn route(dir: &Directory, account: &str, dialled: &str) -> Destination {
    if dir.extension(account, dialled).is_some() {
        Destination::Extension {
            number: dialled.to_string(),
        }
    } else if let Some(app) = dir.app(account, dialled) {
        Destination::App(app.clone())
    } else if let Some(flow) = dir.callflow(account, dialled) {
        Destination::Flow(flow.clone())
    } else if let Some(q) = dir.queue_by_number(account, dialled) {
        Destination::Flow(crate::routing::Callflow::queue(q))
    } else if let Some(flow) = dir
        .callflow_for_did(dialled)
        .filter(|f| f.account.as_str() == account)
    {
        Destination::Flow(flow.clone())
    } else if let Some(n) = dir.number(dialled).filter(|n| n.account_id == account) {
        Destination::Extension {
            number: n.extension.clone(),
        }
    } else if looks_external(dialled) {
        match dir.trunk_for_account(account) {
            Some(t) => Destination::Trunk {
                trunk: t.clone(),
                number: dialled.to_string(),
            },
            None => Destination::Nowhere(HangupCause::NetworkOutOfOrder),
        }
    } else {
        Destination::Nowhere(HangupCause::UnallocatedNumber)
    }
}

fn looks_external(dialled: &str) -> bool {
    let digits = dialled.strip_prefix('+').unwrap_or(dialled);
    !digits.is_empty()
        && digits.bytes().all(|b| b.is_ascii_digit())
        && (dialled.starts_with('+') || digits.len() >= 7)
}

#[cfg(test)]
mod tests {
    #[test]
    fn external_numbers() {
        assert!(super::looks_external("+15551234567"));
        assert!(super::looks_external("15551234567"));
        assert!(!super::looks_external("1002"));
        assert!(!super::looks_external("+"));
        assert!(!super::looks_external("12a4567"));
    }
}
