//! Repository for the `trunks` table: carrier connections an account sends external calls
//! through and accepts inbound calls from.
//!
//! Read-only lookups; rows are written only by the dialplan import. Must not resolve host
//! names or open connections: `trunk_by_source` compares the stored host string only.

use sqlx::any::AnyRow;
use sqlx::Row;

use super::{narrow, QueryContext, Store, StoreError};

pub use crate::dialplan::TrunkTransport;

/// One row of `trunks`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Trunk {
    pub id: String,
    pub account_id: String,
    /// IP address or host name, as written in the dialplan.
    pub host: String,
    pub port: u16,
    pub transport: TrunkTransport,
    pub username: Option<String>,
    pub password: Option<String>,
    /// Caller id presented on calls sent through this trunk.
    pub caller_id: Option<String>,
}

pub(crate) const COLUMNS: &str =
    "id, account_id, host, port, transport, username, password, caller_id";

impl Trunk {
    pub(crate) fn from_row(row: &AnyRow) -> Result<Trunk, StoreError> {
        let field = |name: &'static str| -> Result<String, StoreError> {
            row.try_get(name).op("decode a trunk")
        };
        let opt = |name: &'static str| -> Result<Option<String>, StoreError> {
            row.try_get(name).op("decode a trunk")
        };
        let port: i64 = row.try_get("port").op("decode a trunk")?;
        let transport = field("transport")?;
        Ok(Trunk {
            id: field("id")?,
            account_id: field("account_id")?,
            host: field("host")?,
            port: narrow(port, "trunks", "port")?,
            transport: transport.parse().map_err(|_| StoreError::BadValue {
                table: "trunks",
                column: "transport",
                value: transport,
            })?,
            username: opt("username")?,
            password: opt("password")?,
            caller_id: opt("caller_id")?,
        })
    }
}

impl Store {
    /// The account's first trunk (lowest id), used for outbound calls.
    pub async fn trunk_for_account(&self, account_id: &str) -> Result<Option<Trunk>, StoreError> {
        let sql = format!("SELECT {COLUMNS} FROM trunks WHERE account_id = $1 ORDER BY id LIMIT 1");
        let row = sqlx::query(&sql)
            .bind(account_id)
            .fetch_optional(self.pool())
            .await
            .op("look up an account's trunk")?;
        row.as_ref().map(Trunk::from_row).transpose()
    }

    /// The trunk a request from `ip:port` came from: the stored host must equal `ip` as a
    /// string; a trunk whose port also matches wins over one that only matches the host
    /// (carriers often send from a port other than the one they listen on).
    pub async fn trunk_by_source(&self, ip: &str, port: u16) -> Result<Option<Trunk>, StoreError> {
        let sql = format!(
            "SELECT {COLUMNS} FROM trunks WHERE host = $1 \
             ORDER BY CASE WHEN port = $2 THEN 0 ELSE 1 END, id LIMIT 1"
        );
        let row = sqlx::query(&sql)
            .bind(ip)
            .bind(i32::from(port))
            .fetch_optional(self.pool())
            .await
            .op("look up a trunk by source address")?;
        row.as_ref().map(Trunk::from_row).transpose()
    }

    /// All trunks, ordered by id.
    pub async fn list_trunks(&self) -> Result<Vec<Trunk>, StoreError> {
        let sql = format!("SELECT {COLUMNS} FROM trunks ORDER BY id");
        let rows = sqlx::query(&sql)
            .fetch_all(self.pool())
            .await
            .op("list trunks")?;
        rows.iter().map(Trunk::from_row).collect()
    }
}
