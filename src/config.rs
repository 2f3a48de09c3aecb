//! The configuration file (TOML): every key has a default, unknown keys are errors.
//!
//! [`DEFAULT_FILE`] is the full commented file `bidtorrent config default` prints; a unit test
//! parses it and compares it with [`Config::default`], so the documentation cannot drift from
//! the code.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Config {
    /// Where torrents are downloaded unless `add --dir` says otherwise; `~/` is the home dir.
    pub download_dir: String,
    /// Address the peer listener binds.
    pub listen: SocketAddr,
    pub network: Network,
    pub disk: Disk,
    pub limits: Limits,
    pub torrent: TorrentDefaults,
    pub watch: Watch,
    pub log: Log,
    pub dht: Dht,
    pub market: Market,
    /// `[seeding]`: global seeding rules (ratio and idle limits, the action at the limit).
    pub seeding: crate::rpc::proto::GlobalSeeding,
    /// `[rpc]`: remote-control endpoints besides the control socket.
    pub rpc: Rpc,
    /// The dashboard's `[tui]` table (theme, colour, mouse, refresh, keys). Kept as a table
    /// here and checked, with line numbers, by `tui::parse_config`.
    #[serde(skip_serializing_if = "toml::Table::is_empty")]
    pub tui: toml::Table,
    /// `[chain]`: the vault on a public chain that `wallet deposit` and `wallet withdraw` use
    /// (issue 16); absent, tokens only come from a ledger's mint.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub chain: Option<crate::wallet::chain::ChainConfig>,
}

/// `[network]`: how peers are connected (transports and protocol encryption).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Network {
    /// "prefer", "require", "allow" or "off" (MSE/PE; see `engine::transport`).
    pub encryption: String,
    /// Connect and accept over TCP.
    pub tcp: bool,
    /// Connect and accept over uTP (BEP 29), on the listener's port number.
    pub utp: bool,
}

impl Default for Network {
    fn default() -> Self {
        Network {
            encryption: "prefer".into(),
            tcp: true,
            utp: true,
        }
    }
}

impl Network {
    /// The engine's options; the encryption mode was checked by `Config::validate`.
    pub fn options(&self) -> crate::engine::transport::NetOptions {
        crate::engine::transport::NetOptions {
            encryption: self.encryption.parse().unwrap_or_default(),
            tcp: self.tcp,
            utp: self.utp,
            ..crate::engine::transport::NetOptions::default()
        }
    }
}

/// `[disk]`: how downloaded data reaches the disk.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Disk {
    /// Verified pieces go straight to the disk (O_DIRECT), not through the page cache
    /// (`engine::direct_io` says why); false writes through the cache as most clients do.
    pub write_through: bool,
}

impl Default for Disk {
    fn default() -> Self {
        Disk {
            write_through: true,
        }
    }
}

/// `[dht]`: the BEP 5 DHT, which finds peers for torrents and magnet links without a tracker.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Dht {
    /// Join the DHT (never for private torrents, BEP 27).
    pub enabled: bool,
    /// HOST:PORT nodes to bootstrap from. Absent: the well-known public routers; `[]`: none
    /// (the first node of a private network). The routing table is saved in the data dir and
    /// reused at the next start either way.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub bootstrap: Option<Vec<String>>,
}

impl Default for Dht {
    fn default() -> Self {
        Dht {
            enabled: true,
            bootstrap: None,
        }
    }
}

/// `[market]`: the token market (SPEC §4). Off unless the user opts in, so a fresh install is
/// plain BitTorrent and never needs a ledger.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Market {
    /// Trade: announce `bt_market`, bid and sell. Needs a reachable ledger.
    pub enabled: bool,
    /// Address (HOST:PORT) of the ledger that escrows and settles payment channels.
    pub ledger: String,
    /// Buyer strategy and parameters, for every torrent without an override.
    pub buyer: crate::market::config::BuyerConfig,
    /// Seller strategy and parameters.
    pub seller: crate::market::config::SellerConfig,
    /// Per-torrent overrides, keyed by info hash (40 hex digits): `buyer` and/or `seller`
    /// tables with only the keys that differ.
    pub torrent: std::collections::BTreeMap<String, toml::Table>,
    /// The seller redeems its earnings at least this often, seconds.
    pub redeem_interval_secs: u64,
    /// ... and as soon as unredeemed earnings reach this many tokens.
    pub redeem_threshold: crate::market::config::Tokens,
    /// The buyer closes channels it has not paid on for this long, seconds.
    pub channel_idle_secs: u64,
    /// Most one payment channel escrows, tokens.
    pub channel_cap: crate::market::config::Tokens,
    /// Lifetime of a new payment channel, seconds.
    pub channel_secs: u64,
}

