//! Render benchmark (SPEC §7: one frame with 1 000 torrents and 200 peers in under 2 ms).
//!
//!     cargo bench --bench render
//!
//! Draws full frames of the dashboard from a scripted state (1 000 torrents, the focused one
//! with 200 peers and a 1 200-piece map) on ratatui's TestBackend, moving the cursor every
//! frame so each one differs, and reports mean and p99 per frame for each tab and size. The
//! time covers layout, widget rendering and the buffer diff: everything but the terminal's
//! own write, which a TestBackend does not do.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // tests fail loudly

use std::time::{Duration, Instant};

use bidtorrent::tui::action::Action;
use bidtorrent::tui::app::App;
use bidtorrent::tui::fixture;
use bidtorrent::tui::keymap::Keymap;
use bidtorrent::tui::source::DataSource;
use bidtorrent::tui::theme::Theme;
use bidtorrent::tui::views;
use ratatui::Terminal;
use ratatui::backend::TestBackend;

fn bench(label: &str, w: u16, h: u16, tab: Option<Action>, frames: usize) -> (f64, f64) {
    let rt = tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap();
    let mut src = fixture::source(1000, 200);
    let mut app = App::new(src.mode(), Keymap::default(), Theme::default());
    let first = rt.block_on(src.snapshot(None)).unwrap();
    app.on_snapshot(first, true);
    if let Some(a) = tab {
        app.update(a);
    }
    // Every frame shows the same focused torrent's 200 peers (a detail only the first eight
    // torrents have) while the table scrolls through all 1 000 rows.
    let focus = fixture::torrent(0).id;
    let mut snap = rt.block_on(src.snapshot(Some(&focus))).unwrap();
    let detail = snap.detail.take().unwrap();
    assert_eq!(detail.peers.len(), 200);
    let mut term = Terminal::new(TestBackend::new(w, h)).unwrap();
    let mut times = Vec::with_capacity(frames);
    for i in 0..frames + 50 {
        app.update(if (i / 500) % 2 == 0 {
            Action::Down
        } else {
            Action::Up
        });
        let mut s = snap.clone();
        s.detail = Some(detail.clone());
        s.detail.as_mut().unwrap().id = app.focus_id().unwrap();
        app.on_snapshot(s, true);
        let t = Instant::now();
        term.draw(|f| views::render(f, &app)).unwrap();
        let e = t.elapsed();
        if i >= 50 {
            times.push(e);
        }
    }
    times.sort();
    let mean = times.iter().sum::<Duration>().as_secs_f64() / times.len() as f64;
    let p99 = times[times.len() * 99 / 100].as_secs_f64();
    let median = times[times.len() / 2].as_secs_f64();
    println!(
        "{label:<24} {w:>3}x{h:<3} mean {:>7.1} µs  median {:>7.1} µs  p99 {:>7.1} µs",
        mean * 1e6,
        median * 1e6,
        p99 * 1e6
    );
    (mean, p99)
}

fn main() {
    // `cargo bench` passes `--bench`; `cargo test --benches` passes nothing of ours.
    if !std::env::args().any(|a| a == "--bench") {
        println!("render benchmark: run it with `cargo bench --bench render`");
        return;
    }
    let frames = std::env::var("BENCH_FRAMES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(2000);
    println!("1000 torrents, focused torrent with 200 peers and 1200 pieces, {frames} frames each");
    if let Ok(l) = std::fs::read_to_string("/proc/loadavg") {
        // Shared machines skew the tail; say how busy this one was.
        println!("load average: {}", l.trim());
    }
    let mut worst: f64 = 0.0;
    for (w, h) in [(160, 48), (80, 24), (240, 70)] {
        for (label, tab) in [
            ("torrents + peers tab", None),
            ("torrents + market tab", Some(Action::TabMarket)),
            ("torrents + pieces tab", Some(Action::TabPieces)),
            ("wallet view", Some(Action::ViewWallet)),
            ("graphs view", Some(Action::ViewGraphs)),
        ] {
            let (_, p99) = bench(label, w, h, tab, frames);
            worst = worst.max(p99);
        }
    }
    println!("worst p99: {:.1} µs (target < 2000 µs)", worst * 1e6);
}
