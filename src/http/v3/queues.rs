//! Queues: `GET /queues` and `GET /queues/{queue_id}` (the queue's settings,
//! its members as `assigned_users`), `GET /availability/queues` and
//! `GET /availability/queues/{queue_id}` (agents online, available, on a call,
//! calls active) — the figures from the queue engine's snapshot, which it
//! republishes within 100 ms of every change. `queue_id` is the queue's
//! integer `pk`. Without a key only the public subset (names and figures).

#[allow(unused_imports)]
use super::schema::Envelope;
use super::schema::{Queue, QueueAvailability, QueueMember};
use super::{ok, ApiError, Ctx};
use crate::call::acd::AcdSnapshot;
use crate::http::AppState;
use crate::ids::{AccountId, QueueId};
use crate::routing::queue::{AgentStatus, QueueConfig, QueueStats};
use crate::store::PublicKind;
use axum::response::Response;

fn yes_no(b: bool) -> Option<String> {
    Some(if b { "yes" } else { "no" }.to_string())
}

/// With a developer key (`queues:read`): true; public: false.
fn keyed(ctx: &Ctx) -> Result<bool, ApiError> {
    match &ctx.key {
        Some(_) => ctx.developer("queues:read").map(|_| true),
        None => Ok(false),
    }
}

fn basics(ctx: &Ctx, q: &QueueConfig) -> Queue {
    Queue {
        pk: ctx.dir.pk(PublicKind::Queue, &ctx.account, q.id.as_str()),
        name: q.id.to_string(),
        queue_name: q.name.clone(),
        extension: q.number.clone(),
        strategy: None,
        musiconhold: None,
        timeout: None,
        retry: None,
        wrapuptime: None,
        maxlen: None,
        joinempty: None,
        leavewhenempty: None,
        ringinuse: None,
        assigned_users: None,
    }
}

fn settings(ctx: &Ctx, q: &QueueConfig) -> Queue {
    Queue {
        strategy: Some(q.strategy.as_str().into()),
        musiconhold: Some(q.moh.clone()),
        timeout: Some(q.timeout.as_secs()),
        retry: Some(q.retry.as_secs()),
        wrapuptime: Some(q.wrapup.as_secs()),
        maxlen: Some(q.maxlen as u64),
        joinempty: yes_no(q.joinempty),
        leavewhenempty: yes_no(q.leavewhenempty),
        ringinuse: yes_no(q.ringinuse),
        ..basics(ctx, q)
    }
}

/// The account's queues, in id order.
fn queues_of(ctx: &Ctx) -> Vec<&QueueConfig> {
    let mut v: Vec<&QueueConfig> = ctx
        .dir
        .queues()
        .iter()
        .filter(|q| q.account.as_str() == ctx.account)
        .collect();
    v.sort_by_cached_key(|q| ctx.dir.pk(PublicKind::Queue, &ctx.account, q.id.as_str()));
    v
}

/// The queue a path's `queue_id` (its integer pk) names.
fn queue_of<'a>(ctx: &'a Ctx, raw: &str) -> Result<&'a QueueConfig, ApiError> {
    let pk: i64 = raw
        .trim()
        .parse()
        .map_err(|_| ApiError::bad_request("queue_id must be an integer (the queue's pk)"))?;
    let id = ctx
        .dir
        .by_pk(PublicKind::Queue, &ctx.account, pk)
        .ok_or_else(|| ApiError::not_found("queue"))?;
    ctx.dir
        .queue(&ctx.account, id)
        .ok_or_else(|| ApiError::not_found("queue"))
}

/// `GET /queues`.
#[utoipa::path(
    get,
    path = "/v3/voice/{account_id}/queues",
    tag = "queues",
    summary = "The account's queues",
    params(("account_id" = String, Path, description = "The account's id (`demo`)")),
    security((), ("api_key" = [])),
    responses((status = 200, description = "Success", body = Envelope<Vec<Queue>>))
)]
pub async fn list(ctx: Ctx) -> Result<Response, ApiError> {
    let full = keyed(&ctx)?;
    let list: Vec<Queue> = queues_of(&ctx)
        .into_iter()
        .map(|q| {
            if full {
                settings(&ctx, q)
            } else {
                basics(&ctx, q)
            }
        })
        .collect();
    Ok(ok("List of queues", list))
}

