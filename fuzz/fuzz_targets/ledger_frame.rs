//! Ledger wire frames (PROTOCOL-LEDGER.md): the frame reader over any byte stream never
//! panics or reads past its limit, and every frame body parses (or not) as a request and as a
//! reply without panicking.
#![no_main]

use std::future::Future;
use std::pin::pin;
use std::task::{Context, Poll, Waker};

use bidtorrent::wallet::ledger::proto::{MAX_FRAME, Reply, Request, read_frame};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    // Reading from a slice never waits, so one poll with a no-op waker runs it to the end.
    let mut input = data;
    let mut cx = Context::from_waker(Waker::noop());
    for _ in 0..64 {
        let frame = {
            let fut = pin!(read_frame(&mut input));
            match fut.poll(&mut cx) {
                Poll::Ready(r) => r,
                Poll::Pending => panic!("a slice reader never waits"),
            }
        };
        match frame {
            Ok(Some(body)) => {
                assert!(body.len() <= MAX_FRAME);
                let _ = serde_json::from_slice::<Request>(&body);
                let _ = serde_json::from_slice::<Reply>(&body);
            }
            Ok(None) | Err(_) => break,
        }
    }
});
