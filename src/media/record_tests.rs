//! Recorder tests: each one reads the file back with hound, as a player would.

use super::*;
use crate::media::test_util::{power_share, sine_at};

fn sine(freq: f64, rate: u32, level: f64, start: usize, len: usize) -> Vec<i16> {
    sine_at(freq, rate, level, start, len)
}

/// Reads a WAV back: (spec, left, right).
fn read_back(path: &Path) -> (WavSpec, Vec<i16>, Vec<i16>) {
    let mut reader = hound::WavReader::open(path).expect("open wav");
    let spec = reader.spec();
    let all: Vec<i16> = reader
        .samples::<i16>()
        .collect::<Result<_, _>>()
        .expect("samples");
    let left = all.iter().step_by(2).copied().collect();
    let right = all.iter().skip(1).step_by(2).copied().collect();
    (spec, left, right)
}

/// Writes `frames` frames of 440 Hz left / 1000 Hz right.
fn write_tones(rec: &mut Recorder, frames: usize) -> (Vec<i16>, Vec<i16>) {
    let (rate, n) = (rec.rate(), rec.frame_samples());
    let (mut left, mut right) = (Vec::new(), Vec::new());
    for f in 0..frames {
        let l = sine(440.0, rate, 0.5, f * n, n);
        let r = sine(1000.0, rate, 0.5, f * n, n);
        rec.write_frame(Some(&l), Some(&r)).expect("write frame");
        left.extend_from_slice(&l);
        right.extend_from_slice(&r);
    }
    (left, right)
}

#[test]
fn caller_is_left_and_callee_is_right() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("call.wav");
    let mut rec = Recorder::create(&path, 8000).expect("create");
    let (sent_left, sent_right) = write_tones(&mut rec, 50);
    rec.finish().expect("finish");

    let (spec, left, right) = read_back(&path);
    assert_eq!(spec.channels, 2);
    assert_eq!(spec.sample_rate, 8000);
    assert_eq!(spec.bits_per_sample, 16);
    assert_eq!(spec.sample_format, SampleFormat::Int);
    assert_eq!(left, sent_left, "left channel is the caller, bit for bit");
    assert_eq!(
        right, sent_right,
        "right channel is the callee, bit for bit"
    );

    let left_440 = power_share(&left, 8000, 440.0);
    let right_1k = power_share(&right, 8000, 1000.0);
    assert!(left_440 > 0.99, "left holds 440 Hz: {left_440}");
    assert!(right_1k > 0.99, "right holds 1000 Hz: {right_1k}");
    assert!(
        power_share(&left, 8000, 1000.0) < 0.01,
        "no callee on the left"
    );
    assert!(
        power_share(&right, 8000, 440.0) < 0.01,
        "no caller on the right"
    );
}

#[test]
fn missing_side_is_silence_and_channels_stay_aligned() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("gaps.wav");
    let mut rec = Recorder::create(&path, 8000).expect("create");
    let n = rec.frame_samples();
    let tone = sine(440.0, 8000, 0.5, 0, n);
    // Frame 0: both; 1: caller only; 2: callee only; 3: nothing; 4: both.
    let plan = [
        (true, true),
        (true, false),
        (false, true),
        (false, false),
        (true, true),
    ];
    for &(l, r) in &plan {
        rec.write_frame(l.then_some(&tone[..]), r.then_some(&tone[..]))
            .expect("write frame");
    }
    let info = rec.finish().expect("finish");
    assert_eq!(info.duration_ms, 100);

    let (_, left, right) = read_back(&path);
    assert_eq!(left.len(), plan.len() * n);
    assert_eq!(right.len(), plan.len() * n);
    for (f, &(l, r)) in plan.iter().enumerate() {
        let span = f * n..(f + 1) * n;
        let want = |present: bool| if present { tone.clone() } else { vec![0; n] };
        assert_eq!(left[span.clone()], want(l)[..], "left, frame {f}");
        assert_eq!(right[span], want(r)[..], "right, frame {f}");
    }
}

