//! The media session's decisions: which packets are forwarded untouched and
//! which are terminated, and what each terminated leg hears on every 20 ms tick
//! (a playback source, its bridged peer transcoded, or silence), plus the
//! recording tap. Legs live in slots (a call rarely has more than three); a
//! bridge pairs two of them. The socket loop in `mod.rs` only moves bytes.

use bytes::BytesMut;
use std::collections::HashMap;
use std::net::SocketAddr;
use std::time::Instant;
use tokio::sync::mpsc;

use super::mix::{Conference, MIX_RATE};
use super::{looks_like_rtcp, looks_like_rtp, owned, Cmd, LegIo, LegMedia, LegStats, SessionEvent};
use crate::ids::LegId;
use crate::media::codec::Resampler;
use crate::media::playback::tone::ToneSpec;
use crate::media::playback::{Source, Tone};
use crate::media::record::Recorder;
use crate::media::relay::Peer;
use crate::media::rtp::RtpPacket;

/// How often a terminated leg gets an RTCP report (RFC 3550's 5 s minimum).
const RTCP_INTERVAL: std::time::Duration = std::time::Duration::from_secs(5);

/// Playback id of an in-band digit the switch generates.
const INBAND_DIGIT: u64 = u64::MAX - 2;

/// Rate of call recordings.
pub const RECORDING_RATE: u32 = 8000;

enum Feed {
    Source(Box<dyn Source>),
    /// The leg hears itself for this many more frames.
    Echo(u64),
}

pub(super) struct Playing {
    feed: Feed,
    barge_in: bool,
    id: u64,
}

/// Which stream a resampler converts (each keeps its own filter state).
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
enum Stream {
    Bridge(LegId),
    Play(LegId),
    RecordLeft,
    RecordRight,
    MixIn(LegId),
    MixOut(LegId),
}

/// One leg of the session.
pub(super) struct Slot {
    pub(super) id: LegId,
    pub(super) media: Option<LegMedia>,
    pub(super) play: Option<Playing>,
    /// The leg it is bridged to.
    pub(super) peer: Option<LegId>,
    /// Whether it may be sent media (false after we answered recvonly/inactive).
    sending: bool,
    /// What it sent us this tick (decoded).
    heard: Vec<i16>,
    /// What we sent it this tick (for the recording of an unbridged leg).
    sent: Vec<i16>,
}

pub(super) struct Recording {
    leg: LegId,
    rec: Recorder,
    /// Ticks of silence after which `Silence` is reported (once).
    silence_ticks: Option<u32>,
    /// Ticks the leg has been silent in a row.
    quiet: u32,
}

/// RMS below this (of full scale 32,768) is silence: line noise and comfort
/// noise stay under it, a voice does not.
const SILENCE_RMS: f64 = 200.0;

pub(super) struct Engine {
    pub(super) events: mpsc::UnboundedSender<SessionEvent>,
    pub(super) slots: Vec<Slot>,
    /// The sockets of `slots[i]` at `ios[i]` (kept apart: the socket loop
    /// waits on them while it holds no reference to the codec state).
    pub(super) ios: Vec<LegIo>,
    pub(super) rec: Option<Recording>,
    /// Legs hearing a mix (a supervisor and the legs it monitors).
    pub(super) conf: Option<Conference>,
    scratch: Vec<i16>,
    conv: Vec<i16>,
    rec_l: Vec<i16>,
    rec_r: Vec<i16>,
    resamplers: HashMap<(Stream, u32, u32), Resampler>,
    out: BytesMut,
    frames: u64,
    next_rtcp: Option<Instant>,
}

impl Engine {
    pub(super) fn new(events: mpsc::UnboundedSender<SessionEvent>) -> Self {
        Engine {
            events,
            slots: Vec::with_capacity(4),
            ios: Vec::with_capacity(4),
            rec: None,
            conf: None,
            scratch: Vec::with_capacity(960),
            conv: Vec::with_capacity(960),
            rec_l: Vec::with_capacity(160),
            rec_r: Vec::with_capacity(160),
            resamplers: HashMap::new(),
            out: BytesMut::with_capacity(1500),
            frames: 0,
            next_rtcp: None,
        }
    }

