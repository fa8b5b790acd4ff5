//! [`Webhooks`]: what the v2 API asks of subscriptions (create, read, change,
//! delete, rotate a secret, list attempts, replay), and the worker each
//! subscription runs. Every operation names the caller's account: another
//! account's subscription is simply not found.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::sync::mpsc;

use super::subscription::{FieldError, Settings, Subscription};
use super::worker::{Control, Secrets, Worker};
use super::{client, guard, sign, spawn_attempt_writer, Clock, Config, Shared};
use crate::events::{EventLog, Record};
use crate::ids::{AccountId, WebhookId};
use crate::store::{AttemptRow, Store, StoreError, WebhookRow};

#[derive(Debug, thiserror::Error)]
pub enum WebhookError {
    #[error("no such webhook")]
    NotFound,
    #[error("the webhook document is not valid")]
    Invalid(Vec<FieldError>),
    #[error("{0}")]
    UriNotAllowed(String),
    #[error("no such event in the log (never published, or purged)")]
    EventNotFound,
    #[error("event {0} is not one this webhook takes")]
    EventNotForWebhook(u64),
    #[error("no such attempt")]
    AttemptNotFound,
    #[error(transparent)]
    Unseal(#[from] sign::Unseal),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Stream(#[from] crate::jetstream::StreamError),
}

pub struct Webhooks {
    sh: Arc<Shared>,
    workers: Mutex<HashMap<WebhookId, WorkerHandle>>,
    /// Set by [`Webhooks::stop`]: no worker starts after it.
    stopped: std::sync::atomic::AtomicBool,
}

struct WorkerHandle {
    tx: mpsc::UnboundedSender<Control>,
    task: tokio::task::JoinHandle<()>,
    /// What the row looked like when the worker last heard of it.
    seen: Seen,
}

/// The parts of a stored subscription that, changed by another node, its
/// worker here must hear of.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Seen {
    modified_at: i64,
    secret: String,
    old_secret_until: Option<i64>,
}

impl Seen {
    fn of(row: &WebhookRow) -> Seen {
        Seen {
            modified_at: row.modified_at,
            secret: row.secret.clone(),
            old_secret_until: row.old_secret_until,
        }
    }
}

/// How often, with several nodes, each looks for subscriptions the others changed.
const RECONCILE_EVERY: Duration = Duration::from_secs(2);

impl Webhooks {
    /// Starts a worker for every stored subscription.
    pub async fn start(
        store: Store,
        log: Arc<EventLog>,
        config: Config,
        clock: Arc<dyn Clock>,
    ) -> Result<Arc<Webhooks>, StoreError> {
        let (atx, arx) = mpsc::unbounded_channel();
        spawn_attempt_writer(store.clone(), arx);
        let policy = guard::Policy {
            allow_private: config.allow_private,
        };
        let sh = Arc::new(Shared {
            sealer: sign::Sealer::new(&config.key),
            client: client(policy),
            store,
            log,
            config,
            clock,
            attempts: atx,
        });
        let me = Arc::new(Webhooks {
            sh,
            workers: Mutex::new(HashMap::new()),
            stopped: Default::default(),
        });
        for row in me.sh.store.webhooks(None).await? {
            me.start_row(&row);
        }
        if me.sh.config.stream.is_some() {
            tokio::spawn(reconcile(Arc::downgrade(&me)));
        }
        Ok(me)
    }

    fn start_row(&self, row: &WebhookRow) {
        match Subscription::from_row(row) {
            Some(sub) => {
                if let Err(e) = self.spawn(sub, row) {
                    tracing::error!(webhook = %row.id, error = %e, "webhook not started");
                }
            }
            None => {
                tracing::error!(webhook = %row.id, "webhook holds values this version does not understand")
            }
        }
    }

