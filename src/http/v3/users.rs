//! Users and numbers: `GET /availability` (every extension, online from the
//! live registrar, with its calls from the live legs when a developer key
//! asks), `GET /numbers` (the account's DIDs, filtered), and a user key's
//! `GET /user/numbers` and `GET /user/profile`.

use std::collections::{HashMap, HashSet};

use axum::extract::Query;
use axum::response::Response;
use serde::Deserialize;

#[allow(unused_imports)]
use super::schema::Envelope;
use super::schema::{Channel, Number, Profile, UserAvailability};
use super::{ok, ApiError, Ctx};
use crate::events::now_ms;
use crate::store::{Extension as Ext, PhoneNumber, PublicKind};

/// One user as the availability list shows it.
fn user_of(ctx: &Ctx, e: &Ext, now: i64) -> UserAvailability {
    let (first_name, last_name) = e.names();
    UserAvailability {
        pk: ctx.dir.pk(PublicKind::User, &ctx.account, &e.number),
        presence_id: e.number.clone(),
        caller_id: e.display_name.clone(),
        first_name,
        last_name,
        devices_registered: !ctx
            .sw
            .registrations
            .lookup(&ctx.account, &e.number, now)
            .is_empty(),
        channels: None,
    }
}

/// `GET /availability`: public without a key (no `channels`); with a
/// developer key (`availability:read`) each user's live calls too.
#[utoipa::path(
    get,
    path = "/v3/voice/{account_id}/availability",
    tag = "users",
    summary = "Every user, online or not; with a developer key their live calls",
    params(("account_id" = String, Path, description = "The account's id (`demo`)")),
    security((), ("api_key" = [])),
    responses((status = 200, description = "Success", body = Envelope<Vec<UserAvailability>>))
)]
pub async fn availability(ctx: Ctx) -> Result<Response, ApiError> {
    let account = ctx.account.clone();
    let keyed = match &ctx.key {
        Some(_) => {
            ctx.developer("availability:read")?;
            true
        }
        None => false,
    };
    let now = now_ms();
    let mut channels: HashMap<String, Vec<Channel>> = HashMap::new();
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
                channels.entry(user.clone()).or_default().push(Channel {
                    to: leg.callee.clone(),
                    from: leg.caller.clone(),
                    call_seconds: secs,
                    direction: direction.to_string(),
                    call_id: leg.call_id.to_string(),
                });
            }
        }
    }
    let users: Vec<UserAvailability> = ctx
        .dir
        .extensions_of(&account)
        .into_iter()
        .map(|e| {
            let mut u = user_of(&ctx, e, now);
            if keyed {
                u.channels = Some(channels.remove(&e.number).unwrap_or_default());
            }
            u
        })
        .collect();
    Ok(ok("User availability data", users))
}

fn number_of(ctx: &Ctx, n: &PhoneNumber) -> Number {
    let owner = ctx.dir.pk(PublicKind::User, &ctx.account, &n.extension);
    Number {
        pk: ctx.dir.pk(PublicKind::Number, &ctx.account, &n.number),
        number: n.number.clone(),
        friendly_name: n.friendly_name.clone().unwrap_or_else(|| n.number.clone()),
        sms_enabled: n.sms_enabled,
        mms_enabled: n.mms_enabled,
        status: "active".into(),
        owner_id: owner,
        extension: n.extension.clone(),
        sms_assigned_user_id: owner.filter(|_| n.sms_enabled),
        ai_agent_id: None,
    }
}

/// `GET /numbers` filters; every value is compared as text.
#[derive(Debug, Default, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct NumberFilter {
    /// E.164 (`%2B15551234567`).
    number: Option<String>,
    /// A user's `pk`.
    owner_id: Option<String>,
    /// `active`.
    status: Option<String>,
    sms_assigned_user_id: Option<String>,
    ai_agent_id: Option<String>,
}

