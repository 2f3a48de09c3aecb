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
use std::fs::{self, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::engine::durable::{self, Durability};

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
    /// The line for `change` made to `st`: the global part and the changed records, whole.
    fn of(st: &SavedState, change: &Change) -> Delta {
        Delta {
            header: Some(Header::of(st)),
            upsert: change
                .upsert
                .iter()
                .filter_map(|&id| find(&st.torrents, id))
                .cloned()
                .collect(),
            remove: change.remove.clone(),
        }
    }

    /// Replaying a delta twice gives the same state, so a crash between writing a fresh
    /// snapshot and emptying the journal is harmless: the replay lands on the snapshot.
    /// `index` maps ids to positions in `st.torrents` (kept up to date here), so a replay
    /// costs what the journal holds, not that times the session.
    fn apply(self, st: &mut SavedState, index: &mut HashMap<u32, usize>) {
        if let Some(h) = self.header {
            st.next_id = h.next_id;
            st.down_limit = h.down_limit;
            st.up_limit = h.up_limit;
            st.market = h.market;
            st.seeding = h.seeding;
        }
        if !self.remove.is_empty() {
            let gone: std::collections::HashSet<u32> = self.remove.into_iter().collect();
            st.torrents.retain(|r| !gone.contains(&r.id));
            *index = index_of(&st.torrents);
        }
        for rec in self.upsert {
            match index.get(&rec.id) {
                Some(&i) => st.torrents[i] = rec,
                None => {
                    index.insert(rec.id, st.torrents.len());
                    st.torrents.push(rec);
                }
            }
        }
    }
}

fn index_of(records: &[Record]) -> HashMap<u32, usize> {
    records.iter().enumerate().map(|(i, r)| (r.id, i)).collect()
}

/// The record with `id`. The controller keeps records sorted by id (ids only grow), so this is
/// a binary search; a list out of order (a hand-edited file) is searched in full.
pub fn find(records: &[Record], id: u32) -> Option<&Record> {
    find_index(records, id).map(|i| &records[i])
}

/// Where the record with `id` is in `records` (see [`find`]).
pub fn find_index(records: &[Record], id: u32) -> Option<usize> {
    match records.binary_search_by_key(&id, |r| r.id) {
        Ok(i) => Some(i),
        Err(_) => records.iter().position(|r| r.id == id),
    }
}

/// What one save changes: the records to write again (added or changed), the ids removed, or
/// everything. The global part is written with every change.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Change {
    pub upsert: Vec<u32>,
    pub remove: Vec<u32>,
    /// Write a fresh snapshot (many records changed at once, or a clean stop).
    pub all: bool,
}

impl Change {
    /// Only the global part changed.
    pub fn header() -> Change {
        Change::default()
    }

    pub fn upsert(ids: Vec<u32>) -> Change {
        Change {
            upsert: ids,
            ..Change::default()
        }
    }

    pub fn remove(ids: Vec<u32>) -> Change {
        Change {
            remove: ids,
            ..Change::default()
        }
    }

    pub fn all() -> Change {
        Change {
            all: true,
            ..Change::default()
        }
    }
}

/// Writes the session state incrementally: one journal line per change, a full snapshot at
/// the first save (folding in whatever journal the last run left) and when the journal has
/// more lines than the session has torrents (so replaying it never costs more than reading a
/// snapshot). A save costs what changed, not the session's size (issue 19: diffing the whole
/// state on every add made 10,000 adds quadratic), except for the occasional fold.
///
/// A save has three steps so that the slow one runs off the async threads without a copy of
/// the whole state: [`Journal::prepare`] (under the caller's lock, cheap unless a fold is
/// due), [`Pending::write`] (blocking: the disk and its fsyncs), [`Journal::finished`].
/// The caller serialises saves (the controller's registry lock is held through all three).
pub struct Journal {
    path: PathBuf,
    /// A snapshot was written by this run, so appending is safe; false at first and after a
    /// failure that may have left the journal in doubt.
    folded: bool,
    lines: usize,
}

/// The bytes of one save, ready to go to disk.
pub struct Pending {
    path: PathBuf,
    write: Bytes,
}

enum Bytes {
    Append(Vec<u8>),
    Snapshot(Vec<u8>),
}

/// Below this many lines the journal is never folded, however small the session.
const MIN_JOURNAL_LINES: usize = 64;

impl Journal {
    pub fn new(state_path: &Path) -> Journal {
        Journal {
            path: state_path.to_path_buf(),
            folded: false,
            lines: 0,
        }
    }

    /// What to write to make `st` durable, `change` being all that differs from the last save.
    pub fn prepare(&self, st: &SavedState, change: &Change) -> Result<Pending, StateError> {
        let corrupt = |e: serde_json::Error| StateError::Corrupt {
            path: self.path.clone(),
            reason: e.to_string(),
        };
        // A change to most of the session is as big as a snapshot: write that instead.
        let fold = change.all
            || !self.folded
            || change.upsert.len() > MIN_JOURNAL_LINES.max(st.torrents.len() / 2)
            || self.lines >= MIN_JOURNAL_LINES.max(st.torrents.len());
        let write = if fold {
            Bytes::Snapshot(serde_json::to_vec_pretty(st).map_err(corrupt)?)
        } else {
            let mut line = serde_json::to_vec(&Delta::of(st, change)).map_err(corrupt)?;
            line.push(b'\n');
            Bytes::Append(line)
        };
        Ok(Pending {
            path: self.path.clone(),
            write,
        })
    }

