//! The back-to-back user agent: one task per call. It answers the caller's INVITE
//! (A leg), rings every contact of the callee in parallel (B-leg forks, each its
//! own dialog and Call-ID), bridges the first to answer and cancels the rest, and
//! relays provisional responses, re-INVITEs/UPDATE/INFO and BYE between the two
//! dialogs, with SDP rewritten so RTP flows through the switch's relay.
//! Split: this file holds the call's state, its task loop and its lifecycle;
//! `spawn` a call's construction (from an INVITE, or placed by the switch);
//! `legs` opening the caller's media and each dial round's B leg; `originate`
//! a call the switch places (its first leg dialled, not answered); `forks` the
//! B-leg INVITEs and their responses; `dialog` what happens inside the two
//! established dialogs; `flow` a callflow's commands; `app` and `media` the
//! switch as media endpoint and the session's reports.

mod app;
mod browser;
mod commands;
mod dialog;
mod extra;
mod flow;
mod forks;
mod legs;
mod media;
mod originate;
mod queue;
mod report;
mod spawn;
#[cfg(test)]
mod tests;
#[cfg(test)]
mod tests_commands;

pub use flow::greeting_path;
pub use originate::{
    originate, originate_outside, ClickToCall, Originate, OriginateError, OutsideCall,
};
pub use spawn::spawn;
pub(super) use spawn::{spawn_call, Start};

use crate::ids::CallId;
use rsip::{Header, Request, Response, SipMessage};
use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::sync::atomic::Ordering::Relaxed;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::mpsc;
use tokio::time::Instant;

use super::channel::{leg_info, Channel};
use super::plan::{Destination, Origin};
use super::{new_branch, CallHandle, CallInput, CallSender, A_LEG_TOKEN};
use crate::events::{now_ms, ChannelInfo, Direction, HangupCause};
use crate::ids::LegId;
use crate::media::session::{self, negotiate, SessionEvent, SessionHandle};
use crate::sdp;
use crate::sip::dialog::Dialog;
use crate::sip::message;
use crate::sip::target::{Target, TransportKind};
use crate::sip::transaction::TxId;
use crate::store::{Cdr, CdrDirection};
use crate::switch::{ShardMsg, Switch};

const T1: Duration = Duration::from_millis(500);
const T2: Duration = Duration::from_secs(4);
/// Token for CANCEL and BYE transactions whose outcome does not matter.
const IGNORED: u64 = u64::MAX;

/// The two legs a B2BUA call bridges: the caller's (A) and the answering callee's (B).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Side {
    A,
    B,
}

