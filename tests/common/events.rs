//! The switch's `/events` stream, read on a thread, and helpers to wait for events.

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
// events

#[derive(Clone, Debug)]
pub struct Event {
    pub name: String,
    pub data: serde_json::Value,
    /// The SSE `id:` (the event's id in the switch's log).
    pub id: Option<u64>,
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
    pub(crate) fn connect(addr: SocketAddr) -> Events {
        Events::connect_after(addr, None)
    }

    /// The stream from after event `last` (`Last-Event-ID`), or from now.
    pub fn connect_after(addr: SocketAddr, last: Option<u64>) -> Events {
        let mut s =
            TcpStream::connect_timeout(&addr, Duration::from_secs(2)).expect("connect to /events");
        let resume = last
            .map(|id| format!("Last-Event-ID: {id}\r\n"))
            .unwrap_or_default();
        // HTTP/1.0: the stream is close-delimited, never chunked
        write!(
            s,
            "GET /events HTTP/1.0\r\nHost: {addr}\r\nAccept: text/event-stream\r\n{resume}\r\n"
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
            let mut id: Option<u64> = None;
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
                                    id: id.take(),
                                });
                            }
                            name.clear();
                            data.clear();
                            id = None;
                        } else if let Some(v) = l.strip_prefix("id:") {
                            id = v.trim().parse().ok();
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

/// The hangup causes of the channel_destroy events, in order.
pub fn destroy_causes(events: &[Event]) -> Vec<String> {
    events
        .iter()
        .filter(|e| e.name == "channel_destroy")
        .map(|e| e.str("hangup_cause").to_string())
        .collect()
}

/// Both channels of a call are gone.
pub fn two_destroys(evs: &[Event]) -> bool {
    count(evs, "channel_destroy") >= 2
}
