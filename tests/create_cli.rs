//! `bidtorrent create` end to end: the real binary, checked against the real `transmission-show`
//! and `mktorrent`. Those tools are required (scripts/test.sh and CI install them); a missing
//! tool fails the test rather than skipping it, so interop is never silently untested.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // tests fail loudly

use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use bidtorrent::engine::magnet::{Magnet, magnet_for};
use bidtorrent::engine::metainfo::Metainfo;

fn bin() -> Command {
    Command::new(env!("CARGO_BIN_EXE_bidtorrent"))
}

fn tool(name: &str) -> Command {
    let found = std::env::var_os("PATH")
        .map(|p| std::env::split_paths(&p).any(|d| d.join(name).is_file()))
        .unwrap_or(false);
    assert!(
        found,
        "`{name}` is not installed; the interop tests need it (apt-get install {})",
        if name == "mktorrent" {
            "mktorrent"
        } else {
            "transmission-cli"
        }
    );
    Command::new(name)
}

fn run(cmd: &mut Command) -> Output {
    let out = cmd.output().expect("spawn");
    assert!(
        out.status.success(),
        "{cmd:?} failed: {}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// The hash line our CLI prints.
fn our_hash(o: &Output) -> String {
    stdout(o)
        .lines()
        .find_map(|l| l.strip_prefix("info hash: "))
        .unwrap_or_else(|| panic!("no 'info hash:' line in {:?}", stdout(o)))
        .trim()
        .to_string()
}

/// The hash transmission-show prints ("Hash: …", or "Hash v1: …" in Transmission 4).
fn transmission_hash(torrent: &Path) -> String {
    let o = run(tool("transmission-show").arg(torrent));
    stdout(&o)
        .lines()
        .find_map(|l| {
            let l = l.trim();
            l.strip_prefix("Hash v1:")
                .or_else(|| l.strip_prefix("Hash:"))
        })
        .unwrap_or_else(|| panic!("transmission-show printed no hash: {}", stdout(&o)))
        .trim()
        .to_string()
}

/// A tree with nested dirs, a zero-length file, spaces and unicode in names.
fn odd_tree(root: &Path) {
    fs::create_dir_all(root.join("sub dir/tiefer ü")).unwrap();
    fs::create_dir_all(root.join("empty-dir-is-ignored")).unwrap();
    fs::write(root.join("a file.txt"), b"hello world\n".repeat(3000)).unwrap();
    fs::write(root.join("zero"), b"").unwrap();
    fs::write(root.join("sub dir/日本語.bin"), pseudo_random(70_000, 1)).unwrap();
    fs::write(root.join("sub dir/tiefer ü/x"), pseudo_random(123_457, 2)).unwrap();
}

fn pseudo_random(len: usize, seed: u64) -> Vec<u8> {
    let mut x = seed.wrapping_mul(0x9e37_79b9_7f4a_7c15) | 1;
    (0..len)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x as u8
        })
        .collect()
}

fn create(src: &Path, out: &Path, extra: &[&str]) -> Output {
    run(bin().arg("create").arg(src).arg("-o").arg(out).args(extra))
}

#[test]
fn single_file_round_trip() {
    let dir = tempfile::tempdir().unwrap();
    let src = dir.path().join("data.bin");
    fs::write(&src, pseudo_random(1_000_000, 3)).unwrap();
    let out = dir.path().join("data.torrent");
    let o = create(
        &src,
        &out,
        &[
            "--tracker",
            "http://127.0.0.1:6969/announce",
            "--tracker",
            "udp://127.0.0.1:6969",
            "--piece-size",
            "64K",
            "--comment",
            "made in a test",
            "--private",
        ],
    );
    let m = Metainfo::from_file(&out).unwrap();
    assert_eq!(our_hash(&o), m.info_hash.to_hex());
    assert_eq!(m.info.name, "data.bin");
    assert_eq!(m.info.total_length, 1_000_000);
    assert_eq!(m.info.piece_length, 65536);
    assert_eq!(m.info.pieces.len(), 16);
    assert!(m.info.private);
    assert_eq!(m.comment.as_deref(), Some("made in a test"));
    assert!(m.creation_date.is_some());
    assert_eq!(
        m.announce_tiers,
        vec![
            vec!["http://127.0.0.1:6969/announce"],
            vec!["udp://127.0.0.1:6969"]
        ]
    );
    // Progress goes to stderr, the result to stdout.
    assert!(stderr(&o).contains("100%"), "{}", stderr(&o));
}

