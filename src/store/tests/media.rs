//! Media provisioning scenarios: apps import, the JSON kept for their steps, the
//! per-extension record flag, recordings, and upgrading a database made by 0001.

use std::borrow::Cow;

use sqlx::{Connection, Executor, Row};

use super::{demo, plan, with_database, TestResult, DEMO_PATH};
use crate::dialplan::{Step, ToneName};
use crate::store::{App, Backend, ImportCounts, Recording, Store};
use crate::switch::directory::Directory;

fn counts(inserted: u64, updated: u64, deleted: u64, unchanged: u64) -> ImportCounts {
    ImportCounts {
        inserted,
        updated,
        deleted,
        unchanged,
    }
}

pub(super) async fn apps_import_update_delete(store: Store) -> TestResult {
    let first = store.import_dialplan(&demo()).await?;
    assert_eq!(first.apps, counts(3, 0, 0, 0), "{first}");
    let again = store.import_dialplan(&demo()).await?;
    assert_eq!(again.apps, counts(0, 0, 0, 3), "{again}");
    assert_eq!(again.changes(), 0, "{again}");

    let apps = store.list_apps().await?;
    let numbers: Vec<&str> = apps.iter().map(|a| a.number.as_str()).collect();
    assert_eq!(numbers, ["7000", "7001", "7002"]);
    assert_eq!(
        apps[0],
        App {
            account_id: "demo".into(),
            number: "7000".into(),
            name: "Welcome".into(),
            record: false,
            steps: vec![
                Step::Play {
                    path: "prompts/en/welcome".into(),
                    barge_in: true
                },
                Step::Moh {
                    class: "default".into(),
                    seconds: 20
                },
            ],
        }
    );
    assert_eq!(store.app("demo", "7001").await?.as_ref(), Some(&apps[1]));
    assert_eq!(store.app("demo", "1001").await?, None);

    // The switch's snapshot sees them too.
    let directory = Directory::load(&store).await?;
    assert_eq!(directory.app("demo", "7002"), Some(&apps[2]));
    assert!(directory.app("demo", "7003").is_none());
    assert!(directory.app("other", "7000").is_none());

    // 7000 now recorded, 7001 renamed, 7002 gone, 7003 new.
    let text = std::fs::read_to_string(DEMO_PATH)?;
    let echo = text
        .find("[[accounts.apps]]\nnumber = \"7002\"")
        .ok_or("no 7002")?;
    let edited = text[..echo]
        .replace("name = \"Welcome\"", "name = \"Welcome\"\nrecord = true")
        .replace("name = \"Tone test\"", "name = \"Tone check\"")
        + "[[accounts.apps]]\nnumber = \"7003\"\nname = \"Bye\"\nsteps = [{ hangup = true }]\n";
    let report = store.import_dialplan(&plan(&edited)).await?;
    assert_eq!(report.apps, counts(1, 2, 1, 0), "{report}");
    // the edited text ends before the demo's callflows and queue: they go too
    assert_eq!(report.callflows, counts(0, 0, 2, 0), "{report}");
    assert_eq!(report.queues, counts(0, 0, 1, 0), "{report}");
    assert_eq!(report.changes(), 7, "{report}");
    assert!(store.app("demo", "7000").await?.ok_or("no 7000")?.record);
    assert_eq!(
        store.app("demo", "7001").await?.ok_or("no 7001")?.name,
        "Tone check"
    );
    assert_eq!(store.app("demo", "7002").await?, None);
    assert_eq!(
        store.app("demo", "7003").await?.ok_or("no 7003")?.steps,
        [Step::Hangup]
    );
    let report = store.import_dialplan(&plan(&edited)).await?;
    assert_eq!(report.apps, counts(0, 0, 0, 3), "{report}");

    // An account listed without apps loses them all.
    let cut = edited.find("[[accounts.apps]]").ok_or("no apps")?;
    let report = store.import_dialplan(&plan(&edited[..cut])).await?;
    assert_eq!(report.apps, counts(0, 0, 3, 0), "{report}");
    assert!(store.list_apps().await?.is_empty());
    Ok(())
}

