//! Payments, both ways: the buyer's bookkeeping with each seller ([`Purchase`]: award, what is
//! owed for verified bytes, what was paid and acknowledged) and the payment worker, which does
//! the wallet and ledger work (open a channel, pay, re-send a voucher, accept a voucher,
//! refresh the balance) in order, off the peer tasks and outside the market lock.

use std::sync::Weak;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use tokio::sync::mpsc;

use crate::engine::extension::TorrentHandle;
use crate::market::proto::{EXTENSION, MarketMsg, RejectReason};
use crate::market::strategy::buyer::MIB;
use crate::wallet::{Amount, ChannelCertificate, PublicKey, Voucher, VoucherRefusal, WalletError};

use super::{Action, MarketState, TorrentMarket};

/// A buyer still pays for pieces verified this long after its award ended (blocks that were
/// in flight when the seller moved on).
const PAY_AFTER_AWARD: Duration = Duration::from_secs(20);
/// After a channel could not be opened, the next attempt waits this long.
const OPEN_RETRY: Duration = Duration::from_secs(30);

/// What we, as buyer, have with one seller (by key, so it outlives a connection: a voucher
/// for a piece verified just after the seller left is still paid and delivered later).
#[derive(Default)]
pub(super) struct Purchase {
    /// The channel paying this seller, once the ledger opened it.
    pub(super) channel: Option<ChannelCertificate>,
    pub(super) opening: bool,
    pub(super) open_retry: Option<Instant>,
    /// Our live bid to the seller.
    pub(super) my_bid: Option<Amount>,
    pub(super) awarded: bool,
    /// The price we pay: the seller's award, never above our bid.
    pub(super) award_price: Option<Amount>,
    /// After an award ends, verified bytes are still paid until then.
    pub(super) award_until: Option<Instant>,
    /// Σ verified bytes × price (micro-tokens per MiB); divide by MiB for micro-tokens.
    pub(super) owed_scaled: u128,
    /// Cumulative amount of the last voucher sent, and of the last receipt, on `channel`.
    pub(super) paid: Amount,
    pub(super) acked: Amount,
    /// What `channel` carried when this purchase took it over from an earlier run (0 for a
    /// channel it opened): not owed by this purchase.
    pub(super) start: Amount,
    /// Micro-tokens this purchase paid on earlier channels (renewed or closed ones).
    pub(super) base: u64,
    /// The channel can take no more (closed, expired or full): open another.
    pub(super) dead: bool,
    /// The seller refused us for good, or the channel ran dry: bid no more.
    pub(super) exhausted: bool,
    pub(super) last_voucher_sent: Option<Instant>,
}

impl Purchase {
    /// The price this buyer pays the seller for verified bytes now, if any.
    pub(super) fn pay_price(&self, now: Instant) -> Option<Amount> {
        if self.awarded || self.award_until.is_some_and(|t| now < t) {
            self.award_price
        } else {
            None
        }
    }

    /// The award ended: bytes verified within PAY_AFTER_AWARD are still paid.
    pub(super) fn end_award(&mut self, now: Instant) {
        if self.awarded {
            self.awarded = false;
            self.award_until = Some(now + PAY_AFTER_AWARD);
        }
    }

    /// Micro-tokens owed for verified bytes so far.
    pub(super) fn owed(&self) -> u64 {
        (self.owed_scaled / u128::from(MIB)).min(u128::from(u64::MAX)) as u64
    }

    /// Micro-tokens this purchase paid, over every channel it used.
    pub(super) fn paid_total(&self) -> u64 {
        self.base
            .saturating_add(self.paid.micro().saturating_sub(self.start.micro()))
    }

    /// Micro-tokens owed and not yet paid.
    pub(super) fn due(&self) -> u64 {
        self.owed().saturating_sub(self.paid_total())
    }

    /// Owes more than it paid, or paid more than the seller acknowledged (a payment or a
    /// receipt still in flight).
    pub(super) fn unsettled(&self) -> bool {
        self.due() > 0 || self.paid > self.acked
    }

