//! A session: one listening socket, one peer id and global rate limits shared by its torrents.

use std::collections::{HashMap, HashSet};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use tokio::net::TcpListener;

use crate::engine::dht::{DhtConfig, DhtService};
use crate::engine::durable::Durability;
use crate::engine::extension::ExtensionFactory;
use crate::engine::lsd::{Lsd, LsdConfig};
use crate::engine::magnet::Magnet;
use crate::engine::metadata::{FetchOptions, fetch_metadata};
use crate::engine::metainfo::Metainfo;
use crate::engine::peer;
use crate::engine::pex::PexFactory;
use crate::engine::ratelimit::RateLimiter;
use crate::engine::storage::Storage;
use crate::engine::torrent::{SessionCtx, Torrent, TorrentOptions, lock};
use crate::engine::transport::{NetOptions, PeerStream, Transport};
use crate::engine::types::{InfoHash, PeerId};
use crate::engine::ut_metadata::UtMetadataFactory;

/// Connections across all torrents unless set otherwise: well under the usual 1024-descriptor
/// limit, leaving room for files and the control socket.
pub const DEFAULT_MAX_CONNECTIONS: usize = 500;

#[derive(Debug, Clone)]
pub struct SessionConfig {
    pub listen: SocketAddr,
    /// Resume data and other state live here.
    pub data_dir: PathBuf,
    /// Bytes/s, 0 = unlimited.
    pub download_limit: u64,
    pub upload_limit: u64,
}