    /// Frames encoded since the last call.
    pub(super) fn take_frames(&mut self) -> u64 {
        std::mem::take(&mut self.frames)
    }

    pub(super) fn find(&self, leg: LegId) -> Option<usize> {
        self.slots.iter().position(|s| s.id == leg)
    }

    pub(super) fn peer_of(&self, i: usize) -> Option<usize> {
        self.slots[i].peer.and_then(|p| self.find(p))
    }

    /// Bridged legs `i` and `j` speak different codecs (both known).
    fn transcoding(&self, i: usize, j: usize) -> bool {
        match (&self.slots[i].media, &self.slots[j].media) {
            (Some(a), Some(b)) => {
                let (na, nb) = (a.negotiated(), b.negotiated());
                na.codec != nb.codec || na.pt != nb.pt
            }
            _ => false,
        }
    }

    /// `leg` hears the conference rather than its peer.
    fn mixed(&self, leg: LegId) -> bool {
        self.conf.as_ref().is_some_and(|c| c.contains(leg))
    }

    /// Packets from slot `i` go to its peer untouched.
    pub(super) fn forwards(&self, i: usize) -> bool {
        match self.peer_of(i) {
            Some(j) => {
                !self.transcoding(i, j)
                    && self.slots[j].play.is_none()
                    && !self.mixed(self.slots[i].id)
                    && !self.mixed(self.slots[j].id)
            }
            None => false,
        }
    }

    /// Some leg is terminated here, so the 20 ms clock must run.
    pub(super) fn needs_clock(&self) -> bool {
        self.ios.iter().any(|io| io.webrtc.is_some())
            || (0..self.slots.len()).any(|i| {
                self.slots[i].media.is_some()
                    && (self.rec.is_some()
                        || self.slots[i].play.is_some()
                        || self.mixed(self.slots[i].id)
                        || match self.peer_of(i) {
                            None => true,
                            Some(j) => self.transcoding(i, j),
                        })
            })
    }

