//! The merchant API's tenants' own records: `merchants` (limits and credits),
//! `merchant_usage` (what each used per month), `consents` (every change kept;
//! the latest row is the consent) and `delivery_settings` (an account's
//! delivery mode). Channels and statuses are the API's own words (`SMS`,
//! `OPT_IN`); the merchant module gives them meaning.

use sqlx::any::AnyRow;
use sqlx::Row;

use super::{get_bool, QueryContext, Store, StoreError};

/// One merchant of an account.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MerchantRow {
    pub pk: i64,
    pub account_id: String,
    pub merchant_id: String,
    pub display_name: String,
    pub active: bool,
    pub sms_limit: i64,
    pub voice_minutes_limit: i64,
    pub email_limit: i64,
    pub sms_credits: i64,
    pub voice_credits: i64,
    pub email_credits: i64,
    pub created_at: i64,
    pub updated_at: i64,
}

impl MerchantRow {
    /// Its credits on `channel` (`SMS`, `VOICE`, `EMAIL`).
    pub fn credits(&self, channel: &str) -> i64 {
        match channel {
            "SMS" => self.sms_credits,
            "VOICE" => self.voice_credits,
            _ => self.email_credits,
        }
    }
}

/// What a merchant used in a period.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct UsageRow {
    pub sms_used: i64,
    pub voice_used: i64,
    pub email_used: i64,
}

/// An upsert: `None` keeps what a merchant has (or the default when it is new).
#[derive(Debug, Clone, Default)]
pub struct MerchantUpsert<'a> {
    pub display_name: Option<&'a str>,
    pub active: Option<bool>,
    pub sms_limit: Option<i64>,
    pub voice_minutes_limit: Option<i64>,
    pub email_limit: Option<i64>,
}

/// One consent change.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConsentRow {
    pub id: i64,
    pub merchant_id: String,
    pub channel: String,
    pub contact: String,
    pub status: String,
    pub source: Option<String>,
    pub created_at: i64,
}

/// An account's delivery mode and SMS provider.
#[derive(Debug, Clone, PartialEq)]
pub struct DeliverySettings {
    pub mode: String,
    pub sms_provider: Option<String>,
    pub sim_failure_rate: f64,
}

impl Default for DeliverySettings {
    fn default() -> Self {
        DeliverySettings {
            mode: "SIMULATOR".into(),
            sms_provider: None,
            sim_failure_rate: 0.0,
        }
    }
}

const COLUMNS: &str = "pk, account_id, merchant_id, display_name, active, sms_limit, \
    voice_minutes_limit, email_limit, sms_credits, voice_credits, email_credits, created_at, \
    updated_at";

fn merchant(r: &AnyRow) -> Result<MerchantRow, StoreError> {
    let go = || -> Result<MerchantRow, sqlx::Error> {
        Ok(MerchantRow {
            pk: r.try_get("pk")?,
            account_id: r.try_get("account_id")?,
            merchant_id: r.try_get("merchant_id")?,
            display_name: r.try_get("display_name")?,
            active: get_bool(r, "active")?,
            sms_limit: r.try_get("sms_limit")?,
            voice_minutes_limit: r.try_get("voice_minutes_limit")?,
            email_limit: r.try_get("email_limit")?,
            sms_credits: r.try_get("sms_credits")?,
            voice_credits: r.try_get("voice_credits")?,
            email_credits: r.try_get("email_credits")?,
            created_at: r.try_get("created_at")?,
            updated_at: r.try_get("updated_at")?,
        })
    };
    go().op("decode a merchant")
}

fn consent(r: &AnyRow) -> Result<ConsentRow, StoreError> {
    let go = || -> Result<ConsentRow, sqlx::Error> {
        Ok(ConsentRow {
            id: r.try_get("id")?,
            merchant_id: r.try_get("merchant_id")?,
            channel: r.try_get("channel")?,
            contact: r.try_get("contact")?,
            status: r.try_get("status")?,
            source: r.try_get("source")?,
            created_at: r.try_get("created_at")?,
        })
    };
    go().op("decode a consent")
}

/// The usage column and credits column of a channel (`SMS`, `VOICE`, `EMAIL`).
pub(crate) fn channel_columns(channel: &str) -> Option<(&'static str, &'static str)> {
    match channel {
        "SMS" => Some(("sms_used", "sms_credits")),
        "VOICE" => Some(("voice_used", "voice_credits")),
        "EMAIL" => Some(("email_used", "email_credits")),
        _ => None,
    }
}

