//! Server transaction tests: timers G, H, I, J, L against a fake clock,
//! retransmission absorption with the last response re-sent, ACK and CANCEL
//! matching, response targets, errors and malformed requests.

use rsip::{Method, SipMessage};

use super::tests_support::*;
use super::{Incoming, ServerState, TimerKind, TxError, TxEvent, TxId};

fn count_codes(h: &Harness, code: u16) -> usize {
    h.sent
        .iter()
        .filter(
            |(_, t)| matches!(sent_msg(t), SipMessage::Response(r) if r.status_code.code() == code),
        )
        .count()
}

#[test]
fn new_invite_is_stored_and_retransmissions_resend_last_provisional() {
    let mut h = Harness::new();
    let tx = h.new_server_tx(request("INVITE", "z9hG4bKs1"), udp());
    assert_eq!(h.layer.server_state(tx), Some(ServerState::Proceeding));
    assert_eq!(h.layer.server_method(tx), Some(Method::Invite));
    assert!(matches!(
        h.request_in(request("INVITE", "z9hG4bKs1"), udp()),
        Incoming::Absorbed
    ));
    assert!(
        h.sent.is_empty(),
        "no automatic 100 Trying, nothing to re-send yet"
    );
    h.respond(tx, response(100, "INVITE", "z9hG4bKs1"))
        .expect("100");
    h.respond(tx, response(180, "INVITE", "z9hG4bKs1"))
        .expect("180");
    assert!(matches!(
        h.request_in(request("INVITE", "z9hG4bKs1"), udp()),
        Incoming::Absorbed
    ));
    assert_eq!(h.sent.len(), 3);
    assert_eq!(
        h.sent[2].1.bytes, h.sent[1].1.bytes,
        "last provisional re-sent"
    );
    assert_eq!(h.layer.poll_timeout(), None, "no timers while Proceeding");
    assert_eq!(h.layer.len(), 1);
}

#[test]
fn timer_g_doubles_capped_at_t2_until_timer_h() {
    let mut h = Harness::new();
    let tx = h.new_server_tx(request("INVITE", "z9hG4bKg1"), udp());
    h.respond(tx, response(486, "INVITE", "z9hG4bKg1"))
        .expect("486");
    assert_eq!(h.layer.server_state(tx), Some(ServerState::Completed));
    h.run_until(40_000);
    assert_eq!(
        h.sent_times(),
        vec![0, 500, 1500, 3500, 7500, 11500, 15500, 19500, 23500, 27500, 31500]
    );
    assert!(h
        .sent
        .iter()
        .all(|(_, t)| t.bytes == h.sent[0].1.bytes && t.target == udp()));
    assert_eq!(
        h.events_of(tx),
        vec![
            (32_000, TxEvent::Timeout { tx }),
            (32_000, TxEvent::Terminated { tx })
        ]
    );
    assert!(
        matches!(
            h.request_in(request("ACK", "z9hG4bKg1"), udp()),
            Incoming::Ack { .. }
        ),
        "late ACK matches nothing"
    );
}

#[test]
fn reliable_server_invite_arms_no_timer_g() {
    let mut h = Harness::new();
    let tx = h.new_server_tx(request("INVITE", "z9hG4bKg2"), tcp());
    h.respond(tx, response(480, "INVITE", "z9hG4bKg2"))
        .expect("480");
    assert_eq!(h.layer.armed(tx, TimerKind::G), None);
    assert!(h.layer.armed(tx, TimerKind::H).is_some());
    h.run_until(40_000);
    assert_eq!(h.sent_times(), vec![0]);
    assert_eq!(
        h.sent[0].1.target,
        tcp(),
        "answer goes back on the same connection"
    );
    assert_eq!(
        h.events_of(tx),
        vec![
            (32_000, TxEvent::Timeout { tx }),
            (32_000, TxEvent::Terminated { tx })
        ]
    );
}

