//! `bidtorrent demo`: the arguments, the live table or the dashboard, and the final report
//! of a [`Swarm`] run on 127.0.0.1.

use std::io::IsTerminal;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Duration;

use anyhow::Context;
use clap::Args;
use serde_json::json;

use crate::cli::{GlobalArgs, parse_size};
use crate::demo::source::DemoSource;
use crate::demo::{Cast, Settlement, Swarm, bidder_ratio, demo_spec};
use crate::market::config::BuyerStrategy;
use crate::wallet::Amount;

#[derive(Debug, Args)]
pub struct DemoArgs {
    /// Seeders in the swarm
    #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u16).range(1..=32))]
    pub seeders: u16,
    /// Leechers in the swarm (one in three bids, alternately high and low; the rest do not)
    #[arg(long, default_value_t = 6, value_parser = clap::value_parser!(u16).range(1..=64))]
    pub leechers: u16,
    /// Size of the shared payload (e.g. 8M)
    #[arg(long, default_value = "8M", value_parser = parse_size)]
    pub size: u64,
    /// Upload limit of each seeder, so the seeders are the bottleneck
    #[arg(long, default_value = "1M", value_parser = parse_size)]
    pub seed_upload: u64,
    /// Upload limit of each leecher (low, so the seeders stay the bottleneck)
    #[arg(long, default_value = "32K", value_parser = parse_size)]
    pub leech_upload: u64,
    /// No live table; print only the final report
    #[arg(long)]
    pub headless: bool,
    /// Print the report as JSON
    #[arg(long)]
    pub json: bool,
    /// Keep the payload and downloads in this directory instead of a temporary one
    #[arg(long, value_name = "DIR")]
    pub keep: Option<PathBuf>,
}

impl DemoArgs {
    fn cast(&self) -> Cast {
        Cast {
            seeders: self.seeders,
            leechers: self.leechers,
            size: self.size,
            seed_upload: self.seed_upload,
            leech_upload: self.leech_upload,
        }
    }
}

pub fn run(global: &GlobalArgs, args: DemoArgs) -> anyhow::Result<ExitCode> {
    // Without --headless/--json on a terminal the swarm is shown in the dashboard, and logs go
    // to a file (never the screen); otherwise today's table or report, logging to stderr.
    let dashboard = !args.headless && !args.json && std::io::stdout().is_terminal();
    let _log_guard = if dashboard {
        crate::cli::tui::init_file_logging(global).0
    } else {
        crate::cli::init_stderr_logging(global);
        None
    };
    if args.size == 0 {
        anyhow::bail!("--size must be more than 0");
    }
    let tmp;
    let root = match &args.keep {
        Some(d) => {
            crate::cli::daemon::private_dir(d)?;
            d.clone()
        }
        None => {
            tmp = TempDir::new()?;
            tmp.0.clone()
        }
    };
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("starting the async runtime")?;
    let result = rt.block_on(async {
        if dashboard {
            run_dashboard(global, &root, &args).await
        } else {
            run_demo(&root, &args).await
        }
    });
    // As the dashboard: a blocking task (a web seed's request) must not hold the exit.
    rt.shutdown_timeout(std::time::Duration::from_millis(500));
    result
}

/// The demo in the dashboard: runs until the user quits (the swarm keeps seeding once every
/// leecher is done, so the finished state can be browsed), then settles and prints the same
/// report as `--headless`.
async fn run_dashboard(
    global: &GlobalArgs,
    root: &Path,
    args: &DemoArgs,
) -> anyhow::Result<ExitCode> {
    let spec = demo_spec(&args.cast());
    let swarm = Swarm::start(root, &spec).await?;
    let mut source = DemoSource::new(swarm);
    let shown = crate::tui::run_on(&mut source, global.config.as_deref(), None).await;
    let mut swarm = source.into_swarm();
    swarm.poll();
    let settled = swarm.settle(Duration::from_secs(5)).await;
    if let Ok(s) = &settled {
        print_report(&swarm, s, args);
    }
    swarm.shutdown().await;
    shown?;
    settled?;
    Ok(ExitCode::SUCCESS)
}

/// A temporary directory removed on drop; the demo leaves nothing behind by default.
struct TempDir(PathBuf);

