//! The engine's choker for a market torrent: each rechoke runs the seller strategy (an auction
//! over the bid book, plus tit-for-tat slots for plain peers) and tells the engine whom to
//! unchoke.
//!
//! The engine calls it with the torrent's state lock held; it then takes the market lock
//! (torrent, then market: the documented order). Besides its answer it writes two things into
//! the market's state, read by the next market tick: `clearing` (the round's uniform price,
//! announced in asks) and each peer's `award_decided` (the award price to send it, or none:
//! the tick then sends the `award` or the `reject`). It never sends anything itself.

use std::sync::Weak;

use crate::engine::choker::{ChokeDecision, Choker, PeerView, TitForTat};
use crate::market::config::SellerStrategy;
use crate::market::strategy::seller::{self, Candidate};

use super::{MarketState, TorrentMarket};

/// The engine's choker for a market torrent: runs the seller strategy over the bid book.
pub struct MarketChoker {
    market: Weak<TorrentMarket>,
    /// Takes over if the market is gone, so the torrent keeps sharing.
    fallback: TitForTat,
}

impl MarketChoker {
    pub(super) fn new(market: Weak<TorrentMarket>, slots: usize) -> MarketChoker {
        MarketChoker {
            market,
            fallback: TitForTat::new(slots),
        }
    }
}

impl Choker for MarketChoker {
    fn name(&self) -> &str {
        "market"
    }

    fn slots(&self) -> usize {
        // Market torrents unchoke only at a rechoke (the extension asks for one within a
        // second of any change), so the engine's shortcut for new peers must stay out.
        match self.market.upgrade() {
            Some(market)
                if market.state().settings.seller.strategy == SellerStrategy::TitForTat =>
            {
                self.fallback.slots()
            }
            Some(_) => 0,
            None => self.fallback.slots(),
        }
    }

    fn rechoke(&mut self, peers: &[PeerView], we_are_seed: bool, rotate: bool) -> ChokeDecision {
        let Some(market) = self.market.upgrade() else {
            return self.fallback.rechoke(peers, we_are_seed, rotate);
        };
        let mut state = market.state();
        auction_round(&mut state, peers, we_are_seed, rotate)
    }
}