    /// Moves to `cert`, a channel carrying `carried` already (an adopted one) or nothing (a
    /// new one); what was paid on the old channel is kept in `base`.
    pub(super) fn switch_to(&mut self, cert: ChannelCertificate, carried: Amount) {
        self.base = self.paid_total();
        self.channel = Some(cert);
        self.paid = carried;
        // Unknown whether the seller has the carried voucher: it is re-sent until receipted.
        self.acked = Amount::ZERO;
        self.start = carried;
        self.dead = false;
        self.my_bid = None;
    }

    /// Bills `bytes` of a verified piece at the price in force; false when none is.
    pub(super) fn bill(&mut self, bytes: u64, now: Instant) -> bool {
        match self.pay_price(now) {
            Some(price) => {
                self.owed_scaled += u128::from(bytes) * u128::from(price.micro());
                true
            }
            None => false,
        }
    }
}

/// Wallet and ledger work for the payment worker.
pub(super) enum Job {
    Open {
        seller: PublicKey,
        cap: Amount,
        /// Least room an adopted channel must have left (one MiB at the bid).
        min_room: Amount,
    },
    Pay {
        seller: PublicKey,
    },
    /// Re-sends the current voucher (lost in flight, or a new connection).
    Resend {
        seller: PublicKey,
    },
    Accept {
        key: usize,
        voucher: Voucher,
    },
    Refresh,
}

impl MarketState {
    /// A piece passed its hash check: bills each contributing seller we have a price with and
    /// returns the sellers to pay now. A piece that failed is paid for by no one.
    pub(super) fn bill_verified(
        &mut self,
        contributors: &[(usize, u64)],
        now: Instant,
    ) -> Vec<PublicKey> {
        let mut to_pay = Vec::new();
        for (key, bytes) in contributors {
            let Some(pk) = self.public_keys.get(key) else {
                continue;
            };
            let Some(purchase) = self.purchases.get_mut(pk) else {
                continue;
            };
            if purchase.bill(*bytes, now) {
                self.bought = self.bought.saturating_add(*bytes);
                to_pay.push(*pk);
            }
        }
        to_pay
    }

    /// A voucher for `amount` more went to `seller`; `cumulative` is its running total.
    pub(super) fn record_payment(
        &mut self,
        seller: PublicKey,
        amount: Amount,
        cumulative: Amount,
        now: Instant,
    ) {
        self.spent = Amount(self.spent.micro().saturating_add(amount.micro()));
        if let Some(purchase) = self.purchases.get_mut(&seller) {
            purchase.paid = cumulative;
            purchase.last_voucher_sent = Some(now);
        }
    }

    /// A buyer's voucher added `delta`: counts it as earned and paid down, and with the
    /// buyer's upload counter (`uploaded`, when it is still connected) bills what was sent and
    /// returns its new upload allowance.
    pub(super) fn record_voucher(
        &mut self,
        buyer: PublicKey,
        delta: Amount,
        uploaded: Option<u64>,
    ) -> Option<Option<u64>> {
        let window = self.settings.seller.window;
        self.earned = Amount(self.earned.micro().saturating_add(delta.micro()));
        let credit = self.credits.entry(buyer).or_default();
        credit.paid(delta);
        let up = uploaded?;
        credit.bill(up);
        Some(credit.allowance(up, window))
    }
}

