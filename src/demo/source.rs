//! The dashboard on `bidtorrent demo`'s swarm: one torrent row per member ("leecher-2 ·
//! fixed 0.200000"), and the detail tabs show that member's view of the swarm — its peers with
//! their market roles, its market report, its piece map, its wallet. Strategies picked from
//! the keyboard change that member's market, live.

use std::time::{Duration, Instant};

use super::{Member, Swarm};
use crate::market::config::BuyerStrategy;
use crate::rpc::proto::{FileList, TrackerList};
use crate::rpc::view;
use crate::tui::control_source::{detail, row};
use crate::tui::market_view::{self, TokenRates};
use crate::tui::source::{
    Command, DataSource, Detail, Mode, Notice, Reply, Snapshot, TorrentRow, Totals, WalletStatus,
    WalletView,
};
use crate::wallet::Wallet;

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
        let ih = self.swarm.meta.info_hash.to_hex();
        let summary = view::summary(0, &ih, &m.spec.name, Some(&m.torrent), Some(&m.market));
        let mut r = row(&summary);
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
            Some(m) => read_open_wallet(m.market.wallet(), Some("embedded".into())),
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
            Some(member_detail(m, &self.swarm.meta.info_hash))
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
                    shown.push(format!("{id}: {}", crate::tui::app::format_strategy(&v)));
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

/// A member's detail tabs, read through the same mapping the controller answers with.
fn member_detail(m: &Member, ih: &crate::engine::types::InfoHash) -> Detail {
    let t = &m.torrent;
    let paths = t.file_paths();
    // The demo's payload is one file: show it relative to the member's download dir.
    let base = paths
        .first()
        .and_then(|p| p.parent())
        .map(|p| p.to_path_buf())
        .unwrap_or_default();
    let eff = m.market.strategy(Some(ih));
    let report = m.market.report(ih);
    let market = market_view::market_view(&eff.buyer, &eff.seller, report.as_ref());
    let by_addr = report
        .as_ref()
        .map(market_view::peer_markets)
        .unwrap_or_default();
    detail(
        m.spec.name.clone(),
        &view::peers(t),
        Some(view::pieces(0, t)),
        Some(FileList {
            id: 0,
            files: view::files(t, &base, &[]),
        }),
        Some(TrackerList {
            id: 0,
            trackers: view::trackers(t),
        }),
        market,
        &by_addr,
    )
}

/// A member's wallet, which its market holds open.
fn read_open_wallet(w: &Wallet, ledger: Option<String>) -> WalletView {
    let r = (|| -> Result<WalletView, crate::wallet::WalletError> {
        Ok(market_view::wallet_view(
            w.public_key().to_string(),
            ledger.clone(),
            w.balance()?.0,
            &w.out_channels()?,
            &w.in_channels()?,
            w.history()?,
        ))
    })();
    r.unwrap_or_else(|e| WalletView {
        status: WalletStatus::Error(e.to_string()),
        public_key: w.public_key().to_string(),
        ledger,
        ..WalletView::default()
    })
}
