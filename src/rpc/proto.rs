//! Requests, responses and events of the control protocol. RPC.md documents every field;
//! field names here are the stable contract (`ls --json` prints `TorrentSummary` as is).
//!
//! Versioning: the server's greeting carries [`PROTOCOL_VERSION`]. Fields are only ever
//! added within a version (clients ignore unknown fields, the server ignores unknown request
//! fields); removing or changing the meaning of one bumps the version.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

pub const PROTOCOL_VERSION: u32 = 1;
/// Longest request line the server reads; longer lines close the connection.
pub const MAX_LINE: usize = 1 << 20;

/// Rates go out as whole bytes per second (`48047391`, not `48047390.720000006`): nobody
/// reads fractions of a byte, and scripts compare integers. Readers accept either.
fn whole_rate<S: serde::Serializer>(v: &f64, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_u64(if v.is_finite() && *v > 0.0 {
        v.round() as u64
    } else {
        0
    })
}

/// What a torrent selector names: an id (`3`, `#3`: 1–7 digits) or an info-hash prefix (8 to
/// 40 hex digits, lower-cased). The one reading of the rule, for the controller that resolves
/// selectors and the CLI that tells them from other words.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Selector {
    Id(u32),
    Prefix(String),
}

impl Selector {
    pub fn parse(sel: &str) -> Option<Selector> {
        let s = sel.trim().trim_start_matches('#');
        if !s.is_empty() && s.len() <= 7 && s.bytes().all(|b| b.is_ascii_digit()) {
            return s.parse().ok().map(Selector::Id);
        }
        let lower = s.to_ascii_lowercase();
        ((8..=40).contains(&lower.len()) && lower.bytes().all(|b| b.is_ascii_hexdigit()))
            .then_some(Selector::Prefix(lower))
    }
}

/// How a `wallet` error begins when there is no wallet in the data dir yet.
pub const NO_WALLET: &str = "no wallet";
/// How a `wallet` error begins when another process holds the wallet's lock.
pub const WALLET_IN_USE: &str = "the wallet is in use by another process";

/// The first line the server sends on every connection.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Hello {
    /// Protocol version.
    pub bidtorrent: u32,
    /// The daemon's package version.
    pub version: String,
    pub pid: u32,
}

/// One request line: `{"id": 7, "cmd": "list"}`. `id` is echoed in the response.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Request {
    #[serde(default)]
    pub id: u64,
    #[serde(flatten)]
    pub cmd: Command,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(tag = "cmd", rename_all = "snake_case")]
