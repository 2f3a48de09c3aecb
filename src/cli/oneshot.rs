//! The one-shot foreground commands `download` and `seed` (SPEC §2): scripts, CI and interop
//! tests drive the engine through them. Human progress goes to stderr; with `--json` one event
//! object per line goes to stdout.

use std::io::Write;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use clap::Args;
use serde_json::json;

use crate::cli::{GlobalArgs, init_stderr_logging, parse_size};
use crate::engine::magnet::Magnet;
use crate::engine::metadata::FetchOptions;
use crate::engine::metainfo::Metainfo;
use crate::engine::session::Session;
use crate::engine::torrent::{Torrent, TorrentEvent, TorrentOptions};
use crate::engine::transport::{Encryption, NetOptions};
use crate::rpc::host::{Assembled, SessionSpec, assemble};

#[derive(Debug, Args)]
pub struct DownloadArgs {
    /// A .torrent file or a magnet link
    pub src: String,
    /// Directory to download into
    #[arg(long, short = 'd', value_name = "D")]
    pub dir: PathBuf,
    /// Keep seeding after completion until uploaded ≥ R × size, then exit
    #[arg(long, value_name = "R")]
    pub seed_ratio: Option<f64>,
    #[command(flatten)]
    pub net: NetArgs,
    /// Download pieces in order (for streaming) instead of rarest first
    #[arg(long)]
    pub sequential: bool,
    /// Do not use the DHT (BEP 5)
    #[arg(long, conflicts_with = "dht_bootstrap")]
    pub no_dht: bool,
    /// DHT bootstrap node (repeatable); without it the public routers and the nodes saved from
    /// the last run are used
    #[arg(long, value_name = "HOST:PORT")]
    pub dht_bootstrap: Vec<String>,
    /// Local service discovery (BEP 14): find peers on the LAN by multicast
    #[arg(long)]
    pub lsd: bool,
    /// Write verified pieces through the page cache instead of straight to the disk
    /// (O_DIRECT; see `[disk] write_through`)
    #[arg(long)]
    pub page_cache: bool,
}

#[derive(Debug, Args)]
pub struct SeedArgs {
    /// The .torrent file of the data
    pub torrent: PathBuf,
    /// Directory that holds the data
    #[arg(long, short = 'd', value_name = "D")]
    pub dir: PathBuf,
    #[command(flatten)]
    pub net: NetArgs,
    /// Join the DHT through this bootstrap node (repeatable) and announce there; without it
    /// `seed` stays off the DHT
    #[arg(long, value_name = "HOST:PORT")]
    pub dht_bootstrap: Vec<String>,
    /// Stay off the DHT (the default for `seed` without --dht-bootstrap; accepted as in
    /// `download`, so one script line works for both)
    #[arg(long, conflicts_with = "dht_bootstrap")]
    pub no_dht: bool,
}

#[derive(Debug, Args)]
pub struct NetArgs {
    /// Address to listen on for peers (port 0 picks a free port)
    #[arg(long, value_name = "ADDR", default_value = "0.0.0.0:6881")]
    pub listen: SocketAddr,
    /// Override the tracker's announce interval, in seconds
    #[arg(long, value_name = "S")]
    pub tracker_interval: Option<u64>,
    /// Also connect to this peer (repeatable)
    #[arg(long = "peer", value_name = "ADDR")]
    pub peers: Vec<SocketAddr>,
    /// Global download limit (e.g. 10M = 10 MiB/s; 0 = unlimited)
    #[arg(long, value_name = "RATE", value_parser = parse_size, default_value = "0")]
    pub limit_down: u64,
    /// Global upload limit (e.g. 512K; 0 = unlimited)
    #[arg(long, value_name = "RATE", value_parser = parse_size, default_value = "0")]
    pub limit_up: u64,
    /// Most peers to connect to
    #[arg(long, value_name = "N", default_value_t = 50)]
    pub max_peers: usize,
    /// Print one JSON event object per line on stdout
    #[arg(long)]
    pub json: bool,
    /// Protocol encryption (MSE/PE): prefer, require, allow or off
    #[arg(long, value_name = "MODE", default_value = "prefer")]
    pub encryption: Encryption,
    /// Do not use uTP (BEP 29) for peers
    #[arg(long)]
    pub no_utp: bool,
    /// Do not use TCP for peers
    #[arg(long)]
    pub no_tcp: bool,
}

