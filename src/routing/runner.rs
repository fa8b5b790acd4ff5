//! The sans-IO runner of one call's flow: it holds the current node and that
//! node's scratch state, hands each [`Event`] (and each expired deadline) to
//! the node, follows the node's [`Flow`] answer to the next node, and collects
//! the [`Command`]s the call must carry out. Time is always an argument.

use std::sync::Arc;
use std::time::{Duration, Instant};

use super::{Callflow, Command, DialTarget, Event};
use crate::dialplan::Step;
use crate::events::HangupCause;

/// Index of a node in its callflow.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct NodeId(pub usize);

/// Where the flow goes after a node has seen something.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Flow {
    /// Keep waiting in this node.
    Stay,
    /// Enter another node.
    Goto(NodeId),
    /// Nothing more to do: the call is bridged, transferred or hung up.
    Done,
}

/// A node's scratch state, reset when the node is entered.
#[derive(Debug, Default)]
pub struct NodeState {
    /// Id of the play or dial the node waits for.
    pub pending: Option<u64>,
    /// Attempts made (menu replays, group members rung).
    pub tries: u32,
    /// Ring order of a group's members (indexes), and how far it got.
    pub order: Vec<usize>,
    pub member: usize,
    /// An IVR menu waits for a key (its prompt has played).
    pub waiting_key: bool,
    /// Keys collected so far (a PIN, a number dialled from a menu).
    pub digits: String,
    /// A menu waits for more keys of a number.
    pub collecting: bool,
    /// A group stops ringing members at this time.
    pub until: Option<Instant>,
    /// Messages still to play (id, file).
    pub queue: Vec<(String, String)>,
}

/// What a node sees and may do while it handles something.
pub struct Cx<'a> {
    now: Instant,
    wall_secs: i64,
    state: &'a mut NodeState,
    out: &'a mut Vec<Command>,
    next_id: &'a mut u64,
    deadline: &'a mut Option<Instant>,
    answered: &'a mut bool,
}

impl Cx<'_> {
    pub fn now(&self) -> Instant {
        self.now
    }

    /// Seconds since the Unix epoch (UTC), for time conditions.
    pub fn wall_secs(&self) -> i64 {
        self.wall_secs
    }

    pub fn state(&mut self) -> &mut NodeState {
        self.state
    }

    fn id(&mut self) -> u64 {
        *self.next_id += 1;
        *self.next_id
    }

    /// Answers the caller unless the flow already did.
    pub fn answer(&mut self) {
        if !*self.answered {
            *self.answered = true;
            self.out.push(Command::Answer);
        }
    }

    /// Plays steps to the caller (answering first); the node waits for its id.
    pub fn play(&mut self, steps: Vec<Step>) -> u64 {
        self.answer();
        let id = self.id();
        self.out.push(Command::Play { steps, id });
        self.state.pending = Some(id);
        id
    }

    pub fn stop_play(&mut self) {
        self.out.push(Command::StopPlay);
    }

    /// Rings targets; the node waits for the dial's id.
    pub fn dial(&mut self, targets: Vec<DialTarget>, ring: Duration) -> u64 {
        let id = self.id();
        self.out.push(Command::Dial { targets, ring, id });
        self.state.pending = Some(id);
        id
    }

    /// Records the caller into a voicemail box (answering first).
    pub fn record(&mut self, r#box: &str, max: Duration) {
        self.answer();
        self.out.push(Command::Record {
            r#box: r#box.to_string(),
            max,
        });
    }

    /// Answers and joins an ACD queue; the node waits for its id.
    pub fn queue(&mut self, queue: &crate::ids::QueueId) -> u64 {
        self.answer();
        let id = self.id();
        self.out.push(Command::Queue {
            queue: queue.clone(),
            id,
        });
        self.state.pending = Some(id);
        id
    }

    /// Answers and changes the calling agent's queue state; the node waits for its id.
    pub fn agent(&mut self, action: super::AgentAction, queue: Option<crate::ids::QueueId>) -> u64 {
        self.answer();
        let id = self.id();
        self.out.push(Command::Agent { action, queue, id });
        self.state.pending = Some(id);
        id
    }

    /// Asks the call for a mailbox; the node waits for the answer's id.
    pub fn open_mailbox(&mut self, r#box: &str, pin: &str) -> u64 {
        let id = self.id();
        self.out.push(Command::OpenMailbox {
            r#box: r#box.to_string(),
            pin: pin.to_string(),
            id,
        });
        self.state.pending = Some(id);
        id
    }

    /// Plays `box`'s voicemail greeting (answering first); the node waits for its id.
    pub fn play_greeting(&mut self, r#box: &str) -> u64 {
        self.answer();
        let id = self.id();
        self.out.push(Command::PlayGreeting {
            r#box: r#box.to_string(),
            id,
        });
        self.state.pending = Some(id);
        id
    }

    /// Plays a stored file to the caller; the node waits for its id.
    pub fn play_file(&mut self, path: &str) -> u64 {
        let id = self.id();
        self.out.push(Command::PlayFile {
            path: path.to_string(),
            id,
        });
        self.state.pending = Some(id);
        id
    }

    /// Deletes a message of `box` (its row and its file).
    pub fn delete_message(&mut self, r#box: &str, message: &str, path: &str) {
        self.out.push(Command::DeleteMessage {
            r#box: r#box.to_string(),
            message: message.to_string(),
            path: path.to_string(),
        });
    }

    pub fn mark_heard(&mut self, message: &str) {
        self.out.push(Command::MarkHeard {
            message: message.to_string(),
        });
    }

    /// Keeps a menu decision (the call stores and announces it).
    pub fn audit(&mut self, node: &str, input: &str, outcome: &str) {
        self.out.push(Command::Audit {
            node: node.to_string(),
            input: input.to_string(),
            outcome: outcome.to_string(),
        });
    }

    pub fn stop_record(&mut self) {
        self.out.push(Command::StopRecord);
    }

    pub fn transfer(&mut self, number: &str) -> Flow {
        self.out.push(Command::Transfer {
            number: number.to_string(),
        });
        Flow::Done
    }

    pub fn hangup(&mut self, cause: HangupCause) -> Flow {
        self.out.push(Command::Hangup(cause));
        Flow::Done
    }

    /// Wakes the node at `at` (`on_timeout`), replacing any earlier deadline.
    pub fn wake_at(&mut self, at: Option<Instant>) {
        *self.deadline = at;
    }

    /// Whether `ev` answers what the node waits for.
    pub fn is_pending(&self, id: u64) -> bool {
        self.state.pending == Some(id)
    }
}

