//! The piece ↔ file layer: maps a torrent's concatenated byte stream onto files under the
//! download directory, and reads, writes and hashes pieces.
//!
//! Every method takes `&self` so one `Storage` can be shared by all peer tasks through an
//! `Arc`. I/O is positioned (`pread`/`pwrite`), so concurrent peers never contend on a file
//! cursor; file handles are opened lazily and cached, and the cache is bounded across the
//! whole process (see [`FdCache`]), so neither a torrent with thousands of files nor a session
//! of a thousand torrents can exhaust the process's descriptors.
//!
//! Names from the torrent are outside input: [`sanitize_component`] refuses anything that
//! could climb out of the download directory, and [`Storage::open`] refuses to follow
//! symbolic links it finds while creating the tree. All checks run before anything is created,
//! so a hostile torrent leaves no trace on disk.

use std::collections::{HashSet, VecDeque};
use std::fs::{self, File, OpenOptions};
use std::io;
use std::ops::Range;
use std::os::unix::fs::{FileExt, MetadataExt, OpenOptionsExt};
use std::path::{Component, Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, OnceLock, PoisonError, RwLock, Weak};
use std::time::{Duration, Instant};

use sha1::{Digest, Sha1};

use crate::engine::bitfield::Bitfield;
use crate::engine::direct_io;
use crate::engine::metainfo::Info;

/// Longest file-name component most file systems accept (ext4, btrfs, xfs, NTFS, APFS).
const MAX_COMPONENT_BYTES: usize = 255;
/// An extension longer than this is not worth keeping when a name must be truncated.
const MAX_KEPT_EXTENSION: usize = 32;
/// Cached data-file descriptors across the whole process, at most; fewer when the descriptor
/// limit is low (a quarter of it), so that sockets, resume saves and the control socket
/// always find descriptors. A thousand torrents each holding their files open hit the common
/// 1 024 limit (issue 17).
const MAX_OPEN_FILES: usize = 512;
/// The floor of that budget, whatever the limit says: below it every piece would reopen files.
const MIN_OPEN_FILES: usize = 16;
/// Read size while hashing: large enough for sequential throughput, small enough that a
/// 64 MiB piece does not cost 64 MiB of memory.
const HASH_CHUNK: usize = 1 << 20;
/// How often `recheck` reports progress.
const PROGRESS_EVERY: Duration = Duration::from_millis(100);
/// Names Windows reserves in every directory, with or without an extension.
const WINDOWS_RESERVED: &[&str] = &[
    "CON", "PRN", "AUX", "NUL", "COM1", "COM2", "COM3", "COM4", "COM5", "COM6", "COM7", "COM8",
    "COM9", "LPT1", "LPT2", "LPT3", "LPT4", "LPT5", "LPT6", "LPT7", "LPT8", "LPT9",
];

#[derive(Debug, thiserror::Error)]
pub enum StorageError {
    #[error("{op} {}{}: {source}", .path.display(), at_offset(.offset))]
    Io {
        op: &'static str,
        path: PathBuf,
        offset: Option<u64>,
        source: io::Error,
    },
    #[error("opening torrent: unsafe name {component:?} in the torrent ({reason})")]
    UnsafeName {
        component: String,
        reason: &'static str,
    },
    #[error("creating {}: outside the download directory {}", .path.display(), .dir.display())]
    OutsideDir { path: PathBuf, dir: PathBuf },
    #[error("creating {}: already exists as a symbolic link or special file; refusing to use it", .path.display())]
    NotRegular { path: PathBuf },
    #[error("opening torrent: {} is listed twice (or as both a file and a directory)", .path.display())]
    DuplicatePath { path: PathBuf },
    #[error("{op} piece {index} bytes {begin}+{len} under {}: out of range (piece is {piece_size} bytes, torrent has {num_pieces} pieces)", .root.display())]
    OutOfRange {
        op: &'static str,
        root: PathBuf,
        index: usize,
        begin: u64,
        len: u64,
        piece_size: u64,
        num_pieces: usize,
    },
    #[error("{op} {}: {got} piece hashes given, the torrent has {expected} pieces", .root.display())]
    PieceCount {
        op: &'static str,
        root: PathBuf,
        got: usize,
        expected: usize,
    },
}

fn at_offset(offset: &Option<u64>) -> String {
    offset
        .map(|o| format!(" at offset {o}"))
        .unwrap_or_default()
}

fn io_err(op: &'static str, path: &Path, offset: Option<u64>, source: io::Error) -> StorageError {
    StorageError::Io {
        op,
        path: path.to_path_buf(),
        offset,
        source,
    }
}

impl StorageError {
    /// True when the data simply is not on disk (file missing or shorter than the torrent says):
    /// the piece is missing, nothing is broken.
    pub fn is_missing_data(&self) -> bool {
        matches!(self, StorageError::Io { source, .. }
            if matches!(source.kind(), io::ErrorKind::NotFound | io::ErrorKind::UnexpectedEof))
    }
}

/// What resume validation compares to decide whether someone else touched a file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FileStamp {
    pub length: u64,
    pub mtime_ns: i128,
}

impl FileStamp {
    /// The stamp of a file that is absent (or not a regular file). Fits in an i64 so it
    /// survives bencoding.
    pub const MISSING: FileStamp = FileStamp {
        length: 0,
        mtime_ns: i64::MIN as i128,
    };
}

/// Makes one path component from a torrent safe to use as a file name.
///
/// Refuses (an error naming the component) what could address another directory: empty, `.`,
/// `..`, anything containing `/`, `\` or NUL. Rewrites what is merely unusable: control
/// characters become `_`, trailing dots and spaces are dropped, Windows device names get a `_`
/// prefix, and names over 255 bytes are cut short keeping their extension. Other Unicode is
/// kept as is.
pub fn sanitize_component(name: &str) -> Result<String, StorageError> {
    let refuse = |reason| {
        Err(StorageError::UnsafeName {
            component: name.to_string(),
            reason,
        })
    };
    if name.is_empty() {
        return refuse("empty path component");
    }
    if name == "." || name == ".." {
        return refuse("relative directory component");
    }
    if name.contains(['/', '\\']) {
        return refuse("contains a path separator");
    }
    if name.contains('\0') {
        return refuse("contains a NUL byte");
    }
    let replaced: String = name
        .chars()
        .map(|c| if c.is_control() { '_' } else { c })
        .collect();
    let mut s =
        trim_trailing_dots_spaces(truncate_keeping_extension(&replaced, MAX_COMPONENT_BYTES));
    if is_windows_reserved(&s) {
        s.insert(0, '_');
        s = truncate_keeping_extension(&s, MAX_COMPONENT_BYTES);
    }
    Ok(s)
}

fn trim_trailing_dots_spaces(mut s: String) -> String {
    let keep = s.trim_end_matches(['.', ' ']).len();
    s.truncate(keep);
    if s.is_empty() {
        s.push('_');
    }
    s
}

fn is_windows_reserved(s: &str) -> bool {
    let stem = s.split('.').next().unwrap_or(s).trim_end();
    WINDOWS_RESERVED
        .iter()
        .any(|r| r.eq_ignore_ascii_case(stem))
}

/// Cuts `s` to at most `max` bytes on a character boundary, keeping a short extension.
fn truncate_keeping_extension(s: &str, max: usize) -> String {
    if s.len() <= max {
        return s.to_string();
    }
    let ext = match s.rfind('.') {
        Some(dot) if dot > 0 && s.len() - dot <= MAX_KEPT_EXTENSION => &s[dot..],
        _ => "",
    };
    let stem = &s[..s.len() - ext.len()];
    let mut cut = max - ext.len();
    while !stem.is_char_boundary(cut) {
        cut -= 1;
    }
    format!("{}{ext}", &stem[..cut])
}

