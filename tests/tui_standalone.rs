//! The standalone dashboard: the application core's controller in this process, behind the
//! same [`ControlSource`] the attached dashboard uses. Add a multi-file torrent, see it in
//! snapshots with its files and trackers, pause and resume it, skip a file, and remove it; a
//! magnet link from a local seeder; the config's listen address; the market.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // tests fail loudly

use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use bidtorrent::config::Config;
use bidtorrent::engine::create::{CreateOptions, create_torrent};
use bidtorrent::rpc::Controller;
use bidtorrent::rpc::control::Local;
use bidtorrent::rpc::host::{HostOptions, start_controller};
use bidtorrent::tui::control_source::ControlSource;
use bidtorrent::tui::source::{Command, DataSource, Mode, Priority, Snapshot};

type StandaloneSource = ControlSource<Local>;

/// A config for tests: loopback, a free port, no DHT.
fn test_config(download_dir: &Path) -> Config {
    let mut cfg = Config {
        listen: "127.0.0.1:0".parse().unwrap(),
        download_dir: download_dir.display().to_string(),
        ..Config::default()
    };
    cfg.dht.enabled = false;
    cfg
}

/// The standalone dashboard's source, started as `bidtorrent --standalone` starts it.
async fn standalone(cfg: &Config, data_dir: &Path) -> (StandaloneSource, Arc<Controller>) {
    let ctl = start_controller(
        cfg,
        data_dir,
        HostOptions {
            any_port_if_taken: true,
            ..HostOptions::default()
        },
    )
    .await
    .unwrap();
    let src = ControlSource::new(
        Local(ctl.clone()),
        Mode::Standalone {
            note: "test".into(),
        },
    );
    (src, ctl)
}

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

    let cfg = test_config(&dir.path().join("data"));
    let (mut src, ctl) = standalone(&cfg, &dir.path().join("state")).await;
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
    ctl.finish().await;
    // Standalone writes no session file unless asked to.
    assert!(!dir.path().join("state/session.json").exists());
}

/// With `[market] enabled = true` in the config (set up by `host::start_market`), the
/// standalone source trades in-process: the Market tab is live and strategies picked from the
/// keyboard change the engine's market, in its units.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn standalone_with_the_market_sets_strategies_in_the_engine() {
    use bidtorrent::rpc::proto::{self, StrategyArgs};
    use bidtorrent::wallet::EmbeddedLedger;
    let effective = |ctl: Arc<Controller>, id: String| async move {
        let v = ctl
            .handle(proto::Command::Strategy(StrategyArgs {
                torrent: Some(id),
                ..StrategyArgs::default()
            }))
            .await
            .unwrap();
        serde_json::from_value::<proto::StrategyInfo>(v).unwrap()
    };
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
    let (ledger, ledger_addr) = EmbeddedLedger::start(&dir.path().join("ledger"))
        .await
        .unwrap();
    // `[market] enabled = true` with a ledger that answers: the controller trades in-process,
    // set up exactly as the daemon does.
    let mut cfg = test_config(&dir.path().join("data"));
    cfg.market.enabled = true;
    cfg.market.ledger = ledger_addr.to_string();
    let (mut src, ctl) = standalone(&cfg, &dir.path().join("state")).await;
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
    let eff = effective(ctl.clone(), id.clone()).await;
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
        effective(ctl.clone(), id.clone())
            .await
            .buyer
            .strategy
            .to_string(),
        "auto"
    );
    ctl.finish().await;
    let _ = ledger.shutdown().await;
}