    /// Records how [`Pending::write`] went.
    pub fn finished(&mut self, outcome: &Result<Written, StateError>) {
        match outcome {
            Ok(Written::Appended) => self.lines += 1,
            Ok(Written::Folded) => {
                self.lines = 0;
                self.folded = true;
            }
            // What is on disk is in doubt: the next save writes a fresh snapshot.
            Err(_) => self.folded = false,
        }
    }

    /// [`Journal::prepare`], [`Pending::write`] and [`Journal::finished`] in one go, for
    /// callers that need no async split.
    pub fn save(&mut self, st: &SavedState, change: &Change) -> Result<(), StateError> {
        let out = self.prepare(st, change)?.write();
        self.finished(&out);
        out.map(|_| ())
    }
}

/// What [`Pending::write`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Written {
    Appended,
    Folded,
}

impl Pending {
    /// Writes and syncs; returns once it would survive a crash.
    pub fn write(self) -> Result<Written, StateError> {
        match self.write {
            Bytes::Snapshot(bytes) => {
                write_atomic(&self.path, &bytes)?;
                let log = journal_path(&self.path);
                match fs::remove_file(&log) {
                    Ok(()) => Ok(Written::Folded),
                    Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(Written::Folded),
                    // A journal that cannot go keeps its lines; the next save folds again.
                    Err(source) => Err(StateError::Io {
                        op: "removing",
                        path: log,
                        source,
                    }),
                }
            }
            Bytes::Append(line) => {
                let log = journal_path(&self.path);
                let mut f = OpenOptions::new()
                    .create(true)
                    .append(true)
                    .open(&log)
                    .map_err(|source| StateError::Io {
                        op: "opening",
                        path: log.clone(),
                        source,
                    })?;
                let before = f.metadata().map(|m| m.len());
                let appended = f.write_all(&line).and_then(|()| f.sync_data());
                if let Err(source) = appended {
                    // The change is not acknowledged: take back whatever part of the line
                    // reached the file, so a restart does not apply it. Should that fail too,
                    // the caller's next save folds everything into a snapshot.
                    if let Ok(len) = before {
                        let _ = f.set_len(len).and_then(|()| f.sync_data());
                    }
                    tracing::warn!("appending to {}: {source}", log.display());
                    return Err(StateError::Io {
                        op: "appending to",
                        path: log,
                        source,
                    });
                }
                Ok(Written::Appended)
            }
        }
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
    // The controller finds records by binary search over ids.
    if !st.torrents.is_sorted_by_key(|r| r.id) {
        st.torrents.sort_by_key(|r| r.id);
    }
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
    let mut index = index_of(&st.torrents);
    for (n, line) in bytes[..complete].split(|&b| b == b'\n').enumerate() {
        if line.is_empty() {
            continue;
        }
        let delta: Delta = serde_json::from_slice(line).map_err(|e| StateError::Corrupt {
            path: log.clone(),
            reason: format!("line {}: {e}", n + 1),
        })?;
        delta.apply(st, &mut index);
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
    replace(path, bytes, Durability::Now)
}

/// [`write_atomic`] without the syncs, for a batch made durable at once by
/// [`sync_filesystem`] afterwards.
pub fn write_atomic_unsynced(path: &Path, bytes: &[u8]) -> Result<(), StateError> {
    replace(path, bytes, Durability::Batched)
}

/// Flushes everything written to the filesystem that holds `dir` (syncfs(2)): one flush for a
/// batch of files where an fsync each would cost a journal commit each.
pub fn sync_filesystem(dir: &Path) -> Result<(), StateError> {
    durable::sync_filesystem(dir).map_err(|source| StateError::Io {
        op: "syncing",
        path: dir.to_path_buf(),
        source,
    })
}

fn replace(path: &Path, bytes: &[u8], durability: Durability) -> Result<(), StateError> {
    durable::replace(path, bytes, durability).map_err(|e| StateError::Io {
        op: e.op,
        path: e.path,
        source: e.source,
    })
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
            let mut change = Change::upsert(vec![id]);
            if id % 7 == 0 {
                st.torrents.retain(|r| r.id != id - 3);
                change.remove.push(id - 3);
            }
            if id % 11 == 0 {
                st.torrents[0].paused = !st.torrents[0].paused;
                change.upsert.push(st.torrents[0].id);
                st.down_limit = Some(u64::from(id));
            }
            j.save(&st, &change).expect("save");
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
        j.save(&st, &Change::header()).expect("fold");
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
        j.save(&st, &Change::upsert((1..=1000).collect()))
            .expect("first save is a snapshot");
        let snapshot = fs::metadata(&p).expect("stat").len();
        st.torrents.push(record(1001));
        j.save(&st, &Change::upsert(vec![1001])).expect("add");
        let log = fs::metadata(journal_path(&p)).expect("stat").len();
        assert!(
            log * 50 < snapshot,
            "journal {log} B for one add, snapshot {snapshot} B"
        );
        assert_eq!(load(&p).expect("load"), st);
    }
}
