//! The dashboard on the application core, through its one door ([`Control`]): a daemon's
//! controller over the control socket (attached), or a controller in this process
//! (standalone). Both answer the same requests (RPC.md), so the dashboard does the same things
//! either way: magnets, delete-data, the DHT, the market, the config.
//!
//! Everything comes from the controller: the torrent table from `list` (with its `market`
//! columns), the detail tabs from `peers`, `pieces`, `files`, `trackers`, `market` and
//! `strategy`, the Wallet view from `wallet`. Strategies picked here are set in the
//! controller's market; only when its market is off are they noted locally, and the Market
//! tab says why.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use serde::de::DeserializeOwned;
use tokio::sync::mpsc;

use super::market_view::{self, TokenRates};
use super::source::{
    Command, DataSource, Detail, FileRow, MarketView, Mode, Notice, PeerRow, PieceMap, Priority,
    Reply, Side, Snapshot, StrategyView, TorrentMarket, TorrentRow, Totals, TrackerRow,
    WalletStatus, WalletView,
};
use crate::rpc::control::{Control, call_as};
use crate::rpc::proto::{self, AddArgs, LimitArgs, StrategyArgs, Targets};

/// `wallet` may ask the ledger for the balance (up to 3 s): not every tick.
const WALLET_EVERY: Duration = Duration::from_secs(5);

pub struct ControlSource<C: Control + 'static> {
    control: Arc<C>,
    mode: Mode,
    /// Results of adds that run in the background (a magnet's metadata takes a while).
    notices_tx: mpsc::UnboundedSender<Notice>,
    notices_rx: mpsc::UnboundedReceiver<Notice>,
    /// Strategies picked while the daemon's market is off: shown until it runs.
    strategies: HashMap<String, (Option<StrategyView>, Option<StrategyView>)>,
    wallet: WalletView,
    wallet_read: Option<Instant>,
    /// The daemon's `status.market`: "on", "off" or "unavailable: …".
    market: String,
    rates: TokenRates,
}

