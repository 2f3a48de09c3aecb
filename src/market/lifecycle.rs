//! The money's lifecycle in a daemon that runs for weeks (SPEC §5), once a second:
//!
//! - seller: redeems what it earned at the ledger at start (what an earlier run left), every
//!   `redeem_interval_secs`, as soon as the unredeemed earnings reach `redeem_threshold`,
//!   when a channel paying it nears its expiry or its buyer asked to close it, and at clean
//!   shutdown ([`Market::settle`]);
//! - buyer: closes channels it has not paid on for `channel_idle_secs` and expired ones, and
//!   collects the refund once the ledger's grace has passed.
//!
//! Every step is recorded in the wallet's history by the wallet itself (redeemed, close
//! requested, refunded). Nothing here keeps state that matters across a crash: redemption is
//! cumulative at the ledger and a close is idempotent, so after a kill -9 at any moment the
//! next run redoes what was unfinished and nothing is paid or refunded twice.
//!
//! [`Market::settle`]: super::Market::settle

use std::collections::HashMap;
use std::sync::{Arc, Weak};
use std::time::{Duration, Instant};

use super::shared::{MarketShared, lock};
use crate::wallet::ledger::ChannelState;
use crate::wallet::{Amount, ChannelId, Redemption, WalletError};

/// How often the lifecycle looks at the wallet.
pub const TICK: Duration = Duration::from_secs(1);
/// After a failed redemption (the ledger down), the next try waits this long.
const REDEEM_RETRY: Duration = Duration::from_secs(3);
/// One close request per channel at most this often.
const CLOSE_RETRY: Duration = Duration::from_secs(3);
/// The wallet's view of its channels is refreshed from the ledger this often (a buyer's close
/// request shows up on the seller's side as `closing`).
const REFRESH_EVERY: Duration = Duration::from_secs(10);

/// What one step did, for logs and tests.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct StepReport {
    pub redeemed: Vec<Redemption>,
    /// Outgoing channels asked to close (idle or expired).
    pub close_requested: Vec<ChannelId>,
    /// Outgoing channels settled, with their refunds.
    pub refunded: Vec<(ChannelId, Amount)>,
}

/// The lifecycle's memory: when each outgoing channel was last paid on (learnt by watching
/// its spend rise; after a restart a channel counts as paid on at start, which only delays
/// its idle close), and when the last redemption and requests happened.
pub struct Keeper {
    shared: Weak<MarketShared>,
    /// `None` until the first pass, which redeems whatever an earlier run left unredeemed.
    last_redeem: Option<Instant>,
    redeem_retry: Option<Instant>,
    last_refresh: Option<Instant>,
    spend_seen: HashMap<ChannelId, (Amount, Instant)>,
    close_tried: HashMap<ChannelId, Instant>,
}

impl Keeper {
    pub(super) fn new(shared: &Arc<MarketShared>) -> Keeper {
        Keeper {
            shared: Arc::downgrade(shared),
            last_redeem: None,
            redeem_retry: None,
            last_refresh: None,
            spend_seen: HashMap::new(),
            close_tried: HashMap::new(),
        }
    }

