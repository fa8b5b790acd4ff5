//! Applies a validated [`Dialplan`] to the database in one transaction.
//!
//! For each account in the plan: upsert the account, its extensions, numbers, trunks and
//! apps, and delete the ones of that account the plan no longer lists (apps: `apps.rs`).
//! Each row is compared with what is stored first, so re-importing the same plan writes
//! nothing and the [`ImportReport`] says so. Accounts absent from the plan are left alone
//! (apart from losing the default flag when the plan names another default). This file
//! must not parse or validate files itself: it calls `Dialplan::validate` and stops there.

use std::collections::{HashMap, HashSet};

use sqlx::AnyConnection;

use super::report::{stale_keys, tally, ImportReport, Write};
use super::{
    apps, callflows, extensions, numbers, queues, trunks, Account, Extension, PhoneNumber, Trunk,
};
use super::{QueryContext, Store, StoreError};
use crate::dialplan::{AccountDef, Dialplan};

impl Store {
    /// Validates `plan`, then applies it in one transaction (all or nothing).
    pub async fn import_dialplan(&self, plan: &Dialplan) -> Result<ImportReport, StoreError> {
        plan.validate()?;
        let mut report = ImportReport::default();
        let mut tx = self.pool().begin().await.op("begin a dialplan import")?;

        import_accounts(&mut tx, plan, &mut report).await?;
        let mut stale_extensions = Vec::new();
        for def in &plan.accounts {
            stale_extensions.extend(upsert_extensions(&mut tx, def, &mut report).await?);
        }
        for def in &plan.accounts {
            sync_numbers(&mut tx, def, &mut report).await?;
            sync_trunks(&mut tx, def, &mut report).await?;
            apps::sync(&mut tx, def, &mut report).await?;
            callflows::sync(&mut tx, def, &mut report).await?;
            queues::sync(&mut tx, def, &mut report).await?;
        }
        for def in &plan.accounts {
            assign_public_ids(&mut tx, def).await?;
        }
        // Last, so that no number still routes to an extension being removed.
        for (account_id, number) in stale_extensions {
            sqlx::query("DELETE FROM extensions WHERE account_id = $1 AND number = $2")
                .bind(account_id)
                .bind(number)
                .execute(&mut *tx)
                .await
                .op("delete an extension")?;
            report.extensions.deleted += 1;
        }

        if report.changes() > 0 {
            sqlx::query("UPDATE provisioning SET version = version + 1 WHERE id = 1")
                .execute(&mut *tx)
                .await
                .op("bump the provisioning version")?;
            if self.backend() == super::Backend::Postgres {
                // delivered at commit to every switch listening on this database
                sqlx::query("SELECT pg_notify('switchyard_provisioning', '')")
                    .execute(&mut *tx)
                    .await
                    .op("notify the provisioning change")?;
            }
        }
        tx.commit().await.op("commit a dialplan import")?;
        tracing::info!(source = %plan.source.display(), %report, "dialplan imported");
        Ok(report)
    }

    /// Goes up with every import that changed something: a running switch
    /// rebuilds its directory when it sees a new value.
    /// On PostgreSQL, a listener woken by every import that changed something
    /// (from any process); `None` on SQLite or when it cannot connect.
    pub async fn provisioning_listener(&self) -> Option<sqlx::postgres::PgListener> {
        let url = self.url.as_ref()?;
        let mut l = match sqlx::postgres::PgListener::connect(url.expose()).await {
            Ok(l) => l,
            Err(e) => {
                tracing::warn!("provisioning changes: LISTEN unavailable ({e}); polling");
                return None;
            }
        };
        match l.listen("switchyard_provisioning").await {
            Ok(()) => Some(l),
            Err(e) => {
                tracing::warn!("provisioning changes: LISTEN failed ({e}); polling");
                None
            }
        }
    }

    pub async fn provisioning_version(&self) -> Result<i64, StoreError> {
        let row = sqlx::query("SELECT version FROM provisioning WHERE id = 1")
            .fetch_optional(self.pool())
            .await
            .op("read the provisioning version")?;
        Ok(match row {
            Some(r) => {
                sqlx::Row::try_get::<i64, _>(&r, "version").op("read the provisioning version")?
            }
            None => 0,
        })
    }
}

