//! An in-memory snapshot of provisioning (accounts, extensions, apps, numbers, trunks)
//! read from the store (callflows compiled for routing), so the SIP hot path never
//! waits on the database. The
//! switch swaps in a fresh snapshot whenever an import changed the provisioning version.

use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};

use crate::routing::queue::QueueConfig;
use crate::routing::{Callflow, Routes};
use crate::store::{Account, App, Extension, PhoneNumber, PublicKind, Store, StoreError, Trunk};

#[derive(Default)]
pub struct Directory {
    accounts: HashMap<String, Account>,
    by_domain: HashMap<String, String>,
    default_account: Option<String>,
    extensions: HashMap<(String, String), Extension>,
    apps: HashMap<(String, String), App>,
    numbers: HashMap<String, PhoneNumber>,
    trunks: Vec<Trunk>,
    /// Every account's callflows, compiled (swapped with the rest of the snapshot).
    routes: std::sync::Arc<Routes>,
    /// Every account's ACD queues, compiled for the queue engine.
    queues: Vec<QueueConfig>,
    /// The documents as stored, to tell what the next snapshot changed.
    callflow_docs: HashMap<(String, String), crate::store::Callflow>,
    queue_docs: HashMap<(String, String), crate::store::Queue>,
    /// The voice API's integer ids, both ways (by kind and account, so a
    /// lookup borrows its strings).
    pks: HashMap<PublicKind, HashMap<String, HashMap<String, i64>>>,
    by_pk: HashMap<(PublicKind, String, i64), String>,
}

/// What happened to a provisioning document between two snapshots.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DocChange {
    Created,
    Edited,
    Deleted,
}

