//! Market benchmark (SPEC §7), run with `cargo bench --bench market`: in a swarm whose seeder
//! upload is the bottleneck, how much faster bidders finish than non-bidders; and under
//! `proportional`, each bidder's share of the seeder's upload against its share of the bids.
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
            Amount(100_000_000)
        },
    }
}

async fn ratio() -> anyhow::Result<()> {
    let tmp = tempfile::tempdir()?;
    let up = 32 * 1024;
    let spec = SwarmSpec {
        size: 8 << 20,
        piece_length: Some(64 * 1024),
        peers: vec![
            peer("seeder", true, BuyerStrategy::Off, 0, 1 << 20),
            peer("bid-high-1", false, BuyerStrategy::Fixed, 300_000, up),
            peer("bid-low", false, BuyerStrategy::Fixed, 20_000, up),
            peer("off-1", false, BuyerStrategy::Off, 0, up),
            peer("off-2", false, BuyerStrategy::Off, 0, up),
            peer("off-3", false, BuyerStrategy::Off, 0, up),
            peer("off-4", false, BuyerStrategy::Off, 0, up),
        ],
    };
    let mut swarm = Swarm::start(tmp.path(), &spec).await?;
    let done = swarm.run(Duration::from_secs(300)).await;
    let rows = swarm.report();
    let (b, n, r) = bidder_ratio(&rows);
    for row in &rows {
        println!(
            "  {:<11} {:<7} bid {:>9} paid/MiB {:>9} done {:>7} s  paid {:>9} earned {:>9}",
            row.peer,
            row.buyer_strategy,
            row.bid.map(|b| Amount(b).to_string()).unwrap_or_default(),
            row.price_paid_per_mib
                .map(|b| Amount(b).to_string())
                .unwrap_or_default(),
            row.completion_secs
                .map_or("-".into(), |s| format!("{s:.1}")),
            Amount(row.paid),
            Amount(row.earned)
        );
    }
    let s = swarm.settle(Duration::from_secs(10)).await?;
    println!(
        "bottleneck swarm (8 MiB, seeder 1 MiB/s): bidders {:.1} s, non-bidders {:.1} s, ratio {:.2}× (target ≥ 2×){}",
        b.unwrap_or(f64::NAN),
        n.unwrap_or(f64::NAN),
        r.unwrap_or(f64::NAN),
        if done { "" } else { " [timed out]" }
    );
    println!(
        "settlement: Σ paid {} Σ earned {} redeemed {} ledger {}",
        Amount(s.paid),
        Amount(s.earned),
        Amount(s.redeemed),
        if s.ledger_consistent {
            "consistent"
        } else {
            "INCONSISTENT"
        }
    );
    swarm.shutdown().await;
    Ok(())
}

async fn proportional() -> anyhow::Result<()> {
    let tmp = tempfile::tempdir()?;
    let mut seeder = peer("seeder", true, BuyerStrategy::Off, 0, 1 << 20);
    seeder.seller.strategy = SellerStrategy::Proportional;
    let bids = [100_000u64, 200_000, 300_000];
    let mut peers = vec![seeder];
    for b in bids {
        peers.push(peer(
            &format!("bid-{b}"),
            false,
            BuyerStrategy::Fixed,
            b,
            8 * 1024,
        ));
    }
    let spec = SwarmSpec {
        size: 24 << 20,
        piece_length: Some(64 * 1024),
        peers,
    };
    let swarm = Swarm::start(tmp.path(), &spec).await?;
    tokio::time::sleep(Duration::from_secs(4)).await;
    let ih = swarm.meta.info_hash;
    let seller = &swarm.members[0];
    let sample = || -> Vec<(String, u64)> {
        let Some(r) = seller.market.report(&ih) else {
            return Vec::new();
        };
        r.peers
            .iter()
            .filter_map(|p| {
                let m = swarm
                    .members
                    .iter()
                    .find(|m| m.market.wallet().public_key().to_string() == p.public_key)?;
                Some((m.spec.name.clone(), seller.torrent.peer_transfer(p.key)?.0))
            })
            .collect()
    };
    let before = sample();
    tokio::time::sleep(Duration::from_secs(10)).await;
    let after = sample();
    let total_bid: u64 = bids.iter().sum();
    let deltas: Vec<(String, u64)> = after
        .iter()
        .map(|(n, a)| {
            (
                n.clone(),
                a - before.iter().find(|x| &x.0 == n).map_or(0, |x| x.1),
            )
        })
        .collect();
    let total: u64 = deltas.iter().map(|d| d.1).sum();
    println!("proportional (seeder 1 MiB/s, 10 s window):");
    let mut worst = 0.0f64;
    for b in bids {
        let name = format!("bid-{b}");
        let got = deltas.iter().find(|d| d.0 == name).map_or(0, |d| d.1);
        let share = got as f64 / total.max(1) as f64;
        let want = b as f64 / total_bid as f64;
        let err = (share - want).abs() / want;
        worst = worst.max(err);
        println!(
            "  {name:<11} bid share {want:.3}  upload share {share:.3}  error {:.1} %",
            err * 100.0
        );
    }
    println!(
        "  worst relative error {:.1} % (target ≤ 10 %)",
        worst * 100.0
    );
    swarm.shutdown().await;
    Ok(())
}

fn main() -> anyhow::Result<()> {
    // `cargo test --benches` runs this binary too; only `cargo bench` measures.
    if !std::env::args().any(|a| a == "--bench") {
        return Ok(());
    }
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    rt.block_on(async {
        ratio().await?;
        proportional().await
    })
}
