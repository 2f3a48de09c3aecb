//! Dashboard tests: every view rendered from a scripted engine state at 80×24 and 160×48
//! (insta snapshots of the TestBackend buffer), and key sequences driven through the real app
//! loop (`tui::run_loop`), checking both the screen and the commands the engine received.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // tests fail loudly

use bidtorrent::tui::action::Action;
use bidtorrent::tui::app::{App, Focus, Tab, View};
use bidtorrent::tui::keymap::Keymap;
use bidtorrent::tui::source::{Command, DataSource, ScriptedSource, Side};
use bidtorrent::tui::theme::Theme;
use bidtorrent::tui::{Input, fixture, run_loop};
use crossterm::event::{Event, KeyCode, KeyEvent, KeyModifiers};
use ratatui::Terminal;
use ratatui::backend::TestBackend;
use tokio::sync::mpsc;

fn key(c: KeyCode) -> Input {
    Input::Term(Event::Key(KeyEvent::new(c, KeyModifiers::NONE)))
}

/// Each character is one key press; `\n` is Enter and `\x1b` is Esc.
fn keys(s: &str) -> Vec<Input> {
    s.chars()
        .map(|c| match c {
            '\n' => key(KeyCode::Enter),
            '\x1b' => key(KeyCode::Esc),
            c => key(KeyCode::Char(c)),
        })
        .collect()
}

struct Run {
    term: Terminal<TestBackend>,
    app: App,
    src: ScriptedSource,
}

impl Run {
    fn screen(&self) -> String {
        let buf = self.term.backend().buffer();
        let mut s = String::new();
        for y in 0..buf.area.height {
            for x in 0..buf.area.width {
                s.push_str(buf[(x, y)].symbol());
            }
            s.push('\n');
        }
        s
    }
}

/// Runs the app loop over `input` on a `w`×`h` TestBackend, then lets the loop see the end
/// of input (it draws a last frame and returns).
fn drive(
    mut src: ScriptedSource,
    w: u16,
    h: u16,
    input: Vec<Input>,
    prep: impl FnOnce(&mut App),
) -> Run {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .build()
        .unwrap();
    let mut term = Terminal::new(TestBackend::new(w, h)).unwrap();
    let mut app = App::new(src.mode(), Keymap::default(), Theme::default());
    prep(&mut app);
    let (tx, mut rx) = mpsc::unbounded_channel();
    for i in input {
        tx.send(i).unwrap();
    }
    drop(tx);
    rt.block_on(run_loop(
        &mut term,
        &mut app,
        &mut src,
        &mut rx,
        std::time::Duration::from_secs(3600),
    ))
    .unwrap();
    Run { term, app, src }
}

fn fixture() -> ScriptedSource {
    fixture::source(8, 14)
}

/// Rate history for the graphs view, the same on every run.
fn fill_history(app: &mut App) {
    for i in 0..200u64 {
        let h = &mut app.history;
        h.down.push_back((i * 7919 % 97) * 100_000);
        h.up.push_back((i * 104_729 % 89) * 30_000);
        h.spend.push_back(i * 31 % 53 * 100);
        h.earn.push_back(i * 17 % 41 * 100);
    }
}

const SIZES: [(u16, u16); 2] = [(80, 24), (160, 48)];

fn snapshot_view(name: &str, input: &str) {
    for (w, h) in SIZES {
        let r = drive(fixture(), w, h, keys(input), fill_history);
        insta::assert_snapshot!(format!("{name}_{w}x{h}"), r.screen());
    }
}

#[test]
fn view_torrents_peers() {
    snapshot_view("torrents_peers", "");
}

#[test]
fn view_market() {
    snapshot_view("market", "M");
}

#[test]
fn view_pieces() {
    snapshot_view("pieces", "I");
}

#[test]
fn view_files() {
    snapshot_view("files", "F");
}

#[test]
fn view_trackers() {
    snapshot_view("trackers", "T");
}

#[test]
fn view_wallet() {
    snapshot_view("wallet", "2");
}

#[test]
fn view_graphs() {
    snapshot_view("graphs", "3");
}

#[test]
fn view_help() {
    snapshot_view("help", "?");
}

#[test]
fn view_filter_prompt() {
    snapshot_view("filter_prompt", "/iso");
}

