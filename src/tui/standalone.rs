//! The engine in this process, for when no daemon runs (the status bar says "STANDALONE").

use std::collections::HashMap;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::Context;
use tokio::sync::mpsc;

use super::market_view::{self, TokenRates};
use super::source::{
    Command, DataSource, Detail, FileRow, MarketView, Mode, Notice, PeerRow, PieceMap, Priority,
    Reply, Side, Snapshot, StrategyView, TorrentRow, Totals, TrackerRow, WalletStatus, WalletView,
};
use crate::engine::metainfo::Metainfo;
use crate::engine::session::{Session, SessionConfig};
use crate::engine::torrent::{PeerInfo, Torrent, TorrentEvent, TorrentOptions};
use crate::engine::types::InfoHash;
use crate::market::Market;
use crate::rpc::server::MarketSetup;

/// How often the wallet is re-read: sled is opened and closed each time, so the daemon or a
/// `bidtorrent wallet` command can take it in between.
const WALLET_EVERY: Duration = Duration::from_secs(15);

#[derive(Default)]
pub(crate) struct Extras {
    /// Strategies picked while the market is off, shown until it runs.
    buyer: Option<StrategyView>,
    seller: Option<StrategyView>,
    priorities: Vec<Priority>,
}

type Shared<T> = Arc<Mutex<T>>;

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    // A panicked background task must not wedge the dashboard.
    m.lock().unwrap_or_else(|p| p.into_inner())
}

pub struct StandaloneSource {
    session: Arc<Session>,
    download_dir: PathBuf,
    wallet_dir: PathBuf,
    note: String,
    extras: Shared<HashMap<String, Extras>>,
    notices_tx: mpsc::UnboundedSender<Notice>,
    notices_rx: mpsc::UnboundedReceiver<Notice>,
    wallet: WalletView,
    wallet_read: Option<Instant>,
    market: MarketSetup,
    rates: TokenRates,
}

impl StandaloneSource {
    /// Starts a session listening on `listen` (a free port if that one is taken).
    pub async fn start(
        listen: SocketAddr,
        data_dir: &Path,
        download_dir: PathBuf,
        limits: (u64, u64),
        note: String,
        market: MarketSetup,
    ) -> anyhow::Result<StandaloneSource> {
        let cfg = |listen| SessionConfig {
            listen,
            data_dir: data_dir.to_path_buf(),
            download_limit: limits.0,
            upload_limit: limits.1,
        };
        let session = match Session::start(cfg(listen)).await {
            Ok(s) => s,
            Err(e) if listen.port() != 0 => {
                tracing::warn!("{e}; trying a free port");
                let mut any = listen;
                any.set_port(0);
                Session::start(cfg(any)).await?
            }
            Err(e) => return Err(e.into()),
        };
        // Before any torrent is added, as the daemon does, so none starts without its market.
        if let Some(m) = &market.market {
            session.register_extension(m.factory());
        }
        let (notices_tx, notices_rx) = mpsc::unbounded_channel();
        Ok(StandaloneSource {
            session,
            download_dir,
            wallet_dir: data_dir.join("wallet"),
            note,
            extras: Arc::default(),
            notices_tx,
            notices_rx,
            wallet: WalletView::default(),
            wallet_read: None,
            market,
            rates: TokenRates::default(),
        })
    }

    /// Why market views are empty: `None` when the market trades.
    fn market_note(&self) -> Option<String> {
        match (&self.market.market, self.market.enabled) {
            (Some(_), _) => None,
            (None, false) => Some("market off ([market] enabled = false in the config)".into()),
            (None, true) => Some(format!("market {}", self.market.status())),
        }
    }

    pub fn session(&self) -> &Arc<Session> {
        &self.session
    }

    pub async fn shutdown(&self) {
        let _ = tokio::time::timeout(Duration::from_secs(5), self.session.shutdown()).await;
    }

    fn torrent(&self, id: &str) -> Option<Arc<Torrent>> {
        let ih = InfoHash::from_hex(id).ok()?;
        self.session.get(&ih)
    }

