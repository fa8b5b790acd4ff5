//! [`PromptCache`]: loaded prompts shared by every call that plays them, keyed
//! by canonical file path and playback rate, so a prompt is decoded and
//! converted once per rate and then handed out as a cheap `Arc<[i16]>`.
//!
//! Thread-safe: the map lock is held only to find a key's slot; loading
//! happens under that slot's own lock, so two calls wanting the same prompt
//! load it once while other prompts load in parallel. Loading reads files
//! synchronously — async callers use `spawn_blocking`. Failed loads are not
//! cached (the file may be fixed); nothing is evicted unless asked.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, PoisonError};

use super::{check_rate, load_wav, PlaybackError};

type Slot = Arc<Mutex<Option<Arc<[i16]>>>>;

/// Shared cache of decoded prompts; clone the `Arc` around it to share.
#[derive(Debug, Default)]
pub struct PromptCache {
    slots: Mutex<HashMap<(PathBuf, u32), Slot>>,
}

impl PromptCache {
    /// An empty cache.
    pub fn new() -> Self {
        Self::default()
    }

    /// The samples of the WAV at `path` as mono PCM at `rate`, loading it on
    /// first use.
    pub fn load(&self, path: &Path, rate: u32) -> Result<Arc<[i16]>, PlaybackError> {
        check_rate(rate)?;
        let canonical = path
            .canonicalize()
            .map_err(|e| PlaybackError::io(path, e))?;
        let slot = {
            let mut slots = self.slots.lock().unwrap_or_else(PoisonError::into_inner);
            Arc::clone(slots.entry((canonical.clone(), rate)).or_default())
        };
        // A panic while loading leaves the slot empty; the next caller retries.
        let mut entry = slot.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some(samples) = entry.as_ref() {
            return Ok(Arc::clone(samples));
        }
        let samples: Arc<[i16]> = load_wav(&canonical, rate)?.into();
        *entry = Some(Arc::clone(&samples));
        Ok(samples)
    }

    /// Number of prompts held (per path and rate).
    pub fn len(&self) -> usize {
        let slots = self.slots.lock().unwrap_or_else(PoisonError::into_inner);
        slots
            .values()
            .filter(|slot| {
                slot.lock()
                    .unwrap_or_else(PoisonError::into_inner)
                    .is_some()
            })
            .count()
    }

    /// Whether no prompt is held.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Forgets every prompt (e.g. after the media folder changed). Sources
    /// already playing keep their samples.
    pub fn clear(&self) {
        self.slots
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clear();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use hound::{SampleFormat, WavSpec, WavWriter};

    fn write_ramp(path: &Path, rate: u32, len: usize) {
        let spec = WavSpec {
            channels: 1,
            sample_rate: rate,
            bits_per_sample: 16,
            sample_format: SampleFormat::Int,
        };
        let mut w = WavWriter::create(path, spec).expect("create");
        for i in 0..len {
            w.write_sample((i % 1000) as i16).expect("write");
        }
        w.finalize().expect("finalize");
    }

    #[test]
    fn loads_once_then_shares() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("p.wav");
        write_ramp(&path, 8000, 800);
        let cache = PromptCache::new();
        let a = cache.load(&path, 8000).expect("load");
        assert_eq!(a.len(), 800);
        // Same file by another spelling of its path: same samples.
        let other = dir.path().join(".").join("p.wav");
        let b = cache.load(&other, 8000).expect("load again");
        assert!(Arc::ptr_eq(&a, &b));
        // Even after the file changes on disk, the cached copy is served.
        write_ramp(&path, 8000, 10);
        let c = cache.load(&path, 8000).expect("cached");
        assert!(Arc::ptr_eq(&a, &c));
        // Another rate is another entry.
        let wide = cache.load(&path, 16_000).expect("16k");
        assert_eq!(wide.len(), 20);
        assert_eq!(cache.len(), 2);
        cache.clear();
        assert!(cache.is_empty());
        assert_eq!(cache.load(&path, 8000).expect("reload").len(), 10);
    }

    #[test]
    fn concurrent_loads_share_one_copy() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("p.wav");
        write_ramp(&path, 44_100, 44_100);
        let cache = Arc::new(PromptCache::new());
        let handles: Vec<_> = (0..4)
            .map(|_| {
                let (cache, path) = (Arc::clone(&cache), path.clone());
                std::thread::spawn(move || cache.load(&path, 8000).expect("load"))
            })
            .collect();
        let loaded: Vec<Arc<[i16]>> = handles
            .into_iter()
            .map(|h| h.join().expect("thread"))
            .collect();
        assert_eq!(loaded[0].len(), 8000);
        assert!(loaded.iter().all(|s| Arc::ptr_eq(s, &loaded[0])));
        assert_eq!(cache.len(), 1);
    }

    #[test]
    fn errors_are_not_cached() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("later.wav");
        let cache = PromptCache::new();
        assert!(matches!(
            cache.load(&path, 8000),
            Err(PlaybackError::NotFound { .. })
        ));
        std::fs::write(&path, b"junk").expect("write");
        assert!(matches!(
            cache.load(&path, 8000),
            Err(PlaybackError::Decode { .. })
        ));
        write_ramp(&path, 8000, 160);
        assert_eq!(cache.load(&path, 8000).expect("now valid").len(), 160);
        assert!(matches!(
            cache.load(&path, 11_025),
            Err(PlaybackError::UnsupportedRate { rate: 11_025 })
        ));
    }
}
