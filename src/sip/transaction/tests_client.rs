//! Client transaction tests: timers A, B, D, E, F, K, M against a fake clock,
//! the ACK generated for non-2xx responses, RFC 6026 Accepted, reliable
//! transports, stray responses.

use rsip::headers::UntypedHeader;
use rsip::{Header, Method, SipMessage};

use super::tests_support::*;
use super::{ClientState, TimerKind, TxEvent};

#[test]
fn timer_a_doubles_without_cap_and_timer_b_times_out() {
    let mut h = Harness::new();
    let tx = h.send_request(request("INVITE", "z9hG4bKa1"), udp());
    h.run_until(31_999);
    assert_eq!(h.sent_times(), vec![0, 500, 1500, 3500, 7500, 15500, 31500]);
    assert!(h.events_of(tx).is_empty());
    assert_eq!(h.layer.client_state(tx), Some(ClientState::Calling));
    h.run_until(40_000);
    assert_eq!(
        h.events_of(tx),
        vec![
            (32_000, TxEvent::Timeout { tx }),
            (32_000, TxEvent::Terminated { tx })
        ]
    );
    assert_eq!(h.layer.len(), 0);
    assert_eq!(h.sent.len(), 7, "no retransmission after timer B");
    // Every retransmission is byte-identical to the first transmission.
    assert!(h
        .sent
        .iter()
        .all(|(_, t)| t.bytes == h.sent[0].1.bytes && t.target == udp()));
}

#[test]
fn reliable_invite_arms_only_timer_b() {
    let mut h = Harness::new();
    let tx = h.send_request(request("INVITE", "z9hG4bKa2"), tcp());
    assert_eq!(h.layer.armed(tx, TimerKind::A), None);
    assert!(h.layer.armed(tx, TimerKind::B).is_some());
    h.run_until(40_000);
    assert_eq!(h.sent_times(), vec![0]);
    assert_eq!(h.sent[0].1.target.conn, Some(7));
    assert_eq!(
        h.events_of(tx),
        vec![
            (32_000, TxEvent::Timeout { tx }),
            (32_000, TxEvent::Terminated { tx })
        ]
    );
}

#[test]
fn provisional_stops_retransmissions_and_timer_b() {
    let mut h = Harness::new();
    let tx = h.send_request(request("INVITE", "z9hG4bKa3"), udp());
    h.run_until(700);
    let (id, r) = h
        .response_in(response(180, "INVITE", "z9hG4bKa3"))
        .expect("180 passed to TU");
    assert_eq!((id, r.status_code.code()), (tx, 180));
    assert_eq!(h.layer.client_state(tx), Some(ClientState::Proceeding));
    h.run_until(100_000);
    assert_eq!(h.sent_times(), vec![0, 500]);
    assert!(
        h.events_of(tx).is_empty(),
        "timer B must not fire in Proceeding"
    );
    assert!(
        h.response_in(response(183, "INVITE", "z9hG4bKa3"))
            .is_some(),
        "further 1xx reach the TU"
    );
    assert_eq!(h.layer.poll_timeout(), None);
}

fn header_values(msg: &SipMessage, pick: fn(&Header) -> Option<String>) -> Vec<String> {
    let headers = match msg {
        SipMessage::Request(r) => &r.headers,
        SipMessage::Response(r) => &r.headers,
    };
    headers.iter().filter_map(pick).collect()
}

