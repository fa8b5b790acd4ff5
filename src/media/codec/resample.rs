//! Streaming sample-rate conversion of mono 20 ms frames between the telephony
//! rates (8, 16 and 48 kHz, or any pair of rates divisible by 50), built on
//! `rubato`'s synchronous FFT resampler.
//!
//! Owns the resampler state carried from frame to frame (overlap, filter
//! tails) and its scratch buffers, all allocated once in [`Resampler::new`].
//! It does no IO and keeps no time. Output lags input by [`Resampler::delay`]
//! samples; the first frames after creation or [`Resampler::reset`] start
//! with that much silence.

use audioadapter_buffers::direct::InterleavedSlice;
use rubato::{Fft, FixedSync, Resampler as _};

use super::{samples_per_frame, CodecError};

/// Frame duration this module is built around.
const PTIME_MS: u32 = 20;

/// Converts 20 ms mono frames from one rate to another, keeping state between
/// frames. Equal rates pass samples through unchanged.
pub struct Resampler {
    from: u32,
    to: u32,
    in_len: usize,
    out_len: usize,
    /// `None` when `from == to`.
    inner: Option<Fft<f32>>,
    in_buf: Vec<f32>,
    out_buf: Vec<f32>,
}

impl std::fmt::Debug for Resampler {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Resampler")
            .field("from", &self.from)
            .field("to", &self.to)
            .finish_non_exhaustive()
    }
}

impl Resampler {
    /// Builds a resampler for 20 ms frames from `from` Hz to `to` Hz.
    pub fn new(from: u32, to: u32) -> Result<Self, CodecError> {
        let in_len = frame_len(from).ok_or(CodecError::UnsupportedRate { rate: from })?;
        let out_len = frame_len(to).ok_or(CodecError::UnsupportedRate { rate: to })?;
        if from == to {
            return Ok(Self {
                from,
                to,
                in_len,
                out_len,
                inner: None,
                in_buf: Vec::new(),
                out_buf: Vec::new(),
            });
        }
        let inner = Fft::<f32>::new(from as usize, to as usize, in_len, 1, 1, FixedSync::Both)?;
        // With both sides fixed rubato rounds the chunk to the exact ratio;
        // for rates divisible by 50 a 20 ms frame is always such a chunk.
        if inner.input_frames_next() != in_len || inner.output_frames_next() != out_len {
            return Err(CodecError::UnsupportedRate { rate: to });
        }
        Ok(Self {
            from,
            to,
            in_len,
            out_len,
            inner: Some(inner),
            in_buf: vec![0.0; in_len],
            out_buf: vec![0.0; out_len],
        })
    }

    /// Input rate in Hz.
    pub fn from_rate(&self) -> u32 {
        self.from
    }

    /// Output rate in Hz.
    pub fn to_rate(&self) -> u32 {
        self.to
    }

    /// Samples expected per call (20 ms at the input rate).
    pub fn input_frame_len(&self) -> usize {
        self.in_len
    }

    /// Samples appended per call (20 ms at the output rate).
    pub fn output_frame_len(&self) -> usize {
        self.out_len
    }

    /// How many output samples the output lags the input by.
    pub fn delay(&self) -> usize {
        self.inner.as_ref().map_or(0, |r| r.output_delay())
    }

    /// Forgets all history, as if newly built (e.g. on a media source change).
    pub fn reset(&mut self) {
        if let Some(r) = self.inner.as_mut() {
            r.reset();
        }
    }

    /// Resamples exactly one 20 ms frame and appends the result to `out`.
    pub fn process(&mut self, input: &[i16], out: &mut Vec<i16>) -> Result<(), CodecError> {
        if input.len() != self.in_len {
            return Err(CodecError::FrameLength {
                got: input.len(),
                expected: self.in_len,
            });
        }
        let Some(inner) = self.inner.as_mut() else {
            out.extend_from_slice(input);
            return Ok(());
        };
        for (dst, &s) in self.in_buf.iter_mut().zip(input) {
            *dst = f32::from(s) / 32768.0;
        }
        let adapter_in = InterleavedSlice::new(&self.in_buf[..], 1, self.in_len)
            .map_err(|_| CodecError::ResampleBuffer)?;
        let mut adapter_out = InterleavedSlice::new_mut(&mut self.out_buf[..], 1, self.out_len)
            .map_err(|_| CodecError::ResampleBuffer)?;
        let (_, written) = inner.process_into_buffer(&adapter_in, &mut adapter_out, None)?;
        out.reserve(written);
        out.extend(self.out_buf[..written].iter().map(|&v| to_i16(v)));
        Ok(())
    }
}

/// Samples in a 20 ms frame at `rate`, if that is a whole number.
fn frame_len(rate: u32) -> Option<usize> {
    if rate == 0 || !rate.is_multiple_of(1000 / PTIME_MS) {
        return None;
    }
    Some(samples_per_frame(rate, PTIME_MS))
}

