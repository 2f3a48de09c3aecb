//! Buyer strategies: what to bid per MiB, recomputed every second, re-sent only when it moves
//! by more than 10 % (Speed's hysteresis, so bids do not chatter).

use std::time::{Duration, Instant};

use crate::market::config::{BuyerConfig, BuyerStrategy};
use crate::wallet::Amount;

pub const MIB: u64 = 1 << 20;
/// A live bid is re-sent only when the new price differs by more than this fraction.
pub const REBID_HYSTERESIS: f64 = 0.10;
/// `target-rate` adjusts at most this often.
const ADJUST_EVERY: Duration = Duration::from_secs(3);

#[derive(Debug, Clone, Copy)]
pub struct BuyerInputs {
    /// Spendable tokens (balance at the ledger as last seen).
    pub balance: Amount,
    /// Bytes still missing.
    pub remaining: u64,
    /// Already paid for this torrent.
    pub spent: Amount,
    /// Download rate now, bytes/s.
    pub down_rate: f64,
}

/// State a strategy keeps between rounds (the `target-rate` controller).
#[derive(Debug, Default, Clone)]
pub struct BuyerState {
    price: Option<Amount>,
    last_adjust: Option<Instant>,
}

/// The price to bid per MiB, or `None` for no bid.
pub fn bid_price(cfg: &BuyerConfig, input: &BuyerInputs, state: &mut BuyerState) -> Option<Amount> {
    if input.remaining == 0 {
        return None;
    }
    let remaining_mib = (input.remaining as f64 / MIB as f64).max(1.0 / 64.0);
    let cap = cfg.max_price.0.micro() as f64;
    let p = match cfg.strategy {
        BuyerStrategy::Off => return None,
        BuyerStrategy::Fixed => cfg.price.0.micro() as f64,
        BuyerStrategy::Auto => {
            (cfg.fraction * input.balance.micro() as f64 / remaining_mib).min(cap)
        }
        BuyerStrategy::Budget => {
            let left = cfg.budget.0.micro().saturating_sub(input.spent.micro());
            (left as f64 / remaining_mib).min(cap)
        }
        BuyerStrategy::TargetRate => {
            let now = Instant::now();
            let mut p = state
                .price
                .map_or((cap / 8.0).max(1.0), |p| p.micro() as f64);
            if state
                .last_adjust
                .is_none_or(|t| now.duration_since(t) >= ADJUST_EVERY)
            {
                let target = cfg.target_rate as f64;
                // A little jitter keeps identical controllers from locking into a bid war.
                let jitter = 1.0 + (rand::random::<f64>() - 0.5) * 0.1;
                if input.down_rate < target * 0.95 {
                    p *= 1.25 * jitter;
                } else if input.down_rate > target * 1.10 {
                    p *= 0.9 * jitter;
                }
                state.last_adjust = Some(now);
            }
            let p = p.clamp(1.0, cap.max(1.0));
            state.price = Some(Amount(p as u64));
            p
        }
    };
    let p = p.floor();
    (p >= 1.0).then_some(Amount(p as u64))
}

/// How much to escrow for one seller: enough to buy its share of what is still missing
/// (`remaining` spread over the `sellers` offering it) at `price`, with room for the price to
/// rise by half, within what the strategy may spend (the budget, else the balance) and never
/// more than `ceiling` (`[market] channel_cap`), so one balance pays many sellers. A channel
/// that runs dry is renewed.
pub fn channel_cap(
    cfg: &BuyerConfig,
    input: &BuyerInputs,
    price: Amount,
    sellers: usize,
    ceiling: Amount,
) -> Amount {
    let share = input.remaining.div_ceil(sellers.max(1) as u64);
    let mib = share.div_ceil(MIB).max(1);
    let want = price.micro().saturating_mul(mib).saturating_mul(3) / 2;
    let limit = match cfg.strategy {
        BuyerStrategy::Budget => cfg.budget.0.micro().saturating_sub(input.spent.micro()),
        _ => input.balance.micro(),
    };
    Amount(want.max(price.micro()).min(limit).min(ceiling.micro()))
}

