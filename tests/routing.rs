//! Callflows end to end with SIPp phones: the demo's IVR menu (8000) answers,
//! a key sends the caller to the support ring group (8200) and the member that
//! answers is bridged to the caller's media; a sequential ring group (8100,
//! patched to two seconds a member) rings one member, gives up on it, and
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
    assert!(!invite.contains("s=switchyard test call"), "not the caller's SDP: {invite}");

    // the caller's tone, sent after the bridge, reached 1004 through the switch
    let st = sink.state();
    assert!(st.rtp_packets >= 80, "1004 heard {} packets: {st:?}", st.rtp_packets);
    let f = tone_frequency(&st.samples);
    assert!((900.0..1100.0).contains(&f), "1004 heard {f} Hz");

    let evs = events.wait_for(Duration::from_secs(5), two_destroys);
    let all = describe(&evs);
    assert_eq!(count(&evs, "dtmf"), 1, "{all}");
    assert_eq!(count(&evs, "channel_answer"), 2, "{all}");
    assert_eq!(count(&evs, "channel_bridge"), 2, "{all}");
    assert_eq!(
        destroy_causes(&evs),
        vec!["NORMAL_CLEARING", "NORMAL_CLEARING"],
        "{all}"
    );
    assert_eq!(
        sw.wait_metric("switchyard_rtp_port_pairs_in_use", Duration::from_secs(3), |v| v == 0.0),
        0.0
    );
}

#[test]
fn a_sequential_group_moves_on_from_a_member_that_does_not_answer() {
    let sw = Switch::start(SwitchOpts {
        dialplan_patch: vec![(
            "strategy = \"round_robin\"\nring_seconds = 15".into(),
            "strategy = \"sequential\"\nring_seconds = 2".into(),
        )],
        ..SwitchOpts::default()
    });
    let events = sw.events();
    let sink = RtpSink::bind();
    // 1002 rings and never answers; 1003 answers
    let bob = phone_at(&sw, "1002", "uas_ring.xml", free_port(), None);
    let carol = phone_at(&sw, "1003", "uas_answer.xml", free_port(), Some(sink.port));

    let out = caller(&sw, "uac_call.xml", "1001", "8100").run();
    out.assert_ok();
    assert_received(&out, &[180, 200]);
    let bob = bob.wait();
    bob.assert_ok();
    assert_eq!(bob.received_methods(), vec!["INVITE", "CANCEL", "ACK"]);
    let carol = carol.wait();
    carol.assert_ok();
    assert_eq!(carol.received_methods(), vec!["INVITE", "ACK", "BYE"]);
    let st = sink.state();
    assert!(st.rtp_packets >= 80, "1003 heard {} packets: {st:?}", st.rtp_packets);

    // three legs: the caller, 1002's unanswered round, 1003's answered one
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
    assert_eq!(
        sw.wait_metric("switchyard_active_calls", Duration::from_secs(3), |v| v == 0.0),
        0.0
    );
}
