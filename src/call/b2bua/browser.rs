//! Browser legs: a side of the call whose SDP is WebRTC's (ICE, DTLS-SRTP,
//! `UDP/TLS/RTP/SAVPF`) is terminated by the switch ([`crate::media::webrtc`])
//! rather than relayed. At the edge, a browser's SDP becomes its plain
//! equivalent — one codec, the direction, our address — so the rest of the
//! call (relay or transcoding, IVR answers, hold) reasons as for any phone;
//! and any SDP the call sends a browser becomes the WebRTC stack's own offer
//! or answer. Contacts registered over WebSocket are offered WebRTC.

use super::*;
use crate::media::session::negotiate;
use crate::media::webrtc::{Shared, WebRtcLeg};
use crate::sdp::Direction;

/// One side's WebRTC stack and the answer it owes the browser, if any.
pub(super) struct Browser {
    rtc: Shared,
    /// Our answer to the browser's latest offer, sent with the next SDP to it.
    owed: Option<String>,
}

/// The browser sides of a call.
#[derive(Default)]
pub(super) struct Browsers {
    a: Option<Browser>,
    b: Option<Browser>,
}

impl Browsers {
    /// A new B leg: whoever answers it says what it is.
    pub(super) fn clear_b(&mut self) {
        self.b = None;
    }

    fn side(&mut self, side: Side) -> Option<&mut Browser> {
        match side {
            Side::A => self.a.as_mut(),
            Side::B => self.b.as_mut(),
        }
    }
}

/// WebRTC's SDP (what a browser sends): secure RTP with ICE and DTLS.
pub(super) fn is_webrtc_sdp(body: &[u8]) -> bool {
    let text = String::from_utf8_lossy(body);
    text.contains("UDP/TLS/RTP/SAVP") || text.contains("a=fingerprint:")
}

fn direction(sdp: &str) -> Direction {
    crate::sdp::parse_media(sdp)
        .ok()
        .and_then(|s| s.audio)
        .map(|a| a.direction)
        .unwrap_or(Direction::SendRecv)
}

fn to_str0m(d: Direction) -> str0m::media::Direction {
    match d {
        Direction::SendRecv => str0m::media::Direction::SendRecv,
        Direction::SendOnly => str0m::media::Direction::SendOnly,
        Direction::RecvOnly => str0m::media::Direction::RecvOnly,
        Direction::Inactive => str0m::media::Direction::Inactive,
    }
}

impl Call {
    fn webrtc_for(&self, leg: LegId) -> Option<Shared> {
        let port = self.media.as_ref()?.port(leg)?;
        let local = SocketAddr::new(self.public_ip(), port);
        Some(WebRtcLeg::new(local).shared())
    }

    /// The plain equivalent of WebRTC SDP `sdp` (the codec it settles on,
    /// first of its list, and `dir`), as the rest of the call reads it.
    fn plain_sdp(&mut self, sdp: &str, dir: Direction) -> Option<Vec<u8>> {
        let line = negotiate::audio_line(sdp.as_bytes()).ok().flatten()?;
        let mut neg = negotiate::choose(&line)?;
        neg.te_pt = None;
        self.sdp_session += 1;
        Some(
            negotiate::endpoint_sdp(self.public_ip(), 9, "RTP/AVP", &neg, self.sdp_session, dir)
                .into_bytes(),
        )
    }

