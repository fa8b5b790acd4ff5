//! RFC 3550 receiver statistics for one incoming stream (§6.4.1, A.1, A.3,
//! A.8): loss, extended highest sequence and interarrival jitter, turned
//! into a [`ReportBlock`] for the next RR/SR.
//!
//! Pure bookkeeping: arrival times are arguments, and report scheduling
//! (an RR every 5 s) belongs to the driver.

use super::rtcp::ReportBlock;
use std::time::Instant;

const RTP_SEQ_MOD: u32 = 1 << 16;
const MAX_DROPOUT: u16 = 3000;
const MAX_MISORDER: u16 = 100;

/// Interarrival jitter estimator (RFC 3550 §6.4.1, A.8), kept in timestamp
/// units scaled by 16 exactly as the RFC's integer form.
#[derive(Debug, Clone)]
pub struct InterarrivalJitter {
    clock_rate: u32,
    origin: Option<Instant>,
    last_transit: Option<i64>,
    jitter_q4: u32,
}

impl InterarrivalJitter {
    pub fn new(clock_rate: u32) -> Self {
        Self {
            clock_rate,
            origin: None,
            last_transit: None,
            jitter_q4: 0,
        }
    }

    /// Feed one packet: its arrival time and RTP timestamp.
    pub fn update(&mut self, arrival: Instant, rtp_ts: u32) {
        let origin = *self.origin.get_or_insert(arrival);
        let since = arrival.saturating_duration_since(origin);
        let arrival_units = (since.as_nanos() * u128::from(self.clock_rate) / 1_000_000_000) as i64;
        // Transit in the 32-bit timestamp space, so timestamp wrap cancels.
        let transit = i64::from((arrival_units as u32).wrapping_sub(rtp_ts) as i32);
        if let Some(last) = self.last_transit {
            let d = (i64::from((transit as i32).wrapping_sub(last as i32))).unsigned_abs();
            let d = d.min(u64::from(u32::MAX >> 5)) as u32;
            // J += (|D| - J) / 16, in Q4.
            self.jitter_q4 = self.jitter_q4 + d - ((self.jitter_q4 + 8) >> 4);
        }
        self.last_transit = Some(transit);
    }

    /// Forget the previous packet (new SSRC / talkspurt re-anchor keeps J).
    pub fn reset(&mut self) {
        self.origin = None;
        self.last_transit = None;
        self.jitter_q4 = 0;
    }

    /// Jitter in timestamp units, as put in a report block.
    pub fn jitter(&self) -> u32 {
        self.jitter_q4 >> 4
    }

    /// Jitter in milliseconds.
    pub fn jitter_ms(&self) -> f64 {
        f64::from(self.jitter_q4) / 16.0 * 1000.0 / f64::from(self.clock_rate.max(1))
    }
}

/// Per-source receive statistics (RFC 3550 A.1 sequence validation without
/// probation, A.3 loss accounting, A.8 jitter).
#[derive(Debug, Clone)]
pub struct ReceiverStats {
    ssrc: Option<u32>,
    max_seq: u16,
    cycles: u32,
    base_seq: u32,
    bad_seq: u32,
    received: u32,
    expected_prior: u32,
    received_prior: u32,
    jitter: InterarrivalJitter,
}

impl ReceiverStats {
    pub fn new(clock_rate: u32) -> Self {
        Self {
            ssrc: None,
            max_seq: 0,
            cycles: 0,
            base_seq: 0,
            bad_seq: RTP_SEQ_MOD + 1,
            received: 0,
            expected_prior: 0,
            received_prior: 0,
            jitter: InterarrivalJitter::new(clock_rate),
        }
    }

    /// The source being tracked.
    pub fn ssrc(&self) -> Option<u32> {
        self.ssrc
    }

    fn init(&mut self, ssrc: u32, seq: u16) {
        self.ssrc = Some(ssrc);
        self.base_seq = u32::from(seq);
        self.max_seq = seq;
        self.bad_seq = RTP_SEQ_MOD + 1;
        self.cycles = 0;
        self.received = 0;
        self.expected_prior = 0;
        self.received_prior = 0;
        self.jitter.reset();
    }

    /// Account one received packet. Returns false if it was judged invalid
    /// (a large jump not yet confirmed by a following packet).
    pub fn on_packet(&mut self, arrival: Instant, ssrc: u32, seq: u16, rtp_ts: u32) -> bool {
        if self.ssrc != Some(ssrc) {
            self.init(ssrc, seq);
        } else {
            let udelta = seq.wrapping_sub(self.max_seq);
            if udelta < MAX_DROPOUT {
                if seq < self.max_seq {
                    self.cycles = self.cycles.wrapping_add(RTP_SEQ_MOD);
                }
                self.max_seq = seq;
            } else if udelta <= u16::MAX - MAX_MISORDER {
                // Big jump: accept only if the next packet confirms it.
                if u32::from(seq) == self.bad_seq {
                    self.init(ssrc, seq);
                } else {
                    self.bad_seq = (u32::from(seq) + 1) & (RTP_SEQ_MOD - 1);
                    return false;
                }
            }
            // else: duplicate or reordered, counted but max unchanged.
        }
        self.received = self.received.wrapping_add(1);
        self.jitter.update(arrival, rtp_ts);
        true
    }

