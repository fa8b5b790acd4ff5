//! Writes the call detail record of a finished call to the store (off the call's
//! path: a failed write is logged, never blocks or fails the call).

use crate::store::{Cdr, Store};

pub fn write(store: &Store, cdr: Cdr) {
    let store = store.clone();
    tokio::spawn(async move {
        if let Err(e) = store.insert_cdr(&cdr).await {
            tracing::error!(call = %cdr.call_id, "could not write CDR: {e}");
        }
    });
}
