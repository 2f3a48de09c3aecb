//! Fast resume: skip the full recheck after a clean stop, recheck only what must be after a
//! crash.
//!
//! # The contract the engine follows
//!
//! - Before saving any checkpoint it calls [`Storage::sync`], so every piece in `have` is on
//!   stable storage before the checkpoint that lists it is.
//! - While running it saves `clean: false` checkpoints now and then; on a clean stop, after
//!   the last write and a final sync, it saves `clean: true` with fresh [`Storage::stamps`].
//! - A verified piece is never written again, so a piece listed in any checkpoint stays
//!   correct on disk unless someone else touches the file.
//!
//! Given that, [`startup_bitfield`] trusts what it can and hashes the rest:
//!
//! | resume data | what is hashed |
//! | --- | --- |
//! | none, unreadable, other torrent, other piece count | every piece |
//! | clean stop, every file stamp matches | nothing |
//! | clean stop, some stamps differ (file touched elsewhere) | pieces overlapping the changed files |
//! | crash checkpoint (`clean: false`) | pieces not in `have` (they may have completed after the checkpoint), plus pieces of files whose length changed (a truncated file lost data whatever the checkpoint says) |
//!
//! Saves are atomic (temporary file, fsync, rename, fsync of the directory), so a crash while
//! saving leaves the previous checkpoint intact.

use std::fs;
use std::io;
use std::path::{Path, PathBuf};

use crate::bencode::{self, Owned};
use crate::engine::bitfield::Bitfield;
use crate::engine::durable::{self, Durability};
use crate::engine::storage::{FileStamp, Storage, StorageError};
use crate::engine::types::InfoHash;

/// Bumped when the layout of the file changes; other versions are treated as corrupt.
const FORMAT_VERSION: i64 = 1;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ResumeData {
    pub info_hash: InfoHash,
    pub have: Bitfield,
    pub stamps: Vec<FileStamp>,
    pub clean: bool,
    pub uploaded: u64,
    pub downloaded: u64,
    pub saved_at_unix: i64,
}

#[derive(Debug, thiserror::Error)]
pub enum ResumeError {
    #[error("{op} {}: {source}", .path.display())]
    Io {
        op: &'static str,
        path: PathBuf,
        source: io::Error,
    },
    #[error("reading {}: corrupt resume data: {reason}", .path.display())]
    Corrupt { path: PathBuf, reason: String },
    #[error("reading {}: resume data is for torrent {found}, expected {expected}", .path.display())]
    WrongTorrent {
        path: PathBuf,
        expected: InfoHash,
        found: InfoHash,
    },
    #[error("reading {}: resume data has {found} pieces, the torrent has {expected}", .path.display())]
    PieceCount {
        path: PathBuf,
        expected: usize,
        found: usize,
    },
}

/// How much [`startup_bitfield`] had to hash.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RecheckKind {
    /// Resume data was trusted as is.
    None,
    /// Only these many pieces were hashed.
    Partial(usize),
    /// No usable resume data: every piece was hashed.
    Full,
}

/// `data_dir/resume/<hex info-hash>.resume`
pub fn resume_path(data_dir: &Path, info_hash: &InfoHash) -> PathBuf {
    data_dir
        .join("resume")
        .join(format!("{}.resume", info_hash.to_hex()))
}

/// Writes `r` bencoded, atomically: a crash at any moment leaves either the old or the new
/// file, never a torn one. With [`Durability::Batched`] the caller makes it durable later
/// (a session stopping 10,000 torrents flushes once, not 20,000 times).
pub fn save(path: &Path, r: &ResumeData, durability: Durability) -> Result<(), ResumeError> {
    durable::replace(path, &encode(r), durability).map_err(|e| ResumeError::Io {
        op: e.op,
        path: e.path,
        source: e.source,
    })
}

/// Reads resume data: `None` if absent, an error if it is corrupt or belongs to another
/// torrent (the caller then rechecks everything).
///
/// When the file is named `<hex info-hash>.resume` (see [`resume_path`]) the hash inside must
/// match the name, so a file copied or renamed onto the wrong torrent is never trusted.
pub fn load(path: &Path, num_pieces: usize) -> Result<Option<ResumeData>, ResumeError> {
    let bytes = match fs::read(path) {
        Ok(b) => b,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
        Err(source) => {
            return Err(ResumeError::Io {
                op: "reading",
                path: path.to_path_buf(),
                source,
            });
        }
    };
    let corrupt = |reason: String| ResumeError::Corrupt {
        path: path.to_path_buf(),
        reason,
    };
    let (r, stored_pieces) = decode(&bytes).map_err(corrupt)?;
    if stored_pieces != num_pieces {
        return Err(ResumeError::PieceCount {
            path: path.to_path_buf(),
            expected: num_pieces,
            found: stored_pieces,
        });
    }
    if let Some(expected) = hash_from_name(path)
        && expected != r.info_hash
    {
        return Err(ResumeError::WrongTorrent {
            path: path.to_path_buf(),
            expected,
            found: r.info_hash,
        });
    }
    Ok(Some(r))
}