impl NumberFilter {
    fn keeps(&self, n: &Number) -> bool {
        let is = |want: &Option<String>, have: Option<String>| {
            want.as_ref()
                .is_none_or(|w| have.as_deref() == Some(w.trim()))
        };
        let text = |v: Option<i64>| v.map(|x| x.to_string());
        is(&self.number, Some(n.number.clone()))
            && is(&self.owner_id, text(n.owner_id))
            && is(&self.status, Some(n.status.clone()))
            && is(&self.sms_assigned_user_id, text(n.sms_assigned_user_id))
            && is(&self.ai_agent_id, text(n.ai_agent_id))
    }
}

/// `GET /numbers` (developer key, `numbers:read`).
#[utoipa::path(
    get,
    path = "/v3/voice/{account_id}/numbers",
    tag = "numbers",
    summary = "The account's numbers, filtered",
    params(("account_id" = String, Path, description = "The account's id (`demo`)"), NumberFilter),
    security(("api_key" = [])),
    responses((status = 200, description = "Success", body = Envelope<Vec<Number>>))
)]
pub async fn numbers(
    ctx: Ctx,
    filter: Result<Query<NumberFilter>, axum::extract::rejection::QueryRejection>,
) -> Result<Response, ApiError> {
    let account = ctx.account.clone();
    ctx.developer("numbers:read")?;
    let Query(filter) = filter.map_err(|e| ApiError::bad_request(e.body_text()))?;
    let list: Vec<Number> = ctx
        .dir
        .numbers_of(&account)
        .into_iter()
        .map(|n| number_of(&ctx, n))
        .filter(|n| filter.keeps(n))
        .collect();
    Ok(ok("List of numbers", list))
}

/// `GET /user/numbers` (user key, `numbers:read`): the numbers of the key's extension.
#[utoipa::path(
    get,
    path = "/v3/voice/{account_id}/user/numbers",
    tag = "numbers",
    summary = "The numbers of the key's user",
    params(("account_id" = String, Path, description = "The account's id (`demo`)")),
    security(("api_key" = [])),
    responses((status = 200, description = "Success", body = Envelope<Vec<Number>>))
)]
pub async fn user_numbers(ctx: Ctx) -> Result<Response, ApiError> {
    let account = ctx.account.clone();
    let (_, ext) = ctx.user("numbers:read")?;
    let list: Vec<Number> = ctx
        .dir
        .numbers_of(&account)
        .into_iter()
        .filter(|n| n.extension == ext)
        .map(|n| number_of(&ctx, n))
        .collect();
    Ok(ok("List of phone numbers assigned to user", list))
}

/// `GET /user/profile` (user key, `profile:read`).
#[utoipa::path(
    get,
    path = "/v3/voice/{account_id}/user/profile",
    tag = "users",
    summary = "The key's user",
    params(("account_id" = String, Path, description = "The account's id (`demo`)")),
    security(("api_key" = [])),
    responses((status = 200, description = "Success", body = Envelope<Profile>))
)]
pub async fn profile(ctx: Ctx) -> Result<Response, ApiError> {
    let account = ctx.account.clone();
    let (_, ext) = ctx.user("profile:read")?;
    let e = ctx
        .dir
        .extension(&account, &ext)
        .ok_or_else(|| ApiError::not_found("the key's user"))?;
    let (first_name, last_name) = e.names();
    let pk = ctx.dir.pk(PublicKind::User, &account, &e.number);
    let online = !ctx
        .sw
        .registrations
        .lookup(&account, &e.number, now_ms())
        .is_empty();
    Ok(ok(
        "User profile details",
        Profile {
            pk,
            asterisk_user_id: pk,
            presence_id: e.number.clone(),
            caller_id: e.display_name.clone(),
            first_name,
            last_name,
            email: e.email.clone(),
            voicemail_enabled: e.voicemail,
            forward_enabled: e.forward_number.is_some(),
            forward_number: e.forward_number.clone(),
            time_zone: e.time_zone.clone().unwrap_or_else(|| "UTC".into()),
            caller_id_number: e.caller_id.clone(),
            devices_registered: online,
        },
    ))
}
