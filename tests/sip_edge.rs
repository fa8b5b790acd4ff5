//! The switch's behaviour at the edges, driven over real sockets against the real
//! binary: malformed and hostile input, RFC 4475-style messages, digest details
//! (SHA-256, stale nonces, replay, brute force), TCP framing, WebSocket
//! subprotocol, registration expiry, and TCP connection reuse for calls.

mod common;

use common::{Switch, SwitchOpts};
use md5::{Digest, Md5};
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream, UdpSocket};
use std::time::Duration;

struct Udp {
    sock: UdpSocket,
    to: SocketAddr,
}

impl Udp {
    fn new(to: SocketAddr) -> Udp {
        let sock = UdpSocket::bind("127.0.0.1:0").expect("bind");
        sock.set_read_timeout(Some(Duration::from_secs(3)))
            .expect("timeout");
        Udp { sock, to }
    }
    fn port(&self) -> u16 {
        self.sock.local_addr().expect("addr").port()
    }
    fn send(&self, text: &str) {
        self.sock.send_to(text.as_bytes(), self.to).expect("send");
    }
    fn recv(&self) -> String {
        let mut buf = vec![0u8; 65535];
        let (n, _) = self.sock.recv_from(&mut buf).expect("a response in time");
        String::from_utf8_lossy(&buf[..n]).into_owned()
    }
    /// Receives until a message whose first line does not start with `SIP/2.0 100`.
    fn recv_final(&self) -> String {
        loop {
            let m = self.recv();
            if !m.starts_with("SIP/2.0 100 ") {
                return m;
            }
        }
    }
    fn request(&self, text: &str) -> String {
        self.send(text);
        self.recv_final()
    }
}

fn header<'a>(msg: &'a str, name: &str) -> Option<&'a str> {
    msg.split("\r\n").find_map(|l| {
        let (n, v) = l.split_once(':')?;
        n.trim().eq_ignore_ascii_case(name).then(|| v.trim())
    })
}

fn param<'a>(challenge: &'a str, name: &str) -> Option<&'a str> {
    let start = challenge.find(&format!("{name}="))? + name.len() + 1;
    let rest = &challenge[start..];
    if let Some(r) = rest.strip_prefix('"') {
        r.split('"').next()
    } else {
        rest.split([',', ' ']).next()
    }
}

fn md5_hex(s: &str) -> String {
    hex::encode(Md5::digest(s.as_bytes()))
}
fn sha256_hex(s: &str) -> String {
    hex::encode(sha2::Sha256::digest(s.as_bytes()))
}

/// The Authorization value answering `challenge` (qop=auth, nc given).
fn answer(challenge: &str, user: &str, password: &str, method: &str, uri: &str, nc: u32) -> String {
    let nonce = param(challenge, "nonce").expect("nonce");
    let realm = param(challenge, "realm").expect("realm");
    let sha = challenge.contains("SHA-256");
    let h = |s: &str| if sha { sha256_hex(s) } else { md5_hex(s) };
    let ha1 = h(&format!("{user}:{realm}:{password}"));
    let ha2 = h(&format!("{method}:{uri}"));
    let nc = format!("{nc:08x}");
    let response = h(&format!("{ha1}:{nonce}:{nc}:c0ffee:auth:{ha2}"));
    let alg = if sha { "SHA-256" } else { "MD5" };
    format!("Digest username=\"{user}\", realm=\"{realm}\", nonce=\"{nonce}\", uri=\"{uri}\", response=\"{response}\", algorithm={alg}, qop=auth, nc={nc}, cnonce=\"c0ffee\"")
}

fn register(
    ua: &Udp,
    user: &str,
    cseq: u32,
    expires: u32,
    auth: Option<&str>,
    transport: &str,
) -> String {
    let auth = auth
        .map(|a| format!("Authorization: {a}\r\n"))
        .unwrap_or_default();
    format!(
        "REGISTER sip:127.0.0.1 SIP/2.0\r\nVia: SIP/2.0/{transport} 127.0.0.1:{p};branch=z9hG4bKreg{cseq}x{p};rport\r\nMax-Forwards: 70\r\nFrom: <sip:{user}@127.0.0.1>;tag=r{p}\r\nTo: <sip:{user}@127.0.0.1>\r\nCall-ID: reg-{user}-{p}\r\nCSeq: {cseq} REGISTER\r\nContact: <sip:{user}@127.0.0.1:{p}>\r\nExpires: {expires}\r\n{auth}Content-Length: 0\r\n\r\n",
        p = ua.port()
    )
}

