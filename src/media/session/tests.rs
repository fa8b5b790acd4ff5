//! The media session on real sockets: relay with latching, an endpoint leg
//! hearing a played source, PCMU↔Opus transcoding and the recording tap.

use super::*;
use crate::media::codec::{CodecKind, Decoder, Encoder};
use crate::media::ports::PortPool;
use crate::media::rtp::RtpPacket;
use crate::media::test_util::crossings_per_second;
use bytes::BytesMut;
use std::time::Duration;
use tokio::net::UdpSocket;

pub(super) const WAIT: Duration = Duration::from_secs(2);

/// The caller's and the callee's legs of the tests' calls.
pub(super) const A: LegId = LegId(uuid::Uuid::from_u128(0xA));
pub(super) const B: LegId = LegId(uuid::Uuid::from_u128(0xB));

/// A session with leg A on `a` and, when given, leg B on `b` bridged to it.
fn spawn_legs(
    a: PortPair,
    b: Option<PortPair>,
    metrics: Arc<Metrics>,
    events: mpsc::UnboundedSender<SessionEvent>,
) -> SessionHandle {
    let mut s = spawn(metrics, events);
    s.add_leg(A, a);
    if let Some(b) = b {
        s.add_leg(B, b);
        s.send(Cmd::Bridge { a: A, b: B });
    }
    s
}

/// A sine source for tests (the shipped playback sources have their own tests).
pub(super) struct Sine {
    rate: u32,
    freq: f32,
    phase: f32,
    frames_left: u32,
}

impl Sine {
    /// `freq` Hz at `rate` for `frames` 20 ms frames.
    pub(super) fn new(rate: u32, freq: f32, frames: u32) -> Sine {
        Sine {
            rate,
            freq,
            phase: 0.0,
            frames_left: frames,
        }
    }
}

impl Source for Sine {
    fn rate(&self) -> u32 {
        self.rate
    }
    fn read_frame(&mut self, out: &mut [i16]) -> bool {
        if self.frames_left == 0 {
            out.fill(0);
            return false;
        }
        self.frames_left -= 1;
        for s in out.iter_mut() {
            self.phase += 2.0 * std::f32::consts::PI * self.freq / self.rate as f32;
            *s = (self.phase.sin() * 10000.0) as i16;
        }
        true
    }
}

pub(super) fn neg(codec: CodecKind, pt: u8) -> Negotiated {
    Negotiated {
        codec,
        pt,
        te_pt: Some(101),
        te_rate: 8000,
    }
}

pub(super) async fn recv(sock: &UdpSocket, buf: &mut [u8]) -> (usize, SocketAddr) {
    tokio::time::timeout(WAIT, sock.recv_from(buf))
        .await
        .expect("in time")
        .expect("recv")
}

fn pool(base: u16) -> Arc<PortPool> {
    PortPool::new(base, base + 20, "127.0.0.1".parse().expect("ip"))
}

#[tokio::test]
async fn relays_both_ways_and_latches() {
    let pool = pool(42000);
    let (a, b) = (pool.allocate().expect("a"), pool.allocate().expect("b"));
    let (etx, _erx) = mpsc::unbounded_channel();
    let s = spawn_legs(a, Some(b), Arc::new(Metrics::default()), etx);
    let caller = UdpSocket::bind("127.0.0.1:0").await.expect("bind");
    let callee = UdpSocket::bind("127.0.0.1:0").await.expect("bind");
    // SDP told us a wrong address for the caller: latching must fix it
    s.set_remote(A, Some("127.0.0.1:9".parse().expect("a")), None);
    s.set_remote(B, Some(callee.local_addr().expect("addr")), None);
    tokio::time::sleep(Duration::from_millis(20)).await;
    let to_a = SocketAddr::from(([127, 0, 0, 1], s.port(A).expect("a")));
    let to_b = SocketAddr::from(([127, 0, 0, 1], s.port(B).expect("b")));
    let mut buf = [0u8; 64];
    // garbage arriving before the caller's first packet must not latch the side
    let intruder = UdpSocket::bind("127.0.0.1:0").await.expect("bind");
    intruder
        .send_to(b"not rtp at all", to_a)
        .await
        .expect("send");
    caller
        .send_to(&rtp(b"hello-from-a"), to_a)
        .await
        .expect("send");
    let (n, from) = recv(&callee, &mut buf).await;
    assert_eq!((&buf[12..n], from), (&b"hello-from-a"[..], to_b));
    callee
        .send_to(&rtp(b"hello-from-b"), to_b)
        .await
        .expect("send");
    let (n, from) = recv(&caller, &mut buf).await;
    assert_eq!((&buf[12..n], from), (&b"hello-from-b"[..], to_a));
    // a third party cannot hijack the latched caller side, even with valid RTP
    intruder.send_to(&rtp(b"evil"), to_a).await.expect("send");
    caller.send_to(&rtp(b"good"), to_a).await.expect("send");
    let (n, _) = recv(&callee, &mut buf).await;
    assert_eq!(&buf[12..n], b"good");
}

