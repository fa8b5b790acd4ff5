//! Runtime-table scenarios: registration batches and expiry, CDRs, trunk lookup by source,
//! agents' stored choices.

use super::{plan, TestResult};
use crate::store::{AgentState, Cdr, CdrDirection, RegistrationRow, Store, Trunk, TrunkTransport};
use sqlx::Row;

fn registration(ext: usize, contact: usize, expires_at: i64, cseq: i64) -> RegistrationRow {
    RegistrationRow {
        account_id: "demo".into(),
        extension: format!("{}", 1000 + ext),
        contact: format!("sip:{}@192.0.2.{contact}:5060;transport=udp", 1000 + ext),
        expires_at,
        call_id: format!("reg-{ext}-{contact}"),
        cseq,
        source: format!("udp:192.0.2.{contact}:5060"),
        user_agent: contact.is_multiple_of(2).then(|| "baresip".to_owned()),
        instance: contact
            .is_multiple_of(3)
            .then(|| "<urn:uuid:00000000-0000-0000-0000-000000000001>".to_owned()),
    }
}

pub(super) async fn registrations_batch_load_purge(store: Store) -> TestResult {
    let now = 1_700_000_000_000_i64;
    // 600 extensions × 5 contacts: several full chunks and a partial one. Even extensions
    // live for an hour, odd ones expired a second ago.
    let mut rows: Vec<RegistrationRow> = (0..600)
        .flat_map(|e| (0..5).map(move |c| (e, c)))
        .map(|(e, c)| {
            registration(
                e,
                c,
                if e.is_multiple_of(2) {
                    now + 3_600_000
                } else {
                    now - 1_000
                },
                1,
            )
        })
        .collect();
    // A repeated key inside one batch: the later row wins.
    rows.push(registration(0, 0, now + 7_200_000, 2));
    let started = std::time::Instant::now();
    store.upsert_registrations(&rows).await?;
    eprintln!(
        "{:?}: upserted {} rows in {:?}",
        store.backend(),
        rows.len(),
        started.elapsed()
    );

    let live = store.load_registrations(now).await?;
    assert_eq!(live.len(), 300 * 5);
    assert!(live.iter().all(|r| r.expires_at > now));
    let first = live
        .iter()
        .find(|r| r.call_id == "reg-0-0")
        .ok_or("no reg-0-0")?;
    assert_eq!((first.cseq, first.expires_at), (2, now + 7_200_000));
    assert_eq!(
        live.iter().find(|r| r.call_id == "reg-2-3"),
        Some(&registration(2, 3, now + 3_600_000, 1))
    );

    // Refresh: same key, new values, no duplicate rows.
    store
        .upsert_registrations(&[registration(2, 3, now + 60_000, 9)])
        .await?;
    let live = store.load_registrations(now).await?;
    assert_eq!(live.len(), 1500);
    let refreshed = live
        .iter()
        .find(|r| r.call_id == "reg-2-3")
        .ok_or("no reg-2-3")?;
    assert_eq!((refreshed.cseq, refreshed.expires_at), (9, now + 60_000));
    // ... which expires on its own when time passes.
    assert_eq!(store.load_registrations(now + 120_000).await?.len(), 1499);

    let one = registration(4, 1, 0, 0);
    assert!(
        store
            .delete_registration("demo", &one.extension, &one.contact)
            .await?
    );
    assert!(
        !store
            .delete_registration("demo", &one.extension, &one.contact)
            .await?
    );
    assert_eq!(store.delete_registrations_for("demo", "1006").await?, 5);
    assert_eq!(store.load_registrations(now).await?.len(), 1494);

    assert_eq!(store.purge_expired_registrations(now).await?, 300 * 5);
    assert_eq!(store.purge_expired_registrations(now).await?, 0);
    assert_eq!(store.load_registrations(0).await?.len(), 1494);
    store.upsert_registrations(&[]).await?;
    Ok(())
}

pub(super) fn cdr(n: i64, answered: bool) -> Cdr {
    let started_at = 1_700_000_000_000 + n * 60_000;
    Cdr {
        id: format!("cdr-{n}"),
        call_id: format!("call-{n}@switchyard"),
        account_id: "demo".into(),
        caller: "1001".into(),
        callee: "+15550100199".into(),
        direction: if answered {
            CdrDirection::Outbound
        } else {
            CdrDirection::Internal
        },
        started_at,
        answered_at: answered.then_some(started_at + 2_000),
        ended_at: started_at + 32_000,
        duration_ms: 32_000,
        billsec_ms: if answered { 30_000 } else { 0 },
        hangup_cause: if answered {
            "normal_clearing"
        } else {
            "no_answer"
        }
        .into(),
        a_leg: format!("leg-a-{n}"),
        b_leg: answered.then(|| format!("leg-b-{n}")),
        answered_by: answered.then(|| "1002".into()),
    }
}

