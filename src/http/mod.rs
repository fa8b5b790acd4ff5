//! The HTTP surface: `app()` builds the whole router; `serve` only binds it.
//! For now: health, Prometheus metrics, a server-sent-events stream of the
//! switch's events (used by tests and operators), the live figures of every
//! ACD queue (`GET /queues`), the operator routes of `operator` (place
//! and hang up calls, voicemail boxes) and `keys_admin` (API keys), the v2
//! webhooks API, the v3 voice API with its OpenAPI document, browser
//! provisioning under `/api/v1/voice` and the agent page at `/agent`.

mod agent;
mod call_commands;
mod events;
mod hooks;
pub mod https;
pub mod key_cache;
mod keys_admin;
pub mod merchant_admin;
pub mod openapi;
mod operator;
pub mod v1;
mod v2;
pub mod v3;

use axum::extract::State;
use axum::http::{header, StatusCode};
use axum::response::IntoResponse;
use axum::routing::get;
use axum::Router;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use crate::events::Bus;
use crate::metrics::Metrics;

#[derive(Clone)]
pub struct AppState {
    pub metrics: Arc<Metrics>,
    pub acd: crate::call::acd::AcdHandle,
    /// The running switch (operator routes answer 503 without one).
    pub sw: Option<Arc<crate::switch::Switch>>,
    /// When set, operator routes accept any peer bearing it (else loopback only).
    pub admin_token: Option<String>,
    pub bus: Bus,
    pub ready: Arc<AtomicBool>,
    /// Webhook subscriptions and delivery (the v2 API answers 503 without).
    pub webhooks: Option<Arc<crate::webhooks::Webhooks>>,
    /// The voice API's rate limits and placed calls.
    pub voice: Arc<v3::VoiceApi>,
    /// What browsers are told to connect to.
    pub provisioning: Arc<v1::provisioning::Config>,
    /// The merchant API and its messaging (`/api/v1` answers 503 without).
    pub merchant: Option<Arc<v1::auth::MerchantApi>>,
}

