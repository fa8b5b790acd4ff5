//! The one OpenAPI document of the switch's developer APIs — the voice API
//! (`v3`) and the merchant API (`/api/v1`), each describing its own part —
//! served at `/openapi.json` with Swagger UI at `/docs` (its files compiled
//! in: nothing loads from a CDN).

use axum::Router;
use utoipa::OpenApi;

use super::AppState;

/// The whole document.
pub fn document() -> utoipa::openapi::OpenApi {
    let mut doc = super::v3::openapi::VoiceDoc::openapi();
    doc.merge(super::v1::openapi::MerchantDoc::openapi());
    doc.info.title = "Switchyard APIs".into();
    doc.info.description = Some(
        "The voice API (v3: availability, queues, click-to-call, numbers, profile, SMS; keys in \
         X-API-Key, docs/voice-api.md) and the merchant API (/api/v1: merchants, consents, \
         SMS/voice/email dispatch, billing, usage, 10DLC; X-API-KEY + X-API-SECRET, \
         docs/merchant-api.md)."
            .into(),
    );
    doc
}

/// `/openapi.json` and Swagger UI at `/docs` (outside every gate: no key, no limit).
pub fn docs() -> Router<AppState> {
    utoipa_swagger_ui::SwaggerUi::new("/docs")
        .url("/openapi.json", document())
        .into()
}

#[cfg(test)]
mod tests {
    #[test]
    fn both_apis_are_in_one_document() {
        let doc: serde_json::Value =
            serde_json::from_str(&super::document().to_json().unwrap_or_default()).expect("json");
        let paths = doc["paths"].as_object().expect("paths");
        assert_eq!(paths.keys().filter(|p| p.starts_with("/v3/")).count(), 11);
        let sms = &doc["paths"]["/api/v1/messages/sms"]["post"];
        for code in ["200", "400", "401", "402", "409", "422", "429"] {
            assert!(sms["responses"][code].is_object(), "{code}: {sms}");
        }
        assert!(doc["components"]["securitySchemes"]["merchant_secret"].is_object());
        assert!(doc["components"]["securitySchemes"]["api_key"].is_object());
        assert!(doc["components"]["schemas"]["MerchantView"].is_object());
    }
}