#[test]
fn multi_file_accepted_by_transmission() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("My Torrent ✓");
    odd_tree(&root);
    let out = dir.path().join("t.torrent");
    let o = create(
        &root,
        &out,
        &["-t", "http://127.0.0.1:1/announce", "--no-date", "-q"],
    );
    assert_eq!(stderr(&o), "", "-q must silence progress");
    let ours = our_hash(&o);
    assert_eq!(transmission_hash(&out), ours);

    let m = Metainfo::from_file(&out).unwrap();
    assert_eq!(m.creation_date, None);
    let paths: Vec<String> = m.info.files.iter().map(|f| f.path.join("/")).collect();
    assert_eq!(
        paths,
        [
            "a file.txt",
            "sub dir/tiefer ü/x",
            "sub dir/日本語.bin",
            "zero"
        ]
    );
    assert_eq!(m.info.files[3].length, 0);

    // transmission-show lists every file, the odd names intact.
    let listing = stdout(&run(tool("transmission-show").arg(&out)));
    for p in &paths {
        assert!(
            listing.contains(&format!("My Torrent ✓/{p}")),
            "{p} missing from\n{listing}"
        );
    }
    // Its magnet link names the same torrent as ours.
    let tmag = stdout(&run(tool("transmission-show").arg("-m").arg(&out)));
    let tmag = Magnet::parse(tmag.trim()).unwrap();
    let omag = Magnet::parse(&magnet_for(&m)).unwrap();
    assert_eq!(tmag.info_hash, omag.info_hash);
    assert_eq!(tmag.display_name, omag.display_name);
    assert_eq!(tmag.trackers, omag.trackers);

    // Same tree, same options: byte-identical output.
    let out2 = dir.path().join("t2.torrent");
    create(
        &root,
        &out2,
        &["-t", "http://127.0.0.1:1/announce", "--no-date", "-q"],
    );
    assert_eq!(fs::read(&out).unwrap(), fs::read(&out2).unwrap());
}

#[test]
fn mktorrent_output_parses_with_the_same_hash() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("tree");
    odd_tree(&root);
    let mk = dir.path().join("mk.torrent");
    // -l 16: 64 KiB pieces, so pieces straddle file boundaries.
    run(tool("mktorrent")
        .args(["-l", "16", "-a", "http://127.0.0.1:1/announce", "-o"])
        .arg(&mk)
        .arg(&root));
    let m = Metainfo::from_file(&mk).unwrap();
    assert_eq!(m.info_hash.to_hex(), transmission_hash(&mk));
    assert_eq!(m.info.total_length, 36_000 + 70_000 + 123_457);
    assert!(m.info.files.iter().any(|f| f.length == 0));

    // With the same piece size and no optional info keys, our info dict is the same, so the
    // info-hash is too (file order agrees here because no name is a prefix of a sibling's).
    let ours = dir.path().join("ours.torrent");
    let o = create(
        &root,
        &ours,
        &[
            "--piece-size",
            "65536",
            "-t",
            "http://127.0.0.1:1/announce",
            "-q",
        ],
    );
    assert_eq!(our_hash(&o), m.info_hash.to_hex());
}

#[test]
fn bad_piece_sizes_are_rejected() {
    let dir = tempfile::tempdir().unwrap();
    let src = dir.path().join("f");
    fs::write(&src, b"data").unwrap();
    for (size, want) in [
        ("3000", "not a power of two"),
        ("8K", "below the minimum of 16 KiB"),
        ("1G", "expected a number"),
        ("128M", "above the maximum"),
        ("big", "expected a number"),
    ] {
        let out = dir.path().join(format!("{size}.torrent"));
        let o = bin()
            .arg("create")
            .arg(&src)
            .arg("-o")
            .arg(&out)
            .args(["--piece-size", size])
            .output()
            .unwrap();
        assert!(!o.status.success(), "{size} accepted");
        let err = stderr(&o);
        assert!(
            err.contains(want) && err.contains("--piece-size"),
            "{size}: {err}"
        );
        assert!(!out.exists());
    }
}

#[test]
fn refuses_to_overwrite_without_force() {
    let dir = tempfile::tempdir().unwrap();
    let src = dir.path().join("f");
    fs::write(&src, b"data").unwrap();
    let out = dir.path().join("exists.torrent");
    fs::write(&out, b"precious").unwrap();
    let o = bin()
        .arg("create")
        .arg(&src)
        .arg("-o")
        .arg(&out)
        .output()
        .unwrap();
    assert!(!o.status.success());
    assert!(stderr(&o).contains("already exists"), "{}", stderr(&o));
    assert!(stderr(&o).contains("exists.torrent"), "{}", stderr(&o));
    assert_eq!(fs::read(&out).unwrap(), b"precious");

    create(&src, &out, &["--force", "-q"]);
    assert!(Metainfo::from_file(&out).is_ok());
    // No temp file left behind.
    let names: Vec<PathBuf> = fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    assert_eq!(names.len(), 2, "{names:?}");
}

#[test]
fn errors_name_the_path() {
    let dir = tempfile::tempdir().unwrap();
    let empty = dir.path().join("nothing here");
    fs::create_dir(&empty).unwrap();
    let out = dir.path().join("o.torrent");
    for (src, want) in [
        (empty.clone(), "contains no files"),
        (dir.path().join("missing"), "cannot read"),
    ] {
        let o = bin()
            .arg("create")
            .arg(&src)
            .arg("-o")
            .arg(&out)
            .output()
            .unwrap();
        assert!(!o.status.success());
        let err = stderr(&o);
        assert!(
            err.contains(want) && err.contains(&*src.to_string_lossy()),
            "{err}"
        );
        assert_eq!(err.trim().lines().count(), 1, "one line: {err}");
        assert!(!out.exists());
    }
    let o = bin()
        .arg("create")
        .arg(dir.path())
        .arg("-o")
        .arg(&out)
        .args(["-t", "not a url"])
        .output()
        .unwrap();
    assert!(!o.status.success());
    assert!(stderr(&o).contains("not a url"), "{}", stderr(&o));
}
