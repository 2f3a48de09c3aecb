//! The daemon's side of the control socket: a [`Controller`] that owns the session's torrent
//! list (ids, settings, persistence) and answers requests, and [`serve`], which speaks the
//! line protocol on a Unix socket.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use serde::Serialize;
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::net::UnixListener;
use tokio::sync::{Mutex, broadcast, watch};

use super::proto::*;
use super::state::{self, Record, SavedState, SavedStrategies};
use crate::engine::metainfo::Metainfo;
use crate::engine::session::Session;
use crate::engine::storage::sanitize_component;
use crate::engine::torrent::{Torrent, TorrentEvent, TorrentOptions};
use crate::engine::types::InfoHash;
use crate::market::Market;
use crate::market::config::{BuyerStrategy, SellerStrategy};
use crate::wallet::Wallet;

/// What the controller needs from the configuration.
#[derive(Debug, Clone)]
pub struct ControllerConfig {
    pub data_dir: PathBuf,
    pub download_dir: PathBuf,
    pub max_peers: usize,
    pub upload_slots: usize,
    pub sequential: bool,
    pub tracker_interval: Option<Duration>,
}

/// The market as the daemon runs it (SPEC §4). Set once, before the session is restored.
#[derive(Clone, Default)]
pub struct MarketSetup {
    /// `[market] enabled` in the config.
    pub enabled: bool,
    /// Trading; `None` when off or unavailable.
    pub market: Option<Market>,
    /// Why an enabled market is not trading (wallet or ledger failed); never silent.
    pub unavailable: Option<String>,
    /// The wallet, when it could be opened (even if the ledger could not be reached), so
    /// `wallet` answers; the daemon holds its lock.
    pub wallet: Option<Arc<Wallet>>,
    /// `[market] ledger`.
    pub ledger_addr: String,
}

impl MarketSetup {
    /// `off`, `on`, or `unavailable: <reason>` (the `market` field of `status`).
    pub fn status(&self) -> String {
        match (&self.market, &self.unavailable) {
            _ if !self.enabled => "off".into(),
            (Some(_), _) => "on".into(),
            (None, Some(why)) => format!("unavailable: {why}"),
            (None, None) => "unavailable".into(),
        }
    }
}

pub struct Controller {
    pub session: Arc<Session>,
    cfg: ControllerConfig,
    market: std::sync::RwLock<MarketSetup>,
    /// The session's torrents as persisted; the lock also serialises adds and removes so ids
    /// and the state file stay consistent.
    reg: Mutex<SavedState>,
    events: broadcast::Sender<Event>,
    shutdown: watch::Sender<bool>,
}

fn now_unix() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0)
}

/// How long `add` waits for a magnet's metadata before reporting the item as failed.
const MAGNET_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(90);

/// The one place that turns an `add` source into metainfo, the bytes to keep, and peers worth
/// dialling. A magnet's info dict is fetched from the swarm (BEP 9) and kept as a .torrent, so a
/// restart restores it like any other torrent.
pub async fn resolve_source(
    session: &Session,
    source: &str,
    peers: &[SocketAddr],
) -> Result<(Metainfo, Vec<u8>, Vec<SocketAddr>), String> {
    if source.starts_with("magnet:") {
        let magnet = crate::engine::magnet::Magnet::parse(source).map_err(|e| e.to_string())?;
        if session.get(&magnet.info_hash).is_some() {
            return Err(format!("{} is already in the session", magnet.info_hash));
        }
        let fetched = crate::engine::metadata::fetch_metadata(
            &magnet,
            session.peer_id(),
            session.listen_port(),
            session.dht(),
            crate::engine::metadata::FetchOptions {
                peers: peers.to_vec(),
                timeout: Some(MAGNET_TIMEOUT),
                ..Default::default()
            },
        )
        .await
        .map_err(|e| e.to_string())?;
        let bytes = fetched.meta.to_torrent_bytes();
        return Ok((fetched.meta, bytes, fetched.peers));
    }
    let path = Path::new(source);
    if !path.is_absolute() {
        return Err(
            "the path must be absolute (the daemon does not share your working directory)".into(),
        );
    }
    let bytes = tokio::fs::read(path)
        .await
        .map_err(|e| format!("cannot read the file: {e}"))?;
    let meta = Metainfo::from_bytes(&bytes).map_err(|e| format!("not a valid torrent: {e}"))?;
    Ok((meta, bytes, Vec::new()))
}

impl Controller {
    pub fn new(session: Arc<Session>, cfg: ControllerConfig) -> Arc<Controller> {
        let (events, _) = broadcast::channel(4096);
        Arc::new(Controller {
            session,
            cfg,
            reg: Mutex::new(SavedState {
                version: state::STATE_VERSION,
                next_id: 1,
                ..SavedState::default()
            }),
            events,
            shutdown: watch::channel(false).0,
            market: std::sync::RwLock::new(MarketSetup::default()),
        })
    }

    /// Installs the market; call before [`Controller::restore`] so saved strategies are
    /// re-applied (the market's extension must already be registered on the session).
    pub fn set_market(&self, m: MarketSetup) {
        *self.market.write().unwrap_or_else(|p| p.into_inner()) = m;
    }

    fn market_setup(&self) -> MarketSetup {
        self.market
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }

    /// The trading market, or why there is none (for requests that need it).
    fn market_on(&self) -> Result<Market, String> {
        let m = self.market_setup();
        match m.market {
            Some(market) => Ok(market),
            None if !m.enabled => Err(
                "the market is off; set `[market] enabled = true` in the config and restart the daemon"
                    .into(),
            ),
            None => Err(format!("market {}", m.status())),
        }
    }

    /// A receiver that turns true when a client asked the daemon to stop.
    pub fn shutdown_requested(&self) -> watch::Receiver<bool> {
        self.shutdown.subscribe()
    }

    pub fn events(&self) -> broadcast::Sender<Event> {
        self.events.clone()
    }

    fn state_path(&self) -> PathBuf {
        state::state_path(&self.cfg.data_dir)
    }

    async fn persist(&self, st: &SavedState) -> Result<(), String> {
        let path = self.state_path();
        let st = st.clone();
        tokio::task::spawn_blocking(move || state::save(&path, &st))
            .await
            .map_err(|e| e.to_string())?
            .map_err(|e| e.to_string())
    }