#[test]
fn non2xx_final_generates_rfc3261_ack() {
    let mut h = Harness::new();
    // A top Via holding two comma-joined values: only the first belongs in the ACK.
    let text = request_text("INVITE", "z9hG4bKa4", "192.0.2.1:5060").replace(
        ";rport\r\n",
        ";rport, SIP/2.0/UDP 198.51.100.9;branch=z9hG4bKother\r\nVia: SIP/2.0/UDP 198.51.100.7;branch=z9hG4bKthird\r\n",
    );
    let tx = h.send_request(req(&text), udp());
    h.run_until(100);
    let (id, r) = h
        .response_in(response(486, "INVITE", "z9hG4bKa4"))
        .expect("486 passed to TU");
    assert_eq!((id, r.status_code.code()), (tx, 486));
    assert_eq!(h.layer.client_state(tx), Some(ClientState::Completed));
    let (ms, ack) = h.sent.last().expect("ACK sent");
    assert_eq!((*ms, ack.target), (100, udp()));
    let msg = sent_msg(ack);
    let SipMessage::Request(ack_req) = &msg else {
        panic!("ACK is a request")
    };
    assert_eq!(ack_req.method, Method::Ack);
    assert_eq!(ack_req.uri.to_string(), "sip:bob@example.com");
    let vias = header_values(&msg, |h| match h {
        Header::Via(v) => Some(v.value().to_owned()),
        _ => None,
    });
    assert_eq!(
        vias,
        vec!["SIP/2.0/UDP 192.0.2.1:5060;branch=z9hG4bKa4;rport".to_owned()]
    );
    let one = |pick: fn(&Header) -> Option<String>| {
        let v = header_values(&msg, pick);
        assert_eq!(v.len(), 1, "{v:?}");
        v[0].clone()
    };
    assert_eq!(
        one(|h| if let Header::To(v) = h {
            Some(v.value().into())
        } else {
            None
        }),
        "Bob <sip:bob@example.com>;tag=a6c85cf"
    );
    assert_eq!(
        one(|h| if let Header::From(v) = h {
            Some(v.value().into())
        } else {
            None
        }),
        "Alice <sip:alice@example.com>;tag=1928301774"
    );
    assert_eq!(
        one(|h| if let Header::CallId(v) = h {
            Some(v.value().into())
        } else {
            None
        }),
        "a84b4c76e66710@pc33.example.com"
    );
    assert_eq!(
        one(|h| if let Header::CSeq(v) = h {
            Some(v.value().into())
        } else {
            None
        }),
        "314159 ACK"
    );
    assert_eq!(
        one(|h| if let Header::MaxForwards(v) = h {
            Some(v.value().into())
        } else {
            None
        }),
        "70"
    );
    assert_eq!(
        one(|h| if let Header::ContentLength(v) = h {
            Some(v.value().into())
        } else {
            None
        }),
        "0"
    );
    let routes = header_values(&msg, |h| {
        if let Header::Route(v) = h {
            Some(v.value().into())
        } else {
            None
        }
    });
    assert_eq!(
        routes,
        vec![
            "<sip:p1.example.com;lr>".to_owned(),
            "<sip:p2.example.com;lr>".to_owned()
        ]
    );
    assert!(header_values(&msg, |h| if let Header::Contact(v) = h {
        Some(v.value().into())
    } else {
        None
    })
    .is_empty());
    assert!(ack_req.body.is_empty());
}

#[test]
fn timer_d_absorbs_final_retransmissions_and_resends_ack() {
    let mut h = Harness::new();
    let tx = h.send_request(request("INVITE", "z9hG4bKa5"), udp());
    h.run_until(100);
    assert!(h
        .response_in(response(486, "INVITE", "z9hG4bKa5"))
        .is_some());
    let ack = h.sent.last().expect("ACK").1.bytes.clone();
    h.run_until(600);
    assert!(
        h.response_in(response(486, "INVITE", "z9hG4bKa5"))
            .is_none(),
        "retransmitted final is absorbed"
    );
    assert_eq!(h.sent.last().expect("ACK again").1.bytes, ack);
    assert!(h
        .response_in(response(180, "INVITE", "z9hG4bKa5"))
        .is_none());
    assert_eq!(
        h.sent_times(),
        vec![0, 100, 600],
        "INVITE, ACK, ACK; timer A stopped"
    );
    assert_eq!(
        h.layer.armed(tx, TimerKind::D),
        Some(h.t0 + std::time::Duration::from_millis(32_100))
    );
    h.run_until(32_099);
    assert!(h.layer.contains(tx));
    h.run_until(32_100);
    assert_eq!(h.events_of(tx), vec![(32_100, TxEvent::Terminated { tx })]);
    assert!(h
        .response_in(response(486, "INVITE", "z9hG4bKa5"))
        .is_none());
    assert_eq!(h.sent.len(), 3, "no ACK once terminated");
}