    /// The caller is a browser: its leg becomes a WebRTC leg and its offer
    /// (in the INVITE the call keeps) the plain equivalent of our answer.
    /// False when the call was ended (no ports, unusable SDP).
    pub(super) fn browser_caller(&mut self) -> bool {
        if !is_webrtc_sdp(&self.a_invite.body) || self.browsers.a.is_some() {
            return true;
        }
        if !self.ensure_media() {
            return false;
        }
        let a_leg = self.leg(Side::A);
        let offer = String::from_utf8_lossy(&self.a_invite.body).into_owned();
        let answered = self.webrtc_for(a_leg).and_then(|rtc| {
            let answer = rtc.lock().ok()?.accept_offer(&offer).ok()?;
            Some((rtc, answer))
        });
        let plain = answered
            .as_ref()
            .and_then(|(_, answer)| self.plain_sdp(answer, direction(&offer)));
        let (Some((rtc, answer)), Some(plain)) = (answered, plain) else {
            tracing::info!(call = %self.id, "unusable WebRTC offer");
            let r = message::response(
                &self.a_invite,
                488,
                "Not Acceptable Here - Unusable WebRTC Offer",
                Some(&self.a_tag),
            );
            self.respond_a(r);
            self.finish(HangupCause::CallRejected);
            return false;
        };
        if let Some(m) = self.media.as_ref() {
            m.send(session::Cmd::WebRtc {
                leg: a_leg,
                rtc: rtc.clone(),
            });
        }
        self.browsers.a = Some(Browser {
            rtc,
            owed: Some(answer),
        });
        let mut inv = self.a_invite.clone();
        message::set_body(
            &mut inv.headers,
            &mut inv.body,
            plain,
            Some("application/sdp"),
        );
        self.a_invite = inv;
        true
    }

    /// An offer from `side` (a re-INVITE, hold): when that side is a browser,
    /// our answer is owed to it and `body` becomes the plain equivalent.
    pub(super) fn browser_offer_in(&mut self, side: Side, body: &mut Vec<u8>) {
        let Some(b) = self.browsers.side(side) else {
            return;
        };
        let offer = String::from_utf8_lossy(body).into_owned();
        let answer = match b.rtc.lock().map(|mut r| r.accept_offer(&offer)) {
            Ok(Ok(a)) => a,
            Ok(Err(e)) => return tracing::info!(call = %self.id, "browser offer: {e}"),
            Err(_) => return,
        };
        b.owed = Some(answer.clone());
        if let Some(plain) = self.plain_sdp(&answer, direction(&offer)) {
            *body = plain;
        }
    }

    /// An answer from `side` to our offer: when that side is a browser, its
    /// stack takes it and `body` becomes the plain equivalent.
    pub(super) fn browser_answer_in(&mut self, side: Side, body: &mut Vec<u8>) {
        let Some(rtc) = self.browsers.side(side).map(|b| b.rtc.clone()) else {
            return;
        };
        self.take_answer(&rtc, body);
    }

    /// `rtc` takes the browser's answer in `body`, which becomes its plain equivalent.
    fn take_answer(&mut self, rtc: &Shared, body: &mut Vec<u8>) {
        let answer = String::from_utf8_lossy(body).into_owned();
        if let Ok(Err(e)) = rtc.lock().map(|mut r| r.accept_answer(&answer)) {
            tracing::info!(call = %self.id, "browser answer: {e}");
        }
        if let Some(plain) = self.plain_sdp(&answer, direction(&answer)) {
            *body = plain;
        }
    }

    /// SDP the call sends to `side`: for a browser, the answer owed to it
    /// (`done`: the final one of that exchange), else a WebRTC offer in the
    /// plain body's direction.
    pub(super) fn browser_out(&mut self, side: Side, body: Vec<u8>, done: bool) -> Vec<u8> {
        let Some(b) = self.browsers.side(side) else {
            return body;
        };
        if let Some(answer) = b.owed.as_ref() {
            let answer = answer.clone().into_bytes();
            if done {
                b.owed = None;
            }
            return answer;
        }
        let dir = direction(&String::from_utf8_lossy(&body));
        match b.rtc.lock().map(|mut r| r.create_offer(to_str0m(dir))) {
            Ok(Ok(offer)) => offer.into_bytes(),
            _ => body,
        }
    }

    /// The leg the forks ring: the first leg of a call the switch places,
    /// else the B leg of this dial round.
    pub(super) fn forked_side(&self) -> (Side, LegId) {
        if self.a_forking {
            (Side::A, self.leg(Side::A))
        } else {
            (Side::B, self.b_leg)
        }
    }

