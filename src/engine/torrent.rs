//! One torrent: its verified pieces, its peers, the choker, the tracker loop and resume data.
//!
//! All mutable state sits behind one `std::sync::Mutex` that is never held across an `.await`;
//! peer tasks take it briefly per message. With tens of peers per torrent this costs far less
//! than the hashing and the copying, and it keeps every decision in one place.

use std::collections::{HashMap, HashSet, VecDeque};
use std::net::{IpAddr, SocketAddr};
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, RwLock};
use std::time::{Duration, Instant};

use bytes::Bytes;
use tokio::sync::{Notify, broadcast, mpsc, watch};

use crate::engine::bitfield::Bitfield;
use crate::engine::choker::{Choker, OPTIMISTIC_INTERVAL, PeerView, RECHOKE_INTERVAL, TitForTat};
use crate::engine::extension::{Extension, PeerLink};
use crate::engine::metainfo::Metainfo;
use crate::engine::picker::{BlockOutcome, CompletedPiece, Picker};
use crate::engine::ratelimit::RateLimiter;
use crate::engine::resume::{self, ResumeData};
use crate::engine::storage::Storage;
use crate::engine::tracker::{AnnounceEvent, AnnounceRequest, TrackerStatus, TrackerTiers};
use crate::engine::types::{InfoHash, PeerId};
use crate::engine::wire::{BlockRef, Message};

/// A request not answered in this long is given to another peer.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(20);
/// Peers that send nothing (not even keep-alives) for this long are dropped.
const IDLE_TIMEOUT: Duration = Duration::from_secs(150);
/// Hash failures from one address before it is banned for the session.
const BAN_AFTER_FAILURES: u32 = 3;
/// More queued requests than this from one peer is a flood.
pub const MAX_QUEUED_UPLOADS: usize = 2048;
const CHECKPOINT_INTERVAL: Duration = Duration::from_secs(30);
/// Completed pieces hashed and written at once: enough to keep both cores busy while the
/// network fills the next ones, few enough to bound memory (4 × the piece size).
const VERIFY_SLOTS: usize = 4;
/// The longest an extension may hold a connection between two seeds open (e.g. the market
/// settling its last payments) before it is closed anyway.
const SEED_LINGER: Duration = Duration::from_secs(30);

/// Settings shared by every torrent of a session.
pub struct SessionCtx {
    pub peer_id: PeerId,
    /// Connections across every torrent, and the cap on them.
    pub connections: std::sync::atomic::AtomicUsize,
    pub max_connections: std::sync::atomic::AtomicUsize,
    pub listen_port: AtomicU64,
    pub global_down: RateLimiter,
    pub global_up: RateLimiter,
    pub data_dir: PathBuf,
}

#[derive(Debug, Clone)]
pub struct TorrentOptions {
    pub download_dir: PathBuf,
    pub sequential: bool,
    pub max_peers: usize,
    /// Overrides the tracker's announce interval.
    pub tracker_interval: Option<Duration>,
    pub upload_slots: usize,
    /// Peers to dial at once (in addition to those trackers return).
    pub peers: Vec<SocketAddr>,
    pub paused: bool,
}

impl Default for TorrentOptions {
    fn default() -> Self {
        TorrentOptions {
            download_dir: PathBuf::from("."),
            sequential: false,
            max_peers: 50,
            tracker_interval: None,
            upload_slots: 4,
            peers: Vec::new(),
            paused: false,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Phase {
    Checking,
    Downloading,
    Seeding,
    Paused,
    Error,
}

impl Phase {
    pub fn as_str(&self) -> &'static str {
        match self {
            Phase::Checking => "checking",
            Phase::Downloading => "downloading",
            Phase::Seeding => "seeding",
            Phase::Paused => "paused",
            Phase::Error => "error",
        }
    }
}

#[derive(Debug, Clone)]
pub enum TorrentEvent {
    Checking,
    /// Checking finished; `have` pieces verified on disk.
    Checked {
        have: usize,
        hashed: usize,
    },
    PieceVerified(u32),
    HashFailed {
        piece: u32,
    },
    PeerBanned(IpAddr),
    /// Every piece verified and flushed to disk.
    Complete,
    Seeding,
    TrackerError(String),
    Error(String),
}

/// What the startup check found: pieces verified, and how many had to be hashed for it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CheckResult {
    pub have: usize,
    pub hashed: usize,
}

#[derive(Debug, Clone)]
pub struct TorrentStats {
    pub info_hash: InfoHash,
    pub name: String,
    pub phase: Phase,
    pub have_pieces: usize,
    pub num_pieces: usize,
    pub total_bytes: u64,
    pub left_bytes: u64,
    pub downloaded: u64,
    pub uploaded: u64,
    pub down_rate: f64,
    pub up_rate: f64,
    pub peers: usize,
    pub error: Option<String>,
}

/// Commands to a peer's writer.
#[derive(Debug)]
pub enum PeerCmd {
    Send(Message),
    Requests(Vec<BlockRef>),
    Choke,
    Unchoke,
    Close,
}

/// Per-peer counters the peer task updates without the torrent lock, and the peer's own
/// upload limit (set from the choker's shares).
pub struct PeerCounters {
    pub downloaded: AtomicU64,
    pub uploaded: AtomicU64,
    pub last_recv_ms: AtomicU64,
    pub up_limit: RateLimiter,
    /// The most payload this peer may have been sent in total (`uploaded` never passes it);
    /// `u64::MAX` = no cap. The market's credit window: checked before every block, so a buyer
    /// that stops paying gets at most the window it was granted.
    pub up_allowance: AtomicU64,
}

impl Default for PeerCounters {
    fn default() -> Self {
        PeerCounters {
            downloaded: AtomicU64::new(0),
            uploaded: AtomicU64::new(0),
            last_recv_ms: AtomicU64::new(0),
            up_limit: RateLimiter::unlimited(),
            up_allowance: AtomicU64::new(u64::MAX),
        }
    }
}

impl PeerCounters {
    /// Whether `len` more bytes may be sent under the allowance.
    pub fn may_upload(&self, len: u64) -> bool {
        self.uploaded.load(Ordering::Relaxed).saturating_add(len)
            <= self.up_allowance.load(Ordering::Relaxed)
    }
}

/// One connected peer, for display and for the market.
#[derive(Debug, Clone)]
pub struct PeerInfo {
    pub key: usize,
    pub addr: SocketAddr,
    pub client: String,
    pub outgoing: bool,
    pub am_choking: bool,
    pub am_interested: bool,
    pub peer_choking: bool,
    pub peer_interested: bool,
    pub fast: bool,
    /// Pieces the peer has, as a fraction of the torrent.
    pub progress: f64,
    pub down_rate: f64,
    pub up_rate: f64,
    pub downloaded: u64,
    pub uploaded: u64,
    pub extensions: Vec<String>,
}

/// What a peer asked us for and we have not sent yet.
#[derive(Default)]
pub struct UploadQueue {
    pub queue: Mutex<VecDeque<BlockRef>>,
    pub notify: Notify,
}

impl UploadQueue {
    pub fn lock(&self) -> MutexGuard<'_, VecDeque<BlockRef>> {
        lock(&self.queue)
    }
}

