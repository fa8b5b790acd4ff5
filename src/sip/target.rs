//! Where a SIP message goes or came from: the transport kind, the remote socket
//! address and, for connection-oriented transports, the connection it belongs to.
//! Pure data shared by the sans-IO cores and the IO drivers.

use std::net::SocketAddr;

/// The transport a message travels over.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum TransportKind {
    Udp,
    Tcp,
    /// SIP over TLS over TCP (RFC 3261 §26.2; `sips:` and `transport=tls`).
    Tls,
    Ws,
    /// SIP over secure WebSocket (RFC 7118): browsers.
    Wss,
}

impl TransportKind {
    /// Reliable transports need no retransmission timers (RFC 3261 §17).
    pub fn is_reliable(self) -> bool {
        !matches!(self, TransportKind::Udp)
    }

    /// The token used in Via headers.
    pub fn via_token(self) -> &'static str {
        match self {
            TransportKind::Udp => "UDP",
            TransportKind::Tcp => "TCP",
            TransportKind::Tls => "TLS",
            TransportKind::Ws => "WS",
            TransportKind::Wss => "WSS",
        }
    }

    /// The value of a `transport=` URI parameter.
    pub fn uri_param(self) -> &'static str {
        match self {
            TransportKind::Udp => "udp",
            TransportKind::Tcp => "tcp",
            TransportKind::Tls => "tls",
            TransportKind::Ws => "ws",
            TransportKind::Wss => "wss",
        }
    }

    /// A WebSocket flow (plain or secure): a browser or a WebSocket SIP client.
    pub fn is_websocket(self) -> bool {
        matches!(self, TransportKind::Ws | TransportKind::Wss)
    }

    /// Parse a Via transport token or `transport=` parameter, case-insensitively.
    pub fn parse(token: &str) -> Option<Self> {
        if token.eq_ignore_ascii_case("udp") {
            Some(TransportKind::Udp)
        } else if token.eq_ignore_ascii_case("tcp") {
            Some(TransportKind::Tcp)
        } else if token.eq_ignore_ascii_case("tls") {
            Some(TransportKind::Tls)
        } else if token.eq_ignore_ascii_case("ws") {
            Some(TransportKind::Ws)
        } else if token.eq_ignore_ascii_case("wss") {
            Some(TransportKind::Wss)
        } else {
            None
        }
    }
}

/// Identifies one accepted or opened TCP/WebSocket connection.
pub type ConnId = u64;

/// A destination or source of SIP messages.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Target {
    pub kind: TransportKind,
    pub addr: SocketAddr,
    /// The connection to use for TCP/WS; `None` for UDP (or "open a new one").
    pub conn: Option<ConnId>,
}

impl Target {
    pub fn udp(addr: SocketAddr) -> Self {
        Target {
            kind: TransportKind::Udp,
            addr,
            conn: None,
        }
    }
}