    /// Loads the saved session and starts every torrent in it (checks run in the background;
    /// after a crash they recheck only what the resume data cannot vouch for). Returns one
    /// message per torrent that could not be restored; those stay in the state file.
    pub async fn restore(self: &Arc<Self>, saved: SavedState) -> Vec<String> {
        let mut problems = Vec::new();
        if let Some(d) = saved.down_limit {
            self.session.ctx.global_down.set_rate(d);
        }
        if let Some(u) = saved.up_limit {
            self.session.ctx.global_up.set_rate(u);
        }
        let mut reg = self.reg.lock().await;
        reg.next_id = saved.next_id.max(1);
        reg.down_limit = saved.down_limit;
        reg.up_limit = saved.up_limit;
        reg.market = saved.market.clone();
        let market = self.market_setup().market;
        if let (Some(m), Some(g)) = (&market, &saved.market)
            && let Err(e) = m.set_global(g.buyer.clone(), g.seller.clone())
        {
            problems.push(format!("the saved global strategies: {e}"));
        }
        for rec in saved.torrents {
            // Before the torrent starts, so it never trades under the wrong strategy.
            if let (Some(m), Some(ov)) = (&market, &rec.strategy)
                && let Ok(ih) = InfoHash::from_hex(&rec.info_hash)
                && let Err(e) = m.set_torrent_override(&ih, Some(ov.clone()))
            {
                problems.push(format!("#{} {}: its saved strategy: {e}", rec.id, rec.name));
            }
            match self.restore_one(&rec).await {
                Ok(t) => {
                    reg.torrents.push(rec.clone());
                    self.launch(rec.id, t);
                }
                Err(e) => {
                    problems.push(format!("#{} {}: {e}", rec.id, rec.name));
                    // Kept so a fixed file (or a newer build) can bring it back.
                    reg.torrents.push(rec);
                }
            }
        }
        reg.torrents.sort_by_key(|r| r.id);
        problems
    }

    async fn restore_one(&self, rec: &Record) -> Result<Arc<Torrent>, String> {
        let bytes = tokio::fs::read(&rec.torrent_file)
            .await
            .map_err(|e| format!("{}: {e}", rec.torrent_file.display()))?;
        let meta = Metainfo::from_bytes(&bytes).map_err(|e| e.to_string())?;
        if meta.info_hash.to_hex() != rec.info_hash {
            return Err(format!(
                "{} is not torrent {}",
                rec.torrent_file.display(),
                rec.info_hash
            ));
        }
        let t = self
            .session
            .insert(meta, self.options(rec))
            .await
            .map_err(|e| e.to_string())?;
        t.down_limit.set_rate(rec.down_limit);
        t.up_limit.set_rate(rec.up_limit);
        if !rec.priorities.is_empty() {
            apply_priorities(&t, &rec.priorities);
        }
        Ok(t)
    }

    fn options(&self, rec: &Record) -> TorrentOptions {
        TorrentOptions {
            download_dir: rec.download_dir.clone(),
            sequential: rec.sequential,
            max_peers: self.cfg.max_peers,
            tracker_interval: self.cfg.tracker_interval,
            upload_slots: self.cfg.upload_slots,
            peers: rec.peers.iter().filter_map(|p| p.parse().ok()).collect(),
            paused: rec.paused,
        }
    }

    /// Forwards the torrent's events to subscribers, then checks and starts it in the
    /// background.
    fn launch(self: &Arc<Self>, id: u32, t: Arc<Torrent>) {
        let mut rx = t.subscribe();
        let events = self.events.clone();
        let tt = t.clone();
        tokio::spawn(async move {
            loop {
                tokio::select! {
                    ev = rx.recv() => match ev {
                        Ok(ev) => {
                            if let Some(e) = map_event(id, &tt, ev) {
                                let _ = events.send(e);
                            }
                        }
                        Err(broadcast::error::RecvError::Lagged(_)) => {}
                        Err(broadcast::error::RecvError::Closed) => return,
                    },
                    _ = tt.stopped() => return,
                }
            }
        });
        tokio::spawn(async move { t.start().await });
    }

    /// Adds one source; never panics, reports why it failed.
    pub async fn add_one(
        self: &Arc<Self>,
        source: &str,
        dir: Option<PathBuf>,
        paused: bool,
        sequential: bool,
        peers: &[String],
    ) -> ItemResult {
        self.add_with(source, dir, paused, sequential, peers, None)
            .await
    }

    /// [`Controller::add_one`], also setting the torrent's market strategy (a name and/or
    /// parameters, already validated) before it starts.
    async fn add_with(
        self: &Arc<Self>,
        source: &str,
        dir: Option<PathBuf>,
        paused: bool,
        sequential: bool,
        peers: &[String],
        strategy: Option<&StrategyChoice>,
    ) -> ItemResult {
        let mut res = ItemResult {
            item: source.to_string(),
            ..ItemResult::default()
        };
        match self
            .try_add(source, dir, paused, sequential, peers, strategy)
            .await
        {
            Ok((id, ih, name)) => {
                res.ok = true;
                res.id = Some(id);
                res.info_hash = Some(ih);
                res.name = Some(name);
            }
            Err(e) => res.message = Some(e),
        }
        res
    }

