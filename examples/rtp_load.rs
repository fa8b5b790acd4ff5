//! RTP load generator for the media benchmark (`sip-tests/bench/run.sh rtp`): plays
//! caller *and* callee for N concurrent calls through the switch over plain UDP
//! sockets, 20 ms G.711 packets both ways, and counts at each far end what arrived.
//! (SIPp's pcap player keeps one raw socket per stream open, and on loopback every
//! packet is then offered to each of them; this generator has no such artefact.)
//!
//! Modes (last argument): `relay` (default; G.711 both ways, the switch relays),
//! `opus` (the caller speaks only Opus — real encoded frames — and the callee only
//! PCMU: the switch transcodes every packet both ways), `app` (CALLEE is a dialplan
//! app number the switch answers and plays to; the caller only listens), `webrtc` (the
//! caller is a browser: a str0m peer doing ICE, DTLS-SRTP and Opus on its socket, the
//! callee PCMU — the switch terminates WebRTC and transcodes every packet),
//! `rtpengine` (the reference relay: SWITCH_ADDR is rtpengine's NG control port;
//! each call is an offer and an answer over NG, then the same G.711 streams).
//!
//! In `relay` and `rtpengine` modes every packet carries its send time (the first
//! 8 bytes of the payload, CLOCK_REALTIME ns) and the far end reads the kernel's
//! arrival time (SO_TIMESTAMPNS), so the one-way delay through the relay is
//! measured without the generator's own 20 ms reading cadence in it: p50/p99/max
//! over the measured period (all calls up) are printed with the loss.
//!
//! cargo run --release --example rtp_load -- SWITCH_ADDR CALLS SECONDS CALLER PASS CALLEE PASS [MODE]

use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::sync::Arc;
use std::time::Duration;
use switchyard::sdp;
use switchyard::sip::{auth, message};
use tokio::net::UdpSocket;

type Res<T> = Result<T, Box<dyn std::error::Error + Send + Sync>>;

#[derive(Default)]
struct Counters {
    sent: AtomicU64,
    received: AtomicU64,
    calls_up: AtomicU64,
    /// Packets that were not the far end's (the switch's own, before the bridge).
    foreign: AtomicU64,
}

/// One-way delay histogram: 10 µs buckets up to 500 ms (the last bucket holds the rest).
const DELAY_BUCKET_NS: u64 = 10_000;
const DELAY_BUCKETS: usize = 50_000;
/// Delays are recorded only in the measured period (all calls up, before the stop).
static MEASURING: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);
static DELAYS: std::sync::Mutex<Vec<u64>> = std::sync::Mutex::new(Vec::new());
static PUMPS_DONE: AtomicU64 = AtomicU64::new(0);
/// The latest a pump's turn came in the measured period (µs).
static LATE_MAX_US: AtomicU64 = AtomicU64::new(0);
/// Packets received in the measured period.
static RECEIVED_MEASURED: AtomicU64 = AtomicU64::new(0);

/// CPU seconds (user + system, all threads) a process used so far, from
/// /proc/PID/stat ("self" for the generator).
fn cpu_seconds(pid: &str) -> f64 {
    let Ok(stat) = std::fs::read_to_string(format!("/proc/{pid}/stat")) else {
        return 0.0;
    };
    // the fields after the command name (which may hold spaces) in parentheses
    let rest = stat.rsplit_once(')').map_or("", |x| x.1);
    let f: Vec<&str> = rest.split_whitespace().collect();
    let ticks: f64 = [11, 12]
        .iter()
        .filter_map(|&i| f.get(i).and_then(|v| v.parse::<f64>().ok()))
        .sum();
    ticks / 100.0
}

fn realtime_ns() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos() as u64)
        .unwrap_or(0)
}

/// Receives one datagram without blocking, with the kernel's arrival time (ns,
/// CLOCK_REALTIME) when the socket has SO_TIMESTAMPNS on.
fn recv_stamped(sock: &std::net::UdpSocket, buf: &mut [u8]) -> Option<(usize, Option<u64>)> {
    use nix::sys::socket::{recvmsg, ControlMessageOwned, MsgFlags, SockaddrStorage};
    use std::os::fd::AsRawFd;
    let mut cmsg = nix::cmsg_space!(nix::sys::time::TimeSpec);
    let mut iov = [std::io::IoSliceMut::new(buf)];
    let msg = recvmsg::<SockaddrStorage>(
        sock.as_raw_fd(),
        &mut iov,
        Some(&mut cmsg),
        MsgFlags::MSG_DONTWAIT,
    )
    .ok()?;
    let mut at = None;
    if let Ok(cmsgs) = msg.cmsgs() {
        for c in cmsgs {
            if let ControlMessageOwned::ScmTimestampns(ts) = c {
                at = Some(ts.tv_sec() as u64 * 1_000_000_000 + ts.tv_nsec() as u64);
            }
        }
    }
    Some((msg.bytes, at))
}