pub enum Command {
    /// Daemon status: pid, listen port, global limits and rates, number of torrents.
    Status,
    /// Adds each source (absolute .torrent path or magnet link); one result per source.
    Add(AddArgs),
    /// Every torrent, ordered by id.
    List,
    /// One torrent with files and trackers.
    Info {
        torrent: String,
    },
    /// The connected peers of one torrent.
    Peers {
        torrent: String,
    },
    Pause(Targets),
    Resume(Targets),
    Remove {
        #[serde(flatten)]
        targets: Targets,
        #[serde(default)]
        delete_data: bool,
    },
    Recheck(Targets),
    Reannounce(Targets),
    /// Sets (or, with neither `down` nor `up`, shows) the global limits, or a torrent's.
    Limit(LimitArgs),
    /// Shows, or with `name`/`params` sets, the market strategies, globally or of a torrent.
    Strategy(StrategyArgs),
    /// The live market state of one torrent: bids, awards, payments, channels.
    Market {
        torrent: String,
    },
    /// The piece map of one torrent: verified pieces, pieces in flight, swarm availability.
    Pieces {
        torrent: String,
    },
    /// The files of one torrent with progress and priority.
    Files {
        torrent: String,
    },
    /// Sets the priority of files of one torrent (`skip` stops fetching their pieces).
    Prio {
        torrent: String,
        /// File indices as `files` numbers them; empty = every file.
        #[serde(default)]
        files: Vec<usize>,
        /// "high", "normal", "low" or "skip".
        priority: String,
    },
    /// Each tracker of one torrent with the outcome of its last announce.
    Trackers {
        torrent: String,
    },
    /// The daemon's wallet: balance, channels, recent history (the daemon holds its lock).
    Wallet {
        /// Most recent history entries to include (default 20).
        #[serde(default)]
        history: Option<usize>,
        /// Also list the latest payment (certificate + voucher) of every outgoing channel.
        #[serde(default)]
        payments: bool,
    },
    /// Accepts payments handed over out of band (`bidtorrent wallet payments` of a buyer
    /// whose last vouchers never reached us, e.g. because the connection ended first).
    Accept {
        payments: Vec<crate::wallet::Payment>,
    },
    /// Redeems every incoming channel's highest voucher at the ledger now.
    WalletRedeem,
    /// Closes a channel (full id or a prefix of 8+ hex digits): as seller, redeem and close
    /// now; as buyer, the rest is refunded after the ledger's grace.
    WalletClose {
        channel: String,
    },
    /// Escrows `amount` micro-tokens for `seller` in a new payment channel.
    WalletOpen {
        seller: String,
        amount: u64,
        /// Lifetime in seconds (default: `[market] channel_secs`).
        #[serde(default)]
        expiry_secs: Option<u64>,
    },
    /// Pays `amount` micro-tokens more on an outgoing channel; the result is the payment
    /// (certificate + voucher) to hand to the seller.
    WalletPay {
        channel: String,
        amount: u64,
    },
    /// The whole wallet as JSON, without the secret key; with `secret_key` (an absolute path
    /// of a file that must not exist yet) the daemon also writes the key there, owner-only.
    WalletExport {
        #[serde(default)]
        secret_key: Option<std::path::PathBuf>,
    },
    /// Turns this connection into an event stream (one `Event` per line).
    Subscribe {
        /// Also send a `stats` event this often (0 = never).
        #[serde(default)]
        interval_ms: u64,
    },
    /// Replaces the labels of the targets (an empty list clears them).
    Label {
        #[serde(flatten)]
        targets: Targets,
        #[serde(default)]
        labels: Vec<String>,
    },
    /// Shows, or with any field set changes, the seeding rules: a torrent's, or the global ones.
    Seed(SeedArgs),
    /// Stops the daemon as SIGTERM would.
    Shutdown,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct AddArgs {
    pub sources: Vec<String>,
    /// Absolute download directory; default: the config's `download_dir`.
    #[serde(default)]
    pub dir: Option<String>,
    #[serde(default)]
    pub paused: bool,
    #[serde(default)]
    pub sequential: bool,
    /// Peers to dial directly, "IP:PORT".
    #[serde(default)]
    pub peers: Vec<String>,
    /// Market strategy (buyer or seller name) for each added torrent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub strategy: Option<String>,
    /// Strategy parameters for each added torrent (`{"price": "0.2"}`).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub params: BTreeMap<String, serde_json::Value>,
    /// Labels for each added torrent.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub labels: Vec<String>,
    /// A ratio limit of its own for each added torrent (`seed` changes it later).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub seed_ratio: Option<f64>,
}

/// `seed`: every field absent = show. With `torrent`, the torrent's rules; else the global ones
/// (where `ratio`/`idle_minutes` 0 means no limit and the modes are not used).
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct SeedArgs {
    #[serde(default)]
    pub torrent: Option<String>,
    /// Ratio limit (uploaded / downloaded); setting it on a torrent makes its mode `single`.
    #[serde(default)]
    pub ratio: Option<f64>,
    #[serde(default)]
    pub ratio_mode: Option<LimitMode>,
    /// Idle limit: minutes without upload.
    #[serde(default)]
    pub idle_minutes: Option<u64>,
    #[serde(default)]
    pub idle_mode: Option<LimitMode>,
    /// "stop", "slow-to RATE", "keep-while-earning PRICE", or (on a torrent) "global".
    #[serde(default)]
    pub action: Option<String>,
}

/// Which limit applies to a torrent (Transmission's seedRatioMode/seedIdleMode: 0, 1, 2).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum LimitMode {
    /// The global limit.
    #[default]
    Global,
    /// The torrent's own limit.
    Single,
    /// No limit.
    Unlimited,
}

