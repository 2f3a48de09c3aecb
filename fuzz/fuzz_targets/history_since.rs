//! `wallet history --since WHEN` (a user's text): a duration or a local date is parsed, or
//! refused in one line, never a panic; a parsed time is never after now.
#![no_main]

use bidtorrent::cli::history::parse_since;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(s) = std::str::from_utf8(data) else {
        return;
    };
    let now = 1_764_500_000;
    match parse_since(s, now) {
        Ok(t) => assert!(t <= now || s.trim().len() == 10, "{s:?} -> {t}"),
        Err(e) => assert!(!e.to_string().contains('\n'), "{s:?}: {e}"),
    }
});
