//! The ACD driver: one task owns the queue engine ([`Acd`]) for the whole
//! switch. Calls send it what happens to them ([`AcdMsg`]); it feeds the
//! engine, carries out the engine's actions by telling each waiting call what
//! to do ([`QueueNotice`]), publishes the QUEUE_* events, and keeps a
//! snapshot of every queue's figures that readers (the HTTP layer) take
//! without touching the engine. Once a second it follows the directory (a new
//! dialplan reconfigures the queues, agents keep their state) and the
//! registrar (an agent with no registered device is not offered calls).

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::{mpsc, oneshot, watch};
use tokio::time::Instant;

use crate::events::{now_ms, Event, QueueEvent};
use crate::ids::{AccountId, CallId, ExtensionNumber, QueueId};
use crate::routing::queue::{
    Acd, Action, AgentKey, AgentView, Exit, JoinError, LeaveReason, OfferEnd, QueueConfig,
    QueueKey, QueueStats,
};
use crate::switch::directory::Directory;
use crate::switch::Switch;

/// Who is waiting, for the events.
#[derive(Debug, Clone)]
pub struct CallerInfo {
    pub number: String,
    pub name: Option<String>,
    /// The number the caller dialled.
    pub dnis: String,
}

/// What a waiting call is told.
#[derive(Debug)]
pub enum QueueNotice {
    /// In the queue: hear `moh`; `exit_key` leaves.
    Joined {
        position: usize,
        moh: String,
        exit_key: Option<char>,
    },
    Refused(JoinError),
    /// Ring these agents for `ring`; report with [`AcdMsg::OfferEnded`].
    Offer {
        agents: Vec<ExtensionNumber>,
        ring: Duration,
    },
    Announce {
        position: usize,
        estimate: Option<Duration>,
        say_position: bool,
        say_estimate: bool,
    },
    /// The queue let the caller go.
    Leave(LeaveReason),
}

/// What the driver is told.
#[derive(Debug)]
pub enum AcdMsg {
    Join {
        call: CallId,
        queue: QueueKey,
        caller: CallerInfo,
        notify: mpsc::UnboundedSender<QueueNotice>,
    },
    /// The caller left on its own (hung up, exit key).
    Leave { call: CallId, exit: Exit },
    OfferEnded {
        call: CallId,
        end: OfferEnd,
        /// Why each agent that did not answer did not (`busy`, `no_answer`, …).
        reasons: Vec<(ExtensionNumber, &'static str)>,
    },
    /// The caller's call with its agent is over.
    CallEnded { call: CallId },
    Login {
        agent: AgentKey,
        queue: Option<QueueId>,
        reply: oneshot::Sender<usize>,
    },
    Logout {
        agent: AgentKey,
        queue: Option<QueueId>,
        reply: oneshot::Sender<usize>,
    },
    /// Pause (with a reason) or unpause (`None`) in every queue.
    Pause {
        agent: AgentKey,
        reason: Option<String>,
        reply: oneshot::Sender<bool>,
    },
}

/// One queue at one instant, for readers.
#[derive(Debug, Clone, serde::Serialize)]
pub struct QueueSnapshot {
    #[serde(flatten)]
    pub stats: QueueStats,
    pub agents: Vec<AgentView>,
}

/// Every queue's figures, by (account, queue), and when they were taken.
#[derive(Debug, Clone, Default)]
pub struct AcdSnapshot {
    pub queues: HashMap<QueueKey, QueueSnapshot>,
    pub taken_ms: i64,
}

/// How calls and readers reach the driver. Cheap to clone.
#[derive(Clone)]
pub struct AcdHandle {
    tx: mpsc::UnboundedSender<AcdMsg>,
    snapshot: watch::Receiver<Arc<AcdSnapshot>>,
}

impl AcdHandle {
    /// A handle with no driver behind it: no queues, messages dropped (for
    /// tests of the readers).
    pub fn detached() -> AcdHandle {
        let (tx, _) = mpsc::unbounded_channel();
        let (_, snapshot) = watch::channel(Arc::new(AcdSnapshot::default()));
        AcdHandle { tx, snapshot }
    }

