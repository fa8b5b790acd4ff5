//! The API keys a node trusts for a moment: live keys looked up in the last
//! [`KEY_TRUST`] (by the token presented), so a busy client costs no store
//! read per request. Shared by the voice API and the merchant API.

use std::sync::Arc;

use crate::store::{ApiKey, KEY_TRUST};

/// Live keys, by the token presented. Only live keys are kept;
/// revoking a key forgets it here at once and, on other nodes, waits out the
/// trust period before it returns.
#[derive(Default)]
pub struct KeyCache(dashmap::DashMap<String, (Arc<ApiKey>, std::time::Instant)>);

impl KeyCache {
    pub(crate) fn get(&self, token: &str) -> Option<Arc<ApiKey>> {
        let hit = self.0.get(token)?;
        (hit.1.elapsed() < KEY_TRUST).then(|| hit.0.clone())
    }

    pub(crate) fn put(&self, token: &str, key: Arc<ApiKey>) {
        if self.0.len() > 10_000 {
            self.0.retain(|_, (_, at)| at.elapsed() < KEY_TRUST);
        }
        self.0
            .insert(token.to_string(), (key, std::time::Instant::now()));
    }

    /// Stops trusting key `id` (revoked through this node).
    pub fn forget(&self, id: &str) {
        self.0.retain(|_, (k, _)| k.id != id);
    }
}
