//! The `api_keys` table: account API keys for the HTTP APIs. A key is random
//! (`sy_<kind>_` + 40 base62 characters, about 238 bits), shown once when it is
//! made; only its SHA-256 is stored, so a leaked database leaks no key. A key
//! belongs to one account and has a kind (developer, user, merchant) that the
//! APIs check; a revoked key stops working at once.

use rand::Rng;
use sha2::{Digest, Sha256};
use sqlx::Row;

use super::{QueryContext, Store, StoreError};

/// What a key may be used for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum ApiKeyKind {
    Developer,
    User,
    Merchant,
}

impl ApiKeyKind {
    pub fn as_str(self) -> &'static str {
        match self {
            ApiKeyKind::Developer => "developer",
            ApiKeyKind::User => "user",
            ApiKeyKind::Merchant => "merchant",
        }
    }

    fn prefix(self) -> &'static str {
        match self {
            ApiKeyKind::Developer => "sy_dev_",
            ApiKeyKind::User => "sy_usr_",
            ApiKeyKind::Merchant => "sy_mer_",
        }
    }

    fn parse(s: &str) -> Option<ApiKeyKind> {
        match s {
            "developer" => Some(ApiKeyKind::Developer),
            "user" => Some(ApiKeyKind::User),
            "merchant" => Some(ApiKeyKind::Merchant),
            _ => None,
        }
    }
}

/// A stored key (never the key itself).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct ApiKey {
    pub id: String,
    pub account_id: String,
    #[serde(rename = "type")]
    pub kind: ApiKeyKind,
    pub label: Option<String>,
    pub created_at: i64,
    pub revoked: bool,
}

fn hash(secret: &str) -> String {
    hex::encode(Sha256::digest(secret.as_bytes()))
}

const BASE62: &[u8] = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";

impl Store {
    /// Makes a key for `account_id` (which must exist): the stored record and
    /// the key, to be shown once.
    pub async fn create_api_key(
        &self,
        account_id: &str,
        kind: ApiKeyKind,
        label: Option<&str>,
        now_ms: i64,
    ) -> Result<(ApiKey, String), StoreError> {
        let mut rng = rand::rngs::OsRng;
        let body: String = (0..40)
            .map(|_| BASE62[rng.gen_range(0..BASE62.len())] as char)
            .collect();
        let secret = format!("{}{body}", kind.prefix());
        let key = ApiKey {
            id: uuid::Uuid::new_v4().to_string(),
            account_id: account_id.to_string(),
            kind,
            label: label.map(str::to_string),
            created_at: now_ms,
            revoked: false,
        };
        sqlx::query(
            "INSERT INTO api_keys (id, account_id, kind, label, key_hash, created_at) \
             VALUES ($1, $2, $3, $4, $5, $6)",
        )
        .bind(key.id.as_str())
        .bind(account_id)
        .bind(kind.as_str())
        .bind(key.label.as_deref())
        .bind(hash(&secret))
        .bind(now_ms)
        .execute(self.pool())
        .await
        .op("store an API key")?;
        Ok((key, secret))
    }

    /// The live (not revoked) key a request presented, if it is one.
    pub async fn api_key_by_secret(&self, secret: &str) -> Result<Option<ApiKey>, StoreError> {
        let row = sqlx::query(
            "SELECT id, account_id, kind, label, created_at, revoked_at FROM api_keys \
             WHERE key_hash = $1 AND revoked_at IS NULL",
        )
        .bind(hash(secret))
        .fetch_optional(self.pool())
        .await
        .op("look up an API key")?;
        row.map(|r| decode(&r)).transpose()
    }

    /// An account's keys, newest first.
    pub async fn list_api_keys(&self, account_id: &str) -> Result<Vec<ApiKey>, StoreError> {
        let rows = sqlx::query(
            "SELECT id, account_id, kind, label, created_at, revoked_at FROM api_keys \
             WHERE account_id = $1 ORDER BY created_at DESC, id",
        )
        .bind(account_id)
        .fetch_all(self.pool())
        .await
        .op("list API keys")?;
        rows.iter().map(decode).collect()
    }

    /// Revokes a key by id; false when there is no such live key.
    pub async fn revoke_api_key(&self, id: &str, now_ms: i64) -> Result<bool, StoreError> {
        let done =
            sqlx::query("UPDATE api_keys SET revoked_at = $1 WHERE id = $2 AND revoked_at IS NULL")
                .bind(now_ms)
                .bind(id)
                .execute(self.pool())
                .await
                .op("revoke an API key")?;
        Ok(done.rows_affected() == 1)
    }
}

fn decode(r: &sqlx::any::AnyRow) -> Result<ApiKey, StoreError> {
    let kind: String = r.try_get("kind").op("decode an API key")?;
    Ok(ApiKey {
        id: r.try_get("id").op("decode an API key")?,
        account_id: r.try_get("account_id").op("decode an API key")?,
        kind: ApiKeyKind::parse(&kind).ok_or_else(|| StoreError::BadValue {
            table: "api_keys",
            column: "kind",
            value: kind.clone(),
        })?,
        label: r.try_get("label").op("decode an API key")?,
        created_at: r.try_get("created_at").op("decode an API key")?,
        revoked: r
            .try_get::<Option<i64>, _>("revoked_at")
            .op("decode an API key")?
            .is_some(),
    })
}
