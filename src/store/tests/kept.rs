//! Rows kept with their events (CDR, recording, voicemail, IVR decision) reach
//! the store in the event batch's transaction: with the event, or not at all;
//! a row the database refuses for good does not hold up the log.

use std::sync::Arc;
use std::time::Duration;

use super::TestResult;
use crate::events::kept::Kept;
use crate::events::{ChannelInfo, Direction, Event, EventLog};
use crate::ids::{AccountId, CallId, LegId};
use crate::store::{IvrAudit, Store};

fn ev() -> Event {
    Event::ChannelAnswer {
        channel: ChannelInfo {
            channel_id: LegId::new(),
            call_id: CallId::new(),
            account_id: AccountId::from("demo"),
            sip_call_id: String::new(),
            direction: Direction::Inbound,
            caller: "1001".into(),
            callee: "1002".into(),
            caller_name: None,
            callee_name: None,
            route: Default::default(),
        },
        timestamp_ms: 1,
    }
}

async fn durable(log: &EventLog, upto: u64) -> TestResult {
    let mut d = log.durable().ok_or("a writer is attached")?;
    tokio::time::timeout(Duration::from_secs(10), d.wait_for(|v| *v >= upto)).await??;
    Ok(())
}

pub(super) async fn rows_kept_with_events_share_their_transaction(store: Store) -> TestResult {
    store.import_dialplan(&super::demo()).await?;
    let log = Arc::new(EventLog::new(1, 100));
    assert!(
        log.durable().is_none(),
        "nothing to wait for without a writer"
    );
    crate::store::event_log::spawn_writer(store.clone(), log.clone()).ok_or("writer")?;
    assert!(
        crate::store::event_log::spawn_writer(store.clone(), log.clone()).is_none(),
        "one writer"
    );
    let audit = IvrAudit {
        id: "a1".into(),
        account_id: "demo".into(),
        call_id: "call-k".into(),
        flow: "8000".into(),
        node: "menu".into(),
        input: "1".into(),
        outcome: "sales".into(),
        created_at: 5,
    };
    log.append_with(&ev(), Some(Kept::Cdr(super::runtime::cdr(1, true))));
    log.append_with(
        &ev(),
        Some(Kept::Recording(super::media::recording(
            1, "call-k", "leg-k",
        ))),
    );
    log.append_with(
        &ev(),
        Some(Kept::Voicemail(super::routing::message(1, "1003"))),
    );
    log.append_with(&ev(), Some(Kept::IvrAudit(audit.clone())));
    durable(&log, 4).await?;
    assert_eq!(
        store.list_cdrs(10).await?,
        vec![super::runtime::cdr(1, true)]
    );
    assert_eq!(store.recordings_for_call("call-k").await?.len(), 1);
    assert_eq!(store.voicemails("demo", "1003", false).await?.len(), 1);
    assert_eq!(store.ivr_audit_for_call("call-k").await?, vec![audit]);
    assert_eq!(store.last_event_seq().await?, 4);

    // a row the database refuses (its id is taken): the batch is retried as a
    // whole, then its events are stored without it and the log goes on
    store.insert_cdr(&super::runtime::cdr(2, false)).await?;
    log.append_with(&ev(), Some(Kept::Cdr(super::runtime::cdr(2, true))));
    log.append(&ev());
    durable(&log, 6).await?;
    assert_eq!(store.last_event_seq().await?, 6);
    let cdrs = store.list_cdrs(10).await?;
    assert_eq!(cdrs.len(), 2, "the refused row is not stored twice");
    assert!(
        cdrs.contains(&super::runtime::cdr(2, false)),
        "the first one stays"
    );
    // and afterwards batches carry their rows again
    log.append_with(&ev(), Some(Kept::Cdr(super::runtime::cdr(3, true))));
    durable(&log, 7).await?;
    assert_eq!(store.list_cdrs(10).await?.len(), 3);
    Ok(())
}
