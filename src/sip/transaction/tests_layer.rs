//! Layer-wide tests: the timer heap (`poll_timeout` exactness, lazy deletion,
//! compaction), bookkeeping (`len`, one `Terminated` per transaction), custom
//! timer values, and a two-layer in-memory pair exchanging real bytes.

use std::time::{Duration, Instant};

use rsip::SipMessage;

use super::tests_support::*;
use super::{
    new_branch, ClientState, Incoming, ServerState, Timers, TransactionLayer, Transmit, TxEvent,
    COMPACT_SLACK,
};
use crate::sip::target::Target;

#[test]
fn poll_timeout_returns_earliest_deadline() {
    let mut h = Harness::new();
    assert_eq!(h.layer.poll_timeout(), None);
    let _client_tcp = h.send_request(request("OPTIONS", "z9hG4bKp1"), tcp()); // F at 32000
    assert_eq!(
        h.layer.poll_timeout(),
        Some(h.t0 + Duration::from_millis(32_000))
    );
    h.run_until(100);
    let server = h.new_server_tx(request("INVITE", "z9hG4bKp2"), udp());
    h.respond(server, response(486, "INVITE", "z9hG4bKp2"))
        .expect("486"); // G at 600
    assert_eq!(
        h.layer.poll_timeout(),
        Some(h.t0 + Duration::from_millis(600))
    );
    h.run_until(200);
    let _client_udp = h.send_request(request("INVITE", "z9hG4bKp3"), udp()); // A at 700
    assert_eq!(
        h.layer.poll_timeout(),
        Some(h.t0 + Duration::from_millis(600))
    );
    h.run_until(600);
    assert_eq!(
        h.layer.poll_timeout(),
        Some(h.t0 + Duration::from_millis(700))
    );
    h.run_until(700);
    assert_eq!(
        h.layer.poll_timeout(),
        Some(h.t0 + Duration::from_millis(1_600)),
        "G re-armed at 600 + 1000"
    );
}

#[test]
fn poll_timeout_skips_cancelled_timers() {
    let mut h = Harness::new();
    let tx = h.send_request(request("INVITE", "z9hG4bKq1"), udp());
    h.run_until(100);
    assert!(h
        .response_in(response(180, "INVITE", "z9hG4bKq1"))
        .is_some());
    assert_eq!(
        h.layer.poll_timeout(),
        None,
        "A and B cancelled: no spurious wake-up"
    );
    assert_eq!(h.layer.client_state(tx), Some(ClientState::Proceeding));
    // handle_timeout far in the future fires nothing.
    h.run_until(1_000_000);
    assert!(h.events.is_empty());
}

#[test]
fn stale_heap_entries_are_compacted() {
    let mut h = Harness::new();
    for i in 0..5_000 {
        let branch = format!("z9hG4bKbulk{i}");
        let tx = h.send_request(request("OPTIONS", &branch), tcp());
        assert_eq!(
            h.response_in(response(200, "OPTIONS", &branch))
                .map(|(id, _)| id),
            Some(tx)
        );
    }
    assert_eq!(h.layer.len(), 0);
    assert!(
        h.layer.heap_len() <= COMPACT_SLACK,
        "heap holds {} entries",
        h.layer.heap_len()
    );
    assert_eq!(h.layer.poll_timeout(), None);
    assert_eq!(h.events.len(), 5_000);
}

#[test]
fn len_counts_live_transactions_and_terminated_is_emitted_once() {
    let mut h = Harness::new();
    let a = h.send_request(request("INVITE", "z9hG4bKl1"), udp());
    let b = h.send_request(request("MESSAGE", "z9hG4bKl2"), udp());
    let c = h.new_server_tx(request("OPTIONS", "z9hG4bKl3"), udp());
    assert_eq!(h.layer.len(), 3);
    assert!(!h.layer.is_empty());
    h.respond(c, response(200, "OPTIONS", "z9hG4bKl3"))
        .expect("200");
    h.run_until(100_000);
    assert!(h.layer.is_empty());
    for tx in [a, b, c] {
        let terminated = h
            .events_of(tx)
            .iter()
            .filter(|(_, e)| matches!(e, TxEvent::Terminated { .. }))
            .count();
        assert_eq!(terminated, 1, "{tx}");
    }
}