impl Default for Market {
    fn default() -> Self {
        let m = crate::market::MarketConfig::default();
        let l = m.lifecycle;
        Market {
            enabled: false,
            ledger: crate::wallet::ledger::DEFAULT_LEDGER.into(),
            buyer: m.buyer,
            seller: m.seller,
            torrent: m.torrent,
            redeem_interval_secs: l.redeem_interval_secs,
            redeem_threshold: l.redeem_threshold,
            channel_idle_secs: l.channel_idle_secs,
            channel_cap: l.channel_cap,
            channel_secs: l.channel_secs,
        }
    }
}

impl Market {
    /// The market library's view of this section.
    pub fn market_config(&self) -> crate::market::MarketConfig {
        crate::market::MarketConfig {
            enabled: self.enabled,
            buyer: self.buyer.clone(),
            seller: self.seller.clone(),
            torrent: self.torrent.clone(),
            lifecycle: crate::market::config::Lifecycle {
                redeem_interval_secs: self.redeem_interval_secs,
                redeem_threshold: self.redeem_threshold,
                channel_idle_secs: self.channel_idle_secs,
                channel_cap: self.channel_cap,
                channel_secs: self.channel_secs,
            },
        }
    }
}

/// `[rpc]`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Rpc {
    /// `[rpc.http]`: the Transmission-compatible HTTP endpoint; absent = off.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub http: Option<RpcHttp>,
}

/// `[rpc.http]`: Transmission's RPC (rpc-version 17) at `POST /transmission/rpc`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RpcHttp {
    /// Address to listen on; loopback unless a username and password are set.
    pub listen: SocketAddr,
    /// HTTP Basic credentials; both empty = no authentication (loopback only).
    pub username: String,
    pub password: String,
    /// Host names accepted in the Host header besides IP addresses and `localhost` (against
    /// DNS rebinding); a leading `*.` matches subdomains.
    pub host_whitelist: Vec<String>,
    /// Largest request body, bytes.
    pub max_body: Rate,
    /// Requests per second each client address may make (bursts of `burst`).
    pub requests_per_sec: u32,
    pub burst: u32,
    /// Connections served at once.
    pub max_connections: usize,
}

