//! One webhook subscription: what the v2 API's document says (validated as a
//! whole, each problem named by its field), what delivery needs of it, and
//! which events it takes. The store keeps it as a plain row
//! ([`crate::store::WebhookRow`]); this module converts both ways.

use serde_json::{json, Map, Value};

use super::hooks::{Hook, NOTIFICATION_TYPES, OBJECT_ACTIONS, OBJECT_TYPES};
use crate::events::Record;
use crate::ids::{AccountId, WebhookId};
use crate::store::WebhookRow;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HttpVerb {
    Get,
    Post,
    Put,
}

impl HttpVerb {
    pub fn as_str(self) -> &'static str {
        match self {
            HttpVerb::Get => "get",
            HttpVerb::Post => "post",
            HttpVerb::Put => "put",
        }
    }

    fn parse(s: &str) -> Option<HttpVerb> {
        match s.to_ascii_lowercase().as_str() {
            "get" => Some(HttpVerb::Get),
            "post" => Some(HttpVerb::Post),
            "put" => Some(HttpVerb::Put),
            _ => None,
        }
    }
}

/// How a body is encoded.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    FormData,
    Json,
}

impl Format {
    pub fn as_str(self) -> &'static str {
        match self {
            Format::FormData => "form-data",
            Format::Json => "json",
        }
    }

    fn parse(s: &str) -> Option<Format> {
        match s {
            "form-data" => Some(Format::FormData),
            "json" => Some(Format::Json),
            _ => None,
        }
    }
}

/// A hook's modifiers: empty lists take everything.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Modifiers {
    pub action: Vec<String>,
    pub types: Vec<String>,
}

/// What an account sets on a subscription.
#[derive(Debug, Clone, PartialEq)]
pub struct Settings {
    pub name: String,
    pub uri: url::Url,
    pub hook: Hook,
    pub http_verb: HttpVerb,
    pub format: Format,
    pub retries: u8,
    pub enabled: bool,
    pub include_subaccounts: bool,
    pub custom_data: Map<String, Value>,
    pub modifiers: Modifiers,
}

/// One subscription as delivery sees it.
#[derive(Debug, Clone, PartialEq)]
pub struct Subscription {
    pub id: WebhookId,
    pub account_id: AccountId,
    pub settings: Settings,
    pub disabled_reason: Option<String>,
    pub created_at: i64,
    pub modified_at: i64,
}

/// One problem with a document: the field, a machine code and a sentence.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FieldError {
    pub field: &'static str,
    pub code: &'static str,
    pub message: String,
}

fn problem(field: &'static str, code: &'static str, message: impl Into<String>) -> FieldError {
    FieldError {
        field,
        code,
        message: message.into(),
    }
}

/// Retries a subscription may ask for.
pub const RETRIES: std::ops::RangeInclusive<i64> = 1..=10;
const MAX_URI: usize = 2048;
const MAX_CUSTOM_DATA: usize = 4096;

