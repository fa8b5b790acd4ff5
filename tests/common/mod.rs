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

#![allow(dead_code)]

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
}

impl Default for SwitchOpts {
    fn default() -> Self {
        SwitchOpts {
            trunk_ip: LOCALHOST.to_string(),
            extra_args: Vec::new(),
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

/// The demo dialplan (`dialplans/demo.toml`) with the trunk moved to `trunk`.
fn dialplan(trunk: SocketAddr) -> String {
    let demo =
        fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("dialplans/demo.toml"))
            .expect("read dialplans/demo.toml");
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
        fs::write(&plan, dialplan(trunk)).expect("write dialplan");
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
    let mut s = TcpStream::connect_timeout(&addr, Duration::from_secs(2))?;
    s.set_read_timeout(Some(Duration::from_secs(10)))?;
    write!(
        s,
        "GET {path} HTTP/1.0\r\nHost: {addr}\r\nConnection: close\r\n\r\n"
    )?;
    let mut raw = String::new();
    s.read_to_string(&mut raw)?;
    let (head, body) = raw.split_once("\r\n\r\n").unwrap_or((raw.as_str(), ""));
    let status = head
        .split_whitespace()
        .nth(1)
        .and_then(|c| c.parse().ok())
        .unwrap_or(0);
    Ok((status, body.to_string()))
}

// ---------------------------------------------------------------------------
// events

#[derive(Clone, Debug)]
pub struct Event {
    pub name: String,
    pub data: serde_json::Value,
}

impl Event {
    pub fn str(&self, key: &str) -> &str {
        self.data.get(key).and_then(|v| v.as_str()).unwrap_or("")
    }
}

/// The `/events` server-sent-events stream, read on a thread of its own.
pub struct Events {
    got: Arc<Mutex<Vec<Event>>>,
    stop: Arc<AtomicBool>,
}

impl Events {
    fn connect(addr: SocketAddr) -> Events {
        let mut s =
            TcpStream::connect_timeout(&addr, Duration::from_secs(2)).expect("connect to /events");
        // HTTP/1.0: the stream is close-delimited, never chunked
        write!(
            s,
            "GET /events HTTP/1.0\r\nHost: {addr}\r\nAccept: text/event-stream\r\n\r\n"
        )
        .expect("send GET /events");
        s.set_read_timeout(Some(Duration::from_millis(200)))
            .expect("timeout");
        let mut reader = BufReader::new(s);
        // the handler has subscribed to the bus once the response head arrives
        let deadline = Instant::now() + Duration::from_secs(5);
        let mut status = String::new();
        loop {
            let mut line = String::new();
            match reader.read_line(&mut line) {
                Ok(0) => panic!("/events closed before its headers"),
                Ok(_) => {
                    if status.is_empty() {
                        status = line.clone();
                    }
                    if line == "\r\n" || line == "\n" {
                        break;
                    }
                }
                Err(_) if Instant::now() < deadline => continue,
                Err(e) => panic!("/events: no response head: {e}"),
            }
        }
        assert!(status.contains(" 200"), "/events answered {status:?}");
        let got = Arc::new(Mutex::new(Vec::new()));
        let stop = Arc::new(AtomicBool::new(false));
        let (g, st) = (got.clone(), stop.clone());
        thread::spawn(move || {
            let mut name = String::new();
            let mut data = String::new();
            let mut line = String::new();
            while !st.load(Ordering::Relaxed) {
                match reader.read_line(&mut line) {
                    Ok(0) => break,
                    Ok(_) => {
                        if !line.ends_with('\n') {
                            continue; // partial line: keep reading into it
                        }
                        let l = line.trim_end_matches(['\r', '\n']).to_string();
                        line.clear();
                        if l.is_empty() {
                            if !data.is_empty() {
                                let value = serde_json::from_str(&data)
                                    .unwrap_or(serde_json::Value::String(data.clone()));
                                let ev_name = if name.is_empty() {
                                    "message".to_string()
                                } else {
                                    name.clone()
                                };
                                g.lock().expect("events lock").push(Event {
                                    name: ev_name,
                                    data: value,
                                });
                            }
                            name.clear();
                            data.clear();
                        } else if let Some(v) = l.strip_prefix("event:") {
                            name = v.trim().to_string();
                        } else if let Some(v) = l.strip_prefix("data:") {
                            if !data.is_empty() {
                                data.push('\n');
                            }
                            data.push_str(v.strip_prefix(' ').unwrap_or(v));
                        }
                    }
                    Err(e)
                        if matches!(
                            e.kind(),
                            std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                        ) =>
                    {
                        continue
                    }
                    Err(_) => break,
                }
            }
        });
        Events { got, stop }
    }

    pub fn snapshot(&self) -> Vec<Event> {
        self.got.lock().expect("events lock").clone()
    }

    /// Waits until `done` holds for the events so far (or `timeout`) and returns them.
    pub fn wait_for(&self, timeout: Duration, done: impl Fn(&[Event]) -> bool) -> Vec<Event> {
        let deadline = Instant::now() + timeout;
        loop {
            let evs = self.snapshot();
            if done(&evs) || Instant::now() > deadline {
                return evs;
            }
            thread::sleep(Duration::from_millis(50));
        }
    }

    /// Everything that arrives within `d`.
    pub fn collect_for(&self, d: Duration) -> Vec<Event> {
        thread::sleep(d);
        self.snapshot()
    }
}

impl Drop for Events {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
    }
}

pub fn count(events: &[Event], name: &str) -> usize {
    events.iter().filter(|e| e.name == name).count()
}

pub fn describe(events: &[Event]) -> String {
    events
        .iter()
        .map(|e| format!("{} {}", e.name, e.data))
        .collect::<Vec<_>>()
        .join("\n")
}

// ---------------------------------------------------------------------------
// SIPp

static SIPP_CHECK: Once = Once::new();

/// Makes sure `sipp` is installed: if it is not on PATH, installs the `sip-tester`
/// package once (under a lock file, as several test binaries may start together).
/// Panics when that fails: these tests never skip silently.
pub fn ensure_sipp() {
    SIPP_CHECK.call_once(|| {
        if sipp_present() {
            return;
        }
        let lock = Path::new("/tmp/switchyard-sipp-install.lock");
        let deadline = Instant::now() + Duration::from_secs(300);
        loop {
            match OpenOptions::new().write(true).create_new(true).open(lock) {
                Ok(_) => break,
                Err(_) if Instant::now() < deadline => {
                    if sipp_present() {
                        return;
                    }
                    thread::sleep(Duration::from_millis(500));
                }
                Err(e) => panic!("waiting for {}: {e}", lock.display()),
            }
        }
        let result = if sipp_present() {
            Ok(())
        } else {
            eprintln!("sipp not found on PATH: running `apt-get install -y sip-tester`");
            match Command::new("apt-get")
                .args(["install", "-y", "sip-tester"])
                .env("DEBIAN_FRONTEND", "noninteractive")
                .status()
            {
                Ok(s) if s.success() && sipp_present() => Ok(()),
                Ok(s) => Err(format!("apt-get install -y sip-tester exited with {s}")),
                Err(e) => Err(format!("cannot run apt-get: {e}")),
            }
        };
        let _ = fs::remove_file(lock);
        if let Err(e) = result {
            panic!("SIPp is required by the integration tests and could not be installed: {e}");
        }
    });
}

fn sipp_present() -> bool {
    Command::new("sipp")
        .arg("-v")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok()
}

pub fn scenario_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("sip-tests")
}