/// Registers `user` over UDP and returns the final response.
fn register_ok(sw: &Switch, ua: &Udp, user: &str, expires: u32) -> String {
    let r = ua.request(&register(ua, user, 1, expires, None, "UDP"));
    assert!(r.starts_with("SIP/2.0 401 "), "{r}");
    let ch = header(&r, "WWW-Authenticate").expect("challenge");
    let a = answer(
        ch,
        user,
        &format!("demo{user}"),
        "REGISTER",
        "sip:127.0.0.1",
        1,
    );
    let r = ua.request(&register(ua, user, 2, expires, Some(&a), "UDP"));
    let _ = sw;
    r
}

fn options(port: u16, extra: &str, branch: &str) -> String {
    format!("OPTIONS sip:127.0.0.1 SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.0.1:{port};branch=z9hG4bK{branch}\r\nMax-Forwards: 70\r\nFrom: <sip:probe@127.0.0.1>;tag=o1\r\nTo: <sip:127.0.0.1>\r\nCall-ID: opt-{branch}\r\nCSeq: 1 OPTIONS\r\n{extra}Content-Length: 0\r\n\r\n")
}

#[test]
fn malformed_input_is_answered_or_dropped_and_the_switch_keeps_serving() {
    let sw = Switch::start_default();
    let ua = Udp::new(sw.sip);
    let p = ua.port();
    // missing Call-ID: 400 naming it
    ua.send(&format!("OPTIONS sip:127.0.0.1 SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.0.1:{p};branch=z9hG4bKm1\r\nFrom: <sip:a@b>;tag=1\r\nTo: <sip:127.0.0.1>\r\nCSeq: 1 OPTIONS\r\nContent-Length: 0\r\n\r\n"));
    let r = ua.recv();
    assert!(
        r.starts_with("SIP/2.0 400 ") && r.contains("Call-ID"),
        "{r}"
    );
    // CSeq method differs from the request method
    ua.send(&format!("OPTIONS sip:127.0.0.1 SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.0.1:{p};branch=z9hG4bKm2\r\nFrom: <sip:a@b>;tag=1\r\nTo: <sip:127.0.0.1>\r\nCall-ID: m2\r\nCSeq: 1 INVITE\r\nContent-Length: 0\r\n\r\n"));
    assert!(ua.recv().starts_with("SIP/2.0 400 "));
    // unknown method: 405 with Allow
    ua.send(&format!("NEWMETHOD sip:127.0.0.1 SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.0.1:{p};branch=z9hG4bKm3\r\nFrom: <sip:a@b>;tag=1\r\nTo: <sip:127.0.0.1>\r\nCall-ID: m3\r\nCSeq: 1 NEWMETHOD\r\nContent-Length: 0\r\n\r\n"));
    let r = ua.recv();
    assert!(r.starts_with("SIP/2.0 405 "), "{r}");
    assert!(
        header(&r, "Allow").is_some_and(|a| a.contains("INVITE")),
        "{r}"
    );
    // an unsupported extension required: 420 with Unsupported
    let r = ua.request(&options(p, "Require: nonsense-ext\r\n", "m4"));
    assert!(r.starts_with("SIP/2.0 420 "), "{r}");
    assert_eq!(header(&r, "Unsupported"), Some("nonsense-ext"));
    // Content-Length beyond the body
    ua.send(&options(p, "", "m5").replace("Content-Length: 0", "Content-Length: 500"));
    assert!(ua.recv().starts_with("SIP/2.0 400 "));
    // pure garbage and binary noise: no answer possible, nothing breaks
    for junk in [
        &b"\x00\xff\xfe garbage"[..],
        b"SIP/2.0 200\r\n\r\n",
        b"INVITE\r\n\r\n",
        &[0x80u8; 1500][..],
    ] {
        ua.sock.send_to(junk, sw.sip).expect("send");
    }
    // still serving
    let r = ua.request(&options(p, "", "m6"));
    assert!(r.starts_with("SIP/2.0 200 "), "{r}");
    assert!(sw.metric("switchyard_sip_parse_errors_total") >= 6.0);
}

