//! baresip phones for the end-to-end tests (Debian's v1.0.0): a phone per
//! extension, its microphone a WAV file (`aufile`), what it decoded from the
//! network recorded (`sndfile`), driven over its `cons` console; and the WAV
//! and tone analysis the tests judge audio with.

use std::fs;
use std::net::UdpSocket;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::thread;
use std::time::{Duration, Instant};

use super::{free_port, password_of, port_block, Switch};

pub const BARESIP: &str = "baresip";
pub const MODULE_DIR: &str = "/usr/lib/baresip/modules";
pub const MODULES: &[&str] = &["g711", "opus", "aufile", "aubridge", "sndfile", "cons"];
pub const APP_MODULES: &[&str] = &["account", "menu"];

pub const RATE: u32 = 8_000;
/// The caller's tone; the callee must hear it.
pub const TONE_1001: f64 = 440.0;
/// The callee's tone; the caller must hear it.
pub const TONE_1002: f64 = 1_000.0;
/// Longer than the call, so the `aufile` source never runs dry mid-call.
pub const TONE_SECS: u32 = 12;
/// How long the two phones talk once the switch has bridged them.
pub const TALK: Duration = Duration::from_secs(4);

// ---------------------------------------------------------------------------
// one baresip phone

pub struct Phone {
    ext: &'static str,
    child: Option<Child>,
    dir: tempfile::TempDir,
    cons: u16,
}

impl Phone {
    /// Starts baresip as `ext` of the default account, registering at `sw` and
    /// sending `tone` (a WAV file) as its microphone.
    pub fn start(sw: &Switch, ext: &'static str, tone: &Path, auto_answer: bool) -> Phone {
        Phone::start_with(sw, ext, tone, auto_answer, "PCMU")
    }

    /// Like [`start`](Self::start), offering only `codec` (`PCMU`, `opus`).
    pub fn start_with(
        sw: &Switch,
        ext: &'static str,
        tone: &Path,
        auto_answer: bool,
        codec: &str,
    ) -> Phone {
        let dir = tempfile::Builder::new()
            .prefix(&format!("switchyard-baresip-{ext}-"))
            .tempdir()
            .expect("tempdir");
        // baresip listens for SIP on UDP+TCP at the port and for TLS on port + 1
        let sip = port_block(2);
        let cons = free_port();
        let rtp = port_block(10);
        fs::create_dir(dir.path().join("rec")).expect("mkdir rec");
        let mut config = format!(
            "poll_method epoll\n\
             sip_listen 127.0.0.1:{sip}\n\
             net_interface 127.0.0.1\n\
             rtp_ports {rtp}-{}\n\
             audio_source aufile,{}\n\
             audio_player aubridge,speaker-{ext}\n\
             audio_alert aubridge,speaker-{ext}\n\
             snd_path {}\n\
             cons_listen 127.0.0.1:{cons}\n\
             module_path {MODULE_DIR}\n",
            rtp + 9,
            tone.display(),
            dir.path().join("rec").display(),
        );
        for m in MODULES {
            config.push_str(&format!("module {m}.so\n"));
        }
        for m in APP_MODULES {
            config.push_str(&format!("module_app {m}.so\n"));
        }
        fs::write(dir.path().join("config"), config).expect("write baresip config");
        let answer = if auto_answer { ";answermode=auto" } else { "" };
        fs::write(
            dir.path().join("accounts"),
            format!(
                "<sip:{ext}@{}>;auth_pass={};regint=300;audio_codecs={codec}{answer}\n",
                sw.sip,
                password_of(ext)
            ),
        )
        .expect("write baresip accounts");

        let log = fs::File::create(dir.path().join("baresip.log")).expect("create baresip log");
        let child = Command::new(BARESIP)
            .arg("-f")
            .arg(dir.path())
            .arg("-s") // SIP trace into the log
            .stdin(Stdio::null())
            .stdout(log.try_clone().expect("clone log"))
            .stderr(log)
            .spawn()
            .unwrap_or_else(|e| {
                panic!("cannot start `{BARESIP}` ({e}): install baresip (Debian package `baresip`)")
            });
        let mut phone = Phone {
            ext,
            child: Some(child),
            dir,
            cons,
        };
        phone.wait_console();
        phone
    }

