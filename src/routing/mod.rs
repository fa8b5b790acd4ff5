//! Call routing: what a dialled number does. Callflows (from the store) are
//! compiled per account into graphs of nodes — one module per node kind in
//! `nodes/`, all behind the [`Node`] trait — and run by a sans-IO
//! [`FlowRunner`]: it takes what happened on the call ([`Event`]) and the
//! time, and answers with what the call must do next ([`Command`]). The call
//! task executes the commands (SIP, media) and feeds the events back; nothing
//! here does IO or reads a clock.
//!
//! [`Routes`] is the compiled set for every account; the directory rebuilds it
//! whenever provisioning changes and swaps it in whole.

mod compile;
pub mod nodes;
pub mod queue;
mod runner;

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use crate::dialplan::Step;
use crate::events::HangupCause;
use crate::ids::{AccountId, QueueId};

pub use runner::{Cx, Flow, FlowRunner, Node, NodeId, NodeState};

/// Whom a dial rings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DialTarget {
    /// Every registered device of an extension of the call's account.
    Extension(String),
    /// The same, unless the extension is on a call already (then it is
    /// skipped, as if busy).
    IdleExtension(String),
    /// An outside number, through the account's trunk.
    External(String),
}

/// What the call must do.
#[derive(Debug, Clone, PartialEq)]
pub enum Command {
    /// Answer the caller with the switch as the media endpoint (once).
    Answer,
    /// Play steps to the caller; reported by [`Event::PlayDone`] with `id`.
    Play { steps: Vec<Step>, id: u64 },
    /// Stop what is playing to the caller (no `PlayDone` follows for it).
    StopPlay,
    /// Ring targets at once for `ring`; the first to answer is bridged to the
    /// caller. Reported by [`Event::DialEnded`] with `id`.
    Dial {
        targets: Vec<DialTarget>,
        ring: Duration,
        id: u64,
    },
    /// Record the caller into `box`'s voicemail for at most `max`.
    Record { r#box: String, max: Duration },
    /// Stop that recording (the message is kept).
    StopRecord,
    /// Check `pin` against `box`'s PIN and, when it matches, list its unheard
    /// messages: answered by [`Event::Mailbox`] with `id`.
    OpenMailbox { r#box: String, pin: String, id: u64 },
    /// Play `box`'s voicemail greeting — its recording when the owner uploaded
    /// one, else the default prompt; reported by [`Event::PlayDone`] with `id`.
    PlayGreeting { r#box: String, id: u64 },
    /// Play a stored message file; reported by [`Event::PlayDone`] with `id`.
    PlayFile { path: String, id: u64 },
    /// A menu decision to keep: the key (or `timeout`) at `node` and where the
    /// call went.
    Audit {
        node: String,
        input: String,
        outcome: String,
    },
    /// The owner heard this message.
    MarkHeard { message: String },
    /// The owner deleted this message of `box` (stored at `path`).
    DeleteMessage {
        r#box: String,
        message: String,
        path: String,
    },
    /// Answer and wait in an ACD queue: reported by [`Event::QueueEnded`] with `id`.
    Queue { queue: QueueId, id: u64 },
    /// Change the calling agent's queue state (answered by [`Event::AgentDone`]).
    Agent {
        action: AgentAction,
        queue: Option<QueueId>,
        id: u64,
    },
    /// Route the call as if `number` had been dialled (blind transfer).
    Transfer { number: String },
    /// End the call.
    Hangup(HangupCause),
}

/// How a dial ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DialOutcome {
    /// A target answered and is bridged to the caller: the flow is done.
    Answered,
    Busy,
    NoAnswer,
    /// Nobody could be rung (not registered, no trunk, errors).
    Unavailable,
}

impl DialOutcome {
    pub fn cause(self) -> HangupCause {
        match self {
            DialOutcome::Answered => HangupCause::NormalClearing,
            DialOutcome::Busy => HangupCause::UserBusy,
            DialOutcome::NoAnswer => HangupCause::NoAnswer,
            DialOutcome::Unavailable => HangupCause::UserNotRegistered,
        }
    }
}

/// What an agent's feature code does.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AgentAction {
    Login,
    Logout,
    Pause,
    Unpause,
}

impl AgentAction {
    /// The feature code (`*45` …) and what it does.
    pub fn from_code(dialled: &str) -> Option<(AgentAction, &str)> {
        let (code, rest) = (dialled.get(..3)?, dialled.get(3..)?);
        let action = match code {
            "*45" => AgentAction::Login,
            "*46" => AgentAction::Logout,
            "*47" => AgentAction::Pause,
            "*48" => AgentAction::Unpause,
            _ => return None,
        };
        rest.bytes()
            .all(|b| b.is_ascii_digit())
            .then_some((action, rest))
    }
}

/// How a caller's wait in a queue ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum QueueOutcome {
    /// An agent answered and is bridged to the caller: the flow is done.
    Answered,
    /// The caller pressed the queue's exit key.
    ExitKey,
    /// The queue was full (`maxlen`).
    Full,
    /// No agent logged in (`joinempty = false`, or `leavewhenempty`).
    Empty,
    /// The caller waited the queue's `max_wait`.
    Timeout,
    /// The queue is not (or no longer) in the dialplan.
    NoSuchQueue,
}

