//! Media plane: RTP/RTCP port allocation and the relay that anchors media of
//! bridged legs in the switch (symmetric RTP latching). Codec work comes later.

pub mod dtmf;
pub mod ports;
pub mod relay;
