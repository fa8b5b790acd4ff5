//! The streams: plain RTP sockets and browser peers, served by ten pumps ticking
//! 2 ms apart (one wake-up per pump per 20 ms, not one per packet).

use super::*;

/// One RTP stream of the generator: a socket, where it sends, what it says.
pub(crate) struct Stream {
    sock: std::net::UdpSocket,
    dest: SocketAddr,
    voice: Voice,
    seq: u16,
    ssrc: u32,
}

/// A pump sends one packet on each of its streams every 20 ms and reads what
/// arrived since, without waking per packet: the generator must cost far less
/// than the switch it loads, on the same two cores.
pub(crate) struct Pump {
    streams: std::sync::Mutex<Vec<Stream>>,
    browsers: std::sync::Mutex<Vec<BrowserStream>>,
}

/// A browser caller's media: its WebRTC stack on its socket, Opus frames out.
pub(crate) struct BrowserStream {
    pub(crate) sock: Arc<UdpSocket>,
    pub(crate) rtc: str0m::Rtc,
    pub(crate) mid: str0m::media::Mid,
    pub(crate) voice: Voice,
    pub(crate) seq: u64,
}

impl BrowserStream {
    /// One 20 ms turn: a frame out once connected, every datagram in; returns
    /// (sent, received) RTP packets.
    fn turn(&mut self, now: std::time::Instant, sending: bool, buf: &mut [u8]) -> (u64, u64) {
        use str0m::net::{Protocol, Receive};
        use str0m::Input;
        let (mut sent, mut received) = (0, 0);
        if sending && self.rtc.is_connected() {
            let payload = self.voice.payloads[(self.seq % 50) as usize].clone();
            let ts = (self.seq as u32).wrapping_mul(self.voice.ts_step);
            if let Some(tx) = self.rtc.direct_api().stream_tx_by_mid(self.mid, None) {
                let ok = tx.write_rtp(
                    self.voice.pt.into(),
                    (self.seq + 1).into(),
                    ts,
                    now,
                    false,
                    Default::default(),
                    false,
                    payload,
                );
                if ok.is_ok() {
                    sent += 1;
                }
            }
            self.seq += 1;
        }
        let Ok(local) = self.sock.local_addr() else {
            return (sent, received);
        };
        while let Ok((n, src)) = self.sock.try_recv_from(buf) {
            if let Ok(r) = Receive::new(Protocol::Udp, src, local, &buf[..n]) {
                let _ = self.rtc.handle_input(Input::Receive(now, r));
                received += self.drain();
            }
        }
        let _ = self.rtc.handle_input(Input::Timeout(now));
        received += self.drain();
        (sent, received)
    }

    fn drain(&mut self) -> u64 {
        use str0m::{Event, Output};
        let mut got = 0;
        loop {
            match self.rtc.poll_output() {
                Ok(Output::Transmit(t)) => {
                    let _ = self.sock.try_send_to(&t.contents, t.destination);
                }
                Ok(Output::Event(Event::RtpPacket(_))) => got += 1,
                Ok(Output::Event(_)) => {}
                Ok(Output::Timeout(_)) | Err(_) => return got,
            }
        }
    }
}

/// Pumps tick 2 ms apart, spreading the generator's work over the 20 ms period.
pub(crate) const PUMPS: usize = 10;
pub(crate) static PUMP_SET: std::sync::OnceLock<Vec<Arc<Pump>>> = std::sync::OnceLock::new();
pub(crate) static NEXT_PUMP: AtomicU64 = AtomicU64::new(0);

pub(crate) fn pumps(
    counters: &Arc<Counters>,
    stop: &tokio::sync::watch::Receiver<bool>,
) -> &'static [Arc<Pump>] {
    PUMP_SET.get_or_init(|| {
        (0..PUMPS)
            .map(|i| {
                let pump = Arc::new(Pump {
                    streams: std::sync::Mutex::new(Vec::new()),
                    browsers: std::sync::Mutex::new(Vec::new()),
                });
                let phase = Duration::from_millis(2 * i as u64);
                tokio::spawn(run_pump(
                    pump.clone(),
                    counters.clone(),
                    stop.clone(),
                    phase,
                ));
                pump
            })
            .collect()
    })
}

