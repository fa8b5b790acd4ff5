//! Users and numbers: `GET /availability` (every extension, online from the
//! live registrar, with its calls from the live legs when a developer key
//! asks), `GET /numbers` (the account's DIDs, filtered), and a user key's
//! `GET /user/numbers` and `GET /user/profile`.

use std::collections::{HashMap, HashSet};

use axum::extract::{Path, Query, State};
use axum::response::Response;
use axum::Extension;
use serde::Deserialize;
use serde_json::{json, Value};

use super::{ok, ApiError, Auth, Ctx};
use crate::events::now_ms;
use crate::http::AppState;
use crate::store::{Extension as Ext, PhoneNumber, PublicKind};

/// One user as the availability list shows it.
fn user_json(ctx: &Ctx, e: &Ext, now: i64) -> Value {
    let (first, last) = e.names();
    let online = !ctx
        .sw
        .registrations
        .lookup(&ctx.account, &e.number, now)
        .is_empty();
    json!({
        "pk": ctx.dir.pk(PublicKind::User, &ctx.account, &e.number),
        "presence_id": e.number,
        "callerID": e.display_name,
        "first_name": first,
        "last_name": last,
        "devices_registered": online,
    })
}

/// `GET /availability`: public without a key (no `channels`); with a
/// developer key (`availability:read`) each user's live calls too.
pub async fn availability(
    State(s): State<AppState>,
    Extension(auth): Extension<Auth>,
    Path(account): Path<String>,
) -> Result<Response, ApiError> {
    let ctx = Ctx::new(&s, &auth, &account)?;
    let keyed = match &ctx.key {
        Some(_) => {
            ctx.developer("availability:read")?;
            true
        }
        None => false,
    };
    let now = now_ms();
    let mut channels: HashMap<String, Vec<Value>> = HashMap::new();
    if keyed {
        let mut seen: HashSet<(String, crate::ids::CallId)> = HashSet::new();
        let mut legs = ctx.sw.metrics.live_legs.of_account(&account);
        legs.sort_by_key(|l| l.created_ms);
        for leg in legs {
            let since = leg.answered_ms.unwrap_or(leg.created_ms);
            let secs = ((now - since).max(0) + 500) / 1000;
            for (user, direction) in [(&leg.caller, "outbound"), (&leg.callee, "inbound")] {
                if ctx.dir.extension(&account, user).is_none()
                    || !seen.insert((user.clone(), leg.call_id))
                {
                    continue;
                }
                channels.entry(user.clone()).or_default().push(json!({
                    "to": leg.callee,
                    "from": leg.caller,
                    "call_seconds": secs,
                    "direction": direction,
                    "call_id": leg.call_id,
                }));
            }
        }
    }
    let users: Vec<Value> = ctx
        .dir
        .extensions_of(&account)
        .into_iter()
        .map(|e| {
            let mut u = user_json(&ctx, e, now);
            if keyed {
                u["channels"] = Value::from(channels.remove(&e.number).unwrap_or_default());
            }
            u
        })
        .collect();
    Ok(ok("User availability data", Value::from(users)))
}

fn number_json(ctx: &Ctx, n: &PhoneNumber) -> Value {
    let owner = ctx.dir.pk(PublicKind::User, &ctx.account, &n.extension);
    json!({
        "pk": ctx.dir.pk(PublicKind::Number, &ctx.account, &n.number),
        "number": n.number,
        "friendly_name": n.friendly_name.clone().unwrap_or_else(|| n.number.clone()),
        "sms_enabled": n.sms_enabled,
        "mms_enabled": n.mms_enabled,
        "status": "active",
        "owner_id": owner,
        "extension": n.extension,
        "sms_assigned_user_id": if n.sms_enabled { owner } else { None },
        "ai_agent_id": null,
    })
}

/// `GET /numbers` filters; every value is compared as text.
#[derive(Debug, Default, Deserialize)]
pub struct NumberFilter {
    number: Option<String>,
    owner_id: Option<String>,
    status: Option<String>,
    sms_assigned_user_id: Option<String>,
    ai_agent_id: Option<String>,
}

impl NumberFilter {
    fn keeps(&self, n: &Value) -> bool {
        let text = |v: &Value| match v {
            Value::String(s) => Some(s.clone()),
            Value::Number(x) => Some(x.to_string()),
            _ => None,
        };
        let is = |want: &Option<String>, field: &str| {
            want.as_ref()
                .is_none_or(|w| text(&n[field]).as_deref() == Some(w.trim()))
        };
        is(&self.number, "number")
            && is(&self.owner_id, "owner_id")
            && is(&self.status, "status")
            && is(&self.sms_assigned_user_id, "sms_assigned_user_id")
            && is(&self.ai_agent_id, "ai_agent_id")
    }
}

/// `GET /numbers` (developer key, `numbers:read`).
pub async fn numbers(
    State(s): State<AppState>,
    Extension(auth): Extension<Auth>,
    Path(account): Path<String>,
    filter: Result<Query<NumberFilter>, axum::extract::rejection::QueryRejection>,
) -> Result<Response, ApiError> {
    let ctx = Ctx::new(&s, &auth, &account)?;
    ctx.developer("numbers:read")?;
    let Query(filter) = filter.map_err(|e| ApiError::bad_request(e.body_text()))?;
    let list: Vec<Value> = ctx
        .dir
        .numbers_of(&account)
        .into_iter()
        .map(|n| number_json(&ctx, n))
        .filter(|n| filter.keeps(n))
        .collect();
    Ok(ok("List of numbers", Value::from(list)))
}

/// `GET /user/numbers` (user key, `numbers:read`): the numbers of the key's extension.
pub async fn user_numbers(
    State(s): State<AppState>,
    Extension(auth): Extension<Auth>,
    Path(account): Path<String>,
) -> Result<Response, ApiError> {
    let ctx = Ctx::new(&s, &auth, &account)?;
    let (_, ext) = ctx.user("numbers:read")?;
    let list: Vec<Value> = ctx
        .dir
        .numbers_of(&account)
        .into_iter()
        .filter(|n| n.extension == ext)
        .map(|n| number_json(&ctx, n))
        .collect();
    Ok(ok(
        "List of phone numbers assigned to user",
        Value::from(list),
    ))
}

/// `GET /user/profile` (user key, `profile:read`).
pub async fn profile(
    State(s): State<AppState>,
    Extension(auth): Extension<Auth>,
    Path(account): Path<String>,
) -> Result<Response, ApiError> {
    let ctx = Ctx::new(&s, &auth, &account)?;
    let (_, ext) = ctx.user("profile:read")?;
    let e = ctx
        .dir
        .extension(&account, &ext)
        .ok_or_else(|| ApiError::not_found("the key's user"))?;
    let (first, last) = e.names();
    let pk = ctx.dir.pk(PublicKind::User, &account, &e.number);
    let online = !ctx
        .sw
        .registrations
        .lookup(&account, &e.number, now_ms())
        .is_empty();
    Ok(ok(
        "User profile details",
        json!({
            "pk": pk,
            "asterisk_user_id": pk,
            "presence_id": e.number,
            "callerID": e.display_name,
            "first_name": first,
            "last_name": last,
            "email": e.email,
            "voicemail_enabled": e.voicemail,
            "forward_enabled": e.forward_number.is_some(),
            "forward_number": e.forward_number,
            "time_zone": e.time_zone.clone().unwrap_or_else(|| "UTC".into()),
            "caller_id_number": e.caller_id,
            "devices_registered": online,
        }),
    ))
}
