//! The market in whole in-process swarms on 127.0.0.1 with an embedded ledger: bidders beat
//! non-bidders when the seeder's upload is the bottleneck, tokens balance exactly after
//! settlement, `proportional` shares upload by bid, and strategies change while running.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // tests fail loudly

use std::time::Duration;

use bidtorrent::demo::{PeerSpec, Swarm, SwarmSpec, bidder_ratio, buyer, demo_seller};
use bidtorrent::market::config::{BuyerStrategy, SellerStrategy};
use bidtorrent::wallet::Amount;

fn peer(name: &str, seeder: bool, b: BuyerStrategy, price: u64, up: u64) -> PeerSpec {
    PeerSpec {
        name: name.into(),
        seeder,
        buyer: buyer(b, price),
        seller: demo_seller(),
        upload_limit: up,
        mint: if seeder {
            Amount::ZERO
        } else {
            Amount(50_000_000)
        },
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bidders_finish_first_and_tokens_balance_after_settlement() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let leech_up = 16 * 1024;
    let spec = SwarmSpec {
        size: 3 << 20,
        piece_length: Some(64 * 1024),
        peers: vec![
            peer("seeder", true, BuyerStrategy::Off, 0, 512 * 1024),
            peer("bid-high", false, BuyerStrategy::Fixed, 300_000, leech_up),
            peer("off-1", false, BuyerStrategy::Off, 0, leech_up),
            peer("bid-low", false, BuyerStrategy::Fixed, 50_000, leech_up),
            peer("off-2", false, BuyerStrategy::Off, 0, leech_up),
            peer("off-3", false, BuyerStrategy::Off, 0, leech_up),
        ],
    };
    let mut swarm = Swarm::start(tmp.path(), &spec).await.expect("swarm");
    assert!(
        swarm.run(Duration::from_secs(60)).await,
        "swarm did not finish"
    );
    let rows = swarm.report();
    let (b, n, ratio) = bidder_ratio(&rows);
    let ratio = ratio.expect("both groups finished");
    eprintln!("bidders {b:?} s, non-bidders {n:?} s, ratio {ratio:.2}\n{rows:#?}");
    // Every bidder beats every non-bidder, and on average by a wide margin (SPEC: 2×; the
    // benchmark reports the figure, the test keeps a margin for a loaded machine).
    let worst_bidder = rows
        .iter()
        .filter(|r| r.role == "leecher" && r.buyer_strategy != "off")
        .filter_map(|r| r.completion_secs)
        .fold(0.0, f64::max);
    let best_plain = rows
        .iter()
        .filter(|r| r.role == "leecher" && r.buyer_strategy == "off")
        .filter_map(|r| r.completion_secs)
        .fold(f64::MAX, f64::min);
    // Who finishes first is the market working; how much faster (SPEC §7's ≥ 2×) is a
    // figure, measured by `cargo bench --bench market`, not a timed assertion here.
    assert!(worst_bidder < best_plain, "{rows:#?}");
    assert!(ratio > 1.0, "bidders {ratio:.2}× as fast");
    for r in rows.iter().filter(|r| r.buyer_strategy == "off") {
        assert_eq!(r.paid, 0, "{} does not bid and must not pay", r.peer);
    }
    assert!(rows.iter().any(|r| r.paid > 0), "nobody paid: {rows:#?}");

    let s = swarm.settle(Duration::from_secs(10)).await.expect("settle");
    eprintln!("{s:?}");
    assert!(s.paid > 0);
    assert_eq!(s.paid, s.earned, "Σ paid must equal Σ earned");
    assert_eq!(s.earned, s.redeemed, "every earned token is redeemed");
    assert!(s.ledger_consistent, "ledger invariant broken");
    swarm.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn proportional_shares_upload_by_bid_and_strategies_switch_live() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let mut seeder = peer("seeder", true, BuyerStrategy::Off, 0, 1 << 20);
    seeder.seller.strategy = SellerStrategy::Proportional;
    let spec = SwarmSpec {
        size: 12 << 20,
        piece_length: Some(64 * 1024),
        peers: vec![
            seeder,
            peer("bid-100", false, BuyerStrategy::Fixed, 100_000, 8 * 1024),
            peer("bid-300", false, BuyerStrategy::Fixed, 300_000, 8 * 1024),
        ],
    };
    let mut swarm = Swarm::start(tmp.path(), &spec).await.expect("swarm");
    let (share, _) = measure_shares(&swarm, Duration::from_secs(4), Duration::from_secs(5)).await;
    eprintln!("upload shares {share:?} (bid shares 0.25 / 0.75)");
    // The shares follow the bids' order; how close they come to the bid shares (SPEC §7's
    // 10 %) is measured by `cargo bench --bench market`.
    let lo = share.iter().find(|s| s.0 == "bid-100").map_or(0.0, |s| s.1);
    let hi = share.iter().find(|s| s.0 == "bid-300").map_or(0.0, |s| s.1);
    assert!(
        lo > 0.0 && lo < hi,
        "the 100k bidder got {lo:.3} of the upload against {hi:.3} for the 300k one"
    );

    // Switch the seeder to tit-for-tat while running: awards stop, bids are refused.
    let ih = swarm.meta.info_hash;
    let seller = &swarm.members[0];
    let eff = seller
        .market
        .set_strategy(Some(&ih), Some("tit-for-tat"), &[])
        .expect("switch");
    assert_eq!(eff.seller.strategy, SellerStrategy::TitForTat);
    assert!(
        seller
            .market
            .set_strategy(None, None, &[("non_market_share".into(), "0".into())])
            .is_err(),
        "a zero non-market share is refused"
    );
    let ok = tokio::time::timeout(Duration::from_secs(15), async {
        loop {
            let r = seller.market.report(&ih).expect("report");
            if r.seller_strategy == "tit-for-tat" && r.peers.iter().all(|p| p.awarded.is_none()) {
                return;
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    })
    .await;
    assert!(ok.is_ok(), "awards did not stop under tit-for-tat");
    assert!(
        swarm.run(Duration::from_secs(60)).await,
        "swarm did not finish"
    );
    swarm.shutdown().await;
}

/// Each leecher's share of the seeder's upload over `window`, after `warmup`.
pub async fn measure_shares(
    swarm: &Swarm,
    warmup: Duration,
    window: Duration,
) -> (Vec<(String, f64)>, u64) {
    tokio::time::sleep(warmup).await;
    let seeder = &swarm.members[0];
    let ih = swarm.meta.info_hash;
    // Map the seeder's connections to leechers by their market keys.
    let by_name = |_: &bidtorrent::engine::torrent::Torrent| -> Vec<(String, u64)> {
        let Some(r) = seeder.market.report(&ih) else {
            return Vec::new();
        };
        r.peers
            .iter()
            .filter_map(|p| {
                let m = swarm
                    .members
                    .iter()
                    .find(|m| m.market.wallet().public_key().to_string() == p.public_key)?;
                let (up, _) = seeder.torrent.peer_transfer(p.key)?;
                Some((m.spec.name.clone(), up))
            })
            .collect()
    };
    let before = by_name(&seeder.torrent);
    tokio::time::sleep(window).await;
    let after = by_name(&seeder.torrent);
    let deltas: Vec<(String, u64)> = after
        .iter()
        .map(|(n, a)| {
            let b = before.iter().find(|x| &x.0 == n).map_or(0, |x| x.1);
            (n.clone(), a.saturating_sub(b))
        })
        .collect();
    let total: u64 = deltas.iter().map(|d| d.1).sum();
    (
        deltas
            .into_iter()
            .map(|(n, d)| (n, d as f64 / total.max(1) as f64))
            .collect(),
        total,
    )
}
