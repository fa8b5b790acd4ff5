//! Legs a call dials on command, beside its caller and the callee its route
//! bridged: a supervisor who listens, whispers or barges, a consultation before
//! a transfer, a third party. Each is its own SIP dialog (forked to every device
//! of an extension, or through the account's trunk) with its own channel and
//! media leg; the switch is always its media endpoint (it offers its own SDP),
//! so the leg can be bridged, mixed or played to like any other. A leg that
//! ends releases its ports at once; its forks linger only to CANCEL.

use rsip::{Header, Request, Response, SipMessage};

use super::*;
use crate::media::session::{Cmd, MixRole};
use crate::switch::commands::{CommandError, Join, MonitorMode};

/// One leg dialled by command.
pub(super) struct Extra {
    pub(super) leg: LegId,
    pub(super) number: String,
    pub(super) chan: Channel,
    pub(super) forks: Vec<Fork>,
    /// The answered dialog, once a fork answered.
    pub(super) up: Option<BLeg>,
    /// Ringing ends then.
    pub(super) deadline: Instant,
    join: Join,
    best_failure: Option<u16>,
    /// The extension this leg keeps busy once answered.
    mark: Option<String>,
    /// Over: kept only while a fork still owes a CANCEL.
    pub(super) ended: bool,
}

impl Call {
    /// Dials `numbers` (all at once) as one new leg of the call.
    pub(super) fn dial_leg(
        &mut self,
        numbers: &[String],
        ring_secs: u32,
        join: Join,
    ) -> Result<LegId, CommandError> {
        if self.ended {
            return Err(CommandError::Over);
        }
        if self.media.is_none() || !self.leg_up(self.leg(Side::A)) {
            return Err(CommandError::NotAnswered);
        }
        match join {
            Join::Alone => {}
            Join::Bridge(to) | Join::Monitor { leg: to, .. } => {
                if !self.leg_up(to) {
                    return Err(CommandError::UnknownLeg);
                }
                if to == self.leg(Side::A) && self.flow_controls_caller() {
                    return Err(CommandError::LegBusy);
                }
            }
        }
        let dir = self.sw.directory();
        let account = self.origin.account.id.clone();
        let mut contacts = Vec::new();
        for number in numbers {
            let found: Vec<Contact> = if dir.extension(&account, number).is_some() {
                self.extension_contacts(number)
            } else if crate::dialplan::is_e164(number) {
                // outside numbers go out as callflows dial them: E.164 through the account's trunk
                dir.trunk_for_account(&account)
                    .and_then(|t| trunk_contact(t, number))
                    .into_iter()
                    .collect()
            } else {
                return Err(CommandError::UnknownNumber);
            };
            contacts.extend(found);
        }
        drop(dir);
        if contacts.is_empty() {
            // known numbers, but no device registered and no trunk to reach them
            return Err(CommandError::Unreachable);
        }
        let number = numbers.join(",");
        let number = number.as_str();
        let pair = self
            .sw
            .ports
            .allocate()
            .map_err(|_| CommandError::NoPorts)?;
        let leg = LegId::new();
        let port = self
            .media
            .as_mut()
            .ok_or(CommandError::Over)?
            .add_leg(leg, pair);
        self.sdp_session += 1;
        let offer = negotiate::endpoint_offer(self.public_ip(), port, self.sdp_session);
        let chan = Channel::create(
            &self.sw.bus,
            &self.sw.metrics,
            self.placed_leg(leg, &account, number),
        );
        let forks = self.send_forks(contacts, Some(offer.into_bytes()), Some(leg));
        tracing::info!(call = %self.id, %leg, %number, ?join, "dialling a leg");
        self.extra.push(Extra {
            leg,
            number: number.to_string(),
            chan,
            forks,
            up: None,
            deadline: Instant::now() + Duration::from_secs(u64::from(ring_secs.clamp(1, 300))),
            join,
            best_failure: None,
            mark: None,
            ended: false,
        });
        Ok(leg)
    }

    /// The dialled leg and fork a client transaction's token belongs to.
    pub(super) fn extra_fork(&self, token: u64) -> Option<(usize, usize)> {
        self.extra.iter().enumerate().find_map(|(k, e)| {
            e.forks
                .iter()
                .position(|f| f.token == token)
                .map(|i| (k, i))
        })
    }

    pub(super) fn extra_index(&self, leg: LegId) -> Option<usize> {
        self.extra.iter().position(|e| e.leg == leg && !e.ended)
    }

