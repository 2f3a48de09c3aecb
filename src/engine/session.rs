//! A session: one listening socket, one peer id and global rate limits shared by its torrents.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use tokio::net::TcpListener;

use crate::engine::extension::ExtensionFactory;
use crate::engine::metainfo::Metainfo;
use crate::engine::peer;
use crate::engine::ratelimit::RateLimiter;
use crate::engine::storage::Storage;
use crate::engine::torrent::{SessionCtx, Torrent, TorrentOptions, lock};
use crate::engine::types::{InfoHash, PeerId};

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
}

pub struct Session {
    pub ctx: Arc<SessionCtx>,
    torrents: Mutex<HashMap<InfoHash, Arc<Torrent>>>,
    extensions: Mutex<Vec<Arc<dyn ExtensionFactory>>>,
    listen_addr: SocketAddr,
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
        });
        let session = Arc::new(Session {
            ctx,
            torrents: Mutex::new(HashMap::new()),
            extensions: Mutex::new(Vec::new()),
            listen_addr,
        });
        let weak = Arc::downgrade(&session);
        tokio::spawn(async move {
            loop {
                let Ok((stream, addr)) = listener.accept().await else {
                    continue;
                };
                let Some(s) = weak.upgrade() else { return };
                tokio::spawn(async move { s.incoming(stream, addr).await });
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

    async fn incoming(&self, mut stream: tokio::net::TcpStream, addr: SocketAddr) {
        let hs = match peer::read_handshake(&mut stream).await {
            Ok(h) => h,
            Err(e) => {
                tracing::debug!("{addr}: incoming: {e}");
                return;
            }
        };
        let torrent = lock(&self.torrents).get(&hs.info_hash).cloned();
        if let Some(t) = torrent {
            peer::accept(t, stream, addr, hs).await;
        }
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
        let info = meta.info.clone();
        let dir = opts.download_dir.clone();
        let storage = tokio::task::spawn_blocking(move || Storage::open(&info, &dir))
            .await
            .map_err(|e| SessionError::Task(e.to_string()))??;
        let torrent = Torrent::new(meta, storage, opts, self.ctx.clone());
        let factories: Vec<Arc<dyn ExtensionFactory>> = lock(&self.extensions).clone();
        for f in factories {
            if let Some(ext) = f.create(&torrent) {
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
        Ok(torrent)
    }

    pub fn get(&self, ih: &InfoHash) -> Option<Arc<Torrent>> {
        lock(&self.torrents).get(ih).cloned()
    }

    pub fn torrents(&self) -> Vec<Arc<Torrent>> {
        lock(&self.torrents).values().cloned().collect()
    }

    pub async fn remove(&self, ih: &InfoHash) -> Option<Arc<Torrent>> {
        let t = lock(&self.torrents).remove(ih)?;
        t.stop().await;
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
        let mut set = tokio::task::JoinSet::new();
        for t in all {
            set.spawn(async move { t.stop().await });
        }
        while set.join_next().await.is_some() {}
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