pub(super) async fn cdrs_insert_and_list(store: Store) -> TestResult {
    for (n, answered) in [(1, true), (3, false), (2, true)] {
        store.insert_cdr(&cdr(n, answered)).await?;
    }
    assert_eq!(store.list_cdrs(2).await?, vec![cdr(3, false), cdr(2, true)]);
    assert_eq!(store.list_cdrs(100).await?.len(), 3);
    // an extension's calls: those it placed, and those it answered (1002 took the answered ones)
    assert_eq!(store.list_cdrs_for("demo", "1001", 10).await?.len(), 3);
    assert_eq!(
        store.list_cdrs_for("demo", "1002", 10).await?,
        vec![cdr(2, true), cdr(1, true)]
    );
    assert!(store.list_cdrs_for("other", "1001", 10).await?.is_empty());
    assert!(
        store.insert_cdr(&cdr(1, true)).await.is_err(),
        "ids are unique"
    );
    Ok(())
}

pub(super) async fn trunk_by_source_prefers_port_match(store: Store) -> TestResult {
    let trunk = |id: &str, host: &str, port: u16| {
        format!("[[accounts.trunks]]\nid = \"{id}\"\nhost = \"{host}\"\nport = {port}\ntransport = \"tcp\"\n")
    };
    let text = format!(
        "[[accounts]]\nid = \"t\"\nname = \"T\"\nsip_domain = \"t.test\"\n{}{}{}",
        trunk("b-main", "192.0.2.1", 5060),
        trunk("a-alt", "192.0.2.1", 5061),
        trunk("named", "sip.carrier.test", 5060),
    );
    store.import_dialplan(&plan(&text)).await?;
    let id = |t: Option<Trunk>| t.map(|t| t.id);
    assert_eq!(
        id(store.trunk_by_source("192.0.2.1", 5060).await?).as_deref(),
        Some("b-main")
    );
    assert_eq!(
        id(store.trunk_by_source("192.0.2.1", 5061).await?).as_deref(),
        Some("a-alt")
    );
    // Host matches, port does not: still that carrier (lowest id first).
    assert_eq!(
        id(store.trunk_by_source("192.0.2.1", 40000).await?).as_deref(),
        Some("a-alt")
    );
    assert_eq!(
        id(store.trunk_by_source("sip.carrier.test", 5060).await?).as_deref(),
        Some("named")
    );
    assert_eq!(store.trunk_by_source("192.0.2.9", 5060).await?, None);
    assert_eq!(
        store.trunk_for_account("t").await?.ok_or("no trunk")?.id,
        "a-alt"
    );
    let all = store.list_trunks().await?;
    assert_eq!(all.len(), 3);
    assert!(all.iter().all(|t| t.transport == TrunkTransport::Tcp));
    Ok(())
}

pub(super) async fn agent_states_replace_and_read_back(store: Store) -> TestResult {
    let bob = AgentState {
        account_id: "demo".into(),
        extension: "1002".into(),
        logged_in: vec!["support".into()],
        logged_out: vec!["sales".into()],
        paused: Some("lunch".into()),
    };
    let carol = AgentState {
        account_id: "demo".into(),
        extension: "1003".into(),
        paused: Some(String::new()),
        ..AgentState::default()
    };
    store.save_agent_state(&bob, 1).await?;
    store.save_agent_state(&carol, 2).await?;
    assert_eq!(
        store.agent_states().await?,
        vec![bob.clone(), carol.clone()]
    );
    // a new state replaces the old rows; choosing nothing leaves none
    let back = AgentState {
        logged_in: vec![],
        paused: None,
        ..bob
    };
    store.save_agent_state(&back, 3).await?;
    store
        .save_agent_state(
            &AgentState {
                paused: None,
                ..carol
            },
            4,
        )
        .await?;
    assert_eq!(store.agent_states().await?, vec![back]);
    Ok(())
}

pub(super) async fn event_log_appends_in_batches_and_reads_after_an_id(store: Store) -> TestResult {
    use crate::events::Record;
    use std::sync::Arc;
    assert_eq!(store.last_event_seq().await?, 0);
    let rec = |seq: u64| {
        Arc::new(Record {
            seq,
            name: "channel_create".into(),
            account_id: if seq % 2 == 0 { "a" } else { "b" }.into(),
            timestamp_ms: 1_000 + seq as i64,
            json: format!("{{\"event\":\"channel_create\",\"n\":{seq}}}").into(),
            kept: None,
        })
    };
    // more rows than one INSERT statement takes
    let batch: Vec<_> = (1..=450).map(rec).collect();
    store.append_events(&batch).await?;
    assert_eq!(store.last_event_seq().await?, 450);
    let after = store.events_after(440, 5).await?;
    assert_eq!(
        after.iter().map(|r| r.seq).collect::<Vec<_>>(),
        [441, 442, 443, 444, 445]
    );
    assert_eq!(after[0], *rec(441));
    assert!(store.events_after(450, 10).await?.is_empty());
    // an id is never written twice
    assert!(store.append_events(&[rec(450)]).await.is_err());
    Ok(())
}

