//! The voice developer API (v3) against the running binary: keys and their
//! types and scopes, the envelope and every error code, rate limits with
//! their headers, tenant isolation on every route, availability and queue
//! availability following SIPp phones, click-to-call through the trunk with
//! RTP and a recording, idempotent retries (racing, and across a restart),
//! and SMS with its events.

mod common;

use common::*;
use serde_json::{json, Value};
use std::collections::HashMap;
use std::time::{Duration, Instant};

/// One answer: status, headers (lower-case names), body as JSON.
struct Resp {
    status: u16,
    headers: HashMap<String, String>,
    json: Value,
}

impl Resp {
    fn header(&self, name: &str) -> &str {
        self.headers.get(name).map(String::as_str).unwrap_or("")
    }
}

fn request(
    sw: &Switch,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: Option<&str>,
) -> Resp {
    let (status, headers, raw) =
        http_exchange(sw.http, method, path, headers, body).expect("HTTP request");
    let json = serde_json::from_slice(&raw).unwrap_or_default();
    Resp {
        status,
        headers,
        json,
    }
}

fn get(sw: &Switch, path: &str, key: Option<&str>) -> Resp {
    let h: Vec<(&str, &str)> = key.map(|k| ("X-API-Key", k)).into_iter().collect();
    request(sw, "GET", path, &h, None)
}

fn post(sw: &Switch, path: &str, key: &str, body: &Value, idem: Option<&str>) -> Resp {
    let mut h = vec![("X-API-Key", key)];
    if let Some(i) = idem {
        h.push(("Idempotency-Key", i));
    }
    request(sw, "POST", path, &h, Some(&body.to_string()))
}

/// `switchyard key create` on the running switch's store, with more flags: the printed JSON.
fn make_key(sw: &Switch, account: &str, kind: &str, more: &[&str]) -> Value {
    let data = sw.tmp.path().join("data").display().to_string();
    api_key_with(&["--data-dir", &data], account, kind, more)
}

fn key(sw: &Switch, account: &str, kind: &str, more: &[&str]) -> String {
    make_key(sw, account, kind, more)["key"]
        .as_str()
        .expect("key")
        .to_string()
}

/// Asserts the error envelope and its code; the message.
fn assert_error(r: &Resp, status: u16, code: &str) -> String {
    assert_eq!(
        (r.status, r.json["error_code"].as_str()),
        (status, Some(code)),
        "{}",
        r.json
    );
    assert_eq!(r.json["error"], true, "{}", r.json);
    assert!(r.json["result"].is_null(), "{}", r.json);
    assert_iso(&r.json["timestamp"]);
    r.json["message"].as_str().expect("message").to_string()
}

fn assert_iso(v: &Value) {
    let t = v.as_str().unwrap_or_else(|| panic!("timestamp: {v}"));
    let ok = t.len() == 20
        && t.ends_with('Z')
        && t.as_bytes()[4] == b'-'
        && t.as_bytes()[10] == b'T'
        && chrono::DateTime::parse_from_rfc3339(t).is_ok();
    assert!(ok, "not ISO 8601 UTC: {t}");
}

fn assert_ok(r: &Resp) -> &Value {
    assert_eq!(r.status, 200, "{}", r.json);
    assert_eq!(r.json["error"], false, "{}", r.json);
    assert_iso(&r.json["timestamp"]);
    assert!(r.json["message"].is_string());
    &r.json["result"]
}

/// A second account, "other", with one extension, one number and one queue.
fn two_accounts() -> SwitchOpts {
    let other = r#"[[accounts]]
id = "other"
name = "Other Co"
sip_domain = "other.switchyard.test"

[[accounts.extensions]]
number = "2001"
password = "other2001"
display_name = "Olga Other"

[[accounts.numbers]]
number = "+15550200201"
extension = "2001"

[[accounts.queues]]
id = "help"
name = "Help"
number = "8300"
members = ["2001"]

[[accounts]]
id = "demo""#;
    SwitchOpts {
        dialplan_patch: vec![("[[accounts]]\nid = \"demo\"".into(), other.into())],
        ..SwitchOpts::default()
    }
}

fn pk_of(list: &Value, field: &str, value: &str) -> i64 {
    list.as_array()
        .and_then(|l| l.iter().find(|u| u[field] == value))
        .and_then(|u| u["pk"].as_i64())
        .unwrap_or_else(|| panic!("no {field} = {value} in {list}"))
}

