//! The merchant API (`/api/v1`, seed 000) against the running binary, as an
//! integration would use it: the seed's quickstart (merchant → consent → SMS
//! → usage) with its documented shapes, credentials and tenants, consent
//! rules, limits with their alerts and the upgrade that lifts them once
//! confirmed, Idempotency-Key (replays, conflicts, racing twins), a message's
//! lifecycle through the simulator, and the lanes' figures.

mod common;

use common::merchant::*;
use common::voice::Resp;
use common::*;
use serde_json::{json, Value};
use std::time::Duration;

fn with_acme() -> SwitchOpts {
    SwitchOpts {
        dialplan_patch: vec![(
            "[[accounts]]\nid = \"demo\"".into(),
            "[[accounts]]\nid = \"acme\"\nname = \"Acme\"\nsip_domain = \"acme.switchyard.test\"\n\n[[accounts]]\nid = \"demo\"".into(),
        )],
        ..SwitchOpts::default()
    }
}

fn sms(sw: &Switch, p: &Pair, to: &str, text: &str, kind: &str, idem: Option<&str>) -> Resp {
    v1_post(
        sw,
        "/api/v1/messages/sms",
        p,
        &json!({"merchantId": "gym-a", "to": to, "message": text, "type": kind}),
        idem,
    )
}

fn period_start() -> String {
    chrono::Utc::now().format("%Y-%m-01").to_string()
}

