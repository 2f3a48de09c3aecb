//! Files replaced atomically: written beside their name, then renamed over it, so a reader or
//! a crash sees the old file or the new one, never a torn one. Durable at once (fsync of the
//! file, then of its directory for the rename), or later, by one [`sync_filesystem`] for a
//! whole batch: one journal commit instead of two per file.

use std::fs::{self, File};
use std::io::{self, Write};
use std::path::Path;

/// When a replaced file must be on disk.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Durability {
    /// Before the call returns.
    Now,
    /// When the caller flushes the filesystem with [`sync_filesystem`].
    Batched,
}

/// Which step of [`replace`] failed, and on which path.
#[derive(Debug, thiserror::Error)]
#[error("{op} {}: {source}", path.display())]
pub struct ReplaceError {
    pub op: &'static str,
    pub path: std::path::PathBuf,
    #[source]
    pub source: io::Error,
}

/// Replaces `path` with `bytes` atomically.
pub fn replace(path: &Path, bytes: &[u8], durability: Durability) -> Result<(), ReplaceError> {
    let err = |op: &'static str, p: &Path| {
        let path = p.to_path_buf();
        move |source| ReplaceError { op, path, source }
    };
    let dir = path.parent().unwrap_or(Path::new("."));
    fs::create_dir_all(dir).map_err(err("creating directory", dir))?;
    // A name of its own per write: two writers of one file never share a temporary.
    let mut name = path.file_name().unwrap_or_default().to_os_string();
    name.push(format!(".{:016x}.tmp", rand::random::<u64>()));
    let tmp = path.with_file_name(name);
    let res = (|| {
        let mut f = File::create(&tmp)?;
        f.write_all(bytes)?;
        match durability {
            Durability::Now => f.sync_all(),
            Durability::Batched => Ok(()),
        }
    })()
    .map_err(err("writing", &tmp))
    .and_then(|()| fs::rename(&tmp, path).map_err(err("renaming", &tmp)));
    if res.is_err() {
        let _ = fs::remove_file(&tmp);
    }
    res?;
    if durability == Durability::Batched {
        return Ok(());
    }
    // The rename is only durable once the directory entry is.
    File::open(dir)
        .and_then(|d| d.sync_all())
        .map_err(err("syncing directory", dir))
}

/// Flushes everything written to the filesystem that holds `dir` (syncfs(2)).
pub fn sync_filesystem(dir: &Path) -> io::Result<()> {
    use std::os::fd::AsRawFd;
    let d = File::open(dir)?;
    // SAFETY: syncfs(2) only uses the descriptor, which `d` keeps open during the call.
    if unsafe { libc::syncfs(d.as_raw_fd()) } != 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn replaces_and_leaves_no_temporary() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("sub/f.json");
        replace(&p, b"one", Durability::Now).unwrap();
        replace(&p, b"two", Durability::Batched).unwrap();
        sync_filesystem(dir.path()).unwrap();
        assert_eq!(fs::read(&p).unwrap(), b"two");
        let names: Vec<_> = fs::read_dir(dir.path().join("sub")).unwrap().collect();
        assert_eq!(names.len(), 1);
    }

    #[test]
    fn a_failed_write_keeps_the_old_file() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("f");
        replace(&p, b"old", Durability::Now).unwrap();
        // A directory where the file should go: the rename fails, the old file stays.
        let blocked = dir.path().join("d");
        fs::create_dir_all(blocked.join("x")).unwrap();
        let e = replace(&blocked, b"new", Durability::Now).unwrap_err();
        assert_eq!(e.op, "renaming");
        assert_eq!(fs::read(&p).unwrap(), b"old");
        assert_eq!(fs::read_dir(dir.path()).unwrap().count(), 2);
    }
}
