//! Webhooks against the real binary: the v2 subscriptions API (X-Auth-Token
//! with account API keys made by `switchyard key create`, the seed's
//! envelopes, validation, tenant isolation), and delivery to a real HTTP
//! receiver that checks every signature: a SIPp call arrives as exactly its
//! channel events, signed, in order; deliveries pending at a kill -9 arrive
//! after the restart with the ids they had; a private receiver is refused
//! unless the operator allows it.

mod common;

use common::receiver::{Delivery, Receiver};
use common::*;
use serde_json::{json, Value};
use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

/// A second account next to the demo one (for isolation).
fn with_acme() -> SwitchOpts {
    SwitchOpts {
        extra_args: vec!["--webhooks-allow-private".into()],
        dialplan_patch: vec![(
            "[[accounts]]\nid = \"demo\"".into(),
            "[[accounts]]\nid = \"acme\"\nname = \"Acme\"\nsip_domain = \"acme.switchyard.test\"\n\n[[accounts]]\nid = \"demo\"".into(),
        )],
        ..SwitchOpts::default()
    }
}

fn allowing_private() -> SwitchOpts {
    SwitchOpts {
        extra_args: vec!["--webhooks-allow-private".into()],
        ..SwitchOpts::default()
    }
}

/// `switchyard key create` against the running switch's store.
fn key(sw: &Switch, account: &str, kind: &str) -> String {
    let data = sw.tmp.path().join("data");
    api_key(&["--data-dir", &data.display().to_string()], account, kind)
}

fn v2(
    sw: &Switch,
    method: &str,
    path: &str,
    token: Option<&str>,
    body: Option<Value>,
) -> (u16, Value) {
    let headers: Vec<(&str, &str)> = token.map(|t| ("X-Auth-Token", t)).into_iter().collect();
    let body = body.map(|b| b.to_string());
    http_json(sw.http, method, path, &headers, body.as_deref())
}

fn subscribe(sw: &Switch, token: &str, rx: &Receiver, doc: Value) -> (String, String) {
    let (status, v) = v2(
        sw,
        "PUT",
        "/v2/accounts/demo/webhooks",
        Some(token),
        Some(json!({ "data": doc })),
    );
    assert_eq!(status, 201, "{v}");
    let id = v["data"]["id"].as_str().expect("id").to_string();
    let secret = v["data"]["secret"]
        .as_str()
        .expect("secret once")
        .to_string();
    rx.trust(&secret);
    (id, secret)
}