    pub fn send(&self, msg: AcdMsg) {
        let _ = self.tx.send(msg);
    }

    /// The latest figures (never waits on the engine).
    pub fn snapshot(&self) -> Arc<AcdSnapshot> {
        self.snapshot.borrow().clone()
    }

    /// Logs an agent in (to `queue`, or to every queue listing it); how many queues.
    pub async fn login(&self, agent: AgentKey, queue: Option<QueueId>) -> usize {
        let (reply, rx) = oneshot::channel();
        self.send(AcdMsg::Login {
            agent,
            queue,
            reply,
        });
        rx.await.unwrap_or(0)
    }

    pub async fn logout(&self, agent: AgentKey, queue: Option<QueueId>) -> usize {
        let (reply, rx) = oneshot::channel();
        self.send(AcdMsg::Logout {
            agent,
            queue,
            reply,
        });
        rx.await.unwrap_or(0)
    }

    pub async fn pause(&self, agent: AgentKey, reason: Option<String>) -> bool {
        let (reply, rx) = oneshot::channel();
        self.send(AcdMsg::Pause {
            agent,
            reason,
            reply,
        });
        rx.await.unwrap_or(false)
    }
}

/// A caller the driver knows: the engine's facts plus what the events say.
struct Stay {
    queue: QueueKey,
    caller: CallerInfo,
    notify: mpsc::UnboundedSender<QueueNotice>,
    queuecall_id: String,
    joined_ms: i64,
    /// Agents rung now, since when.
    ringing: Vec<(ExtensionNumber, i64)>,
    /// The agent talking to the caller, since when.
    agent: Option<(ExtensionNumber, i64)>,
}

struct Driver {
    sw: Arc<Switch>,
    acd: Acd,
    stays: HashMap<CallId, Stay>,
    snapshot: watch::Sender<Arc<AcdSnapshot>>,
    directory: Option<Arc<Directory>>,
    /// The engine changed since the last snapshot.
    dirty: bool,
    published: Instant,
    /// Agents' choices go to the store through one writer, in order.
    saver: mpsc::UnboundedSender<crate::store::AgentState>,
}

/// Starts the driver for `sw`'s queues.
pub fn spawn(sw: Arc<Switch>) -> AcdHandle {
    let (tx, rx) = mpsc::unbounded_channel();
    let (snap_tx, snap_rx) = watch::channel(Arc::new(AcdSnapshot::default()));
    let (saver, mut to_save) = mpsc::unbounded_channel::<crate::store::AgentState>();
    let store = sw.store.clone();
    tokio::spawn(async move {
        while let Some(s) = to_save.recv().await {
            if let Err(e) = store.save_agent_state(&s, now_ms()).await {
                tracing::error!(agent = %s.extension, error = %e, "agent state not stored");
            }
        }
    });
    let driver = Driver {
        saver,
        sw,
        acd: Acd::new(rand::random()),
        stays: HashMap::new(),
        snapshot: snap_tx,
        directory: None,
        dirty: true,
        published: Instant::now(),
    };
    let busy = driver.sw.watch_busy();
    tokio::spawn(driver.run(rx, busy));
    AcdHandle {
        tx,
        snapshot: snap_rx,
    }
}

/// How often the driver follows the directory and registrations, and at
/// least how often it republishes the figures (longest wait moves on).
const TICK: Duration = Duration::from_secs(1);
/// At most this stale are the published figures after a change (a burst of
/// calls makes one snapshot, not one each).
const FRESH: Duration = Duration::from_millis(100);

impl Driver {
    async fn run(
        mut self,
        mut rx: mpsc::UnboundedReceiver<AcdMsg>,
        mut busy: Option<mpsc::UnboundedReceiver<crate::switch::BusyChange>>,
    ) {
        self.follow();
        self.restore().await;
        self.follow();
        let mut tick = Instant::now() + TICK;
        loop {
            let mut due = self
                .acd
                .next_deadline()
                .map(Instant::from_std)
                .unwrap_or(tick)
                .min(tick);
            if self.dirty {
                due = due.min(self.published + FRESH);
            }
            tokio::select! {
                msg = rx.recv() => match msg {
                    Some(m) => {
                        self.on_msg(m);
                        // take what else is queued before deciding
                        while let Ok(m) = rx.try_recv() {
                            self.on_msg(m);
                        }
                    }
                    None => break,
                },
                Some(c) = recv_busy(busy.as_mut()) => {
                    // exact, not once a second: an agent is held back (or free
                    // again) the moment its other call starts or ends
                    let agent = (AccountId::from(c.account), ExtensionNumber::from(c.extension));
                    self.dirty |= self.acd.set_in_use(&agent, c.busy);
                }
                _ = tokio::time::sleep_until(due) => {}
            }
            if Instant::now() >= tick {
                self.follow();
                self.dirty = true;
                tick = Instant::now() + TICK;
            }
            let actions = self.acd.poll(Instant::now().into_std());
            self.dirty |= !actions.is_empty();
            for a in actions {
                self.act(a);
            }
            if self.dirty && Instant::now() >= self.published + FRESH {
                self.publish();
            }
        }
    }