#[test]
fn view_confirm_remove() {
    snapshot_view("confirm_remove", " d");
}

#[test]
fn view_strategy_picker() {
    snapshot_view("strategy_picker", "s");
}

#[test]
fn view_empty() {
    for (w, h) in SIZES {
        let r = drive(fixture::source(0, 0), w, h, vec![], |_| {});
        insta::assert_snapshot!(format!("empty_{w}x{h}"), r.screen());
    }
}

#[test]
fn too_small_says_so() {
    let r = drive(fixture(), 40, 10, vec![], |_| {});
    assert!(r.screen().contains("terminal too small"), "{}", r.screen());
}

#[test]
fn every_view_usable_at_80x24() {
    // Each view at the minimum size shows its own content, not a "too small" notice.
    for (input, expect) in [
        ("", "Address"),
        ("M", "clearing"),
        ("I", "pieces"),
        ("F", "Prio"),
        ("T", "Tier"),
        ("2", "available"),
        ("3", "download"),
    ] {
        let r = drive(fixture(), 80, 24, keys(input), |_| {});
        let s = r.screen();
        assert!(s.contains(expect), "{input:?}: {s}");
        assert!(s.contains("SCRIPTED"), "mode badge always shown: {s}");
    }
}

#[test]
fn select_mark_and_bulk_pause() {
    // Sorted by name: archlinux, big-buck-bunny, debian, fedora, linux, osm, sintel, ubuntu.
    let r = drive(fixture(), 160, 48, keys("j  p"), |_| {});
    let expected: Vec<String> = [
        "big-buck-bunny-1080p.mkv",
        "debian-13.1.0-amd64-netinst.iso",
    ]
    .iter()
    .map(|n| {
        r.src
            .state
            .torrents
            .iter()
            .find(|t| t.name == *n)
            .unwrap()
            .id
            .clone()
    })
    .collect();
    let mut got = match r.src.log.last() {
        Some(Command::Pause(ids)) => ids.clone(),
        other => panic!("expected a pause, got {other:?}"),
    };
    got.sort();
    let mut want = expected.clone();
    want.sort();
    assert_eq!(got, want);
    for id in &expected {
        let t = r.src.state.torrents.iter().find(|t| &t.id == id).unwrap();
        assert_eq!(t.state, "paused");
    }
    assert_eq!(r.app.marked.len(), 2);
    assert!(r.screen().contains("2 marked"));
    // The cursor moved past the marks onto the third row.
    assert_eq!(r.app.selected().unwrap().name, "fedora-workstation-43.iso");
}

#[test]
fn filter_by_name_and_state() {
    let r = drive(fixture(), 160, 48, keys("/iso\n"), |_| {});
    let names: Vec<&str> = r
        .app
        .visible()
        .iter()
        .map(|&i| r.app.snapshot.torrents[i].name.as_str())
        .collect();
    assert_eq!(
        names,
        [
            "archlinux-2025.11.01-x86_64.iso",
            "debian-13.1.0-amd64-netinst.iso",
            "fedora-workstation-43.iso",
            "ubuntu-24.04.3-desktop-amd64.iso"
        ]
    );
    assert!(r.screen().contains("filter: iso"));

    let r = drive(fixture(), 160, 48, keys("/state:seed\n"), |_| {});
    assert!(
        r.app
            .visible()
            .iter()
            .all(|&i| r.app.snapshot.torrents[i].state == "seeding")
    );
    assert!(!r.app.visible().is_empty());

    // Esc while typing restores the previous filter (none).
    let r = drive(fixture(), 160, 48, keys("/zzz\x1b"), |_| {});
    assert_eq!(r.app.visible().len(), 8);
    assert!(r.app.filter.is_empty());
}

#[test]
fn sort_by_columns() {
    let r = drive(fixture(), 160, 48, keys("oO"), |_| {});
    // One `o` from name goes to size; `O` makes it descending.
    let sizes: Vec<u64> = r
        .app
        .visible()
        .iter()
        .map(|&i| r.app.snapshot.torrents[i].size)
        .collect();
    assert!(sizes.windows(2).all(|w| w[0] >= w[1]), "{sizes:?}");
    assert!(r.screen().contains("Size▼"));

    let r = drive(fixture(), 160, 48, keys(":sort peers\n"), |_| {});
    let peers: Vec<usize> = r
        .app
        .visible()
        .iter()
        .map(|&i| r.app.snapshot.torrents[i].peers)
        .collect();
    assert!(peers.windows(2).all(|w| w[0] <= w[1]), "{peers:?}");
}

