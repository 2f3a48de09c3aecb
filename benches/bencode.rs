//! Decoding cost of hostile bencode (issue 17): one 256 KiB dictionary of distinct keys, as a
//! peer may send in an extended handshake, ut_pex or ut_metadata message, and a 2 MiB one, the
//! largest tracker reply we read. Sorted keys (BEP 3 order) and reversed keys (the set-based
//! duplicate check) are both measured; the target is under 10 ms for 256 KiB.
//!
//!     cargo bench --bench bencode
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // benches fail loudly

use std::time::{Duration, Instant};

fn dict(bytes: usize, reversed: bool) -> Vec<u8> {
    // 6-character keys mapped to `0:`: 10 bytes per entry.
    let mut keys: Vec<String> = (0..bytes / 10).map(|i| format!("{i:06x}")).collect();
    if reversed {
        keys.reverse();
    }
    let body: String = keys.iter().map(|k| format!("6:{k}0:")).collect();
    format!("d{body}e").into_bytes()
}

fn main() {
    for (label, size) in [("256 KiB", 256 * 1024), ("2 MiB", 2 * 1024 * 1024)] {
        for reversed in [false, true] {
            let input = dict(size, reversed);
            let mut best = Duration::MAX;
            for _ in 0..20 {
                let t = Instant::now();
                let v = bidtorrent::bencode::decode(&input).unwrap();
                best = best.min(t.elapsed());
                std::hint::black_box(v);
            }
            println!(
                "{label} dict, {} keys, {}: best of 20 {:.2} ms",
                size / 10,
                if reversed { "reversed" } else { "sorted" },
                best.as_secs_f64() * 1000.0
            );
        }
    }
}
