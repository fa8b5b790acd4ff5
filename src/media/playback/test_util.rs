//! Test-only helpers for the playback tests: reference sines, a Goertzel
//! single-bin detector, a zero-crossing frequency estimate, RMS, and a
//! helper that drains a [`Source`] frame by frame. Not compiled outside tests.

use super::{frame_len, Source};

/// `len` samples of a sine in [-level, level] as f32.
pub fn sine_f32(freq: f64, rate: u32, level: f64, len: usize) -> Vec<f32> {
    (0..len)
        .map(|n| {
            let t = n as f64 / f64::from(rate);
            (level * (2.0 * std::f64::consts::PI * freq * t).sin()) as f32
        })
        .collect()
}

/// Peak amplitude (in sample units) of the `freq` component of `x`.
pub fn goertzel(x: &[i16], rate: u32, freq: f64) -> f64 {
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

/// Frequency estimated from the rising zero crossings of `x`, in Hz.
pub fn dominant_freq(x: &[i16], rate: u32) -> f64 {
    let rising: Vec<usize> = x
        .windows(2)
        .enumerate()
        .filter(|(_, w)| w[0] < 0 && w[1] >= 0)
        .map(|(i, _)| i)
        .collect();
    if rising.len() < 2 {
        return 0.0;
    }
    let span = (rising[rising.len() - 1] - rising[0]) as f64;
    (rising.len() - 1) as f64 * f64::from(rate) / span
}

/// Root mean square of a block.
pub fn rms(x: &[i16]) -> f64 {
    if x.is_empty() {
        return 0.0;
    }
    let sum: f64 = x.iter().map(|&v| f64::from(v).powi(2)).sum();
    (sum / x.len() as f64).sqrt()
}

/// Reads up to `max_frames` frames, checking each `true` frame has the right
/// length; returns the concatenated audio of the frames that returned `true`.
pub fn drain(src: &mut dyn Source, max_frames: usize) -> Vec<i16> {
    let n = frame_len(src.rate());
    let mut out = Vec::new();
    let mut frame = vec![1i16; n];
    for _ in 0..max_frames {
        frame.fill(1);
        if !src.read_frame(&mut frame) {
            assert!(frame.iter().all(|&s| s == 0), "finished frame not silent");
            break;
        }
        out.extend_from_slice(&frame);
    }
    out
}
