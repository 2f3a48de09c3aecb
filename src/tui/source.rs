//! Where the dashboard's data comes from (SPEC §1: `tui` → `rpc` → engine).
//!
//! The TUI only ever sees [`Snapshot`]s and sends [`Command`]s through a [`DataSource`]. The
//! types are plain serde structs so the same shapes can cross the control socket once the
//! daemon's RPC lands: [`StandaloneSource`](super::standalone::StandaloneSource) fills them
//! from an in-process engine, [`ScriptedSource`] from a deterministic script (tests, benches).
//!
//! Market fields are `Option`s: `None` means "market off" (no market in this engine yet, or
//! the torrent is plain BitTorrent) and is drawn as "—".

use std::path::PathBuf;

use serde::{Deserialize, Serialize};

/// Which engine the dashboard talks to; always shown in the status bar.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum Mode {
    /// A daemon's control socket.
    Attached(PathBuf),
    /// An engine inside this process; `note` says why (e.g. no daemon at the socket path).
    Standalone { note: String },
    /// A scripted state (tests, benchmarks).
    Scripted,
    /// `bidtorrent demo`: one row per member of an in-process market swarm.
    Demo,
}

impl Mode {
    pub fn label(&self) -> String {
        match self {
            Mode::Attached(p) => format!("attached {}", p.display()),
            Mode::Standalone { .. } => "standalone".to_string(),
            Mode::Scripted => "scripted".to_string(),
            Mode::Demo => "demo".to_string(),
        }
    }
}

