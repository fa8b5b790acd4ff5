//! Any byte stream, in any chunking, into the TCP framer: must never panic or loop.
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let mut f = switchyard::transport::framing::Framer::default();
    let step = 1 + data.first().copied().unwrap_or(7) as usize % 64;
    for chunk in data.chunks(step) {
        f.push(chunk);
        while let Ok(Some(_)) = f.next_frame() {}
    }
});
