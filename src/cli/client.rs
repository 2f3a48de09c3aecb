//! The client commands (`add`, `ls`, `info`, `peers`, `pause`, `resume`, `rm`, `recheck`,
//! `reannounce`, `limit`) and `config`: talk to the daemon over the control socket and print
//! human lines, or with `--json` the documented shapes of RPC.md.
//!
//! Batch commands attempt every item; each failure is one line on stderr naming the item and
//! why, and the exit code is 1 when any item failed.

use crate::units::printable;
use std::collections::BTreeMap;
use std::io::{BufRead, IsTerminal};
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use anyhow::Context;
use clap::{Args, Subcommand};

use crate::cli::{GlobalArgs, parse_size};
use crate::market::config::{BuyerStrategy, SellerStrategy};
use crate::rpc::Client;
use crate::rpc::proto::{
    AddArgs as AddReq, BatchResult, Command, FileList, ItemResult, LimitArgs as LimitReq, Limits,
    PeerList, Status, StrategyArgs as StrategyReq, StrategyInfo, Targets, TorrentInfo,
    TorrentSummary,
};

#[derive(Debug, Args)]
pub struct OutputArgs {
    /// Print JSON on stdout (stable field names, see RPC.md)
    #[arg(long)]
    pub json: bool,
    #[command(flatten)]
    pub conn: super::ConnArgs,
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
    /// Label these torrents (repeatable)
    #[arg(long = "label", value_name = "L")]
    pub labels: Vec<String>,
    /// Stop seeding these torrents at this upload ratio (their own limit; see `seeding`)
    #[arg(long, value_name = "RATIO")]
    pub seed_ratio: Option<f64>,
    #[command(flatten)]
    pub out: OutputArgs,
}

#[derive(Debug, Args)]
pub struct LsArgs {
    /// Only torrents with this label (repeatable: any of them)
    #[arg(long = "label", value_name = "L")]
    pub labels: Vec<String>,
    #[command(flatten)]
    pub out: OutputArgs,
}

#[derive(Debug, Args)]
pub struct LabelArgs {
    /// Torrent id or info-hash prefix, then its labels: `label 3 tv hd`
    #[arg(value_name = "ID")]
    pub torrent: String,
    /// The labels (they replace the torrent's)
    #[arg(value_name = "LABEL", required_unless_present = "clear")]
    pub labels: Vec<String>,
    /// Remove every label
    #[arg(long, conflicts_with = "labels")]
    pub clear: bool,
    #[command(flatten)]
    pub out: OutputArgs,
}

