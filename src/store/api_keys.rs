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
    /// A user key's extension (its user).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub extension: Option<String>,
    /// What the key may do: a subset of [`SCOPES`]; every scope when made without a list.
    pub scopes: Vec<String>,
    /// When the key last authenticated a request (to within a minute).
    pub last_used_at: Option<i64>,
    /// The key's first characters (its type prefix and four more), to tell keys apart.
    pub prefix: String,
}

/// How long a running switch may keep answering with a key it looked up
/// (its cache of live keys); revoking waits this long, so a revocation is in
/// force on every node by the time it returns.
pub const KEY_TRUST: std::time::Duration = std::time::Duration::from_millis(1000);

/// Every scope a key may hold (the voice API checks them per route).
pub const SCOPES: &[&str] = &[
    "availability:read",
    "queues:read",
    "calls:read",
    "calls:write",
    "sms:send",
    "numbers:read",
    "profile:read",
];

/// What to make: `create_api_key_with`.
#[derive(Debug, Clone)]
pub struct NewApiKey<'a> {
    pub account_id: &'a str,
    pub kind: ApiKeyKind,
    pub label: Option<&'a str>,
    pub extension: Option<&'a str>,
    /// `None`: every scope.
    pub scopes: Option<Vec<String>>,
}

/// Why a key was not made (`create_checked_api_key`).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum KeyRefusal {
    #[error("no account {0:?} (import a dialplan that has it first)")]
    UnknownAccount(String),
    #[error("a user key needs --extension: the extension it acts for")]
    ExtensionNeeded,
    #[error("only a user key names an extension")]
    ExtensionNotAllowed,
    #[error("{0:?} is not an extension of the account")]
    UnknownExtension(String),
    #[error("unknown scope {0:?} (known: {known})", known = SCOPES.join(", "))]
    UnknownScope(String),
    #[error("a label is at most 200 characters")]
    LongLabel,
}

impl ApiKey {
    /// The key holds `scope`.
    pub fn has_scope(&self, scope: &str) -> bool {
        self.scopes.iter().any(|s| s == scope)
    }
}

fn hash(secret: &str) -> String {
    hex::encode(Sha256::digest(secret.as_bytes()))
}