impl NetArgs {
    fn network(&self) -> NetOptions {
        NetOptions {
            encryption: self.encryption,
            tcp: !self.no_tcp,
            utp: !self.no_utp,
            ..NetOptions::default()
        }
    }
}

/// Where events go: JSON lines on stdout, or human lines on stderr.
struct Reporter {
    json: bool,
    quiet: bool,
}

impl Reporter {
    fn event(&self, name: &str, fields: serde_json::Value, human: impl FnOnce() -> String) {
        if self.json {
            let mut obj = json!({ "event": name });
            if let (Some(o), serde_json::Value::Object(extra)) = (obj.as_object_mut(), fields) {
                o.extend(extra);
            }
            let mut out = std::io::stdout().lock();
            let _ = writeln!(out, "{obj}");
            let _ = out.flush();
        } else if !self.quiet {
            // Human lines quote names and tracker messages: escape what a terminal obeys.
            eprintln!("{}", crate::units::printable(&human()));
        }
    }
}

/// Ends a command's runtime without waiting for blocking requests still in flight (a web
/// seed's range request can take its full timeout): the session has already stopped and
/// saved everything, and dropping the runtime would wait for them.
fn finish_runtime(rt: tokio::runtime::Runtime) {
    rt.shutdown_timeout(std::time::Duration::from_millis(500));
}

fn runtime() -> anyhow::Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("starting the async runtime")
}

pub fn download(global: &GlobalArgs, args: DownloadArgs) -> anyhow::Result<ExitCode> {
    init_stderr_logging(global);
    crate::engine::direct_io::set_enabled(!args.page_cache);
    let rep = Reporter {
        json: args.net.json,
        quiet: global.quiet,
    };
    let source = match load_source(&args.src) {
        Ok(m) => m,
        Err(e) => {
            let msg = crate::cli::error_line(&e);
            rep.event("error", json!({ "message": msg }), || {
                format!("bidtorrent: {msg}")
            });
            return Ok(ExitCode::FAILURE);
        }
    };
    let opts = torrent_options(&args.net, args.dir.clone(), args.sequential);
    let data_dir = crate::cli::daemon::private_data_dir(global)?;
    // DHT on by default for `download`; explicit bootstrap nodes replace the public routers.
    let discovery = Discovery {
        dht: (!args.no_dht)
            .then(|| (!args.dht_bootstrap.is_empty()).then(|| args.dht_bootstrap.clone())),
        lsd: args.lsd,
    };
    let rt = runtime()?;
    let result = rt.block_on(async move {
        let started = start(&rep, &args.net, data_dir, source, opts, &discovery).await;
        let (session, torrent) = match started {
            Ok(x) => x,
            Err(code) => return Ok(code),
        };
        let mut events = torrent.subscribe();
        let code = tokio::select! {
            c = follow_download(&rep, &torrent, &mut events, args.seed_ratio) => c,
            _ = crate::cli::shutdown_signal() => {
                rep.event("stopped", json!({}), || "interrupted; resume data saved".into());
                ExitCode::from(130)
            }
        };
        session.shutdown().await;
        Ok(code)
    });
    finish_runtime(rt);
    result
}

