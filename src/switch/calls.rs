//! What the switch knows of calls: the messages a shard sends a call task
//! (`CallInput`), the handle it reaches the task by, and the one hook through
//! which a new INVITE becomes a call (`Admission`, installed by the layer above
//! at start-up, so the switch never imports the call layer).

use rsip::{Request, Response};
use std::sync::Arc;
use tokio::sync::mpsc;

use super::Switch;
use crate::ids::CallId;
use crate::sip::target::Target;
use crate::sip::transaction::TxId;

/// Prefix of every Via branch this switch generates (also used for loop detection).
pub const BRANCH_PREFIX: &str = "z9hG4bKsy";
/// Token of the caller's INVITE server transaction in `CallInput::Timeout`.
pub const A_LEG_TOKEN: u64 = 0;

pub fn new_branch() -> String {
    format!("{BRANCH_PREFIX}{}", crate::sip::message::random_token(16))
}

/// What a call task is told by the shards.
#[derive(Debug)]
pub enum CallInput {
    /// A response on a client transaction the call started (token names it).
    Response { token: u64, resp: Response },
    /// That client transaction timed out (or the caller never ACKed, for token 0).
    Timeout { token: u64 },
    /// The transport could not deliver that client transaction's request (ICMP
    /// unreachable, refused connection): RFC 3261 §8.1.3.1 treats it as a 503.
    TransportError { token: u64 },
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
    /// A command from the operator side (legs, bridges, mixing, prompts, digits).
    Command(super::commands::CallCommand),
    /// Send the caller on to `number` (a blind transfer from the operator side);
    /// answered with whether the call could be transferred.
    Transfer {
        number: String,
        reply: tokio::sync::oneshot::Sender<Result<(), TransferError>>,
    },
}

/// Why a call could not be transferred.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum TransferError {
    #[error("the call is over")]
    Over,
    #[error("only a caller the switch answered in a callflow can be transferred")]
    NotTransferable,
    #[error("the number is not one the call's account can reach")]
    UnknownNumber,
}

pub type CallSender = mpsc::UnboundedSender<CallInput>;

/// How the switch reaches a live call (one entry per SIP Call-ID of its legs).
#[derive(Clone)]
pub struct CallHandle {
    pub id: CallId,
    pub tx: CallSender,
}

/// Turns a new out-of-dialog INVITE into a call, or refuses it with a final
/// response. The call layer implements it; the server installs it.
pub trait Admission: Send + Sync + 'static {
    fn admit(
        &self,
        sw: &Arc<Switch>,
        tx: TxId,
        req: Request,
        source: Target,
    ) -> Result<CallSender, Response>;
}