/// What happens when a seeding limit is reached.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SeedAction {
    /// Pause the torrent.
    Stop,
    /// Cap its upload at this many bytes/s and keep seeding.
    SlowTo(u64),
    /// Keep seeding while the market pays at least this many micro-tokens per MiB uploaded
    /// (over the earning window); stop when it pays less.
    KeepWhileEarning(u64),
}

impl SeedAction {
    /// "stop", "slow-to 512K", "keep-while-earning 0.05".
    pub fn parse(s: &str) -> Result<SeedAction, String> {
        let s = s.trim();
        let (verb, arg) = match s.split_once(char::is_whitespace) {
            Some((v, a)) => (v, a.trim()),
            None => (s, ""),
        };
        match (verb, arg) {
            ("stop", "") => Ok(SeedAction::Stop),
            ("slow-to", a) if !a.is_empty() => match crate::units::parse_size(a) {
                Ok(0) => Err("slow-to: the rate must be above 0 (use stop)".into()),
                Ok(r) => Ok(SeedAction::SlowTo(r)),
                Err(e) => Err(format!("slow-to: {e}")),
            },
            ("keep-while-earning", a) if !a.is_empty() => a
                .parse::<crate::wallet::Amount>()
                .map(|p| SeedAction::KeepWhileEarning(p.micro()))
                .map_err(|e| format!("keep-while-earning: {e}")),
            _ => Err(format!(
                "seeding action {s:?}: use stop, slow-to RATE (e.g. slow-to 100K) or \
                 keep-while-earning PRICE (tokens per MiB, e.g. keep-while-earning 0.05)"
            )),
        }
    }
}

impl std::fmt::Display for SeedAction {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            SeedAction::Stop => write!(f, "stop"),
            SeedAction::SlowTo(r) => write!(f, "slow-to {r}"),
            SeedAction::KeepWhileEarning(p) => {
                write!(f, "keep-while-earning {}", crate::wallet::Amount(*p))
            }
        }
    }
}

impl Serialize for SeedAction {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for SeedAction {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        SeedAction::parse(&s).map_err(serde::de::Error::custom)
    }
}

/// A torrent's own seeding rules (kept in the session file).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct SeedRules {
    #[serde(default)]
    pub ratio_mode: LimitMode,
    #[serde(default)]
    pub ratio: f64,
    #[serde(default)]
    pub idle_mode: LimitMode,
    #[serde(default)]
    pub idle_minutes: u64,
    /// `None`: the global action.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub action: Option<SeedAction>,
}

impl SeedRules {
    pub fn is_default(&self) -> bool {
        *self == SeedRules::default()
    }
}

/// The global seeding rules: the config's `[seeding]`, changed at run time by `seed` (and
/// Transmission's `session-set`), which the session file then keeps.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct GlobalSeeding {
    /// Ratio limit; 0 = none.
    pub ratio: f64,
    /// Minutes without upload; 0 = none.
    pub idle_minutes: u64,
    pub action: SeedAction,
    /// The window over which `keep-while-earning` measures what the market pays.
    pub earning_window_secs: u64,
}

impl Default for GlobalSeeding {
    fn default() -> Self {
        GlobalSeeding {
            ratio: 0.0,
            idle_minutes: 0,
            action: SeedAction::Stop,
            earning_window_secs: 600,
        }
    }
}

/// `result` of `seed`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct SeedInfo {
    /// "global" or the torrent's id.
    pub scope: String,
    pub global: GlobalSeeding,
    /// The torrent's own rules (with a torrent).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub torrent: Option<SeedRules>,
}

/// `strategy`: neither `name` nor `params` = show.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct StrategyArgs {
    /// A torrent; none = the global strategies.
    #[serde(default)]
    pub torrent: Option<String>,
    /// A buyer or a seller strategy name (the two sets do not overlap).
    #[serde(default)]
    pub name: Option<String>,
    /// Parameters: strings, or numbers for convenience (`{"price": "0.05", "slots": 6}`).
    #[serde(default)]
    pub params: BTreeMap<String, serde_json::Value>,
}