#[test]
fn custom_and_zero_timer_values() {
    let t0 = Instant::now();
    let mut layer = TransactionLayer::new(Timers {
        t1: Duration::from_millis(100),
        t2: Duration::from_millis(400),
        t4: Duration::from_millis(1_000),
    });
    let tx = layer.send_request(t0, request("INVITE", "z9hG4bKt1"), tcp());
    assert_eq!(
        layer.poll_timeout(),
        Some(t0 + Duration::from_millis(6_400)),
        "B = 64*T1"
    );
    layer.handle_timeout(t0 + Duration::from_millis(6_400));
    assert!(!layer.contains(tx));

    // Zero timers are raised to 1 ms, so handle_timeout always terminates.
    let mut zero = TransactionLayer::new(Timers {
        t1: Duration::ZERO,
        t2: Duration::ZERO,
        t4: Duration::ZERO,
    });
    let tx = zero.send_request(t0, request("OPTIONS", "z9hG4bKt2"), udp());
    zero.handle_timeout(t0 + Duration::from_secs(1));
    assert!(!zero.contains(tx));
    assert_eq!(zero.poll_event(), Some(TxEvent::Timeout { tx }));
}

/// Two layers wired back to back: a UAC at 192.0.2.1 and a UAS at 192.0.2.10.
struct Pair {
    t0: Instant,
    uac: TransactionLayer,
    uas: TransactionLayer,
}

impl Pair {
    fn at(&self, ms: u64) -> Instant {
        self.t0 + Duration::from_millis(ms)
    }

    fn out(layer: &mut TransactionLayer) -> Vec<Transmit> {
        std::iter::from_fn(|| layer.poll_transmit()).collect()
    }
}

#[test]
fn pair_rejected_invite_with_lost_ack_converges() {
    let t0 = Instant::now();
    let mut p = Pair {
        t0,
        uac: TransactionLayer::new(Timers::default()),
        uas: TransactionLayer::new(Timers::default()),
    };
    let uac_addr = Target::udp(addr("192.0.2.1:5060"));
    let branch = new_branch();
    let client = p
        .uac
        .send_request(p.at(0), request("INVITE", &branch), udp());

    // The first INVITE is lost; timer A's retransmission arrives.
    assert_eq!(Pair::out(&mut p.uac).len(), 1);
    p.uac.handle_timeout(p.at(500));
    let invite = Pair::out(&mut p.uac).pop().expect("retransmitted INVITE");
    let SipMessage::Request(invite) = sent_msg(&invite) else {
        panic!("request")
    };
    let server = match p.uas.on_request(p.at(510), invite, uac_addr) {
        Incoming::New { tx, .. } => tx,
        other => panic!("{other:?}"),
    };
    p.uas
        .send_response(p.at(510), server, response(486, "INVITE", &branch))
        .expect("486");
    let reply = Pair::out(&mut p.uas).pop().expect("486 sent");
    assert_eq!(reply.target, uac_addr);
    let SipMessage::Response(reply) = sent_msg(&reply) else {
        panic!("response")
    };
    assert!(p.uac.on_response(p.at(520), reply, udp()).is_some());

    // The ACK is lost; timer G re-sends the 486, the UAC absorbs it and re-sends the ACK.
    assert_eq!(Pair::out(&mut p.uac).len(), 1, "ACK (lost)");
    p.uas.handle_timeout(p.at(1_010));
    let again = Pair::out(&mut p.uas).pop().expect("timer G retransmission");
    let SipMessage::Response(again) = sent_msg(&again) else {
        panic!("response")
    };
    assert!(p.uac.on_response(p.at(1_020), again, udp()).is_none());
    let ack = Pair::out(&mut p.uac).pop().expect("ACK re-sent");
    let SipMessage::Request(ack) = sent_msg(&ack) else {
        panic!("request")
    };
    assert!(matches!(
        p.uas.on_request(p.at(1_030), ack, uac_addr),
        Incoming::Absorbed
    ));
    assert_eq!(p.uas.server_state(server), Some(ServerState::Confirmed));

    p.uac.handle_timeout(p.at(60_000));
    p.uas.handle_timeout(p.at(60_000));
    assert!(p.uac.is_empty() && p.uas.is_empty());
    assert!(
        Pair::out(&mut p.uas).is_empty(),
        "no retransmission after the ACK"
    );
    let uac_events: Vec<_> = std::iter::from_fn(|| p.uac.poll_event()).collect();
    assert_eq!(uac_events, vec![TxEvent::Terminated { tx: client }]);
    let uas_events: Vec<_> = std::iter::from_fn(|| p.uas.poll_event()).collect();
    assert_eq!(uas_events, vec![TxEvent::Terminated { tx: server }]);
}
