//! The command line as a user meets it: `--help`, `import` (idempotent, and a bad
//! file rejected with its path and field, changing nothing).

use std::process::Command;

fn bin() -> Command {
    Command::new(env!("CARGO_BIN_EXE_switchyard"))
}

#[test]
fn help_documents_every_listener_and_the_store() {
    let out = bin().args(["serve", "--help"]).output().expect("run");
    assert!(out.status.success());
    let text = String::from_utf8_lossy(&out.stdout);
    for flag in [
        "--sip-udp",
        "--sip-tcp",
        "--sip-ws",
        "--http",
        "--rtp-ports",
        "--public-ip",
        "--data-dir",
        "--database-url",
        "--dialplan",
    ] {
        assert!(
            text.contains(flag),
            "{flag} missing from serve --help:\n{text}"
        );
    }
    assert!(
        text.contains("SWITCHYARD_SIP_UDP"),
        "env vars are documented:\n{text}"
    );
}

#[test]
fn import_is_idempotent_and_rejects_bad_files_whole() {
    let dir = tempfile::tempdir().expect("tempdir");
    let data = dir.path().join("data");
    let demo = concat!(env!("CARGO_MANIFEST_DIR"), "/dialplans/demo.toml");
    let run = |file: &str| {
        bin()
            .args(["import", file, "--data-dir"])
            .arg(&data)
            .output()
            .expect("run")
    };
    let first = run(demo);
    assert!(
        first.status.success(),
        "{}",
        String::from_utf8_lossy(&first.stderr)
    );
    let first = String::from_utf8_lossy(&first.stdout).into_owned();
    assert!(first.contains("extensions: 5 inserted"), "{first}");
    let second = run(demo);
    let second = String::from_utf8_lossy(&second.stdout).into_owned();
    assert!(
        second.contains("extensions: 0 inserted, 0 updated, 0 deleted, 5 unchanged"),
        "{second}"
    );

    // an edited copy: one password changed, one extension with a bad number
    let text = std::fs::read_to_string(demo).expect("read");
    let bad = text
        .replacen("password = \"demo1002\"", "password = \"changed\"", 1)
        .replacen("number = \"1005\"", "number = \"10x5\"", 1);
    let bad_path = dir.path().join("bad.toml");
    std::fs::write(&bad_path, bad).expect("write");
    let out = run(bad_path.to_str().expect("utf8"));
    assert!(!out.status.success(), "a bad file must fail");
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("bad.toml") && err.contains("10x5"),
        "error names the file and value: {err}"
    );
    // nothing was applied: importing the original again changes nothing
    let again = String::from_utf8_lossy(&run(demo).stdout).into_owned();
    assert!(
        again.contains("extensions: 0 inserted, 0 updated, 0 deleted, 5 unchanged"),
        "{again}"
    );
}
