//! Playback: audio the switch itself plays to a call leg — prompts from WAV
//! files, tones, silence, comfort noise, music on hold and text-to-speech.
//!
//! Everything a call hears comes out of a [`Source`] as 20 ms frames of mono
//! 16-bit PCM at the leg's rate; the media task pulls one frame per tick and
//! hands it to the encoder. Sources are sans-IO and keep no time: they do not
//! pace themselves, read clocks or touch sockets. Loading (WAV decoding, rate
//! conversion, [`PromptCache`]) reads files synchronously and belongs on a
//! blocking thread; only [`Tts::render`] is async, since it runs a process.

pub mod cache;
pub mod convert;
pub mod library;
pub mod moh;
pub mod source;
pub mod tone;
pub mod tts;
pub mod wav;

#[cfg(test)]
mod shipped_media_tests;
#[cfg(test)]
mod test_util;

use std::path::PathBuf;

pub use cache::PromptCache;
pub use library::{Limited, MediaLibrary};
pub use moh::{moh_source, MohClass};
pub use source::{ComfortNoise, Looping, Playlist, Prompt, Silence};
pub use tone::{Tone, ToneKind, ToneRegion};
pub use tts::Tts;
pub use wav::{decode_wav, load_wav};

/// Frame duration of every [`Source`].
pub const FRAME_MS: u32 = 20;

/// Rates a [`Source`] may run at.
pub const SUPPORTED_RATES: [u32; 3] = [8000, 16000, 48000];

/// Samples in one 20 ms frame at `rate` (160 at 8 kHz).
pub const fn frame_len(rate: u32) -> usize {
    (rate / (1000 / FRAME_MS)) as usize
}

/// Checks that `rate` is one a [`Source`] may run at.
pub fn check_rate(rate: u32) -> Result<u32, PlaybackError> {
    if SUPPORTED_RATES.contains(&rate) {
        Ok(rate)
    } else {
        Err(PlaybackError::UnsupportedRate { rate })
    }
}

/// Audio played to a call leg, pulled one 20 ms frame at a time.
pub trait Source: Send {
    /// The rate of the PCM this source produces, in Hz.
    fn rate(&self) -> u32;

    /// Fills exactly one 20 ms frame (`out.len() == rate / 50`). Returns
    /// `false` once finished, in which case `out` is silence. A frame in
    /// which the audio ends is padded with silence and still returns `true`.
    fn read_frame(&mut self, out: &mut [i16]) -> bool;

    /// Rewinds to the beginning if the source can; returns `false` if it
    /// cannot (the default). [`Looping`] relies on this.
    fn restart(&mut self) -> bool {
        false
    }
}

impl<S: Source + ?Sized> Source for Box<S> {
    fn rate(&self) -> u32 {
        (**self).rate()
    }

    fn read_frame(&mut self, out: &mut [i16]) -> bool {
        (**self).read_frame(out)
    }

    fn restart(&mut self) -> bool {
        (**self).restart()
    }
}

/// Everything that can go wrong loading or preparing audio for playback.
#[derive(Debug, thiserror::Error)]
pub enum PlaybackError {
    /// A media path that is absolute or leaves the media directory.
    #[error("{path}: media paths must be relative and stay inside the media directory")]
    InvalidPath { path: String },
    /// Text-to-speech took too long.
    #[error("text-to-speech did not finish in time")]
    TtsTimeout,
    /// The file does not exist.
    #[error("{path}: file not found")]
    NotFound { path: PathBuf },
    /// Reading a file or directory failed for another reason.
    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    /// A WAV file whose sample format is not supported.
    #[error("{path}: unsupported WAV format ({bits}-bit {format}, {channels} channels)")]
    UnsupportedFormat {
        path: PathBuf,
        format: &'static str,
        bits: u16,
        channels: u16,
    },
    /// A file that is not a readable WAV (garbage, truncated header…).
    #[error("{path}: cannot decode WAV: {source}")]
    Decode {
        path: PathBuf,
        #[source]
        source: hound::Error,
    },
    /// A sample rate outside what the loader or a source accepts.
    #[error("unsupported sample rate {rate} Hz")]
    UnsupportedRate { rate: u32 },
    /// Sources of a playlist must share one rate.
    #[error("playlist source at {got} Hz where {expected} Hz is required")]
    RateMismatch { expected: u32, got: u32 },
    /// The rate converter could not be built.
    #[error("resampler construction: {0}")]
    ResamplerConstruction(#[from] rubato::ResamplerConstructionError),
    /// The rate converter failed.
    #[error("resampling: {0}")]
    Resample(#[from] rubato::ResampleError),
    /// The rate converter's buffers did not fit (an invariant).
    #[error("resampler buffer does not fit")]
    ResampleBuffer,
    /// A music-on-hold class name with characters outside `[A-Za-z0-9_-]`.
    #[error("invalid music-on-hold class name {class:?}")]
    InvalidMohClass { class: String },
    /// No folder for this music-on-hold class under the media root.
    #[error("unknown music-on-hold class {class:?} (no folder {path})")]
    UnknownMohClass { class: String, path: PathBuf },
    /// The class folder exists but holds no WAV file.
    #[error("music-on-hold class {class:?} has no WAV files in {path}")]
    EmptyMohClass { class: String, path: PathBuf },
    /// A TTS voice name with characters outside `[A-Za-z0-9+_-]`.
    #[error("invalid TTS voice name {voice:?}")]
    InvalidVoice { voice: String },
    /// TTS text that is empty (after trimming).
    #[error("TTS text is empty")]
    EmptyText,
    /// TTS text containing a NUL character.
    #[error("TTS text contains a NUL character")]
    TextHasNul,
    /// TTS text longer than the limit.
    #[error("TTS text of {len} characters exceeds the limit of {max}")]
    TextTooLong { len: usize, max: usize },
    /// The TTS engine could not be started.
    #[error("cannot run TTS engine {program}: {source}")]
    TtsSpawn {
        program: PathBuf,
        #[source]
        source: std::io::Error,
    },
    /// The TTS engine ran but failed or produced no usable audio.
    #[error("TTS engine failed ({status}): {stderr}")]
    TtsFailed { status: String, stderr: String },
}

impl PlaybackError {
    /// Maps an IO error on `path`, singling out "not found".
    pub(crate) fn io(path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        let path = path.into();
        if source.kind() == std::io::ErrorKind::NotFound {
            Self::NotFound { path }
        } else {
            Self::Io { path, source }
        }
    }
}
