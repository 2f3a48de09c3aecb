//! Dashboard themes (TOML files a user may download): the theme parser and its style and
//! colour parsers never panic on any text.
#![no_main]

use bidtorrent::tui::theme::{parse, parse_color, parse_style};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(s) = std::str::from_utf8(data) {
        let _ = parse(s);
        let _ = parse_style(s);
        let _ = parse_color(s);
    }
});