/// A minimal RTP packet (version 2, PT 0) around `payload`.
fn rtp(payload: &[u8]) -> Vec<u8> {
    let mut p = vec![0x80, 0, 0, 1, 0, 0, 0, 160, 0, 0, 0, 7];
    p.extend_from_slice(payload);
    p
}

#[tokio::test]
async fn endpoint_plays_a_source_paced_and_reports_its_end() {
    let pool = pool(42040);
    let (etx, mut erx) = mpsc::unbounded_channel();
    let s = spawn_legs(
        pool.allocate().expect("a"),
        None,
        Arc::new(Metrics::default()),
        etx,
    );
    let phone = UdpSocket::bind("127.0.0.1:0").await.expect("bind");
    s.set_remote(A, Some(phone.local_addr().expect("addr")), None);
    s.send(Cmd::SetCodec {
        leg: A,
        neg: Some(neg(CodecKind::Pcmu, 0)),
    });
    s.send(Cmd::Play {
        leg: A,
        source: Box::new(Sine::new(8000, 1000.0, 50)),
        barge_in: false,
        id: 7,
    });
    let mut dec = Decoder::new(CodecKind::Pcmu).expect("dec");
    let mut pcm = Vec::new();
    let mut buf = [0u8; 1500];
    let mut seqs = Vec::new();
    let started = std::time::Instant::now();
    for _ in 0..50 {
        let (n, _) = recv(&phone, &mut buf).await;
        let pkt = RtpPacket::parse(Bytes::copy_from_slice(&buf[..n])).expect("rtp");
        assert_eq!(pkt.payload_type, 0);
        seqs.push(pkt.sequence);
        dec.decode(&pkt.payload, &mut pcm).expect("decode");
    }
    let elapsed = started.elapsed();
    // 50 frames of 20 ms: paced, not burst (generous bounds: this is not a timing test)
    assert!(elapsed >= Duration::from_millis(800), "{elapsed:?}");
    assert!(seqs.windows(2).all(|w| w[1] == w[0].wrapping_add(1)));
    let f = crossings_per_second(&pcm[800..], 8000);
    assert!((950.0..1050.0).contains(&f), "heard {f} Hz");
    let done = tokio::time::timeout(WAIT, erx.recv())
        .await
        .expect("in time");
    assert!(matches!(
        done,
        Some(SessionEvent::PlayDone {
            id: 7,
            interrupted: false,
            ..
        })
    ));
}

/// A session bridging two test sockets (`a` plays the caller, `b` the callee),
/// each side set to its codec.
pub(super) struct Bridge {
    pub(super) s: SessionHandle,
    pub(super) events: mpsc::UnboundedReceiver<SessionEvent>,
    pub(super) a: UdpSocket,
    pub(super) b: UdpSocket,
    pub(super) to_a: SocketAddr,
    pub(super) to_b: SocketAddr,
    _pool: Arc<PortPool>,
}

async fn bridge(base: u16, a: Negotiated, b: Negotiated) -> Bridge {
    bridge_with(base, a, b, Arc::new(Metrics::default())).await
}

