//! The voice developer API (v3, `docs/voice-api.md`) under
//! `/v3/voice/{account_id}`: availability, queues and their live figures,
//! click-to-call, numbers, the user's profile, SMS. Every answer is the
//! envelope `{result, error, message, timestamp}` (errors: [`ApiError`]).
//!
//! [`gate`] runs first on every route: it finds the key in `X-API-Key` (none
//! is a public request; one that is no live key is 403 AUTH_INVALID), counts
//! the request against the key's or the client's rate limit, and hands the
//! handler an [`Auth`]. Handlers then ask [`Ctx`] for what the route needs.

mod calls;
mod error;
mod idempotency;
mod limits;
pub mod openapi;
mod queues;
pub mod schema;
mod shared_limits;
mod sms;
mod users;

use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;

use axum::extract::{ConnectInfo, FromRequestParts, Path, Request, State};
use axum::http::request::Parts;
use axum::http::HeaderValue;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::routing::{delete, get, post};
use axum::{Json, Router};
use serde_json::{json, Value};

pub use error::{ApiError, ErrorCode};
pub use limits::Limits;

use super::AppState;
use crate::store::{ApiKey, ApiKeyKind};
use crate::switch::directory::Directory;
use crate::switch::Switch;

/// The voice API's own state: rate limits, the live keys it looked up, and the calls it placed.
#[derive(Default)]
pub struct VoiceApi {
    pub limits: Limits,
    /// The same limits held across the cluster in Redis (`--api-rate-limit-redis`).
    pub shared: Option<shared_limits::SharedLimits>,
    pub keys: KeyCache,
    pub placed: Arc<calls::Placed>,
}

pub use crate::http::key_cache::KeyCache;

impl VoiceApi {
    /// Holds the limits in Redis at `url` (keys under `prefix`) from now on.
    pub async fn share_limits(&mut self, url: &str, prefix: &str) -> Result<(), String> {
        let shared = shared_limits::SharedLimits::connect(url, prefix)
            .await
            .map_err(|e| format!("--api-rate-limit-redis {url}: {e}"))?;
        self.shared = Some(shared);
        Ok(())
    }

    /// Counts one request: in Redis when shared (this node's own count while
    /// Redis cannot be reached), else in-process.
    async fn check(&self, bucket: &limits::Bucket) -> limits::Allowance {
        if let Some(shared) = &self.shared {
            match shared.check(bucket, self.limits.limit_for(bucket)).await {
                Ok(a) => return a,
                Err(e) => {
                    tracing::warn!(error = %e, "shared rate limits: Redis failed; counting locally")
                }
            }
        }
        self.limits.check(bucket)
    }

    /// With `keyed` and `public` requests a minute allowed.
    pub fn with_limits(keyed: u32, public: u32) -> VoiceApi {
        VoiceApi {
            limits: Limits::per_minute(keyed, public),
            shared: None,
            keys: KeyCache::default(),
            placed: Arc::default(),
        }
    }
}

/// Who is asking: nobody in particular, or the holder of a live key.
#[derive(Clone, Debug)]
pub enum Auth {
    Public,
    Key(Arc<ApiKey>),
}

/// The routes, behind the gate.
pub fn routes(state: AppState) -> Router<AppState> {
    const P: &str = "/v3/voice/{account_id}";
    Router::new()
        .route(&format!("{P}/availability"), get(users::availability))
        .route(&format!("{P}/queues"), get(queues::list))
        .route(&format!("{P}/queues/{{queue_id}}"), get(queues::show))
        .route(
            &format!("{P}/availability/queues"),
            get(queues::availability),
        )
        .route(
            &format!("{P}/availability/queues/{{queue_id}}"),
            get(queues::availability_one),
        )
        .route(&format!("{P}/call/outbound"), post(calls::outbound))
        .route(
            &format!("{P}/calls/{{call_id}}"),
            get(calls::show).merge(delete(calls::hang_up)),
        )
        .route(&format!("{P}/sms/send"), post(sms::send))
        .route(&format!("{P}/numbers"), get(users::numbers))
        .route(&format!("{P}/user/numbers"), get(users::user_numbers))
        .route(&format!("{P}/user/profile"), get(users::profile))
        .route("/v3/{*rest}", axum::routing::any(no_route))
        .method_not_allowed_fallback(wrong_method)
        .layer(axum::extract::DefaultBodyLimit::max(MAX_BODY))
        .layer(axum::middleware::from_fn_with_state(state, gate))
        .layer(tower_http::catch_panic::CatchPanicLayer::custom(panicked))
}

