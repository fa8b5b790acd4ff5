//! Real-peer tests: the `switchyard` binary driven by SIPp scenarios from
//! `sip-tests/`. Each test starts its own switch on its own ports and asserts what a
//! user would observe: SIP outcomes, the tone that reaches the far end, `/metrics`
//! and the `/events` stream.

mod common;

use common::*;
use std::time::Duration;

const TONE_PCAP: &str = "pcap/tone-1khz-pcma.pcap";
/// Packets in the tone pcap (20 ms each).
const TONE_PACKETS: u16 = 100;

/// Registers `ext` from a fresh port, then starts `scenario` as that extension's
/// phone on the same port (where the switch sends its calls), ready to receive.
fn phone(sw: &Switch, ext: &str, scenario: &str, rtp_port: Option<u16>) -> RunningSipp {
    let port = free_port();
    register(sw, ext, &password_of(ext), port, 300);
    let mut s = sw.sipp(scenario).port(port).key("user", ext);
    if let Some(p) = rtp_port {
        s = s.key("rtp_port", p);
    }
    let mut running = s.spawn();
    running.wait_listening();
    running
}

/// The far end heard the caller's tone: most packets arrived, as PCMA, at ~1 kHz.
fn assert_heard_tone(sink: &RtpSink) {
    let st = sink.state();
    assert!(
        st.rtp_packets >= (TONE_PACKETS as usize) * 9 / 10,
        "far end received {} RTP packets of {TONE_PACKETS} sent: {st:?}",
        st.rtp_packets
    );
    assert_eq!(st.payload_types, vec![8], "payload types heard");
    let f = tone_frequency(&st.samples);
    assert!(
        (f - 1000.0).abs() < 20.0,
        "far end heard {f:.1} Hz, expected the 1 kHz tone"
    );
}

#[test]
fn tone_pcap_is_the_generated_one() {
    // the tone the media tests listen for: regenerate with SWITCHYARD_REGENERATE_PCAP=1
    let path = scenario_dir().join(TONE_PCAP);
    let tmp = tempfile::tempdir().expect("tempdir");
    let fresh = tmp.path().join("tone.pcap");
    write_tone_pcap(&fresh, TONE_PACKETS);
    if std::env::var_os("SWITCHYARD_REGENERATE_PCAP").is_some() {
        std::fs::copy(&fresh, &path).expect("write pcap");
    }
    let committed = std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    assert!(
        committed == std::fs::read(&fresh).expect("read"),
        "{} differs from write_tone_pcap()",
        path.display()
    );
    let samples: Vec<i16> = (0..8000)
        .map(|i| ((i as f64 * 2.0 * std::f64::consts::PI / 8.0 + 0.3).sin() * 8000.0) as i16)
        .collect();
    let roundtrip: Vec<i16> = samples
        .iter()
        .map(|&s| alaw_decode(alaw_encode(s)))
        .collect();
    assert!((tone_frequency(&roundtrip) - 1000.0).abs() < 1.0);
    assert!(
        samples
            .iter()
            .zip(&roundtrip)
            .all(|(a, b)| (a - b).abs() <= 256),
        "A-law round trip is lossy beyond one step"
    );
}

#[test]
fn register_with_digest_auth() {
    let sw = Switch::start_default();
    assert_eq!(sw.metric("switchyard_registrations"), 0.0);
    let out = register(&sw, "1001", "demo1001", free_port(), 300);
    assert_eq!(
        out.received_statuses()
            .iter()
            .filter(|&&c| c != 100)
            .copied()
            .collect::<Vec<_>>(),
        vec![401, 200]
    );
    assert_eq!(sw.metric("switchyard_registrations"), 1.0);
    assert_eq!(
        sw.metric_with(
            "switchyard_sip_responses_total",
            &[("direction", "out"), ("status", "401")]
        ),
        1.0
    );
    assert_eq!(sw.metric("switchyard_auth_failures_total"), 0.0);
}

#[test]
fn register_with_wrong_password_is_forbidden() {
    let sw = Switch::start_default();
    let out = sw
        .sipp("register_wrong_password.xml")
        .key("user", "1001")
        .auth("1001", "not-the-password")
        .run();
    out.assert_ok();
    assert_eq!(
        out.received_statuses()
            .iter()
            .filter(|&&c| c != 100)
            .copied()
            .collect::<Vec<_>>(),
        vec![401, 403]
    );
    assert_eq!(sw.metric("switchyard_registrations"), 0.0);
    assert_eq!(sw.metric("switchyard_auth_failures_total"), 1.0);
}

