//! Repository for the `phone_numbers` table: E.164 numbers (DIDs) routed to an extension.
//!
//! Read-only lookup for inbound routing; rows are written only by the dialplan import.
//! Must not normalise dialled strings into E.164: callers pass the canonical `+…` form.

use sqlx::any::AnyRow;
use sqlx::Row;

use super::{QueryContext, Store, StoreError};

/// One row of `phone_numbers`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PhoneNumber {
    /// E.164, e.g. `+15551234567`.
    pub number: String,
    pub account_id: String,
    pub extension: String,
    pub friendly_name: Option<String>,
    pub sms_enabled: bool,
    pub mms_enabled: bool,
}

pub(crate) const COLUMNS: &str =
    "number, account_id, extension, friendly_name, sms_enabled, mms_enabled";

impl PhoneNumber {
    pub(crate) fn from_row(row: &AnyRow) -> Result<PhoneNumber, sqlx::Error> {
        Ok(PhoneNumber {
            number: row.try_get("number")?,
            account_id: row.try_get("account_id")?,
            extension: row.try_get("extension")?,
            friendly_name: row.try_get("friendly_name")?,
            sms_enabled: super::get_bool(row, "sms_enabled")?,
            mms_enabled: super::get_bool(row, "mms_enabled")?,
        })
    }
}

impl Store {
    /// The routing of the E.164 number `e164` (`+` and digits).
    pub async fn phone_number(&self, e164: &str) -> Result<Option<PhoneNumber>, StoreError> {
        let sql = format!("SELECT {COLUMNS} FROM phone_numbers WHERE number = $1");
        let row = sqlx::query(&sql)
            .bind(e164)
            .fetch_optional(self.pool())
            .await
            .op("look up a phone number")?;
        row.as_ref()
            .map(PhoneNumber::from_row)
            .transpose()
            .op("decode a phone number")
    }

    /// Every routed number, in number order.
    pub async fn list_phone_numbers(&self) -> Result<Vec<PhoneNumber>, StoreError> {
        let sql = format!("SELECT {COLUMNS} FROM phone_numbers ORDER BY number");
        let rows = sqlx::query(&sql)
            .fetch_all(self.pool())
            .await
            .op("list phone numbers")?;
        rows.iter()
            .map(PhoneNumber::from_row)
            .collect::<Result<Vec<_>, _>>()
            .op("decode a phone number")
    }
}