    /// Brings the workers here in line with the store: subscriptions other
    /// nodes made, changed (settings, enabled, secrets) or deleted.
    async fn reconcile_once(&self) -> Result<(), StoreError> {
        let rows = self.sh.store.webhooks(None).await?;
        if self.stopped.load(std::sync::atomic::Ordering::Relaxed) {
            return Ok(());
        }
        let live: std::collections::HashSet<&str> = rows.iter().map(|r| r.id.as_str()).collect();
        let gone: Vec<(WebhookId, WorkerHandle)> = {
            let mut w = self.lock();
            let ids: Vec<WebhookId> = w
                .keys()
                .filter(|id| !live.contains(id.to_string().as_str()))
                .copied()
                .collect();
            ids.into_iter()
                .filter_map(|id| w.remove(&id).map(|h| (id, h)))
                .collect()
        };
        for (id, h) in gone {
            let _ = h.tx.send(Control::Stop);
            if let Some(es) = &self.sh.config.stream {
                es.drop_consumers(&id.to_string()).await;
            }
        }
        for row in &rows {
            let Some(sub) = Subscription::from_row(row) else {
                continue;
            };
            let seen = Seen::of(row);
            let changed = match self.lock().get(&sub.id) {
                None => None,
                Some(h) if h.seen == seen => continue,
                Some(h) => Some(h.seen.clone()),
            };
            let Some(before) = changed else {
                self.start_row(row);
                continue;
            };
            if before.secret != seen.secret || before.old_secret_until != seen.old_secret_until {
                match self.secrets(row) {
                    Ok(s) => self.tell(sub.id, Control::Secrets(s)),
                    Err(e) => {
                        tracing::error!(webhook = %row.id, error = %e, "webhook secret unreadable")
                    }
                }
            }
            if before.modified_at != seen.modified_at {
                self.tell(sub.id, Control::Update(Box::new(sub.clone())));
            }
            if let Some(h) = self.lock().get_mut(&sub.id) {
                h.seen = seen;
            }
        }
        Ok(())
    }

    pub fn store(&self) -> &Store {
        &self.sh.store
    }

    fn secrets(&self, row: &WebhookRow) -> Result<Secrets, sign::Unseal> {
        let previous = match (&row.old_secret, row.old_secret_until) {
            (Some(s), Some(until)) => Some((self.sh.sealer.open(s)?, until)),
            _ => None,
        };
        Ok(Secrets {
            current: self.sh.sealer.open(&row.secret)?,
            previous,
        })
    }

