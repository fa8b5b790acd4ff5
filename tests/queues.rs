//! ACD queues end to end with SIPp phones: the demo's main menu sends key 1
//! to the `sales` queue, where the caller hears music on hold until an agent
//! registers and is offered the call; and each way a stay can end — answered,
//! abandoned, timed out, refused by a full queue, not answered by the agent —
//! shows as its QUEUE_* event, with the queue's live figures on `GET /queues`.

mod common;

use common::*;
use std::time::{Duration, Instant};

fn named<'a>(evs: &'a [Event], name: &str) -> Vec<&'a Event> {
    evs.iter().filter(|e| e.name == name).collect()
}

/// The `sales` entry of `GET /queues`.
fn sales(sw: &Switch) -> serde_json::Value {
    let (status, body) = http_get(sw.http, "/queues").expect("GET /queues");
    assert_eq!(status, 200, "{body}");
    let v: serde_json::Value = serde_json::from_str(&body).expect("json");
    v["queues"]
        .as_array()
        .and_then(|qs| qs.iter().find(|q| q["queue_id"] == "sales").cloned())
        .unwrap_or_else(|| panic!("no sales queue in {body}"))
}

/// Waits until the caller has heard `secs` of sound (speech, music).
fn wait_for_sound(phone: &RtpSink, from: usize, secs: f64, timeout: Duration) {
    let until = Instant::now() + timeout;
    loop {
        let heard = phone.samples_since(from);
        let loud = heard.chunks(160).filter(|f| rms(f) > 0.01).count() as f64 * 0.02;
        if loud >= secs {
            return;
        }
        assert!(
            Instant::now() < until,
            "the caller heard {loud:.2} s of sound in {timeout:?} (of {} samples)",
            heard.len()
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[test]
fn key_1_waits_in_sales_with_music_until_an_agent_registers_and_answers() {
    let sw = Switch::start_default();
    let events = sw.events();
    let phone = RtpSink::bind();
    let caller = caller(&sw, "uac_hold_on.xml", "1001", "8000")
        .key("rtp_port", phone.port)
        .key("hold", 15_000)
        .spawn();

    // the greeting speaks; key 1 (RFC 4733) barges in and joins the queue
    wait_for_sound(&phone, 0, 1.0, Duration::from_secs(6));
    phone.send_digit('1');
    let evs = events.wait_for(Duration::from_secs(5), |e| {
        !named(e, "QUEUE_ENTER").is_empty()
    });
    let enter = named(&evs, "QUEUE_ENTER");
    assert_eq!(enter.len(), 1, "{}", describe(&evs));
    let e = enter[0];
    assert_eq!(
        (e.str("queue_id"), e.str("queue_name"), e.str("queuename")),
        ("sales", "Sales Queue", "sales")
    );
    assert_eq!(
        (e.str("callerid_number"), e.str("account_id")),
        ("1001", "demo")
    );
    assert!(!e.str("queuecall_id").is_empty() && !e.str("uniqueid").is_empty());

    // no agent has a device: the caller waits, hearing music
    let mark = phone.heard();
    std::thread::sleep(Duration::from_millis(300));
    wait_for_sound(&phone, mark, 1.5, Duration::from_secs(4));
    let q = sales(&sw);
    assert_eq!(q["calls_waiting"], 1, "{q}");
    assert_eq!(q["agents_available"], 0, "{q}");
    assert_eq!(
        q["agents"][0]["status"], "unreachable",
        "1002 has no device yet: {q}"
    );

    // 1002 registers: within a few seconds it is offered the call and answers
    let agent_sink = RtpSink::bind();
    let registered = Instant::now();
    let agent = phone_at(
        &sw,
        "1002",
        "uas_answer.xml",
        free_port(),
        Some(agent_sink.port),
    );
    let evs = events.wait_for(Duration::from_secs(6), |e| {
        !named(e, "QUEUE_MEMBER_ANSWER").is_empty()
    });
    let answer = named(&evs, "QUEUE_MEMBER_ANSWER");
    assert_eq!(answer.len(), 1, "{}", describe(&evs));
    assert!(registered.elapsed() < Duration::from_secs(5));
    assert_eq!(answer[0].str("to_user_id"), "1002");
    assert_eq!(answer[0].str("queuecall_id"), e.str("queuecall_id"));
    let dial = named(&evs, "QUEUE_MEMBER_DIAL");
    assert_eq!(dial.len(), 1, "{}", describe(&evs));
    assert_eq!(dial[0].str("to_user_id"), "1002");
    // the agent's leg says where the call came from: the main menu's key 1, the sales queue
    let agent_leg = evs
        .iter()
        .filter(|e| e.name == "channel_create")
        .nth(1)
        .unwrap_or_else(|| panic!("no agent leg: {}", describe(&evs)));
    assert_eq!(
        (
            agent_leg.str("queue_id"),
            agent_leg.str("callflow"),
            &agent_leg.data["ivr_choices"]
        ),
        ("sales", "8000", &serde_json::json!(["menu:1"])),
        "{}",
        describe(&evs)
    );

    // bridged: the caller's tone reaches the agent
    std::thread::sleep(Duration::from_millis(300));
    phone.send_tone(1000.0, 2.5).join().expect("tone");
    let caller = caller.wait();
    caller.assert_ok();
    let agent = agent.wait();
    agent.assert_ok();
    assert_eq!(agent.received_methods(), vec!["INVITE", "ACK", "BYE"]);
    let st = agent_sink.state();
    assert!(
        st.rtp_packets >= 80,
        "1002 heard {} packets",
        st.rtp_packets
    );
    let f = tone_frequency(&st.samples);
    assert!((900.0..1100.0).contains(&f), "1002 heard {f} Hz");

    let evs = events.wait_for(Duration::from_secs(5), |e| {
        !named(e, "QUEUE_MEMBER_DIAL_HANGUP").is_empty()
    });
    let hangup = named(&evs, "QUEUE_HANGUP");
    assert_eq!(hangup.len(), 1, "{}", describe(&evs));
    assert_eq!(hangup[0].str("reason"), "answered");
    let done = named(&evs, "QUEUE_MEMBER_DIAL_HANGUP");
    assert_eq!(done[0].str("to_user_id"), "1002");
    assert!(
        done[0].data["duration"].as_f64().unwrap_or(0.0) >= 2.0,
        "{:?}",
        done[0]
    );
    let q = sales(&sw);
    assert_eq!(
        (q["answered"].clone(), q["calls_waiting"].clone()),
        (1.into(), 0.into()),
        "{q}"
    );
    assert_eq!(sw.settled("switchyard_active_calls"), 0.0);
}

#[test]
fn a_full_queue_a_timeout_and_an_abandon_each_emit_their_event() {
    let sw = Switch::start(SwitchOpts {
        dialplan_patch: vec![("max_wait = 600".into(), "max_wait = 4\nmaxlen = 1".into())],
        ..SwitchOpts::default()
    });
    let events = sw.events();
    // the first caller waits (nobody to answer) until the queue gives up after 4 s
    let (a_rtp, b_rtp) = (RtpSink::bind(), RtpSink::bind());
    let first = caller(&sw, "uac_app_listen.xml", "1001", "8100")
        .key("rtp_port", a_rtp.port)
        .spawn();
    events.wait_for(Duration::from_secs(5), |e| {
        !named(e, "QUEUE_ENTER").is_empty()
    });
    // the second finds the queue full and is let go at once
    let second = caller(&sw, "uac_app_listen.xml", "1004", "8100")
        .key("rtp_port", b_rtp.port)
        .run();
    second.assert_ok();
    let first = first.wait();
    first.assert_ok();
    // 4 s of music is 200 packets; a loaded CI machine may start the caller late
    let heard = a_rtp.state().rtp_packets;
    assert!(heard > 50, "the first caller heard music: {heard} packets");

    let evs = events.wait_for(Duration::from_secs(5), |e| {
        !named(e, "QUEUE_HANGUP_TIMEOUT").is_empty()
    });
    let all = describe(&evs);
    let full = named(&evs, "QUEUE_NO_ANSWER");
    assert_eq!(full.len(), 1, "{all}");
    assert_eq!(
        (full[0].str("reason"), full[0].str("caller_id_number")),
        ("full", "1004")
    );
    let timeout = named(&evs, "QUEUE_HANGUP_TIMEOUT");
    assert_eq!(timeout[0].str("caller_id_number"), "1001", "{all}");
    assert!(
        (4..=5).contains(&timeout[0].data["wait_time"].as_u64().unwrap_or(0)),
        "{all}"
    );
    assert_eq!(
        named(&evs, "QUEUE_ENTER").len(),
        1,
        "the full queue let one in: {all}"
    );

    // a caller who hangs up while waiting abandons
    let c_rtp = RtpSink::bind();
    caller(&sw, "uac_hold_on.xml", "1005", "8100")
        .key("rtp_port", c_rtp.port)
        .key("hold", 1500)
        .run()
        .assert_ok();
    let evs = events.wait_for(Duration::from_secs(5), |e| {
        !named(e, "QUEUE_HANGUP_ABANDONED").is_empty()
    });
    let all = describe(&evs);
    let ab = named(&evs, "QUEUE_HANGUP_ABANDONED");
    assert_eq!(ab.len(), 1, "{all}");
    assert_eq!(ab[0].str("caller_id_number"), "1005");
    let reasons: Vec<&str> = named(&evs, "QUEUE_HANGUP")
        .iter()
        .map(|e| e.str("reason"))
        .collect();
    assert_eq!(reasons, vec!["timeout", "abandoned"], "{all}");
    // the figures follow within a snapshot's freshness (100 ms)
    let until = std::time::Instant::now() + Duration::from_secs(2);
    loop {
        let q = sales(&sw);
        let got = (
            q["timed_out"].clone(),
            q["abandoned"].clone(),
            q["refused"].clone(),
        );
        if got == (1.into(), 1.into(), 1.into()) {
            break;
        }
        assert!(std::time::Instant::now() < until, "{q}");
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[test]
fn an_agent_who_does_not_answer_is_dialled_and_hung_up() {
    let sw = Switch::start(SwitchOpts {
        dialplan_patch: vec![(
            "timeout = 15\nretry = 2".into(),
            "timeout = 2\nretry = 30".into(),
        )],
        ..SwitchOpts::default()
    });
    let events = sw.events();
    let agent = phone_at(&sw, "1003", "uas_ring.xml", free_port(), None);
    let rtp = RtpSink::bind();
    let out = caller(&sw, "uac_hold_on.xml", "1001", "8100")
        .key("rtp_port", rtp.port)
        .key("hold", 4000)
        .run();
    out.assert_ok();
    let agent = agent.wait();
    agent.assert_ok();
    assert_eq!(agent.received_methods(), vec!["INVITE", "CANCEL", "ACK"]);
    let evs = events.wait_for(Duration::from_secs(5), |e| {
        !named(e, "QUEUE_HANGUP_ABANDONED").is_empty()
    });
    let all = describe(&evs);
    let dial = named(&evs, "QUEUE_MEMBER_DIAL");
    assert_eq!(dial.len(), 1, "{all}");
    assert_eq!(dial[0].str("to_user_id"), "1003");
    let over = named(&evs, "QUEUE_MEMBER_DIAL_HANGUP");
    assert_eq!(over.len(), 1, "{all}");
    assert_eq!(
        (over[0].str("to_user_id"), over[0].str("reason")),
        ("1003", "no_answer")
    );
    assert_eq!(named(&evs, "QUEUE_MEMBER_ANSWER").len(), 0, "{all}");
    // the caller heard music throughout, also while the agent rang
    let st = rtp.state();
    assert!(st.rtp_packets >= 150, "{st:?}");
    assert_eq!(sw.settled("switchyard_rtp_port_pairs_in_use"), 0.0);
}

#[test]
fn agents_log_out_and_in_with_feature_codes() {
    let sw = Switch::start_default();
    let rtp = RtpSink::bind();
    let out = caller(&sw, "uac_app_listen.xml", "1002", "*46")
        .key("rtp_port", rtp.port)
        .run();
    out.assert_ok();
    assert!(rtp.state().rtp_packets > 20, "the confirmation was spoken");
    let q = sales(&sw);
    let bob = q["agents"]
        .as_array()
        .and_then(|a| a.iter().find(|m| m["extension"] == "1002").cloned())
        .expect("1002 listed");
    assert_eq!(bob["status"], "logged_out", "{q}");
    assert_eq!(q["agents_online"], 1, "{q}");

    let rtp = RtpSink::bind();
    caller(&sw, "uac_app_listen.xml", "1002", "*45")
        .key("rtp_port", rtp.port)
        .run()
        .assert_ok();
    let q = sales(&sw);
    assert_eq!(q["agents_online"], 2, "{q}");
    // an unknown queue number is refused
    let out = caller(&sw, "uac_unknown.xml", "1002", "*459999").run();
    out.assert_ok();
    assert_received(&out, &[404]);
}

/// The status of `ext` in the sales queue's figures (`None`: not a member).
fn agent_status(q: &serde_json::Value, ext: &str) -> Option<String> {
    q["agents"]
        .as_array()?
        .iter()
        .find(|m| m["extension"] == ext)
        .and_then(|m| m["status"].as_str().map(str::to_string))
}

/// The sales figures once the queue driver published its first snapshot.
fn sales_once_listed(sw: &Switch) -> serde_json::Value {
    let until = Instant::now() + Duration::from_secs(5);
    loop {
        let (_, body) = http_get(sw.http, "/queues").expect("GET /queues");
        if body.contains("\"sales\"") {
            return sales(sw);
        }
        assert!(Instant::now() < until, "no sales queue: {body}");
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[test]
fn agents_choices_survive_a_crash_of_the_switch() {
    let mut sw = Switch::start_default();
    // 1002 logs out (a dialplan member), 1003 pauses, 1004 logs in to sales (8100)
    for (ext, code) in [("1002", "*46"), ("1003", "*47"), ("1004", "*458100")] {
        caller(&sw, "uac_app_listen.xml", ext, code)
            .key("rtp_port", free_port())
            .run()
            .assert_ok();
    }
    let before = sales(&sw);
    assert_eq!(
        agent_status(&before, "1002").as_deref(),
        Some("logged_out"),
        "{before}"
    );
    assert_eq!(
        agent_status(&before, "1003").as_deref(),
        Some("paused"),
        "{before}"
    );
    assert!(
        agent_status(&before, "1004").is_some(),
        "1004 is a member now: {before}"
    );
    assert_eq!(before["agents_online"], 2, "{before}");

    // kill -9: no shutdown; the choices must already be in the store
    std::thread::sleep(Duration::from_millis(300));
    sw.crash_and_restart();
    let after = sales_once_listed(&sw);
    assert_eq!(
        agent_status(&after, "1002").as_deref(),
        Some("logged_out"),
        "{after}"
    );
    assert_eq!(
        agent_status(&after, "1003").as_deref(),
        Some("paused"),
        "{after}"
    );
    assert!(
        agent_status(&after, "1004").is_some(),
        "the dynamic login survived: {after}"
    );
    assert_eq!(after["agents_online"], 2, "{after}");

    // and they can be undone: 1002 back in, 1003 resumes, 1004 out (no longer a member)
    for (ext, code) in [("1002", "*45"), ("1003", "*48"), ("1004", "*46")] {
        caller(&sw, "uac_app_listen.xml", ext, code)
            .key("rtp_port", free_port())
            .run()
            .assert_ok();
    }
    std::thread::sleep(Duration::from_millis(300));
    sw.crash_and_restart();
    let last = sales_once_listed(&sw);
    assert_ne!(
        agent_status(&last, "1002").as_deref(),
        Some("logged_out"),
        "{last}"
    );
    assert_ne!(
        agent_status(&last, "1003").as_deref(),
        Some("paused"),
        "{last}"
    );
    assert!(agent_status(&last, "1004").is_none(), "{last}");
}

/// `POST /calls/{id}/transfer`: the operator moves a caller.
fn transfer(sw: &Switch, call: &str, number: &str) -> (u16, serde_json::Value) {
    let (status, raw) = http_request(
        sw.http,
        "POST",
        &format!("/calls/{call}/transfer"),
        Some(&format!("{{\"number\": \"{number}\"}}")),
    )
    .expect("POST transfer");
    (status, serde_json::from_slice(&raw).unwrap_or_default())
}

#[test]
fn an_operator_moves_a_waiting_caller_and_a_bridged_one_elsewhere() {
    let sw = Switch::start_default();
    let events = sw.events();
    // a caller waiting in sales (nobody to answer) is sent to the tone app
    let phone = RtpSink::bind();
    let waiting = caller(&sw, "uac_app_listen.xml", "1001", "8100")
        .key("rtp_port", phone.port)
        .spawn();
    let evs = events.wait_for(Duration::from_secs(5), |e| {
        !named(e, "QUEUE_ENTER").is_empty()
    });
    let call = named(&evs, "QUEUE_ENTER")
        .first()
        .map(|e| e.str("call_id").to_string())
        .unwrap_or_else(|| panic!("{}", describe(&evs)));
    std::thread::sleep(Duration::from_millis(500));
    assert_eq!(transfer(&sw, &call, "9999").0, 422, "an unknown number");
    assert_eq!(transfer(&sw, "not-a-call", "7001").0, 404);
    let mark = phone.heard();
    let (status, v) = transfer(&sw, &call, "7001");
    assert_eq!(status, 202, "{v}");
    waiting.wait().assert_ok(); // the app hung up after its prompt
    let heard = phone.samples_since(mark);
    let f = tone_frequency(&heard[800.min(heard.len())..12_000.min(heard.len())]);
    assert!(
        (f - 1000.0).abs() < 15.0,
        "after the transfer the caller heard {f:.0} Hz"
    );
    let evs = events.wait_for(Duration::from_secs(5), |e| {
        !named(e, "QUEUE_HANGUP").is_empty()
    });
    let left = named(&evs, "QUEUE_NO_ANSWER");
    assert_eq!(left.len(), 1, "{}", describe(&evs));
    assert_eq!(left[0].str("reason"), "transferred");
    assert_eq!(named(&evs, "QUEUE_HANGUP")[0].str("reason"), "transferred");

    // a caller the menu bridged to 1004: 1004 is hung up, the caller moves on
    let dave_rtp = RtpSink::bind();
    let dave = phone_at(
        &sw,
        "1004",
        "uas_answer.xml",
        free_port(),
        Some(dave_rtp.port),
    );
    let phone = RtpSink::bind();
    let menu = caller(&sw, "uac_app_listen.xml", "1001", "8000")
        .key("rtp_port", phone.port)
        .spawn();
    phone.wait_remote(Duration::from_secs(5));
    std::thread::sleep(Duration::from_millis(800));
    phone.send_digit('2');
    let evs = events.wait_for(Duration::from_secs(8), |e| count(e, "channel_bridge") >= 2);
    let bridged = evs
        .iter()
        .find(|e| e.name == "channel_bridge")
        .unwrap_or_else(|| panic!("{}", describe(&evs)));
    let call = bridged.str("call_id").to_string();
    let mark = phone.heard();
    let (status, v) = transfer(&sw, &call, "7001");
    assert_eq!(status, 202, "{v}");
    let dave = dave.wait();
    dave.assert_ok();
    assert_eq!(dave.received_methods(), vec!["INVITE", "ACK", "BYE"]);
    menu.wait().assert_ok();
    let heard = phone.samples_since(mark);
    let f = tone_frequency(&heard[800.min(heard.len())..12_000.min(heard.len())]);
    assert!(
        (f - 1000.0).abs() < 15.0,
        "after the transfer the caller heard {f:.0} Hz"
    );

    // a plain call between two phones is not the switch's to move
    let eve = phone_at(
        &sw,
        "1005",
        "uas_answer.xml",
        free_port(),
        Some(RtpSink::bind().port),
    );
    let plain = caller(&sw, "uac_hold_on.xml", "1001", "1005")
        .key("rtp_port", RtpSink::bind().port)
        .key("hold", 3000)
        .spawn();
    let evs = events.wait_for(Duration::from_secs(5), |e| count(e, "channel_bridge") >= 4);
    let call = evs
        .iter()
        .rev()
        .find(|e| e.name == "channel_bridge")
        .map(|e| e.str("call_id").to_string())
        .expect("bridged");
    let (status, v) = transfer(&sw, &call, "7001");
    assert_eq!(
        (status, v["error"]["code"].as_str()),
        (409, Some("not_transferable")),
        "{v}"
    );
    plain.wait().assert_ok();
    eve.wait().assert_ok();
}
