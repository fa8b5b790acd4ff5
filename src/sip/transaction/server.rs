//! Server transactions (RFC 3261 §17.2, with the RFC 6026 Accepted state).
//!
//! One [`ServerTx`] per request received that is not a retransmission. It
//! keeps the request's method (not the whole request: the TU got that), the serialised last response for
//! retransmission, and the response target (the request's source, so RFC 3581
//! `rport` behaviour and TCP/WS connection reuse come for free). It never
//! creates responses itself (no automatic 100 Trying), never removes itself
//! from the layer's tables and never reads the clock.

use bytes::Bytes;
use rsip::Response;

use super::key::TxKey;
use super::timer::{Ctx, Next, Slots, TimerKind};
use super::{wire, TxError, TxEvent};
use crate::sip::target::Target;

/// States of a server transaction. INVITE starts in `Proceeding`, others in `Trying`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ServerState {
    Trying,
    Proceeding,
    Completed,
    Confirmed,
    /// RFC 6026: INVITE answered with 2xx; ACKs go to the TU.
    Accepted,
}

/// What the layer should do with an ACK that matched an INVITE server transaction.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum AckOutcome {
    Absorbed,
    PassToTu,
}

#[derive(Debug)]
pub(crate) struct ServerTx {
    pub key: TxKey,
    pub state: ServerState,
    pub slots: Slots,
    pub method: rsip::Method,
    source: Target,
    invite: bool,
    /// The last response sent, re-sent on request retransmissions and timer G.
    last: Option<Bytes>,
    interval: std::time::Duration,
}

impl ServerTx {
    pub fn new(key: TxKey, method: rsip::Method, source: Target, timers: &super::Timers) -> Self {
        let invite = method == rsip::Method::Invite;
        ServerTx {
            key,
            state: if invite {
                ServerState::Proceeding
            } else {
                ServerState::Trying
            },
            slots: Slots::default(),
            method,
            source,
            invite,
            last: None,
            interval: timers.t1,
        }
    }

    fn reliable(&self) -> bool {
        self.source.kind.is_reliable()
    }

    /// The request was retransmitted: re-send the last response if the state calls for it.
    pub fn on_retransmission(&mut self, ctx: &mut Ctx<'_>) {
        let resend = match self.state {
            // Accepted: the INVITE came again, so the client has not seen our 2xx; the
            // TU retransmits 2xx on its own schedule too (§13.3.1.4), but answering the
            // retransmission at once also covers TUs that relay a re-INVITE's 2xx.
            ServerState::Proceeding | ServerState::Completed | ServerState::Accepted => {
                self.last.clone()
            }
            ServerState::Trying | ServerState::Confirmed => None,
        };
        if let Some(bytes) = resend {
            ctx.send(self.source, bytes);
        }
    }

    /// An ACK matched this (INVITE) transaction.
    pub fn on_ack(&mut self, ctx: &mut Ctx<'_>) -> (AckOutcome, Next) {
        match self.state {
            ServerState::Completed => {
                self.slots.clear_all();
                self.state = ServerState::Confirmed;
                if self.reliable() {
                    return (AckOutcome::Absorbed, Next::Terminate);
                }
                let t4 = ctx.timers.t4;
                ctx.arm(&mut self.slots, TimerKind::I, t4);
                (AckOutcome::Absorbed, Next::Stay)
            }
            ServerState::Accepted => (AckOutcome::PassToTu, Next::Stay),
            _ => (AckOutcome::Absorbed, Next::Stay),
        }
    }

    /// The TU answers. Queues the transmit and moves the state machine.
    pub fn send_response(&mut self, ctx: &mut Ctx<'_>, resp: &Response) -> Result<Next, TxError> {
        let code = resp.status_code.code();
        if !(100..=699).contains(&code) {
            return Err(TxError::InvalidStatus { code });
        }
        let final_sent = match self.state {
            ServerState::Completed | ServerState::Confirmed => true,
            // RFC 6026 §8.5: 2xx from the TU in Accepted are passed to the transport.
            ServerState::Accepted => !(200..=299).contains(&code),
            ServerState::Trying | ServerState::Proceeding => false,
        };
        if final_sent {
            return Err(TxError::AlreadyFinal { tx: ctx.id });
        }
        let bytes = wire::encode_response(resp);
        ctx.send(self.source, bytes.clone());
        if self.state == ServerState::Accepted {
            return Ok(Next::Stay);
        }
        let t1x64 = ctx.t1x64();
        match code {
            100..=199 => {
                self.state = ServerState::Proceeding;
                self.last = Some(bytes);
            }
            200..=299 if self.invite => {
                // The TU (dialog layer) retransmits the 2xx on its timer; the transaction
                // keeps it only to answer a retransmitted INVITE (see on_retransmission).
                self.state = ServerState::Accepted;
                self.last = Some(bytes);
                ctx.arm(&mut self.slots, TimerKind::L, t1x64);
            }
            _ if self.invite => {
                self.state = ServerState::Completed;
                self.last = Some(bytes);
                if !self.reliable() {
                    ctx.arm(&mut self.slots, TimerKind::G, self.interval);
                }
                ctx.arm(&mut self.slots, TimerKind::H, t1x64);
            }
            _ => {
                self.state = ServerState::Completed;
                self.last = Some(bytes);
                if self.reliable() {
                    return Ok(Next::Terminate);
                }
                ctx.arm(&mut self.slots, TimerKind::J, t1x64);
            }
        }
        Ok(Next::Stay)
    }

    /// A timer of this transaction fired (its slot is already cleared).
    pub fn on_timer(&mut self, ctx: &mut Ctx<'_>, kind: TimerKind) -> Next {
        match kind {
            TimerKind::G if self.state == ServerState::Completed => {
                if let Some(bytes) = &self.last {
                    ctx.send(self.source, bytes.clone());
                }
                self.interval = (self.interval * 2).min(ctx.timers.t2);
                ctx.arm(&mut self.slots, TimerKind::G, self.interval);
                Next::Stay
            }
            TimerKind::H => {
                ctx.event(TxEvent::Timeout { tx: ctx.id });
                Next::Terminate
            }
            TimerKind::I | TimerKind::J | TimerKind::L => Next::Terminate,
            _ => Next::Stay,
        }
    }
}
