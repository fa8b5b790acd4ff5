//! Outgoing media clock: a drift-free send schedule ([`Pacer`]) and the
//! outgoing RTP numbering ([`Stamper`]) that stays continuous when the audio
//! source changes (prompt → bridge → prompt) under one SSRC.
//!
//! Deadlines are `start + n·ptime`, never `now + ptime`, so rounding and
//! scheduling latency cannot accumulate. After a stall longer than
//! `max_catch_up` the pacer jumps to the next grid point instead of sending
//! the missed frames in a burst. The driver owns the timer.

use std::time::{Duration, Instant};

/// What [`Pacer::on_sent`] observed about the frame just sent.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SendOutcome {
    OnTime,
    /// Sent after its deadline but within the catch-up allowance.
    Late {
        by: Duration,
    },
    /// A stall: `frames` deadlines were dropped; RTP timestamps must advance
    /// by that many frames (see [`Stamper::skip_frames`]).
    Skipped {
        by: Duration,
        frames: u64,
    },
}

/// Frame schedule anchored at `start`.
#[derive(Debug, Clone)]
pub struct Pacer {
    start: Instant,
    ptime: Duration,
    next: u64,
    late_tolerance: Duration,
    max_catch_up: Duration,
    late_frames: u64,
    skipped_frames: u64,
}

impl Pacer {
    /// `ptime` of zero is treated as 1 ms.
    pub fn new(start: Instant, ptime: Duration) -> Self {
        let ptime = ptime.max(Duration::from_millis(1));
        Self {
            start,
            ptime,
            next: 0,
            late_tolerance: Duration::from_millis(2),
            max_catch_up: ptime * 3,
            late_frames: 0,
            skipped_frames: 0,
        }
    }

    /// Lateness still reported as on time (default 2 ms).
    pub fn with_late_tolerance(mut self, d: Duration) -> Self {
        self.late_tolerance = d;
        self
    }

    /// Lateness beyond which missed frames are skipped (default 3·ptime).
    pub fn with_max_catch_up(mut self, d: Duration) -> Self {
        self.max_catch_up = d.max(self.ptime);
        self
    }

    pub fn ptime(&self) -> Duration {
        self.ptime
    }

    /// Index of the frame due at [`next_deadline`](Self::next_deadline).
    pub fn frame_index(&self) -> u64 {
        self.next
    }

    fn deadline_of(&self, n: u64) -> Instant {
        let nanos = self.ptime.as_nanos().saturating_mul(u128::from(n));
        self.start + Duration::from_nanos(u64::try_from(nanos).unwrap_or(u64::MAX))
    }

    /// When the next frame is due.
    pub fn next_deadline(&self) -> Instant {
        self.deadline_of(self.next)
    }

    /// Record that the due frame was sent at `now`.
    pub fn on_sent(&mut self, now: Instant) -> SendOutcome {
        let deadline = self.next_deadline();
        self.next += 1;
        let by = now.saturating_duration_since(deadline);
        if by > self.max_catch_up {
            // First grid point strictly after `now`.
            let elapsed = now.saturating_duration_since(self.start).as_nanos();
            let target = (elapsed / self.ptime.as_nanos()) as u64 + 1;
            let frames = target.saturating_sub(self.next);
            self.next = self.next.max(target);
            self.skipped_frames += frames;
            self.late_frames += 1;
            SendOutcome::Skipped { by, frames }
        } else if by > self.late_tolerance {
            self.late_frames += 1;
            SendOutcome::Late { by }
        } else {
            SendOutcome::OnTime
        }
    }

    pub fn late_frames(&self) -> u64 {
        self.late_frames
    }

    pub fn skipped_frames(&self) -> u64 {
        self.skipped_frames
    }
}

/// Outgoing RTP sequence/timestamp generator for one SSRC.
///
/// Locally generated frames use [`next_frame`](Self::next_frame); relayed
/// packets from a bridged source use [`map_relayed`](Self::map_relayed),
/// which keeps the outgoing numbering continuous by offsetting the source's
/// sequence and timestamp from the moment it is switched in.
#[derive(Debug, Clone)]
pub struct Stamper {
    ssrc: u32,
    next_seq: u16,
    next_ts: u32,
    samples_per_frame: u32,
    marker_pending: bool,
    source: Option<SourceMap>,
}

#[derive(Debug, Clone, Copy)]
struct SourceMap {
    ssrc: u32,
    seq_offset: u16,
    ts_offset: u32,
}

impl Stamper {
    /// `initial_seq`/`initial_ts` should be random (RFC 3550 §5.1).
    pub fn new(ssrc: u32, initial_seq: u16, initial_ts: u32, samples_per_frame: u32) -> Self {
        Self {
            ssrc,
            next_seq: initial_seq,
            next_ts: initial_ts,
            samples_per_frame,
            marker_pending: true,
            source: None,
        }
    }

    pub fn ssrc(&self) -> u32 {
        self.ssrc
    }

    /// Numbering for the next locally produced frame: (seq, ts, marker).
    pub fn next_frame(&mut self) -> (u16, u32, bool) {
        if self.source.take().is_some() {
            self.marker_pending = true;
        }
        let out = (
            self.next_seq,
            self.next_ts,
            std::mem::take(&mut self.marker_pending),
        );
        self.next_seq = self.next_seq.wrapping_add(1);
        self.next_ts = self.next_ts.wrapping_add(self.samples_per_frame);
        out
    }

    /// Advance the timestamp over frames not sent (a stall or silence), so
    /// the receiver sees the real elapsed time; sequence is not advanced.
    pub fn skip_frames(&mut self, frames: u64) {
        let ticks = (u64::from(self.samples_per_frame) * frames) as u32;
        self.next_ts = self.next_ts.wrapping_add(ticks);
        self.marker_pending = true;
    }

