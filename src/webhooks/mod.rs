//! Webhook subscriptions and their delivery (docs/webhooks.md). Sits above
//! `events` (what is delivered: the event log, read from each subscription's
//! cursor) and `store` (subscriptions, pending deliveries, the attempts log),
//! below `http` (the v2 API drives [`Webhooks`]). The sans-IO parts — hooks
//! and modifiers, validation, payload rendering, signatures, the retry
//! schedule, the address policy — are plain functions; `worker` is the one
//! driver per subscription on the store's log, `stream` its counterpart on a
//! JetStream log (several nodes), and `service` owns them.

pub mod clock;
pub mod guard;
pub mod hooks;
pub mod payload;
pub mod retry;
mod service;
pub mod sign;
mod stream;
pub mod subscription;
mod worker;

#[cfg(test)]
mod tests;

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::mpsc;

pub use clock::{Clock, ManualClock, SystemClock};
pub use service::{WebhookError, Webhooks};
pub use subscription::{FieldError, Settings, Subscription};

use crate::events::EventLog;
use crate::store::{AttemptRow, Store};

/// How delivery behaves (from the command line).
#[derive(Debug, Clone)]
pub struct Config {
    /// Deliver to loopback, private and link-local addresses too.
    pub allow_private: bool,
    /// How long a receiver has to answer.
    pub timeout: Duration,
    /// Deliveries given up on in a row that disable a subscription (0: never).
    pub disable_after: u32,
    /// How long the previous secret keeps signing after a rotation, by default.
    pub rotation_grace: Duration,
    /// The key sealing secrets at rest.
    pub key: [u8; 32],
    /// Deliver from the JetStream event log (several nodes) instead of the store's.
    pub stream: Option<crate::jetstream::EventStream>,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            allow_private: false,
            timeout: Duration::from_secs(10),
            disable_after: 5,
            rotation_grace: Duration::from_secs(24 * 3600),
            key: [0; 32],
            stream: None,
        }
    }
}

/// What every worker shares.
pub struct Shared {
    pub(crate) store: Store,
    /// Workers read only what its durable writer stored.
    pub(crate) log: Arc<EventLog>,
    pub(crate) client: reqwest::Client,
    pub(crate) config: Config,
    pub(crate) clock: Arc<dyn Clock>,
    pub(crate) sealer: sign::Sealer,
    pub(crate) attempts: mpsc::UnboundedSender<AttemptRow>,
}

impl Shared {
    pub(crate) fn policy(&self) -> guard::Policy {
        guard::Policy {
            allow_private: self.config.allow_private,
        }
    }
}

/// The HTTP client of every delivery: pooled connections, no redirects, no
/// proxy from the environment, and the guarded resolver.
pub fn client(policy: guard::Policy) -> reqwest::Client {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .no_proxy()
        .dns_resolver(Arc::new(guard::GuardedResolver(policy)))
        .pool_idle_timeout(Duration::from_secs(60))
        .pool_max_idle_per_host(64)
        .connect_timeout(Duration::from_secs(5))
        .user_agent(concat!("switchyard-webhooks/", env!("CARGO_PKG_VERSION")))
        .build()
        .unwrap_or_default()
}

/// Attempts per transaction at most, and how long a batch gathers.
const ATTEMPT_BATCH: usize = 1_000;
const ATTEMPT_LINGER: Duration = Duration::from_millis(20);

/// The attempts log writer: batches, retried until the database takes them.
fn spawn_attempt_writer(store: Store, mut rx: mpsc::UnboundedReceiver<AttemptRow>) {
    tokio::spawn(async move {
        let mut batch = Vec::with_capacity(ATTEMPT_BATCH);
        let mut backoff = Duration::from_millis(50);
        loop {
            if batch.is_empty() {
                match rx.recv().await {
                    Some(a) => batch.push(a),
                    None => return,
                }
                tokio::time::sleep(ATTEMPT_LINGER).await;
            }
            while batch.len() < ATTEMPT_BATCH {
                match rx.try_recv() {
                    Ok(a) => batch.push(a),
                    Err(_) => break,
                }
            }
            match store.insert_attempts(&batch).await {
                Ok(()) => {
                    batch.clear();
                    backoff = Duration::from_millis(50);
                }
                Err(e) => {
                    tracing::error!(error = %e, attempts = batch.len(), "webhook attempts not stored; retrying");
                    tokio::time::sleep(backoff).await;
                    backoff = (backoff * 2).min(Duration::from_secs(5));
                }
            }
        }
    });
}