#[test]
fn ack_confirms_and_timer_i_terminates() {
    let mut h = Harness::new();
    let tx = h.new_server_tx(request("INVITE", "z9hG4bKi1"), udp());
    h.respond(tx, response(486, "INVITE", "z9hG4bKi1"))
        .expect("486");
    h.run_until(800);
    assert!(matches!(
        h.request_in(request("INVITE", "z9hG4bKi1"), udp()),
        Incoming::Absorbed
    ));
    assert_eq!(
        count_codes(&h, 486),
        3,
        "initial, timer G at 500, re-sent on INVITE retransmission"
    );
    h.run_until(1_000);
    assert!(matches!(
        h.request_in(request("ACK", "z9hG4bKi1"), udp()),
        Incoming::Absorbed
    ));
    assert_eq!(h.layer.server_state(tx), Some(ServerState::Confirmed));
    assert!(matches!(
        h.request_in(request("ACK", "z9hG4bKi1"), udp()),
        Incoming::Absorbed
    ));
    assert!(matches!(
        h.request_in(request("INVITE", "z9hG4bKi1"), udp()),
        Incoming::Absorbed
    ));
    h.run_until(5_999);
    assert!(h.layer.contains(tx));
    assert_eq!(
        count_codes(&h, 486),
        3,
        "timer G stopped by the ACK, nothing re-sent in Confirmed"
    );
    h.run_until(40_000);
    assert_eq!(
        h.events_of(tx),
        vec![(6_000, TxEvent::Terminated { tx })],
        "timer I = T4, timer H cancelled"
    );
}

#[test]
fn timer_i_is_zero_on_reliable_transport() {
    let mut h = Harness::new();
    let tx = h.new_server_tx(request("INVITE", "z9hG4bKi2"), tcp());
    h.respond(tx, response(404, "INVITE", "z9hG4bKi2"))
        .expect("404");
    h.run_until(100);
    assert!(matches!(
        h.request_in(request("ACK", "z9hG4bKi2"), tcp()),
        Incoming::Absorbed
    ));
    assert_eq!(h.events_of(tx), vec![(100, TxEvent::Terminated { tx })]);
    assert_eq!(h.layer.poll_timeout(), None);
}

#[test]
fn accepted_passes_ack_to_tu_until_timer_l() {
    let mut h = Harness::new();
    let tx = h.new_server_tx(request("INVITE", "z9hG4bKl1"), udp());
    h.respond(tx, response(180, "INVITE", "z9hG4bKl1"))
        .expect("180");
    h.respond(tx, response(200, "INVITE", "z9hG4bKl1"))
        .expect("200");
    assert_eq!(h.layer.server_state(tx), Some(ServerState::Accepted));
    h.run_until(400);
    assert!(matches!(
        h.request_in(request("INVITE", "z9hG4bKl1"), udp()),
        Incoming::Absorbed
    ));
    assert_eq!(
        h.sent.len(),
        3,
        "INVITE retransmission absorbed, answered with the stored 2xx"
    );
    assert!(
        h.sent
            .last()
            .is_some_and(|t| t.1.bytes.starts_with(b"SIP/2.0 200")),
        "the 2xx is what is re-sent"
    );
    // The TU retransmits its 2xx through the transaction; other finals are refused.
    h.respond(tx, response(200, "INVITE", "z9hG4bKl1"))
        .expect("2xx retransmission");
    assert_eq!(h.sent.len(), 4);
    assert_eq!(
        h.respond(tx, response(486, "INVITE", "z9hG4bKl1")),
        Err(TxError::AlreadyFinal { tx })
    );
    // An ACK reusing the INVITE branch matches the Accepted transaction and goes to the TU.
    match h.request_in(request("ACK", "z9hG4bKl1"), udp()) {
        Incoming::Ack { request } => assert_eq!(request.method, Method::Ack),
        other => panic!("expected Ack, got {other:?}"),
    }
    h.run_until(31_999);
    assert!(h.layer.contains(tx));
    h.run_until(40_000);
    assert_eq!(
        h.events_of(tx),
        vec![(32_000, TxEvent::Terminated { tx })],
        "timer L, no Timeout event"
    );
    assert_eq!(
        h.sent.len(),
        4,
        "the transaction never retransmits a 2xx itself"
    );
}

