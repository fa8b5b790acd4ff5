//! The merchant messaging service: what the HTTP handlers, the lane workers
//! and the sweeper share — the store, the switch (for SIP MESSAGE and voice
//! calls), the admitting task, the lanes' wake-ups, rate limiters and
//! counters, the providers' clients and the price list (`run::start` spawns
//! the workers); every state change goes through [`Service::advance`], which
//! stores it and publishes its lifecycle event.

use std::num::NonZeroU32;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::sync::Arc;
use std::time::Duration;

use governor::{DefaultDirectRateLimiter, DefaultKeyedRateLimiter, Quota, RateLimiter};
use lettre::{AsyncSmtpTransport, Tokio1Executor};
use tokio::sync::Notify;

use super::accept::Acceptor;
use super::config::MerchantArgs;
use super::pricing::Pricing;
use crate::events::{
    Bus, Event, MessageStatusEvent, MessageStatusMeta, Numbers, SmsEvent, SmsMeta,
};
use crate::ids::AccountId;
use crate::store::{DeliverySettings, MessageRow, Store, StoreError, Transition};

/// One lane's counters since start (`/metrics`, the operator route).
#[derive(Debug, Default)]
pub struct LaneStats {
    pub enqueued: AtomicU64,
    pub processed: AtomicU64,
    pub failed: AtomicU64,
    pub dead_lettered: AtomicU64,
    pub retried: AtomicU64,
    /// Sends that waited on a rate limit.
    pub throttled: AtomicU64,
}

pub struct Service {
    pub store: Store,
    pub sw: Option<Arc<crate::switch::Switch>>,
    pub acd: crate::call::acd::AcdHandle,
    pub bus: Bus,
    pub args: MerchantArgs,
    /// Where providers call back (no trailing slash).
    pub public_url: String,
    pub acceptor: Acceptor,
    /// Per lane (SMS, voice, email): new work.
    pub wake: Arc<[Arc<Notify>; 3]>,
    pub lanes: [LaneStats; 3],
    pub lane_limits: [DefaultDirectRateLimiter; 3],
    pub merchant_limits: DefaultKeyedRateLimiter<i64>,
    pub pricing: Pricing,
    pub http: reqwest::Client,
    pub smtp: Option<AsyncSmtpTransport<Tokio1Executor>>,
    pub telnyx_key: Option<ed25519_dalek::VerifyingKey>,
    pub health: super::health::Health,
    /// Merchants' ids by row id (they never change), for events.
    names: dashmap::DashMap<i64, String>,
    /// Merchants as read in the last [`SETTINGS_TRUST`], by (account, merchant id).
    merchants: dashmap::DashMap<(String, String), (crate::store::MerchantRow, std::time::Instant)>,
    /// Consents as read in the last [`SETTINGS_TRUST`], for admission only (the
    /// hand-off checks the store itself).
    consents:
        dashmap::DashMap<(i64, String, String), (Option<super::ConsentStatus>, std::time::Instant)>,
    /// Accounts' delivery settings as read in the last [`SETTINGS_TRUST`].
    settings: dashmap::DashMap<String, (DeliverySettings, std::time::Instant)>,
    /// This process's lease name (`<node>:<boot id>`).
    pub owner: String,
    /// This node's lease prefix (`<node>:`).
    pub node_prefix: String,
}

/// Why the service could not be set up.
#[derive(Debug, thiserror::Error)]
pub enum SetupError {
    #[error("--smtp-url: {0}")]
    Smtp(String),
    #[error("--telnyx-public-key: not a base64 Ed25519 public key")]
    TelnyxKey,
    #[error("--pricing: {0}")]
    Pricing(String),
}

/// How long a worker trusts an account's delivery settings it read.
const SETTINGS_TRUST: Duration = Duration::from_secs(1);

fn per_second(n: u32) -> Quota {
    Quota::per_second(NonZeroU32::new(n.max(1)).unwrap_or(NonZeroU32::MIN))
}

