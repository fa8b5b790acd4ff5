//! Allocation of RTP/RTCP port pairs from the configured range. A pair is an even
//! RTP port and the odd RTCP port after it, both bound before they are handed out.
//! A pair can be parked (its sockets taken off the runtime's reactor, for the
//! relay plane's own threads) and unparked again; its ports stay leased meanwhile.

use std::collections::VecDeque;
use std::net::{IpAddr, SocketAddr};
use std::sync::atomic::Ordering::Relaxed;
use std::sync::{Arc, Mutex};
use tokio::net::UdpSocket;

use crate::metrics::Metrics;

pub struct PortPool {
    free: Mutex<VecDeque<u16>>,
    bind_ip: IpAddr,
    /// Counts pairs in use as `switchyard_rtp_port_pairs_in_use`, when set.
    metrics: Option<Arc<Metrics>>,
}

/// A bound RTP+RTCP socket pair; the ports return to the pool on drop.
pub struct PortPair {
    pub rtp: UdpSocket,
    pub rtcp: UdpSocket,
    pub port: u16,
    lease: Lease,
}

/// The same pair with plain non-blocking sockets, off the runtime's reactor.
pub struct ParkedPair {
    pub rtp: std::net::UdpSocket,
    pub rtcp: std::net::UdpSocket,
    pub port: u16,
    lease: Lease,
}

/// The pair's hold on its ports: they go back to the pool when it drops.
struct Lease {
    port: u16,
    pool: Arc<PortPool>,
}

impl Drop for Lease {
    fn drop(&mut self) {
        if let Ok(mut f) = self.pool.free.lock() {
            f.push_back(self.port);
        }
        if let Some(m) = &self.pool.metrics {
            m.rtp_port_pairs_in_use.fetch_sub(1, Relaxed);
        }
    }
}

impl PortPair {
    /// Takes both sockets off the reactor (no readiness events reach the
    /// runtime for them any more). On failure the pair is gone (its ports are
    /// released), which only a failing `epoll_ctl` can cause.
    pub fn park(self) -> std::io::Result<ParkedPair> {
        let PortPair {
            rtp,
            rtcp,
            port,
            lease,
        } = self;
        Ok(ParkedPair {
            rtp: rtp.into_std()?,
            rtcp: rtcp.into_std()?,
            port,
            lease,
        })
    }
}

impl ParkedPair {
    /// Back onto the reactor of the current runtime.
    pub fn unpark(self) -> std::io::Result<PortPair> {
        let ParkedPair {
            rtp,
            rtcp,
            port,
            lease,
        } = self;
        Ok(PortPair {
            rtp: UdpSocket::from_std(rtp)?,
            rtcp: UdpSocket::from_std(rtcp)?,
            port,
            lease,
        })
    }
}

#[derive(Debug, thiserror::Error)]
#[error("no free RTP port pair in the configured range")]
pub struct PortsExhausted;

impl PortPool {
    pub fn new(low: u16, high: u16, bind_ip: IpAddr) -> Arc<Self> {
        Self::build(low, high, bind_ip, None)
    }

    /// A pool that reports the pairs in use to `metrics`.
    pub fn with_metrics(low: u16, high: u16, bind_ip: IpAddr, metrics: Arc<Metrics>) -> Arc<Self> {
        Self::build(low, high, bind_ip, Some(metrics))
    }

    fn build(low: u16, high: u16, bind_ip: IpAddr, metrics: Option<Arc<Metrics>>) -> Arc<Self> {
        let start = if low % 2 == 0 { low } else { low + 1 };
        let free = (start..high)
            .step_by(2)
            .filter(|p| p.checked_add(1).is_some_and(|q| q <= high))
            .collect();
        Arc::new(PortPool {
            free: Mutex::new(free),
            bind_ip,
            metrics,
        })
    }

    pub fn available(&self) -> usize {
        self.free.lock().map(|f| f.len()).unwrap_or(0)
    }

    /// Takes the next pair whose two ports can both be bound (others may hold some).
    pub fn allocate(self: &Arc<Self>) -> Result<PortPair, PortsExhausted> {
        let attempts = self.available();
        for _ in 0..attempts {
            let port = {
                let mut f = self.free.lock().map_err(|_| PortsExhausted)?;
                f.pop_front()
            };
            let Some(port) = port else { break };
            let rtp = std::net::UdpSocket::bind(SocketAddr::new(self.bind_ip, port));
            let rtcp = std::net::UdpSocket::bind(SocketAddr::new(self.bind_ip, port + 1));
            match (rtp, rtcp) {
                (Ok(a), Ok(b))
                    if a.set_nonblocking(true).is_ok() && b.set_nonblocking(true).is_ok() =>
                {
                    if let (Ok(rtp), Ok(rtcp)) = (UdpSocket::from_std(a), UdpSocket::from_std(b)) {
                        if let Some(m) = &self.metrics {
                            m.rtp_port_pairs_in_use.fetch_add(1, Relaxed);
                        }
                        return Ok(PortPair {
                            rtp,
                            rtcp,
                            port,
                            lease: Lease {
                                port,
                                pool: self.clone(),
                            },
                        });
                    }
                }
                _ => {}
            }
            // busy elsewhere: put it at the back and try the next one
            if let Ok(mut f) = self.free.lock() {
                f.push_back(port);
            }
        }
        Err(PortsExhausted)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    #[tokio::test]
    async fn pairs_are_even_and_recycled() {
        let pool = PortPool::new(41001, 41010, "127.0.0.1".parse().expect("ip"));
        assert_eq!(pool.available(), 4); // 41002,41004,41006,41008 (41010 has no odd partner in range)
        let a = pool.allocate().expect("pair");
        assert_eq!(a.port % 2, 0);
        let b = pool.allocate().expect("pair");
        assert_ne!(a.port, b.port);
        drop(a);
        assert_eq!(pool.available(), 3);
    }

    #[tokio::test]
    async fn a_parked_pair_keeps_its_ports_and_its_sockets_work_again_unparked() {
        let pool = PortPool::new(41021, 41030, "127.0.0.1".parse().expect("ip"));
        let a = pool.allocate().expect("pair");
        let port = a.port;
        let parked = a.park().expect("park");
        assert_eq!(pool.available(), 3, "still leased while parked");
        let peer = std::net::UdpSocket::bind("127.0.0.1:0").expect("peer");
        peer.send_to(b"x", ("127.0.0.1", port)).expect("send");
        let back = parked.unpark().expect("unpark");
        let mut buf = [0u8; 4];
        let (n, _) = tokio::time::timeout(
            std::time::Duration::from_secs(2),
            back.rtp.recv_from(&mut buf),
        )
        .await
        .expect("in time")
        .expect("recv");
        assert_eq!(&buf[..n], b"x");
        drop(back);
        assert_eq!(pool.available(), 4);
    }
}
