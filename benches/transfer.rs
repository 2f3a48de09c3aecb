//! Transfer benchmark (SPEC §7, issue 19): one torrent over 127.0.0.1, every seeder -> leecher
//! pair of {bidtorrent, qBittorrent, rqbit, aria2, Transmission} (the full 5×5 matrix) in the
//! same run on the same machine, with the machine's bound (the slower of SHA-1 hashing and
//! loopback TCP) measured alongside.
//!
//!     cargo bench --bench transfer                        # 1 GiB, the 5×5 matrix, 3 runs
//!     BENCH_MIB=64 BENCH_TR_MIB=32 BENCH_RUNS=1 cargo bench --bench transfer   # a quick check
//!     BENCH_PAIRS=bt-bt,aria2-bt,bt-bt-enc cargo bench --bench transfer        # chosen rows
//!     BENCH_PAIRS=all                                     # the matrix and the extra rows
//!     BENCH_STALL_SECS=120                                # give up a row with no piece by then
//!
//! Pair keys are `SEEDER-LEECHER[-enc|-utp]` with clients bt, qbt, rqbit, aria2, tr (and lt,
//! libtorrent, for the uTP rows). Extra rows, out of the default set: bt-bt-enc, bt-bt-utp,
//! lt-lt-utp, lt-bt-utp, aria2-aria2-enc, aria2-bt-enc. rqbit is found through BENCH_RQBIT,
//! PATH or /work/rqbit/bin/rqbit; a client that is missing is skipped with one line. Pairs
//! with a Transmission seeder use a BENCH_TR_MIB payload (default 256): it paces itself as a
//! seeder. Pairs with a Transmission leecher use the full payload: Transmission decides whom
//! it is interested in only on its 10 s rechoke timer, so its first piece comes ~10 s after
//! any seeder connects, and a small payload would compare that timer's phase, not the seeders.
//!
//! Per row:
//! - MiB/s over the whole leecher process: launch -> every piece verified (the seeder is up
//!   and verified before the clock starts);
//! - MiB/s over the transfer: (total - verified at the first report with bytes verified) /
//!   (completion - that report), from the leecher's own API polled every 20 ms (bidtorrent:
//!   its `--json` progress events, the first sent as the first piece is verified);
//! - time to first byte: launch -> the first report of a verified piece;
//! - CPU-seconds per GiB (user + system from /proc/PID/stat: the leecher's since its launch,
//!   the seeder's over the leecher's run) and peak RssAnon (the heap; the page cache is not
//!   counted) from /proc/PID/status every 20 ms, leecher and seeder. The leecher's CPU
//!   includes answering the 20 ms polls of its API.
//!
//! Right before each leecher starts, a file of the payload's size is written and deleted, so
//! every leecher writes into recycled pages (see `prime_page_cache`: fresh memory is ~10×
//! slower on this VM and would otherwise land on whichever row comes first).
//!
//! Transmission as a leecher drops tracker peers in 127.0.0.0/8, so it is started first and
//! the seeder is handed its address; its clock starts once the seeder is verified. Each
//! leecher's download is checked byte for byte and deleted before the next row.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // tests fail loudly

#[path = "../tests/support/mod.rs"]
mod support;

#[path = "transfer/clients.rs"]
mod clients;

#[path = "transfer/report.rs"]
mod report;

use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use clients::{Client, Flavor, Leecher, Pair, Seeder, Setup, fresh_dir};
use report::Row;
use support::*;

/// Samples a process's peak RssAnon and VmRSS (KiB) until stopped.
struct RssProbe {
    stop: Arc<AtomicBool>,
    anon: Arc<AtomicU64>,
    rss: Arc<AtomicU64>,
    /// utime + stime in clock ticks: first and latest sample.
    cpu_first: Arc<AtomicU64>,
    cpu_last: Arc<AtomicU64>,
    thread: Option<std::thread::JoinHandle<()>>,
}

