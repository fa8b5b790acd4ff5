//! Browser agents in a real browser: headless Chromium (Debian's, driven by
//! playwright-core through `sip-tests/browser/agent.mjs`) opens the agent page
//! the switch serves over HTTPS with a `switchyard cert dev` certificate, signs
//! in, registers over secure WebSocket with its short-lived credential, and
//! takes calls with WebRTC media (ICE-lite, DTLS-SRTP, Opus) bridged to a
//! baresip phone's plain RTP, or to another page. Chromium's microphone is a
//! WAV file of a 1 kHz tone.
//!
//! Needs `chromium` (Debian) and `npm ci` in `sip-tests/browser` (`.ci/run`
//! does both); these tests never skip silently.

mod common;

use common::baresip::{
    assert_baresip_installed, read_wav, write_tone_wav, write_tone_wav_at, Phone,
};
use common::{describe, free_port, rms, tone_frequency, Switch, SwitchOpts};
use serde_json::{json, Value};
use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::mpsc;
use std::thread;
use std::time::{Duration, Instant};

/// What the browser's fake microphone sends.
const BROWSER_TONE: f64 = 1_000.0;
/// What the baresip caller sends.
const CALLER_TONE: f64 = 440.0;

fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// One Chromium under playwright, speaking the driver's JSON-lines protocol.
struct Browser {
    child: Child,
    stdin: ChildStdin,
    lines: mpsc::Receiver<String>,
    log: PathBuf,
}

impl Browser {
    fn start(dir: &Path, fake_audio: &Path) -> Browser {
        let driver = repo().join("sip-tests/browser");
        assert!(
            driver.join("node_modules/playwright-core").exists(),
            "playwright-core is not installed: run `npm ci` in sip-tests/browser (.ci/run does)"
        );
        let chromium = std::env::var("CHROMIUM").unwrap_or_else(|_| "/usr/bin/chromium".into());
        assert!(
            Path::new(&chromium).exists(),
            "{chromium} is missing: install Debian's chromium (.ci/run does)"
        );
        let log = dir.join("browser.log");
        let err = std::fs::File::create(&log).expect("browser log");
        let mut child = Command::new("node")
            .arg(driver.join("agent.mjs"))
            .arg("--fake-audio")
            .arg(fake_audio)
            .current_dir(&driver)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(err)
            .spawn()
            .expect("run node sip-tests/browser/agent.mjs");
        let stdin = child.stdin.take().expect("stdin");
        let stdout = child.stdout.take().expect("stdout");
        let (tx, lines) = mpsc::channel();
        thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                if tx.send(line).is_err() {
                    return;
                }
            }
        });
        Browser {
            child,
            stdin,
            lines,
            log,
        }
    }

    /// Sends one command and returns its answer, which must be `ok`.
    fn cmd(&mut self, cmd: Value) -> Value {
        let reply = self.try_cmd(cmd.clone());
        assert!(
            reply["ok"] == json!(true),
            "browser command {cmd} failed: {reply}\n{}",
            self.log_text()
        );
        reply
    }

    fn try_cmd(&mut self, cmd: Value) -> Value {
        writeln!(self.stdin, "{cmd}").expect("write to the browser driver");
        self.stdin.flush().expect("flush");
        let line = self
            .lines
            .recv_timeout(Duration::from_secs(60))
            .unwrap_or_else(|_| panic!("no answer to {cmd}\n{}", self.log_text()));
        serde_json::from_str(&line).unwrap_or_else(|e| panic!("driver said {line:?}: {e}"))
    }

    fn log_text(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// Opens the agent page as `page` and signs in as `ext` (demo password).
    fn sign_in(&mut self, rig: &Rig, page: &str, ext: &str) {
        let url = format!("https://127.0.0.1:{}/agent/", rig.https);
        self.cmd(json!({"cmd": "open", "url": url, "page": page}));
        let password = format!("demo{ext}");
        self.cmd(json!({"cmd": "login", "extension": ext, "password": password, "page": page}));
    }

    /// Waits until the page's `key` state is `value`.
    fn wait_in_call_state(&mut self, page: &str, key: &str, value: bool) {
        self.cmd(json!({"cmd": "wait_state", "key": key, "value": value, "timeout_ms": 15000, "page": page}));
    }

    /// Polls the page's RTP figures until `pred` holds.
    fn wait_stats(&mut self, page: &str, what: &str, pred: impl Fn(&Value) -> bool) -> Value {
        let until = Instant::now() + Duration::from_secs(10);
        loop {
            let r = self.try_cmd(json!({"cmd": "stats", "page": page}));
            if r["ok"] == json!(true) && pred(&r["stats"]) {
                return r["stats"].clone();
            }
            assert!(Instant::now() < until, "{what}: last figures {r}");
            thread::sleep(Duration::from_millis(300));
        }
    }
}

