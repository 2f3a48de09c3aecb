//! The seller's credit window for one buyer: what it owes for bytes sent under an award, what
//! it paid, how far delivery may run ahead (the engine enforces that per block), and the
//! grace → choke → ban ladder for a buyer that stops paying.

use std::time::{Duration, Instant};

use crate::market::strategy::buyer::MIB;
use crate::wallet::Amount;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    /// Within its window.
    Ok,
    /// Over half its window and unpaid for the whole grace period: choke now (a strike).
    Choke,
    /// Too many strikes: drop and refuse it.
    Ban,
}

#[derive(Debug, Clone, Default)]
pub struct Credit {
    /// Σ bytes × price (micro-tokens per MiB) billed; divide by MiB for micro-tokens.
    owed_scaled: u128,
    /// Micro-tokens received in vouchers.
    paid: u64,
    /// Price of the award in force, and the upload counter it was last billed at.
    billing: Option<(Amount, u64)>,
    /// Price of the last award: a debt left when an award ends is still measured with it.
    last_price: Option<Amount>,
    over_since: Option<Instant>,
    pub strikes: u32,
    /// Choked for debt: no slot of any kind until it pays down.
    pub delinquent: bool,
}

impl Credit {
    /// An award at `price` takes effect with the upload counter at `uploaded`.
    pub fn start_billing(&mut self, price: Amount, uploaded: u64) {
        self.bill(uploaded);
        self.billing = Some((price, uploaded));
        self.last_price = Some(price);
    }

    /// The award ended: bytes after `uploaded` are not billed.
    pub fn stop_billing(&mut self, uploaded: u64) {
        self.bill(uploaded);
        self.billing = None;
    }

    pub fn billing_price(&self) -> Option<Amount> {
        self.billing.map(|b| b.0)
    }

    /// Bills bytes sent since the last call at the award's price.
    pub fn bill(&mut self, uploaded: u64) {
        if let Some((price, last)) = &mut self.billing {
            let delta = uploaded.saturating_sub(*last);
            self.owed_scaled += u128::from(delta) * u128::from(price.micro());
            *last = uploaded.max(*last);
        }
    }

    /// A voucher added `delta`; a paying buyer's grace clock restarts.
    pub fn paid(&mut self, delta: Amount) {
        self.paid = self.paid.saturating_add(delta.micro());
        self.over_since = None;
    }

    /// Nothing owed beyond what was paid, no strikes, no award being billed: forgetting this
    /// buyer loses nothing.
    pub fn is_clear(&self) -> bool {
        self.billing.is_none()
            && !self.delinquent
            && self.strikes == 0
            && self.owed().micro() <= self.paid
    }

    pub fn owed(&self) -> Amount {
        Amount((self.owed_scaled / u128::from(MIB)).min(u128::from(u64::MAX)) as u64)
    }

    pub fn paid_total(&self) -> Amount {
        Amount(self.paid)
    }

    /// Unpaid bytes at the current price (0 without a price).
    pub fn unpaid_bytes(&self) -> u64 {
        let Some(price) = self.billing.map(|b| b.0).or(self.last_price) else {
            return 0;
        };
        if price.is_zero() {
            return 0;
        }
        let paid_scaled = u128::from(self.paid) * u128::from(MIB);
        let unpaid = self.owed_scaled.saturating_sub(paid_scaled);
        (unpaid / u128::from(price.micro())).min(u128::from(u64::MAX)) as u64
    }

    /// The upload counter value the buyer may reach: never more than `window` unpaid bytes.
    /// `None` while no award is billed (free service is not metered).
    pub fn allowance(&self, uploaded: u64, window: u64) -> Option<u64> {
        let (price, _) = self.billing?;
        if price.is_zero() {
            return None;
        }
        Some(uploaded + window.saturating_sub(self.unpaid_bytes()))
    }

    /// Advances the grace → choke → ban ladder; called every second.
    pub fn check(
        &mut self,
        window: u64,
        grace: Duration,
        ban_strikes: u32,
        now: Instant,
    ) -> Verdict {
        let unpaid = self.unpaid_bytes();
        if unpaid <= window / 2 {
            self.over_since = None;
            if unpaid <= window / 4 {
                self.delinquent = false;
            }
            return Verdict::Ok;
        }
        let since = *self.over_since.get_or_insert(now);
        if now.duration_since(since) < grace {
            return Verdict::Ok;
        }
        self.strikes += 1;
        self.delinquent = true;
        self.over_since = Some(now);
        if self.strikes >= ban_strikes {
            Verdict::Ban
        } else {
            Verdict::Choke
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn window_bounds_delivery_and_payment_restores_it() {
        let mut c = Credit::default();
        let price = Amount(1_000_000); // 1 token per MiB
        c.start_billing(price, 0);
        assert_eq!(c.allowance(0, MIB), Some(MIB));
        c.bill(MIB / 2);
        assert_eq!(c.unpaid_bytes(), MIB / 2);
        assert_eq!(c.allowance(MIB / 2, MIB), Some(MIB));
        c.paid(Amount(500_000));
        assert_eq!(c.unpaid_bytes(), 0);
        assert_eq!(c.allowance(MIB / 2, MIB), Some(MIB / 2 + MIB));
        c.stop_billing(MIB);
        assert_eq!(c.allowance(MIB, MIB), None);
        assert_eq!(c.owed(), Amount(1_000_000));
    }

    #[test]
    fn a_buyer_that_stops_paying_is_choked_then_banned() {
        let mut c = Credit::default();
        c.start_billing(Amount(1000), 0);
        c.bill(MIB);
        let t0 = Instant::now();
        let g = Duration::from_secs(3);
        assert_eq!(c.check(MIB, g, 3, t0), Verdict::Ok);
        assert_eq!(c.check(MIB, g, 3, t0 + g), Verdict::Choke);
        assert!(c.delinquent);
        assert_eq!(c.check(MIB, g, 3, t0 + g * 2), Verdict::Choke);
        assert_eq!(c.check(MIB, g, 3, t0 + g * 3), Verdict::Ban);
    }
}
