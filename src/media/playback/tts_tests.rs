//! Tests of text-to-speech. They run the real `espeak-ng` (installed on dev
//! machines and in CI); cache hits are proved with an engine path that does
//! not exist, so running it would fail.

use super::*;
use crate::media::playback::test_util::rms;
use crate::media::playback::{decode_wav, load_wav};

/// A renderer whose engine cannot be started.
fn no_engine(data_dir: &Path) -> Tts {
    Tts {
        program: PathBuf::from("/nonexistent/espeak-ng"),
        ..Tts::new(data_dir)
    }
}

/// Files in `<data_dir>/tts`, sorted.
fn tts_files(data_dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(data_dir.join("tts"))
        .map(|rd| {
            rd.filter_map(|e| e.ok()?.file_name().into_string().ok())
                .collect()
        })
        .unwrap_or_default();
    names.sort();
    names
}

#[tokio::test]
async fn renders_real_speech_then_serves_the_cache() {
    let dir = tempfile::tempdir().expect("tempdir");
    let tts = Tts::new(dir.path());
    let text = "Your call is important to us.";
    let path = tts.render(text, None).await.expect("render");
    assert_eq!(path, tts.cache_path(text, "en-us"));
    assert_eq!(path.parent(), Some(dir.path().join("tts").as_path()));
    let stem = path.file_stem().and_then(|s| s.to_str()).unwrap_or("");
    assert_eq!(stem.len(), 64, "sha256 hex name");
    assert!(stem.bytes().all(|b| b.is_ascii_hexdigit()));

    let wav = decode_wav(&path).expect("decode render");
    let seconds = wav.samples.len() as f64 / f64::from(wav.rate);
    assert!(seconds > 0.3, "speech of {seconds:.2} s");
    let pcm = load_wav(&path, 8000).expect("load at 8 kHz");
    let level = 20.0 * (rms(&pcm) / 32768.0).log10();
    assert!(level > -40.0, "speech level {level:.1} dBFS");

    // Second call: a hit, the file untouched, the engine not needed at all.
    let mtime = std::fs::metadata(&path)
        .and_then(|m| m.modified())
        .expect("mtime");
    let again = tts.render(text, Some("en-us")).await.expect("hit");
    assert_eq!(again, path);
    let offline = no_engine(dir.path());
    assert_eq!(offline.render(text, None).await.expect("hit offline"), path);
    let mtime2 = std::fs::metadata(&path)
        .and_then(|m| m.modified())
        .expect("mtime");
    assert_eq!(mtime, mtime2);
    // Surrounding blanks do not make another render.
    let padded = format!("  {text}\n");
    assert_eq!(
        offline.render(&padded, None).await.expect("trimmed hit"),
        path
    );
    assert_eq!(tts_files(dir.path()).len(), 1, "no temporary files left");
}

#[tokio::test]
async fn voice_is_part_of_the_key_and_unknown_voices_fail_cleanly() {
    let dir = tempfile::tempdir().expect("tempdir");
    let tts = Tts::new(dir.path());
    let us = tts.render("Thank you.", None).await.expect("en-us");
    let gb = tts
        .render("Thank you.", Some("en-gb"))
        .await
        .expect("en-gb");
    assert_ne!(us, gb);
    assert_ne!(tts.cache_path("a", "b\0c"), tts.cache_path("a\0b", "c"));
    let err = tts
        .render("Thank you.", Some("zz-no-such-voice"))
        .await
        .expect_err("unknown voice");
    assert!(matches!(err, PlaybackError::TtsFailed { .. }), "{err}");
    assert_eq!(tts_files(dir.path()).len(), 2, "failed render left a file");
}

#[tokio::test]
async fn bad_voice_names_and_texts_are_rejected_before_running() {
    let dir = tempfile::tempdir().expect("tempdir");
    let tts = no_engine(dir.path());
    let long_voice = "a".repeat(65);
    for voice in [
        "",
        "en us",
        "../en",
        "en;rm",
        "-w",
        "en/us",
        "ünï",
        &long_voice,
    ] {
        let err = tts.render("hello", Some(voice)).await.expect_err(voice);
        assert!(
            matches!(err, PlaybackError::InvalidVoice { .. }),
            "{voice:?}: {err}"
        );
    }
    let bad_default = Tts {
        voice: "en us".to_owned(),
        ..no_engine(dir.path())
    };
    let err = bad_default
        .render("hello", None)
        .await
        .expect_err("default");
    assert!(matches!(err, PlaybackError::InvalidVoice { .. }), "{err}");

    let long = "a".repeat(MAX_TEXT_CHARS + 1);
    let err = tts.render(&long, None).await.expect_err("long");
    assert!(
        matches!(
            err,
            PlaybackError::TextTooLong {
                len: 2001,
                max: 2000
            }
        ),
        "{err}"
    );
    for text in ["", "   \n\t"] {
        let err = tts.render(text, None).await.expect_err("empty");
        assert!(matches!(err, PlaybackError::EmptyText), "{err}");
    }
    let err = tts.render("a\0b", None).await.expect_err("nul");
    assert!(matches!(err, PlaybackError::TextHasNul), "{err}");
    // Valid input with no engine: the spawn error names the program.
    let err = tts.render("hello", None).await.expect_err("no engine");
    assert!(matches!(err, PlaybackError::TtsSpawn { .. }), "{err}");
    assert!(tts_files(dir.path()).is_empty());
}

#[tokio::test]
async fn text_that_looks_like_options_is_spoken_not_obeyed() {
    let dir = tempfile::tempdir().expect("tempdir");
    let tts = Tts::new(dir.path());
    let evil = dir.path().join("evil.wav");
    let text = format!("-w {} --stdout", evil.display());
    let path = tts.render(&text, None).await.expect("render");
    assert!(!evil.exists(), "text was taken as an option");
    assert!(decode_wav(&path).expect("decode").samples.len() > 1000);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_renders_of_one_text_agree() {
    let dir = tempfile::tempdir().expect("tempdir");
    let tts = Tts::new(dir.path());
    let mut set = tokio::task::JoinSet::new();
    for _ in 0..4 {
        let tts = tts.clone();
        set.spawn(async move { tts.render("Please hold.", None).await });
    }
    let results = set.join_all().await;
    let first = results[0].as_ref().expect("render").clone();
    for r in &results {
        assert_eq!(r.as_ref().expect("render"), &first);
    }
    assert!(decode_wav(&first).expect("decode").samples.len() > 1000);
    assert_eq!(tts_files(dir.path()).len(), 1, "no temporary files left");
}
