//! A browser's media leg, sans-IO: ICE-lite, DTLS-SRTP, rtcp-mux and BUNDLE
//! by [str0m] in RTP mode, so the media session keeps its own jitter buffers,
//! codecs and relay and sees plain RTP either way. The call's task negotiates
//! (offer/answer in the browser's SDP dialect) and the session's task moves
//! datagrams; both reach one [`WebRtcLeg`] through a [`Shared`] handle.
//!
//! One UDP socket (the leg's RTP port) carries STUN, DTLS and SRTP (RFC 7983
//! demultiplexing is str0m's); the switch's host candidate is that socket's
//! public address. Telephone-events are not negotiated with the browser: its
//! digits come as SIP INFO (JsSIP's default).

use bytes::Bytes;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Instant;

use str0m::change::{SdpAnswer, SdpOffer, SdpPendingOffer};
use str0m::media::{Direction, MediaKind, Mid};
use str0m::net::{Protocol, Receive};
use str0m::rtp::{ExtensionValues, SeqNo};
use str0m::{Candidate, Event, IceConnectionState, Input, Output, Rtc};

/// The leg as both tasks hold it.
pub type Shared = Arc<Mutex<WebRtcLeg>>;

#[derive(Debug, thiserror::Error)]
pub enum WebRtcError {
    #[error("unreadable WebRTC SDP: {0}")]
    Sdp(String),
    #[error("WebRTC negotiation failed: {0}")]
    Negotiation(String),
    #[error("an answer came with no offer of ours pending")]
    NoOffer,
}

/// What a datagram or a timeout produced.
#[derive(Default)]
pub struct Outputs {
    /// Datagrams to send from the leg's socket.
    pub transmit: Vec<(SocketAddr, Vec<u8>)>,
    /// Decrypted RTP packets from the browser (plain RTP datagrams).
    pub rtp: Vec<Bytes>,
    /// The browser's media path is up (ICE and DTLS done).
    pub connected: bool,
    /// The browser went away (ICE disconnected after the path was up: consent expired).
    pub disconnected: bool,
}

pub struct WebRtcLeg {
    rtc: Rtc,
    local: SocketAddr,
    mid: Option<Mid>,
    pending: Option<SdpPendingOffer>,
    /// Extended sequence numbers of what we send (roll-over counted here).
    tx_seq: Option<SeqNo>,
    last_seq: u16,
    next_timeout: Option<Instant>,
    /// The latest time handed in (str0m's clock must never go back).
    clock: Option<Instant>,
    /// Packets written and not released yet (the next timeout sends them).
    unreleased: bool,
    /// The media path was up once (a later ICE disconnect is the browser gone).
    was_connected: bool,
    /// The browser is gone (sticky: whichever call noticed it, the next
    /// datagram or timeout reports it).
    gone: bool,
    /// Packets written before the media path was up (dropped, counted).
    pub early_drops: u64,
}

impl WebRtcLeg {
    /// A leg whose media comes and goes through the socket at `local` (the
    /// address written as our host candidate).
    pub fn new(local: SocketAddr) -> Self {
        let mut rtc = Rtc::builder()
            .set_ice_lite(true)
            .set_rtp_mode(true)
            .clear_codecs()
            .enable_opus(true)
            .enable_pcmu(true)
            .set_stats_interval(None)
            .build();
        if let Ok(c) = Candidate::host(local, "udp") {
            rtc.add_local_candidate(c);
        }
        WebRtcLeg {
            rtc,
            local,
            mid: None,
            pending: None,
            tx_seq: None,
            last_seq: 0,
            next_timeout: None,
            clock: None,
            unreleased: false,
            was_connected: false,
            gone: false,
            early_drops: 0,
        }
    }

    pub fn shared(self) -> Shared {
        Arc::new(Mutex::new(self))
    }

