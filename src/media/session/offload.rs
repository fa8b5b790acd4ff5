//! A session's legs on the relay plane ([`crate::media::relay::plane`]): while
//! every leg of the call only forwards — bridged to a peer with the same codec,
//! nothing played, not recorded, not in a conference, no browser — the session
//! parks its sockets and hands them with each leg's latching state and codec
//! state to a relay thread, and waits for its next command. There a packet is
//! latched, counted for the leg's figures, peeked at for digits (telephone-event
//! or, for G.711 without it, in-band tones) and sent on — the same rules as the
//! session's own relay path (`tick`). Before acting on any command the session
//! takes everything back.

use std::any::Any;
use std::net::SocketAddr;
use std::os::fd::{AsFd, BorrowedFd};
use std::sync::Arc;
use std::time::Instant;
use tokio::sync::mpsc;

use super::{looks_like_rtcp, looks_like_rtp, owned, Figures, LegMedia, SessionEvent};
use crate::ids::LegId;
use crate::media::ports::ParkedPair;
use crate::media::relay::plane::Relayed;
use crate::media::relay::Peer;
use crate::media::rtp::RtpPacket;
use crate::metrics::Metrics;

/// Packets a session relays itself, with no command between them, before it
/// hands the call to the plane (a call that carries no media never moves, and
/// a burst of commands does not move it back and forth).
pub(super) const SETTLE_PACKETS: u32 = 32;

/// One leg on the plane.
pub(super) struct OffLeg {
    pub id: LegId,
    pub pair: ParkedPair,
    pub peer: Peer,
    pub media: Option<LegMedia>,
    /// Index in the unit's legs of the leg its packets go to.
    pub to: Option<usize>,
}

/// A call's legs as a relay unit.
pub(super) struct Offloaded {
    pub legs: Vec<OffLeg>,
    figures: Figures,
    events: mpsc::UnboundedSender<SessionEvent>,
    metrics: Arc<Metrics>,
    relayed: u64,
    dropped: u64,
}

impl Offloaded {
    pub fn new(
        legs: Vec<OffLeg>,
        figures: Figures,
        events: mpsc::UnboundedSender<SessionEvent>,
        metrics: Arc<Metrics>,
    ) -> Self {
        Offloaded {
            legs,
            figures,
            events,
            metrics,
            relayed: 0,
            dropped: 0,
        }
    }

    /// An RTP datagram on leg `i`: true when it was forwarded.
    fn rtp(&mut self, i: usize, pkt: &[u8], src: SocketAddr, now: Instant) -> bool {
        let leg = &mut self.legs[i];
        if !looks_like_rtp(pkt) || !leg.peer.latch_rtp(src) {
            return false;
        }
        if let Some(m) = leg.media.as_mut() {
            m.observe_relayed(now, pkt);
            if m.negotiated().te_pt == Some(pkt[1] & 0x7f) {
                if let Ok(p) = RtpPacket::parse(owned(pkt)) {
                    m.on_telephone_event(now, &p);
                }
            }
            while let Some((event, source)) = m.poll_dtmf() {
                let _ = self.events.send(SessionEvent::Dtmf {
                    leg: leg.id,
                    event,
                    source,
                });
            }
        }
        let Some(j) = leg.to else { return false };
        let to = &self.legs[j];
        match to.peer.rtp {
            Some(dst) => to.pair.rtp.send_to(pkt, dst).is_ok(),
            None => false,
        }
    }

    /// An RTCP datagram on leg `i`: noted, and forwarded end to end.
    fn rtcp(&mut self, i: usize, pkt: &[u8], src: SocketAddr, now: Instant) {
        let leg = &mut self.legs[i];
        if looks_like_rtcp(pkt) && leg.peer.latch_rtcp(src) {
            if let Some(m) = leg.media.as_mut() {
                m.on_rtcp(now, pkt);
            }
        }
        if leg.peer.rtcp != Some(src) {
            return;
        }
        if let Some(to) = leg.to.map(|j| &self.legs[j]) {
            if let Some(dst) = to.peer.rtcp {
                let _ = to.pair.rtcp.send_to(pkt, dst);
            }
        }
    }
}