#[test]
fn rfc4475_style_messages_are_understood() {
    let sw = Switch::start_default();
    let ua = Udp::new(sw.sip);
    let p = ua.port();
    // compact header names, odd spacing and case, comma-joined Via list
    let m = format!("OPTIONS sip:127.0.0.1 SIP/2.0\r\nv:  SIP/2.0/UDP 127.0.0.1:{p};branch=z9hG4bKc1 , SIP/2.0/UDP 192.0.2.1;branch=z9hG4bKfar\r\nf: <sip:probe@127.0.0.1>;tag=c1\r\nt:<sip:127.0.0.1>\r\ni:compact-1\r\ncseq:  8   OPTIONS\r\nMax-Forwards: 70\r\nl: 0\r\n\r\n");
    let r = ua.request(&m);
    assert!(r.starts_with("SIP/2.0 200 "), "{r}");
    assert_eq!(header(&r, "Call-ID"), Some("compact-1"));
    assert_eq!(r.matches("Via:").count(), 2, "both Via entries echoed: {r}");
    // Max-Forwards: 0 on an INVITE that would be forwarded
    let inv = format!("INVITE sip:1002@127.0.0.1 SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.0.1:{p};branch=z9hG4bKmf0\r\nMax-Forwards: 0\r\nFrom: <sip:1001@127.0.0.1>;tag=x\r\nTo: <sip:1002@127.0.0.1>\r\nCall-ID: mf0\r\nCSeq: 1 INVITE\r\nContent-Length: 0\r\n\r\n");
    let r = ua.request(&inv);
    assert!(r.starts_with("SIP/2.0 483 "), "{r}");
    // in-dialog request for an unknown dialog
    let bye = format!("BYE sip:1002@127.0.0.1 SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.0.1:{p};branch=z9hG4bKb481\r\nMax-Forwards: 70\r\nFrom: <sip:1001@127.0.0.1>;tag=x\r\nTo: <sip:1002@127.0.0.1>;tag=y\r\nCall-ID: nosuchcall\r\nCSeq: 2 BYE\r\nContent-Length: 0\r\n\r\n");
    assert!(ua.request(&bye).starts_with("SIP/2.0 481 "));
    // out-of-dialog SUBSCRIBE is not offered
    let sub = format!("SUBSCRIBE sip:1002@127.0.0.1 SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.0.1:{p};branch=z9hG4bKs405\r\nMax-Forwards: 70\r\nFrom: <sip:1001@127.0.0.1>;tag=x\r\nTo: <sip:1002@127.0.0.1>\r\nCall-ID: sub1\r\nCSeq: 1 SUBSCRIBE\r\nEvent: presence\r\nContent-Length: 0\r\n\r\n");
    assert!(ua.request(&sub).starts_with("SIP/2.0 405 "));
}

#[test]
fn sha256_digest_stale_nonce_and_replay() {
    let sw = Switch::start(SwitchOpts {
        extra_args: vec![
            "--digest-algorithms".into(),
            "sha256,md5".into(),
            "--nonce-ttl".into(),
            "2".into(),
        ],
        ..Default::default()
    });
    let ua = Udp::new(sw.sip);
    let r = ua.request(&register(&ua, "1003", 1, 300, None, "UDP"));
    assert!(r.starts_with("SIP/2.0 401 "), "{r}");
    let challenges: Vec<&str> = r
        .split("\r\n")
        .filter(|l| l.starts_with("WWW-Authenticate:"))
        .collect();
    assert_eq!(challenges.len(), 2, "{r}");
    assert!(
        challenges[0].contains("algorithm=SHA-256"),
        "SHA-256 offered first: {r}"
    );
    let ch = challenges[0]
        .split_once(':')
        .map(|x| x.1.trim())
        .expect("value");
    let a = answer(ch, "1003", "demo1003", "REGISTER", "sip:127.0.0.1", 1);
    let r = ua.request(&register(&ua, "1003", 2, 300, Some(&a), "UDP"));
    assert!(
        r.starts_with("SIP/2.0 200 "),
        "SHA-256 credentials accepted: {r}"
    );
    // the same nonce and nc again is a replay: challenged anew, not accepted
    let r = ua.request(&register(&ua, "1003", 3, 300, Some(&a), "UDP"));
    assert!(r.starts_with("SIP/2.0 401 "), "replay refused: {r}");
    // a correct answer after the nonce expired: 401 with stale=true
    let fresh = header(&r, "WWW-Authenticate")
        .expect("challenge")
        .to_string();
    std::thread::sleep(Duration::from_millis(3200));
    let a = answer(&fresh, "1003", "demo1003", "REGISTER", "sip:127.0.0.1", 1);
    let r = ua.request(&register(&ua, "1003", 4, 300, Some(&a), "UDP"));
    assert!(
        r.starts_with("SIP/2.0 401 ") && r.contains("stale=true"),
        "{r}"
    );
}

#[test]
fn repeated_failures_block_the_source() {
    let sw = Switch::start(SwitchOpts {
        extra_args: vec![
            "--auth-max-failures".into(),
            "3".into(),
            "--auth-cooldown".into(),
            "60".into(),
        ],
        ..Default::default()
    });
    let ua = Udp::new(sw.sip);
    for i in 0..3 {
        let r = ua.request(&register(&ua, "1004", 10 + 2 * i, 300, None, "UDP"));
        let ch = header(&r, "WWW-Authenticate")
            .expect("challenge")
            .to_string();
        let a = answer(
            &ch,
            "1004",
            "wrong-password",
            "REGISTER",
            "sip:127.0.0.1",
            1,
        );
        let r = ua.request(&register(&ua, "1004", 11 + 2 * i, 300, Some(&a), "UDP"));
        assert!(r.starts_with("SIP/2.0 403 "), "wrong password refused: {r}");
    }
    // now even the right password from this source is refused for the cool-down
    let r = ua.request(&register(&ua, "1004", 50, 300, None, "UDP"));
    assert!(
        r.starts_with("SIP/2.0 403 ") && r.contains("Too Many"),
        "{r}"
    );
    assert_eq!(sw.metric("switchyard_auth_blocks_total"), 1.0);
    assert!(sw.metric("switchyard_auth_failures_total") >= 3.0);
    assert_eq!(sw.metric("switchyard_registrations"), 0.0);
}