/// One entry of the torrent's file list, in torrent order (pad and empty files included, so
/// offsets stay searchable).
struct Slot {
    offset: u64,
    length: u64,
    /// `None` for BEP 47 padding files, which only exist in the piece layout.
    path: Option<PathBuf>,
    handle: Arc<HandleCell>,
    /// Written since the last `sync`.
    dirty: AtomicBool,
    /// Created empty by this `open` and not written since: nothing but sparse zeros.
    fresh: AtomicBool,
}

struct Handle {
    file: File,
    writable: bool,
    /// The same file opened for write-through (O_DIRECT), on the first aligned write;
    /// `None` inside where the filesystem refuses it.
    direct: OnceLock<Option<File>>,
}

impl Handle {
    /// Writes `bytes` at `offset`: straight to the disk where [`direct_io`] takes the range,
    /// through the page cache otherwise.
    fn write_at(&self, path: &Path, bytes: &[u8], offset: u64) -> io::Result<()> {
        if direct_io::suits(offset, bytes.len())
            && let Some(direct) = self.direct.get_or_init(|| direct_io::open(path))
        {
            match direct_io::write_at(direct, bytes, offset) {
                // This file or device wants other alignment: the page cache takes it.
                Err(e) if e.raw_os_error() == Some(libc::EINVAL) => {}
                done => return done,
            }
        }
        self.file.write_all_at(bytes, offset)
    }
}

/// The part of a byte range that falls into one file.
struct Segment {
    slot: usize,
    file_offset: u64,
    buf_offset: usize,
    len: usize,
}

pub struct Storage {
    root: PathBuf,
    piece_length: u64,
    total_length: u64,
    num_pieces: usize,
    slots: Vec<Slot>,
    /// Indices into `slots` of the real (non-pad) files, in torrent order.
    real: Vec<usize>,
    /// Directories that belong to the torrent, deepest first (for `delete_files`).
    dirs: Vec<PathBuf>,
}

impl std::fmt::Debug for Storage {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Storage")
            .field("root", &self.root)
            .field("files", &self.real.len())
            .field("num_pieces", &self.num_pieces)
            .finish_non_exhaustive()
    }
}

impl Storage {
    /// Maps the torrent into `download_dir`: single-file -> download_dir/<name>; multi-file ->
    /// download_dir/<name>/<path...>.
    ///
    /// Creates directories and files: missing files are created sparse (set_len), zero-length
    /// files are created, existing files are never truncated (shorter ones are extended with
    /// set_len). BEP 47 pad files are never created/written.
    pub fn open(info: &Info, download_dir: &Path) -> Result<Storage, StorageError> {
        let plan = plan_layout(info, download_dir)?;
        fs::create_dir_all(download_dir)
            .map_err(|e| io_err("creating directory", download_dir, None, e))?;
        let mut checked = HashSet::new();
        let mut fresh = Vec::with_capacity(info.files.len());
        for (entry, path) in info.files.iter().zip(&plan.paths) {
            let created = match path {
                Some(path) => {
                    ensure_parent_dirs(download_dir, path, &mut checked)?;
                    prepare_file(path, entry.length)?
                }
                None => false,
            };
            fresh.push(created);
        }
        let slots: Vec<Slot> = info
            .files
            .iter()
            .zip(plan.paths)
            .zip(fresh)
            .map(|((f, path), fresh)| Slot {
                offset: f.offset,
                length: f.length,
                path,
                handle: Arc::new(HandleCell::default()),
                dirty: AtomicBool::new(false),
                fresh: AtomicBool::new(fresh),
            })
            .collect();
        let real = (0..slots.len())
            .filter(|&i| slots[i].path.is_some())
            .collect();
        Ok(Storage {
            root: plan.root,
            piece_length: info.piece_length,
            total_length: info.total_length,
            num_pieces: info.num_pieces(),
            slots,
            real,
            dirs: plan.dirs,
        })
    }

    pub fn piece_length(&self) -> u64 {
        self.piece_length
    }

    pub fn num_pieces(&self) -> usize {
        self.num_pieces
    }

    /// Length of piece `index`; the last piece may be short, out of range is 0.
    pub fn piece_size(&self, index: usize) -> u64 {
        if index >= self.num_pieces {
            return 0;
        }
        let start = index as u64 * self.piece_length;
        self.piece_length
            .min(self.total_length.saturating_sub(start))
    }

    /// The top-level file (single-file torrent) or directory (multi-file torrent).
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// Real on-disk paths of every non-pad file, torrent order.
    pub fn file_paths(&self) -> Vec<PathBuf> {
        self.real_paths().map(Path::to_path_buf).collect()
    }

    /// The pieces that hold bytes of file `file` (an index into [`Storage::file_paths`]);
    /// empty for a zero-length file.
    /// Whether piece `index` overlaps a file that `open` created from nothing: such a piece
    /// cannot be on disk yet, so a recheck need not read it.
    pub fn piece_in_new_file(&self, index: usize) -> bool {
        let start = index as u64 * self.piece_length;
        let end = (start + self.piece_length).min(self.total_length);
        self.slots.iter().any(|s| {
            s.fresh.load(Ordering::Acquire)
                && s.length > 0
                && s.offset < end
                && start < s.offset + s.length
        })
    }

    pub fn file_piece_range(&self, file: usize) -> Range<usize> {
        let Some(slot) = self.real.get(file).map(|&i| &self.slots[i]) else {
            return 0..0;
        };
        if slot.length == 0 {
            return 0..0;
        }
        let first = slot.offset / self.piece_length;
        let last = (slot.offset + slot.length - 1) / self.piece_length;
        first as usize..last as usize + 1
    }

    /// File stamps (length, mtime in ns since epoch) of every non-pad file, torrent order; a
    /// missing file gets [`FileStamp::MISSING`].
    pub fn stamps(&self) -> Vec<FileStamp> {
        self.real_paths().map(stamp_of).collect()
    }

    /// Writes a whole verified piece (data.len() == piece_size) across the files it spans.
    pub fn write_piece(&self, index: usize, data: &[u8]) -> Result<(), StorageError> {
        let size = self.piece_size(index);
        if index >= self.num_pieces || data.len() as u64 != size {
            return Err(self.out_of_range("writing", index, 0, data.len() as u64));
        }
        let start = index as u64 * self.piece_length;
        for seg in self.segments(start, size) {
            let slot = &self.slots[seg.slot];
            let Some(path) = &slot.path else { continue };
            let handle = self.handle(seg.slot, true)?;
            let bytes = &data[seg.buf_offset..seg.buf_offset + seg.len];
            handle
                .write_at(path, bytes, seg.file_offset)
                .map_err(|e| io_err("writing", path, Some(seg.file_offset), e))?;
            // Set after the write so a concurrent `sync` that clears the flag first still
            // covers this write (fdatasync flushes everything written before it runs).
            slot.dirty.store(true, Ordering::Release);
            slot.fresh.store(false, Ordering::Release);
        }
        Ok(())
    }

    /// Reads buf.len() bytes at `begin` within piece `index`. Pad-file ranges read as zeros.
    /// Never creates a file: a file missing on disk is an error (see
    /// [`StorageError::is_missing_data`]). A file we may not write is opened read-only, so a
    /// seeder works from a read-only directory.
    pub fn read(&self, index: usize, begin: u64, buf: &mut [u8]) -> Result<(), StorageError> {
        let len = buf.len() as u64;
        let in_range = begin
            .checked_add(len)
            .is_some_and(|end| end <= self.piece_size(index));
        if index >= self.num_pieces || !in_range {
            return Err(self.out_of_range("reading", index, begin, len));
        }
        let start = index as u64 * self.piece_length + begin;
        for seg in self.segments(start, len) {
            let out = &mut buf[seg.buf_offset..seg.buf_offset + seg.len];
            self.read_segment(&seg, out)?;
        }
        Ok(())
    }

