//! REGISTER handling and the digest-auth gate shared with INVITE: who is asking
//! (account by domain, extension by user), brute-force blocking, challenge and
//! verification, then the registrar decision and its 200 with the bindings.

use rsip::{headers::untyped::UntypedHeader, Header, Request, Response};
use std::sync::atomic::Ordering::Relaxed;
use std::time::Instant;

use super::Switch;
use crate::events::now_ms;
use crate::sip::auth::{DigestCredentials, Verdict};
use crate::sip::message;
use crate::sip::registrar::{Outcome, Register};
use crate::sip::target::Target;
use crate::store::{Account, Extension};

/// The result of checking a request's credentials.
pub enum Gate {
    /// Authenticated as this extension of this account.
    Pass(Account, Extension),
    /// Answer with this response (401/407 challenge, 403, 400, 404).
    Reply(Response),
}

fn unix_secs() -> u64 {
    (now_ms() / 1000) as u64
}

/// Digest-authenticates `req` for the account owning `host`. `proxy` selects
/// 407/Proxy-Authorization (INVITE) instead of 401/Authorization (REGISTER).
/// `user` is the identity the request claims (To user for REGISTER, From user for INVITE).
pub fn gate(
    sw: &Switch,
    req: &Request,
    source: &Target,
    host: &str,
    user: &str,
    proxy: bool,
) -> Gate {
    let now = Instant::now();
    let ip = source.addr.ip();
    let tag = message::random_token(10);
    if sw.limiter.is_blocked(ip, now) {
        sw.metrics.auth_blocked_requests.fetch_add(1, Relaxed);
        return Gate::Reply(message::response(
            req,
            403,
            "Forbidden - Too Many Failed Attempts",
            Some(&tag),
        ));
    }
    let dir = sw.directory();
    let Some(account) = dir.account_for_host(host) else {
        return Gate::Reply(message::response(
            req,
            404,
            "Not Found - Unknown Domain",
            Some(&tag),
        ));
    };
    let realm = account.sip_domain.as_str();
    let (hdr_name, code, reason) = if proxy {
        ("Proxy-Authorization", 407, "Proxy Authentication Required")
    } else {
        ("Authorization", 401, "Unauthorized")
    };
    let challenge = |stale: bool| {
        let mut r = message::response(req, code, reason, Some(&tag));
        // RFC 7616 §3.7: one challenge per configured algorithm, preferred first. The
        // default is MD5 alone: some deployed UAs give up on a challenge they cannot answer.
        for &alg in &sw.settings.digest_algorithms {
            let value = sw.nonces.challenge(realm, alg, stale, unix_secs());
            r.headers.push(if proxy {
                Header::ProxyAuthenticate(rsip::headers::ProxyAuthenticate::from(value))
            } else {
                Header::WwwAuthenticate(rsip::headers::WwwAuthenticate::from(value))
            });
        }
        r
    };
    // Credentials for our realm (a UA may carry several Authorization headers).
    let creds = req.headers.iter().filter_map(|h| match (h, proxy) {
        (Header::Authorization(a), false) => Some(a.value()),
        (Header::ProxyAuthorization(a), true) => Some(a.value()),
        (Header::Other(n, v), _) if n.eq_ignore_ascii_case(hdr_name) => Some(v.as_str()),
        _ => None,
    });
    let mut found = None;
    for value in creds {
        match DigestCredentials::parse(value) {
            Ok(c) if c.realm == realm => {
                found = Some(c);
                break;
            }
            Ok(_) => continue,
            Err(_) => {
                return Gate::Reply(message::response(
                    req,
                    400,
                    "Bad Request - Malformed Credentials",
                    Some(&tag),
                ))
            }
        }
    }
    let Some(creds) = found else {
        return Gate::Reply(challenge(false));
    };
    let fail = |why: &str| {
        sw.metrics.auth_failures.fetch_add(1, Relaxed);
        if sw.limiter.record_failure(ip, now) {
            sw.metrics.auth_blocks.fetch_add(1, Relaxed);
            tracing::warn!(%ip, "blocking source after repeated authentication failures");
        }
        tracing::info!(%ip, user = %creds.username, "authentication failed: {why}");
        Gate::Reply(message::response(
            req,
            403,
            "Forbidden - Bad Credentials",
            Some(&tag),
        ))
    };
    // a browser's short-lived credential (`<expiry>:<extension>`) or the extension itself
    let short_lived = crate::sip::ephemeral::parse(&creds.username);
    let auth_user = short_lived.map(|(_, ext)| ext).unwrap_or(&creds.username);
    if auth_user != user {
        return fail("username does not match the address of record");
    }
    if short_lived.is_some_and(|(expires, _)| expires < unix_secs()) {
        return fail("credential expired");
    }
    let Some(ext) = dir.extension(&account.id, auth_user) else {
        return fail("unknown user");
    };
    let password = match short_lived {
        Some(_) => crate::sip::ephemeral::password(&ext.password, &creds.username),
        None => ext.password.clone(),
    };
    // RFC 2617 §3.2.2.5: the digest must be about this request's URI (compared by
    // host and user, so ports and parameters a UA normalises differently still match).
    let ruri = req.uri.to_string();
    let same_host = message::uri_host(&creds.uri).map(str::to_ascii_lowercase)
        == message::uri_host(&ruri).map(str::to_ascii_lowercase);
    let user_ok = match (message::uri_user(&creds.uri), message::uri_user(&ruri)) {
        (Some(a), Some(b)) => a == b,
        _ => true,
    };
    if !same_host || !user_ok {
        return Gate::Reply(message::response(
            req,
            400,
            "Bad Request - Digest URI Mismatch",
            Some(&tag),
        ));
    }
    let method = req.method.to_string();
    match sw
        .nonces
        .verify(&creds, &method, &password, realm, unix_secs())
    {
        Verdict::Ok => {
            sw.limiter.record_success(ip);
            Gate::Pass(account.clone(), ext.clone())
        }
        Verdict::Stale => Gate::Reply(challenge(true)),
        Verdict::BadNonce | Verdict::Replay => Gate::Reply(challenge(false)),
        Verdict::WrongPassword => fail("wrong password"),
        Verdict::RealmMismatch => Gate::Reply(challenge(false)),
    }
}