/// [`bridge`] counting into `metrics`.
pub(super) async fn bridge_with(
    base: u16,
    a: Negotiated,
    b: Negotiated,
    metrics: Arc<Metrics>,
) -> Bridge {
    let pool = pool(base);
    let (etx, events) = mpsc::unbounded_channel();
    let s = spawn_legs(
        pool.allocate().expect("a"),
        Some(pool.allocate().expect("b")),
        metrics,
        etx,
    );
    let sa = UdpSocket::bind("127.0.0.1:0").await.expect("bind");
    let sb = UdpSocket::bind("127.0.0.1:0").await.expect("bind");
    s.set_remote(A, Some(sa.local_addr().expect("addr")), None);
    s.set_remote(B, Some(sb.local_addr().expect("addr")), None);
    s.send(Cmd::SetCodec {
        leg: A,
        neg: Some(a),
    });
    s.send(Cmd::SetCodec {
        leg: B,
        neg: Some(b),
    });
    let to_a = SocketAddr::from(([127, 0, 0, 1], s.port(A).expect("a")));
    let to_b = SocketAddr::from(([127, 0, 0, 1], s.port(B).expect("b")));
    Bridge {
        s,
        events,
        a: sa,
        b: sb,
        to_a,
        to_b,
        _pool: pool,
    }
}

#[tokio::test]
async fn transcodes_pcmu_to_opus_and_records_both_sides() {
    let dir = tempfile::tempdir().expect("dir");
    let path = dir.path().join("rec/call.wav");
    let Bridge {
        s,
        events: mut erx,
        a: phone,
        b: browser,
        to_a,
        to_b,
        ..
    } = bridge(42080, neg(CodecKind::Pcmu, 0), neg(CodecKind::Opus, 111)).await;
    s.send(Cmd::Record {
        leg: A,
        path: path.clone(),
        silence: None,
    });
    // the phone sends 1 kHz in PCMU, the browser 440 Hz in Opus, for 1.5 s
    let mut pcmu = Encoder::new(CodecKind::Pcmu).expect("enc");
    let mut opus = Encoder::new(CodecKind::Opus).expect("enc");
    let mut tone_a = Sine::new(8000, 1000.0, u32::MAX);
    let mut tone_b = Sine::new(48000, 440.0, u32::MAX);
    let mut opus_dec = Decoder::new(CodecKind::Opus).expect("dec");
    let mut pcmu_dec = Decoder::new(CodecKind::Pcmu).expect("dec");
    let (mut heard_b, mut heard_a) = (Vec::new(), Vec::new());
    let mut tick = tokio::time::interval(PTIME);
    let mut wire = BytesMut::new();
    let mut buf = [0u8; 1500];
    for i in 0..75u16 {
        tick.tick().await;
        let mut f = vec![0i16; 160];
        tone_a.read_frame(&mut f);
        let mut payload = Vec::new();
        pcmu.encode(&f, &mut payload).expect("enc");
        RtpPacket::new(0, i, u32::from(i) * 160, 1, payload.into())
            .write_to(&mut wire)
            .expect("w");
        phone.send_to(&wire, to_a).await.expect("send");
        wire.clear();
        let mut f = vec![0i16; 960];
        tone_b.read_frame(&mut f);
        let mut payload = Vec::new();
        opus.encode(&f, &mut payload).expect("enc");
        RtpPacket::new(111, i, u32::from(i) * 960, 2, payload.into())
            .write_to(&mut wire)
            .expect("w");
        browser.send_to(&wire, to_b).await.expect("send");
        wire.clear();
        while let Ok(Ok((n, _))) =
            tokio::time::timeout(Duration::from_millis(1), browser.recv_from(&mut buf)).await
        {
            let p = RtpPacket::parse(Bytes::copy_from_slice(&buf[..n])).expect("rtp");
            assert_eq!(p.payload_type, 111, "the browser hears Opus");
            opus_dec.decode(&p.payload, &mut heard_b).expect("opus");
        }
        while let Ok(Ok((n, _))) =
            tokio::time::timeout(Duration::from_millis(1), phone.recv_from(&mut buf)).await
        {
            let p = RtpPacket::parse(Bytes::copy_from_slice(&buf[..n])).expect("rtp");
            assert_eq!(p.payload_type, 0, "the phone hears PCMU");
            pcmu_dec.decode(&p.payload, &mut heard_a).expect("pcmu");
        }
    }
    s.send(Cmd::StopRecord);
    assert!(
        heard_b.len() > 48000 / 2,
        "browser heard {} samples",
        heard_b.len()
    );
    let f = crossings_per_second(&heard_b[heard_b.len() / 2..], 48000);
    assert!((950.0..1050.0).contains(&f), "browser heard {f} Hz");
    let f = crossings_per_second(&heard_a[heard_a.len() / 2..], 8000);
    assert!((420.0..460.0).contains(&f), "phone heard {f} Hz");
    let info = loop {
        match tokio::time::timeout(WAIT, erx.recv())
            .await
            .expect("in time")
        {
            Some(SessionEvent::Recorded(r)) => break r.expect("recorded"),
            Some(_) => continue,
            None => panic!("session ended without the recording"),
        }
    };
    assert!(info.duration_ms >= 1000, "{info:?}");
    let mut wav = hound::WavReader::open(&path).expect("wav");
    assert_eq!(wav.spec().channels, 2);
    let samples: Vec<i16> = wav.samples::<i16>().map(|s| s.expect("sample")).collect();
    let left: Vec<i16> = samples.iter().step_by(2).copied().collect();
    let right: Vec<i16> = samples.iter().skip(1).step_by(2).copied().collect();
    let half = left.len() / 2;
    let fl = crossings_per_second(&left[half..], 8000);
    let fr = crossings_per_second(&right[half..], 8000);
    assert!((950.0..1050.0).contains(&fl), "caller channel {fl} Hz");
    assert!((420.0..460.0).contains(&fr), "callee channel {fr} Hz");
}