/// One changed document: its account, type (`account`, `user`, `device`,
/// `vmbox`, `callflow`, `media`, `queue`), id and change.
pub type Changed = (String, &'static str, String, DocChange);

/// The documents of `old` and `new` (keyed by account and id) that differ.
fn diff<V: PartialEq>(
    out: &mut Vec<Changed>,
    doc_type: &'static str,
    old: &HashMap<(String, String), V>,
    new: &HashMap<(String, String), V>,
) {
    for (k, v) in new {
        match old.get(k) {
            None => out.push((k.0.clone(), doc_type, k.1.clone(), DocChange::Created)),
            Some(o) if o != v => out.push((k.0.clone(), doc_type, k.1.clone(), DocChange::Edited)),
            Some(_) => {}
        }
    }
    for k in old.keys().filter(|k| !new.contains_key(*k)) {
        out.push((k.0.clone(), doc_type, k.1.clone(), DocChange::Deleted));
    }
}

impl Directory {
    pub async fn load(store: &Store) -> Result<Directory, StoreError> {
        let mut d = Directory::default();
        for a in store.list_accounts().await? {
            for e in store.list_extensions(&a.id).await? {
                d.extensions.insert((a.id.clone(), e.number.clone()), e);
            }
            if a.is_default {
                d.default_account = Some(a.id.clone());
            }
            d.by_domain
                .insert(a.sip_domain.to_ascii_lowercase(), a.id.clone());
            d.accounts.insert(a.id.clone(), a);
        }
        for app in store.list_apps().await? {
            d.apps
                .insert((app.account_id.clone(), app.number.clone()), app);
        }
        for n in store.list_phone_numbers().await? {
            d.numbers.insert(n.number.clone(), n);
        }
        d.trunks = store.list_trunks().await?;
        let mut numbers: HashMap<String, std::collections::HashSet<String>> = HashMap::new();
        for (account, number) in d.extensions.keys() {
            numbers
                .entry(account.clone())
                .or_default()
                .insert(number.clone());
        }
        let callflows = store.list_callflows().await?;
        d.routes = std::sync::Arc::new(Routes::compile(&callflows, &numbers));
        d.callflow_docs = callflows
            .into_iter()
            .map(|c| ((c.account_id.clone(), c.def.number.clone()), c))
            .collect();
        let queues = store.list_queues().await?;
        d.queues = queues
            .iter()
            .map(|q| QueueConfig::from_def(&q.account_id, &q.def))
            .collect();
        d.queue_docs = queues
            .into_iter()
            .map(|q| ((q.account_id.clone(), q.def.id.to_string()), q))
            .collect();
        for p in store.list_public_ids().await? {
            d.by_pk
                .insert((p.kind, p.account_id.clone(), p.pk), p.doc_id.clone());
            d.pks
                .entry(p.kind)
                .or_default()
                .entry(p.account_id)
                .or_default()
                .insert(p.doc_id, p.pk);
        }
        Ok(d)
    }

    /// The documents this snapshot created, edited or deleted since `old`:
    /// accounts, extensions (each a `user`, its phone a `device`, its
    /// voicemail box a `vmbox`), callflows, apps (`media`: what they play),
    /// queues — in that order.
    pub fn changes_since(&self, old: &Directory) -> Vec<Changed> {
        let mut out = Vec::new();
        let accounts = |d: &Directory| -> HashMap<(String, String), Account> {
            d.accounts
                .iter()
                .map(|(id, a)| ((id.clone(), id.clone()), a.clone()))
                .collect()
        };
        diff(&mut out, "account", &accounts(old), &accounts(self));
        diff(&mut out, "user", &old.extensions, &self.extensions);
        let devices = |d: &Directory| -> HashMap<(String, String), (String, String)> {
            d.extensions
                .iter()
                .map(|(k, e)| {
                    (
                        k.clone(),
                        (e.password.clone(), e.caller_id.clone().unwrap_or_default()),
                    )
                })
                .collect()
        };
        diff(&mut out, "device", &devices(old), &devices(self));
        let boxes = |d: &Directory| -> HashMap<(String, String), Option<String>> {
            d.extensions
                .iter()
                .filter(|(_, e)| e.voicemail)
                .map(|(k, e)| (k.clone(), e.voicemail_pin.clone()))
                .collect()
        };
        diff(&mut out, "vmbox", &boxes(old), &boxes(self));
        diff(
            &mut out,
            "callflow",
            &old.callflow_docs,
            &self.callflow_docs,
        );
        diff(&mut out, "media", &old.apps, &self.apps);
        diff(&mut out, "queue", &old.queue_docs, &self.queue_docs);
        out
    }

    pub fn account(&self, id: &str) -> Option<&Account> {
        self.accounts.get(id)
    }

    /// The account a request for `host` belongs to: by SIP domain, or the default
    /// account when the host is an IP address (a request addressed to the switch).
    pub fn account_for_host(&self, host: &str) -> Option<&Account> {
        let h = host.trim_start_matches('[').trim_end_matches(']');
        if h.parse::<IpAddr>().is_ok() {
            return self
                .default_account
                .as_ref()
                .and_then(|id| self.accounts.get(id));
        }
        let id = self.by_domain.get(&h.to_ascii_lowercase())?;
        self.accounts.get(id)
    }

    pub fn default_account(&self) -> Option<&Account> {
        self.default_account
            .as_ref()
            .and_then(|id| self.accounts.get(id))
    }

    pub fn extension(&self, account: &str, number: &str) -> Option<&Extension> {
        self.extensions
            .get(&(account.to_string(), number.to_string()))
    }

    /// The media app answering `number` in `account`, if one does.
    pub fn app(&self, account: &str, number: &str) -> Option<&App> {
        self.apps.get(&(account.to_string(), number.to_string()))
    }

    /// A DID, dialled with or without the leading `+`.
    pub fn number(&self, dialled: &str) -> Option<&PhoneNumber> {
        if dialled.starts_with('+') {
            self.numbers.get(dialled)
        } else {
            self.numbers.get(&format!("+{dialled}"))
        }
    }

    /// The trunk whose gateway is this source address. IP and port must both match:
    /// matching on the IP alone would let any phone on the carrier's host skip auth.
    pub fn trunk_by_source(&self, src: SocketAddr) -> Option<&Trunk> {
        self.trunks.iter().find(|t| {
            t.port == src.port()
                && t.host
                    .parse::<IpAddr>()
                    .map(|ip| ip == src.ip())
                    .unwrap_or(false)
        })
    }

    /// The callflow dialled as `number` in `account`.
    pub fn callflow(&self, account: &str, number: &str) -> Option<&std::sync::Arc<Callflow>> {
        self.routes.flow(account, number)
    }

    /// The callflow a DID reaches, dialled with or without the leading `+`.
    pub fn callflow_for_did(&self, dialled: &str) -> Option<&std::sync::Arc<Callflow>> {
        if dialled.starts_with('+') {
            self.routes.did(dialled)
        } else {
            self.routes.did(&format!("+{dialled}"))
        }
    }

    /// Every queue of every account.
    pub fn queues(&self) -> &[QueueConfig] {
        &self.queues
    }

    /// The queue `id` of `account`.
    pub fn queue(&self, account: &str, id: &str) -> Option<&QueueConfig> {
        self.queues
            .iter()
            .find(|q| q.account.as_str() == account && q.id.as_str() == id)
    }

    /// The queue whose number is `number` in `account`.
    pub fn queue_by_number(&self, account: &str, number: &str) -> Option<&QueueConfig> {
        self.queues
            .iter()
            .find(|q| q.account.as_str() == account && q.number.as_deref() == Some(number))
    }

    /// The voice API's id of a user (extension number), queue (id) or number.
    pub fn pk(&self, kind: PublicKind, account: &str, doc: &str) -> Option<i64> {
        self.pks.get(&kind)?.get(account)?.get(doc).copied()
    }

    /// The document a voice API id names in `account` (its number or id).
    pub fn by_pk(&self, kind: PublicKind, account: &str, pk: i64) -> Option<&str> {
        self.by_pk
            .get(&(kind, account.to_string(), pk))
            .map(String::as_str)
    }

    /// An account's extensions, in number order.
    pub fn extensions_of(&self, account: &str) -> Vec<&Extension> {
        let mut v: Vec<&Extension> = self
            .extensions
            .iter()
            .filter(|((a, _), _)| a == account)
            .map(|(_, e)| e)
            .collect();
        v.sort_by(|a, b| a.number.cmp(&b.number));
        v
    }

    /// An account's phone numbers, in number order.
    pub fn numbers_of(&self, account: &str) -> Vec<&PhoneNumber> {
        let mut v: Vec<&PhoneNumber> = self
            .numbers
            .values()
            .filter(|n| n.account_id == account)
            .collect();
        v.sort_by(|a, b| a.number.cmp(&b.number));
        v
    }

    pub fn trunk_for_account(&self, account: &str) -> Option<&Trunk> {
        self.trunks.iter().find(|t| t.account_id == account)
    }
}