    pub(super) fn command(&mut self, cmd: Cmd) {
        match cmd {
            Cmd::AddLeg { leg, pair } => {
                if self.find(leg).is_some() {
                    return;
                }
                self.ios.push(LegIo {
                    pair,
                    peer: Peer::default(),
                    webrtc: None,
                });
                self.slots.push(Slot {
                    id: leg,
                    media: None,
                    play: None,
                    peer: None,
                    sending: true,
                    heard: Vec::with_capacity(960),
                    sent: Vec::with_capacity(960),
                });
            }
            Cmd::RemoveLeg { leg } => self.remove(leg),
            Cmd::Bridge { a, b } => {
                let (Some(_), Some(_)) = (self.find(a), self.find(b)) else {
                    return;
                };
                if a == b {
                    return;
                }
                self.unbridge(a);
                self.unbridge(b);
                for (x, y) in [(a, b), (b, a)] {
                    if let Some(i) = self.find(x) {
                        self.slots[i].peer = Some(y);
                    }
                }
                self.resamplers.clear();
            }
            Cmd::Unbridge { leg } => self.unbridge(leg),
            Cmd::Mix { leg, role } => {
                if self.find(leg).is_some() {
                    self.conf
                        .get_or_insert_with(Conference::new)
                        .join(leg, role);
                }
            }
            Cmd::Unmix { leg } => self.unmix(leg),
            Cmd::SetRemote { leg, rtp, rtcp } => {
                if let Some(i) = self.find(leg).filter(|&i| self.ios[i].webrtc.is_none()) {
                    self.ios[i].peer.set(rtp, rtcp);
                }
            }
            Cmd::WebRtc { leg, rtc } => {
                if let Some(i) = self.find(leg) {
                    // ICE picks the browser's address: nothing to latch, no RTCP of ours
                    self.ios[i].peer = Peer::default();
                    self.ios[i].webrtc = Some(rtc);
                }
            }
            Cmd::SignallingIp { leg, ip } => {
                if let Some(i) = self.find(leg) {
                    self.ios[i].peer.set_signalling_ip(ip);
                }
            }
            Cmd::SetCodec { leg, neg } => self.set_codec(leg, neg),
            Cmd::Play {
                leg,
                source,
                barge_in,
                id,
            } => self.start_play(leg, Feed::Source(source), barge_in, id),
            Cmd::Echo { leg, frames, id } => self.start_play(leg, Feed::Echo(frames), false, id),
            Cmd::StopPlay { leg } => self.stop_play(leg, true),
            Cmd::Record { leg, path, silence } => match Recorder::create(&path, RECORDING_RATE) {
                Ok(rec) => {
                    let silence_ticks = silence.map(|d| (d.as_millis() / 20).max(1) as u32);
                    let new = Recording {
                        leg,
                        rec,
                        silence_ticks,
                        quiet: 0,
                    };
                    if let Some(old) = self.rec.replace(new) {
                        let info = old.rec.finish().map_err(|e| e.to_string());
                        self.emit(SessionEvent::Recorded(info));
                    }
                }
                Err(e) => self.emit(SessionEvent::Recorded(Err(e.to_string()))),
            },
            Cmd::StopRecord => self.stop_record(),
            Cmd::SetSending { leg, on } => {
                if let Some(i) = self.find(leg) {
                    self.slots[i].sending = on;
                }
            }
            Cmd::Digit { leg, event, source } => {
                self.emit(SessionEvent::Dtmf { leg, event, source });
                self.barge(leg);
            }
            Cmd::SendDigit {
                leg,
                digit,
                duration_ms,
            } => {
                if let Some(m) = self.find(leg).and_then(|i| self.slots[i].media.as_mut()) {
                    m.queue_digit(digit, duration_ms);
                }
            }
        }
    }

    fn set_codec(&mut self, leg: LegId, neg: Option<super::Negotiated>) {
        let Some(i) = self.find(leg) else { return };
        let other = self
            .peer_of(i)
            .and_then(|j| self.slots[j].media.as_ref())
            .map(LegMedia::rate);
        let old = self.slots[i].media.take();
        let media = neg.and_then(|n| {
            match LegMedia::with_pcm_rate(n.clone(), super::negotiate::pcm_rate(&n, other)) {
                Ok(l) => Some(l),
                Err(e) => {
                    tracing::warn!(error = %e, "codec could not be set up; relaying untouched");
                    None
                }
            }
        });
        // same clock: the outgoing stream keeps its SSRC and numbering
        let media = match (media, old) {
            (Some(mut new), Some(old)) => {
                new.continue_numbering(&old);
                Some(new)
            }
            (m, _) => m,
        };
        let gone = media.is_none();
        self.slots[i].media = media;
        self.resamplers.clear();
        if gone {
            self.stop_play(leg, true);
        }
    }

    pub(super) fn unbridge(&mut self, leg: LegId) {
        let Some(i) = self.find(leg) else { return };
        if let Some(p) = self.slots[i].peer.take() {
            if let Some(j) = self.find(p) {
                self.slots[j].peer = None;
            }
        }
    }

    fn unmix(&mut self, leg: LegId) {
        if let Some(c) = self.conf.as_mut() {
            c.leave(leg);
            if c.is_empty() {
                self.conf = None;
            }
        }
    }

