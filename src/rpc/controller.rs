//! The application core: a [`Controller`] that owns the session's torrent list (ids,
//! settings, persistence) and answers every request of the control protocol (RPC.md). The
//! daemon serves it on its control socket ([`super::server`]); the standalone dashboard calls
//! it in this process ([`super::control::Local`]). Rows are built by [`super::view`].

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use serde::Serialize;
use tokio::sync::{Mutex, broadcast, watch};

use super::host::MarketSetup;
use super::proto::*;
use super::saved::{self as state, Record, SavedState, SavedStrategies};
use super::view;
use crate::engine::metainfo::Metainfo;
use crate::engine::session::Session;
use crate::engine::storage::sanitize_component;
use crate::engine::torrent::{Torrent, TorrentOptions};
use crate::engine::types::InfoHash;
use crate::market::Market;
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
    /// Keep the torrent list (and a copy of each .torrent) in the data dir so a restart
    /// restores it. The daemon persists; the standalone dashboard does not unless asked.
    pub persist: bool,
    /// `[seeding]`: the global seeding rules until `seed` changes them.
    pub seeding: GlobalSeeding,
}

pub struct Controller {
    pub session: Arc<Session>,
    cfg: ControllerConfig,
    market: std::sync::RwLock<MarketSetup>,
    /// The session's torrents as persisted; the lock also serialises adds and removes so ids
    /// and the state file stay consistent.
    reg: Mutex<SavedState>,
    /// Writes `reg` incrementally (saved.rs); saves are serialised by `reg`'s lock.
    journal: std::sync::Mutex<Option<state::Journal>>,
    events: broadcast::Sender<Event>,
    shutdown: watch::Sender<bool>,
    /// The global seeding rules in force.
    seeding: std::sync::Mutex<GlobalSeeding>,
    /// What the seeding task remembers between rounds (idle time, earnings), by torrent id.
    seed_tracks: std::sync::Mutex<std::collections::HashMap<u32, super::seeding::Track>>,
}

fn now_unix() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0)
}

/// How an `add` source carries a .torrent's bytes inline (the Transmission door's `metainfo`
/// and fetched URLs, or any client without a shared filesystem).
pub const DATA_URI: &str = "data:application/x-bittorrent;base64,";

/// Standard base64 (RFC 4648, padding optional, whitespace ignored); `None` when malformed.
pub fn base64_decode(s: &str) -> Option<Vec<u8>> {
    let mut out = Vec::with_capacity(s.len() / 4 * 3);
    let mut acc: u32 = 0;
    let mut bits = 0;
    let mut pad = 0;
    for c in s.bytes() {
        let v = match c {
            b'A'..=b'Z' => c - b'A',
            b'a'..=b'z' => c - b'a' + 26,
            b'0'..=b'9' => c - b'0' + 52,
            b'+' | b'-' => 62,
            b'/' | b'_' => 63,
            b'=' => {
                pad += 1;
                continue;
            }
            b' ' | b'\n' | b'\r' | b'\t' => continue,
            _ => return None,
        };
        // Data after padding is malformed.
        if pad > 0 {
            return None;
        }
        acc = (acc << 6) | u32::from(v);
        bits += 6;
        if bits >= 8 {
            bits -= 8;
            out.push((acc >> bits) as u8);
            acc &= (1 << bits) - 1;
        }
    }
    // A lone 6-bit group cannot end a valid encoding.
    (bits < 6 && pad <= 2).then_some(out)
}

/// Standard base64 with padding (the inverse of [`base64_decode`]).
pub fn base64_encode(bytes: &[u8]) -> String {
    const ABC: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::with_capacity(bytes.len().div_ceil(3) * 4);
    for c in bytes.chunks(3) {
        let n = (u32::from(c[0]) << 16)
            | (u32::from(c.get(1).copied().unwrap_or(0)) << 8)
            | u32::from(c.get(2).copied().unwrap_or(0));
        for i in 0..4 {
            if i <= c.len() {
                out.push(char::from(ABC[((n >> (18 - 6 * i)) & 63) as usize]));
            } else {
                out.push('=');
            }
        }
    }
    out
}

/// Labels as given, checked: non-empty, at most 64 characters, no commas (Transmission
/// separates them with commas) and no control characters; duplicates dropped.
pub fn check_labels(labels: &[String]) -> Result<Vec<String>, String> {
    let mut out: Vec<String> = Vec::new();
    for l in labels {
        let t = l.trim();
        if t.is_empty() {
            return Err("a label cannot be empty".into());
        }
        if t.chars().count() > 64 {
            return Err(format!("label {:?}: at most 64 characters", t));
        }
        if t.contains(',') || t.chars().any(char::is_control) {
            return Err(format!("label {:?}: no commas or control characters", t));
        }
        if !out.iter().any(|o| o == t) {
            out.push(t.to_string());
        }
    }
    Ok(out)
}

/// What an `add` sets besides the download options.
#[derive(Debug, Clone, Default)]
pub struct AddExtras {
    pub labels: Vec<String>,
    pub seed: SeedRules,
    /// A market strategy for it, already validated.
    pub strategy: Option<StrategyChoice>,
    /// One of many sources in one request: saved with the others by
    /// [`Controller::commit_adds`] (one flush for the batch) and started only then.
    pub batch: bool,
}

