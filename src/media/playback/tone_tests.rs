//! Tests of the tone generators: cadence boundaries to the sample, the
//! frequencies heard, phase continuity across frames, and levels.

use super::*;
use crate::media::playback::test_util::{dominant_freq, drain, goertzel};

/// Checks on/off periods of `audio` to the sample: each burst has sound up
/// to its last samples, each pause is exact digital silence.
fn assert_cadence(audio: &[i16], on: usize, period: usize, what: &str) {
    let mut start = 0;
    while start + period <= audio.len() {
        let burst = &audio[start..start + on];
        let pause = &audio[start + on..start + period];
        assert!(
            burst[..20].iter().any(|&s| s != 0),
            "{what}: burst at {start} starts late"
        );
        assert!(
            burst[on - 20..].iter().any(|&s| s != 0),
            "{what}: burst at {start} ends early"
        );
        let loud = burst.chunks(80).filter(|c| c.iter().any(|&s| s != 0));
        assert_eq!(
            loud.count(),
            on.div_ceil(80),
            "{what}: gap in burst at {start}"
        );
        assert!(
            pause.iter().all(|&s| s == 0),
            "{what}: pause at {} not silent",
            start + on
        );
        start += period;
    }
    assert!(start >= 2 * period, "{what}: test covers too little audio");
}

#[test]
fn us_ringback_and_busy_cadence_and_frequencies() {
    for rate in [8000u32, 16_000, 48_000] {
        let r = rate as usize;
        let mut ring = Tone::ringback(ToneRegion::Us, rate).expect("ringback");
        assert_eq!(ring.cadence_samples(), (2 * r as u64, 6 * r as u64));
        let audio = drain(&mut ring, 13 * 50);
        assert_eq!(audio.len(), 13 * r, "ringback never finishes");
        assert_cadence(&audio, 2 * r, 6 * r, &format!("US ringback @ {rate}"));
        let burst = &audio[..2 * r];
        for f in [440.0, 480.0] {
            let a = goertzel(burst, rate, f);
            assert!(a > 4000.0, "ringback @ {rate}: {f} Hz at {a}");
        }
        assert!(goertzel(burst, rate, 620.0) < 100.0);

        let mut busy = Tone::busy(ToneRegion::Us, rate).expect("busy");
        let audio = drain(&mut busy, 3 * 50);
        assert_cadence(&audio, r / 2, r, &format!("US busy @ {rate}"));
        let burst = &audio[..r / 2];
        for f in [480.0, 620.0] {
            assert!(goertzel(burst, rate, f) > 4000.0, "busy @ {rate}: {f} Hz");
        }
        assert!(goertzel(burst, rate, 440.0) < 200.0);
    }
}

#[test]
fn europe_ringback_and_busy() {
    let rate = 8000;
    let mut ring = Tone::new(ToneKind::Ringback, ToneRegion::Europe, rate).expect("tone");
    let audio = drain(&mut ring, 11 * 50);
    assert_cadence(&audio, 8000, 40_000, "EU ringback");
    let f = dominant_freq(&audio[..8000], rate);
    assert!((f - 425.0).abs() < 1.0, "EU ringback at {f} Hz");
    let mut busy = Tone::busy(ToneRegion::Europe, rate).expect("busy");
    let audio = drain(&mut busy, 2 * 50);
    assert_cadence(&audio, 4000, 8000, "EU busy");
    assert_eq!(ToneRegion::default(), ToneRegion::Us);
}

#[test]
fn sine_is_phase_continuous_and_finishes_on_time() {
    for rate in [8000u32, 16_000, 48_000] {
        let mut tone = Tone::sine(1000.0, 1010, rate).expect("sine");
        let audio = drain(&mut tone, 1000);
        let len = 1010 * rate as usize / 1000;
        let frame = rate as usize / 50;
        assert_eq!(audio.len(), len.div_ceil(frame) * frame, "@ {rate}");
        assert!(audio[len..].iter().all(|&s| s == 0), "padding @ {rate}");
        let amp = 32767.0 * 10f64.powf(-0.5);
        for (n, &got) in audio[..len].iter().enumerate() {
            let want = amp * (TAU * 1000.0 * n as f64 / f64::from(rate)).sin();
            assert!(
                (f64::from(got) - want).abs() <= 1.0,
                "@ {rate} sample {n}: {got} vs {want:.1}"
            );
        }
        let f = dominant_freq(&audio[..len], rate);
        assert!((f - 1000.0).abs() < 0.5, "@ {rate}: {f} Hz");
        let mut out = vec![5i16; frame];
        assert!(!tone.read_frame(&mut out));
        assert!(out.iter().all(|&s| s == 0));
    }
}

#[test]
fn level_restart_and_bad_input() {
    let mut quiet = Tone::sine(400.0, 100, 8000)
        .expect("sine")
        .with_level_dbfs(-20.0);
    let audio = drain(&mut quiet, 10);
    let peak = audio.iter().map(|s| s.unsigned_abs()).max().unwrap_or(0);
    assert!((3250..=3280).contains(&peak), "peak {peak}");
    assert!(quiet.restart());
    assert_eq!(drain(&mut quiet, 10), audio);
    // Above Nyquist: silence rather than aliasing.
    let mut alias = Tone::sine(5000.0, 40, 8000).expect("sine");
    assert!(drain(&mut alias, 10).iter().all(|&s| s == 0));
    assert!(matches!(
        Tone::sine(1000.0, 10, 22_050),
        Err(PlaybackError::UnsupportedRate { rate: 22_050 })
    ));
    let mut zero = Tone::sine(1000.0, 0, 8000).expect("sine");
    assert!(drain(&mut zero, 3).is_empty());
}
