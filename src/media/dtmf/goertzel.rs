//! In-band DTMF detection on 8 kHz linear PCM with the Goertzel algorithm.
//!
//! Owns the tone analysis and the press state machine: samples in (any frame
//! size), one [`DtmfEvent`] out per key press once the press is over. It does
//! not decode codecs, read clocks or talk to the bus; time is the sample count.
//!
//! Each 106-sample block (13.25 ms) is a *hit* for a digit only if all hold:
//! both tones above a minimum level; twist within limits; the strongest row
//! and column beat the other tones of their group by a margin; their second
//! harmonics are weak; and the two tones carry most of the block's energy.
//! A press needs `min_on_blocks` consecutive hits and ends after
//! `min_off_blocks` consecutive non-hits.

use super::{Digit, DtmfEvent};
use std::collections::VecDeque;

/// Input sample rate.
pub const SAMPLE_RATE: u32 = 8000;
/// Analysis block: 13.25 ms. Its 75 Hz bin spacing puts the nearest other row
/// tone close to a spectral null, and a 40 ms tone always covers 2 full blocks.
pub const BLOCK: usize = 106;
/// Peak of a 0 dBm0 sine in 16-bit linear PCM (G.711 overload is +3.17 dBm0).
pub const DBM0_PEAK: f32 = 22_300.0;

const ROWS: [f32; 4] = [697.0, 770.0, 852.0, 941.0];
const COLS: [f32; 4] = [1209.0, 1336.0, 1477.0, 1633.0];
const KEYPAD: [[Digit; 4]; 4] = [
    [Digit::D1, Digit::D2, Digit::D3, Digit::A],
    [Digit::D4, Digit::D5, Digit::D6, Digit::B],
    [Digit::D7, Digit::D8, Digit::D9, Digit::C],
    [Digit::Star, Digit::D0, Digit::Pound, Digit::D],
];

/// Keypad (row, column) of each digit, indexed by event code (0–9, *, #, A–D).
const POSITION: [(usize, usize); 16] = [
    (3, 1),
    (0, 0),
    (0, 1),
    (0, 2),
    (1, 0),
    (1, 1),
    (1, 2),
    (2, 0),
    (2, 1),
    (2, 2),
    (3, 0),
    (3, 2),
    (0, 3),
    (1, 3),
    (2, 3),
    (3, 3),
];

/// The row and column frequencies (Hz) of a digit.
pub fn frequencies(digit: Digit) -> (f32, f32) {
    let (r, c) = POSITION[usize::from(digit.event_code())];
    (ROWS[r], COLS[c])
}

/// Detection thresholds. See [`DetectorConfig::default`] for the reasoning.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct DetectorConfig {
    /// Each tone must be at least this loud (dBm0).
    pub min_tone_dbm0: f32,
    /// How much louder the column (high) tone may be than the row tone (dB).
    pub normal_twist_db: f32,
    /// How much louder the row (low) tone may be than the column tone (dB).
    pub reverse_twist_db: f32,
    /// The winning tone must beat every other tone of its group by this (dB).
    pub relative_peak_db: f32,
    /// Each tone's second harmonic must be this far below it (dB).
    pub harmonic_db: f32,
    /// Share of the block's energy the two tones must carry (0–1).
    pub min_energy_fraction: f32,
    /// Consecutive hit blocks that make a press.
    pub min_on_blocks: u32,
    /// Consecutive non-hit blocks that end a press.
    pub min_off_blocks: u32,
}

impl Default for DetectorConfig {
    /// −30 dBm0 per tone (tones come at −10 ± a few dB; speech pauses and line
    /// noise stay below); twist +8/−4 dB, the usual receiver tolerance for a
    /// high group sent louder to offset line loss; 10 dB relative peak and
    /// harmonic margins (adjacent tones leak ≤ −16 dB into each other's bins);
    /// 80 % energy share, which a 20 dB-SNR tone passes at ~99 % while voiced
    /// speech and chords, spreading energy over many harmonics, do not;
    /// 2 blocks on (accepts every ≥ 40 ms tone, never one < 26.5 ms) and
    /// 2 blocks off (a ≥ 40 ms gap always separates two presses).
    fn default() -> Self {
        DetectorConfig {
            min_tone_dbm0: -30.0,
            normal_twist_db: 8.0,
            reverse_twist_db: 4.0,
            relative_peak_db: 10.0,
            harmonic_db: 10.0,
            min_energy_fraction: 0.8,
            min_on_blocks: 2,
            min_off_blocks: 2,
        }
    }
}

