//! Audio for the tests: G.711 A-law, tone generation and pitch measurement, the RTP
//! sink a callee's SDP points at, and the tone pcap.

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
    /// The same socket, for talking back (digits, tones) from the sink's port.
    sock: UdpSocket,
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
        let talk = sock.try_clone().expect("clone RTP sink socket");
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
        RtpSink {
            port,
            state,
            stop,
            sock: talk,
        }
    }

    pub fn state(&self) -> SinkState {
        self.state.lock().expect("sink lock").clone()
    }

    /// Samples heard so far (a mark to cut the recording at).
    pub fn heard(&self) -> usize {
        self.state.lock().expect("sink lock").samples.len()
    }

    /// What was heard since `mark`.
    pub fn samples_since(&self, mark: usize) -> Vec<i16> {
        let s = self.state.lock().expect("sink lock");
        s.samples
            .get(mark..)
            .map(<[i16]>::to_vec)
            .unwrap_or_default()
    }

    /// Where the far end's media comes from (the switch's port for this leg).
    pub fn remote(&self) -> Option<SocketAddr> {
        self.state
            .lock()
            .expect("sink lock")
            .sources
            .first()
            .copied()
    }

    /// Waits until media has arrived, then its source.
    pub fn wait_remote(&self, timeout: Duration) -> SocketAddr {
        let until = std::time::Instant::now() + timeout;
        loop {
            if let Some(r) = self.remote() {
                return r;
            }
            assert!(
                std::time::Instant::now() < until,
                "no media arrived in {timeout:?}"
            );
            thread::sleep(Duration::from_millis(20));
        }
    }

    /// Presses `digit` as RFC 4733 telephone-events (payload type 101) towards
    /// [`remote`](Self::remote): 100 ms of event, then the end packet three times.
    pub fn send_digit(&self, digit: char) {
        let to = self.wait_remote(Duration::from_secs(5));
        let event = match digit {
            '0'..='9' => digit as u8 - b'0',
            '*' => 10,
            '#' => 11,
            _ => panic!("not a digit: {digit}"),
        };
        // each key press is a new event: its own timestamp (RFC 4733 §2.5.1.2)
        static PRESSES: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);
        let n = PRESSES.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let (ssrc, ts) = (0x5157_0001u32, 96_000u32.wrapping_add(n * 8_000));
        let seq0 = 40_000u16.wrapping_add((n * 8) as u16);
        for i in 0..8u16 {
            let end = i >= 5;
            let duration = 160 * (i.min(5) + 1);
            let mut p = rtp_header(101, i == 0, seq0.wrapping_add(i), ts, ssrc);
            p.push(event);
            p.push(if end { 0x80 | 10 } else { 10 });
            p.extend_from_slice(&duration.to_be_bytes());
            self.sock.send_to(&p, to).expect("send telephone-event");
            thread::sleep(Duration::from_millis(20));
        }
    }

    /// Sends `secs` of a PCMA tone at `hz`, paced at 20 ms a packet, towards
    /// [`remote`](Self::remote), on a thread of its own.
    pub fn send_tone(&self, hz: f64, secs: f64) -> thread::JoinHandle<()> {
        let to = self.wait_remote(Duration::from_secs(5));
        let sock = self.sock.try_clone().expect("clone socket");
        thread::spawn(move || {
            let packets = (secs * 50.0) as u32;
            let start = std::time::Instant::now();
            for i in 0..packets {
                let mut p = rtp_header(8, i == 0, 1_000 + i as u16, 160 * i, 0x5157_0002);
                for n in 0..160 {
                    let t = (i * 160 + n) as f64 / 8000.0;
                    let v = (t * hz * 2.0 * std::f64::consts::PI).sin() * 12_000.0;
                    p.push(alaw_encode(v as i16));
                }
                let _ = sock.send_to(&p, to);
                let due = start + Duration::from_millis(20 * (i as u64 + 1));
                if let Some(wait) = due.checked_duration_since(std::time::Instant::now()) {
                    thread::sleep(wait);
                }
            }
        })
    }
}

fn rtp_header(pt: u8, marker: bool, seq: u16, ts: u32, ssrc: u32) -> Vec<u8> {
    let mut p = vec![0x80, pt | if marker { 0x80 } else { 0 }];
    p.extend_from_slice(&seq.to_be_bytes());
    p.extend_from_slice(&ts.to_be_bytes());
    p.extend_from_slice(&ssrc.to_be_bytes());
    p
}

/// Root-mean-square level of `samples`, as a fraction of full scale.
pub fn rms(samples: &[i16]) -> f64 {
    if samples.is_empty() {
        return 0.0;
    }
    let ms = samples.iter().map(|&s| (s as f64).powi(2)).sum::<f64>() / samples.len() as f64;
    ms.sqrt() / 32_768.0
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
