//! Tests of WAV loading: every supported format round-trips, every common
//! rate converts keeping the tone, and bad files are errors, not panics.

use super::*;
use crate::media::playback::test_util::{dominant_freq, goertzel};
use hound::{WavSpec, WavWriter};
use std::path::PathBuf;

/// Reference signal: a 440 Hz sine at half scale, as f64 in [-1, 1].
fn reference(rate: u32, len: usize) -> Vec<f64> {
    (0..len)
        .map(|n| 0.5 * (2.0 * std::f64::consts::PI * 440.0 * n as f64 / f64::from(rate)).sin())
        .collect()
}

/// Writes `signal` (mono, [-1, 1]) to a WAV of the given format; stereo
/// files carry the signal on the left and half of it on the right.
fn write_wav(
    path: &Path,
    rate: u32,
    format: SampleFormat,
    bits: u16,
    channels: u16,
    signal: &[f64],
) {
    let spec = WavSpec {
        channels,
        sample_rate: rate,
        bits_per_sample: bits,
        sample_format: format,
    };
    let mut w = WavWriter::create(path, spec).expect("create wav");
    for &v in signal {
        for ch in 0..channels {
            let v = if ch == 0 { v } else { v * 0.5 };
            match format {
                SampleFormat::Float => w.write_sample(v as f32).expect("write"),
                SampleFormat::Int => {
                    let full = f64::from(1u32 << (bits - 1));
                    let q = (v * full).round().clamp(-full, full - 1.0) as i32;
                    w.write_sample(q).expect("write");
                }
            }
        }
    }
    w.finalize().expect("finalize");
}

fn temp_path(dir: &tempfile::TempDir, name: &str) -> PathBuf {
    dir.path().join(name)
}

#[test]
fn every_format_round_trips_at_the_same_rate() {
    let dir = tempfile::tempdir().expect("tempdir");
    let rate = 16_000;
    let signal = reference(rate, 4000);
    let formats = [
        (SampleFormat::Int, 8u16, 260.0),
        (SampleFormat::Int, 16, 1.0),
        (SampleFormat::Int, 24, 1.0),
        (SampleFormat::Int, 32, 1.0),
        (SampleFormat::Float, 32, 1.0),
    ];
    for (format, bits, tolerance) in formats {
        for channels in [1u16, 2] {
            let path = temp_path(&dir, &format!("{format:?}-{bits}-{channels}.wav"));
            write_wav(&path, rate, format, bits, channels, &signal);
            let pcm = load_wav(&path, rate).expect("load");
            assert_eq!(pcm.len(), signal.len(), "{format:?} {bits} {channels}ch");
            // Stereo is down-mixed: (1 + 0.5) / 2 of the signal.
            let gain = if channels == 2 { 0.75 } else { 1.0 };
            for (i, (&got, &want)) in pcm.iter().zip(&signal).enumerate() {
                let want = want * gain * 32768.0;
                assert!(
                    (f64::from(got) - want).abs() <= tolerance,
                    "{format:?} {bits}-bit {channels}ch sample {i}: {got} vs {want:.1}"
                );
            }
        }
    }
}

#[test]
fn every_common_rate_converts_to_every_playback_rate() {
    let dir = tempfile::tempdir().expect("tempdir");
    for from in [8000, 11_025, 16_000, 22_050, 32_000, 44_100, 48_000] {
        let path = temp_path(&dir, &format!("{from}.wav"));
        let tone: Vec<f64> = (0..from as usize / 2)
            .map(|n| 0.5 * (2.0 * std::f64::consts::PI * 1000.0 * n as f64 / f64::from(from)).sin())
            .collect();
        write_wav(&path, from, SampleFormat::Int, 16, 1, &tone);
        for to in [8000, 16_000, 48_000] {
            let pcm = load_wav(&path, to).expect("load");
            let want = (tone.len() as u64 * u64::from(to)).div_ceil(u64::from(from));
            assert_eq!(pcm.len() as u64, want, "{from} -> {to}");
            let body = &pcm[pcm.len() / 10..pcm.len() * 9 / 10];
            let f = dominant_freq(body, to);
            assert!((f - 1000.0).abs() < 5.0, "{from} -> {to}: {f} Hz");
            let amp = goertzel(body, to, 1000.0) / 32768.0;
            assert!((amp - 0.5).abs() < 0.03, "{from} -> {to}: amplitude {amp}");
        }
    }
}