/// One SIPp process: built with the usual flags for a single call against the switch.
pub struct Sipp {
    scenario: String,
    name: String,
    args: Vec<String>,
    dir: PathBuf,
    pub local_ip: String,
    pub local_port: u16,
    pub media_port: u16,
}

impl Sipp {
    fn new(scenario: &str, remote: SocketAddr, dir: &Path, n: u32) -> Sipp {
        ensure_sipp();
        let path = scenario_dir().join(scenario);
        assert!(path.exists(), "no scenario {}", path.display());
        let stem = scenario.trim_end_matches(".xml");
        let name = format!("{n:02}-{stem}");
        let local_port = free_port();
        // SIPp binds the media port and the one two above it (video)
        let media_port = port_block(4);
        let args = vec![
            remote.to_string(),
            "-sf".into(),
            path.display().to_string(),
            "-i".into(),
            LOCALHOST.into(),
            "-mi".into(),
            LOCALHOST.into(),
            "-m".into(),
            "1".into(),
            "-nostdin".into(),
            "-timeout".into(),
            format!("{SIPP_TIMEOUT_SECS}s"),
            "-timeout_error".into(),
            "-max_recv_loops".into(),
            "1000".into(),
            "-trace_msg".into(),
            "-message_file".into(),
            dir.join(format!("{name}.messages.log"))
                .display()
                .to_string(),
            "-trace_err".into(),
            "-error_file".into(),
            dir.join(format!("{name}.errors.log")).display().to_string(),
        ];
        Sipp {
            scenario: scenario.into(),
            name,
            args,
            dir: dir.to_path_buf(),
            local_ip: LOCALHOST.to_string(),
            local_port,
            media_port,
        }
    }

