//! Test kit for the real-peer integration tests: starts the `switchyard` binary on
//! its own ports with its own data directory, drives it with SIPp scenarios from
//! `sip-tests/`, and observes what a user would: SIP outcomes (SIPp exit status and
//! message traces), `/metrics`, the `/events` stream and the RTP that reaches a
//! far end (a UDP socket owned by the test).
//!
//! Every test gets distinct ports, so the tests of one binary run in parallel.
//! On a failing test the switch log and the SIPp traces are printed;
//! `SWITCHYARD_KEEP_TEST_DIRS=1` keeps every test's directory (switch log, SIPp
//! `*.messages.log`/`*.errors.log`) under /tmp/switchyard-it-*.
//!
//! Scenario conventions (`sip-tests/*.xml`): `-key user EXT` is the phone's own
//! extension, `-s NUMBER` whom it calls, `-au/-ap` its digest credentials,
//! `-key rtp_port PORT` where a callee wants its RTP, `-key expires SECS` the
//! registration lifetime. SIPp runs with `sip-tests/` as its working directory so
//! `play_pcap_audio="pcap/tone-1khz-pcma.pcap"` resolves; that file (2 s of a 1 kHz
//! PCMA tone) is written by [`write_tone_pcap`] and checked by a test. By hand:
//!
//! ```text
//! cd sip-tests
//! sipp 127.0.0.1:5060 -sf register_auth.xml -m 1 -p 5072 -key user 1002 -key expires 300 -au 1002 -ap demo1002
//! sipp 127.0.0.1:5060 -sf uas_answer.xml -m 1 -p 5072 -key user 1002 -key rtp_port 40000
//! sipp 127.0.0.1:5060 -sf uac_call.xml -m 1 -key user 1001 -s 1002 -au 1001 -ap demo1001
//! ```

#![allow(dead_code, unused_imports)]

use std::fs::{self, File, OpenOptions};
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream, UdpSocket};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};
use std::sync::{Arc, Mutex, Once};
use std::thread;
use std::time::{Duration, Instant};

pub const LOCALHOST: &str = "127.0.0.1";
/// Another loopback address (Linux routes all of 127/8), for a carrier on a host of its own.
pub const OTHER_HOST: &str = "127.0.0.2";

/// Seconds SIPp may run before it gives up on its own (`-timeout … -timeout_error`).
const SIPP_TIMEOUT_SECS: u64 = 20;
/// Seconds after which the harness kills a SIPp that did not stop by itself.
const SIPP_KILL_SECS: u64 = 30;

// ---------------------------------------------------------------------------

mod audio;
pub mod baresip;
mod events;
pub mod merchant;
pub mod pg;
pub mod receiver;
mod sipp;
mod traces;
pub mod voice;
pub use audio::*;
pub use events::*;
pub use sipp::*;
pub use traces::*;

// ---------------------------------------------------------------------------
// ports

static NEXT_PORT: AtomicU32 = AtomicU32::new(0);

fn port_is_free(port: u16) -> bool {
    UdpSocket::bind((LOCALHOST, port)).is_ok() && TcpListener::bind((LOCALHOST, port)).is_ok()
}

/// Hands out `n` consecutive ports that are free on UDP and TCP right now and that
/// no other test of this process received. The window is chosen by process id, below
/// the kernel's ephemeral range and below the switch's default RTP range.
pub fn port_block(n: u16) -> u16 {
    let window = 10_000 + (std::process::id() % 10) * 1_000;
    for _ in 0..2_000 {
        let offset = NEXT_PORT.fetch_add(n as u32, Ordering::SeqCst) % (1_000 - n as u32);
        let base = (window + offset) as u16;
        if (base..base + n).all(port_is_free) {
            return base;
        }
    }
    panic!("no block of {n} free ports found");
}

pub fn free_port() -> u16 {
    port_block(1)
}

// ---------------------------------------------------------------------------
// the switch

/// How to start a switch; `Default` is the demo dialplan with the carrier trunk on a
/// port of its own (tests run in parallel, so no two may share 5080).
#[derive(Clone, Debug)]
pub struct SwitchOpts {
    /// Address the dialplan's `demo-carrier` trunk points at.
    pub trunk_ip: String,
    /// Extra command-line flags, e.g. `["--ring-timeout", "5"]`.
    pub extra_args: Vec<String>,
    /// Text replacements applied to the demo dialplan (each must match).
    pub dialplan_patch: Vec<(String, String)>,
}

