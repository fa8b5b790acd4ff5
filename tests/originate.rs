//! Calls the switch places itself (`POST /calls`): no inbound leg, the first
//! leg is an extension the switch rings; once it answers it is connected to a
//! number — an app that plays a prompt and hangs up, or another extension
//! (click-to-call), bridged. A call is hung up by its own id; bad requests get
//! JSON errors. And the voicemail admin routes: list, download, delete.

mod common;

use common::*;
use std::time::Duration;

fn post_call(sw: &Switch, body: &str) -> (u16, serde_json::Value) {
    let (status, raw) = http_request(sw.http, "POST", "/calls", Some(body)).expect("POST /calls");
    let v = serde_json::from_slice(&raw)
        .unwrap_or_else(|_| panic!("not JSON: {}", String::from_utf8_lossy(&raw)));
    (status, v)
}

#[test]
fn an_originated_call_rings_an_extension_plays_a_prompt_and_hangs_up() {
    let sw = Switch::start_default();
    let events = sw.events();
    let sink = RtpSink::bind();
    let bob = phone_at(&sw, "1002", "uas_answer.xml", free_port(), Some(sink.port));
    // 7001: the 1 kHz tone prompt, then the switch hangs up
    let (status, v) = post_call(&sw, r#"{"to": "1002", "connect": "7001"}"#);
    assert_eq!(status, 201, "{v}");
    let call_id = v["call_id"].as_str().expect("call_id").to_string();

    let bob = bob.wait();
    bob.assert_ok();
    // the switch's INVITE, then its BYE once the prompt is over
    assert_eq!(bob.received_methods(), vec!["INVITE", "ACK", "BYE"]);
    let invite = bob
        .received()
        .into_iter()
        .find(|m| m.starts_with("INVITE "))
        .expect("INVITE");
    assert!(
        invite.contains("c=IN IP4 127.0.0.1"),
        "the switch's own offer: {invite}"
    );
    // the app's 2 s prompt (a 1 kHz tone), then its 0.5 s pause
    let st = sink.state();
    assert!(
        st.rtp_packets >= 100,
        "1002 heard {} packets",
        st.rtp_packets
    );
    assert_eq!(st.payload_types, vec![8], "the codec 1002 answered with");
    let prompt = &st.samples[..16000.min(st.samples.len())];
    let f = tone_frequency(&prompt[800..]);
    assert!((f - 1000.0).abs() < 10.0, "1002 heard {f:.1} Hz");

    let evs = events.wait_for(Duration::from_secs(5), |e| count(e, "channel_destroy") >= 1);
    let all = describe(&evs);
    let create = evs
        .iter()
        .find(|e| e.name == "channel_create")
        .unwrap_or_else(|| panic!("{all}"));
    assert_eq!(
        (
            create.str("direction"),
            create.str("callee"),
            create.str("call_id")
        ),
        ("outbound", "1002", call_id.as_str()),
        "{all}"
    );
    assert_eq!(count(&evs, "channel_create"), 1, "one leg only: {all}");
    assert_eq!(count(&evs, "channel_answer"), 1, "{all}");
    assert_eq!(destroy_causes(&evs), vec!["NORMAL_CLEARING"], "{all}");
    assert_eq!(sw.settled("switchyard_active_calls"), 0.0);
    assert_eq!(sw.settled("switchyard_rtp_port_pairs_in_use"), 0.0);
}

#[test]
fn click_to_call_bridges_two_extensions_and_is_hung_up_by_its_id() {
    let sw = Switch::start_default();
    let events = sw.events();
    let (bob_rtp, carol_rtp) = (RtpSink::bind(), RtpSink::bind());
    let bob = phone_at(
        &sw,
        "1002",
        "uas_answer.xml",
        free_port(),
        Some(bob_rtp.port),
    );
    let carol = phone_at(
        &sw,
        "1003",
        "uas_answer.xml",
        free_port(),
        Some(carol_rtp.port),
    );
    let (status, v) = post_call(
        &sw,
        r#"{"account_id": "demo", "to": "1002", "connect": "1003", "caller_name": "Click"}"#,
    );
    assert_eq!(status, 201, "{v}");
    let call_id = v["call_id"].as_str().expect("call_id").to_string();
    let evs = events.wait_for(Duration::from_secs(8), |e| count(e, "channel_bridge") >= 2);
    assert_eq!(count(&evs, "channel_bridge"), 2, "{}", describe(&evs));

    let (status, _) =
        http_request(sw.http, "DELETE", &format!("/calls/{call_id}"), None).expect("DELETE");
    assert_eq!(status, 204);
    let (bob, carol) = (bob.wait(), carol.wait());
    bob.assert_ok();
    carol.assert_ok();
    assert_eq!(bob.received_methods(), vec!["INVITE", "ACK", "BYE"]);
    assert_eq!(carol.received_methods(), vec!["INVITE", "ACK", "BYE"]);
    let invite = carol
        .received()
        .into_iter()
        .find(|m| m.starts_with("INVITE "))
        .expect("INVITE");
    assert!(
        invite.contains("\"Click\""),
        "the caller name shown to 1003: {invite}"
    );
    let evs = events.wait_for(Duration::from_secs(5), |e| count(e, "channel_destroy") >= 2);
    assert_eq!(count(&evs, "channel_destroy"), 2, "{}", describe(&evs));
    assert_eq!(sw.settled("switchyard_active_calls"), 0.0);
    // gone: a second hang-up finds nothing
    let (status, raw) =
        http_request(sw.http, "DELETE", &format!("/calls/{call_id}"), None).expect("DELETE");
    assert_eq!(status, 404, "{}", String::from_utf8_lossy(&raw));
}

#[test]
fn bad_originate_requests_get_json_errors() {
    let sw = Switch::start_default();
    for (body, status, code) in [
        (
            r#"{"to": "1999", "connect": "7001"}"#,
            404,
            "unknown_extension",
        ),
        (
            r#"{"to": "1002", "connect": "7001"}"#,
            409,
            "not_registered",
        ),
        (
            r#"{"account_id": "nope", "to": "1002", "connect": "7001"}"#,
            404,
            "unknown_account",
        ),
        (r#"{"to": "1002""#, 400, "invalid_request"),
        (r#"{"to": "", "connect": "7001"}"#, 400, "invalid_request"),
        (
            r#"{"to": "1002", "connect": "7001", "extra": 1}"#,
            400,
            "invalid_request",
        ),
    ] {
        let (got, v) = post_call(&sw, body);
        assert_eq!(
            (got, v["error"]["code"].as_str()),
            (status, Some(code)),
            "{body}: {v}"
        );
    }
    let _bob = register(&sw, "1002", "demo1002", free_port(), 300);
    let (got, v) = post_call(&sw, r#"{"to": "1002", "connect": "9999"}"#);
    assert_eq!(
        (got, v["error"]["code"].as_str()),
        (422, Some("unknown_number")),
        "{v}"
    );
    let (status, _) = http_request(sw.http, "DELETE", "/calls/not-a-call", None).expect("DELETE");
    assert_eq!(status, 404);
    assert_eq!(sw.metric("switchyard_active_calls"), 0.0);
}

#[test]
fn voicemail_messages_are_listed_downloaded_and_deleted() {
    let sw = Switch::start_default();
    // 1005 is not registered: its box takes a message
    caller(&sw, "uac_voicemail.xml", "1001", "1005")
        .key("rtp_port", free_port())
        .run()
        .assert_ok();
    let list = || {
        let (status, body) = http_get(sw.http, "/voicemail/demo/1005").expect("GET");
        assert_eq!(status, 200, "{body}");
        serde_json::from_str::<serde_json::Value>(&body).expect("json")
    };
    let mut v = list();
    for _ in 0..50 {
        if v["messages"].as_array().is_some_and(|m| !m.is_empty()) {
            break;
        }
        std::thread::sleep(Duration::from_millis(200));
        v = list();
    }
    let messages = v["messages"].as_array().expect("messages").clone();
    assert_eq!(messages.len(), 1, "{v}");
    let m = &messages[0];
    assert_eq!(
        (m["caller"].as_str(), m["heard"].as_bool()),
        (Some("1001"), Some(false))
    );
    assert!(m["duration_ms"].as_i64().unwrap_or(0) >= 1500, "{m}");
    let download = m["download"].as_str().expect("download").to_string();
    let (status, wav) = http_request(sw.http, "GET", &download, None).expect("GET wav");
    assert_eq!(status, 200);
    assert!(wav.len() > 44 && &wav[..4] == b"RIFF" && &wav[8..12] == b"WAVE");

    let (status, _) = http_request(sw.http, "DELETE", &download, None).expect("DELETE");
    assert_eq!(status, 204);
    assert_eq!(list()["messages"].as_array().map(Vec::len), Some(0));
    let (status, _) = http_request(sw.http, "GET", &download, None).expect("GET again");
    assert_eq!(status, 404);
    let files = std::fs::read_dir(sw.tmp.path().join("data/voicemail/demo/1005"))
        .map(|d| d.count())
        .unwrap_or(0);
    assert_eq!(files, 0, "the WAV file is removed with its message");
    let (status, _) = http_get(sw.http, "/voicemail/demo/1999").expect("GET");
    assert_eq!(status, 404);
}

#[test]
fn a_box_plays_its_own_uploaded_greeting_and_the_default_again_once_removed() {
    let sw = Switch::start_default();
    // 2 s of 600 Hz, 8 kHz mono PCM
    let mut wav = Vec::new();
    let samples: Vec<i16> = (0..16_000)
        .map(|n| ((n as f64 / 8000.0 * 600.0 * 2.0 * std::f64::consts::PI).sin() * 12_000.0) as i16)
        .collect();
    let data_len = (samples.len() * 2) as u32;
    wav.extend_from_slice(b"RIFF");
    wav.extend_from_slice(&(36 + data_len).to_le_bytes());
    wav.extend_from_slice(b"WAVEfmt ");
    wav.extend_from_slice(&16u32.to_le_bytes());
    wav.extend_from_slice(&1u16.to_le_bytes());
    wav.extend_from_slice(&1u16.to_le_bytes());
    wav.extend_from_slice(&8000u32.to_le_bytes());
    wav.extend_from_slice(&16_000u32.to_le_bytes());
    wav.extend_from_slice(&2u16.to_le_bytes());
    wav.extend_from_slice(&16u16.to_le_bytes());
    wav.extend_from_slice(b"data");
    wav.extend_from_slice(&data_len.to_le_bytes());
    for s in samples {
        wav.extend_from_slice(&s.to_le_bytes());
    }
    let put = |body: &[u8]| {
        let mut s = std::net::TcpStream::connect(sw.http).expect("connect");
        use std::io::{Read, Write};
        write!(
            s,
            "PUT /voicemail/demo/1005/greeting HTTP/1.0\r\nContent-Type: audio/wav\r\nContent-Length: {}\r\n\r\n",
            body.len()
        )
        .expect("head");
        s.write_all(body).expect("body");
        let mut out = String::new();
        let _ = s.read_to_string(&mut out);
        out.split_whitespace()
            .nth(1)
            .and_then(|c| c.parse::<u16>().ok())
            .unwrap_or(0)
    };
    assert_eq!(put(b"not a wav file at all"), 400);
    assert_eq!(put(&wav), 204);

    // 1005 is not registered: its box answers with the uploaded greeting
    let heard = |sw: &Switch| {
        let sink = RtpSink::bind();
        caller(sw, "uac_voicemail.xml", "1001", "1005")
            .key("rtp_port", sink.port)
            .run()
            .assert_ok();
        let st = sink.state();
        tone_frequency(&st.samples[400..12_000.min(st.samples.len())])
    };
    let f = heard(&sw);
    assert!((f - 600.0).abs() < 15.0, "the greeting heard was {f:.0} Hz");
    let (status, _) =
        http_request(sw.http, "DELETE", "/voicemail/demo/1005/greeting", None).expect("DELETE");
    assert_eq!(status, 204);
    let f = heard(&sw);
    assert!(
        (f - 600.0).abs() > 50.0,
        "the default greeting again, not {f:.0} Hz"
    );
}
