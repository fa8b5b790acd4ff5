//! Dialplan import scenarios: idempotent re-import, edits, rejected plans, default account.

use sqlx::Row;

use super::{demo, plan, TestResult};
use crate::dialplan::{self, Dialplan, DialplanError};
use crate::store::{ImportCounts, Store, StoreError, Trunk, TrunkTransport};

pub(super) async fn migrations_create_empty_tables(store: Store) -> TestResult {
    let applied = sqlx::query("SELECT COUNT(*) AS n FROM _sqlx_migrations")
        .fetch_one(store.pool())
        .await?;
    assert_eq!(applied.try_get::<i64, _>("n")?, 12);
    assert!(store.list_accounts().await?.is_empty());
    assert!(store.list_public_ids().await?.is_empty());
    assert!(store.default_account().await?.is_none());
    assert!(store.list_trunks().await?.is_empty());
    assert!(store.list_cdrs(10).await?.is_empty());
    assert!(store.load_registrations(0).await?.is_empty());
    assert!(store.phone_number("+15550100100").await?.is_none());
    assert!(store.list_apps().await?.is_empty());
    assert!(store.list_callflows().await?.is_empty());
    assert!(store.recordings_for_call("any").await?.is_empty());
    assert!(store.agent_states().await?.is_empty());
    Ok(())
}

pub(super) async fn demo_import_twice_changes_nothing(store: Store) -> TestResult {
    let first = store.import_dialplan(&demo()).await?;
    let all_new = |n| ImportCounts {
        inserted: n,
        ..Default::default()
    };
    assert_eq!(first.accounts, all_new(1));
    assert_eq!(first.extensions, all_new(5));
    assert_eq!(first.numbers, all_new(2));
    assert_eq!(first.trunks, all_new(1));
    assert_eq!(first.apps, all_new(3));

    let second = store.import_dialplan(&demo()).await?;
    assert_eq!(second.changes(), 0, "{second}");
    let same = |n| ImportCounts {
        unchanged: n,
        ..Default::default()
    };
    assert_eq!(second.extensions, same(5));
    assert_eq!(second.apps, same(3));
    assert_eq!(
        (second.accounts, second.numbers, second.trunks),
        (same(1), same(2), same(1))
    );

    let account = store
        .account_by_domain("Demo.Switchyard.test")
        .await?
        .ok_or("no account")?;
    assert_eq!(
        (
            account.id.as_str(),
            account.name.as_str(),
            account.is_default
        ),
        ("demo", "Demo Co", true)
    );
    assert_eq!(store.default_account().await?, Some(account.clone()));
    assert_eq!(store.account("demo").await?, Some(account));
    let names: Vec<String> = store
        .list_extensions("demo")
        .await?
        .into_iter()
        .map(|e| e.display_name)
        .collect();
    assert_eq!(names, ["Alice", "Bob", "Carol", "Dave", "Eve"]);
    let carol = store.extension("demo", "1003").await?.ok_or("no 1003")?;
    assert_eq!(
        (
            carol.password.as_str(),
            carol.voicemail,
            carol.voicemail_pin.as_deref(),
            carol.caller_id
        ),
        ("demo1003", true, Some("3001"), None)
    );
    let did = store.phone_number("+15550100101").await?.ok_or("no DID")?;
    assert_eq!(
        (did.account_id.as_str(), did.extension.as_str()),
        ("demo", "1001")
    );
    let trunk = store.trunk_for_account("demo").await?.ok_or("no trunk")?;
    assert_eq!(
        trunk,
        Trunk {
            id: "demo-carrier".into(),
            account_id: "demo".into(),
            host: "127.0.0.1".into(),
            port: 5080,
            transport: TrunkTransport::Udp,
            username: Some("demo-trunk".into()),
            password: Some("carrier-secret".into()),
            caller_id: Some("+15550100100".into()),
        }
    );
    Ok(())
}

pub(super) async fn edits_update_and_delete(store: Store) -> TestResult {
    store.import_dialplan(&demo()).await?;
    let text = super::demo_text_without_callflows()?;
    // New password for Bob, Eve removed, the DID moved to Bob and Alice removed with it
    // (the number must move off 1001 before 1001 can go), trunk port changed.
    let edited = text
        .replace("password = \"demo1002\"", "password = \"s3cret\"")
        .replace(
            "[[accounts.extensions]]\nnumber = \"1005\"\npassword = \"demo1005\"\ndisplay_name = \"Eve\"\nvoicemail = true\nvoicemail_pin = \"5001\"\n",
            "",
        )
        .replace(
            "[[accounts.extensions]]\nnumber = \"1001\"\npassword = \"demo1001\"\ndisplay_name = \"Alice\"\nvoicemail = true\nvoicemail_pin = \"1001\"\nlast_name = \"Adams\"\nemail = \"alice@demo.switchyard.test\"\ntime_zone = \"America/New_York\"\n",
            "",
        )
        .replace("extension = \"1001\"", "extension = \"1002\"")
        .replace("port = 5080", "port = 5090");
    let report = store.import_dialplan(&plan(&edited)).await?;
    assert_eq!(
        report.accounts,
        ImportCounts {
            unchanged: 1,
            ..Default::default()
        }
    );
    assert_eq!(
        report.extensions,
        ImportCounts {
            updated: 1,
            deleted: 2,
            unchanged: 2,
            inserted: 0
        }
    );
    assert_eq!(
        report.numbers,
        ImportCounts {
            updated: 1,
            unchanged: 1,
            ..Default::default()
        }
    );
    assert_eq!(
        report.trunks,
        ImportCounts {
            updated: 1,
            ..Default::default()
        }
    );

    let bob = store.extension("demo", "1002").await?.ok_or("no 1002")?;
    assert_eq!((bob.password.as_str(), bob.voicemail), ("s3cret", true));
    assert!(store.extension("demo", "1005").await?.is_none());
    assert!(store.extension("demo", "1001").await?.is_none());
    assert_eq!(
        store
            .phone_number("+15550100101")
            .await?
            .ok_or("no DID")?
            .extension,
        "1002"
    );
    assert_eq!(
        store
            .trunk_for_account("demo")
            .await?
            .ok_or("no trunk")?
            .port,
        5090
    );

    // Dropping the numbers, trunks and apps tables entirely deletes their rows.
    let bare = &edited[..edited
        .find("[[accounts.numbers]]")
        .ok_or("no numbers table")?];
    let report = store.import_dialplan(&plan(bare)).await?;
    assert_eq!(
        (
            report.numbers.deleted,
            report.trunks.deleted,
            report.apps.deleted,
            report.changes()
        ),
        (2, 1, 3, 6)
    );
    assert!(store.phone_number("+15550100101").await?.is_none());
    assert!(store.list_trunks().await?.is_empty());
    Ok(())
}

