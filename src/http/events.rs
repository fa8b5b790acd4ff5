//! `GET /events`: the event log as server-sent events. Each event's SSE `id:`
//! is its id in the log; a client that reconnects with `Last-Event-ID: <id>`
//! gets everything after it (from memory, or from the store when it fell
//! behind the log's ring) and misses nothing; without it the stream starts
//! with the next event. Each connection reads the log from its own cursor, so
//! a slow client never costs another anything.

use std::collections::VecDeque;
use std::convert::Infallible;
use std::sync::Arc;

use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::sse::{Event as SseEvent, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use axum::Json;
use futures_util::stream;
use tokio::sync::watch;

use super::AppState;
use crate::events::log::Behind;
use crate::events::{EventLog, Record};
use crate::store::Store;

/// Records read from the log (or the store) at a time.
const CHUNK: usize = 256;

struct Reader {
    cursor: u64,
    pending: VecDeque<Arc<Record>>,
    log: Arc<EventLog>,
    woken: watch::Receiver<u64>,
    store: Option<Store>,
}

impl Reader {
    /// The next record after the cursor, waiting for one when there is none.
    async fn next(&mut self) -> Option<Arc<Record>> {
        loop {
            if let Some(r) = self.pending.pop_front() {
                self.cursor = r.seq;
                return Some(r);
            }
            // seen before reading: an append after this wakes the wait below
            self.woken.borrow_and_update();
            match self.log.after(self.cursor, CHUNK) {
                Ok(v) if !v.is_empty() => self.pending.extend(v),
                Ok(_) => self.woken.changed().await.ok()?,
                Err(Behind { oldest }) => self.from_store(oldest).await,
            }
        }
    }

    /// The cursor is older than the ring: read the store; what it does not
    /// hold (never written, or purged) is skipped up to the ring's oldest.
    async fn from_store(&mut self, oldest: u64) {
        let got = match &self.store {
            Some(s) => s
                .events_after(self.cursor, CHUNK as u32)
                .await
                .unwrap_or_else(|e| {
                    tracing::warn!(error = %e, "event log unreadable; resuming from memory");
                    Vec::new()
                }),
            None => Vec::new(),
        };
        let got: Vec<Record> = got.into_iter().filter(|r| r.seq < oldest).collect();
        if got.is_empty() {
            self.cursor = oldest - 1;
        } else {
            self.pending.extend(got.into_iter().map(Arc::new));
        }
    }
}

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
    let reader = Reader {
        cursor,
        pending: VecDeque::new(),
        woken: log.watch(),
        log,
        store: s.sw.as_ref().map(|sw| sw.store.clone()),
    };
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