    pub fn hash_piece(&self, index: usize) -> Result<[u8; 20], StorageError> {
        if index >= self.num_pieces {
            return Err(self.out_of_range("hashing", index, 0, 0));
        }
        let mut buf = vec![0u8; self.hash_buffer_len()];
        self.hash_with(index, &mut buf)
    }

    /// Whether the piece on disk matches `expected`; missing data is simply `false`.
    pub fn verify_piece(&self, index: usize, expected: &[u8; 20]) -> Result<bool, StorageError> {
        match self.hash_piece(index) {
            Ok(h) => Ok(&h == expected),
            Err(e) if e.is_missing_data() => Ok(false),
            Err(e) => Err(e),
        }
    }

    /// fdatasync every file written since the last sync.
    pub fn sync(&self) -> Result<(), StorageError> {
        for &i in &self.real {
            let slot = &self.slots[i];
            if !slot.dirty.swap(false, Ordering::AcqRel) {
                continue;
            }
            let result = self.handle(i, false).and_then(|h| {
                h.file
                    .sync_data()
                    .map_err(|e| self.slot_err("syncing", i, e))
            });
            if let Err(e) = result {
                slot.dirty.store(true, Ordering::Release);
                return Err(e);
            }
        }
        Ok(())
    }

    /// Hashes the pieces for which `which(i)` is true, calling progress(done, total) now and
    /// then; returns the verified ones. A missing or short file just means its pieces are
    /// missing; other I/O errors are returned.
    pub fn recheck(
        &self,
        pieces: &[[u8; 20]],
        which: impl Fn(usize) -> bool,
        mut progress: impl FnMut(usize, usize),
    ) -> Result<Bitfield, StorageError> {
        if pieces.len() != self.num_pieces {
            return Err(StorageError::PieceCount {
                op: "rechecking",
                root: self.root.clone(),
                got: pieces.len(),
                expected: self.num_pieces,
            });
        }
        // One stat per file up front: pieces of missing or short files are skipped without
        // opening anything.
        let on_disk: Vec<u64> = self
            .slots
            .iter()
            .map(|s| s.path.as_deref().map_or(s.length, regular_file_len))
            .collect();
        let total = (0..self.num_pieces).filter(|&i| which(i)).count();
        let mut verified = Bitfield::new(self.num_pieces);
        let mut buf = vec![0u8; self.hash_buffer_len()];
        let mut done = 0;
        let mut last_report = Instant::now();
        progress(0, total);
        for (i, expected) in pieces.iter().enumerate().filter(|&(i, _)| which(i)) {
            if self.piece_present(i, &on_disk) && self.hash_matches(i, expected, &mut buf)? {
                verified.set(i);
            }
            done += 1;
            if last_report.elapsed() >= PROGRESS_EVERY {
                progress(done, total);
                last_report = Instant::now();
            }
        }
        progress(total, total);
        Ok(verified)
    }

    /// [`Storage::recheck`] for pieces checked by something other than one SHA-1 (BEP 52 v2
    /// and hybrid torrents): reads each whole piece (padding as zeros) and asks `verify`.
    pub fn recheck_with(
        &self,
        which: impl Fn(usize) -> bool,
        verify: impl Fn(usize, &[u8]) -> bool,
        mut progress: impl FnMut(usize, usize),
    ) -> Result<Bitfield, StorageError> {
        let on_disk: Vec<u64> = self
            .slots
            .iter()
            .map(|s| s.path.as_deref().map_or(s.length, regular_file_len))
            .collect();
        let total = (0..self.num_pieces).filter(|&i| which(i)).count();
        let mut verified = Bitfield::new(self.num_pieces);
        let mut buf = Vec::new();
        let mut done = 0;
        let mut last_report = Instant::now();
        progress(0, total);
        for i in (0..self.num_pieces).filter(|&i| which(i)) {
            if self.piece_present(i, &on_disk) {
                buf.resize(self.piece_size(i) as usize, 0);
                match self.read(i, 0, &mut buf) {
                    Ok(()) if verify(i, &buf) => {
                        verified.set(i);
                    }
                    Ok(()) => {}
                    Err(e) if e.is_missing_data() => {}
                    Err(e) => return Err(e),
                }
            }
            done += 1;
            if last_report.elapsed() >= PROGRESS_EVERY {
                progress(done, total);
                last_report = Instant::now();
            }
        }
        progress(total, total);
        Ok(verified)
    }

    /// Removes the files and the torrent's (now empty) directories; never the download
    /// directory itself, and never a directory that still holds something else.
    pub fn delete_files(&self) -> Result<(), StorageError> {
        self.release_handles();
        for slot in &self.slots {
            slot.dirty.store(false, Ordering::Release);
        }
        for path in self.real_paths() {
            match fs::remove_file(path) {
                Ok(()) => {}
                Err(e) if e.kind() == io::ErrorKind::NotFound => {}
                Err(e) => return Err(io_err("removing", path, None, e)),
            }
        }
        for dir in &self.dirs {
            if let Err(e) = fs::remove_dir(dir) {
                tracing::debug!(dir = %dir.display(), error = %e, "kept directory");
            }
        }
        Ok(())
    }

    /// Closes cached descriptors (idle torrents). Handles in use by a concurrent read or write
    /// stay valid until that call returns; the next I/O reopens lazily.
    pub fn release_handles(&self) {
        for slot in &self.slots {
            slot.handle.close();
        }
    }

    /// How many of this torrent's files have a cached descriptor.
    pub fn open_handles(&self) -> usize {
        self.slots.iter().filter(|s| s.handle.is_open()).count()
    }

    fn real_paths(&self) -> impl Iterator<Item = &Path> {
        self.real
            .iter()
            .filter_map(|&i| self.slots[i].path.as_deref())
    }

    fn out_of_range(&self, op: &'static str, index: usize, begin: u64, len: u64) -> StorageError {
        StorageError::OutOfRange {
            op,
            root: self.root.clone(),
            index,
            begin,
            len,
            piece_size: self.piece_size(index),
            num_pieces: self.num_pieces,
        }
    }

    fn slot_err(&self, op: &'static str, slot: usize, e: io::Error) -> StorageError {
        let path = self.slots[slot].path.as_deref().unwrap_or(&self.root);
        io_err(op, path, None, e)
    }

    fn hash_buffer_len(&self) -> usize {
        usize::try_from(self.piece_length)
            .unwrap_or(HASH_CHUNK)
            .min(HASH_CHUNK)
    }