    /// The browser's offer: our answer, in its dialect.
    pub fn accept_offer(&mut self, sdp: &str) -> Result<String, WebRtcError> {
        let offer = SdpOffer::from_sdp_string(sdp).map_err(|e| WebRtcError::Sdp(e.to_string()))?;
        let answer = self
            .rtc
            .sdp_api()
            .accept_offer(offer)
            .map_err(|e| WebRtcError::Negotiation(e.to_string()))?;
        self.pending = None;
        let answer = answer.to_sdp_string();
        if self.mid.is_none() {
            self.mid = first_mid(&answer);
        }
        Ok(answer)
    }

    /// Our offer to the browser: audio in `direction` (a new stream the
    /// first time, the same one with a new direction after that).
    pub fn create_offer(&mut self, direction: Direction) -> Result<String, WebRtcError> {
        let mut api = self.rtc.sdp_api();
        match self.mid {
            Some(mid) => api.set_direction(mid, direction),
            None => {
                let mid = api.add_media(MediaKind::Audio, direction, None, None, None);
                self.mid = Some(mid);
            }
        }
        let (offer, pending) = api
            .apply()
            .ok_or_else(|| WebRtcError::Negotiation("nothing to offer".into()))?;
        self.pending = Some(pending);
        Ok(offer.to_sdp_string())
    }

    /// The browser's answer to our pending offer.
    pub fn accept_answer(&mut self, sdp: &str) -> Result<(), WebRtcError> {
        let pending = self.pending.take().ok_or(WebRtcError::NoOffer)?;
        let answer =
            SdpAnswer::from_sdp_string(sdp).map_err(|e| WebRtcError::Sdp(e.to_string()))?;
        self.rtc
            .sdp_api()
            .accept_answer(pending, answer)
            .map_err(|e| WebRtcError::Negotiation(e.to_string()))?;
        Ok(())
    }

    /// Whether an offer of ours waits for the browser's answer.
    pub fn offer_pending(&self) -> bool {
        self.pending.is_some()
    }

    /// `now`, or the latest time already handed in if that is later (the
    /// session's tick and its socket reads read the clock apart).
    fn monotonic(&mut self, now: Instant) -> Instant {
        let t = self.clock.map_or(now, |c| c.max(now));
        self.clock = Some(t);
        t
    }