impl<C: Control + 'static> ControlSource<C> {
    /// The dashboard's source on `control`; `mode` is what the status bar says.
    pub fn new(control: C, mode: Mode) -> ControlSource<C> {
        let (notices_tx, notices_rx) = mpsc::unbounded_channel();
        ControlSource {
            control: Arc::new(control),
            mode,
            notices_tx,
            notices_rx,
            strategies: HashMap::new(),
            wallet: WalletView::default(),
            wallet_read: None,
            market: String::new(),
            rates: TokenRates::default(),
        }
    }

    /// The controller behind the door (tests and the binary shut an in-process one down).
    pub fn control(&self) -> &C {
        &self.control
    }

    fn market_on(&self) -> bool {
        self.market == "on"
    }

    /// The focused torrent's Market tab and per-peer market columns.
    async fn market_detail(
        &mut self,
        id: &str,
    ) -> (MarketView, HashMap<String, super::source::PeerMarket>) {
        if !self.market_on() {
            let (buyer, seller) = self.strategies.get(id).cloned().unwrap_or_default();
            let note = if self.market == "off" || self.market.is_empty() {
                "market off ([market] enabled = false in the config)".to_string()
            } else {
                format!("market {}", self.market)
            };
            let view = MarketView {
                note: Some(note),
                buyer: buyer.unwrap_or(StrategyView {
                    name: "off".into(),
                    params: Vec::new(),
                }),
                seller: seller.unwrap_or(StrategyView {
                    name: "tit-for-tat".into(),
                    params: Vec::new(),
                }),
                ..MarketView::default()
            };
            return (view, HashMap::new());
        }
        let strat: anyhow::Result<proto::StrategyInfo> = self
            .call(proto::Command::Strategy(StrategyArgs {
                torrent: Some(id.to_string()),
                ..StrategyArgs::default()
            }))
            .await;
        // "no market state yet" while the torrent checks: strategies only, no book.
        let report: Option<crate::market::MarketReport> = self
            .call(proto::Command::Market {
                torrent: id.to_string(),
            })
            .await
            .ok();
        let mut view = match &strat {
            Ok(s) => market_view::market_view(&s.buyer, &s.seller, report.as_ref()),
            Err(e) => MarketView {
                note: Some(format!("strategy: {e:#}")),
                ..MarketView::default()
            },
        };
        view.active = true;
        let peers = report
            .as_ref()
            .map(market_view::peer_markets)
            .unwrap_or_default();
        (view, peers)
    }

    async fn read_wallet(&mut self) {
        if self.wallet_read.is_some_and(|t| t.elapsed() < WALLET_EVERY) {
            return;
        }
        self.wallet_read = Some(Instant::now());
        // The controller holds the wallet while its market is enabled; otherwise it reads it
        // from disk for us, and says so when there is none or another process holds it.
        let w: anyhow::Result<proto::WalletInfo> = self
            .call(proto::Command::Wallet {
                history: Some(200),
                payments: false,
            })
            .await;
        self.wallet = match w {
            Ok(w) => market_view::wallet_view(
                w.public_key,
                Some(w.ledger),
                w.balance,
                &w.outgoing,
                &w.incoming,
                w.history,
            ),
            Err(e) => {
                let msg = format!("{e:#}");
                WalletView {
                    status: if msg.starts_with(proto::NO_WALLET) {
                        WalletStatus::Missing
                    } else if msg.starts_with(proto::WALLET_IN_USE) {
                        WalletStatus::InUse
                    } else {
                        WalletStatus::Error(msg)
                    },
                    ..WalletView::default()
                }
            }
        };
    }

    async fn call<T: DeserializeOwned + Send + 'static>(
        &mut self,
        cmd: proto::Command,
    ) -> anyhow::Result<T> {
        Ok(call_as(&*self.control, cmd).await?)
    }

    fn targets(ids: Vec<String>) -> Targets {
        Targets {
            torrents: ids,
            all: false,
        }
    }

    fn batch_reply(verb: &str, r: proto::BatchResult) -> anyhow::Result<Reply> {
        let failed: Vec<String> = r
            .results
            .iter()
            .filter(|i| !i.ok)
            .map(|i| {
                format!(
                    "{}: {}",
                    i.name.as_deref().unwrap_or(&i.item),
                    i.message.as_deref().unwrap_or("failed")
                )
            })
            .collect();
        let done: Vec<&str> = r
            .results
            .iter()
            .filter(|i| i.ok)
            .map(|i| i.name.as_deref().unwrap_or(&i.item))
            .collect();
        let ok = done.len();
        // A few are named, so the status bar says which torrent a key acted on.
        let shown = if (1..=3).contains(&ok) {
            done.join(", ")
        } else {
            ok.to_string()
        };
        if failed.is_empty() {
            Ok(format!("{verb} {shown}"))
        } else if ok == 0 {
            anyhow::bail!("{}", failed.join("; "))
        } else {
            anyhow::bail!("{verb} {shown}; {}", failed.join("; "))
        }
    }
}

/// One torrent row from the controller's summary (the demo shows its members with it too).
pub fn row(t: &proto::TorrentSummary) -> TorrentRow {
    TorrentRow {
        id: t.info_hash.clone(),
        num: Some(t.id),
        name: t.name.clone(),
        size: t.total_bytes,
        progress: t.progress,
        state: t.phase.clone(),
        down_rate: t.down_rate,
        up_rate: t.up_rate,
        eta: (t.left_bytes > 0 && t.down_rate >= 1.0)
            .then(|| (t.left_bytes as f64 / t.down_rate) as u64),
        peers: t.peers,
        uploaded: t.uploaded,
        downloaded: t.downloaded,
        label: (!t.labels.is_empty()).then(|| t.labels.join(",")),
        error: t.error.clone(),
        market: t.market.as_ref().map(|m| TorrentMarket {
            role: m.role.clone(),
            price: (m.price > 0).then_some(m.price),
            paid: m.paid,
            earned: m.earned,
        }),
    }
}

/// One peer row; its flags are the controller's, so they read as in `bidtorrent peers`.
pub fn peer(p: &proto::PeerInfo) -> PeerRow {
    PeerRow {
        addr: p.addr.clone(),
        client: p.client.clone(),
        flags: p.flags.clone(),
        down_rate: p.down_rate,
        up_rate: p.up_rate,
        progress: p.progress,
        downloaded: p.downloaded,
        uploaded: p.uploaded,
        market: None,
    }
}

