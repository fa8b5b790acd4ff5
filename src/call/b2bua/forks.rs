//! The B-leg forks of a call: building the INVITE for each registered contact (or
//! the trunk), handling their provisional and final responses, picking the winner,
//! answering a carrier's digest challenge, and cancelling the losers.

use rsip::{Header, Request, Response, SipMessage};

use super::*;

impl Call {
    pub(super) fn build_invite(
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
        let from = match self.trunk_for(target) {
            Some(trunk) => {
                let cid = self
                    .origin
                    .external_caller_id
                    .clone()
                    .or(trunk.caller_id.clone())
                    .unwrap_or(self.origin.caller.clone());
                format!("<sip:{}@{}>", cid, self.sw.local_host_port(target.kind))
            }
            // a click-to-call's user sees the number their phone is calling
            None if self.a_forking && self.click.is_some() => {
                let to = self.click.as_ref().map(|c| c.to.as_str()).unwrap_or("");
                format!("<sip:{}@{}>", to, self.origin.account.sip_domain)
            }
            None => match &self.origin.display_name {
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
        if self.trunk_for(target).is_none() {
            self.path_headers(&mut h);
        }
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

    /// The way the call came, for the phone it rings (the agent page shows
    /// it): the DID dialled, the menu choices, the ring group, the queue and
    /// how long the caller waited in it.
    fn path_headers(&self, h: &mut rsip::Headers) {
        let mut add = |name: &str, value: String| {
            let clean: String = value
                .chars()
                .filter(|c| !c.is_control())
                .take(128)
                .collect();
            if !clean.is_empty() {
                h.push(Header::Other(name.into(), clean));
            }
        };
        if self.origin.from_trunk {
            add("X-Switchyard-DID", self.dialled.clone());
        }
        if !self.route.ivr_choices.is_empty() {
            add("X-Switchyard-IVR", self.route.ivr_choices.join(","));
        }
        if let Some(g) = &self.route.ring_group {
            add("X-Switchyard-Ring-Group", g.clone());
        }
        if let Some(q) = &self.route.queue_id {
            add("X-Switchyard-Queue", q.clone());
            if let Some(w) = self.queued.as_ref().and_then(|q| q.waited_secs()) {
                add("X-Switchyard-Queue-Wait", w.to_string());
            }
        }
    }

    pub(super) fn on_fork_response(&mut self, i: usize, resp: Response) {
        if self.a_forking {
            return self.on_a_fork_response(i, resp);
        }
        let code = resp.status_code.code();
        match code {
            100 => {}
            101..=199 => {
                let mut resp = resp;
                if self.forks[i].webrtc.is_some() {
                    // a browser's early SDP is not used: its media starts with the answer
                    resp.body.clear();
                }
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
                    if let Some(m) = self.media.as_ref() {
                        m.send(crate::media::session::Cmd::SignallingIp {
                            leg: self.b_leg,
                            ip: self.forks[i].target.addr.ip(),
                        });
                    }
                    // early media: anchor it like the answer
                    let late_offer = self.a_invite.body.is_empty();
                    let body = if late_offer {
                        self.anchor_offer(Side::B, &resp.body)
                    } else {
                        self.anchor_answer(Side::B, &resp.body)
                    };
                    if let Some(body) = body {
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
            200..=299 => {
                let mut resp = resp;
                self.browser_fork_answered(i, &mut resp);
                self.on_fork_answer(i, resp)
            }
            401 | 407 if !self.forks[i].auth_tried => {
                if !self.retry_with_credentials(i, &resp) {
                    self.fork_failed(i, code);
                }
            }
            _ => self.fork_failed(i, code),
        }
    }

    pub(super) fn on_fork_answer(&mut self, i: usize, resp: Response) {
        let fork_cseq = message::cseq(&self.forks[i].invite.headers)
            .map(|c| c.0)
            .unwrap_or(1);
        let Some(mut dialog) = Dialog::uac(&self.forks[i].invite, &resp) else {
            tracing::warn!(call = %self.id, "2xx without a usable To tag; ignoring");
            return;
        };
        let target = self.forks[i].target;
        self.forks[i].done = true;
        if self.endpoint && self.b.is_none() && !self.ended && self.dialing.is_some() {
            return self.bridge_from_endpoint(i, resp, dialog);
        }
        if let Some(m) = self.media.as_ref() {
            m.send(crate::media::session::Cmd::SignallingIp {
                leg: self.b_leg,
                ip: target.addr.ip(),
            });
        }
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
            let body = if late_offer {
                self.anchor_offer(Side::B, &resp.body)
            } else {
                self.anchor_answer(Side::B, &resp.body)
            };
            match body {
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
        self.mark_answered(i);
        self.a_dialog = Dialog::uas(&self.a_invite, &self.a_tag);
        self.respond_a(ok);
        if self.records() {
            self.start_recording();
        }
        for j in 0..self.forks.len() {
            if j != i && !self.forks[j].done {
                self.cancel_fork(j);
            }
        }
        let bus = self.sw.bus.clone();
        let b_id = self.b_chan.as_ref().map(|c| c.id());
        if let Some(c) = self.b_chan.as_mut() {
            c.info.sip_call_id = self.forks[i].call_id.clone();
            c.answer(&bus, &self.sw.metrics);
        }
        self.a_chan.answer(&bus, &self.sw.metrics);
        if let Some(b_id) = b_id {
            self.a_chan.bridge(&bus, b_id);
            let a_id = self.a_chan.id();
            if let Some(c) = self.b_chan.as_mut() {
                c.bridge(&bus, a_id);
            }
        }
        self.round_answered(i);
    }

    /// The trunk a fork to `target` goes out through: the call's own, or (a
    /// callflow's outside dial) the account's trunk when the fork goes to its
    /// address. Its caller ID is presented and its credentials answer challenges.
    fn trunk_for(&self, target: Target) -> Option<crate::store::Trunk> {
        match &self.destination {
            Destination::Trunk { trunk, .. } => Some(trunk.clone()),
            _ => self
                .sw
                .directory()
                .trunk_for_account(&self.origin.account.id)
                .filter(|t| resolve(&t.host, t.port) == Some(target.addr))
                .cloned(),
        }
    }

    pub(super) fn retry_with_credentials(&mut self, i: usize, resp: &Response) -> bool {
        let Some(invite) = self.reauthorized(&self.forks[i], resp) else {
            return false;
        };
        let fork = &mut self.forks[i];
        fork.auth_tried = true;
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

    /// The fork's INVITE again with our answer to the carrier's digest
    /// challenge in `resp` (`None`: no trunk credentials, or no usable challenge).
    pub(super) fn reauthorized(&self, fork: &Fork, resp: &Response) -> Option<Request> {
        let trunk = self.trunk_for(fork.target)?;
        let (Some(user), Some(pass)) = (trunk.username.clone(), trunk.password.clone()) else {
            return None;
        };
        let code = resp.status_code.code();
        let (chal_name, auth_name) = if code == 401 {
            ("WWW-Authenticate", "Authorization")
        } else {
            ("Proxy-Authenticate", "Proxy-Authorization")
        };
        let challenge = message::header_value(&resp.headers, chal_name)?;
        let uri = fork.invite.uri.to_string();
        let value =
            crate::sip::auth::client_authorization(challenge, &user, &pass, "INVITE", &uri)?;
        let mut invite = fork.invite.clone();
        let cseq = message::cseq(&invite.headers).map(|c| c.0).unwrap_or(1) + 1;
        invite
            .headers
            .retain(|h| !matches!(h, Header::Via(_) | Header::CSeq(_)));
        let mut headers = rsip::Headers::default();
        headers.push(Header::Via(rsip::headers::Via::from(
            self.via(fork.target.kind),
        )));
        for h in invite.headers.iter() {
            headers.push(h.clone());
        }
        headers.push(Header::CSeq(rsip::headers::CSeq::from(format!(
            "{cseq} INVITE"
        ))));
        headers.push(Header::Other(auth_name.into(), value));
        invite.headers = headers;
        Some(invite)
    }

    pub(super) fn fork_failed(&mut self, i: usize, code: u16) {
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
        if self.a_forking {
            return self.a_fork_failed();
        }
        if self.dialing.is_some() {
            // a callflow's dial round: the flow decides what the caller gets
            return self.round_failed(self.best_failure.unwrap_or(480));
        }
        if self.b.is_none() && !self.a_final_sent && self.forks.iter().all(|f| f.done) {
            let best = self.best_failure.unwrap_or(480);
            let cause = HangupCause::from_sip_status(best);
            let (code, reason) = match best {
                408 => (480, "Temporarily Unavailable"),
                503 => (503, "Service Unavailable"),
                _ => (best, cause.sip_status().1),
            };
            let r = message::response(&self.a_invite, code, reason, Some(&self.a_tag));
            self.respond_a(r);
            self.finish(cause);
        }
    }

    pub(super) fn cancel_fork(&mut self, i: usize) {
        if self.forks[i].done {
            return;
        }
        if self.forks[i].provisional {
            self.send_cancel(i);
        } else {
            self.forks[i].cancel_pending = true;
        }
    }

    pub(super) fn send_cancel(&mut self, i: usize) {
        self.forks[i].cancel_pending = false;
        let cancel = cancel_of(&self.forks[i]);
        let (cid, target) = (self.forks[i].call_id.clone(), self.forks[i].target);
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
}

/// The CANCEL of a fork's INVITE (RFC 3261 §9.1: its Via, From, To, Call-ID
/// and route, the INVITE's CSeq number).
pub(super) fn cancel_of(f: &Fork) -> Request {
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
    Request {
        method: rsip::Method::Cancel,
        uri: inv.uri.clone(),
        version: rsip::Version::V2,
        headers: h,
        body: Vec::new(),
    }
}
