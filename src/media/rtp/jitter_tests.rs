//! Scenario tests for the jitter buffer: arrivals and pops driven by a
//! hand-advanced clock.

use super::*;

const SSRC: u32 = 0xabc;

fn pkt(ssrc: u32, seq: u16, ts: u32) -> RtpPacket {
    RtpPacket::new(0, seq, ts, ssrc, Bytes::copy_from_slice(&seq.to_be_bytes()))
}

/// Deliver `arrivals` (ms, packet) and pop every 20 ms (phase 5 ms) until
/// `end_ms`; returns the non-empty frames.
fn run(jb: &mut JitterBuffer, mut arrivals: Vec<(u64, RtpPacket)>, end_ms: u64) -> Vec<Frame> {
    let t0 = Instant::now();
    arrivals.sort_by_key(|a| a.0);
    let mut it = arrivals.into_iter().peekable();
    let mut out = Vec::new();
    let mut tick = 5;
    while tick <= end_ms {
        while let Some((at, _)) = it.peek() {
            if *at > tick {
                break;
            }
            if let Some((at, p)) = it.next() {
                jb.push(t0 + Duration::from_millis(at), p);
            }
        }
        match jb.pop(t0 + Duration::from_millis(tick)) {
            Frame::Empty => {}
            f => out.push(f),
        }
        tick += 20;
    }
    out
}

fn steady(seq0: u16, ts0: u32, n: u16) -> Vec<(u64, RtpPacket)> {
    (0..n)
        .map(|i| {
            (
                20 * u64::from(i),
                pkt(
                    SSRC,
                    seq0.wrapping_add(i),
                    ts0.wrapping_add(160 * u32::from(i)),
                ),
            )
        })
        .collect()
}

fn seqs(frames: &[Frame]) -> Vec<Option<u16>> {
    frames
        .iter()
        .map(|f| {
            if let Frame::Packet { seq, .. } = f {
                Some(*seq)
            } else {
                None
            }
        })
        .collect()
}

fn lcg(x: &mut u64) -> u64 {
    *x = x
        .wrapping_mul(6_364_136_223_846_793_005)
        .wrapping_add(1_442_695_040_888_963_407);
    *x >> 33
}

#[test]
fn shuffled_arrivals_come_out_in_order() {
    let mut jb = JitterBuffer::new(JitterConfig {
        initial_delay: Duration::from_millis(100),
        min_delay: Duration::from_millis(100),
        ..Default::default()
    });
    let mut x = 7;
    let arrivals: Vec<_> = steady(1000, 5000, 100)
        .into_iter()
        .map(|(at, p)| (at + lcg(&mut x) % 50, p))
        .collect();
    let out = run(&mut jb, arrivals, 3000);
    let expect: Vec<_> = (1000..1100).map(Some).collect();
    assert_eq!(seqs(&out), expect);
    assert_eq!(jb.counters().lost, 0);
    assert_eq!(jb.counters().late, 0);
}

#[test]
fn gaps_give_lost_exactly_for_missing() {
    let mut jb = JitterBuffer::new(JitterConfig::default());
    let arrivals: Vec<_> = steady(0, 0, 50)
        .into_iter()
        .filter(|(_, p)| ![5, 6, 20].contains(&p.sequence))
        .collect();
    let out = run(&mut jb, arrivals, 2000);
    assert_eq!(out.len(), 50);
    for (i, f) in out.iter().enumerate() {
        let ts = 160 * i as u32;
        if [5, 6, 20].contains(&i) {
            assert_eq!(*f, Frame::Lost { ts });
        } else {
            assert!(
                matches!(f, Frame::Packet { seq, ts: t, .. } if usize::from(*seq) == i && *t == ts),
                "{i}: {f:?}"
            );
        }
    }
    assert_eq!(jb.counters().lost, 3);
}

#[test]
fn duplicates_are_dropped() {
    let mut jb = JitterBuffer::new(JitterConfig::default());
    let mut arrivals = steady(0, 0, 30);
    arrivals.extend(steady(0, 0, 30).into_iter().map(|(at, p)| (at + 5, p)));
    let out = run(&mut jb, arrivals, 1000);
    assert_eq!(seqs(&out), (0..30).map(Some).collect::<Vec<_>>());
    assert_eq!(jb.counters().duplicates, 30);
}

