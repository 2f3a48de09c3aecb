//! Helpers for tests that run the real `bidtorrent` binary on loopback.
#![allow(dead_code)]

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::mpsc;
use std::time::Duration;

pub mod daemon;
pub mod ledger;

use bidtorrent::bencode::Owned;
use sha1::{Digest, Sha1};

pub const BIN: &str = env!("CARGO_BIN_EXE_bidtorrent");

/// Deterministic pseudo-random bytes (xorshift), so failures reproduce.
pub fn payload(len: usize, seed: u64) -> Vec<u8> {
    let mut x = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    let mut out = Vec::with_capacity(len);
    while out.len() < len {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        out.extend_from_slice(&x.to_le_bytes());
    }
    out.truncate(len);
    out
}

/// Writes the files under `dir/src/<name>` (a directory when there are several files or the
/// single path differs from name) and returns the path of a matching .torrent.
pub fn make_torrent(dir: &Path, name: &str, files: &[(&str, usize)], piece_len: usize) -> PathBuf {
    let src = dir.join("src");
    let single = files.len() == 1 && files[0].0 == name;
    let mut all = Vec::new();
    let mut list = Vec::new();
    for (i, (path, len)) in files.iter().enumerate() {
        let data = payload(*len, i as u64 + 1);
        let full = if single {
            src.join(name)
        } else {
            src.join(name).join(path)
        };
        std::fs::create_dir_all(full.parent().expect("parent")).expect("mkdir");
        std::fs::write(&full, &data).expect("write payload");
        all.extend_from_slice(&data);
        list.push(Owned::dict().with("length", *len as i64).with(
            "path",
            Owned::List(path.split('/').map(Owned::from).collect()),
        ));
    }
    let pieces: Vec<u8> = all
        .chunks(piece_len)
        .flat_map(|c| <[u8; 20]>::from(Sha1::digest(c)))
        .collect();
    let mut info = Owned::dict()
        .with("name", name)
        .with("piece length", piece_len as i64)
        .with("pieces", pieces);
    if single {
        info.insert("length", all.len() as i64);
    } else {
        info.insert("files", Owned::List(list));
    }
    let t = Owned::dict()
        .with("announce", "http://127.0.0.1:9/announce")
        .with("info", info);
    let path = dir.join(format!("{name}.torrent"));
    std::fs::write(&path, t.encode()).expect("write torrent");
    path
}

pub fn assert_same_tree(a: &Path, b: &Path) {
    if a.is_file() {
        let x = std::fs::read(a).expect("read a");
        let y = std::fs::read(b).unwrap_or_else(|e| panic!("{}: {e}", b.display()));
        assert!(x == y, "{} and {} differ", a.display(), b.display());
        return;
    }
    for entry in std::fs::read_dir(a).expect("read_dir") {
        let entry = entry.expect("entry");
        assert_same_tree(&entry.path(), &b.join(entry.file_name()));
    }
}

pub fn flip_byte(path: &Path, offset: u64) {
    use std::os::unix::fs::FileExt;
    let f = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .open(path)
        .expect("open");
    let mut b = [0u8];
    f.read_exact_at(&mut b, offset).expect("read");
    b[0] ^= 0xff;
    f.write_all_at(&b, offset).expect("write");
}

/// A running bidtorrent process whose JSON events are collected; killed on drop.
pub struct Bt {
    child: Child,
    events: mpsc::Receiver<serde_json::Value>,
    seen: Vec<serde_json::Value>,
}

pub struct Finished {
    pub status: ExitStatus,
    pub events: Vec<serde_json::Value>,
    pub stderr: String,
}

