//! The SIP switch core: the shared context (`Switch`) and its start-up. Inbound
//! messages are spread over shards by Call-ID; each shard task owns one sans-IO
//! transaction layer and dispatches to the registrar, OPTIONS, or the call tasks.

pub mod calls;
pub mod commands;
pub mod directory;
pub mod register;
pub mod registrations;
pub mod shard;

use dashmap::DashMap;
use rsip::SipMessage;
use std::hash::{Hash, Hasher};
use std::sync::{Arc, RwLock};
use tokio::sync::mpsc;

use crate::events::Bus;
use crate::media::ports::PortPool;
use crate::metrics::Metrics;
use crate::sip::auth::NonceManager;
use crate::sip::bruteforce::AuthLimiter;
use crate::sip::message;
use crate::sip::target::Target;
use crate::store::Store;
use crate::transport::Transports;
pub use calls::{Admission, CallHandle, CallInput, CallSender, TransferError};
use directory::Directory;
use registrations::Registrations;
pub use shard::ShardMsg;

/// Messages a shard may have queued from the network before new ones are dropped.
pub const INBOUND_QUEUE: usize = 50_000;

/// Tunables of the switch that the SIP logic consults.
#[derive(Clone, Debug)]
pub struct Settings {
    pub ring_timeout: std::time::Duration,
    pub policy: crate::sip::registrar::Policy,
    /// Digest algorithms offered in challenges, preferred first.
    pub digest_algorithms: Vec<crate::sip::auth::Algorithm>,
    /// Where recordings (and other files the switch writes) go.
    pub data_dir: std::path::PathBuf,
    /// Prompts, speech and music on hold.
    pub media: Arc<crate::media::playback::MediaLibrary>,
}

/// Everything the shards and call tasks share. Cheap to clone through an `Arc`.
pub struct Switch {
    pub settings: Settings,
    pub transports: Arc<Transports>,
    pub store: Store,
    directory: RwLock<Arc<Directory>>,
    pub registrations: Registrations,
    pub nonces: NonceManager,
    pub limiter: AuthLimiter,
    /// Live calls by the SIP Call-ID of each of their legs.
    pub calls: DashMap<String, CallHandle>,
    /// Live calls by their own id (for commands from outside: hang up, …).
    pub calls_by_id: DashMap<crate::ids::CallId, CallHandle>,
    /// Extensions on a call, with how many (placed, or answered), by (account, number).
    busy: DashMap<(String, String), u32>,
    /// Told when an extension starts or stops being on a call (the queue
    /// driver follows it, so `ringinuse` holds an agent back exactly).
    busy_watch: std::sync::OnceLock<tokio::sync::mpsc::UnboundedSender<BusyChange>>,
    pub bus: Bus,
    pub metrics: Arc<Metrics>,
    pub ports: Arc<PortPool>,
    /// Turns new INVITEs into calls (installed by the server at start-up).
    admission: std::sync::OnceLock<Arc<dyn Admission>>,
    shards: Vec<mpsc::UnboundedSender<ShardMsg>>,
    /// Bounded queues for network input: when a shard falls behind, datagrams are
    /// dropped (UDP peers retransmit) instead of memory growing without bound.
    inbound: Vec<mpsc::Sender<(SipMessage, Target)>>,
}

impl Switch {
    #[allow(clippy::too_many_arguments)]
    pub fn new(
        settings: Settings,
        transports: Arc<Transports>,
        store: Store,
        directory: Directory,
        registrations: Registrations,
        nonces: NonceManager,
        limiter: AuthLimiter,
        bus: Bus,
        metrics: Arc<Metrics>,
        ports: Arc<PortPool>,
        shards: usize,
    ) -> (Arc<Switch>, Vec<shard::Queues>) {
        let mut senders = Vec::new();
        let mut inbound = Vec::new();
        let mut receivers = Vec::new();
        for _ in 0..shards.max(1) {
            let (tx, rx) = mpsc::unbounded_channel();
            let (itx, irx) = mpsc::channel(INBOUND_QUEUE);
            senders.push(tx);
            inbound.push(itx);
            receivers.push(shard::Queues {
                commands: rx,
                inbound: irx,
            });
        }
        let sw = Arc::new(Switch {
            settings,
            transports,
            store,
            directory: RwLock::new(Arc::new(directory)),
            registrations,
            nonces,
            limiter,
            calls: DashMap::new(),
            calls_by_id: DashMap::new(),
            busy: DashMap::new(),
            busy_watch: std::sync::OnceLock::new(),
            bus,
            metrics,
            ports,
            admission: std::sync::OnceLock::new(),
            shards: senders,
            inbound,
        });
        (sw, receivers)
    }

