//! What the generator measures: the one-way delay of every stamped packet
//! (its send time in the payload against the kernel's arrival stamp), how late
//! its own turns came, and the CPU of itself and of the system under test over
//! the measured period; and the printed summary.

use super::*;

/// One-way delay histogram: 10 µs buckets up to 500 ms (the last bucket holds the rest).
pub(crate) const DELAY_BUCKET_NS: u64 = 10_000;
pub(crate) const DELAY_BUCKETS: usize = 50_000;
/// Delays are recorded only in the measured period (all calls up, before the stop).
pub(crate) static MEASURING: std::sync::atomic::AtomicBool =
    std::sync::atomic::AtomicBool::new(false);
pub(crate) static DELAYS: std::sync::Mutex<Vec<u64>> = std::sync::Mutex::new(Vec::new());
pub(crate) static PUMPS_DONE: AtomicU64 = AtomicU64::new(0);
/// The latest a pump's turn came in the measured period (µs).
pub(crate) static LATE_MAX_US: AtomicU64 = AtomicU64::new(0);
/// Packets received in the measured period.
pub(crate) static RECEIVED_MEASURED: AtomicU64 = AtomicU64::new(0);

/// CPU seconds (user + system, all threads) a process used so far, from
/// /proc/PID/stat ("self" for the generator).
pub(crate) fn cpu_seconds(pid: &str) -> f64 {
    let Ok(stat) = std::fs::read_to_string(format!("/proc/{pid}/stat")) else {
        return 0.0;
    };
    // the fields after the command name (which may hold spaces) in parentheses
    let rest = stat.rsplit_once(')').map_or("", |x| x.1);
    let f: Vec<&str> = rest.split_whitespace().collect();
    let ticks: f64 = [11, 12]
        .iter()
        .filter_map(|&i| f.get(i).and_then(|v| v.parse::<f64>().ok()))
        .sum();
    ticks / 100.0
}

pub(crate) fn realtime_ns() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos() as u64)
        .unwrap_or(0)
}

/// Receives one datagram without blocking, with the kernel's arrival time (ns,
/// CLOCK_REALTIME) when the socket has SO_TIMESTAMPNS on.
pub(crate) fn recv_stamped(
    sock: &std::net::UdpSocket,
    buf: &mut [u8],
) -> Option<(usize, Option<u64>)> {
    use nix::sys::socket::{recvmsg, ControlMessageOwned, MsgFlags, SockaddrStorage};
    use std::os::fd::AsRawFd;
    let mut cmsg = nix::cmsg_space!(nix::sys::time::TimeSpec);
    let mut iov = [std::io::IoSliceMut::new(buf)];
    let msg = recvmsg::<SockaddrStorage>(
        sock.as_raw_fd(),
        &mut iov,
        Some(&mut cmsg),
        MsgFlags::MSG_DONTWAIT,
    )
    .ok()?;
    let mut at = None;
    if let Ok(cmsgs) = msg.cmsgs() {
        for c in cmsgs {
            if let ControlMessageOwned::ScmTimestampns(ts) = c {
                at = Some(ts.tv_sec() as u64 * 1_000_000_000 + ts.tv_nsec() as u64);
            }
        }
    }
    Some((msg.bytes, at))
}

/// A plain RTP socket of the generator: bound on loopback, non-blocking, never
/// registered with the runtime (the pumps poll it), arrival times on.
pub(crate) fn rtp_socket() -> Res<std::net::UdpSocket> {
    let s = std::net::UdpSocket::bind("127.0.0.1:0")?;
    s.set_nonblocking(true)?;
    nix::sys::socket::setsockopt(&s, nix::sys::socket::sockopt::ReceiveTimestampns, &true)?;
    Ok(s)
}

