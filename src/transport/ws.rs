//! SIP over WebSocket (RFC 7118): accepts connections that offer the `sip`
//! subprotocol; each text or binary frame carries exactly one SIP message.

use bytes::Bytes;
use futures_util::{SinkExt, StreamExt};
use std::net::SocketAddr;
use std::sync::Arc;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::TcpListener;
use tokio::sync::mpsc;
use tokio_tungstenite::tungstenite::handshake::server::{ErrorResponse, Request, Response};
use tokio_tungstenite::tungstenite::http::{HeaderValue, StatusCode};
use tokio_tungstenite::tungstenite::Message;

use super::Transports;
use crate::sip::message::MAX_MESSAGE;
use crate::sip::target::{Target, TransportKind};

/// How often an idle WebSocket flow is pinged.
const KEEPALIVE: std::time::Duration = std::time::Duration::from_secs(25);

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
                    tracing::warn!("ws accept: {e}");
                    tokio::time::sleep(std::time::Duration::from_millis(50)).await;
                    continue;
                }
            },
            _ = shutdown.changed() => return,
        };
        let _ = stream.set_nodelay(true);
        tokio::spawn(serve_conn(
            transports.clone(),
            stream,
            addr,
            TransportKind::Ws,
        ));
    }
}

/// Runs one WebSocket SIP connection: the handshake (which must offer the
/// `sip` subprotocol), then one SIP message per frame both ways. Plain for
/// `ws:`, over a finished TLS handshake for `wss:`.
pub(super) async fn serve_conn<S>(
    t: Arc<Transports>,
    stream: S,
    addr: SocketAddr,
    kind: TransportKind,
) where
    S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let negotiate = |req: &Request, mut resp: Response| -> Result<Response, ErrorResponse> {
        let offered = req
            .headers()
            .get_all("sec-websocket-protocol")
            .iter()
            .filter_map(|v| v.to_str().ok())
            .flat_map(|v| v.split(','))
            .any(|p| p.trim().eq_ignore_ascii_case("sip"));
        if !offered {
            let mut e = ErrorResponse::new(Some("subprotocol 'sip' required".into()));
            *e.status_mut() = StatusCode::BAD_REQUEST;
            return Err(e);
        }
        resp.headers_mut()
            .insert("sec-websocket-protocol", HeaderValue::from_static("sip"));
        Ok(resp)
    };
    let cfg = tokio_tungstenite::tungstenite::protocol::WebSocketConfig::default()
        .max_message_size(Some(MAX_MESSAGE))
        .max_frame_size(Some(MAX_MESSAGE));
    let handshake = tokio_tungstenite::accept_hdr_async_with_config(stream, negotiate, Some(cfg));
    let ws = match tokio::time::timeout(std::time::Duration::from_secs(10), handshake).await {
        Ok(Ok(ws)) => ws,
        Ok(Err(e)) => {
            tracing::debug!(%addr, "websocket handshake failed: {e}");
            return;
        }
        Err(_) => return,
    };
    let (mut sink, mut stream) = ws.split();
    let (tx, mut rx) = mpsc::channel::<Bytes>(256);
    let Some(id) = t.add_conn(kind, addr, tx.clone()) else {
        tracing::warn!(%addr, "too many connections from this address; refused");
        return;
    };
    let writer = tokio::spawn(async move {
        // a ping keeps NATs and proxies from dropping an idle browser's flow
        let mut keepalive = tokio::time::interval(KEEPALIVE);
        keepalive.tick().await;
        loop {
            let msg = tokio::select! {
                b = rx.recv() => match b {
                    Some(b) => Message::text(String::from_utf8_lossy(&b).into_owned()),
                    None => break,
                },
                _ = keepalive.tick() => Message::Ping(Bytes::new()),
            };
            if sink.send(msg).await.is_err() {
                break;
            }
        }
        let _ = sink.close().await;
    });
    let source = Target {
        kind,
        addr,
        conn: Some(id),
    };
    while let Some(frame) = stream.next().await {
        let data: Bytes = match frame {
            Ok(Message::Text(s)) => Bytes::copy_from_slice(s.as_bytes()),
            Ok(Message::Binary(b)) => b,
            Ok(Message::Close(_)) | Err(_) => break,
            Ok(_) => continue,
        };
        if data.iter().all(|b| matches!(b, b'\r' | b'\n')) {
            continue;
        }
        if let Some(reply) = t.receive(&data, source) {
            let _ = tx.try_send(Bytes::from(reply));
        }
    }
    t.remove_conn(id);
    drop(tx);
    writer.abort();
}
