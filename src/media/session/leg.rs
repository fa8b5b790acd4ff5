//! One leg the switch terminates media for, sans-IO: incoming datagrams go
//! through the RTP parser into the jitter buffer (voice) or the RFC 4733
//! receiver (telephone-event); once per 20 ms tick the driver pulls a decoded
//! frame (concealed when lost, silence when nothing is due) and hands in the
//! frame to send, which is encoded and stamped with continuous numbering.
//! In-band DTMF (Goertzel) runs on G.711 legs that negotiated no telephone-event.
//!
//! Must not own sockets or read the clock: `now` is an argument.

use bytes::{Bytes, BytesMut};
use std::collections::VecDeque;
use std::time::{Duration, Instant};

use super::negotiate::Negotiated;
use crate::media::codec::{CodecError, CodecKind, Decoder, Encoder};
use crate::media::dtmf::goertzel::GoertzelDetector;
use crate::media::dtmf::rfc4733::{PlannedPacket, Rfc4733Receiver, Rfc4733Sender};
use crate::media::dtmf::{Digit, DtmfEvent};
use crate::media::rtp::{
    rtcp, Frame, JitterBuffer, JitterConfig, ReceiverStats, RtcpReport, RtpPacket, SenderInfo,
    Stamper,
};

pub use crate::events::{DtmfSource, LegStats};

pub struct LegMedia {
    neg: Negotiated,
    dec: Decoder,
    enc: Encoder,
    jitter: JitterBuffer,
    stats: ReceiverStats,
    stamper: Stamper,
    te_rx: Option<Rfc4733Receiver>,
    /// (arrival, RTP timestamp + duration) of the latest telephone-event packet.
    te_last: Option<(Instant, u32)>,
    inband: Option<GoertzelDetector>,
    dtmf: VecDeque<(DtmfEvent, DtmfSource)>,
    payload: Vec<u8>,
    out_packets: u64,
    concealed: u64,
    decode_errors: u64,
    frame_len: usize,
    /// Octets of payload sent (RTCP sender info).
    out_octets: u64,
    /// The RTP timestamp of the last frame sent and when it was sent.
    last_sent: Option<(Instant, u32)>,
    /// Middle 32 bits of the last SR's NTP time from the peer, and its arrival.
    last_sr: Option<(u32, Instant)>,
    /// Decoded audio of a relayed packet (in-band DTMF detection).
    scratch: Vec<i16>,
    /// Decoded audio not yet played (packets longer or shorter than 20 ms).
    decoded: Vec<i16>,
    /// Samples the last packet decoded to (what a lost packet stands for).
    packet_samples: usize,
    /// Digits waiting to be sent as telephone-events, with their durations.
    digits_out: VecDeque<(Digit, u32)>,
    /// The digit being sent: its planned packets, the event timestamp, ticks so far.
    sending: Option<Sending>,
}

struct Sending {
    plan: VecDeque<PlannedPacket>,
    ticks: u32,
}

impl LegMedia {
    pub fn new(neg: Negotiated) -> Result<Self, CodecError> {
        let rate = neg.codec.clock_rate();
        Self::with_pcm_rate(neg, rate)
    }

    /// A leg whose decoded and encoded PCM runs at `pcm_rate` (one of
    /// [`CodecKind::pcm_rates`]; Opus bridged to G.711 runs at 8 kHz).
    pub fn with_pcm_rate(neg: Negotiated, pcm_rate: u32) -> Result<Self, CodecError> {
        let rate = neg.codec.clock_rate();
        let frame_len = (pcm_rate / 50) as usize;
        let cfg = JitterConfig {
            clock_rate: rate,
            ..JitterConfig::default()
        };
        let inband = (neg.te_pt.is_none()
            && matches!(neg.codec, CodecKind::Pcmu | CodecKind::Pcma))
        .then(GoertzelDetector::default);
        Ok(LegMedia {
            dec: Decoder::at_rate(neg.codec, pcm_rate)?,
            enc: Encoder::at_rate(neg.codec, pcm_rate)?,
            jitter: JitterBuffer::new(cfg),
            stats: ReceiverStats::new(rate),
            stamper: Stamper::new(
                rand::random(),
                rand::random(),
                rand::random(),
                frame_len as u32,
            ),
            te_rx: neg.te_pt.map(|_| Rfc4733Receiver::new(neg.te_rate)),
            te_last: None,
            inband,
            dtmf: VecDeque::new(),
            payload: Vec::with_capacity(1500),
            out_packets: 0,
            concealed: 0,
            decode_errors: 0,
            frame_len,
            out_octets: 0,
            last_sent: None,
            last_sr: None,
            digits_out: VecDeque::new(),
            sending: None,
            scratch: Vec::with_capacity(160),
            decoded: Vec::with_capacity(4 * frame_len),
            packet_samples: frame_len,
            neg,
        })
    }

