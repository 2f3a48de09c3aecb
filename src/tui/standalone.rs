//! The engine in this process, for when no daemon runs (the status bar says "STANDALONE").

use std::collections::HashMap;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::Context;
use tokio::sync::mpsc;

use super::source::{
    ChannelRow, Command, DataSource, Detail, FileRow, HistoryRow, MarketView, Mode, Notice,
    PeerRow, PieceMap, Priority, Reply, Side, Snapshot, StrategyView, TorrentRow, Totals,
    TrackerRow, WalletStatus, WalletView,
};
use crate::engine::bitfield::Bitfield;
use crate::engine::metainfo::Metainfo;
use crate::engine::session::{Session, SessionConfig};
use crate::engine::torrent::{PeerInfo, Torrent, TorrentEvent, TorrentOptions};
use crate::engine::types::InfoHash;

/// How often the wallet is re-read: sled is opened and closed each time, so the daemon or a
/// `bidtorrent wallet` command can take it in between.
const WALLET_EVERY: Duration = Duration::from_secs(15);

#[derive(Default)]
struct Extras {
    buyer: Option<StrategyView>,
    seller: Option<StrategyView>,
    priorities: Vec<Priority>,
    tracker_status: Option<String>,
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
}

impl StandaloneSource {
    /// Starts a session listening on `listen` (a free port if that one is taken).
    pub async fn start(
        listen: SocketAddr,
        data_dir: &Path,
        download_dir: PathBuf,
        limits: (u64, u64),
        note: String,
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
        })
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
        let extras = self.extras.clone();
        let id = meta.info_hash.to_hex();
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
                    watch_events(t, id, name, extras, tx);
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
        let dir = self.wallet_dir.clone();
        self.wallet = tokio::task::spawn_blocking(move || read_wallet(&dir))
            .await
            .unwrap_or_else(|e| WalletView {
                status: WalletStatus::Error(e.to_string()),
                ..WalletView::default()
            });
    }
}