#[test]
fn registration_expires_on_time() {
    let sw = Switch::start(SwitchOpts {
        extra_args: vec!["--min-expires".into(), "1".into()],
        ..Default::default()
    });
    let callee = Udp::new(sw.sip);
    let r = register_ok(&sw, &callee, "1005", 2);
    assert!(r.starts_with("SIP/2.0 200 "), "{r}");
    assert!(r.contains("expires=2") || r.contains("expires=1"), "{r}");
    assert_eq!(sw.metric("switchyard_registrations"), 1.0);
    std::thread::sleep(Duration::from_millis(2500));
    // a REGISTER without Contact lists the (now empty) bindings
    let ua = Udp::new(sw.sip);
    let list = register(&ua, "1005", 1, 300, None, "UDP");
    let r = ua.request(&list);
    let ch = header(&r, "WWW-Authenticate")
        .expect("challenge")
        .to_string();
    let a = answer(&ch, "1005", "demo1005", "REGISTER", "sip:127.0.0.1", 1);
    let list = register(&ua, "1005", 2, 300, Some(&a), "UDP").replace(
        &format!(
            "Contact: <sip:1005@127.0.0.1:{}>\r\nExpires: 300\r\n",
            ua.port()
        ),
        "",
    );
    let r = ua.request(&list);
    assert!(
        r.starts_with("SIP/2.0 200 ") && !r.contains("Contact:"),
        "no bindings left: {r}"
    );
    sw.wait_metric("switchyard_registrations", Duration::from_secs(8), |v| {
        v == 0.0
    });
}

#[test]
fn tcp_framing_and_pipelining() {
    let sw = Switch::start_default();
    let mut s = TcpStream::connect(sw.sip_tcp).expect("connect");
    s.set_read_timeout(Some(Duration::from_secs(3)))
        .expect("timeout");
    let p = s.local_addr().expect("addr").port();
    let one = options(p, "", "t1").replace("SIP/2.0/UDP", "SIP/2.0/TCP");
    let two = options(p, "", "t2").replace("SIP/2.0/UDP", "SIP/2.0/TCP");
    // two messages in one write, split oddly, with a keep-alive ping between
    let all = format!("{one}\r\n\r\n{two}");
    let (a, b) = all.as_bytes().split_at(37);
    s.write_all(a).expect("write");
    std::thread::sleep(Duration::from_millis(100));
    s.write_all(b).expect("write");
    let mut got = String::new();
    let mut buf = [0u8; 4096];
    while got.matches("SIP/2.0 200 ").count() < 2 {
        let n = s.read(&mut buf).expect("read");
        assert!(n > 0, "connection closed early: {got}");
        got.push_str(&String::from_utf8_lossy(&buf[..n]));
    }
    assert!(
        got.contains("Call-ID: opt-t1") && got.contains("Call-ID: opt-t2"),
        "{got}"
    );
    assert!(
        got.contains("Content-Length: 0"),
        "responses on a stream carry Content-Length: {got}"
    );
    // an oversized message closes the connection
    let huge = format!(
        "OPTIONS sip:127.0.0.1 SIP/2.0\r\nX-Pad: {}\r\n",
        "a".repeat(70_000)
    );
    let _ = s.write_all(huge.as_bytes());
    let closed = (0..20).any(|_| matches!(s.read(&mut buf), Ok(0) | Err(_)));
    assert!(closed, "oversized message must close the connection");
}