struct Fork {
    token: u64,
    call_id: String,
    invite: Request,
    target: Target,
    provisional: bool,
    cancel_pending: bool,
    done: bool,
    auth_tried: bool,
    /// A fork to a browser: the WebRTC stack its offer came from.
    webrtc: Option<crate::media::webrtc::Shared>,
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
    /// The queue driver (for calls that wait in a queue).
    acd: crate::call::acd::AcdHandle,
    id: CallId,
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
    /// The B leg's id (its channel and media leg), fixed before it is dialled.
    b_leg: LegId,
    a_final_sent: bool,
    a_200: Option<Response>,
    a_acked: bool,
    a_sent_180: bool,
    forks: Vec<Fork>,
    best_failure: Option<u16>,
    b: Option<BLeg>,
    b_chan: Option<Channel>,
    media: Option<SessionHandle>,
    media_events: Option<mpsc::UnboundedReceiver<SessionEvent>>,
    /// The last SDP offer that passed through, and the side that made it.
    last_offer: Option<(Side, crate::sdp::MediaLine)>,
    /// That offer puts the other side on hold.
    offer_holds: bool,
    /// Bumped on every hold change: a music-on-hold load that finishes after the
    /// call was resumed must not start playing.
    hold_generation: Arc<std::sync::atomic::AtomicU64>,
    /// The side hearing our music on hold, if any.
    on_hold: Option<Side>,
    /// Version of the SDP bodies the switch writes itself.
    sdp_session: u64,
    /// The dialplan app running on this call (the switch answered it).
    app: Option<app::AppState>,
    /// An app answered with our offer, waiting for the caller's answer in its ACK.
    app_waiting: Option<crate::store::App>,
    /// The switch answered the caller itself (an app or a callflow node).
    endpoint: bool,
    /// PCM rate of the caller's codec when the switch is its endpoint.
    a_rate: Option<u32>,
    /// The callflow steering this call, and the dial round it started.
    flow: Option<crate::routing::FlowRunner>,
    dialing: Option<flow::Dialing>,
    /// The flow's commands after its answer, waiting for the caller's SDP
    /// answer in the ACK (the caller made no offer).
    flow_deferred: Option<Vec<crate::routing::Command>>,
    /// The runner of the prompt the flow is playing (dropping it stops it).
    prompt: Option<crate::call::app::DoneSender>,
    /// The voicemail message being recorded, if any.
    voicemail: Option<flow::VoicemailTarget>,
    /// Prompt runners report their end here.
    flow_tx: mpsc::UnboundedSender<u64>,
    /// Mailbox lookups report here: (flow id, unheard messages).
    mailbox_tx: mpsc::UnboundedSender<(u64, Vec<(String, String)>)>,
    /// The stay in a queue, if the call waits (or waited) in one.
    queued: Option<queue::Queued>,
    /// The way the call came so far (callflow, IVR choices, ring group,
    /// queue): carried by every channel event from then on.
    route: crate::events::Route,
    /// The queue driver tells the call what to do here.
    queue_tx: mpsc::UnboundedSender<crate::call::acd::QueueNotice>,
    /// Agent commands report here: (flow id, queues changed).
    agent_tx: mpsc::UnboundedSender<(u64, usize)>,
    /// An originated call: the flow its first leg runs once it answers.
    originating: Option<Arc<crate::routing::Callflow>>,
    /// How long the call may go unanswered.
    ring_timeout: std::time::Duration,
    /// The forks ringing are the first leg of an originated call.
    a_forking: bool,
    /// A click-to-call (the voice API's outbound call): what it dials once
    /// the user's extension answers, and whether it is recorded.
    click: Option<originate::ClickToCall>,
    /// Extensions this call keeps busy (the caller's, the answering callee's).
    busy_marks: Vec<String>,
    /// The extension of the B leg that answered, if it was one.
    b_mark: Option<String>,
    /// The extension that answered the call (a callee, a queue agent), for CALL_ENDED.
    answered_by: Option<String>,
    /// Legs dialled by command (supervisors, consultations, third parties).
    extra: Vec<extra::Extra>,
    /// Digit collections running on legs.
    collects: Vec<commands::Collecting>,
    /// Command playbacks by leg: (id, the runner's step channel).
    cmd_plays: HashMap<LegId, (u64, crate::call::app::DoneSender)>,
    next_cmd_play: u64,
    pending: HashMap<u64, Pending>,
    /// The sides that are browsers (WebRTC terminated here).
    browsers: browser::Browsers,
    next_token: u64,
    ended: bool,
    /// `release` ran: resources are gone, the task only lingers for CANCELs.
    released: bool,
    cause: HangupCause,
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
    async fn run(
        mut self,
        mut rx: mpsc::UnboundedReceiver<CallInput>,
        mut flow_rx: mpsc::UnboundedReceiver<u64>,
        mut mailbox_rx: mpsc::UnboundedReceiver<(u64, Vec<(String, String)>)>,
        mut queue_rx: mpsc::UnboundedReceiver<crate::call::acd::QueueNotice>,
        mut agent_rx: mpsc::UnboundedReceiver<(u64, usize)>,
    ) {
        self.start();
        let ring_deadline = Instant::now() + self.ring_timeout;
        let mut retx_at: Option<Instant> = None;
        let mut retx_interval = T1;
        let mut ack_deadline: Option<Instant> = None;
        // once ended, wait at most this long for forks that still need a CANCEL
        let mut linger_until: Option<Instant> = None;
        loop {
            if self.ended {
                // the call's resources end with its last live leg; only forks that
                // still owe a CANCEL keep this task (and no ports) alive a while
                self.release();
                let owes_cancel = |f: &Fork| !f.done && f.cancel_pending;
                if !self
                    .forks
                    .iter()
                    .chain(self.extra.iter().flat_map(|e| e.forks.iter()))
                    .any(owes_cancel)
                {
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
            // a callflow keeps its own time (each node's ring and menu timeouts)
            let answered = self.b.is_some()
                || self.app.is_some()
                || self.app_waiting.is_some()
                || self.flow.is_some();
            let dial_deadline = self.dialing.as_ref().map(|d| d.deadline);
            let flow_deadline = self.flow_deadline();
            let command_deadline = self.command_deadline();
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
                _ = sleep_opt(dial_deadline), if dial_deadline.is_some() && !self.ended => self.dial_timeout(),
                _ = sleep_opt(flow_deadline), if flow_deadline.is_some() && !self.ended => self.flow_timeout(),
                _ = sleep_opt(command_deadline), if command_deadline.is_some() && !self.ended => self.command_timeout(),
                Some(id) = flow_rx.recv() => if id >= commands::CMD_PLAY {
                    self.command_play_over(id)
                } else {
                    self.flow_event(crate::routing::Event::PlayDone { id })
                },
                Some((id, list)) = mailbox_rx.recv() => self.flow_event(crate::routing::Event::Mailbox { id, messages: Some(list) }),
                Some(n) = queue_rx.recv() => self.on_queue_notice(n),
                Some((id, queues)) = agent_rx.recv() => self.flow_event(crate::routing::Event::AgentDone { id, queues }),
                Some(ev) = recv_media(self.media_events.as_mut()) => self.on_media_event(ev),
            }
            if self.a_acked {
                retx_at = None;
                ack_deadline = None;
            }
        }
        self.cleanup();
    }

    /// Fork `i` answered: the extension it rang (if it was one) is on a call now.
    pub(super) fn mark_answered(&mut self, i: usize) {
        let user = message::to_value(&self.forks[i].invite.headers)
            .map(message::uri_part)
            .and_then(message::uri_user)
            .map(str::to_string);
        if let Some(ext) = user {
            let account = &self.origin.account.id;
            if self.sw.directory().extension(account, &ext).is_some() {
                self.sw.mark_busy(account, &ext);
                if !self.a_forking {
                    self.b_mark = Some(ext.clone());
                    self.answered_by = Some(ext.clone());
                    self.report_user_answer(&ext);
                }
                self.busy_marks.push(ext);
            }
        }
    }

    /// The leg id of a side (its channel and its media leg).
    pub(super) fn leg(&self, side: Side) -> LegId {
        match side {
            Side::A => self.a_chan.id(),
            Side::B => self.b_leg,
        }
    }

    /// The side a media leg belongs to.
    pub(super) fn side_of(&self, leg: LegId) -> Option<Side> {
        [Side::A, Side::B].into_iter().find(|s| self.leg(*s) == leg)
    }

    fn token(&mut self) -> u64 {
        let t = self.next_token;
        self.next_token += 1;
        t
    }

    fn via(&self, kind: TransportKind) -> String {
        self.sw.via(kind)
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
        if self.is_browser(Side::A) && is_sdp(&resp.headers, &resp.body) {
            let body = std::mem::take(&mut resp.body);
            let body = self.browser_out(Side::A, body, code >= 200);
            message::set_body(
                &mut resp.headers,
                &mut resp.body,
                body,
                Some("application/sdp"),
            );
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
        if self.originating.is_some() {
            return self.originate();
        }
        self.sw.to_shard(
            &self.a_call_id,
            ShardMsg::Respond {
                tx: self.a_tx,
                resp: trying,
            },
        );
        self.report_start();
        if !self.browser_caller() {
            return;
        }
        let targets: Vec<Contact> = match self.destination.clone() {
            Destination::Nowhere(cause) => return self.fail_a(cause),
            Destination::App(app) => return self.start_app(app),
            Destination::Flow(flow) => return self.start_flow(flow),
            Destination::Extension { number } => {
                let contacts = self.extension_contacts(&number);
                if contacts.is_empty() {
                    return self.fail_a(HangupCause::UserNotRegistered);
                }
                contacts
            }
            Destination::Trunk { trunk, number } => match trunk_contact(&trunk, &number) {
                Some(c) => vec![c],
                None => return self.fail_a(HangupCause::NetworkOutOfOrder),
            },
        };
        if !self.ensure_media() {
            return;
        }
        let Some(offer) = self.open_b_leg(&self.dialled.clone()) else {
            return;
        };
        self.ring(targets, offer);
    }

    fn on_input(&mut self, input: CallInput) {
        match input {
            CallInput::Response { token, resp } => {
                if let Some(i) = self.forks.iter().position(|f| f.token == token) {
                    self.on_fork_response(i, resp);
                } else if let Some(p) = self.pending.remove(&token) {
                    self.on_forwarded_response(p, resp, token);
                } else if let Some((k, i)) = self.extra_fork(token) {
                    self.on_extra_response(k, i, resp);
                }
            }
            CallInput::Timeout { token } => {
                if token == A_LEG_TOKEN || token == IGNORED {
                    return;
                }
                if let Some(i) = self.forks.iter().position(|f| f.token == token) {
                    self.fork_failed(i, 408);
                } else if let Some((k, i)) = self.extra_fork(token) {
                    self.extra_fork_failed(k, i, 408);
                } else if let Some(p) = self.pending.remove(&token) {
                    let r = message::response(&p.req, 408, "Request Timeout", None);
                    self.sw.to_shard(
                        message::call_id(&p.req.headers).unwrap_or(""),
                        ShardMsg::Respond { tx: p.tx, resp: r },
                    );
                }
            }
            CallInput::TransportError { token } => {
                // RFC 3261 §8.1.3.1: a transport failure is a 503 from that destination
                if let Some(i) = self.forks.iter().position(|f| f.token == token) {
                    tracing::info!(call = %self.id, target = %self.forks[i].target.addr, "fork unreachable");
                    self.fork_failed(i, 503);
                } else if let Some((k, i)) = self.extra_fork(token) {
                    self.extra_fork_failed(k, i, 503);
                } else {
                    self.on_input(CallInput::Timeout { token });
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
            CallInput::Command(cmd) => self.on_command(cmd),
            CallInput::Transfer { number, reply } => {
                let _ = reply.send(self.external_transfer(&number));
            }
            CallInput::Hangup => {
                if (self.app.is_some()
                    || self.app_waiting.is_some()
                    || (self.endpoint && self.b.is_none()))
                    && !self.ended
                {
                    self.end_app()
                } else if self.b.is_some() {
                    self.hangup_both(HangupCause::NormalClearing)
                } else {
                    self.fail_a(HangupCause::CallRejected)
                }
            }
        }
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
        self.release();
        for f in self
            .forks
            .iter()
            .chain(self.extra.iter().flat_map(|e| e.forks.iter()))
        {
            self.sw.calls.remove(&f.call_id);
        }
    }

    /// The call is over: media and ports are freed, channels destroyed, the CDR
    /// written and the call no longer counted — at once, even when a fork's
    /// transaction lingers (a stale contact that never answered a CANCEL).
    fn release(&mut self) {
        if self.released {
            return;
        }
        self.released = true;
        // the extensions are free before the queue hears the call is over
        for ext in std::mem::take(&mut self.busy_marks) {
            self.sw.unmark_busy(&self.origin.account.id, &ext);
        }
        self.queue_call_over();
        let cause = self.cause;
        self.end_extras(cause);
        let legs: Vec<LegId> = self.collects.iter().map(|c| c.leg_id()).collect();
        for leg in legs {
            self.collect_over(leg);
        }
        self.cmd_plays.clear();
        if let Some(m) = self.media.as_ref() {
            self.a_chan.rtp = m.figures(self.a_chan.id());
            if let Some(c) = self.b_chan.as_mut() {
                c.rtp = m.figures(self.b_leg);
            }
        }
        self.media = None;
        self.drain_media_events();
        let (duration, billsec) = self.a_chan.destroy(&self.sw.bus, &self.sw.metrics, cause);
        let b_leg = self.b_chan.as_ref().map(|c| c.id().to_string());
        if let Some(c) = self.b_chan.as_mut() {
            c.destroy(&self.sw.bus, &self.sw.metrics, cause);
        }
        self.sw.calls.remove(&self.a_call_id);
        self.sw.calls_by_id.remove(&self.id);
        for f in self.forks.iter().filter(|f| f.done || !f.cancel_pending) {
            self.sw.calls.remove(&f.call_id);
        }
        self.sw.metrics.active_calls.fetch_sub(1, Relaxed);
        let ended = now_ms();
        let direction = if self.origin.from_trunk {
            CdrDirection::Inbound
        } else if self.goes_out() {
            CdrDirection::Outbound
        } else {
            CdrDirection::Internal
        };
        let cdr = Cdr {
            id: self.id.to_string(),
            call_id: self.a_call_id.clone(),
            account_id: self.origin.account.id.clone(),
            caller: self.origin.caller.clone(),
            // a click-to-call's callee is the number the user called
            callee: self.user_dialled(),
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
            answered_by: self.answered_by.clone(),
        };
        // CALL_ENDED, after every leg's channel_destroy, carries the CDR to the store
        self.report_end(duration, cdr);
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

async fn recv_media(
    rx: Option<&mut mpsc::UnboundedReceiver<SessionEvent>>,
) -> Option<SessionEvent> {
    match rx {
        Some(rx) => rx.recv().await,
        None => std::future::pending().await,
    }
}

async fn sleep_opt(at: Option<Instant>) {
    match at {
        Some(t) => tokio::time::sleep_until(t).await,
        None => std::future::pending().await,
    }
}

/// Where a fork goes: Request-URI, To header, and the transport target.
pub(super) type Contact = (String, String, Target);

/// The contact of an outside number through `trunk` (`None`: its host does not resolve).
pub(crate) fn trunk_contact(trunk: &crate::store::Trunk, number: &str) -> Option<Contact> {
    let addr = resolve(&trunk.host, trunk.port)?;
    let kind = match trunk.transport {
        crate::store::TrunkTransport::Tcp => TransportKind::Tcp,
        _ => TransportKind::Udp,
    };
    let uri = format!("sip:{}@{}:{}", number, trunk.host, trunk.port);
    Some((
        uri.clone(),
        format!("<{uri}>"),
        Target {
            kind,
            addr,
            conn: None,
        },
    ))
}

fn resolve(host: &str, port: u16) -> Option<SocketAddr> {
    if let Ok(ip) = host.parse::<IpAddr>() {
        return Some(SocketAddr::new(ip, port));
    }
    use std::net::ToSocketAddrs;
    (host, port).to_socket_addrs().ok()?.next()
}
