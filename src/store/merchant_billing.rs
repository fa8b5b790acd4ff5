//! The merchant API's money and compliance rows: `payments` (upgrades, pending
//! until the payment provider confirms; credits change only then, in the same
//! transaction), `merchant_alerts` (one row per condition, by its dedup key)
//! and `messaging_records` (10DLC brands, campaigns and numbers with a status
//! the provider or the simulator advances).

use sqlx::any::AnyRow;
use sqlx::Row;

use super::merchants::channel_columns;
use super::{get_bool, QueryContext, Store, StoreError};

/// One upgrade payment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PaymentRow {
    pub id: String,
    pub account_id: String,
    pub merchant_pk: i64,
    pub channel: String,
    pub units: i64,
    pub amount_cents: i64,
    pub currency: String,
    pub payment_method_id: Option<String>,
    pub reference_id: Option<String>,
    pub note: Option<String>,
    /// PENDING, CONFIRMED or FAILED.
    pub status: String,
    pub fulfilled: bool,
    pub created_at: i64,
    pub settled_at: Option<i64>,
}

/// One alert.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AlertRow {
    pub id: i64,
    pub account_id: String,
    pub merchant_pk: Option<i64>,
    pub kind: String,
    pub severity: String,
    pub channel: Option<String>,
    pub message: String,
    pub created_at: i64,
}

/// One messaging (10DLC) record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MessagingRecord {
    pub id: String,
    pub account_id: String,
    pub merchant_pk: i64,
    /// BRAND, CAMPAIGN or NUMBER.
    pub kind: String,
    pub parent_id: Option<String>,
    pub data: String,
    pub status: String,
    pub status_reason: Option<String>,
    pub advance_at: Option<i64>,
    pub created_at: i64,
    pub updated_at: i64,
}

const PAYMENT: &str = "id, account_id, merchant_pk, channel, units, amount_cents, currency, \
    payment_method_id, reference_id, note, status, fulfilled, created_at, settled_at";

fn payment(r: &AnyRow) -> Result<PaymentRow, StoreError> {
    let go = || -> Result<PaymentRow, sqlx::Error> {
        Ok(PaymentRow {
            id: r.try_get("id")?,
            account_id: r.try_get("account_id")?,
            merchant_pk: r.try_get("merchant_pk")?,
            channel: r.try_get("channel")?,
            units: r.try_get("units")?,
            amount_cents: r.try_get("amount_cents")?,
            currency: r.try_get("currency")?,
            payment_method_id: r.try_get("payment_method_id")?,
            reference_id: r.try_get("reference_id")?,
            note: r.try_get("note")?,
            status: r.try_get("status")?,
            fulfilled: get_bool(r, "fulfilled")?,
            created_at: r.try_get("created_at")?,
            settled_at: r.try_get("settled_at")?,
        })
    };
    go().op("decode a payment")
}

const RECORD: &str = "id, account_id, merchant_pk, kind, parent_id, data, status, status_reason, \
    advance_at, created_at, updated_at";

fn record(r: &AnyRow) -> Result<MessagingRecord, StoreError> {
    let go = || -> Result<MessagingRecord, sqlx::Error> {
        Ok(MessagingRecord {
            id: r.try_get("id")?,
            account_id: r.try_get("account_id")?,
            merchant_pk: r.try_get("merchant_pk")?,
            kind: r.try_get("kind")?,
            parent_id: r.try_get("parent_id")?,
            data: r.try_get("data")?,
            status: r.try_get("status")?,
            status_reason: r.try_get("status_reason")?,
            advance_at: r.try_get("advance_at")?,
            created_at: r.try_get("created_at")?,
            updated_at: r.try_get("updated_at")?,
        })
    };
    go().op("decode a messaging record")
}

/// What settling a payment did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Settled {
    /// Confirmed now; the merchant's credits on the channel after.
    Confirmed {
        payment: PaymentRow,
        credits: i64,
    },
    /// It was settled before (its state).
    Already(PaymentRow),
    NotFound,
}