impl<C: Control + 'static> ControlSource<C> {
    /// Sets the strategy in the controller's market, torrent by torrent (or globally): the daemon
    /// checks it all-or-nothing and persists it with the session.
    async fn set_strategy(&mut self, ids: Vec<String>, v: StrategyView) -> anyhow::Result<Reply> {
        let params: std::collections::BTreeMap<String, serde_json::Value> = v
            .params
            .iter()
            .map(|(k, v)| (k.clone(), serde_json::Value::String(v.clone())))
            .collect();
        let scopes: Vec<Option<String>> = if ids.is_empty() {
            vec![None]
        } else {
            ids.into_iter().map(Some).collect()
        };
        let n = scopes.len();
        let mut shown = String::new();
        for torrent in scopes {
            let r: proto::StrategyInfo = self
                .call(proto::Command::Strategy(StrategyArgs {
                    torrent,
                    name: Some(v.name.clone()),
                    params: params.clone(),
                }))
                .await?;
            let view = if crate::market::config::BuyerStrategy::parse(&v.name).is_some() {
                market_view::buyer_view(&r.buyer)
            } else {
                market_view::seller_view(&r.seller)
            };
            shown = super::app::format_strategy(&view);
        }
        Ok(format!(
            "strategy {shown} set for {}",
            crate::units::plural(n, "torrent")
        ))
    }

    async fn detail(&mut self, t: &proto::TorrentSummary) -> anyhow::Result<Detail> {
        let id = t.info_hash.clone();
        let torrent = || id.clone();
        let peers: proto::PeerList = self
            .call(proto::Command::Peers { torrent: torrent() })
            .await?;
        // Requests added after protocol v1 shipped: an older daemon answers "bad request",
        // and the tab then says it has nothing rather than failing the whole frame.
        let pieces: Option<proto::PieceState> = self
            .call(proto::Command::Pieces { torrent: torrent() })
            .await
            .ok();
        let files: Option<proto::FileList> = self
            .call(proto::Command::Files { torrent: torrent() })
            .await
            .ok();
        let trackers: Option<proto::TrackerList> = self
            .call(proto::Command::Trackers { torrent: torrent() })
            .await
            .ok();
        let (market, by_addr) = self.market_detail(&id).await;
        Ok(detail(
            id,
            &peers.peers,
            pieces,
            files,
            trackers,
            market,
            &by_addr,
        ))
    }
}

/// The detail tabs from the controller's answers.
pub fn detail(
    id: String,
    peers: &[proto::PeerInfo],
    pieces: Option<proto::PieceState>,
    files: Option<proto::FileList>,
    trackers: Option<proto::TrackerList>,
    market: MarketView,
    by_addr: &HashMap<String, super::source::PeerMarket>,
) -> Detail {
    let pieces = pieces
        .and_then(|p| {
            let have = proto::bitfield_from_hex(&p.have, p.num_pieces)?;
            Some(PieceMap {
                have,
                downloading: p.downloading,
                availability: p.availability,
            })
        })
        .unwrap_or_default();
    Detail {
        id,
        peers: peers
            .iter()
            .map(|p| {
                let mut r = peer(p);
                r.market = by_addr.get(&p.addr).cloned();
                r
            })
            .collect(),
        pieces,
        files: files
            .map(|f| {
                f.files
                    .into_iter()
                    .map(|f| FileRow {
                        path: f.path,
                        size: f.length,
                        progress: f.progress,
                        priority: Priority::parse(&f.priority).unwrap_or_default(),
                    })
                    .collect()
            })
            .unwrap_or_default(),
        trackers: trackers
            .map(|t| {
                t.trackers
                    .iter()
                    .map(|s| TrackerRow {
                        tier: s.tier,
                        url: s.url.clone(),
                        status: s.describe(),
                    })
                    .collect()
            })
            .unwrap_or_default(),
        market,
    }
}