    pub(super) fn on_extra_response(&mut self, k: usize, i: usize, resp: Response) {
        let code = resp.status_code.code();
        match code {
            100 => {}
            101..=199 => {
                let e = &mut self.extra[k];
                e.forks[i].provisional = true;
                e.chan.ringing();
                if e.forks[i].cancel_pending {
                    self.send_extra_cancel(k, i);
                }
            }
            200..=299 => self.extra_answered(k, i, resp),
            401 | 407 if !self.extra[k].forks[i].auth_tried => {
                match self.reauthorized(&self.extra[k].forks[i], &resp) {
                    Some(invite) => {
                        let me = self.me.clone();
                        let f = &mut self.extra[k].forks[i];
                        f.auth_tried = true;
                        f.provisional = false;
                        f.invite = invite.clone();
                        let (cid, target, token) = (f.call_id.clone(), f.target, f.token);
                        self.sw.to_shard(
                            &cid,
                            ShardMsg::Request {
                                req: invite,
                                target,
                                owner: me,
                                token,
                            },
                        );
                    }
                    None => self.extra_fork_failed(k, i, code),
                }
            }
            _ => self.extra_fork_failed(k, i, code),
        }
    }

    fn extra_answered(&mut self, k: usize, i: usize, mut resp: Response) {
        let Some(mut dialog) = Dialog::uac(&self.extra[k].forks[i].invite, &resp) else {
            tracing::warn!(call = %self.id, "2xx without a usable To tag; ignoring");
            return;
        };
        let f = &mut self.extra[k].forks[i];
        f.done = true;
        let (target, cid) = (f.target, f.call_id.clone());
        let cseq = message::cseq(&f.invite.headers).map(|c| c.0).unwrap_or(1);
        let ack = dialog.request(rsip::Method::Ack, self.via(target.kind), None, Some(cseq));
        self.send_stateless(&cid, SipMessage::Request(ack), target);
        let e = &self.extra[k];
        if e.up.is_some() || e.ended || self.ended {
            // a second device answered, or the leg is over: release this one
            let bye = dialog.request(rsip::Method::Bye, self.via(target.kind), None, None);
            return self.sw.to_shard(
                &cid,
                ShardMsg::Request {
                    req: bye,
                    target,
                    owner: self.me.clone(),
                    token: IGNORED,
                },
            );
        }
        let leg = e.leg;
        if let Some(rtc) = self.extra[k].forks[i].webrtc.take() {
            // a browser answered: its stack carries the leg's media
            self.attach_browser(leg, rtc, &mut resp);
        }
        let neg = negotiate::audio_line(&resp.body)
            .ok()
            .flatten()
            .as_ref()
            .and_then(negotiate::choose);
        if let Some(m) = self.media.as_mut() {
            m.send(Cmd::SignallingIp {
                leg,
                ip: target.addr.ip(),
            });
            if let Some((rtp, rtcp)) = sdp_remote(&resp.body) {
                m.set_remote(leg, rtp, rtcp);
            }
            m.apply(Cmd::SetCodec { leg, neg });
        }
        let ext = message::to_value(&self.extra[k].forks[i].invite.headers)
            .map(message::uri_part)
            .and_then(message::uri_user)
            .map(str::to_string)
            .filter(|u| {
                self.sw
                    .directory()
                    .extension(&self.origin.account.id, u)
                    .is_some()
            });
        if let Some(ext) = &ext {
            self.sw.mark_busy(&self.origin.account.id, ext);
        }
        let bus = self.sw.bus.clone();
        let e = &mut self.extra[k];
        e.mark = ext;
        e.up = Some(BLeg {
            dialog,
            target,
            ack_pending: None,
        });
        e.chan.info.sip_call_id = cid;
        e.chan.answer(&bus, &self.sw.metrics);
        for j in 0..self.extra[k].forks.len() {
            if j != i && !self.extra[k].forks[j].done {
                self.cancel_extra_fork(k, j);
            }
        }
        let join = self.extra[k].join;
        tracing::info!(call = %self.id, %leg, ?join, "dialled leg answered");
        self.join(leg, join);
    }

