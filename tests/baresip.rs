//! Two real baresip phones talk through the switch. Extension 1001 plays a 440 Hz
//! tone, 1002 plays a 1000 Hz tone (both from WAV files via `aufile`, coded as PCMU);
//! each phone records what it decoded from the network (`sndfile`). The test passes
//! only when 1002 heard 440 Hz and 1001 heard 1000 Hz: audio crossed the relay both
//! ways, unmixed and not reflected back to its sender.
//!
//! baresip (Debian's v1.0.0) must be installed: these tests never skip silently.

mod common;

use common::baresip::*;
use common::{count, describe, Switch};
use std::path::PathBuf;
use std::thread;
use std::time::{Duration, Instant};

#[test]
fn two_baresip_phones_hear_each_other_through_the_relay() {
    assert_baresip_installed();
    let sw = Switch::start_default();
    let tones = tempfile::tempdir().expect("tempdir");
    let tone_1001 = tones.path().join("tone-440.wav");
    let tone_1002 = tones.path().join("tone-1000.wav");
    write_tone_wav(&tone_1001, TONE_1001, TONE_SECS);
    write_tone_wav(&tone_1002, TONE_1002, TONE_SECS);

    let mut callee = Phone::start(&sw, "1002", &tone_1002, true);
    let mut caller = Phone::start(&sw, "1001", &tone_1001, false);
    let regs = sw.wait_metric("switchyard_registrations", Duration::from_secs(10), |v| {
        v >= 2.0
    });
    assert_eq!(regs, 2.0, "both phones should be registered");

    let events = sw.events();
    caller.command(&format!("/dial sip:1002@{}", sw.sip));
    // 1002 answers by itself; the two legs are bridged from then on
    let evs = events.wait_for(Duration::from_secs(10), |e| count(e, "channel_bridge") >= 1);
    caller.assert_running("during the call");
    callee.assert_running("during the call");
    assert!(
        count(&evs, "channel_bridge") >= 1,
        "1002 did not answer within 10 s of dialling; events:\n{}",
        describe(&evs)
    );
    assert_eq!(sw.metric("switchyard_active_calls"), 1.0, "active calls");
    thread::sleep(TALK);
    caller.command("/hangup");
    let active = sw.wait_metric("switchyard_active_calls", Duration::from_secs(5), |v| {
        v == 0.0
    });
    assert_eq!(active, 0.0, "the call should be over after 1001 hung up");
    // 50 packets a second each way (the counter is complete once the call is over)
    let relayed = sw.wait_metric(
        "switchyard_rtp_packets_relayed_total",
        Duration::from_secs(3),
        |v| v >= 300.0,
    );
    assert!(
        relayed >= 300.0,
        "only {relayed} RTP packets relayed in a {TALK:?} call"
    );
    caller.quit();
    callee.quit();

    let at_1002 = analyse(&read_wav(&callee.heard()), &[TONE_1001, TONE_1002]);
    let at_1001 = analyse(&read_wav(&caller.heard()), &[TONE_1001, TONE_1002]);
    eprintln!("1002 heard: {at_1002:?}\n1001 heard: {at_1001:?}");
    assert_heard("1002", &at_1002, TONE_1001, TONE_1002);
    assert_heard("1001", &at_1001, TONE_1002, TONE_1001);
}

#[test]
fn tone_analysis_finds_the_tone_and_rejects_silence() {
    // the analysis itself must be able to fail: silence, a wrong tone, a mixture
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("t.wav");
    write_tone_wav(&path, 440.0, 3);
    let samples = read_wav(&path);
    assert_eq!(samples.len(), 3 * RATE as usize);
    let h = analyse(&samples, &[440.0, 1_000.0]);
    assert!((h.peak_hz - 440.0).abs() <= 0.5, "{h:?}");
    assert!((h.rms - 0.5 / 2f64.sqrt()).abs() < 0.01, "{h:?}");
    assert!(h.purity > 0.95 && h.shares[1].1 < 0.001, "{h:?}");
    assert_eq!(h.sound, Duration::from_secs(3));

    let silence = vec![0i16; 3 * RATE as usize];
    assert_eq!(analyse(&silence, &[440.0]).sound, Duration::ZERO);

    let mixed: Vec<i16> = samples
        .iter()
        .enumerate()
        .map(|(i, &s)| {
            let t = i as f64 / RATE as f64;
            s / 2 + ((2.0 * std::f64::consts::PI * 1_000.0 * t).sin() * 8_192.0) as i16
        })
        .collect();
    let h = analyse(&mixed, &[440.0, 1_000.0]);
    assert!(h.purity < 0.6, "a 50/50 mixture is not a pure tone: {h:?}");
    assert!(h.shares[1].1 > 0.3, "{h:?}");
}

