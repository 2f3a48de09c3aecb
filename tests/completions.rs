//! The committed completions (completions/) and man pages (man/) must match the CLI. After changing the CLI run
//! `BIDTORRENT_UPDATE_COMPLETIONS=1 cargo test --test completions` and commit the result.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // tests fail loudly

use std::path::PathBuf;

use clap_complete::Shell;

#[test]
fn committed_completions_match_the_cli() {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let mut files: Vec<(String, Vec<u8>)> = [
        (Shell::Bash, "bidtorrent.bash"),
        (Shell::Zsh, "bidtorrent.zsh"),
        (Shell::Fish, "bidtorrent.fish"),
    ]
    .into_iter()
    .map(|(sh, name)| {
        (
            format!("completions/{name}"),
            bidtorrent::cli::completions(sh),
        )
    })
    .collect();
    for (name, page) in bidtorrent::cli::man_pages().expect("man pages") {
        files.push((format!("man/{name}"), page));
    }
    let update = std::env::var_os("BIDTORRENT_UPDATE_COMPLETIONS").is_some();
    let mut stale = Vec::new();
    for (name, want) in files {
        let path = root.join(&name);
        if update {
            std::fs::create_dir_all(path.parent().expect("dir")).expect("mkdir");
            std::fs::write(&path, &want).expect("write");
            continue;
        }
        if std::fs::read(&path).ok().as_deref() != Some(&want[..]) {
            stale.push(name);
        }
    }
    assert!(
        stale.is_empty(),
        "{stale:?} differ from the CLI; run \
         BIDTORRENT_UPDATE_COMPLETIONS=1 cargo test --test completions and commit"
    );
}
