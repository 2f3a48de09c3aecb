//! The Transmission door's HTTP/1.1 request parser never panics, stays within its bounds, and
//! agrees with itself: a complete request's head and body lie inside the input, and feeding
//! the same bytes one prefix at a time never yields a different head.
#![no_main]

use bidtorrent::rpc::transmission::http::{Limits, parse_head, parse_request};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let lim = Limits {
        max_head: 2048,
        max_headers: 16,
        max_body: 4096,
    };
    match parse_request(data, &lim) {
        Ok(Some((head, body))) => {
            assert!(head.head_len <= lim.max_head);
            assert!(head.headers.len() <= lim.max_headers);
            assert_eq!(body.len(), head.content_length);
            assert!(head.head_len + body.len() <= data.len());
            // Bodies are bytes; everything else the parser keeps is checked text.
            assert!(head.headers.iter().all(|(n, _)| n == &n.to_ascii_lowercase()));
            // A shorter prefix that already holds the head parses to the same head.
            let again = parse_head(&data[..head.head_len], &lim)
                .expect("the head alone parses")
                .expect("the head alone is complete");
            assert_eq!(again, head);
        }
        // Incomplete: more bytes may still make a request.
        Ok(None) => {}
        Err(e) => assert!((400..=505).contains(&e.status())),
    }
});