impl Drop for Browser {
    fn drop(&mut self) {
        let _ = writeln!(self.stdin, "{}", json!({"cmd": "close"}));
        let until = Instant::now() + Duration::from_secs(5);
        while Instant::now() < until {
            if let Ok(Some(_)) = self.child.try_wait() {
                return;
            }
            thread::sleep(Duration::from_millis(50));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Rig {
    /// A Chromium whose microphone is the rig's tone.
    fn browser(&self) -> Browser {
        Browser::start(self.sw.tmp.path(), &self.tone)
    }
}

/// The switch with TLS listeners (a development pair written by `cert dev`).
struct Rig {
    sw: Switch,
    https: u16,
    tone: PathBuf,
    /// One browser test at a time: a Chromium, a switch and WebRTC media each
    /// are a lot for two cores, and a starved page times out.
    _serial: std::sync::MutexGuard<'static, ()>,
}

static SERIAL: std::sync::Mutex<()> = std::sync::Mutex::new(());

fn rig() -> Rig {
    rig_with(SwitchOpts::default())
}

/// [`rig`] with the switch's other options (e.g. the trunk's address).
fn rig_with(opts: SwitchOpts) -> Rig {
    let serial = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let certs = tempfile::tempdir().expect("tempdir").keep();
    let out = Command::new(env!("CARGO_BIN_EXE_switchyard"))
        .args(["cert", "dev", "--data-dir"])
        .arg(&certs)
        .output()
        .expect("switchyard cert dev");
    assert!(out.status.success(), "cert dev: {out:?}");
    let printed: Value = serde_json::from_slice(&out.stdout).expect("cert dev prints JSON");
    let (cert, key) = (
        printed["cert"].as_str().expect("cert").to_string(),
        printed["key"].as_str().expect("key").to_string(),
    );
    let (https, wss) = (free_port(), free_port());
    let mut extra = opts.extra_args.clone();
    extra.extend([
        "--https".into(),
        format!("127.0.0.1:{https}"),
        "--sip-wss".into(),
        format!("127.0.0.1:{wss}"),
        "--tls-cert".into(),
        cert,
        "--tls-key".into(),
        key,
    ]);
    let sw = Switch::start(SwitchOpts {
        extra_args: extra,
        ..opts
    });
    let tone = certs.join("tone-1000.wav");
    // 48 kHz mono, as Chromium's fake microphone reads it
    write_tone_wav_at(&tone, BROWSER_TONE, 60, 48_000, 1);
    Rig {
        sw,
        https,
        tone,
        _serial: serial,
    }
}

/// Waits until at least `n` events named `name` arrived; they and all before them.
fn wait_count(events: &common::Events, name: &str, n: usize) -> Vec<common::Event> {
    let evs = events.wait_for(Duration::from_secs(10), |e| {
        e.iter().filter(|e| e.name == name).count() >= n
    });
    assert!(
        evs.iter().filter(|e| e.name == name).count() >= n,
        "fewer than {n} {name}:\n{}",
        describe(&evs)
    );
    evs
}

/// The page's inbound audio is sound, not silence.
fn sound(s: &Value) -> bool {
    s["inbound"]["audioLevel"].as_f64().unwrap_or(0.0) > 0.01
}

/// The digits the switch reported, in order.
fn digits(evs: &[common::Event]) -> String {
    evs.iter()
        .filter(|e| e.name == "dtmf")
        .map(|e| e.str("digit").to_string())
        .collect()
}

fn inbound_packets(s: &Value) -> u64 {
    s["inbound"]["packetsReceived"].as_u64().unwrap_or(0)
}

/// The headline path: a baresip phone (1001, PCMU, its microphone a 440 Hz
/// tone) dials the `sales` queue (8100); agent 1002 answers in the browser
/// (Opus: the switch transcodes); the page hears the caller and the caller
/// hears the browser's 1 kHz; hold and resume work and media flows again;
/// keypad digits from the page reach the switch; the caller hangs up and
/// both channels are destroyed.
#[test]
fn a_browser_agent_answers_a_queue_call_from_a_baresip_phone() {
    assert_baresip_installed();
    let rig = rig();
    let sw = &rig.sw;
    let events = sw.events();
    let mut b = rig.browser();
    b.sign_in(&rig, "a", "1002");
    b.cmd(json!({"cmd": "set_state", "state": "available"}));
    let caller_tone = sw.tmp.path().join("tone-440.wav");
    write_tone_wav(&caller_tone, CALLER_TONE, 40);
    let mut phone = Phone::start(sw, "1001", &caller_tone, false);
    // both registered: the page over WSS with its short-lived credential
    let regs = sw.wait_metric("switchyard_registrations", Duration::from_secs(10), |v| {
        v >= 2.0
    });
    assert_eq!(regs, 2.0, "the page and the phone should be registered");

    phone.command(&format!("/dial sip:8100@{}", sw.sip));
    let incoming = b.cmd(json!({"cmd": "wait_incoming", "timeout_ms": 20000}));
    assert_eq!(incoming["incoming"]["queue"], json!("sales"), "{incoming}");
    assert_eq!(incoming["incoming"]["caller"], json!("1001"), "{incoming}");
    assert!(
        incoming["incoming"]["wait"].as_u64().is_some(),
        "{incoming}"
    );
    b.cmd(json!({"cmd": "answer"}));
    let evs = events.wait_for(Duration::from_secs(8), |e| {
        e.iter().any(|e| e.name == "QUEUE_MEMBER_ANSWER")
    });
    let answer = evs
        .iter()
        .find(|e| e.name == "QUEUE_MEMBER_ANSWER")
        .unwrap_or_else(|| panic!("no QUEUE_MEMBER_ANSWER:\n{}", describe(&evs)));
    assert_eq!(answer.str("to_user_id"), "1002");

    // the browser hears the caller: packets flow and carry sound
    let first = b.wait_stats("a", "packets reach the browser", |s| {
        inbound_packets(s) > 20
    });
    let later = b.wait_stats("a", "the browser hears sound", |s| {
        inbound_packets(s) > inbound_packets(&first) + 50 && sound(s)
    });
    assert!(
        later["outbound"]["packetsSent"].as_u64().unwrap_or(0) > 50,
        "{later}"
    );
    let shots = repo().join("target/browser-artifacts");
    let _ = std::fs::create_dir_all(&shots);
    b.cmd(json!({"cmd": "screenshot", "path": shots.join("agent-queue-call.png")}));

    // hold and resume (re-INVITEs from the browser; the caller hears music meanwhile)
    b.cmd(json!({"cmd": "hold"}));
    b.cmd(json!({"cmd": "wait_state", "key": "onHold", "value": true, "timeout_ms": 5000}));
    b.cmd(json!({"cmd": "unhold"}));
    b.cmd(json!({"cmd": "wait_state", "key": "onHold", "value": false, "timeout_ms": 5000}));
    let before = inbound_packets(&b.cmd(json!({"cmd": "stats"}))["stats"]);
    b.wait_stats("a", "media flows again after resume", |s| {
        inbound_packets(s) > before + 50
    });
    // keypad digits from the page (SIP INFO): reported by the switch
    b.cmd(json!({"cmd": "dtmf", "digits": "12"}));
    let evs = wait_count(&events, "dtmf", 2);
    assert_eq!(digits(&evs), "12", "{}", describe(&evs));
    // the last seconds of the call: what the caller hears is the browser
    thread::sleep(Duration::from_secs(3));

    // the caller hangs up: the page goes idle and both channels are destroyed
    phone.command("/hangup");
    b.cmd(json!({"cmd": "wait_state", "key": "inCall", "value": false, "timeout_ms": 10000}));
    wait_count(&events, "channel_destroy", 2);
    // the page lists the queue call it answered among its recent calls
    let until = Instant::now() + Duration::from_secs(8);
    loop {
        let list = b.cmd(json!({"cmd": "text", "selector": "#recent-list"}));
        if list["text"].as_str().unwrap_or("").contains("1001") {
            break;
        }
        assert!(Instant::now() < until, "recent calls: {list}");
        thread::sleep(Duration::from_millis(500));
    }
    phone.quit();
    let heard = read_wav(&phone.heard());
    // the 2.5 s before the hang-up (after resume): the browser's microphone
    let end = heard.len().saturating_sub(4_000);
    let tail = &heard[end.saturating_sub(20_000)..end];
    let f = tone_frequency(tail);
    assert!(
        (f - BROWSER_TONE).abs() < 60.0 && rms(tail) > 0.02,
        "the caller heard {f:.0} Hz at RMS {:.3} from the browser",
        rms(tail)
    );
}

/// Two agents in two pages: 1002 calls 1003 and they talk (both browsers'
/// media through the switch), keypad digits arrive (SIP INFO), then the
/// caller's page hangs up.
#[test]
fn two_browser_agents_call_each_other_and_hang_up_from_the_page() {
    let rig = rig();
    let sw = &rig.sw;
    let events = sw.events();
    let mut b = rig.browser();
    b.sign_in(&rig, "a", "1002");
    b.sign_in(&rig, "b", "1003");
    b.cmd(json!({"cmd": "dial", "target": "1003", "page": "a"}));
    let incoming = b.cmd(json!({"cmd": "wait_incoming", "timeout_ms": 15000, "page": "b"}));
    assert_eq!(incoming["incoming"]["caller"], json!("1002"), "{incoming}");
    b.cmd(json!({"cmd": "answer", "page": "b"}));
    b.cmd(json!({"cmd": "wait_state", "key": "inCall", "value": true, "timeout_ms": 10000, "page": "a"}));
    for p in ["a", "b"] {
        b.wait_stats(p, "each page hears the other", |s| {
            inbound_packets(s) > 50 && sound(s)
        });
    }
    b.cmd(json!({"cmd": "dtmf", "digits": "12", "page": "a"}));
    let evs = wait_count(&events, "dtmf", 2);
    assert_eq!(digits(&evs), "12", "{}", describe(&evs));
    b.cmd(json!({"cmd": "hangup", "page": "a"}));
    b.cmd(json!({"cmd": "wait_state", "key": "inCall", "value": false, "timeout_ms": 10000, "page": "b"}));
    wait_count(&events, "channel_destroy", 2);
    // page b's tab dies (its WebSocket closes, no un-REGISTER): its binding
    // goes with it, so nobody rings a dead flow
    let before = sw.metric("switchyard_registrations");
    assert_eq!(before, 2.0);
    b.cmd(json!({"cmd": "close_page", "page": "b"}));
    let after = sw.wait_metric("switchyard_registrations", Duration::from_secs(5), |v| {
        v <= 1.0
    });
    assert_eq!(after, 1.0, "the closed page's binding should be gone");
}

/// The voice API's click-to-call to a user whose phone is the browser: the
/// page rings first (showing the number it will call), answers, and then the
/// customer on the trunk (SIPp playing a 1 kHz tone, PCMA) is bridged to it.
#[test]
fn click_to_call_rings_the_users_browser_then_the_customer() {
    let rig = rig_with(SwitchOpts {
        trunk_ip: common::OTHER_HOST.to_string(),
        ..SwitchOpts::default()
    });
    let sw = &rig.sw;
    let events = sw.events();
    let mut b = rig.browser();
    b.sign_in(&rig, "a", "1002");
    sw.wait_metric("switchyard_registrations", Duration::from_secs(5), |v| {
        v >= 1.0
    });
    // (the switch latches onto the port SIPp plays its tone from: what reaches the
    // customer is not observable here; the queue test checks that direction)
    let customer_rtp = common::RtpSink::bind_on(&sw.trunk.ip().to_string());
    let customer = common::carrier(sw, "carrier_uas_tone.xml", Some(customer_rtp.port));
    let dev = common::voice::key(sw, "demo", "developer", &[]);
    let body = json!({"from": "1002", "to": "+15551234567"});
    let r = common::voice::post(sw, "/v3/voice/demo/call/outbound", &dev, &body, None);
    let res = common::voice::assert_ok(&r).clone();
    let incoming = b.cmd(json!({"cmd": "wait_incoming", "timeout_ms": 15000}));
    assert_eq!(
        incoming["incoming"]["caller"],
        json!("+15551234567"),
        "{incoming}"
    );
    b.cmd(json!({"cmd": "answer"}));
    // the customer's tone reaches the page (the other way is the queue test's)
    // (the customer's 2 s tone: polled while it plays)
    b.wait_stats("a", "the page hears the customer", |s| {
        inbound_packets(s) > 10 && sound(s)
    });
    let call = res["call_id"].as_str().expect("call_id");
    let r = common::voice::request(
        sw,
        "DELETE",
        &format!("/v3/voice/demo/calls/{call}"),
        &[("X-API-Key", &dev)],
        None,
    );
    common::voice::assert_ok(&r);
    customer.wait().assert_ok();
    b.cmd(json!({"cmd": "wait_state", "key": "inCall", "value": false, "timeout_ms": 10000}));
    let evs = events.wait_for(Duration::from_secs(8), |e| {
        e.iter().any(|e| e.name == "CALL_ENDED")
    });
    assert!(
        evs.iter().any(|e| e.name == "USER_ANSWER"),
        "{}",
        describe(&evs)
    );
}

/// A browser caller in the callflows: the page dials the main menu (8000),
/// hears its spoken greeting, presses 1 on the keypad (SIP INFO) and waits in
/// the `sales` queue hearing music, then hangs up from the page.
#[test]
fn a_browser_caller_uses_the_ivr_menu_and_waits_in_the_queue() {
    let rig = rig();
    let sw = &rig.sw;
    let events = sw.events();
    let mut b = rig.browser();
    b.sign_in(&rig, "a", "1004");
    b.cmd(json!({"cmd": "dial", "target": "8000"}));
    b.cmd(json!({"cmd": "wait_state", "key": "inCall", "value": true, "timeout_ms": 10000}));
    b.wait_stats("a", "the greeting is heard", |s| {
        inbound_packets(s) > 25 && sound(s)
    });
    b.cmd(json!({"cmd": "dtmf", "digits": "1"}));
    let evs = events.wait_for(Duration::from_secs(8), |e| {
        e.iter().any(|e| e.name == "QUEUE_ENTER")
    });
    let entered = evs
        .iter()
        .find(|e| e.name == "QUEUE_ENTER")
        .unwrap_or_else(|| {
            panic!(
                "the menu choice did not reach the queue:\n{}",
                describe(&evs)
            )
        });
    assert_eq!(
        entered.str("queue_name"),
        "Sales Queue",
        "{}",
        describe(&evs)
    );
    // music on hold while waiting
    thread::sleep(Duration::from_millis(1500));
    b.wait_stats("a", "queue music is heard", |s| sound(s));
    b.cmd(json!({"cmd": "hangup"}));
    wait_count(&events, "channel_destroy", 1);
}

/// A tab that dies mid-call sends no BYE: the switch notices its media path
/// lapse (ICE consent) and ends the call, and the binding is gone with the
/// closed WebSocket.
#[test]
fn a_browser_that_vanishes_mid_call_is_hung_up() {
    let rig = rig();
    let sw = &rig.sw;
    let events = sw.events();
    let mut b = rig.browser();
    b.sign_in(&rig, "a", "1005");
    b.cmd(json!({"cmd": "dial", "target": "7002"}));
    b.wait_stats("a", "the echo is heard", |s| {
        inbound_packets(s) > 25 && sound(s)
    });
    assert_eq!(sw.metric("switchyard_active_calls"), 1.0);
    b.cmd(json!({"cmd": "close_page"}));
    let active = sw.wait_metric("switchyard_active_calls", Duration::from_secs(30), |v| {
        v == 0.0
    });
    assert_eq!(active, 0.0, "the call outlived its browser");
    wait_count(&events, "channel_destroy", 1);
    assert!(
        sw.log_text().contains("browser media gone"),
        "ended for another reason"
    );
    assert_eq!(sw.metric("switchyard_registrations"), 0.0);
}

/// A leg dialled by command to a browser (an operator brings agent 1003 into
/// a call): the page rings with WebRTC, answers, and hears what the switch
/// plays to that leg; hanging it up leaves the call going.
#[test]
fn a_leg_dialled_by_command_reaches_a_browser() {
    let rig = rig();
    let sw = &rig.sw;
    let events = sw.events();
    let mut b = rig.browser();
    b.sign_in(&rig, "a", "1004");
    b.sign_in(&rig, "b", "1003");
    b.cmd(json!({"cmd": "dial", "target": "7002", "page": "a"}));
    b.wait_stats("a", "the echo is heard", |s| {
        inbound_packets(s) > 25 && sound(s)
    });
    let evs = wait_count(&events, "channel_create", 1);
    let call = evs
        .iter()
        .find(|e| e.name == "channel_create")
        .map(|e| e.str("call_id").to_string())
        .expect("the call");
    let (status, v) = common::http_json(
        sw.http,
        "POST",
        &format!("/calls/{call}/legs"),
        &[],
        Some(r#"{"number": "1003"}"#),
    );
    assert_eq!(status, 201, "{v}");
    let leg = v["leg_id"].as_str().expect("leg_id").to_string();
    b.cmd(json!({"cmd": "wait_incoming", "timeout_ms": 15000, "page": "b"}));
    b.cmd(json!({"cmd": "answer", "page": "b"}));
    b.cmd(json!({"cmd": "wait_state", "key": "inCall", "value": true, "timeout_ms": 10000, "page": "b"}));
    let (status, v) = common::http_json(
        sw.http,
        "POST",
        &format!("/calls/{call}/legs/{leg}/play"),
        &[],
        Some(
            r#"{"steps": [{"say": "You are joining a call in progress. Please hold for the caller."}]}"#,
        ),
    );
    assert!(status < 300, "{status} {v}");
    b.wait_stats("b", "the dialled page hears the prompt", |s| {
        inbound_packets(s) > 25 && sound(s)
    });
    b.cmd(json!({"cmd": "hangup", "page": "b"}));
    b.cmd(json!({"cmd": "wait_state", "key": "inCall", "value": false, "timeout_ms": 10000, "page": "b"}));
    // the caller's call goes on
    assert_eq!(sw.metric("switchyard_active_calls"), 1.0);
    b.cmd(json!({"cmd": "hangup", "page": "a"}));
}

/// An agent's blind transfer from the page (REFER): a baresip caller in the
/// `sales` queue is answered by 1002, sent on to 1003 (another page), which
/// rings, answers and hears the caller; 1002's page is free again.
#[test]
fn an_agent_transfers_a_queue_caller_to_another_page() {
    assert_baresip_installed();
    let rig = rig();
    let sw = &rig.sw;
    let events = sw.events();
    let mut b = rig.browser();
    b.sign_in(&rig, "a", "1002");
    b.sign_in(&rig, "b", "1003");
    // 1003 is a sales member too: paused, so only the transfer rings it
    b.cmd(json!({"cmd": "set_state", "state": "paused", "reason": "lunch", "page": "b"}));
    let caller_tone = sw.tmp.path().join("tone-440.wav");
    write_tone_wav(&caller_tone, CALLER_TONE, 40);
    let phone = Phone::start(sw, "1001", &caller_tone, false);
    sw.wait_metric("switchyard_registrations", Duration::from_secs(10), |v| {
        v >= 3.0
    });
    phone.command(&format!("/dial sip:8100@{}", sw.sip));
    b.cmd(json!({"cmd": "wait_incoming", "timeout_ms": 20000, "page": "a"}));
    b.cmd(json!({"cmd": "answer", "page": "a"}));
    wait_count(&events, "QUEUE_MEMBER_ANSWER", 1);
    b.wait_stats("a", "the agent hears the caller", |s| {
        inbound_packets(s) > 25 && sound(s)
    });
    b.cmd(json!({"cmd": "transfer", "target": "1003", "page": "a"}));
    let incoming = b.cmd(json!({"cmd": "wait_incoming", "timeout_ms": 15000, "page": "b"}));
    assert_eq!(incoming["incoming"]["caller"], json!("1001"), "{incoming}");
    b.cmd(json!({"cmd": "answer", "page": "b"}));
    b.wait_stats("b", "the second agent hears the caller", |s| {
        inbound_packets(s) > 25 && sound(s)
    });
    let a = b.cmd(json!({"cmd": "state", "page": "a"}));
    assert_eq!(a["state"]["inCall"], json!(false), "{a}");
    phone.command("/hangup");
    b.cmd(json!({"cmd": "wait_state", "key": "inCall", "value": false, "timeout_ms": 10000, "page": "b"}));
}

/// A browser call is recorded like any other: 1004 (whose calls are
/// recorded) calls 1003 from one page to another; the stereo WAV holds both sides.
#[test]
fn a_call_between_browsers_is_recorded_in_stereo() {
    let rig = rig_with(SwitchOpts {
        dialplan_patch: vec![(
            "number = \"1004\"\npassword = \"demo1004\"\n".into(),
            "number = \"1004\"\npassword = \"demo1004\"\nrecord = true\n".into(),
        )],
        ..SwitchOpts::default()
    });
    let sw = &rig.sw;
    let events = sw.events();
    let mut b = rig.browser();
    b.sign_in(&rig, "a", "1004");
    b.sign_in(&rig, "b", "1003");
    b.cmd(json!({"cmd": "dial", "target": "1003", "page": "a"}));
    b.cmd(json!({"cmd": "wait_incoming", "timeout_ms": 15000, "page": "b"}));
    b.cmd(json!({"cmd": "answer", "page": "b"}));
    b.wait_stats("a", "the caller hears the callee", |s| {
        inbound_packets(s) > 50 && sound(s)
    });
    thread::sleep(Duration::from_secs(2));
    b.cmd(json!({"cmd": "hangup", "page": "a"}));
    let evs = wait_count(&events, "recording", 1);
    let rec = evs
        .iter()
        .find(|e| e.name == "recording")
        .expect("recording");
    let (rate, channels, samples) = common::baresip::read_wav_any(Path::new(rec.str("path")));
    assert_eq!(channels, 2, "stereo");
    let left: Vec<i16> = samples.iter().step_by(2).copied().collect();
    let right: Vec<i16> = samples.iter().skip(1).step_by(2).copied().collect();
    assert!(left.len() as u32 > rate * 2, "{} samples", left.len());
    assert!(
        rms(&left) > 0.02,
        "the caller's side is silent: {}",
        rms(&left)
    );
    assert!(
        rms(&right) > 0.02,
        "the callee's side is silent: {}",
        rms(&right)
    );
}

/// The support ring group (8200: 1004 and 1005 at once) rings two pages; one
/// signed in with a provisioning token, not a password. 1005 rejects, 1004
/// answers and the caller hears it; when 1004 mutes, the caller hears silence.
#[test]
fn a_ring_group_rings_two_pages_one_rejects_and_the_other_mutes() {
    let rig = rig();
    let sw = &rig.sw;
    let mut b = rig.browser();
    b.sign_in(&rig, "a", "1002");
    b.sign_in(&rig, "c", "1005");
    // 1004 signs in with a provisioning token in the page's address
    let (status, t) = common::http_json(
        sw.http,
        "POST",
        "/api/v1/voice/provisioning/session",
        &[],
        Some(r#"{"extension": "1004", "password": "demo1004"}"#),
    );
    assert_eq!(status, 200, "{t}");
    let url = format!(
        "https://127.0.0.1:{}/agent/?token={}",
        rig.https,
        t["token"].as_str().expect("token")
    );
    b.cmd(json!({"cmd": "open", "url": url, "page": "b"}));
    b.wait_in_call_state("b", "registered", true);

    b.cmd(json!({"cmd": "dial", "target": "8200", "page": "a"}));
    let ringing = b.cmd(json!({"cmd": "wait_incoming", "timeout_ms": 15000, "page": "b"}));
    assert_eq!(
        ringing["incoming"]["ringGroup"],
        json!("support"),
        "{ringing}"
    );
    b.cmd(json!({"cmd": "wait_incoming", "timeout_ms": 15000, "page": "c"}));
    b.cmd(json!({"cmd": "reject", "page": "c"}));
    b.wait_in_call_state("c", "inCall", false);
    b.cmd(json!({"cmd": "answer", "page": "b"}));
    b.wait_in_call_state("a", "inCall", true);
    b.wait_stats("a", "the caller hears 1004", |s| {
        inbound_packets(s) > 50 && sound(s)
    });
    b.cmd(json!({"cmd": "mute", "page": "b"}));
    b.wait_stats("a", "the caller hears silence once 1004 mutes", |s| {
        s["inbound"]["audioLevel"].as_f64().unwrap_or(1.0) < 0.005
    });
    b.cmd(json!({"cmd": "hangup", "page": "a"}));
    b.wait_in_call_state("b", "inCall", false);
}
