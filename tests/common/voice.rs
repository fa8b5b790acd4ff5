//! Helpers of the voice API's tests (tests/voice_api.rs, tests/voice_calls.rs):
//! requests with their headers and JSON, keys from the CLI, the envelope's checks.

use serde_json::Value;
use std::collections::HashMap;
use std::time::{Duration, Instant};

use super::*;

/// One answer: status, headers (lower-case names), body as JSON.
pub struct Resp {
    pub status: u16,
    pub headers: HashMap<String, String>,
    pub json: Value,
}

impl Resp {
    pub fn header(&self, name: &str) -> &str {
        self.headers.get(name).map(String::as_str).unwrap_or("")
    }
}

pub fn request(
    sw: &Switch,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: Option<&str>,
) -> Resp {
    let (status, headers, raw) =
        http_exchange(sw.http, method, path, headers, body).expect("HTTP request");
    let json = serde_json::from_slice(&raw).unwrap_or_default();
    Resp {
        status,
        headers,
        json,
    }
}

pub fn get(sw: &Switch, path: &str, key: Option<&str>) -> Resp {
    let h: Vec<(&str, &str)> = key.map(|k| ("X-API-Key", k)).into_iter().collect();
    request(sw, "GET", path, &h, None)
}

pub fn post(sw: &Switch, path: &str, key: &str, body: &Value, idem: Option<&str>) -> Resp {
    let mut h = vec![("X-API-Key", key)];
    if let Some(i) = idem {
        h.push(("Idempotency-Key", i));
    }
    request(sw, "POST", path, &h, Some(&body.to_string()))
}

/// `switchyard key create` on the running switch's store, with more flags: the printed JSON.
pub fn make_key(sw: &Switch, account: &str, kind: &str, more: &[&str]) -> Value {
    let data = sw.tmp.path().join("data").display().to_string();
    api_key_with(&["--data-dir", &data], account, kind, more)
}

pub fn key(sw: &Switch, account: &str, kind: &str, more: &[&str]) -> String {
    make_key(sw, account, kind, more)["key"]
        .as_str()
        .expect("key")
        .to_string()
}

/// Asserts the error envelope and its code; the message.
pub fn assert_error(r: &Resp, status: u16, code: &str) -> String {
    assert_eq!(
        (r.status, r.json["error_code"].as_str()),
        (status, Some(code)),
        "{}",
        r.json
    );
    assert_eq!(r.json["error"], true, "{}", r.json);
    assert!(r.json["result"].is_null(), "{}", r.json);
    assert_iso(&r.json["timestamp"]);
    r.json["message"].as_str().expect("message").to_string()
}

pub fn assert_iso(v: &Value) {
    let t = v.as_str().unwrap_or_else(|| panic!("timestamp: {v}"));
    let ok = t.len() == 20
        && t.ends_with('Z')
        && t.as_bytes()[4] == b'-'
        && t.as_bytes()[10] == b'T'
        && chrono::DateTime::parse_from_rfc3339(t).is_ok();
    assert!(ok, "not ISO 8601 UTC: {t}");
}

pub fn assert_ok(r: &Resp) -> &Value {
    assert_eq!(r.status, 200, "{}", r.json);
    assert_eq!(r.json["error"], false, "{}", r.json);
    assert_iso(&r.json["timestamp"]);
    assert!(r.json["message"].is_string());
    &r.json["result"]
}

/// A second account, "other", with one extension, one number and one queue.
pub fn pk_of(list: &Value, field: &str, value: &str) -> i64 {
    list.as_array()
        .and_then(|l| l.iter().find(|u| u[field] == value))
        .and_then(|u| u["pk"].as_i64())
        .unwrap_or_else(|| panic!("no {field} = {value} in {list}"))
}

pub fn wait_result(
    sw: &Switch,
    path: &str,
    key: Option<&str>,
    what: &str,
    pred: impl Fn(&Value) -> bool,
) -> Value {
    let until = Instant::now() + Duration::from_secs(10);
    loop {
        let r = get(sw, path, key);
        let v = assert_ok(&r).clone();
        if pred(&v) {
            return v;
        }
        assert!(Instant::now() < until, "{what}: {v}");
        std::thread::sleep(Duration::from_millis(100));
    }
}

pub fn user<'a>(list: &'a Value, ext: &str) -> &'a Value {
    list.as_array()
        .and_then(|l| l.iter().find(|u| u["presence_id"] == ext))
        .unwrap_or_else(|| panic!("no {ext} in {list}"))
}
