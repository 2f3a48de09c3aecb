//! The client commands (`add`, `ls`, `info`, `peers`, `pause`, `resume`, `rm`, `recheck`,
//! `reannounce`, `limit`) and `config`: talk to the daemon over the control socket and print
//! human lines, or with `--json` the documented shapes of RPC.md.
//!
//! Batch commands attempt every item; each failure is one line on stderr naming the item and
//! why, and the exit code is 1 when any item failed.

use std::io::{BufRead, IsTerminal, Write};
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use anyhow::Context;
use clap::{Args, Subcommand};

use crate::cli::{GlobalArgs, parse_size};
use crate::rpc::Client;
use crate::rpc::proto::{
    AddArgs as AddReq, BatchResult, Command, ItemResult, LimitArgs as LimitReq, Limits, PeerList,
    Targets, TorrentInfo, TorrentSummary,
};

#[derive(Debug, Args)]
pub struct OutputArgs {
    /// Print JSON on stdout (stable field names, see RPC.md)
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args)]
pub struct AddArgs {
    /// .torrent files, magnet links, or `-` to read one per line from stdin
    #[arg(required = true, value_name = "SRC")]
    pub sources: Vec<String>,
    /// Download directory (default: the config's download_dir)
    #[arg(long, short = 'd', value_name = "D")]
    pub dir: Option<PathBuf>,
    /// Add without starting
    #[arg(long)]
    pub paused: bool,
    /// Download pieces in order (for streaming)
    #[arg(long)]
    pub sequential: bool,
    /// Also dial this peer directly, IP:PORT (repeatable)
    #[arg(long = "peer", value_name = "ADDR")]
    pub peers: Vec<String>,
    /// Show progress bars until the added torrents are complete
    #[arg(long)]
    pub wait: bool,
    #[command(flatten)]
    pub out: OutputArgs,
}

#[derive(Debug, Args)]
pub struct OneArgs {
    /// Torrent id or info-hash prefix (8+ hex digits)
    #[arg(value_name = "ID")]
    pub torrent: String,
    #[command(flatten)]
    pub out: OutputArgs,
}

#[derive(Debug, Args)]
pub struct TargetArgs {
    /// Torrent ids or info-hash prefixes (8+ hex digits)
    #[arg(value_name = "ID", required_unless_present = "all")]
    pub torrents: Vec<String>,
    /// Every torrent of the daemon
    #[arg(long, conflicts_with = "torrents")]
    pub all: bool,
    #[command(flatten)]
    pub out: OutputArgs,
}

#[derive(Debug, Args)]
pub struct RmArgs {
    #[command(flatten)]
    pub targets: TargetArgs,
    /// Also delete the downloaded files
    #[arg(long)]
    pub delete_data: bool,
}

#[derive(Debug, Args)]
pub struct LimitArgs {
    /// Torrent id or info-hash prefix; without it the global limits
    #[arg(value_name = "ID")]
    pub torrent: Option<String>,
    /// Download rate, e.g. 10M or 512K; 0 = unlimited
    #[arg(long, value_name = "RATE", value_parser = parse_size)]
    pub down: Option<u64>,
    /// Upload rate, e.g. 1M; 0 = unlimited
    #[arg(long, value_name = "RATE", value_parser = parse_size)]
    pub up: Option<u64>,
    #[command(flatten)]
    pub out: OutputArgs,
}

#[derive(Debug, Args)]
pub struct ConfigArgs {
    #[command(subcommand)]
    pub command: ConfigCommand,
}

#[derive(Debug, Subcommand)]
pub enum ConfigCommand {
    /// Print the path of the configuration file in use
    Path,
    /// Print the full default configuration, every key commented
    Default,
    /// Validate the configuration file; errors name the key and the line
    Check,
}

fn connect(global: &GlobalArgs) -> anyhow::Result<Client> {
    Ok(Client::connect(&global.socket_path()?)?)
}

fn print_json<T: serde::Serialize>(v: &T) -> anyhow::Result<()> {
    let mut out = std::io::stdout().lock();
    serde_json::to_writer_pretty(&mut out, v)?;
    writeln!(out)?;
    Ok(())
}