#[derive(Debug, thiserror::Error)]
pub enum SessionError {
    #[error("cannot listen on {addr}: {source}")]
    Listen {
        addr: SocketAddr,
        source: std::io::Error,
    },
    #[error("torrent {0} is already in the session")]
    Duplicate(InfoHash),
    #[error("{0}")]
    Storage(#[from] crate::engine::storage::StorageError),
    #[error("internal task failed: {0}")]
    Task(String),
    // Magnet links, DHT and LSD.
    #[error("{0}")]
    Metadata(#[from] crate::engine::metadata::MetadataError),
    #[error("{0}")]
    Dht(#[from] crate::engine::dht::DhtError),
    #[error("{0}")]
    Lsd(#[from] crate::engine::lsd::LsdError),
    /// BEP 52: metadata that cannot be used: a magnet's dict not matching its btmh, or a
    /// v2-only torrent without the piece layers to check it (`check_v2_*` below).
    #[error("{0}")]
    V2Metadata(String),
    #[error("{0}")]
    Utp(String),
}

pub struct Session {
    pub ctx: Arc<SessionCtx>,
    torrents: Mutex<HashMap<InfoHash, Arc<Torrent>>>,
    extensions: Mutex<Vec<Arc<dyn ExtensionFactory>>>,
    listen_addr: SocketAddr,
    /// Magnets whose metadata is being fetched: an encrypted incoming connection may name one
    /// as its SKEY.
    pending_magnets: Mutex<HashSet<InfoHash>>,
    /// Peer discovery beyond trackers (DHT, local service discovery), off until enabled.
    discovery: Discovery,
}

#[derive(Default)]
struct Discovery {
    dht: Mutex<Option<Arc<DhtService>>>,
    lsd: Mutex<Option<Arc<Lsd>>>,
}

impl Session {
    /// Binds the listener and starts accepting peers.
    pub async fn start(cfg: SessionConfig) -> Result<Arc<Session>, SessionError> {
        let listener =
            TcpListener::bind(cfg.listen)
                .await
                .map_err(|source| SessionError::Listen {
                    addr: cfg.listen,
                    source,
                })?;
        let listen_addr = listener
            .local_addr()
            .map_err(|source| SessionError::Listen {
                addr: cfg.listen,
                source,
            })?;
        let ctx = Arc::new(SessionCtx {
            peer_id: PeerId::generate(),
            connections: std::sync::atomic::AtomicUsize::new(0),
            max_connections: std::sync::atomic::AtomicUsize::new(DEFAULT_MAX_CONNECTIONS),
            listen_port: AtomicU64::new(u64::from(listen_addr.port())),
            global_down: RateLimiter::new(cfg.download_limit),
            global_up: RateLimiter::new(cfg.upload_limit),
            data_dir: cfg.data_dir,
            transport: Arc::new(Transport::default()),
            resume_writers: tokio::sync::Semaphore::new(crate::engine::torrent::RESUME_WRITERS),
        });
        let session = Arc::new(Session {
            ctx,
            torrents: Mutex::new(HashMap::new()),
            // BEP 9 and BEP 11 for every torrent (each factory skips private torrents).
            extensions: Mutex::new(vec![
                Arc::new(UtMetadataFactory) as Arc<dyn ExtensionFactory>,
                Arc::new(PexFactory),
            ]),
            listen_addr,
            pending_magnets: Mutex::new(HashSet::new()),
            discovery: Discovery::default(),
        });
        let weak = Arc::downgrade(&session);
        tokio::spawn(async move {
            loop {
                let Ok((stream, addr)) = listener.accept().await else {
                    continue;
                };
                let Some(s) = weak.upgrade() else { return };
                tokio::spawn(async move { s.incoming(PeerStream::tcp(stream), addr).await });
            }
        });
        Ok(session)
    }

    /// Registers a BEP 10 extension for every torrent added from now on.
    pub fn register_extension(&self, factory: Arc<dyn ExtensionFactory>) {
        lock(&self.extensions).push(factory);
    }

    pub fn listen_addr(&self) -> SocketAddr {
        self.listen_addr
    }

    pub fn peer_id(&self) -> PeerId {
        self.ctx.peer_id
    }

    async fn incoming(&self, stream: PeerStream, addr: SocketAddr) {
        let accepted = self
            .ctx
            .transport
            .accept(stream, addr, || self.info_hashes())
            .await;
        let (stream, hs) = match accepted {
            Ok(r) => r,
            Err(e) => {
                tracing::debug!("{addr}: incoming: {e}");
                return;
            }
        };
        let torrent = {
            let map = lock(&self.torrents);
            map.get(&hs.info_hash).cloned().or_else(|| {
                // A hybrid (BEP 52) also answers to its truncated v2 hash.
                map.values()
                    .find(|t| t.meta.info_hash_v2_short() == Some(hs.info_hash))
                    .cloned()
            })
        };
        if let Some(t) = torrent {
            peer::accept(t, stream, addr, hs).await;
        }
    }

    /// Every info-hash this session answers for: its torrents and the magnets being fetched
    /// (the SKEYs an MSE handshake may name).
    fn info_hashes(&self) -> Vec<InfoHash> {
        let mut v: Vec<InfoHash> = lock(&self.torrents).keys().copied().collect();
        v.extend(lock(&self.pending_magnets).iter().copied());
        v
    }

    /// The transport settings: encryption policy, TCP and uTP.
    pub fn set_network(&self, opts: NetOptions) {
        self.ctx.transport.set_options(opts);
    }

    pub fn network(&self) -> NetOptions {
        self.ctx.transport.options()
    }

    /// Binds uTP (BEP 29) on the listener's address and port and accepts on it. Call before
    /// the DHT, which otherwise takes that UDP port (it then moves to another one).
    pub async fn enable_utp(self: &Arc<Self>) -> Result<SocketAddr, SessionError> {
        let sock = self
            .ctx
            .transport
            .bind_utp(self.listen_addr)
            .await
            .map_err(|e| SessionError::Utp(e.to_string()))?;
        let addr = sock.local_addr();
        let weak = Arc::downgrade(self);
        tokio::spawn(async move {
            loop {
                let stream = match sock.accept().await {
                    Ok(s) => s,
                    Err(e) => {
                        // Not fatal (one bad SYN); pause so an error that repeats cannot spin.
                        tracing::debug!("uTP accept: {e}");
                        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
                        continue;
                    }
                };
                let Some(s) = weak.upgrade() else { return };
                let addr = stream.peer_addr();
                tokio::spawn(async move { s.incoming(PeerStream::utp(stream), addr).await });
            }
        });
        Ok(addr)
    }

    /// The session's transport, for dialling outside a torrent (magnet metadata).
    pub fn transport(&self) -> Arc<Transport> {
        self.ctx.transport.clone()
    }

    /// Adds a torrent: maps its files, verifies what is there and starts it.
    pub async fn add(
        &self,
        meta: Metainfo,
        opts: TorrentOptions,
    ) -> Result<Arc<Torrent>, SessionError> {
        let torrent = self.insert(meta, opts).await?;
        torrent.start().await;
        Ok(torrent)
    }

    /// The first half of `add`: maps the files and puts the torrent in the session, without
    /// checking or starting it. A daemon uses it to answer at once and run `Torrent::start`
    /// (which may hash for minutes) in the background.
    pub async fn insert(
        &self,
        meta: Metainfo,
        opts: TorrentOptions,
    ) -> Result<Arc<Torrent>, SessionError> {
        let ih = meta.info_hash;
        if lock(&self.torrents).contains_key(&ih) {
            return Err(SessionError::Duplicate(ih));
        }
        check_v2_layers(&meta)?;
        let info = meta.info.clone();
        let dir = opts.download_dir.clone();
        let storage = tokio::task::spawn_blocking(move || Storage::open(&info, &dir))
            .await
            .map_err(|e| SessionError::Task(e.to_string()))??;
        let torrent = Torrent::new(meta, storage, opts, self.ctx.clone());
        let factories: Vec<Arc<dyn ExtensionFactory>> = lock(&self.extensions).clone();
        let handle = torrent.handle();
        for f in factories {
            if let Some(ext) = f.create(&handle) {
                torrent.add_extension(ext);
            }
        }
        {
            let mut map = lock(&self.torrents);
            if map.contains_key(&ih) {
                return Err(SessionError::Duplicate(ih));
            }
            map.insert(ih, torrent.clone());
        }
        // DHT and LSD look for peers while the data is still being checked.
        self.discover(&torrent);
        Ok(torrent)
    }

    // Magnet links, DHT and LSD.

    /// Adds a magnet link: fetches its info dict from the swarm (trackers, `x.pe`, `opts.peers`
    /// and the DHT when enabled), verifies it against the info-hash, then adds it like
    /// [`Session::add`]. Waits until the metadata arrives; wrap in a timeout, or use
    /// [`Session::add_magnet_with`], to bound that.
    pub async fn add_magnet(
        &self,
        magnet: Magnet,
        opts: TorrentOptions,
    ) -> Result<Arc<Torrent>, SessionError> {
        self.add_magnet_with(magnet, opts, FetchOptions::default())
            .await
    }

    /// [`Session::add_magnet`] with fetch options (timeout, connection count); `fetch.peers`
    /// is extended with `opts.peers`.
    pub async fn add_magnet_with(
        &self,
        magnet: Magnet,
        mut opts: TorrentOptions,
        mut fetch: FetchOptions,
    ) -> Result<Arc<Torrent>, SessionError> {
        if lock(&self.torrents).contains_key(&magnet.info_hash) {
            return Err(SessionError::Duplicate(magnet.info_hash));
        }
        if magnet.selected_files.is_some() {
            tracing::warn!("magnet: so= (file selection) is not supported yet; fetching all files");
        }
        fetch.peers.extend(opts.peers.iter().copied());
        let fetched = self.fetch_magnet(&magnet, fetch).await?;
        check_v2_metadata(&magnet, &fetched.meta)?;
        for p in fetched.peers {
            if !opts.peers.contains(&p) {
                opts.peers.push(p);
            }
        }
        self.add(fetched.meta, opts).await
    }

    /// Fetches a magnet's metadata as this session: its peer id, port, DHT and transport,
    /// with the magnet's info-hash answered in encrypted handshakes meanwhile.
    pub async fn fetch_magnet(
        &self,
        magnet: &Magnet,
        mut fetch: FetchOptions,
    ) -> Result<crate::engine::metadata::Fetched, crate::engine::metadata::MetadataError> {
        fetch.transport.get_or_insert_with(|| self.transport());
        let ih = magnet.info_hash;
        lock(&self.pending_magnets).insert(ih);
        let fetched = fetch_metadata(
            magnet,
            self.peer_id(),
            self.listen_port(),
            self.dht(),
            fetch,
        )
        .await;
        lock(&self.pending_magnets).remove(&ih);
        fetched
    }

    /// Starts the DHT node; every non-private torrent (present and future) announces itself and
    /// looks up peers through it, and magnet links find peers with it.
    /// Starts the DHT node next to the peer listener: the same IPv4 address and, when free, the
    /// same port number (the convention), else any port. On loopback (tests, local swarms) it
    /// answers queries from the start, as there is no NAT to probe for. `bootstrap: None` uses
    /// the public routers.
    pub async fn enable_dht_beside_listener(
        &self,
        bootstrap: Option<Vec<String>>,
        state_dir: Option<PathBuf>,
    ) -> Result<SocketAddr, SessionError> {
        let listen = self.listen_addr();
        let bind = match listen.ip() {
            std::net::IpAddr::V4(ip) => ip,
            std::net::IpAddr::V6(_) => std::net::Ipv4Addr::UNSPECIFIED,
        };
        // The `mainline` crate panics (its actor thread dies) when its port is taken, rather
        // than returning the bind error, so a taken port is found out first: by uTP holding
        // it, or by a trial bind.
        let free = self.ctx.transport.utp_addr().is_none()
            && std::net::UdpSocket::bind((bind, listen.port())).is_ok();
        let mut cfg = DhtConfig {
            bind,
            port: if free { listen.port() } else { 0 },
            bootstrap,
            server_mode: bind.is_loopback(),
            state_dir,
        };
        match self.enable_dht(cfg.clone()).await {
            Ok(a) => Ok(a),
            Err(_) => {
                cfg.port = 0;
                self.enable_dht(cfg).await
            }
        }
    }

    pub async fn enable_dht(&self, cfg: DhtConfig) -> Result<SocketAddr, SessionError> {
        let dht = DhtService::start(cfg).await?;
        let addr = dht.local_addr();
        *lock(&self.discovery.dht) = Some(dht.clone());
        for t in self.torrents() {
            if !t.meta.info.private {
                dht.spawn_torrent(t);
            }
        }
        Ok(addr)
    }

    pub fn dht(&self) -> Option<Arc<DhtService>> {
        lock(&self.discovery.dht).clone()
    }

    /// Starts BEP 14 local service discovery (off unless called).
    pub async fn enable_lsd(self: &Arc<Self>, cfg: LsdConfig) -> Result<(), SessionError> {
        let lsd = Lsd::start(cfg, self.listen_port(), Arc::downgrade(self)).await?;
        *lock(&self.discovery.lsd) = Some(lsd);
        Ok(())
    }

    /// Hooks a newly started torrent into the discovery services that are on.
    fn discover(&self, torrent: &Arc<Torrent>) {
        if torrent.meta.info.private {
            return;
        }
        if let Some(d) = self.dht() {
            d.spawn_torrent(torrent.clone());
        }
        if let Some(l) = lock(&self.discovery.lsd).clone() {
            l.announce_soon();
        }
    }

    pub fn get(&self, ih: &InfoHash) -> Option<Arc<Torrent>> {
        lock(&self.torrents).get(ih).cloned()
    }

    pub fn torrents(&self) -> Vec<Arc<Torrent>> {
        lock(&self.torrents).values().cloned().collect()
    }

    pub async fn remove(&self, ih: &InfoHash) -> Option<Arc<Torrent>> {
        let t = lock(&self.torrents).remove(ih)?;
        t.stop(Durability::Now).await;
        Some(t)
    }

    /// Removes a torrent and deletes its data and resume data (`rm --delete-data`).
    pub async fn remove_and_delete(
        &self,
        ih: &InfoHash,
    ) -> Result<Option<Arc<Torrent>>, SessionError> {
        let Some(t) = self.remove(ih).await else {
            return Ok(None);
        };
        let storage = t.storage.clone();
        let resume = crate::engine::resume::resume_path(&self.ctx.data_dir, ih);
        tokio::task::spawn_blocking(move || {
            // Resume data first: it must never claim pieces that are gone.
            let _ = std::fs::remove_file(&resume);
            storage.delete_files()
        })
        .await
        .map_err(|e| SessionError::Task(e.to_string()))??;
        Ok(Some(t))
    }

    /// Stops every torrent: resume data written, trackers told.
    pub async fn shutdown(&self) {
        let all: Vec<Arc<Torrent>> = lock(&self.torrents).drain().map(|(_, t)| t).collect();
        // Each torrent still syncs its data before writing the record that claims it; the
        // records themselves are flushed together below. At 10,000 torrents a file fsync and
        // a directory fsync each took seconds (issue 19).
        let mut set = tokio::task::JoinSet::new();
        for t in all {
            set.spawn(async move { t.stop(Durability::Batched).await });
        }
        while set.join_next().await.is_some() {}
        let dir = self.ctx.data_dir.clone();
        let synced =
            tokio::task::spawn_blocking(move || crate::engine::durable::sync_filesystem(&dir))
                .await;
        match synced {
            Ok(Ok(())) => {}
            Ok(Err(e)) => tracing::warn!("flushing resume data: {e}"),
            Err(e) => tracing::warn!("flushing resume data: {e}"),
        }
        if let Some(d) = self.dht() {
            d.save_nodes().await;
        }
    }

    /// Caps peer connections across every torrent of the session.
    pub fn set_max_connections(&self, n: usize) {
        self.ctx
            .max_connections
            .store(n.max(1), std::sync::atomic::Ordering::Relaxed);
    }

    pub fn connections(&self) -> usize {
        self.ctx
            .connections
            .load(std::sync::atomic::Ordering::Relaxed)
    }

    pub fn set_limits(&self, down: u64, up: u64) {
        self.ctx.global_down.set_rate(down);
        self.ctx.global_up.set_rate(up);
    }

    pub fn listen_port(&self) -> u16 {
        self.ctx.listen_port.load(Ordering::Relaxed) as u16
    }
}

/// BEP 52: metadata a magnet fetched must hash to the link's full v2 hash when it has one.
fn check_v2_metadata(magnet: &Magnet, meta: &Metainfo) -> Result<(), SessionError> {
    if let Some(want) = magnet.info_hash_v2
        && meta.info_hash_v2 != Some(want)
    {
        return Err(SessionError::V2Metadata(
            "magnet: the fetched info dict does not hash to the link's v2 info-hash (btmh)".into(),
        ));
    }
    Ok(())
}

/// A v2-only torrent must be checkable: every file larger than a piece needs its piece layer,
/// which a .torrent carries but a magnet's info dict does not. Missing layers are asked of
/// v2 peers in one hash request per file (torrent/v2.rs), so a file of more pieces than one
/// request can carry is refused at once rather than never finishing.
fn check_v2_layers(meta: &Metainfo) -> Result<(), SessionError> {
    match &meta.info.v2 {
        Some(v2) if !v2.hybrid && !v2.layers_learnable() => Err(SessionError::V2Metadata(
            "v2-only torrent without piece layers: a file has more pieces than one hash \
             request can fetch; add the .torrent instead"
                .into(),
        )),
        _ => Ok(()),
    }
}
