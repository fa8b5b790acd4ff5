//! The relay plane: a few threads (one per core by default), each with one
//! level-triggered epoll set, that move the packets of calls whose media is
//! plain forwarding. A media session hands its sockets and leg state over as a
//! [`Relayed`] unit while nothing but forwarding happens, and takes them back
//! before it acts on any command. Here a packet costs one `epoll_wait` share,
//! one receive and one send — no task wake-up, no readiness bookkeeping, no
//! allocation, no lock, and one clock reading per batch of events.
//!
//! The plane knows nothing of RTP: what a datagram means is the unit's business.

use std::any::Any;
use std::collections::HashMap;
use std::io;
use std::os::fd::BorrowedFd;
use std::panic::AssertUnwindSafe;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering::Relaxed};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant};

use nix::errno::Errno;
use nix::sys::epoll::{Epoll, EpollCreateFlags, EpollEvent, EpollFlags, EpollTimeout};
use nix::sys::eventfd::{EfdFlags, EventFd};
use tokio::sync::oneshot;

/// How often units publish their figures and counters.
pub const FLUSH: Duration = Duration::from_millis(250);

/// Events taken from the kernel per `epoll_wait`.
const EVENTS: usize = 512;

/// The epoll token of a worker's wake-up eventfd.
const WAKE: u64 = u64::MAX;

/// Sockets per unit (a token keeps the socket's index in its low byte).
pub const MAX_FDS: usize = 256;

/// What a worker runs: the sockets of one call's relayed legs and what to do
/// with a datagram on each.
pub trait Relayed: Send + 'static {
    /// The sockets to watch; an event on `fds()[k]` calls `readable(k, …)`.
    fn fds(&self) -> Vec<BorrowedFd<'_>>;
    /// Socket `k` is readable: receive once (a datagram still queued raises
    /// the event again) and act on it. Must receive, or the event repeats.
    fn readable(&mut self, k: usize, now: Instant, buf: &mut [u8]);
    /// Every [`FLUSH`] and once more when released: publish figures and counters.
    fn flush(&mut self);
    /// For the owner to get its concrete type back after a release.
    fn into_any(self: Box<Self>) -> Box<dyn Any + Send>;
}

/// A unit's place on the plane, for taking it back.
#[derive(Debug)]
pub struct Ticket {
    worker: usize,
    key: u64,
}

enum Msg {
    Adopt {
        key: u64,
        unit: Box<dyn Relayed>,
    },
    Release {
        key: u64,
        reply: oneshot::Sender<Box<dyn Relayed>>,
    },
}

struct Worker {
    inbox: Mutex<Vec<Msg>>,
    wake: EventFd,
    /// Units it runs now.
    held: AtomicUsize,
}

impl Worker {
    fn post(&self, msg: Msg) {
        if let Ok(mut q) = self.inbox.lock() {
            q.push(msg);
        }
        if let Err(e) = self.wake.write(1) {
            tracing::warn!(error = %e, "relay thread not woken");
        }
    }
}

/// The running relay threads.
pub struct Plane {
    workers: Vec<Arc<Worker>>,
    next_worker: AtomicUsize,
    next_key: AtomicU64,
}

static THREADS: OnceLock<usize> = OnceLock::new();
static GLOBAL: OnceLock<Option<Plane>> = OnceLock::new();

/// Sets the number of relay threads before the plane first starts (0: no
/// plane, every session relays on its own task). Later calls change nothing.
pub fn configure(threads: usize) {
    let _ = THREADS.set(threads);
}

/// The process's plane, started on first use with the configured number of
/// threads (default: the CPUs this process may run on). `None` when configured
/// off or when its threads could not be started.
pub fn global() -> Option<&'static Plane> {
    GLOBAL
        .get_or_init(|| {
            let n = *THREADS.get_or_init(|| {
                std::thread::available_parallelism().map_or(1, |n| n.get())
            });
            if n == 0 {
                return None;
            }
            match Plane::start(n) {
                Ok(p) => Some(p),
                Err(e) => {
                    tracing::warn!(error = %e, "relay plane not started; sessions relay on their own tasks");
                    None
                }
            }
        })
        .as_ref()
}

impl Plane {
    /// Starts `threads` workers.
    pub fn start(threads: usize) -> io::Result<Plane> {
        let mut workers = Vec::with_capacity(threads);
        for i in 0..threads.max(1) {
            let ep = Epoll::new(EpollCreateFlags::EPOLL_CLOEXEC)?;
            let wake = EventFd::from_flags(EfdFlags::EFD_NONBLOCK | EfdFlags::EFD_CLOEXEC)?;
            ep.add(&wake, EpollEvent::new(EpollFlags::EPOLLIN, WAKE))?;
            let w = Arc::new(Worker {
                inbox: Mutex::new(Vec::new()),
                wake,
                held: AtomicUsize::new(0),
            });
            let shared = w.clone();
            std::thread::Builder::new()
                .name(format!("relay-{i}"))
                .spawn(move || run(&shared, &ep))?;
            workers.push(w);
        }
        Ok(Plane {
            workers,
            next_worker: AtomicUsize::new(0),
            next_key: AtomicU64::new(0),
        })
    }

