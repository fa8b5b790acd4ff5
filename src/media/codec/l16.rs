//! L16 (RFC 3551 §4.5.11): uncompressed 16-bit signed linear PCM in network
//! byte order (big-endian), mono here.
//!
//! Owns only the byte-order conversion. No IO, no time, no allocation beyond
//! growing the caller's buffer; the sample rate is carried by `CodecKind`.

use super::CodecError;

/// L16 encoder: i16 samples → big-endian byte pairs.
#[derive(Debug, Clone, Copy, Default)]
pub struct L16Encoder;

impl L16Encoder {
    pub fn new() -> Self {
        Self
    }

    /// Appends two bytes per sample to `out`.
    pub fn encode(&mut self, pcm: &[i16], out: &mut Vec<u8>) {
        out.reserve(pcm.len() * 2);
        for &s in pcm {
            out.extend_from_slice(&s.to_be_bytes());
        }
    }
}

/// L16 decoder: big-endian byte pairs → i16 samples.
#[derive(Debug, Clone, Copy, Default)]
pub struct L16Decoder;

impl L16Decoder {
    pub fn new() -> Self {
        Self
    }

    /// Appends one sample per byte pair to `out`. A payload of odd length is
    /// malformed and rejected whole (nothing is appended).
    pub fn decode(&mut self, payload: &[u8], out: &mut Vec<i16>) -> Result<(), CodecError> {
        if !payload.len().is_multiple_of(2) {
            return Err(CodecError::OddL16Payload { len: payload.len() });
        }
        out.reserve(payload.len() / 2);
        out.extend(
            payload
                .chunks_exact(2)
                .map(|pair| i16::from_be_bytes([pair[0], pair[1]])),
        );
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::media::codec::test_signal::sine;

    #[test]
    fn network_byte_order() {
        let mut out = Vec::new();
        L16Encoder::new().encode(&[0x0102, -2], &mut out);
        assert_eq!(out, [0x01, 0x02, 0xFF, 0xFE]);
    }

    #[test]
    fn sine_round_trip_is_exact() {
        let input = sine(1000.0, 16000, 0.9, 16000);
        let (mut enc, mut dec) = (L16Encoder::new(), L16Decoder::new());
        let mut payload = Vec::new();
        let mut decoded = Vec::new();
        for frame in input.chunks(320) {
            payload.clear();
            enc.encode(frame, &mut payload);
            assert_eq!(payload.len(), 640);
            dec.decode(&payload, &mut decoded).expect("even payload");
        }
        assert_eq!(decoded, input);
    }

    #[test]
    fn extremes_round_trip() {
        let input = [i16::MIN, -1, 0, 1, i16::MAX];
        let mut payload = Vec::new();
        let mut decoded = Vec::new();
        L16Encoder::new().encode(&input, &mut payload);
        L16Decoder::new()
            .decode(&payload, &mut decoded)
            .expect("even payload");
        assert_eq!(decoded, input);
    }

    #[test]
    fn odd_payload_is_rejected_and_appends_nothing() {
        let mut out = vec![5];
        let err = L16Decoder::new().decode(&[1, 2, 3], &mut out);
        assert!(matches!(err, Err(CodecError::OddL16Payload { len: 3 })));
        assert_eq!(out, [5]);
    }
}
