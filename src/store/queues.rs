//! The `queues` table: each account's ACD queues, the whole definition kept
//! as JSON (like callflows). Read by the directory, which compiles them for
//! the queue engine; written only by the import.

use sqlx::AnyConnection;

use super::json_rows::{self, QUEUES};
use super::report::ImportReport;
use super::{Store, StoreError};
use crate::dialplan::{AccountDef, QueueDef};

/// One row of `queues`, decoded.
#[derive(Debug, Clone, PartialEq)]
pub struct Queue {
    pub account_id: String,
    pub def: QueueDef,
}

impl Store {
    /// Every queue of every account, ordered by account and id.
    pub async fn list_queues(&self) -> Result<Vec<Queue>, StoreError> {
        let rows = json_rows::list(self.pool(), &QUEUES).await?;
        Ok(rows
            .into_iter()
            .map(|(account_id, def)| Queue { account_id, def })
            .collect())
    }
}

/// Makes the stored queues of `def`'s account match the plan.
pub(super) async fn sync(
    conn: &mut AnyConnection,
    def: &AccountDef,
    report: &mut ImportReport,
) -> Result<(), StoreError> {
    let items = def
        .queues
        .iter()
        .map(|q| (q.id.as_str(), q.name.as_str(), q));
    json_rows::sync(conn, &QUEUES, &def.id, items, &mut report.queues).await
}
