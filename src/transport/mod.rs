//! IO drivers for SIP: UDP, TCP, TLS and (secure) WebSocket listeners, and the connection table
//! used to send over the connection a peer registered or sent on. Drivers parse at
//! the edge (refusing malformed input with 4xx where a response is possible) and
//! hand whole messages to the switch; they hold no protocol logic.

pub mod framing;
pub mod icmp;
pub mod tcp;
pub mod tls;
pub mod udp;
pub mod ws;

use bytes::Bytes;
use dashmap::DashMap;
use rsip::SipMessage;
use std::net::{IpAddr, SocketAddr};
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::sync::Arc;
use tokio::net::UdpSocket;
use tokio::sync::mpsc;

use crate::metrics::Metrics;
use crate::sip::message::{self, ParseError};
use crate::sip::target::{ConnId, Target, TransportKind};

/// Receives every well-formed inbound message.
pub type Inbound = Arc<dyn Fn(SipMessage, Target) + Send + Sync>;
/// Where a request we sent but could not deliver goes (the switch's shards).
pub type Undeliverable = Arc<dyn Fn(rsip::Request, SocketAddr) + Send + Sync>;
/// Told when a connection (TCP, TLS, WebSocket) closes.
pub type Closed = Arc<dyn Fn(ConnId, TransportKind) + Send + Sync>;

#[derive(Debug, thiserror::Error)]
pub enum TransportError {
    #[error("no connection to {0}")]
    NoConnection(SocketAddr),
    #[error("connection queue full")]
    QueueFull,
    #[error("io: {0}")]
    Io(#[from] std::io::Error),
}

struct Conn {
    tx: mpsc::Sender<Bytes>,
    kind: TransportKind,
    addr: SocketAddr,
}

/// The addresses the switch listens on, as written into Via and Contact.
#[derive(Clone, Debug)]
pub struct LocalAddrs {
    pub public_ip: IpAddr,
    pub udp_port: u16,
    pub tcp_port: u16,
    pub ws_port: u16,
    /// SIP over TLS, when it listens.
    pub tls_port: Option<u16>,
    /// SIP over secure WebSocket, when it listens.
    pub wss_port: Option<u16>,
}

impl LocalAddrs {
    pub fn port(&self, kind: TransportKind) -> u16 {
        match kind {
            TransportKind::Udp => self.udp_port,
            TransportKind::Tcp => self.tcp_port,
            TransportKind::Ws => self.ws_port,
            TransportKind::Tls => self.tls_port.unwrap_or(self.tcp_port),
            TransportKind::Wss => self.wss_port.unwrap_or(self.ws_port),
        }
    }
    /// `host:port` for a Via sent-by or Contact.
    pub fn host_port(&self, kind: TransportKind) -> String {
        match self.public_ip {
            IpAddr::V6(ip) => format!("[{ip}]:{}", self.port(kind)),
            IpAddr::V4(ip) => format!("{ip}:{}", self.port(kind)),
        }
    }
}

pub struct Transports {
    udp: Arc<UdpSocket>,
    conns: DashMap<ConnId, Conn>,
    by_addr: DashMap<(TransportKind, SocketAddr), ConnId>,
    per_ip: DashMap<IpAddr, usize>,
    next_id: AtomicU64,
    pub max_per_ip: usize,
    pub metrics: Arc<Metrics>,
    pub local: LocalAddrs,
    inbound: std::sync::OnceLock<Inbound>,
    undeliverable: std::sync::OnceLock<Undeliverable>,
    closed: std::sync::OnceLock<Closed>,
}

impl Transports {
    pub fn new(
        udp: Arc<UdpSocket>,
        local: LocalAddrs,
        max_per_ip: usize,
        metrics: Arc<Metrics>,
    ) -> Arc<Self> {
        Arc::new(Transports {
            udp,
            conns: DashMap::new(),
            by_addr: DashMap::new(),
            per_ip: DashMap::new(),
            next_id: AtomicU64::new(1),
            max_per_ip,
            metrics,
            local,
            inbound: std::sync::OnceLock::new(),
            undeliverable: std::sync::OnceLock::new(),
            closed: std::sync::OnceLock::new(),
        })
    }

    pub fn set_inbound(&self, inbound: Inbound) {
        let _ = self.inbound.set(inbound);
    }

    pub fn set_undeliverable(&self, f: Undeliverable) {
        let _ = self.undeliverable.set(f);
    }

    pub fn set_closed(&self, f: Closed) {
        let _ = self.closed.set(f);
    }

    /// Takes the queued ICMP errors off the SIP UDP socket and reports them.
    pub fn report_bounces(&self) {
        let mut buf = vec![0u8; 2048];
        for (bytes, dest) in icmp::drain(&self.udp, &mut buf) {
            self.undeliverable(&bytes, dest);
        }
    }

    /// A datagram we sent to `dest` bounced (ICMP unreachable): when it was a
    /// request, its transaction is told.
    pub fn undeliverable(&self, bytes: &[u8], dest: SocketAddr) {
        // the kernel returns only the start of the datagram (576 bytes with the
        // IP header): read the request line and headers, never the cut body
        let Some(head) = icmp::headers_only(bytes) else {
            return;
        };
        if let Ok(SipMessage::Request(req)) = message::parse(&head) {
            tracing::debug!(%dest, method = %req.method, "request undeliverable (ICMP)");
            if let Some(f) = self.undeliverable.get() {
                f(req, dest);
            }
        }
    }

