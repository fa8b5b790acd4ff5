//! Tables that keep a whole definition as JSON (`callflows`, `queues`): rows
//! of `(account_id, <key>, name, definition)`. Listing decodes every row;
//! the import's sync compares stored JSON text, so a re-import writes nothing.

use std::collections::HashMap;

use serde::de::DeserializeOwned;
use serde::Serialize;
use sqlx::{AnyConnection, AnyPool, Row};

use super::report::{stale_keys, tally, ImportCounts, Write};
use super::{QueryContext, StoreError};

/// One such table: its name, its key column, and the words its errors use.
pub(super) struct JsonTable {
    pub table: &'static str,
    pub key: &'static str,
    pub list: &'static str,
    pub read: &'static str,
    pub decode: &'static str,
    pub delete: &'static str,
    pub write: &'static str,
}

pub(super) const CALLFLOWS: JsonTable = JsonTable {
    table: "callflows",
    key: "number",
    list: "list callflows",
    read: "read callflows",
    decode: "decode a callflow",
    delete: "delete a callflow",
    write: "write a callflow",
};

pub(super) const QUEUES: JsonTable = JsonTable {
    table: "queues",
    key: "id",
    list: "list queues",
    read: "read queues",
    decode: "decode a queue",
    delete: "delete a queue",
    write: "write a queue",
};

#[derive(Debug, PartialEq)]
struct Stored {
    name: String,
    definition: String,
}

/// Every row of every account, ordered by account and key: (account, definition).
pub(super) async fn list<T: DeserializeOwned>(
    pool: &AnyPool,
    t: &JsonTable,
) -> Result<Vec<(String, T)>, StoreError> {
    let sql = format!(
        "SELECT account_id, definition FROM {} ORDER BY account_id, {}",
        t.table, t.key
    );
    let rows = sqlx::query(&sql).fetch_all(pool).await.op(t.list)?;
    rows.iter()
        .map(|row| {
            let account: String = row.try_get("account_id").op(t.decode)?;
            let definition: String = row.try_get("definition").op(t.decode)?;
            let def = serde_json::from_str(&definition).map_err(|_| StoreError::BadValue {
                table: t.table,
                column: "definition",
                value: definition.clone(),
            })?;
            Ok((account, def))
        })
        .collect()
}

/// Makes the account's stored rows those of `items` (key, name, definition).
pub(super) async fn sync<'a, T: Serialize + 'a>(
    conn: &mut AnyConnection,
    t: &JsonTable,
    account: &str,
    items: impl Iterator<Item = (&'a str, &'a str, &'a T)> + Clone,
    counts: &mut ImportCounts,
) -> Result<(), StoreError> {
    let sql = format!(
        "SELECT {} AS k, name, definition FROM {} WHERE account_id = $1",
        t.key, t.table
    );
    let rows = sqlx::query(&sql)
        .bind(account)
        .fetch_all(&mut *conn)
        .await
        .op(t.read)?;
    let mut before = HashMap::new();
    for row in &rows {
        let key: String = row.try_get("k").op(t.decode)?;
        let stored = Stored {
            name: row.try_get("name").op(t.decode)?,
            definition: row.try_get("definition").op(t.decode)?,
        };
        before.insert(key, stored);
    }
    let delete = format!(
        "DELETE FROM {} WHERE account_id = $1 AND {} = $2",
        t.table, t.key
    );
    for key in stale_keys(&before, items.clone().map(|(k, _, _)| k)) {
        sqlx::query(&delete)
            .bind(account)
            .bind(key.as_str())
            .execute(&mut *conn)
            .await
            .op(t.delete)?;
        counts.deleted += 1;
    }
    let insert = format!(
        "INSERT INTO {} (name, definition, account_id, {}) VALUES ($1, $2, $3, $4)",
        t.table, t.key
    );
    let update = format!(
        "UPDATE {} SET name = $1, definition = $2 WHERE account_id = $3 AND {} = $4",
        t.table, t.key
    );
    for (key, name, item) in items {
        let definition = serde_json::to_string(item).map_err(|_| StoreError::BadValue {
            table: t.table,
            column: "definition",
            value: key.to_string(),
        })?;
        let wanted = Stored {
            name: name.to_string(),
            definition,
        };
        let sql = match tally(counts, before.get(key), &wanted) {
            Write::Nothing => continue,
            Write::Insert => &insert,
            Write::Update => &update,
        };
        sqlx::query(sql)
            .bind(wanted.name)
            .bind(wanted.definition)
            .bind(account)
            .bind(key)
            .execute(&mut *conn)
            .await
            .op(t.write)?;
    }
    Ok(())
}
