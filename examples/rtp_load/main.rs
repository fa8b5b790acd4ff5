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

mod measure;
mod pump;
mod rtpengine;

use measure::*;
use pump::*;
use rtpengine::*;

type Res<T> = Result<T, Box<dyn std::error::Error + Send + Sync>>;

#[derive(Default)]
struct Counters {
    sent: AtomicU64,
    received: AtomicU64,
    calls_up: AtomicU64,
    /// Packets that were not the far end's (the switch's own, before the bridge).
    foreign: AtomicU64,
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
