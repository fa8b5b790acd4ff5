//! The `callflows` table: each account's callflows, the whole flow kept as
//! JSON (nodes change shape more often than a schema should). Read by the
//! directory, which compiles them for routing; written only by the import.

use sqlx::AnyConnection;

use super::json_rows::{self, CALLFLOWS};
use super::report::ImportReport;
use super::{Store, StoreError};
use crate::dialplan::{AccountDef, CallflowDef};

/// One row of `callflows`, decoded.
#[derive(Debug, Clone, PartialEq)]
pub struct Callflow {
    pub account_id: String,
    pub def: CallflowDef,
}

impl Store {
    /// Every callflow of every account, ordered by account and number.
    pub async fn list_callflows(&self) -> Result<Vec<Callflow>, StoreError> {
        let rows = json_rows::list(self.pool(), &CALLFLOWS).await?;
        Ok(rows
            .into_iter()
            .map(|(account_id, def)| Callflow { account_id, def })
            .collect())
    }
}

/// Makes the stored callflows of `def`'s account match the plan.
pub(super) async fn sync(
    conn: &mut AnyConnection,
    def: &AccountDef,
    report: &mut ImportReport,
) -> Result<(), StoreError> {
    let items = def
        .callflows
        .iter()
        .map(|f| (f.number.as_str(), f.name.as_str(), f));
    json_rows::sync(conn, &CALLFLOWS, &def.id, items, &mut report.callflows).await
}
