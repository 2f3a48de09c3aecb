//! The dashboard on `bidtorrent demo`'s swarm: one torrent row per member ("leecher-2 ·
//! fixed 0.200000"), and the detail tabs show that member's view of the swarm — its peers with
//! their market roles, its market report, its piece map, its wallet. Strategies picked from
//! the keyboard change that member's market, live.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use super::market_view::{self, TokenRates};
use super::source::{
    Command, DataSource, Mode, Notice, Reply, Snapshot, TorrentRow, Totals, WalletView,
};
use crate::demo::{Member, Swarm};
use crate::market::config::BuyerStrategy;

/// Sled reads are cheap but not free; a wallet view a second old is fresh enough.
const WALLET_EVERY: Duration = Duration::from_secs(1);

pub struct DemoSource {
    swarm: Swarm,
    rates: TokenRates,
    wallet: Option<(String, WalletView, Instant)>,
    finished: bool,
    notices: Vec<Notice>,
}

impl DemoSource {
    pub fn new(swarm: Swarm) -> DemoSource {
        DemoSource {
            swarm,
            rates: TokenRates::default(),
            wallet: None,
            finished: false,
            notices: Vec::new(),
        }
    }

    /// Hands the swarm back (for settlement and the final report).
    pub fn into_swarm(self) -> Swarm {
        self.swarm
    }

    fn member(&self, name: &str) -> Option<&Member> {
        self.swarm.members.iter().find(|m| m.spec.name == name)
    }

    fn label(&self, m: &Member) -> String {
        let eff = m.market.strategy(Some(&self.swarm.meta.info_hash));
        if m.spec.seeder {
            return format!("{} · {}", m.spec.name, eff.seller.strategy);
        }
        match eff.buyer.strategy {
            BuyerStrategy::Fixed => format!("{} · fixed {}", m.spec.name, eff.buyer.price.0),
            s => format!("{} · {s}", m.spec.name),
        }
    }

    fn row(&self, m: &Member) -> TorrentRow {
        let mut r = super::standalone::torrent_row(&m.torrent, &HashMap::new(), Some(&m.market));
        r.id = m.spec.name.clone();
        r.name = self.label(m);
        r.label = Some(if m.spec.seeder { "seeder" } else { "leecher" }.into());
        r
    }

    fn wallet_of(&mut self, name: &str) -> WalletView {
        if let Some((n, w, t)) = &self.wallet
            && n == name
            && t.elapsed() < WALLET_EVERY
        {
            return w.clone();
        }
        let w = match self.member(name) {
            Some(m) => market_view::read_open_wallet(m.market.wallet(), Some("embedded".into())),
            None => WalletView::default(),
        };
        self.wallet = Some((name.to_string(), w.clone(), Instant::now()));
        w
    }
}

impl DataSource for DemoSource {
    async fn snapshot(&mut self, focus: Option<&str>) -> anyhow::Result<Snapshot> {
        if self.swarm.poll() && !self.finished {
            self.finished = true;
            self.notices.push(Notice {
                error: false,
                text: format!(
                    "demo swarm complete in {:.1} s: every leecher has the payload; q quits and \
                     prints the report",
                    self.swarm.started.elapsed().as_secs_f64()
                ),
            });
        }
        let rows: Vec<TorrentRow> = self.swarm.members.iter().map(|m| self.row(m)).collect();
        // Each payment is counted by both sides; the graphs show the buyers' side.
        let (spend_rate, earn_rate) = self.rates.update_from_rows(&rows);
        let detail = focus.and_then(|name| {
            let m = self.member(name)?;
            let mut d = super::standalone::detail(&m.torrent, None, Some(&m.market), None);
            d.id = m.spec.name.clone();
            Some(d)
        });
        // The Wallet view follows the member in focus (the first leecher before any).
        let wallet_member = focus
            .map(str::to_string)
            .or_else(|| {
                self.swarm
                    .members
                    .iter()
                    .find(|m| !m.spec.seeder)
                    .map(|m| m.spec.name.clone())
            })
            .unwrap_or_default();
        let wallet = self.wallet_of(&wallet_member);
        Ok(Snapshot {
            totals: Totals {
                down_rate: rows.iter().map(|r| r.down_rate).sum(),
                up_rate: rows.iter().map(|r| r.up_rate).sum(),
                spend_rate,
                earn_rate,
                listen_port: None,
            },
            torrents: rows,
            detail,
            wallet,
            notices: std::mem::take(&mut self.notices),
        })
    }

    async fn command(&mut self, cmd: Command) -> anyhow::Result<Reply> {
        let ih = self.swarm.meta.info_hash;
        match cmd {
            Command::Strategy {
                ids, name, params, ..
            } => {
                if ids.is_empty() {
                    anyhow::bail!("select a demo member first");
                }
                let mut shown = Vec::new();
                for id in &ids {
                    let m = self
                        .member(id)
                        .ok_or_else(|| anyhow::anyhow!("no demo member {id}"))?;
                    let eff = m.market.set_strategy(Some(&ih), Some(&name), &params)?;
                    let v = if BuyerStrategy::parse(&name).is_some() {
                        market_view::buyer_view(&eff.buyer)
                    } else {
                        market_view::seller_view(&eff.seller)
                    };
                    shown.push(format!("{id}: {}", super::app::format_strategy(&v)));
                }
                Ok(shown.join("; "))
            }
            Command::Pause(ids) => {
                for m in ids.iter().filter_map(|id| self.member(id)) {
                    let t = m.torrent.clone();
                    tokio::spawn(async move { t.pause().await });
                }
                tokio::task::yield_now().await;
                Ok(format!("paused {}", ids.len()))
            }
            Command::Resume(ids) => {
                let n = ids
                    .iter()
                    .filter_map(|id| self.member(id))
                    .filter(|m| m.torrent.resume())
                    .count();
                Ok(format!("resumed {n}"))
            }
            Command::Add { .. } => anyhow::bail!("the demo swarm shares one payload; add nothing"),
            Command::Remove { .. } => {
                anyhow::bail!("demo members cannot be removed; q ends the demo")
            }
            Command::FilePriority { .. } => {
                anyhow::bail!("the demo payload is a single file")
            }
            Command::Limit { .. } => anyhow::bail!(
                "the demo's rates are set by its flags (--seed-upload, --leech-upload)"
            ),
        }
    }

    fn mode(&self) -> Mode {
        Mode::Demo
    }
}
