//! Seller strategies: who gets an upload slot, at what price, and how upload is shared.
//!
//! [`decide`] is a pure function of the peers, their bids and the configuration, so every
//! strategy is unit-tested here; `market::extension::MarketChoker` feeds it from the engine's
//! rechoke and the bid book.
//!
//! Slots: `slots` regular slots split into market slots (auctioned) and non-market slots (at
//! least one, `non_market_share` of them), plus the optimistic slot, never auctioned. Non-market
//! slots go by tit-for-tat to peers holding no award (plain peers, non-bidders, losing
//! bidders) and at most `per_ip` to one IP address. Bandwidth, when the upload limit binds:
//! non-market peers (with the optimistic one) share `non_market_share` of it; winners share
//! the rest — equally, or in proportion to their bids under `proportional`.

use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::time::Instant;

use crate::engine::choker::{PeerView, pick_optimistic};
use crate::market::config::{SellerConfig, SellerStrategy};
use crate::wallet::Amount;

/// One connected peer as the seller strategy sees it.
#[derive(Debug, Clone)]
pub struct Candidate {
    pub key: usize,
    pub addr: SocketAddr,
    pub interested: bool,
    /// Tit-for-tat rank: rate the peer gives us (leeching) or we reach it (seeding).
    pub rate: f64,
    /// Bytes/s the peer sends us (reciprocation, for `hybrid`).
    pub reciprocation: f64,
    /// (price per MiB, arrival order) of its live bid, if it bid.
    pub bid: Option<(Amount, u64)>,
    /// Whether its award was already sent: only then is a market slot unchoked (award first,
    /// unchoke after, as the protocol promises).
    pub award_sent: bool,
    /// Over its credit window or banned: no slot of any kind.
    pub blocked: bool,
    pub connected_at: Instant,
}

#[derive(Debug, Clone, Default, PartialEq)]
pub struct Outcome {
    /// Every peer to unchoke, optimistic included.
    pub unchoke: Vec<usize>,
    pub optimistic: Option<usize>,
    /// (peer, price per MiB) of every winner, unchoked yet or not.
    pub awards: Vec<(usize, Amount)>,
    /// Peers in non-market slots.
    pub non_market: Vec<usize>,
    /// Bandwidth weights of the unchoked peers; empty = first come, first served.
    pub shares: Vec<(usize, f64)>,
    /// The uniform clearing price of this round (the reserve when uncontested).
    pub clearing: Amount,
}

