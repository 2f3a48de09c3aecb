//! Completed pieces: blocks in, then hash and write off the async threads, then the verdict
//! (tell peers, maybe complete; or blame and ban the contributors), then the extensions.

use std::sync::Arc;

use crate::engine::bitfield::Bitfield;
use crate::engine::peer::PeerCmd;
use crate::engine::picker::{BlockOutcome, CompletedPiece};
use crate::engine::wire::{BlockRef, Message};

use super::{Phase, Torrent, TorrentEvent};

/// Hash failures from one address before it is banned for the session.
const BAN_AFTER_FAILURES: u32 = 3;

impl Torrent {
    /// A block arrived. Returns the piece to verify when it completed the piece.
    pub(crate) fn on_block(
        &self,
        key: usize,
        index: u32,
        begin: u32,
        data: &[u8],
    ) -> Option<CompletedPiece> {
        let mut st = self.state();
        let st = &mut *st;
        let outcome = st.picker.on_block(key, index, begin, data);
        if let Some(p) = st.peers.get_mut(&key) {
            p.inflight = p.inflight.saturating_sub(1);
        }
        let (piece, cancel) = match outcome {
            BlockOutcome::Unexpected => (None, Vec::new()),
            BlockOutcome::Stored { cancel } => (None, cancel),
            BlockOutcome::Complete { piece, cancel } => (Some(piece), cancel),
        };
        if !cancel.is_empty() {
            let b = BlockRef {
                index,
                begin,
                length: data.len() as u32,
            };
            for other in cancel {
                if let Some(p) = st.peers.get_mut(&other) {
                    p.inflight = p.inflight.saturating_sub(1);
                    let _ = p.tx.send(PeerCmd::Send(Message::Cancel(b)));
                }
            }
        }
        self.fill(st, key);
        piece
    }

    /// Hashes and writes a completed piece off the async threads, then records the result.
    pub(crate) async fn verify_and_store(self: &Arc<Self>, piece: CompletedPiece) {
        // A v2-only piece whose layer is still being fetched cannot be judged: fetched
        // again later, nobody blamed.
        if let Some(v2) = &self.meta.info.v2
            && !v2.can_verify(piece.index)
        {
            self.return_unverified(piece.index);
            return;
        }
        let storage = self.storage.clone();
        let meta = self.meta.clone();
        let index = piece.index;
        let data = piece.data;
        let done = tokio::task::spawn_blocking(move || {
            // SHA-1 for v1, merkle for v2, both for a hybrid.
            let res = if !meta.info.verify_piece(index, &data) {
                Ok(false)
            } else {
                storage
                    .write_piece(index as usize, &data)
                    .map(|()| true)
                    .map_err(|e| e.to_string())
            };
            (res, data)
        })
        .await;
        let res = match done {
            Ok((res, data)) => {
                // The buffer goes back to the picker for the next piece.
                self.state().picker.recycle(data);
                res
            }
            // A panicked hashing task is a failed write as far as the torrent is concerned.
            Err(e) => Err(e.to_string()),
        };
        match res {
            Ok(true) => {
                self.piece_verified(index).await;
                let handle = self.handle();
                for ext in self.extensions() {
                    ext.on_piece(&handle, index, true, &piece.contributors);
                }
            }
            Ok(false) => {
                self.piece_failed(index, &piece.contributors);
                let handle = self.handle();
                for ext in self.extensions() {
                    ext.on_piece(&handle, index, false, &piece.contributors);
                }
            }
            Err(e) => {
                self.state().picker.piece_checked(index, false);
                self.fail(format!("writing piece {index}: {e}"));
            }
        }
    }

    async fn piece_verified(self: &Arc<Self>, index: u32) {
        let complete = {
            let mut st = self.state();
            let st = &mut *st;
            st.picker.piece_checked(index, true);
            st.resume_dirty = true;
            let keys: Vec<usize> = st.peers.keys().copied().collect();
            for k in keys {
                if let Some(p) = st.peers.get(&k) {
                    // Peers that have it already need not be told (libtorrent's have-suppression).
                    if !p.bits.get(index as usize) {
                        let _ = p.tx.send(PeerCmd::Send(Message::Have(index)));
                    }
                }
                Self::update_interest(st, k);
            }
            let running = matches!(st.phase, Phase::Downloading | Phase::Finished);
            let next = st.picker.running_phase();
            // Only a whole torrent is complete (and announced `completed`); the last wanted
            // piece of a torrent with skipped files makes it `Finished`.
            let complete = running && next == Phase::Seeding;
            if running {
                // Seeds do not need seeds: the tick's sweep hangs up on them.
                st.phase = next;
            }
            complete
        };
        self.emit(TorrentEvent::PieceVerified(index));
        if complete {
            // Complete means on disk: flush before saying so.
            self.save_resume(false, crate::engine::durable::Durability::Now)
                .await;
            self.emit(TorrentEvent::Complete);
            self.emit(TorrentEvent::Seeding);
            self.completed_notify.notify_one();
        }
    }

    fn piece_failed(&self, index: u32, contributors: &[(usize, u64)]) {
        let mut banned = Vec::new();
        {
            let mut st = self.state();
            let st = &mut *st;
            st.picker.piece_checked(index, false);
            let sole = contributors.len() == 1;
            for (key, _) in contributors {
                let Some(p) = st.peers.get(key) else { continue };
                let ip = p.addr.ip();
                let count = st.hash_failures.entry(ip).or_insert(0);
                *count += 1;
                if *count >= BAN_AFTER_FAILURES {
                    st.banned.insert(ip);
                    banned.push(ip);
                }
                if sole || st.banned.contains(&ip) {
                    tracing::info!("dropping {} after a hash failure on piece {index}", p.addr);
                    let _ = p.tx.send(PeerCmd::Close);
                }
            }
        }
        self.web_seed_failed(index, contributors);
        self.emit(TorrentEvent::HashFailed { piece: index });
        for ip in banned {
            self.emit(TorrentEvent::PeerBanned(ip));
        }
    }

    /// Gives a completed piece that never reached verification back to the picker (its
    /// reader was cancelled while waiting for a slot), which would otherwise keep it
    /// "pending" forever and never fetch it again.
    pub(crate) fn return_unverified(&self, index: u32) {
        self.state().picker.piece_checked(index, false);
    }

    /// Pieces with blocks requested or received but not yet verified, in ascending order.
    pub fn downloading_pieces(&self) -> Vec<u32> {
        let mut v: Vec<u32> = self.state().picker.downloading().collect();
        v.sort_unstable();
        v
    }

    /// Restricts picking to `wanted` pieces (file priority "skip" clears a file's pieces).
    /// A bitfield of the wrong length is ignored, as in the picker.
    /// Sets the pieces to fetch (file priorities). A finished torrent that wants a skipped file
    /// again downloads it at once: interest is re-sent and pipelines refilled, without a pause
    /// and resume.
    pub fn set_wanted_pieces(&self, wanted: Bitfield) {
        let mut st = self.state();
        let st = &mut *st;
        st.picker.set_wanted(wanted);
        if matches!(st.phase, Phase::Downloading | Phase::Finished) {
            st.phase = st.picker.running_phase();
        }
        let keys: Vec<usize> = st.peers.keys().copied().collect();
        for k in keys {
            Self::update_interest(st, k);
            self.fill(st, k);
        }
    }
}
