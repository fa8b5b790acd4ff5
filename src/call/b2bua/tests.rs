//! The call task on a fake clock. tokio's paused time drives every timer of
//! the call (ring timeout, the wait for the caller's ACK), and the test plays
//! the shards: it reads what the call asks them to send (`ShardMsg`) and
//! feeds the call responses and requests (`CallInput`); time jumps ahead
//! whenever every task waits, so a 30 s ring timeout passes at once. The switch is real
//! (store, directory, registrations, media ports); no SIP socket is used.

use std::net::SocketAddr;
use std::time::Duration;

use rsip::{Request, Response, SipMessage};
use tokio::sync::mpsc;
use tokio::time::Instant;

use super::*;
use crate::call::acd::AcdHandle;
use crate::events::Bus;
use crate::media::ports::PortPool;
use crate::metrics::Metrics;
use crate::sip::auth::NonceManager;
use crate::sip::bruteforce::AuthLimiter;
use crate::sip::registrar::{Policy, Register};
use crate::store::Store;
use crate::switch::directory::Directory;
use crate::switch::registrations::Registrations;
use crate::switch::{CallInput, Settings};
use crate::transport::{LocalAddrs, Transports};

const RING: Duration = Duration::from_secs(30);

pub(super) struct Rig {
    pub(super) sw: Arc<Switch>,
    shard: mpsc::UnboundedReceiver<ShardMsg>,
    _data: tempfile::TempDir,
}

pub(super) async fn rig() -> Rig {
    let data = tempfile::tempdir().expect("tempdir");
    let url = format!("sqlite://{}/t.db?mode=rwc", data.path().display());
    let store = Store::connect(&url).await.expect("store");
    let plan =
        crate::dialplan::load_file(concat!(env!("CARGO_MANIFEST_DIR"), "/dialplans/demo.toml"))
            .expect("demo");
    store.import_dialplan(&plan).await.expect("import");
    let directory = Directory::load(&store).await.expect("directory");
    let metrics = Arc::new(Metrics::default());
    let udp = Arc::new(
        tokio::net::UdpSocket::bind("127.0.0.1:0")
            .await
            .expect("udp"),
    );
    let local = LocalAddrs {
        public_ip: "127.0.0.1".parse().expect("ip"),
        udp_port: 5060,
        tcp_port: 5060,
        ws_port: 5066,
        tls_port: None,
        wss_port: None,
    };
    let transports = Transports::new(udp, local, 100, metrics.clone());
    // a port range of its own per rig (tests run side by side)
    let low = 32_000 + (rand::random::<u16>() % 400) * 64;
    let ports = PortPool::with_metrics(
        low,
        low + 63,
        "127.0.0.1".parse().expect("ip"),
        metrics.clone(),
    );
    let registrations = Registrations::start(store.clone(), metrics.clone(), now_ms())
        .await
        .expect("registrations");
    let settings = Settings {
        ring_timeout: RING,
        policy: policy(),
        digest_algorithms: vec![crate::sip::auth::Algorithm::Md5],
        data_dir: data.path().to_path_buf(),
        media: Arc::new(crate::media::playback::MediaLibrary::new(
            concat!(env!("CARGO_MANIFEST_DIR"), "/media"),
            data.path(),
        )),
    };
    let (sw, mut queues) = Switch::new(
        settings,
        transports,
        store,
        directory,
        registrations,
        NonceManager::new(300),
        AuthLimiter::new(100, Duration::from_secs(60), Duration::from_secs(60)),
        Bus::default(),
        metrics,
        ports,
        1,
    );
    let q = queues.pop().expect("one shard");
    // from here on the clock is fake: it moves only when every task waits
    // (the store was opened on the real one: its pool has timeouts of its own)
    tokio::time::pause();
    Rig {
        sw,
        shard: q.commands,
        _data: data,
    }
}

fn policy() -> Policy {
    Policy {
        min_expires: 60,
        max_expires: 3600,
        default_expires: 3600,
        max_contacts: 10,
    }
}

fn udp(port: u16) -> Target {
    Target {
        kind: TransportKind::Udp,
        addr: SocketAddr::from(([127, 0, 0, 1], port)),
        conn: None,
    }
}

/// A device of `ext` at `port`.
pub(super) fn register(rig: &Rig, ext: &str, port: u16) {
    let contact = format!("<sip:{ext}@127.0.0.1:{port}>");
    let req = Register {
        contacts: vec![contact.as_str()],
        expires_header: Some("3600"),
        call_id: &format!("reg-{ext}-{port}"),
        cseq: 1,
        source: udp(port),
        user_agent: None,
        now_ms: now_ms(),
    };
    rig.sw.registrations.apply("demo", ext, &req, &policy());
}