fn db(x: f32) -> f32 {
    10f32.powf(x / 10.0)
}

fn coeff(freq: f32) -> f32 {
    2.0 * (2.0 * std::f32::consts::PI * freq / SAMPLE_RATE as f32).cos()
}

/// Goertzel power at the frequency whose coefficient is `c`, scaled to the
/// block energy a sine at that frequency contributes (Σx² of that sine).
fn tone_energy(block: &[f32], c: f32) -> f32 {
    let (mut s1, mut s2) = (0.0f32, 0.0f32);
    for &x in block {
        let s0 = x + c * s1 - s2;
        s2 = s1;
        s1 = s0;
    }
    let power = s1 * s1 + s2 * s2 - c * s1 * s2;
    2.0 * power / block.len() as f32
}

/// [`tone_energy`] for several frequencies in one pass over the block: the
/// filters are independent, so they run side by side (vectorised) instead of
/// one latency-bound chain after another. Each filter computes exactly what
/// `tone_energy` would.
fn tone_energies<const N: usize>(block: &[f32], c: &[f32; N]) -> [f32; N] {
    let (mut s1, mut s2) = ([0.0f32; N], [0.0f32; N]);
    for &x in block {
        for k in 0..N {
            let s0 = x + c[k] * s1[k] - s2[k];
            s2[k] = s1[k];
            s1[k] = s0;
        }
    }
    let n = block.len() as f32;
    std::array::from_fn(|k| 2.0 * (s1[k] * s1[k] + s2[k] * s2[k] - c[k] * s1[k] * s2[k]) / n)
}

/// Share of a sine's energy at `df` Hz from a bin that leaks into it.
fn leakage(df: f32) -> f32 {
    let x = std::f32::consts::PI * df * BLOCK as f32 / SAMPLE_RATE as f32;
    if x.abs() < 1e-6 {
        1.0
    } else {
        (x.sin() / x).powi(2)
    }
}

#[derive(Debug, Clone, Copy)]
struct Press {
    digit: Digit,
    start: u64,
    last_hit_end: u64,
    misses: u32,
}

#[derive(Debug, Clone, Copy)]
struct Candidate {
    digit: Digit,
    hits: u32,
    start: u64,
}

/// Streaming DTMF detector for one direction of one call.
#[derive(Debug, Clone)]
pub struct GoertzelDetector {
    config: DetectorConfig,
    /// The row then the column coefficients, filtered in one pass.
    tone_c: [f32; 8],
    row_h: [f32; 4],
    col_h: [f32; 4],
    block: [f32; BLOCK],
    fill: usize,
    /// Samples consumed before the current block.
    position: u64,
    press: Option<Press>,
    candidate: Option<Candidate>,
    events: VecDeque<DtmfEvent>,
}

impl Default for GoertzelDetector {
    fn default() -> Self {
        Self::new(DetectorConfig::default())
    }
}

impl GoertzelDetector {
    pub fn new(config: DetectorConfig) -> Self {
        GoertzelDetector {
            config,
            tone_c: std::array::from_fn(|k| coeff(if k < 4 { ROWS[k] } else { COLS[k - 4] })),
            row_h: ROWS.map(|f| coeff(2.0 * f)),
            col_h: COLS.map(|f| coeff(2.0 * f)),
            block: [0.0; BLOCK],
            fill: 0,
            position: 0,
            press: None,
            candidate: None,
            events: VecDeque::new(),
        }
    }

    /// Feeds 8 kHz samples of any count; completed presses become available
    /// from [`poll_event`](Self::poll_event).
    pub fn push(&mut self, mut samples: &[i16]) {
        // whole runs at a time: the copy vectorises, the fill count is kept once per run
        while !samples.is_empty() {
            let take = (BLOCK - self.fill).min(samples.len());
            let (run, rest) = samples.split_at(take);
            for (d, &s) in self.block[self.fill..self.fill + take].iter_mut().zip(run) {
                *d = f32::from(s);
            }
            samples = rest;
            self.fill += take;
            if self.fill == BLOCK {
                let hit = self.classify();
                self.on_block(hit);
                self.fill = 0;
                self.position += BLOCK as u64;
            }
        }
    }

    /// Ends a press still in progress (end of stream, hangup).
    pub fn flush(&mut self) {
        if let Some(p) = self.press.take() {
            self.emit(p);
        }
        self.candidate = None;
    }