/// `result` of `strategy`: what is in force after the change.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct StrategyInfo {
    /// "global" or the torrent's id.
    pub scope: String,
    pub buyer: crate::market::config::BuyerConfig,
    pub seller: crate::market::config::SellerConfig,
}

/// The market columns of a torrent (`list`, `stats`); `null` when the market is off.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MarketSummary {
    /// "buyer" (downloading with a bidding strategy), "seller" (complete, selling slots)
    /// or "plain" (neither: buyer `off` while downloading, `tit-for-tat` when complete).
    pub role: String,
    pub buyer_strategy: String,
    pub seller_strategy: String,
    /// Buyer: our highest live bid; seller: the clearing price. Micro-tokens per MiB.
    pub price: u64,
    /// Paid to sellers and earned from buyers on this torrent, micro-tokens.
    pub paid: u64,
    pub earned: u64,
    /// Market-capable peers connected.
    pub peers: usize,
}

/// Which torrents a command acts on: ids ("3"), info-hash prefixes ("a1b2c3"), or all.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct Targets {
    #[serde(default)]
    pub torrents: Vec<String>,
    #[serde(default)]
    pub all: bool,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct LimitArgs {
    /// A torrent; none = the global limits.
    #[serde(default)]
    pub torrent: Option<String>,
    /// Bytes/s, 0 = unlimited; absent = unchanged.
    #[serde(default)]
    pub down: Option<u64>,
    #[serde(default)]
    pub up: Option<u64>,
}

/// One response line: `{"id":7,"ok":true,"result":...}` or `{"id":7,"ok":false,"error":"..."}`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Response {
    #[serde(default)]
    pub id: u64,
    pub ok: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub result: Option<serde_json::Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

/// The outcome for one item of a batch (`add`, `pause`, `rm`, ...).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ItemResult {
    /// The item as given: a source for `add`, a selector for the others.
    pub item: String,
    pub ok: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub info_hash: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// Why it failed (when `ok` is false) or a note ("already paused").
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
    /// `add` only: it failed because the torrent is already in the session; `id`,
    /// `info_hash` and `name` are that torrent's.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub duplicate: bool,
}

/// `result` of a batch command.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct BatchResult {
    pub results: Vec<ItemResult>,
}

/// `result` of `status`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Status {
    pub version: String,
    pub protocol: u32,
    pub pid: u32,
    pub listen_port: u16,
    pub data_dir: String,
    pub download_dir: String,
    pub torrents: usize,
    pub down_limit: u64,
    pub up_limit: u64,
    #[serde(serialize_with = "whole_rate")]
    pub down_rate: f64,
    #[serde(serialize_with = "whole_rate")]
    pub up_rate: f64,
    /// "off", "on", or "unavailable: <reason>" (enabled, but the wallet or the ledger failed;
    /// the daemon then runs as plain BitTorrent).
    pub market: String,
    /// The DHT node's UDP address and routing-table size, when the DHT is on.
    #[serde(default)]
    pub dht: Option<DhtStatus>,
    /// `[network]` in force: the encryption mode ("prefer", "require", "allow", "off") and
    /// whether peers are connected over TCP and over uTP.
    #[serde(default)]
    pub encryption: String,
    #[serde(default)]
    pub tcp: bool,
    #[serde(default)]
    pub utp: bool,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DhtStatus {
    pub addr: String,
    pub nodes: usize,
}

