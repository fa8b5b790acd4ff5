//! The HTTP routes over TLS (`--https`): the agent page needs a secure origin
//! for the browser to open the microphone. Handshakes run concurrently (in
//! [`crate::transport::tls`]); finished connections queue for `axum::serve`,
//! and each request learns its peer's address as over plain HTTP.

use axum::extract::connect_info::{ConnectInfo, Connected};
use axum::serve::IncomingStream;
use axum::Router;
use std::net::SocketAddr;
use std::sync::Arc;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::mpsc;
use tokio_rustls::rustls;
use tokio_rustls::server::TlsStream;
use tokio_rustls::TlsAcceptor;

/// An HTTPS listener for `axum::serve`.
pub struct HttpsListener {
    rx: mpsc::Receiver<(TlsStream<TcpStream>, SocketAddr)>,
    local: SocketAddr,
}

impl HttpsListener {
    pub fn new(
        listener: TcpListener,
        config: Arc<rustls::ServerConfig>,
        shutdown: tokio::sync::watch::Receiver<bool>,
    ) -> std::io::Result<Self> {
        let local = listener.local_addr()?;
        let (tx, rx) = mpsc::channel(256);
        let done = move |tls, addr| {
            let _ = tx.try_send((tls, addr));
        };
        tokio::spawn(crate::transport::tls::accept_loop(
            "HTTPS",
            listener,
            TlsAcceptor::from(config),
            shutdown,
            done,
        ));
        Ok(HttpsListener { rx, local })
    }
}

impl axum::serve::Listener for HttpsListener {
    type Io = TlsStream<TcpStream>;
    type Addr = SocketAddr;

    async fn accept(&mut self) -> (Self::Io, Self::Addr) {
        match self.rx.recv().await {
            Some(c) => c,
            // the accept loop ended (shutdown): serve nothing more
            None => std::future::pending().await,
        }
    }

    fn local_addr(&self) -> std::io::Result<Self::Addr> {
        Ok(self.local)
    }
}

/// The peer of an HTTPS connection.
#[derive(Clone, Copy, Debug)]
struct TlsPeer(SocketAddr);

impl Connected<IncomingStream<'_, HttpsListener>> for TlsPeer {
    fn connect_info(stream: IncomingStream<'_, HttpsListener>) -> Self {
        TlsPeer(*stream.remote_addr())
    }
}

/// Serves `app` on `listener` until `shutdown`; handlers read the peer's
/// address as `ConnectInfo<SocketAddr>`, as over plain HTTP.
pub async fn serve(
    app: Router,
    listener: HttpsListener,
    mut shutdown: tokio::sync::watch::Receiver<bool>,
) {
    let app = app.layer(axum::middleware::map_request(
        |mut req: axum::extract::Request| async move {
            if let Some(ConnectInfo(TlsPeer(addr))) = req.extensions().get().copied() {
                req.extensions_mut().insert(ConnectInfo(addr));
            }
            req
        },
    ));
    let _ = axum::serve(
        listener,
        app.into_make_service_with_connect_info::<TlsPeer>(),
    )
    .with_graceful_shutdown(async move {
        let _ = shutdown.changed().await;
    })
    .await;
}