/// One rechoke round over the market's state: the candidates (rate, bid, whether the award
/// was sent, whether blocked for debt or banned), the seller strategy's outcome, and the
/// outcome written back (`clearing`, each peer's `award_decided`).
pub(super) fn auction_round(
    state: &mut MarketState,
    peers: &[PeerView],
    we_are_seed: bool,
    rotate: bool,
) -> ChokeDecision {
    let candidates: Vec<Candidate> = peers
        .iter()
        .map(|v| {
            let peer = state.peers.get(&v.key);
            let credit = peer.and_then(|m| state.credits.get(&m.info.public_key));
            Candidate {
                key: v.key,
                addr: v.addr,
                interested: v.interested && !v.is_seed,
                rate: if we_are_seed {
                    v.upload_rate
                } else {
                    v.download_rate
                },
                reciprocation: v.download_rate,
                bid: state.book.get(v.key).map(|b| (b.price, b.seq)),
                award_sent: peer.is_some_and(|m| m.award_sent.is_some()),
                blocked: credit.is_some_and(|c| c.delinquent)
                    || peer.is_some_and(|m| state.banned.contains(&m.info.public_key)),
                connected_at: v.connected_at,
            }
        })
        .collect();
    let outcome = seller::decide(
        &state.settings.seller,
        &candidates,
        rotate,
        &mut state.optimistic,
    );
    state.clearing = outcome.clearing;
    for (k, p) in state.peers.iter_mut() {
        p.award_decided = outcome
            .awards
            .iter()
            .find(|(a, _)| a == k)
            .map(|(_, price)| *price);
    }
    ChokeDecision {
        unchoke: outcome
            .unchoke
            .iter()
            .filter(|k| Some(**k) != outcome.optimistic)
            .copied()
            .collect(),
        optimistic: outcome.optimistic,
        shares: outcome.shares,
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;
    use std::time::Instant;

    use super::*;
    use crate::market::credit::Credit;
    use crate::market::torrent_market::fixtures::{addr, cert, connect, market, pk, state};
    use crate::wallet::Amount;

    fn view(key: usize, download_rate: f64) -> PeerView {
        PeerView {
            key,
            addr: addr(key),
            interested: true,
            choked: true,
            download_rate,
            upload_rate: 0.0,
            is_seed: false,
            connected_at: Instant::now(),
        }
    }

    /// Peers 1..=4 bid 5000, 4000, 3000, 2000 µ/MiB (reserve 1000, 3 market slots of 4).
    fn four_bidders(strategy: SellerStrategy) -> MarketState {
        let mut s = state(strategy);
        for (key, price) in [(1, 5000), (2, 4000), (3, 3000), (4, 2000)] {
            let buyer = pk(key as u8);
            connect(&mut s, key, buyer);
            s.book
                .place(key, Amount(price), Amount(1_000_000), cert(buyer));
        }
        s
    }

    #[test]
    fn the_best_bids_win_at_the_highest_losing_bid() {
        let mut s = four_bidders(SellerStrategy::UniformPrice);
        let peers: Vec<PeerView> = (1..=4).map(|k| view(k, 0.0)).collect();
        auction_round(&mut s, &peers, true, false);
        assert_eq!(s.clearing, Amount(2000));
        for key in 1..=3 {
            assert_eq!(
                s.peers[&key].award_decided,
                Some(Amount(2000)),
                "peer {key}"
            );
        }
        assert_eq!(s.peers[&4].award_decided, None);
    }

    #[test]
    fn highest_bid_winners_pay_their_own_bid() {
        let mut s = four_bidders(SellerStrategy::HighestBid);
        let peers: Vec<PeerView> = (1..=4).map(|k| view(k, 0.0)).collect();
        auction_round(&mut s, &peers, true, false);
        assert_eq!(s.peers[&1].award_decided, Some(Amount(5000)));
        assert_eq!(s.peers[&3].award_decided, Some(Amount(3000)));
        assert_eq!(s.peers[&4].award_decided, None);
    }

    #[test]
    fn a_winner_is_unchoked_only_once_its_award_was_sent() {
        let mut s = four_bidders(SellerStrategy::UniformPrice);
        if let Some(p) = s.peers.get_mut(&1) {
            p.award_sent = Some(Amount(2000));
        }
        let peers: Vec<PeerView> = (1..=4).map(|k| view(k, 0.0)).collect();
        let d = auction_round(&mut s, &peers, true, false);
        let unchoked: Vec<usize> = d
            .unchoke
            .iter()
            .chain(d.optimistic.iter())
            .copied()
            .collect();
        assert!(unchoked.contains(&1));
        assert!(
            !unchoked.contains(&2) && !unchoked.contains(&3),
            "{unchoked:?}"
        );
        // Peer 4 lost the auction and takes the one non-market slot.
        assert!(unchoked.contains(&4));
    }

    #[test]
    fn debtors_and_banned_buyers_win_nothing_and_awards_are_withdrawn() {
        let mut s = four_bidders(SellerStrategy::UniformPrice);
        let peers: Vec<PeerView> = (1..=4).map(|k| view(k, 0.0)).collect();
        auction_round(&mut s, &peers, true, false);
        assert!(s.peers[&1].award_decided.is_some());
        let mut debtor = Credit::default();
        debtor.delinquent = true;
        s.credits.insert(pk(1), debtor);
        s.banned.insert(pk(2));
        let d = auction_round(&mut s, &peers, true, false);
        assert_eq!(s.peers[&1].award_decided, None);
        assert_eq!(s.peers[&2].award_decided, None);
        // Only two bids are left for three slots: uncontested, they clear at the reserve.
        assert_eq!(s.peers[&3].award_decided, Some(Amount(1000)));
        assert_eq!(s.peers[&4].award_decided, Some(Amount(1000)));
        assert_eq!(s.clearing, Amount(1000));
        let unchoked: Vec<usize> = d
            .unchoke
            .iter()
            .chain(d.optimistic.iter())
            .copied()
            .collect();
        assert!(
            !unchoked.contains(&1) && !unchoked.contains(&2),
            "{unchoked:?}"
        );
    }

    #[test]
    fn tit_for_tat_sells_nothing_and_a_gone_market_falls_back_to_it() {
        let mut s = four_bidders(SellerStrategy::TitForTat);
        let peers: Vec<PeerView> = (1..=4).map(|k| view(k, k as f64 * 100.0)).collect();
        let d = auction_round(&mut s, &peers, false, false);
        assert!(s.peers.values().all(|p| p.award_decided.is_none()));
        // All four regular slots go to the fastest uploaders to us.
        assert_eq!(d.unchoke.len(), 4);

        let mut gone = MarketChoker::new(Weak::new(), 4);
        assert_eq!(gone.slots(), 4);
        let d = gone.rechoke(&peers, false, false);
        assert!(!d.unchoke.is_empty());
    }

    #[test]
    fn the_engine_sees_no_free_slots_while_selling_and_the_round_lands_in_the_market() {
        let dir = tempfile::tempdir().expect("tempdir");
        let market = market(dir.path(), four_bidders(SellerStrategy::UniformPrice));
        let mut choker = MarketChoker::new(Arc::downgrade(&market), 4);
        // No unchoke outside a rechoke while bids decide who is served.
        assert_eq!(choker.slots(), 0);
        let peers: Vec<PeerView> = (1..=4).map(|k| view(k, 0.0)).collect();
        choker.rechoke(&peers, true, false);
        {
            let s = market.state();
            assert_eq!(s.clearing, Amount(2000));
            assert_eq!(s.peers[&1].award_decided, Some(Amount(2000)));
        }
        market.state().settings.seller.strategy = SellerStrategy::TitForTat;
        assert_eq!(choker.slots(), 4);
    }
}