#[tokio::test]
async fn websocket_requires_the_sip_subprotocol_and_carries_sip() {
    use futures_util::{SinkExt, StreamExt};
    use tokio_tungstenite::tungstenite::client::IntoClientRequest;
    use tokio_tungstenite::tungstenite::Message;
    let sw = tokio::task::spawn_blocking(Switch::start_default)
        .await
        .expect("start");
    let url = format!("ws://{}/", sw.sip_ws);
    // no subprotocol: refused
    assert!(tokio_tungstenite::connect_async(url.clone()).await.is_err());
    let mut req = url.into_client_request().expect("request");
    req.headers_mut()
        .insert("Sec-WebSocket-Protocol", "sip".parse().expect("header"));
    let (mut ws, resp) = tokio_tungstenite::connect_async(req)
        .await
        .expect("connect with sip subprotocol");
    assert_eq!(
        resp.headers()
            .get("sec-websocket-protocol")
            .and_then(|v| v.to_str().ok()),
        Some("sip")
    );
    let reg = "REGISTER sip:127.0.0.1 SIP/2.0\r\nVia: SIP/2.0/WS df7jal23ls0d.invalid;branch=z9hG4bKws1\r\nMax-Forwards: 70\r\nFrom: <sip:1001@127.0.0.1>;tag=w1\r\nTo: <sip:1001@127.0.0.1>\r\nCall-ID: ws-reg-1\r\nCSeq: 1 REGISTER\r\nContact: <sip:abc@df7jal23ls0d.invalid;transport=ws>\r\nExpires: 300\r\nContent-Length: 0\r\n\r\n";
    ws.send(Message::text(reg)).await.expect("send");
    let msg = tokio::time::timeout(Duration::from_secs(3), ws.next())
        .await
        .expect("in time")
        .expect("frame")
        .expect("ok");
    let text = msg.into_text().expect("text");
    assert!(text.starts_with("SIP/2.0 401 "), "{text}");
    let ch = header(&text, "WWW-Authenticate")
        .expect("challenge")
        .to_string();
    let a = answer(&ch, "1001", "demo1001", "REGISTER", "sip:127.0.0.1", 1);
    let reg2 = reg
        .replace("CSeq: 1", "CSeq: 2")
        .replace("z9hG4bKws1", "z9hG4bKws2")
        .replace(
            "Content-Length: 0",
            &format!("Authorization: {a}\r\nContent-Length: 0"),
        );
    ws.send(Message::text(reg2)).await.expect("send");
    let msg = tokio::time::timeout(Duration::from_secs(3), ws.next())
        .await
        .expect("in time")
        .expect("frame")
        .expect("ok");
    let text = msg.into_text().expect("text");
    assert!(text.starts_with("SIP/2.0 200 "), "{text}");
    assert_eq!(sw.metric("switchyard_registrations"), 1.0);
    drop(sw);
}

#[test]
fn calls_reach_a_tcp_registered_phone_over_its_connection() {
    let sw = Switch::start_default();
    // callee 1002 registers over TCP
    let mut tcp = TcpStream::connect(sw.sip_tcp).expect("connect");
    tcp.set_read_timeout(Some(Duration::from_secs(5)))
        .expect("timeout");
    let p = tcp.local_addr().expect("addr").port();
    let read_msg = |s: &mut TcpStream| -> String {
        let mut got = Vec::new();
        let mut b = [0u8; 1];
        while !got.ends_with(b"\r\n\r\n") {
            let n = s.read(&mut b).expect("read");
            assert!(n > 0, "closed");
            got.push(b[0]);
        }
        let head = String::from_utf8_lossy(&got).into_owned();
        let len: usize = header(&head, "Content-Length")
            .and_then(|v| v.parse().ok())
            .unwrap_or(0);
        let mut body = vec![0u8; len];
        s.read_exact(&mut body).expect("body");
        head + &String::from_utf8_lossy(&body)
    };
    let reg = |cseq: u32, auth: &str| {
        format!("REGISTER sip:127.0.0.1 SIP/2.0\r\nVia: SIP/2.0/TCP 127.0.0.1:{p};branch=z9hG4bKtr{cseq}\r\nMax-Forwards: 70\r\nFrom: <sip:1002@127.0.0.1>;tag=t\r\nTo: <sip:1002@127.0.0.1>\r\nCall-ID: tcpreg\r\nCSeq: {cseq} REGISTER\r\nContact: <sip:1002@127.0.0.1:{p};transport=tcp>\r\nExpires: 300\r\n{auth}Content-Length: 0\r\n\r\n")
    };
    tcp.write_all(reg(1, "").as_bytes()).expect("write");
    let r = read_msg(&mut tcp);
    let ch = header(&r, "WWW-Authenticate")
        .expect("challenge")
        .to_string();
    let a = answer(&ch, "1002", "demo1002", "REGISTER", "sip:127.0.0.1", 1);
    tcp.write_all(reg(2, &format!("Authorization: {a}\r\n")).as_bytes())
        .expect("write");
    assert!(read_msg(&mut tcp).starts_with("SIP/2.0 200 "));
    // caller 1001 over UDP
    let caller = Udp::new(sw.sip);
    let cp = caller.port();
    let sdp = "v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\nm=audio 41000 RTP/AVP 0\r\na=rtpmap:0 PCMU/8000\r\n";
    let invite = |cseq: u32, auth: &str| {
        format!("INVITE sip:1002@127.0.0.1 SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.0.1:{cp};branch=z9hG4bKci{cseq}\r\nMax-Forwards: 70\r\nFrom: <sip:1001@127.0.0.1>;tag=c\r\nTo: <sip:1002@127.0.0.1>\r\nCall-ID: tcpcall\r\nCSeq: {cseq} INVITE\r\nContact: <sip:1001@127.0.0.1:{cp}>\r\n{auth}Content-Type: application/sdp\r\nContent-Length: {}\r\n\r\n{sdp}", sdp.len())
    };
    let r = caller.request(&invite(1, ""));
    assert!(r.starts_with("SIP/2.0 407 "), "{r}");
    caller.send(&format!("ACK sip:1002@127.0.0.1 SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.0.1:{cp};branch=z9hG4bKci1\r\nMax-Forwards: 70\r\nFrom: <sip:1001@127.0.0.1>;tag=c\r\nTo: {}\r\nCall-ID: tcpcall\r\nCSeq: 1 ACK\r\nContent-Length: 0\r\n\r\n", header(&r, "To").expect("to")));
    let ch = header(&r, "Proxy-Authenticate")
        .expect("challenge")
        .to_string();
    let a = answer(&ch, "1001", "demo1001", "INVITE", "sip:1002@127.0.0.1", 1);
    caller.send(&invite(2, &format!("Proxy-Authorization: {a}\r\n")));
    // the INVITE arrives on the registered TCP connection
    let inv = read_msg(&mut tcp);
    assert!(inv.starts_with("INVITE sip:1002@127.0.0.1:"), "{inv}");
    assert!(
        header(&inv, "Via").is_some_and(|v| v.starts_with("SIP/2.0/TCP")),
        "{inv}"
    );
    let busy = format!(
        "SIP/2.0 486 Busy Here\r\nVia: {}\r\nFrom: {}\r\nTo: {};tag=busy\r\nCall-ID: {}\r\nCSeq: {}\r\nContent-Length: 0\r\n\r\n",
        header(&inv, "Via").expect("via"),
        header(&inv, "From").expect("from"),
        header(&inv, "To").expect("to"),
        header(&inv, "Call-ID").expect("cid"),
        header(&inv, "CSeq").expect("cseq")
    );
    tcp.write_all(busy.as_bytes()).expect("write");
    let r = caller.recv_final();
    assert!(
        r.starts_with("SIP/2.0 486 "),
        "busy relayed to the caller: {r}"
    );
}

