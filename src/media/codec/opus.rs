//! Opus (RFC 6716, RTP payload RFC 7587) through `audiopus` and the system
//! libopus: 48 kHz mono, 20 ms frames (960 samples), with packet-loss
//! concealment when a packet is missing.
//!
//! Owns the libopus encoder/decoder states. No IO, no time; the only buffers
//! written are the caller's, grown in place (no allocation per call once the
//! caller's `Vec` has capacity).

use audiopus::coder::{Decoder as RawDecoder, Encoder as RawEncoder};
use audiopus::{Application, Bitrate, Channels, SampleRate};

use std::sync::atomic::{AtomicU8, Ordering::Relaxed};

use super::CodecError;

/// Sample rate the Opus coders run at (RFC 7587: the RTP clock is always 48 kHz).
pub const OPUS_RATE: u32 = 48_000;
/// Samples in one 20 ms frame at 48 kHz.
pub const OPUS_FRAME_SAMPLES: usize = 960;
/// Largest packet one frame can produce (RFC 6716 §3.2.1: 1275 bytes).
const MAX_PACKET: usize = 1275;
/// Largest frame a single packet can carry: 120 ms at 48 kHz.
const MAX_DECODED: usize = 5760;

/// What the encoder optimises for (libopus `OPUS_APPLICATION_*`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum OpusMode {
    /// Speech intelligibility (SILK/hybrid at voice bitrates): the default
    /// for calls. Not waveform-preserving; expect ~16 dB SNR on a pure tone.
    #[default]
    Voip,
    /// Fidelity to the waveform (CELT): music on hold, tones.
    Audio,
}

/// Encoder settings; `Default` is voice mode at libopus' automatic bitrate.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct OpusConfig {
    pub mode: OpusMode,
    /// Target bitrate in bits per second (libopus accepts 500..=512000);
    /// `None` lets libopus choose.
    pub bitrate: Option<u32>,
}

/// Encoder complexity (libopus 0–10) used by every encoder made from now on;
/// set once at start-up (`--opus-complexity`). Lower is cheaper: at 8 kHz PCM
/// complexity 1 costs ~26 µs a frame here, 2 ~31 µs, 3 ~35 µs, 10 about 90 µs.
static COMPLEXITY: AtomicU8 = AtomicU8::new(2);

/// Sets the complexity of Opus encoders created after this call (clamped to 10).
pub fn set_default_complexity(c: u8) {
    COMPLEXITY.store(c.min(10), Relaxed);
}

fn default_complexity() -> u8 {
    COMPLEXITY.load(Relaxed)
}

/// The libopus PCM rate for `rate` (Opus runs on 8, 12, 16, 24 or 48 kHz PCM
/// whatever the 48 kHz RTP clock says).
fn sample_rate(rate: u32) -> Result<SampleRate, CodecError> {
    Ok(match rate {
        8000 => SampleRate::Hz8000,
        12000 => SampleRate::Hz12000,
        16000 => SampleRate::Hz16000,
        24000 => SampleRate::Hz24000,
        48000 => SampleRate::Hz48000,
        _ => return Err(CodecError::UnsupportedRate { rate }),
    })
}

/// Opus encoder for 20 ms mono frames (48 kHz unless built for another PCM rate).
pub struct OpusEncoder {
    inner: RawEncoder,
    frame: usize,
}

impl std::fmt::Debug for OpusEncoder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OpusEncoder").finish_non_exhaustive()
    }
}

impl OpusEncoder {
    /// Voice-tuned encoder ([`OpusConfig::default`]).
    pub fn new() -> Result<Self, CodecError> {
        Self::with_config(OpusConfig::default())
    }

    pub fn with_config(config: OpusConfig) -> Result<Self, CodecError> {
        Self::with_config_at(config, OPUS_RATE)
    }

    /// An encoder taking PCM at `rate` Hz (8000, 12000, 16000, 24000 or 48000):
    /// bridging a narrowband leg, 8 kHz in saves a resampler and most of the
    /// encoder's work. Complexity: [`set_default_complexity`].
    pub fn with_config_at(config: OpusConfig, rate: u32) -> Result<Self, CodecError> {
        let application = match config.mode {
            OpusMode::Voip => Application::Voip,
            OpusMode::Audio => Application::Audio,
        };
        let mut inner = RawEncoder::new(sample_rate(rate)?, Channels::Mono, application)?;
        inner.set_complexity(default_complexity())?;
        if let Some(bps) = config.bitrate {
            let bps = i32::try_from(bps).map_err(|_| CodecError::Bitrate { bps })?;
            inner.set_bitrate(Bitrate::BitsPerSecond(bps))?;
        }
        Ok(Self {
            inner,
            frame: (rate / 50) as usize,
        })
    }

