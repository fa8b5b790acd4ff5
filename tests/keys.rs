//! `switchyard key create|list|revoke` against a real store: the key is printed
//! once as JSON on stdout (nothing else there), only its hash is kept, an
//! unknown account or key id is exit status 2 with a message on stderr.

use std::path::Path;
use std::process::{Command, Output};

fn switchyard(data: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_switchyard"))
        .args(args)
        .arg("--data-dir")
        .arg(data)
        .env("RUST_LOG", "info")
        .output()
        .expect("run switchyard")
}

fn json(out: &Output) -> serde_json::Value {
    let text = String::from_utf8_lossy(&out.stdout);
    assert_eq!(
        text.lines().count(),
        1,
        "one line of JSON on stdout: {text:?}"
    );
    serde_json::from_str(text.trim()).unwrap_or_else(|e| panic!("{e}: {text:?}"))
}

#[test]
fn a_key_is_printed_once_as_json_listed_without_its_secret_and_revoked() {
    let dir = tempfile::tempdir().expect("tempdir");
    let demo = concat!(env!("CARGO_MANIFEST_DIR"), "/dialplans/demo.toml");
    let out = switchyard(dir.path(), &["import", demo]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );

    let out = switchyard(
        dir.path(),
        &[
            "key",
            "create",
            "--account",
            "demo",
            "--type",
            "developer",
            "--label",
            "crm",
        ],
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let created = json(&out);
    let key = created["key"].as_str().expect("key").to_string();
    assert!(key.starts_with("sy_dev_") && key.len() == 47, "{created}");
    assert_eq!(
        (
            created["account_id"].as_str(),
            created["type"].as_str(),
            created["label"].as_str()
        ),
        (Some("demo"), Some("developer"), Some("crm"))
    );
    let id = created["id"].as_str().expect("id").to_string();

    let again = json(&switchyard(
        dir.path(),
        &["key", "create", "--account", "demo", "--type", "merchant"],
    ));
    assert_ne!(again["key"], created["key"], "every key is new");

    let listed = switchyard(dir.path(), &["key", "list", "--account", "demo"]);
    assert!(listed.status.success());
    let text = String::from_utf8_lossy(&listed.stdout).to_string();
    assert!(text.contains(&id), "{text}");
    assert!(!text.contains(&key), "a listed key shows no secret: {text}");
    assert_eq!(json(&listed)["keys"].as_array().map(Vec::len), Some(2));
    // the store holds no key in the clear
    let db = std::fs::read(dir.path().join("switchyard.db")).unwrap_or_default();
    let wal = std::fs::read(dir.path().join("switchyard.db-wal")).unwrap_or_default();
    let needle = key.as_bytes();
    for bytes in [&db, &wal] {
        assert!(
            !bytes.windows(needle.len()).any(|w| w == needle),
            "the key is in the database file"
        );
    }

    let out = switchyard(dir.path(), &["key", "revoke", &id]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let out = switchyard(dir.path(), &["key", "revoke", &id]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("no live key"));
}

#[test]
fn an_unknown_account_or_type_is_refused() {
    let dir = tempfile::tempdir().expect("tempdir");
    let demo = concat!(env!("CARGO_MANIFEST_DIR"), "/dialplans/demo.toml");
    assert!(switchyard(dir.path(), &["import", demo]).status.success());
    let out = switchyard(
        dir.path(),
        &["key", "create", "--account", "nope", "--type", "developer"],
    );
    assert_eq!(out.status.code(), Some(2));
    assert!(out.stdout.is_empty(), "nothing on stdout");
    assert!(String::from_utf8_lossy(&out.stderr).contains("no account \"nope\""));
    let out = switchyard(
        dir.path(),
        &["key", "create", "--account", "demo", "--type", "admin"],
    );
    assert_eq!(out.status.code(), Some(2), "clap refuses the type");
    assert!(out.stdout.is_empty());
}