#[test]
fn loops_are_detected() {
    let sw = Switch::start_default();
    let ua = Udp::new(sw.sip);
    let p = ua.port();
    // an INVITE that already went through this switch (its Via and branch prefix)
    let inv = format!("INVITE sip:1002@127.0.0.1 SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.0.1:{p};branch=z9hG4bKlp1\r\nVia: SIP/2.0/UDP {};branch=z9hG4bKsyearlier\r\nMax-Forwards: 60\r\nFrom: <sip:1001@127.0.0.1>;tag=x\r\nTo: <sip:1002@127.0.0.1>\r\nCall-ID: loop1\r\nCSeq: 1 INVITE\r\nContent-Length: 0\r\n\r\n", sw.sip);
    let r = ua.request(&inv);
    assert!(r.starts_with("SIP/2.0 482 "), "{r}");
}

#[test]
fn connections_per_source_are_capped() {
    let sw = Switch::start(SwitchOpts {
        extra_args: vec!["--max-connections-per-ip".into(), "3".into()],
        ..Default::default()
    });
    let mut conns: Vec<TcpStream> = (0..5)
        .map(|_| TcpStream::connect(sw.sip_tcp).expect("connect"))
        .collect();
    std::thread::sleep(Duration::from_millis(300));
    let mut open = 0;
    for (i, c) in conns.iter_mut().enumerate() {
        c.set_read_timeout(Some(Duration::from_secs(2)))
            .expect("timeout");
        let p = c.local_addr().expect("addr").port();
        let _ = c.write_all(
            options(p, "", &format!("cap{i}"))
                .replace("SIP/2.0/UDP", "SIP/2.0/TCP")
                .as_bytes(),
        );
        let mut buf = [0u8; 2048];
        if matches!(c.read(&mut buf), Ok(n) if n > 0 && buf.starts_with(b"SIP/2.0 200")) {
            open += 1;
        }
    }
    assert_eq!(open, 3, "only 3 connections from one address are served");
    assert!(sw.metric("switchyard_connections_refused_total") >= 2.0);
}