    pub fn negotiated(&self) -> &Negotiated {
        &self.neg
    }

    /// PCM rate of this leg's frames.
    pub fn rate(&self) -> u32 {
        (self.frame_len * 50) as u32
    }

    /// Samples per 20 ms frame.
    pub fn frame_len(&self) -> usize {
        self.frame_len
    }

    /// Takes one received datagram. Packets of other payload types are ignored
    /// (comfort noise, a codec we did not pick); malformed ones are counted.
    pub fn on_rtp(&mut self, now: Instant, datagram: Bytes) {
        let Ok(pkt) = RtpPacket::parse(datagram) else {
            self.decode_errors += 1;
            return;
        };
        if Some(pkt.payload_type) == self.neg.te_pt {
            self.on_telephone_event(now, &pkt);
            return;
        }
        if pkt.payload_type != self.neg.pt {
            return;
        }
        self.stats
            .on_packet(now, pkt.ssrc, pkt.sequence, pkt.timestamp);
        self.jitter.push(now, pkt);
    }

    /// A telephone-event packet only (the relay path forwards voice untouched
    /// and shows us just the digits).
    pub fn on_telephone_event(&mut self, now: Instant, pkt: &RtpPacket) {
        let Some(rx) = self.te_rx.as_mut() else {
            return;
        };
        if rx
            .on_packet(pkt.timestamp, pkt.marker, &pkt.payload)
            .is_ok()
        {
            let dur = pkt
                .payload
                .get(2..4)
                .map(|d| u16::from_be_bytes([d[0], d[1]]))
                .unwrap_or(0);
            self.te_last = Some((now, pkt.timestamp.wrapping_add(u32::from(dur))));
        }
        while let Some(ev) = rx.poll_event() {
            self.dtmf.push_back((ev, DtmfSource::Rfc4733));
        }
    }

    /// Gives up on a telephone-event whose end packets never came.
    pub fn on_tick(&mut self, now: Instant) {
        if let (Some(rx), Some((at, ts))) = (self.te_rx.as_mut(), self.te_last) {
            let elapsed = now.saturating_duration_since(at);
            let units = (elapsed.as_micros() * u128::from(self.neg.te_rate) / 1_000_000) as u32;
            rx.on_tick(ts.wrapping_add(units));
            while let Some(ev) = rx.poll_event() {
                self.dtmf.push_back((ev, DtmfSource::Rfc4733));
            }
        }
    }

    /// Appends one 20 ms frame of what the leg sent (decoded, concealed or
    /// silence); true when it carried received audio.
    pub fn pull_frame(&mut self, now: Instant, pcm: &mut Vec<i16>) -> bool {
        self.on_tick(now);
        // packets of any duration (ptime 10, 20, 30, 40 ms …) are decoded into a
        // FIFO as they fall due; each tick takes exactly one 20 ms frame from it
        let mut heard = false;
        while self.decoded.len() < self.frame_len {
            let before = self.decoded.len();
            match self.jitter.pop(now) {
                Frame::Packet { payload, .. } => {
                    if self.dec.decode(&payload, &mut self.decoded).is_err() {
                        self.decode_errors += 1;
                    }
                    let got = self.decoded.len() - before;
                    if got > 0 {
                        heard = true;
                        self.packet_samples = got;
                    }
                }
                Frame::Lost { .. } => {
                    self.concealed += 1;
                    // as long as the packets of this stream last
                    while self.decoded.len() - before < self.packet_samples {
                        let step = self.decoded.len();
                        if self.dec.conceal(&mut self.decoded).is_err()
                            || self.decoded.len() == step
                        {
                            break;
                        }
                    }
                    self.decoded.truncate(before + self.packet_samples);
                }
                Frame::Empty => break,
            }
        }
        // latency stays bounded whatever a peer sends: keep at most 3 frames (or
        // one long packet and a frame) queued
        let cap = (3 * self.frame_len).max(self.packet_samples + self.frame_len);
        let excess = self.decoded.len().saturating_sub(cap);
        if excess > 0 {
            self.decoded.drain(..excess);
        }
        let start = pcm.len();
        let take = self.decoded.len().min(self.frame_len);
        pcm.extend(self.decoded.drain(..take));
        pcm.resize(start + self.frame_len, 0);
        if let Some(det) = self.inband.as_mut() {
            det.push(&pcm[start..]);
            while let Some(ev) = det.poll_event() {
                self.dtmf.push_back((ev, DtmfSource::Inband));
            }
        }
        heard
    }

