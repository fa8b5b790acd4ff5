//! The back-to-back user agent: one task per call. It answers the caller's INVITE
//! (A leg), rings every contact of the callee in parallel (B-leg forks, each its
//! own dialog and Call-ID), bridges the first to answer and cancels the rest, and
//! relays provisional responses, re-INVITEs/UPDATE/INFO and BYE between the two
//! dialogs, with SDP rewritten so RTP flows through the switch's relay.

use rsip::{Header, Request, Response, SipMessage};
use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::sync::atomic::Ordering::Relaxed;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::mpsc;
use tokio::time::Instant;
use uuid::Uuid;

use super::admit::{Destination, Origin};
use super::channel::Channel;
use super::{cdr, new_branch, CallHandle, CallInput, CallSender, A_LEG_TOKEN};
use crate::events::{now_ms, Direction, HangupCause};
use crate::media::relay::{self, RelayHandle, Side};
use crate::sip::dialog::Dialog;
use crate::sip::message;
use crate::sip::sdp;
use crate::sip::target::{Target, TransportKind};
use crate::sip::transaction::TxId;
use crate::store::{Cdr, CdrDirection};
use crate::switch::{ShardMsg, Switch};

const T1: Duration = Duration::from_millis(500);
const T2: Duration = Duration::from_secs(4);
/// Token for CANCEL and BYE transactions whose outcome does not matter.
const IGNORED: u64 = u64::MAX;

struct Fork {
    token: u64,
    call_id: String,
    invite: Request,
    target: Target,
    provisional: bool,
    cancel_pending: bool,
    done: bool,
    auth_tried: bool,
}

struct BLeg {
    dialog: Dialog,
    target: Target,
    /// CSeq of the INVITE whose 2xx still awaits our ACK (late offer: sent with the caller's answer).
    ack_pending: Option<u32>,
}

/// An in-dialog request forwarded to the other leg, waiting for its response.
struct Pending {
    tx: TxId,
    req: Request,
    from: Side,
    cseq: u32,
}

struct Call {
    sw: Arc<Switch>,
    id: Uuid,
    me: CallSender,
    origin: Origin,
    destination: Destination,
    dialled: String,
    a_tx: TxId,
    a_invite: Request,
    a_source: Target,
    a_call_id: String,
    a_tag: String,
    a_dialog: Option<Dialog>,
    a_chan: Channel,
    a_final_sent: bool,
    a_200: Option<Response>,
    a_acked: bool,
    a_sent_180: bool,
    forks: Vec<Fork>,
    best_failure: Option<u16>,
    b: Option<BLeg>,
    b_chan: Option<Channel>,
    relay: Option<RelayHandle>,
    pending: HashMap<u64, Pending>,
    next_token: u64,
    ended: bool,
    cause: HangupCause,
}

pub fn spawn(
    sw: Arc<Switch>,
    tx: TxId,
    invite: Request,
    source: Target,
    origin: Origin,
    destination: Destination,
    dialled: String,
) -> CallHandle {
    let id = Uuid::new_v4();
    let (me, rx) = mpsc::unbounded_channel();
    let handle = CallHandle { id, tx: me.clone() };
    let a_call_id = message::call_id(&invite.headers).unwrap_or("").to_string();
    sw.calls.insert(a_call_id.clone(), handle.clone());
    sw.metrics.active_calls.fetch_add(1, Relaxed);
    sw.metrics.calls_total.fetch_add(1, Relaxed);
    let direction = Direction::Inbound;
    let a_chan = Channel::create(
        &sw.bus,
        &sw.metrics,
        id,
        &origin.account.id,
        &a_call_id,
        direction,
        &origin.caller,
        &dialled,
    );
    let call = Call {
        sw,
        id,
        me,
        origin,
        destination,
        dialled,
        a_tx: tx,
        a_invite: invite,
        a_source: source,
        a_call_id,
        a_tag: message::random_token(12),
        a_dialog: None,
        a_chan,
        a_final_sent: false,
        a_200: None,
        a_acked: false,
        a_sent_180: false,
        forks: Vec::new(),
        best_failure: None,
        b: None,
        b_chan: None,
        relay: None,
        pending: HashMap::new(),
        next_token: 1,
        ended: false,
        cause: HangupCause::NormalClearing,
    };
    tokio::spawn(call.run(rx));
    handle
}

fn sdp_remote(body: &[u8]) -> Option<(Option<SocketAddr>, Option<SocketAddr>)> {
    let text = std::str::from_utf8(body).ok()?;
    let summary = sdp::parse_media(text).ok()?;
    let audio = summary.audio?;
    let ip: IpAddr = audio.connection.or(summary.connection)?;
    if audio.port == 0 || ip.is_unspecified() {
        return Some((None, None));
    }
    let rtcp = audio.rtcp_port.map(|p| SocketAddr::new(ip, p));
    Some((Some(SocketAddr::new(ip, audio.port)), rtcp))
}

fn is_sdp(headers: &rsip::Headers, body: &[u8]) -> bool {
    !body.is_empty()
        && message::header_value(headers, "Content-Type")
            .map(|c| c.trim().to_ascii_lowercase().starts_with("application/sdp"))
            .unwrap_or(true)
}

