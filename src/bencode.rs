//! Bencode (BEP 3) decoding and encoding.
//!
//! Written here rather than taken from a crate: of the crates evaluated
//! (research/engine-crates.md §3) one panics on crafted input in release builds, one in debug
//! builds, one hashes non-canonical info dicts wrongly and one refuses them. A torrent's
//! info-hash must be the SHA-1 of the bytes exactly as received, and every parser of outside
//! input must never panic, so the decoder keeps the raw span of every value and bounds depth,
//! lengths and integer sizes.

use std::collections::BTreeMap;
use std::fmt;

/// Nesting deeper than this is refused: real torrents and peer messages use a handful.
pub const MAX_DEPTH: usize = 64;

/// A decoded bencode value borrowing from the input buffer.
#[derive(Clone, PartialEq, Eq)]
pub enum Value<'a> {
    Int(i64),
    Bytes(&'a [u8]),
    List(Vec<Value<'a>>),
    /// Keys in input order; duplicates are refused at decode time.
    Dict(Dict<'a>),
}

/// A dictionary that remembers the raw bytes of each value, so the info dict can be hashed
/// exactly as it arrived.
#[derive(Clone, PartialEq, Eq, Default)]
pub struct Dict<'a> {
    entries: Vec<(&'a [u8], Value<'a>, &'a [u8])>,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DecodeError {
    #[error("bencode: unexpected end of input at byte {0}")]
    Eof(usize),
    #[error("bencode: unexpected byte {byte:#04x} at byte {pos}")]
    Unexpected { byte: u8, pos: usize },
    #[error("bencode: malformed integer at byte {0}")]
    BadInt(usize),
    #[error("bencode: malformed string length at byte {0}")]
    BadLength(usize),
    #[error("bencode: nesting deeper than {MAX_DEPTH} at byte {0}")]
    TooDeep(usize),
    #[error("bencode: dictionary key is not a string at byte {0}")]
    KeyNotString(usize),
    #[error("bencode: duplicate dictionary key {key:?} at byte {pos}")]
    DuplicateKey { key: String, pos: usize },
    #[error("bencode: {0} trailing bytes after the value")]
    Trailing(usize),
}

impl<'a> Dict<'a> {
    pub fn get(&self, key: &str) -> Option<&Value<'a>> {
        self.entries
            .iter()
            .find(|(k, _, _)| *k == key.as_bytes())
            .map(|(_, v, _)| v)
    }

    /// The raw encoded bytes of the value under `key`, exactly as they appeared in the input.
    pub fn raw(&self, key: &str) -> Option<&'a [u8]> {
        self.entries
            .iter()
            .find(|(k, _, _)| *k == key.as_bytes())
            .map(|(_, _, raw)| *raw)
    }

    pub fn iter(&self) -> impl Iterator<Item = (&'a [u8], &Value<'a>)> {
        self.entries.iter().map(|(k, v, _)| (*k, v))
    }

    pub fn len(&self) -> usize {
        self.entries.len()
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    pub fn get_int(&self, key: &str) -> Option<i64> {
        self.get(key).and_then(Value::as_int)
    }

    pub fn get_bytes(&self, key: &str) -> Option<&'a [u8]> {
        self.get(key).and_then(Value::as_bytes)
    }

    pub fn get_str(&self, key: &str) -> Option<&'a str> {
        self.get_bytes(key)
            .and_then(|b| std::str::from_utf8(b).ok())
    }

    pub fn get_dict(&self, key: &str) -> Option<&Dict<'a>> {
        self.get(key).and_then(Value::as_dict)
    }

    pub fn get_list(&self, key: &str) -> Option<&[Value<'a>]> {
        self.get(key).and_then(Value::as_list)
    }
}