impl Store {
    /// Creates merchant `merchant_id` of `account_id`, or updates the fields `m` names.
    pub async fn upsert_merchant(
        &self,
        account_id: &str,
        merchant_id: &str,
        m: &MerchantUpsert<'_>,
        now_ms: i64,
    ) -> Result<MerchantRow, StoreError> {
        let sql = format!(
            "INSERT INTO merchants (account_id, merchant_id, display_name, active, sms_limit, \
             voice_minutes_limit, email_limit, created_at, updated_at) \
             VALUES ($1, $2, COALESCE($3, $2), COALESCE($4, TRUE), COALESCE($5, 0), \
             COALESCE($6, 0), COALESCE($7, 0), $8, $8) \
             ON CONFLICT (account_id, merchant_id) DO UPDATE SET \
             display_name = COALESCE($3, merchants.display_name), \
             active = COALESCE($4, merchants.active), \
             sms_limit = COALESCE($5, merchants.sms_limit), \
             voice_minutes_limit = COALESCE($6, merchants.voice_minutes_limit), \
             email_limit = COALESCE($7, merchants.email_limit), updated_at = $8 \
             RETURNING {COLUMNS}"
        );
        let row = sqlx::query(&sql)
            .bind(account_id)
            .bind(merchant_id)
            .bind(m.display_name)
            .bind(m.active)
            .bind(m.sms_limit)
            .bind(m.voice_minutes_limit)
            .bind(m.email_limit)
            .bind(now_ms)
            .fetch_one(self.pool())
            .await
            .op("store a merchant")?;
        merchant(&row)
    }

    /// Merchant `merchant_id` of `account_id`.
    pub async fn merchant(
        &self,
        account_id: &str,
        merchant_id: &str,
    ) -> Result<Option<MerchantRow>, StoreError> {
        let sql =
            format!("SELECT {COLUMNS} FROM merchants WHERE account_id = $1 AND merchant_id = $2");
        let row = sqlx::query(&sql)
            .bind(account_id)
            .bind(merchant_id)
            .fetch_optional(self.pool())
            .await
            .op("look up a merchant")?;
        row.as_ref().map(merchant).transpose()
    }

    /// A merchant by its row id.
    pub async fn merchant_by_pk(&self, pk: i64) -> Result<Option<MerchantRow>, StoreError> {
        let sql = format!("SELECT {COLUMNS} FROM merchants WHERE pk = $1");
        let row = sqlx::query(&sql)
            .bind(pk)
            .fetch_optional(self.pool())
            .await
            .op("look up a merchant")?;
        row.as_ref().map(merchant).transpose()
    }

    /// An account's merchants, by id.
    pub async fn merchants(&self, account_id: &str) -> Result<Vec<MerchantRow>, StoreError> {
        let sql =
            format!("SELECT {COLUMNS} FROM merchants WHERE account_id = $1 ORDER BY merchant_id");
        let rows = sqlx::query(&sql)
            .bind(account_id)
            .fetch_all(self.pool())
            .await
            .op("list merchants")?;
        rows.iter().map(merchant).collect()
    }

    /// What merchant `pk` used in `period` (zero when nothing yet).
    pub async fn merchant_usage(&self, pk: i64, period: &str) -> Result<UsageRow, StoreError> {
        let row = sqlx::query(
            "SELECT sms_used, voice_used, email_used FROM merchant_usage \
             WHERE merchant_pk = $1 AND period = $2",
        )
        .bind(pk)
        .bind(period)
        .fetch_optional(self.pool())
        .await
        .op("read a merchant's usage")?;
        let Some(r) = row else {
            return Ok(UsageRow::default());
        };
        let go = || -> Result<UsageRow, sqlx::Error> {
            Ok(UsageRow {
                sms_used: r.try_get("sms_used")?,
                voice_used: r.try_get("voice_used")?,
                email_used: r.try_get("email_used")?,
            })
        };
        go().op("decode a merchant's usage")
    }

    /// Adds `units` to a merchant's credits on `channel`; its credits after.
    pub async fn add_credits(
        &self,
        pk: i64,
        channel: &str,
        units: i64,
    ) -> Result<Option<i64>, StoreError> {
        let Some((_, credits)) = channel_columns(channel) else {
            return Ok(None);
        };
        let sql = format!(
            "UPDATE merchants SET {credits} = {credits} + $1 WHERE pk = $2 RETURNING {credits}"
        );
        let row = sqlx::query(&sql)
            .bind(units)
            .bind(pk)
            .fetch_optional(self.pool())
            .await
            .op("add credits")?;
        row.map(|r| r.try_get::<i64, _>(0))
            .transpose()
            .op("decode credits")
    }

