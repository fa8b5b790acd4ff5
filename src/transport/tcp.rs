//! TCP driver: accepts connections (capped per source IP), frames messages by
//! Content-Length, answers CRLF pings, and writes queued messages back over the
//! same connection. Also opens outbound connections on demand.

use bytes::Bytes;
use std::net::SocketAddr;
use std::sync::Arc;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::mpsc;

use super::framing::{Frame, Framer};
use super::{TransportError, Transports};
use crate::sip::target::{ConnId, Target, TransportKind};

pub async fn run(
    transports: Arc<Transports>,
    listener: TcpListener,
    mut shutdown: tokio::sync::watch::Receiver<bool>,
) {
    loop {
        let (stream, addr) = tokio::select! {
            r = listener.accept() => match r {
                Ok(x) => x,
                Err(e) => {
                    tracing::warn!("tcp accept: {e}");
                    tokio::time::sleep(std::time::Duration::from_millis(50)).await;
                    continue;
                }
            },
            _ = shutdown.changed() => return,
        };
        let _ = stream.set_nodelay(true);
        spawn_conn(transports.clone(), stream, addr);
    }
}

/// Opens a TCP connection to `addr` for sending requests to a peer we have no connection to.
pub async fn connect(
    transports: Arc<Transports>,
    addr: SocketAddr,
) -> Result<ConnId, TransportError> {
    let stream = tokio::time::timeout(std::time::Duration::from_secs(5), TcpStream::connect(addr))
        .await
        .map_err(|_| TransportError::NoConnection(addr))??;
    let _ = stream.set_nodelay(true);
    spawn_conn(transports, stream, addr).ok_or(TransportError::NoConnection(addr))
}

fn spawn_conn(transports: Arc<Transports>, stream: TcpStream, addr: SocketAddr) -> Option<ConnId> {
    let (tx, mut rx) = mpsc::channel::<Bytes>(256);
    let Some(id) = transports.add_conn(TransportKind::Tcp, addr, tx.clone()) else {
        tracing::warn!(%addr, "too many connections from this address; refused");
        return None;
    };
    let (mut rd, mut wr) = stream.into_split();
    tokio::spawn(async move {
        while let Some(b) = rx.recv().await {
            if wr.write_all(&b).await.is_err() {
                break;
            }
        }
    });
    let t = transports.clone();
    tokio::spawn(async move {
        let source = Target {
            kind: TransportKind::Tcp,
            addr,
            conn: Some(id),
        };
        let mut framer = Framer::default();
        let mut chunk = vec![0u8; 16384];
        'outer: loop {
            let n = match rd.read(&mut chunk).await {
                Ok(0) | Err(_) => break,
                Ok(n) => n,
            };
            framer.push(&chunk[..n]);
            loop {
                match framer.next_frame() {
                    Ok(Some(Frame::Message(m))) => {
                        if let Some(reply) = t.receive(&m, source) {
                            let _ = tx.try_send(Bytes::from(reply));
                        }
                    }
                    Ok(Some(Frame::Ping)) => {
                        let _ = tx.try_send(Bytes::from_static(b"\r\n"));
                    }
                    Ok(None) => break,
                    Err(e) => {
                        tracing::warn!(%addr, "closing TCP connection: {e}");
                        t.metrics
                            .sip_parse_errors
                            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                        break 'outer;
                    }
                }
            }
        }
        t.remove_conn(id);
    });
    Some(id)
}
