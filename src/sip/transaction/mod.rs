//! The RFC 3261 §17 transaction layer (with RFC 6026 fixes) as a sans-IO
//! state machine.
//!
//! [`TransactionLayer`] owns every client and server transaction, matches
//! incoming requests and responses to them, retransmits over unreliable
//! transports and times them out. It is driven from outside: the driver feeds
//! received messages and the current time (`on_request`, `on_response`,
//! `handle_timeout`), the TU feeds what it wants sent (`send_request`,
//! `send_response`, `send_stateless`), and both drain `poll_transmit`,
//! `poll_event` and `poll_timeout`. It owns no socket, spawns nothing and
//! never reads the clock; it does not build responses or know about dialogs.
//!
//! Malformed input never panics: a request without a top Via or branch is
//! reported as [`Incoming::Absorbed`] (an ACK as [`Incoming::Ack`]) and a
//! response that cannot be keyed is treated as stray. Branches without the
//! `z9hG4bK` cookie are used as keys as they are (no RFC 2543 fallback).

mod client;
mod key;
mod server;
mod timer;
mod wire;

#[cfg(test)]
mod tests_client;
#[cfg(test)]
mod tests_layer;
#[cfg(test)]
mod tests_server;
#[cfg(test)]
mod tests_support;

use std::collections::{HashMap, VecDeque};
use std::time::{Duration, Instant};

use bytes::Bytes;
use rsip::{Method, Request, Response, SipMessage};

pub use client::{ClientState, TIMER_D};
pub use key::{new_branch, MAGIC_COOKIE};
pub use server::ServerState;
pub use timer::TimerKind;

use client::ClientTx;
use key::TxKey;
use server::{AckOutcome, ServerTx};
use timer::{Ctx, Next, TimerQueue};

use crate::sip::target::Target;

/// Identifies one transaction for the lifetime of the layer (never reused).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct TxId(pub u64);

impl std::fmt::Display for TxId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "tx#{}", self.0)
    }
}

/// RFC 3261 timer base values. Zero values are raised to 1 ms.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Timers {
    pub t1: Duration,
    pub t2: Duration,
    pub t4: Duration,
}

impl Default for Timers {
    fn default() -> Self {
        Timers {
            t1: Duration::from_millis(500),
            t2: Duration::from_secs(4),
            t4: Duration::from_secs(5),
        }
    }
}

/// Bytes to send and where.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Transmit {
    pub target: Target,
    pub bytes: Bytes,
}

/// What the TU must do with a received request.
#[derive(Debug)]
pub enum Incoming {
    /// A new server transaction; the TU must answer it.
    New { tx: TxId, request: Request },
    /// A CANCEL: `tx` is its own server transaction, `invite_tx` the INVITE
    /// server transaction it cancels if that is still Proceeding. The TU
    /// answers both (481 on `tx` when `invite_tx` is `None`).
    Cancel {
        tx: TxId,
        invite_tx: Option<TxId>,
        request: Request,
    },
    /// An ACK for a 2xx (matching no transaction, or an INVITE server
    /// transaction in Accepted): for the dialog layer.
    Ack { request: Request },
    /// A retransmission (the last response was re-sent if any), an ACK for a
    /// non-2xx, or a request that cannot be keyed (no top Via or no branch).
    Absorbed,
}

/// Notifications for the TU, drained with [`TransactionLayer::poll_event`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TxEvent {
    /// Client: timer B or F fired (treat as 408). Server INVITE: timer H (no ACK).
    Timeout { tx: TxId },
    /// The driver reported a send failure (RFC 3261 §17.1.4 / §17.2.4).
    TransportError { tx: TxId },
    /// The transaction was removed.
    Terminated { tx: TxId },
}

/// Errors of [`TransactionLayer::send_response`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TxError {
    #[error("unknown or terminated transaction {0}")]
    UnknownTransaction(TxId),
    #[error("{0} is a client transaction")]
    NotServer(TxId),
    #[error("{tx} already sent a final response")]
    AlreadyFinal { tx: TxId },
    #[error("status code {code} is not a valid response code")]
    InvalidStatus { code: u16 },
}