#[test]
fn the_quickstart_gives_the_documented_shapes_and_tenants_stay_apart() {
    let sw = Switch::start(with_acme());
    let p = pair(&sw, "demo");
    assert!(
        p.key.starts_with("sy_mer_") && p.secret.starts_with("sy_sec_"),
        "{p:?}"
    );
    // credentials
    let r = common::voice::request(&sw, "GET", "/api/v1/merchants", &[], None);
    assert_v1_error(&r, 401, "AUTH_REQUIRED");
    let wrong = Pair {
        secret: "sy_sec_wrong".into(),
        ..p.clone()
    };
    assert_v1_error(
        &v1_get(&sw, "/api/v1/merchants", &wrong),
        401,
        "AUTH_INVALID",
    );

    // 1. merchant
    let r = v1_post(
        &sw,
        "/api/v1/merchants",
        &p,
        &json!({"merchantId": "gym-a", "displayName": "Gym A", "active": true,
                "smsLimit": 5000, "voiceMinutesLimit": 1000, "emailLimit": 25000}),
        Some("merchant-gym-a-1"),
    );
    assert_eq!(r.status, 200, "{}", r.json);
    assert_eq!(
        r.json,
        json!({"merchantId": "gym-a", "displayName": "Gym A", "active": true,
               "limits": {"smsLimit": 5000, "voiceMinutesLimit": 1000, "emailLimit": 25000},
               "credits": {"smsCredits": 0, "voiceMinutesCredits": 0, "emailCredits": 0},
               "usage": {"smsUsed": 0, "voiceUsed": 0, "emailUsed": 0, "periodStart": period_start()}})
    );
    // an update keeps what it does not name
    let r = v1_post(
        &sw,
        "/api/v1/merchants",
        &p,
        &json!({"merchantId": "gym-a", "emailLimit": 20000}),
        None,
    );
    assert_eq!(
        (
            r.json["displayName"].as_str(),
            r.json["limits"]["emailLimit"].as_i64(),
            r.json["limits"]["smsLimit"].as_i64()
        ),
        (Some("Gym A"), Some(20000), Some(5000)),
        "{}",
        r.json
    );

    // 2. consent
    let r = v1_post(
        &sw,
        "/api/v1/consents",
        &p,
        &json!({"merchantId": "gym-a", "channel": "SMS", "contact": "+18135551234",
                "status": "OPT_IN", "source": "checkout-form"}),
        None,
    );
    assert_eq!(r.status, 200, "{}", r.json);
    let keys: Vec<&str> = r
        .json
        .as_object()
        .expect("object")
        .keys()
        .map(String::as_str)
        .collect();
    assert_eq!(
        keys,
        [
            "channel",
            "contact",
            "merchantId",
            "source",
            "status",
            "updatedAt"
        ]
    );
    assert_eq!(r.json["status"], "OPT_IN");
    assert!(
        r.json["updatedAt"]
            .as_str()
            .is_some_and(|t| t.ends_with('Z') && t.len() == 24),
        "{}",
        r.json
    );

    // 3. SMS
    let events = sw.events();
    let r = sms(
        &sw,
        &p,
        "+18135551234",
        "Your OTP is 123456",
        "OTP",
        Some("merchant-gym-a-otp-20260416-001"),
    );
    assert_eq!(r.status, 200, "{}", r.json);
    let id = r.json["messageId"].as_str().expect("messageId").to_string();
    assert!(id.parse::<u64>().is_ok(), "{}", r.json);
    assert_eq!(
        r.json,
        json!({"merchantId": "gym-a", "channel": "SMS", "messageId": id, "status": "QUEUED"})
    );
    let m = wait_message(&sw, &p, &id, &["DELIVERED"], Duration::from_secs(15));
    let steps: Vec<&str> = m["events"]
        .as_array()
        .expect("events")
        .iter()
        .filter_map(|e| e["status"].as_str())
        .collect();
    assert_eq!(steps, ["QUEUED", "SENT", "DELIVERED"], "{m}");
    assert_eq!(
        (m["provider"].as_str(), m["finalState"].as_bool()),
        (Some("simulator"), Some(true)),
        "{m}"
    );
    // each state change is an event (and SMS_SENT / SMS_DELIVERED for an SMS)
    let of_it = |e: &common::Event| {
        e.name == "MESSAGE_STATUS" && e.data["metadata"]["message_id"] == id.as_str()
    };
    let evs = events.wait_for(Duration::from_secs(5), |evs| {
        evs.iter().filter(|e| of_it(e)).count() >= 3
    });
    let seen: Vec<&str> = evs
        .iter()
        .filter(|e| of_it(e))
        .filter_map(|e| e.data["metadata"]["status"].as_str())
        .collect();
    assert_eq!(seen, ["QUEUED", "SENT", "DELIVERED"]);
    let first = evs.iter().find(|e| of_it(e)).expect("event");
    assert_eq!(
        (
            first.data["metadata"]["merchant_id"].as_str(),
            first.data["metadata"]["channel"].as_str(),
            first.data["account_id"].as_str()
        ),
        (Some("gym-a"), Some("SMS"), Some("demo")),
        "{}",
        first.data
    );
    assert!(evs.iter().any(|e| e.name == "SMS_DELIVERED"
        && e.data["metadata"]["message_id"] == id.as_str()
        && e.data["metadata"]["status"] == "delivered"));

    // 4. usage
    let today = chrono::Utc::now().format("%Y-%m-%d").to_string();
    let r = v1_get(
        &sw,
        &format!("/api/v1/reports/usage?from={}&to={today}", period_start()),
        &p,
    );
    assert_eq!(r.status, 200, "{}", r.json);
    for f in [
        "from",
        "to",
        "totalSmsCount",
        "totalEmailCount",
        "awsCost",
        "hqMarkup",
        "finalCharges",
        "freshnessState",
        "freshnessReason",
    ] {
        assert!(!r.json[f].is_null(), "{f}: {}", r.json);
    }
    assert_eq!(
        (
            r.json["totalSmsCount"].as_i64(),
            r.json["freshnessState"].as_str()
        ),
        (Some(1), Some("FINAL")),
        "{}",
        r.json
    );
    // 1 segment at 0.02 + 30 % markup
    assert_eq!(
        (r.json["finalCharges"].as_f64(), r.json["hqMarkup"].as_f64()),
        (Some(0.03), Some(0.01)),
        "{}",
        r.json
    );
    let r = v1_get(&sw, "/api/v1/merchants/gym-a", &p);
    assert_eq!(r.json["usage"]["smsUsed"], 1, "{}", r.json);
    let r = v1_get(&sw, "/api/v1/consents?merchantId=gym-a", &p);
    assert_eq!(r.json.as_array().map(Vec::len), Some(1), "{}", r.json);
    let r = v1_get(
        &sw,
        "/api/v1/reports/usage?from=2026-13-01&to=2026-01-01",
        &p,
    );
    assert_eq!(
        assert_v1_error(&r, 400, "VALIDATION_ERROR").as_deref(),
        Some("from")
    );

    // the simulator's record and the lanes
    let v = simulator_messages(&sw, "demo");
    assert_eq!(v["messages"][0]["body"], "Your OTP is 123456", "{v}");
    let (_, lanes) = http_json(sw.http, "GET", "/admin/merchant/lanes", &[], None);
    let sms_lane = lanes["lanes"]
        .as_array()
        .expect("lanes")
        .iter()
        .find(|l| l["lane"] == "sms")
        .expect("sms lane")
        .clone();
    assert_eq!(
        (
            sms_lane["delivered"].as_i64(),
            sms_lane["backlog"].as_i64(),
            sms_lane["dlq"].as_i64()
        ),
        (Some(1), Some(0), Some(0)),
        "{lanes}"
    );
    assert_eq!(
        sw.metric_with("switchyard_dispatch_processed_total", &[("lane", "sms")]),
        1.0
    );

    // another tenant sees none of it
    let acme = pair(&sw, "acme");
    assert_v1_error(
        &v1_get(&sw, "/api/v1/merchants/gym-a", &acme),
        404,
        "NOT_FOUND",
    );
    assert_eq!(v1_get(&sw, "/api/v1/merchants", &acme).json, json!([]));
    assert_v1_error(
        &v1_get(&sw, &format!("/api/v1/messages/{id}"), &acme),
        404,
        "NOT_FOUND",
    );
    assert_eq!(v1_get(&sw, "/api/v1/consents", &acme).json, json!([]));
    // a merchant of the same id in the other tenant is its own
    let r = v1_post(
        &sw,
        "/api/v1/merchants",
        &acme,
        &json!({"merchantId": "gym-a", "smsLimit": 7}),
        None,
    );
    assert_eq!(r.json["limits"]["smsLimit"], 7, "{}", r.json);
    assert_eq!(
        v1_get(&sw, "/api/v1/merchants/gym-a", &p).json["limits"]["smsLimit"],
        5000
    );
}

