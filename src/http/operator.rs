//! Operator routes on the HTTP port: place a call (`POST /calls`), hang one up
//! by its id (`DELETE /calls/{call_id}`), a voicemail box's messages (list,
//! download the WAV, delete) and its own greeting (upload, remove). They act on the switch directly, so
//! they answer only a loopback peer — or, when `--admin-token` is set, any
//! peer that sends `Authorization: Bearer <token>`. (The developer APIs with
//! their keys are a layer of their own.) Errors are JSON:
//! `{"error": {"code": "...", "message": "..."}}`.

use std::net::SocketAddr;

use axum::extract::rejection::JsonRejection;
use axum::extract::{ConnectInfo, Path, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::Deserialize;

use super::AppState;
use crate::call::b2bua::{originate, Originate, OriginateError};
use crate::switch::CallInput;

/// An operator route's refusal.
pub struct OpError {
    status: StatusCode,
    code: &'static str,
    message: String,
}

impl OpError {
    pub(super) fn new(
        status: StatusCode,
        code: &'static str,
        message: impl Into<String>,
    ) -> OpError {
        OpError {
            status,
            code,
            message: message.into(),
        }
    }
}

impl IntoResponse for OpError {
    fn into_response(self) -> Response {
        let body = serde_json::json!({ "error": { "code": self.code, "message": self.message } });
        (self.status, Json(body)).into_response()
    }
}

/// Loopback, or the admin token.
pub(super) fn allowed(s: &AppState, peer: SocketAddr, headers: &HeaderMap) -> Result<(), OpError> {
    match &s.admin_token {
        Some(token) => {
            let given = headers
                .get(header::AUTHORIZATION)
                .and_then(|v| v.to_str().ok())
                .and_then(|v| v.strip_prefix("Bearer "))
                .unwrap_or("");
            if bool::from(subtle::ConstantTimeEq::ct_eq(
                given.as_bytes(),
                token.as_bytes(),
            )) {
                Ok(())
            } else {
                Err(OpError::new(
                    StatusCode::UNAUTHORIZED,
                    "unauthorized",
                    "send Authorization: Bearer <admin token>",
                ))
            }
        }
        None if peer.ip().is_loopback() => Ok(()),
        None => Err(OpError::new(
            StatusCode::FORBIDDEN,
            "forbidden",
            "operator routes answer loopback peers only (set --admin-token to allow others)",
        )),
    }
}

pub(super) fn switch(s: &AppState) -> Result<&std::sync::Arc<crate::switch::Switch>, OpError> {
    s.sw.as_ref().ok_or_else(|| {
        OpError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "unavailable",
            "the switch is not running",
        )
    })
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PlaceCall {
    /// Default: the default account.
    account_id: Option<String>,
    /// The extension to ring first.
    to: String,
    /// What it is connected to once it answers: any number the account can dial.
    connect: String,
    caller_id: Option<String>,
    caller_name: Option<String>,
}

/// `POST /calls`: ring `to`, then connect it to `connect`. 201 with the call's id.
pub async fn place(
    State(s): State<AppState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    body: Result<Json<PlaceCall>, JsonRejection>,
) -> Result<Response, OpError> {
    allowed(&s, peer, &headers)?;
    let sw = switch(&s)?;
    let Json(req) =
        body.map_err(|e| OpError::new(StatusCode::BAD_REQUEST, "invalid_request", e.body_text()))?;
    for (field, v) in [("to", &req.to), ("connect", &req.connect)] {
        if v.is_empty() || v.len() > 32 {
            return Err(OpError::new(
                StatusCode::BAD_REQUEST,
                "invalid_request",
                format!("`{field}` must be 1 to 32 characters"),
            ));
        }
    }
    let account = match req.account_id {
        Some(a) => a,
        None => sw
            .directory()
            .default_account()
            .map(|a| a.id.clone())
            .ok_or_else(|| {
                OpError::new(
                    StatusCode::BAD_REQUEST,
                    "invalid_request",
                    "no account_id and no default account",
                )
            })?,
    };
    let call = originate(
        sw,
        &s.acd,
        Originate {
            account,
            to: req.to,
            connect: req.connect,
            caller_id: req.caller_id,
            caller_name: req.caller_name,
            click: None,
        },
    )
    .map_err(|e| {
        let (status, code) = match &e {
            OriginateError::UnknownAccount(_) => (StatusCode::NOT_FOUND, "unknown_account"),
            OriginateError::UnknownExtension(_) => (StatusCode::NOT_FOUND, "unknown_extension"),
            OriginateError::NotRegistered(_) => (StatusCode::CONFLICT, "not_registered"),
            OriginateError::UnknownNumber(_) => {
                (StatusCode::UNPROCESSABLE_ENTITY, "unknown_number")
            }
        };
        OpError::new(status, code, e.to_string())
    })?;
    let body = serde_json::json!({ "call_id": call.id });
    Ok((StatusCode::CREATED, Json(body)).into_response())
}

/// `DELETE /calls/{call_id}`: hang the call up (every leg). 204, or 404.
pub async fn hang_up(
    State(s): State<AppState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Result<Response, OpError> {
    allowed(&s, peer, &headers)?;
    let sw = switch(&s)?;
    let (_, handle) = call_handle(sw, &id)?;
    let _ = handle.tx.send(CallInput::Hangup);
    Ok(StatusCode::NO_CONTENT.into_response())
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TransferCall {
    /// Any number of the call's account (extension, callflow, queue, app, outside number).
    number: String,
}

/// `POST /calls/{call_id}/transfer`: send a caller the switch answered (in a
/// menu, a queue, a group's ringing, or bridged to whoever a flow dialled)
/// on to `number`; the leg it was bridged to is hung up. 202, 404, or 409.
pub async fn transfer(
    State(s): State<AppState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    Path(id): Path<String>,
    body: Result<Json<TransferCall>, JsonRejection>,
) -> Result<Response, OpError> {
    allowed(&s, peer, &headers)?;
    let sw = switch(&s)?;
    let Json(req) =
        body.map_err(|e| OpError::new(StatusCode::BAD_REQUEST, "invalid_request", e.body_text()))?;
    if req.number.is_empty() || req.number.len() > 32 {
        return Err(OpError::new(
            StatusCode::BAD_REQUEST,
            "invalid_request",
            "`number` must be 1 to 32 characters",
        ));
    }
    let (id, handle) = call_handle(sw, &id)?;
    let missing = || OpError::new(StatusCode::NOT_FOUND, "not_found", "no such call");
    let (reply, rx) = tokio::sync::oneshot::channel();
    handle
        .tx
        .send(CallInput::Transfer {
            number: req.number,
            reply,
        })
        .map_err(|_| missing())?;
    match rx.await {
        Ok(Ok(())) => Ok((
            StatusCode::ACCEPTED,
            Json(serde_json::json!({ "call_id": id })),
        )
            .into_response()),
        Ok(Err(why)) => {
            use crate::switch::calls::TransferError;
            let (status, code) = match why {
                TransferError::UnknownNumber => {
                    (StatusCode::UNPROCESSABLE_ENTITY, "unknown_number")
                }
                TransferError::Over => (StatusCode::NOT_FOUND, "not_found"),
                TransferError::NotTransferable => (StatusCode::CONFLICT, "not_transferable"),
            };
            Err(OpError::new(status, code, why.to_string()))
        }
        Err(_) => Err(missing()),
    }
}

/// The live call a path names.
pub(super) fn call_handle(
    sw: &crate::switch::Switch,
    id: &str,
) -> Result<(crate::ids::CallId, crate::switch::CallHandle), OpError> {
    let missing = || OpError::new(StatusCode::NOT_FOUND, "not_found", "no such call");
    let id: crate::ids::CallId = id.parse().map_err(|_| missing())?;
    let handle = sw
        .calls_by_id
        .get(&id)
        .map(|h| h.clone())
        .ok_or_else(missing)?;
    Ok((id, handle))
}

/// Account ids and box numbers in paths: what the dialplan allows.
fn check_segment(v: &str) -> Result<(), OpError> {
    let ok = (1..=64).contains(&v.len())
        && v.bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'));
    if ok {
        Ok(())
    } else {
        Err(OpError::new(
            StatusCode::NOT_FOUND,
            "not_found",
            "no such box",
        ))
    }
}

/// The guard, then the box a path names: an extension of the account.
fn mailbox<'a>(
    s: &'a AppState,
    peer: SocketAddr,
    headers: &HeaderMap,
    account: &str,
    mailbox: &str,
) -> Result<&'a std::sync::Arc<crate::switch::Switch>, OpError> {
    allowed(s, peer, headers)?;
    let sw = switch(s)?;
    check_segment(account)?;
    check_segment(mailbox)?;
    if sw.directory().extension(account, mailbox).is_none() {
        return Err(OpError::new(
            StatusCode::NOT_FOUND,
            "not_found",
            "no such box",
        ));
    }
    Ok(sw)
}

/// `GET /voicemail/{account}/{box}`: every message, oldest first.
pub async fn list_voicemail(
    State(s): State<AppState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    Path((account, mailbox)): Path<(String, String)>,
) -> Result<Response, OpError> {
    let sw = self::mailbox(&s, peer, &headers, &account, &mailbox)?;
    let list = sw
        .store
        .voicemails(&account, &mailbox, false)
        .await
        .map_err(store_error)?;
    let messages: Vec<serde_json::Value> = list
        .iter()
        .map(|m| {
            serde_json::json!({
                "id": m.id,
                "caller": m.caller,
                "call_id": m.call_id,
                "duration_ms": m.duration_ms,
                "heard": m.heard,
                "created_at": m.created_at,
                "download": format!("/voicemail/{account}/{mailbox}/{}", m.id),
            })
        })
        .collect();
    Ok(Json(serde_json::json!({ "box": mailbox, "messages": messages })).into_response())
}

/// The message a request names, after the guard.
async fn message(
    s: &AppState,
    peer: SocketAddr,
    headers: &HeaderMap,
    (account, mailbox, id): (String, String, String),
) -> Result<crate::store::Voicemail, OpError> {
    allowed(s, peer, headers)?;
    switch(s)?
        .store
        .voicemail(&account, &mailbox, &id)
        .await
        .map_err(store_error)?
        .ok_or_else(|| OpError::new(StatusCode::NOT_FOUND, "not_found", "no such message"))
}

/// `GET /voicemail/{account}/{box}/{id}`: the message as `audio/wav`.
pub async fn download_voicemail(
    State(s): State<AppState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    Path(key): Path<(String, String, String)>,
) -> Result<Response, OpError> {
    let m = message(&s, peer, &headers, key).await?;
    let bytes = tokio::fs::read(&m.path).await.map_err(|e| {
        tracing::warn!(path = %m.path, error = %e, "voicemail file unreadable");
        OpError::new(
            StatusCode::GONE,
            "file_missing",
            "the message's file is gone",
        )
    })?;
    Ok(([(header::CONTENT_TYPE, "audio/wav")], bytes).into_response())
}

/// `DELETE /voicemail/{account}/{box}/{id}`: the row and its file. 204, or 404.
pub async fn delete_voicemail(
    State(s): State<AppState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    Path(key): Path<(String, String, String)>,
) -> Result<Response, OpError> {
    let m = message(&s, peer, &headers, key).await?;
    switch(&s)?
        .store
        .delete_voicemail(&m.account_id, &m.r#box, &m.id)
        .await
        .map_err(store_error)?;
    s.bus.publish(crate::events::Event::DocDeleted(
        crate::events::ObjectEvent::now(
            crate::ids::AccountId::from(m.account_id.as_str()),
            "mailbox_message",
            m.id.clone(),
            m.call_id.parse().ok(),
        ),
    ));
    if let Err(e) = tokio::fs::remove_file(&m.path).await {
        tracing::warn!(path = %m.path, error = %e, "voicemail file not removed");
    }
    Ok(StatusCode::NO_CONTENT.into_response())
}

/// `PUT /voicemail/{account}/{box}/greeting`: the box's own greeting, a WAV
/// file (PCM, any rate, mono or stereo; at most the body limit, 2 MB). 204.
pub async fn put_greeting(
    State(s): State<AppState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    Path((account, mailbox)): Path<(String, String)>,
    body: axum::body::Bytes,
) -> Result<Response, OpError> {
    let sw = self::mailbox(&s, peer, &headers, &account, &mailbox)?;
    let path = crate::call::b2bua::greeting_path(&sw.settings.data_dir, &account, &mailbox);
    let dir = path
        .parent()
        .map(std::path::Path::to_path_buf)
        .unwrap_or_default();
    let io = |e: std::io::Error| {
        tracing::error!(error = %e, "greeting not written");
        OpError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "storage_unavailable",
            "the greeting could not be stored",
        )
    };
    tokio::fs::create_dir_all(&dir).await.map_err(io)?;
    let staged = dir.join(format!(".{mailbox}-{}.wav", uuid::Uuid::new_v4()));
    tokio::fs::write(&staged, &body).await.map_err(io)?;
    // only a file the switch can play replaces the greeting
    if let Err(e) = sw.settings.media.file(staged.clone(), 8000).await {
        let _ = tokio::fs::remove_file(&staged).await;
        return Err(OpError::new(
            StatusCode::BAD_REQUEST,
            "invalid_wav",
            format!("not a playable WAV file: {e}"),
        ));
    }
    tokio::fs::rename(&staged, &path).await.map_err(io)?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

/// `DELETE /voicemail/{account}/{box}/greeting`: back to the default greeting. 204, or 404.
pub async fn delete_greeting(
    State(s): State<AppState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    Path((account, mailbox)): Path<(String, String)>,
) -> Result<Response, OpError> {
    let sw = self::mailbox(&s, peer, &headers, &account, &mailbox)?;
    let path = crate::call::b2bua::greeting_path(&sw.settings.data_dir, &account, &mailbox);
    match tokio::fs::remove_file(&path).await {
        Ok(()) => Ok(StatusCode::NO_CONTENT.into_response()),
        Err(_) => Err(OpError::new(
            StatusCode::NOT_FOUND,
            "not_found",
            "no greeting of its own",
        )),
    }
}

fn store_error(e: crate::store::StoreError) -> OpError {
    tracing::error!(error = %e, "store error on an operator route");
    OpError::new(
        StatusCode::SERVICE_UNAVAILABLE,
        "store_unavailable",
        "the store did not answer",
    )
}
