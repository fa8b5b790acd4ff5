//! Queues: `GET /queues` and `GET /queues/{queue_id}` (the queue's settings,
//! its members as `assigned_users`), `GET /availability/queues` and
//! `GET /availability/queues/{queue_id}` (agents online, available, on a call,
//! calls active) — the figures from the queue engine's snapshot, which it
//! republishes within 100 ms of every change. `queue_id` is the queue's
//! integer `pk`. Without a key only the public subset (names and figures).

use axum::extract::{Path, State};
use axum::response::Response;
use axum::Extension;
use serde_json::{json, Value};

use super::{ok, ApiError, Auth, Ctx};
use crate::http::AppState;
use crate::ids::{AccountId, QueueId};
use crate::routing::queue::{AgentStatus, QueueConfig};
use crate::store::PublicKind;

fn yes_no(b: bool) -> &'static str {
    if b {
        "yes"
    } else {
        "no"
    }
}

/// With a developer key (`queues:read`): true; public: false.
fn keyed(ctx: &Ctx) -> Result<bool, ApiError> {
    match &ctx.key {
        Some(_) => ctx.developer("queues:read").map(|_| true),
        None => Ok(false),
    }
}

fn basics(ctx: &Ctx, q: &QueueConfig) -> Value {
    json!({
        "pk": ctx.dir.pk(PublicKind::Queue, &ctx.account, q.id.as_str()),
        "name": q.id.as_str(),
        "queue_name": q.name,
        "extension": q.number,
    })
}

fn settings(ctx: &Ctx, q: &QueueConfig) -> Value {
    let mut v = basics(ctx, q);
    let m = v.as_object_mut().expect("an object");
    m.insert("strategy".into(), q.strategy.as_str().into());
    m.insert("musiconhold".into(), q.moh.as_str().into());
    m.insert("timeout".into(), q.timeout.as_secs().into());
    m.insert("retry".into(), q.retry.as_secs().into());
    m.insert("wrapuptime".into(), q.wrapup.as_secs().into());
    m.insert("maxlen".into(), q.maxlen.into());
    m.insert("joinempty".into(), yes_no(q.joinempty).into());
    m.insert("leavewhenempty".into(), yes_no(q.leavewhenempty).into());
    m.insert("ringinuse".into(), yes_no(q.ringinuse).into());
    v
}