/// An add of a batch, in the session but not yet durable nor started.
struct PendingAdd {
    id: u32,
    torrent: Arc<Torrent>,
    copy: PathBuf,
    market: Option<Market>,
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
        let fetched = session
            .fetch_magnet(
                &magnet,
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
    if super::fetch::is_url(source) {
        let url = source.to_string();
        let bytes = tokio::task::spawn_blocking(move || super::fetch::torrent(&url))
            .await
            .map_err(|e| e.to_string())??;
        let meta = Metainfo::from_bytes(&bytes).map_err(|e| format!("not a valid torrent: {e}"))?;
        return Ok((meta, bytes, Vec::new()));
    }
    if let Some(data) = source.strip_prefix(DATA_URI) {
        let bytes = base64_decode(data).ok_or("the data: source is not valid base64")?;
        let meta = Metainfo::from_bytes(&bytes).map_err(|e| format!("not a valid torrent: {e}"))?;
        return Ok((meta, bytes, Vec::new()));
    }
    let path = Path::new(source);
    if !path.is_absolute() {
        return Err(
            "the path must be absolute (the daemon does not share your working directory)".into(),
        );
    }
    let owned = path.to_path_buf();
    let bytes = tokio::task::spawn_blocking(move || read_torrent_file(&owned))
        .await
        .map_err(|e| e.to_string())??;
    let meta = Metainfo::from_bytes(&bytes).map_err(|e| format!("not a valid torrent: {e}"))?;
    Ok((meta, bytes, Vec::new()))
}

/// A .torrent larger than this is refused before it is read: the biggest real ones are a few
/// MiB (piece hashes of a multi-TiB torrent), and `add` once read a 1.5 GiB file whole.
pub const MAX_TORRENT_FILE: u64 = 64 * 1024 * 1024;

/// Reads a .torrent named by a client: a regular file of at most [`MAX_TORRENT_FILE`] bytes.
/// Opened non-blocking, so a FIFO (or a device) is refused at once instead of blocking the
/// add for good.
fn read_torrent_file(path: &Path) -> Result<Vec<u8>, String> {
    use std::io::Read;
    use std::os::unix::fs::OpenOptionsExt;
    let file = std::fs::OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NONBLOCK)
        .open(path)
        .map_err(|e| format!("cannot read the file: {e}"))?;
    let meta = file
        .metadata()
        .map_err(|e| format!("cannot read the file: {e}"))?;
    if !meta.is_file() {
        return Err("not a regular file".into());
    }
    if meta.len() > MAX_TORRENT_FILE {
        return Err(format!(
            "{} bytes is too big for a .torrent (at most {})",
            meta.len(),
            crate::units::bytes(MAX_TORRENT_FILE)
        ));
    }
    // Bounded again while reading: the file may grow after the stat.
    let mut bytes = Vec::with_capacity(meta.len() as usize);
    file.take(MAX_TORRENT_FILE + 1)
        .read_to_end(&mut bytes)
        .map_err(|e| format!("cannot read the file: {e}"))?;
    if bytes.len() as u64 > MAX_TORRENT_FILE {
        return Err(format!(
            "too big for a .torrent (at most {})",
            crate::units::bytes(MAX_TORRENT_FILE)
        ));
    }
    Ok(bytes)
}