pub fn seed(global: &GlobalArgs, args: SeedArgs) -> anyhow::Result<ExitCode> {
    init_stderr_logging(global);
    let rep = Reporter {
        json: args.net.json,
        quiet: global.quiet,
    };
    let meta = match Metainfo::from_file(&args.torrent) {
        Ok(m) => m,
        Err(e) => {
            rep.event("error", json!({ "message": e.to_string() }), || {
                format!("bidtorrent: {}: {e}", args.torrent.display())
            });
            return Ok(ExitCode::FAILURE);
        }
    };
    let opts = torrent_options(&args.net, args.dir.clone(), false);
    let data_dir = crate::cli::daemon::private_data_dir(global)?;
    let discovery = Discovery {
        dht: (!args.no_dht && !args.dht_bootstrap.is_empty())
            .then(|| Some(args.dht_bootstrap.clone())),
        lsd: false,
    };
    let rt = runtime()?;
    let result = rt.block_on(async move {
        let started = start(
            &rep,
            &args.net,
            data_dir,
            Source::Torrent(Box::new(meta)),
            opts,
            &discovery,
        )
        .await;
        let (session, torrent) = match started {
            Ok(x) => x,
            Err(code) => return Ok(code),
        };
        let mut events = torrent.subscribe();
        let code = tokio::select! {
            c = follow_seed(&rep, &torrent, &mut events) => c,
            _ = crate::cli::shutdown_signal() => ExitCode::SUCCESS,
        };
        session.shutdown().await;
        // Resume data is written and the tracker told: say so last, as `download` does.
        rep.event("stopped", json!({}), || "stopped; resume data saved".into());
        Ok(code)
    });
    finish_runtime(rt);
    result
}

/// What `download` was given.
enum Source {
    Torrent(Box<Metainfo>),
    Magnet(Magnet),
}

/// Which discovery services to run besides trackers.
struct Discovery {
    /// `None`: DHT off; `Some(None)`: default bootstrap; `Some(Some(nodes))`: these nodes.
    dht: Option<Option<Vec<String>>>,
    lsd: bool,
}

fn load_source(src: &str) -> anyhow::Result<Source> {
    if src
        .get(..7)
        .is_some_and(|p| p.eq_ignore_ascii_case("magnet:"))
    {
        return Ok(Source::Magnet(Magnet::parse(src)?));
    }
    Ok(Source::Torrent(Box::new(
        Metainfo::from_file(std::path::Path::new(src)).with_context(|| src.to_string())?,
    )))
}

/// Reports how the DHT and LSD came up: they never fail the command.
fn report_discovery(rep: &Reporter, a: &Assembled) {
    match &a.dht {
        Some(Ok(addr)) => rep.event("dht", json!({ "addr": addr.to_string() }), || {
            format!("DHT node on {addr}")
        }),
        // Trackers and peers still work without the DHT: warn, do not fail.
        Some(Err(e)) => rep.event("warning", json!({ "message": e }), || {
            format!("bidtorrent: {e}")
        }),
        None => {}
    }
    if let Some(e) = &a.lsd_error {
        rep.event("warning", json!({ "message": e }), || {
            format!("bidtorrent: {e}")
        });
    }
}

fn torrent_options(net: &NetArgs, dir: PathBuf, sequential: bool) -> TorrentOptions {
    TorrentOptions {
        download_dir: dir,
        sequential,
        max_peers: net.max_peers.max(1),
        tracker_interval: net.tracker_interval.map(Duration::from_secs),
        peers: net.peers.clone(),
        ..TorrentOptions::default()
    }
}

