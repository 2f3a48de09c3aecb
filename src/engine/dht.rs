//! BEP 5 DHT as a session-level service, on the `mainline` crate (research/engine-crates.md §2:
//! it runs offline on a loopback test network; IPv4 only).
//!
//! The node runs on its own thread (mainline's actor); we drive it through its async API.
//! For each non-private torrent a task announces us and looks up peers, feeding
//! [`Torrent::add_peers`]. The routing table is saved under the data dir and given back as extra
//! bootstrap nodes at the next start, so a restart does not depend on the public routers.

use std::collections::HashSet;
use std::net::{Ipv4Addr, SocketAddr, SocketAddrV4};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use futures_lite::StreamExt;
use mainline::async_dht::AsyncDht;
use mainline::{Dht, Id};
use tokio::sync::mpsc;

use crate::engine::torrent::Torrent;
use crate::engine::types::InfoHash;

/// The usual public routers; used only when the user configured no bootstrap nodes.
pub const DEFAULT_BOOTSTRAP: &[&str] = &[
    "router.bittorrent.com:6881",
    "dht.transmissionbt.com:6881",
    "router.utorrent.com:6881",
    "dht.libtorrent.org:25401",
];
/// File under the data dir holding the routing table (one `ip:port` per line).
pub const NODES_FILE: &str = "dht-nodes.txt";
/// Saved nodes given back as bootstrap at most (a routing table rarely holds more).
const MAX_SAVED_NODES: usize = 300;
/// Re-announce and re-search this often while seeding (BEP 5 peers expire after ~30 min).
const SEED_INTERVAL: Duration = Duration::from_secs(15 * 60);
/// Search again this often while the torrent still misses pieces.
const LEECH_INTERVAL: Duration = Duration::from_secs(60);
/// A lookup that found nobody (the routing table still filling) is retried sooner.
const RETRY_INTERVAL: Duration = Duration::from_secs(5);
/// How often the routing table is written out.
const SAVE_INTERVAL: Duration = Duration::from_secs(5 * 60);

#[derive(Debug, Clone)]
pub struct DhtConfig {
    /// IPv4 address to bind (127.0.0.1 in tests). mainline has no IPv6 (BEP 32).
    pub bind: Ipv4Addr,
    /// UDP port; 0 picks a free one. The peer port is the conventional choice.
    pub port: u16,
    /// `host:port` bootstrap nodes; `None` means [`DEFAULT_BOOTSTRAP`]. An empty list makes a
    /// node that only learns others when they contact it (the first node of a test network).
    pub bootstrap: Option<Vec<String>>,
    /// Answer queries from the start, instead of mainline's adaptive mode (which turns server
    /// mode on once it sees it is reachable). Nodes of a loopback test network need it.
    pub server_mode: bool,
    /// Where the routing table is saved and reloaded from (`None`: not persisted).
    pub state_dir: Option<PathBuf>,
}

