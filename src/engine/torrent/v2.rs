//! BEP 52 on the wire: the handshake's v2 bit, answers to hash requests, and our own requests
//! for piece layers a magnet's info dict lacks. Piece layers come from the .torrent (checked
//! against each file's root when it was parsed) or from a peer's `hashes` (checked the same
//! way before use), so a request on the piece layer is answered from them; anything else
//! (leaf hashes, unknown roots) gets a hash reject, which BEP 52 allows.

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
        if r.base_layer != piece_layer || r.length > MAX_HASHES {
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

impl Torrent {
    /// One hash request per file whose piece layer we lack (a v2-only torrent from a magnet):
    /// the whole layer, padded to its tree's width, so the answer needs no uncles and proves
    /// itself by hashing to the file's root.
    pub(crate) fn layer_requests(&self) -> Vec<Message> {
        let info = &self.meta.info;
        let Some(v2) = info.v2.as_ref().filter(|v| !v.hybrid) else {
            return Vec::new();
        };
        let piece_layer = merkle::blocks_per_piece(info.piece_length).trailing_zeros();
        v2.files
            .iter()
            .filter(|f| !f.checkable())
            .filter_map(|f| {
                let width = f.layer_request_width()?;
                Some(Message::HashRequest(HashRequest {
                    pieces_root: f.root,
                    base_layer: piece_layer,
                    index: 0,
                    length: u32::try_from(width).ok()?,
                    proof_layers: 0,
                }))
            })
            .collect()
    }

    /// A peer's `hashes`: a layer we asked for is kept if it proves itself against the file's
    /// root; one that does not is an error (the caller drops the peer). Answers we did not ask
    /// for, or no longer need, are ignored.
    pub(crate) fn on_hashes(&self, req: &HashRequest, hashes: &[[u8; 32]]) -> Result<(), String> {
        let info = &self.meta.info;
        let Some(v2) = info.v2.as_ref() else {
            return Ok(());
        };
        let Some(file) = v2
            .files
            .iter()
            .find(|f| f.root == req.pieces_root && !f.checkable())
        else {
            return Ok(());
        };
        let piece_layer = merkle::blocks_per_piece(info.piece_length).trailing_zeros();
        let asked = file
            .layer_request_width()
            .and_then(|w| u32::try_from(w).ok());
        if req.base_layer != piece_layer || req.index != 0 || Some(req.length) != asked {
            return Ok(());
        }
        if file.learn_layer(hashes, info.piece_length) {
            tracing::debug!(
                "learned the piece layer of a file of {} pieces",
                file.num_pieces
            );
            Ok(())
        } else {
            Err("hashes that do not prove the file's pieces root".into())
        }
    }
}