impl Default for RpcHttp {
    fn default() -> Self {
        RpcHttp {
            listen: SocketAddr::from(([127, 0, 0, 1], 9091)),
            username: String::new(),
            password: String::new(),
            host_whitelist: Vec::new(),
            max_body: Rate(16 << 20),
            requests_per_sec: 50,
            burst: 200,
            max_connections: 128,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Limits {
    /// Global download rate, bytes/s (or "10M"); 0 = unlimited.
    pub download: Rate,
    pub upload: Rate,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct TorrentDefaults {
    pub max_peers: usize,
    pub upload_slots: usize,
    pub sequential: bool,
    /// Seconds between tracker announces; 0 = what the tracker asks.
    pub tracker_interval: u64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Watch {
    /// Directory scanned for new .torrent files; empty = off.
    pub dir: String,
    pub interval_secs: u64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Log {
    /// Level of the daemon's log file: error, warn, info, debug or trace.
    pub level: String,
    /// Write the log file (under the state dir).
    pub file: bool,
}

/// A rate in bytes/s: a TOML integer or a string with a binary unit ("512K", "10M").
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Rate(pub u64);

impl Serialize for Rate {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_u64(self.0)
    }
}

impl<'de> Deserialize<'de> for Rate {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum Raw {
            Int(u64),
            Str(String),
        }
        match Raw::deserialize(d)
            .map_err(|_| serde::de::Error::custom("expected a rate like 0, 1048576 or \"10M\""))?
        {
            Raw::Int(v) => Ok(Rate(v)),
            Raw::Str(s) => crate::units::parse_size(&s)
                .map(Rate)
                .map_err(serde::de::Error::custom),
        }
    }
}

impl Default for Config {
    fn default() -> Self {
        Config {
            download_dir: "~/Downloads".into(),
            listen: SocketAddr::from(([0, 0, 0, 0], 6881)),
            network: Network::default(),
            disk: Disk::default(),
            limits: Limits::default(),
            torrent: TorrentDefaults::default(),
            watch: Watch::default(),
            log: Log::default(),
            dht: Dht::default(),
            market: Market::default(),
            seeding: Default::default(),
            rpc: Rpc::default(),
            tui: toml::Table::new(),
            chain: None,
        }
    }
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            download: Rate(0),
            upload: Rate(0),
        }
    }
}

impl Default for TorrentDefaults {
    fn default() -> Self {
        TorrentDefaults {
            max_peers: 50,
            upload_slots: 4,
            sequential: false,
            tracker_interval: 0,
        }
    }
}

impl Default for Watch {
    fn default() -> Self {
        Watch {
            dir: String::new(),
            interval_secs: 5,
        }
    }
}

impl Default for Log {
    fn default() -> Self {
        Log {
            level: "info".into(),
            file: true,
        }
    }
}

/// The full default configuration, every key commented (`bidtorrent config default`).
pub const DEFAULT_FILE: &str = r#"# bidtorrent configuration (TOML). Every key is optional; shown here with its default.
# Unknown keys are errors. Check a file with `bidtorrent config check`.

# Where torrents are downloaded unless `add --dir` says otherwise. "~/" is your home.
download_dir = "~/Downloads"

# Address the peer listener binds (port 0 picks a free port).
listen = "0.0.0.0:6881"

[network]
# Protocol encryption (MSE/PE, RC4), the peers' answer to traffic shaping:
#   "prefer"  dial encrypted, fall back to plaintext on a new connection; accept both
#             (a peer on this host is dialled in plaintext first, and its first offer of
#             RC4 only is refused so it redials in plaintext: nothing to hide from there)
#   "require" dial and accept encrypted only (plaintext peers are refused)
#   "allow"   dial plaintext, fall back to encrypted; accept both, plaintext when offered
#   "off"     plaintext only
# (The one-shot `download` and `seed` take `--encryption MODE` instead, default "prefer".)
encryption = "prefer"
# Transports peers are dialled and accepted on. uTP (BEP 29) listens on the same port number
# as TCP (UDP). A new peer is dialled over uTP first (its LEDBAT congestion control yields to
# other traffic), TCP joining after a second; a peer on this host over TCP first. With uTP on,
# the DHT takes another UDP port. `tcp = false` makes every connection uTP.
tcp = true
utp = true

[disk]
# Verified pieces go straight to the disk (O_DIRECT) rather than through the page cache, so a
# big download does not evict what other programs had cached (qBittorrent's "disable OS
# cache"). Ranges the disk cannot take that way, and filesystems without O_DIRECT, still go
# through the cache. The one-shot `download` takes `--page-cache` to turn it off.
write_through = true

[limits]
# Global rates in bytes/s: an integer, or a string with a binary unit ("512K", "10M", "1G").
# 0 means unlimited. `bidtorrent limit` changes them at run time.
download = 0
upload = 0

[torrent]
# Most peers connected per torrent.
max_peers = 50
# Upload slots per torrent (peers unchoked by the choker, besides the optimistic one).
upload_slots = 4
# Fetch pieces in order (for streaming) instead of rarest first; `add --sequential` per torrent.
sequential = false
# Seconds between tracker announces; 0 follows the interval the tracker asks for.
tracker_interval = 0

[watch]
# A directory scanned for new .torrent files: each is added once, then renamed to
# NAME.torrent.added, or NAME.torrent.invalid when it cannot be added (the reason is logged).
# Empty turns watching off. "~/" is your home.
dir = ""
# Seconds between scans.
interval_secs = 5

[log]
# Level of the daemon's log: "error", "warn", "info", "debug" or "trace".
# RUST_LOG overrides it.
level = "info"
# Write the log to daemon.log in the state directory ($XDG_STATE_HOME/bidtorrent, or the
# --data-dir). `bidtorrent daemon --log-stderr` also logs to stderr.
file = true

[dht]
# The BEP 5 DHT finds peers for torrents and magnet links without a tracker (never used for
# private torrents). Its routing table is saved in the data dir and reused at the next start.
enabled = true
# HOST:PORT nodes to bootstrap from. Left out, the well-known public routers are used;
# an empty list means none (the first node of a private network).
# bootstrap = ["192.0.2.1:6881"]

[market]
# The token market: bid tokens for upload slots, earn tokens for what you serve. Off by
# default (plain BitTorrent). When on, the daemon uses the wallet in its data dir and the
# ledger below; if the ledger cannot be reached it still runs, as plain BitTorrent, and
# `bidtorrent status` says why. Plain peers are always served.
enabled = false
# The ledger (HOST:PORT) that escrows and settles payment channels.
ledger = "127.0.0.1:7171"
# Amounts are tokens as strings ("0.05"); prices are tokens per MiB. Change strategies
# while running with `bidtorrent strategy [ID] [NAME] [--param k=v ...]`.
# The money's lifecycle, run by the daemon. Selling: redeem earnings at the ledger at least
# every `redeem_interval_secs`, as soon as `redeem_threshold` tokens are unredeemed, before
# a channel expires and at shutdown.
redeem_interval_secs = 600
redeem_threshold = "1"
# Buying: a channel escrows what the download still needs from that seller (with room for
# the price to rise), never more than `channel_cap`; it lives `channel_secs` and is renewed
# while a download needs it; one not paid on for `channel_idle_secs` is closed and its
# rest refunded after the ledger's grace.
channel_cap = "5"
channel_secs = 86400
channel_idle_secs = 600

[market.buyer]
# How this client bids when it downloads:
#   "off" (never bid), "fixed" (bid `price`), "auto" (spend `fraction` of the balance over
#   the bytes still missing), "budget" (spend at most `budget` per download, paced),
#   "target-rate" (raise or lower the bid to hold `target_rate`, up to `max_price`).
strategy = "auto"
price = "0.010000"
fraction = 0.5
budget = "1.000000"
# Bytes/s.
target_rate = 1048576
# Ceiling of any computed bid (auto, budget, target-rate).
max_price = "1.000000"

[market.seller]
# How this client sells upload slots:
#   "tit-for-tat" (classic choker, market ignored), "highest-bid" (top bidders, each pays
#   its bid), "uniform-price" (top bidders, all pay the highest losing bid), "proportional"
#   (upload shared in proportion to bids), "hybrid" (bid blended with bytes received).
strategy = "uniform-price"
# Lowest price accepted.
reserve_price = "0.001000"
# Share of slots and upload kept for plain peers and non-bidders, above 0 and at most 1.
non_market_share = 0.2
# Upload slots (market + non-market; the optimistic slot comes on top).
slots = 4
# Non-market slots one IP address may hold.
per_ip = 1
# `hybrid`: weight of the bid against bytes received, 0 to 1.
hybrid_weight = 0.5
# Credit window, bytes: delivery may run this far ahead of payment.
window = 1048576
# Seconds a buyer over half its window has to pay before it is choked.
grace_secs = 3
# Choked-for-debt strikes before a ban.
ban_strikes = 3

# Per-torrent overrides (only the keys that differ), e.g.
# [market.torrent.0123456789abcdef0123456789abcdef01234567]
# buyer = { strategy = "fixed", price = "0.2" }

[seeding]
# When a complete torrent has seeded enough. A torrent can have limits of its own
# (`add --seed-ratio`, `bidtorrent seeding ID`, Transmission's torrent-set), or none.
# Upload ratio (uploaded / downloaded) at which the action applies; 0 = no limit.
ratio = 0.0
# Minutes without uploading anything after which the action applies; 0 = no limit.
idle_minutes = 0
# What happens at the limit:
#   "stop" (pause the torrent), "slow-to RATE" (cap its upload, e.g. "slow-to 100K", and
#   keep seeding), "keep-while-earning PRICE" (keep seeding while the market pays at least
#   PRICE tokens per MiB uploaded, measured over the window below; stop when it pays less).
action = "stop"
# Seconds over which keep-while-earning measures what the market pays.
earning_window_secs = 600

# A Transmission-compatible RPC (rpc-version 17) at POST /transmission/rpc, for
# transmission-remote, Sonarr, Radarr, Flood and other Transmission remotes. Off unless this
# table is present.
# [rpc.http]
# Address to listen on. A non-loopback address needs a username and password.
# listen = "127.0.0.1:9091"
# HTTP Basic credentials (both empty: no authentication, loopback only).
# username = ""
# password = ""
# Host names accepted in the Host header besides IP addresses and localhost (DNS rebinding
# protection); "*.example.org" matches subdomains.
# host_whitelist = []
# Largest request body (a .torrent sent as base64 must fit).
# max_body = "16M"
# Requests per second per client address, and the burst allowed above it.
# requests_per_sec = 50
# burst = 200
# Connections served at once.
# max_connections = 128

# The dashboard (`bidtorrent` with no command). Commented out: these are the defaults.
# [tui]
# Theme: default, dusk, light, mono, a file in ~/.config/bidtorrent/themes/, or a path.
# theme = "default"
# Colours: auto, truecolor, 256, 16 or none (COLORTERM is often lost over ssh).
# color = "auto"
# Mouse: wheel scrolls, click selects; off so the terminal's copy works.
# mouse = false
# How often the dashboard polls, in milliseconds.
# refresh_ms = 1000
#
# [tui.keys]
# Action = key or [keys]; the `?` overlay lists every action with its keys.
# quit = ["q", "ctrl-c"]
# remove = "d"
"#;

/// A problem with a configuration file, naming the file, the line and the key.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("{}: {source}", .path.display())]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{}:{line}:{column}: {message}", .path.display())]
    Invalid {
        path: PathBuf,
        line: usize,
        column: usize,
        message: String,
    },
}

impl Config {
    /// Parses `text` (from `path`, used in messages) and validates the values.
    pub fn parse(text: &str, path: &Path) -> Result<Config, ConfigError> {
        let cfg: Config = toml::from_str(text).map_err(|e| {
            let (line, column) = e.span().map(|s| line_col(text, s.start)).unwrap_or((1, 1));
            ConfigError::Invalid {
                path: path.to_path_buf(),
                line,
                column,
                message: e.message().trim().to_string(),
            }
        })?;
        cfg.validate(text, path)?;
        Ok(cfg)
    }

