//! Abuse cases (research/incentives.md §5), each against a real bidtorrent session over
//! 127.0.0.1, with a hand-driven `bt_market` peer on the other end of the socket:
//! a buyer that stops paying, forged / replayed / over-cap vouchers, and sellers that take an
//! award and then send nothing, send garbage, or charge more than the bid.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // tests fail loudly

mod engine_util;

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use bidtorrent::bencode::{self, Owned};
use bidtorrent::engine::metainfo::Metainfo;
use bidtorrent::engine::session::{Session, SessionConfig};
use bidtorrent::engine::torrent::{Phase, TorrentOptions};
use bidtorrent::engine::types::{InfoHash, PeerId};
use bidtorrent::engine::wire::{BlockRef, Handshake, Message};
use bidtorrent::market::config::{BuyerStrategy, MarketConfig, SellerConfig, Tokens};
use bidtorrent::market::proto::{EXTENSION, HandshakeInfo, MarketMsg, RejectReason};
use bidtorrent::market::{Market, MarketReport};
use bidtorrent::wallet::ledger::proto::{Action, Outcome};
use bidtorrent::wallet::{
    Amount, ChannelCertificate, EmbeddedLedger, LedgerId, PublicKey, Voucher, Wallet,
};
use bytes::{Bytes, BytesMut};
use ed25519_dalek::SigningKey;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

const WINDOW: u64 = 256 * 1024;

/// A hand-driven peer speaking just enough BitTorrent and bt_market.
struct Raw {
    s: TcpStream,
    buf: BytesMut,
    their_market_id: Option<u8>,
}

impl Raw {
    async fn handshake(mut s: TcpStream, ih: InfoHash, pid: &[u8; 20], first: bool) -> Raw {
        let hs = Handshake::new(ih, PeerId(*pid)).encode();
        let mut back = [0u8; 68];
        if first {
            s.write_all(&hs).await.expect("handshake");
            s.read_exact(&mut back).await.expect("handshake back");
        } else {
            s.read_exact(&mut back).await.expect("handshake in");
            s.write_all(&hs).await.expect("handshake");
        }
        Raw {
            s,
            buf: BytesMut::new(),
            their_market_id: None,
        }
    }

    async fn send(&mut self, m: Message) {
        let mut out = BytesMut::new();
        m.encode(&mut out);
        let _ = self.s.write_all(&out).await;
    }

    async fn ext_handshake(&mut self, pk: PublicKey, ledger: LedgerId) {
        let info = HandshakeInfo {
            version: 1,
            public_key: pk,
            ledgers: vec![ledger],
        };
        let hs = Owned::dict()
            .with("m", Owned::dict().with(EXTENSION, 7i64))
            .with(EXTENSION, info.to_owned_dict());
        self.send(Message::Extended {
            id: 0,
            payload: Bytes::from(hs.encode()),
        })
        .await;
    }

    async fn market(&mut self, m: &MarketMsg) {
        let id = self.their_market_id.expect("peer announced bt_market");
        self.send(Message::Extended {
            id,
            payload: Bytes::from(m.encode()),
        })
        .await;
    }

    /// Whether the other side hangs up within `wait` (messages before that are read and
    /// dropped); false when the connection is still open after it.
    async fn closed_within(&mut self, wait: Duration) -> bool {
        let deadline = Instant::now() + wait;
        loop {
            self.buf.clear();
            let Some(left) = deadline.checked_duration_since(Instant::now()) else {
                return false;
            };
            match tokio::time::timeout(left, self.s.read_buf(&mut self.buf)).await {
                Ok(Ok(0)) | Ok(Err(_)) => return true,
                Ok(Ok(_)) => {}
                Err(_) => return false,
            }
        }
    }

    /// Next message; `None` when the connection closed or `wait` passed.
    async fn next(&mut self, wait: Duration) -> Option<Message> {
        let deadline = Instant::now() + wait;
        loop {
            if let Ok(Some(m)) = Message::decode(&mut self.buf) {
                if let Message::Extended { id: 0, payload } = &m
                    && let Ok(v) = bencode::decode(payload)
                    && let Some(d) = v.as_dict()
                {
                    self.their_market_id = d
                        .get_dict("m")
                        .and_then(|m| m.get_int(EXTENSION))
                        .and_then(|i| u8::try_from(i).ok());
                }
                return Some(m);
            }
            let left = deadline.checked_duration_since(Instant::now())?;
            match tokio::time::timeout(left, self.s.read_buf(&mut self.buf)).await {
                Ok(Ok(0)) | Ok(Err(_)) | Err(_) => return None,
                Ok(Ok(_)) => {}
            }
        }
    }
}