#[test]
fn change_strategy_and_price_from_keyboard() {
    // The buyer picker opens on the current strategy (fixed); Esc cancels without a command.
    // Then three rows down from "fixed" is "target-rate": pick it, raise its cap twice, lower
    // it once.
    let r = drive(fixture(), 160, 48, keys("sgk\x1bsjjj\n++-"), |_| {});
    type Set = (Side, String, Vec<(String, String)>);
    let strategies: Vec<Set> = r
        .src
        .log
        .iter()
        .filter_map(|c| match c {
            Command::Strategy {
                side, name, params, ..
            } => Some((*side, name.clone(), params.clone())),
            _ => None,
        })
        .collect();
    assert_eq!(strategies.len(), 4, "{strategies:?}");
    assert_eq!(strategies[0].1, "target-rate");
    // Parameters use the market config's keys and units (tokens as decimal strings), so the
    // engine takes them as sent.
    let max_price = |i: usize| -> String {
        strategies[i]
            .2
            .iter()
            .find(|(k, _)| k == "max_price")
            .unwrap()
            .1
            .clone()
    };
    assert_eq!(max_price(0), "1.000000");
    assert_eq!(max_price(1), "1.100000");
    assert_eq!(max_price(2), "1.210000");
    assert_eq!(max_price(3), "1.100000");
    let screen = r.screen();
    assert!(
        screen.contains("target-rate (target_rate=1048576 max_price=1.100000)"),
        "{screen}"
    );
    assert_eq!(r.app.tab, Tab::Market);
}

#[test]
fn seller_strategy_from_command_line() {
    let r = drive(
        fixture(),
        160,
        48,
        keys(":strategy proportional reserve_price=0.00025\n"),
        |_| {},
    );
    match r.src.log.last() {
        Some(Command::Strategy {
            side, name, params, ..
        }) => {
            assert_eq!(*side, Side::Seller);
            assert_eq!(name, "proportional");
            assert!(params.contains(&("reserve_price".into(), "0.00025".into())));
        }
        other => panic!("{other:?}"),
    }
    let r = drive(fixture(), 160, 48, keys(":strategy cheapest\n"), |_| {});
    assert!(r.screen().contains("unknown buyer strategy"));
    assert!(r.src.log.is_empty());
}

#[test]
fn remove_asks_first() {
    // Declined: nothing removed.
    let r = drive(fixture(), 80, 24, keys("dn"), |_| {});
    assert!(r.src.log.is_empty());
    assert_eq!(r.app.snapshot.torrents.len(), 8);
    assert!(r.screen().contains("remove cancelled"));

    // Confirmed: the marked two go, the rest stay.
    let r = drive(fixture(), 80, 24, keys("  dy"), |_| {});
    assert!(
        matches!(r.src.log.last(), Some(Command::Remove { ids, delete_data: false }) if ids.len() == 2)
    );
    assert_eq!(r.app.snapshot.torrents.len(), 6);
    assert!(r.app.marked.is_empty());
    assert!(r.screen().contains("removed 2"));
}

#[test]
fn add_from_prompt_and_paste() {
    let r = drive(fixture(), 160, 48, keys("a/tmp/new.torrent\n"), |_| {});
    assert!(
        matches!(r.src.log.last(), Some(Command::Add { source, .. }) if source == "/tmp/new.torrent")
    );
    assert_eq!(r.app.snapshot.torrents.len(), 9);

    // A pasted magnet opens the add prompt with it.
    let mut input = vec![Input::Term(Event::Paste(
        "magnet:?xt=urn:btih:0123456789abcdef0123456789abcdef01234567".into(),
    ))];
    input.extend(keys("\n"));
    let r = drive(fixture(), 160, 48, input, |_| {});
    assert!(
        matches!(r.src.log.last(), Some(Command::Add { source, .. }) if source.starts_with("magnet:"))
    );

    // A bad item is reported, the dashboard goes on.
    let r = drive(fixture(), 160, 48, keys("anot-a-torrent\n"), |_| {});
    assert!(r.screen().contains("not a .torrent file or magnet link"));
}