#[test]
fn unregister_removes_the_binding() {
    let sw = Switch::start_default();
    let port = free_port();
    register(&sw, "1003", "demo1003", port, 300);
    assert_eq!(sw.metric("switchyard_registrations"), 1.0);
    let out = sw
        .sipp("unregister.xml")
        .port(port)
        .key("user", "1003")
        .auth("1003", "demo1003")
        .run();
    out.assert_ok();
    assert_received(&out, &[401, 200]);
    assert_eq!(sw.metric("switchyard_registrations"), 0.0);
}

#[test]
fn options_is_answered_with_allow() {
    let sw = Switch::start_default();
    let out = sw.sipp("options.xml").run();
    out.assert_ok();
    assert_eq!(out.received_statuses(), vec![200]);
}

#[test]
fn basic_call_relays_signalling_media_and_events() {
    let sw = Switch::start_default();
    let events = sw.events();
    let sink = RtpSink::bind();
    let callee = phone(&sw, "1002", "uas_answer.xml", Some(sink.port));
    let out = caller(&sw, "uac_call.xml", "1001", "1002").run();
    out.assert_ok();
    assert_received(&out, &[407, 180, 200]);
    let callee = callee.wait();
    callee.assert_ok();
    assert_eq!(callee.received_methods(), vec!["INVITE", "ACK", "BYE"]);
    let invite = &callee.received()[0];
    assert!(
        invite.contains("From: \"Alice\" <sip:1001@demo.switchyard.test>"),
        "callee's INVITE:\n{invite}"
    );

    assert_heard_tone(&sink);
    let relayed = sw.wait_metric(
        "switchyard_rtp_packets_relayed_total",
        Duration::from_secs(3),
        |v| v >= 90.0,
    );
    assert!(
        relayed >= 90.0,
        "switchyard_rtp_packets_relayed_total = {relayed}"
    );
    assert_eq!(
        sw.wait_metric("switchyard_active_calls", Duration::from_secs(3), |v| v
            == 0.0),
        0.0
    );
    // the relay plane carried the call's packets and gave it back when it ended
    assert_eq!(
        sw.wait_metric("switchyard_relay_units", Duration::from_secs(3), |v| v
            == 0.0),
        0.0
    );
    assert!(sw.metric("switchyard_process_open_fds") > 0.0);
    assert!(sw.metric("switchyard_runtime_alive_tasks") > 0.0);

    let evs = events.wait_for(Duration::from_secs(5), two_destroys);
    let all = describe(&evs);
    for name in [
        "channel_create",
        "channel_answer",
        "channel_bridge",
        "channel_destroy",
    ] {
        assert_eq!(count(&evs, name), 2, "{name} events:\n{all}");
    }
    assert_eq!(
        destroy_causes(&evs),
        vec!["NORMAL_CLEARING", "NORMAL_CLEARING"],
        "{all}"
    );
    for e in evs.iter().filter(|e| e.name == "channel_create") {
        assert_eq!(
            (e.str("caller"), e.str("callee"), e.str("account_id")),
            ("1001", "1002", "demo"),
            "{all}"
        );
    }
    let mut dirs: Vec<&str> = evs
        .iter()
        .filter(|e| e.name == "channel_create")
        .map(|e| e.str("direction"))
        .collect();
    dirs.sort();
    assert_eq!(dirs, vec!["inbound", "outbound"], "{all}");
}

#[test]
fn busy_callee_is_relayed_to_the_caller() {
    let sw = Switch::start_default();
    let events = sw.events();
    let callee = phone(&sw, "1002", "uas_busy.xml", None);
    let out = caller(&sw, "uac_busy.xml", "1001", "1002").run();
    out.assert_ok();
    assert_received(&out, &[407, 486]);
    callee.wait().assert_ok();
    let evs = events.wait_for(Duration::from_secs(5), two_destroys);
    assert_eq!(
        destroy_causes(&evs),
        vec!["USER_BUSY", "USER_BUSY"],
        "{}",
        describe(&evs)
    );
    assert_eq!(count(&evs, "channel_answer"), 0, "{}", describe(&evs));
}

#[test]
fn caller_cancels_while_ringing() {
    let sw = Switch::start_default();
    let events = sw.events();
    let callee = phone(&sw, "1002", "uas_ring.xml", None);
    let out = caller(&sw, "uac_cancel.xml", "1001", "1002").run();
    out.assert_ok();
    assert_received(&out, &[180, 200, 487]);
    let callee = callee.wait();
    callee.assert_ok();
    assert_eq!(callee.received_methods(), vec!["INVITE", "CANCEL", "ACK"]);
    let evs = events.wait_for(Duration::from_secs(5), two_destroys);
    assert_eq!(
        destroy_causes(&evs),
        vec!["ORIGINATOR_CANCEL", "ORIGINATOR_CANCEL"],
        "{}",
        describe(&evs)
    );
    assert_eq!(
        sw.wait_metric("switchyard_active_calls", Duration::from_secs(3), |v| v
            == 0.0),
        0.0
    );
}