impl<'a> Value<'a> {
    pub fn as_int(&self) -> Option<i64> {
        match self {
            Value::Int(i) => Some(*i),
            _ => None,
        }
    }
    pub fn as_bytes(&self) -> Option<&'a [u8]> {
        match self {
            Value::Bytes(b) => Some(b),
            _ => None,
        }
    }
    pub fn as_str(&self) -> Option<&'a str> {
        self.as_bytes().and_then(|b| std::str::from_utf8(b).ok())
    }
    pub fn as_list(&self) -> Option<&[Value<'a>]> {
        match self {
            Value::List(l) => Some(l),
            _ => None,
        }
    }
    pub fn as_dict(&self) -> Option<&Dict<'a>> {
        match self {
            Value::Dict(d) => Some(d),
            _ => None,
        }
    }
}

impl fmt::Debug for Value<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Value::Int(i) => write!(f, "{i}"),
            Value::Bytes(b) => match std::str::from_utf8(b) {
                Ok(s) => write!(f, "{s:?}"),
                Err(_) => write!(f, "<{} bytes>", b.len()),
            },
            Value::List(l) => f.debug_list().entries(l).finish(),
            Value::Dict(d) => d.fmt(f),
        }
    }
}

impl fmt::Debug for Dict<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_map()
            .entries(
                self.entries
                    .iter()
                    .map(|(k, v, _)| (String::from_utf8_lossy(k), v)),
            )
            .finish()
    }
}

/// Decode exactly one value spanning the whole input.
pub fn decode(input: &[u8]) -> Result<Value<'_>, DecodeError> {
    let (v, used) = decode_prefix(input)?;
    if used != input.len() {
        return Err(DecodeError::Trailing(input.len() - used));
    }
    Ok(v)
}

/// Decode one value from the start of the input; returns it and the bytes consumed.
/// ut_metadata messages carry raw bytes after a bencoded dict, hence the prefix form.
pub fn decode_prefix(input: &[u8]) -> Result<(Value<'_>, usize), DecodeError> {
    let mut d = Decoder { buf: input, pos: 0 };
    let v = d.value(0)?;
    Ok((v, d.pos))
}

struct Decoder<'a> {
    buf: &'a [u8],
    pos: usize,
}

impl<'a> Decoder<'a> {
    fn peek(&self) -> Result<u8, DecodeError> {
        self.buf
            .get(self.pos)
            .copied()
            .ok_or(DecodeError::Eof(self.pos))
    }

    fn value(&mut self, depth: usize) -> Result<Value<'a>, DecodeError> {
        if depth > MAX_DEPTH {
            return Err(DecodeError::TooDeep(self.pos));
        }
        match self.peek()? {
            b'i' => {
                self.pos += 1;
                let v = self.int_until(b'e')?;
                Ok(Value::Int(v))
            }
            b'0'..=b'9' => Ok(Value::Bytes(self.bytes()?)),
            b'l' => {
                self.pos += 1;
                let mut items = Vec::new();
                while self.peek()? != b'e' {
                    items.push(self.value(depth + 1)?);
                }
                self.pos += 1;
                Ok(Value::List(items))
            }
            b'd' => {
                self.pos += 1;
                let mut entries: Vec<(&'a [u8], Value<'a>, &'a [u8])> = Vec::new();
                let mut seen = DuplicateCheck::Sorted;
                while self.peek()? != b'e' {
                    let key_pos = self.pos;
                    if !self.peek()?.is_ascii_digit() {
                        return Err(DecodeError::KeyNotString(key_pos));
                    }
                    let key = self.bytes()?;
                    if seen.is_duplicate(&entries, key) {
                        return Err(DecodeError::DuplicateKey {
                            key: String::from_utf8_lossy(key).into_owned(),
                            pos: key_pos,
                        });
                    }
                    let start = self.pos;
                    let v = self.value(depth + 1)?;
                    entries.push((key, v, &self.buf[start..self.pos]));
                }
                self.pos += 1;
                Ok(Value::Dict(Dict { entries }))
            }
            byte => Err(DecodeError::Unexpected {
                byte,
                pos: self.pos,
            }),
        }
    }

