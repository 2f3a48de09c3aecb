//! A throwaway PostgreSQL cluster for tests: `initdb` into a temporary directory, then
//! `postgres` on 127.0.0.1 and a free port, run as the unprivileged `postgres` user when the
//! tests run as root (PostgreSQL refuses to run as root). Binaries come from Debian's
//! `postgresql` package (/usr/lib/postgresql/*/bin).
//!
//! The server dies with the test process: it is forked from a thread that lives as long as
//! the process, with PR_SET_PDEATHSIG = SIGQUIT (PostgreSQL's immediate shutdown) set after
//! the uid switch (a credential change would clear it).
//!
//! Missing binaries: the test FAILS when `CI` is set, and is skipped with a printed reason
//! otherwise.
//!
//! Include with `#[path = "support/postgres.rs"] mod pg;`.

#![allow(dead_code)]

use std::ffi::CString;
use std::net::TcpListener;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Mutex, OnceLock, mpsc};
use std::time::{Duration, Instant};

pub struct PgCluster {
    root: PathBuf,
    pub port: u16,
    child: Mutex<Option<Child>>,
}

/// The directory of the newest installed PostgreSQL's binaries.
fn bindir() -> Option<PathBuf> {
    let mut best: Option<(u32, PathBuf)> = None;
    for e in std::fs::read_dir("/usr/lib/postgresql").ok()?.flatten() {
        let v: u32 = e.file_name().to_string_lossy().parse().unwrap_or(0);
        let bin = e.path().join("bin");
        if bin.join("initdb").is_file()
            && bin.join("postgres").is_file()
            && best.as_ref().is_none_or(|b| v > b.0)
        {
            best = Some((v, bin));
        }
    }
    best.map(|b| b.1)
}

/// (uid, gid) to run PostgreSQL as: `postgres` (or `nobody`) when we are root.
fn run_as() -> Option<(u32, u32)> {
    // SAFETY: getuid has no preconditions.
    if unsafe { libc::getuid() } != 0 {
        return None;
    }
    for name in ["postgres", "nobody"] {
        let c = CString::new(name).ok()?;
        // SAFETY: getpwnam reads a static buffer; we copy the two ids out at once.
        let pw = unsafe { libc::getpwnam(c.as_ptr()) };
        if !pw.is_null() {
            // SAFETY: non-null pointer from getpwnam.
            return Some(unsafe { ((*pw).pw_uid, (*pw).pw_gid) });
        }
    }
    panic!("running as root and neither a `postgres` nor a `nobody` user exists");
}

fn as_user(cmd: &mut Command, ids: Option<(u32, u32)>, die_with_parent: bool) {
    // SAFETY: only async-signal-safe calls between fork and exec.
    unsafe {
        cmd.pre_exec(move || {
            if let Some((uid, gid)) = ids
                && (libc::setgroups(0, std::ptr::null()) != 0
                    || libc::setgid(gid) != 0
                    || libc::setuid(uid) != 0)
            {
                return Err(std::io::Error::last_os_error());
            }
            if die_with_parent && libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGQUIT) != 0 {
                return Err(std::io::Error::last_os_error());
            }
            Ok(())
        });
    }
}