pub struct PeerEntry {
    pub addr: SocketAddr,
    pub peer_id: PeerId,
    pub outgoing: bool,
    pub bits: Bitfield,
    pub am_choking: bool,
    pub am_interested: bool,
    pub peer_choking: bool,
    pub peer_interested: bool,
    pub fast: bool,
    pub ext_ids: HashMap<String, u8>,
    pub client: String,
    /// The port the peer listens on: the dialled one, or the `p` of its extended handshake.
    pub listen_port: Option<u16>,
    pub reqq: usize,
    pub inflight: usize,
    pub allowed_fast: Vec<u32>,
    pub tx: mpsc::UnboundedSender<PeerCmd>,
    pub uploads: Arc<UploadQueue>,
    pub counters: Arc<PeerCounters>,
    pub connected_at: Instant,
    /// When this peer and we were first both seeds (the connection is then only kept for an
    /// extension's unfinished business, see `close_finished_seeds`).
    both_seeds_since: Option<Instant>,
    pub down_rate: f64,
    pub up_rate: f64,
    last_down: u64,
    last_up: u64,
}

impl PeerEntry {
    pub fn is_seed(&self) -> bool {
        self.bits.all()
    }
}

#[derive(Default)]
struct KnownPeer {
    failures: u32,
    last_attempt: Option<Instant>,
    /// It had every piece when last seen: not worth dialling while we seed too.
    seed: bool,
}

pub(crate) struct State {
    pub picker: Picker,
    pub peers: HashMap<usize, PeerEntry>,
    next_key: usize,
    known: HashMap<SocketAddr, KnownPeer>,
    banned: HashSet<IpAddr>,
    hash_failures: HashMap<IpAddr, u32>,
    choker: Box<dyn Choker>,
    pub phase: Phase,
    error: Option<String>,
    resume_dirty: bool,
    rechoke_soon: bool,
    checked: Option<CheckResult>,
    down_rate: f64,
    up_rate: f64,
    last_down: u64,
    last_up: u64,
}

pub struct Torrent {
    pub meta: Arc<Metainfo>,
    pub storage: Arc<Storage>,
    pub opts: TorrentOptions,
    pub ctx: Arc<SessionCtx>,
    pub(crate) state: Mutex<State>,
    pub events: broadcast::Sender<TorrentEvent>,
    pub down_limit: RateLimiter,
    pub up_limit: RateLimiter,
    pub downloaded: AtomicU64,
    pub uploaded: AtomicU64,
    extensions: RwLock<Vec<Arc<dyn Extension>>>,
    /// Completed pieces being hashed and written, at most VERIFY_SLOTS at a time.
    pub(crate) verify_slots: Arc<tokio::sync::Semaphore>,
    stopped: AtomicBool,
    stop_notify: Notify,
    completed_notify: Notify,
    started: Instant,
    /// Set by `pause()` (or `TorrentOptions::paused`), cleared by `resume()`; read under the
    /// state lock so `start()` and `pause()` agree on whether loops run.
    paused: AtomicBool,
    /// Bumped whenever the periodic loops must end (pause, recheck); loops spawned for an
    /// older generation exit. See `spawn_loops`.
    run_gen: watch::Sender<u64>,
    /// Per-URL announce results, copied out of the tracker loop after each announce for the
    /// dashboard's trackers tab and the `trackers` request.
    tracker_status: Mutex<Vec<TrackerStatus>>,
}

pub(crate) fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    // A panicking peer task must not take the whole torrent down with a poisoned lock.
    match m.lock() {
        Ok(g) => g,
        Err(p) => p.into_inner(),
    }
}

impl Torrent {
    pub fn new(
        meta: Metainfo,
        storage: Storage,
        opts: TorrentOptions,
        ctx: Arc<SessionCtx>,
    ) -> Arc<Torrent> {
        let n = meta.num_pieces();
        let picker = Picker::new(
            meta.info.piece_length,
            meta.info.total_length,
            Bitfield::new(n),
        );
        let mut picker = picker;
        picker.sequential = opts.sequential;
        let (events, _) = broadcast::channel(1024);
        let opts_paused = opts.paused;
        let choker: Box<dyn Choker> = Box::new(TitForTat::new(opts.upload_slots));
        let known = opts
            .peers
            .iter()
            .map(|a| (*a, KnownPeer::default()))
            .collect();
        Arc::new(Torrent {
            meta: Arc::new(meta),
            storage: Arc::new(storage),
            opts,
            ctx,
            state: Mutex::new(State {
                picker,
                peers: HashMap::new(),
                next_key: 0,
                known,
                banned: HashSet::new(),
                hash_failures: HashMap::new(),
                choker,
                phase: Phase::Checking,
                error: None,
                resume_dirty: false,
                rechoke_soon: false,
                checked: None,
                down_rate: 0.0,
                up_rate: 0.0,
                last_down: 0,
                last_up: 0,
            }),
            events,
            down_limit: RateLimiter::unlimited(),
            up_limit: RateLimiter::unlimited(),
            downloaded: AtomicU64::new(0),
            uploaded: AtomicU64::new(0),
            extensions: RwLock::new(Vec::new()),
            verify_slots: Arc::new(tokio::sync::Semaphore::new(VERIFY_SLOTS)),
            stopped: AtomicBool::new(false),
            stop_notify: Notify::new(),
            completed_notify: Notify::new(),
            started: Instant::now(),
            paused: AtomicBool::new(opts_paused),
            run_gen: watch::channel(0).0,
            tracker_status: Mutex::new(Vec::new()),
        })
    }

    pub fn info_hash(&self) -> InfoHash {
        self.meta.info_hash
    }

