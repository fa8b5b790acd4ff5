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

pub use crate::media::test_util::{goertzel_amplitude as goertzel, rms};

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