/// Handles a REGISTER end to end and returns the response to send.
pub fn handle(sw: &Switch, req: &Request, source: &Target) -> Response {
    let tag = message::random_token(10);
    let to_uri = message::to_value(&req.headers)
        .map(message::uri_part)
        .unwrap_or("");
    let Some(user) = message::uri_user(to_uri) else {
        return message::response(req, 400, "Bad Request - To Has No User", Some(&tag));
    };
    let host = message::uri_host(to_uri).unwrap_or("");
    let (account, ext) = match gate(sw, req, source, host, user, false) {
        Gate::Pass(a, e) => (a, e),
        Gate::Reply(r) => return r,
    };
    let contacts: Vec<&str> = message::contacts(&req.headers).collect();
    let (cseq, _) = message::cseq(&req.headers).unwrap_or((0, "REGISTER"));
    let now = now_ms();
    let reg = Register {
        contacts,
        expires_header: message::header_value(&req.headers, "Expires"),
        call_id: message::call_id(&req.headers).unwrap_or(""),
        cseq,
        source: *source,
        user_agent: message::header_value(&req.headers, "User-Agent"),
        now_ms: now,
    };
    match sw
        .registrations
        .apply(&account.id, &ext.number, &reg, &sw.settings.policy)
    {
        Outcome::Ok { bindings, .. } => {
            let mut r = message::response(req, 200, "OK", Some(&tag));
            for b in &bindings {
                r.headers
                    .push(Header::Contact(rsip::headers::Contact::from(format!(
                        "<{}>;expires={}",
                        b.uri,
                        b.remaining_secs(now)
                    ))));
            }
            r.headers.push(Header::Other("Date".into(), httpdate(now)));
            r
        }
        Outcome::IntervalTooBrief(min) => {
            let mut r = message::response(req, 423, "Interval Too Brief", Some(&tag));
            r.headers
                .push(Header::MinExpires(rsip::headers::MinExpires::from(
                    min.to_string(),
                )));
            r
        }
        Outcome::BadRequest(reason) => message::response(req, 400, reason, Some(&tag)),
    }
}

/// RFC 1123 date for the Date header.
fn httpdate(ms: i64) -> String {
    let secs = ms.div_euclid(1000);
    let days = secs.div_euclid(86400);
    let rem = secs.rem_euclid(86400);
    let (h, m, s) = (rem / 3600, (rem % 3600) / 60, rem % 60);
    // civil from days (Howard Hinnant's algorithm)
    let z = days + 719468;
    let era = z.div_euclid(146097);
    let doe = z.rem_euclid(146097);
    let yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let mo = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = if mo <= 2 { y + 1 } else { y };
    let wd = ["Thu", "Fri", "Sat", "Sun", "Mon", "Tue", "Wed"][days.rem_euclid(7) as usize];
    let mon = [
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
    ][(mo - 1) as usize];
    format!("{wd}, {d:02} {mon} {y} {h:02}:{m:02}:{s:02} GMT")
}

#[cfg(test)]
mod tests {
    #[test]
    fn http_date() {
        assert_eq!(super::httpdate(0), "Thu, 01 Jan 1970 00:00:00 GMT");
        assert_eq!(
            super::httpdate(1_700_000_000_000),
            "Tue, 14 Nov 2023 22:13:20 GMT"
        );
    }
}
