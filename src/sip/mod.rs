//! Sans-IO SIP: message parsing and helpers over rsip, the RFC 3261 transaction
//! layer, dialogs, digest authentication, the registrar's decisions and SDP
//! rewriting. Nothing here touches a socket or reads the clock.

pub mod auth;
pub mod bruteforce;
pub mod dialog;
pub mod ephemeral;
pub mod message;
pub mod registrar;
pub mod target;
pub mod transaction;
