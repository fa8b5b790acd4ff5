//! Audio codecs of the media engine: which codecs the switch speaks
//! ([`CodecKind`], mapped from SDP `a=rtpmap`), one [`Encoder`]/[`Decoder`]
//! per negotiated stream, and rate conversion between them ([`resample`]).
//!
//! Sans-IO: everything here turns sample buffers into payload buffers and
//! back. It must not open sockets, read clocks, pace frames or touch RTP
//! headers; the RTP endpoint and the transcoding bridge drive it. Calls only
//! append to buffers the caller owns and reuses, so nothing allocates per
//! packet once those buffers have grown.

pub mod g711;
pub mod l16;
pub mod opus;
pub mod resample;
#[cfg(test)]
mod test_signal;

pub use g711::{G711Decoder, G711Encoder, Law};
pub use l16::{L16Decoder, L16Encoder};
pub use opus::{OpusConfig, OpusDecoder, OpusEncoder, OpusMode};
pub use resample::Resampler;

/// Everything that can go wrong encoding, decoding or resampling.
#[derive(Debug, thiserror::Error)]
pub enum CodecError {
    /// An L16 payload must hold whole 16-bit samples.
    #[error("L16 payload of {len} bytes is not a whole number of samples")]
    OddL16Payload { len: usize },
    /// A frame of the wrong size was handed to a fixed-frame coder.
    #[error("frame of {got} samples where {expected} are required")]
    FrameLength { got: usize, expected: usize },
    /// A sample rate that has no whole 20 ms frame, or that the resampler
    /// cannot convert in 20 ms frames.
    #[error("unsupported sample rate {rate} Hz")]
    UnsupportedRate { rate: u32 },
    /// An Opus bitrate out of range.
    #[error("Opus bitrate {bps} b/s out of range")]
    Bitrate { bps: u32 },
    /// libopus refused (bad packet, bad argument, internal error).
    #[error("opus: {0}")]
    Opus(#[from] audiopus::Error),
    /// The resampler could not be built for this pair of rates.
    #[error("resampler construction: {0}")]
    ResamplerConstruction(#[from] rubato::ResamplerConstructionError),
    /// The resampler failed on a frame.
    #[error("resampling: {0}")]
    Resample(#[from] rubato::ResampleError),
    /// The resampler's scratch buffers did not fit the frame (an invariant).
    #[error("resampler buffer does not fit the frame")]
    ResampleBuffer,
}

/// Samples in `ptime_ms` of mono audio at `rate` Hz (e.g. 160 for 20 ms at 8 kHz).
pub const fn samples_per_frame(rate: u32, ptime_ms: u32) -> usize {
    (rate as u64 * ptime_ms as u64 / 1000) as usize
}

/// A codec the switch can encode and decode, as negotiated in SDP.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum CodecKind {
    /// G.711 µ-law, 8 kHz.
    Pcmu,
    /// G.711 A-law, 8 kHz.
    Pcma,
    /// 16-bit linear PCM, network byte order, mono, at `rate` Hz.
    L16 { rate: u32 },
    /// Opus, 48 kHz RTP clock (RFC 7587), decoded and encoded as mono here.
    Opus,
}

impl CodecKind {
    /// The PCM rates the coders can run at: the clock rate, and for Opus also
    /// 8, 16 and 24 kHz (libopus resamples internally, much cheaper than us).
    pub fn pcm_rates(self) -> &'static [u32] {
        match self {
            Self::Opus => &[48_000, 24_000, 16_000, 8000],
            Self::Pcmu | Self::Pcma => &[8000],
            Self::L16 { rate: 16_000 } => &[16_000],
            Self::L16 { rate: 8000 } => &[8000],
            Self::L16 { rate: 48_000 } => &[48_000],
            Self::L16 { .. } => &[],
        }
    }

    /// RTP clock rate in Hz (also the rate of the PCM the coders use).
    pub fn clock_rate(self) -> u32 {
        match self {
            Self::Pcmu | Self::Pcma => 8000,
            Self::L16 { rate } => rate,
            Self::Opus => opus::OPUS_RATE,
        }
    }

    /// The static RTP payload type of RFC 3551, if the codec has one:
    /// PCMU 0, PCMA 8, L16 mono at 44.1 kHz 11. Others are dynamic (96–127)
    /// and take the number negotiated in SDP.
    pub fn payload_type_default(self) -> Option<u8> {
        match self {
            Self::Pcmu => Some(0),
            Self::Pcma => Some(8),
            Self::L16 { rate: 44_100 } => Some(11),
            Self::L16 { .. } | Self::Opus => None,
        }
    }

    /// The encoding name as written in `a=rtpmap`.
    pub fn encoding_name(self) -> &'static str {
        match self {
            Self::Pcmu => "PCMU",
            Self::Pcma => "PCMA",
            Self::L16 { .. } => "L16",
            Self::Opus => "opus",
        }
    }

