//! The client commands (`add`, `ls`, `info`, `peers`, `pause`, `resume`, `rm`, `recheck`,
//! `reannounce`, `limit`) and `config`: talk to the daemon over the control socket and print
//! human lines, or with `--json` the documented shapes of RPC.md.
//!
//! Batch commands attempt every item; each failure is one line on stderr naming the item and
//! why, and the exit code is 1 when any item failed.

use crate::units::printable;
use std::collections::BTreeMap;
use std::io::{BufRead, IsTerminal, Write};
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use anyhow::Context;
use clap::{Args, Subcommand};

use crate::cli::{GlobalArgs, parse_size};
use crate::market::config::{BuyerStrategy, SellerStrategy};
use crate::rpc::Client;
use crate::rpc::proto::{
    AddArgs as AddReq, BatchResult, Command, ItemResult, LimitArgs as LimitReq, Limits, PeerList,
    Status, StrategyArgs as StrategyReq, StrategyInfo, Targets, TorrentInfo, TorrentSummary,
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
    /// Market strategy for these torrents: a buyer strategy (off, fixed, auto, budget,
    /// target-rate) or a seller strategy (tit-for-tat, highest-bid, uniform-price,
    /// proportional, hybrid)
    #[arg(long, value_name = "NAME")]
    pub strategy: Option<String>,
    /// Strategy parameter for these torrents, e.g. price=0.05 (repeatable)
    #[arg(long = "param", value_name = "K=V", value_parser = parse_param)]
    pub params: Vec<(String, String)>,
    #[command(flatten)]
    pub out: OutputArgs,
}

#[derive(Debug, Args)]
pub struct StrategyArgs {
    /// Torrent id or info-hash prefix (omit for the global strategies), then the strategy
    /// name to set (omit to show): `strategy`, `strategy 3`, `strategy proportional`,
    /// `strategy 3 fixed --param price=0.2`
    #[arg(value_name = "ID|NAME", num_args = 0..=2)]
    pub args: Vec<String>,
    /// Strategy parameter, e.g. price=0.05, reserve_price=0.01, slots=6 (repeatable)
    #[arg(long = "param", value_name = "K=V", value_parser = parse_param)]
    pub params: Vec<(String, String)>,
    #[command(flatten)]
    pub out: OutputArgs,
}