    /// Waits until the `cons` module answers on its UDP port: baresip is up.
    pub fn wait_console(&mut self) {
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            self.assert_running("during start-up");
            if self.command_reply("/reginfo\n").is_some() {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "baresip {} console (UDP {}) silent for 10 s\n{}",
                self.ext,
                self.cons,
                self.log()
            );
            thread::sleep(Duration::from_millis(100));
        }
    }

    /// Sends `cmd` to the `cons` console and returns its first reply, if any.
    pub fn command_reply(&self, cmd: &str) -> Option<String> {
        let sock = UdpSocket::bind("127.0.0.1:0").expect("bind console client");
        sock.set_read_timeout(Some(Duration::from_millis(300)))
            .expect("timeout");
        sock.send_to(cmd.as_bytes(), ("127.0.0.1", self.cons))
            .expect("send console command");
        let mut buf = [0u8; 4096];
        sock.recv(&mut buf)
            .ok()
            .map(|n| String::from_utf8_lossy(&buf[..n]).into_owned())
    }

    pub fn command(&self, cmd: &str) {
        let reply = self.command_reply(&format!("{cmd}\n"));
        eprintln!("baresip {} <- {cmd:?}: {reply:?}", self.ext);
    }

    pub fn assert_running(&mut self, when: &str) {
        if let Some(c) = self.child.as_mut() {
            if let Ok(Some(status)) = c.try_wait() {
                panic!(
                    "baresip {} exited {when}: {status}\n{}",
                    self.ext,
                    self.log()
                );
            }
        }
    }

    /// Asks baresip to quit (which closes the recordings) and waits for it.
    pub fn quit(&mut self) {
        let Some(mut child) = self.child.take() else {
            return;
        };
        self.command("/quit");
        let deadline = Instant::now() + Duration::from_secs(5);
        while Instant::now() < deadline {
            if let Ok(Some(_)) = child.try_wait() {
                return;
            }
            thread::sleep(Duration::from_millis(50));
        }
        eprintln!("baresip {} ignored /quit for 5 s; killing it", self.ext);
        let _ = child.kill();
        let _ = child.wait();
    }

    pub fn log(&self) -> String {
        fs::read_to_string(self.dir.path().join("baresip.log")).unwrap_or_default()
    }

    /// The WAV file of the audio this phone decoded from the network.
    pub fn heard(&self) -> PathBuf {
        let rec = self.dir.path().join("rec");
        let files: Vec<PathBuf> = fs::read_dir(&rec)
            .expect("read recordings dir")
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| p.to_string_lossy().ends_with("-dec.wav"))
            .collect();
        assert_eq!(
            files.len(),
            1,
            "baresip {} should have recorded one decoded stream in {}: {files:?}\n{}",
            self.ext,
            rec.display(),
            self.log()
        );
        files[0].clone()
    }
}

impl Drop for Phone {
    fn drop(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
        if thread::panicking() {
            eprintln!(
                "===== baresip {} log =====\n{}\n===== end of baresip {} log =====",
                self.ext,
                self.log(),
                self.ext
            );
        }
    }
}

pub fn assert_baresip_installed() {
    let out = Command::new(BARESIP)
        .arg("-h")
        .output()
        .unwrap_or_else(|e| {
            panic!("`{BARESIP}` is not runnable ({e}): install baresip (Debian package `baresip`)")
        });
    let text =
        String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr);
    assert!(text.contains("baresip"), "`baresip -h` printed:\n{text}");
    for m in MODULES.iter().chain(APP_MODULES) {
        let so = Path::new(MODULE_DIR).join(format!("{m}.so"));
        assert!(so.exists(), "baresip module {} is missing", so.display());
    }
}

// ---------------------------------------------------------------------------
// audio files and analysis

/// A mono 16-bit PCM WAV file of a sine at `freq`, half of full scale, at 8 kHz.
pub fn write_tone_wav(path: &Path, freq: f64, secs: u32) {
    write_tone_wav_at(path, freq, secs, RATE, 1)
}

/// [`write_tone_wav`] at `rate` Hz with `channels` identical channels (baresip's
/// `aufile` does not resample: an Opus phone needs 48 kHz stereo).
pub fn write_tone_wav_at(path: &Path, freq: f64, secs: u32, rate: u32, channels: u16) {
    let n = rate * secs;
    let block = 2 * u32::from(channels);
    let data_len = n * block;
    let mut out = Vec::with_capacity(44 + data_len as usize);
    out.extend_from_slice(b"RIFF");
    out.extend_from_slice(&(36 + data_len).to_le_bytes());
    out.extend_from_slice(b"WAVE");
    out.extend_from_slice(b"fmt ");
    out.extend_from_slice(&16u32.to_le_bytes());
    out.extend_from_slice(&1u16.to_le_bytes()); // PCM
    out.extend_from_slice(&channels.to_le_bytes());
    out.extend_from_slice(&rate.to_le_bytes());
    out.extend_from_slice(&(rate * block).to_le_bytes()); // byte rate
    out.extend_from_slice(&(block as u16).to_le_bytes()); // block align
    out.extend_from_slice(&16u16.to_le_bytes()); // bits per sample
    out.extend_from_slice(b"data");
    out.extend_from_slice(&data_len.to_le_bytes());
    for i in 0..n {
        let t = i as f64 / rate as f64;
        let s = (2.0 * std::f64::consts::PI * freq * t).sin() * 16_384.0;
        for _ in 0..channels {
            out.extend_from_slice(&(s as i16).to_le_bytes());
        }
    }
    fs::write(path, out).expect("write tone WAV");
}

