//! The session's conference on real sockets: a supervisor leg listening to,
//! whispering to and barging into a bridged pair, each tone told apart by
//! frequency at every receiver.

use super::*;
use crate::media::codec::{CodecKind, Decoder, Encoder};
use crate::media::ports::PortPool;
use crate::media::rtp::RtpPacket;
use crate::media::test_util::{goertzel_amplitude, sine_at};
use bytes::BytesMut;
use std::time::Duration;
use tokio::net::UdpSocket;

const A: LegId = LegId(uuid::Uuid::from_u128(0xA1));
const B: LegId = LegId(uuid::Uuid::from_u128(0xB1));
const S: LegId = LegId(uuid::Uuid::from_u128(0x51));
/// The tone each party sends.
const FREQ: [f64; 3] = [400.0, 1000.0, 2000.0];

struct Party {
    leg: LegId,
    sock: UdpSocket,
    to: SocketAddr,
    enc: Encoder,
    dec: Decoder,
    heard: Vec<i16>,
    seq: u16,
    sample: usize,
}

async fn party(s: &mut SessionHandle, pool: &Arc<PortPool>, leg: LegId) -> Party {
    s.add_leg(leg, pool.allocate().expect("ports"));
    let sock = UdpSocket::bind("127.0.0.1:0").await.expect("bind");
    s.set_remote(leg, Some(sock.local_addr().expect("addr")), None);
    s.send(Cmd::SetCodec {
        leg,
        neg: Some(Negotiated {
            codec: CodecKind::Pcmu,
            pt: 0,
            te_pt: Some(101),
            te_rate: 8000,
        }),
    });
    Party {
        leg,
        sock,
        to: SocketAddr::from(([127, 0, 0, 1], s.port(leg).expect("port"))),
        enc: Encoder::new(CodecKind::Pcmu).expect("enc"),
        dec: Decoder::new(CodecKind::Pcmu).expect("dec"),
        heard: Vec::new(),
        seq: 0,
        sample: 0,
    }
}

/// One second of everyone sending their tone; then, for each party, the
/// amplitude of each party's tone in the second half of what it heard.
async fn talk(parties: &mut [Party]) -> Vec<[f64; 3]> {
    let mut tick = tokio::time::interval(PTIME);
    let mut buf = [0u8; 1500];
    let mut wire = BytesMut::new();
    for p in parties.iter_mut() {
        p.heard.clear();
    }
    for _ in 0..50 {
        tick.tick().await;
        for (k, p) in parties.iter_mut().enumerate() {
            let pcm = sine_at(FREQ[k], 8000, 0.3, p.sample, 160);
            p.sample += 160;
            let mut payload = Vec::new();
            p.enc.encode(&pcm, &mut payload).expect("enc");
            RtpPacket::new(
                0,
                p.seq,
                u32::from(p.seq) * 160,
                k as u32 + 1,
                payload.into(),
            )
            .write_to(&mut wire)
            .expect("w");
            p.seq = p.seq.wrapping_add(1);
            p.sock.send_to(&wire, p.to).await.expect("send");
            wire.clear();
        }
        for p in parties.iter_mut() {
            while let Ok(Ok((n, _))) =
                tokio::time::timeout(Duration::from_millis(1), p.sock.recv_from(&mut buf)).await
            {
                let pkt = RtpPacket::parse(Bytes::copy_from_slice(&buf[..n])).expect("rtp");
                if pkt.payload_type == 0 {
                    p.dec.decode(&pkt.payload, &mut p.heard).expect("pcmu");
                }
            }
        }
    }
    parties
        .iter()
        .map(|p| {
            let tail = &p.heard[p.heard.len() / 2..];
            FREQ.map(|f| goertzel_amplitude(tail, 8000, f))
        })
        .collect()
}

/// Whether `got` holds exactly the tones of the parties in `from` (loud
/// ones clearly present, the rest absent).
fn hears(who: &str, got: [f64; 3], from: &[usize]) {
    for (k, amp) in got.iter().enumerate() {
        if from.contains(&k) {
            assert!(*amp > 2000.0, "{who} should hear party {k}: {got:?}");
        } else {
            assert!(*amp < 300.0, "{who} should not hear party {k}: {got:?}");
        }
    }
}

#[tokio::test]
async fn supervisor_listens_whispers_and_barges_then_the_bridge_relays_again() {
    let pool = PortPool::new(42400, 42420, "127.0.0.1".parse().expect("ip"));
    let (etx, _erx) = mpsc::unbounded_channel();
    let mut s = spawn(Arc::new(Metrics::default()), etx);
    let mut parties = vec![
        party(&mut s, &pool, A).await,
        party(&mut s, &pool, B).await,
        party(&mut s, &pool, S).await,
    ];
    s.send(Cmd::Bridge { a: A, b: B });
    let heard = talk(&mut parties).await;
    hears("caller (bridged)", heard[0], &[1]);
    hears("agent (bridged)", heard[1], &[0]);
    hears("supervisor (alone)", heard[2], &[]);

    for leg in [A, B] {
        s.send(Cmd::Mix {
            leg,
            role: MixRole::Speak,
        });
    }
    s.send(Cmd::Mix {
        leg: S,
        role: MixRole::Listen,
    });
    let heard = talk(&mut parties).await;
    hears("caller (listen)", heard[0], &[1]);
    hears("agent (listen)", heard[1], &[0]);
    hears("supervisor (listen)", heard[2], &[0, 1]);

    s.send(Cmd::Mix {
        leg: S,
        role: MixRole::Whisper(B),
    });
    let heard = talk(&mut parties).await;
    hears("caller (whisper)", heard[0], &[1]);
    hears("agent (whisper)", heard[1], &[0, 2]);
    hears("supervisor (whisper)", heard[2], &[0, 1]);

    s.send(Cmd::Mix {
        leg: S,
        role: MixRole::Speak,
    });
    let heard = talk(&mut parties).await;
    hears("caller (barge)", heard[0], &[1, 2]);
    hears("agent (barge)", heard[1], &[0, 2]);
    hears("supervisor (barge)", heard[2], &[0, 1]);

    // the supervisor leaves: the pair leaves the conference, the bridge carries again
    s.remove_leg(S);
    let _ = parties.pop();
    for leg in [A, B] {
        s.send(Cmd::Unmix { leg });
    }
    let heard = talk(&mut parties).await;
    hears("caller (after)", heard[0], &[1]);
    hears("agent (after)", heard[1], &[0]);
    assert_eq!(parties[0].leg, A);
}