    /// The number of worker threads.
    pub fn threads(&self) -> usize {
        self.workers.len()
    }

    /// Units the workers run now (calls whose packets move here).
    pub fn units(&self) -> usize {
        self.workers.iter().map(|w| w.held.load(Relaxed)).sum()
    }

    /// Hands `unit` to a worker (round robin); its sockets are watched from now on.
    pub fn adopt(&self, unit: Box<dyn Relayed>) -> Ticket {
        let worker = self.next_worker.fetch_add(1, Relaxed) % self.workers.len();
        let key = self.next_key.fetch_add(1, Relaxed);
        self.workers[worker].post(Msg::Adopt { key, unit });
        Ticket { worker, key }
    }

    /// Takes the unit back (its sockets no longer watched, flushed once more).
    /// `None` when the unit was dropped because it panicked.
    pub async fn release(&self, t: Ticket) -> Option<Box<dyn Relayed>> {
        let (reply, rx) = oneshot::channel();
        self.workers[t.worker].post(Msg::Release { key: t.key, reply });
        rx.await.ok()
    }
}

/// A worker's units: a slab whose index is the high part of each epoll token.
struct Units {
    slots: Vec<Option<(u64, Box<dyn Relayed>)>>,
    free: Vec<usize>,
    by_key: HashMap<u64, usize>,
}

impl Units {
    fn adopt(&mut self, ep: &Epoll, key: u64, unit: Box<dyn Relayed>) {
        let slot = self.free.pop().unwrap_or_else(|| {
            self.slots.push(None);
            self.slots.len() - 1
        });
        // level-triggered: a datagram left queued is reported again
        for (k, fd) in unit.fds().into_iter().enumerate().take(MAX_FDS) {
            let token = ((slot as u64) << 8) | k as u64;
            if let Err(e) = ep.add(fd, EpollEvent::new(EpollFlags::EPOLLIN, token)) {
                tracing::warn!(error = %e, "relay socket not watched");
            }
        }
        self.slots[slot] = Some((key, unit));
        self.by_key.insert(key, slot);
    }

    fn release(&mut self, ep: &Epoll, key: u64) -> Option<Box<dyn Relayed>> {
        let slot = self.by_key.remove(&key)?;
        let (_, mut unit) = self.slots[slot].take()?;
        self.free.push(slot);
        for fd in unit.fds() {
            let _ = ep.delete(fd);
        }
        unit.flush();
        Some(unit)
    }

    /// A unit that panicked: unwatched and dropped (its owner's release gets
    /// `None`, its sockets close with it).
    fn evict(&mut self, ep: &Epoll, slot: usize) {
        if let Some((key, unit)) = self.slots[slot].take() {
            for fd in unit.fds() {
                let _ = ep.delete(fd);
            }
            self.by_key.remove(&key);
            self.free.push(slot);
            tracing::error!("a relayed call's media failed; its legs lose their media");
        }
    }
}

