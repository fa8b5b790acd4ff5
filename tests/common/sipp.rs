//! Running SIPp scenarios from `sip-tests/`: install check, the builder, running
//! and spawned instances, and their outcomes (status codes, methods, traces).

#![allow(unused_imports)]
use std::fs::{self, File, OpenOptions};
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream, UdpSocket};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};
use std::sync::{Arc, Mutex, Once};
use std::thread;
use std::time::{Duration, Instant};

use super::*;

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
    pub(crate) fn new(scenario: &str, remote: SocketAddr, dir: &Path, n: u32) -> Sipp {
        ensure_sipp();
        let path = scenario_dir().join(scenario);
        assert!(path.exists(), "no scenario {}", path.display());
        let stem = scenario.trim_end_matches(".xml").replace('/', "_");
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

/// A phone registered as `ext` that then runs `scenario` (a callee), its RTP to `rtp_port`.
pub fn phone(sw: &Switch, ext: &str, scenario: &str, rtp_port: u16) -> RunningSipp {
    let port = free_port();
    register(sw, ext, &password_of(ext), port, 300);
    let mut running = sw
        .sipp(scenario)
        .port(port)
        .key("user", ext)
        .key("rtp_port", rtp_port)
        .spawn();
    running.wait_listening();
    running
}

/// The carrier behind the demo trunk: `scenario` listening on the trunk's
/// address (its SDP pointing at `rtp_port`, when given), ready for the switch.
pub fn carrier(sw: &Switch, scenario: &str, rtp_port: Option<u16>) -> RunningSipp {
    let mut s = sw
        .sipp(scenario)
        .ip(&sw.trunk.ip().to_string())
        .port(sw.trunk.port())
        .key("user", "carrier");
    if let Some(p) = rtp_port {
        s = s.key("rtp_port", p);
    }
    let mut running = s.spawn();
    running.wait_listening();
    running
}

/// `switchyard key create --account A --type K` with `store` (the store flags); the key.
pub fn api_key(store: &[&str], account: &str, kind: &str) -> String {
    let v = api_key_with(store, account, kind, &[]);
    v["key"].as_str().expect("key").to_string()
}

/// [`api_key`] with more flags (`--extension`, `--scopes`, `--label`): all it printed.
pub fn api_key_with(store: &[&str], account: &str, kind: &str, more: &[&str]) -> serde_json::Value {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_switchyard"))
        .args(["key", "create", "--account", account, "--type", kind])
        .args(more)
        .args(store)
        .output()
        .expect("run key create");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).expect("key JSON")
}

pub fn password_of(ext: &str) -> String {
    format!("demo{ext}")
}

/// Fails with the SIPp report unless `out` received every status in `codes`.
pub fn assert_received(out: &SippOutcome, codes: &[u16]) {
    let got = out.received_statuses();
    for c in codes {
        assert!(
            got.contains(c),
            "{} never received a {c}; got {got:?}\n{}",
            out.scenario,
            out.report()
        );
    }
}
