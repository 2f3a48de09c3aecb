//! The dashboard attached to a daemon over its control socket (RPC.md). The client is
//! blocking, so each call runs on tokio's blocking pool with the connection moved in and back.
//!
//! Everything comes from the daemon: the torrent table from `list` (with its `market`
//! columns), the detail tabs from `peers`, `pieces`, `files`, `trackers`, `market` and
//! `strategy`, the Wallet view from `wallet`. Strategies picked here are set in the daemon's
//! market; only when its market is off are they noted locally, and the Market tab says why.

use std::collections::HashMap;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use serde::de::DeserializeOwned;

use super::market_view::{self, TokenRates};
use super::source::{
    Command, DataSource, Detail, FileRow, MarketView, Mode, PeerRow, PieceMap, Priority, Reply,
    Side, Snapshot, StrategyView, TorrentMarket, TorrentRow, Totals, TrackerRow, WalletView,
};
use crate::rpc::client::{Client, ClientError};
use crate::rpc::proto::{self, AddArgs, LimitArgs, StrategyArgs, Targets};

/// The daemon asks the ledger for the balance on each `wallet` (up to 3 s): not every tick.
const WALLET_EVERY: Duration = Duration::from_secs(5);

pub struct AttachedSource {
    socket: PathBuf,
    client: Option<Client>,
    /// Strategies picked while the daemon's market is off: shown until it runs.
    strategies: HashMap<String, (Option<StrategyView>, Option<StrategyView>)>,
    wallet: WalletView,
    wallet_read: Option<Instant>,
    /// The daemon's `status.market`: "on", "off" or "unavailable: …".
    market: String,
    rates: TokenRates,
}

impl AttachedSource {
    /// Connects (and checks the protocol version) once, so a stale socket is found at start.
    pub fn connect(socket: PathBuf) -> Result<AttachedSource, ClientError> {
        let client = Client::connect(&socket)?;
        Ok(AttachedSource {
            socket,
            client: Some(client),
            strategies: HashMap::new(),
            wallet: WalletView::default(),
            wallet_read: None,
            market: String::new(),
            rates: TokenRates::default(),
        })
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
                "market off (the daemon's [market] enabled = false)".to_string()
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

    async fn read_wallet(&mut self, data_dir: &str) {
        if self.wallet_read.is_some_and(|t| t.elapsed() < WALLET_EVERY) {
            return;
        }
        self.wallet_read = Some(Instant::now());
        // The daemon holds the wallet while its market is enabled: ask it. With the market
        // off nobody holds it, so it is read from disk as the standalone dashboard does.
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
            Err(_) => {
                let dir = PathBuf::from(data_dir).join("wallet");
                match tokio::task::spawn_blocking(move || super::standalone::read_wallet(&dir))
                    .await
                {
                    Ok(w) => w,
                    Err(_) => return,
                }
            }
        };
    }

    async fn call<T: DeserializeOwned + Send + 'static>(
        &mut self,
        cmd: proto::Command,
    ) -> anyhow::Result<T> {
        let client = match self.client.take() {
            Some(c) => c,
            None => {
                // The daemon restarted or the connection dropped: reconnect on demand.
                let s = self.socket.clone();
                tokio::task::spawn_blocking(move || Client::connect(&s)).await??
            }
        };
        let (client, r) = tokio::task::spawn_blocking(move || {
            let mut client = client;
            let r = client.call::<T>(cmd);
            (client, r)
        })
        .await?;
        match r {
            Ok(v) => {
                self.client = Some(client);
                Ok(v)
            }
            // The daemon said no: the connection is fine.
            Err(ClientError::Remote(m)) => {
                self.client = Some(client);
                Err(anyhow::anyhow!(m))
            }
            Err(e) => Err(e.into()),
        }
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
        let ok = r.results.len() - failed.len();
        if failed.is_empty() {
            Ok(format!("{verb} {ok}"))
        } else if ok == 0 {
            anyhow::bail!("{}", failed.join("; "))
        } else {
            anyhow::bail!("{verb} {ok}; {}", failed.join("; "))
        }
    }
}

fn row(t: &proto::TorrentSummary) -> TorrentRow {
    TorrentRow {
        id: t.info_hash.clone(),
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
        label: None,
        error: t.error.clone(),
        market: t.market.as_ref().map(|m| TorrentMarket {
            role: m.role.clone(),
            price: (m.price > 0).then_some(m.price),
            paid: m.paid,
            earned: m.earned,
        }),
    }
}

fn peer(p: &proto::PeerInfo) -> PeerRow {
    let mut flags = String::new();
    if p.am_interested {
        flags.push(if p.peer_choking { 'd' } else { 'D' });
    }
    if p.peer_interested {
        flags.push(if p.am_choking { 'u' } else { 'U' });
    }
    flags.push(if p.outgoing { 'O' } else { 'I' });
    PeerRow {
        addr: p.addr.clone(),
        client: p.client.clone(),
        flags,
        down_rate: p.down_rate,
        up_rate: p.up_rate,
        progress: p.progress,
        downloaded: p.downloaded,
        uploaded: p.uploaded,
        market: None,
    }
}

impl AttachedSource {
    /// Sets the strategy in the daemon's market, torrent by torrent (or globally): the daemon
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
            "strategy {shown} set in the daemon for {n} torrent{}",
            if n == 1 { "" } else { "s" }
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
        Ok(Detail {
            id: id.clone(),
            peers: peers
                .peers
                .iter()
                .map(|p| {
                    let mut r = peer(p);
                    r.market = by_addr.get(&p.addr).cloned();
                    if r.market.is_some() {
                        r.flags.push('X');
                    }
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
        })
    }
}

impl DataSource for AttachedSource {
    async fn snapshot(&mut self, focus: Option<&str>) -> anyhow::Result<Snapshot> {
        let list: Vec<proto::TorrentSummary> = self.call(proto::Command::List).await?;
        let status: proto::Status = self.call(proto::Command::Status).await?;
        self.market = status.market.clone();
        let detail = match focus.and_then(|f| list.iter().find(|t| t.info_hash == f)) {
            Some(t) => Some(self.detail(t).await?),
            None => None,
        };
        self.read_wallet(&status.data_dir).await;
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
            notices: Vec::new(),
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
                let source = if source.starts_with("magnet:") {
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
                    strategy: None,
                    params: Default::default(),
                };
                let r: proto::BatchResult = self.call(proto::Command::Add(args)).await?;
                Self::batch_reply("added", r)
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
                    "strategy {} noted (the daemon's market is {}; it applies when it runs)",
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
        Mode::Attached(self.socket.clone())
    }
}
