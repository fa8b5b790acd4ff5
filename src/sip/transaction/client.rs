//! Client transactions (RFC 3261 §17.1, with the RFC 6026 Accepted state).
//!
//! One [`ClientTx`] per request the TU sends. It keeps the serialised request
//! for retransmission (timers A/E), gives up after timer B/F, generates and
//! retransmits the ACK for non-2xx final responses to INVITE, and lingers in
//! Completed (D/K) or Accepted (M) to absorb or pass on retransmitted
//! responses. It decides, the layer executes: it never removes itself from
//! the layer's tables and never reads the clock.

use std::time::Duration;

use bytes::Bytes;
use rsip::{Request, Response};

use super::key::{self, TxKey};
use super::timer::{Ctx, Next, Slots, TimerKind};
use super::{wire, TxEvent};
use crate::sip::target::Target;

/// Timer D for unreliable transports (RFC 3261 §17.1.1.2: at least 32 s).
pub const TIMER_D: Duration = Duration::from_secs(32);

/// States of a client transaction. INVITE starts in `Calling`, others in `Trying`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ClientState {
    Calling,
    Trying,
    Proceeding,
    Completed,
    /// RFC 6026: INVITE got a 2xx; further 2xx go to the TU.
    Accepted,
}

#[derive(Debug)]
pub(crate) struct ClientTx {
    pub key: Option<TxKey>,
    pub state: ClientState,
    pub slots: Slots,
    target: Target,
    /// The serialised request, re-sent by timers A/E.
    request: Bytes,
    /// Current retransmission interval.
    interval: Duration,
    /// INVITE only: the request, kept to build the ACK for a non-2xx.
    invite: Option<Request>,
    /// The ACK sent for a non-2xx final response, re-sent on its retransmissions.
    ack: Option<Bytes>,
}

impl ClientTx {
    /// Queue the first transmission and arm A+B (INVITE) or E+F (others).
    pub fn start(ctx: &mut Ctx<'_>, req: Request, target: Target, key: Option<TxKey>) -> Self {
        let bytes = wire::encode_request(&req);
        ctx.send(target, bytes.clone());
        let is_invite = req.method == rsip::Method::Invite;
        let mut tx = ClientTx {
            key,
            state: if is_invite {
                ClientState::Calling
            } else {
                ClientState::Trying
            },
            slots: Slots::default(),
            target,
            request: bytes,
            interval: ctx.timers.t1,
            invite: is_invite.then_some(req),
            ack: None,
        };
        let (retransmit, timeout) = if is_invite {
            (TimerKind::A, TimerKind::B)
        } else {
            (TimerKind::E, TimerKind::F)
        };
        if !target.kind.is_reliable() {
            ctx.arm(&mut tx.slots, retransmit, tx.interval);
        }
        let t1x64 = ctx.t1x64();
        ctx.arm(&mut tx.slots, timeout, t1x64);
        tx
    }

    fn is_invite(&self) -> bool {
        self.invite.is_some()
    }

    fn reliable(&self) -> bool {
        self.target.kind.is_reliable()
    }

    /// A matching response arrived. Returns whether to pass it to the TU.
    pub fn on_response(&mut self, ctx: &mut Ctx<'_>, resp: &Response) -> (bool, Next) {
        let code = resp.status_code.code();
        if self.is_invite() {
            self.on_invite_response(ctx, resp, code)
        } else {
            self.on_non_invite_response(ctx, code)
        }
    }

    fn on_invite_response(
        &mut self,
        ctx: &mut Ctx<'_>,
        resp: &Response,
        code: u16,
    ) -> (bool, Next) {
        match (self.state, code) {
            (ClientState::Calling | ClientState::Proceeding, 100..=199) => {
                // §17.1.1.2: no more retransmissions, and timer B only runs in Calling.
                self.slots.clear_all();
                self.state = ClientState::Proceeding;
                (true, Next::Stay)
            }
            (ClientState::Calling | ClientState::Proceeding, 200..=299) => {
                self.slots.clear_all();
                self.state = ClientState::Accepted;
                let t1x64 = ctx.t1x64();
                ctx.arm(&mut self.slots, TimerKind::M, t1x64);
                (true, Next::Stay)
            }
            (ClientState::Calling | ClientState::Proceeding, 300..=699) => {
                self.slots.clear_all();
                self.state = ClientState::Completed;
                self.ack = self.build_ack(resp);
                self.send_ack(ctx);
                if self.reliable() {
                    return (true, Next::Terminate);
                }
                ctx.arm(&mut self.slots, TimerKind::D, TIMER_D);
                (true, Next::Stay)
            }
            (ClientState::Accepted, 200..=299) => (true, Next::Stay),
            (ClientState::Completed, 300..=699) => {
                self.send_ack(ctx);
                (false, Next::Stay)
            }
            _ => (false, Next::Stay),
        }
    }

    fn on_non_invite_response(&mut self, ctx: &mut Ctx<'_>, code: u16) -> (bool, Next) {
        match (self.state, code) {
            (ClientState::Trying | ClientState::Proceeding, 100..=199) => {
                // Timer E keeps running; from its next firing it uses T2.
                self.state = ClientState::Proceeding;
                (true, Next::Stay)
            }
            (ClientState::Trying | ClientState::Proceeding, 200..=699) => {
                self.slots.clear_all();
                self.state = ClientState::Completed;
                if self.reliable() {
                    return (true, Next::Terminate);
                }
                let t4 = ctx.timers.t4;
                ctx.arm(&mut self.slots, TimerKind::K, t4);
                (true, Next::Stay)
            }
            _ => (false, Next::Stay),
        }
    }

    fn build_ack(&self, resp: &Response) -> Option<Bytes> {
        let invite = self.invite.as_ref()?;
        let via = key::top_via(&invite.headers)?;
        let seq = key::cseq(&invite.headers)
            .or_else(|| key::cseq(&resp.headers))?
            .0;
        Some(wire::encode_request(&wire::build_non2xx_ack(
            invite, resp, via.value, seq,
        )))
    }

    fn send_ack(&self, ctx: &mut Ctx<'_>) {
        if let Some(ack) = &self.ack {
            ctx.send(self.target, ack.clone());
        }
    }

    /// A timer of this transaction fired (its slot is already cleared).
    pub fn on_timer(&mut self, ctx: &mut Ctx<'_>, kind: TimerKind) -> Next {
        match kind {
            TimerKind::A if self.state == ClientState::Calling => {
                ctx.send(self.target, self.request.clone());
                self.interval *= 2;
                ctx.arm(&mut self.slots, TimerKind::A, self.interval);
                Next::Stay
            }
            TimerKind::E if matches!(self.state, ClientState::Trying | ClientState::Proceeding) => {
                ctx.send(self.target, self.request.clone());
                self.interval = if self.state == ClientState::Proceeding {
                    ctx.timers.t2
                } else {
                    (self.interval * 2).min(ctx.timers.t2)
                };
                ctx.arm(&mut self.slots, TimerKind::E, self.interval);
                Next::Stay
            }
            TimerKind::B | TimerKind::F => {
                ctx.event(TxEvent::Timeout { tx: ctx.id });
                Next::Terminate
            }
            TimerKind::D | TimerKind::K | TimerKind::M => Next::Terminate,
            _ => Next::Stay,
        }
    }
}