/// `result` of `wallet`. Amounts in micro-tokens.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct WalletInfo {
    pub public_key: String,
    pub ledger: String,
    /// Balance at the ledger (fetched now when it answers, else the last known).
    pub balance: u64,
    /// Whether `balance` was fetched now.
    pub fresh: bool,
    /// Σ spent over outgoing channels (a settled channel counts what its seller redeemed:
    /// a voucher that never reached the seller was refunded) and Σ earned over incoming ones.
    pub paid: u64,
    pub earned: u64,
    pub redeemed: u64,
    /// The balance spelled out (see [`Balances`]).
    #[serde(flatten)]
    pub balances: Balances,
    pub outgoing: Vec<crate::wallet::OutChannel>,
    pub incoming: Vec<crate::wallet::InChannel>,
    /// Most recent last.
    pub history: Vec<crate::wallet::HistoryEntry>,
    /// With `payments: true`: the latest payment of every outgoing channel that has one.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub payments: Vec<crate::wallet::Payment>,
}

/// A wallet's money, integer micro-tokens: what it can spend now, what sits in its
/// outgoing channels (and how much of that comes back when they close), what it earned and
/// has not redeemed yet.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Balances {
    /// The balance at the ledger: spendable now (last known when the ledger is away).
    pub available: u64,
    /// Held by the ledger in this wallet's channels that are not settled (cap less what the
    /// sellers redeemed).
    pub escrowed: u64,
    /// The part of `escrowed` not paid to anyone: refunded when the channels close.
    pub refundable: u64,
    /// Earned on incoming channels and not redeemed yet (`redeemed` beside it: what was).
    pub unredeemed: u64,
}

impl Balances {
    /// Spells out `wallet`'s money (no network: the balance is the last one fetched).
    pub fn of(
        available: u64,
        outgoing: &[crate::wallet::OutChannel],
        incoming: &[crate::wallet::InChannel],
    ) -> Balances {
        use crate::wallet::ledger::ChannelState;
        let live_out = outgoing.iter().filter(|c| c.state != ChannelState::Closed);
        let (mut escrowed, mut refundable) = (0u64, 0u64);
        for c in live_out {
            let cap = c.certificate.cap.micro();
            escrowed = escrowed.saturating_add(cap.saturating_sub(c.redeemed.micro()));
            refundable = refundable.saturating_add(cap.saturating_sub(c.spent.micro()));
        }
        let unredeemed = incoming
            .iter()
            .filter(|c| c.state != ChannelState::Closed)
            .map(|c| c.earned().micro().saturating_sub(c.redeemed.micro()))
            .sum();
        Balances {
            available,
            escrowed,
            refundable,
            unredeemed,
        }
    }
}

/// A channel of `wallet` named in full (64 hex digits) or by any unique prefix, as
/// torrents are: the prefix must match exactly one of the wallet's channels.
pub fn resolve_channel(
    wallet: &crate::wallet::Wallet,
    given: &str,
) -> Result<crate::wallet::ChannelId, String> {
    use crate::wallet::ChannelId;
    let s = given.trim().to_ascii_lowercase();
    if !(1..=64).contains(&s.len()) || !s.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Err(format!(
            "{}: not a channel id (1 to 64 hex digits)",
            crate::units::printable(given)
        ));
    }
    if s.len() == 64 {
        return s.parse::<ChannelId>().map_err(|e| format!("{s}: {e}"));
    }
    let storage = |e: crate::wallet::WalletError| e.to_string();
    let mut hits: Vec<String> = wallet
        .out_channels()
        .map_err(storage)?
        .into_iter()
        .map(|c| c.certificate.channel)
        .chain(
            wallet
                .in_channels()
                .map_err(storage)?
                .into_iter()
                .map(|c| c.certificate.channel),
        )
        .map(|id| id.to_string())
        .filter(|id| id.starts_with(&s))
        .collect();
    hits.sort();
    hits.dedup();
    match hits.as_slice() {
        [one] => one.parse::<ChannelId>().map_err(|e| format!("{one}: {e}")),
        [] => Err(format!("{s}: no channel of this wallet starts with it")),
        many => Err(format!(
            "{s}: matches {} channels; give more digits",
            many.len()
        )),
    }
}

/// One element of the `accept` result's `results`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Accepted {
    pub channel: String,
    pub ok: bool,
    /// What the voucher added (`delta` 0 for one already stored).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub earned: Option<crate::wallet::Earned>,
    /// Why it was refused: a stable code (`replayed`, `bad_signature`, ...) and a sentence.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub refused: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
}