impl Bt {
    fn spawn(args: &[&str]) -> Bt {
        let mut child = Command::new(BIN)
            .args(args)
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("spawn bidtorrent");
        let stdout = child.stdout.take().expect("stdout");
        let (tx, rx) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                if let Ok(v) = serde_json::from_str(&line)
                    && tx.send(v).is_err()
                {
                    return;
                }
            }
        });
        Bt {
            child,
            events: rx,
            seen: Vec::new(),
        }
    }

    /// Seeds `torrent` from `dir` on a free loopback port.
    pub fn seed(tmp: &Path, torrent: &Path, dir: &Path) -> Bt {
        Bt::seed_with(tmp, torrent, dir, &[])
    }

    pub fn seed_with(tmp: &Path, torrent: &Path, dir: &Path, extra: &[&str]) -> Bt {
        let state = tmp.join("state-seed");
        let mut args = vec![
            "--data-dir",
            s(&state),
            "seed",
            s(torrent),
            "--dir",
            s(dir),
            "--listen",
            "127.0.0.1:0",
            "--json",
        ];
        args.extend_from_slice(extra);
        let mut bt = Bt::spawn(&args);
        bt.wait_for("seeding", Duration::from_secs(30));
        bt
    }

    pub fn spawn_download(
        tmp: &Path,
        torrent: &Path,
        dir: &Path,
        peers: &[&str],
        extra: &[&str],
    ) -> Bt {
        let state = tmp.join("state-dl");
        let mut args = vec![
            "--data-dir",
            s(&state),
            "download",
            s(torrent),
            "--dir",
            s(dir),
            "--listen",
            "127.0.0.1:0",
            "--json",
        ];
        for p in peers {
            args.push("--peer");
            args.push(p);
        }
        if no_public_dht(extra) {
            args.push("--no-dht");
        }
        args.extend_from_slice(extra);
        Bt::spawn(&args)
    }

    /// Runs a download to the end (at most 120 s).
    pub fn download(
        tmp: &Path,
        torrent: &Path,
        dir: &Path,
        peers: &[&str],
        extra: &[&str],
    ) -> Finished {
        let state = tmp.join("state-dl");
        let mut cmd = Command::new(BIN);
        cmd.args([
            "--data-dir",
            s(&state),
            "download",
            s(torrent),
            "--dir",
            s(dir),
        ])
        .args(["--listen", "127.0.0.1:0", "--json"]);
        for p in peers {
            cmd.args(["--peer", p]);
        }
        if no_public_dht(extra) {
            cmd.arg("--no-dht");
        }
        cmd.args(extra);
        let child = cmd
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn download");
        let out = wait_with_timeout(child, Duration::from_secs(120));
        Finished {
            status: out.status,
            events: String::from_utf8_lossy(&out.stdout)
                .lines()
                .filter_map(|l| serde_json::from_str(l).ok())
                .collect(),
            stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
        }
    }

    pub fn wait_for(&mut self, event: &str, timeout: Duration) -> serde_json::Value {
        if let Some(e) = self.seen.iter().find(|e| e["event"] == event) {
            return e.clone();
        }
        let deadline = std::time::Instant::now() + timeout;
        loop {
            let left = deadline.saturating_duration_since(std::time::Instant::now());
            match self.events.recv_timeout(left) {
                Ok(e) => {
                    self.seen.push(e.clone());
                    if e["event"] == event {
                        return e;
                    }
                    assert!(e["event"] != "error", "bidtorrent reported {e}");
                }
                Err(_) => panic!("no {event:?} event within {timeout:?}; saw {:?}", self.seen),
            }
        }
    }

    pub fn port(&mut self) -> u16 {
        let e = self.wait_for("listening", Duration::from_secs(10));
        e["port"].as_u64().expect("port") as u16
    }

    pub fn terminate(&mut self) {
        // SAFETY: plain kill(2) on our own child's pid.
        unsafe {
            libc::kill(self.child.id() as i32, libc::SIGTERM);
        }
    }

    pub fn wait_events(mut self, timeout: Duration) -> Vec<serde_json::Value> {
        let deadline = std::time::Instant::now() + timeout;
        while std::time::Instant::now() < deadline {
            if let Ok(Some(_)) = self.child.try_wait() {
                break;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        while let Ok(e) = self.events.recv_timeout(Duration::from_millis(200)) {
            self.seen.push(e);
        }
        std::mem::take(&mut self.seen)
    }
}

impl Drop for Bt {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn wait_with_timeout(mut child: Child, timeout: Duration) -> std::process::Output {
    let deadline = std::time::Instant::now() + timeout;
    loop {
        if let Ok(Some(_)) = child.try_wait() {
            break;
        }
        if std::time::Instant::now() > deadline {
            let _ = child.kill();
            break;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    child.wait_with_output().expect("output")
}

/// `download` runs the DHT by default, with the public routers: tests must never reach them, so
/// it is turned off unless the test names its own (loopback) bootstrap nodes or turns it off.
fn no_public_dht(extra: &[&str]) -> bool {
    !extra
        .iter()
        .any(|a| *a == "--dht-bootstrap" || *a == "--no-dht")
}

/// `bidtorrent seed` in the background on 127.0.0.1 with the DHT off, `extra` appended to
/// its arguments; returns once it seeds, with its peer port. The caller kills the child.
pub fn seed_in_background(
    state: &Path,
    torrent: &Path,
    dir: &Path,
    extra: &[&str],
) -> (std::process::Child, u16) {
    let mut child = Command::new(BIN)
        .args(["--data-dir", s(state), "seed", s(torrent), "--dir", s(dir)])
        .args(["--listen", "127.0.0.1:0", "--json", "--no-dht"])
        .args(extra)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("spawn seeder");
    let out = child.stdout.take().expect("seeder stdout");
    let mut port = None;
    for line in BufReader::new(out).lines() {
        let v: serde_json::Value =
            serde_json::from_str(&line.expect("seeder output")).expect("a JSON event");
        if v["event"] == "listening" {
            port = v["port"].as_u64().and_then(|p| u16::try_from(p).ok());
        }
        if v["event"] == "seeding" {
            return (child, port.expect("seeder reported its port"));
        }
    }
    let _ = child.kill();
    let _ = child.wait();
    panic!("the seeder ended before seeding");
}

pub fn s(p: &Path) -> &str {
    p.to_str().expect("utf-8 path")
}
