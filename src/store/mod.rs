//! Persistence: one [`Store`] over an sqlx `AnyPool` that speaks SQLite or PostgreSQL.
//!
//! This module owns connecting, the PRAGMAs SQLite needs, running the embedded migration
//! set that matches the backend, and the shared row-decoding helpers. Each table family
//! has its own repository file (`accounts`, `extensions`, `numbers`, `trunks`, `apps`,
//! `registrations`, `cdrs`, `recordings`, `import`) that adds `impl Store` methods. Every query is
//! written once with `$N` placeholders (sqlx-sqlite binds `$N` by number), uses only the
//! types the Any driver maps (i64, f64, String, bool, Option), stores times as unix
//! milliseconds and ids as TEXT. This module must not hold protocol logic, cache rows,
//! or decide policy (expiry, routing): callers pass `now` and interpret what they read.

mod accounts;
mod agent_states;
mod api_keys;
mod apps;
mod callflows;
mod cdrs;
pub mod event_log;
mod extensions;
mod idempotency;
mod import;
mod ivr_audit;
mod json_rows;
mod merchant_admit;
mod merchant_billing;
mod merchant_handoff;
mod merchant_messages;
mod merchants;
mod numbers;
mod public_ids;
mod queues;
mod recordings;
mod registrations;
mod report;
mod trunks;
mod voicemails;
mod webhooks;

#[cfg(test)]
pub(crate) mod tests;

use std::time::Duration;

use sqlx::any::{AnyPoolOptions, AnyRow};
use sqlx::{AnyPool, Executor, Row};

pub use accounts::Account;
pub use agent_states::AgentState;
pub use api_keys::{ApiKey, ApiKeyKind, KeyRefusal, NewApiKey, KEY_TRUST, SCOPES};
pub use apps::App;
pub use callflows::Callflow;
pub use cdrs::{Cdr, CdrDirection};
pub use extensions::Extension;
pub use idempotency::{Claim, IDEMPOTENCY_TTL_MS};
pub use ivr_audit::IvrAudit;
pub use merchant_billing::{AlertRow, MessagingRecord, PaymentRow, Settled};
pub use merchant_handoff::{SimHandoff, SIM_FAILURE};
pub use merchant_messages::{
    Admit, LaneCounts, MessageEventRow, MessageRow, NewMessage, Transition, UsageSums,
};
pub use merchants::{ConsentRow, DeliverySettings, MerchantRow, MerchantUpsert, UsageRow};
pub use numbers::PhoneNumber;
pub use public_ids::{PublicId, PublicKind};
pub use queues::Queue;
pub use recordings::Recording;
pub use registrations::RegistrationRow;
pub use report::{ImportCounts, ImportReport};
pub use trunks::{Trunk, TrunkTransport};
pub use voicemails::Voicemail;
pub use webhooks::{AttemptRow, PendingRow, WebhookRow};

/// Which database engine a [`Store`] talks to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

impl Backend {
    /// Picks the backend from a database URL's scheme.
    pub fn from_url(url: &str) -> Result<Backend, StoreError> {
        let scheme = url.split(':').next().unwrap_or_default();
        match scheme {
            "sqlite" => Ok(Backend::Sqlite),
            "postgres" | "postgresql" => Ok(Backend::Postgres),
            other => Err(StoreError::UnsupportedUrl {
                scheme: other.to_owned(),
            }),
        }
    }
}