/// Reports a batch: successes on stdout, one stderr line per failure; exit 1 if any failed.
fn report(verb: &str, past: &str, r: &BatchResult, json: bool, quiet: bool) -> ExitCode {
    if json {
        let _ = print_json(r);
    }
    let mut failed = false;
    for item in &r.results {
        if item.ok {
            if !json && !quiet {
                let note = item
                    .message
                    .as_deref()
                    .map(|m| format!(" ({m})"))
                    .unwrap_or_default();
                println!("{past} {}{note}", describe(item));
            }
        } else {
            failed = true;
            eprintln!(
                "bidtorrent: {verb}: {}: {}",
                if item.item.is_empty() {
                    "-"
                } else {
                    &item.item
                },
                item.message.as_deref().unwrap_or("failed")
            );
        }
    }
    if failed {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    }
}

fn describe(item: &ItemResult) -> String {
    format!(
        "#{} {} ({})",
        item.id.unwrap_or(0),
        item.name.as_deref().unwrap_or("?"),
        item.info_hash
            .as_deref()
            .map_or("", |h| &h[..h.len().min(8)])
    )
}

/// `add`: sources are made absolute here (the daemon has its own working directory), `-`
/// expands to stdin's lines.
pub fn add(global: &GlobalArgs, args: AddArgs) -> anyhow::Result<ExitCode> {
    let mut given = Vec::new();
    for src in &args.sources {
        if src == "-" {
            for line in std::io::stdin().lock().lines() {
                let line = line.context("reading sources from stdin")?;
                let t = line.trim();
                if !t.is_empty() && !t.starts_with('#') {
                    given.push(t.to_string());
                }
            }
        } else {
            given.push(src.clone());
        }
    }
    let sent: Vec<String> = given
        .iter()
        .map(|s| {
            if s.starts_with("magnet:") {
                s.clone()
            } else {
                std::path::absolute(s)
                    .map(|p| p.display().to_string())
                    .unwrap_or_else(|_| s.clone())
            }
        })
        .collect();
    let dir = match &args.dir {
        Some(d) => Some(
            std::path::absolute(d)
                .with_context(|| d.display().to_string())?
                .display()
                .to_string(),
        ),
        None => None,
    };
    let mut client = connect(global)?;
    let mut all = BatchResult::default();
    // Chunks keep each request and reply small for very long lists.
    for (chunk, names) in sent.chunks(64).zip(given.chunks(64)) {
        let mut r: BatchResult = client.call(Command::Add(AddReq {
            sources: chunk.to_vec(),
            dir: dir.clone(),
            paused: args.paused,
            sequential: args.sequential,
            peers: args.peers.clone(),
        }))?;
        // Report items as the user wrote them.
        for (item, name) in r.results.iter_mut().zip(names) {
            item.item = name.clone();
        }
        all.results.extend(r.results);
    }
    let code = report("add", "added", &all, args.out.json, global.quiet);
    if args.wait {
        let ids: Vec<u32> = all.results.iter().filter_map(|r| r.id).collect();
        let waited = wait_for(&mut client, &ids, global.quiet || args.out.json)?;
        if waited != ExitCode::SUCCESS {
            return Ok(waited);
        }
    }
    Ok(code)
}

