//! Our uTP over loopback: both directions with bytes checked, through a relay that drops and
//! reorders datagrams, over IPv6, and a dial that nobody answers.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::UdpSocket;

use super::*;

fn data(len: usize, seed: u32) -> Vec<u8> {
    let mut x = seed.wrapping_mul(2_654_435_761).max(1);
    (0..len)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 17;
            x ^= x << 5;
            x as u8
        })
        .collect()
}

/// Sends `a_data` from the dialler and `b_data` from the acceptor at once; each side checks
/// what it receives and the stream's end.
async fn exchange(
    a: &UtpSocket,
    b: Arc<UtpSocket>,
    to: SocketAddr,
    a_data: Vec<u8>,
    b_data: Vec<u8>,
) {
    let (a_len, b_len) = (a_data.len(), b_data.len());
    let want_a = b_data.clone();
    let acceptor = tokio::spawn(async move {
        let s = b.accept().await.unwrap();
        let (mut r, mut w) = tokio::io::split(s);
        let send = async {
            w.write_all(&b_data).await.unwrap();
            w.shutdown().await.unwrap();
        };
        let recv = async {
            let mut got = Vec::new();
            r.read_to_end(&mut got).await.unwrap();
            got
        };
        let ((), got) = tokio::join!(send, recv);
        assert_eq!(got.len(), a_len);
        got
    });
    let s = a.connect(to).await.unwrap();
    let (mut r, mut w) = tokio::io::split(s);
    let send = async {
        w.write_all(&a_data).await.unwrap();
        w.shutdown().await.unwrap();
    };
    let recv = async {
        let mut got = Vec::new();
        r.read_to_end(&mut got).await.unwrap();
        got
    };
    let ((), got) = tokio::join!(send, recv);
    assert_eq!(got.len(), b_len);
    assert!(got == want_a, "acceptor → dialler bytes differ");
    assert!(
        acceptor.await.unwrap() == a_data,
        "dialler → acceptor bytes differ"
    );
}

#[tokio::test]
async fn both_directions_over_loopback() {
    let a = UtpSocket::bind("127.0.0.1:0".parse().unwrap())
        .await
        .unwrap();
    let b = Arc::new(
        UtpSocket::bind("127.0.0.1:0".parse().unwrap())
            .await
            .unwrap(),
    );
    let to = b.local_addr();
    exchange(&a, b, to, data(3 << 20, 1), data(1 << 20, 2)).await;
}

#[tokio::test]
async fn over_ipv6_loopback() {
    let Ok(a) = UtpSocket::bind("[::1]:0".parse().unwrap()).await else {
        eprintln!("no IPv6 loopback here: skipped");
        return;
    };
    let b = Arc::new(UtpSocket::bind("[::1]:0".parse().unwrap()).await.unwrap());
    let to = b.local_addr();
    exchange(&a, b, to, data(1 << 20, 3), data(100_000, 4)).await;
}

/// Forwards datagrams between a client and `server`, dropping every `drop_every`th one and
/// holding back every `swap_every`th to send after the next (reordering).
async fn lossy_relay(server: SocketAddr, drop_every: u64, swap_every: u64) -> SocketAddr {
    let front = Arc::new(UdpSocket::bind("127.0.0.1:0").await.unwrap());
    let back = Arc::new(UdpSocket::bind("127.0.0.1:0").await.unwrap());
    let addr = front.local_addr().unwrap();
    let client = Arc::new(std::sync::Mutex::new(None::<SocketAddr>));
    let pump = |from: Arc<UdpSocket>, to: Arc<UdpSocket>, forward: bool| {
        let client = client.clone();
        async move {
            let mut buf = vec![0u8; 65536];
            let mut n_seen = 0u64;
            let mut held: Option<Vec<u8>> = None;
            loop {
                let (n, src) = from.recv_from(&mut buf).await.unwrap();
                let dest = if forward {
                    *client.lock().unwrap() = Some(src);
                    server
                } else {
                    match *client.lock().unwrap() {
                        Some(c) => c,
                        None => continue,
                    }
                };
                n_seen += 1;
                if n_seen.is_multiple_of(drop_every) {
                    continue;
                }
                if held.is_none() && n_seen.is_multiple_of(swap_every) {
                    held = Some(buf[..n].to_vec());
                    continue;
                }
                let _ = to.send_to(&buf[..n], dest).await;
                if let Some(h) = held.take() {
                    let _ = to.send_to(&h, dest).await;
                }
            }
        }
    };
    tokio::spawn(pump(front.clone(), back.clone(), true));
    tokio::spawn(pump(back, front, false));
    addr
}

