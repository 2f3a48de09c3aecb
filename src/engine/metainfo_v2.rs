//! BEP 52 (v2) parts of the metainfo: the `file tree`, `piece layers`, and how v2 pieces are
//! checked. A v2 file starts on a piece boundary, so the engine sees a v2 torrent as the
//! concatenation of its files with BEP 47 padding after every file but the last: exactly the
//! layout of a hybrid torrent's v1 half. Picker, storage and wire then work unchanged; only
//! the piece check differs ([`V2Info::verify`]).

use crate::bencode::Dict;
use crate::engine::merkle::{self, Hash};
use crate::engine::metainfo::{FileEntry, MetainfoError};

/// Deepest directory nesting accepted in a `file tree` (libtorrent stops at a similar depth);
/// deeper trees are hostile, and every level costs a path component per file.
pub const MAX_TREE_DEPTH: usize = 32;
/// Most files accepted in one torrent.
pub const MAX_FILES: usize = 500_000;
/// Most pieces accepted for a v2 torrent: v1 torrents are bounded by their `pieces` string,
/// v2 ones are not (lengths are just numbers), and every piece costs picker memory. The
/// wire's largest bitfield (`MAX_FRAME`) holds about as many.
pub const MAX_PIECES: u64 = 2_000_000;

fn invalid(msg: impl Into<String>) -> MetainfoError {
    MetainfoError::Invalid(msg.into())
}

/// One file of a v2 torrent that has data (empty files have no tree and no pieces).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct V2File {
    /// Index into `Info::files`.
    pub file: usize,
    pub length: u64,
    pub root: Hash,
    pub first_piece: u32,
    pub num_pieces: u32,
    /// The file's piece layer; empty for a file of one piece (checked against `root`), and
    /// for a larger file until it is known (a magnet's info dict does not carry layers).
    pub layer: Vec<Hash>,
    /// The tree above `layer`, built on the first hash request (see [`V2File::levels`]).
    pub levels: LevelsCache,
    /// The piece layer learned from a peer (BEP 52 `hashes`, checked against `root`) when
    /// `layer` is empty: a magnet's info dict carries no layers.
    pub learned: LearnedLayer,
}

/// A piece layer set once, from a peer's proven answer. Not part of the torrent's identity.
#[derive(Debug, Clone, Default)]
pub struct LearnedLayer(std::sync::OnceLock<Vec<Hash>>);

impl PartialEq for LearnedLayer {
    fn eq(&self, _: &Self) -> bool {
        true
    }
}

impl Eq for LearnedLayer {}

/// Lazily built merkle levels of a piece layer, for answering hash requests without
/// rehashing the layer each time. A cache, not part of the torrent: equal to any other.
#[derive(Debug, Clone, Default)]
pub struct LevelsCache(std::sync::OnceLock<std::sync::Arc<merkle::Levels>>);

impl PartialEq for LevelsCache {
    fn eq(&self, _: &Self) -> bool {
        true
    }
}

impl Eq for LevelsCache {}

/// Largest layer asked of a peer in one hash request (libtorrent's limit): a file of more
/// pieces cannot learn its layer from peers here.
pub const MAX_LAYER_REQUEST: usize = 8192;

impl V2File {
    /// The piece layer, from the .torrent or learned from a peer; empty while unknown.
    pub fn piece_layer(&self) -> &[Hash] {
        if self.layer.is_empty() {
            self.learned.0.get().map_or(&[], Vec::as_slice)
        } else {
            &self.layer
        }
    }

    /// Whether the file's pieces can be checked now.
    pub fn checkable(&self) -> bool {
        self.num_pieces <= 1 || self.piece_layer().len() == self.num_pieces as usize
    }

    /// Width of the piece layer's padded tree, when it can be asked for in one request.
    pub fn layer_request_width(&self) -> Option<usize> {
        let w = (self.num_pieces as usize).max(1).next_power_of_two();
        (self.num_pieces > 1 && w <= MAX_LAYER_REQUEST).then_some(w)
    }