    /// Next completed key press.
    pub fn poll_event(&mut self) -> Option<DtmfEvent> {
        self.events.pop_front()
    }

    /// The digit currently held, for barge-in before the press is over.
    pub fn current_digit(&self) -> Option<Digit> {
        self.press.map(|p| p.digit)
    }

    /// The digit this block holds, if every check passes.
    fn classify(&self) -> Option<Digit> {
        let cfg = &self.config;
        let block = &self.block[..];
        let total = energy(block);
        let min_energy =
            (DBM0_PEAK * 10f32.powf(cfg.min_tone_dbm0 / 20.0)).powi(2) / 2.0 * BLOCK as f32;
        if total < 2.0 * min_energy {
            return None;
        }
        let tones = tone_energies(block, &self.tone_c);
        let rows: [f32; 4] = std::array::from_fn(|k| tones[k]);
        let cols: [f32; 4] = std::array::from_fn(|k| tones[k + 4]);
        let (r, row) = strongest(&rows);
        let (c, col) = strongest(&cols);
        if row < min_energy || col < min_energy {
            return None;
        }
        if col > row * db(cfg.normal_twist_db) || row > col * db(cfg.reverse_twist_db) {
            return None;
        }
        let peak = db(cfg.relative_peak_db);
        let beaten = |e: &[f32; 4], i: usize, top: f32| {
            e.iter()
                .enumerate()
                .all(|(j, &x)| j == i || x * peak <= top)
        };
        if !beaten(&rows, r, row) || !beaten(&cols, c, col) {
            return None;
        }
        if row + col < cfg.min_energy_fraction * total {
            return None;
        }
        // Second harmonics; the column tone leaks into a row harmonic bin that
        // sits near it, so that expected leakage (with 6 dB margin) is allowed.
        let harm = db(cfg.harmonic_db);
        let row_h = tone_energy(block, self.row_h[r]);
        let allowed_row_h = row / harm + 4.0 * col * leakage(2.0 * ROWS[r] - COLS[c]);
        if row_h > allowed_row_h || tone_energy(block, self.col_h[c]) * harm > col {
            return None;
        }
        Some(KEYPAD[r][c])
    }

    fn on_block(&mut self, hit: Option<Digit>) {
        let start = self.position;
        let end = start + BLOCK as u64;
        let held = self.press.map(|p| p.digit);
        self.candidate = match (hit, self.candidate) {
            (Some(d), _) if Some(d) == held => None,
            (Some(d), Some(c)) if c.digit == d => Some(Candidate {
                hits: c.hits + 1,
                ..c
            }),
            (Some(d), _) => Some(Candidate {
                digit: d,
                hits: 1,
                start,
            }),
            (None, _) => None,
        };
        if let Some(mut p) = self.press {
            if hit == Some(p.digit) {
                p.misses = 0;
                p.last_hit_end = end;
                self.press = Some(p);
            } else if p.misses + 1 >= self.config.min_off_blocks {
                self.press = None;
                self.emit(p);
            } else {
                p.misses += 1;
                self.press = Some(p);
            }
        }
        if let (None, Some(c)) = (self.press, self.candidate) {
            if c.hits >= self.config.min_on_blocks.max(1) {
                self.press = Some(Press {
                    digit: c.digit,
                    start: c.start,
                    last_hit_end: end,
                    misses: 0,
                });
                self.candidate = None;
            }
        }
    }

    fn emit(&mut self, p: Press) {
        let ms = (p.last_hit_end - p.start) * 1000 / u64::from(SAMPLE_RATE);
        self.events.push_back(DtmfEvent {
            digit: p.digit,
            duration_ms: u32::try_from(ms).unwrap_or(u32::MAX),
        });
    }
}

/// Σx² with eight partial sums side by side (one serial sum would be bound
/// by the adder's latency).
fn energy(block: &[f32]) -> f32 {
    let mut acc = [0.0f32; 8];
    let chunks = block.chunks_exact(8);
    let tail: f32 = chunks.remainder().iter().map(|x| x * x).sum();
    for c in chunks {
        for k in 0..8 {
            acc[k] += c[k] * c[k];
        }
    }
    acc.iter().sum::<f32>() + tail
}

fn strongest(e: &[f32; 4]) -> (usize, f32) {
    e.iter().copied().enumerate().fold(
        (0, f32::MIN),
        |best, (i, x)| if x > best.1 { (i, x) } else { best },
    )
}

#[cfg(test)]
#[path = "goertzel_tests.rs"]
mod tests;