/// The samples of a mono 16-bit 8 kHz WAV file. The data chunk's length is not
/// trusted: a writer that did not close its file leaves it short or zero.
pub fn read_wav(path: &Path) -> Vec<i16> {
    let (rate, channels, samples) = read_wav_any(path);
    assert_eq!(
        (rate, channels),
        (RATE, 1),
        "{}: (rate, channels)",
        path.display()
    );
    samples
}

/// A 16-bit PCM WAV file of any rate, its channels averaged: (rate, mono samples).
pub fn read_wav_mono(path: &Path) -> (u32, Vec<i16>) {
    let (rate, channels, samples) = read_wav_any(path);
    let n = usize::from(channels.max(1));
    let mono = samples
        .chunks(n)
        .map(|c| (c.iter().map(|&s| i32::from(s)).sum::<i32>() / n as i32) as i16)
        .collect();
    (rate, mono)
}

/// A 16-bit PCM WAV file of any rate and channel count: (rate, channels, interleaved samples).
pub fn read_wav_any(path: &Path) -> (u32, u16, Vec<i16>) {
    let bytes = fs::read(path).unwrap_or_else(|e| panic!("read {}: {e}", path.display()));
    assert!(
        bytes.len() >= 12 && &bytes[..4] == b"RIFF" && &bytes[8..12] == b"WAVE",
        "{} is not a WAV file",
        path.display()
    );
    let u16_at = |i: usize| u16::from_le_bytes([bytes[i], bytes[i + 1]]);
    let u32_at =
        |i: usize| u32::from_le_bytes([bytes[i], bytes[i + 1], bytes[i + 2], bytes[i + 3]]);
    let mut pos = 12;
    let mut format: Option<(u32, u16)> = None;
    while pos + 8 <= bytes.len() {
        let id = &bytes[pos..pos + 4];
        let len = u32_at(pos + 4) as usize;
        let body = pos + 8;
        if id == b"fmt " {
            let (fmt, ch, rate, bits) = (
                u16_at(body),
                u16_at(body + 2),
                u32_at(body + 4),
                u16_at(body + 14),
            );
            assert_eq!(
                (fmt, bits),
                (1, 16),
                "{}: (format, bits) of a {ch}-channel {rate} Hz file",
                path.display()
            );
            format = Some((rate, ch));
        } else if id == b"data" {
            let (rate, ch) =
                format.unwrap_or_else(|| panic!("{}: data before fmt", path.display()));
            let samples = bytes[body..]
                .chunks_exact(2)
                .map(|c| i16::from_le_bytes([c[0], c[1]]))
                .collect();
            return (rate, ch, samples);
        }
        pos = body + len + (len & 1);
    }
    panic!("{}: no data chunk", path.display());
}

/// Power of `freq` in `x` (Goertzel), normalised so that a sine of amplitude A
/// over the whole block gives A²/2 — its mean square.
pub fn tone_power(x: &[f64], rate: u32, freq: f64) -> f64 {
    let w = 2.0 * std::f64::consts::PI * freq / rate as f64;
    let coeff = 2.0 * w.cos();
    let (mut s1, mut s2) = (0.0, 0.0);
    for &v in x {
        let s = v + coeff * s1 - s2;
        s2 = s1;
        s1 = s;
    }
    let p = s1 * s1 + s2 * s2 - coeff * s1 * s2;
    2.0 * p / (x.len() as f64 * x.len() as f64)
}

#[derive(Debug)]
pub struct Heard {
    /// Length of the longest run of 20 ms frames with sound in them.
    pub sound: Duration,
    /// RMS of that run, as a fraction of full scale.
    pub rms: f64,
    /// The strongest frequency in that run.
    pub peak_hz: f64,
    /// Share of the run's power at `peak_hz` (1.0 for a pure tone).
    pub purity: f64,
    /// Power at the given frequencies, as a fraction of the run's power.
    pub shares: Vec<(f64, f64)>,
}

