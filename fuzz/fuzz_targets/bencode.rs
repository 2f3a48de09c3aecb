//! Bencode decoder: never panics, and whatever it accepts re-encodes to something that decodes
//! to the same value, with raw spans that are themselves valid encodings of their values.
#![no_main]

use bidtorrent::bencode::{self, Owned, Value};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok((v, used)) = bencode::decode_prefix(data) {
        assert!(used <= data.len());
        check_raw_spans(&v);
        let owned = Owned::from(&v);
        let enc = owned.encode();
        // Re-encoding is canonical: decoding it gives the same value, and encoding that
        // again is byte-identical.
        let back = bencode::decode(&enc).expect("our own encoding decodes");
        assert_eq!(Owned::from(&back), owned);
        assert_eq!(Owned::from(&back).encode(), enc);
        // The prefix was exactly one value: `decode` on it must agree.
        let whole = bencode::decode(&data[..used]).expect("prefix decodes alone");
        assert_eq!(whole, v);
        // An input already in canonical form (sorted keys) is reproduced byte for byte.
        if is_sorted(&v) {
            assert_eq!(enc.as_slice(), &data[..used]);
        }
    }
    let _ = bencode::decode(data);
});

/// Every dict value's raw span decodes, alone, to that same value.
fn check_raw_spans(v: &Value<'_>) {
    match v {
        Value::List(l) => l.iter().for_each(check_raw_spans),
        Value::Dict(d) => {
            for (k, val) in d.iter() {
                let key = std::str::from_utf8(k);
                if let Ok(key) = key {
                    // `raw` looks keys up by &str, so only UTF-8 keys can be checked.
                    let raw = d.raw(key).expect("raw span for present key");
                    assert_eq!(&bencode::decode(raw).expect("raw span decodes"), val);
                }
                check_raw_spans(val);
            }
        }
        _ => {}
    }
}

fn is_sorted(v: &Value<'_>) -> bool {
    match v {
        Value::List(l) => l.iter().all(is_sorted),
        Value::Dict(d) => {
            let keys: Vec<&[u8]> = d.iter().map(|(k, _)| k).collect();
            keys.windows(2).all(|w| w[0] < w[1]) && d.iter().all(|(_, v)| is_sorted(v))
        }
        _ => true,
    }
}