impl Call {
    async fn run(mut self, mut rx: mpsc::UnboundedReceiver<CallInput>) {
        self.start();
        let ring_deadline = Instant::now() + self.sw.settings.ring_timeout;
        let mut retx_at: Option<Instant> = None;
        let mut retx_interval = T1;
        let mut ack_deadline: Option<Instant> = None;
        // once ended, wait at most this long for forks that still need a CANCEL
        let mut linger_until: Option<Instant> = None;
        loop {
            if self.ended {
                if self.forks.iter().all(|f| f.done || !f.cancel_pending) {
                    break;
                }
                let l = *linger_until.get_or_insert_with(|| Instant::now() + 64 * T1);
                if Instant::now() >= l {
                    break;
                }
            }
            if self.a_200.is_some()
                && !self.a_acked
                && retx_at.is_none()
                && !self.a_source.kind.is_reliable()
            {
                retx_at = Some(Instant::now() + T1);
                ack_deadline = Some(Instant::now() + 64 * T1);
            }
            if self.a_200.is_some() && !self.a_acked && ack_deadline.is_none() {
                ack_deadline = Some(Instant::now() + 64 * T1);
            }
            let answered = self.b.is_some();
            tokio::select! {
                input = rx.recv() => match input {
                    Some(i) => self.on_input(i),
                    None => break,
                },
                _ = tokio::time::sleep_until(ring_deadline), if !answered && !self.ended => {
                    tracing::info!(call = %self.id, "ring timeout");
                    self.fail_a(HangupCause::NoAnswer);
                },
                _ = sleep_opt(retx_at), if !self.a_acked && retx_at.is_some() => {
                    if let Some(r) = &self.a_200 {
                        self.sw.to_shard(&self.a_call_id, ShardMsg::Stateless { msg: SipMessage::Response(r.clone()), target: self.a_source });
                    }
                    retx_interval = (retx_interval * 2).min(T2);
                    retx_at = Some(Instant::now() + retx_interval);
                },
                _ = sleep_opt(ack_deadline), if !self.a_acked && ack_deadline.is_some() && !self.ended => {
                    tracing::warn!(call = %self.id, "caller never acknowledged the 200 OK; hanging up");
                    self.hangup_both(HangupCause::RecoveryOnTimerExpire);
                },
                _ = sleep_opt(linger_until), if linger_until.is_some() => {},
            }
            if self.a_acked {
                retx_at = None;
                ack_deadline = None;
            }
        }
        self.cleanup();
    }

    fn token(&mut self) -> u64 {
        let t = self.next_token;
        self.next_token += 1;
        t
    }

    fn via(&self, kind: TransportKind) -> String {
        format!(
            "SIP/2.0/{} {};branch={};rport",
            kind.via_token(),
            self.sw.local_host_port(kind),
            new_branch()
        )
    }

    fn contact(&self, kind: TransportKind) -> String {
        match kind {
            TransportKind::Udp => format!("<sip:switchyard@{}>", self.sw.local_host_port(kind)),
            k => format!(
                "<sip:switchyard@{};transport={}>",
                self.sw.local_host_port(k),
                k.uri_param()
            ),
        }
    }

    fn public_ip(&self) -> IpAddr {
        self.sw.transports.local.public_ip
    }

    fn respond_a(&mut self, mut resp: Response) {
        let code = resp.status_code.code();
        if code >= 200 {
            if self.a_final_sent {
                return;
            }
            self.a_final_sent = true;
        }
        if code > 100 && code < 300 {
            resp.headers
                .push(Header::Contact(rsip::headers::Contact::from(
                    self.contact(self.a_source.kind),
                )));
        }
        if code >= 200 && code < 300 {
            self.a_200 = Some(resp.clone());
        }
        self.sw.to_shard(
            &self.a_call_id,
            ShardMsg::Respond {
                tx: self.a_tx,
                resp,
            },
        );
    }

