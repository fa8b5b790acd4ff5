//! Repository for the `callflows` table: each account's callflows, the whole
//! flow kept as JSON in `definition` (nodes change shape more often than a
//! schema should). Read by the directory, which compiles them for routing;
//! written only by the dialplan import, compared by stored JSON text so a
//! re-import writes nothing.

use std::collections::HashMap;

use sqlx::any::AnyRow;
use sqlx::{AnyConnection, Row};

use super::report::{stale_keys, tally, ImportReport, Write};
use super::{QueryContext, Store, StoreError};
use crate::dialplan::{AccountDef, CallflowDef};

/// One row of `callflows`, decoded.
#[derive(Debug, Clone, PartialEq)]
pub struct Callflow {
    pub account_id: String,
    pub def: CallflowDef,
}

#[derive(Debug, PartialEq)]
struct Stored {
    name: String,
    definition: String,
}

impl Store {
    /// Every callflow of every account, ordered by account and number.
    pub async fn list_callflows(&self) -> Result<Vec<Callflow>, StoreError> {
        let rows =
            sqlx::query("SELECT account_id, definition FROM callflows ORDER BY account_id, number")
                .fetch_all(self.pool())
                .await
                .op("list callflows")?;
        rows.iter().map(decode).collect()
    }
}

fn decode(row: &AnyRow) -> Result<Callflow, StoreError> {
    let op = |source| StoreError::Query {
        op: "decode a callflow",
        source,
    };
    let definition: String = row.try_get("definition").map_err(op)?;
    Ok(Callflow {
        account_id: row.try_get("account_id").map_err(op)?,
        def: serde_json::from_str(&definition).map_err(|_| StoreError::BadValue {
            table: "callflows",
            column: "definition",
            value: definition.clone(),
        })?,
    })
}

/// Makes the stored callflows of `def`'s account match the plan.
pub(super) async fn sync(
    conn: &mut AnyConnection,
    def: &AccountDef,
    report: &mut ImportReport,
) -> Result<(), StoreError> {
    let rows = sqlx::query("SELECT number, name, definition FROM callflows WHERE account_id = $1")
        .bind(def.id.as_str())
        .fetch_all(&mut *conn)
        .await
        .op("read callflows")?;
    let mut before = HashMap::new();
    for row in &rows {
        let number: String = row.try_get("number").op("decode a callflow")?;
        let stored = Stored {
            name: row.try_get("name").op("decode a callflow")?,
            definition: row.try_get("definition").op("decode a callflow")?,
        };
        before.insert(number, stored);
    }
    for number in stale_keys(&before, def.callflows.iter().map(|f| f.number.as_str())) {
        sqlx::query("DELETE FROM callflows WHERE account_id = $1 AND number = $2")
            .bind(def.id.as_str())
            .bind(number.as_str())
            .execute(&mut *conn)
            .await
            .op("delete a callflow")?;
        report.callflows.deleted += 1;
    }
    for flow in &def.callflows {
        let definition = serde_json::to_string(flow).map_err(|_| StoreError::BadValue {
            table: "callflows",
            column: "definition",
            value: flow.number.clone(),
        })?;
        let wanted = Stored {
            name: flow.name.clone(),
            definition,
        };
        let sql = match tally(&mut report.callflows, before.get(&flow.number), &wanted) {
            Write::Nothing => continue,
            Write::Insert => {
                "INSERT INTO callflows (name, definition, account_id, number) VALUES ($1, $2, $3, $4)"
            }
            Write::Update => {
                "UPDATE callflows SET name = $1, definition = $2 WHERE account_id = $3 AND number = $4"
            }
        };
        sqlx::query(sql)
            .bind(wanted.name)
            .bind(wanted.definition)
            .bind(def.id.as_str())
            .bind(flow.number.as_str())
            .execute(&mut *conn)
            .await
            .op("write a callflow")?;
    }
    Ok(())
}
