//! Text-to-speech through `espeak-ng`: [`Tts::render`] turns text into a WAV
//! file cached under `<data_dir>/tts/<sha256(voice NUL text)>.wav`, which
//! then plays like any prompt (through [`super::PromptCache`]).
//!
//! Owns the cache naming and the engine invocation. The text is one process
//! argument after `--` — never a shell string, never an option — and is
//! length-limited; voice names are checked against `[A-Za-z0-9+_-]`. Renders
//! write a temporary file and rename it into place, so concurrent renders of
//! the same text are safe and a reader never sees half a file. It does not
//! time out by itself (wrap `render` in a timeout; the child is killed when
//! the future is dropped) and never evicts cached files.

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::atomic::{AtomicU64, Ordering};

use sha2::{Digest, Sha256};
use tokio::process::Command;

use super::PlaybackError;

/// Longest text accepted, in characters.
pub const MAX_TEXT_CHARS: usize = 2000;

/// Longest voice name accepted, in bytes.
const MAX_VOICE_LEN: usize = 64;

/// Most of the engine's stderr kept in an error.
const MAX_STDERR: usize = 512;

/// Distinguishes temporary files of concurrent renders in one process.
static RENDER_SEQ: AtomicU64 = AtomicU64::new(0);

/// Text-to-speech renderer with an on-disk cache.
#[derive(Debug, Clone)]
pub struct Tts {
    /// Switch data folder; renders go to its `tts` sub-folder.
    pub data_dir: PathBuf,
    /// Voice used when `render` is given none (an espeak-ng voice name).
    pub voice: String,
    /// The engine binary, `espeak-ng` from `PATH` by default.
    pub program: PathBuf,
}

impl Tts {
    /// Default voice.
    pub const DEFAULT_VOICE: &'static str = "en-us";

    /// A renderer caching under `data_dir/tts`, with the default voice.
    pub fn new(data_dir: impl Into<PathBuf>) -> Self {
        Self {
            data_dir: data_dir.into(),
            voice: Self::DEFAULT_VOICE.to_owned(),
            program: PathBuf::from("espeak-ng"),
        }
    }

    /// Where the render of `text` in `voice` is (or would be) cached.
    pub fn cache_path(&self, text: &str, voice: &str) -> PathBuf {
        let mut hasher = Sha256::new();
        hasher.update(voice.as_bytes());
        hasher.update([0u8]);
        hasher.update(text.as_bytes());
        let name = format!("{}.wav", hex::encode(hasher.finalize()));
        self.data_dir.join("tts").join(name)
    }

    /// Renders `text` in `voice` (default [`Self::voice`]) and returns the
    /// path of the cached WAV; a cached render is returned without running
    /// the engine.
    pub async fn render(&self, text: &str, voice: Option<&str>) -> Result<PathBuf, PlaybackError> {
        let voice = voice.unwrap_or(&self.voice);
        validate_voice(voice)?;
        let text = validate_text(text)?;
        let path = self.cache_path(text, voice);
        if is_nonempty_file(&path).await {
            return Ok(path);
        }
        let dir = self.data_dir.join("tts");
        tokio::fs::create_dir_all(&dir)
            .await
            .map_err(|e| PlaybackError::io(&dir, e))?;
        let tmp = dir.join(format!(
            ".render-{}-{}.wav.tmp",
            std::process::id(),
            RENDER_SEQ.fetch_add(1, Ordering::Relaxed)
        ));
        let result = self.run_engine(text, voice, &tmp).await;
        let result = match result {
            Ok(()) => tokio::fs::rename(&tmp, &path)
                .await
                .map_err(|e| PlaybackError::io(&path, e)),
            Err(e) => Err(e),
        };
        if result.is_err() {
            // Best effort: the temporary file may not exist.
            let _ = tokio::fs::remove_file(&tmp).await;
        }
        result.map(|()| path)
    }

    /// Runs the engine writing `out`, and checks it wrote a WAV with audio.
    async fn run_engine(&self, text: &str, voice: &str, out: &Path) -> Result<(), PlaybackError> {
        let output = Command::new(&self.program)
            .arg("-v")
            .arg(voice)
            .arg("-w")
            .arg(out)
            .arg("--")
            .arg(text)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .kill_on_drop(true)
            .output()
            .await
            .map_err(|source| PlaybackError::TtsSpawn {
                program: self.program.clone(),
                source,
            })?;
        let stderr = String::from_utf8_lossy(&output.stderr);
        let stderr: String = stderr.trim().chars().take(MAX_STDERR).collect();
        if !output.status.success() {
            return Err(PlaybackError::TtsFailed {
                status: output.status.to_string(),
                stderr,
            });
        }
        // espeak-ng reports some failures on stderr with status 0, so the
        // file itself is the proof: a valid WAV with at least one sample.
        let written = hound::WavReader::open(out).map(|r| r.duration());
        match written {
            Ok(samples) if samples > 0 => Ok(()),
            _ => Err(PlaybackError::TtsFailed {
                status: "no audio written".to_owned(),
                stderr,
            }),
        }
    }
}

/// Checks a voice name: 1–64 characters of `[A-Za-z0-9+_-]`, not starting
/// with `-` (so it cannot read as an option).
fn validate_voice(voice: &str) -> Result<(), PlaybackError> {
    let ok = !voice.is_empty()
        && voice.len() <= MAX_VOICE_LEN
        && !voice.starts_with('-')
        && voice
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'+' | b'_' | b'-'));
    if ok {
        Ok(())
    } else {
        Err(PlaybackError::InvalidVoice {
            voice: voice.chars().take(MAX_VOICE_LEN).collect(),
        })
    }
}

/// Trims the text and checks it is non-empty, within the limit and free of
/// NUL (which no process argument can carry).
fn validate_text(text: &str) -> Result<&str, PlaybackError> {
    let len = text.chars().count();
    if len > MAX_TEXT_CHARS {
        return Err(PlaybackError::TextTooLong {
            len,
            max: MAX_TEXT_CHARS,
        });
    }
    let text = text.trim();
    if text.is_empty() {
        return Err(PlaybackError::EmptyText);
    }
    if text.contains('\0') {
        return Err(PlaybackError::TextHasNul);
    }
    Ok(text)
}

async fn is_nonempty_file(path: &Path) -> bool {
    tokio::fs::metadata(path)
        .await
        .is_ok_and(|m| m.is_file() && m.len() > 0)
}

#[cfg(test)]
#[path = "tts_tests.rs"]
mod tests;