#[test]
fn interval_too_brief_and_wildcard_removal() {
    let sw = Switch::start_default();
    let ua = Udp::new(sw.sip);
    let r = ua.request(&register(&ua, "1003", 1, 30, None, "UDP"));
    let ch = header(&r, "WWW-Authenticate")
        .expect("challenge")
        .to_string();
    let a = answer(&ch, "1003", "demo1003", "REGISTER", "sip:127.0.0.1", 1);
    let r = ua.request(&register(&ua, "1003", 2, 30, Some(&a), "UDP"));
    assert!(r.starts_with("SIP/2.0 423 "), "{r}");
    assert_eq!(header(&r, "Min-Expires"), Some("60"));
    // two contacts (fresh UAs: new branches), then `Contact: *` with Expires: 0 removes both
    let (first, other) = (Udp::new(sw.sip), Udp::new(sw.sip));
    assert!(register_ok(&sw, &first, "1003", 300).starts_with("SIP/2.0 200 "));
    let r = register_ok(&sw, &other, "1003", 300);
    assert_eq!(
        r.matches("Contact:").count(),
        2,
        "both bindings listed: {r}"
    );
    let star = |cseq: u32, auth: Option<&str>| {
        register(&other, "1003", cseq, 0, auth, "UDP")
            .replace(&format!("<sip:1003@127.0.0.1:{}>", other.port()), "*")
    };
    let r = other.request(&star(5, None));
    let ch = header(&r, "WWW-Authenticate")
        .expect("challenge")
        .to_string();
    let a = answer(&ch, "1003", "demo1003", "REGISTER", "sip:127.0.0.1", 1);
    let r = other.request(&star(6, Some(&a)));
    assert!(
        r.starts_with("SIP/2.0 200 ") && !r.contains("Contact:"),
        "{r}"
    );
    assert_eq!(sw.metric("switchyard_registrations"), 0.0);
}

/// Registers `callee` as 1002, places an authenticated call from 1001 and returns the
/// INVITE that reached the callee.
fn call_to_1002(sw: &Switch, caller: &Udp, callee: &Udp, call_id: &str) -> String {
    assert!(register_ok(sw, callee, "1002", 300).starts_with("SIP/2.0 200 "));
    let cp = caller.port();
    let sdp = "v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\nm=audio 41000 RTP/AVP 0\r\na=rtpmap:0 PCMU/8000\r\n";
    let invite = |cseq: u32, auth: &str| {
        format!("INVITE sip:1002@127.0.0.1 SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.0.1:{cp};branch=z9hG4bK{call_id}{cseq}\r\nMax-Forwards: 70\r\nFrom: <sip:1001@127.0.0.1>;tag=c\r\nTo: <sip:1002@127.0.0.1>\r\nCall-ID: {call_id}\r\nCSeq: {cseq} INVITE\r\nContact: <sip:1001@127.0.0.1:{cp}>\r\n{auth}Content-Type: application/sdp\r\nContent-Length: {}\r\n\r\n{sdp}", sdp.len())
    };
    let r = caller.request(&invite(1, ""));
    assert!(r.starts_with("SIP/2.0 407 "), "{r}");
    caller.send(&format!("ACK sip:1002@127.0.0.1 SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.0.1:{cp};branch=z9hG4bK{call_id}1\r\nMax-Forwards: 70\r\nFrom: <sip:1001@127.0.0.1>;tag=c\r\nTo: {}\r\nCall-ID: {call_id}\r\nCSeq: 1 ACK\r\nContent-Length: 0\r\n\r\n", header(&r, "To").expect("to")));
    let ch = header(&r, "Proxy-Authenticate")
        .expect("challenge")
        .to_string();
    let a = answer(&ch, "1001", "demo1001", "INVITE", "sip:1002@127.0.0.1", 1);
    caller.send(&invite(2, &format!("Proxy-Authorization: {a}\r\n")));
    loop {
        let m = callee.recv();
        if m.starts_with("INVITE ") {
            return m;
        }
    }
}

fn reply_to(req: &str, status: &str, extra: &str, body: &str) -> String {
    let vias: Vec<&str> = req
        .split("\r\n")
        .filter(|l| l.starts_with("Via:"))
        .collect();
    format!(
        "SIP/2.0 {status}\r\n{}\r\nFrom: {}\r\nTo: {};tag=callee\r\nCall-ID: {}\r\nCSeq: {}\r\n{extra}Content-Length: {}\r\n\r\n{body}",
        vias.join("\r\n"),
        header(req, "From").expect("from"),
        header(req, "To").expect("to"),
        header(req, "Call-ID").expect("cid"),
        header(req, "CSeq").expect("cseq"),
        body.len()
    )
}