    /// Encodes one 20 ms frame and writes the RTP packet to `out`.
    pub fn encode_frame(&mut self, pcm: &[i16], out: &mut BytesMut) -> Result<(), CodecError> {
        self.payload.clear();
        self.enc.encode(pcm, &mut self.payload)?;
        let (seq, ts, marker) = self.stamper.next_frame();
        self.out_octets += self.payload.len() as u64;
        self.last_sent = Some((Instant::now(), ts));
        let mut pkt = RtpPacket::new(
            self.neg.pt,
            seq,
            ts,
            self.stamper.ssrc(),
            Bytes::copy_from_slice(&self.payload),
        );
        pkt.marker = marker;
        out.clear();
        // header + payload always fit the fixed-size packet writer
        let _ = pkt.write_to(out);
        self.out_packets += 1;
        Ok(())
    }

    /// Takes over `old`'s outgoing SSRC, sequence and timestamp when both run
    /// on the same RTP clock (a codec change keeps one continuous stream).
    pub fn continue_numbering(&mut self, old: &LegMedia) {
        if old.neg.codec.clock_rate() == self.neg.codec.clock_rate() {
            self.stamper = old.stamper.clone();
            self.out_packets = old.out_packets;
            self.out_octets = old.out_octets;
        }
    }

    /// The clock slipped `frames` frames: keep the timestamps true to time.
    pub fn skip_frames(&mut self, frames: u64) {
        self.stamper.skip_frames(frames);
    }

    /// Queues `digit` to be sent as RFC 4733 telephone-events (instead of
    /// voice while it lasts); false when this leg negotiated no telephone-event.
    pub fn queue_digit(&mut self, digit: Digit, duration_ms: u32) -> bool {
        if self.neg.te_pt.is_none() {
            return false;
        }
        self.digits_out
            .push_back((digit, duration_ms.clamp(40, 2000)));
        true
    }

    /// A digit is being sent: this tick's packet replaces the voice frame.
    pub fn sending_digit(&self) -> bool {
        self.sending.is_some() || !self.digits_out.is_empty()
    }

    /// This tick's telephone-event packet into `out` (false: nothing due this tick).
    pub fn encode_digit_tick(&mut self, out: &mut BytesMut) -> bool {
        let Some(te_pt) = self.neg.te_pt else {
            return false;
        };
        // every tick advances the stream's numbering, event packet or not
        let (seq, ts, _) = self.stamper.next_frame();
        if self.sending.is_none() {
            let Some((digit, ms)) = self.digits_out.pop_front() else {
                return false;
            };
            let plan = Rfc4733Sender::new(self.neg.te_rate).plan(digit, ts, ms);
            self.sending = Some(Sending {
                plan: plan.into(),
                ticks: 0,
            });
        }
        let Some(s) = self.sending.as_mut() else {
            return false;
        };
        let now_ms = s.ticks * 20;
        s.ticks += 1;
        let mut due = None;
        while s.plan.front().is_some_and(|p| p.at_ms <= now_ms) {
            due = s.plan.pop_front();
            if due.is_some_and(|p| p.event.end) {
                break; // each end copy in its own tick
            }
        }
        if s.plan.is_empty() {
            self.sending = None;
        }
        let Some(p) = due else {
            return false;
        };
        let mut pkt = RtpPacket::new(
            te_pt,
            seq,
            p.timestamp,
            self.stamper.ssrc(),
            Bytes::copy_from_slice(&p.event.encode()),
        );
        pkt.marker = p.marker;
        out.clear();
        let _ = pkt.write_to(out);
        self.out_packets += 1;
        true
    }

