//! Any bytes into the SIP edge parser and the raw rejection builder: must never panic.
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(rsip::SipMessage::Request(mut r)) = switchyard::sip::message::parse(data) {
        switchyard::sip::message::stamp_via(&mut r, "192.0.2.1:5060".parse().expect("addr"));
        let _ = r.to_string();
    }
    let _ = switchyard::sip::message::raw_reject(data, 400, "Bad Request");
});
