//! ICMP errors for SIP over UDP (Linux): with `IP_RECVERR` the kernel keeps an
//! ICMP "unreachable" for a datagram we sent on the socket's error queue, with
//! that datagram and the address it went to. The UDP driver drains the queue
//! when a receive reports the error, and hands each bounced request to the
//! switch, whose transaction layer fails it as a transport error (RFC 3261
//! §8.1.3.1: a 503 for that destination) instead of retransmitting to a phone
//! that is gone until Timer B. The kernel also fails the *next send* on the
//! socket with that error (once): the sender drains the queue too and sends
//! again, so no datagram is lost to someone else's ICMP.

use std::net::SocketAddr;
use tokio::net::UdpSocket;

/// Asks the kernel to queue ICMP errors for `socket` (IPv4 and, when the
/// socket is IPv6, IPv6 too). Failing is harmless: errors are then not seen.
#[cfg(target_os = "linux")]
pub fn enable(socket: &UdpSocket) {
    use nix::sys::socket::{setsockopt, sockopt};
    let v6 = socket.local_addr().map(|a| a.is_ipv6()).unwrap_or(false);
    let ok = if v6 {
        setsockopt(socket, sockopt::Ipv6RecvErr, &true).is_ok()
    } else {
        setsockopt(socket, sockopt::Ipv4RecvErr, &true).is_ok()
    };
    if !ok {
        tracing::debug!("IP_RECVERR not available: ICMP errors are not reported");
    }
}

#[cfg(not(target_os = "linux"))]
pub fn enable(_socket: &UdpSocket) {}

/// Whether a send or receive failed only because an ICMP error for an earlier
/// datagram was pending on the socket (refused, host or network unreachable).
pub fn is_pending_error(e: &std::io::Error) -> bool {
    e.kind() == std::io::ErrorKind::ConnectionRefused
        || matches!(e.raw_os_error(), Some(101 | 112 | 113))
}

/// Takes every queued error off the socket: the datagrams that bounced and
/// where each was going. Never blocks.
#[cfg(target_os = "linux")]
pub fn drain(socket: &UdpSocket, buf: &mut [u8]) -> Vec<(Vec<u8>, SocketAddr)> {
    use nix::sys::socket::{recvmsg, MsgFlags, SockaddrStorage};
    use std::io::IoSliceMut;
    use std::os::fd::AsRawFd;
    let fd = socket.as_raw_fd();
    let mut out = Vec::new();
    let mut cmsg = nix::cmsg_space!([u8; 128]);
    // bounded: the queue is short (the kernel rate-limits ICMP), never spin
    for _ in 0..64 {
        let mut iov = [IoSliceMut::new(buf)];
        let msg = recvmsg::<SockaddrStorage>(
            fd,
            &mut iov,
            Some(&mut cmsg),
            MsgFlags::MSG_ERRQUEUE | MsgFlags::MSG_DONTWAIT,
        );
        let Ok(msg) = msg else { break };
        let (n, addr) = (msg.bytes, msg.address);
        let dest = addr.and_then(|a| {
            a.as_sockaddr_in()
                .map(|v4| SocketAddr::from((v4.ip(), v4.port())))
                .or_else(|| {
                    a.as_sockaddr_in6()
                        .map(|v6| SocketAddr::from((v6.ip(), v6.port())))
                })
        });
        if let Some(dest) = dest {
            out.push((buf[..n.min(buf.len())].to_vec(), dest));
        }
    }
    out
}

#[cfg(not(target_os = "linux"))]
pub fn drain(_socket: &UdpSocket, _buf: &mut [u8]) -> Vec<(Vec<u8>, SocketAddr)> {
    Vec::new()
}

/// The request line and headers of a bounced datagram, re-framed without a
/// body (`Content-Length: 0`), or `None` when the header block itself was cut.
pub fn headers_only(bytes: &[u8]) -> Option<Vec<u8>> {
    let end = bytes.windows(4).position(|w| w == b"\r\n\r\n")?;
    let text = std::str::from_utf8(&bytes[..end]).ok()?;
    let mut out = String::with_capacity(end + 24);
    for line in text.split("\r\n") {
        let name = line.split(':').next().unwrap_or("").trim();
        let framing = ["content-length", "l", "content-type", "c"]
            .iter()
            .any(|n| name.eq_ignore_ascii_case(n));
        if !framing {
            out.push_str(line);
            out.push_str("\r\n");
        }
    }
    out.push_str("Content-Length: 0\r\n\r\n");
    Some(out.into_bytes())
}

#[cfg(test)]
mod tests {
    #[test]
    fn a_cut_datagram_keeps_its_headers_and_loses_its_body() {
        let sent = "INVITE sip:1002@192.0.2.5:5062 SIP/2.0\r\nVia: SIP/2.0/UDP 192.0.2.1:5060;branch=z9hG4bKsyabc\r\nCall-ID: x@y\r\nCSeq: 1 INVITE\r\nFrom: <sip:a@b>;tag=1\r\nTo: <sip:c@d>\r\nMax-Forwards: 70\r\nContent-Type: application/sdp\r\nContent-Length: 300\r\n\r\nv=0\r\no=- 1 1 IN IP4 192.0";
        let head = super::headers_only(sent.as_bytes()).expect("headers");
        let text = String::from_utf8(head.clone()).expect("utf8");
        assert!(text.ends_with("Content-Length: 0\r\n\r\n"), "{text}");
        assert!(!text.contains("application/sdp"));
        let msg = crate::sip::message::parse(&head).expect("parses");
        let rsip::SipMessage::Request(req) = msg else {
            panic!("a request")
        };
        assert_eq!(req.method, rsip::Method::Invite);
        // a datagram cut inside its headers cannot be matched
        assert!(super::headers_only(&sent.as_bytes()[..60]).is_none());
    }
}
