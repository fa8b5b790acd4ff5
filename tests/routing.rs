//! Callflows end to end with SIPp phones: the demo's IVR menu (8000) answers,
//! a key sends the caller to the support ring group (8200) and the member that
//! answers is bridged to the caller's media; the support group (8200, patched
//! to sequential, two seconds a member) rings one member, gives up on it, and
//! bridges the next — each dial round a leg of its own.

mod common;

use common::*;
use std::time::Duration;

#[test]
fn an_ivr_key_rings_the_support_group_and_bridges_the_caller() {
    let sw = Switch::start_default();
    let events = sw.events();
    let sink = RtpSink::bind();
    let dave = phone_at(&sw, "1004", "uas_answer.xml", free_port(), Some(sink.port));

    let out = caller(&sw, "uac_ivr.xml", "1001", "8000")
        .key("rtp_port", free_port())
        .key("digit", "2")
        .run();
    out.assert_ok();
    let dave = dave.wait();
    dave.assert_ok();
    assert_eq!(dave.received_methods(), vec!["INVITE", "ACK", "BYE"]);
    // the switch answered the caller itself, so it offers its own media to 1004
    let invite = dave
        .received()
        .into_iter()
        .find(|m| m.starts_with("INVITE "))
        .expect("INVITE");
    assert!(invite.contains("c=IN IP4 127.0.0.1"), "{invite}");
    assert!(
        !invite.contains("s=switchyard test call"),
        "not the caller's SDP: {invite}"
    );

    // the caller's tone, sent after the bridge, reached 1004 through the switch
    let st = sink.state();
    assert!(
        st.rtp_packets >= 80,
        "1004 heard {} packets: {st:?}",
        st.rtp_packets
    );
    let f = tone_frequency(&st.samples);
    assert!((900.0..1100.0).contains(&f), "1004 heard {f} Hz");

    let evs = events.wait_for(Duration::from_secs(5), two_destroys);
    let all = describe(&evs);
    assert_eq!(count(&evs, "dtmf"), 1, "{all}");
    let choice = evs
        .iter()
        .find(|e| e.name == "ivr_choice")
        .unwrap_or_else(|| panic!("no ivr_choice: {all}"));
    assert_eq!(
        (
            choice.str("flow"),
            choice.str("node"),
            choice.str("input"),
            choice.str("outcome")
        ),
        ("8000", "menu", "2", "support"),
        "{all}"
    );
    assert_eq!(count(&evs, "channel_answer"), 2, "{all}");
    assert_eq!(count(&evs, "channel_bridge"), 2, "{all}");
    assert_eq!(
        destroy_causes(&evs),
        vec!["NORMAL_CLEARING", "NORMAL_CLEARING"],
        "{all}"
    );
    // the group's leg, and the caller's leg from then on, say how the call came
    let created: Vec<_> = evs.iter().filter(|e| e.name == "channel_create").collect();
    assert_eq!(created.len(), 2, "{all}");
    assert!(created[0].data.get("ring_group").is_none(), "{all}");
    let dave_leg = created[1];
    assert_eq!(
        (
            dave_leg.str("callflow"),
            dave_leg.str("ring_group"),
            &dave_leg.data["ivr_choices"],
            dave_leg.str("callee_name"),
        ),
        ("8200", "support", &serde_json::json!(["menu:2"]), "Dave"),
        "{all}"
    );
    let caller_gone = evs
        .iter()
        .find(|e| {
            e.name == "channel_destroy" && e.data["channel_id"] == created[0].data["channel_id"]
        })
        .expect("the caller's channel_destroy");
    assert_eq!(
        caller_gone.data["ivr_choices"],
        serde_json::json!(["menu:2"]),
        "{all}"
    );
    assert_eq!(caller_gone.str("callflow"), "8200", "{all}");
    assert_eq!(sw.settled("switchyard_rtp_port_pairs_in_use"), 0.0);
}

#[test]
fn a_caller_without_an_sdp_offer_gets_the_menu_and_hears_its_greeting() {
    let sw = Switch::start_default();
    let events = sw.events();
    let phone = RtpSink::bind();
    // INVITE without SDP: the switch offers in its 200, the caller answers in the ACK
    let out = caller(&sw, "uac_late_offer_hold.xml", "1001", "8000")
        .key("rtp_port", phone.port)
        .key("hold", 3_000)
        .run();
    out.assert_ok();
    assert!(
        out.received_statuses().contains(&200),
        "not refused: {}",
        out.report()
    );
    let st = phone.state();
    let loud = st.samples.chunks(160).filter(|f| rms(f) > 0.01).count();
    assert!(
        loud >= 50,
        "the greeting is heard: {loud} loud frames of {} packets",
        st.rtp_packets
    );
    assert_eq!(st.payload_types, vec![8], "the codec the ACK answered with");
    let evs = events.wait_for(Duration::from_secs(5), |e| count(e, "channel_destroy") >= 1);
    assert_eq!(
        destroy_causes(&evs),
        vec!["NORMAL_CLEARING"],
        "{}",
        describe(&evs)
    );
}