#[derive(Debug)]
enum Tx {
    Client(ClientTx),
    Server(ServerTx),
}

impl Tx {
    fn slots(&self) -> &timer::Slots {
        match self {
            Tx::Client(c) => &c.slots,
            Tx::Server(s) => &s.slots,
        }
    }

    fn slots_mut(&mut self) -> &mut timer::Slots {
        match self {
            Tx::Client(c) => &mut c.slots,
            Tx::Server(s) => &mut s.slots,
        }
    }
}

/// All transactions of one endpoint. See the module docs.
#[derive(Debug)]
pub struct TransactionLayer {
    timers: Timers,
    next_id: u64,
    txs: HashMap<TxId, Tx>,
    client_keys: HashMap<TxKey, TxId>,
    server_keys: HashMap<TxKey, TxId>,
    queue: TimerQueue,
    out: VecDeque<Transmit>,
    events: VecDeque<TxEvent>,
}

/// Stale heap entries tolerated before a rebuild, beyond 4 per transaction.
const COMPACT_SLACK: usize = 1024;

impl TransactionLayer {
    pub fn new(timers: Timers) -> Self {
        let floor = Duration::from_millis(1);
        let timers = Timers {
            t1: timers.t1.max(floor),
            t2: timers.t2.max(floor),
            t4: timers.t4.max(floor),
        };
        TransactionLayer {
            timers,
            next_id: 1,
            // sized for a busy shard (UDP keeps non-INVITE transactions 32 s): growing
            // the tables under load costs rehashes on the hot path
            txs: HashMap::with_capacity(1 << 15),
            client_keys: HashMap::with_capacity(1 << 14),
            server_keys: HashMap::with_capacity(1 << 15),
            queue: TimerQueue::default(),
            out: VecDeque::new(),
            events: VecDeque::new(),
        }
    }

    /// A request arrived from `source`.
    pub fn on_request(&mut self, now: Instant, req: Request, source: Target) -> Incoming {
        let Some(key) = key::server_key(&req) else {
            if req.method == Method::Ack {
                return Incoming::Ack { request: req };
            }
            tracing::debug!(method = %req.method, "request without top Via branch dropped");
            return Incoming::Absorbed;
        };
        let existing = self.server_keys.get(&key).copied();
        let incoming = match (req.method, existing) {
            (Method::Ack, None) => Incoming::Ack { request: req },
            (Method::Ack, Some(id)) => {
                let outcome = self.step(now, id, |tx, ctx| match tx {
                    Tx::Server(s) => s.on_ack(ctx),
                    Tx::Client(_) => (AckOutcome::Absorbed, Next::Stay),
                });
                match outcome {
                    Some(AckOutcome::PassToTu) => Incoming::Ack { request: req },
                    _ => Incoming::Absorbed,
                }
            }
            (_, Some(id)) => {
                self.step(now, id, |tx, ctx| {
                    if let Tx::Server(s) = tx {
                        s.on_retransmission(ctx);
                    }
                    ((), Next::Stay)
                });
                Incoming::Absorbed
            }
            (method, None) => {
                let id = self.alloc_id();
                let invite_tx = (method == Method::Cancel)
                    .then(|| self.server_keys.get(&key.with_method(Method::Invite)).copied())
                    .flatten()
                    .filter(|invite| {
                        matches!(self.txs.get(invite), Some(Tx::Server(s)) if s.state == ServerState::Proceeding)
                    });
                let tx = ServerTx::new(key.clone(), req.method, source, &self.timers);
                self.server_keys.insert(key, id);
                self.txs.insert(id, Tx::Server(tx));
                if method == Method::Cancel {
                    Incoming::Cancel {
                        tx: id,
                        invite_tx,
                        request: req,
                    }
                } else {
                    Incoming::New {
                        tx: id,
                        request: req,
                    }
                }
            }
        };
        self.tidy();
        incoming
    }

    /// A response arrived. `None` when absorbed (retransmission) or stray.
    pub fn on_response(
        &mut self,
        now: Instant,
        resp: Response,
        _source: Target,
    ) -> Option<(TxId, Response)> {
        let id = *self.client_keys.get(&key::response_key(&resp)?)?;
        let pass = self.step(now, id, |tx, ctx| match tx {
            Tx::Client(c) => c.on_response(ctx, &resp),
            Tx::Server(_) => (false, Next::Stay),
        });
        self.tidy();
        pass.filter(|pass| *pass).map(|_| (id, resp))
    }

