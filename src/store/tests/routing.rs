//! Callflows, voicemail boxes, IVR decisions and the provisioning version.

use super::{demo, TestResult};
use crate::store::{IvrAudit, Store, Voicemail};

pub(super) async fn callflows_import_and_bump_the_version(store: Store) -> TestResult {
    assert_eq!(store.provisioning_version().await?, 0);
    let first = store.import_dialplan(&demo()).await?;
    assert_eq!(first.callflows.inserted, 2, "{first}");
    assert_eq!(first.queues.inserted, 1, "{first}");
    assert_eq!(store.provisioning_version().await?, 1);
    let flows = store.list_callflows().await?;
    let numbers: Vec<&str> = flows.iter().map(|f| f.def.number.as_str()).collect();
    assert_eq!(numbers, ["8000", "8200"]);
    let queues = store.list_queues().await?;
    assert_eq!(queues.len(), 1);
    assert_eq!(
        (queues[0].def.id.as_str(), queues[0].def.number.as_deref()),
        ("sales", Some("8100"))
    );
    assert_eq!(queues[0].def.members.len(), 2);
    assert_eq!(flows[0].def.numbers, ["+15550100100"]);
    assert_eq!(flows[0].def.nodes.len(), 5);
    // nothing changed: nothing written, the version stays
    let again = store.import_dialplan(&demo()).await?;
    assert_eq!(
        (
            again.changes(),
            again.callflows.unchanged,
            again.queues.unchanged
        ),
        (0, 2, 1),
        "{again}"
    );
    assert_eq!(store.provisioning_version().await?, 1);
    Ok(())
}

pub(super) fn message(n: i64, r#box: &str) -> Voicemail {
    Voicemail {
        id: format!("vm-{n}"),
        account_id: "demo".into(),
        r#box: r#box.into(),
        caller: "1001".into(),
        call_id: format!("call-{n}"),
        path: format!("voicemail/demo/{box}/{n}.wav"),
        duration_ms: 4_000 + n,
        heard: false,
        created_at: 1_700_000_000_000 + n,
    }
}

pub(super) async fn voicemails_listed_and_marked_heard(store: Store) -> TestResult {
    for m in [message(2, "1003"), message(1, "1003"), message(3, "1004")] {
        store.insert_voicemail(&m).await?;
    }
    let unheard = store.voicemails("demo", "1003", true).await?;
    assert_eq!(unheard, [message(1, "1003"), message(2, "1003")]);
    store.mark_voicemail_heard("vm-1").await?;
    let unheard = store.voicemails("demo", "1003", true).await?;
    assert_eq!(unheard, [message(2, "1003")]);
    let all = store.voicemails("demo", "1003", false).await?;
    assert_eq!(all.len(), 2);
    assert!(all[0].heard && !all[1].heard);
    assert!(store.voicemails("demo", "1005", false).await?.is_empty());
    // one message by id, only in its own box; deleted once
    assert_eq!(
        store.voicemail("demo", "1004", "vm-3").await?,
        Some(message(3, "1004"))
    );
    assert_eq!(store.voicemail("demo", "1003", "vm-3").await?, None);
    assert!(!store.delete_voicemail("demo", "1003", "vm-3").await?);
    assert!(store.delete_voicemail("demo", "1004", "vm-3").await?);
    assert!(!store.delete_voicemail("demo", "1004", "vm-3").await?);
    assert!(store.voicemails("demo", "1004", false).await?.is_empty());
    Ok(())
}

pub(super) async fn ivr_decisions_kept_in_order(store: Store) -> TestResult {
    let row = |n: i64, input: &str, outcome: &str| IvrAudit {
        id: format!("a-{n}"),
        account_id: "demo".into(),
        call_id: "c1".into(),
        flow: "8000".into(),
        node: "menu".into(),
        input: input.into(),
        outcome: outcome.into(),
        created_at: 1_700_000_000_000 + n,
    };
    store.insert_ivr_audit(&row(2, "2", "support")).await?;
    store.insert_ivr_audit(&row(1, "9", "invalid")).await?;
    assert_eq!(
        store.ivr_audit_for_call("c1").await?,
        [row(1, "9", "invalid"), row(2, "2", "support")]
    );
    assert!(store.ivr_audit_for_call("c2").await?.is_empty());
    Ok(())
}