#[test]
fn a_busy_member_does_not_end_the_group_the_other_answers() {
    let sw = Switch::start_default();
    let events = sw.events();
    let sink = RtpSink::bind();
    let dave = phone_at(&sw, "1004", "uas_busy.xml", free_port(), None);
    let eve = phone_at(&sw, "1005", "uas_answer.xml", free_port(), Some(sink.port));
    let out = caller(&sw, "uac_ivr.xml", "1001", "8000")
        .key("rtp_port", free_port())
        .key("digit", "2")
        .run();
    out.assert_ok();
    dave.wait().assert_ok();
    let eve = eve.wait();
    eve.assert_ok();
    assert_eq!(eve.received_methods(), vec!["INVITE", "ACK", "BYE"]);
    let st = sink.state();
    let f = tone_frequency(&st.samples);
    assert!((900.0..1100.0).contains(&f), "1005 heard {f} Hz");
    let evs = events.wait_for(Duration::from_secs(5), two_destroys);
    let all = describe(&evs);
    assert_eq!(count(&evs, "channel_bridge"), 2, "{all}");
    assert_eq!(
        destroy_causes(&evs),
        vec!["NORMAL_CLEARING", "NORMAL_CLEARING"],
        "{all}"
    );
}

#[test]
fn a_member_already_on_a_call_is_skipped() {
    let sw = Switch::start_default();
    let events = sw.events();
    let (dave_rtp, eve_rtp, a_rtp) = (RtpSink::bind(), RtpSink::bind(), RtpSink::bind());
    let dave = phone_at(
        &sw,
        "1004",
        "uas_answer.xml",
        free_port(),
        Some(dave_rtp.port),
    );
    let eve = phone_at(
        &sw,
        "1005",
        "uas_answer.xml",
        free_port(),
        Some(eve_rtp.port),
    );
    // 1001 talks to 1004 for a while
    let first = caller(&sw, "uac_hold_on.xml", "1001", "1004")
        .key("rtp_port", a_rtp.port)
        .key("hold", 6000)
        .spawn();
    events.wait_for(Duration::from_secs(5), |e| count(e, "channel_bridge") >= 2);
    // meanwhile 1002 calls support: 1004 is on a call, only 1005 rings
    let out = caller(&sw, "uac_call.xml", "1002", "8200").run();
    out.assert_ok();
    assert_received(&out, &[200]);
    first.wait().assert_ok();
    let dave = dave.wait();
    dave.assert_ok();
    assert_eq!(
        dave.received_methods(),
        vec!["INVITE", "ACK", "BYE"],
        "one call only"
    );
    let eve = eve.wait();
    eve.assert_ok();
    assert_eq!(eve.received_methods(), vec!["INVITE", "ACK", "BYE"]);
    assert!(sw.log_text().contains("on a call: skipped"));
}

#[test]
fn a_sequential_group_moves_on_from_a_member_that_does_not_answer() {
    let sw = Switch::start(SwitchOpts {
        dialplan_patch: vec![(
            "strategy = \"simultaneous\"\nring_seconds = 20".into(),
            "strategy = \"sequential\"\nring_seconds = 2".into(),
        )],
        ..SwitchOpts::default()
    });
    let events = sw.events();
    let sink = RtpSink::bind();
    // 1004 rings and never answers; 1005 answers
    let bob = phone_at(&sw, "1004", "uas_ring.xml", free_port(), None);
    let carol = phone_at(&sw, "1005", "uas_answer.xml", free_port(), Some(sink.port));

    let out = caller(&sw, "uac_call.xml", "1001", "8200").run();
    out.assert_ok();
    assert_received(&out, &[180, 200]);
    let bob = bob.wait();
    bob.assert_ok();
    assert_eq!(bob.received_methods(), vec!["INVITE", "CANCEL", "ACK"]);
    let carol = carol.wait();
    carol.assert_ok();
    assert_eq!(carol.received_methods(), vec!["INVITE", "ACK", "BYE"]);
    let st = sink.state();
    assert!(
        st.rtp_packets >= 80,
        "1005 heard {} packets: {st:?}",
        st.rtp_packets
    );

    // three legs: the caller, 1004's unanswered round, 1005's answered one
    let evs = events.wait_for(Duration::from_secs(5), |e| count(e, "channel_destroy") == 3);
    let all = describe(&evs);
    assert_eq!(count(&evs, "channel_create"), 3, "{all}");
    let mut causes = destroy_causes(&evs);
    causes.sort();
    assert_eq!(
        causes,
        vec!["NORMAL_CLEARING", "NORMAL_CLEARING", "NO_ANSWER"],
        "{all}"
    );
    assert_eq!(sw.settled("switchyard_active_calls"), 0.0);
}