#[tokio::test]
async fn survives_loss_and_reordering() {
    let a = UtpSocket::bind("127.0.0.1:0".parse().unwrap())
        .await
        .unwrap();
    let b = Arc::new(
        UtpSocket::bind("127.0.0.1:0".parse().unwrap())
            .await
            .unwrap(),
    );
    // 1 in 23 datagrams lost (SYNs and ACKs too), 1 in 7 swapped with the next.
    let relay = lossy_relay(b.local_addr(), 23, 7).await;
    let t0 = Instant::now();
    tokio::time::timeout(
        Duration::from_secs(60),
        exchange(&a, b, relay, data(600_000, 5), data(300_000, 6)),
    )
    .await
    .expect("transfer over a lossy path stalled");
    eprintln!("lossy transfer took {:?}", t0.elapsed());
}

#[tokio::test]
async fn a_dial_nobody_answers_fails() {
    // A bound UDP port that never answers.
    let silent = UdpSocket::bind("127.0.0.1:0").await.unwrap();
    let a = UtpSocket::bind("127.0.0.1:0".parse().unwrap())
        .await
        .unwrap();
    let e = a.connect(silent.local_addr().unwrap()).await.unwrap_err();
    assert_eq!(e.kind(), std::io::ErrorKind::TimedOut, "{e}");
}

#[tokio::test]
async fn garbage_gets_a_reset_and_no_panic() {
    let a = UtpSocket::bind("127.0.0.1:0".parse().unwrap())
        .await
        .unwrap();
    let probe = UdpSocket::bind("127.0.0.1:0").await.unwrap();
    // Not uTP at all (a DHT query): ignored.
    probe
        .send_to(b"d1:ad2:id20:", a.local_addr())
        .await
        .unwrap();
    // A DATA packet for a connection that does not exist: answered with RESET.
    let mut pkt = Vec::new();
    packet::Header {
        kind: packet::PacketType::Data,
        conn_id: 77,
        timestamp: 1,
        timestamp_diff: 0,
        wnd_size: 1000,
        seq_nr: 5,
        ack_nr: 9,
    }
    .encode(None, b"x", &mut pkt);
    probe.send_to(&pkt, a.local_addr()).await.unwrap();
    let mut buf = [0u8; 100];
    let (n, _) = tokio::time::timeout(Duration::from_secs(5), probe.recv_from(&mut buf))
        .await
        .unwrap()
        .unwrap();
    let p = packet::Packet::parse(&buf[..n]).unwrap();
    assert_eq!(p.header.kind, packet::PacketType::Reset);
    assert_eq!(p.header.conn_id, 77);
    assert_eq!(p.header.ack_nr, 5);
}

#[tokio::test]
async fn a_peer_ignoring_our_window_is_not_buffered_without_end() {
    let ours = UtpSocket::bind("127.0.0.1:0".parse().unwrap())
        .await
        .unwrap();
    let raw = UdpSocket::bind("127.0.0.1:0").await.unwrap();
    let to = ours.local_addr();
    let header = |kind, conn_id, seq_nr| packet::Header {
        kind,
        conn_id,
        timestamp: 0,
        timestamp_diff: 0,
        wnd_size: 1 << 20,
        seq_nr,
        ack_nr: 0,
    };
    let mut syn = Vec::new();
    header(packet::PacketType::Syn, 500, 1).encode(None, &[], &mut syn);
    raw.send_to(&syn, to).await.unwrap();
    // Accepted, and never read.
    let _stream = ours.accept().await.unwrap();
    let payload = [7u8; 1000];
    let mut highest_ack = 0u16;
    let mut buf = [0u8; 2048];
    for seq in 2..3500u16 {
        let mut pkt = Vec::new();
        header(packet::PacketType::Data, 501, seq).encode(None, &payload, &mut pkt);
        raw.send_to(&pkt, to).await.unwrap();
        if seq % 64 == 0 {
            // Let our side catch up, and collect its ACKs.
            tokio::time::sleep(Duration::from_millis(2)).await;
        }
        while let Ok((n, _)) = raw.try_recv_from(&mut buf) {
            if let Ok(p) = packet::Packet::parse(&buf[..n]) {
                highest_ack = highest_ack.max(p.header.ack_nr);
            }
        }
    }
    tokio::time::sleep(Duration::from_millis(50)).await;
    while let Ok((n, _)) = raw.try_recv_from(&mut buf) {
        if let Ok(p) = packet::Packet::parse(&buf[..n]) {
            highest_ack = highest_ack.max(p.header.ack_nr);
        }
    }
    // Up to twice the 1 MiB window was taken, and no more.
    assert!(
        (1000..=2200).contains(&highest_ack),
        "acked through {highest_ack}"
    );
}