    fn remove(&mut self, leg: LegId) {
        let Some(i) = self.find(leg) else { return };
        self.unbridge(leg);
        self.unmix(leg);
        self.stop_play(leg, true);
        if self.rec.as_ref().is_some_and(|r| r.leg == leg) {
            self.stop_record();
        }
        let mut slot = self.slots.remove(i);
        self.ios.remove(i);
        if let Some(m) = slot.media.as_mut() {
            m.flush_dtmf();
            while let Some((event, source)) = m.poll_dtmf() {
                self.emit(SessionEvent::Dtmf { leg, event, source });
            }
            self.emit(SessionEvent::Stats {
                leg,
                stats: m.stats(),
            });
        }
        self.resamplers.clear();
        // dropping the slot closes its sockets: the port pair is free again
    }

    fn start_play(&mut self, leg: LegId, feed: Feed, barge_in: bool, id: u64) {
        let Some(i) = self.find(leg).filter(|&i| self.slots[i].media.is_some()) else {
            // nothing can be played to a leg without a codec: report it done at once
            self.emit(SessionEvent::PlayDone {
                leg,
                id,
                interrupted: true,
            });
            return;
        };
        let new = Playing { feed, barge_in, id };
        if let Some(old) = self.slots[i].play.replace(new) {
            self.emit(SessionEvent::PlayDone {
                leg,
                id: old.id,
                interrupted: true,
            });
        }
    }

    /// The leg in slot `i`.
    pub(super) fn leg_at(&self, i: usize) -> LegId {
        self.slots[i].id
    }

    pub(super) fn emit(&self, ev: SessionEvent) {
        let _ = self.events.send(ev);
    }

    fn stop_play(&mut self, leg: LegId, interrupted: bool) {
        let Some(i) = self.find(leg) else { return };
        if let Some(p) = self.slots[i].play.take() {
            self.emit(SessionEvent::PlayDone {
                leg,
                id: p.id,
                interrupted,
            });
        }
    }

    /// A digit from `leg` stops a playback to it that allows barge-in.
    fn barge(&mut self, leg: LegId) {
        let barges = self
            .find(leg)
            .and_then(|i| self.slots[i].play.as_ref())
            .is_some_and(|p| p.barge_in);
        if barges {
            self.stop_play(leg, true);
        }
    }

    fn stop_record(&mut self) {
        if let Some(r) = self.rec.take() {
            let info = r.rec.finish().map_err(|e| e.to_string());
            self.emit(SessionEvent::Recorded(info));
        }
    }

    /// An RTP datagram on slot `i`'s socket; true when it was relayed.
    pub(super) async fn on_rtp_datagram(&mut self, i: usize, pkt: &[u8], src: SocketAddr) -> bool {
        if self.ios[i].webrtc.is_some() {
            return self.on_browser_datagram(i, pkt, src).await;
        }
        if !looks_like_rtp(pkt) || !self.ios[i].peer.latch_rtp(src) {
            return false;
        }
        self.on_plain_rtp(i, pkt).await
    }

    /// A plain RTP packet of slot `i` (from its socket, or decrypted from a
    /// browser): terminated, or forwarded to the peer; true when forwarded.
    pub(super) async fn on_plain_rtp(&mut self, i: usize, pkt: &[u8]) -> bool {
        if !self.on_rtp(i, pkt) {
            return false;
        }
        let Some(j) = self.peer_of(i) else {
            return false;
        };
        self.ios[j].send_rtp(pkt, true).await
    }

    /// An RTCP datagram on slot `i`'s socket: feeds our reports, and goes on
    /// to the peer while the RTP does.
    pub(super) async fn on_rtcp_datagram(&mut self, i: usize, pkt: &[u8], src: SocketAddr) {
        if looks_like_rtcp(pkt) && self.ios[i].peer.latch_rtcp(src) {
            if let Some(m) = self.slots[i].media.as_mut() {
                m.on_rtcp(Instant::now(), pkt);
            }
        }
        if self.ios[i].peer.rtcp == Some(src) && self.forwards(i) {
            if let Some(j) = self.peer_of(i) {
                let to = &self.ios[j];
                if let Some(dst) = to.peer.rtcp {
                    let _ = to.pair.rtcp.send_to(pkt, dst).await;
                }
            }
        }
    }

