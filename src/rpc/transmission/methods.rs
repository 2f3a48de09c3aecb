//! Transmission's methods, each mapped onto the controller's commands (`Controller::handle`),
//! so this door does exactly what the control socket does. Speeds are Transmission's kB/s
//! (1000 bytes, as `session-get`'s `units` says); ids are the controller's torrent ids.

use std::sync::Arc;

use serde_json::{Map, Value, json};

use super::Door;
use crate::rpc::controller::{Controller, DATA_URI, base64_encode};
use crate::rpc::proto::{
    AddArgs, BatchResult, Command, LimitArgs, LimitMode, SeedArgs, SeedInfo, Status, Targets,
    TorrentSummary,
};

/// Transmission's version as clients parse it (Sonarr refuses below 2.40), then ours.
pub fn version_string() -> String {
    format!("4.0.6 (bidtorrent {})", env!("CARGO_PKG_VERSION"))
}
pub const RPC_VERSION: i64 = 17;
pub const RPC_VERSION_MINIMUM: i64 = 14;
/// Transmission's speed unit: kB/s.
const KB: u64 = 1000;
type Args = Map<String, Value>;

pub async fn dispatch(door: &Door, method: &str, args: &Args) -> Result<Value, String> {
    let ctl = &door.ctl;
    match method {
        "session-get" => session_get(door, args).await,
        "session-set" => session_set(ctl, args).await,
        "session-stats" => session_stats(door).await,
        "torrent-get" => super::fields::torrent_get(ctl, args).await,
        "torrent-add" => torrent_add(ctl, args).await,
        "torrent-set" => torrent_set(ctl, args).await,
        "torrent-start" | "torrent-start-now" => act(ctl, args, Command::Resume).await,
        "torrent-stop" => act(ctl, args, Command::Pause).await,
        // Transmission queues these and answers at once; hashing or a slow tracker must not
        // hold the client's request open.
        "torrent-verify" => background(ctl, args, Command::Recheck).await,
        "torrent-reannounce" => background(ctl, args, Command::Reannounce).await,
        "torrent-remove" => {
            let targets = targets(ctl, args).await?;
            let delete_data = args.get("delete-local-data").is_some_and(truthy);
            if targets.torrents.is_empty() && !targets.all {
                return Ok(json!({}));
            }
            let r = call::<BatchResult>(
                ctl,
                Command::Remove {
                    targets,
                    delete_data,
                },
            )
            .await?;
            failures(&r)?;
            Ok(json!({}))
        }
        // Every torrent is active at once (no queue), so there is no order to change.
        "queue-move-top" | "queue-move-up" | "queue-move-down" | "queue-move-bottom" => {
            Ok(json!({}))
        }
        "free-space" => {
            let path = args.get("path").and_then(Value::as_str).unwrap_or("");
            Ok(json!({"path": path, "size-bytes": free_space(path), "total_size": -1}))
        }
        "port-test" => Ok(json!({"port-is-open": false})),
        "blocklist-update" => Ok(json!({"blocklist-size": 0})),
        _ => Err(format!("method name not recognized: {method:?}")),
    }
}

async fn call<T: serde::de::DeserializeOwned>(
    ctl: &Arc<Controller>,
    cmd: Command,
) -> Result<T, String> {
    let v = ctl.handle(cmd).await?;
    serde_json::from_value(v).map_err(|e| e.to_string())
}

/// Transmission's booleans arrive as true/false or 0/1.
pub fn truthy(v: &Value) -> bool {
    match v {
        Value::Bool(b) => *b,
        Value::Number(n) => n.as_f64().is_some_and(|f| f != 0.0),
        _ => false,
    }
}

/// Which torrents `ids` names: absent = all; a number, a hash, or a list of both;
/// "recently-active" = all (every torrent is reported; none are tracked as removed).
pub enum Ids {
    All,
    Some(Vec<String>),
}

