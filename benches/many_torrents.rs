//! Many torrents in one daemon (issue 19): add, list, pause and resume all, restart, with the
//! daemon's memory, all through the real binary over its control socket.
//!
//!     cargo bench --bench many_torrents                   # 10,000 torrents
//!     BENCH_TORRENTS=1000 cargo bench --bench many_torrents
//!
//! Each torrent is one 16 KiB file whose data is on disk, so every one checks and seeds; no
//! tracker answers (announces go to 127.0.0.1:9) and the DHT is off. `ls` is timed as a script
//! would see it: process start to exit, median of 5. RSS is the daemon's VmRSS and RssAnon
//! (the heap, without the page cache) after the session settled.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // benchmarks fail loudly

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

const BIN: &str = env!("CARGO_BIN_EXE_bidtorrent");

fn s(p: &Path) -> &str {
    p.to_str().expect("utf-8 path")
}

/// A minimal single-file .torrent for `data` (one piece), written by hand so making 10,000 of
/// them costs nothing next to what is measured.
fn torrent_for(name: &str, data: &[u8]) -> Vec<u8> {
    use sha1::Digest;
    let piece = sha1::Sha1::digest(data);
    let mut info = Vec::new();
    info.extend_from_slice(
        format!("d6:lengthi{}e4:name{}:{name}", data.len(), name.len()).as_bytes(),
    );
    info.extend_from_slice(format!("12:piece lengthi{}e6:pieces20:", 16384).as_bytes());
    info.extend_from_slice(&piece);
    info.push(b'e');
    let announce = "http://127.0.0.1:9/announce";
    let mut t = Vec::new();
    t.extend_from_slice(format!("d8:announce{}:{announce}4:info", announce.len()).as_bytes());
    t.extend_from_slice(&info);
    t.push(b'e');
    t
}

struct Daemon {
    child: Child,
    data: PathBuf,
    socket: PathBuf,
    config: PathBuf,
}

