//! Mixer tests: each party sends its own tone, and what every party hears is
//! checked tone by tone, as a listener would notice it.

use super::*;
use crate::media::test_util::{goertzel_amplitude, sine_at};

/// Tones per party; all whole cycles in 20 ms, so frames join without clicks
/// and each sits in its own DFT bin.
const TONES: [f64; 3] = [300.0, 700.0, 1100.0];
const LEVEL: f64 = 0.25;
const TICKS: usize = 10;

fn sine(freq: f64, rate: u32, level: f64, len: usize) -> Vec<i16> {
    sine_at(freq, rate, level, 0, len)
}

/// Peak amplitude of the `freq` component of `x`, as a share of full scale.
fn amplitude(x: &[i16], rate: u32, freq: f64) -> f64 {
    goertzel_amplitude(x, rate, freq) / 32767.0
}

/// Which of the three tones `heard` holds: present ones at about `LEVEL`,
/// absent ones far below. Panics on anything in between.
fn tones_in(heard: &[i16], rate: u32) -> [bool; 3] {
    TONES.map(|f| {
        let a = amplitude(heard, rate, f);
        if a > 0.9 * LEVEL && a < 1.1 * LEVEL {
            true
        } else if a < 0.01 * LEVEL {
            false
        } else {
            panic!("{f} Hz at {a}, neither present nor absent")
        }
    })
}

/// A mixer with three parties, each sending one of `TONES`.
struct Conference {
    mixer: Mixer,
    ids: [PartyId; 3],
    frames: [Vec<i16>; 3],
}

impl Conference {
    fn new(rate: u32) -> Self {
        let mut mixer = Mixer::new(rate).expect("mixer");
        let ids = [mixer.add_party(), mixer.add_party(), mixer.add_party()];
        let n = mixer.frame_samples();
        let frames = TONES.map(|f| sine(f, rate, LEVEL, n));
        Self { mixer, ids, frames }
    }

    /// Runs `TICKS` ticks with every party talking; returns what each heard.
    fn run(&mut self) -> [Vec<i16>; 3] {
        let mut heard: [Vec<i16>; 3] = Default::default();
        for _ in 0..TICKS {
            for (id, frame) in self.ids.iter().zip(&self.frames) {
                self.mixer.push(*id, frame).expect("push");
            }
            self.mixer.mix();
            for (id, out) in self.ids.iter().zip(&mut heard) {
                out.extend_from_slice(self.mixer.output(*id).expect("output"));
            }
        }
        heard
    }

    /// Asserts who hears whom: `want[listener]` lists the tones it hears.
    fn assert_hears(&mut self, want: [[bool; 3]; 3], case: &str) {
        let rate = self.mixer.rate();
        let heard = self.run();
        for (i, h) in heard.iter().enumerate() {
            assert_eq!(tones_in(h, rate), want[i], "{case}: party {i} hears");
        }
    }
}

#[test]
fn each_party_hears_the_others_and_not_itself() {
    for rate in [8000, 16000, 48000] {
        let mut c = Conference::new(rate);
        c.assert_hears(
            [
                [false, true, true],
                [true, false, true],
                [true, true, false],
            ],
            &format!("{rate} Hz"),
        );
    }
}

#[test]
fn muted_party_is_heard_by_nobody_but_hears_everyone() {
    // Listen: the supervisor (party 2) is muted.
    let mut c = Conference::new(8000);
    c.mixer.set_muted(c.ids[2], true).expect("mute");
    c.assert_hears(
        [
            [false, true, false],
            [true, false, false],
            [true, true, false],
        ],
        "muted",
    );
    c.mixer.set_muted(c.ids[2], false).expect("unmute");
    c.assert_hears(
        [
            [false, true, true],
            [true, false, true],
            [true, true, false],
        ],
        "unmuted",
    );
}

#[test]
fn whisper_reaches_the_agent_only() {
    let mut c = Conference::new(8000);
    let [agent, _caller, supervisor] = c.ids;
    c.mixer
        .set_whisper(supervisor, Some(agent))
        .expect("whisper");
    // Agent hears caller + supervisor; caller hears the agent only;
    // supervisor hears both.
    c.assert_hears(
        [
            [false, true, true],
            [true, false, false],
            [true, true, false],
        ],
        "whisper",
    );
    // Muting wins over whispering.
    c.mixer.set_muted(supervisor, true).expect("mute");
    c.assert_hears(
        [
            [false, true, false],
            [true, false, false],
            [true, true, false],
        ],
        "muted whisperer",
    );
    // Barge: back to an ordinary party.
    c.mixer.set_muted(supervisor, false).expect("unmute");
    c.mixer.set_whisper(supervisor, None).expect("barge");
    c.assert_hears(
        [
            [false, true, true],
            [true, false, true],
            [true, true, false],
        ],
        "barge",
    );
}

#[test]
fn whisper_to_a_departed_party_is_heard_by_nobody() {
    let mut c = Conference::new(8000);
    let [agent, caller, supervisor] = c.ids;
    c.mixer
        .set_whisper(supervisor, Some(agent))
        .expect("whisper");
    c.mixer.remove_party(agent).expect("remove");
    c.mixer.push(caller, &c.frames[1]).expect("push");
    c.mixer.push(supervisor, &c.frames[2]).expect("push");
    c.mixer.mix();
    let heard = c.mixer.output(caller).expect("caller");
    assert!(
        heard.iter().all(|&s| s == 0),
        "caller must not hear the whisper"
    );
    let heard = c.mixer.output(supervisor).expect("supervisor");
    assert_eq!(heard, &c.frames[1][..]);
}

