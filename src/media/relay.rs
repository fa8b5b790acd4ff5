//! The RTP/RTCP relay between the two legs of a bridged call. One task per call
//! owns the four sockets and all relay state (no locks, no allocation per packet).
//! Each side latches onto the address its first packet came from (symmetric RTP,
//! for phones behind NAT); until then packets go to the address from the SDP.

use std::net::SocketAddr;
use std::sync::atomic::Ordering::Relaxed;
use std::sync::Arc;
use tokio::sync::mpsc;

use super::ports::PortPair;
use crate::metrics::Metrics;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Side {
    /// The caller's leg: it sends to `a_port`.
    A,
    /// The callee's leg: it sends to `b_port`.
    B,
}

#[derive(Debug)]
pub enum RelayCmd {
    /// New RTP destination from SDP (offer or answer); resets latching for that side.
    SetRemote {
        side: Side,
        rtp: Option<SocketAddr>,
        rtcp: Option<SocketAddr>,
    },
}

/// Control handle for a running relay; dropping it stops the relay.
pub struct RelayHandle {
    tx: mpsc::UnboundedSender<RelayCmd>,
    pub a_port: u16,
    pub b_port: u16,
}

impl RelayHandle {
    pub fn set_remote(&self, side: Side, rtp: Option<SocketAddr>, rtcp: Option<SocketAddr>) {
        let _ = self.tx.send(RelayCmd::SetRemote { side, rtp, rtcp });
    }
}

#[derive(Default)]
struct Peer {
    rtp: Option<SocketAddr>,
    rtcp: Option<SocketAddr>,
    rtp_latched: bool,
    rtcp_latched: bool,
}

impl Peer {
    fn set(&mut self, rtp: Option<SocketAddr>, rtcp: Option<SocketAddr>) {
        self.rtp = rtp;
        self.rtcp = rtcp.or_else(|| rtp.map(|a| SocketAddr::new(a.ip(), a.port().wrapping_add(1))));
        self.rtp_latched = false;
        self.rtcp_latched = false;
    }
}

/// Latches `src` as the peer address if not latched yet; false if the packet
/// comes from somewhere else than the latched address (it is then dropped).
fn latch(addr: &mut Option<SocketAddr>, latched: &mut bool, src: SocketAddr) -> bool {
    if !*latched {
        *addr = Some(src);
        *latched = true;
        return true;
    }
    *addr == Some(src)
}

