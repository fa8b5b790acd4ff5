//! Inside the two dialogs of a bridged call: the caller's ACK (with a late-offer
//! answer), BYE from either side, and every other in-dialog request (re-INVITE for
//! hold, UPDATE, INFO, REFER …) forwarded to the other leg with its SDP anchored,
//! and its response relayed back.

use rsip::{Header, Request, Response, SipMessage};

use super::*;

impl Call {
    /// Rewrites an SDP body that came from side `from` for the other side (our address,
    /// and the relay port the other side must send to) and points the relay at `from`.
    pub(super) fn anchor_sdp(&mut self, from: Side, body: &[u8]) -> Option<Vec<u8>> {
        let media = self.media.as_ref()?;
        if let Some((rtp, rtcp)) = sdp_remote(body) {
            media.set_remote(self.leg(from), rtp, rtcp);
        }
        let to = match from {
            Side::A => Side::B,
            Side::B => Side::A,
        };
        let port = media.port(self.leg(to))?;
        let s = std::str::from_utf8(body).ok()?;
        sdp::rewrite_for_relay(s, self.public_ip(), port, None)
            .ok()
            .map(String::into_bytes)
    }

    pub(super) fn send_bye_a(&mut self) {
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

    pub(super) fn send_bye_b(&mut self) {
        let Some(b) = self.b.as_mut() else { return };
        let via = self.sw.via(b.target.kind);
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

    pub(super) fn hangup_both(&mut self, cause: HangupCause) {
        self.send_bye_a();
        self.send_bye_b();
        self.finish(cause);
    }

    pub(super) fn on_ack(&mut self, req: Request) {
        let cid = message::call_id(&req.headers).unwrap_or("");
        if cid != self.a_call_id {
            return;
        }
        let a_cseq = message::cseq(&self.a_invite.headers).map(|c| c.0);
        if message::cseq(&req.headers).map(|c| c.0) == a_cseq && !self.a_acked {
            self.a_acked = true;
            if self.app_waiting.is_some() {
                return self.app_answer_in_ack(&req);
            }
            if self.flow_deferred.is_some() {
                return self.flow_answer_in_ack(&req);
            }
            // late offer: the caller's answer travels in its ACK, forward it to B in ours
            let body = if is_sdp(&req.headers, &req.body) {
                self.anchor_answer(Side::A, &req.body)
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

    pub(super) fn on_dialog_request(&mut self, tx: TxId, mut req: Request, _source: Target) {
        if self.on_extra_request(tx, &req) {
            return;
        }
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
        if (self.app.is_some() || self.app_waiting.is_some() || (self.endpoint && self.b.is_none()))
            && from_side == Side::A
            && self.a_dialog.is_some()
        {
            return self.on_app_request(tx, req);
        }
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
            let a = self.leg(Side::A);
            let caller_with_dialled = self
                .media
                .as_ref()
                .and_then(|m| m.peer(a))
                .is_some_and(|p| self.extra.iter().any(|e| e.leg == p && !e.ended));
            if from_side == Side::B && caller_with_dialled {
                // the caller talks to a leg dialled by command: it stays
                return self.drop_b(HangupCause::NormalClearing, false);
            }
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
        if req.method == rsip::Method::Info {
            // digits in INFO are reported, and still reach the other leg
            self.info_digit(from_side, &req);
        }
        let to_side = match from_side {
            Side::A => Side::B,
            Side::B => Side::A,
        };
        let offers = matches!(req.method, rsip::Method::Invite | rsip::Method::Update);
        if offers && is_sdp(&req.headers, &req.body) {
            // a browser's offer is answered by its WebRTC stack; the other side
            // is offered the plain equivalent
            let mut body = std::mem::take(&mut req.body);
            self.browser_offer_in(from_side, &mut body);
            message::set_body(
                &mut req.headers,
                &mut req.body,
                body,
                Some("application/sdp"),
            );
        }
        if req.method == rsip::Method::Refer && from_side == Side::B && self.endpoint {
            // an agent's blind transfer of a caller the switch answered: the switch does it
            return self.refer_here(tx, &req);
        }
        if offers && from_side == Side::B && self.endpoint && self.is_browser(Side::B) {
            // the switch answered the caller itself: a browser agent's hold is
            // the switch's business (music for the caller), not the caller's
            return self.browser_hold_here(tx, &req);
        }
        // forward to the other leg (re-INVITE for hold/unhold, UPDATE, INFO, …)
        let body = if is_sdp(&req.headers, &req.body) {
            if matches!(req.method, rsip::Method::Invite | rsip::Method::Update) {
                self.anchor_offer(from_side, &req.body)
            } else {
                self.anchor_sdp(from_side, &req.body)
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
            let b = if offers && is_sdp(&req.headers, &req.body) {
                self.browser_out(to_side, b, false)
            } else {
                b
            };
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

    pub(super) fn on_forwarded_response(&mut self, p: Pending, mut resp: Response, token: u64) {
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
            let answerer = match p.from {
                Side::A => Side::B,
                Side::B => Side::A,
            };
            let mut answered = std::mem::take(&mut resp.body);
            if (200..300).contains(&code) {
                self.browser_answer_in(answerer, &mut answered);
            }
            let body = self
                .anchor_answer(answerer, &answered)
                .map(|b| self.browser_out(p.from, b, true));
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

    /// REFER from the B leg of a call the switch answered (an agent sending
    /// a queue caller on): accepted (202), the agent told it worked (NOTIFY
    /// with a `200 OK` sipfrag, RFC 3515) and hung up, and the caller routed
    /// to the Refer-To number as if dialled.
    fn refer_here(&mut self, tx: TxId, req: &Request) {
        let cid = message::call_id(&req.headers).unwrap_or("").to_string();
        let respond = |sw: &Switch, code: u16, reason: &str| {
            let r = message::response(req, code, reason, None);
            sw.to_shard(&cid, ShardMsg::Respond { tx, resp: r });
        };
        let target = message::header_value(&req.headers, "Refer-To")
            .map(message::uri_part)
            .and_then(message::uri_user)
            .map(str::to_string);
        let Some(number) = target else {
            return respond(&self.sw, 400, "Bad Request - Refer-To Has No Number");
        };
        if self.b.is_none() {
            return respond(&self.sw, 481, "Call/Transaction Does Not Exist");
        }
        let verdict = self.transferable(&number);
        if let Err(e) = &verdict {
            tracing::info!(call = %self.id, %number, "transfer refused: {e:?}");
        }
        respond(&self.sw, 202, "Accepted");
        let ok = verdict.is_ok();
        let frag = match ok {
            true => "SIP/2.0 200 OK\r\n",
            false => "SIP/2.0 503 Service Unavailable\r\n",
        };
        // the NOTIFY that ends the implicit subscription, before the transfer's BYE
        let Some(b) = self.b.as_mut() else { return };
        let via = self.sw.via(b.target.kind);
        let (dialog, target) = (&mut b.dialog, b.target);
        let mut notify = dialog.request(rsip::Method::Notify, via, None, None);
        notify
            .headers
            .push(Header::Other("Event".into(), "refer".into()));
        notify.headers.push(Header::Other(
            "Subscription-State".into(),
            "terminated;reason=noresource".into(),
        ));
        message::set_body(
            &mut notify.headers,
            &mut notify.body,
            frag.as_bytes().to_vec(),
            Some("message/sipfrag;version=2.0"),
        );
        let call_id = dialog.call_id.clone();
        self.sw.to_shard(
            &call_id,
            ShardMsg::Request {
                req: notify,
                target,
                owner: self.me.clone(),
                token: IGNORED,
            },
        );
        if ok {
            let _ = self.external_transfer(&number);
        }
    }
}