/// utime + stime of `pid`, in clock ticks.
fn cpu_ticks(pid: u32) -> Option<u64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // Fields after the parenthesised name; utime and stime are the 14th and 15th overall.
    let rest = &stat[stat.rfind(')')? + 2..];
    let f: Vec<&str> = rest.split_whitespace().collect();
    Some(f.get(11)?.parse::<u64>().ok()? + f.get(12)?.parse::<u64>().ok()?)
}

impl Drop for RssProbe {
    /// A row given up early stops its sampler too.
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
    }
}

impl RssProbe {
    /// Samples `pid`; its CPU time is counted from now, or from its launch when
    /// `from_launch` (a leecher started for this row: its start-up is part of the job, and
    /// some clients are only handed back once their API answers).
    fn start(pid: u32, from_launch: bool) -> RssProbe {
        let stop = Arc::new(AtomicBool::new(false));
        let anon = Arc::new(AtomicU64::new(0));
        let rss = Arc::new(AtomicU64::new(0));
        let first = cpu_ticks(pid).unwrap_or(0);
        let cpu_first = Arc::new(AtomicU64::new(if from_launch { 0 } else { first }));
        let cpu_last = Arc::new(AtomicU64::new(first));
        let (s, a, r, c) = (stop.clone(), anon.clone(), rss.clone(), cpu_last.clone());
        let thread = std::thread::spawn(move || {
            while !s.load(Ordering::Relaxed) {
                if let Some(t) = cpu_ticks(pid) {
                    c.store(t, Ordering::Relaxed);
                }
                let Ok(status) = std::fs::read_to_string(format!("/proc/{pid}/status")) else {
                    return;
                };
                for line in status.lines() {
                    let kib = |l: &str| {
                        l.split_whitespace()
                            .nth(1)
                            .and_then(|v| v.parse::<u64>().ok())
                            .unwrap_or(0)
                    };
                    if line.starts_with("RssAnon:") {
                        a.fetch_max(kib(line), Ordering::Relaxed);
                    } else if line.starts_with("VmRSS:") {
                        r.fetch_max(kib(line), Ordering::Relaxed);
                    }
                }
                std::thread::sleep(Duration::from_millis(20));
            }
        });
        RssProbe {
            stop,
            anon,
            rss,
            cpu_first,
            cpu_last,
            thread: Some(thread),
        }
    }

    /// (peak anon, peak rss) in KiB, and CPU seconds since the probe started.
    fn finish(mut self) -> (u64, u64, f64) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
        // SAFETY: sysconf only reads a constant.
        let hz = unsafe { libc::sysconf(libc::_SC_CLK_TCK) }.max(1) as f64;
        let ticks = self
            .cpu_last
            .load(Ordering::Relaxed)
            .saturating_sub(self.cpu_first.load(Ordering::Relaxed));
        (
            self.anon.load(Ordering::Relaxed),
            self.rss.load(Ordering::Relaxed),
            ticks as f64 / hz,
        )
    }
}

