//! Tests for the Goertzel detector: all 16 digits clean, noisy and through
//! G.711 µ-law; timing and twist limits; and talk-off cases (speech-like
//! vowels, noise, single tones, chords) that must stay silent.

use super::*;
use std::f32::consts::PI;

const MS: usize = 8; // samples per ms

/// −10 dBm0 per tone.
fn amp(dbm0: f32) -> f32 {
    DBM0_PEAK * 10f32.powf(dbm0 / 20.0)
}

struct Rng(u32);
impl Rng {
    /// Uniform in [-1, 1).
    fn next(&mut self) -> f32 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 17;
        self.0 ^= self.0 << 5;
        (self.0 as f32 / u32::MAX as f32) * 2.0 - 1.0
    }
}

fn to_i16(x: f32) -> i16 {
    x.round().clamp(-32768.0, 32767.0) as i16
}

/// Appends a digit of `ms` with per-tone levels (dBm0), then `gap_ms` silence.
fn tone(out: &mut Vec<f32>, digit: Digit, ms: usize, row_dbm0: f32, col_dbm0: f32, gap_ms: usize) {
    let (fr, fc) = frequencies(digit);
    let (ar, ac) = (amp(row_dbm0), amp(col_dbm0));
    let base = out.len();
    for n in 0..ms * MS {
        let t = (base + n) as f32 / SAMPLE_RATE as f32;
        out.push(ar * (2.0 * PI * fr * t).sin() + ac * (2.0 * PI * fc * t + 1.0).sin());
    }
    out.resize(out.len() + gap_ms * MS, 0.0);
}

fn detect_with(samples: &[i16], chunk: usize) -> Vec<DtmfEvent> {
    let mut det = GoertzelDetector::default();
    let mut got = Vec::new();
    for frame in samples.chunks(chunk.max(1)) {
        det.push(frame);
        got.extend(std::iter::from_fn(|| det.poll_event()));
    }
    det.flush();
    got.extend(std::iter::from_fn(|| det.poll_event()));
    got
}

fn detect(samples: &[f32]) -> Vec<DtmfEvent> {
    detect_with(&samples.iter().map(|&x| to_i16(x)).collect::<Vec<_>>(), 160)
}

/// All 16 digits, `ms` long, 50 ms gaps, after 30 ms of silence.
fn sixteen(ms: usize) -> Vec<f32> {
    let mut s = vec![0.0; 30 * MS];
    for d in Digit::ALL {
        tone(&mut s, d, ms, -10.0, -10.0, 50);
    }
    s
}

fn add_noise(s: &mut [f32], snr_db: f32, seed: u32) {
    // Two tones at the same level: signal power is amp².
    let noise_power = amp(-10.0).powi(2) / 10f32.powf(snr_db / 10.0);
    let a = (3.0 * noise_power).sqrt(); // uniform [-a, a] has power a²/3
    let mut rng = Rng(seed);
    for x in s.iter_mut() {
        *x += a * rng.next();
    }
}

fn assert_sixteen(got: &[DtmfEvent], ms: u32) {
    let digits: Vec<Digit> = got.iter().map(|e| e.digit).collect();
    assert_eq!(digits, Digit::ALL.to_vec());
    for e in got {
        // Measured from whole blocks: up to two blocks short, at most one long.
        assert!(
            e.duration_ms + 27 >= ms && e.duration_ms <= ms + 14,
            "{e:?} for {ms} ms"
        );
    }
}

/// G.711 µ-law, written for the test from the companding rule.
fn ulaw_encode(x: i16) -> u8 {
    let sign = if x < 0 { 0x80 } else { 0 };
    let mag = (i32::from(x).abs().min(32635) + 0x84) as u32;
    let exp = (31 - mag.leading_zeros()).saturating_sub(7).min(7);
    let mant = (mag >> (exp + 3)) & 0x0f;
    !(sign | (exp << 4) as u8 | mant as u8)
}

fn ulaw_decode(u: u8) -> i16 {
    let u = !u;
    let exp = (u >> 4) & 7;
    let mag = (((i32::from(u & 0x0f) << 3) + 0x84) << exp) - 0x84;
    (if u & 0x80 != 0 { -mag } else { mag }) as i16
}

#[test]
fn ulaw_helper_round_trips() {
    for x in [-32768i16, -1000, -1, 0, 1, 100, 1000, 8000, 32767] {
        let y = ulaw_decode(ulaw_encode(x));
        assert!(
            (i32::from(x) - i32::from(y)).abs() <= (i32::from(x).abs() / 16).max(4),
            "{x} -> {y}"
        );
    }
}

#[test]
fn detects_all_sixteen_digits() {
    for ms in [50, 80, 120] {
        assert_sixteen(&detect(&sixteen(ms)), ms as u32);
    }
}