/// A plain RTP socket of the generator: bound on loopback, non-blocking, never
/// registered with the runtime (the pumps poll it), arrival times on.
fn rtp_socket() -> Res<std::net::UdpSocket> {
    let s = std::net::UdpSocket::bind("127.0.0.1:0")?;
    s.set_nonblocking(true)?;
    nix::sys::socket::setsockopt(&s, nix::sys::socket::sockopt::ReceiveTimestampns, &true)?;
    Ok(s)
}

fn header<'a>(msg: &'a str, name: &str) -> Option<&'a str> {
    msg.split("\r\n").find_map(|l| {
        let (n, v) = l.split_once(':')?;
        n.trim().eq_ignore_ascii_case(name).then(|| v.trim())
    })
}

fn body(msg: &str) -> &str {
    msg.split_once("\r\n\r\n").map(|x| x.1).unwrap_or("")
}

fn media_dest(msg: &str) -> Option<SocketAddr> {
    sdp::parse_media(body(msg)).ok()?.rtp_destination()
}

fn offer(port: u16) -> String {
    format!("v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\nm=audio {port} RTP/AVP 8\r\na=rtpmap:8 PCMA/8000\r\n")
}

fn pcmu_offer(port: u16) -> String {
    format!("v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\nm=audio {port} RTP/AVP 0\r\na=rtpmap:0 PCMU/8000\r\n")
}

fn opus_offer(port: u16) -> String {
    format!("v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\nm=audio {port} RTP/AVP 111\r\na=rtpmap:111 opus/48000/2\r\n")
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Mode {
    Relay,
    Opus,
    App,
    WebRtc,
    RtpEngine,
}

/// What one side sends every 20 ms: payload type, timestamp step, payloads to cycle.
#[derive(Clone)]
struct Voice {
    pt: u8,
    ts_step: u32,
    payloads: Arc<Vec<Vec<u8>>>,
    /// Send at all (an app caller only listens).
    send: bool,
    /// Carry the send time in the payload (relayed untouched, so the far end
    /// can tell the one-way delay).
    stamp: bool,
}

impl Voice {
    fn pcma() -> Voice {
        Voice {
            pt: 8,
            ts_step: 160,
            payloads: Arc::new(vec![vec![0xD5; 160]]),
            send: true,
            stamp: false,
        }
    }

    fn pcmu() -> Voice {
        Voice {
            pt: 0,
            ts_step: 160,
            payloads: Arc::new(vec![vec![0xFF; 160]]),
            send: true,
            stamp: false,
        }
    }

    /// One second of a 440 Hz tone, really Opus-encoded (the switch decodes it).
    fn opus() -> Voice {
        static OPUS: std::sync::OnceLock<Voice> = std::sync::OnceLock::new();
        OPUS.get_or_init(Voice::encode_opus).clone()
    }

    fn encode_opus() -> Voice {
        use switchyard::media::codec::OpusEncoder;
        let mut enc = OpusEncoder::new().expect("opus encoder");
        let mut phase = 0.0f32;
        let payloads = (0..50)
            .map(|_| {
                let pcm: Vec<i16> = (0..960)
                    .map(|_| {
                        phase += 2.0 * std::f32::consts::PI * 440.0 / 48_000.0;
                        (phase.sin() * 8000.0) as i16
                    })
                    .collect();
                let mut out = Vec::new();
                enc.encode(&pcm, &mut out).expect("encode");
                out
            })
            .collect();
        Voice {
            pt: 111,
            ts_step: 960,
            payloads: Arc::new(payloads),
            send: true,
            stamp: false,
        }
    }
}

async fn recv_text(sock: &UdpSocket, secs: u64) -> Res<String> {
    let mut buf = vec![0u8; 65535];
    let (n, _) =
        tokio::time::timeout(Duration::from_secs(secs), sock.recv_from(&mut buf)).await??;
    Ok(String::from_utf8_lossy(&buf[..n]).into_owned())
}

/// One RTP stream of the generator: a socket, where it sends, what it says.
struct Stream {
    sock: std::net::UdpSocket,
    dest: SocketAddr,
    voice: Voice,
    seq: u16,
    ssrc: u32,
}

/// A pump sends one packet on each of its streams every 20 ms and reads what
/// arrived since, without waking per packet: the generator must cost far less
/// than the switch it loads, on the same two cores.
struct Pump {
    streams: std::sync::Mutex<Vec<Stream>>,
    browsers: std::sync::Mutex<Vec<BrowserStream>>,
}

/// A browser caller's media: its WebRTC stack on its socket, Opus frames out.
struct BrowserStream {
    sock: Arc<UdpSocket>,
    rtc: str0m::Rtc,
    mid: str0m::media::Mid,
    voice: Voice,
    seq: u64,
}

impl BrowserStream {
    /// One 20 ms turn: a frame out once connected, every datagram in; returns
    /// (sent, received) RTP packets.
    fn turn(&mut self, now: std::time::Instant, sending: bool, buf: &mut [u8]) -> (u64, u64) {
        use str0m::net::{Protocol, Receive};
        use str0m::Input;
        let (mut sent, mut received) = (0, 0);
        if sending && self.rtc.is_connected() {
            let payload = self.voice.payloads[(self.seq % 50) as usize].clone();
            let ts = (self.seq as u32).wrapping_mul(self.voice.ts_step);
            if let Some(tx) = self.rtc.direct_api().stream_tx_by_mid(self.mid, None) {
                let ok = tx.write_rtp(
                    self.voice.pt.into(),
                    (self.seq + 1).into(),
                    ts,
                    now,
                    false,
                    Default::default(),
                    false,
                    payload,
                );
                if ok.is_ok() {
                    sent += 1;
                }
            }
            self.seq += 1;
        }
        let Ok(local) = self.sock.local_addr() else {
            return (sent, received);
        };
        while let Ok((n, src)) = self.sock.try_recv_from(buf) {
            if let Ok(r) = Receive::new(Protocol::Udp, src, local, &buf[..n]) {
                let _ = self.rtc.handle_input(Input::Receive(now, r));
                received += self.drain();
            }
        }
        let _ = self.rtc.handle_input(Input::Timeout(now));
        received += self.drain();
        (sent, received)
    }

    fn drain(&mut self) -> u64 {
        use str0m::{Event, Output};
        let mut got = 0;
        loop {
            match self.rtc.poll_output() {
                Ok(Output::Transmit(t)) => {
                    let _ = self.sock.try_send_to(&t.contents, t.destination);
                }
                Ok(Output::Event(Event::RtpPacket(_))) => got += 1,
                Ok(Output::Event(_)) => {}
                Ok(Output::Timeout(_)) | Err(_) => return got,
            }
        }
    }
}

/// Pumps tick 2 ms apart, spreading the generator's work over the 20 ms period.
const PUMPS: usize = 10;
static PUMP_SET: std::sync::OnceLock<Vec<Arc<Pump>>> = std::sync::OnceLock::new();
static NEXT_PUMP: AtomicU64 = AtomicU64::new(0);

fn pumps(
    counters: &Arc<Counters>,
    stop: &tokio::sync::watch::Receiver<bool>,
) -> &'static [Arc<Pump>] {
    PUMP_SET.get_or_init(|| {
        (0..PUMPS)
            .map(|i| {
                let pump = Arc::new(Pump {
                    streams: std::sync::Mutex::new(Vec::new()),
                    browsers: std::sync::Mutex::new(Vec::new()),
                });
                let phase = Duration::from_millis(2 * i as u64);
                tokio::spawn(run_pump(
                    pump.clone(),
                    counters.clone(),
                    stop.clone(),
                    phase,
                ));
                pump
            })
            .collect()
    })
}