    /// Algorithmic delay of the encoder, in samples at 48 kHz.
    pub fn lookahead(&self) -> Result<u32, CodecError> {
        Ok(self.inner.lookahead()?)
    }

    /// Encodes exactly one 20 ms frame (960 samples) and appends the packet to `out`.
    pub fn encode(&mut self, pcm: &[i16], out: &mut Vec<u8>) -> Result<(), CodecError> {
        if pcm.len() != self.frame {
            return Err(CodecError::FrameLength {
                got: pcm.len(),
                expected: self.frame,
            });
        }
        let start = out.len();
        out.resize(start + MAX_PACKET, 0);
        match self.inner.encode(pcm, &mut out[start..]) {
            Ok(n) => {
                out.truncate(start + n);
                Ok(())
            }
            Err(e) => {
                out.truncate(start);
                Err(e.into())
            }
        }
    }
}

/// Opus decoder producing mono PCM (48 kHz unless built for another rate).
pub struct OpusDecoder {
    inner: RawDecoder,
    frame: usize,
}

impl std::fmt::Debug for OpusDecoder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OpusDecoder").finish_non_exhaustive()
    }
}

impl OpusDecoder {
    pub fn new() -> Result<Self, CodecError> {
        Self::with_rate(OPUS_RATE)
    }

    /// A decoder producing PCM at `rate` Hz (8000, 12000, 16000, 24000 or 48000).
    pub fn with_rate(rate: u32) -> Result<Self, CodecError> {
        let inner = RawDecoder::new(sample_rate(rate)?, Channels::Mono)?;
        Ok(Self {
            inner,
            frame: (rate / 50) as usize,
        })
    }

