//! Several switch nodes on one PostgreSQL store with the event log on NATS
//! JetStream (`--nats-url`): two real nodes take calls from SIPp while a real
//! receiver checks every signature; one node is killed with SIGKILL under
//! load, and every event either node stored still arrives — with the id it
//! was stored under, none invented. A subscription made on one node is served
//! by the other too, and a change made on one (disable) holds on both.
//! Runs when `DATABASE_URL` is set and NATS answers at `NATS_URL` (default
//! `nats://127.0.0.1:4222`); otherwise it prints a notice and passes.

mod common;

use common::pg::TestDb;
use common::receiver::{Delivery, Receiver};
use common::*;
use serde_json::{json, Value};
use sqlx::Row;
use std::collections::BTreeSet;
use std::time::{Duration, Instant};

fn nats_url() -> Option<String> {
    let url = std::env::var("NATS_URL").unwrap_or_else(|_| "nats://127.0.0.1:4222".into());
    let hostport = url.trim_start_matches("nats://").to_string();
    let addr = std::net::ToSocketAddrs::to_socket_addrs(&hostport)
        .ok()?
        .next()?;
    std::net::TcpStream::connect_timeout(&addr, Duration::from_secs(1)).ok()?;
    Some(url)
}

struct Cluster {
    db: TestDb,
    nats: String,
    stream: String,
}

impl Cluster {
    fn new() -> Option<Cluster> {
        let Ok(base) = std::env::var("DATABASE_URL") else {
            eprintln!("DATABASE_URL not set: several-node test skipped");
            return None;
        };
        let Some(nats) = nats_url() else {
            eprintln!("NATS not reachable: several-node test skipped");
            return None;
        };
        Some(Cluster {
            db: TestDb::create(&base),
            nats,
            stream: format!("SYT_{}", uuid::Uuid::new_v4().simple()),
        })
    }

    fn node(&self, id: &str) -> Switch {
        let args = [
            "--database-url",
            &self.db.url,
            "--nats-url",
            &self.nats,
            "--nats-stream",
            &self.stream,
            "--node-id",
            id,
            "--webhooks-allow-private",
            "--webhooks-timeout",
            "2",
            "--webhooks-key",
            "7f3c9a1e5b2d4c6f8e0a1b3c5d7e9f21436587a9cbed0f1e2d3c4b5a69788796",
        ];
        Switch::start(SwitchOpts {
            extra_args: args.iter().map(|s| s.to_string()).collect(),
            ..SwitchOpts::default()
        })
    }

    fn key(&self) -> String {
        api_key(&["--database-url", &self.db.url], "demo", "developer")
    }

    /// Ids of the stored events named `names`.
    fn stored(&self, names: &[&str]) -> BTreeSet<u64> {
        let list = names
            .iter()
            .map(|n| format!("'{n}'"))
            .collect::<Vec<_>>()
            .join(",");
        self.db
            .query(&format!(
                "SELECT seq FROM event_log WHERE account_id = 'demo' AND name IN ({list})"
            ))
            .iter()
            .map(|r| r.get::<i64, _>("seq") as u64)
            .collect()
    }
}

impl Drop for Cluster {
    /// The stream is the test's own: it goes with it.
    fn drop(&mut self) {
        let (url, name) = (self.nats.clone(), self.stream.clone());
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("tokio runtime");
        rt.block_on(async move {
            if let Ok(c) = async_nats::connect(url).await {
                let _ = async_nats::jetstream::new(c).delete_stream(&name).await;
            }
        });
    }
}

fn v2(sw: &Switch, method: &str, path: &str, token: &str, body: Option<Value>) -> (u16, Value) {
    let body = body.map(|b| b.to_string());
    http_json(
        sw.http,
        method,
        path,
        &[("X-Auth-Token", token)],
        body.as_deref(),
    )
}

fn subscribe(sw: &Switch, token: &str, rx: &Receiver, hook: &str) -> String {
    let doc = json!({"data": {"name": hook, "uri": rx.url, "hook": hook, "format": "json", "retries": 10}});
    let (status, v) = v2(sw, "PUT", "/v2/accounts/demo/webhooks", token, Some(doc));
    assert_eq!(status, 201, "{v}");
    rx.trust(v["data"]["secret"].as_str().expect("secret"));
    v["data"]["id"].as_str().expect("id").to_string()
}