/// `result` of `limit`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Limits {
    /// "global" or the torrent's id.
    pub scope: String,
    pub down: u64,
    pub up: u64,
}

/// One torrent in `list` (and each element of `ls --json`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TorrentSummary {
    pub id: u32,
    pub info_hash: String,
    pub name: String,
    /// "checking", "downloading", "finished" (every wanted file done, skipped ones missing),
    /// "seeding", "paused" or "error".
    pub phase: String,
    /// 0.0 ..= 1.0, by bytes verified.
    pub progress: f64,
    pub have_pieces: usize,
    pub num_pieces: usize,
    pub total_bytes: u64,
    pub left_bytes: u64,
    pub downloaded: u64,
    pub uploaded: u64,
    /// Bytes/s.
    #[serde(serialize_with = "whole_rate")]
    pub down_rate: f64,
    #[serde(serialize_with = "whole_rate")]
    pub up_rate: f64,
    pub peers: usize,
    pub download_dir: String,
    pub paused: bool,
    pub sequential: bool,
    /// Per-torrent limits, bytes/s, 0 = none.
    pub down_limit: u64,
    pub up_limit: u64,
    /// Unix seconds.
    pub added_at: i64,
    pub error: Option<String>,
    /// Market role, price and tokens; `null` when the market is off.
    pub market: Option<MarketSummary>,
    /// Labels, in the order set.
    #[serde(default)]
    pub labels: Vec<String>,
    /// The torrent's own seeding rules.
    #[serde(default)]
    pub seed: SeedRules,
    /// What a seeding rule did ("ratio 2.00 reached: stopped"), once it acted.
    #[serde(default)]
    pub seed_limit: Option<String>,
    /// Unix seconds when it was first seen complete.
    #[serde(default)]
    pub done_at: Option<i64>,
}

/// `result` of `info`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct TorrentInfo {
    #[serde(flatten)]
    pub summary: TorrentSummary,
    pub piece_length: u64,
    pub private: bool,
    pub comment: Option<String>,
    /// BEP 12 tiers of announce URLs.
    pub trackers: Vec<Vec<String>>,
    pub files: Vec<FileInfo>,
    /// The .torrent copy the daemon keeps.
    pub torrent_file: String,
    /// The full market state (as `market`); `null` when the market is off.
    pub market_report: Option<crate::market::MarketReport>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct FileInfo {
    /// Relative to the download dir, as stored on disk.
    pub path: String,
    pub length: u64,
}

/// `result` of `pieces`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct PieceState {
    pub id: u32,
    pub num_pieces: usize,
    /// Verified pieces as a BEP 3 bitfield in lowercase hex: piece 0 is the high bit of the
    /// first byte; spare bits at the end are 0.
    pub have: String,
    /// Pieces with blocks requested or received but not yet verified, ascending.
    pub downloading: Vec<u32>,
    /// How many connected peers have each piece, indexed by piece.
    pub availability: Vec<u32>,
}

/// One element of `files`' `files`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct FileState {
    /// The number `prio` takes (padding files are not listed and not counted).
    pub index: usize,
    /// Relative to the download dir, as stored on disk.
    pub path: String,
    pub length: u64,
    /// 0.0 ..= 1.0: share of the file's pieces verified.
    pub progress: f64,
    /// "high", "normal", "low" or "skip".
    pub priority: String,
}

/// `result` of `files` and `prio`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct FileList {
    pub id: u32,
    pub files: Vec<FileState>,
}