    /// Adds in the background: checking a big torrent takes a while and the UI must not wait.
    fn spawn_add(&self, meta: Metainfo, opts: TorrentOptions, done_msg: Option<String>) {
        let session = self.session.clone();
        let tx = self.notices_tx.clone();
        let name = meta.info.name.clone();
        tokio::spawn(async move {
            let r = session.add(meta, opts).await;
            match r {
                Ok(t) => {
                    if let Some(m) = done_msg {
                        let _ = tx.send(Notice {
                            error: false,
                            text: m,
                        });
                    }
                    watch_events(t, name, tx);
                }
                Err(e) => {
                    let _ = tx.send(Notice {
                        error: true,
                        text: format!("{name}: {e}"),
                    });
                }
            }
        });
    }

    async fn read_wallet(&mut self) {
        if self.wallet_read.is_some_and(|t| t.elapsed() < WALLET_EVERY) {
            return;
        }
        self.wallet_read = Some(Instant::now());
        // The market holds the wallet's lock while it runs: read the open one.
        if let Some(w) = self.market.wallet.clone() {
            let ledger = Some(self.market.ledger_addr.clone());
            self.wallet =
                tokio::task::spawn_blocking(move || market_view::read_open_wallet(&w, ledger))
                    .await
                    .unwrap_or_else(|e| WalletView {
                        status: WalletStatus::Error(e.to_string()),
                        ..WalletView::default()
                    });
            return;
        }
        let dir = self.wallet_dir.clone();
        self.wallet = tokio::task::spawn_blocking(move || read_wallet(&dir))
            .await
            .unwrap_or_else(|e| WalletView {
                status: WalletStatus::Error(e.to_string()),
                ..WalletView::default()
            });
    }
}

/// Follows a torrent's events for the status bar.
fn watch_events(t: Arc<Torrent>, name: String, tx: mpsc::UnboundedSender<Notice>) {
    let mut rx = t.subscribe();
    tokio::spawn(async move {
        loop {
            let ev = tokio::select! {
                ev = rx.recv() => ev,
                _ = t.stopped() => return,
            };
            match ev {
                Ok(TorrentEvent::Complete) => {
                    let _ = tx.send(Notice {
                        error: false,
                        text: format!("{name}: complete"),
                    });
                }
                Ok(TorrentEvent::Error(e)) => {
                    let _ = tx.send(Notice {
                        error: true,
                        text: format!("{name}: {e}"),
                    });
                }
                Ok(_) | Err(tokio::sync::broadcast::error::RecvError::Lagged(_)) => {}
                Err(_) => return,
            }
        }
    });
}

pub(crate) fn read_wallet(dir: &Path) -> WalletView {
    // Never create a wallet from the dashboard: only read one that exists.
    if !dir.join("db").exists() {
        return WalletView {
            status: WalletStatus::Missing,
            ..WalletView::default()
        };
    }
    let w = match crate::wallet::Wallet::open(dir) {
        Ok(w) => w,
        Err(e) => {
            let msg = e.to_string();
            let status = if msg.contains("lock") || msg.contains("Resource temporarily") {
                WalletStatus::InUse
            } else {
                WalletStatus::Error(msg)
            };
            return WalletView {
                status,
                ..WalletView::default()
            };
        }
    };
    market_view::read_open_wallet(&w, w.default_ledger().ok().flatten().map(|l| l.addr))
}

pub(crate) fn torrent_row(
    t: &Torrent,
    extras: &HashMap<String, Extras>,
    market: Option<&Market>,
) -> TorrentRow {
    let s = t.stats();
    let id = s.info_hash.to_hex();
    let progress = if s.num_pieces == 0 {
        1.0
    } else {
        s.have_pieces as f64 / s.num_pieces as f64
    };
    let eta = (s.left_bytes > 0 && s.down_rate >= 1.0)
        .then(|| (s.left_bytes as f64 / s.down_rate) as u64);
    let market = match market {
        Some(m) => {
            let eff = m.strategy(Some(&s.info_hash));
            let report = m.report(&s.info_hash);
            Some(market_view::torrent_market(
                &eff.buyer,
                &eff.seller,
                report.as_ref(),
                s.left_bytes,
            ))
        }
        None => extras.get(&id).and_then(|e| {
            let buying = e.buyer.as_ref().is_some_and(|b| b.name != "off");
            buying.then(|| super::source::TorrentMarket {
                role: "buyer".into(),
                ..Default::default()
            })
        }),
    };
    TorrentRow {
        id,
        name: s.name,
        size: s.total_bytes,
        progress,
        state: s.phase.as_str().to_string(),
        down_rate: s.down_rate,
        up_rate: s.up_rate,
        eta,
        peers: s.peers,
        uploaded: s.uploaded,
        downloaded: s.downloaded,
        label: None,
        error: s.error,
        market,
    }
}