impl Settings {
    /// Reads a document (`data` of a request). With `base`, absent fields keep
    /// its values (PATCH); without, required fields must be present.
    pub fn from_doc(doc: &Value, base: Option<&Settings>) -> Result<Settings, Vec<FieldError>> {
        let mut errs = Vec::new();
        let Some(doc) = doc.as_object() else {
            return Err(vec![problem(
                "data",
                "invalid",
                "the document must be a JSON object",
            )]);
        };
        let text = |errs: &mut Vec<FieldError>, field: &'static str| -> Option<String> {
            match doc.get(field) {
                None | Some(Value::Null) => None,
                Some(Value::String(s)) => Some(s.clone()),
                Some(_) => {
                    errs.push(problem(
                        field,
                        "invalid",
                        format!("{field} must be a string"),
                    ));
                    None
                }
            }
        };
        let flag = |errs: &mut Vec<FieldError>, field: &'static str| -> Option<bool> {
            match doc.get(field) {
                None | Some(Value::Null) => None,
                Some(Value::Bool(b)) => Some(*b),
                Some(_) => {
                    errs.push(problem(
                        field,
                        "invalid",
                        format!("{field} must be true or false"),
                    ));
                    None
                }
            }
        };

        let name = match text(&mut errs, "name") {
            Some(n) if n.trim().is_empty() || n.chars().count() > 128 => {
                errs.push(problem(
                    "name",
                    "invalid",
                    "name must be 1 to 128 characters",
                ));
                None
            }
            Some(n) => Some(n),
            None => base.map(|b| b.name.clone()),
        };
        let uri = match text(&mut errs, "uri") {
            Some(u) => match parse_uri(&u) {
                Ok(u) => Some(u),
                Err(e) => {
                    errs.push(e);
                    None
                }
            },
            None => base.map(|b| b.uri.clone()),
        };
        let hook = match text(&mut errs, "hook") {
            Some(h) => match Hook::parse(&h) {
                Some(h) => Some(h),
                None => {
                    errs.push(problem(
                        "hook",
                        "invalid",
                        format!("{h:?} is not an available hook (GET /v2/webhooks lists them)"),
                    ));
                    None
                }
            },
            None => base.map(|b| b.hook),
        };
        let http_verb = match text(&mut errs, "http_verb") {
            Some(v) => HttpVerb::parse(&v).or_else(|| {
                errs.push(problem(
                    "http_verb",
                    "invalid",
                    "http_verb must be get, post or put",
                ));
                None
            }),
            None => Some(base.map_or(HttpVerb::Post, |b| b.http_verb)),
        };
        let format = match text(&mut errs, "format") {
            Some(f) => Format::parse(&f).or_else(|| {
                errs.push(problem(
                    "format",
                    "invalid",
                    "format must be form-data or json",
                ));
                None
            }),
            None => Some(base.map_or(Format::FormData, |b| b.format)),
        };
        let retries = match doc.get("retries") {
            None | Some(Value::Null) => Some(base.map_or(2, |b| b.retries)),
            Some(v) => match v.as_i64() {
                Some(n) if RETRIES.contains(&n) => Some(n as u8),
                _ => {
                    errs.push(problem(
                        "retries",
                        "invalid",
                        "retries must be a whole number from 1 to 10",
                    ));
                    None
                }
            },
        };
        let enabled = flag(&mut errs, "enabled").or(Some(base.is_none_or(|b| b.enabled)));
        let include_subaccounts = flag(&mut errs, "include_subaccounts")
            .or(Some(base.is_some_and(|b| b.include_subaccounts)));
        let custom_data = match doc.get("custom_data") {
            None => Some(base.map(|b| b.custom_data.clone()).unwrap_or_default()),
            Some(Value::Null) => Some(Map::new()),
            Some(Value::Object(m))
                if Value::Object(m.clone()).to_string().len() <= MAX_CUSTOM_DATA =>
            {
                Some(m.clone())
            }
            Some(Value::Object(_)) => {
                errs.push(problem(
                    "custom_data",
                    "too_large",
                    "custom_data must be at most 4096 bytes of JSON",
                ));
                None
            }
            Some(_) => {
                errs.push(problem(
                    "custom_data",
                    "invalid",
                    "custom_data must be an object",
                ));
                None
            }
        };
        let modifiers =
            read_modifiers(doc, &mut errs).or_else(|| base.map(|b| b.modifiers.clone()));

        if base.is_none() {
            for (field, missing) in [
                ("name", name.is_none()),
                ("uri", uri.is_none()),
                ("hook", hook.is_none()),
            ] {
                if missing && !errs.iter().any(|e| e.field == field) {
                    errs.push(problem(field, "required", format!("{field} is required")));
                }
            }
        }
        let modifiers = modifiers.unwrap_or_default();
        if let Some(h) = hook {
            check_modifiers(h, &modifiers, &mut errs);
        }
        match (
            name,
            uri,
            hook,
            http_verb,
            format,
            retries,
            enabled,
            include_subaccounts,
            custom_data,
        ) {
            (
                Some(name),
                Some(uri),
                Some(hook),
                Some(http_verb),
                Some(format),
                Some(retries),
                Some(enabled),
                Some(include_subaccounts),
                Some(custom_data),
            ) if errs.is_empty() => Ok(Settings {
                name,
                uri,
                hook,
                http_verb,
                format,
                retries,
                enabled,
                include_subaccounts,
                custom_data,
                modifiers,
            }),
            _ => Err(errs),
        }
    }
}

