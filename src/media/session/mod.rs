//! The media session of a call: one task owns the RTP/RTCP sockets of every
//! leg of the call (a port pair per leg, attached and detached as legs come
//! and go) and decides per packet and per 20 ms tick what happens to audio:
//!
//! - **relay** (two bridged legs speak the same codec, nothing played to the
//!   receiver): packets are forwarded untouched with symmetric latching;
//!   telephone-event packets are peeked at for digit events;
//! - **endpoint** (a leg bridged to nothing: an IVR, a prompt, a queue caller):
//!   received audio goes through the leg's jitter buffer and decoder ([`leg`]),
//!   a paced 20 ms frame from the playback source (or silence) is encoded and sent;
//! - **transcode** (bridged legs negotiated different codecs): each tick decodes
//!   one frame per leg, resamples and re-encodes it for its peer;
//! - **mix** (legs in the session's conference, [`mix`]): each hears the others
//!   as its role allows — a supervisor's listen, whisper or barge;
//! - a **recording** taps one leg and what it hears in any mode.
//!
//! The call task drives it with [`Cmd`]s naming legs by their [`LegId`] and
//! hears [`SessionEvent`]s back. The socket loop here only moves bytes; the
//! decisions are in `tick`. Once a call's legs only forward, the session hands
//! them to the relay plane's threads until its next command (`offload`).

mod browser;
pub mod leg;
mod mix;
pub mod negotiate;
mod offload;
mod tick;

use bytes::Bytes;
use std::collections::HashMap;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::atomic::Ordering::Relaxed;
use std::sync::Arc;
use std::task::Poll;
use tokio::io::ReadBuf;
use tokio::sync::mpsc;
use tokio::time::Instant;

use super::dtmf::DtmfEvent;
use super::playback::Source;
use super::ports::PortPair;
use super::record::RecordingInfo;
use super::relay::Peer;
use super::rtp::{Pacer, SendOutcome};
use crate::ids::LegId;
use crate::metrics::Metrics;
pub use leg::{DtmfSource, LegMedia, LegStats, PTIME};
pub use mix::{MixRole, MIX_RATE};
pub use negotiate::Negotiated;
use tick::Engine;

/// What the call task tells its media session.
pub enum Cmd {
    /// A leg joins the session with its own port pair (it hears silence until
    /// it is bridged or played to, once it has a codec).
    AddLeg { leg: LegId, pair: PortPair },
    /// A leg leaves: its ports are released at once, its figures reported.
    RemoveLeg { leg: LegId },
    /// `a` and `b` hear each other (relay when their codecs match, else transcoding);
    /// either's previous bridge ends.
    Bridge { a: LegId, b: LegId },
    /// The leg's bridge ends (both sides then hear silence or what is played).
    Unbridge { leg: LegId },
    /// The leg joins the session's conference in `role` (or changes role):
    /// it hears the mix of the others instead of its bridged peer.
    Mix { leg: LegId, role: MixRole },
    /// The leg leaves the conference; its bridge, if it has one, carries again.
    Unmix { leg: LegId },
    /// New RTP destination from SDP (offer or answer); resets latching for that leg.
    SetRemote {
        leg: LegId,
        rtp: Option<SocketAddr>,
        rtcp: Option<SocketAddr>,
    },
    /// The IP a leg's SIP signalling comes from: its media may come from there
    /// too (NAT) and latch, besides the SDP's IP.
    SignallingIp { leg: LegId, ip: std::net::IpAddr },
    /// The codec a leg negotiated (`None`: unknown, relay untouched).
    SetCodec { leg: LegId, neg: Option<Negotiated> },
    /// Play `source` to `leg` (replacing what was playing); with `barge_in`
    /// a digit from that leg stops it.
    Play {
        leg: LegId,
        source: Box<dyn Source>,
        barge_in: bool,
        id: u64,
    },
    /// Play back to `leg` what it sends, for `frames` 20 ms frames (echo test);
    /// reported with `PlayDone` like a playback.
    Echo { leg: LegId, frames: u64, id: u64 },
    /// A digit that reached the call another way (SIP INFO): reported like
    /// the session's own, and it barges in on a playback that allows it.
    Digit {
        leg: LegId,
        event: DtmfEvent,
        source: DtmfSource,
    },
    /// Send `digit` to `leg` as RFC 4733 telephone-events (legs the switch
    /// terminates; a relayed leg gets its peer's own events).
    SendDigit {
        leg: LegId,
        digit: crate::media::dtmf::Digit,
        duration_ms: u32,
    },
    /// Whether the switch may send media to `leg` (false when its SDP
    /// answer to that leg said `recvonly` or `inactive`).
    SetSending { leg: LegId, on: bool },
    /// Stop playing to `leg`.
    StopPlay { leg: LegId },
    /// Record `leg` (left) and what it hears (right) to a stereo WAV. With
    /// `silence`, the session reports `Silence` once the leg has sent nothing
    /// louder than a whisper for that long (the recording goes on).
    Record {
        leg: LegId,
        path: PathBuf,
        silence: Option<std::time::Duration>,
    },
    /// Stop the recording (it also stops when the session ends).
    StopRecord,
    /// The leg is a browser's: its socket carries ICE, DTLS and SRTP, which
    /// `rtc` terminates ([`crate::media::webrtc`]); the session sees plain RTP.
    WebRtc {
        leg: LegId,
        rtc: crate::media::webrtc::Shared,
    },
}