    /// Decodes one packet and appends its samples to `out`.
    ///
    /// `None` (or an empty payload) means the packet was lost: libopus
    /// conceals it and one 20 ms frame of concealment audio is appended.
    /// A malformed packet is an error and appends nothing.
    pub fn decode(&mut self, payload: Option<&[u8]>, out: &mut Vec<i16>) -> Result<(), CodecError> {
        let payload = payload.filter(|p| !p.is_empty());
        // For concealment libopus fills exactly the buffer it is given, so
        // give it one frame; for a real packet allow the longest frame.
        let room = if payload.is_some() {
            MAX_DECODED
        } else {
            self.frame
        };
        let start = out.len();
        out.resize(start + room, 0);
        match self.inner.decode(payload, &mut out[start..], false) {
            Ok(n) => {
                out.truncate(start + n);
                Ok(())
            }
            Err(e) => {
                out.truncate(start);
                Err(e.into())
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::media::codec::test_signal::{best_lag, chirp, rms, sine, snr_db};

    fn round_trip(input: &[i16], config: OpusConfig) -> Vec<i16> {
        let mut enc = OpusEncoder::with_config(config).expect("encoder");
        let mut dec = OpusDecoder::new().expect("decoder");
        let mut packet = Vec::new();
        let mut decoded = Vec::new();
        for frame in input.chunks_exact(OPUS_FRAME_SAMPLES) {
            packet.clear();
            enc.encode(frame, &mut packet).expect("encode");
            assert!(!packet.is_empty() && packet.len() <= MAX_PACKET);
            let before = decoded.len();
            dec.decode(Some(&packet), &mut decoded).expect("decode");
            assert_eq!(decoded.len() - before, OPUS_FRAME_SAMPLES);
        }
        decoded
    }

    /// Round-trips a 1 kHz tone and returns (measured delay, SNR in dB).
    fn tone_snr(config: OpusConfig) -> (usize, f64) {
        // Find the codec delay by cross-correlation on a sweep (a pure tone
        // correlates equally well at every period, a sweep at one lag only).
        let sweep = chirp(200.0, 4000.0, OPUS_RATE, 0.5, OPUS_RATE as usize);
        let lag = best_lag(&sweep, &round_trip(&sweep, config), 0, 2000);

        let input = sine(1000.0, OPUS_RATE, 0.5, OPUS_RATE as usize); // 1 s
        let decoded = round_trip(&input, config);
        assert_eq!(decoded.len(), input.len());
        // Skip the first 100 ms (encoder start-up), compare aligned signals.
        let skip = 4800;
        let n = input.len() - lag - skip - 24;
        let snr = snr_db(&input[skip..skip + n], &decoded[skip + lag..skip + lag + n]);
        // Misaligned by half a period the same signals must fail: the bound bites.
        let off = snr_db(
            &input[skip..skip + n],
            &decoded[skip + lag + 24..skip + lag + 24 + n],
        );
        assert!(
            off < 0.0,
            "half-period misalignment still scored {off:.1} dB"
        );
        (lag, snr)
    }

    #[test]
    fn sine_round_trip_snr_above_15_db_after_delay() {
        let (lag, snr) = tone_snr(OpusConfig::default());
        let lookahead = OpusEncoder::new()
            .expect("encoder")
            .lookahead()
            .expect("lookahead") as usize;
        // The measured delay is the encoder's lookahead (312 at 48 kHz);
        // voice mode adds a fraction of a sample through its resampler.
        assert!(
            lag.abs_diff(lookahead) <= 2,
            "lag {lag} vs lookahead {lookahead}"
        );
        assert!(snr > 15.0, "Opus voice SNR {snr:.1} dB at lag {lag}");
    }

    #[test]
    fn audio_mode_preserves_the_waveform() {
        let config = OpusConfig {
            mode: OpusMode::Audio,
            bitrate: Some(64_000),
        };
        let (lag, snr) = tone_snr(config);
        assert!(snr > 30.0, "Opus audio-mode SNR {snr:.1} dB at lag {lag}");
    }

    #[test]
    fn bad_bitrate_is_an_error() {
        let config = OpusConfig {
            mode: OpusMode::Voip,
            bitrate: Some(u32::MAX),
        };
        assert!(OpusEncoder::with_config(config).is_err());
    }

    #[test]
    fn lost_packet_is_concealed_with_one_frame_of_audio() {
        let input = sine(1000.0, OPUS_RATE, 0.5, OPUS_FRAME_SAMPLES * 20);
        let mut enc = OpusEncoder::new().expect("encoder");
        let mut dec = OpusDecoder::new().expect("decoder");
        let mut packet = Vec::new();
        let mut decoded = Vec::new();
        for (i, frame) in input.chunks_exact(OPUS_FRAME_SAMPLES).enumerate() {
            packet.clear();
            enc.encode(frame, &mut packet).expect("encode");
            let before = decoded.len();
            if i == 15 {
                dec.decode(None, &mut decoded).expect("plc");
                let plc = &decoded[before..];
                assert_eq!(plc.len(), OPUS_FRAME_SAMPLES);
                // Concealment continues the tone rather than going silent.
                assert!(rms(plc) > 0.25 * rms(frame), "PLC too quiet");
            } else {
                dec.decode(Some(&packet), &mut decoded).expect("decode");
            }
        }
        assert_eq!(decoded.len(), input.len());
        // An empty payload is treated as a loss too.
        let before = decoded.len();
        dec.decode(Some(&[]), &mut decoded).expect("empty = plc");
        assert_eq!(decoded.len() - before, OPUS_FRAME_SAMPLES);
    }

    #[test]
    fn wrong_frame_length_is_rejected() {
        let mut enc = OpusEncoder::new().expect("encoder");
        let mut out = Vec::new();
        let err = enc.encode(&[0; 160], &mut out);
        assert!(matches!(
            err,
            Err(CodecError::FrameLength {
                got: 160,
                expected: 960
            })
        ));
        assert!(out.is_empty());
    }

    #[test]
    fn malformed_packet_is_an_error_and_appends_nothing() {
        let mut dec = OpusDecoder::new().expect("decoder");
        let mut out = vec![1i16];
        // TOC code 3 (arbitrary frame count) with a frame count of 0 is invalid.
        let err = dec.decode(Some(&[0x03 | 0x78, 0x00]), &mut out);
        assert!(matches!(err, Err(CodecError::Opus(_))), "{err:?}");
        assert_eq!(out, [1]);
    }
}