    /// Reads `path`; a missing file gives the defaults unless `must_exist`.
    pub fn load(path: &Path, must_exist: bool) -> Result<Config, ConfigError> {
        match std::fs::read_to_string(path) {
            Ok(text) => Config::parse(&text, path),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound && !must_exist => {
                Ok(Config::default())
            }
            Err(source) => Err(ConfigError::Read {
                path: path.to_path_buf(),
                source,
            }),
        }
    }

    /// Checks what serde cannot: values in range. Errors point at the key's line.
    fn validate(&self, text: &str, path: &Path) -> Result<(), ConfigError> {
        let bad = |key: &str, message: String| {
            let (line, column) = find_key(text, key);
            Err(ConfigError::Invalid {
                path: path.to_path_buf(),
                line,
                column,
                message: format!("{key}: {message}"),
            })
        };
        if let Err(e) = self
            .network
            .encryption
            .parse::<crate::engine::transport::Encryption>()
        {
            return bad("encryption", e);
        }
        if !["error", "warn", "info", "debug", "trace"].contains(&self.log.level.as_str()) {
            return bad(
                "level",
                format!(
                    "{:?} is not one of error, warn, info, debug, trace",
                    self.log.level
                ),
            );
        }
        if self.torrent.max_peers == 0 {
            return bad("max_peers", "must be at least 1".into());
        }
        if self.torrent.upload_slots == 0 {
            return bad("upload_slots", "must be at least 1".into());
        }
        if self.watch.interval_secs == 0 {
            return bad("interval_secs", "must be at least 1".into());
        }
        if self.download_dir.trim().is_empty() {
            return bad("download_dir", "must not be empty".into());
        }
        if let Err(e) = crate::rpc::seeding::check_ratio(self.seeding.ratio) {
            return bad("ratio", e);
        }
        if self.seeding.earning_window_secs == 0 {
            return bad("earning_window_secs", "must be at least 1".into());
        }
        if let Some(h) = &self.rpc.http {
            let open = h.username.is_empty() || h.password.is_empty();
            if open && !h.listen.ip().is_loopback() {
                return bad(
                    "listen",
                    format!(
                        "[rpc.http] on {} (not loopback) needs a username and a password",
                        h.listen
                    ),
                );
            }
            if h.requests_per_sec == 0 || h.burst == 0 || h.max_connections == 0 {
                return bad(
                    "requests_per_sec",
                    "[rpc.http] requests_per_sec, burst and max_connections must be at least 1"
                        .into(),
                );
            }
            if h.max_body.0 < 4096 {
                return bad("max_body", "must be at least 4K".into());
            }
        }
        if self.market.ledger.trim().is_empty() {
            return bad("ledger", "must be an address like 127.0.0.1:7171".into());
        }
        if let Err(e) = self.market.market_config().validate() {
            // Point at the key the message names (or the override's table) when we can.
            let key = match &e {
                crate::market::ConfigError::BadValue { key, .. } => key.clone(),
                crate::market::ConfigError::NonMarketShare(_) => "non_market_share".into(),
                crate::market::ConfigError::Override { key, .. } => key.clone(),
                _ => "market".into(),
            };
            let (line, column) = find_key(text, &key);
            let (line, column) = if (line, column) == (1, 1) {
                find_table(text, &key)
            } else {
                (line, column)
            };
            return Err(ConfigError::Invalid {
                path: path.to_path_buf(),
                line,
                column,
                message: format!("[market]: {e}"),
            });
        }
        Ok(())
    }