    async fn try_add(
        self: &Arc<Self>,
        source: &str,
        dir: Option<PathBuf>,
        paused: bool,
        sequential: bool,
        peers: &[String],
        strategy: Option<&StrategyChoice>,
    ) -> Result<(u32, String, String), String> {
        let mut peer_addrs = peers
            .iter()
            .map(|p| {
                p.parse::<SocketAddr>()
                    .map_err(|_| format!("peer {p:?} is not IP:PORT"))
            })
            .collect::<Result<Vec<_>, _>>()?;
        let (meta, bytes, found) = resolve_source(&self.session, source, &peer_addrs).await?;
        // Peers that served a magnet's metadata have the torrent: dial them first.
        for a in found {
            if !peer_addrs.contains(&a) {
                peer_addrs.push(a);
            }
        }
        // Refuse unsafe names before anything touches the disk (Storage::open checks the file
        // paths again; this also covers the torrent's own name).
        sanitize_component(&meta.info.name).map_err(|e| e.to_string())?;
        let hex = meta.info_hash.to_hex();
        let name = meta.info.name.clone();
        let download_dir = dir.unwrap_or_else(|| self.cfg.download_dir.clone());
        if !download_dir.is_absolute() {
            return Err(format!(
                "download directory {} must be absolute",
                download_dir.display()
            ));
        }
        let mut reg = self.reg.lock().await;
        if let Some(r) = reg.torrents.iter().find(|r| r.info_hash == hex) {
            return Err(format!("already added as #{} ({})", r.id, r.name));
        }
        // The override goes in before the torrent exists, so it never bids or sells under the
        // global strategy first; every failure below takes it out again.
        let market = strategy.and(self.market_setup().market);
        let mut saved_strategy = None;
        if let (Some(m), Some(choice)) = (&market, strategy) {
            m.set_strategy(
                Some(&meta.info_hash),
                choice.name.as_deref(),
                &choice.params,
            )
            .map_err(|e| e.to_string())?;
            saved_strategy = m.torrent_override(&meta.info_hash);
        }
        let ih = meta.info_hash;
        let undo = |m: &Option<Market>| {
            if let Some(m) = m {
                let _ = m.set_torrent_override(&ih, None);
            }
        };
        let copy = state::torrent_copy_path(&self.cfg.data_dir, &hex);
        let c = copy.clone();
        let written = tokio::task::spawn_blocking(move || state::write_atomic(&c, &bytes))
            .await
            .map_err(|e| e.to_string())
            .and_then(|r| r.map_err(|e| e.to_string()));
        if let Err(e) = written {
            undo(&market);
            return Err(e);
        }
        let rec = Record {
            id: reg.next_id,
            info_hash: hex.clone(),
            name: name.clone(),
            torrent_file: copy.clone(),
            download_dir,
            paused,
            sequential: sequential || self.cfg.sequential,
            down_limit: 0,
            up_limit: 0,
            peers: peer_addrs.iter().map(|a| a.to_string()).collect(),
            added_at: now_unix(),
            strategy: saved_strategy,
            priorities: Vec::new(),
        };
        let t = match self.session.insert(meta, self.options(&rec)).await {
            Ok(t) => t,
            Err(e) => {
                let _ = std::fs::remove_file(&copy);
                undo(&market);
                return Err(e.to_string());
            }
        };
        let id = rec.id;
        reg.next_id += 1;
        reg.torrents.push(rec);
        if let Err(e) = self.persist(&reg).await {
            // Not acknowledged unless it survives a restart.
            reg.torrents.retain(|r| r.id != id);
            self.session.remove(&t.info_hash()).await;
            undo(&market);
            return Err(format!("saving the session: {e}"));
        }
        drop(reg);
        self.launch(id, t);
        let _ = self.events.send(Event::Added {
            id,
            info_hash: hex.clone(),
            name: name.clone(),
        });
        Ok((id, hex, name))
    }

    /// Resolves one selector to an id: 1–7 digits is an id, 8–40 hex digits an info-hash
    /// prefix that must match exactly one torrent.
    fn resolve(reg: &SavedState, sel: &str) -> Result<u32, String> {
        let s = sel.trim().trim_start_matches('#');
        if !s.is_empty() && s.len() <= 7 && s.bytes().all(|b| b.is_ascii_digit()) {
            let id: u32 = s.parse().map_err(|_| format!("bad id {s:?}"))?;
            return reg
                .torrents
                .iter()
                .find(|r| r.id == id)
                .map(|r| r.id)
                .ok_or_else(|| format!("no torrent with id {id}"));
        }
        let lower = s.to_ascii_lowercase();
        if (8..=40).contains(&lower.len()) && lower.bytes().all(|b| b.is_ascii_hexdigit()) {
            let hits: Vec<&Record> = reg
                .torrents
                .iter()
                .filter(|r| r.info_hash.starts_with(&lower))
                .collect();
            return match hits.as_slice() {
                [one] => Ok(one.id),
                [] => Err(format!("no torrent with info-hash prefix {lower}")),
                many => Err(format!(
                    "info-hash prefix {lower} matches {} torrents ({})",
                    many.len(),
                    many.iter()
                        .map(|r| format!("#{}", r.id))
                        .collect::<Vec<_>>()
                        .join(", ")
                )),
            };
        }
        Err(format!(
            "{sel:?} is neither an id (a number) nor an info-hash prefix (8 to 40 hex digits)"
        ))
    }

    /// The targets as (selector, id or why not), in the order given; `all` = every torrent.
    async fn targets(&self, t: &Targets) -> Vec<(String, Result<u32, String>)> {
        let reg = self.reg.lock().await;
        if t.all {
            return reg
                .torrents
                .iter()
                .map(|r| (r.id.to_string(), Ok(r.id)))
                .collect();
        }
        t.torrents
            .iter()
            .map(|s| (s.clone(), Self::resolve(&reg, s)))
            .collect()
    }

    async fn record(&self, id: u32) -> Option<Record> {
        self.reg
            .lock()
            .await
            .torrents
            .iter()
            .find(|r| r.id == id)
            .cloned()
    }

    fn torrent_of(&self, rec: &Record) -> Result<Arc<Torrent>, String> {
        let ih = InfoHash::from_hex(&rec.info_hash).map_err(|e| e.to_string())?;
        self.session
            .get(&ih)
            .ok_or_else(|| "not loaded (see the daemon's log)".to_string())
    }

    async fn update_record(&self, id: u32, f: impl FnOnce(&mut Record)) -> Result<(), String> {
        let mut reg = self.reg.lock().await;
        if let Some(r) = reg.torrents.iter_mut().find(|r| r.id == id) {
            f(r);
        }
        self.persist(&reg).await
    }