    /// Installs the hook that admits new INVITEs (once; later calls are ignored).
    pub fn set_admission(&self, a: Arc<dyn Admission>) {
        let _ = self.admission.set(a);
    }

    pub fn admission(&self) -> Option<&Arc<dyn Admission>> {
        self.admission.get()
    }

    /// An extension starts a call (placed one, or answered one).
    pub fn mark_busy(&self, account: &str, ext: &str) {
        let mut n = self
            .busy
            .entry((account.to_string(), ext.to_string()))
            .or_default();
        *n += 1;
        let first = *n == 1;
        drop(n);
        if first {
            self.busy_changed(account, ext, true);
        }
    }

    fn busy_changed(&self, account: &str, ext: &str, busy: bool) {
        if let Some(tx) = self.busy_watch.get() {
            let _ = tx.send(BusyChange {
                account: account.to_string(),
                extension: ext.to_string(),
                busy,
            });
        }
    }

    /// Every change of an extension between free and on a call from now on
    /// (one follower: the first caller gets them, later ones `None`).
    pub fn watch_busy(&self) -> Option<tokio::sync::mpsc::UnboundedReceiver<BusyChange>> {
        let (tx, rx) = tokio::sync::mpsc::unbounded_channel();
        self.busy_watch.set(tx).ok().map(|_| rx)
    }

    /// One of its calls is over.
    pub fn unmark_busy(&self, account: &str, ext: &str) {
        let key = (account.to_string(), ext.to_string());
        if let dashmap::mapref::entry::Entry::Occupied(mut e) = self.busy.entry(key) {
            *e.get_mut() = e.get().saturating_sub(1);
            if *e.get() == 0 {
                e.remove();
                self.busy_changed(account, ext, false);
            }
        }
    }

    /// Whether an extension is on a call.
    pub fn is_busy(&self, account: &str, ext: &str) -> bool {
        self.busy
            .get(&(account.to_string(), ext.to_string()))
            .is_some_and(|n| *n > 0)
    }

    pub fn directory(&self) -> Arc<Directory> {
        match self.directory.read() {
            Ok(d) => d.clone(),
            Err(p) => p.into_inner().clone(),
        }
    }

    pub fn set_directory(&self, d: Directory) {
        match self.directory.write() {
            Ok(mut g) => *g = Arc::new(d),
            Err(p) => *p.into_inner() = Arc::new(d),
        }
    }

    /// The shard owning transactions of this Call-ID.
    pub fn shard_for(&self, call_id: &str) -> usize {
        let mut h = std::collections::hash_map::DefaultHasher::new();
        call_id.hash(&mut h);
        (h.finish() as usize) % self.shards.len()
    }

    pub fn to_shard(&self, call_id: &str, msg: ShardMsg) {
        let _ = self.shards[self.shard_for(call_id)].send(msg);
    }

    /// Entry point for every well-formed inbound message (called by the transports).
    pub fn inbound(&self, msg: SipMessage, source: Target) {
        let cid = match &msg {
            SipMessage::Request(r) => message::call_id(&r.headers),
            SipMessage::Response(r) => message::call_id(&r.headers),
        }
        .unwrap_or("")
        .to_string();
        let i = self.shard_for(&cid);
        if self.inbound[i].try_send((msg, source)).is_err() {
            self.metrics
                .sip_dropped_overload
                .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        }
    }

    /// A request we sent could not be delivered: the shard owning its Call-ID
    /// fails the transaction it belongs to.
    pub fn undeliverable(&self, req: rsip::Request) {
        let cid = message::call_id(&req.headers).unwrap_or("").to_string();
        self.to_shard(&cid, ShardMsg::Undeliverable(req));
    }

    /// A Via header value for a new request of ours over `kind` (fresh branch, rport).
    pub fn via(&self, kind: crate::sip::target::TransportKind) -> String {
        format!(
            "SIP/2.0/{} {};branch={};rport",
            kind.via_token(),
            self.local_host_port(kind),
            calls::new_branch()
        )
    }

    /// `host:port` this switch puts into Via/Contact for a transport.
    pub fn local_host_port(&self, kind: crate::sip::target::TransportKind) -> String {
        self.transports.local.host_port(kind)
    }
}

/// An extension started (`busy`) or stopped being on a call.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BusyChange {
    pub account: String,
    pub extension: String,
    pub busy: bool,
}