pub(super) fn parse_request(text: &str) -> Request {
    let text = text.replace('\n', "\r\n");
    match message::parse(text.as_bytes()).expect("parses") {
        SipMessage::Request(r) => r,
        SipMessage::Response(_) => panic!("not a request"),
    }
}

/// 1001 calls `dialled` (already authenticated: the call starts after admission).
fn invite(dialled: &str) -> Request {
    let sdp = "v=0\no=- 1 1 IN IP4 127.0.0.1\ns=-\nc=IN IP4 127.0.0.1\nt=0 0\nm=audio 40000 RTP/AVP 8\na=rtpmap:8 PCMA/8000\n";
    parse_request(&format!(
        "INVITE sip:{dialled}@127.0.0.1 SIP/2.0\n\
         Via: SIP/2.0/UDP 127.0.0.1:7001;branch=z9hG4bK-caller-1\n\
         Max-Forwards: 70\n\
         From: <sip:1001@demo.switchyard.test>;tag=caller\n\
         To: <sip:{dialled}@demo.switchyard.test>\n\
         Call-ID: caller-call-1\n\
         CSeq: 2 INVITE\n\
         Contact: <sip:1001@127.0.0.1:7001>\n\
         Content-Type: application/sdp\n\
         Content-Length: {}\n\n{sdp}",
        sdp.replace('\n', "\r\n").len()
    ))
}

/// The call of 1001 to extension `ext`.
pub(super) fn call(rig: &Rig, ext: &str) -> CallHandle {
    let dir = rig.sw.directory();
    let origin = Origin {
        account: dir.account("demo").expect("demo").clone(),
        caller: "1001".into(),
        display_name: None,
        external_caller_id: None,
        from_trunk: false,
    };
    spawn(
        rig.sw.clone(),
        AcdHandle::detached(),
        TxId(7),
        invite(ext),
        udp(7001),
        origin,
        Destination::Extension { number: ext.into() },
        ext.into(),
    )
}

/// What the call asked the shards to do, in order, without the 100 Trying.
pub(super) async fn next(rig: &mut Rig) -> ShardMsg {
    loop {
        let m = rig.shard.recv().await.expect("the call is gone");
        match &m {
            ShardMsg::Respond { resp, .. } if resp.status_code.code() == 100 => continue,
            _ => return m,
        }
    }
}

/// The next request the call sends on a transaction of its own: (token, request).
pub(super) async fn request(rig: &mut Rig) -> (u64, Request) {
    match next(rig).await {
        ShardMsg::Request { req, token, .. } => (token, req),
        other => panic!("expected a request, got {}", describe(&other)),
    }
}

/// The next status the call answers the caller's INVITE (or CANCEL) with.
async fn status(rig: &mut Rig) -> (TxId, u16) {
    match next(rig).await {
        ShardMsg::Respond { tx, resp } => (tx, resp.status_code.code()),
        other => panic!(
            "expected a response to the caller, got {}",
            describe(&other)
        ),
    }
}

pub(super) fn describe(m: &ShardMsg) -> String {
    match m {
        ShardMsg::Request { req, .. } => format!("request {}", req.method),
        ShardMsg::Respond { resp, .. } => format!("response {}", resp.status_code.code()),
        ShardMsg::Stateless { msg, .. } => match msg {
            SipMessage::Request(r) => format!("stateless {}", r.method),
            SipMessage::Response(r) => format!("stateless {}", r.status_code.code()),
        },
        ShardMsg::Inbound(..) => "inbound".into(),
        ShardMsg::Undeliverable(_) => "undeliverable".into(),
    }
}

/// The callee's answer to the fork's INVITE: `code`, with SDP for a 2xx.
pub(super) fn answer(fork: &Request, code: u16, tag: &str) -> Response {
    let mut r = message::response(fork, code, "X", Some(tag));
    if code == 200 {
        r.headers
            .push(rsip::Header::Contact(rsip::headers::Contact::from(
                "<sip:1002@127.0.0.1:7002>",
            )));
        let sdp = "v=0\r\no=- 2 2 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\nm=audio 40002 RTP/AVP 8\r\na=rtpmap:8 PCMA/8000\r\n";
        message::set_body(
            &mut r.headers,
            &mut r.body,
            sdp.as_bytes().to_vec(),
            Some("application/sdp"),
        );
    }
    r
}

