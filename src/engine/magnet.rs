//! Magnet links (BEP 9 "magnet URI format"; `x.pe` and `so` from BEP 9/53; BEP 52
//! `urn:btmh:1220…` v2 hashes, alone or beside `urn:btih` for hybrids).
//!
//! Parsing is strict about what decides *which* torrent and *which* files (xt, so), and
//! lenient about hints (an unparseable `x.pe` peer is skipped, unknown keys ignored), because
//! magnet links in the wild carry all sorts of extras and one odd hint should not make a
//! link unusable.

use std::fmt::Write as _;
use std::net::SocketAddr;
use std::ops::RangeInclusive;

use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, percent_decode_str, utf8_percent_encode};

use crate::engine::metainfo::Metainfo;
use crate::engine::types::InfoHash;

/// `so` indices at or above this are refused: no real torrent has a million files.
pub const MAX_FILE_INDEX: usize = 1 << 20;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Magnet {
    /// The hash the swarm uses: the btih, or for a v2-only link the btmh truncated to 20 bytes.
    pub info_hash: InfoHash,
    /// BEP 52 `urn:btmh:1220…`: the full SHA-256 v2 info-hash, checked against the fetched
    /// info dict.
    pub info_hash_v2: Option<[u8; 32]>,
    pub display_name: Option<String>,
    pub trackers: Vec<String>,
    /// `x.pe` peers given as IP:port or [IPv6]:port.
    pub peers: Vec<SocketAddr>,
    /// BEP 53 `so`, as inclusive ranges of file indices: sorted, disjoint, not adjacent.
    /// Ranges, not indices: `so=0-1048575` expanded to a million indices was 8 MiB for one
    /// link (issue 17).
    pub selected_files: Option<Vec<RangeInclusive<usize>>>,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MagnetError {
    #[error("not a magnet link")]
    NotMagnet,
    #[error("magnet: no xt parameter")]
    NoXt,
    #[error("magnet: xt is not urn:btih")]
    NotBtih,
    #[error("magnet: btmh is not a SHA-256 multihash (expected 1220 and 64 hex characters)")]
    BadBtmh,
    #[error("magnet: btih has {0} characters, expected 40 hex or 32 base32")]
    BtihLength(usize),
    #[error("magnet: btih is not valid {0}")]
    BtihChars(&'static str),
    #[error("magnet: so {0:?} is not a list of file indices and ranges")]
    BadSelect(String),
}

/// Whether file `index` is in a `so` selection.
pub fn is_selected(ranges: &[RangeInclusive<usize>], index: usize) -> bool {
    // Sorted and disjoint: the last range starting at or before `index` decides.
    let i = ranges.partition_point(|r| *r.start() <= index);
    i > 0 && ranges[i - 1].contains(&index)
}

/// How many files a `so` selection names.
pub fn selected_count(ranges: &[RangeInclusive<usize>]) -> usize {
    ranges.iter().map(|r| r.end() - r.start() + 1).sum()
}

impl Magnet {
    pub fn parse(s: &str) -> Result<Magnet, MagnetError> {
        let s = s.trim();
        let scheme_ok = s
            .get(..7)
            .is_some_and(|p| p.eq_ignore_ascii_case("magnet:"));
        if !scheme_ok {
            return Err(MagnetError::NotMagnet);
        }
        let query = s[7..].strip_prefix('?').ok_or(MagnetError::NotMagnet)?;
        // A fragment is not part of the query.
        let query = query.split('#').next().unwrap_or("");

        let mut info_hash = None;
        let mut info_hash_v2 = None;
        let mut first_xt_error = None;
        let mut display_name = None;
        let mut trackers: Vec<String> = Vec::new();
        let mut peers = Vec::new();
        let mut selected_files = None;
        for pair in query.split('&').filter(|p| !p.is_empty()) {
            let (key, value) = pair.split_once('=').unwrap_or((pair, ""));
            let key = key.to_ascii_lowercase();
            // BEP 9 allows numbered repeats (xt.1, tr.2) next to plain repeats.
            let base = match key.split_once('.') {
                Some((b, n)) if !n.is_empty() && n.bytes().all(|c| c.is_ascii_digit()) => b,
                _ => key.as_str(),
            };
            match base {
                "xt" => match parse_xt(&decode(value)) {
                    Ok(Xt::V1(h)) => {
                        info_hash.get_or_insert(h);
                    }
                    Ok(Xt::V2(h)) => {
                        info_hash_v2.get_or_insert(h);
                    }
                    Err(e) => {
                        first_xt_error.get_or_insert(e);
                    }
                },
                "dn" if display_name.is_none() => {
                    // Form-style '+' for space is common in dn, never meaningful otherwise.
                    let v = decode(&value.replace('+', " "));
                    if !v.is_empty() {
                        display_name = Some(v);
                    }
                }
                "tr" => {
                    let v = decode(value);
                    if !v.is_empty() && !trackers.contains(&v) {
                        trackers.push(v);
                    }
                }
                "x.pe" => {
                    if let Ok(addr) = decode(value).parse::<SocketAddr>() {
                        if !peers.contains(&addr) {
                            peers.push(addr);
                        }
                    } else {
                        tracing::debug!(peer = value, "magnet: skipping unparseable x.pe");
                    }
                }
                "so" => selected_files = Some(parse_select(&decode(value))?),
                _ => {}
            }
        }
        // A hybrid link names both: the v1 swarm is the one every client joins. A v2-only
        // link joins the swarm of the truncated v2 hash.
        let info_hash = match (info_hash, &info_hash_v2) {
            (Some(h), _) => h,
            (None, Some(v2)) => crate::engine::metainfo::truncate(v2),
            (None, None) => return Err(first_xt_error.unwrap_or(MagnetError::NoXt)),
        };
        Ok(Magnet {
            info_hash,
            info_hash_v2,
            display_name,
            trackers,
            peers,
            selected_files,
        })
    }

    pub fn to_uri(&self) -> String {
        let v2_only = self
            .info_hash_v2
            .as_ref()
            .is_some_and(|h| crate::engine::metainfo::truncate(h) == self.info_hash);
        let mut s = if v2_only {
            "magnet:?".to_string()
        } else {
            format!("magnet:?xt=urn:btih:{}&", self.info_hash.to_hex())
        };
        if let Some(h) = &self.info_hash_v2 {
            let _ = write!(s, "xt=urn:btmh:1220{}&", crate::engine::types::hex(h));
        }
        s.pop();
        if let Some(dn) = &self.display_name {
            let _ = write!(s, "&dn={}", utf8_percent_encode(dn, COMPONENT));
        }
        for tr in &self.trackers {
            let _ = write!(s, "&tr={}", utf8_percent_encode(tr, COMPONENT));
        }
        for pe in &self.peers {
            let _ = write!(s, "&x.pe={}", utf8_percent_encode(&pe.to_string(), PEER));
        }
        if let Some(files) = &self.selected_files
            && !files.is_empty()
        {
            let _ = write!(s, "&so={}", format_select(files));
        }
        s
    }
}

/// The magnet link for a torrent: its info-hash, name and every tracker.
pub fn magnet_for(m: &Metainfo) -> String {
    let mut trackers: Vec<String> = Vec::new();
    for url in m.announce_tiers.iter().flatten() {
        if !trackers.contains(url) {
            trackers.push(url.clone());
        }
    }
    Magnet {
        info_hash: m.info_hash,
        info_hash_v2: m.info_hash_v2,
        display_name: Some(m.info.name.clone()),
        trackers,
        peers: Vec::new(),
        selected_files: None,
    }
    .to_uri()
}

/// Everything but RFC 3986 unreserved characters is escaped, so values never clash with `&`,
/// `=`, `#` or `+` in the query.
const COMPONENT: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'.')
    .remove(b'_')
    .remove(b'~');

/// ':' and '[' ']' are safe in a query value; leaving them raw keeps peers readable. '%' (an
/// IPv6 scope id) is still escaped.
const PEER: &AsciiSet = &COMPONENT.remove(b':').remove(b'[').remove(b']');

fn decode(v: &str) -> String {
    percent_decode_str(v).decode_utf8_lossy().into_owned()
}

enum Xt {
    V1(InfoHash),
    V2([u8; 32]),
}

fn parse_xt(xt: &str) -> Result<Xt, MagnetError> {
    let lower = xt.to_ascii_lowercase();
    if let Some(mh) = lower.strip_prefix("urn:btmh:") {
        // Multihash: 0x12 = SHA2-256, 0x20 = 32 bytes, then the digest.
        let hex = mh.strip_prefix("1220").ok_or(MagnetError::BadBtmh)?;
        if hex.len() != 64 || !hex.bytes().all(|c| c.is_ascii_hexdigit()) {
            return Err(MagnetError::BadBtmh);
        }
        let mut out = [0u8; 32];
        for (i, pair) in hex.as_bytes().chunks(2).enumerate() {
            let s = std::str::from_utf8(pair).map_err(|_| MagnetError::BadBtmh)?;
            out[i] = u8::from_str_radix(s, 16).map_err(|_| MagnetError::BadBtmh)?;
        }
        return Ok(Xt::V2(out));
    }
    let Some(h) = lower.strip_prefix("urn:btih:") else {
        return Err(MagnetError::NotBtih);
    };
    match h.len() {
        40 => InfoHash::from_hex(h)
            .map(Xt::V1)
            .map_err(|_| MagnetError::BtihChars("hex")),
        32 => base32_decode(h)
            .map(|b| Xt::V1(InfoHash(b)))
            .ok_or(MagnetError::BtihChars("base32")),
        _ => Err(MagnetError::BtihLength(h.chars().count())),
    }
}

/// RFC 4648 base32 (A–Z, 2–7), case-insensitive, of exactly 32 characters = 160 bits.
fn base32_decode(s: &str) -> Option<[u8; 20]> {
    if s.len() != 32 {
        return None;
    }
    let mut out = [0u8; 20];
    let mut acc: u64 = 0;
    let mut bits = 0u32;
    let mut i = 0;
    for c in s.bytes() {
        let v = match c.to_ascii_uppercase() {
            c @ b'A'..=b'Z' => c - b'A',
            c @ b'2'..=b'7' => c - b'2' + 26,
            _ => return None,
        };
        acc = (acc << 5) | u64::from(v);
        bits += 5;
        if bits >= 8 {
            bits -= 8;
            out[i] = (acc >> bits) as u8;
            i += 1;
        }
    }
    // 32 × 5 = 160 bits = exactly 20 bytes, so nothing is left over.
    Some(out)
}

fn parse_select(s: &str) -> Result<Vec<RangeInclusive<usize>>, MagnetError> {
    let bad = || MagnetError::BadSelect(s.to_string());
    let num = |t: &str| -> Result<usize, MagnetError> {
        let t = t.trim();
        if t.is_empty() || !t.bytes().all(|b| b.is_ascii_digit()) {
            return Err(bad());
        }
        t.parse::<usize>()
            .ok()
            .filter(|&n| n < MAX_FILE_INDEX)
            .ok_or_else(bad)
    };
    let mut ranges = Vec::new();
    for part in s.split(',') {
        let (a, b) = match part.split_once('-') {
            Some((a, b)) => (num(a)?, num(b)?),
            None => {
                let n = num(part)?;
                (n, n)
            }
        };
        if a > b {
            return Err(bad());
        }
        ranges.push((a, b));
    }
    Ok(merge(ranges))
}

/// Sorts and merges overlapping or adjacent ranges: one canonical form, whatever the input
/// repeats, and never larger than the input.
fn merge(mut ranges: Vec<(usize, usize)>) -> Vec<RangeInclusive<usize>> {
    ranges.sort_unstable();
    let mut out: Vec<(usize, usize)> = Vec::with_capacity(ranges.len());
    for (a, b) in ranges {
        match out.last_mut() {
            Some(last) if a <= last.1.saturating_add(1) => last.1 = last.1.max(b),
            _ => out.push((a, b)),
        }
    }
    out.into_iter().map(|(a, b)| a..=b).collect()
}

/// Ranges back to the compact `0,2,4-6` form.
fn format_select(ranges: &[RangeInclusive<usize>]) -> String {
    let merged = merge(ranges.iter().map(|r| (*r.start(), *r.end())).collect());
    merged
        .iter()
        .map(|r| {
            if r.start() == r.end() {
                r.start().to_string()
            } else {
                format!("{}-{}", r.start(), r.end())
            }
        })
        .collect::<Vec<_>>()
        .join(",")
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    const HEX: &str = "c12fe1c06bba254a9dc9f519b335aa7c1367a88a";

    #[test]
    fn real_world_forms() {
        // Typical tracker-site link: hex hash, '+' in dn, several trackers.
        let m = Magnet::parse(
            "magnet:?xt=urn:btih:C12FE1C06BBA254A9DC9F519B335AA7C1367A88A&dn=Ubuntu+24.04%20desktop\
             &tr=udp%3A%2F%2Ftracker.opentrackr.org%3A1337%2Fannounce\
             &tr=http%3A%2F%2Ftracker.example%2Fannounce%3Fpasskey%3Da%2Bb",
        )
        .unwrap();
        assert_eq!(m.info_hash.to_hex(), HEX);
        assert_eq!(m.display_name.as_deref(), Some("Ubuntu 24.04 desktop"));
        assert_eq!(
            m.trackers,
            [
                "udp://tracker.opentrackr.org:1337/announce",
                "http://tracker.example/announce?passkey=a+b"
            ]
        );
        // Base32 form (older DHT-only links), lower case, numbered keys, extras ignored.
        let b32 = Magnet::parse(
            "MAGNET:?xt.1=urn:btih:yex6dqdlxisuvhoj6um3gnnkpqjwpkek&xl=1234&tr.1=http://t/a&ws=http://w/",
        )
        .unwrap();
        assert_eq!(b32.info_hash.to_hex(), HEX);
        assert_eq!(b32.trackers, ["http://t/a"]);
        // Hybrid v1+v2 link: the btih is the swarm, the btmh is kept to check the metadata.
        let hybrid = Magnet::parse(&format!(
            "magnet:?xt=urn:btmh:1220{}&xt=urn:btih:{HEX}",
            "ab".repeat(32)
        ))
        .unwrap();
        assert_eq!(hybrid.info_hash.to_hex(), HEX);
        assert_eq!(hybrid.info_hash_v2, Some([0xab; 32]));
        assert_eq!(Magnet::parse(&hybrid.to_uri()).unwrap(), hybrid);
        // v2-only: the truncated v2 hash is the swarm's.
        let v2 = Magnet::parse(&format!("magnet:?xt=urn:btmh:1220{}", "cd".repeat(32))).unwrap();
        assert_eq!(v2.info_hash.0, [0xcd; 20]);
        assert!(!v2.to_uri().contains("btih"), "{}", v2.to_uri());
        assert_eq!(Magnet::parse(&v2.to_uri()).unwrap(), v2);
        // Peers and file selection.
        let p = Magnet::parse(&format!(
            "magnet:?xt=urn:btih:{HEX}&x.pe=10.0.0.1:6881&x.pe=%5B2001:db8::1%5D:51413&x.pe=host.example:1&so=0,2,4-6,2"
        ))
        .unwrap();
        assert_eq!(
            p.peers,
            [
                "10.0.0.1:6881".parse::<SocketAddr>().unwrap(),
                "[2001:db8::1]:51413".parse().unwrap()
            ]
        );
        assert_eq!(p.selected_files, Some(vec![0..=0, 2..=2, 4..=6]));
    }

    #[test]
    fn base32_matches_rfc4648() {
        // RFC 4648 test vector "foobar" padded is MZXW6YTBOI======; use a full 20-byte value.
        let bytes: [u8; 20] = *b"12345678901234567890";
        // Computed with Python: base64.b32encode(b"12345678901234567890")
        assert_eq!(
            base32_decode("GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ"),
            Some(bytes)
        );
        assert_eq!(
            base32_decode("gezdgnbvgy3tqojqgezdgnbvgy3tqojq"),
            Some(bytes)
        );
        assert_eq!(base32_decode("GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJ1"), None);
    }

    #[test]
    fn clear_errors() {
        let cases: &[(&str, &str)] = &[
            ("http://example.com", "not a magnet link"),
            ("magnet:", "not a magnet link"),
            ("", "not a magnet link"),
            ("magnet:?dn=x", "no xt"),
            ("magnet:?xt=urn:sha1:abc", "xt is not urn:btih"),
            (
                "magnet:?xt=urn:btih:c12fe1c06bba254a9dc9f519b335aa7c1367a88",
                "btih has 39 characters, expected 40 hex or 32 base32",
            ),
            (
                "magnet:?xt=urn:btih:z12fe1c06bba254a9dc9f519b335aa7c1367a88a",
                "not valid hex",
            ),
            (
                "magnet:?xt=urn:btih:1exodqdlxisuvhoj6um3gnnkpqjwpkek",
                "not valid base32",
            ),
            ("magnet:?xt=urn:btmh:1220abcd", "btmh"),
            ("magnet:?xt=urn:btmh:1114", "multihash"),
            (
                format!("magnet:?xt=urn:btmh:1220+{}", "a".repeat(63)).leak(),
                "btmh",
            ),
        ];
        for (input, want) in cases {
            let e = Magnet::parse(input).unwrap_err().to_string();
            assert!(e.contains(want), "{input}: {e}");
        }
        for so in ["x", "1-", "5-2", "1,,2", "0-99999999999"] {
            let e = Magnet::parse(&format!("magnet:?xt=urn:btih:{HEX}&so={so}")).unwrap_err();
            assert!(matches!(e, MagnetError::BadSelect(_)), "{so}: {e}");
        }
    }

    #[test]
    fn uri_round_trip_and_for_metainfo() {
        let m = Magnet {
            info_hash: InfoHash::from_hex(HEX).unwrap(),
            info_hash_v2: None,
            display_name: Some("a & b = c#d+e ü".into()),
            trackers: vec!["udp://t:1/announce".into(), "http://x/a?k=v&w=z".into()],
            peers: vec!["[::1]:80".parse().unwrap(), "1.2.3.4:5".parse().unwrap()],
            selected_files: Some(vec![0..=2, 5..=5, 7..=8]),
        };
        let uri = m.to_uri();
        assert!(uri.contains("&so=0-2,5,7-8"), "{uri}");
        assert!(uri.contains("&x.pe=[::1]:80&"), "{uri}");
        assert_eq!(Magnet::parse(&uri).unwrap(), m);

        let info = crate::bencode::Owned::dict()
            .with("name", "n x")
            .with("piece length", 16384i64)
            .with("length", 1i64)
            .with("pieces", vec![0u8; 20]);
        let t = crate::bencode::Owned::dict()
            .with("announce", "http://a/")
            .with("info", info)
            .encode();
        let meta = Metainfo::from_bytes(&t).unwrap();
        let link = magnet_for(&meta);
        let back = Magnet::parse(&link).unwrap();
        assert_eq!(back.info_hash, meta.info_hash);
        assert_eq!(back.display_name.as_deref(), Some("n x"));
        assert_eq!(back.trackers, ["http://a/"]);
    }

    #[test]
    fn select_ranges_merge_cheaply() {
        let many = vec!["0-1048575"; 500].join(",");
        let m = Magnet::parse(&format!("magnet:?xt=urn:btih:{HEX}&so={many},3,2-4")).unwrap();
        let so = m.selected_files.unwrap();
        // One range held, not a million indices (issue 17: 8 MiB for one link).
        assert_eq!(so, vec![0..=MAX_FILE_INDEX - 1]);
        assert_eq!(selected_count(&so), MAX_FILE_INDEX);
        assert!(is_selected(&so, 12345) && !is_selected(&so, MAX_FILE_INDEX));
        let m = Magnet::parse(&format!("magnet:?xt=urn:btih:{HEX}&so=5-7,1,6-9,1,10")).unwrap();
        let so = m.selected_files.unwrap();
        assert_eq!(so, vec![1..=1, 5..=10]);
        assert!(!is_selected(&so, 0) && is_selected(&so, 1) && !is_selected(&so, 4));
        assert!(is_selected(&so, 10) && !is_selected(&so, 11));
    }

    #[test]
    fn scoped_ipv6_peer_round_trips() {
        let Ok(addr) = "[fe80::1%37]:80".parse::<SocketAddr>() else {
            return; // this std does not parse scope ids; nothing to round-trip
        };
        let m = Magnet {
            info_hash: InfoHash([1; 20]),
            info_hash_v2: None,
            display_name: None,
            trackers: vec![],
            peers: vec![addr],
            selected_files: None,
        };
        assert_eq!(Magnet::parse(&m.to_uri()).unwrap(), m);
    }

    proptest! {
        #[test]
        fn parse_never_panics(s in ".{0,200}") {
            let _ = Magnet::parse(&s);
            let _ = Magnet::parse(&format!("magnet:?{s}"));
            let _ = Magnet::parse(&format!("magnet:?xt=urn:btih:{HEX}&{s}"));
        }

        #[test]
        fn to_uri_round_trips(
            hash in any::<[u8; 20]>(),
            dn in proptest::option::of("\\PC{1,30}"),
            trackers in proptest::collection::vec("[a-z]{1,8}://[a-z0-9.]{1,10}(/[ -~]{0,10})?", 0..4),
            so in proptest::option::of(proptest::collection::btree_set(0usize..100, 1..10)),
        ) {
            let mut tr = Vec::new();
            for t in trackers { if !tr.contains(&t) { tr.push(t); } }
            let m = Magnet {
                info_hash: InfoHash(hash),
                info_hash_v2: None,
                display_name: dn,
                trackers: tr,
                peers: vec![],
                selected_files: so.map(|s| merge(s.into_iter().map(|i| (i, i)).collect())),
            };
            prop_assert_eq!(Magnet::parse(&m.to_uri()).unwrap(), m);
        }
    }
}