/// How a torrent's pieces are checked on disk: one SHA-1 each (v1), or through the info
/// dict's v2 merkle roots as well (v2 and hybrid torrents).
pub trait PieceCheck {
    fn recheck(
        &self,
        storage: &Storage,
        which: &dyn Fn(usize) -> bool,
        progress: &mut dyn FnMut(usize, usize),
    ) -> Result<Bitfield, StorageError>;
}

impl PieceCheck for [[u8; 20]] {
    fn recheck(
        &self,
        storage: &Storage,
        which: &dyn Fn(usize) -> bool,
        progress: &mut dyn FnMut(usize, usize),
    ) -> Result<Bitfield, StorageError> {
        storage.recheck(self, which, progress)
    }
}

impl PieceCheck for Vec<[u8; 20]> {
    fn recheck(
        &self,
        storage: &Storage,
        which: &dyn Fn(usize) -> bool,
        progress: &mut dyn FnMut(usize, usize),
    ) -> Result<Bitfield, StorageError> {
        storage.recheck(self, which, progress)
    }
}

impl PieceCheck for crate::engine::metainfo::Info {
    fn recheck(
        &self,
        storage: &Storage,
        which: &dyn Fn(usize) -> bool,
        progress: &mut dyn FnMut(usize, usize),
    ) -> Result<Bitfield, StorageError> {
        if self.v2.is_none() {
            // v1: the streaming SHA-1 path, no whole-piece buffer.
            return storage.recheck(&self.pieces, which, progress);
        }
        storage.recheck_with(which, |i, d| self.verify_piece(i as u32, d), progress)
    }
}

/// Decides what is verified at startup (see the module docs for the table) and returns the
/// pieces we have.
///
/// `resume` must come from [`load`] with this torrent's [`resume_path`]: `load` is what
/// refuses data saved for another info-hash. Data whose piece or file count does not match
/// `storage` is ignored (full recheck).
pub fn startup_bitfield(
    storage: &Storage,
    pieces: &(impl PieceCheck + ?Sized),
    resume: Option<&ResumeData>,
    mut progress: impl FnMut(usize, usize),
) -> Result<(Bitfield, RecheckKind), StorageError> {
    let n = storage.num_pieces();
    let current = storage.stamps();
    let usable = resume.filter(|r| r.have.len() == n && r.stamps.len() == current.len());
    // Pieces in files created just now are certainly missing: hashing sparse zeros would
    // cost a fresh 1 GiB download a second of CPU for nothing.
    let new = |i: usize| storage.piece_in_new_file(i);
    let Some(r) = usable else {
        let hashed = (0..n).filter(|&i| !new(i)).count();
        if hashed == 0 {
            return Ok((Bitfield::new(n), RecheckKind::Partial(0)));
        }
        let have = pieces.recheck(storage, &|i| !new(i), &mut progress)?;
        let kind = if hashed == n {
            RecheckKind::Full
        } else {
            RecheckKind::Partial(hashed)
        };
        return Ok((have, kind));
    };
    let changed: Vec<bool> = if r.clean {
        r.stamps.iter().zip(&current).map(|(a, b)| a != b).collect()
    } else {
        // Our own writes after the checkpoint moved mtimes, so only a length change means
        // something: the file was truncated or replaced.
        r.stamps
            .iter()
            .zip(&current)
            .map(|(a, b)| a.length != b.length)
            .collect()
    };
    let suspect = pieces_of_files(storage, &changed);
    let must_hash = |i: usize| !new(i) && (suspect.get(i) || (!r.clean && !r.have.get(i)));
    let hashed = (0..n).filter(|&i| must_hash(i)).count();
    let verified = if hashed == 0 {
        Bitfield::new(n)
    } else {
        pieces.recheck(storage, &must_hash, &mut progress)?
    };
    let mut have = Bitfield::new(n);
    for i in 0..n {
        let ok = if must_hash(i) {
            verified.get(i)
        } else {
            !new(i) && r.have.get(i)
        };
        if ok {
            have.set(i);
        }
    }
    if hashed == 0 {
        return Ok((have, RecheckKind::None));
    }
    Ok((have, RecheckKind::Partial(hashed)))
}

