//! One torrent: its verified pieces, its peers, the choker, the tracker loop and resume data.
//!
//! The code is split by concern: `peers` (admitting peers and the messages they send),
//! `pieces` (completed pieces: hash, write, verdict), `tick` (the once-a-second loop: rates,
//! rechoke, timeouts), `lifecycle` (check, start, pause, resume, recheck, stop, trackers),
//! `view` (snapshots for displays), `handle` (the narrow door extensions get,
//! [`TorrentHandle`]), `v2` (BEP 52 handshake bit and hash requests) and `webseed` (BEP 19
//! web seeds, fed to the picker like peers).
//!
//! # Locks
//!
//! All mutable state sits behind one `std::sync::Mutex` (the *state lock*, taken by `Torrent::state`)
//! that is never held across an `.await`; peer tasks take it briefly per message. With tens of
//! peers per torrent this costs far less than the hashing and the copying, and it keeps every
//! decision in one place.
//!
//! Lock order: **the torrent's state lock first, an extension's own lock second, never the
//! reverse.** The engine calls into extensions with the state lock held in two places: the
//! choker (`Choker::rechoke`, `Choker::slots`, which the market implements over its own lock)
//! and `Extension::keep_open`. So an extension must not call back into the torrent (through
//! its [`TorrentHandle`] or a [`PeerLink`](crate::engine::extension::PeerLink)) while it holds
//! its own lock: the market collects what it wants done as a list of actions under its lock
//! and runs them after releasing it. The small locks inside `UploadQueue` and the tracker
//! status are leaves: nothing is locked while they are held.
//!
//! # States
//!
//! A torrent's state is spread over four values, read together under the state lock:
//!
//! - [`Phase`] (in the state): `Checking` (hashing what is on disk, at start or on
//!   `force_recheck`), `Downloading`, `Seeding` (every piece verified), `Paused` and `Error`
//!   (a disk failure; `force_recheck` clears it).
//! - `paused` (an atomic flag, changed under the state lock): what the user asked for. It
//!   differs from `Phase::Paused` while checking: a torrent paused during its check reads
//!   `Checking` until the check ends, then `Paused`.
//! - `stopped` (an atomic flag): set once by `stop`, never cleared. Every task and peer ends,
//!   no peer is admitted, `resume` starts no loops and `force_recheck` refuses.
//! - the run generation (a `watch` counter): the periodic loops (tick, tracker) belong to the
//!   generation they were spawned in and end when it moves on (pause, recheck).
//!
//! Transitions:
//!
//! ```text
//! new ──start──▶ Checking ──▶ Downloading ──last piece verified──▶ Seeding
//! Downloading ◀──a skipped file wanted again── Finished ◀──last wanted piece── Downloading
//!                   │   └──(paused flag set meanwhile)──▶ Paused
//!                   └──disk error──▶ Error
//! Downloading | Seeding ──pause──▶ Paused ──resume──▶ Downloading | Seeding
//! not Checking, not stopped ──force_recheck──▶ Checking ──▶ Downloading | Seeding | Paused
//! any ──stop──▶ stopped (the phase stays as it was)
//! ```
//!
//! Pause and recheck bump the run generation and close every peer; `resume` and the end of a
//! check spawn the loops again for the current generation unless paused or stopped.

mod handle;
mod lifecycle;
mod peers;
mod pieces;
mod tick;
mod v2;
mod view;
mod webseed;

use std::collections::{HashMap, HashSet};
use std::net::{IpAddr, SocketAddr};
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, RwLock};
use std::time::{Duration, Instant};

use tokio::sync::{Notify, OwnedSemaphorePermit, Semaphore, broadcast, watch};

use crate::engine::bitfield::Bitfield;
use crate::engine::choker::{Choker, TitForTat};
use crate::engine::extension::Extension;
use crate::engine::metainfo::Metainfo;
use crate::engine::picker::Picker;
use crate::engine::ratelimit::RateLimiter;
use crate::engine::storage::Storage;
use crate::engine::tracker::TrackerStatus;
use crate::engine::types::{InfoHash, PeerId};

pub use handle::TorrentHandle;
pub(crate) use view::DialablePeer;
pub use view::{PeerInfo, TorrentStats, file_progress, wanted_without};
pub use webseed::WebSeedStatus;

use peers::{KnownPeer, PeerEntry};

/// Completed pieces hashed and written at once: enough to keep both cores busy while the
/// network fills the next ones, few enough to bound memory (4 × the piece size).
const VERIFY_SLOTS: usize = 4;

/// How many events a torrent keeps for a subscriber that has not read them yet.
const EVENT_BACKLOG: usize = 64;

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
    /// How peers are dialled and accepted (TCP, encryption policy).
    pub transport: Arc<crate::engine::transport::Transport>,
    /// Resume files written at once. Thousands of threads creating files in one directory
    /// spent a stop of 10,000 torrents spinning on the directory's lock in the kernel.
    pub resume_writers: tokio::sync::Semaphore,
}

/// Resume files written at once, across the session.
pub const RESUME_WRITERS: usize = 4;

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

/// Where a torrent is in its life; see the module docs for the transitions.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Phase {
    Checking,
    Downloading,
    /// Every wanted piece is verified but skipped files leave pieces missing: not a seed, so
    /// no `completed` announce; wanting a file again makes it `Downloading`.
    Finished,
    Seeding,
    Paused,
    Error,
}