/// Waits for every call to be up (20 s at most), then measures for `secs`.
pub(crate) async fn measure(
    counters: &Counters,
    calls: u64,
    secs: u64,
    stop_tx: &tokio::sync::watch::Sender<bool>,
) {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    while counters.calls_up.load(Relaxed) < calls && tokio::time::Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    // a second for the last calls' streams to settle before delays count
    tokio::time::sleep(Duration::from_secs(1)).await;
    // the system under test's CPU over the measured period (WATCH_PID), and ours
    let watched = std::env::var("WATCH_PID").ok();
    let t0 = std::time::Instant::now();
    let c0 = watched.as_deref().map(cpu_seconds);
    let own0 = cpu_seconds("self");
    MEASURING.store(true, Relaxed);
    tokio::time::sleep(Duration::from_secs(secs)).await;
    MEASURING.store(false, Relaxed);
    let wall = t0.elapsed().as_secs_f64();
    let own = (cpu_seconds("self") - own0) / wall;
    let mut line = format!(
        "generator_cpu_share={own:.2} generator_late_max_ms={:.1}",
        LATE_MAX_US.load(Relaxed) as f64 / 1000.0
    );
    if let (Some(pid), Some(c0)) = (watched.as_deref(), c0) {
        let used = cpu_seconds(pid) - c0;
        // packets still arriving in the pumps' last reads are counted a moment later
        tokio::time::sleep(Duration::from_millis(50)).await;
        let pkts = RECEIVED_MEASURED.load(Relaxed).max(1);
        line.push_str(&format!(
            " sut_cpu_share={:.2} sut_cpu_us_per_packet={:.2}",
            used / wall,
            used * 1e6 / pkts as f64
        ));
    }
    let _ = MEASURED.set(line);
    let _ = stop_tx.send(true);
}

/// The CPU figures of the measured period, printed with the rest.
pub(crate) static MEASURED: std::sync::OnceLock<String> = std::sync::OnceLock::new();

/// Joins the calls and prints the figures.
pub(crate) async fn finish(
    handles: Vec<tokio::task::JoinHandle<Res<()>>>,
    counters: &Counters,
    calls: u64,
) {
    let mut failed = 0;
    for h in handles {
        match h.await {
            Ok(Ok(())) => {}
            Ok(Err(e)) => {
                failed += 1;
                if failed <= 3 {
                    eprintln!("call failed: {e}");
                }
            }
            Err(e) => {
                failed += 1;
                eprintln!("call task failed: {e}");
            }
        }
    }
    // the pumps merge their delays and counts once they drained the last packets
    let started = PUMP_SET.get().map_or(0, |p| p.len() as u64);
    for _ in 0..40 {
        if PUMPS_DONE.load(Relaxed) >= started {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let sent = counters.sent.load(Relaxed);
    let received = counters.received.load(Relaxed);
    let loss = if sent > 0 {
        100.0 * (sent.saturating_sub(received)) as f64 / sent as f64
    } else {
        100.0
    };
    let delays = DELAYS.lock().unwrap_or_else(|e| e.into_inner()).clone();
    let n: u64 = delays.iter().sum();
    let pct = |q: f64| -> f64 {
        let want = (q * n as f64).ceil() as u64;
        let mut seen = 0;
        for (i, c) in delays.iter().enumerate() {
            seen += c;
            if seen >= want.max(1) {
                return (i as u64 * DELAY_BUCKET_NS + DELAY_BUCKET_NS) as f64 / 1e6;
            }
        }
        0.0
    };
    let delay = if n > 0 {
        format!(
            " delay_samples={n} delay_p50_ms={:.2} delay_p99_ms={:.2} delay_max_ms={:.2}",
            pct(0.5),
            pct(0.99),
            pct(1.0)
        )
    } else {
        String::new()
    };
    println!(
        "RTPLOAD calls={} up={} failed={failed} sent={sent} received={received} foreign={} loss_pct={loss:.3}{delay} {}",
        calls,
        counters.calls_up.load(Relaxed),
        counters.foreign.load(Relaxed),
        MEASURED.get().map_or("", String::as_str)
    );
}