/// Float in [-1, 1) back to i16, rounded and saturated.
fn to_i16(v: f32) -> i16 {
    // `as` saturates on overflow and maps NaN to 0.
    (v * 32768.0).round() as i16
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::media::codec::test_signal::{goertzel_amplitude, sine};

    /// Runs `input` through the chain of rates frame by frame.
    fn run_chain(rates: &[u32], input: &[i16]) -> Vec<i16> {
        let mut signal = input.to_vec();
        for pair in rates.windows(2) {
            let mut r = Resampler::new(pair[0], pair[1]).expect("resampler");
            let mut out = Vec::with_capacity(signal.len() * pair[1] as usize / pair[0] as usize);
            for frame in signal.chunks_exact(r.input_frame_len()) {
                let before = out.len();
                r.process(frame, &mut out).expect("process");
                assert_eq!(out.len() - before, r.output_frame_len());
            }
            signal = out;
        }
        signal
    }

    /// Checks that `output` (at `rate`) holds a 1 kHz tone of `amplitude`
    /// within 1 dB, and that neighbouring frequencies hold far less.
    fn assert_tone(output: &[i16], rate: u32, amplitude: f64) {
        // Skip the first 200 ms (resampler delay and start-up).
        let tail = &output[(rate as usize / 5)..];
        let at_1k = goertzel_amplitude(tail, rate, 1000.0);
        let level_db = 20.0 * (at_1k / amplitude).log10();
        assert!(level_db.abs() < 1.0, "level off by {level_db:.2} dB");
        for other in [500.0, 800.0, 1200.0, 2000.0, 3000.0] {
            let a = goertzel_amplitude(tail, rate, other);
            assert!(a < at_1k / 100.0, "energy at {other} Hz: {a} vs {at_1k}");
        }
    }

    #[test]
    fn frame_lengths() {
        for (from, to, i, o) in [
            (8000, 48000, 160, 960),
            (48000, 8000, 960, 160),
            (16000, 8000, 320, 160),
            (8000, 16000, 160, 320),
            (16000, 48000, 320, 960),
            (48000, 16000, 960, 320),
            (8000, 8000, 160, 160),
        ] {
            let r = Resampler::new(from, to).expect("resampler");
            assert_eq!((r.input_frame_len(), r.output_frame_len()), (i, o));
        }
    }

    #[test]
    fn tone_survives_8k_to_48k_to_8k() {
        let amplitude = 0.5 * 32767.0;
        let input = sine(1000.0, 8000, 0.5, 8000);
        let up = run_chain(&[8000, 48000], &input);
        assert_eq!(up.len(), 48000);
        assert_tone(&up, 48000, amplitude);
        let round = run_chain(&[8000, 48000, 8000], &input);
        assert_eq!(round.len(), input.len());
        assert_tone(&round, 8000, amplitude);
    }

    #[test]
    fn tone_survives_16k_to_8k() {
        let input = sine(1000.0, 16000, 0.5, 16000);
        let down = run_chain(&[16000, 8000], &input);
        assert_eq!(down.len(), 8000);
        assert_tone(&down, 8000, 0.5 * 32767.0);
    }

    #[test]
    fn state_is_kept_between_frames() {
        // One resampler fed frame by frame must match a sine at the output
        // rate after the delay: frame edges must not click.
        let input = sine(1000.0, 8000, 0.5, 8000);
        let out = run_chain(&[8000, 16000], &input);
        let delay = Resampler::new(8000, 16000).expect("resampler").delay();
        let reference = sine(1000.0, 16000, 0.5, out.len() - delay);
        let aligned = &out[delay..];
        let skip = 3200;
        let snr = crate::media::codec::test_signal::snr_db(&reference[skip..], &aligned[skip..]);
        assert!(snr > 40.0, "frame-by-frame SNR {snr:.1} dB, delay {delay}");
    }

    #[test]
    fn equal_rates_pass_through() {
        let mut r = Resampler::new(16000, 16000).expect("resampler");
        let input = sine(1000.0, 16000, 0.5, 320);
        let mut out = Vec::new();
        r.process(&input, &mut out).expect("process");
        assert_eq!(out, input);
        assert_eq!(r.delay(), 0);
    }

    #[test]
    fn bad_rates_and_lengths_are_errors() {
        assert!(matches!(
            Resampler::new(0, 8000),
            Err(CodecError::UnsupportedRate { rate: 0 })
        ));
        assert!(matches!(
            Resampler::new(8000, 44_110),
            Err(CodecError::UnsupportedRate { rate: 44_110 })
        ));
        let mut r = Resampler::new(8000, 48000).expect("resampler");
        let mut out = Vec::new();
        assert!(matches!(
            r.process(&[0; 100], &mut out),
            Err(CodecError::FrameLength {
                got: 100,
                expected: 160
            })
        ));
        assert!(out.is_empty());
    }
}