impl Phase {
    pub fn as_str(&self) -> &'static str {
        match self {
            Phase::Checking => "checking",
            Phase::Downloading => "downloading",
            Phase::Finished => "finished",
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

/// Everything behind the state lock.
struct State {
    picker: Picker,
    peers: HashMap<usize, PeerEntry>,
    next_key: usize,
    known: HashMap<SocketAddr, KnownPeer>,
    banned: HashSet<IpAddr>,
    hash_failures: HashMap<IpAddr, u32>,
    choker: Box<dyn Choker>,
    phase: Phase,
    error: Option<String>,
    resume_dirty: bool,
    /// (uploaded, downloaded) as the last resume checkpoint recorded them.
    saved_counters: Option<(u64, u64)>,
    rechoke_soon: bool,
    checked: Option<CheckResult>,
    down_rate: f64,
    up_rate: f64,
    last_down: u64,
    last_up: u64,
}

pub struct Torrent {
    /// The torrent's metainfo. Public and read-only: a torrent is only ever shared behind an
    /// `Arc`, so no caller can replace it.
    pub meta: Arc<Metainfo>,
    /// Read by the peer writers (blocks to upload); the daemon lists the file paths.
    pub(crate) storage: Arc<Storage>,
    opts: TorrentOptions,
    ctx: Arc<SessionCtx>,
    state: Mutex<State>,
    events: broadcast::Sender<TorrentEvent>,
    /// This torrent's own rate limits (0 = none); the session's global ones apply as well.
    pub down_limit: RateLimiter,
    pub up_limit: RateLimiter,
    /// Payload received and sent, over the torrent's life in this process.
    downloaded: AtomicU64,
    uploaded: AtomicU64,
    extensions: RwLock<Vec<Arc<dyn Extension>>>,
    /// Completed pieces being hashed and written, at most VERIFY_SLOTS at a time.
    verify_slots: Arc<Semaphore>,
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
    /// BEP 19 web seeds, one per `meta.web_seeds` URL (see `webseed.rs`); a leaf lock.
    web_seeds: Mutex<Vec<WebSeedStatus>>,
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
        let meta_web_seeds = meta.web_seeds.clone();
        let mut picker = Picker::new(
            meta.info.piece_length,
            meta.info.total_length,
            Bitfield::new(n),
        );
        picker.sequential = opts.sequential;
        // The ring is allocated in full up front (~70 bytes a slot), for every torrent however
        // idle: 1,024 slots were most of an idle torrent's memory (issue 19). Subscribers drain
        // it at once and treat a lag as "skip ahead" (piece events come in bursts, the rest
        // are rare), so a short ring loses nothing they need.
        let (events, _) = broadcast::channel(EVENT_BACKLOG);
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
                saved_counters: None,
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
            verify_slots: Arc::new(Semaphore::new(VERIFY_SLOTS)),
            stopped: AtomicBool::new(false),
            stop_notify: Notify::new(),
            completed_notify: Notify::new(),
            started: Instant::now(),
            paused: AtomicBool::new(opts_paused),
            run_gen: watch::channel(0).0,
            tracker_status: Mutex::new(Vec::new()),
            web_seeds: Mutex::new(
                meta_web_seeds
                    .into_iter()
                    .map(|url| WebSeedStatus {
                        url,
                        state: "not contacted",
                        downloaded: 0,
                        last_attempt: None,
                        last_success: None,
                        last_error: None,
                    })
                    .collect(),
            ),
        })
    }

    pub fn info_hash(&self) -> InfoHash {
        self.meta.info_hash
    }

    /// The door an extension gets: it does not keep the torrent alive.
    pub(crate) fn handle(self: &Arc<Self>) -> TorrentHandle {
        TorrentHandle::new(self)
    }

    /// Takes the state lock (see the module docs for the lock order).
    fn state(&self) -> MutexGuard<'_, State> {
        lock(&self.state)
    }

    pub(crate) fn ctx(&self) -> &SessionCtx {
        &self.ctx
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

    pub fn is_paused(&self) -> bool {
        self.paused.load(Ordering::SeqCst)
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

    /// Milliseconds since the torrent was created: the clock of `PeerCounters::last_recv_ms`.
    pub(crate) fn now_ms(&self) -> u64 {
        self.started.elapsed().as_millis() as u64
    }

    /// Counts payload received from any peer (the torrent's total).
    pub(crate) fn add_downloaded(&self, bytes: u64) {
        self.downloaded.fetch_add(bytes, Ordering::Relaxed);
    }

    /// Counts payload sent to any peer (the torrent's total).
    pub(crate) fn add_uploaded(&self, bytes: u64) {
        self.uploaded.fetch_add(bytes, Ordering::Relaxed);
    }

    /// Waits for one of the VERIFY_SLOTS; `None` when the semaphore is closed (never, today).
    pub(crate) async fn verify_slot(&self) -> Option<OwnedSemaphorePermit> {
        self.verify_slots.clone().acquire_owned().await.ok()
    }

    /// The paths of the torrent's files on disk (padding files left out), in metainfo order.
    pub fn file_paths(&self) -> Vec<PathBuf> {
        self.storage.file_paths()
    }
}
