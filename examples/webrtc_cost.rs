//! CPU per packet of a browser leg: the switch's [`WebRtcLeg`] (ICE-lite,
//! DTLS-SRTP by str0m in RTP mode) against a str0m peer playing the browser,
//! in memory (no sockets, so only the WebRTC work is timed). Prints µs per
//! 20 ms Opus-sized packet sent (SRTP protect) and received (unprotect).
//!
//! `cargo run --release --example webrtc_cost [packets]`

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use str0m::change::{SdpAnswer, SdpOffer};
use str0m::media::{Direction, MediaKind};
use str0m::net::{Protocol, Receive};
use str0m::rtp::{ExtensionValues, SeqNo};
use str0m::{Candidate, Event, Input, Output, Rtc};
use switchyard::media::webrtc::{Outputs, WebRtcLeg};

/// Hands the browser's datagrams to the leg and the leg's to the browser,
/// returning RTP packets the browser decrypted.
fn pump(
    now: Instant,
    browser: &mut Rtc,
    leg: &mut WebRtcLeg,
    to_browser: &mut Vec<(SocketAddr, Vec<u8>)>,
    b_addr: SocketAddr,
    l_addr: SocketAddr,
) -> (usize, bool) {
    let mut got = 0;
    let mut connected = false;
    for _ in 0..50 {
        let mut sent = Vec::new();
        loop {
            match browser.poll_output() {
                Ok(Output::Transmit(t)) => sent.push(t.contents.to_vec()),
                Ok(Output::Event(Event::RtpPacket(_))) => got += 1,
                Ok(Output::Event(Event::Connected)) => connected = true,
                Ok(Output::Event(_)) => {}
                Ok(Output::Timeout(_)) | Err(_) => break,
            }
        }
        let mut out = Outputs::default();
        for d in &sent {
            leg.receive(now, b_addr, d, &mut out);
        }
        leg.on_timeout(now, &mut out);
        to_browser.extend(out.transmit);
        if sent.is_empty() && to_browser.is_empty() {
            break;
        }
        for (_, d) in to_browser.drain(..) {
            if let Ok(r) = Receive::new(Protocol::Udp, l_addr, b_addr, &d) {
                let _ = browser.handle_input(Input::Receive(now, r));
            }
        }
        let _ = browser.handle_input(Input::Timeout(now));
    }
    (got, connected)
}

fn main() {
    let packets: u32 = std::env::args()
        .nth(1)
        .and_then(|a| a.parse().ok())
        .unwrap_or(20_000);
    let b_addr: SocketAddr = "127.0.0.1:50000".parse().expect("addr");
    let l_addr: SocketAddr = "127.0.0.1:40000".parse().expect("addr");
    let mut browser = Rtc::builder().set_rtp_mode(true).build();
    browser.add_local_candidate(Candidate::host(b_addr, "udp").expect("candidate"));
    let mut api = browser.sdp_api();
    let mid = api.add_media(MediaKind::Audio, Direction::SendRecv, None, None, None);
    let (offer, pending) = api.apply().expect("offer");
    let mut leg = WebRtcLeg::new(l_addr);
    let answer = leg
        .accept_offer(&offer.to_sdp_string())
        .expect("the leg answers");
    browser
        .sdp_api()
        .accept_answer(
            pending,
            SdpAnswer::from_sdp_string(&answer).expect("answer parses"),
        )
        .expect("browser takes the answer");
    let _ = SdpOffer::from_sdp_string(&offer.to_sdp_string());
    let mut now = Instant::now();
    let mut queue = Vec::new();
    let mut up = false;
    for _ in 0..200 {
        now += Duration::from_millis(20);
        let _ = browser.handle_input(Input::Timeout(now));
        let (_, c) = pump(now, &mut browser, &mut leg, &mut queue, b_addr, l_addr);
        up |= c;
        if up && browser.is_connected() {
            break;
        }
    }
    assert!(browser.is_connected(), "ICE/DTLS never completed");

    // switch → browser: SRTP protect in the leg
    let payload = vec![0x55u8; 80];
    let mut pkt = vec![0x80, 111, 0, 0, 0, 0, 0, 0, 1, 2, 3, 4];
    pkt.extend_from_slice(&payload);
    let mut spent = Duration::ZERO;
    let mut received = 0;
    for i in 0..packets {
        now += Duration::from_millis(20);
        pkt[2..4].copy_from_slice(&(i as u16).to_be_bytes());
        pkt[4..8].copy_from_slice(&(i * 960).to_be_bytes());
        let mut out = Outputs::default();
        let t = Instant::now();
        leg.send_rtp(now, &pkt, true, &mut out);
        spent += t.elapsed();
        for (_, d) in out.transmit {
            if let Ok(r) = Receive::new(Protocol::Udp, l_addr, b_addr, &d) {
                let _ = browser.handle_input(Input::Receive(now, r));
            }
        }
        let _ = browser.handle_input(Input::Timeout(now));
        // the browser's consent checks keep the path up (not timed)
        let mut back = Outputs::default();
        while let Ok(o) = browser.poll_output() {
            match o {
                Output::Event(Event::RtpPacket(_)) => received += 1,
                Output::Transmit(t) => leg.receive(now, b_addr, &t.contents, &mut back),
                Output::Timeout(_) => break,
                _ => {}
            }
        }
        for (_, d) in back.transmit {
            if let Ok(r) = Receive::new(Protocol::Udp, l_addr, b_addr, &d) {
                let _ = browser.handle_input(Input::Receive(now, r));
            }
        }
    }
    let send_us = spent.as_secs_f64() * 1e6 / f64::from(packets);

    // browser → switch: SRTP unprotect in the leg
    let mut spent = Duration::ZERO;
    let mut delivered = 0usize;
    for i in 0..packets {
        now += Duration::from_millis(20);
        let mut api = browser.direct_api();
        if let Some(tx) = api.stream_tx_by_mid(mid, None) {
            let _ = tx.write_rtp(
                111.into(),
                SeqNo::from(u64::from(i) + 1),
                i * 960,
                now,
                false,
                ExtensionValues::default(),
                false,
                payload.clone(),
            );
        }
        let _ = browser.handle_input(Input::Timeout(now));
        let mut datagrams = Vec::new();
        while let Ok(o) = browser.poll_output() {
            match o {
                Output::Transmit(t) => datagrams.push(t.contents.to_vec()),
                Output::Timeout(_) => break,
                _ => {}
            }
        }
        for d in datagrams {
            let mut out = Outputs::default();
            let t = Instant::now();
            leg.receive(now, b_addr, &d, &mut out);
            spent += t.elapsed();
            delivered += out.rtp.len();
            for (_, d) in out.transmit {
                if let Ok(r) = Receive::new(Protocol::Udp, l_addr, b_addr, &d) {
                    let _ = browser.handle_input(Input::Receive(now, r));
                }
            }
        }
    }
    let recv_us = spent.as_secs_f64() * 1e6 / f64::from(packets);
    println!(
        "{packets} packets each way (80-byte Opus payloads): send {send_us:.2} µs/packet \
         ({received} reached the peer), receive {recv_us:.2} µs/packet ({delivered} delivered)"
    );
}
