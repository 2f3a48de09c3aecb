//! The daemon's DHT on a private loopback network: a magnet with no tracker and no peer
//! address completes through it. Both DHT nodes bootstrap only from each other.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // tests fail loudly

mod engine_util;

use std::time::{Duration, Instant};

use engine_util::daemon::Daemon;
use engine_util::*;

#[test]
fn trackerless_magnet_completes_through_the_daemons_dht() {
    let tmp = tempfile::tempdir().expect("tempdir");
    // make_torrent announces to a dead tracker: the DHT is the only way to meet.
    let t = make_torrent(tmp.path(), "d.bin", &[("d.bin", 400_000)], 16 * 1024);
    let meta = bidtorrent::engine::metainfo::Metainfo::from_file(&t).expect("torrent");

    // The first node bootstraps from nobody; the second only from the first.
    let seeder = Daemon::start(&tmp.path().join("a"), Some("[dht]\nbootstrap = []\n"));
    let st = seeder.json(&["status", "--json"]);
    let dht_a = st["dht"]["addr"]
        .as_str()
        .expect("seeder DHT on")
        .to_string();
    assert!(dht_a.starts_with("127.0.0.1:"), "{dht_a}");
    seeder.json(&["add", s(&t), "--dir", s(&tmp.path().join("src")), "--json"]);

    let leecher = Daemon::start(
        &tmp.path().join("b"),
        Some(&format!("[dht]\nbootstrap = [\"{dht_a}\"]\n")),
    );
    let magnet = format!("magnet:?xt=urn:btih:{}", meta.info_hash.to_hex());
    let dl = tmp.path().join("dl");
    let out = leecher.cli(&["add", &magnet, "--dir", s(&dl)]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let ls = leecher.json(&["ls", "--json"]);
        if ls[0]["left_bytes"] == 0 {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "not complete through the DHT: {ls}"
        );
        std::thread::sleep(Duration::from_millis(200));
    }
    assert_same_tree(&tmp.path().join("src/d.bin"), &dl.join("d.bin"));
    let st = leecher.json(&["status", "--json"]);
    assert!(st["dht"]["nodes"].as_u64().expect("nodes") >= 1, "{st}");
}