async fn start(
    rep: &Reporter,
    net: &NetArgs,
    data_dir: PathBuf,
    source: Source,
    mut opts: TorrentOptions,
    discovery: &Discovery,
) -> Result<(Arc<Session>, Arc<Torrent>), ExitCode> {
    let assembled = match assemble(SessionSpec {
        listen: Some(net.listen),
        data_dir: data_dir.clone(),
        download_limit: net.limit_down,
        upload_limit: net.limit_up,
        dht: discovery.dht.clone(),
        dht_state_dir: Some(data_dir.clone()),
        lsd: discovery.lsd,
        network: net.network(),
        ..SessionSpec::default()
    })
    .await
    {
        Ok(a) => a,
        Err(e) => {
            rep.event("error", json!({ "message": e.to_string() }), || {
                format!("bidtorrent: {e}")
            });
            return Err(ExitCode::FAILURE);
        }
    };
    let session = assembled.session.clone();
    let addr = session.listen_addr();
    rep.event(
        "listening",
        json!({ "addr": addr.to_string(), "port": addr.port() }),
        || format!("listening on {addr}"),
    );
    report_discovery(rep, &assembled);
    let meta = match source {
        Source::Torrent(m) => *m,
        Source::Magnet(magnet) => {
            let ih = magnet.info_hash;
            let shown = magnet.display_name.clone().unwrap_or_else(|| ih.to_hex());
            rep.event(
                "metadata",
                json!({ "info_hash": ih.to_hex(), "name": magnet.display_name }),
                || format!("{shown}: fetching metadata"),
            );
            let fetch = FetchOptions {
                peers: opts.peers.clone(),
                tracker_interval: opts.tracker_interval.unwrap_or(Duration::from_secs(30)),
                ..FetchOptions::default()
            };
            match session.fetch_magnet(&magnet, fetch).await {
                Ok(f) => {
                    rep.event(
                        "metadata_received",
                        json!({ "info_hash": ih.to_hex(), "name": f.meta.info.name, "bytes": f.meta.info_bytes.len() }),
                        || format!("{}: metadata received", f.meta.info.name),
                    );
                    // Peers met while fetching are dialled first.
                    for p in f.peers {
                        if !opts.peers.contains(&p) {
                            opts.peers.push(p);
                        }
                    }
                    f.meta
                }
                Err(e) => {
                    rep.event("error", json!({ "message": e.to_string() }), || {
                        format!("bidtorrent: {e}")
                    });
                    return Err(ExitCode::FAILURE);
                }
            }
        }
    };
    let name = meta.info.name.clone();
    let ih = meta.info_hash;
    rep.event(
        "checking",
        json!({ "name": name, "info_hash": ih.to_hex() }),
        || format!("{name}: checking data"),
    );
    match session.add(meta, opts).await {
        Ok(t) => {
            if let Some(c) = t.check_result() {
                report_misc(
                    rep,
                    TorrentEvent::Checked {
                        have: c.have,
                        hashed: c.hashed,
                    },
                );
            }
            Ok((session, t))
        }
        Err(e) => {
            rep.event("error", json!({ "message": e.to_string() }), || {
                format!("bidtorrent: {name}: {e}")
            });
            Err(ExitCode::FAILURE)
        }
    }
}

/// Waits until the download is complete (and seeded to the ratio); reports as it goes.
async fn follow_download(
    rep: &Reporter,
    torrent: &Arc<Torrent>,
    events: &mut tokio::sync::broadcast::Receiver<TorrentEvent>,
    seed_ratio: Option<f64>,
) -> ExitCode {
    let bar = progress_bar(rep, torrent);
    let mut tick = tokio::time::interval(Duration::from_millis(500));
    let mut complete = false;
    let mut first_reported = false;
    // The torrent may already be complete, with its events sent before we subscribed.
    let s = torrent.stats();
    if s.phase == crate::engine::torrent::Phase::Error {
        return report_error(rep, s.error.unwrap_or_default());
    }
    if s.left_bytes == 0 && s.phase == crate::engine::torrent::Phase::Seeding {
        complete = true;
        report_complete(rep, torrent);
    }
    loop {
        if complete {
            let Some(r) = seed_ratio else {
                bar.finish_and_clear();
                return ExitCode::SUCCESS;
            };
            let s = torrent.stats();
            if s.uploaded as f64 >= r * s.total_bytes as f64 {
                bar.finish_and_clear();
                rep.event(
                    "ratio_reached",
                    json!({ "uploaded": s.uploaded, "ratio": r }),
                    || format!("seed ratio {r} reached"),
                );
                return ExitCode::SUCCESS;
            }
        }
        tokio::select! {
            _ = tick.tick() => {
                update_bar(&bar, torrent);
                // For scripts and benchmarks timing the transfer as they do a real client's
                // API: bytes verified on disk, twice a second, until complete.
                if rep.json && !complete {
                    report_progress(rep, torrent);
                }
            }
            ev = events.recv() => match ev {
                // The first verified piece is reported at once, so a time to first byte
                // read from the progress events is exact rather than up to a tick late.
                Ok(TorrentEvent::PieceVerified(_)) if !first_reported => {
                    first_reported = true;
                    if rep.json && !complete {
                        report_progress(rep, torrent);
                    }
                }
                Ok(TorrentEvent::Complete) if !complete => {
                    complete = true;
                    report_complete(rep, torrent);
                }
                Ok(TorrentEvent::Error(msg)) => {
                    bar.finish_and_clear();
                    return report_error(rep, msg);
                }
                Ok(other) => report_misc(rep, other),
                Err(tokio::sync::broadcast::error::RecvError::Lagged(_)) => {}
                Err(_) => return ExitCode::FAILURE,
            }
        }
    }
}

