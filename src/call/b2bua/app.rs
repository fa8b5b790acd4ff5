//! Calls the switch answers itself (dialplan apps): the caller's offer is
//! answered with the switch as the media endpoint, the app's steps run in
//! their own task (`call::app`), and the caller's in-dialog requests (BYE,
//! INFO digits, re-INVITE, UPDATE) are answered here since there is no B leg.

use rsip::Request;

use super::*;
use crate::call::app;
use crate::media::dtmf::{info, DtmfEvent};
use crate::media::session::negotiate;
use crate::media::session::{Cmd, DtmfSource};
use crate::sdp::Direction;
use crate::store::App;

/// A running app on this call.
pub(super) struct AppState {
    pub done: app::DoneSender,
}

impl Call {
    pub(super) fn reject_a(&mut self, code: u16, reason: &str, cause: HangupCause) {
        let r = message::response(&self.a_invite, code, reason, Some(&self.a_tag));
        self.respond_a(r);
        self.finish(cause);
    }

    /// Answers the caller as the media endpoint and starts the app's steps
    /// (with an INVITE without SDP, the switch offers and the steps start
    /// once the ACK brings the answer).
    pub(super) fn start_app(&mut self, app: App) {
        let Some(neg) = self.answer_endpoint(true) else {
            return;
        };
        if app.record {
            self.start_recording();
        }
        match neg {
            Some(neg) => self.run_app(app, negotiate::pcm_rate(&neg, None)),
            None => self.app_waiting = Some(app),
        }
    }

    /// Answers the caller with the switch as its media endpoint: the codec
    /// chosen from its offer (`Some(Some(_))`), or our offer in the 200 when
    /// it made none and `late_offer` is allowed (`Some(None)`, the answer comes
    /// in the ACK). `None`: the caller was refused and the call is over.
    pub(super) fn answer_endpoint(
        &mut self,
        late_offer: bool,
    ) -> Option<Option<negotiate::Negotiated>> {
        let offer = if is_sdp(&self.a_invite.headers, &self.a_invite.body) {
            match negotiate::audio_line(&self.a_invite.body).ok().flatten() {
                Some(line) => Some(line),
                None => {
                    self.reject_a(
                        488,
                        "Not Acceptable Here - No Audio Stream",
                        HangupCause::CallRejected,
                    );
                    return None;
                }
            }
        } else if late_offer {
            None
        } else {
            self.reject_a(
                488,
                "Not Acceptable Here - SDP Offer Required",
                HangupCause::CallRejected,
            );
            return None;
        };
        let neg = match &offer {
            Some(line) => match negotiate::choose(line).filter(|_| line.proto == "RTP/AVP") {
                Some(n) => Some(n),
                None => {
                    self.reject_a(
                        488,
                        "Not Acceptable Here - No Common Codec",
                        HangupCause::CallRejected,
                    );
                    return None;
                }
            },
            None => None,
        };
        if !self.ensure_media() {
            return None;
        }
        let port = self.media.as_ref()?.port(self.leg(Side::A))?;
        let body = match (&offer, &neg) {
            (Some(line), Some(neg)) => {
                let ours = negotiate::answer_direction(line.direction);
                self.app_media(&self.a_invite.body.clone(), neg.clone(), ours);
                negotiate::endpoint_sdp(
                    self.public_ip(),
                    port,
                    &line.proto,
                    neg,
                    self.sdp_session,
                    ours,
                )
            }
            _ => negotiate::endpoint_offer(self.public_ip(), port, self.sdp_session),
        };
        let mut ok = message::response(&self.a_invite, 200, "OK", Some(&self.a_tag));
        message::set_body(
            &mut ok.headers,
            &mut ok.body,
            body.into_bytes(),
            Some("application/sdp"),
        );
        self.a_dialog = Dialog::uas(&self.a_invite, &self.a_tag);
        self.respond_a(ok);
        self.a_chan.answer(&self.sw.bus, &self.sw.metrics);
        self.endpoint = true;
        self.a_rate = neg.as_ref().map(|n| negotiate::pcm_rate(n, None));
        Some(neg)
    }

    /// Points the session at the caller's media (from `body`), sets its codec,
    /// and whether we may send given our side of the negotiation (`ours`).
    pub(super) fn app_media(&mut self, body: &[u8], neg: negotiate::Negotiated, ours: Direction) {
        let a_leg = self.leg(Side::A);
        let Some(m) = self.media.as_mut() else {
            return;
        };
        if let Some((rtp, rtcp)) = sdp_remote(body) {
            m.set_remote(a_leg, rtp, rtcp);
        }
        m.apply(Cmd::SetCodec {
            leg: a_leg,
            neg: Some(neg),
        });
        m.send(Cmd::SetSending {
            leg: a_leg,
            on: negotiate::we_send(ours),
        });
    }

