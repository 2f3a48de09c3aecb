//! Backward compatibility with real clients: a plain Transmission and a plain aria2 leecher
//! complete a download from a bidtorrent seller running `uniform-price` while a bidder is
//! present and winning its market slots (SPEC §4; research A10: the market never starves the
//! classic swarm).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // tests fail loudly

mod support;

use std::sync::Arc;
use std::time::Duration;

use bidtorrent::engine::metainfo::Metainfo;
use bidtorrent::engine::session::{Session, SessionConfig};
use bidtorrent::engine::torrent::{Phase, TorrentOptions};
use bidtorrent::market::config::{BuyerStrategy, SellerStrategy};
use bidtorrent::market::{Market, MarketConfig};
use bidtorrent::wallet::{Amount, EmbeddedLedger, Wallet};
use support::*;

async fn member(
    root: &std::path::Path,
    name: &str,
    ledger: &EmbeddedLedger,
    config: MarketConfig,
    upload_limit: u64,
) -> (Arc<Session>, Market) {
    let wallet = Arc::new(Wallet::open(&root.join(name).join("wallet")).expect("wallet"));
    ledger
        .mint(wallet.public_key(), Amount(100_000_000))
        .await
        .expect("mint");
    let market = Market::new(wallet, ledger.client(), config)
        .await
        .expect("market");
    let session = Session::start(SessionConfig {
        listen: "127.0.0.1:0".parse().expect("addr"),
        data_dir: root.join(name).join("state"),
        download_limit: 0,
        upload_limit,
    })
    .await
    .expect("session");
    session.register_extension(market.factory());
    (session, market)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn transmission_and_aria2_complete_from_a_uniform_price_seller_with_bidders() {
    let ot = Opentracker::start();
    let root = world_readable_tempdir("bt-market-interop");
    let src = root.path().join("seed").join("payload");
    write_payload(&src, &[("a.bin", 2_500_000), ("b.bin", 700_000)], 11);
    let torrent = root.path().join("payload.torrent");
    mktorrent(&src, &torrent, &ot.http_url(), 16);
    ot.whitelist(&info_hash(&torrent));
    let meta = Metainfo::from_file(&torrent).expect("meta");

    let (ledger, _) = EmbeddedLedger::start(&root.path().join("ledger"))
        .await
        .expect("ledger");
    let mut seller_cfg = MarketConfig::default();
    seller_cfg.seller.strategy = SellerStrategy::UniformPrice;
    let seller_cfg = seller_cfg;
    // The seller's upload is the bottleneck, so the transfer lasts long enough for the bidder
    // to win a slot and pay for what comes through it (unlimited, it finishes on free slots
    // before the first award).
    let (seller, seller_market) =
        member(root.path(), "seller", &ledger, seller_cfg, 384 * 1024).await;
    // Transmission ignores loopback peers from trackers: our seeder dials it, learning its
    // address from the tracker on a short interval.
    seller
        .add(
            meta.clone(),
            TorrentOptions {
                download_dir: root.path().join("seed"),
                tracker_interval: Some(Duration::from_secs(1)),
                ..TorrentOptions::default()
            },
        )
        .await
        .expect("seed");
    let bidder_cfg = MarketConfig {
        buyer: bidtorrent::demo::buyer(BuyerStrategy::Fixed, 50_000),
        ..MarketConfig::default()
    };
    let (bidder, bidder_market) = member(root.path(), "bidder", &ledger, bidder_cfg, 0).await;
    bidder
        .add(
            meta.clone(),
            TorrentOptions {
                download_dir: root.path().join("bidder"),
                peers: vec![seller.listen_addr()],
                tracker_interval: Some(Duration::from_secs(1)),
                ..TorrentOptions::default()
            },
        )
        .await
        .expect("bidder");

    let tr_dir = root.path().join("tr");
    let a2_dir = root.path().join("a2");
    let t = torrent.clone();
    let seller_addr = seller.listen_addr();
    let (tr_ok, a2_ok) = tokio::task::spawn_blocking(move || {
        let tr = Transmission::leech(&t, &tr_dir);
        let a2 = Aria2::leech(&t, &a2_dir, &[seller_addr]);
        let a2_ok = a2.wait_complete(Duration::from_secs(90));
        let tr_ok = tr.wait_complete(Duration::from_secs(90));
        if !tr_ok {
            eprintln!("{}\n{}", tr.info(), tr.log_tail());
        }
        if !a2_ok {
            eprintln!("{}", a2.log_tail());
        }
        (tr_ok, a2_ok)
    })
    .await
    .expect("join");
    assert!(
        tr_ok,
        "Transmission did not complete from the market seller"
    );
    assert!(a2_ok, "aria2 did not complete from the market seller");
    assert_same_tree_ignoring_empty(&src, &root.path().join("tr").join("payload"));
    assert_same_tree(&src, &root.path().join("a2").join("payload"));

    // The bidder was in the market meanwhile and paid for what it took from the seller.
    let bt = bidder.get(&meta.info_hash).expect("torrent");
    for _ in 0..100 {
        if bt.stats().phase == Phase::Seeding {
            break;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    assert_eq!(bt.stats().phase, Phase::Seeding);
    // Money moved, and the books of both sides agree: what the bidder paid the seller earned
    // (vouchers trail the pieces a little, so wait for the last one).
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    let (spent, earned) = loop {
        let paid = bidder_market
            .report(&meta.info_hash)
            .map_or(Default::default(), |r| r.spent);
        let got = seller_market
            .report(&meta.info_hash)
            .map_or(Default::default(), |r| r.earned);
        if (paid.micro() > 0 && paid == got) || std::time::Instant::now() > deadline {
            break (paid, got);
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    eprintln!("bidder paid {spent}, seller earned {earned}");
    assert!(spent.micro() > 0, "the bidder paid nothing for its slot");
    assert_eq!(spent, earned, "paid = earned");
    seller.shutdown().await;
    bidder.shutdown().await;
}
