//! Small value types shared across the engine.

use std::fmt;
use std::str::FromStr;

/// The SHA-1 of a torrent's bencoded info dict (BitTorrent v1).
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct InfoHash(pub [u8; 20]);

/// The 20-byte id a peer sends in its handshake.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct PeerId(pub [u8; 20]);

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("not a 40-character hex info-hash: {0:?}")]
pub struct ParseHashError(pub String);

impl InfoHash {
    pub fn to_hex(&self) -> String {
        hex(&self.0)
    }

    pub fn from_hex(s: &str) -> Result<Self, ParseHashError> {
        let err = || ParseHashError(s.to_string());
        if s.len() != 40 {
            return Err(err());
        }
        let mut out = [0u8; 20];
        for (i, chunk) in s.as_bytes().chunks(2).enumerate() {
            let hi = hex_val(chunk[0]).ok_or_else(err)?;
            let lo = hex_val(chunk[1]).ok_or_else(err)?;
            out[i] = hi << 4 | lo;
        }
        Ok(InfoHash(out))
    }
}

impl FromStr for InfoHash {
    type Err = ParseHashError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        InfoHash::from_hex(s)
    }
}

impl fmt::Display for InfoHash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.to_hex())
    }
}

impl fmt::Debug for InfoHash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "InfoHash({})", self.to_hex())
    }
}

impl PeerId {
    /// Azureus-style id: `-BT0100-` followed by 12 random bytes.
    pub fn generate() -> Self {
        let mut id = [0u8; 20];
        id[..8].copy_from_slice(CLIENT_PREFIX);
        let tail: [u8; 12] = rand::random();
        id[8..].copy_from_slice(&tail);
        PeerId(id)
    }

    /// A short human name for the client that made this id ("Transmission 3.00", "aria2 1.36.0").
    pub fn client_name(&self) -> String {
        client_name(&self.0)
    }
}

impl fmt::Debug for PeerId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "PeerId({})", String::from_utf8_lossy(&self.0).escape_debug())
    }
}

/// Our Azureus-style prefix: BT = bidtorrent, version 0.1.0.
pub const CLIENT_PREFIX: &[u8; 8] = b"-BT0100-";

pub fn hex(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut s = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        s.push(DIGITS[usize::from(b >> 4)] as char);
        s.push(DIGITS[usize::from(b & 15)] as char);
    }
    s
}

fn hex_val(c: u8) -> Option<u8> {
    match c {
        b'0'..=b'9' => Some(c - b'0'),
        b'a'..=b'f' => Some(c - b'a' + 10),
        b'A'..=b'F' => Some(c - b'A' + 10),
        _ => None,
    }
}

fn client_name(id: &[u8; 20]) -> String {
    if id[0] == b'-' && id[7] == b'-' {
        let code = &id[1..3];
        let ver = &id[3..7];
        let name = match code {
            b"TR" => "Transmission",
            b"qB" => "qBittorrent",
            b"lt" | b"LT" => "libtorrent",
            b"UT" => "uTorrent",
            b"DE" => "Deluge",
            b"AZ" => "Vuze",
            b"BT" => "bidtorrent",
            b"rQ" | b"RQ" => "rqbit",
            b"BI" => "BiglyBT",
            _ => "",
        };
        if !name.is_empty() {
            let v: String = ver
                .iter()
                .filter(|c| c.is_ascii_alphanumeric())
                .map(|&c| c as char)
                .collect();
            return format!("{name} {v}");
        }
    }
    if id.starts_with(b"A2-") {
        // aria2: A2-1-36-0-
        let tail: String = id[3..]
            .iter()
            .take_while(|c| c.is_ascii_digit() || **c == b'-')
            .map(|&c| if c == b'-' { '.' } else { c as char })
            .collect();
        return format!("aria2 {}", tail.trim_matches('.'));
    }
    if id[0] == b'M' || id[0] == b'T' {
        // Mainline style M7-4-3--
        let s: String = id[..8]
            .iter()
            .filter(|c| c.is_ascii_graphic())
            .map(|&c| c as char)
            .collect();
        return s;
    }
    let printable: String = id[..8]
        .iter()
        .map(|&c| if c.is_ascii_graphic() { c as char } else { '.' })
        .collect();
    printable
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hex_round_trip() {
        let h = InfoHash([0xab; 20]);
        assert_eq!(InfoHash::from_hex(&h.to_hex()), Ok(h));
        assert!(InfoHash::from_hex("zz").is_err());
        assert!(InfoHash::from_hex(&"g".repeat(40)).is_err());
    }

    #[test]
    fn names_clients() {
        assert_eq!(client_name(b"-TR3000-abcdefghijkl"), "Transmission 3000");
        assert_eq!(client_name(b"A2-1-36-0-abcdefghij"), "aria2 1.36.0");
        assert!(PeerId::generate().client_name().starts_with("bidtorrent"));
    }
}
