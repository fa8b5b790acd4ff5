//! What admission decided about a new call: who placed it (`Origin`) and where
//! it goes first (`Destination`). The call task starts from these.

use crate::events::HangupCause;
use crate::store::{Account, Trunk};

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