impl Store {
    /// Records a pending payment (an upgrade request).
    pub async fn create_payment(&self, p: &PaymentRow) -> Result<(), StoreError> {
        sqlx::query(&format!(
            "INSERT INTO payments ({PAYMENT}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, \
             $11, $12, $13, $14)"
        ))
        .bind(p.id.as_str())
        .bind(p.account_id.as_str())
        .bind(p.merchant_pk)
        .bind(p.channel.as_str())
        .bind(p.units)
        .bind(p.amount_cents)
        .bind(p.currency.as_str())
        .bind(p.payment_method_id.as_deref())
        .bind(p.reference_id.as_deref())
        .bind(p.note.as_deref())
        .bind(p.status.as_str())
        .bind(p.fulfilled)
        .bind(p.created_at)
        .bind(p.settled_at)
        .execute(self.pool())
        .await
        .op("store a payment")?;
        Ok(())
    }

    pub async fn payment(&self, id: &str) -> Result<Option<PaymentRow>, StoreError> {
        let row = sqlx::query(&format!("SELECT {PAYMENT} FROM payments WHERE id = $1"))
            .bind(id)
            .fetch_optional(self.pool())
            .await
            .op("read a payment")?;
        row.as_ref().map(payment).transpose()
    }

    /// Confirms a pending payment and adds its units to the merchant's credits,
    /// in one transaction (so credits change once, however often it is confirmed).
    pub async fn confirm_payment(&self, id: &str, now_ms: i64) -> Result<Settled, StoreError> {
        let mut tx = self.pool().begin().await.op("begin a payment")?;
        let row = sqlx::query(&format!(
            "UPDATE payments SET status = 'CONFIRMED', fulfilled = TRUE, settled_at = $1 \
             WHERE id = $2 AND status = 'PENDING' RETURNING {PAYMENT}"
        ))
        .bind(now_ms)
        .bind(id)
        .fetch_optional(&mut *tx)
        .await
        .op("confirm a payment")?;
        let Some(row) = row else {
            drop(tx);
            return Ok(match self.payment(id).await? {
                Some(p) => Settled::Already(p),
                None => Settled::NotFound,
            });
        };
        let p = payment(&row)?;
        let Some((_, credits)) = channel_columns(&p.channel) else {
            return Err(StoreError::BadValue {
                table: "payments",
                column: "channel",
                value: p.channel,
            });
        };
        let after = sqlx::query(&format!(
            "UPDATE merchants SET {credits} = {credits} + $1 WHERE pk = $2 RETURNING {credits}"
        ))
        .bind(p.units)
        .bind(p.merchant_pk)
        .fetch_one(&mut *tx)
        .await
        .op("add credits")?
        .try_get::<i64, _>(0)
        .op("decode credits")?;
        tx.commit().await.op("commit a payment")?;
        Ok(Settled::Confirmed {
            payment: p,
            credits: after,
        })
    }

    /// Raises an alert unless one with `dedup_key` exists; true when it is new.
    #[allow(clippy::too_many_arguments)]
    pub async fn raise_alert(
        &self,
        account_id: &str,
        merchant_pk: Option<i64>,
        kind: &str,
        severity: &str,
        channel: Option<&str>,
        message: &str,
        dedup_key: &str,
        now_ms: i64,
    ) -> Result<bool, StoreError> {
        let done = sqlx::query(
            "INSERT INTO merchant_alerts (account_id, merchant_pk, kind, severity, channel, \
             message, dedup_key, created_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8) \
             ON CONFLICT (dedup_key) DO NOTHING",
        )
        .bind(account_id)
        .bind(merchant_pk)
        .bind(kind)
        .bind(severity)
        .bind(channel)
        .bind(message)
        .bind(dedup_key)
        .bind(now_ms)
        .execute(self.pool())
        .await
        .op("raise an alert")?;
        Ok(done.rows_affected() == 1)
    }