    /// Parses a decimal integer terminated by `end`, refusing leading zeros, `-0` and overflow.
    fn int_until(&mut self, end: u8) -> Result<i64, DecodeError> {
        let start = self.pos;
        let rest = &self.buf[start..];
        let len = rest
            .iter()
            .position(|&b| b == end)
            .ok_or(DecodeError::Eof(self.buf.len()))?;
        let digits = &rest[..len];
        let (neg, body) = match digits.split_first() {
            Some((b'-', body)) => (true, body),
            _ => (false, digits),
        };
        let valid = !body.is_empty()
            && body.iter().all(u8::is_ascii_digit)
            && (body.len() == 1 || body[0] != b'0')
            && (!neg || body != b"0");
        if !valid {
            return Err(DecodeError::BadInt(start));
        }
        let mut v: i64 = 0;
        for &b in body {
            v = v
                .checked_mul(10)
                .and_then(|v| {
                    let d = i64::from(b - b'0');
                    if neg {
                        v.checked_sub(d)
                    } else {
                        v.checked_add(d)
                    }
                })
                .ok_or(DecodeError::BadInt(start))?;
        }
        self.pos = start + len + 1;
        Ok(v)
    }

    fn bytes(&mut self) -> Result<&'a [u8], DecodeError> {
        let start = self.pos;
        let len = self
            .int_until(b':')
            .map_err(|_| DecodeError::BadLength(start))?;
        let len = usize::try_from(len).map_err(|_| DecodeError::BadLength(start))?;
        let end = self
            .pos
            .checked_add(len)
            .filter(|&e| e <= self.buf.len())
            .ok_or(DecodeError::Eof(self.buf.len()))?;
        let s = &self.buf[self.pos..end];
        self.pos = end;
        Ok(s)
    }
}

/// How a dictionary's keys are checked for duplicates, in O(1) per key either way: scanning
/// every earlier key made one 256 KiB dictionary from a peer cost about a CPU-second.
enum DuplicateCheck<'a> {
    /// Every key so far was greater than the one before (BEP 3 order), so a duplicate can
    /// only be a key not greater than the last one.
    Sorted,
    /// Keys arrived out of order. Real clients do send such dicts and we accept them (their
    /// raw bytes are kept, so an info-hash is still right), so from here on every key goes
    /// into a set. std's hasher is keyed at random, so crafted keys cannot make it collide.
    Unsorted(std::collections::HashSet<&'a [u8]>),
}

impl<'a> DuplicateCheck<'a> {
    /// Whether `key` repeats one of `entries` (the keys read so far, in input order).
    fn is_duplicate(&mut self, entries: &[(&'a [u8], Value<'a>, &'a [u8])], key: &'a [u8]) -> bool {
        match self {
            DuplicateCheck::Sorted => match entries.last() {
                None => false,
                Some((last, _, _)) if key > *last => false,
                Some(_) => {
                    // First key out of order: the set is built once from the keys so far,
                    // which are unique (they were sorted).
                    let mut set: std::collections::HashSet<&'a [u8]> =
                        entries.iter().map(|(k, _, _)| *k).collect();
                    let dup = !set.insert(key);
                    *self = DuplicateCheck::Unsorted(set);
                    dup
                }
            },
            DuplicateCheck::Unsorted(set) => !set.insert(key),
        }
    }
}

/// An owned value for building messages; dictionaries are sorted by key on encode, as BEP 3
/// requires.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Owned {
    Int(i64),
    Bytes(Vec<u8>),
    List(Vec<Owned>),
    Dict(BTreeMap<Vec<u8>, Owned>),
}

impl Owned {
    pub fn dict() -> Self {
        Owned::Dict(BTreeMap::new())
    }

    /// Adds `key` to a dict (no effect on other variants); returns self for chaining.
    pub fn with(mut self, key: &str, value: impl Into<Owned>) -> Self {
        if let Owned::Dict(map) = &mut self {
            map.insert(key.as_bytes().to_vec(), value.into());
        }
        self
    }

    pub fn insert(&mut self, key: &str, value: impl Into<Owned>) {
        if let Owned::Dict(map) = self {
            map.insert(key.as_bytes().to_vec(), value.into());
        }
    }

    pub fn encode(&self) -> Vec<u8> {
        let mut out = Vec::new();
        self.encode_into(&mut out);
        out
    }