#[test]
fn info_matches_the_file() {
    for rate in [8000, 16000, 48000] {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("info.wav");
        let mut rec = Recorder::create(&path, rate).expect("create");
        write_tones(&mut rec, 150);
        assert_eq!(rec.duration_ms(), 3000);
        let info = rec.finish().expect("finish");

        assert_eq!(info.path, path);
        assert_eq!(info.rate, rate);
        assert_eq!(info.duration_ms, 3000);
        let on_disk = fs::metadata(&path).expect("metadata").len();
        assert_eq!(info.size_bytes, on_disk);
        let data = 3 * u64::from(rate) * 2 * 2;
        assert!(
            on_disk >= data + 44 && on_disk <= data + 100,
            "{rate}: {on_disk}"
        );

        let reader = hound::WavReader::open(&path).expect("open wav");
        assert_eq!(reader.spec().sample_rate, rate);
        let frames_read = u64::from(reader.duration());
        assert_eq!(frames_read * 1000 / u64::from(rate), info.duration_ms);
    }
}

#[test]
fn recording_killed_mid_call_is_still_playable() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("killed.wav");
    let mut rec = Recorder::create(&path, 8000).expect("create");
    // 3.4 s: three header updates, then 20 frames only in the buffer.
    let (sent_left, sent_right) = write_tones(&mut rec, 170);
    // No finish and no destructor: as if the process were killed here.
    std::mem::forget(rec);

    let mut reader = hound::WavReader::open(&path).expect("header is valid");
    let declared = reader.duration();
    let samples: Vec<i16> = reader
        .samples::<i16>()
        .collect::<Result<_, _>>()
        .expect("every declared sample is there");
    assert_eq!(samples.len(), declared as usize * 2);
    assert!(declared >= 2 * 8000, "kept {declared} frames, want >= 2 s");
    assert!(declared < 170 * 160, "the unflushed tail cannot be there");
    let n = declared as usize;
    let left: Vec<i16> = samples.iter().step_by(2).copied().collect();
    let right: Vec<i16> = samples.iter().skip(1).step_by(2).copied().collect();
    assert_eq!(left, sent_left[..n]);
    assert_eq!(right, sent_right[..n]);
}

#[test]
fn wrong_frame_length_is_refused_and_writes_nothing() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("bad.wav");
    let mut rec = Recorder::create(&path, 8000).expect("create");
    let good = vec![1000i16; 160];
    let short = vec![1000i16; 159];
    let long = vec![1000i16; 161];

    match rec.write_frame(Some(&short), Some(&good)) {
        Err(RecordError::FrameLength {
            side: Side::Left,
            got: 159,
            expected: 160,
        }) => {}
        other => panic!("short left frame: {other:?}"),
    }
    match rec.write_frame(None, Some(&long)) {
        Err(RecordError::FrameLength {
            side: Side::Right,
            got: 161,
            expected: 160,
        }) => {}
        other => panic!("long right frame: {other:?}"),
    }
    assert!(rec.write_frame(Some(&[]), None).is_err(), "empty frame");
    rec.write_frame(Some(&good), None).expect("good frame");
    let info = rec.finish().expect("finish");
    assert_eq!(info.duration_ms, 20, "only the good frame was written");
    let (_, left, right) = read_back(&path);
    assert_eq!(left, good);
    assert_eq!(right, vec![0; 160]);
}

#[test]
fn rates_without_whole_frames_are_refused() {
    let dir = tempfile::tempdir().expect("tempdir");
    for rate in [0, 8001, 44_110] {
        let path = dir.path().join(format!("r{rate}.wav"));
        assert!(matches!(
            Recorder::create(&path, rate),
            Err(RecordError::UnsupportedRate { rate: r }) if r == rate
        ));
        assert!(!path.exists(), "no file for a refused rate");
    }
}

#[test]
fn parent_folders_are_created() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("acct/2024/06/call.wav");
    let rec = Recorder::create(&path, 8000).expect("create");
    let info = rec.finish().expect("finish");
    assert_eq!(info.duration_ms, 0);
    assert!(path.is_file());
    let reader = hound::WavReader::open(&path).expect("empty recording is a valid WAV");
    assert_eq!(reader.duration(), 0);
}