/// The account's queues, in id order.
fn queues_of(ctx: &Ctx) -> Vec<&QueueConfig> {
    let mut v: Vec<&QueueConfig> = ctx
        .dir
        .queues()
        .iter()
        .filter(|q| q.account.as_str() == ctx.account)
        .collect();
    v.sort_by_key(|q| ctx.dir.pk(PublicKind::Queue, &ctx.account, q.id.as_str()));
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
pub async fn list(
    State(s): State<AppState>,
    Extension(auth): Extension<Auth>,
    Path(account): Path<String>,
) -> Result<Response, ApiError> {
    let ctx = Ctx::new(&s, &auth, &account)?;
    let full = keyed(&ctx)?;
    let list: Vec<Value> = queues_of(&ctx)
        .into_iter()
        .map(|q| {
            if full {
                settings(&ctx, q)
            } else {
                basics(&ctx, q)
            }
        })
        .collect();
    Ok(ok("List of queues", Value::from(list)))
}

/// `GET /queues/{queue_id}`: with a key, the settings and `assigned_users`.
pub async fn show(
    State(s): State<AppState>,
    Extension(auth): Extension<Auth>,
    Path((account, queue_id)): Path<(String, String)>,
) -> Result<Response, ApiError> {
    let ctx = Ctx::new(&s, &auth, &account)?;
    let full = keyed(&ctx)?;
    let q = queue_of(&ctx, &queue_id)?;
    if !full {
        return Ok(ok("Queue details", basics(&ctx, q)));
    }
    let mut v = settings(&ctx, q);
    let snap = s.acd.snapshot();
    let live = snap
        .queues
        .get(&(AccountId::from(account.as_str()), q.id.clone()));
    let mut users: Vec<Value> = q
        .members
        .iter()
        .map(|(ext, penalty)| member(&ctx, ext.as_str(), *penalty, false))
        .collect();
    if let Some(live) = live {
        // members' live status, and agents logged in by feature code
        for a in &live.agents {
            let entry = users
                .iter_mut()
                .find(|u| u["presence_id"] == a.extension.as_str());
            let status = serde_json::to_value(a.status).unwrap_or_default();
            match entry {
                Some(u) => {
                    u["status"] = status;
                    u["paused_reason"] = json!(a.pause_reason);
                    u["calls_taken"] = json!(a.calls);
                }
                None => {
                    let mut u = member(&ctx, a.extension.as_str(), a.penalty, a.dynamic);
                    u["status"] = status;
                    u["paused_reason"] = json!(a.pause_reason);
                    u["calls_taken"] = json!(a.calls);
                    users.push(u);
                }
            }
        }
    }
    v["assigned_users"] = Value::from(users);
    Ok(ok("Queue details", v))
}

fn member(ctx: &Ctx, ext: &str, penalty: u32, dynamic: bool) -> Value {
    let e = ctx.dir.extension(&ctx.account, ext);
    let (first, last) = e.map(|e| e.names()).unwrap_or_default();
    json!({
        "pk": ctx.dir.pk(PublicKind::User, &ctx.account, ext),
        "presence_id": ext,
        "callerID": e.map(|e| e.display_name.clone()).unwrap_or_default(),
        "first_name": first,
        "last_name": last,
        "penalty": penalty,
        "dynamic": dynamic,
        "status": "logged_out",
        "paused_reason": null,
        "calls_taken": 0,
    })
}

fn figures(s: &AppState, ctx: &Ctx, q: &QueueConfig) -> Value {
    let mut v = basics(ctx, q);
    let snap = s.acd.snapshot();
    let key = (
        AccountId::from(ctx.account.as_str()),
        QueueId::from(q.id.as_str()),
    );
    let m = v.as_object_mut().expect("an object");
    let (stats, ready) = match snap.queues.get(&key) {
        Some(live) => {
            let ready = live.agents.iter().any(|a| {
                matches!(
                    a.status,
                    AgentStatus::Available
                        | AgentStatus::Ringing
                        | AgentStatus::OnCall
                        | AgentStatus::WrapUp
                )
            });
            (Some(&live.stats), ready)
        }
        None => (None, false),
    };
    let n = |f: fn(&crate::routing::queue::QueueStats) -> usize| stats.map(f).unwrap_or(0);
    m.insert("is_ready".into(), ready.into());
    m.insert("agents_online".into(), n(|s| s.agents_online).into());
    m.insert("agents_available".into(), n(|s| s.agents_available).into());
    m.insert("agents_on_call".into(), n(|s| s.agents_on_call).into());
    m.insert("agents_paused".into(), n(|s| s.agents_paused).into());
    m.insert(
        "active_calls".into(),
        n(|s| s.calls_waiting + s.agents_on_call).into(),
    );
    m.insert("calls_waiting".into(), n(|s| s.calls_waiting).into());
    m.insert(
        "longest_wait_seconds".into(),
        json!(stats
            .map(|s| s.longest_wait_secs.round() as u64)
            .unwrap_or(0)),
    );
    m.insert("updated_at".into(), super::iso(snap.taken_ms).into());
    v
}

/// `GET /availability/queues`.
pub async fn availability(
    State(s): State<AppState>,
    Extension(auth): Extension<Auth>,
    Path(account): Path<String>,
) -> Result<Response, ApiError> {
    let ctx = Ctx::new(&s, &auth, &account)?;
    keyed(&ctx)?;
    let list: Vec<Value> = queues_of(&ctx)
        .into_iter()
        .map(|q| figures(&s, &ctx, q))
        .collect();
    Ok(ok("Queue availability data", Value::from(list)))
}

/// `GET /availability/queues/{queue_id}`.
pub async fn availability_one(
    State(s): State<AppState>,
    Extension(auth): Extension<Auth>,
    Path((account, queue_id)): Path<(String, String)>,
) -> Result<Response, ApiError> {
    let ctx = Ctx::new(&s, &auth, &account)?;
    keyed(&ctx)?;
    let q = queue_of(&ctx, &queue_id)?;
    Ok(ok("Queue availability data", figures(&s, &ctx, q)))
}