pub fn ids(args: &Args) -> Result<Ids, String> {
    let one = |v: &Value| -> Result<String, String> {
        match v {
            Value::Number(n) => n
                .as_u64()
                .map(|n| n.to_string())
                .ok_or_else(|| format!("id {n} is not a torrent id")),
            Value::String(s) => Ok(s.clone()),
            other => Err(format!("id {other} is neither a number nor a hash")),
        }
    };
    match args.get("ids") {
        None => Ok(Ids::All),
        Some(Value::String(s)) if s == "recently-active" => Ok(Ids::All),
        Some(Value::Array(a)) => Ok(Ids::Some(a.iter().map(one).collect::<Result<_, _>>()?)),
        Some(v) => Ok(Ids::Some(vec![one(v)?])),
    }
}

/// The torrents `ids` names, as summaries; unknown ids are skipped, as Transmission does.
pub async fn select(ctl: &Arc<Controller>, args: &Args) -> Result<Vec<TorrentSummary>, String> {
    let list: Vec<TorrentSummary> = call(ctl, Command::List).await?;
    Ok(match ids(args)? {
        Ids::All => list,
        Ids::Some(want) => list
            .into_iter()
            .filter(|t| {
                want.iter()
                    .any(|w| *w == t.id.to_string() || w.eq_ignore_ascii_case(&t.info_hash))
            })
            .collect(),
    })
}

async fn targets(ctl: &Arc<Controller>, args: &Args) -> Result<Targets, String> {
    Ok(match ids(args)? {
        Ids::All => Targets {
            torrents: Vec::new(),
            all: true,
        },
        Ids::Some(_) => Targets {
            torrents: select(ctl, args)
                .await?
                .iter()
                .map(|t| t.id.to_string())
                .collect(),
            all: false,
        },
    })
}

fn failures(r: &BatchResult) -> Result<(), String> {
    let failed: Vec<String> = r
        .results
        .iter()
        .filter(|i| !i.ok)
        .map(|i| format!("{}: {}", i.item, i.message.as_deref().unwrap_or("failed")))
        .collect();
    if failed.is_empty() {
        Ok(())
    } else {
        Err(failed.join("; "))
    }
}

async fn act(
    ctl: &Arc<Controller>,
    args: &Args,
    cmd: fn(Targets) -> Command,
) -> Result<Value, String> {
    let t = targets(ctl, args).await?;
    if !t.all && t.torrents.is_empty() {
        return Ok(json!({}));
    }
    let r: BatchResult = call(ctl, cmd(t)).await?;
    // "already paused" and the like are notes, not failures.
    failures(&r)?;
    Ok(json!({}))
}

async fn background(
    ctl: &Arc<Controller>,
    args: &Args,
    cmd: fn(Targets) -> Command,
) -> Result<Value, String> {
    let t = targets(ctl, args).await?;
    if !t.all && t.torrents.is_empty() {
        return Ok(json!({}));
    }
    let ctl = ctl.clone();
    tokio::spawn(async move {
        if let Err(e) = ctl.handle(cmd(t)).await {
            tracing::warn!("transmission rpc: {e}");
        }
    });
    Ok(json!({}))
}

fn free_space(path: &str) -> i64 {
    let Ok(c) = std::ffi::CString::new(path) else {
        return -1;
    };
    // SAFETY: statvfs(3) fills the zeroed struct we own from a NUL-terminated path.
    unsafe {
        let mut st: libc::statvfs = std::mem::zeroed();
        if libc::statvfs(c.as_ptr(), &mut st) != 0 {
            return -1;
        }
        (st.f_bavail as i64).saturating_mul(st.f_frsize as i64)
    }
}

