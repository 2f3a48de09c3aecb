//! `bidtorrent demo`: a whole market on 127.0.0.1 in one process — an embedded ledger with
//! minted balances, seeders with limited upload, leechers with a mix of buyer strategies —
//! with a live table and a final report per peer. [`Swarm`] is also what the market tests and
//! the market benchmark drive, so the demo shows exactly what is measured.

pub mod source;

use std::io::Write;
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::Context;
use serde::Serialize;

use crate::engine::create::{CreateOptions, create_torrent};
use crate::engine::metainfo::Metainfo;
use crate::engine::session::Session;
use crate::engine::torrent::{Phase, Torrent, TorrentOptions};
use crate::market::config::{BuyerConfig, BuyerStrategy, SellerConfig, Tokens};
use crate::market::{Market, MarketConfig};
use crate::rpc::host::{SessionSpec, assemble};
use crate::wallet::{Amount, EmbeddedLedger, Wallet};

/// One member of a demo swarm.
#[derive(Debug, Clone)]
pub struct PeerSpec {
    pub name: String,
    pub seeder: bool,
    pub buyer: BuyerConfig,
    pub seller: SellerConfig,
    /// Session upload limit, bytes/s (0 = unlimited).
    pub upload_limit: u64,
    /// Tokens minted to its wallet before the start.
    pub mint: Amount,
}

#[derive(Debug, Clone)]
pub struct SwarmSpec {
    pub size: u64,
    pub piece_length: Option<u64>,
    pub peers: Vec<PeerSpec>,
}

pub struct Member {
    pub spec: PeerSpec,
    pub session: Arc<Session>,
    pub torrent: Arc<Torrent>,
    pub market: Market,
    pub done_at: Option<Duration>,
}

/// Per-peer line of the final report.
#[derive(Debug, Clone, Serialize)]
pub struct PeerReport {
    pub peer: String,
    pub role: &'static str,
    pub buyer_strategy: String,
    pub seller_strategy: String,
    /// The `fixed` bid in force at the end, micro-tokens per MiB.
    pub bid: Option<u64>,
    /// The average price actually paid, micro-tokens per MiB bought (paid ÷ bytes billed
    /// at a seller's price); `None` when nothing was bought.
    pub price_paid_per_mib: Option<u64>,
    pub bytes_down: u64,
    pub bytes_up: u64,
    /// Micro-tokens paid to sellers and earned from buyers.
    pub paid: u64,
    pub earned: u64,
    pub completion_secs: Option<f64>,
}

/// Σ paid and Σ earned after settlement, and the ledger's own audit.
#[derive(Debug, Clone, Serialize)]
pub struct Settlement {
    pub paid: u64,
    pub earned: u64,
    pub redeemed: u64,
    pub ledger_consistent: bool,
    pub minted: u64,
}

pub struct Swarm {
    pub ledger: Option<EmbeddedLedger>,
    pub members: Vec<Member>,
    pub meta: Metainfo,
    pub started: Instant,
}

/// A seller's default for demos: uniform price, a low reserve, a small non-market share so
/// the market's effect is plain to see.
pub fn demo_seller() -> SellerConfig {
    SellerConfig {
        reserve_price: Tokens(Amount(1_000)),
        non_market_share: 0.1,
        ..SellerConfig::default()
    }
}

pub fn buyer(strategy: BuyerStrategy, price_micro: u64) -> BuyerConfig {
    BuyerConfig {
        strategy,
        price: Tokens(Amount(price_micro)),
        ..BuyerConfig::default()
    }
}

/// How big a demo to run.
#[derive(Debug, Clone, Copy)]
pub struct Cast {
    pub seeders: u16,
    pub leechers: u16,
    /// Bytes of the shared payload.
    pub size: u64,
    /// Upload limits, bytes/s.
    pub seed_upload: u64,
    pub leech_upload: u64,
}

/// The demo's cast: seeders, then leechers of which one in three bids (high, then low).
pub fn demo_spec(args: &Cast) -> SwarmSpec {
    let mut peers = Vec::new();
    for i in 0..args.seeders {
        peers.push(PeerSpec {
            name: format!("seeder-{}", i + 1),
            seeder: true,
            buyer: buyer(BuyerStrategy::Off, 0),
            seller: demo_seller(),
            upload_limit: args.seed_upload,
            mint: Amount::ZERO,
        });
    }
    for i in 0..args.leechers {
        // One leecher in three bids, alternately high and low.
        let b = match i % 6 {
            0 => buyer(BuyerStrategy::Fixed, 200_000),
            3 => buyer(BuyerStrategy::Fixed, 20_000),
            _ => buyer(BuyerStrategy::Off, 0),
        };
        peers.push(PeerSpec {
            name: format!("leecher-{}", i + 1),
            seeder: false,
            buyer: b,
            seller: demo_seller(),
            upload_limit: args.leech_upload,
            mint: Amount(100_000_000),
        });
    }
    SwarmSpec {
        size: args.size,
        piece_length: None,
        peers,
    }
}

