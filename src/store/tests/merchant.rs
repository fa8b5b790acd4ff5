//! The merchant tables on both backends: admission in one transaction (an
//! Idempotency-Key's twins in one batch, the limit, then a credit), workers'
//! leased claims, compare-and-set state changes, a payment confirmed once,
//! and the simulator's batched hand-off and reveal.

use super::{demo, TestResult};
use crate::store::{
    Admit, MerchantUpsert, NewMessage, PaymentRow, Settled, SimHandoff, Store, Transition,
    SIM_FAILURE,
};

fn new(pk: i64, to: &str, idem: Option<&str>, now: i64) -> NewMessage {
    NewMessage {
        account_id: "demo".into(),
        merchant_pk: pk,
        channel: "SMS",
        msg_type: "OTP",
        recipient: to.into(),
        payload: r#"{"message":"hi"}"#.into(),
        status: "QUEUED",
        next_at: now,
        units: 1,
        limit: 2,
        period: "2026-12-01".into(),
        idem: idem.map(|k| ("v1:demo:messages/sms".into(), k.into(), "hash".into())),
        now_ms: now,
    }
}

pub(super) async fn merchant_messages_are_admitted_claimed_and_settled(store: Store) -> TestResult {
    store.import_dialplan(&demo()).await?;
    let now = 1_800_000_000_000;
    let m = store
        .upsert_merchant(
            "demo",
            "gym-a",
            &MerchantUpsert {
                sms_limit: Some(2),
                ..Default::default()
            },
            now,
        )
        .await?;
    let answer = |_: &NewMessage, a: &Admit| match a {
        Admit::Accepted { id, .. } => (200, format!("{{\"messageId\":\"{id}\"}}")),
        _ => (402, "{}".to_string()),
    };
    // twins with one key in one batch: one message, the twin gets its answer
    let out = store
        .admit_batch(
            &[
                new(m.pk, "+15550001", Some("k1"), now),
                new(m.pk, "+15550001", Some("k1"), now),
            ],
            &answer,
        )
        .await?;
    let Admit::Accepted {
        id: first,
        used: 1,
        credit: false,
    } = out[0]
    else {
        panic!("{out:?}");
    };
    assert_eq!(
        out[1],
        Admit::Replay(200, format!("{{\"messageId\":\"{first}\"}}"))
    );
    // the limit of 2: one more, then refused; a credit pays for one over it
    let out = store
        .admit_batch(
            &[
                new(m.pk, "+15550002", None, now),
                new(m.pk, "+15550003", None, now),
            ],
            &answer,
        )
        .await?;
    assert!(matches!(out[0], Admit::Accepted { used: 2, .. }), "{out:?}");
    assert_eq!(out[1], Admit::LimitReached { used: 2 });
    assert_eq!(store.add_credits(m.pk, "SMS", 1).await?, Some(1));
    let out = store
        .admit_batch(&[new(m.pk, "+15550003", None, now)], &answer)
        .await?;
    assert!(
        matches!(
            out[0],
            Admit::Accepted {
                used: 3,
                credit: true,
                ..
            }
        ),
        "{out:?}"
    );
    assert_eq!(
        store.merchant_by_pk(m.pk).await?.map(|x| x.sms_credits),
        Some(0)
    );
    assert_eq!(store.merchant_usage(m.pk, "2026-12-01").await?.sms_used, 3);

    // a worker claims what is due; a second claim finds nothing
    let claimed = store
        .claim_due("SMS", 10, "n1:a", now, now + 60_000)
        .await?;
    assert_eq!(claimed.len(), 3);
    assert!(claimed
        .iter()
        .all(|c| c.status == "SENDING" && c.attempts == 1));
    assert!(store
        .claim_due("SMS", 10, "n1:b", now, now + 60_000)
        .await?
        .is_empty());
    // compare-and-set: SENT from SENDING once, never from a final state
    let sent = Transition {
        status: "SENT",
        provider: Some("simulator"),
        provider_ref: Some("sim-1"),
        ..Default::default()
    };
    assert!(store.advance(first, &["SENDING"], &sent, now).await?);
    assert!(!store.advance(first, &["SENDING"], &sent, now).await?);
    let done = Transition {
        status: "DELIVERED",
        is_final: true,
        ..Default::default()
    };
    assert!(store.advance(first, &["SENT"], &done, now).await?);
    let statuses: Vec<String> = store
        .message_events(first)
        .await?
        .into_iter()
        .map(|e| e.status)
        .collect();
    assert_eq!(statuses, ["QUEUED", "SENT", "DELIVERED"]);
    // a later run of node n1 finds the other two orphaned: they go to reconciliation
    assert_eq!(store.orphaned_to_reconcile("n1:", "n1:c", now).await?, 2);
    assert_eq!(store.due_in("RECONCILING", now, 10).await?.len(), 2);
    let sums = store.usage_sums("demo", now - 1, now + 1).await?;
    assert_eq!((sums[0].count, sums[0].pending), (1, 2), "{sums:?}");

    // a payment adds its credits once
    let p = PaymentRow {
        id: "pay_1".into(),
        account_id: "demo".into(),
        merchant_pk: m.pk,
        channel: "SMS".into(),
        units: 50,
        amount_cents: 100,
        currency: "USD".into(),
        payment_method_id: None,
        reference_id: None,
        note: None,
        status: "PENDING".into(),
        fulfilled: false,
        created_at: now,
        settled_at: None,
    };
    store.create_payment(&p).await?;
    assert!(matches!(
        store.confirm_payment("pay_1", now).await?,
        Settled::Confirmed { credits: 50, .. }
    ));
    assert!(
        matches!(store.confirm_payment("pay_1", now).await?, Settled::Already(ref x) if x.fulfilled)
    );
    assert_eq!(store.confirm_payment("nope", now).await?, Settled::NotFound);
    assert_eq!(
        store.merchant_by_pk(m.pk).await?.map(|x| x.sms_credits),
        Some(50)
    );
    Ok(())
}

