//! The peer wire protocol: BEP 3 handshake and messages, BEP 6 fast extension, BEP 10
//! extended messages, BEP 52 hash request / hashes / hash reject. Decoding never panics and refuses frames larger than [`MAX_FRAME`].

use bytes::{Buf, BufMut, Bytes, BytesMut};

use crate::engine::types::{InfoHash, PeerId};

pub const PROTOCOL: &[u8; 19] = b"BitTorrent protocol";
pub const HANDSHAKE_LEN: usize = 68;
/// Standard block size; every client requests 16 KiB blocks.
pub const BLOCK: u32 = 16 * 1024;
/// Largest request we serve (some clients ask for 32 KiB or more; none ask past this).
pub const MAX_REQUEST: u32 = 128 * 1024;
/// Largest frame accepted: a MAX_REQUEST piece, or a bitfield for 2 M pieces. Anything
/// larger is a hostile or broken peer.
pub const MAX_FRAME: usize = 256 * 1024 + 16;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Handshake {
    pub reserved: [u8; 8],
    pub info_hash: InfoHash,
    pub peer_id: PeerId,
}

impl Handshake {
    pub fn new(info_hash: InfoHash, peer_id: PeerId) -> Self {
        let mut reserved = [0u8; 8];
        reserved[5] |= 0x10; // BEP 10 extension protocol
        reserved[7] |= 0x04; // BEP 6 fast extension
        Handshake {
            reserved,
            info_hash,
            peer_id,
        }
    }

    pub fn with_dht(mut self) -> Self {
        self.reserved[7] |= 0x01;
        self
    }

    pub fn supports_extended(&self) -> bool {
        self.reserved[5] & 0x10 != 0
    }

    pub fn supports_fast(&self) -> bool {
        self.reserved[7] & 0x04 != 0
    }

    /// BEP 52: we speak v2 (hash messages) for this torrent.
    pub fn with_v2(mut self) -> Self {
        self.reserved[7] |= 0x10;
        self
    }

    pub fn supports_v2(&self) -> bool {
        self.reserved[7] & 0x10 != 0
    }

    pub fn supports_dht(&self) -> bool {
        self.reserved[7] & 0x01 != 0
    }

    pub fn encode(&self) -> [u8; HANDSHAKE_LEN] {
        let mut out = [0u8; HANDSHAKE_LEN];
        out[0] = 19;
        out[1..20].copy_from_slice(PROTOCOL);
        out[20..28].copy_from_slice(&self.reserved);
        out[28..48].copy_from_slice(&self.info_hash.0);
        out[48..68].copy_from_slice(&self.peer_id.0);
        out
    }

    pub fn decode(buf: &[u8; HANDSHAKE_LEN]) -> Result<Self, WireError> {
        if buf[0] != 19 || &buf[1..20] != PROTOCOL {
            return Err(WireError::BadHandshake);
        }
        let mut reserved = [0u8; 8];
        reserved.copy_from_slice(&buf[20..28]);
        let mut ih = [0u8; 20];
        ih.copy_from_slice(&buf[28..48]);
        let mut id = [0u8; 20];
        id.copy_from_slice(&buf[48..68]);
        Ok(Handshake {
            reserved,
            info_hash: InfoHash(ih),
            peer_id: PeerId(id),
        })
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct BlockRef {
    pub index: u32,
    pub begin: u32,
    pub length: u32,
}

/// BEP 52: a range of one file's merkle layer. `base_layer` 0 is the 16 KiB leaves;
/// `length` hashes from `index` (a power of two, aligned); `proof_layers` uncles above them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct HashRequest {
    pub pieces_root: [u8; 32],
    pub base_layer: u32,
    pub index: u32,
    pub length: u32,
    pub proof_layers: u32,
}

impl HashRequest {
    const LEN: usize = 48;

    fn put(&self, out: &mut BytesMut) {
        out.put_slice(&self.pieces_root);
        out.put_u32(self.base_layer);
        out.put_u32(self.index);
        out.put_u32(self.length);
        out.put_u32(self.proof_layers);
    }

