//! `transfer`: route the call on as if another number of the account had
//! been dialled (a blind transfer; the call layer resolves the number).

use crate::routing::{Cx, Flow, Node};

#[derive(Debug)]
pub struct Transfer {
    pub id: String,
    pub number: String,
}

impl Node for Transfer {
    fn id(&self) -> &str {
        &self.id
    }
    fn kind(&self) -> &'static str {
        "transfer"
    }
    fn enter(&self, cx: &mut Cx) -> Flow {
        cx.transfer(&self.number)
    }
}