fn parse_uri(u: &str) -> Result<url::Url, FieldError> {
    if u.len() > MAX_URI {
        return Err(problem(
            "uri",
            "invalid",
            "uri must be at most 2048 characters",
        ));
    }
    let parsed = url::Url::parse(u)
        .map_err(|e| problem("uri", "invalid", format!("uri is not a URL: {e}")))?;
    if !matches!(parsed.scheme(), "http" | "https") {
        return Err(problem(
            "uri",
            "invalid",
            "uri must be an http:// or https:// URL",
        ));
    }
    if parsed.host_str().is_none_or(str::is_empty) {
        return Err(problem("uri", "invalid", "uri must name a host"));
    }
    Ok(parsed)
}

/// `action` and `type`, at the top of the document or under `modifiers`
/// (each a string or a list of strings). `None`: the document names neither.
fn read_modifiers(doc: &Map<String, Value>, errs: &mut Vec<FieldError>) -> Option<Modifiers> {
    let nested = doc.get("modifiers").and_then(Value::as_object);
    if doc
        .get("modifiers")
        .is_some_and(|m| !m.is_object() && !m.is_null())
    {
        errs.push(problem(
            "modifiers",
            "invalid",
            "modifiers must be an object",
        ));
    }
    let get = |key: &str| doc.get(key).or_else(|| nested.and_then(|m| m.get(key)));
    let (action, types) = (get("action"), get("type"));
    if action.is_none() && types.is_none() && nested.is_none() {
        return None;
    }
    let mut list = |field: &'static str, v: Option<&Value>| -> Vec<String> {
        match v {
            None | Some(Value::Null) => Vec::new(),
            Some(Value::String(s)) if s == "all" => Vec::new(),
            Some(Value::String(s)) => vec![s.clone()],
            Some(Value::Array(a)) if a.iter().all(Value::is_string) => a
                .iter()
                .filter_map(|s| s.as_str().map(str::to_string))
                .collect(),
            Some(_) => {
                errs.push(problem(
                    field,
                    "invalid",
                    format!("{field} must be a string or a list of strings"),
                ));
                Vec::new()
            }
        }
    };
    Some(Modifiers {
        action: list("action", action),
        types: list("type", types),
    })
}

fn check_modifiers(hook: Hook, m: &Modifiers, errs: &mut Vec<FieldError>) {
    let (actions, types): (&[&str], &[&str]) = match hook {
        Hook::Object => (OBJECT_ACTIONS, OBJECT_TYPES),
        Hook::Notifications => (&[], NOTIFICATION_TYPES),
        _ => (&[], &[]),
    };
    for a in &m.action {
        if !actions.contains(&a.as_str()) {
            errs.push(problem(
                "action",
                "invalid",
                format!("{a:?} is not an action of the {} hook", hook.as_str()),
            ));
        }
    }
    for t in &m.types {
        if !types.contains(&t.as_str()) {
            errs.push(problem(
                "type",
                "invalid",
                format!("{t:?} is not a type of the {} hook", hook.as_str()),
            ));
        }
    }
}

impl Subscription {
    /// The document the API shows (never the secret).
    pub fn to_doc(&self) -> Value {
        let s = &self.settings;
        let mut doc = json!({
            "id": self.id.to_string(),
            "name": s.name,
            "uri": s.uri.as_str(),
            "hook": s.hook.as_str(),
            "http_verb": s.http_verb.as_str(),
            "format": s.format.as_str(),
            "retries": s.retries,
            "enabled": s.enabled,
            "include_subaccounts": s.include_subaccounts,
            "custom_data": s.custom_data,
            "envelope": if s.hook.voice_envelope() { "voice" } else { "hook" },
            "created": self.created_at / 1000,
            "modified": self.modified_at / 1000,
        });
        if !s.modifiers.action.is_empty() {
            doc["action"] = json!(s.modifiers.action);
        }
        if !s.modifiers.types.is_empty() {
            doc["type"] = json!(s.modifiers.types);
        }
        if let Some(r) = &self.disabled_reason {
            doc["disabled_reason"] = json!(r);
        }
        doc
    }