fn write_payload(path: &Path, size: u64) -> anyhow::Result<()> {
    let mut f = std::io::BufWriter::new(
        std::fs::File::create(path).with_context(|| format!("creating {}", path.display()))?,
    );
    let mut left = size;
    let mut block = vec![0u8; 1 << 20];
    while left > 0 {
        rand::fill(&mut block[..]);
        let n = left.min(block.len() as u64) as usize;
        f.write_all(&block[..n])
            .with_context(|| format!("writing {}", path.display()))?;
        left -= n as u64;
    }
    f.flush()
        .with_context(|| format!("writing {}", path.display()))?;
    Ok(())
}

impl Swarm {
    /// Writes the payload, starts the ledger, mints, and starts every member (leechers know
    /// every earlier member's address).
    pub async fn start(root: &Path, spec: &SwarmSpec) -> anyhow::Result<Swarm> {
        let seed_dir = root.join("seed");
        std::fs::create_dir_all(&seed_dir)
            .with_context(|| format!("creating {}", seed_dir.display()))?;
        let payload = seed_dir.join("demo-payload.bin");
        let (size, piece_length) = (spec.size, spec.piece_length);
        let p = payload.clone();
        let torrent_bytes = tokio::task::spawn_blocking(move || -> anyhow::Result<Vec<u8>> {
            write_payload(&p, size)?;
            let opts = CreateOptions {
                trackers: Vec::new(),
                piece_length,
                private: false,
                comment: Some("bidtorrent demo".into()),
                name: None,
                creation_date: None,
                created_by: format!("bidtorrent {}", env!("CARGO_PKG_VERSION")),
                ..CreateOptions::default()
            };
            Ok(create_torrent(&p, &opts, |_, _| {})?)
        })
        .await
        .context("preparing the payload")??;
        let meta = Metainfo::from_bytes(&torrent_bytes)?;
        let (ledger, _) = EmbeddedLedger::start(&root.join("ledger"))
            .await
            .context("starting the embedded ledger")?;
        let mut members = Vec::new();
        let mut known = Vec::new();
        for p in &spec.peers {
            let state = root.join("state").join(&p.name);
            let wallet = Arc::new(
                Wallet::open(&state.join("wallet"))
                    .with_context(|| format!("{}: opening its wallet", p.name))?,
            );
            if !p.mint.is_zero() {
                ledger.mint(wallet.public_key(), p.mint).await?;
            }
            let config = MarketConfig {
                buyer: p.buyer.clone(),
                seller: p.seller.clone(),
                ..MarketConfig::default()
            };
            let market = Market::new(wallet, ledger.client(), config)
                .await
                .with_context(|| format!("{}: joining the market", p.name))?;
            let session = assemble(SessionSpec {
                listen: Some("127.0.0.1:0".parse()?),
                data_dir: state.join("session"),
                upload_limit: p.upload_limit,
                market: Some(market.clone()),
                ..SessionSpec::default()
            })
            .await?
            .session;
            let dir = if p.seeder {
                seed_dir.clone()
            } else {
                root.join(&p.name)
            };
            let torrent = session
                .add(
                    meta.clone(),
                    TorrentOptions {
                        download_dir: dir,
                        peers: known.clone(),
                        ..TorrentOptions::default()
                    },
                )
                .await?;
            known.push(session.listen_addr());
            members.push(Member {
                spec: p.clone(),
                session,
                torrent,
                market,
                done_at: None,
            });
        }
        Ok(Swarm {
            ledger: Some(ledger),
            members,
            meta,
            started: Instant::now(),
        })
    }

    /// Records completion times; true once every leecher is done.
    pub fn poll(&mut self) -> bool {
        let elapsed = self.started.elapsed();
        for m in self.members.iter_mut() {
            if m.done_at.is_none() && m.torrent.stats().phase == Phase::Seeding {
                m.done_at = Some(if m.spec.seeder {
                    Duration::ZERO
                } else {
                    elapsed
                });
            }
        }
        self.members.iter().all(|m| m.done_at.is_some())
    }