    /// A packet arrived on slot `i`; true when it must be forwarded untouched.
    fn on_rtp(&mut self, i: usize, pkt: &[u8]) -> bool {
        let forward = self.forwards(i);
        let tap = !forward || self.rec.is_some();
        if let Some(m) = self.slots[i].media.as_mut() {
            let now = Instant::now();
            if tap {
                m.on_rtp(now, owned(pkt));
            } else {
                // relay path: counted for the figures, only digits are looked at
                m.observe_relayed(now, pkt);
                if let Some(te) = m.negotiated().te_pt {
                    if pkt[1] & 0x7f == te {
                        if let Ok(p) = RtpPacket::parse(owned(pkt)) {
                            m.on_telephone_event(now, &p);
                        }
                    }
                }
            }
        }
        self.drain_dtmf(i);
        forward
    }

    /// Current figures of every leg with a codec.
    pub(super) fn stats_into(&self, out: &mut HashMap<LegId, LegStats>) {
        for s in &self.slots {
            if let Some(m) = s.media.as_ref() {
                out.insert(s.id, m.stats());
            }
        }
    }

    fn drain_dtmf(&mut self, i: usize) {
        let leg = self.slots[i].id;
        let mut pass_on = Vec::new();
        if let Some(m) = self.slots[i].media.as_mut() {
            while let Some((event, source)) = m.poll_dtmf() {
                pass_on.push(event);
                let _ = self.events.send(SessionEvent::Dtmf { leg, event, source });
            }
        }
        if pass_on.is_empty() {
            return;
        }
        for event in pass_on {
            self.pass_digit_on(i, event);
        }
        self.barge(leg);
    }

    /// A digit from slot `i` reaches its peer as telephone-events when the
    /// bridge does not forward `i`'s packets itself (transcoding).
    fn pass_digit_on(&mut self, i: usize, event: crate::media::dtmf::DtmfEvent) {
        let Some(j) = self.peer_of(i) else { return };
        if self.forwards(i) || self.slots[j].play.is_some() {
            return;
        }
        let to = self.slots[j].id;
        let Some(m) = self.slots[j].media.as_mut() else {
            return;
        };
        if m.queue_digit(event.digit, event.duration_ms) {
            return;
        }
        // no telephone-event on that leg: the digit goes as its two tones, in band
        let (low, high) = crate::media::dtmf::goertzel::frequencies(event.digit);
        let spec = ToneSpec {
            freqs: [f64::from(low), f64::from(high)],
            on_ms: event.duration_ms.clamp(40, 2000),
            off_ms: 0,
        };
        match Tone::from_spec(spec, Some(spec.on_ms), m.rate()) {
            Ok(tone) => self.start_play(to, Feed::Source(Box::new(tone)), false, INBAND_DIGIT),
            Err(e) => tracing::debug!(error = %e, "in-band digit not generated"),
        }
    }

    /// Converts `input` (one 20 ms frame at `from` Hz) to `to` Hz into `out`.
    fn convert(
        resamplers: &mut HashMap<(Stream, u32, u32), Resampler>,
        stream: Stream,
        from: u32,
        to: u32,
        input: &[i16],
        out: &mut Vec<i16>,
    ) {
        out.clear();
        if from == to {
            out.extend_from_slice(input);
            return;
        }
        let r = match resamplers.entry((stream, from, to)) {
            std::collections::hash_map::Entry::Occupied(e) => Some(e.into_mut()),
            std::collections::hash_map::Entry::Vacant(v) => {
                Resampler::new(from, to).ok().map(|r| v.insert(r))
            }
        };
        // a rate pair we cannot convert plays as silence rather than noise
        if r.is_some_and(|r| r.process(input, out).is_err()) {
            out.clear();
        }
        out.resize((to / 50) as usize, 0);
    }