/// Errors from the store. The sqlx error is kept as the source.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("unsupported database URL scheme {scheme:?} (expected sqlite:// or postgres://)")]
    UnsupportedUrl { scheme: String },
    #[error("cannot connect to the {backend:?} database")]
    Connect {
        backend: Backend,
        #[source]
        source: sqlx::Error,
    },
    #[error("database migration failed")]
    Migrate(#[from] sqlx::migrate::MigrateError),
    #[error("database query failed while trying to {op}")]
    Query {
        op: &'static str,
        #[source]
        source: sqlx::Error,
    },
    #[error("{table}.{column} holds {value:?}, which this version does not understand")]
    BadValue {
        table: &'static str,
        column: &'static str,
        value: String,
    },
    #[error("dialplan rejected; nothing was imported")]
    Dialplan(#[from] crate::dialplan::DialplanError),
}

/// Attaches the name of the operation to an sqlx error.
pub(crate) trait QueryContext<T> {
    fn op(self, op: &'static str) -> Result<T, StoreError>;
}

impl<T> QueryContext<T> for Result<T, sqlx::Error> {
    fn op(self, op: &'static str) -> Result<T, StoreError> {
        self.map_err(|source| StoreError::Query { op, source })
    }
}

/// Handle to the database. Cheap to clone (the pool is reference counted).
#[derive(Debug, Clone)]
pub struct Store {
    pool: AnyPool,
    backend: Backend,
    /// The PostgreSQL URL, for connections outside the pool (LISTEN).
    url: Option<Secret>,
    /// The switch node this store handle writes events for (several nodes may
    /// share one database).
    node: Option<std::sync::Arc<str>>,
    /// This process's SQLite writers take turns here ([`Store::write_turn`]).
    write_gate: std::sync::Arc<tokio::sync::Mutex<()>>,
}

/// A connection string, never printed (it may hold a password).
#[derive(Clone)]
struct Secret(std::sync::Arc<str>);

impl Secret {
    fn expose(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("…")
    }
}

impl Store {
    /// Connects and runs the migrations for the backend named by `url`.
    ///
    /// `sqlite://path?mode=rwc` creates the file if needed and switches it to WAL with
    /// `synchronous=NORMAL` and a busy timeout; `postgres://…` is used as given.
    pub async fn connect(url: &str) -> Result<Store, StoreError> {
        // Idempotent: guarded by a `Once` inside sqlx.
        sqlx::any::install_default_drivers();
        let backend = Backend::from_url(url)?;
        let connect_err = |source| StoreError::Connect { backend, source };

        let pool = match backend {
            Backend::Sqlite => {
                // An in-memory database exists once per connection: keep exactly one.
                let in_memory = url.contains(":memory:") || url.contains("mode=memory");
                let pool = AnyPoolOptions::new()
                    .max_connections(if in_memory { 1 } else { 4 })
                    .min_connections(if in_memory { 1 } else { 0 })
                    .idle_timeout(if in_memory {
                        None
                    } else {
                        Some(Duration::from_secs(600))
                    })
                    .max_lifetime(if in_memory {
                        None
                    } else {
                        Some(Duration::from_secs(1800))
                    })
                    .after_connect(|conn, _meta| {
                        Box::pin(async move {
                            conn.execute("PRAGMA foreign_keys = ON").await?;
                            conn.execute("PRAGMA synchronous = NORMAL").await?;
                            conn.execute("PRAGMA busy_timeout = 5000").await?;
                            // the event log's inserts touch its indexes' pages: keep them in memory
                            conn.execute("PRAGMA cache_size = -32768").await?;
                            Ok(())
                        })
                    })
                    .connect(url)
                    .await
                    .map_err(connect_err)?;
                if !in_memory {
                    // Persistent in the file; needs the write lock once, so not per connection.
                    pool.execute("PRAGMA journal_mode = WAL")
                        .await
                        .map_err(connect_err)?;
                }
                pool
            }
            Backend::Postgres => AnyPoolOptions::new()
                .max_connections(10)
                .acquire_timeout(Duration::from_secs(10))
                .connect(url)
                .await
                .map_err(connect_err)?,
        };

        match backend {
            Backend::Sqlite => sqlx::migrate!("migrations/sqlite").run(&pool).await?,
            Backend::Postgres => sqlx::migrate!("migrations/postgres").run(&pool).await?,
        }
        tracing::info!(?backend, "store connected and migrated");
        let url = (backend == Backend::Postgres).then(|| Secret(url.into()));
        Ok(Store {
            pool,
            backend,
            url,
            node: None,
            write_gate: Default::default(),
        })
    }

    /// This handle writes events as node `id`.
    pub fn with_node(mut self, id: &str) -> Store {
        self.node = Some(id.into());
        self
    }

    pub fn node(&self) -> Option<&str> {
        self.node.as_deref()
    }

    pub fn backend(&self) -> Backend {
        self.backend
    }

    /// A turn to write, for the busiest writers (admission, the lanes, the
    /// event log). SQLite takes one writer at a time, and one that finds the
    /// lock taken sleeps in its busy handler — up to tens of milliseconds —
    /// rather than waiting its turn; so on SQLite this process's busy writers
    /// queue here first (first come, first served). Nothing on PostgreSQL.
    pub(crate) async fn write_turn(&self) -> Option<tokio::sync::MutexGuard<'_, ()>> {
        match self.backend {
            Backend::Sqlite => Some(self.write_gate.lock().await),
            Backend::Postgres => None,
        }
    }

    /// Waits for every pooled connection to be returned and closes them.
    pub async fn close(&self) {
        self.pool.close().await;
    }

    pub(crate) fn pool(&self) -> &AnyPool {
        &self.pool
    }
}

/// Reads a boolean column. PostgreSQL returns BOOLEAN; SQLite stores 0/1 INTEGER.
pub(crate) fn get_bool(row: &AnyRow, column: &str) -> Result<bool, sqlx::Error> {
    match row.try_get::<bool, _>(column) {
        Ok(value) => Ok(value),
        Err(_) => Ok(row.try_get::<i64, _>(column)? != 0),
    }
}

/// Converts a stored integer column to a narrower type, reporting out-of-range values.
pub(crate) fn narrow<T: TryFrom<i64>>(
    value: i64,
    table: &'static str,
    column: &'static str,
) -> Result<T, StoreError> {
    T::try_from(value).map_err(|_| StoreError::BadValue {
        table,
        column,
        value: value.to_string(),
    })
}