pub(crate) async fn run_pump(
    pump: Arc<Pump>,
    counters: Arc<Counters>,
    stop: tokio::sync::watch::Receiver<bool>,
    phase: Duration,
) {
    let mut tick = tokio::time::interval_at(
        tokio::time::Instant::now() + phase,
        Duration::from_millis(20),
    );
    // independent phones: a turn the generator missed is skipped, not sent in a
    // burst with the next one (which would load the relay as no real calls do);
    // how late the turns came is reported
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
    let mut buf = [0u8; 2048];
    let mut pkt = Vec::with_capacity(1500);
    let mut delays = vec![0u64; DELAY_BUCKETS];
    // after the stop, keep reading for 300 ms: the last packets in flight arrive
    let mut drain_ticks: Option<u32> = None;
    loop {
        let due = tick.tick().await;
        if MEASURING.load(Relaxed) {
            let late = due.elapsed().as_micros() as u64;
            LATE_MAX_US.fetch_max(late, Relaxed);
        }
        if *stop.borrow() && drain_ticks.is_none() {
            drain_ticks = Some(15);
        }
        let sending = drain_ticks.is_none();
        let (mut sent, mut received) = (0u64, 0u64);
        {
            let mut streams = pump.streams.lock().unwrap_or_else(|e| e.into_inner());
            for s in streams.iter_mut() {
                if sending && s.voice.send {
                    let payload = &s.voice.payloads[usize::from(s.seq) % s.voice.payloads.len()];
                    pkt.clear();
                    pkt.extend_from_slice(&[0x80, s.voice.pt]);
                    pkt.extend_from_slice(&s.seq.to_be_bytes());
                    pkt.extend_from_slice(
                        &(u32::from(s.seq).wrapping_mul(s.voice.ts_step)).to_be_bytes(),
                    );
                    pkt.extend_from_slice(&s.ssrc.to_be_bytes());
                    pkt.extend_from_slice(payload);
                    if s.voice.stamp && pkt.len() >= 20 {
                        pkt[12..20].copy_from_slice(&realtime_ns().to_be_bytes());
                    }
                    s.seq = s.seq.wrapping_add(1);
                    if s.sock.send_to(&pkt, s.dest).is_ok() {
                        sent += 1;
                    }
                }
                let measuring = MEASURING.load(Relaxed);
                while let Some((n, at)) = recv_stamped(&s.sock, &mut buf) {
                    // a stamped stream counts only its far end's packets: what the
                    // switch sends itself (silence before the bridge) is not relayed
                    let stamp = (s.voice.stamp && n >= 20).then(|| {
                        let mut b = [0u8; 8];
                        b.copy_from_slice(&buf[12..20]);
                        u64::from_be_bytes(b)
                    });
                    // the kernel's arrival stamp is the time of the packet
                    let now = at.unwrap_or_else(realtime_ns);
                    if stamp.is_some_and(|t| t > now + 60_000_000_000 || t + 60_000_000_000 < now) {
                        counters.foreign.fetch_add(1, Relaxed);
                        continue;
                    }
                    received += 1;
                    if measuring {
                        RECEIVED_MEASURED.fetch_add(1, Relaxed);
                    }
                    if let (true, Some(t), Some(at)) = (measuring, stamp, at) {
                        let d = at.saturating_sub(t) / DELAY_BUCKET_NS;
                        delays[(d as usize).min(DELAY_BUCKETS - 1)] += 1;
                    }
                }
            }
        }
        {
            let now = std::time::Instant::now();
            let mut browsers = pump.browsers.lock().unwrap_or_else(|e| e.into_inner());
            for b in browsers.iter_mut() {
                let (s, r) = b.turn(now, sending, &mut buf);
                sent += s;
                received += r;
            }
        }
        counters.sent.fetch_add(sent, Relaxed);
        counters.received.fetch_add(received, Relaxed);
        if let Some(left) = drain_ticks.as_mut() {
            if *left == 0 {
                let mut all = DELAYS.lock().unwrap_or_else(|e| e.into_inner());
                all.resize(DELAY_BUCKETS, 0);
                for (a, d) in all.iter_mut().zip(&delays) {
                    *a += d;
                }
                PUMPS_DONE.fetch_add(1, Relaxed);
                return;
            }
            *left -= 1;
        }
    }
}

/// Sends 20 ms packets to `dest` until `stop`, and counts what `sock` receives.
pub(crate) fn stream(
    sock: std::net::UdpSocket,
    dest: SocketAddr,
    counters: Arc<Counters>,
    stop: tokio::sync::watch::Receiver<bool>,
    voice: Voice,
) {
    let set = pumps(&counters, &stop);
    let i = NEXT_PUMP.fetch_add(1, Relaxed) as usize % set.len();
    set[i]
        .streams
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .push(Stream {
            sock,
            dest,
            voice,
            seq: 0,
            ssrc: rand::random(),
        });
}

/// Adds a connected-or-connecting browser caller to a pump.
pub(crate) fn browser_stream(
    b: BrowserStream,
    counters: Arc<Counters>,
    stop: tokio::sync::watch::Receiver<bool>,
) {
    let set = pumps(&counters, &stop);
    let i = NEXT_PUMP.fetch_add(1, Relaxed) as usize % set.len();
    set[i]
        .browsers
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .push(b);
}

/// A browser's offer: a str0m peer (full ICE, DTLS) with its host candidate
/// on `rtp`, Opus and PCMU, one audio section.
pub(crate) fn browser_offer(
    rtp: &UdpSocket,
) -> Res<(
    str0m::Rtc,
    str0m::change::SdpPendingOffer,
    str0m::media::Mid,
    String,
)> {
    use str0m::media::{Direction, MediaKind};
    let mut rtc = str0m::Rtc::builder()
        .set_rtp_mode(true)
        .clear_codecs()
        .enable_opus(true)
        .enable_pcmu(true)
        .build();
    rtc.add_local_candidate(str0m::Candidate::host(rtp.local_addr()?, "udp")?);
    let mut api = rtc.sdp_api();
    let mid = api.add_media(MediaKind::Audio, Direction::SendRecv, None, None, None);
    let (offer, pending) = api.apply().ok_or("no offer")?;
    Ok((rtc, pending, mid, offer.to_sdp_string()))
}
