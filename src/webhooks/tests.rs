//! Delivery against a real HTTP receiver on loopback, with a real store (SQLite,
//! and PostgreSQL when `DATABASE_URL` is set) and a hand-driven clock: the
//! retry schedule of seconds to minutes passes in steps, while requests,
//! signatures and the attempts log are real.

use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::body::Bytes;
use axum::http::{HeaderMap, StatusCode};
use serde_json::{json, Value};

use super::*;
use crate::events::{ChannelInfo, Direction, Event};
use crate::ids::{AccountId, CallId, LegId};
use crate::store::tests::TestResult;

#[derive(Clone, Debug)]
struct Got {
    headers: HeaderMap,
    body: Bytes,
}

/// A receiver that answers 500 while `fail` is above zero (counting down),
/// or while the event's own count in `fail_event` is, then 200.
#[derive(Clone, Default)]
struct Receiver {
    got: Arc<Mutex<Vec<Got>>>,
    fail: Arc<AtomicU32>,
    fail_event: Arc<Mutex<std::collections::HashMap<String, u32>>>,
}

impl Receiver {
    async fn start(&self) -> String {
        let me = self.clone();
        let app = axum::Router::new().route(
            "/hook",
            axum::routing::post(move |headers: HeaderMap, body: Bytes| {
                let me = me.clone();
                async move {
                    let id = headers
                        .get("x-switchyard-event-id")
                        .and_then(|v| v.to_str().ok())
                        .unwrap_or_default()
                        .to_string();
                    me.got.lock().expect("lock").push(Got { headers, body });
                    let by_event = match me.fail_event.lock().expect("lock").get_mut(&id) {
                        Some(n) if *n > 0 => {
                            *n -= 1;
                            true
                        }
                        _ => false,
                    };
                    let failing = by_event
                        || me
                            .fail
                            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |n| n.checked_sub(1))
                            .is_ok();
                    if failing {
                        StatusCode::INTERNAL_SERVER_ERROR
                    } else {
                        StatusCode::OK
                    }
                }
            }),
        );
        let l = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let addr = l.local_addr().expect("addr");
        tokio::spawn(async move { axum::serve(l, app).await });
        format!("http://{addr}/hook")
    }

    fn all(&self) -> Vec<Got> {
        self.got.lock().expect("lock").clone()
    }

    /// Waits (real time) until `n` requests arrived.
    async fn wait_for(&self, n: usize) -> Vec<Got> {
        for _ in 0..500 {
            let all = self.all();
            if all.len() >= n {
                return all;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        panic!("{n} requests expected, {} arrived", self.all().len());
    }
}

fn header<'a>(g: &'a Got, name: &str) -> &'a str {
    g.headers
        .get(name)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
}

fn channel_create(call: CallId) -> Event {
    Event::ChannelCreate {
        channel: ChannelInfo {
            channel_id: LegId::new(),
            call_id: call,
            account_id: AccountId::from("demo"),
            sip_call_id: "x@y".into(),
            direction: Direction::Inbound,
            caller: "1001".into(),
            callee: "1002".into(),
            caller_name: Some("Alice".into()),
            callee_name: Some("Bob".into()),
            route: crate::events::Route {
                callflow: Some("5000".into()),
                ivr_choices: vec!["main-menu:1".into()],
                ring_group: None,
                queue_id: Some("support".into()),
            },
        },
        timestamp_ms: 1_700_000_000_000,
    }
}

struct Rig {
    hooks: Arc<Webhooks>,
    log: Arc<EventLog>,
    clock: Arc<ManualClock>,
    store: Store,
    rx: Receiver,
    url: String,
}

async fn rig(
    store: Store,
    disable_after: u32,
) -> Result<Rig, Box<dyn std::error::Error + Send + Sync>> {
    store.import_dialplan(&crate::store::tests::demo()).await?;
    let log = Arc::new(EventLog::new(1, 1_000));
    crate::store::event_log::spawn_writer(store.clone(), log.clone()).ok_or("a writer")?;
    let clock = Arc::new(ManualClock::new(1_700_000_000_000));
    let config = Config {
        allow_private: true,
        disable_after,
        key: [9; 32],
        ..Config::default()
    };
    let hooks = Webhooks::start(store.clone(), log.clone(), config, clock.clone()).await?;
    let rx = Receiver::default();
    let url = rx.start().await;
    Ok(Rig {
        hooks,
        log,
        clock,
        store,
        rx,
        url,
    })
}

async fn settle() {
    tokio::time::sleep(Duration::from_millis(150)).await;
}