    /// What an answered dialled leg does first.
    fn join(&mut self, leg: LegId, join: Join) {
        let bus = self.sw.bus.clone();
        let Some(m) = self.media.as_mut() else { return };
        match join {
            Join::Alone => {}
            Join::Bridge(to) => {
                m.apply(Cmd::Unmix { leg: to });
                m.apply(Cmd::Bridge { a: to, b: leg });
                if let Some(k) = self.extra_index(leg) {
                    self.extra[k].chan.bridge(&bus, to);
                }
            }
            Join::Monitor { leg: to, mode } => {
                if let Some(peer) = m.peer(to) {
                    m.apply(Cmd::Mix {
                        leg: peer,
                        role: MixRole::Speak,
                    });
                }
                m.apply(Cmd::Mix {
                    leg: to,
                    role: MixRole::Speak,
                });
                let role = match mode {
                    MonitorMode::Listen => MixRole::Listen,
                    MonitorMode::Whisper => MixRole::Whisper(to),
                    MonitorMode::Barge => MixRole::Speak,
                };
                m.apply(Cmd::Mix { leg, role });
            }
        }
    }

    pub(super) fn extra_fork_failed(&mut self, k: usize, i: usize, code: u16) {
        let e = &mut self.extra[k];
        if e.forks[i].done {
            return;
        }
        e.forks[i].done = true;
        e.forks[i].cancel_pending = false;
        e.best_failure = Some(match e.best_failure {
            Some(486) => 486,
            Some(b) if code != 486 => b.min(code),
            _ => code,
        });
        if e.up.is_none() && !e.ended && e.forks.iter().all(|f| f.done) {
            let cause = HangupCause::from_sip_status(e.best_failure.unwrap_or(480));
            self.end_extra(k, cause, false);
        }
    }

    fn cancel_extra_fork(&mut self, k: usize, i: usize) {
        let f = &mut self.extra[k].forks[i];
        if f.done {
            return;
        }
        if f.provisional {
            self.send_extra_cancel(k, i);
        } else {
            f.cancel_pending = true;
        }
    }