    /// Runs `op` on every target concurrently; results come back in the order given.
    async fn batch<F, Fut>(self: &Arc<Self>, targets: &Targets, op: F) -> BatchResult
    where
        F: Fn(Arc<Controller>, Record) -> Fut,
        Fut: std::future::Future<Output = Result<Option<String>, String>> + Send + 'static,
    {
        if !targets.all && targets.torrents.is_empty() {
            return BatchResult {
                results: vec![ItemResult {
                    item: String::new(),
                    ok: false,
                    message: Some("no torrents given (ids, info-hash prefixes or --all)".into()),
                    ..ItemResult::default()
                }],
            };
        }
        let resolved = self.targets(targets).await;
        let mut set = tokio::task::JoinSet::new();
        let mut results: Vec<ItemResult> = Vec::with_capacity(resolved.len());
        for (i, (item, id)) in resolved.into_iter().enumerate() {
            let mut r = ItemResult {
                item,
                ..ItemResult::default()
            };
            match id {
                Err(e) => r.message = Some(e),
                Ok(id) => match self.record(id).await {
                    None => r.message = Some(format!("no torrent with id {id}")),
                    Some(rec) => {
                        r.id = Some(rec.id);
                        r.info_hash = Some(rec.info_hash.clone());
                        r.name = Some(rec.name.clone());
                        let fut = op(self.clone(), rec);
                        set.spawn(async move { (i, fut.await) });
                    }
                },
            }
            results.push(r);
        }
        while let Some(done) = set.join_next().await {
            let Ok((i, outcome)) = done else { continue };
            match outcome {
                Ok(note) => {
                    results[i].ok = true;
                    results[i].message = note;
                }
                Err(e) => results[i].message = Some(e),
            }
        }
        BatchResult { results }
    }

    fn summary(&self, rec: &Record) -> TorrentSummary {
        let t = self.torrent_of(rec).ok();
        let s = t.as_ref().map(|t| t.stats());
        let total = s.as_ref().map_or(0, |s| s.total_bytes);
        let left = s.as_ref().map_or(0, |s| s.left_bytes);
        TorrentSummary {
            id: rec.id,
            info_hash: rec.info_hash.clone(),
            name: rec.name.clone(),
            phase: s.as_ref().map_or("error", |s| s.phase.as_str()).to_string(),
            progress: if total == 0 {
                if s.is_some() { 1.0 } else { 0.0 }
            } else {
                (total - left) as f64 / total as f64
            },
            have_pieces: s.as_ref().map_or(0, |s| s.have_pieces),
            num_pieces: s.as_ref().map_or(0, |s| s.num_pieces),
            total_bytes: total,
            left_bytes: left,
            downloaded: s.as_ref().map_or(0, |s| s.downloaded),
            uploaded: s.as_ref().map_or(0, |s| s.uploaded),
            down_rate: s.as_ref().map_or(0.0, |s| s.down_rate),
            up_rate: s.as_ref().map_or(0.0, |s| s.up_rate),
            peers: s.as_ref().map_or(0, |s| s.peers),
            download_dir: rec.download_dir.display().to_string(),
            paused: rec.paused,
            sequential: rec.sequential,
            down_limit: rec.down_limit,
            up_limit: rec.up_limit,
            added_at: rec.added_at,
            error: match &s {
                Some(s) => s.error.clone(),
                None => Some("not loaded (see the daemon's log)".into()),
            },
            market: self.market_summary(rec, left),
        }
    }

    /// The market columns of one torrent; `None` when the market is not trading.
    fn market_summary(&self, rec: &Record, left: u64) -> Option<MarketSummary> {
        let market = self.market_setup().market?;
        let ih = InfoHash::from_hex(&rec.info_hash).ok()?;
        let eff = market.strategy(Some(&ih));
        let report = market.report(&ih);
        let buying = left > 0 && eff.buyer.strategy != BuyerStrategy::Off;
        let selling = left == 0 && eff.seller.strategy != SellerStrategy::TitForTat;
        let price = match &report {
            Some(r) if buying => r
                .peers
                .iter()
                .filter_map(|p| p.my_bid)
                .max()
                .unwrap_or_default()
                .micro(),
            Some(r) => r.clearing.micro(),
            None => 0,
        };
        Some(MarketSummary {
            role: if buying {
                "buyer"
            } else if selling {
                "seller"
            } else {
                "plain"
            }
            .into(),
            buyer_strategy: eff.buyer.strategy.to_string(),
            seller_strategy: eff.seller.strategy.to_string(),
            price,
            paid: report.as_ref().map_or(0, |r| r.spent.micro()),
            earned: report.as_ref().map_or(0, |r| r.earned.micro()),
            peers: report.as_ref().map_or(0, |r| r.peers.len()),
        })
    }

    /// `strategy`: show, or set and persist, globally or for one torrent.
    async fn strategy(&self, a: StrategyArgs) -> Result<serde_json::Value, String> {
        let market = self.market_on()?;
        let params = params_of(&a.params)?;
        let rec = match &a.torrent {
            Some(sel) => Some(self.one(sel).await?),
            None => None,
        };
        let ih = match &rec {
            Some(r) => Some(InfoHash::from_hex(&r.info_hash).map_err(|e| e.to_string())?),
            None => None,
        };
        let scope = rec
            .as_ref()
            .map_or_else(|| "global".to_string(), |r| r.id.to_string());
        let eff = if a.name.is_none() && params.is_empty() {
            market.strategy(ih.as_ref())
        } else {
            let eff = market
                .set_strategy(ih.as_ref(), a.name.as_deref(), &params)
                .map_err(|e| e.to_string())?;
            match (&rec, &ih) {
                (Some(r), Some(ih)) => {
                    let ov = market.torrent_override(ih);
                    self.update_record(r.id, |r| r.strategy = ov).await?;
                }
                _ => {
                    let mut reg = self.reg.lock().await;
                    reg.market = Some(SavedStrategies {
                        buyer: eff.buyer.clone(),
                        seller: eff.seller.clone(),
                    });
                    self.persist(&reg).await?;
                }
            }
            eff
        };
        to_value(StrategyInfo {
            scope,
            buyer: eff.buyer,
            seller: eff.seller,
        })
    }