fn pieces_of_files(storage: &Storage, changed: &[bool]) -> Bitfield {
    let mut out = Bitfield::new(storage.num_pieces());
    for (file, _) in changed.iter().enumerate().filter(|(_, c)| **c) {
        for i in storage.file_piece_range(file) {
            out.set(i);
        }
    }
    out
}

fn hash_from_name(path: &Path) -> Option<InfoHash> {
    let name = path.file_name()?.to_str()?;
    InfoHash::from_hex(name.strip_suffix(".resume")?).ok()
}

fn encode(r: &ResumeData) -> Vec<u8> {
    let stamps: Vec<Owned> = r
        .stamps
        .iter()
        .map(|s| {
            // mtime fits in i64 nanoseconds until the year 2262.
            let mtime = i64::try_from(s.mtime_ns).unwrap_or(i64::MIN);
            Owned::List(vec![Owned::from(s.length), Owned::Int(mtime)])
        })
        .collect();
    Owned::dict()
        .with("version", FORMAT_VERSION)
        .with("info-hash", &r.info_hash.0[..])
        .with("pieces", r.have.len())
        .with("have", r.have.as_bytes())
        .with("files", stamps)
        .with("clean", i64::from(r.clean))
        .with("uploaded", r.uploaded)
        .with("downloaded", r.downloaded)
        .with("saved-at", r.saved_at_unix)
        .encode()
}

/// Parses resume data; returns it with its stored piece count, or why it is corrupt.
fn decode(bytes: &[u8]) -> Result<(ResumeData, usize), String> {
    let value = bencode::decode(bytes).map_err(|e| e.to_string())?;
    let d = value.as_dict().ok_or("not a dictionary")?;
    let int = |key: &str| d.get_int(key).ok_or(format!("missing integer '{key}'"));
    let uint = |key: &str| {
        int(key).and_then(|v| u64::try_from(v).map_err(|_| format!("negative '{key}'")))
    };
    let version = int("version")?;
    if version != FORMAT_VERSION {
        return Err(format!("unknown version {version}"));
    }
    let hash: [u8; 20] = d
        .get_bytes("info-hash")
        .and_then(|b| b.try_into().ok())
        .ok_or("'info-hash' is not 20 bytes")?;
    let pieces = usize::try_from(uint("pieces")?).map_err(|_| "'pieces' too large")?;
    let have = d
        .get_bytes("have")
        .and_then(|b| Bitfield::from_bytes(b, pieces))
        .ok_or("'have' does not match 'pieces'")?;
    let stamps = d
        .get_list("files")
        .ok_or("missing 'files'")?
        .iter()
        .map(decode_stamp)
        .collect::<Option<Vec<_>>>()
        .ok_or("malformed 'files' entry")?;
    let r = ResumeData {
        info_hash: InfoHash(hash),
        have,
        stamps,
        clean: int("clean")? != 0,
        uploaded: uint("uploaded")?,
        downloaded: uint("downloaded")?,
        saved_at_unix: int("saved-at")?,
    };
    Ok((r, pieces))
}

