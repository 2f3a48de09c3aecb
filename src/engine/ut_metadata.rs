//! BEP 9 metadata exchange (`ut_metadata`): the message codec, and the extension that serves a
//! running torrent's info dict to peers that fetch it from a magnet link. Fetching lives in
//! [`crate::engine::metadata`], because it happens before a torrent exists.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use crate::bencode::{self, Owned};
use crate::engine::extension::{Extension, ExtensionFactory, PeerLink};
use crate::engine::torrent::{TorrentHandle, lock};

pub const NAME: &str = "ut_metadata";
/// BEP 9 pieces are 16 KiB; only the last one may be shorter.
pub const PIECE: usize = 16 * 1024;
/// Largest info dict we fetch or accept. A torrent with 1 M pieces has a 20 MB info dict, far
/// beyond anything real; refusing past 16 MiB stops a peer from making us buffer gigabytes.
pub const MAX_METADATA_SIZE: usize = 16 * 1024 * 1024;
/// Requests a peer may make per minute before we reject the rest: enough to fetch the largest
/// metadata a few times over, too few to turn us into a bandwidth amplifier.
const REQUESTS_PER_MINUTE: u32 = 4 * (MAX_METADATA_SIZE / PIECE) as u32;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MetadataMsg<'a> {
    Request {
        piece: u32,
    },
    Data {
        piece: u32,
        /// `total_size` as the peer states it (checked by the caller).
        total_size: u64,
        data: &'a [u8],
    },
    Reject {
        piece: u32,
    },
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum UtMetadataError {
    #[error("ut_metadata: not a bencoded dictionary")]
    NotDict,
    #[error("ut_metadata: missing or invalid {0}")]
    Field(&'static str),
    #[error("ut_metadata: unknown msg_type {0}")]
    UnknownType(i64),
    #[error("ut_metadata: data piece of {0} bytes exceeds 16 KiB")]
    PieceTooLarge(usize),
    #[error("ut_metadata: trailing bytes after a {0} message")]
    Trailing(&'static str),
}

impl<'a> MetadataMsg<'a> {
    /// Parses one ut_metadata payload (the bytes after the extended message id). Never panics.
    pub fn parse(payload: &'a [u8]) -> Result<Self, UtMetadataError> {
        let (v, used) = bencode::decode_prefix(payload).map_err(|_| UtMetadataError::NotDict)?;
        let d = v.as_dict().ok_or(UtMetadataError::NotDict)?;
        let msg_type = d
            .get_int("msg_type")
            .ok_or(UtMetadataError::Field("msg_type"))?;
        let piece = d
            .get_int("piece")
            .and_then(|p| u32::try_from(p).ok())
            .ok_or(UtMetadataError::Field("piece"))?;
        let rest = payload.get(used..).unwrap_or(&[]);
        match msg_type {
            0 | 2 if !rest.is_empty() => Err(UtMetadataError::Trailing(if msg_type == 0 {
                "request"
            } else {
                "reject"
            })),
            0 => Ok(MetadataMsg::Request { piece }),
            2 => Ok(MetadataMsg::Reject { piece }),
            1 => {
                let total_size = d
                    .get_int("total_size")
                    .and_then(|s| u64::try_from(s).ok())
                    .ok_or(UtMetadataError::Field("total_size"))?;
                if rest.len() > PIECE {
                    return Err(UtMetadataError::PieceTooLarge(rest.len()));
                }
                Ok(MetadataMsg::Data {
                    piece,
                    total_size,
                    data: rest,
                })
            }
            t => Err(UtMetadataError::UnknownType(t)),
        }
    }

    pub fn encode(&self) -> Vec<u8> {
        match self {
            MetadataMsg::Request { piece } => Owned::dict()
                .with("msg_type", 0u8)
                .with("piece", *piece)
                .encode(),
            MetadataMsg::Reject { piece } => Owned::dict()
                .with("msg_type", 2u8)
                .with("piece", *piece)
                .encode(),
            MetadataMsg::Data {
                piece,
                total_size,
                data,
            } => {
                let mut out = Owned::dict()
                    .with("msg_type", 1u8)
                    .with("piece", *piece)
                    .with("total_size", *total_size)
                    .encode();
                out.extend_from_slice(data);
                out
            }
        }
    }
}

/// Number of 16 KiB pieces for metadata of `size` bytes.
pub fn num_pieces(size: usize) -> usize {
    size.div_ceil(PIECE)
}

/// Serves `torrent.meta.info_bytes` to peers that ask (BEP 9). Off for private torrents, as in
/// libtorrent: a private torrent's info dict is handed out by its tracker's site, not the swarm.
#[derive(Default)]
pub struct UtMetadata {
    /// Per peer key: start of the current one-minute window and requests seen in it.
    windows: Mutex<HashMap<usize, (Instant, u32)>>,
}

impl UtMetadata {
    fn allow(&self, key: usize) -> bool {
        let mut w = lock(&self.windows);
        let now = Instant::now();
        let e = w.entry(key).or_insert((now, 0));
        if now.duration_since(e.0) >= Duration::from_secs(60) {
            *e = (now, 0);
        }
        e.1 += 1;
        e.1 <= REQUESTS_PER_MINUTE
    }
}

impl Extension for UtMetadata {
    fn name(&self) -> &'static str {
        NAME
    }

    fn handshake_fields(&self, torrent: &TorrentHandle, handshake: &mut Owned) {
        handshake.insert("metadata_size", torrent.meta().info_bytes.len());
    }

    fn on_message(&self, link: &PeerLink, payload: &[u8]) -> Result<(), String> {
        match MetadataMsg::parse(payload).map_err(|e| e.to_string())? {
            MetadataMsg::Request { piece } => {
                let info = &link.torrent().meta().info_bytes;
                let start = (piece as usize).saturating_mul(PIECE);
                let reply = if start < info.len() && self.allow(link.key()) {
                    let end = (start + PIECE).min(info.len());
                    MetadataMsg::Data {
                        piece,
                        total_size: info.len() as u64,
                        data: &info[start..end],
                    }
                } else {
                    MetadataMsg::Reject { piece }
                };
                link.send(NAME, reply.encode());
            }
            // We have the metadata already; unsolicited data or rejects are harmless.
            MetadataMsg::Data { .. } | MetadataMsg::Reject { .. } => {}
        }
        Ok(())
    }

    fn on_disconnect(&self, link: &PeerLink) {
        lock(&self.windows).remove(&link.key());
    }
}

pub struct UtMetadataFactory;

impl ExtensionFactory for UtMetadataFactory {
    fn create(&self, torrent: &TorrentHandle) -> Option<Arc<dyn Extension>> {
        if torrent.meta().info.private {
            return None;
        }
        Some(Arc::new(UtMetadata::default()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn round_trips() {
        for m in [
            MetadataMsg::Request { piece: 3 },
            MetadataMsg::Reject { piece: 0 },
            MetadataMsg::Data {
                piece: 1,
                total_size: 20000,
                data: b"abc",
            },
        ] {
            let b = m.encode();
            assert_eq!(MetadataMsg::parse(&b), Ok(m));
        }
    }

    #[test]
    fn refuses_malformed() {
        assert_eq!(
            MetadataMsg::parse(b"d8:msg_typei0ee"),
            Err(UtMetadataError::Field("piece"))
        );
        assert_eq!(
            MetadataMsg::parse(b"d8:msg_typei7e5:piecei0ee"),
            Err(UtMetadataError::UnknownType(7))
        );
        assert_eq!(
            MetadataMsg::parse(b"d8:msg_typei1e5:piecei0ee"),
            Err(UtMetadataError::Field("total_size"))
        );
        assert_eq!(
            MetadataMsg::parse(b"d8:msg_typei0e5:piecei-1ee"),
            Err(UtMetadataError::Field("piece"))
        );
        assert!(MetadataMsg::parse(b"").is_err());
        assert!(MetadataMsg::parse(b"i3e").is_err());
        let mut big = Owned::dict()
            .with("msg_type", 1u8)
            .with("piece", 0u8)
            .with("total_size", 99999u32)
            .encode();
        big.extend(std::iter::repeat_n(0u8, PIECE + 1));
        assert_eq!(
            MetadataMsg::parse(&big),
            Err(UtMetadataError::PieceTooLarge(PIECE + 1))
        );
    }

    proptest! {
        #[test]
        fn never_panics(b in proptest::collection::vec(any::<u8>(), 0..200)) {
            let _ = MetadataMsg::parse(&b);
        }
    }
}