pub fn app(state: AppState) -> Router {
    let voice = v3::routes(state.clone());
    Router::new()
        .route("/healthz", get(healthz))
        .route("/metrics", get(metrics))
        .route("/events", get(events::events))
        .route("/queues", get(queues))
        .route("/calls", axum::routing::post(operator::place))
        .route(
            "/calls/{call_id}",
            get(call_commands::show).delete(operator::hang_up),
        )
        .route(
            "/calls/{call_id}/legs",
            axum::routing::post(call_commands::dial),
        )
        .route(
            "/calls/{call_id}/legs/{leg_id}",
            axum::routing::delete(call_commands::hang_up_leg),
        )
        .route(
            "/calls/{call_id}/bridge",
            axum::routing::post(call_commands::bridge),
        )
        .route(
            "/calls/{call_id}/legs/{leg_id}/unbridge",
            axum::routing::post(call_commands::unbridge),
        )
        .route(
            "/calls/{call_id}/legs/{leg_id}/mix",
            axum::routing::put(call_commands::mix).delete(call_commands::unmix),
        )
        .route(
            "/calls/{call_id}/legs/{leg_id}/play",
            axum::routing::post(call_commands::play),
        )
        .route(
            "/calls/{call_id}/legs/{leg_id}/record",
            axum::routing::post(call_commands::record).delete(call_commands::stop_recording),
        )
        .route(
            "/calls/{call_id}/legs/{leg_id}/collect",
            axum::routing::post(call_commands::collect),
        )
        .route(
            "/calls/{call_id}/transfer",
            axum::routing::post(operator::transfer),
        )
        .route(
            "/voicemail/{account}/{mailbox}",
            get(operator::list_voicemail),
        )
        .route(
            "/voicemail/{account}/{mailbox}/greeting",
            axum::routing::put(operator::put_greeting).delete(operator::delete_greeting),
        )
        .route(
            "/voicemail/{account}/{mailbox}/{id}",
            get(operator::download_voicemail).delete(operator::delete_voicemail),
        )
        .route(
            "/admin/accounts/{account_id}/keys",
            get(keys_admin::list).post(keys_admin::create),
        )
        .route(
            "/admin/accounts/{account_id}/keys/{key_id}",
            axum::routing::delete(keys_admin::revoke),
        )
        .route("/v2/webhooks", get(v2::webhooks::catalogue))
        .route(
            "/v2/accounts/{account_id}/webhooks",
            get(v2::webhooks::list)
                .put(v2::webhooks::create)
                .post(v2::webhooks::create),
        )
        .route(
            "/v2/accounts/{account_id}/webhooks/attempts",
            get(v2::webhooks::account_attempts),
        )
        .route(
            "/v2/accounts/{account_id}/webhooks/{webhook_id}",
            get(v2::webhooks::get)
                .post(v2::webhooks::replace)
                .patch(v2::webhooks::patch)
                .delete(v2::webhooks::delete),
        )
        .route(
            "/v2/accounts/{account_id}/webhooks/{webhook_id}/attempts",
            get(v2::webhooks::attempts),
        )
        .route(
            "/v2/accounts/{account_id}/webhooks/{webhook_id}/attempts/{attempt_id}/replay",
            axum::routing::post(v2::webhooks::replay_attempt),
        )
        .route(
            "/v2/accounts/{account_id}/webhooks/{webhook_id}/replay",
            axum::routing::post(v2::webhooks::replay_event),
        )
        .route(
            "/v2/accounts/{account_id}/webhooks/{webhook_id}/rotate-secret",
            axum::routing::post(v2::webhooks::rotate),
        )
        .route("/agent", get(agent::root))
        .route("/agent/", get(agent::index))
        .route("/agent/agent.js", get(agent::script))
        .route("/agent/agent.css", get(agent::style))
        .route(
            "/api/v1/voice/provisioning",
            get(v1::provisioning::provisioning),
        )
        .route(
            "/api/v1/voice/provisioning/session",
            axum::routing::post(v1::provisioning::session),
        )
        .route(
            "/api/v1/voice/provisioning/presence",
            axum::routing::post(v1::provisioning::presence),
        )
        .route(
            "/api/v1/voice/provisioning/calls",
            get(v1::provisioning::calls),
        )
        .merge(merchant_routes())
        .merge(voice)
        .merge(openapi::docs())
        .with_state(state)
}

/// The merchant API (`/api/v1`), providers' callbacks and the merchant operator routes.
fn merchant_routes() -> Router<AppState> {
    use axum::routing::post;
    use v1::{billing, consents, merchants, messages, messaging};
    let m = "/api/v1/merchants/{merchantId}/messaging";
    Router::new()
        .route(
            "/api/v1/merchants",
            post(merchants::upsert).get(merchants::list),
        )
        .route("/api/v1/merchants/{merchantId}", get(merchants::show))
        .route(
            "/api/v1/consents",
            post(consents::upsert).get(consents::list),
        )
        .route("/api/v1/messages/sms", post(messages::send_sms))
        .route("/api/v1/messages/voice", post(messages::send_voice))
        .route("/api/v1/messages/email", post(messages::send_email))
        .route("/api/v1/email/send", post(messages::email_send))
        .route("/api/v1/messages", get(messages::list))
        .route("/api/v1/messages/{messageId}", get(messages::show))
        .route(
            "/api/v1/messages/{messageId}/cancel",
            post(messages::cancel),
        )
        .route("/api/v1/billing/upgrade", post(billing::upgrade))
        .route("/api/v1/alerts", get(billing::alerts))
        .route("/api/v1/reports/usage", get(billing::usage))
        .route(
            &format!("{m}/brand"),
            post(messaging::put_brand).get(messaging::get_brand),
        )
        .route(
            &format!("{m}/campaigns"),
            post(messaging::add_campaign).get(messaging::campaigns),
        )
        .route(
            &format!("{m}/numbers"),
            post(messaging::add_number).get(messaging::numbers),
        )
        .route(
            &format!("{m}/numbers/{{number}}/assignment"),
            post(messaging::assign),
        )
        .route(&format!("{m}/status"), get(messaging::status))
        .route(
            "/hooks/twilio/status/{message_id}",
            post(hooks::twilio_status),
        )
        .route("/hooks/twilio/inbound", post(hooks::twilio_inbound))
        .route("/hooks/telnyx/inbound", post(hooks::telnyx_inbound))
        .route("/hooks/telnyx/{message_id}", post(hooks::telnyx_event))
        .route("/admin/merchant/lanes", get(merchant_admin::lanes))
        .route("/admin/simulator/messages", get(merchant_admin::simulator))
        .route(
            "/admin/accounts/{account_id}/delivery",
            get(merchant_admin::get_delivery).put(merchant_admin::put_delivery),
        )
        .route(
            "/admin/payments/{payment_id}/confirm",
            post(merchant_admin::confirm_payment),
        )
        .route(
            "/admin/messaging/{record_id}/status",
            post(merchant_admin::messaging_status),
        )
        .layer(axum::extract::DefaultBodyLimit::max(v1::MAX_BODY))
}

