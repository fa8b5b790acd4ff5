//! The media session's decisions: which packets are forwarded untouched and
//! which are terminated, and what each terminated leg hears on every 20 ms tick
//! (a playback source, the other leg transcoded, or silence), plus the
//! recording tap. The socket loop in `mod.rs` only moves bytes.

use bytes::BytesMut;
use std::collections::HashMap;
use std::time::Instant;
use tokio::sync::mpsc;

use super::{owned, Cmd, LegMedia, SessionEvent, SideIo};
use crate::media::codec::Resampler;
use crate::media::playback::tone::ToneSpec;
use crate::media::playback::{Source, Tone};
use crate::media::record::Recorder;
use crate::media::relay::Side;
use crate::media::rtp::RtpPacket;

/// How often a terminated leg gets an RTCP report (RFC 3550's 5 s minimum).
const RTCP_INTERVAL: std::time::Duration = std::time::Duration::from_secs(5);

/// Playback id of an in-band digit the switch generates.
const INBAND_DIGIT: u64 = u64::MAX - 2;

/// Rate of call recordings.
pub const RECORDING_RATE: u32 = 8000;

const SIDES: [Side; 2] = [Side::A, Side::B];

fn ix(side: Side) -> usize {
    match side {
        Side::A => 0,
        Side::B => 1,
    }
}

fn other(side: Side) -> Side {
    match side {
        Side::A => Side::B,
        Side::B => Side::A,
    }
}

enum Feed {
    Source(Box<dyn Source>),
    /// The leg hears itself for this many more frames.
    Echo(u64),
}

struct Playing {
    feed: Feed,
    barge_in: bool,
    id: u64,
}

/// Which stream a resampler converts (each keeps its own filter state).
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
enum Stream {
    Bridge(usize),
    Record(usize),
    Play(usize),
}

pub(super) struct Engine {
    events: mpsc::UnboundedSender<SessionEvent>,
    legs: [Option<LegMedia>; 2],
    play: [Option<Playing>; 2],
    rec: Option<Recorder>,
    has_b: bool,
    heard: [Vec<i16>; 2],
    sent_a: Vec<i16>,
    scratch: Vec<i16>,
    conv: Vec<i16>,
    rec_l: Vec<i16>,
    rec_r: Vec<i16>,
    resamplers: HashMap<(Stream, u32, u32), Resampler>,
    out: BytesMut,
    frames: u64,
    next_rtcp: Option<Instant>,
    /// Whether each side may be sent media (false after we answered recvonly/inactive).
    sending: [bool; 2],
}

impl Engine {
    pub(super) fn new(events: mpsc::UnboundedSender<SessionEvent>) -> Self {
        Engine {
            events,
            legs: [None, None],
            play: [None, None],
            rec: None,
            has_b: true,
            heard: [Vec::with_capacity(960), Vec::with_capacity(960)],
            sent_a: Vec::with_capacity(960),
            scratch: Vec::with_capacity(960),
            conv: Vec::with_capacity(960),
            rec_l: Vec::with_capacity(160),
            rec_r: Vec::with_capacity(160),
            resamplers: HashMap::new(),
            out: BytesMut::with_capacity(1500),
            frames: 0,
            next_rtcp: None,
            sending: [true, true],
        }
    }

    /// Frames encoded since the last call.
    pub(super) fn take_frames(&mut self) -> u64 {
        std::mem::take(&mut self.frames)
    }

    pub(super) fn set_has_b(&mut self, has_b: bool) {
        self.has_b = has_b;
    }

    fn transcoding(&self) -> bool {
        match (&self.legs[0], &self.legs[1]) {
            (Some(a), Some(b)) => {
                let (na, nb) = (a.negotiated(), b.negotiated());
                na.codec != nb.codec || na.pt != nb.pt
            }
            _ => false,
        }
    }

    /// Packets from `from` go to the other side untouched.
    fn forwards(&self, from: Side) -> bool {
        self.has_b && !self.transcoding() && self.play[ix(other(from))].is_none()
    }

    /// RTCP from `from` is forwarded (only while its RTP is).
    pub(super) fn relays(&self, from: Side) -> bool {
        self.forwards(from)
    }

    /// Some leg is terminated here, so the 20 ms clock must run.
    pub(super) fn needs_clock(&self) -> bool {
        self.legs.iter().any(Option::is_some)
            && (!self.has_b
                || self.transcoding()
                || self.rec.is_some()
                || self.play.iter().any(Option::is_some))
    }