    /// The per-file pieces of the byte range `start..start + len`, skipping empty files.
    /// Binary search finds the first file, so lookups stay cheap for huge file lists.
    fn segments(&self, start: u64, len: u64) -> impl Iterator<Item = Segment> + '_ {
        let end = start + len;
        let first = self.slots.partition_point(|s| s.offset + s.length <= start);
        self.slots[first..]
            .iter()
            .enumerate()
            .take_while(move |(_, s)| s.offset < end)
            .map(move |(k, s)| {
                let from = start.max(s.offset);
                let to = end.min(s.offset + s.length);
                Segment {
                    slot: first + k,
                    file_offset: from - s.offset,
                    buf_offset: (from - start) as usize,
                    len: to.saturating_sub(from) as usize,
                }
            })
            .filter(|seg| seg.len > 0)
    }

    fn read_segment(&self, seg: &Segment, out: &mut [u8]) -> Result<(), StorageError> {
        let Some(path) = &self.slots[seg.slot].path else {
            out.fill(0);
            return Ok(());
        };
        let handle = self.handle(seg.slot, false)?;
        handle
            .file
            .read_exact_at(out, seg.file_offset)
            .map_err(|e| io_err("reading", path, Some(seg.file_offset), e))
    }

    fn hash_with(&self, index: usize, buf: &mut [u8]) -> Result<[u8; 20], StorageError> {
        let mut hasher = Sha1::new();
        let start = index as u64 * self.piece_length;
        for seg in self.segments(start, self.piece_size(index)) {
            let mut done = 0;
            while done < seg.len {
                let n = (seg.len - done).min(buf.len());
                let part = Segment {
                    slot: seg.slot,
                    file_offset: seg.file_offset + done as u64,
                    buf_offset: 0,
                    len: n,
                };
                self.read_segment(&part, &mut buf[..n])?;
                hasher.update(&buf[..n]);
                done += n;
            }
        }
        Ok(hasher.finalize().into())
    }

    fn hash_matches(
        &self,
        index: usize,
        expected: &[u8; 20],
        buf: &mut [u8],
    ) -> Result<bool, StorageError> {
        match self.hash_with(index, buf) {
            Ok(h) => Ok(&h == expected),
            Err(e) if e.is_missing_data() => Ok(false),
            Err(e) => Err(e),
        }
    }

    /// Whether every file the piece spans is long enough on disk to hold its part.
    fn piece_present(&self, index: usize, on_disk: &[u64]) -> bool {
        let start = index as u64 * self.piece_length;
        self.segments(start, self.piece_size(index))
            .all(|seg| on_disk[seg.slot] >= seg.file_offset + seg.len as u64)
    }

    /// The cached handle of a file, opened on first use. Reads accept a read-only handle (a
    /// seeder in a read-only directory); writes need, and upgrade to, a writable one.
    fn handle(&self, slot: usize, write: bool) -> Result<Arc<Handle>, StorageError> {
        let cell = &self.slots[slot].handle;
        let usable = |h: &Arc<Handle>| h.writable || !write;
        cell.used.store(true, Ordering::Relaxed);
        if let Some(h) = lock_read(&cell.handle).as_ref().filter(|h| usable(h)) {
            return Ok(Arc::clone(h));
        }
        let opened = Arc::new(self.open_with_retry(slot, write)?);
        let mut guard = lock_write(&cell.handle);
        if let Some(h) = guard.as_ref().filter(|h| usable(h)) {
            // Another task opened it meanwhile; ours is dropped.
            return Ok(Arc::clone(h));
        }
        let was_open = guard.replace(Arc::clone(&opened)).is_some();
        drop(guard);
        if !was_open {
            fd_cache().admit(cell);
        }
        Ok(opened)
    }

    fn open_with_retry(&self, slot: usize, write: bool) -> Result<Handle, StorageError> {
        let Some(path) = self.slots[slot].path.as_deref() else {
            return Err(self.slot_err("opening", slot, io::Error::other("padding file")));
        };
        match open_file(path, write) {
            Err(e) if matches!(e.raw_os_error(), Some(libc::EMFILE | libc::ENFILE)) => {
                // Something else holds the descriptors: give back a share of ours, session-wide.
                fd_cache().shed(fd_cache().cap() / 4 + 1);
                open_file(path, write)
            }
            other => other,
        }
        .map_err(|e| {
            io_err(
                if write {
                    "opening for writing"
                } else {
                    "opening"
                },
                path,
                None,
                e,
            )
        })
    }
}

/// One file's cached descriptor. Shared (weakly) with the process-wide [`FdCache`] so that
/// opening a file in one torrent can close an idle one of another.
#[derive(Default)]
struct HandleCell {
    handle: RwLock<Option<Arc<Handle>>>,
    /// Set on every use and cleared by the cache's clock hand: still clear when the hand comes
    /// round again means "not used for a whole turn", the least recently used in effect.
    used: AtomicBool,
    /// In the cache's ring, so a cell reopened after a close is not queued twice.
    queued: AtomicBool,
}

impl HandleCell {
    /// Closes the cached descriptor, if any (a read or write in flight keeps its own `Arc`
    /// until it returns).
    fn close(&self) -> bool {
        let closed = lock_write(&self.handle).take().is_some();
        if closed {
            fd_cache().open.fetch_sub(1, Ordering::AcqRel);
        }
        closed
    }

    fn is_open(&self) -> bool {
        lock_read(&self.handle).is_some()
    }
}

impl Drop for HandleCell {
    fn drop(&mut self) {
        let open = self
            .handle
            .get_mut()
            .unwrap_or_else(PoisonError::into_inner)
            .take()
            .is_some();
        if open {
            fd_cache().open.fetch_sub(1, Ordering::AcqRel);
        }
    }
}

/// The process-wide bound on cached data-file descriptors: a CLOCK cache (the usual cheap
/// approximation of LRU). A use only sets a flag on the file's cell, so the hot path of every
/// block read or write takes no shared lock; the ring is touched only when a file is opened.
struct FdCache {
    /// Cells that were given a descriptor, oldest first; may hold cells since closed or
    /// dropped, which the hand discards as it meets them.
    ring: Mutex<VecDeque<Weak<HandleCell>>>,
    open: AtomicUsize,
    cap: OnceLock<usize>,
}

fn fd_cache() -> &'static FdCache {
    static CACHE: FdCache = FdCache {
        ring: Mutex::new(VecDeque::new()),
        open: AtomicUsize::new(0),
        cap: OnceLock::new(),
    };
    &CACHE
}

impl FdCache {
    /// Read once, on the first open: `main` has raised the soft descriptor limit by then.
    fn cap(&self) -> usize {
        *self.cap.get_or_init(|| {
            let mut lim = libc::rlimit {
                rlim_cur: 0,
                rlim_max: 0,
            };
            // SAFETY: getrlimit only writes the struct we pass.
            let soft = if unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &mut lim) } == 0 {
                usize::try_from(lim.rlim_cur).unwrap_or(usize::MAX)
            } else {
                1024
            };
            (soft / 4).clamp(MIN_OPEN_FILES, MAX_OPEN_FILES)
        })
    }

    fn ring(&self) -> std::sync::MutexGuard<'_, VecDeque<Weak<HandleCell>>> {
        self.ring.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// `cell` was just given a descriptor: count it, and close the least recently used other
    /// ones while the total is over the budget.
    fn admit(&self, cell: &Arc<HandleCell>) {
        let open = self.open.fetch_add(1, Ordering::AcqRel) + 1;
        let mut ring = self.ring();
        if !cell.queued.swap(true, Ordering::AcqRel) {
            ring.push_back(Arc::downgrade(cell));
        }
        let cap = self.cap();
        if open > cap {
            self.sweep(&mut ring, open - cap, Some(cell));
        }
        // Cells closed by `release_handles` or dropped with their torrent stay queued until
        // the hand passes; without sweeps (a session under budget) drop them now and then.
        if ring.len() > 4 * cap {
            ring.retain(|w| match w.upgrade() {
                Some(c) if c.is_open() => true,
                Some(c) => {
                    c.queued.store(false, Ordering::Release);
                    false
                }
                None => false,
            });
        }
    }

    /// Closes up to `n` cached descriptors, least recently used first.
    fn shed(&self, n: usize) {
        let mut ring = self.ring();
        self.sweep(&mut ring, n, None);
    }

    /// Moves the clock hand until `n` descriptors are closed or every cell was visited twice
    /// (once to clear its flag, once to close it).
    fn sweep(
        &self,
        ring: &mut VecDeque<Weak<HandleCell>>,
        n: usize,
        keep: Option<&Arc<HandleCell>>,
    ) {
        let mut closed = 0;
        let mut budget = 2 * ring.len() + 1;
        while closed < n && budget > 0 {
            budget -= 1;
            let Some(w) = ring.pop_front() else { break };
            let Some(c) = w.upgrade() else { continue };
            let is_keep = keep.is_some_and(|k| Arc::ptr_eq(k, &c));
            if !c.is_open() {
                c.queued.store(false, Ordering::Release);
                continue;
            }
            if is_keep || c.used.swap(false, Ordering::AcqRel) {
                ring.push_back(w);
                continue;
            }
            c.queued.store(false, Ordering::Release);
            if c.close() {
                closed += 1;
            }
        }
    }
}

