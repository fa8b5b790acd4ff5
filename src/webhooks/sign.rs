//! Signing secrets and signatures. A subscription's secret (`whsec_` + 40
//! base62 characters) is shown once, and kept sealed at rest with
//! ChaCha20-Poly1305 under the switch's key (`--webhooks-key`, or a key file
//! in the data directory), so the database alone reveals no secret.
//!
//! Every delivery carries `X-Switchyard-Signature-256: t=<unix>,v1=<hex>`: the
//! HMAC-SHA256 of `<t>.<body>` (the timestamp is covered, so a receiver can
//! refuse a replayed request), one `v1` per live secret during a rotation.
//! Voice-envelope deliveries also carry `X-Voice360-Signature: sha256=<hex>`,
//! the HMAC-SHA256 of the raw body alone, as the voice API documents it.

use chacha20poly1305::aead::{Aead, KeyInit};
use chacha20poly1305::{ChaCha20Poly1305, Key, Nonce};
use hmac::{Hmac, Mac};
use rand::Rng;
use sha2::Sha256;

type HmacSha256 = Hmac<Sha256>;

const BASE62: &[u8] = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";

/// A new signing secret.
pub fn new_secret() -> String {
    let mut rng = rand::rngs::OsRng;
    let body: String = (0..40)
        .map(|_| BASE62[rng.gen_range(0..BASE62.len())] as char)
        .collect();
    format!("whsec_{body}")
}

/// A sealed secret could not be opened (another key, or a damaged value).
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("a webhook secret could not be unsealed (wrong --webhooks-key?)")]
pub struct Unseal;

/// Seals and opens secrets at rest.
#[derive(Clone)]
pub struct Sealer {
    cipher: ChaCha20Poly1305,
}

impl std::fmt::Debug for Sealer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Sealer(…)")
    }
}

impl Sealer {
    pub fn new(key: &[u8; 32]) -> Sealer {
        Sealer {
            cipher: ChaCha20Poly1305::new(Key::from_slice(key)),
        }
    }

    /// `v1:` + hex(nonce ‖ ciphertext).
    pub fn seal(&self, secret: &str) -> String {
        let nonce: [u8; 12] = rand::random();
        // encrypting a short buffer in memory cannot fail
        let ct = self
            .cipher
            .encrypt(Nonce::from_slice(&nonce), secret.as_bytes())
            .unwrap_or_default();
        let mut out = nonce.to_vec();
        out.extend_from_slice(&ct);
        format!("v1:{}", hex::encode(out))
    }

    pub fn open(&self, sealed: &str) -> Result<String, Unseal> {
        let raw = sealed
            .strip_prefix("v1:")
            .and_then(|h| hex::decode(h).ok())
            .ok_or(Unseal)?;
        if raw.len() < 12 + 16 {
            return Err(Unseal);
        }
        let (nonce, ct) = raw.split_at(12);
        let pt = self
            .cipher
            .decrypt(Nonce::from_slice(nonce), ct)
            .map_err(|_| Unseal)?;
        String::from_utf8(pt).map_err(|_| Unseal)
    }
}

fn hmac_hex(secret: &str, parts: &[&[u8]]) -> String {
    // HMAC takes a key of any length
    let mut mac = match <HmacSha256 as Mac>::new_from_slice(secret.as_bytes()) {
        Ok(m) => m,
        Err(_) => return String::new(),
    };
    for p in parts {
        mac.update(p);
    }
    hex::encode(mac.finalize().into_bytes())
}

/// `X-Switchyard-Signature-256` for `body` sent at unix second `t`, signed by
/// every secret given (the current one first).
pub fn switchyard_signature(secrets: &[&str], t: i64, body: &[u8]) -> String {
    let ts = t.to_string();
    let mut out = format!("t={ts}");
    for s in secrets {
        out.push_str(",v1=");
        out.push_str(&hmac_hex(s, &[ts.as_bytes(), b".", body]));
    }
    out
}

/// `X-Voice360-Signature` for `body`.
pub fn voice_signature(secret: &str, body: &[u8]) -> String {
    format!("sha256={}", hmac_hex(secret, &[body]))
}

/// Checks a `X-Switchyard-Signature-256` value (what a receiver does): any
/// `v1` matching, and the timestamp within `tolerance_s` of `now`.
pub fn verify_switchyard(
    header: &str,
    secret: &str,
    body: &[u8],
    now: i64,
    tolerance_s: i64,
) -> bool {
    let mut t = None;
    let mut sigs = Vec::new();
    for part in header.split(',') {
        match part.split_once('=') {
            Some(("t", v)) => t = v.parse::<i64>().ok(),
            Some(("v1", v)) => sigs.push(v),
            _ => {}
        }
    }
    let Some(t) = t else { return false };
    if (now - t).abs() > tolerance_s {
        return false;
    }
    let want = hmac_hex(secret, &[t.to_string().as_bytes(), b".", body]);
    sigs.iter()
        .any(|s| bool::from(subtle::ConstantTimeEq::ct_eq(s.as_bytes(), want.as_bytes())))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secrets_are_sealed_and_opened_only_with_their_key() {
        let s = new_secret();
        assert!(s.starts_with("whsec_") && s.len() == 46);
        assert_ne!(s, new_secret());
        let sealer = Sealer::new(&[7; 32]);
        let sealed = sealer.seal(&s);
        assert!(!sealed.contains(&s[6..]), "no plaintext at rest");
        assert_ne!(sealed, sealer.seal(&s), "a fresh nonce each time");
        assert_eq!(sealer.open(&sealed).as_deref(), Ok(s.as_str()));
        assert_eq!(Sealer::new(&[8; 32]).open(&sealed), Err(Unseal));
        assert_eq!(sealer.open("v1:00"), Err(Unseal));
        assert_eq!(sealer.open("garbage"), Err(Unseal));
    }

    #[test]
    fn signatures_match_an_independent_hmac() {
        // RFC 4231 test case 2: key "Jefe", data "what do ya want for nothing?"
        assert_eq!(
            voice_signature("Jefe", b"what do ya want for nothing?"),
            "sha256=5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
        );
        let body = br#"{"event_name":"CALL_ENDED"}"#;
        let h = switchyard_signature(&["new", "old"], 1_704_067_200, body);
        assert!(h.starts_with("t=1704067200,v1="));
        assert_eq!(h.matches("v1=").count(), 2);
        assert!(verify_switchyard(&h, "new", body, 1_704_067_210, 300));
        assert!(
            verify_switchyard(&h, "old", body, 1_704_067_210, 300),
            "grace period"
        );
        assert!(!verify_switchyard(&h, "other", body, 1_704_067_210, 300));
        assert!(!verify_switchyard(
            &h,
            "new",
            b"tampered",
            1_704_067_210,
            300
        ));
        assert!(
            !verify_switchyard(&h, "new", body, 1_704_077_200, 300),
            "replayed later"
        );
        // the timestamp is covered: moving it breaks the signature
        let moved = h.replacen("t=1704067200", "t=1704067300", 1);
        assert!(!verify_switchyard(&moved, "new", body, 1_704_067_300, 300));
    }
}