#[test]
fn the_v2_api_authenticates_validates_and_keeps_accounts_apart() {
    let sw = Switch::start(with_acme());
    let rx = Receiver::start();
    let demo = key(&sw, "demo", "developer");
    let acme = key(&sw, "acme", "developer");
    let merchant = key(&sw, "demo", "merchant");

    // no key, an unknown key, a key of the wrong kind
    let (s, v) = v2(&sw, "GET", "/v2/webhooks", None, None);
    assert_eq!(
        (s, v["status"].as_str(), v["code"].as_str()),
        (401, Some("error"), Some("unauthorized")),
        "{v}"
    );
    let (s, v) = v2(&sw, "GET", "/v2/webhooks", Some("sy_dev_nope"), None);
    assert_eq!(
        (s, v["code"].as_str()),
        (401, Some("invalid_credentials")),
        "{v}"
    );
    let (s, _) = v2(&sw, "GET", "/v2/webhooks", Some(&merchant), None);
    assert_eq!(s, 403);

    // the catalogue
    let (s, v) = v2(&sw, "GET", "/v2/webhooks", Some(&demo), None);
    assert_eq!((s, v["status"].as_str()), (200, Some("success")), "{v}");
    assert!(v["request_id"].as_str().is_some_and(|r| !r.is_empty()));
    let hooks: Vec<&str> = v["data"]
        .as_array()
        .expect("list")
        .iter()
        .filter_map(|h| h["id"].as_str())
        .collect();
    for h in [
        "channel_create",
        "channel_answer",
        "channel_destroy",
        "channel_bridge",
        "object",
        "notifications",
        "QUEUE_ENTER",
    ] {
        assert!(hooks.contains(&h), "{h} in {hooks:?}");
    }

    // create with PUT (the seed's example) and with POST; the defaults; the secret once
    let (s, v) = v2(
        &sw,
        "PUT",
        "/v2/accounts/demo/webhooks",
        Some(&demo),
        Some(json!({"data": {
        "name": "completed-calls", "uri": rx.url, "hook": "channel_destroy", "http_verb": "post",
        "format": "json", "retries": 2}})),
    );
    assert_eq!(s, 201, "{v}");
    let a = v["data"]["id"].as_str().expect("id").to_string();
    assert!(
        v["data"]["secret"]
            .as_str()
            .is_some_and(|x| x.starts_with("whsec_")),
        "{v}"
    );
    let (s, v) = v2(
        &sw,
        "POST",
        "/v2/accounts/demo/webhooks",
        Some(&demo),
        Some(json!({"data": {
        "name": "new-calls", "uri": rx.url, "hook": "channel_create"}})),
    );
    assert_eq!(s, 201, "{v}");
    let b = v["data"]["id"].as_str().expect("id").to_string();
    assert_eq!(
        (
            v["data"]["http_verb"].as_str(),
            v["data"]["format"].as_str(),
            v["data"]["retries"].as_u64(),
            v["data"]["enabled"].as_bool(),
            v["data"]["include_subaccounts"].as_bool()
        ),
        (
            Some("post"),
            Some("form-data"),
            Some(2),
            Some(true),
            Some(false)
        )
    );

    // invalid documents name their fields
    let (s, v) = v2(
        &sw,
        "PUT",
        "/v2/accounts/demo/webhooks",
        Some(&demo),
        Some(json!({"data": {
        "uri": "ftp://x", "hook": "channel_explode", "retries": 99}})),
    );
    assert_eq!((s, v["code"].as_str()), (400, Some("invalid_data")), "{v}");
    for field in ["name", "uri", "hook", "retries"] {
        assert!(v["data"].get(field).is_some(), "{field} named: {v}");
    }
    let (s, v) = http_json(
        sw.http,
        "PUT",
        "/v2/accounts/demo/webhooks",
        &[("X-Auth-Token", &demo)],
        Some("{not json"),
    );
    assert_eq!((s, v["code"].as_str()), (400, Some("invalid_json")), "{v}");

    // read, list, change
    let (s, v) = v2(
        &sw,
        "GET",
        &format!("/v2/accounts/demo/webhooks/{a}"),
        Some(&demo),
        None,
    );
    assert_eq!(
        (s, v["data"]["name"].as_str()),
        (200, Some("completed-calls")),
        "{v}"
    );
    assert!(v["data"].get("secret").is_none(), "never shown again: {v}");
    let (s, v) = v2(&sw, "GET", "/v2/accounts/demo/webhooks", Some(&demo), None);
    assert_eq!(
        (s, v["data"].as_array().map(Vec::len)),
        (200, Some(2)),
        "{v}"
    );
    let (s, v) = v2(
        &sw,
        "PATCH",
        &format!("/v2/accounts/demo/webhooks/{a}"),
        Some(&demo),
        Some(json!({"data": {"enabled": false}})),
    );
    assert_eq!(
        (
            s,
            v["data"]["enabled"].as_bool(),
            v["data"]["format"].as_str()
        ),
        (200, Some(false), Some("json")),
        "{v}"
    );
    let (s, v) = v2(
        &sw,
        "POST",
        &format!("/v2/accounts/demo/webhooks/{a}"),
        Some(&demo),
        Some(json!({"data": {
        "name": "renamed", "uri": rx.url, "hook": "channel_answer", "custom_data": {"crm": "7"}}})),
    );
    assert_eq!(
        (
            s,
            v["data"]["name"].as_str(),
            v["data"]["hook"].as_str(),
            v["data"]["format"].as_str()
        ),
        (
            200,
            Some("renamed"),
            Some("channel_answer"),
            Some("form-data")
        ),
        "{v}"
    );
    assert_eq!(v["data"]["custom_data"]["crm"], "7");

    // another account sees none of it, and changes none of it: 404
    let (s, v) = v2(&sw, "GET", "/v2/accounts/demo/webhooks", Some(&acme), None);
    assert_eq!(s, 404, "{v}");
    let (s, v) = v2(&sw, "GET", "/v2/accounts/acme/webhooks", Some(&acme), None);
    assert_eq!(
        (s, v["data"].as_array().map(Vec::len)),
        (200, Some(0)),
        "{v}"
    );
    for (method, tail, body) in [
        ("GET", "", None),
        ("PATCH", "", Some(json!({"data": {"enabled": false}}))),
        (
            "POST",
            "",
            Some(json!({"data": {"name": "x", "uri": rx.url, "hook": "channel_create"}})),
        ),
        ("DELETE", "", None),
        ("GET", "/attempts", None),
        ("POST", "/rotate-secret", None),
        ("POST", "/replay", Some(json!({"data": {"event_id": "1"}}))),
    ] {
        for path in [
            format!("/v2/accounts/acme/webhooks/{a}{tail}"),
            format!("/v2/accounts/demo/webhooks/{a}{tail}"),
        ] {
            let (s, v) = v2(&sw, method, &path, Some(&acme), body.clone());
            assert_eq!(s, 404, "{method} {path} with another account's key: {v}");
        }
    }
    let (_, v) = v2(
        &sw,
        "GET",
        &format!("/v2/accounts/demo/webhooks/{a}"),
        Some(&demo),
        None,
    );
    assert_eq!(
        v["data"]["name"], "renamed",
        "unchanged by the other account"
    );

    // rotate, attempts, delete
    let (s, v) = v2(
        &sw,
        "POST",
        &format!("/v2/accounts/demo/webhooks/{b}/rotate-secret"),
        Some(&demo),
        None,
    );
    assert_eq!(s, 200, "{v}");
    assert!(v["data"]["secret"]
        .as_str()
        .is_some_and(|x| x.starts_with("whsec_")));
    let (s, v) = v2(
        &sw,
        "GET",
        &format!("/v2/accounts/demo/webhooks/{b}/attempts"),
        Some(&demo),
        None,
    );
    assert_eq!(
        (s, v["data"].as_array().map(Vec::len)),
        (200, Some(0)),
        "{v}"
    );
    let (s, v) = v2(
        &sw,
        "POST",
        &format!("/v2/accounts/demo/webhooks/{b}/replay"),
        Some(&demo),
        Some(json!({"data": {"event_id": "999999"}})),
    );
    assert_eq!(
        (s, v["code"].as_str()),
        (404, Some("event_not_found")),
        "{v}"
    );
    let (s, _) = v2(
        &sw,
        "DELETE",
        &format!("/v2/accounts/demo/webhooks/{b}"),
        Some(&demo),
        None,
    );
    assert_eq!(s, 200);
    let (s, _) = v2(
        &sw,
        "GET",
        &format!("/v2/accounts/demo/webhooks/{b}"),
        Some(&demo),
        None,
    );
    assert_eq!(s, 404);
}