#[test]
fn opus_phone_and_pcmu_phone_talk_through_the_transcoder_and_are_recorded() {
    assert_baresip_installed();
    // 1001 records every call it places: the recording must hold both sides
    let sw = Switch::start(common::SwitchOpts {
        dialplan_patch: vec![(
            "display_name = \"Alice\"".into(),
            "display_name = \"Alice\"\nrecord = true".into(),
        )],
        ..Default::default()
    });
    let tones = tempfile::tempdir().expect("tempdir");
    let tone_1001 = tones.path().join("tone-440.wav");
    let tone_1002 = tones.path().join("tone-1000.wav");
    write_tone_wav_at(&tone_1001, TONE_1001, TONE_SECS, 48_000, 2);
    write_tone_wav(&tone_1002, TONE_1002, TONE_SECS);

    // the two phones share no codec: only the switch can make them talk
    let mut callee = Phone::start_with(&sw, "1002", &tone_1002, true, "PCMU");
    let mut caller = Phone::start_with(&sw, "1001", &tone_1001, false, "opus/48000/2");
    let regs = sw.wait_metric("switchyard_registrations", Duration::from_secs(10), |v| {
        v >= 2.0
    });
    assert_eq!(regs, 2.0, "both phones should be registered");
    let events = sw.events();
    caller.command(&format!("/dial sip:1002@{}", sw.sip));
    let evs = events.wait_for(Duration::from_secs(10), |e| count(e, "channel_bridge") >= 1);
    assert!(
        count(&evs, "channel_bridge") >= 1,
        "the call was not bridged within 10 s; events:\n{}",
        describe(&evs)
    );
    thread::sleep(TALK);
    caller.command("/hangup");
    let evs = events.wait_for(Duration::from_secs(10), |e| count(e, "recording") >= 1);
    caller.quit();
    callee.quit();

    let at_1002 = analyse(&read_wav(&callee.heard()), &[TONE_1001, TONE_1002]);
    let (rate, mono) = read_wav_mono(&caller.heard());
    let at_1001 = analyse_at(&mono, rate, &[TONE_1001, TONE_1002]);
    eprintln!("1002 (PCMU) heard: {at_1002:?}\n1001 (Opus, {rate} Hz) heard: {at_1001:?}");
    assert_heard("1002", &at_1002, TONE_1001, TONE_1002);
    assert_heard_with_purity("1001", &at_1001, TONE_1002, TONE_1001, 0.6);
    assert!(
        sw.log_text().contains("transcoding"),
        "the switch never logged that it transcodes this call"
    );

    // the recording: one event with the file, caller (440 Hz) left, callee (1000 Hz) right
    let rec = evs
        .iter()
        .find(|e| e.name == "recording")
        .unwrap_or_else(|| panic!("no recording event; events:\n{}", describe(&evs)));
    let path = PathBuf::from(rec.data["path"].as_str().expect("path"));
    let (rate, channels, samples) = read_wav_any(&path);
    assert_eq!((rate, channels), (RATE, 2), "recording format");
    let left: Vec<i16> = samples.iter().step_by(2).copied().collect();
    let right: Vec<i16> = samples.iter().skip(1).step_by(2).copied().collect();
    let l = analyse(&left, &[TONE_1001, TONE_1002]);
    let r = analyse(&right, &[TONE_1001, TONE_1002]);
    eprintln!("recording left: {l:?}\nrecording right: {r:?}");
    assert_heard("recording (left)", &l, TONE_1001, TONE_1002);
    assert_heard("recording (right)", &r, TONE_1002, TONE_1001);
    assert!(
        rec.data["duration_ms"].as_i64().unwrap_or(0) >= 3000,
        "{:?}",
        rec.data
    );
}