impl Default for SwitchOpts {
    fn default() -> Self {
        SwitchOpts {
            trunk_ip: LOCALHOST.to_string(),
            extra_args: Vec::new(),
            dialplan_patch: Vec::new(),
        }
    }
}

pub struct Switch {
    child: Option<Child>,
    /// Holds the data dir, the switch log and the SIPp traces of this test.
    pub tmp: tempfile::TempDir,
    pub sip: SocketAddr,
    pub sip_tcp: SocketAddr,
    pub sip_ws: SocketAddr,
    pub http: SocketAddr,
    pub rtp_ports: (u16, u16),
    /// The carrier trunk's address, as written in the dialplan.
    pub trunk: SocketAddr,
    args: Vec<String>,
    log: PathBuf,
    sipp_runs: AtomicU32,
}

/// The demo dialplan (`dialplans/demo.toml`) with the trunk moved to `trunk`,
/// and 1001 and 1002 without voicemail: the switch-core tests ring them and
/// expect a busy, unanswered or unregistered callee to reach the caller as
/// such (the routing tests use 1003–1005, which keep theirs).
fn dialplan(trunk: SocketAddr) -> String {
    let mut demo =
        fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("dialplans/demo.toml"))
            .expect("read dialplans/demo.toml");
    for name in ["Alice", "Bob"] {
        let with = format!("display_name = \"{name}\"\nvoicemail = true\n");
        assert!(
            demo.contains(&with),
            "the demo's {name} has no voicemail line; update tests/common"
        );
        demo = demo.replace(&with, &format!("display_name = \"{name}\"\n"));
    }
    let moved = demo
        .replace(
            "host = \"127.0.0.1\"",
            &format!("host = \"{}\"", trunk.ip()),
        )
        .replace("port = 5080", &format!("port = {}", trunk.port()));
    assert!(
        moved.contains(&format!("port = {}", trunk.port())),
        "the demo dialplan no longer has `port = 5080`; update tests/common"
    );
    moved
}

impl Switch {
    pub fn start_default() -> Switch {
        Switch::start(SwitchOpts::default())
    }

    pub fn start(opts: SwitchOpts) -> Switch {
        // SWITCHYARD_KEEP_TEST_DIRS=1 keeps logs and traces for reading afterwards
        let tmp = tempfile::Builder::new()
            .prefix("switchyard-it-")
            .disable_cleanup(std::env::var_os("SWITCHYARD_KEEP_TEST_DIRS").is_some())
            .tempdir()
            .expect("tempdir");
        let sip_port = port_block(1);
        let ws_port = free_port();
        let http_port = free_port();
        let rtp_low = port_block(24);
        let trunk_port = free_port();
        let ip = LOCALHOST;
        let trunk: SocketAddr = format!("{}:{trunk_port}", opts.trunk_ip)
            .parse()
            .expect("trunk address");
        let plan = tmp.path().join("dialplan.toml");
        let mut text = dialplan(trunk);
        for (from, to) in &opts.dialplan_patch {
            assert!(
                text.contains(from.as_str()),
                "dialplan patch: {from:?} not in the demo plan"
            );
            text = text.replace(from.as_str(), to);
        }
        fs::write(&plan, text).expect("write dialplan");
        let data = tmp.path().join("data");
        let mut args: Vec<String> = vec![
            "serve".into(),
            "--sip-udp".into(),
            format!("{ip}:{sip_port}"),
            "--sip-tcp".into(),
            format!("{ip}:{sip_port}"),
            "--sip-ws".into(),
            format!("{ip}:{ws_port}"),
            "--http".into(),
            format!("{ip}:{http_port}"),
            "--rtp-ports".into(),
            format!("{rtp_low}-{}", rtp_low + 23),
            "--public-ip".into(),
            ip.into(),
            "--data-dir".into(),
            data.display().to_string(),
            "--dialplan".into(),
            plan.display().to_string(),
            "--media-dir".into(),
            Path::new(env!("CARGO_MANIFEST_DIR"))
                .join("media")
                .display()
                .to_string(),
        ];
        args.extend(opts.extra_args.iter().cloned());
        let mut sw = Switch {
            child: None,
            log: tmp.path().join("switch.log"),
            sip: format!("{ip}:{sip_port}").parse().expect("addr"),
            sip_tcp: format!("{ip}:{sip_port}").parse().expect("addr"),
            sip_ws: format!("{ip}:{ws_port}").parse().expect("addr"),
            http: format!("{ip}:{http_port}").parse().expect("addr"),
            rtp_ports: (rtp_low, rtp_low + 23),
            trunk,
            args,
            tmp,
            sipp_runs: AtomicU32::new(0),
        };
        sw.spawn();
        sw
    }

