//! Media plane: RTP/RTCP port allocation, the relay that anchors media of
//! bridged legs in the switch (symmetric RTP latching), and the media engine
//! for legs the switch terminates itself: codecs and resampling ([`codec`]),
//! RTP endpoint pieces ([`rtp`]) and DTMF ([`dtmf`]).

pub mod codec;
pub mod dtmf;
pub mod ports;
pub mod relay;
pub mod rtp;
