//! Repository for the `apps` table: numbers the switch answers itself and the media steps
//! it runs on them, kept as a JSON array in the `steps` column.
//!
//! Read-only lookups plus the per-account sync the dialplan import calls. Rows are
//! compared by their stored JSON text, so re-importing the same plan writes nothing even
//! where a float would not survive a decode exactly. Must not run steps or check their
//! limits: the dialplan validator has done that before anything reaches this file.

use std::collections::HashMap;

use sqlx::any::AnyRow;
use sqlx::{AnyConnection, Row};

use super::report::{stale_keys, tally, ImportReport, Write};
use super::{get_bool, QueryContext, Store, StoreError};
use crate::dialplan::{AccountDef, Step};

/// One row of `apps`.
#[derive(Debug, Clone, PartialEq)]
pub struct App {
    pub account_id: String,
    /// Dialled like an extension of the account.
    pub number: String,
    pub name: String,
    /// Record the call: caller left, the switch's audio right.
    pub record: bool,
    pub steps: Vec<Step>,
}

const COLUMNS: &str = "account_id, number, name, record, steps";

/// A row as stored, steps still as JSON text: what the import compares.
#[derive(Debug, PartialEq)]
struct Stored {
    name: String,
    record: bool,
    steps: String,
}

impl Stored {
    fn from_row(row: &AnyRow) -> Result<(String, Stored), sqlx::Error> {
        Ok((
            row.try_get("number")?,
            Stored {
                name: row.try_get("name")?,
                record: get_bool(row, "record")?,
                steps: row.try_get("steps")?,
            },
        ))
    }
}

impl App {
    fn from_row(row: &AnyRow) -> Result<App, StoreError> {
        let decode = |source| StoreError::Query {
            op: "decode an app",
            source,
        };
        let steps: String = row.try_get("steps").map_err(decode)?;
        Ok(App {
            account_id: row.try_get("account_id").map_err(decode)?,
            number: row.try_get("number").map_err(decode)?,
            name: row.try_get("name").map_err(decode)?,
            record: get_bool(row, "record").map_err(decode)?,
            steps: serde_json::from_str(&steps).map_err(|_| StoreError::BadValue {
                table: "apps",
                column: "steps",
                value: steps.clone(),
            })?,
        })
    }
}

impl Store {
    pub async fn app(&self, account_id: &str, number: &str) -> Result<Option<App>, StoreError> {
        let sql = format!("SELECT {COLUMNS} FROM apps WHERE account_id = $1 AND number = $2");
        let row = sqlx::query(&sql)
            .bind(account_id)
            .bind(number)
            .fetch_optional(self.pool())
            .await
            .op("look up an app")?;
        row.as_ref().map(App::from_row).transpose()
    }

    /// Every app of every account, ordered by account and number.
    pub async fn list_apps(&self) -> Result<Vec<App>, StoreError> {
        let sql = format!("SELECT {COLUMNS} FROM apps ORDER BY account_id, number");
        let rows = sqlx::query(&sql)
            .fetch_all(self.pool())
            .await
            .op("list apps")?;
        rows.iter().map(App::from_row).collect()
    }
}

/// Makes the stored apps of `def`'s account match the plan: deletes the ones it no longer
/// lists, then inserts or updates the rest.
pub(super) async fn sync(
    conn: &mut AnyConnection,
    def: &AccountDef,
    report: &mut ImportReport,
) -> Result<(), StoreError> {
    let rows = sqlx::query("SELECT number, name, record, steps FROM apps WHERE account_id = $1")
        .bind(def.id.as_str())
        .fetch_all(&mut *conn)
        .await
        .op("read apps")?;
    let before: HashMap<String, Stored> = rows
        .iter()
        .map(Stored::from_row)
        .collect::<Result<_, _>>()
        .op("decode an app")?;

    let stale = stale_keys(&before, def.apps.iter().map(|a| a.number.as_str()));
    for number in stale {
        sqlx::query("DELETE FROM apps WHERE account_id = $1 AND number = $2")
            .bind(def.id.as_str())
            .bind(number.as_str())
            .execute(&mut *conn)
            .await
            .op("delete an app")?;
        report.apps.deleted += 1;
    }

    for app in &def.apps {
        let steps = serde_json::to_string(&app.steps).map_err(|_| StoreError::BadValue {
            table: "apps",
            column: "steps",
            value: format!("{:?}", app.steps),
        })?;
        let wanted = Stored {
            name: app.name.clone(),
            record: app.record,
            steps,
        };
        let sql = match tally(&mut report.apps, before.get(&app.number), &wanted) {
            Write::Nothing => continue,
            Write::Insert => {
                "INSERT INTO apps (name, record, steps, account_id, number) \
                 VALUES ($1, $2, $3, $4, $5)"
            }
            Write::Update => {
                "UPDATE apps SET name = $1, record = $2, steps = $3 \
                 WHERE account_id = $4 AND number = $5"
            }
        };
        sqlx::query(sql)
            .bind(wanted.name)
            .bind(wanted.record)
            .bind(wanted.steps)
            .bind(def.id.as_str())
            .bind(app.number.as_str())
            .execute(&mut *conn)
            .await
            .op("write an app")?;
    }
    Ok(())
}
