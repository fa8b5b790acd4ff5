//! Steering a live call leg by leg through the operator routes, against the
//! real binary and SIPp phones: a supervisor dialled into a bridged call
//! listens, whispers to the agent, barges in, and leaves (each party's tone
//! told apart at every phone); an operator dials a third party, bridges the
//! caller to it and hangs up the first callee (consultation, then transfer);
//! digits are collected from a leg after a prompt; bad commands get JSON errors.

mod common;

use common::*;
use serde_json::Value;
use std::time::Duration;

fn json(sw: &Switch, method: &str, path: &str, body: Option<&str>) -> (u16, Value) {
    let (status, raw) = http_request(sw.http, method, path, body).expect("HTTP");
    let v = if raw.is_empty() {
        Value::Null
    } else {
        serde_json::from_slice(&raw)
            .unwrap_or_else(|_| panic!("not JSON: {}", String::from_utf8_lossy(&raw)))
    };
    (status, v)
}

/// Amplitude (fraction of full scale) of `freq` in 8 kHz samples (Goertzel).
fn amplitude(x: &[i16], freq: f64) -> f64 {
    if x.is_empty() {
        return 0.0;
    }
    let w = 2.0 * std::f64::consts::PI * freq / 8000.0;
    let coeff = 2.0 * w.cos();
    let (mut s1, mut s2) = (0.0f64, 0.0f64);
    for &v in x {
        let s0 = f64::from(v) + coeff * s1 - s2;
        s2 = s1;
        s1 = s0;
    }
    let power = s1 * s1 + s2 * s2 - coeff * s1 * s2;
    2.0 * power.max(0.0).sqrt() / x.len() as f64 / 32768.0
}

const TONES: [f64; 3] = [500.0, 1000.0, 2000.0];

/// The two channels of a 16-bit stereo WAV file.
fn stereo_wav(path: &str) -> (Vec<i16>, Vec<i16>) {
    let bytes = std::fs::read(path).unwrap_or_else(|e| panic!("read {path}: {e}"));
    let mut pos = 12;
    while pos + 8 <= bytes.len() {
        let len = u32::from_le_bytes([
            bytes[pos + 4],
            bytes[pos + 5],
            bytes[pos + 6],
            bytes[pos + 7],
        ]);
        if &bytes[pos..pos + 4] == b"data" {
            let data = &bytes[pos + 8..(pos + 8 + len as usize).min(bytes.len())];
            let samples: Vec<i16> = data
                .chunks_exact(2)
                .map(|b| i16::from_le_bytes([b[0], b[1]]))
                .collect();
            let left = samples.iter().step_by(2).copied().collect();
            let right = samples.iter().skip(1).step_by(2).copied().collect();
            return (left, right);
        }
        pos += 8 + len as usize;
    }
    panic!("{path}: no data chunk");
}

/// One second of what each sink hears: which of the three tones are in it.
fn listen(sinks: &[&RtpSink]) -> Vec<[bool; 3]> {
    let marks: Vec<usize> = sinks.iter().map(|s| s.heard()).collect();
    std::thread::sleep(Duration::from_millis(1000));
    sinks
        .iter()
        .zip(marks)
        .map(|(s, m)| {
            let x = s.samples_since(m);
            TONES.map(|f| amplitude(&x, f) > 0.05)
        })
        .collect()
}

fn call_view(sw: &Switch, call: &str) -> Value {
    let (status, v) = json(sw, "GET", &format!("/calls/{call}"), None);
    assert_eq!(status, 200, "{v}");
    v
}

fn leg_of(view: &Value, role: &str, number: &str) -> String {
    view["legs"]
        .as_array()
        .expect("legs")
        .iter()
        .find(|l| l["role"] == role && l["number"] == number)
        .and_then(|l| l["id"].as_str())
        .unwrap_or_else(|| panic!("no {role} leg {number}: {view}"))
        .to_string()
}

