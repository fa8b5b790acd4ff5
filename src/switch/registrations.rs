//! The live binding table (address of record → contacts) shared by the shards,
//! with write-behind persistence: changes are applied in memory at once and
//! queued to a writer task that batches them into the store, so bindings survive
//! a restart without the database sitting on the REGISTER path.

use dashmap::DashMap;
use std::net::SocketAddr;
use std::sync::atomic::Ordering::Relaxed;
use std::sync::Arc;
use tokio::sync::mpsc;

use crate::metrics::Metrics;
use crate::sip::registrar::{self, Binding, Change, Outcome, Register};
use crate::sip::target::{Target, TransportKind};
use crate::store::{RegistrationRow, Store};

enum Op {
    Upsert(RegistrationRow),
    Delete {
        account: String,
        extension: String,
        contact: String,
    },
    Flush(tokio::sync::oneshot::Sender<()>),
}

pub struct Registrations {
    table: DashMap<(String, String), Vec<Binding>>,
    writer: mpsc::UnboundedSender<Op>,
    metrics: Arc<Metrics>,
}

fn source_text(t: &Target) -> String {
    format!("{}:{}", t.kind.uri_param(), t.addr)
}

fn parse_source(s: &str) -> Option<Target> {
    let (kind, addr) = s.split_once(':')?;
    let addr = addr.split('#').next()?;
    Some(Target {
        kind: TransportKind::parse(kind)?,
        addr: addr.parse::<SocketAddr>().ok()?,
        conn: None,
    })
}

impl Registrations {
    /// Loads unexpired bindings from the store and starts the writer task.
    pub async fn start(
        store: Store,
        metrics: Arc<Metrics>,
        now_ms: i64,
    ) -> Result<Registrations, crate::store::StoreError> {
        let table: DashMap<(String, String), Vec<Binding>> = DashMap::new();
        let mut count = 0i64;
        for row in store.load_registrations(now_ms).await? {
            let Some(source) = parse_source(&row.source) else {
                continue;
            };
            count += 1;
            table
                .entry((row.account_id.clone(), row.extension.clone()))
                .or_default()
                .push(Binding {
                    uri: row.contact,
                    expires_at_ms: row.expires_at,
                    call_id: row.call_id,
                    cseq: row.cseq.clamp(0, u32::MAX as i64) as u32,
                    source,
                    user_agent: row.user_agent,
                    instance: row.instance,
                });
        }
        metrics.registrations.store(count, Relaxed);
        let (tx, rx) = mpsc::unbounded_channel();
        tokio::spawn(writer(store, rx));
        Ok(Registrations {
            table,
            writer: tx,
            metrics,
        })
    }

    /// Applies a REGISTER to an address of record, persisting what changed.
    pub fn apply(
        &self,
        account: &str,
        extension: &str,
        req: &Register<'_>,
        policy: &registrar::Policy,
    ) -> Outcome {
        let key = (account.to_string(), extension.to_string());
        let mut entry = self.table.entry(key).or_default();
        let before = entry.len() as i64;
        let live_before = entry
            .iter()
            .filter(|b| b.expires_at_ms > req.now_ms)
            .count() as i64;
        let outcome = registrar::apply(&entry, req, policy);
        if let Outcome::Ok { bindings, changes } = &outcome {
            for c in changes {
                let op = match c {
                    Change::Upsert(b) => Op::Upsert(RegistrationRow {
                        account_id: account.to_string(),
                        extension: extension.to_string(),
                        contact: b.uri.clone(),
                        expires_at: b.expires_at_ms,
                        call_id: b.call_id.clone(),
                        cseq: b.cseq as i64,
                        source: source_text(&b.source),
                        user_agent: b.user_agent.clone(),
                        instance: b.instance.clone(),
                    }),
                    Change::Remove(uri) => Op::Delete {
                        account: account.to_string(),
                        extension: extension.to_string(),
                        contact: uri.clone(),
                    },
                };
                let _ = self.writer.send(op);
            }
            // expired entries that apply() dropped must leave the store too
            for old in entry.iter().filter(|b| b.expires_at_ms <= req.now_ms) {
                let _ = self.writer.send(Op::Delete {
                    account: account.to_string(),
                    extension: extension.to_string(),
                    contact: old.uri.clone(),
                });
            }
            *entry = bindings.clone();
            let _ = before;
            self.metrics
                .registrations
                .fetch_add(bindings.len() as i64 - live_before, Relaxed);
        }
        outcome
    }

