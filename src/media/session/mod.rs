//! The media session of a call: one task owns the call's RTP/RTCP sockets (the
//! caller's pair, and the callee's when there is a B leg) and decides per packet
//! and per 20 ms tick what happens to audio:
//!
//! - **relay** (both legs speak the same codec, nothing played or recorded):
//!   packets are forwarded untouched with symmetric latching, as the switch
//!   core always did; telephone-event packets are peeked at for digit events;
//! - **endpoint** (a leg the switch answers itself): received audio goes through
//!   the leg's jitter buffer and decoder ([`leg`]), a paced 20 ms frame from the
//!   playback source (or silence) is encoded and sent;
//! - **transcode** (legs negotiated different codecs): each tick decodes one
//!   frame per side, resamples and re-encodes it for the other side;
//! - a **recording** taps both sides' decoded audio in any mode.
//!
//! The call task drives it with [`Cmd`]s and hears [`SessionEvent`]s back.

pub mod leg;
pub mod negotiate;
mod tick;

use bytes::Bytes;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::atomic::Ordering::Relaxed;
use std::sync::Arc;
use tokio::sync::mpsc;
use tokio::time::Instant;

use super::dtmf::DtmfEvent;
use super::playback::Source;
use super::ports::PortPair;
use super::record::RecordingInfo;
use super::relay::{Peer, Side};
use super::rtp::{Pacer, SendOutcome};
use crate::metrics::Metrics;
pub use leg::{DtmfSource, LegMedia, LegStats, PTIME};
pub use negotiate::Negotiated;
use tick::Engine;

/// What the call task tells its media session.
pub enum Cmd {
    /// New RTP destination from SDP (offer or answer); resets latching for that side.
    SetRemote {
        side: Side,
        rtp: Option<SocketAddr>,
        rtcp: Option<SocketAddr>,
    },
    /// The IP a side's SIP signalling comes from: its media may come from there
    /// too (NAT) and latch, besides the SDP's IP.
    SignallingIp { side: Side, ip: std::net::IpAddr },
    /// The codec a side negotiated (`None`: unknown, relay untouched).
    SetCodec { side: Side, neg: Option<Negotiated> },
    /// Play `source` to `side` (replacing what was playing); with `barge_in`
    /// a digit from that side stops it.
    Play {
        side: Side,
        source: Box<dyn Source>,
        barge_in: bool,
        id: u64,
    },
    /// Play back to `side` what it sends, for `frames` 20 ms frames (echo test);
    /// reported with `PlayDone` like a playback.
    Echo { side: Side, frames: u64, id: u64 },
    /// A digit that reached the call another way (SIP INFO): reported like
    /// the session's own, and it barges in on a playback that allows it.
    Digit {
        side: Side,
        event: DtmfEvent,
        source: DtmfSource,
    },
    /// Send `digit` to `side` as RFC 4733 telephone-events (legs the switch
    /// terminates; a relayed leg gets the other side's own events).
    SendDigit {
        side: Side,
        digit: crate::media::dtmf::Digit,
        duration_ms: u32,
    },
    /// Whether the switch may send media to `side` (false when its SDP
    /// answer to that side said `recvonly` or `inactive`).
    SetSending { side: Side, on: bool },
    /// Stop playing to `side`.
    StopPlay { side: Side },
    /// Record both sides to a stereo WAV (caller left, callee right).
    Record { path: PathBuf },
    /// Stop the recording (it also stops when the session ends).
    StopRecord,
}

/// What the media session reports to its call.
#[derive(Debug)]
pub enum SessionEvent {
    Dtmf {
        side: Side,
        event: DtmfEvent,
        source: DtmfSource,
    },
    /// Playback `id` to `side` ended, played to the end or interrupted.
    PlayDone {
        side: Side,
        id: u64,
        interrupted: bool,
    },
    /// A recording was closed.
    Recorded(Result<RecordingInfo, String>),
    /// Final figures of a terminated leg, sent when the session ends.
    Stats { side: Side, stats: LegStats },
}

/// Control handle for a running session; dropping it ends the session.
pub struct SessionHandle {
    tx: mpsc::UnboundedSender<Cmd>,
    figures: Arc<std::sync::Mutex<[Option<LegStats>; 2]>>,
    pub a_port: u16,
    pub b_port: Option<u16>,
}

