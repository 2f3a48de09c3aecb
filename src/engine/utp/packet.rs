//! The uTP packet (BEP 29): a 20-byte header, a chain of extensions, then payload.
//!
//! ```text
//! 0       4       8               16              24              32
//! +-------+-------+---------------+---------------+---------------+
//! | type  | ver   | extension     | connection_id                 |
//! +-------+-------+---------------+---------------+---------------+
//! | timestamp_microseconds                                        |
//! | timestamp_difference_microseconds                             |
//! | wnd_size                                                      |
//! | seq_nr                        | ack_nr                        |
//! +---------------+---------------+---------------+---------------+
//! ```
//!
//! Each extension is `next extension type, length, bytes`; type 1 is the selective ACK, a
//! bitmask (a multiple of 4 bytes) of the packets after `ack_nr + 1`: bit `i` (byte `i / 8`,
//! least significant bit first) says `ack_nr + 2 + i` arrived. Other extensions are skipped.

/// The header's length.
pub const HEADER_LEN: usize = 20;
/// The only protocol version.
pub const VERSION: u8 = 1;
/// The selective ACK extension's type.
pub const EXT_SACK: u8 = 1;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PacketType {
    Data = 0,
    Fin = 1,
    State = 2,
    Reset = 3,
    Syn = 4,
}

impl PacketType {
    fn from_nibble(n: u8) -> Option<PacketType> {
        Some(match n {
            0 => PacketType::Data,
            1 => PacketType::Fin,
            2 => PacketType::State,
            3 => PacketType::Reset,
            4 => PacketType::Syn,
            _ => return None,
        })
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PacketError {
    #[error("uTP packet of {0} bytes is shorter than its 20-byte header")]
    Short(usize),
    #[error("uTP packet of version {0} (expected 1)")]
    Version(u8),
    #[error("uTP packet of unknown type {0}")]
    Type(u8),
    #[error("uTP extension runs past the end of the packet")]
    Extension,
    #[error("uTP selective ACK of {0} bytes (a non-zero multiple of 4 expected)")]
    SackLength(usize),
}

/// The fixed header.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Header {
    pub kind: PacketType,
    pub conn_id: u16,
    pub timestamp: u32,
    pub timestamp_diff: u32,
    pub wnd_size: u32,
    pub seq_nr: u16,
    pub ack_nr: u16,
}

/// A parsed packet borrowing its payload.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Packet<'a> {
    pub header: Header,
    /// The selective ACK bitmask, when there is one.
    pub sack: Option<&'a [u8]>,
    pub payload: &'a [u8],
}