/// Waits (real time) until the subscription has `n` deliveries pending
/// (their retry times are then fixed on the clock).
async fn pending(r: &Rig, id: &str, n: usize) {
    for _ in 0..500 {
        if r.store.pending(id).await.map(|p| p.len()).unwrap_or(0) == n {
            tokio::time::sleep(Duration::from_millis(20)).await;
            return;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    panic!("{n} pending deliveries expected");
}

async fn retries_follow_the_schedule_and_a_call_keeps_its_order(store: Store) -> TestResult {
    let r = rig(store, 0).await?;
    let demo = AccountId::from("demo");
    let (sub, secret) = r
        .hooks
        .create(&demo, &json!({"name": "t", "uri": r.url, "hook": "channel_create", "format": "json", "retries": 5}))
        .await
        .map_err(|e| e.to_string())?;
    let id = sub.id.to_string();
    // the first of the next events fails three times
    r.rx.fail_event
        .lock()
        .expect("lock")
        .insert((r.log.latest() + 1).to_string(), 3);
    let (x, y) = (CallId::new(), CallId::new());
    let a = r.log.append(&channel_create(x));
    let first = r.rx.wait_for(1).await;
    assert_eq!(header(&first[0], "x-switchyard-event-id"), a.to_string());
    // a second event of the same call waits behind the failed one; another call's does not
    let b = r.log.append(&channel_create(x));
    let c = r.log.append(&channel_create(y));
    let got = r.rx.wait_for(2).await;
    // a waits for its retry, b behind it
    pending(&r, &id, 2).await;
    settle().await;
    assert_eq!(r.rx.all().len(), 2, "call x's next event is held");
    assert_eq!(header(&got[1], "x-switchyard-event-id"), c.to_string());

    // the first retry is due 1 s (+ up to 10 %) after the first attempt
    r.clock.advance(Duration::from_millis(900));
    settle().await;
    assert_eq!(r.rx.all().len(), 2, "not before its time");
    r.clock.advance(Duration::from_millis(201));
    r.rx.wait_for(3).await;
    settle().await;
    r.clock.advance(Duration::from_millis(5_501));
    r.rx.wait_for(4).await;
    settle().await;
    assert_eq!(r.rx.all().len(), 4, "the third retry waits 30 s");
    r.clock.advance(Duration::from_millis(33_001));
    let all = r.rx.wait_for(6).await;
    let ids: Vec<&str> = all
        .iter()
        .map(|g| header(g, "x-switchyard-event-id"))
        .collect();
    let (a, b, c) = (a.to_string(), b.to_string(), c.to_string());
    assert_eq!(
        ids,
        [&a, &c, &a, &a, &a, &b],
        "x's events in order, after a's success"
    );
    let tries: Vec<&str> = all
        .iter()
        .filter(|g| header(g, "x-switchyard-event-id") == a)
        .map(|g| header(g, "x-switchyard-delivery-attempt"))
        .collect();
    assert_eq!(tries, ["1", "2", "3", "4"]);
    for g in &all {
        let sig = header(g, "x-switchyard-signature-256");
        assert!(
            sign::verify_switchyard(sig, &secret, &g.body, 1_700_000_100, 3_600),
            "signed: {sig}"
        );
        assert_eq!(header(g, "content-type"), "application/json");
        let body: Value = serde_json::from_slice(&g.body)?;
        assert_eq!(body["hook_event"], "channel_create");
        assert_eq!(body["event_id"], header(g, "x-switchyard-event-id"));
    }

    // the attempts log: three failures on the schedule, then the success
    let mut log = Vec::new();
    for _ in 0..100 {
        log = r
            .hooks
            .attempts(&demo, Some(&sub.id.to_string()), None, 50)
            .await
            .map_err(|e| e.to_string())?;
        if log.len() == 6 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let mut of_a: Vec<_> = log
        .iter()
        .filter(|x| x.event_seq.to_string() == a)
        .collect();
    of_a.sort_by_key(|x| x.attempt);
    let results: Vec<(&str, u32, Option<u16>)> = of_a
        .iter()
        .map(|x| (x.result.as_str(), x.retries_left, x.status_code))
        .collect();
    assert_eq!(
        results,
        [
            ("failure", 5, Some(500)),
            ("failure", 4, Some(500)),
            ("failure", 3, Some(500)),
            ("success", 0, Some(200))
        ]
    );
    let gaps: Vec<i64> = of_a.windows(2).map(|w| w[1].at - w[0].at).collect();
    assert!((1_000..=1_101).contains(&gaps[0]), "{gaps:?}");
    assert!((5_000..=5_501).contains(&gaps[1]), "{gaps:?}");
    assert!((30_000..=33_001).contains(&gaps[2]), "{gaps:?}");
    // nothing left pending, and the cursor is past every event
    assert!(r.store.pending(&sub.id.to_string()).await?.is_empty());
    for _ in 0..100 {
        let row = r
            .store
            .webhook("demo", &sub.id.to_string())
            .await?
            .ok_or("gone")?;
        if row.cursor >= 3 {
            return Ok(());
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    Err("the cursor was not saved".into())
}

async fn sustained_failure_disables_and_enabling_resumes(store: Store) -> TestResult {
    let r = rig(store, 2).await?;
    let demo = AccountId::from("demo");
    let (sub, _) = r
        .hooks
        .create(
            &demo,
            &json!({"name": "t", "uri": r.url, "hook": "channel_create", "retries": 1}),
        )
        .await
        .map_err(|e| e.to_string())?;
    let id = sub.id.to_string();
    r.rx.fail.store(u32::MAX, Ordering::Release);
    r.log.append(&channel_create(CallId::new()));
    r.log.append(&channel_create(CallId::new()));
    r.rx.wait_for(2).await;
    pending(&r, &id, 2).await;
    r.clock.advance(Duration::from_millis(1_101));
    r.rx.wait_for(4).await;
    let mut disabled = None;
    for _ in 0..100 {
        let got = r.hooks.get(&demo, &id).await.map_err(|e| e.to_string())?;
        if !got.settings.enabled {
            disabled = got.disabled_reason;
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let reason = disabled.ok_or("not disabled after two deliveries failed")?;
    assert!(
        reason.contains("2 deliveries in a row failed") && reason.contains("HTTP 500"),
        "{reason}"
    );
    // disabled: a new event waits
    let third = r.log.append(&channel_create(CallId::new()));
    settle().await;
    assert_eq!(r.rx.all().len(), 4);
    // re-enabled: delivery goes on from where it stopped
    r.rx.fail.store(0, Ordering::Release);
    let back = r
        .hooks
        .update(&demo, &id, &json!({"enabled": true}), true)
        .await
        .map_err(|e| e.to_string())?;
    assert!(back.settings.enabled && back.disabled_reason.is_none());
    let all = r.rx.wait_for(5).await;
    assert_eq!(header(&all[4], "x-switchyard-event-id"), third.to_string());
    // form-data is the default body
    assert_eq!(
        header(&all[4], "content-type"),
        "application/x-www-form-urlencoded"
    );
    Ok(())
}

async fn rotation_signs_with_both_secrets_for_the_grace_period(store: Store) -> TestResult {
    let r = rig(store, 0).await?;
    let demo = AccountId::from("demo");
    let (sub, old) = r
        .hooks
        .create(
            &demo,
            &json!({"name": "t", "uri": r.url, "hook": "CALL_ENDED", "format": "json"}),
        )
        .await
        .map_err(|e| e.to_string())?;
    let (_, new, _) = r
        .hooks
        .rotate(&demo, &sub.id.to_string(), Some(Duration::from_secs(60)))
        .await
        .map_err(|e| e.to_string())?;
    assert_ne!(old, new);
    let ended = |n: i64| {
        Event::CallEnded(crate::events::VoiceEvent {
            account_id: AccountId::from("demo"),
            timestamp: n,
            timestamp_ms: n * 1000,
            metadata: crate::events::VoiceMeta {
                uniqueid: CallId::new(),
                duration: Some(3),
                ..Default::default()
            },
        })
    };
    r.log.append(&ended(1_704_067_200));
    let got = r.rx.wait_for(1).await;
    let g = &got[0];
    let sig = header(g, "x-switchyard-signature-256");
    assert!(sign::verify_switchyard(
        sig,
        &new,
        &g.body,
        1_700_000_000,
        60
    ));
    assert!(
        sign::verify_switchyard(sig, &old, &g.body, 1_700_000_000, 60),
        "the old secret still signs"
    );
    assert_eq!(
        header(g, "x-voice360-signature"),
        sign::voice_signature(&new, &g.body)
    );
    let text = std::str::from_utf8(&g.body)?;
    assert!(
        text.starts_with(
            r#"{"event_name":"CALL_ENDED","account_id":"demo","timestamp":1704067200,"metadata":{"#
        ),
        "{text}"
    );
    // after the grace period only the new one signs
    r.clock.advance(Duration::from_secs(61));
    r.log.append(&ended(1_704_067_300));
    let got = r.rx.wait_for(2).await;
    let sig = header(&got[1], "x-switchyard-signature-256");
    assert_eq!(sig.matches("v1=").count(), 1);
    assert!(sign::verify_switchyard(
        sig,
        &new,
        &got[1].body,
        1_700_000_061,
        60
    ));
    // the secret at rest is sealed
    let row = r
        .store
        .webhook("demo", &sub.id.to_string())
        .await?
        .ok_or("gone")?;
    assert!(!row.secret.contains(&new[6..]) && row.secret.starts_with("v1:"));
    Ok(())
}

macro_rules! on_both {
    ($($name:ident),* $(,)?) => {
        mod sqlite {
            $( #[tokio::test] async fn $name() { crate::store::tests::run_sqlite(super::$name).await } )*
        }
        mod postgres {
            $( #[tokio::test] async fn $name() { crate::store::tests::run_postgres(super::$name).await } )*
        }
    };
}

on_both!(
    retries_follow_the_schedule_and_a_call_keeps_its_order,
    sustained_failure_disables_and_enabling_resumes,
    rotation_signs_with_both_secrets_for_the_grace_period,
);
