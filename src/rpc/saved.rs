//! The daemon's session state on disk: which torrents, with which settings. Written
//! atomically (temporary file, fsync, rename, fsync of the directory) on every change, so a
//! `kill -9` at any moment leaves the last acknowledged state. Piece state is not here: it is
//! the engine's resume data (`engine::resume`).

use std::fs::{self, File};
use std::io::Write;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

/// Bumped when the layout changes incompatibly.
pub const STATE_VERSION: u32 = 1;

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct SavedState {
    pub version: u32,
    pub next_id: u32,
    /// Global limits set at run time with `limit`; override the config's when present.
    #[serde(default)]
    pub down_limit: Option<u64>,
    #[serde(default)]
    pub up_limit: Option<u64>,
    /// Global market strategies set at run time with `strategy`; override the config's.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub market: Option<SavedStrategies>,
    /// Global seeding rules set at run time with `seed`; override the config's.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub seeding: Option<super::proto::GlobalSeeding>,
    pub torrents: Vec<Record>,
}

/// The global buyer and seller settings chosen at run time.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SavedStrategies {
    pub buyer: crate::market::config::BuyerConfig,
    pub seller: crate::market::config::SellerConfig,
}

/// One torrent of the session.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Record {
    pub id: u32,
    pub info_hash: String,
    pub name: String,
    /// The daemon's copy: `data_dir/torrents/<hex>.torrent`.
    pub torrent_file: PathBuf,
    pub download_dir: PathBuf,
    pub paused: bool,
    pub sequential: bool,
    #[serde(default)]
    pub down_limit: u64,
    #[serde(default)]
    pub up_limit: u64,
    #[serde(default)]
    pub peers: Vec<String>,
    pub added_at: i64,
    /// The torrent's market override (only what differs from the global strategies), set
    /// with `add --strategy` or `strategy ID ...`; re-applied on restart.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub strategy: Option<toml::Table>,
    /// File priorities set with `prio` ("high", "normal", "low", "skip"), by file index;
    /// empty when never set. Re-applied on restart.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub priorities: Vec<String>,
    /// Labels (`add --label`, `label`, Transmission's `labels`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub labels: Vec<String>,
    /// The torrent's own seeding rules.
    #[serde(default, skip_serializing_if = "super::proto::SeedRules::is_default")]
    pub seed: super::proto::SeedRules,
    /// What a seeding rule did, so a restart neither repeats nor forgets it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub seed_limit: Option<String>,
    /// Unix seconds when it was first seen complete.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub done_at: Option<i64>,
}

#[derive(Debug, thiserror::Error)]
pub enum StateError {
    #[error("{op} {}: {source}", .path.display())]
    Io {
        op: &'static str,
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{}: corrupt session state: {reason}", .path.display())]
    Corrupt { path: PathBuf, reason: String },
}

pub fn state_path(data_dir: &Path) -> PathBuf {
    data_dir.join("session.json")
}

pub fn torrent_copy_path(data_dir: &Path, info_hash_hex: &str) -> PathBuf {
    data_dir
        .join("torrents")
        .join(format!("{info_hash_hex}.torrent"))
}

/// Reads the state; an absent file is an empty session.
pub fn load(path: &Path) -> Result<SavedState, StateError> {
    let bytes = match fs::read(path) {
        Ok(b) => b,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            return Ok(SavedState {
                version: STATE_VERSION,
                next_id: 1,
                ..SavedState::default()
            });
        }
        Err(source) => {
            return Err(StateError::Io {
                op: "reading",
                path: path.to_path_buf(),
                source,
            });
        }
    };
    let st: SavedState = serde_json::from_slice(&bytes).map_err(|e| StateError::Corrupt {
        path: path.to_path_buf(),
        reason: e.to_string(),
    })?;
    if st.version != STATE_VERSION {
        return Err(StateError::Corrupt {
            path: path.to_path_buf(),
            reason: format!("version {} (this build reads {STATE_VERSION})", st.version),
        });
    }
    Ok(st)
}

pub fn save(path: &Path, st: &SavedState) -> Result<(), StateError> {
    let bytes = serde_json::to_vec_pretty(st).map_err(|e| StateError::Corrupt {
        path: path.to_path_buf(),
        reason: e.to_string(),
    })?;
    write_atomic(path, &bytes)
}

/// tmp + fsync + rename + fsync(dir): readers see the old or the new file, never a torn one.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> Result<(), StateError> {
    let io = |op: &'static str, p: &Path| {
        let p = p.to_path_buf();
        move |source| StateError::Io {
            op,
            path: p,
            source,
        }
    };
    let dir = path.parent().unwrap_or(Path::new("."));
    fs::create_dir_all(dir).map_err(io("creating", dir))?;
    let mut name = path.file_name().unwrap_or_default().to_os_string();
    name.push(".tmp");
    let tmp = dir.join(name);
    let res = (|| {
        let mut f = File::create(&tmp)?;
        f.write_all(bytes)?;
        f.sync_all()
    })()
    .map_err(io("writing", &tmp))
    .and_then(|()| fs::rename(&tmp, path).map_err(io("renaming", &tmp)));
    if res.is_err() {
        let _ = fs::remove_file(&tmp);
    }
    res?;
    File::open(dir)
        .and_then(|d| d.sync_all())
        .map_err(io("syncing", dir))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_and_absent_file() {
        let tmp = tempfile::tempdir().expect("tempdir");
        let p = state_path(tmp.path());
        let empty = load(&p).expect("absent is empty");
        assert_eq!(empty.next_id, 1);
        let st = SavedState {
            version: STATE_VERSION,
            next_id: 3,
            down_limit: Some(5),
            up_limit: None,
            market: None,
            seeding: None,
            torrents: vec![Record {
                id: 2,
                info_hash: "00".repeat(20),
                name: "x".into(),
                torrent_file: "/a".into(),
                download_dir: "/b".into(),
                paused: true,
                sequential: false,
                down_limit: 0,
                up_limit: 7,
                peers: vec![],
                added_at: 1,
                strategy: Some(
                    toml::from_str("buyer = { strategy = \"fixed\", price = \"0.2\" }")
                        .expect("toml"),
                ),
                priorities: vec![],
                labels: vec!["tv".into()],
                seed: crate::rpc::proto::SeedRules {
                    ratio_mode: crate::rpc::proto::LimitMode::Single,
                    ratio: 1.5,
                    action: Some(crate::rpc::proto::SeedAction::SlowTo(1000)),
                    ..Default::default()
                },
                seed_limit: Some("ratio 1.50 reached: slowed".into()),
                done_at: Some(5),
            }],
        };
        save(&p, &st).expect("save");
        assert_eq!(load(&p).expect("load"), st);
        fs::write(&p, b"{not json").expect("write");
        assert!(load(&p).is_err());
    }
}