#[test]
fn callee_hangs_up() {
    let sw = Switch::start_default();
    let events = sw.events();
    let sink = RtpSink::bind();
    let callee = phone(&sw, "1002", "uas_bye.xml", Some(sink.port));
    let out = caller(&sw, "uac_wait_bye.xml", "1001", "1002").run();
    out.assert_ok();
    assert_eq!(out.received_methods(), vec!["BYE"]);
    let callee = callee.wait();
    callee.assert_ok();
    assert_received(&callee, &[200]);
    let evs = events.wait_for(Duration::from_secs(5), two_destroys);
    assert_eq!(
        destroy_causes(&evs),
        vec!["NORMAL_CLEARING", "NORMAL_CLEARING"],
        "{}",
        describe(&evs)
    );
}

#[test]
fn unknown_number_is_not_found() {
    let sw = Switch::start_default();
    let events = sw.events();
    let out = caller(&sw, "uac_unknown.xml", "1001", "1999").run();
    out.assert_ok();
    assert_received(&out, &[407, 404]);
    let evs = events.wait_for(Duration::from_secs(3), |e| count(e, "channel_destroy") >= 1);
    assert_eq!(
        destroy_causes(&evs),
        vec!["UNALLOCATED_NUMBER"],
        "{}",
        describe(&evs)
    );
}

#[test]
fn outbound_call_goes_out_the_trunk() {
    // the carrier on a host of its own, as in production
    let sw = Switch::start(SwitchOpts {
        trunk_ip: OTHER_HOST.to_string(),
        ..SwitchOpts::default()
    });
    let events = sw.events();
    let sink = RtpSink::bind_on(&sw.trunk.ip().to_string());
    let carrier = carrier(&sw, "carrier_uas.xml", Some(sink.port));
    let out = caller(&sw, "uac_call.xml", "1001", "+15551234567").run();
    out.assert_ok();
    let carrier = carrier.wait();
    carrier.assert_ok();
    let invite = &carrier.received()[0];
    let first = invite.lines().next().unwrap_or("");
    assert!(
        first.starts_with(&format!("INVITE sip:+15551234567@{}", sw.trunk.ip())),
        "carrier got: {first}"
    );
    let from = invite
        .lines()
        .find(|l| l.starts_with("From:"))
        .unwrap_or("");
    assert!(
        from.contains("sip:+15550100100@"),
        "the trunk's caller ID is presented: {from}"
    );
    assert!(!invite.contains("Proxy-Authorization"), "{invite}");
    assert_heard_tone(&sink);
    // the voice API's view: 1001 dialled out, and its outside call ended
    let evs = events.wait_for(Duration::from_secs(5), |e| count(e, "USER_HANGUP") >= 1);
    let all = describe(&evs);
    let meta = |name: &str| {
        evs.iter()
            .find(|e| e.name == name)
            .map(|e| e.data["metadata"].clone())
            .unwrap_or_else(|| panic!("no {name}: {all}"))
    };
    let (dial, hangup, ended) = (meta("USER_DIAL"), meta("USER_HANGUP"), meta("CALL_ENDED"));
    assert_eq!(
        (
            dial["dialed_number"].as_str(),
            dial["from_user_id"].as_str()
        ),
        (Some("+15551234567"), Some("1001")),
        "{all}"
    );
    assert_eq!(hangup["uniqueid"], dial["uniqueid"], "{all}");
    assert!(hangup["duration"].as_i64().is_some(), "{all}");
    assert_eq!(ended["call_direction"], "outbound", "{all}");
    let first = evs.iter().find(|e| e.name == "USER_DIAL").expect("dial");
    assert_eq!(first.data["account_id"], "demo");
    assert!(
        first.data["timestamp"].as_i64().unwrap_or(0) > 1_700_000_000,
        "unix seconds"
    );
}

