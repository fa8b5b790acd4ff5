//! Any Authorization header value into the digest parser: must never panic.
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(s) = std::str::from_utf8(data) {
        let _ = switchyard::sip::auth::DigestCredentials::parse(s);
    }
});
