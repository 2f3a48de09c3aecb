//! The daemon's session state on disk: which torrents, with which settings. A snapshot,
//! `session.json`, written atomically (temporary file, fsync, rename, fsync of the directory),
//! and a journal beside it, `session.log`: each change appends one fsynced line with what
//! changed (the records added or changed, the ids removed, the global settings). Rewriting the
//! whole snapshot on every add made 1,000 adds cost O(n²) (11.4 s, issue 17); a journal line
//! costs the same whatever the session's size. The journal is folded into a fresh snapshot
//! when the daemon starts and whenever it outgrows the session. A `kill -9` at any moment
//! leaves the last acknowledged state. Piece state is not here: it is the engine's resume data
//! (`engine::resume`).

use std::collections::HashMap;
use std::fs::{self, File, OpenOptions};
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

/// The journal beside a snapshot: `session.json` → `session.log`.
pub fn journal_path(state_path: &Path) -> PathBuf {
    state_path.with_extension("log")
}

/// One journal line: what changed since the line before (or the snapshot).
#[derive(Debug, Default, Serialize, Deserialize)]
struct Delta {
    /// The global part, when it changed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    header: Option<Header>,
    /// Records added or changed, whole.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    upsert: Vec<Record>,
    /// Ids of records removed.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    remove: Vec<u32>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
struct Header {
    next_id: u32,
    down_limit: Option<u64>,
    up_limit: Option<u64>,
    market: Option<SavedStrategies>,
    /// Every global field of `SavedState` belongs here, or a change to it is never journaled.
    #[serde(default)]
    seeding: Option<super::proto::GlobalSeeding>,
}

impl Header {
    fn of(st: &SavedState) -> Header {
        Header {
            next_id: st.next_id,
            down_limit: st.down_limit,
            up_limit: st.up_limit,
            market: st.market.clone(),
            seeding: st.seeding.clone(),
        }
    }
}

impl Delta {
    fn between(old: &SavedState, new: &SavedState) -> Delta {
        let header = Header::of(new);
        let before: HashMap<u32, &Record> = old.torrents.iter().map(|r| (r.id, r)).collect();
        let now: HashMap<u32, &Record> = new.torrents.iter().map(|r| (r.id, r)).collect();
        Delta {
            header: (Header::of(old) != header).then_some(header),
            upsert: new
                .torrents
                .iter()
                .filter(|r| before.get(&r.id) != Some(r))
                .cloned()
                .collect(),
            remove: old
                .torrents
                .iter()
                .filter(|r| !now.contains_key(&r.id))
                .map(|r| r.id)
                .collect(),
        }
    }

    fn is_empty(&self) -> bool {
        self.header.is_none() && self.upsert.is_empty() && self.remove.is_empty()
    }

    /// Replaying a delta twice gives the same state, so a crash between writing a fresh
    /// snapshot and emptying the journal is harmless: the replay lands on the snapshot.
    fn apply(self, st: &mut SavedState) {
        if let Some(h) = self.header {
            st.next_id = h.next_id;
            st.down_limit = h.down_limit;
            st.up_limit = h.up_limit;
            st.market = h.market;
            st.seeding = h.seeding;
        }
        st.torrents.retain(|r| !self.remove.contains(&r.id));
        for rec in self.upsert {
            match st.torrents.iter_mut().find(|r| r.id == rec.id) {
                Some(slot) => *slot = rec,
                None => st.torrents.push(rec),
            }
        }
    }
}

/// Writes the session state incrementally: one journal line per change, a full snapshot at
/// the first save (folding in whatever journal the last run left) and when the journal has
/// more lines than the session has torrents (so replaying it never costs more than reading a
/// snapshot).
pub struct Journal {
    path: PathBuf,
    /// What is on disk (snapshot plus journal); `None` until the first save.
    durable: Option<SavedState>,
    lines: usize,
}

/// Below this many lines the journal is never folded, however small the session.
const MIN_JOURNAL_LINES: usize = 64;

impl Journal {
    pub fn new(state_path: &Path) -> Journal {
        Journal {
            path: state_path.to_path_buf(),
            durable: None,
            lines: 0,
        }
    }

    /// Makes `st` durable; returns once it would survive a crash.
    pub fn save(&mut self, st: &SavedState) -> Result<(), StateError> {
        let delta = match &self.durable {
            Some(old) => Delta::between(old, st),
            None => return self.compact(st),
        };
        if delta.is_empty() {
            return Ok(());
        }
        if self.lines >= MIN_JOURNAL_LINES.max(st.torrents.len()) {
            return self.compact(st);
        }
        let mut line = serde_json::to_vec(&delta).map_err(|e| StateError::Corrupt {
            path: self.path.clone(),
            reason: e.to_string(),
        })?;
        line.push(b'\n');
        let log = journal_path(&self.path);
        let appended = OpenOptions::new()
            .create(true)
            .append(true)
            .open(&log)
            .and_then(|mut f| {
                f.write_all(&line)?;
                f.sync_data()
            });
        if let Err(source) = appended {
            // The line may be half written: fold everything into a snapshot instead, which
            // also empties the journal.
            tracing::warn!("appending to {}: {source}", log.display());
            return self.compact(st);
        }
        self.lines += 1;
        self.durable = Some(st.clone());
        Ok(())
    }