    fn start(&mut self) {
        let trying = message::response(&self.a_invite, 100, "Trying", None);
        self.sw.to_shard(
            &self.a_call_id,
            ShardMsg::Respond {
                tx: self.a_tx,
                resp: trying,
            },
        );
        let targets: Vec<(String, String, Target)> = match self.destination.clone() {
            Destination::Nowhere(cause) => return self.fail_a(cause),
            Destination::Extension { number } => {
                let bindings =
                    self.sw
                        .registrations
                        .lookup(&self.origin.account.id, &number, now_ms());
                if bindings.is_empty() {
                    return self.fail_a(HangupCause::UserNotRegistered);
                }
                let to = format!("<sip:{}@{}>", number, self.origin.account.sip_domain);
                bindings
                    .into_iter()
                    .map(|b| (b.uri, to.clone(), b.source))
                    .collect()
            }
            Destination::Trunk { trunk, number } => {
                let addr = match resolve(&trunk.host, trunk.port) {
                    Some(a) => a,
                    None => return self.fail_a(HangupCause::NetworkOutOfOrder),
                };
                let kind = match trunk.transport {
                    crate::store::TrunkTransport::Tcp => TransportKind::Tcp,
                    _ => TransportKind::Udp,
                };
                let uri = format!("sip:{}@{}:{}", number, trunk.host, trunk.port);
                vec![(
                    uri.clone(),
                    format!("<{uri}>"),
                    Target {
                        kind,
                        addr,
                        conn: None,
                    },
                )]
            }
        };
        // media anchoring: one port pair for each side
        let (pa, pb) = match (self.sw.ports.allocate(), self.sw.ports.allocate()) {
            (Ok(a), Ok(b)) => (a, b),
            _ => {
                tracing::error!(call = %self.id, "RTP ports exhausted");
                let r = message::response(
                    &self.a_invite,
                    503,
                    "Service Unavailable - No Media Ports",
                    Some(&self.a_tag),
                );
                self.respond_a(r);
                return self.finish(HangupCause::NetworkOutOfOrder);
            }
        };
        let relay = relay::spawn(pa, pb, self.sw.metrics.clone());
        let offer = if is_sdp(&self.a_invite.headers, &self.a_invite.body) {
            if let Some((rtp, rtcp)) = sdp_remote(&self.a_invite.body) {
                relay.set_remote(Side::A, rtp, rtcp);
            }
            match std::str::from_utf8(&self.a_invite.body)
                .ok()
                .and_then(|s| sdp::rewrite_for_relay(s, self.public_ip(), relay.b_port, None).ok())
            {
                Some(s) => Some(s.into_bytes()),
                None => {
                    let r = message::response(
                        &self.a_invite,
                        488,
                        "Not Acceptable Here - Unreadable SDP",
                        Some(&self.a_tag),
                    );
                    self.respond_a(r);
                    self.relay = Some(relay);
                    return self.finish(HangupCause::CallRejected);
                }
            }
        } else {
            None
        };
        self.relay = Some(relay);
        let b_chan = Channel::create(
            &self.sw.bus,
            &self.sw.metrics,
            self.id,
            &self.origin.account.id,
            "",
            Direction::Outbound,
            &self.origin.caller,
            &self.dialled,
        );
        self.b_chan = Some(b_chan);
        for (uri, to, target) in targets {
            let token = self.token();
            let call_id = format!("{}@switchyard", message::random_token(20));
            let invite = self.build_invite(&uri, &to, &call_id, target, offer.clone());
            self.sw.calls.insert(
                call_id.clone(),
                CallHandle {
                    id: self.id,
                    tx: self.me.clone(),
                },
            );
            self.sw.to_shard(
                &call_id,
                ShardMsg::Request {
                    req: invite.clone(),
                    target,
                    owner: self.me.clone(),
                    token,
                },
            );
            self.forks.push(Fork {
                token,
                call_id,
                invite,
                target,
                provisional: false,
                cancel_pending: false,
                done: false,
                auth_tried: false,
            });
        }
    }

    fn build_invite(
        &self,
        uri: &str,
        to: &str,
        call_id: &str,
        target: Target,
        body: Option<Vec<u8>>,
    ) -> Request {
        let mut h = rsip::Headers::default();
        h.push(Header::Via(rsip::headers::Via::from(self.via(target.kind))));
        let mf = message::header_value(&self.a_invite.headers, "Max-Forwards")
            .and_then(|v| v.trim().parse::<u32>().ok())
            .map(|v| v.saturating_sub(1).min(70))
            .unwrap_or(70);
        h.push(Header::MaxForwards(rsip::headers::MaxForwards::from(
            mf.to_string(),
        )));
        let from = match &self.destination {
            Destination::Trunk { trunk, .. } => {
                let cid = self
                    .origin
                    .external_caller_id
                    .clone()
                    .or(trunk.caller_id.clone())
                    .unwrap_or(self.origin.caller.clone());
                format!("<sip:{}@{}>", cid, self.sw.local_host_port(target.kind))
            }
            _ => match &self.origin.display_name {
                Some(d) => format!(
                    "\"{}\" <sip:{}@{}>",
                    d.replace('"', ""),
                    self.origin.caller,
                    self.origin.account.sip_domain
                ),
                None => format!(
                    "<sip:{}@{}>",
                    self.origin.caller, self.origin.account.sip_domain
                ),
            },
        };
        h.push(Header::From(rsip::headers::From::from(format!(
            "{from};tag={}",
            message::random_token(12)
        ))));
        h.push(Header::To(rsip::headers::To::from(to.to_string())));
        h.push(Header::CallId(rsip::headers::CallId::from(
            call_id.to_string(),
        )));
        h.push(Header::CSeq(rsip::headers::CSeq::from("1 INVITE")));
        h.push(Header::Contact(rsip::headers::Contact::from(
            self.contact(target.kind),
        )));
        h.push(Header::Allow(rsip::headers::Allow::from(message::ALLOW)));
        h.push(Header::UserAgent(rsip::headers::UserAgent::from(
            "Switchyard",
        )));
        let mut req = Request {
            method: rsip::Method::Invite,
            uri: rsip::Uri::try_from(uri).unwrap_or_default(),
            version: rsip::Version::V2,
            headers: h,
            body: Vec::new(),
        };
        match body {
            Some(b) => {
                message::set_body(&mut req.headers, &mut req.body, b, Some("application/sdp"))
            }
            None => message::set_body(&mut req.headers, &mut req.body, Vec::new(), None),
        }
        req
    }

