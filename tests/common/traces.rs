//! Reading SIPp message traces: headers, tags and SDP fields of traced messages.

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