#[tokio::test]
async fn a_digit_barges_in_on_a_playback_that_allows_it() {
    let pool = pool(42120);
    let (etx, mut erx) = mpsc::unbounded_channel();
    let s = spawn_legs(
        pool.allocate().expect("a"),
        None,
        Arc::new(Metrics::default()),
        etx,
    );
    s.send(Cmd::SetCodec {
        leg: A,
        neg: Some(neg(CodecKind::Pcmu, 0)),
    });
    let tone = |frames_left| Box::new(Sine::new(8000, 440.0, frames_left));
    let digit = |d| Cmd::Digit {
        leg: A,
        event: DtmfEvent {
            digit: d,
            duration_ms: 100,
        },
        source: DtmfSource::Info,
    };
    // without barge-in a digit is reported and the prompt goes on
    s.send(Cmd::Play {
        leg: A,
        source: tone(10_000),
        barge_in: false,
        id: 1,
    });
    s.send(digit(crate::media::dtmf::Digit::D1));
    let ev = tokio::time::timeout(WAIT, erx.recv())
        .await
        .expect("in time");
    assert!(
        matches!(
            ev,
            Some(SessionEvent::Dtmf {
                source: DtmfSource::Info,
                ..
            })
        ),
        "{ev:?}"
    );
    // a new playback replaces it (reported as interrupted), this one allows barge-in
    s.send(Cmd::Play {
        leg: A,
        source: tone(10_000),
        barge_in: true,
        id: 2,
    });
    let ev = tokio::time::timeout(WAIT, erx.recv())
        .await
        .expect("in time");
    assert!(
        matches!(
            ev,
            Some(SessionEvent::PlayDone {
                id: 1,
                interrupted: true,
                ..
            })
        ),
        "{ev:?}"
    );
    s.send(digit(crate::media::dtmf::Digit::Pound));
    let ev = tokio::time::timeout(WAIT, erx.recv())
        .await
        .expect("in time");
    assert!(matches!(ev, Some(SessionEvent::Dtmf { .. })), "{ev:?}");
    let ev = tokio::time::timeout(WAIT, erx.recv())
        .await
        .expect("in time");
    assert!(
        matches!(
            ev,
            Some(SessionEvent::PlayDone {
                id: 2,
                interrupted: true,
                ..
            })
        ),
        "{ev:?}"
    );
}

