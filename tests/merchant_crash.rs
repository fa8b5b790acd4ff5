//! The dispatch queue survives `kill -9`: messages accepted before the crash
//! are all delivered after the restart, none twice (the simulator is the
//! provider: its records are what was handed over), and Idempotency-Keys
//! still answer with the first message across the restart. On the embedded
//! SQLite store and on PostgreSQL (when `DATABASE_URL` is set). Also the
//! seed's quickstart on PostgreSQL.

mod common;

use common::merchant::*;
use common::pg::TestDb;
use common::*;
use serde_json::json;
use std::collections::BTreeSet;
use std::time::{Duration, Instant};

const N: usize = 200;

fn crash_mid_dispatch(store: &[String]) {
    let mut extra = vec![
        "--dispatch-rate".to_string(),
        "15".to_string(),
        "--simulator-delay-ms".into(),
        "50".into(),
    ];
    extra.extend(store.iter().cloned());
    let mut sw = Switch::start(SwitchOpts {
        extra_args: extra,
        ..SwitchOpts::default()
    });
    let store_flags: Vec<String> = if store.is_empty() {
        vec![
            "--data-dir".into(),
            sw.tmp.path().join("data").display().to_string(),
        ]
    } else {
        store.to_vec()
    };
    let flags: Vec<&str> = store_flags.iter().map(String::as_str).collect();
    let p = merchant_pair(&flags, "demo");
    merchant(&sw, &p, "gym-a");
    let send = |sw: &Switch, i: usize| {
        let r = v1_post(
            sw,
            "/api/v1/messages/sms",
            &p,
            &json!({"merchantId": "gym-a", "to": format!("+1813555{i:04}"), "message": format!("crash test {i}"), "type": "TRANSACTIONAL"}),
            Some(&format!("crash-{i}")),
        );
        assert_eq!(r.status, 200, "{}", r.json);
        r.json["messageId"].as_str().expect("id").to_string()
    };
    let ids: Vec<String> = (0..N).map(|i| send(&sw, i)).collect();
    // some handed over, most still queued (15 a second): crash now
    let (_, sim) = http_json(
        sw.http,
        "GET",
        "/admin/simulator/messages?account=demo&limit=10000",
        &[],
        None,
    );
    let before = sim["messages"].as_array().map(Vec::len).unwrap_or(0);
    assert!(
        before < N,
        "everything was sent before the crash ({before}); slow the lane down"
    );
    sw.crash_and_restart();

    // the keys answer as before the crash
    for i in [0, N / 2, N - 1] {
        assert_eq!(send(&sw, i), ids[i], "key crash-{i}");
    }
    // every accepted message is delivered, once
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let (_, lanes) = http_json(sw.http, "GET", "/admin/merchant/lanes", &[], None);
        let sms = lanes["lanes"]
            .as_array()
            .expect("lanes")
            .iter()
            .find(|l| l["lane"] == "sms")
            .cloned()
            .expect("lane");
        if sms["delivered"].as_u64() == Some(N as u64) {
            break;
        }
        if Instant::now() > deadline {
            sw.dump_log();
            panic!("not all delivered after the crash: {lanes}");
        }
        std::thread::sleep(Duration::from_millis(200));
    }
    let (_, sim) = http_json(
        sw.http,
        "GET",
        "/admin/simulator/messages?account=demo&limit=10000",
        &[],
        None,
    );
    let handed: Vec<String> = sim["messages"]
        .as_array()
        .expect("list")
        .iter()
        .filter_map(|m| m["messageId"].as_str().map(str::to_string))
        .collect();
    assert_eq!(handed.len(), N, "each handed over once");
    let unique: BTreeSet<&String> = handed.iter().collect();
    assert_eq!(unique, ids.iter().collect::<BTreeSet<_>>());
}

#[test]
fn kill_9_between_queueing_and_sending_loses_nothing_and_sends_nothing_twice_sqlite() {
    crash_mid_dispatch(&[]);
}