impl TorrentMarket {
    /// Does one piece of wallet or ledger work. The market lock is only taken between awaits.
    async fn job(&self, torrent: &TorrentHandle, job: Job) {
        let wallet = self.shared.wallet.clone();
        match job {
            Job::Refresh => {
                if let Ok(b) = wallet.refresh(&self.shared.ledger).await {
                    self.shared.balance.store(b.micro(), Ordering::Relaxed);
                }
            }
            Job::Open {
                seller,
                cap,
                min_room,
            } => {
                let lc = crate::market::shared::lock(&self.shared.config)
                    .lifecycle
                    .clone();
                let now = crate::wallet::keys::now_secs();
                // A channel to this seller left by an earlier run, still open, long enough
                // and with room, is used before any new escrow.
                let adopted = {
                    let w = wallet.clone();
                    let ledger = self.shared.ledger_id;
                    let renew = lc.renew_before();
                    tokio::task::spawn_blocking(move || {
                        w.out_channels().map(|chans| {
                            chans
                                .into_iter()
                                .filter(|c| {
                                    let cert = &c.certificate;
                                    cert.seller == seller
                                        && cert.ledger == ledger
                                        && c.state == crate::wallet::ledger::ChannelState::Open
                                        && cert.expiry > now.saturating_add(renew)
                                        && cert.cap.micro().saturating_sub(c.spent.micro())
                                            >= min_room.micro()
                                })
                                .max_by_key(|c| c.certificate.expiry)
                        })
                    })
                    .await
                    .ok()
                    .and_then(|r| r.ok())
                    .flatten()
                    .filter(|c| self.shared.claim(c.certificate.channel))
                };
                let r = match adopted {
                    Some(c) => {
                        tracing::info!(
                            "paying {seller} on channel {} from an earlier run ({} of {} spent)",
                            c.certificate.channel,
                            c.spent,
                            c.certificate.cap
                        );
                        Ok((c.certificate, c.spent))
                    }
                    None => {
                        let expiry = now + lc.channel_secs;
                        wallet
                            .open_channel(&self.shared.ledger, seller, cap, expiry)
                            .await
                            .map(|cert| {
                                self.shared.claim(cert.channel);
                                (cert, Amount::ZERO)
                            })
                    }
                };
                let mut state = self.state();
                let purchase = state.purchases.entry(seller).or_default();
                purchase.opening = false;
                match r {
                    Ok((cert, carried)) => {
                        if let Some(old) = &purchase.channel {
                            self.shared.release(&old.channel);
                        }
                        purchase.switch_to(cert, carried);
                    }
                    Err(e) => {
                        tracing::info!("opening a channel to {seller}: {e}");
                        purchase.open_retry = Some(Instant::now() + OPEN_RETRY);
                    }
                }
            }
            Job::Resend { seller } => {
                let (channel, link) = {
                    let state = self.state();
                    let Some(c) = state.purchases.get(&seller).and_then(|b| b.channel.clone())
                    else {
                        return;
                    };
                    (c.channel, Self::link_of(&state, &seller))
                };
                let (Some(link), Ok(Some(v))) = (link, wallet.current_voucher(&channel)) else {
                    return;
                };
                link.send(EXTENSION, MarketMsg::Voucher(v).encode());
            }
            Job::Pay { seller } => {
                let (channel, due) = {
                    let state = self.state();
                    let Some(purchase) = state.purchases.get(&seller) else {
                        return;
                    };
                    let Some(c) = &purchase.channel else { return };
                    if purchase.dead {
                        return;
                    }
                    // What fits in the channel now; the rest goes on its successor.
                    let room = c.cap.micro().saturating_sub(purchase.paid.micro());
                    (c.channel, purchase.due().min(room))
                };
                if due == 0 {
                    return;
                }
                let w = wallet.clone();
                let r = tokio::task::spawn_blocking(move || w.pay(&channel, Amount(due))).await;
                match r {
                    Ok(Ok(v)) => {
                        let link = {
                            let mut state = self.state();
                            state.record_payment(seller, Amount(due), v.cumulative, Instant::now());
                            TorrentMarket::link_of(&state, &seller)
                        };
                        // A seller that already left gets it on its next connection (Resend).
                        if let Some(link) = link {
                            link.send(EXTENSION, MarketMsg::Voucher(v).encode());
                        }
                    }
                    Ok(Err(e)) => {
                        tracing::info!("paying {seller}: {e}");
                        if matches!(
                            e,
                            WalletError::OverCap { .. }
                                | WalletError::Expired { .. }
                                | WalletError::NotOpen(_)
                        ) {
                            // The next tick opens (or adopts) another channel.
                            let mut state = self.state();
                            if let Some(b) = state.purchases.get_mut(&seller) {
                                b.dead = true;
                            }
                        }
                    }
                    Err(e) => tracing::warn!("paying {seller}: {e}"),
                }
            }
            Job::Accept { key, voucher } => {
                let (cert, link, pk) = {
                    let state = self.state();
                    let Some(p) = state.peers.get(&key) else {
                        return;
                    };
                    (
                        state.certs.get(&voucher.channel).cloned(),
                        p.link.clone(),
                        p.info.public_key,
                    )
                };
                // A channel we were paid on before a restart: its certificate is in the wallet;
                // a channel opened for a debt after the bidding ended: the ledger has it (the
                // wallet checks its signature either way).
                let mut cert = cert.or_else(|| {
                    wallet
                        .in_channel(&voucher.channel)
                        .ok()
                        .flatten()
                        .map(|c| c.certificate)
                });
                // Asked only for a buyer that owes us, so nobody can make us query the
                // ledger for made-up channels.
                let owes = {
                    let state = self.state();
                    state
                        .credits
                        .get(&pk)
                        .is_some_and(|c| c.owed().micro() > c.paid_total().micro())
                };
                if cert.is_none()
                    && owes
                    && let Ok(Ok(info)) = tokio::time::timeout(
                        std::time::Duration::from_secs(5),
                        self.shared.ledger.channel(voucher.channel),
                    )
                    .await
                {
                    cert = Some(info.certificate);
                }
                let Some(cert) = cert else {
                    let a =
                        TorrentMarket::reject(&link, RejectReason::BadVoucher, "unknown channel");
                    self.run(torrent, vec![a]);
                    return;
                };
                // A voucher is the channel's buyer's money: credited to the peer that sent it
                // only when that peer is the buyer. Another peer relaying it (to be let
                // through on someone else's payment) is refused and hung up on.
                if cert.buyer != pk {
                    tracing::info!(
                        "{} sent a voucher of channel {} whose buyer is another key",
                        link.addr(),
                        cert.channel
                    );
                    self.state().credits.entry(pk).or_default().strikes += 1;
                    let a =
                        TorrentMarket::reject(&link, RejectReason::BadVoucher, "not_your_channel");
                    self.run(torrent, vec![a, Action::Close(link)]);
                    return;
                }
                let w = wallet.clone();
                let v = voucher.clone();
                let r = tokio::task::spawn_blocking(move || w.accept_voucher(&v, &cert)).await;
                // Read before taking the market lock (lock order: torrent, then market).
                let up = torrent.peer_transfer(key).map(|(up, _)| up);
                let mut out = Vec::new();
                match r {
                    Ok(Ok(earned)) => {
                        let receipt = wallet.sign_receipt(&voucher);
                        let mut state = self.state();
                        if let Some(allowance) = state.record_voucher(pk, earned.delta, up) {
                            out.push(Action::Allowance(key, allowance));
                        }
                        out.push(Action::Send(link, MarketMsg::Receipt(receipt)));
                    }
                    Ok(Err(refusal)) => {
                        tracing::info!("refused a voucher from {}: {refusal}", link.addr());
                        out.push(TorrentMarket::reject(
                            &link,
                            RejectReason::BadVoucher,
                            refusal.code(),
                        ));
                        let forged = matches!(
                            refusal,
                            VoucherRefusal::BadSignature
                                | VoucherRefusal::WrongChannel(_)
                                | VoucherRefusal::NotPayee(_)
                                | VoucherRefusal::BadCertificate(_)
                        );
                        self.state().credits.entry(pk).or_default().strikes += 1;
                        if forged {
                            out.push(Action::Close(link));
                        }
                    }
                    Err(e) => tracing::warn!("accepting a voucher: {e}"),
                }
                self.run(torrent, out);
            }
        }
    }
}