fn lock_read<T>(l: &RwLock<T>) -> std::sync::RwLockReadGuard<'_, T> {
    l.read().unwrap_or_else(PoisonError::into_inner)
}

fn lock_write<T>(l: &RwLock<T>) -> std::sync::RwLockWriteGuard<'_, T> {
    l.write().unwrap_or_else(PoisonError::into_inner)
}

/// Opens read-write without following symlinks (a link swapped in after `open` must not
/// redirect our writes). For reads, a file we may not write is opened read-only instead.
fn open_file(path: &Path, write: bool) -> io::Result<Handle> {
    let rw = OpenOptions::new()
        .read(true)
        .write(true)
        .create(write)
        .custom_flags(libc::O_NOFOLLOW)
        .open(path);
    match rw {
        Ok(file) => Ok(Handle {
            file,
            writable: true,
            direct: OnceLock::new(),
        }),
        Err(e) if !write && is_not_writable(&e) => OpenOptions::new()
            .read(true)
            .custom_flags(libc::O_NOFOLLOW)
            .open(path)
            .map(|file| Handle {
                file,
                writable: false,
                direct: OnceLock::new(),
            }),
        Err(e) => Err(e),
    }
}

fn is_not_writable(e: &io::Error) -> bool {
    e.kind() == io::ErrorKind::PermissionDenied
        || matches!(
            e.raw_os_error(),
            Some(libc::EROFS | libc::EACCES | libc::EPERM)
        )
}

/// Length of a regular file, 0 when absent, a symlink or anything else (its pieces are
/// missing).
fn regular_file_len(path: &Path) -> u64 {
    fs::symlink_metadata(path)
        .ok()
        .filter(|m| m.file_type().is_file())
        .map_or(0, |m| m.len())
}

fn stamp_of(path: &Path) -> FileStamp {
    match fs::symlink_metadata(path) {
        Ok(m) if m.file_type().is_file() => FileStamp {
            length: m.len(),
            mtime_ns: i128::from(m.mtime()) * 1_000_000_000 + i128::from(m.mtime_nsec()),
        },
        _ => FileStamp::MISSING,
    }
}

/// Where every file goes, decided (and validated) before anything touches the disk.
struct Plan {
    root: PathBuf,
    /// Per torrent file: its on-disk path, `None` for pad files.
    paths: Vec<Option<PathBuf>>,
    dirs: Vec<PathBuf>,
}

fn plan_layout(info: &Info, download_dir: &Path) -> Result<Plan, StorageError> {
    let root = download_dir.join(sanitize_component(&info.name)?);
    let single = info.single_file && info.files.len() == 1;
    let mut paths = Vec::with_capacity(info.files.len());
    let mut files = HashSet::new();
    let mut dirs = HashSet::new();
    for entry in &info.files {
        if entry.pad {
            paths.push(None);
            continue;
        }
        if entry.path.is_empty() && !single {
            return Err(StorageError::UnsafeName {
                component: String::new(),
                reason: "file with an empty path",
            });
        }
        let path = if single {
            root.clone()
        } else {
            let mut p = root.clone();
            for comp in &entry.path {
                p.push(sanitize_component(comp)?);
            }
            p
        };
        check_inside(download_dir, &path)?;
        // Two names that sanitise alike would share a file and corrupt each other.
        if !files.insert(path.clone()) {
            return Err(StorageError::DuplicatePath { path });
        }
        if !single {
            for dir in path
                .ancestors()
                .skip(1)
                .take_while(|d| d.starts_with(&root))
            {
                dirs.insert(dir.to_path_buf());
            }
        }
        paths.push(Some(path));
    }
    if let Some(path) = files.iter().find(|f| dirs.contains(*f)) {
        return Err(StorageError::DuplicatePath { path: path.clone() });
    }
    let mut dirs: Vec<PathBuf> = dirs.into_iter().collect();
    dirs.sort_by_key(|d| std::cmp::Reverse(d.components().count()));
    Ok(Plan { root, paths, dirs })
}

/// Defence in depth behind `sanitize_component`: the path must be the download directory
/// followed by plain names only.
fn check_inside(download_dir: &Path, path: &Path) -> Result<(), StorageError> {
    let inside = path.strip_prefix(download_dir).is_ok_and(|rel| {
        rel.components().count() > 0 && rel.components().all(|c| matches!(c, Component::Normal(_)))
    });
    if inside {
        Ok(())
    } else {
        Err(StorageError::OutsideDir {
            path: path.to_path_buf(),
            dir: download_dir.to_path_buf(),
        })
    }
}

/// Creates the directories between `download_dir` and `path` one at a time, refusing any
/// that already exists as a symlink: a link planted in the download directory must not
/// redirect files elsewhere.
fn ensure_parent_dirs(
    download_dir: &Path,
    path: &Path,
    checked: &mut HashSet<PathBuf>,
) -> Result<(), StorageError> {
    let Some(parent) = path.parent() else {
        return Ok(());
    };
    let rel = parent.strip_prefix(download_dir).unwrap_or(Path::new(""));
    let mut dir = download_dir.to_path_buf();
    for comp in rel.components() {
        dir.push(comp);
        if checked.contains(&dir) {
            continue;
        }
        match fs::symlink_metadata(&dir) {
            Ok(m) if m.file_type().is_dir() => {}
            Ok(_) => return Err(StorageError::NotRegular { path: dir }),
            Err(e) if e.kind() == io::ErrorKind::NotFound => {
                fs::create_dir(&dir).map_err(|e| io_err("creating directory", &dir, None, e))?;
            }
            Err(e) => return Err(io_err("inspecting", &dir, None, e)),
        }
        checked.insert(dir.clone());
    }
    Ok(())
}

/// Creates a missing file sparse at its full length, extends a short one, leaves a long one
/// alone (never truncate user data), and refuses symlinks and special files. Returns true
/// when the file did not exist before.
fn prepare_file(path: &Path, length: u64) -> Result<bool, StorageError> {
    match fs::symlink_metadata(path) {
        Err(e) if e.kind() == io::ErrorKind::NotFound => {
            // create_new (O_EXCL) fails on any existing entry, dangling symlinks included.
            let file = OpenOptions::new()
                .write(true)
                .create_new(true)
                .open(path)
                .map_err(|e| io_err("creating", path, None, e))?;
            set_len(&file, path, length).map(|()| true)
        }
        Err(e) => Err(io_err("inspecting", path, None, e)),
        Ok(m) if !m.file_type().is_file() => Err(StorageError::NotRegular {
            path: path.to_path_buf(),
        }),
        Ok(m) if m.len() < length => {
            let file = OpenOptions::new()
                .write(true)
                .custom_flags(libc::O_NOFOLLOW)
                .open(path)
                .map_err(|e| io_err("opening for writing", path, None, e))?;
            set_len(&file, path, length).map(|()| false)
        }
        Ok(_) => Ok(false),
    }
}