    /// Runs until every leecher completes or `timeout`; false on timeout.
    pub async fn run(&mut self, timeout: Duration) -> bool {
        let deadline = Instant::now() + timeout;
        while Instant::now() < deadline {
            if self.poll() {
                return true;
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
        self.poll()
    }

    pub fn report(&self) -> Vec<PeerReport> {
        self.members
            .iter()
            .map(|m| {
                let s = m.torrent.stats();
                let r = m.market.report(&self.meta.info_hash);
                let strat = m.market.strategy(Some(&self.meta.info_hash));
                let bid = match strat.buyer.strategy {
                    BuyerStrategy::Fixed => Some(strat.buyer.price.0.micro()),
                    _ => None,
                };
                let price_paid_per_mib = r.as_ref().and_then(|r| {
                    (r.bought > 0).then(|| {
                        let v = u128::from(r.spent.micro()) * (1u128 << 20) / u128::from(r.bought);
                        u64::try_from(v).unwrap_or(u64::MAX)
                    })
                });
                PeerReport {
                    peer: m.spec.name.clone(),
                    role: if m.spec.seeder { "seeder" } else { "leecher" },
                    buyer_strategy: strat.buyer.strategy.to_string(),
                    seller_strategy: strat.seller.strategy.to_string(),
                    bid,
                    price_paid_per_mib,
                    bytes_down: s.downloaded,
                    bytes_up: s.uploaded,
                    paid: r.as_ref().map_or(0, |r| r.spent.micro()),
                    earned: r.as_ref().map_or(0, |r| r.earned.micro()),
                    completion_secs: m
                        .done_at
                        .map(|d| (d.as_secs_f64() * 1000.0).round() / 1000.0),
                }
            })
            .collect()
    }

    /// Settles: waits (up to `wait`) for every voucher to be acknowledged, hands any still
    /// unacknowledged voucher to its seller out of band (as a payment file would), redeems
    /// every seller's vouchers at the ledger, and audits it.
    pub async fn settle(&self, wait: Duration) -> anyhow::Result<Settlement> {
        let deadline = Instant::now() + wait;
        loop {
            let pending = self.members.iter().any(|m| {
                m.market
                    .report(&self.meta.info_hash)
                    .is_some_and(|r| r.channels.iter().any(|c| c.paid > c.acked))
            });
            if !pending || Instant::now() >= deadline {
                break;
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
        let ledger = self.ledger.as_ref().context("the swarm's ledger is gone")?;
        // Out-of-band delivery of the latest voucher of every channel (duplicates count 0).
        for buyer in &self.members {
            for ch in buyer.market.wallet().out_channels()? {
                let Some(v) = buyer
                    .market
                    .wallet()
                    .current_voucher(&ch.certificate.channel)?
                else {
                    continue;
                };
                if let Some(seller) = self
                    .members
                    .iter()
                    .find(|m| m.market.wallet().public_key() == ch.certificate.seller)
                {
                    let _ = seller.market.wallet().accept_voucher(&v, &ch.certificate);
                }
            }
        }
        let mut paid = 0u64;
        let mut earned = 0u64;
        let mut redeemed = 0u64;
        for m in &self.members {
            let w = m.market.wallet();
            paid += w
                .out_channels()?
                .iter()
                .map(|c| c.spent.micro())
                .sum::<u64>();
            earned += w
                .in_channels()?
                .iter()
                .map(|c| c.earned().micro())
                .sum::<u64>();
            w.redeem_all(&ledger.client()).await?;
            redeemed += w
                .in_channels()?
                .iter()
                .map(|c| c.redeemed.micro())
                .sum::<u64>();
        }
        let audit = ledger.client().audit().await?;
        Ok(Settlement {
            paid,
            earned,
            redeemed,
            ledger_consistent: audit.consistent,
            minted: audit.minted.micro(),
        })
    }

    pub async fn shutdown(mut self) {
        for m in &self.members {
            m.session.shutdown().await;
        }
        if let Some(l) = self.ledger.take() {
            let _ = l.shutdown().await;
        }
    }
}

/// Mean completion time of bidding and non-bidding leechers, and their ratio.
pub fn bidder_ratio(rows: &[PeerReport]) -> (Option<f64>, Option<f64>, Option<f64>) {
    let mean = |bidders: bool| {
        let v: Vec<f64> = rows
            .iter()
            .filter(|r| r.role == "leecher" && (r.buyer_strategy != "off") == bidders)
            .filter_map(|r| r.completion_secs)
            .collect();
        (!v.is_empty()).then(|| v.iter().sum::<f64>() / v.len() as f64)
    };
    let (b, n) = (mean(true), mean(false));
    let ratio = match (b, n) {
        (Some(b), Some(n)) if b > 0.0 => Some(n / b),
        _ => None,
    };
    (b, n, ratio)
}
