//! The OpenAPI 3.1 document of the voice API, generated from the handlers'
//! annotations and the types of `schema.rs`; served (with the merchant API's
//! part) by `http::openapi`.
//! Every operation also lists the error answers it can give (the envelope of
//! [`ErrorEnvelope`]), added here once rather than on each handler.

use utoipa::openapi::response::{Response, ResponseBuilder};
use utoipa::openapi::security::{ApiKey, ApiKeyValue, SecurityScheme};
use utoipa::openapi::{Content, RefOr};
use utoipa::{Modify, OpenApi, PartialSchema};

use super::schema::ErrorEnvelope;
use super::{calls, queues, sms, users};

#[derive(OpenApi)]
#[openapi(
    info(
        title = "Switchyard voice API",
        version = "3",
        description = "Availability, queues, click-to-call, numbers, the user's profile and SMS. \
            Keys go in X-API-Key; see docs/voice-api.md."
    ),
    paths(
        users::availability,
        queues::list,
        queues::show,
        queues::availability,
        queues::availability_one,
        calls::outbound,
        calls::show,
        calls::hang_up,
        sms::send,
        users::numbers,
        users::user_numbers,
        users::profile,
    ),
    components(schemas(ErrorEnvelope)),
    modifiers(&KeysAndErrors),
    tags(
        (name = "users", description = "Users' availability and profile"),
        (name = "queues", description = "ACD queues and their live figures"),
        (name = "calls", description = "Click-to-call"),
        (name = "numbers", description = "Phone numbers"),
        (name = "sms", description = "SMS"),
    )
)]
pub struct VoiceDoc;

/// The statuses every operation may answer besides its success, by method.
fn errors_for(post: bool) -> Vec<(&'static str, &'static str)> {
    let mut v = vec![
        ("400", "BAD_REQUEST: a malformed request"),
        ("401", "AUTH_REQUIRED: no key"),
        (
            "403",
            "AUTH_INVALID (not a live key) or FORBIDDEN (wrong key type or scope)",
        ),
        (
            "404",
            "NOT_FOUND: no such account or resource (or another account's)",
        ),
        ("429", "RATE_LIMITED: over the rate limit (see Retry-After)"),
        ("500", "INTERNAL_ERROR"),
        ("503", "SERVICE_UNAVAILABLE: the store cannot be reached"),
    ];
    if post {
        v.push((
            "422",
            "IDEMPOTENCY_CONFLICT: the Idempotency-Key was used with another body",
        ));
    }
    v
}

fn error_response(description: &str) -> Response {
    ResponseBuilder::new()
        .description(description)
        .content(
            "application/json",
            Content::new(Some(RefOr::Ref(utoipa::openapi::Ref::from_schema_name(
                "ErrorEnvelope",
            )))),
        )
        .build()
}

struct KeysAndErrors;

impl Modify for KeysAndErrors {
    fn modify(&self, doc: &mut utoipa::openapi::OpenApi) {
        let components = doc.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "api_key",
            SecurityScheme::ApiKey(ApiKey::Header(ApiKeyValue::new("X-API-Key"))),
        );
        let _ = ErrorEnvelope::schema();
        for item in doc.paths.paths.values_mut() {
            let ops = [
                (&mut item.get, false),
                (&mut item.post, true),
                (&mut item.delete, false),
            ];
            for (op, post) in ops {
                let Some(op) = op.as_mut() else { continue };
                for (code, text) in errors_for(post) {
                    op.responses
                        .responses
                        .entry(code.to_string())
                        .or_insert_with(|| RefOr::T(error_response(text)));
                }
            }
        }
    }
}

/// The document as JSON.
pub fn json() -> String {
    VoiceDoc::openapi().to_json().unwrap_or_default()
}

#[cfg(test)]
mod tests {
    #[test]
    fn every_route_is_described_with_its_errors() {
        let doc: serde_json::Value = serde_json::from_str(&super::json()).expect("json");
        assert!(
            doc["openapi"]
                .as_str()
                .is_some_and(|v| v.starts_with("3.1")),
            "{}",
            doc["openapi"]
        );
        let paths = doc["paths"].as_object().expect("paths");
        assert_eq!(paths.len(), 11, "{:?}", paths.keys().collect::<Vec<_>>());
        let outbound = &doc["paths"]["/v3/voice/{account_id}/call/outbound"]["post"];
        for code in ["200", "400", "401", "403", "404", "422", "429"] {
            assert!(
                outbound["responses"][code].is_object(),
                "{code}: {outbound}"
            );
        }
        assert!(doc["components"]["securitySchemes"]["api_key"].is_object());
        assert!(doc["components"]["schemas"]["ErrorEnvelope"].is_object());
    }
}