/// Runs one rechoke round. `optimistic` is the slot's holder, kept across rounds.
pub fn decide(
    cfg: &SellerConfig,
    cands: &[Candidate],
    rotate_optimistic: bool,
    optimistic: &mut Option<usize>,
) -> Outcome {
    let reserve = cfg.reserve_price.0;
    let eligible: Vec<&Candidate> = cands
        .iter()
        .filter(|c| c.interested && !c.blocked)
        .collect();
    let market = cfg.strategy != SellerStrategy::TitForTat;
    let (awards, clearing) = if market {
        auction(cfg, &eligible, reserve)
    } else {
        (Vec::new(), reserve)
    };
    let winners: Vec<usize> = awards.iter().map(|(k, _)| *k).collect();
    let mut unchoke: Vec<usize> = awards
        .iter()
        .filter(|(k, _)| eligible.iter().any(|c| c.key == *k && c.award_sent))
        .map(|(k, _)| *k)
        .collect();

    // Non-market slots: tit-for-tat among peers without an award, capped per IP.
    let free_slots = if market {
        cfg.non_market_slots()
    } else {
        cfg.slots
    };
    let mut others: Vec<&Candidate> = eligible
        .iter()
        .filter(|c| !winners.contains(&c.key))
        .copied()
        .collect();
    others.sort_by(|a, b| b.rate.total_cmp(&a.rate).then(a.key.cmp(&b.key)));
    let mut per_ip: HashMap<IpAddr, usize> = HashMap::new();
    let mut non_market = Vec::new();
    for c in &others {
        if non_market.len() >= free_slots {
            break;
        }
        let n = per_ip.entry(c.addr.ip()).or_insert(0);
        if market && *n >= cfg.per_ip {
            continue;
        }
        *n += 1;
        non_market.push(c.key);
    }
    unchoke.extend(&non_market);

    // The optimistic slot: anyone interested and not otherwise unchoked; never sold.
    let views: Vec<PeerView> = others
        .iter()
        .map(|c| PeerView {
            key: c.key,
            addr: c.addr,
            interested: true,
            choked: true,
            download_rate: c.rate,
            upload_rate: c.rate,
            is_seed: false,
            connected_at: c.connected_at,
        })
        .collect();
    let refs: Vec<&PeerView> = views.iter().collect();
    let still = optimistic.filter(|k| others.iter().any(|c| c.key == *k) && !unchoke.contains(k));
    *optimistic = if rotate_optimistic || still.is_none() {
        pick_optimistic(&refs, &unchoke)
    } else {
        still
    };
    if let Some(o) = *optimistic {
        unchoke.push(o);
    }

    // Shares: only meaningful with winners on the line.
    let live_winners: Vec<(usize, Amount)> = awards
        .iter()
        .filter(|(k, _)| unchoke.contains(k))
        .copied()
        .collect();
    let mut shares = Vec::new();
    if market && !live_winners.is_empty() {
        let free: Vec<usize> = unchoke
            .iter()
            .filter(|k| !winners.contains(k))
            .copied()
            .collect();
        let free_pool = if free.is_empty() {
            0.0
        } else {
            cfg.non_market_share
        };
        let market_pool = 1.0 - free_pool;
        let weight = |k: usize| -> f64 {
            match cfg.strategy {
                SellerStrategy::Proportional => cands
                    .iter()
                    .find(|c| c.key == k)
                    .and_then(|c| c.bid)
                    .map_or(0.0, |(p, _)| p.micro() as f64),
                _ => 1.0,
            }
        };
        let total: f64 = live_winners.iter().map(|(k, _)| weight(*k)).sum();
        for (k, _) in &live_winners {
            let w = if total > 0.0 {
                weight(*k) / total
            } else {
                1.0 / live_winners.len() as f64
            };
            shares.push((*k, market_pool * w));
        }
        for k in &free {
            shares.push((*k, free_pool / free.len() as f64));
        }
    }
    Outcome {
        unchoke,
        optimistic: *optimistic,
        awards,
        non_market,
        shares,
        clearing,
    }
}

