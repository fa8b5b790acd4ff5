//! One task per subscription: it reads the event log from the subscription's
//! cursor (only events the store already holds), keeps those the subscription
//! takes, and delivers them — several at once, but the events of one call
//! (one lane) one after another, so they arrive in order. A failed delivery
//! waits for its retry in `webhook_pending` (the events behind it in its lane
//! wait there too); the cursor moves past an event once it is settled
//! (delivered, given up on, or stored as pending), so a restart re-sends at
//! most what was in flight — with the same event ids. After
//! `disable_after` deliveries in a row are given up on, the subscription is
//! disabled with the reason; `PATCH {"enabled": true}` resumes it from where
//! it stopped.

use std::cmp::Reverse;
use std::collections::{BTreeSet, BinaryHeap, HashMap, VecDeque};
use std::sync::Arc;
use std::time::{Duration, Instant};

use serde_json::Value;
use tokio::sync::mpsc;
use tokio::task::JoinSet;

use super::retry::{self, Outcome};
use super::subscription::{HttpVerb, Subscription};
use super::{payload, sign, Shared};
use crate::events::Record;
use crate::store::event_log::LogReader;
use crate::store::{AttemptRow, PendingRow};

/// What the service tells a worker.
pub enum Control {
    /// New settings (or enabled state).
    Update(Box<Subscription>),
    /// The secrets that sign now (the current one first).
    Secrets(Secrets),
    /// Deliver this event again, whatever happened to it before.
    Replay(Arc<Record>),
    Stop,
}

/// The live signing secrets of a subscription.
#[derive(Clone, Debug)]
pub struct Secrets {
    pub current: String,
    /// The previous secret and until when (unix ms) it still signs.
    pub previous: Option<(String, i64)>,
}

impl Secrets {
    fn live(&self, now_ms: i64) -> Vec<&str> {
        let mut v = vec![self.current.as_str()];
        if let Some((old, until)) = &self.previous {
            if now_ms < *until {
                v.push(old.as_str());
            }
        }
        v
    }
}

/// One event on its way to this subscription.
pub(super) struct Item {
    pub(super) rec: Arc<Record>,
    pub(super) event: Arc<Value>,
    pub(super) key: String,
    /// Attempts made so far.
    pub(super) attempts: u32,
    pub(super) replay: bool,
    /// Whether a `webhook_pending` row holds it.
    pub(super) stored: bool,
}

#[derive(Default)]
struct Lane {
    /// Waiting for its retry: (due, item).
    retry: Option<(i64, Item)>,
    /// An attempt of the lane's head is in flight.
    in_flight: bool,
    queue: VecDeque<Item>,
    /// The lane waits on a retry: what joins its queue is stored at once.
    held: bool,
}

/// An attempt made.
pub(super) struct Done {
    pub(super) item: Item,
    pub(super) outcome: Outcome,
    pub(super) at_ms: i64,
    pub(super) latency_ms: i64,
    pub(super) response: Option<String>,
}

impl Done {
    /// The attempts-log row of this attempt (`item.attempts` counts it).
    pub(super) fn row(&self, sub: &Subscription) -> AttemptRow {
        let (status_code, error) = match &self.outcome {
            Outcome::Delivered { status } => (Some(*status), None),
            Outcome::Failed { status, error, .. } => (*status, Some(error.clone())),
        };
        let delivered = self.outcome.delivered();
        AttemptRow {
            id: format!("att_{}", uuid::Uuid::new_v4().simple()),
            webhook_id: sub.id.to_string(),
            account_id: sub.account_id.to_string(),
            event_seq: self.item.rec.seq,
            event_name: self.item.rec.name.clone(),
            attempt: self.item.attempts,
            at: self.at_ms,
            result: if delivered { "success" } else { "failure" }.into(),
            status_code,
            latency_ms: self.latency_ms,
            error,
            response: self.response.clone(),
            retries_left: if delivered { 0 } else { self.retries_left(sub) },
        }
    }

    /// Attempts the subscription still allows after this one.
    pub(super) fn retries_left(&self, sub: &Subscription) -> u32 {
        (u32::from(sub.settings.retries) + 1).saturating_sub(self.item.attempts)
    }