    /// Local SIP port (default: a fresh free port).
    pub fn port(mut self, p: u16) -> Self {
        self.local_port = p;
        self
    }

    /// Local source IP (default 127.0.0.1), e.g. to play a carrier on another address.
    pub fn ip(mut self, ip: &str) -> Self {
        self.local_ip = ip.to_string();
        for i in 0..self.args.len() {
            if self.args[i] == "-i" || self.args[i] == "-mi" {
                self.args[i + 1] = ip.to_string();
            }
        }
        self
    }

    /// `[name]` in the scenario becomes `value`.
    pub fn key(mut self, name: &str, value: impl ToString) -> Self {
        self.args
            .extend(["-key".into(), name.into(), value.to_string()]);
        self
    }

    /// Digest credentials for `[authentication]`.
    pub fn auth(mut self, user: &str, password: &str) -> Self {
        self.args
            .extend(["-au".into(), user.into(), "-ap".into(), password.into()]);
        self
    }

    /// The user part of the Request-URI (`[service]`): whom a call is for.
    pub fn service(mut self, s: &str) -> Self {
        self.args.extend(["-s".into(), s.into()]);
        self
    }

    pub fn arg(mut self, a: &str) -> Self {
        self.args.push(a.into());
        self
    }

    fn command(&self) -> Command {
        let mut c = Command::new("sipp");
        c.args(&self.args)
            .args([
                "-p",
                &self.local_port.to_string(),
                "-mp",
                &self.media_port.to_string(),
            ])
            // relative media files (pcap/…) resolve against the scenario directory
            .current_dir(scenario_dir())
            .stdin(Stdio::null())
            .stdout(
                File::create(self.dir.join(format!("{}.stdout.log", self.name)))
                    .expect("sipp stdout"),
            )
            .stderr(
                File::create(self.dir.join(format!("{}.stderr.log", self.name)))
                    .expect("sipp stderr"),
            );
        c
    }

    pub fn spawn(self) -> RunningSipp {
        let child = self.command().spawn().expect("start sipp");
        RunningSipp {
            child: Some(child),
            sipp: self,
            started: Instant::now(),
        }
    }

    /// Runs to completion (or until the process-level timeout).
    pub fn run(self) -> SippOutcome {
        self.spawn().wait()
    }
}

pub struct RunningSipp {
    child: Option<Child>,
    sipp: Sipp,
    started: Instant,
}

impl RunningSipp {
    /// Waits until SIPp has bound its SIP port (a server scenario is then ready).
    pub fn wait_listening(&mut self) {
        let deadline = Instant::now() + Duration::from_secs(10);
        while UdpSocket::bind((self.sipp.local_ip.as_str(), self.sipp.local_port)).is_ok() {
            if let Some(c) = self.child.as_mut() {
                if let Ok(Some(status)) = c.try_wait() {
                    let out = self.collect(status);
                    panic!(
                        "sipp {} exited before listening:\n{}",
                        self.sipp.scenario,
                        out.report()
                    );
                }
            }
            assert!(
                Instant::now() < deadline,
                "sipp {} did not bind port {} within 10 s",
                self.sipp.scenario,
                self.sipp.local_port
            );
            thread::sleep(Duration::from_millis(20));
        }
        // the scenario is parsed before the socket is bound; give it a moment to enter its loop
        thread::sleep(Duration::from_millis(100));
    }

