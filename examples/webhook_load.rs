//! Webhook delivery under load: the switch's real delivery path — the event
//! log, its durable writer (SQLite file, or PostgreSQL with `--database-url`),
//! one worker per subscription, HMAC signing, the pooled HTTP client — to a
//! local HTTP receiver (its own thread) that checks every signature. Events
//! are published at `--rate` per second; the figures are deliveries per
//! second and the latency from publishing an event to the receiver having it.
//!
//! `cargo run --release --example webhook_load -- --events 60000 --rate 6000`

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::body::Bytes;
use axum::http::{HeaderMap, StatusCode};
use hmac::{Hmac, Mac};
use serde_json::json;
use sha2::Sha256;

use switchyard::events::{ChannelInfo, Direction, Event, EventLog};
use switchyard::ids::{AccountId, CallId, LegId};
use switchyard::store::Store;
use switchyard::webhooks::{Config, SystemClock, Webhooks};

struct Args {
    events: u64,
    rate: u64,
    subs: usize,
    database_url: Option<String>,
}

fn args() -> Args {
    let mut a = Args {
        events: 60_000,
        rate: 6_000,
        subs: 1,
        database_url: None,
    };
    let mut it = std::env::args().skip(1);
    while let Some(k) = it.next() {
        let v = it.next().unwrap_or_default();
        match k.as_str() {
            "--events" => a.events = v.parse().unwrap_or(a.events),
            "--rate" => a.rate = v.parse().unwrap_or(a.rate),
            "--subs" => a.subs = v.parse().unwrap_or(a.subs),
            "--database-url" => a.database_url = Some(v),
            other => eprintln!("unknown flag {other}"),
        }
    }
    a
}

#[derive(Default)]
struct Seen {
    /// (event id, latency µs)
    got: Mutex<Vec<(u64, u64)>>,
    bad_signatures: AtomicU64,
}

fn verify(header: &str, secrets: &[String], body: &[u8]) -> bool {
    let t = header
        .split(',')
        .find_map(|p| p.strip_prefix("t="))
        .unwrap_or_default();
    let sigs: Vec<&str> = header
        .split(',')
        .filter_map(|p| p.strip_prefix("v1="))
        .collect();
    secrets.iter().any(|s| {
        let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(s.as_bytes()).expect("key");
        mac.update(t.as_bytes());
        mac.update(b".");
        mac.update(body);
        let want = hex::encode(mac.finalize().into_bytes());
        sigs.contains(&want.as_str())
    })
}

fn receiver(
    seen: Arc<Seen>,
    published: Arc<Vec<AtomicU64>>,
    epoch: Instant,
    secrets: Arc<Mutex<Vec<String>>>,
) -> std::net::SocketAddr {
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("rt");
        rt.block_on(async move {
            let l = tokio::net::TcpListener::bind("127.0.0.1:0")
                .await
                .expect("bind");
            tx.send(l.local_addr().expect("addr")).expect("addr");
            let app = axum::Router::new().route(
                "/hook",
                axum::routing::post(move |headers: HeaderMap, body: Bytes| {
                    let (seen, published, secrets) =
                        (seen.clone(), published.clone(), secrets.clone());
                    async move {
                        let now = epoch.elapsed().as_micros() as u64;
                        let id: u64 = headers
                            .get("x-switchyard-event-id")
                            .and_then(|v| v.to_str().ok())
                            .and_then(|v| v.parse().ok())
                            .unwrap_or(0);
                        let sig = headers
                            .get("x-switchyard-signature-256")
                            .and_then(|v| v.to_str().ok())
                            .unwrap_or_default();
                        let secrets = secrets.lock().expect("lock").clone();
                        if !verify(sig, &secrets, &body) {
                            seen.bad_signatures.fetch_add(1, Ordering::Relaxed);
                        }
                        let at = published
                            .get(id as usize)
                            .map(|p| p.load(Ordering::Acquire))
                            .unwrap_or(0);
                        seen.got
                            .lock()
                            .expect("lock")
                            .push((id, now.saturating_sub(at)));
                        StatusCode::OK
                    }
                }),
            );
            let _ = axum::serve(l, app).await;
        });
    });
    rx.recv().expect("receiver address")
}