#[test]
fn an_import_into_the_running_switch_takes_effect_within_seconds() {
    let sw = Switch::start_default();
    let events = sw.events();
    let unknown = caller(&sw, "uac_unknown.xml", "1001", "8900").run();
    unknown.assert_ok();
    assert_received(&unknown, &[404]);

    // the same plan plus a callflow 8900, imported by another process
    let plan = sw.tmp.path().join("dialplan.toml");
    let text = std::fs::read_to_string(&plan)
        .expect("plan")
        .replace("display_name = \"Bob\"", "display_name = \"Robert\"")
        + concat!(
        "\n[[accounts.callflows]]\nnumber = \"8900\"\nname = \"Short\"\nstart = \"p\"\n",
        "[[accounts.callflows.nodes]]\nid = \"p\"\nkind = \"play\"\nsteps = [{ pause = 0.5 }]\n",
    );
    let edited = sw.tmp.path().join("edited.toml");
    std::fs::write(&edited, text).expect("write");
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_switchyard"))
        .arg("import")
        .arg(&edited)
        .arg("--data-dir")
        .arg(sw.tmp.path().join("data"))
        .output()
        .expect("run import");
    let report = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(report.contains("callflows: 1 inserted"), "{report}");

    // picked up without a restart: the switch answers 8900, plays, hangs up
    std::thread::sleep(Duration::from_millis(2500));
    let out = caller(&sw, "uac_app_listen.xml", "1001", "8900")
        .key("rtp_port", free_port())
        .run();
    out.assert_ok();
    assert_received(&out, &[200]);

    // and told as object events: exactly what the import changed
    let evs = events.wait_for(Duration::from_secs(5), |e| {
        e.iter().any(|x| x.name == "doc_created")
    });
    let docs: Vec<(String, &str, &str)> = evs
        .iter()
        .filter(|e| e.name.starts_with("doc_"))
        .map(|e| (e.name.clone(), e.str("type"), e.str("id")))
        .collect();
    assert_eq!(
        docs,
        vec![
            ("doc_edited".to_string(), "user", "1002"),
            ("doc_created".to_string(), "callflow", "8900"),
        ],
        "{}",
        describe(&evs)
    );
}

#[test]
fn an_unanswered_extension_with_voicemail_takes_a_message() {
    let sw = Switch::start_default();
    let events = sw.events();
    // 1003 has voicemail and no phone registered: the box answers at once
    let out = caller(&sw, "uac_voicemail.xml", "1001", "1003")
        .key("rtp_port", free_port())
        .run();
    out.assert_ok();
    assert_received(&out, &[200]);
    let evs = events.wait_for(Duration::from_secs(10), |e| {
        count(e, "voicemail_new") == 1 && count(e, "doc_created") == 1
    });
    let all = describe(&evs);
    let vm = evs
        .iter()
        .find(|e| e.name == "voicemail_new")
        .unwrap_or_else(|| panic!("no voicemail_new: {all}"));
    assert_eq!(vm.str("box"), "1003", "{all}");
    assert_eq!(vm.str("caller"), "1001", "{all}");
    // the message is also an object: a mailbox_message document was created
    let doc = evs
        .iter()
        .find(|e| e.name == "doc_created")
        .unwrap_or_else(|| panic!("no doc_created: {all}"));
    assert_eq!(
        (doc.str("type"), doc.str("id"), doc.str("call_id")),
        ("mailbox_message", vm.str("voicemail_id"), vm.str("call_id")),
        "{all}"
    );
    assert_eq!(
        count(&evs, "recording"),
        0,
        "a message is not a call recording: {all}"
    );
    // the file holds what the caller said after the tone: the 1 kHz tone, on the left
    let path = std::path::PathBuf::from(vm.str("path"));
    let mut wav = hound::WavReader::open(&path).expect("the message is a WAV file");
    let spec = wav.spec();
    let samples: Vec<i16> = wav.samples::<i16>().map(|s| s.expect("sample")).collect();
    let left: Vec<i16> = samples
        .iter()
        .step_by(spec.channels as usize)
        .copied()
        .collect();
    let secs = left.len() as f64 / f64::from(spec.sample_rate);
    assert!((1.5..6.0).contains(&secs), "message of {secs} s");
    // the caller's part: from the first to the last loud sample
    let loud = |s: &&i16| s.unsigned_abs() > 2000;
    let first = left
        .iter()
        .position(|s| loud(&s))
        .expect("the message has sound");
    let last = left.len() - left.iter().rev().position(|s| loud(&s)).unwrap_or(0);
    let f = tone_frequency(&left[first..last]);
    assert!((900.0..1100.0).contains(&f), "the message holds {f} Hz");
    assert!(
        vm.data["duration_ms"].as_i64().unwrap_or(0) >= 1500,
        "{all}"
    );
}