    pub fn wait(mut self) -> SippOutcome {
        let mut child = self.child.take().expect("sipp running");
        let deadline = self.started + Duration::from_secs(SIPP_KILL_SECS);
        let status = loop {
            if let Ok(Some(s)) = child.try_wait() {
                break s;
            }
            if Instant::now() > deadline {
                let _ = child.kill();
                break child.wait().expect("wait sipp");
            }
            thread::sleep(Duration::from_millis(20));
        };
        self.collect(status)
    }

    fn collect(&self, status: ExitStatus) -> SippOutcome {
        let read = |suffix: &str| {
            fs::read_to_string(self.sipp.dir.join(format!("{}.{suffix}", self.sipp.name)))
                .unwrap_or_default()
        };
        SippOutcome {
            scenario: self.sipp.scenario.clone(),
            command: format!(
                "sipp {} -p {} -mp {}",
                self.sipp.args.join(" "),
                self.sipp.local_port,
                self.sipp.media_port
            ),
            status,
            elapsed: self.started.elapsed(),
            messages: read("messages.log"),
            errors: read("errors.log"),
            stdout: read("stdout.log"),
            stderr: read("stderr.log"),
        }
    }
}

impl Drop for RunningSipp {
    fn drop(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

#[derive(Debug)]
pub struct SippOutcome {
    pub scenario: String,
    pub command: String,
    pub status: ExitStatus,
    pub elapsed: Duration,
    /// `-trace_msg`: every message sent and received.
    pub messages: String,
    /// `-trace_err`: unexpected messages and errors.
    pub errors: String,
    pub stdout: String,
    pub stderr: String,
}

impl SippOutcome {
    pub fn report(&self) -> String {
        let tail = |s: &str, n: usize| {
            let lines: Vec<&str> = s.lines().collect();
            lines[lines.len().saturating_sub(n)..].join("\n")
        };
        format!(
            "----- sipp {} exited with {} after {:?}\n$ {}\n----- errors -----\n{}\n----- stderr -----\n{}\n----- messages -----\n{}\n----- screen (tail) -----\n{}\n-----",
            self.scenario,
            self.status,
            self.elapsed,
            self.command,
            self.errors,
            self.stderr,
            self.messages,
            tail(&self.stdout, 40)
        )
    }

    /// Panics with the traces unless SIPp reported every call successful (exit 0).
    pub fn assert_ok(&self) -> &Self {
        assert!(
            self.status.code() == Some(0),
            "sipp {} failed\n{}",
            self.scenario,
            self.report()
        );
        self
    }

    /// The messages SIPp received, in order (from the `-trace_msg` log).
    pub fn received(&self) -> Vec<String> {
        split_trace(&self.messages, "received")
    }

    pub fn sent(&self) -> Vec<String> {
        split_trace(&self.messages, "sent")
    }

    /// Status codes of the responses SIPp received, in order.
    pub fn received_statuses(&self) -> Vec<u16> {
        self.received()
            .iter()
            .filter_map(|m| {
                m.strip_prefix("SIP/2.0 ")
                    .and_then(|r| r.get(..3))
                    .and_then(|c| c.parse().ok())
            })
            .collect()
    }

    /// Methods of the requests SIPp received, in order.
    pub fn received_methods(&self) -> Vec<String> {
        self.received()
            .iter()
            .filter(|m| !m.starts_with("SIP/2.0"))
            .filter_map(|m| m.split_whitespace().next().map(str::to_string))
            .collect()
    }
}

/// Splits a SIPp message log into the messages marked `kind` ("sent"/"received").
fn split_trace(log: &str, kind: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut current: Option<String> = None;
    for line in log.lines() {
        if line.contains(" message ")
            && (line.contains(" sent ") || line.contains(" received "))
            && line.contains(" bytes")
        {
            if let Some(m) = current.take() {
                out.push(m.trim().to_string());
            }
            if line.contains(&format!(" message {kind} ")) {
                current = Some(String::new());
            }
            continue;
        }
        if let Some(m) = current.as_mut() {
            m.push_str(line.trim_end_matches('\r'));
            m.push('\n');
        }
    }
    if let Some(m) = current {
        out.push(m.trim().to_string());
    }
    out.retain(|m| !m.is_empty());
    out
}

/// Runs the registration scenario for `user` from `port` and asserts a 200.
pub fn register(sw: &Switch, user: &str, password: &str, port: u16, expires: u32) -> SippOutcome {
    let out = sw
        .sipp("register_auth.xml")
        .port(port)
        .key("user", user)
        .key("expires", expires)
        .auth(user, password)
        .run();
    out.assert_ok();
    out
}

/// `scenario` as extension `ext` (authenticating with its demo password) calling
/// `dial`; the digest uri is the Request-URI, as a phone would send it.
pub fn caller(sw: &Switch, scenario: &str, ext: &str, dial: &str) -> Sipp {
    sw.sipp(scenario)
        .key("user", ext)
        .service(dial)
        .auth(ext, &password_of(ext))
        .arg("-auth_uri")
        .arg(&format!("{dial}@{}", sw.sip))
}

pub fn password_of(ext: &str) -> String {
    format!("demo{ext}")
}

// ---------------------------------------------------------------------------
// audio

/// G.711 A-law encoding of one 16-bit sample (ITU-T G.711, segment search).
pub fn alaw_encode(sample: i16) -> u8 {
    let mut pcm = (sample as i32) >> 3;
    let mask: u8 = if pcm >= 0 {
        0xD5
    } else {
        pcm = -pcm - 1;
        0x55
    };
    let ends = [0x1F, 0x3F, 0x7F, 0xFF, 0x1FF, 0x3FF, 0x7FF, 0xFFF];
    let Some(seg) = ends.iter().position(|&e| pcm <= e) else {
        return 0x7F ^ mask;
    };
    let mantissa = if seg < 2 {
        (pcm >> 1) & 0x0F
    } else {
        (pcm >> seg) & 0x0F
    };
    (((seg as i32) << 4) as u8 | mantissa as u8) ^ mask
}

pub fn alaw_decode(a: u8) -> i16 {
    let a = a ^ 0x55;
    let mut t = ((a & 0x0F) as i32) << 4;
    let seg = ((a & 0x70) >> 4) as i32;
    match seg {
        0 => t += 8,
        1 => t += 0x108,
        _ => {
            t += 0x108;
            t <<= seg - 1;
        }
    }
    (if a & 0x80 != 0 { t } else { -t }) as i16
}

/// Frequency of a tone by counting sign changes (8 kHz samples).
pub fn tone_frequency(samples: &[i16]) -> f64 {
    if samples.len() < 2 {
        return 0.0;
    }
    let crossings = samples
        .windows(2)
        .filter(|w| (w[0] > 0) != (w[1] > 0))
        .count();
    crossings as f64 / 2.0 / (samples.len() as f64 / 8000.0)
}

/// A UDP socket standing in for a far end's RTP port: counts what arrives and keeps
/// the decoded A-law audio.
pub struct RtpSink {
    pub port: u16,
    state: Arc<Mutex<SinkState>>,
    stop: Arc<AtomicBool>,
}

#[derive(Default, Clone, Debug)]
pub struct SinkState {
    pub packets: usize,
    pub rtp_packets: usize,
    pub payload_types: Vec<u8>,
    pub sources: Vec<SocketAddr>,
    pub samples: Vec<i16>,
}

impl RtpSink {
    pub fn bind() -> RtpSink {
        RtpSink::bind_on(LOCALHOST)
    }

    /// A sink on another loopback address (a far end that is not 127.0.0.1).
    pub fn bind_on(ip: &str) -> RtpSink {
        // an even port with a free odd neighbour, like a real phone's RTP/RTCP pair
        let base = port_block(3);
        let port = base + base % 2;
        let sock = UdpSocket::bind((ip, port)).expect("bind RTP sink");
        sock.set_read_timeout(Some(Duration::from_millis(100)))
            .expect("timeout");
        let state = Arc::new(Mutex::new(SinkState::default()));
        let stop = Arc::new(AtomicBool::new(false));
        let (st, stp) = (state.clone(), stop.clone());
        thread::spawn(move || {
            let mut buf = [0u8; 2048];
            while !stp.load(Ordering::Relaxed) {
                let Ok((n, src)) = sock.recv_from(&mut buf) else {
                    continue;
                };
                let mut s = st.lock().expect("sink lock");
                s.packets += 1;
                if !s.sources.contains(&src) {
                    s.sources.push(src);
                }
                if n >= 12 && buf[0] >> 6 == 2 {
                    s.rtp_packets += 1;
                    let pt = buf[1] & 0x7F;
                    if !s.payload_types.contains(&pt) {
                        s.payload_types.push(pt);
                    }
                    let cc = (buf[0] & 0x0F) as usize;
                    let start = 12 + 4 * cc;
                    if pt == 8 && n > start {
                        let decoded: Vec<i16> =
                            buf[start..n].iter().map(|&b| alaw_decode(b)).collect();
                        s.samples.extend(decoded);
                    }
                }
            }
        });
        RtpSink { port, state, stop }
    }

    pub fn state(&self) -> SinkState {
        self.state.lock().expect("sink lock").clone()
    }
}

impl Drop for RtpSink {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
    }
}

/// Writes an Ethernet/IPv4/UDP pcap of `packets` RTP packets (PCMA, 20 ms each)
/// carrying a 1 kHz tone: what `play_pcap_audio` replays.
pub fn write_tone_pcap(path: &Path, packets: u16) {
    let mut out = Vec::new();
    // pcap global header: magic, v2.4, tz 0, sigfigs 0, snaplen, linktype 1 (Ethernet)
    out.extend_from_slice(&0xa1b2_c3d4u32.to_le_bytes());
    out.extend_from_slice(&2u16.to_le_bytes());
    out.extend_from_slice(&4u16.to_le_bytes());
    out.extend_from_slice(&0i32.to_le_bytes());
    out.extend_from_slice(&0u32.to_le_bytes());
    out.extend_from_slice(&65535u32.to_le_bytes());
    out.extend_from_slice(&1u32.to_le_bytes());
    let mut n: u64 = 0;
    for i in 0..packets {
        let mut rtp = vec![0x80, 8];
        rtp.extend_from_slice(&(1000u16.wrapping_add(i)).to_be_bytes());
        rtp.extend_from_slice(&(160u32 * i as u32).to_be_bytes());
        rtp.extend_from_slice(&0x5357_5954u32.to_be_bytes());
        for _ in 0..160 {
            let phase = 2.0 * std::f64::consts::PI * 1000.0 * n as f64 / 8000.0 + 0.3;
            rtp.push(alaw_encode((phase.sin() * 8000.0) as i16));
            n += 1;
        }
        let udp_len = 8 + rtp.len();
        let ip_len = 20 + udp_len;
        let mut frame = Vec::with_capacity(14 + ip_len);
        frame.extend_from_slice(&[0, 0, 0, 0, 0, 2, 0, 0, 0, 0, 0, 1, 0x08, 0x00]);
        let mut ip = vec![
            0x45, 0, 0, 0, 0, 0, 0x40, 0, 64, 17, 0, 0, 127, 0, 0, 1, 127, 0, 0, 1,
        ];
        ip[2..4].copy_from_slice(&(ip_len as u16).to_be_bytes());
        let sum = ip
            .chunks(2)
            .map(|c| u32::from(u16::from_be_bytes([c[0], c[1]])))
            .sum::<u32>();
        let sum = !(((sum & 0xFFFF) + (sum >> 16)) as u16);
        ip[10..12].copy_from_slice(&sum.to_be_bytes());
        frame.extend_from_slice(&ip);
        frame.extend_from_slice(&6000u16.to_be_bytes());
        frame.extend_from_slice(&6000u16.to_be_bytes());
        frame.extend_from_slice(&(udp_len as u16).to_be_bytes());
        frame.extend_from_slice(&[0, 0]);
        frame.extend_from_slice(&rtp);
        let ts_us = i as u64 * 20_000;
        out.extend_from_slice(&((ts_us / 1_000_000) as u32).to_le_bytes());
        out.extend_from_slice(&((ts_us % 1_000_000) as u32).to_le_bytes());
        out.extend_from_slice(&(frame.len() as u32).to_le_bytes());
        out.extend_from_slice(&(frame.len() as u32).to_le_bytes());
        out.extend_from_slice(&frame);
    }
    fs::write(path, out).expect("write pcap");
}

// ---------------------------------------------------------------------------
// reading traced messages

/// Registers `ext` from `port` (its Contact), then starts `scenario` as that
/// extension's phone on the same port, where the switch sends its calls.
pub fn phone_at(
    sw: &Switch,
    ext: &str,
    scenario: &str,
    port: u16,
    rtp_port: Option<u16>,
) -> RunningSipp {
    register(sw, ext, &password_of(ext), port, 300);
    let mut s = sw.sipp(scenario).port(port).key("user", ext);
    if let Some(p) = rtp_port {
        s = s.key("rtp_port", p);
    }
    let mut running = s.spawn();
    running.wait_listening();
    running
}

/// The value of the first `name:` header of a traced SIP message (case-insensitive).
pub fn header<'a>(msg: &'a str, name: &str) -> Option<&'a str> {
    msg.lines().find_map(|l| {
        let (n, v) = l.split_once(':')?;
        n.trim().eq_ignore_ascii_case(name).then(|| v.trim())
    })
}