/// A handler that panicked answers 500 INTERNAL_ERROR in the envelope (and is logged), never a dropped connection.
fn panicked(_: Box<dyn std::any::Any + Send + 'static>) -> Response {
    tracing::error!("voice API: a handler panicked");
    ApiError::new(
        ErrorCode::Internal,
        "the switch failed on this request; try again",
    )
    .into_response()
}

async fn no_route() -> ApiError {
    ApiError::new(ErrorCode::NotFound, "no such endpoint")
}

async fn wrong_method() -> ApiError {
    ApiError::new(
        ErrorCode::MethodNotAllowed,
        "this endpoint does not take that method",
    )
}

/// A POST's raw body, as the handler takes it.
pub type Body = Result<axum::body::Bytes, axum::extract::rejection::BytesRejection>;

/// The largest body a POST may carry.
pub const MAX_BODY: usize = 64 * 1024;

/// The body, or why it could not be read (too large, cut short) as a 400.
pub fn body_bytes(body: Body) -> Result<axum::body::Bytes, ApiError> {
    body.map_err(|e| {
        ApiError::bad_request(format!("the body could not be read: {}", e.body_text()))
    })
}

/// A POST's body as the JSON object it must be.
pub fn json_object(body: &[u8]) -> Result<Value, ApiError> {
    let v: Value = serde_json::from_slice(body)
        .map_err(|e| ApiError::bad_request(format!("the body is not JSON: {e}")))?;
    if v.is_object() {
        Ok(v)
    } else {
        Err(ApiError::bad_request("the body must be a JSON object"))
    }
}

/// ISO 8601 UTC, to the second (`2024-01-15T10:30:00Z`).
pub fn timestamp() -> String {
    iso(crate::events::now_ms())
}

/// Unix milliseconds as ISO 8601 UTC, to the second.
pub fn iso(ms: i64) -> String {
    chrono::DateTime::from_timestamp(ms.div_euclid(1000), 0)
        .map(|t| t.to_rfc3339_opts(chrono::SecondsFormat::Secs, true))
        .unwrap_or_default()
}

/// A success: `result` under the envelope with `message` (serialized once, straight from `result`).
pub fn ok<T: serde::Serialize>(message: &str, result: T) -> Response {
    Json(schema::Envelope {
        result,
        error: false,
        message: message.to_string(),
        timestamp: timestamp(),
    })
    .into_response()
}

fn envelope(message: &str, result: Value) -> Value {
    json!({
        "result": result,
        "error": false,
        "message": message,
        "timestamp": timestamp(),
    })
}

/// Finds the caller's key, counts the request, and sets the rate-limit headers.
async fn gate(State(s): State<AppState>, mut req: Request, next: Next) -> Response {
    let ip = req
        .extensions()
        .get::<ConnectInfo<SocketAddr>>()
        .map(|c| c.0.ip())
        .unwrap_or(IpAddr::from([0, 0, 0, 0]));
    // an empty header is no key; one that is not text is no live key
    let presented = req
        .headers()
        .get("x-api-key")
        .map(|v| {
            v.to_str()
                .map(|t| t.trim().to_string())
                .unwrap_or_else(|_| "\u{0}".into())
        })
        .filter(|t| !t.is_empty());
    let (auth, bucket, refusal) = match presented {
        None => (Auth::Public, limits::Bucket::Ip(ip), None),
        Some(token) => match lookup(&s, &token).await {
            Ok(Some(key)) => {
                let bucket = limits::Bucket::Key(key.id.clone());
                (Auth::Key(key), bucket, None)
            }
            Ok(None) => (
                Auth::Public,
                limits::Bucket::Ip(ip),
                Some(ApiError::new(
                    ErrorCode::AuthInvalid,
                    "the key in X-API-Key is not a live API key",
                )),
            ),
            Err(e) => (Auth::Public, limits::Bucket::Ip(ip), Some(e)),
        },
    };
    let allowance = s.voice.check(&bucket).await;
    let mut resp = if let Some(secs) = allowance.retry_after_secs {
        let mut e = ApiError::new(
            ErrorCode::RateLimited,
            format!(
                "rate limit of {} requests a minute exceeded; retry in {secs} s",
                allowance.limit
            ),
        );
        e.retry_after_secs = Some(secs);
        e.into_response()
    } else if let Some(e) = refusal {
        e.into_response()
    } else {
        req.extensions_mut().insert(auth);
        next.run(req).await
    };
    let h = resp.headers_mut();
    h.insert("x-ratelimit-limit", HeaderValue::from(allowance.limit));
    h.insert(
        "x-ratelimit-remaining",
        HeaderValue::from(allowance.remaining),
    );
    h.insert("x-ratelimit-reset", HeaderValue::from(allowance.reset_secs));
    resp
}