/// The simulator's batched hand-off: the record and SENT commit together
/// for the messages still being sent; the outcomes are revealed (final,
/// with their lifecycle rows) only once due, and only once.
pub(super) async fn simulator_batches_hand_off_and_reveal_once(store: Store) -> TestResult {
    store.import_dialplan(&demo()).await?;
    let now = 1_800_000_000_000;
    let m = store
        .upsert_merchant(
            "demo",
            "gym-b",
            &MerchantUpsert {
                sms_limit: Some(100),
                ..Default::default()
            },
            now,
        )
        .await?;
    let answer = |_: &NewMessage, _: &Admit| (200, "{}".to_string());
    let batch: Vec<NewMessage> = (0..70)
        .map(|i| {
            let mut n = new(m.pk, &format!("+1555100{i:04}"), None, now);
            n.limit = 100;
            n
        })
        .collect();
    store.admit_batch(&batch, &answer).await?;
    let claimed = store
        .claim_due("SMS", 100, "n1:a", now, now + 60_000)
        .await?;
    assert_eq!(claimed.len(), 70);
    // one of them is no longer being sent (cancelled meanwhile): it is not handed over
    let cancel = Transition {
        status: "CANCELLED",
        is_final: true,
        ..Default::default()
    };
    assert!(
        store
            .advance(claimed[5].id, &["SENDING"], &cancel, now)
            .await?
    );
    let items: Vec<SimHandoff> = claimed
        .iter()
        .enumerate()
        .map(|(i, c)| SimHandoff {
            message: c,
            body: format!("text {i}"),
            outcome: if i % 10 == 0 {
                "UNDELIVERED"
            } else {
                "DELIVERED"
            },
        })
        .collect();
    let moved = store.simulate_batch(&items, now + 200, now).await?;
    assert_eq!(moved.len(), 69);
    assert!(!moved.contains(&claimed[5].id));
    let one = store.message_by_id(claimed[1].id).await?.expect("message");
    assert_eq!(
        (
            one.status.as_str(),
            one.provider.as_deref(),
            one.provider_ref.clone()
        ),
        ("SENT", Some("simulator"), Some(format!("sim-{}", one.id)))
    );
    // handing the same batch again changes nothing
    assert!(store
        .simulate_batch(&items, now + 200, now)
        .await?
        .is_empty());
    // not yet due; then revealed, once
    assert!(store.reveal_simulated(now + 100, 1000).await?.is_empty());
    let revealed = store.reveal_simulated(now + 200, 1000).await?;
    assert_eq!(revealed.len(), 69);
    let undelivered: Vec<i64> = revealed
        .iter()
        .filter(|(_, s)| *s == "UNDELIVERED")
        .map(|(m, _)| m.id)
        .collect();
    // indexes 0, 10, …, 60 (5 was cancelled, not among them)
    assert_eq!(undelivered.len(), 7);
    assert!(store.reveal_simulated(now + 300, 1000).await?.is_empty());
    let failed = store.message_by_id(claimed[0].id).await?.expect("message");
    assert_eq!(failed.status, "UNDELIVERED");
    assert!(failed.is_final);
    assert_eq!(failed.error.as_deref(), Some(SIM_FAILURE));
    let steps: Vec<String> = store
        .message_events(claimed[1].id)
        .await?
        .into_iter()
        .map(|e| e.status)
        .collect();
    assert_eq!(steps, ["QUEUED", "SENT", "DELIVERED"]);
    assert_eq!(
        store.simulated_outcome(claimed[0].id).await?.as_deref(),
        Some("UNDELIVERED")
    );
    assert_eq!(store.simulated_outcome(claimed[5].id).await?, None);
    Ok(())
}