    fn on_input(&mut self, input: CallInput) {
        match input {
            CallInput::Response { token, resp } => {
                if let Some(i) = self.forks.iter().position(|f| f.token == token) {
                    self.on_fork_response(i, resp);
                } else if let Some(p) = self.pending.remove(&token) {
                    self.on_forwarded_response(p, resp, token);
                }
            }
            CallInput::Timeout { token } => {
                if token == A_LEG_TOKEN || token == IGNORED {
                    return;
                }
                if let Some(i) = self.forks.iter().position(|f| f.token == token) {
                    self.fork_failed(i, 408);
                } else if let Some(p) = self.pending.remove(&token) {
                    let r = message::response(&p.req, 408, "Request Timeout", None);
                    self.sw.to_shard(
                        message::call_id(&p.req.headers).unwrap_or(""),
                        ShardMsg::Respond { tx: p.tx, resp: r },
                    );
                }
            }
            CallInput::Cancel { tx, req } => {
                let ok = message::response(&req, 200, "OK", Some(&self.a_tag));
                self.sw
                    .to_shard(&self.a_call_id, ShardMsg::Respond { tx, resp: ok });
                if !self.a_final_sent {
                    self.fail_a(HangupCause::OriginatorCancel);
                }
            }
            CallInput::Ack { req } => self.on_ack(req),
            CallInput::Request { tx, req, source } => self.on_dialog_request(tx, req, source),
            CallInput::Hangup => {
                if self.b.is_some() {
                    self.hangup_both(HangupCause::NormalClearing)
                } else {
                    self.fail_a(HangupCause::CallRejected)
                }
            }
        }
    }

    fn on_fork_response(&mut self, i: usize, resp: Response) {
        let code = resp.status_code.code();
        match code {
            100 => {}
            101..=199 => {
                self.forks[i].provisional = true;
                if self.forks[i].cancel_pending {
                    self.send_cancel(i);
                    return;
                }
                if self.b.is_some() || self.a_final_sent {
                    return;
                }
                self.a_chan.ringing();
                if let Some(c) = self.b_chan.as_mut() {
                    c.ringing();
                }
                let mut r =
                    message::response(&self.a_invite, code, &reason(&resp), Some(&self.a_tag));
                if is_sdp(&resp.headers, &resp.body) {
                    // early media: anchor it like the answer
                    if let Some(body) = self.rewrite_from_b(&resp.body) {
                        message::set_body(
                            &mut r.headers,
                            &mut r.body,
                            body,
                            Some("application/sdp"),
                        );
                        self.respond_a(r);
                    }
                } else if !self.a_sent_180 {
                    self.a_sent_180 = true;
                    self.respond_a(r);
                }
            }
            200..=299 => self.on_fork_answer(i, resp),
            401 | 407 if !self.forks[i].auth_tried => {
                if !self.retry_with_credentials(i, &resp) {
                    self.fork_failed(i, code);
                }
            }
            _ => self.fork_failed(i, code),
        }
    }

    /// Rewrites an SDP body from the B side for the caller and points the relay at B.
    fn rewrite_from_b(&mut self, body: &[u8]) -> Option<Vec<u8>> {
        let relay = self.relay.as_ref()?;
        if let Some((rtp, rtcp)) = sdp_remote(body) {
            relay.set_remote(Side::B, rtp, rtcp);
        }
        let s = std::str::from_utf8(body).ok()?;
        sdp::rewrite_for_relay(s, self.public_ip(), relay.a_port, None)
            .ok()
            .map(String::into_bytes)
    }

    /// Rewrites an SDP body from the caller for the B side and points the relay at A.
    fn rewrite_from_a(&mut self, body: &[u8]) -> Option<Vec<u8>> {
        let relay = self.relay.as_ref()?;
        if let Some((rtp, rtcp)) = sdp_remote(body) {
            relay.set_remote(Side::A, rtp, rtcp);
        }
        let s = std::str::from_utf8(body).ok()?;
        sdp::rewrite_for_relay(s, self.public_ip(), relay.b_port, None)
            .ok()
            .map(String::into_bytes)
    }