async fn session_get(door: &Door, args: &Args) -> Result<Value, String> {
    let ctl = &door.ctl;
    let st: Status = call(ctl, Command::Status).await?;
    let seed: SeedInfo = call(ctl, Command::Seed(SeedArgs::default())).await?;
    let g = seed.global;
    let speed_units = json!(["kB/s", "MB/s", "GB/s", "TB/s"]);
    let size_units = json!(["kB", "MB", "GB", "TB"]);
    let mut all = json!({
        "alt-speed-down": 0,
        "alt-speed-enabled": false,
        "alt-speed-time-begin": 540,
        "alt-speed-time-day": 127,
        "alt-speed-time-enabled": false,
        "alt-speed-time-end": 1020,
        "alt-speed-up": 0,
        "blocklist-enabled": false,
        "blocklist-size": 0,
        "blocklist-url": "",
        "cache-size-mb": 4,
        "config-dir": st.data_dir,
        "dht-enabled": st.dht.is_some(),
        "download-dir": st.download_dir,
        "download-dir-free-space": free_space(&st.download_dir),
        "download-queue-enabled": false,
        "download-queue-size": 5,
        // Transmission has no "off": plaintext is what "tolerated" leads to with most peers.
        "encryption": match st.encryption.as_str() {
            "require" => "required",
            "prefer" => "preferred",
            _ => "tolerated",
        },
        "idle-seeding-limit": g.idle_minutes,
        "idle-seeding-limit-enabled": g.idle_minutes > 0,
        "incomplete-dir": st.download_dir,
        "incomplete-dir-enabled": false,
        "lpd-enabled": false,
    });
    let more = json!({
        "peer-limit-global": 500,
        "peer-limit-per-torrent": 50,
        "peer-port": st.listen_port,
        "peer-port-random-on-start": false,
        "pex-enabled": true,
        "port-forwarding-enabled": false,
        "queue-stalled-enabled": false,
        "queue-stalled-minutes": 30,
        "rename-partial-files": false,
        "rpc-version": RPC_VERSION,
        "rpc-version-minimum": RPC_VERSION_MINIMUM,
        "rpc-version-semver": "5.3.0",
        "script-torrent-done-enabled": false,
        "script-torrent-done-filename": "",
        "seed-queue-enabled": false,
        "seed-queue-size": 10,
        "seedRatioLimit": g.ratio,
        "seedRatioLimited": g.ratio > 0.0,
        "session-id": door.session_id(),
        "speed-limit-down": st.down_limit / KB,
        "speed-limit-down-enabled": st.down_limit > 0,
        "speed-limit-up": st.up_limit / KB,
        "speed-limit-up-enabled": st.up_limit > 0,
        "start-added-torrents": true,
        "trash-original-torrent-files": false,
        "units": {
            "speed-units": speed_units,
            "speed-bytes": 1000,
            "size-units": size_units,
            "size-bytes": 1000,
            "memory-units": ["KiB", "MiB", "GiB", "TiB"],
            "memory-bytes": 1024,
        },
        "utp-enabled": st.utp,
        "version": version_string(),
        // Extra: the token market's state (clients ignore keys they do not know).
        "bidtorrent-market": st.market,
        "bidtorrent-seeding-action": g.action.to_string(),
    });
    if let (Some(a), Value::Object(m)) = (all.as_object_mut(), more) {
        a.extend(m);
    }
    Ok(match args.get("fields").and_then(Value::as_array) {
        Some(fields) => {
            let mut out = Map::new();
            for f in fields.iter().filter_map(Value::as_str) {
                if let Some(v) = all.get(f) {
                    out.insert(f.to_string(), v.clone());
                }
            }
            Value::Object(out)
        }
        None => all,
    })
}

/// A limit in kB/s from `NAME` and its `NAME-enabled` flag: `None` when neither is given.
fn limit_of(args: &Args, value: &str, enabled: &str) -> Option<u64> {
    let v = args.get(value).and_then(Value::as_u64);
    match args.get(enabled).map(truthy) {
        Some(false) => Some(0),
        Some(true) => v.map(|k| k * KB),
        None => v.map(|k| k * KB),
    }
}

