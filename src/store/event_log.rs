//! The `event_log` table: the durable copy of the event log. One writer task
//! takes the log's records in id order and writes them in batches (group
//! commit: whatever queued while the previous batch was written goes in the
//! next, one transaction each), retrying a failed batch until the database
//! takes it, so nothing is dropped and the SIP path never waits for it.
//! Readers resuming from an id older than the log's ring read it from here:
//! [`LogReader`] reads the log from its own cursor, falling back to this table.

use std::collections::VecDeque;
use std::sync::Arc;
use std::time::Duration;

use sqlx::Row;
use tokio::sync::watch;

use super::{QueryContext, Store, StoreError};
use crate::events::kept::Kept;
use crate::events::log::Behind;
use crate::events::{EventLog, Record};

/// Rows per INSERT statement (5 binds each).
const ROWS_PER_STATEMENT: usize = 200;
/// Records per transaction at most.
const BATCH: usize = 2_000;
/// How long the writer lets records gather after the first of a batch.
const LINGER: Duration = Duration::from_millis(5);

impl Store {
    /// Where a starting event log begins: after every stored id and every id a
    /// previous run reserved (it may have handed some out and crashed before
    /// writing them), with the next `block` ids reserved for it. Returns
    /// (first id, highest reserved id).
    pub async fn event_log_start(&self, block: u64) -> Result<(u64, u64), StoreError> {
        let last = self.last_event_seq().await?;
        let row = sqlx::query("SELECT reserved FROM event_seq WHERE id = 1")
            .fetch_optional(self.pool())
            .await
            .op("read the reserved event ids")?;
        let reserved: i64 = match row {
            Some(r) => r.try_get("reserved").op("read the reserved event ids")?,
            None => 0,
        };
        let start = last.max(reserved.max(0) as u64) + 1;
        let upto = start + block - 1;
        self.reserve_event_ids(upto).await?;
        Ok((start, upto))
    }

    /// Reserves event ids up to `upto` (never lowers the reservation).
    pub async fn reserve_event_ids(&self, upto: u64) -> Result<(), StoreError> {
        sqlx::query("UPDATE event_seq SET reserved = $1 WHERE id = 1 AND reserved < $1")
            .bind(upto as i64)
            .execute(self.pool())
            .await
            .op("reserve event ids")?;
        Ok(())
    }

    /// The newest stored event id (0 when there is none).
    pub async fn last_event_seq(&self) -> Result<u64, StoreError> {
        let row = sqlx::query("SELECT COALESCE(MAX(seq), 0) AS m FROM event_log")
            .fetch_one(self.pool())
            .await
            .op("read the last event id")?;
        let m: i64 = row.try_get("m").op("read the last event id")?;
        Ok(m.max(0) as u64)
    }

    /// Writes `records`, and the rows kept with them, in one transaction.
    pub async fn append_events(&self, records: &[Arc<Record>]) -> Result<(), StoreError> {
        self.append_batch(records, true).await
    }

    async fn append_batch(
        &self,
        records: &[Arc<Record>],
        with_kept: bool,
    ) -> Result<(), StoreError> {
        let mut tx = self.pool().begin().await.op("begin an event batch")?;
        for chunk in records.chunks(ROWS_PER_STATEMENT) {
            let mut sql = String::from(
                "INSERT INTO event_log (seq, name, account_id, created_at, payload) VALUES ",
            );
            for i in 0..chunk.len() {
                let b = i * 5;
                if i > 0 {
                    sql.push(',');
                }
                sql.push_str(&format!(
                    "(${}, ${}, ${}, ${}, ${})",
                    b + 1,
                    b + 2,
                    b + 3,
                    b + 4,
                    b + 5
                ));
            }
            let mut q = sqlx::query(&sql);
            for r in chunk {
                q = q
                    .bind(r.seq as i64)
                    .bind(r.name.as_str())
                    .bind(r.account_id.as_str())
                    .bind(r.timestamp_ms)
                    .bind(&*r.json);
            }
            q.execute(&mut *tx).await.op("store events")?;
        }
        if with_kept {
            for k in records.iter().filter_map(|r| r.kept.as_deref()) {
                insert_kept(&mut tx, k).await?;
            }
        }
        tx.commit().await.op("commit an event batch")?;
        Ok(())
    }