impl SessionHandle {
    pub fn send(&self, cmd: Cmd) {
        let _ = self.tx.send(cmd);
    }

    /// A sender for tasks that feed the session on the call's behalf.
    pub fn sender(&self) -> mpsc::UnboundedSender<Cmd> {
        self.tx.clone()
    }

    pub fn set_remote(&self, side: Side, rtp: Option<SocketAddr>, rtcp: Option<SocketAddr>) {
        self.send(Cmd::SetRemote { side, rtp, rtcp });
    }

    /// The legs' packet, loss and jitter figures (at most 250 ms old).
    pub fn figures(&self, side: Side) -> Option<LegStats> {
        let f = self.figures.lock().ok()?;
        match side {
            Side::A => f[0],
            Side::B => f[1],
        }
    }

    /// The port a side must send to.
    pub fn port(&self, side: Side) -> Option<u16> {
        match side {
            Side::A => Some(self.a_port),
            Side::B => self.b_port,
        }
    }
}

struct SideIo {
    pair: PortPair,
    peer: Peer,
}

/// Starts the session for a call with the caller's port pair `a` and, for a
/// bridged call, the callee's pair `b`.
pub fn spawn(
    a: PortPair,
    b: Option<PortPair>,
    metrics: Arc<Metrics>,
    events: mpsc::UnboundedSender<SessionEvent>,
) -> SessionHandle {
    let (tx, rx) = mpsc::unbounded_channel();
    let figures = Arc::new(std::sync::Mutex::new([None, None]));
    let handle = SessionHandle {
        tx,
        figures: figures.clone(),
        a_port: a.port,
        b_port: b.as_ref().map(|p| p.port),
    };
    let a = SideIo {
        pair: a,
        peer: Peer::default(),
    };
    let b = b.map(|pair| SideIo {
        pair,
        peer: Peer::default(),
    });
    tokio::spawn(run(a, b, rx, metrics, events, figures));
    handle
}

async fn recv_opt(io: Option<&SideIo>, rtcp: bool, buf: &mut [u8]) -> (usize, SocketAddr) {
    match io {
        Some(io) => {
            let sock = if rtcp { &io.pair.rtcp } else { &io.pair.rtp };
            loop {
                if let Ok(r) = sock.recv_from(buf).await {
                    return r;
                }
            }
        }
        None => std::future::pending().await,
    }
}