    /// Runs until the market is gone.
    pub async fn run(mut self) {
        let mut every = tokio::time::interval(TICK);
        every.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            every.tick().await;
            match self
                .step(crate::wallet::keys::now_secs(), Instant::now())
                .await
            {
                Ok(Some(_)) => {}
                Ok(None) => return,
                Err(e) => tracing::warn!("market lifecycle: {e}"),
            }
        }
    }

    /// One pass at `now_secs` (Unix seconds) / `now`. `None` once the market is gone.
    pub async fn step(
        &mut self,
        now_secs: u64,
        now: Instant,
    ) -> Result<Option<StepReport>, WalletError> {
        let Some(shared) = self.shared.upgrade() else {
            return Ok(None);
        };
        let lc = lock(&shared.config).lifecycle.clone();
        let wallet = shared.wallet.clone();
        let ledger = &shared.ledger;
        let mut report = StepReport::default();
        if self
            .last_refresh
            .is_none_or(|t| now.duration_since(t) >= REFRESH_EVERY)
        {
            self.last_refresh = Some(now);
            if let Ok(b) = wallet.refresh(ledger).await {
                shared
                    .balance
                    .store(b.micro(), std::sync::atomic::Ordering::Relaxed);
            }
        }

        // Seller: redeem.
        let mut unredeemed = 0u64;
        let mut urgent = false;
        for c in wallet.in_channels()? {
            let expiry = c.certificate.expiry;
            if c.state == ChannelState::Closed || now_secs >= expiry {
                continue;
            }
            let owed = c.earned().micro().saturating_sub(c.redeemed.micro());
            if owed == 0 {
                continue;
            }
            unredeemed = unredeemed.saturating_add(owed);
            if c.state == ChannelState::Closing
                || expiry <= now_secs.saturating_add(lc.redeem_before())
            {
                urgent = true;
            }
        }
        let interval = Duration::from_secs(lc.redeem_interval_secs);
        if unredeemed > 0
            && self.redeem_retry.is_none_or(|t| now >= t)
            && (urgent
                || unredeemed >= lc.redeem_threshold.0.micro()
                || self
                    .last_redeem
                    .is_none_or(|t| now.duration_since(t) >= interval))
        {
            match wallet.redeem_all(ledger).await {
                Ok(done) => {
                    self.last_redeem = Some(now);
                    self.redeem_retry = None;
                    let total: u64 = done.iter().map(|r| r.paid.micro()).sum();
                    if total > 0 {
                        tracing::info!(
                            "redeemed {} on {} channel(s){}",
                            Amount(total),
                            done.len(),
                            if urgent { " (expiring or closing)" } else { "" }
                        );
                    }
                    report.redeemed = done;
                }
                Err(e) => {
                    tracing::warn!("redeeming at {}: {e}; retrying", ledger.addr());
                    self.redeem_retry = Some(now + REDEEM_RETRY);
                }
            }
        }

        // The timer runs from the first pass (which redeemed what was left, if anything).
        self.last_redeem.get_or_insert(now);

        // Buyer: close idle and expired channels, collect refunds after the grace.
        let idle = Duration::from_secs(lc.channel_idle_secs);
        let outs = wallet.out_channels()?;
        let known: std::collections::HashSet<ChannelId> =
            outs.iter().map(|c| c.certificate.channel).collect();
        self.spend_seen.retain(|id, _| known.contains(id));
        self.close_tried.retain(|id, _| known.contains(id));
        for c in outs {
            let id = c.certificate.channel;
            if c.state == ChannelState::Closed || c.certificate.ledger != shared.ledger_id {
                self.spend_seen.remove(&id);
                self.close_tried.remove(&id);
                continue;
            }
            let seen = self.spend_seen.entry(id).or_insert((c.spent, now));
            if seen.0 != c.spent {
                *seen = (c.spent, now);
            }
            let idle_for = now.duration_since(seen.1);
            let expired = now_secs >= c.certificate.expiry;
            let due = match c.state {
                ChannelState::Open => expired || idle_for >= idle,
                // The grace is over (or its end is not known yet): settle.
                ChannelState::Closing => c.deadline == 0 || now_secs >= c.deadline,
                ChannelState::Closed => false,
            };
            if !due
                || self
                    .close_tried
                    .get(&id)
                    .is_some_and(|t| now.duration_since(*t) < CLOSE_RETRY)
            {
                continue;
            }
            self.close_tried.insert(id, now);
            match wallet.close_channel(ledger, &id).await {
                Ok(info) if info.state == ChannelState::Closed => {
                    tracing::info!(
                        "channel {id} settled: {} redeemed by the seller, {} refunded",
                        info.redeemed,
                        info.refunded
                    );
                    report.refunded.push((id, info.refunded));
                }
                Ok(info) => {
                    if c.state == ChannelState::Open {
                        tracing::info!(
                            "closing channel {id} ({}); refund after {}",
                            if expired { "expired" } else { "idle" },
                            info.deadline
                        );
                        report.close_requested.push(id);
                    }
                }
                Err(e) => tracing::warn!("closing channel {id}: {e}"),
            }
        }
        Ok(Some(report))
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // tests fail loudly

    use super::*;
    use crate::market::config::{Lifecycle, Tokens};
    use crate::market::{Market, MarketConfig};
    use crate::wallet::ledger::LedgerConfig;
    use crate::wallet::{EmbeddedLedger, HistoryKind, Wallet};

    fn config(lifecycle: Lifecycle) -> MarketConfig {
        MarketConfig {
            lifecycle,
            ..MarketConfig::default()
        }
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn the_seller_redeems_over_the_threshold_on_the_timer_and_before_expiry() {
        let dir = tempfile::tempdir().unwrap();
        let (ledger, _) = EmbeddedLedger::start(&dir.path().join("ledger"))
            .await
            .unwrap();
        let buyer = Wallet::open(&dir.path().join("buyer")).unwrap();
        let seller = Arc::new(Wallet::open(&dir.path().join("seller")).unwrap());
        ledger
            .mint(buyer.public_key(), Amount(10_000_000))
            .await
            .unwrap();
        let market = Market::new(
            seller.clone(),
            ledger.client(),
            config(Lifecycle {
                redeem_interval_secs: 600,
                redeem_threshold: Tokens(Amount(500_000)),
                ..Lifecycle::default()
            }),
        )
        .await
        .unwrap();
        let client = ledger.client();
        let now_secs = crate::wallet::keys::now_secs();
        let expiry = now_secs + 3600;
        let cert = buyer
            .open_channel(&client, seller.public_key(), Amount(2_000_000), expiry)
            .await
            .unwrap();
        let pay = |amount: u64| {
            let v = buyer.pay(&cert.channel, Amount(amount)).unwrap();
            seller.accept_voucher(&v, &cert).unwrap();
        };
        let mut keeper = market.keeper();
        let t0 = Instant::now();
        // The first pass redeems what an earlier run left; here there is nothing.
        let r = keeper.step(now_secs, t0).await.unwrap().unwrap();
        assert!(r.redeemed.is_empty());

        pay(100_000);
        let r = keeper.step(now_secs, t0).await.unwrap().unwrap();
        assert!(
            r.redeemed.is_empty(),
            "below the threshold, before the timer"
        );
        pay(450_000);
        let r = keeper.step(now_secs, t0).await.unwrap().unwrap();
        assert_eq!(r.redeemed.len(), 1, "over the threshold");
        assert_eq!(r.redeemed[0].paid, Amount(550_000));

        pay(10_000);
        let r = keeper
            .step(now_secs, t0 + Duration::from_secs(300))
            .await
            .unwrap()
            .unwrap();
        assert!(r.redeemed.is_empty());
        let r = keeper
            .step(now_secs, t0 + Duration::from_secs(601))
            .await
            .unwrap()
            .unwrap();
        assert_eq!(r.redeemed[0].paid, Amount(10_000), "on the timer");

        pay(20_000);
        let soon = expiry - Lifecycle::default().redeem_before();
        let r = keeper
            .step(soon - 10, t0 + Duration::from_secs(602))
            .await
            .unwrap()
            .unwrap();
        assert!(r.redeemed.is_empty());
        let r = keeper
            .step(soon, t0 + Duration::from_secs(603))
            .await
            .unwrap()
            .unwrap();
        assert_eq!(r.redeemed[0].paid, Amount(20_000), "before the expiry");
        assert_eq!(r.redeemed[0].redeemed, Amount(580_000));
        // Nothing twice: the wallet's history holds each redemption once.
        let redeemed: u64 = seller
            .history()
            .unwrap()
            .iter()
            .filter(|e| e.kind == HistoryKind::Redeemed)
            .map(|e| e.amount.micro())
            .sum();
        assert_eq!(redeemed, 580_000);
        assert_eq!(market.settle().await.unwrap(), vec![]);
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn the_buyer_closes_idle_channels_and_collects_the_refund_after_the_grace() {
        let dir = tempfile::tempdir().unwrap();
        let (ledger, _) = EmbeddedLedger::start_with(
            &dir.path().join("ledger"),
            LedgerConfig {
                close_grace_secs: 1,
                ..LedgerConfig::default()
            },
        )
        .await
        .unwrap();
        let buyer = Arc::new(Wallet::open(&dir.path().join("buyer")).unwrap());
        let seller = Wallet::open(&dir.path().join("seller")).unwrap();
        ledger
            .mint(buyer.public_key(), Amount(10_000_000))
            .await
            .unwrap();
        let market = Market::new(
            buyer.clone(),
            ledger.client(),
            config(Lifecycle {
                channel_idle_secs: 30,
                ..Lifecycle::default()
            }),
        )
        .await
        .unwrap();
        let client = ledger.client();
        let now_secs = crate::wallet::keys::now_secs();
        let cert = buyer
            .open_channel(
                &client,
                seller.public_key(),
                Amount(1_000_000),
                now_secs + 3600,
            )
            .await
            .unwrap();
        seller.connect(&client).await.unwrap();
        let v = buyer.pay(&cert.channel, Amount(300_000)).unwrap();
        seller.accept_voucher(&v, &cert).unwrap();
        seller.redeem_all(&client).await.unwrap();

        let mut keeper = market.keeper();
        let t0 = Instant::now();
        let r = keeper.step(now_secs, t0).await.unwrap().unwrap();
        assert!(r.close_requested.is_empty());
        let r = keeper
            .step(now_secs, t0 + Duration::from_secs(29))
            .await
            .unwrap()
            .unwrap();
        assert!(r.close_requested.is_empty(), "not idle long enough");
        let r = keeper
            .step(now_secs, t0 + Duration::from_secs(31))
            .await
            .unwrap()
            .unwrap();
        assert_eq!(r.close_requested, vec![cert.channel], "idle");
        // The grace: the ledger keeps the rest until it is over.
        tokio::time::sleep(Duration::from_millis(2100)).await;
        let later = crate::wallet::keys::now_secs();
        keeper
            .step(later, t0 + Duration::from_secs(40))
            .await
            .unwrap()
            .unwrap();
        // Settled by our close after the grace, or by the ledger's sweep and learnt at the
        // refresh: either way the refund is recorded.
        let c = buyer.out_channel(&cert.channel).unwrap().unwrap();
        assert_eq!(c.state, ChannelState::Closed);
        assert_eq!(c.refunded, Amount(700_000));
        assert_eq!(
            buyer.refresh(&client).await.unwrap(),
            Amount(10_000_000 - 300_000)
        );
        // Settled once: another pass does nothing.
        let r = keeper
            .step(later, t0 + Duration::from_secs(50))
            .await
            .unwrap()
            .unwrap();
        assert_eq!(r, StepReport::default());
        let kinds: Vec<HistoryKind> = buyer.history().unwrap().iter().map(|e| e.kind).collect();
        assert!(kinds.contains(&HistoryKind::CloseRequested), "{kinds:?}");
        assert_eq!(
            kinds
                .iter()
                .filter(|k| **k == HistoryKind::Refunded)
                .count(),
            1,
            "{kinds:?}"
        );
    }
}