    fn send_extra_cancel(&mut self, k: usize, i: usize) {
        let f = &mut self.extra[k].forks[i];
        f.cancel_pending = false;
        let cancel = forks::cancel_of(f);
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

    /// The earliest ring deadline of a dialled leg still ringing.
    pub(super) fn extra_deadline(&self) -> Option<Instant> {
        self.extra
            .iter()
            .filter(|e| !e.ended && e.up.is_none())
            .map(|e| e.deadline)
            .min()
    }

    pub(super) fn extra_timeout(&mut self) {
        let now = Instant::now();
        for k in 0..self.extra.len() {
            let e = &self.extra[k];
            if !e.ended && e.up.is_none() && e.deadline <= now {
                tracing::info!(call = %self.id, leg = %e.leg, "dialled leg not answered");
                self.end_extra(k, HangupCause::NoAnswer, true);
            }
        }
    }

    /// Ends dialled leg `k`: BYE (with `hang_up`, when it answered) or CANCEL
    /// its forks, free its media, destroy its channel. A conference left with
    /// two members becomes their bridge again; a caller left with nobody is
    /// hung up unless a callflow or app still steers it.
    pub(super) fn end_extra(&mut self, k: usize, cause: HangupCause, hang_up: bool) {
        if self.extra[k].ended {
            return;
        }
        self.extra[k].ended = true;
        let leg = self.extra[k].leg;
        for j in 0..self.extra[k].forks.len() {
            self.cancel_extra_fork(k, j);
        }
        if hang_up {
            let via_kind = self.extra[k].up.as_ref().map(|b| b.target.kind);
            if let Some(kind) = via_kind {
                let via = self.via(kind);
                let me = self.me.clone();
                if let Some(b) = self.extra[k].up.as_mut() {
                    let bye = b.dialog.request(rsip::Method::Bye, via, None, None);
                    let (cid, target) = (b.dialog.call_id.clone(), b.target);
                    self.sw.to_shard(
                        &cid,
                        ShardMsg::Request {
                            req: bye,
                            target,
                            owner: me,
                            token: IGNORED,
                        },
                    );
                }
            }
        }
        if let Some(ext) = self.extra[k].mark.take() {
            self.sw.unmark_busy(&self.origin.account.id, &ext);
        }
        self.collect_over(leg);
        self.cmd_plays.remove(&leg);
        let a = self.leg(Side::A);
        let mut caller_alone = false;
        if let Some(m) = self.media.as_mut() {
            self.extra[k].chan.rtp = m.figures(leg);
            caller_alone = m.peer(a) == Some(leg);
            let was_mixed = m.role(leg).is_some();
            m.remove_leg(leg);
            if was_mixed && m.mixed().len() <= 2 {
                for l in m.mixed() {
                    m.apply(Cmd::Unmix { leg: l });
                }
            }
        }
        self.extra[k]
            .chan
            .destroy(&self.sw.bus, &self.sw.metrics, cause);
        tracing::info!(call = %self.id, %leg, ?cause, "dialled leg ended");
        let others_up = self.extra.iter().any(|e| !e.ended && e.up.is_some());
        if caller_alone
            && self.b.is_none()
            && !others_up
            && !self.flow_controls_caller()
            && !self.ended
        {
            self.send_bye_a();
            self.finish(HangupCause::NormalClearing);
        }
    }

    /// The call is over: every dialled leg ends with it.
    pub(super) fn end_extras(&mut self, cause: HangupCause) {
        for k in 0..self.extra.len() {
            self.end_extra(k, cause, true);
        }
    }

    /// An in-dialog request on a dialled leg; false when it is not one.
    pub(super) fn on_extra_request(&mut self, tx: TxId, req: &Request) -> bool {
        let cid = message::call_id(&req.headers).unwrap_or("").to_string();
        let Some(k) = self
            .extra
            .iter()
            .position(|e| !e.ended && e.up.as_ref().is_some_and(|b| b.dialog.call_id == cid))
        else {
            return false;
        };
        let leg = self.extra[k].leg;
        let respond =
            |sw: &Switch, r: Response| sw.to_shard(&cid, ShardMsg::Respond { tx, resp: r });
        let seq = message::cseq(&req.headers).map(|c| c.0).unwrap_or(0);
        let ok_seq = self.extra[k]
            .up
            .as_mut()
            .is_some_and(|b| b.dialog.accept_remote_seq(seq));
        if !ok_seq {
            let r = message::response(req, 500, "Server Internal Error - CSeq Out Of Order", None);
            respond(&self.sw, r);
            return true;
        }
        match req.method {
            rsip::Method::Bye => {
                respond(&self.sw, message::response(req, 200, "OK", None));
                self.end_extra(k, HangupCause::NormalClearing, false);
            }
            rsip::Method::Info => {
                self.info_digit_on(leg, req);
                respond(&self.sw, message::response(req, 200, "OK", None));
            }
            rsip::Method::Invite | rsip::Method::Update if is_sdp(&req.headers, &req.body) => {
                let r = self.reanswer(leg, req, self.extra[k].up.as_ref().map(|b| b.target.kind));
                respond(&self.sw, r);
            }
            _ => respond(&self.sw, message::response(req, 200, "OK", None)),
        }
        true
    }

    /// Our answer to a new offer on a leg the switch terminates (hold, new
    /// address, codec change): the caller of an app or flow, or a dialled leg.
    pub(super) fn reanswer(
        &mut self,
        leg: LegId,
        req: &Request,
        kind: Option<TransportKind>,
    ) -> Response {
        let line = negotiate::audio_line(&req.body).ok().flatten();
        let neg = line.as_ref().and_then(negotiate::choose);
        let port = self.media.as_ref().and_then(|m| m.port(leg));
        let (Some(line), Some(neg), Some(port)) = (line, neg, port) else {
            return message::response(req, 488, "Not Acceptable Here - No Common Codec", None);
        };
        let direction = negotiate::answer_direction(line.direction);
        if let Some(m) = self.media.as_mut() {
            if let Some((rtp, rtcp)) = sdp_remote(&req.body) {
                m.set_remote(leg, rtp, rtcp);
            }
            m.apply(Cmd::SetCodec {
                leg,
                neg: Some(neg.clone()),
            });
            m.send(Cmd::SetSending {
                leg,
                on: negotiate::we_send(direction),
            });
        }
        self.sdp_session += 1;
        let body = negotiate::endpoint_sdp(
            self.public_ip(),
            port,
            &line.proto,
            &neg,
            self.sdp_session,
            direction,
        );
        let mut r = message::response(req, 200, "OK", None);
        r.headers.push(Header::Contact(rsip::headers::Contact::from(
            self.contact(kind.unwrap_or(TransportKind::Udp)),
        )));
        message::set_body(
            &mut r.headers,
            &mut r.body,
            body.into_bytes(),
            Some("application/sdp"),
        );
        r
    }
}