    fn spawn(&mut self) {
        let log = OpenOptions::new()
            .create(true)
            .append(true)
            .open(&self.log)
            .expect("open switch log");
        let child = Command::new(env!("CARGO_BIN_EXE_switchyard"))
            .args(&self.args)
            .env(
                "RUST_LOG",
                std::env::var("SWITCHYARD_TEST_LOG")
                    .unwrap_or_else(|_| "info,switchyard=debug".into()),
            )
            .stdin(Stdio::null())
            .stdout(log.try_clone().expect("clone log"))
            .stderr(log)
            .spawn()
            .expect("start the switchyard binary");
        self.child = Some(child);
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            if let Some(c) = self.child.as_mut() {
                if let Ok(Some(status)) = c.try_wait() {
                    self.dump_log();
                    panic!("switchyard exited during start-up: {status}");
                }
            }
            if matches!(http_get(self.http, "/healthz"), Ok((200, _))) {
                return;
            }
            if Instant::now() > deadline {
                self.dump_log();
                panic!("switchyard did not become healthy within 20 s");
            }
            thread::sleep(Duration::from_millis(50));
        }
    }

    pub fn pid(&self) -> u32 {
        self.child.as_ref().expect("switch running").id()
    }

    /// Sends SIGTERM and waits (10 s at most) for a clean exit; returns the exit status.
    pub fn stop(&mut self) -> ExitStatus {
        let mut child = self.child.take().expect("switch running");
        let ok = Command::new("kill")
            .args(["-TERM", &child.id().to_string()])
            .status()
            .expect("run kill");
        assert!(ok.success(), "kill -TERM failed");
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            if let Ok(Some(status)) = child.try_wait() {
                return status;
            }
            if Instant::now() > deadline {
                let _ = child.kill();
                let _ = child.wait();
                self.dump_log();
                panic!("switchyard did not stop within 10 s of SIGTERM");
            }
            thread::sleep(Duration::from_millis(50));
        }
    }

    /// Kills the binary with SIGKILL (no shutdown at all).
    pub fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            child.kill().expect("kill -9");
            let _ = child.wait();
        }
    }

    /// Kills the binary with SIGKILL (no shutdown at all), then starts it again.
    pub fn crash_and_restart(&mut self) {
        let mut child = self.child.take().expect("switch running");
        child.kill().expect("kill -9");
        let _ = child.wait();
        self.spawn();
    }

    /// Starts the binary again with the same ports, data directory and dialplan.
    pub fn restart(&mut self) {
        if self.child.is_some() {
            let status = self.stop();
            assert!(
                status.success(),
                "switchyard exited with {status} after SIGTERM"
            );
        }
        self.spawn();
    }

    pub fn log_text(&self) -> String {
        fs::read_to_string(&self.log).unwrap_or_default()
    }

    pub fn dump_log(&self) {
        eprintln!(
            "===== switchyard log ({}) =====\n{}\n===== end of switchyard log =====",
            self.log.display(),
            self.log_text()
        );
    }

    /// `/metrics` as text.
    pub fn metrics_text(&self) -> String {
        // a busy CI machine may stall one request: retry a few times before failing
        let mut last = None;
        for _ in 0..3 {
            match http_get(self.http, "/metrics") {
                Ok((200, body)) => return body,
                other => last = Some(other),
            }
            thread::sleep(Duration::from_millis(200));
        }
        panic!("GET /metrics: {last:?}")
    }

    /// The sum of every series named `name` (with any labels), 0 if absent.
    pub fn metric(&self, name: &str) -> f64 {
        metric_value(&self.metrics_text(), name, &[])
    }

    /// The sum of the series named `name` whose labels include all of `labels`.
    pub fn metric_with(&self, name: &str, labels: &[(&str, &str)]) -> f64 {
        metric_value(&self.metrics_text(), name, labels)
    }

    /// Polls `name` until `pred` holds (or `timeout`); returns the last value.
    pub fn wait_metric(&self, name: &str, timeout: Duration, pred: impl Fn(f64) -> bool) -> f64 {
        let deadline = Instant::now() + timeout;
        loop {
            let v = self.metric(name);
            if pred(v) || Instant::now() > deadline {
                return v;
            }
            thread::sleep(Duration::from_millis(100));
        }
    }

    /// The gauge `name` once it is back to 0 (or its value after 3 s).
    pub fn settled(&self, name: &str) -> f64 {
        self.wait_metric(name, Duration::from_secs(3), |v| v == 0.0)
    }

    /// Subscribes to `/events`; events published from now on are collected.
    pub fn events(&self) -> Events {
        Events::connect(self.http)
    }

    /// A SIPp run against this switch's UDP port with `scenario` from `sip-tests/`.
    pub fn sipp(&self, scenario: &str) -> Sipp {
        let n = self.sipp_runs.fetch_add(1, Ordering::SeqCst);
        Sipp::new(scenario, self.sip, self.tmp.path(), n)
    }
}

