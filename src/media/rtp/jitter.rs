//! Receive-side jitter buffer for one RTP stream, sans-IO.
//!
//! The driver calls [`JitterBuffer::push`] for each arriving packet and
//! [`JitterBuffer::pop`] once per frame period; both take `now`. Packets are
//! reordered by extended sequence number (u16 wrap) and played at
//! `anchor + delay + (ts - anchor_ts)/clock` (u32 timestamp wrap). Gaps
//! bounded by received packets come out as [`Frame::Lost`] for concealment;
//! duplicates and packets whose slot has already played are dropped.
//!
//! The playout anchor is re-set (and an adapted target delay applied) at a
//! marker-bit talkspurt start, after an underrun, on an SSRC change
//! (re-INVITE, transfer: the old stream's buffered packets drain first, no
//! Lost run is produced for the numbering jump) and on a jump larger than
//! the window. Memory is bounded by `capacity` packets. No decoding here.

use super::packet::RtpPacket;
use super::stats::InterarrivalJitter;
use bytes::Bytes;
use std::collections::{BTreeMap, VecDeque};
use std::time::{Duration, Instant};

/// Tuning for one stream.
#[derive(Debug, Clone)]
pub struct JitterConfig {
    pub clock_rate: u32,
    pub ptime: Duration,
    pub min_delay: Duration,
    pub max_delay: Duration,
    pub initial_delay: Duration,
    /// Reorder window and memory bound, in packets.
    pub capacity: usize,
}

impl Default for JitterConfig {
    fn default() -> Self {
        Self {
            clock_rate: 8000,
            ptime: Duration::from_millis(20),
            min_delay: Duration::from_millis(40),
            max_delay: Duration::from_millis(200),
            initial_delay: Duration::from_millis(60),
            capacity: 64,
        }
    }
}

/// One frame period's output.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Frame {
    Packet {
        payload: Bytes,
        seq: u16,
        ts: u32,
    },
    /// A missing packet at timestamp `ts`: conceal.
    Lost {
        ts: u32,
    },
    /// Nothing due (buffering, silence or underrun).
    Empty,
}

/// What [`JitterBuffer::push`] did with a packet.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PushOutcome {
    Buffered,
    Duplicate,
    /// Its slot was already played or declared lost.
    Late,
    /// A new SSRC or a jump beyond the window re-started the stream.
    Restarted,
}

/// Counters for metrics and RTCP.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct JitterCounters {
    pub played: u64,
    pub lost: u64,
    pub late: u64,
    pub duplicates: u64,
    pub restarts: u64,
    pub underruns: u64,
}

#[derive(Debug, Clone)]
struct Entry {
    seq: u16,
    ts: u32,
    ts_ext: i64,
    payload: Bytes,
}

#[derive(Debug, Clone, Copy)]
struct Anchor {
    at: Instant,
    ts_ext: i64,
    delay: Duration,
}

/// Jitter buffer for one incoming stream.
#[derive(Debug, Clone)]
pub struct JitterBuffer {
    cfg: JitterConfig,
    ssrc: Option<u32>,
    slots: BTreeMap<i64, Entry>,
    draining: VecDeque<Entry>,
    highest_seq: i64,
    ts_ref: i64,
    next_seq: i64,
    next_ts: i64,
    frame_ticks: i64,
    last_played: Option<(i64, i64)>,
    anchor: Option<Anchor>,
    played_since_anchor: bool,
    underrun: bool,
    jitter: InterarrivalJitter,
    target: Duration,
    counters: JitterCounters,
}

impl JitterBuffer {
    pub fn new(cfg: JitterConfig) -> Self {
        let frame_ticks =
            (cfg.ptime.as_micros() * u128::from(cfg.clock_rate) / 1_000_000).max(1) as i64;
        let target = cfg
            .initial_delay
            .clamp(cfg.min_delay, cfg.max_delay.max(cfg.min_delay));
        Self {
            jitter: InterarrivalJitter::new(cfg.clock_rate),
            cfg,
            ssrc: None,
            slots: BTreeMap::new(),
            draining: VecDeque::new(),
            highest_seq: 0,
            ts_ref: 0,
            next_seq: 0,
            next_ts: 0,
            frame_ticks,
            last_played: None,
            anchor: None,
            played_since_anchor: false,
            underrun: false,
            target,
            counters: JitterCounters::default(),
        }
    }

    pub fn counters(&self) -> JitterCounters {
        self.counters
    }

    /// The delay the next re-anchor will use.
    pub fn target_delay(&self) -> Duration {
        self.target
    }

