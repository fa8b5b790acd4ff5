//! Repository for the `extensions` table: the dial-able users of an account and the
//! digest credentials they register with.
//!
//! Read-only lookups; rows are written only by the dialplan import (`import.rs`). Must not
//! check passwords or compute digests: that is the SIP auth core's job.

use sqlx::any::AnyRow;
use sqlx::Row;

use super::{get_bool, QueryContext, Store, StoreError};

/// One row of `extensions`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Extension {
    pub account_id: String,
    pub number: String,
    pub password: String,
    pub display_name: String,
    pub caller_id: Option<String>,
    pub forward_number: Option<String>,
    pub voicemail: bool,
    pub voicemail_pin: Option<String>,
    /// Record every call placed from or answered by this extension.
    pub record: bool,
    pub first_name: Option<String>,
    pub last_name: Option<String>,
    pub email: Option<String>,
    pub time_zone: Option<String>,
}

pub(crate) const COLUMNS: &str = "account_id, number, password, display_name, caller_id, \
     forward_number, voicemail, voicemail_pin, record, first_name, last_name, email, time_zone";

impl Extension {
    /// The first and last name the voice API shows: as given, else the
    /// display name split at its first space.
    pub fn names(&self) -> (String, String) {
        let (first, last) = self
            .display_name
            .split_once(' ')
            .unwrap_or((self.display_name.as_str(), ""));
        (
            self.first_name.clone().unwrap_or_else(|| first.to_string()),
            self.last_name.clone().unwrap_or_else(|| last.to_string()),
        )
    }

    pub(crate) fn from_row(row: &AnyRow) -> Result<Extension, sqlx::Error> {
        Ok(Extension {
            account_id: row.try_get("account_id")?,
            number: row.try_get("number")?,
            password: row.try_get("password")?,
            display_name: row.try_get("display_name")?,
            caller_id: row.try_get("caller_id")?,
            forward_number: row.try_get("forward_number")?,
            voicemail: get_bool(row, "voicemail")?,
            voicemail_pin: row.try_get("voicemail_pin")?,
            record: get_bool(row, "record")?,
            first_name: row.try_get("first_name")?,
            last_name: row.try_get("last_name")?,
            email: row.try_get("email")?,
            time_zone: row.try_get("time_zone")?,
        })
    }
}

impl Store {
    pub async fn extension(
        &self,
        account_id: &str,
        number: &str,
    ) -> Result<Option<Extension>, StoreError> {
        let sql = format!("SELECT {COLUMNS} FROM extensions WHERE account_id = $1 AND number = $2");
        let row = sqlx::query(&sql)
            .bind(account_id)
            .bind(number)
            .fetch_optional(self.pool())
            .await
            .op("look up an extension")?;
        row.as_ref()
            .map(Extension::from_row)
            .transpose()
            .op("decode an extension")
    }

    /// The account's extensions, ordered by number.
    pub async fn list_extensions(&self, account_id: &str) -> Result<Vec<Extension>, StoreError> {
        let sql = format!("SELECT {COLUMNS} FROM extensions WHERE account_id = $1 ORDER BY number");
        let rows = sqlx::query(&sql)
            .bind(account_id)
            .fetch_all(self.pool())
            .await
            .op("list extensions")?;
        rows.iter()
            .map(Extension::from_row)
            .collect::<Result<_, _>>()
            .op("decode an extension")
    }
}