pub(super) async fn api_keys_are_stored_hashed_found_and_revoked(store: Store) -> TestResult {
    use crate::store::ApiKeyKind;
    store.import_dialplan(&super::demo()).await?;
    let (key, secret) = store
        .create_api_key("demo", ApiKeyKind::Developer, Some("crm"), 5)
        .await?;
    assert!(
        secret.starts_with("sy_dev_") && secret.len() == 47,
        "{secret}"
    );
    let (_, other) = store
        .create_api_key("demo", ApiKeyKind::Merchant, None, 6)
        .await?;
    assert_ne!(secret, other);
    // only the hash is kept
    let rows = sqlx::query("SELECT key_hash FROM api_keys")
        .fetch_all(store.pool())
        .await?;
    for r in &rows {
        // the key's shown prefix (type and four characters), then its SHA-256
        let h: String = r.try_get("key_hash")?;
        let (prefix, hash) = h.split_once(':').ok_or("no prefix")?;
        assert_eq!(prefix.len(), 11, "{h}");
        assert!(
            secret.starts_with(prefix) || other.starts_with(prefix),
            "{h}"
        );
        assert!(!h.contains(&secret) && !h.contains(&other) && hash.len() == 64);
    }
    assert_eq!(store.api_key_by_secret(&secret).await?, Some(key.clone()));
    assert!(store.api_key_by_secret("sy_dev_guess").await?.is_none());
    let listed = store.list_api_keys("demo").await?;
    assert_eq!(listed.len(), 2);
    assert_eq!(listed[1], key, "newest first");
    assert!(store.revoke_api_key(&key.id, 7).await?);
    assert!(!store.revoke_api_key(&key.id, 8).await?, "once");
    assert!(store.api_key_by_secret(&secret).await?.is_none());
    assert!(store.list_api_keys("demo").await?[1].revoked);
    // a key needs an account
    assert!(store
        .create_api_key("nobody", ApiKeyKind::User, None, 9)
        .await
        .is_err());
    Ok(())
}

pub(super) async fn event_ids_reserved_by_a_run_are_never_handed_out_again(
    store: Store,
) -> TestResult {
    // a run reserves 1..=100, hands some out, and crashes before writing any
    let (start, reserved) = store.event_log_start(100).await?;
    assert_eq!((start, reserved), (1, 100));
    // the next run starts above the whole reservation
    let (start, reserved) = store.event_log_start(100).await?;
    assert_eq!((start, reserved), (101, 200));
    // a reservation only grows
    store.reserve_event_ids(150).await?;
    store.reserve_event_ids(250).await?;
    let (start, _) = store.event_log_start(100).await?;
    assert_eq!(start, 251);
    // two nodes asking at once get distinct blocks
    let (a, b) = tokio::join!(store.grab_event_block(50), store.grab_event_block(50));
    let (a, b) = (a?, b?);
    assert!(a.1 < b.0 || b.1 < a.0, "disjoint: {a:?} {b:?}");
    assert_eq!((a.1 - a.0, b.1 - b.0), (49, 49));
    assert!(a.0.min(b.0) == 351);
    Ok(())
}

pub(super) async fn old_events_are_purged_in_steps(store: Store) -> TestResult {
    use crate::events::Record;
    use std::sync::Arc;
    // a running switch reserved ids 1-10 and used them
    assert_eq!(store.event_log_start(10).await?, (1, 10));
    let batch: Vec<_> = (1..=10u64)
        .map(|seq| {
            Arc::new(Record {
                seq,
                name: "dtmf".into(),
                account_id: "demo".into(),
                timestamp_ms: seq as i64 * 1_000,
                json: "{}".into(),
                kept: None,
            })
        })
        .collect();
    store.append_events(&batch).await?;
    // older than 7 s: ids 1-6, at most 4 a step
    assert_eq!(store.purge_events_before(7_000, 4).await?, 4);
    assert_eq!(store.purge_events_before(7_000, 4).await?, 2);
    assert_eq!(store.purge_events_before(7_000, 4).await?, 0);
    let left: Vec<u64> = store
        .events_after(0, 100)
        .await?
        .iter()
        .map(|r| r.seq)
        .collect();
    assert_eq!(left, [7, 8, 9, 10]);
    // a purge of everything does not restart the ids: the reservation remembers
    assert_eq!(store.purge_events_before(i64::MAX, 100).await?, 4);
    assert_eq!(store.event_log_start(10).await?.0, 11);
    Ok(())
}