#[test]
fn keys_types_scopes_and_every_error_code() {
    let sw = Switch::start_default();
    let dev = key(&sw, "demo", "developer", &["--label", "crm"]);
    let user = make_key(&sw, "demo", "user", &["--extension", "1001"]);
    assert_eq!(user["extension"], "1001", "{user}");
    let user = user["key"].as_str().expect("key").to_string();
    let queues_only = key(&sw, "demo", "developer", &["--scopes", "queues:read"]);
    assert!(dev.starts_with("sy_dev_") && user.starts_with("sy_usr_"));

    // public: availability without channels, queues' basics only
    let r = get(&sw, "/v3/voice/demo/availability", None);
    let users = assert_ok(&r).clone();
    assert_eq!(r.header("x-ratelimit-limit"), "100");
    assert_eq!(users.as_array().map(Vec::len), Some(5), "{users}");
    let alice = &users[0];
    assert_eq!(
        (
            &alice["presence_id"],
            &alice["callerID"],
            &alice["first_name"],
            &alice["last_name"]
        ),
        (
            &json!("1001"),
            &json!("Alice"),
            &json!("Alice"),
            &json!("Adams")
        ),
        "{alice}"
    );
    assert_eq!(alice["devices_registered"], false);
    assert!(
        alice["pk"].is_i64() && alice.get("channels").is_none(),
        "{alice}"
    );
    let r = get(&sw, "/v3/voice/demo/queues", None);
    let q = &assert_ok(&r)[0];
    assert_eq!(
        (&q["name"], &q["queue_name"], &q["extension"]),
        (&json!("sales"), &json!("Sales Queue"), &json!("8100"))
    );
    assert!(q.get("strategy").is_none(), "public: basics only: {q}");

    // keyed: the full queue, its members
    let r = get(&sw, "/v3/voice/demo/queues", Some(&dev));
    assert_eq!(r.header("x-ratelimit-limit"), "1000");
    let q = assert_ok(&r)[0].clone();
    assert_eq!(
        (
            &q["strategy"],
            &q["timeout"],
            &q["wrapuptime"],
            &q["joinempty"],
            &q["musiconhold"]
        ),
        (
            &json!("rrmemory"),
            &json!(15),
            &json!(5),
            &json!("yes"),
            &json!("default")
        ),
        "{q}"
    );
    let pk = q["pk"].as_i64().expect("pk");
    let r = get(&sw, &format!("/v3/voice/demo/queues/{pk}"), Some(&dev));
    let detail = assert_ok(&r);
    let members: Vec<&str> = detail["assigned_users"]
        .as_array()
        .expect("assigned_users")
        .iter()
        .map(|u| u["presence_id"].as_str().unwrap_or(""))
        .collect();
    assert_eq!(members, vec!["1002", "1003"], "{detail}");

    // numbers, filtered; the user's own
    let r = get(&sw, "/v3/voice/demo/numbers", Some(&dev));
    let all = assert_ok(&r).clone();
    assert_eq!(all.as_array().map(Vec::len), Some(2), "{all}");
    let bob_line = all
        .as_array()
        .and_then(|l| l.iter().find(|n| n["number"] == "+15550100102"))
        .expect("Bob's line");
    assert_eq!(
        (&bob_line["friendly_name"], &bob_line["sms_enabled"]),
        (&json!("Bob direct"), &json!(false))
    );
    let owner = alice["pk"].as_i64().expect("pk");
    let r = get(
        &sw,
        &format!("/v3/voice/demo/numbers?owner_id={owner}"),
        Some(&dev),
    );
    let mine = assert_ok(&r);
    assert_eq!(mine.as_array().map(Vec::len), Some(1), "{mine}");
    assert_eq!(
        (&mine[0]["number"], &mine[0]["mms_enabled"]),
        (&json!("+15550100101"), &json!(true))
    );
    let r = get(
        &sw,
        "/v3/voice/demo/numbers?number=%2B15550100102",
        Some(&dev),
    );
    assert_eq!(assert_ok(&r).as_array().map(Vec::len), Some(1));
    let r = get(&sw, "/v3/voice/demo/numbers?status=ported", Some(&dev));
    assert_eq!(assert_ok(&r).as_array().map(Vec::len), Some(0));
    let r = get(&sw, "/v3/voice/demo/user/numbers", Some(&user));
    let own = assert_ok(&r);
    assert_eq!(own.as_array().map(Vec::len), Some(1), "{own}");
    let r = get(&sw, "/v3/voice/demo/user/profile", Some(&user));
    let p = assert_ok(&r);
    assert_eq!(
        (
            &p["presence_id"],
            &p["email"],
            &p["time_zone"],
            &p["voicemail_enabled"],
            &p["pk"]
        ),
        (
            &json!("1001"),
            &json!("alice@demo.switchyard.test"),
            &json!("America/New_York"),
            &json!(false),
            &json!(owner)
        ),
        "{p}"
    );

    // AUTH_REQUIRED, AUTH_INVALID, FORBIDDEN (type, scope), NOT_FOUND, BAD_REQUEST
    assert_error(
        &get(&sw, "/v3/voice/demo/numbers", None),
        401,
        "AUTH_REQUIRED",
    );
    assert_error(
        &get(&sw, "/v3/voice/demo/user/profile", None),
        401,
        "AUTH_REQUIRED",
    );
    assert_error(
        &get(&sw, "/v3/voice/demo/queues", Some("sy_dev_nonsense")),
        403,
        "AUTH_INVALID",
    );
    assert_error(
        &get(&sw, "/v3/voice/demo/numbers", Some(&user)),
        403,
        "FORBIDDEN",
    );
    assert_error(
        &get(&sw, "/v3/voice/demo/user/profile", Some(&dev)),
        403,
        "FORBIDDEN",
    );
    let m = assert_error(
        &get(&sw, "/v3/voice/demo/numbers", Some(&queues_only)),
        403,
        "FORBIDDEN",
    );
    assert!(m.contains("numbers:read"), "names the scope: {m}");
    assert_ok(&get(
        &sw,
        &format!("/v3/voice/demo/availability/queues/{pk}"),
        Some(&queues_only),
    ));
    assert_error(
        &get(&sw, "/v3/voice/demo/queues/sales", Some(&dev)),
        400,
        "BAD_REQUEST",
    );
    assert_error(
        &get(&sw, "/v3/voice/demo/queues/999999", Some(&dev)),
        404,
        "NOT_FOUND",
    );
    assert_error(
        &get(&sw, "/v3/voice/nobody/availability", None),
        404,
        "NOT_FOUND",
    );
    assert_error(
        &get(&sw, "/v3/voice/demo/nothing-here", Some(&dev)),
        404,
        "NOT_FOUND",
    );
    let r = post(
        &sw,
        "/v3/voice/demo/call/outbound",
        &dev,
        &json!({"from": "1001"}),
        None,
    );
    assert_error(&r, 400, "BAD_REQUEST");
    let r = request(
        &sw,
        "POST",
        "/v3/voice/demo/call/outbound",
        &[("X-API-Key", &dev)],
        Some("{not json"),
    );
    assert_error(&r, 400, "BAD_REQUEST");
    let huge = json!({"from": "1001", "to": "1002", "pad": "x".repeat(100_000)});
    let r = post(&sw, "/v3/voice/demo/call/outbound", &dev, &huge, None);
    let m = assert_error(&r, 400, "BAD_REQUEST");
    assert!(m.contains("body"), "{m}");
    let r = post(
        &sw,
        "/v3/voice/demo/call/outbound",
        &dev,
        &json!({"from": "1001", "to": "1002"}),
        None,
    );
    let m = assert_error(&r, 400, "BAD_REQUEST");
    assert!(m.contains("registered"), "{m}");
    let r = post(
        &sw,
        "/v3/voice/demo/call/outbound",
        &dev,
        &json!({"from": "1999", "to": "1002"}),
        None,
    );
    assert_error(&r, 400, "BAD_REQUEST");
    let r = post(
        &sw,
        "/v3/voice/demo/call/outbound",
        &user,
        &json!({"from": "1001", "to": "1002"}),
        None,
    );
    assert_error(&r, 403, "FORBIDDEN");
    let r = get(&sw, "/v3/voice/demo/calls/not-a-call", Some(&dev));
    assert_error(&r, 404, "NOT_FOUND");
    let r = request(&sw, "PUT", "/v3/voice/demo/availability", &[], None);
    assert_eq!(r.status, 405, "{}", r.json);
    assert_eq!(r.json["error"], true);

    // keys listed (prefix, label, scopes, last use) and revoked: refused at once
    let data = sw.tmp.path().join("data").display().to_string();
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_switchyard"))
        .args(["key", "list", "--account", "demo", "--data-dir", &data])
        .output()
        .expect("key list");
    let listed: Value = serde_json::from_slice(&out.stdout).expect("list JSON");
    let crm = listed["keys"]
        .as_array()
        .and_then(|l| l.iter().find(|k| k["label"] == "crm"))
        .unwrap_or_else(|| panic!("{listed}"))
        .clone();
    assert!(
        dev.starts_with(crm["prefix"].as_str().unwrap_or("-")),
        "{crm}"
    );
    assert!(crm["last_used_at"].is_i64(), "used: {crm}");
    assert!(!listed.to_string().contains(&dev), "no key in the list");
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_switchyard"))
        .args([
            "key",
            "revoke",
            crm["id"].as_str().expect("id"),
            "--data-dir",
            &data,
        ])
        .output()
        .expect("key revoke");
    assert!(out.status.success());
    assert_error(
        &get(&sw, "/v3/voice/demo/queues", Some(&dev)),
        403,
        "AUTH_INVALID",
    );

    // the admin route makes, lists and revokes keys too
    let (st, made) = http_json(
        sw.http,
        "POST",
        "/admin/accounts/demo/keys",
        &[],
        Some(r#"{"type": "developer", "scopes": ["numbers:read"]}"#),
    );
    assert_eq!(st, 201, "{made}");
    let k2 = made["key"].as_str().expect("key").to_string();
    assert_ok(&get(&sw, "/v3/voice/demo/numbers", Some(&k2)));
    assert_error(
        &get(&sw, "/v3/voice/demo/queues", Some(&k2)),
        403,
        "FORBIDDEN",
    );
    let (st, bad) = http_json(
        sw.http,
        "POST",
        "/admin/accounts/demo/keys",
        &[],
        Some(r#"{"type": "developer", "scopes": ["everything"]}"#),
    );
    assert_eq!(st, 400, "{bad}");
    let (st, _) = http_json(
        sw.http,
        "DELETE",
        &format!(
            "/admin/accounts/demo/keys/{}",
            made["id"].as_str().unwrap_or("")
        ),
        &[],
        None,
    );
    assert_eq!(st, 204);
    assert_error(
        &get(&sw, "/v3/voice/demo/numbers", Some(&k2)),
        403,
        "AUTH_INVALID",
    );
}

#[test]
fn a_key_of_one_account_finds_nothing_of_another() {
    let sw = Switch::start(two_accounts());
    let demo = key(&sw, "demo", "developer", &[]);
    let other = key(&sw, "other", "developer", &[]);
    let other_user = key(&sw, "other", "user", &["--extension", "2001"]);
    let r = get(&sw, "/v3/voice/other/queues", Some(&other));
    let help = pk_of(assert_ok(&r), "name", "help");
    let r = get(&sw, "/v3/voice/demo/queues", Some(&demo));
    let sales = pk_of(assert_ok(&r), "name", "sales");
    let bob = phone(&sw, "1002", "uas_ring.xml", free_port());
    let r = post(
        &sw,
        "/v3/voice/demo/call/outbound",
        &demo,
        &json!({"from": "1002", "to": "1003"}),
        None,
    );
    let call = assert_ok(&r)["call_id"]
        .as_str()
        .expect("call_id")
        .to_string();

    let routes = |account: &str, queue: i64| {
        vec![
            ("GET", format!("/v3/voice/{account}/availability")),
            ("GET", format!("/v3/voice/{account}/queues")),
            ("GET", format!("/v3/voice/{account}/queues/{queue}")),
            ("GET", format!("/v3/voice/{account}/availability/queues")),
            (
                "GET",
                format!("/v3/voice/{account}/availability/queues/{queue}"),
            ),
            ("GET", format!("/v3/voice/{account}/numbers")),
            ("GET", format!("/v3/voice/{account}/user/numbers")),
            ("GET", format!("/v3/voice/{account}/user/profile")),
            ("POST", format!("/v3/voice/{account}/call/outbound")),
            ("POST", format!("/v3/voice/{account}/sms/send")),
            ("GET", format!("/v3/voice/{account}/calls/{call}")),
            ("DELETE", format!("/v3/voice/{account}/calls/{call}")),
        ]
    };
    let body = json!({"from": "1002", "to": "1003", "message": "hi"}).to_string();
    for (k, account, queue) in [
        (&other, "demo", sales),
        (&other_user, "demo", sales),
        (&demo, "other", help),
    ] {
        for (method, path) in routes(account, queue) {
            let r = request(&sw, method, &path, &[("X-API-Key", k)], Some(&body));
            assert_error(&r, 404, "NOT_FOUND");
        }
    }
    // the other account's own ids do not reach demo's things either
    let r = get(
        &sw,
        &format!("/v3/voice/other/queues/{sales}"),
        Some(&other),
    );
    assert_error(&r, 404, "NOT_FOUND");
    let r = get(&sw, &format!("/v3/voice/other/calls/{call}"), Some(&other));
    assert_error(&r, 404, "NOT_FOUND");
    // and the call is still demo's to read and end
    let r = get(&sw, &format!("/v3/voice/demo/calls/{call}"), Some(&demo));
    assert_eq!(assert_ok(&r)["from"], "1002");
    let r = request(
        &sw,
        "DELETE",
        &format!("/v3/voice/demo/calls/{call}"),
        &[("X-API-Key", &demo)],
        None,
    );
    assert_ok(&r);
    bob.wait().assert_ok();
}

#[test]
fn rate_limits_count_per_key_and_per_client_with_headers() {
    let sw = Switch::start(SwitchOpts {
        extra_args: vec![
            "--api-rate-limit".into(),
            "5".into(),
            "--api-public-rate-limit".into(),
            "3".into(),
        ],
        ..SwitchOpts::default()
    });
    let (a, b) = (
        key(&sw, "demo", "developer", &[]),
        key(&sw, "demo", "developer", &[]),
    );
    let path = "/v3/voice/demo/availability/queues";
    let remaining: Vec<String> = (0..3)
        .map(|_| {
            let r = get(&sw, path, None);
            assert_eq!(r.status, 200);
            assert_eq!(r.header("x-ratelimit-limit"), "3");
            assert!(r.header("x-ratelimit-reset").parse::<u64>().is_ok());
            r.header("x-ratelimit-remaining").to_string()
        })
        .collect();
    assert_eq!(remaining, vec!["2", "1", "0"]);
    let r = get(&sw, path, None);
    assert_error(&r, 429, "RATE_LIMITED");
    let wait: u64 = r.header("retry-after").parse().expect("Retry-After");
    assert!((1..=20).contains(&wait), "Retry-After {wait}");
    // a bad key counts against the client too: still limited
    assert_error(&get(&sw, path, Some("sy_dev_guess")), 429, "RATE_LIMITED");
    // keys have their own allowance, one each
    for _ in 0..5 {
        assert_ok(&get(&sw, path, Some(&a)));
    }
    assert_error(&get(&sw, path, Some(&a)), 429, "RATE_LIMITED");
    let r = get(&sw, path, Some(&b));
    assert_ok(&r);
    assert_eq!(
        (
            r.header("x-ratelimit-limit"),
            r.header("x-ratelimit-remaining")
        ),
        ("5", "4")
    );
}

/// Polls `path` until `pred` holds on its result.
fn wait_result(
    sw: &Switch,
    path: &str,
    key: Option<&str>,
    what: &str,
    pred: impl Fn(&Value) -> bool,
) -> Value {
    let until = Instant::now() + Duration::from_secs(10);
    loop {
        let r = get(sw, path, key);
        let v = assert_ok(&r).clone();
        if pred(&v) {
            return v;
        }
        assert!(Instant::now() < until, "{what}: {v}");
        std::thread::sleep(Duration::from_millis(100));
    }
}

fn user<'a>(list: &'a Value, ext: &str) -> &'a Value {
    list.as_array()
        .and_then(|l| l.iter().find(|u| u["presence_id"] == ext))
        .unwrap_or_else(|| panic!("no {ext} in {list}"))
}