    /// Takes a peer's whole piece layer (`hashes`, the padded width of the tree, from index
    /// 0) if it hashes to the file's root; false (and nothing kept) otherwise.
    pub fn learn_layer(&self, hashes: &[Hash], piece_length: u64) -> bool {
        let Some(width) = self.layer_request_width() else {
            return false;
        };
        if hashes.len() != width || !merkle::verify_proof(&self.root, hashes, 0, &[], width) {
            return false;
        }
        // The entries past the file's pieces must be padding: the root already pins them,
        // but a layer is only ever kept whole and exact.
        let pad = merkle::pad_hash(merkle::blocks_per_piece(piece_length).trailing_zeros());
        let n = self.num_pieces as usize;
        if hashes[n..].iter().any(|h| *h != pad) {
            return false;
        }
        let _ = self.learned.0.set(hashes[..n].to_vec());
        true
    }

    /// The tree above the piece layer, `None` while the layer is unknown.
    pub fn levels(&self, piece_length: u64) -> Option<&merkle::Levels> {
        let layer = self.piece_layer();
        if layer.is_empty() {
            return None;
        }
        let height = merkle::blocks_per_piece(piece_length).trailing_zeros();
        Some(
            self.levels
                .0
                .get_or_init(|| {
                    std::sync::Arc::new(merkle::Levels::new(layer, merkle::pad_hash(height)))
                })
                .as_ref(),
        )
    }
}

/// The v2 half of an info dict.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct V2Info {
    /// Files with data, in torrent order (so ascending `first_piece`).
    pub files: Vec<V2File>,
    pub num_pieces: usize,
    /// True when the info dict also has v1 `pieces` (a hybrid torrent).
    pub hybrid: bool,
}

/// A leaf of the `file tree`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TreeFile {
    pub path: Vec<String>,
    pub length: u64,
    pub root: Option<Hash>,
}

/// Walks the `file tree` depth first in key order. Refuses names a file system would read as
/// something else ("", ".", "..", anything with a separator or NUL): BEP 52 keys are single
/// path components, and a tree that escapes the download dir is refused here already, before
/// the storage layer's own checks.
pub fn parse_tree(tree: &Dict<'_>) -> Result<Vec<TreeFile>, MetainfoError> {
    let mut out = Vec::new();
    walk(tree, &mut Vec::new(), &mut out)?;
    if out.is_empty() {
        return Err(invalid("'file tree' has no files"));
    }
    Ok(out)
}

fn walk(
    node: &Dict<'_>,
    path: &mut Vec<String>,
    out: &mut Vec<TreeFile>,
) -> Result<(), MetainfoError> {
    if path.len() >= MAX_TREE_DEPTH {
        return Err(invalid(format!(
            "'file tree' nests deeper than {MAX_TREE_DEPTH} directories"
        )));
    }
    for (key, child) in node.iter() {
        let name = std::str::from_utf8(key)
            .map_err(|_| invalid("'file tree' has a name that is not UTF-8"))?;
        if name.is_empty() || name == "." || name == ".." || name.contains(['/', '\\', '\0']) {
            return Err(invalid(format!("'file tree' has an unsafe name {name:?}")));
        }
        let child = child
            .as_dict()
            .ok_or_else(|| invalid(format!("'file tree' entry {name:?} is not a dictionary")))?;
        path.push(name.to_string());
        if let Some(leaf) = child.get("") {
            if child.len() != 1 {
                return Err(invalid(format!(
                    "'file tree' entry {:?} is both a file and a directory",
                    path.join("/")
                )));
            }
            let leaf = leaf
                .as_dict()
                .ok_or_else(|| invalid(format!("file {:?} is not a dictionary", path.join("/"))))?;
            out.push(parse_leaf(leaf, path)?);
            if out.len() > MAX_FILES {
                return Err(invalid(format!("more than {MAX_FILES} files")));
            }
        } else {
            if child.is_empty() {
                return Err(invalid(format!(
                    "'file tree' directory {:?} is empty",
                    path.join("/")
                )));
            }
            walk(child, path, out)?;
        }
        path.pop();
    }
    Ok(())
}