/// `GET /queues/{queue_id}`: with a key, the settings and `assigned_users`.
#[utoipa::path(
    get,
    path = "/v3/voice/{account_id}/queues/{queue_id}",
    tag = "queues",
    summary = "One queue, with its members when keyed",
    params(("account_id" = String, Path, description = "The account's id (`demo`)"), ("queue_id" = i64, Path, description = "The queue's `pk`")),
    security((), ("api_key" = [])),
    responses((status = 200, description = "Success", body = Envelope<Queue>))
)]
pub async fn show(ctx: Ctx) -> Result<Response, ApiError> {
    let s = ctx.state.clone();
    let account = ctx.account.clone();
    let queue_id = ctx.param("queue_id");
    let full = keyed(&ctx)?;
    let q = queue_of(&ctx, &queue_id)?;
    if !full {
        return Ok(ok("Queue details", basics(&ctx, q)));
    }
    let snap = s.acd.snapshot();
    let live = snap
        .queues
        .get(&(AccountId::from(account.as_str()), q.id.clone()));
    let mut users: Vec<QueueMember> = q
        .members
        .iter()
        .map(|(ext, penalty)| member(&ctx, ext.as_str(), *penalty, false))
        .collect();
    for a in live.iter().flat_map(|l| l.agents.iter()) {
        // members' live status, and agents logged in by feature code
        let i = match users
            .iter()
            .position(|u| u.presence_id == a.extension.as_str())
        {
            Some(i) => i,
            None => {
                users.push(member(&ctx, a.extension.as_str(), a.penalty, a.dynamic));
                users.len() - 1
            }
        };
        let u = &mut users[i];
        u.status = serde_json::to_value(a.status)
            .ok()
            .and_then(|v| v.as_str().map(str::to_string))
            .unwrap_or_default();
        u.paused_reason = a.pause_reason.clone();
        u.calls_taken = a.calls;
    }
    let v = Queue {
        assigned_users: Some(users),
        ..settings(&ctx, q)
    };
    Ok(ok("Queue details", v))
}

fn member(ctx: &Ctx, ext: &str, penalty: u32, dynamic: bool) -> QueueMember {
    let e = ctx.dir.extension(&ctx.account, ext);
    let (first_name, last_name) = e.map(|e| e.names()).unwrap_or_default();
    QueueMember {
        pk: ctx.dir.pk(PublicKind::User, &ctx.account, ext),
        presence_id: ext.to_string(),
        caller_id: e.map(|e| e.display_name.clone()).unwrap_or_default(),
        first_name,
        last_name,
        penalty,
        dynamic,
        status: "logged_out".into(),
        paused_reason: None,
        calls_taken: 0,
    }
}

fn figures(snap: &AcdSnapshot, taken: &str, ctx: &Ctx, q: &QueueConfig) -> QueueAvailability {
    let key = (
        AccountId::from(ctx.account.as_str()),
        QueueId::from(q.id.as_str()),
    );
    let live = snap.queues.get(&key);
    let ready = live.is_some_and(|l| {
        l.agents.iter().any(|a| {
            matches!(
                a.status,
                AgentStatus::Available
                    | AgentStatus::Ringing
                    | AgentStatus::OnCall
                    | AgentStatus::WrapUp
            )
        })
    });
    let n = |f: fn(&QueueStats) -> usize| live.map(|l| f(&l.stats) as u64).unwrap_or(0);
    let b = basics(ctx, q);
    QueueAvailability {
        pk: b.pk,
        name: b.name,
        queue_name: b.queue_name,
        extension: b.extension,
        is_ready: ready,
        agents_online: n(|s| s.agents_online),
        agents_available: n(|s| s.agents_available),
        agents_on_call: n(|s| s.agents_on_call),
        agents_paused: n(|s| s.agents_paused),
        active_calls: n(|s| s.calls_waiting + s.agents_on_call),
        calls_waiting: n(|s| s.calls_waiting),
        longest_wait_seconds: live
            .map(|l| l.stats.longest_wait_secs.max(0.0).round() as u64)
            .unwrap_or(0),
        updated_at: taken.to_string(),
    }
}

/// The queue engine's latest figures and when it took them.
fn snapshot(s: &AppState) -> (std::sync::Arc<AcdSnapshot>, String) {
    let snap = s.acd.snapshot();
    let taken = super::iso(snap.taken_ms);
    (snap, taken)
}

/// `GET /availability/queues`.
#[utoipa::path(
    get,
    path = "/v3/voice/{account_id}/availability/queues",
    tag = "queues",
    summary = "Every queue's live figures",
    params(("account_id" = String, Path, description = "The account's id (`demo`)")),
    security((), ("api_key" = [])),
    responses((status = 200, description = "Success", body = Envelope<Vec<QueueAvailability>>))
)]
pub async fn availability(ctx: Ctx) -> Result<Response, ApiError> {
    let s = ctx.state.clone();
    keyed(&ctx)?;
    let (snap, taken) = snapshot(&s);
    let list: Vec<QueueAvailability> = queues_of(&ctx)
        .into_iter()
        .map(|q| figures(&snap, &taken, &ctx, q))
        .collect();
    Ok(ok("Queue availability data", list))
}

/// `GET /availability/queues/{queue_id}`.
#[utoipa::path(
    get,
    path = "/v3/voice/{account_id}/availability/queues/{queue_id}",
    tag = "queues",
    summary = "One queue's live figures",
    params(("account_id" = String, Path, description = "The account's id (`demo`)"), ("queue_id" = i64, Path, description = "The queue's `pk`")),
    security((), ("api_key" = [])),
    responses((status = 200, description = "Success", body = Envelope<QueueAvailability>))
)]
pub async fn availability_one(ctx: Ctx) -> Result<Response, ApiError> {
    let s = ctx.state.clone();
    let queue_id = ctx.param("queue_id");
    keyed(&ctx)?;
    let q = queue_of(&ctx, &queue_id)?;
    let (snap, taken) = snapshot(&s);
    Ok(ok(
        "Queue availability data",
        figures(&snap, &taken, &ctx, q),
    ))
}
