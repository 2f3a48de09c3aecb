//! A hostile HTTP tracker against the real daemon and CLI (issue 17): its failure reason is
//! made of terminal escape sequences, and none of them may reach the terminal.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // tests fail loudly

mod engine_util;
mod support;

use std::time::{Duration, Instant};

use bidtorrent::bencode::{self, Owned};
use engine_util::daemon::{Daemon, stderr};
use engine_util::*;
use support::FakeTracker;

#[test]
fn a_trackers_escape_sequences_never_reach_the_terminal() {
    // 200 × "ESC[31mX", a C1 CSI and a bidi override, as the probe's tracker sent.
    let mut reason = "\x1b[31mX".repeat(200);
    reason.push_str("\u{9b}2J\u{202e}");
    let body = Owned::dict().with("failure reason", reason).encode();
    let tracker = FakeTracker::with_body(body);

    let tmp = tempfile::tempdir().expect("tempdir");
    let t = make_torrent(tmp.path(), "esc.bin", &[("esc.bin", 40_000)], 16 * 1024);
    let raw = std::fs::read(&t).expect("torrent");
    let mut meta = Owned::from(&bencode::decode(&raw).expect("decode"));
    meta.insert("announce", tracker.url());
    std::fs::write(&t, meta.encode()).expect("rewrite torrent");

    let daemon = Daemon::start(&tmp.path().join("d"), None);
    let out = daemon.cli(&["add", s(&t), "--dir", s(&tmp.path().join("src"))]);
    assert!(out.status.success(), "{}", stderr(&out));

    let clean = |what: &str, out: &std::process::Output| {
        for (stream, bytes) in [("stdout", &out.stdout), ("stderr", &out.stderr)] {
            let text = String::from_utf8_lossy(bytes);
            assert!(
                !text.contains(['\x1b', '\u{9b}', '\u{202e}']),
                "{what}: a raw escape reached {stream}: {text:?}"
            );
        }
    };
    // `reannounce` waits for the tracker and reports its refusal.
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let out = daemon.cli(&["reannounce", "1"]);
        clean("reannounce", &out);
        let err = stderr(&out);
        if err.contains("refused the announce") {
            assert!(!out.status.success());
            assert!(
                err.contains("\\x1b[31mX"),
                "escapes not shown visibly: {err}"
            );
            break;
        }
        assert!(Instant::now() < deadline, "no refusal reported: {err}");
        std::thread::sleep(Duration::from_millis(200));
    }
    for cmd in [&["info", "1"][..], &["ls"], &["peers", "1"]] {
        let out = daemon.cli(cmd);
        assert!(out.status.success(), "{cmd:?}: {}", stderr(&out));
        clean(&cmd.join(" "), &out);
    }
}