fn peer_flags(p: &PeerInfo) -> String {
    let mut f = String::new();
    if p.am_interested {
        f.push(if p.peer_choking { 'd' } else { 'D' });
    }
    if p.peer_interested {
        f.push(if p.am_choking { 'u' } else { 'U' });
    }
    f.push(if p.outgoing { 'O' } else { 'I' });
    if p.fast {
        f.push('F');
    }
    if p.extensions.iter().any(|e| e == "bt_market") {
        f.push('X');
    }
    f
}

pub(crate) fn detail(
    t: &Torrent,
    extras: Option<&Extras>,
    market: Option<&Market>,
    note: Option<String>,
) -> Detail {
    let have = t.have();
    let n = have.len();
    let pieces = PieceMap {
        have: (0..n).map(|i| have.get(i)).collect(),
        downloading: t.downloading_pieces(),
        availability: t.piece_availability(),
    };
    let pl = t.meta.info.piece_length.max(1);
    let files = t
        .meta
        .info
        .real_files()
        .map(|(i, f)| {
            let progress = if f.length == 0 {
                1.0
            } else {
                let first = (f.offset / pl) as usize;
                let last = ((f.offset + f.length - 1) / pl) as usize;
                let total = last - first + 1;
                (first..=last).filter(|&p| have.get(p)).count() as f64 / total as f64
            };
            FileRow {
                path: f.path.join("/"),
                size: f.length,
                progress,
                priority: extras
                    .and_then(|e| e.priorities.get(i).copied())
                    .unwrap_or_default(),
            }
        })
        .collect();
    let trackers = t
        .tracker_status()
        .iter()
        .map(|st| {
            let st = crate::rpc::proto::TrackerState::from_status(st);
            TrackerRow {
                tier: st.tier,
                url: st.url.clone(),
                status: st.describe(),
            }
        })
        .collect();
    let ih = t.info_hash();
    let report = market.and_then(|m| m.report(&ih));
    let by_addr = report
        .as_ref()
        .map(market_view::peer_markets)
        .unwrap_or_default();
    let peers = t
        .peers()
        .iter()
        .map(|p| PeerRow {
            addr: p.addr.to_string(),
            client: p.client.clone(),
            flags: peer_flags(p),
            down_rate: p.down_rate,
            up_rate: p.up_rate,
            progress: p.progress,
            downloaded: p.downloaded,
            uploaded: p.uploaded,
            market: by_addr.get(&p.addr.to_string()).cloned(),
        })
        .collect();
    let market = match market {
        Some(m) => {
            let eff = m.strategy(Some(&ih));
            market_view::market_view(&eff.buyer, &eff.seller, report.as_ref())
        }
        None => local_market(t, extras, note),
    };
    Detail {
        id: ih.to_hex(),
        peers,
        pieces,
        files,
        trackers,
        market,
    }
}

/// The Market tab while no market runs: strategies picked locally, and why it is off.
fn local_market(t: &Torrent, extras: Option<&Extras>, note: Option<String>) -> MarketView {
    MarketView {
        active: false,
        note,
        buyer: extras
            .and_then(|e| e.buyer.clone())
            .unwrap_or_else(|| StrategyView {
                name: "off".into(),
                params: Vec::new(),
            }),
        seller: extras
            .and_then(|e| e.seller.clone())
            .unwrap_or_else(|| StrategyView {
                name: t.choker_name(),
                params: Vec::new(),
            }),
        ..MarketView::default()
    }
}

