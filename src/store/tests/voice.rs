//! The voice API's tables: public ids handed out once and kept, user keys
//! and scopes, and idempotency claims (fresh, running, done, mismatched,
//! released, expired).

use super::{demo, TestResult};
use crate::store::{ApiKeyKind, Claim, KeyRefusal, NewApiKey, PublicKind, Store};

pub(super) async fn public_ids_are_handed_out_once_and_kept(store: Store) -> TestResult {
    store.import_dialplan(&demo()).await?;
    let first = store.list_public_ids().await?;
    let kinds = |k: PublicKind| first.iter().filter(|p| p.kind == k).count();
    assert_eq!(
        (
            kinds(PublicKind::User),
            kinds(PublicKind::Queue),
            kinds(PublicKind::Number)
        ),
        (5, 1, 2)
    );
    let mut pks: Vec<i64> = first.iter().map(|p| p.pk).collect();
    pks.dedup();
    assert_eq!(pks.len(), first.len(), "no id twice");
    // importing again hands out nothing new and changes none
    store.import_dialplan(&demo()).await?;
    assert_eq!(store.list_public_ids().await?, first);
    // a user added: it gets a new id, above every other; the others keep theirs
    let text = std::fs::read_to_string(super::DEMO_PATH)?.replacen(
        "[[accounts.numbers]]",
        "[[accounts.extensions]]\nnumber = \"1006\"\npassword = \"demo1006\"\n\n[[accounts.numbers]]",
        1,
    );
    store.import_dialplan(&super::plan(&text)).await?;
    let after = store.list_public_ids().await?;
    let pk = |list: &[crate::store::PublicId], doc: &str| {
        list.iter()
            .find(|p| p.kind == PublicKind::User && p.doc_id == doc)
            .map(|p| p.pk)
    };
    assert_eq!(pk(&after, "1005"), pk(&first, "1005"));
    let max_before = first.iter().map(|p| p.pk).max().unwrap_or(0);
    assert!(
        pk(&after, "1006").is_some_and(|p| p > max_before),
        "{after:?}"
    );
    Ok(())
}

pub(super) async fn user_keys_need_their_extension_and_known_scopes(store: Store) -> TestResult {
    store.import_dialplan(&demo()).await?;
    let new = |kind, extension, scopes: Option<Vec<String>>| NewApiKey {
        account_id: "demo",
        kind,
        label: None,
        extension,
        scopes,
    };
    let refused = |r: Result<_, KeyRefusal>| r.err();
    assert_eq!(
        refused(
            store
                .create_checked_api_key(&new(ApiKeyKind::User, None, None), 1)
                .await?
        ),
        Some(KeyRefusal::ExtensionNeeded)
    );
    assert_eq!(
        refused(
            store
                .create_checked_api_key(&new(ApiKeyKind::User, Some("1999"), None), 1)
                .await?
        ),
        Some(KeyRefusal::UnknownExtension("1999".into()))
    );
    assert_eq!(
        refused(
            store
                .create_checked_api_key(&new(ApiKeyKind::Developer, Some("1001"), None), 1)
                .await?
        ),
        Some(KeyRefusal::ExtensionNotAllowed)
    );
    let odd = Some(vec!["calls:explode".to_string()]);
    assert_eq!(
        refused(
            store
                .create_checked_api_key(&new(ApiKeyKind::Developer, None, odd), 1)
                .await?
        ),
        Some(KeyRefusal::UnknownScope("calls:explode".into()))
    );
    let some = Some(vec!["queues:read".to_string()]);
    let (made, secret) = store
        .create_checked_api_key(&new(ApiKeyKind::User, Some("1001"), some), 7)
        .await?
        .map_err(|e| e.to_string())?;
    let found = store.api_key_by_secret(&secret).await?.ok_or("not found")?;
    assert_eq!(found, made);
    assert_eq!(
        (found.extension.as_deref(), found.scopes.clone()),
        (Some("1001"), vec!["queues:read".to_string()])
    );
    assert!(found.has_scope("queues:read") && !found.has_scope("calls:write"));
    assert!(secret.starts_with(&found.prefix) && found.last_used_at.is_none());
    store.touch_api_key(&found.id, 99).await?;
    let touched = store.api_key_by_secret(&secret).await?.ok_or("gone")?;
    assert_eq!(touched.last_used_at, Some(99));
    // another account cannot revoke it; its own can
    assert!(
        !store
            .revoke_account_api_key("other", &found.id, 100)
            .await?
    );
    assert!(store.revoke_account_api_key("demo", &found.id, 100).await?);
    assert!(store.api_key_by_secret(&secret).await?.is_none());
    Ok(())
}

pub(super) async fn idempotency_claims_run_once(store: Store) -> TestResult {
    let (scope, key) = ("demo:sms/send", "k1");
    assert_eq!(
        store.claim_idempotent(scope, key, "h1", 1_000).await?,
        Claim::Fresh
    );
    assert_eq!(
        store.claim_idempotent(scope, key, "h1", 1_001).await?,
        Claim::Running
    );
    assert_eq!(
        store.claim_idempotent(scope, key, "h2", 1_002).await?,
        Claim::Mismatch
    );
    // another scope is another key
    assert_eq!(
        store
            .claim_idempotent("demo:call/outbound", key, "h2", 1_002)
            .await?,
        Claim::Fresh
    );
    store
        .finish_idempotent(scope, key, 200, "{\"ok\":1}")
        .await?;
    assert_eq!(
        store.claim_idempotent(scope, key, "h1", 1_003).await?,
        Claim::Done(200, "{\"ok\":1}".into())
    );
    // released after a failure: free again
    store.claim_idempotent(scope, "k2", "h", 1_000).await?;
    store.release_idempotent(scope, "k2").await?;
    assert_eq!(
        store.idempotent_state(scope, "k2", "h").await?,
        Claim::Fresh
    );
    assert_eq!(
        store.claim_idempotent(scope, "k2", "h", 1_004).await?,
        Claim::Fresh
    );
    // a day later the answer is gone and the key is new
    let later = 1_000 + crate::store::IDEMPOTENCY_TTL_MS + 10;
    assert_eq!(
        store.claim_idempotent(scope, key, "h9", later).await?,
        Claim::Fresh
    );
    Ok(())
}