fn env_u64(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// Writes `mib` MiB of incompressible bytes (xorshift) to `path`.
fn write_big(path: &Path, mib: u64) {
    std::fs::create_dir_all(path.parent().expect("parent")).expect("mkdir");
    let mut f = std::io::BufWriter::with_capacity(
        1 << 20,
        std::fs::File::create(path).expect("create payload"),
    );
    let mut x: u64 = 0x2545_F491_4F6C_DD1D;
    let mut block = vec![0u8; 1 << 20];
    for _ in 0..mib {
        for chunk in block.chunks_exact_mut(8) {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            chunk.copy_from_slice(&x.to_le_bytes());
        }
        f.write_all(&block).expect("write payload");
    }
    f.flush().expect("flush");
}

/// Writes and deletes a file of the payload's size, so the leecher about to start writes its
/// download into pages the kernel just freed. On this VM the balloon reports free memory to
/// the host, and a page touched for the first time since costs ~10× one recycled at once
/// (~250 MB/s against ~3 GB/s): without this the first row of a run paid for fresh memory and
/// the others did not.
fn prime_page_cache(root: &Path, mib: u64) {
    let path = root.join("primer.bin");
    {
        let mut f = std::fs::File::create(&path).expect("create primer");
        let block = vec![0u8; 1 << 20];
        for _ in 0..mib {
            f.write_all(&block).expect("write primer");
        }
    }
    let _ = std::fs::remove_file(&path);
}

/// Whether two files hold the same bytes (read 1 MiB at a time).
fn same_file(a: &Path, b: &Path) -> Result<(), String> {
    let open = |p: &Path| std::fs::File::open(p).map_err(|e| format!("{}: {e}", p.display()));
    let (mut fa, mut fb) = (open(a)?, open(b)?);
    let (la, lb) = (
        fa.metadata().map_err(|e| e.to_string())?.len(),
        fb.metadata().map_err(|e| e.to_string())?.len(),
    );
    if la != lb {
        return Err(format!("{} is {lb} bytes, not {la}", b.display()));
    }
    let (mut ba, mut bb) = (vec![0u8; 1 << 20], vec![0u8; 1 << 20]);
    let mut at = 0u64;
    loop {
        let n = fa.read(&mut ba).map_err(|e| e.to_string())?;
        if n == 0 {
            return Ok(());
        }
        fb.read_exact(&mut bb[..n]).map_err(|e| e.to_string())?;
        if ba[..n] != bb[..n] {
            return Err(format!(
                "{} differs within bytes {at}..{}",
                b.display(),
                at + n as u64
            ));
        }
        at += n as u64;
    }
}

/// How long a leecher may go without a verified piece before its row is given up: 120 s by
/// default (Transmission as a seeder idles ~10 s at first).
fn stall_secs() -> u64 {
    env_u64("BENCH_STALL_SECS", 120)
}

/// One payload size: its data, torrent and tracker, for every row of that size.
struct Bench {
    setup: Setup,
    /// Every client announces to it.
    _tracker: Opentracker,
}

impl Bench {
    fn prepare(base: &Path, mib: u64) -> Bench {
        let root = base.join(format!("{mib}m"));
        let _ = std::fs::remove_dir_all(&root);
        let tracker = Opentracker::start();
        let src_dir = root.join("seed");
        println!("preparing {mib} MiB payload ...");
        write_big(&src_dir.join("payload.bin"), mib);
        let torrent = root.join("payload.torrent");
        // 1 MiB pieces.
        mktorrent(
            &src_dir.join("payload.bin"),
            &torrent,
            &tracker.http_url(),
            20,
        );
        let hash = info_hash(&torrent);
        tracker.whitelist(&hash);
        Bench {
            setup: Setup {
                root,
                torrent,
                src_dir,
                mib,
                hash_hex: hash.to_hex(),
            },
            _tracker: tracker,
        }
    }

    /// Runs one row: seeder up and verified, then the leecher timed to its last verified piece,
    /// its download checked and deleted.
    fn run(&self, p: Pair) -> Result<Row, String> {
        let b = &self.setup;
        let dl = fresh_dir(&b.root, "dl");
        let total = b.mib << 20;
        // A leecher that must be dialled starts first so the seeder can be given its address.
        let early = Leecher::needs_dial(p.leecher)
            .then(|| Leecher::start(p.leecher, p.flavor, b, &dl, None));
        let seeder = Seeder::start(p.seeder, p.flavor, b, early.as_ref().map(Leecher::addr));
        let seed_probe = RssProbe::start(seeder.pid(), false);
        prime_page_cache(&b.root, b.mib);
        let t0 = Instant::now();
        let mut leecher = match early {
            Some(l) => l,
            None => Leecher::start(p.leecher, p.flavor, b, &dl, Some(seeder.addr())),
        };
        let probe = RssProbe::start(leecher.pid(), true);
        let mut first: Option<(Instant, u64)> = None;
        let deadline = t0 + Duration::from_secs(1800);
        let stall = t0 + Duration::from_secs(stall_secs());
        let t_done = loop {
            let now = Instant::now();
            let pr = leecher.poll()?;
            let verified = pr.verified.min(total);
            if first.is_none() && verified > 0 && !pr.done {
                first = Some((now, verified));
            }
            if pr.done {
                break now;
            }
            if now > deadline {
                return Err("no completion within 30 minutes".into());
            }
            if first.is_none() && leecher.first_report().is_none() && now > stall {
                return Err(format!(
                    "no piece verified within {} s (BENCH_STALL_SECS): the pair never connected?",
                    stall_secs()
                ));
            }
            std::thread::sleep(Duration::from_millis(20));
        };
        let first = leecher.first_report().or(first);
        let (anon, rss, cpu) = probe.finish();
        let (seed_anon, _, seed_cpu) = seed_probe.finish();
        drop(leecher);
        drop(seeder);
        let checked = same_file(&b.src_dir.join("payload.bin"), &dl.join("payload.bin"));
        let _ = std::fs::remove_dir_all(&dl);
        checked?;
        let secs = t_done.duration_since(t0).as_secs_f64();
        Ok(Row {
            pair: p,
            mib: b.mib,
            secs,
            transfer_mib_s: first.and_then(|(at, v)| {
                let dt = t_done.checked_duration_since(at)?.as_secs_f64();
                (dt > 0.0).then(|| (total - v.min(total)) as f64 / (1 << 20) as f64 / dt)
            }),
            ttfb: first.and_then(|(at, _)| Some(at.checked_duration_since(t0)?.as_secs_f64())),
            leecher_anon: anon,
            leecher_rss: rss,
            seeder_anon: seed_anon,
            leecher_cpu: cpu,
            seeder_cpu: seed_cpu,
        })
    }
}

/// The 5×5 matrix: every seeder -> leecher pair of bidtorrent and the real clients.
fn matrix() -> Vec<Pair> {
    let mut v = Vec::new();
    for seeder in Client::MATRIX {
        for leecher in Client::MATRIX {
            v.push(Pair {
                seeder,
                leecher,
                flavor: Flavor::Plain,
            });
        }
    }
    v
}

const EXTRA: &str = "bt-bt-enc,bt-bt-utp,lt-lt-utp,lt-bt-utp,aria2-aria2-enc,aria2-bt-enc";

/// The rows asked for: BENCH_PAIRS (keys, comma-separated; `all` = matrix + extra rows), else
/// the matrix.
fn wanted_pairs() -> Vec<Pair> {
    let Ok(list) = std::env::var("BENCH_PAIRS") else {
        return matrix();
    };
    let mut pairs = Vec::new();
    for key in list.split(',').map(str::trim).filter(|k| !k.is_empty()) {
        let more: Vec<Pair> = match key {
            "all" => matrix()
                .into_iter()
                .chain(EXTRA.split(',').filter_map(Pair::parse))
                .collect(),
            "matrix" => matrix(),
            "extra" => EXTRA.split(',').filter_map(Pair::parse).collect(),
            k => match Pair::parse(k) {
                Some(p) => vec![p],
                None => {
                    println!("BENCH_PAIRS: unknown pair `{k}` (e.g. bt-qbt, aria2-bt-enc)");
                    Vec::new()
                }
            },
        };
        for p in more {
            if !pairs.contains(&p) {
                pairs.push(p);
            }
        }
    }
    pairs
}

fn main() {
    // `cargo bench` passes `--bench`; `cargo test --benches` passes nothing of ours. Only run
    // the (minutes-long) benchmark when asked through cargo bench.
    if !std::env::args().any(|a| a == "--bench") {
        println!("transfer benchmark: run it with `cargo bench --bench transfer`");
        return;
    }
    let mib = env_u64("BENCH_MIB", 1024);
    let tr_mib = env_u64("BENCH_TR_MIB", 256);
    let runs = env_u64("BENCH_RUNS", 3).max(1);
    let base = std::env::var("BENCH_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|_| {
            std::env::temp_dir().join(format!("bidtorrent-bench-{}", std::process::id()))
        });

    // Rows that cannot run here are said once and left out: a missing client once for all
    // its rows, a pair that cannot connect on loopback once.
    let wanted = wanted_pairs();
    let mut missing: Vec<Client> = Vec::new();
    for c in wanted.iter().flat_map(|p| [p.seeder, p.leecher]) {
        if !missing.contains(&c)
            && let Some(why) = c.missing()
        {
            println!("skipping every {} row: {why}", c.name());
            missing.push(c);
        }
    }
    let mut pairs = Vec::new();
    for p in wanted {
        if missing.contains(&p.seeder) || missing.contains(&p.leecher) {
            continue;
        }
        match p.unsupported() {
            Some(why) => println!("skipping {:<16} {why}", p.key()),
            None => pairs.push(p),
        }
    }
    let size_of = |p: &Pair| {
        if p.seeder == Client::Tr { tr_mib } else { mib }
    };

    println!("machine bound: measuring SHA-1 and loopback TCP ...");
    let sha = sha1_bound();
    let tcp = tcp_bound();
    let bound = sha.min(tcp);
    println!("  SHA-1 {sha:.0} MiB/s, loopback TCP {tcp:.0} MiB/s -> bound {bound:.0} MiB/s\n");

    let mut sizes: Vec<u64> = pairs.iter().map(size_of).collect();
    sizes.sort_unstable();
    sizes.dedup();
    let benches: Vec<Bench> = sizes.iter().map(|&m| Bench::prepare(&base, m)).collect();

    report::print_header();
    let mut rows = Vec::new();
    // Only medians over several runs mean anything on a shared machine: the whole matrix runs
    // BENCH_RUNS times (interleaved, so a noisy minute hits every pair alike).
    for run in 1..=runs {
        println!("-- run {run} of {runs}");
        for p in &pairs {
            let Some(b) = benches.iter().find(|b| b.setup.mib == size_of(p)) else {
                continue;
            };
            // A client that fails or panics (the harness panics on a start-up failure) costs
            // its row, not the run.
            let r = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| b.run(*p)));
            match r {
                Ok(Ok(row)) => {
                    report::print_row(&row, bound);
                    rows.push(row);
                }
                Ok(Err(e)) => println!("{:<32} FAILED: {e}", p.label()),
                Err(_) => println!("{:<32} FAILED (panicked, message above)", p.label()),
            }
        }
    }
    drop(benches);
    let _ = std::fs::remove_dir_all(&base);
    report::print_medians(&rows, bound);
}

