//! `[market]` configuration: buyer and seller strategies with their parameters, globally and
//! per torrent. Self-contained (serde, `deny_unknown_fields`) so the daemon's config embeds it
//! as is. Prices are token amounts per MiB written as decimal strings (`"0.05"`).
//!
//! ```toml
//! [market]
//! enabled = true
//! [market.buyer]
//! strategy = "fixed"        # off | fixed | auto | budget | target-rate
//! price = "0.05"
//! [market.seller]
//! strategy = "uniform-price" # tit-for-tat | highest-bid | uniform-price | proportional | hybrid
//! reserve_price = "0.001"
//! non_market_share = 0.2
//! [market.torrent.<info hash hex>]   # partial overrides for one torrent
//! buyer = { strategy = "off" }
//! ```

use std::collections::BTreeMap;
use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::wallet::Amount;

#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum ConfigError {
    #[error(
        "unknown strategy {0:?}: buyer strategies are off, fixed, auto, budget, target-rate; seller strategies are tit-for-tat, highest-bid, uniform-price, proportional, hybrid"
    )]
    UnknownStrategy(String),
    #[error(
        "unknown parameter {0:?} (buyer: price, fraction, budget, target_rate, max_price; seller: reserve_price, non_market_share, slots, per_ip, hybrid_weight, window, grace_secs, ban_strikes)"
    )]
    UnknownParam(String),
    #[error("parameter {key}={value:?}: {problem}")]
    BadValue {
        key: String,
        value: String,
        problem: String,
    },
    #[error(
        "non_market_share must be above 0 and at most 1 (got {0}): the market may never starve plain BitTorrent peers"
    )]
    NonMarketShare(f64),
    #[error("torrent override {key}: {problem}")]
    Override { key: String, problem: String },
}

/// Token amounts in the config: decimal token strings such as `"0.05"`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Tokens(pub Amount);

impl Serialize for Tokens {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.0.to_string())
    }
}

impl<'de> Deserialize<'de> for Tokens {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        Amount::from_str(&s)
            .map(Tokens)
            .map_err(|e| serde::de::Error::custom(format!("{s:?}: {e}")))
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Default)]
#[serde(rename_all = "kebab-case")]
pub enum BuyerStrategy {
    /// Plain BitTorrent: never bid.
    Off,
    /// Bid `price` per MiB.
    Fixed,
    /// BitTorrent Speed's rule: `fraction` of the balance over the bytes still missing.
    #[default]
    Auto,
    /// Spend at most `budget` over the download, paced over the bytes still missing.
    Budget,
    /// Raise or lower the bid to hold `target_rate`, capped at `max_price`.
    TargetRate,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Default)]
#[serde(rename_all = "kebab-case")]
pub enum SellerStrategy {
    /// The classic choker; the market is ignored.
    TitForTat,
    /// Top-k bidders win; each pays its own bid.
    HighestBid,
    /// Top-k bidders win; all pay the highest losing bid (or the reserve).
    #[default]
    UniformPrice,
    /// Every bidder wins a market slot (up to the slot count); upload is shared in proportion
    /// to bids; each pays its own bid.
    Proportional,
    /// Ranked by a blend of bid and bytes received from the peer; pays min(own bid, clearing).
    Hybrid,
}

pub const BUYER_STRATEGIES: &str = "off, fixed, auto, budget, target-rate";
pub const SELLER_STRATEGIES: &str = "tit-for-tat, highest-bid, uniform-price, proportional, hybrid";

// Hand-written so a typo in the config file names the role and every valid choice (serde's
// "unknown variant" message does not say which list it was looking in).
impl<'de> Deserialize<'de> for BuyerStrategy {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        BuyerStrategy::parse(&s).ok_or_else(|| {
            serde::de::Error::custom(format!(
                "unknown buyer strategy {s:?} (expected one of {BUYER_STRATEGIES})"
            ))
        })
    }
}

