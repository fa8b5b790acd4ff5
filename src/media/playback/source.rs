//! The basic [`Source`]s: a loaded [`Prompt`], [`Silence`], [`ComfortNoise`],
//! and the combinators [`Playlist`] (one source after another) and
//! [`Looping`] (a source restarted forever, e.g. music on hold).
//!
//! Pure sample generators: no IO, no clocks, no allocation per frame. They
//! never load files (that is [`super::PromptCache`]) and never pace output
//! (the media task pulls a frame every 20 ms).

use std::sync::Arc;

use super::{check_rate, frame_len, PlaybackError, Source};

/// Plays a loaded clip once; the last partial frame is padded with silence.
#[derive(Debug, Clone)]
pub struct Prompt {
    samples: Arc<[i16]>,
    rate: u32,
    pos: usize,
}

impl Prompt {
    /// A prompt of `samples` recorded at `rate` (8000, 16000 or 48000 Hz).
    pub fn new(samples: Arc<[i16]>, rate: u32) -> Result<Self, PlaybackError> {
        Ok(Self {
            samples,
            rate: check_rate(rate)?,
            pos: 0,
        })
    }

    /// Number of frames the prompt plays for.
    pub fn frames(&self) -> usize {
        self.samples.len().div_ceil(frame_len(self.rate))
    }
}

impl Source for Prompt {
    fn rate(&self) -> u32 {
        self.rate
    }

    fn read_frame(&mut self, out: &mut [i16]) -> bool {
        let rest = &self.samples[self.pos.min(self.samples.len())..];
        if rest.is_empty() {
            out.fill(0);
            return false;
        }
        let n = rest.len().min(out.len());
        out[..n].copy_from_slice(&rest[..n]);
        out[n..].fill(0);
        self.pos += n;
        true
    }

    fn restart(&mut self) -> bool {
        self.pos = 0;
        true
    }
}

/// Silence for a number of frames, or forever.
#[derive(Debug, Clone)]
pub struct Silence {
    rate: u32,
    /// `None` plays forever.
    frames: Option<usize>,
    played: usize,
}

impl Silence {
    /// `frames` frames (20 ms each) of silence.
    pub fn frames(rate: u32, frames: usize) -> Result<Self, PlaybackError> {
        Ok(Self {
            rate: check_rate(rate)?,
            frames: Some(frames),
            played: 0,
        })
    }

    /// Silence that never finishes.
    pub fn forever(rate: u32) -> Result<Self, PlaybackError> {
        Ok(Self {
            rate: check_rate(rate)?,
            frames: None,
            played: 0,
        })
    }
}

impl Source for Silence {
    fn rate(&self) -> u32 {
        self.rate
    }

    fn read_frame(&mut self, out: &mut [i16]) -> bool {
        out.fill(0);
        match self.frames {
            Some(total) if self.played >= total => false,
            _ => {
                self.played = self.played.saturating_add(1);
                true
            }
        }
    }

    fn restart(&mut self) -> bool {
        self.played = 0;
        true
    }
}

/// Low-level white noise that never finishes, so a held or muted leg does
/// not sound dead. Deterministic: the same seed gives the same noise.
#[derive(Debug, Clone)]
pub struct ComfortNoise {
    rate: u32,
    /// Peak of the uniform distribution, in sample units.
    peak: f32,
    seed: u32,
    state: u32,
}

impl ComfortNoise {
    /// Default level: -60 dBFS RMS.
    pub const DEFAULT_DBFS: f32 = -60.0;
    const DEFAULT_SEED: u32 = 0x9e37_79b9;

    /// Noise at [`Self::DEFAULT_DBFS`].
    pub fn new(rate: u32) -> Result<Self, PlaybackError> {
        Self::with_level(rate, Self::DEFAULT_DBFS)
    }

    /// Noise at `dbfs` RMS (relative to a full-scale square wave), clamped
    /// to [-96, -20] dBFS.
    pub fn with_level(rate: u32, dbfs: f32) -> Result<Self, PlaybackError> {
        let rms = 32768.0 * 10f32.powf(dbfs.clamp(-96.0, -20.0) / 20.0);
        Ok(Self {
            rate: check_rate(rate)?,
            // A uniform distribution on [-p, p] has RMS p / sqrt(3).
            peak: rms * 3f32.sqrt(),
            seed: Self::DEFAULT_SEED,
            state: Self::DEFAULT_SEED,
        })
    }