    /// Extended highest sequence number received.
    pub fn extended_max(&self) -> u32 {
        self.cycles.wrapping_add(u32::from(self.max_seq))
    }

    pub fn expected(&self) -> u32 {
        if self.ssrc.is_none() {
            return 0;
        }
        self.extended_max()
            .wrapping_sub(self.base_seq)
            .wrapping_add(1)
    }

    pub fn received(&self) -> u32 {
        self.received
    }

    /// Cumulative lost, clamped to the 24-bit signed report field.
    pub fn cumulative_lost(&self) -> i32 {
        let lost = i64::from(self.expected()) - i64::from(self.received);
        lost.clamp(-0x80_0000, 0x7f_ffff) as i32
    }

    pub fn jitter(&self) -> &InterarrivalJitter {
        &self.jitter
    }

    /// Build this stream's report block and start a new reporting interval.
    /// `lsr`/`dlsr` come from the last SR heard from this source (0 if none).
    pub fn report_block(&mut self, lsr: u32, dlsr: u32) -> Option<ReportBlock> {
        let ssrc = self.ssrc?;
        let expected = self.expected();
        let expected_interval = expected.wrapping_sub(self.expected_prior);
        let received_interval = self.received.wrapping_sub(self.received_prior);
        self.expected_prior = expected;
        self.received_prior = self.received;
        let lost_interval = i64::from(expected_interval) - i64::from(received_interval);
        let fraction_lost = if expected_interval == 0 || lost_interval <= 0 {
            0
        } else {
            ((lost_interval << 8) / i64::from(expected_interval)).min(255) as u8
        };
        Some(ReportBlock {
            ssrc,
            fraction_lost,
            cumulative_lost: self.cumulative_lost(),
            ext_highest_seq: self.extended_max(),
            jitter: self.jitter.jitter(),
            lsr,
            dlsr,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn jitter_matches_hand_computation() {
        // 8 kHz, 160-tick frames. Arrivals (ms): 0, 20, 45, 60, 80.
        // Transit deltas D in ticks: 0, +40, -40, 0 →
        // J16: 0 → 40 → 40+40-3=77 → 77-5=72 → (J = J16>>4 = 4).
        let t0 = Instant::now();
        let mut j = InterarrivalJitter::new(8000);
        for (i, ms) in [0u64, 20, 45, 60, 80].iter().enumerate() {
            j.update(t0 + Duration::from_millis(*ms), 1_000 + 160 * i as u32);
        }
        assert_eq!(j.jitter_q4, 72);
        assert_eq!(j.jitter(), 4);
        // Float check of the same recurrence: J = J + (|D| - J)/16.
        let mut f = 0.0f64;
        for d in [40.0f64, 40.0, 0.0] {
            f += (d - f) / 16.0;
        }
        assert!((f - 72.0 / 16.0).abs() < 0.1, "float {f}");
    }

    #[test]
    fn jitter_is_zero_for_perfect_pacing_across_ts_wrap() {
        let t0 = Instant::now();
        let mut j = InterarrivalJitter::new(8000);
        for i in 0..200u32 {
            j.update(
                t0 + Duration::from_millis(20 * u64::from(i)),
                (u32::MAX - 16_000).wrapping_add(160 * i),
            );
        }
        assert_eq!(j.jitter(), 0);
    }

    #[test]
    fn loss_fraction_and_cumulative() {
        let t0 = Instant::now();
        let mut s = ReceiverStats::new(8000);
        // 100 packets starting near wrap, every 10th lost.
        for i in 0..100u32 {
            if i % 10 == 3 {
                continue;
            }
            let seq = 65_500u16.wrapping_add(i as u16);
            s.on_packet(
                t0 + Duration::from_millis(20 * u64::from(i)),
                7,
                seq,
                160 * i,
            );
        }
        let rb = s.report_block(0, 0).expect("has source");
        assert_eq!(s.expected(), 100);
        assert_eq!(rb.cumulative_lost, 10);
        assert_eq!(rb.fraction_lost, (10 * 256 / 100) as u8);
        assert_eq!(
            rb.ext_highest_seq,
            65_536 + u32::from(65_500u16.wrapping_add(99))
        );
        // Next interval: 50 received, none lost.
        for i in 100..150u32 {
            s.on_packet(
                t0 + Duration::from_millis(20 * u64::from(i)),
                7,
                65_500u16.wrapping_add(i as u16),
                160 * i,
            );
        }
        let rb2 = s.report_block(0, 0).expect("has source");
        assert_eq!(rb2.fraction_lost, 0);
        assert_eq!(rb2.cumulative_lost, 10);
    }

    #[test]
    fn duplicates_make_negative_loss_fraction_zero() {
        let t0 = Instant::now();
        let mut s = ReceiverStats::new(8000);
        for i in 0..10u16 {
            s.on_packet(t0, 1, i, 0);
            s.on_packet(t0, 1, i, 0);
        }
        let rb = s.report_block(0, 0).expect("has source");
        assert_eq!(rb.fraction_lost, 0);
        assert_eq!(rb.cumulative_lost, -10);
    }
}