    /// When the next attempt is due, after `now_ms` (the schedule, or the receiver's `Retry-After`).
    pub(super) fn retry_wait(&self) -> Duration {
        let retry_after = match &self.outcome {
            Outcome::Failed { retry_after, .. } => *retry_after,
            Outcome::Delivered { .. } => None,
        };
        retry::delay(self.item.attempts, retry_after, rand::random::<f64>())
    }

    pub(super) fn error(&self) -> String {
        match &self.outcome {
            Outcome::Failed { error, .. } => error.clone(),
            Outcome::Delivered { .. } => String::new(),
        }
    }
}

pub struct Worker {
    sh: Arc<Shared>,
    sub: Arc<Subscription>,
    secrets: Secrets,
    reader: LogReader,
    lanes: HashMap<String, Lane>,
    due: BinaryHeap<Reverse<(i64, String)>>,
    /// Taken events not yet settled.
    unsettled: BTreeSet<u64>,
    saved_cursor: u64,
    failures: u32,
    flights: JoinSet<Done>,
}

/// Attempts in flight per subscription at most.
const MAX_IN_FLIGHT: usize = 32;
/// How often a moved cursor is saved.
const CURSOR_EVERY: Duration = Duration::from_millis(250);

impl Worker {
    pub fn new(
        sh: Arc<Shared>,
        sub: Subscription,
        secrets: Secrets,
        cursor: u64,
        failures: u32,
    ) -> Worker {
        let reader = LogReader::new(sh.log.clone(), Some(sh.store.clone()), cursor).durable_only();
        Worker {
            sh,
            sub: Arc::new(sub),
            secrets,
            reader,
            lanes: HashMap::new(),
            due: BinaryHeap::new(),
            unsettled: BTreeSet::new(),
            saved_cursor: cursor,
            failures,
            flights: JoinSet::new(),
        }
    }

    fn id(&self) -> String {
        self.sub.id.to_string()
    }

    /// Picks up what a previous run left pending.
    async fn resume(&mut self) {
        let rows = match self.sh.store.pending(&self.id()).await {
            Ok(r) => r,
            Err(e) => {
                tracing::error!(webhook = %self.sub.id, error = %e, "pending deliveries unreadable");
                return;
            }
        };
        for p in rows {
            let rec = match self
                .sh
                .store
                .events_after(p.event_seq.saturating_sub(1), 1)
                .await
            {
                Ok(v) => v.into_iter().next().filter(|r| r.seq == p.event_seq),
                Err(e) => {
                    tracing::error!(webhook = %self.sub.id, error = %e, "a pending event is unreadable");
                    None
                }
            };
            let Some(rec) = rec else {
                // purged from the log: nothing left to send
                let _ = self
                    .sh
                    .store
                    .delete_pending(&self.id(), p.event_seq, p.replay)
                    .await;
                continue;
            };
            let event = Arc::new(serde_json::from_str(&rec.json).unwrap_or(Value::Null));
            let item = Item {
                rec: Arc::new(rec),
                event,
                key: p.order_key.clone(),
                attempts: p.attempts,
                replay: p.replay,
                stored: true,
            };
            let key = if p.replay {
                format!("replay:{}", p.event_seq)
            } else {
                p.order_key
            };
            let lane = self.lanes.entry(key.clone()).or_default();
            if lane.retry.is_none() && !lane.in_flight && lane.queue.is_empty() {
                let due = p.due_at.unwrap_or(0);
                lane.retry = Some((due, item));
                lane.held = true;
                self.due.push(Reverse((due, key)));
            } else {
                lane.queue.push_back(item);
            }
        }
    }

