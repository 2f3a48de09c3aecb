//! Market and wallet state → the dashboard's view types, shared by every source (standalone,
//! attached, demo) so the Market and Peers tabs read the same whichever engine they watch.
//!
//! Strategy parameters are shown with the market config's own keys and units (token amounts
//! as decimal strings, `price=0.200000`), so what the keyboard sends back is exactly what
//! `Market::set_strategy` and the daemon's `strategy` request accept.

use std::collections::HashMap;
use std::time::Instant;

use super::source::{
    BidRow, ChannelRow, HistoryRow, MarketView, PeerMarket, StrategyView, TorrentMarket,
    WalletStatus, WalletView,
};
use crate::market::MarketReport;
use crate::market::config::{BuyerConfig, BuyerStrategy, SellerConfig, SellerStrategy};
use crate::wallet::{HistoryEntry, InChannel, OutChannel};

const MIB: u128 = 1 << 20;

fn short(s: &str) -> String {
    s.chars().take(10).collect()
}

/// The parameters each strategy reads, in market units.
pub fn buyer_view(b: &BuyerConfig) -> StrategyView {
    let p = |k: &str, v: String| (k.to_string(), v);
    let params = match b.strategy {
        BuyerStrategy::Off => Vec::new(),
        BuyerStrategy::Fixed => vec![p("price", b.price.0.to_string())],
        BuyerStrategy::Auto => vec![
            p("fraction", format!("{:.3}", b.fraction)),
            p("max_price", b.max_price.0.to_string()),
        ],
        BuyerStrategy::Budget => vec![
            p("budget", b.budget.0.to_string()),
            p("max_price", b.max_price.0.to_string()),
        ],
        BuyerStrategy::TargetRate => vec![
            p("target_rate", b.target_rate.to_string()),
            p("max_price", b.max_price.0.to_string()),
        ],
    };
    StrategyView {
        name: b.strategy.to_string(),
        params,
    }
}

pub fn seller_view(s: &SellerConfig) -> StrategyView {
    let p = |k: &str, v: String| (k.to_string(), v);
    let mut params = vec![p("slots", s.slots.to_string())];
    if s.strategy != SellerStrategy::TitForTat {
        params = vec![
            p("reserve_price", s.reserve_price.0.to_string()),
            p("non_market_share", format!("{}", s.non_market_share)),
            p("slots", s.slots.to_string()),
        ];
        if s.strategy == SellerStrategy::Hybrid {
            params.push(p("hybrid_weight", format!("{}", s.hybrid_weight)));
        }
    }
    StrategyView {
        name: s.strategy.to_string(),
        params,
    }
}

/// Micro-tokens owed for `bytes` at `price` per MiB (rounded up, as the seller bills).
fn owed(bytes: u64, price: u64) -> u64 {
    let v = (u128::from(bytes) * u128::from(price)).div_ceil(MIB);
    u64::try_from(v).unwrap_or(u64::MAX)
}

/// The Market tab: strategies in force plus, when the market trades (`report` is `Some`), the
/// bid book (their bids to us "in", ours to them "out"), clearing price, money and channels.
pub fn market_view(
    buyer: &BuyerConfig,
    seller: &SellerConfig,
    report: Option<&MarketReport>,
) -> MarketView {
    let mut v = MarketView {
        active: report.is_some(),
        buyer: buyer_view(buyer),
        seller: seller_view(seller),
        ..MarketView::default()
    };
    let Some(r) = report else {
        return v;
    };
    v.clearing_price = (r.clearing.0 > 0).then_some(r.clearing.0);
    v.spent = r.spent.0;
    v.earned = r.earned.0;
    for p in &r.peers {
        if let Some(b) = p.bid {
            v.bids.push(BidRow {
                peer: p.addr.clone(),
                direction: "in".into(),
                price: b.0,
                max_spend: 0,
                status: match p.awarded {
                    Some(a) => format!("won, pays {}", crate::units::tokens(a.0)),
                    None => "lost".into(),
                },
            });
        }
        if let Some(b) = p.my_bid {
            v.bids.push(BidRow {
                peer: p.addr.clone(),
                direction: "out".into(),
                price: b.0,
                max_spend: 0,
                status: match p.my_award {
                    Some(a) => format!("won, we pay {}", crate::units::tokens(a.0)),
                    None => "pending".into(),
                },
            });
        }
        // A buyer we sell to: our side of its channel, and the credit it runs on.
        if p.earned.0 > 0 || p.unpaid_bytes > 0 {
            v.channels.push(ChannelRow {
                id: "—".into(),
                peer: p.addr.clone(),
                direction: "in".into(),
                state: if p.strikes > 0 {
                    format!("{} strikes", p.strikes)
                } else {
                    "open".into()
                },
                cap: 0,
                used: p.earned.0,
                credit: owed(p.unpaid_bytes, p.awarded.map_or(0, |a| a.0)),
            });
        }
    }
    let addr_of: HashMap<&str, &str> = r
        .peers
        .iter()
        .map(|p| (p.public_key.as_str(), p.addr.as_str()))
        .collect();
    // Buy-side state exists for every market peer; only channels opened or paid into count.
    for c in r
        .channels
        .iter()
        .filter(|c| c.channel.is_some() || c.paid.0 > 0)
    {
        v.channels.push(ChannelRow {
            id: c.channel.as_deref().map_or_else(|| "—".into(), short),
            // A seller no longer connected is known only by its key: say that it is one.
            peer: addr_of
                .get(c.seller.as_str())
                .map_or_else(|| format!("key {}…", short(&c.seller)), |a| a.to_string()),
            direction: "out".into(),
            state: if c.channel.is_some() {
                "open".into()
            } else {
                "opening".into()
            },
            cap: 0,
            used: c.paid.0,
            // Paid but not yet acknowledged by the seller: what we stand to lose.
            credit: c.paid.0.saturating_sub(c.acked.0),
        });
    }
    v
}