#[test]
fn inbound_did_call_rings_the_extension() {
    let sw = Switch::start_default();
    let events = sw.events();
    let sink = RtpSink::bind();
    let callee = phone(&sw, "1001", "uas_answer.xml", Some(sink.port));
    let out = sw
        .sipp("carrier_uac.xml")
        .ip(&sw.trunk.ip().to_string())
        .port(sw.trunk.port())
        .service("+15550100101")
        .key("caller", "+15557654321")
        .run();
    out.assert_ok();
    assert!(
        !out.received_statuses().contains(&407),
        "the trunk must not be challenged\n{}",
        out.report()
    );
    let callee = callee.wait();
    callee.assert_ok();
    assert_eq!(callee.received_methods(), vec!["INVITE", "ACK", "BYE"]);
    assert_heard_tone(&sink);
    let evs = events.wait_for(Duration::from_secs(5), two_destroys);
    let all = describe(&evs);
    assert_eq!(
        destroy_causes(&evs),
        vec!["NORMAL_CLEARING", "NORMAL_CLEARING"],
        "{all}"
    );
    for e in evs.iter().filter(|e| e.name == "channel_create") {
        assert_eq!(e.str("caller"), "+15557654321", "{all}");
        assert_eq!(e.str("callee"), "+15550100101", "{all}");
    }
    // the voice API's view: an outside call came in, 1001 answered it, it ended
    let evs = events.wait_for(Duration::from_secs(5), |e| count(e, "CALL_ENDED") >= 1);
    let all = describe(&evs);
    let meta = |name: &str| {
        evs.iter()
            .find(|e| e.name == name)
            .map(|e| e.data["metadata"].clone())
            .unwrap_or_else(|| panic!("no {name}: {all}"))
    };
    let incoming = meta("INCOMING_EXTERNAL_CALL");
    assert_eq!(
        (
            incoming["caller_id_number"].as_str(),
            incoming["dnis"].as_str()
        ),
        (Some("+15557654321"), Some("+15550100101")),
        "{all}"
    );
    let answer = meta("USER_ANSWER");
    assert_eq!(answer["to_user_id"], "1001", "{all}");
    let ended = meta("CALL_ENDED");
    assert_eq!(
        (
            ended["call_direction"].as_str(),
            ended["to_user_id"].as_str(),
            ended["dnis"].as_str()
        ),
        (Some("inbound"), Some("1001"), Some("+15550100101")),
        "{all}"
    );
    assert_eq!(ended["uniqueid"], incoming["uniqueid"], "{all}");
    assert!(ended["duration"].as_i64().is_some_and(|d| d >= 0), "{all}");
    assert_eq!(
        count(&evs, "USER_DIAL"),
        0,
        "a trunk's caller is no user: {all}"
    );
}

/// A carrier trunk declared on 127.0.0.1 (another port) must not swallow the calls
/// of phones on the same host: only its exact host:port is the trunk, so an INVITE
/// from a phone's port is still challenged (407) like any extension's.
#[test]
fn phone_on_the_trunk_host_is_still_authenticated() {
    let sw = Switch::start(SwitchOpts {
        trunk_ip: LOCALHOST.to_string(),
        ..SwitchOpts::default()
    });
    assert_eq!(sw.trunk.ip().to_string(), LOCALHOST);
    let out = caller(&sw, "uac_unknown.xml", "1001", "1999").run();
    out.assert_ok();
    assert_received(&out, &[407, 404]);
}

#[test]
fn unregistered_extension_is_temporarily_unavailable() {
    let sw = Switch::start_default();
    let events = sw.events();
    let out = caller(&sw, "uac_unavailable.xml", "1001", "1002").run();
    out.assert_ok();
    assert_received(&out, &[407, 480]);
    let evs = events.wait_for(Duration::from_secs(3), |e| count(e, "channel_destroy") >= 1);
    assert_eq!(
        destroy_causes(&evs),
        vec!["USER_NOT_REGISTERED"],
        "{}",
        describe(&evs)
    );
}

/// The carrier challenges the switch's INVITE: the switch answers with the
/// trunk's credentials, for a dialled outside number and for a callflow's
/// `external` node alike.
#[test]
fn outbound_calls_answer_the_carrier_s_challenge_with_the_trunk_credentials() {
    let flow = concat!(
        "[[accounts.callflows]]\nnumber = \"8900\"\nname = \"Cell\"\nstart = \"cell\"\n",
        "[[accounts.callflows.nodes]]\nid = \"cell\"\nkind = \"external\"\nnumber = \"+15551234567\"\n\n",
        "# ACD queues (docs/dialplans.md",
    );
    let sw = Switch::start(SwitchOpts {
        trunk_ip: OTHER_HOST.to_string(),
        dialplan_patch: vec![("# ACD queues (docs/dialplans.md".into(), flow.into())],
        ..SwitchOpts::default()
    });
    for dialled in ["+15551234567", "8900"] {
        let sink = RtpSink::bind_on(&sw.trunk.ip().to_string());
        let carrier = carrier(&sw, "carrier_uas_auth.xml", Some(sink.port));
        let out = caller(&sw, "uac_call.xml", "1001", dialled).run();
        out.assert_ok();
        assert_received(&out, &[200]);
        let carrier = carrier.wait();
        carrier.assert_ok();
        assert_eq!(
            carrier.received_methods(),
            vec!["INVITE", "ACK", "INVITE", "ACK", "BYE"],
            "dialled {dialled}"
        );
        // the trunk's caller ID, not the extension's number, goes to the carrier
        let from = carrier.received()[0]
            .lines()
            .find(|l| l.starts_with("From:"))
            .unwrap_or("")
            .to_string();
        assert!(
            from.contains("sip:+15550100100@"),
            "dialled {dialled}: {from}"
        );
        assert_heard_tone(&sink);
    }
}