/// One element of `trackers`' `trackers`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct TrackerState {
    /// BEP 12 tier, from 0.
    pub tier: usize,
    pub url: String,
    /// "not contacted", "ok" or "error".
    pub status: String,
    /// Seconds since the last announce attempt and the last success; `null` if never.
    pub last_attempt_secs: Option<u64>,
    pub last_success_secs: Option<u64>,
    /// The last attempt's error (cleared by a success).
    pub error: Option<String>,
    /// From the last success: peers returned, and the tracker's seeders/leechers counts.
    pub peers: Option<usize>,
    pub seeders: Option<u32>,
    pub leechers: Option<u32>,
    pub warning: Option<String>,
    /// A BEP 19 web seed (`url-list`) rather than a tracker: `tier` is 0, `status` is
    /// `not contacted`, `ok`, `backing off` or `dropped` (its data failed a piece check),
    /// `downloaded` the bytes it delivered. Absent (false) from older daemons.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub web_seed: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub downloaded: Option<u64>,
}

/// `result` of `trackers`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct TrackerList {
    pub id: u32,
    pub trackers: Vec<TrackerState>,
}

impl TrackerState {
    pub fn from_status(t: &crate::engine::tracker::TrackerStatus) -> TrackerState {
        let ago = |i: Option<std::time::Instant>| i.map(|i| i.elapsed().as_secs());
        TrackerState {
            tier: t.tier,
            url: t.url.clone(),
            status: match (&t.last_attempt, &t.last_error) {
                (None, _) => "not contacted",
                (Some(_), Some(_)) => "error",
                (Some(_), None) => "ok",
            }
            .into(),
            last_attempt_secs: ago(t.last_attempt),
            last_success_secs: ago(t.last_success),
            error: t.last_error.clone(),
            peers: t.peers,
            seeders: t.seeders,
            leechers: t.leechers,
            warning: t.warning.clone(),
            web_seed: false,
            downloaded: None,
        }
    }

    pub fn from_web_seed(w: &crate::engine::torrent::WebSeedStatus) -> TrackerState {
        let ago = |i: Option<std::time::Instant>| i.map(|i| i.elapsed().as_secs());
        TrackerState {
            tier: 0,
            url: w.url.clone(),
            status: w.state.to_string(),
            last_attempt_secs: ago(w.last_attempt),
            last_success_secs: ago(w.last_success),
            error: w.last_error.clone(),
            peers: None,
            seeders: None,
            leechers: None,
            warning: None,
            web_seed: true,
            downloaded: Some(w.downloaded),
        }
    }

    /// One line for a table: "ok · 12 peers (3 seeders) · 40 s ago", or the error; web seeds
    /// read "web seed ok · 1.5 MiB", "web seed dropped: piece 4 failed its hash check".
    pub fn describe(&self) -> String {
        if self.web_seed {
            let got = crate::units::bytes(self.downloaded.unwrap_or(0));
            return match (&self.error, self.status.as_str()) {
                (Some(e), s) => format!("web seed {s}: {e}"),
                (None, "not contacted") => "web seed, not contacted".to_string(),
                (None, s) => format!("web seed {s} · {got}"),
            };
        }
        match self.status.as_str() {
            "ok" => {
                let mut s = "ok".to_string();
                if let Some(p) = self.peers {
                    s.push_str(&format!(" · {p} peers"));
                }
                if let Some(n) = self.seeders {
                    s.push_str(&format!(" ({n} seeders)"));
                }
                if let Some(a) = self.last_success_secs {
                    s.push_str(&format!(" · {a} s ago"));
                }
                if let Some(w) = &self.warning {
                    s.push_str(&format!(" · warning: {w}"));
                }
                s
            }
            "error" => format!("error: {}", self.error.as_deref().unwrap_or("failed")),
            other => other.to_string(),
        }
    }
}

/// BEP 3 bitfield bytes in lowercase hex (the `have` of `pieces`).
pub fn bitfield_hex(have: &[bool]) -> String {
    let mut out = String::with_capacity(have.len().div_ceil(8) * 2);
    for chunk in have.chunks(8) {
        let mut b = 0u8;
        for (i, h) in chunk.iter().enumerate() {
            if *h {
                b |= 0x80 >> i;
            }
        }
        out.push_str(&format!("{b:02x}"));
    }
    out
}