fn set_len(file: &File, path: &Path, length: u64) -> Result<(), StorageError> {
    if length == 0 {
        return Ok(());
    }
    file.set_len(length)
        .map_err(|e| io_err("allocating", path, Some(length), e))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::metainfo::FileEntry;
    use proptest::prelude::*;
    use std::os::unix::fs::PermissionsExt;

    /// (path components, length, pad)
    type Layout<'a> = &'a [(&'a [&'a str], u64, bool)];

    fn info_for(name: &str, piece_length: u64, layout: Layout<'_>, data: &[u8]) -> Info {
        let mut offset = 0;
        let files = layout
            .iter()
            .map(|(path, length, pad)| {
                let f = FileEntry {
                    path: path.iter().map(|s| s.to_string()).collect(),
                    length: *length,
                    offset,
                    pad: *pad,
                };
                offset += length;
                f
            })
            .collect();
        Info {
            name: name.to_string(),
            piece_length,
            pieces: data
                .chunks(piece_length as usize)
                .map(|c| Sha1::digest(c).into())
                .collect(),
            files,
            total_length: offset,
            private: false,
            single_file: false,
            v2: None,
        }
    }

    /// Deterministic bytes with pad-file ranges zeroed, as BEP 47 requires.
    fn data_for(layout: Layout<'_>) -> Vec<u8> {
        let mut data = Vec::new();
        for (i, (_, len, pad)) in layout.iter().enumerate() {
            for j in 0..*len {
                data.push(if *pad {
                    0
                } else {
                    (i as u64 * 31 + j * 7 + 1) as u8
                });
            }
        }
        data
    }

    fn write_all(s: &Storage, info: &Info, data: &[u8]) {
        for i in 0..s.num_pieces() {
            let start = i * info.piece_length as usize;
            let end = start + s.piece_size(i) as usize;
            s.write_piece(i, &data[start..end]).expect("write");
        }
    }

    const SPAN: Layout<'static> = &[
        (&["a.bin"], 5, false),
        (&["empty"], 0, false),
        (&["sub", "b.bin"], 7, false),
        (&["c.bin"], 30, false),
    ];

    #[test]
    fn piece_spans_three_files_with_empty_file_between() {
        let dir = tempfile::tempdir().expect("tempdir");
        let data = data_for(SPAN);
        let info = info_for("t", 16, SPAN, &data);
        let s = Storage::open(&info, dir.path()).expect("open");
        assert_eq!(s.num_pieces(), 3);
        assert_eq!(s.piece_size(2), 10);
        write_all(&s, &info, &data);
        let root = dir.path().join("t");
        assert_eq!(fs::read(root.join("a.bin")).expect("a"), &data[..5]);
        assert_eq!(fs::read(root.join("empty")).expect("empty"), b"");
        assert_eq!(fs::read(root.join("sub/b.bin")).expect("b"), &data[5..12]);
        assert_eq!(fs::read(root.join("c.bin")).expect("c"), &data[12..]);
        let mut buf = [0u8; 16];
        s.read(0, 0, &mut buf).expect("read");
        assert_eq!(buf, data[..16]);
        let mut small = [0u8; 9];
        s.read(0, 3, &mut small).expect("read across");
        assert_eq!(small, data[3..12]);
        for i in 0..3 {
            assert!(s.verify_piece(i, &info.pieces[i]).expect("verify"));
        }
        assert_eq!(s.root(), root);
        assert_eq!(s.file_paths().len(), 4);
        assert_eq!(s.file_piece_range(0), 0..1);
        assert_eq!(s.file_piece_range(1), 0..0);
        assert_eq!(s.file_piece_range(3), 0..3);
    }

    #[test]
    fn pad_files_are_never_created_and_read_as_zeros() {
        let layout: Layout<'_> = &[
            (&["x"], 10, false),
            (&[".pad", "6"], 6, true),
            (&["y"], 16, false),
            (&[".pad", "6"], 6, true),
        ];
        let dir = tempfile::tempdir().expect("tempdir");
        let data = data_for(layout);
        let info = info_for("p", 16, layout, &data);
        let s = Storage::open(&info, dir.path()).expect("open");
        write_all(&s, &info, &data);
        assert!(!dir.path().join("p/.pad").exists());
        assert_eq!(s.file_paths().len(), 2);
        let mut buf = [0xffu8; 8];
        s.read(0, 8, &mut buf).expect("read");
        assert_eq!(buf, [data[8], data[9], 0, 0, 0, 0, 0, 0]);
        assert!(s.verify_piece(2, &info.pieces[2]).expect("verify"));
        assert_eq!(s.stamps().len(), 2);
    }

    #[test]
    fn single_file_and_nested_dirs() {
        let dir = tempfile::tempdir().expect("tempdir");
        let layout: Layout<'_> = &[(&["one.iso"], 40, false)];
        let data = data_for(layout);
        let mut info = info_for("one.iso", 16, layout, &data);
        info.single_file = true;
        let s = Storage::open(&info, dir.path()).expect("open");
        assert_eq!(s.root(), dir.path().join("one.iso"));
        assert_eq!(fs::metadata(s.root()).expect("meta").len(), 40, "sparse");
        write_all(&s, &info, &data);
        assert_eq!(fs::read(s.root()).expect("read"), data);

        let nested: Layout<'_> = &[(&["a", "b", "c.txt"], 3, false), (&["a", "d"], 3, false)];
        let data = data_for(nested);
        let info = info_for("n", 4, nested, &data);
        let s = Storage::open(&info, dir.path()).expect("open nested");
        write_all(&s, &info, &data);
        assert_eq!(
            fs::read(dir.path().join("n/a/b/c.txt")).expect("c"),
            &data[..3]
        );
        s.delete_files().expect("delete");
        assert!(!dir.path().join("n").exists());
        assert!(dir.path().join("one.iso").exists());
    }

    #[test]
    fn existing_files_are_extended_never_truncated() {
        let dir = tempfile::tempdir().expect("tempdir");
        let layout: Layout<'_> = &[(&["long"], 10, false), (&["short"], 10, false)];
        let root = dir.path().join("e");
        fs::create_dir(&root).expect("mkdir");
        fs::write(root.join("long"), [7u8; 25]).expect("long");
        fs::write(root.join("short"), [9u8; 4]).expect("short");
        let data = data_for(layout);
        let _s = Storage::open(&info_for("e", 8, layout, &data), dir.path()).expect("open");
        assert_eq!(fs::metadata(root.join("long")).expect("m").len(), 25);
        let short = fs::read(root.join("short")).expect("short");
        assert_eq!(short.len(), 10);
        assert_eq!(&short[..4], &[9u8; 4]);
    }

    #[test]
    fn hash_and_verify_detect_a_flipped_byte() {
        let dir = tempfile::tempdir().expect("tempdir");
        let data = data_for(SPAN);
        let info = info_for("t", 16, SPAN, &data);
        let s = Storage::open(&info, dir.path()).expect("open");
        write_all(&s, &info, &data);
        assert_eq!(s.hash_piece(1).expect("hash"), info.pieces[1]);
        flip_byte(&dir.path().join("t/c.bin"), 10);
        assert!(!s.verify_piece(1, &info.pieces[1]).expect("verify"));
        assert!(s.verify_piece(0, &info.pieces[0]).expect("verify"));
        assert!(s.hash_piece(3).is_err());
    }

    fn flip_byte(path: &Path, at: u64) {
        let f = OpenOptions::new()
            .read(true)
            .write(true)
            .open(path)
            .expect("open");
        let mut b = [0u8];
        f.read_exact_at(&mut b, at).expect("read");
        b[0] ^= 0xff;
        f.write_all_at(&b, at).expect("write");
    }

    #[test]
    fn recheck_finds_corrupt_short_and_missing_files() {
        let layout: Layout<'_> = &[
            (&["a"], 32, false),
            (&["b"], 16, false),
            (&["c"], 16, false),
            (&["d"], 16, false),
        ];
        let dir = tempfile::tempdir().expect("tempdir");
        let data = data_for(layout);
        let info = info_for("r", 16, layout, &data);
        let s = Storage::open(&info, dir.path()).expect("open");
        write_all(&s, &info, &data);
        s.sync().expect("sync");
        let root = dir.path().join("r");
        flip_byte(&root.join("a"), 20);
        fs::remove_file(root.join("c")).expect("rm");
        OpenOptions::new()
            .write(true)
            .open(root.join("d"))
            .expect("open d")
            .set_len(8)
            .expect("truncate");
        let mut reports = Vec::new();
        let got = s
            .recheck(&info.pieces, |_| true, |d, t| reports.push((d, t)))
            .expect("recheck");
        assert_eq!(got.iter_ones().collect::<Vec<_>>(), vec![0, 2]);
        assert_eq!(reports.first(), Some(&(0, 5)));
        assert_eq!(reports.last(), Some(&(5, 5)));
        let only_last = s
            .recheck(&info.pieces, |i| i == 2, |_, _| {})
            .expect("recheck");
        assert_eq!(only_last.count(), 1);
        assert!(s.recheck(&info.pieces[1..], |_| true, |_, _| {}).is_err());
    }

    #[test]
    fn out_of_range_and_wrong_length_are_errors() {
        let dir = tempfile::tempdir().expect("tempdir");
        let data = data_for(SPAN);
        let info = info_for("t", 16, SPAN, &data);
        let s = Storage::open(&info, dir.path()).expect("open");
        let mut buf = [0u8; 4];
        assert!(s.read(2, 6, &mut buf).is_ok());
        let err = s.read(2, 7, &mut buf).expect_err("past piece end");
        assert!(err.to_string().contains("out of range"), "{err}");
        assert!(s.read(3, 0, &mut buf).is_err());
        assert!(s.read(0, u64::MAX, &mut buf).is_err());
        assert!(s.write_piece(0, &[0u8; 15]).is_err());
        assert!(s.write_piece(9, &[]).is_err());
    }

    #[test]
    fn io_errors_name_the_operation_and_path() {
        let dir = tempfile::tempdir().expect("tempdir");
        let data = data_for(SPAN);
        let info = info_for("t", 16, SPAN, &data);
        let s = Storage::open(&info, dir.path()).expect("open");
        write_all(&s, &info, &data);
        s.release_handles();
        fs::remove_file(dir.path().join("t/c.bin")).expect("rm");
        let mut buf = [0u8; 4];
        let err = s.read(2, 0, &mut buf).expect_err("missing");
        let msg = err.to_string();
        assert!(
            msg.starts_with("opening ") && msg.contains("c.bin"),
            "{msg}"
        );
        assert!(err.is_missing_data());
        // A write recreates it (the user deleted it under us; the data comes back).
        s.write_piece(2, &data[32..]).expect("rewrite");
        s.read(2, 0, &mut buf).expect("read");
        s.sync().expect("sync");
    }

    #[test]
    fn read_only_files_still_serve_reads() {
        let dir = tempfile::tempdir().expect("tempdir");
        let data = data_for(SPAN);
        let info = info_for("t", 16, SPAN, &data);
        let s = Storage::open(&info, dir.path()).expect("open");
        write_all(&s, &info, &data);
        drop(s);
        for p in ["a.bin", "sub/b.bin", "c.bin", "empty"] {
            let p = dir.path().join("t").join(p);
            fs::set_permissions(&p, fs::Permissions::from_mode(0o444)).expect("chmod");
        }
        let s = Storage::open(&info, dir.path()).expect("reopen read-only");
        let got = s
            .recheck(&info.pieces, |_| true, |_, _| {})
            .expect("recheck");
        assert!(got.all());
        let mut buf = [0u8; 16];
        s.read(0, 0, &mut buf).expect("read");
        assert_eq!(buf, data[..16]);
    }

    #[test]
    fn handles_are_capped_and_released() {
        let cap = fd_cache().cap();
        let names: Vec<String> = (0..cap * 2).map(|i| format!("f{i}")).collect();
        let paths: Vec<[&str; 1]> = names.iter().map(|n| [n.as_str()]).collect();
        let layout: Vec<(&[&str], u64, bool)> =
            paths.iter().map(|p| (&p[..], 3u64, false)).collect();
        let dir = tempfile::tempdir().expect("tempdir");
        let data = data_for(&layout);
        let info = info_for("many", 64, &layout, &data);
        let s = Storage::open(&info, dir.path()).expect("open");
        write_all(&s, &info, &data);
        // Other tests open files at the same time, so allow each of their threads one.
        assert!(s.open_handles() <= cap + 16, "{} open", s.open_handles());
        s.sync().expect("sync");
        s.release_handles();
        assert_eq!(s.open_handles(), 0);
        assert!(
            s.recheck(&info.pieces, |_| true, |_, _| {})
                .expect("recheck")
                .all()
        );
    }

    /// Issue 17: a thousand one-file torrents each kept their file open and ran the daemon
    /// out of descriptors. The budget is across torrents, not per torrent.
    #[test]
    fn the_budget_holds_across_torrents() {
        let cap = fd_cache().cap();
        let layout: Layout<'_> = &[(&["x"], 100, false)];
        let dir = tempfile::tempdir().expect("tempdir");
        let data = data_for(layout);
        let storages: Vec<(Storage, Info)> = (0..cap + 64)
            .map(|i| {
                let info = info_for(&format!("t{i}"), 64, layout, &data);
                let s = Storage::open(&info, dir.path()).expect("open");
                write_all(&s, &info, &data);
                (s, info)
            })
            .collect();
        let open: usize = storages.iter().map(|(s, _)| s.open_handles()).sum();
        assert!(open <= cap + 16, "{open} descriptors cached, budget {cap}");
        // Every torrent still reads and verifies, reopening as needed.
        for (s, info) in &storages {
            assert!(
                s.recheck(&info.pieces, |_| true, |_, _| {})
                    .expect("recheck")
                    .all()
            );
        }
    }

    #[test]
    fn concurrent_writers_and_readers() {
        let layout: Layout<'_> = &[(&["a"], 1000, false), (&["b"], 1000, false)];
        let dir = tempfile::tempdir().expect("tempdir");
        let data = data_for(layout);
        let info = info_for("c", 64, layout, &data);
        let s = Arc::new(Storage::open(&info, dir.path()).expect("open"));
        std::thread::scope(|scope| {
            for t in 0..4 {
                let (s, data) = (Arc::clone(&s), &data);
                scope.spawn(move || {
                    for i in (t..s.num_pieces()).step_by(4) {
                        let start = i * 64;
                        let end = start + s.piece_size(i) as usize;
                        s.write_piece(i, &data[start..end]).expect("write");
                        let mut buf = vec![0u8; end - start];
                        s.read(i, 0, &mut buf).expect("read");
                        assert_eq!(buf, data[start..end]);
                    }
                });
            }
        });
        assert!(
            s.recheck(&info.pieces, |_| true, |_, _| {})
                .expect("recheck")
                .all()
        );
    }

    #[test]
    fn stamps_track_length_and_mtime() {
        let dir = tempfile::tempdir().expect("tempdir");
        let data = data_for(SPAN);
        let info = info_for("t", 16, SPAN, &data);
        let s = Storage::open(&info, dir.path()).expect("open");
        let before = s.stamps();
        assert_eq!(
            before.iter().map(|f| f.length).collect::<Vec<_>>(),
            [5, 0, 7, 30]
        );
        let f = File::options()
            .write(true)
            .open(dir.path().join("t/a.bin"))
            .expect("open");
        f.set_modified(std::time::UNIX_EPOCH + Duration::from_secs(1_000_000))
            .expect("touch");
        fs::remove_file(dir.path().join("t/c.bin")).expect("rm");
        let after = s.stamps();
        assert_eq!(after[0].mtime_ns, 1_000_000_000_000_000);
        assert_eq!(after[3], FileStamp::MISSING);
        assert_eq!(after[1..3], before[1..3]);
    }

    #[test]
    fn sanitisation_table() {
        let refused = ["", ".", "..", "/abs", "a/b", "a\\b", "nul\0byte"];
        for name in refused {
            let err = sanitize_component(name).expect_err(name);
            assert!(
                matches!(err, StorageError::UnsafeName { ref component, .. } if component == name)
            );
        }
        let long = "x".repeat(300);
        let long_ext = format!("{}.mkv", "é".repeat(200));
        let mapped: &[(&str, &str)] = &[
            ("CON", "_CON"),
            ("con.txt", "_con.txt"),
            ("COM1", "_COM1"),
            ("LPT9.tar.gz", "_LPT9.tar.gz"),
            ("CONSOLE", "CONSOLE"),
            ("trailing.", "trailing"),
            ("trailing. . ", "trailing"),
            ("...", "_"),
            ("tab\there", "tab_here"),
            ("ünïcødé 日本語.txt", "ünïcødé 日本語.txt"),
            (".hidden", ".hidden"),
        ];
        for (input, want) in mapped {
            assert_eq!(&sanitize_component(input).expect(input), want);
        }
        assert_eq!(sanitize_component(&long).expect("long").len(), 255);
        let cut = sanitize_component(&long_ext).expect("long ext");
        assert!(cut.len() <= 255 && cut.ends_with(".mkv"), "{cut}");
        assert!(cut.starts_with('é'));
    }

    #[test]
    fn hostile_torrents_are_refused_before_anything_is_written() {
        let outer = tempfile::tempdir().expect("tempdir");
        let dl = outer.path().join("dl");
        let hostile: &[(&str, &[&str])] = &[
            ("t", &["..", "evil"]),
            ("t", &["ok", "..", "..", "..", "evil"]),
            ("t", &["/etc", "evil"]),
            ("t", &["a/../../evil"]),
            ("..", &["evil"]),
            ("t", &[]),
        ];
        for (name, path) in hostile {
            let layout: Layout<'_> = &[(&["fine"], 4, false), (path, 4, false)];
            let data = data_for(layout);
            let info = info_for(name, 4, layout, &data);
            let err = Storage::open(&info, &dl).map(|_| ()).expect_err("refused");
            assert!(
                matches!(err, StorageError::UnsafeName { .. }),
                "{name} {path:?}: {err}"
            );
        }
        assert!(!dl.exists(), "nothing created");
        assert!(!outer.path().join("evil").exists());
    }

    #[test]
    fn duplicate_paths_are_refused() {
        let dir = tempfile::tempdir().expect("tempdir");
        let cases: &[Layout<'_>] = &[
            &[(&["a"], 1, false), (&["a"], 1, false)],
            &[(&["a."], 1, false), (&["a"], 1, false)],
            &[(&["d"], 1, false), (&["d", "x"], 1, false)],
        ];
        for layout in cases {
            let data = data_for(layout);
            let err = Storage::open(&info_for("dup", 1, layout, &data), dir.path())
                .map(|_| ())
                .expect_err("duplicate");
            assert!(matches!(err, StorageError::DuplicatePath { .. }), "{err}");
        }
        // Identical pad paths are normal (".pad/16384" repeated) and fine.
        let pads: Layout<'_> = &[
            (&["a"], 2, false),
            (&[".pad", "2"], 2, true),
            (&["b"], 2, false),
            (&[".pad", "2"], 2, true),
        ];
        let data = data_for(pads);
        Storage::open(&info_for("pads", 4, pads, &data), dir.path()).expect("pads ok");
    }

    #[test]
    fn symlinks_in_the_download_dir_are_not_followed() {
        let dl = tempfile::tempdir().expect("tempdir");
        let outside = tempfile::tempdir().expect("tempdir");
        std::os::unix::fs::symlink(outside.path(), dl.path().join("t")).expect("link dir");
        let layout: Layout<'_> = &[(&["x"], 4, false)];
        let data = data_for(layout);
        let err = Storage::open(&info_for("t", 4, layout, &data), dl.path())
            .map(|_| ())
            .expect_err("dir link");
        assert!(matches!(err, StorageError::NotRegular { .. }), "{err}");

        let nested: Layout<'_> = &[(&["sub", "x"], 4, false)];
        fs::create_dir(dl.path().join("u")).expect("mkdir");
        std::os::unix::fs::symlink(outside.path(), dl.path().join("u/sub")).expect("link sub");
        let err = Storage::open(&info_for("u", 4, nested, &data), dl.path())
            .map(|_| ())
            .expect_err("nested link");
        assert!(matches!(err, StorageError::NotRegular { .. }), "{err}");

        let target = outside.path().join("target");
        fs::write(&target, b"keep").expect("target");
        std::os::unix::fs::symlink(&target, dl.path().join("f.bin")).expect("link file");
        let mut single = info_for("f.bin", 4, &[(&["f.bin"], 8, false)], &[0u8; 8]);
        single.single_file = true;
        let err = Storage::open(&single, dl.path())
            .map(|_| ())
            .expect_err("file link");
        assert!(matches!(err, StorageError::NotRegular { .. }), "{err}");
        assert_eq!(fs::read(&target).expect("target"), b"keep");
        assert_eq!(fs::read_dir(outside.path()).expect("ls").count(), 1);
    }

    #[test]
    fn storage_is_send_and_sync() {
        fn assert_send_sync<T: Send + Sync>() {}
        assert_send_sync::<Storage>();
    }

    fn layout_strategy() -> impl Strategy<Value = (Vec<(u64, bool)>, u64)> {
        (
            prop::collection::vec((0u64..40, prop::bool::weighted(0.2)), 1..8),
            1u64..24,
        )
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(48))]
        #[test]
        fn random_layouts_round_trip(
            (files, piece_length) in layout_strategy(),
            order_seed in any::<u64>(),
            reads in prop::collection::vec((any::<u32>(), any::<u32>(), any::<u32>()), 1..16),
        ) {
            let names: Vec<String> = (0..files.len()).map(|i| format!("f{i}")).collect();
            let paths: Vec<[&str; 2]> = names.iter().map(|n| ["d", n.as_str()]).collect();
            let layout: Vec<(&[&str], u64, bool)> =
                paths.iter().zip(&files).map(|(p, &(len, pad))| (&p[..], len, pad)).collect();
            let data = data_for(&layout);
            prop_assume!(!data.is_empty());
            let dir = tempfile::tempdir().expect("tempdir");
            let info = info_for("prop", piece_length, &layout, &data);
            let s = Storage::open(&info, dir.path()).expect("open");
            let n = s.num_pieces();
            // Write in a scrambled order: pieces land independently of each other.
            let mut order: Vec<usize> = (0..n).collect();
            order.sort_by_key(|&i| (i as u64).wrapping_mul(order_seed | 1).rotate_left(7));
            for &i in &order {
                let start = i * piece_length as usize;
                let end = start + s.piece_size(i) as usize;
                s.write_piece(i, &data[start..end]).expect("write");
            }
            for (a, b, c) in reads {
                let i = a as usize % n;
                let size = s.piece_size(i);
                let begin = u64::from(b) % size;
                let len = u64::from(c) % (size - begin) + 1;
                let mut buf = vec![0u8; len as usize];
                s.read(i, begin, &mut buf).expect("read");
                let at = i * piece_length as usize + begin as usize;
                prop_assert_eq!(&buf[..], &data[at..at + len as usize]);
            }
            let all = s.recheck(&info.pieces, |_| true, |_, _| {}).expect("recheck");
            prop_assert!(all.all());
        }
    }
}
