//! TLS for SIP (`--sip-tls`, RFC 3261 §26), for SIP over secure WebSocket
//! (`--sip-wss`, RFC 7118: browsers) and for the HTTPS listener that serves
//! the agent page. rustls with the ring provider; the certificate and key come
//! from PEM files, and `switchyard cert dev` writes a self-signed pair. Each
//! handshake runs in its own task under a deadline, so a slow or silent peer
//! holds up nobody; once done, the stream goes to the same connection loops as
//! TCP and WebSocket.

use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;
use tokio::net::{TcpListener, TcpStream};
use tokio_rustls::rustls;
use tokio_rustls::rustls::pki_types::pem::PemObject;
use tokio_rustls::rustls::pki_types::{CertificateDer, PrivateKeyDer};
use tokio_rustls::server::TlsStream;
use tokio_rustls::TlsAcceptor;

use super::Transports;
use crate::sip::target::TransportKind;

/// Longest a TLS (and WebSocket) handshake may take.
const HANDSHAKE: Duration = Duration::from_secs(10);

#[derive(Debug, thiserror::Error)]
pub enum TlsError {
    #[error("{what} {path}: {why} (make a development pair with `switchyard cert dev`)")]
    File {
        what: &'static str,
        path: String,
        why: String,
    },
    #[error("certificate and key do not make a TLS configuration: {0}")]
    Config(String),
}

/// A server configuration from a PEM certificate chain and its private key.
/// `alpn` lists the protocols offered (HTTPS: `http/1.1`; SIP: none).
pub fn server_config(
    cert: &Path,
    key: &Path,
    alpn: &[&[u8]],
) -> Result<Arc<rustls::ServerConfig>, TlsError> {
    let file_err = |what, path: &Path, why: String| TlsError::File {
        what,
        path: path.display().to_string(),
        why,
    };
    let chain: Vec<CertificateDer<'static>> = CertificateDer::pem_file_iter(cert)
        .map_err(|e| file_err("certificate", cert, e.to_string()))?
        .collect::<Result<_, _>>()
        .map_err(|e| file_err("certificate", cert, e.to_string()))?;
    if chain.is_empty() {
        return Err(file_err("certificate", cert, "no certificate in it".into()));
    }
    let key = PrivateKeyDer::from_pem_file(key).map_err(|e| file_err("key", key, e.to_string()))?;
    // ring's suites without the post-quantum key exchange (which ring lacks)
    #[allow(deprecated)]
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut cfg = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| TlsError::Config(e.to_string()))?
        .with_no_client_auth()
        .with_single_cert(chain, key)
        .map_err(|e| TlsError::Config(e.to_string()))?;
    cfg.alpn_protocols = alpn.iter().map(|p| p.to_vec()).collect();
    Ok(Arc::new(cfg))
}

/// A self-signed certificate for development: `(certificate PEM, key PEM)`,
/// valid for `hosts` (names or IP addresses) and for localhost.
pub fn dev_cert(hosts: &[String]) -> Result<(String, String), String> {
    let mut names: Vec<String> = vec!["localhost".into(), "127.0.0.1".into(), "::1".into()];
    for h in hosts {
        if !names.contains(h) {
            names.push(h.clone());
        }
    }
    let key = rcgen::KeyPair::generate().map_err(|e| e.to_string())?;
    let mut params = rcgen::CertificateParams::new(names).map_err(|e| e.to_string())?;
    params
        .distinguished_name
        .push(rcgen::DnType::CommonName, "Switchyard development");
    let cert = params.self_signed(&key).map_err(|e| e.to_string())?;
    Ok((cert.pem(), key.serialize_pem()))
}

/// Accepts TCP connections and runs their TLS handshakes, each in its own
/// task; finished streams are handed to `done`.
pub async fn accept_loop<F>(
    what: &'static str,
    listener: TcpListener,
    acceptor: TlsAcceptor,
    mut shutdown: tokio::sync::watch::Receiver<bool>,
    done: F,
) where
    F: Fn(TlsStream<TcpStream>, SocketAddr) + Clone + Send + 'static,
{
    loop {
        let (stream, addr) = tokio::select! {
            r = listener.accept() => match r {
                Ok(x) => x,
                Err(e) => {
                    tracing::warn!("{what} accept: {e}");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
            _ = shutdown.changed() => return,
        };
        let _ = stream.set_nodelay(true);
        let (acceptor, done) = (acceptor.clone(), done.clone());
        tokio::spawn(async move {
            match tokio::time::timeout(HANDSHAKE, acceptor.accept(stream)).await {
                Ok(Ok(tls)) => done(tls, addr),
                Ok(Err(e)) => tracing::debug!(%addr, "{what}: TLS handshake failed: {e}"),
                Err(_) => tracing::debug!(%addr, "{what}: TLS handshake timed out"),
            }
        });
    }
}

/// SIP over TLS: after the handshake, framed like TCP.
pub async fn run_sip_tls(
    transports: Arc<Transports>,
    listener: TcpListener,
    config: Arc<rustls::ServerConfig>,
    shutdown: tokio::sync::watch::Receiver<bool>,
) {
    let done = move |tls, addr| {
        super::tcp::spawn_conn(transports.clone(), tls, addr, TransportKind::Tls);
    };
    accept_loop(
        "SIP TLS",
        listener,
        TlsAcceptor::from(config),
        shutdown,
        done,
    )
    .await
}

/// SIP over secure WebSocket: after the handshake, the WebSocket loop.
pub async fn run_sip_wss(
    transports: Arc<Transports>,
    listener: TcpListener,
    config: Arc<rustls::ServerConfig>,
    shutdown: tokio::sync::watch::Receiver<bool>,
) {
    let done = move |tls, addr| {
        tokio::spawn(super::ws::serve_conn(
            transports.clone(),
            tls,
            addr,
            TransportKind::Wss,
        ));
    };
    accept_loop(
        "SIP WSS",
        listener,
        TlsAcceptor::from(config),
        shutdown,
        done,
    )
    .await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_dev_pair_makes_a_server_config() {
        let (cert, key) = dev_cert(&["switch.example".into()]).expect("dev cert");
        let dir = tempfile::tempdir().expect("tmp");
        let (c, k) = (dir.path().join("cert.pem"), dir.path().join("key.pem"));
        std::fs::write(&c, cert).expect("write");
        std::fs::write(&k, key).expect("write");
        assert!(server_config(&c, &k, &[b"http/1.1"]).is_ok());
    }

    #[test]
    fn missing_or_bad_files_say_which_and_how_to_fix() {
        let dir = tempfile::tempdir().expect("tmp");
        let c = dir.path().join("cert.pem");
        let err = server_config(&c, &c, &[]).expect_err("no file");
        assert!(err.to_string().contains("cert dev"), "{err}");
        std::fs::write(&c, "not a pem").expect("write");
        let err = server_config(&c, &c, &[]).expect_err("no cert");
        assert!(err.to_string().contains("certificate"), "{err}");
    }
}