    fn spawn(&self, sub: Subscription, row: &WebhookRow) -> Result<(), sign::Unseal> {
        let secrets = self.secrets(row)?;
        let (tx, rx) = mpsc::unbounded_channel();
        let id = sub.id;
        let failures = u32::try_from(row.failures).unwrap_or(0);
        let task = match &self.sh.config.stream {
            Some(es) => tokio::spawn(super::stream::run(
                self.sh.clone(),
                es.clone(),
                sub,
                secrets,
                failures,
                rx,
            )),
            None => {
                let w = Worker::new(self.sh.clone(), sub, secrets, row.cursor, failures);
                tokio::spawn(w.run(rx))
            }
        };
        let seen = Seen::of(row);
        self.lock().insert(id, WorkerHandle { tx, task, seen });
        Ok(())
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<WebhookId, WorkerHandle>> {
        self.workers.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Notes a change this node made itself (so reconciling does not repeat it).
    fn saw(&self, id: WebhookId, f: impl FnOnce(&mut Seen)) {
        if let Some(h) = self.lock().get_mut(&id) {
            f(&mut h.seen);
        }
    }

    fn tell(&self, id: WebhookId, c: Control) {
        if let Some(h) = self.lock().get(&id) {
            let _ = h.tx.send(c);
        }
    }

    /// Refuses a receiver the address policy forbids (an address, or a name
    /// that resolves only to forbidden addresses; a name that does not resolve
    /// now is accepted and retried at delivery).
    async fn check_receiver(&self, uri: &url::Url) -> Result<(), WebhookError> {
        let policy = self.sh.policy();
        policy.check_uri(uri).map_err(WebhookError::UriNotAllowed)?;
        if let Some(url::Host::Domain(d)) = uri.host() {
            let port = uri.port_or_known_default().unwrap_or(80);
            let lookup =
                tokio::time::timeout(Duration::from_secs(2), tokio::net::lookup_host((d, port)))
                    .await;
            if let Ok(Ok(addrs)) = lookup {
                let addrs: Vec<_> = addrs.collect();
                if !addrs.is_empty() && !addrs.iter().any(|a| policy.allows(a.ip())) {
                    return Err(WebhookError::UriNotAllowed(format!(
                        "{d} resolves only to addresses that are not public (loopback, private and link-local receivers need --webhooks-allow-private)"
                    )));
                }
            }
        }
        Ok(())
    }

    /// Creates a subscription from a document; returns it and its secret (shown once).
    pub async fn create(
        &self,
        account: &AccountId,
        doc: &serde_json::Value,
    ) -> Result<(Subscription, String), WebhookError> {
        let settings = Settings::from_doc(doc, None).map_err(WebhookError::Invalid)?;
        self.check_receiver(&settings.uri).await?;
        let now = self.sh.clock.now_ms();
        let sub = Subscription {
            id: WebhookId::new(),
            account_id: account.clone(),
            settings,
            disabled_reason: None,
            created_at: now,
            modified_at: now,
        };
        let secret = sign::new_secret();
        // from the next event on
        let row = sub.to_row(self.sh.sealer.seal(&secret), self.sh.log.latest());
        self.sh.store.insert_webhook(&row).await?;
        self.spawn(sub.clone(), &row)?;
        Ok((sub, secret))
    }

    async fn row(
        &self,
        account: &AccountId,
        id: &str,
    ) -> Result<(WebhookRow, Subscription), WebhookError> {
        let row = self
            .sh
            .store
            .webhook(account.as_str(), id)
            .await?
            .ok_or(WebhookError::NotFound)?;
        let sub = Subscription::from_row(&row).ok_or(WebhookError::NotFound)?;
        Ok((row, sub))
    }

    pub async fn get(&self, account: &AccountId, id: &str) -> Result<Subscription, WebhookError> {
        Ok(self.row(account, id).await?.1)
    }

    pub async fn list(&self, account: &AccountId) -> Result<Vec<Subscription>, WebhookError> {
        let rows = self.sh.store.webhooks(Some(account.as_str())).await?;
        Ok(rows.iter().filter_map(Subscription::from_row).collect())
    }

    /// Changes a subscription: `merge` (PATCH) keeps what the document does
    /// not name; otherwise (POST) the document replaces it. Enabling a
    /// disabled subscription clears its reason and failure count.
    pub async fn update(
        &self,
        account: &AccountId,
        id: &str,
        doc: &serde_json::Value,
        merge: bool,
    ) -> Result<Subscription, WebhookError> {
        let (row, mut sub) = self.row(account, id).await?;
        let settings = Settings::from_doc(doc, merge.then_some(&sub.settings))
            .map_err(WebhookError::Invalid)?;
        if settings.uri != sub.settings.uri {
            self.check_receiver(&settings.uri).await?;
        }
        let mut failures = row.failures;
        if settings.enabled && (!sub.settings.enabled || sub.disabled_reason.is_some()) {
            sub.disabled_reason = None;
            failures = 0;
        }
        sub.settings = settings;
        sub.modified_at = self.sh.clock.now_ms();
        let mut new_row = sub.to_row(row.secret.clone(), row.cursor);
        new_row.failures = failures;
        if !self.sh.store.update_webhook(&new_row).await? {
            return Err(WebhookError::NotFound);
        }
        self.tell(sub.id, Control::Update(Box::new(sub.clone())));
        self.saw(sub.id, |s| s.modified_at = new_row.modified_at);
        Ok(sub)
    }

    pub async fn delete(
        &self,
        account: &AccountId,
        id: &str,
    ) -> Result<Subscription, WebhookError> {
        let (_, sub) = self.row(account, id).await?;
        if !self.sh.store.delete_webhook(account.as_str(), id).await? {
            return Err(WebhookError::NotFound);
        }
        if let Some(h) = self.lock().remove(&sub.id) {
            let _ = h.tx.send(Control::Stop);
        }
        if let Some(es) = &self.sh.config.stream {
            es.drop_consumers(&sub.id.to_string()).await;
        }
        Ok(sub)
    }

    /// A new secret (returned once); the old one signs too for `grace`.
    pub async fn rotate(
        &self,
        account: &AccountId,
        id: &str,
        grace: Option<Duration>,
    ) -> Result<(Subscription, String, i64), WebhookError> {
        let (row, sub) = self.row(account, id).await?;
        let grace = grace.unwrap_or(self.sh.config.rotation_grace);
        let until = self.sh.clock.now_ms() + grace.as_millis() as i64;
        let secret = sign::new_secret();
        let sealed = self.sh.sealer.seal(&secret);
        let old = (!grace.is_zero()).then_some(row.secret.as_str());
        self.sh
            .store
            .rotate_webhook_secret(&row.id, &sealed, old, old.map(|_| until))
            .await?;
        let previous = match old {
            Some(o) => Some((self.sh.sealer.open(o)?, until)),
            None => None,
        };
        self.tell(
            sub.id,
            Control::Secrets(Secrets {
                current: secret.clone(),
                previous,
            }),
        );
        self.saw(sub.id, |s| {
            s.secret = sealed.clone();
            s.old_secret_until = old.map(|_| until);
        });
        Ok((sub, secret, until))
    }

    /// Attempts of one subscription (or all of the account's), newest first.
    pub async fn attempts(
        &self,
        account: &AccountId,
        id: Option<&str>,
        before: Option<(i64, &str)>,
        limit: u32,
    ) -> Result<Vec<AttemptRow>, WebhookError> {
        if let Some(id) = id {
            self.row(account, id).await?;
        }
        Ok(self
            .sh
            .store
            .attempts(account.as_str(), id, before, limit)
            .await?)
    }

    async fn record(&self, seq: u64) -> Result<Arc<Record>, WebhookError> {
        if let Ok(v) = self.sh.log.after(seq.saturating_sub(1), 1) {
            if let Some(r) = v.into_iter().next().filter(|r| r.seq == seq) {
                return Ok(r);
            }
        }
        let got = self.sh.store.events_after(seq.saturating_sub(1), 1).await?;
        got.into_iter()
            .next()
            .filter(|r| r.seq == seq)
            .map(Arc::new)
            .ok_or(WebhookError::EventNotFound)
    }

    /// Delivers event `seq` to the subscription again (with its own retries).
    pub async fn replay_event(
        &self,
        account: &AccountId,
        id: &str,
        seq: u64,
    ) -> Result<Subscription, WebhookError> {
        let (_, sub) = self.row(account, id).await?;
        let rec = self.record(seq).await?;
        let event: serde_json::Value = serde_json::from_str(&rec.json).unwrap_or_default();
        if !sub.takes(&rec, &event) {
            return Err(WebhookError::EventNotForWebhook(seq));
        }
        match &self.sh.config.stream {
            // whichever node's worker takes it (this one may not run it yet)
            Some(es) => es.publish_replay(&sub.id.to_string(), &rec).await?,
            None => self.tell(sub.id, Control::Replay(rec)),
        }
        Ok(sub)
    }

    /// Replays the event of one attempt.
    pub async fn replay_attempt(
        &self,
        account: &AccountId,
        id: &str,
        attempt_id: &str,
    ) -> Result<(Subscription, u64), WebhookError> {
        let a = self
            .sh
            .store
            .attempt(account.as_str(), id, attempt_id)
            .await?
            .ok_or(WebhookError::AttemptNotFound)?;
        let sub = self.replay_event(account, id, a.event_seq).await?;
        Ok((sub, a.event_seq))
    }

    /// Stops every worker and waits (a few seconds at most) for each to save its cursor.
    pub async fn stop(&self) {
        self.stopped
            .store(true, std::sync::atomic::Ordering::Relaxed);
        let handles: Vec<WorkerHandle> = self.lock().drain().map(|(_, h)| h).collect();
        for h in &handles {
            let _ = h.tx.send(Control::Stop);
        }
        let all = futures_util::future::join_all(handles.into_iter().map(|h| h.task));
        let _ = tokio::time::timeout(Duration::from_secs(3), all).await;
    }
}

/// With several nodes: follows the store's subscriptions until the service is gone.
async fn reconcile(me: std::sync::Weak<Webhooks>) {
    let mut tick = tokio::time::interval(RECONCILE_EVERY);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tick.tick().await;
        let Some(me) = me.upgrade() else { return };
        if let Err(e) = me.reconcile_once().await {
            tracing::warn!(error = %e, "webhook subscriptions not reconciled");
        }
    }
}
