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
}

pub struct Webhooks {
    sh: Arc<Shared>,
    workers: Mutex<HashMap<WebhookId, WorkerHandle>>,
}

struct WorkerHandle {
    tx: mpsc::UnboundedSender<Control>,
    task: tokio::task::JoinHandle<()>,
}

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
        });
        for row in me.sh.store.webhooks(None).await? {
            match Subscription::from_row(&row) {
                Some(sub) => {
                    if let Err(e) = me.spawn(sub, &row) {
                        tracing::error!(webhook = %row.id, error = %e, "webhook not started");
                    }
                }
                None => {
                    tracing::error!(webhook = %row.id, "webhook holds values this version does not understand")
                }
            }
        }
        Ok(me)
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
        let w = Worker::new(self.sh.clone(), sub, secrets, row.cursor, failures);
        let task = tokio::spawn(w.run(rx));
        self.lock().insert(id, WorkerHandle { tx, task });
        Ok(())
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<WebhookId, WorkerHandle>> {
        self.workers.lock().unwrap_or_else(|p| p.into_inner())
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
        Ok((sub, secret, until))
    }

    /// Attempts of one subscription (or all of the account's), newest first.
    pub async fn attempts(
        &self,
        account: &AccountId,
        id: Option<&str>,
        before_ms: Option<i64>,
        limit: u32,
    ) -> Result<Vec<AttemptRow>, WebhookError> {
        if let Some(id) = id {
            self.row(account, id).await?;
        }
        Ok(self
            .sh
            .store
            .attempts(account.as_str(), id, before_ms, limit)
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
        self.tell(sub.id, Control::Replay(rec));
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
        let handles: Vec<WorkerHandle> = self.lock().drain().map(|(_, h)| h).collect();
        for h in &handles {
            let _ = h.tx.send(Control::Stop);
        }
        let all = futures_util::future::join_all(handles.into_iter().map(|h| h.task));
        let _ = tokio::time::timeout(Duration::from_secs(3), all).await;
    }
}