/// What a listener would say about a recording: how long it had sound, how loud,
/// at which pitch, and how much of the given frequencies it contains.
pub fn analyse(samples: &[i16], probes: &[f64]) -> Heard {
    analyse_at(samples, RATE, probes)
}

/// [`analyse`] for mono audio at `rate` Hz.
pub fn analyse_at(samples: &[i16], rate: u32, probes: &[f64]) -> Heard {
    let frame = (rate / 50) as usize;
    // full-scale 0.01 RMS: silence and comfort noise stay below it
    let loud = |f: &[i16]| {
        let ms = f.iter().map(|&s| (s as f64).powi(2)).sum::<f64>() / f.len() as f64;
        ms.sqrt() / 32_768.0 > 0.01
    };
    let (mut best, mut start) = ((0, 0), None);
    for (i, f) in samples.chunks(frame).enumerate() {
        match (loud(f), start) {
            (true, None) => start = Some(i),
            (false, Some(s)) => {
                if i - s > best.1 - best.0 {
                    best = (s, i);
                }
                start = None;
            }
            _ => {}
        }
    }
    if let Some(s) = start {
        let end = samples.len().div_ceil(frame);
        if end - s > best.1 - best.0 {
            best = (s, end);
        }
    }
    let run: Vec<f64> = samples[best.0 * frame..(best.1 * frame).min(samples.len())]
        .iter()
        .map(|&s| s as f64 / 32_768.0)
        .collect();
    let sound = Duration::from_millis(run.len() as u64 * 1000 / rate as u64);
    if run.len() < frame {
        return Heard {
            sound,
            rms: 0.0,
            peak_hz: 0.0,
            purity: 0.0,
            shares: probes.iter().map(|&f| (f, 0.0)).collect(),
        };
    }
    // two seconds from the middle of the run are plenty (0.5 Hz resolution)
    let take = run.len().min(2 * rate as usize);
    let skip = (run.len() - take) / 2;
    let x = &run[skip..skip + take];
    let ms = x.iter().map(|v| v * v).sum::<f64>() / x.len() as f64;
    let scan = |from: f64, to: f64, step: f64| {
        let mut f = from;
        let mut best = (from, 0.0);
        while f <= to {
            let p = tone_power(x, rate, f);
            if p > best.1 {
                best = (f, p);
            }
            f += step;
        }
        best
    };
    let coarse = scan(50.0, 3_950.0, 5.0);
    let (peak_hz, peak) = scan(coarse.0 - 5.0, coarse.0 + 5.0, 0.25);
    Heard {
        sound,
        rms: ms.sqrt(),
        peak_hz,
        purity: peak / ms,
        shares: probes
            .iter()
            .map(|&f| (f, tone_power(x, rate, f) / ms))
            .collect(),
    }
}

/// `heard` is the tone `expected` — loud, long and pure — and holds next to nothing
/// of `own`, the listener's own tone (which would mean an echo or a crossed relay).
pub fn assert_heard(who: &str, heard: &Heard, expected: f64, own: f64) {
    assert_heard_with_purity(who, heard, expected, own, 0.8)
}

/// [`assert_heard`] with the share of power the tone must hold (a pure tone
/// through narrowband Opus/SILK, a speech coder, keeps ~70-90 % of its power).
pub fn assert_heard_with_purity(who: &str, heard: &Heard, expected: f64, own: f64, purity: f64) {
    assert!(
        heard.sound >= TALK - Duration::from_millis(500),
        "{who} heard only {:?} of sound in a {TALK:?} call: {heard:?}",
        heard.sound
    );
    assert!(
        heard.rms > 0.1,
        "{who} heard the call too quietly (RMS {:.3} of full scale; 0.354 was sent): {heard:?}",
        heard.rms
    );
    assert!(
        (heard.peak_hz - expected).abs() <= 3.0,
        "{who} heard {:.2} Hz, expected {expected} Hz: {heard:?}",
        heard.peak_hz
    );
    assert!(
        heard.purity > purity,
        "{who} heard {expected} Hz buried in other sound: {heard:?}"
    );
    let own_share = heard
        .shares
        .iter()
        .find(|(f, _)| *f == own)
        .map(|(_, s)| *s)
        .unwrap_or(0.0);
    assert!(
        own_share < 0.01,
        "{who} heard its own {own} Hz tone back ({:.1}% of the power): {heard:?}",
        own_share * 100.0
    );
}

// ---------------------------------------------------------------------------