/// The live key `token` is, noting its use (at most once a minute).
async fn lookup(s: &AppState, token: &str) -> Result<Option<Arc<ApiKey>>, ApiError> {
    if token.is_empty() || token.len() > 200 {
        return Ok(None);
    }
    if let Some(key) = s.voice.keys.get(token) {
        return Ok(Some(key));
    }
    let sw = switch(s)?;
    let Some(key) = sw.store.api_key_by_secret(token).await? else {
        return Ok(None);
    };
    let key = Arc::new(key);
    s.voice.keys.put(token, key.clone());
    let now = crate::events::now_ms();
    if key.last_used_at.is_none_or(|t| now - t > 60_000) {
        let store = sw.store.clone();
        let id = key.id.clone();
        tokio::spawn(async move {
            if let Err(e) = store.touch_api_key(&id, now).await {
                tracing::warn!(error = %e, "could not note an API key's use");
            }
        });
    }
    Ok(Some(key))
}

fn switch(s: &AppState) -> Result<&Arc<Switch>, ApiError> {
    s.sw.as_ref()
        .ok_or_else(|| ApiError::unavailable("the switch is not running"))
}

/// One request's context, the first argument of every handler: the app's
/// state, the switch and its provisioning snapshot, the path's account (which
/// exists, and is the key's when there is a key) and other path parameters.
pub struct Ctx {
    pub state: AppState,
    pub sw: Arc<Switch>,
    pub dir: Arc<Directory>,
    pub account: String,
    pub key: Option<Arc<ApiKey>>,
    params: HashMap<String, String>,
}

impl FromRequestParts<AppState> for Ctx {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, s: &AppState) -> Result<Ctx, ApiError> {
        let Path(params) = Path::<HashMap<String, String>>::from_request_parts(parts, s)
            .await
            .map_err(|e| ApiError::bad_request(e.body_text()))?;
        let auth = parts
            .extensions
            .get::<Auth>()
            .cloned()
            .unwrap_or(Auth::Public);
        Ctx::new(s, &auth, params)
    }
}

impl Ctx {
    fn new(s: &AppState, auth: &Auth, params: HashMap<String, String>) -> Result<Ctx, ApiError> {
        let account = params.get("account_id").cloned().unwrap_or_default();
        let account = account.as_str();
        let sw = switch(s)?.clone();
        let dir = sw.directory();
        let key = match auth {
            Auth::Public => None,
            Auth::Key(k) => Some(k.clone()),
        };
        let theirs = key.as_ref().is_none_or(|k| k.account_id == account);
        if dir.account(account).is_none() || !theirs {
            return Err(ApiError::not_found("account"));
        }
        Ok(Ctx {
            state: s.clone(),
            sw,
            dir,
            account: account.to_string(),
            key,
            params,
        })
    }

    /// A path parameter (empty when the route has none of that name).
    pub fn param(&self, name: &str) -> String {
        self.params.get(name).cloned().unwrap_or_default()
    }

    /// The request's key, which must be of `kind` (any of them when `None`) and hold `scope`.
    fn need(&self, kind: Option<ApiKeyKind>, scope: &str) -> Result<&ApiKey, ApiError> {
        let Some(key) = self.key.as_deref() else {
            return Err(ApiError::new(
                ErrorCode::AuthRequired,
                "this endpoint needs an API key in X-API-Key",
            ));
        };
        if key.kind == ApiKeyKind::Merchant {
            return Err(ApiError::forbidden(
                "a merchant key cannot use the voice API; use a developer or user key",
            ));
        }
        if let Some(k) = kind.filter(|k| *k != key.kind) {
            return Err(ApiError::forbidden(format!(
                "this endpoint needs a {} key; this is a {} key",
                k.as_str(),
                key.kind.as_str()
            )));
        }
        if !key.has_scope(scope) {
            return Err(ApiError::forbidden(format!(
                "this key lacks the scope {scope}"
            )));
        }
        Ok(key)
    }

    pub fn developer(&self, scope: &str) -> Result<&ApiKey, ApiError> {
        self.need(Some(ApiKeyKind::Developer), scope)
    }

    /// A user key and its extension.
    pub fn user(&self, scope: &str) -> Result<(&ApiKey, String), ApiError> {
        let key = self.need(Some(ApiKeyKind::User), scope)?;
        let ext = key
            .extension
            .clone()
            .filter(|e| self.dir.extension(&self.account, e).is_some())
            .ok_or_else(|| ApiError::not_found("the key's user"))?;
        Ok((key, ext))
    }

    /// A developer or user key.
    pub fn any_key(&self, scope: &str) -> Result<&ApiKey, ApiError> {
        self.need(None, scope)
    }
}

#[cfg(test)]
mod tests;