/// Progress bars until every torrent in `ids` is complete; fails when one errors or is
/// removed meanwhile.
fn wait_for(client: &mut Client, ids: &[u32], hidden: bool) -> anyhow::Result<ExitCode> {
    use indicatif::{MultiProgress, ProgressBar, ProgressDrawTarget, ProgressStyle};
    let multi = MultiProgress::with_draw_target(if hidden || !std::io::stderr().is_terminal() {
        ProgressDrawTarget::hidden()
    } else {
        ProgressDrawTarget::stderr()
    });
    let style = ProgressStyle::with_template(
        "{prefix:>4} {msg:30!} [{bar:30}] {bytes}/{total_bytes} {binary_bytes_per_sec} eta {eta}",
    )
    .unwrap_or_else(|_| ProgressStyle::default_bar())
    .progress_chars("=> ");
    let bars: Vec<(u32, ProgressBar)> = ids
        .iter()
        .map(|&id| {
            let b = multi.add(ProgressBar::new(0));
            b.set_style(style.clone());
            b.set_prefix(format!("#{id}"));
            (id, b)
        })
        .collect();
    let mut failed = false;
    loop {
        let list: Vec<TorrentSummary> = client.call(Command::List)?;
        let mut pending = 0;
        for (id, bar) in &bars {
            if bar.is_finished() {
                continue;
            }
            let Some(t) = list.iter().find(|t| t.id == *id) else {
                bar.abandon_with_message("removed");
                let _ = multi.println(format!("bidtorrent: #{id}: removed while waiting"));
                failed = true;
                continue;
            };
            bar.set_message(t.name.clone());
            bar.set_length(t.total_bytes);
            bar.set_position(t.total_bytes - t.left_bytes);
            if t.phase == "error" {
                bar.abandon();
                eprintln!(
                    "bidtorrent: #{id} {}: {}",
                    t.name,
                    t.error.as_deref().unwrap_or("error")
                );
                failed = true;
            } else if t.left_bytes == 0 && t.phase != "checking" {
                bar.finish();
            } else {
                pending += 1;
            }
        }
        if pending == 0 {
            break;
        }
        std::thread::sleep(Duration::from_millis(500));
    }
    Ok(if failed {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    })
}

pub fn ls(global: &GlobalArgs, out: OutputArgs) -> anyhow::Result<ExitCode> {
    let list: Vec<TorrentSummary> = connect(global)?.call(Command::List)?;
    if out.json {
        print_json(&list)?;
        return Ok(ExitCode::SUCCESS);
    }
    println!(
        "{:>4}  {:<11} {:>6}  {:>9}  {:>10}  {:>10}  {:>5}  NAME",
        "ID", "STATE", "DONE", "SIZE", "DOWN", "UP", "PEERS"
    );
    for t in &list {
        println!(
            "{:>4}  {:<11} {:>5.1}%  {:>9}  {:>10}  {:>10}  {:>5}  {}",
            t.id,
            t.phase,
            t.progress * 100.0,
            human_bytes(t.total_bytes),
            human_rate(t.down_rate),
            human_rate(t.up_rate),
            t.peers,
            t.name
        );
    }
    Ok(ExitCode::SUCCESS)
}

pub fn info(global: &GlobalArgs, a: OneArgs) -> anyhow::Result<ExitCode> {
    let t: TorrentInfo = connect(global)?.call(Command::Info { torrent: a.torrent })?;
    if a.out.json {
        print_json(&t)?;
        return Ok(ExitCode::SUCCESS);
    }
    let s = &t.summary;
    println!("#{} {}", s.id, s.name);
    println!("  info-hash   {}", s.info_hash);
    println!(
        "  state       {}{}",
        s.phase,
        s.error
            .as_deref()
            .map(|e| format!(" ({e})"))
            .unwrap_or_default()
    );
    println!(
        "  progress    {:.1}% ({} of {} pieces, {} left of {})",
        s.progress * 100.0,
        s.have_pieces,
        s.num_pieces,
        human_bytes(s.left_bytes),
        human_bytes(s.total_bytes)
    );
    println!(
        "  transfer    down {} ({}), up {} ({}), {} peers",
        human_bytes(s.downloaded),
        human_rate(s.down_rate),
        human_bytes(s.uploaded),
        human_rate(s.up_rate),
        s.peers
    );
    println!(
        "  limits      down {}, up {}",
        human_limit(s.down_limit),
        human_limit(s.up_limit)
    );
    println!("  directory   {}", s.download_dir);
    println!(
        "  pieces      {} × {}{}",
        s.num_pieces,
        human_bytes(t.piece_length),
        if t.private { ", private" } else { "" }
    );
    if let Some(c) = &t.comment {
        println!("  comment     {c}");
    }
    println!("  trackers");
    for (i, tier) in t.trackers.iter().enumerate() {
        for url in tier {
            println!("    tier {i}  {url}");
        }
    }
    println!("  files");
    for f in &t.files {
        println!("    {:>9}  {}", human_bytes(f.length), f.path);
    }
    Ok(ExitCode::SUCCESS)
}

