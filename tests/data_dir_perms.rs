//! Data dirs are owner-only whoever creates them (issue 17: a data dir first made by
//! `download` or `seed` was 0755, and another local user could read session.json and the
//! .torrent copies).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // tests fail loudly

mod engine_util;

use std::os::unix::fs::PermissionsExt;
use std::process::Command;

use engine_util::*;

fn mode(p: &std::path::Path) -> u32 {
    std::fs::metadata(p).expect("stat").permissions().mode() & 0o777
}

#[test]
fn data_dirs_made_by_download_and_seed_are_owner_only() {
    let tmp = tempfile::tempdir().expect("tempdir");
    // The temporary dir itself is 0700; open it (and /tmp's parents are) so that only the
    // data dirs' own modes stand between another user and their contents.
    std::fs::set_permissions(tmp.path(), std::fs::Permissions::from_mode(0o755)).expect("chmod");
    let t = make_torrent(tmp.path(), "p.bin", &[("p.bin", 100_000)], 16 * 1024);
    let mut seeder = Bt::seed(tmp.path(), &t, &tmp.path().join("src"));
    let peer = format!("127.0.0.1:{}", seeder.port());
    let out = Bt::download(tmp.path(), &t, &tmp.path().join("dl"), &[&peer], &[]);
    assert!(out.status.success(), "{}", out.stderr);

    for state in ["state-dl", "state-seed"] {
        let dir = tmp.path().join(state);
        assert_eq!(mode(&dir), 0o700, "{state} is {:o}", mode(&dir));
    }

    // As root, ask another user. `nobody` can reach tmp (0755) but must not list the dir.
    // SAFETY: geteuid has no preconditions.
    if unsafe { libc::geteuid() } == 0 {
        let dl = tmp.path().join("state-dl");
        let ls = Command::new("runuser")
            .args(["-u", "nobody", "--", "ls", s(&dl)])
            .output()
            .expect("runuser");
        assert!(
            !ls.status.success(),
            "nobody listed {}: {}",
            dl.display(),
            String::from_utf8_lossy(&ls.stdout)
        );
        let reach = Command::new("runuser")
            .args(["-u", "nobody", "--", "ls", s(tmp.path())])
            .output()
            .expect("runuser");
        assert!(
            reach.status.success(),
            "the check itself is void: nobody cannot reach tmp"
        );
    } else {
        eprintln!("not root: checked the mode bits only");
    }
}
