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

/// Rows per INSERT statement (6 binds each).
const ROWS_PER_STATEMENT: usize = 200;
/// Records per transaction at most.
const BATCH: usize = 2_000;
/// How long the writer lets records gather after the first of a batch.
const LINGER: Duration = Duration::from_millis(5);

impl Store {
    /// Where a starting event log begins: a fresh block of `block` ids above
    /// every stored id and every id any run (or node) was granted before — a
    /// run may have handed some out and crashed before writing them. Returns
    /// (first id, last id of the block).
    pub async fn event_log_start(&self, block: u64) -> Result<(u64, u64), StoreError> {
        let last = self.last_event_seq().await?;
        self.reserve_event_ids(last).await?;
        self.grab_event_block(block).await
    }

    /// Grants the next `block` ids: a range no other run or node holds.
    pub async fn grab_event_block(&self, block: u64) -> Result<(u64, u64), StoreError> {
        let row = sqlx::query(
            "UPDATE event_seq SET reserved = reserved + $1 WHERE id = 1 RETURNING reserved",
        )
        .bind(block as i64)
        .fetch_one(self.pool())
        .await
        .op("reserve event ids")?;
        let end: i64 = row.try_get("reserved").op("reserve event ids")?;
        let end = end.max(0) as u64;
        Ok((end.saturating_sub(block) + 1, end))
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
        let _turn = self.write_turn().await;
        let mut tx = self.pool().begin().await.op("begin an event batch")?;
        for chunk in records.chunks(ROWS_PER_STATEMENT) {
            let mut sql = String::from(
                "INSERT INTO event_log (seq, name, account_id, created_at, payload, node_id) VALUES ",
            );
            for i in 0..chunk.len() {
                if i > 0 {
                    sql.push(',');
                }
                if self.backend() == super::Backend::Sqlite {
                    // positional: SQLite resolves each `$n` by name, which is
                    // quadratic in a statement of a thousand parameters
                    sql.push_str("(?, ?, ?, ?, ?, ?)");
                } else {
                    let b = i * 6;
                    sql.push_str(&format!(
                        "(${}, ${}, ${}, ${}, ${}, ${})",
                        b + 1,
                        b + 2,
                        b + 3,
                        b + 4,
                        b + 5,
                        b + 6
                    ));
                }
            }
            let mut q = sqlx::query(&sql);
            for r in chunk {
                q = q
                    .bind(r.seq as i64)
                    .bind(r.name.as_str())
                    .bind(r.account_id.as_str())
                    .bind(r.timestamp_ms)
                    .bind(&*r.json)
                    .bind(self.node());
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

    /// Up to `limit` events node `node` stored after id `after`, oldest first.
    pub async fn node_events_after(
        &self,
        node: &str,
        after: u64,
        limit: u32,
    ) -> Result<Vec<Record>, StoreError> {
        let rows = sqlx::query(
            "SELECT seq, name, account_id, created_at, payload FROM event_log \
             WHERE node_id = $1 AND seq > $2 ORDER BY seq LIMIT $3",
        )
        .bind(node)
        .bind(i64::try_from(after).unwrap_or(i64::MAX))
        .bind(i64::from(limit))
        .fetch_all(self.pool())
        .await
        .op("read a node's events")?;
        rows.iter()
            .map(decode_record)
            .collect::<Result<_, sqlx::Error>>()
            .op("decode an event")
    }

    /// How far node `node`'s events were handed on (0: none yet).
    pub async fn relay_position(&self, node: &str) -> Result<u64, StoreError> {
        let row = sqlx::query("SELECT published_upto FROM event_relay WHERE node_id = $1")
            .bind(node)
            .fetch_optional(self.pool())
            .await
            .op("read a relay position")?;
        Ok(match row {
            Some(r) => r
                .try_get::<i64, _>("published_upto")
                .op("read a relay position")?
                .max(0) as u64,
            None => 0,
        })
    }

    /// Records that `node` handed on its events up to `upto` (never back) and is alive at `now_ms`.
    pub async fn save_relay(&self, node: &str, upto: u64, now_ms: i64) -> Result<(), StoreError> {
        sqlx::query(
            "INSERT INTO event_relay (node_id, published_upto, heartbeat_at) VALUES ($1, $2, $3) \
             ON CONFLICT (node_id) DO UPDATE SET heartbeat_at = excluded.heartbeat_at, \
             published_upto = CASE WHEN event_relay.published_upto > excluded.published_upto \
             THEN event_relay.published_upto ELSE excluded.published_upto END",
        )
        .bind(node)
        .bind(upto as i64)
        .bind(now_ms)
        .execute(self.pool())
        .await
        .op("save a relay position")?;
        Ok(())
    }

    /// Another node handed on `node`'s events up to `upto` (its heartbeat stays).
    pub async fn advance_relay(&self, node: &str, upto: u64) -> Result<(), StoreError> {
        sqlx::query(
            "UPDATE event_relay SET published_upto = $1 WHERE node_id = $2 AND published_upto < $1",
        )
        .bind(upto as i64)
        .bind(node)
        .execute(self.pool())
        .await
        .op("advance a relay position")?;
        Ok(())
    }

    /// Nodes other than `me` not heard from since `before_ms`: (node, published up to).
    pub async fn silent_relays(
        &self,
        me: &str,
        before_ms: i64,
    ) -> Result<Vec<(String, u64)>, StoreError> {
        let rows = sqlx::query(
            "SELECT node_id, published_upto FROM event_relay WHERE node_id <> $1 AND heartbeat_at < $2",
        )
        .bind(me)
        .bind(before_ms)
        .fetch_all(self.pool())
        .await
        .op("read relay positions")?;
        rows.iter()
            .map(|r| {
                Ok((
                    r.try_get("node_id")?,
                    r.try_get::<i64, _>("published_upto")?.max(0) as u64,
                ))
            })
            .collect::<Result<_, sqlx::Error>>()
            .op("decode a relay position")
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
            .map(decode_record)
            .collect::<Result<_, sqlx::Error>>()
            .op("decode an event")
    }
}

fn decode_record(r: &sqlx::any::AnyRow) -> Result<Record, sqlx::Error> {
    let payload: String = r.try_get("payload")?;
    Ok(Record {
        seq: r.try_get::<i64, _>("seq")? as u64,
        name: r.try_get("name")?,
        account_id: r.try_get("account_id")?,
        timestamp_ms: r.try_get("created_at")?,
        json: payload.into(),
        kept: None,
    })
}

async fn insert_kept(conn: &mut sqlx::AnyConnection, k: &Kept) -> Result<(), StoreError> {
    match k {
        Kept::Cdr(c) => super::cdrs::insert_cdr_on(conn, c).await,
        Kept::Recording(r) => super::recordings::insert_recording_on(conn, r).await,
        Kept::Voicemail(v) => super::voicemails::insert_voicemail_on(conn, v).await,
        Kept::IvrAudit(a) => super::ivr_audit::insert_ivr_audit_on(conn, a).await,
    }
}

/// Grants `log` a new block of ids each time it asks.
pub fn spawn_reserver(store: Store, log: Arc<crate::events::EventLog>) {
    let mut want = log.reservations();
    tokio::spawn(async move {
        while want.changed().await.is_ok() {
            want.borrow_and_update();
            let mut backoff = Duration::from_millis(50);
            loop {
                match store.grab_event_block(log.block()).await {
                    Ok((start, end)) => {
                        log.granted(start, end);
                        break;
                    }
                    Err(e) => {
                        tracing::error!(error = %e, "event ids not reserved; retrying");
                        tokio::time::sleep(backoff).await;
                        backoff = (backoff * 2).min(Duration::from_secs(5));
                    }
                }
            }
        }
    });
}

/// Starts the durable writer of `log` (`None` if it has one already); the
/// watch follows the newest id written (the log's [`EventLog::durable`] too),
/// and shutdown waits for it to reach the log's newest.
pub fn spawn_writer(store: Store, log: Arc<EventLog>) -> Option<watch::Receiver<u64>> {
    spawn_writer_with(store, log, true)
}

/// [`spawn_writer`], or (`store_them` false: benchmarks of the log's cost
/// only) a writer that hands the events on without storing them.
pub fn spawn_writer_with(
    store: Store,
    log: Arc<EventLog>,
    store_them: bool,
) -> Option<watch::Receiver<u64>> {
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
            let written = if !store_them {
                Ok(())
            } else if failures < 3 {
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
    /// Read from the store only this node's events.
    node: Option<String>,
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
            node: None,
        }
    }

    /// Reads from the store only the events node `node` stored (several nodes
    /// share one store; this node's log holds only its own).
    pub fn of_node(mut self, node: &str) -> LogReader {
        self.node = Some(node.to_string());
        self
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
                Err(Behind { oldest }) => self.read_store(oldest).await,
            }
        }
    }

    /// The cursor is older than the ring: read the store; what it does not
    /// hold (never written, or purged) is skipped up to the ring's oldest.
    async fn read_store(&mut self, oldest: u64) {
        let got = match &self.store {
            Some(s) => match &self.node {
                Some(n) => s.node_events_after(n, self.cursor, CHUNK as u32).await,
                None => s.events_after(self.cursor, CHUNK as u32).await,
            }
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