    pub async fn run(mut self, mut ctl: mpsc::UnboundedReceiver<Control>) {
        self.resume().await;
        let mut tick = tokio::time::interval(CURSOR_EVERY);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            let enabled = self.sub.settings.enabled;
            let next_due = self.due.peek().map(|Reverse((at, _))| *at);
            let timer = self.sh.clock.sleep_until(next_due.unwrap_or(i64::MAX));
            tokio::select! {
                c = ctl.recv() => match c {
                    Some(Control::Update(s)) => {
                        self.sub = Arc::new(*s);
                        if self.sub.settings.enabled { self.failures = 0; }
                    }
                    Some(Control::Secrets(s)) => self.secrets = s,
                    Some(Control::Replay(rec)) => self.replay(rec).await,
                    Some(Control::Stop) | None => break,
                },
                rec = self.reader.next(), if enabled && self.flights.len() < MAX_IN_FLIGHT => {
                    match rec {
                        Some(rec) => self.take(rec).await,
                        None => break,
                    }
                }
                Some(done) = self.flights.join_next(), if !self.flights.is_empty() => {
                    match done {
                        Ok(d) => self.settle(d).await,
                        Err(e) => tracing::error!(webhook = %self.sub.id, error = %e, "a delivery task failed"),
                    }
                }
                _ = timer, if enabled && next_due.is_some() => self.fire_due(),
                _ = tick.tick() => self.save_cursor().await,
            }
        }
        self.save_cursor().await;
    }

    fn cursor(&self) -> u64 {
        match self.unsettled.first() {
            Some(s) => s - 1,
            None => self.reader.cursor(),
        }
    }

    async fn save_cursor(&mut self) {
        let c = self.cursor();
        if c > self.saved_cursor {
            match self.sh.store.set_webhook_cursor(&self.id(), c).await {
                Ok(()) => self.saved_cursor = c,
                Err(e) => {
                    tracing::warn!(webhook = %self.sub.id, error = %e, "webhook cursor not saved")
                }
            }
        }
    }

    /// A new event from the log.
    async fn take(&mut self, rec: Arc<Record>) {
        if rec.account_id != self.sub.account_id.as_str()
            || !self.sub.settings.hook.takes(&rec.name)
        {
            return;
        }
        let event: Value = serde_json::from_str(&rec.json).unwrap_or(Value::Null);
        if !self.sub.takes(&rec, &event) {
            return;
        }
        let key = payload::order_key(&event);
        self.unsettled.insert(rec.seq);
        let item = Item {
            rec,
            event: Arc::new(event),
            key: key.clone(),
            attempts: 0,
            replay: false,
            stored: false,
        };
        self.enqueue(key, item).await;
    }

    async fn replay(&mut self, rec: Arc<Record>) {
        let event: Value = serde_json::from_str(&rec.json).unwrap_or(Value::Null);
        let key = format!("replay:{}", rec.seq);
        let mut item = Item {
            key: payload::order_key(&event),
            rec,
            event: Arc::new(event),
            attempts: 0,
            replay: true,
            stored: false,
        };
        self.store_pending(&mut item, Some(self.sh.clock.now_ms()))
            .await;
        self.enqueue(key, item).await;
    }

    async fn enqueue(&mut self, key: String, mut item: Item) {
        let lane = self.lanes.entry(key.clone()).or_default();
        if lane.in_flight || lane.retry.is_some() || !lane.queue.is_empty() {
            let held = lane.held;
            if held && !item.stored {
                self.store_pending(&mut item, None).await;
            }
            if let Some(lane) = self.lanes.get_mut(&key) {
                lane.queue.push_back(item);
            }
            return;
        }
        self.dispatch(key, item);
    }

    fn dispatch(&mut self, key: String, item: Item) {
        let lane = self.lanes.entry(key).or_default();
        lane.in_flight = true;
        let (sh, sub, secrets) = (self.sh.clone(), self.sub.clone(), self.secrets.clone());
        self.flights.spawn(attempt(sh, sub, secrets, item));
    }

    /// Retries whose time came.
    fn fire_due(&mut self) {
        let now = self.sh.clock.now_ms();
        while let Some(Reverse((at, _))) = self.due.peek() {
            if *at > now {
                break;
            }
            let Some(Reverse((_, key))) = self.due.pop() else {
                break;
            };
            let item = self
                .lanes
                .get_mut(&key)
                .and_then(|l| l.retry.take())
                .map(|(_, i)| i);
            if let Some(item) = item {
                self.dispatch(key, item);
            }
        }
    }

    async fn store_pending(&mut self, item: &mut Item, due_at: Option<i64>) {
        let row = PendingRow {
            event_seq: item.rec.seq,
            order_key: item.key.clone(),
            attempts: item.attempts,
            due_at,
            replay: item.replay,
        };
        match self.sh.store.put_pending(&self.id(), &row).await {
            Ok(()) => {
                item.stored = true;
                if !item.replay {
                    self.unsettled.remove(&item.rec.seq);
                }
            }
            // kept unsettled: the cursor stays before it, so a restart sends it again
            Err(e) => {
                tracing::error!(webhook = %self.sub.id, error = %e, "a pending delivery was not stored")
            }
        }
    }

    fn lane_key(item: &Item) -> String {
        if item.replay {
            format!("replay:{}", item.rec.seq)
        } else {
            item.key.clone()
        }
    }

    async fn settle(&mut self, mut d: Done) {
        d.item.attempts += 1;
        let _ = self.sh.attempts.send(d.row(&self.sub));
        let key = Self::lane_key(&d.item);
        if let Some(lane) = self.lanes.get_mut(&key) {
            lane.in_flight = false;
        }
        if d.outcome.delivered() {
            if self.failures > 0 {
                self.failures = 0;
                let _ = self
                    .sh
                    .store
                    .set_webhook_failures(&self.id(), 0, None, d.at_ms)
                    .await;
            }
            self.finish(d.item).await;
        } else if d.retries_left(&self.sub) > 0 {
            let due = self.sh.clock.now_ms() + d.retry_wait().as_millis() as i64;
            let mut item = d.item;
            self.store_pending(&mut item, Some(due)).await;
            let mut behind: Vec<Item> = Vec::new();
            if let Some(lane) = self.lanes.get_mut(&key) {
                lane.held = true;
                behind.extend(lane.queue.drain(..));
            }
            // what waits behind it is kept too, in order
            for b in behind.iter_mut().filter(|b| !b.stored) {
                self.store_pending(b, None).await;
            }
            if let Some(lane) = self.lanes.get_mut(&key) {
                lane.queue.extend(behind);
                lane.retry = Some((due, item));
            }
            self.due.push(Reverse((due, key)));
            return;
        } else {
            self.failures += 1;
            if let Some(reason) =
                gave_up(&self.sh, &self.sub, self.failures, &d.error(), d.at_ms).await
            {
                let mut s = (*self.sub).clone();
                s.settings.enabled = false;
                s.disabled_reason = Some(reason);
                self.sub = Arc::new(s);
            }
            self.finish(d.item).await;
        }
        self.next_in_lane(key);
    }

    async fn finish(&mut self, item: Item) {
        if !item.replay {
            self.unsettled.remove(&item.rec.seq);
        }
        if item.stored {
            if let Err(e) = self
                .sh
                .store
                .delete_pending(&self.id(), item.rec.seq, item.replay)
                .await
            {
                tracing::warn!(webhook = %self.sub.id, error = %e, "a settled delivery stays pending");
            }
        }
    }

    fn next_in_lane(&mut self, key: String) {
        let next = match self.lanes.get_mut(&key) {
            Some(l) if l.retry.is_none() && !l.in_flight => l.queue.pop_front(),
            _ => return,
        };
        match next {
            Some(item) => self.dispatch(key, item),
            None => {
                self.lanes.remove(&key);
            }
        }
    }
}