pub fn peers(global: &GlobalArgs, a: OneArgs) -> anyhow::Result<ExitCode> {
    let p: PeerList = connect(global)?.call(Command::Peers { torrent: a.torrent })?;
    if a.out.json {
        print_json(&p)?;
        return Ok(ExitCode::SUCCESS);
    }
    println!(
        "{:<22} {:<5} {:>6}  {:>10}  {:>10}  CLIENT",
        "ADDRESS", "FLAGS", "HAS", "DOWN", "UP"
    );
    for x in &p.peers {
        let flags: String = [
            (x.outgoing, 'O'),
            (!x.peer_choking, 'D'),
            (!x.am_choking, 'U'),
            (x.am_interested, 'i'),
            (x.peer_interested, 'I'),
        ]
        .iter()
        .map(|&(on, c)| if on { c } else { '.' })
        .collect();
        println!(
            "{:<22} {:<5} {:>5.1}%  {:>10}  {:>10}  {}",
            x.addr,
            flags,
            x.progress * 100.0,
            human_rate(x.down_rate),
            human_rate(x.up_rate),
            x.client
        );
    }
    Ok(ExitCode::SUCCESS)
}

fn targets(t: &TargetArgs) -> Targets {
    Targets {
        torrents: t.torrents.clone(),
        all: t.all,
    }
}

/// `pause`, `resume`, `recheck`, `reannounce`.
pub fn batch(global: &GlobalArgs, verb: &str, t: TargetArgs) -> anyhow::Result<ExitCode> {
    let (cmd, past) = match verb {
        "pause" => (Command::Pause(targets(&t)), "paused"),
        "resume" => (Command::Resume(targets(&t)), "resumed"),
        "recheck" => (Command::Recheck(targets(&t)), "rechecked"),
        _ => (Command::Reannounce(targets(&t)), "reannounced"),
    };
    let r: BatchResult = connect(global)?.call(cmd)?;
    Ok(report(verb, past, &r, t.out.json, global.quiet))
}

pub fn rm(global: &GlobalArgs, a: RmArgs) -> anyhow::Result<ExitCode> {
    let r: BatchResult = connect(global)?.call(Command::Remove {
        targets: targets(&a.targets),
        delete_data: a.delete_data,
    })?;
    Ok(report(
        "rm",
        "removed",
        &r,
        a.targets.out.json,
        global.quiet,
    ))
}

pub fn limit(global: &GlobalArgs, a: LimitArgs) -> anyhow::Result<ExitCode> {
    let l: Limits = connect(global)?.call(Command::Limit(LimitReq {
        torrent: a.torrent,
        down: a.down,
        up: a.up,
    }))?;
    if a.out.json {
        print_json(&l)?;
    } else {
        let scope = if l.scope == "global" {
            "global".to_string()
        } else {
            format!("#{}", l.scope)
        };
        println!(
            "{scope}: down {}, up {}",
            human_limit(l.down),
            human_limit(l.up)
        );
    }
    Ok(ExitCode::SUCCESS)
}

pub fn config(global: &GlobalArgs, a: ConfigArgs) -> anyhow::Result<ExitCode> {
    let path = global.config_path()?;
    match a.command {
        ConfigCommand::Path => println!("{}", path.display()),
        ConfigCommand::Default => print!("{}", crate::config::DEFAULT_FILE),
        ConfigCommand::Check => {
            if global.config.is_none() && !path.exists() {
                println!("{}: not present; the defaults apply", path.display());
                return Ok(ExitCode::SUCCESS);
            }
            crate::config::Config::load(&path, true)?;
            println!("{}: ok", path.display());
        }
    }
    Ok(ExitCode::SUCCESS)
}

fn human_bytes(n: u64) -> String {
    const UNITS: [&str; 5] = ["B", "KiB", "MiB", "GiB", "TiB"];
    let mut v = n as f64;
    let mut u = 0;
    while v >= 1024.0 && u + 1 < UNITS.len() {
        v /= 1024.0;
        u += 1;
    }
    if u == 0 {
        format!("{n} B")
    } else {
        format!("{v:.1} {}", UNITS[u])
    }
}

fn human_rate(r: f64) -> String {
    format!("{}/s", human_bytes(r.max(0.0) as u64))
}

fn human_limit(r: u64) -> String {
    if r == 0 {
        "unlimited".into()
    } else {
        human_rate(r as f64)
    }
}