/// What happened on the call.
#[derive(Debug, Clone, PartialEq)]
pub enum Event {
    PlayDone {
        id: u64,
    },
    /// A key the caller pressed.
    Digit(char),
    DialEnded {
        id: u64,
        outcome: DialOutcome,
    },
    QueueEnded {
        id: u64,
        outcome: QueueOutcome,
    },
    /// The caller has been silent for a while (while being recorded).
    Silence,
    /// The agent command with `id` applied, changing `queues` queues.
    AgentDone {
        id: u64,
        queues: usize,
    },
    /// The mailbox asked for with `id`: its unheard messages (id, file), or
    /// `None` when the PIN was wrong.
    Mailbox {
        id: u64,
        messages: Option<Vec<(String, String)>>,
    },
}

/// A compiled callflow.
#[derive(Debug)]
pub struct Callflow {
    pub account: AccountId,
    pub number: String,
    pub name: String,
    pub(crate) nodes: Vec<Box<dyn Node>>,
    pub(crate) start: NodeId,
}

impl Callflow {
    /// A flow of one node (a number dialled directly, or a transfer target
    /// that is not a callflow).
    pub fn single(account: AccountId, number: &str, node: Box<dyn Node>) -> Arc<Callflow> {
        Arc::new(Callflow {
            account,
            number: number.to_string(),
            name: number.to_string(),
            nodes: vec![node],
            start: NodeId(0),
        })
    }

    /// A number dialled directly that rings an extension and, when nobody
    /// answers, takes a message in its voicemail box.
    pub fn extension_with_voicemail(
        account: AccountId,
        number: &str,
        ring: Duration,
    ) -> Arc<Callflow> {
        let ext = nodes::Extension {
            id: "ring".into(),
            number: number.to_string(),
            ring,
            next: Some(NodeId(1)),
        };
        let vm = nodes::Voicemail {
            id: "voicemail".into(),
            r#box: number.to_string(),
            max: Duration::from_secs(120),
        };
        Arc::new(Callflow {
            account,
            number: number.to_string(),
            name: number.to_string(),
            nodes: vec![Box::new(ext), Box::new(vm)],
            start: NodeId(0),
        })
    }

    /// A queue's own number: wait in it (hung up when the queue lets go).
    pub fn queue(q: &queue::QueueConfig) -> Arc<Callflow> {
        let node = nodes::Queue {
            id: "queue".into(),
            queue: q.id.clone(),
            next: None,
            exit: None,
        };
        let number = q.number.as_deref().unwrap_or(q.id.as_str());
        Callflow::single(q.account.clone(), number, Box::new(node))
    }

    /// An agent feature code (`*45` log in, …), for `queue` or all the agent's queues.
    pub fn agent_code(
        account: AccountId,
        dialled: &str,
        action: AgentAction,
        queue: Option<QueueId>,
    ) -> Arc<Callflow> {
        let node = nodes::AgentCode {
            id: "agent".into(),
            action,
            queue,
        };
        Callflow::single(account, dialled, Box::new(node))
    }

    /// `*97`: the caller's own voicemail box, after its PIN.
    pub fn voicemail_check(account: AccountId, r#box: &str) -> Arc<Callflow> {
        let node = nodes::VoicemailCheck {
            id: "mailbox".into(),
            r#box: r#box.to_string(),
        };
        Callflow::single(account, "*97", Box::new(node))
    }
}

/// Every account's compiled callflows, by number and by DID.
#[derive(Debug, Default)]
pub struct Routes {
    by_number: HashMap<(AccountId, String), Arc<Callflow>>,
    by_did: HashMap<String, Arc<Callflow>>,
}

impl Routes {
    /// Compiles stored callflows. A flow that does not compile (the validator
    /// keeps these out of the store) is left out with a warning.
    /// `extensions`: each account's extension numbers (for menus' direct dial).
    pub fn compile(
        rows: &[crate::store::Callflow],
        extensions: &HashMap<String, std::collections::HashSet<String>>,
    ) -> Routes {
        let mut routes = Routes::default();
        let mut by_account: HashMap<&str, Arc<std::collections::HashSet<String>>> = HashMap::new();
        for row in rows {
            let account = AccountId::from(row.account_id.as_str());
            let exts = by_account
                .entry(row.account_id.as_str())
                .or_insert_with(|| {
                    Arc::new(extensions.get(&row.account_id).cloned().unwrap_or_default())
                })
                .clone();
            match compile::callflow(account.clone(), &row.def, &exts) {
                Ok(flow) => {
                    let flow = Arc::new(flow);
                    for did in &row.def.numbers {
                        routes.by_did.insert(did.clone(), flow.clone());
                    }
                    routes
                        .by_number
                        .insert((account, row.def.number.clone()), flow);
                }
                Err(e) => {
                    tracing::warn!(account = %row.account_id, number = %row.def.number, "callflow left out: {e}")
                }
            }
        }
        routes
    }

    pub fn flow(&self, account: &str, number: &str) -> Option<&Arc<Callflow>> {
        self.by_number
            .get(&(AccountId::from(account), number.to_string()))
    }

    pub fn did(&self, number: &str) -> Option<&Arc<Callflow>> {
        self.by_did.get(number)
    }
}
