//! The standalone source over a real in-process engine: add a multi-file torrent, see it in
//! snapshots with its files and trackers, pause and resume it (stop + re-add from resume
//! data), skip a file, and remove it.

use std::time::{Duration, Instant};

use bidtorrent::engine::create::{CreateOptions, create_torrent};
use bidtorrent::rpc::server::MarketSetup;
use bidtorrent::tui::source::{Command, DataSource, Mode, Priority, Snapshot};
use bidtorrent::tui::standalone::StandaloneSource;

async fn until(
    src: &mut StandaloneSource,
    focus: Option<&str>,
    what: &str,
    f: impl Fn(&Snapshot) -> bool,
) -> Snapshot {
    let start = Instant::now();
    loop {
        let s = src.snapshot(focus).await.unwrap();
        if f(&s) {
            return s;
        }
        assert!(
            start.elapsed() < Duration::from_secs(10),
            "waited for {what}: {s:?}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn standalone_add_pause_resume_prioritise_remove() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data/album");
    std::fs::create_dir_all(&data).unwrap();
    std::fs::write(data.join("a.bin"), vec![1u8; 100_000]).unwrap();
    std::fs::write(data.join("b.bin"), vec![2u8; 50_000]).unwrap();
    let opts = CreateOptions {
        trackers: vec![vec!["http://127.0.0.1:9/announce".into()]],
        piece_length: Some(16384),
        ..CreateOptions::default()
    };
    let bytes = create_torrent(&data, &opts, |_, _| {}).unwrap();
    let tpath = dir.path().join("album.torrent");
    std::fs::write(&tpath, bytes).unwrap();

    let mut src = StandaloneSource::start(
        "127.0.0.1:0".parse().unwrap(),
        &dir.path().join("state"),
        dir.path().join("data"),
        (0, 0),
        "test".into(),
        MarketSetup::default(),
    )
    .await
    .unwrap();
    assert!(matches!(src.mode(), Mode::Standalone { .. }));

    // A bad item is an error, the source carries on.
    let e = src
        .command(Command::Add {
            source: dir.path().join("nope.torrent").display().to_string(),
            dir: None,
            paused: false,
            peers: vec![],
        })
        .await
        .unwrap_err();
    assert!(format!("{e:#}").contains("nope.torrent"));

    let reply = src
        .command(Command::Add {
            source: tpath.display().to_string(),
            dir: None,
            paused: false,
            peers: vec![],
        })
        .await
        .unwrap();
    assert!(reply.contains("album"), "{reply}");
    let s = until(&mut src, None, "seeding", |s| {
        s.torrents.first().is_some_and(|t| t.state == "seeding")
    })
    .await;
    let id = s.torrents[0].id.clone();
    assert_eq!(s.torrents[0].size, 150_000);
    assert_eq!(s.torrents[0].progress, 1.0);
    // No wallet in a fresh data dir: said so, nothing created.
    assert_eq!(
        s.wallet.status,
        bidtorrent::tui::source::WalletStatus::Missing
    );
    assert!(!dir.path().join("state/wallet").exists());

    let s = src.snapshot(Some(&id)).await.unwrap();
    let d = s.detail.unwrap();
    assert_eq!(d.files.len(), 2);
    assert!(d.files.iter().all(|f| f.progress == 1.0));
    assert_eq!(d.trackers.len(), 1);
    assert_eq!(d.pieces.len(), 150_000usize.div_ceil(16384));
    assert!(d.pieces.have.iter().all(|h| *h));
    assert!(!d.market.active);
    assert_eq!(d.market.buyer.name, "off");

    src.command(Command::Pause(vec![id.clone()])).await.unwrap();
    until(&mut src, None, "paused", |s| {
        s.torrents.len() == 1 && s.torrents[0].state == "paused"
    })
    .await;
    src.command(Command::Resume(vec![id.clone()]))
        .await
        .unwrap();
    until(&mut src, None, "seeding again", |s| {
        s.torrents.len() == 1 && s.torrents[0].state == "seeding"
    })
    .await;

    src.command(Command::FilePriority {
        id: id.clone(),
        files: vec![1],
        priority: Priority::Skip,
    })
    .await
    .unwrap();
    let s = src.snapshot(Some(&id)).await.unwrap();
    assert_eq!(s.detail.unwrap().files[1].priority, Priority::Skip);

    let r = src
        .command(Command::Strategy {
            ids: vec![id.clone()],
            side: bidtorrent::tui::source::Side::Buyer,
            name: "fixed".into(),
            params: vec![("price".into(), "1000".into())],
        })
        .await
        .unwrap();
    assert!(r.contains("market off"), "{r}");
    let s = src.snapshot(Some(&id)).await.unwrap();
    assert_eq!(s.detail.unwrap().market.buyer.name, "fixed");

    src.command(Command::Remove {
        ids: vec![id.clone()],
        delete_data: false,
    })
    .await
    .unwrap();
    until(&mut src, None, "removed", |s| s.torrents.is_empty()).await;
    src.shutdown().await;
}

/// With a market set up (as `daemon::start_market` does from `[market] enabled = true`), the
/// standalone source trades in-process: the Market tab is live and strategies picked from the
/// keyboard change the engine's market, in its units.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn standalone_with_the_market_sets_strategies_in_the_engine() {
    use bidtorrent::market::{Market, MarketConfig};
    use bidtorrent::wallet::{EmbeddedLedger, Wallet};
    use std::sync::Arc;
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data/one");
    std::fs::create_dir_all(&data).unwrap();
    std::fs::write(data.join("x.bin"), vec![7u8; 60_000]).unwrap();
    let bytes = create_torrent(
        &data,
        &CreateOptions {
            piece_length: Some(16384),
            ..CreateOptions::default()
        },
        |_, _| {},
    )
    .unwrap();
    let tpath = dir.path().join("one.torrent");
    std::fs::write(&tpath, bytes).unwrap();
    let (ledger, _) = EmbeddedLedger::start(&dir.path().join("ledger"))
        .await
        .unwrap();
    let wallet = Arc::new(Wallet::open(&dir.path().join("state/wallet")).unwrap());
    let market = Market::new(wallet.clone(), ledger.client(), MarketConfig::default())
        .await
        .unwrap();
    let setup = MarketSetup {
        enabled: true,
        market: Some(market.clone()),
        unavailable: None,
        wallet: Some(wallet),
        ledger_addr: "embedded".into(),
    };
    let mut src = StandaloneSource::start(
        "127.0.0.1:0".parse().unwrap(),
        &dir.path().join("state"),
        dir.path().join("data"),
        (0, 0),
        "test".into(),
        setup,
    )
    .await
    .unwrap();
    src.command(Command::Add {
        source: tpath.display().to_string(),
        dir: None,
        paused: false,
        peers: vec![],
    })
    .await
    .unwrap();
    let s = until(&mut src, None, "seeding", |s| {
        s.torrents.first().is_some_and(|t| t.state == "seeding")
    })
    .await;
    let id = s.torrents[0].id.clone();
    // Complete and selling under the default uniform-price seller.
    assert_eq!(
        s.torrents[0].market.as_ref().map(|m| m.role.as_str()),
        Some("seller")
    );
    assert_eq!(s.wallet.status, bidtorrent::tui::source::WalletStatus::Ok);
    let r = src
        .command(Command::Strategy {
            ids: vec![id.clone()],
            side: bidtorrent::tui::source::Side::Seller,
            name: "proportional".into(),
            params: vec![("reserve_price".into(), "0.002".into())],
        })
        .await
        .unwrap();
    assert!(r.contains("proportional"), "{r}");
    let ih = bidtorrent::engine::types::InfoHash::from_hex(&id).unwrap();
    let eff = market.strategy(Some(&ih));
    assert_eq!(eff.seller.strategy.to_string(), "proportional");
    assert_eq!(eff.seller.reserve_price.0.0, 2_000);
    let d = src.snapshot(Some(&id)).await.unwrap().detail.unwrap();
    assert!(d.market.active);
    assert_eq!(d.market.seller.name, "proportional");
    assert!(
        d.market
            .seller
            .params
            .contains(&("reserve_price".into(), "0.002000".into()))
    );
    // A bad parameter is refused by the market and changes nothing.
    let e = src
        .command(Command::Strategy {
            ids: vec![id.clone()],
            side: bidtorrent::tui::source::Side::Buyer,
            name: "fixed".into(),
            params: vec![("price".into(), "abc".into())],
        })
        .await
        .unwrap_err();
    assert!(format!("{e:#}").contains("price"), "{e:#}");
    assert_eq!(
        market.strategy(Some(&ih)).buyer.strategy.to_string(),
        "auto"
    );
    src.shutdown().await;
    let _ = ledger.shutdown().await;
}
