//! The switch's media library: turns what a dialplan asks for (a prompt path
//! under the media directory, text to speak, a music-on-hold class, a tone)
//! into a ready [`Source`] at a leg's rate. File loading runs on blocking
//! threads and is cached ([`PromptCache`]); speech is rendered once per
//! text and voice ([`Tts`]) with a time limit.
//!
//! Must not pace or play anything: the media session pulls the sources.

use std::path::{Component, Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use super::{
    moh_source, PlaybackError, Prompt, PromptCache, Silence, Source, Tone, ToneKind, ToneRegion,
    Tts,
};

/// Longest a text-to-speech render may take.
const TTS_TIMEOUT: Duration = Duration::from_secs(20);

/// Prompts, speech and music on hold for every call of the switch.
pub struct MediaLibrary {
    root: PathBuf,
    cache: Arc<PromptCache>,
    tts: Tts,
}

impl std::fmt::Debug for MediaLibrary {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MediaLibrary")
            .field("root", &self.root)
            .finish_non_exhaustive()
    }
}

impl MediaLibrary {
    /// Media files under `root`; speech is cached under `data_dir/tts`.
    pub fn new(root: impl Into<PathBuf>, data_dir: &Path) -> Self {
        MediaLibrary {
            root: root.into(),
            cache: Arc::new(PromptCache::new()),
            tts: Tts::new(data_dir),
        }
    }

    pub fn root(&self) -> &Path {
        &self.root
    }

    /// The file of a dialplan media path: relative, without `..`, `.wav` implied.
    pub fn resolve(&self, rel: &str) -> Result<PathBuf, PlaybackError> {
        let p = Path::new(rel);
        let safe = !rel.is_empty()
            && p.components()
                .all(|c| matches!(c, Component::Normal(_) | Component::CurDir));
        if !safe {
            return Err(PlaybackError::InvalidPath {
                path: rel.to_string(),
            });
        }
        let mut path = self.root.join(p);
        if path.extension().is_none() {
            path.set_extension("wav");
        }
        Ok(path)
    }

    async fn load(&self, path: PathBuf, rate: u32) -> Result<Box<dyn Source>, PlaybackError> {
        let cache = self.cache.clone();
        let samples = tokio::task::spawn_blocking(move || cache.load(&path, rate))
            .await
            .map_err(|_| PlaybackError::TtsTimeout)??;
        Ok(Box::new(Prompt::new(samples, rate)?))
    }

    /// A prompt file (`prompts/en/welcome`) at `rate`.
    pub async fn prompt(&self, rel: &str, rate: u32) -> Result<Box<dyn Source>, PlaybackError> {
        let path = self.resolve(rel)?;
        self.load(path, rate).await
    }

    /// A stored recording (a voicemail message) at `rate`, read once and not
    /// cached: the path is the switch's own, never a user's.
    pub async fn file(&self, path: PathBuf, rate: u32) -> Result<Box<dyn Source>, PlaybackError> {
        let samples = tokio::task::spawn_blocking(move || super::wav::load_wav(&path, rate))
            .await
            .map_err(|_| PlaybackError::TtsTimeout)??;
        Ok(Box::new(Prompt::new(samples.into(), rate)?))
    }

    /// `text` spoken with `voice` (the engine's default when `None`).
    pub async fn say(
        &self,
        text: &str,
        voice: Option<&str>,
        rate: u32,
    ) -> Result<Box<dyn Source>, PlaybackError> {
        let path = tokio::time::timeout(TTS_TIMEOUT, self.tts.render(text, voice))
            .await
            .map_err(|_| PlaybackError::TtsTimeout)??;
        self.load(path, rate).await
    }