/// `k=v` for `--param`.
fn parse_param(s: &str) -> Result<(String, String), String> {
    match s.split_once('=') {
        Some((k, v)) if !k.trim().is_empty() => Ok((k.trim().to_string(), v.trim().to_string())),
        _ => Err(format!("{s:?}: expected KEY=VALUE, e.g. price=0.05")),
    }
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
    let mut client = Client::connect(&global.socket_path()?)?;
    if let Some(secs) = global.timeout {
        client.set_timeout((secs > 0).then(|| std::time::Duration::from_secs(secs)));
    }
    Ok(client)
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
                    .map(|m| format!(" ({})", printable(m)))
                    .unwrap_or_default();
                println!("{past} {}{note}", describe(item));
            }
        } else {
            failed = true;
            // The message may quote a tracker's failure reason (issue 17: escape sequences
            // reached the terminal through `reannounce`).
            eprintln!(
                "bidtorrent: {verb}: {}: {}",
                if item.item.is_empty() {
                    "-".into()
                } else {
                    printable(&item.item)
                },
                printable(item.message.as_deref().unwrap_or("failed"))
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
        printable(item.name.as_deref().unwrap_or("?")),
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
            strategy: args.strategy.clone(),
            params: params_map(&args.params),
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
            bar.set_message(printable(&t.name).into_owned());
            bar.set_length(t.total_bytes);
            bar.set_position(t.total_bytes - t.left_bytes);
            if t.phase == "error" {
                bar.abandon();
                eprintln!(
                    "bidtorrent: #{id} {}: {}",
                    printable(&t.name),
                    printable(t.error.as_deref().unwrap_or("error"))
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
    // Market columns only when the daemon trades, so plain users see the plain table.
    let market = list.iter().any(|t| t.market.is_some());
    let mcols = |role: &str, price: &str| {
        if market {
            format!("  {role:<6} {price:>10}")
        } else {
            String::new()
        }
    };
    println!(
        "{:>4}  {:<11} {:>6}  {:>9}  {:>10}  {:>10}  {:>5}{}  NAME",
        "ID",
        "STATE",
        "DONE",
        "SIZE",
        "DOWN",
        "UP",
        "PEERS",
        mcols("ROLE", "PRICE/MiB")
    );
    for t in &list {
        let (role, price) = match &t.market {
            Some(m) if m.role == "plain" => ("plain".to_string(), "-".to_string()),
            Some(m) => (m.role.clone(), tokens(m.price)),
            None => ("-".to_string(), "-".to_string()),
        };
        println!(
            "{:>4}  {:<11} {:>5.1}%  {:>9}  {:>10}  {:>10}  {:>5}{}  {}",
            t.id,
            t.phase,
            t.progress * 100.0,
            crate::units::bytes(t.total_bytes),
            crate::units::rate(t.down_rate),
            crate::units::rate(t.up_rate),
            t.peers,
            mcols(&role, &price),
            printable(&t.name)
        );
    }
    Ok(ExitCode::SUCCESS)
}

/// Micro-tokens as tokens ("0.050000").
fn tokens(micro: u64) -> String {
    crate::wallet::Amount(micro).to_string()
}

fn params_map(p: &[(String, String)]) -> BTreeMap<String, serde_json::Value> {
    p.iter()
        .map(|(k, v)| (k.clone(), serde_json::Value::String(v.clone())))
        .collect()
}

/// `status`: the daemon, its limits and rates, and whether the market trades.
pub fn status(global: &GlobalArgs, out: OutputArgs) -> anyhow::Result<ExitCode> {
    let st: Status = connect(global)?.call(Command::Status)?;
    if out.json {
        print_json(&st)?;
        return Ok(ExitCode::SUCCESS);
    }
    println!("daemon      pid {}, version {}", st.pid, st.version);
    println!("peers on    port {}", st.listen_port);
    println!("torrents    {}", st.torrents);
    println!(
        "rates       down {} (limit {}), up {} (limit {})",
        crate::units::rate(st.down_rate),
        crate::units::limit(st.down_limit),
        crate::units::rate(st.up_rate),
        crate::units::limit(st.up_limit)
    );
    match &st.dht {
        Some(d) => println!("dht         {} ({} nodes)", d.addr, d.nodes),
        None => println!("dht         off"),
    }
    println!("data dir    {}", st.data_dir);
    println!("downloads   {}", st.download_dir);
    // "market unavailable: <reason>" reads as a sentence, so scripts can grep for it.
    println!(
        "market {}",
        if st.market.starts_with("unavailable") {
            st.market.clone()
        } else {
            format!("     {}", st.market)
        }
    );
    Ok(ExitCode::SUCCESS)
}

/// `strategy [ID] [NAME] [--param k=v ...]`.
pub fn strategy(global: &GlobalArgs, a: StrategyArgs) -> anyhow::Result<ExitCode> {
    let is_name = |s: &str| BuyerStrategy::parse(s).is_some() || SellerStrategy::parse(s).is_some();
    let (torrent, name) = match a.args.as_slice() {
        [] => (None, None),
        // One word: a strategy name sets the global one; anything else is a torrent to show.
        [one] if is_name(one) => (None, Some(one.clone())),
        [one] => (Some(one.clone()), None),
        [id, name, ..] => (Some(id.clone()), Some(name.clone())),
    };
    let info: StrategyInfo = connect(global)?.call(Command::Strategy(StrategyReq {
        torrent,
        name,
        params: params_map(&a.params),
    }))?;
    if a.out.json {
        print_json(&info)?;
        return Ok(ExitCode::SUCCESS);
    }
    let scope = if info.scope == "global" {
        "global".to_string()
    } else {
        format!("#{}", info.scope)
    };
    let b = &info.buyer;
    let s = &info.seller;
    println!("{scope}");
    let buyer_detail = match b.strategy {
        BuyerStrategy::Off => String::new(),
        BuyerStrategy::Fixed => format!("price {}", b.price.0),
        BuyerStrategy::Auto => format!("fraction {}, max_price {}", b.fraction, b.max_price.0),
        BuyerStrategy::Budget => format!("budget {}, max_price {}", b.budget.0, b.max_price.0),
        BuyerStrategy::TargetRate => format!(
            "target_rate {}, max_price {}",
            crate::units::rate(b.target_rate as f64),
            b.max_price.0
        ),
    };
    println!("  buyer   {:<14} {buyer_detail}", b.strategy.name());
    println!(
        "  seller  {:<14} reserve_price {}, non_market_share {}, slots {}{}",
        s.strategy.name(),
        s.reserve_price.0,
        s.non_market_share,
        s.slots,
        if s.strategy == SellerStrategy::Hybrid {
            format!(", hybrid_weight {}", s.hybrid_weight)
        } else {
            String::new()
        }
    );
    println!(
        "          window {}, grace_secs {}, ban_strikes {}, per_ip {}",
        crate::units::bytes(s.window),
        s.grace_secs,
        s.ban_strikes,
        s.per_ip
    );
    Ok(ExitCode::SUCCESS)
}

pub fn info(global: &GlobalArgs, a: OneArgs) -> anyhow::Result<ExitCode> {
    let t: TorrentInfo = connect(global)?.call(Command::Info { torrent: a.torrent })?;
    if a.out.json {
        print_json(&t)?;
        return Ok(ExitCode::SUCCESS);
    }
    let s = &t.summary;
    println!("#{} {}", s.id, printable(&s.name));
    println!("  info-hash   {}", s.info_hash);
    println!(
        "  state       {}{}",
        s.phase,
        s.error
            .as_deref()
            .map(|e| format!(" ({})", printable(e)))
            .unwrap_or_default()
    );
    println!(
        "  progress    {:.1}% ({} of {} pieces, {} left of {})",
        s.progress * 100.0,
        s.have_pieces,
        s.num_pieces,
        crate::units::bytes(s.left_bytes),
        crate::units::bytes(s.total_bytes)
    );
    println!(
        "  transfer    down {} ({}), up {} ({}), {} peers",
        crate::units::bytes(s.downloaded),
        crate::units::rate(s.down_rate),
        crate::units::bytes(s.uploaded),
        crate::units::rate(s.up_rate),
        s.peers
    );
    println!(
        "  limits      down {}, up {}",
        crate::units::limit(s.down_limit),
        crate::units::limit(s.up_limit)
    );
    println!("  directory   {}", printable(&s.download_dir));
    println!(
        "  pieces      {} × {}{}",
        s.num_pieces,
        crate::units::bytes(t.piece_length),
        if t.private { ", private" } else { "" }
    );
    if let Some(c) = &t.comment {
        println!("  comment     {}", printable(c));
    }
    println!("  trackers");
    for (i, tier) in t.trackers.iter().enumerate() {
        for url in tier {
            println!("    tier {i}  {}", printable(url));
        }
    }
    println!("  files");
    for f in &t.files {
        println!(
            "    {:>9}  {}",
            crate::units::bytes(f.length),
            printable(&f.path)
        );
    }
    if let Some(m) = &t.market_report {
        println!("  market");
        println!(
            "    strategy  buyer {}, seller {}",
            m.buyer_strategy, m.seller_strategy
        );
        println!(
            "    tokens    paid {}, earned {}, clearing price {}/MiB{}",
            m.spent,
            m.earned,
            m.clearing,
            if m.banned > 0 {
                format!(", {} banned", m.banned)
            } else {
                String::new()
            }
        );
        for p in &m.peers {
            let opt =
                |a: Option<crate::wallet::Amount>| a.map_or("-".to_string(), |a| a.to_string());
            println!(
                "    {:<22} bid {} award {} earned {} | my bid {} award {} paid {}",
                p.addr,
                opt(p.bid),
                opt(p.awarded),
                p.earned,
                opt(p.my_bid),
                opt(p.my_award),
                p.paid
            );
        }
        for c in &m.channels {
            println!(
                "    channel   {} to {}: paid {}, acknowledged {}",
                c.channel.as_deref().unwrap_or("(opening)"),
                c.seller,
                c.paid,
                c.acked
            );
        }
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
            crate::units::rate(x.down_rate),
            crate::units::rate(x.up_rate),
            printable(&x.client)
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
            crate::units::limit(l.down),
            crate::units::limit(l.up)
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
