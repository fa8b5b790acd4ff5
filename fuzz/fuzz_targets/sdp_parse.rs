//! Any text into the SDP reader and rewriter: must never panic.
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(s) = std::str::from_utf8(data) {
        let _ = switchyard::sdp::parse_media(s);
        let _ = switchyard::sdp::rewrite_for_relay(s, "192.0.2.1".parse().expect("ip"), 20000, None);
    }
});
