//! Whole-clip sample-rate conversion for prompts at load time: any WAV rate
//! (8 k … 48 k, including the 44.1 k family) to a playback rate, built on
//! `rubato`'s synchronous FFT resampler, which handles any integer ratio.
//!
//! Runs once per (file, rate) and may allocate freely; it must not be used on
//! the per-frame path (streaming conversion of live audio is
//! `media::codec::resample`). The output is aligned with the input: the
//! resampler's delay is trimmed off and its tail flushed, so a clip of `n`
//! samples becomes `ceil(n * to / from)` samples.

use audioadapter_buffers::direct::InterleavedSlice;
use rubato::{Fft, FixedSync, Resampler as _};

use super::PlaybackError;

/// Input chunk fed to the resampler per call.
const CHUNK: usize = 1024;

/// Lowest and highest input rate accepted.
const MIN_RATE: u32 = 4000;
const MAX_RATE: u32 = 192_000;

/// Converts mono samples in [-1, 1] from `from` Hz to `to` Hz, as i16.
pub fn resample_clip(input: &[f32], from: u32, to: u32) -> Result<Vec<i16>, PlaybackError> {
    for rate in [from, to] {
        if !(MIN_RATE..=MAX_RATE).contains(&rate) {
            return Err(PlaybackError::UnsupportedRate { rate });
        }
    }
    if from == to {
        return Ok(input.iter().map(|&v| to_i16(v)).collect());
    }
    let wanted = (input.len() as u64 * u64::from(to)).div_ceil(u64::from(from)) as usize;
    let mut rs = Fft::<f32>::new(from as usize, to as usize, CHUNK, 1, 1, FixedSync::Input)?;
    let delay = rs.output_delay();
    let mut in_buf = vec![0.0f32; rs.input_frames_max()];
    let mut out_buf = vec![0.0f32; rs.output_frames_max()];
    let mut collected: Vec<f32> = Vec::with_capacity(wanted + delay + out_buf.len());
    let mut pos = 0;
    while collected.len() < delay + wanted {
        let need = rs.input_frames_next();
        if need == 0 || need > in_buf.len() {
            // The resampler would make no progress; an invariant.
            return Err(PlaybackError::ResampleBuffer);
        }
        // Past the end of the clip, zeros flush the resampler's tail.
        let take = need.min(input.len().saturating_sub(pos));
        in_buf[..take].copy_from_slice(&input[pos..pos + take]);
        in_buf[take..need].fill(0.0);
        pos += take;
        let out_len = rs.output_frames_next();
        let adapter_in = InterleavedSlice::new(&in_buf[..need], 1, need)
            .map_err(|_| PlaybackError::ResampleBuffer)?;
        let mut adapter_out = InterleavedSlice::new_mut(&mut out_buf[..out_len], 1, out_len)
            .map_err(|_| PlaybackError::ResampleBuffer)?;
        let (_, written) = rs.process_into_buffer(&adapter_in, &mut adapter_out, None)?;
        collected.extend_from_slice(&out_buf[..written]);
    }
    Ok(collected[delay..delay + wanted]
        .iter()
        .map(|&v| to_i16(v))
        .collect())
}

/// Float in [-1, 1) to i16, rounded and saturated (NaN becomes 0).
pub fn to_i16(v: f32) -> i16 {
    (v * 32768.0).round() as i16
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::media::playback::test_util::{dominant_freq, goertzel, sine_f32};

    #[test]
    fn sine_keeps_its_frequency_from_44k1_and_48k_to_8k() {
        for from in [44_100, 48_000, 22_050, 11_025, 32_000, 16_000] {
            let input = sine_f32(1000.0, from, 0.5, from as usize);
            let out = resample_clip(&input, from, 8000).expect("resample");
            assert_eq!(out.len(), 8000, "from {from}");
            let body = &out[400..7600];
            let f = dominant_freq(body, 8000);
            assert!((f - 1000.0).abs() < 5.0, "from {from}: {f} Hz");
            let amp = goertzel(body, 8000, 1000.0) / 32768.0;
            assert!((amp - 0.5).abs() < 0.03, "from {from}: amplitude {amp}");
        }
    }

    #[test]
    fn output_is_aligned_with_input() {
        // A click at 0.25 s stays at 0.25 s after conversion.
        let mut input = vec![0.0f32; 44_100];
        input[11_025] = 1.0;
        let out = resample_clip(&input, 44_100, 16_000).expect("resample");
        let peak = out
            .iter()
            .enumerate()
            .max_by_key(|(_, v)| v.unsigned_abs())
            .map(|(i, _)| i)
            .expect("non-empty");
        assert!((3998..=4002).contains(&peak), "click at {peak}");
    }

    #[test]
    fn short_and_empty_clips() {
        assert!(resample_clip(&[], 44_100, 8000).expect("empty").is_empty());
        let out = resample_clip(&[0.1; 10], 48_000, 8000).expect("short");
        assert_eq!(out.len(), 2);
        let same = resample_clip(&[0.5, -0.5], 8000, 8000).expect("same");
        assert_eq!(same, vec![16384, -16384]);
    }

    #[test]
    fn absurd_rates_are_errors() {
        assert!(matches!(
            resample_clip(&[0.0; 4], 0, 8000),
            Err(PlaybackError::UnsupportedRate { rate: 0 })
        ));
        assert!(matches!(
            resample_clip(&[0.0; 4], 8000, 1_000_000),
            Err(PlaybackError::UnsupportedRate { rate: 1_000_000 })
        ));
    }
}