/// A delivery ran out of retries, the `failures`-th in a row: records the
/// count and, at the limit, disables the subscription (returning the reason).
pub(super) async fn gave_up(
    sh: &Shared,
    sub: &Subscription,
    failures: u32,
    error: &str,
    now_ms: i64,
) -> Option<String> {
    let limit = sh.config.disable_after;
    let disable = (limit > 0 && failures >= limit).then(|| {
        format!("{failures} deliveries in a row failed (last: {error}); re-enable with PATCH {{\"enabled\": true}}")
    });
    if let Err(e) = sh
        .store
        .set_webhook_failures(
            &sub.id.to_string(),
            i64::from(failures),
            disable.as_deref(),
            now_ms,
        )
        .await
    {
        tracing::warn!(webhook = %sub.id, error = %e, "webhook failures not recorded");
    }
    if let Some(reason) = &disable {
        tracing::warn!(webhook = %sub.id, %reason, "webhook disabled");
    }
    disable
}

/// Bytes of a receiver's answer read at most, and kept for the attempts log.
const READ_CAP: usize = 64 * 1024;
const SNIPPET: usize = 512;

/// One attempt: render, sign, send, classify.
pub(super) async fn attempt(
    sh: Arc<Shared>,
    sub: Arc<Subscription>,
    secrets: Secrets,
    item: Item,
) -> Done {
    let at_ms = sh.clock.now_ms();
    let started = Instant::now();
    let r = payload::render(&sub, &item.rec, &item.event);
    let mut url = sub.settings.uri.clone();
    if let Some(q) = &r.query {
        let joined = match url.query() {
            Some(old) if !old.is_empty() => format!("{old}&{q}"),
            _ => q.clone(),
        };
        url.set_query(Some(&joined));
    }
    let (outcome, response) = match sh.policy().check_uri(&url) {
        Err(e) => (
            Outcome::Failed {
                status: None,
                error: e,
                retry_after: None,
            },
            None,
        ),
        Ok(()) => send(&sh, &sub, &secrets, &item, &r, url, at_ms).await,
    };
    Done {
        item,
        outcome,
        at_ms,
        latency_ms: started.elapsed().as_millis() as i64,
        response,
    }
}

