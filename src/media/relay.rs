//! The relay path's address rules, used by the media session (`session`) for
//! every packet: the two sides of a call, and symmetric latching — each side
//! latches onto the address its first packet came from (phones behind NAT);
//! until then packets go to the address from the SDP, later ones from other
//! sources are dropped.

use std::net::SocketAddr;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Side {
    /// The caller's leg: it sends to `a_port`.
    A,
    /// The callee's leg: it sends to `b_port`.
    B,
}

#[derive(Default)]
pub(crate) struct Peer {
    pub rtp: Option<SocketAddr>,
    pub rtcp: Option<SocketAddr>,
    pub rtp_latched: bool,
    pub rtcp_latched: bool,
}

impl Peer {
    pub fn set(&mut self, rtp: Option<SocketAddr>, rtcp: Option<SocketAddr>) {
        self.rtp = rtp;
        self.rtcp = rtcp.or_else(|| rtp.map(|a| SocketAddr::new(a.ip(), a.port().wrapping_add(1))));
        self.rtp_latched = false;
        self.rtcp_latched = false;
    }
}

/// Latches `src` as the peer address if not latched yet; false if the packet
/// comes from somewhere else than the latched address (it is then dropped).
pub(crate) fn latch(addr: &mut Option<SocketAddr>, latched: &mut bool, src: SocketAddr) -> bool {
    if !*latched {
        *addr = Some(src);
        *latched = true;
        return true;
    }
    *addr == Some(src)
}
