//! The relay path's address rules, used by the media session (`session`) for
//! every packet of every leg: symmetric latching — each side
//! latches onto the address its first packet came from (phones behind NAT);
//! until then packets go to the address from the SDP, later ones from other
//! sources are dropped. Only a source at the SDP's IP or the leg's SIP
//! signalling IP may latch, so a stranger that sprays RTP at our ports first
//! cannot take a call's media (RTP bleed).
//!
//! [`plane`] runs the packets of calls that only forward on threads of their own.

pub mod plane;

use std::net::IpAddr;

use std::net::SocketAddr;

#[derive(Default)]
pub(crate) struct Peer {
    pub rtp: Option<SocketAddr>,
    pub rtcp: Option<SocketAddr>,
    pub rtp_latched: bool,
    pub rtcp_latched: bool,
    /// The IP the SDP named (unset for `0.0.0.0` or no SDP yet).
    sdp_ip: Option<IpAddr>,
    /// The IP the leg's SIP signalling comes from.
    signalling_ip: Option<IpAddr>,
}

impl Peer {
    pub fn set(&mut self, rtp: Option<SocketAddr>, rtcp: Option<SocketAddr>) {
        self.sdp_ip = rtp.map(|a| a.ip()).filter(|ip| !ip.is_unspecified());
        self.rtp = rtp;
        self.rtcp = rtcp.or_else(|| rtp.map(|a| SocketAddr::new(a.ip(), a.port().wrapping_add(1))));
        self.rtp_latched = false;
        self.rtcp_latched = false;
    }
}

impl Peer {
    pub fn set_signalling_ip(&mut self, ip: IpAddr) {
        self.signalling_ip = Some(ip);
    }

    /// Whether `src` may become this side's address: when neither the SDP nor
    /// the signalling named an IP (nothing known yet), any source may.
    fn may_latch(&self, src: SocketAddr) -> bool {
        let known = [self.sdp_ip, self.signalling_ip];
        known.iter().all(Option::is_none) || known.contains(&Some(src.ip()))
    }

    /// An RTP packet from `src`: true when it comes from this side (latching
    /// onto it if the side is not latched yet); false means drop it.
    pub fn latch_rtp(&mut self, src: SocketAddr) -> bool {
        let may = !self.rtp_latched && self.may_latch(src);
        latch(&mut self.rtp, &mut self.rtp_latched, may, src)
    }

    /// The same for RTCP.
    pub fn latch_rtcp(&mut self, src: SocketAddr) -> bool {
        let may = !self.rtcp_latched && self.may_latch(src);
        latch(&mut self.rtcp, &mut self.rtcp_latched, may, src)
    }
}

/// One address of a side: latches onto `src` when it is not latched yet and
/// `src` may take it; true when `src` is (now) that address.
fn latch(addr: &mut Option<SocketAddr>, latched: &mut bool, may: bool, src: SocketAddr) -> bool {
    if !*latched && may {
        *addr = Some(src);
        *latched = true;
        return true;
    }
    *latched && *addr == Some(src)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn addr(s: &str) -> SocketAddr {
        s.parse().expect("addr")
    }

    #[test]
    fn only_the_sdp_or_signalling_ip_may_latch() {
        let mut p = Peer::default();
        p.set(Some(addr("192.0.2.10:4000")), None);
        p.set_signalling_ip("198.51.100.7".parse().expect("ip"));
        // a stranger first: dropped, nothing latched
        assert!(!p.latch_rtp(addr("203.0.113.66:5555")));
        assert_eq!(p.rtp, Some(addr("192.0.2.10:4000")));
        // the phone behind NAT (signalling IP, another port): latched
        assert!(p.latch_rtp(addr("198.51.100.7:31000")));
        assert_eq!(p.rtp, Some(addr("198.51.100.7:31000")));
        assert!(
            !p.latch_rtp(addr("192.0.2.10:4000")),
            "latched: others dropped"
        );
        // a new SDP (re-INVITE) lets the side latch again, at its IPs only
        p.set(Some(addr("192.0.2.11:4100")), None);
        assert!(!p.latch_rtp(addr("203.0.113.66:5555")));
        assert!(p.latch_rtp(addr("192.0.2.11:4100")));
    }

    #[test]
    fn with_nothing_known_the_first_source_latches() {
        let mut p = Peer::default();
        assert!(p.latch_rtcp(addr("203.0.113.1:7001")));
        assert!(!p.latch_rtcp(addr("203.0.113.2:7001")));
    }
}