    fn on_fork_answer(&mut self, i: usize, resp: Response) {
        let fork_cseq = message::cseq(&self.forks[i].invite.headers)
            .map(|c| c.0)
            .unwrap_or(1);
        let Some(mut dialog) = Dialog::uac(&self.forks[i].invite, &resp) else {
            tracing::warn!(call = %self.id, "2xx without a usable To tag; ignoring");
            return;
        };
        let target = self.forks[i].target;
        self.forks[i].done = true;
        let late_offer = self.a_invite.body.is_empty();
        if self.b.is_some() || self.ended || self.a_final_sent {
            // lost the race (or the call is over): acknowledge and release it
            let ack = dialog.request(
                rsip::Method::Ack,
                self.via(target.kind),
                None,
                Some(fork_cseq),
            );
            self.send_stateless(&dialog.call_id.clone(), SipMessage::Request(ack), target);
            let bye = dialog.request(rsip::Method::Bye, self.via(target.kind), None, None);
            self.sw.to_shard(
                &dialog.call_id.clone(),
                ShardMsg::Request {
                    req: bye,
                    target,
                    owner: self.me.clone(),
                    token: IGNORED,
                },
            );
            return;
        }
        // the caller's 200 carries B's SDP, rewritten to our A-side port
        let mut ok = message::response(&self.a_invite, 200, "OK", Some(&self.a_tag));
        if is_sdp(&resp.headers, &resp.body) {
            match self.rewrite_from_b(&resp.body) {
                Some(body) => {
                    message::set_body(&mut ok.headers, &mut ok.body, body, Some("application/sdp"))
                }
                None => tracing::warn!(call = %self.id, "unreadable SDP in 200 OK from callee"),
            }
        }
        let mut ack_pending = Some(fork_cseq);
        if !late_offer {
            let ack = dialog.request(
                rsip::Method::Ack,
                self.via(target.kind),
                None,
                Some(fork_cseq),
            );
            self.send_stateless(&dialog.call_id.clone(), SipMessage::Request(ack), target);
            ack_pending = None;
        }
        self.b = Some(BLeg {
            dialog,
            target,
            ack_pending,
        });
        self.a_dialog = Dialog::uas(&self.a_invite, &self.a_tag);
        self.respond_a(ok);
        for j in 0..self.forks.len() {
            if j != i && !self.forks[j].done {
                self.cancel_fork(j);
            }
        }
        let bus = self.sw.bus.clone();
        let b_id = self.b_chan.as_ref().map(|c| c.id());
        if let Some(c) = self.b_chan.as_mut() {
            c.info.sip_call_id = self.forks[i].call_id.clone();
            c.answer(&bus);
        }
        self.a_chan.answer(&bus);
        if let Some(b_id) = b_id {
            self.a_chan.bridge(&bus, b_id);
            let a_id = self.a_chan.id();
            if let Some(c) = self.b_chan.as_mut() {
                c.bridge(&bus, a_id);
            }
        }
    }

    fn retry_with_credentials(&mut self, i: usize, resp: &Response) -> bool {
        let Destination::Trunk { trunk, .. } = &self.destination else {
            return false;
        };
        let (Some(user), Some(pass)) = (trunk.username.clone(), trunk.password.clone()) else {
            return false;
        };
        let code = resp.status_code.code();
        let (chal_name, auth_name) = if code == 401 {
            ("WWW-Authenticate", "Authorization")
        } else {
            ("Proxy-Authenticate", "Proxy-Authorization")
        };
        let Some(challenge) = message::header_value(&resp.headers, chal_name) else {
            return false;
        };
        let via = self.via(self.forks[i].target.kind);
        let fork = &mut self.forks[i];
        fork.auth_tried = true;
        let uri = fork.invite.uri.to_string();
        let Some(value) =
            crate::sip::auth::client_authorization(challenge, &user, &pass, "INVITE", &uri)
        else {
            return false;
        };
        let mut invite = fork.invite.clone();
        let cseq = message::cseq(&invite.headers).map(|c| c.0).unwrap_or(1) + 1;
        invite
            .headers
            .retain(|h| !matches!(h, Header::Via(_) | Header::CSeq(_)));
        let mut headers = rsip::Headers::default();
        headers.push(Header::Via(rsip::headers::Via::from(via)));
        for h in invite.headers.iter() {
            headers.push(h.clone());
        }
        headers.push(Header::CSeq(rsip::headers::CSeq::from(format!(
            "{cseq} INVITE"
        ))));
        headers.push(Header::Other(auth_name.into(), value));
        invite.headers = headers;
        let fork = &mut self.forks[i];
        fork.invite = invite.clone();
        fork.provisional = false;
        let (cid, target, token) = (fork.call_id.clone(), fork.target, fork.token);
        self.sw.to_shard(
            &cid,
            ShardMsg::Request {
                req: invite,
                target,
                owner: self.me.clone(),
                token,
            },
        );
        true
    }

    fn fork_failed(&mut self, i: usize, code: u16) {
        if self.forks[i].done {
            return;
        }
        self.forks[i].done = true;
        self.forks[i].cancel_pending = false;
        // RFC 3261 §16.7-ish choice: 6xx wins, then busy, then the lowest class
        self.best_failure = Some(match self.best_failure {
            None => code,
            Some(b) if b >= 600 => b,
            Some(_) if code >= 600 => code,
            Some(486) => 486,
            Some(_) if code == 486 => 486,
            Some(b) => b.min(code),
        });
        if self.b.is_none() && !self.a_final_sent && self.forks.iter().all(|f| f.done) {
            let best = self.best_failure.unwrap_or(480);
            let cause = HangupCause::from_sip_status(best);
            let (code, reason) = if best == 408 {
                (480, "Temporarily Unavailable")
            } else {
                (best, cause.sip_status().1)
            };
            let r = message::response(&self.a_invite, code, reason, Some(&self.a_tag));
            self.respond_a(r);
            self.finish(cause);
        }
    }