    /// A voice packet the relay forwarded untouched: counted for the
    /// channel's loss and jitter figures, nothing decoded.
    pub fn observe_relayed(&mut self, now: Instant, pkt: &[u8]) {
        if pkt.len() < 12 || pkt[0] >> 6 != 2 || pkt[1] & 0x7f != self.neg.pt {
            return;
        }
        let seq = u16::from_be_bytes([pkt[2], pkt[3]]);
        let ts = u32::from_be_bytes([pkt[4], pkt[5], pkt[6], pkt[7]]);
        let ssrc = u32::from_be_bytes([pkt[8], pkt[9], pkt[10], pkt[11]]);
        self.stats.on_packet(now, ssrc, seq, ts);
        // a G.711 call without telephone-event: its digits are tones in the audio
        if self.inband.is_some() {
            if let Some(payload) = payload_of(pkt) {
                self.scratch.clear();
                if self.dec.decode(payload, &mut self.scratch).is_ok() {
                    if let Some(det) = self.inband.as_mut() {
                        det.push(&self.scratch);
                        while let Some(ev) = det.poll_event() {
                            self.dtmf.push_back((ev, DtmfSource::Inband));
                        }
                    }
                }
            }
        }
    }

    /// An RTCP compound packet from the peer: remembers its last SR.
    pub fn on_rtcp(&mut self, now: Instant, pkt: &[u8]) {
        if let Ok(reports) = RtcpReport::parse_compound(pkt) {
            for r in reports {
                if let RtcpReport::Sender { info, .. } = r {
                    self.last_sr = Some((info.lsr(), now));
                }
            }
        }
    }

    /// The leg's RTCP report (SR once we have sent, else RR) into `out`.
    pub fn rtcp_report(&mut self, now: Instant, wall: std::time::SystemTime, out: &mut BytesMut) {
        let (lsr, dlsr) = self
            .last_sr
            .map(|(lsr, at)| (lsr, rtcp::dlsr(now.saturating_duration_since(at))))
            .unwrap_or((0, 0));
        let blocks: Vec<_> = self.stats.report_block(lsr, dlsr).into_iter().collect();
        let ssrc = self.stamper.ssrc();
        let report = match self.last_sent {
            Some((at, ts)) => {
                let since = now.saturating_duration_since(at);
                let rtp_ts = ts.wrapping_add(
                    (since.as_micros() * u128::from(self.neg.codec.clock_rate()) / 1_000_000)
                        as u32,
                );
                RtcpReport::Sender {
                    ssrc,
                    info: SenderInfo {
                        ntp_timestamp: ntp(wall),
                        rtp_timestamp: rtp_ts,
                        packet_count: self.out_packets as u32,
                        octet_count: self.out_octets as u32,
                    },
                    blocks,
                }
            }
            None => RtcpReport::Receiver { ssrc, blocks },
        };
        out.clear();
        let _ = report.write_to(out);
    }

    /// The next completed key press on this leg.
    pub fn poll_dtmf(&mut self) -> Option<(DtmfEvent, DtmfSource)> {
        self.dtmf.pop_front()
    }

    /// Ends a tone still held when the leg goes away.
    pub fn flush_dtmf(&mut self) {
        if let Some(det) = self.inband.as_mut() {
            det.flush();
            while let Some(ev) = det.poll_event() {
                self.dtmf.push_back((ev, DtmfSource::Inband));
            }
        }
    }

    pub fn stats(&self) -> LegStats {
        LegStats {
            packets_in: u64::from(self.stats.received()),
            packets_out: self.out_packets,
            packets_lost: i64::from(self.stats.cumulative_lost()),
            jitter_ms: self.stats.jitter().jitter_ms(),
            concealed: self.concealed,
            decode_errors: self.decode_errors,
        }
    }
}

/// The payload of an RTP datagram (after CSRCs and header extension, before
/// padding), read in place.
fn payload_of(pkt: &[u8]) -> Option<&[u8]> {
    let cc = usize::from(pkt.first()? & 0x0f);
    let mut start = 12 + 4 * cc;
    if pkt[0] & 0x10 != 0 {
        let words = pkt.get(start + 2..start + 4)?;
        start += 4 + 4 * usize::from(u16::from_be_bytes([words[0], words[1]]));
    }
    let mut end = pkt.len();
    if pkt[0] & 0x20 != 0 {
        end = end.checked_sub(usize::from(*pkt.last()?))?;
    }
    pkt.get(start..end)
}