async fn run_pump(
    pump: Arc<Pump>,
    counters: Arc<Counters>,
    stop: tokio::sync::watch::Receiver<bool>,
    phase: Duration,
) {
    let mut tick = tokio::time::interval_at(
        tokio::time::Instant::now() + phase,
        Duration::from_millis(20),
    );
    // independent phones: a turn the generator missed is skipped, not sent in a
    // burst with the next one (which would load the relay as no real calls do);
    // how late the turns came is reported
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
    let mut buf = [0u8; 2048];
    let mut pkt = Vec::with_capacity(1500);
    let mut delays = vec![0u64; DELAY_BUCKETS];
    // after the stop, keep reading for 300 ms: the last packets in flight arrive
    let mut drain_ticks: Option<u32> = None;
    loop {
        let due = tick.tick().await;
        if MEASURING.load(Relaxed) {
            let late = due.elapsed().as_micros() as u64;
            LATE_MAX_US.fetch_max(late, Relaxed);
        }
        if *stop.borrow() && drain_ticks.is_none() {
            drain_ticks = Some(15);
        }
        let sending = drain_ticks.is_none();
        let (mut sent, mut received) = (0u64, 0u64);
        {
            let mut streams = pump.streams.lock().unwrap_or_else(|e| e.into_inner());
            for s in streams.iter_mut() {
                if sending && s.voice.send {
                    let payload = &s.voice.payloads[usize::from(s.seq) % s.voice.payloads.len()];
                    pkt.clear();
                    pkt.extend_from_slice(&[0x80, s.voice.pt]);
                    pkt.extend_from_slice(&s.seq.to_be_bytes());
                    pkt.extend_from_slice(
                        &(u32::from(s.seq).wrapping_mul(s.voice.ts_step)).to_be_bytes(),
                    );
                    pkt.extend_from_slice(&s.ssrc.to_be_bytes());
                    pkt.extend_from_slice(payload);
                    if s.voice.stamp && pkt.len() >= 20 {
                        pkt[12..20].copy_from_slice(&realtime_ns().to_be_bytes());
                    }
                    s.seq = s.seq.wrapping_add(1);
                    if s.sock.send_to(&pkt, s.dest).is_ok() {
                        sent += 1;
                    }
                }
                let measuring = MEASURING.load(Relaxed);
                while let Some((n, at)) = recv_stamped(&s.sock, &mut buf) {
                    // a stamped stream counts only its far end's packets: what the
                    // switch sends itself (silence before the bridge) is not relayed
                    let stamp = (s.voice.stamp && n >= 20).then(|| {
                        let mut b = [0u8; 8];
                        b.copy_from_slice(&buf[12..20]);
                        u64::from_be_bytes(b)
                    });
                    let now = realtime_ns();
                    if stamp.is_some_and(|t| t > now + 60_000_000_000 || t + 60_000_000_000 < now) {
                        counters.foreign.fetch_add(1, Relaxed);
                        continue;
                    }
                    received += 1;
                    if measuring {
                        RECEIVED_MEASURED.fetch_add(1, Relaxed);
                    }
                    if let (true, Some(t), Some(at)) = (measuring, stamp, at) {
                        let d = at.saturating_sub(t) / DELAY_BUCKET_NS;
                        delays[(d as usize).min(DELAY_BUCKETS - 1)] += 1;
                    }
                }
            }
        }
        {
            let now = std::time::Instant::now();
            let mut browsers = pump.browsers.lock().unwrap_or_else(|e| e.into_inner());
            for b in browsers.iter_mut() {
                let (s, r) = b.turn(now, sending, &mut buf);
                sent += s;
                received += r;
            }
        }
        counters.sent.fetch_add(sent, Relaxed);
        counters.received.fetch_add(received, Relaxed);
        if let Some(left) = drain_ticks.as_mut() {
            if *left == 0 {
                let mut all = DELAYS.lock().unwrap_or_else(|e| e.into_inner());
                all.resize(DELAY_BUCKETS, 0);
                for (a, d) in all.iter_mut().zip(&delays) {
                    *a += d;
                }
                PUMPS_DONE.fetch_add(1, Relaxed);
                return;
            }
            *left -= 1;
        }
    }
}