#[test]
fn a_private_receiver_is_refused_unless_the_operator_allows_it() {
    let sw = Switch::start_default();
    let token = key(&sw, "demo", "developer");
    for uri in [
        "http://127.0.0.1:9/h",
        "http://localhost:9/h",
        "http://169.254.169.254/latest",
        "http://[::1]:9/h",
        "http://10.0.0.8/h",
    ] {
        let (s, v) = v2(
            &sw,
            "PUT",
            "/v2/accounts/demo/webhooks",
            Some(&token),
            Some(json!({"data": {
            "name": "x", "uri": uri, "hook": "channel_create"}})),
        );
        assert_eq!(
            (s, v["code"].as_str()),
            (400, Some("uri_not_allowed")),
            "{uri}: {v}"
        );
    }
    let sw = Switch::start(allowing_private());
    let token = key(&sw, "demo", "developer");
    let (s, v) = v2(
        &sw,
        "PUT",
        "/v2/accounts/demo/webhooks",
        Some(&token),
        Some(json!({"data": {
        "name": "x", "uri": "http://127.0.0.1:9/h", "hook": "channel_create"}})),
    );
    assert_eq!(s, 201, "{v}");
}

const CHANNEL_HOOKS: [&str; 4] = [
    "channel_create",
    "channel_answer",
    "channel_bridge",
    "channel_destroy",
];