    /// The short form of a list.
    pub fn summary(&self) -> Value {
        let s = &self.settings;
        let mut v = json!({
            "id": self.id.to_string(), "name": s.name, "uri": s.uri.as_str(),
            "hook": s.hook.as_str(), "enabled": s.enabled,
        });
        if let Some(r) = &self.disabled_reason {
            v["disabled_reason"] = json!(r);
        }
        v
    }

    /// Whether this subscription takes `rec` (`event` is its parsed JSON).
    pub fn takes(&self, rec: &Record, event: &Value) -> bool {
        let s = &self.settings;
        if rec.account_id != self.account_id.as_str() || !s.hook.takes(&rec.name) {
            return false;
        }
        let m = &s.modifiers;
        match s.hook {
            Hook::Object => {
                (m.action.is_empty() || m.action.contains(&rec.name))
                    && (m.types.is_empty()
                        || event["type"]
                            .as_str()
                            .is_some_and(|t| m.types.iter().any(|x| x == t)))
            }
            Hook::Notifications => m.types.is_empty() || m.types.contains(&rec.name),
            _ => true,
        }
    }

    /// Builds the stored row's settings part.
    pub fn to_row(&self, secret: String, cursor: u64) -> WebhookRow {
        let s = &self.settings;
        let mods = json!({"action": s.modifiers.action, "type": s.modifiers.types});
        WebhookRow {
            id: self.id.to_string(),
            account_id: self.account_id.to_string(),
            name: s.name.clone(),
            uri: s.uri.to_string(),
            hook: s.hook.as_str().to_string(),
            http_verb: s.http_verb.as_str().to_string(),
            format: s.format.as_str().to_string(),
            retries: i64::from(s.retries),
            enabled: s.enabled,
            include_subaccounts: s.include_subaccounts,
            custom_data: Value::Object(s.custom_data.clone()).to_string(),
            modifiers: mods.to_string(),
            secret,
            old_secret: None,
            old_secret_until: None,
            disabled_reason: self.disabled_reason.clone(),
            failures: 0,
            cursor,
            created_at: self.created_at,
            modified_at: self.modified_at,
        }
    }