/// Whether a live bid at `old` should be replaced by one at `new`.
pub fn should_rebid(old: Option<Amount>, new: Amount) -> bool {
    match old {
        None => true,
        Some(o) if o.is_zero() => true,
        Some(o) => {
            (new.micro() as f64 - o.micro() as f64).abs() > o.micro() as f64 * REBID_HYSTERESIS
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::market::config::Tokens;

    fn input(remaining: u64, down_rate: f64) -> BuyerInputs {
        BuyerInputs {
            balance: Amount(100_000_000),
            remaining,
            spent: Amount(1_000_000),
            down_rate,
        }
    }

    #[test]
    fn strategies_price_as_documented() {
        let mut st = BuyerState::default();
        let mut c = BuyerConfig {
            strategy: BuyerStrategy::Off,
            ..BuyerConfig::default()
        };
        assert_eq!(bid_price(&c, &input(MIB, 0.0), &mut st), None);
        c.strategy = BuyerStrategy::Fixed;
        c.price = Tokens(Amount(123));
        assert_eq!(bid_price(&c, &input(MIB, 0.0), &mut st), Some(Amount(123)));
        c.strategy = BuyerStrategy::Auto;
        c.fraction = 0.5;
        c.max_price = Tokens(Amount(u64::MAX / 4));
        // half of 100 tokens over 10 MiB = 5 tokens per MiB
        assert_eq!(
            bid_price(&c, &input(10 * MIB, 0.0), &mut st),
            Some(Amount(5_000_000))
        );
        c.strategy = BuyerStrategy::Budget;
        c.budget = Tokens(Amount(3_000_000));
        // 2 tokens left over 4 MiB
        assert_eq!(
            bid_price(&c, &input(4 * MIB, 0.0), &mut st),
            Some(Amount(500_000))
        );
        c.budget = Tokens(Amount(1_000_000));
        assert_eq!(bid_price(&c, &input(4 * MIB, 0.0), &mut st), None);
        assert_eq!(bid_price(&c, &input(0, 0.0), &mut st), None);
    }

    #[test]
    fn target_rate_raises_when_slow_and_lowers_when_fast_within_the_cap() {
        let c = BuyerConfig {
            strategy: BuyerStrategy::TargetRate,
            target_rate: 1000,
            max_price: Tokens(Amount(800)),
            ..BuyerConfig::default()
        };
        let mut st = BuyerState::default();
        let first = bid_price(&c, &input(MIB, 10.0), &mut st).expect("bid");
        st.last_adjust = None;
        let second = bid_price(&c, &input(MIB, 10.0), &mut st).expect("bid");
        assert!(second > first, "{first:?} -> {second:?}");
        for _ in 0..50 {
            st.last_adjust = None;
            bid_price(&c, &input(MIB, 10.0), &mut st);
        }
        assert_eq!(bid_price(&c, &input(MIB, 10.0), &mut st), Some(Amount(800)));
        st.last_adjust = None;
        let lower = bid_price(&c, &input(MIB, 1e9), &mut st).expect("bid");
        assert!(lower < Amount(800));
    }

    #[test]
    fn escrow_is_sized_to_the_sellers_share_within_the_ceiling() {
        let c = BuyerConfig::default();
        // 100 tokens, 10 MiB missing from two sellers at 0.01/MiB: 5 MiB × 0.01 × 1.5.
        let cap = channel_cap(
            &c,
            &input(10 * MIB, 0.0),
            Amount(10_000),
            2,
            Amount(5_000_000),
        );
        assert_eq!(cap, Amount(75_000));
        // The ceiling bounds it however much is missing.
        let cap = channel_cap(
            &c,
            &input(100_000 * MIB, 0.0),
            Amount(10_000),
            1,
            Amount(5_000_000),
        );
        assert_eq!(cap, Amount(5_000_000));
        // Never more than the balance, and at least one MiB's worth with headroom.
        let mut poor = input(MIB, 0.0);
        poor.balance = Amount(1_000);
        assert_eq!(
            channel_cap(&c, &poor, Amount(10_000), 1, Amount(5_000_000)),
            Amount(1_000)
        );
        assert_eq!(
            channel_cap(&c, &input(1, 0.0), Amount(10_000), 8, Amount(5_000_000)),
            Amount(15_000)
        );
        // A budget buyer escrows at most what is left of its budget.
        let b = BuyerConfig {
            strategy: BuyerStrategy::Budget,
            budget: Tokens(Amount(1_500_000)),
            ..BuyerConfig::default()
        };
        assert_eq!(
            channel_cap(
                &b,
                &input(1000 * MIB, 0.0),
                Amount(10_000),
                1,
                Amount(5_000_000)
            ),
            Amount(500_000)
        );
    }

    #[test]
    fn hysteresis() {
        assert!(should_rebid(None, Amount(5)));
        assert!(!should_rebid(Some(Amount(100)), Amount(109)));
        assert!(should_rebid(Some(Amount(100)), Amount(111)));
        assert!(should_rebid(Some(Amount(100)), Amount(89)));
    }
}
