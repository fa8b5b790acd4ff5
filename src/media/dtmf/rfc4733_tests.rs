//! Tests for the RFC 4733 payload, receiver and sender, including a lossy,
//! reordering sender-to-receiver harness.
use super::*;

fn ev(digit: Digit, end: bool, duration: u16) -> [u8; 4] {
    TelephoneEvent {
        event: digit.event_code(),
        end,
        volume: 10,
        duration,
    }
    .encode()
}

fn drain(rx: &mut Rfc4733Receiver) -> Vec<DtmfEvent> {
    std::iter::from_fn(|| rx.poll_event()).collect()
}

fn feed(rx: &mut Rfc4733Receiver, ts: u32, packets: &[(bool, [u8; 4])]) {
    for (marker, p) in packets {
        rx.on_packet(ts, *marker, p).expect("valid payload");
    }
}

#[test]
fn payload_round_trip_and_layout() {
    let e = TelephoneEvent::new(5, true, 10, 800).expect("valid");
    assert_eq!(e.encode(), [5, 0x8a, 0x03, 0x20]);
    assert_eq!(TelephoneEvent::parse(&[5, 0x8a, 0x03, 0x20]), Ok(e));
    // R bit is ignored, trailing bytes are tolerated.
    let r = TelephoneEvent::parse(&[11, 0x40 | 7, 0, 160, 0xff]).expect("valid");
    assert_eq!(
        r,
        TelephoneEvent {
            event: 11,
            end: false,
            volume: 7,
            duration: 160
        }
    );
    assert_eq!(r.digit(), Some(Digit::Pound));
    assert_eq!(
        TelephoneEvent::parse(&[16, 0, 0, 0])
            .expect("valid")
            .digit(),
        None
    );
}

#[test]
fn payload_errors() {
    assert_eq!(
        TelephoneEvent::parse(&[1, 2, 3]),
        Err(Rfc4733Error::TooShort { len: 3 })
    );
    assert_eq!(
        TelephoneEvent::parse(&[]),
        Err(Rfc4733Error::TooShort { len: 0 })
    );
    assert_eq!(
        TelephoneEvent::new(1, false, 64, 0),
        Err(Rfc4733Error::VolumeOutOfRange(64))
    );
    let mut rx = Rfc4733Receiver::new(8000);
    assert_eq!(
        rx.on_packet(0, true, &[1, 2]),
        Err(Rfc4733Error::TooShort { len: 2 })
    );
    assert!(rx.poll_event().is_none());
}

#[test]
fn one_event_for_updates_and_three_end_copies() {
    let mut rx = Rfc4733Receiver::new(8000);
    let d = Digit::D7;
    feed(
        &mut rx,
        1000,
        &[
            (true, ev(d, false, 0)),
            (false, ev(d, false, 400)),
            (false, ev(d, false, 800)),
        ],
    );
    assert!(rx.poll_event().is_none());
    assert_eq!(rx.current_digit(), Some(d));
    feed(
        &mut rx,
        1000,
        &[
            (false, ev(d, true, 960)),
            (false, ev(d, true, 960)),
            (false, ev(d, true, 960)),
        ],
    );
    assert_eq!(
        drain(&mut rx),
        vec![DtmfEvent {
            digit: d,
            duration_ms: 120
        }]
    );
    assert_eq!(rx.current_digit(), None);
}

#[test]
fn reordered_and_retransmitted_updates() {
    let mut rx = Rfc4733Receiver::new(8000);
    let d = Digit::Star;
    feed(
        &mut rx,
        5000,
        &[
            (false, ev(d, false, 800)),
            (true, ev(d, false, 0)),
            (false, ev(d, false, 400)),
            (false, ev(d, false, 800)),
        ],
    );
    feed(
        &mut rx,
        5000,
        &[
            (false, ev(d, true, 1200)),
            (false, ev(d, false, 400)),
            (false, ev(d, true, 1200)),
        ],
    );
    // A late update after the end must not start a second press.
    feed(
        &mut rx,
        5000,
        &[(false, ev(d, false, 800)), (true, ev(d, false, 0))],
    );
    rx.on_tick(5000 + 100_000);
    assert_eq!(
        drain(&mut rx),
        vec![DtmfEvent {
            digit: d,
            duration_ms: 150
        }]
    );
}