    /// Samples in one 20 ms frame at the codec's rate.
    pub fn frame_samples_20ms(self) -> usize {
        samples_per_frame(self.clock_rate(), 20)
    }

    /// Maps an `a=rtpmap` encoding name (case-insensitive) and clock rate to a
    /// codec. `name` may also be the whole `encoding/clock[/channels]` text
    /// (e.g. `"opus/48000/2"`), in which case its clock must agree with `clock`.
    /// Returns `None` for codecs the switch does not speak, and for L16 with
    /// more than one channel (mono only). Opus is always `opus/48000/2` in
    /// SDP (RFC 7587) and is decoded to mono.
    pub fn from_rtpmap(name: &str, clock: u32) -> Option<Self> {
        let mut parts = name.trim().split('/');
        let encoding = parts.next()?;
        if let Some(text_clock) = parts.next() {
            if text_clock.trim().parse::<u32>().ok()? != clock {
                return None;
            }
        }
        let channels = match parts.next() {
            Some(c) => c.trim().parse::<u32>().ok()?,
            None => 1,
        };
        if parts.next().is_some() {
            return None;
        }
        Self::from_parts(encoding, clock, channels)
    }

    /// Parses the value of `a=rtpmap` after the payload type, e.g.
    /// `"PCMU/8000"`, `"L16/16000"` or `"opus/48000/2"`.
    pub fn parse_rtpmap(text: &str) -> Option<Self> {
        let mut parts = text.trim().splitn(3, '/');
        let encoding = parts.next()?;
        let clock = parts.next()?.trim().parse::<u32>().ok()?;
        let channels = match parts.next() {
            Some(c) => c.trim().parse::<u32>().ok()?,
            None => 1,
        };
        Self::from_parts(encoding, clock, channels)
    }

    fn from_parts(encoding: &str, clock: u32, channels: u32) -> Option<Self> {
        let encoding = encoding.trim();
        let is = |n: &str| encoding.eq_ignore_ascii_case(n);
        match (clock, channels) {
            (8000, 1) if is("PCMU") => Some(Self::Pcmu),
            (8000, 1) if is("PCMA") => Some(Self::Pcma),
            // Whole 20 ms frames only: rate divisible by 50.
            (rate, 1) if is("L16") && rate > 0 && rate.is_multiple_of(50) => {
                Some(Self::L16 { rate })
            }
            (48_000, 1 | 2) if is("opus") => Some(Self::Opus),
            _ => None,
        }
    }
}

/// Encoder for one outgoing stream, chosen by [`CodecKind`].
#[derive(Debug)]
pub enum Encoder {
    G711(G711Encoder),
    L16(L16Encoder),
    Opus(OpusEncoder),
}

impl Encoder {
    pub fn new(kind: CodecKind) -> Result<Self, CodecError> {
        Self::at_rate(kind, kind.clock_rate())
    }

