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

/// Root mean square of a block.
pub fn rms(x: &[i16]) -> f64 {
    if x.is_empty() {
        return 0.0;
    }
    let sum: f64 = x.iter().map(|&v| f64::from(v) * f64::from(v)).sum();
    (sum / x.len() as f64).sqrt()
}

/// Peak amplitude of the `freq` component of `x` (Goertzel algorithm).
pub fn goertzel_amplitude(x: &[i16], rate: u32, freq: f64) -> f64 {
    let w = 2.0 * std::f64::consts::PI * freq / f64::from(rate);
    let coeff = 2.0 * w.cos();
    let (mut s1, mut s2) = (0.0f64, 0.0f64);
    for &v in x {
        let s0 = f64::from(v) + coeff * s1 - s2;
        s2 = s1;
        s1 = s0;
    }
    let power = s1 * s1 + s2 * s2 - coeff * s1 * s2;
    2.0 * power.max(0.0).sqrt() / x.len() as f64
}

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