fn market_msg(m: &Message) -> Option<MarketMsg> {
    match m {
        Message::Extended { id, payload } if *id != 0 => MarketMsg::decode(payload).ok().flatten(),
        _ => None,
    }
}

async fn open_channel(
    ledger: &EmbeddedLedger,
    key: &SigningKey,
    seller: PublicKey,
    cap: Amount,
) -> ChannelCertificate {
    ledger
        .mint(PublicKey::of(key), cap)
        .await
        .expect("mint buyer");
    let expiry = bidtorrent::wallet::keys::now_secs() + 3600;
    match ledger
        .client()
        .signed(
            key,
            Action::Open {
                seller,
                cap,
                expiry,
            },
        )
        .await
        .expect("open")
    {
        Outcome::Opened { certificate } => certificate,
        o => panic!("unexpected {o:?}"),
    }
}

struct Node {
    session: Arc<Session>,
    market: Market,
    meta: Metainfo,
}

#[allow(clippy::too_many_arguments)]
async fn node(
    tmp: &std::path::Path,
    name: &str,
    ledger: &EmbeddedLedger,
    cfg: MarketConfig,
    torrent: &std::path::Path,
    dir: &str,
    peers: Vec<SocketAddr>,
    upload_limit: u64,
) -> Node {
    let wallet = Arc::new(Wallet::open(&tmp.join(name).join("wallet")).expect("wallet"));
    ledger
        .mint(wallet.public_key(), Amount(100_000_000))
        .await
        .expect("mint");
    let market = Market::new(wallet, ledger.client(), cfg)
        .await
        .expect("market");
    market
        .persist_bans(&tmp.join(name).join("market-bans.json"))
        .expect("bans");
    let session = Session::start(SessionConfig {
        listen: "127.0.0.1:0".parse().expect("addr"),
        data_dir: tmp.join(name).join("state"),
        download_limit: 0,
        upload_limit,
    })
    .await
    .expect("session");
    // The hand-rolled peers here speak plaintext only and take a single connection: dial
    // plaintext first (an encrypted first attempt would use up that connection).
    session.set_network(bidtorrent::engine::transport::NetOptions {
        encryption: bidtorrent::engine::transport::Encryption::Allow,
        ..Default::default()
    });
    session.register_extension(market.factory());
    let meta = Metainfo::from_file(torrent).expect("torrent");
    session
        .add(
            meta.clone(),
            TorrentOptions {
                download_dir: tmp.join(dir),
                peers,
                ..TorrentOptions::default()
            },
        )
        .await
        .expect("add");
    Node {
        session,
        market,
        meta,
    }
}

fn strict_seller() -> MarketConfig {
    MarketConfig {
        seller: SellerConfig {
            window: WINDOW,
            grace_secs: 1,
            ban_strikes: 2,
            reserve_price: Tokens(Amount(1_000)),
            ..SellerConfig::default()
        },
        ..MarketConfig::default()
    }
}

