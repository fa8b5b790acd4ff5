//! The merchant API's part of the OpenAPI document (`/openapi.json`, Swagger
//! UI at `/docs`, shared with the voice API): its paths, schemas, the
//! X-API-KEY / X-API-SECRET pair, and the error answers every operation can
//! give, added once here.

use utoipa::openapi::response::ResponseBuilder;
use utoipa::openapi::security::{ApiKey, ApiKeyValue, SecurityScheme};
use utoipa::openapi::{Content, RefOr};
use utoipa::{Modify, OpenApi};

use super::schema::{V1ErrorBody, V1ErrorDetail};
use super::{billing, consents, merchants, messages, messaging};

#[derive(OpenApi)]
#[openapi(
    paths(
        merchants::upsert, merchants::list, merchants::show,
        consents::upsert, consents::list,
        messages::send_sms, messages::send_voice, messages::send_email, messages::email_send,
        messages::show, messages::list, messages::cancel,
        billing::upgrade, billing::alerts, billing::usage,
        messaging::put_brand, messaging::get_brand, messaging::add_campaign, messaging::campaigns,
        messaging::add_number, messaging::numbers, messaging::assign, messaging::status,
    ),
    components(schemas(V1ErrorBody, V1ErrorDetail)),
    modifiers(&MerchantKeysAndErrors),
    tags(
        (name = "merchants", description = "Merchants: limits, credits, usage (docs/merchant-api.md)"),
        (name = "consents", description = "Recipient consent per channel, with history"),
        (name = "messages", description = "SMS, voice and email dispatch and each message's lifecycle"),
        (name = "billing", description = "Upgrades, alerts and usage reports"),
        (name = "messaging", description = "SMS brand, campaigns, numbers and 10DLC status"),
    )
)]
pub struct MerchantDoc;

fn errors_for(post: bool) -> Vec<(&'static str, &'static str)> {
    let mut v = vec![
        (
            "400",
            "VALIDATION_ERROR: a field is missing or wrong (`field` names it)",
        ),
        (
            "401",
            "AUTH_REQUIRED (no X-API-KEY / X-API-SECRET) or AUTH_INVALID (not a live pair)",
        ),
        (
            "404",
            "NOT_FOUND: no such merchant or message (or another tenant's)",
        ),
        (
            "429",
            "RATE_LIMITED: too many requests for the key (see Retry-After)",
        ),
        (
            "503",
            "SERVICE_UNAVAILABLE: the store cannot be reached; retry",
        ),
    ];
    if post {
        v.push((
            "402",
            "LIMIT_REACHED: the merchant's limit is used and no credits are left",
        ));
        v.push((
            "409",
            "CONSENT_OPTED_OUT, CONSENT_REQUIRED, MERCHANT_INACTIVE or CONFLICT",
        ));
        v.push((
            "422",
            "IDEMPOTENCY_CONFLICT: the Idempotency-Key was used with another body",
        ));
    }
    v
}

struct MerchantKeysAndErrors;

impl Modify for MerchantKeysAndErrors {
    fn modify(&self, doc: &mut utoipa::openapi::OpenApi) {
        let components = doc.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "merchant_key",
            SecurityScheme::ApiKey(ApiKey::Header(ApiKeyValue::new("X-API-KEY"))),
        );
        components.add_security_scheme(
            "merchant_secret",
            SecurityScheme::ApiKey(ApiKey::Header(ApiKeyValue::new("X-API-SECRET"))),
        );
        for item in doc.paths.paths.values_mut() {
            for (op, post) in [(&mut item.get, false), (&mut item.post, true)] {
                let Some(op) = op.as_mut() else { continue };
                for (code, text) in errors_for(post) {
                    op.responses
                        .responses
                        .entry(code.to_string())
                        .or_insert_with(|| {
                            RefOr::T(
                                ResponseBuilder::new()
                                    .description(text)
                                    .content(
                                        "application/json",
                                        Content::new(Some(RefOr::Ref(
                                            utoipa::openapi::Ref::from_schema_name("V1ErrorBody"),
                                        ))),
                                    )
                                    .build(),
                            )
                        });
                }
            }
        }
    }
}