/// Runs a torrent market's jobs one at a time, in order, until the market or the torrent is
/// gone.
pub(super) async fn worker(
    market: Weak<TorrentMarket>,
    torrent: TorrentHandle,
    mut rx: mpsc::UnboundedReceiver<Job>,
) {
    while let Some(job) = rx.recv().await {
        let Some(market) = market.upgrade() else {
            return;
        };
        if !torrent.is_alive() {
            return;
        }
        market.job(&torrent, job).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::market::config::SellerStrategy;
    use crate::market::torrent_market::fixtures::{connect, pk, state};

    fn awarded(price: u64) -> Purchase {
        Purchase {
            my_bid: Some(Amount(price)),
            awarded: true,
            award_price: Some(Amount(price)),
            ..Purchase::default()
        }
    }

    #[test]
    fn verified_bytes_are_paid_during_an_award_and_shortly_after() {
        let now = Instant::now();
        let mut p = awarded(2000);
        assert_eq!(p.pay_price(now), Some(Amount(2000)));
        p.end_award(now);
        assert!(!p.awarded);
        assert_eq!(p.pay_price(now + PAY_AFTER_AWARD / 2), Some(Amount(2000)));
        assert_eq!(p.pay_price(now + PAY_AFTER_AWARD), None);
        // Ending an award that is not running does not extend the grace.
        p.end_award(now + PAY_AFTER_AWARD);
        assert_eq!(p.award_until, Some(now + PAY_AFTER_AWARD));
        assert_eq!(Purchase::default().pay_price(now), None);
    }

    #[test]
    fn a_verified_piece_bills_only_sellers_with_a_price() {
        let now = Instant::now();
        let mut s = state(SellerStrategy::UniformPrice);
        connect(&mut s, 1, pk(1));
        connect(&mut s, 2, pk(2));
        s.purchases.insert(pk(1), awarded(2000));
        s.purchases.insert(pk(2), Purchase::default());
        // Key 3 never spoke the market; key 1 delivered 1 MiB, key 2 some bytes for free.
        let to_pay = s.bill_verified(&[(1, MIB), (2, 1000), (3, 5)], now);
        assert_eq!(to_pay, vec![pk(1)]);
        assert_eq!(s.purchases[&pk(1)].owed(), 2000);
        assert_eq!(s.purchases[&pk(2)].owed(), 0);
        // A second piece adds up; half a MiB at 2000 µ/MiB is 1000 µ.
        s.bill_verified(&[(1, MIB / 2)], now);
        assert_eq!(s.purchases[&pk(1)].owed(), 3000);
        assert_eq!(s.purchases[&pk(1)].due(), 3000);
    }

    #[test]
    fn payments_and_receipts_settle_what_is_owed() {
        let now = Instant::now();
        let mut s = state(SellerStrategy::UniformPrice);
        let mut p = awarded(1000);
        assert!(p.bill(MIB, now));
        s.purchases.insert(pk(1), p);
        let seller = &s.purchases[&pk(1)];
        assert!(seller.unsettled());
        assert_eq!(seller.due(), 1000);

        s.record_payment(pk(1), Amount(1000), Amount(1000), now);
        assert_eq!(s.spent, Amount(1000));
        let seller = &s.purchases[&pk(1)];
        assert_eq!(seller.paid, Amount(1000));
        assert_eq!(seller.due(), 0);
        assert_eq!(seller.last_voucher_sent, Some(now));
        // Paid, but not acknowledged yet: the connection stays open for the receipt.
        assert!(seller.unsettled());
        if let Some(seller) = s.purchases.get_mut(&pk(1)) {
            seller.acked = Amount(1000);
        }
        assert!(!s.purchases[&pk(1)].unsettled());
        // A payment to a seller we never dealt with is still counted as spent.
        s.record_payment(pk(9), Amount(5), Amount(5), now);
        assert_eq!(s.spent, Amount(1005));
    }

    #[test]
    fn a_voucher_pays_down_the_credit_and_moves_the_allowance() {
        let mut s = state(SellerStrategy::UniformPrice);
        let window = s.settings.seller.window;
        let mut credit = crate::market::credit::Credit::default();
        // 1 token per MiB: 1 MiB sent costs 1_000_000 µ.
        credit.start_billing(Amount(1_000_000), 0);
        s.credits.insert(pk(1), credit);

        // Half a MiB sent, nothing paid: the window shrinks by what is unpaid.
        let allowance = s.record_voucher(pk(1), Amount::ZERO, Some(MIB / 2));
        assert_eq!(allowance, Some(Some(MIB / 2 + window - MIB / 2)));
        // Paying for it restores the whole window ahead of what was sent.
        let allowance = s.record_voucher(pk(1), Amount(500_000), Some(MIB / 2));
        assert_eq!(allowance, Some(Some(MIB / 2 + window)));
        assert_eq!(s.earned, Amount(500_000));
        assert_eq!(s.credits[&pk(1)].paid_total(), Amount(500_000));
        // A buyer that left: counted, but there is no allowance to move.
        assert_eq!(s.record_voucher(pk(1), Amount(1), None), None);
        assert_eq!(s.earned, Amount(500_001));
    }
}