    /// Uses another PRNG seed (0 is replaced by a fixed non-zero seed).
    pub fn seeded(mut self, seed: u32) -> Self {
        self.seed = if seed == 0 { Self::DEFAULT_SEED } else { seed };
        self.state = self.seed;
        self
    }

    /// xorshift32: a uniform value in [-1, 1).
    fn next_uniform(&mut self) -> f32 {
        let mut x = self.state;
        x ^= x << 13;
        x ^= x >> 17;
        x ^= x << 5;
        self.state = x;
        (x >> 8) as f32 / (1u32 << 23) as f32 - 1.0
    }
}

impl Source for ComfortNoise {
    fn rate(&self) -> u32 {
        self.rate
    }

    fn read_frame(&mut self, out: &mut [i16]) -> bool {
        for s in out.iter_mut() {
            *s = (self.next_uniform() * self.peak).round() as i16;
        }
        true
    }

    fn restart(&mut self) -> bool {
        self.state = self.seed;
        true
    }
}

/// Sources played one after another at one rate. Finishes after the last.
pub struct Playlist {
    rate: u32,
    items: Vec<Box<dyn Source>>,
    current: usize,
}

impl std::fmt::Debug for Playlist {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Playlist")
            .field("rate", &self.rate)
            .field("items", &self.items.len())
            .field("current", &self.current)
            .finish()
    }
}

impl Playlist {
    /// An empty playlist at `rate`.
    pub fn new(rate: u32) -> Result<Self, PlaybackError> {
        Ok(Self {
            rate: check_rate(rate)?,
            items: Vec::new(),
            current: 0,
        })
    }

    /// Appends a source, which must run at the playlist's rate.
    pub fn push(&mut self, source: Box<dyn Source>) -> Result<(), PlaybackError> {
        if source.rate() != self.rate {
            return Err(PlaybackError::RateMismatch {
                expected: self.rate,
                got: source.rate(),
            });
        }
        self.items.push(source);
        Ok(())
    }

    /// Builder form of [`Self::push`].
    pub fn with(mut self, source: impl Source + 'static) -> Result<Self, PlaybackError> {
        self.push(Box::new(source))?;
        Ok(self)
    }

    /// Number of sources in the playlist.
    pub fn len(&self) -> usize {
        self.items.len()
    }

    /// Whether the playlist holds no source.
    pub fn is_empty(&self) -> bool {
        self.items.is_empty()
    }
}

impl Source for Playlist {
    fn rate(&self) -> u32 {
        self.rate
    }

    fn read_frame(&mut self, out: &mut [i16]) -> bool {
        // A finished item hands over within the same frame, so items follow
        // each other without a gap frame.
        while let Some(item) = self.items.get_mut(self.current) {
            if item.read_frame(out) {
                return true;
            }
            self.current += 1;
        }
        out.fill(0);
        false
    }

    fn restart(&mut self) -> bool {
        self.current = 0;
        // Every item must rewind, so no short-circuit.
        let mut all = true;
        for item in &mut self.items {
            all &= item.restart();
        }
        all
    }
}

/// Restarts its source whenever it finishes, forever (music on hold).
///
/// Finishes only if the source cannot [`Source::restart`]. A source that is
/// empty right after a restart (e.g. an empty playlist) plays silence.
pub struct Looping<S> {
    inner: S,
    /// How many times the source has been restarted.
    loops: u64,
}

impl<S: Source> Looping<S> {
    /// Loops `inner` from its current position.
    pub fn new(inner: S) -> Self {
        Self { inner, loops: 0 }
    }

    /// How many times the source has been restarted so far.
    pub fn loops(&self) -> u64 {
        self.loops
    }
}

impl<S: Source> Source for Looping<S> {
    fn rate(&self) -> u32 {
        self.inner.rate()
    }

    fn read_frame(&mut self, out: &mut [i16]) -> bool {
        if self.inner.read_frame(out) {
            return true;
        }
        if !self.inner.restart() {
            return false;
        }
        self.loops += 1;
        if !self.inner.read_frame(out) {
            // Nothing to loop over: keep the leg fed with silence.
            out.fill(0);
        }
        true
    }

    fn restart(&mut self) -> bool {
        self.inner.restart()
    }
}

#[cfg(test)]
#[path = "source_tests.rs"]
mod tests;