    /// A fresh snapshot, then an empty journal.
    fn compact(&mut self, st: &SavedState) -> Result<(), StateError> {
        save(&self.path, st)?;
        let log = journal_path(&self.path);
        match fs::remove_file(&log) {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(source) => {
                // A journal that cannot go keeps its lines; they replay onto the new snapshot
                // harmlessly, so only forget what we know of the disk.
                self.durable = None;
                return Err(StateError::Io {
                    op: "removing",
                    path: log,
                    source,
                });
            }
        }
        self.lines = 0;
        self.durable = Some(st.clone());
        Ok(())
    }
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
    let mut st = st;
    replay_journal(path, &mut st)?;
    Ok(st)
}

/// Applies `session.log`'s lines to the snapshot. A last line without its newline is a write
/// the crash interrupted, never acknowledged: it is dropped. Any other bad line is corruption.
fn replay_journal(path: &Path, st: &mut SavedState) -> Result<(), StateError> {
    let log = journal_path(path);
    let bytes = match fs::read(&log) {
        Ok(b) => b,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
        Err(source) => {
            return Err(StateError::Io {
                op: "reading",
                path: log,
                source,
            });
        }
    };
    let complete = bytes.iter().rposition(|&b| b == b'\n').map_or(0, |i| i + 1);
    for (n, line) in bytes[..complete].split(|&b| b == b'\n').enumerate() {
        if line.is_empty() {
            continue;
        }
        let delta: Delta = serde_json::from_slice(line).map_err(|e| StateError::Corrupt {
            path: log.clone(),
            reason: format!("line {}: {e}", n + 1),
        })?;
        delta.apply(st);
    }
    Ok(())
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

    fn record(id: u32) -> Record {
        Record {
            id,
            info_hash: format!("{id:040x}"),
            name: format!("t{id}"),
            torrent_file: "/a".into(),
            download_dir: "/b".into(),
            paused: false,
            sequential: false,
            down_limit: 0,
            up_limit: 0,
            peers: vec![],
            added_at: 1,
            strategy: None,
            priorities: vec![],
            labels: vec![],
            seed: Default::default(),
            seed_limit: None,
            done_at: None,
        }
    }

    /// Every state saved through the journal reads back exactly, after adds, changes,
    /// removes and folds, and after a crash that left half a line.
    #[test]
    fn journal_round_trips_and_folds() {
        let tmp = tempfile::tempdir().expect("tempdir");
        let p = state_path(tmp.path());
        let mut j = Journal::new(&p);
        let mut st = load(&p).expect("empty");
        for id in 1..=300 {
            st.torrents.push(record(id));
            st.next_id = id + 1;
            if id % 7 == 0 {
                st.torrents.retain(|r| r.id != id - 3);
            }
            if id % 11 == 0 {
                st.torrents[0].paused = !st.torrents[0].paused;
                st.down_limit = Some(u64::from(id));
            }
            j.save(&st).expect("save");
            assert_eq!(load(&p).expect("load"), st, "after {id}");
        }
        // Appends stay small: the journal never holds more lines than the session.
        let lines = fs::read(journal_path(&p)).map_or(0, |b| b.split(|&c| c == b'\n').count());
        assert!(lines <= st.torrents.len() + 1, "{lines} lines");
        // A torn last line (a crash mid-append) is dropped.
        let mut f = OpenOptions::new()
            .append(true)
            .create(true)
            .open(journal_path(&p))
            .expect("open");
        f.write_all(b"{\"upsert\":[{\"id\":9999").expect("write");
        assert_eq!(load(&p).expect("torn"), st);
        // A new run folds the journal into a snapshot at its first save.
        let mut j = Journal::new(&p);
        j.save(&st).expect("fold");
        assert!(!journal_path(&p).exists());
        assert_eq!(load(&p).expect("load"), st);
    }

    /// The cost of a save does not grow with the session (issue 17: every add rewrote the
    /// whole file). Counted in bytes written, not time.
    #[test]
    fn a_save_writes_only_what_changed() {
        let tmp = tempfile::tempdir().expect("tempdir");
        let p = state_path(tmp.path());
        let mut st = load(&p).expect("empty");
        st.torrents = (1..=1000).map(record).collect();
        let mut j = Journal::new(&p);
        j.save(&st).expect("first save is a snapshot");
        let snapshot = fs::metadata(&p).expect("stat").len();
        st.torrents.push(record(1001));
        j.save(&st).expect("add");
        let log = fs::metadata(journal_path(&p)).expect("stat").len();
        assert!(
            log * 50 < snapshot,
            "journal {log} B for one add, snapshot {snapshot} B"
        );
        assert_eq!(load(&p).expect("load"), st);
    }
}