/// Sends 20 ms packets to `dest` until `stop`, and counts what `sock` receives.
fn stream(
    sock: std::net::UdpSocket,
    dest: SocketAddr,
    counters: Arc<Counters>,
    stop: tokio::sync::watch::Receiver<bool>,
    voice: Voice,
) {
    let set = pumps(&counters, &stop);
    let i = NEXT_PUMP.fetch_add(1, Relaxed) as usize % set.len();
    set[i]
        .streams
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .push(Stream {
            sock,
            dest,
            voice,
            seq: 0,
            ssrc: rand::random(),
        });
}

/// Adds a connected-or-connecting browser caller to a pump.
fn browser_stream(
    b: BrowserStream,
    counters: Arc<Counters>,
    stop: tokio::sync::watch::Receiver<bool>,
) {
    let set = pumps(&counters, &stop);
    let i = NEXT_PUMP.fetch_add(1, Relaxed) as usize % set.len();
    set[i]
        .browsers
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .push(b);
}

/// A browser's offer: a str0m peer (full ICE, DTLS) with its host candidate
/// on `rtp`, Opus and PCMU, one audio section.
fn browser_offer(
    rtp: &UdpSocket,
) -> Res<(
    str0m::Rtc,
    str0m::change::SdpPendingOffer,
    str0m::media::Mid,
    String,
)> {
    use str0m::media::{Direction, MediaKind};
    let mut rtc = str0m::Rtc::builder()
        .set_rtp_mode(true)
        .clear_codecs()
        .enable_opus(true)
        .enable_pcmu(true)
        .build();
    rtc.add_local_candidate(str0m::Candidate::host(rtp.local_addr()?, "udp")?);
    let mut api = rtc.sdp_api();
    let mid = api.add_media(MediaKind::Audio, Direction::SendRecv, None, None, None);
    let (offer, pending) = api.apply().ok_or("no offer")?;
    Ok((rtc, pending, mid, offer.to_sdp_string()))
}

/// This run's random token (in Call-IDs and branches).
fn run_id() -> u32 {
    static RUN: std::sync::OnceLock<u32> = std::sync::OnceLock::new();
    *RUN.get_or_init(rand::random)
}

struct Ua {
    sock: UdpSocket,
    switch: SocketAddr,
    user: String,
    pass: String,
}

impl Ua {
    fn port(&self) -> u16 {
        self.sock.local_addr().map(|a| a.port()).unwrap_or(0)
    }