#[test]
fn missing_file_is_not_found() {
    let dir = tempfile::tempdir().expect("tempdir");
    let err = load_wav(&dir.path().join("nope.wav"), 8000).expect_err("missing");
    assert!(matches!(err, PlaybackError::NotFound { .. }), "{err}");
    let err = load_wav(dir.path(), 8000).expect_err("directory");
    assert!(!matches!(err, PlaybackError::NotFound { .. }), "{err}");
}

#[test]
fn garbage_and_empty_files_are_decode_errors() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut state = 0x1234_5678u32;
    let garbage: Vec<u8> = (0..4096)
        .map(|_| {
            state ^= state << 13;
            state ^= state >> 17;
            state ^= state << 5;
            state as u8
        })
        .collect();
    let cases: [(&str, &[u8]); 4] = [
        ("empty.wav", b""),
        ("garbage.wav", &garbage),
        ("text.wav", b"this is not a wav file at all, just text\n"),
        ("riff-only.wav", b"RIFF\x24\x00\x00\x00WAVE"),
    ];
    for (name, bytes) in cases {
        let path = temp_path(&dir, name);
        std::fs::write(&path, bytes).expect("write");
        let err = load_wav(&path, 8000).expect_err(name);
        assert!(matches!(err, PlaybackError::Decode { .. }), "{name}: {err}");
    }
}

#[test]
fn every_truncation_is_an_error_and_never_panics() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = temp_path(&dir, "full.wav");
    write_wav(&path, 8000, SampleFormat::Int, 16, 2, &reference(8000, 200));
    let full = std::fs::read(&path).expect("read");
    let cut_path = temp_path(&dir, "cut.wav");
    for cut in 0..full.len() {
        std::fs::write(&cut_path, &full[..cut]).expect("write");
        assert!(load_wav(&cut_path, 8000).is_err(), "cut at {cut} loaded");
    }
    // Flipping header bytes must not panic either.
    for i in 0..44.min(full.len()) {
        let mut bad = full.clone();
        bad[i] ^= 0xff;
        std::fs::write(&cut_path, &bad).expect("write");
        let _ = load_wav(&cut_path, 16_000);
    }
}

#[test]
fn unsupported_layouts_and_rates_are_errors() {
    let dir = tempfile::tempdir().expect("tempdir");
    let signal = reference(8000, 100);
    let path = temp_path(&dir, "three.wav");
    write_wav(&path, 8000, SampleFormat::Int, 16, 3, &signal);
    let err = load_wav(&path, 8000).expect_err("3 channels");
    assert!(
        matches!(err, PlaybackError::UnsupportedFormat { channels: 3, .. }),
        "{err}"
    );
    let path = temp_path(&dir, "slow.wav");
    write_wav(&path, 1000, SampleFormat::Int, 16, 1, &signal);
    let err = load_wav(&path, 8000).expect_err("1 kHz file");
    assert!(
        matches!(err, PlaybackError::UnsupportedRate { rate: 1000 }),
        "{err}"
    );
    let path = temp_path(&dir, "ok.wav");
    write_wav(&path, 8000, SampleFormat::Int, 16, 1, &signal);
    let err = load_wav(&path, 44_100).expect_err("44.1 kHz target");
    assert!(
        matches!(err, PlaybackError::UnsupportedRate { rate: 44_100 }),
        "{err}"
    );
}