/// A `progress` event: bytes verified on disk so far, of the total.
fn report_progress(rep: &Reporter, torrent: &Torrent) {
    let s = torrent.stats();
    rep.event(
        "progress",
        json!({
            "verified": s.total_bytes - s.left_bytes,
            "total": s.total_bytes,
            "have": s.have_pieces,
            "pieces": s.num_pieces,
            "down_rate": s.down_rate.round() as u64,
            "peers": s.peers,
        }),
        String::new,
    );
}

async fn follow_seed(
    rep: &Reporter,
    torrent: &Arc<Torrent>,
    events: &mut tokio::sync::broadcast::Receiver<TorrentEvent>,
) -> ExitCode {
    let s = torrent.stats();
    match s.phase {
        crate::engine::torrent::Phase::Error => {
            return report_error(rep, s.error.unwrap_or_default());
        }
        crate::engine::torrent::Phase::Seeding => report_seeding(rep, torrent),
        _ => {
            let msg = format!(
                "data incomplete: {} of {} pieces verified in {}",
                s.have_pieces,
                s.num_pieces,
                torrent.storage.root().display()
            );
            return report_error(rep, msg);
        }
    }
    loop {
        match events.recv().await {
            Ok(TorrentEvent::Error(msg)) => return report_error(rep, msg),
            Ok(other) => report_misc(rep, other),
            Err(tokio::sync::broadcast::error::RecvError::Lagged(_)) => {}
            Err(_) => return ExitCode::FAILURE,
        }
    }
}

fn report_complete(rep: &Reporter, torrent: &Torrent) {
    let s = torrent.stats();
    rep.event(
        "complete",
        json!({ "name": s.name, "info_hash": s.info_hash.to_hex(), "bytes": s.total_bytes, "downloaded": s.downloaded }),
        || format!("{}: complete, {} bytes verified", s.name, s.total_bytes),
    );
    report_seeding(rep, torrent);
}

fn report_seeding(rep: &Reporter, torrent: &Torrent) {
    let s = torrent.stats();
    rep.event(
        "seeding",
        json!({ "name": s.name, "info_hash": s.info_hash.to_hex() }),
        || format!("{}: seeding", s.name),
    );
}

fn report_error(rep: &Reporter, msg: String) -> ExitCode {
    rep.event("error", json!({ "message": msg }), || {
        format!("bidtorrent: {msg}")
    });
    ExitCode::FAILURE
}

fn report_misc(rep: &Reporter, ev: TorrentEvent) {
    match ev {
        TorrentEvent::Checked { have, hashed } => {
            rep.event("checked", json!({ "have": have, "hashed": hashed }), || {
                format!("{have} pieces verified on disk ({hashed} hashed)")
            })
        }
        TorrentEvent::HashFailed { piece } => {
            rep.event("hash_failed", json!({ "piece": piece }), || {
                format!("piece {piece} failed its hash check; fetching it again")
            })
        }
        TorrentEvent::PeerBanned(ip) => {
            rep.event("peer_banned", json!({ "ip": ip.to_string() }), || {
                format!("banned {ip} after repeated bad data")
            })
        }
        TorrentEvent::TrackerError(msg) => {
            tracing::warn!("{msg}");
        }
        _ => {}
    }
}

fn progress_bar(rep: &Reporter, torrent: &Torrent) -> indicatif::ProgressBar {
    let s = torrent.stats();
    if rep.json || rep.quiet {
        return indicatif::ProgressBar::hidden();
    }
    let bar = indicatif::ProgressBar::new(s.total_bytes);
    bar.set_style(
        indicatif::ProgressStyle::with_template(
            "{msg} [{bar:30}] {bytes}/{total_bytes} {binary_bytes_per_sec} eta {eta}",
        )
        .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar())
        .progress_chars("=> "),
    );
    bar.set_message(crate::units::printable(&s.name).into_owned());
    bar
}

fn update_bar(bar: &indicatif::ProgressBar, torrent: &Torrent) {
    let s = torrent.stats();
    bar.set_position(s.total_bytes - s.left_bytes);
}
