//! The voice developer API (v3) against the running binary, without calls:
//! keys and their types and scopes, the envelope and every error code, tenant
//! isolation on every route, rate limits with their headers (per node, and
//! across two nodes sharing Redis). Calls, queues and SMS: tests/voice_calls.rs.

mod common;

use common::voice::*;
use common::*;
use serde_json::{json, Value};

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