fn parse_leaf(leaf: &Dict<'_>, path: &[String]) -> Result<TreeFile, MetainfoError> {
    let shown = path.join("/");
    let length = leaf
        .get_int("length")
        .and_then(|l| u64::try_from(l).ok())
        .ok_or_else(|| invalid(format!("file {shown:?} has no valid 'length'")))?;
    let root = match leaf.get_bytes("pieces root") {
        Some(r) => Some(
            <Hash>::try_from(r)
                .map_err(|_| invalid(format!("file {shown:?}: 'pieces root' is not 32 bytes")))?,
        ),
        None => None,
    };
    if length > 0 && root.is_none() {
        return Err(invalid(format!("file {shown:?} has no 'pieces root'")));
    }
    Ok(TreeFile {
        path: path.to_vec(),
        length,
        root: root.filter(|_| length > 0),
    })
}

/// The piece layout of a v2-only torrent: files in tree order, each but the last followed by
/// padding up to the next piece boundary.
pub fn layout(tree: &[TreeFile], piece_length: u64) -> Result<Vec<FileEntry>, MetainfoError> {
    let mut files = Vec::with_capacity(tree.len() * 2);
    let mut offset: u64 = 0;
    for (i, t) in tree.iter().enumerate() {
        files.push(FileEntry {
            path: t.path.clone(),
            length: t.length,
            offset,
            pad: false,
        });
        offset = offset
            .checked_add(t.length)
            .ok_or_else(|| invalid("total length overflows"))?;
        let tail = t.length % piece_length;
        if i + 1 < tree.len() && tail != 0 {
            let pad = piece_length - tail;
            files.push(FileEntry {
                path: vec![".pad".to_string(), pad.to_string()],
                length: pad,
                offset,
                pad: true,
            });
            offset = offset
                .checked_add(pad)
                .ok_or_else(|| invalid("total length overflows"))?;
        }
    }
    Ok(files)
}

/// Ties the tree's files to `files` (a v2 layout, or a hybrid's v1 list with its padding)
/// and checks that every file with data starts on a piece boundary and that the two agree.
pub fn build(
    tree: &[TreeFile],
    files: &[FileEntry],
    piece_length: u64,
    hybrid: bool,
) -> Result<V2Info, MetainfoError> {
    let real: Vec<(usize, &FileEntry)> = files.iter().enumerate().filter(|(_, f)| !f.pad).collect();
    if real.len() != tree.len() {
        return Err(invalid(format!(
            "v1 'files' lists {} files but the 'file tree' has {}",
            real.len(),
            tree.len()
        )));
    }
    let total = files.last().map_or(0, |f| f.offset + f.length);
    let num_pieces = total.div_ceil(piece_length);
    if num_pieces > MAX_PIECES {
        return Err(invalid(format!(
            "{num_pieces} pieces; at most {MAX_PIECES} are accepted"
        )));
    }
    let mut out = Vec::new();
    for ((index, entry), t) in real.into_iter().zip(tree) {
        if entry.path != t.path || entry.length != t.length {
            return Err(invalid(format!(
                "v1 file {:?} ({} bytes) does not match v2 file {:?} ({} bytes)",
                entry.path.join("/"),
                entry.length,
                t.path.join("/"),
                t.length
            )));
        }
        let Some(root) = t.root else { continue };
        if entry.offset % piece_length != 0 {
            return Err(invalid(format!(
                "file {:?} does not start on a piece boundary",
                t.path.join("/")
            )));
        }
        // Bounded by MAX_PIECES above, so these fit.
        let first_piece =
            u32::try_from(entry.offset / piece_length).map_err(|_| invalid("too many pieces"))?;
        let num = u32::try_from(t.length.div_ceil(piece_length))
            .map_err(|_| invalid("too many pieces"))?;
        out.push(V2File {
            file: index,
            length: t.length,
            root,
            first_piece,
            num_pieces: num,
            layer: Vec::new(),
            levels: LevelsCache::default(),
            learned: LearnedLayer::default(),
        });
    }
    Ok(V2Info {
        files: out,
        num_pieces: num_pieces as usize,
        hybrid,
    })
}

