//! The market's report: what a dashboard, `bidtorrent info` and the tests read of one
//! torrent's market (serialised over the control socket).

use crate::wallet::Amount;

use super::MarketState;

/// One row of [`MarketReport`] per connected market peer.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
pub struct PeerMarket {
    pub key: usize,
    pub addr: String,
    pub public_key: String,
    /// Its bid to us and the price we awarded it (we sell).
    pub bid: Option<Amount>,
    pub awarded: Option<Amount>,
    pub earned: Amount,
    pub unpaid_bytes: u64,
    pub strikes: u32,
    /// Our bid to it and the price it awarded us (we buy).
    pub my_bid: Option<Amount>,
    pub my_award: Option<Amount>,
    pub paid: Amount,
    pub acked: Amount,
}

/// One channel we pay into, for settlement checks.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
pub struct BuyChannel {
    pub seller: String,
    pub channel: Option<String>,
    pub paid: Amount,
    pub acked: Amount,
}

#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
pub struct MarketReport {
    pub buyer_strategy: String,
    pub seller_strategy: String,
    pub clearing: Amount,
    /// Paid to sellers and earned from buyers on this torrent.
    pub spent: Amount,
    pub earned: Amount,
    /// Bytes bought: verified bytes billed at a seller's price (what `spent` paid for).
    #[serde(default)]
    pub bought: u64,
    pub banned: usize,
    pub peers: Vec<PeerMarket>,
    pub channels: Vec<BuyChannel>,
}

impl MarketState {
    /// A copy of the market's state for display: one row per market peer, by key, and one
    /// per seller we pay (in no particular order).
    pub(super) fn report(&self) -> MarketReport {
        let state = self;
        let mut peers: Vec<PeerMarket> = state
            .peers
            .iter()
            .map(|(k, p)| {
                let credit = state.credits.get(&p.info.public_key);
                let purchase = state.purchases.get(&p.info.public_key);
                PeerMarket {
                    key: *k,
                    addr: p.link.addr().to_string(),
                    public_key: p.info.public_key.to_string(),
                    bid: state.book.get(*k).map(|b| b.price),
                    awarded: p.award_sent,
                    earned: credit.map_or(Amount::ZERO, |c| c.paid_total()),
                    unpaid_bytes: credit.map_or(0, |c| c.unpaid_bytes()),
                    strikes: credit.map_or(0, |c| c.strikes),
                    my_bid: purchase.and_then(|b| b.my_bid),
                    my_award: purchase.and_then(|b| if b.awarded { b.award_price } else { None }),
                    paid: purchase.map_or(Amount::ZERO, |b| b.paid),
                    acked: purchase.map_or(Amount::ZERO, |b| b.acked),
                }
            })
            .collect();
        peers.sort_by_key(|p| p.key);
        let channels = state
            .purchases
            .iter()
            .map(|(pk, b)| BuyChannel {
                seller: pk.to_string(),
                channel: b.channel.as_ref().map(|c| c.channel.to_string()),
                paid: b.paid,
                acked: b.acked,
            })
            .collect();
        MarketReport {
            buyer_strategy: state.settings.buyer.strategy.to_string(),
            seller_strategy: state.settings.seller.strategy.to_string(),
            clearing: state.clearing,
            spent: state.spent,
            earned: state.earned,
            bought: state.bought,
            banned: state.banned.len(),
            peers,
            channels,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::market::config::SellerStrategy;
    use crate::market::credit::Credit;
    use crate::market::torrent_market::fixtures::{cert, connect, pk, state};
    use crate::market::torrent_market::payments::Purchase;

    #[test]
    fn the_report_shows_both_roles_per_peer() {
        let mut s = state(SellerStrategy::HighestBid);
        // Peer 7 buys from us: it bid 3000, we awarded 3000, it paid 1200.
        connect(&mut s, 7, pk(7));
        s.book.place(7, Amount(3000), Amount(90_000), cert(pk(7)));
        if let Some(p) = s.peers.get_mut(&7) {
            p.award_sent = Some(Amount(3000));
        }
        let mut credit = Credit::default();
        credit.start_billing(Amount(3000), 0);
        credit.paid(Amount(1200));
        credit.strikes = 1;
        s.credits.insert(pk(7), credit);
        // Peer 2 sells to us: we bid 2500, it awarded 2000, we paid 800, it acknowledged 500.
        connect(&mut s, 2, pk(2));
        s.purchases.insert(
            pk(2),
            Purchase {
                my_bid: Some(Amount(2500)),
                awarded: true,
                award_price: Some(Amount(2000)),
                paid: Amount(800),
                acked: Amount(500),
                ..Purchase::default()
            },
        );
        // A seller that left still shows as a channel, not as a peer.
        s.purchases.insert(
            pk(3),
            Purchase {
                paid: Amount(10),
                ..Purchase::default()
            },
        );
        s.banned.insert(pk(4));
        s.clearing = Amount(3000);
        s.spent = Amount(810);
        s.earned = Amount(1200);

        let r = s.report();
        assert_eq!(r.seller_strategy, SellerStrategy::HighestBid.to_string());
        assert_eq!(r.buyer_strategy, s.settings.buyer.strategy.to_string());
        assert_eq!(
            (r.clearing, r.spent, r.earned, r.banned),
            (Amount(3000), Amount(810), Amount(1200), 1)
        );
        let keys: Vec<usize> = r.peers.iter().map(|p| p.key).collect();
        assert_eq!(keys, vec![2, 7], "rows are sorted by key");

        let seller = &r.peers[0];
        assert_eq!(seller.addr, "10.0.0.2:6881");
        assert_eq!(seller.public_key, pk(2).to_string());
        assert_eq!((seller.bid, seller.awarded), (None, None));
        assert_eq!(seller.my_bid, Some(Amount(2500)));
        assert_eq!(seller.my_award, Some(Amount(2000)));
        assert_eq!((seller.paid, seller.acked), (Amount(800), Amount(500)));
        assert_eq!((seller.earned, seller.strikes), (Amount::ZERO, 0));

        let buyer = &r.peers[1];
        assert_eq!(buyer.bid, Some(Amount(3000)));
        assert_eq!(buyer.awarded, Some(Amount(3000)));
        assert_eq!(buyer.earned, Amount(1200));
        assert_eq!(buyer.strikes, 1);
        assert_eq!((buyer.my_bid, buyer.my_award), (None, None));
        assert_eq!((buyer.paid, buyer.acked), (Amount::ZERO, Amount::ZERO));

        let mut channels: Vec<(String, Amount)> = r
            .channels
            .iter()
            .map(|c| (c.seller.clone(), c.paid))
            .collect();
        channels.sort();
        let mut want = vec![
            (pk(2).to_string(), Amount(800)),
            (pk(3).to_string(), Amount(10)),
        ];
        want.sort();
        assert_eq!(channels, want);
        assert!(r.channels.iter().all(|c| c.channel.is_none()));
    }

    #[test]
    fn an_award_that_ended_is_not_reported_as_ours() {
        let mut s = state(SellerStrategy::UniformPrice);
        connect(&mut s, 1, pk(1));
        s.purchases.insert(
            pk(1),
            Purchase {
                my_bid: Some(Amount(2000)),
                awarded: false,
                award_price: Some(Amount(2000)),
                ..Purchase::default()
            },
        );
        let r = s.report();
        assert_eq!(r.peers[0].my_award, None);
        assert_eq!(r.peers[0].my_bid, Some(Amount(2000)));
    }
}