    /// Live contacts of an extension.
    pub fn lookup(&self, account: &str, extension: &str, now_ms: i64) -> Vec<Binding> {
        self.table
            .get(&(account.to_string(), extension.to_string()))
            .map(|v| {
                v.iter()
                    .filter(|b| b.expires_at_ms > now_ms)
                    .cloned()
                    .collect()
            })
            .unwrap_or_default()
    }

    /// Drops expired bindings from memory and the store; returns how many.
    pub fn sweep(&self, now_ms: i64) -> usize {
        self.remove_where(|b| b.expires_at_ms <= now_ms, "expired")
    }

    /// A WebSocket flow closed: the bindings registered over it are gone
    /// (RFC 5626 §5.2: a flow that failed no longer reaches its contact; a
    /// browser registers again when it reconnects). Returns how many.
    pub fn drop_flow(&self, conn: crate::sip::target::ConnId) -> usize {
        self.remove_where(|b| b.source.conn == Some(conn), "flow closed")
    }

    /// Removes the bindings `gone` picks, from memory and the store.
    fn remove_where(&self, gone: impl Fn(&Binding) -> bool, why: &str) -> usize {
        let mut removed = 0;
        for mut e in self.table.iter_mut() {
            let (account, extension) = e.key().clone();
            let v = e.value_mut();
            let n = v.len();
            v.retain(|b| {
                if !gone(b) {
                    return true;
                }
                tracing::debug!(%account, %extension, contact = %b.uri, "binding removed: {why}");
                let _ = self.writer.send(Op::Delete {
                    account: account.clone(),
                    extension: extension.clone(),
                    contact: b.uri.clone(),
                });
                false
            });
            removed += n - v.len();
        }
        self.table.retain(|_, v| !v.is_empty());
        if removed > 0 {
            self.metrics
                .registrations
                .fetch_sub(removed as i64, Relaxed);
        }
        removed
    }

    /// Waits until every change queued so far is in the store.
    pub async fn flush(&self) {
        let (tx, rx) = tokio::sync::oneshot::channel();
        if self.writer.send(Op::Flush(tx)).is_ok() {
            let _ = rx.await;
        }
    }
}

/// Most changes written in one go, and the longest a change waits for company.
const BATCH: usize = 8192;
const COALESCE: std::time::Duration = std::time::Duration::from_millis(25);

async fn writer(store: Store, mut rx: mpsc::UnboundedReceiver<Op>) {
    let mut batch = Vec::with_capacity(BATCH);
    let mut upserts: Vec<RegistrationRow> = Vec::new();
    while rx.recv_many(&mut batch, BATCH).await > 0 {
        // Coalesce: under load, one transaction per COALESCE window instead of one per
        // handful of REGISTERs (each commit wakes the SQLite thread and syncs the WAL).
        let deadline = tokio::time::Instant::now() + COALESCE;
        while batch.len() < BATCH && !batch.iter().any(|op| matches!(op, Op::Flush(_))) {
            let room = BATCH - batch.len();
            match tokio::time::timeout_at(deadline, rx.recv_many(&mut batch, room)).await {
                Ok(0) | Err(_) => break,
                Ok(_) => {}
            }
        }
        let mut flushes = Vec::new();
        for op in batch.drain(..) {
            match op {
                Op::Upsert(row) => upserts.push(row),
                Op::Delete {
                    account,
                    extension,
                    contact,
                } => {
                    if !upserts.is_empty() {
                        write_upserts(&store, &mut upserts).await;
                    }
                    if let Err(e) = store
                        .delete_registration(&account, &extension, &contact)
                        .await
                    {
                        tracing::error!(
                            "could not delete registration {account}/{extension} {contact}: {e}"
                        );
                    }
                }
                Op::Flush(done) => flushes.push(done),
            }
        }
        if !upserts.is_empty() {
            write_upserts(&store, &mut upserts).await;
        }
        for f in flushes {
            let _ = f.send(());
        }
    }
}

async fn write_upserts(store: &Store, rows: &mut Vec<RegistrationRow>) {
    // the latest write for a contact wins within a batch (one statement may not
    // touch a row twice)
    let mut seen = std::collections::HashSet::new();
    let mut deduped: Vec<RegistrationRow> = rows
        .drain(..)
        .rev()
        .filter(|r| seen.insert((r.account_id.clone(), r.extension.clone(), r.contact.clone())))
        .collect();
    deduped.reverse();
    *rows = deduped;
    for attempt in 0..3 {
        match store.upsert_registrations(rows).await {
            Ok(()) => break,
            Err(e) => {
                tracing::error!(
                    attempt,
                    "could not persist {} registrations: {e}",
                    rows.len()
                );
                tokio::time::sleep(std::time::Duration::from_millis(100)).await;
            }
        }
    }
    rows.clear();
}