impl Drop for Switch {
    fn drop(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
        if thread::panicking() {
            self.dump_log();
        }
    }
}

fn metric_value(text: &str, name: &str, labels: &[(&str, &str)]) -> f64 {
    let mut sum = 0.0;
    for line in text.lines() {
        if line.starts_with('#') {
            continue;
        }
        let Some((series, value)) = line.rsplit_once(' ') else {
            continue;
        };
        let (n, l) = match series.split_once('{') {
            Some((n, rest)) => (n, rest.trim_end_matches('}')),
            None => (series, ""),
        };
        if n != name {
            continue;
        }
        if labels
            .iter()
            .all(|(k, v)| l.split(',').any(|kv| kv == format!("{k}=\"{v}\"")))
        {
            sum += value.trim().parse::<f64>().unwrap_or(0.0);
        }
    }
    sum
}

/// A minimal HTTP/1.0 GET: (status, body).
pub fn http_get(addr: SocketAddr, path: &str) -> std::io::Result<(u16, String)> {
    let (status, body) = http_request(addr, "GET", path, None)?;
    Ok((status, String::from_utf8_lossy(&body).into_owned()))
}

/// One HTTP/1.0 request with extra headers (`body` sent as JSON): the status
/// and the body read as JSON (`Null` when it is not).
pub fn http_json(
    addr: SocketAddr,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: Option<&str>,
) -> (u16, serde_json::Value) {
    let (status, raw) = http_request_with(addr, method, path, headers, body).expect("HTTP request");
    (status, serde_json::from_slice(&raw).unwrap_or_default())
}

/// One HTTP/1.0 request (`body` sent as JSON): the status and the raw body.
pub fn http_request(
    addr: SocketAddr,
    method: &str,
    path: &str,
    body: Option<&str>,
) -> std::io::Result<(u16, Vec<u8>)> {
    http_request_with(addr, method, path, &[], body)
}

/// [`http_request`] with extra request headers.
pub fn http_request_with(
    addr: SocketAddr,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: Option<&str>,
) -> std::io::Result<(u16, Vec<u8>)> {
    http_exchange(addr, method, path, headers, body).map(|(status, _, body)| (status, body))
}

/// One HTTP/1.0 request (`body` sent as JSON): the status, the response's
/// headers (names in lower case) and its raw body.
pub fn http_exchange(
    addr: SocketAddr,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: Option<&str>,
) -> std::io::Result<(u16, std::collections::HashMap<String, String>, Vec<u8>)> {
    let mut s = TcpStream::connect_timeout(&addr, Duration::from_secs(2))?;
    s.set_read_timeout(Some(Duration::from_secs(20)))?;
    let body = body.unwrap_or("");
    let extra: String = headers
        .iter()
        .map(|(k, v)| format!("{k}: {v}\r\n"))
        .collect();
    write!(
        s,
        "{method} {path} HTTP/1.0\r\nHost: {addr}\r\nConnection: close\r\nContent-Type: application/json\r\n{extra}Content-Length: {}\r\n\r\n{body}",
        body.len()
    )?;
    let mut raw = Vec::new();
    s.read_to_end(&mut raw)?;
    let split = raw
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .unwrap_or(raw.len());
    let head = String::from_utf8_lossy(&raw[..split]).into_owned();
    let mut lines = head.lines();
    let status = lines
        .next()
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|c| c.parse().ok())
        .unwrap_or(0);
    let found = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.trim().to_ascii_lowercase(), v.trim().to_string()))
        .collect();
    Ok((
        status,
        found,
        raw.get(split + 4..).unwrap_or_default().to_vec(),
    ))
}