    pub(crate) fn state(&self) -> MutexGuard<'_, State> {
        lock(&self.state)
    }

    pub fn subscribe(&self) -> broadcast::Receiver<TorrentEvent> {
        self.events.subscribe()
    }

    fn emit(&self, e: TorrentEvent) {
        let _ = self.events.send(e);
    }

    pub fn is_stopped(&self) -> bool {
        self.stopped.load(Ordering::Relaxed)
    }

    pub async fn stopped(&self) {
        while !self.is_stopped() {
            let n = self.stop_notify.notified();
            if self.is_stopped() {
                return;
            }
            n.await;
        }
    }

    /// Adds a BEP 10 extension; call before `start` so every peer sees the same ids.
    pub fn add_extension(&self, ext: Arc<dyn Extension>) {
        match self.extensions.write() {
            Ok(mut v) => v.push(ext),
            Err(p) => p.into_inner().push(ext),
        }
    }

    /// The torrent's extensions; an extension's local message id is its index + 1.
    pub fn extensions(&self) -> Vec<Arc<dyn Extension>> {
        match self.extensions.read() {
            Ok(v) => v.clone(),
            Err(p) => p.into_inner().clone(),
        }
    }

    pub(crate) fn extension(&self, local_id: u8) -> Option<Arc<dyn Extension>> {
        let i = usize::from(local_id).checked_sub(1)?;
        match self.extensions.read() {
            Ok(v) => v.get(i).cloned(),
            Err(p) => p.into_inner().get(i).cloned(),
        }
    }

    /// Dialable addresses of connected peers (for PEX).
    pub fn peer_addrs(&self) -> Vec<SocketAddr> {
        self.state()
            .peers
            .values()
            .filter_map(|p| p.listen_port.map(|port| SocketAddr::new(p.addr.ip(), port)))
            .collect()
    }

    pub fn peers(&self) -> Vec<PeerInfo> {
        let st = self.state();
        let n = self.meta.num_pieces().max(1) as f64;
        let mut v: Vec<PeerInfo> = st
            .peers
            .iter()
            .map(|(k, p)| PeerInfo {
                key: *k,
                addr: p.addr,
                client: p.client.clone(),
                outgoing: p.outgoing,
                am_choking: p.am_choking,
                am_interested: p.am_interested,
                peer_choking: p.peer_choking,
                peer_interested: p.peer_interested,
                fast: p.fast,
                progress: p.bits.count() as f64 / n,
                down_rate: p.down_rate,
                up_rate: p.up_rate,
                downloaded: p.counters.downloaded.load(Ordering::Relaxed),
                uploaded: p.counters.uploaded.load(Ordering::Relaxed),
                extensions: p.ext_ids.keys().cloned().collect(),
            })
            .collect();
        v.sort_by_key(|p| p.key);
        v
    }

    /// Bytes of payload sent to / received from a connected peer.
    pub fn peer_transfer(&self, key: usize) -> Option<(u64, u64)> {
        self.state().peers.get(&key).map(|p| {
            (
                p.counters.uploaded.load(Ordering::Relaxed),
                p.counters.downloaded.load(Ordering::Relaxed),
            )
        })
    }

    /// Chokes a peer now (a buyer over its credit window); the choker decides again at the
    /// next rechoke.
    pub fn choke_peer(&self, key: usize) {
        let mut st = self.state();
        if let Some(p) = st.peers.get_mut(&key)
            && !p.am_choking
        {
            p.am_choking = true;
            let _ = p.tx.send(PeerCmd::Choke);
        }
    }

    /// Caps the total payload a peer may be sent (`None`: no cap). Requests past the cap wait
    /// in the peer's queue until the cap rises; the peer stays unchoked meanwhile.
    pub fn set_upload_allowance(&self, key: usize, total: Option<u64>) {
        let st = self.state();
        if let Some(p) = st.peers.get(&key) {
            p.counters
                .up_allowance
                .store(total.unwrap_or(u64::MAX), Ordering::Relaxed);
            // Wake the writer: blocks held back by the old cap may go now.
            p.uploads.notify.notify_one();
        }
    }

    /// Asks for a rechoke within a second instead of at the next 10 s round (new bids).
    pub fn request_rechoke(&self) {
        self.state().rechoke_soon = true;
    }

    pub fn choker_name(&self) -> String {
        self.state().choker.name().to_string()
    }

    pub fn set_choker(&self, choker: Box<dyn Choker>) {
        self.state().choker = choker;
    }

    pub fn stats(&self) -> TorrentStats {
        let st = self.state();
        TorrentStats {
            info_hash: self.meta.info_hash,
            name: self.meta.info.name.clone(),
            phase: st.phase,
            have_pieces: st.picker.have().count(),
            num_pieces: self.meta.num_pieces(),
            total_bytes: self.meta.info.total_length,
            left_bytes: st.picker.bytes_left(),
            downloaded: self.downloaded.load(Ordering::Relaxed),
            uploaded: self.uploaded.load(Ordering::Relaxed),
            down_rate: st.down_rate,
            up_rate: st.up_rate,
            peers: st.peers.len(),
            error: st.error.clone(),
        }
    }

    /// The outcome of the startup check, once it finished.
    pub fn check_result(&self) -> Option<CheckResult> {
        self.state().checked
    }

    pub fn have(&self) -> Bitfield {
        self.state().picker.have().clone()
    }

    /// Verifies what is on disk (fast resume when possible), then starts the torrent's tasks.
    pub async fn start(self: &Arc<Self>) {
        self.emit(TorrentEvent::Checking);
        let storage = self.storage.clone();
        let pieces = self.meta.info.pieces.clone();
        let path = resume::resume_path(&self.ctx.data_dir, &self.meta.info_hash);
        let n = self.meta.num_pieces();
        let checked = tokio::task::spawn_blocking(move || {
            let prior = match resume::load(&path, n) {
                Ok(r) => r,
                Err(e) => {
                    tracing::warn!("resume data unusable, rechecking: {e}");
                    None
                }
            };
            resume::startup_bitfield(&storage, &pieces, prior.as_ref(), |_, _| {})
        })
        .await;
        let have = match checked {
            Ok(Ok((have, kind))) => {
                let hashed = match kind {
                    resume::RecheckKind::None => 0,
                    resume::RecheckKind::Partial(n) => n,
                    resume::RecheckKind::Full => n,
                };
                let result = CheckResult {
                    have: have.count(),
                    hashed,
                };
                self.state().checked = Some(result);
                self.emit(TorrentEvent::Checked {
                    have: result.have,
                    hashed,
                });
                have
            }
            Ok(Err(e)) => return self.fail(format!("checking data: {e}")),
            Err(e) => return self.fail(format!("checking data: {e}")),
        };
        let (complete, paused, generation) = {
            let mut st = self.state();
            st.picker.set_have(have);
            let complete = st.picker.is_complete();
            let paused = self.is_paused();
            st.phase = if paused {
                Phase::Paused
            } else if complete {
                Phase::Seeding
            } else {
                Phase::Downloading
            };
            (complete, paused, *self.run_gen.borrow())
        };
        // A crash-safe checkpoint right away: the next start trusts what was just verified.
        self.save_resume(false).await;
        if complete {
            self.emit(TorrentEvent::Complete);
            self.emit(TorrentEvent::Seeding);
        }
        if paused {
            return;
        }
        self.spawn_loops(generation);
    }

    fn fail(&self, msg: String) {
        tracing::error!("{}: {msg}", self.meta.info.name);
        {
            let mut st = self.state();
            st.phase = Phase::Error;
            st.error = Some(msg.clone());
        }
        self.emit(TorrentEvent::Error(msg));
    }

    /// Stops every task, writes resume data and announces `stopped`.
    pub async fn stop(self: &Arc<Self>) {
        if self.stopped.swap(true, Ordering::SeqCst) {
            return;
        }
        self.stop_notify.notify_waiters();
        {
            let st = self.state();
            for p in st.peers.values() {
                let _ = p.tx.send(PeerCmd::Close);
            }
        }
        self.save_resume(true).await;
        self.announce_once(AnnounceEvent::Stopped, Duration::from_secs(3))
            .await;
    }

    async fn save_resume(&self, clean: bool) {
        let (have, do_save) = {
            let mut st = self.state();
            let phase_ok = st.phase != Phase::Error && st.phase != Phase::Checking;
            st.resume_dirty = false;
            (st.picker.have().clone(), phase_ok || clean)
        };
        if !do_save {
            return;
        }
        let storage = self.storage.clone();
        let data = ResumeData {
            info_hash: self.meta.info_hash,
            have,
            stamps: Vec::new(),
            clean,
            uploaded: self.uploaded.load(Ordering::Relaxed),
            downloaded: self.downloaded.load(Ordering::Relaxed),
            saved_at_unix: std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map(|d| d.as_secs() as i64)
                .unwrap_or(0),
        };
        let path = resume::resume_path(&self.ctx.data_dir, &self.meta.info_hash);
        let r = tokio::task::spawn_blocking(move || -> Result<(), String> {
            // Data first, then the record that claims it: a crash between the two only costs a
            // recheck of the pieces written since the last checkpoint.
            storage.sync().map_err(|e| e.to_string())?;
            let mut data = data;
            data.stamps = storage.stamps();
            resume::save(&path, &data).map_err(|e| e.to_string())
        })
        .await;
        match r {
            Ok(Ok(())) => {}
            Ok(Err(e)) => tracing::warn!("saving resume data: {e}"),
            Err(e) => tracing::warn!("saving resume data: {e}"),
        }
    }

    // ----- peers -------------------------------------------------------------------------

    /// Admits a peer after the handshake; `None` when it must be dropped (banned, duplicate,
    /// ourselves, too many peers, stopped).
    #[allow(clippy::type_complexity)]
    pub(crate) fn register_peer(
        &self,
        addr: SocketAddr,
        peer_id: PeerId,
        fast: bool,
        outgoing: bool,
    ) -> Option<(
        usize,
        mpsc::UnboundedReceiver<PeerCmd>,
        Arc<UploadQueue>,
        Arc<PeerCounters>,
    )> {
        if self.is_stopped() || peer_id == self.ctx.peer_id {
            return None;
        }
        if self.ctx.connections.load(Ordering::Relaxed)
            >= self.ctx.max_connections.load(Ordering::Relaxed)
        {
            tracing::debug!("{addr}: refused, the session is at its connection cap");
            return None;
        }
        let mut st = self.state();
        if st.banned.contains(&addr.ip())
            || st.peers.len() >= self.opts.max_peers
            || st.peers.values().any(|p| p.peer_id == peer_id)
            || st.phase == Phase::Paused
        {
            return None;
        }
        let key = st.next_key;
        st.next_key += 1;
        let (tx, rx) = mpsc::unbounded_channel();
        let uploads = Arc::new(UploadQueue::default());
        let counters = Arc::new(PeerCounters::default());
        let n = self.meta.num_pieces();
        st.peers.insert(
            key,
            PeerEntry {
                addr,
                peer_id,
                outgoing,
                bits: Bitfield::new(n),
                am_choking: true,
                am_interested: false,
                peer_choking: true,
                peer_interested: false,
                fast,
                ext_ids: HashMap::new(),
                client: peer_id.client_name(),
                listen_port: outgoing.then_some(addr.port()),
                reqq: 250,
                inflight: 0,
                allowed_fast: Vec::new(),
                tx,
                uploads: uploads.clone(),
                counters: counters.clone(),
                connected_at: Instant::now(),
                both_seeds_since: None,
                down_rate: 0.0,
                up_rate: 0.0,
                last_down: 0,
                last_up: 0,
            },
        );
        if !outgoing {
            // Remember incoming peers by their address so a re-dial is possible after a drop.
            st.known.entry(addr).or_default();
        }
        self.ctx.connections.fetch_add(1, Ordering::Relaxed);
        Some((key, rx, uploads, counters))
    }

    pub(crate) fn unregister_peer(self: &Arc<Self>, key: usize) {
        let link = {
            let mut st = self.state();
            let Some(p) = st.peers.remove(&key) else {
                return;
            };
            self.ctx.connections.fetch_sub(1, Ordering::Relaxed);
            st.picker.peer_removed(key, &p.bits);
            if let Some(k) = st.known.get_mut(&p.addr) {
                k.last_attempt = Some(Instant::now());
            }
            PeerLink {
                torrent: self.clone(),
                key,
                addr: p.addr,
                peer_id: p.peer_id,
            }
        };
        for ext in self.extensions() {
            ext.on_disconnect(&link);
        }
    }

    pub(crate) fn note_connect_failure(&self, addr: SocketAddr) {
        let mut st = self.state();
        let k = st.known.entry(addr).or_default();
        k.failures += 1;
        k.last_attempt = Some(Instant::now());
    }

    pub fn add_peers(&self, addrs: impl IntoIterator<Item = SocketAddr>) {
        let mut st = self.state();
        for a in addrs {
            if a.port() != 0 {
                st.known.entry(a).or_default();
            }
        }
    }

    /// Messages every new connection starts with: our pieces.
    pub(crate) fn initial_have(&self, fast: bool) -> Option<Message> {
        let st = self.state();
        let have = st.picker.have();
        if fast && have.all() {
            Some(Message::HaveAll)
        } else if fast && have.none() {
            Some(Message::HaveNone)
        } else if have.none() {
            None
        } else {
            Some(Message::Bitfield(Bytes::copy_from_slice(have.as_bytes())))
        }
    }

    // ----- messages from a peer (called by the peer task) ----------------------------------

    /// Applies the peer's piece set (bitfield / HaveAll / HaveNone). Returns false if invalid.
    pub(crate) fn on_bitfield(&self, key: usize, bits: Bitfield) {
        let mut st = self.state();
        let st = &mut *st;
        let Some(p) = st.peers.get_mut(&key) else {
            return;
        };
        st.picker.peer_removed(usize::MAX, &p.bits);
        st.picker.peer_added(&bits);
        p.bits = bits;
        Self::update_interest(st, key);
        self.fill(st, key);
    }

    pub(crate) fn on_have(&self, key: usize, index: u32) {
        let mut st = self.state();
        let st = &mut *st;
        let Some(p) = st.peers.get_mut(&key) else {
            return;
        };
        if p.bits.set(index as usize) {
            st.picker.peer_has(index);
        }
        Self::update_interest(st, key);
        self.fill(st, key);
    }

    pub(crate) fn on_choke(&self, key: usize, choked: bool) {
        let mut st = self.state();
        let st = &mut *st;
        let Some(p) = st.peers.get_mut(&key) else {
            return;
        };
        p.peer_choking = choked;
        if choked {
            // Requests die with a choke (BEP 3); with the fast extension the peer also sends
            // Rejects, which find nothing left to release.
            p.inflight = 0;
            st.picker.release_peer(key);
        } else {
            self.fill(st, key);
        }
    }

    pub(crate) fn on_interested(&self, key: usize, interested: bool) {
        let mut st = self.state();
        let st = &mut *st;
        let Some(p) = st.peers.get_mut(&key) else {
            return;
        };
        p.peer_interested = interested;
        if interested && p.am_choking {
            // Unchoke at once while a regular slot is free instead of waiting up to 10 s.
            let slots = st.choker.slots();
            let unchoked = st.peers.values().filter(|p| !p.am_choking).count();
            if unchoked < slots
                && let Some(p) = st.peers.get_mut(&key)
            {
                p.am_choking = false;
                let _ = p.tx.send(PeerCmd::Unchoke);
            }
        }
    }

    pub(crate) fn on_allowed_fast(&self, key: usize, index: u32) {
        let mut st = self.state();
        let st = &mut *st;
        if let Some(p) = st.peers.get_mut(&key)
            && (index as usize) < p.bits.len()
            && !p.allowed_fast.contains(&index)
            && p.allowed_fast.len() < 64
        {
            p.allowed_fast.push(index);
            self.fill(st, key);
        }
    }

    pub(crate) fn on_reject(&self, key: usize, b: &BlockRef) {
        let mut st = self.state();
        let st = &mut *st;
        st.picker.release_block(key, b);
        if let Some(p) = st.peers.get_mut(&key) {
            p.inflight = p.inflight.saturating_sub(1);
        }
        self.fill(st, key);
    }

    pub(crate) fn on_extended_handshake(
        &self,
        key: usize,
        ids: HashMap<String, u8>,
        client: Option<String>,
        reqq: Option<usize>,
        listen_port: Option<u16>,
    ) {
        let mut st = self.state();
        let st = &mut *st;
        if let Some(p) = st.peers.get_mut(&key) {
            p.ext_ids = ids;
            if let Some(c) = client {
                p.client = c;
            }
            if let Some(q) = reqq {
                p.reqq = q.clamp(1, 2000);
            }
            if let Some(port) = listen_port
                && !p.outgoing
                && port != 0
            {
                p.listen_port = Some(port);
                let a = SocketAddr::new(p.addr.ip(), port);
                st.known.entry(a).or_default();
            }
        }
    }

    /// Validates a request from a peer: `Err` means the peer broke the protocol.
    pub(crate) fn check_request(&self, b: &BlockRef) -> Result<bool, String> {
        let n = self.meta.num_pieces() as u32;
        if b.index >= n {
            return Err(format!("request for piece {} of {n}", b.index));
        }
        let size = self.meta.info.piece_size(b.index as usize);
        let end = u64::from(b.begin) + u64::from(b.length);
        if b.length == 0 || b.length > crate::engine::wire::MAX_REQUEST || end > size {
            return Err(format!(
                "request out of range: piece {} begin {} length {} (piece is {size} bytes)",
                b.index, b.begin, b.length
            ));
        }
        let st = self.state();
        Ok(st.picker.have().get(b.index as usize))
    }

    pub(crate) fn am_choking(&self, key: usize) -> bool {
        self.state().peers.get(&key).is_none_or(|p| p.am_choking)
    }

    /// A block arrived. Returns the piece to verify when it completed the piece.
    pub(crate) fn on_block(
        &self,
        key: usize,
        index: u32,
        begin: u32,
        data: &[u8],
    ) -> Option<CompletedPiece> {
        let mut st = self.state();
        let st = &mut *st;
        let outcome = st.picker.on_block(key, index, begin, data);
        if let Some(p) = st.peers.get_mut(&key) {
            p.inflight = p.inflight.saturating_sub(1);
        }
        let (piece, cancel) = match outcome {
            BlockOutcome::Unexpected => (None, Vec::new()),
            BlockOutcome::Stored { cancel } => (None, cancel),
            BlockOutcome::Complete { piece, cancel } => (Some(piece), cancel),
        };
        if !cancel.is_empty() {
            let b = BlockRef {
                index,
                begin,
                length: data.len() as u32,
            };
            for other in cancel {
                if let Some(p) = st.peers.get_mut(&other) {
                    p.inflight = p.inflight.saturating_sub(1);
                    let _ = p.tx.send(PeerCmd::Send(Message::Cancel(b)));
                }
            }
        }
        self.fill(st, key);
        piece
    }

    /// Hashes and writes a completed piece off the async threads, then records the result.
    pub(crate) async fn verify_and_store(self: &Arc<Self>, piece: CompletedPiece) {
        let storage = self.storage.clone();
        let expected = self.meta.info.pieces[piece.index as usize];
        let index = piece.index;
        let data = piece.data;
        let res = tokio::task::spawn_blocking(move || -> Result<bool, String> {
            use sha1::{Digest, Sha1};
            let got: [u8; 20] = Sha1::digest(&data).into();
            if got != expected {
                return Ok(false);
            }
            storage
                .write_piece(index as usize, &data)
                .map_err(|e| e.to_string())?;
            Ok(true)
        })
        .await;
        match res {
            Ok(Ok(true)) => {
                self.piece_verified(index).await;
                for ext in self.extensions() {
                    ext.on_piece(self, index, true, &piece.contributors);
                }
            }
            Ok(Ok(false)) => {
                self.piece_failed(index, &piece.contributors);
                for ext in self.extensions() {
                    ext.on_piece(self, index, false, &piece.contributors);
                }
            }
            Ok(Err(e)) => {
                self.state().picker.piece_checked(index, false);
                self.fail(format!("writing piece {index}: {e}"));
            }
            Err(e) => {
                self.state().picker.piece_checked(index, false);
                self.fail(format!("writing piece {index}: {e}"));
            }
        }
    }

    async fn piece_verified(self: &Arc<Self>, index: u32) {
        let complete = {
            let mut st = self.state();
            let st = &mut *st;
            st.picker.piece_checked(index, true);
            st.resume_dirty = true;
            let keys: Vec<usize> = st.peers.keys().copied().collect();
            for k in keys {
                if let Some(p) = st.peers.get(&k) {
                    // Peers that have it already need not be told (libtorrent's have-suppression).
                    if !p.bits.get(index as usize) {
                        let _ = p.tx.send(PeerCmd::Send(Message::Have(index)));
                    }
                }
                Self::update_interest(st, k);
            }
            let complete = st.picker.is_complete() && st.phase == Phase::Downloading;
            if complete {
                // Seeds do not need seeds: the tick's sweep hangs up on them.
                st.phase = Phase::Seeding;
            }
            complete
        };
        self.emit(TorrentEvent::PieceVerified(index));
        if complete {
            // Complete means on disk: flush before saying so.
            self.save_resume(false).await;
            self.emit(TorrentEvent::Complete);
            self.emit(TorrentEvent::Seeding);
            self.completed_notify.notify_one();
        }
    }

    fn piece_failed(&self, index: u32, contributors: &[(usize, u64)]) {
        let mut banned = Vec::new();
        {
            let mut st = self.state();
            let st = &mut *st;
            st.picker.piece_checked(index, false);
            let sole = contributors.len() == 1;
            for (key, _) in contributors {
                let Some(p) = st.peers.get(key) else { continue };
                let ip = p.addr.ip();
                let count = st.hash_failures.entry(ip).or_insert(0);
                *count += 1;
                if *count >= BAN_AFTER_FAILURES {
                    st.banned.insert(ip);
                    banned.push(ip);
                }
                if sole || st.banned.contains(&ip) {
                    tracing::info!("dropping {} after a hash failure on piece {index}", p.addr);
                    let _ = p.tx.send(PeerCmd::Close);
                }
            }
        }
        self.emit(TorrentEvent::HashFailed { piece: index });
        for ip in banned {
            self.emit(TorrentEvent::PeerBanned(ip));
        }
    }

    fn update_interest(st: &mut State, key: usize) {
        let Some(p) = st.peers.get(&key) else { return };
        let want = st.picker.interesting(&p.bits);
        if let Some(p) = st.peers.get_mut(&key)
            && want != p.am_interested
        {
            p.am_interested = want;
            let m = if want {
                Message::Interested
            } else {
                Message::NotInterested
            };
            let _ = p.tx.send(PeerCmd::Send(m));
        }
    }

    /// Tops up the peer's request pipeline. Depth follows its rate: about one second of data
    /// in flight, at least 16 blocks, never past the peer's `reqq`.
    fn fill(&self, st: &mut State, key: usize) {
        let Some(p) = st.peers.get(&key) else { return };
        if !p.am_interested || st.phase != Phase::Downloading {
            return;
        }
        let depth = ((p.down_rate / f64::from(crate::engine::wire::BLOCK)) as usize + 16)
            .clamp(16, p.reqq.min(500));
        if p.inflight >= depth {
            return;
        }
        let want = depth - p.inflight;
        let mut out = Vec::new();
        if p.peer_choking {
            if p.allowed_fast.is_empty() {
                return;
            }
            let mut allowed = Bitfield::new(p.bits.len());
            for &i in &p.allowed_fast {
                if p.bits.get(i as usize) {
                    allowed.set(i as usize);
                }
            }
            st.picker
                .pick(key, &allowed, want, Instant::now(), &mut out);
        } else {
            let bits = p.bits.clone();
            st.picker.pick(key, &bits, want, Instant::now(), &mut out);
        }
        if out.is_empty() {
            return;
        }
        if let Some(p) = st.peers.get_mut(&key) {
            p.inflight += out.len();
            let _ = p.tx.send(PeerCmd::Requests(out));
        }
    }

    // ----- periodic work ---------------------------------------------------------------------

    async fn tick_loop(self: Arc<Self>) {
        let mut tick = tokio::time::interval(Duration::from_secs(1));
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let mut last_rechoke = Instant::now() - RECHOKE_INTERVAL;
        let mut last_optimistic = Instant::now() - OPTIMISTIC_INTERVAL;
        let mut last_checkpoint = Instant::now();
        loop {
            tokio::select! {
                _ = tick.tick() => {}
                _ = self.stopped() => return,
            }
            let now = Instant::now();
            self.update_rates();
            let soon = std::mem::take(&mut self.state().rechoke_soon);
            if soon || now.duration_since(last_rechoke) >= RECHOKE_INTERVAL {
                let rotate = now.duration_since(last_optimistic) >= OPTIMISTIC_INTERVAL;
                if rotate {
                    last_optimistic = now;
                }
                self.rechoke(rotate);
                last_rechoke = now;
            }
            self.expire_requests(now);
            self.drop_idle(now);
            self.close_finished_seeds(now);
            for ext in self.extensions() {
                ext.on_tick(&self);
            }
            self.connect_more();
            if now.duration_since(last_checkpoint) >= CHECKPOINT_INTERVAL
                && self.state().resume_dirty
            {
                self.save_resume(false).await;
                last_checkpoint = now;
            }
        }
    }

    fn update_rates(&self) {
        // An EWMA over ~5 s: smooth enough for the choker, quick enough for pipelining.
        const ALPHA: f64 = 0.35;
        let mut st = self.state();
        let st = &mut *st;
        for p in st.peers.values_mut() {
            let d = p.counters.downloaded.load(Ordering::Relaxed);
            let u = p.counters.uploaded.load(Ordering::Relaxed);
            p.down_rate = p.down_rate * (1.0 - ALPHA) + (d - p.last_down) as f64 * ALPHA;
            p.up_rate = p.up_rate * (1.0 - ALPHA) + (u - p.last_up) as f64 * ALPHA;
            p.last_down = d;
            p.last_up = u;
        }
        let d = self.downloaded.load(Ordering::Relaxed);
        let u = self.uploaded.load(Ordering::Relaxed);
        st.down_rate = st.down_rate * (1.0 - ALPHA) + (d - st.last_down) as f64 * ALPHA;
        st.up_rate = st.up_rate * (1.0 - ALPHA) + (u - st.last_up) as f64 * ALPHA;
        st.last_down = d;
        st.last_up = u;
    }

    fn rechoke(&self, rotate: bool) {
        let mut st = self.state();
        let st = &mut *st;
        let seed = st.phase == Phase::Seeding;
        let views: Vec<PeerView> = st
            .peers
            .iter()
            .map(|(k, p)| PeerView {
                key: *k,
                addr: p.addr,
                interested: p.peer_interested,
                choked: p.am_choking,
                download_rate: p.down_rate,
                upload_rate: p.up_rate,
                is_seed: p.is_seed(),
                connected_at: p.connected_at,
            })
            .collect();
        let d = st.choker.rechoke(&views, seed, rotate);
        // Shares only mean something under a binding upload limit: split that limit.
        let cap = match (self.ctx.global_up.rate(), self.up_limit.rate()) {
            (0, t) => t,
            (g, 0) => g,
            (g, t) => g.min(t),
        };
        let total: f64 = d.shares.iter().map(|(_, w)| w.max(0.0)).sum();
        for (k, p) in st.peers.iter_mut() {
            let share = d
                .shares
                .iter()
                .find(|(key, _)| key == k)
                .map(|(_, w)| w.max(0.0));
            let rate = match share {
                Some(w) if cap > 0 && total > 0.0 => ((cap as f64 * w / total) as u64).max(1),
                _ => 0,
            };
            p.counters.up_limit.set_rate(rate);
            let unchoke = d.unchoke.contains(k) || d.optimistic == Some(*k);
            if unchoke && p.am_choking {
                p.am_choking = false;
                let _ = p.tx.send(PeerCmd::Unchoke);
            } else if !unchoke && !p.am_choking {
                p.am_choking = true;
                let _ = p.tx.send(PeerCmd::Choke);
            }
        }
    }

    fn expire_requests(&self, now: Instant) {
        let mut st = self.state();
        let st = &mut *st;
        let expired = st.picker.expire(REQUEST_TIMEOUT, now);
        let mut touched = HashSet::new();
        for (k, _) in expired {
            if let Some(p) = st.peers.get_mut(&k) {
                p.inflight = p.inflight.saturating_sub(1);
                touched.insert(k);
            }
        }
        let keys: Vec<usize> = st.peers.keys().copied().collect();
        for k in keys {
            self.fill(st, k);
        }
    }

    /// Hangs up on seeds once we are a seed too: keep-alives would otherwise hold such a
    /// connection open forever. An extension with unfinished business on it (see
    /// `Extension::keep_open`) gets up to SEED_LINGER; the address is then not redialled
    /// while we seed.
    fn close_finished_seeds(self: &Arc<Self>, now: Instant) {
        let candidates: Vec<(PeerLink, Instant)> = {
            let mut st = self.state();
            if st.phase != Phase::Seeding {
                return;
            }
            st.peers
                .iter_mut()
                .filter(|(_, p)| p.is_seed())
                .map(|(k, p)| {
                    let since = *p.both_seeds_since.get_or_insert(now);
                    (
                        PeerLink {
                            torrent: self.clone(),
                            key: *k,
                            addr: p.addr,
                            peer_id: p.peer_id,
                        },
                        since,
                    )
                })
                .collect()
        };
        if candidates.is_empty() {
            return;
        }
        let exts = self.extensions();
        let mut st = self.state();
        let st = &mut *st;
        for (link, since) in candidates {
            let linger =
                now.duration_since(since) < SEED_LINGER && exts.iter().any(|e| e.keep_open(&link));
            if linger {
                continue;
            }
            let Some(p) = st.peers.get(&link.key) else {
                continue;
            };
            let _ = p.tx.send(PeerCmd::Close);
            let dial = p.listen_port.map(|port| SocketAddr::new(p.addr.ip(), port));
            if let Some(k) = dial.and_then(|a| st.known.get_mut(&a)) {
                k.seed = true;
            }
        }
    }

    fn drop_idle(&self, _now: Instant) {
        let st = self.state();
        let now_ms = self.started.elapsed().as_millis() as u64;
        for p in st.peers.values() {
            let last = p.counters.last_recv_ms.load(Ordering::Relaxed);
            if now_ms.saturating_sub(last) > IDLE_TIMEOUT.as_millis() as u64 {
                let _ = p.tx.send(PeerCmd::Close);
            }
        }
    }

    pub(crate) fn now_ms(&self) -> u64 {
        self.started.elapsed().as_millis() as u64
    }

    /// Dials known peers while below the connection cap, backing off after failures.
    fn connect_more(self: &Arc<Self>) {
        let candidates: Vec<SocketAddr> = {
            let mut st = self.state();
            let st = &mut *st;
            if st.phase == Phase::Paused || st.phase == Phase::Error {
                return;
            }
            let connected: HashSet<SocketAddr> = st.peers.values().map(|p| p.addr).collect();
            let global_room = self
                .ctx
                .max_connections
                .load(Ordering::Relaxed)
                .saturating_sub(self.ctx.connections.load(Ordering::Relaxed));
            let room = self
                .opts
                .max_peers
                .saturating_sub(st.peers.len())
                .min(global_room);
            let now = Instant::now();
            let mut out = Vec::new();
            for (addr, k) in st.known.iter_mut() {
                if out.len() >= room.min(8) {
                    break;
                }
                if connected.contains(addr)
                    || st.banned.contains(&addr.ip())
                    || (k.seed && st.phase == Phase::Seeding)
                {
                    continue;
                }
                let backoff = Duration::from_secs(5u64 << k.failures.min(6));
                if k.last_attempt
                    .is_some_and(|t| now.duration_since(t) < backoff)
                {
                    continue;
                }
                k.last_attempt = Some(now);
                out.push(*addr);
            }
            out
        };
        for addr in candidates {
            let t = self.clone();
            tokio::spawn(async move { crate::engine::peer::connect(t, addr).await });
        }
    }

    // ----- trackers ------------------------------------------------------------------------------

    fn announce_request(&self, event: AnnounceEvent) -> AnnounceRequest {
        let left = self.state().picker.bytes_left();
        AnnounceRequest {
            info_hash: self.meta.info_hash,
            peer_id: self.ctx.peer_id,
            port: self.ctx.listen_port.load(Ordering::Relaxed) as u16,
            uploaded: self.uploaded.load(Ordering::Relaxed),
            downloaded: self.downloaded.load(Ordering::Relaxed),
            left,
            event,
            num_want: 50,
            key: u32::from_be_bytes([
                self.ctx.peer_id.0[16],
                self.ctx.peer_id.0[17],
                self.ctx.peer_id.0[18],
                self.ctx.peer_id.0[19],
            ]),
        }
    }

    async fn announce_once(&self, event: AnnounceEvent, timeout: Duration) -> Option<Duration> {
        let mut tiers = TrackerTiers::new(self.meta.announce_tiers.clone());
        if tiers.is_empty() {
            return None;
        }
        let req = self.announce_request(event);
        match tiers.announce(&req, timeout).await {
            Ok((_, resp)) => Some(resp.interval),
            Err(_) => None,
        }
    }

    async fn tracker_loop(self: Arc<Self>) {
        let mut tiers = TrackerTiers::new(self.meta.announce_tiers.clone());
        if tiers.is_empty() {
            return;
        }
        let mut event = AnnounceEvent::Started;
        let mut failures = 0u32;
        loop {
            let req = self.announce_request(event);
            let result = tiers.announce(&req, Duration::from_secs(15)).await;
            *lock(&self.tracker_status) = tiers.status();
            let wait = match result {
                Ok((url, resp)) => {
                    tracing::debug!("{url}: {} peers", resp.peers.len());
                    failures = 0;
                    event = AnnounceEvent::None;
                    self.add_peers(resp.peers);
                    self.connect_more();
                    let interval = resp.interval.max(Duration::from_secs(30));
                    self.opts.tracker_interval.unwrap_or(interval)
                }
                Err(e) => {
                    self.emit(TorrentEvent::TrackerError(e.to_string()));
                    failures += 1;
                    let backoff = Duration::from_secs(15u64 << failures.min(5));
                    self.opts
                        .tracker_interval
                        .map_or(backoff, |i| i.min(backoff))
                }
            };
            tokio::select! {
                _ = tokio::time::sleep(wait) => {}
                _ = self.completed_notify.notified() => {
                    if event == AnnounceEvent::None {
                        event = AnnounceEvent::Completed;
                    }
                }
                _ = self.stopped() => return,
            }
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Read-only views for the dashboard (issue 6). Additive: copies out of the picker under the
// state lock, so a renderer never holds the lock while drawing.
// ---------------------------------------------------------------------------------------------

impl Torrent {
    /// How many connected peers have each piece (swarm availability), indexed by piece.
    pub fn piece_availability(&self) -> Vec<u32> {
        self.state().picker.availability().to_vec()
    }

    /// Each tracker URL with the outcome of its last announce; URLs never tried yet (before
    /// the first announce, or paused) come with every field empty.
    pub fn tracker_status(&self) -> Vec<TrackerStatus> {
        let st = lock(&self.tracker_status).clone();
        if st.is_empty() {
            TrackerTiers::new(self.meta.announce_tiers.clone()).status()
        } else {
            st
        }
    }

    /// Pieces with blocks requested or received but not yet verified, in ascending order.
    pub fn downloading_pieces(&self) -> Vec<u32> {
        let mut v: Vec<u32> = self.state().picker.downloading().collect();
        v.sort_unstable();
        v
    }

    /// Restricts picking to `wanted` pieces (file priority "skip" clears a file's pieces).
    /// A bitfield of the wrong length is ignored, as in the picker.
    pub fn set_wanted_pieces(&self, wanted: Bitfield) {
        self.state().picker.set_wanted(wanted);
    }
}

// ----- control from a daemon: pause, resume, recheck, reannounce, peer list -----------------
//
// Kept apart from the code above so the engine's core loops stay untouched: the loops are
// wrapped (see `spawn_loops`) and end when the run generation moves on.

/// One connected peer, as a dashboard or `bidtorrent peers` shows it.
#[derive(Debug, Clone)]
pub struct PeerStats {
    pub addr: SocketAddr,
    pub client: String,
    pub outgoing: bool,
    /// Pieces the peer has, out of the torrent's.
    pub have_pieces: usize,
    pub down_rate: f64,
    pub up_rate: f64,
    pub downloaded: u64,
    pub uploaded: u64,
    pub am_choking: bool,
    pub am_interested: bool,
    pub peer_choking: bool,
    pub peer_interested: bool,
}

impl Torrent {
    pub fn is_paused(&self) -> bool {
        self.paused.load(Ordering::SeqCst)
    }

    /// Runs the tick and tracker loops until the run generation moves past `generation`
    /// (pause, recheck) or the torrent stops.
    fn spawn_loops(self: &Arc<Self>, generation: u64) {
        let t = self.clone();
        let mut rx = self.run_gen.subscribe();
        tokio::spawn(async move {
            tokio::select! {
                _ = t.tick_loop() => {}
                _ = rx.wait_for(|g| *g != generation) => {}
            }
        });
        let t = self.clone();
        let mut rx = self.run_gen.subscribe();
        tokio::spawn(async move {
            tokio::select! {
                _ = t.tracker_loop() => {}
                _ = rx.wait_for(|g| *g != generation) => {}
            }
        });
    }

    /// Ends the loops of the current generation and closes every peer. Call with the lock.
    fn halt_locked(&self, st: &State) {
        self.run_gen.send_modify(|g| *g += 1);
        for p in st.peers.values() {
            let _ = p.tx.send(PeerCmd::Close);
        }
    }

    /// Pauses: closes every peer, stops the tick and tracker loops (no dialling, no
    /// announces), refuses new peers, writes a checkpoint and announces `stopped`.
    /// Returns false when it was paused already.
    pub async fn pause(self: &Arc<Self>) -> bool {
        let was_running = {
            let mut st = self.state();
            if self.paused.swap(true, Ordering::SeqCst) {
                return false;
            }
            self.halt_locked(&st);
            let running = matches!(st.phase, Phase::Downloading | Phase::Seeding);
            if running {
                st.phase = Phase::Paused;
            }
            // While checking, `start`/`force_recheck` see the flag and end in `Paused`.
            running
        };
        if was_running {
            self.save_resume(false).await;
            self.announce_once(AnnounceEvent::Stopped, Duration::from_secs(3))
                .await;
        }
        true
    }

    /// Undoes `pause`: the loops start again (the tracker hears `started`). Returns false
    /// when it was not paused.
    pub fn resume(self: &Arc<Self>) -> bool {
        let generation = {
            let mut st = self.state();
            if !self.paused.swap(false, Ordering::SeqCst) {
                return false;
            }
            if st.phase != Phase::Paused || self.is_stopped() {
                // Still checking: the check sees the cleared flag and starts the loops.
                return true;
            }
            st.phase = if st.picker.is_complete() {
                Phase::Seeding
            } else {
                Phase::Downloading
            };
            // Peers were closed by us, not lost: dial them again at once, not after backoff.
            for k in st.known.values_mut() {
                k.last_attempt = None;
            }
            *self.run_gen.borrow()
        };
        self.spawn_loops(generation);
        true
    }

    /// Hashes every piece again (peers are closed meanwhile), then carries on as before:
    /// paused stays paused. Also clears an error state, so it is the way to retry after a
    /// disk problem is fixed.
    pub async fn force_recheck(self: &Arc<Self>) -> Result<CheckResult, String> {
        {
            let mut st = self.state();
            if st.phase == Phase::Checking {
                return Err("already checking".into());
            }
            if self.is_stopped() {
                return Err("torrent is stopped".into());
            }
            self.halt_locked(&st);
            st.phase = Phase::Checking;
            st.error = None;
        }
        self.emit(TorrentEvent::Checking);
        let storage = self.storage.clone();
        let pieces = self.meta.info.pieces.clone();
        let checked =
            tokio::task::spawn_blocking(move || storage.recheck(&pieces, |_| true, |_, _| {}))
                .await;
        let have = match checked {
            Ok(Ok(have)) => have,
            Ok(Err(e)) => {
                let msg = format!("rechecking data: {e}");
                self.fail(msg.clone());
                return Err(msg);
            }
            Err(e) => {
                let msg = format!("rechecking data: {e}");
                self.fail(msg.clone());
                return Err(msg);
            }
        };
        let result = CheckResult {
            have: have.count(),
            hashed: self.meta.num_pieces(),
        };
        let (paused, generation) = {
            let mut st = self.state();
            st.picker.set_have(have);
            st.checked = Some(result);
            st.resume_dirty = true;
            let paused = self.is_paused();
            st.phase = if paused {
                Phase::Paused
            } else if st.picker.is_complete() {
                Phase::Seeding
            } else {
                Phase::Downloading
            };
            (paused, *self.run_gen.borrow())
        };
        self.emit(TorrentEvent::Checked {
            have: result.have,
            hashed: result.hashed,
        });
        self.save_resume(false).await;
        if !paused && !self.is_stopped() {
            self.spawn_loops(generation);
        }
        Ok(result)
    }

    /// Announces to the trackers now (outside the regular interval) and dials the peers they
    /// return. Returns how many peers the tracker gave.
    pub async fn reannounce(self: &Arc<Self>) -> Result<usize, String> {
        if self.is_paused() {
            return Err("torrent is paused".into());
        }
        let mut tiers = TrackerTiers::new(self.meta.announce_tiers.clone());
        if tiers.is_empty() {
            return Err("the torrent has no trackers".into());
        }
        let req = self.announce_request(AnnounceEvent::None);
        match tiers.announce(&req, Duration::from_secs(10)).await {
            Ok((_, resp)) => {
                let n = resp.peers.len();
                self.add_peers(resp.peers);
                self.connect_more();
                Ok(n)
            }
            Err(e) => Err(e.to_string()),
        }
    }

    /// The connected peers.
    pub fn peer_stats(&self) -> Vec<PeerStats> {
        let st = self.state();
        st.peers
            .values()
            .map(|p| PeerStats {
                addr: p.addr,
                client: p.client.clone(),
                outgoing: p.outgoing,
                have_pieces: p.bits.count(),
                down_rate: p.down_rate,
                up_rate: p.up_rate,
                downloaded: p.counters.downloaded.load(Ordering::Relaxed),
                uploaded: p.counters.uploaded.load(Ordering::Relaxed),
                am_choking: p.am_choking,
                am_interested: p.am_interested,
                peer_choking: p.peer_choking,
                peer_interested: p.peer_interested,
            })
            .collect()
    }
}

/// The pieces to fetch when the files at `skipped` (indices into `meta.info.files`) are not
/// wanted: a piece stays wanted while any wanted file touches it.
pub fn wanted_without(meta: &Metainfo, skipped: &[usize]) -> Bitfield {
    let n = meta.num_pieces();
    let pl = meta.info.piece_length.max(1);
    let mut wanted = Bitfield::new(n);
    for (i, f) in meta.info.files.iter().enumerate() {
        if f.length == 0 || f.pad || skipped.contains(&i) {
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

/// Share of a file's pieces verified (a piece shared with a neighbour counts for both).
pub fn file_progress(meta: &Metainfo, have: &Bitfield, file: usize) -> f64 {
    let Some(f) = meta.info.files.get(file) else {
        return 0.0;
    };
    if f.length == 0 {
        return 1.0;
    }
    let pl = meta.info.piece_length.max(1);
    let first = (f.offset / pl) as usize;
    let last = ((f.offset + f.length - 1) / pl) as usize;
    let total = last - first + 1;
    (first..=last).filter(|&p| have.get(p)).count() as f64 / total as f64
}