const EVERY_STEP: &str = r#"
[[accounts]]
id = "m"
name = "Media"
sip_domain = "m.test"

[[accounts.apps]]
number = "8000"
name = "All steps"
record = true
steps = [
  { play = "prompts/en/welcome" },
  { play = "prompts/en/tone-1khz.wav", barge_in = true },
  { say = "Thank you for calling.", voice = "en-us" },
  { say = "Plain voice, quotes \" and unicode ✓" },
  { tone = "ringback", seconds = 3 },
  { tone = "busy", seconds = 1 },
  { tone = "ringback-eu", seconds = 3600 },
  { moh = "default", seconds = 30 },
  { pause = 1.5 },
  { pause = 0.1 },
  { pause = 3600 },
  { echo = 10 },
  { hangup = true },
]
"#;

pub(super) async fn app_steps_round_trip_every_kind(store: Store) -> TestResult {
    let plan = plan(EVERY_STEP);
    let report = store.import_dialplan(&plan).await?;
    assert_eq!(report.apps, counts(1, 0, 0, 0));
    let stored = store.app("m", "8000").await?.ok_or("no 8000")?;
    assert_eq!(stored.steps, plan.accounts[0].apps[0].steps);
    assert!(stored.record);
    assert_eq!(stored.steps.len(), 13);
    assert_eq!(
        stored.steps[6],
        Step::Tone {
            tone: ToneName::RingbackEu,
            seconds: 3600
        }
    );
    assert_eq!(stored.steps[9], Step::Pause { seconds: 0.1 });

    // The column holds the steps in the file's own shape.
    let row = sqlx::query("SELECT steps FROM apps WHERE number = $1")
        .bind("8000")
        .fetch_one(store.pool())
        .await?;
    let json: String = row.try_get("steps")?;
    assert!(
        json.starts_with(
            r#"[{"play":"prompts/en/welcome"},{"play":"prompts/en/tone-1khz.wav","barge_in":true},"#
        ),
        "{json}"
    );
    assert!(
        json.contains(
            r#"{"tone":"ringback-eu","seconds":3600},{"moh":"default","seconds":30},{"pause":1.5}"#
        ),
        "{json}"
    );
    assert!(json.ends_with(r#"{"echo":10},{"hangup":true}]"#), "{json}");

    let again = store.import_dialplan(&plan).await?;
    assert_eq!(again.changes(), 0, "{again}");
    Ok(())
}

pub(super) async fn extension_record_flag(store: Store) -> TestResult {
    store.import_dialplan(&demo()).await?;
    assert!(store
        .list_extensions("demo")
        .await?
        .iter()
        .all(|e| !e.record));
    let text = std::fs::read_to_string(DEMO_PATH)?;
    let recorded = text.replace(
        "password = \"demo1003\"",
        "password = \"demo1003\"\nrecord = true",
    );
    let report = store.import_dialplan(&plan(&recorded)).await?;
    assert_eq!(report.extensions, counts(0, 1, 0, 4), "{report}");
    assert_eq!(report.changes(), 1, "{report}");
    assert!(
        store
            .extension("demo", "1003")
            .await?
            .ok_or("no 1003")?
            .record
    );
    assert!(
        !store
            .extension("demo", "1002")
            .await?
            .ok_or("no 1002")?
            .record
    );
    assert_eq!(store.import_dialplan(&plan(&recorded)).await?.changes(), 0);
    let report = store.import_dialplan(&demo()).await?;
    assert_eq!(report.extensions, counts(0, 1, 0, 4), "{report}");
    assert!(
        !store
            .extension("demo", "1003")
            .await?
            .ok_or("no 1003")?
            .record
    );
    Ok(())
}

pub(super) fn recording(n: i64, call_id: &str, channel: &str) -> Recording {
    Recording {
        id: format!("00000000-0000-4000-8000-00000000000{n}"),
        account_id: "demo".into(),
        call_id: call_id.into(),
        channel_id: channel.into(),
        path: format!("recordings/{call_id}/{channel}.wav"),
        duration_ms: 12_345 + n,
        size_bytes: 5_000_000_000 + n,
        rate: if n % 2 == 0 { 8000 } else { 48_000 },
        created_at: 1_700_000_000_000 + 1_000 * n,
    }
}

pub(super) async fn recordings_insert_and_query(store: Store) -> TestResult {
    let call = "8f9a3c1e-1111-4222-8333-444455556666";
    // Inserted out of order; listed oldest first.
    for r in [
        recording(2, call, "leg-b"),
        recording(1, call, "leg-a"),
        recording(3, "another-call", "leg-a"),
    ] {
        store.insert_recording(&r).await?;
    }
    assert_eq!(
        store.recordings_for_call(call).await?,
        [recording(1, call, "leg-a"), recording(2, call, "leg-b")]
    );
    assert_eq!(store.recordings_for_call("another-call").await?.len(), 1);
    assert!(store.recordings_for_call("no-such-call").await?.is_empty());
    assert!(
        store
            .insert_recording(&recording(1, call, "leg-a"))
            .await
            .is_err(),
        "ids are unique"
    );
    Ok(())
}

/// A database created by the 0001 migration (with rows in it) upgrades on connect: the
/// new column reads as false and the demo import keeps the existing extension.
async fn upgrades_from_0001(url: &str) -> TestResult {
    sqlx::any::install_default_drivers();
    let mut migrator = match Backend::from_url(url)? {
        Backend::Sqlite => sqlx::migrate!("migrations/sqlite"),
        Backend::Postgres => sqlx::migrate!("migrations/postgres"),
    };
    let first: Vec<_> = migrator
        .migrations
        .iter()
        .filter(|m| m.version == 1)
        .cloned()
        .collect();
    assert_eq!(first.len(), 1);
    migrator.migrations = Cow::Owned(first);
    let pool = sqlx::AnyPool::connect(url).await?;
    migrator.run(&pool).await?;
    sqlx::query("INSERT INTO accounts (id, name, sip_domain, is_default) VALUES ($1, $2, $3, $4)")
        .bind("demo")
        .bind("Demo Co")
        .bind("demo.switchyard.test")
        .bind(true)
        .execute(&pool)
        .await?;
    sqlx::query(
        "INSERT INTO extensions (account_id, number, password, display_name, voicemail) \
         VALUES ($1, $2, $3, $4, $5)",
    )
    .bind("demo")
    .bind("1001")
    .bind("demo1001")
    .bind("Alice")
    .bind(false)
    .execute(&pool)
    .await?;
    pool.close().await;

    let store = Store::connect(url).await?;
    let applied = sqlx::query("SELECT COUNT(*) AS n FROM _sqlx_migrations")
        .fetch_one(store.pool())
        .await?;
    assert_eq!(applied.try_get::<i64, _>("n")?, 12);
    let alice = store.extension("demo", "1001").await?.ok_or("no 1001")?;
    assert_eq!(
        (alice.display_name.as_str(), alice.record),
        ("Alice", false)
    );
    let report = store.import_dialplan(&demo()).await?;
    // Alice, stored before voicemail existed, gains her box
    assert_eq!(report.extensions, counts(4, 1, 0, 0), "{report}");
    assert_eq!(report.apps, counts(3, 0, 0, 0), "{report}");
    store.close().await;
    Ok(())
}

#[tokio::test]
async fn sqlite_database_from_0001_upgrades() {
    let dir = tempfile::tempdir().expect("temp dir");
    let url = format!("sqlite://{}/old.db?mode=rwc", dir.path().display());
    if let Err(err) = upgrades_from_0001(&url).await {
        panic!("upgrade failed: {err}");
    }
}

#[tokio::test]
async fn postgres_database_from_0001_upgrades() {
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
    let outcome = upgrades_from_0001(&with_database(&base, &name)).await;
    admin
        .execute(format!("DROP DATABASE {name} WITH (FORCE)").as_str())
        .await
        .expect("drop test database");
    if let Err(err) = outcome {
        panic!("upgrade failed: {err}");
    }
}