impl<'de> Deserialize<'de> for SellerStrategy {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        SellerStrategy::parse(&s).ok_or_else(|| {
            serde::de::Error::custom(format!(
                "unknown seller strategy {s:?} (expected one of {SELLER_STRATEGIES})"
            ))
        })
    }
}

impl BuyerStrategy {
    pub fn name(self) -> &'static str {
        match self {
            BuyerStrategy::Off => "off",
            BuyerStrategy::Fixed => "fixed",
            BuyerStrategy::Auto => "auto",
            BuyerStrategy::Budget => "budget",
            BuyerStrategy::TargetRate => "target-rate",
        }
    }
    pub fn parse(s: &str) -> Option<Self> {
        [
            BuyerStrategy::Off,
            BuyerStrategy::Fixed,
            BuyerStrategy::Auto,
            BuyerStrategy::Budget,
            BuyerStrategy::TargetRate,
        ]
        .into_iter()
        .find(|b| b.name() == s)
    }
}

impl SellerStrategy {
    pub fn name(self) -> &'static str {
        match self {
            SellerStrategy::TitForTat => "tit-for-tat",
            SellerStrategy::HighestBid => "highest-bid",
            SellerStrategy::UniformPrice => "uniform-price",
            SellerStrategy::Proportional => "proportional",
            SellerStrategy::Hybrid => "hybrid",
        }
    }
    pub fn parse(s: &str) -> Option<Self> {
        [
            SellerStrategy::TitForTat,
            SellerStrategy::HighestBid,
            SellerStrategy::UniformPrice,
            SellerStrategy::Proportional,
            SellerStrategy::Hybrid,
        ]
        .into_iter()
        .find(|b| b.name() == s)
    }
}

