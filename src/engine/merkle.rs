//! BEP 52 merkle trees: SHA-256 over 16 KiB blocks, one tree per file.
//!
//! A file's tree has `next_power_of_two(blocks)` leaves; leaves past the end of the file are
//! all-zero hashes (not the hash of zeros), so a subtree made only of padding has a root that
//! depends only on its height ([`pad_hash`]). A piece of `piece_length` bytes covers a subtree
//! of `piece_length / 16 KiB` leaves; those subtree roots form the *piece layer* that a
//! .torrent carries in `piece layers` for every file larger than one piece. A file of one
//! piece or less is checked against its `pieces root` directly.
//!
//! Proofs (the `hashes` message, BEP 52): a run of `count` hashes (a power of two, aligned)
//! on some layer, plus one sibling ("uncle") per layer above their common subtree root, lets a
//! peer recompute the file's root and so check hashes it could not check alone.

use sha2::{Digest, Sha256};

/// Leaf size: every leaf hashes 16 KiB of file data (the last one may be short).
pub const BLOCK: usize = 16 * 1024;

pub type Hash = [u8; 32];

/// A leaf past the end of a file.
pub const ZERO: Hash = [0; 32];

pub fn sha256(data: &[u8]) -> Hash {
    Sha256::digest(data).into()
}

pub fn parent(left: &Hash, right: &Hash) -> Hash {
    let mut h = Sha256::new();
    h.update(left);
    h.update(right);
    h.finalize().into()
}

/// Root of a subtree of `2^height` padding leaves.
pub fn pad_hash(height: u32) -> Hash {
    let mut h = ZERO;
    for _ in 0..height {
        h = parent(&h, &h);
    }
    h
}

/// Hashes of each 16 KiB block of `data` (the leaves).
pub fn block_hashes(data: &[u8]) -> Vec<Hash> {
    data.chunks(BLOCK).map(sha256).collect()
}

/// One layer up: pairs hashed together, a missing right sibling being `pad`.
fn reduce(layer: &[Hash], pad: &Hash) -> Vec<Hash> {
    layer
        .chunks(2)
        .map(|c| parent(&c[0], c.get(1).unwrap_or(pad)))
        .collect()
}

/// Root of a layer `width` wide (rounded up to a power of two, and at least `hashes.len()`)
/// whose entries past `hashes` are `pad` (the padding root at that layer's height).
pub fn root_of(hashes: &[Hash], width: usize, pad: Hash) -> Hash {
    let mut width = width.max(hashes.len()).max(1).next_power_of_two();
    let mut layer = hashes.to_vec();
    let mut pad = pad;
    while width > 1 {
        layer = reduce(&layer, &pad);
        pad = parent(&pad, &pad);
        width /= 2;
    }
    layer.first().copied().unwrap_or(pad)
}

/// Leaves in one piece's subtree. `piece_length` is a power of two of at least 16 KiB (the
/// metainfo parser and `create` refuse anything else for v2).
pub fn blocks_per_piece(piece_length: u64) -> usize {
    usize::try_from(piece_length / BLOCK as u64)
        .unwrap_or(1)
        .max(1)
}

/// The piece-layer hash of one piece of a file larger than a piece: the root of its subtree,
/// padded with zero leaves when it is the file's short last piece.
pub fn piece_hash(data: &[u8], piece_length: u64) -> Hash {
    root_of(&block_hashes(data), blocks_per_piece(piece_length), ZERO)
}

/// `pieces root` of a file no larger than one piece: the root over its own leaves only.
pub fn small_file_root(data: &[u8]) -> Hash {
    let leaves = block_hashes(data);
    root_of(&leaves, leaves.len(), ZERO)
}

/// `pieces root` of a file from its piece layer; missing pieces of the padded tree are whole
/// subtrees of padding.
pub fn root_from_layer(layer: &[Hash], piece_length: u64) -> Hash {
    let height = blocks_per_piece(piece_length).trailing_zeros();
    root_of(layer, layer.len(), pad_hash(height))
}

/// Width of layer `height` (0 = leaves) of the tree of a file of `length` bytes.
pub fn layer_width(length: u64, height: u32) -> usize {
    let blocks = usize::try_from(length.div_ceil(BLOCK as u64)).unwrap_or(usize::MAX);
    let leaves = blocks.max(1).checked_next_power_of_two().unwrap_or(1 << 62);
    (leaves >> height.min(62)).max(1)
}

