//! Deterministic engine states for snapshot tests and the render benchmark: no clock, no
//! randomness, so every frame is the same on every machine.

use super::source::{
    BidRow, ChannelRow, Detail, FileRow, HistoryRow, MarketView, PeerMarket, PeerRow, PieceMap,
    Priority, ScriptedSource, Snapshot, StrategyView, TorrentMarket, TorrentRow, Totals,
    TrackerRow, WalletStatus, WalletView,
};

const NAMES: &[&str] = &[
    "debian-13.1.0-amd64-netinst.iso",
    "ubuntu-24.04.3-desktop-amd64.iso",
    "archlinux-2025.11.01-x86_64.iso",
    "big-buck-bunny-1080p.mkv",
    "sintel-4k-source-frames",
    "linux-6.17.tar.xz",
    "fedora-workstation-43.iso",
    "openstreetmap-europe-latest.osm.pbf",
];
const STATES: &[&str] = &[
    "downloading",
    "seeding",
    "paused",
    "downloading",
    "checking",
    "error",
];

fn id(i: usize) -> String {
    format!("{:040x}", 0xb1d0_0000_u64 + i as u64)
}

/// A small cheap mixing function: spread-looking numbers without a RNG.
fn mix(i: usize, salt: u64) -> u64 {
    let mut x = (i as u64 + 1).wrapping_mul(0x9E37_79B9_7F4A_7C15) ^ salt;
    x ^= x >> 29;
    x = x.wrapping_mul(0xBF58_476D_1CE4_E5B9);
    x ^ (x >> 32)
}

pub fn torrent(i: usize) -> TorrentRow {
    let name = if i < NAMES.len() {
        NAMES[i].to_string()
    } else {
        format!("{}-{i:04}", NAMES[i % NAMES.len()])
    };
    let state = STATES[i % STATES.len()].to_string();
    let size = (mix(i, 1) % (8 << 30)) + (1 << 20);
    let progress = match state.as_str() {
        "seeding" => 1.0,
        "checking" => 0.0,
        _ => (mix(i, 2) % 1000) as f64 / 1000.0,
    };
    let down_rate = if state == "downloading" {
        (mix(i, 3) % (12 << 20)) as f64
    } else {
        0.0
    };
    let up_rate = if state == "paused" || state == "error" {
        0.0
    } else {
        (mix(i, 4) % (3 << 20)) as f64
    };
    let left = (size as f64 * (1.0 - progress)) as u64;
    let eta = (down_rate >= 1.0 && left > 0).then(|| (left as f64 / down_rate) as u64);
    let market = match i % 3 {
        0 => Some(TorrentMarket {
            role: "buyer".into(),
            price: Some(1200 + (mix(i, 5) % 800)),
            paid: 1000 * (mix(i, 7) % 90),
            earned: 0,
        }),
        1 => Some(TorrentMarket {
            role: "seller".into(),
            price: Some(900 + (mix(i, 6) % 500)),
            paid: 0,
            earned: 1000 * (mix(i, 8) % 70),
        }),
        _ => None,
    };
    TorrentRow {
        id: id(i),
        num: Some(i as u32 + 1),
        name,
        size,
        progress,
        state: state.clone(),
        down_rate,
        up_rate,
        eta,
        peers: (mix(i, 7) % 60) as usize,
        uploaded: mix(i, 8) % (size * 3),
        downloaded: (size as f64 * progress) as u64,
        label: Some(
            if i.is_multiple_of(2) {
                "linux"
            } else {
                "video"
            }
            .into(),
        ),
        error: (state == "error").then(|| "disk full".into()),
        market,
    }
}

pub fn peer(i: usize) -> PeerRow {
    let market = (i % 3 != 2).then(|| PeerMarket {
        role: if i.is_multiple_of(3) {
            "seller"
        } else {
            "buyer"
        }
        .into(),
        bid: Some(1000 + (mix(i, 11) % 1000)),
        price: Some(1100 + (mix(i, 12) % 300)),
        paid: mix(i, 13) % 5_000_000,
        earned: mix(i, 14) % 5_000_000,
    });
    PeerRow {
        addr: format!(
            "10.{}.{}.{}:{}",
            i / 250 % 250,
            i % 250,
            (i * 7) % 250 + 1,
            6881 + i % 100
        ),
        client: [
            "bidtorrent 0.1.0",
            "qBittorrent 5.1.2",
            "Transmission 4.0.6",
            "aria2 1.37.0",
        ][i % 4]
            .into(),
        flags: ["DUOX", "dUIF", "DuO", "UIFX"][i % 4].into(),
        down_rate: (mix(i, 15) % (2 << 20)) as f64,
        up_rate: (mix(i, 16) % (1 << 20)) as f64,
        progress: (mix(i, 17) % 1001) as f64 / 1000.0,
        downloaded: mix(i, 18) % (900 << 20),
        uploaded: mix(i, 19) % (300 << 20),
        market,
    }
}

