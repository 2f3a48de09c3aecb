//! Snapshots for displays, reports and the market: copied out under the state lock, so no
//! reader ever holds the lock while it draws or serialises. Also the file ↔ piece maths.

use std::net::SocketAddr;
use std::sync::atomic::Ordering;

use crate::engine::bitfield::Bitfield;
use crate::engine::metainfo::Metainfo;
use crate::engine::types::InfoHash;

use super::{CheckResult, Phase, Torrent};

/// One torrent at a glance.
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

/// One connected peer: what a dashboard, `bidtorrent peers` and the market see.
#[derive(Debug, Clone)]
pub struct PeerInfo {
    /// The torrent's key for the connection (the one the choker and extensions see).
    pub key: usize,
    pub addr: SocketAddr,
    pub client: String,
    pub outgoing: bool,
    pub am_choking: bool,
    pub am_interested: bool,
    pub peer_choking: bool,
    pub peer_interested: bool,
    /// It speaks the fast extension (BEP 6).
    pub fast: bool,
    /// Pieces the peer has, out of the torrent's.
    pub have_pieces: usize,
    /// Pieces the peer has, as a fraction of the torrent.
    pub progress: f64,
    pub down_rate: f64,
    pub up_rate: f64,
    pub downloaded: u64,
    pub uploaded: u64,
    /// The BEP 10 extensions it announced.
    pub extensions: Vec<String>,
    /// The connection is RC4-encrypted (MSE/PE).
    pub encrypted: bool,
    /// The connection runs over uTP.
    pub utp: bool,
}

/// A connected peer's listening address, as PEX advertises it.
pub(crate) struct DialablePeer {
    pub addr: SocketAddr,
    /// We dialled it (so it is known to accept connections).
    pub outgoing: bool,
    pub seed: bool,
    /// Connected over uTP, so it takes uTP (BEP 11's flag 0x04).
    pub utp: bool,
}

impl Torrent {
    /// The connected peers, by key.
    pub fn peers(&self) -> Vec<PeerInfo> {
        let st = self.state();
        let n = self.meta.num_pieces().max(1) as f64;
        let mut v: Vec<PeerInfo> = st
            .peers
            .iter()
            .map(|(k, p)| {
                let have_pieces = p.bits.count();
                PeerInfo {
                    key: *k,
                    addr: p.addr,
                    client: p.client.clone(),
                    outgoing: p.outgoing,
                    am_choking: p.am_choking,
                    am_interested: p.am_interested,
                    peer_choking: p.peer_choking,
                    peer_interested: p.peer_interested,
                    fast: p.fast,
                    have_pieces,
                    progress: have_pieces as f64 / n,
                    down_rate: p.down_rate,
                    up_rate: p.up_rate,
                    downloaded: p.counters.downloaded.load(Ordering::Relaxed),
                    uploaded: p.counters.uploaded.load(Ordering::Relaxed),
                    extensions: p.ext_ids.keys().cloned().collect(),
                    encrypted: p.transport.encrypted,
                    utp: p.transport.utp,
                }
            })
            .collect();
        v.sort_by_key(|p| p.key);
        v
    }

    /// Connected peers that listen for connections (the dialled port, or the `p` of their
    /// extended handshake).
    pub(crate) fn dialable_peers(&self) -> Vec<DialablePeer> {
        self.state()
            .peers
            .values()
            .filter_map(|p| {
                let port = p.listen_port?;
                Some(DialablePeer {
                    addr: SocketAddr::new(p.addr.ip(), port),
                    outgoing: p.outgoing,
                    seed: p.is_seed(),
                    utp: p.transport.utp,
                })
            })
            .collect()
    }

    /// Dialable addresses of connected peers (for PEX).
    pub fn peer_addrs(&self) -> Vec<SocketAddr> {
        self.dialable_peers().into_iter().map(|p| p.addr).collect()
    }

    pub fn stats(&self) -> TorrentStats {
        let st = self.state();
        // The rate loop does not run while paused, checking or failed: its last figures would
        // stay on screen forever.
        let moving = matches!(
            st.phase,
            Phase::Downloading | Phase::Finished | Phase::Seeding
        );
        let rate = |r: f64| if moving { r } else { 0.0 };
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
            down_rate: rate(st.down_rate),
            up_rate: rate(st.up_rate),
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

    /// How many connected peers have each piece (swarm availability), indexed by piece.
    pub fn piece_availability(&self) -> Vec<u32> {
        self.state().picker.availability().to_vec()
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