/// What the media session reports to its call.
#[derive(Debug)]
pub enum SessionEvent {
    Dtmf {
        leg: LegId,
        event: DtmfEvent,
        source: DtmfSource,
    },
    /// Playback `id` to `leg` ended, played to the end or interrupted.
    PlayDone {
        leg: LegId,
        id: u64,
        interrupted: bool,
    },
    /// A recording was closed.
    Recorded(Result<RecordingInfo, String>),
    /// The recorded leg has been silent for the recording's `silence` time.
    Silence { leg: LegId },
    /// Final figures of a terminated leg, sent when it leaves or the session ends.
    Stats { leg: LegId, stats: LegStats },
    /// A browser leg's media path died (ICE consent lapsed: the tab or its
    /// network went away without a BYE).
    MediaGone { leg: LegId },
}

/// Control handle for a running session; dropping it ends the session.
pub struct SessionHandle {
    tx: mpsc::UnboundedSender<Cmd>,
    figures: Figures,
    ports: HashMap<LegId, u16>,
    /// What the session was told of its topology (bridges, conference roles,
    /// codec clock rates), mirrored for the call's own questions.
    peers: HashMap<LegId, LegId>,
    roles: HashMap<LegId, MixRole>,
    rates: HashMap<LegId, u32>,
}

/// The legs' latest figures, shared with the session (at most 250 ms old).
type Figures = Arc<std::sync::Mutex<HashMap<LegId, LegStats>>>;

impl SessionHandle {
    pub fn send(&self, cmd: Cmd) {
        let _ = self.tx.send(cmd);
    }

    /// Like [`send`](Self::send), keeping the handle's picture of the
    /// session's bridges, conference and codecs; every topology change of the
    /// call goes through here.
    pub fn apply(&mut self, cmd: Cmd) {
        match &cmd {
            Cmd::Bridge { a, b }
                if a != b && self.ports.contains_key(a) && self.ports.contains_key(b) =>
            {
                self.unpeer(*a);
                self.unpeer(*b);
                self.peers.insert(*a, *b);
                self.peers.insert(*b, *a);
            }
            Cmd::Unbridge { leg } => self.unpeer(*leg),
            Cmd::Mix { leg, role } if self.ports.contains_key(leg) => {
                self.roles.insert(*leg, *role);
            }
            Cmd::Unmix { leg } => {
                self.roles.remove(leg);
            }
            Cmd::SetCodec { leg, neg } => match neg {
                Some(n) => {
                    self.rates.insert(*leg, n.codec.clock_rate());
                }
                None => {
                    self.rates.remove(leg);
                }
            },
            _ => {}
        }
        self.send(cmd);
    }

