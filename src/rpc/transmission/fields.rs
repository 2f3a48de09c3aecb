//! `torrent-get`: Transmission's torrent fields built from the controller's rows. Only the
//! fields asked for are built, and the per-torrent lists (files, peers, trackers, the piece
//! layout) are fetched only when a field needs them. Unknown fields are left out, as
//! Transmission does.

use std::sync::Arc;

use serde_json::{Map, Value, json};

use super::methods::select;
use crate::rpc::controller::Controller;
use crate::rpc::proto::{
    Command, FileList, GlobalSeeding, LimitMode, PeerList, SeedArgs, SeedInfo, TorrentInfo,
    TorrentSummary, TrackerList,
};
use crate::rpc::seeding;

/// Transmission's torrent status codes.
pub mod status {
    pub const STOPPED: i64 = 0;
    pub const CHECK_WAIT: i64 = 1;
    pub const CHECK: i64 = 2;
    pub const DOWNLOAD_WAIT: i64 = 3;
    pub const DOWNLOAD: i64 = 4;
    pub const SEED_WAIT: i64 = 5;
    pub const SEED: i64 = 6;
}

/// A torrent's status code: queues do not exist here, so the `*_WAIT` codes never appear.
pub fn status_code(t: &TorrentSummary) -> i64 {
    if t.paused {
        return status::STOPPED;
    }
    match t.phase.as_str() {
        "checking" => status::CHECK,
        "downloading" => status::DOWNLOAD,
        "seeding" => status::SEED,
        _ => status::STOPPED,
    }
}

const FILE_FIELDS: &[&str] = &["files", "fileStats", "fileCount", "priorities", "wanted"];
const PEER_FIELDS: &[&str] = &["peers", "peersGettingFromUs", "peersSendingToUs"];
const TRACKER_FIELDS: &[&str] = &["trackers", "trackerStats"];
const INFO_FIELDS: &[&str] = &[
    "pieceSize",
    "pieceCount",
    "comment",
    "isPrivate",
    "creator",
    "dateCreated",
    "torrentFile",
    "pieces",
];

fn now_unix() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0)
}

fn priority_code(p: &str) -> i64 {
    match p {
        "high" => 1,
        "low" => -1,
        _ => 0,
    }
}

fn mode_code(m: LimitMode) -> i64 {
    match m {
        LimitMode::Global => 0,
        LimitMode::Single => 1,
        LimitMode::Unlimited => 2,
    }
}

/// Transmission's flag letters for a peer: `D`/`d` downloading from it (or interested and
/// choked), `U`/`u` uploading to it (or it is interested and choked), `I` incoming.
fn tr_flags(p: &crate::rpc::proto::PeerInfo) -> String {
    let mut f = String::new();
    if p.am_interested {
        f.push(if p.peer_choking { 'd' } else { 'D' });
    }
    if p.peer_interested {
        f.push(if p.am_choking { 'u' } else { 'U' });
    }
    if !p.outgoing {
        f.push('I');
    }
    f
}

fn magnet(t: &TorrentSummary) -> String {
    let name = percent_encoding::utf8_percent_encode(&t.name, percent_encoding::NON_ALPHANUMERIC);
    format!("magnet:?xt=urn:btih:{}&dn={name}", t.info_hash)
}

/// The fields of one torrent. `extra` holds what was fetched for it.
struct Extra {
    files: Option<FileList>,
    peers: Option<PeerList>,
    trackers: Option<TrackerList>,
    info: Option<TorrentInfo>,
}