#[derive(Debug, Args)]
pub struct SeedingArgs {
    /// Torrent id or info-hash prefix; without it the global rules
    #[arg(value_name = "ID")]
    pub torrent: Option<String>,
    /// Ratio limit: a number, `none` (no limit) or, on a torrent, `global`
    #[arg(long, value_name = "R")]
    pub ratio: Option<String>,
    /// Idle limit in minutes without upload: a number, `none` or, on a torrent, `global`
    #[arg(long, value_name = "MIN")]
    pub idle: Option<String>,
    /// At the limit: `stop`, `slow-to RATE` or `keep-while-earning PRICE` (tokens per MiB);
    /// on a torrent also `global`
    #[arg(long, value_name = "ACTION")]
    pub action: Option<String>,
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
    // Hyphen values reach parse_size, which names the mistake ("-5M" must be non-negative)
    // instead of clap's tip to use `--`.
    #[arg(long, value_name = "RATE", value_parser = parse_size, allow_hyphen_values = true)]
    pub down: Option<u64>,
    /// Upload rate, e.g. 1M; 0 = unlimited
    #[arg(long, value_name = "RATE", value_parser = parse_size, allow_hyphen_values = true)]
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
    outln!("{}", serde_json::to_string_pretty(v)?);
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
                outln!("{past} {}{note}", describe(item));
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
            // Magnets and URLs go as they are: the daemon fetches them.
            if s.starts_with("magnet:") || crate::rpc::fetch::is_url(s) {
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
            labels: args.labels.clone(),
            seed_ratio: args.seed_ratio,
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

pub fn ls(global: &GlobalArgs, args: LsArgs) -> anyhow::Result<ExitCode> {
    let out = args.out;
    let mut list: Vec<TorrentSummary> = connect(global)?.call(Command::List)?;
    if !args.labels.is_empty() {
        list.retain(|t| t.labels.iter().any(|l| args.labels.contains(l)));
    }
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
    // A label column only when some torrent has one, so unlabelled lists read as before.
    let label_w = list
        .iter()
        .map(|t| t.labels.join(",").chars().count())
        .max()
        .unwrap_or(0)
        .clamp(0, 24);
    let lcol = |l: &str| {
        if label_w > 0 {
            format!("  {:<label_w$}", crate::units::printable(l))
        } else {
            String::new()
        }
    };
    outln!(
        "{:>4}  {:<11} {:>6}  {:>9}  {:>10}  {:>10}  {:>8}  {:>5}  {:>5}{}{}  NAME",
        "ID",
        "STATE",
        "DONE",
        "SIZE",
        "DOWN",
        "UP",
        "ETA",
        "RATIO",
        "PEERS",
        mcols("ROLE", "PRICE/MiB"),
        lcol("LABELS"),
    );
    // One write for the table, not one (flushed) per row: 10,000 rows are 10,000 syscalls.
    let mut table = String::new();
    for t in &list {
        use std::fmt::Write as _;
        let (role, price) = match &t.market {
            Some(m) if m.role == "plain" => ("plain".to_string(), "-".to_string()),
            Some(m) => (m.role.clone(), tokens(m.price)),
            None => ("-".to_string(), "-".to_string()),
        };
        let labels: String = t.labels.join(",").chars().take(label_w).collect();
        let _ = writeln!(
            table,
            "{:>4}  {:<11} {:>5.1}%  {:>9}  {:>10}  {:>10}  {:>8}  {:>5}  {:>5}{}{}  {}",
            t.id,
            t.phase,
            t.progress * 100.0,
            crate::units::bytes(t.total_bytes),
            crate::units::rate(t.down_rate),
            crate::units::rate(t.up_rate),
            eta(t),
            ratio(t),
            t.peers,
            mcols(&role, &price),
            lcol(&labels),
            crate::units::printable(&t.name)
        );
    }
    out!("{table}");
    Ok(ExitCode::SUCCESS)
}

/// `label ID L…` / `label ID --clear`.
pub fn label(global: &GlobalArgs, a: LabelArgs) -> anyhow::Result<ExitCode> {
    let labels = if a.clear { Vec::new() } else { a.labels };
    let r: BatchResult = connect(global)?.call(Command::Label {
        targets: Targets {
            torrents: vec![a.torrent],
            all: false,
        },
        labels: labels.clone(),
    })?;
    let past = if labels.is_empty() {
        "cleared the labels of".to_string()
    } else {
        format!("labelled {} as", crate::units::printable(&labels.join(",")))
    };
    Ok(report("label", &past, &r, a.out.json, global.quiet))
}

/// `seeding [ID] [--ratio R] [--idle MIN] [--action A]`.
pub fn seeding(global: &GlobalArgs, a: SeedingArgs) -> anyhow::Result<ExitCode> {
    use crate::rpc::proto::{LimitMode, SeedArgs, SeedInfo};
    let mut req = SeedArgs {
        torrent: a.torrent.clone(),
        action: a.action.clone(),
        ..SeedArgs::default()
    };
    match a.ratio.as_deref() {
        None => {}
        Some("none") => req.ratio_mode = Some(LimitMode::Unlimited),
        Some("global") => req.ratio_mode = Some(LimitMode::Global),
        Some(r) => {
            req.ratio = Some(
                r.parse()
                    .map_err(|_| anyhow::anyhow!("--ratio {r:?}: a number, none or global"))?,
            )
        }
    }
    match a.idle.as_deref() {
        None => {}
        Some("none") => req.idle_mode = Some(LimitMode::Unlimited),
        Some("global") => req.idle_mode = Some(LimitMode::Global),
        Some(m) => {
            req.idle_minutes = Some(
                m.parse()
                    .map_err(|_| anyhow::anyhow!("--idle {m:?}: minutes, none or global"))?,
            )
        }
    }
    let info: SeedInfo = connect(global)?.call(Command::Seed(req))?;
    if a.out.json {
        print_json(&info)?;
        return Ok(ExitCode::SUCCESS);
    }
    let g = &info.global;
    let limit = |on: bool, v: String| if on { v } else { "none".to_string() };
    outln!(
        "global  ratio {}, idle {}, then {}",
        limit(g.ratio > 0.0, format!("{:.2}", g.ratio)),
        limit(g.idle_minutes > 0, format!("{} min", g.idle_minutes)),
        g.action
    );
    if let Some(t) = &info.torrent {
        let mode = |m: LimitMode, v: String| match m {
            LimitMode::Global => "global".to_string(),
            LimitMode::Single => v,
            LimitMode::Unlimited => "none".to_string(),
        };
        outln!(
            "#{:<6} ratio {}, idle {}, then {}",
            info.scope,
            mode(t.ratio_mode, format!("{:.2}", t.ratio)),
            mode(t.idle_mode, format!("{} min", t.idle_minutes)),
            t.action
                .map_or_else(|| "the global action".to_string(), |a| a.to_string())
        );
    }
    Ok(ExitCode::SUCCESS)
}

/// Time left at the current rate: `-` when done, `∞` when stalled (as transmission-remote).
fn eta(t: &TorrentSummary) -> String {
    if t.left_bytes == 0 {
        return "-".into();
    }
    if t.down_rate < 1.0 || t.phase == "paused" {
        return "∞".into();
    }
    let s = (t.left_bytes as f64 / t.down_rate) as u64;
    match s {
        s if s >= 86_400 => format!("{}d{}h", s / 86_400, s % 86_400 / 3600),
        s if s >= 3600 => format!("{}h{:02}m", s / 3600, s % 3600 / 60),
        s => format!("{}m{:02}s", s / 60, s % 60),
    }
}

/// Uploaded over size, as every client's ratio column.
fn ratio(t: &TorrentSummary) -> String {
    if t.total_bytes == 0 {
        return "-".into();
    }
    format!("{:.2}", t.uploaded as f64 / t.total_bytes as f64)
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
    outln!("daemon      pid {}, version {}", st.pid, st.version);
    outln!("peers on    port {}", st.listen_port);
    outln!("torrents    {}", st.torrents);
    outln!(
        "rates       down {} (limit {}), up {} (limit {})",
        crate::units::rate(st.down_rate),
        crate::units::limit(st.down_limit),
        crate::units::rate(st.up_rate),
        crate::units::limit(st.up_limit)
    );
    match &st.dht {
        Some(d) => outln!("dht         {} ({} nodes)", d.addr, d.nodes),
        None => outln!("dht         off"),
    }
    outln!("data dir    {}", st.data_dir);
    outln!("downloads   {}", st.download_dir);
    // "market unavailable: <reason>" reads as a sentence, so scripts can grep for it.
    outln!(
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
        [one] if crate::rpc::proto::Selector::parse(one).is_some() => (Some(one.clone()), None),
        [one] => anyhow::bail!(
            "{}: neither a strategy (buyer: {}; seller: {}) nor a torrent id",
            crate::units::printable(one),
            crate::tui::source::BUYER_STRATEGIES.join(", "),
            crate::tui::source::SELLER_STRATEGIES.join(", ")
        ),
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
    outln!("{scope}");
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
    outln!("  buyer   {:<14} {buyer_detail}", b.strategy.name());
    outln!(
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
    outln!(
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
    outln!("#{} {}", s.id, crate::units::printable(&s.name));
    outln!("  info-hash   {}", s.info_hash);
    outln!(
        "  state       {}{}",
        s.phase,
        s.error
            .as_deref()
            .map(|e| format!(" ({})", printable(e)))
            .unwrap_or_default()
    );
    outln!(
        "  progress    {:.1}% ({} of {} pieces, {} left of {})",
        s.progress * 100.0,
        s.have_pieces,
        s.num_pieces,
        crate::units::bytes(s.left_bytes),
        crate::units::bytes(s.total_bytes)
    );
    outln!(
        "  transfer    down {} ({}), up {} ({}), {} peers",
        crate::units::bytes(s.downloaded),
        crate::units::rate(s.down_rate),
        crate::units::bytes(s.uploaded),
        crate::units::rate(s.up_rate),
        s.peers
    );
    outln!("  eta         {}", eta(s));
    outln!(
        "  ratio       {} (uploaded {})",
        ratio(s),
        crate::units::bytes(s.uploaded)
    );
    outln!(
        "  limits      down {}, up {}",
        crate::units::limit(s.down_limit),
        crate::units::limit(s.up_limit)
    );
    outln!("  directory   {}", crate::units::printable(&s.download_dir));
    if !s.labels.is_empty() {
        outln!(
            "  labels      {}",
            crate::units::printable(&s.labels.join(", "))
        );
    }
    if let Some(note) = &s.seed_limit {
        outln!("  seeding     {note}");
    }
    outln!(
        "  pieces      {} × {}{}",
        s.num_pieces,
        crate::units::bytes(t.piece_length),
        if t.private { ", private" } else { "" }
    );
    if let Some(c) = &t.comment {
        outln!("  comment     {}", crate::units::printable(c));
    }
    outln!("  trackers");
    for (i, tier) in t.trackers.iter().enumerate() {
        for url in tier {
            outln!("    tier {i}  {}", crate::units::printable(url));
        }
    }
    outln!("  files");
    for f in &t.files {
        outln!(
            "    {:>9}  {}",
            crate::units::bytes(f.length),
            crate::units::printable(&f.path)
        );
    }
    if let Some(m) = &t.market_report {
        outln!("  market");
        outln!(
            "    strategy  buyer {}, seller {}",
            m.buyer_strategy,
            m.seller_strategy
        );
        outln!(
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
            outln!(
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
            outln!(
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

/// What the flags column means (also in RPC.md).
const FLAG_LEGEND: &str = "flags: D/d downloading from it (choked: d), U/u uploading to it \
                           (choked: u), O outgoing, I incoming, E encrypted, P uTP, F fast extension, \
                           X token market";

pub fn peers(global: &GlobalArgs, a: OneArgs) -> anyhow::Result<ExitCode> {
    let mut client = connect(global)?;
    let p: PeerList = client.call(Command::Peers {
        torrent: a.torrent.clone(),
    })?;
    if a.out.json {
        print_json(&p)?;
        return Ok(ExitCode::SUCCESS);
    }
    if p.peers.is_empty() {
        outln!("#{}: no peers connected", p.id);
        return Ok(ExitCode::SUCCESS);
    }
    // Market columns when the daemon trades on this torrent; a plain daemon answers no.
    let report: Option<crate::market::MarketReport> = client
        .call(Command::Market {
            torrent: a.torrent.clone(),
        })
        .ok();
    let by_addr: std::collections::HashMap<&str, _> = report
        .as_ref()
        .map(|r| r.peers.iter().map(|m| (m.addr.as_str(), m)).collect())
        .unwrap_or_default();
    let market = report.is_some();
    outln!(
        "{:<22} {:<6} {:>6}  {:>10}  {:>10}{}  CLIENT",
        "ADDRESS",
        "FLAGS",
        "HAS",
        "DOWN",
        "UP",
        if market {
            format!(
                "  {:>9} {:>9} {:>10} {:>10}",
                "BID", "MY BID", "PAID", "EARNED"
            )
        } else {
            String::new()
        }
    );
    for x in &p.peers {
        let mcols = if market {
            let opt =
                |a: Option<crate::wallet::Amount>| a.map_or("-".to_string(), |a| a.to_string());
            match by_addr.get(x.addr.as_str()) {
                Some(m) => format!(
                    "  {:>9} {:>9} {:>10} {:>10}",
                    opt(m.bid),
                    opt(m.my_bid),
                    m.paid,
                    m.earned
                ),
                None => format!("  {:>9} {:>9} {:>10} {:>10}", "-", "-", "-", "-"),
            }
        } else {
            String::new()
        };
        outln!(
            "{:<22} {:<6} {:>5.1}%  {:>10}  {:>10}{}  {}",
            x.addr,
            x.flags,
            x.progress * 100.0,
            crate::units::rate(x.down_rate),
            crate::units::rate(x.up_rate),
            mcols,
            crate::units::printable(&x.client)
        );
    }
    if std::io::stdout().is_terminal() {
        outln!("{FLAG_LEGEND}");
    }
    Ok(ExitCode::SUCCESS)
}

/// `files ID`: the files with their progress and priority, numbered as `prio` takes them.
pub fn files(global: &GlobalArgs, a: OneArgs) -> anyhow::Result<ExitCode> {
    let f: FileList = connect(global)?.call(Command::Files { torrent: a.torrent })?;
    print_files(&f, a.out.json)
}

fn print_files(f: &FileList, json: bool) -> anyhow::Result<ExitCode> {
    if json {
        print_json(f)?;
        return Ok(ExitCode::SUCCESS);
    }
    outln!(
        "{:>4}  {:>6}  {:<8} {:>9}  NAME",
        "#",
        "DONE",
        "PRIORITY",
        "SIZE"
    );
    for x in &f.files {
        outln!(
            "{:>4}  {:>5.1}%  {:<8} {:>9}  {}",
            x.index,
            x.progress * 100.0,
            x.priority,
            crate::units::bytes(x.length),
            crate::units::printable(&x.path)
        );
    }
    Ok(ExitCode::SUCCESS)
}

#[derive(Debug, Args)]
pub struct PrioArgs {
    /// Torrent id or info-hash prefix
    #[arg(value_name = "ID")]
    pub torrent: String,
    /// File numbers (as `files` shows them) or `all`, then the priority: high, normal, low or
    /// skip (skip stops fetching the file)
    #[arg(value_name = "FILE… LEVEL", num_args = 2.., required = true)]
    pub args: Vec<String>,
    #[command(flatten)]
    pub out: OutputArgs,
}

/// `prio ID FILE… LEVEL`.
pub fn prio(global: &GlobalArgs, a: PrioArgs) -> anyhow::Result<ExitCode> {
    let Some((level, files)) = a.args.split_last() else {
        anyhow::bail!("give the file numbers and a priority: prio ID 0 2 skip");
    };
    let level = level.to_ascii_lowercase();
    if !["high", "normal", "low", "skip"].contains(&level.as_str()) {
        anyhow::bail!(
            "{}: not a priority (high, normal, low or skip)",
            crate::units::printable(&level)
        );
    }
    let mut numbers = Vec::new();
    for f in files {
        if f.eq_ignore_ascii_case("all") {
            numbers.clear();
            break;
        }
        numbers.push(f.parse::<usize>().map_err(|_| {
            anyhow::anyhow!(
                "{}: not a file number (see `bidtorrent files {}`)",
                crate::units::printable(f),
                a.torrent
            )
        })?);
    }
    let r: FileList = connect(global)?.call(Command::Prio {
        torrent: a.torrent,
        files: numbers,
        priority: level,
    })?;
    print_files(&r, a.out.json)
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
        outln!(
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
        ConfigCommand::Path => outln!("{}", path.display()),
        ConfigCommand::Default => out!("{}", crate::config::DEFAULT_FILE),
        ConfigCommand::Check => {
            if global.config.is_none() && !path.exists() {
                outln!("{}: not present; the defaults apply", path.display());
                return Ok(ExitCode::SUCCESS);
            }
            let cfg = crate::config::Config::load(&path, true)?;
            // `[tui]` is read leniently by the dashboard (it starts with defaults and shows a
            // warning); here every mistake fails the check, with its line.
            let text = std::fs::read_to_string(&path)
                .with_context(|| format!("reading {}", path.display()))?;
            let label = path.display().to_string();
            let tui = crate::tui::parse_config(&label, &text);
            let mut problems = tui.warnings.clone();
            if let Some(name) = &tui.theme
                && let (_, Some(w)) = crate::tui::theme::load(name)
            {
                let line = text
                    .lines()
                    .position(|l| l.trim_start().starts_with("theme"))
                    .map_or(1, |i| i + 1);
                problems.push(format!(
                    "{label}: line {line}: [tui] {}",
                    w.trim_end_matches("; using default")
                ));
            }
            if !problems.is_empty() {
                for p in &problems {
                    eprintln!(
                        "bidtorrent: {}",
                        crate::units::printable(p.trim_end_matches("; using defaults"))
                    );
                }
                return Ok(ExitCode::FAILURE);
            }
            let _ = cfg;
            outln!("{}: ok", path.display());
        }
    }
    Ok(ExitCode::SUCCESS)
}
