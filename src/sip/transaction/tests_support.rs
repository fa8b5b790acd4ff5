//! Test harness for the transaction layer: a fake clock driving one
//! [`TransactionLayer`] like a real driver would (fire each deadline in turn,
//! drain transmits and events with their timestamps), and SIP message
//! builders from raw text. Test-only; holds no protocol logic.

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use rsip::{Request, Response, SipMessage};

use super::{Incoming, Timers, TransactionLayer, Transmit, TxError, TxEvent, TxId};
use crate::sip::target::{Target, TransportKind};

pub(super) fn addr(s: &str) -> SocketAddr {
    s.parse().expect("test address")
}

pub(super) fn udp() -> Target {
    Target::udp(addr("192.0.2.10:5060"))
}

pub(super) fn tcp() -> Target {
    Target {
        kind: TransportKind::Tcp,
        addr: addr("192.0.2.10:5060"),
        conn: Some(7),
    }
}

pub(super) fn parse(text: &str) -> SipMessage {
    SipMessage::try_from(text).expect("test message parses")
}

pub(super) fn req(text: &str) -> Request {
    match parse(text) {
        SipMessage::Request(r) => r,
        SipMessage::Response(_) => panic!("expected a request"),
    }
}

pub(super) fn resp(text: &str) -> Response {
    match parse(text) {
        SipMessage::Response(r) => r,
        SipMessage::Request(_) => panic!("expected a response"),
    }
}

/// Parse what the layer sent.
pub(super) fn sent_msg(t: &Transmit) -> SipMessage {
    let text = std::str::from_utf8(&t.bytes).expect("utf8");
    parse(text)
}

/// A request with the given method, branch and Via sent-by.
pub(super) fn request_text(method: &str, branch: &str, sent_by: &str) -> String {
    format!(
        "{method} sip:bob@example.com SIP/2.0\r\n\
         Via: SIP/2.0/UDP {sent_by};branch={branch};rport\r\n\
         Max-Forwards: 70\r\n\
         Route: <sip:p1.example.com;lr>\r\n\
         Route: <sip:p2.example.com;lr>\r\n\
         From: Alice <sip:alice@example.com>;tag=1928301774\r\n\
         To: Bob <sip:bob@example.com>\r\n\
         Call-ID: a84b4c76e66710@pc33.example.com\r\n\
         CSeq: 314159 {method}\r\n\
         Contact: <sip:alice@192.0.2.1>\r\n\
         Content-Length: 0\r\n\r\n"
    )
}

pub(super) fn request(method: &str, branch: &str) -> Request {
    req(&request_text(method, branch, "192.0.2.1:5060"))
}

/// A response to `method` with top Via branch `branch`.
pub(super) fn response(code: u16, method: &str, branch: &str) -> Response {
    resp(&format!(
        "SIP/2.0 {code} Whatever\r\n\
         Via: SIP/2.0/UDP 192.0.2.1:5060;branch={branch};received=192.0.2.1;rport=5060\r\n\
         From: Alice <sip:alice@example.com>;tag=1928301774\r\n\
         To: Bob <sip:bob@example.com>;tag=a6c85cf\r\n\
         Call-ID: a84b4c76e66710@pc33.example.com\r\n\
         CSeq: 314159 {method}\r\n\
         Content-Length: 0\r\n\r\n"
    ))
}

/// One layer plus a fake clock; records every transmit and event with the
/// millisecond offset at which it left the layer.
pub(super) struct Harness {
    pub layer: TransactionLayer,
    pub t0: Instant,
    pub now: Instant,
    pub sent: Vec<(u64, Transmit)>,
    pub events: Vec<(u64, TxEvent)>,
}

impl Harness {
    pub fn new() -> Self {
        let t0 = Instant::now();
        Harness {
            layer: TransactionLayer::new(Timers::default()),
            t0,
            now: t0,
            sent: vec![],
            events: vec![],
        }
    }

    pub fn ms(&self) -> u64 {
        (self.now - self.t0).as_millis() as u64
    }

    fn drain(&mut self) {
        let ms = self.ms();
        while let Some(t) = self.layer.poll_transmit() {
            self.sent.push((ms, t));
        }
        while let Some(e) = self.layer.poll_event() {
            self.events.push((ms, e));
        }
    }

    /// Advance the clock to `ms`, firing every deadline on the way exactly at its time.
    pub fn run_until(&mut self, ms: u64) {
        let end = self.t0 + Duration::from_millis(ms);
        while let Some(deadline) = self.layer.poll_timeout() {
            if deadline > end {
                break;
            }
            assert!(deadline >= self.now, "deadline in the past");
            self.now = deadline;
            self.layer.handle_timeout(deadline);
            self.drain();
        }
        self.now = end;
        self.drain();
    }

    pub fn send_request(&mut self, r: Request, target: Target) -> TxId {
        let id = self.layer.send_request(self.now, r, target);
        self.drain();
        id
    }

    pub fn request_in(&mut self, r: Request, source: Target) -> Incoming {
        let incoming = self.layer.on_request(self.now, r, source);
        self.drain();
        incoming
    }

    pub fn response_in(&mut self, r: Response) -> Option<(TxId, Response)> {
        let out = self.layer.on_response(self.now, r, udp());
        self.drain();
        out
    }

    pub fn respond(&mut self, tx: TxId, r: Response) -> Result<(), TxError> {
        let out = self.layer.send_response(self.now, tx, r);
        self.drain();
        out
    }

    /// Millisecond offsets of every transmit so far.
    pub fn sent_times(&self) -> Vec<u64> {
        self.sent.iter().map(|(ms, _)| *ms).collect()
    }

    pub fn events_of(&self, tx: TxId) -> Vec<(u64, TxEvent)> {
        self.events
            .iter()
            .filter(|(_, e)| match e {
                TxEvent::Timeout { tx: t }
                | TxEvent::TransportError { tx: t }
                | TxEvent::Terminated { tx: t } => *t == tx,
            })
            .copied()
            .collect()
    }

    /// Start a new server transaction from `r` and return its id.
    pub fn new_server_tx(&mut self, r: Request, source: Target) -> TxId {
        match self.request_in(r, source) {
            Incoming::New { tx, .. } => tx,
            other => panic!("expected a new transaction, got {other:?}"),
        }
    }
}