    /// The last resort for a batch the database keeps refusing: the events
    /// alone, then each kept row on its own (a row refused for good — say, of
    /// an account deleted meanwhile — is logged, and no longer holds up the log).
    async fn append_apart(&self, records: &[Arc<Record>]) -> Result<(), StoreError> {
        self.append_batch(records, false).await?;
        for (seq, k) in records
            .iter()
            .filter_map(|r| r.kept.as_deref().map(|k| (r.seq, k)))
        {
            let mut conn = self.pool().acquire().await.op("store a kept row")?;
            if let Err(e) = insert_kept(&mut conn, k).await {
                tracing::error!(event = seq, error = %e, row = ?k, "a row kept with an event was refused by the database");
            }
        }
        Ok(())
    }

    /// Deletes stored events older than `before_ms` (up to `max` of them, oldest
    /// first, so a long backlog is purged in steps); returns how many went.
    pub async fn purge_events_before(&self, before_ms: i64, max: u32) -> Result<u64, StoreError> {
        let done = sqlx::query(
            "DELETE FROM event_log WHERE seq IN \
             (SELECT seq FROM event_log WHERE created_at < $1 ORDER BY seq LIMIT $2)",
        )
        .bind(before_ms)
        .bind(i64::from(max))
        .execute(self.pool())
        .await
        .op("purge old events")?;
        Ok(done.rows_affected())
    }

    /// Up to `limit` stored events after id `after`, oldest first.
    pub async fn events_after(&self, after: u64, limit: u32) -> Result<Vec<Record>, StoreError> {
        let rows = sqlx::query(
            "SELECT seq, name, account_id, created_at, payload FROM event_log \
             WHERE seq > $1 ORDER BY seq LIMIT $2",
        )
        .bind(i64::try_from(after).unwrap_or(i64::MAX))
        .bind(i64::from(limit))
        .fetch_all(self.pool())
        .await
        .op("read events")?;
        rows.iter()
            .map(|r| {
                let payload: String = r.try_get("payload")?;
                Ok(Record {
                    seq: r.try_get::<i64, _>("seq")? as u64,
                    name: r.try_get("name")?,
                    account_id: r.try_get("account_id")?,
                    timestamp_ms: r.try_get("created_at")?,
                    json: payload.into(),
                    kept: None,
                })
            })
            .collect::<Result<_, sqlx::Error>>()
            .op("decode an event")
    }
}

async fn insert_kept(conn: &mut sqlx::AnyConnection, k: &Kept) -> Result<(), StoreError> {
    match k {
        Kept::Cdr(c) => super::cdrs::insert_cdr_on(conn, c).await,
        Kept::Recording(r) => super::recordings::insert_recording_on(conn, r).await,
        Kept::Voicemail(v) => super::voicemails::insert_voicemail_on(conn, v).await,
        Kept::IvrAudit(a) => super::ivr_audit::insert_ivr_audit_on(conn, a).await,
    }
}

/// Keeps the store's reservation ahead of the ids `log` hands out.
pub fn spawn_reserver(store: Store, log: Arc<crate::events::EventLog>) {
    let mut want = log.reservations();
    tokio::spawn(async move {
        while want.changed().await.is_ok() {
            let upto = *want.borrow_and_update();
            let mut backoff = Duration::from_millis(50);
            loop {
                match store.reserve_event_ids(upto).await {
                    Ok(()) => break,
                    Err(e) => {
                        tracing::error!(error = %e, "event ids not reserved; retrying");
                        tokio::time::sleep(backoff).await;
                        backoff = (backoff * 2).min(Duration::from_secs(5));
                    }
                }
            }
            log.reserved(upto);
        }
    });
}

