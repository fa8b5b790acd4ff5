//! `hangup`: end the call with a reason (normal, busy, rejected, unavailable).

use crate::events::HangupCause;
use crate::routing::{Cx, Flow, Node};

#[derive(Debug)]
pub struct Hangup {
    pub id: String,
    pub cause: HangupCause,
}

impl Node for Hangup {
    fn id(&self) -> &str {
        &self.id
    }
    fn kind(&self) -> &'static str {
        "hangup"
    }
    fn enter(&self, cx: &mut Cx) -> Flow {
        cx.hangup(self.cause)
    }
}
