//! Units people read and type: byte counts and rates (binary units, as every torrent client
//! shows them), plurals, hex. One copy, used by the CLI, the dashboard, the demo and the wallet.

/// Parses a byte count or rate: `1048576`, `512K`, `10M`, `1.5G` (binary units).
pub fn parse_size(s: &str) -> Result<u64, String> {
    let t = s.trim();
    let (num, mult) = match t.char_indices().last() {
        Some((i, c)) if c.is_ascii_alphabetic() => {
            let m: u64 = match c.to_ascii_uppercase() {
                'K' => 1 << 10,
                'M' => 1 << 20,
                'G' => 1 << 30,
                'B' => 1,
                _ => return Err(format!("{s:?}: unknown unit {c:?} (use K, M or G)")),
            };
            (&t[..i], m)
        }
        _ => (t, 1),
    };
    let v: f64 = num
        .parse()
        .map_err(|_| format!("{s:?} is not a size like 512K, 10M or 1048576"))?;
    if !v.is_finite() || v < 0.0 {
        return Err(format!("{s:?} must be a non-negative size"));
    }
    Ok((v * mult as f64) as u64)
}

const UNITS: [&str; 5] = ["B", "KiB", "MiB", "GiB", "TiB"];

/// `512 B`, `1.5 KiB`, `3.2 GiB`.
pub fn bytes(n: u64) -> String {
    let mut v = n as f64;
    let mut u = 0;
    while v >= 1024.0 && u < UNITS.len() - 1 {
        v /= 1024.0;
        u += 1;
    }
    if u == 0 {
        format!("{n} B")
    } else {
        format!("{v:.1} {}", UNITS[u])
    }
}

/// `0 B/s` below one byte a second, else [`bytes`] per second.
pub fn rate(r: f64) -> String {
    if r < 1.0 {
        "0 B/s".into()
    } else {
        format!("{}/s", bytes(r as u64))
    }
}

/// A rate limit: `unlimited` for 0.
pub fn limit(r: u64) -> String {
    if r == 0 {
        "unlimited".into()
    } else {
        rate(r as f64)
    }
}

/// Micro-tokens as tokens for reading, without the trailing zeros the ledger's six decimals
/// leave: `1.25`, `0.20`, `0.001852` (at least two decimals, as money reads).
pub fn tokens(micro: u64) -> String {
    let s = format!("{}.{:06}", micro / 1_000_000, micro % 1_000_000);
    let trimmed = s.trim_end_matches('0');
    let decimals = trimmed.len() - trimmed.find('.').map_or(trimmed.len(), |i| i + 1);
    if decimals < 2 {
        s[..s.find('.').map_or(s.len(), |i| i + 3)].to_string()
    } else {
        trimmed.to_string()
    }
}

/// `1 torrent`, `2 torrents`.
pub fn plural(n: usize, word: &str) -> String {
    format!("{n} {word}{}", if n == 1 { "" } else { "s" })
}

/// Lower-case hex of `bytes`.
pub fn to_hex(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut s = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        s.push(DIGITS[(b >> 4) as usize] as char);
        s.push(DIGITS[(b & 15) as usize] as char);
    }
    s
}

/// Decodes hex (either case). `None` on odd length or a non-hex digit.
pub fn from_hex(s: &str) -> Option<Vec<u8>> {
    let s = s.as_bytes();
    if !s.len().is_multiple_of(2) {
        return None;
    }
    let nib = |c: u8| match c {
        b'0'..=b'9' => Some(c - b'0'),
        b'a'..=b'f' => Some(c - b'a' + 10),
        b'A'..=b'F' => Some(c - b'A' + 10),
        _ => None,
    };
    s.chunks(2)
        .map(|p| Some(nib(p[0])? << 4 | nib(p[1])?))
        .collect()
}

/// Text from outside (torrent and file names, tracker failure reasons, peer client names,
/// messages from peers, the ledger or the daemon) made safe to print: control characters,
/// including ESC and the C1 set a terminal reads as escape sequences, and the bidirectional
/// overrides that reorder what is shown are written as visible escapes (`\x1b`, `\n`,
/// `\u{202e}`). Borrowed when there is nothing to escape, as for nearly every name.
pub fn printable(s: &str) -> std::borrow::Cow<'_, str> {
    fn unsafe_char(c: char) -> bool {
        c.is_control()
            || matches!(c, '\u{200e}' | '\u{200f}' | '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}')
    }
    if !s.chars().any(unsafe_char) {
        return std::borrow::Cow::Borrowed(s);
    }
    let mut out = String::with_capacity(s.len() + 8);
    for c in s.chars() {
        match c {
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if unsafe_char(c) && (c as u32) < 0x80 => {
                out.push_str(&format!("\\x{:02x}", c as u32));
            }
            c if unsafe_char(c) => out.push_str(&format!("\\u{{{:x}}}", c as u32)),
            c => out.push(c),
        }
    }
    std::borrow::Cow::Owned(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn printable_escapes_what_a_terminal_would_obey() {
        assert!(matches!(
            printable("ubuntu-24.04.iso"),
            std::borrow::Cow::Borrowed(_)
        ));
        assert_eq!(printable("Ünïcødé 名前"), "Ünïcødé 名前");
        assert_eq!(printable("\x1b[31mred\x1b[0m"), "\\x1b[31mred\\x1b[0m");
        assert_eq!(printable("a\nb\rc\td\0"), "a\\nb\\rc\\td\\x00");
        assert_eq!(printable("\u{9b}2J"), "\\u{9b}2J"); // C1 CSI
        assert_eq!(printable("evil\u{202e}gpj.exe"), "evil\\u{202e}gpj.exe");
        assert_eq!(printable("\x7f"), "\\x7f");
    }

    #[test]
    fn formats() {
        assert_eq!(bytes(0), "0 B");
        assert_eq!(bytes(1023), "1023 B");
        assert_eq!(bytes(1536), "1.5 KiB");
        assert_eq!(rate(0.5), "0 B/s");
        assert_eq!(rate(2.0 * 1024.0 * 1024.0), "2.0 MiB/s");
        assert_eq!(limit(0), "unlimited");
        assert_eq!(plural(1, "file"), "1 file");
        assert_eq!(plural(0, "file"), "0 files");
        assert_eq!(tokens(1_250_000), "1.25");
        assert_eq!(tokens(200_000), "0.20");
        assert_eq!(tokens(1_852), "0.001852");
        assert_eq!(tokens(0), "0.00");
        assert_eq!(tokens(12_000_000), "12.00");
        assert_eq!(to_hex(&[0, 0xab]), "00ab");
        assert_eq!(from_hex("00AB"), Some(vec![0, 0xab]));
        assert_eq!(from_hex("0"), None);
    }
}