    /// An encoder taking PCM at `rate`: only Opus can take another rate than
    /// its clock (see [`CodecKind::pcm_rates`]); for the others `rate` is ignored.
    pub fn at_rate(kind: CodecKind, rate: u32) -> Result<Self, CodecError> {
        Ok(match kind {
            CodecKind::Opus => {
                Self::Opus(OpusEncoder::with_config_at(OpusConfig::default(), rate)?)
            }
            CodecKind::Pcmu => Self::G711(G711Encoder::new(Law::Ulaw)),
            CodecKind::Pcma => Self::G711(G711Encoder::new(Law::Alaw)),
            CodecKind::L16 { .. } => Self::L16(L16Encoder::new()),
        })
    }

    /// Encodes one frame of PCM at the codec's rate, appending the payload to
    /// `out`. Opus takes exactly 20 ms (960 samples); the others any length.
    pub fn encode(&mut self, pcm: &[i16], out: &mut Vec<u8>) -> Result<(), CodecError> {
        match self {
            Self::G711(e) => {
                e.encode(pcm, out);
                Ok(())
            }
            Self::L16(e) => {
                e.encode(pcm, out);
                Ok(())
            }
            Self::Opus(e) => e.encode(pcm, out),
        }
    }
}

/// Decoder for one incoming stream, chosen by [`CodecKind`].
#[derive(Debug)]
pub enum Decoder {
    G711(G711Decoder),
    L16 { dec: L16Decoder, frame: usize },
    Opus(OpusDecoder),
}

impl Decoder {
    pub fn new(kind: CodecKind) -> Result<Self, CodecError> {
        Self::at_rate(kind, kind.clock_rate())
    }

    /// A decoder producing PCM at `rate` (Opus only; see [`Encoder::at_rate`]).
    pub fn at_rate(kind: CodecKind, rate: u32) -> Result<Self, CodecError> {
        Ok(match kind {
            CodecKind::Opus => Self::Opus(OpusDecoder::with_rate(rate)?),
            CodecKind::Pcmu => Self::G711(G711Decoder::new(Law::Ulaw)),
            CodecKind::Pcma => Self::G711(G711Decoder::new(Law::Alaw)),
            CodecKind::L16 { .. } => Self::L16 {
                dec: L16Decoder::new(),
                frame: kind.frame_samples_20ms(),
            },
        })
    }

    /// Decodes one payload, appending PCM at the codec's rate to `out`.
    pub fn decode(&mut self, payload: &[u8], out: &mut Vec<i16>) -> Result<(), CodecError> {
        match self {
            Self::G711(d) => {
                d.decode(payload, out);
                Ok(())
            }
            Self::L16 { dec, .. } => dec.decode(payload, out),
            Self::Opus(d) => d.decode(Some(payload), out),
        }
    }

