//! BEP 10 extensions plug into the engine here: ut_metadata, ut_pex and the bidding engine's
//! bt_market each implement [`Extension`]. The engine owns the wire (the extended handshake,
//! id assignment, framing); an extension only sees its own payloads.
//!
//! Local message ids are the extension's position in the torrent's list plus one, so they are
//! stable for the life of a torrent and never 0 (the handshake's id).

use std::net::SocketAddr;
use std::sync::Arc;

use bytes::Bytes;

use crate::bencode::{Dict, Owned};
use crate::engine::torrent::{PeerCmd, Torrent};
use crate::engine::types::PeerId;
use crate::engine::wire::Message;

/// One peer connection as an extension sees it.
#[derive(Clone)]
pub struct PeerLink {
    pub torrent: Arc<Torrent>,
    /// The torrent's key for this connection (the same key the choker sees).
    pub key: usize,
    pub addr: SocketAddr,
    pub peer_id: PeerId,
}

impl PeerLink {
    /// Sends `payload` as the peer's message id for `name`. False when the peer did not announce
    /// that extension (so plain peers are never sent a message they did not ask for) or is gone.
    pub fn send(&self, name: &str, payload: Vec<u8>) -> bool {
        let st = self.torrent.state();
        let Some(p) = st.peers.get(&self.key) else {
            return false;
        };
        let Some(&id) = p.ext_ids.get(name) else {
            return false;
        };
        p.tx.send(PeerCmd::Send(Message::Extended {
            id,
            payload: Bytes::from(payload),
        }))
        .is_ok()
    }

    /// Whether the peer announced `name` in its extended handshake.
    pub fn supports(&self, name: &str) -> bool {
        self.torrent
            .state()
            .peers
            .get(&self.key)
            .is_some_and(|p| p.ext_ids.contains_key(name))
    }

    /// Drops the connection (a hostile or broken peer).
    pub fn close(&self) {
        if let Some(p) = self.torrent.state().peers.get(&self.key) {
            let _ = p.tx.send(PeerCmd::Close);
        }
    }
}

pub trait Extension: Send + Sync + 'static {
    /// The name in the BEP 10 `m` dictionary, e.g. `ut_metadata`.
    fn name(&self) -> &'static str;

    /// Adds keys to our extended handshake (e.g. `metadata_size`).
    fn handshake_fields(&self, _torrent: &Torrent, _handshake: &mut Owned) {}

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
        _torrent: &Arc<Torrent>,
        _index: u32,
        _ok: bool,
        _contributors: &[(usize, u64)],
    ) {
    }

    /// Called once a second from the torrent's timer (PEX rounds, market bookkeeping).
    fn on_tick(&self, _torrent: &Arc<Torrent>) {}
}

/// Makes a torrent's instance of an extension; `None` leaves it off for that torrent (PEX and
/// DHT-fed extensions stay off for private torrents, BEP 27).
pub trait ExtensionFactory: Send + Sync + 'static {
    fn create(&self, torrent: &Arc<Torrent>) -> Option<Arc<dyn Extension>>;
}