/// Sends one 20 ms frame of `tone` from `sock` to `to` as `codec`/`pt`.
async fn send_frame(
    sock: &UdpSocket,
    to: SocketAddr,
    codec: CodecKind,
    pt: u8,
    seq: u16,
    tone: &mut Sine,
    enc: &mut Encoder,
) {
    let rate = codec.clock_rate();
    let mut f = vec![0i16; (rate / 50) as usize];
    tone.rate = rate;
    tone.read_frame(&mut f);
    let mut payload = Vec::new();
    enc.encode(&f, &mut payload).expect("enc");
    let mut wire = BytesMut::new();
    RtpPacket::new(
        pt,
        seq,
        u32::from(seq) * rate / 50,
        u32::from(pt) + 1,
        payload.into(),
    )
    .write_to(&mut wire)
    .expect("w");
    sock.send_to(&wire, to).await.expect("send");
}

#[tokio::test]
async fn recording_survives_a_switch_from_relay_to_transcoding() {
    let dir = tempfile::tempdir().expect("dir");
    let path = dir.path().join("switch.wav");
    let Bridge {
        s,
        events: mut erx,
        a: phone,
        b: other,
        to_a,
        to_b,
        ..
    } = bridge(42160, neg(CodecKind::Pcmu, 0), neg(CodecKind::Pcmu, 0)).await;
    s.send(Cmd::Record {
        leg: A,
        path: path.clone(),
        silence: None,
    });
    let mut tone_a = Sine::new(8000, 1000.0, u32::MAX);
    let mut tone_b = Sine::new(8000, 440.0, u32::MAX);
    let mut enc_a = Encoder::new(CodecKind::Pcmu).expect("enc");
    let mut enc_b = Encoder::new(CodecKind::Pcmu).expect("enc");
    let mut tick = tokio::time::interval(PTIME);
    // 1 s relayed (same codec), then the callee re-negotiates to Opus: 1 s transcoded
    for i in 0..100u16 {
        if i == 50 {
            s.send(Cmd::SetCodec {
                leg: B,
                neg: Some(neg(CodecKind::Opus, 111)),
            });
            enc_b = Encoder::new(CodecKind::Opus).expect("enc");
        }
        tick.tick().await;
        send_frame(&phone, to_a, CodecKind::Pcmu, 0, i, &mut tone_a, &mut enc_a).await;
        let (codec, pt) = if i < 50 {
            (CodecKind::Pcmu, 0)
        } else {
            (CodecKind::Opus, 111)
        };
        send_frame(&other, to_b, codec, pt, i, &mut tone_b, &mut enc_b).await;
    }
    s.send(Cmd::StopRecord);
    let info = loop {
        match tokio::time::timeout(WAIT, erx.recv())
            .await
            .expect("in time")
        {
            Some(SessionEvent::Recorded(r)) => break r.expect("recorded"),
            Some(_) => continue,
            None => panic!("no recording"),
        }
    };
    assert!(info.duration_ms >= 1800, "{info:?}");
    let mut wav = hound::WavReader::open(&path).expect("wav");
    let samples: Vec<i16> = wav.samples::<i16>().map(|s| s.expect("sample")).collect();
    let left: Vec<i16> = samples.iter().step_by(2).copied().collect();
    let right: Vec<i16> = samples.iter().skip(1).step_by(2).copied().collect();
    // both halves of both channels hold their side's tone: nothing lost at the switch
    let n = left.len();
    for (name, ch, want) in [("left", &left, 1000.0), ("right", &right, 440.0)] {
        for (half, part) in [
            ("relayed", &ch[n / 10..n / 2 - 800]),
            ("transcoded", &ch[n / 2 + 1600..n * 9 / 10]),
        ] {
            let f = crossings_per_second(part, 8000);
            assert!(
                (f - want).abs() < want * 0.05,
                "{name} channel, {half} part: {f} Hz"
            );
        }
    }
}

/// Sends the telephone-event packets of `plan` due by `now_ms` (PT 101).
async fn send_due_events(
    sock: &UdpSocket,
    to: SocketAddr,
    plan: &[crate::media::dtmf::rfc4733::PlannedPacket],
    now_ms: u32,
    sent: &mut usize,
) {
    let mut wire = BytesMut::new();
    while *sent < plan.len() && plan[*sent].at_ms <= now_ms {
        let p = plan[*sent];
        let payload = Bytes::copy_from_slice(&p.event.encode());
        let mut pkt = RtpPacket::new(101, 100 + *sent as u16, p.timestamp, 9, payload);
        pkt.marker = p.marker;
        wire.clear();
        pkt.write_to(&mut wire).expect("w");
        sock.send_to(&wire, to).await.expect("send");
        *sent += 1;
    }
}

