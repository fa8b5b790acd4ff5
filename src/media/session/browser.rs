//! The session's side of browser legs: a datagram on such a leg's socket
//! goes to its WebRTC stack ([`crate::media::webrtc`]) and what comes out as
//! RTP goes on like any leg's; the stacks' timers run on the session's tick.

use std::net::SocketAddr;
use std::time::Instant;

use super::tick::Engine;
use super::SessionEvent;

impl Engine {
    /// A datagram on a browser leg's socket: STUN, DTLS or SRTP, for its
    /// WebRTC stack; what comes out as RTP goes on like any leg's.
    pub(super) async fn on_browser_datagram(
        &mut self,
        i: usize,
        pkt: &[u8],
        src: SocketAddr,
    ) -> bool {
        let mut out = crate::media::webrtc::Outputs::default();
        if let Some(Ok(mut leg)) = self.ios[i].webrtc.as_ref().map(|w| w.lock()) {
            leg.receive(Instant::now(), src, pkt, &mut out);
        }
        self.ios[i].transmit(&out).await;
        if out.disconnected {
            self.browser_gone(i);
        }
        let mut relayed = false;
        for rtp in &out.rtp {
            relayed |= self.on_plain_rtp(i, rtp).await;
        }
        relayed
    }

    /// Browser legs' timers (DTLS retransmissions, ICE consent, their RTCP).
    pub(super) async fn browser_timers(&mut self, now: Instant) {
        let mut gone = Vec::new();
        for (i, io) in self.ios.iter().enumerate() {
            let Some(w) = io.webrtc.as_ref() else {
                continue;
            };
            let mut out = crate::media::webrtc::Outputs::default();
            if let Ok(mut leg) = w.lock() {
                leg.on_timeout(now, &mut out);
            }
            io.transmit(&out).await;
            if out.disconnected {
                gone.push(i);
            }
        }
        for i in gone {
            self.browser_gone(i);
        }
    }

    /// Slot `i`'s browser is gone: its call is told (once; the leg stops
    /// being a browser leg, so nothing more is sent to it).
    pub(super) fn browser_gone(&mut self, i: usize) {
        if self.ios[i].webrtc.take().is_some() {
            let leg = self.leg_at(i);
            tracing::debug!(%leg, "browser leg gone");
            self.emit(SessionEvent::MediaGone { leg });
        }
    }
}