    fn cancel_fork(&mut self, i: usize) {
        if self.forks[i].done {
            return;
        }
        if self.forks[i].provisional {
            self.send_cancel(i);
        } else {
            self.forks[i].cancel_pending = true;
        }
    }

    fn send_cancel(&mut self, i: usize) {
        let f = &mut self.forks[i];
        f.cancel_pending = false;
        let inv = &f.invite;
        let mut h = rsip::Headers::default();
        for hdr in inv.headers.iter() {
            match hdr {
                Header::Via(_)
                | Header::From(_)
                | Header::To(_)
                | Header::CallId(_)
                | Header::Route(_)
                | Header::MaxForwards(_) => h.push(hdr.clone()),
                _ => {}
            }
        }
        let seq = message::cseq(&inv.headers).map(|c| c.0).unwrap_or(1);
        h.push(Header::CSeq(rsip::headers::CSeq::from(format!(
            "{seq} CANCEL"
        ))));
        h.push(Header::ContentLength(rsip::headers::ContentLength::from(
            "0",
        )));
        let cancel = Request {
            method: rsip::Method::Cancel,
            uri: inv.uri.clone(),
            version: rsip::Version::V2,
            headers: h,
            body: Vec::new(),
        };
        let (cid, target) = (f.call_id.clone(), f.target);
        self.sw.to_shard(
            &cid,
            ShardMsg::Request {
                req: cancel,
                target,
                owner: self.me.clone(),
                token: IGNORED,
            },
        );
    }

    /// Ends an unanswered call: cancel forks, answer the caller with the cause's status.
    fn fail_a(&mut self, cause: HangupCause) {
        for j in 0..self.forks.len() {
            self.cancel_fork(j);
        }
        if !self.a_final_sent {
            let (code, reason) = cause.sip_status();
            let r = message::response(&self.a_invite, code, reason, Some(&self.a_tag));
            self.respond_a(r);
        }
        self.finish(cause);
    }

    fn send_stateless(&self, call_id: &str, msg: SipMessage, target: Target) {
        self.sw
            .to_shard(call_id, ShardMsg::Stateless { msg, target });
    }

    fn send_bye_a(&mut self) {
        let kind = self.a_source.kind;
        let via = self.via(kind);
        if let Some(d) = self.a_dialog.as_mut() {
            let bye = d.request(rsip::Method::Bye, via, None, None);
            self.sw.to_shard(
                &self.a_call_id,
                ShardMsg::Request {
                    req: bye,
                    target: self.a_source,
                    owner: self.me.clone(),
                    token: IGNORED,
                },
            );
        }
    }

    fn send_bye_b(&mut self) {
        let Some(b) = self.b.as_mut() else { return };
        let via = format!(
            "SIP/2.0/{} {};branch={};rport",
            b.target.kind.via_token(),
            self.sw.local_host_port(b.target.kind),
            new_branch()
        );
        let bye = b.dialog.request(rsip::Method::Bye, via, None, None);
        let (cid, target) = (b.dialog.call_id.clone(), b.target);
        self.sw.to_shard(
            &cid,
            ShardMsg::Request {
                req: bye,
                target,
                owner: self.me.clone(),
                token: IGNORED,
            },
        );
    }

    fn hangup_both(&mut self, cause: HangupCause) {
        self.send_bye_a();
        self.send_bye_b();
        self.finish(cause);
    }

    fn on_ack(&mut self, req: Request) {
        let cid = message::call_id(&req.headers).unwrap_or("");
        if cid != self.a_call_id {
            return;
        }
        let a_cseq = message::cseq(&self.a_invite.headers).map(|c| c.0);
        if message::cseq(&req.headers).map(|c| c.0) == a_cseq && !self.a_acked {
            self.a_acked = true;
            // late offer: the caller's answer travels in its ACK, forward it to B in ours
            let body = if is_sdp(&req.headers, &req.body) {
                self.rewrite_from_a(&req.body)
            } else {
                None
            };
            let Some(b) = self.b.as_mut() else { return };
            if let Some(seq) = b.ack_pending.take() {
                let via = format!(
                    "SIP/2.0/{} {};branch={};rport",
                    b.target.kind.via_token(),
                    self.sw.local_host_port(b.target.kind),
                    new_branch()
                );
                let mut ack = b.dialog.request(rsip::Method::Ack, via, None, Some(seq));
                if let Some(body) = body {
                    message::set_body(
                        &mut ack.headers,
                        &mut ack.body,
                        body,
                        Some("application/sdp"),
                    );
                }
                let (cid, target) = (b.dialog.call_id.clone(), b.target);
                self.send_stateless(&cid, SipMessage::Request(ack), target);
            }
        }
    }

