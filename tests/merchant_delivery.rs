//! Merchant messages in LIVE mode, delivered by real peers: email through a
//! real SMTP server (aiosmtpd) with its HTML intact; SMS through Twilio's and
//! Telnyx's wire formats (a local double: their APIs, status callbacks and
//! signatures), including an ambiguous hand-off reconciled without sending
//! twice, forged callbacks refused, STOP replies, and a provider that cannot
//! be reached going to the dead-letter state with an alert; SMS over SIP
//! MESSAGE to a registered extension; and a voice message spoken to a SIPp
//! carrier behind the trunk, inside (or scheduled for) the calling window.

mod common;

use common::merchant::*;
use common::*;
use hmac::Mac;
use serde_json::{json, Value};
use std::time::Duration;

fn live(extra: Vec<String>) -> Switch {
    let sw = Switch::start(SwitchOpts {
        extra_args: extra,
        ..SwitchOpts::default()
    });
    sw
}

fn send_sms(sw: &Switch, p: &Pair, to: &str, text: &str, idem: Option<&str>) -> String {
    let r = v1_post(
        sw,
        "/api/v1/messages/sms",
        p,
        &json!({"merchantId": "gym-a", "to": to, "message": text, "type": "TRANSACTIONAL"}),
        idem,
    );
    assert_eq!(r.status, 200, "{}", r.json);
    r.json["messageId"].as_str().expect("id").to_string()
}

fn report(sw: &Switch, p: &Pair) -> Value {
    let today = chrono::Utc::now().format("%Y-%m-%d").to_string();
    v1_get(
        sw,
        &format!("/api/v1/reports/usage?from={today}&to={today}"),
        p,
    )
    .json
}

#[test]
fn email_reaches_a_real_smtp_server_with_its_html_intact() {
    let smtp = smtp_server();
    let sw = live(vec![
        "--smtp-url".into(),
        format!("smtp://127.0.0.1:{}", smtp.port),
        "--email-from".into(),
        "Gym A <noreply@gym-a.test>".into(),
    ]);
    let p = pair(&sw, "demo");
    merchant(&sw, &p, "gym-a");
    set_delivery(&sw, "demo", json!({"mode": "LIVE"}));
    let html = "<p>Your membership <b>renews</b> tomorrow.</p><p>Questions? <a href=\"https://gym-a.test/help\">Ask us</a> &amp; smile.</p>";
    let r = v1_post(
        &sw,
        "/api/v1/messages/email",
        &p,
        &json!({"merchantId": "gym-a", "to": "Member@Example.com", "subject": "Payment reminder", "body": html, "type": "TRANSACTIONAL"}),
        Some("mail-1"),
    );
    assert_eq!(r.status, 200, "{}", r.json);
    assert_eq!(
        (r.json["channel"].as_str(), r.json["status"].as_str()),
        (Some("EMAIL"), Some("QUEUED"))
    );
    let id = r.json["messageId"].as_str().expect("id").to_string();
    let m = wait_message(
        &sw,
        &p,
        &id,
        &["DELIVERED", "FAILED", "DEAD_LETTER"],
        Duration::from_secs(20),
    );
    assert_eq!(
        (m["status"].as_str(), m["provider"].as_str()),
        (Some("DELIVERED"), Some("smtp")),
        "{m}"
    );
    let mails = smtp.mails();
    assert_eq!(mails.len(), 1, "{mails:?}");
    let mail = &mails[0];
    assert!(mail.contains("Subject: Payment reminder"), "{mail}");
    assert!(mail.contains("member@example.com"), "{mail}");
    assert!(
        mail.contains(&format!("Message-ID: <msg-{id}@switchyard>")),
        "{mail}"
    );
    assert!(mail.contains("Content-Type: text/html"), "{mail}");
    // the HTML part as sent (quoted-printable may fold lines: undo soft breaks)
    let unfolded = mail
        .replace("=\r\n", "")
        .replace("=\n", "")
        .replace("=3D", "=");
    assert!(unfolded.contains(html), "{mail}");
    assert!(
        unfolded.contains("Your membership renews tomorrow."),
        "the text part: {mail}"
    );
    // the simple endpoint too
    let r = v1_post(
        &sw,
        "/api/v1/email/send",
        &p,
        &json!({"merchantId": "gym-a", "to": "second@example.com", "subject": "Hi", "body": "<h1>Hello</h1>"}),
        None,
    );
    assert_eq!(
        (
            r.status,
            r.json["success"].as_bool(),
            r.json["channel"].as_str()
        ),
        (200, Some(true), Some("EMAIL")),
        "{}",
        r.json
    );
    let id2 = r.json["messageId"].as_str().expect("id").to_string();
    wait_message(&sw, &p, &id2, &["DELIVERED"], Duration::from_secs(20));
    assert_eq!(smtp.mails().len(), 2);
    // a script in an email body is refused
    let r = v1_post(
        &sw,
        "/api/v1/messages/email",
        &p,
        &json!({"merchantId": "gym-a", "to": "a@example.com", "subject": "x", "body": "<script>alert(1)</script>", "type": "TRANSACTIONAL"}),
        None,
    );
    assert_eq!(
        assert_v1_error(&r, 400, "VALIDATION_ERROR").as_deref(),
        Some("body")
    );
}

