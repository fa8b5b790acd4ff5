//! The switch on PostgreSQL (`--database-url postgres://…`): registrations outlive a
//! restart, every finished call leaves a CDR row, callflows run from the store and their
//! IVR decisions and voicemail messages are kept there. Runs when `DATABASE_URL` is set
//! (CI: `postgres://postgres@127.0.0.1:5432/test`); each run creates and drops a
//! database of its own. Without `DATABASE_URL` it prints a notice and passes.

mod common;

use common::pg::TestDb;
use common::*;
use sqlx::Row;
use std::time::Duration;

#[test]
fn registration_survives_a_restart_and_the_call_leaves_a_cdr_in_postgres() {
    let Ok(base) = std::env::var("DATABASE_URL") else {
        eprintln!("DATABASE_URL not set: PostgreSQL integration test skipped");
        return;
    };
    let db = TestDb::create(&base);
    let mut sw = Switch::start(SwitchOpts {
        extra_args: vec!["--database-url".into(), db.url.clone()],
        ..SwitchOpts::default()
    });
    // the demo dialplan was imported into this database
    let ext = db.query("SELECT number FROM extensions WHERE number = '1002'");
    assert_eq!(ext.len(), 1, "1002 is not in {}.extensions", db.name);

    let port = free_port();
    register(&sw, "1002", "demo1002", port, 300);
    assert_eq!(sw.metric("switchyard_registrations"), 1.0);
    let contact = format!("sip:1002@{LOCALHOST}:{port}");
    let bound = db.wait_rows(
        "SELECT contact FROM registrations WHERE extension = '1002'",
        Duration::from_secs(5),
    );
    let contacts: Vec<String> = bound.iter().map(|r| r.get("contact")).collect();
    assert!(
        contacts.iter().any(|c| c.contains(&contact)),
        "registrations in {}: {contacts:?}, want {contact}",
        db.name
    );

    sw.restart();
    assert_eq!(
        sw.wait_metric("switchyard_registrations", Duration::from_secs(3), |v| v
            == 1.0),
        1.0,
        "the binding of 1002 was not restored from PostgreSQL"
    );

    // the restored binding routes the call to the phone
    let sink = RtpSink::bind();
    let mut callee = sw
        .sipp("uas_answer.xml")
        .port(port)
        .key("user", "1002")
        .key("rtp_port", sink.port)
        .spawn();
    callee.wait_listening();
    let out = caller(&sw, "uac_call.xml", "1001", "1002").run();
    out.assert_ok();
    callee.wait().assert_ok();
    assert!(sink.state().rtp_packets >= 90, "{:?}", sink.state());

    let call_id = out
        .sent()
        .iter()
        .find(|m| m.starts_with("INVITE "))
        .and_then(|m| header(m, "Call-ID").map(str::to_string))
        .expect("caller's Call-ID");
    let rows = db.wait_rows(
        &format!(
            "SELECT caller, callee, direction, hangup_cause, answered_at, billsec_ms \
             FROM cdrs WHERE call_id = '{}'",
            call_id.replace('\'', "''")
        ),
        Duration::from_secs(5),
    );
    assert_eq!(rows.len(), 1, "CDRs for Call-ID {call_id} in {}", db.name);
    let r = &rows[0];
    assert_eq!(r.get::<String, _>("caller"), "1001");
    assert_eq!(r.get::<String, _>("callee"), "1002");
    assert_eq!(r.get::<String, _>("direction"), "internal");
    assert_eq!(r.get::<String, _>("hangup_cause"), "NORMAL_CLEARING");
    assert!(r.get::<Option<i64>, _>("answered_at").is_some());
    let billsec: i64 = r.get("billsec_ms");
    assert!(
        (2_000..10_000).contains(&billsec),
        "billsec_ms = {billsec}; the caller talked for ~2.6 s"
    );
    drop(sw);
}

