//! Command line and environment configuration: one validated struct per command.
//! Every flag can also be set by `SWITCHYARD_<FLAG>`.

use clap::{Args, Parser, Subcommand};
use std::net::{IpAddr, SocketAddr};
use std::path::PathBuf;

#[derive(Parser, Debug)]
#[command(
    name = "switchyard",
    version,
    about = "Switchyard: a programmable telephony switch (SIP registrar, B2BUA, RTP relay)"
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Subcommand, Debug)]
pub enum Command {
    /// Run the switch.
    Serve(ServeArgs),
    /// Load a dialplan file into the store and exit.
    Import(ImportArgs),
    /// Account API keys: create (printed once, as JSON), list, revoke.
    Key {
        #[command(subcommand)]
        action: KeyCommand,
    },
    /// Payments for merchant upgrades: `payment confirm <paymentId>` is the
    /// embedded (manual) payment provider confirming one; prints it as JSON.
    Payment {
        #[command(subcommand)]
        action: PaymentCommand,
    },
    /// TLS certificates: `cert dev` writes a self-signed pair for development.
    Cert {
        #[command(subcommand)]
        action: CertCommand,
    },
}

#[derive(Subcommand, Debug)]
pub enum PaymentCommand {
    /// Confirm a PENDING payment: its units become the merchant's credits
    /// (once, however often it is confirmed).
    Confirm(PaymentConfirmArgs),
}

#[derive(Args, Debug, Clone)]
pub struct PaymentConfirmArgs {
    /// The payment's id (`paymentId` of `POST /api/v1/billing/upgrade`).
    pub payment_id: String,
    #[command(flatten)]
    pub store: StoreArgs,
}

#[derive(Subcommand, Debug)]
pub enum CertCommand {
    /// Write a self-signed certificate and key (PEM) for `--sip-tls`,
    /// `--sip-wss` and `--https`: `<data-dir>/certs/{cert,key}.pem`.
    Dev(CertDevArgs),
}

#[derive(Args, Debug, Clone)]
pub struct CertDevArgs {
    /// Directory for the embedded database and other state; the pair goes in its `certs/`.
    #[arg(long, env = "SWITCHYARD_DATA_DIR", default_value = "./data")]
    pub data_dir: PathBuf,
    /// Names or addresses the certificate is for, besides localhost (repeatable).
    #[arg(long = "host")]
    pub hosts: Vec<String>,
    /// Replace a pair that is already there.
    #[arg(long)]
    pub force: bool,
}

#[derive(Subcommand, Debug)]
pub enum KeyCommand {
    /// Make a key for an account; prints `{"key": …, "id": …, …}` on stdout, once
    /// (a merchant key also with its `"secret"`).
    Create(KeyCreateArgs),
    /// An account's keys (ids, types, labels; never the keys), as JSON.
    List(KeyListArgs),
    /// Revoke a key by its id.
    Revoke(KeyRevokeArgs),
}

/// What a key is for.
#[derive(clap::ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum KeyType {
    Developer,
    User,
    Merchant,
}

#[derive(Args, Debug, Clone)]
pub struct KeyCreateArgs {
    /// The account the key belongs to.
    #[arg(long)]
    pub account: String,
    #[arg(long = "type", value_enum)]
    pub kind: KeyType,
    /// A note for people (where the key is used).
    #[arg(long)]
    pub label: Option<String>,
    /// A user key's extension (required for `--type user`).
    #[arg(long)]
    pub extension: Option<String>,
    /// Limit the key to these scopes (comma-separated; default: every scope).
    #[arg(long, value_delimiter = ',')]
    pub scopes: Option<Vec<String>>,
    #[command(flatten)]
    pub store: StoreArgs,
}

#[derive(Args, Debug, Clone)]
pub struct KeyListArgs {
    #[arg(long)]
    pub account: String,
    #[command(flatten)]
    pub store: StoreArgs,
}

#[derive(Args, Debug, Clone)]
pub struct KeyRevokeArgs {
    /// The key's id (from `key create` or `key list`).
    pub id: String,
    #[command(flatten)]
    pub store: StoreArgs,
}

#[derive(Args, Debug, Clone)]
pub struct StoreArgs {
    /// Directory for the embedded database, recordings and other state.
    #[arg(long, env = "SWITCHYARD_DATA_DIR", default_value = "./data")]
    pub data_dir: PathBuf,
    /// Database URL: `sqlite://FILE` or `postgres://USER@HOST/DB`. Default: SQLite in the data dir.
    #[arg(long, env = "SWITCHYARD_DATABASE_URL")]
    pub database_url: Option<String>,
}

