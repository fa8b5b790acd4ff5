//! UDP driver: one receive loop per socket (several may share a socket), each
//! datagram parsed at the edge and delivered; CRLF keep-alives ignored; ICMP
//! errors for requests we sent are reported (`icmp`).

use std::sync::Arc;
use tokio::net::UdpSocket;

use super::Transports;
use crate::sip::target::Target;

pub async fn run(
    transports: Arc<Transports>,
    socket: Arc<UdpSocket>,
    mut shutdown: tokio::sync::watch::Receiver<bool>,
) {
    let mut buf = vec![0u8; 65536];
    loop {
        let (n, from) = tokio::select! {
            r = socket.recv_from(&mut buf) => match r {
                Ok(x) => x,
                Err(e) => {
                    // an ICMP error for something we sent (IP_RECVERR): find out what bounced
                    tracing::debug!("udp recv error: {e}");
                    for (bytes, dest) in super::icmp::drain(&socket, &mut buf) {
                        transports.undeliverable(&bytes, dest);
                    }
                    continue;
                }
            },
            _ = shutdown.changed() => return,
        };
        let data = &buf[..n];
        if data.iter().all(|b| matches!(b, b'\r' | b'\n' | 0)) {
            continue; // keep-alive
        }
        if let Some(reply) = transports.receive(data, Target::udp(from)) {
            let _ = socket.send_to(&reply, from).await;
        }
    }
}
