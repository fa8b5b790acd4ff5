//! The node kinds of a callflow, one module each, all implementing
//! [`Node`](super::Node). Shared here: what a node that dials does when its
//! dial ends.

mod agent_code;
mod extension;
mod external;
mod hangup;
pub(crate) mod ivr_menu;
mod play;
mod queue;
mod ring_group;
mod time_condition;
mod transfer;
mod voicemail;
mod voicemail_check;

pub use agent_code::{confirmation, AgentCode};
pub use extension::Extension;
pub use external::External;
pub use hangup::Hangup;
pub use ivr_menu::IvrMenu;
pub use play::Play;
pub use queue::Queue;
pub use ring_group::RingGroup;
pub use time_condition::TimeCondition;
pub use transfer::Transfer;
pub use voicemail::Voicemail;
pub use voicemail_check::VoicemailCheck;

use super::{Cx, DialOutcome, Event, Flow, NodeId};

/// A dial this node waits for ended: answered is the end of the flow; else the
/// call goes to `next`, or is hung up with the dial's cause.
fn after_dial(cx: &mut Cx, outcome: DialOutcome, next: Option<NodeId>) -> Flow {
    match (outcome, next) {
        (DialOutcome::Answered, _) => Flow::Done,
        (_, Some(n)) => Flow::Goto(n),
        (o, None) => cx.hangup(o.cause()),
    }
}

/// The outcome of the dial this node waits for, if `ev` is it.
fn dial_ended(cx: &Cx, ev: &Event) -> Option<DialOutcome> {
    match ev {
        Event::DialEnded { id, outcome } if cx.is_pending(*id) => Some(*outcome),
        _ => None,
    }
}

#[cfg(test)]
mod tests;
