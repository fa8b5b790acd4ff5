//! A call that only forwards moves to the relay plane and comes back for its
//! next command: packets keep flowing both ways, figures keep counting, digits
//! are still reported, and a prompt played afterwards is heard.

use super::tests::{bridge_with, neg, recv, Bridge, Sine, A, B, WAIT};
use super::*;
use crate::media::codec::CodecKind;
use crate::media::dtmf::rfc4733::Rfc4733Sender;
use crate::media::dtmf::Digit;
use crate::media::relay::plane;
use crate::media::rtp::RtpPacket;
use std::time::Duration;

#[tokio::test]
async fn a_call_that_only_forwards_moves_to_the_relay_plane_and_back() {
    let plane = plane::global().expect("the relay plane runs in tests");
    let metrics = Arc::new(Metrics::default());
    let Bridge {
        s,
        events: mut erx,
        a: phone,
        b: callee,
        to_a,
        to_b,
        ..
    } = bridge_with(
        42440,
        neg(CodecKind::Pcmu, 0),
        neg(CodecKind::Pcmu, 0),
        metrics.clone(),
    )
    .await;
    let before = plane.units();
    let mut buf = [0u8; 1500];
    // a second of voice both ways, every packet forwarded untouched
    for seq in 0..50u16 {
        phone.send_to(&voice(seq, 11), to_a).await.expect("send");
        callee.send_to(&voice(seq, 22), to_b).await.expect("send");
        let (n, _) = recv(&callee, &mut buf).await;
        assert_eq!(
            ssrc(&buf[..n]),
            11,
            "the phone's own packet reaches the callee"
        );
        let (n, _) = recv(&phone, &mut buf).await;
        assert_eq!(ssrc(&buf[..n]), 22);
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
    assert!(plane.units() > before, "the call's legs moved to the plane");
    // the phone presses 7 (RFC 4733) while the plane carries the call
    let plan = Rfc4733Sender::new(8000).plan(Digit::D7, 9000, 100);
    for (i, p) in plan.iter().enumerate() {
        let mut wire = bytes::BytesMut::new();
        let mut pkt = RtpPacket::new(
            101,
            100 + i as u16,
            p.timestamp,
            11,
            bytes::Bytes::copy_from_slice(&p.event.encode()),
        );
        pkt.marker = p.marker;
        pkt.write_to(&mut wire).expect("w");
        phone.send_to(&wire, to_a).await.expect("send");
        let (n, _) = recv(&callee, &mut buf).await;
        assert_eq!(buf[1] & 0x7f, 101, "the event is relayed as it came");
        assert!(n > 12);
    }
    let digit = loop {
        match tokio::time::timeout(WAIT, erx.recv())
            .await
            .expect("in time")
        {
            Some(SessionEvent::Dtmf { leg, event, .. }) => break (leg, event.digit),
            Some(_) => continue,
            None => panic!("session ended"),
        }
    };
    assert_eq!(digit, (A, Digit::D7));
    // figures are published from the plane (at most 250 ms old)
    tokio::time::sleep(plane::FLUSH * 2).await;
    let figs = s.figures(A).expect("figures of A");
    assert!(figs.packets_in >= 50, "{figs:?}");
    assert!(metrics.rtp_packets_relayed.load(Relaxed) >= 100 + plan.len() as u64);
    // a prompt to the callee: the session takes the legs back and plays it
    s.send(Cmd::Play {
        leg: B,
        source: Box::new(Sine::new(8000, 440.0, 5)),
        barge_in: false,
        id: 9,
    });
    let (n, _) = recv(&callee, &mut buf).await;
    assert_ne!(
        ssrc(&buf[..n]),
        11,
        "the callee hears the switch's prompt now"
    );
    let done = loop {
        match tokio::time::timeout(WAIT, erx.recv())
            .await
            .expect("in time")
        {
            Some(SessionEvent::PlayDone {
                id, interrupted, ..
            }) => break (id, interrupted),
            Some(_) => continue,
            None => panic!("session ended"),
        }
    };
    assert_eq!(done, (9, false));
    // relaying again after the prompt, and the leg's final figures count it all
    phone.send_to(&voice(60, 11), to_a).await.expect("send");
    loop {
        let (n, _) = recv(&callee, &mut buf).await;
        if ssrc(&buf[..n]) == 11 {
            break;
        }
    }
    let mut s = s;
    s.remove_leg(A);
    let stats = loop {
        match tokio::time::timeout(WAIT, erx.recv())
            .await
            .expect("in time")
        {
            Some(SessionEvent::Stats { leg: A, stats }) => break stats,
            Some(_) => continue,
            None => panic!("session ended"),
        }
    };
    assert!(stats.packets_in >= 51, "{stats:?}");
}

/// One PCMU packet from SSRC `ssrc`.
fn voice(seq: u16, ssrc: u32) -> Vec<u8> {
    let mut wire = bytes::BytesMut::new();
    RtpPacket::new(
        0,
        seq,
        u32::from(seq) * 160,
        ssrc,
        bytes::Bytes::from(vec![0xFFu8; 160]),
    )
    .write_to(&mut wire)
    .expect("w");
    wire.to_vec()
}

fn ssrc(pkt: &[u8]) -> u32 {
    u32::from_be_bytes([pkt[8], pkt[9], pkt[10], pkt[11]])
}