async fn healthz(State(s): State<AppState>) -> impl IntoResponse {
    if s.ready.load(Ordering::Acquire) {
        (StatusCode::OK, "ok\n")
    } else {
        (StatusCode::SERVICE_UNAVAILABLE, "starting\n")
    }
}

async fn metrics(State(s): State<AppState>) -> impl IntoResponse {
    let mut text = s.metrics.render();
    text.push_str(&process_metrics());
    if let Some(m) = &s.merchant {
        if let Ok(v) = merchant_admin::lanes_json(&m.svc).await {
            text.push_str(&lane_metrics(&v));
        }
    }
    ([(header::CONTENT_TYPE, "text/plain; version=0.0.4")], text)
}

/// What the process holds (for leak checks under load): open file
/// descriptors, live runtime tasks, OS threads, calls on the relay plane.
fn process_metrics() -> String {
    use std::fmt::Write;
    let mut out = String::new();
    let count = |dir: &str| std::fs::read_dir(dir).map_or(-1, |d| d.count() as i64);
    let tasks =
        tokio::runtime::Handle::try_current().map_or(-1, |h| h.metrics().num_alive_tasks() as i64);
    let plane = crate::media::relay::plane::global();
    let gauges = [
        ("switchyard_process_open_fds", count("/proc/self/fd")),
        ("switchyard_process_threads", count("/proc/self/task")),
        ("switchyard_runtime_alive_tasks", tasks),
        (
            "switchyard_relay_units",
            plane.map_or(0, |p| p.units() as i64),
        ),
    ];
    for (name, v) in gauges {
        let _ = writeln!(out, "# TYPE {name} gauge\n{name} {v}");
    }
    out
}

/// The dispatch lanes in Prometheus' text format.
fn lane_metrics(v: &serde_json::Value) -> String {
    use std::fmt::Write;
    let mut out = String::new();
    let gauges = [
        ("backlog", "backlog"),
        ("scheduled", "scheduled"),
        ("dlq", "dlq"),
    ];
    for (name, field) in gauges {
        let _ = writeln!(out, "# TYPE switchyard_dispatch_{name} gauge");
        for l in v["lanes"].as_array().into_iter().flatten() {
            let _ = writeln!(
                out,
                "switchyard_dispatch_{name}{{lane=\"{}\"}} {}",
                l["lane"].as_str().unwrap_or(""),
                l[field]
            );
        }
    }
    let counters = [
        "enqueued",
        "processed",
        "failed",
        "retried",
        "deadLettered",
        "throttled",
    ];
    for c in counters {
        let name: String = c
            .chars()
            .flat_map(|ch| {
                if ch.is_ascii_uppercase() {
                    vec!['_', ch.to_ascii_lowercase()]
                } else {
                    vec![ch]
                }
            })
            .collect();
        let _ = writeln!(out, "# TYPE switchyard_dispatch_{name}_total counter");
        for l in v["lanes"].as_array().into_iter().flatten() {
            let _ = writeln!(
                out,
                "switchyard_dispatch_{name}_total{{lane=\"{}\"}} {}",
                l["lane"].as_str().unwrap_or(""),
                l["sinceStart"][c]
            );
        }
    }
    out
}

