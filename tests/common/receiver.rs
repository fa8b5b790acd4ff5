//! A real webhook receiver for the tests: an HTTP server on loopback (axum on a
//! runtime of its own) that records every request, answers the status it is
//! told to, and checks each `X-Switchyard-Signature-256` (and
//! `X-Voice360-Signature`) with its own HMAC against the secrets it was given.
#![allow(dead_code)]

use std::collections::HashMap;
use std::sync::atomic::{AtomicU16, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::body::Bytes;
use axum::http::{HeaderMap, Method, StatusCode, Uri};
use hmac::{Hmac, Mac};
use sha2::Sha256;

#[derive(Clone, Debug)]
pub struct Delivery {
    pub method: String,
    pub path_and_query: String,
    pub headers: HashMap<String, String>,
    pub body: Vec<u8>,
    /// What the receiver answered.
    pub status: u16,
    /// Whether a signature checked out with a secret it was given.
    pub signed: bool,
    /// For voice-envelope deliveries: whether `X-Voice360-Signature` checked out.
    pub voice_signed: Option<bool>,
}

impl Delivery {
    pub fn header(&self, name: &str) -> &str {
        self.headers
            .get(name)
            .map(String::as_str)
            .unwrap_or_default()
    }

    pub fn event_id(&self) -> u64 {
        self.header("x-switchyard-event-id").parse().unwrap_or(0)
    }

    pub fn json(&self) -> serde_json::Value {
        serde_json::from_slice(&self.body).unwrap_or_default()
    }
}

#[derive(Default)]
struct State {
    got: Mutex<Vec<Delivery>>,
    status: AtomicU16,
    secrets: Mutex<Vec<String>>,
}

pub struct Receiver {
    pub url: String,
    state: Arc<State>,
}

fn hmac_hex(key: &str, parts: &[&[u8]]) -> String {
    let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(key.as_bytes()).expect("any key length");
    for p in parts {
        mac.update(p);
    }
    hex::encode(mac.finalize().into_bytes())
}

/// Checks `t=<unix>,v1=<hex>[,v1=…]` over `<t>.<signed>` with any of `secrets`.
pub fn verify(header: &str, secrets: &[String], signed: &[u8]) -> bool {
    let mut t = None;
    let mut sigs = Vec::new();
    for part in header.split(',') {
        match part.split_once('=') {
            Some(("t", v)) => t = Some(v.to_string()),
            Some(("v1", v)) => sigs.push(v.to_string()),
            _ => {}
        }
    }
    let Some(t) = t else { return false };
    let fresh = t
        .parse::<i64>()
        .map(|t| {
            let now = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map(|d| d.as_secs() as i64)
                .unwrap_or(0);
            (now - t).abs() < 300
        })
        .unwrap_or(false);
    fresh
        && secrets
            .iter()
            .any(|s| sigs.contains(&hmac_hex(s, &[t.as_bytes(), b".", signed])))
}

impl Receiver {
    /// Starts on a free loopback port, answering 200.
    pub fn start() -> Receiver {
        let state = Arc::new(State::default());
        state.status.store(200, Ordering::Release);
        let (tx, rx) = std::sync::mpsc::channel();
        let st = state.clone();
        std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_multi_thread()
                .worker_threads(1)
                .enable_all()
                .build()
                .expect("receiver runtime");
            rt.block_on(async move {
                let l = tokio::net::TcpListener::bind("127.0.0.1:0")
                    .await
                    .expect("bind");
                tx.send(l.local_addr().expect("addr")).expect("send addr");
                let app = axum::Router::new().fallback(
                    move |method: Method, uri: Uri, headers: HeaderMap, body: Bytes| {
                        let st = st.clone();
                        async move { record(&st, method, uri, headers, body) }
                    },
                );
                let _ = axum::serve(l, app).await;
            });
        });
        let addr = rx
            .recv_timeout(Duration::from_secs(5))
            .expect("receiver started");
        Receiver {
            url: format!("http://{addr}/hooks"),
            state,
        }
    }

    /// The status every request gets from now on.
    pub fn answer(&self, status: u16) {
        self.state.status.store(status, Ordering::Release);
    }

    /// A secret signatures may be made with.
    pub fn trust(&self, secret: &str) {
        self.state
            .secrets
            .lock()
            .expect("lock")
            .push(secret.to_string());
    }

    pub fn deliveries(&self) -> Vec<Delivery> {
        self.state.got.lock().expect("lock").clone()
    }

    /// Waits until `done` holds for what arrived (or the timeout passes).
    pub fn wait_for(&self, timeout: Duration, done: impl Fn(&[Delivery]) -> bool) -> Vec<Delivery> {
        let deadline = Instant::now() + timeout;
        loop {
            let all = self.deliveries();
            if done(&all) || Instant::now() > deadline {
                return all;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

fn record(st: &State, method: Method, uri: Uri, headers: HeaderMap, body: Bytes) -> StatusCode {
    let headers: HashMap<String, String> = headers
        .iter()
        .map(|(k, v)| {
            (
                k.as_str().to_string(),
                v.to_str().unwrap_or_default().to_string(),
            )
        })
        .collect();
    let secrets = st.secrets.lock().expect("lock").clone();
    let query = uri.query().unwrap_or_default().as_bytes().to_vec();
    let signed_bytes: &[u8] = if method == Method::GET { &query } else { &body };
    let signed = verify(
        headers
            .get("x-switchyard-signature-256")
            .map(String::as_str)
            .unwrap_or_default(),
        &secrets,
        signed_bytes,
    );
    let voice_signed = headers.get("x-voice360-signature").map(|h| {
        secrets
            .iter()
            .any(|s| *h == format!("sha256={}", hmac_hex(s, &[signed_bytes])))
    });
    let status = st.status.load(Ordering::Acquire);
    st.got.lock().expect("lock").push(Delivery {
        method: method.to_string(),
        path_and_query: uri
            .path_and_query()
            .map(|p| p.to_string())
            .unwrap_or_default(),
        headers,
        body: body.to_vec(),
        status,
        signed,
        voice_signed,
    });
    StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR)
}