#[test]
fn too_late_packet_is_dropped_and_concealed() {
    let mut jb = JitterBuffer::new(JitterConfig::default());
    let arrivals: Vec<_> = steady(0, 0, 30)
        .into_iter()
        .map(|(at, p)| {
            if p.sequence == 10 {
                (at + 400, p)
            } else {
                (at, p)
            }
        })
        .collect();
    let out = run(&mut jb, arrivals, 1000);
    assert_eq!(out.len(), 30);
    assert_eq!(out[10], Frame::Lost { ts: 1600 });
    assert_eq!(jb.counters().late, 1);
}

#[test]
fn sequence_wraps_at_65535() {
    let mut jb = JitterBuffer::new(JitterConfig::default());
    let mut x = 3;
    let arrivals: Vec<_> = steady(65_520, 0, 40)
        .into_iter()
        .filter(|(_, p)| p.sequence != 0)
        .map(|(at, p)| (at + lcg(&mut x) % 30, p))
        .collect();
    let out = run(&mut jb, arrivals, 1500);
    let expect: Vec<_> = (0..40u16)
        .map(|i| 65_520u16.wrapping_add(i))
        .map(|s| if s == 0 { None } else { Some(s) })
        .collect();
    assert_eq!(seqs(&out), expect);
    assert_eq!(out[16], Frame::Lost { ts: 160 * 16 });
}

#[test]
fn timestamp_wraps() {
    let mut jb = JitterBuffer::new(JitterConfig::default());
    let ts0 = u32::MAX - 160 * 10 + 1;
    let arrivals: Vec<_> = steady(300, ts0, 30)
        .into_iter()
        .filter(|(_, p)| p.sequence != 312)
        .collect();
    let out = run(&mut jb, arrivals, 1000);
    assert_eq!(out.len(), 30);
    for (i, f) in out.iter().enumerate() {
        let ts = ts0.wrapping_add(160 * i as u32);
        match f {
            Frame::Packet { ts: t, .. } | Frame::Lost { ts: t } => {
                assert_eq!(*t, ts, "frame {i}")
            }
            Frame::Empty => unreachable!(),
        }
    }
    assert_eq!(
        out[12],
        Frame::Lost {
            ts: ts0.wrapping_add(160 * 12)
        }
    );
}

#[test]
fn ssrc_change_resets_without_gap() {
    let mut jb = JitterBuffer::new(JitterConfig::default());
    let mut arrivals = steady(100, 1_000, 20);
    arrivals.extend((0..20u16).map(|i| {
        (
            400 + 20 * u64::from(i),
            pkt(0x999, 50_000 + i, 3_000_000_000 + 160 * u32::from(i)),
        )
    }));
    let out = run(&mut jb, arrivals, 1500);
    let mut expect: Vec<_> = (100..120).map(Some).collect();
    expect.extend((50_000..50_020).map(Some));
    assert_eq!(
        seqs(&out),
        expect,
        "old stream drains, new one follows, no Lost"
    );
    assert_eq!(jb.counters().restarts, 2);
}

#[test]
fn talkspurt_marker_reanchors_over_silence() {
    let mut jb = JitterBuffer::new(JitterConfig::default());
    let mut arrivals = steady(0, 0, 10);
    // 1 s of silence (DTX): sequence continues, timestamp jumps.
    arrivals.extend((0..10u16).map(|i| {
        let mut p = pkt(SSRC, 10 + i, 160 * 60 + 160 * u32::from(i));
        p.marker = i == 0;
        (1200 + 20 * u64::from(i), p)
    }));
    let out = run(&mut jb, arrivals, 2000);
    assert_eq!(seqs(&out), (0..20).map(Some).collect::<Vec<_>>());
}

#[test]
fn memory_is_bounded_and_big_jump_restarts() {
    let mut jb = JitterBuffer::new(JitterConfig::default());
    let t0 = Instant::now();
    for i in 0..10_000u32 {
        jb.push(t0, pkt(SSRC, (i * 7) as u16, i * 160));
    }
    assert!(jb.len() <= 2 * JitterConfig::default().capacity);
}

#[test]
fn target_delay_adapts_to_jitter() {
    let mut calm = JitterBuffer::new(JitterConfig::default());
    run(&mut calm, steady(0, 0, 100), 2500);
    let mut x = 11;
    let mut rough = JitterBuffer::new(JitterConfig::default());
    run(
        &mut rough,
        steady(0, 0, 100)
            .into_iter()
            .map(|(at, p)| (at + lcg(&mut x) % 60, p))
            .collect(),
        2500,
    );
    assert_eq!(calm.target_delay(), Duration::from_millis(40));
    assert!(
        rough.target_delay() > Duration::from_millis(60),
        "{:?}",
        rough.target_delay()
    );
    assert!(rough.target_delay() <= Duration::from_millis(200));
}
