//! Market bans for the whole session, kept on disk: a buyer banned for not paying on one
//! torrent is refused on every torrent, and still after a restart (otherwise a restart would
//! hand every cheat a fresh credit window).
//!
//! Keys are banned for [`BAN_SECS`]; addresses too, except loopback (every peer of a local
//! swarm shares it). The file is small JSON, replaced atomically on each new ban.

use std::collections::BTreeMap;
use std::net::IpAddr;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::engine::durable::{self, Durability};
use crate::wallet::PublicKey;

/// How long a ban lasts: long enough to make whitewashing a key cost something, short enough
/// that a mistake heals by itself.
pub const BAN_SECS: u64 = 30 * 86_400;

#[derive(Debug, thiserror::Error)]
pub enum BanError {
    #[error("market bans {path}: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("market bans {path}: not a ban list: {source}")]
    Format {
        path: PathBuf,
        source: serde_json::Error,
    },
}

/// On disk: banned key (hex) or address → Unix second of the ban.
#[derive(Debug, Default, Serialize, Deserialize)]
struct File {
    #[serde(default)]
    keys: BTreeMap<PublicKey, u64>,
    #[serde(default)]
    ips: BTreeMap<IpAddr, u64>,
}

#[derive(Debug, Default)]
pub struct Bans {
    file: File,
    path: Option<PathBuf>,
}

fn now_secs() -> u64 {
    crate::wallet::keys::now_secs()
}

impl Bans {
    /// The bans kept at `path` (none yet when it does not exist); new bans are saved there.
    /// Expired ones are dropped.
    pub fn load(path: &Path) -> Result<Bans, BanError> {
        let file = match std::fs::read(path) {
            Ok(bytes) => serde_json::from_slice(&bytes).map_err(|source| BanError::Format {
                path: path.to_path_buf(),
                source,
            })?,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => File::default(),
            Err(source) => {
                return Err(BanError::Io {
                    path: path.to_path_buf(),
                    source,
                });
            }
        };
        let mut bans = Bans {
            file,
            path: Some(path.to_path_buf()),
        };
        bans.expire(now_secs());
        Ok(bans)
    }

    fn expire(&mut self, now: u64) {
        self.file
            .keys
            .retain(|_, at| now < at.saturating_add(BAN_SECS));
        self.file
            .ips
            .retain(|_, at| now < at.saturating_add(BAN_SECS));
    }

    /// Whether the key, or the address, is banned now.
    pub fn is_banned(&self, key: &PublicKey, ip: Option<IpAddr>) -> bool {
        let now = now_secs();
        let live = |at: &u64| now < at.saturating_add(BAN_SECS);
        self.file.keys.get(key).is_some_and(live)
            || ip.and_then(|ip| self.file.ips.get(&ip)).is_some_and(live)
    }

    /// Bans `key` (and `ip`, unless loopback) and saves the list. A failed save is returned
    /// (the ban holds in memory either way).
    pub fn ban(&mut self, key: PublicKey, ip: Option<IpAddr>) -> Result<(), BanError> {
        let now = now_secs();
        self.file.keys.insert(key, now);
        if let Some(ip) = ip.filter(|ip| !ip.is_loopback()) {
            self.file.ips.insert(ip, now);
        }
        self.expire(now);
        self.save()
    }

    pub fn keys(&self) -> impl Iterator<Item = &PublicKey> {
        self.file.keys.keys()
    }

    pub fn len(&self) -> usize {
        self.file.keys.len()
    }

    pub fn is_empty(&self) -> bool {
        self.file.keys.is_empty()
    }

    fn save(&self) -> Result<(), BanError> {
        let Some(path) = &self.path else {
            return Ok(());
        };
        let bytes = serde_json::to_vec_pretty(&self.file).map_err(|source| BanError::Format {
            path: path.clone(),
            source,
        })?;
        // A crash leaves the old list or the new one, never half of one.
        durable::replace(path, &bytes, Durability::Now).map_err(|e| BanError::Io {
            path: e.path,
            source: e.source,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pk(n: u8) -> PublicKey {
        PublicKey([n; 32])
    }

    #[test]
    fn bans_survive_a_reload_and_expire() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("bans.json");
        let mut b = Bans::load(&path).unwrap();
        assert!(b.is_empty());
        let far: IpAddr = "192.0.2.7".parse().unwrap();
        let local: IpAddr = "127.0.0.1".parse().unwrap();
        b.ban(pk(1), Some(far)).unwrap();
        b.ban(pk(2), Some(local)).unwrap();
        let b = Bans::load(&path).unwrap();
        assert!(b.is_banned(&pk(1), None));
        assert!(b.is_banned(&pk(9), Some(far)), "the address goes too");
        assert!(b.is_banned(&pk(2), None));
        assert!(!b.is_banned(&pk(9), Some(local)), "never loopback");
        assert!(!b.is_banned(&pk(3), None));
        // A ban older than BAN_SECS is gone at the next load.
        let mut old = Bans::load(&path).unwrap();
        old.file.keys.insert(pk(4), now_secs() - BAN_SECS - 1);
        old.save().unwrap();
        let b = Bans::load(&path).unwrap();
        assert!(!b.is_banned(&pk(4), None));
        assert_eq!(b.len(), 2);
    }

    #[test]
    fn a_damaged_file_is_an_error_naming_it() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("bans.json");
        std::fs::write(&path, b"{not json").unwrap();
        let e = Bans::load(&path).unwrap_err().to_string();
        assert!(
            e.contains("bans.json") && e.contains("not a ban list"),
            "{e}"
        );
    }
}