#[tokio::test]
async fn digits_cross_a_transcoding_bridge_as_telephone_events() {
    use crate::media::dtmf::rfc4733::{Rfc4733Receiver, Rfc4733Sender};
    use crate::media::dtmf::Digit;
    let Bridge {
        s: _session,
        events: mut erx,
        a: phone,
        b: browser,
        to_a,
        to_b: _,
        ..
    } = bridge(42200, neg(CodecKind::Pcmu, 0), neg(CodecKind::Opus, 111)).await;
    // the phone presses 4 for 100 ms (RFC 4733, PT 101)
    let plan = Rfc4733Sender::new(8000).plan(Digit::D4, 5000, 100);
    let mut tick = tokio::time::interval(PTIME);
    let mut rx = Rfc4733Receiver::new(8000);
    let mut buf = [0u8; 1500];
    let mut sent = 0;
    for i in 0..40u16 {
        tick.tick().await;
        send_due_events(&phone, to_a, &plan, u32::from(i) * 20, &mut sent).await;
        while let Ok(Ok((n, _))) =
            tokio::time::timeout(Duration::from_millis(1), browser.recv_from(&mut buf)).await
        {
            let p = RtpPacket::parse(Bytes::copy_from_slice(&buf[..n])).expect("rtp");
            if p.payload_type == 101 {
                rx.on_packet(p.timestamp, p.marker, &p.payload)
                    .expect("event");
            } else {
                assert_eq!(p.payload_type, 111, "voice to the browser is Opus");
            }
        }
    }
    let got = rx.poll_event().expect("the browser got the digit");
    assert_eq!((got.digit, got.duration_ms), (Digit::D4, 100));
    assert!(rx.poll_event().is_none(), "exactly one key press");
    // and the bus heard it once, from the phone's side
    let mut digits = 0;
    while let Ok(ev) = erx.try_recv() {
        if let SessionEvent::Dtmf { leg, event, .. } = ev {
            assert_eq!((leg, event.digit), (A, Digit::D4));
            digits += 1;
        }
    }
    assert_eq!(digits, 1);
}

#[tokio::test]
async fn digits_reach_a_leg_without_telephone_event_as_tones() {
    use crate::media::dtmf::goertzel::GoertzelDetector;
    use crate::media::dtmf::rfc4733::Rfc4733Sender;
    use crate::media::dtmf::Digit;
    // the callee speaks PCMA and negotiated no telephone-event
    let no_events = Negotiated {
        te_pt: None,
        ..neg(CodecKind::Pcma, 8)
    };
    let Bridge {
        a: phone,
        b: old_phone,
        to_a,
        s: _session,
        ..
    } = bridge(42240, neg(CodecKind::Pcmu, 0), no_events).await;
    let plan = Rfc4733Sender::new(8000).plan(Digit::D6, 7000, 120);
    let mut tick = tokio::time::interval(PTIME);
    let mut buf = [0u8; 1500];
    let mut dec = Decoder::new(CodecKind::Pcma).expect("dec");
    let mut det = GoertzelDetector::default();
    let mut pcm = Vec::new();
    let mut sent = 0;
    for i in 0..50u16 {
        tick.tick().await;
        send_due_events(&phone, to_a, &plan, u32::from(i) * 20, &mut sent).await;
        while let Ok(Ok((n, _))) =
            tokio::time::timeout(Duration::from_millis(1), old_phone.recv_from(&mut buf)).await
        {
            let p = RtpPacket::parse(Bytes::copy_from_slice(&buf[..n])).expect("rtp");
            assert_eq!(p.payload_type, 8, "only PCMA voice to this leg");
            pcm.clear();
            dec.decode(&p.payload, &mut pcm).expect("pcma");
            det.push(&pcm);
        }
    }
    det.flush();
    let got: Vec<_> = std::iter::from_fn(|| det.poll_event()).collect();
    assert_eq!(got.len(), 1, "{got:?}");
    assert_eq!(got[0].digit, Digit::D6);
    assert!((100..=160).contains(&got[0].duration_ms), "{got:?}");
}

