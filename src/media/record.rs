//! Call recording: one stereo 16-bit PCM WAV file per recorded call, the
//! caller on the left channel and the callee on the right, at one fixed
//! rate chosen when the recording starts.
//!
//! It owns the file and its header, nothing else: the owner of the call
//! feeds it one 20 ms frame per side per tick (already decoded and resampled
//! to the recording rate) and it must not read clocks, pace frames, decode
//! or resample. Writes go through a buffer that is flushed, header included,
//! after every second of audio, so a recording cut off by a crash or a kill
//! is still a playable WAV holding all but the last second at most. Nothing
//! allocates per frame once the first frame has been written.

use std::fs;
use std::io::BufWriter;
use std::path::{Path, PathBuf};

use hound::{SampleFormat, WavSpec, WavWriter};

/// Frames per second (20 ms frames).
const FRAMES_PER_SECOND: u64 = 50;
/// Frames between two header updates; bounds what a crash can lose.
const FLUSH_EVERY_FRAMES: u64 = FRAMES_PER_SECOND;
/// Bytes kept free under the 4 GiB RIFF limit for the header.
const HEADER_ROOM: u64 = 1024;

/// Which channel of the recording a frame belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Side {
    /// The caller, left channel.
    Left,
    /// The callee, right channel.
    Right,
}

/// Everything that can go wrong recording a call.
#[derive(Debug, thiserror::Error)]
pub enum RecordError {
    /// A rate with no whole 20 ms frame (it must be a non-zero multiple of 50).
    #[error("unsupported recording rate {rate} Hz")]
    UnsupportedRate { rate: u32 },
    /// A side handed a frame of the wrong length; nothing was written.
    #[error("{side:?} frame of {got} samples where {expected} are required")]
    FrameLength {
        side: Side,
        got: usize,
        expected: usize,
    },
    /// The WAV format's 4 GiB limit was reached; the file up to here is kept.
    #[error("recording is full after {duration_ms} ms (WAV size limit)")]
    Full { duration_ms: u64 },
    /// Creating the folder or reading the file's size failed.
    #[error("recording file {path}: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    /// The WAV writer failed (disk full, IO error).
    #[error("writing WAV: {0}")]
    Wav(#[from] hound::Error),
}

/// What a finished recording holds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecordingInfo {
    pub path: PathBuf,
    /// Audio length: 20 ms per frame written.
    pub duration_ms: u64,
    /// Size of the file on disk, header included.
    pub size_bytes: u64,
    /// Sample rate of both channels, Hz.
    pub rate: u32,
}

/// A stereo call recording being written. Call [`finish`](Self::finish) at
/// the end; a plain drop still completes the header, but silently ignores
/// any error doing so.
pub struct Recorder {
    writer: WavWriter<BufWriter<fs::File>>,
    path: PathBuf,
    rate: u32,
    /// Samples per side per 20 ms frame.
    frame: usize,
    frames: u64,
    /// Frames the file can still take before the WAV size limit.
    max_frames: u64,
}

impl std::fmt::Debug for Recorder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Recorder")
            .field("path", &self.path)
            .field("rate", &self.rate)
            .field("frames", &self.frames)
            .finish_non_exhaustive()
    }
}

impl Recorder {
    /// Creates (or truncates) the WAV file at `path`, creating its parent
    /// folders, for a recording at `rate` Hz (8000 is the usual choice).
    pub fn create(path: &Path, rate: u32) -> Result<Self, RecordError> {
        if rate == 0 || !rate.is_multiple_of(50) {
            return Err(RecordError::UnsupportedRate { rate });
        }
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            fs::create_dir_all(dir).map_err(|source| RecordError::Io {
                path: dir.to_path_buf(),
                source,
            })?;
        }
        let spec = WavSpec {
            channels: 2,
            sample_rate: rate,
            bits_per_sample: 16,
            sample_format: SampleFormat::Int,
        };
        let writer = WavWriter::create(path, spec)?;
        let frame = (rate / 50) as usize;
        let frame_bytes = frame as u64 * 2 * 2;
        Ok(Self {
            writer,
            path: path.to_path_buf(),
            rate,
            frame,
            frames: 0,
            max_frames: (u64::from(u32::MAX) - HEADER_ROOM) / frame_bytes,
        })
    }

    /// Sample rate of the recording, Hz.
    pub fn rate(&self) -> u32 {
        self.rate
    }

    /// Samples per side in one 20 ms frame (`rate / 50`).
    pub fn frame_samples(&self) -> usize {
        self.frame
    }

    /// Audio written so far, in milliseconds.
    pub fn duration_ms(&self) -> u64 {
        self.frames * 20
    }

    /// Writes one 20 ms tick: `left` is what the caller said, `right` what
    /// the callee said, each exactly [`frame_samples`](Self::frame_samples)
    /// long. `None` is silence for that side (nothing arrived this tick).
    /// Call it once per tick whatever arrived, so the channels stay aligned.
    /// A frame of the wrong length is refused and nothing is written.
    pub fn write_frame(
        &mut self,
        left: Option<&[i16]>,
        right: Option<&[i16]>,
    ) -> Result<(), RecordError> {
        self.check(Side::Left, left)?;
        self.check(Side::Right, right)?;
        if self.frames >= self.max_frames {
            return Err(RecordError::Full {
                duration_ms: self.duration_ms(),
            });
        }
        let n = self.frame;
        // Interleaved L R L R …; the sample writer reuses one buffer.
        let mut out = self.writer.get_i16_writer((n * 2) as u32);
        for i in 0..n {
            out.write_sample(left.map_or(0, |s| s[i]));
            out.write_sample(right.map_or(0, |s| s[i]));
        }
        out.flush()?;
        self.frames += 1;
        if self.frames.is_multiple_of(FLUSH_EVERY_FRAMES) {
            // Rewrites the RIFF and data sizes, then hands the buffer to the OS.
            self.writer.flush()?;
        }
        Ok(())
    }

    fn check(&self, side: Side, frame: Option<&[i16]>) -> Result<(), RecordError> {
        match frame {
            Some(s) if s.len() != self.frame => Err(RecordError::FrameLength {
                side,
                got: s.len(),
                expected: self.frame,
            }),
            _ => Ok(()),
        }
    }

    /// Completes the header, flushes and closes the file, and says what it holds.
    pub fn finish(self) -> Result<RecordingInfo, RecordError> {
        let Self {
            writer,
            path,
            rate,
            frames,
            ..
        } = self;
        writer.finalize()?;
        let size_bytes = fs::metadata(&path)
            .map_err(|source| RecordError::Io {
                path: path.clone(),
                source,
            })?
            .len();
        Ok(RecordingInfo {
            path,
            duration_ms: frames * 20,
            size_bytes,
            rate,
        })
    }
}

#[cfg(test)]
#[path = "record_tests.rs"]
mod tests;