#[test]
fn end_packet_overtaking_updates_reports_its_duration() {
    let mut rx = Rfc4733Receiver::new(8000);
    feed(
        &mut rx,
        42,
        &[
            (false, ev(Digit::D1, true, 640)),
            (true, ev(Digit::D1, false, 0)),
        ],
    );
    assert_eq!(
        drain(&mut rx),
        vec![DtmfEvent {
            digit: Digit::D1,
            duration_ms: 80
        }]
    );
}

#[test]
fn new_event_without_end_of_previous() {
    let mut rx = Rfc4733Receiver::new(8000);
    feed(
        &mut rx,
        1000,
        &[
            (true, ev(Digit::D1, false, 0)),
            (false, ev(Digit::D1, false, 560)),
        ],
    );
    feed(&mut rx, 3000, &[(true, ev(Digit::D2, false, 0))]);
    assert_eq!(
        drain(&mut rx),
        vec![DtmfEvent {
            digit: Digit::D1,
            duration_ms: 70
        }]
    );
    // Late copies of the first event are ignored once the second began.
    feed(&mut rx, 1000, &[(false, ev(Digit::D1, true, 640))]);
    feed(&mut rx, 3000, &[(false, ev(Digit::D2, true, 800))]);
    assert_eq!(
        drain(&mut rx),
        vec![DtmfEvent {
            digit: Digit::D2,
            duration_ms: 100
        }]
    );
}

#[test]
fn same_digit_twice_is_two_presses() {
    let mut rx = Rfc4733Receiver::new(8000);
    for ts in [100, 2100] {
        feed(
            &mut rx,
            ts,
            &[
                (true, ev(Digit::D9, false, 0)),
                (false, ev(Digit::D9, true, 800)),
            ],
        );
    }
    assert_eq!(drain(&mut rx).len(), 2);
}

#[test]
fn timestamp_wrap() {
    let mut rx = Rfc4733Receiver::new(8000);
    let t1 = u32::MAX - 500;
    let t2 = t1.wrapping_add(2000); // past zero
    feed(
        &mut rx,
        t1,
        &[
            (true, ev(Digit::D3, false, 0)),
            (false, ev(Digit::D3, true, 800)),
        ],
    );
    feed(
        &mut rx,
        t2,
        &[
            (true, ev(Digit::D4, false, 0)),
            (false, ev(Digit::D4, true, 400)),
        ],
    );
    feed(&mut rx, t1, &[(false, ev(Digit::D3, true, 800))]); // late copy from before the wrap
    assert_eq!(
        drain(&mut rx),
        vec![
            DtmfEvent {
                digit: Digit::D3,
                duration_ms: 100
            },
            DtmfEvent {
                digit: Digit::D4,
                duration_ms: 50
            }
        ]
    );
}

#[test]
fn all_end_packets_lost_times_out_once() {
    let mut rx = Rfc4733Receiver::new(8000).with_timeout(1600);
    let ts = u32::MAX - 100; // deadline wraps too
    feed(
        &mut rx,
        ts,
        &[
            (true, ev(Digit::A, false, 0)),
            (false, ev(Digit::A, false, 800)),
        ],
    );
    let deadline = ts.wrapping_add(800 + 1600);
    assert_eq!(rx.poll_timeout(), Some(deadline));
    rx.on_tick(deadline.wrapping_sub(1));
    assert!(rx.poll_event().is_none());
    rx.on_tick(deadline);
    assert_eq!(
        drain(&mut rx),
        vec![DtmfEvent {
            digit: Digit::A,
            duration_ms: 100
        }]
    );
    assert_eq!(rx.poll_timeout(), None);
    // The end packets limp in afterwards: no second report.
    feed(&mut rx, ts, &[(false, ev(Digit::A, true, 960))]);
    rx.on_tick(deadline.wrapping_add(10_000));
    assert!(rx.poll_event().is_none());
}

#[test]
fn non_dtmf_events_are_ignored() {
    let mut rx = Rfc4733Receiver::new(8000);
    rx.on_packet(10, true, &[16, 0x80, 0, 100]).expect("valid"); // flash
    rx.on_packet(20, true, &[32, 0x80, 0, 100]).expect("valid"); // fax ANS
    rx.on_tick(1_000_000);
    assert!(rx.poll_event().is_none());
}

