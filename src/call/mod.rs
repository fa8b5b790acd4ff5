//! Calls: one task per call owns both legs (channels), their dialogs, the media
//! relay and the timers; shards talk to it through a `CallHandle`. `admit` decides
//! whether a new INVITE may become a call (trunk recognition or digest auth, then
//! where it goes); `b2bua` runs the call.

pub mod admit;
pub mod app;
pub mod b2bua;
pub mod cdr;
pub mod channel;

use rsip::{Request, Response};
use tokio::sync::mpsc;
use uuid::Uuid;

use crate::sip::target::Target;
use crate::sip::transaction::TxId;

pub use admit::admit;

/// Prefix of every Via branch this switch generates (also used for loop detection).
pub const BRANCH_PREFIX: &str = "z9hG4bKsy";
/// Token of the caller's INVITE server transaction in `CallInput::Timeout`.
pub const A_LEG_TOKEN: u64 = 0;

pub fn new_branch() -> String {
    format!("{BRANCH_PREFIX}{}", crate::sip::message::random_token(16))
}

/// What a call task is told.
#[derive(Debug)]
pub enum CallInput {
    /// A response on a client transaction the call started (token names it).
    Response { token: u64, resp: Response },
    /// That client transaction timed out (or the caller never ACKed, for token 0).
    Timeout { token: u64 },
    /// An in-dialog request on one of the call's legs; answer on `tx`.
    Request {
        tx: TxId,
        req: Request,
        source: Target,
    },
    /// ACK for a 2xx (not part of any transaction).
    Ack { req: Request },
    /// The caller CANCELled; answer the CANCEL on `tx` (200) and the INVITE (487).
    Cancel { tx: TxId, req: Request },
    /// Hang up from the operator side (API, shutdown).
    Hangup,
}

pub type CallSender = mpsc::UnboundedSender<CallInput>;

#[derive(Clone)]
pub struct CallHandle {
    pub id: Uuid,
    pub tx: CallSender,
}