#[test]
fn frame_size_does_not_matter() {
    let s: Vec<i16> = sixteen(70).iter().map(|&x| to_i16(x)).collect();
    for chunk in [1, 7, 80, 160, 333, 4096] {
        assert_sixteen(&detect_with(&s, chunk), 70);
    }
}

#[test]
fn detects_with_noise_at_20_db_snr() {
    for seed in [1, 99, 12345] {
        let mut s = sixteen(60);
        add_noise(&mut s, 20.0, seed);
        assert_sixteen(&detect(&s), 60);
    }
}

#[test]
fn detects_after_ulaw_round_trip() {
    for noisy in [false, true] {
        let mut s = sixteen(60);
        if noisy {
            add_noise(&mut s, 20.0, 7);
        }
        let coded: Vec<i16> = s
            .iter()
            .map(|&x| ulaw_decode(ulaw_encode(to_i16(x))))
            .collect();
        assert_sixteen(&detect_with(&coded, 160), 60);
    }
}

#[test]
fn forty_ms_accepted_at_any_alignment_twenty_rejected() {
    for offset in (0..BLOCK).step_by(13) {
        let mut s = vec![0.0; offset];
        tone(&mut s, Digit::D5, 40, -10.0, -10.0, 60);
        tone(&mut s, Digit::D9, 20, -10.0, -10.0, 60);
        let got: Vec<Digit> = detect(&s).iter().map(|e| e.digit).collect();
        assert_eq!(got, vec![Digit::D5], "offset {offset}");
    }
}

#[test]
fn gaps_separate_presses_and_dropouts_do_not() {
    let mut s = Vec::new();
    tone(&mut s, Digit::D7, 80, -10.0, -10.0, 40);
    tone(&mut s, Digit::D7, 80, -10.0, -10.0, 10); // 10 ms dropout: same press
    tone(&mut s, Digit::D7, 80, -10.0, -10.0, 60);
    tone(&mut s, Digit::D1, 80, -10.0, -10.0, 0); // digit change without a gap
    tone(&mut s, Digit::D2, 80, -10.0, -10.0, 0); // stream ends mid-press: flush
    let got = detect(&s);
    let digits: Vec<Digit> = got.iter().map(|e| e.digit).collect();
    assert_eq!(digits, vec![Digit::D7, Digit::D7, Digit::D1, Digit::D2]);
    assert!(got[1].duration_ms >= 150, "{:?}", got[1]);
}

#[test]
fn twist_and_level_limits() {
    let run = |row: f32, col: f32| {
        let mut s = Vec::new();
        tone(&mut s, Digit::D8, 100, row, col, 60);
        detect(&s).iter().map(|e| e.digit).collect::<Vec<_>>()
    };
    assert_eq!(run(-14.0, -8.0), vec![Digit::D8], "6 dB normal twist");
    assert_eq!(run(-8.0, -11.0), vec![Digit::D8], "3 dB reverse twist");
    assert_eq!(
        run(-25.0, -25.0),
        vec![Digit::D8],
        "quiet but above -30 dBm0"
    );
    assert!(run(-20.0, -9.0).is_empty(), "11 dB normal twist");
    assert!(run(-6.0, -13.0).is_empty(), "7 dB reverse twist");
    assert!(run(-36.0, -36.0).is_empty(), "below -30 dBm0");
}

#[test]
fn current_digit_reports_a_held_key() {
    let mut s = Vec::new();
    tone(&mut s, Digit::Pound, 100, -10.0, -10.0, 0);
    let mut det = GoertzelDetector::default();
    det.push(&s.iter().map(|&x| to_i16(x)).collect::<Vec<_>>());
    assert_eq!(det.current_digit(), Some(Digit::Pound));
    assert!(det.poll_event().is_none());
    det.push(&[0; 400]);
    assert_eq!(det.poll_event().map(|e| e.digit), Some(Digit::Pound));
    assert_eq!(det.current_digit(), None);
}