fn twilio_sign(url: &str, params: &[(&str, &str)]) -> String {
    use base64::Engine;
    let mut sorted = params.to_vec();
    sorted.sort();
    let mut data = url.to_string();
    for (k, v) in sorted {
        data.push_str(k);
        data.push_str(v);
    }
    let mut mac = hmac::Hmac::<sha1::Sha1>::new_from_slice(TWILIO_TOKEN.as_bytes()).expect("key");
    mac.update(data.as_bytes());
    base64::engine::general_purpose::STANDARD.encode(mac.finalize().into_bytes())
}

fn form(params: &[(&str, &str)]) -> String {
    url::form_urlencoded::Serializer::new(String::new())
        .extend_pairs(params)
        .finish()
}

fn post_form(sw: &Switch, path: &str, sig: &str, params: &[(&str, &str)]) -> u16 {
    let body = form(params);
    let (st, _, _) = http_exchange(
        sw.http,
        "POST",
        path,
        &[
            ("Content-Type", "application/x-www-form-urlencoded"),
            ("X-Twilio-Signature", sig),
        ],
        Some(&body),
    )
    .expect("post");
    st
}

#[test]
fn sms_through_twilio_and_telnyx_wire_formats_with_callbacks_reconciliation_and_stop() {
    let prov = providers();
    let sw = live(provider_flags(&prov));
    let p = pair(&sw, "demo");
    merchant(&sw, &p, "gym-a");
    set_delivery(
        &sw,
        "demo",
        json!({"mode": "LIVE", "smsProvider": "twilio"}),
    );

    // Twilio: taken, then its signed callbacks make it DELIVERED; the report is PROVISIONAL until then
    let id = send_sms(&sw, &p, "+18135551234", "Your OTP is 123456", Some("tw-1"));
    let early = report(&sw, &p);
    assert_eq!(early["freshnessState"], "PROVISIONAL", "{early}");
    let m = wait_message(&sw, &p, &id, &["DELIVERED"], Duration::from_secs(20));
    assert_eq!(m["provider"], "twilio", "{m}");
    let sid = m["providerMessageId"].as_str().expect("sid").to_string();
    assert!(sid.starts_with("SM"), "{m}");
    let sent = prov.messages();
    assert_eq!(sent.len(), 1, "{sent:?}");
    assert_eq!(
        (
            sent[0]["to"].as_str(),
            sent[0]["body"].as_str(),
            sent[0]["from"].as_str()
        ),
        (
            Some("+18135551234"),
            Some("Your OTP is 123456"),
            Some("+15550100199")
        )
    );
    assert!(
        m["events"]
            .as_array()
            .expect("events")
            .iter()
            .any(|e| e["detail"] == "provider callback"),
        "{m}"
    );
    let fin = report(&sw, &p);
    assert_eq!(
        (
            fin["freshnessState"].as_str(),
            fin["totalSmsCount"].as_i64()
        ),
        (Some("FINAL"), Some(1)),
        "{fin}"
    );

    // a forged callback changes nothing
    let url = format!("http://{}/hooks/twilio/status/{id}", sw.http);
    let params = [
        ("MessageSid", sid.as_str()),
        ("MessageStatus", "undelivered"),
        ("AccountSid", TWILIO_SID),
    ];
    assert_eq!(
        post_form(
            &sw,
            &format!("/hooks/twilio/status/{id}"),
            "forged",
            &params
        ),
        403
    );
    assert_eq!(
        v1_get(&sw, &format!("/api/v1/messages/{id}"), &p).json["status"],
        "DELIVERED"
    );
    // a genuine late one does not undo the final state
    assert_eq!(
        post_form(
            &sw,
            &format!("/hooks/twilio/status/{id}"),
            &twilio_sign(&url, &params),
            &params
        ),
        204
    );
    assert_eq!(
        v1_get(&sw, &format!("/api/v1/messages/{id}"), &p).json["status"],
        "DELIVERED"
    );

    // an ambiguous hand-off (Twilio took it, then answered 500) is reconciled, not sent again
    prov.control(
        "POST",
        "/_control/mode",
        Some(&json!({"mode": "accept_then_500", "count": 1})),
    );
    let id = send_sms(&sw, &p, "+18135551235", "Ambiguous one", Some("tw-2"));
    let m = wait_message(&sw, &p, &id, &["DELIVERED"], Duration::from_secs(30));
    let steps = steps(&m);
    assert!(steps.contains(&"RECONCILING"), "{m}");
    assert_eq!(
        prov.messages()
            .iter()
            .filter(|x| x["body"] == "Ambiguous one")
            .count(),
        1,
        "sent twice"
    );
    // a 500 before it took it: reconciliation finds nothing, so it is sent (once)
    prov.control(
        "POST",
        "/_control/mode",
        Some(&json!({"mode": "error500", "count": 1})),
    );
    let id = send_sms(&sw, &p, "+18135551236", "Refused once", None);
    wait_message(&sw, &p, &id, &["DELIVERED"], Duration::from_secs(30));
    assert_eq!(
        prov.messages()
            .iter()
            .filter(|x| x["body"] == "Refused once")
            .count(),
        1
    );

    // Telnyx: signed Ed25519 webhooks; its reported cost is kept
    set_delivery(
        &sw,
        "demo",
        json!({"mode": "LIVE", "smsProvider": "telnyx"}),
    );
    let id = send_sms(&sw, &p, "+18135551237", "Via Telnyx", None);
    let m = wait_message(&sw, &p, &id, &["DELIVERED"], Duration::from_secs(20));
    assert_eq!(m["provider"], "telnyx", "{m}");
    let tx = prov
        .messages()
        .into_iter()
        .find(|x| x["body"] == "Via Telnyx")
        .expect("sent to Telnyx");
    assert_eq!(
        (tx["provider"].as_str(), tx["id"].as_str()),
        (Some("telnyx"), m["providerMessageId"].as_str())
    );
    // a webhook without a valid signature is refused
    let (st, _, _) = http_exchange(
        sw.http,
        "POST",
        &format!("/hooks/telnyx/{id}"),
        &[
            ("telnyx-timestamp", "1"),
            ("telnyx-signature-ed25519", "AAAA"),
        ],
        Some("{}"),
    )
    .expect("post");
    assert_eq!(st, 403);
    // undelivered is final and counted as such
    prov.control(
        "POST",
        "/_control/mode",
        Some(&json!({"mode": "undelivered", "count": 1})),
    );
    let id = send_sms(&sw, &p, "+18135551238", "Never arrives", None);
    let m = wait_message(&sw, &p, &id, &["UNDELIVERED"], Duration::from_secs(20));
    assert!(
        m["error"]
            .as_str()
            .is_some_and(|e| e.contains("delivery_failed")),
        "{m}"
    );

    // STOP to one of the account's numbers opts the sender out (Twilio's inbound webhook, signed)
    let inbound = [
        ("From", "+18135551234"),
        ("To", "+15550100101"),
        ("Body", "STOP"),
        ("MessageSid", "SMinbound1"),
        ("AccountSid", TWILIO_SID),
    ];
    let url = format!("http://{}/hooks/twilio/inbound", sw.http);
    assert_eq!(
        post_form(&sw, "/hooks/twilio/inbound", "bad", &inbound),
        403
    );
    assert_eq!(
        post_form(
            &sw,
            "/hooks/twilio/inbound",
            &twilio_sign(&url, &inbound),
            &inbound
        ),
        200
    );
    let r = v1_post(
        &sw,
        "/api/v1/messages/sms",
        &p,
        &json!({"merchantId": "gym-a", "to": "+18135551234", "message": "again", "type": "OTP"}),
        None,
    );
    assert_v1_error(&r, 409, "CONSENT_OPTED_OUT");
    let c = v1_get(&sw, "/api/v1/consents?merchantId=gym-a", &p).json;
    let stop = c
        .as_array()
        .expect("list")
        .iter()
        .find(|x| x["contact"] == "+18135551234")
        .expect("consent")
        .clone();
    assert_eq!(
        (stop["status"].as_str(), stop["source"].as_str()),
        (Some("OPT_OUT"), Some("sms-reply:STOP")),
        "{c}"
    );
    let start = [
        ("From", "+18135551234"),
        ("To", "+15550100101"),
        ("Body", "START"),
        ("MessageSid", "SMinbound2"),
        ("AccountSid", TWILIO_SID),
    ];
    assert_eq!(
        post_form(
            &sw,
            "/hooks/twilio/inbound",
            &twilio_sign(&url, &start),
            &start
        ),
        200
    );
    send_sms(&sw, &p, "+18135551234", "welcome back", None);
    // a START from someone who never stopped opts nobody in to marketing
    let stranger = [
        ("From", "+18135559999"),
        ("To", "+15550100101"),
        ("Body", "START"),
        ("MessageSid", "SMinbound3"),
        ("AccountSid", TWILIO_SID),
    ];
    assert_eq!(
        post_form(
            &sw,
            "/hooks/twilio/inbound",
            &twilio_sign(&url, &stranger),
            &stranger
        ),
        200
    );
    let r = v1_post(
        &sw,
        "/api/v1/messages/sms",
        &p,
        &json!({"merchantId": "gym-a", "to": "+18135559999", "message": "sale", "type": "MARKETING"}),
        None,
    );
    assert_v1_error(&r, 409, "CONSENT_REQUIRED");
}