#[tokio::test]
async fn nothing_is_sent_to_a_side_we_answered_recvonly() {
    let pool = pool(42280);
    let (etx, _erx) = mpsc::unbounded_channel();
    let s = spawn_legs(
        pool.allocate().expect("a"),
        None,
        Arc::new(Metrics::default()),
        etx,
    );
    let phone = UdpSocket::bind("127.0.0.1:0").await.expect("bind");
    s.set_remote(A, Some(phone.local_addr().expect("addr")), None);
    s.send(Cmd::SetCodec {
        leg: A,
        neg: Some(neg(CodecKind::Pcmu, 0)),
    });
    let mut buf = [0u8; 1500];
    // the endpoint sends (silence) every 20 ms …
    let (n, _) = recv(&phone, &mut buf).await;
    let first = RtpPacket::parse(Bytes::copy_from_slice(&buf[..n])).expect("rtp");
    // … until the phone puts the call on hold and we answer recvonly
    s.send(Cmd::SetSending { leg: A, on: false });
    tokio::time::sleep(Duration::from_millis(60)).await;
    while phone.try_recv_from(&mut buf).is_ok() {}
    let quiet = tokio::time::timeout(Duration::from_millis(300), phone.recv_from(&mut buf)).await;
    assert!(quiet.is_err(), "media kept coming while on hold");
    // resumed: the stream goes on with its timestamps true to the time that passed
    s.send(Cmd::SetSending { leg: A, on: true });
    let (n, _) = recv(&phone, &mut buf).await;
    let later = RtpPacket::parse(Bytes::copy_from_slice(&buf[..n])).expect("rtp");
    assert_eq!(later.ssrc, first.ssrc);
    let elapsed_ts = later.timestamp.wrapping_sub(first.timestamp);
    assert!(
        elapsed_ts >= 8 * 300,
        "timestamps advanced only {elapsed_ts} over >300 ms"
    );
}

#[tokio::test]
async fn a_recorded_leg_that_falls_silent_is_reported_once() {
    let dir = tempfile::tempdir().expect("dir");
    let Bridge {
        s,
        events: mut erx,
        a: phone,
        to_a,
        ..
    } = bridge(42280, neg(CodecKind::Pcmu, 0), neg(CodecKind::Pcmu, 0)).await;
    s.send(Cmd::Record {
        leg: A,
        path: dir.path().join("vm.wav"),
        silence: Some(Duration::from_millis(400)),
    });
    // 1 s of a loud tone: no silence reported while it lasts
    let mut tone = Sine::new(8000, 1000.0, u32::MAX);
    let mut enc = Encoder::new(CodecKind::Pcmu).expect("enc");
    let mut tick = tokio::time::interval(PTIME);
    let start = tokio::time::Instant::now();
    for seq in 0..50u16 {
        tick.tick().await;
        send_frame(&phone, to_a, CodecKind::Pcmu, 0, seq, &mut tone, &mut enc).await;
        while let Ok(ev) = erx.try_recv() {
            assert!(
                !matches!(ev, SessionEvent::Silence { .. }),
                "silence reported during the tone"
            );
        }
    }
    // then nothing: reported about 400 ms later, once
    let talked = start.elapsed();
    let silent = loop {
        match tokio::time::timeout(Duration::from_secs(2), erx.recv()).await {
            Ok(Some(SessionEvent::Silence { leg })) => {
                assert_eq!(leg, A);
                break start.elapsed() - talked;
            }
            Ok(Some(_)) => continue,
            other => panic!("no silence reported: {other:?}"),
        }
    };
    assert!(
        silent >= Duration::from_millis(300) && silent < Duration::from_millis(900),
        "{silent:?}"
    );
    tokio::time::sleep(Duration::from_millis(600)).await;
    while let Ok(ev) = erx.try_recv() {
        assert!(
            !matches!(ev, SessionEvent::Silence { .. }),
            "reported twice"
        );
    }
}
