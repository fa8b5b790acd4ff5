//! Switchyard: a programmable telephony switch. See `docs/ARCHITECTURE.md` for the
//! layers; in short: `sip` (sans-IO protocol cores) ← `transport` (IO drivers) →
//! `switch` (shards driving transactions, registrar) → `call` (one task per call)
//! → `media` (RTP relay), with `events` carrying what happens and `store` keeping it.

pub mod call;
pub mod config;
pub mod dialplan;
pub mod events;
pub mod http;
pub mod ids;
pub mod jetstream;
pub mod keys;
pub mod media;
pub mod merchant;
pub mod metrics;
pub mod routing;
pub mod sdp;
pub mod server;
pub mod sip;
pub mod store;
pub mod switch;
pub mod transport;
pub mod webhooks;