    async fn register(&self) -> Res<()> {
        let p = self.port();
        let req = |cseq: u32, auth: &str| {
            format!("REGISTER sip:{sw} SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.0.1:{p};branch=z9hG4bKrl{cseq}{p}\r\nMax-Forwards: 70\r\nFrom: <sip:{u}@{sw}>;tag=rl{p}\r\nTo: <sip:{u}@{sw}>\r\nCall-ID: rl-{p}\r\nCSeq: {cseq} REGISTER\r\nContact: <sip:{u}@127.0.0.1:{p}>\r\nExpires: 3600\r\n{auth}Content-Length: 0\r\n\r\n", sw = self.switch.ip(), u = self.user)
        };
        self.sock
            .send_to(req(1, "").as_bytes(), self.switch)
            .await?;
        let r = recv_text(&self.sock, 5).await?;
        let ch = header(&r, "WWW-Authenticate").ok_or("no challenge")?;
        let a = auth::client_authorization(
            ch,
            &self.user,
            &self.pass,
            "REGISTER",
            &format!("sip:{}", self.switch.ip()),
        )
        .ok_or("cannot answer")?;
        self.sock
            .send_to(
                req(2, &format!("Authorization: {a}\r\n")).as_bytes(),
                self.switch,
            )
            .await?;
        let r = recv_text(&self.sock, 5).await?;
        if !r.starts_with("SIP/2.0 200") {
            return Err(format!("register failed: {}", r.lines().next().unwrap_or("")).into());
        }
        Ok(())
    }
}

/// The callee: answers every INVITE with its own RTP socket, streams until BYE.
async fn callee(
    mode: Mode,
    ua: Ua,
    counters: Arc<Counters>,
    stop: tokio::sync::watch::Receiver<bool>,
) -> Res<()> {
    let mut buf = vec![0u8; 65535];
    // answers already given, by Call-ID: a retransmitted INVITE gets the same 200 again
    let mut answered: std::collections::HashMap<String, String> = std::collections::HashMap::new();
    loop {
        let (n, from) = ua.sock.recv_from(&mut buf).await?;
        let m = String::from_utf8_lossy(&buf[..n]).into_owned();
        let reply = |code: &str, extra: &str, b: &str| {
            let vias: Vec<&str> = m.split("\r\n").filter(|l| l.starts_with("Via:")).collect();
            format!(
                "SIP/2.0 {code}\r\n{}\r\nFrom: {}\r\nTo: {};tag=ld\r\nCall-ID: {}\r\nCSeq: {}\r\n{extra}Content-Length: {}\r\n\r\n{b}",
                vias.join("\r\n"),
                header(&m, "From").unwrap_or(""),
                header(&m, "To").unwrap_or("").split(";tag=").next().unwrap_or(""),
                header(&m, "Call-ID").unwrap_or(""),
                header(&m, "CSeq").unwrap_or(""),
                b.len()
            )
        };
        if m.starts_with("INVITE ") {
            let cid = header(&m, "Call-ID").unwrap_or("").to_string();
            if let Some(ok) = answered.get(&cid) {
                ua.sock.send_to(ok.as_bytes(), from).await?;
                continue;
            }
            let rtp = rtp_socket()?;
            let port = rtp.local_addr()?.port();
            let dest = media_dest(&m).ok_or("INVITE without SDP")?;
            // the transcoding benchmark's callee is a G.711 µ-law phone
            let (sdp, voice) = if matches!(mode, Mode::Opus | Mode::WebRtc) {
                (pcmu_offer(port), Voice::pcmu())
            } else {
                (
                    offer(port),
                    Voice {
                        stamp: mode == Mode::Relay,
                        ..Voice::pcma()
                    },
                )
            };
            let extra = format!(
                "Contact: <sip:{}@127.0.0.1:{}>\r\nContent-Type: application/sdp\r\n",
                ua.user,
                ua.port()
            );
            let ok = reply("200 OK", &extra, &sdp);
            ua.sock.send_to(ok.as_bytes(), from).await?;
            answered.insert(cid, ok);
            stream(rtp, dest, counters.clone(), stop.clone(), voice);
        } else if m.starts_with("BYE ") {
            answered.remove(header(&m, "Call-ID").unwrap_or(""));
            ua.sock
                .send_to(reply("200 OK", "", "").as_bytes(), from)
                .await?;
        }
    }
}