    pub(super) fn command(&mut self, cmd: Cmd) {
        match cmd {
            Cmd::SetCodec { side, neg } => {
                let other = self.legs[1 - ix(side)].as_ref().map(LegMedia::rate);
                let old = self.legs[ix(side)].take();
                let leg = neg.and_then(|n| match LegMedia::with_pcm_rate(n.clone(), super::negotiate::pcm_rate(&n, other)) {
                    Ok(l) => Some(l),
                    Err(e) => {
                        tracing::warn!(error = %e, "codec could not be set up; relaying untouched");
                        None
                    }
                });
                // same clock: the outgoing stream keeps its SSRC and numbering
                let leg = match (leg, old) {
                    (Some(mut new), Some(old)) => {
                        new.continue_numbering(&old);
                        Some(new)
                    }
                    (leg, _) => leg,
                };
                self.legs[ix(side)] = leg;
                self.resamplers.clear();
                if self.legs[ix(side)].is_none() {
                    self.stop_play(side, true);
                }
            }
            Cmd::Play {
                side,
                source,
                barge_in,
                id,
            } => {
                self.start_play(side, Feed::Source(source), barge_in, id);
            }
            Cmd::Echo { side, frames, id } => self.start_play(side, Feed::Echo(frames), false, id),
            Cmd::StopPlay { side } => self.stop_play(side, true),
            Cmd::Record { path } => match Recorder::create(&path, RECORDING_RATE) {
                Ok(r) => {
                    if let Some(old) = self.rec.replace(r) {
                        let info = old.finish().map_err(|e| e.to_string());
                        self.emit(SessionEvent::Recorded(info));
                    }
                }
                Err(e) => self.emit(SessionEvent::Recorded(Err(e.to_string()))),
            },
            Cmd::StopRecord => self.stop_record(),
            Cmd::SetSending { side, on } => self.sending[ix(side)] = on,
            Cmd::Digit {
                side,
                event,
                source,
            } => {
                self.emit(SessionEvent::Dtmf {
                    side,
                    event,
                    source,
                });
                if self.play[ix(side)].as_ref().is_some_and(|p| p.barge_in) {
                    self.stop_play(side, true);
                }
            }
            Cmd::SendDigit {
                side,
                digit,
                duration_ms,
            } => {
                if let Some(leg) = self.legs[ix(side)].as_mut() {
                    leg.queue_digit(digit, duration_ms);
                }
            }
            Cmd::SetRemote { .. } | Cmd::SignallingIp { .. } => {}
        }
    }

    fn start_play(&mut self, side: Side, feed: Feed, barge_in: bool, id: u64) {
        if self.legs[ix(side)].is_none() {
            // nothing can be played to a leg without a codec: report it done at once
            self.emit(SessionEvent::PlayDone {
                side,
                id,
                interrupted: true,
            });
            return;
        }
        let new = Playing { feed, barge_in, id };
        if let Some(old) = self.play[ix(side)].replace(new) {
            self.emit(SessionEvent::PlayDone {
                side,
                id: old.id,
                interrupted: true,
            });
        }
    }

    fn emit(&self, ev: SessionEvent) {
        let _ = self.events.send(ev);
    }

    fn stop_play(&mut self, side: Side, interrupted: bool) {
        if let Some(p) = self.play[ix(side)].take() {
            self.emit(SessionEvent::PlayDone {
                side,
                id: p.id,
                interrupted,
            });
        }
    }

    fn stop_record(&mut self) {
        if let Some(r) = self.rec.take() {
            let info = r.finish().map_err(|e| e.to_string());
            self.emit(SessionEvent::Recorded(info));
        }
    }

    /// A packet arrived from `from`; true when the caller must forward it untouched.
    pub(super) fn on_rtp(&mut self, from: Side, pkt: &[u8]) -> bool {
        let forward = self.forwards(from);
        let tap = !forward || self.rec.is_some();
        if let Some(leg) = self.legs[ix(from)].as_mut() {
            let now = Instant::now();
            if tap {
                leg.on_rtp(now, owned(pkt));
            } else {
                // relay path: counted for the figures, only digits are looked at
                leg.observe_relayed(now, pkt);
                if let Some(te) = leg.negotiated().te_pt {
                    if pkt.len() >= 12 && pkt[1] & 0x7f == te {
                        if let Ok(p) = RtpPacket::parse(owned(pkt)) {
                            leg.on_telephone_event(now, &p);
                        }
                    }
                }
            }
        }
        self.drain_dtmf(from);
        forward
    }

