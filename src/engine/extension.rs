//! BEP 10 extensions plug into the engine here: ut_metadata, ut_pex and the bidding engine's
//! bt_market each implement [`Extension`]. The engine owns the wire (the extended handshake,
//! id assignment, framing); an extension only sees its own payloads.
//!
//! Local message ids are the extension's position in the torrent's list plus one, so they are
//! stable for the life of a torrent and never 0 (the handshake's id).
//!
//! Extensions see their torrent only through a [`TorrentHandle`] and each connection through a
//! [`PeerLink`]: both hold the torrent weakly and expose a few operations, never its state. The
//! engine may call an extension with the torrent's state lock held (`keep_open`, and the
//! choker an extension installs), so an extension never calls back into the torrent while it
//! holds its own lock; see the lock order in [`crate::engine::torrent`].

use std::net::SocketAddr;
use std::sync::Arc;

use crate::bencode::{Dict, Owned};
use crate::engine::types::PeerId;

pub use crate::engine::torrent::TorrentHandle;

/// One peer connection as an extension sees it.
#[derive(Clone, Debug)]
pub struct PeerLink {
    torrent: TorrentHandle,
    key: usize,
    addr: SocketAddr,
    peer_id: PeerId,
}

impl PeerLink {
    pub(crate) fn new(
        torrent: TorrentHandle,
        key: usize,
        addr: SocketAddr,
        peer_id: PeerId,
    ) -> Self {
        PeerLink {
            torrent,
            key,
            addr,
            peer_id,
        }
    }

    /// The torrent this connection belongs to.
    pub fn torrent(&self) -> &TorrentHandle {
        &self.torrent
    }

    /// The torrent's key for this connection (the same key the choker sees).
    pub fn key(&self) -> usize {
        self.key
    }

    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    pub fn peer_id(&self) -> PeerId {
        self.peer_id
    }

    /// Sends `payload` as the peer's message id for `name`. False when the peer did not announce
    /// that extension (so plain peers are never sent a message they did not ask for) or is gone.
    pub fn send(&self, name: &str, payload: Vec<u8>) -> bool {
        self.torrent.send_extended(self.key, name, payload)
    }

    /// Drops the connection (a hostile or broken peer).
    pub fn close(&self) {
        self.torrent.close_peer(self.key);
    }
}

pub trait Extension: Send + Sync + 'static {
    /// The name in the BEP 10 `m` dictionary, e.g. `ut_metadata`.
    fn name(&self) -> &'static str;

    /// Adds keys to our extended handshake (e.g. `metadata_size`).
    fn handshake_fields(&self, _torrent: &TorrentHandle, _handshake: &mut Owned) {}

    /// The peer's extended handshake arrived; `supported` says whether it announced us.
    fn on_handshake(&self, _link: &PeerLink, _handshake: &Dict<'_>, _supported: bool) {}

    /// A message the peer sent to our id for this extension. `Err(reason)` drops the peer.
    fn on_message(&self, link: &PeerLink, payload: &[u8]) -> Result<(), String>;

    fn on_disconnect(&self, _link: &PeerLink) {}

    /// Asked once a second while this peer and we are both seeds, when the engine would hang
    /// up: true keeps the connection open (for at most 30 s) to finish business on it, such as
    /// a buyer's last payments and the seller's receipts.
    fn keep_open(&self, _link: &PeerLink) -> bool {
        false
    }

    /// A completed piece was checked: `ok` when it matched its hash (and is on disk).
    /// `contributors` lists (peer key, bytes delivered) — a buyer pays for verified bytes only.
    fn on_piece(
        &self,
        _torrent: &TorrentHandle,
        _index: u32,
        _ok: bool,
        _contributors: &[(usize, u64)],
    ) {
    }

    /// Called once a second from the torrent's timer (PEX rounds, market bookkeeping).
    fn on_tick(&self, _torrent: &TorrentHandle) {}
}

/// Makes a torrent's instance of an extension; `None` leaves it off for that torrent (PEX and
/// DHT-fed extensions stay off for private torrents, BEP 27).
pub trait ExtensionFactory: Send + Sync + 'static {
    fn create(&self, torrent: &TorrentHandle) -> Option<Arc<dyn Extension>>;
}
