//! Store tests: each scenario is written once as `async fn(Store)` and run against SQLite
//! (always, in a temp dir) and PostgreSQL (when `DATABASE_URL` is set; each test creates
//! and drops its own `sy_<random>` database). They check what a caller observes: rows
//! read back, import counts, error messages naming file and field.

use std::future::Future;

use sqlx::{Connection, Executor, Row};

mod import;
mod kept;
mod media;
mod merchant;
mod routing;
mod runtime;
mod voice;
mod webhooks;

use super::*;
use crate::dialplan::{self, Dialplan};
use import::*;
use kept::*;
use media::*;
use merchant::*;
use routing::*;
use runtime::*;
use voice::*;
use webhooks::*;

pub(crate) type TestResult = Result<(), Box<dyn std::error::Error + Send + Sync>>;

pub(super) const DEMO_PATH: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/dialplans/demo.toml");

/// The demo dialplan's text up to its callflows (edits of extensions and
/// numbers would otherwise leave the flows naming what the edit removed).
pub(super) fn demo_text_without_callflows() -> std::io::Result<String> {
    let text = std::fs::read_to_string(DEMO_PATH)?;
    Ok(match text.find("\n# Callflows") {
        Some(i) => text[..=i].to_string(),
        None => text,
    })
}

pub(crate) async fn run_sqlite<F, Fut>(body: F)
where
    F: FnOnce(Store) -> Fut,
    Fut: Future<Output = TestResult> + Send + 'static,
{
    let dir = tempfile::tempdir().expect("temp dir");
    let url = format!("sqlite://{}/switchyard.db?mode=rwc", dir.path().display());
    let store = Store::connect(&url).await.expect("connect to SQLite");
    let outcome = tokio::spawn(body(store.clone())).await;
    store.close().await;
    finish(outcome);
}

pub(crate) async fn run_postgres<F, Fut>(body: F)
where
    F: FnOnce(Store) -> Fut,
    Fut: Future<Output = TestResult> + Send + 'static,
{
    let Ok(base) = std::env::var("DATABASE_URL") else {
        eprintln!("DATABASE_URL not set: PostgreSQL variant skipped");
        return;
    };
    let name = format!("sy_{}", uuid::Uuid::new_v4().simple());
    let mut admin = sqlx::postgres::PgConnection::connect(&base)
        .await
        .expect("connect to DATABASE_URL");
    admin
        .execute(format!("CREATE DATABASE {name}").as_str())
        .await
        .expect("create test database");
    let store = Store::connect(&with_database(&base, &name))
        .await
        .expect("connect to the test database");
    let outcome = tokio::spawn(body(store.clone())).await;
    store.close().await;
    admin
        .execute(format!("DROP DATABASE {name} WITH (FORCE)").as_str())
        .await
        .expect("drop test database");
    finish(outcome);
}

/// `postgres://u@h:p/db?x` with the database name replaced.
fn with_database(base: &str, name: &str) -> String {
    let (url, query) = match base.split_once('?') {
        Some((url, query)) => (url, format!("?{query}")),
        None => (base, String::new()),
    };
    let authority_end = url.find("://").map_or(0, |i| i + 3);
    let root = match url[authority_end..].find('/') {
        Some(slash) => &url[..authority_end + slash],
        None => url,
    };
    format!("{root}/{name}{query}")
}

fn finish(outcome: Result<TestResult, tokio::task::JoinError>) {
    match outcome {
        Ok(Ok(())) => {}
        Ok(Err(err)) => panic!("test failed: {err}"),
        Err(join) => std::panic::resume_unwind(join.into_panic()),
    }
}

macro_rules! on_both_backends {
    ($($name:ident),* $(,)?) => {
        mod sqlite {
            $( #[tokio::test] async fn $name() { super::run_sqlite(super::$name).await } )*
        }
        mod postgres {
            $( #[tokio::test] async fn $name() { super::run_postgres(super::$name).await } )*
        }
    };
}

on_both_backends!(
    migrations_create_empty_tables,
    demo_import_twice_changes_nothing,
    edits_update_and_delete,
    invalid_plans_change_nothing,
    default_account_rules,
    registrations_batch_load_purge,
    cdrs_insert_and_list,
    trunk_by_source_prefers_port_match,
    apps_import_update_delete,
    app_steps_round_trip_every_kind,
    extension_record_flag,
    recordings_insert_and_query,
    callflows_import_and_bump_the_version,
    voicemails_listed_and_marked_heard,
    ivr_decisions_kept_in_order,
    agent_states_replace_and_read_back,
    event_log_appends_in_batches_and_reads_after_an_id,
    api_keys_are_stored_hashed_found_and_revoked,
    event_ids_reserved_by_a_run_are_never_handed_out_again,
    old_events_are_purged_in_steps,
    webhooks_pending_and_attempts_round_trip,
    rows_kept_with_events_share_their_transaction,
    public_ids_are_handed_out_once_and_kept,
    merchant_messages_are_admitted_claimed_and_settled,
    simulator_batches_hand_off_and_reveal_once,
    user_keys_need_their_extension_and_known_scopes,
    idempotency_claims_run_once,
);

pub(crate) fn demo() -> Dialplan {
    dialplan::load_file(DEMO_PATH).expect("demo dialplan is valid")
}

pub(super) fn plan(text: &str) -> Dialplan {
    let plan = Dialplan::parse("test.toml", text).expect("test plan parses");
    plan.validate().expect("test plan is valid");
    plan
}

#[tokio::test]
async fn sqlite_file_uses_wal_and_survives_reopen() {
    let dir = tempfile::tempdir().expect("temp dir");
    let url = format!("sqlite://{}/sy.db?mode=rwc", dir.path().display());
    let store = Store::connect(&url).await.expect("connect");
    assert_eq!(store.backend(), Backend::Sqlite);
    let mode = sqlx::query("PRAGMA journal_mode")
        .fetch_one(store.pool())
        .await
        .expect("pragma");
    assert_eq!(
        mode.try_get::<String, _>(0).expect("text").to_lowercase(),
        "wal"
    );
    store.import_dialplan(&demo()).await.expect("import");
    store.close().await;
    // Reopening runs the (already applied) migrations again without complaint.
    let store = Store::connect(&url).await.expect("reconnect");
    assert_eq!(store.list_extensions("demo").await.expect("list").len(), 5);
    store.close().await;
}

#[test]
fn urls_pick_the_backend() {
    assert_eq!(
        Backend::from_url("sqlite://x.db?mode=rwc").ok(),
        Some(Backend::Sqlite)
    );
    assert_eq!(
        Backend::from_url("postgres://h/db").ok(),
        Some(Backend::Postgres)
    );
    assert_eq!(
        Backend::from_url("postgresql://h/db").ok(),
        Some(Backend::Postgres)
    );
    assert!(matches!(
        Backend::from_url("mysql://h/db"),
        Err(StoreError::UnsupportedUrl { .. })
    ));
    assert_eq!(
        with_database("postgres://u@h:5432/test", "sy_1"),
        "postgres://u@h:5432/sy_1"
    );
    assert_eq!(
        with_database("postgres://u@h/test?sslmode=disable", "sy_1"),
        "postgres://u@h/sy_1?sslmode=disable"
    );
}
