//! The switch as a media endpoint, against SIPp: dialplan apps answer, play
//! prompts whose audio is checked at the far end (frequency and length, not
//! bytes), hang up after their last step; the RFC 2833 key presses SIPp ships
//! as pcaps and a SIP INFO digit come out as exactly those digits on the bus.

mod common;

use common::*;
use std::time::Duration;

#[test]
fn app_answers_plays_the_tone_prompt_and_hangs_up() {
    // a ring timeout shorter than the app: an answered app call must not be cut by it
    let sw = Switch::start(SwitchOpts {
        extra_args: vec!["--ring-timeout".into(), "1".into()],
        ..Default::default()
    });
    let sink = RtpSink::bind();
    let events = sw.events();
    // app 7001: the 2 s 1 kHz prompt (media/prompts/en/tone-1khz.wav), 0.5 s pause, hang up
    let out = caller(&sw, "uac_app_listen.xml", "1001", "7001")
        .key("rtp_port", sink.port)
        .run();
    out.assert_ok();
    let st = sink.state();
    // 2.5 s of 20 ms frames: the prompt then silence (±10 % for start-up and the BYE race)
    assert!(
        (110..=140).contains(&st.rtp_packets),
        "far end received {} RTP packets in a 2.5 s app: {st:?}",
        st.rtp_packets
    );
    assert_eq!(
        st.payload_types,
        vec![8],
        "the switch speaks the offered PCMA"
    );
    // the first two seconds are the prompt: a 1 kHz tone at about -10 dBFS
    let prompt = &st.samples[..16000.min(st.samples.len())];
    let f = tone_frequency(&prompt[800..]);
    assert!((f - 1000.0).abs() < 10.0, "far end heard {f:.1} Hz");
    let rms = (prompt[800..]
        .iter()
        .map(|&s| f64::from(s).powi(2))
        .sum::<f64>()
        / (prompt.len() - 800) as f64)
        .sqrt();
    assert!(
        (5000.0..9000.0).contains(&rms),
        "prompt level RMS {rms:.0} (a -10 dBFS sine is ~7300)"
    );
    // the pause after it is silence
    let tail = &st.samples[st.samples.len().saturating_sub(800)..];
    assert!(
        tail.iter().all(|s| s.abs() < 64),
        "the pause after the prompt is not silent"
    );
    let evs = events.wait_for(Duration::from_secs(3), |e| count(e, "channel_destroy") >= 1);
    assert_eq!(count(&evs, "channel_answer"), 1, "{}", describe(&evs));
    assert_eq!(count(&evs, "channel_destroy"), 1, "{}", describe(&evs));
}

#[test]
fn rfc2833_pcaps_and_sip_info_become_exactly_those_digits() {
    let sw = Switch::start_default();
    let sink = RtpSink::bind();
    let events = sw.events();
    // app 7000 plays the welcome prompt with barge-in, then music on hold
    let out = caller(&sw, "uac_app_dtmf.xml", "1001", "7000")
        .key("rtp_port", sink.port)
        .run();
    out.assert_ok();
    let evs = events.wait_for(Duration::from_secs(3), |e| count(e, "channel_destroy") >= 1);
    let digits: Vec<(String, String, i64)> = evs
        .iter()
        .filter(|e| e.name == "dtmf")
        .map(|e| {
            (
                e.data["digit"].as_str().unwrap_or("").to_string(),
                e.data["source"].as_str().unwrap_or("").to_string(),
                e.data["duration_ms"].as_i64().unwrap_or(0),
            )
        })
        .collect();
    let keys: String = digits.iter().map(|d| d.0.as_str()).collect();
    assert_eq!(
        keys,
        "159#7",
        "digits on the bus: {digits:?}\n{}",
        describe(&evs)
    );
    for d in &digits[..4] {
        assert_eq!(d.1, "rfc4733", "{d:?}");
        // each pcap holds a 280 ms key press (duration 2240 at 8 kHz)
        assert_eq!(d.2, 280, "{d:?}");
    }
    assert_eq!((digits[4].1.as_str(), digits[4].2), ("info", 160));
    // (the media itself went back to SIPp's own port: the switch latches onto
    // where the caller's RTP comes from, so the sink is not asked about it here)
    drop(sink);
}