fn decode_stamp(v: &bencode::Value<'_>) -> Option<FileStamp> {
    match v.as_list()? {
        [len, mtime] => Some(FileStamp {
            length: u64::try_from(len.as_int()?).ok()?,
            mtime_ns: i128::from(mtime.as_int()?),
        }),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::metainfo::{FileEntry, Info};
    use sha1::{Digest, Sha1};
    use std::fs::File;
    use std::os::unix::fs::FileExt;
    use std::time::{Duration, UNIX_EPOCH};

    const PIECE: u64 = 16;

    /// Three files: a (20 bytes, pieces 0-1), b (28 bytes, pieces 1-2), c (16 bytes, piece 3).
    fn fixture(dir: &Path) -> (Info, Storage) {
        let lens = [20u64, 28, 16];
        let mut offset = 0;
        let mut files = Vec::new();
        for (i, len) in lens.iter().enumerate() {
            files.push(FileEntry {
                path: vec![format!("f{i}")],
                length: *len,
                offset,
                pad: false,
            });
            offset += len;
        }
        let data: Vec<u8> = (0..offset).map(|i| (i * 13 + 5) as u8).collect();
        let info = Info {
            name: "r".into(),
            piece_length: PIECE,
            pieces: data
                .chunks(PIECE as usize)
                .map(|c| Sha1::digest(c).into())
                .collect(),
            files,
            total_length: offset,
            private: false,
            single_file: false,
            v2: None,
        };
        let s = Storage::open(&info, dir).expect("open");
        for (i, chunk) in data.chunks(PIECE as usize).enumerate() {
            s.write_piece(i, chunk).expect("write");
        }
        s.sync().expect("sync");
        (info, s)
    }

    fn resume_of(s: &Storage, have: Bitfield, clean: bool) -> ResumeData {
        ResumeData {
            info_hash: InfoHash([7; 20]),
            have,
            stamps: s.stamps(),
            clean,
            uploaded: 123,
            downloaded: u64::from(u32::MAX) * 3,
            saved_at_unix: 1_700_000_000,
        }
    }

    fn corrupt_on_disk(dir: &Path, file: &str, at: u64) {
        let f = File::options()
            .read(true)
            .write(true)
            .open(dir.join("r").join(file))
            .expect("open");
        let mut b = [0u8];
        f.read_exact_at(&mut b, at).expect("read");
        let mtime = f.metadata().expect("meta").modified().expect("mtime");
        f.write_all_at(&[b[0] ^ 1], at).expect("write");
        // Keep the stamp identical: this corruption is invisible to stamp checks on purpose,
        // so a test can tell a trusted piece from a hashed one.
        f.set_modified(mtime).expect("restore mtime");
    }

    #[test]
    fn save_load_round_trip_and_errors() {
        let dir = tempfile::tempdir().expect("tempdir");
        let (_, s) = fixture(dir.path());
        let mut have = Bitfield::new(4);
        have.set(1);
        have.set(3);
        let r = resume_of(&s, have, true);
        let path = resume_path(dir.path(), &r.info_hash);
        assert!(path.ends_with(format!("resume/{}.resume", r.info_hash.to_hex())));
        assert!(load(&path, 4).expect("absent").is_none());
        save(&path, &r, Durability::Now).expect("save");
        assert_eq!(load(&path, 4).expect("load"), Some(r.clone()));
        let mut r2 = r.clone();
        r2.clean = false;
        save(&path, &r2, Durability::Now).expect("overwrite");
        assert_eq!(load(&path, 4).expect("load"), Some(r2));
        let leftovers = fs::read_dir(path.parent().expect("dir"))
            .expect("ls")
            .count();
        assert_eq!(leftovers, 1, "no temporary files left behind");

        assert!(matches!(
            load(&path, 5),
            Err(ResumeError::PieceCount { .. })
        ));
        let other = resume_path(dir.path(), &InfoHash([8; 20]));
        fs::copy(&path, &other).expect("copy");
        assert!(matches!(
            load(&other, 4),
            Err(ResumeError::WrongTorrent { .. })
        ));

        fs::write(&path, b"d7:versioni1ee").expect("truncate");
        let err = load(&path, 4).expect_err("corrupt");
        assert!(matches!(err, ResumeError::Corrupt { .. }));
        assert!(err.to_string().contains(&path.display().to_string()));
        fs::write(&path, b"\x00garbage").expect("garbage");
        assert!(matches!(load(&path, 4), Err(ResumeError::Corrupt { .. })));
    }

    #[test]
    fn no_resume_data_means_full_recheck() {
        let dir = tempfile::tempdir().expect("tempdir");
        let (info, s) = fixture(dir.path());
        corrupt_on_disk(dir.path(), "f2", 0);
        let (have, kind) = startup_bitfield(&s, &info.pieces, None, |_, _| {}).expect("startup");
        assert_eq!(kind, RecheckKind::Full);
        assert_eq!(have.iter_ones().collect::<Vec<_>>(), vec![0, 1, 2]);
        let wrong_count = ResumeData {
            have: Bitfield::full(3),
            ..resume_of(&s, Bitfield::full(4), true)
        };
        let (_, kind) =
            startup_bitfield(&s, &info.pieces, Some(&wrong_count), |_, _| {}).expect("startup");
        assert_eq!(kind, RecheckKind::Full);
    }

    #[test]
    fn clean_stop_with_matching_stamps_hashes_nothing() {
        let dir = tempfile::tempdir().expect("tempdir");
        let (info, s) = fixture(dir.path());
        let r = resume_of(&s, Bitfield::full(4), true);
        corrupt_on_disk(dir.path(), "f0", 0);
        let mut calls = 0;
        let (have, kind) =
            startup_bitfield(&s, &info.pieces, Some(&r), |_, _| calls += 1).expect("startup");
        assert_eq!(kind, RecheckKind::None);
        assert!(have.all(), "trusted, not hashed");
        assert_eq!(calls, 0);
    }

    #[test]
    fn changed_stamp_rechecks_only_overlapping_pieces() {
        let dir = tempfile::tempdir().expect("tempdir");
        let (info, s) = fixture(dir.path());
        let r = resume_of(&s, Bitfield::full(4), true);
        // Invisible corruption in f0 (piece 0): trusted. Visible touch of f2 (piece 3, whose
        // data is also corrupted): rechecked and dropped.
        corrupt_on_disk(dir.path(), "f0", 0);
        corrupt_on_disk(dir.path(), "f2", 5);
        File::options()
            .write(true)
            .open(dir.path().join("r/f2"))
            .expect("open")
            .set_modified(UNIX_EPOCH + Duration::from_secs(42))
            .expect("touch");
        let mut last = (0, 0);
        let (have, kind) =
            startup_bitfield(&s, &info.pieces, Some(&r), |d, t| last = (d, t)).expect("startup");
        assert_eq!(kind, RecheckKind::Partial(1));
        assert_eq!(last, (1, 1));
        assert_eq!(have.iter_ones().collect::<Vec<_>>(), vec![0, 1, 2]);
    }

    #[test]
    fn changed_middle_file_rechecks_pieces_on_both_sides() {
        let dir = tempfile::tempdir().expect("tempdir");
        let (info, s) = fixture(dir.path());
        let r = resume_of(&s, Bitfield::full(4), true);
        File::options()
            .write(true)
            .open(dir.path().join("r/f1"))
            .expect("open")
            .set_modified(UNIX_EPOCH + Duration::from_secs(42))
            .expect("touch");
        let (have, kind) =
            startup_bitfield(&s, &info.pieces, Some(&r), |_, _| {}).expect("startup");
        assert_eq!(kind, RecheckKind::Partial(2), "f1 spans pieces 1 and 2");
        assert!(have.all());
    }

    #[test]
    fn crash_checkpoint_hashes_only_missing_pieces() {
        let dir = tempfile::tempdir().expect("tempdir");
        let (info, s) = fixture(dir.path());
        let mut have = Bitfield::new(4);
        have.set(0);
        have.set(1);
        let r = resume_of(&s, have, false);
        // Piece 0 is trusted even though its bytes changed; piece 2 completed after the
        // checkpoint and is found; piece 3 is corrupt and is not.
        corrupt_on_disk(dir.path(), "f0", 0);
        corrupt_on_disk(dir.path(), "f2", 0);
        // Our own later writes move mtimes; that alone must not trigger rechecks.
        File::options()
            .write(true)
            .open(dir.path().join("r/f0"))
            .expect("open")
            .set_modified(UNIX_EPOCH + Duration::from_secs(42))
            .expect("touch");
        let (got, kind) = startup_bitfield(&s, &info.pieces, Some(&r), |_, _| {}).expect("startup");
        assert_eq!(kind, RecheckKind::Partial(2));
        assert_eq!(got.iter_ones().collect::<Vec<_>>(), vec![0, 1, 2]);
    }

    #[test]
    fn crash_checkpoint_rechecks_truncated_files() {
        let dir = tempfile::tempdir().expect("tempdir");
        let (info, s) = fixture(dir.path());
        let r = resume_of(&s, Bitfield::full(4), false);
        File::options()
            .write(true)
            .open(dir.path().join("r/f2"))
            .expect("open")
            .set_len(4)
            .expect("truncate");
        let (got, kind) = startup_bitfield(&s, &info.pieces, Some(&r), |_, _| {}).expect("startup");
        assert_eq!(kind, RecheckKind::Partial(1));
        assert_eq!(got.iter_ones().collect::<Vec<_>>(), vec![0, 1, 2]);
    }

    #[test]
    fn new_files_are_not_hashed_and_never_trusted() {
        let dir = tempfile::tempdir().expect("tempdir");
        let (info, s) = fixture(dir.path());
        let all = Bitfield::full(4);
        let r = resume_of(&s, all, true);
        drop(s);

        // A fresh download directory: every file is new, nothing is read.
        let empty = tempfile::tempdir().expect("tempdir");
        let fresh = Storage::open(&info, empty.path()).expect("open");
        let mut calls = 0;
        let (have, kind) =
            startup_bitfield(&fresh, &info.pieces, None, |_, _| calls += 1).expect("startup");
        assert!(have.none());
        assert_eq!(kind, RecheckKind::Partial(0));
        assert_eq!(calls, 0, "hashed sparse zeros");

        // f2 (piece 3) deleted behind our back: resume data claims it, the new file wins.
        std::fs::remove_file(dir.path().join("r").join("f2")).expect("rm");
        let s = Storage::open(&info, dir.path()).expect("reopen");
        let (have, _) = startup_bitfield(&s, &info.pieces, Some(&r), |_, _| {}).expect("startup");
        assert_eq!(have.iter_ones().collect::<Vec<_>>(), vec![0, 1, 2]);
    }
}