    /// An account's alerts, newest first.
    pub async fn alerts(&self, account_id: &str, max: i64) -> Result<Vec<AlertRow>, StoreError> {
        let rows = sqlx::query(
            "SELECT id, account_id, merchant_pk, kind, severity, channel, message, created_at \
             FROM merchant_alerts WHERE account_id = $1 ORDER BY id DESC LIMIT $2",
        )
        .bind(account_id)
        .bind(max)
        .fetch_all(self.pool())
        .await
        .op("list alerts")?;
        rows.iter()
            .map(|r| {
                Ok(AlertRow {
                    id: r.try_get("id")?,
                    account_id: r.try_get("account_id")?,
                    merchant_pk: r.try_get("merchant_pk")?,
                    kind: r.try_get("kind")?,
                    severity: r.try_get("severity")?,
                    channel: r.try_get("channel")?,
                    message: r.try_get("message")?,
                    created_at: r.try_get("created_at")?,
                })
            })
            .collect::<Result<Vec<_>, sqlx::Error>>()
            .op("decode alerts")
    }

    /// Stores a messaging record (new, or replacing one of the same id).
    pub async fn put_messaging_record(&self, r: &MessagingRecord) -> Result<(), StoreError> {
        sqlx::query(&format!(
            "INSERT INTO messaging_records ({RECORD}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, \
             $9, $10, $11) ON CONFLICT (id) DO UPDATE SET parent_id = $5, data = $6, \
             status = $7, status_reason = $8, advance_at = $9, updated_at = $11"
        ))
        .bind(r.id.as_str())
        .bind(r.account_id.as_str())
        .bind(r.merchant_pk)
        .bind(r.kind.as_str())
        .bind(r.parent_id.as_deref())
        .bind(r.data.as_str())
        .bind(r.status.as_str())
        .bind(r.status_reason.as_deref())
        .bind(r.advance_at)
        .bind(r.created_at)
        .bind(r.updated_at)
        .execute(self.pool())
        .await
        .op("store a messaging record")?;
        Ok(())
    }

    /// A merchant's messaging records of `kind` (every kind with `None`), oldest first.
    pub async fn messaging_records(
        &self,
        merchant_pk: i64,
        kind: Option<&str>,
    ) -> Result<Vec<MessagingRecord>, StoreError> {
        let rows = sqlx::query(&format!(
            "SELECT {RECORD} FROM messaging_records WHERE merchant_pk = $1 \
             AND kind = COALESCE($2, kind) ORDER BY created_at, id"
        ))
        .bind(merchant_pk)
        .bind(kind)
        .fetch_all(self.pool())
        .await
        .op("list messaging records")?;
        rows.iter().map(record).collect()
    }

    /// Records whose status is due to advance by `now_ms`.
    pub async fn messaging_due(&self, now_ms: i64) -> Result<Vec<MessagingRecord>, StoreError> {
        let rows = sqlx::query(&format!(
            "SELECT {RECORD} FROM messaging_records WHERE advance_at IS NOT NULL \
             AND advance_at <= $1 ORDER BY advance_at LIMIT 500"
        ))
        .bind(now_ms)
        .fetch_all(self.pool())
        .await
        .op("list due messaging records")?;
        rows.iter().map(record).collect()
    }

    /// The merchant an account's messaging number is assigned to, if any.
    pub async fn merchant_of_number(
        &self,
        account_id: &str,
        number: &str,
    ) -> Result<Option<i64>, StoreError> {
        let row = sqlx::query(
            "SELECT merchant_pk FROM messaging_records WHERE account_id = $1 AND kind = 'NUMBER' \
             AND id = $2",
        )
        .bind(account_id)
        .bind(format!(
            "num_{}_{}",
            account_id,
            number.trim_start_matches('+')
        ))
        .fetch_optional(self.pool())
        .await
        .op("find a number's merchant")?;
        row.map(|r| r.try_get::<i64, _>(0))
            .transpose()
            .op("decode a number's merchant")
    }
}

impl Store {
    /// One messaging record by id.
    pub async fn messaging_record(&self, id: &str) -> Result<Option<MessagingRecord>, StoreError> {
        let row = sqlx::query(&format!(
            "SELECT {RECORD} FROM messaging_records WHERE id = $1"
        ))
        .bind(id)
        .fetch_optional(self.pool())
        .await
        .op("read a messaging record")?;
        row.as_ref().map(record).transpose()
    }
}
