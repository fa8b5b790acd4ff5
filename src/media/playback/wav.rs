//! WAV loading: decodes a file with `hound` (8/16/24/32-bit integer or 32-bit
//! float PCM, mono or stereo, any rate from 4 to 192 kHz), down-mixes to mono
//! and converts to the playback rate.
//!
//! Owns the mapping from file formats to [`PlaybackError`]; every malformed
//! or truncated file is an error, never a panic, and a header cannot make it
//! allocate more than [`MAX_SECONDS`] of audio. It reads files synchronously
//! and keeps nothing: sharing loaded prompts is [`super::PromptCache`]'s job.

use std::fs::File;
use std::io::{BufReader, Read};
use std::path::Path;

use hound::{SampleFormat, WavReader};

use super::convert::resample_clip;
use super::{check_rate, PlaybackError};

/// Longest file accepted, in seconds of audio.
pub const MAX_SECONDS: u32 = 20 * 60;

/// A decoded WAV file: mono samples in [-1, 1] at the file's rate.
#[derive(Debug, Clone, PartialEq)]
pub struct DecodedWav {
    pub rate: u32,
    pub samples: Vec<f32>,
}

/// Loads `path` as mono 16-bit PCM at `rate` (8000, 16000 or 48000 Hz).
pub fn load_wav(path: &Path, rate: u32) -> Result<Vec<i16>, PlaybackError> {
    check_rate(rate)?;
    let wav = decode_wav(path)?;
    resample_clip(&wav.samples, wav.rate, rate)
}

/// Decodes `path` to mono float samples at the file's own rate.
pub fn decode_wav(path: &Path) -> Result<DecodedWav, PlaybackError> {
    let file = File::open(path).map_err(|e| PlaybackError::io(path, e))?;
    decode_reader(BufReader::new(file), path)
}

/// Decodes WAV data from `reader`; `path` only names it in errors.
pub fn decode_reader<R: Read>(reader: R, path: &Path) -> Result<DecodedWav, PlaybackError> {
    let decode_err = |source| PlaybackError::Decode {
        path: path.to_path_buf(),
        source,
    };
    let mut reader = WavReader::new(reader).map_err(decode_err)?;
    let spec = reader.spec();
    let unsupported = || PlaybackError::UnsupportedFormat {
        path: path.to_path_buf(),
        format: match spec.sample_format {
            SampleFormat::Int => "integer",
            SampleFormat::Float => "float",
        },
        bits: spec.bits_per_sample,
        channels: spec.channels,
    };
    let channels = usize::from(spec.channels);
    if !(1..=2).contains(&channels) {
        return Err(unsupported());
    }
    if !(4000..=192_000).contains(&spec.sample_rate) {
        return Err(PlaybackError::UnsupportedRate {
            rate: spec.sample_rate,
        });
    }
    let max_frames = u64::from(MAX_SECONDS) * u64::from(spec.sample_rate);
    // `duration()` is the frame count the header claims; the data may be
    // shorter (truncated), which the sample iterator reports as an error.
    if u64::from(reader.duration()) > max_frames {
        return Err(unsupported());
    }
    let mut interleaved: Vec<f32> = Vec::new();
    match (spec.sample_format, spec.bits_per_sample) {
        (SampleFormat::Int, bits @ (8 | 16 | 24 | 32)) => {
            let scale = 1.0 / f64::from(1u32 << (bits - 1));
            for s in reader.samples::<i32>() {
                interleaved.push((f64::from(s.map_err(decode_err)?) * scale) as f32);
            }
        }
        (SampleFormat::Float, 32) => {
            for s in reader.samples::<f32>() {
                let v = s.map_err(decode_err)?;
                // Non-finite samples become silence; others are clamped.
                interleaved.push(if v.is_finite() {
                    v.clamp(-1.0, 1.0)
                } else {
                    0.0
                });
            }
        }
        _ => return Err(unsupported()),
    }
    let samples = if channels == 1 {
        interleaved
    } else {
        interleaved
            .chunks_exact(channels)
            .map(|f| f.iter().sum::<f32>() / channels as f32)
            .collect()
    };
    Ok(DecodedWav {
        rate: spec.sample_rate,
        samples,
    })
}

#[cfg(test)]
#[path = "wav_tests.rs"]
mod tests;
