//! Short-lived SIP credentials for browsers: the page never holds an
//! extension's long-term password. The authorization user is
//! `<expiry unix seconds>:<extension>` and the password an HMAC-SHA256 of that
//! user keyed by the extension's password, so the registrar checks a digest
//! over it with nothing stored, the expiry cannot be stretched, and a new
//! extension password revokes every credential made from the old one.

use hmac::{Hmac, Mac};
use sha2::Sha256;

/// The authorization user of a credential for `extension` valid until `expires` (unix s).
pub fn username(extension: &str, expires: u64) -> String {
    format!("{expires}:{extension}")
}

/// The password of credential `username`, made from the extension's own password.
pub fn password(extension_password: &str, username: &str) -> String {
    let Ok(mut mac) = Hmac::<Sha256>::new_from_slice(extension_password.as_bytes()) else {
        return String::new();
    };
    mac.update(b"switchyard-sip-credential:");
    mac.update(username.as_bytes());
    hex::encode(&mac.finalize().into_bytes()[..18])
}

/// `(expiry, extension)` when `username` is a short-lived credential's.
pub fn parse(username: &str) -> Option<(u64, &str)> {
    let (expires, ext) = username.split_once(':')?;
    if expires.is_empty() || !expires.bytes().all(|b| b.is_ascii_digit()) || ext.is_empty() {
        return None;
    }
    Some((expires.parse().ok()?, ext))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_credential_names_its_extension_and_expiry() {
        let u = username("1001", 1_800_000_000);
        assert_eq!(parse(&u), Some((1_800_000_000, "1001")));
        assert_eq!(parse("1001"), None);
        assert_eq!(parse(":1001"), None);
        assert_eq!(parse("12x:1001"), None);
    }

    #[test]
    fn the_password_depends_on_user_expiry_and_long_term_password() {
        let p = password("demo1001", &username("1001", 10));
        assert_eq!(p.len(), 36);
        assert_eq!(p, password("demo1001", &username("1001", 10)));
        assert_ne!(p, password("demo1001", &username("1001", 11)));
        assert_ne!(p, password("demo1002", &username("1001", 10)));
        assert_ne!(p, password("demo1001", &username("1002", 10)));
    }
}
