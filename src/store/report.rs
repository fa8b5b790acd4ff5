//! What a dialplan import did, table by table ([`ImportReport`]), and the two
//! decisions every table's sync shares: whether a wanted row is new, changed or
//! already stored (`tally`), and which stored rows the file no longer names
//! (`stale_keys`).

use std::collections::{HashMap, HashSet};
use std::fmt;

/// What happened to the rows of one table during an import.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ImportCounts {
    pub inserted: u64,
    pub updated: u64,
    pub deleted: u64,
    pub unchanged: u64,
}

impl ImportCounts {
    /// Rows written or removed.
    pub fn changes(&self) -> u64 {
        self.inserted + self.updated + self.deleted
    }
}

impl fmt::Display for ImportCounts {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} inserted, {} updated, {} deleted, {} unchanged",
            self.inserted, self.updated, self.deleted, self.unchanged
        )
    }
}

/// Per-table counts of one [`Store::import_dialplan`].
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ImportReport {
    pub accounts: ImportCounts,
    pub extensions: ImportCounts,
    pub numbers: ImportCounts,
    pub trunks: ImportCounts,
    pub apps: ImportCounts,
    pub callflows: ImportCounts,
    pub queues: ImportCounts,
}

impl ImportReport {
    /// Rows written or removed across all tables; 0 for a re-import of the same plan.
    pub fn changes(&self) -> u64 {
        self.accounts.changes()
            + self.extensions.changes()
            + self.numbers.changes()
            + self.trunks.changes()
            + self.apps.changes()
            + self.callflows.changes()
            + self.queues.changes()
    }
}

impl fmt::Display for ImportReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "accounts: {}; extensions: {}; numbers: {}; trunks: {}; apps: {}; callflows: {}; queues: {}",
            self.accounts,
            self.extensions,
            self.numbers,
            self.trunks,
            self.apps,
            self.callflows,
            self.queues
        )
    }
}

/// Whether a compared row must be inserted, updated, or left alone.
pub(super) fn tally<T: PartialEq>(
    counts: &mut ImportCounts,
    before: Option<&T>,
    wanted: &T,
) -> Write {
    match before {
        None => {
            counts.inserted += 1;
            Write::Insert
        }
        Some(row) if row == wanted => {
            counts.unchanged += 1;
            Write::Nothing
        }
        Some(_) => {
            counts.updated += 1;
            Write::Update
        }
    }
}

#[derive(PartialEq, Eq)]
pub(super) enum Write {
    Insert,
    Update,
    Nothing,
}

/// The keys of `before` (rows stored for an account) that `listed` (the file)
/// no longer names, sorted so deletions happen in a stable order.
pub(super) fn stale_keys<'a, V>(
    before: &'a HashMap<String, V>,
    listed: impl Iterator<Item = &'a str>,
) -> Vec<&'a String> {
    let listed: HashSet<&str> = listed.collect();
    let mut stale: Vec<&String> = before
        .keys()
        .filter(|k| !listed.contains(k.as_str()))
        .collect();
    stale.sort();
    stale
}