/// Spawns on a thread that never exits, so PR_SET_PDEATHSIG fires only when the process ends.
fn spawn_forever(cmd: Command) -> std::io::Result<Child> {
    type Job = (Command, mpsc::Sender<std::io::Result<Child>>);
    static SPAWNER: OnceLock<Mutex<mpsc::Sender<Job>>> = OnceLock::new();
    let tx = SPAWNER.get_or_init(|| {
        let (tx, rx) = mpsc::channel::<Job>();
        std::thread::Builder::new()
            .name("pg-spawner".into())
            .spawn(move || {
                for (mut cmd, reply) in rx {
                    let _ = reply.send(cmd.spawn());
                }
                // Keep the thread (the children's parent) alive until the process exits.
                loop {
                    std::thread::park();
                }
            })
            .expect("spawner thread");
        Mutex::new(tx)
    });
    let (rtx, rrx) = mpsc::channel();
    tx.lock()
        .unwrap()
        .send((cmd, rtx))
        .expect("spawner thread alive");
    rrx.recv().expect("spawner replies")
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// Removes clusters left behind by test processes that no longer exist.
fn sweep_stale(base: &Path) {
    let Ok(entries) = std::fs::read_dir(base) else {
        return;
    };
    for e in entries.flatten() {
        let name = e.file_name().to_string_lossy().to_string();
        let Some(pid) = name
            .strip_prefix("bidtorrent-pg-")
            .and_then(|r| r.split('-').next())
            .and_then(|p| p.parse::<i32>().ok())
        else {
            continue;
        };
        // SAFETY: kill with signal 0 only checks that the process exists.
        if unsafe { libc::kill(pid, 0) } != 0 {
            let _ = std::fs::remove_dir_all(e.path());
        }
    }
}

impl PgCluster {
    /// Starts a cluster, or returns `None` (after printing why) when PostgreSQL is not
    /// installed and `CI` is unset. `durable = false` turns fsync off (fast tests).
    pub fn start(durable: bool) -> Option<PgCluster> {
        let Some(bin) = bindir() else {
            let why = "PostgreSQL is not installed (/usr/lib/postgresql/*/bin/initdb); \
                       install Debian's `postgresql` package (scripts/test.sh does)";
            if std::env::var_os("CI").is_some() {
                panic!("{why}");
            }
            eprintln!("SKIPPED: {why}");
            return None;
        };
        static SEQ: AtomicU32 = AtomicU32::new(0);
        let base = std::env::temp_dir();
        sweep_stale(&base);
        let root = base.join(format!(
            "bidtorrent-pg-{}-{}",
            std::process::id(),
            SEQ.fetch_add(1, Ordering::SeqCst)
        ));
        let _ = std::fs::remove_dir_all(&root);
        std::fs::create_dir_all(&root).unwrap();
        let ids = run_as();
        if let Some((uid, gid)) = ids {
            std::os::unix::fs::chown(&root, Some(uid), Some(gid)).unwrap();
        }
        let data = root.join("data");
        let mut init = Command::new(bin.join("initdb"));
        init.arg("-D")
            .arg(&data)
            .args(["-U", "postgres", "--auth=trust", "-E", "UTF8", "--no-sync"])
            .stdout(Stdio::null())
            .stderr(Stdio::piped());
        as_user(&mut init, ids, false);
        let out = init.output().expect("run initdb");
        assert!(
            out.status.success(),
            "initdb failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let port = free_port();
        let mut pg = Command::new(bin.join("postgres"));
        pg.arg("-D")
            .arg(&data)
            .arg("-k")
            .arg(&root)
            .args(["-c", "listen_addresses=127.0.0.1", "-p", &port.to_string()])
            .args(["-c", "max_connections=200", "-c", "shared_buffers=64MB"])
            .stdout(Stdio::null())
            .stderr(
                std::fs::File::create(root.join("postgres.log"))
                    .map(Stdio::from)
                    .unwrap_or(Stdio::null()),
            );
        if !durable {
            pg.args(["-c", "fsync=off", "-c", "synchronous_commit=off"])
                .args(["-c", "full_page_writes=off"]);
        }
        if let Some((uid, gid)) = ids {
            let log = root.join("postgres.log");
            let _ = std::os::unix::fs::chown(&log, Some(uid), Some(gid));
        }
        as_user(&mut pg, ids, true);
        let child = spawn_forever(pg).expect("spawn postgres");
        let cluster = PgCluster {
            root,
            port,
            child: Mutex::new(Some(child)),
        };
        let t = Instant::now();
        loop {
            if postgres::Client::connect(&cluster.url_of("postgres"), postgres::NoTls).is_ok() {
                break;
            }
            if let Some(status) = cluster
                .child
                .lock()
                .unwrap()
                .as_mut()
                .and_then(|c| c.try_wait().ok().flatten())
            {
                panic!(
                    "postgres exited with {status}: {}",
                    std::fs::read_to_string(cluster.root.join("postgres.log")).unwrap_or_default()
                );
            }
            assert!(
                t.elapsed() < Duration::from_secs(30),
                "postgres did not come up: {}",
                std::fs::read_to_string(cluster.root.join("postgres.log")).unwrap_or_default()
            );
            std::thread::sleep(Duration::from_millis(50));
        }
        Some(cluster)
    }

    /// One cluster shared by every test of this test binary (stopped when it exits).
    pub fn shared() -> Option<&'static PgCluster> {
        static SHARED: OnceLock<Option<PgCluster>> = OnceLock::new();
        // Statics are never dropped: stop it and remove its files when the process exits.
        extern "C" fn stop_shared() {
            if let Some(Some(c)) = SHARED.get() {
                c.stop();
            }
        }
        SHARED
            .get_or_init(|| {
                let c = PgCluster::start(false);
                if c.is_some() {
                    // SAFETY: registers a plain function to run at exit.
                    unsafe {
                        libc::atexit(stop_shared);
                    }
                }
                c
            })
            .as_ref()
    }

    pub fn url_of(&self, db: &str) -> String {
        format!("postgres://postgres@127.0.0.1:{}/{db}", self.port)
    }

    /// A new empty database; returns its URL.
    pub fn fresh_db(&self) -> String {
        static SEQ: AtomicU32 = AtomicU32::new(0);
        let name = format!(
            "ledger_{}_{}",
            std::process::id(),
            SEQ.fetch_add(1, Ordering::SeqCst)
        );
        let mut c = postgres::Client::connect(&self.url_of("postgres"), postgres::NoTls)
            .expect("connect to the test cluster");
        c.batch_execute(&format!("CREATE DATABASE {name}"))
            .expect("create database");
        self.url_of(&name)
    }

    /// Stops the server at once (SIGQUIT) and removes its files.
    pub fn stop(&self) {
        if let Some(mut c) = self.child.lock().unwrap().take() {
            // SAFETY: signalling our own child by pid.
            unsafe {
                libc::kill(c.id() as i32, libc::SIGQUIT);
            }
            let _ = c.wait();
        }
        let _ = std::fs::remove_dir_all(&self.root);
    }
}

impl Drop for PgCluster {
    fn drop(&mut self) {
        self.stop();
    }
}