/// A switch whose account "demo" sends SMS in LIVE mode through a Telnyx
/// nobody answers, giving up after `attempts`; its merchant gym-a and a pair.
fn unreachable_telnyx(attempts: u32) -> (Switch, Pair) {
    let dead = free_port();
    let sw = live(vec![
        "--telnyx-api-key".into(),
        "KEYx".into(),
        "--telnyx-from".into(),
        "+15550100198".into(),
        "--telnyx-url".into(),
        format!("http://127.0.0.1:{dead}"),
        "--dispatch-max-attempts".into(),
        attempts.to_string(),
    ]);
    let p = pair(&sw, "demo");
    merchant(&sw, &p, "gym-a");
    set_delivery(
        &sw,
        "demo",
        json!({"mode": "LIVE", "smsProvider": "telnyx"}),
    );
    (sw, p)
}

#[test]
fn an_unreachable_provider_dead_letters_after_its_attempts_and_raises_an_alert() {
    let (sw, p) = unreachable_telnyx(2);
    let ids: Vec<String> = (0..3)
        .map(|i| send_sms(&sw, &p, &format!("+1813555200{i}"), "nobody home", None))
        .collect();
    for id in &ids {
        let m = wait_message(&sw, &p, id, &["DEAD_LETTER"], Duration::from_secs(30));
        assert_eq!(m["attempts"], 2, "{m}");
        let steps = steps(&m);
        assert_eq!(steps, ["QUEUED", "RETRY", "DEAD_LETTER"], "{m}");
    }
    let (_, lanes) = http_json(sw.http, "GET", "/admin/merchant/lanes", &[], None);
    let sms = lanes["lanes"]
        .as_array()
        .expect("lanes")
        .iter()
        .find(|l| l["lane"] == "sms")
        .expect("lane")
        .clone();
    assert_eq!(sms["dlq"], 3, "{lanes}");
    assert_eq!(
        sw.metric_with("switchyard_dispatch_dlq", &[("lane", "sms")]),
        3.0
    );
    let alerts = v1_get(&sw, "/api/v1/alerts", &p).json;
    assert!(
        alerts
            .as_array()
            .expect("list")
            .iter()
            .any(|a| a["type"] == "PROVIDER_DOWN" && a["severity"] == "CRITICAL"),
        "{alerts}"
    );
    // the dead letters are listed
    let dl = v1_get(&sw, "/api/v1/messages?status=DEAD_LETTER", &p).json;
    assert_eq!(dl.as_array().map(Vec::len), Some(3), "{dl}");
}