/// One caller: INVITE with auth, ACK, stream for `secs`, BYE.
async fn call(
    switch: SocketAddr,
    user: String,
    pass: String,
    callee: String,
    counters: Arc<Counters>,
    stop: tokio::sync::watch::Receiver<bool>,
    mode: Mode,
) -> Res<()> {
    let sock = UdpSocket::bind("127.0.0.1:0").await?;
    let rtp = rtp_socket()?;
    let (p, rp) = (sock.local_addr()?.port(), rtp.local_addr()?.port());
    let mut browser = None;
    let mut rtp = Some(rtp);
    let (sdp, voice) = match mode {
        Mode::WebRtc => {
            let sock = Arc::new(UdpSocket::from_std(rtp.take().ok_or("socket")?)?);
            let (rtc, pending, mid, sdp) = browser_offer(&sock)?;
            browser = Some((rtc, pending, mid, sock));
            (sdp, Voice::opus())
        }
        Mode::Relay | Mode::RtpEngine => (
            offer(rp),
            Voice {
                stamp: true,
                ..Voice::pcma()
            },
        ),
        Mode::Opus => (opus_offer(rp), Voice::opus()),
        Mode::App => (
            offer(rp),
            Voice {
                send: false,
                ..Voice::pcma()
            },
        ),
    };
    // unique across runs too: a port reused by the next run must not look like a
    // retransmission of an INVITE the switch still remembers (RFC 6026: 32 s)
    let run = run_id();
    let cid = format!("ld-{run}-{p}");
    let ruri = format!("sip:{callee}@{}", switch.ip());
    let invite = |cseq: u32, auth: &str| {
        format!("INVITE {ruri} SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.0.1:{p};branch=z9hG4bKld{run}{cseq}{p}\r\nMax-Forwards: 70\r\nFrom: <sip:{user}@{}>;tag=c{p}\r\nTo: <{ruri}>\r\nCall-ID: {cid}\r\nCSeq: {cseq} INVITE\r\nContact: <sip:{user}@127.0.0.1:{p}>\r\n{auth}Content-Type: application/sdp\r\nContent-Length: {}\r\n\r\n{sdp}", switch.ip(), sdp.len())
    };
    sock.send_to(invite(1, "").as_bytes(), switch).await?;
    let r = recv_text(&sock, 10).await?;
    let to = header(&r, "To").unwrap_or("").to_string();
    let ack1 = format!("ACK {ruri} SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.0.1:{p};branch=z9hG4bKld{run}1{p}\r\nMax-Forwards: 70\r\nFrom: <sip:{user}@{}>;tag=c{p}\r\nTo: {to}\r\nCall-ID: {cid}\r\nCSeq: 1 ACK\r\nContent-Length: 0\r\n\r\n", switch.ip());
    sock.send_to(ack1.as_bytes(), switch).await?;
    let ch = header(&r, "Proxy-Authenticate").ok_or("no challenge")?;
    let a = auth::client_authorization(ch, &user, &pass, "INVITE", &ruri).ok_or("cannot answer")?;
    sock.send_to(
        invite(2, &format!("Proxy-Authorization: {a}\r\n")).as_bytes(),
        switch,
    )
    .await?;
    let ok = loop {
        let r = recv_text(&sock, 10).await?;
        if !header(&r, "CSeq").is_some_and(|c| c.starts_with("2 ")) {
            continue; // a retransmitted answer to the first INVITE
        }
        if r.starts_with("SIP/2.0 200") {
            break r;
        }
        if !r.starts_with("SIP/2.0 1") {
            return Err(format!("call failed: {}", r.lines().next().unwrap_or("")).into());
        }
    };
    let to = header(&ok, "To").unwrap_or("").to_string();
    let target = header(&ok, "Contact")
        .map(message::uri_part)
        .unwrap_or(&ruri)
        .to_string();
    let in_dialog = |method: &str, cseq: u32, branch: &str| {
        format!("{method} {target} SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.0.1:{p};branch=z9hG4bK{run}{branch}{p}\r\nMax-Forwards: 70\r\nFrom: <sip:{user}@{}>;tag=c{p}\r\nTo: {to}\r\nCall-ID: {cid}\r\nCSeq: {cseq} {method}\r\nContent-Length: 0\r\n\r\n", switch.ip())
    };
    sock.send_to(in_dialog("ACK", 2, "ack").as_bytes(), switch)
        .await?;
    counters.calls_up.fetch_add(1, Relaxed);
    if let Some((mut rtc, pending, mid, rtp)) = browser {
        let answer = str0m::change::SdpAnswer::from_sdp_string(body(&ok))?;
        if let Err(e) = rtc.sdp_api().accept_answer(pending, answer) {
            if std::env::var_os("RTPLOAD_DEBUG").is_some() {
                eprintln!("offer:\n{sdp}\nanswer:\n{}", body(&ok));
            }
            return Err(e.into());
        }
        let b = BrowserStream {
            sock: rtp,
            rtc,
            mid,
            voice,
            seq: 0,
        };
        browser_stream(b, counters, stop.clone());
    } else {
        let dest = media_dest(&ok).ok_or("200 without SDP")?;
        stream(rtp.ok_or("socket")?, dest, counters, stop.clone(), voice);
    }
    let mut stop = stop;
    let _ = stop.changed().await;
    tokio::time::sleep(Duration::from_millis(400)).await;
    sock.send_to(in_dialog("BYE", 3, "bye").as_bytes(), switch)
        .await?;
    let _ = recv_text(&sock, 5).await;
    Ok(())
}

