//! The webhook tables: subscriptions scoped to their account, cursors that
//! only move forward, pending deliveries replaced in place, attempts listed
//! newest first and purged by age.

use super::TestResult;
use crate::store::{AttemptRow, PendingRow, Store, WebhookRow};

fn row(id: &str, account: &str, created: i64) -> WebhookRow {
    WebhookRow {
        id: id.into(),
        account_id: account.into(),
        name: "n".into(),
        uri: "https://example.com/h".into(),
        hook: "channel_create".into(),
        http_verb: "post".into(),
        format: "json".into(),
        retries: 2,
        enabled: true,
        include_subaccounts: false,
        custom_data: "{}".into(),
        modifiers: "{}".into(),
        secret: "v1:sealed".into(),
        old_secret: None,
        old_secret_until: None,
        disabled_reason: None,
        failures: 0,
        cursor: 10,
        created_at: created,
        modified_at: created,
    }
}

fn attempt(id: &str, hook: &str, at: i64) -> AttemptRow {
    AttemptRow {
        id: id.into(),
        webhook_id: hook.into(),
        account_id: "demo".into(),
        event_seq: 11,
        event_name: "channel_create".into(),
        attempt: 1,
        at,
        result: "failure".into(),
        status_code: Some(503),
        latency_ms: 4,
        error: Some("HTTP 503".into()),
        response: Some("busy".into()),
        retries_left: 2,
    }
}

pub(super) async fn webhooks_pending_and_attempts_round_trip(store: Store) -> TestResult {
    store.import_dialplan(&super::demo()).await?;
    let w = row("w1", "demo", 1);
    store.insert_webhook(&w).await?;
    assert_eq!(store.webhook("demo", "w1").await?, Some(w.clone()));
    assert_eq!(
        store.webhook("other", "w1").await?,
        None,
        "another account's id"
    );
    let mut changed = w.clone();
    changed.enabled = false;
    changed.disabled_reason = Some("5 failed".into());
    changed.account_id = "other".into();
    assert!(
        !store.update_webhook(&changed).await?,
        "only its own account changes it"
    );
    changed.account_id = "demo".into();
    assert!(store.update_webhook(&changed).await?);
    let got = store.webhook("demo", "w1").await?.ok_or("gone")?;
    assert!(!got.enabled && got.disabled_reason.as_deref() == Some("5 failed"));

    store.set_webhook_cursor("w1", 20).await?;
    store.set_webhook_cursor("w1", 15).await?;
    assert_eq!(
        store.webhook("demo", "w1").await?.ok_or("gone")?.cursor,
        20,
        "never back"
    );
    store
        .rotate_webhook_secret("w1", "v1:new", Some("v1:sealed"), Some(99))
        .await?;
    let got = store.webhook("demo", "w1").await?.ok_or("gone")?;
    assert_eq!(
        (
            got.secret.as_str(),
            got.old_secret.as_deref(),
            got.old_secret_until
        ),
        ("v1:new", Some("v1:sealed"), Some(99))
    );

    let p = |seq, due, attempts| PendingRow {
        event_seq: seq,
        order_key: "call-1".into(),
        attempts,
        due_at: due,
        replay: false,
    };
    store
        .put_pendings("w1", &[p(12, None, 0), p(11, Some(500), 1)])
        .await?;
    store.put_pending("w1", &p(11, Some(900), 2)).await?;
    let mut replay = p(11, Some(5), 0);
    replay.replay = true;
    store.put_pending("w1", &replay).await?;
    let pend = store.pending("w1").await?;
    assert_eq!(pend.len(), 3);
    assert_eq!((pend[0].event_seq, pend[0].attempts), (11, 2));
    assert!(pend.iter().any(|r| r.replay && r.event_seq == 11));
    assert!(
        pend.iter()
            .any(|r| r.event_seq == 11 && !r.replay && r.due_at == Some(900)),
        "replaced in place"
    );
    store.delete_pending("w1", 11, false).await?;
    assert_eq!(store.pending("w1").await?.len(), 2);

    store.insert_webhook(&row("w2", "demo", 2)).await?;
    let rows: Vec<AttemptRow> = (0..130)
        .map(|i| {
            attempt(
                &format!("a{i:03}"),
                if i % 2 == 0 { "w1" } else { "w2" },
                1000 + i,
            )
        })
        .collect();
    store.insert_attempts(&rows).await?;
    let all = store.attempts("demo", None, None, 500).await?;
    assert_eq!(all.len(), 130);
    assert_eq!(all[0], rows[129], "newest first, every field back");
    let w1 = store.attempts("demo", Some("w1"), None, 500).await?;
    assert_eq!(w1.len(), 65);
    let page = store
        .attempts("demo", Some("w1"), Some((1010, "")), 3)
        .await?;
    assert_eq!(
        page.iter().map(|a| a.at).collect::<Vec<_>>(),
        [1008, 1006, 1004]
    );
    // attempts of one millisecond are paged through without a gap or a repeat
    let same: Vec<AttemptRow> = (0..5)
        .map(|i| attempt(&format!("b{i}"), "w1", 5000))
        .collect();
    store.insert_attempts(&same).await?;
    let mut seen = Vec::new();
    let mut key: Option<(i64, String)> = None;
    loop {
        let before = key.as_ref().map(|(at, id)| (*at, id.as_str()));
        let page = store.attempts("demo", Some("w1"), before, 2).await?;
        let Some(last) = page.last() else { break };
        key = Some((last.at, last.id.clone()));
        seen.extend(page.iter().filter(|a| a.at == 5000).map(|a| a.id.clone()));
        if last.at < 5000 {
            break;
        }
    }
    assert_eq!(seen, ["b4", "b3", "b2", "b1", "b0"]);
    assert!(store.attempts("other", None, None, 10).await?.is_empty());
    assert_eq!(
        store
            .attempt("demo", "w1", "a000")
            .await?
            .map(|a| a.event_seq),
        Some(11)
    );
    assert_eq!(store.attempt("demo", "w2", "a000").await?, None);
    assert_eq!(store.purge_attempts_before(1050, 1000).await?, 50);

    assert!(store.delete_webhook("demo", "w1").await?);
    assert!(store.pending("w1").await?.is_empty());
    assert_eq!(
        store.attempts("demo", Some("w1"), None, 500).await?.len(),
        0
    );
    assert!(!store.delete_webhook("demo", "w1").await?);
    Ok(())
}