#[test]
fn sms_to_a_registered_extension_goes_over_sip_message() {
    let sw = live(vec![]);
    let p = pair(&sw, "demo");
    merchant(&sw, &p, "gym-a");
    set_delivery(&sw, "demo", json!({"mode": "LIVE"}));
    // Alice (1001, +15550100101) has a phone that takes MESSAGEs
    let phone = phone(&sw, "1001", "uas_message.xml", free_port());
    let id = send_sms(&sw, &p, "+15550100101", "Hello over SIP", None);
    let m = wait_message(
        &sw,
        &p,
        &id,
        &["DELIVERED", "UNDELIVERED", "FAILED"],
        Duration::from_secs(20),
    );
    assert_eq!(
        (m["status"].as_str(), m["provider"].as_str()),
        (Some("DELIVERED"), Some("sip")),
        "{m}"
    );
    let out = phone.wait();
    out.assert_ok();
    assert!(out.messages.contains("Hello over SIP"), "{}", out.report());
}

/// An `Etc/GMT…` zone whose local hour is `want` ± 1 now.
fn zone_at_local_hour(want: i64) -> String {
    let utc = chrono::Utc::now()
        .format("%H")
        .to_string()
        .parse::<i64>()
        .expect("hour");
    // Etc/GMT-N is UTC+N
    let offset = (want - utc).rem_euclid(24);
    let offset = if offset > 12 { offset - 24 } else { offset };
    match offset {
        0 => "Etc/GMT".into(),
        o if o > 0 => format!("Etc/GMT-{o}"),
        o => format!("Etc/GMT+{}", -o),
    }
}