impl Daemon {
    fn start(data: &Path, socket: &Path, config: &Path) -> (Daemon, Duration) {
        let t0 = Instant::now();
        let child = Command::new(BIN)
            .args([
                "--data-dir",
                s(data),
                "--socket",
                s(socket),
                "--config",
                s(config),
            ])
            .args(["-q", "daemon", "--no-dht", "--listen", "127.0.0.1:0"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let d = Daemon {
            child,
            data: data.to_path_buf(),
            socket: socket.to_path_buf(),
            config: config.to_path_buf(),
        };
        while std::os::unix::net::UnixStream::connect(socket).is_err() {
            assert!(
                t0.elapsed() < Duration::from_secs(120),
                "daemon did not start"
            );
            std::thread::sleep(Duration::from_millis(10));
        }
        (d, t0.elapsed())
    }

    fn cli(&self, args: &[&str], input: Option<&[u8]>) -> (std::process::Output, Duration) {
        let t0 = Instant::now();
        let mut child = Command::new(BIN)
            .args(["--data-dir", s(&self.data), "--socket", s(&self.socket)])
            .args(["--config", s(&self.config)])
            // Measure how long it takes, however long: no client-side timeout.
            .args(["--timeout", "0"])
            .args(args)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let mut w = child.stdin.take().unwrap();
        if let Some(i) = input {
            w.write_all(i).unwrap();
        }
        drop(w);
        let out = child.wait_with_output().unwrap();
        assert!(
            out.status.success(),
            "{args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        (out, t0.elapsed())
    }

    fn rss_kib(&self) -> (u64, u64) {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.child.id())).unwrap();
        let field = |name: &str| {
            status
                .lines()
                .find(|l| l.starts_with(name))
                .and_then(|l| l.split_whitespace().nth(1))
                .and_then(|v| v.parse().ok())
                .unwrap_or(0)
        };
        (field("VmRSS:"), field("RssAnon:"))
    }

    /// The daemon's CPU (user + system) over `window` while nothing is asked of it, as a
    /// percentage of one core: what its timers cost.
    fn idle_cpu(&self, window: Duration) -> f64 {
        let ticks = || {
            let stat = std::fs::read_to_string(format!("/proc/{}/stat", self.child.id())).unwrap();
            let f: Vec<&str> = stat[stat.rfind(')').unwrap() + 2..]
                .split_whitespace()
                .collect();
            f[11].parse::<u64>().unwrap() + f[12].parse::<u64>().unwrap()
        };
        // SAFETY: sysconf only reads a constant.
        let hz = unsafe { libc::sysconf(libc::_SC_CLK_TCK) }.max(1) as f64;
        let (a, t0) = (ticks(), Instant::now());
        std::thread::sleep(window);
        let used = (ticks() - a) as f64 / hz;
        100.0 * used / t0.elapsed().as_secs_f64()
    }

    fn stop(mut self) -> Duration {
        let t0 = Instant::now();
        // SAFETY: kill(2) on our own child.
        unsafe {
            libc::kill(self.child.id() as i32, libc::SIGTERM);
        }
        let _ = self.child.wait();
        t0.elapsed()
    }
}

impl Drop for Daemon {
    /// A failed step must not leave a daemon with thousands of torrents running.
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn median(mut v: Vec<Duration>) -> Duration {
    v.sort();
    v[v.len() / 2]
}

/// Waits until `ls --json` reports every torrent seeding; returns how long that took.
fn until_all_seeding(d: &Daemon, n: usize) -> Duration {
    let t0 = Instant::now();
    loop {
        let (out, _) = d.cli(&["ls", "--json"], None);
        let list: Vec<serde_json::Value> = serde_json::from_slice(&out.stdout).unwrap();
        let seeding = list.iter().filter(|t| t["phase"] == "seeding").count();
        if list.len() == n && seeding == n {
            return t0.elapsed();
        }
        assert!(
            t0.elapsed() < Duration::from_secs(600),
            "{seeding} of {n} seeding after 10 min"
        );
        std::thread::sleep(Duration::from_millis(250));
    }
}

fn main() {
    let n: usize = std::env::var("BENCH_TORRENTS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(10_000);
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path();
    let data_dir = root.join("payload");
    let torrents = root.join("torrents");
    std::fs::create_dir_all(&data_dir).unwrap();
    std::fs::create_dir_all(&torrents).unwrap();
    let mut list = String::new();
    for i in 0..n {
        let name = format!("t{i:05}.bin");
        let data: Vec<u8> = (0..16384u32).map(|j| (j as usize ^ i) as u8).collect();
        std::fs::write(data_dir.join(&name), &data).unwrap();
        let t = torrents.join(format!("t{i:05}.torrent"));
        std::fs::write(&t, torrent_for(&name, &data)).unwrap();
        list.push_str(s(&t));
        list.push('\n');
    }
    let state = root.join("state");
    let socket = root.join("ctl.sock");
    let config = root.join("config.toml");
    std::fs::write(&config, "").unwrap();
    println!("many_torrents: {n} torrents of 16 KiB in one daemon");

    let (d, boot) = Daemon::start(&state, &socket, &config);
    println!("  start (empty)          {:>9.3} s", boot.as_secs_f64());
    let (_, add) = d.cli(
        &["-q", "add", "-", "--dir", s(&data_dir)],
        Some(list.as_bytes()),
    );
    println!(
        "  add {n:<6} (one batch)  {:>9.3} s  ({:.0} adds/s)",
        add.as_secs_f64(),
        n as f64 / add.as_secs_f64()
    );
    let settle = until_all_seeding(&d, n);
    println!(
        "  all checked, seeding   {:>9.3} s after the add",
        settle.as_secs_f64()
    );
    let ls: Vec<Duration> = (0..5).map(|_| d.cli(&["ls"], None).1).collect();
    println!(
        "  ls (median of 5)       {:>9.3} s",
        median(ls).as_secs_f64()
    );
    let (rss, anon) = d.rss_kib();
    println!(
        "  daemon memory          {:>9.1} MiB RSS, {:.1} MiB anon",
        rss as f64 / 1024.0,
        anon as f64 / 1024.0
    );
    println!(
        "  idle CPU (10 s)        {:>9.1} % of a core",
        d.idle_cpu(Duration::from_secs(10))
    );
    let (_, pause) = d.cli(&["-q", "pause", "--all"], None);
    println!("  pause --all            {:>9.3} s", pause.as_secs_f64());
    let (_, resume) = d.cli(&["-q", "resume", "--all"], None);
    println!("  resume --all           {:>9.3} s", resume.as_secs_f64());
    let stop = d.stop();
    println!("  stop (SIGTERM)         {:>9.3} s", stop.as_secs_f64());
    let (d, boot) = Daemon::start(&state, &socket, &config);
    println!("  restart to socket      {:>9.3} s", boot.as_secs_f64());
    let settle = until_all_seeding(&d, n);
    println!(
        "  restored, all seeding  {:>9.3} s after",
        settle.as_secs_f64()
    );
    let ls: Vec<Duration> = (0..5).map(|_| d.cli(&["ls"], None).1).collect();
    println!(
        "  ls after restart       {:>9.3} s",
        median(ls).as_secs_f64()
    );
    let (rss, anon) = d.rss_kib();
    println!(
        "  daemon memory          {:>9.1} MiB RSS, {:.1} MiB anon",
        rss as f64 / 1024.0,
        anon as f64 / 1024.0
    );
    d.stop();
}