#[tokio::main]
async fn main() -> Res<()> {
    let a: Vec<String> = std::env::args().collect();
    if a.len() < 8 {
        eprintln!("usage: rtp_load SWITCH_ADDR CALLS SECONDS CALLER PASS CALLEE PASS");
        std::process::exit(2);
    }
    let switch: SocketAddr = a[1].parse()?;
    let (calls, secs): (u64, u64) = (a[2].parse()?, a[3].parse()?);
    let mode = match a.get(8).map(String::as_str) {
        None | Some("relay") => Mode::Relay,
        Some("opus") => Mode::Opus,
        Some("app") => Mode::App,
        Some("webrtc") => Mode::WebRtc,
        Some("rtpengine") => Mode::RtpEngine,
        Some(m) => return Err(format!("unknown mode {m}").into()),
    };
    let counters = Arc::new(Counters::default());
    let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
    let callee_ua = Ua {
        sock: UdpSocket::bind("127.0.0.1:0").await?,
        switch,
        user: a[6].clone(),
        pass: a[7].clone(),
    };
    if mode == Mode::RtpEngine {
        return rtpengine_main(switch, calls, secs, counters, stop_tx, stop_rx).await;
    }
    if mode != Mode::App {
        callee_ua.register().await?;
        tokio::spawn(callee(mode, callee_ua, counters.clone(), stop_rx.clone()));
    }
    let mut handles = Vec::new();
    for i in 0..calls {
        handles.push(tokio::spawn(call(
            switch,
            a[4].clone(),
            a[5].clone(),
            a[6].clone(),
            counters.clone(),
            stop_rx.clone(),
            mode,
        )));
        if i % 25 == 24 {
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
    measure(&counters, calls, secs, &stop_tx).await;
    finish(handles, &counters, calls).await;
    Ok(())
}

/// Waits for every call to be up (20 s at most), then measures for `secs`.
async fn measure(
    counters: &Counters,
    calls: u64,
    secs: u64,
    stop_tx: &tokio::sync::watch::Sender<bool>,
) {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    while counters.calls_up.load(Relaxed) < calls && tokio::time::Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    // a second for the last calls' streams to settle before delays count
    tokio::time::sleep(Duration::from_secs(1)).await;
    // the system under test's CPU over the measured period (WATCH_PID), and ours
    let watched = std::env::var("WATCH_PID").ok();
    let t0 = std::time::Instant::now();
    let c0 = watched.as_deref().map(cpu_seconds);
    let own0 = cpu_seconds("self");
    MEASURING.store(true, Relaxed);
    tokio::time::sleep(Duration::from_secs(secs)).await;
    MEASURING.store(false, Relaxed);
    let wall = t0.elapsed().as_secs_f64();
    let own = (cpu_seconds("self") - own0) / wall;
    let mut line = format!(
        "generator_cpu_share={own:.2} generator_late_max_ms={:.1}",
        LATE_MAX_US.load(Relaxed) as f64 / 1000.0
    );
    if let (Some(pid), Some(c0)) = (watched.as_deref(), c0) {
        let used = cpu_seconds(pid) - c0;
        // packets still arriving in the pumps' last reads are counted a moment later
        tokio::time::sleep(Duration::from_millis(50)).await;
        let pkts = RECEIVED_MEASURED.load(Relaxed).max(1);
        line.push_str(&format!(
            " sut_cpu_share={:.2} sut_cpu_us_per_packet={:.2}",
            used / wall,
            used * 1e6 / pkts as f64
        ));
    }
    let _ = MEASURED.set(line);
    let _ = stop_tx.send(true);
}

/// The CPU figures of the measured period, printed with the rest.
static MEASURED: std::sync::OnceLock<String> = std::sync::OnceLock::new();

/// Joins the calls and prints the figures.
async fn finish(handles: Vec<tokio::task::JoinHandle<Res<()>>>, counters: &Counters, calls: u64) {
    let mut failed = 0;
    for h in handles {
        match h.await {
            Ok(Ok(())) => {}
            Ok(Err(e)) => {
                failed += 1;
                if failed <= 3 {
                    eprintln!("call failed: {e}");
                }
            }
            Err(e) => {
                failed += 1;
                eprintln!("call task failed: {e}");
            }
        }
    }
    // the pumps merge their delays and counts once they drained the last packets
    let started = PUMP_SET.get().map_or(0, |p| p.len() as u64);
    for _ in 0..40 {
        if PUMPS_DONE.load(Relaxed) >= started {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let sent = counters.sent.load(Relaxed);
    let received = counters.received.load(Relaxed);
    let loss = if sent > 0 {
        100.0 * (sent.saturating_sub(received)) as f64 / sent as f64
    } else {
        100.0
    };
    let delays = DELAYS.lock().unwrap_or_else(|e| e.into_inner()).clone();
    let n: u64 = delays.iter().sum();
    let pct = |q: f64| -> f64 {
        let want = (q * n as f64).ceil() as u64;
        let mut seen = 0;
        for (i, c) in delays.iter().enumerate() {
            seen += c;
            if seen >= want.max(1) {
                return (i as u64 * DELAY_BUCKET_NS + DELAY_BUCKET_NS) as f64 / 1e6;
            }
        }
        0.0
    };
    let delay = if n > 0 {
        format!(
            " delay_samples={n} delay_p50_ms={:.2} delay_p99_ms={:.2} delay_max_ms={:.2}",
            pct(0.5),
            pct(0.99),
            pct(1.0)
        )
    } else {
        String::new()
    };
    println!(
        "RTPLOAD calls={} up={} failed={failed} sent={sent} received={received} foreign={} loss_pct={loss:.3}{delay} {}",
        calls,
        counters.calls_up.load(Relaxed),
        counters.foreign.load(Relaxed),
        MEASURED.get().map_or("", String::as_str)
    );
}

/// The reference relay: each call is an NG `offer` (the caller's SDP) and
/// `answer` (the callee's) to rtpengine, then the same streams as `relay` mode
/// through the ports rtpengine put in the SDPs it returned; `delete` at the end.
async fn rtpengine_main(
    ng: SocketAddr,
    calls: u64,
    secs: u64,
    counters: Arc<Counters>,
    stop_tx: tokio::sync::watch::Sender<bool>,
    stop_rx: tokio::sync::watch::Receiver<bool>,
) -> Res<()> {
    let mut handles = Vec::new();
    for i in 0..calls {
        handles.push(tokio::spawn(rtpengine_call(
            ng,
            i,
            counters.clone(),
            stop_rx.clone(),
        )));
        if i % 25 == 24 {
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
    measure(&counters, calls, secs, &stop_tx).await;
    finish(handles, &counters, calls).await;
    Ok(())
}

/// One NG request (a bencoded dictionary of strings behind a cookie); returns
/// the SDP of the reply.
async fn ng_request(ng: SocketAddr, fields: &[(&str, &str)]) -> Res<Option<String>> {
    let sock = UdpSocket::bind("127.0.0.1:0").await?;
    let cookie = format!("{:08x}", rand::random::<u32>());
    let mut msg = format!("{cookie} d");
    for (k, v) in fields {
        msg.push_str(&format!("{}:{k}{}:{v}", k.len(), v.len()));
    }
    msg.push('e');
    for _ in 0..3 {
        sock.send_to(msg.as_bytes(), ng).await?;
        let mut buf = vec![0u8; 65535];
        let Ok(Ok((n, _))) =
            tokio::time::timeout(Duration::from_secs(2), sock.recv_from(&mut buf)).await
        else {
            continue;
        };
        let reply = String::from_utf8_lossy(&buf[..n]).into_owned();
        if !reply.contains("6:result2:ok") {
            return Err(format!("rtpengine refused: {reply}").into());
        }
        let Some(at) = reply.find("3:sdp") else {
            return Ok(None);
        };
        let rest = &reply[at + 5..];
        let colon = rest.find(':').ok_or("bad bencode")?;
        let len: usize = rest[..colon].parse()?;
        return Ok(Some(rest[colon + 1..colon + 1 + len].to_string()));
    }
    Err("rtpengine did not answer".into())
}

async fn rtpengine_call(
    ng: SocketAddr,
    i: u64,
    counters: Arc<Counters>,
    stop: tokio::sync::watch::Receiver<bool>,
) -> Res<()> {
    let (caller, callee) = (rtp_socket()?, rtp_socket()?);
    let cid = format!("re-{}-{i}", run_id());
    let (ft, tt) = (format!("f{i}"), format!("t{i}"));
    let offered = offer(caller.local_addr()?.port());
    let to_callee = ng_request(
        ng,
        &[
            ("command", "offer"),
            ("call-id", &cid),
            ("from-tag", &ft),
            ("sdp", &offered),
        ],
    )
    .await?
    .ok_or("offer without SDP")?;
    let answered = offer(callee.local_addr()?.port());
    let to_caller = ng_request(
        ng,
        &[
            ("command", "answer"),
            ("call-id", &cid),
            ("from-tag", &ft),
            ("to-tag", &tt),
            ("sdp", &answered),
        ],
    )
    .await?
    .ok_or("answer without SDP")?;
    let callee_dest = sdp::parse_media(&to_callee)?
        .rtp_destination()
        .ok_or("no media")?;
    let caller_dest = sdp::parse_media(&to_caller)?
        .rtp_destination()
        .ok_or("no media")?;
    counters.calls_up.fetch_add(1, Relaxed);
    let voice = Voice {
        stamp: true,
        ..Voice::pcma()
    };
    stream(
        caller,
        caller_dest,
        counters.clone(),
        stop.clone(),
        voice.clone(),
    );
    stream(callee, callee_dest, counters, stop.clone(), voice);
    let mut stop = stop;
    let _ = stop.changed().await;
    tokio::time::sleep(Duration::from_millis(400)).await;
    ng_request(
        ng,
        &[("command", "delete"), ("call-id", &cid), ("from-tag", &ft)],
    )
    .await?;
    Ok(())
}