#[test]
fn availability_follows_registrations_and_live_calls() {
    let sw = Switch::start_default();
    let dev = key(&sw, "demo", "developer", &[]);
    let path = "/v3/voice/demo/availability";
    let port = free_port();
    register(&sw, "1002", "demo1002", port, 300);
    wait_result(&sw, path, None, "1002 online", |v| {
        user(v, "1002")["devices_registered"] == true
    });
    sw.sipp("unregister.xml")
        .port(port)
        .key("user", "1002")
        .auth("1002", "demo1002")
        .run()
        .assert_ok();
    wait_result(&sw, path, None, "1002 offline", |v| {
        user(v, "1002")["devices_registered"] == false
    });

    // 1001 calls 1003: both show the call with a key (direction each way), not without
    let callee = phone(&sw, "1003", "uas_answer.xml", free_port());
    let call = caller(&sw, "uac_call.xml", "1001", "1003").spawn();
    let v = wait_result(&sw, path, Some(&dev), "1001 on a call", |v| {
        user(v, "1001")["channels"]
            .as_array()
            .is_some_and(|c| !c.is_empty())
    });
    let out = &user(&v, "1001")["channels"][0];
    assert_eq!(
        (&out["from"], &out["to"], &out["direction"]),
        (&json!("1001"), &json!("1003"), &json!("outbound")),
        "{v}"
    );
    assert!(out["call_seconds"].is_u64());
    let inn = &user(&v, "1003")["channels"];
    assert_eq!(inn.as_array().map(Vec::len), Some(1), "{v}");
    assert_eq!(inn[0]["direction"], "inbound");
    assert_eq!(user(&v, "1002")["channels"], json!([]));
    let public = get(&sw, path, None);
    assert!(user(assert_ok(&public), "1001").get("channels").is_none());
    call.wait().assert_ok();
    callee.wait().assert_ok();
    wait_result(&sw, path, Some(&dev), "the call is gone", |v| {
        user(v, "1001")["channels"] == json!([])
    });
}

