//! `bidtorrent create`: a .torrent from a file or directory.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::Args;

#[derive(Debug, Args)]
pub struct CreateArgs {
    /// File or directory to share
    #[arg(value_name = "PATH")]
    pub path: PathBuf,
    /// Where to write the .torrent
    #[arg(short, long, value_name = "OUT.torrent")]
    pub output: PathBuf,
    /// Tracker announce URL; repeat for more, each becomes its own tier (BEP 12)
    #[arg(short, long = "tracker", value_name = "URL")]
    pub trackers: Vec<String>,
    /// Piece size in bytes or with K/M (16K, 1M); a power of two from 16 KiB to 64 MiB
    /// [default: chosen for about 1000-2000 pieces]
    #[arg(long, value_name = "N", value_parser = parse_piece_size_arg)]
    pub piece_size: Option<u64>,
    /// Mark the torrent private (BEP 27): peers only from its trackers, no DHT or PEX
    #[arg(long)]
    pub private: bool,
    /// Free-text comment stored in the torrent
    #[arg(long, value_name = "TEXT")]
    pub comment: Option<String>,
    /// Name of the torrent (default: the file or directory name)
    #[arg(long, value_name = "NAME")]
    pub name: Option<String>,
    /// Leave out the creation date, so the same input always gives the same file
    #[arg(long)]
    pub no_date: bool,
    /// Make a BitTorrent v2-only torrent (BEP 52); clients without v2 support cannot read it
    #[arg(long, conflicts_with = "hybrid")]
    pub v2: bool,
    /// Make a hybrid torrent: v1 and v2 in one file, readable by every client (BEP 52)
    #[arg(long)]
    pub hybrid: bool,
    /// Web seed: an HTTP(S) URL serving the same files; repeat for more (BEP 19 url-list)
    #[arg(long = "web-seed", value_name = "URL")]
    pub web_seeds: Vec<String>,
    /// Overwrite OUT if it exists
    #[arg(long)]
    pub force: bool,
    /// Set from the global -q: no progress output
    #[arg(skip)]
    pub quiet: bool,
}

fn parse_piece_size_arg(s: &str) -> Result<u64, String> {
    crate::engine::create::parse_piece_size(s).map_err(|e| e.to_string())
}

pub fn run_create(args: CreateArgs) -> anyhow::Result<ExitCode> {
    use std::io::{IsTerminal, Write};

    use anyhow::Context;

    use crate::engine::create::{CreateOptions, TorrentVersion, create_torrent};
    use crate::engine::metainfo::Metainfo;

    // Checked up front so a long hash is not wasted; the write below re-checks atomically.
    if !args.force && args.output.exists() {
        anyhow::bail!(
            "{}: already exists (use --force to overwrite)",
            args.output.display()
        );
    }
    let creation_date = if args.no_date {
        None
    } else {
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .ok()
            .and_then(|d| i64::try_from(d.as_secs()).ok())
    };
    let opts = CreateOptions {
        trackers: args.trackers.iter().map(|t| vec![t.clone()]).collect(),
        piece_length: args.piece_size,
        private: args.private,
        comment: args.comment.clone(),
        name: args.name.clone(),
        creation_date,
        version: if args.v2 {
            TorrentVersion::V2
        } else if args.hybrid {
            TorrentVersion::Hybrid
        } else {
            TorrentVersion::V1
        },
        web_seeds: args.web_seeds.clone(),
        ..CreateOptions::default()
    };

    let tty = std::io::stderr().is_terminal();
    let mut last_pct = None;
    let progress = |done: u64, total: u64| {
        if args.quiet {
            return;
        }
        let pct = done.saturating_mul(100).checked_div(total).unwrap_or(100);
        // On a terminal redraw one line; in a log print every 10 % so it stays short.
        let step = if tty { 1 } else { 10 };
        if last_pct.is_some_and(|l: u64| pct / step == l / step) {
            return;
        }
        last_pct = Some(pct);
        let mut err = std::io::stderr().lock();
        let _ = if tty {
            write!(err, "\rhashing {}: {pct:3}%", args.path.display())
        } else {
            writeln!(err, "hashing {}: {pct:3}%", args.path.display())
        };
    };
    // Symlinks and special files are skipped with a tracing warning; show those on stderr even
    // before the application-wide logger exists, but only for this call.
    let subscriber = tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .without_time()
        .with_target(false)
        .with_ansi(tty)
        .with_max_level(if args.quiet {
            tracing::Level::ERROR
        } else {
            tracing::Level::WARN
        })
        .finish();
    let result = tracing::subscriber::with_default(subscriber, || {
        create_torrent(&args.path, &opts, progress)
    });
    if tty && !args.quiet && last_pct.is_some() {
        eprintln!();
    }
    let bytes = result?;
    let meta = Metainfo::from_bytes(&bytes)
        .context("internal error: the torrent just made does not parse")?;

    write_output(&args.output, &bytes, args.force)
        .with_context(|| format!("cannot write {}", args.output.display()))?;
    outln!("info hash: {}", meta.info_hash);
    if let Some(v2) = meta.info_hash_v2 {
        outln!("info hash v2: {}", crate::engine::types::hex(&v2));
    }
    Ok(ExitCode::SUCCESS)
}

/// Without `force`, `create_new` refuses an OUT that appeared while hashing. With `force`,
/// write a sibling temp file and rename it over OUT, so a failure never leaves a truncated
/// file where a good one was.
fn write_output(out: &std::path::Path, bytes: &[u8], force: bool) -> anyhow::Result<()> {
    use std::io::Write;
    let write_new = |path: &std::path::Path| -> std::io::Result<()> {
        let mut f = std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(path)?;
        let r = f.write_all(bytes).and_then(|()| f.sync_all());
        if r.is_err() {
            // A half-written .torrent is worse than none.
            let _ = std::fs::remove_file(path);
        }
        r
    };
    if !force {
        return write_new(out).map_err(|e| match e.kind() {
            std::io::ErrorKind::AlreadyExists => {
                anyhow::anyhow!("already exists (use --force to overwrite)")
            }
            _ => e.into(),
        });
    }
    let file_name = out
        .file_name()
        .ok_or_else(|| anyhow::anyhow!("not a file path"))?;
    let mut tmp_name = std::ffi::OsString::from(".");
    tmp_name.push(file_name);
    tmp_name.push(format!(".{}.tmp", std::process::id()));
    let tmp = out.with_file_name(tmp_name);
    write_new(&tmp)?;
    std::fs::rename(&tmp, out).inspect_err(|_| {
        let _ = std::fs::remove_file(&tmp);
    })?;
    Ok(())
}