async fn session_set(ctl: &Arc<Controller>, args: &Args) -> Result<Value, String> {
    if let Some(dir) = args.get("download-dir").and_then(Value::as_str) {
        let st: Status = call(ctl, Command::Status).await?;
        if dir != st.download_dir {
            return Err("download-dir cannot be changed while the daemon runs; set \
                        download_dir in the config (torrent-add takes a download-dir)"
                .into());
        }
    }
    let down = limit_of(args, "speed-limit-down", "speed-limit-down-enabled");
    let up = limit_of(args, "speed-limit-up", "speed-limit-up-enabled");
    if down.is_some() || up.is_some() {
        call::<Value>(
            ctl,
            Command::Limit(LimitArgs {
                torrent: None,
                down,
                up,
            }),
        )
        .await?;
    }
    let mut seed = SeedArgs::default();
    match args.get("seedRatioLimited").map(truthy) {
        Some(false) => seed.ratio_mode = Some(LimitMode::Unlimited),
        _ => seed.ratio = args.get("seedRatioLimit").and_then(Value::as_f64),
    }
    if seed.ratio_mode.is_none()
        && seed.ratio.is_none()
        && args.get("seedRatioLimited").is_some_and(truthy)
    {
        // Turned on without a value: Transmission's default limit.
        seed.ratio = Some(2.0);
    }
    match args.get("idle-seeding-limit-enabled").map(truthy) {
        Some(false) => seed.idle_mode = Some(LimitMode::Unlimited),
        _ => seed.idle_minutes = args.get("idle-seeding-limit").and_then(Value::as_u64),
    }
    if seed.ratio.is_some()
        || seed.ratio_mode.is_some()
        || seed.idle_minutes.is_some()
        || seed.idle_mode.is_some()
    {
        call::<Value>(ctl, Command::Seed(seed)).await?;
    }
    Ok(json!({}))
}

async fn session_stats(door: &Door) -> Result<Value, String> {
    let list: Vec<TorrentSummary> = call(&door.ctl, Command::List).await?;
    let active = list
        .iter()
        .filter(|t| t.down_rate >= 1.0 || t.up_rate >= 1.0)
        .count();
    let paused = list.iter().filter(|t| t.paused).count();
    let up: u64 = list.iter().map(|t| t.uploaded).sum();
    let down: u64 = list.iter().map(|t| t.downloaded).sum();
    let stats = json!({
        "uploadedBytes": up,
        "downloadedBytes": down,
        "filesAdded": list.len(),
        "sessionCount": 1,
        "secondsActive": door.uptime_secs(),
    });
    Ok(json!({
        "activeTorrentCount": active,
        "pausedTorrentCount": paused,
        "torrentCount": list.len(),
        "downloadSpeed": list.iter().map(|t| t.down_rate).sum::<f64>() as u64,
        "uploadSpeed": list.iter().map(|t| t.up_rate).sum::<f64>() as u64,
        "cumulative-stats": stats.clone(),
        "current-stats": stats,
    }))
}

async fn torrent_add(ctl: &Arc<Controller>, args: &Args) -> Result<Value, String> {
    let source = match (
        args.get("metainfo").and_then(Value::as_str),
        args.get("filename").and_then(Value::as_str),
    ) {
        (Some(m), _) => format!("{DATA_URI}{}", m.trim()),
        (None, Some(f)) if f.starts_with("http://") || f.starts_with("https://") => {
            let url = f.to_string();
            let bytes = tokio::task::spawn_blocking(move || crate::rpc::fetch::torrent(&url))
                .await
                .map_err(|e| e.to_string())??;
            format!("{DATA_URI}{}", base64_encode(&bytes))
        }
        (None, Some(f)) => f.to_string(),
        (None, None) => return Err("no filename or metainfo specified".into()),
    };
    let labels = match args.get("labels") {
        Some(Value::Array(a)) => a
            .iter()
            .map(|v| {
                v.as_str()
                    .map(str::to_string)
                    .ok_or_else(|| "labels must be strings".to_string())
            })
            .collect::<Result<Vec<_>, _>>()?,
        Some(_) => return Err("labels must be a list of strings".into()),
        None => Vec::new(),
    };
    let r: BatchResult = call(
        ctl,
        Command::Add(AddArgs {
            sources: vec![source],
            dir: args
                .get("download-dir")
                .and_then(Value::as_str)
                .map(str::to_string),
            paused: args.get("paused").is_some_and(truthy),
            labels,
            ..AddArgs::default()
        }),
    )
    .await?;
    let item = r.results.into_iter().next().ok_or("nothing was added")?;
    let torrent = |key: &str| {
        json!({ key: {
            "id": item.id.unwrap_or(0),
            "name": item.name.clone().unwrap_or_default(),
            "hashString": item.info_hash.clone().unwrap_or_default(),
        }})
    };
    if item.ok {
        Ok(torrent("torrent-added"))
    } else if item.duplicate {
        Ok(torrent("torrent-duplicate"))
    } else {
        Err(item.message.unwrap_or_else(|| "adding failed".into()))
    }
}