async fn import_accounts(
    conn: &mut AnyConnection,
    plan: &Dialplan,
    report: &mut ImportReport,
) -> Result<(), StoreError> {
    let rows = sqlx::query("SELECT id, name, sip_domain, is_default FROM accounts")
        .fetch_all(&mut *conn)
        .await
        .op("read accounts")?;
    let before: HashMap<String, Account> = rows
        .iter()
        .map(|row| Account::from_row(row).map(|a| (a.id.clone(), a)))
        .collect::<Result<_, _>>()
        .op("decode an account")?;
    let stored_default = before.values().find(|a| a.is_default).map(|a| a.id.clone());
    let declared = plan.accounts.iter().position(|a| a.default);

    // Only one default may exist at a time (a unique index says so): clear the old one
    // before another account takes the flag.
    if let (Some(d), Some(old)) = (declared, &stored_default) {
        if plan.accounts[d].id != *old {
            sqlx::query("UPDATE accounts SET is_default = $1 WHERE id = $2")
                .bind(false)
                .bind(old.as_str())
                .execute(&mut *conn)
                .await
                .op("clear the default account")?;
            if !plan.accounts.iter().any(|a| a.id == *old) {
                report.accounts.updated += 1;
            }
        }
    }

    for (i, def) in plan.accounts.iter().enumerate() {
        let is_default = match declared {
            Some(d) => i == d,
            None => {
                before.get(&def.id).is_some_and(|a| a.is_default)
                    || (stored_default.is_none() && i == 0)
            }
        };
        let wanted = Account {
            id: def.id.clone(),
            name: def.name.clone(),
            sip_domain: def.sip_domain.to_ascii_lowercase(),
            is_default,
        };
        let sql = match tally(&mut report.accounts, before.get(&def.id), &wanted) {
            Write::Nothing => continue,
            Write::Insert => {
                "INSERT INTO accounts (name, sip_domain, is_default, id) VALUES ($1, $2, $3, $4)"
            }
            Write::Update => {
                "UPDATE accounts SET name = $1, sip_domain = $2, is_default = $3 WHERE id = $4"
            }
        };
        sqlx::query(sql)
            .bind(wanted.name)
            .bind(wanted.sip_domain)
            .bind(wanted.is_default)
            .bind(wanted.id)
            .execute(&mut *conn)
            .await
            .op("write an account")?;
    }
    Ok(())
}

/// Upserts the account's extensions; returns the stored ones the plan no longer lists.
async fn upsert_extensions(
    conn: &mut AnyConnection,
    def: &AccountDef,
    report: &mut ImportReport,
) -> Result<Vec<(String, String)>, StoreError> {
    let sql = format!(
        "SELECT {} FROM extensions WHERE account_id = $1",
        extensions::COLUMNS
    );
    let rows = sqlx::query(&sql)
        .bind(def.id.as_str())
        .fetch_all(&mut *conn)
        .await
        .op("read extensions")?;
    let before: HashMap<String, Extension> = rows
        .iter()
        .map(|row| Extension::from_row(row).map(|e| (e.number.clone(), e)))
        .collect::<Result<_, _>>()
        .op("decode an extension")?;

    for ext in &def.extensions {
        let wanted = Extension {
            account_id: def.id.clone(),
            number: ext.number.clone(),
            password: ext.password.clone(),
            display_name: ext.display_name.clone(),
            caller_id: ext.caller_id.clone(),
            forward_number: ext.forward_number.clone(),
            voicemail: ext.voicemail,
            voicemail_pin: ext.voicemail_pin.clone(),
            record: ext.record,
            first_name: ext.first_name.clone(),
            last_name: ext.last_name.clone(),
            email: ext.email.clone(),
            time_zone: ext.time_zone.clone(),
        };
        let sql = match tally(&mut report.extensions, before.get(&ext.number), &wanted) {
            Write::Nothing => continue,
            Write::Insert => {
                "INSERT INTO extensions (password, display_name, caller_id, forward_number, \
                 voicemail, voicemail_pin, record, first_name, last_name, email, time_zone, \
                 account_id, number) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)"
            }
            Write::Update => {
                "UPDATE extensions SET password = $1, display_name = $2, caller_id = $3, \
                 forward_number = $4, voicemail = $5, voicemail_pin = $6, record = $7, \
                 first_name = $8, last_name = $9, email = $10, time_zone = $11 \
                 WHERE account_id = $12 AND number = $13"
            }
        };
        sqlx::query(sql)
            .bind(wanted.password)
            .bind(wanted.display_name)
            .bind(wanted.caller_id)
            .bind(wanted.forward_number)
            .bind(wanted.voicemail)
            .bind(wanted.voicemail_pin)
            .bind(wanted.record)
            .bind(wanted.first_name)
            .bind(wanted.last_name)
            .bind(wanted.email)
            .bind(wanted.time_zone)
            .bind(wanted.account_id)
            .bind(wanted.number)
            .execute(&mut *conn)
            .await
            .op("write an extension")?;
    }

    let listed: HashSet<&str> = def.extensions.iter().map(|e| e.number.as_str()).collect();
    let mut stale: Vec<(String, String)> = before
        .into_keys()
        .filter(|n| !listed.contains(n.as_str()))
        .map(|n| (def.id.clone(), n))
        .collect();
    stale.sort();
    Ok(stale)
}

