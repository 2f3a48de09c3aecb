//! The rooms of the house and their doors, kept by a test: fails when a module imports across
//! a forbidden line (README, "How the code is laid out").
//!
//! - the engine knows nothing above it: only `crate::engine` and `crate::bencode`;
//! - the wallet is a leaf: none of cli, rpc, config, engine, market, tui, demo;
//! - the market plugs into the engine's doors and pays through the wallet: none of tui, rpc,
//!   cli, demo, config, nor the engine's `Torrent`, session or peer internals;
//! - the dashboard sees only the controller's door and types: none of engine, cli, demo,
//!   config, the controller's insides (`rpc::{controller, host, server, view}`) or the wallet's
//!   store;
//! - bencode and units are leaves.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // tests fail loudly

use std::path::{Path, PathBuf};

/// Every `crate::…` path named in `src`, as the segments after `crate::`, with brace groups
/// expanded (`crate::a::{b::c, d}` gives `a::b::c` and `a::d`).
fn crate_paths(src: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut rest = src;
    while let Some(i) = rest.find("crate::") {
        // `bidtorrent_crate::` or `$crate::` are not ours.
        let before = rest[..i].chars().last();
        rest = &rest[i + "crate::".len()..];
        if before.is_some_and(|c| c.is_alphanumeric() || c == '_' || c == '$') {
            continue;
        }
        expand("", rest, &mut out);
    }
    out
}

/// Reads one use-tree at the start of `text` (after `prefix::`) into `out`; returns how many
/// bytes it took.
fn expand(prefix: &str, text: &str, out: &mut Vec<String>) -> usize {
    let join = |p: &str, s: &str| {
        if p.is_empty() {
            s.to_string()
        } else if s.is_empty() {
            p.to_string()
        } else {
            format!("{p}::{s}")
        }
    };
    let path: String = text
        .chars()
        .take_while(|c| c.is_alphanumeric() || *c == '_' || *c == ':')
        .collect();
    let mut used = path.len();
    let stem = path.trim_end_matches(':');
    let full = join(prefix, stem);
    if (path.is_empty() || path.ends_with("::")) && text[used..].starts_with('{') {
        used += 1;
        loop {
            let rest = &text[used..];
            let trimmed = rest.trim_start();
            used += rest.len() - trimmed.len();
            if trimmed.starts_with('}') || trimmed.is_empty() {
                return used + 1;
            }
            used += expand(&full, trimmed, out);
            let rest = &text[used..];
            let trimmed = rest.trim_start();
            used += rest.len() - trimmed.len();
            match trimmed.chars().next() {
                Some(',') => used += 1,
                Some('}') | None => return used + 1,
                // `self`, `*` or `as` renames: skip to the next separator.
                Some(_) => {
                    let skip = trimmed.find([',', '}']).unwrap_or(trimmed.len());
                    used += skip;
                }
            }
        }
    }
    out.push(full);
    used
}

fn rust_files(dir: &Path) -> Vec<PathBuf> {
    let mut files = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).unwrap() {
            let p = e.unwrap().path();
            if p.is_dir() {
                stack.push(p);
            } else if p.extension().is_some_and(|x| x == "rs") {
                files.push(p);
            }
        }
    }
    files.sort();
    files
}

/// The room a source file lives in: its first folder under src/, or its file stem.
fn room(file: &Path, src: &Path) -> String {
    let rel = file.strip_prefix(src).unwrap();
    let first = rel
        .components()
        .next()
        .unwrap()
        .as_os_str()
        .to_string_lossy();
    first.trim_end_matches(".rs").to_string()
}

/// Which `crate::` paths a room may not name: a path is refused when it starts with one of
/// the prefixes given (segment-wise).
fn forbidden(room: &str) -> Option<(&'static [&'static str], bool)> {
    // (prefixes, allow-list): with allow-list = true the prefixes are the only ones allowed.
    match room {
        "engine" => Some((&["engine", "bencode"], true)),
        "bencode" | "units" => Some((&[], true)),
        "wallet" => Some((
            &["cli", "rpc", "config", "engine", "market", "tui", "demo"],
            false,
        )),
        // The market reaches a torrent only through the extension door's handle.
        "market" => Some((
            &[
                "tui",
                "rpc",
                "cli",
                "demo",
                "config",
                "engine::torrent::Torrent",
                "engine::session",
                "engine::peer",
            ],
            false,
        )),
        "tui" => Some((
            &[
                "engine",
                "cli",
                "demo",
                "config",
                "rpc::controller",
                "rpc::host",
                "rpc::server",
                "rpc::view",
                "rpc::Controller",
                "wallet::store",
                "wallet::Wallet",
                "wallet::ledger",
            ],
            false,
        )),
        _ => None,
    }
}

fn starts_with_segments(path: &str, prefix: &str) -> bool {
    path == prefix || path.starts_with(&format!("{prefix}::"))
}

fn violations(src: &Path) -> Vec<String> {
    let mut bad = Vec::new();
    for file in rust_files(src) {
        let r = room(&file, src);
        let Some((prefixes, allow_list)) = forbidden(&r) else {
            continue;
        };
        let text = std::fs::read_to_string(&file).unwrap();
        for path in crate_paths(&text) {
            let hit = prefixes.iter().any(|p| starts_with_segments(&path, p));
            let refused = if allow_list {
                // A room may always name itself.
                !hit && !starts_with_segments(&path, &r)
            } else {
                hit
            };
            if refused {
                bad.push(format!(
                    "{} ({r}) names crate::{path}",
                    file.strip_prefix(src).unwrap().display()
                ));
            }
        }
    }
    bad
}

#[test]
fn no_room_imports_across_a_forbidden_line() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let bad = violations(&src);
    assert!(
        bad.is_empty(),
        "imports across the house's lines:\n{}",
        bad.join("\n")
    );
}

/// The checker itself catches each kind of crossing (so a green run means something).
#[test]
fn the_checker_catches_crossings() {
    let tmp = tempfile::tempdir().unwrap();
    let src = tmp.path();
    let write = |rel: &str, text: &str| {
        let p = src.join(rel);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(p, text).unwrap();
    };
    write(
        "engine/a.rs",
        "use crate::bencode::Value;\nuse crate::engine::x;\n",
    );
    write("wallet/b.rs", "use crate::units::to_hex;\n");
    write(
        "tui/c.rs",
        "use crate::rpc::control::Control;\nuse crate::rpc::proto;\n",
    );
    assert!(violations(src).is_empty(), "{:?}", violations(src));
    write("engine/d.rs", "fn f() { crate::market::Market::new(); }\n");
    write(
        "wallet/e.rs",
        "use crate::{units::bytes, cli::GlobalArgs};\n",
    );
    write(
        "tui/f.rs",
        "use crate::rpc::{proto, controller::Controller};\n",
    );
    write("tui/g.rs", "use crate::wallet::Wallet;\n");
    write("market/h.rs", "use crate::tui::App;\n");
    write(
        "market/i.rs",
        "use crate::engine::torrent::{TorrentStats, Torrent};\nuse crate::engine::extension::TorrentHandle;\n",
    );
    let v = violations(src);
    assert_eq!(v.len(), 6, "{v:#?}");
    for needle in [
        "market::Market",
        "cli::GlobalArgs",
        "controller::Controller",
        "wallet::Wallet",
        "tui::App",
        "(market) names crate::engine::torrent::Torrent",
    ] {
        assert!(
            v.iter().any(|l| l.contains(needle)),
            "{needle} not caught: {v:#?}"
        );
    }
}