/// Calls from 1001 to the welcome app (7000), `n` of them at `rate`/s, each held `hold_ms`.
fn calls(sw: &Switch, n: u32, rate: u32, hold_ms: u32) -> RunningSipp {
    sw.sipp("bench/call_uac.xml")
        .key("caller", "1001")
        .key("password", "demo1001")
        .key("callee", "7000")
        .auth("1001", "demo1001")
        .arg("-m")
        .arg(&n.to_string())
        .arg("-r")
        .arg(&rate.to_string())
        .arg("-l")
        .arg("50")
        .arg("-d")
        .arg(&hold_ms.to_string())
        .spawn()
}

fn ok_ids(d: &[Delivery]) -> BTreeSet<u64> {
    d.iter()
        .filter(|x| x.status == 200)
        .map(Delivery::event_id)
        .collect()
}

#[test]
fn two_nodes_on_jetstream_lose_no_event_when_one_is_killed_under_load() {
    let Some(cl) = Cluster::new() else { return };
    let a = cl.node("a");
    let mut b = cl.node("b");
    let rx = Receiver::start();
    let token = cl.key();
    let hooks = ["channel_create", "channel_destroy"];
    // one made on each node: each node serves both
    subscribe(&a, &token, &rx, hooks[0]);
    subscribe(&b, &token, &rx, hooks[1]);
    // the other node picks the subscription up from the store
    std::thread::sleep(Duration::from_secs(3));

    let load_a = calls(&a, 60, 10, 300);
    let load_b = calls(&b, 60, 10, 300);
    // B dies with calls in flight, events stored and deliveries unacknowledged
    let deadline = Instant::now() + Duration::from_secs(20);
    while cl.stored(&hooks).len() < 40 && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(100));
    }
    b.kill();
    let out_a = load_a.wait();
    out_a.assert_ok();
    let _ = load_b.wait();

    let want = cl.stored(&hooks);
    assert!(
        want.len() >= 100,
        "both nodes stored events: {}",
        want.len()
    );
    let nodes: BTreeSet<String> = cl
        .db
        .query("SELECT DISTINCT node_id FROM event_log WHERE node_id IS NOT NULL")
        .iter()
        .map(|r| r.get::<String, _>("node_id"))
        .collect();
    assert_eq!(
        nodes,
        ["a".to_string(), "b".to_string()].into(),
        "each node stored some"
    );
    // B's unpublished events wait for it to fall silent (10 s), its
    // unacknowledged deliveries for their ack to be overdue (timeout + 5 s)
    let got = rx.wait_for(Duration::from_secs(60), |d| ok_ids(d).is_superset(&want));
    let ok = ok_ids(&got);
    let missing: Vec<_> = want.difference(&ok).collect();
    assert!(
        missing.is_empty(),
        "{} of {} stored events never arrived: {missing:?}\n{}",
        missing.len(),
        want.len(),
        a.log_text()
    );
    let invented: Vec<u64> = got
        .iter()
        .map(Delivery::event_id)
        .filter(|id| !want.contains(id))
        .collect();
    assert!(
        invented.is_empty(),
        "deliveries of no stored event: {invented:?}"
    );
    assert!(got.iter().all(|d| d.signed), "every delivery signed");
    // every delivery is the stored event it names
    let rows = cl.db.query(
        "SELECT seq, name FROM event_log WHERE account_id = 'demo' AND name IN ('channel_create','channel_destroy')",
    );
    let names: std::collections::HashMap<u64, String> = rows
        .iter()
        .map(|r| (r.get::<i64, _>("seq") as u64, r.get::<String, _>("name")))
        .collect();
    for d in &got {
        assert_eq!(
            d.header("x-switchyard-event-type"),
            names[&d.event_id()],
            "{}",
            String::from_utf8_lossy(&d.body)
        );
        assert_eq!(d.json()["hook_event"], names[&d.event_id()]);
    }
}