/// NTP time (RFC 3550 §4: seconds since 1900 in the high 32 bits).
fn ntp(wall: std::time::SystemTime) -> u64 {
    const NTP_UNIX_OFFSET: u64 = 2_208_988_800;
    let d = wall
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default();
    let secs = d.as_secs() + NTP_UNIX_OFFSET;
    let frac = (u64::from(d.subsec_nanos()) << 32) / 1_000_000_000;
    (secs << 32) | frac
}

/// 20 ms, the frame period of every leg the switch terminates.
pub const PTIME: Duration = Duration::from_millis(20);

#[cfg(test)]
mod tests {
    use super::*;
    use crate::media::dtmf::Digit;
    use std::time::Duration;

    fn pcmu() -> Negotiated {
        Negotiated {
            codec: CodecKind::Pcmu,
            pt: 0,
            te_pt: Some(101),
            te_rate: 8000,
        }
    }

    fn sine(freq: f32, n: usize, rate: u32, phase: &mut f32) -> Vec<i16> {
        (0..n)
            .map(|_| {
                *phase += 2.0 * std::f32::consts::PI * freq / rate as f32;
                (phase.sin() * 8000.0) as i16
            })
            .collect()
    }

    #[test]
    fn encoded_frames_decode_on_a_second_leg() {
        let mut tx = LegMedia::new(pcmu()).expect("leg");
        let mut rx = LegMedia::new(pcmu()).expect("leg");
        let t0 = Instant::now();
        let mut phase = 0.0;
        let mut out = BytesMut::new();
        let mut heard = Vec::new();
        let mut got = 0;
        for i in 0..50u32 {
            let now = t0 + PTIME * i;
            let frame = sine(1000.0, 160, 8000, &mut phase);
            tx.encode_frame(&frame, &mut out).expect("encode");
            rx.on_rtp(now, out.clone().freeze());
            let before = heard.len();
            if rx.pull_frame(now, &mut heard) {
                got += 1;
            }
            assert_eq!(heard.len() - before, 160, "one frame per tick");
        }
        assert!(got >= 45, "frames heard after the jitter delay: {got}");
        assert_eq!(rx.stats().packets_in, 50);
        assert_eq!(tx.stats().packets_out, 50);
        // the played audio is a 1 kHz tone (zero crossings over the last 0.5 s)
        let tail = &heard[heard.len() - 4000..];
        let crossings = tail.windows(2).filter(|w| (w[0] < 0) != (w[1] < 0)).count();
        assert!((950..=1050).contains(&crossings), "crossings {crossings}");
    }

    #[test]
    fn telephone_events_become_one_digit_each() {
        let mut rx = LegMedia::new(pcmu()).expect("leg");
        let t0 = Instant::now();
        let mut n = 0u16;
        for (k, digit) in [Digit::D5, Digit::Pound].into_iter().enumerate() {
            let ts = 10_000 + k as u32 * 8000;
            for step in 1..=6u16 {
                let end = step >= 4;
                let ev = [digit.event_code(), if end { 0x80 } else { 0 } | 10, 0, 0];
                let mut payload = ev;
                payload[2..4].copy_from_slice(&(step.min(4) * 160).to_be_bytes());
                let mut pkt = RtpPacket::new(101, n, ts, 7, Bytes::copy_from_slice(&payload));
                pkt.marker = step == 1;
                n += 1;
                let mut buf = BytesMut::new();
                pkt.write_to(&mut buf).expect("write");
                rx.on_rtp(t0 + PTIME * u32::from(n), buf.freeze());
            }
        }
        let got: Vec<_> = std::iter::from_fn(|| rx.poll_dtmf()).collect();
        assert_eq!(got.len(), 2, "{got:?}");
        assert_eq!(got[0].0.digit, Digit::D5);
        assert_eq!(got[0].0.duration_ms, 80);
        assert_eq!(got[1].0.digit, Digit::Pound);
        assert!(got.iter().all(|(_, s)| *s == DtmfSource::Rfc4733));
    }