    /// Records a consent change (the history keeps every one).
    pub async fn add_consent(
        &self,
        merchant_pk: i64,
        channel: &str,
        contact: &str,
        status: &str,
        source: Option<&str>,
        now_ms: i64,
    ) -> Result<i64, StoreError> {
        let row = sqlx::query(
            "INSERT INTO consents (merchant_pk, channel, contact, status, source, created_at) \
             VALUES ($1, $2, $3, $4, $5, $6) RETURNING id",
        )
        .bind(merchant_pk)
        .bind(channel)
        .bind(contact)
        .bind(status)
        .bind(source)
        .bind(now_ms)
        .fetch_one(self.pool())
        .await
        .op("store a consent")?;
        row.try_get::<i64, _>(0).op("decode a consent id")
    }

    /// A contact's consent on a channel with merchant `pk`: its latest change.
    pub async fn consent(
        &self,
        merchant_pk: i64,
        channel: &str,
        contact: &str,
    ) -> Result<Option<ConsentRow>, StoreError> {
        let row = sqlx::query(
            "SELECT c.id, m.merchant_id, c.channel, c.contact, c.status, c.source, c.created_at \
             FROM consents c JOIN merchants m ON m.pk = c.merchant_pk \
             WHERE c.merchant_pk = $1 AND c.channel = $2 AND c.contact = $3 \
             ORDER BY c.id DESC LIMIT 1",
        )
        .bind(merchant_pk)
        .bind(channel)
        .bind(contact)
        .fetch_optional(self.pool())
        .await
        .op("read a consent")?;
        row.as_ref().map(consent).transpose()
    }

    /// An account's consents (one merchant's with `merchant_pk`): the current
    /// one per contact and channel, or every change with `history`.
    pub async fn consents(
        &self,
        account_id: &str,
        merchant_pk: Option<i64>,
        history: bool,
    ) -> Result<Vec<ConsentRow>, StoreError> {
        let latest = if history {
            ""
        } else {
            " AND c.id = (SELECT MAX(d.id) FROM consents d WHERE d.merchant_pk = c.merchant_pk \
             AND d.channel = c.channel AND d.contact = c.contact)"
        };
        let sql =
            format!(
            "SELECT c.id, m.merchant_id, c.channel, c.contact, c.status, c.source, c.created_at \
             FROM consents c JOIN merchants m ON m.pk = c.merchant_pk \
             WHERE m.account_id = $1 AND c.merchant_pk {only}{latest} \
             ORDER BY c.id LIMIT 10000",
            only = if merchant_pk.is_some() { "= $2" } else { "<> $2" }
        );
        let rows = sqlx::query(&sql)
            .bind(account_id)
            .bind(merchant_pk.unwrap_or(-1))
            .fetch_all(self.pool())
            .await
            .op("list consents")?;
        rows.iter().map(consent).collect()
    }

    /// An account's delivery settings (the simulator when never set).
    pub async fn delivery_settings(
        &self,
        account_id: &str,
    ) -> Result<DeliverySettings, StoreError> {
        let row = sqlx::query(
            "SELECT mode, sms_provider, sim_failure_rate FROM delivery_settings \
             WHERE account_id = $1",
        )
        .bind(account_id)
        .fetch_optional(self.pool())
        .await
        .op("read delivery settings")?;
        let Some(r) = row else {
            return Ok(DeliverySettings::default());
        };
        let go = || -> Result<DeliverySettings, sqlx::Error> {
            Ok(DeliverySettings {
                mode: r.try_get("mode")?,
                sms_provider: r.try_get("sms_provider")?,
                sim_failure_rate: r.try_get("sim_failure_rate")?,
            })
        };
        go().op("decode delivery settings")
    }

    /// Sets an account's delivery settings.
    pub async fn set_delivery_settings(
        &self,
        account_id: &str,
        s: &DeliverySettings,
        now_ms: i64,
    ) -> Result<(), StoreError> {
        sqlx::query(
            "INSERT INTO delivery_settings (account_id, mode, sms_provider, sim_failure_rate, \
             updated_at) VALUES ($1, $2, $3, $4, $5) ON CONFLICT (account_id) DO UPDATE SET \
             mode = $2, sms_provider = $3, sim_failure_rate = $4, updated_at = $5",
        )
        .bind(account_id)
        .bind(s.mode.as_str())
        .bind(s.sms_provider.as_deref())
        .bind(s.sim_failure_rate)
        .bind(now_ms)
        .execute(self.pool())
        .await
        .op("store delivery settings")?;
        Ok(())
    }
}