#[test]
fn queue_availability_follows_callers_waiting_and_answered() {
    let sw = Switch::start_default();
    let dev = key(&sw, "demo", "developer", &[]);
    let r = get(&sw, "/v3/voice/demo/queues", Some(&dev));
    let pk = pk_of(assert_ok(&r), "name", "sales");
    let path = format!("/v3/voice/demo/availability/queues/{pk}");
    let q = wait_result(&sw, &path, Some(&dev), "sales idle", |q| {
        q["agents_online"].is_u64()
    });
    assert_eq!(
        (&q["is_ready"], &q["active_calls"], &q["agents_available"]),
        (&json!(false), &json!(0), &json!(0)),
        "{q}"
    );

    // a caller waits: no agent has a device
    let sink = RtpSink::bind();
    let waiting = caller(&sw, "uac_hold_on.xml", "1001", "8100")
        .key("rtp_port", sink.port)
        .key("hold", 9_000)
        .spawn();
    let q = wait_result(&sw, &path, Some(&dev), "one waiting", |q| {
        q["calls_waiting"] == 1
    });
    assert_eq!(
        (&q["is_ready"], &q["active_calls"]),
        (&json!(false), &json!(1)),
        "{q}"
    );

    // 1002 registers and answers: on a call, nobody waiting, ready
    let agent = phone(&sw, "1002", "uas_answer.xml", free_port());
    let q = wait_result(&sw, &path, Some(&dev), "answered", |q| {
        q["agents_on_call"] == 1
    });
    assert_eq!(
        (&q["calls_waiting"], &q["active_calls"], &q["is_ready"]),
        (&json!(0), &json!(1), &json!(true)),
        "{q}"
    );
    let all = wait_result(
        &sw,
        "/v3/voice/demo/availability/queues",
        None,
        "public list",
        |l| l[0]["agents_on_call"] == 1,
    );
    assert_eq!(all[0]["pk"], json!(pk));
    waiting.wait().assert_ok();
    agent.wait().assert_ok();
    wait_result(&sw, &path, Some(&dev), "call over", |q| {
        q["agents_on_call"] == 0 && q["active_calls"] == 0
    });
}