#[test]
fn opus_phone_hears_the_prompt_an_app_plays() {
    assert_baresip_installed();
    let sw = Switch::start_default();
    let tones = tempfile::tempdir().expect("tempdir");
    let tone = tones.path().join("tone-440.wav");
    write_tone_wav_at(&tone, TONE_1001, TONE_SECS, 48_000, 2);
    let mut caller = Phone::start_with(&sw, "1001", &tone, false, "opus/48000/2");
    let regs = sw.wait_metric("switchyard_registrations", Duration::from_secs(10), |v| {
        v >= 1.0
    });
    assert_eq!(regs, 1.0);
    let events = sw.events();
    // app 7001: 2 s of the 1 kHz prompt, 0.5 s of silence, then the switch hangs up
    caller.command(&format!("/dial sip:7001@{}", sw.sip));
    let evs = events.wait_for(Duration::from_secs(10), |e| {
        count(e, "channel_destroy") >= 1
    });
    assert_eq!(count(&evs, "channel_destroy"), 1, "{}", describe(&evs));
    thread::sleep(Duration::from_millis(300));
    caller.quit();
    let (rate, mono) = read_wav_mono(&caller.heard());
    let heard = analyse_at(&mono, rate, &[1_000.0, TONE_1001]);
    eprintln!("1001 (Opus, {rate} Hz) heard: {heard:?}");
    assert!(
        heard.sound >= Duration::from_millis(1800),
        "the 2 s prompt lasted {:?}: {heard:?}",
        heard.sound
    );
    assert!((heard.peak_hz - 1_000.0).abs() <= 3.0, "{heard:?}");
    assert!(heard.purity > 0.8, "{heard:?}");
}

/// The demo's main menu, key 1, the `sales` queue: the caller (SIPp, its media
/// on a test socket) hears the greeting, presses 1 as an RFC 4733 event and
/// waits with music on hold while no agent has a device; then a baresip phone
/// registers as agent 1002, is offered the call within seconds, answers by
/// itself, and each side hears the other's tone.
#[test]
fn a_queue_caller_is_answered_by_a_baresip_agent_that_registers_while_it_waits() {
    use common::{caller, rms, tone_frequency, RtpSink};
    assert_baresip_installed();
    let sw = Switch::start_default();
    let tones = tempfile::tempdir().expect("tempdir");
    let agent_tone = tones.path().join("tone-1000.wav");
    write_tone_wav(&agent_tone, TONE_1002, TONE_SECS);
    let events = sw.events();
    let phone = RtpSink::bind();
    let call = caller(&sw, "uac_hold_on.xml", "1001", "8000")
        .key("rtp_port", phone.port)
        .key("hold", 14_000)
        .spawn();

    // the greeting speaks; the caller presses 1 over it
    let until = Instant::now() + Duration::from_secs(6);
    while phone
        .samples_since(0)
        .chunks(160)
        .filter(|f| rms(f) > 0.01)
        .count()
        < 50
    {
        assert!(Instant::now() < until, "no greeting heard");
        thread::sleep(Duration::from_millis(50));
    }
    phone.send_digit('1');
    let evs = events.wait_for(Duration::from_secs(5), |e| {
        e.iter().any(|e| e.name == "QUEUE_ENTER")
    });
    assert!(
        evs.iter().any(|e| e.name == "QUEUE_ENTER"),
        "{}",
        describe(&evs)
    );
    let mark = phone.heard();
    thread::sleep(Duration::from_millis(1500));
    let music = phone.samples_since(mark);
    assert!(
        rms(&music) > 0.01,
        "no music on hold while waiting (RMS {})",
        rms(&music)
    );

    let mut agent = Phone::start(&sw, "1002", &agent_tone, true);
    let started = Instant::now();
    let evs = events.wait_for(Duration::from_secs(8), |e| {
        e.iter().any(|e| e.name == "QUEUE_MEMBER_ANSWER")
    });
    let answer = evs
        .iter()
        .find(|e| e.name == "QUEUE_MEMBER_ANSWER")
        .unwrap_or_else(|| panic!("the agent never answered:\n{}", describe(&evs)));
    assert_eq!(answer.str("to_user_id"), "1002");
    assert!(
        started.elapsed() < Duration::from_secs(6),
        "{:?}",
        started.elapsed()
    );
    agent.assert_running("on the queue call");

    thread::sleep(Duration::from_millis(300));
    let mark = phone.heard();
    phone
        .send_tone(TONE_1001, TALK.as_secs_f64())
        .join()
        .expect("tone");
    let from_agent = phone.samples_since(mark);
    let f = tone_frequency(&from_agent);
    assert!(
        (f - TONE_1002).abs() < 60.0 && rms(&from_agent) > 0.05,
        "the caller heard {f:.0} Hz at RMS {:.3} from the agent",
        rms(&from_agent)
    );
    call.wait().assert_ok();
    agent.quit();
    let at_agent = analyse(&read_wav(&agent.heard()), &[TONE_1001, TONE_1002]);
    eprintln!("the agent heard: {at_agent:?}");
    assert_heard("1002", &at_agent, TONE_1001, TONE_1002);
}
