//! Tests of the basic sources: frame counts, padding, hand-over between
//! playlist items, looping, silence and the comfort-noise level.

use super::*;
use crate::media::playback::test_util::{drain, rms};

fn ramp(len: usize) -> Arc<[i16]> {
    (1..=len as i16).collect::<Vec<_>>().into()
}

#[test]
fn prompt_plays_once_and_pads_the_last_frame() {
    let mut p = Prompt::new(ramp(400), 8000).expect("prompt");
    assert_eq!(p.frames(), 3);
    let mut frame = [7i16; 160];
    assert!(p.read_frame(&mut frame));
    assert_eq!(frame[0], 1);
    assert!(p.read_frame(&mut frame));
    assert_eq!(frame[0], 161);
    assert!(p.read_frame(&mut frame));
    assert_eq!(&frame[..80], &ramp(400)[320..]);
    assert!(frame[80..].iter().all(|&s| s == 0), "padding not silent");
    assert!(!p.read_frame(&mut frame));
    assert!(frame.iter().all(|&s| s == 0));
    assert!(!p.read_frame(&mut frame), "finished prompt stays finished");
}

#[test]
fn prompt_of_whole_frames_and_empty_prompt() {
    let mut p = Prompt::new(ramp(320), 8000).expect("prompt");
    assert_eq!(drain(&mut p, 100).len(), 320);
    let mut empty = Prompt::new(Arc::from(Vec::new()), 16_000).expect("prompt");
    assert_eq!(empty.frames(), 0);
    assert!(drain(&mut empty, 10).is_empty());
    assert!(matches!(
        Prompt::new(ramp(10), 44_100),
        Err(PlaybackError::UnsupportedRate { rate: 44_100 })
    ));
}

#[test]
fn playlist_plays_items_back_to_back() {
    let mut list = Playlist::new(8000)
        .expect("playlist")
        .with(Prompt::new(ramp(200), 8000).expect("a"))
        .expect("push a")
        .with(Silence::frames(8000, 2).expect("silence"))
        .expect("push silence")
        .with(Prompt::new(ramp(160), 8000).expect("b"))
        .expect("push b");
    assert_eq!(list.len(), 3);
    let audio = drain(&mut list, 100);
    // 2 frames (200 padded to 320) + 2 silent frames + 1 frame.
    assert_eq!(audio.len(), 5 * 160);
    assert_eq!(&audio[..200], &ramp(200)[..]);
    assert!(audio[200..640].iter().all(|&s| s == 0));
    assert_eq!(&audio[640..], &ramp(160)[..]);
    let mut frame = [1i16; 160];
    assert!(!list.read_frame(&mut frame));
}

#[test]
fn playlist_skips_empty_items_and_rejects_other_rates() {
    let mut list = Playlist::new(16_000).expect("playlist");
    list.push(Box::new(
        Prompt::new(Arc::from(Vec::new()), 16_000).expect("e"),
    ))
    .expect("push");
    list.push(Box::new(Prompt::new(ramp(320), 16_000).expect("p")))
        .expect("push");
    assert_eq!(drain(&mut list, 10).len(), 320);
    let err = list
        .push(Box::new(Silence::forever(8000).expect("s")))
        .expect_err("rate mismatch");
    assert!(matches!(
        err,
        PlaybackError::RateMismatch {
            expected: 16_000,
            got: 8000
        }
    ));
    assert!(drain(&mut Playlist::new(8000).expect("empty"), 10).is_empty());
}

#[test]
fn looping_restarts_the_playlist_forever() {
    let list = Playlist::new(8000)
        .expect("playlist")
        .with(Prompt::new(ramp(240), 8000).expect("a"))
        .expect("a")
        .with(Prompt::new(Arc::from(vec![-5i16; 160]), 8000).expect("b"))
        .expect("b");
    let mut moh = Looping::new(list);
    // One pass is 3 frames: a (2, padded) then b (1).
    let audio = drain(&mut moh, 30);
    assert_eq!(audio.len(), 30 * 160, "looping must never finish");
    for pass in audio.chunks(480) {
        assert_eq!(&pass[..240], &ramp(240)[..]);
        assert!(pass[240..320].iter().all(|&s| s == 0));
        assert!(pass[320..].iter().all(|&s| s == -5));
    }
    assert_eq!(moh.loops(), 9);
}

#[test]
fn looping_an_empty_playlist_is_silence_and_unrestartable_source_ends() {
    let mut moh = Looping::new(Playlist::new(8000).expect("playlist"));
    let audio = drain(&mut moh, 5);
    assert_eq!(audio.len(), 5 * 160);
    assert!(audio.iter().all(|&s| s == 0));

    struct Once(bool);
    impl Source for Once {
        fn rate(&self) -> u32 {
            8000
        }
        fn read_frame(&mut self, out: &mut [i16]) -> bool {
            out.fill(0);
            std::mem::replace(&mut self.0, false)
        }
    }
    let mut once = Looping::new(Once(true));
    assert_eq!(drain(&mut once, 5).len(), 160);
}

#[test]
fn silence_counts_frames_or_runs_forever() {
    let mut s = Silence::frames(48_000, 3).expect("silence");
    let audio = drain(&mut s, 10);
    assert_eq!(audio.len(), 3 * 960);
    assert!(audio.iter().all(|&v| v == 0));
    assert!(s.restart());
    assert_eq!(drain(&mut s, 10).len(), 3 * 960);
    let mut f = Silence::forever(8000).expect("forever");
    assert_eq!(drain(&mut f, 500).len(), 500 * 160);
    assert_eq!(
        drain(&mut Silence::frames(8000, 0).expect("zero"), 5).len(),
        0
    );
}

#[test]
fn comfort_noise_is_quiet_not_silent_and_deterministic() {
    let mut cn = ComfortNoise::new(8000).expect("noise");
    let audio = drain(&mut cn, 250);
    assert_eq!(audio.len(), 250 * 160);
    let dbfs = 20.0 * (rms(&audio) / 32768.0).log10();
    assert!((-62.0..=-58.0).contains(&dbfs), "level {dbfs:.1} dBFS");
    let peak = audio.iter().map(|s| s.unsigned_abs()).max().unwrap_or(0);
    assert!(peak <= 60, "peak {peak}");
    let mean = audio.iter().map(|&s| f64::from(s)).sum::<f64>() / audio.len() as f64;
    assert!(mean.abs() < 1.0, "DC offset {mean}");
    let again = drain(&mut ComfortNoise::new(8000).expect("noise"), 250);
    assert_eq!(audio, again, "same seed, same noise");
    let other = drain(&mut ComfortNoise::new(8000).expect("n").seeded(7), 250);
    assert_ne!(audio, other);
    let louder = drain(&mut ComfortNoise::with_level(16_000, -40.0).expect("n"), 50);
    let dbfs = 20.0 * (rms(&louder) / 32768.0).log10();
    assert!((-41.0..=-39.0).contains(&dbfs), "level {dbfs:.1} dBFS");
}