impl DataSource for StandaloneSource {
    async fn snapshot(&mut self, focus: Option<&str>) -> anyhow::Result<Snapshot> {
        self.read_wallet().await;
        let torrents = self.session.torrents();
        let extras = lock(&self.extras);
        let market = self.market.market.clone();
        let rows: Vec<TorrentRow> = torrents
            .iter()
            .map(|t| torrent_row(t, &extras, market.as_ref()))
            .collect();
        let (spend_rate, earn_rate) = self.rates.update_from_rows(&rows);
        let totals = Totals {
            down_rate: rows.iter().map(|r| r.down_rate).sum(),
            up_rate: rows.iter().map(|r| r.up_rate).sum(),
            spend_rate,
            earn_rate,
            listen_port: Some(self.session.listen_port()),
        };
        let detail = focus.and_then(|id| self.torrent(id)).map(|t| {
            detail(
                &t,
                extras.get(&t.info_hash().to_hex()),
                market.as_ref(),
                self.market_note(),
            )
        });
        drop(extras);
        let mut notices = Vec::new();
        while let Ok(n) = self.notices_rx.try_recv() {
            notices.push(n);
        }
        Ok(Snapshot {
            torrents: rows,
            detail,
            wallet: self.wallet.clone(),
            totals,
            notices,
        })
    }

    async fn command(&mut self, cmd: Command) -> anyhow::Result<Reply> {
        match cmd {
            Command::Add {
                source,
                dir,
                paused,
                peers,
            } => {
                if source.starts_with("magnet:") {
                    crate::engine::magnet::Magnet::parse(&source)
                        .map_err(|e| anyhow::anyhow!("{source}: {e}"))?;
                    anyhow::bail!(
                        "magnet links need metadata exchange (BEP 9), which this engine does not \
                         do yet; add the .torrent file"
                    );
                }
                let path = PathBuf::from(&source);
                let meta =
                    Metainfo::from_file(&path).with_context(|| format!("{}", path.display()))?;
                let peers = peers
                    .iter()
                    .map(|p| {
                        p.parse::<SocketAddr>().map_err(|_| {
                            anyhow::anyhow!("--peer {p:?}: not an address like 1.2.3.4:6881")
                        })
                    })
                    .collect::<anyhow::Result<Vec<_>>>()?;
                if self.session.get(&meta.info_hash).is_some() {
                    anyhow::bail!("{}: already added", meta.info.name);
                }
                let opts = TorrentOptions {
                    download_dir: dir.unwrap_or_else(|| self.download_dir.clone()),
                    peers,
                    paused,
                    ..TorrentOptions::default()
                };
                let name = meta.info.name.clone();
                self.spawn_add(meta, opts, None);
                Ok(format!("adding {name}…"))
            }
            Command::Pause(ids) | Command::Resume(ids) if ids.is_empty() => {
                anyhow::bail!("no torrent selected")
            }
            Command::Pause(ids) => {
                let mut n = 0;
                for t in ids.iter().filter_map(|id| self.torrent(id)) {
                    if !t.is_paused() {
                        n += 1;
                        // Pausing announces `stopped` (up to a few seconds): off the UI.
                        tokio::spawn(async move { t.pause().await });
                    }
                }
                tokio::task::yield_now().await;
                Ok(format!(
                    "paused {n} torrent{}",
                    if n == 1 { "" } else { "s" }
                ))
            }
            Command::Resume(ids) => {
                let n = ids
                    .iter()
                    .filter_map(|id| self.torrent(id))
                    .filter(|t| t.resume())
                    .count();
                Ok(format!(
                    "resumed {n} torrent{}",
                    if n == 1 { "" } else { "s" }
                ))
            }
            Command::Remove { ids, delete_data } => {
                if delete_data {
                    anyhow::bail!(
                        "--delete-data is not supported by the standalone engine yet; removed nothing"
                    );
                }
                let mut n = 0;
                for id in &ids {
                    if let Ok(ih) = InfoHash::from_hex(id) {
                        let session = self.session.clone();
                        // Stopping announces to trackers (up to a few seconds): do it off the UI.
                        if session.get(&ih).is_some() {
                            n += 1;
                            tokio::spawn(async move { session.remove(&ih).await });
                        }
                    }
                    lock(&self.extras).remove(id);
                }
                // The session drops it from its map at once; give the spawned tasks a turn.
                tokio::task::yield_now().await;
                Ok(format!(
                    "removed {n} torrent{}",
                    if n == 1 { "" } else { "s" }
                ))
            }
            Command::Strategy {
                ids,
                side,
                name,
                params,
            } => {
                if let Some(m) = &self.market.market {
                    return set_market_strategy(m, &ids, &name, &params);
                }
                let view = StrategyView {
                    name: name.clone(),
                    params,
                };
                let mut ex = lock(&self.extras);
                for id in &ids {
                    let e = ex.entry(id.clone()).or_default();
                    match side {
                        Side::Buyer => e.buyer = Some(view.clone()),
                        Side::Seller => e.seller = Some(view.clone()),
                    }
                }
                Ok(format!(
                    "{} strategy {} noted for {} torrent{} ({}: applies when the market runs)",
                    if side == Side::Buyer {
                        "buyer"
                    } else {
                        "seller"
                    },
                    super::app::format_strategy(&view),
                    ids.len(),
                    if ids.len() == 1 { "" } else { "s" },
                    self.market_note().unwrap_or_default()
                ))
            }
            Command::FilePriority {
                id,
                files,
                priority,
            } => {
                let t = self
                    .torrent(&id)
                    .ok_or_else(|| anyhow::anyhow!("no such torrent"))?;
                let nfiles = t.meta.info.files.len();
                // Rows skip padding files; map row numbers back to file indices.
                let real: Vec<usize> = t.meta.info.real_files().map(|(i, _)| i).collect();
                let prio = {
                    let mut ex = lock(&self.extras);
                    let e = ex.entry(id).or_default();
                    e.priorities.resize(nfiles, Priority::Normal);
                    for r in &files {
                        if let Some(&i) = real.get(*r) {
                            e.priorities[i] = priority;
                        }
                    }
                    e.priorities.clone()
                };
                let skipped: Vec<usize> = prio
                    .iter()
                    .enumerate()
                    .filter(|(_, p)| **p == Priority::Skip)
                    .map(|(i, _)| i)
                    .collect();
                t.set_wanted_pieces(crate::engine::torrent::wanted_without(&t.meta, &skipped));
                Ok(format!(
                    "{} file{} set to {}",
                    files.len(),
                    if files.len() == 1 { "" } else { "s" },
                    priority.as_str()
                ))
            }
            Command::Limit { down, up } => {
                self.session.set_limits(down, up);
                let f = |v: u64| {
                    if v == 0 {
                        "unlimited".to_string()
                    } else {
                        super::views::rate(v as f64)
                    }
                };
                Ok(format!("limits: down {} up {}", f(down), f(up)))
            }
        }
    }