    /// Stores the agent's own choices (after each change).
    fn save(&self, agent: &AgentKey) {
        let c = self.acd.agent_choices(agent);
        let _ = self.saver.send(crate::store::AgentState {
            account_id: agent.0.to_string(),
            extension: agent.1.to_string(),
            logged_in: c.logged_in.iter().map(ToString::to_string).collect(),
            logged_out: c.logged_out.iter().map(ToString::to_string).collect(),
            paused: c.paused,
        });
    }

    /// At start-up: the agents' choices from before the restart (logins to
    /// queues, logouts, pauses) apply again over the dialplan's members.
    async fn restore(&mut self) {
        let states = match self.sw.store.agent_states().await {
            Ok(s) => s,
            Err(e) => {
                tracing::error!(error = %e, "agent states unreadable; dialplan defaults apply");
                return;
            }
        };
        for s in states {
            let agent = (
                AccountId::from(s.account_id),
                ExtensionNumber::from(s.extension),
            );
            for q in &s.logged_in {
                self.acd.login(&agent, Some(&QueueId::from(q.as_str())));
            }
            for q in &s.logged_out {
                self.acd.logout(&agent, Some(&QueueId::from(q.as_str())));
            }
            if let Some(reason) = s.paused {
                self.acd.pause(&agent, Some(reason));
            }
            tracing::info!(agent = %agent.1, "agent state restored");
        }
        self.dirty = true;
    }

    /// Reconfigures on a new directory; marks agents without a device.
    fn follow(&mut self) {
        let dir = self.sw.directory();
        if !self
            .directory
            .as_ref()
            .is_some_and(|d| Arc::ptr_eq(d, &dir))
        {
            let configs: Vec<QueueConfig> = dir.queues().to_vec();
            let now = Instant::now().into_std();
            for a in self.acd.configure(configs, now) {
                self.act(a);
            }
            self.directory = Some(dir);
        }
        let now = now_ms();
        let agents: Vec<AgentKey> = self.acd.agent_keys().cloned().collect();
        for agent in agents {
            let live = !self
                .sw
                .registrations
                .lookup(agent.0.as_str(), agent.1.as_str(), now)
                .is_empty();
            self.acd.set_reachable(&agent, live);
            // on a call the queues did not give it (a queue call counts too, but
            // then the agent is not free anyway)
            let busy = self.sw.is_busy(agent.0.as_str(), agent.1.as_str());
            let _ = self.acd.set_in_use(&agent, busy);
        }
    }