pub fn spawn(a: PortPair, b: PortPair, metrics: Arc<Metrics>) -> RelayHandle {
    let (tx, mut rx) = mpsc::unbounded_channel();
    let handle = RelayHandle {
        tx,
        a_port: a.port,
        b_port: b.port,
    };
    tokio::spawn(async move {
        let mut pa = Peer::default();
        let mut pb = Peer::default();
        let mut buf_a = vec![0u8; 2048];
        let mut buf_b = vec![0u8; 2048];
        let mut buf_c = vec![0u8; 2048];
        let mut buf_d = vec![0u8; 2048];
        let (mut relayed, mut dropped) = (0u64, 0u64);
        // counters reach the metrics at least once a second even on a quiet call
        let mut flush = tokio::time::interval(std::time::Duration::from_secs(1));
        flush.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tokio::select! {
                // commands first: a new remote address must apply before the packets
                // that the peer sends once it has seen the SDP carrying it
                biased;
                cmd = rx.recv() => match cmd {
                    Some(RelayCmd::SetRemote { side: Side::A, rtp, rtcp }) => pa.set(rtp, rtcp),
                    Some(RelayCmd::SetRemote { side: Side::B, rtp, rtcp }) => pb.set(rtp, rtcp),
                    None => break,
                },
                r = a.rtp.recv_from(&mut buf_a) => if let Ok((n, src)) = r {
                    if latch(&mut pa.rtp, &mut pa.rtp_latched, src) {
                        if let Some(dst) = pb.rtp { if b.rtp.send_to(&buf_a[..n], dst).await.is_ok() { relayed += 1; } else { dropped += 1; } }
                        else { dropped += 1; }
                    } else { dropped += 1; }
                },
                r = b.rtp.recv_from(&mut buf_b) => if let Ok((n, src)) = r {
                    if latch(&mut pb.rtp, &mut pb.rtp_latched, src) {
                        if let Some(dst) = pa.rtp { if a.rtp.send_to(&buf_b[..n], dst).await.is_ok() { relayed += 1; } else { dropped += 1; } }
                        else { dropped += 1; }
                    } else { dropped += 1; }
                },
                r = a.rtcp.recv_from(&mut buf_c) => if let Ok((n, src)) = r {
                    if latch(&mut pa.rtcp, &mut pa.rtcp_latched, src) {
                        if let Some(dst) = pb.rtcp { let _ = b.rtcp.send_to(&buf_c[..n], dst).await; }
                    }
                },
                r = b.rtcp.recv_from(&mut buf_d) => if let Ok((n, src)) = r {
                    if latch(&mut pb.rtcp, &mut pb.rtcp_latched, src) {
                        if let Some(dst) = pa.rtcp { let _ = a.rtcp.send_to(&buf_d[..n], dst).await; }
                    }
                },
                _ = flush.tick() => {
                    metrics.rtp_packets_relayed.fetch_add(relayed, Relaxed);
                    metrics.rtp_packets_dropped.fetch_add(dropped, Relaxed);
                    relayed = 0;
                    dropped = 0;
                },
            }
            if relayed + dropped >= 256 {
                metrics.rtp_packets_relayed.fetch_add(relayed, Relaxed);
                metrics.rtp_packets_dropped.fetch_add(dropped, Relaxed);
                relayed = 0;
                dropped = 0;
            }
        }
        metrics.rtp_packets_relayed.fetch_add(relayed, Relaxed);
        metrics.rtp_packets_dropped.fetch_add(dropped, Relaxed);
    });
    handle
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::media::ports::PortPool;
    use tokio::net::UdpSocket;

    #[tokio::test]
    async fn relays_both_ways_and_latches() {
        let pool = PortPool::new(42000, 42020, "127.0.0.1".parse().expect("ip"));
        let metrics = Arc::new(Metrics::default());
        let (a, b) = (pool.allocate().expect("a"), pool.allocate().expect("b"));
        let relay = spawn(a, b, metrics.clone());
        let caller = UdpSocket::bind("127.0.0.1:0").await.expect("bind");
        let callee = UdpSocket::bind("127.0.0.1:0").await.expect("bind");
        // SDP told us a wrong address for the caller: latching must fix it
        relay.set_remote(Side::A, Some("127.0.0.1:9".parse().expect("a")), None);
        relay.set_remote(Side::B, Some(callee.local_addr().expect("addr")), None);
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        let to_a = SocketAddr::from(([127, 0, 0, 1], relay.a_port));
        let to_b = SocketAddr::from(([127, 0, 0, 1], relay.b_port));
        caller.send_to(b"hello-from-a", to_a).await.expect("send");
        let mut buf = [0u8; 64];
        let (n, from) = tokio::time::timeout(
            std::time::Duration::from_secs(2),
            callee.recv_from(&mut buf),
        )
        .await
        .expect("in time")
        .expect("recv");
        assert_eq!(&buf[..n], b"hello-from-a");
        assert_eq!(from, to_b, "callee hears the switch's B port");
        callee.send_to(b"hello-from-b", to_b).await.expect("send");
        let (n, from) = tokio::time::timeout(
            std::time::Duration::from_secs(2),
            caller.recv_from(&mut buf),
        )
        .await
        .expect("in time")
        .expect("recv");
        assert_eq!(&buf[..n], b"hello-from-b");
        assert_eq!(from, to_a);
        // a third party cannot hijack the latched caller side
        let intruder = UdpSocket::bind("127.0.0.1:0").await.expect("bind");
        intruder.send_to(b"evil", to_a).await.expect("send");
        caller.send_to(b"good", to_a).await.expect("send");
        let (n, _) = tokio::time::timeout(
            std::time::Duration::from_secs(2),
            callee.recv_from(&mut buf),
        )
        .await
        .expect("in time")
        .expect("recv");
        assert_eq!(&buf[..n], b"good");
    }
}