async fn send(
    sh: &Shared,
    sub: &Subscription,
    secrets: &Secrets,
    item: &Item,
    r: &payload::Rendered,
    url: url::Url,
    at_ms: i64,
) -> (Outcome, Option<String>) {
    let method = match sub.settings.http_verb {
        HttpVerb::Get => reqwest::Method::GET,
        HttpVerb::Post => reqwest::Method::POST,
        HttpVerb::Put => reqwest::Method::PUT,
    };
    let t = at_ms.div_euclid(1000);
    let signed = r.signed_bytes();
    let mut req = sh
        .client
        .request(method, url)
        .timeout(sh.config.timeout)
        .header("X-Switchyard-Event-Id", item.rec.seq.to_string())
        .header("X-Switchyard-Event-Type", item.rec.name.as_str())
        .header("X-Switchyard-Webhook-Id", sub.id.to_string())
        .header(
            "X-Switchyard-Delivery-Attempt",
            (item.attempts + 1).to_string(),
        )
        .header(
            "X-Switchyard-Signature-256",
            sign::switchyard_signature(&secrets.live(at_ms), t, signed),
        );
    if sub.settings.hook.voice_envelope() {
        req = req.header(
            "X-Voice360-Signature",
            sign::voice_signature(&secrets.current, signed),
        );
    }
    if let Some(ct) = r.content_type {
        req = req
            .header(reqwest::header::CONTENT_TYPE, ct)
            .body(r.body.clone());
    }
    match req.send().await {
        Err(e) => (
            Outcome::Failed {
                status: None,
                error: describe(&e, sh.config.timeout),
                retry_after: None,
            },
            None,
        ),
        Ok(mut resp) => {
            let status = resp.status().as_u16();
            let retry_after = resp
                .headers()
                .get(reqwest::header::RETRY_AFTER)
                .and_then(|v| v.to_str().ok())
                .map(str::to_string);
            let mut body = Vec::new();
            while body.len() < READ_CAP {
                match resp.chunk().await {
                    Ok(Some(c)) => body.extend_from_slice(&c[..c.len().min(READ_CAP - body.len())]),
                    _ => break,
                }
            }
            let snippet = (!body.is_empty()).then(|| {
                let cut = body.len().min(SNIPPET);
                String::from_utf8_lossy(&body[..cut]).into_owned()
            });
            (
                Outcome::from_status(status, retry_after.as_deref(), t),
                snippet,
            )
        }
    }
}

fn describe(e: &reqwest::Error, timeout: Duration) -> String {
    if e.is_timeout() {
        return format!("no answer within {} s", timeout.as_secs_f64());
    }
    let mut msg = if e.is_connect() {
        "connection failed".to_string()
    } else {
        e.to_string()
    };
    let mut src = std::error::Error::source(e);
    while let Some(s) = src {
        msg.push_str(": ");
        msg.push_str(&s.to_string());
        src = s.source();
    }
    msg
}
