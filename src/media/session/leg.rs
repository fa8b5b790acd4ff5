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
use crate::media::dtmf::rfc4733::Rfc4733Receiver;
use crate::media::dtmf::DtmfEvent;
use crate::media::rtp::{Frame, JitterBuffer, JitterConfig, ReceiverStats, RtpPacket, Stamper};

/// How a digit reached the switch.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum DtmfSource {
    Rfc4733,
    Info,
    Inband,
}

/// Counters of one leg, for RTCP and for the channel's figures.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct LegStats {
    pub packets_in: u64,
    pub packets_out: u64,
    pub packets_lost: i64,
    pub jitter_ms: f64,
    pub concealed: u64,
    pub decode_errors: u64,
}

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
        let start = pcm.len();
        let heard = match self.jitter.pop(now) {
            Frame::Packet { payload, .. } => match self.dec.decode(&payload, pcm) {
                Ok(()) => true,
                Err(_) => {
                    self.decode_errors += 1;
                    false
                }
            },
            Frame::Lost { .. } => {
                self.concealed += 1;
                self.dec.conceal(pcm).is_ok()
            }
            Frame::Empty => false,
        };
        // exactly one frame, whatever the packet held (ptime other than 20 ms)
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

    /// The clock slipped `frames` frames: keep the timestamps true to time.
    pub fn skip_frames(&mut self, frames: u64) {
        self.stamper.skip_frames(frames);
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

/// 20 ms, the frame period of every leg the switch terminates.
pub const PTIME: Duration = Duration::from_millis(20);

#[cfg(test)]
mod tests {
    use super::*;
    use crate::media::dtmf::Digit;

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
