//! Calls: one task per call owns both legs (channels), their dialogs, the media
//! relay and the timers; shards talk to it through a `CallHandle`. `admit` decides
//! whether a new INVITE may become a call (trunk recognition or digest auth, then
//! where it goes); `b2bua` runs the call. `sms` sends text messages over SIP.

pub mod acd;
pub mod admit;
pub mod app;
pub mod b2bua;
pub mod channel;
pub mod plan;
pub mod sms;

pub use crate::switch::calls::{
    new_branch, CallHandle, CallInput, CallSender, A_LEG_TOKEN, BRANCH_PREFIX,
};
pub use admit::{admit, Admitter};