fn field(
    name: &str,
    t: &TorrentSummary,
    pos: usize,
    x: &Extra,
    g: &GlobalSeeding,
    now: i64,
) -> Option<Value> {
    let done = t.total_bytes - t.left_bytes.min(t.total_bytes);
    let progress = seeding::Progress {
        uploaded: t.uploaded,
        downloaded: t.downloaded,
        size: t.total_bytes,
        idle_secs: 0,
    };
    let peers = x.peers.as_ref().map(|p| &p.peers);
    let files = x.files.as_ref().map(|f| &f.files);
    Some(match name {
        "id" => json!(t.id),
        "hashString" => json!(t.info_hash),
        "name" => json!(t.name),
        "downloadDir" => json!(t.download_dir),
        "totalSize" | "sizeWhenDone" => json!(t.total_bytes),
        "leftUntilDone" => json!(t.left_bytes),
        "haveValid" => json!(done),
        "haveUnchecked" | "corruptEver" | "webseedsSendingToUs" | "bandwidthPriority"
        | "manualAnnounceTime" | "error_code" => json!(0),
        "desiredAvailable" => json!(t.left_bytes),
        "percentDone" | "percentComplete" => json!(t.progress),
        "metadataPercentComplete" => json!(1.0),
        "recheckProgress" => json!(if t.phase == "checking" { t.progress } else { 0.0 }),
        "status" => json!(status_code(t)),
        "error" => json!(if t.error.is_some() { 3 } else { 0 }),
        "errorString" => json!(t.error.clone().unwrap_or_default()),
        "eta" => json!(if t.left_bytes == 0 {
            -1
        } else if t.down_rate >= 1.0 {
            (t.left_bytes as f64 / t.down_rate) as i64
        } else {
            -2
        }),
        "etaIdle" => json!(-1),
        // Finished: a seeding limit stopped it (what Sonarr waits for before removing).
        "isFinished" => json!(t.paused && t.seed_limit.is_some()),
        "isStalled" => json!(false),
        "rateDownload" => json!(t.down_rate as u64),
        "rateUpload" => json!(t.up_rate as u64),
        "uploadRatio" => json!(if t.total_bytes == 0 {
            -1.0
        } else {
            seeding::ratio(&progress)
        }),
        "uploadedEver" => json!(t.uploaded),
        "downloadedEver" => json!(t.downloaded),
        "addedDate" | "startDate" => json!(t.added_at),
        "doneDate" => json!(t.done_at.unwrap_or(0)),
        "activityDate" => json!(if t.down_rate >= 1.0 || t.up_rate >= 1.0 {
            now
        } else {
            t.done_at.unwrap_or(t.added_at)
        }),
        "secondsDownloading" => json!((t.done_at.unwrap_or(now) - t.added_at).max(0)),
        "secondsSeeding" => json!(t.done_at.map_or(0, |d| (now - d).max(0))),
        "seedRatioLimit" => json!(match t.seed.ratio_mode {
            LimitMode::Single => t.seed.ratio,
            _ => g.ratio,
        }),
        "seedRatioMode" => json!(mode_code(t.seed.ratio_mode)),
        "seedIdleLimit" => json!(match t.seed.idle_mode {
            LimitMode::Single => t.seed.idle_minutes,
            _ => g.idle_minutes,
        }),
        "seedIdleMode" => json!(mode_code(t.seed.idle_mode)),
        "downloadLimit" => json!(t.down_limit / 1000),
        "downloadLimited" => json!(t.down_limit > 0),
        "uploadLimit" => json!(t.up_limit / 1000),
        "uploadLimited" => json!(t.up_limit > 0),
        "honorsSessionLimits" => json!(true),
        "queuePosition" => json!(pos),
        "labels" => json!(t.labels),
        "magnetLink" => json!(magnet(t)),
        "isPrivate" => json!(x.info.as_ref().is_some_and(|i| i.private)),
        "comment" => json!(x.info.as_ref().and_then(|i| i.comment.clone()).unwrap_or_default()),
        "creator" => json!(""),
        "dateCreated" => json!(0),
        "pieceCount" => json!(t.num_pieces),
        "pieceSize" => json!(x.info.as_ref().map_or(0, |i| i.piece_length)),
        "torrentFile" => json!(x.info.as_ref().map(|i| i.torrent_file.clone()).unwrap_or_default()),
        "peer-limit" => json!(50),
        "peersConnected" => json!(t.peers),
        "peersFrom" => json!({
            "fromCache": 0, "fromDht": 0, "fromIncoming": 0, "fromLpd": 0,
            "fromLtep": 0, "fromPex": 0, "fromTracker": t.peers,
        }),
        "peersGettingFromUs" => json!(
            peers.map_or(0, |p| p.iter().filter(|p| p.peer_interested && !p.am_choking).count())
        ),
        "peersSendingToUs" => json!(
            peers.map_or(0, |p| p.iter().filter(|p| p.am_interested && !p.peer_choking).count())
        ),
        "peers" => Value::Array(
            peers
                .map(|ps| {
                    ps.iter()
                        .map(|p| {
                            let addr: Option<std::net::SocketAddr> = p.addr.parse().ok();
                            json!({
                                "address": addr.map_or_else(|| p.addr.clone(), |a| a.ip().to_string()),
                                "port": addr.map_or(0, |a| a.port()),
                                "clientName": p.client,
                                "flagStr": tr_flags(p),
                                "progress": p.progress,
                                "rateToClient": p.down_rate as u64,
                                "rateToPeer": p.up_rate as u64,
                                "bytesToClient": p.downloaded,
                                "bytesToPeer": p.uploaded,
                                "isEncrypted": false,
                                "isIncoming": !p.outgoing,
                                "isUTP": false,
                                "isDownloadingFrom": p.am_interested && !p.peer_choking,
                                "isUploadingTo": p.peer_interested && !p.am_choking,
                                "clientIsChoked": p.peer_choking,
                                "clientIsInterested": p.am_interested,
                                "peerIsChoked": p.am_choking,
                                "peerIsInterested": p.peer_interested,
                                "bidtorrentFlags": p.flags,
                            })
                        })
                        .collect()
                })
                .unwrap_or_default(),
        ),
        "fileCount" => json!(files.map_or(0, |f| f.len())),
        "files" => Value::Array(
            files
                .map(|fs| {
                    fs.iter()
                        .map(|f| {
                            json!({
                                "name": f.path,
                                "length": f.length,
                                "bytesCompleted": (f.progress * f.length as f64) as u64,
                            })
                        })
                        .collect()
                })
                .unwrap_or_default(),
        ),
        "fileStats" => Value::Array(
            files
                .map(|fs| {
                    fs.iter()
                        .map(|f| {
                            json!({
                                "bytesCompleted": (f.progress * f.length as f64) as u64,
                                "wanted": f.priority != "skip",
                                "priority": priority_code(&f.priority),
                            })
                        })
                        .collect()
                })
                .unwrap_or_default(),
        ),
        "priorities" => json!(
            files.map_or_else(Vec::new, |fs| fs.iter().map(|f| priority_code(&f.priority)).collect())
        ),
        "wanted" => json!(files.map_or_else(Vec::new, |fs| fs
            .iter()
            .map(|f| i64::from(f.priority != "skip"))
            .collect())),
        "trackers" => Value::Array(
            x.trackers
                .as_ref()
                .map(|tl| {
                    tl.trackers
                        .iter()
                        .enumerate()
                        .map(|(i, tr)| {
                            json!({"id": i, "announce": tr.url, "scrape": "", "tier": tr.tier,
                                   "sitename": host_of(&tr.url)})
                        })
                        .collect()
                })
                .unwrap_or_default(),
        ),
        "trackerStats" => Value::Array(
            x.trackers
                .as_ref()
                .map(|tl| {
                    tl.trackers
                        .iter()
                        .enumerate()
                        .map(|(i, tr)| {
                            json!({
                                "id": i,
                                "announce": tr.url,
                                "host": host_of(&tr.url),
                                "sitename": host_of(&tr.url),
                                "tier": tr.tier,
                                "scrape": "",
                                "announceState": 0,
                                "hasAnnounced": tr.last_attempt_secs.is_some(),
                                "lastAnnounceSucceeded": tr.status == "ok",
                                "lastAnnounceResult": tr.error.clone().unwrap_or_else(|| "Success".into()),
                                "lastAnnounceTime": tr.last_attempt_secs.map_or(0, |s| now - s as i64),
                                "lastAnnouncePeerCount": tr.peers.unwrap_or(0),
                                "seederCount": tr.seeders.map_or(-1, i64::from),
                                "leecherCount": tr.leechers.map_or(-1, i64::from),
                                "downloadCount": -1,
                                "hasScraped": false,
                                "isBackup": false,
                                "nextAnnounceTime": 0,
                                "scrapeState": 0,
                            })
                        })
                        .collect()
                })
                .unwrap_or_default(),
        ),
        "webseeds" => json!([]),
        "bidtorrentMarket" => json!(t.market),
        "bidtorrentSeedLimit" => json!(t.seed_limit),
        _ => return None,
    })
}