#[test]
fn click_to_call_rings_the_user_then_the_customer_bridged_and_recorded() {
    let mut sw = Switch::start(SwitchOpts {
        trunk_ip: OTHER_HOST.to_string(),
        ..SwitchOpts::default()
    });
    let dev = key(&sw, "demo", "developer", &[]);
    let events = sw.events();
    let (agent_rtp, carrier_rtp) = (
        RtpSink::bind(),
        RtpSink::bind_on(&sw.trunk.ip().to_string()),
    );
    let mut carrier = sw
        .sipp("carrier_uas_tone.xml")
        .ip(&sw.trunk.ip().to_string())
        .port(sw.trunk.port())
        .key("user", "carrier")
        .key("rtp_port", carrier_rtp.port)
        .spawn();
    carrier.wait_listening();
    let agent = phone(&sw, "1001", "uas_answer.xml", agent_rtp.port);
    let body = json!({"from": "1001", "to": "+15551234567", "caller_id": "+15559876543", "recording": true});
    let r = post(&sw, "/v3/voice/demo/call/outbound", &dev, &body, None);
    let res = assert_ok(&r).clone();
    assert_eq!(
        (&res["status"], &res["from"], &res["to"]),
        (&json!("initiating"), &json!("1001"), &json!("+15551234567")),
        "{res}"
    );
    assert_iso(&res["timestamp"]);
    let call = res["call_id"].as_str().expect("call_id").to_string();
    let show = format!("/v3/voice/demo/calls/{call}");

    // the customer's tone reaches the user; the user talks back
    let bridged = wait_result(&sw, &show, Some(&dev), "bridged", |c| {
        c["status"] == "in-progress"
    });
    assert_eq!(bridged["recording"], true);
    agent_rtp.wait_remote(Duration::from_secs(5));
    let talk = agent_rtp.send_tone(440.0, 1.5);
    std::thread::sleep(Duration::from_millis(2200));
    talk.join().expect("tone thread");
    let st = agent_rtp.state();
    assert!(
        st.rtp_packets >= 50,
        "the user heard {} packets",
        st.rtp_packets
    );
    // (ringback first, while the trunk is dialled; then the customer's tone)
    let heard: Vec<f64> = st.samples.chunks(1600).map(tone_frequency).collect();
    assert!(
        heard.iter().filter(|f| (**f - 1000.0).abs() < 30.0).count() >= 3,
        "the user heard no 1 kHz tone (Hz by 200 ms): {heard:.0?}"
    );

    let r = request(&sw, "DELETE", &show, &[("X-API-Key", &dev)], None);
    assert_ok(&r);
    let (agent, carrier) = (agent.wait(), carrier.wait());
    agent.assert_ok();
    carrier.assert_ok();
    // the user's phone showed the number it calls; the customer saw the caller ID
    let from_line = |msgs: Vec<String>| {
        msgs.into_iter()
            .find(|m| m.starts_with("INVITE "))
            .and_then(|m| {
                m.lines()
                    .find(|l| l.starts_with("From:"))
                    .map(str::to_string)
            })
            .unwrap_or_default()
    };
    let shown = from_line(agent.received());
    assert!(
        shown.contains("sip:+15551234567@"),
        "the user's phone showed: {shown}"
    );
    let presented = from_line(carrier.received());
    assert!(
        presented.contains("sip:+15559876543@"),
        "the carrier was shown: {presented}"
    );

    let evs = events.wait_for(Duration::from_secs(8), |e| {
        count(e, "CALL_ENDED") >= 1 && count(e, "recording") >= 1
    });
    let all = describe(&evs);
    let meta = |name: &str| {
        evs.iter()
            .find(|e| e.name == name)
            .map(|e| e.data["metadata"].clone())
            .unwrap_or_else(|| panic!("no {name}: {all}"))
    };
    let (ans, dial, hang, ended) = (
        meta("USER_ANSWER"),
        meta("USER_DIAL"),
        meta("USER_HANGUP"),
        meta("CALL_ENDED"),
    );
    assert_eq!(
        (&ans["to_user_id"], &ans["uniqueid"]),
        (&json!("1001"), &json!(call)),
        "{all}"
    );
    assert_eq!(
        (&dial["from_user_id"], &dial["dialed_number"]),
        (&json!("1001"), &json!("+15551234567")),
        "{all}"
    );
    assert_eq!(hang["dialed_number"], "+15551234567", "{all}");
    assert_eq!(
        (&ended["call_direction"], &ended["dnis"]),
        (&json!("outbound"), &json!("+15551234567")),
        "{all}"
    );
    let order: Vec<&str> = evs
        .iter()
        .map(|e| e.name.as_str())
        .filter(|n| n.starts_with("USER_") || *n == "CALL_ENDED")
        .collect();
    assert_eq!(
        order,
        vec!["USER_ANSWER", "USER_DIAL", "CALL_ENDED", "USER_HANGUP"],
        "{all}"
    );

    // the recording: both parties, the user left (440 Hz), the customer right (1 kHz)
    let wav = sw
        .tmp
        .path()
        .join("data/recordings/demo")
        .join(format!("{call}.wav"));
    let mut reader =
        hound::WavReader::open(&wav).unwrap_or_else(|e| panic!("{}: {e}", wav.display()));
    assert_eq!(reader.spec().channels, 2);
    let samples: Vec<i16> = reader.samples::<i16>().map(|s| s.unwrap_or(0)).collect();
    let left: Vec<i16> = samples.iter().step_by(2).copied().collect();
    let right: Vec<i16> = samples.iter().skip(1).step_by(2).copied().collect();
    let loudest = |ch: &[i16]| rms(ch);
    assert!(
        loudest(&left) > 0.01 && loudest(&right) > 0.01,
        "both sides recorded: {} {}",
        rms(&left),
        rms(&right)
    );

    let done = wait_result(&sw, &show, Some(&dev), "completed", |c| {
        c["status"] == "completed"
    });
    assert!(
        done["ended_at"].is_string() && done["call_seconds"].is_i64(),
        "{done}"
    );
    let r = request(&sw, "DELETE", &show, &[("X-API-Key", &dev)], None);
    assert_error(&r, 404, "NOT_FOUND");
    assert_eq!(sw.settled("switchyard_active_calls"), 0.0);
    // after a restart the call is read from its detail record
    sw.restart();
    let r = get(&sw, &show, Some(&dev));
    let kept = assert_ok(&r);
    assert_eq!(
        (
            &kept["status"],
            &kept["recording"],
            &kept["from"],
            &kept["to"]
        ),
        (
            &json!("completed"),
            &json!(true),
            &json!("1001"),
            &json!("+15551234567")
        ),
        "{kept}"
    );
    assert!(
        kept["call_seconds"].as_i64().is_some_and(|s| s >= 1),
        "{kept}"
    );
}