    #[test]
    fn inband_tones_are_detected_without_telephone_event() {
        let neg = Negotiated {
            te_pt: None,
            ..pcmu()
        };
        let mut tx = LegMedia::new(neg.clone()).expect("leg");
        let mut rx = LegMedia::new(neg).expect("leg");
        let t0 = Instant::now();
        let (mut p1, mut p2) = (0.0, 0.0);
        let mut out = BytesMut::new();
        let mut pcm = Vec::new();
        for i in 0..40u32 {
            // digit 1 (697 + 1209 Hz) for 200 ms, then silence
            let frame: Vec<i16> = if (5..15).contains(&i) {
                let a = sine(697.0, 160, 8000, &mut p1);
                let b = sine(1209.0, 160, 8000, &mut p2);
                a.iter().zip(&b).map(|(x, y)| x / 2 + y / 2).collect()
            } else {
                vec![0; 160]
            };
            tx.encode_frame(&frame, &mut out).expect("encode");
            let now = t0 + PTIME * i;
            rx.on_rtp(now, out.clone().freeze());
            rx.pull_frame(now, &mut pcm);
        }
        let got: Vec<_> = std::iter::from_fn(|| rx.poll_dtmf()).collect();
        assert_eq!(got.len(), 1, "{got:?}");
        assert_eq!(got[0].0.digit, Digit::D1);
        assert_eq!(got[0].1, DtmfSource::Inband);
    }

    #[test]
    fn rtcp_reports_carry_what_was_sent_and_lost() {
        let mut tx = LegMedia::new(pcmu()).expect("leg");
        let mut rx = LegMedia::new(pcmu()).expect("leg");
        let t0 = Instant::now();
        let mut out = BytesMut::new();
        for i in 0..100u32 {
            tx.encode_frame(&[0; 160], &mut out).expect("encode");
            // every tenth packet is lost on the way
            if i % 10 != 3 {
                rx.on_rtp(t0 + PTIME * i, out.clone().freeze());
            }
        }
        let mut buf = BytesMut::new();
        tx.rtcp_report(t0, std::time::SystemTime::now(), &mut buf);
        match RtcpReport::parse_compound(&buf).expect("parses").as_slice() {
            [RtcpReport::Sender { info, .. }] => {
                assert_eq!(info.packet_count, 100);
                assert_eq!(info.octet_count, 16_000);
            }
            other => panic!("expected one SR: {other:?}"),
        }
        rx.rtcp_report(t0, std::time::SystemTime::now(), &mut buf);
        match RtcpReport::parse_compound(&buf).expect("parses").as_slice() {
            [RtcpReport::Receiver { blocks, .. }] => {
                assert_eq!(blocks.len(), 1);
                assert_eq!(blocks[0].cumulative_lost, 10);
                assert_eq!(blocks[0].fraction_lost, 25, "10 % is 25/256");
            }
            other => panic!("expected one RR: {other:?}"),
        }
        assert_eq!(rx.stats().packets_lost, 10);
    }

    #[test]
    fn queued_digits_go_out_as_telephone_events_another_leg_reads() {
        let mut tx = LegMedia::new(pcmu()).expect("leg");
        let mut rx = LegMedia::new(pcmu()).expect("leg");
        assert!(tx.queue_digit(Digit::D7, 120));
        assert!(tx.queue_digit(Digit::Star, 100));
        let t0 = Instant::now();
        let mut out = BytesMut::new();
        let mut ticks = 0u32;
        while tx.sending_digit() {
            if tx.encode_digit_tick(&mut out) {
                rx.on_rtp(t0 + PTIME * ticks, out.clone().freeze());
            }
            ticks += 1;
            assert!(ticks < 100, "digits never finish");
        }
        let got: Vec<_> = std::iter::from_fn(|| rx.poll_dtmf()).collect();
        let digits: Vec<_> = got.iter().map(|(e, _)| (e.digit, e.duration_ms)).collect();
        assert_eq!(digits, [(Digit::D7, 120), (Digit::Star, 100)]);
        // a leg without telephone-event refuses
        let mut plain = LegMedia::new(Negotiated {
            te_pt: None,
            ..pcmu()
        })
        .expect("leg");
        assert!(!plain.queue_digit(Digit::D1, 100));
    }