#[test]
fn deaf_party_hears_silence_but_is_heard() {
    let mut c = Conference::new(8000);
    c.mixer.set_deaf(c.ids[0], true).expect("deaf");
    c.assert_hears(
        [
            [false, false, false],
            [true, false, true],
            [true, true, false],
        ],
        "deaf",
    );
}

#[test]
fn full_scale_sums_saturate_instead_of_wrapping() {
    let mut m = Mixer::new(8000).expect("mixer");
    let ids = [m.add_party(), m.add_party(), m.add_party()];
    for (level, want) in [(i16::MAX, i16::MAX), (i16::MIN, i16::MIN)] {
        let frame = vec![level; 160];
        for id in ids {
            m.push(id, &frame).expect("push");
        }
        m.mix();
        for id in ids {
            let out = m.output(id).expect("output");
            assert!(
                out.iter().all(|&s| s == want),
                "{level}: heard {:?}",
                &out[..4]
            );
        }
    }
    // Two loud sines in phase: the sum clips at the rails, never flips sign.
    let loud = sine(300.0, 8000, 1.0, 160);
    m.push(ids[0], &loud).expect("push");
    m.push(ids[1], &loud).expect("push");
    m.mix();
    let out = m.output(ids[2]).expect("output");
    for (&o, &s) in out.iter().zip(&loud) {
        assert_eq!(o.signum(), s.signum(), "sign kept");
        assert!(
            i32::from(o).abs() >= i32::from(s).abs(),
            "never quieter than one voice"
        );
    }
    assert!(out.contains(&i16::MAX) && out.contains(&i16::MIN));
}

#[test]
fn missing_push_is_silence_and_inputs_clear_each_tick() {
    let mut c = Conference::new(8000);
    let [a, b, cc] = c.ids;
    c.mixer.push(a, &c.frames[0]).expect("push");
    c.mixer.mix();
    assert!(c.mixer.output(a).expect("a").iter().all(|&s| s == 0));
    assert_eq!(c.mixer.output(b).expect("b"), &c.frames[0][..]);
    assert_eq!(c.mixer.output(cc).expect("c"), &c.frames[0][..]);
    // Nobody pushes: last tick's frame must not be heard again.
    c.mixer.mix();
    for id in c.ids {
        assert!(c.mixer.output(id).expect("out").iter().all(|&s| s == 0));
    }
}

#[test]
fn removed_party_is_gone() {
    let mut c = Conference::new(8000);
    let gone = c.ids[2];
    c.mixer.remove_party(gone).expect("remove");
    assert_eq!(c.mixer.len(), 2);
    assert_eq!(c.mixer.output(gone), None);
    assert_eq!(
        c.mixer.push(gone, &c.frames[2]),
        Err(MixerError::UnknownParty(gone))
    );
    assert_eq!(
        c.mixer.remove_party(gone),
        Err(MixerError::UnknownParty(gone))
    );
    let [a, b, _] = c.ids;
    c.mixer.push(a, &c.frames[0]).expect("push");
    c.mixer.push(b, &c.frames[1]).expect("push");
    c.mixer.mix();
    assert_eq!(c.mixer.output(a).expect("a"), &c.frames[1][..]);
    assert_eq!(c.mixer.output(b).expect("b"), &c.frames[0][..]);
    let newcomer = c.mixer.add_party();
    assert!(!c.ids.contains(&newcomer), "ids are not reused");
}

#[test]
fn bad_input_is_refused() {
    assert_eq!(
        Mixer::new(0).err(),
        Some(MixerError::UnsupportedRate { rate: 0 })
    );
    assert_eq!(
        Mixer::new(8001).err(),
        Some(MixerError::UnsupportedRate { rate: 8001 })
    );
    let mut m = Mixer::new(16000).expect("mixer");
    let a = m.add_party();
    let b = m.add_party();
    assert_eq!(
        m.push(a, &[0; 160]),
        Err(MixerError::FrameLength {
            party: a,
            got: 160,
            expected: 320
        })
    );
    assert_eq!(m.set_whisper(a, Some(a)), Err(MixerError::WhisperToSelf(a)));
    m.remove_party(b).expect("remove");
    assert_eq!(m.set_whisper(a, Some(b)), Err(MixerError::UnknownParty(b)));
    assert_eq!(m.set_muted(b, true), Err(MixerError::UnknownParty(b)));
    assert_eq!(m.set_deaf(b, true), Err(MixerError::UnknownParty(b)));
}

#[test]
fn buffers_are_reused_across_ticks() {
    let mut c = Conference::new(8000);
    c.run();
    let before: Vec<*const i16> = c
        .ids
        .iter()
        .map(|&id| c.mixer.output(id).expect("out").as_ptr())
        .collect();
    c.run();
    let after: Vec<*const i16> = c
        .ids
        .iter()
        .map(|&id| c.mixer.output(id).expect("out").as_ptr())
        .collect();
    assert_eq!(
        before, after,
        "output buffers must not be reallocated per tick"
    );
}