#[test]
fn long_event_segments_are_one_press() {
    let mut rx = Rfc4733Receiver::new(8000);
    let t0 = 7;
    feed(
        &mut rx,
        t0,
        &[
            (true, ev(Digit::D0, false, 0)),
            (false, ev(Digit::D0, false, 0xffff)),
        ],
    );
    let t1 = t0 + 0xffff;
    feed(
        &mut rx,
        t1,
        &[
            (false, ev(Digit::D0, false, 400)),
            (false, ev(Digit::D0, true, 8000)),
        ],
    );
    feed(&mut rx, t0, &[(false, ev(Digit::D0, false, 0xffff))]); // late first-segment copy
    let total = (0xffff + 8000) * 1000 / 8000;
    assert_eq!(
        drain(&mut rx),
        vec![DtmfEvent {
            digit: Digit::D0,
            duration_ms: total
        }]
    );
}

#[test]
fn sender_plan_shape() {
    let tx = Rfc4733Sender::new(8000);
    let plan = tx.plan(Digit::D5, 1234, 120);
    let at: Vec<u32> = plan.iter().map(|p| p.at_ms).collect();
    assert_eq!(at, vec![0, 50, 100, 120, 140, 160]);
    assert!(plan
        .iter()
        .all(|p| p.timestamp == 1234 && p.event.event == 5 && p.event.volume == 10));
    assert_eq!(plan.iter().filter(|p| p.marker).count(), 1);
    assert!(plan[0].marker);
    let durs: Vec<u16> = plan.iter().map(|p| p.event.duration).collect();
    assert_eq!(durs, vec![0, 400, 800, 960, 960, 960]);
    let ends: Vec<bool> = plan.iter().map(|p| p.event.end).collect();
    assert_eq!(ends, vec![false, false, false, true, true, true]);
}

#[test]
fn sender_edge_cases() {
    let tx = Rfc4733Sender::new(8000)
        .with_volume(63)
        .expect("valid volume");
    let zero = tx.plan(Digit::B, 0, 0);
    assert_eq!(zero.len(), 3);
    assert!(zero[0].marker && zero.iter().all(|p| p.event.end));
    let long = tx.plan(Digit::C, 0, 60_000);
    assert_eq!(
        long.last().map(|p| p.event.duration),
        Some(0xffff - 0xffff % 8)
    );
    assert!(Rfc4733Sender::new(8000).with_volume(64).is_err());
}

/// Tiny deterministic PRNG for the loss harness.
fn xorshift(state: &mut u32) -> u32 {
    *state ^= *state << 13;
    *state ^= *state >> 17;
    *state ^= *state << 5;
    *state
}

#[test]
fn sender_to_receiver_over_lossy_reordering_path() {
    let tx = Rfc4733Sender::new(8000);
    let digits = [Digit::D1, Digit::Pound, Digit::D1, Digit::C, Digit::D0];
    for seed in 1..200u32 {
        let mut rng = seed.wrapping_mul(2_654_435_761) | 1;
        let mut rx = Rfc4733Receiver::new(8000);
        let mut ts = seed.wrapping_mul(40_503).wrapping_sub(20_000);
        let mut got = Vec::new();
        for (i, d) in digits.iter().enumerate() {
            let held = 60 + 30 * i as u32;
            let mut packets = tx.plan(*d, ts, held);
            // Lose about a third of the packets, but keep one per press.
            let keep = xorshift(&mut rng) as usize % packets.len();
            let kept: Vec<_> = packets
                .drain(..)
                .enumerate()
                .filter(|(j, _)| *j == keep || !xorshift(&mut rng).is_multiple_of(3))
                .map(|(_, p)| p)
                .collect();
            let mut kept = kept;
            // Swap neighbours now and then, duplicate some.
            for j in 1..kept.len() {
                if xorshift(&mut rng).is_multiple_of(4) {
                    kept.swap(j - 1, j);
                }
            }
            for p in &kept {
                rx.on_packet(p.timestamp, p.marker, &p.event.encode())
                    .expect("valid");
                if xorshift(&mut rng).is_multiple_of(5) {
                    rx.on_packet(p.timestamp, p.marker, &p.event.encode())
                        .expect("valid");
                }
            }
            ts = ts.wrapping_add((held + 300) * 8);
            rx.on_tick(ts);
            got.extend(std::iter::from_fn(|| rx.poll_event()));
        }
        let got_digits: Vec<Digit> = got.iter().map(|e| e.digit).collect();
        assert_eq!(got_digits, digits, "seed {seed}");
        assert!(
            got.iter().all(|e| e.duration_ms <= 60 + 30 * 4),
            "seed {seed}"
        );
    }
}