    fn unpeer(&mut self, leg: LegId) {
        if let Some(p) = self.peers.remove(&leg) {
            self.peers.remove(&p);
        }
    }

    /// The leg `leg` is bridged to, as far as the handle was told.
    pub fn peer(&self, leg: LegId) -> Option<LegId> {
        self.peers.get(&leg).copied()
    }

    /// The leg's role in the conference, if it is in it.
    pub fn role(&self, leg: LegId) -> Option<MixRole> {
        self.roles.get(&leg).copied()
    }

    /// The legs in the conference.
    pub fn mixed(&self) -> Vec<LegId> {
        self.roles.keys().copied().collect()
    }

    /// The clock rate of the leg's codec (set with [`Cmd::SetCodec`] through `apply`).
    pub fn rate(&self, leg: LegId) -> Option<u32> {
        self.rates.get(&leg).copied()
    }

    /// A sender for tasks that feed the session on the call's behalf.
    pub fn sender(&self) -> mpsc::UnboundedSender<Cmd> {
        self.tx.clone()
    }

    /// Attaches a leg with its port pair; returns the port its peer must send to.
    pub fn add_leg(&mut self, leg: LegId, pair: PortPair) -> u16 {
        let port = pair.port;
        self.ports.insert(leg, port);
        self.send(Cmd::AddLeg { leg, pair });
        port
    }

    /// Detaches a leg: its ports go back to the pool as soon as the session sees it.
    pub fn remove_leg(&mut self, leg: LegId) {
        self.unpeer(leg);
        self.roles.remove(&leg);
        self.rates.remove(&leg);
        if self.ports.remove(&leg).is_some() {
            self.send(Cmd::RemoveLeg { leg });
        }
    }

    pub fn set_remote(&self, leg: LegId, rtp: Option<SocketAddr>, rtcp: Option<SocketAddr>) {
        self.send(Cmd::SetRemote { leg, rtp, rtcp });
    }

    /// A leg's packet, loss and jitter figures (at most 250 ms old; kept after
    /// the leg left).
    pub fn figures(&self, leg: LegId) -> Option<LegStats> {
        self.figures.lock().ok()?.get(&leg).copied()
    }

    /// The port a leg must send to.
    pub fn port(&self, leg: LegId) -> Option<u16> {
        self.ports.get(&leg).copied()
    }
}

/// One leg's sockets and the address rules of its far end.
pub(crate) struct LegIo {
    pair: PortPair,
    peer: Peer,
    /// A browser's leg: DTLS-SRTP through this (no latching, no RTCP of ours).
    webrtc: Option<crate::media::webrtc::Shared>,
}

impl LegIo {
    /// Sends one plain RTP datagram to the leg: to its latched or SDP address,
    /// or encrypted to a browser — at once with `now`, else with the browser
    /// leg's timers at the end of the tick (one timer pass per leg per tick).
    async fn send_rtp(&self, pkt: &[u8], now: bool) -> bool {
        let Some(w) = self.webrtc.as_ref() else {
            return match self.peer.rtp {
                Some(dst) => self.pair.rtp.send_to(pkt, dst).await.is_ok(),
                None => false,
            };
        };
        let mut out = crate::media::webrtc::Outputs::default();
        let sent = w
            .lock()
            .map(|mut leg| leg.send_rtp(std::time::Instant::now(), pkt, now, &mut out))
            .unwrap_or(false);
        self.transmit(&out).await;
        sent
    }

    /// What a browser leg's WebRTC stack wants sent.
    async fn transmit(&self, out: &crate::media::webrtc::Outputs) {
        for (dst, d) in &out.transmit {
            let _ = self.pair.rtp.send_to(d, *dst).await;
        }
    }
}

