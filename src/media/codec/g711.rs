//! G.711 µ-law (PCMU) and A-law (PCMA): the ITU-T G.711 segment algorithms
//! between 16-bit linear PCM and 8-bit companded codes.
//!
//! Owns the companding arithmetic and the two 256-entry decode tables (built at
//! compile time by `const fn`). It does no IO, keeps no time and allocates
//! nothing of its own: callers pass the buffers, which are only appended to.
//!
//! Conventions (the usual 16-bit scaling of G.711):
//! * µ-law works on the 14-bit magnitude with the bias of 0x84 applied at the
//!   16-bit scale; decoded values span ±32124. Code 0xFF is +0 and 0x7F is −0;
//!   both decode to 0 and 0 encodes to 0xFF.
//! * A-law works on the 13-bit magnitude; decoded values are the mid-points of
//!   each quantisation step (±8 … ±32256). 0xD5 is the smallest positive step,
//!   and 0 encodes to 0xD5. The even bits are inverted (XOR 0x55) as G.711 asks.

/// Bias added to the µ-law magnitude so each segment starts at a power of two.
const ULAW_BIAS: i32 = 0x84;
/// Largest magnitude that still fits the top µ-law segment after biasing.
const ULAW_CLIP: i32 = 32635;
/// G.711 inverts the even bits of every A-law code on the wire.
const ALAW_XOR: u8 = 0x55;

/// Index of the highest set bit of a positive value (floor(log2(v))).
const fn top_bit(v: i32) -> i32 {
    31 - (v as u32).leading_zeros() as i32
}

/// Encodes one linear sample to a µ-law code.
pub const fn linear_to_ulaw(sample: i16) -> u8 {
    let x = sample as i32;
    let (sign, mut mag) = if x < 0 { (0x80, -x) } else { (0x00, x) };
    if mag > ULAW_CLIP {
        mag = ULAW_CLIP;
    }
    mag += ULAW_BIAS;
    // After biasing, mag lies in [2^7, 2^15): the segment is the top bit − 7.
    let segment = top_bit(mag) - 7;
    let mantissa = (mag >> (segment + 3)) & 0x0F;
    !((sign | (segment << 4) | mantissa) as u8)
}

/// Decodes one µ-law code to a linear sample (arithmetically, see [`ULAW_TABLE`]).
pub const fn ulaw_to_linear_calc(code: u8) -> i16 {
    let c = !code;
    let segment = ((c >> 4) & 0x07) as i32;
    let mantissa = (c & 0x0F) as i32;
    let mag = (((mantissa << 3) + ULAW_BIAS) << segment) - ULAW_BIAS;
    if c & 0x80 != 0 {
        -mag as i16
    } else {
        mag as i16
    }
}

/// Encodes one linear sample to an A-law code.
pub const fn linear_to_alaw(sample: i16) -> u8 {
    let x = sample as i32;
    // Negative values use the one's complement so that −1 … −8 share the
    // smallest negative step, mirroring +0 … +7 on the positive side.
    let (sign, mag) = if x >= 0 { (0x80, x) } else { (0x00, !x) };
    let mag = mag >> 3; // 16-bit scale → 12-bit magnitude (0..=4095)
    let (segment, shift) = if mag < 32 {
        (0, 1)
    } else {
        let s = top_bit(mag) - 4;
        (s, s)
    };
    let mantissa = (mag >> shift) & 0x0F;
    ((sign | (segment << 4) | mantissa) as u8) ^ ALAW_XOR
}

/// Decodes one A-law code to a linear sample (arithmetically, see [`ALAW_TABLE`]).
pub const fn alaw_to_linear_calc(code: u8) -> i16 {
    let c = code ^ ALAW_XOR;
    let segment = ((c >> 4) & 0x07) as i32;
    let mantissa = (c & 0x0F) as i32;
    // Mid-point of the step, in 12-bit units, then back to the 16-bit scale.
    let mag = if segment == 0 {
        (mantissa << 1) + 1
    } else {
        ((mantissa << 1) + 33) << (segment - 1)
    } << 3;
    if c & 0x80 != 0 {
        mag as i16
    } else {
        -mag as i16
    }
}

const fn build_table(ulaw: bool) -> [i16; 256] {
    let mut table = [0i16; 256];
    let mut i = 0;
    while i < 256 {
        table[i] = if ulaw {
            ulaw_to_linear_calc(i as u8)
        } else {
            alaw_to_linear_calc(i as u8)
        };
        i += 1;
    }
    table
}

/// µ-law code → linear sample, built at compile time.
pub static ULAW_TABLE: [i16; 256] = build_table(true);
/// A-law code → linear sample, built at compile time.
pub static ALAW_TABLE: [i16; 256] = build_table(false);

/// Which G.711 law a coder speaks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Law {
    /// µ-law, RTP payload name PCMU.
    Ulaw,
    /// A-law, RTP payload name PCMA.
    Alaw,
}

/// Stateless G.711 encoder (a struct so every codec has the same shape).
#[derive(Debug, Clone, Copy)]
pub struct G711Encoder {
    law: Law,
}

impl G711Encoder {
    pub fn new(law: Law) -> Self {
        Self { law }
    }

    /// Appends one code per input sample to `out`.
    pub fn encode(&mut self, pcm: &[i16], out: &mut Vec<u8>) {
        out.reserve(pcm.len());
        match self.law {
            Law::Ulaw => out.extend(pcm.iter().map(|&s| linear_to_ulaw(s))),
            Law::Alaw => out.extend(pcm.iter().map(|&s| linear_to_alaw(s))),
        }
    }
}

/// Stateless G.711 decoder.
#[derive(Debug, Clone, Copy)]
pub struct G711Decoder {
    law: Law,
}