#[test]
fn consent_validation_limits_alerts_upgrades_and_idempotency() {
    let sw = Switch::start_default();
    let p = pair(&sw, "demo");
    let r = v1_post(
        &sw,
        "/api/v1/merchants",
        &p,
        &json!({"merchantId": "gym-a", "smsLimit": 5, "emailLimit": 10}),
        None,
    );
    assert_eq!(r.status, 200, "{}", r.json);

    // validation names the field
    let bad = |body: Value, field: &str| {
        let r = v1_post(&sw, "/api/v1/messages/sms", &p, &body, None);
        assert_eq!(
            assert_v1_error(&r, 400, "VALIDATION_ERROR").as_deref(),
            Some(field),
            "{}",
            r.json
        );
    };
    bad(
        json!({"merchantId": "gym-a", "to": "813-555-1234", "message": "hi", "type": "OTP"}),
        "to",
    );
    bad(
        json!({"merchantId": "gym-a", "to": "+18135551234", "message": "hi", "type": "SPAM"}),
        "type",
    );
    bad(
        json!({"merchantId": "gym-a", "to": "+18135551234", "type": "OTP"}),
        "message",
    );
    bad(
        json!({"to": "+18135551234", "message": "hi", "type": "OTP"}),
        "merchantId",
    );
    let r = v1_post(
        &sw,
        "/api/v1/messages/email",
        &p,
        &json!({"merchantId": "gym-a", "to": "not an address", "subject": "s", "body": "<p>x</p>", "type": "TRANSACTIONAL"}),
        None,
    );
    assert_eq!(
        assert_v1_error(&r, 400, "VALIDATION_ERROR").as_deref(),
        Some("to")
    );
    let r = common::voice::request(
        &sw,
        "POST",
        "/api/v1/messages/sms",
        &[("X-API-KEY", &p.key), ("X-API-SECRET", &p.secret)],
        Some("{not json"),
    );
    assert_v1_error(&r, 400, "VALIDATION_ERROR");
    assert_v1_error(
        &sms_to(&sw, &p, "nobody", "+18135551234", "OTP"),
        404,
        "NOT_FOUND",
    );

    // consent: an opt-out always blocks; marketing needs an opt-in
    let consent = |contact: &str, status: &str| {
        let r = v1_post(
            &sw,
            "/api/v1/consents",
            &p,
            &json!({"merchantId": "gym-a", "channel": "SMS", "contact": contact, "status": status, "source": "test"}),
            None,
        );
        assert_eq!(r.status, 200, "{}", r.json);
    };
    consent("+18135550001", "OPT_IN");
    consent("+18135550001", "OPT_OUT");
    let r = sms(&sw, &p, "+18135550001", "Your OTP is 1", "OTP", None);
    assert_eq!(
        assert_v1_error(&r, 409, "CONSENT_OPTED_OUT").as_deref(),
        Some("to")
    );
    let r = sms(&sw, &p, "+18135550002", "50% off!", "MARKETING", None);
    assert_v1_error(&r, 409, "CONSENT_REQUIRED");
    consent("+18135550002", "OPT_IN");
    assert_eq!(
        sms(&sw, &p, "+18135550002", "50% off!", "MARKETING", None).status,
        200
    );
    // the history keeps both changes of 0001
    let h = v1_get(&sw, "/api/v1/consents?merchantId=gym-a&history=true", &p).json;
    let of: Vec<&str> = h
        .as_array()
        .expect("list")
        .iter()
        .filter(|c| c["contact"] == "+18135550001")
        .filter_map(|c| c["status"].as_str())
        .collect();
    assert_eq!(of, ["OPT_IN", "OPT_OUT"], "{h}");

    // Idempotency-Key: a retry converges, another body is refused, racing twins make one message
    let first = sms(
        &sw,
        &p,
        "+18135550003",
        "Your OTP is 2",
        "OTP",
        Some("otp-2"),
    );
    let again = sms(
        &sw,
        &p,
        "+18135550003",
        "Your OTP is 2",
        "OTP",
        Some("otp-2"),
    );
    assert_eq!(first.json["messageId"], again.json["messageId"]);
    assert_eq!(again.header("idempotent-replayed"), "true");
    assert_v1_error(
        &sms(
            &sw,
            &p,
            "+18135550003",
            "Your OTP is 3",
            "OTP",
            Some("otp-2"),
        ),
        422,
        "IDEMPOTENCY_CONFLICT",
    );
    let ids: Vec<String> = std::thread::scope(|s| {
        let hs: Vec<_> = (0..8)
            .map(|_| {
                s.spawn(|| {
                    sms(
                        &sw,
                        &p,
                        "+18135550004",
                        "Your OTP is 4",
                        "OTP",
                        Some("otp-4"),
                    )
                    .json["messageId"]
                        .as_str()
                        .unwrap_or("none")
                        .to_string()
                })
            })
            .collect();
        hs.into_iter().map(|h| h.join().expect("thread")).collect()
    });
    assert!(ids.iter().all(|i| i == &ids[0] && i != "none"), "{ids:?}");
    let _ = wait_message(&sw, &p, &ids[0], &["DELIVERED"], Duration::from_secs(15));
    let (_, sim) = http_json(
        sw.http,
        "GET",
        "/admin/simulator/messages?account=demo",
        &[],
        None,
    );
    let sent_4 = sim["messages"]
        .as_array()
        .expect("list")
        .iter()
        .filter(|m| m["to"] == "+18135550004")
        .count();
    assert_eq!(sent_4, 1, "{sim}");

    // limits: 3 used (0002, 0003, 0004) of 5; two more fit, the next is refused
    assert_eq!(sms(&sw, &p, "+18135550005", "a", "OTP", None).status, 200);
    assert_eq!(sms(&sw, &p, "+18135550006", "b", "OTP", None).status, 200);
    let r = sms(&sw, &p, "+18135550007", "c", "OTP", Some("over-1"));
    assert_eq!(
        assert_v1_error(&r, 402, "LIMIT_REACHED").as_deref(),
        Some("merchantId")
    );
    // the refusal is what the key keeps
    assert_v1_error(
        &sms(&sw, &p, "+18135550007", "c", "OTP", Some("over-1")),
        402,
        "LIMIT_REACHED",
    );
    let alerts = v1_get(&sw, "/api/v1/alerts", &p).json;
    let kinds: Vec<&str> = alerts
        .as_array()
        .expect("alerts")
        .iter()
        .filter_map(|a| a["type"].as_str())
        .collect();
    for k in ["USAGE_80", "USAGE_100", "CREDITS_EXHAUSTED"] {
        assert!(kinds.contains(&k), "{k}: {alerts}");
    }
    assert_eq!(alerts[0]["merchantId"], "gym-a", "{alerts}");
    // raised once per condition
    assert_eq!(sms(&sw, &p, "+18135550008", "d", "OTP", None).status, 402);
    let again = v1_get(&sw, "/api/v1/alerts", &p).json;
    assert_eq!(
        again.as_array().map(Vec::len),
        alerts.as_array().map(Vec::len),
        "{again}"
    );

    // an upgrade is pending until the payment provider confirms it
    let r = v1_post(
        &sw,
        "/api/v1/billing/upgrade",
        &p,
        &json!({"merchantId": "gym-a", "channel": "SMS", "units": 2, "amountCents": 4900, "paymentMethodId": "pm_123", "referenceId": "upgrade-apr-16", "note": "Seasonal reminder volume", "currency": "USD"}),
        Some("upgrade-1"),
    );
    assert_eq!(r.status, 200, "{}", r.json);
    let pay = r.json["paymentId"].as_str().expect("paymentId").to_string();
    assert_eq!(
        r.json,
        json!({"merchantId": "gym-a", "channel": "SMS", "unitsRequested": 2, "amountCents": 4900, "currency": "USD",
               "paymentId": pay, "paymentStatus": "PENDING", "fulfilled": false, "remainingCredits": 0})
    );
    assert_eq!(
        sms(&sw, &p, "+18135550009", "e", "OTP", None).status,
        402,
        "no credit before the confirmation"
    );
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_switchyard"))
        .args(["payment", "confirm", &pay, "--data-dir"])
        .arg(sw.tmp.path().join("data"))
        .output()
        .expect("payment confirm");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let confirmed: Value = serde_json::from_slice(&out.stdout).expect("JSON");
    assert_eq!(
        (
            confirmed["paymentStatus"].as_str(),
            confirmed["fulfilled"].as_bool(),
            confirmed["remainingCredits"].as_i64()
        ),
        (Some("CONFIRMED"), Some(true), Some(2)),
        "{confirmed}"
    );
    // confirming twice adds nothing
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_switchyard"))
        .args(["payment", "confirm", &pay, "--data-dir"])
        .arg(sw.tmp.path().join("data"))
        .output()
        .expect("payment confirm");
    let twice: Value = serde_json::from_slice(&out.stdout).expect("JSON");
    assert_eq!(
        (
            twice["confirmedNow"].as_bool(),
            twice["remainingCredits"].as_i64()
        ),
        (Some(false), Some(2)),
        "{twice}"
    );
    assert_eq!(sms(&sw, &p, "+18135550009", "e", "OTP", None).status, 200);
    let m = v1_get(&sw, "/api/v1/merchants/gym-a", &p).json;
    assert_eq!(
        (
            m["credits"]["smsCredits"].as_i64(),
            m["usage"]["smsUsed"].as_i64()
        ),
        (Some(1), Some(6)),
        "{m}"
    );
}

fn sms_to(sw: &Switch, p: &Pair, merchant: &str, to: &str, kind: &str) -> Resp {
    v1_post(
        sw,
        "/api/v1/messages/sms",
        p,
        &json!({"merchantId": merchant, "to": to, "message": "hi", "type": kind}),
        None,
    )
}