#[test]
fn a_change_made_on_one_node_holds_on_the_other() {
    let Some(cl) = Cluster::new() else { return };
    let a = cl.node("a");
    let b = cl.node("b");
    let rx = Receiver::start();
    let token = cl.key();
    let id = subscribe(&a, &token, &rx, "channel_create");
    std::thread::sleep(Duration::from_secs(3));
    // calls on B are delivered by the subscription made on A
    calls(&b, 3, 10, 100).wait().assert_ok();
    let want = cl.stored(&["channel_create"]);
    assert_eq!(want.len(), 3);
    let got = rx.wait_for(Duration::from_secs(15), |d| ok_ids(d).is_superset(&want));
    assert!(
        ok_ids(&got).is_superset(&want),
        "delivered: {:?}",
        ok_ids(&got)
    );

    // disabled on B: neither node delivers what comes next
    let (s, v) = v2(
        &b,
        "PATCH",
        &format!("/v2/accounts/demo/webhooks/{id}"),
        &token,
        Some(json!({"data": {"enabled": false}})),
    );
    assert_eq!(s, 200, "{v}");
    std::thread::sleep(Duration::from_secs(3));
    let before = rx.deliveries().len();
    calls(&a, 2, 10, 100).wait().assert_ok();
    calls(&b, 2, 10, 100).wait().assert_ok();
    std::thread::sleep(Duration::from_secs(3));
    assert_eq!(
        rx.deliveries().len(),
        before,
        "a disabled webhook delivered"
    );

    // enabled again on A: the events it held back arrive
    let (s, v) = v2(
        &a,
        "PATCH",
        &format!("/v2/accounts/demo/webhooks/{id}"),
        &token,
        Some(json!({"data": {"enabled": true}})),
    );
    assert_eq!(s, 200, "{v}");
    let want = cl.stored(&["channel_create"]);
    assert_eq!(want.len(), 7);
    let got = rx.wait_for(Duration::from_secs(20), |d| ok_ids(d).is_superset(&want));
    assert!(
        ok_ids(&got).is_superset(&want),
        "after enabling: {:?} of {want:?}",
        ok_ids(&got)
    );

    // replay by event id, asked of B: delivered once more
    let first = *want.iter().next().expect("an event");
    let n = |d: &[Delivery]| d.iter().filter(|x| x.event_id() == first).count();
    let had = n(&rx.deliveries());
    let (s, v) = v2(
        &b,
        "POST",
        &format!("/v2/accounts/demo/webhooks/{id}/replay"),
        &token,
        Some(json!({"data": {"event_id": first}})),
    );
    assert!(s == 200 || s == 202, "{s} {v}");
    let got = rx.wait_for(Duration::from_secs(15), |d| n(d) > had);
    assert_eq!(n(&got), had + 1, "replayed once");

    // deleted on A: B stops too
    let (s, _) = v2(
        &a,
        "DELETE",
        &format!("/v2/accounts/demo/webhooks/{id}"),
        &token,
        None,
    );
    assert_eq!(s, 200);
    std::thread::sleep(Duration::from_secs(3));
    let before = rx.deliveries().len();
    calls(&b, 2, 10, 100).wait().assert_ok();
    std::thread::sleep(Duration::from_secs(3));
    assert_eq!(rx.deliveries().len(), before, "a deleted webhook delivered");
}

#[test]
fn on_jetstream_a_retry_holds_the_next_event_of_its_call() {
    let Some(cl) = Cluster::new() else { return };
    let a = cl.node("a");
    let rx = Receiver::start();
    rx.answer(503);
    let token = cl.key();
    subscribe(&a, &token, &rx, "channel_create");
    // a B2BUA call: two legs, two channel_create events of one call
    let sink = RtpSink::bind();
    let callee = phone(&a, "1002", "uas_answer.xml", sink.port);
    caller(&a, "uac_call.xml", "1001", "1002").run().assert_ok();
    callee.wait().assert_ok();
    let want = cl.stored(&["channel_create"]);
    assert_eq!(want.len(), 2, "two legs");
    // the first is refused and waits for its retries (1 s, then 5 s):
    // the second waits behind it, untried
    let tried = rx.wait_for(Duration::from_secs(10), |d| d.len() >= 2);
    let ids: BTreeSet<u64> = tried.iter().map(Delivery::event_id).collect();
    assert_eq!(ids.len(), 1, "only the first event was tried: {ids:?}");
    let first = *want.iter().next().expect("first");
    assert!(ids.contains(&first), "{ids:?} {want:?}");
    rx.answer(200);
    let got = rx.wait_for(Duration::from_secs(20), |d| ok_ids(d).len() == 2);
    let order: Vec<u64> = got
        .iter()
        .filter(|d| d.status == 200)
        .map(Delivery::event_id)
        .collect();
    assert_eq!(
        order,
        want.iter().copied().collect::<Vec<_>>(),
        "in the call's order"
    );
    let attempts: Vec<u32> = got
        .iter()
        .filter(|d| d.event_id() == first)
        .map(|d| {
            d.header("x-switchyard-delivery-attempt")
                .parse()
                .unwrap_or(0)
        })
        .collect();
    assert_eq!(attempts[..2], [1, 2], "attempts counted: {attempts:?}");
}