impl<C: Control + 'static> DataSource for ControlSource<C> {
    async fn snapshot(&mut self, focus: Option<&str>) -> anyhow::Result<Snapshot> {
        let list: Vec<proto::TorrentSummary> = self.call(proto::Command::List).await?;
        let status: proto::Status = self.call(proto::Command::Status).await?;
        self.market = status.market.clone();
        let detail = match focus.and_then(|f| list.iter().find(|t| t.info_hash == f)) {
            Some(t) => Some(self.detail(t).await?),
            None => None,
        };
        self.read_wallet().await;
        let torrents: Vec<TorrentRow> = list.iter().map(row).collect();
        let (spend_rate, earn_rate) = self.rates.update_from_rows(&torrents);
        Ok(Snapshot {
            torrents,
            detail,
            wallet: self.wallet.clone(),
            totals: Totals {
                down_rate: status.down_rate,
                up_rate: status.up_rate,
                spend_rate,
                earn_rate,
                listen_port: Some(status.listen_port),
            },
            notices: std::iter::from_fn(|| self.notices_rx.try_recv().ok()).collect(),
        })
    }

    async fn command(&mut self, cmd: Command) -> anyhow::Result<Reply> {
        match cmd {
            Command::Add {
                source,
                dir,
                paused,
                peers,
            } => {
                // The daemon runs elsewhere in the filesystem's eyes: send absolute paths.
                let abs = |p: PathBuf| std::path::absolute(&p).unwrap_or(p);
                let source = if source.starts_with("magnet:") || crate::rpc::fetch::is_url(&source)
                {
                    source
                } else {
                    abs(PathBuf::from(source)).display().to_string()
                };
                let args = AddArgs {
                    sources: vec![source],
                    dir: dir.map(|d| abs(d).display().to_string()),
                    paused,
                    sequential: false,
                    peers,
                    ..AddArgs::default()
                };
                if !args.sources.iter().any(|s| s.starts_with("magnet:")) {
                    let r: proto::BatchResult = self.call(proto::Command::Add(args)).await?;
                    return Self::batch_reply("added", r);
                }
                // A magnet's metadata comes from the swarm (up to a minute and a half): fetch
                // it in the background and report in the status bar, so the keys stay live.
                let control = self.control.clone();
                let tx = self.notices_tx.clone();
                tokio::spawn(async move {
                    let r = call_as::<proto::BatchResult, C>(&control, proto::Command::Add(args))
                        .await
                        .map_err(anyhow::Error::from)
                        .and_then(|r| Self::batch_reply("added", r));
                    let _ = tx.send(match r {
                        Ok(text) => Notice { error: false, text },
                        Err(e) => Notice {
                            error: true,
                            text: format!("{e:#}"),
                        },
                    });
                });
                Ok("fetching the magnet's metadata…".to_string())
            }
            Command::Pause(ids) => {
                let r = self.call(proto::Command::Pause(Self::targets(ids))).await?;
                Self::batch_reply("paused", r)
            }
            Command::Resume(ids) => {
                let r = self
                    .call(proto::Command::Resume(Self::targets(ids)))
                    .await?;
                Self::batch_reply("resumed", r)
            }
            Command::Remove { ids, delete_data } => {
                let r = self
                    .call(proto::Command::Remove {
                        targets: Self::targets(ids),
                        delete_data,
                    })
                    .await?;
                Self::batch_reply("removed", r)
            }
            Command::Limit { down, up } => {
                let l: proto::Limits = self
                    .call(proto::Command::Limit(LimitArgs {
                        torrent: None,
                        down: Some(down),
                        up: Some(up),
                    }))
                    .await?;
                Ok(format!(
                    "limits: down {} up {} (0 = unlimited)",
                    l.down, l.up
                ))
            }
            Command::Strategy {
                ids,
                side,
                name,
                params,
            } => {
                let v = StrategyView { name, params };
                if self.market_on() {
                    return self.set_strategy(ids, v).await;
                }
                for id in &ids {
                    let e = self.strategies.entry(id.clone()).or_default();
                    match side {
                        Side::Buyer => e.0 = Some(v.clone()),
                        Side::Seller => e.1 = Some(v.clone()),
                    }
                }
                Ok(format!(
                    "strategy {} noted (market {}; it applies when the market runs)",
                    super::app::format_strategy(&v),
                    if self.market.is_empty() {
                        "off"
                    } else {
                        &self.market
                    }
                ))
            }
            Command::FilePriority {
                id,
                files,
                priority,
            } => {
                let r: proto::FileList = self
                    .call(proto::Command::Prio {
                        torrent: id,
                        files: files.clone(),
                        priority: priority.as_str().to_string(),
                    })
                    .await?;
                Ok(format!(
                    "{} of {} files set to {}",
                    if files.is_empty() {
                        r.files.len()
                    } else {
                        files.len()
                    },
                    r.files.len(),
                    priority.as_str()
                ))
            }
        }
    }

    fn mode(&self) -> Mode {
        self.mode.clone()
    }
}
