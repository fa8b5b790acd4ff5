//! `GET /events`: the event log as server-sent events. Each event's SSE `id:`
//! is its id in the log; a client that reconnects with `Last-Event-ID: <id>`
//! gets everything after it (from memory, or from the store when it fell
//! behind the log's ring) and misses nothing; without it the stream starts
//! with the next event. Each connection reads the log from its own cursor, so
//! a slow client never costs another anything.

use std::convert::Infallible;

use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::sse::{Event as SseEvent, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use axum::Json;
use futures_util::stream;

use super::AppState;
use crate::store::event_log::LogReader;

pub async fn events(State(s): State<AppState>, headers: HeaderMap) -> Response {
    let log = s.bus.log().clone();
    let cursor = match headers.get("last-event-id").map(|v| v.to_str()) {
        None => log.latest(),
        Some(Ok(v)) if v.trim().parse::<u64>().is_ok() => v.trim().parse().unwrap_or(0),
        Some(_) => {
            let body = serde_json::json!({ "error": {
                "code": "invalid_last_event_id",
                "message": "Last-Event-ID must be an event id (a whole number) from this stream",
            }});
            return (StatusCode::BAD_REQUEST, Json(body)).into_response();
        }
    };
    // only stored events: one a client saw never vanishes in a crash, and the
    // rows it belongs to (CDR, recording, voicemail) are in the store already
    let reader =
        LogReader::new(log, s.sw.as_ref().map(|sw| sw.store.clone()), cursor).durable_only();
    let events = stream::unfold(reader, |mut r| async move {
        let rec = r.next().await?;
        let ev = SseEvent::default()
            .id(rec.seq.to_string())
            .event(rec.name.as_str())
            .data(&*rec.json);
        Some((Ok::<_, Infallible>(ev), r))
    });
    Sse::new(events)
        .keep_alive(KeepAlive::default())
        .into_response()
}