    pub fn encode_into(&self, out: &mut Vec<u8>) {
        match self {
            Owned::Int(i) => {
                out.push(b'i');
                out.extend_from_slice(i.to_string().as_bytes());
                out.push(b'e');
            }
            Owned::Bytes(b) => encode_bytes(b, out),
            Owned::List(l) => {
                out.push(b'l');
                for v in l {
                    v.encode_into(out);
                }
                out.push(b'e');
            }
            Owned::Dict(m) => {
                out.push(b'd');
                for (k, v) in m {
                    encode_bytes(k, out);
                    v.encode_into(out);
                }
                out.push(b'e');
            }
        }
    }
}

fn encode_bytes(b: &[u8], out: &mut Vec<u8>) {
    out.extend_from_slice(b.len().to_string().as_bytes());
    out.push(b':');
    out.extend_from_slice(b);
}

impl From<&Value<'_>> for Owned {
    fn from(v: &Value<'_>) -> Self {
        match v {
            Value::Int(i) => Owned::Int(*i),
            Value::Bytes(b) => Owned::Bytes(b.to_vec()),
            Value::List(l) => Owned::List(l.iter().map(Owned::from).collect()),
            Value::Dict(d) => Owned::Dict(d.iter().map(|(k, v)| (k.to_vec(), v.into())).collect()),
        }
    }
}

