//! The voice API's router without a running switch: the answers that do not
//! need one — a switch that is not running (503 SERVICE_UNAVAILABLE), a
//! handler that panics (500 INTERNAL_ERROR) — in the envelope, with the
//! rate-limit headers.

use axum::body::Body;
use axum::http::{Request, StatusCode};
use axum::routing::get;
use axum::Router;
use tower::ServiceExt;

use super::*;
use crate::http::AppState;

fn state() -> AppState {
    AppState {
        metrics: Default::default(),
        acd: crate::call::acd::AcdHandle::detached(),
        sw: None,
        admin_token: None,
        bus: Default::default(),
        ready: Default::default(),
        webhooks: None,
        voice: Default::default(),
        provisioning: Default::default(),
        merchant: None,
    }
}

async fn body_json(r: Response) -> serde_json::Value {
    let bytes = axum::body::to_bytes(r.into_body(), 1 << 20)
        .await
        .expect("body");
    serde_json::from_slice(&bytes).expect("JSON")
}

#[tokio::test]
async fn no_switch_is_service_unavailable_in_the_envelope() {
    let app = routes(state().clone()).with_state(state());
    for (path, key) in [
        ("/v3/voice/demo/availability", None),
        ("/v3/voice/demo/queues", Some("sy_dev_anything")),
    ] {
        let mut req = Request::get(path);
        if let Some(k) = key {
            req = req.header("x-api-key", k);
        }
        let r = app
            .clone()
            .oneshot(req.body(Body::empty()).expect("request"))
            .await
            .expect("answer");
        assert_eq!(r.status(), StatusCode::SERVICE_UNAVAILABLE, "{path}");
        assert!(r.headers().contains_key("x-ratelimit-limit"));
        let v = body_json(r).await;
        assert_eq!(
            (&v["error"], &v["error_code"], &v["result"]),
            (
                &serde_json::json!(true),
                &serde_json::json!("SERVICE_UNAVAILABLE"),
                &serde_json::Value::Null
            ),
            "{v}"
        );
    }
}

#[tokio::test]
async fn a_panicking_handler_is_an_internal_error_in_the_envelope() {
    async fn boom() -> &'static str {
        panic!("a bug")
    }
    let app: Router = Router::new()
        .route("/v3/boom", get(boom))
        .layer(tower_http::catch_panic::CatchPanicLayer::custom(panicked));
    let r = app
        .oneshot(
            Request::get("/v3/boom")
                .body(Body::empty())
                .expect("request"),
        )
        .await
        .expect("answer");
    assert_eq!(r.status(), StatusCode::INTERNAL_SERVER_ERROR);
    let v = body_json(r).await;
    assert_eq!(v["error_code"], "INTERNAL_ERROR", "{v}");
    assert_eq!(v["error"], true);
}
