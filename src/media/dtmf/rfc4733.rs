//! RFC 4733 telephone-events: the 4-byte payload, a receiver that turns the
//! packet stream into one [`DtmfEvent`] per key press, and a sender that plans
//! the packet sequence for a digit.
//!
//! Sans-IO: the receiver is fed RTP timestamps, marker bits and payloads, and a
//! "now" expressed on the same RTP clock; the sender returns packets with send
//! offsets. Neither reads a clock, owns a socket or builds RTP headers (the
//! RTP endpoint does that and assigns sequence numbers).

use super::{Digit, DtmfEvent};
use std::collections::VecDeque;

/// Errors from decoding or building a telephone-event payload.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum Rfc4733Error {
    #[error("telephone-event payload is {len} bytes, needs at least 4")]
    TooShort { len: usize },
    #[error("volume {0} is out of range (0-63)")]
    VolumeOutOfRange(u8),
}

/// One telephone-event payload (RFC 4733 §2.3).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TelephoneEvent {
    /// Event code; 0–15 are the DTMF digits.
    pub event: u8,
    /// The E bit: this packet ends the event.
    pub end: bool,
    /// Power level as −dBm0 (0–63).
    pub volume: u8,
    /// Duration so far, in RTP clock units.
    pub duration: u16,
}

impl TelephoneEvent {
    pub const LEN: usize = 4;

    /// Builds a payload, checking the 6-bit volume.
    pub fn new(event: u8, end: bool, volume: u8, duration: u16) -> Result<Self, Rfc4733Error> {
        if volume > 63 {
            return Err(Rfc4733Error::VolumeOutOfRange(volume));
        }
        Ok(TelephoneEvent {
            event,
            end,
            volume,
            duration,
        })
    }

    /// Decodes the first 4 bytes; the reserved R bit is ignored.
    pub fn parse(payload: &[u8]) -> Result<Self, Rfc4733Error> {
        match payload {
            [event, flags, d0, d1, ..] => Ok(TelephoneEvent {
                event: *event,
                end: flags & 0x80 != 0,
                volume: flags & 0x3f,
                duration: u16::from_be_bytes([*d0, *d1]),
            }),
            _ => Err(Rfc4733Error::TooShort { len: payload.len() }),
        }
    }

    /// Encodes the payload (R bit zero, volume masked to 6 bits).
    pub fn encode(&self) -> [u8; 4] {
        let flags = if self.end { 0x80 } else { 0 } | (self.volume & 0x3f);
        let d = self.duration.to_be_bytes();
        [self.event, flags, d[0], d[1]]
    }

    /// The DTMF digit this event carries, if it is one.
    pub fn digit(&self) -> Option<Digit> {
        Digit::from_event_code(self.event).ok()
    }
}

/// `a` is later than `b` on a 32-bit wrapping RTP clock.
fn is_newer(a: u32, b: u32) -> bool {
    a != b && a.wrapping_sub(b) < 0x8000_0000
}

#[derive(Debug, Clone, Copy)]
struct Active {
    /// Timestamp of the current segment (the event start, or a continuation).
    ts: u32,
    digit: Digit,
    /// Duration of earlier segments of a long event (RFC 4733 §2.5.1.3).
    base: u64,
    /// Longest duration seen in the current segment.
    duration: u16,
}

/// Receives telephone-event packets of one RTP stream and reports each key
/// press once, when its end is known (E bit, a newer event, or a timeout).
#[derive(Debug, Clone)]
pub struct Rfc4733Receiver {
    clock_rate: u32,
    timeout: u32,
    active: Option<Active>,
    /// Segment timestamp of the last reported event: packets at or before it are late copies.
    last_done: Option<u32>,
    events: VecDeque<DtmfEvent>,
}

impl Rfc4733Receiver {
    /// A receiver for a stream whose telephone-event clock is `clock_rate` Hz
    /// (8000 for the usual `telephone-event/8000`). Timeout defaults to 250 ms.
    pub fn new(clock_rate: u32) -> Self {
        let clock_rate = clock_rate.max(1);
        Rfc4733Receiver {
            clock_rate,
            timeout: clock_rate / 4,
            active: None,
            last_done: None,
            events: VecDeque::new(),
        }
    }

    /// How long past the last known end of an event (in RTP clock units)
    /// before it is reported although no end packet arrived.
    pub fn with_timeout(mut self, units: u32) -> Self {
        self.timeout = units.min(0x7fff_ffff);
        self
    }

    /// Feeds one telephone-event packet. `marker` is accepted for the driver's
    /// convenience but not relied on: it can be lost, and the timestamp alone
    /// identifies an event. Non-DTMF events (flash, fax tones) are ignored.
    pub fn on_packet(
        &mut self,
        timestamp: u32,
        marker: bool,
        payload: &[u8],
    ) -> Result<(), Rfc4733Error> {
        let _ = marker;
        let ev = TelephoneEvent::parse(payload)?;
        let Some(digit) = ev.digit() else {
            return Ok(());
        };
        if let Some(done) = self.last_done {
            if !is_newer(timestamp, done) {
                return Ok(()); // redundant end copy or late update of a reported event
            }
        }
        match self.active {
            Some(ref mut a) if a.ts == timestamp => {
                a.duration = a.duration.max(ev.duration);
            }
            Some(a) if !is_newer(timestamp, a.ts) => return Ok(()), // late earlier segment
            Some(a)
                if a.digit == digit
                    && timestamp == a.ts.wrapping_add(u32::from(a.duration))
                    && a.duration >= 0xff00 =>
            {
                // Continuation segment of a long event.
                self.active = Some(Active {
                    ts: timestamp,
                    digit,
                    base: a.base + u64::from(a.duration),
                    duration: ev.duration,
                });
            }
            Some(_) => {
                self.finish(); // a new event began while the previous end was lost
                self.start(timestamp, digit, ev.duration);
            }
            None => self.start(timestamp, digit, ev.duration),
        }
        if ev.end {
            self.finish();
        }
        Ok(())
    }