    /// Packets held (bounded by `capacity` plus a drained old stream).
    pub fn len(&self) -> usize {
        self.slots.len() + self.draining.len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    fn extend_seq(&self, seq: u16) -> i64 {
        self.highest_seq + i64::from(seq.wrapping_sub(self.highest_seq as u16) as i16)
    }

    fn extend_ts(&self, ts: u32) -> i64 {
        self.ts_ref + i64::from(ts.wrapping_sub(self.ts_ref as u32) as i32)
    }

    fn restart(&mut self, now: Instant, pkt: &RtpPacket) {
        // Old packets still play, in order, before the new stream.
        self.draining
            .extend(std::mem::take(&mut self.slots).into_values());
        if self.draining.len() > self.cfg.capacity {
            let excess = self.draining.len() - self.cfg.capacity;
            self.draining.drain(..excess);
        }
        if self.ssrc != Some(pkt.ssrc) {
            self.jitter.reset();
        }
        self.ssrc = Some(pkt.ssrc);
        // Fresh numbering space: extended values start from the raw ones.
        self.highest_seq = i64::from(pkt.sequence);
        self.ts_ref = i64::from(pkt.timestamp);
        self.next_seq = self.highest_seq;
        self.next_ts = self.ts_ref;
        self.last_played = None;
        self.reanchor(now, self.ts_ref);
        self.counters.restarts += 1;
    }

    fn reanchor(&mut self, now: Instant, ts_ext: i64) {
        self.anchor = Some(Anchor {
            at: now,
            ts_ext,
            delay: self.target,
        });
        self.played_since_anchor = false;
        self.underrun = false;
    }

    /// Accept one arriving packet.
    pub fn push(&mut self, now: Instant, pkt: RtpPacket) -> PushOutcome {
        if self.ssrc != Some(pkt.ssrc) {
            let first = self.ssrc.is_none();
            self.restart(now, &pkt);
            self.store(now, pkt);
            return if first {
                PushOutcome::Buffered
            } else {
                PushOutcome::Restarted
            };
        }
        let seq_ext = self.extend_seq(pkt.sequence);
        let window = self.cfg.capacity as i64;
        if seq_ext >= self.next_seq + window || seq_ext < self.next_seq - window * 4 {
            self.restart(now, &pkt);
            self.store(now, pkt);
            return PushOutcome::Restarted;
        }
        if self.slots.contains_key(&seq_ext) {
            self.counters.duplicates += 1;
            return PushOutcome::Duplicate;
        }
        let ts_ext = self.extend_ts(pkt.timestamp);
        if seq_ext < self.next_seq {
            if self.played_since_anchor {
                self.counters.late += 1;
                return PushOutcome::Late;
            }
            // Still buffering: an earlier packet arrived after a later one.
            self.next_seq = seq_ext;
            self.next_ts = ts_ext;
        } else if self.slots.is_empty() && (pkt.marker || self.underrun) {
            if pkt.marker {
                // New talkspurt: trailing losses of the last one are not
                // reported, and the silence is not a gap.
                self.next_seq = seq_ext;
                self.next_ts = ts_ext;
            }
            // After an underrun without marker, next_seq stays so the gap
            // still comes out as Lost; the fresh anchor restores the delay.
            self.reanchor(now, ts_ext);
        }
        self.store(now, pkt);
        PushOutcome::Buffered
    }

    fn store(&mut self, now: Instant, pkt: RtpPacket) {
        let seq_ext = self.extend_seq(pkt.sequence);
        let ts_ext = self.extend_ts(pkt.timestamp);
        self.highest_seq = self.highest_seq.max(seq_ext);
        self.ts_ref = ts_ext;
        self.jitter.update(now, pkt.timestamp);
        let jitter = Duration::from_secs_f64(self.jitter.jitter_ms() * 3.0 / 1000.0);
        self.target = (self.cfg.ptime + jitter).clamp(
            self.cfg.min_delay,
            self.cfg.max_delay.max(self.cfg.min_delay),
        );
        self.slots.insert(
            seq_ext,
            Entry {
                seq: pkt.sequence,
                ts: pkt.timestamp,
                ts_ext,
                payload: pkt.payload,
            },
        );
    }

    fn playout_time(&self, anchor: Anchor, ts_ext: i64) -> Instant {
        let base = anchor.at + anchor.delay;
        let ticks = ts_ext - anchor.ts_ext;
        let nanos = |t: i64| {
            Duration::from_nanos(
                (t.unsigned_abs() as u128 * 1_000_000_000 / u128::from(self.cfg.clock_rate.max(1)))
                    as u64,
            )
        };
        if ticks >= 0 {
            base + nanos(ticks)
        } else {
            base.checked_sub(nanos(ticks)).unwrap_or(anchor.at)
        }
    }

    /// The frame due at `now`, if any. Call once per frame period.
    pub fn pop(&mut self, now: Instant) -> Frame {
        if let Some(e) = self.draining.pop_front() {
            self.counters.played += 1;
            return Frame::Packet {
                payload: e.payload,
                seq: e.seq,
                ts: e.ts,
            };
        }
        let Some(anchor) = self.anchor else {
            return Frame::Empty;
        };
        let head_ts = self
            .slots
            .get(&self.next_seq)
            .map_or(self.next_ts, |e| e.ts_ext);
        if now < self.playout_time(anchor, head_ts) {
            return Frame::Empty;
        }
        if let Some(e) = self.slots.remove(&self.next_seq) {
            if let Some((seq, ts)) = self.last_played {
                let step = e.ts_ext - ts;
                if seq + 1 == self.next_seq && step > 0 && step <= i64::from(self.cfg.clock_rate) {
                    self.frame_ticks = step;
                }
            }
            self.last_played = Some((self.next_seq, e.ts_ext));
            self.next_seq += 1;
            self.next_ts = e.ts_ext + self.frame_ticks;
            self.played_since_anchor = true;
            self.counters.played += 1;
            return Frame::Packet {
                payload: e.payload,
                seq: e.seq,
                ts: e.ts,
            };
        }
        if !self.slots.is_empty() {
            let ts = self.next_ts as u32;
            self.next_seq += 1;
            self.next_ts += self.frame_ticks;
            self.played_since_anchor = true;
            self.counters.lost += 1;
            return Frame::Lost { ts };
        }
        if self.played_since_anchor && !self.underrun {
            self.underrun = true;
            self.counters.underruns += 1;
        }
        Frame::Empty
    }
}

#[cfg(test)]
#[path = "jitter_tests.rs"]
mod tests;