    /// `wallet`: read through the daemon, which holds the wallet's lock while it runs.
    async fn wallet(
        &self,
        history: Option<usize>,
        with_payments: bool,
    ) -> Result<serde_json::Value, String> {
        let m = self.market_setup();
        let Some(wallet) = m.wallet else {
            return Err(if m.enabled {
                format!("market {}", m.status())
            } else {
                "the market is off, so the daemon does not hold the wallet; use `bidtorrent wallet` while it runs, or enable `[market]`".into()
            });
        };
        let mut fresh = false;
        if let Some(market) = &m.market {
            // A slow ledger must not hang the control socket.
            fresh = matches!(
                tokio::time::timeout(Duration::from_secs(3), wallet.refresh(market.ledger())).await,
                Ok(Ok(_))
            );
        }
        let err = |e: crate::wallet::WalletError| e.to_string();
        let outgoing = wallet.out_channels().map_err(err)?;
        let incoming = wallet.in_channels().map_err(err)?;
        let mut hist = wallet.history().map_err(err)?;
        let mut payments = Vec::new();
        if with_payments {
            for c in &outgoing {
                if let Some(voucher) = wallet
                    .current_voucher(&c.certificate.channel)
                    .map_err(err)?
                {
                    payments.push(crate::wallet::cli::Payment {
                        certificate: c.certificate.clone(),
                        voucher,
                    });
                }
            }
        }
        let keep = history.unwrap_or(20);
        if hist.len() > keep {
            hist.drain(..hist.len() - keep);
        }
        to_value(WalletInfo {
            public_key: wallet.public_key().to_string(),
            ledger: m.ledger_addr.clone(),
            balance: wallet.balance().map_err(err)?.micro(),
            fresh,
            paid: outgoing.iter().map(|c| c.spent.micro()).sum(),
            earned: incoming.iter().map(|c| c.earned().micro()).sum(),
            redeemed: incoming.iter().map(|c| c.redeemed.micro()).sum(),
            outgoing,
            incoming,
            history: hist,
            payments,
        })
    }

    pub async fn list(&self) -> Vec<TorrentSummary> {
        let recs = self.reg.lock().await.torrents.clone();
        recs.iter().map(|r| self.summary(r)).collect()
    }

    async fn one(&self, sel: &str) -> Result<Record, String> {
        let reg = self.reg.lock().await;
        let id = Self::resolve(&reg, sel)?;
        reg.torrents
            .iter()
            .find(|r| r.id == id)
            .cloned()
            .ok_or_else(|| format!("no torrent with id {id}"))
    }

