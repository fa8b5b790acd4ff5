//! Two real baresip phones talk through the switch. Extension 1001 plays a 440 Hz
//! tone, 1002 plays a 1000 Hz tone (both from WAV files via `aufile`, coded as PCMU);
//! each phone records what it decoded from the network (`sndfile`). The test passes
//! only when 1002 heard 440 Hz and 1001 heard 1000 Hz: audio crossed the relay both
//! ways, unmixed and not reflected back to its sender.
//!
//! baresip (Debian's v1.0.0) must be installed: these tests never skip silently.

mod common;

use common::{count, describe, free_port, password_of, port_block, Switch};
use std::fs;
use std::net::UdpSocket;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::thread;
use std::time::{Duration, Instant};

const BARESIP: &str = "baresip";
const MODULE_DIR: &str = "/usr/lib/baresip/modules";
const MODULES: &[&str] = &["g711", "opus", "aufile", "aubridge", "sndfile", "cons"];
const APP_MODULES: &[&str] = &["account", "menu"];

const RATE: u32 = 8_000;
/// The caller's tone; the callee must hear it.
const TONE_1001: f64 = 440.0;
/// The callee's tone; the caller must hear it.
const TONE_1002: f64 = 1_000.0;
/// Longer than the call, so the `aufile` source never runs dry mid-call.
const TONE_SECS: u32 = 12;
/// How long the two phones talk once the switch has bridged them.
const TALK: Duration = Duration::from_secs(4);

// ---------------------------------------------------------------------------
// one baresip phone

struct Phone {
    ext: &'static str,
    child: Option<Child>,
    dir: tempfile::TempDir,
    cons: u16,
}

impl Phone {
    /// Starts baresip as `ext` of the default account, registering at `sw` and
    /// sending `tone` (a WAV file) as its microphone.
    fn start(sw: &Switch, ext: &'static str, tone: &Path, auto_answer: bool) -> Phone {
        Phone::start_with(sw, ext, tone, auto_answer, "PCMU")
    }

