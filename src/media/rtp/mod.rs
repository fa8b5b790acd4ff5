//! Sans-IO RTP endpoint pieces for legs the switch terminates itself: packet
//! parse/build and RTCP-mux detection ([`packet`]), a per-stream jitter buffer
//! ([`jitter`]), a drift-free send schedule with continuous outgoing
//! numbering ([`pacer`]), RFC 3550 receiver statistics ([`stats`]) and the
//! SR/RR wire format ([`rtcp`]).
//!
//! Nothing here owns a socket or reads the clock: every time-dependent call
//! takes `now` as an argument, so drivers own the IO and tests own time.

pub mod jitter;
pub mod pacer;
pub mod packet;
pub mod rtcp;
pub mod stats;

pub use jitter::{Frame, JitterBuffer, JitterConfig, JitterCounters, PushOutcome};
pub use pacer::{Pacer, SendOutcome, Stamper};
pub use packet::{classify, Extension, MuxKind, PacketError, RtpPacket};
pub use rtcp::{dlsr, ReportBlock, RtcpError, RtcpReport, SenderInfo};
pub use stats::{InterarrivalJitter, ReceiverStats};