    /// Hands str0m one input; false when it refused it. The WebRTC stack is
    /// not ours: a panic inside it ends this leg (the call hangs it up), not
    /// the session's task with every other leg of the call.
    fn input(&mut self, input: Input<'_>) -> bool {
        let rtc = &mut self.rtc;
        match std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| rtc.handle_input(input))) {
            Ok(r) => r.is_ok(),
            Err(_) => {
                tracing::error!("the WebRTC stack panicked: the browser leg ends");
                self.gone = true;
                false
            }
        }
    }

    /// A datagram that arrived on the leg's socket from `source`.
    pub fn receive(&mut self, now: Instant, source: SocketAddr, data: &[u8], out: &mut Outputs) {
        let now = self.monotonic(now);
        let Ok(rx) = Receive::new(Protocol::Udp, source, self.local, data) else {
            return;
        };
        if self.next_timeout.is_none() && !self.gone {
            // str0m's DTLS wants a first timeout before any packet (a browser's
            // ClientHello can beat the session's first tick)
            if self.input(Input::Timeout(now)) {
                self.drain(out);
            }
        }
        if !self.gone && self.input(Input::Receive(now, rx)) {
            self.drain(out);
        }
        out.disconnected = self.gone;
    }

    /// Time passes: retransmissions, consent, RTCP.
    pub fn on_timeout(&mut self, now: Instant, out: &mut Outputs) {
        let now = self.monotonic(now);
        let due = self.next_timeout.is_none_or(|t| now >= t);
        if (due || std::mem::take(&mut self.unreleased))
            && !self.gone
            && self.input(Input::Timeout(now))
        {
            self.drain(out);
        }
        // (once the peer is gone str0m refuses input: the flag still tells)
        out.disconnected = self.gone;
    }

    /// Sends one plain RTP datagram (ours or a peer's) to the browser,
    /// encrypted; dropped while the media path is not up yet. str0m releases
    /// a written packet when time advances: with `release` at once, else at
    /// the next [`on_timeout`](Self::on_timeout).
    pub fn send_rtp(&mut self, now: Instant, pkt: &[u8], release: bool, out: &mut Outputs) -> bool {
        if pkt.len() < 12 || self.gone || !self.rtc.is_connected() {
            self.early_drops += 1;
            return false;
        }
        let Some(mid) = self.mid else {
            return false;
        };
        let now = self.monotonic(now);
        let cc = usize::from(pkt[0] & 0x0f);
        let mut start = 12 + 4 * cc;
        if pkt[0] & 0x10 != 0 && pkt.len() >= start + 4 {
            let words = usize::from(u16::from_be_bytes([pkt[start + 2], pkt[start + 3]]));
            start += 4 + 4 * words;
        }
        if start > pkt.len() {
            return false;
        }
        let marker = pkt[1] & 0x80 != 0;
        let pt = pkt[1] & 0x7f;
        let seq = u16::from_be_bytes([pkt[2], pkt[3]]);
        let ts = u32::from_be_bytes([pkt[4], pkt[5], pkt[6], pkt[7]]);
        let seq_no = self.extend(seq);
        let mut api = self.rtc.direct_api();
        let Some(tx) = api.stream_tx_by_mid(mid, None) else {
            return false;
        };
        let written = tx
            .write_rtp(
                pt.into(),
                seq_no,
                ts,
                now,
                marker,
                ExtensionValues::default(),
                false,
                pkt[start..].to_vec(),
            )
            .is_ok();
        if !release {
            self.unreleased = written || self.unreleased;
        } else if self.input(Input::Timeout(now)) {
            self.drain(out);
        }
        written
    }

    /// Our sequence number `seq` as str0m's extended one (roll-overs counted).
    fn extend(&mut self, seq: u16) -> SeqNo {
        let ext: u64 = match self.tx_seq {
            None => u64::from(seq),
            Some(prev) => {
                let prev = *prev;
                let roc = prev >> 16;
                let diff = seq.wrapping_sub(self.last_seq) as i16;
                let cand = (roc << 16) | u64::from(seq);
                if diff > 0 && seq < self.last_seq {
                    cand + (1 << 16) // wrapped forward
                } else if diff < 0 && seq > self.last_seq && roc > 0 {
                    cand - (1 << 16) // a late packet from before the wrap
                } else {
                    cand
                }
            }
        };
        let s = SeqNo::from(ext);
        if self.tx_seq.is_none_or(|p| ext > *p) {
            self.tx_seq = Some(s);
            self.last_seq = seq;
        }
        s
    }

    fn drain(&mut self, out: &mut Outputs) {
        loop {
            let rtc = &mut self.rtc;
            let polled =
                std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| rtc.poll_output()));
            let Ok(polled) = polled else {
                tracing::error!("the WebRTC stack panicked: the browser leg ends");
                self.gone = true;
                return;
            };
            match polled {
                Ok(Output::Timeout(t)) => {
                    self.next_timeout = Some(t);
                    return;
                }
                Ok(Output::Transmit(t)) => out.transmit.push((t.destination, t.contents.into())),
                Ok(Output::Event(ev)) => match ev {
                    Event::RtpPacket(p) => out.rtp.push(plain_rtp(&p)),
                    Event::Connected => {
                        out.connected = true;
                        self.was_connected = true;
                    }
                    Event::MediaAdded(m) if self.mid.is_none() => self.mid = Some(m.mid),
                    // (str0m reports one spurious disconnect before the path is up)
                    Event::IceConnectionStateChange(IceConnectionState::Disconnected)
                        if self.was_connected =>
                    {
                        tracing::debug!("browser leg: ICE consent lapsed");
                        self.gone = true
                    }
                    _ => {}
                },
                Err(e) => {
                    tracing::debug!("webrtc leg: {e}");
                    return;
                }
            }
        }
    }
}

/// The `a=mid` of the first media section.
fn first_mid(sdp: &str) -> Option<Mid> {
    sdp.lines()
        .find_map(|l| l.trim().strip_prefix("a=mid:"))
        .map(|m| Mid::from(m.trim()))
}