#[test]
fn timer_d_is_zero_on_reliable_transport() {
    let mut h = Harness::new();
    let tx = h.send_request(request("INVITE", "z9hG4bKa6"), tcp());
    assert!(h
        .response_in(response(603, "INVITE", "z9hG4bKa6"))
        .is_some());
    assert_eq!(h.sent.len(), 2, "INVITE and ACK");
    assert_eq!(h.sent[1].1.target, tcp());
    assert_eq!(h.events_of(tx), vec![(0, TxEvent::Terminated { tx })]);
    assert_eq!(h.layer.len(), 0);
}

#[test]
fn accepted_passes_2xx_retransmissions_until_timer_m() {
    let mut h = Harness::new();
    let tx = h.send_request(request("INVITE", "z9hG4bKa7"), udp());
    h.run_until(100);
    assert_eq!(
        h.response_in(response(200, "INVITE", "z9hG4bKa7"))
            .map(|(id, _)| id),
        Some(tx)
    );
    assert_eq!(h.layer.client_state(tx), Some(ClientState::Accepted));
    h.run_until(1_000);
    assert_eq!(
        h.response_in(response(200, "INVITE", "z9hG4bKa7"))
            .map(|(id, _)| id),
        Some(tx),
        "2xx retransmission to TU"
    );
    assert!(h
        .response_in(response(180, "INVITE", "z9hG4bKa7"))
        .is_none());
    assert!(h
        .response_in(response(500, "INVITE", "z9hG4bKa7"))
        .is_none());
    assert_eq!(
        h.sent_times(),
        vec![0],
        "no retransmission, no ACK by the layer for 2xx"
    );
    h.run_until(32_099);
    assert!(h.layer.contains(tx));
    h.run_until(32_100);
    assert_eq!(h.events_of(tx), vec![(32_100, TxEvent::Terminated { tx })]);
    assert!(
        h.response_in(response(200, "INVITE", "z9hG4bKa7"))
            .is_none(),
        "stray after timer M"
    );
}