/// A layer and every layer above it up to the root, with the padding hash of each: built once
/// per file so a proof costs a walk up the tree, not a rehash of the whole layer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Levels {
    /// `layers[0]` is the layer given; the last has one hash (or none for an empty layer).
    layers: Vec<Vec<Hash>>,
    pads: Vec<Hash>,
    width: usize,
}

impl Levels {
    pub fn new(layer: &[Hash], pad: Hash) -> Levels {
        let width = layer.len().max(1).next_power_of_two();
        let mut layers = vec![layer.to_vec()];
        let mut pads = vec![pad];
        let mut w = width;
        while w > 1 {
            let (Some(last), Some(p)) = (layers.last(), pads.last()) else {
                break;
            };
            let next = reduce(last, p);
            let up = parent(p, p);
            layers.push(next);
            pads.push(up);
            w /= 2;
        }
        Levels {
            layers,
            pads,
            width,
        }
    }

    /// The `count` hashes at `index` of the bottom layer (those past its end are padding),
    /// and up to `proof_layers` uncles proving them, from the nearest layer up. `None` when
    /// the range is not aligned, not a power of two, or past the layer.
    pub fn proof(
        &self,
        index: usize,
        count: usize,
        proof_layers: usize,
    ) -> Option<(Vec<Hash>, Vec<Hash>)> {
        if count == 0
            || !count.is_power_of_two()
            || !index.is_multiple_of(count)
            || index.checked_add(count).is_none_or(|end| end > self.width)
        {
            return None;
        }
        let bottom = self.layers.first()?;
        let pad = *self.pads.first()?;
        let base = (index..index + count)
            .map(|i| bottom.get(i).copied().unwrap_or(pad))
            .collect();
        let mut level = count.trailing_zeros() as usize;
        let mut pos = index / count;
        let mut uncles = Vec::new();
        while (self.width >> level) > 1 && uncles.len() < proof_layers {
            let sibling = self
                .layers
                .get(level)
                .and_then(|l| l.get(pos ^ 1))
                .or_else(|| self.pads.get(level))
                .copied()?;
            uncles.push(sibling);
            level += 1;
            pos /= 2;
        }
        Some((base, uncles))
    }
}

/// The `count` hashes at `index` of a layer (those past its end are `pad`), and up to
/// `proof_layers` uncles proving them, from the nearest layer up. `None` when the range is
/// not aligned, not a power of two, or past the layer. Builds the whole tree: for repeated
/// proofs keep a [`Levels`].
pub fn proof(
    layer: &[Hash],
    pad: Hash,
    index: usize,
    count: usize,
    proof_layers: usize,
) -> Option<(Vec<Hash>, Vec<Hash>)> {
    Levels::new(layer, pad).proof(index, count, proof_layers)
}

/// Whether `base` (hashes at `index` of a layer `width` wide) and `uncles` (one per layer
/// above their subtree, up to the root) lead to `root`. A proof that stops short of the root
/// or goes past it is refused: we never keep inner nodes, so only complete proofs count.
pub fn verify_proof(
    root: &Hash,
    base: &[Hash],
    index: usize,
    uncles: &[Hash],
    width: usize,
) -> bool {
    let count = base.len();
    if count == 0
        || !count.is_power_of_two()
        || !width.is_power_of_two()
        || !index.is_multiple_of(count)
        || index.checked_add(count).is_none_or(|end| end > width)
    {
        return false;
    }
    let mut node = root_of(base, count, ZERO);
    let mut pos = index / count;
    let mut w = width / count;
    for u in uncles {
        if w <= 1 {
            return false;
        }
        node = if pos.is_multiple_of(2) {
            parent(&node, u)
        } else {
            parent(u, &node)
        };
        pos /= 2;
        w /= 2;
    }
    w == 1 && node == *root
}

#[cfg(test)]
mod tests {
    use super::*;

    fn data(len: usize) -> Vec<u8> {
        (0..len).map(|i| (i * 7 % 251) as u8).collect()
    }