/// Whether some half second of `samples` (8 kHz) is a loud pure tone at `hz`: the
/// share of the window's energy in a 2 Hz wide bin there (Goertzel) is about 0.5
/// for a sine and far below 0.1 for speech or music.
fn has_tone(samples: &[i16], hz: f64) -> bool {
    samples.chunks(4000).filter(|w| w.len() == 4000).any(|w| {
        let energy: f64 = w.iter().map(|&s| f64::from(s).powi(2)).sum();
        let k = 2.0 * (2.0 * std::f64::consts::PI * hz / 8000.0).cos();
        let (mut s1, mut s2) = (0.0f64, 0.0f64);
        for &x in w {
            let s0 = f64::from(x) + k * s1 - s2;
            s2 = s1;
            s1 = s0;
        }
        let power = s1 * s1 + s2 * s2 - k * s1 * s2;
        let rms = (energy / w.len() as f64).sqrt();
        rms > 500.0 && power / (w.len() as f64 * energy) > 0.3
    })
}

#[test]
fn a_caller_who_says_nothing_is_thanked_and_let_go_after_five_seconds_of_silence() {
    let sw = Switch::start_default();
    let events = sw.events();
    // 1005 is not registered: its box answers; the caller sends no sound at all
    let started = std::time::Instant::now();
    caller(&sw, "uac_app_listen.xml", "1001", "1005")
        .key("rtp_port", free_port())
        .run()
        .assert_ok();
    let took = started.elapsed();
    // greeting (~3 s) and tone (1 s), 5 s of silence, the goodbye: the switch hangs up
    assert!(took < Duration::from_secs(16), "{took:?}");
    let evs = events.wait_for(Duration::from_secs(5), |e| count(e, "voicemail_new") == 1);
    let vm = evs
        .iter()
        .find(|e| e.name == "voicemail_new")
        .unwrap_or_else(|| panic!("{}", describe(&evs)));
    let ms = vm.data["duration_ms"].as_i64().unwrap_or(0);
    assert!((4_500..7_500).contains(&ms), "a {ms} ms message");
    assert!(sw.log_text().contains("the caller fell silent"));
}

#[test]
fn the_owner_hears_a_new_message_after_the_pin() {
    let sw = Switch::start_default();
    let events = sw.events();
    caller(&sw, "uac_voicemail.xml", "1001", "1003")
        .key("rtp_port", free_port())
        .run()
        .assert_ok();
    events.wait_for(Duration::from_secs(10), |e| count(e, "voicemail_new") == 1);

    // a wrong PIN: told so, no message played
    let sink = RtpSink::bind();
    let pin = |p: &str, s: Sipp| {
        let d: Vec<String> = p.chars().map(String::from).collect();
        s.key("pin1", &d[0])
            .key("pin2", &d[1])
            .key("pin3", &d[2])
            .key("pin4", &d[3])
    };
    let wrong = pin("9999", caller(&sw, "uac_mailbox.xml", "1003", "*97"))
        .key("rtp_port", sink.port)
        .run();
    wrong.assert_ok();
    assert!(
        !has_tone(&sink.state().samples, 1000.0),
        "a message played after a wrong PIN"
    );
    assert!(sw.log_text().contains("wrong voicemail PIN"));

    // 1003's PIN in the demo is 3001: the message (a 1 kHz tone) is played; the
    // owner presses 7 (RFC 4733) and it is deleted, row and file
    let sink = RtpSink::bind();
    let right = pin("3001", caller(&sw, "uac_mailbox.xml", "1003", "*97"))
        .key("rtp_port", sink.port)
        .spawn();
    let until = std::time::Instant::now() + Duration::from_secs(12);
    while !has_tone(&sink.state().samples, 1000.0) {
        assert!(
            std::time::Instant::now() < until,
            "the message's tone never reached the owner ({} packets)",
            sink.state().rtp_packets
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    sink.send_digit('7');
    right.wait().assert_ok();
    let (status, body) = http_get(sw.http, "/voicemail/demo/1003").expect("GET");
    assert_eq!(status, 200, "{body}");
    let v: serde_json::Value = serde_json::from_str(&body).expect("json");
    assert_eq!(
        v["messages"].as_array().map(Vec::len),
        Some(0),
        "deleted: {v}"
    );
    let files = std::fs::read_dir(sw.tmp.path().join("data/voicemail/demo/1003"))
        .map(|d| d.count())
        .unwrap_or(0);
    assert_eq!(files, 0, "the message's file is removed");
    assert!(sw.log_text().contains("voicemail deleted by its owner"));
}