/// Per-peer market columns, keyed by the peer's address as the engine prints it.
pub fn peer_markets(r: &MarketReport) -> HashMap<String, PeerMarket> {
    r.peers
        .iter()
        .map(|p| {
            let sells_to_us = p.my_bid.is_some() || p.paid.0 > 0;
            let buys_from_us = p.bid.is_some() || p.earned.0 > 0;
            let role = match (sells_to_us, buys_from_us) {
                (true, true) => "both",
                (true, false) => "seller",
                (false, true) => "buyer",
                // Speaks bt_market but trades nothing with us right now.
                (false, false) => "idle",
            };
            (
                p.addr.clone(),
                PeerMarket {
                    role: role.into(),
                    bid: p.my_bid.or(p.bid).map(|a| a.0),
                    price: p.my_award.or(p.awarded).map(|a| a.0),
                    paid: p.paid.0,
                    earned: p.earned.0,
                },
            )
        })
        .collect()
}

/// The torrent table's market columns, by the daemon's rule (RPC.md `market`): a buyer while
/// downloading with a bidding strategy, a seller once complete and selling.
pub fn torrent_market(
    buyer: &BuyerConfig,
    seller: &SellerConfig,
    report: Option<&MarketReport>,
    left: u64,
) -> TorrentMarket {
    let buying = left > 0 && buyer.strategy != BuyerStrategy::Off;
    let selling = left == 0 && seller.strategy != SellerStrategy::TitForTat;
    // A plain torrent has no price: neither bidding nor selling.
    let price = report.and_then(|r| {
        let p = if buying {
            r.peers.iter().filter_map(|p| p.my_bid).max().map(|a| a.0)
        } else if selling {
            Some(r.clearing.0)
        } else {
            None
        };
        p.filter(|&p| p > 0)
    });
    TorrentMarket {
        role: if buying {
            "buyer"
        } else if selling {
            "seller"
        } else {
            "plain"
        }
        .into(),
        price,
        paid: report.map_or(0, |r| r.spent.0),
        earned: report.map_or(0, |r| r.earned.0),
    }
}

/// A wallet's state as the Wallet view shows it (channels both ways, newest 200 entries).
pub fn wallet_view(
    public_key: String,
    ledger: Option<String>,
    balance: u64,
    out: &[OutChannel],
    inc: &[InChannel],
    history: Vec<HistoryEntry>,
) -> WalletView {
    let mut v = WalletView {
        status: WalletStatus::Ok,
        public_key,
        ledger,
        balance,
        money: crate::rpc::proto::Balances::of(balance, out, inc),
        redeemed: inc.iter().map(|c| c.redeemed.0).sum(),
        ..WalletView::default()
    };
    for c in out {
        v.channels.push(ChannelRow {
            id: short(&c.certificate.channel.to_string()),
            peer: short(&c.certificate.seller.to_string()),
            direction: "out".into(),
            state: format!("{:?}", c.state).to_lowercase(),
            cap: c.certificate.cap.0,
            used: c.spent.0,
            credit: 0,
        });
    }
    for c in inc {
        v.channels.push(ChannelRow {
            id: short(&c.certificate.channel.to_string()),
            peer: short(&c.certificate.buyer.to_string()),
            direction: "in".into(),
            state: format!("{:?}", c.state).to_lowercase(),
            cap: c.certificate.cap.0,
            used: c.earned().0,
            credit: 0,
        });
    }
    let skip = history.len().saturating_sub(200);
    v.history = history
        .into_iter()
        .skip(skip)
        .map(|e| HistoryRow {
            time: e.time,
            kind: serde_json::to_value(e.kind)
                .ok()
                .and_then(|k| k.as_str().map(str::to_string))
                .unwrap_or_default(),
            channel: short(&e.channel.to_string()),
            amount: e.amount.0,
            total: e.total.0,
        })
        .collect();
    v
}

/// Spend and earn rates (micro-tokens/s) from running totals, for the graphs.
#[derive(Debug, Default)]
pub struct TokenRates {
    last: Option<(Instant, u64, u64)>,
    rates: (f64, f64),
}

impl TokenRates {
    /// [`TokenRates::update`] with Σ paid and Σ earned over the torrents' market columns.
    pub fn update_from_rows(&mut self, rows: &[super::source::TorrentRow]) -> (f64, f64) {
        let (paid, earned) = rows
            .iter()
            .filter_map(|r| r.market.as_ref())
            .fold((0, 0), |(p, e), m| (p + m.paid, e + m.earned));
        self.update(paid, earned)
    }

    /// Feeds Σ paid and Σ earned; returns (spend/s, earn/s), smoothed over about 5 samples.
    pub fn update(&mut self, paid: u64, earned: u64) -> (f64, f64) {
        let now = Instant::now();
        if let Some((t, p, e)) = self.last {
            let dt = now.duration_since(t).as_secs_f64();
            if dt < 0.2 {
                return self.rates;
            }
            let sp = paid.saturating_sub(p) as f64 / dt;
            let er = earned.saturating_sub(e) as f64 / dt;
            // Snap tiny tails to 0: an idle market must compare equal frame to frame, or the
            // dashboard would redraw forever.
            let ease = |old: f64, new: f64| {
                let v = old * 0.8 + new * 0.2;
                if v < 0.5 { 0.0 } else { v }
            };
            self.rates = (ease(self.rates.0, sp), ease(self.rates.1, er));
        }
        self.last = Some((now, paid, earned));
        self.rates
    }
}