impl V2Info {
    /// Fills the piece layers from the .torrent's `piece layers` dict, checking each against
    /// its file's root. Every file larger than one piece needs its layer: without it no piece
    /// of the file could be checked.
    pub fn attach_layers(
        &mut self,
        layers: Option<&Dict<'_>>,
        piece_length: u64,
        required: bool,
    ) -> Result<(), MetainfoError> {
        for f in &mut self.files {
            if f.num_pieces <= 1 {
                continue;
            }
            let raw = layers.and_then(|d| {
                d.iter()
                    .find(|(k, _)| *k == f.root.as_slice())
                    .and_then(|(_, v)| v.as_bytes())
            });
            let Some(raw) = raw else {
                if required {
                    return Err(invalid(format!(
                        "'piece layers' has no layer for a file of {} pieces",
                        f.num_pieces
                    )));
                }
                continue;
            };
            f.layer = layer_from_bytes(raw, f, piece_length)?;
        }
        Ok(())
    }

    /// The file holding piece `index`, if any (a piece past every file's data has none).
    pub fn file_of(&self, index: u32) -> Option<&V2File> {
        let i = self
            .files
            .partition_point(|f| f.first_piece <= index)
            .checked_sub(1)?;
        let f = &self.files[i];
        (index < f.first_piece + f.num_pieces).then_some(f)
    }

    /// Whether `data` (the whole piece as on the wire, padding included) is piece `index`.
    /// The padding after a file is not part of its tree and is ignored here (a hybrid's v1
    /// hash covers it). A piece of a file whose layer is unknown cannot be checked: false,
    /// unless a v1 hash vouches for it (hybrid), in which case the v2 side says yes.
    pub fn verify(&self, index: u32, data: &[u8], piece_length: u64) -> bool {
        let Some(f) = self.file_of(index) else {
            return true;
        };
        let k = u64::from(index - f.first_piece);
        let len = piece_length.min(f.length - k * piece_length);
        let Some(bytes) = usize::try_from(len).ok().and_then(|l| data.get(..l)) else {
            return false;
        };
        if f.num_pieces == 1 {
            return merkle::small_file_root(bytes) == f.root;
        }
        match f.piece_layer().get(k as usize) {
            Some(h) => merkle::piece_hash(bytes, piece_length) == *h,
            None => self.hybrid,
        }
    }

    /// Whether every piece can be checked (every layer known).
    pub fn complete(&self) -> bool {
        self.files.iter().all(V2File::checkable)
    }

    /// Whether piece `index` can be checked now: false only for a v2-only torrent's piece
    /// whose layer is still to be learned (a hybrid falls back on its v1 hash).
    pub fn can_verify(&self, index: u32) -> bool {
        self.hybrid || self.file_of(index).is_none_or(V2File::checkable)
    }

    /// Whether every missing layer can be learned from peers (one request per file).
    pub fn layers_learnable(&self) -> bool {
        self.files
            .iter()
            .all(|f| f.checkable() || f.layer_request_width().is_some())
    }
}

/// A file's piece layer from its `piece layers` value, checked against its root.
pub fn layer_from_bytes(
    raw: &[u8],
    f: &V2File,
    piece_length: u64,
) -> Result<Vec<Hash>, MetainfoError> {
    if raw.len() != f.num_pieces as usize * 32 {
        return Err(invalid(format!(
            "piece layer is {} bytes for a file of {} pieces (expected {})",
            raw.len(),
            f.num_pieces,
            f.num_pieces as usize * 32
        )));
    }
    let layer: Vec<Hash> = raw
        .chunks_exact(32)
        .map(|c| {
            let mut h = [0u8; 32];
            h.copy_from_slice(c);
            h
        })
        .collect();
    if merkle::root_from_layer(&layer, piece_length) != f.root {
        return Err(invalid(
            "piece layer does not hash to its file's 'pieces root'",
        ));
    }
    Ok(layer)
}

#[cfg(test)]
mod tests {
    use crate::bencode::{self, Owned};
    use crate::engine::create::{CreateOptions, TorrentVersion, create_torrent};
    use crate::engine::merkle;
    use crate::engine::metainfo::Metainfo;

    const PIECE: u64 = 32 * 1024;

