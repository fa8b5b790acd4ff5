//! Test-only signal helpers shared by the media tests: sines, RMS, a Goertzel
//! single-bin amplitude and a zero-crossing frequency estimate. Not compiled
//! outside tests.

use std::f64::consts::PI;

/// `len` samples of a `freq` Hz sine at `rate`, peak `level` × full scale,
/// starting at sample `start` (so consecutive frames join up).
pub fn sine_at(freq: f64, rate: u32, level: f64, start: usize, len: usize) -> Vec<i16> {
    (start..start + len)
        .map(|n| (level * 32767.0 * (2.0 * PI * freq * n as f64 / f64::from(rate)).sin()) as i16)
        .collect()
}

/// Root mean square of a block, in sample units.
pub fn rms(x: &[i16]) -> f64 {
    if x.is_empty() {
        return 0.0;
    }
    let sum: f64 = x.iter().map(|&v| f64::from(v).powi(2)).sum();
    (sum / x.len() as f64).sqrt()
}

/// Peak amplitude (in sample units) of the `freq` component of `x` (Goertzel).
pub fn goertzel_amplitude(x: &[i16], rate: u32, freq: f64) -> f64 {
    if x.is_empty() {
        return 0.0;
    }
    let coeff = 2.0 * (2.0 * PI * freq / f64::from(rate)).cos();
    let (mut s1, mut s2) = (0.0f64, 0.0f64);
    for &v in x {
        let s0 = f64::from(v) + coeff * s1 - s2;
        s2 = s1;
        s1 = s0;
    }
    let power = s1 * s1 + s2 * s2 - coeff * s1 * s2;
    2.0 * power.max(0.0).sqrt() / x.len() as f64
}

/// Share of the power of `x` at `freq`: 1.0 for a pure tone at that frequency.
pub fn power_share(x: &[i16], rate: u32, freq: f64) -> f64 {
    let total = rms(x).powi(2);
    if total == 0.0 {
        return 0.0;
    }
    goertzel_amplitude(x, rate, freq).powi(2) / 2.0 / total
}

/// Frequency from the zero crossings of `x`, in Hz.
pub fn crossings_per_second(x: &[i16], rate: u32) -> f64 {
    let c = x.windows(2).filter(|w| (w[0] < 0) != (w[1] < 0)).count();
    c as f64 / 2.0 / (x.len() as f64 / f64::from(rate))
}