impl StoreArgs {
    pub fn url(&self) -> String {
        match &self.database_url {
            Some(u) => u.clone(),
            None => format!(
                "sqlite://{}?mode=rwc",
                self.data_dir.join("switchyard.db").display()
            ),
        }
    }
}

#[derive(Args, Debug, Clone)]
pub struct ServeArgs {
    /// SIP over UDP listen address.
    #[arg(long, env = "SWITCHYARD_SIP_UDP", default_value = "0.0.0.0:5060")]
    pub sip_udp: SocketAddr,
    /// SIP over TCP listen address.
    #[arg(long, env = "SWITCHYARD_SIP_TCP", default_value = "0.0.0.0:5060")]
    pub sip_tcp: SocketAddr,
    /// SIP over WebSocket (RFC 7118, subprotocol `sip`) listen address.
    #[arg(long, env = "SWITCHYARD_SIP_WS", default_value = "0.0.0.0:5066")]
    pub sip_ws: SocketAddr,
    /// SIP over TLS listen address (off unless given; certificate from --tls-cert).
    #[arg(long, env = "SWITCHYARD_SIP_TLS")]
    pub sip_tls: Option<SocketAddr>,
    /// SIP over secure WebSocket listen address, for browsers (off unless given).
    #[arg(long, env = "SWITCHYARD_SIP_WSS")]
    pub sip_wss: Option<SocketAddr>,
    /// HTTPS listen address: the same routes as --http, over TLS (the agent
    /// page needs a secure origin for the microphone). Off unless given.
    #[arg(long, env = "SWITCHYARD_HTTPS")]
    pub https: Option<SocketAddr>,
    /// TLS certificate chain (PEM). Default: `<data-dir>/certs/cert.pem`.
    #[arg(long, env = "SWITCHYARD_TLS_CERT")]
    pub tls_cert: Option<PathBuf>,
    /// TLS private key (PEM). Default: `<data-dir>/certs/key.pem`.
    #[arg(long, env = "SWITCHYARD_TLS_KEY")]
    pub tls_key: Option<PathBuf>,
    /// The secure WebSocket URL browsers are told to connect to (provisioning);
    /// default: `wss://<public ip>:<--sip-wss port>`.
    #[arg(long, env = "SWITCHYARD_WSS_URL")]
    pub wss_url: Option<String>,
    /// ICE servers handed to browsers (`stun:host:port`, repeatable). The switch
    /// is ICE-lite and needs none itself.
    #[arg(
        long = "ice-server",
        env = "SWITCHYARD_ICE_SERVERS",
        value_delimiter = ','
    )]
    pub ice_servers: Vec<String>,
    /// HTTP listen address (/healthz, /metrics, APIs).
    #[arg(long, env = "SWITCHYARD_HTTP", default_value = "0.0.0.0:8080")]
    pub http: SocketAddr,
    /// Bearer token for the operator routes (POST /calls, voicemail boxes);
    /// without one they answer loopback peers only.
    #[arg(long, env = "SWITCHYARD_ADMIN_TOKEN", hide_env_values = true)]
    pub admin_token: Option<String>,
    /// Voice API: requests a minute allowed per API key.
    #[arg(long, env = "SWITCHYARD_API_RATE_LIMIT", default_value_t = 1000)]
    pub api_rate_limit: u32,
    /// Voice API: requests a minute allowed per client IP without a key.
    #[arg(long, env = "SWITCHYARD_API_PUBLIC_RATE_LIMIT", default_value_t = 100)]
    pub api_public_rate_limit: u32,
    /// Voice API: hold the rate limits in Redis (`redis://127.0.0.1:6379`), so
    /// they count across every node sharing it; default: each node counts its own.
    #[arg(long, env = "SWITCHYARD_API_RATE_LIMIT_REDIS", hide_env_values = true)]
    pub api_rate_limit_redis: Option<String>,
    /// Prefix of the rate-limit keys in Redis (nodes of one cluster share it).
    #[arg(
        long,
        env = "SWITCHYARD_API_RATE_LIMIT_PREFIX",
        default_value = "switchyard:ratelimit:"
    )]
    pub api_rate_limit_prefix: String,
    /// RTP port range LOW-HIGH (RTP on even ports, RTCP on the next odd one).
    #[arg(long, env = "SWITCHYARD_RTP_PORTS", default_value = "20000-30000", value_parser = parse_range)]
    pub rtp_ports: (u16, u16),
    /// Threads that relay the packets of calls whose legs only forward (one
    /// epoll set each; calls are spread over them). Default: one per CPU this
    /// process may run on. 0: every call relays on its own task.
    #[arg(long, env = "SWITCHYARD_RELAY_THREADS")]
    pub relay_threads: Option<usize>,
    /// The address written into SDP and Contact headers. Default: the SIP UDP address,
    /// or the first non-loopback interface address when that is a wildcard.
    #[arg(long, env = "SWITCHYARD_PUBLIC_IP")]
    pub public_ip: Option<IpAddr>,
    /// Dialplan files imported at startup (repeatable).
    #[arg(
        long = "dialplan",
        env = "SWITCHYARD_DIALPLAN",
        value_delimiter = ',',
        default_value = "dialplans/demo.toml"
    )]
    pub dialplans: Vec<PathBuf>,
    /// Opus encoder complexity, 0 (cheapest) to 10 (best): what a transcoded
    /// Opus leg costs in CPU (docs/BENCHMARKS.md).
    #[arg(long, env = "SWITCHYARD_OPUS_COMPLEXITY", default_value_t = 2, value_parser = clap::value_parser!(u8).range(0..=10))]
    pub opus_complexity: u8,
    /// Directory of prompts (`prompts/…`) and music-on-hold classes (`moh/<class>/`).
    #[arg(long, env = "SWITCHYARD_MEDIA_DIR", default_value = "media")]
    pub media_dir: PathBuf,
    /// Seconds a call rings before it is given up.
    #[arg(long, env = "SWITCHYARD_RING_TIMEOUT", default_value_t = 60)]
    pub ring_timeout: u64,
    /// Hours the event log keeps an event in the store (readers can resume that far back).
    #[arg(long, env = "SWITCHYARD_EVENT_RETENTION_HOURS", default_value_t = 168,
          value_parser = clap::value_parser!(u64).range(1..=87_600))]
    pub event_retention_hours: u64,
    /// Benchmarks only: keep events (and the rows kept with them: CDRs,
    /// recordings' rows) in memory and never store them, to measure what
    /// storing costs. A crash loses them; never use it in production.
    #[arg(long, hide = true)]
    pub bench_events_not_stored: bool,
    /// Deliver webhooks to loopback, private and link-local addresses too
    /// (refused by default: a subscription cannot reach the switch's own network).
    #[arg(long, env = "SWITCHYARD_WEBHOOKS_ALLOW_PRIVATE")]
    pub webhooks_allow_private: bool,
    /// Seconds a webhook receiver has to answer before the attempt fails.
    #[arg(long, env = "SWITCHYARD_WEBHOOKS_TIMEOUT", default_value_t = 10,
          value_parser = clap::value_parser!(u64).range(1..=120))]
    pub webhooks_timeout: u64,
    /// Deliveries given up on in a row that disable a webhook (0: never).
    #[arg(long, env = "SWITCHYARD_WEBHOOKS_DISABLE_AFTER", default_value_t = 5)]
    pub webhooks_disable_after: u32,
    /// The key (64 hex digits) sealing webhook secrets at rest; every node of a
    /// deployment needs the same one. Without it, `webhooks.key` in the data
    /// directory is used (made on first start).
    #[arg(long, env = "SWITCHYARD_WEBHOOKS_KEY", hide_env_values = true, value_parser = parse_key)]
    pub webhooks_key: Option<[u8; 32]>,
    /// NATS server whose JetStream carries the event log between switch nodes
    /// (several nodes on one PostgreSQL store): each node publishes the events
    /// it stored, and webhooks are delivered from the stream by any node.
    #[arg(long, env = "SWITCHYARD_NATS_URL")]
    pub nats_url: Option<String>,
    /// The JetStream stream's name (and subject prefix).
    #[arg(
        long,
        env = "SWITCHYARD_NATS_STREAM",
        default_value = "SWITCHYARD_EVENTS"
    )]
    pub nats_stream: String,
    /// This node's name among several sharing one store (keep it across
    /// restarts; default: the host name). Used with --nats-url.
    #[arg(long, env = "SWITCHYARD_NODE_ID")]
    pub node_id: Option<String>,
    /// Smallest registration interval accepted (423 below it).
    #[arg(long, env = "SWITCHYARD_MIN_EXPIRES", default_value_t = 60)]
    pub min_expires: u32,
    /// Largest registration interval granted.
    #[arg(long, env = "SWITCHYARD_MAX_EXPIRES", default_value_t = 3600)]
    pub max_expires: u32,
    /// Failed authentications from one IP within the window before it is blocked.
    #[arg(long, env = "SWITCHYARD_AUTH_MAX_FAILURES", default_value_t = 10)]
    pub auth_max_failures: u32,
    /// Window (seconds) over which failed authentications are counted.
    #[arg(long, env = "SWITCHYARD_AUTH_WINDOW", default_value_t = 60)]
    pub auth_window: u64,
    /// Seconds a blocked source is refused with 403.
    #[arg(long, env = "SWITCHYARD_AUTH_COOLDOWN", default_value_t = 300)]
    pub auth_cooldown: u64,
    /// Lifetime of a digest nonce in seconds (stale=true after).
    #[arg(long, env = "SWITCHYARD_NONCE_TTL", default_value_t = 300)]
    pub nonce_ttl: u64,
    /// Digest algorithms offered in 401/407 challenges, preferred first: `md5`, `sha256`
    /// or both (e.g. `sha256,md5`).
    #[arg(long, env = "SWITCHYARD_DIGEST_ALGORITHMS", value_delimiter = ',', default_value = "md5", value_parser = parse_algorithm)]
    pub digest_algorithms: Vec<crate::sip::auth::Algorithm>,
    /// Most concurrent TCP/WebSocket connections from one IP address.
    #[arg(long, env = "SWITCHYARD_MAX_CONNECTIONS_PER_IP", default_value_t = 256)]
    pub max_connections_per_ip: usize,
    /// SIP worker shards (0 = one per CPU).
    #[arg(long, env = "SWITCHYARD_SHARDS", default_value_t = 0)]
    pub shards: usize,
    #[command(flatten)]
    pub merchant: crate::merchant::config::MerchantArgs,
    #[command(flatten)]
    pub store: StoreArgs,
}