pub(super) async fn invalid_plans_change_nothing(store: Store) -> TestResult {
    store.import_dialplan(&demo()).await?;
    let before = store.list_extensions("demo").await?;
    let text = super::demo_text_without_callflows()?;

    // A file the validator rejects: named path, table and field; nothing applied.
    let bad = text
        .replace("number = \"1003\"", "number = \"10a1\"")
        .replace("password = \"demo1001\"", "password = \"changed\"");
    let dir = tempfile::tempdir()?;
    let path = dir.path().join("demo.toml");
    std::fs::write(&path, &bad)?;
    let err = dialplan::load_file(&path).expect_err("invalid extension number");
    let expected = format!(
        "{}: accounts[0].extensions[2].number: \"10a1\" is not a dial-able extension number",
        path.display()
    );
    assert!(err.to_string().starts_with(&expected), "{err}");
    let unchecked = Dialplan::parse("dialplans/demo.toml", &bad)?;
    match store.import_dialplan(&unchecked).await {
        Err(StoreError::Dialplan(DialplanError::Invalid { issues, .. })) => {
            assert_eq!(issues.len(), 1);
            assert_eq!(issues[0].field, "accounts[0].extensions[2].number");
        }
        other => panic!("expected an invalid-dialplan error, got {other:?}"),
    }

    // A TOML syntax error also names the file.
    std::fs::write(&path, "[[accounts]\nid = ")?;
    let err = dialplan::load_file(&path).expect_err("broken TOML");
    assert!(matches!(err, DialplanError::Parse { .. }));
    assert!(
        err.to_string()
            .starts_with(&format!("{}: ", path.display())),
        "{err}"
    );

    // A plan that passes validation but conflicts with the database (another account
    // claiming demo's domain) rolls back whole: its earlier rows are not left behind.
    let clash = plan(
        "[[accounts]]\nid = \"aaa\"\nname = \"A\"\nsip_domain = \"a.test\"\n\
         [[accounts.extensions]]\nnumber = \"7\"\npassword = \"x\"\n\
         [[accounts]]\nid = \"other\"\nname = \"O\"\nsip_domain = \"demo.switchyard.test\"\n",
    );
    let err = store
        .import_dialplan(&clash)
        .await
        .expect_err("duplicate domain");
    assert!(matches!(err, StoreError::Query { .. }), "{err:?}");
    assert!(store.account("aaa").await?.is_none());
    assert!(store.list_extensions("aaa").await?.is_empty());

    assert_eq!(store.list_extensions("demo").await?, before);
    assert_eq!(store.list_accounts().await?.len(), 1);
    Ok(())
}

pub(super) async fn default_account_rules(store: Store) -> TestResult {
    let account = |id: &str, default: bool| {
        format!("[[accounts]]\nid = \"{id}\"\nname = \"{id}\"\nsip_domain = \"{id}.test\"\ndefault = {default}\n")
    };
    // Nothing marked default and none stored: the first account of the file takes it.
    let report = store
        .import_dialplan(&plan(&(account("a", false) + &account("b", false))))
        .await?;
    assert_eq!(report.accounts.inserted, 2);
    assert_eq!(store.default_account().await?.ok_or("no default")?.id, "a");
    // A later file without a default leaves the stored one alone.
    store.import_dialplan(&plan(&account("c", false))).await?;
    assert_eq!(store.default_account().await?.ok_or("no default")?.id, "a");
    // A file that names a default moves the flag, even off an account it does not list.
    let report = store.import_dialplan(&plan(&account("c", true))).await?;
    assert_eq!(
        report.accounts,
        ImportCounts {
            updated: 2,
            ..Default::default()
        }
    );
    assert_eq!(store.default_account().await?.ok_or("no default")?.id, "c");
    let defaults: Vec<bool> = store
        .list_accounts()
        .await?
        .iter()
        .map(|a| a.is_default)
        .collect();
    assert_eq!(defaults, [false, false, true]);
    Ok(())
}