    fn get(body: &mut BytesMut) -> Self {
        let mut pieces_root = [0u8; 32];
        body.copy_to_slice(&mut pieces_root);
        HashRequest {
            pieces_root,
            base_layer: body.get_u32(),
            index: body.get_u32(),
            length: body.get_u32(),
            proof_layers: body.get_u32(),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Message {
    KeepAlive,
    Choke,
    Unchoke,
    Interested,
    NotInterested,
    Have(u32),
    Bitfield(Bytes),
    Request(BlockRef),
    Piece {
        index: u32,
        begin: u32,
        data: Bytes,
    },
    Cancel(BlockRef),
    Port(u16),
    Suggest(u32),
    HaveAll,
    HaveNone,
    Reject(BlockRef),
    AllowedFast(u32),
    Extended {
        id: u8,
        payload: Bytes,
    },
    /// BEP 52, id 21.
    HashRequest(HashRequest),
    /// BEP 52, id 22: the requested hashes, then the uncles proving them.
    Hashes {
        req: HashRequest,
        hashes: Vec<[u8; 32]>,
    },
    /// BEP 52, id 23.
    HashReject(HashRequest),
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum WireError {
    #[error("not a BitTorrent handshake")]
    BadHandshake,
    #[error("frame of {0} bytes exceeds the {MAX_FRAME}-byte limit")]
    TooLarge(usize),
    #[error("message id {id} with a {len}-byte payload is malformed")]
    Malformed { id: u8, len: usize },
    #[error("unknown message id {0}")]
    UnknownId(u8),
}

impl Message {
    /// Appends the length-prefixed encoding of `self` to `out`.
    pub fn encode(&self, out: &mut BytesMut) {
        fn header(out: &mut BytesMut, len: usize, id: u8) {
            out.put_u32(u32::try_from(len + 1).unwrap_or(u32::MAX));
            out.put_u8(id);
        }
        fn block(out: &mut BytesMut, id: u8, b: &BlockRef) {
            header(out, 12, id);
            out.put_u32(b.index);
            out.put_u32(b.begin);
            out.put_u32(b.length);
        }
        match self {
            Message::KeepAlive => out.put_u32(0),
            Message::Choke => header(out, 0, 0),
            Message::Unchoke => header(out, 0, 1),
            Message::Interested => header(out, 0, 2),
            Message::NotInterested => header(out, 0, 3),
            Message::Have(i) => {
                header(out, 4, 4);
                out.put_u32(*i);
            }
            Message::Bitfield(b) => {
                header(out, b.len(), 5);
                out.put_slice(b);
            }
            Message::Request(b) => block(out, 6, b),
            Message::Piece { index, begin, data } => {
                header(out, 8 + data.len(), 7);
                out.put_u32(*index);
                out.put_u32(*begin);
                out.put_slice(data);
            }
            Message::Cancel(b) => block(out, 8, b),
            Message::Port(p) => {
                header(out, 2, 9);
                out.put_u16(*p);
            }
            Message::Suggest(i) => {
                header(out, 4, 0x0D);
                out.put_u32(*i);
            }
            Message::HaveAll => header(out, 0, 0x0E),
            Message::HaveNone => header(out, 0, 0x0F),
            Message::Reject(b) => block(out, 0x10, b),
            Message::AllowedFast(i) => {
                header(out, 4, 0x11);
                out.put_u32(*i);
            }
            Message::Extended { id, payload } => {
                header(out, 1 + payload.len(), 20);
                out.put_u8(*id);
                out.put_slice(payload);
            }
            Message::HashRequest(r) => {
                header(out, HashRequest::LEN, 21);
                r.put(out);
            }
            Message::Hashes { req, hashes } => {
                header(out, HashRequest::LEN + 32 * hashes.len(), 22);
                req.put(out);
                for h in hashes {
                    out.put_slice(h);
                }
            }
            Message::HashReject(r) => {
                header(out, HashRequest::LEN, 23);
                r.put(out);
            }
        }
    }

    /// Decodes one frame from the front of `buf` if it is complete, consuming it.
    /// `Ok(None)` means more bytes are needed.
    pub fn decode(buf: &mut BytesMut) -> Result<Option<Message>, WireError> {
        if buf.len() < 4 {
            return Ok(None);
        }
        let len = u32::from_be_bytes([buf[0], buf[1], buf[2], buf[3]]) as usize;
        if len > MAX_FRAME {
            return Err(WireError::TooLarge(len));
        }
        if buf.len() < 4 + len {
            buf.reserve(4 + len - buf.len());
            return Ok(None);
        }
        buf.advance(4);
        if len == 0 {
            return Ok(Some(Message::KeepAlive));
        }
        let mut body = buf.split_to(len);
        let id = body.get_u8();
        let plen = len - 1;
        let bad = || WireError::Malformed { id, len: plen };
        let need = |n: usize| if plen == n { Ok(()) } else { Err(bad()) };
        let msg = match id {
            0 => need(0).map(|_| Message::Choke)?,
            1 => need(0).map(|_| Message::Unchoke)?,
            2 => need(0).map(|_| Message::Interested)?,
            3 => need(0).map(|_| Message::NotInterested)?,
            4 => {
                need(4)?;
                Message::Have(body.get_u32())
            }
            5 => Message::Bitfield(body.freeze()),
            6 | 8 | 0x10 => {
                need(12)?;
                let b = BlockRef {
                    index: body.get_u32(),
                    begin: body.get_u32(),
                    length: body.get_u32(),
                };
                match id {
                    6 => Message::Request(b),
                    8 => Message::Cancel(b),
                    _ => Message::Reject(b),
                }
            }
            7 => {
                if plen < 8 {
                    return Err(bad());
                }
                let index = body.get_u32();
                let begin = body.get_u32();
                Message::Piece {
                    index,
                    begin,
                    data: body.freeze(),
                }
            }
            9 => {
                need(2)?;
                Message::Port(body.get_u16())
            }
            0x0D => {
                need(4)?;
                Message::Suggest(body.get_u32())
            }
            0x0E => need(0).map(|_| Message::HaveAll)?,
            0x0F => need(0).map(|_| Message::HaveNone)?,
            0x11 => {
                need(4)?;
                Message::AllowedFast(body.get_u32())
            }
            20 => {
                if plen < 1 {
                    return Err(bad());
                }
                let eid = body.get_u8();
                Message::Extended {
                    id: eid,
                    payload: body.freeze(),
                }
            }
            21 | 23 => {
                need(HashRequest::LEN)?;
                let r = HashRequest::get(&mut body);
                if id == 21 {
                    Message::HashRequest(r)
                } else {
                    Message::HashReject(r)
                }
            }
            22 => {
                if plen < HashRequest::LEN || !(plen - HashRequest::LEN).is_multiple_of(32) {
                    return Err(bad());
                }
                let req = HashRequest::get(&mut body);
                let hashes = body
                    .chunks_exact(32)
                    .map(|c| {
                        let mut h = [0u8; 32];
                        h.copy_from_slice(c);
                        h
                    })
                    .collect();
                Message::Hashes { req, hashes }
            }
            other => return Err(WireError::UnknownId(other)),
        };
        Ok(Some(msg))
    }
}

/// BEP 6 allowed-fast set: the `k` pieces a peer at `ip` may request while choked.
pub fn allowed_fast_set(
    k: usize,
    num_pieces: u32,
    info_hash: &InfoHash,
    ip: std::net::Ipv4Addr,
) -> Vec<u32> {
    use sha1::{Digest, Sha1};
    let mut out = Vec::with_capacity(k);
    if num_pieces == 0 {
        return out;
    }
    let k = k.min(num_pieces as usize);
    let masked = u32::from(ip) & 0xFFFF_FF00;
    let mut x = Vec::with_capacity(24);
    x.extend_from_slice(&masked.to_be_bytes());
    x.extend_from_slice(&info_hash.0);
    while out.len() < k {
        let digest: [u8; 20] = Sha1::digest(&x).into();
        x = digest.to_vec();
        for chunk in digest.chunks_exact(4) {
            if out.len() >= k {
                break;
            }
            let y = u32::from_be_bytes([chunk[0], chunk[1], chunk[2], chunk[3]]);
            let index = y % num_pieces;
            if !out.contains(&index) {
                out.push(index);
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn round_trip(m: Message) {
        let mut buf = BytesMut::new();
        m.encode(&mut buf);
        let got = Message::decode(&mut buf)
            .expect("decodes")
            .expect("complete");
        assert_eq!(got, m);
        assert!(buf.is_empty());
    }

    #[test]
    fn every_message_round_trips() {
        let b = BlockRef {
            index: 3,
            begin: 16384,
            length: 16384,
        };
        let hr = HashRequest {
            pieces_root: [7; 32],
            base_layer: 1,
            index: 4,
            length: 4,
            proof_layers: 3,
        };
        for m in [
            Message::KeepAlive,
            Message::Choke,
            Message::Unchoke,
            Message::Interested,
            Message::NotInterested,
            Message::Have(7),
            Message::Bitfield(Bytes::from_static(&[0xff, 0x80])),
            Message::Request(b),
            Message::Piece {
                index: 1,
                begin: 0,
                data: Bytes::from(vec![9u8; 100]),
            },
            Message::Cancel(b),
            Message::Port(6881),
            Message::Suggest(4),
            Message::HaveAll,
            Message::HaveNone,
            Message::Reject(b),
            Message::AllowedFast(2),
            Message::Extended {
                id: 0,
                payload: Bytes::from_static(b"de"),
            },
            Message::HashRequest(hr),
            Message::HashReject(hr),
            Message::Hashes {
                req: hr,
                hashes: vec![[3; 32], [4; 32]],
            },
            Message::Hashes {
                req: hr,
                hashes: Vec::new(),
            },
        ] {
            round_trip(m);
        }
    }

    #[test]
    fn partial_frames_wait_and_oversize_fails() {
        let mut buf = BytesMut::from(&[0u8, 0, 0, 5, 4, 0][..]);
        assert_eq!(Message::decode(&mut buf), Ok(None));
        let mut huge = BytesMut::from(&[0xffu8, 0xff, 0xff, 0xff][..]);
        assert!(matches!(
            Message::decode(&mut huge),
            Err(WireError::TooLarge(_))
        ));
        let mut bad = BytesMut::from(&[0u8, 0, 0, 2, 0, 1][..]);
        assert!(matches!(
            Message::decode(&mut bad),
            Err(WireError::Malformed { id: 0, .. })
        ));
    }

    #[test]
    fn hashes_must_be_whole_hashes() {
        // 48-byte request header plus 33 bytes: not a whole number of SHA-256 hashes.
        let mut raw = BytesMut::new();
        raw.put_u32(1 + 48 + 33);
        raw.put_u8(22);
        raw.put_slice(&[0u8; 81]);
        assert!(matches!(
            Message::decode(&mut raw),
            Err(WireError::Malformed { id: 22, .. })
        ));
        let mut short = BytesMut::new();
        short.put_u32(1 + 47);
        short.put_u8(21);
        short.put_slice(&[0u8; 47]);
        assert!(matches!(
            Message::decode(&mut short),
            Err(WireError::Malformed { id: 21, .. })
        ));
    }

    #[test]
    fn handshake_bits() {
        let h = Handshake::new(InfoHash([1; 20]), PeerId([2; 20]));
        let d = Handshake::decode(&h.encode()).expect("decodes");
        assert!(d.supports_extended() && d.supports_fast() && !d.supports_dht());
        assert!(!d.supports_v2());
        let v2 = Handshake::decode(&h.with_v2().encode()).expect("decodes");
        assert!(v2.supports_v2() && v2.reserved[7] & 0x10 != 0);
        let mut raw = h.encode();
        raw[0] = 18;
        assert!(Handshake::decode(&raw).is_err());
    }

    #[test]
    fn allowed_fast_matches_bep6_vector() {
        // BEP 6: 7 pieces of 1313 for 80.4.4.200 and an info-hash of 0xaa bytes.
        let set = allowed_fast_set(
            7,
            1313,
            &InfoHash([0xaa; 20]),
            std::net::Ipv4Addr::new(80, 4, 4, 200),
        );
        assert_eq!(set, vec![1059, 431, 808, 1217, 287, 376, 1188]);
    }

    proptest::proptest! {
        #[test]
        fn decode_never_panics(bytes in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..512)) {
            let mut buf = BytesMut::from(&bytes[..]);
            while let Ok(Some(_)) = Message::decode(&mut buf) {}
        }
    }
}