#[test]
fn a_voice_message_is_spoken_to_a_carrier_and_one_outside_the_window_waits() {
    let sw = live(vec![]);
    let p = pair(&sw, "demo");
    merchant(&sw, &p, "gym-a");
    set_delivery(&sw, "demo", json!({"mode": "LIVE"}));
    let sink = RtpSink::bind();
    let carrier = carrier(&sw, "carrier_uas.xml", Some(sink.port));
    let zone = zone_at_local_hour(14);
    let r = v1_post(
        &sw,
        "/api/v1/messages/voice",
        &p,
        &json!({"merchantId": "gym-a", "to": "+18135551234", "text": "Your appointment is tomorrow at 10 AM", "type": "REMINDER", "record": false, "timeoutSeconds": 30, "timeZone": zone}),
        Some("voice-1"),
    );
    assert_eq!(r.status, 200, "{}", r.json);
    assert_eq!(
        (r.json["channel"].as_str(), r.json["status"].as_str()),
        (Some("VOICE"), Some("QUEUED")),
        "{}",
        r.json
    );
    let id = r.json["messageId"].as_str().expect("id").to_string();
    let m = wait_message(
        &sw,
        &p,
        &id,
        &["DELIVERED", "UNDELIVERED", "FAILED"],
        Duration::from_secs(40),
    );
    assert_eq!(
        (m["status"].as_str(), m["provider"].as_str()),
        (Some("DELIVERED"), Some("voice")),
        "{m}"
    );
    carrier.wait().assert_ok();
    // speech reached the carrier: packets with real energy
    let heard = sink.samples_since(0);
    assert!(heard.len() > 8000, "only {} samples", heard.len());
    assert!(rms(&heard) > 0.02, "rms {}", rms(&heard));
    assert_eq!(
        v1_get(&sw, "/api/v1/merchants/gym-a", &p).json["usage"]["voiceUsed"],
        1
    );

    // at 03:00 local it waits for 08:00, is listed, and can be cancelled
    let night = zone_at_local_hour(3);
    let r = v1_post(
        &sw,
        "/api/v1/messages/voice",
        &p,
        &json!({"merchantId": "gym-a", "to": "+18135551234", "text": "Too early", "type": "REMINDER", "timeZone": night}),
        None,
    );
    assert_eq!(r.json["status"], "SCHEDULED", "{}", r.json);
    let id = r.json["messageId"].as_str().expect("id").to_string();
    let listed = v1_get(
        &sw,
        "/api/v1/messages?status=SCHEDULED&merchantId=gym-a",
        &p,
    )
    .json;
    let item = listed
        .as_array()
        .expect("list")
        .iter()
        .find(|x| x["messageId"] == id.as_str())
        .expect("listed")
        .clone();
    let at = chrono::DateTime::parse_from_rfc3339(item["nextAttemptAt"].as_str().expect("when"))
        .expect("time");
    let hours = (at.timestamp() - chrono::Utc::now().timestamp()) as f64 / 3600.0;
    assert!((3.0..=6.0).contains(&hours), "opens in {hours} h: {item}");
    let r = v1_post(
        &sw,
        &format!("/api/v1/messages/{id}/cancel"),
        &p,
        &json!({}),
        None,
    );
    assert_eq!(
        (r.status, r.json["status"].as_str()),
        (200, Some("CANCELLED")),
        "{}",
        r.json
    );
    let r = v1_post(
        &sw,
        &format!("/api/v1/messages/{id}/cancel"),
        &p,
        &json!({}),
        None,
    );
    assert_eq!(r.status, 200);
}

