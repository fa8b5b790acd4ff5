//! TCP driver: accepts connections (capped per source IP), frames messages by
//! Content-Length, answers CRLF pings, and writes queued messages back over the
//! same connection. Also opens outbound connections on demand. The same
//! connection loop carries SIP over TLS ([`super::tls`]) once its handshake is done.

use bytes::Bytes;
use std::net::SocketAddr;
use std::sync::Arc;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
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
        spawn_conn(transports.clone(), stream, addr, TransportKind::Tcp);
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
    spawn_conn(transports, stream, addr, TransportKind::Tcp)
        .ok_or(TransportError::NoConnection(addr))
}

/// Runs one stream-framed SIP connection (TCP, or TLS after its handshake).
pub(super) fn spawn_conn<S>(
    transports: Arc<Transports>,
    stream: S,
    addr: SocketAddr,
    kind: TransportKind,
) -> Option<ConnId>
where
    S: AsyncRead + AsyncWrite + Send + 'static,
{
    let (tx, mut rx) = mpsc::channel::<Bytes>(256);
    let Some(id) = transports.add_conn(kind, addr, tx.clone()) else {
        tracing::warn!(%addr, "too many connections from this address; refused");
        return None;
    };
    let (mut rd, mut wr) = tokio::io::split(stream);
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
            kind,
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
                        tracing::warn!(%addr, ?kind, "closing connection: {e}");
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