    /// Answers one request (everything but `subscribe`).
    pub async fn handle(self: &Arc<Self>, cmd: Command) -> Result<serde_json::Value, String> {
        match cmd {
            Command::Status => {
                let list = self.list().await;
                let dht = match self.session.dht() {
                    Some(d) => Some(crate::rpc::proto::DhtStatus {
                        addr: d.local_addr().to_string(),
                        nodes: d.nodes().await.len(),
                    }),
                    None => None,
                };
                to_value(Status {
                    version: env!("CARGO_PKG_VERSION").into(),
                    protocol: PROTOCOL_VERSION,
                    pid: std::process::id(),
                    listen_port: self.session.listen_port(),
                    data_dir: self.cfg.data_dir.display().to_string(),
                    download_dir: self.cfg.download_dir.display().to_string(),
                    torrents: list.len(),
                    down_limit: self.session.ctx.global_down.rate(),
                    up_limit: self.session.ctx.global_up.rate(),
                    down_rate: list.iter().map(|t| t.down_rate).sum(),
                    up_rate: list.iter().map(|t| t.up_rate).sum(),
                    market: self.market_setup().status(),
                    dht,
                })
            }
            Command::Add(a) => {
                let dir = a.dir.map(PathBuf::from);
                // A bad strategy or parameter is the same mistake for every item: refuse the
                // request before anything is added.
                let choice = if a.strategy.is_some() || !a.params.is_empty() {
                    let market = self.market_on()?;
                    let choice = StrategyChoice {
                        name: a.strategy.clone(),
                        params: params_of(&a.params)?,
                    };
                    let mut probe = market.config();
                    probe
                        .set(
                            Some(&"0".repeat(40)),
                            choice.name.as_deref(),
                            &choice.params,
                        )
                        .map_err(|e| e.to_string())?;
                    Some(choice)
                } else {
                    None
                };
                let mut results = Vec::with_capacity(a.sources.len());
                for src in &a.sources {
                    let r = self
                        .add_with(
                            src,
                            dir.clone(),
                            a.paused,
                            a.sequential,
                            &a.peers,
                            choice.as_ref(),
                        )
                        .await;
                    if let Some(m) = r.message.as_ref().filter(|_| !r.ok) {
                        tracing::warn!("add {src}: {m}");
                    }
                    results.push(r);
                }
                to_value(BatchResult { results })
            }
            Command::List => to_value(self.list().await),
            Command::Info { torrent } => {
                let rec = self.one(&torrent).await?;
                let t = self.torrent_of(&rec)?;
                let base = rec.download_dir.clone();
                let files = t
                    .storage
                    .file_paths()
                    .into_iter()
                    .zip(t.meta.info.files.iter().filter(|f| !f.pad))
                    .map(|(p, f)| FileInfo {
                        path: p.strip_prefix(&base).unwrap_or(&p).display().to_string(),
                        length: f.length,
                    })
                    .collect();
                to_value(TorrentInfo {
                    summary: self.summary(&rec),
                    piece_length: t.meta.info.piece_length,
                    private: t.meta.info.private,
                    comment: t.meta.comment.clone(),
                    trackers: t.meta.announce_tiers.clone(),
                    files,
                    torrent_file: rec.torrent_file.display().to_string(),
                    market_report: self
                        .market_setup()
                        .market
                        .and_then(|m| m.report(&t.info_hash())),
                })
            }
            Command::Peers { torrent } => {
                let rec = self.one(&torrent).await?;
                let t = self.torrent_of(&rec)?;
                let n = t.meta.num_pieces().max(1);
                let mut peers: Vec<PeerInfo> = t
                    .peers()
                    .into_iter()
                    .map(|p| PeerInfo {
                        addr: p.addr.to_string(),
                        client: p.client,
                        outgoing: p.outgoing,
                        progress: p.have_pieces as f64 / n as f64,
                        down_rate: p.down_rate,
                        up_rate: p.up_rate,
                        downloaded: p.downloaded,
                        uploaded: p.uploaded,
                        am_choking: p.am_choking,
                        am_interested: p.am_interested,
                        peer_choking: p.peer_choking,
                        peer_interested: p.peer_interested,
                    })
                    .collect();
                peers.sort_by(|a, b| a.addr.cmp(&b.addr));
                to_value(PeerList { id: rec.id, peers })
            }
            Command::Pieces { torrent } => {
                let rec = self.one(&torrent).await?;
                let t = self.torrent_of(&rec)?;
                let have = t.have();
                let flags: Vec<bool> = (0..have.len()).map(|i| have.get(i)).collect();
                to_value(PieceState {
                    id: rec.id,
                    num_pieces: flags.len(),
                    have: bitfield_hex(&flags),
                    downloading: t.downloading_pieces(),
                    availability: t.piece_availability(),
                })
            }
            Command::Files { torrent } => {
                let rec = self.one(&torrent).await?;
                let t = self.torrent_of(&rec)?;
                to_value(FileList {
                    id: rec.id,
                    files: file_states(&rec, &t),
                })
            }
            Command::Prio {
                torrent,
                files,
                priority,
            } => {
                if !PRIORITIES.contains(&priority.as_str()) {
                    return Err(format!(
                        "unknown priority {priority:?}: use high, normal, low or skip"
                    ));
                }
                let rec = self.one(&torrent).await?;
                let t = self.torrent_of(&rec)?;
                let n = real_files(&t).len();
                if let Some(bad) = files.iter().find(|&&i| i >= n) {
                    return Err(format!(
                        "#{}: no file {bad} (files are numbered 0 to {})",
                        rec.id,
                        n.saturating_sub(1)
                    ));
                }
                let mut prios = rec.priorities.clone();
                prios.resize(n, "normal".into());
                if files.is_empty() {
                    prios.iter_mut().for_each(|p| p.clone_from(&priority));
                } else {
                    for &i in &files {
                        prios[i].clone_from(&priority);
                    }
                }
                apply_priorities(&t, &prios);
                let saved = prios.clone();
                self.update_record(rec.id, move |r| r.priorities = saved)
                    .await?;
                let mut rec = rec;
                rec.priorities = prios;
                to_value(FileList {
                    id: rec.id,
                    files: file_states(&rec, &t),
                })
            }
            Command::Trackers { torrent } => {
                let rec = self.one(&torrent).await?;
                let t = self.torrent_of(&rec)?;
                to_value(TrackerList {
                    id: rec.id,
                    trackers: t
                        .tracker_status()
                        .iter()
                        .map(TrackerState::from_status)
                        .collect(),
                })
            }
            Command::Pause(t) => to_value(
                self.batch(&t, |ctl, rec| async move {
                    let tor = ctl.torrent_of(&rec)?;
                    let changed = tor.pause().await;
                    ctl.update_record(rec.id, |r| r.paused = true).await?;
                    if changed {
                        let _ = ctl.events.send(Event::Paused { id: rec.id });
                        Ok(None)
                    } else {
                        Ok(Some("already paused".into()))
                    }
                })
                .await,
            ),
            Command::Resume(t) => to_value(
                self.batch(&t, |ctl, rec| async move {
                    let tor = ctl.torrent_of(&rec)?;
                    // Persist first, then resume and say so at once: a small torrent can
                    // complete while a state write is still syncing, and subscribers must see
                    // `resumed` before `complete`.
                    ctl.update_record(rec.id, |r| r.paused = false).await?;
                    let changed = tor.resume();
                    if changed {
                        let _ = ctl.events.send(Event::Resumed { id: rec.id });
                        Ok(None)
                    } else {
                        Ok(Some("was not paused".into()))
                    }
                })
                .await,
            ),
            Command::Recheck(t) => to_value(
                self.batch(&t, |ctl, rec| async move {
                    let tor = ctl.torrent_of(&rec)?;
                    let r = tor.force_recheck().await?;
                    Ok(Some(format!(
                        "{} of {} pieces verified",
                        r.have,
                        tor.meta.num_pieces()
                    )))
                })
                .await,
            ),
            Command::Reannounce(t) => to_value(
                self.batch(&t, |ctl, rec| async move {
                    let tor = ctl.torrent_of(&rec)?;
                    let n = tor.reannounce().await?;
                    Ok(Some(format!("tracker returned {n} peers")))
                })
                .await,
            ),
            Command::Remove {
                targets,
                delete_data,
            } => to_value(
                self.batch(&targets, move |ctl, rec| async move {
                    ctl.remove(rec, delete_data).await
                })
                .await,
            ),
            Command::Limit(l) => self.limit(l).await,
            Command::Strategy(a) => self.strategy(a).await,
            Command::Market { torrent } => {
                let market = self.market_on()?;
                let rec = self.one(&torrent).await?;
                let t = self.torrent_of(&rec)?;
                let report = market
                    .report(&t.info_hash())
                    .ok_or_else(|| format!("#{}: no market state yet", rec.id))?;
                to_value(report)
            }
            Command::Wallet { history, payments } => self.wallet(history, payments).await,
            Command::Accept { payments } => {
                let wallet = self
                    .market_setup()
                    .wallet
                    .ok_or_else(|| "the daemon holds no wallet (the market is off)".to_string())?;
                let results: Vec<Accepted> = payments
                    .iter()
                    .map(
                        |p| match wallet.accept_voucher(&p.voucher, &p.certificate) {
                            Ok(e) => Accepted {
                                channel: p.certificate.channel.to_string(),
                                ok: true,
                                earned: Some(e),
                                refused: None,
                                message: None,
                            },
                            Err(r) => Accepted {
                                channel: p.certificate.channel.to_string(),
                                ok: false,
                                earned: None,
                                refused: Some(r.code().to_string()),
                                message: Some(r.to_string()),
                            },
                        },
                    )
                    .collect();
                Ok(serde_json::json!({ "results": results }))
            }
            Command::Subscribe { .. } => Err("subscribe is handled by the connection".into()),
            Command::Shutdown => {
                let _ = self.shutdown.send(true);
                Ok(serde_json::json!({}))
            }
        }
    }

    async fn remove(&self, rec: Record, delete_data: bool) -> Result<Option<String>, String> {
        let ih = InfoHash::from_hex(&rec.info_hash).map_err(|e| e.to_string())?;
        // Forget it first: once the state file no longer lists it, a crash cannot bring back a
        // torrent whose data is half deleted.
        {
            let mut reg = self.reg.lock().await;
            reg.torrents.retain(|r| r.id != rec.id);
            self.persist(&reg).await?;
        }
        let _ = std::fs::remove_file(&rec.torrent_file);
        // Forget its strategy too, so adding it again starts from the global one.
        if let Some(m) = self.market_setup().market {
            let _ = m.set_torrent_override(&ih, None);
        }
        let note = if delete_data {
            match self.session.remove_and_delete(&ih).await {
                Ok(_) => Some("data deleted".to_string()),
                Err(e) => {
                    let _ = self.events.send(Event::Removed {
                        id: rec.id,
                        info_hash: rec.info_hash.clone(),
                    });
                    return Err(format!("removed, but deleting its data failed: {e}"));
                }
            }
        } else {
            self.session.remove(&ih).await;
            let _ =
                std::fs::remove_file(crate::engine::resume::resume_path(&self.cfg.data_dir, &ih));
            None
        };
        let _ = self.events.send(Event::Removed {
            id: rec.id,
            info_hash: rec.info_hash,
        });
        Ok(note)
    }

