//! Start-up and shutdown of `switchyard serve`: open the store, import the
//! dialplans, bind every listener, start shards, transports, HTTP and
//! housekeeping, and on SIGTERM/SIGINT drain calls and flush registrations.

use crate::media::playback::MediaLibrary;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;
use tokio::net::{TcpListener, UdpSocket};

use crate::config::{ServeArgs, StoreArgs};
use crate::dialplan::{self, DialplanError};
use crate::events::{now_ms, Bus};
use crate::http::{self, AppState};
use crate::media::ports::PortPool;
use crate::metrics::Metrics;
use crate::sip::auth::NonceManager;
use crate::sip::bruteforce::AuthLimiter;
use crate::sip::registrar::Policy;
use crate::store::{Store, StoreError};
use crate::switch::directory::Directory;
use crate::switch::registrations::Registrations;
use crate::switch::{shard, Settings, Switch};
use crate::transport::{self, LocalAddrs, Transports};

#[derive(Debug, thiserror::Error)]
pub enum StartError {
    #[error("cannot bind {what} on {addr}: {source}")]
    Bind {
        what: &'static str,
        addr: SocketAddr,
        source: std::io::Error,
    },
    #[error("cannot create data directory {path}: {source}")]
    DataDir {
        path: String,
        source: std::io::Error,
    },
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Dialplan(#[from] DialplanError),
    #[error(transparent)]
    Stream(#[from] crate::jetstream::StreamError),
    #[error("--nats-url needs --node-id (this machine's host name is unreadable)")]
    NodeId,
    /// Shared rate limits: Redis could not be reached at start-up.
    #[error("{0}")]
    RateLimits(String),
    #[error("merchant messaging: {0}")]
    Merchant(#[from] crate::merchant::service::SetupError),
    #[error(transparent)]
    Tls(#[from] crate::transport::tls::TlsError),
}

/// `switchyard cert dev`: writes a self-signed pair into `<data-dir>/certs/`
/// (the key readable by its owner only) and says where on stdout.
pub fn cert(action: crate::config::CertCommand) -> Result<(), String> {
    let crate::config::CertCommand::Dev(args) = action;
    let dir = args.data_dir.join("certs");
    let (cert_path, key_path) = (dir.join("cert.pem"), dir.join("key.pem"));
    if !args.force && (cert_path.exists() || key_path.exists()) {
        return Err(format!(
            "{} already holds a pair (--force replaces it)",
            dir.display()
        ));
    }
    let (cert, key) = crate::transport::tls::dev_cert(&args.hosts)?;
    std::fs::create_dir_all(&dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    std::fs::write(&cert_path, cert).map_err(|e| format!("{}: {e}", cert_path.display()))?;
    write_private(&key_path, key.as_bytes()).map_err(|e| format!("{}: {e}", key_path.display()))?;
    println!(
        "{}",
        serde_json::json!({"cert": cert_path, "key": key_path})
    );
    Ok(())
}

/// This node's name: `--node-id`, else the host name.
fn node_id(args: &ServeArgs) -> Result<String, StartError> {
    if let Some(id) = &args.node_id {
        return Ok(id.clone());
    }
    let host = std::fs::read_to_string("/proc/sys/kernel/hostname")
        .ok()
        .or_else(|| std::env::var("HOSTNAME").ok())
        .map(|h| h.trim().to_string())
        .filter(|h| !h.is_empty());
    host.ok_or(StartError::NodeId)
}

/// Opens the store (creating the data dir for the embedded SQLite default).
pub async fn open_store(args: &StoreArgs) -> Result<Store, StartError> {
    if args.database_url.is_none() {
        std::fs::create_dir_all(&args.data_dir).map_err(|source| StartError::DataDir {
            path: args.data_dir.display().to_string(),
            source,
        })?;
    }
    Ok(Store::connect(&args.url()).await?)
}

/// Validates and imports one dialplan file.
pub async fn import(
    store: &Store,
    path: &std::path::Path,
) -> Result<crate::store::ImportReport, StartError> {
    let plan = dialplan::load_file(path)?;
    Ok(store.import_dialplan(&plan).await?)
}

fn bind_udp(addr: SocketAddr) -> Result<UdpSocket, StartError> {
    use socket2::{Domain, Protocol, Socket, Type};
    let err = |source| StartError::Bind {
        what: "SIP UDP",
        addr,
        source,
    };
    let s =
        Socket::new(Domain::for_address(addr), Type::DGRAM, Some(Protocol::UDP)).map_err(err)?;
    let _ = s.set_recv_buffer_size(8 << 20);
    let _ = s.set_send_buffer_size(8 << 20);
    s.set_nonblocking(true).map_err(err)?;
    s.bind(&addr.into()).map_err(err)?;
    let socket = UdpSocket::from_std(s.into()).map_err(err)?;
    transport::icmp::enable(&socket);
    Ok(socket)
}

async fn bind_tcp(what: &'static str, addr: SocketAddr) -> Result<TcpListener, StartError> {
    TcpListener::bind(addr)
        .await
        .map_err(|source| StartError::Bind { what, addr, source })
}

/// The address to advertise when listening on a wildcard: the interface the
/// default route would use (no packet is sent), else loopback.
fn guess_public_ip() -> IpAddr {
    let probe = || -> std::io::Result<IpAddr> {
        let s = std::net::UdpSocket::bind("0.0.0.0:0")?;
        s.connect("192.0.2.1:9")?;
        Ok(s.local_addr()?.ip())
    };
    probe().unwrap_or(IpAddr::V4(Ipv4Addr::LOCALHOST))
}

fn nonce_secret(data_dir: &std::path::Path) -> Option<Vec<u8>> {
    let path = data_dir.join("nonce.key");
    if let Ok(b) = std::fs::read(&path) {
        if b.len() >= 32 {
            return Some(b);
        }
    }
    let key: [u8; 32] = rand::random();
    std::fs::create_dir_all(data_dir).ok()?;
    std::fs::write(&path, key).ok()?;
    Some(key.to_vec())
}

/// The key sealing webhook secrets: the operator's, or one kept in the data dir.
fn webhooks_key(args: &ServeArgs) -> Result<[u8; 32], StartError> {
    if let Some(k) = args.webhooks_key {
        return Ok(k);
    }
    let path = args.store.data_dir.join("webhooks.key");
    if let Ok(b) = std::fs::read(&path) {
        if let Ok(k) = <[u8; 32]>::try_from(b.as_slice()) {
            return Ok(k);
        }
    }
    let key: [u8; 32] = rand::random();
    let io = |source| StartError::DataDir {
        path: path.display().to_string(),
        source,
    };
    std::fs::create_dir_all(&args.store.data_dir).map_err(io)?;
    write_private(&path, &key).map_err(io)?;
    Ok(key)
}

fn write_private(path: &std::path::Path, bytes: &[u8]) -> std::io::Result<()> {
    use std::io::Write;
    #[cfg(unix)]
    use std::os::unix::fs::OpenOptionsExt;
    let mut o = std::fs::OpenOptions::new();
    o.write(true).create(true).truncate(true);
    #[cfg(unix)]
    o.mode(0o600);
    o.open(path)?.write_all(bytes)
}

/// Event ids reserved in the store at a time (a crash skips at most this many).
const EVENT_ID_BLOCK: u64 = 10_000;

pub async fn serve(args: ServeArgs) -> Result<(), StartError> {
    let mut store = open_store(&args.store).await?;
    // several nodes: each names the events it stores, and the log goes through JetStream
    let stream = match &args.nats_url {
        Some(url) => {
            let node = node_id(&args)?;
            store = store.with_node(&node);
            let retention = Duration::from_secs(args.event_retention_hours.max(1) * 3600);
            let es =
                crate::jetstream::EventStream::connect(url, &args.nats_stream, retention).await?;
            tracing::info!(%url, stream = %args.nats_stream, %node, "event log on JetStream");
            Some(es)
        }
        None => None,
    };
    let before = Directory::load(&store).await?;
    for path in &args.dialplans {
        let report = import(&store, path).await?;
        tracing::info!(file = %path.display(), "dialplan imported: {report}");
    }
    let directory = Directory::load(&store).await?;
    let imported = directory.changes_since(&before);
    let metrics = Arc::new(Metrics::default());
    // the event log goes on after the last stored id; one writer keeps every record
    let (first_event, reserved) = store.event_log_start(EVENT_ID_BLOCK).await?;
    let bus = Bus::with_log(
        4096,
        crate::events::EventLog::reserving(first_event, 65_536, reserved, EVENT_ID_BLOCK),
    );
    crate::store::event_log::spawn_reserver(store.clone(), bus.log().clone());
    let mut events_persisted = crate::store::event_log::spawn_writer_with(
        store.clone(),
        bus.log().clone(),
        !args.bench_events_not_stored,
    )
    .unwrap_or_else(|| tokio::sync::watch::channel(0).1);
    if args.bench_events_not_stored {
        tracing::warn!(
            "--bench-events-not-stored: events and CDRs are not stored (benchmarks only)"
        );
    }
    if !imported.is_empty() {
        let version = store.provisioning_version().await.unwrap_or(0);
        publish_doc_changes(&bus, imported, version);
    }
    if let (Some(es), Some(node)) = (&stream, store.node()) {
        crate::jetstream::spawn_relay(
            es.clone(),
            store.clone(),
            bus.log().clone(),
            node.to_string(),
        )
        .await?;
    }
    let webhooks = crate::webhooks::Webhooks::start(
        store.clone(),
        bus.log().clone(),
        crate::webhooks::Config {
            allow_private: args.webhooks_allow_private,
            timeout: Duration::from_secs(args.webhooks_timeout),
            disable_after: args.webhooks_disable_after,
            key: webhooks_key(&args)?,
            stream,
            ..Default::default()
        },
        Arc::new(crate::webhooks::SystemClock),
    )
    .await?;

    let udp = Arc::new(bind_udp(args.sip_udp)?);
    let tcp = bind_tcp("SIP TCP", args.sip_tcp).await?;
    let ws = bind_tcp("SIP WebSocket", args.sip_ws).await?;
    let http_listener = bind_tcp("HTTP", args.http).await?;
    // TLS listeners (SIP over TLS, SIP over secure WebSocket, HTTPS) share one pair
    let tls = if args.sip_tls.is_some() || args.sip_wss.is_some() || args.https.is_some() {
        let (cert, key) = args.tls_files();
        Some((
            transport::tls::server_config(&cert, &key, &[])?,
            transport::tls::server_config(&cert, &key, &[b"http/1.1"])?,
        ))
    } else {
        None
    };
    let sip_tls = match args.sip_tls {
        Some(a) => Some(bind_tcp("SIP TLS", a).await?),
        None => None,
    };
    let sip_wss = match args.sip_wss {
        Some(a) => Some(bind_tcp("SIP secure WebSocket", a).await?),
        None => None,
    };
    let https_listener = match args.https {
        Some(a) => Some(bind_tcp("HTTPS", a).await?),
        None => None,
    };
    let udp_addr = udp.local_addr().map_err(|source| StartError::Bind {
        what: "SIP UDP",
        addr: args.sip_udp,
        source,
    })?;
    let public_ip = args.public_ip.unwrap_or_else(|| {
        if udp_addr.ip().is_unspecified() {
            guess_public_ip()
        } else {
            udp_addr.ip()
        }
    });
    let local = LocalAddrs {
        public_ip,
        udp_port: udp_addr.port(),
        tcp_port: tcp
            .local_addr()
            .map(|a| a.port())
            .unwrap_or(args.sip_tcp.port()),
        ws_port: ws
            .local_addr()
            .map(|a| a.port())
            .unwrap_or(args.sip_ws.port()),
        tls_port: sip_tls
            .as_ref()
            .and_then(|l| l.local_addr().ok())
            .map(|a| a.port()),
        wss_port: sip_wss
            .as_ref()
            .and_then(|l| l.local_addr().ok())
            .map(|a| a.port()),
    };
    let transports = Transports::new(
        udp.clone(),
        local.clone(),
        args.max_connections_per_ip,
        metrics.clone(),
    );
    let bind_ip = if udp_addr.ip().is_unspecified() {
        udp_addr.ip()
    } else {
        public_ip
    };
    let ports =
        PortPool::with_metrics(args.rtp_ports.0, args.rtp_ports.1, bind_ip, metrics.clone());
    if let Some(n) = args.relay_threads {
        crate::media::relay::plane::configure(n);
    }
    if let Some(plane) = crate::media::relay::plane::global() {
        tracing::info!(threads = plane.threads(), "relay plane started");
    }

    let nonces = match nonce_secret(&args.store.data_dir) {
        Some(secret) => NonceManager::with_secret(&secret, args.nonce_ttl),
        None => NonceManager::new(args.nonce_ttl),
    };
    let limiter = AuthLimiter::new(
        args.auth_max_failures,
        Duration::from_secs(args.auth_window),
        Duration::from_secs(args.auth_cooldown),
    );
    let registrations = Registrations::start(store.clone(), metrics.clone(), now_ms()).await?;
    crate::media::codec::opus::set_default_complexity(args.opus_complexity);
    let media = Arc::new(MediaLibrary::new(&args.media_dir, &args.store.data_dir));
    // convert the default hold music once up front: the first hold then starts at once
    let (warm, apps_store) = (media.clone(), store.clone());
    tokio::spawn(async move {
        for rate in [8000, 16_000] {
            if let Err(e) = warm.moh("default", 1, rate).await {
                tracing::warn!(error = %e, "music on hold class `default` not loadable");
            }
        }
        // render the apps' speech once now, so no caller waits for espeak-ng
        for app in apps_store.list_apps().await.unwrap_or_default() {
            for step in &app.steps {
                if let crate::dialplan::Step::Say { text, voice } = step {
                    if let Err(e) = warm.say(text, voice.as_deref(), 8000).await {
                        tracing::warn!(app = %app.number, error = %e, "speech not rendered");
                    }
                }
            }
        }
    });
    let settings = Settings {
        digest_algorithms: args.digest_algorithms.clone(),
        data_dir: args.store.data_dir.clone(),
        media,
        ring_timeout: Duration::from_secs(args.ring_timeout.max(1)),
        policy: Policy {
            min_expires: args.min_expires,
            max_expires: args.max_expires.max(args.min_expires),
            default_expires: 3600.min(args.max_expires.max(args.min_expires)),
            max_contacts: 10,
        },
    };
    let shards = if args.shards == 0 {
        std::thread::available_parallelism()
            .map(|n| n.get())
            .unwrap_or(2)
    } else {
        args.shards
    };
    let (sw, receivers) = Switch::new(
        settings,
        transports.clone(),
        store.clone(),
        directory,
        registrations,
        nonces,
        limiter,
        bus.clone(),
        metrics.clone(),
        ports,
        shards,
    );
    let acd = crate::call::acd::spawn(sw.clone());
    sw.set_admission(Arc::new(crate::call::Admitter { acd: acd.clone() }));
    for rx in receivers {
        tokio::spawn(shard::run(sw.clone(), rx));
    }
    let inbound_sw = sw.clone();
    transports.set_inbound(Arc::new(move |msg, source| inbound_sw.inbound(msg, source)));
    let bounced_sw = sw.clone();
    transports.set_undeliverable(Arc::new(move |req, _dest| bounced_sw.undeliverable(req)));
    // a browser's WebSocket flow that closes takes its bindings with it
    let flows = Arc::downgrade(&sw);
    transports.set_closed(Arc::new(move |conn, kind| {
        if let (true, Some(sw)) = (kind.is_websocket(), flows.upgrade()) {
            sw.registrations.drop_flow(conn);
        }
    }));

    let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
    for _ in 0..2 {
        tokio::spawn(transport::udp::run(
            transports.clone(),
            udp.clone(),
            stop_rx.clone(),
        ));
    }
    tokio::spawn(transport::tcp::run(
        transports.clone(),
        tcp,
        stop_rx.clone(),
    ));
    tokio::spawn(transport::ws::run(transports.clone(), ws, stop_rx.clone()));
    if let (Some(l), Some((cfg, _))) = (sip_tls, tls.as_ref()) {
        tokio::spawn(transport::tls::run_sip_tls(
            transports.clone(),
            l,
            cfg.clone(),
            stop_rx.clone(),
        ));
    }
    if let (Some(l), Some((cfg, _))) = (sip_wss, tls.as_ref()) {
        tokio::spawn(transport::tls::run_sip_wss(
            transports.clone(),
            l,
            cfg.clone(),
            stop_rx.clone(),
        ));
    }
    let retention = Duration::from_secs(args.event_retention_hours * 3600);
    tokio::spawn(housekeeping(sw.clone(), stop_rx.clone(), retention));

    let ready = Arc::new(AtomicBool::new(false));
    let mut voice =
        http::v3::VoiceApi::with_limits(args.api_rate_limit, args.api_public_rate_limit);
    if let Some(url) = args
        .api_rate_limit_redis
        .as_deref()
        .filter(|u| !u.is_empty())
    {
        voice
            .share_limits(url, &args.api_rate_limit_prefix)
            .await
            .map_err(StartError::RateLimits)?;
    }
    let voice = Arc::new(voice);
    voice.placed.track(bus.log().clone());
    let http_port = http_listener
        .local_addr()
        .map(|a| a.port())
        .unwrap_or(args.http.port());
    let merchant = crate::merchant::service::Service::new(
        args.merchant.clone(),
        sw.store.clone(),
        Some(sw.clone()),
        acd.clone(),
        bus.clone(),
        match public_ip {
            IpAddr::V6(ip) => format!("http://[{ip}]:{http_port}"),
            IpAddr::V4(ip) => format!("http://{ip}:{http_port}"),
        },
    )
    .map_err(StartError::Merchant)?;
    crate::merchant::run::start(&merchant);
    let app = http::app(AppState {
        metrics: metrics.clone(),
        acd: acd.clone(),
        sw: Some(sw.clone()),
        admin_token: args.admin_token.clone().filter(|t| !t.is_empty()),
        bus: bus.clone(),
        ready: ready.clone(),
        webhooks: Some(webhooks.clone()),
        voice: voice.clone(),
        provisioning: Arc::new(http::v1::provisioning::Config {
            wss_url: args.wss_url.clone().or_else(|| {
                local.wss_port.map(|p| match public_ip {
                    IpAddr::V6(ip) => format!("wss://[{ip}]:{p}"),
                    IpAddr::V4(ip) => format!("wss://{ip}:{p}"),
                })
            }),
            ice_servers: args.ice_servers.clone(),
        }),
        merchant: Some(Arc::new(http::v1::auth::MerchantApi::new(
            merchant,
            args.merchant.merchant_api_rate,
        ))),
    });
    if let (Some(l), Some((_, cfg))) = (https_listener, tls.as_ref()) {
        let listener =
            http::https::HttpsListener::new(l, cfg.clone(), stop_rx.clone()).map_err(|source| {
                StartError::Bind {
                    what: "HTTPS",
                    addr: args.https.unwrap_or(args.http),
                    source,
                }
            })?;
        tokio::spawn(http::https::serve(app.clone(), listener, stop_rx.clone()));
    }
    let mut http_stop = stop_rx.clone();
    tokio::spawn(async move {
        let _ = axum::serve(
            http_listener,
            app.into_make_service_with_connect_info::<std::net::SocketAddr>(),
        )
        .with_graceful_shutdown(async move {
            let _ = http_stop.changed().await;
        })
        .await;
    });
    ready.store(true, Ordering::Release);
    tracing::info!(
        udp = %udp_addr, tcp = local.tcp_port, ws = local.ws_port, tls = ?local.tls_port,
        wss = ?local.wss_port, http = %args.http, https = ?args.https, public_ip = %public_ip,
        "switchyard ready"
    );

    wait_for_signal().await;
    tracing::info!("shutting down: draining calls");
    let _ = stop_tx.send(true);
    for c in sw.calls.iter() {
        let _ = c.tx.send(crate::call::CallInput::Hangup);
    }
    let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
    while sw.metrics.active_calls.load(Ordering::Relaxed) > 0
        && tokio::time::Instant::now() < deadline
    {
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    // let BYEs leave the shards
    tokio::time::sleep(Duration::from_millis(100)).await;
    sw.registrations.flush().await;
    // every event published so far reaches the store before it closes
    let newest = sw.bus.log().latest();
    let _ = tokio::time::timeout(
        Duration::from_secs(5),
        events_persisted.wait_for(|&done| done >= newest),
    )
    .await;
    webhooks.stop().await;
    store.close().await;
    tracing::info!("stopped");
    Ok(())
}

async fn housekeeping(
    sw: Arc<Switch>,
    mut stop: tokio::sync::watch::Receiver<bool>,
    event_retention: Duration,
) {
    // provisioning: on PostgreSQL every import NOTIFYs and the directory (accounts,
    // extensions, compiled callflows) is rebuilt at once; the one-row version read
    // stays as the fallback (every second on SQLite, where another process's import
    // cannot notify; every 10 s behind LISTEN, in case its connection dropped)
    let mut listener = sw.store.provisioning_listener().await;
    let every = if listener.is_some() { 10 } else { 1 };
    let mut check = tokio::time::interval(Duration::from_secs(every));
    let mut sweep = tokio::time::interval(Duration::from_secs(5));
    let mut seen = sw.store.provisioning_version().await.unwrap_or(0);
    loop {
        tokio::select! {
            n = notified(&mut listener) => {
                if let Err(e) = n {
                    tracing::warn!("provisioning LISTEN lost ({e}); polling every second");
                    listener = None;
                    check = tokio::time::interval(Duration::from_secs(1));
                }
                refresh_directory(&sw, &mut seen, "notified").await;
                continue;
            }
            _ = check.tick() => {
                refresh_directory(&sw, &mut seen, "polled").await;
                continue;
            }
            _ = sweep.tick() => {}
            _ = stop.changed() => return,
        }
        let now = now_ms();
        let removed = sw.registrations.sweep(now);
        if removed > 0 {
            tracing::debug!(removed, "expired registrations removed");
        }
        sw.nonces.purge((now / 1000) as u64);
        sw.limiter.purge(std::time::Instant::now());
        // the event log keeps what readers may still resume from, no more
        let before = now - event_retention.as_millis() as i64;
        match sw.store.purge_events_before(before, 50_000).await {
            Ok(0) => {}
            Ok(n) => tracing::info!(events = n, "old events purged from the log"),
            Err(e) => tracing::warn!(error = %e, "old events not purged"),
        }
        // the attempts log keeps as long as the event log
        match sw.store.purge_attempts_before(before, 50_000).await {
            Ok(0) => {}
            Ok(n) => tracing::info!(attempts = n, "old webhook attempts purged"),
            Err(e) => tracing::warn!(error = %e, "old webhook attempts not purged"),
        }
    }
}

/// The next provisioning notification (never, without a listener).
async fn notified(listener: &mut Option<sqlx::postgres::PgListener>) -> Result<(), sqlx::Error> {
    match listener {
        Some(l) => l.recv().await.map(|_| ()),
        None => std::future::pending().await,
    }
}

/// `object` events (doc_created / doc_edited / doc_deleted) for provisioning
/// documents an import changed.
fn publish_doc_changes(bus: &Bus, changes: Vec<crate::switch::directory::Changed>, version: i64) {
    use crate::switch::directory::DocChange;
    for (account, doc_type, id, change) in changes {
        let mut o = crate::events::ObjectEvent::now(account.into(), doc_type, id, None);
        o.version = Some(version);
        bus.publish(match change {
            DocChange::Created => crate::events::Event::DocCreated(o),
            DocChange::Edited => crate::events::Event::DocEdited(o),
            DocChange::Deleted => crate::events::Event::DocDeleted(o),
        });
    }
}

/// Rebuilds and swaps the directory when the provisioning version moved.
async fn refresh_directory(sw: &Switch, seen: &mut i64, how: &str) {
    match sw.store.provisioning_version().await {
        Ok(v) if v != *seen => match Directory::load(&sw.store).await {
            Ok(d) => {
                let changes = d.changes_since(&sw.directory());
                sw.set_directory(d);
                publish_doc_changes(&sw.bus, changes, v);
                *seen = v;
                tracing::info!(version = v, how, "provisioning changed: directory rebuilt");
            }
            Err(e) => tracing::warn!("could not refresh the directory: {e}"),
        },
        Ok(_) => {}
        Err(e) => tracing::debug!("provisioning version unreadable: {e}"),
    }
}

async fn wait_for_signal() {
    let ctrl_c = tokio::signal::ctrl_c();
    #[cfg(unix)]
    {
        let mut term =
            match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
                Ok(s) => s,
                Err(_) => {
                    let _ = ctrl_c.await;
                    return;
                }
            };
        tokio::select! {
            _ = ctrl_c => {}
            _ = term.recv() => {}
        }
    }
    #[cfg(not(unix))]
    {
        let _ = ctrl_c.await;
    }
}
