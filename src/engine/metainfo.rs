//! .torrent metainfo (BEP 3, BEP 12 announce-list, BEP 27 private flag, BEP 19 web seeds,
//! BEP 52 v2 and hybrid torrents; the v2 parts live in [`crate::engine::metainfo_v2`]).

use std::path::Path;

use sha1::{Digest, Sha1};

use crate::bencode::{self, Dict, Value};
use crate::engine::merkle;
use crate::engine::metainfo_v2::{self, V2Info};
use crate::engine::types::InfoHash;

/// Pieces larger than this are refused: no real client makes them and they would let a hostile
/// torrent make us buffer gigabytes.
pub const MAX_PIECE_LENGTH: u64 = 64 * 1024 * 1024;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Metainfo {
    /// The hash the wire, trackers and the DHT use: the v1 SHA-1 for v1 and hybrid torrents,
    /// the v2 SHA-256 truncated to 20 bytes for v2-only ones.
    pub info_hash: InfoHash,
    /// BEP 52: SHA-256 of the info dict, for v2-only and hybrid torrents.
    pub info_hash_v2: Option<[u8; 32]>,
    /// The bencoded info dict exactly as it appeared in the file (served over ut_metadata).
    pub info_bytes: Vec<u8>,
    pub info: Info,
    /// BEP 12 tiers; a lone `announce` becomes one tier of one URL.
    pub announce_tiers: Vec<Vec<String>>,
    pub comment: Option<String>,
    pub created_by: Option<String>,
    pub creation_date: Option<i64>,
    /// BEP 19 `url-list`: HTTP(S) servers holding the torrent's files.
    pub web_seeds: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Info {
    /// The torrent's name as given (not yet sanitised for the file system).
    pub name: String,
    pub piece_length: u64,
    pub pieces: Vec<[u8; 20]>,
    /// Every file in torrent order. A single-file torrent has one entry whose path is `[name]`.
    pub files: Vec<FileEntry>,
    pub total_length: u64,
    pub private: bool,
    /// True when the info dict has `length` (one file), false when it has `files`.
    pub single_file: bool,
    /// BEP 52: the v2 file roots and piece layers, for v2-only and hybrid torrents. A
    /// v2-only torrent has no v1 `pieces`.
    pub v2: Option<V2Info>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FileEntry {
    /// Path components as given in the torrent (not yet sanitised). For a multi-file torrent the
    /// torrent's name is *not* included here; the storage layer puts files under `name/`.
    pub path: Vec<String>,
    pub length: u64,
    /// Byte offset of this file within the torrent's concatenated data.
    pub offset: u64,
    /// BEP 47 padding file: present in the piece layout, never written.
    pub pad: bool,
}

#[derive(Debug, thiserror::Error)]
pub enum MetainfoError {
    #[error("{0}")]
    Bencode(#[from] bencode::DecodeError),
    #[error("metainfo: {0}")]
    Invalid(String),
    #[error("cannot read {path}: {source}")]
    Io {
        path: String,
        source: std::io::Error,
    },
}

fn invalid(msg: impl Into<String>) -> MetainfoError {
    MetainfoError::Invalid(msg.into())
}

impl Metainfo {
    pub fn from_file(path: &Path) -> Result<Self, MetainfoError> {
        let bytes = std::fs::read(path).map_err(|source| MetainfoError::Io {
            path: path.display().to_string(),
            source,
        })?;
        Self::from_bytes(&bytes)
    }

    pub fn from_bytes(bytes: &[u8]) -> Result<Self, MetainfoError> {
        let root = bencode::decode(bytes)?;
        let root = root
            .as_dict()
            .ok_or_else(|| invalid("top level is not a dictionary"))?;
        let info_raw = root
            .raw("info")
            .ok_or_else(|| invalid("missing 'info' dictionary"))?;
        let info_dict = root
            .get_dict("info")
            .ok_or_else(|| invalid("'info' is not a dictionary"))?;
        let mut info = Info::from_dict(info_dict)?;
        if let Some(v2) = info.v2.as_mut() {
            // A `piece layers` dict must cover every multi-piece file of a v2-only torrent. With
            // no dict at all (a magnet's saved metadata) the layers are asked of peers, as for
            // the magnet; a hybrid can always fall back on its v1 hashes.
            let required = !v2.hybrid && root.get("piece layers").is_some();
            v2.attach_layers(root.get_dict("piece layers"), info.piece_length, required)?;
        }

        let mut announce_tiers: Vec<Vec<String>> = Vec::new();
        if let Some(list) = root.get_list("announce-list") {
            for tier in list {
                let urls: Vec<String> = tier
                    .as_list()
                    .unwrap_or(&[])
                    .iter()
                    .filter_map(Value::as_str)
                    .filter(|u| !u.is_empty())
                    .map(str::to_string)
                    .collect();
                if !urls.is_empty() {
                    announce_tiers.push(urls);
                }
            }
        }
        if announce_tiers.is_empty()
            && let Some(url) = root.get_str("announce").filter(|u| !u.is_empty())
        {
            announce_tiers.push(vec![url.to_string()]);
        }

        let web_seeds = match root.get("url-list") {
            Some(Value::List(l)) => l.iter().filter_map(Value::as_str).collect(),
            Some(v) => v.as_str().into_iter().collect(),
            None => Vec::new(),
        };
        let web_seeds = web_seeds
            .into_iter()
            .filter(|u| u.starts_with("http://") || u.starts_with("https://"))
            .map(str::to_string)
            .collect();
        let (info_hash, info_hash_v2) = hashes(&info, info_raw);
        Ok(Metainfo {
            info_hash,
            info_hash_v2,
            info_bytes: info_raw.to_vec(),
            info,
            announce_tiers,
            comment: root.get_str("comment").map(str::to_string),
            created_by: root.get_str("created by").map(str::to_string),
            creation_date: root.get_int("creation date"),
            web_seeds,
        })
    }

    /// Builds from an info dict fetched over ut_metadata (BEP 9), checking it against the hash.
    pub fn from_info_bytes(
        info_bytes: &[u8],
        expected: InfoHash,
        trackers: Vec<Vec<String>>,
    ) -> Result<Self, MetainfoError> {
        // A magnet names the v1 hash (btih) or the truncated v2 one (btmh); either vouches.
        let v1 = InfoHash(Sha1::digest(info_bytes).into());
        let v2 = truncate(&merkle::sha256(info_bytes));
        if v1 != expected && v2 != expected {
            return Err(invalid(format!(
                "info dict hashes to {v1}, expected {expected}"
            )));
        }
        let v = bencode::decode(info_bytes)?;
        let d = v
            .as_dict()
            .ok_or_else(|| invalid("info is not a dictionary"))?;
        let info = Info::from_dict(d)?;
        let (info_hash, info_hash_v2) = hashes(&info, info_bytes);
        Ok(Metainfo {
            info_hash,
            info_hash_v2,
            info_bytes: info_bytes.to_vec(),
            info,
            announce_tiers: trackers,
            comment: None,
            created_by: None,
            creation_date: None,
            web_seeds: Vec::new(),
        })
    }

    pub fn num_pieces(&self) -> usize {
        self.info.num_pieces()
    }

    /// The v2 info-hash truncated to 20 bytes, as v2 peers, trackers and the DHT know it.
    pub fn info_hash_v2_short(&self) -> Option<InfoHash> {
        self.info_hash_v2.as_ref().map(truncate)
    }

    /// Every 20-byte hash this torrent answers to: a hybrid joins both swarms.
    pub fn swarm_hashes(&self) -> Vec<InfoHash> {
        let mut v = vec![self.info_hash];
        if let Some(h) = self.info_hash_v2_short().filter(|h| *h != self.info_hash) {
            v.push(h);
        }
        v
    }

    /// A .torrent file for this metainfo: the trackers, and the info dict byte for byte as it
    /// was received (so the info-hash stays the same). Used to keep a magnet's fetched
    /// metadata across restarts.
    pub fn to_torrent_bytes(&self) -> Vec<u8> {
        use crate::bencode::Owned;
        // Keys in sorted order, as BEP 3 requires: announce < announce-list < info.
        let mut out = b"d".to_vec();
        if let Some(first) = self.announce_tiers.first().and_then(|t| t.first()) {
            Owned::from("announce").encode_into(&mut out);
            Owned::from(first.as_str()).encode_into(&mut out);
        }
        if self.announce_tiers.iter().map(Vec::len).sum::<usize>() > 1 {
            Owned::from("announce-list").encode_into(&mut out);
            Owned::List(
                self.announce_tiers
                    .iter()
                    .map(|t| Owned::List(t.iter().map(|u| Owned::from(u.as_str())).collect()))
                    .collect(),
            )
            .encode_into(&mut out);
        }
        Owned::from("info").encode_into(&mut out);
        out.extend_from_slice(&self.info_bytes);
        // BEP 52 keeps the piece layers outside the info dict; a torrent without them could
        // not check a v2 file of more than one piece.
        if let Some(v2) = &self.info.v2 {
            let layers: std::collections::BTreeMap<Vec<u8>, Owned> = v2
                .files
                .iter()
                .filter(|f| !f.piece_layer().is_empty())
                .map(|f| (f.root.to_vec(), Owned::Bytes(f.piece_layer().concat())))
                .collect();
            if !layers.is_empty() {
                Owned::from("piece layers").encode_into(&mut out);
                Owned::Dict(layers).encode_into(&mut out);
            }
        }
        if !self.web_seeds.is_empty() {
            Owned::from("url-list").encode_into(&mut out);
            Owned::List(
                self.web_seeds
                    .iter()
                    .map(|u| Owned::from(u.as_str()))
                    .collect(),
            )
            .encode_into(&mut out);
        }
        out.push(b'e');
        out
    }
}

/// The first 20 bytes of a v2 info-hash: what the wire, trackers and the DHT carry.
pub fn truncate(h: &[u8; 32]) -> InfoHash {
    let mut t = [0u8; 20];
    t.copy_from_slice(&h[..20]);
    InfoHash(t)
}

/// (wire hash, v2 hash): the v1 SHA-1 unless the torrent is v2-only.
fn hashes(info: &Info, info_raw: &[u8]) -> (InfoHash, Option<[u8; 32]>) {
    let v2 = info.v2.as_ref().map(|_| merkle::sha256(info_raw));
    match (&v2, info.pieces.is_empty()) {
        (Some(h), true) => (truncate(h), v2),
        _ => (InfoHash(Sha1::digest(info_raw).into()), v2),
    }
}

impl Info {
    pub fn from_dict(d: &Dict<'_>) -> Result<Self, MetainfoError> {
        let name = d
            .get_bytes("name.utf-8")
            .or_else(|| d.get_bytes("name"))
            .ok_or_else(|| invalid("info has no 'name'"))?;
        let name = String::from_utf8_lossy(name).into_owned();
        if name.is_empty() {
            return Err(invalid("info 'name' is empty"));
        }
        let piece_length = d
            .get_int("piece length")
            .ok_or_else(|| invalid("info has no 'piece length'"))?;
        let piece_length = u64::try_from(piece_length)
            .ok()
            .filter(|&p| p > 0 && p <= MAX_PIECE_LENGTH)
            .ok_or_else(|| invalid(format!("bad 'piece length' {piece_length}")))?;
        let private = d.get_int("private") == Some(1);
        let tree = match d.get_int("meta version") {
            None | Some(1) => None,
            Some(2) => {
                let tree = d
                    .get_dict("file tree")
                    .ok_or_else(|| invalid("'meta version' 2 without a 'file tree'"))?;
                // v2 pieces are merkle subtrees of 16 KiB leaves.
                if !piece_length.is_power_of_two() || piece_length < merkle::BLOCK as u64 {
                    return Err(invalid(format!(
                        "v2 'piece length' {piece_length} is not a power of two of at least 16 KiB"
                    )));
                }
                Some(metainfo_v2::parse_tree(tree)?)
            }
            Some(v) => return Err(invalid(format!("unsupported 'meta version' {v}"))),
        };
        if let Some(tree) = &tree
            && d.get("pieces").is_none()
        {
            // v2-only: the layout is the tree's files, each aligned to a piece boundary.
            let files = metainfo_v2::layout(tree, piece_length)?;
            let v2 = metainfo_v2::build(tree, &files, piece_length, false)?;
            let total_length = files.last().map_or(0, |f| f.offset + f.length);
            let single_file = tree.len() == 1 && tree[0].path.len() == 1;
            // A tree of one top-level file is a single-file torrent whose file is named by
            // its key (as libtorrent reads it), whatever `name` says.
            let name = if single_file {
                tree[0].path[0].clone()
            } else {
                name
            };
            return Ok(Info {
                name,
                piece_length,
                pieces: Vec::new(),
                files,
                total_length,
                private,
                single_file,
                v2: Some(v2),
            });
        }
        let pieces_raw = d
            .get_bytes("pieces")
            .ok_or_else(|| invalid("info has no 'pieces'"))?;
        if pieces_raw.len() % 20 != 0 {
            return Err(invalid(format!(
                "'pieces' is {} bytes, not a multiple of 20",
                pieces_raw.len()
            )));
        }
        let pieces: Vec<[u8; 20]> = pieces_raw
            .chunks_exact(20)
            .map(|c| {
                let mut h = [0u8; 20];
                h.copy_from_slice(c);
                h
            })
            .collect();

        let (files, single_file) = match (d.get("length"), d.get_list("files")) {
            (Some(len), None) => {
                let length = len
                    .as_int()
                    .and_then(|l| u64::try_from(l).ok())
                    .ok_or_else(|| invalid("'length' is not a non-negative integer"))?;
                (
                    vec![FileEntry {
                        path: vec![name.clone()],
                        length,
                        offset: 0,
                        pad: false,
                    }],
                    true,
                )
            }
            (None, Some(list)) => (parse_files(list)?, false),
            (Some(_), Some(_)) => return Err(invalid("info has both 'length' and 'files'")),
            (None, None) => return Err(invalid("info has neither 'length' nor 'files'")),
        };
        let total_length = files.last().map(|f| f.offset + f.length).unwrap_or(0);
        let expected = total_length.div_ceil(piece_length);
        if expected != pieces.len() as u64 {
            return Err(invalid(format!(
                "{} piece hashes for {total_length} bytes in pieces of {piece_length} (expected {expected})",
                pieces.len()
            )));
        }
        // A hybrid: the v1 list (with its BEP 47 padding) must describe the same files.
        let v2 = match &tree {
            Some(tree) => Some(metainfo_v2::build(tree, &files, piece_length, true)?),
            None => None,
        };
        if let Some(v2) = &v2
            && v2.num_pieces != pieces.len()
        {
            return Err(invalid(format!(
                "v1 has {} pieces, v2 {}",
                pieces.len(),
                v2.num_pieces
            )));
        }
        Ok(Info {
            name,
            piece_length,
            pieces,
            files,
            total_length,
            private,
            single_file,
            v2,
        })
    }

    pub fn num_pieces(&self) -> usize {
        match &self.v2 {
            Some(v2) if self.pieces.is_empty() => v2.num_pieces,
            _ => self.pieces.len(),
        }
    }

    /// Whether `data` is piece `index`: its v1 SHA-1 and, for v2 and hybrid torrents, its
    /// merkle hash. A hybrid's data must satisfy both, so neither swarm can feed us bytes the
    /// other would refuse.
    pub fn verify_piece(&self, index: u32, data: &[u8]) -> bool {
        if data.len() as u64 != self.piece_size(index as usize) {
            return false;
        }
        if !self.pieces.is_empty() {
            let Some(expected) = self.pieces.get(index as usize) else {
                return false;
            };
            let got: [u8; 20] = Sha1::digest(data).into();
            if got != *expected {
                return false;
            }
        }
        match &self.v2 {
            Some(v2) => v2.verify(index, data, self.piece_length),
            None => true,
        }
    }

    pub fn is_v2(&self) -> bool {
        self.v2.is_some()
    }

    /// The files that exist on disk (BEP 47 padding left out), with their index in `files`:
    /// what users see and number.
    pub fn real_files(&self) -> impl Iterator<Item = (usize, &FileEntry)> {
        self.files.iter().enumerate().filter(|(_, f)| !f.pad)
    }

    /// Length of piece `index` (the last one may be short).
    pub fn piece_size(&self, index: usize) -> u64 {
        let start = index as u64 * self.piece_length;
        self.piece_length
            .min(self.total_length.saturating_sub(start))
    }
}

fn parse_files(list: &[Value<'_>]) -> Result<Vec<FileEntry>, MetainfoError> {
    if list.is_empty() {
        return Err(invalid("'files' is empty"));
    }
    let mut out = Vec::with_capacity(list.len());
    let mut offset: u64 = 0;
    for (i, f) in list.iter().enumerate() {
        let f = f
            .as_dict()
            .ok_or_else(|| invalid(format!("files[{i}] is not a dictionary")))?;
        let length = f
            .get_int("length")
            .and_then(|l| u64::try_from(l).ok())
            .ok_or_else(|| invalid(format!("files[{i}] has no valid 'length'")))?;
        let comps = f
            .get_list("path.utf-8")
            .or_else(|| f.get_list("path"))
            .ok_or_else(|| invalid(format!("files[{i}] has no 'path'")))?;
        let mut path = Vec::with_capacity(comps.len());
        for c in comps {
            let c = c
                .as_bytes()
                .ok_or_else(|| invalid(format!("files[{i}] path has a non-string component")))?;
            path.push(String::from_utf8_lossy(c).into_owned());
        }
        if path.is_empty() {
            return Err(invalid(format!("files[{i}] has an empty path")));
        }
        let pad = f.get_bytes("attr").is_some_and(|a| a.contains(&b'p'));
        out.push(FileEntry {
            path,
            length,
            offset,
            pad,
        });
        offset = offset
            .checked_add(length)
            .ok_or_else(|| invalid("total length overflows"))?;
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::bencode::Owned;

    fn torrent(info: Owned) -> Vec<u8> {
        Owned::dict()
            .with("announce", "http://127.0.0.1:6969/announce")
            .with("info", info)
            .encode()
    }

    #[test]
    fn single_file() {
        let info = Owned::dict()
            .with("name", "a.bin")
            .with("piece length", 16384i64)
            .with("length", 20000i64)
            .with("pieces", vec![7u8; 40]);
        let bytes = torrent(info.clone());
        let m = Metainfo::from_bytes(&bytes).expect("parses");
        assert_eq!(m.info.total_length, 20000);
        assert_eq!(m.info.piece_size(1), 20000 - 16384);
        assert!(m.info.single_file);
        assert_eq!(m.info_hash.0, <[u8; 20]>::from(Sha1::digest(info.encode())));
        assert_eq!(
            m.announce_tiers,
            vec![vec!["http://127.0.0.1:6969/announce"]]
        );
    }

    #[test]
    fn multi_file_offsets_and_tiers() {
        let files = Owned::List(vec![
            Owned::dict()
                .with("length", 5i64)
                .with("path", Owned::List(vec!["d".into(), "x".into()])),
            Owned::dict()
                .with("length", 0i64)
                .with("path", Owned::List(vec!["empty".into()])),
            Owned::dict()
                .with("length", 7i64)
                .with("path", Owned::List(vec!["y".into()])),
        ]);
        let info = Owned::dict()
            .with("name", "dir")
            .with("piece length", 8i64)
            .with("files", files)
            .with("private", 1i64)
            .with("pieces", vec![0u8; 40]);
        let bytes = Owned::dict()
            .with("info", info)
            .with(
                "announce-list",
                Owned::List(vec![
                    Owned::List(vec!["udp://a".into(), "http://b".into()]),
                    Owned::List(vec![]),
                    Owned::List(vec!["http://c".into()]),
                ]),
            )
            .encode();
        let m = Metainfo::from_bytes(&bytes).expect("parses");
        let offs: Vec<u64> = m.info.files.iter().map(|f| f.offset).collect();
        assert_eq!(offs, vec![0, 5, 5]);
        assert_eq!(m.info.total_length, 12);
        assert!(m.info.private);
        assert_eq!(m.announce_tiers.len(), 2);
    }

    #[test]
    fn torrent_bytes_round_trip_keeps_the_hash() {
        let info = Owned::dict()
            .with("name", "a.bin")
            .with("piece length", 16384i64)
            .with("length", 20000i64)
            .with("pieces", vec![7u8; 40]);
        let m = Metainfo::from_info_bytes(
            &info.encode(),
            InfoHash(Sha1::digest(info.encode()).into()),
            vec![
                vec!["http://a/announce".into(), "udp://b:1".into()],
                vec!["http://c".into()],
            ],
        )
        .expect("info");
        let again = Metainfo::from_bytes(&m.to_torrent_bytes()).expect("torrent");
        assert_eq!(again.info_hash, m.info_hash);
        assert_eq!(again.announce_tiers, m.announce_tiers);
        assert_eq!(again.info, m.info);
    }

    #[test]
    fn clear_errors() {
        let cases: Vec<(Owned, &str)> = vec![
            (
                Owned::dict()
                    .with("name", "a")
                    .with("piece length", 16384i64)
                    .with("length", 1i64)
                    .with("pieces", vec![0u8; 19]),
                "multiple of 20",
            ),
            (
                Owned::dict()
                    .with("name", "a")
                    .with("piece length", 0i64)
                    .with("length", 1i64)
                    .with("pieces", vec![0u8; 20]),
                "piece length",
            ),
            (
                Owned::dict()
                    .with("name", "a")
                    .with("piece length", 16384i64)
                    .with("length", 1i64)
                    .with("pieces", vec![0u8; 40]),
                "expected 1",
            ),
            (
                Owned::dict()
                    .with("piece length", 16384i64)
                    .with("length", 1i64)
                    .with("pieces", vec![0u8; 20]),
                "no 'name'",
            ),
        ];
        for (info, want) in cases {
            let err = Metainfo::from_bytes(&torrent(info))
                .expect_err("refused")
                .to_string();
            assert!(err.contains(want), "{err} lacks {want}");
        }
        assert!(Metainfo::from_bytes(b"le").is_err());
    }
}
