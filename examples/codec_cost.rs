//! Cost of one 20 ms frame through each codec path of the transcoding bridge
//! (release build): `cargo run --release --example codec_cost`. Figures feed
//! docs/BENCHMARKS.md ("where the time goes").

use std::time::Instant;
use switchyard::media::codec::{CodecKind, Decoder, Encoder, Resampler};

fn tone(rate: u32, n: usize) -> Vec<Vec<i16>> {
    let mut phase = 0.0f32;
    (0..n)
        .map(|_| {
            (0..rate / 50)
                .map(|_| {
                    phase += 2.0 * std::f32::consts::PI * 440.0 / rate as f32;
                    (phase.sin() * 8000.0 + (phase * 3.1).sin() * 2000.0) as i16
                })
                .collect()
        })
        .collect()
}

fn time(label: &str, frames: usize, mut f: impl FnMut(usize)) {
    let t = Instant::now();
    for i in 0..frames {
        f(i);
    }
    let us = t.elapsed().as_secs_f64() * 1e6 / frames as f64;
    println!("{label:<40} {us:>8.2} µs/frame");
}

fn main() {
    const N: usize = 2000;
    for rate in [8000u32, 16_000, 48_000] {
        let pcm = tone(rate, 50);
        let mut enc = Encoder::at_rate(CodecKind::Opus, rate).expect("enc");
        let mut packets = Vec::new();
        time(&format!("opus encode @{rate}"), N, |i| {
            let mut out = Vec::new();
            enc.encode(&pcm[i % 50], &mut out).expect("encode");
            if packets.len() < 50 {
                packets.push(out);
            }
        });
        let mut dec = Decoder::at_rate(CodecKind::Opus, rate).expect("dec");
        let mut out = Vec::with_capacity(5760);
        time(&format!("opus decode @{rate}"), N, |i| {
            out.clear();
            dec.decode(&packets[i % 50], &mut out).expect("decode");
        });
    }
    let pcm = tone(8000, 50);
    let mut enc = Encoder::new(CodecKind::Pcmu).expect("enc");
    let mut dec = Decoder::new(CodecKind::Pcmu).expect("dec");
    let mut bytes = Vec::new();
    let mut out = Vec::new();
    time("pcmu encode+decode", N, |i| {
        bytes.clear();
        out.clear();
        enc.encode(&pcm[i % 50], &mut bytes).expect("enc");
        dec.decode(&bytes, &mut out).expect("dec");
    });
    let mut r = Resampler::new(8000, 48_000).expect("resampler");
    time("resample 8k->48k", N, |i| {
        out.clear();
        r.process(&pcm[i % 50], &mut out).expect("resample");
    });
}