/// Starts the durable writer of `log` (`None` if it has one already); the
/// watch follows the newest id written (the log's [`EventLog::durable`] too),
/// and shutdown waits for it to reach the log's newest.
pub fn spawn_writer(store: Store, log: Arc<EventLog>) -> Option<watch::Receiver<u64>> {
    let mut rx = log.take_persist()?;
    let stored = log.durable().map(|d| *d.borrow()).unwrap_or(0);
    let (done_tx, done_rx) = watch::channel(stored);
    tokio::spawn(async move {
        let mut batch: Vec<Arc<Record>> = Vec::with_capacity(BATCH);
        let mut backoff = Duration::from_millis(50);
        let mut failures = 0u32;
        loop {
            if batch.is_empty() {
                match rx.recv().await {
                    Some(r) => batch.push(r),
                    None => return,
                }
                // group commit: let a burst gather (one transaction for many
                // events rather than one each); readers never wait for this
                tokio::time::sleep(LINGER).await;
            }
            while batch.len() < BATCH {
                match rx.try_recv() {
                    Ok(r) => batch.push(r),
                    Err(_) => break,
                }
            }
            let written = if failures < 3 {
                store.append_events(&batch).await
            } else {
                store.append_apart(&batch).await
            };
            match written {
                Ok(()) => {
                    let last = batch.last().map(|r| r.seq).unwrap_or(0);
                    done_tx.send_modify(|v| *v = (*v).max(last));
                    log.mark_durable(last);
                    batch.clear();
                    backoff = Duration::from_millis(50);
                    failures = 0;
                }
                Err(e) => {
                    // kept and retried: an event is never dropped for a busy database
                    failures += 1;
                    tracing::error!(error = %e, events = batch.len(), "event batch not stored; retrying");
                    tokio::time::sleep(backoff).await;
                    backoff = (backoff * 2).min(Duration::from_secs(5));
                }
            }
        }
    });
    Some(done_rx)
}

/// Records read from the log (or the store) at a time.
const CHUNK: usize = 256;

/// Reads the event log from its own cursor: from memory while the ring holds
/// what follows the cursor, from the store when it fell behind; waits for
/// newer events. With [`LogReader::durable_only`] it hands out only events
/// the store already holds, so nothing it gave away can vanish in a crash.
/// `next` is cancel-safe (nothing is taken before its last await).
pub struct LogReader {
    cursor: u64,
    pending: VecDeque<Arc<Record>>,
    log: Arc<EventLog>,
    woken: watch::Receiver<u64>,
    store: Option<Store>,
    durable: Option<watch::Receiver<u64>>,
}

impl LogReader {
    /// A reader of the events after `cursor`.
    pub fn new(log: Arc<EventLog>, store: Option<Store>, cursor: u64) -> LogReader {
        LogReader {
            cursor,
            pending: VecDeque::new(),
            woken: log.watch(),
            log,
            store,
            durable: None,
        }
    }

    /// Hands out an event only once the log's durable writer stored it (no
    /// change for a log without one).
    pub fn durable_only(mut self) -> LogReader {
        self.durable = self.log.durable();
        self
    }

    /// The id of the last event handed out (or the starting cursor).
    pub fn cursor(&self) -> u64 {
        self.cursor
    }

    /// The next record after the cursor, waiting for one when there is none
    /// (`None` once the log is gone).
    pub async fn next(&mut self) -> Option<Arc<Record>> {
        loop {
            if let Some(seq) = self.pending.front().map(|r| r.seq) {
                if let Some(d) = &mut self.durable {
                    if *d.borrow_and_update() < seq {
                        d.changed().await.ok()?;
                        continue;
                    }
                }
                let r = self.pending.pop_front()?;
                self.cursor = r.seq;
                return Some(r);
            }
            // seen before reading: an append after this wakes the wait below
            self.woken.borrow_and_update();
            match self.log.after(self.cursor, CHUNK) {
                Ok(v) if !v.is_empty() => self.pending.extend(v),
                Ok(_) => self.woken.changed().await.ok()?,
                Err(Behind { oldest }) => self.from_store(oldest).await,
            }
        }
    }

    /// The cursor is older than the ring: read the store; what it does not
    /// hold (never written, or purged) is skipped up to the ring's oldest.
    async fn from_store(&mut self, oldest: u64) {
        let got = match &self.store {
            Some(s) => s
                .events_after(self.cursor, CHUNK as u32)
                .await
                .unwrap_or_else(|e| {
                    tracing::warn!(error = %e, "event log unreadable; resuming from memory");
                    Vec::new()
                }),
            None => Vec::new(),
        };
        let got: Vec<Record> = got.into_iter().filter(|r| r.seq < oldest).collect();
        if got.is_empty() {
            self.cursor = oldest - 1;
        } else {
            self.pending.extend(got.into_iter().map(Arc::new));
        }
    }
}
