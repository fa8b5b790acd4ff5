//! Allocation of RTP/RTCP port pairs from the configured range. A pair is an even
//! RTP port and the odd RTCP port after it, both bound before they are handed out.

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
    pool: Arc<PortPool>,
}

impl Drop for PortPair {
    fn drop(&mut self) {
        if let Ok(mut f) = self.pool.free.lock() {
            f.push_back(self.port);
        }
        if let Some(m) = &self.pool.metrics {
            m.rtp_port_pairs_in_use.fetch_sub(1, Relaxed);
        }
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
                            pool: self.clone(),
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
}