/// Follows a torrent's events for the trackers tab and the status bar.
fn watch_events(
    t: Arc<Torrent>,
    id: String,
    name: String,
    extras: Shared<HashMap<String, Extras>>,
    tx: mpsc::UnboundedSender<Notice>,
) {
    let mut rx = t.subscribe();
    tokio::spawn(async move {
        loop {
            let ev = tokio::select! {
                ev = rx.recv() => ev,
                _ = t.stopped() => return,
            };
            match ev {
                Ok(TorrentEvent::TrackerError(e)) => {
                    lock(&extras).entry(id.clone()).or_default().tracker_status = Some(e);
                }
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
    let short = |s: String| s.chars().take(10).collect::<String>();
    let mut v = WalletView {
        status: WalletStatus::Ok,
        public_key: w.public_key().to_string(),
        ..WalletView::default()
    };
    let r = (|| -> Result<(), crate::wallet::WalletError> {
        v.balance = w.balance()?.0;
        v.ledger = w.default_ledger()?.map(|l| l.addr);
        for c in w.out_channels()? {
            v.channels.push(ChannelRow {
                id: short(c.certificate.channel.to_string()),
                peer: short(c.certificate.seller.to_string()),
                direction: "out".into(),
                state: format!("{:?}", c.state).to_lowercase(),
                cap: c.certificate.cap.0,
                used: c.spent.0,
                credit: 0,
            });
        }
        for c in w.in_channels()? {
            v.channels.push(ChannelRow {
                id: short(c.certificate.channel.to_string()),
                peer: short(c.certificate.buyer.to_string()),
                direction: "in".into(),
                state: format!("{:?}", c.state).to_lowercase(),
                cap: c.certificate.cap.0,
                used: c.earned().0,
                credit: 0,
            });
        }
        let h = w.history()?;
        let skip = h.len().saturating_sub(200);
        v.history = h
            .into_iter()
            .skip(skip)
            .map(|e| HistoryRow {
                time: e.time,
                kind: serde_json::to_value(e.kind)
                    .ok()
                    .and_then(|k| k.as_str().map(str::to_string))
                    .unwrap_or_default(),
                channel: short(e.channel.to_string()),
                amount: e.amount.0,
                total: e.total.0,
            })
            .collect();
        Ok(())
    })();
    if let Err(e) = r {
        v.status = WalletStatus::Error(e.to_string());
    }
    v
}

fn torrent_row(t: &Torrent, extras: &HashMap<String, Extras>) -> TorrentRow {
    let s = t.stats();
    let id = s.info_hash.to_hex();
    let progress = if s.num_pieces == 0 {
        1.0
    } else {
        s.have_pieces as f64 / s.num_pieces as f64
    };
    let eta = (s.left_bytes > 0 && s.down_rate >= 1.0)
        .then(|| (s.left_bytes as f64 / s.down_rate) as u64);
    let market = extras.get(&id).and_then(|e| {
        let buying = e.buyer.as_ref().is_some_and(|b| b.name != "off");
        buying.then(|| super::source::TorrentMarket {
            role: "buyer".into(),
            price: None,
        })
    });
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

/// Pieces wanted given file priorities: a piece is wanted when any non-skipped file touches it.
fn wanted_pieces(meta: &Metainfo, prio: &[Priority]) -> Bitfield {
    let n = meta.num_pieces();
    let pl = meta.info.piece_length.max(1);
    let mut wanted = Bitfield::new(n);
    for (i, f) in meta.info.files.iter().enumerate() {
        if f.length == 0 || prio.get(i).copied().unwrap_or_default() == Priority::Skip {
            continue;
        }
        let first = (f.offset / pl) as usize;
        let last = ((f.offset + f.length - 1) / pl) as usize;
        for p in first..=last.min(n.saturating_sub(1)) {
            wanted.set(p);
        }
    }
    wanted
}

fn detail(t: &Torrent, extras: Option<&Extras>) -> Detail {
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
        .files
        .iter()
        .enumerate()
        .filter(|(_, f)| !f.pad)
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
    let status = extras
        .and_then(|e| e.tracker_status.clone())
        .unwrap_or_else(|| "—".into());
    let trackers = t
        .meta
        .announce_tiers
        .iter()
        .enumerate()
        .flat_map(|(tier, urls)| {
            let status = status.clone();
            urls.iter().map(move |u| TrackerRow {
                tier,
                url: u.clone(),
                status: status.clone(),
            })
        })
        .collect();
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
            market: None,
        })
        .collect();
    let market = MarketView {
        active: false,
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
    };
    Detail {
        id: t.info_hash().to_hex(),
        peers,
        pieces,
        files,
        trackers,
        market,
    }
}

impl DataSource for StandaloneSource {
    async fn snapshot(&mut self, focus: Option<&str>) -> anyhow::Result<Snapshot> {
        self.read_wallet().await;
        let torrents = self.session.torrents();
        let extras = lock(&self.extras);
        let rows: Vec<TorrentRow> = torrents.iter().map(|t| torrent_row(t, &extras)).collect();
        let totals = Totals {
            down_rate: rows.iter().map(|r| r.down_rate).sum(),
            up_rate: rows.iter().map(|r| r.up_rate).sum(),
            spend_rate: 0.0,
            earn_rate: 0.0,
            listen_port: Some(self.session.listen_port()),
        };
        let detail = focus
            .and_then(|id| self.torrent(id))
            .map(|t| detail(&t, extras.get(&t.info_hash().to_hex())));
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
                    "{} strategy {} for {} torrent{} (market off: applies when the market runs)",
                    if side == Side::Buyer {
                        "buyer"
                    } else {
                        "seller"
                    },
                    super::app::format_strategy(&view),
                    ids.len(),
                    if ids.len() == 1 { "" } else { "s" }
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
                let real: Vec<usize> = t
                    .meta
                    .info
                    .files
                    .iter()
                    .enumerate()
                    .filter(|(_, f)| !f.pad)
                    .map(|(i, _)| i)
                    .collect();
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
                t.set_wanted_pieces(wanted_pieces(&t.meta, &prio));
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