    fn on_dialog_request(&mut self, tx: TxId, req: Request, _source: Target) {
        let cid = message::call_id(&req.headers).unwrap_or("").to_string();
        let from_side = if cid == self.a_call_id {
            Side::A
        } else if self.b.as_ref().is_some_and(|b| b.dialog.call_id == cid) {
            Side::B
        } else {
            // a losing fork or a leg that is gone
            let r = message::response(&req, 481, "Call/Transaction Does Not Exist", None);
            return self.sw.to_shard(&cid, ShardMsg::Respond { tx, resp: r });
        };
        let answer = |sw: &Switch, code: u16, reason: &str| {
            let r = message::response(&req, code, reason, None);
            sw.to_shard(&cid, ShardMsg::Respond { tx, resp: r });
        };
        if self.b.is_none() || self.a_dialog.is_none() {
            // in-dialog request before the call is bridged (e.g. BYE on an early dialog)
            if req.method == rsip::Method::Bye && from_side == Side::A {
                answer(&self.sw, 200, "OK");
                return self.fail_a(HangupCause::OriginatorCancel);
            }
            return answer(&self.sw, 481, "Call/Transaction Does Not Exist");
        }
        let seq = message::cseq(&req.headers).map(|c| c.0).unwrap_or(0);
        let dialog_ok = match from_side {
            Side::A => self.a_dialog.as_mut().map(|d| d.accept_remote_seq(seq)),
            Side::B => self.b.as_mut().map(|b| b.dialog.accept_remote_seq(seq)),
        };
        if dialog_ok == Some(false) {
            return answer(&self.sw, 500, "Server Internal Error - CSeq Out Of Order");
        }
        if req.method == rsip::Method::Bye {
            answer(&self.sw, 200, "OK");
            match from_side {
                Side::A => self.send_bye_b(),
                Side::B => self.send_bye_a(),
            }
            return self.finish(HangupCause::NormalClearing);
        }
        if req.method == rsip::Method::Invite
            && self
                .pending
                .values()
                .any(|p| p.req.method == rsip::Method::Invite)
        {
            return answer(&self.sw, 491, "Request Pending");
        }
        // forward to the other leg (re-INVITE for hold/unhold, UPDATE, INFO, …)
        let body = if is_sdp(&req.headers, &req.body) {
            match from_side {
                Side::A => self.rewrite_from_a(&req.body),
                Side::B => self.rewrite_from_b(&req.body),
            }
        } else if req.body.is_empty() {
            None
        } else {
            Some(req.body.clone())
        };
        let ctype = message::header_value(&req.headers, "Content-Type").map(str::to_string);
        let (mut out, cid_out, target) = match from_side {
            Side::A => {
                let Some(b) = self.b.as_mut() else { return };
                let via = format!(
                    "SIP/2.0/{} {};branch={};rport",
                    b.target.kind.via_token(),
                    self.sw.local_host_port(b.target.kind),
                    new_branch()
                );
                let contact = format!(
                    "<sip:switchyard@{}>",
                    self.sw.local_host_port(b.target.kind)
                );
                let contact = (req.method == rsip::Method::Invite
                    || req.method == rsip::Method::Update)
                    .then_some(contact);
                (
                    b.dialog.request(req.method, via, contact.as_deref(), None),
                    b.dialog.call_id.clone(),
                    b.target,
                )
            }
            Side::B => {
                let kind = self.a_source.kind;
                let via = self.via(kind);
                let contact = (req.method == rsip::Method::Invite
                    || req.method == rsip::Method::Update)
                    .then(|| self.contact(kind));
                let Some(d) = self.a_dialog.as_mut() else {
                    return;
                };
                (
                    d.request(req.method, via, contact.as_deref(), None),
                    self.a_call_id.clone(),
                    self.a_source,
                )
            }
        };
        // end-to-end headers travel with the request (Refer-To, Event, Session-Expires, …);
        // hop-by-hop and dialog headers are the new leg's own
        for h in req.headers.iter().filter(|h| is_end_to_end(h)) {
            out.headers.push(h.clone());
        }
        if let Some(b) = body {
            message::set_body(&mut out.headers, &mut out.body, b, ctype.as_deref());
        }
        let out_seq = message::cseq(&out.headers).map(|c| c.0).unwrap_or(0);
        let token = self.token();
        self.pending.insert(
            token,
            Pending {
                tx,
                req,
                from: from_side,
                cseq: out_seq,
            },
        );
        self.sw.to_shard(
            &cid_out,
            ShardMsg::Request {
                req: out,
                target,
                owner: self.me.clone(),
                token,
            },
        );
    }