impl Controller {
    pub fn new(session: Arc<Session>, cfg: ControllerConfig) -> Arc<Controller> {
        let (events, _) = broadcast::channel(4096);
        let cfg_seeding = cfg.seeding.clone();
        Arc::new(Controller {
            session,
            cfg,
            reg: Mutex::new(SavedState {
                version: state::STATE_VERSION,
                next_id: 1,
                ..SavedState::default()
            }),
            journal: Default::default(),
            events,
            shutdown: watch::channel(false).0,
            market: std::sync::RwLock::new(MarketSetup::default()),
            seeding: std::sync::Mutex::new(cfg_seeding),
            seed_tracks: Default::default(),
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

    /// Makes `st` durable, `change` being what differs from the last save. Call with the
    /// registry lock held (`st` is what it guards), which keeps saves in order.
    async fn persist(&self, st: &SavedState, change: state::Change) -> Result<(), String> {
        if !self.cfg.persist {
            return Ok(());
        }
        // The bytes are made here, from the borrowed state (only the changed records, unless
        // a fold is due); only the writing and syncing go to a blocking thread.
        let pending = self
            .journal
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .get_or_insert_with(|| state::Journal::new(&self.state_path()))
            .prepare(st, &change)
            .map_err(|e| e.to_string())?;
        let out = tokio::task::spawn_blocking(move || pending.write())
            .await
            .map_err(|e| e.to_string())?;
        if let Some(j) = self
            .journal
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .as_mut()
        {
            j.finished(&out);
        }
        out.map(|_| ()).map_err(|e| e.to_string())
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
        if let Some(g) = &saved.seeding {
            *self.seeding.lock().unwrap_or_else(|p| p.into_inner()) = g.clone();
        }
        reg.seeding = saved.seeding.clone();
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
                            if let Some(e) = view::event(id, &tt, ev) {
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
        self.add_with(
            source,
            dir,
            paused,
            sequential,
            peers,
            &AddExtras::default(),
        )
        .await
        .0
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
        extras: &AddExtras,
    ) -> (ItemResult, Option<PendingAdd>) {
        let mut res = ItemResult {
            item: source.to_string(),
            ..ItemResult::default()
        };
        let mut pending = None;
        match self
            .try_add(source, dir, paused, sequential, peers, extras)
            .await
        {
            Ok((id, ih, name, p)) => {
                res.ok = true;
                res.id = Some(id);
                res.info_hash = Some(ih);
                res.name = Some(name);
                pending = p;
            }
            Err(e) => {
                // Already in the session: say which torrent, so a client can use it.
                if let Some(dup) = self.duplicate_of(source).await {
                    res.duplicate = true;
                    res.id = Some(dup.id);
                    res.info_hash = Some(dup.info_hash);
                    res.name = Some(dup.name);
                }
                res.message = Some(e);
            }
        }
        (res, pending)
    }

    /// Makes a batch of adds durable with one flush of the copies and one save, then starts
    /// them; if that fails, takes every one of them back and says so in its result.
    async fn commit_adds(self: &Arc<Self>, pending: Vec<PendingAdd>, results: &mut [ItemResult]) {
        let ids: Vec<u32> = pending.iter().map(|p| p.id).collect();
        let saved = if self.cfg.persist {
            let dir = self.cfg.data_dir.join("torrents");
            let synced = tokio::task::spawn_blocking(move || state::sync_filesystem(&dir))
                .await
                .map_err(|e| e.to_string())
                .and_then(|r| r.map_err(|e| e.to_string()));
            match synced {
                Ok(()) => {
                    let reg = self.reg.lock().await;
                    self.persist(&reg, state::Change::upsert(ids.clone())).await
                }
                Err(e) => Err(e),
            }
        } else {
            Ok(())
        };
        if let Err(e) = saved {
            self.reg
                .lock()
                .await
                .torrents
                .retain(|r| !ids.contains(&r.id));
            for p in &pending {
                let ih = p.torrent.info_hash();
                self.session.remove(&ih).await;
                if self.cfg.persist {
                    let _ = std::fs::remove_file(&p.copy);
                }
                if let Some(m) = &p.market {
                    let _ = m.set_torrent_override(&ih, None);
                }
            }
            for r in results
                .iter_mut()
                .filter(|r| r.id.is_some_and(|id| ids.contains(&id)))
            {
                r.ok = false;
                r.message = Some(format!("saving the session: {e}"));
            }
            return;
        }
        for p in pending {
            let (hex, name) = (
                p.torrent.info_hash().to_hex(),
                p.torrent.meta.info.name.clone(),
            );
            self.launch(p.id, p.torrent);
            let _ = self.events.send(Event::Added {
                id: p.id,
                info_hash: hex,
                name,
            });
        }
    }

    /// The record of the torrent a source names, when it is already in the session.
    async fn duplicate_of(&self, source: &str) -> Option<Record> {
        let hex = if source.starts_with("magnet:") {
            crate::engine::magnet::Magnet::parse(source)
                .ok()?
                .info_hash
                .to_hex()
        } else if let Some(data) = source.strip_prefix(DATA_URI) {
            Metainfo::from_bytes(&base64_decode(data)?)
                .ok()?
                .info_hash
                .to_hex()
        } else if super::fetch::is_url(source) {
            // Fetched once by the add itself; not fetched again only to name a duplicate.
            return None;
        } else {
            // Bounded and non-blocking as the add itself reads it: a FIFO or a huge file must
            // not hang the answer to a refused add.
            let path = std::path::PathBuf::from(source);
            let bytes = tokio::task::spawn_blocking(move || read_torrent_file(&path))
                .await
                .ok()?
                .ok()?;
            Metainfo::from_bytes(&bytes).ok()?.info_hash.to_hex()
        };
        let reg = self.reg.lock().await;
        reg.torrents.iter().find(|r| r.info_hash == hex).cloned()
    }

    async fn try_add(
        self: &Arc<Self>,
        source: &str,
        dir: Option<PathBuf>,
        paused: bool,
        sequential: bool,
        peers: &[String],
        extras: &AddExtras,
    ) -> Result<(u32, String, String, Option<PendingAdd>), String> {
        let strategy = extras.strategy.as_ref();
        let labels = check_labels(&extras.labels)?;
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
        // Without persistence nothing restores the torrent, so no copy is kept either.
        let copy = if self.cfg.persist {
            state::torrent_copy_path(&self.cfg.data_dir, &hex)
        } else {
            PathBuf::new()
        };
        if self.cfg.persist {
            let c = copy.clone();
            let batch = extras.batch;
            let written = tokio::task::spawn_blocking(move || {
                if batch {
                    state::write_atomic_unsynced(&c, &bytes)
                } else {
                    state::write_atomic(&c, &bytes)
                }
            })
            .await
            .map_err(|e| e.to_string())
            .and_then(|r| r.map_err(|e| e.to_string()));
            if let Err(e) = written {
                undo(&market);
                return Err(e);
            }
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
            labels,
            seed: extras.seed.clone(),
            seed_limit: None,
            done_at: None,
        };
        let t = match self.session.insert(meta, self.options(&rec)).await {
            Ok(t) => t,
            Err(e) => {
                if self.cfg.persist {
                    let _ = std::fs::remove_file(&copy);
                }
                undo(&market);
                return Err(e.to_string());
            }
        };
        let id = rec.id;
        reg.next_id += 1;
        reg.torrents.push(rec);
        if extras.batch {
            // Saved, started and announced with the rest of the batch (`commit_adds`).
            let pending = PendingAdd {
                id,
                torrent: t,
                copy,
                market,
            };
            return Ok((id, hex, name, Some(pending)));
        }
        if let Err(e) = self.persist(&reg, state::Change::upsert(vec![id])).await {
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
        Ok((id, hex, name, None))
    }

    /// Resolves one selector to an id: 1–7 digits is an id, 8–40 hex digits an info-hash
    /// prefix that must match exactly one torrent.
    fn resolve(reg: &SavedState, sel: &str) -> Result<u32, String> {
        match Selector::parse(sel) {
            Some(Selector::Id(id)) => state::find(&reg.torrents, id)
                .map(|r| r.id)
                .ok_or_else(|| format!("no torrent with id {id}")),
            Some(Selector::Prefix(lower)) => {
                let hits: Vec<&Record> = reg
                    .torrents
                    .iter()
                    .filter(|r| r.info_hash.starts_with(&lower))
                    .collect();
                match hits.as_slice() {
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
                }
            }
            None => Err(format!(
                "{sel:?} is neither an id (a number) nor an info-hash prefix (8 to 40 hex digits)"
            )),
        }
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
        state::find(&self.reg.lock().await.torrents, id).cloned()
    }

    fn torrent_of(&self, rec: &Record) -> Result<Arc<Torrent>, String> {
        let ih = InfoHash::from_hex(&rec.info_hash).map_err(|e| e.to_string())?;
        self.session
            .get(&ih)
            .ok_or_else(|| "not loaded (see the daemon's log)".to_string())
    }

    async fn update_record(&self, id: u32, f: impl FnOnce(&mut Record)) -> Result<(), String> {
        let mut reg = self.reg.lock().await;
        let Some(i) = state::find_index(&reg.torrents, id) else {
            return Ok(());
        };
        f(&mut reg.torrents[i]);
        self.persist(&reg, state::Change::upsert(vec![id])).await
    }

    /// [`Controller::update_record`] for many records with one save (one fsync), so a
    /// request on every torrent costs one write, not one per torrent.
    async fn update_records(&self, ids: &[u32], f: impl Fn(&mut Record)) -> Result<(), String> {
        let mut reg = self.reg.lock().await;
        let mut changed = Vec::with_capacity(ids.len());
        for &id in ids {
            if let Some(i) = state::find_index(&reg.torrents, id) {
                f(&mut reg.torrents[i]);
                changed.push(id);
            }
        }
        if changed.is_empty() {
            return Ok(());
        }
        self.persist(&reg, state::Change::upsert(changed)).await
    }

    /// Saves `f` applied to the records a batch succeeded on; if the save fails, those items
    /// report it instead of success (nothing is acknowledged that a restart would forget).
    async fn persist_batch(&self, res: &mut BatchResult, f: impl Fn(&mut Record)) {
        let ids: Vec<u32> = res
            .results
            .iter()
            .filter(|r| r.ok)
            .filter_map(|r| r.id)
            .collect();
        if let Err(e) = self.update_records(&ids, f).await {
            for r in res.results.iter_mut().filter(|r| r.ok) {
                r.ok = false;
                r.message = Some(format!("saving the session: {e}"));
            }
        }
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
        self.summary_with(rec, self.market_setup().market.as_ref())
    }

    fn summary_with(&self, rec: &Record, market: Option<&Market>) -> TorrentSummary {
        let t = self.torrent_of(rec).ok();
        let mut s = view::summary(rec.id, &rec.info_hash, &rec.name, t.as_deref(), market);
        s.download_dir = rec.download_dir.display().to_string();
        s.paused = rec.paused;
        s.sequential = rec.sequential;
        s.down_limit = rec.down_limit;
        s.up_limit = rec.up_limit;
        s.added_at = rec.added_at;
        s.labels = rec.labels.clone();
        s.seed = rec.seed.clone();
        s.seed_limit = rec.seed_limit.clone();
        s.done_at = rec.done_at;
        s
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
                    self.persist(&reg, state::Change::header()).await?;
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

    /// The wallet this daemon holds, the client of its ledger, and the market when it trades:
    /// for the wallet commands that change something (they need the daemon's wallet).
    fn held_wallet(&self) -> Result<HeldWallet, String> {
        let m = self.market_setup();
        let wallet = m.wallet.clone().ok_or_else(|| {
            "the daemon holds no wallet (the market is off); `bidtorrent wallet` opens it itself"
                .to_string()
        })?;
        Ok(HeldWallet {
            wallet,
            fallback: crate::wallet::LedgerClient::new(m.ledger_addr.clone()),
            market: m.market,
        })
    }

    /// `wallet`: read through the daemon, which holds the wallet's lock while it runs.
    async fn wallet(
        &self,
        history: Option<usize>,
        with_payments: bool,
    ) -> Result<serde_json::Value, String> {
        let m = self.market_setup();
        let wallet = match m.wallet {
            Some(w) => w,
            None => {
                // Nobody here holds the wallet (the market is off or could not open it): read
                // it from disk, briefly, so it is free again for `bidtorrent wallet`.
                let dir = self.cfg.data_dir.join("wallet");
                let unavailable = m.enabled.then(|| m.status());
                return tokio::task::spawn_blocking(move || {
                    read_wallet_file(&dir, history, with_payments, unavailable)
                })
                .await
                .map_err(|e| e.to_string())?;
            }
        };
        let mut fresh = false;
        if let Some(market) = &m.market {
            // A slow ledger must not hang the control socket.
            fresh = matches!(
                tokio::time::timeout(Duration::from_secs(3), wallet.refresh(market.ledger())).await,
                Ok(Ok(_))
            );
        }
        wallet_info(
            &wallet,
            m.ledger_addr.clone(),
            fresh,
            history,
            with_payments,
        )
        .map_err(|e| e.to_string())
        .and_then(to_value)
    }

    pub async fn list(&self) -> Vec<TorrentSummary> {
        // Built under the registry lock (nothing here awaits): no copy of every record, and
        // the market looked up once, not once per torrent.
        let market = self.market_setup().market;
        let reg = self.reg.lock().await;
        reg.torrents
            .iter()
            .map(|r| self.summary_with(r, market.as_ref()))
            .collect()
    }

    /// (id, verified bytes, total bytes, download rate) of every running torrent still
    /// downloading: what `progress` events report.
    pub async fn progress(&self) -> Vec<(u32, u64, u64, u64)> {
        let reg = self.reg.lock().await;
        reg.torrents
            .iter()
            .filter(|r| !r.paused)
            .filter_map(|r| {
                let s = self.torrent_of(r).ok()?.stats();
                (s.phase == crate::engine::torrent::Phase::Downloading).then(|| {
                    (
                        r.id,
                        s.total_bytes - s.left_bytes,
                        s.total_bytes,
                        s.down_rate.round() as u64,
                    )
                })
            })
            .collect()
    }

    async fn one(&self, sel: &str) -> Result<Record, String> {
        let reg = self.reg.lock().await;
        let id = Self::resolve(&reg, sel)?;
        state::find(&reg.torrents, id)
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
                let net = self.session.network();
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
                    encryption: net.encryption.as_str().into(),
                    tcp: net.tcp,
                    utp: net.utp,
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
                check_labels(&a.labels)?;
                let mut extras = AddExtras {
                    labels: a.labels.clone(),
                    strategy: choice,
                    batch: a.sources.len() > 1,
                    ..AddExtras::default()
                };
                if let Some(r) = a.seed_ratio {
                    extras.seed.ratio = super::seeding::check_ratio(r)?;
                    extras.seed.ratio_mode = LimitMode::Single;
                }
                let mut results = Vec::with_capacity(a.sources.len());
                let mut pending = Vec::new();
                for src in &a.sources {
                    let (r, p) = self
                        .add_with(src, dir.clone(), a.paused, a.sequential, &a.peers, &extras)
                        .await;
                    if let Some(m) = r.message.as_ref().filter(|_| !r.ok) {
                        tracing::warn!("add {src}: {m}");
                    }
                    results.push(r);
                    pending.extend(p);
                }
                if !pending.is_empty() {
                    self.commit_adds(pending, &mut results).await;
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
                to_value(PeerList {
                    id: rec.id,
                    peers: view::peers(&t),
                })
            }
            Command::Pieces { torrent } => {
                let rec = self.one(&torrent).await?;
                let t = self.torrent_of(&rec)?;
                to_value(view::pieces(rec.id, &t))
            }
            Command::Files { torrent } => {
                let rec = self.one(&torrent).await?;
                let t = self.torrent_of(&rec)?;
                to_value(FileList {
                    id: rec.id,
                    files: view::files(&t, &rec.download_dir, &rec.priorities),
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
                let n = view::real_files(&t).len();
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
                    files: view::files(&t, &rec.download_dir, &rec.priorities),
                })
            }
            Command::Trackers { torrent } => {
                let rec = self.one(&torrent).await?;
                let t = self.torrent_of(&rec)?;
                to_value(TrackerList {
                    id: rec.id,
                    trackers: view::trackers(&t),
                })
            }
            Command::Pause(t) => {
                // Every torrent pauses at once; then one save for all of them.
                let mut res = self
                    .batch(&t, |ctl, rec| async move {
                        let tor = ctl.torrent_of(&rec)?;
                        Ok((!tor.pause().await).then(|| "already paused".to_string()))
                    })
                    .await;
                self.persist_batch(&mut res, |r| r.paused = true).await;
                for r in res.results.iter().filter(|r| r.ok && r.message.is_none()) {
                    if let Some(id) = r.id {
                        let _ = self.events.send(Event::Paused { id });
                    }
                }
                to_value(res)
            }
            Command::Resume(t) => {
                // Persist first (one save for every target), then resume and say so at once:
                // a small torrent can complete while a state write is still syncing, and
                // subscribers must see `resumed` before `complete`.
                let ids: Vec<u32> = {
                    let resolved = self.targets(&t).await;
                    let reg = self.reg.lock().await;
                    resolved
                        .iter()
                        .filter_map(|(_, id)| id.as_ref().ok())
                        .filter(|&&id| {
                            state::find(&reg.torrents, id)
                                .is_some_and(|rec| self.torrent_of(rec).is_ok())
                        })
                        .copied()
                        .collect()
                };
                self.update_records(&ids, |r| r.paused = false)
                    .await
                    .map_err(|e| format!("saving the session: {e}"))?;
                to_value(
                    self.batch(&t, |ctl, rec| async move {
                        let tor = ctl.torrent_of(&rec)?;
                        if tor.resume() {
                            let _ = ctl.events.send(Event::Resumed { id: rec.id });
                            Ok(None)
                        } else {
                            Ok(Some("was not paused".into()))
                        }
                    })
                    .await,
                )
            }
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
            Command::WalletRedeem => {
                let h = self.held_wallet()?;
                let done = bounded(h.wallet.redeem_all(h.ledger())).await?;
                to_value(done)
            }
            Command::WalletClose { channel } => {
                let h = self.held_wallet()?;
                let id = resolve_channel(&h.wallet, &channel)?;
                let info = bounded(h.wallet.close_channel(h.ledger(), &id))
                    .await
                    .map_err(|e| format!("cannot close channel {id}: {e}"))?;
                to_value(info)
            }
            Command::WalletOpen {
                seller,
                amount,
                expiry_secs,
            } => {
                let h = self.held_wallet()?;
                let seller: crate::wallet::PublicKey = seller
                    .trim()
                    .parse()
                    .map_err(|e| format!("seller {}: {e}", crate::units::printable(&seller)))?;
                let secs = expiry_secs.unwrap_or_else(|| {
                    h.market
                        .as_ref()
                        .map_or(86_400, |m| m.config().lifecycle.channel_secs)
                });
                let expiry = crate::wallet::keys::now_secs().saturating_add(secs);
                let amount = crate::wallet::Amount(amount);
                let cert = bounded(h.wallet.open_channel(h.ledger(), seller, amount, expiry))
                    .await
                    .map_err(|e| {
                        format!(
                            "cannot open a channel of {amount} to {seller} at ledger {}: {e}",
                            h.ledger().addr()
                        )
                    })?;
                Ok(serde_json::json!({
                    "channel": cert.channel, "seller": cert.seller, "cap": cert.cap,
                    "expiry": cert.expiry, "certificate": cert,
                }))
            }
            Command::WalletPay { channel, amount } => {
                let h = self.held_wallet()?;
                let w = h.wallet.clone();
                let id = resolve_channel(&w, &channel)?;
                if h.market.as_ref().is_some_and(|m| m.channel_in_use(&id)) {
                    return Err(format!(
                        "channel {id} pays a download of this daemon; open a channel of your own \
                         for hand-made payments (`wallet open`)"
                    ));
                }
                let cert = w
                    .out_channel(&id)
                    .map_err(|e| e.to_string())?
                    .ok_or_else(|| format!("no outgoing channel {id} in this wallet"))?
                    .certificate;
                let voucher =
                    tokio::task::spawn_blocking(move || w.pay(&id, crate::wallet::Amount(amount)))
                        .await
                        .map_err(|e| e.to_string())?
                        .map_err(|e| format!("cannot pay on channel {id}: {e}"))?;
                to_value(crate::wallet::Payment {
                    certificate: cert,
                    voucher,
                })
            }
            Command::WalletExport { secret_key } => {
                let w = self.held_wallet()?.wallet;
                if let Some(path) = &secret_key {
                    if !path.is_absolute() {
                        return Err(format!(
                            "{}: give the secret key file as an absolute path",
                            path.display()
                        ));
                    }
                    w.export_secret_key(path).map_err(|e| {
                        format!("cannot write the secret key to {}: {e}", path.display())
                    })?;
                }
                to_value(w.export().map_err(|e| e.to_string())?)
            }
            Command::Label { targets, labels } => {
                let labels = check_labels(&labels)?;
                let mut res = self.batch(&targets, |_, _| async { Ok(None) }).await;
                self.persist_batch(&mut res, |r| r.labels.clone_from(&labels))
                    .await;
                to_value(res)
            }
            Command::Seed(a) => self.seed(a).await,
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
            self.persist(&reg, state::Change::remove(vec![rec.id]))
                .await?;
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

    /// The global seeding rules in force.
    pub fn global_seeding(&self) -> GlobalSeeding {
        self.seeding
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }

    /// `seed`: show, or change and persist, a torrent's seeding rules or the global ones. A
    /// change clears what a rule did before, so a raised limit lets the torrent seed again.
    async fn seed(&self, a: SeedArgs) -> Result<serde_json::Value, String> {
        let action = match a.action.as_deref() {
            None => None,
            Some("global") if a.torrent.is_some() => Some(None),
            Some(s) => Some(Some(SeedAction::parse(s)?)),
        };
        let ratio = a.ratio.map(super::seeding::check_ratio).transpose()?;
        let changed = ratio.is_some()
            || a.ratio_mode.is_some()
            || a.idle_minutes.is_some()
            || a.idle_mode.is_some()
            || action.is_some();
        match &a.torrent {
            None => {
                let mut g = self.global_seeding();
                if changed {
                    if let Some(r) = ratio {
                        g.ratio = r;
                    }
                    if a.ratio_mode == Some(LimitMode::Unlimited) {
                        g.ratio = 0.0;
                    }
                    if let Some(m) = a.idle_minutes {
                        g.idle_minutes = m;
                    }
                    if a.idle_mode == Some(LimitMode::Unlimited) {
                        g.idle_minutes = 0;
                    }
                    if let Some(Some(act)) = action {
                        g.action = act;
                    }
                    *self.seeding.lock().unwrap_or_else(|p| p.into_inner()) = g.clone();
                    let mut reg = self.reg.lock().await;
                    reg.seeding = Some(g.clone());
                    for r in reg.torrents.iter_mut() {
                        r.seed_limit = None;
                    }
                    self.persist(&reg, state::Change::all()).await?;
                }
                to_value(SeedInfo {
                    scope: "global".into(),
                    global: g,
                    torrent: None,
                })
            }
            Some(sel) => {
                let rec = self.one(sel).await?;
                let mut rules = rec.seed.clone();
                if changed {
                    if let Some(r) = ratio {
                        rules.ratio = r;
                        rules.ratio_mode = LimitMode::Single;
                    }
                    if let Some(m) = a.ratio_mode {
                        rules.ratio_mode = m;
                    }
                    if let Some(m) = a.idle_minutes {
                        rules.idle_minutes = m;
                        rules.idle_mode = LimitMode::Single;
                    }
                    if let Some(m) = a.idle_mode {
                        rules.idle_mode = m;
                    }
                    if let Some(act) = action {
                        rules.action = act;
                    }
                    let saved = rules.clone();
                    self.update_record(rec.id, |r| {
                        r.seed = saved;
                        r.seed_limit = None;
                    })
                    .await?;
                }
                to_value(SeedInfo {
                    scope: rec.id.to_string(),
                    global: self.global_seeding(),
                    torrent: Some(rules),
                })
            }
        }
    }

    /// The seeding task: every `every`, applies the seeding rules to each complete torrent
    /// (see [`super::seeding`]). Ends when the session's controller is dropped.
    pub fn spawn_seeding(self: &Arc<Self>, every: Duration) {
        let weak = Arc::downgrade(self);
        tokio::spawn(async move {
            loop {
                tokio::time::sleep(every).await;
                let Some(ctl) = weak.upgrade() else { return };
                if *ctl.shutdown.borrow() {
                    return;
                }
                ctl.seeding_round().await;
            }
        });
    }

    async fn seeding_round(self: &Arc<Self>) {
        let recs = self.reg.lock().await.torrents.clone();
        let global = self.global_seeding();
        let market = self.market_setup().market;
        let now = std::time::Instant::now();
        let mut live = std::collections::HashSet::new();
        // Torrents seen complete for the first time, saved together after the round.
        let mut done = Vec::new();
        for rec in recs {
            live.insert(rec.id);
            let Ok(t) = self.torrent_of(&rec) else {
                continue;
            };
            let st = t.stats();
            let complete = st.left_bytes == 0 && st.total_bytes > 0;
            if complete && rec.done_at.is_none() {
                done.push(rec.id);
            }
            if rec.paused || !complete || st.phase != crate::engine::torrent::Phase::Seeding {
                self.seed_tracks
                    .lock()
                    .unwrap_or_else(|p| p.into_inner())
                    .remove(&rec.id);
                continue;
            }
            let earned = match (&market, InfoHash::from_hex(&rec.info_hash)) {
                (Some(m), Ok(ih)) => m.report(&ih).map(|r| r.earned.micro()),
                _ => None,
            };
            let decision = {
                let mut tracks = self.seed_tracks.lock().unwrap_or_else(|p| p.into_inner());
                let track = tracks.entry(rec.id).or_default();
                track.observe(now, st.uploaded, earned, global.earning_window_secs);
                super::seeding::decide(
                    &rec.seed,
                    &global,
                    super::seeding::Progress {
                        uploaded: st.uploaded,
                        downloaded: st.downloaded,
                        size: st.total_bytes,
                        idle_secs: track.idle_secs(now),
                    },
                    track,
                    now,
                    market.is_some(),
                )
            };
            self.apply_decision(&rec, &t, decision).await;
        }
        let at = now_unix();
        if let Err(e) = self.update_records(&done, |r| r.done_at = Some(at)).await {
            tracing::warn!("saving when torrents completed: {e}");
        }
        self.seed_tracks
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .retain(|id, _| live.contains(id));
    }

    async fn apply_decision(
        self: &Arc<Self>,
        rec: &Record,
        t: &Arc<Torrent>,
        d: super::seeding::Decision,
    ) {
        use super::seeding::Decision;
        let note = match d {
            Decision::Keep => return,
            Decision::Stop(why) => {
                tracing::info!("#{} {}: {why}: stopping", rec.id, rec.name);
                let changed = t.pause().await;
                if let Err(e) = self
                    .update_record(rec.id, |r| {
                        r.paused = true;
                        r.seed_limit = Some(format!("{why}: stopped"));
                    })
                    .await
                {
                    tracing::warn!("#{}: saving the seeding stop: {e}", rec.id);
                }
                if changed {
                    let _ = self.events.send(Event::Paused { id: rec.id });
                }
                return;
            }
            Decision::SlowTo(why, rate) => {
                if rec.up_limit != 0 && rec.up_limit <= rate {
                    return;
                }
                tracing::info!(
                    "#{} {}: {why}: upload slowed to {rate} B/s",
                    rec.id,
                    rec.name
                );
                t.up_limit.set_rate(rate);
                (
                    format!("{why}: slowed to {}", crate::units::rate(rate as f64)),
                    Some(rate),
                )
            }
            Decision::Earning(why) => (why, None),
        };
        if rec.seed_limit.as_deref() == Some(note.0.as_str()) && note.1.is_none() {
            return;
        }
        let (text, rate) = note;
        if let Err(e) = self
            .update_record(rec.id, |r| {
                if let Some(rate) = rate {
                    r.up_limit = rate;
                }
                r.seed_limit = Some(text);
            })
            .await
        {
            tracing::warn!("#{}: saving the seeding rule: {e}", rec.id);
        }
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
                    self.persist(&reg, state::Change::header()).await?;
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
        // A clean shutdown redeems what was earned (bounded: a dead ledger must not hold up
        // the exit; the next run redeems it then).
        if let Some(m) = self.market_setup().market {
            match tokio::time::timeout(Duration::from_secs(10), m.settle()).await {
                Ok(Ok(done)) if !done.is_empty() => {
                    let total: u64 = done.iter().map(|r| r.paid.micro()).sum();
                    tracing::info!(
                        "redeemed {} on {} channel(s) at shutdown",
                        crate::wallet::Amount(total),
                        done.len()
                    );
                }
                Ok(Ok(_)) => {}
                Ok(Err(e)) => tracing::warn!("redeeming at shutdown: {e}"),
                Err(_) => tracing::warn!("redeeming at shutdown: the ledger did not answer"),
            }
        }
        let reg = self.reg.lock().await;
        // A fresh snapshot, so the next start reads no journal.
        if let Err(e) = self.persist(&reg, state::Change::all()).await {
            tracing::error!("saving the session: {e}");
        }
        let _ = self.events.send(Event::Shutdown);
    }
}

/// A strategy name and parameters given with `add`.
#[derive(Debug, Clone)]
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

/// Only `skip` changes what is fetched; the engine's picker has no finer levels yet, so
/// `high` and `low` are kept and shown but fetch like `normal`.
fn apply_priorities(t: &Torrent, prios: &[String]) {
    let real = view::real_files(t);
    let skipped: Vec<usize> = prios
        .iter()
        .enumerate()
        .filter(|(_, p)| p.as_str() == "skip")
        .filter_map(|(i, _)| real.get(i).copied())
        .collect();
    t.set_wanted_pieces(crate::engine::torrent::wanted_without(&t.meta, &skipped));
}

/// The daemon's wallet and the ledger it trades on (the market's client, pinned, when the
/// market runs; else one to the configured address).
struct HeldWallet {
    wallet: Arc<Wallet>,
    market: Option<Market>,
    fallback: crate::wallet::LedgerClient,
}

impl HeldWallet {
    fn ledger(&self) -> &crate::wallet::LedgerClient {
        self.market.as_ref().map_or(&self.fallback, |m| m.ledger())
    }
}

/// A wallet operation that talks to the ledger, bounded so a ledger that accepts and never
/// answers cannot hold a control connection for ever.
async fn bounded<T>(
    f: impl std::future::Future<Output = Result<T, crate::wallet::WalletError>>,
) -> Result<T, String> {
    match tokio::time::timeout(Duration::from_secs(20), f).await {
        Ok(r) => r.map_err(|e| e.to_string()),
        Err(_) => Err("the ledger did not answer within 20 s".into()),
    }
}

fn to_value<T: Serialize>(v: T) -> Result<serde_json::Value, String> {
    serde_json::to_value(v).map_err(|e| e.to_string())
}

/// What an outgoing channel cost: the vouchers signed on it while it is live; once settled,
/// what the seller redeemed (a voucher that never reached the seller came back as refund).
fn settled_spend(c: &crate::wallet::OutChannel) -> u64 {
    if c.state == crate::wallet::ledger::ChannelState::Closed {
        c.certificate
            .cap
            .micro()
            .saturating_sub(c.refunded.micro())
            .min(c.spent.micro())
    } else {
        c.spent.micro()
    }
}

/// A wallet's state as `wallet` answers it.
fn wallet_info(
    wallet: &Wallet,
    ledger: String,
    fresh: bool,
    history: Option<usize>,
    with_payments: bool,
) -> Result<WalletInfo, crate::wallet::WalletError> {
    let outgoing = wallet.out_channels()?;
    let incoming = wallet.in_channels()?;
    let mut hist = wallet.history()?;
    let mut payments = Vec::new();
    if with_payments {
        for c in &outgoing {
            if let Some(voucher) = wallet.current_voucher(&c.certificate.channel)? {
                payments.push(crate::wallet::Payment {
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
    Ok(WalletInfo {
        public_key: wallet.public_key().to_string(),
        ledger,
        balance: wallet.balance()?.micro(),
        fresh,
        paid: outgoing.iter().map(settled_spend).sum(),
        earned: incoming.iter().map(|c| c.earned().micro()).sum(),
        redeemed: incoming.iter().map(|c| c.redeemed.micro()).sum(),
        balances: Balances::of(wallet.balance()?.micro(), &outgoing, &incoming),
        outgoing,
        incoming,
        history: hist,
        payments,
    })
}

/// `wallet` when nobody in this process holds the wallet: opened from `dir` for the read and
/// closed again. Never creates one. Errors start with [`NO_WALLET`] or [`WALLET_IN_USE`] when
/// that is the reason, so front ends can say so plainly.
fn read_wallet_file(
    dir: &Path,
    history: Option<usize>,
    with_payments: bool,
    unavailable: Option<String>,
) -> Result<serde_json::Value, String> {
    if !dir.join("db").exists() {
        return Err(format!(
            "{NO_WALLET} in {} (`bidtorrent wallet` creates one)",
            dir.display()
        ));
    }
    let w = Wallet::open(dir).map_err(|e| {
        let msg = e.to_string();
        if msg.contains("lock") || msg.contains("Resource temporarily") {
            format!("{WALLET_IN_USE}: {msg}")
        } else {
            msg
        }
    })?;
    let ledger = w
        .default_ledger()
        .ok()
        .flatten()
        .map(|l| l.addr)
        .unwrap_or_default();
    let mut info =
        wallet_info(&w, ledger, false, history, with_payments).map_err(|e| e.to_string())?;
    if let Some(why) = unavailable {
        tracing::debug!("wallet read from disk: market {why}");
    }
    info.fresh = false;
    to_value(info)
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
                    labels: vec![],
                    seed: Default::default(),
                    seed_limit: None,
                    done_at: None,
                })
                .collect(),
            ..SavedState::default()
        }
    }

    #[test]
    fn base64_round_trip() {
        for n in 0..40usize {
            let data: Vec<u8> = (0..n).map(|i| (i * 37 + n) as u8).collect();
            let enc = base64_encode(&data);
            assert_eq!(base64_decode(&enc).as_deref(), Some(&data[..]), "{n}");
        }
        assert_eq!(base64_encode(b"u:p:w"), "dTpwOnc=");
        assert!(base64_decode("dTpwOnc=x").is_none(), "data after padding");
        assert!(base64_decode("d!").is_none());
        assert!(base64_decode("dTpwO").is_none(), "a lone 6-bit group");
    }

    #[test]
    fn labels_are_checked() {
        let l = |v: &[&str]| check_labels(&v.iter().map(|s| s.to_string()).collect::<Vec<_>>());
        assert_eq!(l(&["tv", " tv ", "hd"]), Ok(vec!["tv".into(), "hd".into()]));
        assert!(l(&[""]).is_err());
        assert!(l(&["a,b"]).is_err());
        assert!(l(&["a\x1b[2J"]).is_err());
        assert!(l(&[&"x".repeat(65)]).is_err());
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