pub(super) async fn settled(rig: &Rig) {
    for _ in 0..100 {
        if rig.sw.metrics.active_calls.load(Relaxed) == 0 {
            return;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    panic!("the call is still counted");
}

#[tokio::test]
async fn a_callee_that_only_rings_is_cancelled_at_the_ring_timeout_and_the_caller_gets_480() {
    let mut rig = rig().await;
    register(&rig, "1002", 7002);
    let h = call(&rig, "1002");
    let t0 = Instant::now();
    let (token, fork) = request(&mut rig).await;
    assert_eq!(fork.method, rsip::Method::Invite);
    h.tx.send(CallInput::Response {
        token,
        resp: answer(&fork, 180, "callee"),
    })
    .expect("send");
    assert_eq!(status(&mut rig).await.1, 180);
    // nothing more happens until the ring timeout: then CANCEL and 480
    let (_, cancel) = request(&mut rig).await;
    let waited = t0.elapsed();
    assert_eq!(cancel.method, rsip::Method::Cancel);
    assert!(
        waited >= RING && waited < RING + Duration::from_secs(1),
        "{waited:?}"
    );
    assert_eq!(status(&mut rig).await.1, 480);
    // the fork ends with 487; the call is gone with its ports
    h.tx.send(CallInput::Response {
        token,
        resp: answer(&fork, 487, "callee"),
    })
    .ok();
    settled(&rig).await;
    assert_eq!(rig.sw.metrics.rtp_port_pairs_in_use.load(Relaxed), 0);
}

#[tokio::test]
async fn the_first_answer_wins_and_a_second_device_that_answers_late_is_released() {
    let mut rig = rig().await;
    register(&rig, "1002", 7002);
    register(&rig, "1002", 7012);
    let h = call(&rig, "1002");
    let (t1, f1) = request(&mut rig).await;
    let (t2, f2) = request(&mut rig).await;
    for (t, f) in [(t1, &f1), (t2, &f2)] {
        h.tx.send(CallInput::Response {
            token: t,
            resp: answer(f, 180, &format!("dev{t}")),
        })
        .expect("send");
    }
    assert_eq!(status(&mut rig).await.1, 180); // relayed once
    h.tx.send(CallInput::Response {
        token: t1,
        resp: answer(&f1, 200, "dev1"),
    })
    .expect("send");
    // the winner is acknowledged, the other device cancelled, the caller answered
    let mut seen = Vec::new();
    for _ in 0..3 {
        seen.push(describe(&next(&mut rig).await));
    }
    seen.sort();
    assert_eq!(seen, ["request CANCEL", "response 200", "stateless ACK"]);
    // the second device answered anyway: acknowledged and hung up at once
    h.tx.send(CallInput::Response {
        token: t2,
        resp: answer(&f2, 200, "dev2"),
    })
    .expect("send");
    assert_eq!(describe(&next(&mut rig).await), "stateless ACK");
    let (_, bye) = request(&mut rig).await;
    assert_eq!(bye.method, rsip::Method::Bye);
    assert_eq!(
        message::call_id(&bye.headers),
        message::call_id(&f2.headers)
    );
    assert_eq!(rig.sw.metrics.active_calls.load(Relaxed), 1);
}

#[tokio::test]
async fn a_caller_that_never_acknowledges_the_200_is_hung_up_after_64_t1() {
    let mut rig = rig().await;
    register(&rig, "1002", 7002);
    let h = call(&rig, "1002");
    let (token, fork) = request(&mut rig).await;
    h.tx.send(CallInput::Response {
        token,
        resp: answer(&fork, 200, "callee"),
    })
    .expect("send");
    let mut answered_at = None;
    // the 200 to the caller is retransmitted (T1, 2·T1, … capped at T2) until the
    // wait ends; then both legs get a BYE
    let mut retransmissions = 0;
    let bye = loop {
        match next(&mut rig).await {
            ShardMsg::Respond { resp, .. } if resp.status_code.code() == 200 => {
                answered_at = Some(Instant::now())
            }
            ShardMsg::Stateless {
                msg: SipMessage::Response(r),
                ..
            } if r.status_code.code() == 200 => retransmissions += 1,
            ShardMsg::Stateless { .. } => {} // the ACK to the callee
            ShardMsg::Request { req, .. } if req.method == rsip::Method::Bye => break req,
            other => panic!("unexpected {}", describe(&other)),
        }
    };
    let waited = answered_at.expect("answered").elapsed();
    assert!(
        waited >= 64 * T1 && waited < 64 * T1 + Duration::from_secs(1),
        "{waited:?}"
    );
    assert!(
        retransmissions >= 7,
        "{retransmissions} retransmissions of the 200"
    );
    let _ = bye;
    settled(&rig).await;
}

#[tokio::test]
async fn a_busy_device_wins_over_one_that_is_unavailable() {
    let mut rig = rig().await;
    register(&rig, "1002", 7002);
    register(&rig, "1002", 7012);
    let h = call(&rig, "1002");
    let (t1, f1) = request(&mut rig).await;
    let (t2, f2) = request(&mut rig).await;
    h.tx.send(CallInput::Response {
        token: t1,
        resp: answer(&f1, 480, "a"),
    })
    .expect("send");
    h.tx.send(CallInput::Response {
        token: t2,
        resp: answer(&f2, 486, "b"),
    })
    .expect("send");
    assert_eq!(status(&mut rig).await.1, 486);
    settled(&rig).await;
}

#[tokio::test]
async fn a_caller_cancelling_while_it_rings_gets_487_and_the_fork_is_cancelled() {
    let mut rig = rig().await;
    register(&rig, "1002", 7002);
    let h = call(&rig, "1002");
    let (token, fork) = request(&mut rig).await;
    h.tx.send(CallInput::Response {
        token,
        resp: answer(&fork, 180, "callee"),
    })
    .expect("send");
    assert_eq!(status(&mut rig).await.1, 180);
    tokio::time::sleep(Duration::from_secs(3)).await;
    let cancel = parse_request(
        "CANCEL sip:1002@127.0.0.1 SIP/2.0\n\
         Via: SIP/2.0/UDP 127.0.0.1:7001;branch=z9hG4bK-caller-1\n\
         Max-Forwards: 70\n\
         From: <sip:1001@demo.switchyard.test>;tag=caller\n\
         To: <sip:1002@demo.switchyard.test>\n\
         Call-ID: caller-call-1\n\
         CSeq: 2 CANCEL\n\
         Content-Length: 0\n\n",
    );
    h.tx.send(CallInput::Cancel {
        tx: TxId(8),
        req: cancel,
    })
    .expect("send");
    assert_eq!(status(&mut rig).await, (TxId(8), 200));
    let mut seen = vec![
        describe(&next(&mut rig).await),
        describe(&next(&mut rig).await),
    ];
    seen.sort();
    assert_eq!(seen, ["request CANCEL", "response 487"]);
}

#[tokio::test]
async fn a_queue_caller_nobody_answers_is_let_go_after_the_queue_s_max_wait() {
    let mut rig = rig().await;
    let acd = crate::call::acd::spawn(rig.sw.clone());
    let dir = rig.sw.directory();
    let sales = dir.queue("demo", "sales").expect("sales").clone();
    let wait = sales
        .max_wait
        .expect("the demo's sales queue has a max wait");
    let origin = Origin {
        account: dir.account("demo").expect("demo").clone(),
        caller: "1001".into(),
        display_name: None,
        external_caller_id: None,
        from_trunk: false,
    };
    let h = spawn(
        rig.sw.clone(),
        acd.clone(),
        TxId(7),
        invite("8100"),
        udp(7001),
        origin,
        Destination::Flow(crate::routing::Callflow::queue(&sales)),
        "8100".into(),
    );
    // the queue answers the caller itself
    let ok = match next(&mut rig).await {
        ShardMsg::Respond { resp, .. } if resp.status_code.code() == 200 => resp,
        other => panic!("expected the 200, got {}", describe(&other)),
    };
    let tag = message::to_value(&ok.headers)
        .and_then(|t| t.split(";tag=").nth(1))
        .expect("To tag")
        .to_string();
    let ack = parse_request(&format!(
        "ACK sip:switchyard@127.0.0.1:5060 SIP/2.0\n\
         Via: SIP/2.0/UDP 127.0.0.1:7001;branch=z9hG4bK-caller-ack\n\
         Max-Forwards: 70\n\
         From: <sip:1001@demo.switchyard.test>;tag=caller\n\
         To: <sip:8100@demo.switchyard.test>;tag={tag}\n\
         Call-ID: caller-call-1\n\
         CSeq: 2 ACK\n\
         Content-Length: 0\n\n"
    ));
    h.tx.send(CallInput::Ack { req: ack }).expect("send");
    let t0 = Instant::now();
    // no agent has a device: the caller waits (music on hold) until the queue gives up
    let (_, bye) = request(&mut rig).await;
    let waited = t0.elapsed();
    assert_eq!(bye.method, rsip::Method::Bye);
    // the fake clock also jumps to the next timer while every task waits on
    // the store's own (real) thread, so a few seconds of slack, not the exact instant
    assert!(
        waited >= wait && waited < wait + Duration::from_secs(5),
        "waited {waited:?} for a max wait of {wait:?}"
    );
    settled(&rig).await;
}
