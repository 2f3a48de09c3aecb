//! The dashboard attached to a daemon over its control socket (RPC.md). The client is
//! blocking, so each call runs on tokio's blocking pool with the connection moved in and back.
//!
//! What protocol v1 does not carry is said on screen, never faked: the piece map (the daemon
//! sends piece counts, not the bitfield), per-file progress and priorities, tracker status.

use std::collections::HashMap;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use serde::de::DeserializeOwned;

use super::source::{
    Command, DataSource, Detail, FileRow, MarketView, Mode, PeerRow, PieceMap, Reply, Side,
    Snapshot, StrategyView, TorrentRow, Totals, TrackerRow, WalletView,
};
use crate::rpc::client::{Client, ClientError};
use crate::rpc::proto::{self, AddArgs, LimitArgs, Targets};

const WALLET_EVERY: Duration = Duration::from_secs(15);

pub struct AttachedSource {
    socket: PathBuf,
    client: Option<Client>,
    /// Strategies picked from the keyboard: kept here until the market's RPC lands.
    strategies: HashMap<String, (Option<StrategyView>, Option<StrategyView>)>,
    wallet: WalletView,
    wallet_read: Option<Instant>,
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
        })
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
        market: None,
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

impl DataSource for AttachedSource {
    async fn snapshot(&mut self, focus: Option<&str>) -> anyhow::Result<Snapshot> {
        let list: Vec<proto::TorrentSummary> = self.call(proto::Command::List).await?;
        let status: proto::Status = self.call(proto::Command::Status).await?;
        let detail = match focus.and_then(|f| list.iter().find(|t| t.info_hash == f)) {
            Some(t) => {
                let id = t.info_hash.clone();
                let info: proto::TorrentInfo = self
                    .call(proto::Command::Info {
                        torrent: id.clone(),
                    })
                    .await?;
                let peers: proto::PeerList = self
                    .call(proto::Command::Peers {
                        torrent: id.clone(),
                    })
                    .await?;
                let (buyer, seller) = self.strategies.get(&id).cloned().unwrap_or_default();
                Some(Detail {
                    id: id.clone(),
                    peers: peers.peers.iter().map(peer).collect(),
                    // Protocol v1 has no bitfield; the pieces tab says so.
                    pieces: PieceMap::default(),
                    files: info
                        .files
                        .iter()
                        .map(|f| FileRow {
                            path: f.path.clone(),
                            size: f.length,
                            progress: info.summary.progress,
                            priority: Default::default(),
                        })
                        .collect(),
                    trackers: info
                        .trackers
                        .iter()
                        .enumerate()
                        .flat_map(|(tier, urls)| {
                            urls.iter().map(move |u| TrackerRow {
                                tier,
                                url: u.clone(),
                                status: "—".into(),
                            })
                        })
                        .collect(),
                    market: MarketView {
                        buyer: buyer.unwrap_or(StrategyView {
                            name: "off".into(),
                            params: Vec::new(),
                        }),
                        seller: seller.unwrap_or(StrategyView {
                            name: "tit-for-tat".into(),
                            params: Vec::new(),
                        }),
                        ..MarketView::default()
                    },
                })
            }
            None => None,
        };
        if self.wallet_read.is_none_or(|t| t.elapsed() >= WALLET_EVERY) {
            self.wallet_read = Some(Instant::now());
            let dir = PathBuf::from(&status.data_dir).join("wallet");
            if let Ok(w) =
                tokio::task::spawn_blocking(move || super::standalone::read_wallet(&dir)).await
            {
                self.wallet = w;
            }
        }
        Ok(Snapshot {
            torrents: list.iter().map(row).collect(),
            detail,
            wallet: self.wallet.clone(),
            totals: Totals {
                down_rate: status.down_rate,
                up_rate: status.up_rate,
                spend_rate: 0.0,
                earn_rate: 0.0,
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
                for id in &ids {
                    let e = self.strategies.entry(id.clone()).or_default();
                    match side {
                        Side::Buyer => e.0 = Some(v.clone()),
                        Side::Seller => e.1 = Some(v.clone()),
                    }
                }
                Ok(format!(
                    "strategy {} noted (market off: the daemon has no market yet)",
                    super::app::format_strategy(&v)
                ))
            }
            Command::FilePriority { .. } => {
                anyhow::bail!("file priorities are not in the daemon's control protocol yet")
            }
        }
    }

    fn mode(&self) -> Mode {
        Mode::Attached(self.socket.clone())
    }
}
