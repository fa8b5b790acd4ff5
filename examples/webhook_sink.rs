//! A webhook receiver for benchmarks: answers every request 204 at once and
//! counts them (`GET /count` → `{"requests": N}`). Run beside the switch with
//! `sip-tests/bench/run.sh` (`HOOKS=N`), so delivery load competes with SIP
//! for the same cores as it would in production.
//!
//! ```text
//! cargo run --release --example webhook_sink -- 127.0.0.1:28090
//! ```

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::{any, get};
use axum::{Json, Router};

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let addr = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "127.0.0.1:28090".into());
    let count = Arc::new(AtomicU64::new(0));
    let app = Router::new()
        .route(
            "/count",
            get(|State(c): State<Arc<AtomicU64>>| async move {
                Json(serde_json::json!({"requests": c.load(Ordering::Relaxed)}))
            }),
        )
        .route(
            "/hook",
            any(
                |State(c): State<Arc<AtomicU64>>, _body: axum::body::Bytes| async move {
                    c.fetch_add(1, Ordering::Relaxed);
                    StatusCode::NO_CONTENT
                },
            ),
        )
        .with_state(count);
    let listener = tokio::net::TcpListener::bind(&addr).await?;
    eprintln!("webhook sink on http://{addr}/hook");
    axum::serve(listener, app).await?;
    Ok(())
}
