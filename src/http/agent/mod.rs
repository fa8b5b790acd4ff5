//! The agent softphone page at `/agent`: a bundle built from `web/` (JsSIP
//! and our page code, by esbuild; `npm run build` there) and committed as
//! `dist/`, embedded here so the switch serves it with nothing loaded from
//! elsewhere. It registers over `--sip-wss` with the credentials of
//! `/api/v1/voice/provisioning`.

use axum::http::header;
use axum::response::{IntoResponse, Redirect, Response};

const INDEX: &[u8] = include_bytes!("dist/index.html");
const SCRIPT: &[u8] = include_bytes!("dist/agent.js");
const STYLE: &[u8] = include_bytes!("dist/agent.css");

fn asset(kind: &'static str, body: &'static [u8]) -> Response {
    (
        [
            (header::CONTENT_TYPE, kind),
            (header::CACHE_CONTROL, "no-cache"),
            (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
        ],
        body,
    )
        .into_response()
}

/// `GET /agent` (the page's assets are relative to `/agent/`).
pub async fn root() -> Redirect {
    Redirect::permanent("/agent/")
}

/// `GET /agent/`
pub async fn index() -> Response {
    asset("text/html; charset=utf-8", INDEX)
}

/// `GET /agent/agent.js`
pub async fn script() -> Response {
    asset("text/javascript; charset=utf-8", SCRIPT)
}

/// `GET /agent/agent.css`
pub async fn style() -> Response {
    asset("text/css; charset=utf-8", STYLE)
}