#[test]
fn an_idempotent_retry_racing_the_first_starts_one_call() {
    let sw = Switch::start_default();
    let dev = key(&sw, "demo", "developer", &[]);
    let events = sw.events();
    let agent = phone(&sw, "1002", "uas_ring.xml", free_port());
    let body = json!({"from": "1002", "to": "1003"});
    let answers: Vec<Resp> = std::thread::scope(|s| {
        let racers: Vec<_> = (0..4)
            .map(|_| {
                s.spawn(|| {
                    post(
                        &sw,
                        "/v3/voice/demo/call/outbound",
                        &dev,
                        &body,
                        Some("order-42"),
                    )
                })
            })
            .collect();
        racers
            .into_iter()
            .map(|t| t.join().expect("racer"))
            .collect()
    });
    let ids: Vec<&str> = answers
        .iter()
        .map(|r| assert_ok(r)["call_id"].as_str().unwrap_or(""))
        .collect();
    assert!(
        ids.iter().all(|i| *i == ids[0] && !i.is_empty()),
        "one call: {ids:?}"
    );
    assert_eq!(
        answers
            .iter()
            .filter(|r| r.header("idempotent-replayed") == "true")
            .count(),
        3
    );
    // the same key with another body
    let r = post(
        &sw,
        "/v3/voice/demo/call/outbound",
        &dev,
        &json!({"from": "1002", "to": "1004"}),
        Some("order-42"),
    );
    assert_error(&r, 422, "IDEMPOTENCY_CONFLICT");
    let evs = events.collect_for(Duration::from_millis(800));
    assert_eq!(
        count(&evs, "channel_create"),
        1,
        "one leg rang: {}",
        describe(&evs)
    );
    assert_eq!(sw.metric("switchyard_active_calls"), 1.0);
    let r = request(
        &sw,
        "DELETE",
        &format!("/v3/voice/demo/calls/{}", ids[0]),
        &[("X-API-Key", &dev)],
        None,
    );
    assert_ok(&r);
    agent.wait().assert_ok();
    assert_eq!(sw.settled("switchyard_active_calls"), 0.0);
}