    /// Music on hold of `class` for `seconds`.
    pub async fn moh(
        &self,
        class: &str,
        seconds: u32,
        rate: u32,
    ) -> Result<Box<dyn Source>, PlaybackError> {
        let (cache, root, class_name) = (self.cache.clone(), self.root.clone(), class.to_string());
        let src = tokio::task::spawn_blocking(move || moh_source(&cache, &root, &class_name, rate))
            .await
            .map_err(|_| PlaybackError::TtsTimeout)??;
        Ok(Box::new(Limited::seconds(src, seconds)))
    }

    /// A call-progress tone for `seconds`.
    pub fn tone(
        kind: ToneKind,
        region: ToneRegion,
        seconds: u32,
        rate: u32,
    ) -> Result<Box<dyn Source>, PlaybackError> {
        Ok(Box::new(Limited::seconds(
            Tone::new(kind, region, rate)?,
            seconds,
        )))
    }

    /// Silence for `seconds` (fractions allowed, whole frames).
    pub fn pause(seconds: f64, rate: u32) -> Result<Box<dyn Source>, PlaybackError> {
        let frames = (seconds.max(0.0) * 50.0).round() as usize;
        Ok(Box::new(Silence::frames(rate, frames.max(1))?))
    }
}

/// Ends any source after a number of frames.
pub struct Limited<S> {
    inner: S,
    frames_left: u64,
}

impl<S: Source> Limited<S> {
    pub fn frames(inner: S, frames: u64) -> Self {
        Limited {
            inner,
            frames_left: frames,
        }
    }

    pub fn seconds(inner: S, seconds: u32) -> Self {
        Self::frames(inner, u64::from(seconds) * 50)
    }
}

impl<S: Source> Source for Limited<S> {
    fn rate(&self) -> u32 {
        self.inner.rate()
    }

    fn read_frame(&mut self, out: &mut [i16]) -> bool {
        if self.frames_left == 0 {
            out.fill(0);
            return false;
        }
        self.frames_left -= 1;
        self.inner.read_frame(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::media::playback::frame_len;

    fn library() -> MediaLibrary {
        let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("media");
        MediaLibrary::new(root, &std::env::temp_dir())
    }

    #[test]
    fn media_paths_stay_inside_the_media_dir() {
        let lib = library();
        assert!(lib.resolve("prompts/en/welcome").is_ok());
        assert!(lib
            .resolve("prompts/en/welcome")
            .expect("path")
            .ends_with("prompts/en/welcome.wav"));
        for bad in ["", "/etc/passwd", "../secret", "prompts/../../x"] {
            assert!(
                matches!(lib.resolve(bad), Err(PlaybackError::InvalidPath { .. })),
                "{bad:?} accepted"
            );
        }
    }

    #[tokio::test]
    async fn shipped_prompts_load_at_every_rate_and_missing_ones_fail() {
        let lib = library();
        for rate in [8000, 16000, 48000] {
            let mut s = lib
                .prompt("prompts/en/tone-1khz", rate)
                .await
                .expect("prompt");
            let mut frame = vec![0i16; frame_len(rate)];
            let mut frames = 0;
            while s.read_frame(&mut frame) {
                frames += 1;
            }
            assert_eq!(frames, 100, "2 s of tone at {rate} Hz");
        }
        assert!(matches!(
            lib.prompt("prompts/en/no-such-prompt", 8000).await,
            Err(PlaybackError::NotFound { .. })
        ));
    }

    #[tokio::test]
    async fn moh_and_tones_end_after_their_seconds() {
        let lib = library();
        let mut moh = lib.moh("default", 1, 8000).await.expect("moh");
        let mut frame = vec![0i16; 160];
        let mut n = 0;
        while moh.read_frame(&mut frame) {
            n += 1;
        }
        assert_eq!(n, 50);
        assert!(lib.moh("no-such-class", 1, 8000).await.is_err());
        let mut t = MediaLibrary::tone(ToneKind::Busy, ToneRegion::Us, 2, 8000).expect("tone");
        let mut n = 0;
        while t.read_frame(&mut frame) {
            n += 1;
        }
        assert_eq!(n, 100);
    }
}
