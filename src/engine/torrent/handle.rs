//! The door an extension gets to its torrent (libtorrent's `torrent_handle` idea): the few
//! operations an extension may ask for, and nothing of the torrent's insides.
//!
//! A handle holds the torrent weakly, so an extension that keeps one (in a peer table, in a
//! background task) never keeps a removed torrent alive; once the torrent is gone every
//! operation is a no-op and every query answers "nothing".
//!
//! Lock order: each call takes the torrent's state lock briefly. Never call a handle while
//! holding a lock that the engine may take *after* its state lock (a choker's, or one used in
//! `Extension::keep_open`): collect the work under your lock and run it after releasing it.

use std::net::SocketAddr;
use std::sync::{Arc, Weak};

use crate::engine::choker::Choker;
use crate::engine::metainfo::Metainfo;
use crate::engine::types::InfoHash;

use super::{DialablePeer, PeerInfo, Torrent, TorrentStats};

/// A weak, cloneable reference to one torrent, for extensions.
#[derive(Clone)]
pub struct TorrentHandle {
    torrent: Weak<Torrent>,
    /// Shared with the torrent (it never changes), so the info hash and, inside the engine,
    /// the metainfo are known even after the torrent is gone.
    meta: Arc<Metainfo>,
}

impl std::fmt::Debug for TorrentHandle {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TorrentHandle")
            .field("info_hash", &self.meta.info_hash)
            .field("alive", &self.is_alive())
            .finish()
    }
}

impl TorrentHandle {
    pub(super) fn new(torrent: &Arc<Torrent>) -> TorrentHandle {
        TorrentHandle {
            torrent: Arc::downgrade(torrent),
            meta: torrent.meta.clone(),
        }
    }

    fn get(&self) -> Option<Arc<Torrent>> {
        self.torrent.upgrade()
    }

    pub fn info_hash(&self) -> InfoHash {
        self.meta.info_hash
    }

    /// Whether the torrent still exists (it was not removed from its session and dropped).
    pub fn is_alive(&self) -> bool {
        self.torrent.strong_count() > 0
    }

    /// Replaces the torrent's choker (the market's auction replaces tit-for-tat).
    pub fn set_choker(&self, choker: Box<dyn Choker>) {
        if let Some(t) = self.get() {
            t.set_choker(choker);
        }
    }

    /// Chokes a peer now; the choker decides again at the next rechoke.
    pub fn choke_peer(&self, key: usize) {
        if let Some(t) = self.get() {
            t.choke_peer(key);
        }
    }

    /// Caps the total payload a peer may be sent (`None`: no cap).
    pub fn set_upload_allowance(&self, key: usize, total: Option<u64>) {
        if let Some(t) = self.get() {
            t.set_upload_allowance(key, total);
        }
    }

    /// Asks for a rechoke within a second instead of at the next 10 s round.
    pub fn request_rechoke(&self) {
        if let Some(t) = self.get() {
            t.request_rechoke();
        }
    }

    /// The connected peers, by key; empty once the torrent is gone.
    pub fn peers(&self) -> Vec<PeerInfo> {
        self.get().map(|t| t.peers()).unwrap_or_default()
    }

    pub fn stats(&self) -> Option<TorrentStats> {
        self.get().map(|t| t.stats())
    }

    /// Bytes of payload sent to / received from a connected peer.
    pub fn peer_transfer(&self, key: usize) -> Option<(u64, u64)> {
        self.get()?.peer_transfer(key)
    }

    // For the engine's own extensions (ut_metadata, ut_pex) and the peer links.

    pub(crate) fn meta(&self) -> &Metainfo {
        &self.meta
    }

    pub(crate) fn add_peers(&self, addrs: impl IntoIterator<Item = SocketAddr>) {
        if let Some(t) = self.get() {
            t.add_peers(addrs);
        }
    }

    /// These addresses take uTP (a PEX flag): dial them over uTP first.
    pub(crate) fn hint_utp(&self, addrs: impl IntoIterator<Item = SocketAddr>) {
        if let Some(t) = self.get() {
            for a in addrs {
                t.ctx().transport.hint_utp(a);
            }
        }
    }

    pub(crate) fn dialable_peers(&self) -> Vec<DialablePeer> {
        self.get().map(|t| t.dialable_peers()).unwrap_or_default()
    }

    pub(crate) fn send_extended(&self, key: usize, name: &str, payload: Vec<u8>) -> bool {
        self.get()
            .is_some_and(|t| t.send_extended(key, name, payload))
    }

    pub(crate) fn close_peer(&self, key: usize) {
        if let Some(t) = self.get() {
            t.close_peer(key);
        }
    }
}

#[cfg(test)]
impl TorrentHandle {
    /// A handle to no torrent (every operation a no-op), with a one-piece metainfo, for unit
    /// tests of extensions.
    pub(crate) fn detached() -> TorrentHandle {
        TorrentHandle {
            torrent: Weak::new(),
            meta: Arc::new(one_piece_metainfo()),
        }
    }
}

/// A one-byte, one-piece metainfo for unit tests.
#[cfg(test)]
pub(crate) fn one_piece_metainfo() -> Metainfo {
    use crate::bencode::Owned;
    let info = Owned::dict()
        .with("length", 1i64)
        .with("name", "t")
        .with("piece length", 16384i64)
        .with("pieces", vec![0u8; 20]);
    let bytes = Owned::dict().with("info", info).encode();
    Metainfo::from_bytes(&bytes).expect("a valid metainfo")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_handle_to_a_gone_torrent_does_nothing() {
        let h = TorrentHandle::detached();
        assert!(!h.is_alive());
        assert_eq!(h.info_hash(), h.meta().info_hash);
        assert!(h.peers().is_empty());
        assert!(h.stats().is_none());
        assert_eq!(h.peer_transfer(0), None);
        assert!(!h.send_extended(0, "ut_pex", vec![1]));
        // The rest must simply not panic.
        h.choke_peer(0);
        h.set_upload_allowance(0, Some(1));
        h.request_rechoke();
        h.close_peer(0);
        h.add_peers(["127.0.0.1:1".parse().expect("addr")]);
        assert!(h.dialable_peers().is_empty());
    }
}