pub fn pieces(n: usize) -> PieceMap {
    PieceMap {
        have: (0..n)
            .map(|p| p < n / 3 || mix(p, 21).is_multiple_of(4))
            .collect(),
        downloading: (0..n)
            .filter(|&p| p >= n / 3 && mix(p, 22).is_multiple_of(9))
            .map(|p| p as u32)
            .collect(),
        availability: (0..n)
            .map(|p| {
                if p % 37 == 5 {
                    0
                } else {
                    (mix(p, 23) % 12) as u32
                }
            })
            .collect(),
    }
}

pub fn detail(i: usize, peers: usize) -> Detail {
    Detail {
        id: id(i),
        peers: (0..peers).map(peer).collect(),
        pieces: pieces(1200),
        files: (0..6)
            .map(|f| FileRow {
                path: format!("{}/part-{f:02}.bin", NAMES[i % NAMES.len()]),
                size: (mix(f, 31) % (700 << 20)) + 1,
                progress: (mix(f, 32) % 1001) as f64 / 1000.0,
                priority: [Priority::Normal, Priority::High, Priority::Skip][f % 3],
            })
            .collect(),
        trackers: vec![
            TrackerRow {
                tier: 0,
                url: "udp://tracker.opentrackr.org:1337/announce".into(),
                status: "ok: 812 seeders, 90 leechers".into(),
            },
            TrackerRow {
                tier: 1,
                url: "https://torrent.example.org/announce".into(),
                status: "timed out".into(),
            },
        ],
        market: MarketView {
            active: true,
            note: None,
            buyer: StrategyView {
                name: "fixed".into(),
                params: vec![("price".into(), "0.001500".into())],
            },
            seller: StrategyView {
                name: "uniform-price".into(),
                params: vec![
                    ("reserve_price".into(), "0.000100".into()),
                    ("non_market_share".into(), "0.2".into()),
                    ("slots".into(), "4".into()),
                ],
            },
            bids: (0..5)
                .map(|b| BidRow {
                    peer: peer(b).addr,
                    direction: if b % 2 == 0 { "in" } else { "out" }.into(),
                    price: 1000 + 150 * b as u64,
                    max_spend: 2_000_000,
                    status: ["won", "lost", "pending", "won", "rejected: no funds"][b].into(),
                })
                .collect(),
            clearing_price: Some(1150),
            spent: 2_345_678,
            earned: 1_234_567,
            channels: vec![ChannelRow {
                id: "5be1c0de42".into(),
                peer: "a1b2c3d4e5".into(),
                direction: "out".into(),
                state: "open".into(),
                cap: 10_000_000,
                used: 2_345_678,
                credit: 512_000,
            }],
        },
    }
}

pub fn wallet() -> WalletView {
    WalletView {
        status: WalletStatus::Ok,
        public_key: "9f2c4e6a8b0d1f3e5a7c9e1b3d5f7a9c2e4f6a8b0c1d3e5f7a9b2c4d6e8f0a1b".into(),
        ledger: Some("127.0.0.1:7700".into()),
        balance: 97_654_322,
        money: crate::rpc::proto::Balances {
            available: 97_654_322,
            escrowed: 9_000_000,
            refundable: 7_654_322,
            unredeemed: 120_000,
        },
        redeemed: 1_234_567,
        channels: vec![
            ChannelRow {
                id: "5be1c0de42".into(),
                peer: "a1b2c3d4e5".into(),
                direction: "out".into(),
                state: "open".into(),
                cap: 10_000_000,
                used: 2_345_678,
                credit: 0,
            },
            ChannelRow {
                id: "77aa00ff13".into(),
                peer: "0f1e2d3c4b".into(),
                direction: "in".into(),
                state: "closing".into(),
                cap: 5_000_000,
                used: 1_234_567,
                credit: 0,
            },
        ],
        history: (0..8)
            .map(|h| HistoryRow {
                time: 1_763_700_000 + 60 * h,
                kind: ["opened", "paid", "paid", "earned", "redeemed"][h as usize % 5].into(),
                channel: "5be1c0de42".into(),
                amount: 100_000 * (h + 1),
                total: 100_000 * (h + 1) * (h + 2) / 2,
            })
            .collect(),
    }
}

/// `torrents` torrents, the first one's detail with `peers` peers.
pub fn source(torrents: usize, peers: usize) -> ScriptedSource {
    let rows: Vec<TorrentRow> = (0..torrents).map(torrent).collect();
    let totals = Totals {
        down_rate: rows.iter().map(|r| r.down_rate).sum(),
        up_rate: rows.iter().map(|r| r.up_rate).sum(),
        spend_rate: 1500.0,
        earn_rate: 700.0,
        listen_port: Some(6881),
    };
    let details = (0..torrents.min(8)).map(|i| detail(i, peers)).collect();
    ScriptedSource::new(
        Snapshot {
            torrents: rows,
            detail: None,
            wallet: wallet(),
            totals,
            notices: Vec::new(),
        },
        details,
    )
}