fn event(call: CallId) -> Event {
    Event::ChannelCreate {
        channel: ChannelInfo {
            channel_id: LegId::new(),
            call_id: call,
            account_id: AccountId::from("demo"),
            sip_call_id: "bench@switchyard".into(),
            direction: Direction::Inbound,
            caller: "+15551230000".into(),
            callee: "1002".into(),
            caller_name: None,
            callee_name: None,
            route: Default::default(),
        },
        timestamp_ms: switchyard::events::now_ms(),
    }
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let a = args();
    let dir = tempfile::tempdir()?;
    let url = a
        .database_url
        .clone()
        .unwrap_or_else(|| format!("sqlite://{}/bench.db?mode=rwc", dir.path().display()));
    let store = Store::connect(&url).await?;
    let demo = switchyard::dialplan::load_file(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/dialplans/demo.toml"
    ))?;
    store.import_dialplan(&demo).await?;
    let (first, _) = store.event_log_start(1_000_000).await?;
    let log = Arc::new(EventLog::new(first, 65_536));
    switchyard::store::event_log::spawn_writer(store.clone(), log.clone()).ok_or("no writer")?;
    let epoch = Instant::now();
    let top = (first + a.events + 1) as usize;
    let published: Arc<Vec<AtomicU64>> = Arc::new((0..top).map(|_| AtomicU64::new(0)).collect());
    let seen = Arc::new(Seen::default());
    let secrets = Arc::new(Mutex::new(Vec::new()));
    let addr = receiver(seen.clone(), published.clone(), epoch, secrets.clone());
    let config = Config {
        allow_private: true,
        key: rand_key(),
        ..Config::default()
    };
    let hooks = Webhooks::start(store.clone(), log.clone(), config, Arc::new(SystemClock)).await?;
    for i in 0..a.subs {
        let (_, secret) = hooks
            .create(
                &AccountId::from("demo"),
                &json!({"name": format!("bench-{i}"), "uri": format!("http://{addr}/hook"),
                "hook": "channel_create", "format": "json"}),
            )
            .await
            .map_err(|e| e.to_string())?;
        secrets.lock().expect("lock").push(secret);
    }

    let want = a.events * a.subs as u64;
    let start = Instant::now();
    let per_ms = (a.rate as f64 / 1000.0).max(0.001);
    let mut sent = 0u64;
    let calls: Vec<CallId> = (0..512).map(|_| CallId::new()).collect();
    while sent < a.events {
        let due = ((start.elapsed().as_secs_f64() * 1000.0) * per_ms) as u64;
        while sent < due.min(a.events) {
            let seq = log.append(&event(calls[(sent % 512) as usize]));
            if let Some(p) = published.get(seq as usize) {
                p.store(epoch.elapsed().as_micros() as u64, Ordering::Release);
            }
            sent += 1;
        }
        tokio::time::sleep(Duration::from_millis(1)).await;
    }
    let published_in = start.elapsed();
    let deadline = Instant::now() + Duration::from_secs(120);
    while (seen.got.lock().expect("lock").len() as u64) < want && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let took = start.elapsed();
    let mut lat: Vec<u64> = seen
        .got
        .lock()
        .expect("lock")
        .iter()
        .map(|(_, l)| *l)
        .collect();
    lat.sort_unstable();
    let pct = |p: f64| {
        lat.get(((lat.len() as f64 * p) as usize).min(lat.len().saturating_sub(1)))
            .copied()
            .unwrap_or(0) as f64
            / 1000.0
    };
    println!(
        "events {} x {} subscription(s) at {} /s (published in {:.2} s): delivered {} in {:.2} s = {:.0} deliveries/s; \
         latency ms p50 {:.1} p90 {:.1} p99 {:.1} max {:.1}; bad signatures {}",
        a.events,
        a.subs,
        a.rate,
        published_in.as_secs_f64(),
        lat.len(),
        took.as_secs_f64(),
        lat.len() as f64 / took.as_secs_f64(),
        pct(0.5),
        pct(0.9),
        pct(0.99),
        lat.last().copied().unwrap_or(0) as f64 / 1000.0,
        seen.bad_signatures.load(Ordering::Relaxed)
    );
    hooks.stop().await;
    Ok(())
}

fn rand_key() -> [u8; 32] {
    let mut k = [0u8; 32];
    for (i, b) in k.iter_mut().enumerate() {
        *b = (i as u8).wrapping_mul(37).wrapping_add(11);
    }
    k
}