impl<'a> Packet<'a> {
    /// Parses one datagram. Unknown extensions are skipped; a second selective ACK is ignored.
    pub fn parse(buf: &'a [u8]) -> Result<Packet<'a>, PacketError> {
        if buf.len() < HEADER_LEN {
            return Err(PacketError::Short(buf.len()));
        }
        let ver = buf[0] & 0x0f;
        if ver != VERSION {
            return Err(PacketError::Version(ver));
        }
        let kind = PacketType::from_nibble(buf[0] >> 4).ok_or(PacketError::Type(buf[0] >> 4))?;
        let u16_at = |i: usize| u16::from_be_bytes([buf[i], buf[i + 1]]);
        let u32_at = |i: usize| u32::from_be_bytes([buf[i], buf[i + 1], buf[i + 2], buf[i + 3]]);
        let header = Header {
            kind,
            conn_id: u16_at(2),
            timestamp: u32_at(4),
            timestamp_diff: u32_at(8),
            wnd_size: u32_at(12),
            seq_nr: u16_at(16),
            ack_nr: u16_at(18),
        };
        let mut next = buf[1];
        let mut at = HEADER_LEN;
        let mut sack = None;
        while next != 0 {
            let (Some(&following), Some(&len)) = (buf.get(at), buf.get(at + 1)) else {
                return Err(PacketError::Extension);
            };
            let len = usize::from(len);
            let body = buf
                .get(at + 2..at + 2 + len)
                .ok_or(PacketError::Extension)?;
            if next == EXT_SACK && sack.is_none() {
                if len == 0 || len % 4 != 0 {
                    return Err(PacketError::SackLength(len));
                }
                sack = Some(body);
            }
            next = following;
            at += 2 + len;
        }
        Ok(Packet {
            header,
            sack,
            payload: &buf[at..],
        })
    }
}

impl Header {
    /// Appends the header, the selective ACK (if any) and the payload to `out`.
    pub fn encode(&self, sack: Option<&[u8]>, payload: &[u8], out: &mut Vec<u8>) {
        out.reserve(HEADER_LEN + sack.map_or(0, |s| s.len() + 2) + payload.len());
        out.push(((self.kind as u8) << 4) | VERSION);
        out.push(if sack.is_some() { EXT_SACK } else { 0 });
        out.extend_from_slice(&self.conn_id.to_be_bytes());
        out.extend_from_slice(&self.timestamp.to_be_bytes());
        out.extend_from_slice(&self.timestamp_diff.to_be_bytes());
        out.extend_from_slice(&self.wnd_size.to_be_bytes());
        out.extend_from_slice(&self.seq_nr.to_be_bytes());
        out.extend_from_slice(&self.ack_nr.to_be_bytes());
        if let Some(s) = sack {
            out.push(0);
            // Callers build masks of at most 32 bytes.
            out.push(u8::try_from(s.len()).unwrap_or(u8::MAX));
            out.extend_from_slice(&s[..s.len().min(usize::from(u8::MAX))]);
        }
        out.extend_from_slice(payload);
    }
}

/// The sequence numbers a selective ACK mask names, in order: bit `i` is `ack_nr + 2 + i`.
pub fn sack_seqs(ack_nr: u16, mask: &[u8]) -> impl Iterator<Item = u16> + '_ {
    mask.iter().enumerate().flat_map(move |(byte, bits)| {
        (0..8u16).filter_map(move |bit| {
            if bits & (1 << bit) != 0 {
                let i = u16::try_from(byte).unwrap_or(u16::MAX).wrapping_mul(8) + bit;
                Some(ack_nr.wrapping_add(2).wrapping_add(i))
            } else {
                None
            }
        })
    })
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
    use super::*;

    fn header(kind: PacketType) -> Header {
        Header {
            kind,
            conn_id: 0xbeef,
            timestamp: 0x0102_0304,
            timestamp_diff: 0x0506_0708,
            wnd_size: 1 << 20,
            seq_nr: 65535,
            ack_nr: 7,
        }
    }

    #[test]
    fn round_trip_with_sack_and_payload() {
        let mut out = Vec::new();
        header(PacketType::Data).encode(Some(&[0b101, 0, 0, 0x80]), b"hello", &mut out);
        assert_eq!(out.len(), 20 + 2 + 4 + 5);
        assert_eq!(out[0], 0x01);
        let p = Packet::parse(&out).unwrap();
        assert_eq!(p.header, header(PacketType::Data));
        assert_eq!(p.payload, b"hello");
        let acked: Vec<u16> = sack_seqs(7, p.sack.unwrap()).collect();
        assert_eq!(acked, vec![9, 11, 9 + 31]);
    }

    #[test]
    fn known_bytes() {
        // A SYN as libutp sends it: type 4, version 1, no extension.
        let mut syn = vec![0x41, 0, 0x12, 0x34];
        syn.extend([0; 12]);
        syn.extend([0, 1, 0, 0]);
        let p = Packet::parse(&syn).unwrap();
        assert_eq!(p.header.kind, PacketType::Syn);
        assert_eq!(p.header.conn_id, 0x1234);
        assert_eq!(p.header.seq_nr, 1);
        assert!(p.sack.is_none() && p.payload.is_empty());
    }

    #[test]
    fn bad_input_is_an_error() {
        assert_eq!(Packet::parse(&[0x01; 19]), Err(PacketError::Short(19)));
        let mut p = vec![0x02];
        p.extend([0; 19]);
        assert_eq!(Packet::parse(&p), Err(PacketError::Version(2)));
        p[0] = 0x51;
        assert_eq!(Packet::parse(&p), Err(PacketError::Type(5)));
        p[0] = 0x21;
        p[1] = 1; // a SACK that is not there
        assert_eq!(Packet::parse(&p), Err(PacketError::Extension));
        p.extend([0, 3, 1, 2, 3]);
        assert_eq!(Packet::parse(&p), Err(PacketError::SackLength(3)));
        // An unknown extension is skipped.
        p[1] = 9;
        assert_eq!(Packet::parse(&p).unwrap().payload, b"");
    }
}