async fn wait_seeding(n: &Node) {
    let t = n.session.get(&n.meta.info_hash).expect("torrent");
    for _ in 0..100 {
        if t.stats().phase == Phase::Seeding {
            return;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("seeder never verified its data");
}

fn report(n: &Node) -> MarketReport {
    n.market.report(&n.meta.info_hash).expect("report")
}

/// Connects a raw buyer to `seller`, bids with a fresh funded channel, and returns it once
/// the award and the unchoke arrived.
async fn awarded_buyer(
    n: &Node,
    ledger: &EmbeddedLedger,
    key: &SigningKey,
    pid: &[u8; 20],
) -> (Raw, ChannelCertificate) {
    let seller_pk = n.market.wallet().public_key();
    let cert = open_channel(ledger, key, seller_pk, Amount(10_000_000)).await;
    let s = TcpStream::connect(n.session.listen_addr())
        .await
        .expect("connect");
    let mut raw = Raw::handshake(s, n.meta.info_hash, pid, true).await;
    raw.ext_handshake(PublicKey::of(key), ledger.id()).await;
    raw.send(Message::Interested).await;
    let (mut awarded, mut unchoked) = (false, false);
    let deadline = Instant::now() + Duration::from_secs(20);
    while !(awarded && unchoked) {
        let left = deadline
            .checked_duration_since(Instant::now())
            .expect("no award within 20 s");
        let m = raw.next(left).await.expect("connection alive");
        match market_msg(&m) {
            Some(MarketMsg::Ask { .. }) => {
                raw.market(&MarketMsg::Bid {
                    price: Amount(100_000),
                    max_spend: cert.cap,
                    cert: Some(cert.clone()),
                })
                .await;
            }
            Some(MarketMsg::Award { price, .. }) => {
                assert!(price <= Amount(100_000), "awarded above the bid");
                awarded = true;
            }
            _ => {}
        }
        if matches!(m, Message::Unchoke) {
            unchoked = awarded;
        }
    }
    (raw, cert)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_buyer_that_stops_paying_loses_at_most_one_window_and_is_banned() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let (ledger, _) = EmbeddedLedger::start(&tmp.path().join("ledger"))
        .await
        .expect("ledger");
    let t = engine_util::make_torrent(tmp.path(), "p.bin", &[("p.bin", 4 << 20)], 65536);
    let seller = node(
        tmp.path(),
        "seller",
        &ledger,
        strict_seller(),
        &t,
        "src",
        vec![],
        0,
    )
    .await;
    wait_seeding(&seller).await;
    let key = SigningKey::from_bytes(&[42; 32]);
    let (mut raw, _) = awarded_buyer(&seller, &ledger, &key, b"-RW0001-nonpayer0001").await;
    // Ask for everything, pay nothing.
    let n = (4u32 << 20) / 16384;
    for i in 0..n {
        raw.send(Message::Request(BlockRef {
            index: i / 4,
            begin: (i % 4) * 16384,
            length: 16384,
        }))
        .await;
    }
    let mut got = 0u64;
    let mut reasons = Vec::new();
    while let Some(m) = raw.next(Duration::from_secs(20)).await {
        if !matches!(m, Message::Piece { .. }) {
            eprintln!("non-payer got {m:?} at {:?}", Instant::now());
        }
        if let Message::Piece { data, .. } = &m {
            got += data.len() as u64;
        }
        if let Some(MarketMsg::Reject { reason, .. }) = market_msg(&m) {
            reasons.push(reason);
        }
    }
    eprintln!("non-payer got {got} bytes; rejects {reasons:?}");
    assert!(got > 0, "the award was never served");
    assert!(
        got <= WINDOW + 16384,
        "a non-paying buyer took {got} bytes, window is {WINDOW}"
    );
    assert!(reasons.contains(&RejectReason::Unpaid), "{reasons:?}");
    assert!(reasons.contains(&RejectReason::Banned), "{reasons:?}");
    assert_eq!(report(&seller).banned, 1);
    // Coming back under the same key: dropped at the market handshake.
    let s = TcpStream::connect(seller.session.listen_addr())
        .await
        .expect("connect");
    let mut again = Raw::handshake(s, seller.meta.info_hash, b"-RW0001-nonpayer0002", true).await;
    again.ext_handshake(PublicKey::of(&key), ledger.id()).await;
    let start = Instant::now();
    while again.next(Duration::from_secs(10)).await.is_some() {}
    assert!(
        start.elapsed() < Duration::from_secs(9),
        "a banned buyer was let back in"
    );
    // The ban is the session's and on disk: another torrent refuses the key, and a restart
    // would read it back.
    let bans = bidtorrent::market::bans::Bans::load(&tmp.path().join("seller/market-bans.json"))
        .expect("ban file");
    assert!(bans.is_banned(&PublicKey::of(&key), None), "persisted");
    let t2 = engine_util::make_torrent(tmp.path(), "q.bin", &[("q.bin", 1 << 20)], 65536);
    let meta2 = Metainfo::from_file(&t2).expect("torrent");
    let second = seller
        .session
        .add(
            meta2.clone(),
            TorrentOptions {
                download_dir: tmp.path().join("src"),
                ..TorrentOptions::default()
            },
        )
        .await
        .expect("add");
    let deadline = Instant::now() + Duration::from_secs(20);
    while second.stats().phase != Phase::Seeding {
        assert!(Instant::now() < deadline, "second torrent never seeding");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let s = TcpStream::connect(seller.session.listen_addr())
        .await
        .expect("connect");
    let mut other = Raw::handshake(s, meta2.info_hash, b"-RW0001-nonpayer0003", true).await;
    other.ext_handshake(PublicKey::of(&key), ledger.id()).await;
    assert!(
        other.closed_within(Duration::from_secs(10)).await,
        "banned on one torrent, refused on another"
    );
    seller.session.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn forged_replayed_and_over_cap_vouchers_are_refused() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let (ledger, _) = EmbeddedLedger::start(&tmp.path().join("ledger"))
        .await
        .expect("ledger");
    let t = engine_util::make_torrent(tmp.path(), "v.bin", &[("v.bin", 1 << 20)], 65536);
    let seller = node(
        tmp.path(),
        "seller",
        &ledger,
        strict_seller(),
        &t,
        "src",
        vec![],
        0,
    )
    .await;
    wait_seeding(&seller).await;
    let seller_pk = seller.market.wallet().public_key();
    let key = SigningKey::from_bytes(&[7; 32]);
    let (mut raw, cert) = awarded_buyer(&seller, &ledger, &key, b"-RW0001-voucher00001").await;
    let v = |seq: u64, cum: u64| {
        Voucher::sign(&key, ledger.id(), cert.channel, seller_pk, seq, Amount(cum))
    };

    async fn answer(raw: &mut Raw) -> Option<MarketMsg> {
        while let Some(m) = raw.next(Duration::from_secs(5)).await {
            eprintln!("voucher test got {m:?}");
            if let Some(mm @ (MarketMsg::Receipt(_) | MarketMsg::Reject { .. })) = market_msg(&m) {
                return Some(mm);
            }
        }
        None
    }
    // A good voucher: receipt, signed by the seller.
    raw.market(&MarketMsg::Voucher(v(1, 5_000))).await;
    match answer(&mut raw).await {
        Some(MarketMsg::Receipt(r)) => {
            assert!(r.signature_valid() && r.payee == seller_pk && r.cumulative == Amount(5_000));
        }
        o => panic!("expected a receipt, got {o:?}"),
    }
    // Replayed: an older sequence number.
    raw.market(&MarketMsg::Voucher(v(1, 9_000))).await;
    let a = answer(&mut raw).await;
    assert!(
        matches!(a, Some(MarketMsg::Reject { reason: RejectReason::BadVoucher, detail: Some(d) }) if d == "replayed")
    );
    // Over the channel's cap.
    raw.market(&MarketMsg::Voucher(v(2, cert.cap.micro() + 1)))
        .await;
    assert!(
        matches!(answer(&mut raw).await, Some(MarketMsg::Reject { reason: RejectReason::BadVoucher, detail: Some(d) }) if d == "over_cap")
    );
    // Forged: signed by someone else. Refused, and the forger is dropped.
    let mallory = SigningKey::from_bytes(&[66; 32]);
    let forged = Voucher::sign(
        &mallory,
        ledger.id(),
        cert.channel,
        seller_pk,
        3,
        Amount(9_000_000),
    );
    raw.market(&MarketMsg::Voucher(forged)).await;
    assert!(
        matches!(answer(&mut raw).await, Some(MarketMsg::Reject { reason: RejectReason::BadVoucher, detail: Some(d) }) if d == "bad_signature")
    );
    assert!(
        raw.closed_within(Duration::from_secs(10)).await,
        "the forger is hung up on"
    );

    // Another buyer relays the first buyer's (valid) voucher to be let through on its money:
    // refused as not its channel, and dropped.
    let key2 = SigningKey::from_bytes(&[8; 32]);
    let (mut relay, _) = awarded_buyer(&seller, &ledger, &key2, b"-RW0001-voucher00002").await;
    relay.market(&MarketMsg::Voucher(v(4, 6_000))).await;
    assert!(
        matches!(answer(&mut relay).await, Some(MarketMsg::Reject { reason: RejectReason::BadVoucher, detail: Some(d) }) if d == "not_your_channel")
    );
    assert!(
        relay.closed_within(Duration::from_secs(10)).await,
        "the relay is hung up on"
    );
    // Only the good voucher counted.
    let w = seller.market.wallet();
    let ch = w.in_channel(&cert.channel).expect("db").expect("channel");
    assert_eq!(ch.earned(), Amount(5_000));
    seller.session.shutdown().await;
}

#[derive(Clone, Copy, PartialEq, Debug)]
enum Mode {
    Silent,
    Garbage,
    /// Good data, but an award at 100× the bid.
    Overpriced,
}

/// A hostile seller: announces bt_market, asks, awards whatever was bid, then misbehaves.
async fn hostile_seller(
    listener: tokio::net::TcpListener,
    ih: InfoHash,
    key: SigningKey,
    ledger: LedgerId,
    mode: Mode,
    data: Arc<Vec<u8>>,
    pieces: u32,
) {
    let Ok((s, _)) = listener.accept().await else {
        return;
    };
    let mut raw = Raw::handshake(s, ih, b"-HS0001-hostileseler", false).await;
    raw.send(Message::HaveAll).await;
    raw.ext_handshake(PublicKey::of(&key), ledger).await;
    let mut asked = false;
    while let Some(m) = raw.next(Duration::from_secs(30)).await {
        if raw.their_market_id.is_some() && !asked {
            asked = true;
            raw.market(&MarketMsg::Ask {
                price: Amount(1_000),
                clearing: Amount(1_000),
                slots: 3,
                ledger,
                public_key: PublicKey::of(&key),
                window: 1 << 20,
            })
            .await;
        }
        match (&m, market_msg(&m)) {
            (_, Some(MarketMsg::Bid { price, .. })) if !price.is_zero() => {
                raw.market(&MarketMsg::Award {
                    price: Amount(price.micro() * 100),
                    window: 1 << 20,
                })
                .await;
                raw.send(Message::Unchoke).await;
            }
            (Message::Request(b), _) => {
                let bytes = match mode {
                    Mode::Silent => continue,
                    Mode::Garbage => vec![0xAB; b.length as usize],
                    Mode::Overpriced => {
                        let at = b.index as usize * 65536 + b.begin as usize;
                        data[at..at + b.length as usize].to_vec()
                    }
                };
                let _ = pieces;
                raw.send(Message::Piece {
                    index: b.index,
                    begin: b.begin,
                    data: Bytes::from(bytes),
                })
                .await;
            }
            _ => {}
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sellers_that_send_nothing_or_garbage_are_paid_nothing_and_never_above_the_bid() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let (ledger, _) = EmbeddedLedger::start(&tmp.path().join("ledger"))
        .await
        .expect("ledger");
    let size = 1 << 20;
    let t = engine_util::make_torrent(tmp.path(), "h.bin", &[("h.bin", size)], 65536);
    let data = Arc::new(std::fs::read(tmp.path().join("src").join("h.bin")).expect("payload"));
    let meta = Metainfo::from_file(&t).expect("meta");
    let bid = 100_000u64;
    for mode in [Mode::Silent, Mode::Garbage, Mode::Overpriced] {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let addr = listener.local_addr().expect("addr");
        let key = SigningKey::from_bytes(&[mode as u8 + 10; 32]);
        tokio::spawn(hostile_seller(
            listener,
            meta.info_hash,
            key.clone(),
            ledger.id(),
            mode,
            data.clone(),
            16,
        ));
        let cfg = MarketConfig {
            buyer: bidtorrent::demo::buyer(BuyerStrategy::Fixed, bid),
            ..MarketConfig::default()
        };
        let name = format!("buyer-{mode:?}");
        let buyer = node(tmp.path(), &name, &ledger, cfg, &t, &name, vec![addr], 0).await;
        let torrent = buyer.session.get(&meta.info_hash).expect("torrent");
        let wait = if mode == Mode::Overpriced { 30 } else { 10 };
        let deadline = Instant::now() + Duration::from_secs(wait);
        while Instant::now() < deadline && torrent.stats().phase != Phase::Seeding {
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
        // Let any (wrong) payment go out.
        tokio::time::sleep(Duration::from_secs(1)).await;
        let r = report(&buyer);
        let seller_pk = PublicKey::of(&key).to_string();
        let paid = r
            .channels
            .iter()
            .find(|c| c.seller == seller_pk)
            .map_or(Amount::ZERO, |c| c.paid);
        eprintln!("{mode:?}: paid {paid}, phase {:?}", torrent.stats().phase);
        match mode {
            Mode::Silent | Mode::Garbage => {
                assert_eq!(paid, Amount::ZERO, "{mode:?} seller was paid");
                assert_ne!(torrent.stats().phase, Phase::Seeding);
            }
            Mode::Overpriced => {
                assert_eq!(torrent.stats().phase, Phase::Seeding, "download incomplete");
                assert!(paid > Amount::ZERO, "honest data went unpaid");
                // The whole file at our bid at most, though the award said 100×.
                assert!(
                    paid.micro() <= bid * size as u64 / (1 << 20),
                    "paid {paid} for {size} bytes at a bid of {bid}/MiB"
                );
            }
        }
        buyer.session.shutdown().await;
    }
}