    /// Sends one message. UDP goes straight out; TCP/WS go over the given connection,
    /// or any open connection to that address, or (TCP only) a new one.
    pub async fn send(
        self: &Arc<Self>,
        target: &Target,
        bytes: Bytes,
    ) -> Result<(), TransportError> {
        match target.kind {
            TransportKind::Udp => match self.udp.send_to(&bytes, target.addr).await {
                Ok(_) => Ok(()),
                Err(e) if icmp::is_pending_error(&e) => {
                    // an ICMP error for an earlier datagram surfaced on this send
                    // (the kernel reports it once, on whichever call comes first):
                    // hand the bounced requests to their transactions, then send
                    self.report_bounces();
                    self.udp.send_to(&bytes, target.addr).await?;
                    Ok(())
                }
                Err(e) => Err(e.into()),
            },
            kind => {
                let id = target
                    .conn
                    .filter(|id| self.conns.contains_key(id))
                    .or_else(|| self.by_addr.get(&(kind, target.addr)).map(|e| *e.value()));
                match id {
                    Some(id) => {
                        let tx = self.conns.get(&id).map(|c| c.tx.clone());
                        match tx {
                            Some(tx) => tx.try_send(bytes).map_err(|_| TransportError::QueueFull),
                            None => Err(TransportError::NoConnection(target.addr)),
                        }
                    }
                    None if kind == TransportKind::Tcp => {
                        // connect in the background: the caller (a shard) must never wait on it
                        let this = self.clone();
                        let addr = target.addr;
                        tokio::spawn(async move {
                            let sent = match tcp::connect(this.clone(), addr).await {
                                Ok(id) => this
                                    .conns
                                    .get(&id)
                                    .map(|c| c.tx.clone())
                                    .map(|tx| tx.try_send(bytes).is_ok()),
                                Err(e) => {
                                    tracing::debug!(%addr, "tcp connect failed: {e}");
                                    None
                                }
                            };
                            if sent != Some(true) {
                                tracing::info!(%addr, "could not send over a new TCP connection");
                            }
                        });
                        Ok(())
                    }
                    None => Err(TransportError::NoConnection(target.addr)),
                }
            }
        }
    }

    /// Registers a new connection unless its source IP already has too many.
    fn add_conn(
        &self,
        kind: TransportKind,
        addr: SocketAddr,
        tx: mpsc::Sender<Bytes>,
    ) -> Option<ConnId> {
        {
            let mut n = self.per_ip.entry(addr.ip()).or_insert(0);
            if *n >= self.max_per_ip {
                self.metrics.connections_refused.fetch_add(1, Relaxed);
                return None;
            }
            *n += 1;
        }
        let id = self.next_id.fetch_add(1, Relaxed);
        self.conns.insert(id, Conn { tx, kind, addr });
        self.by_addr.insert((kind, addr), id);
        self.metrics.connections.fetch_add(1, Relaxed);
        Some(id)
    }

    fn remove_conn(&self, id: ConnId) {
        if let Some((_, c)) = self.conns.remove(&id) {
            self.by_addr.remove_if(&(c.kind, c.addr), |_, v| *v == id);
            if let Some(mut n) = self.per_ip.get_mut(&c.addr.ip()) {
                *n = n.saturating_sub(1);
            }
            self.per_ip.remove_if(&c.addr.ip(), |_, n| *n == 0);
            self.metrics.connections.fetch_sub(1, Relaxed);
            if let Some(f) = self.closed.get() {
                f(id, c.kind);
            }
        }
    }

    pub fn is_connected(&self, id: ConnId) -> bool {
        self.conns.contains_key(&id)
    }

    /// Parses one datagram/frame and delivers it, or answers/drops what is malformed.
    /// Returns the bytes of an error response to send back, if any.
    fn receive(&self, data: &[u8], source: Target) -> Option<Vec<u8>> {
        match message::parse(data) {
            Ok(mut msg) => {
                match &mut msg {
                    SipMessage::Request(r) => {
                        self.metrics.sip_in.request(&r.method.to_string());
                        message::stamp_via(r, source.addr);
                    }
                    SipMessage::Response(r) => self.metrics.sip_in.response(r.status_code.code()),
                }
                if let Some(inbound) = self.inbound.get() {
                    inbound(msg, source);
                }
                None
            }
            Err(err) => {
                self.metrics.sip_parse_errors.fetch_add(1, Relaxed);
                let (code, reason) = err.status();
                let reply = match &err {
                    ParseError::Syntax(_) | ParseError::TooLarge { .. } => {
                        message::raw_reject(data, code, &reason)
                    }
                    _ => message::raw_reject(data, code, &reason),
                };
                log_rejected(&source, &err, reply.is_some());
                if reply.is_some() {
                    self.metrics.sip_out.response(code);
                }
                reply
            }
        }
    }
}

/// One warning line per second at most, so a flood of garbage cannot flood the log.
fn log_rejected(source: &Target, err: &ParseError, answered: bool) {
    static LAST: AtomicU64 = AtomicU64::new(0);
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0);
    if LAST.swap(now, Relaxed) != now {
        tracing::warn!(source = %source.addr, transport = ?source.kind, answered, "malformed SIP message: {err}");
    } else {
        tracing::debug!(source = %source.addr, answered, "malformed SIP message: {err}");
    }
}