fn run(w: &Worker, ep: &Epoll) {
    let mut units = Units {
        slots: Vec::new(),
        free: Vec::new(),
        by_key: HashMap::new(),
    };
    let mut events = vec![EpollEvent::empty(); EVENTS];
    let mut buf = vec![0u8; 2048];
    let mut next_flush = Instant::now() + FLUSH;
    let mut inbox = Vec::new();
    loop {
        let wait = next_flush.saturating_duration_since(Instant::now());
        let timeout = EpollTimeout::from(wait.as_millis().min(1000) as u16 + 1);
        let n = match ep.wait(&mut events, timeout) {
            Ok(n) => n,
            Err(Errno::EINTR) => continue,
            Err(e) => {
                tracing::warn!(error = %e, "relay epoll_wait failed");
                std::thread::sleep(Duration::from_millis(1));
                continue;
            }
        };
        let now = Instant::now();
        let mut woken = false;
        for ev in &events[..n] {
            let token = ev.data();
            if token == WAKE {
                woken = true;
                continue;
            }
            let (slot, k) = ((token >> 8) as usize, (token & 0xff) as usize);
            let Some(Some((_, unit))) = units.slots.get_mut(slot) else {
                continue;
            };
            let ok = std::panic::catch_unwind(AssertUnwindSafe(|| unit.readable(k, now, &mut buf)));
            if ok.is_err() {
                units.evict(ep, slot);
                w.held.store(units.by_key.len(), Relaxed);
            }
        }
        // commands after the events: a slot released and reused here cannot
        // receive an event meant for its previous unit
        if woken {
            let _ = w.wake.read();
            if let Ok(mut q) = w.inbox.lock() {
                std::mem::swap(&mut *q, &mut inbox);
            }
            for msg in inbox.drain(..) {
                match msg {
                    Msg::Adopt { key, unit } => units.adopt(ep, key, unit),
                    Msg::Release { key, reply } => {
                        if let Some(u) = units.release(ep, key) {
                            let _ = reply.send(u);
                        }
                    }
                }
            }
            w.held.store(units.by_key.len(), Relaxed);
        }
        if now >= next_flush {
            for (_, unit) in units.slots.iter_mut().flatten() {
                let _ = std::panic::catch_unwind(AssertUnwindSafe(|| unit.flush()));
            }
            next_flush = now + FLUSH;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::UdpSocket;
    use std::os::fd::AsFd;

    /// Echoes what socket 0 receives back to its sender, counting it.
    struct Echo {
        sock: UdpSocket,
        seen: Arc<AtomicU64>,
        flushed: Arc<AtomicU64>,
    }

    impl Relayed for Echo {
        fn fds(&self) -> Vec<BorrowedFd<'_>> {
            vec![self.sock.as_fd()]
        }
        fn readable(&mut self, _k: usize, _now: Instant, buf: &mut [u8]) {
            if let Ok((n, src)) = self.sock.recv_from(buf) {
                self.seen.fetch_add(1, Relaxed);
                let _ = self.sock.send_to(&buf[..n], src);
            }
        }
        fn flush(&mut self) {
            self.flushed.fetch_add(1, Relaxed);
        }
        fn into_any(self: Box<Self>) -> Box<dyn Any + Send> {
            self
        }
    }

    #[tokio::test]
    async fn a_unit_is_served_until_released_and_comes_back_whole() {
        let plane = Plane::start(2).expect("plane");
        let sock = UdpSocket::bind("127.0.0.1:0").expect("bind");
        sock.set_nonblocking(true).expect("nb");
        let addr = sock.local_addr().expect("addr");
        let (seen, flushed) = (Arc::new(AtomicU64::new(0)), Arc::new(AtomicU64::new(0)));
        let t = plane.adopt(Box::new(Echo {
            sock,
            seen: seen.clone(),
            flushed: flushed.clone(),
        }));
        let client = UdpSocket::bind("127.0.0.1:0").expect("client");
        client
            .set_read_timeout(Some(Duration::from_secs(2)))
            .expect("timeout");
        let mut buf = [0u8; 16];
        for i in 0..50u8 {
            client.send_to(&[i], addr).expect("send");
            let (n, _) = client.recv_from(&mut buf).expect("echoed");
            assert_eq!(&buf[..n], &[i]);
        }
        assert_eq!(plane.units(), 1);
        let back = plane.release(t).await.expect("released");
        assert_eq!(plane.units(), 0);
        assert_eq!(seen.load(Relaxed), 50);
        assert!(flushed.load(Relaxed) >= 1, "flushed on release");
        // released: nothing answers any more, and the socket is still ours
        client.send_to(&[99], addr).expect("send");
        client
            .set_read_timeout(Some(Duration::from_millis(300)))
            .expect("timeout");
        assert!(client.recv_from(&mut buf).is_err(), "no echo after release");
        let echo = back.into_any().downcast::<Echo>().expect("same type");
        let mut b = [0u8; 4];
        let (n, _) = echo
            .sock
            .recv_from(&mut b)
            .expect("queued datagram still there");
        assert_eq!(&b[..n], &[99]);
    }

    /// Panics on its first datagram.
    struct Bad(UdpSocket);

    impl Relayed for Bad {
        fn fds(&self) -> Vec<BorrowedFd<'_>> {
            vec![self.0.as_fd()]
        }
        fn readable(&mut self, _k: usize, _now: Instant, _buf: &mut [u8]) {
            panic!("bad unit");
        }
        fn flush(&mut self) {}
        fn into_any(self: Box<Self>) -> Box<dyn Any + Send> {
            self
        }
    }

    #[tokio::test]
    async fn a_unit_that_panics_is_dropped_alone() {
        let plane = Plane::start(1).expect("plane");
        let bad = UdpSocket::bind("127.0.0.1:0").expect("bind");
        let bad_addr = bad.local_addr().expect("addr");
        let good = UdpSocket::bind("127.0.0.1:0").expect("bind");
        good.set_nonblocking(true).expect("nb");
        let good_addr = good.local_addr().expect("addr");
        let tb = plane.adopt(Box::new(Bad(bad)));
        let seen = Arc::new(AtomicU64::new(0));
        let tg = plane.adopt(Box::new(Echo {
            sock: good,
            seen: seen.clone(),
            flushed: Arc::new(AtomicU64::new(0)),
        }));
        let client = UdpSocket::bind("127.0.0.1:0").expect("client");
        client
            .set_read_timeout(Some(Duration::from_secs(2)))
            .expect("timeout");
        client.send_to(b"boom", bad_addr).expect("send");
        client.send_to(b"ok", good_addr).expect("send");
        let mut buf = [0u8; 8];
        let (n, _) = client
            .recv_from(&mut buf)
            .expect("the good unit still echoes");
        assert_eq!(&buf[..n], b"ok");
        assert!(plane.release(tb).await.is_none(), "the bad unit is gone");
        assert!(plane.release(tg).await.is_some());
    }
}
