//! The merchant API's credentials: `X-API-KEY` and `X-API-SECRET`, a pair
//! made by `switchyard key create --type merchant`. A request is its key's
//! account's (a tenant: it sees only its own merchants). A missing header is
//! 401 AUTH_REQUIRED, a wrong pair (or a revoked key, or another type of
//! key) 401 AUTH_INVALID. Pairs looked up are trusted for `KEY_TRUST`, so a
//! busy client costs no store read per request; each key has a request rate
//! (429 RATE_LIMITED with `Retry-After`).

use std::num::NonZeroU32;
use std::sync::Arc;

use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use governor::{DefaultKeyedRateLimiter, Quota, RateLimiter};
use sha2::{Digest, Sha256};

use super::{V1Code, V1Error};
use crate::http::key_cache::KeyCache;
use crate::http::AppState;
use crate::merchant::service::Service;
use crate::store::ApiKey;

/// The merchant API's shared parts.
pub struct MerchantApi {
    pub svc: Arc<Service>,
    keys: KeyCache,
    rate: DefaultKeyedRateLimiter<String>,
}

impl MerchantApi {
    /// `per_second` requests per key (bursts of twice that).
    pub fn new(svc: Arc<Service>, per_second: u32) -> MerchantApi {
        let n = NonZeroU32::new(per_second.max(1)).unwrap_or(NonZeroU32::MIN);
        let burst = NonZeroU32::new(per_second.saturating_mul(2).max(1)).unwrap_or(n);
        MerchantApi {
            svc,
            keys: KeyCache::default(),
            rate: RateLimiter::keyed(Quota::per_second(n).allow_burst(burst)),
        }
    }
}

/// An authenticated merchant API request.
pub struct Tenant {
    pub account: String,
    pub key: Arc<ApiKey>,
    pub api: Arc<MerchantApi>,
}

impl Tenant {
    pub fn svc(&self) -> &Arc<Service> {
        &self.api.svc
    }
}

fn header<'a>(parts: &'a Parts, name: &str) -> Option<&'a str> {
    parts
        .headers
        .get(name)
        .and_then(|v| v.to_str().ok())
        .map(str::trim)
        .filter(|v| !v.is_empty())
}

impl FromRequestParts<AppState> for Tenant {
    type Rejection = axum::response::Response;

    async fn from_request_parts(parts: &mut Parts, s: &AppState) -> Result<Self, Self::Rejection> {
        use axum::response::IntoResponse;
        let api = s.merchant.clone().ok_or_else(|| {
            V1Error::new(V1Code::Unavailable, "the merchant API is not running").into_response()
        })?;
        let (Some(key), Some(secret)) = (header(parts, "x-api-key"), header(parts, "x-api-secret"))
        else {
            return Err(V1Error::new(
                V1Code::AuthRequired,
                "send the merchant key in X-API-KEY and its secret in X-API-SECRET",
            )
            .into_response());
        };
        let token = hex::encode(Sha256::digest(format!("{key}\n{secret}").as_bytes()));
        let found = match api.keys.get(&token) {
            Some(k) => Some(k),
            None => match api.svc.store.merchant_key(key, secret).await {
                Ok(Some(k)) => {
                    let k = Arc::new(k);
                    api.keys.put(&token, k.clone());
                    Some(k)
                }
                Ok(None) => None,
                Err(e) => return Err(V1Error::store(e).into_response()),
            },
        };
        let Some(key) = found else {
            return Err(V1Error::new(
                V1Code::AuthInvalid,
                "X-API-KEY and X-API-SECRET are not a live merchant key pair",
            )
            .into_response());
        };
        if let Err(wait) = api.rate.check_key(&key.id) {
            let secs = wait
                .wait_time_from(governor::clock::Clock::now(
                    &governor::clock::DefaultClock::default(),
                ))
                .as_secs()
                .max(1);
            let mut r = V1Error::new(
                V1Code::RateLimited,
                "too many requests for this key; slow down",
            )
            .into_response();
            if let Ok(v) = axum::http::HeaderValue::from_str(&secs.to_string()) {
                r.headers_mut().insert(axum::http::header::RETRY_AFTER, v);
            }
            return Err(r);
        }
        Ok(Tenant {
            account: key.account_id.clone(),
            key,
            api,
        })
    }
}
