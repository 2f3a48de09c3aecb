//! BEP 52 on the wire: the handshake's v2 bit and answers to hash requests. Piece layers come
//! from the .torrent (checked against each file's root when it was parsed), so a request on
//! the piece layer is answered from them; anything else (leaf hashes, unknown roots) gets a
//! hash reject, which BEP 52 allows.

use crate::engine::merkle;
use crate::engine::types::InfoHash;
use crate::engine::wire::{Handshake, HashRequest, MAX_FRAME, Message};

use super::Torrent;

/// Most hashes sent in one answer: 8192 is what libtorrent asks for at most, and it keeps the
/// frame far below MAX_FRAME.
const MAX_HASHES: u32 = 8192;

impl Torrent {
    /// Our handshake for `info_hash` (the torrent's, or for a hybrid the other one a peer
    /// used), with the v2 bit for v2 and hybrid torrents.
    pub(crate) fn handshake(&self, info_hash: InfoHash) -> Handshake {
        let h = Handshake::new(info_hash, self.ctx().peer_id);
        if self.meta.info.is_v2() {
            h.with_v2()
        } else {
            h
        }
    }

    /// The `hashes` message answering `r`, or a `hash reject`.
    pub(crate) fn answer_hash_request(&self, r: &HashRequest) -> Message {
        self.hashes_for(r)
            .map(|hashes| Message::Hashes { req: *r, hashes })
            .unwrap_or(Message::HashReject(*r))
    }

    fn hashes_for(&self, r: &HashRequest) -> Option<Vec<[u8; 32]>> {
        let info = &self.meta.info;
        let v2 = info.v2.as_ref()?;
        let file = v2.files.iter().find(|f| f.root == r.pieces_root)?;
        let piece_layer = merkle::blocks_per_piece(info.piece_length).trailing_zeros();
        if r.base_layer != piece_layer || file.layer.is_empty() || r.length > MAX_HASHES {
            return None;
        }
        let (mut base, uncles) = file.levels(info.piece_length)?.proof(
            r.index as usize,
            r.length as usize,
            r.proof_layers as usize,
        )?;
        base.extend(uncles);
        (48 + 32 * base.len() < MAX_FRAME).then_some(base)
    }
}