impl fmt::Display for BuyerStrategy {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl fmt::Display for SellerStrategy {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct BuyerConfig {
    pub strategy: BuyerStrategy,
    /// `fixed`: the bid, tokens per MiB. Default 0.01.
    pub price: Tokens,
    /// `auto`: share of the balance to spend over the rest of the download. Default 0.5
    /// (Speed used 1.0, which spends everything by design).
    pub fraction: f64,
    /// `budget`: most to spend on one download, tokens. Default 1.
    pub budget: Tokens,
    /// `target-rate`: download rate to hold, bytes/s. Default 1 MiB/s.
    pub target_rate: u64,
    /// Ceiling of any computed bid (auto, budget, target-rate), tokens per MiB. Default 1.
    pub max_price: Tokens,
}

impl Default for BuyerConfig {
    fn default() -> Self {
        BuyerConfig {
            strategy: BuyerStrategy::Auto,
            price: Tokens(Amount(10_000)),
            fraction: 0.5,
            budget: Tokens(Amount(1_000_000)),
            target_rate: 1 << 20,
            max_price: Tokens(Amount(1_000_000)),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct SellerConfig {
    pub strategy: SellerStrategy,
    /// Lowest price accepted, tokens per MiB; announced in the `ask`. Default 0.001.
    pub reserve_price: Tokens,
    /// Share of slots and of upload bandwidth kept for plain peers and non-bidders, in (0, 1].
    /// Default 0.2. Zero is refused: the market never starves the classic swarm.
    pub non_market_share: f64,
    /// Regular upload slots (market + non-market; the optimistic slot comes on top). Default 4.
    pub slots: usize,
    /// Non-market slots one IP address may hold at once. Default 1.
    pub per_ip: usize,
    /// `hybrid`: weight of the bid against bytes received, in [0, 1]. Default 0.5.
    pub hybrid_weight: f64,
    /// Credit window, bytes: delivery may run this far ahead of payment. Default 1 MiB.
    pub window: u64,
    /// Seconds a buyer over half its window has to pay before it is choked. Default 3.
    pub grace_secs: u64,
    /// Choked-for-debt strikes before a ban. Default 3.
    pub ban_strikes: u32,
}

impl Default for SellerConfig {
    fn default() -> Self {
        SellerConfig {
            strategy: SellerStrategy::UniformPrice,
            reserve_price: Tokens(Amount(1_000)),
            non_market_share: 0.2,
            slots: 4,
            per_ip: 1,
            hybrid_weight: 0.5,
            window: 1 << 20,
            grace_secs: 3,
            ban_strikes: 3,
        }
    }
}

impl SellerConfig {
    /// Non-market regular slots: at least one, whatever the share.
    pub fn non_market_slots(&self) -> usize {
        ((self.slots as f64 * self.non_market_share).ceil() as usize).clamp(1, self.slots.max(1))
    }

    /// Auctioned slots: the rest.
    pub fn market_slots(&self) -> usize {
        self.slots.saturating_sub(self.non_market_slots())
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct MarketConfig {
    /// Announce `bt_market` and trade. Default true (inert without a wallet and a ledger).
    pub enabled: bool,
    pub buyer: BuyerConfig,
    pub seller: SellerConfig,
    /// Per-torrent partial overrides, keyed by info hash (hex): `buyer` and/or `seller` tables
    /// with only the fields that differ from the global ones.
    pub torrent: BTreeMap<String, toml::Table>,
    /// The channel lifecycle the daemon runs (see [`Lifecycle`]); flat keys of `[market]` in
    /// the daemon's config file.
    pub lifecycle: Lifecycle,
}

impl Default for MarketConfig {
    fn default() -> Self {
        MarketConfig {
            enabled: true,
            buyer: BuyerConfig::default(),
            seller: SellerConfig::default(),
            torrent: BTreeMap::new(),
            lifecycle: Lifecycle::default(),
        }
    }
}

/// The money's lifecycle in a long-running daemon (SPEC §5): when the seller redeems, how
/// big and how long-lived the buyer's channels are, when idle channels are closed.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Lifecycle {
    /// The seller redeems what it earned at least this often, seconds. Default 600.
    pub redeem_interval_secs: u64,
    /// ... and as soon as unredeemed earnings reach this many tokens. Default 1.
    pub redeem_threshold: Tokens,
    /// The buyer closes a channel it has not paid on for this long, seconds (the refund
    /// follows after the ledger's grace). Default 600.
    pub channel_idle_secs: u64,
    /// Most one channel escrows, tokens (the strategy sizes it to need below this).
    /// Default 5.
    pub channel_cap: Tokens,
    /// Lifetime of a new channel, seconds. Default 86400 (a day). A channel a download still
    /// needs is renewed before it expires.
    pub channel_secs: u64,
}

impl Default for Lifecycle {
    fn default() -> Self {
        Lifecycle {
            redeem_interval_secs: 600,
            redeem_threshold: Tokens(Amount(1_000_000)),
            channel_idle_secs: 600,
            channel_cap: Tokens(Amount(5_000_000)),
            channel_secs: 24 * 3600,
        }
    }
}

/// Shortest channel lifetime accepted (`channel_secs`).
pub const MIN_CHANNEL_SECS: u64 = 20;
/// Longest (the ledger refuses longer).
pub const MAX_CHANNEL_SECS: u64 = 366 * 24 * 3600;

impl Lifecycle {
    /// A certificate must stay valid this long to back a bid: two minutes, or a quarter of
    /// a short channel's life.
    pub fn min_cert_life(&self) -> u64 {
        (self.channel_secs / 4).clamp(1, 120)
    }

    /// A buyer renews a channel a download still needs when this little of its life is left.
    pub fn renew_before(&self) -> u64 {
        self.min_cert_life() * 2
    }

    /// A seller redeems every channel with unredeemed earnings when this little of its life
    /// is left (before the buyer's renewal has moved on, the vouchers stop rising).
    pub fn redeem_before(&self) -> u64 {
        self.min_cert_life()
    }

    fn validate(&self) -> Result<(), ConfigError> {
        let bad = |key: &str, value: String, problem: &str| ConfigError::BadValue {
            key: key.into(),
            value,
            problem: problem.into(),
        };
        if self.redeem_interval_secs == 0 {
            return Err(bad(
                "redeem_interval_secs",
                "0".into(),
                "must be at least 1 second",
            ));
        }
        if self.channel_idle_secs == 0 {
            return Err(bad(
                "channel_idle_secs",
                "0".into(),
                "must be at least 1 second",
            ));
        }
        if self.channel_cap.0.is_zero() {
            return Err(bad("channel_cap", "0".into(), "must be positive"));
        }
        if !(MIN_CHANNEL_SECS..=MAX_CHANNEL_SECS).contains(&self.channel_secs) {
            return Err(bad(
                "channel_secs",
                self.channel_secs.to_string(),
                &format!("must be {MIN_CHANNEL_SECS} to {MAX_CHANNEL_SECS} seconds"),
            ));
        }
        Ok(())
    }
}

/// The strategies in force for one torrent.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Effective {
    pub buyer: BuyerConfig,
    pub seller: SellerConfig,
}

impl MarketConfig {
    /// Checks every value and every per-torrent override.
    pub fn validate(&self) -> Result<(), ConfigError> {
        self.lifecycle.validate()?;
        validate_seller(&self.seller)?;
        validate_buyer(&self.buyer)?;
        for key in self.torrent.keys() {
            self.effective(key)?;
        }
        Ok(())
    }

    /// The global settings with the torrent's overrides applied.
    pub fn effective(&self, info_hash_hex: &str) -> Result<Effective, ConfigError> {
        let Some(ov) = self.torrent.get(info_hash_hex) else {
            return Ok(Effective {
                buyer: self.buyer.clone(),
                seller: self.seller.clone(),
            });
        };
        let bad = |problem: String| ConfigError::Override {
            key: info_hash_hex.to_string(),
            problem,
        };
        for k in ov.keys() {
            if k != "buyer" && k != "seller" {
                return Err(bad(format!("unknown key {k:?} (expected buyer or seller)")));
            }
        }
        let merge =
            |base: toml::Value, part: Option<&toml::Value>| -> Result<toml::Value, ConfigError> {
                let mut base = base;
                if let Some(part) = part {
                    let (Some(b), Some(p)) = (base.as_table_mut(), part.as_table()) else {
                        return Err(bad("buyer and seller must be tables".into()));
                    };
                    for (k, v) in p {
                        b.insert(k.clone(), v.clone());
                    }
                }
                Ok(base)
            };
        let to_value = |v: &dyn erased::Ser| v.value().map_err(|e| bad(e.to_string()));
        let buyer = merge(to_value(&self.buyer)?, ov.get("buyer"))?;
        let seller = merge(to_value(&self.seller)?, ov.get("seller"))?;
        let buyer: BuyerConfig = buyer
            .try_into()
            .map_err(|e: toml::de::Error| bad(e.to_string()))?;
        let seller: SellerConfig = seller
            .try_into()
            .map_err(|e: toml::de::Error| bad(e.to_string()))?;
        validate_buyer(&buyer)?;
        validate_seller(&seller)?;
        Ok(Effective { buyer, seller })
    }

    /// Sets a strategy and parameters, globally (`torrent` None) or as a torrent override.
    /// `name` may be a buyer or a seller strategy (the names do not overlap). All-or-nothing:
    /// on error nothing changes.
    pub fn set(
        &mut self,
        torrent: Option<&str>,
        name: Option<&str>,
        params: &[(String, String)],
    ) -> Result<(), ConfigError> {
        let mut next = self.clone();
        match torrent {
            None => {
                if let Some(n) = name {
                    set_name(&mut next.buyer, &mut next.seller, n)?;
                }
                for (k, v) in params {
                    set_param(&mut next.buyer, &mut next.seller, k, v)?;
                }
            }
            Some(ih) => {
                let mut eff = next.effective(ih)?;
                if let Some(n) = name {
                    set_name(&mut eff.buyer, &mut eff.seller, n)?;
                }
                for (k, v) in params {
                    set_param(&mut eff.buyer, &mut eff.seller, k, v)?;
                }
                // Store only what differs from the global settings.
                let mut table = toml::Table::new();
                let diff = |g: toml::Value, t: toml::Value| -> toml::Table {
                    let (Some(g), Some(t)) = (g.as_table(), t.as_table()) else {
                        return toml::Table::new();
                    };
                    t.iter()
                        .filter(|(k, v)| g.get(*k) != Some(*v))
                        .map(|(k, v)| (k.clone(), v.clone()))
                        .collect()
                };
                let val = |v: &dyn erased::Ser| {
                    v.value().unwrap_or(toml::Value::Table(toml::Table::new()))
                };
                let b = diff(val(&next.buyer), val(&eff.buyer));
                let s = diff(val(&next.seller), val(&eff.seller));
                if !b.is_empty() {
                    table.insert("buyer".into(), toml::Value::Table(b));
                }
                if !s.is_empty() {
                    table.insert("seller".into(), toml::Value::Table(s));
                }
                next.torrent.insert(ih.to_string(), table);
            }
        }
        next.validate()?;
        *self = next;
        Ok(())
    }
}

/// Object-safe serialisation to a toml value, so both config halves share the merge code.
mod erased {
    pub trait Ser {
        fn value(&self) -> Result<toml::Value, toml::ser::Error>;
    }
    impl<T: serde::Serialize> Ser for T {
        fn value(&self) -> Result<toml::Value, toml::ser::Error> {
            toml::Value::try_from(self)
        }
    }
}

fn set_name(b: &mut BuyerConfig, s: &mut SellerConfig, name: &str) -> Result<(), ConfigError> {
    if let Some(x) = BuyerStrategy::parse(name) {
        b.strategy = x;
    } else if let Some(x) = SellerStrategy::parse(name) {
        s.strategy = x;
    } else {
        return Err(ConfigError::UnknownStrategy(name.to_string()));
    }
    Ok(())
}

fn set_param(
    b: &mut BuyerConfig,
    s: &mut SellerConfig,
    key: &str,
    value: &str,
) -> Result<(), ConfigError> {
    let bad = |problem: &str| ConfigError::BadValue {
        key: key.to_string(),
        value: value.to_string(),
        problem: problem.to_string(),
    };
    let tokens = || {
        Amount::from_str(value)
            .map(Tokens)
            .map_err(|e| bad(&e.to_string()))
    };
    let float = || {
        value
            .trim()
            .parse::<f64>()
            .ok()
            .filter(|f| f.is_finite())
            .ok_or_else(|| bad("not a number"))
    };
    let int = || {
        value
            .trim()
            .parse::<u64>()
            .map_err(|_| bad("not a non-negative integer"))
    };
    let size = || parse_bytes(value).ok_or_else(|| bad("not a size like 512K, 1M or 1048576"));
    match key {
        "price" => b.price = tokens()?,
        "fraction" => b.fraction = float()?,
        "budget" => b.budget = tokens()?,
        "target_rate" => b.target_rate = size()?,
        "max_price" => b.max_price = tokens()?,
        "reserve_price" => s.reserve_price = tokens()?,
        "non_market_share" => s.non_market_share = float()?,
        "slots" => s.slots = int()? as usize,
        "per_ip" => s.per_ip = int()? as usize,
        "hybrid_weight" => s.hybrid_weight = float()?,
        "window" => s.window = size()?,
        "grace_secs" => s.grace_secs = int()?,
        "ban_strikes" => s.ban_strikes = int()?.min(u64::from(u32::MAX)) as u32,
        _ => return Err(ConfigError::UnknownParam(key.to_string())),
    }
    Ok(())
}

/// `1048576`, `512K`, `1M`, `1G` (binary units). Kept here so the market needs nothing from
/// the CLI layer.
fn parse_bytes(s: &str) -> Option<u64> {
    let t = s.trim();
    let (num, mult) = match t.as_bytes().last()?.to_ascii_uppercase() {
        b'K' => (&t[..t.len() - 1], 1u64 << 10),
        b'M' => (&t[..t.len() - 1], 1 << 20),
        b'G' => (&t[..t.len() - 1], 1 << 30),
        _ => (t, 1),
    };
    let v: f64 = num.trim().parse().ok()?;
    (v.is_finite() && v >= 0.0).then_some((v * mult as f64) as u64)
}

fn validate_buyer(b: &BuyerConfig) -> Result<(), ConfigError> {
    if !(b.fraction > 0.0 && b.fraction <= 1.0) {
        return Err(ConfigError::BadValue {
            key: "fraction".into(),
            value: b.fraction.to_string(),
            problem: "must be in (0, 1]".into(),
        });
    }
    Ok(())
}

fn validate_seller(s: &SellerConfig) -> Result<(), ConfigError> {
    if !(s.non_market_share > 0.0 && s.non_market_share <= 1.0) {
        return Err(ConfigError::NonMarketShare(s.non_market_share));
    }
    let bad = |key: &str, value: String, problem: &str| ConfigError::BadValue {
        key: key.into(),
        value,
        problem: problem.into(),
    };
    if s.slots == 0 || s.slots > 64 {
        return Err(bad("slots", s.slots.to_string(), "must be 1 to 64"));
    }
    if s.per_ip == 0 {
        return Err(bad("per_ip", "0".into(), "must be at least 1"));
    }
    if !(0.0..=1.0).contains(&s.hybrid_weight) {
        return Err(bad(
            "hybrid_weight",
            s.hybrid_weight.to_string(),
            "must be in [0, 1]",
        ));
    }
    if s.window < 16 * 1024 {
        return Err(bad(
            "window",
            s.window.to_string(),
            "must be at least one block (16K)",
        ));
    }
    if s.ban_strikes == 0 {
        return Err(bad("ban_strikes", "0".into(), "must be at least 1"));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_parse_and_round_trip() {
        let c: MarketConfig = toml::from_str("").expect("empty");
        assert_eq!(c, MarketConfig::default());
        let text = toml::to_string(&c).expect("ser");
        let back: MarketConfig = toml::from_str(&text).expect("de");
        assert_eq!(back, c);
        assert_eq!(c.seller.non_market_slots(), 1);
        assert_eq!(c.seller.market_slots(), 3);
    }

    #[test]
    fn unknown_fields_and_zero_share_are_refused() {
        assert!(toml::from_str::<MarketConfig>("[seller]\nbogus = 1").is_err());
        let c: MarketConfig = toml::from_str("[seller]\nnon_market_share = 0.0").expect("parses");
        let e = c.validate().expect_err("zero share");
        assert!(e.to_string().contains("non_market_share"), "{e}");
        let mut c = MarketConfig::default();
        assert!(
            c.set(None, None, &[("non_market_share".into(), "0".into())])
                .is_err()
        );
        assert_eq!(
            c,
            MarketConfig::default(),
            "a refused change changes nothing"
        );
    }

    #[test]
    fn per_torrent_overrides_are_partial() {
        let mut c: MarketConfig = toml::from_str(
            "[buyer]\nstrategy = \"fixed\"\nprice = \"0.5\"\n[torrent.abc]\nbuyer = { price = \"2\" }\n",
        )
        .expect("parses");
        c.validate().expect("valid");
        let e = c.effective("abc").expect("eff");
        assert_eq!(e.buyer.strategy, BuyerStrategy::Fixed);
        assert_eq!(e.buyer.price, Tokens(Amount(2_000_000)));
        c.set(
            Some("def"),
            Some("proportional"),
            &[("reserve_price".into(), "0.2".into())],
        )
        .expect("set");
        let e = c.effective("def").expect("eff");
        assert_eq!(e.seller.strategy, SellerStrategy::Proportional);
        assert_eq!(e.seller.reserve_price, Tokens(Amount(200_000)));
        assert_eq!(c.seller.strategy, SellerStrategy::UniformPrice);
        assert!(c.set(None, Some("bogus"), &[]).is_err());
        assert!(c.set(None, None, &[("nope".into(), "1".into())]).is_err());
    }
}