    /// The offer a fork to a browser carries (a WebRTC stack for `leg`, in
    /// the direction of the plain offer the other forks carry).
    pub(super) fn browser_fork_offer(
        &mut self,
        plain: Option<&[u8]>,
        leg: LegId,
    ) -> Option<(Shared, Vec<u8>)> {
        let rtc = self.webrtc_for(leg)?;
        let dir = plain
            .map(|p| direction(&String::from_utf8_lossy(p)))
            .unwrap_or(Direction::SendRecv);
        let offer = rtc.lock().ok()?.create_offer(to_str0m(dir)).ok()?;
        Some((rtc, offer.into_bytes()))
    }

    /// Fork `i` to a browser answered: its stack becomes the ringing leg's
    /// and the answer the plain equivalent the call goes on with.
    pub(super) fn browser_fork_answered(&mut self, i: usize, resp: &mut rsip::Response) {
        let Some(rtc) = self.forks[i].webrtc.take() else {
            return;
        };
        let (side, leg) = self.forked_side();
        let wins = !self.ended
            && match side {
                Side::A => self.a_forking,
                Side::B => {
                    self.b.is_none()
                        && ((self.endpoint && self.dialing.is_some()) || !self.a_final_sent)
                }
            };
        if !wins {
            return; // a fork that lost the race is released; its stack goes with it
        }
        let browser = Some(Browser {
            rtc: rtc.clone(),
            owed: None,
        });
        match side {
            Side::A => self.browsers.a = browser,
            Side::B => self.browsers.b = browser,
        }
        self.attach_browser(leg, rtc, resp);
    }

    /// `leg`'s media is a browser's from now on: the session gets its stack,
    /// which takes the answer in `resp`; the body becomes its plain equivalent.
    pub(super) fn attach_browser(&mut self, leg: LegId, rtc: Shared, resp: &mut rsip::Response) {
        if let Some(m) = self.media.as_ref() {
            m.send(session::Cmd::WebRtc {
                leg,
                rtc: rtc.clone(),
            });
        }
        if !is_sdp(&resp.headers, &resp.body) {
            return;
        }
        let mut body = std::mem::take(&mut resp.body);
        self.take_answer(&rtc, &mut body);
        message::set_body(
            &mut resp.headers,
            &mut resp.body,
            body,
            Some("application/sdp"),
        );
    }

    /// Whether `side` is a browser's.
    pub(super) fn is_browser(&self, side: Side) -> bool {
        match side {
            Side::A => self.browsers.a.is_some(),
            Side::B => self.browsers.b.is_some(),
        }
    }

    /// A browser B leg re-offers (hold, resume) on a call the switch answered:
    /// its stack answers, and the caller hears music while it holds.
    pub(super) fn browser_hold_here(&mut self, tx: TxId, req: &rsip::Request) {
        let holds =
            crate::sdp::parse_media(&String::from_utf8_lossy(&req.body)).is_ok_and(|s| s.is_hold());
        self.hold_music(Side::B, holds);
        let tag = self
            .b
            .as_ref()
            .map(|b| b.dialog.local_tag.clone())
            .unwrap_or_default();
        let mut r = message::response(req, 200, "OK", Some(&tag));
        let body = self.browser_out(Side::B, Vec::new(), true);
        message::set_body(&mut r.headers, &mut r.body, body, Some("application/sdp"));
        let kind = self
            .b
            .as_ref()
            .map(|b| b.target.kind)
            .unwrap_or(TransportKind::Wss);
        r.headers
            .push(rsip::Header::Contact(rsip::headers::Contact::from(
                self.contact(kind),
            )));
        let cid = message::call_id(&req.headers).unwrap_or("").to_string();
        self.sw.to_shard(&cid, ShardMsg::Respond { tx, resp: r });
    }
}