impl TempDir {
    fn new() -> anyhow::Result<TempDir> {
        let base = std::env::temp_dir().join(format!(
            "bidtorrent-demo-{}-{}",
            std::process::id(),
            rand::random::<u32>()
        ));
        // Wallets and a ledger live here: owner-only, like every data dir.
        crate::cli::daemon::private_dir(&base)?;
        Ok(TempDir(base))
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

async fn run_demo(root: &Path, args: &DemoArgs) -> anyhow::Result<ExitCode> {
    let spec = demo_spec(&args.cast());
    let mut swarm = Swarm::start(root, &spec).await?;
    let live = !args.headless && !args.json;
    let mut tick = tokio::time::interval(Duration::from_millis(500));
    let mut last_note = std::time::Instant::now();
    let interrupted = loop {
        tokio::select! {
            _ = tick.tick() => {}
            _ = tokio::signal::ctrl_c() => break true,
        }
        let done = swarm.poll();
        if live {
            draw_table(&swarm);
        } else if !args.json && last_note.elapsed() >= Duration::from_secs(5) {
            // Headless runs take a minute: say now and then that it is alive, on stderr so
            // the report on stdout stays clean.
            last_note = std::time::Instant::now();
            let leechers = swarm.members.iter().filter(|m| !m.spec.seeder).count();
            let finished = swarm
                .members
                .iter()
                .filter(|m| !m.spec.seeder && m.done_at.is_some())
                .count();
            eprintln!(
                "demo: {:.0} s, {finished} of {leechers} leechers complete",
                swarm.started.elapsed().as_secs_f64()
            );
        }
        if done {
            break false;
        }
    };
    let settlement = swarm.settle(Duration::from_secs(5)).await?;
    print_report(&swarm, &settlement, args);
    swarm.shutdown().await;
    Ok(if interrupted {
        ExitCode::from(130)
    } else {
        ExitCode::SUCCESS
    })
}

fn draw_table(swarm: &Swarm) {
    let mut out = String::new();
    // Redraw in place: home the cursor and clear below.
    out.push_str("\x1b[H\x1b[J");
    out.push_str(&format!(
        "bidtorrent demo — a token market on 127.0.0.1, {:.0} s (Ctrl-C stops)\n\n",
        swarm.started.elapsed().as_secs_f64()
    ));
    out.push_str(&format!(
        "{:<11} {:<8} {:<7} {:>7} {:>11} {:>11} {:>10} {:>10} {:>8}\n",
        "peer", "buyer", "bid", "done", "down/s", "up/s", "paid", "earned", "finished"
    ));
    for m in &swarm.members {
        let s = m.torrent.stats();
        let r = m.market.report(&swarm.meta.info_hash);
        let pct = if s.total_bytes == 0 {
            100.0
        } else {
            100.0 * (s.total_bytes - s.left_bytes) as f64 / s.total_bytes as f64
        };
        let strat = m.market.strategy(Some(&swarm.meta.info_hash));
        out.push_str(&format!(
            "{:<11} {:<8} {:<7} {:>6.1}% {:>11} {:>11} {:>10} {:>10} {:>8}\n",
            m.spec.name,
            if m.spec.seeder {
                "seeder".to_string()
            } else {
                strat.buyer.strategy.to_string()
            },
            if strat.buyer.strategy == BuyerStrategy::Fixed {
                strat.buyer.price.0.to_string()
            } else {
                String::new()
            },
            pct,
            crate::units::rate(s.down_rate),
            crate::units::rate(s.up_rate),
            r.as_ref().map_or(String::new(), |r| r.spent.to_string()),
            r.as_ref().map_or(String::new(), |r| r.earned.to_string()),
            m.done_at
                .map(|d| format!("{:.1} s", d.as_secs_f64()))
                .unwrap_or_default()
        ));
    }
    eprint!("{out}");
}

fn print_report(swarm: &Swarm, settlement: &Settlement, args: &DemoArgs) {
    let rows = swarm.report();
    let (b, n, ratio) = bidder_ratio(&rows);
    if args.json {
        let r = json!({
            "torrent": {
                "name": swarm.meta.info.name,
                "info_hash": swarm.meta.info_hash.to_hex(),
                "bytes": swarm.meta.info.total_length,
            },
            "peers": rows,
            "bidders_mean_secs": b,
            "non_bidders_mean_secs": n,
            "speedup": ratio,
            "settlement": settlement,
        });
        outln!("{r}");
        return;
    }
    outln!(
        "{:<11} {:<8} {:<14} {:>9} {:>10} {:>10} {:>10} {:>10} {:>9}",
        "peer",
        "role",
        "strategy",
        "paid/MiB",
        "down MiB",
        "up MiB",
        "paid",
        "earned",
        "done (s)"
    );
    let mib = |b: u64| b as f64 / (1024.0 * 1024.0);
    for r in &rows {
        outln!(
            "{:<11} {:<8} {:<14} {:>9} {:>10.1} {:>10.1} {:>10} {:>10} {:>9}",
            r.peer,
            r.role,
            if r.role == "seeder" {
                &r.seller_strategy
            } else {
                &r.buyer_strategy
            },
            r.price_paid_per_mib
                .map(|p| Amount(p).to_string())
                .unwrap_or_default(),
            mib(r.bytes_down),
            mib(r.bytes_up),
            Amount(r.paid).to_string(),
            Amount(r.earned).to_string(),
            r.completion_secs
                .map(|s| format!("{s:.1}"))
                .unwrap_or_else(|| "-".into())
        );
    }
    if let Some(x) = ratio {
        outln!("\nbidders finished {x:.2}× faster than non-bidders on average");
    }
    outln!(
        "settlement: paid {} = earned {} (redeemed {}), ledger {}",
        Amount(settlement.paid),
        Amount(settlement.earned),
        Amount(settlement.redeemed),
        if settlement.ledger_consistent {
            "consistent"
        } else {
            "INCONSISTENT"
        }
    );
}