/// SHA-1 over 256 MiB in 1 MiB pieces, MiB/s.
fn sha1_bound() -> f64 {
    use sha1::{Digest, Sha1};
    let block = vec![0x5au8; 1 << 20];
    let t0 = Instant::now();
    for _ in 0..256 {
        std::hint::black_box(Sha1::digest(&block));
    }
    256.0 / t0.elapsed().as_secs_f64()
}

/// One TCP stream over 127.0.0.1 moving 2 GiB, MiB/s.
fn tcp_bound() -> f64 {
    let l = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let addr = l.local_addr().expect("addr");
    let reader = std::thread::spawn(move || {
        let (mut c, _) = l.accept().expect("accept");
        let mut buf = vec![0u8; 1 << 18];
        let mut total = 0u64;
        while let Ok(n) = c.read(&mut buf) {
            if n == 0 {
                break;
            }
            total += n as u64;
        }
        total
    });
    let mut c = std::net::TcpStream::connect(addr).expect("connect");
    let block = vec![0u8; 1 << 18];
    let t0 = Instant::now();
    for _ in 0..(2048 * 4) {
        c.write_all(&block).expect("write");
    }
    drop(c);
    let total = reader.join().expect("reader");
    total as f64 / (1 << 20) as f64 / t0.elapsed().as_secs_f64()
}