#[test]
fn a_sipp_call_arrives_as_exactly_its_channel_events_signed_and_in_order() {
    let sw = Switch::start(allowing_private());
    let rx = Receiver::start();
    let token = key(&sw, "demo", "developer");
    let mut hook_of = BTreeMap::new();
    for hook in CHANNEL_HOOKS {
        let (id, _) = subscribe(
            &sw,
            &token,
            &rx,
            json!({"name": hook, "uri": rx.url, "hook": hook, "format": "json",
            "custom_data": {"source": "it"}}),
        );
        hook_of.insert(id, hook);
    }
    let (voice, _) = subscribe(
        &sw,
        &token,
        &rx,
        json!({"name": "ended", "uri": rx.url, "hook": "CALL_ENDED", "format": "json"}),
    );
    let events = sw.events();

    let sink = RtpSink::bind();
    let callee = phone(&sw, "1002", "uas_answer.xml", sink.port);
    caller(&sw, "uac_call.xml", "1001", "1002")
        .run()
        .assert_ok();
    callee.wait().assert_ok();
    let evs = events.wait_for(Duration::from_secs(5), |e| {
        count(e, "CALL_ENDED") >= 1 && two_destroys(e)
    });
    let want: BTreeSet<(u64, String)> = evs
        .iter()
        .filter(|e| CHANNEL_HOOKS.contains(&e.name.as_str()))
        .map(|e| (e.id.expect("id"), e.name.clone()))
        .collect();
    assert_eq!(want.len(), 8, "two legs × four hooks: {}", describe(&evs));
    let got = rx.wait_for(Duration::from_secs(10), |d| d.len() >= 9);
    let channel: Vec<&Delivery> = got
        .iter()
        .filter(|d| d.header("x-switchyard-webhook-id") != voice)
        .collect();
    let delivered: BTreeSet<(u64, String)> = channel
        .iter()
        .map(|d| {
            (
                d.event_id(),
                d.header("x-switchyard-event-type").to_string(),
            )
        })
        .collect();
    assert_eq!(delivered, want, "exactly the call's channel events");
    assert_eq!(channel.len(), 8, "each once");
    for d in &channel {
        assert!(d.signed, "signature checks out: {:?}", d.headers);
        assert_eq!(d.header("content-type"), "application/json");
        let body = d.json();
        let hook = hook_of[d.header("x-switchyard-webhook-id")];
        assert_eq!(body["hook_event"], hook, "{body}");
        assert_eq!(d.header("x-switchyard-event-type"), hook);
        assert_eq!(body["event_id"], d.event_id().to_string());
        assert_eq!(
            (body["account_id"].as_str(), body["source"].as_str()),
            (Some("demo"), Some("it")),
            "{body}"
        );
        let sse = evs
            .iter()
            .find(|e| e.id == Some(d.event_id()))
            .expect("on /events too");
        assert_eq!(body["call_id"], sse.data["call_id"], "{body}");
        assert_eq!(body["leg_id"], sse.data["channel_id"], "{body}");
        assert_eq!(body["caller_id_number"], "1001");
        assert_eq!(body["callee_id_number"], "1002");
        if hook == "channel_destroy" {
            assert_eq!(body["hangup_cause"], "NORMAL_CLEARING");
            assert!(body["duration_seconds"].is_u64(), "{body}");
        }
        if hook == "channel_bridge" {
            assert!(body["other_leg_id"].is_string(), "{body}");
        }
    }
    // per leg, the hooks arrived in the order they happened
    let mut by_leg: BTreeMap<String, Vec<u64>> = BTreeMap::new();
    for d in &channel {
        by_leg
            .entry(d.json()["leg_id"].as_str().unwrap_or_default().to_string())
            .or_default()
            .push(d.event_id());
    }
    assert_eq!(by_leg.len(), 2);
    // the voice API's envelope, with its own signature
    let ended = got
        .iter()
        .find(|d| d.header("x-switchyard-webhook-id") == voice)
        .expect("CALL_ENDED delivered");
    assert!(
        ended.signed && ended.voice_signed == Some(true),
        "{:?}",
        ended.headers
    );
    let body = ended.json();
    let keys: Vec<&str> = body
        .as_object()
        .expect("object")
        .keys()
        .map(String::as_str)
        .collect();
    assert_eq!(keys.len(), 4, "{body}");
    assert_eq!(
        (body["event_name"].as_str(), body["account_id"].as_str()),
        (Some("CALL_ENDED"), Some("demo"))
    );
    assert!(
        body["timestamp"].is_i64() && body["metadata"]["uniqueid"].is_string(),
        "{body}"
    );

    // the attempts log shows each delivery
    let (s, v) = v2(
        &sw,
        "GET",
        "/v2/accounts/demo/webhooks/attempts",
        Some(&token),
        None,
    );
    assert_eq!(s, 200, "{v}");
    let list = v["data"].as_array().expect("attempts");
    assert!(list.len() >= 9, "{v}");
    assert!(
        list.iter()
            .all(|a| a["result"] == "success" && a["response_code"] == 200),
        "{v}"
    );
}