impl Relayed for Offloaded {
    fn fds(&self) -> Vec<BorrowedFd<'_>> {
        self.legs
            .iter()
            .flat_map(|l| [l.pair.rtp.as_fd(), l.pair.rtcp.as_fd()])
            .collect()
    }

    fn readable(&mut self, k: usize, now: Instant, buf: &mut [u8]) {
        let (i, rtcp) = (k / 2, k % 2 == 1);
        let Some(leg) = self.legs.get(i) else { return };
        let sock = if rtcp { &leg.pair.rtcp } else { &leg.pair.rtp };
        // an error (an ICMP report for a datagram we sent) is consumed by the read
        let Ok((n, src)) = sock.recv_from(buf) else {
            return;
        };
        let pkt = &buf[..n];
        if rtcp {
            self.rtcp(i, pkt, src, now);
        } else if self.rtp(i, pkt, src, now) {
            self.relayed += 1;
        } else {
            self.dropped += 1;
        }
    }

    fn flush(&mut self) {
        if let Ok(mut f) = self.figures.lock() {
            for l in &self.legs {
                if let Some(m) = l.media.as_ref() {
                    f.insert(l.id, m.stats());
                }
            }
        }
        super::count_packets(&self.metrics, &mut self.relayed, &mut self.dropped);
    }

    fn into_any(self: Box<Self>) -> Box<dyn Any + Send> {
        self
    }
}

impl super::tick::Engine {
    /// Every leg only forwards (or, unbridged and without a codec, drops what
    /// it gets): nothing here needs the session's own task.
    pub(super) fn can_offload(&self) -> bool {
        self.rec.is_none()
            && self.conf.is_none()
            && self.ios.iter().all(|io| io.webrtc.is_none())
            && (0..self.slots.len()).any(|i| self.peer_of(i).is_some())
            && (0..self.slots.len()).all(|i| {
                let s = &self.slots[i];
                s.play.is_none()
                    && !s.media.as_ref().is_some_and(LegMedia::sending_digit)
                    && match self.peer_of(i) {
                        Some(_) => self.forwards(i),
                        None => s.media.is_none(),
                    }
            })
    }

    /// Parks every leg's sockets and moves them with their latching and codec
    /// state into a relay unit. `None` (everything taken back) when a socket
    /// could not be parked.
    pub(super) fn hand_off(
        &mut self,
        figures: Figures,
        metrics: Arc<Metrics>,
    ) -> Option<Offloaded> {
        let ios = std::mem::take(&mut self.ios);
        let mut legs = Vec::with_capacity(ios.len());
        let mut lost = false;
        for (i, io) in ios.into_iter().enumerate() {
            let id = self.slots[i].id;
            match io.pair.park() {
                Ok(pair) => legs.push(OffLeg {
                    id,
                    pair,
                    peer: io.peer,
                    media: self.slots[i].media.take(),
                    to: None,
                }),
                Err(e) => {
                    tracing::error!(error = %e, leg = %id, "leg's sockets could not be parked; its media is lost");
                    lost = true;
                }
            }
        }
        for k in 0..legs.len() {
            let peer = self.find(legs[k].id).and_then(|i| self.slots[i].peer);
            legs[k].to = peer.and_then(|p| legs.iter().position(|l| l.id == p));
        }
        let unit = Offloaded::new(legs, figures, self.events.clone(), metrics);
        if !lost {
            return Some(unit);
        }
        self.take_back(Some(unit));
        None
    }

    /// Takes the legs back from a unit (`None`: the unit failed on the plane and
    /// its sockets are gone). A leg whose sockets did not come back leaves the
    /// session with `MediaGone`, so its call hangs it up.
    pub(super) fn take_back(&mut self, unit: Option<Offloaded>) {
        let mut legs: Vec<Option<OffLeg>> = unit
            .map(|u| u.legs.into_iter().map(Some).collect())
            .unwrap_or_default();
        let mut lost = Vec::new();
        for s in &mut self.slots {
            let leg = legs
                .iter_mut()
                .find(|l| l.as_ref().is_some_and(|l| l.id == s.id))
                .and_then(Option::take);
            let Some(OffLeg {
                pair, peer, media, ..
            }) = leg
            else {
                lost.push(s.id);
                continue;
            };
            s.media = media;
            match pair.unpark() {
                Ok(pair) => self.ios.push(super::LegIo {
                    pair,
                    peer,
                    webrtc: None,
                }),
                Err(e) => {
                    tracing::error!(error = %e, leg = %s.id, "leg's sockets could not be taken back; its media is lost");
                    lost.push(s.id);
                }
            }
        }
        for id in lost {
            self.unbridge(id);
            self.slots.retain(|s| s.id != id);
            let _ = self.events.send(SessionEvent::MediaGone { leg: id });
        }
    }
}
