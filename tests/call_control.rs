//! Calls over time: a callee that never answers is given up after the ring timeout,
//! and a bridged call is put on hold and resumed with re-INVITEs that the switch
//! relays between the two dialogs, media still anchored on its relay.

mod common;

use common::*;
use std::time::Duration;

#[test]
fn unanswered_call_times_out_with_480_and_cancels_the_callee() {
    let sw = Switch::start(SwitchOpts {
        extra_args: vec!["--ring-timeout".into(), "2".into()],
        ..SwitchOpts::default()
    });
    let events = sw.events();
    let callee = phone_at(&sw, "1002", "uas_ring.xml", free_port(), None);
    let out = caller(&sw, "uac_no_answer.xml", "1001", "1002").run();
    out.assert_ok();
    let mut finals: Vec<u16> = out
        .received_statuses()
        .into_iter()
        .filter(|&c| c >= 180 && c != 407)
        .collect();
    finals.dedup(); // a retransmitted 480
    assert_eq!(finals, vec![180, 480], "{}", out.report());

    // the 480 comes about ring-timeout after the authenticated INVITE
    let tl = out.timeline();
    let invite_at = tl
        .iter()
        .rev()
        .find(|m| m.sent && m.start_line.starts_with("INVITE "))
        .map(|m| m.at)
        .expect("INVITE sent");
    let final_at = tl
        .iter()
        .find(|m| !m.sent && m.start_line.starts_with("SIP/2.0 480"))
        .map(|m| m.at)
        .expect("480 received");
    let rang = final_at - invite_at;
    assert!(
        (1.8..=4.0).contains(&rang),
        "480 arrived {rang:.2} s after the INVITE; --ring-timeout is 2 s\n{tl:#?}"
    );

    let callee = callee.wait();
    callee.assert_ok();
    assert_eq!(
        callee.received_methods(),
        vec!["INVITE", "CANCEL", "ACK"],
        "{}",
        callee.report()
    );

    let evs = events.wait_for(Duration::from_secs(5), two_destroys);
    assert_eq!(
        destroy_causes(&evs),
        vec!["NO_ANSWER", "NO_ANSWER"],
        "{}",
        describe(&evs)
    );
    assert_eq!(count(&evs, "channel_answer"), 0, "{}", describe(&evs));
    assert_eq!(
        sw.wait_metric("switchyard_active_calls", Duration::from_secs(3), |v| v
            == 0.0),
        0.0
    );
}

fn invites(out: &SippOutcome, received: bool) -> Vec<String> {
    let msgs = if received { out.received() } else { out.sent() };
    msgs.into_iter()
        .filter(|m| m.starts_with("INVITE "))
        .collect()
}

/// The 200 responses to INVITEs a phone received, in order, one per CSeq.
fn invite_oks(out: &SippOutcome) -> Vec<String> {
    let mut oks: Vec<String> = out
        .received()
        .into_iter()
        .filter(|m| {
            m.starts_with("SIP/2.0 200") && header(m, "CSeq").is_some_and(|c| c.ends_with("INVITE"))
        })
        .collect();
    // one per transaction: a retransmitted 200 is the same answer
    oks.dedup_by(|a, b| header(a, "CSeq") == header(b, "CSeq"));
    oks
}