/// Voiced speech: harmonics of a vibrating f0 under a formant envelope,
/// in syllables. Formants are (F1, F2, F3) Hz.
fn vowel(f0: f32, formants: [f32; 3], secs: f32, seed: u32) -> Vec<f32> {
    let mut rng = Rng(seed);
    let n = (secs * SAMPLE_RATE as f32) as usize;
    let harmonics = (3800.0 / (f0 * 1.05)) as usize;
    let mut phase = vec![0.0f32; harmonics + 1];
    for p in phase.iter_mut() {
        *p = rng.next() * PI;
    }
    let envelope = |f: f32| -> f32 {
        formants
            .iter()
            .zip([1.0, 0.6, 0.25])
            .map(|(&fm, g)| g / (1.0 + ((f - fm) / 80.0).powi(2)))
            .sum::<f32>()
            + 0.02
    };
    let mut out = Vec::with_capacity(n);
    let mut raw_peak = 0.0f32;
    for i in 0..n {
        let t = i as f32 / SAMPLE_RATE as f32;
        let f = f0 * (1.0 + 0.02 * (2.0 * PI * 5.5 * t).sin()); // vibrato
        let mut x = 0.0;
        for (k, p) in phase.iter_mut().enumerate().skip(1) {
            let fk = f * k as f32;
            *p += 2.0 * PI * fk / SAMPLE_RATE as f32;
            x += envelope(fk) / (k as f32).sqrt() * p.sin();
        }
        let syllable = (PI * (t * 4.0).fract()).sin().max(0.0); // 250 ms syllables
        x *= syllable;
        raw_peak = raw_peak.max(x.abs());
        out.push(x);
    }
    let scale = amp(-5.0) * 1.4 / raw_peak.max(1e-9);
    out.iter().map(|x| x * scale).collect()
}

#[test]
fn speech_like_vowels_do_not_trigger() {
    // /a/, /i/, /u/, /e/ and two adversarial envelopes with F1/F2 on DTMF tones.
    let vowels = [
        [730.0, 1090.0, 2440.0],
        [270.0, 2290.0, 3010.0],
        [300.0, 870.0, 2240.0],
        [530.0, 1840.0, 2480.0],
        [697.0, 1209.0, 2500.0],
        [852.0, 1477.0, 2700.0],
    ];
    for (i, formants) in vowels.iter().enumerate() {
        for f0 in [120.0, 139.4, 160.0, 174.25, 200.0] {
            let got = detect(&vowel(f0, *formants, 1.5, i as u32 + 1));
            assert!(got.is_empty(), "f0 {f0} formants {formants:?}: {got:?}");
        }
    }
}

#[test]
fn noise_does_not_trigger() {
    for (seed, dbm0) in [(1u32, -10.0f32), (2, -20.0), (3, 0.0), (4, -30.0)] {
        let mut rng = Rng(seed);
        let a = amp(dbm0) * 1.7;
        let s: Vec<f32> = (0..5 * SAMPLE_RATE).map(|_| a * rng.next()).collect();
        assert!(detect(&s).is_empty(), "noise at {dbm0} dBm0");
    }
}

#[test]
fn single_tones_do_not_trigger() {
    for f in [770.0f32, 1336.0, 697.0, 1633.0] {
        let s: Vec<f32> = (0..SAMPLE_RATE)
            .map(|n| amp(-5.0) * (2.0 * PI * f * n as f32 / 8000.0).sin())
            .collect();
        assert!(detect(&s).is_empty(), "{f} Hz alone");
    }
}

#[test]
fn chords_do_not_trigger() {
    // Notes with five decaying harmonics; some chords put notes near DTMF tones.
    let chords: [&[f32]; 5] = [
        &[261.63, 329.63, 392.0],          // C major
        &[698.46, 880.0, 1046.5],          // F major, F5 ≈ 697
        &[698.46, 1046.5, 1318.5],         // F5 + C6 + E6 ≈ 1336
        &[783.99, 987.77, 1174.7, 1480.0], // G7-ish with F#6 ≈ 1477
        &[440.0, 554.37, 659.26, 1396.9],  // A major + F6
    ];
    for notes in chords {
        let s: Vec<f32> = (0..SAMPLE_RATE)
            .map(|n| {
                let t = n as f32 / SAMPLE_RATE as f32;
                let x: f32 = notes
                    .iter()
                    .flat_map(|&f| (1..=5).map(move |h| (h as f32, f)))
                    .filter(|(h, f)| h * f < 3900.0)
                    .map(|(h, f)| (2.0 * PI * f * h * t + h).sin() / h)
                    .sum();
                x * amp(-12.0)
            })
            .collect();
        assert!(detect(&s).is_empty(), "chord {notes:?}");
    }
}

#[test]
fn keypad_tables_agree() {
    for d in Digit::ALL {
        let (r, c) = frequencies(d);
        let ri = ROWS.iter().position(|&f| f == r).expect("row");
        let ci = COLS.iter().position(|&f| f == c).expect("col");
        assert_eq!(KEYPAD[ri][ci], d);
    }
}

#[test]
fn the_filters_run_side_by_side_give_each_filter_s_own_result() {
    let block: Vec<f32> = (0..BLOCK)
        .map(|i| ((i as f32 * 0.37).sin() * 9000.0 + (i as f32 * 1.91).cos() * 4000.0).round())
        .collect();
    let c: [f32; 8] = std::array::from_fn(|k| coeff(if k < 4 { ROWS[k] } else { COLS[k - 4] }));
    let together = tone_energies(&block, &c);
    for k in 0..8 {
        assert_eq!(together[k], tone_energy(&block, c[k]), "filter {k}");
    }
}