#[test]
fn kill_9_between_queueing_and_sending_loses_nothing_and_sends_nothing_twice_postgres() {
    let Ok(base) = std::env::var("DATABASE_URL") else {
        eprintln!("DATABASE_URL not set: PostgreSQL integration test skipped");
        return;
    };
    let db = TestDb::create(&base);
    crash_mid_dispatch(&["--database-url".into(), db.url.clone()]);
}

#[test]
fn the_quickstart_on_postgres() {
    let Ok(base) = std::env::var("DATABASE_URL") else {
        eprintln!("DATABASE_URL not set: PostgreSQL integration test skipped");
        return;
    };
    let db = TestDb::create(&base);
    let sw = Switch::start(SwitchOpts {
        extra_args: vec!["--database-url".into(), db.url.clone()],
        ..SwitchOpts::default()
    });
    let p = merchant_pair(&["--database-url", &db.url], "demo");
    let r = v1_post(
        &sw,
        "/api/v1/merchants",
        &p,
        &json!({"merchantId": "gym-a", "displayName": "Gym A", "active": true, "smsLimit": 2, "voiceMinutesLimit": 1000, "emailLimit": 25000}),
        None,
    );
    assert_eq!(r.json["limits"]["smsLimit"], 2, "{}", r.json);
    let r = v1_post(
        &sw,
        "/api/v1/consents",
        &p,
        &json!({"merchantId": "gym-a", "channel": "SMS", "contact": "+18135551234", "status": "OPT_OUT", "source": "checkout-form"}),
        None,
    );
    assert_eq!(r.json["status"], "OPT_OUT", "{}", r.json);
    let r = v1_post(
        &sw,
        "/api/v1/messages/sms",
        &p,
        &json!({"merchantId": "gym-a", "to": "+18135551234", "message": "hi", "type": "OTP"}),
        None,
    );
    assert_v1_error(&r, 409, "CONSENT_OPTED_OUT");
    let ids: Vec<String> = std::thread::scope(|s| {
        let hs: Vec<_> = (0..6)
            .map(|_| s.spawn(|| v1_post(&sw, "/api/v1/messages/sms", &p, &json!({"merchantId": "gym-a", "to": "+18135550001", "message": "Your OTP is 1", "type": "OTP"}), Some("pg-otp")).json["messageId"].as_str().unwrap_or("none").to_string()))
            .collect();
        hs.into_iter().map(|h| h.join().expect("thread")).collect()
    });
    assert!(ids.iter().all(|i| i == &ids[0] && i != "none"), "{ids:?}");
    let m = wait_message(&sw, &p, &ids[0], &["DELIVERED"], Duration::from_secs(15));
    assert_eq!(m["attempts"], 1, "{m}");
    let rows = db.query("SELECT COUNT(*) AS n FROM merchant_messages");
    let n: i64 = sqlx::Row::get(&rows[0], "n");
    assert_eq!(n, 1, "one message for the racing twins");
    // the limit of 2: one more fits, the next is refused
    let send = |to: &str| {
        v1_post(
            &sw,
            "/api/v1/messages/sms",
            &p,
            &json!({"merchantId": "gym-a", "to": to, "message": "x", "type": "OTP"}),
            None,
        )
    };
    assert_eq!(send("+18135550002").status, 200);
    assert_v1_error(&send("+18135550003"), 402, "LIMIT_REACHED");
    let today = chrono::Utc::now().format("%Y-%m-%d").to_string();
    let deadline = Instant::now() + Duration::from_secs(15);
    loop {
        let r = v1_get(
            &sw,
            &format!("/api/v1/reports/usage?from={today}&to={today}"),
            &p,
        );
        if r.json["freshnessState"] == "FINAL" {
            assert_eq!(r.json["totalSmsCount"], 2, "{}", r.json);
            break;
        }
        assert!(Instant::now() < deadline, "{}", r.json);
        std::thread::sleep(Duration::from_millis(100));
    }
}