async fn sync_numbers(
    conn: &mut AnyConnection,
    def: &AccountDef,
    report: &mut ImportReport,
) -> Result<(), StoreError> {
    let sql = format!(
        "SELECT {} FROM phone_numbers WHERE account_id = $1",
        numbers::COLUMNS
    );
    let rows = sqlx::query(&sql)
        .bind(def.id.as_str())
        .fetch_all(&mut *conn)
        .await
        .op("read phone numbers")?;
    let mut before: HashMap<String, PhoneNumber> = rows
        .iter()
        .map(|row| PhoneNumber::from_row(row).map(|n| (n.number.clone(), n)))
        .collect::<Result<_, _>>()
        .op("decode a phone number")?;

    let stale = stale_keys(&before, def.numbers.iter().map(|n| n.number.as_str()));
    for number in stale {
        sqlx::query("DELETE FROM phone_numbers WHERE number = $1")
            .bind(number.as_str())
            .execute(&mut *conn)
            .await
            .op("delete a phone number")?;
        report.numbers.deleted += 1;
    }

    for num in &def.numbers {
        // The number may be stored under another account: then it moves (an update).
        if !before.contains_key(&num.number) {
            let sql = format!(
                "SELECT {} FROM phone_numbers WHERE number = $1",
                numbers::COLUMNS
            );
            let row = sqlx::query(&sql)
                .bind(num.number.as_str())
                .fetch_optional(&mut *conn)
                .await
                .op("read a phone number")?;
            if let Some(row) = row {
                let found = PhoneNumber::from_row(&row).op("decode a phone number")?;
                before.insert(found.number.clone(), found);
            }
        }
        let wanted = PhoneNumber {
            number: num.number.clone(),
            account_id: def.id.clone(),
            extension: num.extension.clone(),
            friendly_name: num.friendly_name.clone(),
            sms_enabled: num.sms,
            mms_enabled: num.mms,
        };
        let sql = match tally(&mut report.numbers, before.get(&num.number), &wanted) {
            Write::Nothing => continue,
            Write::Insert => {
                "INSERT INTO phone_numbers (account_id, extension, friendly_name, sms_enabled, \
                 mms_enabled, number) VALUES ($1, $2, $3, $4, $5, $6)"
            }
            Write::Update => {
                "UPDATE phone_numbers SET account_id = $1, extension = $2, friendly_name = $3, \
                 sms_enabled = $4, mms_enabled = $5 WHERE number = $6"
            }
        };
        sqlx::query(sql)
            .bind(wanted.account_id)
            .bind(wanted.extension)
            .bind(wanted.friendly_name)
            .bind(wanted.sms_enabled)
            .bind(wanted.mms_enabled)
            .bind(wanted.number)
            .execute(&mut *conn)
            .await
            .op("write a phone number")?;
    }
    Ok(())
}