fn mode(v: Option<&Value>) -> Result<Option<LimitMode>, String> {
    match v.and_then(Value::as_i64) {
        None => Ok(None),
        Some(0) => Ok(Some(LimitMode::Global)),
        Some(1) => Ok(Some(LimitMode::Single)),
        Some(2) => Ok(Some(LimitMode::Unlimited)),
        Some(m) => Err(format!(
            "mode {m}: use 0 (global), 1 (this torrent) or 2 (none)"
        )),
    }
}

fn indices(v: Option<&Value>) -> Vec<usize> {
    v.and_then(Value::as_array)
        .map(|a| {
            a.iter()
                .filter_map(Value::as_u64)
                .map(|i| i as usize)
                .collect()
        })
        .unwrap_or_default()
}

async fn torrent_set(ctl: &Arc<Controller>, args: &Args) -> Result<Value, String> {
    let chosen = select(ctl, args).await?;
    let labels = match args.get("labels") {
        Some(Value::Array(a)) => Some(
            a.iter()
                .map(|v| {
                    v.as_str()
                        .map(str::to_string)
                        .ok_or("labels must be strings")
                })
                .collect::<Result<Vec<_>, _>>()?,
        ),
        Some(_) => return Err("labels must be a list of strings".into()),
        None => None,
    };
    let down = limit_of(args, "downloadLimit", "downloadLimited");
    let up = limit_of(args, "uploadLimit", "uploadLimited");
    let seed = SeedArgs {
        ratio: args.get("seedRatioLimit").and_then(Value::as_f64),
        ratio_mode: mode(args.get("seedRatioMode"))?,
        idle_minutes: args.get("seedIdleLimit").and_then(Value::as_u64),
        idle_mode: mode(args.get("seedIdleMode"))?,
        ..SeedArgs::default()
    };
    // A value alone keeps the torrent's mode (Transmission changes the limit, not whether
    // it applies); the controller would otherwise make it the torrent's own.
    let seed_given = seed.ratio.is_some()
        || seed.ratio_mode.is_some()
        || seed.idle_minutes.is_some()
        || seed.idle_mode.is_some();
    let prios: [(&str, &str); 5] = [
        ("files-unwanted", "skip"),
        ("files-wanted", "normal"),
        ("priority-low", "low"),
        ("priority-normal", "normal"),
        ("priority-high", "high"),
    ];
    for t in &chosen {
        let id = t.id.to_string();
        if let Some(l) = &labels {
            let r: BatchResult = call(
                ctl,
                Command::Label {
                    targets: Targets {
                        torrents: vec![id.clone()],
                        all: false,
                    },
                    labels: l.clone(),
                },
            )
            .await?;
            failures(&r)?;
        }
        if down.is_some() || up.is_some() {
            call::<Value>(
                ctl,
                Command::Limit(LimitArgs {
                    torrent: Some(id.clone()),
                    down,
                    up,
                }),
            )
            .await?;
        }
        if seed_given {
            let mut s = seed.clone();
            s.torrent = Some(id.clone());
            if s.ratio.is_some() && s.ratio_mode.is_none() {
                s.ratio_mode = Some(t.seed.ratio_mode);
            }
            if s.idle_minutes.is_some() && s.idle_mode.is_none() {
                s.idle_mode = Some(t.seed.idle_mode);
            }
            call::<Value>(ctl, Command::Seed(s)).await?;
        }
        for (key, priority) in prios {
            let files = indices(args.get(key));
            if !files.is_empty() {
                call::<Value>(
                    ctl,
                    Command::Prio {
                        torrent: id.clone(),
                        files,
                        priority: priority.into(),
                    },
                )
                .await?;
            }
        }
    }
    Ok(json!({}))
}