    /// Mark the next packet as a talkspurt start (source switch, resume).
    pub fn start_talkspurt(&mut self) {
        self.marker_pending = true;
    }

    /// Numbering for a relayed packet from `src_ssrc` with its own seq/ts:
    /// (seq, ts, marker). A new source is spliced in right after the last
    /// packet sent, so receivers see no gap and no jump.
    pub fn map_relayed(
        &mut self,
        src_ssrc: u32,
        src_seq: u16,
        src_ts: u32,
        src_marker: bool,
    ) -> (u16, u32, bool) {
        let map = match self.source {
            Some(m) if m.ssrc == src_ssrc => m,
            _ => {
                let m = SourceMap {
                    ssrc: src_ssrc,
                    seq_offset: self.next_seq.wrapping_sub(src_seq),
                    ts_offset: self.next_ts.wrapping_sub(src_ts),
                };
                self.source = Some(m);
                self.marker_pending = true;
                m
            }
        };
        let seq = src_seq.wrapping_add(map.seq_offset);
        let ts = src_ts.wrapping_add(map.ts_offset);
        // Only move forward (reordered relayed packets keep their mapping).
        if (seq.wrapping_sub(self.next_seq) as i16) >= 0 {
            self.next_seq = seq.wrapping_add(1);
            self.next_ts = ts.wrapping_add(self.samples_per_frame);
        }
        let marker = std::mem::take(&mut self.marker_pending) || src_marker;
        (seq, ts, marker)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const PTIME: Duration = Duration::from_millis(20);

    #[test]
    fn an_hour_has_zero_drift() {
        let start = Instant::now();
        let mut p = Pacer::new(start, PTIME);
        // The driver wakes 0..3 ms late each time (scheduler noise).
        for i in 0..180_000u64 {
            let d = p.next_deadline();
            assert_eq!(d, start + PTIME * (i as u32));
            let wake = d + Duration::from_micros((i * 7919) % 1500);
            assert!(!matches!(p.on_sent(wake), SendOutcome::Skipped { .. }));
        }
        assert_eq!(p.next_deadline() - start, Duration::from_secs(3600));
        assert_eq!(p.skipped_frames(), 0);
    }

    #[test]
    fn odd_ptime_does_not_accumulate_rounding() {
        let start = Instant::now();
        let mut p = Pacer::new(start, Duration::from_nanos(20_000_001));
        for _ in 0..180_000 {
            let d = p.next_deadline();
            p.on_sent(d);
        }
        assert_eq!(
            p.next_deadline() - start,
            Duration::from_nanos(20_000_001 * 180_000)
        );
    }

    #[test]
    fn one_second_stall_does_not_burst() {
        let start = Instant::now();
        let mut p = Pacer::new(start, PTIME);
        let mut sends = Vec::new();
        let mut now = start;
        for i in 0..200 {
            let d = p.next_deadline();
            now = now.max(d);
            if i == 100 {
                now += Duration::from_secs(1);
            }
            let out = p.on_sent(now);
            if i == 100 {
                assert_eq!(
                    out,
                    SendOutcome::Skipped {
                        by: Duration::from_secs(1),
                        frames: 50
                    }
                );
            }
            sends.push(now);
        }
        for w in sends.windows(2) {
            assert!(w[1] - w[0] >= PTIME, "burst: {:?}", w[1] - w[0]);
        }
        assert_eq!(p.skipped_frames(), 50);
        // Back on the original grid.
        assert_eq!((p.next_deadline() - start).as_nanos() % PTIME.as_nanos(), 0);
    }

    #[test]
    fn small_lateness_catches_up_on_grid() {
        let start = Instant::now();
        let mut p = Pacer::new(start, PTIME);
        assert_eq!(p.on_sent(start), SendOutcome::OnTime);
        let late = p.next_deadline() + Duration::from_millis(30);
        assert_eq!(
            p.on_sent(late),
            SendOutcome::Late {
                by: Duration::from_millis(30)
            }
        );
        assert_eq!(p.next_deadline(), start + PTIME * 2);
        assert_eq!(p.late_frames(), 1);
    }

    #[test]
    fn numbering_continuous_across_source_switch() {
        let mut s = Stamper::new(0x1111, 65_534, u32::MAX - 160, 160);
        let mut out = Vec::new();
        for _ in 0..3 {
            out.push(s.next_frame()); // prompt
        }
        // Bridge in a peer stream with unrelated numbering.
        for k in 0..3u16 {
            out.push(s.map_relayed(0x9999, 1000 + k, 50_000 + 160 * u32::from(k), false));
        }
        // Transfer: another source.
        for k in 0..3u16 {
            out.push(s.map_relayed(0x7777, 40_000 + k, 7 + 160 * u32::from(k), false));
        }
        out.push(s.next_frame()); // back to a prompt
        for w in out.windows(2) {
            assert_eq!(w[1].0, w[0].0.wrapping_add(1), "seq continuous");
            assert_eq!(w[1].1, w[0].1.wrapping_add(160), "ts continuous");
        }
        let markers: Vec<bool> = out.iter().map(|o| o.2).collect();
        assert_eq!(
            markers,
            [true, false, false, true, false, false, true, false, false, true]
        );
        assert_eq!(s.ssrc(), 0x1111);
    }

    #[test]
    fn skip_advances_timestamp_only() {
        let mut s = Stamper::new(1, 10, 0, 160);
        s.next_frame();
        s.skip_frames(50);
        let (seq, ts, m) = s.next_frame();
        assert_eq!((seq, ts, m), (11, 160 * 51, true));
    }
}
