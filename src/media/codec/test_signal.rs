//! Test-only signal helpers shared by the codec tests: tone generation, SNR,
//! RMS, a Goertzel single-bin detector and cross-correlation lag search.

/// `len` samples of a sine of `freq` Hz at `rate`, peak `level` × full scale.
pub fn sine(freq: f64, rate: u32, level: f64, len: usize) -> Vec<i16> {
    (0..len)
        .map(|n| {
            let t = n as f64 / f64::from(rate);
            (level * 32767.0 * (2.0 * std::f64::consts::PI * freq * t).sin()).round() as i16
        })
        .collect()
}

/// Signal-to-noise ratio of `actual` against `reference`, in dB.
pub fn snr_db(reference: &[i16], actual: &[i16]) -> f64 {
    assert_eq!(reference.len(), actual.len(), "SNR needs equal lengths");
    let (mut signal, mut noise) = (0.0f64, 0.0f64);
    for (&r, &a) in reference.iter().zip(actual) {
        let (r, a) = (f64::from(r), f64::from(a));
        signal += r * r;
        noise += (r - a) * (r - a);
    }
    if noise == 0.0 {
        return f64::INFINITY;
    }
    10.0 * (signal / noise).log10()
}

pub use crate::media::test_util::{goertzel_amplitude, rms};

/// The lag in `[min, max]` at which `delayed` best matches `reference`
/// (normalised cross-correlation).
pub fn best_lag(reference: &[i16], delayed: &[i16], min: usize, max: usize) -> usize {
    let mut best = (min, f64::MIN);
    for lag in min..=max {
        if lag >= delayed.len() {
            break;
        }
        let n = reference.len().min(delayed.len() - lag);
        let (mut xy, mut yy) = (0.0f64, 0.0f64);
        for i in 0..n {
            let (x, y) = (f64::from(reference[i]), f64::from(delayed[i + lag]));
            xy += x * y;
            yy += y * y;
        }
        let score = if yy > 0.0 { xy / yy.sqrt() } else { 0.0 };
        if score > best.1 {
            best = (lag, score);
        }
    }
    best.0
}

/// `len` samples of a linear sweep from `f0` to `f1` Hz: unlike a pure tone it
/// correlates with itself at one lag only, so it pins down a codec's delay.
pub fn chirp(f0: f64, f1: f64, rate: u32, level: f64, len: usize) -> Vec<i16> {
    let duration = len as f64 / f64::from(rate);
    let k = (f1 - f0) / duration;
    (0..len)
        .map(|n| {
            let t = n as f64 / f64::from(rate);
            let phase = 2.0 * std::f64::consts::PI * (f0 * t + 0.5 * k * t * t);
            (level * 32767.0 * phase.sin()).round() as i16
        })
        .collect()
}