    /// RTCP from `from`: its sender report feeds our receiver reports.
    pub(super) fn on_rtcp(&mut self, from: Side, pkt: &[u8]) {
        if let Some(leg) = self.legs[ix(from)].as_mut() {
            leg.on_rtcp(Instant::now(), pkt);
        }
    }

    /// Current figures of each leg (for the channels' records).
    pub(super) fn stats(&self) -> [Option<super::LegStats>; 2] {
        [
            self.legs[0].as_ref().map(LegMedia::stats),
            self.legs[1].as_ref().map(LegMedia::stats),
        ]
    }

    fn drain_dtmf(&mut self, side: Side) {
        let Some(leg) = self.legs[ix(side)].as_mut() else {
            return;
        };
        let mut barge = false;
        let mut pass_on = Vec::new();
        while let Some((event, source)) = leg.poll_dtmf() {
            barge = true;
            pass_on.push(event);
            let _ = self.events.send(SessionEvent::Dtmf {
                side,
                event,
                source,
            });
        }
        for event in pass_on {
            self.pass_digit_on(side, event);
        }
        if barge && self.play[ix(side)].as_ref().is_some_and(|p| p.barge_in) {
            self.stop_play(side, true);
        }
    }

    /// A digit from `from` reaches the other leg as telephone-events when the
    /// bridge does not forward `from`'s packets itself (transcoding).
    fn pass_digit_on(&mut self, from: Side, event: crate::media::dtmf::DtmfEvent) {
        if !self.has_b || self.forwards(from) || self.play[ix(other(from))].is_some() {
            return;
        }
        let to = other(from);
        let Some(leg) = self.legs[ix(to)].as_mut() else {
            return;
        };
        if leg.queue_digit(event.digit, event.duration_ms) {
            return;
        }
        // no telephone-event on that leg: the digit goes as its two tones, in band
        let (low, high) = crate::media::dtmf::goertzel::frequencies(event.digit);
        let spec = ToneSpec {
            freqs: [f64::from(low), f64::from(high)],
            on_ms: event.duration_ms.clamp(40, 2000),
            off_ms: 0,
        };
        match Tone::from_spec(spec, Some(spec.on_ms), leg.rate()) {
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
    pub(super) async fn tick(
        &mut self,
        now: Instant,
        skipped: u64,
        a: &SideIo,
        b: Option<&SideIo>,
    ) {
        for side in SIDES {
            let i = ix(side);
            self.heard[i].clear();
            if let Some(leg) = self.legs[i].as_mut() {
                leg.pull_frame(now, &mut self.heard[i]);
            }
            self.drain_dtmf(side);
        }
        let transcoding = self.transcoding();
        self.sent_a.clear();
        for side in SIDES {
            let i = ix(side);
            let io = match side {
                Side::A => Some(a),
                Side::B => b,
            };
            let (Some(io), Some(out_rate)) = (io, self.legs[i].as_ref().map(LegMedia::rate)) else {
                continue;
            };
            // what this side hears now
            let mut finished = false;
            if let Some(p) = self.play[i].as_mut() {
                match &mut p.feed {
                    Feed::Source(source) => {
                        let src_rate = source.rate();
                        self.scratch.clear();
                        self.scratch.resize((src_rate / 50) as usize, 0);
                        finished = !source.read_frame(&mut self.scratch);
                        Self::convert(
                            &mut self.resamplers,
                            Stream::Play(i),
                            src_rate,
                            out_rate,
                            &self.scratch,
                            &mut self.conv,
                        );
                    }
                    Feed::Echo(left) => {
                        self.conv.clear();
                        self.conv.extend_from_slice(&self.heard[i]);
                        self.conv.resize((out_rate / 50) as usize, 0);
                        *left = left.saturating_sub(1);
                        finished = *left == 0;
                    }
                }
            } else if transcoding {
                let j = 1 - i;
                let in_rate = self.legs[j]
                    .as_ref()
                    .map(LegMedia::rate)
                    .unwrap_or(out_rate);
                Self::convert(
                    &mut self.resamplers,
                    Stream::Bridge(i),
                    in_rate,
                    out_rate,
                    &self.heard[j],
                    &mut self.conv,
                );
            } else if !self.has_b && side == Side::A {
                self.conv.clear();
                self.conv.resize((out_rate / 50) as usize, 0);
            } else {
                continue;
            }
            if finished {
                self.stop_play(side, false);
            }
            let Some(leg) = self.legs[i].as_mut() else {
                continue;
            };
            if skipped > 0 {
                leg.skip_frames(skipped);
            }
            if !self.sending[i] {
                // the leg asked us not to send (we answered recvonly/inactive):
                // time still passes in our stream's timestamps
                leg.skip_frames(1);
            } else if leg.sending_digit() {
                if leg.encode_digit_tick(&mut self.out) {
                    if let Some(dst) = io.peer.rtp {
                        let _ = io.pair.rtp.send_to(&self.out, dst).await;
                    }
                }
            } else if leg.encode_frame(&self.conv, &mut self.out).is_ok() {
                self.frames += 1;
                if let Some(dst) = io.peer.rtp {
                    let _ = io.pair.rtp.send_to(&self.out, dst).await;
                }
            }
            if side == Side::A {
                self.sent_a.extend_from_slice(&self.conv);
            }
        }
        self.record_tick();
        self.send_rtcp(now, a, b).await;
    }

    /// Every 5 s an SR/RR to each leg that hears the switch itself (relayed
    /// legs exchange their own RTCP end to end).
    async fn send_rtcp(&mut self, now: Instant, a: &SideIo, b: Option<&SideIo>) {
        let due = *self.next_rtcp.get_or_insert(now + RTCP_INTERVAL);
        if now < due {
            return;
        }
        self.next_rtcp = Some(now + RTCP_INTERVAL);
        let wall = std::time::SystemTime::now();
        for side in SIDES {
            if self.forwards(other(side)) {
                continue;
            }
            let io = match side {
                Side::A => Some(a),
                Side::B => b,
            };
            let (Some(io), Some(leg)) = (io, self.legs[ix(side)].as_mut()) else {
                continue;
            };
            leg.rtcp_report(now, wall, &mut self.out);
            if let Some(dst) = io.peer.rtcp {
                let _ = io.pair.rtcp.send_to(&self.out, dst).await;
            }
        }
    }

    fn record_tick(&mut self) {
        if self.rec.is_none() {
            return;
        }
        let left = self.legs[0].as_ref().map(|l| (l.rate(), 0usize));
        if let Some((rate, i)) = left {
            Self::convert(
                &mut self.resamplers,
                Stream::Record(i),
                rate,
                RECORDING_RATE,
                &self.heard[i],
                &mut self.rec_l,
            );
        }
        // the callee's side: the B leg, or what the switch played to an answered caller
        let right = if self.has_b {
            self.legs[1].as_ref().map(|l| (l.rate(), &self.heard[1]))
        } else {
            self.legs[0]
                .as_ref()
                .filter(|_| !self.sent_a.is_empty())
                .map(|l| (l.rate(), &self.sent_a))
        };
        if let Some((rate, pcm)) = right {
            Self::convert(
                &mut self.resamplers,
                Stream::Record(1),
                rate,
                RECORDING_RATE,
                pcm,
                &mut self.rec_r,
            );
        }
        let l = left.is_some().then_some(&self.rec_l[..]);
        let r = right.is_some().then_some(&self.rec_r[..]);
        if let Some(rec) = self.rec.as_mut() {
            if let Err(e) = rec.write_frame(l, r) {
                tracing::warn!(error = %e, "recording failed; stopped");
                self.rec = None;
                self.emit(SessionEvent::Recorded(Err(e.to_string())));
            }
        }
    }

    /// The session ends: close the recording, report playback and figures.
    pub(super) fn finish(&mut self) {
        self.stop_record();
        for side in SIDES {
            self.stop_play(side, true);
            if let Some(leg) = self.legs[ix(side)].as_mut() {
                leg.flush_dtmf();
            }
            self.drain_dtmf(side);
            if let Some(leg) = self.legs[ix(side)].as_ref() {
                self.emit(SessionEvent::Stats {
                    side,
                    stats: leg.stats(),
                });
            }
        }
    }
}
