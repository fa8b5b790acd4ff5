//! The voice developer API (v3) with SIPp phones and a SIPp carrier:
//! availability and queue availability following registrations and calls,
//! click-to-call through the trunk with RTP and a recording, idempotent
//! retries racing, and SMS over SIP MESSAGE (and the simulator) with its
//! events and a replay after a restart.

mod common;

use common::voice::*;
use common::*;
use serde_json::json;
use std::time::Duration;

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
    let carrier = carrier(&sw, "carrier_uas_tone.xml", Some(carrier_rtp.port));
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
    let carrier = carrier(&sw, "uas_message.xml", None);
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