    /// One 20 ms tick: pull a frame from every terminated leg, send every
    /// terminated leg what it must hear, feed the recording.
    pub(super) async fn tick(&mut self, now: Instant, skipped: u64) {
        for i in 0..self.slots.len() {
            let s = &mut self.slots[i];
            s.heard.clear();
            s.sent.clear();
            if let Some(m) = s.media.as_mut() {
                m.pull_frame(now, &mut s.heard);
            }
            self.drain_dtmf(i);
        }
        self.mix_tick();
        for i in 0..self.slots.len() {
            let Some(out_rate) = self.slots[i].media.as_ref().map(LegMedia::rate) else {
                continue;
            };
            let peer = self.peer_of(i);
            let id = self.slots[i].id;
            // what this leg hears now
            let mut finished = false;
            let Slot { play, heard, .. } = &mut self.slots[i];
            if let Some(p) = play.as_mut() {
                match &mut p.feed {
                    Feed::Source(source) => {
                        let src_rate = source.rate();
                        self.scratch.clear();
                        self.scratch.resize((src_rate / 50) as usize, 0);
                        finished = !source.read_frame(&mut self.scratch);
                        Self::convert(
                            &mut self.resamplers,
                            Stream::Play(id),
                            src_rate,
                            out_rate,
                            &self.scratch,
                            &mut self.conv,
                        );
                    }
                    Feed::Echo(left) => {
                        self.conv.clear();
                        self.conv.extend_from_slice(heard);
                        self.conv.resize((out_rate / 50) as usize, 0);
                        *left = left.saturating_sub(1);
                        finished = *left == 0;
                    }
                }
            } else if let Some(mixed) = self.conf.as_ref().and_then(|c| c.output(id)) {
                Self::convert(
                    &mut self.resamplers,
                    Stream::MixOut(id),
                    MIX_RATE,
                    out_rate,
                    mixed,
                    &mut self.conv,
                );
            } else if let Some(j) = peer {
                if !self.transcoding(i, j) {
                    continue; // relayed: the peer's own packets reach it
                }
                let in_rate = self.slots[j]
                    .media
                    .as_ref()
                    .map(LegMedia::rate)
                    .unwrap_or(out_rate);
                Self::convert(
                    &mut self.resamplers,
                    Stream::Bridge(id),
                    in_rate,
                    out_rate,
                    &self.slots[j].heard,
                    &mut self.conv,
                );
            } else {
                // bridged to nothing, nothing played: silence keeps the stream alive
                self.conv.clear();
                self.conv.resize((out_rate / 50) as usize, 0);
            }
            if finished {
                self.stop_play(id, false);
            }
            let (s, io) = (&mut self.slots[i], &self.ios[i]);
            let Some(m) = s.media.as_mut() else { continue };
            if skipped > 0 {
                m.skip_frames(skipped);
            }
            if !s.sending {
                // the leg asked us not to send (we answered recvonly/inactive):
                // time still passes in our stream's timestamps
                m.skip_frames(1);
            } else if m.sending_digit() {
                if m.encode_digit_tick(&mut self.out) {
                    io.send_rtp(&self.out, false).await;
                }
            } else if m.encode_frame(&self.conv, &mut self.out).is_ok() {
                self.frames += 1;
                io.send_rtp(&self.out, false).await;
            }
            s.sent.extend_from_slice(&self.conv);
        }
        self.record_tick();
        self.send_rtcp(now).await;
        // browser legs' timers last: they also release what this tick wrote to them
        self.browser_timers(now).await;
    }

    /// Feeds every conference member's frame of this tick (at the mixing
    /// rate) and mixes; members without a codec are silent.
    fn mix_tick(&mut self) {
        let Some(conf) = self.conf.as_mut() else {
            return;
        };
        for s in &self.slots {
            let Some(m) = s.media.as_ref() else { continue };
            if !conf.contains(s.id) {
                continue;
            }
            Self::convert(
                &mut self.resamplers,
                Stream::MixIn(s.id),
                m.rate(),
                MIX_RATE,
                &s.heard,
                &mut self.conv,
            );
            conf.push(s.id, &self.conv);
        }
        conf.mix();
    }