#[test]
fn non_invite_retransmissions_and_timer_j() {
    let mut h = Harness::new();
    let tx = h.new_server_tx(request("REGISTER", "z9hG4bKj1"), udp());
    assert_eq!(h.layer.server_state(tx), Some(ServerState::Trying));
    assert!(matches!(
        h.request_in(request("REGISTER", "z9hG4bKj1"), udp()),
        Incoming::Absorbed
    ));
    assert!(
        h.sent.is_empty(),
        "Trying: retransmission absorbed silently"
    );
    h.respond(tx, response(100, "REGISTER", "z9hG4bKj1"))
        .expect("100");
    assert_eq!(h.layer.server_state(tx), Some(ServerState::Proceeding));
    assert!(matches!(
        h.request_in(request("REGISTER", "z9hG4bKj1"), udp()),
        Incoming::Absorbed
    ));
    assert_eq!(count_codes(&h, 100), 2);
    h.run_until(50);
    h.respond(tx, response(200, "REGISTER", "z9hG4bKj1"))
        .expect("200");
    assert_eq!(h.layer.server_state(tx), Some(ServerState::Completed));
    h.run_until(3_000);
    assert!(matches!(
        h.request_in(request("REGISTER", "z9hG4bKj1"), udp()),
        Incoming::Absorbed
    ));
    assert_eq!(
        count_codes(&h, 200),
        2,
        "final re-sent, no timer-driven retransmission"
    );
    assert_eq!(
        h.respond(tx, response(200, "REGISTER", "z9hG4bKj1")),
        Err(TxError::AlreadyFinal { tx })
    );
    h.run_until(32_049);
    assert!(h.layer.contains(tx));
    h.run_until(32_050);
    assert_eq!(h.events_of(tx), vec![(32_050, TxEvent::Terminated { tx })]);
    assert!(matches!(
        h.request_in(request("REGISTER", "z9hG4bKj1"), udp()),
        Incoming::New { .. }
    ));
}

#[test]
fn timer_j_is_zero_on_reliable_transport() {
    let mut h = Harness::new();
    let tx = h.new_server_tx(request("OPTIONS", "z9hG4bKj2"), tcp());
    h.respond(tx, response(200, "OPTIONS", "z9hG4bKj2"))
        .expect("200");
    assert_eq!(h.events_of(tx), vec![(0, TxEvent::Terminated { tx })]);
    assert_eq!(h.sent.len(), 1, "the final response is still sent");
    assert_eq!(
        h.respond(tx, response(200, "OPTIONS", "z9hG4bKj2")),
        Err(TxError::UnknownTransaction(tx))
    );
}

#[test]
fn send_response_errors_never_panic() {
    let mut h = Harness::new();
    assert_eq!(
        h.respond(TxId(42), response(200, "BYE", "z9hG4bKx")),
        Err(TxError::UnknownTransaction(TxId(42)))
    );
    let client = h.send_request(request("BYE", "z9hG4bKx"), udp());
    assert_eq!(
        h.respond(client, response(200, "BYE", "z9hG4bKx")),
        Err(TxError::NotServer(client))
    );
    assert!(h.layer.server_method(client).is_none());
    let tx = h.new_server_tx(request("BYE", "z9hG4bKy"), udp());
    let mut bad = response(200, "BYE", "z9hG4bKy");
    bad.status_code = rsip::StatusCode::from(99u16);
    assert_eq!(h.respond(tx, bad), Err(TxError::InvalidStatus { code: 99 }));
    assert_eq!(h.layer.server_state(tx), Some(ServerState::Trying));
}

#[test]
fn response_goes_to_request_source() {
    let mut h = Harness::new();
    let source = super::Target {
        conn: Some(99),
        ..tcp()
    };
    let tx = h.new_server_tx(request("OPTIONS", "z9hG4bKr1"), source);
    h.respond(tx, response(200, "OPTIONS", "z9hG4bKr1"))
        .expect("200");
    assert_eq!(h.sent[0].1.target, source);
}

#[test]
fn cancel_matches_proceeding_invite() {
    let mut h = Harness::new();
    let invite = h.new_server_tx(request("INVITE", "z9hG4bKc1"), udp());
    h.respond(invite, response(180, "INVITE", "z9hG4bKc1"))
        .expect("180");
    let cancel = match h.request_in(request("CANCEL", "z9hG4bKc1"), udp()) {
        Incoming::Cancel {
            tx,
            invite_tx,
            request,
        } => {
            assert_eq!(invite_tx, Some(invite));
            assert_eq!(request.method, Method::Cancel);
            tx
        }
        other => panic!("expected Cancel, got {other:?}"),
    };
    assert_ne!(cancel, invite);
    assert_eq!(h.layer.server_method(cancel), Some(Method::Cancel));
    h.respond(cancel, response(200, "CANCEL", "z9hG4bKc1"))
        .expect("200 CANCEL");
    h.respond(invite, response(487, "INVITE", "z9hG4bKc1"))
        .expect("487");
    // A retransmitted CANCEL hits the CANCEL transaction and gets its 200 again.
    assert!(matches!(
        h.request_in(request("CANCEL", "z9hG4bKc1"), udp()),
        Incoming::Absorbed
    ));
    assert_eq!(count_codes(&h, 200), 2);
    assert_eq!(h.layer.server_state(invite), Some(ServerState::Completed));
}