    /// Start a client transaction. The request must carry its top Via with a
    /// fresh branch ([`new_branch`]). A request without one is still sent and
    /// timed, but no response can match it: the TU will see a Timeout. An ACK
    /// is not a transaction: it is sent once and the returned id stays unknown.
    pub fn send_request(&mut self, now: Instant, req: Request, target: Target) -> TxId {
        let id = self.alloc_id();
        if req.method == Method::Ack {
            self.out.push_back(Transmit {
                target,
                bytes: wire::encode_request(&req),
            });
            return id;
        }
        let key = key::top_via(&req.headers)
            .and_then(|via| via.branch)
            .map(|b| TxKey::client(b, req.method));
        match &key {
            Some(key) => {
                if let Some(old) = self.client_keys.insert(key.clone(), id) {
                    tracing::warn!(%old, new = %id, branch = %key.branch, "branch reused by a new client transaction");
                }
            }
            None => {
                tracing::warn!(method = %req.method, "client request without Via branch: responses cannot match")
            }
        }
        let mut ctx = Ctx {
            now,
            timers: &self.timers,
            id,
            queue: &mut self.queue,
            out: &mut self.out,
            events: &mut self.events,
        };
        let tx = ClientTx::start(&mut ctx, req, target, key);
        self.txs.insert(id, Tx::Client(tx));
        self.tidy();
        id
    }

    /// The TU answers on server transaction `tx`.
    pub fn send_response(&mut self, now: Instant, tx: TxId, resp: Response) -> Result<(), TxError> {
        let result = self
            .step(now, tx, |t, ctx| match t {
                Tx::Server(s) => match s.send_response(ctx, &resp) {
                    Ok(next) => (Ok(()), next),
                    Err(e) => (Err(e), Next::Stay),
                },
                Tx::Client(_) => (Err(TxError::NotServer(tx)), Next::Stay),
            })
            .unwrap_or(Err(TxError::UnknownTransaction(tx)));
        self.tidy();
        result
    }

    /// Send a message outside any transaction (ACK for 2xx, 2xx retransmissions).
    pub fn send_stateless(&mut self, msg: SipMessage, target: Target) {
        self.out.push_back(Transmit {
            target,
            bytes: wire::encode(&msg),
        });
    }

    /// The driver could not send for `tx`: report it and end the transaction.
    /// Unknown ids are ignored.
    pub fn on_transport_error(&mut self, now: Instant, tx: TxId) {
        self.step(now, tx, |_, ctx| {
            ctx.event(TxEvent::TransportError { tx });
            ((), Next::Terminate)
        });
        self.tidy();
    }

    /// A request we sent came back undeliverable (ICMP unreachable for the
    /// datagram): the client transaction it belongs to fails as a transport
    /// error (RFC 3261 §8.1.3.1). Returns whether one matched.
    pub fn on_undeliverable(&mut self, now: Instant, req: &Request) -> bool {
        let Some(id) = key::top_via(&req.headers)
            .and_then(|via| via.branch)
            .and_then(|b| self.client_keys.get(&TxKey::client(b, req.method)).copied())
        else {
            return false;
        };
        // only a transaction still waiting for an answer fails; a late ICMP for a
        // retransmission of an answered request changes nothing
        let waiting = matches!(
            self.txs.get(&id),
            Some(Tx::Client(c)) if matches!(c.state, ClientState::Calling | ClientState::Trying)
        );
        if waiting {
            self.on_transport_error(now, id);
        }
        waiting
    }

    /// Fire every timer due at or before `now`.
    pub fn handle_timeout(&mut self, now: Instant) {
        while let Some((at, id, kind)) = self.queue.peek() {
            if at > now {
                break;
            }
            self.queue.pop();
            match self.txs.get_mut(&id) {
                Some(tx) if tx.slots().is_live(kind, at) => tx.slots_mut().clear(kind),
                _ => continue,
            }
            self.step(now, id, |tx, ctx| {
                let next = match tx {
                    Tx::Client(c) => c.on_timer(ctx, kind),
                    Tx::Server(s) => s.on_timer(ctx, kind),
                };
                ((), next)
            });
        }
        self.tidy();
    }