    #[test]
    fn inband_digits_are_found_on_relayed_g711_packets() {
        let neg = Negotiated {
            te_pt: None,
            ..pcmu()
        };
        let mut tx = LegMedia::new(neg.clone()).expect("leg");
        let mut relay = LegMedia::new(neg).expect("leg");
        let t0 = Instant::now();
        let (mut p1, mut p2) = (0.0, 0.0);
        let mut out = BytesMut::new();
        for i in 0..40u32 {
            // digit 9 (852 + 1477 Hz) for 120 ms
            let frame: Vec<i16> = if (5..11).contains(&i) {
                let a = sine(852.0, 160, 8000, &mut p1);
                let b = sine(1477.0, 160, 8000, &mut p2);
                a.iter().zip(&b).map(|(x, y)| x / 2 + y / 2).collect()
            } else {
                vec![0; 160]
            };
            tx.encode_frame(&frame, &mut out).expect("encode");
            relay.observe_relayed(t0 + PTIME * i, &out);
        }
        let got: Vec<_> = std::iter::from_fn(|| relay.poll_dtmf()).collect();
        assert_eq!(got.len(), 1, "{got:?}");
        assert_eq!((got[0].0.digit, got[0].1), (Digit::D9, DtmfSource::Inband));
        assert_eq!(relay.stats().packets_in, 40);
        // malformed headers never reach the decoder
        assert_eq!(
            payload_of(&[0x90, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff]),
            None
        );
        assert_eq!(
            payload_of(&[0xa0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 2, 9]),
            None
        );
    }

    #[test]
    fn thirty_ms_packets_play_as_continuous_20_ms_frames() {
        // a phone with ptime 30: 240 samples a packet, 1.5 of our frames
        let mut rx = LegMedia::new(pcmu()).expect("leg");
        let mut enc = crate::media::codec::Encoder::new(CodecKind::Pcmu).expect("enc");
        let t0 = Instant::now();
        let mut phase = 0.0;
        let mut heard = Vec::new();
        let mut ticks = 0u32;
        for n in 0..40u32 {
            let pcm = sine(1000.0, 240, 8000, &mut phase);
            let mut payload = Vec::new();
            enc.encode(&pcm, &mut payload).expect("encode");
            let pkt = RtpPacket::new(0, n as u16, n * 240, 5, Bytes::from(payload));
            let mut buf = BytesMut::new();
            pkt.write_to(&mut buf).expect("write");
            let arrival = t0 + Duration::from_millis(30) * n;
            rx.on_rtp(arrival, buf.freeze());
            // every 20 ms tick up to this arrival
            while PTIME * ticks <= Duration::from_millis(30) * n {
                rx.pull_frame(t0 + PTIME * ticks, &mut heard);
                ticks += 1;
            }
        }
        assert_eq!(rx.stats().packets_in, 40);
        assert_eq!(
            rx.stats().concealed,
            0,
            "no gaps invented between 30 ms packets"
        );
        // after the jitter delay the tone is continuous: no silent 10 ms holes
        let steady = &heard[8000 * 2 / 10..heard.len() - 800];
        let holes = steady
            .chunks(40)
            .filter(|c| c.iter().all(|s| s.abs() < 50))
            .count();
        assert_eq!(holes, 0, "silent 5 ms chunks in a continuous tone");
        let crossings = steady
            .windows(2)
            .filter(|w| (w[0] < 0) != (w[1] < 0))
            .count() as f64;
        let hz = crossings / 2.0 / (steady.len() as f64 / 8000.0);
        assert!((hz - 1000.0).abs() < 20.0, "{hz} Hz");
    }

    #[test]
    fn garbage_and_foreign_payload_types_are_ignored() {
        let mut rx = LegMedia::new(pcmu()).expect("leg");
        let now = Instant::now();
        rx.on_rtp(now, Bytes::from_static(b"\x00\x01garbage"));
        let pkt = RtpPacket::new(13, 1, 1, 1, Bytes::from_static(&[0; 1]));
        let mut buf = BytesMut::new();
        pkt.write_to(&mut buf).expect("write");
        rx.on_rtp(now, buf.freeze());
        let mut pcm = Vec::new();
        assert!(!rx.pull_frame(now, &mut pcm));
        assert_eq!(pcm.len(), 160);
        assert_eq!(rx.stats().decode_errors, 1);
        assert_eq!(rx.stats().packets_in, 0);
    }
}