/// Everything one frame needs. Heavy parts (peers, pieces, files) are only filled for the
/// focused torrent, so a thousand-torrent session stays cheap to poll.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Snapshot {
    pub torrents: Vec<TorrentRow>,
    pub detail: Option<Detail>,
    pub wallet: WalletView,
    pub totals: Totals,
    /// One-off messages from background work (an add that failed after the prompt closed).
    #[serde(default)]
    pub notices: Vec<Notice>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Notice {
    pub error: bool,
    pub text: String,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
pub struct Totals {
    pub down_rate: f64,
    pub up_rate: f64,
    /// Market spend and earn rates, micro-tokens per second (0 when the market is off).
    pub spend_rate: f64,
    pub earn_rate: f64,
    pub listen_port: Option<u16>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct TorrentRow {
    /// Info hash, hex; the id every command uses.
    pub id: String,
    /// The controller's number for it (`#4`, what `bidtorrent ls` and messages show); `None`
    /// where there is none (the demo's members).
    #[serde(default)]
    pub num: Option<u32>,
    pub name: String,
    pub size: u64,
    /// 0.0 ..= 1.0
    pub progress: f64,
    /// checking, downloading, seeding, paused, error
    pub state: String,
    pub down_rate: f64,
    pub up_rate: f64,
    /// Seconds to completion at the current rate; `None` when done or stalled.
    pub eta: Option<u64>,
    pub peers: usize,
    pub uploaded: u64,
    pub downloaded: u64,
    pub label: Option<String>,
    pub error: Option<String>,
    pub market: Option<TorrentMarket>,
}

impl TorrentRow {
    /// Uploaded over size: the usual seeding ratio.
    pub fn ratio(&self) -> f64 {
        if self.size == 0 {
            0.0
        } else {
            self.uploaded as f64 / self.size as f64
        }
    }
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct TorrentMarket {
    /// "buyer", "seller", "both" or "plain"
    pub role: String,
    /// Current price per MiB (bid as buyer, clearing price as seller), micro-tokens.
    pub price: Option<u64>,
    /// Paid to sellers and earned from buyers on this torrent, micro-tokens.
    #[serde(default)]
    pub paid: u64,
    #[serde(default)]
    pub earned: u64,
}

/// The focused torrent's detail tabs.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Detail {
    pub id: String,
    pub peers: Vec<PeerRow>,
    pub pieces: PieceMap,
    pub files: Vec<FileRow>,
    pub trackers: Vec<TrackerRow>,
    pub market: MarketView,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct PeerRow {
    pub addr: String,
    pub client: String,
    /// uTorrent-style flags: D/d download (unchoked/choked, interested), U/u upload, O out,
    /// I in, E encrypted, P uTP, F fast, X market.
    pub flags: String,
    pub down_rate: f64,
    pub up_rate: f64,
    pub progress: f64,
    pub downloaded: u64,
    pub uploaded: u64,
    pub market: Option<PeerMarket>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct PeerMarket {
    /// "buyer" (they pay us), "seller" (we pay them)
    pub role: String,
    /// Their bid or our bid to them, micro-tokens per MiB.
    pub bid: Option<u64>,
    /// The price they pay or we pay, micro-tokens per MiB.
    pub price: Option<u64>,
    pub paid: u64,
    pub earned: u64,
}

/// Have / downloading / availability, one entry per piece.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct PieceMap {
    pub have: Vec<bool>,
    pub downloading: Vec<u32>,
    pub availability: Vec<u32>,
}

impl PieceMap {
    pub fn len(&self) -> usize {
        self.have.len()
    }
    pub fn is_empty(&self) -> bool {
        self.have.is_empty()
    }
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Priority {
    Skip,
    Low,
    #[default]
    Normal,
    High,
}

impl Priority {
    pub fn as_str(self) -> &'static str {
        match self {
            Priority::Skip => "skip",
            Priority::Low => "low",
            Priority::Normal => "normal",
            Priority::High => "high",
        }
    }
    /// The next priority in the cycle the files tab steps through.
    pub fn next(self) -> Priority {
        match self {
            Priority::Normal => Priority::High,
            Priority::High => Priority::Low,
            Priority::Low => Priority::Skip,
            Priority::Skip => Priority::Normal,
        }
    }
    pub fn parse(s: &str) -> Option<Priority> {
        Some(match s {
            "skip" | "off" => Priority::Skip,
            "low" => Priority::Low,
            "normal" => Priority::Normal,
            "high" => Priority::High,
            _ => return None,
        })
    }
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct FileRow {
    pub path: String,
    pub size: u64,
    pub progress: f64,
    pub priority: Priority,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct TrackerRow {
    pub tier: usize,
    pub url: String,
    pub status: String,
}

/// What the market engine knows about one torrent. `active` is false when the market is not
/// trading; `note` then says why ("market off", "market unavailable: …").
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct MarketView {
    pub active: bool,
    /// Why the market is not trading, shown in place of "market on".
    #[serde(default)]
    pub note: Option<String>,
    pub buyer: StrategyView,
    pub seller: StrategyView,
    pub bids: Vec<BidRow>,
    /// Price the last auction cleared at, micro-tokens per MiB.
    pub clearing_price: Option<u64>,
    pub spent: u64,
    pub earned: u64,
    pub channels: Vec<ChannelRow>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct StrategyView {
    pub name: String,
    /// Parameter name and value as the strategy reads them (`price=1000`).
    pub params: Vec<(String, String)>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct BidRow {
    pub peer: String,
    /// "in" (a buyer bidding to us) or "out" (our bid to a seller)
    pub direction: String,
    pub price: u64,
    pub max_spend: u64,
    /// "won", "lost", "pending", "rejected: REASON"
    pub status: String,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ChannelRow {
    pub id: String,
    pub peer: String,
    /// "in" (we are paid) or "out" (we pay)
    pub direction: String,
    pub state: String,
    pub cap: u64,
    /// Spent (out) or earned (in) so far.
    pub used: u64,
    /// Unpaid credit extended to / by the peer, micro-tokens.
    pub credit: u64,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub enum WalletStatus {
    #[default]
    Unknown,
    Ok,
    /// No wallet yet in the data dir.
    Missing,
    /// The daemon (or another process) holds the sled lock.
    InUse,
    Error(String),
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct WalletView {
    pub status: WalletStatus,
    pub public_key: String,
    pub ledger: Option<String>,
    pub balance: u64,
    /// The balance spelled out (available, escrowed, refundable, unredeemed), micro-tokens.
    #[serde(default)]
    pub money: crate::rpc::proto::Balances,
    /// Redeemed over all incoming channels, micro-tokens.
    #[serde(default)]
    pub redeemed: u64,
    pub channels: Vec<ChannelRow>,
    pub history: Vec<HistoryRow>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct HistoryRow {
    /// Unix seconds.
    pub time: u64,
    pub kind: String,
    pub channel: String,
    pub amount: u64,
    pub total: u64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Side {
    Buyer,
    Seller,
}

pub const BUYER_STRATEGIES: &[&str] = &["off", "fixed", "auto", "budget", "target-rate"];
pub const SELLER_STRATEGIES: &[&str] = &[
    "tit-for-tat",
    "highest-bid",
    "uniform-price",
    "proportional",
    "hybrid",
];

/// The verbs the dashboard sends; the same set as the CLI's (SPEC §2).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum Command {
    Add {
        source: String,
        dir: Option<PathBuf>,
        paused: bool,
        peers: Vec<String>,
    },
    Pause(Vec<String>),
    Resume(Vec<String>),
    Remove {
        ids: Vec<String>,
        delete_data: bool,
    },
    /// `ids` empty: the global default.
    Strategy {
        ids: Vec<String>,
        side: Side,
        name: String,
        params: Vec<(String, String)>,
    },
    FilePriority {
        id: String,
        files: Vec<usize>,
        priority: Priority,
    },
    /// Global limits in bytes/s, 0 = unlimited.
    Limit {
        down: u64,
        up: u64,
    },
}

pub type Reply = String;

/// The dashboard's one door to an engine.
#[allow(async_fn_in_trait)] // used generically, never boxed; Send is not needed on one thread
pub trait DataSource {
    /// The current state; `focus` names the torrent whose detail tabs are open.
    async fn snapshot(&mut self, focus: Option<&str>) -> anyhow::Result<Snapshot>;
    /// Runs a command; `Ok` carries a one-line message for the status bar.
    async fn command(&mut self, cmd: Command) -> anyhow::Result<Reply>;
    fn mode(&self) -> Mode;
}

/// A deterministic engine for tests and benchmarks: applies commands to its state the way an
/// engine would, and advances download progress by one step per snapshot when `live`.
#[derive(Debug, Clone, Default)]
pub struct ScriptedSource {
    pub state: Snapshot,
    /// Details by torrent id.
    pub details: Vec<Detail>,
    pub live: bool,
    pub log: Vec<Command>,
}

impl ScriptedSource {
    pub fn new(state: Snapshot, details: Vec<Detail>) -> Self {
        ScriptedSource {
            state,
            details,
            live: false,
            log: Vec::new(),
        }
    }

    fn step(&mut self) {
        for d in &mut self.details {
            // One more piece verified, one more in flight: a piece map that visibly moves.
            if let Some(i) = d.pieces.have.iter().position(|h| !h) {
                d.pieces.have[i] = true;
                d.pieces.downloading.retain(|&p| p as usize != i);
                if let Some(j) = d.pieces.have.iter().skip(i + 1).position(|h| !h) {
                    let p = (i + 1 + j) as u32;
                    if !d.pieces.downloading.contains(&p) {
                        d.pieces.downloading.push(p);
                    }
                }
            }
        }
    }
}

impl DataSource for ScriptedSource {
    async fn snapshot(&mut self, focus: Option<&str>) -> anyhow::Result<Snapshot> {
        if self.live {
            self.step();
        }
        let mut s = self.state.clone();
        s.detail = focus.and_then(|id| self.details.iter().find(|d| d.id == id).cloned());
        self.state.notices.clear();
        Ok(s)
    }

    async fn command(&mut self, cmd: Command) -> anyhow::Result<Reply> {
        self.log.push(cmd.clone());
        let rows = &mut self.state.torrents;
        let reply = match cmd {
            Command::Add { source, .. } => {
                if source.starts_with("magnet:") || source.ends_with(".torrent") {
                    let name = source
                        .rsplit('/')
                        .next()
                        .unwrap_or(&source)
                        .trim_end_matches(".torrent")
                        .to_string();
                    rows.push(TorrentRow {
                        id: format!("{:040x}", rows.len() + 1000),
                        name: name.clone(),
                        state: "checking".into(),
                        ..TorrentRow::default()
                    });
                    format!("added {name}")
                } else {
                    anyhow::bail!("{source}: not a .torrent file or magnet link")
                }
            }
            Command::Pause(ids) => {
                for r in rows.iter_mut().filter(|r| ids.contains(&r.id)) {
                    r.state = "paused".into();
                }
                format!("paused {}", ids.len())
            }
            Command::Resume(ids) => {
                for r in rows.iter_mut().filter(|r| ids.contains(&r.id)) {
                    r.state = if r.progress >= 1.0 {
                        "seeding".into()
                    } else {
                        "downloading".into()
                    };
                }
                format!("resumed {}", ids.len())
            }
            Command::Remove { ids, .. } => {
                rows.retain(|r| !ids.contains(&r.id));
                format!("removed {}", ids.len())
            }
            Command::Strategy {
                ids,
                side,
                name,
                params,
            } => {
                for d in self.details.iter_mut().filter(|d| ids.contains(&d.id)) {
                    let s = match side {
                        Side::Buyer => &mut d.market.buyer,
                        Side::Seller => &mut d.market.seller,
                    };
                    s.name = name.clone();
                    s.params = params.clone();
                }
                format!("{side:?} strategy {name}").to_lowercase()
            }
            Command::FilePriority {
                id,
                files,
                priority,
            } => {
                if let Some(d) = self.details.iter_mut().find(|d| d.id == id) {
                    for i in &files {
                        if let Some(f) = d.files.get_mut(*i) {
                            f.priority = priority;
                        }
                    }
                }
                format!("priority {}", priority.as_str())
            }
            Command::Limit { down, up } => format!("limits {down}/{up}"),
        };
        Ok(reply)
    }

    fn mode(&self) -> Mode {
        Mode::Scripted
    }
}