/// A received packet as a plain RTP datagram (fixed header, no extensions).
fn plain_rtp(p: &str0m::rtp::RtpPacket) -> Bytes {
    let h = &p.header;
    let mut b = Vec::with_capacity(12 + p.payload.len());
    b.push(0x80);
    b.push((u8::from(h.marker) << 7) | (*h.payload_type & 0x7f));
    b.extend_from_slice(&h.sequence_number.to_be_bytes());
    b.extend_from_slice(&h.timestamp.to_be_bytes());
    b.extend_from_slice(&h.ssrc.to_be_bytes());
    b.extend_from_slice(&p.payload);
    Bytes::from(b)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    /// The switch offers (as to a ringing browser), a str0m peer answers
    /// (the browser, DTLS client), and the peer's first packets reach the
    /// leg before any tick has run: nothing panics, the path comes up, and
    /// RTP crosses both ways.
    #[test]
    fn a_browser_path_comes_up_when_its_packets_beat_the_first_tick() {
        let l_addr: SocketAddr = "127.0.0.1:40000".parse().expect("addr");
        let b_addr: SocketAddr = "127.0.0.1:50000".parse().expect("addr");
        let mut leg = WebRtcLeg::new(l_addr);
        let offer = leg.create_offer(Direction::SendRecv).expect("offer");
        assert!(
            offer.contains("a=ice-lite") && offer.contains("a=fingerprint"),
            "{offer}"
        );
        let mut browser = Rtc::builder().set_rtp_mode(true).build();
        browser.add_local_candidate(Candidate::host(b_addr, "udp").expect("candidate"));
        let answer = browser
            .sdp_api()
            .accept_offer(SdpOffer::from_sdp_string(&offer).expect("parse"))
            .expect("the browser answers");
        leg.accept_answer(&answer.to_sdp_string())
            .expect("the leg takes it");
        assert!(
            leg.accept_answer(&answer.to_sdp_string()).is_err(),
            "no offer pending"
        );

        let mut now = Instant::now();
        let mut got_at_leg = 0;
        let mut got_at_browser = 0;
        let mut out = Outputs::default();
        for tick in 0..300 {
            let _ = browser.handle_input(Input::Timeout(now));
            while let Ok(o) = browser.poll_output() {
                match o {
                    Output::Transmit(t) => leg.receive(now, b_addr, &t.contents, &mut out),
                    Output::Event(Event::RtpPacket(_)) => got_at_browser += 1,
                    Output::Timeout(_) => break,
                    _ => {}
                }
            }
            if tick > 0 {
                // the session's ticks start late on purpose
                leg.on_timeout(now, &mut out);
            }
            if leg.rtc.is_connected() {
                let pkt = [
                    0x80, 111, 0, tick as u8, 0, 0, 0, 160, 1, 2, 3, 4, 0xff, 0xff,
                ];
                leg.send_rtp(now, &pkt, true, &mut out);
            }
            got_at_leg += out.rtp.len();
            for (_, d) in out.transmit.drain(..) {
                if let Ok(r) = Receive::new(Protocol::Udp, l_addr, b_addr, &d) {
                    let _ = browser.handle_input(Input::Receive(now, r));
                }
            }
            out.rtp.clear();
            if browser.is_connected() {
                let mut api = browser.direct_api();
                if let Some(tx) = api.stream_tx_by_mid(leg.mid.expect("mid"), None) {
                    let _ = tx.write_rtp(
                        111.into(),
                        (u64::from(tick as u32) + 1).into(),
                        tick as u32 * 160,
                        now,
                        false,
                        ExtensionValues::default(),
                        false,
                        vec![0xff; 160],
                    );
                }
            }
            now += Duration::from_millis(20);
        }
        assert!(!leg.gone, "the leg must not have given up");
        assert!(
            leg.rtc.is_connected() && browser.is_connected(),
            "the path came up"
        );
        assert!(
            got_at_leg > 100,
            "RTP from the browser reached the leg: {got_at_leg}"
        );
        assert!(
            got_at_browser > 100,
            "RTP from the leg reached the browser: {got_at_browser}"
        );
    }
}