    /// Like [`start`](Self::start), offering only `codec` (`PCMU`, `opus`).
    fn start_with(
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
    fn wait_console(&mut self) {
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
    fn command_reply(&self, cmd: &str) -> Option<String> {
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

    fn command(&self, cmd: &str) {
        let reply = self.command_reply(&format!("{cmd}\n"));
        eprintln!("baresip {} <- {cmd:?}: {reply:?}", self.ext);
    }

    fn assert_running(&mut self, when: &str) {
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
    fn quit(&mut self) {
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

    fn log(&self) -> String {
        fs::read_to_string(self.dir.path().join("baresip.log")).unwrap_or_default()
    }

    /// The WAV file of the audio this phone decoded from the network.
    fn heard(&self) -> PathBuf {
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

fn assert_baresip_installed() {
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
fn write_tone_wav(path: &Path, freq: f64, secs: u32) {
    write_tone_wav_at(path, freq, secs, RATE, 1)
}

/// [`write_tone_wav`] at `rate` Hz with `channels` identical channels (baresip's
/// `aufile` does not resample: an Opus phone needs 48 kHz stereo).
fn write_tone_wav_at(path: &Path, freq: f64, secs: u32, rate: u32, channels: u16) {
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
fn read_wav(path: &Path) -> Vec<i16> {
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
fn read_wav_mono(path: &Path) -> (u32, Vec<i16>) {
    let (rate, channels, samples) = read_wav_any(path);
    let n = usize::from(channels.max(1));
    let mono = samples
        .chunks(n)
        .map(|c| (c.iter().map(|&s| i32::from(s)).sum::<i32>() / n as i32) as i16)
        .collect();
    (rate, mono)
}

/// A 16-bit PCM WAV file of any rate and channel count: (rate, channels, interleaved samples).
fn read_wav_any(path: &Path) -> (u32, u16, Vec<i16>) {
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
fn tone_power(x: &[f64], rate: u32, freq: f64) -> f64 {
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
struct Heard {
    /// Length of the longest run of 20 ms frames with sound in them.
    sound: Duration,
    /// RMS of that run, as a fraction of full scale.
    rms: f64,
    /// The strongest frequency in that run.
    peak_hz: f64,
    /// Share of the run's power at `peak_hz` (1.0 for a pure tone).
    purity: f64,
    /// Power at the given frequencies, as a fraction of the run's power.
    shares: Vec<(f64, f64)>,
}

/// What a listener would say about a recording: how long it had sound, how loud,
/// at which pitch, and how much of the given frequencies it contains.
fn analyse(samples: &[i16], probes: &[f64]) -> Heard {
    analyse_at(samples, RATE, probes)
}

/// [`analyse`] for mono audio at `rate` Hz.
fn analyse_at(samples: &[i16], rate: u32, probes: &[f64]) -> Heard {
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
fn assert_heard(who: &str, heard: &Heard, expected: f64, own: f64) {
    assert_heard_with_purity(who, heard, expected, own, 0.8)
}

/// [`assert_heard`] with the share of power the tone must hold (a pure tone
/// through narrowband Opus/SILK, a speech coder, keeps ~70-90 % of its power).
fn assert_heard_with_purity(who: &str, heard: &Heard, expected: f64, own: f64, purity: f64) {
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

#[test]
fn two_baresip_phones_hear_each_other_through_the_relay() {
    assert_baresip_installed();
    let sw = Switch::start_default();
    let tones = tempfile::tempdir().expect("tempdir");
    let tone_1001 = tones.path().join("tone-440.wav");
    let tone_1002 = tones.path().join("tone-1000.wav");
    write_tone_wav(&tone_1001, TONE_1001, TONE_SECS);
    write_tone_wav(&tone_1002, TONE_1002, TONE_SECS);

    let mut callee = Phone::start(&sw, "1002", &tone_1002, true);
    let mut caller = Phone::start(&sw, "1001", &tone_1001, false);
    let regs = sw.wait_metric("switchyard_registrations", Duration::from_secs(10), |v| {
        v >= 2.0
    });
    assert_eq!(regs, 2.0, "both phones should be registered");

    let events = sw.events();
    caller.command(&format!("/dial sip:1002@{}", sw.sip));
    // 1002 answers by itself; the two legs are bridged from then on
    let evs = events.wait_for(Duration::from_secs(10), |e| count(e, "channel_bridge") >= 1);
    caller.assert_running("during the call");
    callee.assert_running("during the call");
    assert!(
        count(&evs, "channel_bridge") >= 1,
        "1002 did not answer within 10 s of dialling; events:\n{}",
        describe(&evs)
    );
    assert_eq!(sw.metric("switchyard_active_calls"), 1.0, "active calls");
    thread::sleep(TALK);
    caller.command("/hangup");
    let active = sw.wait_metric("switchyard_active_calls", Duration::from_secs(5), |v| {
        v == 0.0
    });
    assert_eq!(active, 0.0, "the call should be over after 1001 hung up");
    // 50 packets a second each way (the counter is complete once the call is over)
    let relayed = sw.wait_metric(
        "switchyard_rtp_packets_relayed_total",
        Duration::from_secs(3),
        |v| v >= 300.0,
    );
    assert!(
        relayed >= 300.0,
        "only {relayed} RTP packets relayed in a {TALK:?} call"
    );
    caller.quit();
    callee.quit();

    let at_1002 = analyse(&read_wav(&callee.heard()), &[TONE_1001, TONE_1002]);
    let at_1001 = analyse(&read_wav(&caller.heard()), &[TONE_1001, TONE_1002]);
    eprintln!("1002 heard: {at_1002:?}\n1001 heard: {at_1001:?}");
    assert_heard("1002", &at_1002, TONE_1001, TONE_1002);
    assert_heard("1001", &at_1001, TONE_1002, TONE_1001);
}

#[test]
fn tone_analysis_finds_the_tone_and_rejects_silence() {
    // the analysis itself must be able to fail: silence, a wrong tone, a mixture
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("t.wav");
    write_tone_wav(&path, 440.0, 3);
    let samples = read_wav(&path);
    assert_eq!(samples.len(), 3 * RATE as usize);
    let h = analyse(&samples, &[440.0, 1_000.0]);
    assert!((h.peak_hz - 440.0).abs() <= 0.5, "{h:?}");
    assert!((h.rms - 0.5 / 2f64.sqrt()).abs() < 0.01, "{h:?}");
    assert!(h.purity > 0.95 && h.shares[1].1 < 0.001, "{h:?}");
    assert_eq!(h.sound, Duration::from_secs(3));

    let silence = vec![0i16; 3 * RATE as usize];
    assert_eq!(analyse(&silence, &[440.0]).sound, Duration::ZERO);

    let mixed: Vec<i16> = samples
        .iter()
        .enumerate()
        .map(|(i, &s)| {
            let t = i as f64 / RATE as f64;
            s / 2 + ((2.0 * std::f64::consts::PI * 1_000.0 * t).sin() * 8_192.0) as i16
        })
        .collect();
    let h = analyse(&mixed, &[440.0, 1_000.0]);
    assert!(h.purity < 0.6, "a 50/50 mixture is not a pure tone: {h:?}");
    assert!(h.shares[1].1 > 0.3, "{h:?}");
}

#[test]
fn opus_phone_and_pcmu_phone_talk_through_the_transcoder_and_are_recorded() {
    assert_baresip_installed();
    // 1001 records every call it places: the recording must hold both sides
    let sw = Switch::start(common::SwitchOpts {
        dialplan_patch: vec![(
            "display_name = \"Alice\"".into(),
            "display_name = \"Alice\"\nrecord = true".into(),
        )],
        ..Default::default()
    });
    let tones = tempfile::tempdir().expect("tempdir");
    let tone_1001 = tones.path().join("tone-440.wav");
    let tone_1002 = tones.path().join("tone-1000.wav");
    write_tone_wav_at(&tone_1001, TONE_1001, TONE_SECS, 48_000, 2);
    write_tone_wav(&tone_1002, TONE_1002, TONE_SECS);

    // the two phones share no codec: only the switch can make them talk
    let mut callee = Phone::start_with(&sw, "1002", &tone_1002, true, "PCMU");
    let mut caller = Phone::start_with(&sw, "1001", &tone_1001, false, "opus/48000/2");
    let regs = sw.wait_metric("switchyard_registrations", Duration::from_secs(10), |v| {
        v >= 2.0
    });
    assert_eq!(regs, 2.0, "both phones should be registered");
    let events = sw.events();
    caller.command(&format!("/dial sip:1002@{}", sw.sip));
    let evs = events.wait_for(Duration::from_secs(10), |e| count(e, "channel_bridge") >= 1);
    assert!(
        count(&evs, "channel_bridge") >= 1,
        "the call was not bridged within 10 s; events:\n{}",
        describe(&evs)
    );
    thread::sleep(TALK);
    caller.command("/hangup");
    let evs = events.wait_for(Duration::from_secs(10), |e| count(e, "recording") >= 1);
    caller.quit();
    callee.quit();

    let at_1002 = analyse(&read_wav(&callee.heard()), &[TONE_1001, TONE_1002]);
    let (rate, mono) = read_wav_mono(&caller.heard());
    let at_1001 = analyse_at(&mono, rate, &[TONE_1001, TONE_1002]);
    eprintln!("1002 (PCMU) heard: {at_1002:?}\n1001 (Opus, {rate} Hz) heard: {at_1001:?}");
    assert_heard("1002", &at_1002, TONE_1001, TONE_1002);
    assert_heard_with_purity("1001", &at_1001, TONE_1002, TONE_1001, 0.6);
    assert!(
        sw.log_text().contains("transcoding"),
        "the switch never logged that it transcodes this call"
    );

    // the recording: one event with the file, caller (440 Hz) left, callee (1000 Hz) right
    let rec = evs
        .iter()
        .find(|e| e.name == "recording")
        .unwrap_or_else(|| panic!("no recording event; events:\n{}", describe(&evs)));
    let path = PathBuf::from(rec.data["path"].as_str().expect("path"));
    let (rate, channels, samples) = read_wav_any(&path);
    assert_eq!((rate, channels), (RATE, 2), "recording format");
    let left: Vec<i16> = samples.iter().step_by(2).copied().collect();
    let right: Vec<i16> = samples.iter().skip(1).step_by(2).copied().collect();
    let l = analyse(&left, &[TONE_1001, TONE_1002]);
    let r = analyse(&right, &[TONE_1001, TONE_1002]);
    eprintln!("recording left: {l:?}\nrecording right: {r:?}");
    assert_heard("recording (left)", &l, TONE_1001, TONE_1002);
    assert_heard("recording (right)", &r, TONE_1002, TONE_1001);
    assert!(
        rec.data["duration_ms"].as_i64().unwrap_or(0) >= 3000,
        "{:?}",
        rec.data
    );
}

#[test]
fn opus_phone_hears_the_prompt_an_app_plays() {
    assert_baresip_installed();
    let sw = Switch::start_default();
    let tones = tempfile::tempdir().expect("tempdir");
    let tone = tones.path().join("tone-440.wav");
    write_tone_wav_at(&tone, TONE_1001, TONE_SECS, 48_000, 2);
    let mut caller = Phone::start_with(&sw, "1001", &tone, false, "opus/48000/2");
    let regs = sw.wait_metric("switchyard_registrations", Duration::from_secs(10), |v| {
        v >= 1.0
    });
    assert_eq!(regs, 1.0);
    let events = sw.events();
    // app 7001: 2 s of the 1 kHz prompt, 0.5 s of silence, then the switch hangs up
    caller.command(&format!("/dial sip:7001@{}", sw.sip));
    let evs = events.wait_for(Duration::from_secs(10), |e| {
        count(e, "channel_destroy") >= 1
    });
    assert_eq!(count(&evs, "channel_destroy"), 1, "{}", describe(&evs));
    thread::sleep(Duration::from_millis(300));
    caller.quit();
    let (rate, mono) = read_wav_mono(&caller.heard());
    let heard = analyse_at(&mono, rate, &[1_000.0, TONE_1001]);
    eprintln!("1001 (Opus, {rate} Hz) heard: {heard:?}");
    assert!(
        heard.sound >= Duration::from_millis(1800),
        "the 2 s prompt lasted {:?}: {heard:?}",
        heard.sound
    );
    assert!((heard.peak_hz - 1_000.0).abs() <= 3.0, "{heard:?}");
    assert!(heard.purity > 0.8, "{heard:?}");
}

/// The demo's main menu, key 1, the `sales` queue: the caller (SIPp, its media
/// on a test socket) hears the greeting, presses 1 as an RFC 4733 event and
/// waits with music on hold while no agent has a device; then a baresip phone
/// registers as agent 1002, is offered the call within seconds, answers by
/// itself, and each side hears the other's tone.
#[test]
fn a_queue_caller_is_answered_by_a_baresip_agent_that_registers_while_it_waits() {
    use common::{caller, rms, tone_frequency, RtpSink};
    assert_baresip_installed();
    let sw = Switch::start_default();
    let tones = tempfile::tempdir().expect("tempdir");
    let agent_tone = tones.path().join("tone-1000.wav");
    write_tone_wav(&agent_tone, TONE_1002, TONE_SECS);
    let events = sw.events();
    let phone = RtpSink::bind();
    let call = caller(&sw, "uac_hold_on.xml", "1001", "8000")
        .key("rtp_port", phone.port)
        .key("hold", 14_000)
        .spawn();

    // the greeting speaks; the caller presses 1 over it
    let until = Instant::now() + Duration::from_secs(6);
    while phone
        .samples_since(0)
        .chunks(160)
        .filter(|f| rms(f) > 0.01)
        .count()
        < 50
    {
        assert!(Instant::now() < until, "no greeting heard");
        thread::sleep(Duration::from_millis(50));
    }
    phone.send_digit('1');
    let evs = events.wait_for(Duration::from_secs(5), |e| {
        e.iter().any(|e| e.name == "QUEUE_ENTER")
    });
    assert!(
        evs.iter().any(|e| e.name == "QUEUE_ENTER"),
        "{}",
        describe(&evs)
    );
    let mark = phone.heard();
    thread::sleep(Duration::from_millis(1500));
    let music = phone.samples_since(mark);
    assert!(
        rms(&music) > 0.01,
        "no music on hold while waiting (RMS {})",
        rms(&music)
    );

    let mut agent = Phone::start(&sw, "1002", &agent_tone, true);
    let started = Instant::now();
    let evs = events.wait_for(Duration::from_secs(8), |e| {
        e.iter().any(|e| e.name == "QUEUE_MEMBER_ANSWER")
    });
    let answer = evs
        .iter()
        .find(|e| e.name == "QUEUE_MEMBER_ANSWER")
        .unwrap_or_else(|| panic!("the agent never answered:\n{}", describe(&evs)));
    assert_eq!(answer.str("to_user_id"), "1002");
    assert!(
        started.elapsed() < Duration::from_secs(6),
        "{:?}",
        started.elapsed()
    );
    agent.assert_running("on the queue call");

    thread::sleep(Duration::from_millis(300));
    let mark = phone.heard();
    phone
        .send_tone(TONE_1001, TALK.as_secs_f64())
        .join()
        .expect("tone");
    let from_agent = phone.samples_since(mark);
    let f = tone_frequency(&from_agent);
    assert!(
        (f - TONE_1002).abs() < 60.0 && rms(&from_agent) > 0.05,
        "the caller heard {f:.0} Hz at RMS {:.3} from the agent",
        rms(&from_agent)
    );
    call.wait().assert_ok();
    agent.quit();
    let at_agent = analyse(&read_wav(&agent.heard()), &[TONE_1001, TONE_1002]);
    eprintln!("the agent heard: {at_agent:?}");
    assert_heard("1002", &at_agent, TONE_1001, TONE_1002);
}