    /// Every 5 s an SR/RR to each leg that hears the switch itself (relayed
    /// legs exchange their own RTCP end to end).
    async fn send_rtcp(&mut self, now: Instant) {
        let due = *self.next_rtcp.get_or_insert(now + RTCP_INTERVAL);
        if now < due {
            return;
        }
        self.next_rtcp = Some(now + RTCP_INTERVAL);
        let wall = std::time::SystemTime::now();
        for i in 0..self.slots.len() {
            if self.peer_of(i).is_some_and(|j| self.forwards(j)) {
                continue;
            }
            let (s, io) = (&mut self.slots[i], &self.ios[i]);
            let Some(m) = s.media.as_mut() else { continue };
            m.rtcp_report(now, wall, &mut self.out);
            if let Some(dst) = io.peer.rtcp {
                let _ = io.pair.rtcp.send_to(&self.out, dst).await;
            }
        }
    }

    /// Left: the recorded leg as it sent; right: its bridged peer as it sent,
    /// or what the switch played to the recorded leg.
    fn record_tick(&mut self) {
        let Some(leg) = self.rec.as_ref().map(|r| r.leg) else {
            return;
        };
        let Some(i) = self.find(leg) else { return };
        self.silence_tick(i);
        let left = self.slots[i].media.as_ref().map(LegMedia::rate);
        if let Some(rate) = left {
            Self::convert(
                &mut self.resamplers,
                Stream::RecordLeft,
                rate,
                RECORDING_RATE,
                &self.slots[i].heard,
                &mut self.rec_l,
            );
        }
        let right = match self.peer_of(i).filter(|_| !self.mixed(leg)) {
            Some(j) => self.slots[j]
                .media
                .as_ref()
                .map(|m| (m.rate(), &self.slots[j].heard)),
            None => self.slots[i]
                .media
                .as_ref()
                .filter(|_| !self.slots[i].sent.is_empty())
                .map(|m| (m.rate(), &self.slots[i].sent)),
        };
        let has_right = right.is_some();
        if let Some((rate, pcm)) = right {
            Self::convert(
                &mut self.resamplers,
                Stream::RecordRight,
                rate,
                RECORDING_RATE,
                pcm,
                &mut self.rec_r,
            );
        }
        let l = left.is_some().then_some(&self.rec_l[..]);
        let r = has_right.then_some(&self.rec_r[..]);
        if let Some(rec) = self.rec.as_mut() {
            if let Err(e) = rec.rec.write_frame(l, r) {
                tracing::warn!(error = %e, "recording failed; stopped");
                self.rec = None;
                self.emit(SessionEvent::Recorded(Err(e.to_string())));
            }
        }
    }

    /// Counts a silent tick of the recorded leg (`slots[i]`); reports the
    /// silence once it lasted the recording's limit.
    fn silence_tick(&mut self, i: usize) {
        let heard = &self.slots[i].heard;
        let loud = !heard.is_empty() && {
            let ms = heard.iter().map(|&s| f64::from(s).powi(2)).sum::<f64>() / heard.len() as f64;
            ms.sqrt() >= SILENCE_RMS
        };
        let leg = self.slots[i].id;
        let Some(rec) = self.rec.as_mut() else { return };
        let Some(limit) = rec.silence_ticks else {
            return;
        };
        rec.quiet = if loud { 0 } else { rec.quiet + 1 };
        if rec.quiet == limit {
            self.emit(SessionEvent::Silence { leg });
        }
    }

    /// The session ends: close the recording, report playback and figures.
    pub(super) fn finish(&mut self) {
        self.stop_record();
        let legs: Vec<LegId> = self.slots.iter().map(|s| s.id).collect();
        for leg in legs {
            self.remove(leg);
        }
    }
}