#[test]
fn file_priority_from_files_tab() {
    let r = drive(fixture(), 160, 48, keys("F\njf"), |_| {});
    assert_eq!(r.app.focus, Focus::Detail);
    match r.src.log.last() {
        Some(Command::FilePriority {
            files, priority, ..
        }) => {
            assert_eq!(files, &[1]);
            // File 2 was high; the cycle goes high → low.
            assert_eq!(priority.as_str(), "low");
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn pieces_map_moves_between_polls() {
    let mut src = fixture();
    src.live = true;
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .build()
        .unwrap();
    let id = fixture::torrent(2).id;
    let a = rt.block_on(src.snapshot(Some(&id))).unwrap();
    let b = rt.block_on(src.snapshot(Some(&id))).unwrap();
    let have = |s: &bidtorrent::tui::source::Snapshot| {
        s.detail
            .as_ref()
            .unwrap()
            .pieces
            .have
            .iter()
            .filter(|h| **h)
            .count()
    };
    assert_eq!(have(&b), have(&a) + 1);
}

#[test]
fn help_lists_live_keymap_with_overrides() {
    let text = "[tui.keys]\nhelp = \"H\"\nquit = [\"x\", \"ctrl-q\"]\n";
    let cfg = bidtorrent::tui::parse_config("config.toml", text);
    assert!(cfg.warnings.is_empty(), "{:?}", cfg.warnings);
    let km = cfg.keymap;
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .build()
        .unwrap();
    let mut term = Terminal::new(TestBackend::new(160, 48)).unwrap();
    let mut src = fixture();
    let mut app = App::new(src.mode(), km, Theme::default());
    let (tx, mut rx) = mpsc::unbounded_channel();
    tx.send(key(KeyCode::Char('H'))).unwrap();
    drop(tx);
    rt.block_on(run_loop(
        &mut term,
        &mut app,
        &mut src,
        &mut rx,
        std::time::Duration::from_secs(3600),
    ))
    .unwrap();
    let buf = term.backend().buffer();
    let screen: String = (0..buf.area.height)
        .map(|y| {
            (0..buf.area.width)
                .map(|x| buf[(x, y)].symbol())
                .collect::<String>()
                + "\n"
        })
        .collect();
    assert!(app.help);
    assert!(screen.contains("ctrl-q x"), "{screen}");
    assert!(screen.contains(Action::Quit.help()));
}

#[test]
fn bad_config_reports_line_and_starts_with_defaults() {
    let text = "[net]\nlisten = 1\n\n[tui]\ntheme = \"dusk\"\nmouse = true\n\n[tui.keys]\nquit = \"hyper-q\"\nfly = \"f\"\n";
    let cfg = bidtorrent::tui::parse_config("c.toml", text);
    assert_eq!(cfg.theme.as_deref(), Some("dusk"));
    assert!(cfg.mouse);
    assert_eq!(cfg.warnings.len(), 2, "{:?}", cfg.warnings);
    assert!(
        cfg.warnings
            .iter()
            .any(|w| w.contains("line 10") && w.contains("fly"))
    );
    assert!(
        cfg.warnings
            .iter()
            .any(|w| w.contains("line 9") && w.contains("hyper-q"))
    );
    // Quit keeps its default keys.
    assert_eq!(
        cfg.keymap
            .action(&KeyEvent::new(KeyCode::Char('q'), KeyModifiers::NONE)),
        Some(Action::Quit)
    );

    let cfg = bidtorrent::tui::parse_config("c.toml", "[tui]\ntheme = \"dusk\"\nbogus = 1\n");
    assert_eq!(cfg.warnings.len(), 1);
    assert!(
        cfg.warnings[0].contains("line 1") && cfg.warnings[0].contains("bogus"),
        "{:?}",
        cfg.warnings
    );

    let cfg = bidtorrent::tui::parse_config("c.toml", "[tui\n");
    assert!(cfg.warnings[0].contains("line 1"), "{:?}", cfg.warnings);
}

#[test]
fn view_switching_keys() {
    let r = drive(fixture(), 80, 24, keys("2"), |_| {});
    assert_eq!(r.app.view, View::Wallet);
    let r = drive(fixture(), 80, 24, keys("23l"), |_| {});
    assert_eq!(r.app.view, View::Torrents);
    assert_eq!(r.app.tab, Tab::Market);
}

/// A market report as the engine produces it (`Market::report`), run through the same
/// conversion every source uses, so the Market and Peers tabs are checked on real shapes.
fn fixture_from_report() -> ScriptedSource {
    use bidtorrent::market::config::{BuyerConfig, BuyerStrategy, SellerConfig, Tokens};
    use bidtorrent::market::extension::BuyChannel;
    use bidtorrent::market::{MarketReport, PeerMarket};
    use bidtorrent::tui::market_view;
    use bidtorrent::wallet::Amount;
    let mut src = fixture();
    let pm = |key: usize, addr: &str| PeerMarket {
        key,
        addr: addr.into(),
        public_key: format!("{key:064x}"),
        bid: None,
        awarded: None,
        earned: Amount::ZERO,
        unpaid_bytes: 0,
        strikes: 0,
        my_bid: None,
        my_award: None,
        paid: Amount::ZERO,
        acked: Amount::ZERO,
    };
    for d in &mut src.details {
        let addrs: Vec<String> = d.peers.iter().map(|p| p.addr.clone()).collect();
        let mut peers = Vec::new();
        if let Some(a) = addrs.first() {
            // A seller we buy from: our bid, its award, what we paid and it acknowledged.
            peers.push(PeerMarket {
                my_bid: Some(Amount(200_000)),
                my_award: Some(Amount(150_000)),
                paid: Amount(1_250_000),
                acked: Amount(1_100_000),
                ..pm(1, a)
            });
        }
        if let Some(a) = addrs.get(1) {
            // A buyer bidding to us, awarded, paying, with some unpaid delivery.
            peers.push(PeerMarket {
                bid: Some(Amount(150_000)),
                awarded: Some(Amount(150_000)),
                earned: Amount(300_000),
                unpaid_bytes: 512 * 1024,
                ..pm(2, a)
            });
        }
        if let Some(a) = addrs.get(2) {
            // A buyer that lost the auction.
            peers.push(PeerMarket {
                bid: Some(Amount(20_000)),
                ..pm(3, a)
            });
        }
        let report = MarketReport {
            buyer_strategy: "fixed".into(),
            seller_strategy: "uniform-price".into(),
            clearing: Amount(150_000),
            spent: Amount(1_250_000),
            earned: Amount(300_000),
            bought: 8 << 20,
            banned: 0,
            channels: vec![BuyChannel {
                seller: format!("{:064x}", 1),
                channel: Some("c0ffee00112233445566".into()),
                paid: Amount(1_250_000),
                acked: Amount(1_100_000),
            }],
            peers,
        };
        let buyer = BuyerConfig {
            strategy: BuyerStrategy::Fixed,
            price: Tokens(Amount(200_000)),
            ..BuyerConfig::default()
        };
        d.market = market_view::market_view(&buyer, &SellerConfig::default(), Some(&report));
        let by_addr = market_view::peer_markets(&report);
        for p in &mut d.peers {
            p.market = by_addr.get(&p.addr).cloned();
        }
    }
    src
}

#[test]
fn view_market_and_peers_from_a_market_report() {
    for (w, h) in SIZES {
        let r = drive(fixture_from_report(), w, h, keys("M"), fill_history);
        let s = r.screen();
        assert!(s.contains("fixed (price=0.200000)"), "{s}");
        insta::assert_snapshot!(format!("market_report_{w}x{h}"), s);
        let r = drive(fixture_from_report(), w, h, keys(""), fill_history);
        insta::assert_snapshot!(format!("peers_report_{w}x{h}"), r.screen());
    }
}

#[test]
fn market_off_says_why() {
    let mut src = fixture();
    for d in &mut src.details {
        d.market.active = false;
        d.market.note = Some("market unavailable: ledger 127.0.0.1:7171: refused".into());
    }
    let r = drive(src, 160, 48, keys("M"), fill_history);
    let s = r.screen();
    assert!(
        s.contains("market unavailable: ledger 127.0.0.1:7171: refused — strategies apply"),
        "{s}"
    );
}
