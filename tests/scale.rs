//! Big sessions through the real daemon (issue 17): a thousand torrents under the common
//! 1 024-descriptor limit.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // tests fail loudly

mod engine_util;

use std::time::{Duration, Instant};

use engine_util::daemon::{Daemon, stderr};
use engine_util::*;

const TORRENTS: usize = 1000;

/// Open descriptors of process `pid`.
fn fds(pid: u32) -> usize {
    std::fs::read_dir(format!("/proc/{pid}/fd"))
        .map(|d| d.count())
        .unwrap_or(0)
}

/// With RLIMIT_NOFILE at 1 024 (soft and hard) and 1 000 seeding torrents, `recheck --all`
/// put 54 torrents in error ("Too many open files") and left 959 descriptors open. Every
/// torrent must come back seeding, and the cached data files stay within budget.
#[test]
fn a_thousand_torrents_recheck_under_a_1024_descriptor_limit() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let src = tmp.path().join("src");
    let list: String = (0..TORRENTS)
        .map(|i| {
            let name = format!("t{i:04}.bin");
            let t = make_torrent(tmp.path(), &name, &[(&name, 1000 + i)], 16 * 1024);
            format!("{}\n", t.display())
        })
        .collect();
    let daemon = Daemon::start_with_nofile(&tmp.path().join("d"), 1024);
    let started = Instant::now();
    let out = daemon.cli_input(&["add", "-", "--dir", s(&src)], list.as_bytes());
    assert!(out.status.success(), "add: {}", stderr(&out));
    // A figure, not an assertion (issue 17: 11.4 s in a release build when every add
    // rewrote session.json).
    eprintln!("{TORRENTS} adds in {:?}", started.elapsed());

    let wait_all_seeding = |what: &str| {
        let deadline = Instant::now() + Duration::from_secs(300);
        loop {
            let ls = daemon.ls();
            assert_eq!(ls.len(), TORRENTS);
            let errors: Vec<_> = ls.iter().filter(|t| !t["error"].is_null()).collect();
            assert!(
                errors.is_empty(),
                "{what}: {} in error, e.g. {}",
                errors.len(),
                errors[0]
            );
            if ls.iter().all(|t| t["phase"] == "seeding") {
                return;
            }
            assert!(Instant::now() < deadline, "{what}: not all seeding");
            std::thread::sleep(Duration::from_millis(250));
        }
    };
    wait_all_seeding("after add");

    let out = daemon.cli(&["recheck", "--all"]);
    assert!(out.status.success(), "recheck: {}", stderr(&out));
    wait_all_seeding("after recheck");
    let open = fds(daemon.child.id());
    assert!(open < 700, "{open} descriptors open after the recheck");
    eprintln!("{open} descriptors open after rechecking {TORRENTS} torrents");
}