    /// The tree built the naive way: every leaf, zero leaves to a power of two, pairwise up.
    fn naive_root(data: &[u8]) -> Hash {
        let mut layer = block_hashes(data);
        let n = layer.len().max(1).next_power_of_two();
        layer.resize(n, ZERO);
        while layer.len() > 1 {
            layer = layer.chunks(2).map(|c| parent(&c[0], &c[1])).collect();
        }
        layer[0]
    }

    #[test]
    fn one_block_file_root_is_the_block_hash() {
        let d = data(1000);
        assert_eq!(small_file_root(&d), sha256(&d));
        assert_eq!(small_file_root(&d), naive_root(&d));
    }

    #[test]
    fn padding_uses_zero_leaves_not_hashes_of_zeros() {
        let d = data(BLOCK * 3 + 5);
        let leaves = block_hashes(&d);
        let expected = parent(
            &parent(&leaves[0], &leaves[1]),
            &parent(&leaves[2], &leaves[3]),
        );
        assert_eq!(small_file_root(&d), expected);
        let d = data(BLOCK * 3);
        let leaves = block_hashes(&d);
        let expected = parent(&parent(&leaves[0], &leaves[1]), &parent(&leaves[2], &ZERO));
        assert_eq!(small_file_root(&d), expected);
        assert_eq!(pad_hash(1), parent(&ZERO, &ZERO));
    }

    #[test]
    fn root_from_piece_layer_matches_the_whole_tree() {
        // 5 pieces of 4 blocks (64 KiB), the last one short: the tree is 32 leaves wide.
        let piece = 4 * BLOCK as u64;
        let d = data(4 * 4 * BLOCK + 3 * BLOCK + 100);
        let layer: Vec<Hash> = d
            .chunks(piece as usize)
            .map(|p| piece_hash(p, piece))
            .collect();
        assert_eq!(layer.len(), 5);
        assert_eq!(root_from_layer(&layer, piece), naive_root(&d));
        // A flipped byte changes its piece's hash.
        let mut bad = d.clone();
        bad[2 * piece as usize + 1] ^= 1;
        assert_ne!(
            piece_hash(&bad[2 * piece as usize..3 * piece as usize], piece),
            layer[2]
        );
    }

    #[test]
    fn proofs_verify_and_tampering_fails() {
        let piece = 2 * BLOCK as u64;
        let d = data(11 * 2 * BLOCK + 7);
        let layer: Vec<Hash> = d
            .chunks(piece as usize)
            .map(|p| piece_hash(p, piece))
            .collect();
        let root = root_from_layer(&layer, piece);
        let pad = pad_hash(1);
        let width = layer.len().next_power_of_two();
        assert_eq!(width, layer_width(d.len() as u64, 1));
        for (index, count) in [(0, 1), (3, 1), (8, 4), (0, 16), (12, 2)] {
            let (base, uncles) = proof(&layer, pad, index, count, 64).expect("proof");
            assert_eq!(base.len(), count);
            assert!(
                verify_proof(&root, &base, index, &uncles, width),
                "{index}+{count}"
            );
            // A wrong hash, a wrong uncle, a wrong position or a short proof all fail.
            let mut b = base.clone();
            b[0][0] ^= 1;
            assert!(!verify_proof(&root, &b, index, &uncles, width));
            if !uncles.is_empty() {
                let mut u = uncles.clone();
                u[0][5] ^= 1;
                assert!(!verify_proof(&root, &base, index, &u, width));
                assert!(!verify_proof(&root, &base, index, &uncles[1..], width));
                if index + 2 * count <= layer.len() {
                    assert!(!verify_proof(&root, &base, index + count, &uncles, width));
                }
            }
            let mut long = uncles.clone();
            long.push(ZERO);
            assert!(!verify_proof(&root, &base, index, &long, width));
        }
        assert!(proof(&layer, pad, 1, 2, 8).is_none(), "unaligned");
        assert!(proof(&layer, pad, 0, 3, 8).is_none(), "not a power of two");
        assert!(proof(&layer, pad, 16, 1, 8).is_none(), "past the layer");
        assert!(!verify_proof(&root, &[], 0, &[], width));
        assert!(!verify_proof(&root, &[root], usize::MAX, &[], width));
    }
}