#[test]
fn sms_is_sent_with_its_events_and_a_retry_after_a_restart_is_answered_the_same() {
    let mut sw = Switch::start_default();
    let dev = key(&sw, "demo", "developer", &[]);
    let alice = key(&sw, "demo", "user", &["--extension", "1001"]);
    let events = sw.events();

    // over SIP: to Bob's DID (his registered phone) and to an outside number (the trunk)
    let bob = phone(&sw, "1002", "uas_message.xml", free_port());
    let mut carrier = sw
        .sipp("uas_message.xml")
        .ip(&sw.trunk.ip().to_string())
        .port(sw.trunk.port())
        .key("user", "carrier")
        .spawn();
    carrier.wait_listening();
    let body = json!({"from": "+15550100101", "to": ["+15550100102", "+15551234567"], "message": "Your table is ready"});
    let r = post(&sw, "/v3/voice/demo/sms/send", &alice, &body, None);
    let sent = assert_ok(&r).clone();
    let id = sent["message_id"].as_str().expect("message_id").to_string();
    assert_eq!(
        (&sent["delivery"], &sent["to"]),
        (&json!("sip"), &body["to"]),
        "{sent}"
    );
    let evs = events.wait_for(Duration::from_secs(8), |e| count(e, "SMS_DELIVERED") >= 2);
    let all = describe(&evs);
    let sms_sent = evs
        .iter()
        .find(|e| e.name == "SMS_SENT")
        .unwrap_or_else(|| panic!("{all}"));
    let m = &sms_sent.data["metadata"];
    assert_eq!(
        (
            &m["message_id"],
            &m["from_number"],
            &m["body"],
            &m["sms_sent_by_user_id"]
        ),
        (
            &json!(id),
            &json!("+15550100101"),
            &json!("Your table is ready"),
            &json!("1001")
        ),
        "{all}"
    );
    let mut got: Vec<(String, String)> = evs
        .iter()
        .filter(|e| e.name == "SMS_DELIVERED")
        .map(|e| {
            let m = &e.data["metadata"];
            (
                m["to_number"].as_str().unwrap_or("").to_string(),
                m["status"].as_str().unwrap_or("").to_string(),
            )
        })
        .collect();
    got.sort();
    let want = [("+15550100102", "delivered"), ("+15551234567", "delivered")];
    assert_eq!(
        got,
        want.map(|(a, b)| (a.to_string(), b.to_string())).to_vec(),
        "{all}"
    );
    for (who, run) in [("Bob", bob.wait()), ("the carrier", carrier.wait())] {
        run.assert_ok();
        let msg = run
            .received()
            .into_iter()
            .find(|m| m.starts_with("MESSAGE "))
            .unwrap_or_default();
        assert!(
            msg.contains("Your table is ready") && msg.contains("+15550100101@"),
            "{who} got: {msg}"
        );
    }

    // Bob's phone is gone (its port closed): undelivered; Alice has no device: the simulator
    let to_bob = json!({"from": "+15550100101", "to": "+15550100102", "message": "Still there?"});
    let r = post(&sw, "/v3/voice/demo/sms/send", &dev, &to_bob, None);
    assert_eq!(assert_ok(&r)["delivery"], "sip");
    let evs = events.wait_for(Duration::from_secs(8), |e| count(e, "SMS_DELIVERED") >= 3);
    let last = evs
        .iter()
        .rev()
        .find(|e| e.name == "SMS_DELIVERED")
        .expect("delivered");
    assert_eq!(
        last.data["metadata"]["status"],
        "undelivered",
        "{}",
        describe(&evs)
    );
    let body = json!({"from": "+15550100101", "to": "+15550100101", "message": "Note to self"});
    let r = post(&sw, "/v3/voice/demo/sms/send", &alice, &body, Some("sms-1"));
    let sent = assert_ok(&r).clone();
    assert_eq!(sent["delivery"], "simulator");
    let id = sent["message_id"].as_str().expect("message_id").to_string();
    let evs = events.wait_for(Duration::from_secs(5), |e| count(e, "SMS_DELIVERED") >= 4);
    let last = evs
        .iter()
        .rev()
        .find(|e| e.name == "SMS_DELIVERED")
        .expect("delivered");
    assert_eq!(
        (
            &last.data["metadata"]["status"],
            &last.data["metadata"]["message_id"]
        ),
        (&json!("delivered"), &json!(id))
    );

    // refusals: another user's number, a number without SMS, too long, not E.164
    let from_bob = json!({"from": "+15550100102", "to": "+15551234567", "message": "hi"});
    assert_error(
        &post(&sw, "/v3/voice/demo/sms/send", &alice, &from_bob, None),
        403,
        "FORBIDDEN",
    );
    let m = assert_error(
        &post(&sw, "/v3/voice/demo/sms/send", &dev, &from_bob, None),
        400,
        "BAD_REQUEST",
    );
    assert!(m.contains("SMS"), "{m}");
    let long = json!({"from": "+15550100101", "to": "+15551234567", "message": "x".repeat(161)});
    assert_error(
        &post(&sw, "/v3/voice/demo/sms/send", &dev, &long, None),
        400,
        "BAD_REQUEST",
    );
    let alias = json!({"from": "+15550100101", "to_number": ["+15550100101"], "message": "hi"});
    let r = post(&sw, "/v3/voice/demo/sms/send", &dev, &alias, None);
    assert_eq!(assert_ok(&r)["to"], json!(["+15550100101"]));
    let bad_to = json!({"from": "+15550100101", "to": "555-1234", "message": "hi"});
    assert_error(
        &post(&sw, "/v3/voice/demo/sms/send", &dev, &bad_to, None),
        400,
        "BAD_REQUEST",
    );

    // after a restart the same key and body get the same answer, and send nothing
    sw.restart();
    let events = sw.events();
    let r = post(&sw, "/v3/voice/demo/sms/send", &alice, &body, Some("sms-1"));
    assert_eq!(r.header("idempotent-replayed"), "true");
    assert_eq!(assert_ok(&r)["message_id"], json!(id));
    let evs = events.collect_for(Duration::from_millis(600));
    assert_eq!(count(&evs, "SMS_SENT"), 0, "{}", describe(&evs));
    let changed = json!({"from": "+15550100101", "to": "+15551234567", "message": "changed"});
    assert_error(
        &post(
            &sw,
            "/v3/voice/demo/sms/send",
            &alice,
            &changed,
            Some("sms-1"),
        ),
        422,
        "IDEMPOTENCY_CONFLICT",
    );
}