impl Service {
    pub fn new(
        args: MerchantArgs,
        store: Store,
        sw: Option<Arc<crate::switch::Switch>>,
        acd: crate::call::acd::AcdHandle,
        bus: Bus,
        default_public_url: String,
    ) -> Result<Arc<Service>, SetupError> {
        let smtp = match &args.smtp_url {
            Some(url) => Some(
                AsyncSmtpTransport::<Tokio1Executor>::from_url(url)
                    .map_err(|e| SetupError::Smtp(e.to_string()))?
                    .timeout(Some(Duration::from_secs(20)))
                    .build(),
            ),
            None => None,
        };
        let telnyx_key = match &args.telnyx_public_key {
            Some(k) => {
                use base64::Engine;
                let raw = base64::engine::general_purpose::STANDARD
                    .decode(k.trim())
                    .map_err(|_| SetupError::TelnyxKey)?;
                let bytes: [u8; 32] = raw.try_into().map_err(|_| SetupError::TelnyxKey)?;
                Some(
                    ed25519_dalek::VerifyingKey::from_bytes(&bytes)
                        .map_err(|_| SetupError::TelnyxKey)?,
                )
            }
            None => None,
        };
        let pricing = match &args.pricing {
            Some(path) => Pricing::load(path).map_err(SetupError::Pricing)?,
            None => Pricing::default(),
        };
        let wake: Arc<[Arc<Notify>; 3]> = Arc::new([
            Arc::new(Notify::new()),
            Arc::new(Notify::new()),
            Arc::new(Notify::new()),
        ]);
        let node = store.node().unwrap_or("node").to_string();
        let http = reqwest::Client::builder()
            .timeout(Duration::from_secs(10))
            .connect_timeout(Duration::from_secs(5))
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .unwrap_or_default();
        let rate = args.dispatch_rate;
        Ok(Arc::new(Service {
            acceptor: Acceptor::spawn(store.clone(), wake.clone()),
            store,
            sw,
            acd,
            bus,
            public_url: args
                .public_url
                .clone()
                .unwrap_or(default_public_url)
                .trim_end_matches('/')
                .to_string(),
            wake,
            lanes: Default::default(),
            lane_limits: [
                RateLimiter::direct(per_second(rate)),
                RateLimiter::direct(per_second(rate)),
                RateLimiter::direct(per_second(rate)),
            ],
            merchant_limits: RateLimiter::keyed(per_second(args.dispatch_merchant_rate)),
            pricing,
            http,
            smtp,
            telnyx_key,
            health: Default::default(),
            names: Default::default(),
            settings: Default::default(),
            merchants: Default::default(),
            consents: Default::default(),
            owner: format!("{node}:{}", uuid::Uuid::new_v4().simple()),
            node_prefix: format!("{node}:"),
            args,
        }))
    }

    /// Moves message `m` on to `t` (if it is in one of `from`) and publishes
    /// the change; false when it was elsewhere.
    pub async fn advance(
        &self,
        m: &MessageRow,
        from: &[&str],
        t: Transition<'_>,
    ) -> Result<bool, StoreError> {
        let changed = self
            .store
            .advance(m.id, from, &t, crate::events::now_ms())
            .await?;
        if changed {
            self.publish(m, t.status, t.provider, t.detail.or(t.error))
                .await;
        }
        Ok(changed)
    }

    /// The lifecycle event of a state change (and SMS_SENT / SMS_DELIVERED for SMS).
    pub async fn publish(
        &self,
        m: &MessageRow,
        status: &str,
        provider: Option<&str>,
        detail: Option<&str>,
    ) {
        let merchant_id = match self.names.get(&m.merchant_pk).map(|n| n.clone()) {
            Some(id) => id,
            None => match self.store.merchant_by_pk(m.merchant_pk).await {
                Ok(Some(row)) => {
                    self.names.insert(m.merchant_pk, row.merchant_id.clone());
                    row.merchant_id
                }
                _ => String::new(),
            },
        };
        let aid = AccountId::from(m.account_id.as_str());
        self.bus
            .publish(Event::MessageStatus(MessageStatusEvent::now(
                aid.clone(),
                MessageStatusMeta {
                    message_id: m.id.to_string(),
                    merchant_id,
                    channel: m.channel.clone(),
                    status: status.to_string(),
                    to: m.recipient.clone(),
                    provider: provider.map(str::to_string),
                    detail: detail.map(str::to_string),
                },
            )));
        if m.channel != "SMS" {
            return;
        }
        let body = serde_json::from_str::<serde_json::Value>(&m.payload)
            .ok()
            .and_then(|v| v["message"].as_str().map(str::to_string));
        let meta = SmsMeta {
            from_number: None,
            to_number: Some(Numbers::Many(vec![m.recipient.clone()])),
            body,
            message_id: m.id.to_string(),
            sms_sent_by_user_id: None,
            status: None,
        };
        match status {
            "SENT" => {
                self.bus.publish(Event::SmsSent(SmsEvent::now(aid, meta)));
            }
            "DELIVERED" | "UNDELIVERED" => {
                let meta = SmsMeta {
                    status: Some(status.to_ascii_lowercase()),
                    ..meta
                };
                self.bus
                    .publish(Event::SmsDelivered(SmsEvent::now(aid, meta)));
            }
            _ => {}
        }
    }