/// One kind of callflow node. Each kind lives in its own module of `nodes/`.
pub trait Node: Send + Sync + std::fmt::Debug {
    fn id(&self) -> &str;
    fn kind(&self) -> &'static str;
    /// The call enters the node.
    fn enter(&self, cx: &mut Cx) -> Flow;
    /// Something happened on the call while it is in the node.
    fn on_event(&self, _cx: &mut Cx, _ev: &Event) -> Flow {
        Flow::Stay
    }
    /// The deadline the node asked for passed.
    fn on_timeout(&self, _cx: &mut Cx) -> Flow {
        Flow::Stay
    }
}

/// Nodes entered in a row without waiting for anything (a loop of time
/// conditions) before the flow gives up.
const MAX_HOPS: u32 = 32;

/// Runs one call's flow.
#[derive(Debug)]
pub struct FlowRunner {
    flow: Arc<Callflow>,
    at: NodeId,
    state: NodeState,
    deadline: Option<Instant>,
    next_id: u64,
    answered: bool,
    done: bool,
    /// (node id, kind) of every node entered, in order.
    trail: Vec<(String, &'static str)>,
}

impl FlowRunner {
    /// Starts `flow`; `answered` says whether the caller is answered already
    /// (a transfer of an answered call).
    pub fn start(
        flow: Arc<Callflow>,
        answered: bool,
        now: Instant,
        wall_secs: i64,
    ) -> (FlowRunner, Vec<Command>) {
        let start = flow.start;
        let mut r = FlowRunner {
            flow,
            at: start,
            state: NodeState::default(),
            deadline: None,
            next_id: 0,
            answered,
            done: false,
            trail: Vec::new(),
        };
        let mut out = Vec::new();
        r.enter(start, now, wall_secs, &mut out);
        (r, out)
    }

    pub fn flow(&self) -> &Arc<Callflow> {
        &self.flow
    }

    pub fn is_done(&self) -> bool {
        self.done
    }

    pub fn deadline(&self) -> Option<Instant> {
        if self.done {
            None
        } else {
            self.deadline
        }
    }

    /// The nodes entered so far (id, kind).
    pub fn trail(&self) -> &[(String, &'static str)] {
        &self.trail
    }

    pub fn on_event(&mut self, ev: &Event, now: Instant, wall_secs: i64) -> Vec<Command> {
        let mut out = Vec::new();
        if self.done {
            return out;
        }
        let (node, at) = (self.flow.clone(), self.at.0);
        let flow = {
            let mut cx = self.cx(now, wall_secs, &mut out);
            node.nodes[at].on_event(&mut cx, ev)
        };
        self.follow(flow, now, wall_secs, &mut out);
        out
    }

    /// Call when [`deadline`](Self::deadline) has passed.
    pub fn on_timeout(&mut self, now: Instant, wall_secs: i64) -> Vec<Command> {
        let mut out = Vec::new();
        match self.deadline {
            Some(d) if !self.done && d <= now => {}
            _ => return out,
        }
        self.deadline = None;
        let (node, at) = (self.flow.clone(), self.at.0);
        let flow = {
            let mut cx = self.cx(now, wall_secs, &mut out);
            node.nodes[at].on_timeout(&mut cx)
        };
        self.follow(flow, now, wall_secs, &mut out);
        out
    }

    fn cx<'a>(&'a mut self, now: Instant, wall_secs: i64, out: &'a mut Vec<Command>) -> Cx<'a> {
        Cx {
            now,
            wall_secs,
            state: &mut self.state,
            out,
            next_id: &mut self.next_id,
            deadline: &mut self.deadline,
            answered: &mut self.answered,
        }
    }

    fn follow(&mut self, flow: Flow, now: Instant, wall_secs: i64, out: &mut Vec<Command>) {
        match flow {
            Flow::Stay => {}
            Flow::Done => self.done = true,
            Flow::Goto(next) => self.enter(next, now, wall_secs, out),
        }
    }

    fn enter(&mut self, mut at: NodeId, now: Instant, wall_secs: i64, out: &mut Vec<Command>) {
        let flow = self.flow.clone();
        for _ in 0..MAX_HOPS {
            let Some(node) = flow.nodes.get(at.0) else {
                break;
            };
            self.at = at;
            self.state = NodeState::default();
            self.deadline = None;
            self.trail.push((node.id().to_string(), node.kind()));
            let next = {
                let mut cx = self.cx(now, wall_secs, out);
                node.enter(&mut cx)
            };
            match next {
                Flow::Stay => return,
                Flow::Done => {
                    self.done = true;
                    return;
                }
                Flow::Goto(n) => at = n,
            }
        }
        tracing::warn!(flow = %self.flow.number, "callflow goes round without waiting; hanging up");
        out.push(Command::Hangup(HangupCause::NetworkOutOfOrder));
        self.done = true;
    }
}
