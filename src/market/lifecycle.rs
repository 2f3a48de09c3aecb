//! The money's lifecycle in a daemon that runs for weeks (SPEC §5), once a second:
//!
//! - seller: redeems what it earned at the ledger every `redeem_interval_secs`, as soon as
//!   the unredeemed earnings reach `redeem_threshold`, when a channel paying it nears its
//!   expiry or its buyer asked to close it, and at clean shutdown ([`Market::settle`]);
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
    last_redeem: Instant,
    redeem_retry: Option<Instant>,
    last_refresh: Option<Instant>,
    spend_seen: HashMap<ChannelId, (Amount, Instant)>,
    close_tried: HashMap<ChannelId, Instant>,
}

impl Keeper {
    pub(super) fn new(shared: &Arc<MarketShared>) -> Keeper {
        Keeper {
            shared: Arc::downgrade(shared),
            last_redeem: Instant::now(),
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
                || now.duration_since(self.last_redeem) >= interval)
        {
            match wallet.redeem_all(ledger).await {
                Ok(done) => {
                    self.last_redeem = now;
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

        // Buyer: close idle and expired channels, collect refunds after the grace.
        let idle = Duration::from_secs(lc.channel_idle_secs);
        let outs = wallet.out_channels()?;
        self.spend_seen
            .retain(|id, _| outs.iter().any(|c| c.certificate.channel == *id));
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