async fn sync_trunks(
    conn: &mut AnyConnection,
    def: &AccountDef,
    report: &mut ImportReport,
) -> Result<(), StoreError> {
    let sql = format!(
        "SELECT {} FROM trunks WHERE account_id = $1",
        trunks::COLUMNS
    );
    let rows = sqlx::query(&sql)
        .bind(def.id.as_str())
        .fetch_all(&mut *conn)
        .await
        .op("read trunks")?;
    let mut before: HashMap<String, Trunk> = rows
        .iter()
        .map(|row| Trunk::from_row(row).map(|t| (t.id.clone(), t)))
        .collect::<Result<_, _>>()?;

    let stale = stale_keys(&before, def.trunks.iter().map(|t| t.id.as_str()));
    for id in stale {
        sqlx::query("DELETE FROM trunks WHERE id = $1")
            .bind(id.as_str())
            .execute(&mut *conn)
            .await
            .op("delete a trunk")?;
        report.trunks.deleted += 1;
    }

    for trunk in &def.trunks {
        // A trunk id is global: it may be stored under another account and move here.
        if !before.contains_key(&trunk.id) {
            let sql = format!("SELECT {} FROM trunks WHERE id = $1", trunks::COLUMNS);
            let row = sqlx::query(&sql)
                .bind(trunk.id.as_str())
                .fetch_optional(&mut *conn)
                .await
                .op("read a trunk")?;
            if let Some(row) = row {
                let found = Trunk::from_row(&row)?;
                before.insert(found.id.clone(), found);
            }
        }
        let port = u16::try_from(trunk.port).map_err(|_| StoreError::BadValue {
            table: "trunks",
            column: "port",
            value: trunk.port.to_string(),
        })?;
        let wanted = Trunk {
            id: trunk.id.clone(),
            account_id: def.id.clone(),
            host: trunk.host.clone(),
            port,
            transport: trunk.transport,
            username: trunk.username.clone(),
            password: trunk.password.clone(),
            caller_id: trunk.caller_id.clone(),
        };
        let sql = match tally(&mut report.trunks, before.get(&trunk.id), &wanted) {
            Write::Nothing => continue,
            Write::Insert => {
                "INSERT INTO trunks (account_id, host, port, transport, username, password, \
                 caller_id, id) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)"
            }
            Write::Update => {
                "UPDATE trunks SET account_id = $1, host = $2, port = $3, transport = $4, \
                 username = $5, password = $6, caller_id = $7 WHERE id = $8"
            }
        };
        sqlx::query(sql)
            .bind(wanted.account_id)
            .bind(wanted.host)
            .bind(i32::from(wanted.port))
            .bind(wanted.transport.as_str())
            .bind(wanted.username)
            .bind(wanted.password)
            .bind(wanted.caller_id)
            .bind(wanted.id)
            .execute(&mut *conn)
            .await
            .op("write a trunk")?;
    }
    Ok(())
}

/// Hands the voice API's integer id (`pk`) to each user, queue and number of
/// the account that has none yet; a document keeps its id for good (a
/// removed one's id is never given to another).
async fn assign_public_ids(conn: &mut AnyConnection, def: &AccountDef) -> Result<(), StoreError> {
    let docs = def
        .extensions
        .iter()
        .map(|e| ("user", e.number.as_str()))
        .chain(def.queues.iter().map(|q| ("queue", q.id.as_str())))
        .chain(def.numbers.iter().map(|n| ("number", n.number.as_str())));
    for (kind, id) in docs {
        sqlx::query(
            "INSERT INTO public_ids (kind, account_id, doc_id) VALUES ($1, $2, $3) \
             ON CONFLICT (kind, account_id, doc_id) DO NOTHING",
        )
        .bind(kind)
        .bind(def.id.as_str())
        .bind(id)
        .execute(&mut *conn)
        .await
        .op("assign a public id")?;
    }
    Ok(())
}