/// The simulator's batched hand-off checks consent against the store again
/// just before it hands a batch over (a recipient who opted out while the
/// message waited is not sent to), and its configured failure rate gives
/// UNDELIVERED with the reason, revealed after its delay.
#[test]
fn the_simulator_rechecks_consent_before_the_hand_off_and_applies_its_failure_rate() {
    // held back: LIVE through a provider nobody answers, so the messages wait in RETRY
    let (sw, p) = unreachable_telnyx(6);
    let to = ["+18135553000", "+18135553001", "+18135553002"];
    let ids: Vec<String> = to
        .iter()
        .map(|n| send_sms(&sw, &p, n, "waiting", None))
        .collect();
    for id in &ids {
        wait_message(&sw, &p, id, &["RETRY"], Duration::from_secs(15));
    }
    // the first recipient opts out while it waits; then the account goes to the simulator, failing all
    let r = v1_post(
        &sw,
        "/api/v1/consents",
        &p,
        &json!({"merchantId": "gym-a", "channel": "SMS", "contact": to[0], "status": "OPT_OUT", "source": "web"}),
        None,
    );
    assert_eq!(r.status, 200, "{}", r.json);
    set_delivery(
        &sw,
        "demo",
        json!({"mode": "SIMULATOR", "simulatorFailureRate": 1.0}),
    );
    let stopped = wait_message(&sw, &p, &ids[0], &["FAILED"], Duration::from_secs(30));
    assert!(
        stopped["error"]
            .as_str()
            .is_some_and(|e| e.contains("checked before sending")),
        "{stopped}"
    );
    for id in &ids[1..] {
        let m = wait_message(&sw, &p, id, &["UNDELIVERED"], Duration::from_secs(30));
        assert_eq!(m["error"], "the simulator's configured failure rate", "{m}");
        let steps = steps(&m);
        assert_eq!(steps.last().copied(), Some("UNDELIVERED"), "{m}");
        assert!(steps.contains(&"SENT"), "{m}");
    }
    // the simulator was handed the two others, never the one who opted out
    let v = simulator_messages(&sw, "demo");
    let mut handed: Vec<&str> = v["messages"]
        .as_array()
        .expect("messages")
        .iter()
        .filter_map(|m| m["to"].as_str())
        .collect();
    handed.sort_unstable();
    assert_eq!(handed, [to[1], to[2]], "{v}");
}