#[test]
fn hold_and_unhold_reinvites_are_relayed_through_the_b_leg_and_the_held_side_hears_music() {
    let sw = Switch::start_default();
    let events = sw.events();
    let (rtp_low, rtp_high) = sw.rtp_ports;
    let in_relay_range = |p: Option<u16>| p.is_some_and(|p| (rtp_low..=rtp_high).contains(&p));
    let sink = RtpSink::bind();
    let callee = phone_at(&sw, "1002", "uas_hold.xml", free_port(), Some(sink.port));
    let out = caller(&sw, "uac_hold.xml", "1001", "1002").run();
    out.assert_ok();
    let callee = callee.wait();
    callee.assert_ok();
    assert_eq!(
        callee.received_methods(),
        vec!["INVITE", "ACK", "INVITE", "ACK", "INVITE", "ACK", "BYE"],
        "{}",
        callee.report()
    );

    // the callee's view: both re-INVITEs come from the switch inside the B-leg dialog
    let got = invites(&callee, true);
    let (initial, hold, unhold) = (&got[0], &got[1], &got[2]);
    let b_call_id = header(initial, "Call-ID");
    let switch_tag = header(initial, "From").and_then(tag_param);
    let our_tag = callee
        .sent()
        .iter()
        .find(|m| m.starts_with("SIP/2.0 200"))
        .and_then(|m| header(m, "To"))
        .and_then(tag_param)
        .map(str::to_string);
    let caller_call_id = invites(&out, false)
        .first()
        .and_then(|m| header(m, "Call-ID").map(str::to_string));
    for (what, reinvite) in [("hold", hold), ("unhold", unhold)] {
        assert_eq!(
            header(reinvite, "Call-ID"),
            b_call_id,
            "{what}:\n{reinvite}"
        );
        assert_ne!(
            header(reinvite, "Call-ID").map(str::to_string),
            caller_call_id,
            "the B leg is a dialog of its own"
        );
        assert_eq!(
            header(reinvite, "From").and_then(tag_param),
            switch_tag,
            "{what}:\n{reinvite}"
        );
        assert_eq!(
            header(reinvite, "To").and_then(tag_param),
            our_tag.as_deref(),
            "{what}:\n{reinvite}"
        );
        assert_eq!(
            sdp_connection(reinvite),
            Some(LOCALHOST),
            "{what}:\n{reinvite}"
        );
        assert!(
            in_relay_range(sdp_audio_port(reinvite)),
            "{what} offer's media port is not the switch's relay ({rtp_low}-{rtp_high}):\n{reinvite}"
        );
        assert_eq!(
            sdp_audio_port(reinvite),
            sdp_audio_port(initial),
            "the relay keeps its B-side port across re-INVITEs"
        );
    }
    let cseq = |m: &str| {
        header(m, "CSeq")
            .and_then(|c| c.split_whitespace().next())
            .and_then(|n| n.parse::<u32>().ok())
    };
    assert!(
        cseq(hold) > cseq(initial) && cseq(unhold) > cseq(hold),
        "CSeq rises in the B dialog: {:?} {:?} {:?}",
        cseq(initial),
        cseq(hold),
        cseq(unhold)
    );
    assert!(hold.contains("a=sendonly"), "{hold}");
    assert!(unhold.contains("a=sendrecv"), "{unhold}");

    // the caller's view: the answers carry the callee's direction, anchored on the relay
    let oks = invite_oks(&out);
    assert_eq!(oks.len(), 3, "{}", out.report());
    assert!(oks[1].contains("a=recvonly"), "hold answer:\n{}", oks[1]);
    assert!(oks[2].contains("a=sendrecv"), "unhold answer:\n{}", oks[2]);
    for ok in &oks {
        assert_eq!(sdp_connection(ok), Some(LOCALHOST), "{ok}");
        assert!(in_relay_range(sdp_audio_port(ok)), "{ok}");
        assert_eq!(sdp_audio_port(ok), sdp_audio_port(&oks[0]), "{ok}");
    }

    // while held (~0.5 s) the callee hears the switch's music on hold, and only then
    // (the caller sends no audio in this scenario): ~25 frames of PCMA with sound in them
    let st = sink.state();
    assert!(
        (5..=60).contains(&st.rtp_packets),
        "the held callee got {} RTP packets: {st:?}",
        st.rtp_packets
    );
    assert_eq!(
        st.payload_types,
        vec![8],
        "music on hold in the callee's codec"
    );
    let rms = (st
        .samples
        .iter()
        .map(|&s| f64::from(s).powi(2))
        .sum::<f64>()
        / st.samples.len().max(1) as f64)
        .sqrt();
    assert!(rms > 200.0, "music on hold is audible (RMS {rms:.0})");

    let evs = events.wait_for(Duration::from_secs(5), two_destroys);
    assert_eq!(
        destroy_causes(&evs),
        vec!["NORMAL_CLEARING", "NORMAL_CLEARING"],
        "{}",
        describe(&evs)
    );
    assert_eq!(
        sw.wait_metric("switchyard_active_calls", Duration::from_secs(3), |v| v
            == 0.0),
        0.0
    );
}