    /// Advances time: `now` is the RTP timestamp the stream has reached (the
    /// latest packet's, or extrapolated from the wall clock by the driver).
    /// Reports an event whose end packets were all lost.
    pub fn on_tick(&mut self, now: u32) {
        if let Some(deadline) = self.poll_timeout() {
            if !is_newer(deadline, now) {
                self.finish();
            }
        }
    }

    /// The RTP timestamp at which [`on_tick`](Self::on_tick) will give up on
    /// the event in progress, if any.
    pub fn poll_timeout(&self) -> Option<u32> {
        self.active.map(|a| {
            a.ts.wrapping_add(u32::from(a.duration))
                .wrapping_add(self.timeout)
        })
    }

    /// The digit currently pressed, for barge-in before the press is over.
    pub fn current_digit(&self) -> Option<Digit> {
        self.active.map(|a| a.digit)
    }

    /// Next completed key press.
    pub fn poll_event(&mut self) -> Option<DtmfEvent> {
        self.events.pop_front()
    }

    fn start(&mut self, ts: u32, digit: Digit, duration: u16) {
        self.active = Some(Active {
            ts,
            digit,
            base: 0,
            duration,
        });
    }

    fn finish(&mut self) {
        if let Some(a) = self.active.take() {
            let units = a.base + u64::from(a.duration);
            let ms = units * 1000 / u64::from(self.clock_rate);
            self.events.push_back(DtmfEvent {
                digit: a.digit,
                duration_ms: u32::try_from(ms).unwrap_or(u32::MAX),
            });
            self.last_done = Some(a.ts);
        }
    }
}

/// One packet of a planned digit.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PlannedPacket {
    /// When to send it, in ms after the first packet.
    pub at_ms: u32,
    /// RTP timestamp (the event start, shared by all packets).
    pub timestamp: u32,
    /// RTP marker bit (first packet only).
    pub marker: bool,
    pub event: TelephoneEvent,
}

/// Plans the telephone-event packets for sending a digit.
#[derive(Debug, Clone, Copy)]
pub struct Rfc4733Sender {
    clock_rate: u32,
    /// Interval between updates while the key is down.
    pub update_ms: u32,
    /// Spacing of the end packet copies.
    pub end_spacing_ms: u32,
    /// Number of end packets (RFC 4733 §2.5.1.4 recommends 3).
    pub end_copies: u32,
    volume: u8,
}

impl Rfc4733Sender {
    /// A sender at `clock_rate` Hz: updates every 50 ms, 3 end packets 20 ms
    /// apart, volume 10 (−10 dBm0).
    pub fn new(clock_rate: u32) -> Self {
        Rfc4733Sender {
            clock_rate: clock_rate.max(1),
            update_ms: 50,
            end_spacing_ms: 20,
            end_copies: 3,
            volume: 10,
        }
    }

    pub fn with_volume(mut self, volume: u8) -> Result<Self, Rfc4733Error> {
        if volume > 63 {
            return Err(Rfc4733Error::VolumeOutOfRange(volume));
        }
        self.volume = volume;
        Ok(self)
    }

    /// The packets for `digit` held `duration_ms` (capped so the duration fits
    /// one 16-bit segment: 8.19 s at 8 kHz), starting at RTP `timestamp`.
    pub fn plan(&self, digit: Digit, timestamp: u32, duration_ms: u32) -> Vec<PlannedPacket> {
        let max_ms =
            u32::try_from(0xffff_u64 * 1000 / u64::from(self.clock_rate)).unwrap_or(u32::MAX);
        let total_ms = duration_ms.min(max_ms);
        let units = |ms: u32| {
            u16::try_from(u64::from(ms) * u64::from(self.clock_rate) / 1000).unwrap_or(u16::MAX)
        };
        let packet = |at_ms: u32, end: bool, marker: bool| PlannedPacket {
            at_ms,
            timestamp,
            marker,
            event: TelephoneEvent {
                event: digit.event_code(),
                end,
                volume: self.volume,
                duration: units(at_ms.min(total_ms)),
            },
        };
        let mut out = Vec::new();
        let step = self.update_ms.max(1);
        let mut at = 0;
        while at < total_ms {
            out.push(packet(at, false, at == 0));
            at += step;
        }
        for i in 0..self.end_copies.max(1) {
            let mut p = packet(total_ms + i * self.end_spacing_ms, true, out.is_empty());
            p.event.duration = units(total_ms);
            out.push(p);
        }
        out
    }
}

#[cfg(test)]
#[path = "rfc4733_tests.rs"]
mod tests;