#[test]
fn early_media_183_is_anchored_and_relayed() {
    let sw = Switch::start_default();
    let (caller, callee) = (Udp::new(sw.sip), Udp::new(sw.sip));
    let inv = call_to_1002(&sw, &caller, &callee, "early1");
    let sdp = "v=0\r\no=- 2 2 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\nm=audio 42000 RTP/AVP 0\r\na=rtpmap:0 PCMU/8000\r\n";
    callee.send(&reply_to(
        &inv,
        "183 Session Progress",
        "Content-Type: application/sdp\r\n",
        sdp,
    ));
    let r = caller.recv_final();
    assert!(r.starts_with("SIP/2.0 183 "), "{r}");
    let body = r.split("\r\n\r\n").nth(1).unwrap_or("");
    assert!(body.contains("c=IN IP4 127.0.0.1"), "{body}");
    let port: u16 = body
        .lines()
        .find_map(|l| l.strip_prefix("m=audio "))
        .and_then(|l| l.split(' ').next())
        .and_then(|p| p.parse().ok())
        .expect("m= port");
    assert!(
        port >= sw.rtp_ports.0 && port <= sw.rtp_ports.1,
        "early media anchored on a relay port: {port}"
    );
    assert_ne!(port, 42000);
    callee.send(&reply_to(&inv, "486 Busy Here", "", ""));
    assert!(caller.recv_final().starts_with("SIP/2.0 486 "));
}

#[test]
fn trunk_challenge_is_answered_with_the_trunk_credentials() {
    let sw = Switch::start_default();
    let carrier = UdpSocket::bind(sw.trunk).expect("bind the carrier's address");
    carrier
        .set_read_timeout(Some(Duration::from_secs(5)))
        .expect("timeout");
    let recv = || {
        let mut buf = vec![0u8; 65535];
        loop {
            let (n, from) = carrier.recv_from(&mut buf).expect("carrier receives");
            let m = String::from_utf8_lossy(&buf[..n]).into_owned();
            if !m.starts_with("ACK ") {
                return (m, from);
            }
        }
    };
    let caller = Udp::new(sw.sip);
    let cp = caller.port();
    let sdp = "v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\nm=audio 41000 RTP/AVP 0\r\na=rtpmap:0 PCMU/8000\r\n";
    let invite = |cseq: u32, auth: &str| {
        format!("INVITE sip:+15551234567@127.0.0.1 SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.0.1:{cp};branch=z9hG4bKtk{cseq}\r\nMax-Forwards: 70\r\nFrom: <sip:1001@127.0.0.1>;tag=c\r\nTo: <sip:+15551234567@127.0.0.1>\r\nCall-ID: trunkauth\r\nCSeq: {cseq} INVITE\r\nContact: <sip:1001@127.0.0.1:{cp}>\r\n{auth}Content-Type: application/sdp\r\nContent-Length: {}\r\n\r\n{sdp}", sdp.len())
    };
    let r = caller.request(&invite(1, ""));
    let ch = header(&r, "Proxy-Authenticate")
        .expect("challenge")
        .to_string();
    let a = answer(
        &ch,
        "1001",
        "demo1001",
        "INVITE",
        "sip:+15551234567@127.0.0.1",
        1,
    );
    caller.send(&invite(2, &format!("Proxy-Authorization: {a}\r\n")));
    // the carrier challenges the switch
    let (inv, from) = recv();
    assert!(inv.starts_with("INVITE sip:+15551234567@"), "{inv}");
    assert!(header(&inv, "Proxy-Authorization").is_none());
    let nonce = "carrier-nonce-1";
    let chal = format!("Proxy-Authenticate: Digest realm=\"carrier.example\", nonce=\"{nonce}\", algorithm=MD5, qop=\"auth\"\r\n");
    carrier
        .send_to(
            reply_to(&inv, "407 Proxy Authentication Required", &chal, "").as_bytes(),
            from,
        )
        .expect("send");
    // … and the switch answers with the trunk's credentials
    let (inv2, from) = recv();
    assert!(inv2.starts_with("INVITE "), "{inv2}");
    let auth = header(&inv2, "Proxy-Authorization").expect("credentials on the retried INVITE");
    let p = |k: &str| param(auth, k).map(str::to_string).expect(k);
    assert_eq!(p("username"), "demo-trunk");
    assert_eq!(p("realm"), "carrier.example");
    let (uri, nc, cnonce) = (p("uri"), p("nc"), p("cnonce"));
    let ha1 = md5_hex("demo-trunk:carrier.example:carrier-secret");
    let ha2 = md5_hex(&format!("INVITE:{uri}"));
    let expected = md5_hex(&format!("{ha1}:{nonce}:{nc}:{cnonce}:auth:{ha2}"));
    assert_eq!(
        p("response"),
        expected,
        "digest computed with the trunk password"
    );
    assert!(
        header(&inv2, "CSeq").is_some_and(|c| c.starts_with("2 ")),
        "new CSeq for the retry"
    );
    carrier
        .send_to(reply_to(&inv2, "486 Busy Here", "", "").as_bytes(), from)
        .expect("send");
    assert!(caller.recv_final().starts_with("SIP/2.0 486 "));
}