    fn mode(&self) -> Mode {
        Mode::Standalone {
            note: self.note.clone(),
        }
    }
}

/// Sets a strategy in the running market: for each torrent in `ids`, or globally when empty.
/// The market checks names and parameters all-or-nothing and its error names the culprit.
pub(crate) fn set_market_strategy(
    m: &Market,
    ids: &[String],
    name: &str,
    params: &[(String, String)],
) -> anyhow::Result<Reply> {
    let mut shown = String::new();
    if ids.is_empty() {
        let eff = m.set_strategy(None, Some(name), params)?;
        shown = format!(
            "{} · {}",
            super::app::format_strategy(&market_view::buyer_view(&eff.buyer)),
            super::app::format_strategy(&market_view::seller_view(&eff.seller))
        );
    }
    for id in ids {
        let ih = InfoHash::from_hex(id).map_err(|e| anyhow::anyhow!("{id}: {e}"))?;
        let eff = m.set_strategy(Some(&ih), Some(name), params)?;
        let v = if crate::market::config::BuyerStrategy::parse(name).is_some() {
            market_view::buyer_view(&eff.buyer)
        } else {
            market_view::seller_view(&eff.seller)
        };
        shown = super::app::format_strategy(&v);
    }
    Ok(format!(
        "strategy {shown} for {}",
        if ids.is_empty() {
            "every torrent".to_string()
        } else {
            format!(
                "{} torrent{}",
                ids.len(),
                if ids.len() == 1 { "" } else { "s" }
            )
        }
    ))
}