/// Joins `left` (fixed) and a right side that can be swapped, as a peer's address that a
/// restarted process takes over: datagrams from `left` to the front socket go out of the back
/// socket to the current right side; anything reaching the back socket goes to `left`.
/// Returns the front address (where `left` reaches the right side), the back address (where
/// the right side reaches `left`) and the switch.
async fn swappable_relay(
    left: SocketAddr,
    right: SocketAddr,
) -> (SocketAddr, SocketAddr, Arc<std::sync::Mutex<SocketAddr>>) {
    let front = Arc::new(UdpSocket::bind("127.0.0.1:0").await.unwrap());
    let back = Arc::new(UdpSocket::bind("127.0.0.1:0").await.unwrap());
    let (f, b) = (front.local_addr().unwrap(), back.local_addr().unwrap());
    let right = Arc::new(std::sync::Mutex::new(right));
    let to_right = right.clone();
    let (fr, bk) = (front.clone(), back.clone());
    tokio::spawn(async move {
        let mut buf = vec![0u8; 65536];
        loop {
            let (n, _) = fr.recv_from(&mut buf).await.unwrap();
            let dest = *to_right.lock().unwrap();
            let _ = bk.send_to(&buf[..n], dest).await;
        }
    });
    tokio::spawn(async move {
        let mut buf = vec![0u8; 65536];
        loop {
            let (n, _) = back.recv_from(&mut buf).await.unwrap();
            let _ = front.send_to(&buf[..n], left).await;
        }
    });
    (f, b, right)
}

/// The peer of `stale` was killed -9 (no FIN) and a new process took its address: the next
/// packet `stale` sends is answered with a RESET, and the stream fails at once with
/// ConnectionReset instead of retransmitting (or idling) until its timeouts.
async fn expect_reset(mut stale: UtpStream, swap: Arc<std::sync::Mutex<SocketAddr>>) {
    let restarted = UtpSocket::bind("127.0.0.1:0".parse().unwrap())
        .await
        .unwrap();
    *swap.lock().unwrap() = restarted.local_addr();
    let t0 = Instant::now();
    let outcome = tokio::time::timeout(Duration::from_secs(5), async {
        // Data in flight draws the RESET; a write may still be buffered, the read sees it.
        let _ = stale.write_all(b"still there?").await;
        let mut buf = [0u8; 16];
        stale.read(&mut buf).await
    })
    .await
    .expect("a stale uTP connection outlived its restarted peer's RESET");
    let e = outcome.expect_err("a restarted peer cannot answer with data");
    assert_eq!(e.kind(), std::io::ErrorKind::ConnectionReset, "{e}");
    eprintln!("stale connection reset after {:?}", t0.elapsed());
}

#[tokio::test]
async fn a_restarted_peer_resets_the_stale_connection_we_dialled() {
    let ours = UtpSocket::bind("127.0.0.1:0".parse().unwrap())
        .await
        .unwrap();
    let theirs = UtpSocket::bind("127.0.0.1:0".parse().unwrap())
        .await
        .unwrap();
    let (front, _, swap) = swappable_relay(ours.local_addr(), theirs.local_addr()).await;
    let mut s = ours.connect(front).await.unwrap();
    let mut peer = theirs.accept().await.unwrap();
    s.write_all(b"hello").await.unwrap();
    let mut buf = [0u8; 5];
    peer.read_exact(&mut buf).await.unwrap();
    expect_reset(s, swap).await;
}

#[tokio::test]
async fn a_restarted_peer_resets_the_stale_connection_we_accepted() {
    let ours = UtpSocket::bind("127.0.0.1:0".parse().unwrap())
        .await
        .unwrap();
    let theirs = UtpSocket::bind("127.0.0.1:0".parse().unwrap())
        .await
        .unwrap();
    let (_, back, swap) = swappable_relay(ours.local_addr(), theirs.local_addr()).await;
    let mut peer = theirs.connect(back).await.unwrap();
    let mut s = ours.accept().await.unwrap();
    peer.write_all(b"hello").await.unwrap();
    let mut buf = [0u8; 5];
    s.read_exact(&mut buf).await.unwrap();
    expect_reset(s, swap).await;
}