    pub fn download_dir(&self) -> PathBuf {
        expand_home(&self.download_dir)
    }

    pub fn watch_dir(&self) -> Option<PathBuf> {
        (!self.watch.dir.trim().is_empty()).then(|| expand_home(&self.watch.dir))
    }
}

/// `~/x` → `$HOME/x`; anything else unchanged.
pub fn expand_home(s: &str) -> PathBuf {
    if let Some(rest) = s.strip_prefix("~/")
        && let Some(home) = std::env::var_os("HOME")
    {
        return PathBuf::from(home).join(rest);
    }
    if s == "~"
        && let Some(home) = std::env::var_os("HOME")
    {
        return PathBuf::from(home);
    }
    PathBuf::from(s)
}

fn line_col(text: &str, offset: usize) -> (usize, usize) {
    let before = &text[..offset.min(text.len())];
    let line = before.matches('\n').count() + 1;
    let column = before.len() - before.rfind('\n').map_or(0, |i| i + 1) + 1;
    (line, column)
}

/// Line and column of the first line that sets `key` (for errors found after parsing).
fn find_key(text: &str, key: &str) -> (usize, usize) {
    let mut offset = 0;
    for line in text.split_inclusive('\n') {
        let t = line.trim_start();
        if let Some(rest) = t.strip_prefix(key)
            && rest.trim_start().starts_with('=')
        {
            return line_col(text, offset + (line.len() - t.len()));
        }
        offset += line.len();
    }
    (1, 1)
}

/// Line and column of the first table header that mentions `name` (`[market.torrent.<name>]`).
fn find_table(text: &str, name: &str) -> (usize, usize) {
    let mut offset = 0;
    for line in text.split_inclusive('\n') {
        let t = line.trim_start();
        if t.starts_with('[') && t.contains(name) {
            return line_col(text, offset + (line.len() - t.len()));
        }
        offset += line.len();
    }
    (1, 1)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_file_is_the_defaults() {
        let cfg = Config::parse(DEFAULT_FILE, Path::new("default")).expect("parses");
        assert_eq!(cfg, Config::default());
    }

    #[test]
    fn network_encryption_mode_is_checked() {
        let cfg = Config::parse("[network]\nencryption = \"require\"\n", Path::new("c"))
            .expect("valid mode");
        assert_eq!(
            cfg.network.options().encryption,
            crate::engine::transport::Encryption::Require
        );
        let e = Config::parse("[network]\nencryption = \"always\"\n", Path::new("c"))
            .expect_err("unknown mode");
        assert!(e.to_string().contains("c:2:"), "{e}");
        assert!(e.to_string().contains("prefer, require, allow, off"), "{e}");
    }

    #[test]
    fn unknown_key_is_named_with_its_line() {
        let text = "listen = \"127.0.0.1:0\"\n[limits]\ndownload = \"1M\"\nuplaod = 5\n";
        let e = Config::parse(text, Path::new("c.toml")).expect_err("must fail");
        let msg = e.to_string();
        assert!(msg.starts_with("c.toml:4:"), "{msg}");
        assert!(msg.contains("uplaod"), "{msg}");
    }

    #[test]
    fn rates_take_units() {
        let cfg = Config::parse(
            "[limits]\ndownload = \"1M\"\nupload = 2048\n",
            Path::new("c"),
        )
        .expect("parses");
        assert_eq!(cfg.limits.download, Rate(1 << 20));
        assert_eq!(cfg.limits.upload, Rate(2048));
        let e =
            Config::parse("[limits]\ndownload = \"fast\"\n", Path::new("c")).expect_err("bad rate");
        assert!(e.to_string().contains("c:2:"), "{e}");
    }

    #[test]
    fn market_section() {
        let cfg = Config::parse(
            "[market]\nenabled = true\nledger = \"127.0.0.1:9000\"\n[market.buyer]\nstrategy = \"fixed\"\nprice = \"0.2\"\n",
            Path::new("c"),
        )
        .expect("parses");
        assert!(cfg.market.enabled);
        assert_eq!(cfg.market.ledger, "127.0.0.1:9000");
        assert_eq!(
            cfg.market.buyer.strategy,
            crate::market::config::BuyerStrategy::Fixed
        );
        let e = Config::parse(
            "[market]\nenabled = true\n\n[market.seller]\nstrategy = \"foo\"\n",
            Path::new("c"),
        )
        .expect_err("bad strategy");
        let msg = e.to_string();
        assert!(msg.starts_with("c:5:"), "{msg}");
        assert!(msg.contains("unknown seller strategy \"foo\""), "{msg}");
        let e = Config::parse("[market]\nbogus = 1\n", Path::new("c")).expect_err("unknown");
        assert!(e.to_string().starts_with("c:2:"), "{e}");
        let e = Config::parse(
            "[market.seller]\nslots = 4\nnon_market_share = 0.0\n",
            Path::new("c"),
        )
        .expect_err("zero share");
        assert!(e.to_string().starts_with("c:3:"), "{e}");
        let e = Config::parse(
            "[market.torrent.abcd]\nbuyer = { price = \"x\" }\n",
            Path::new("c"),
        )
        .expect_err("bad override");
        assert!(e.to_string().starts_with("c:1:"), "{e}");
        assert!(e.to_string().contains("abcd"), "{e}");
        // The lifecycle keys: flat under [market], checked, named with their line.
        let cfg = Config::parse(
            "[market]\nredeem_interval_secs = 60\nredeem_threshold = \"0.5\"\n\
             channel_cap = \"2\"\nchannel_secs = 3600\nchannel_idle_secs = 120\n",
            Path::new("c"),
        )
        .expect("lifecycle keys");
        let l = cfg.market.market_config().lifecycle;
        assert_eq!(l.redeem_interval_secs, 60);
        assert_eq!(l.redeem_threshold.0.micro(), 500_000);
        assert_eq!(l.channel_cap.0.micro(), 2_000_000);
        assert_eq!((l.channel_secs, l.channel_idle_secs), (3600, 120));
        let e = Config::parse(
            "[market]\nenabled = true\nchannel_secs = 5\n",
            Path::new("c"),
        )
        .expect_err("too short");
        assert!(e.to_string().starts_with("c:3:"), "{e}");
        assert!(e.to_string().contains("channel_secs"), "{e}");
        let e =
            Config::parse("[market]\nchannel_cap = \"0\"\n", Path::new("c")).expect_err("zero cap");
        assert!(e.to_string().contains("channel_cap"), "{e}");
        let e = Config::parse("[market]\nredeem_interval_secs = 0\n", Path::new("c"))
            .expect_err("zero interval");
        assert!(e.to_string().contains("redeem_interval_secs"), "{e}");
    }

    #[test]
    fn rpc_http_off_by_default_and_guarded() {
        assert!(Config::default().rpc.http.is_none());
        let cfg = Config::parse("[rpc.http]\n", Path::new("c")).expect("parses");
        let h = cfg.rpc.http.expect("on when the table is present");
        assert!(h.listen.ip().is_loopback());
        let e = Config::parse("[rpc.http]\nlisten = \"0.0.0.0:9091\"\n", Path::new("c"))
            .expect_err("open on every address");
        assert!(e.to_string().contains("needs a username"), "{e}");
        Config::parse(
            "[rpc.http]\nlisten = \"0.0.0.0:9091\"\nusername = \"u\"\npassword = \"p\"\n",
            Path::new("c"),
        )
        .expect("with credentials");
        let e = Config::parse("[seeding]\naction = \"slow\"\n", Path::new("c")).expect_err("bad");
        assert!(e.to_string().contains("seeding action"), "{e}");
    }

    #[test]
    fn bad_values_name_the_key() {
        let e = Config::parse("[log]\nlevel = \"loud\"\n", Path::new("c")).expect_err("bad");
        assert!(e.to_string().starts_with("c:2:1: level:"), "{e}");
    }
}