/// Winners and their prices. Bids under the reserve never win.
fn auction(
    cfg: &SellerConfig,
    eligible: &[&Candidate],
    reserve: Amount,
) -> (Vec<(usize, Amount)>, Amount) {
    let k = cfg.market_slots();
    let mut bidders: Vec<(&Candidate, Amount, u64)> = eligible
        .iter()
        .filter_map(|c| c.bid.map(|(p, s)| (*c, p, s)))
        .filter(|(_, p, _)| *p >= reserve && !p.is_zero())
        .collect();
    bidders.sort_by(|a, b| b.1.cmp(&a.1).then(a.2.cmp(&b.2)));
    if cfg.strategy == SellerStrategy::Hybrid {
        let max_bid = bidders.first().map_or(1, |b| b.1.micro().max(1)) as f64;
        let max_rec = bidders
            .iter()
            .map(|b| b.0.reciprocation)
            .fold(0.0f64, f64::max)
            .max(1.0);
        let w = cfg.hybrid_weight;
        let score = |c: &Candidate, p: Amount| {
            w * p.micro() as f64 / max_bid + (1.0 - w) * c.reciprocation / max_rec
        };
        bidders.sort_by(|a, b| {
            score(b.0, b.1)
                .total_cmp(&score(a.0, a.1))
                .then(a.2.cmp(&b.2))
        });
    }
    let (win, lose) = bidders.split_at(bidders.len().min(k));
    // The highest losing bid (or the reserve) clears a uniform-price auction. Every winner of
    // a price-ranked auction bid at least that much, so no winner ever pays above its own
    // bid; a shill bid above a winner's would take its slot, not raise its price.
    let highest_loser = lose.iter().map(|b| b.1).max().unwrap_or(Amount::ZERO);
    let clearing = highest_loser.max(reserve);
    let awards = win
        .iter()
        .map(|(c, p, _)| {
            let price = match cfg.strategy {
                SellerStrategy::HighestBid | SellerStrategy::Proportional => *p,
                _ => clearing.min(*p),
            };
            (c.key, price)
        })
        .collect();
    (awards, clearing)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::market::config::Tokens;

    fn cand(key: usize, ip: u8, bid: Option<u64>, rate: f64) -> Candidate {
        Candidate {
            key,
            addr: SocketAddr::from(([127, 0, 0, ip], 6000 + key as u16)),
            interested: true,
            rate,
            reciprocation: 0.0,
            bid: bid.map(|b| (Amount(b), key as u64)),
            award_sent: true,
            blocked: false,
            connected_at: Instant::now(),
        }
    }

    fn cfg(strategy: SellerStrategy) -> SellerConfig {
        SellerConfig {
            strategy,
            reserve_price: Tokens(Amount(10)),
            slots: 4,
            non_market_share: 0.25,
            ..SellerConfig::default()
        }
    }

    fn price_of(o: &Outcome, k: usize) -> Option<Amount> {
        o.awards.iter().find(|(key, _)| *key == k).map(|(_, p)| *p)
    }

    #[test]
    fn uniform_price_winners_pay_the_highest_losing_bid() {
        let c = cfg(SellerStrategy::UniformPrice);
        let peers = vec![
            cand(1, 1, Some(100), 0.0),
            cand(2, 2, Some(50), 0.0),
            cand(3, 3, Some(70), 0.0),
            cand(4, 4, Some(60), 0.0),
            cand(5, 5, Some(5), 0.0), // under the reserve
            cand(6, 6, None, 9.0),
        ];
        let o = decide(&c, &peers, true, &mut None);
        assert_eq!(o.awards.len(), 3);
        for k in [1, 3, 4] {
            assert_eq!(price_of(&o, k), Some(Amount(50)), "{o:?}");
        }
        assert_eq!(o.clearing, Amount(50));
        assert!(
            o.non_market.contains(&6),
            "best non-bidder gets the free slot"
        );
        assert!(o.optimistic.is_some());
        assert!(!o.awards.iter().any(|(k, _)| *k == 5));
    }

    #[test]
    fn the_optimistic_slot_is_never_auctioned() {
        // Six bidders for three market slots: three winners, the rest lose; plus non-bidders.
        let c = cfg(SellerStrategy::UniformPrice);
        let mut peers: Vec<Candidate> = (1..=6)
            .map(|k| cand(k, k as u8, Some(20 + 10 * k as u64), 0.0))
            .collect();
        peers.extend((7..=9).map(|k| cand(k, k as u8, None, 1.0)));
        let mut optimistic = None;
        let mut holders = std::collections::HashSet::new();
        for round in 0..60 {
            let o = decide(&c, &peers, round % 3 == 0, &mut optimistic);
            let opt = o.optimistic.expect("an optimistic slot every round");
            holders.insert(opt);
            assert_eq!(o.awards.len(), 3, "round {round}: {o:?}");
            assert!(
                !o.awards.iter().any(|(k, _)| *k == opt),
                "round {round}: the optimistic peer {opt} was sold its slot: {o:?}"
            );
            assert!(o.unchoke.contains(&opt));
            // It goes to someone who won nothing else: never a winner's second slot.
            assert!(!o.non_market.contains(&opt), "{o:?}");
        }
        // It rotates over the losing bidders and the non-bidders alike.
        assert!(holders.len() > 1, "{holders:?}");
    }

    #[test]
    fn uncontested_auction_clears_at_the_reserve_and_ties_go_to_the_first_bid() {
        let c = cfg(SellerStrategy::UniformPrice);
        let o = decide(&c, &[cand(1, 1, Some(100), 0.0)], false, &mut None);
        assert_eq!(price_of(&o, 1), Some(Amount(10)));
        let peers: Vec<Candidate> = (1..=4).map(|k| cand(k, 1, Some(70), 0.0)).collect();
        let o = decide(&c, &peers, false, &mut None);
        let winners: Vec<usize> = o.awards.iter().map(|a| a.0).collect();
        assert_eq!(winners, vec![1, 2, 3]);
        assert!(o.awards.iter().all(|a| a.1 == Amount(70)));
    }

    #[test]
    fn shill_bids_never_make_an_honest_winner_pay_above_its_bid() {
        let c = cfg(SellerStrategy::UniformPrice);
        // Randomised: an honest bid among fakes anywhere around it.
        let mut x: u64 = 0x1234_5678;
        for _ in 0..2000 {
            let mut peers = vec![cand(0, 9, Some(1000), 0.0)];
            for k in 1..6 {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                peers.push(cand(k, k as u8, Some(900 + x % 300), 0.0));
            }
            let o = decide(&c, &peers, false, &mut None);
            if let Some(p) = price_of(&o, 0) {
                assert!(p <= Amount(1000), "honest winner pays {p:?}");
            }
            for (k, p) in &o.awards {
                let bid = peers[*k].bid.map(|b| b.0).unwrap_or_default();
                assert!(*p <= bid, "winner {k} pays {p:?} above its bid {bid:?}");
            }
        }
    }

    #[test]
    fn highest_bid_is_pay_as_bid() {
        let c = cfg(SellerStrategy::HighestBid);
        let peers = vec![
            cand(1, 1, Some(100), 0.0),
            cand(2, 2, Some(50), 0.0),
            cand(3, 3, Some(70), 0.0),
            cand(4, 4, Some(60), 0.0),
        ];
        let o = decide(&c, &peers, false, &mut None);
        assert_eq!(price_of(&o, 1), Some(Amount(100)));
        assert_eq!(price_of(&o, 3), Some(Amount(70)));
        assert_eq!(price_of(&o, 2), None);
    }

    #[test]
    fn proportional_shares_follow_bids() {
        let c = cfg(SellerStrategy::Proportional);
        let peers = vec![
            cand(1, 1, Some(100), 0.0),
            cand(2, 2, Some(300), 0.0),
            cand(3, 3, None, 0.0),
        ];
        let o = decide(&c, &peers, false, &mut None);
        let share = |k| {
            o.shares
                .iter()
                .find(|s| s.0 == k)
                .map(|s| s.1)
                .unwrap_or(0.0)
        };
        assert!((share(2) / share(1) - 3.0).abs() < 1e-9, "{o:?}");
        assert!((share(1) + share(2) - 0.75).abs() < 1e-9);
        assert!((share(3) - 0.25).abs() < 1e-9);
        assert_eq!(price_of(&o, 2), Some(Amount(300)));
    }

    #[test]
    fn hybrid_rewards_reciprocation() {
        let mut c = cfg(SellerStrategy::Hybrid);
        c.slots = 2; // one market slot
        let mut a = cand(1, 1, Some(100), 0.0);
        a.reciprocation = 0.0;
        let mut b = cand(2, 2, Some(80), 0.0);
        b.reciprocation = 1e6;
        let o = decide(&c, &[a.clone(), b.clone()], false, &mut None);
        assert_eq!(o.awards.len(), 1);
        assert_eq!(
            o.awards[0].0, 2,
            "the reciprocating bidder wins under hybrid"
        );
        assert!(o.awards[0].1 <= Amount(80));
        c.hybrid_weight = 1.0;
        let o = decide(&c, &[a, b], false, &mut None);
        assert_eq!(o.awards[0].0, 1);
    }

    #[test]
    fn tit_for_tat_ignores_bids_and_non_market_slots_are_capped_per_ip() {
        let c = cfg(SellerStrategy::TitForTat);
        let peers = vec![
            cand(1, 1, Some(1000), 1.0),
            cand(2, 2, None, 50.0),
            cand(3, 3, None, 40.0),
        ];
        let o = decide(&c, &peers, false, &mut None);
        assert!(o.awards.is_empty());
        assert!(o.shares.is_empty());
        assert!(o.unchoke.contains(&2) && o.unchoke.contains(&3));

        // Uniform price, five plain peers on one address: one non-market slot among them.
        let c = cfg(SellerStrategy::UniformPrice);
        let peers: Vec<Candidate> = (1..=5).map(|k| cand(k, 7, None, k as f64)).collect();
        let o = decide(&c, &peers, false, &mut None);
        assert_eq!(o.non_market, vec![5]);
        assert!(
            o.optimistic.is_some(),
            "the optimistic slot serves plain peers too"
        );
    }

    #[test]
    fn blocked_and_unannounced_winners_are_not_unchoked() {
        let c = cfg(SellerStrategy::UniformPrice);
        let mut a = cand(1, 1, Some(100), 0.0);
        a.award_sent = false;
        let mut b = cand(2, 2, Some(100), 0.0);
        b.blocked = true;
        let o = decide(&c, &[a, b], false, &mut None);
        assert_eq!(o.awards.len(), 1, "blocked peers do not win");
        assert!(
            !o.unchoke.contains(&1),
            "award must be sent before the unchoke"
        );
        assert!(!o.unchoke.contains(&2));
    }
}