    /// A directory with an empty file, a one-block file, a file of exactly one piece and a
    /// file of several pieces with a short tail; returns (dir, files in tree order).
    fn fixture() -> (tempfile::TempDir, Vec<(&'static str, Vec<u8>)>) {
        let dir = tempfile::tempdir().expect("tempdir");
        let root = dir.path().join("d");
        std::fs::create_dir_all(root.join("sub")).expect("mkdir");
        let files: Vec<(&str, Vec<u8>)> = vec![
            ("a.bin", (0..5000u32).map(|i| i as u8).collect()),
            ("b.bin", (0..PIECE as u32).map(|i| (i * 3) as u8).collect()),
            ("empty", Vec::new()),
            (
                "sub/c.bin",
                (0..(3 * PIECE + 20_000) as u32)
                    .map(|i| (i * 7 + 1) as u8)
                    .collect(),
            ),
        ];
        for (p, d) in &files {
            std::fs::write(root.join(p), d).expect("write");
        }
        (dir, files)
    }

    type Made = (tempfile::TempDir, Vec<(&'static str, Vec<u8>)>, Vec<u8>);

    fn make(version: TorrentVersion) -> Made {
        let (dir, files) = fixture();
        let opts = CreateOptions {
            piece_length: Some(PIECE),
            version,
            ..CreateOptions::default()
        };
        let bytes = create_torrent(&dir.path().join("d"), &opts, |_, _| {}).expect("create");
        (dir, files, bytes)
    }

    /// The torrent's piece data: files in order, padding to a boundary after all but the last.
    fn stream(files: &[(&str, Vec<u8>)]) -> Vec<u8> {
        let mut out = Vec::new();
        for (i, (_, d)) in files.iter().enumerate() {
            out.extend_from_slice(d);
            if i + 1 < files.len() {
                let tail = d.len() as u64 % PIECE;
                if tail != 0 {
                    out.resize(out.len() + (PIECE - tail) as usize, 0);
                }
            }
        }
        out
    }

    #[test]
    fn v2_and_hybrid_round_trip_and_verify_every_piece() {
        for version in [TorrentVersion::V2, TorrentVersion::Hybrid] {
            let (_dir, files, bytes) = make(version);
            let m = Metainfo::from_bytes(&bytes).expect("parses");
            let v2 = m.info.v2.as_ref().expect("v2");
            let data = stream(&files);
            // 1 + 1 + 0 + 4 pieces: every file starts on a boundary.
            assert_eq!(m.num_pieces(), 6, "{version:?}");
            assert_eq!(data.len() as u64, m.info.total_length);
            let v2h = m.info_hash_v2.expect("v2 hash");
            assert_eq!(v2h, merkle::sha256(&m.info_bytes));
            if version == TorrentVersion::V2 {
                assert!(m.info.pieces.is_empty());
                assert_eq!(m.info_hash.0[..], v2h[..20]);
            } else {
                assert_eq!(m.info.pieces.len(), 6);
                assert_eq!(m.swarm_hashes().len(), 2);
            }
            assert!(v2.complete());
            for (i, p) in data.chunks(PIECE as usize).enumerate() {
                assert!(
                    m.info.verify_piece(i as u32, p),
                    "{version:?} piece {i} {} {:?}",
                    p.len(),
                    m.info.files
                );
                let mut bad = p.to_vec();
                bad[100] ^= 1;
                assert!(
                    !m.info.verify_piece(i as u32, &bad),
                    "{version:?} piece {i}"
                );
            }
            // Layers survive the round trip through a .torrent (a magnet's saved metadata).
            let again = Metainfo::from_bytes(&m.to_torrent_bytes()).expect("again");
            assert_eq!(again.info, m.info);
            assert_eq!(again.info_hash, m.info_hash);
            // The real files appear with their lengths, padding only in between.
            let real: Vec<(String, u64)> = m
                .info
                .real_files()
                .map(|(_, f)| (f.path.join("/"), f.length))
                .collect();
            let want: Vec<(String, u64)> = files
                .iter()
                .map(|(p, d)| (p.to_string(), d.len() as u64))
                .collect();
            assert_eq!(real, want);
        }
    }

    /// Rewrites one key of the decoded torrent and re-encodes it.
    fn mutate(bytes: &[u8], f: impl FnOnce(&mut Owned)) -> Vec<u8> {
        let mut o = Owned::from(&bencode::decode(bytes).expect("decode"));
        f(&mut o);
        o.encode()
    }

    fn dict<'a>(o: &'a mut Owned, key: &str) -> &'a mut std::collections::BTreeMap<Vec<u8>, Owned> {
        match o {
            Owned::Dict(m) => match m.get_mut(key.as_bytes()) {
                Some(Owned::Dict(d)) => d,
                _ => panic!("no dict {key}"),
            },
            _ => panic!("not a dict"),
        }
    }

    fn refused(bytes: &[u8], want: &str) {
        let err = Metainfo::from_bytes(bytes)
            .expect_err("refused")
            .to_string();
        assert!(err.contains(want), "{err:?} lacks {want:?}");
    }

    #[test]
    fn hostile_layers_are_refused() {
        let (_dir, _files, bytes) = make(TorrentVersion::V2);
        // A layer one hash short.
        let short = mutate(&bytes, |o| {
            for v in dict(o, "piece layers").values_mut() {
                if let Owned::Bytes(b) = v {
                    b.truncate(b.len() - 32);
                }
            }
        });
        refused(&short, "expected 128");
        // A layer of the right length that does not hash to the root.
        let wrong = mutate(&bytes, |o| {
            for v in dict(o, "piece layers").values_mut() {
                if let Owned::Bytes(b) = v {
                    b[0] ^= 1;
                }
            }
        });
        refused(&wrong, "does not hash");
        // No layer for a file of several pieces in a `piece layers` that is there.
        let missing = mutate(&bytes, |o| dict(o, "piece layers").clear());
        refused(&missing, "no layer");
        // No `piece layers` at all (a magnet's saved metadata): parsed, to be fetched.
        let bare = mutate(&bytes, |o| {
            if let Owned::Dict(m) = o {
                m.remove(b"piece layers".as_slice());
            }
        });
        let m = Metainfo::from_bytes(&bare).expect("parses without layers");
        let v2 = m.info.v2.as_ref().expect("v2");
        assert!(!v2.complete() && v2.layers_learnable());
    }

    #[test]
    fn hostile_trees_are_refused() {
        let (_dir, _files, bytes) = make(TorrentVersion::V2);
        let with_tree = |tree: Owned| {
            mutate(&bytes, |o| {
                dict(o, "info").insert(b"file tree".to_vec(), tree);
            })
        };
        let leaf = |len: i64| {
            Owned::dict().with(
                "",
                Owned::dict()
                    .with("length", len)
                    .with("pieces root", vec![1u8; 32]),
            )
        };
        refused(&with_tree(Owned::dict().with("..", leaf(5))), "unsafe name");
        refused(
            &with_tree(Owned::dict().with("a", Owned::dict().with("../../x", leaf(5)))),
            "unsafe name",
        );
        refused(
            &with_tree(Owned::dict().with("a/b", leaf(5))),
            "unsafe name",
        );
        refused(&with_tree(Owned::dict()), "no files");
        let mut deep = leaf(5);
        for _ in 0..40 {
            deep = Owned::dict().with("d", deep);
        }
        refused(&with_tree(deep), "deeper");
        refused(
            &with_tree(Owned::dict().with(
                "x",
                Owned::dict().with("", Owned::dict().with("length", 5i64)),
            )),
            "no 'pieces root'",
        );
        refused(
            &with_tree(
                Owned::dict().with(
                    "x",
                    Owned::dict().with(
                        "",
                        Owned::dict()
                            .with("length", 5i64)
                            .with("pieces root", vec![1u8; 31]),
                    ),
                ),
            ),
            "not 32 bytes",
        );
        // Lengths that would make billions of pieces without one byte of hashes.
        refused(
            &with_tree(Owned::dict().with("x", leaf(i64::MAX))),
            "pieces",
        );
        let bad_version = mutate(&bytes, |o| {
            dict(o, "info").insert(b"meta version".to_vec(), Owned::Int(3));
        });
        refused(&bad_version, "meta version");
    }

    #[test]
    fn hybrid_halves_must_agree() {
        let (_dir, _files, bytes) = make(TorrentVersion::Hybrid);
        // Drop the padding after the first file: v2 files would no longer be aligned.
        let unpadded = mutate(&bytes, |o| {
            if let Some(Owned::List(files)) = dict(o, "info").get_mut(b"files".as_slice()) {
                files.remove(1);
            }
        });
        assert!(Metainfo::from_bytes(&unpadded).is_err());
        let renamed = mutate(&bytes, |o| {
            if let Some(Owned::List(files)) = dict(o, "info").get_mut(b"files".as_slice())
                && let Some(Owned::Dict(f)) = files.first_mut()
            {
                f.insert(b"path".to_vec(), Owned::List(vec!["other".into()]));
            }
        });
        refused(&renamed, "does not match");
    }

    /// Resume and recheck go through the v2 roots: a fresh check finds every piece of data
    /// laid out by the v2 (padded) layout, and a flipped byte loses exactly its piece.
    #[test]
    fn recheck_uses_the_merkle_roots() {
        use crate::engine::resume::{PieceCheck, startup_bitfield};
        use crate::engine::storage::Storage;
        for version in [TorrentVersion::V2, TorrentVersion::Hybrid] {
            let (_dir, files, bytes) = make(version);
            let m = Metainfo::from_bytes(&bytes).expect("parses");
            let dl = tempfile::tempdir().expect("tempdir");
            let s = Storage::open(&m.info, dl.path()).expect("open");
            for (i, p) in stream(&files).chunks(PIECE as usize).enumerate() {
                s.write_piece(i, p).expect("write");
            }
            s.sync().expect("sync");
            let (have, _) = startup_bitfield(&s, &m.info, None, |_, _| {}).expect("startup");
            assert!(have.all(), "{version:?}");
            // Byte 40 000 of sub/c.bin is in its second piece: a.bin is piece 0, b.bin 1, c.bin
            // starts at 2.
            let path = dl.path().join("d/sub/c.bin");
            let mut data = std::fs::read(&path).expect("read");
            data[40_000] ^= 1;
            std::fs::write(&path, data).expect("write");
            let have = m
                .info
                .recheck(&s, &|_| true, &mut |_, _| {})
                .expect("recheck");
            let missing: Vec<usize> = (0..m.num_pieces()).filter(|&i| !have.get(i)).collect();
            assert_eq!(missing, vec![3], "{version:?}");
        }
    }

    /// A magnet's info dict has no layers: a peer's answer is taken only if it hashes to the
    /// file's root and its padding is padding; a tampered one leaves the file uncheckable.
    #[test]
    fn learned_layers_must_prove_themselves() {
        let (_dir, files, bytes) = make(TorrentVersion::V2);
        let full = Metainfo::from_bytes(&bytes).expect("parses");
        let bare = Metainfo::from_info_bytes(&full.info_bytes, full.info_hash, Vec::new())
            .expect("info only");
        let v2 = bare.info.v2.as_ref().expect("v2");
        assert!(!v2.complete() && v2.layers_learnable());
        let f = v2
            .files
            .iter()
            .find(|f| f.num_pieces > 1)
            .expect("multi-piece file");
        let known = full
            .info
            .v2
            .as_ref()
            .expect("v2")
            .files
            .iter()
            .find(|g| g.root == f.root)
            .expect("same file")
            .layer
            .clone();
        let width = f.layer_request_width().expect("one request");
        let pad = merkle::pad_hash(merkle::blocks_per_piece(PIECE).trailing_zeros());
        let mut answer = known.clone();
        answer.resize(width, pad);
        // Tampered: a changed hash, a short answer, garbage in the padding.
        let mut bad = answer.clone();
        bad[1][0] ^= 1;
        assert!(!f.learn_layer(&bad, PIECE));
        assert!(!f.learn_layer(&answer[..width - 1], PIECE));
        assert!(!v2.can_verify(f.first_piece));
        assert!(f.learn_layer(&answer, PIECE));
        assert!(v2.complete() && v2.can_verify(f.first_piece));
        // Now its pieces check, and the layer is saved with the metadata.
        let data = stream(&files);
        for i in f.first_piece..f.first_piece + f.num_pieces {
            let p =
                &data[i as usize * PIECE as usize..][..bare.info.piece_size(i as usize) as usize];
            assert!(bare.info.verify_piece(i, p), "piece {i}");
        }
        let saved = Metainfo::from_bytes(&bare.to_torrent_bytes()).expect("saved form parses");
        assert!(saved.info.v2.as_ref().expect("v2").complete());
    }
}