    /// Appends one 20 ms frame standing in for a lost packet: libopus
    /// concealment for Opus, silence for the waveform codecs (the jitter
    /// buffer may do better for those by repeating the last frame).
    pub fn conceal(&mut self, out: &mut Vec<i16>) -> Result<(), CodecError> {
        let silence = match self {
            Self::G711(_) => samples_per_frame(8000, 20),
            Self::L16 { frame, .. } => *frame,
            Self::Opus(d) => return d.decode(None, out),
        };
        out.resize(out.len() + silence, 0);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn frame_length_math() {
        assert_eq!(samples_per_frame(8000, 20), 160);
        assert_eq!(samples_per_frame(16000, 20), 320);
        assert_eq!(samples_per_frame(48000, 20), 960);
        assert_eq!(samples_per_frame(8000, 30), 240);
        assert_eq!(CodecKind::Pcmu.frame_samples_20ms(), 160);
        assert_eq!(CodecKind::Pcma.frame_samples_20ms(), 160);
        assert_eq!(CodecKind::L16 { rate: 16000 }.frame_samples_20ms(), 320);
        assert_eq!(CodecKind::Opus.frame_samples_20ms(), 960);
    }

    #[test]
    fn clock_rates_and_payload_types() {
        assert_eq!(CodecKind::Pcmu.clock_rate(), 8000);
        assert_eq!(CodecKind::Pcma.clock_rate(), 8000);
        assert_eq!(CodecKind::L16 { rate: 16000 }.clock_rate(), 16000);
        assert_eq!(CodecKind::Opus.clock_rate(), 48000);
        assert_eq!(CodecKind::Pcmu.payload_type_default(), Some(0));
        assert_eq!(CodecKind::Pcma.payload_type_default(), Some(8));
        assert_eq!(
            CodecKind::L16 { rate: 44_100 }.payload_type_default(),
            Some(11)
        );
        assert_eq!(CodecKind::L16 { rate: 16000 }.payload_type_default(), None);
        assert_eq!(CodecKind::Opus.payload_type_default(), None);
    }

    #[test]
    fn rtpmap_mapping() {
        use CodecKind::*;
        let cases: &[(&str, u32, Option<CodecKind>)] = &[
            ("PCMU", 8000, Some(Pcmu)),
            ("pcmu", 8000, Some(Pcmu)),
            ("PCMU/8000", 8000, Some(Pcmu)),
            ("PCMA", 8000, Some(Pcma)),
            ("pcma/8000", 8000, Some(Pcma)),
            ("L16", 16000, Some(L16 { rate: 16000 })),
            ("L16/16000", 16000, Some(L16 { rate: 16000 })),
            ("l16", 8000, Some(L16 { rate: 8000 })),
            ("opus", 48000, Some(Opus)),
            ("OPUS/48000/2", 48000, Some(Opus)),
            ("opus/48000/2", 48000, Some(Opus)),
            ("PCMU", 16000, None),
            ("PCMU/8000", 16000, None),
            ("opus", 16000, None),
            ("L16/16000/2", 16000, None),
            ("L16", 0, None),
            ("L16", 44_110, None),
            ("G729", 8000, None),
            ("telephone-event", 8000, None),
            ("", 8000, None),
            ("PCMU/x", 8000, None),
            ("opus/48000/2/9", 48000, None),
        ];
        for &(name, clock, want) in cases {
            assert_eq!(
                CodecKind::from_rtpmap(name, clock),
                want,
                "{name} @ {clock}"
            );
        }
        assert_eq!(CodecKind::parse_rtpmap("PCMU/8000"), Some(Pcmu));
        assert_eq!(CodecKind::parse_rtpmap("opus/48000/2"), Some(Opus));
        assert_eq!(
            CodecKind::parse_rtpmap("L16/16000"),
            Some(L16 { rate: 16000 })
        );
        assert_eq!(CodecKind::parse_rtpmap("PCMU"), None);
        for kind in [Pcmu, Pcma, L16 { rate: 16000 }, Opus] {
            assert_eq!(
                CodecKind::from_rtpmap(kind.encoding_name(), kind.clock_rate()),
                Some(kind)
            );
        }
    }

    #[test]
    fn every_kind_round_trips_a_frame_through_the_enums() {
        use crate::media::codec::test_signal::{rms, sine};
        for kind in [
            CodecKind::Pcmu,
            CodecKind::Pcma,
            CodecKind::L16 { rate: 16000 },
            CodecKind::Opus,
        ] {
            let mut enc = Encoder::new(kind).expect("encoder");
            let mut dec = Decoder::new(kind).expect("decoder");
            let n = kind.frame_samples_20ms();
            let input = sine(1000.0, kind.clock_rate(), 0.5, n * 10);
            let mut payload = Vec::new();
            let mut pcm = Vec::new();
            for frame in input.chunks_exact(n) {
                payload.clear();
                enc.encode(frame, &mut payload).expect("encode");
                dec.decode(&payload, &mut pcm).expect("decode");
            }
            assert_eq!(pcm.len(), input.len(), "{kind:?}");
            let tail = &pcm[n * 5..];
            assert!(rms(tail) > 0.5 * rms(&input), "{kind:?} lost the tone");
            let before = pcm.len();
            dec.conceal(&mut pcm).expect("conceal");
            assert_eq!(pcm.len() - before, n, "{kind:?} concealment length");
        }
    }
}