/// What `key_hash` holds for a key: its shown prefix and its SHA-256 (keys
/// made before prefixes were kept hold the bare hash; `api_key_by_secret`
/// finds both).
fn stored_hash(secret: &str) -> String {
    let n = ["sy_dev_", "sy_usr_", "sy_mer_"]
        .iter()
        .find(|p| secret.starts_with(*p))
        .map(|p| p.len() + 4)
        .unwrap_or(0);
    match secret.get(..n) {
        Some(prefix) if n > 0 => format!("{prefix}:{}", hash(secret)),
        _ => hash(secret),
    }
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
        let new = NewApiKey {
            account_id,
            kind,
            label,
            extension: None,
            scopes: None,
        };
        self.create_api_key_with(&new, now_ms).await
    }

    /// Makes a key as `new` says once its account, extension (a user key's,
    /// which it must have) and scopes check out.
    pub async fn create_checked_api_key(
        &self,
        new: &NewApiKey<'_>,
        now_ms: i64,
    ) -> Result<Result<(ApiKey, String), KeyRefusal>, StoreError> {
        if new.label.is_some_and(|l| l.chars().count() > 200) {
            return Ok(Err(KeyRefusal::LongLabel));
        }
        if self.account(new.account_id).await?.is_none() {
            return Ok(Err(KeyRefusal::UnknownAccount(new.account_id.to_string())));
        }
        match (new.kind, new.extension) {
            (ApiKeyKind::User, None) => return Ok(Err(KeyRefusal::ExtensionNeeded)),
            (ApiKeyKind::User, Some(ext)) => {
                if self.extension(new.account_id, ext).await?.is_none() {
                    return Ok(Err(KeyRefusal::UnknownExtension(ext.to_string())));
                }
            }
            (_, Some(_)) => return Ok(Err(KeyRefusal::ExtensionNotAllowed)),
            (_, None) => {}
        }
        for s in new.scopes.iter().flatten() {
            if !SCOPES.contains(&s.as_str()) {
                return Ok(Err(KeyRefusal::UnknownScope(s.clone())));
            }
        }
        self.create_api_key_with(new, now_ms).await.map(Ok)
    }

    /// Makes a key as `new` says (the caller checked the extension and scopes).
    pub async fn create_api_key_with(
        &self,
        new: &NewApiKey<'_>,
        now_ms: i64,
    ) -> Result<(ApiKey, String), StoreError> {
        let (account_id, kind, label) = (new.account_id, new.kind, new.label);
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
            extension: new.extension.map(str::to_string),
            scopes: new
                .scopes
                .clone()
                .unwrap_or_else(|| SCOPES.iter().map(|s| s.to_string()).collect()),
            last_used_at: None,
            prefix: secret.chars().take(kind.prefix().len() + 4).collect(),
        };
        sqlx::query(
            "INSERT INTO api_keys (id, account_id, kind, label, key_hash, created_at, \
             extension, scopes) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
        )
        .bind(key.id.as_str())
        .bind(account_id)
        .bind(kind.as_str())
        .bind(key.label.as_deref())
        .bind(format!("{}:{}", key.prefix, hash(&secret)))
        .bind(now_ms)
        .bind(key.extension.as_deref())
        .bind(new.scopes.as_ref().map(|v| v.join(",")))
        .execute(self.pool())
        .await
        .op("store an API key")?;
        Ok((key, secret))
    }

    /// The live (not revoked) key a request presented, if it is one.
    pub async fn api_key_by_secret(&self, secret: &str) -> Result<Option<ApiKey>, StoreError> {
        let row = sqlx::query(
            "SELECT id, account_id, kind, label, created_at, revoked_at, extension, scopes, \
             last_used_at, key_hash FROM api_keys WHERE key_hash IN ($1, $2) \
             AND revoked_at IS NULL",
        )
        .bind(stored_hash(secret))
        .bind(hash(secret))
        .fetch_optional(self.pool())
        .await
        .op("look up an API key")?;
        row.map(|r| decode(&r)).transpose()
    }

    /// Pairs merchant key `id` with a new secret (X-API-SECRET); the secret,
    /// to be shown once (only its hash is kept).
    pub async fn attach_key_secret(&self, id: &str) -> Result<String, StoreError> {
        let mut rng = rand::rngs::OsRng;
        let body: String = (0..48)
            .map(|_| BASE62[rng.gen_range(0..BASE62.len())] as char)
            .collect();
        let secret = format!("sy_sec_{body}");
        sqlx::query("UPDATE api_keys SET secret_hash = $1 WHERE id = $2")
            .bind(hash(&secret))
            .bind(id)
            .execute(self.pool())
            .await
            .op("store a key's secret")?;
        Ok(secret)
    }

    /// The live merchant key a request presented with its secret, if the pair matches.
    pub async fn merchant_key(
        &self,
        key: &str,
        secret: &str,
    ) -> Result<Option<ApiKey>, StoreError> {
        let row = sqlx::query(
            "SELECT id, account_id, kind, label, created_at, revoked_at, extension, scopes, \
             last_used_at, key_hash, secret_hash FROM api_keys WHERE key_hash = $1 \
             AND revoked_at IS NULL AND kind = 'merchant'",
        )
        .bind(stored_hash(key))
        .fetch_optional(self.pool())
        .await
        .op("look up a merchant key")?;
        let Some(row) = row else { return Ok(None) };
        let stored: Option<String> = row.try_get("secret_hash").op("decode an API key")?;
        let given = hash(secret);
        let matches = stored.is_some_and(|s| {
            bool::from(subtle::ConstantTimeEq::ct_eq(
                s.as_bytes(),
                given.as_bytes(),
            ))
        });
        if !matches {
            return Ok(None);
        }
        decode(&row).map(Some)
    }

    /// An account's keys, newest first.
    pub async fn list_api_keys(&self, account_id: &str) -> Result<Vec<ApiKey>, StoreError> {
        let rows = sqlx::query(
            "SELECT id, account_id, kind, label, created_at, revoked_at, extension, scopes, \
             last_used_at, key_hash FROM api_keys WHERE account_id = $1 \
             ORDER BY created_at DESC, id",
        )
        .bind(account_id)
        .fetch_all(self.pool())
        .await
        .op("list API keys")?;
        rows.iter().map(decode).collect()
    }

    /// Notes that key `id` authenticated a request at `now_ms`.
    pub async fn touch_api_key(&self, id: &str, now_ms: i64) -> Result<(), StoreError> {
        sqlx::query("UPDATE api_keys SET last_used_at = $1 WHERE id = $2")
            .bind(now_ms)
            .bind(id)
            .execute(self.pool())
            .await
            .op("note an API key's use")?;
        Ok(())
    }

    /// Revokes a key of `account_id` by id; false when it has no such live key.
    pub async fn revoke_account_api_key(
        &self,
        account_id: &str,
        id: &str,
        now_ms: i64,
    ) -> Result<bool, StoreError> {
        let done = sqlx::query(
            "UPDATE api_keys SET revoked_at = $1 WHERE id = $2 AND account_id = $3 \
             AND revoked_at IS NULL",
        )
        .bind(now_ms)
        .bind(id)
        .bind(account_id)
        .execute(self.pool())
        .await
        .op("revoke an API key")?;
        Ok(done.rows_affected() == 1)
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
        extension: r.try_get("extension").op("decode an API key")?,
        scopes: match r
            .try_get::<Option<String>, _>("scopes")
            .op("decode an API key")?
        {
            Some(list) => list
                .split(',')
                .filter(|s| !s.is_empty())
                .map(str::to_string)
                .collect(),
            None => SCOPES.iter().map(|s| s.to_string()).collect(),
        },
        last_used_at: r.try_get("last_used_at").op("decode an API key")?,
        prefix: r
            .try_get::<String, _>("key_hash")
            .op("decode an API key")?
            .split_once(':')
            .map(|(p, _)| p.to_string())
            .unwrap_or_default(),
    })
}