fn app_call(sw: &Switch) {
    caller(sw, "uac_app_listen.xml", "1001", "7001")
        .key("rtp_port", free_port())
        .run()
        .assert_ok();
}

#[test]
fn deliveries_pending_at_a_kill_9_arrive_after_the_restart_with_their_ids() {
    let mut sw = Switch::start(allowing_private());
    let rx = Receiver::start();
    rx.answer(503);
    let token = key(&sw, "demo", "developer");
    for hook in ["channel_create", "channel_destroy"] {
        subscribe(
            &sw,
            &token,
            &rx,
            json!({"name": hook, "uri": rx.url, "hook": hook, "format": "json", "retries": 10}),
        );
    }
    let events = sw.events();
    app_call(&sw);
    app_call(&sw);
    let evs = events.wait_for(Duration::from_secs(5), |e| count(e, "channel_destroy") >= 2);
    let want: BTreeMap<u64, Value> = evs
        .iter()
        .filter(|e| e.name == "channel_create" || e.name == "channel_destroy")
        .map(|e| (e.id.expect("id"), e.data.clone()))
        .collect();
    assert_eq!(want.len(), 4, "{}", describe(&evs));
    // each was tried and refused: now they wait for their retries
    rx.wait_for(Duration::from_secs(5), |d| {
        d.iter()
            .map(Delivery::event_id)
            .collect::<BTreeSet<_>>()
            .len()
            >= 4
    });
    sw.crash_and_restart();
    rx.answer(200);
    let all = rx.wait_for(Duration::from_secs(30), |d| {
        let ok: BTreeSet<u64> = d
            .iter()
            .filter(|x| x.status == 200)
            .map(Delivery::event_id)
            .collect();
        want.keys().all(|id| ok.contains(id))
    });
    let ok: BTreeSet<u64> = all
        .iter()
        .filter(|x| x.status == 200)
        .map(Delivery::event_id)
        .collect();
    assert!(
        want.keys().all(|id| ok.contains(id)),
        "every event arrived: wanted {:?}, got {ok:?}\n{}",
        want.keys(),
        sw.log_text()
    );
    assert!(
        all.iter().all(|d| want.contains_key(&d.event_id())),
        "no event with a new id"
    );
    // every copy of an event is the same event: same leg, same call, signed
    for d in &all {
        let body = d.json();
        let sse = &want[&d.event_id()];
        assert_eq!(
            (&body["leg_id"], &body["call_id"]),
            (&sse["channel_id"], &sse["call_id"]),
            "{body}"
        );
        assert!(d.signed);
    }
    // the restarted switch saw the refusals in the attempts log
    let (_, v) = v2(
        &sw,
        "GET",
        "/v2/accounts/demo/webhooks/attempts?limit=500",
        Some(&token),
        None,
    );
    let list = v["data"].as_array().expect("attempts");
    assert!(
        list.iter()
            .any(|a| a["response_code"] == 503 && a["result"] == "failure"),
        "{v}"
    );
    assert!(list.iter().any(|a| a["result"] == "success"), "{v}");
}