impl DhtConfig {
    /// A node on all interfaces with the public bootstrap routers.
    pub fn new(port: u16, state_dir: Option<PathBuf>) -> Self {
        DhtConfig {
            bind: Ipv4Addr::UNSPECIFIED,
            port,
            bootstrap: None,
            server_mode: false,
            state_dir,
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum DhtError {
    #[error("cannot start the DHT on {addr}: {source}")]
    Bind {
        addr: SocketAddrV4,
        source: std::io::Error,
    },
}

pub struct DhtService {
    dht: AsyncDht,
    local: SocketAddrV4,
    nodes_file: Option<PathBuf>,
}

fn id(ih: &InfoHash) -> Id {
    // 20 bytes always make a valid Id; the fallback only keeps this panic-free.
    Id::from_bytes(ih.0).unwrap_or_else(|_| Id::random())
}

/// Reads saved nodes, skipping lines that are not `ipv4:port`.
pub fn load_nodes(path: &std::path::Path) -> Vec<SocketAddrV4> {
    std::fs::read_to_string(path)
        .unwrap_or_default()
        .lines()
        .filter_map(|l| l.trim().parse::<SocketAddrV4>().ok())
        .filter(|a| a.port() != 0)
        .take(MAX_SAVED_NODES)
        .collect()
}

impl DhtService {
    /// Binds the node and starts bootstrapping (in the background).
    pub async fn start(cfg: DhtConfig) -> Result<Arc<DhtService>, DhtError> {
        let nodes_file = cfg.state_dir.as_ref().map(|d| d.join(NODES_FILE));
        let saved = nodes_file.as_deref().map(load_nodes).unwrap_or_default();
        let mut b = Dht::builder();
        b.bind_address(cfg.bind).port(cfg.port);
        let bootstrap: Vec<String> = match &cfg.bootstrap {
            Some(list) => list.clone(),
            None => DEFAULT_BOOTSTRAP.iter().map(|s| s.to_string()).collect(),
        };
        if bootstrap.is_empty() {
            b.no_bootstrap();
        } else {
            // mainline resolves names here; one that does not resolve is skipped.
            b.bootstrap(&bootstrap);
        }
        if !saved.is_empty() {
            b.extra_bootstrap(&saved);
        }
        if cfg.server_mode {
            b.server_mode();
        }
        let addr = SocketAddrV4::new(cfg.bind, cfg.port);
        let dht = b
            .build()
            .map_err(|source| DhtError::Bind { addr, source })?
            .as_async();
        let local = dht.info().await.local_addr();
        tracing::info!(
            "DHT node on {local} ({} bootstrap nodes, {} saved)",
            bootstrap.len(),
            saved.len()
        );
        let svc = Arc::new(DhtService {
            dht,
            local,
            nodes_file,
        });
        if svc.nodes_file.is_some() {
            let weak = Arc::downgrade(&svc);
            tokio::spawn(async move {
                loop {
                    tokio::time::sleep(SAVE_INTERVAL).await;
                    let Some(s) = weak.upgrade() else { return };
                    s.save_nodes().await;
                }
            });
        }
        Ok(svc)
    }

    /// The node's UDP address.
    pub fn local_addr(&self) -> SocketAddr {
        SocketAddr::V4(self.local)
    }

    /// The routing table as `ip:port` strings.
    pub async fn nodes(&self) -> Vec<String> {
        self.dht.to_bootstrap().await
    }

    /// Writes the routing table to the data dir (atomically: a crash leaves the old file).
    pub async fn save_nodes(&self) {
        let Some(path) = self.nodes_file.clone() else {
            return;
        };
        let nodes = self.nodes().await;
        if nodes.is_empty() {
            return;
        }
        let r = tokio::task::spawn_blocking(move || -> std::io::Result<()> {
            if let Some(dir) = path.parent() {
                std::fs::create_dir_all(dir)?;
            }
            let tmp = path.with_extension("tmp");
            std::fs::write(&tmp, nodes.join("\n") + "\n")?;
            std::fs::rename(&tmp, &path)
        })
        .await;
        match r {
            Ok(Ok(())) => {}
            Ok(Err(e)) => tracing::warn!("saving DHT nodes: {e}"),
            Err(e) => tracing::warn!("saving DHT nodes: {e}"),
        }
    }

    /// Looks up peers for `ih`; addresses arrive on the channel as nodes answer (deduplicated)
    /// and the channel closes when the lookup is done.
    pub fn get_peers(&self, ih: &InfoHash) -> mpsc::UnboundedReceiver<SocketAddr> {
        let (tx, rx) = mpsc::unbounded_channel();
        let mut stream = self.dht.get_peers(id(ih));
        tokio::spawn(async move {
            let mut seen = HashSet::new();
            while let Some(batch) = stream.next().await {
                for a in batch {
                    if a.port() != 0 && seen.insert(a) && tx.send(SocketAddr::V4(a)).is_err() {
                        return;
                    }
                }
            }
        });
        rx
    }

    /// Announces that we serve `ih` on TCP `port`. False when no node took the announce.
    pub async fn announce(&self, ih: &InfoHash, port: u16) -> bool {
        match self.dht.announce_peer(id(ih), Some(port)).await {
            Ok(_) => true,
            Err(e) => {
                tracing::debug!("DHT announce {ih}: {e}");
                false
            }
        }
    }

    /// Runs the DHT side of one torrent until it stops: announce, then search while pieces are
    /// missing, feeding what is found to the torrent.
    pub fn spawn_torrent(self: &Arc<Self>, torrent: Arc<Torrent>) {
        let weak = Arc::downgrade(self);
        tokio::spawn(async move {
            let ih = torrent.info_hash();
            loop {
                let Some(dht) = weak.upgrade() else { return };
                let port = torrent
                    .ctx()
                    .listen_port
                    .load(std::sync::atomic::Ordering::Relaxed);
                let complete = torrent.stats().left_bytes == 0;
                let mut found = 0usize;
                let announced = dht.announce(&ih, port as u16).await;
                // A hybrid is in the v2 swarm too (BEP 52): announce and look up its
                // truncated v2 hash as well.
                if let Some(h2) = torrent.meta.info_hash_v2_short().filter(|h| *h != ih) {
                    dht.announce(&h2, port as u16).await;
                    if !complete {
                        let mut rx = dht.get_peers(&h2);
                        while let Some(a) = tokio::select! {
                            a = rx.recv() => a,
                            _ = torrent.stopped() => return,
                        } {
                            torrent.add_peers([a]);
                        }
                    }
                }
                if !complete {
                    let mut rx = dht.get_peers(&ih);
                    loop {
                        tokio::select! {
                            a = rx.recv() => match a {
                                Some(a) => {
                                    found += 1;
                                    torrent.add_peers([a]);
                                }
                                None => break,
                            },
                            _ = torrent.stopped() => return,
                        }
                    }
                    tracing::debug!("DHT: {found} peers for {ih}");
                }
                drop(dht);
                let wait = if !announced || (!complete && found == 0) {
                    RETRY_INTERVAL
                } else if complete {
                    SEED_INTERVAL
                } else {
                    LEECH_INTERVAL
                };
                tokio::select! {
                    _ = tokio::time::sleep(wait) => {}
                    _ = torrent.stopped() => return,
                }
            }
        });
    }
}