    fn on_msg(&mut self, msg: AcdMsg) {
        let now = Instant::now().into_std();
        self.dirty = true;
        match msg {
            AcdMsg::Join {
                call,
                queue,
                caller,
                notify,
            } => self.join(call, queue, caller, notify, now),
            AcdMsg::Leave { call, exit } => {
                let waited = self.acd.waited(call, now);
                if waited.is_none() {
                    return;
                }
                self.acd.leave(call, exit, now);
                let Some(stay) = self.stays.remove(&call) else {
                    return;
                };
                self.ringing_over(call, &stay, "abandoned");
                let wait = waited.unwrap_or_default().as_secs();
                match exit {
                    Exit::Abandoned => {
                        self.publish_event(Event::QueueHangupAbandoned, call, &stay, |e| {
                            e.wait_time = Some(wait);
                            e.reason = Some("abandoned");
                        })
                    }
                    other => self.publish_event(Event::QueueNoAnswer, call, &stay, |e| {
                        e.wait_time = Some(wait);
                        e.reason = Some(exit_reason(other));
                    }),
                }
                self.hangup_event(call, &stay, exit_reason(exit));
            }
            AcdMsg::OfferEnded { call, end, reasons } => self.offer_ended(call, end, reasons, now),
            AcdMsg::CallEnded { call } => {
                let talk = self.acd.call_ended(call, now);
                if let Some(stay) = self.stays.remove(&call) {
                    if let Some((agent, since)) = &stay.agent {
                        let secs = talk
                            .map(|(_, d)| d.as_secs_f64())
                            .unwrap_or(((now_ms() - since) as f64) / 1000.0);
                        let agent = agent.to_string();
                        self.publish_event(Event::QueueMemberDialHangup, call, &stay, |e| {
                            e.to_user_id = Some(agent);
                            e.duration = Some(secs);
                            e.reason = Some("answered");
                        });
                    }
                }
            }
            AcdMsg::Login {
                agent,
                queue,
                reply,
            } => {
                let n = self.acd.login(&agent, queue.as_ref());
                let live = !self
                    .sw
                    .registrations
                    .lookup(agent.0.as_str(), agent.1.as_str(), now_ms())
                    .is_empty();
                self.acd.set_reachable(&agent, live);
                tracing::info!(agent = %agent.1, queues = n, "agent logged in");
                self.save(&agent);
                let _ = reply.send(n);
            }
            AcdMsg::Logout {
                agent,
                queue,
                reply,
            } => {
                let n = self.acd.logout(&agent, queue.as_ref());
                tracing::info!(agent = %agent.1, queues = n, "agent logged out");
                self.save(&agent);
                let _ = reply.send(n);
            }
            AcdMsg::Pause {
                agent,
                reason,
                reply,
            } => {
                tracing::info!(agent = %agent.1, ?reason, "agent pause");
                let done = self.acd.pause(&agent, reason);
                self.save(&agent);
                let _ = reply.send(done);
            }
        }
    }

    fn join(
        &mut self,
        call: CallId,
        queue: QueueKey,
        caller: CallerInfo,
        notify: mpsc::UnboundedSender<QueueNotice>,
        now: std::time::Instant,
    ) {
        let stay = Stay {
            queue: queue.clone(),
            caller,
            notify,
            queuecall_id: uuid::Uuid::new_v4().to_string(),
            joined_ms: now_ms(),
            ringing: Vec::new(),
            agent: None,
        };
        match self.acd.join(call, &queue, now) {
            Ok(position) => {
                let cfg = self.acd.config(&queue).cloned();
                let (moh, exit_key) = cfg
                    .map(|c| (c.moh, c.exit_key))
                    .unwrap_or(("default".into(), None));
                let _ = stay.notify.send(QueueNotice::Joined {
                    position,
                    moh,
                    exit_key,
                });
                tracing::info!(call = %call, queue = %queue.1, position, "caller joined the queue");
                self.publish_event(Event::QueueEnter, call, &stay, |_| {});
                self.stays.insert(call, stay);
            }
            Err(e) => {
                tracing::info!(call = %call, queue = %queue.1, "caller refused: {e}");
                let _ = stay.notify.send(QueueNotice::Refused(e));
                if matches!(e, JoinError::Full | JoinError::Empty) {
                    self.publish_event(Event::QueueNoAnswer, call, &stay, |ev| {
                        ev.wait_time = Some(0);
                        ev.reason = Some(if e == JoinError::Full {
                            "full"
                        } else {
                            "empty"
                        });
                    });
                }
            }
        }
    }

