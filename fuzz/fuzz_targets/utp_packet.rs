//! uTP (BEP 29) datagrams from a hostile peer: the packet parser never panics and round-trips
//! what it accepts, and a connection fed any sequence of datagrams (after a SYN) never panics
//! nor lets its reader see more than was sent in order.
#![no_main]

use std::time::{Duration, Instant};

use bidtorrent::engine::utp::conn::Conn;
use bidtorrent::engine::utp::packet::{Header, Packet, PacketType, sack_seqs};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(p) = Packet::parse(data) {
        let mut out = Vec::new();
        p.header.encode(p.sack, p.payload, &mut out);
        let back = Packet::parse(&out).expect("our own encoding parses");
        assert_eq!(back.header, p.header);
        assert_eq!(back.sack, p.sack);
        assert_eq!(back.payload, p.payload);
        if let Some(mask) = p.sack {
            assert!(sack_seqs(p.header.ack_nr, mask).count() <= mask.len() * 8);
        }
    }
    // The input as datagrams, each prefixed by its length, to an accepted connection; the
    // clock advances by the byte after each, so timers fire too.
    let t0 = Instant::now();
    let syn = Header {
        kind: PacketType::Syn,
        conn_id: 100,
        timestamp: 0,
        timestamp_diff: 0,
        wnd_size: 1 << 16,
        seq_nr: 1,
        ack_nr: 0,
    };
    let mut conn = Conn::accept(t0, t0, 1380, &syn, 1000);
    let mut now = t0;
    let mut rest = data;
    let mut buf = [0u8; 4096];
    while let Some((&len, tail)) = rest.split_first() {
        let len = usize::from(len).min(tail.len());
        let (dgram, tail) = tail.split_at(len);
        if let Ok(p) = Packet::parse(dgram) {
            conn.on_packet(now, &p);
        }
        let step = tail.first().copied().unwrap_or(0);
        now += Duration::from_millis(u64::from(step) * 50);
        conn.on_tick(now);
        conn.flush_ack(now);
        let _ = conn.write(now, dgram);
        while let Some(Ok(n)) = conn.read(now, &mut buf) {
            if n == 0 {
                break;
            }
        }
        for pkt in conn.out.drain(..) {
            Packet::parse(&pkt).expect("what we send parses");
        }
        rest = tail.get(1..).unwrap_or(&[]);
    }
});