/// Starts an empty session for a call; legs are attached with [`SessionHandle::add_leg`].
pub fn spawn(metrics: Arc<Metrics>, events: mpsc::UnboundedSender<SessionEvent>) -> SessionHandle {
    let (tx, rx) = mpsc::unbounded_channel();
    let figures = Figures::default();
    let handle = SessionHandle {
        tx,
        figures: figures.clone(),
        ports: HashMap::new(),
        peers: HashMap::new(),
        roles: HashMap::new(),
        rates: HashMap::new(),
    };
    tokio::spawn(run(rx, metrics, events, figures));
    handle
}

/// Which socket of which leg a datagram came in on.
struct Received {
    slot: usize,
    rtcp: bool,
    len: usize,
    src: SocketAddr,
}

/// Waits for the next datagram on any leg's RTP or RTCP socket, starting the
/// scan at `start` so no leg starves another.
async fn recv_any(ios: &[LegIo], start: usize, buf: &mut [u8]) -> Received {
    std::future::poll_fn(|cx| {
        let n = ios.len();
        for k in 0..n {
            let slot = (start + k) % n;
            let io = &ios[slot];
            for (rtcp, sock) in [(false, &io.pair.rtp), (true, &io.pair.rtcp)] {
                let mut rb = ReadBuf::new(buf);
                match sock.poll_recv_from(cx, &mut rb) {
                    Poll::Ready(Ok(src)) => {
                        let len = rb.filled().len();
                        return Poll::Ready(Received {
                            slot,
                            rtcp,
                            len,
                            src,
                        });
                    }
                    // an ICMP error for a datagram we sent: nothing to read, go on
                    Poll::Ready(Err(_)) => cx.waker().wake_by_ref(),
                    Poll::Pending => {}
                }
            }
        }
        Poll::Pending
    })
    .await
}