    fn offer_ended(
        &mut self,
        call: CallId,
        end: OfferEnd,
        reasons: Vec<(ExtensionNumber, &'static str)>,
        now: std::time::Instant,
    ) {
        if !self.acd.is_waiting(call) {
            return;
        }
        self.acd.offer_ended(call, end.clone(), now);
        let Some(mut stay) = self.stays.remove(&call) else {
            return;
        };
        let ringing = std::mem::take(&mut stay.ringing);
        let answered = match &end {
            OfferEnd::Answered(a) => Some(a.clone()),
            OfferEnd::NotAnswered { .. } => None,
        };
        for (agent, since) in ringing {
            if Some(&agent) == answered.as_ref() {
                stay.agent = Some((agent.clone(), now_ms()));
                let who = agent.to_string();
                self.publish_event(Event::QueueMemberAnswer, call, &stay, |e| {
                    e.to_user_id = Some(who);
                });
                continue;
            }
            let reason = reasons
                .iter()
                .find(|(a, _)| a == &agent)
                .map(|(_, r)| *r)
                .unwrap_or(if answered.is_some() {
                    "answered_elsewhere"
                } else {
                    "no_answer"
                });
            let secs = ((now_ms() - since).max(0) as f64) / 1000.0;
            let who = agent.to_string();
            self.publish_event(Event::QueueMemberDialHangup, call, &stay, |e| {
                e.to_user_id = Some(who);
                e.duration = Some(secs);
                e.reason = Some(reason);
            });
        }
        if answered.is_some() {
            self.hangup_event(call, &stay, "answered");
        }
        self.stays.insert(call, stay);
    }

    fn act(&mut self, action: Action) {
        match action {
            Action::Offer { call, agents, ring } => {
                let Some(stay) = self.stays.get_mut(&call) else {
                    return;
                };
                let at = now_ms();
                stay.ringing = agents.iter().map(|a| (a.clone(), at)).collect();
                let _ = stay.notify.send(QueueNotice::Offer {
                    agents: agents.clone(),
                    ring,
                });
                let stay = &self.stays[&call];
                for a in agents {
                    let who = a.to_string();
                    self.publish_event(Event::QueueMemberDial, call, stay, |e| {
                        e.to_user_id = Some(who);
                    });
                }
            }
            Action::Announce {
                call,
                position,
                estimate,
            } => {
                let Some(stay) = self.stays.get(&call) else {
                    return;
                };
                let cfg = self.acd.config(&stay.queue);
                let _ = stay.notify.send(QueueNotice::Announce {
                    position,
                    estimate,
                    say_position: cfg.is_some_and(|c| c.announce_position),
                    say_estimate: cfg.is_some_and(|c| c.announce_holdtime),
                });
            }
            Action::Leave { call, reason } => {
                let Some(stay) = self.stays.remove(&call) else {
                    return;
                };
                let _ = stay.notify.send(QueueNotice::Leave(reason));
                self.ringing_over(call, &stay, "caller_left");
                let wait = ((now_ms() - stay.joined_ms).max(0) / 1000) as u64;
                let (ctor, why): (fn(QueueEvent) -> Event, &'static str) = match reason {
                    LeaveReason::Timeout => (Event::QueueHangupTimeout, "timeout"),
                    LeaveReason::Empty => (Event::QueueNoAnswer, "empty"),
                    LeaveReason::Removed => (Event::QueueNoAnswer, "removed"),
                };
                self.publish_event(ctor, call, &stay, |e| {
                    e.wait_time = Some(wait);
                    e.reason = Some(why);
                });
                self.hangup_event(call, &stay, why);
            }
        }
    }

    /// The agents still ringing for a caller who is gone: their legs end.
    fn ringing_over(&self, call: CallId, stay: &Stay, reason: &'static str) {
        for (agent, since) in &stay.ringing {
            let secs = ((now_ms() - since).max(0) as f64) / 1000.0;
            let who = agent.to_string();
            self.publish_event(Event::QueueMemberDialHangup, call, stay, |e| {
                e.to_user_id = Some(who);
                e.duration = Some(secs);
                e.reason = Some(reason);
            });
        }
    }

    fn hangup_event(&self, call: CallId, stay: &Stay, reason: &'static str) {
        let secs = ((now_ms() - stay.joined_ms).max(0) as f64) / 1000.0;
        self.publish_event(Event::QueueHangup, call, stay, |e| {
            e.duration = Some((secs * 100.0).round() / 100.0);
            e.reason = Some(reason);
        });
    }

    fn publish_event(
        &self,
        ctor: fn(QueueEvent) -> Event,
        call: CallId,
        stay: &Stay,
        fill: impl FnOnce(&mut QueueEvent),
    ) {
        let name = self
            .acd
            .config(&stay.queue)
            .map(|c| c.name.clone())
            .unwrap_or_else(|| stay.queue.1.to_string());
        let ms = now_ms();
        let mut e = QueueEvent {
            account_id: stay.queue.0.clone(),
            queue_id: stay.queue.1.clone(),
            queue_name: name,
            queuename: stay.queue.1.clone(),
            queuecall_id: stay.queuecall_id.clone(),
            uniqueid: call,
            call_id: call,
            caller_id_number: stay.caller.number.clone(),
            callerid_number: stay.caller.number.clone(),
            callerid_name: stay.caller.name.clone(),
            dnis: stay.caller.dnis.clone(),
            dialed_number: stay.caller.dnis.clone(),
            app_name: "Queue",
            to_user_id: None,
            from_user_id: None,
            duration: None,
            wait_time: None,
            reason: None,
            timestamp: ms / 1000,
            timestamp_ms: ms,
        };
        fill(&mut e);
        self.sw.bus.publish(ctor(e));
    }

    fn publish(&mut self) {
        let now = Instant::now().into_std();
        let keys: Vec<QueueKey> = self.acd.queue_keys().cloned().collect();
        let mut queues = HashMap::with_capacity(keys.len());
        for key in keys {
            if let Some(stats) = self.acd.stats(&key, now) {
                let agents = self.acd.agents(&key);
                queues.insert(key, QueueSnapshot { stats, agents });
            }
        }
        let _ = self.snapshot.send(Arc::new(AcdSnapshot {
            queues,
            taken_ms: now_ms(),
        }));
        self.dirty = false;
        self.published = Instant::now();
    }
}

fn exit_reason(exit: Exit) -> &'static str {
    match exit {
        Exit::Answered => "answered",
        Exit::Abandoned => "abandoned",
        Exit::ExitKey => "exit_key",
        Exit::Transferred => "transferred",
        Exit::Left(LeaveReason::Timeout) => "timeout",
        Exit::Left(LeaveReason::Empty) => "empty",
        Exit::Left(LeaveReason::Removed) => "removed",
    }
}

async fn recv_busy(
    rx: Option<&mut mpsc::UnboundedReceiver<crate::switch::BusyChange>>,
) -> Option<crate::switch::BusyChange> {
    match rx {
        Some(rx) => rx.recv().await,
        None => std::future::pending().await,
    }
}
