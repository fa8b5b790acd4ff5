//! Music on hold: a class is a folder `<media root>/moh/<class>/` of WAV
//! files, played in file-name order and looped forever ([`MohClass`],
//! [`moh_source`]).
//!
//! Owns the folder convention and class-name validation (a class name can
//! never escape the `moh` folder). It lists the folder when asked, reads
//! through [`PromptCache`] and holds no state between calls: adding a track
//! takes effect for the next caller put on hold.

use std::path::{Path, PathBuf};

use super::{Looping, PlaybackError, Playlist, Prompt, PromptCache, Source};

/// Sub-folder of the media root holding the classes.
pub const MOH_DIR: &str = "moh";

/// The class used when a caller names none.
pub const DEFAULT_CLASS: &str = "default";

/// One music-on-hold class: its name and its tracks in play order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MohClass {
    name: String,
    tracks: Vec<PathBuf>,
}

impl MohClass {
    /// Lists `<root>/moh/<class>/*.wav` (extension case-insensitive), sorted
    /// by file name. An unknown class or a folder without WAV files is an error.
    pub fn open(root: &Path, class: &str) -> Result<Self, PlaybackError> {
        if !valid_class_name(class) {
            return Err(PlaybackError::InvalidMohClass {
                class: class.to_owned(),
            });
        }
        let dir = root.join(MOH_DIR).join(class);
        let entries = std::fs::read_dir(&dir).map_err(|e| match e.kind() {
            std::io::ErrorKind::NotFound | std::io::ErrorKind::NotADirectory => {
                PlaybackError::UnknownMohClass {
                    class: class.to_owned(),
                    path: dir.clone(),
                }
            }
            _ => PlaybackError::io(&dir, e),
        })?;
        let mut tracks = Vec::new();
        for entry in entries {
            let path = entry.map_err(|e| PlaybackError::io(&dir, e))?.path();
            let is_wav = path
                .extension()
                .is_some_and(|ext| ext.eq_ignore_ascii_case("wav"));
            if is_wav && path.is_file() {
                tracks.push(path);
            }
        }
        if tracks.is_empty() {
            return Err(PlaybackError::EmptyMohClass {
                class: class.to_owned(),
                path: dir,
            });
        }
        tracks.sort_by(|a, b| a.file_name().cmp(&b.file_name()));
        Ok(Self {
            name: class.to_owned(),
            tracks,
        })
    }

    /// The class name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The tracks in play order.
    pub fn tracks(&self) -> &[PathBuf] {
        &self.tracks
    }

    /// A never-ending source playing the tracks in order at `rate`, loaded
    /// through `cache`. Any unreadable track fails the whole class.
    pub fn source(
        &self,
        cache: &PromptCache,
        rate: u32,
    ) -> Result<Looping<Playlist>, PlaybackError> {
        let mut playlist = Playlist::new(rate)?;
        for track in &self.tracks {
            let samples = cache.load(track, rate)?;
            playlist.push(Box::new(Prompt::new(samples, rate)?))?;
        }
        Ok(Looping::new(playlist))
    }
}

/// The music-on-hold source for `class` under the media `root` at `rate`.
pub fn moh_source(
    cache: &PromptCache,
    root: &Path,
    class: &str,
    rate: u32,
) -> Result<Box<dyn Source>, PlaybackError> {
    let source = MohClass::open(root, class)?.source(cache, rate)?;
    Ok(Box::new(source))
}

/// Class names are one path component of `[A-Za-z0-9_-]`, at most 64 bytes.
fn valid_class_name(class: &str) -> bool {
    !class.is_empty()
        && class.len() <= 64
        && class
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::media::playback::test_util::drain;
    use hound::{SampleFormat, WavSpec, WavWriter};

    /// A track of `frames` 20 ms frames at 8 kHz, every sample `value`.
    fn write_track(path: &Path, value: i16, frames: usize) {
        let spec = WavSpec {
            channels: 1,
            sample_rate: 8000,
            bits_per_sample: 16,
            sample_format: SampleFormat::Int,
        };
        let mut w = WavWriter::create(path, spec).expect("create");
        for _ in 0..frames * 160 {
            w.write_sample(value).expect("write");
        }
        w.finalize().expect("finalize");
    }

    fn media_root() -> tempfile::TempDir {
        let root = tempfile::tempdir().expect("tempdir");
        let class = root.path().join("moh").join("jazz");
        std::fs::create_dir_all(&class).expect("mkdir");
        // Created out of order; play order is by name.
        write_track(&class.join("20-second.wav"), 200, 2);
        write_track(&class.join("10-first.WAV"), 100, 1);
        write_track(&class.join("30-third.wav"), 300, 3);
        std::fs::write(class.join("notes.txt"), b"not audio").expect("write");
        std::fs::create_dir(class.join("sub.wav")).expect("mkdir");
        std::fs::create_dir_all(root.path().join("moh").join("empty")).expect("mkdir");
        root
    }

    #[test]
    fn plays_tracks_in_name_order_and_loops() {
        let root = media_root();
        let cache = PromptCache::new();
        let class = MohClass::open(root.path(), "jazz").expect("class");
        assert_eq!(class.name(), "jazz");
        let names: Vec<_> = class
            .tracks()
            .iter()
            .filter_map(|p| p.file_name()?.to_str())
            .collect();
        assert_eq!(names, ["10-first.WAV", "20-second.wav", "30-third.wav"]);

        let mut moh = moh_source(&cache, root.path(), "jazz", 8000).expect("moh");
        assert_eq!(moh.rate(), 8000);
        let audio = drain(&mut moh, 18);
        assert_eq!(audio.len(), 18 * 160, "music on hold never ends");
        let per_frame: Vec<i16> = audio.chunks(160).map(|f| f[0]).collect();
        let pass = [100, 200, 200, 300, 300, 300];
        assert_eq!(per_frame, [pass, pass, pass].concat());
        assert_eq!(cache.len(), 3);

        let wide = moh_source(&cache, root.path(), "jazz", 16_000).expect("16k");
        assert_eq!(wide.rate(), 16_000);
    }

    #[test]
    fn unknown_empty_and_invalid_classes_are_errors() {
        let root = media_root();
        let cache = PromptCache::new();
        let err = moh_source(&cache, root.path(), "polka", 8000).err();
        assert!(
            matches!(err, Some(PlaybackError::UnknownMohClass { .. })),
            "{err:?}"
        );
        let err = moh_source(&cache, root.path(), "empty", 8000).err();
        assert!(
            matches!(err, Some(PlaybackError::EmptyMohClass { .. })),
            "{err:?}"
        );
        for bad in ["", "..", "../moh/jazz", "jazz/", "a b", "jazz\0"] {
            let err = moh_source(&cache, root.path(), bad, 8000).err();
            assert!(
                matches!(err, Some(PlaybackError::InvalidMohClass { .. })),
                "{bad:?}: {err:?}"
            );
        }
        let class_file = root.path().join("moh").join("file");
        std::fs::write(&class_file, b"x").expect("write");
        let err = moh_source(&cache, root.path(), "file", 8000).err();
        assert!(
            matches!(err, Some(PlaybackError::UnknownMohClass { .. })),
            "{err:?}"
        );
    }

    #[test]
    fn a_broken_track_fails_the_class() {
        let root = media_root();
        let class = root.path().join("moh").join("jazz");
        std::fs::write(class.join("40-broken.wav"), b"RIFF junk").expect("write");
        let err = moh_source(&PromptCache::new(), root.path(), "jazz", 8000).err();
        assert!(matches!(err, Some(PlaybackError::Decode { .. })), "{err:?}");
    }
}