/// The inverse of [`bitfield_hex`]: `n` flags; `None` if the text is not hex or too short.
pub fn bitfield_from_hex(hex: &str, n: usize) -> Option<Vec<bool>> {
    if hex.len() < n.div_ceil(8) * 2 {
        return None;
    }
    let bytes: Option<Vec<u8>> = (0..n.div_ceil(8))
        .map(|i| u8::from_str_radix(hex.get(2 * i..2 * i + 2)?, 16).ok())
        .collect();
    let bytes = bytes?;
    Some(
        (0..n)
            .map(|i| bytes[i / 8] & (0x80 >> (i % 8)) != 0)
            .collect(),
    )
}

/// One element of `peers`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct PeerInfo {
    pub addr: String,
    pub client: String,
    /// `D`/`d` downloading from it (unchoked/choked while interested), `U`/`u` uploading to it
    /// (unchoked/choked while it is interested), `O`/`I` outgoing/incoming, `F` fast
    /// extension, `X` token market.
    #[serde(default)]
    pub flags: String,
    pub outgoing: bool,
    pub progress: f64,
    #[serde(serialize_with = "whole_rate")]
    pub down_rate: f64,
    #[serde(serialize_with = "whole_rate")]
    pub up_rate: f64,
    pub downloaded: u64,
    pub uploaded: u64,
    pub am_choking: bool,
    pub am_interested: bool,
    pub peer_choking: bool,
    pub peer_interested: bool,
}

/// `result` of `peers`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct PeerList {
    pub id: u32,
    pub peers: Vec<PeerInfo>,
}

/// What a subscription streams, one per line.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(tag = "event", rename_all = "snake_case")]
pub enum Event {
    Added {
        id: u32,
        info_hash: String,
        name: String,
    },
    Removed {
        id: u32,
        info_hash: String,
    },
    Checking {
        id: u32,
    },
    Checked {
        id: u32,
        have: usize,
        hashed: usize,
    },
    Paused {
        id: u32,
    },
    Resumed {
        id: u32,
    },
    Complete {
        id: u32,
        name: String,
    },
    HashFailed {
        id: u32,
        piece: u32,
    },
    PeerBanned {
        id: u32,
        ip: String,
    },
    TrackerError {
        id: u32,
        message: String,
    },
    Error {
        id: u32,
        message: String,
    },
    /// A downloading torrent's verified bytes, twice a second while they change (for scripts
    /// and benchmarks that time a transfer, as they poll a real client's API).
    Progress {
        id: u32,
        verified: u64,
        total: u64,
        down_rate: u64,
    },
    /// Every torrent, sent every `interval_ms` of the subscription.
    Stats {
        torrents: Vec<TorrentSummary>,
    },
    /// Events were dropped because this subscriber was too slow; refresh with `list`.
    Lagged {
        missed: u64,
    },
    /// The daemon is stopping; the stream ends.
    Shutdown,
}

#[cfg(test)]
mod web_seed_rows {
    use super::TrackerState;
    use crate::engine::torrent::WebSeedStatus;

    #[test]
    fn web_seeds_read_as_such_and_old_rows_stay_trackers() {
        let w = WebSeedStatus {
            url: "http://127.0.0.1:8080/".into(),
            state: "dropped",
            downloaded: 65536,
            last_attempt: None,
            last_success: None,
            last_error: Some("piece 4 failed its hash check".into()),
        };
        let row = TrackerState::from_web_seed(&w);
        assert_eq!(
            row.describe(),
            "web seed dropped: piece 4 failed its hash check"
        );
        let json = serde_json::to_value(&row).expect("json");
        assert_eq!(json["web_seed"], true);
        assert_eq!(json["downloaded"], 65536);
        // A tracker row from an older daemon (no `web_seed` key) is a tracker.
        let old: TrackerState = serde_json::from_str(
            r#"{"tier":0,"url":"http://t/a","status":"ok","last_attempt_secs":1,
                "last_success_secs":1,"error":null,"peers":2,"seeders":1,"leechers":1,
                "warning":null}"#,
        )
        .expect("parse");
        assert!(!old.web_seed);
        assert!(
            serde_json::to_value(&old)
                .expect("json")
                .get("web_seed")
                .is_none()
        );
    }
}