    fn run_app(&mut self, app: App, rate: u32) {
        let Some(sender) = self.media.as_ref().map(|m| m.sender()) else {
            return;
        };
        tracing::info!(call = %self.id, app = %app.number, "app answered");
        let done = app::spawn(
            app.steps,
            self.sw.settings.media.clone(),
            sender,
            self.leg(Side::A),
            rate,
            app::AppEnd::Hangup(self.me.clone()),
        );
        self.app = Some(AppState { done });
    }

    /// The ACK of an app call the switch made the offer in: its answer picks
    /// the codec and the steps start; an ACK without a usable answer ends the call.
    pub(super) fn app_answer_in_ack(&mut self, req: &Request) {
        let Some(app) = self.app_waiting.take() else {
            return;
        };
        if let Some(rate) = self.caller_answer_in_ack(req) {
            self.run_app(app, rate);
        }
    }

    /// The caller's SDP answer in its ACK (the switch offered in its 200):
    /// sets the caller's codec and returns its PCM rate; an ACK without a
    /// usable answer hangs the call up (`None`).
    pub(super) fn caller_answer_in_ack(&mut self, req: &Request) -> Option<u32> {
        let line = is_sdp(&req.headers, &req.body)
            .then(|| negotiate::audio_line(&req.body).ok().flatten())
            .flatten();
        match line
            .as_ref()
            .and_then(|l| negotiate::choose(l).map(|n| (l, n)))
        {
            Some((line, neg)) => {
                // we offered sendrecv: their answer's direction, seen from our side
                let ours = negotiate::answer_direction(line.direction);
                self.app_media(&req.body, neg.clone(), ours);
                let rate = negotiate::pcm_rate(&neg, None);
                self.a_rate = Some(rate);
                Some(rate)
            }
            None => {
                tracing::info!(call = %self.id, "ACK without a usable SDP answer; hanging up");
                self.send_bye_a();
                self.finish(HangupCause::CallRejected);
                None
            }
        }
    }

    /// A digit in a SIP INFO on `side`: reported through the media session.
    pub(super) fn info_digit(&mut self, side: Side, req: &Request) {
        self.info_digit_on(self.leg(side), req)
    }

    /// A digit in a SIP INFO on `leg`, handed to the media session (which
    /// reports it like its own).
    pub(super) fn info_digit_on(&mut self, leg: LegId, req: &Request) {
        let ctype = message::header_value(&req.headers, "Content-Type").unwrap_or("");
        let body = String::from_utf8_lossy(&req.body);
        if let Ok(d) = info::parse_info(ctype, &body) {
            if let Some(m) = self.media.as_ref() {
                m.send(Cmd::Digit {
                    leg,
                    event: DtmfEvent {
                        digit: d.digit,
                        duration_ms: d.duration_ms.unwrap_or(100),
                    },
                    source: DtmfSource::Info,
                });
            }
        }
    }

    /// An in-dialog request from the caller of an app call.
    pub(super) fn on_app_request(&mut self, tx: TxId, req: Request) {
        let cid = self.a_call_id.clone();
        let respond =
            |sw: &Switch, r: Response| sw.to_shard(&cid, ShardMsg::Respond { tx, resp: r });
        let seq = message::cseq(&req.headers).map(|c| c.0).unwrap_or(0);
        if self.a_dialog.as_mut().map(|d| d.accept_remote_seq(seq)) == Some(false) {
            let r = message::response(&req, 500, "Server Internal Error - CSeq Out Of Order", None);
            return respond(&self.sw, r);
        }
        match req.method {
            rsip::Method::Bye => {
                respond(&self.sw, message::response(&req, 200, "OK", None));
                self.finish(HangupCause::NormalClearing);
            }
            rsip::Method::Info => {
                self.info_digit(Side::A, &req);
                respond(&self.sw, message::response(&req, 200, "OK", None));
            }
            rsip::Method::Invite | rsip::Method::Update if is_sdp(&req.headers, &req.body) => {
                // a new offer (hold, new address, codec change): answer it again
                let kind = self.a_source.kind;
                let r = self.reanswer(self.leg(Side::A), &req, Some(kind));
                respond(&self.sw, r);
            }
            _ => respond(&self.sw, message::response(&req, 200, "OK", None)),
        }
    }

    /// The runner finished its steps (or the operator hangs up): BYE to the caller.
    pub(super) fn end_app(&mut self) {
        self.send_bye_a();
        self.finish(HangupCause::NormalClearing);
    }

    pub(super) fn on_play_done(&mut self, id: u64) {
        if let Some(app) = self.app.as_ref() {
            let _ = app.done.send(id);
        }
        if let Some(p) = self.prompt.as_ref() {
            let _ = p.send(id);
        }
        self.file_played(id);
    }
}