/// Every queue's figures and agents, from the driver's latest snapshot
/// (at most 100 ms old after a change, 1 s otherwise).
async fn queues(State(s): State<AppState>) -> impl IntoResponse {
    let snap = s.acd.snapshot();
    let mut list: Vec<serde_json::Value> = snap
        .queues
        .iter()
        .map(|((account, _), q)| {
            let mut v = serde_json::to_value(q).unwrap_or_default();
            v["account_id"] = serde_json::Value::from(account.as_str());
            v
        })
        .collect();
    list.sort_by(|a, b| {
        (a["account_id"].as_str(), a["queue_id"].as_str())
            .cmp(&(b["account_id"].as_str(), b["queue_id"].as_str()))
    });
    axum::Json(serde_json::json!({ "queues": list, "taken_ms": snap.taken_ms }))
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::body::Body;
    use axum::http::Request;
    use tower::ServiceExt;

    #[tokio::test]
    async fn healthz_reflects_readiness_and_metrics_render() {
        let ready = Arc::new(AtomicBool::new(false));
        let state = AppState {
            metrics: Arc::new(Metrics::default()),
            acd: crate::call::acd::AcdHandle::detached(),
            sw: None,
            admin_token: None,
            bus: Bus::default(),
            ready: ready.clone(),
            webhooks: None,
            voice: Default::default(),
            provisioning: Default::default(),
            merchant: None,
        };
        let r = app(state.clone())
            .oneshot(Request::get("/healthz").body(Body::empty()).expect("req"))
            .await
            .expect("resp");
        assert_eq!(r.status(), StatusCode::SERVICE_UNAVAILABLE);
        ready.store(true, Ordering::Release);
        let r = app(state.clone())
            .oneshot(Request::get("/healthz").body(Body::empty()).expect("req"))
            .await
            .expect("resp");
        assert_eq!(r.status(), StatusCode::OK);
        let r = app(state)
            .oneshot(Request::get("/metrics").body(Body::empty()).expect("req"))
            .await
            .expect("resp");
        let body = http_body_util::BodyExt::collect(r.into_body())
            .await
            .expect("body")
            .to_bytes();
        assert!(String::from_utf8_lossy(&body).contains("switchyard_active_channels 0"));
    }

    #[tokio::test]
    async fn operator_routes_answer_loopback_or_the_token_only() {
        use axum::extract::connect_info::MockConnectInfo;
        let state = |token: Option<&str>| AppState {
            metrics: Arc::new(Metrics::default()),
            acd: crate::call::acd::AcdHandle::detached(),
            sw: None,
            admin_token: token.map(str::to_string),
            bus: Bus::default(),
            ready: Arc::new(AtomicBool::new(true)),
            webhooks: None,
            voice: Default::default(),
            provisioning: Default::default(),
            merchant: None,
        };
        let call = |auth: Option<&str>| {
            let mut r = Request::post("/calls").header("content-type", "application/json");
            if let Some(a) = auth {
                r = r.header("authorization", a);
            }
            r.body(Body::from(r#"{"to":"1002","connect":"7001"}"#))
                .expect("req")
        };
        let far: std::net::SocketAddr = ([192, 0, 2, 7], 40000).into();
        let near: std::net::SocketAddr = ([127, 0, 0, 1], 40000).into();
        let status = |s: AppState, peer: std::net::SocketAddr, req: Request<Body>| async move {
            app(s)
                .layer(MockConnectInfo(peer))
                .oneshot(req)
                .await
                .expect("resp")
                .status()
        };
        // no token: a far peer is refused, a loopback one passes the guard
        // (503: no switch behind this test router)
        assert_eq!(
            status(state(None), far, call(None)).await,
            StatusCode::FORBIDDEN
        );
        assert_eq!(
            status(state(None), near, call(None)).await,
            StatusCode::SERVICE_UNAVAILABLE
        );
        // a token: every peer must bear it, loopback too
        let t = Some("s3cret-token");
        assert_eq!(
            status(state(t), near, call(None)).await,
            StatusCode::UNAUTHORIZED
        );
        assert_eq!(
            status(state(t), far, call(Some("Bearer wrong"))).await,
            StatusCode::UNAUTHORIZED
        );
        assert_eq!(
            status(state(t), far, call(Some("Bearer s3cret-token"))).await,
            StatusCode::SERVICE_UNAVAILABLE
        );
    }
}
