//! Repository for the `accounts` table: the tenants of the switch, each owning a SIP domain.
//!
//! Read-only lookups used by the registrar and routing; accounts are written only by the
//! dialplan import (`import.rs`). Must not decide which account a request belongs to
//! beyond the plain lookups below.

use sqlx::any::AnyRow;
use sqlx::Row;

use super::{get_bool, QueryContext, Store, StoreError};

/// One row of `accounts`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Account {
    pub id: String,
    pub name: String,
    pub sip_domain: String,
    /// Owns requests addressed to the switch's own IPs rather than to a domain.
    pub is_default: bool,
}

const COLUMNS: &str = "id, name, sip_domain, is_default";

impl Account {
    pub(crate) fn from_row(row: &AnyRow) -> Result<Account, sqlx::Error> {
        Ok(Account {
            id: row.try_get("id")?,
            name: row.try_get("name")?,
            sip_domain: row.try_get("sip_domain")?,
            is_default: get_bool(row, "is_default")?,
        })
    }
}

impl Store {
    /// The account whose `sip_domain` equals `domain` (compared as stored, lower case).
    pub async fn account_by_domain(&self, domain: &str) -> Result<Option<Account>, StoreError> {
        let sql = format!("SELECT {COLUMNS} FROM accounts WHERE sip_domain = $1");
        let row = sqlx::query(&sql)
            .bind(domain.to_ascii_lowercase())
            .fetch_optional(self.pool())
            .await
            .op("look up an account by domain")?;
        row.as_ref()
            .map(Account::from_row)
            .transpose()
            .op("decode an account")
    }

    /// The account marked default, if any.
    pub async fn default_account(&self) -> Result<Option<Account>, StoreError> {
        let sql = format!("SELECT {COLUMNS} FROM accounts WHERE is_default = $1");
        let row = sqlx::query(&sql)
            .bind(true)
            .fetch_optional(self.pool())
            .await
            .op("look up the default account")?;
        row.as_ref()
            .map(Account::from_row)
            .transpose()
            .op("decode an account")
    }

    pub async fn account(&self, id: &str) -> Result<Option<Account>, StoreError> {
        let sql = format!("SELECT {COLUMNS} FROM accounts WHERE id = $1");
        let row = sqlx::query(&sql)
            .bind(id)
            .fetch_optional(self.pool())
            .await
            .op("look up an account")?;
        row.as_ref()
            .map(Account::from_row)
            .transpose()
            .op("decode an account")
    }

    /// All accounts, ordered by id.
    pub async fn list_accounts(&self) -> Result<Vec<Account>, StoreError> {
        let sql = format!("SELECT {COLUMNS} FROM accounts ORDER BY id");
        let rows = sqlx::query(&sql)
            .fetch_all(self.pool())
            .await
            .op("list accounts")?;
        rows.iter()
            .map(Account::from_row)
            .collect::<Result<_, _>>()
            .op("decode an account")
    }
}