#[test]
fn rate_limits_hold_across_two_nodes_sharing_redis() {
    let url = std::env::var("REDIS_URL").unwrap_or_else(|_| "redis://127.0.0.1:6379".into());
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or(0);
    let prefix = format!("switchyard-test:{}:{nanos}:", std::process::id());
    let opts = || SwitchOpts {
        extra_args: vec![
            "--api-rate-limit-redis".into(),
            url.clone(),
            "--api-rate-limit-prefix".into(),
            prefix.clone(),
            "--api-public-rate-limit".into(),
            "4".into(),
        ],
        ..SwitchOpts::default()
    };
    let (a, b) = (Switch::start(opts()), Switch::start(opts()));
    let path = "/v3/voice/demo/availability/queues";
    // one allowance for the client, whichever node it asks
    let seen: Vec<(u16, String)> = [&a, &b, &a, &b]
        .iter()
        .map(|sw| {
            let r = get(sw, path, None);
            (r.status, r.header("x-ratelimit-remaining").to_string())
        })
        .collect();
    let want: Vec<(u16, String)> = ["3", "2", "1", "0"]
        .iter()
        .map(|r| (200, r.to_string()))
        .collect();
    assert_eq!(seen, want);
    for sw in [&a, &b] {
        let r = get(sw, path, None);
        assert_error(&r, 429, "RATE_LIMITED");
        assert!(r
            .header("retry-after")
            .parse::<u64>()
            .is_ok_and(|s| (1..=20).contains(&s)));
    }
}