#[test]
fn cancel_without_proceeding_invite() {
    let mut h = Harness::new();
    match h.request_in(request("CANCEL", "z9hG4bKc2"), udp()) {
        Incoming::Cancel {
            invite_tx: None, ..
        } => {}
        other => panic!("unmatched CANCEL, got {other:?}"),
    }
    let invite = h.new_server_tx(request("INVITE", "z9hG4bKc3"), udp());
    h.respond(invite, response(486, "INVITE", "z9hG4bKc3"))
        .expect("486");
    match h.request_in(request("CANCEL", "z9hG4bKc3"), udp()) {
        Incoming::Cancel {
            invite_tx: None, ..
        } => {}
        other => panic!("CANCEL after final response, got {other:?}"),
    }
    // Same branch but another sent-by: a different client, no match.
    let _ = h.new_server_tx(request("INVITE", "z9hG4bKc4"), udp());
    match h.request_in(
        req(&request_text("CANCEL", "z9hG4bKc4", "198.51.100.1:5060")),
        udp(),
    ) {
        Incoming::Cancel {
            invite_tx: None, ..
        } => {}
        other => panic!("CANCEL from another sent-by, got {other:?}"),
    }
}

#[test]
fn sent_by_separates_transactions_with_equal_branches() {
    let mut h = Harness::new();
    let a = h.new_server_tx(
        req(&request_text("INVITE", "z9hG4bKsame", "192.0.2.1:5060")),
        udp(),
    );
    let b = h.new_server_tx(
        req(&request_text("INVITE", "z9hG4bKsame", "192.0.2.2:5060")),
        udp(),
    );
    assert_ne!(a, b);
    // sent-by host comparison is case-insensitive.
    let c = h.new_server_tx(
        req(&request_text("OPTIONS", "z9hG4bKcase", "Host.Example.com")),
        udp(),
    );
    assert!(matches!(
        h.request_in(
            req(&request_text("OPTIONS", "z9hG4bKcase", "host.example.COM")),
            udp()
        ),
        Incoming::Absorbed
    ));
    assert!(h.layer.contains(c));
    assert_eq!(h.layer.len(), 3);
}

#[test]
fn unmatched_ack_goes_to_tu_and_malformed_requests_never_panic() {
    let mut h = Harness::new();
    assert!(matches!(
        h.request_in(request("ACK", "z9hG4bKnew"), udp()),
        Incoming::Ack { .. }
    ));
    let ack_no_via = req("ACK sip:bob@example.com SIP/2.0\r\nCSeq: 1 ACK\r\n\r\n");
    assert!(matches!(
        h.request_in(ack_no_via, udp()),
        Incoming::Ack { .. }
    ));
    let no_via = req("INVITE sip:bob@example.com SIP/2.0\r\nCSeq: 1 INVITE\r\n\r\n");
    assert!(matches!(h.request_in(no_via, udp()), Incoming::Absorbed));
    let no_branch = req("INVITE sip:bob@example.com SIP/2.0\r\nVia: SIP/2.0/UDP 192.0.2.1\r\n\r\n");
    assert!(matches!(h.request_in(no_branch, udp()), Incoming::Absorbed));
    let garbage_via = req("OPTIONS sip:bob@example.com SIP/2.0\r\nVia: nonsense\r\n\r\n");
    assert!(matches!(
        h.request_in(garbage_via, udp()),
        Incoming::Absorbed
    ));
    assert_eq!(h.layer.len(), 0);
    assert!(h.sent.is_empty());
}

#[test]
fn compact_via_and_old_style_branch_are_matched() {
    let mut h = Harness::new();
    let text = request_text("OPTIONS", "1234old", "192.0.2.1:5060").replace("Via:", "v:");
    let tx = h.new_server_tx(req(&text), udp());
    h.respond(tx, response(200, "OPTIONS", "1234old"))
        .expect("200");
    assert!(matches!(
        h.request_in(req(&text), udp()),
        Incoming::Absorbed
    ));
    assert_eq!(h.sent.len(), 2);
    h.run_until(32_000);
    assert_eq!(h.events_of(tx), vec![(32_000, TxEvent::Terminated { tx })]);
}