#[test]
fn app_speaks_text_rendered_by_espeak_then_rings_back() {
    // app 7002 with a 1 s echo: speech from text, 1 s of US ringback, then hang up
    let sw = Switch::start(SwitchOpts {
        dialplan_patch: vec![("{ echo = 30 }".into(), "{ echo = 1 }".into())],
        ..Default::default()
    });
    let sink = RtpSink::bind();
    let out = caller(&sw, "uac_app_listen.xml", "1001", "7002")
        .key("rtp_port", sink.port)
        .run();
    out.assert_ok();
    let st = sink.state();
    let frames: Vec<&[i16]> = st.samples.chunks(160).collect();
    let rms = |f: &[i16]| {
        (f.iter().map(|&s| f64::from(s).powi(2)).sum::<f64>() / f.len().max(1) as f64).sqrt()
    };
    // speech: most of the first second is voiced (espeak-ng really ran)
    let voiced = frames.iter().take(50).filter(|f| rms(f) > 300.0).count();
    assert!(
        voiced >= 25,
        "only {voiced} of the first 50 frames carry speech"
    );
    // the rendering is cached by text and voice in the data dir
    let tts = sw.tmp.path().join("data/tts");
    let cached = std::fs::read_dir(&tts)
        .unwrap_or_else(|e| panic!("{}: {e}", tts.display()))
        .filter(|e| {
            e.as_ref()
                .is_ok_and(|e| e.path().extension().is_some_and(|x| x == "wav"))
        })
        .count();
    assert_eq!(cached, 1, "one cached rendering in {}", tts.display());
    // ringback (440 + 480 Hz) follows the speech: find a second of steady tone
    let tone_start = frames
        .iter()
        .rposition(|f| rms(f) > 1000.0)
        .map(|last| last.saturating_sub(45))
        .expect("a loud part");
    let tone: Vec<i16> = frames[tone_start..tone_start + 40].concat();
    let f = tone_frequency(&tone);
    assert!(
        (440.0..=480.0).contains(&f),
        "the ringback heard has zero crossings at {f:.0} Hz (expected 440-480)"
    );
}

#[test]
fn app_offers_first_when_the_invite_has_no_sdp() {
    let sw = Switch::start_default();
    let sink = RtpSink::bind();
    // the switch's 200 offers PCMU, PCMA, Opus and telephone-event (checked by the
    // scenario); the caller answers PCMA in its ACK and must hear the 1 kHz prompt
    let out = caller(&sw, "uac_app_late_offer.xml", "1001", "7001")
        .key("rtp_port", sink.port)
        .run();
    out.assert_ok();
    let st = sink.state();
    assert_eq!(st.payload_types, vec![8], "the codec the ACK answered with");
    assert!(st.rtp_packets >= 100, "{st:?}");
    let f = tone_frequency(&st.samples[800..16000.min(st.samples.len())]);
    assert!((f - 1000.0).abs() < 10.0, "far end heard {f:.1} Hz");
}

#[test]
fn a_stranger_spraying_rtp_cannot_take_the_call_media() {
    let sw = Switch::start_default();
    let sink = RtpSink::bind();
    // from another address, valid-looking RTP at every media port of the switch
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let (lo, hi) = sw.rtp_ports;
    let flag = stop.clone();
    let stranger = std::thread::spawn(move || {
        let sock = std::net::UdpSocket::bind("127.0.0.2:0").expect("bind 127.0.0.2");
        sock.set_nonblocking(true).expect("nonblocking");
        let mut pkt = vec![0x80u8, 8, 0, 0, 0, 0, 0, 0, 1, 2, 3, 4];
        pkt.extend_from_slice(&[0xd5; 160]);
        let (mut got, mut buf) = (0usize, [0u8; 2048]);
        while !flag.load(std::sync::atomic::Ordering::Relaxed) {
            for port in lo..=hi {
                let _ = sock.send_to(&pkt, ("127.0.0.1", port));
            }
            while sock.recv_from(&mut buf).is_ok() {
                got += 1;
            }
            std::thread::sleep(Duration::from_millis(5));
        }
        got
    });
    let out = caller(&sw, "uac_app_listen.xml", "1001", "7001")
        .key("rtp_port", sink.port)
        .run();
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    let stolen = stranger.join().expect("stranger thread");
    out.assert_ok();
    assert_eq!(stolen, 0, "the stranger received the call's media");
    let st = sink.state();
    assert!(st.rtp_packets >= 100, "the caller lost its media: {st:?}");
    let f = tone_frequency(&st.samples[800..16000.min(st.samples.len())]);
    assert!((f - 1000.0).abs() < 10.0, "caller heard {f:.1} Hz");
}