    /// The earliest armed deadline.
    pub fn poll_timeout(&self) -> Option<Instant> {
        self.queue.peek().map(|(at, _, _)| at)
    }

    pub fn poll_transmit(&mut self) -> Option<Transmit> {
        self.out.pop_front()
    }

    pub fn poll_event(&mut self) -> Option<TxEvent> {
        self.events.pop_front()
    }

    /// Live transactions.
    pub fn len(&self) -> usize {
        self.txs.len()
    }

    pub fn is_empty(&self) -> bool {
        self.txs.is_empty()
    }

    /// Whether `tx` is still live.
    pub fn contains(&self, tx: TxId) -> bool {
        self.txs.contains_key(&tx)
    }

    /// The request that created server transaction `tx`.
    pub fn server_method(&self, tx: TxId) -> Option<rsip::Method> {
        match self.txs.get(&tx)? {
            Tx::Server(s) => Some(s.method),
            Tx::Client(_) => None,
        }
    }

    /// State of a client transaction (diagnostics, tests).
    pub fn client_state(&self, tx: TxId) -> Option<ClientState> {
        match self.txs.get(&tx)? {
            Tx::Client(c) => Some(c.state),
            Tx::Server(_) => None,
        }
    }

    /// State of a server transaction (diagnostics, tests).
    pub fn server_state(&self, tx: TxId) -> Option<ServerState> {
        match self.txs.get(&tx)? {
            Tx::Server(s) => Some(s.state),
            Tx::Client(_) => None,
        }
    }

    fn alloc_id(&mut self) -> TxId {
        let id = TxId(self.next_id);
        self.next_id += 1;
        id
    }

    /// Run one state-machine step on `id`; remove it if the step says so.
    /// `None` when `id` is unknown.
    fn step<R>(
        &mut self,
        now: Instant,
        id: TxId,
        f: impl FnOnce(&mut Tx, &mut Ctx<'_>) -> (R, Next),
    ) -> Option<R> {
        let tx = self.txs.get_mut(&id)?;
        let mut ctx = Ctx {
            now,
            timers: &self.timers,
            id,
            queue: &mut self.queue,
            out: &mut self.out,
            events: &mut self.events,
        };
        let (result, next) = f(tx, &mut ctx);
        if next == Next::Terminate {
            self.remove(id);
        }
        Some(result)
    }

    fn remove(&mut self, id: TxId) {
        let Some(tx) = self.txs.remove(&id) else {
            return;
        };
        let (keys, key) = match &tx {
            Tx::Client(c) => (&mut self.client_keys, c.key.as_ref()),
            Tx::Server(s) => (&mut self.server_keys, Some(&s.key)),
        };
        if let Some(key) = key {
            // Only drop the mapping if a newer transaction has not taken the key.
            if keys.get(key) == Some(&id) {
                keys.remove(key);
            }
        }
        self.events.push_back(TxEvent::Terminated { tx: id });
    }

    /// Drop stale entries from the top of the timer heap so `poll_timeout` is
    /// exact, and rebuild the heap when stale entries dominate it.
    fn tidy(&mut self) {
        while let Some((at, id, kind)) = self.queue.peek() {
            if self
                .txs
                .get(&id)
                .is_some_and(|tx| tx.slots().is_live(kind, at))
            {
                break;
            }
            self.queue.pop();
        }
        if self.queue.len() > COMPACT_SLACK + 4 * self.txs.len() {
            let live = self
                .txs
                .iter()
                .flat_map(|(id, tx)| tx.slots().armed().map(move |(kind, at)| (at, *id, kind)));
            self.queue.rebuild(live);
        }
    }

    #[cfg(test)]
    fn heap_len(&self) -> usize {
        self.queue.len()
    }

    #[cfg(test)]
    fn armed(&self, tx: TxId, kind: TimerKind) -> Option<Instant> {
        self.txs.get(&tx)?.slots().get(kind)
    }
}