impl G711Decoder {
    pub fn new(law: Law) -> Self {
        Self { law }
    }

    /// Appends one sample per payload byte to `out`. Every byte is a valid code.
    pub fn decode(&mut self, payload: &[u8], out: &mut Vec<i16>) {
        let table = match self.law {
            Law::Ulaw => &ULAW_TABLE,
            Law::Alaw => &ALAW_TABLE,
        };
        out.reserve(payload.len());
        out.extend(payload.iter().map(|&c| table[usize::from(c)]));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::media::codec::test_signal::{sine, snr_db};

    #[test]
    fn known_values() {
        assert_eq!(linear_to_ulaw(0), 0xFF);
        assert_eq!(ULAW_TABLE[0xFF], 0);
        assert_eq!(ULAW_TABLE[0x7F], 0);
        assert_eq!(ULAW_TABLE[0x00], -32124);
        assert_eq!(ULAW_TABLE[0x80], 32124);
        assert_eq!(linear_to_ulaw(i16::MAX), 0x80);
        assert_eq!(linear_to_ulaw(i16::MIN), 0x00);
        assert_eq!(linear_to_ulaw(-1), 0x7F);

        assert_eq!(linear_to_alaw(0), 0xD5);
        assert_eq!(ALAW_TABLE[0xD5], 8);
        assert_eq!(ALAW_TABLE[0x55], -8);
        assert_eq!(linear_to_alaw(-1), 0x55);
        assert_eq!(ALAW_TABLE[0xAA], 32256);
        assert_eq!(ALAW_TABLE[0x2A], -32256);
        assert_eq!(linear_to_alaw(i16::MAX), 0xAA);
        assert_eq!(linear_to_alaw(i16::MIN), 0x2A);
    }

    #[test]
    fn every_ulaw_code_round_trips() {
        for code in 0..=255u8 {
            let back = linear_to_ulaw(ULAW_TABLE[usize::from(code)]);
            // 0x7F is "negative zero": it decodes to 0, which encodes as 0xFF.
            let want = if code == 0x7F { 0xFF } else { code };
            assert_eq!(back, want, "µ-law code {code:#04x}");
        }
    }

    #[test]
    fn every_alaw_code_round_trips() {
        for code in 0..=255u8 {
            assert_eq!(
                linear_to_alaw(ALAW_TABLE[usize::from(code)]),
                code,
                "A-law code {code:#04x}"
            );
        }
    }

    #[test]
    fn tables_are_monotonic_within_each_sign() {
        // Larger positive magnitude codes must decode to larger values.
        let mut prev = i16::MIN;
        for mag in 0..128u8 {
            let v = ULAW_TABLE[usize::from(0xFF - mag)];
            assert!(v >= prev, "µ-law not monotonic at {mag}");
            prev = v;
        }
        let mut prev = 0i16;
        for mag in 0..128u8 {
            let v = ALAW_TABLE[usize::from((0x80 | mag) ^ ALAW_XOR)];
            assert!(v > prev, "A-law not monotonic at {mag}");
            prev = v;
        }
    }

    #[test]
    fn encoding_is_symmetric_and_monotonic_over_all_inputs() {
        let mut prev_u = ULAW_TABLE[usize::from(linear_to_ulaw(i16::MIN))];
        let mut prev_a = ALAW_TABLE[usize::from(linear_to_alaw(i16::MIN))];
        for x in i16::MIN..=i16::MAX {
            let u = ULAW_TABLE[usize::from(linear_to_ulaw(x))];
            let a = ALAW_TABLE[usize::from(linear_to_alaw(x))];
            assert!(u >= prev_u && a >= prev_a, "not monotonic at {x}");
            prev_u = u;
            prev_a = a;
            if x > i16::MIN {
                assert_eq!(ULAW_TABLE[usize::from(linear_to_ulaw(-x))], -u);
            }
        }
    }

    #[test]
    fn sine_round_trip_snr_above_30_db() {
        let input = sine(1000.0, 8000, 0.5, 8000);
        for law in [Law::Ulaw, Law::Alaw] {
            let mut payload = Vec::new();
            let mut decoded = Vec::new();
            let (mut enc, mut dec) = (G711Encoder::new(law), G711Decoder::new(law));
            for frame in input.chunks(160) {
                enc.encode(frame, &mut payload);
            }
            assert_eq!(payload.len(), input.len());
            dec.decode(&payload, &mut decoded);
            let snr = snr_db(&input, &decoded);
            assert!(snr > 30.0, "{law:?} SNR {snr:.1} dB");
        }
    }

    #[test]
    fn quiet_signal_keeps_snr() {
        // Companding keeps SNR roughly constant with level: −30 dBFS still passes.
        let input = sine(1000.0, 8000, 0.03, 1600);
        for law in [Law::Ulaw, Law::Alaw] {
            let mut payload = Vec::new();
            let mut decoded = Vec::new();
            G711Encoder::new(law).encode(&input, &mut payload);
            G711Decoder::new(law).decode(&payload, &mut decoded);
            let snr = snr_db(&input, &decoded);
            assert!(snr > 30.0, "{law:?} quiet SNR {snr:.1} dB");
        }
    }

    #[test]
    fn appends_without_touching_existing_output() {
        let mut out = vec![0xAB];
        G711Encoder::new(Law::Ulaw).encode(&[0, 0], &mut out);
        assert_eq!(out, [0xAB, 0xFF, 0xFF]);
        let mut pcm = vec![7i16];
        G711Decoder::new(Law::Alaw).decode(&[0xD5], &mut pcm);
        assert_eq!(pcm, [7, 8]);
    }
}