    async fn limit(&self, l: LimitArgs) -> Result<serde_json::Value, String> {
        match l.torrent {
            None => {
                let down = l
                    .down
                    .unwrap_or_else(|| self.session.ctx.global_down.rate());
                let up = l.up.unwrap_or_else(|| self.session.ctx.global_up.rate());
                if l.down.is_some() || l.up.is_some() {
                    self.session.set_limits(down, up);
                    let mut reg = self.reg.lock().await;
                    reg.down_limit = Some(down);
                    reg.up_limit = Some(up);
                    self.persist(&reg).await?;
                }
                to_value(Limits {
                    scope: "global".into(),
                    down,
                    up,
                })
            }
            Some(sel) => {
                let rec = self.one(&sel).await?;
                let t = self.torrent_of(&rec)?;
                let down = l.down.unwrap_or(rec.down_limit);
                let up = l.up.unwrap_or(rec.up_limit);
                t.down_limit.set_rate(down);
                t.up_limit.set_rate(up);
                self.update_record(rec.id, |r| {
                    r.down_limit = down;
                    r.up_limit = up;
                })
                .await?;
                to_value(Limits {
                    scope: rec.id.to_string(),
                    down,
                    up,
                })
            }
        }
    }

    /// Clean stop: every torrent writes resume data and announces `stopped`, then the state
    /// is written one last time and subscribers are told.
    pub async fn finish(&self) {
        self.session.shutdown().await;
        let reg = self.reg.lock().await;
        if let Err(e) = self.persist(&reg).await {
            tracing::error!("saving the session: {e}");
        }
        let _ = self.events.send(Event::Shutdown);
    }
}

/// Waits until the flag is true (or its sender is gone), without holding the borrow across
/// an await (it is not `Send`).
pub async fn until_true(rx: &mut watch::Receiver<bool>) {
    let _ = rx.wait_for(|s| *s).await.map(|_| ());
}

/// A strategy name and parameters given with `add`.
pub struct StrategyChoice {
    pub name: Option<String>,
    pub params: Vec<(String, String)>,
}

/// Parameters as the market takes them: strings, from JSON strings, numbers or booleans.
fn params_of(
    p: &std::collections::BTreeMap<String, serde_json::Value>,
) -> Result<Vec<(String, String)>, String> {
    p.iter()
        .map(|(k, v)| match v {
            serde_json::Value::String(s) => Ok((k.clone(), s.clone())),
            serde_json::Value::Number(n) => Ok((k.clone(), n.to_string())),
            serde_json::Value::Bool(b) => Ok((k.clone(), b.to_string())),
            other => Err(format!(
                "param '{k}': expected a string or a number, not {other}"
            )),
        })
        .collect()
}

const PRIORITIES: &[&str] = &["high", "normal", "low", "skip"];

/// Indices into `meta.info.files` of the files `files` and `prio` number (padding is hidden).
fn real_files(t: &Torrent) -> Vec<usize> {
    t.meta.info.real_files().map(|(i, _)| i).collect()
}

/// Only `skip` changes what is fetched; the engine's picker has no finer levels yet, so
/// `high` and `low` are kept and shown but fetch like `normal`.
fn apply_priorities(t: &Torrent, prios: &[String]) {
    let real = real_files(t);
    let skipped: Vec<usize> = prios
        .iter()
        .enumerate()
        .filter(|(_, p)| p.as_str() == "skip")
        .filter_map(|(i, _)| real.get(i).copied())
        .collect();
    t.set_wanted_pieces(crate::engine::torrent::wanted_without(&t.meta, &skipped));
}

fn file_states(rec: &Record, t: &Torrent) -> Vec<FileState> {
    let have = t.have();
    let paths = t.storage.file_paths();
    real_files(t)
        .into_iter()
        .zip(paths)
        .enumerate()
        .map(|(index, (fi, p))| FileState {
            index,
            path: p
                .strip_prefix(&rec.download_dir)
                .unwrap_or(&p)
                .display()
                .to_string(),
            length: t.meta.info.files[fi].length,
            progress: crate::engine::torrent::file_progress(&t.meta, &have, fi),
            priority: rec
                .priorities
                .get(index)
                .cloned()
                .unwrap_or_else(|| "normal".into()),
        })
        .collect()
}

fn to_value<T: Serialize>(v: T) -> Result<serde_json::Value, String> {
    serde_json::to_value(v).map_err(|e| e.to_string())
}

fn map_event(id: u32, t: &Torrent, ev: TorrentEvent) -> Option<Event> {
    Some(match ev {
        TorrentEvent::Checking => Event::Checking { id },
        TorrentEvent::Checked { have, hashed } => Event::Checked { id, have, hashed },
        TorrentEvent::Complete => Event::Complete {
            id,
            name: t.meta.info.name.clone(),
        },
        TorrentEvent::HashFailed { piece } => Event::HashFailed { id, piece },
        TorrentEvent::PeerBanned(ip) => Event::PeerBanned {
            id,
            ip: ip.to_string(),
        },
        TorrentEvent::TrackerError(message) => Event::TrackerError { id, message },
        TorrentEvent::Error(message) => Event::Error { id, message },
        TorrentEvent::PieceVerified(_) | TorrentEvent::Seeding => return None,
    })
}

/// Accepts connections until `stop` turns true. Each connection gets the greeting, then
/// requests are answered in order.
pub async fn serve(listener: UnixListener, ctl: Arc<Controller>, mut stop: watch::Receiver<bool>) {
    loop {
        tokio::select! {
            acc = listener.accept() => match acc {
                Ok((stream, _)) => {
                    let ctl = ctl.clone();
                    tokio::spawn(async move { connection(stream, ctl).await });
                }
                Err(e) => {
                    tracing::warn!("control socket: accept: {e}");
                    tokio::time::sleep(Duration::from_millis(100)).await;
                }
            },
            _ = until_true(&mut stop) => return,
        }
    }
}