#[test]
fn timer_e_doubles_capped_at_t2_and_timer_f_times_out() {
    let mut h = Harness::new();
    let tx = h.send_request(request("OPTIONS", "z9hG4bKe1"), udp());
    assert_eq!(h.layer.client_state(tx), Some(ClientState::Trying));
    h.run_until(40_000);
    assert_eq!(
        h.sent_times(),
        vec![0, 500, 1500, 3500, 7500, 11500, 15500, 19500, 23500, 27500, 31500]
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
fn timer_e_uses_t2_in_proceeding() {
    let mut h = Harness::new();
    let tx = h.send_request(request("REGISTER", "z9hG4bKe2"), udp());
    h.run_until(600);
    assert!(h
        .response_in(response(100, "REGISTER", "z9hG4bKe2"))
        .is_some());
    assert_eq!(h.layer.client_state(tx), Some(ClientState::Proceeding));
    h.run_until(14_000);
    // E was already armed for 1500; from there it is reset to T2 every time.
    assert_eq!(h.sent_times(), vec![0, 500, 1500, 5500, 9500, 13500]);
    h.run_until(40_000);
    assert_eq!(
        h.events_of(tx),
        vec![
            (32_000, TxEvent::Timeout { tx }),
            (32_000, TxEvent::Terminated { tx })
        ]
    );
}

#[test]
fn reliable_non_invite_arms_only_timer_f() {
    let mut h = Harness::new();
    let tx = h.send_request(request("OPTIONS", "z9hG4bKe3"), tcp());
    assert_eq!(h.layer.armed(tx, TimerKind::E), None);
    h.run_until(40_000);
    assert_eq!(h.sent_times(), vec![0]);
    assert_eq!(
        h.events_of(tx),
        vec![
            (32_000, TxEvent::Timeout { tx }),
            (32_000, TxEvent::Terminated { tx })
        ]
    );
}

#[test]
fn timer_k_absorbs_retransmitted_final() {
    let mut h = Harness::new();
    let tx = h.send_request(request("BYE", "z9hG4bKk1"), udp());
    h.run_until(100);
    assert!(h.response_in(response(200, "BYE", "z9hG4bKk1")).is_some());
    assert_eq!(h.layer.client_state(tx), Some(ClientState::Completed));
    h.run_until(200);
    assert!(h.response_in(response(200, "BYE", "z9hG4bKk1")).is_none());
    h.run_until(5_099);
    assert!(h.layer.contains(tx));
    h.run_until(40_000);
    assert_eq!(h.sent_times(), vec![0], "timers E and F stopped");
    assert_eq!(h.events_of(tx), vec![(5_100, TxEvent::Terminated { tx })]);
}

#[test]
fn timer_k_is_zero_on_reliable_transport() {
    let mut h = Harness::new();
    let tx = h.send_request(request("BYE", "z9hG4bKk2"), tcp());
    assert!(h.response_in(response(481, "BYE", "z9hG4bKk2")).is_some());
    assert_eq!(h.events_of(tx), vec![(0, TxEvent::Terminated { tx })]);
    assert_eq!(h.layer.poll_timeout(), None);
}

#[test]
fn stray_and_malformed_responses_are_ignored() {
    let mut h = Harness::new();
    let tx = h.send_request(request("INVITE", "z9hG4bKs1"), udp());
    assert!(
        h.response_in(response(200, "INVITE", "z9hG4bKunknown"))
            .is_none(),
        "unknown branch"
    );
    assert!(
        h.response_in(response(200, "BYE", "z9hG4bKs1")).is_none(),
        "CSeq method differs"
    );
    let no_via = resp("SIP/2.0 200 OK\r\nCSeq: 314159 INVITE\r\nContent-Length: 0\r\n\r\n");
    assert!(h.response_in(no_via).is_none());
    let no_cseq = resp(
        "SIP/2.0 200 OK\r\nVia: SIP/2.0/UDP 192.0.2.1;branch=z9hG4bKs1\r\nContent-Length: 0\r\n\r\n",
    );
    assert!(h.response_in(no_cseq).is_none());
    let no_branch =
        resp("SIP/2.0 200 OK\r\nVia: SIP/2.0/UDP 192.0.2.1\r\nCSeq: 314159 INVITE\r\n\r\n");
    assert!(h.response_in(no_branch).is_none());
    let bad_cseq = resp(
        "SIP/2.0 200 OK\r\nVia: SIP/2.0/UDP 192.0.2.1;branch=z9hG4bKs1\r\nCSeq: x INVITE\r\n\r\n",
    );
    assert!(h.response_in(bad_cseq).is_none());
    assert_eq!(h.layer.client_state(tx), Some(ClientState::Calling));
}

#[test]
fn cancel_is_its_own_client_transaction() {
    let mut h = Harness::new();
    let invite = h.send_request(request("INVITE", "z9hG4bKc1"), udp());
    h.run_until(100);
    assert!(h
        .response_in(response(180, "INVITE", "z9hG4bKc1"))
        .is_some());
    let cancel = h.send_request(request("CANCEL", "z9hG4bKc1"), udp());
    assert_ne!(invite, cancel);
    assert_eq!(
        h.response_in(response(200, "CANCEL", "z9hG4bKc1"))
            .map(|(id, _)| id),
        Some(cancel)
    );
    assert_eq!(
        h.response_in(response(487, "INVITE", "z9hG4bKc1"))
            .map(|(id, _)| id),
        Some(invite)
    );
    assert_eq!(h.layer.client_state(invite), Some(ClientState::Completed));
    assert_eq!(h.layer.client_state(cancel), Some(ClientState::Completed));
}

#[test]
fn transport_error_ends_the_transaction() {
    let mut h = Harness::new();
    let tx = h.send_request(request("INVITE", "z9hG4bKt1"), tcp());
    h.layer.on_transport_error(h.now, tx);
    h.layer.on_transport_error(h.now, tx);
    h.layer.on_transport_error(h.now, super::TxId(9_999));
    h.run_until(1);
    assert_eq!(
        h.events_of(tx),
        vec![
            (1, TxEvent::TransportError { tx }),
            (1, TxEvent::Terminated { tx })
        ]
    );
    assert!(h
        .response_in(response(200, "INVITE", "z9hG4bKt1"))
        .is_none());
}

#[test]
fn request_without_branch_is_sent_and_times_out() {
    let mut h = Harness::new();
    let r = req("OPTIONS sip:x@y SIP/2.0\r\nVia: SIP/2.0/UDP 192.0.2.1\r\nCSeq: 1 OPTIONS\r\n\r\n");
    let tx = h.send_request(r, tcp());
    assert_eq!(h.sent.len(), 1);
    h.run_until(40_000);
    assert_eq!(
        h.events_of(tx),
        vec![
            (32_000, TxEvent::Timeout { tx }),
            (32_000, TxEvent::Terminated { tx })
        ]
    );
}

#[test]
fn ack_and_stateless_sends_create_no_transaction() {
    let mut h = Harness::new();
    let tx = h.send_request(request("ACK", "z9hG4bKn1"), udp());
    assert!(!h.layer.contains(tx));
    h.layer.send_stateless(
        SipMessage::Response(response(200, "INVITE", "z9hG4bKn2")),
        tcp(),
    );
    h.run_until(40_000);
    assert_eq!(h.sent.len(), 2);
    assert!(matches!(sent_msg(&h.sent[0].1), SipMessage::Request(r) if r.method == Method::Ack));
    assert!(
        matches!(sent_msg(&h.sent[1].1), SipMessage::Response(r) if r.status_code.code() == 200)
    );
    assert_eq!(h.sent[1].1.target, tcp());
    assert!(h.events.is_empty());
    assert_eq!(h.layer.len(), 0);
}

#[test]
fn an_undeliverable_request_fails_only_a_transaction_still_waiting() {
    let mut h = Harness::new();
    let stale = h.send_request(request("INVITE", "z9hG4bKu1"), udp());
    let ringing = h.send_request(request("INVITE", "z9hG4bKu2"), udp());
    assert!(h
        .response_in(response(180, "INVITE", "z9hG4bKu2"))
        .is_some());
    h.run_until(600); // one retransmission of the stale INVITE
                      // the ICMP for the stale contact's INVITE: a transport error, at once
    assert!(h
        .layer
        .on_undeliverable(h.now, &request("INVITE", "z9hG4bKu1")));
    // the ringing one answered already: a late ICMP changes nothing
    assert!(!h
        .layer
        .on_undeliverable(h.now, &request("INVITE", "z9hG4bKu2")));
    // an unknown branch, or the same branch for another method, matches nothing
    assert!(!h
        .layer
        .on_undeliverable(h.now, &request("INVITE", "z9hG4bKzz")));
    assert!(!h
        .layer
        .on_undeliverable(h.now, &request("BYE", "z9hG4bKu2")));
    h.run_until(601);
    assert_eq!(
        h.events_of(stale),
        vec![
            (601, TxEvent::TransportError { tx: stale }),
            (601, TxEvent::Terminated { tx: stale })
        ]
    );
    assert!(h.events_of(ringing).is_empty());
    assert_eq!(h.layer.client_state(ringing), Some(ClientState::Proceeding));
}
