//! Media plane: RTP/RTCP port allocation and the media session of each call
//! (`session`: relay with symmetric latching when both legs agree, endpoint
//! and transcoding otherwise), with the engine's parts: codecs and resampling
//! ([`codec`]), RTP endpoint pieces ([`rtp`]), DTMF ([`dtmf`]), playback
//! sources, prompts, tones, music on hold and TTS ([`playback`]), call recording ([`record`]), the conference mixer ([`mixer`]) and browser
//! legs (ICE-lite, DTLS-SRTP: [`webrtc`]).

pub mod codec;
pub mod dtmf;
pub mod mixer;
pub mod playback;
pub mod ports;
pub mod record;
pub mod relay;
pub mod rtp;
pub mod session;
#[cfg(test)]
pub(crate) mod test_util;
pub mod webrtc;