    /// An account's delivery settings (read at most once a second per account;
    /// a change through this node is seen at once).
    pub async fn delivery_settings(&self, account: &str) -> Result<DeliverySettings, StoreError> {
        if let Some(hit) = self.settings.get(account) {
            if hit.1.elapsed() < SETTINGS_TRUST {
                return Ok(hit.0.clone());
            }
        }
        let s = self.store.delivery_settings(account).await?;
        self.settings
            .insert(account.to_string(), (s.clone(), std::time::Instant::now()));
        Ok(s)
    }

    /// Merchant `id` of `account` for admission (at most a second old; a change
    /// through this node is seen at once).
    pub async fn merchant_cached(
        &self,
        account: &str,
        id: &str,
    ) -> Result<Option<crate::store::MerchantRow>, StoreError> {
        let k = (account.to_string(), id.to_string());
        if let Some(hit) = self.merchants.get(&k) {
            if hit.1.elapsed() < SETTINGS_TRUST {
                return Ok(Some(hit.0.clone()));
            }
        }
        let m = self.store.merchant(account, id).await?;
        if let Some(m) = &m {
            if self.merchants.len() > 100_000 {
                self.merchants.clear();
            }
            self.merchants
                .insert(k, (m.clone(), std::time::Instant::now()));
        }
        Ok(m)
    }

    /// Forgets a merchant (it was changed).
    pub fn forget_merchant(&self, account: &str, id: &str) {
        self.merchants
            .remove(&(account.to_string(), id.to_string()));
    }

    /// A contact's consent for admission (at most a second old; a change
    /// through this node is seen at once; the hand-off reads the store).
    pub async fn consent_cached(
        &self,
        pk: i64,
        channel: &str,
        contact: &str,
    ) -> Result<Option<super::ConsentStatus>, StoreError> {
        let k = (pk, channel.to_string(), contact.to_string());
        if let Some(hit) = self.consents.get(&k) {
            if hit.1.elapsed() < SETTINGS_TRUST {
                return Ok(hit.0);
            }
        }
        let c = self
            .store
            .consent(pk, channel, contact)
            .await?
            .and_then(|c| super::ConsentStatus::parse(&c.status));
        if self.consents.len() > 100_000 {
            self.consents.clear();
        }
        self.consents.insert(k, (c, std::time::Instant::now()));
        Ok(c)
    }

    /// Forgets a consent (it was changed).
    pub fn forget_consent(&self, pk: i64, channel: &str, contact: &str) {
        self.consents
            .remove(&(pk, channel.to_string(), contact.to_string()));
    }

    /// Forgets an account's settings (they were changed).
    pub fn forget_settings(&self, account: &str) {
        self.settings.remove(account);
    }

    /// Waits until the lane's and the merchant's rate limits let one more
    /// message go (counted as throttled when it had to wait).
    pub async fn wait_to_send(&self, channel: super::Channel, merchant_pk: i64) {
        let lane = &self.lane_limits[super::accept::lane_index(channel.as_str())];
        if lane.check().is_err() || self.merchant_limits.check_key(&merchant_pk).is_err() {
            self.lane(channel)
                .throttled
                .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            lane.until_ready().await;
            self.merchant_limits.until_key_ready(&merchant_pk).await;
        }
    }

    /// A lane's counters.
    pub fn lane(&self, channel: super::Channel) -> &LaneStats {
        &self.lanes[super::accept::lane_index(channel.as_str())]
    }

    /// Counts `n` enqueued on `channel`'s lane.
    pub fn enqueued(&self, channel: super::Channel) {
        self.lane(channel).enqueued.fetch_add(1, Relaxed);
    }
}
