//! A callee's stale bindings must not cost the switch: a phone that vanished
//! without unregistering (its port now answers ICMP unreachable) fails its fork
//! at once as a 503 (RFC 3261 §8.1.3.1) instead of being retried until Timer B,
//! and a contact that never answers at all (a black hole) holds no RTP ports
//! and no call once the call is over — only its INVITE transaction lingers.

mod common;

use common::*;
use std::net::UdpSocket;
use std::time::{Duration, Instant};

#[test]
fn a_vanished_phone_fails_its_fork_at_once_as_503() {
    let sw = Switch::start_default();
    let events = sw.events();
    // 1002 registers from a port, then the phone is gone: nothing listens there
    let gone = free_port();
    register(&sw, "1002", &password_of("1002"), gone, 300);
    assert_eq!(sw.metric("switchyard_registrations"), 1.0);

    let started = Instant::now();
    let out = caller(&sw, "uac_unreachable.xml", "1001", "1002").run();
    out.assert_ok();
    assert_received(&out, &[407, 503]);
    let took = started.elapsed();
    // Timer B would be 32 s; the ICMP error ends the fork within one round trip
    assert!(
        took < Duration::from_secs(8),
        "503 took {took:?}\n{}",
        out.report()
    );
    let evs = events.wait_for(Duration::from_secs(5), two_destroys);
    assert_eq!(
        destroy_causes(&evs),
        vec!["NETWORK_OUT_OF_ORDER", "NETWORK_OUT_OF_ORDER"],
        "{}",
        describe(&evs)
    );
    assert_eq!(sw.settled("switchyard_active_calls"), 0.0);
}

#[test]
fn a_black_hole_contact_holds_no_ports_once_the_call_is_over() {
    let sw = Switch::start_default();
    let events = sw.events();
    let sink = RtpSink::bind();
    // a contact that swallows every datagram and never answers (no ICMP either)
    let hole_port = free_port();
    register(&sw, "1002", &password_of("1002"), hole_port, 300);
    let hole = UdpSocket::bind((LOCALHOST, hole_port)).expect("bind the black hole");
    let desk = phone_at(&sw, "1002", "uas_answer.xml", free_port(), Some(sink.port));
    assert_eq!(sw.metric("switchyard_registrations"), 2.0);

    let out = caller(&sw, "uac_call.xml", "1001", "1002").run();
    out.assert_ok();
    assert_received(&out, &[200]);
    desk.wait().assert_ok();
    let evs = events.wait_for(Duration::from_secs(5), two_destroys);
    assert_eq!(
        destroy_causes(&evs),
        vec!["NORMAL_CLEARING", "NORMAL_CLEARING"],
        "{}",
        describe(&evs)
    );
    // the black hole's INVITE is still unanswered (no CANCEL may be sent before
    // a provisional), yet the call is over: no call counted, no ports held
    assert_eq!(
        sw.settled("switchyard_active_calls"),
        0.0,
        "the call still counts while a stale fork lingers"
    );
    assert_eq!(
        sw.settled("switchyard_rtp_port_pairs_in_use"),
        0.0,
        "RTP ports held for a stale fork"
    );
    // and the black hole really was rung (its INVITE is being retransmitted)
    hole.set_read_timeout(Some(Duration::from_secs(2)))
        .expect("timeout");
    let mut buf = [0u8; 4096];
    let n = hole.recv(&mut buf).expect("the stale contact got INVITEs");
    assert!(
        buf[..n].starts_with(b"INVITE "),
        "{:?}",
        String::from_utf8_lossy(&buf[..n])
    );
}