/// One mapping from engine state to rows: a peer shows the same flags in `peers --json` (the
/// real binary over the control socket), the attached dashboard and the standalone one, all
/// looking at the same controller.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_peer_shows_the_same_flags_everywhere() {
    use bidtorrent::rpc::control::Socket;
    use bidtorrent::rpc::proto::{self, LimitArgs};
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("seed/payload");
    std::fs::create_dir_all(&data).unwrap();
    let payload: Vec<u8> = (0..4u32 << 20)
        .map(|i| (i >> 7) as u8 ^ (i as u8))
        .collect();
    std::fs::write(data.join("p.bin"), &payload).unwrap();
    let bytes = create_torrent(
        &data,
        &CreateOptions {
            piece_length: Some(16384),
            ..CreateOptions::default()
        },
        |_, _| {},
    )
    .unwrap();
    let tpath = dir.path().join("p.torrent");
    std::fs::write(&tpath, bytes).unwrap();

    // The seeder: a controller of its own.
    let (mut seed_src, seed_ctl) = standalone(
        &test_config(&dir.path().join("seed")),
        &dir.path().join("s1"),
    )
    .await;
    seed_src
        .command(Command::Add {
            source: tpath.display().to_string(),
            dir: None,
            paused: false,
            peers: vec![],
        })
        .await
        .unwrap();
    until(&mut seed_src, None, "seeding", |s| {
        s.torrents.first().is_some_and(|t| t.state == "seeding")
    })
    .await;
    let seed_port = seed_ctl.session.listen_port();

    // The leecher, slowed so the connection stays up while we look, served on a socket too.
    let (mut src, ctl) =
        standalone(&test_config(&dir.path().join("dl")), &dir.path().join("s2")).await;
    ctl.handle(proto::Command::Limit(LimitArgs {
        torrent: None,
        down: Some(64 * 1024),
        up: None,
    }))
    .await
    .unwrap();
    let sock = dir.path().join("ctl.sock");
    let listener = tokio::net::UnixListener::bind(&sock).unwrap();
    let (_stop_tx, stop_rx) = tokio::sync::watch::channel(false);
    tokio::spawn(bidtorrent::rpc::server::serve(
        listener,
        ctl.clone(),
        stop_rx,
    ));
    src.command(Command::Add {
        source: tpath.display().to_string(),
        dir: None,
        paused: false,
        peers: vec![format!("127.0.0.1:{seed_port}")],
    })
    .await
    .unwrap();
    let s = until(&mut src, None, "downloading", |s| {
        s.torrents.first().is_some_and(|t| t.progress > 0.0)
    })
    .await;
    let id = s.torrents[0].id.clone();
    let s2 = sock.clone();
    let attached_control = tokio::task::spawn_blocking(move || Socket::connect(s2))
        .await
        .unwrap()
        .unwrap();
    let mut attached = ControlSource::new(attached_control, Mode::Attached(sock.clone()));

    let peer = format!("127.0.0.1:{seed_port}");
    let mut last = String::new();
    for _ in 0..20 {
        let cli = tokio::process::Command::new(env!("CARGO_BIN_EXE_bidtorrent"))
            .args(["--socket"])
            .arg(&sock)
            .args(["peers", "1", "--json"])
            .output()
            .await
            .unwrap();
        assert!(
            cli.status.success(),
            "{}",
            String::from_utf8_lossy(&cli.stderr)
        );
        let list: proto::PeerList = serde_json::from_slice(&cli.stdout).unwrap();
        let cli_flags = list
            .peers
            .iter()
            .find(|p| p.addr == peer)
            .map(|p| p.flags.clone());
        let flags_of = |s: Snapshot| {
            s.detail
                .and_then(|d| d.peers.into_iter().find(|p| p.addr == peer))
                .map(|p| p.flags)
        };
        let a = flags_of(attached.snapshot(Some(&id)).await.unwrap());
        let b = flags_of(src.snapshot(Some(&id)).await.unwrap());
        last = format!("cli {cli_flags:?}, attached {a:?}, standalone {b:?}");
        if let Some(f) = &cli_flags
            && cli_flags == a
            && a == b
        {
            // We dial the seeder, it unchokes us, and it speaks the fast extension.
            assert!(
                f.contains('D') && f.contains('O') && f.contains('F'),
                "{last}"
            );
            ctl.finish().await;
            seed_ctl.finish().await;
            return;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("flags never agreed: {last}");
}