    fn on_forwarded_response(&mut self, p: Pending, resp: Response, token: u64) {
        let code = resp.status_code.code();
        if code < 200 {
            self.pending.insert(token, p);
            return;
        }
        // our side of the forwarded INVITE: ACK its 2xx ourselves
        if p.req.method == rsip::Method::Invite && (200..300).contains(&code) {
            let (dialog, target, cid) = match p.from {
                Side::A => match self.b.as_mut() {
                    Some(b) => {
                        let cid = b.dialog.call_id.clone();
                        (&mut b.dialog, b.target, cid)
                    }
                    None => return,
                },
                Side::B => match self.a_dialog.as_mut() {
                    Some(d) => (d, self.a_source, self.a_call_id.clone()),
                    None => return,
                },
            };
            let via = format!(
                "SIP/2.0/{} {};branch={};rport",
                target.kind.via_token(),
                self.sw.local_host_port(target.kind),
                new_branch()
            );
            let ack = dialog.request(rsip::Method::Ack, via, None, Some(p.cseq));
            self.send_stateless(&cid, SipMessage::Request(ack), target);
        }
        let local_tag = match p.from {
            Side::A => self.a_tag.clone(),
            Side::B => self
                .b
                .as_ref()
                .map(|b| b.dialog.local_tag.clone())
                .unwrap_or_default(),
        };
        let mut r = message::response(&p.req, code, &reason(&resp), Some(&local_tag));
        if is_sdp(&resp.headers, &resp.body) {
            let body = match p.from {
                Side::A => self.rewrite_from_b(&resp.body),
                Side::B => self.rewrite_from_a(&resp.body),
            };
            if let Some(b) = body {
                message::set_body(&mut r.headers, &mut r.body, b, Some("application/sdp"));
            }
        }
        if (200..300).contains(&code) && p.req.method == rsip::Method::Invite {
            let kind = match p.from {
                Side::A => self.a_source.kind,
                Side::B => self
                    .b
                    .as_ref()
                    .map(|b| b.target.kind)
                    .unwrap_or(TransportKind::Udp),
            };
            r.headers.push(Header::Contact(rsip::headers::Contact::from(
                self.contact(kind),
            )));
        }
        let cid = message::call_id(&p.req.headers).unwrap_or("").to_string();
        self.sw
            .to_shard(&cid, ShardMsg::Respond { tx: p.tx, resp: r });
    }

    fn finish(&mut self, cause: HangupCause) {
        if self.ended {
            return;
        }
        self.ended = true;
        self.cause = cause;
    }

    fn cleanup(mut self) {
        if !self.ended {
            self.finish(HangupCause::NormalClearing);
        }
        let cause = self.cause;
        self.relay = None;
        let (duration, billsec) = self.a_chan.destroy(&self.sw.bus, &self.sw.metrics, cause);
        let b_leg = self.b_chan.as_ref().map(|c| c.id().to_string());
        if let Some(c) = self.b_chan.as_mut() {
            c.destroy(&self.sw.bus, &self.sw.metrics, cause);
        }
        self.sw.calls.remove(&self.a_call_id);
        for f in &self.forks {
            self.sw.calls.remove(&f.call_id);
        }
        self.sw.metrics.active_calls.fetch_sub(1, Relaxed);
        let ended = now_ms();
        let direction = if self.origin.from_trunk {
            CdrDirection::Inbound
        } else if matches!(self.destination, Destination::Trunk { .. }) {
            CdrDirection::Outbound
        } else {
            CdrDirection::Internal
        };
        cdr::write(
            &self.sw.store,
            Cdr {
                id: self.id.to_string(),
                call_id: self.a_call_id.clone(),
                account_id: self.origin.account.id.clone(),
                caller: self.origin.caller.clone(),
                callee: self.dialled.clone(),
                direction,
                started_at: self.a_chan.created_ms,
                answered_at: self.a_chan.answered_ms,
                ended_at: ended,
                duration_ms: duration,
                billsec_ms: billsec,
                hangup_cause: serde_json::to_value(cause)
                    .ok()
                    .and_then(|v| v.as_str().map(str::to_string))
                    .unwrap_or_default(),
                a_leg: self.a_chan.id().to_string(),
                b_leg,
            },
        );
        tracing::info!(call = %self.id, ?cause, duration_ms = duration, "call ended");
    }
}

/// Headers copied from a forwarded in-dialog request to the other leg: everything but
/// what identifies, routes, authenticates or frames the message on its own leg.
fn is_end_to_end(h: &Header) -> bool {
    match h {
        Header::Via(_)
        | Header::From(_)
        | Header::To(_)
        | Header::CallId(_)
        | Header::CSeq(_)
        | Header::Contact(_)
        | Header::Route(_)
        | Header::RecordRoute(_)
        | Header::MaxForwards(_)
        | Header::ContentLength(_)
        | Header::ContentType(_)
        | Header::Authorization(_)
        | Header::ProxyAuthorization(_)
        | Header::UserAgent(_)
        | Header::Server(_) => false,
        Header::Other(name, _) => !name.eq_ignore_ascii_case("Max-Breadth"),
        _ => true,
    }
}

fn reason(resp: &Response) -> String {
    match &resp.status_code {
        rsip::StatusCode::Other(_, r) => r.clone(),
        other => {
            // rsip prints well-known codes as "486 BusyHere"; turn the name back into words
            let s = other.to_string();
            let name = s.split_once(' ').map(|x| x.1).unwrap_or("");
            let mut out = String::new();
            for (i, ch) in name.chars().enumerate() {
                if i > 0 && ch.is_ascii_uppercase() {
                    out.push(' ');
                }
                out.push(ch);
            }
            out
        }
    }
}

async fn sleep_opt(at: Option<Instant>) {
    match at {
        Some(t) => tokio::time::sleep_until(t).await,
        None => std::future::pending().await,
    }
}

fn resolve(host: &str, port: u16) -> Option<SocketAddr> {
    if let Ok(ip) = host.parse::<IpAddr>() {
        return Some(SocketAddr::new(ip, port));
    }
    use std::net::ToSocketAddrs;
    (host, port).to_socket_addrs().ok()?.next()
}