#[test]
fn an_ivr_choice_and_a_voicemail_land_in_postgres() {
    let Ok(base) = std::env::var("DATABASE_URL") else {
        eprintln!("DATABASE_URL not set: PostgreSQL integration test skipped");
        return;
    };
    let db = TestDb::create(&base);
    let sw = Switch::start(SwitchOpts {
        extra_args: vec!["--database-url".into(), db.url.clone()],
        ..SwitchOpts::default()
    });
    let flows = db.query("SELECT number FROM callflows ORDER BY number");
    let numbers: Vec<String> = flows.iter().map(|r| r.get("number")).collect();
    assert_eq!(numbers, ["8000", "8200"]);
    let queues = db.query("SELECT id FROM queues");
    assert_eq!(queues.len(), 1, "the sales queue in {}", db.name);

    // the main menu, key 2: support rings 1004 (answers)
    let sink = RtpSink::bind();
    let dave = phone_at(&sw, "1004", "uas_answer.xml", free_port(), Some(sink.port));
    caller(&sw, "uac_ivr.xml", "1001", "8000")
        .key("rtp_port", free_port())
        .key("digit", "2")
        .run()
        .assert_ok();
    dave.wait().assert_ok();
    let audit = db.wait_rows(
        "SELECT flow, node, input, outcome FROM ivr_audit",
        Duration::from_secs(5),
    );
    assert_eq!(audit.len(), 1, "ivr_audit in {}", db.name);
    let a = &audit[0];
    assert_eq!(
        (
            a.get::<String, _>("flow"),
            a.get::<String, _>("node"),
            a.get::<String, _>("input"),
            a.get::<String, _>("outcome")
        ),
        ("8000".into(), "menu".into(), "2".into(), "support".into())
    );

    // 1005 is not registered: its box takes a message
    caller(&sw, "uac_voicemail.xml", "1001", "1005")
        .key("rtp_port", free_port())
        .run()
        .assert_ok();
    let vm = db.wait_rows(
        "SELECT box, caller, duration_ms, heard FROM voicemails",
        Duration::from_secs(10),
    );
    assert_eq!(vm.len(), 1, "voicemails in {}", db.name);
    assert_eq!(vm[0].get::<String, _>("box"), "1005");
    assert_eq!(vm[0].get::<String, _>("caller"), "1001");
    assert!(vm[0].get::<i64, _>("duration_ms") >= 1500);
    assert!(!vm[0].get::<bool, _>("heard"));
    drop(sw);
}

#[test]
fn an_import_from_another_process_is_notified_to_the_running_switch() {
    let Ok(base) = std::env::var("DATABASE_URL") else {
        eprintln!("DATABASE_URL not set: PostgreSQL integration test skipped");
        return;
    };
    let db = TestDb::create(&base);
    let sw = Switch::start(SwitchOpts {
        extra_args: vec!["--database-url".into(), db.url.clone()],
        ..SwitchOpts::default()
    });
    let unknown = caller(&sw, "uac_unknown.xml", "1001", "8900").run();
    unknown.assert_ok();

    // the same plan plus a callflow 8900, imported by another process into the database
    let plan = sw.tmp.path().join("dialplan.toml");
    let text = std::fs::read_to_string(&plan).expect("plan")
        + concat!(
            "\n[[accounts.callflows]]\nnumber = \"8900\"\nname = \"Short\"\nstart = \"p\"\n",
            "[[accounts.callflows.nodes]]\nid = \"p\"\nkind = \"play\"\nsteps = [{ pause = 0.5 }]\n",
        );
    let edited = sw.tmp.path().join("edited.toml");
    std::fs::write(&edited, text).expect("write");
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_switchyard"))
        .arg("import")
        .arg(&edited)
        .arg("--database-url")
        .arg(&db.url)
        .output()
        .expect("run import");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );

    // the switch hears of it by NOTIFY (not by its fallback poll), and answers 8900
    let until = std::time::Instant::now() + Duration::from_secs(8);
    loop {
        let log = sw.log_text();
        let notified = log
            .lines()
            .any(|l| l.contains("provisioning changed") && l.contains("notified"));
        if notified {
            break;
        }
        assert!(
            std::time::Instant::now() < until,
            "no notified rebuild in the log"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    let out = caller(&sw, "uac_app_listen.xml", "1001", "8900")
        .key("rtp_port", free_port())
        .run();
    out.assert_ok();
    assert!(out.received_statuses().contains(&200), "{}", out.report());
}