impl ServeArgs {
    /// The TLS certificate and key files.
    pub fn tls_files(&self) -> (PathBuf, PathBuf) {
        let dir = self.store.data_dir.join("certs");
        (
            self.tls_cert
                .clone()
                .unwrap_or_else(|| dir.join("cert.pem")),
            self.tls_key.clone().unwrap_or_else(|| dir.join("key.pem")),
        )
    }
}

#[derive(Args, Debug, Clone)]
pub struct ImportArgs {
    /// The dialplan TOML file to import.
    pub file: PathBuf,
    #[command(flatten)]
    pub store: StoreArgs,
}

fn parse_algorithm(s: &str) -> Result<crate::sip::auth::Algorithm, String> {
    match s.trim().to_ascii_lowercase().as_str() {
        "md5" => Ok(crate::sip::auth::Algorithm::Md5),
        "sha256" | "sha-256" => Ok(crate::sip::auth::Algorithm::Sha256),
        other => Err(format!("unknown digest algorithm {other:?} (md5, sha256)")),
    }
}

fn parse_key(s: &str) -> Result<[u8; 32], String> {
    let raw = hex::decode(s.trim()).map_err(|_| "expected 64 hex digits".to_string())?;
    raw.try_into()
        .map_err(|_| "expected 64 hex digits (32 bytes)".to_string())
}

fn parse_range(s: &str) -> Result<(u16, u16), String> {
    let (a, b) = s
        .split_once('-')
        .ok_or("expected LOW-HIGH, e.g. 20000-30000")?;
    let lo: u16 = a
        .trim()
        .parse()
        .map_err(|_| format!("bad low port {a:?}"))?;
    let hi: u16 = b
        .trim()
        .parse()
        .map_err(|_| format!("bad high port {b:?}"))?;
    if lo < 1024 || hi <= lo || hi - lo < 3 {
        return Err("range must be LOW-HIGH with 1024 <= LOW < HIGH and at least 4 ports".into());
    }
    Ok((lo, hi))
}

#[cfg(test)]
mod tests {
    use super::*;
    #[test]
    fn port_range_validation() {
        assert_eq!(parse_range("20000-20100"), Ok((20000, 20100)));
        assert!(parse_range("20100-20000").is_err());
        assert!(parse_range("x").is_err());
    }
}