fn host_of(url: &str) -> String {
    url::Url::parse(url)
        .ok()
        .and_then(|u| u.host_str().map(str::to_string))
        .unwrap_or_default()
}

pub async fn torrent_get(
    ctl: &Arc<Controller>,
    args: &Map<String, Value>,
) -> Result<Value, String> {
    let fields: Vec<String> = match args.get("fields").and_then(Value::as_array) {
        Some(a) => a
            .iter()
            .filter_map(Value::as_str)
            .map(str::to_string)
            .collect(),
        None => return Err("no fields specified".into()),
    };
    let all = select(ctl, args).await?;
    let global = match ctl.handle(Command::Seed(SeedArgs::default())).await {
        Ok(v) => serde_json::from_value::<SeedInfo>(v)
            .map(|s| s.global)
            .unwrap_or_default(),
        Err(_) => GlobalSeeding::default(),
    };
    let wants = |set: &[&str]| fields.iter().any(|f| set.contains(&f.as_str()));
    let (need_files, need_peers, need_trackers, need_info) = (
        wants(FILE_FIELDS),
        wants(PEER_FIELDS),
        wants(TRACKER_FIELDS),
        wants(INFO_FIELDS),
    );
    let table = args
        .get("format")
        .and_then(Value::as_str)
        .is_some_and(|f| f == "table");
    let now = now_unix();
    let mut out = Vec::with_capacity(all.len());
    for (pos, t) in all.iter().enumerate() {
        let id = t.id.to_string();
        // A torrent that is not loaded answers these with an error; its row still shows.
        let get = |cmd: Command| {
            let ctl = ctl.clone();
            async move { ctl.handle(cmd).await.ok() }
        };
        let x = Extra {
            files: if need_files {
                get(Command::Files {
                    torrent: id.clone(),
                })
                .await
                .and_then(|v| serde_json::from_value(v).ok())
            } else {
                None
            },
            peers: if need_peers {
                get(Command::Peers {
                    torrent: id.clone(),
                })
                .await
                .and_then(|v| serde_json::from_value(v).ok())
            } else {
                None
            },
            trackers: if need_trackers {
                get(Command::Trackers {
                    torrent: id.clone(),
                })
                .await
                .and_then(|v| serde_json::from_value(v).ok())
            } else {
                None
            },
            info: if need_info {
                get(Command::Info {
                    torrent: id.clone(),
                })
                .await
                .and_then(|v| serde_json::from_value(v).ok())
            } else {
                None
            },
        };
        if table {
            out.push(Value::Array(
                fields
                    .iter()
                    .map(|f| field(f, t, pos, &x, &global, now).unwrap_or(Value::Null))
                    .collect(),
            ));
        } else {
            let mut obj = Map::new();
            for f in &fields {
                if let Some(v) = field(f, t, pos, &x, &global, now) {
                    obj.insert(f.clone(), v);
                }
            }
            out.push(Value::Object(obj));
        }
    }
    if table {
        out.insert(0, json!(fields));
    }
    let mut reply = json!({ "torrents": out });
    if matches!(args.get("ids"), Some(Value::String(s)) if s == "recently-active") {
        reply["removed"] = json!([]);
    }
    Ok(reply)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn summary(phase: &str, paused: bool) -> TorrentSummary {
        serde_json::from_value(json!({
            "id": 1, "info_hash": "00".repeat(20), "name": "a b", "phase": phase,
            "progress": 0.5, "have_pieces": 1, "num_pieces": 2, "total_bytes": 100,
            "left_bytes": 50, "downloaded": 50, "uploaded": 25, "down_rate": 10.0,
            "up_rate": 0.0, "peers": 1, "download_dir": "/d", "paused": paused,
            "sequential": false, "down_limit": 0, "up_limit": 2000, "added_at": 10,
            "error": null, "market": null
        }))
        .expect("summary")
    }

    #[test]
    fn status_codes_are_transmissions() {
        assert_eq!(status_code(&summary("downloading", false)), 4);
        assert_eq!(status_code(&summary("seeding", false)), 6);
        assert_eq!(status_code(&summary("checking", false)), 2);
        assert_eq!(status_code(&summary("seeding", true)), 0);
        assert_eq!(status_code(&summary("error", false)), 0);
    }

    #[test]
    fn fields_from_a_summary() {
        let t = summary("downloading", false);
        let x = Extra {
            files: None,
            peers: None,
            trackers: None,
            info: None,
        };
        let g = GlobalSeeding::default();
        let f = |n: &str| field(n, &t, 0, &x, &g, 1000).expect(n);
        assert_eq!(f("eta"), json!(5));
        assert_eq!(f("uploadRatio"), json!(0.5));
        assert_eq!(f("uploadLimit"), json!(2));
        assert_eq!(f("uploadLimited"), json!(true));
        assert_eq!(f("secondsDownloading"), json!(990));
        assert_eq!(f("isFinished"), json!(false));
        assert_eq!(f("labels"), json!([]));
        assert!(
            f("magnetLink")
                .as_str()
                .expect("str")
                .ends_with("&dn=a%20b")
        );
        assert!(field("nonsense", &t, 0, &x, &g, 0).is_none());
    }
}
