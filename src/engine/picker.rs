//! Piece picking: rarest-first with a random tie-break (or sequential), whole pieces assembled
//! in memory and hashed before anything touches the disk, and an endgame that requests the last
//! blocks from several peers at once.
//!
//! Peers are identified by a `usize` key owned by the torrent.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use crate::engine::bitfield::Bitfield;
use crate::engine::wire::{BLOCK, BlockRef};

/// In endgame a block is requested from at most this many peers at once.
const ENDGAME_DUPLICATES: usize = 3;

#[derive(Debug, Clone)]
enum BlockState {
    Free,
    Requested(Vec<(usize, Instant)>),
    Done,
}

#[derive(Debug)]
struct Partial {
    blocks: Vec<BlockState>,
    data: Vec<u8>,
    done: usize,
    /// Bytes each peer delivered: who to blame on a hash failure, who to pay on success.
    contributors: Vec<(usize, u64)>,
}

/// A whole piece ready for hashing.
#[derive(Debug)]
pub struct CompletedPiece {
    pub index: u32,
    pub data: Vec<u8>,
    /// (peer key, bytes it delivered) for every peer that sent a block of this piece.
    pub contributors: Vec<(usize, u64)>,
}

/// What happened to a received block.
#[derive(Debug)]
pub enum BlockOutcome {
    /// Unrequested, duplicate or malformed; ignored.
    Unexpected,
    /// Stored; these other peers also had it requested and should get a Cancel.
    Stored { cancel: Vec<usize> },
    /// Stored and the piece is complete.
    Complete {
        piece: CompletedPiece,
        cancel: Vec<usize>,
    },
}

pub struct Picker {
    piece_length: u64,
    total_length: u64,
    num_pieces: u32,
    availability: Vec<u32>,
    have: Bitfield,
    /// Pieces whose data is being hashed/written; never picked.
    pending: Bitfield,
    partial: HashMap<u32, Partial>,
    /// Pieces not wanted (file priorities "skip"); never picked.
    wanted: Bitfield,
    pub sequential: bool,
    /// Buffers of verified pieces, handed back for the next ones (see [`Picker::recycle`]).
    spare: Vec<Vec<u8>>,
}

/// Piece buffers kept for reuse: as many as pieces are verified at once, plus one.
const MAX_SPARE_BUFFERS: usize = 5;

impl Picker {
    pub fn new(piece_length: u64, total_length: u64, have: Bitfield) -> Self {
        let num_pieces = have.len() as u32;
        Picker {
            piece_length,
            total_length,
            num_pieces,
            availability: vec![0; num_pieces as usize],
            wanted: Bitfield::full(num_pieces as usize),
            pending: Bitfield::new(num_pieces as usize),
            have,
            partial: HashMap::new(),
            sequential: false,
            spare: Vec::new(),
        }
    }

    pub fn have(&self) -> &Bitfield {
        &self.have
    }

    pub fn availability(&self) -> &[u32] {
        &self.availability
    }

    pub fn piece_size(&self, index: u32) -> u32 {
        let start = u64::from(index) * self.piece_length;
        self.piece_length
            .min(self.total_length.saturating_sub(start)) as u32
    }

    fn blocks_in(&self, index: u32) -> usize {
        self.piece_size(index).div_ceil(BLOCK) as usize
    }

    /// Whether every wanted piece is verified.
    /// Every wanted piece is verified (skipped files may still be missing).
    pub fn is_complete(&self) -> bool {
        (0..self.num_pieces as usize).all(|i| self.have.get(i) || !self.wanted.get(i))
    }

    /// Every piece of the torrent is verified: a seed.
    pub fn has_all(&self) -> bool {
        (0..self.num_pieces as usize).all(|i| self.have.get(i))
    }

    /// The phase a running torrent is in by what it has: `Seeding` with every piece,
    /// `Finished` with every wanted one, else `Downloading`.
    pub fn running_phase(&self) -> crate::engine::torrent::Phase {
        use crate::engine::torrent::Phase;
        if self.has_all() {
            Phase::Seeding
        } else if self.is_complete() {
            Phase::Finished
        } else {
            Phase::Downloading
        }
    }

    pub fn bytes_left(&self) -> u64 {
        (0..self.num_pieces)
            .filter(|&i| !self.have.get(i as usize))
            .map(|i| u64::from(self.piece_size(i)))
            .sum()
    }