    /// Reads a stored row (`None`: a value this version does not understand).
    pub fn from_row(row: &WebhookRow) -> Option<Subscription> {
        let mods: Value = serde_json::from_str(&row.modifiers).unwrap_or(Value::Null);
        let strings = |v: &Value| -> Vec<String> {
            v.as_array()
                .into_iter()
                .flatten()
                .filter_map(|s| s.as_str().map(str::to_string))
                .collect()
        };
        Some(Subscription {
            id: row.id.parse().ok()?,
            account_id: AccountId::from(row.account_id.as_str()),
            settings: Settings {
                name: row.name.clone(),
                uri: url::Url::parse(&row.uri).ok()?,
                hook: Hook::parse(&row.hook)?,
                http_verb: HttpVerb::parse(&row.http_verb)?,
                format: Format::parse(&row.format)?,
                retries: u8::try_from(row.retries).ok()?,
                enabled: row.enabled,
                include_subaccounts: row.include_subaccounts,
                custom_data: serde_json::from_str(&row.custom_data).unwrap_or_default(),
                modifiers: Modifiers {
                    action: strings(&mods["action"]),
                    types: strings(&mods["type"]),
                },
            },
            disabled_reason: row.disabled_reason.clone(),
            created_at: row.created_at,
            modified_at: row.modified_at,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn codes(r: Result<Settings, Vec<FieldError>>) -> Vec<(&'static str, &'static str)> {
        r.err()
            .unwrap_or_default()
            .iter()
            .map(|e| (e.field, e.code))
            .collect()
    }

    #[test]
    fn a_document_gets_the_documented_defaults() {
        let s = Settings::from_doc(
            &json!({"name": "completed-calls", "uri": "https://example.com/hooks", "hook": "channel_destroy"}),
            None,
        )
        .expect("valid");
        assert_eq!(s.http_verb, HttpVerb::Post);
        assert_eq!(s.format, Format::FormData);
        assert_eq!(s.retries, 2);
        assert!(s.enabled);
        assert!(!s.include_subaccounts);
        assert!(s.custom_data.is_empty());
    }

    #[test]
    fn every_bad_field_is_named_at_once() {
        let got = codes(Settings::from_doc(
            &json!({"uri": "ftp://example.com", "hook": "nope", "http_verb": "delete",
                    "format": "xml", "retries": 11, "enabled": "yes", "custom_data": [1]}),
            None,
        ));
        for want in [
            ("uri", "invalid"),
            ("hook", "invalid"),
            ("http_verb", "invalid"),
            ("format", "invalid"),
            ("retries", "invalid"),
            ("enabled", "invalid"),
            ("custom_data", "invalid"),
            ("name", "required"),
        ] {
            assert!(got.contains(&want), "{want:?} in {got:?}");
        }
        assert_eq!(
            codes(Settings::from_doc(&json!([1]), None)),
            [("data", "invalid")]
        );
        assert!(codes(Settings::from_doc(
            &json!({"name": "x", "uri": "http://[::1", "hook": "channel_create"}),
            None
        ))
        .contains(&("uri", "invalid")));
        assert!(codes(Settings::from_doc(
            &json!({"name": "x", "uri": "http://h/", "hook": "channel_create", "retries": 0}),
            None
        ))
        .contains(&("retries", "invalid")));
    }

    #[test]
    fn modifiers_belong_to_their_hook_and_narrow_what_it_takes() {
        let doc = json!({"name": "o", "uri": "http://h/", "hook": "object",
                         "action": "doc_edited", "type": ["callflow", "device"]});
        let s = Settings::from_doc(&doc, None).expect("valid");
        assert_eq!(s.modifiers.action, ["doc_edited"]);
        assert_eq!(s.modifiers.types, ["callflow", "device"]);
        let bad = json!({"name": "o", "uri": "http://h/", "hook": "object", "modifiers": {"type": "spaceship"}});
        assert_eq!(codes(Settings::from_doc(&bad, None)), [("type", "invalid")]);
        let wrong = json!({"name": "o", "uri": "http://h/", "hook": "channel_create", "action": "doc_edited"});
        assert_eq!(
            codes(Settings::from_doc(&wrong, None)),
            [("action", "invalid")]
        );

        let sub = Subscription {
            id: WebhookId::new(),
            account_id: AccountId::from("a1"),
            settings: s,
            disabled_reason: None,
            created_at: 0,
            modified_at: 0,
        };
        let rec = |name: &str, account: &str| Record {
            seq: 1,
            name: name.into(),
            account_id: account.into(),
            timestamp_ms: 0,
            json: "{}".into(),
            kept: None,
        };
        assert!(sub.takes(&rec("doc_edited", "a1"), &json!({"type": "device"})));
        assert!(!sub.takes(&rec("doc_created", "a1"), &json!({"type": "device"})));
        assert!(!sub.takes(&rec("doc_edited", "a1"), &json!({"type": "vmbox"})));
        assert!(
            !sub.takes(&rec("doc_edited", "a2"), &json!({"type": "device"})),
            "another account"
        );
        let row = sub.to_row("sealed".into(), 7);
        assert_eq!(Subscription::from_row(&row).as_ref(), Some(&sub));
    }

    #[test]
    fn a_patch_keeps_what_it_does_not_name() {
        let base = Settings::from_doc(
            &json!({"name": "a", "uri": "http://h/", "hook": "channel_create", "format": "json", "retries": 5}),
            None,
        )
        .expect("valid");
        let s = Settings::from_doc(&json!({"enabled": false}), Some(&base)).expect("valid");
        assert!(!s.enabled);
        assert_eq!(
            (s.format, s.retries, s.name.as_str()),
            (Format::Json, 5, "a")
        );
    }
}
