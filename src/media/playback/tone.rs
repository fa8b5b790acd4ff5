//! Call-progress tones and plain sines as a [`Source`]: ringback and busy in
//! US or European cadence ([`ToneKind`], [`ToneRegion`]), and
//! [`Tone::sine`] for a fixed-length single tone (beeps, test signals).
//!
//! Oscillators keep their phase across frames, so frame edges do not click;
//! each burst of a cadence starts at phase zero. Cadences are counted in
//! samples, never in wall time, and nothing here allocates after creation.
//! Region tables cover what the switch plays; other national tones belong in
//! [`ToneRegion`] rather than in callers.

use std::f64::consts::TAU;

use super::{check_rate, PlaybackError, Source};

/// Which call-progress tone to play.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ToneKind {
    /// The far end is ringing.
    Ringback,
    /// The far end is busy.
    Busy,
}

/// Whose tone plan to follow.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum ToneRegion {
    /// North America (ANSI T1.401): ringback 440+480 Hz 2 s on / 4 s off,
    /// busy 480+620 Hz 0.5 s on / 0.5 s off.
    #[default]
    Us,
    /// Europe (ETSI/CEPT 425 Hz plan): ringback 425 Hz 1 s on / 4 s off,
    /// busy 425 Hz 0.5 s on / 0.5 s off.
    Europe,
}

/// Frequencies and cadence of one tone, as a table entry.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ToneSpec {
    /// One or two frequencies in Hz, summed (the second is 0 when unused).
    pub freqs: [f64; 2],
    /// Burst length in ms.
    pub on_ms: u32,
    /// Pause after each burst in ms (0 = continuous).
    pub off_ms: u32,
}

impl ToneSpec {
    /// The tone plan entry for `kind` in `region`.
    pub const fn of(kind: ToneKind, region: ToneRegion) -> Self {
        let (freqs, on_ms, off_ms) = match (region, kind) {
            (ToneRegion::Us, ToneKind::Ringback) => ([440.0, 480.0], 2000, 4000),
            (ToneRegion::Us, ToneKind::Busy) => ([480.0, 620.0], 500, 500),
            (ToneRegion::Europe, ToneKind::Ringback) => ([425.0, 0.0], 1000, 4000),
            (ToneRegion::Europe, ToneKind::Busy) => ([425.0, 0.0], 500, 500),
        };
        Self {
            freqs,
            on_ms,
            off_ms,
        }
    }
}

/// Default peak level of a tone (all components together), in dBFS.
pub const DEFAULT_TONE_DBFS: f64 = -10.0;

/// A tone generator: a cadenced call-progress tone that plays forever, or a
/// sine of fixed length that then finishes.
#[derive(Debug, Clone)]
pub struct Tone {
    rate: u32,
    freqs: [f64; 2],
    /// Peak amplitude of each component, in sample units.
    amplitude: f64,
    /// Burst length in samples.
    on: u64,
    /// Burst plus pause in samples; equal to `on` when continuous.
    period: u64,
    /// Total samples before finishing; `None` plays forever.
    length: Option<u64>,
    /// Samples produced so far.
    pos: u64,
    /// Oscillator phases in radians, in [0, 2π).
    phase: [f64; 2],
}

impl Tone {
    /// A call-progress tone that plays forever at `rate`.
    pub fn new(kind: ToneKind, region: ToneRegion, rate: u32) -> Result<Self, PlaybackError> {
        Self::from_spec(ToneSpec::of(kind, region), None, rate)
    }

    /// Ringback in `region`'s cadence.
    pub fn ringback(region: ToneRegion, rate: u32) -> Result<Self, PlaybackError> {
        Self::new(ToneKind::Ringback, region, rate)
    }

    /// Busy in `region`'s cadence.
    pub fn busy(region: ToneRegion, rate: u32) -> Result<Self, PlaybackError> {
        Self::new(ToneKind::Busy, region, rate)
    }

    /// A continuous sine of `freq` Hz lasting `ms`, then finished.
    pub fn sine(freq: f64, ms: u32, rate: u32) -> Result<Self, PlaybackError> {
        let spec = ToneSpec {
            freqs: [freq, 0.0],
            on_ms: ms,
            off_ms: 0,
        };
        Self::from_spec(spec, Some(ms), rate)
    }

    /// A tone from an explicit table entry, forever or for `length_ms`.
    pub fn from_spec(
        spec: ToneSpec,
        length_ms: Option<u32>,
        rate: u32,
    ) -> Result<Self, PlaybackError> {
        let rate = check_rate(rate)?;
        let samples = |ms: u32| u64::from(ms) * u64::from(rate) / 1000;
        let on = samples(spec.on_ms);
        // Frequencies at or above Nyquist (or negative) would alias: drop them.
        let nyquist = f64::from(rate) / 2.0;
        let freqs = spec.freqs.map(|f| {
            if f.is_finite() && f > 0.0 && f < nyquist {
                f
            } else {
                0.0
            }
        });
        let mut tone = Self {
            rate,
            freqs,
            amplitude: 0.0,
            on,
            period: on + samples(spec.off_ms),
            length: length_ms.map(samples),
            pos: 0,
            phase: [0.0; 2],
        };
        tone.set_level_dbfs(DEFAULT_TONE_DBFS);
        Ok(tone)
    }

    /// Sets the peak level of all components together, in dBFS (≤ 0).
    pub fn with_level_dbfs(mut self, dbfs: f64) -> Self {
        self.set_level_dbfs(dbfs);
        self
    }

    fn set_level_dbfs(&mut self, dbfs: f64) {
        let components = self.freqs.iter().filter(|&&f| f > 0.0).count().max(1);
        let peak = 32767.0 * 10f64.powf(dbfs.min(0.0) / 20.0);
        self.amplitude = peak / components as f64;
    }

    /// Samples per burst, and per burst plus pause.
    pub fn cadence_samples(&self) -> (u64, u64) {
        (self.on, self.period)
    }

    fn next_sample(&mut self) -> i16 {
        let in_cycle = if self.period == 0 {
            0
        } else {
            self.pos % self.period
        };
        self.pos += 1;
        if in_cycle == 0 {
            self.phase = [0.0; 2];
        }
        if in_cycle >= self.on {
            return 0;
        }
        let mut v = 0.0;
        for (phase, &freq) in self.phase.iter_mut().zip(&self.freqs) {
            if freq > 0.0 {
                v += phase.sin();
                *phase = (*phase + TAU * freq / f64::from(self.rate)) % TAU;
            }
        }
        (v * self.amplitude).round() as i16
    }
}

impl Source for Tone {
    fn rate(&self) -> u32 {
        self.rate
    }

    fn read_frame(&mut self, out: &mut [i16]) -> bool {
        let left = self
            .length
            .map_or(u64::MAX, |len| len.saturating_sub(self.pos));
        if left == 0 {
            out.fill(0);
            return false;
        }
        let n = usize::try_from(left).map_or(out.len(), |l| l.min(out.len()));
        for s in &mut out[..n] {
            *s = self.next_sample();
        }
        out[n..].fill(0);
        true
    }

    fn restart(&mut self) -> bool {
        self.pos = 0;
        self.phase = [0.0; 2];
        true
    }
}

#[cfg(test)]
#[path = "tone_tests.rs"]
mod tests;