    pub fn downloading(&self) -> impl Iterator<Item = u32> + '_ {
        self.partial.keys().copied()
    }

    pub fn peer_added(&mut self, bits: &Bitfield) {
        for i in bits.iter_ones() {
            if let Some(a) = self.availability.get_mut(i) {
                *a += 1;
            }
        }
    }

    pub fn peer_removed(&mut self, peer: usize, bits: &Bitfield) {
        for i in bits.iter_ones() {
            if let Some(a) = self.availability.get_mut(i) {
                *a = a.saturating_sub(1);
            }
        }
        self.release_peer(peer);
    }

    pub fn peer_has(&mut self, index: u32) {
        if let Some(a) = self.availability.get_mut(index as usize) {
            *a += 1;
        }
    }

    /// Whether a peer with `bits` has any piece we still want.
    pub fn interesting(&self, bits: &Bitfield) -> bool {
        bits.iter_ones().any(|i| self.wants(i))
    }

    fn wants(&self, i: usize) -> bool {
        !self.have.get(i) && !self.pending.get(i) && self.wanted.get(i)
    }

    /// Forgets every request made to `peer` (disconnect, choke without fast extension).
    pub fn release_peer(&mut self, peer: usize) {
        for p in self.partial.values_mut() {
            for b in &mut p.blocks {
                if let BlockState::Requested(v) = b {
                    v.retain(|(k, _)| *k != peer);
                    if v.is_empty() {
                        *b = BlockState::Free;
                    }
                }
            }
        }
    }

    /// Returns one block to the pool (a Reject from the peer).
    pub fn release_block(&mut self, peer: usize, b: &BlockRef) {
        if let Some(p) = self.partial.get_mut(&b.index)
            && let Some(state) = p.blocks.get_mut((b.begin / BLOCK) as usize)
            && let BlockState::Requested(v) = state
        {
            v.retain(|(k, _)| *k != peer);
            if v.is_empty() {
                *state = BlockState::Free;
            }
        }
    }

    /// Frees requests older than `timeout` so other peers can take them; returns the
    /// (peer, block) pairs that timed out.
    pub fn expire(&mut self, timeout: Duration, now: Instant) -> Vec<(usize, BlockRef)> {
        let mut out = Vec::new();
        let mut sizes = Vec::new();
        for (&index, p) in &mut self.partial {
            for (bi, b) in p.blocks.iter_mut().enumerate() {
                if let BlockState::Requested(v) = b {
                    v.retain(|(k, at)| {
                        let old = now.duration_since(*at) > timeout;
                        if old {
                            sizes.push((index, bi, *k));
                        }
                        !old
                    });
                    if v.is_empty() {
                        *b = BlockState::Free;
                    }
                }
            }
        }
        for (index, bi, k) in sizes {
            out.push((k, self.block_ref(index, bi)));
        }
        out
    }

    fn block_ref(&self, index: u32, bi: usize) -> BlockRef {
        let begin = bi as u32 * BLOCK;
        BlockRef {
            index,
            begin,
            length: BLOCK.min(self.piece_size(index) - begin),
        }
    }

    /// Picks up to `max` blocks for `peer`, which has `bits` (or only `allowed` pieces when it
    /// has us choked and offered allowed-fast pieces).
    pub fn pick(
        &mut self,
        peer: usize,
        bits: &Bitfield,
        max: usize,
        now: Instant,
        out: &mut Vec<BlockRef>,
    ) {
        if max == 0 {
            return;
        }
        let start_len = out.len();
        // 1. finish pieces already started, oldest-first is not tracked; fewest blocks left first
        let mut started: Vec<(usize, u32)> = self
            .partial
            .iter()
            .filter(|(i, _)| bits.get(**i as usize))
            .map(|(i, p)| (p.blocks.len() - p.done, *i))
            .collect();
        started.sort_unstable();
        for (_, index) in started {
            self.take_free(peer, index, max - (out.len() - start_len), now, out);
            if out.len() - start_len >= max {
                return;
            }
        }
        // 2. start new pieces
        while out.len() - start_len < max {
            let Some(index) = self.choose_new(bits) else {
                break;
            };
            let n = self.blocks_in(index);
            let data = self.buffer(self.piece_size(index) as usize);
            self.partial.insert(
                index,
                Partial {
                    blocks: vec![BlockState::Free; n],
                    data,
                    done: 0,
                    contributors: Vec::new(),
                },
            );
            self.take_free(peer, index, max - (out.len() - start_len), now, out);
        }
        // 3. endgame: nothing is free, so duplicate requests for blocks other peers hold
        if out.len() == start_len && self.no_free_blocks() {
            let mut keys: Vec<u32> = self
                .partial
                .keys()
                .copied()
                .filter(|i| bits.get(*i as usize))
                .collect();
            keys.sort_unstable();
            for index in keys {
                let Some(p) = self.partial.get_mut(&index) else {
                    continue;
                };
                for bi in 0..p.blocks.len() {
                    if out.len() - start_len >= max {
                        return;
                    }
                    if let BlockState::Requested(v) = &mut p.blocks[bi]
                        && v.len() < ENDGAME_DUPLICATES
                        && !v.iter().any(|(k, _)| *k == peer)
                    {
                        v.push((peer, now));
                        let begin = bi as u32 * BLOCK;
                        let size = p.data.len() as u32;
                        out.push(BlockRef {
                            index,
                            begin,
                            length: BLOCK.min(size - begin),
                        });
                    }
                }
            }
        }
    }

    fn no_free_blocks(&self) -> bool {
        let unstarted = (0..self.num_pieces as usize)
            .any(|i| self.wants(i) && !self.partial.contains_key(&(i as u32)));
        !unstarted
            && self
                .partial
                .values()
                .all(|p| p.blocks.iter().all(|b| !matches!(b, BlockState::Free)))
    }

    fn take_free(
        &mut self,
        peer: usize,
        index: u32,
        max: usize,
        now: Instant,
        out: &mut Vec<BlockRef>,
    ) {
        let Some(p) = self.partial.get_mut(&index) else {
            return;
        };
        let size = p.data.len() as u32;
        let mut taken = 0;
        for (bi, b) in p.blocks.iter_mut().enumerate() {
            if taken >= max {
                break;
            }
            if matches!(b, BlockState::Free) {
                *b = BlockState::Requested(vec![(peer, now)]);
                let begin = bi as u32 * BLOCK;
                out.push(BlockRef {
                    index,
                    begin,
                    length: BLOCK.min(size - begin),
                });
                taken += 1;
            }
        }
    }

    fn choose_new(&self, bits: &Bitfield) -> Option<u32> {
        let n = self.num_pieces as usize;
        if n == 0 {
            return None;
        }
        let ok = |i: usize| bits.get(i) && self.wants(i) && !self.partial.contains_key(&(i as u32));
        if self.sequential {
            return (0..n).find(|&i| ok(i)).map(|i| i as u32);
        }
        // rarest first; scanning from a random start breaks ties at random
        let start = rand::random_range(0..n);
        let mut best: Option<(u32, usize)> = None;
        for off in 0..n {
            let i = (start + off) % n;
            if ok(i) {
                let a = self.availability[i];
                if best.is_none_or(|(ba, _)| a < ba) {
                    best = Some((a, i));
                    if a <= 1 {
                        break;
                    }
                }
            }
        }
        best.map(|(_, i)| i as u32)
    }

    /// Stores a received block.
    pub fn on_block(&mut self, peer: usize, index: u32, begin: u32, data: &[u8]) -> BlockOutcome {
        let Some(p) = self.partial.get_mut(&index) else {
            return BlockOutcome::Unexpected;
        };
        if !begin.is_multiple_of(BLOCK) {
            return BlockOutcome::Unexpected;
        }
        let bi = (begin / BLOCK) as usize;
        let Some(state) = p.blocks.get_mut(bi) else {
            return BlockOutcome::Unexpected;
        };
        let expected_len = (BLOCK as usize).min(p.data.len() - begin as usize);
        if data.len() != expected_len {
            return BlockOutcome::Unexpected;
        }
        let cancel = match state {
            BlockState::Requested(v) if v.iter().any(|(k, _)| *k == peer) => {
                v.iter().map(|(k, _)| *k).filter(|k| *k != peer).collect()
            }
            // A late block after a timeout or choke is still good data: take it if free.
            BlockState::Free => Vec::new(),
            BlockState::Requested(v) => v.iter().map(|(k, _)| *k).collect(),
            BlockState::Done => return BlockOutcome::Unexpected,
        };
        *state = BlockState::Done;
        p.data[begin as usize..begin as usize + data.len()].copy_from_slice(data);
        p.done += 1;
        match p.contributors.iter_mut().find(|(k, _)| *k == peer) {
            Some((_, bytes)) => *bytes += data.len() as u64,
            None => p.contributors.push((peer, data.len() as u64)),
        }
        if p.done < p.blocks.len() {
            return BlockOutcome::Stored { cancel };
        }
        let Some(p) = self.partial.remove(&index) else {
            return BlockOutcome::Unexpected;
        };
        self.pending.set(index as usize);
        BlockOutcome::Complete {
            piece: CompletedPiece {
                index,
                data: p.data,
                contributors: p.contributors,
            },
            cancel,
        }
    }

    /// A buffer for a piece of `size` bytes: a recycled one when there is one. Its old bytes
    /// need no clearing: a piece completes only once every block of it has been written.
    /// A fresh 1 MiB buffer per piece cost a memset and 256 page faults (issue 19).
    fn buffer(&mut self, size: usize) -> Vec<u8> {
        match self.spare.pop() {
            Some(mut b) => {
                b.resize(size, 0);
                b
            }
            None => vec![0; size],
        }
    }

    /// Takes back the buffer of a piece that has been hashed and written.
    pub fn recycle(&mut self, buf: Vec<u8>) {
        if self.spare.len() < MAX_SPARE_BUFFERS && buf.capacity() as u64 <= self.piece_length {
            self.spare.push(buf);
        }
    }

    /// The hash check of a completed piece finished.
    pub fn piece_checked(&mut self, index: u32, ok: bool) {
        self.pending.clear(index as usize);
        if ok {
            self.have.set(index as usize);
        }
    }

    /// Marks a piece as not ours any more (found corrupt by a recheck).
    pub fn set_have(&mut self, have: Bitfield) {
        if have.len() == self.have.len() {
            self.have = have;
        }
    }

    pub fn set_wanted(&mut self, wanted: Bitfield) {
        if wanted.len() == self.have.len() {
            self.wanted = wanted;
        }
    }

    /// Blocks outstanding to `peer` (for pipelining decisions).
    pub fn outstanding(&self, peer: usize) -> usize {
        self.partial
            .values()
            .flat_map(|p| p.blocks.iter())
            .filter(|b| matches!(b, BlockState::Requested(v) if v.iter().any(|(k, _)| *k == peer)))
            .count()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn picker(pieces: usize, piece_len: u64) -> Picker {
        Picker::new(piece_len, pieces as u64 * piece_len, Bitfield::new(pieces))
    }

    #[test]
    fn rarest_first() {
        let mut p = picker(4, BLOCK as u64);
        let all = Bitfield::full(4);
        let mut only2 = Bitfield::new(4);
        only2.set(2);
        p.peer_added(&all);
        p.peer_added(&all);
        p.peer_added(&only2);
        // piece 2 has availability 3, others 2; with 3 peers having 2 the rarest are 0,1,3
        let mut out = Vec::new();
        p.pick(0, &all, 1, Instant::now(), &mut out);
        assert_eq!(out.len(), 1);
        assert_ne!(out[0].index, 2);
    }

    #[test]
    fn sequential_and_short_last_piece() {
        let mut p = Picker::new(2 * BLOCK as u64, 3 * BLOCK as u64 + 100, Bitfield::new(2));
        p.sequential = true;
        let all = Bitfield::full(2);
        p.peer_added(&all);
        let mut out = Vec::new();
        p.pick(0, &all, 10, Instant::now(), &mut out);
        let lens: Vec<(u32, u32, u32)> = out.iter().map(|b| (b.index, b.begin, b.length)).collect();
        assert_eq!(
            lens,
            vec![
                (0, 0, BLOCK),
                (0, BLOCK, BLOCK),
                (1, 0, BLOCK),
                (1, BLOCK, 100)
            ]
        );
    }

    #[test]
    fn completes_and_endgame_duplicates() {
        let mut p = picker(1, 2 * BLOCK as u64);
        let all = Bitfield::full(1);
        p.peer_added(&all);
        p.peer_added(&all);
        let now = Instant::now();
        let mut a = Vec::new();
        p.pick(1, &all, 10, now, &mut a);
        assert_eq!(a.len(), 2);
        // peer 2 gets the same blocks in endgame
        let mut b = Vec::new();
        p.pick(2, &all, 10, now, &mut b);
        assert_eq!(b.len(), 2);
        let data = vec![1u8; BLOCK as usize];
        match p.on_block(2, 0, 0, &data) {
            BlockOutcome::Stored { cancel } => assert_eq!(cancel, vec![1]),
            other => panic!("{other:?}"),
        }
        assert!(matches!(
            p.on_block(1, 0, 0, &data),
            BlockOutcome::Unexpected
        ));
        match p.on_block(1, 0, BLOCK, &data) {
            BlockOutcome::Complete { piece, cancel } => {
                assert_eq!(piece.data.len(), 2 * BLOCK as usize);
                assert_eq!(cancel, vec![2]);
                let b = u64::from(BLOCK);
                assert_eq!(piece.contributors, vec![(2, b), (1, b)]);
            }
            other => panic!("{other:?}"),
        }
        p.piece_checked(0, true);
        assert!(p.is_complete());
    }

    /// A recycled buffer's old bytes never reach a completed piece, and a short last piece
    /// gets a buffer of its own size.
    #[test]
    fn recycled_buffers_hold_only_the_new_blocks() {
        let b = BLOCK as usize;
        // Two full pieces of two blocks, then a last piece of 100 bytes.
        let mut p = Picker::new(2 * BLOCK as u64, 4 * BLOCK as u64 + 100, Bitfield::new(3));
        p.sequential = true;
        let all = Bitfield::full(3);
        p.peer_added(&all);
        let complete = |p: &mut Picker, index: u32, fill: u8| {
            let mut out = Vec::new();
            p.pick(1, &all, 2, Instant::now(), &mut out);
            assert!(out.iter().all(|r| r.index == index), "{out:?}");
            let mut done = None;
            for r in out {
                let data = vec![fill; r.length as usize];
                if let BlockOutcome::Complete { piece, .. } = p.on_block(1, index, r.begin, &data) {
                    done = Some(piece);
                }
            }
            let piece = done.expect("complete");
            p.piece_checked(index, true);
            piece.data
        };
        let first = complete(&mut p, 0, 0xAA);
        assert_eq!(first, vec![0xAA; 2 * b]);
        p.recycle(first);
        let second = complete(&mut p, 1, 0x55);
        assert_eq!(second, vec![0x55; 2 * b]);
        p.recycle(second);
        let last = complete(&mut p, 2, 0x11);
        assert_eq!(last, vec![0x11; 100]);
        // Not a buffer of this torrent's piece size: not kept.
        p.recycle(vec![0; 8 * b]);
        assert!(p.spare.iter().all(|v| v.capacity() <= 2 * b));
    }

    #[test]
    fn failed_hash_is_picked_again_and_wrong_sizes_refused() {
        let mut p = picker(1, BLOCK as u64);
        let all = Bitfield::full(1);
        let mut out = Vec::new();
        p.pick(1, &all, 4, Instant::now(), &mut out);
        assert!(matches!(
            p.on_block(1, 0, 0, &[0u8; 5]),
            BlockOutcome::Unexpected
        ));
        assert!(matches!(
            p.on_block(1, 0, 0, &vec![0u8; BLOCK as usize]),
            BlockOutcome::Complete { .. }
        ));
        out.clear();
        p.pick(1, &all, 4, Instant::now(), &mut out);
        assert!(out.is_empty(), "pending piece must not be picked");
        p.piece_checked(0, false);
        p.pick(1, &all, 4, Instant::now(), &mut out);
        assert_eq!(out.len(), 1);
    }

    #[test]
    fn release_and_expire() {
        let mut p = picker(2, BLOCK as u64);
        let all = Bitfield::full(2);
        let t0 = Instant::now();
        let mut out = Vec::new();
        p.pick(7, &all, 2, t0, &mut out);
        assert_eq!(p.outstanding(7), 2);
        p.release_block(7, &out[0]);
        assert_eq!(p.outstanding(7), 1);
        let expired = p.expire(Duration::from_secs(1), t0 + Duration::from_secs(5));
        assert_eq!(expired.len(), 1);
        assert_eq!(p.outstanding(7), 0);
    }
}