impl From<i64> for Owned {
    fn from(v: i64) -> Self {
        Owned::Int(v)
    }
}
impl From<u64> for Owned {
    fn from(v: u64) -> Self {
        Owned::Int(i64::try_from(v).unwrap_or(i64::MAX))
    }
}
impl From<u32> for Owned {
    fn from(v: u32) -> Self {
        Owned::Int(i64::from(v))
    }
}
impl From<u16> for Owned {
    fn from(v: u16) -> Self {
        Owned::Int(i64::from(v))
    }
}
impl From<u8> for Owned {
    fn from(v: u8) -> Self {
        Owned::Int(i64::from(v))
    }
}
impl From<usize> for Owned {
    fn from(v: usize) -> Self {
        Owned::Int(i64::try_from(v).unwrap_or(i64::MAX))
    }
}
impl From<&str> for Owned {
    fn from(v: &str) -> Self {
        Owned::Bytes(v.as_bytes().to_vec())
    }
}
impl From<String> for Owned {
    fn from(v: String) -> Self {
        Owned::Bytes(v.into_bytes())
    }
}
impl From<&[u8]> for Owned {
    fn from(v: &[u8]) -> Self {
        Owned::Bytes(v.to_vec())
    }
}
impl From<Vec<u8>> for Owned {
    fn from(v: Vec<u8>) -> Self {
        Owned::Bytes(v)
    }
}
impl From<Vec<Owned>> for Owned {
    fn from(v: Vec<Owned>) -> Self {
        Owned::List(v)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_nested() {
        let v = Owned::dict()
            .with("b", Owned::List(vec![1i64.into(), "x".into()]))
            .with("a", -42i64);
        let enc = v.encode();
        assert_eq!(enc, b"d1:ai-42e1:bli1e1:xee");
        let dec = decode(&enc).expect("decodes");
        assert_eq!(Owned::from(&dec), v);
    }

    #[test]
    fn raw_span_is_exact_for_unsorted_dict() {
        // keys out of order: the raw bytes must be kept as they are, not re-sorted
        let input = b"d4:infod1:zi1e1:ai2ee3:fooi0ee";
        let v = decode(input).expect("decodes");
        let d = v.as_dict().expect("dict");
        assert_eq!(d.raw("info"), Some(&b"d1:zi1e1:ai2ee"[..]));
        assert_eq!(d.get_int("foo"), Some(0));
    }

    #[test]
    fn refuses_malformed() {
        for bad in [
            &b"i01e"[..],
            b"i-0e",
            b"ie",
            b"i-e",
            b"i99999999999999999999e",
            b"5:abc",
            b"18446744073709551616:x",
            b"d1:ai1e1:ai2ee",
            b"di1ei2ee",
            b"l",
            b"x",
            b"i1ei2e",
            b"-1:a",
        ] {
            assert!(
                decode(bad).is_err(),
                "accepted {:?}",
                String::from_utf8_lossy(bad)
            );
        }
    }

    #[test]
    fn unsorted_keys_accepted_duplicates_refused() {
        // Out of order but unique: real clients send these, and they are kept as they are.
        let v = decode(b"d1:bi1e1:ai2e1:ci3ee").expect("unsorted, unique");
        assert_eq!(v.as_dict().map(Dict::len), Some(3));
        for dup in [
            &b"d1:ai1e1:ai2ee"[..],        // sorted so far, repeats the last key
            b"d1:ai1e1:bi1e1:ai2ee",       // repeats an earlier key: first key out of order
            b"d1:bi1e1:ai1e1:ci1e1:bi2ee", // already unsorted, repeats an early key
            b"d1:bi1e1:ai1e1:ai2ee",       // already unsorted, repeats the last key
        ] {
            assert!(
                matches!(decode(dup), Err(DecodeError::DuplicateKey { .. })),
                "accepted {:?}",
                String::from_utf8_lossy(dup)
            );
        }
    }

    /// `n` distinct 4-character keys, each mapped to `0:` (the probe's peer used 2- and 3-byte
    /// keys; 4 bytes reach the 256 KiB a peer may send with fewer, longer keys).
    fn many_keys(n: usize, reversed: bool) -> (Vec<u8>, Vec<u8>) {
        let mut keys: Vec<String> = (0..n).map(|i| format!("{i:04x}")).collect();
        if reversed {
            keys.reverse();
        }
        let body: String = keys.iter().map(|k| format!("4:{k}0:")).collect();
        let dict = format!("d{body}e").into_bytes();
        let list = format!("l{body}e").into_bytes();
        (dict, list)
    }

    fn fastest(input: &[u8]) -> std::time::Duration {
        (0..5)
            .map(|_| {
                let t = std::time::Instant::now();
                assert!(decode(input).is_ok());
                t.elapsed()
            })
            .min()
            .unwrap_or_default()
    }

    /// A 256 KiB dictionary of distinct keys costs about what a list of the same strings does
    /// (it took ~1 s with the quadratic duplicate check). Compared with the list, not with a
    /// clock, so a loaded machine or a debug build cannot make it flaky; the release-build
    /// figure (under 10 ms) is in `cargo bench --bench bencode`.
    #[test]
    fn many_key_dict_costs_linear_time() {
        let n = 256 * 1024 / 8; // 8 bytes per entry: 32,768 keys
        for reversed in [false, true] {
            let (dict, list) = many_keys(n, reversed);
            assert!(dict.len() >= 256 * 1024);
            let d = fastest(&dict);
            let l = fastest(&list);
            assert!(
                d < l * 20 + std::time::Duration::from_millis(50),
                "dict of {n} keys (reversed: {reversed}) took {d:?}, the same strings in a list {l:?}"
            );
        }
    }

    #[test]
    fn depth_is_bounded() {
        let deep = vec![b'l'; 10_000];
        assert!(matches!(decode(&deep), Err(DecodeError::TooDeep(_))));
    }

    #[test]
    fn extremes() {
        assert_eq!(
            decode(b"i-9223372036854775808e").expect("min").as_int(),
            Some(i64::MIN)
        );
        assert_eq!(
            decode(b"i9223372036854775807e").expect("max").as_int(),
            Some(i64::MAX)
        );
        assert_eq!(decode(b"0:").expect("empty").as_bytes(), Some(&b""[..]));
    }

    #[test]
    fn prefix_leaves_tail() {
        let (v, used) = decode_prefix(b"d1:ai1eeRAW").expect("prefix");
        assert_eq!(used, 8);
        assert!(v.as_dict().is_some());
    }

    proptest::proptest! {
        #[test]
        fn never_panics(bytes in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..256)) {
            let _ = decode(&bytes);
        }
    }
}