/// The `tag` parameter of a From/To header value.
pub fn tag_param(value: &str) -> Option<&str> {
    value
        .split(';')
        .skip(1)
        .find_map(|p| p.trim().strip_prefix("tag="))
}

/// The port of the first `m=audio` line of a traced message's SDP.
pub fn sdp_audio_port(msg: &str) -> Option<u16> {
    msg.lines()
        .find_map(|l| l.strip_prefix("m=audio "))
        .and_then(|r| r.split_whitespace().next())
        .and_then(|p| p.parse().ok())
}

/// The address of the SDP's `c=` line.
pub fn sdp_connection(msg: &str) -> Option<&str> {
    msg.lines()
        .find_map(|l| l.strip_prefix("c=IN IP4 "))
        .map(str::trim)
}

/// One message of a SIPp trace: when (seconds since the trace's first message),
/// whether SIPp sent it, and its start line.
#[derive(Clone, Debug)]
pub struct Traced {
    pub at: f64,
    pub sent: bool,
    pub start_line: String,
}

impl SippOutcome {
    /// Every message of the `-trace_msg` log with its time, in order.
    pub fn timeline(&self) -> Vec<Traced> {
        let mut out = Vec::new();
        let mut first: Option<f64> = None;
        let mut stamp: Option<f64> = None;
        let mut lines = self.messages.lines().peekable();
        while let Some(line) = lines.next() {
            if let Some(ts) = line
                .strip_prefix("-----")
                .map(|r| r.trim_start_matches('-'))
            {
                // "2026-11-23 18:57:52.617924": seconds within the day is enough here
                stamp = ts.split_whitespace().nth(1).and_then(|t| {
                    let mut it = t.split(':');
                    let h: f64 = it.next()?.parse().ok()?;
                    let m: f64 = it.next()?.parse().ok()?;
                    let s: f64 = it.next()?.parse().ok()?;
                    Some(h * 3600.0 + m * 60.0 + s)
                });
                continue;
            }
            let sent = line.contains(" message sent ");
            if !(sent || line.contains(" message received ")) {
                continue;
            }
            let Some(t) = stamp else { continue };
            let start_line = loop {
                match lines.peek() {
                    Some(l) if l.trim().is_empty() => {
                        lines.next();
                    }
                    Some(l) => break l.trim().to_string(),
                    None => break String::new(),
                }
            };
            let t0 = *first.get_or_insert(t);
            out.push(Traced {
                at: t - t0,
                sent,
                start_line,
            });
        }
        out
    }
}