async fn write_line<W: AsyncWriteExt + Unpin, T: Serialize>(w: &mut W, v: &T) -> bool {
    let Ok(mut line) = serde_json::to_vec(v) else {
        return false;
    };
    line.push(b'\n');
    w.write_all(&line).await.is_ok() && w.flush().await.is_ok()
}

/// Reads one line of at most `MAX_LINE` bytes. `Ok(None)` at end of stream.
async fn read_line<R: AsyncBufReadExt + Unpin>(r: &mut R) -> std::io::Result<Option<String>> {
    let mut buf = Vec::new();
    loop {
        let chunk = r.fill_buf().await?;
        if chunk.is_empty() {
            return Ok(if buf.is_empty() {
                None
            } else {
                Some(String::from_utf8_lossy(&buf).into_owned())
            });
        }
        if let Some(i) = chunk.iter().position(|&b| b == b'\n') {
            buf.extend_from_slice(&chunk[..i]);
            r.consume(i + 1);
            return Ok(Some(String::from_utf8_lossy(&buf).into_owned()));
        }
        let n = chunk.len();
        buf.extend_from_slice(chunk);
        r.consume(n);
        if buf.len() > MAX_LINE {
            return Err(std::io::Error::new(
                std::io::ErrorKind::InvalidData,
                "request line too long",
            ));
        }
    }
}

async fn connection(stream: tokio::net::UnixStream, ctl: Arc<Controller>) {
    let (r, mut w) = stream.into_split();
    let mut r = BufReader::new(r);
    let hello = Hello {
        bidtorrent: PROTOCOL_VERSION,
        version: env!("CARGO_PKG_VERSION").into(),
        pid: std::process::id(),
    };
    if !write_line(&mut w, &hello).await {
        return;
    }
    loop {
        let line = match read_line(&mut r).await {
            Ok(Some(l)) => l,
            Ok(None) => return,
            Err(e) => {
                let resp = Response {
                    id: 0,
                    ok: false,
                    result: None,
                    error: Some(format!("bad request: {e}")),
                };
                write_line(&mut w, &resp).await;
                return;
            }
        };
        if line.trim().is_empty() {
            continue;
        }
        let req: Request = match serde_json::from_str(&line) {
            Ok(r) => r,
            Err(e) => {
                let id = serde_json::from_str::<serde_json::Value>(&line)
                    .ok()
                    .and_then(|v| v.get("id").and_then(|i| i.as_u64()))
                    .unwrap_or(0);
                let resp = Response {
                    id,
                    ok: false,
                    result: None,
                    error: Some(format!("bad request: {e}")),
                };
                if !write_line(&mut w, &resp).await {
                    return;
                }
                continue;
            }
        };
        if let Command::Subscribe { interval_ms } = req.cmd {
            let rx = ctl.events.subscribe();
            let ok = Response {
                id: req.id,
                ok: true,
                result: Some(serde_json::json!({})),
                error: None,
            };
            if write_line(&mut w, &ok).await {
                stream_events(r, w, ctl, rx, interval_ms).await;
            }
            return;
        }
        let resp = match ctl.handle(req.cmd).await {
            Ok(v) => Response {
                id: req.id,
                ok: true,
                result: Some(v),
                error: None,
            },
            Err(e) => Response {
                id: req.id,
                ok: false,
                result: None,
                error: Some(e),
            },
        };
        if !write_line(&mut w, &resp).await {
            return;
        }
    }
}

async fn stream_events(
    mut r: BufReader<tokio::net::unix::OwnedReadHalf>,
    mut w: tokio::net::unix::OwnedWriteHalf,
    ctl: Arc<Controller>,
    mut rx: broadcast::Receiver<Event>,
    interval_ms: u64,
) {
    let period = Duration::from_millis(interval_ms.max(100));
    let mut tick = tokio::time::interval(period);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut sink = Vec::new();
    loop {
        let ev = tokio::select! {
            ev = rx.recv() => match ev {
                Ok(e) => e,
                Err(broadcast::error::RecvError::Lagged(missed)) => Event::Lagged { missed },
                Err(broadcast::error::RecvError::Closed) => return,
            },
            _ = tick.tick(), if interval_ms > 0 => Event::Stats { torrents: ctl.list().await },
            // Anything the client sends after subscribing is ignored; end of stream ends it.
            n = tokio::io::AsyncReadExt::read_buf(&mut r, &mut sink) => {
                if matches!(n, Ok(0) | Err(_)) {
                    return;
                }
                sink.clear();
                continue;
            }
        };
        let last = matches!(ev, Event::Shutdown);
        if !write_line(&mut w, &ev).await || last {
            return;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn reg(hashes: &[(u32, &str)]) -> SavedState {
        SavedState {
            torrents: hashes
                .iter()
                .map(|(id, h)| Record {
                    id: *id,
                    info_hash: h.to_string(),
                    name: format!("t{id}"),
                    torrent_file: "/x".into(),
                    download_dir: "/d".into(),
                    paused: false,
                    sequential: false,
                    down_limit: 0,
                    up_limit: 0,
                    peers: vec![],
                    added_at: 0,
                    strategy: None,
                    priorities: vec![],
                })
                .collect(),
            ..SavedState::default()
        }
    }

    #[test]
    fn selectors() {
        let a = format!("abcdef01{}", "0".repeat(32));
        let b = format!("abcdef02{}", "0".repeat(32));
        let r = reg(&[(1, &a), (12, &b)]);
        assert_eq!(Controller::resolve(&r, "12"), Ok(12));
        assert_eq!(Controller::resolve(&r, "#1"), Ok(1));
        assert!(Controller::resolve(&r, "3").is_err());
        assert_eq!(Controller::resolve(&r, "ABCDEF02"), Ok(12));
        let amb = Controller::resolve(&r, "abcdef0").expect_err("7 chars is too short");
        assert!(amb.contains("neither"), "{amb}");
        let e = Controller::resolve(&r, "abcdef00").expect_err("none");
        assert!(e.contains("no torrent"), "{e}");
        let r2 = reg(&[(1, &a), (2, &a)]);
        let e = Controller::resolve(&r2, "abcdef01").expect_err("ambiguous");
        assert!(e.contains("#1, #2"), "{e}");
    }
}