async fn run(
    mut rx: mpsc::UnboundedReceiver<Cmd>,
    metrics: Arc<Metrics>,
    events: mpsc::UnboundedSender<SessionEvent>,
    figures: Figures,
) {
    let mut engine = Engine::new(events);
    let mut buf = [0u8; 2048];
    let (mut relayed, mut dropped) = (0u64, 0u64);
    let (mut late, mut skipped_total) = (0u64, 0u64);
    let mut pacer: Option<Pacer> = None;
    let mut start = 0usize;
    // one timer for the session's life, moved only when the next deadline changes
    // (re-creating it on every packet would cost a timer-wheel insert each time)
    let clock = tokio::time::sleep(std::time::Duration::from_secs(3600));
    tokio::pin!(clock);
    let mut armed: Option<Instant> = None;
    let mut flush = tokio::time::interval(std::time::Duration::from_millis(250));
    flush.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let plane = crate::media::relay::plane::global();
    // packets relayed here in a row with no command in between
    let mut settled = 0u32;
    loop {
        if settled >= offload::SETTLE_PACKETS {
            settled = 0;
            if let Some(plane) = plane.filter(|_| engine.can_offload()) {
                count_packets(&metrics, &mut relayed, &mut dropped);
                if let Some(unit) = engine.hand_off(figures.clone(), metrics.clone()) {
                    let ticket = plane.adopt(Box::new(unit));
                    let cmd = rx.recv().await;
                    let back = plane
                        .release(ticket)
                        .await
                        .and_then(|u| u.into_any().downcast::<offload::Offloaded>().ok())
                        .map(|u| *u);
                    engine.take_back(back);
                    match cmd {
                        Some(cmd) => command(&mut engine, &figures, cmd),
                        None => break,
                    }
                    continue;
                }
            }
        }
        // the 20 ms clock runs only while some leg is terminated here
        if engine.needs_clock() {
            if pacer.is_none() {
                pacer = Some(Pacer::new(Instant::now().into_std(), PTIME));
            }
        } else {
            pacer = None;
        }
        let deadline = pacer.as_ref().map(|p| Instant::from_std(p.next_deadline()));
        if deadline != armed {
            if let Some(d) = deadline {
                clock.as_mut().reset(d);
            }
            armed = deadline;
        }
        tokio::select! {
            // commands first: a new remote address must apply before the packets
            // that the peer sends once it has seen the SDP carrying it
            biased;
            cmd = rx.recv() => match cmd {
                Some(cmd) => {
                    settled = 0;
                    command(&mut engine, &figures, cmd);
                }
                None => break,
            },
            _ = &mut clock, if armed.is_some() => {
                let now = Instant::now().into_std();
                if let Some(p) = pacer.as_mut() {
                    let skipped = match p.on_sent(now) {
                        SendOutcome::Skipped { frames, .. } => { late += 1; frames }
                        SendOutcome::Late { .. } => { late += 1; 0 }
                        SendOutcome::OnTime => 0,
                    };
                    skipped_total += skipped;
                    engine.tick(now, skipped).await;
                }
            },
            r = recv_any(&engine.ios, start, &mut buf) => {
                start = start.wrapping_add(1);
                let pkt = &buf[..r.len];
                if r.rtcp {
                    engine.on_rtcp_datagram(r.slot, pkt, r.src).await;
                } else if engine.on_rtp_datagram(r.slot, pkt, r.src).await {
                    relayed += 1;
                    settled += 1;
                } else {
                    dropped += 1;
                }
            },
            _ = flush.tick() => {
                count_packets(&metrics, &mut relayed, &mut dropped);
                metrics.media_frames.fetch_add(engine.take_frames(), Relaxed);
                metrics.media_ticks_late.fetch_add(late, Relaxed);
                metrics.media_frames_skipped.fetch_add(skipped_total, Relaxed);
                if let Ok(mut f) = figures.lock() { engine.stats_into(&mut f); }
                late = 0;
                skipped_total = 0;
            },
        }
        if relayed + dropped >= 256 {
            count_packets(&metrics, &mut relayed, &mut dropped);
        }
    }
    if let Ok(mut f) = figures.lock() {
        engine.stats_into(&mut f);
    }
    engine.finish();
    metrics
        .media_frames
        .fetch_add(engine.take_frames(), Relaxed);
    metrics.media_ticks_late.fetch_add(late, Relaxed);
    metrics
        .media_frames_skipped
        .fetch_add(skipped_total, Relaxed);
    count_packets(&metrics, &mut relayed, &mut dropped);
}

/// Adds the packets counted locally to the metrics and starts counting afresh.
fn count_packets(metrics: &Metrics, relayed: &mut u64, dropped: &mut u64) {
    metrics
        .rtp_packets_relayed
        .fetch_add(std::mem::take(relayed), Relaxed);
    metrics
        .rtp_packets_dropped
        .fetch_add(std::mem::take(dropped), Relaxed);
}

fn command(engine: &mut Engine, figures: &Figures, cmd: Cmd) {
    // a leg that leaves keeps its last figures for its channel
    if matches!(cmd, Cmd::RemoveLeg { .. }) {
        if let Ok(mut f) = figures.lock() {
            engine.stats_into(&mut f);
        }
    }
    engine.command(cmd);
}

/// Version 2 and a whole fixed header: only such a datagram may latch a leg or
/// be relayed (stray or hostile garbage never steals a call's media).
fn looks_like_rtp(pkt: &[u8]) -> bool {
    pkt.len() >= 12 && pkt[0] >> 6 == 2
}

/// Version 2 and an RTCP packet type (SR, RR, SDES, BYE, APP, feedback, XR).
fn looks_like_rtcp(pkt: &[u8]) -> bool {
    pkt.len() >= 8 && pkt[0] >> 6 == 2 && (192..=207).contains(&pkt[1])
}

/// Copies a received datagram for the parts that keep it (jitter buffer).
fn owned(pkt: &[u8]) -> Bytes {
    Bytes::copy_from_slice(pkt)
}

#[cfg(test)]
mod tests;
#[cfg(test)]
mod tests_mix;
#[cfg(test)]
mod tests_offload;