/// Waits until the call's view satisfies `ok`.
fn wait_view(sw: &Switch, call: &str, ok: impl Fn(&Value) -> bool) -> Value {
    let until = std::time::Instant::now() + Duration::from_secs(8);
    loop {
        let v = call_view(sw, call);
        if ok(&v) {
            return v;
        }
        assert!(std::time::Instant::now() < until, "never: {v}");
        std::thread::sleep(Duration::from_millis(100));
    }
}

fn leg(view: &Value, id: &str) -> Value {
    view["legs"]
        .as_array()
        .expect("legs")
        .iter()
        .find(|l| l["id"] == id)
        .cloned()
        .unwrap_or(Value::Null)
}

/// Click-to-call 1002 → 1003, both answering with their own RTP sinks.
fn bridged_call(sw: &Switch, a: &RtpSink, b: &RtpSink) -> (String, RunningSipp, RunningSipp) {
    let alice = phone_at(sw, "1002", "uas_answer.xml", free_port(), Some(a.port));
    let bob = phone_at(sw, "1003", "uas_answer.xml", free_port(), Some(b.port));
    let (status, v) = json(
        sw,
        "POST",
        "/calls",
        Some(r#"{"to": "1002", "connect": "1003"}"#),
    );
    assert_eq!(status, 201, "{v}");
    let call = v["call_id"].as_str().expect("call_id").to_string();
    wait_view(sw, &call, |v| {
        v["legs"].as_array().is_some_and(|l| {
            l.len() == 2
                && l.iter()
                    .all(|l| l["state"] == "answered" && !l["bridged_to"].is_null())
        })
    });
    (call, alice, bob)
}

#[test]
fn a_supervisor_listens_whispers_barges_and_leaves_the_pair_talking() {
    let sw = Switch::start_default();
    let events = sw.events();
    let (a, b, s) = (RtpSink::bind(), RtpSink::bind(), RtpSink::bind());
    let (call, alice, bob) = bridged_call(&sw, &a, &b);
    let view = call_view(&sw, &call);
    let (caller, agent) = (
        leg_of(&view, "caller", "1002"),
        leg_of(&view, "callee", "1003"),
    );
    assert_eq!(leg(&view, &caller)["bridged_to"], agent.as_str(), "{view}");

    // the supervisor (1004) is dialled to listen to the agent's conversation
    let sup_phone = phone_at(&sw, "1004", "uas_answer.xml", free_port(), Some(s.port));
    let (status, v) = json(
        &sw,
        "POST",
        &format!("/calls/{call}/legs"),
        Some(&format!(
            r#"{{"number": "1004", "monitor": "{agent}", "mode": "listen"}}"#
        )),
    );
    assert_eq!(status, 201, "{v}");
    let sup = v["leg_id"].as_str().expect("leg_id").to_string();
    let view = wait_view(&sw, &call, |v| leg(v, &sup)["state"] == "answered");
    assert_eq!(leg(&view, &sup)["mix"], "listen", "{view}");
    assert_eq!(leg(&view, &agent)["mix"], "speak", "{view}");
    assert_eq!(leg(&view, &caller)["mix"], "speak", "{view}");
    assert_eq!(leg(&view, &sup)["role"], "dialled", "{view}");

    // everyone speaks: the caller 500 Hz, the agent 1 kHz, the supervisor 2 kHz
    let tones: Vec<_> = [(&a, TONES[0]), (&b, TONES[1]), (&s, TONES[2])]
        .into_iter()
        .map(|(sink, hz)| sink.send_tone(hz, 9.0))
        .collect();
    std::thread::sleep(Duration::from_millis(400));
    let heard = listen(&[&a, &b, &s]);
    assert_eq!(
        heard,
        vec![
            [false, true, false],
            [true, false, false],
            [true, true, false]
        ],
        "listen: caller, agent, supervisor"
    );

    let mix = |body: String| {
        let (status, v) = json(
            &sw,
            "PUT",
            &format!("/calls/{call}/legs/{sup}/mix"),
            Some(&body),
        );
        assert_eq!(status, 204, "{v}");
        std::thread::sleep(Duration::from_millis(300));
    };
    mix(format!(r#"{{"role": "whisper", "to": "{agent}"}}"#));
    let heard = listen(&[&a, &b, &s]);
    assert_eq!(
        heard,
        vec![
            [false, true, false],
            [true, false, true],
            [true, true, false]
        ],
        "whisper: only the agent hears the supervisor"
    );
    mix(r#"{"role": "speak"}"#.to_string());
    let heard = listen(&[&a, &b, &s]);
    assert_eq!(
        heard,
        vec![
            [false, true, true],
            [true, false, true],
            [true, true, false]
        ],
        "barge: a three-way call"
    );

    // the supervisor's leg is hung up alone: the pair is bridged again
    let (status, v) = json(&sw, "DELETE", &format!("/calls/{call}/legs/{sup}"), None);
    assert_eq!(status, 204, "{v}");
    let sup_phone = sup_phone.wait();
    sup_phone.assert_ok();
    assert_eq!(sup_phone.received_methods(), vec!["INVITE", "ACK", "BYE"]);
    let view = wait_view(&sw, &call, |v| {
        v["legs"].as_array().is_some_and(|l| l.len() == 2)
    });
    assert!(leg(&view, &caller)["mix"].is_null(), "{view}");
    assert_eq!(leg(&view, &caller)["bridged_to"], agent.as_str(), "{view}");
    std::thread::sleep(Duration::from_millis(200));
    let heard = listen(&[&a, &b]);
    assert_eq!(
        heard,
        vec![[false, true, false], [true, false, false]],
        "after"
    );

    let (status, _) = json(&sw, "DELETE", &format!("/calls/{call}"), None);
    assert_eq!(status, 204);
    alice.wait().assert_ok();
    bob.wait().assert_ok();
    for t in tones {
        let _ = t.join();
    }
    let evs = events.wait_for(Duration::from_secs(5), |e| count(e, "channel_destroy") >= 3);
    assert_eq!(count(&evs, "channel_create"), 3, "{}", describe(&evs));
    assert_eq!(count(&evs, "channel_destroy"), 3, "{}", describe(&evs));
    assert_eq!(sw.settled("switchyard_active_calls"), 0.0);
    assert_eq!(sw.settled("switchyard_rtp_port_pairs_in_use"), 0.0);
}

#[test]
fn an_operator_consults_a_third_party_then_hands_the_caller_over() {
    let sw = Switch::start_default();
    let (a, b, c) = (RtpSink::bind(), RtpSink::bind(), RtpSink::bind());
    let (call, alice, bob) = bridged_call(&sw, &a, &b);
    let view = call_view(&sw, &call);
    let (caller, first) = (
        leg_of(&view, "caller", "1002"),
        leg_of(&view, "callee", "1003"),
    );

    // 1005 is dialled on its own, then the caller is bridged to it
    let carol = phone_at(&sw, "1005", "uas_answer.xml", free_port(), Some(c.port));
    let (status, v) = json(
        &sw,
        "POST",
        &format!("/calls/{call}/legs"),
        // 1004 has no device: only 1005 rings
        Some(r#"{"numbers": ["1004", "1005"], "ring_seconds": 10}"#),
    );
    assert_eq!(status, 201, "{v}");
    let third = v["leg_id"].as_str().expect("leg_id").to_string();
    let view = wait_view(&sw, &call, |v| leg(v, &third)["state"] == "answered");
    assert!(
        leg(&view, &third)["bridged_to"].is_null(),
        "alone at first: {view}"
    );
    let (status, v) = json(
        &sw,
        "POST",
        &format!("/calls/{call}/bridge"),
        Some(&format!(r#"{{"a": "{caller}", "b": "{third}"}}"#)),
    );
    assert_eq!(status, 204, "{v}");
    let view = call_view(&sw, &call);
    assert_eq!(leg(&view, &caller)["bridged_to"], third.as_str(), "{view}");
    assert!(leg(&view, &first)["bridged_to"].is_null(), "{view}");

    // the first callee is hung up; the caller and the third party talk on
    let (status, v) = json(&sw, "DELETE", &format!("/calls/{call}/legs/{first}"), None);
    assert_eq!(status, 204, "{v}");
    let bob = bob.wait();
    bob.assert_ok();
    assert_eq!(bob.received_methods(), vec!["INVITE", "ACK", "BYE"]);
    let view = wait_view(&sw, &call, |v| {
        v["legs"].as_array().is_some_and(|l| l.len() == 2)
    });
    assert_eq!(leg(&view, &third)["bridged_to"], caller.as_str(), "{view}");
    // the caller's leg is recorded while both talk: caller left, the third party right
    let events = sw.events();
    let (status, v) = json(
        &sw,
        "POST",
        &format!("/calls/{call}/legs/{caller}/record"),
        None,
    );
    assert_eq!(status, 201, "{v}");
    let ta = a.send_tone(TONES[0], 2.5);
    let tc = c.send_tone(TONES[2], 2.5);
    std::thread::sleep(Duration::from_millis(400));
    let heard = listen(&[&a, &c]);
    assert_eq!(heard, vec![[false, false, true], [true, false, false]]);
    let (status, v) = json(
        &sw,
        "DELETE",
        &format!("/calls/{call}/legs/{caller}/record"),
        None,
    );
    assert_eq!(status, 204, "{v}");
    let _ = (ta.join(), tc.join());
    let evs = events.wait_for(Duration::from_secs(5), |e| count(e, "recording") >= 1);
    let rec = evs
        .iter()
        .find(|e| e.name == "recording")
        .unwrap_or_else(|| panic!("no recording: {}", describe(&evs)));
    let (left, right) = stereo_wav(rec.data["path"].as_str().expect("path"));
    assert!(left.len() >= 8000, "{} samples", left.len());
    let has = |x: &[i16], f: f64| amplitude(x, f) > 0.05;
    assert!(
        has(&left, TONES[0]) && !has(&left, TONES[2]),
        "left: the caller"
    );
    assert!(
        has(&right, TONES[2]) && !has(&right, TONES[0]),
        "right: the third party"
    );

    // the third party hangs up last of the callees: the caller is left alone, the call ends
    let (status, _) = json(&sw, "DELETE", &format!("/calls/{call}/legs/{third}"), None);
    assert_eq!(status, 204);
    carol.wait().assert_ok();
    let alice = alice.wait();
    alice.assert_ok();
    assert_eq!(alice.received_methods(), vec!["INVITE", "ACK", "BYE"]);
    assert_eq!(sw.settled("switchyard_active_calls"), 0.0);
    assert_eq!(sw.settled("switchyard_rtp_port_pairs_in_use"), 0.0);
}

#[test]
fn digits_are_collected_from_a_leg_after_a_prompt() {
    let sw = Switch::start_default();
    let events = sw.events();
    let (phone, far) = (RtpSink::bind(), RtpSink::bind());
    let callee = phone_at(&sw, "1002", "uas_answer.xml", free_port(), Some(far.port));
    let caller = caller(&sw, "uac_hold_on.xml", "1001", "1002")
        .key("rtp_port", phone.port)
        .key("hold", 8_000)
        .spawn();
    let evs = events.wait_for(Duration::from_secs(8), |e| count(e, "channel_bridge") >= 2);
    let call = evs
        .iter()
        .find(|e| e.name == "channel_create")
        .map(|e| e.str("call_id").to_string())
        .expect("call id");
    let view = call_view(&sw, &call);
    let leg = leg_of(&view, "caller", "1001");

    let http = sw.http;
    let path = format!("/calls/{call}/legs/{leg}/collect");
    let collector = std::thread::spawn(move || {
        let body = r##"{"max_digits": 4, "terminators": "#", "first_digit_timeout_ms": 8000,
                      "inter_digit_timeout_ms": 3000, "prompt": [{"tone": "ringback", "seconds": 1}]}"##;
        http_request(http, "POST", &path, Some(body)).expect("collect")
    });
    // the prompt reaches the caller; the first digit cuts it short
    phone.wait_remote(Duration::from_secs(5));
    phone.send_digit('4');
    phone.send_digit('2');
    phone.send_digit('#');
    let (status, raw) = collector.join().expect("collector");
    let got: Value = serde_json::from_slice(&raw).expect("JSON");
    assert_eq!(status, 200, "{got}");
    assert_eq!(got["digits"], "42", "{got}");
    assert_eq!(got["terminator"], "#", "{got}");
    assert_eq!(got["ended_by"], "terminator", "{got}");

    // no digit at all: the first-digit timeout answers with nothing
    let body = r#"{"first_digit_timeout_ms": 300}"#;
    let (status, got) = json(
        &sw,
        "POST",
        &format!("/calls/{call}/legs/{leg}/collect"),
        Some(body),
    );
    assert_eq!(status, 200, "{got}");
    assert_eq!(
        (got["digits"].as_str(), got["ended_by"].as_str()),
        (Some(""), Some("timeout"))
    );

    caller.wait().assert_ok();
    callee.wait().assert_ok();
}

#[test]
fn bad_call_commands_get_json_errors() {
    let sw = Switch::start_default();
    let events = sw.events();
    let nobody = "7e1d2c9a-0000-4000-8000-000000000000";
    let (status, v) = json(&sw, "GET", &format!("/calls/{nobody}"), None);
    assert_eq!(
        (status, v["error"]["code"].as_str()),
        (404, Some("not_found")),
        "{v}"
    );

    // a caller in the IVR menu: the flow steers its leg, commands are refused
    let phone = RtpSink::bind();
    let caller = caller(&sw, "uac_hold_on.xml", "1001", "8000")
        .key("rtp_port", phone.port)
        .key("hold", 4_000)
        .spawn();
    let evs = events.wait_for(Duration::from_secs(5), |e| count(e, "channel_answer") >= 1);
    let call = evs
        .iter()
        .find(|e| e.name == "channel_create")
        .map(|e| e.str("call_id").to_string())
        .expect("call id");
    let view = call_view(&sw, &call);
    let leg = leg_of(&view, "caller", "1001");
    for (method, path, body, want, code) in [
        (
            "POST",
            format!("/calls/{call}/legs/{leg}/collect"),
            "{}",
            409,
            "leg_busy",
        ),
        (
            "POST",
            format!("/calls/{call}/legs/{leg}/play"),
            r#"{"steps": [{"say": "hello"}]}"#,
            409,
            "leg_busy",
        ),
        (
            "POST",
            format!("/calls/{call}/legs/{leg}/play"),
            r#"{"steps": [{"play": "../../etc/passwd"}]}"#,
            400,
            "invalid_request",
        ),
        (
            "POST",
            format!("/calls/{call}/legs/{nobody}/unbridge"),
            "",
            404,
            "unknown_leg",
        ),
        (
            "POST",
            format!("/calls/{call}/legs"),
            r#"{"number": "sip:evil@example.com"}"#,
            400,
            "invalid_request",
        ),
        (
            "POST",
            format!("/calls/{call}/legs"),
            r#"{"number": "1999"}"#,
            422,
            "unknown_number",
        ),
        (
            "POST",
            format!("/calls/{call}/legs"),
            r#"{"number": "1004"}"#,
            409,
            "not_registered",
        ),
        (
            "POST",
            format!("/calls/{call}/legs"),
            r#"{"numbers": []}"#,
            400,
            "invalid_request",
        ),
        (
            "POST",
            format!("/calls/{call}/legs"),
            &format!(r#"{{"number": "1003", "monitor": "{leg}", "mode": "whisper"}}"#),
            409,
            "leg_busy",
        ),
        (
            "POST",
            format!("/calls/{call}/legs/{leg}/collect"),
            r#"{"max_digits": 0}"#,
            400,
            "invalid_request",
        ),
        (
            "PUT",
            format!("/calls/{call}/legs/{leg}/mix"),
            r#"{"role": "whisper"}"#,
            400,
            "invalid_request",
        ),
        (
            "POST",
            format!("/calls/not-a-uuid/bridge"),
            r#"{"a": "x", "b": "y"}"#,
            404,
            "not_found",
        ),
    ] {
        let body = (!body.is_empty()).then_some(body);
        let (status, v) = json(&sw, method, &path, body);
        assert_eq!(
            (status, v["error"]["code"].as_str()),
            (want, Some(code)),
            "{method} {path}: {v}"
        );
    }
    let _ = caller.wait();
}