async fn run(
    mut a: SideIo,
    mut b: Option<SideIo>,
    mut rx: mpsc::UnboundedReceiver<Cmd>,
    metrics: Arc<Metrics>,
    events: mpsc::UnboundedSender<SessionEvent>,
    figures: Arc<std::sync::Mutex<[Option<LegStats>; 2]>>,
) {
    let mut engine = Engine::new(events);
    engine.set_has_b(b.is_some());
    let mut bufs = [[0u8; 2048]; 4];
    let (mut relayed, mut dropped) = (0u64, 0u64);
    let (mut late, mut skipped_total) = (0u64, 0u64);
    let mut pacer: Option<Pacer> = None;
    // one timer for the session's life, moved only when the next deadline changes
    // (re-creating it on every packet would cost a timer-wheel insert each time)
    let clock = tokio::time::sleep(std::time::Duration::from_secs(3600));
    tokio::pin!(clock);
    let mut armed: Option<Instant> = None;
    let mut flush = tokio::time::interval(std::time::Duration::from_millis(250));
    flush.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
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
        let [buf_a, buf_b, buf_c, buf_d] = &mut bufs;
        tokio::select! {
            // commands first: a new remote address must apply before the packets
            // that the peer sends once it has seen the SDP carrying it
            biased;
            cmd = rx.recv() => match cmd {
                Some(Cmd::SetRemote { side: Side::A, rtp, rtcp }) => a.peer.set(rtp, rtcp),
                Some(Cmd::SetRemote { side: Side::B, rtp, rtcp }) => {
                    if let Some(b) = b.as_mut() { b.peer.set(rtp, rtcp) }
                }
                Some(Cmd::SignallingIp { side: Side::A, ip }) => a.peer.set_signalling_ip(ip),
                Some(Cmd::SignallingIp { side: Side::B, ip }) => {
                    if let Some(b) = b.as_mut() { b.peer.set_signalling_ip(ip) }
                }
                Some(cmd) => engine.command(cmd),
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
                    engine.tick(now, skipped, &a, b.as_ref()).await;
                }
            },
            (n, src) = recv_opt(Some(&a), false, buf_a) => {
                if looks_like_rtp(&buf_a[..n]) && a.peer.latch_rtp(src) {
                    let pkt = &buf_a[..n];
                    if engine.on_rtp(Side::A, pkt) {
                        match b.as_ref().and_then(|b| b.peer.rtp.map(|d| (b, d))) {
                            Some((b, dst)) => if b.pair.rtp.send_to(pkt, dst).await.is_ok() { relayed += 1 } else { dropped += 1 },
                            None => dropped += 1,
                        }
                    }
                } else { dropped += 1; }
            },
            (n, src) = recv_opt(b.as_ref(), false, buf_b) => {
                if let Some(bio) = b.as_mut() {
                    if looks_like_rtp(&buf_b[..n]) && bio.peer.latch_rtp(src) {
                        let pkt = &buf_b[..n];
                        if engine.on_rtp(Side::B, pkt) {
                            match a.peer.rtp {
                                Some(dst) => if a.pair.rtp.send_to(pkt, dst).await.is_ok() { relayed += 1 } else { dropped += 1 },
                                None => dropped += 1,
                            }
                        }
                    } else { dropped += 1; }
                }
            },
            (n, src) = recv_opt(Some(&a), true, buf_c) => {
                if looks_like_rtcp(&buf_c[..n]) && a.peer.latch_rtcp(src) {
                    engine.on_rtcp(Side::A, &buf_c[..n]);
                }
                if a.peer.rtcp == Some(src) && engine.relays(Side::A) {
                    if let Some((b, dst)) = b.as_ref().and_then(|b| b.peer.rtcp.map(|d| (b, d))) {
                        let _ = b.pair.rtcp.send_to(&buf_c[..n], dst).await;
                    }
                }
            },
            (n, src) = recv_opt(b.as_ref(), true, buf_d) => {
                if let Some(bio) = b.as_mut() {
                    if looks_like_rtcp(&buf_d[..n]) && bio.peer.latch_rtcp(src) {
                        engine.on_rtcp(Side::B, &buf_d[..n]);
                    }
                    if bio.peer.rtcp == Some(src) && engine.relays(Side::B) {
                        if let Some(dst) = a.peer.rtcp { let _ = a.pair.rtcp.send_to(&buf_d[..n], dst).await; }
                    }
                }
            },
            _ = flush.tick() => {
                metrics.rtp_packets_relayed.fetch_add(relayed, Relaxed);
                metrics.rtp_packets_dropped.fetch_add(dropped, Relaxed);
                metrics.media_frames.fetch_add(engine.take_frames(), Relaxed);
                metrics.media_ticks_late.fetch_add(late, Relaxed);
                metrics.media_frames_skipped.fetch_add(skipped_total, Relaxed);
                if let Ok(mut f) = figures.lock() { *f = engine.stats(); }
                relayed = 0;
                dropped = 0;
                late = 0;
                skipped_total = 0;
            },
        }
        if relayed + dropped >= 256 {
            metrics.rtp_packets_relayed.fetch_add(relayed, Relaxed);
            metrics.rtp_packets_dropped.fetch_add(dropped, Relaxed);
            relayed = 0;
            dropped = 0;
        }
    }
    engine.finish();
    metrics
        .media_frames
        .fetch_add(engine.take_frames(), Relaxed);
    metrics.media_ticks_late.fetch_add(late, Relaxed);
    metrics
        .media_frames_skipped
        .fetch_add(skipped_total, Relaxed);
    metrics.rtp_packets_relayed.fetch_add(relayed, Relaxed);
    metrics.rtp_packets_dropped.fetch_add(dropped, Relaxed);
}

/// Version 2 and a whole fixed header: only such a datagram may latch a side or
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
