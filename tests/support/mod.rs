//! Test harness for integration tests against real BitTorrent programs on loopback:
//! opentracker, Transmission 3.00, aria2 1.36 and mktorrent (Debian bookworm packages).
//!
//! Use it with `mod support;` from each `tests/*.rs` file.
//!
//! Rules the harness enforces:
//! - everything binds and talks to 127.0.0.1 only: DHT, LPD, UPnP/NAT-PMP, PEX and uTP are off
//!   in every real client;
//! - every spawned process is SIGKILLed and reaped on Drop, and also dies with the test binary
//!   (PR_SET_PDEATHSIG from a spawner thread that lives as long as the process, plus aria2's own
//!   `--stop-with-process`), so a panicking or killed test leaves nothing behind;
//! - a missing program makes the test FAIL with the package to install, never silently pass.

// Each integration test binary uses a different subset of the harness.
#![allow(dead_code)]

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::fs;
use std::io;
use std::net::{SocketAddr, TcpListener, TcpStream, UdpSocket};
use std::os::unix::fs::PermissionsExt;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::atomic::{AtomicU16, Ordering};
use std::sync::{Mutex, OnceLock, mpsc};
use std::thread;
use std::time::{Duration, Instant};

use bidtorrent::engine::metainfo::Metainfo;
use bidtorrent::engine::types::InfoHash;

// ---------------------------------------------------------------------------------------------
// Programs and processes

/// Absolute path of a required program; panics with the Debian package to install if absent.
pub fn require(program: &str) -> PathBuf {
    let package = match program {
        "opentracker" => "opentracker",
        "aria2c" => "aria2",
        "mktorrent" => "mktorrent",
        "transmission-daemon"
        | "transmission-remote"
        | "transmission-create"
        | "transmission-show" => "transmission-daemon / transmission-cli",
        "setpriv" => "util-linux",
        "python3" => "python3-libtorrent",
        "nginx" => "nginx",
        _ => "?",
    };
    // /usr/bin first: the Debian python3 is the one with python3-libtorrent, whatever a
    // user's PATH (pyenv) says.
    for dir in ["/usr/bin", "/usr/local/bin", "/bin", "/usr/sbin"] {
        let p = Path::new(dir).join(program);
        if p.is_file() {
            return p;
        }
    }
    panic!(
        "required program `{program}` is not installed (Debian package: {package}); \
         scripts/test.sh installs the test dependencies"
    );
}

type SpawnJob = (Command, mpsc::Sender<io::Result<Child>>);

/// Spawn `cmd` so that it gets SIGKILL when the test process dies.
///
/// PR_SET_PDEATHSIG fires when the *thread* that forked the child exits, not the process.
/// Test threads end with their test and tokio's blocking threads come and go, so children are
/// forked from one spawner thread that lives until the process exits.
fn spawn(mut cmd: Command) -> io::Result<Child> {
    static SPAWNER: OnceLock<Mutex<mpsc::Sender<SpawnJob>>> = OnceLock::new();
    let tx = SPAWNER.get_or_init(|| {
        let (tx, rx) = mpsc::channel::<SpawnJob>();
        thread::Builder::new()
            .name("harness-spawner".into())
            .spawn(move || {
                for (mut cmd, reply) in rx {
                    let _ = reply.send(cmd.spawn());
                }
            })
            .expect("spawner thread");
        Mutex::new(tx)
    });
    // SAFETY: prctl is async-signal-safe and touches no memory of the parent.
    unsafe {
        cmd.pre_exec(|| {
            if libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL) != 0 {
                return Err(io::Error::last_os_error());
            }
            Ok(())
        });
    }
    let (rtx, rrx) = mpsc::channel();
    tx.lock()
        .unwrap_or_else(|p| p.into_inner())
        .send((cmd, rtx))
        .expect("spawner thread alive");
    rrx.recv().expect("spawner replies")
}

/// A spawned program, killed and reaped on Drop. Its stdout and stderr go to `log`.
pub struct Proc {
    name: String,
    child: Mutex<Child>,
    pub log: PathBuf,
}

impl Proc {
    /// Start `program args...` with output to `log` (created or truncated).
    pub fn start(name: &str, program: &Path, args: &[String], log: &Path) -> Proc {
        Self::start_in(name, program, args, log, None)
    }

    /// As [`Proc::start`], in working directory `cwd`.
    pub fn start_in(
        name: &str,
        program: &Path,
        args: &[String],
        log: &Path,
        cwd: Option<&Path>,
    ) -> Proc {
        let out = fs::File::create(log).unwrap_or_else(|e| panic!("create {}: {e}", log.display()));
        let err = out.try_clone().expect("dup log fd");
        let mut cmd = Command::new(program);
        cmd.args(args).stdin(Stdio::null()).stdout(out).stderr(err);
        if let Some(dir) = cwd {
            cmd.current_dir(dir);
        }
        let child = spawn(cmd).unwrap_or_else(|e| panic!("spawn {}: {e}", program.display()));
        Proc {
            name: name.to_string(),
            child: Mutex::new(child),
            log: log.to_path_buf(),
        }
    }

    pub fn pid(&self) -> u32 {
        self.child.lock().unwrap().id()
    }

    /// `Some(code)` once the process has exited (`-1` for death by signal).
    pub fn exit_code(&self) -> Option<i32> {
        match self.child.lock().unwrap().try_wait() {
            Ok(Some(st)) => Some(st.code().unwrap_or(-1)),
            _ => None,
        }
    }

    /// The last 40 lines of the program's output, for failure messages.
    pub fn log_tail(&self) -> String {
        let s = fs::read_to_string(&self.log).unwrap_or_default();
        let lines: Vec<&str> = s.lines().collect();
        let start = lines.len().saturating_sub(40);
        format!(
            "--- {} log {} ---\n{}",
            self.name,
            self.log.display(),
            lines[start..].join("\n")
        )
    }

    /// Send a signal (e.g. SIGHUP) to the process.
    pub fn signal(&self, sig: i32) {
        // SAFETY: plain syscall on a pid we own and have not reaped (Drop reaps).
        unsafe {
            libc::kill(self.pid() as libc::pid_t, sig);
        }
    }
}

impl Drop for Proc {
    fn drop(&mut self) {
        let child = self.child.get_mut().unwrap_or_else(|p| p.into_inner());
        let _ = child.kill();
        let _ = child.wait();
    }
}

fn run(program: &Path, args: &[&str]) -> Output {
    Command::new(program)
        .args(args)
        .stdin(Stdio::null())
        .output()
        .unwrap_or_else(|e| panic!("run {}: {e}", program.display()))
}

/// Poll `f` every 100 ms until it returns true or `timeout` passes.
pub fn wait_until(timeout: Duration, mut f: impl FnMut() -> bool) -> bool {
    let end = Instant::now() + timeout;
    loop {
        if f() {
            return true;
        }
        if Instant::now() >= end {
            return false;
        }
        thread::sleep(Duration::from_millis(100));
    }
}

/// True once something accepts TCP connections on 127.0.0.1:`port`.
pub fn tcp_listening(port: u16) -> bool {
    TcpStream::connect_timeout(
        &SocketAddr::from(([127, 0, 0, 1], port)),
        Duration::from_millis(200),
    )
    .is_ok()
}

/// A temporary directory that other users can read: opentracker runs as `_opentracker` and
/// must read its config and whitelist. Created under /tmp, never under $HOME (mode 0700).
pub fn world_readable_tempdir(prefix: &str) -> tempfile::TempDir {
    let d = tempfile::Builder::new()
        .prefix(prefix)
        .tempdir_in("/tmp")
        .expect("tempdir in /tmp");
    fs::set_permissions(d.path(), fs::Permissions::from_mode(0o755)).expect("chmod tempdir");
    d
}

// ---------------------------------------------------------------------------------------------
// Ports

/// A port free for both TCP and UDP on 127.0.0.1 right now.
///
/// Ports come from a per-process counter below the Linux ephemeral range (32768+), starting
/// at an offset derived from the pid, so parallel tests and parallel test binaries rarely
/// collide with each other or with outgoing connections; each candidate is checked by
/// binding it. Callers that then spawn a program should still retry on a bind failure.
pub fn free_port() -> u16 {
    static NEXT: AtomicU16 = AtomicU16::new(0);
    const LOW: u16 = 12000;
    const SPAN: u16 = 20000;
    let _ = NEXT.compare_exchange(
        0,
        (std::process::id() % u32::from(SPAN / 100)) as u16 * 100,
        Ordering::SeqCst,
        Ordering::SeqCst,
    );
    for _ in 0..SPAN {
        let n = NEXT.fetch_add(1, Ordering::SeqCst) % SPAN;
        let port = LOW + n;
        let tcp = TcpListener::bind(("127.0.0.1", port));
        let udp = UdpSocket::bind(("127.0.0.1", port));
        if tcp.is_ok() && udp.is_ok() {
            return port;
        }
    }
    panic!("no free port in {LOW}..{}", LOW + SPAN);
}

// ---------------------------------------------------------------------------------------------
// Payloads and torrents

/// Write `files` (relative path, length) under `dir` with deterministic pseudo-random bytes
/// from `seed` (the same seed and path always give the same bytes). Parent dirs are created.
pub fn write_payload(dir: &Path, files: &[(&str, usize)], seed: u64) {
    for (rel, len) in files {
        let path = dir.join(rel);
        if let Some(parent) = path.parent() {
            fs::create_dir_all(parent).expect("create payload dir");
        }
        // splitmix64, seeded per file so files differ from each other.
        let mut state = seed
            ^ rel.bytes().fold(0xcbf2_9ce4_8422_2325u64, |h, b| {
                (h ^ u64::from(b)).wrapping_mul(0x100_0000_01b3)
            });
        let mut data = Vec::with_capacity(*len + 8);
        while data.len() < *len {
            state = state.wrapping_add(0x9e37_79b9_7f4a_7c15);
            let mut z = state;
            z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
            z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
            data.extend_from_slice(&(z ^ (z >> 31)).to_le_bytes());
        }
        data.truncate(*len);
        fs::write(&path, data).unwrap_or_else(|e| panic!("write {}: {e}", path.display()));
    }
}

/// Make `out` from `src` (a file or a directory) with the real mktorrent, announcing to
/// `tracker`, piece length 2^`piece_len_log2` (mktorrent accepts 15..=28). An existing `out`
/// is replaced (mktorrent itself refuses to overwrite).
/// A test payload: `files` written under ROOT/seed/payload (see [`write_payload`]) and its
/// .torrent at ROOT/payload.torrent, 64 KiB pieces, announcing to `tracker`. Returns both
/// paths.
pub fn payload_torrent(
    root: &Path,
    tracker: &str,
    files: &[(&str, usize)],
    seed: u64,
) -> (PathBuf, PathBuf) {
    let src = root.join("seed").join("payload");
    write_payload(&src, files, seed);
    let torrent = root.join("payload.torrent");
    mktorrent(&src, &torrent, tracker, 16);
    (src, torrent)
}

pub fn mktorrent(src: &Path, out: &Path, tracker: &str, piece_len_log2: u32) {
    let bin = require("mktorrent");
    let _ = fs::remove_file(out);
    let l = piece_len_log2.to_string();
    let o = run(
        &bin,
        &[
            "-a",
            tracker,
            "-l",
            &l,
            "-t",
            "2",
            "-o",
            out.to_str().expect("utf-8 path"),
            src.to_str().expect("utf-8 path"),
        ],
    );
    assert!(
        o.status.success() && out.is_file(),
        "mktorrent failed: {}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    );
}

/// The info-hash of a .torrent file.
pub fn info_hash(torrent: &Path) -> InfoHash {
    Metainfo::from_file(torrent)
        .unwrap_or_else(|e| panic!("{}: {e}", torrent.display()))
        .info_hash
}

fn tree(root: &Path) -> BTreeMap<PathBuf, PathBuf> {
    fn walk(root: &Path, dir: &Path, out: &mut BTreeMap<PathBuf, PathBuf>) {
        let Ok(rd) = fs::read_dir(dir) else { return };
        for e in rd.flatten() {
            let p = e.path();
            if p.is_dir() {
                walk(root, &p, out);
            } else {
                out.insert(p.strip_prefix(root).unwrap_or(&p).to_path_buf(), p.clone());
            }
        }
    }
    let mut out = BTreeMap::new();
    if root.is_file() {
        out.insert(PathBuf::new(), root.to_path_buf());
    } else {
        walk(root, root, &mut out);
    }
    out
}

fn compare_trees(a: &Path, b: &Path, ignore_empty: bool) {
    let keep = |m: BTreeMap<PathBuf, PathBuf>| -> BTreeMap<PathBuf, PathBuf> {
        m.into_iter()
            .filter(|(_, p)| !ignore_empty || fs::metadata(p).map(|m| m.len() > 0).unwrap_or(true))
            .collect()
    };
    let (ta, tb) = (keep(tree(a)), keep(tree(b)));
    let names_a: Vec<_> = ta.keys().collect();
    let names_b: Vec<_> = tb.keys().collect();
    assert_eq!(
        names_a,
        names_b,
        "different file sets under {} and {}",
        a.display(),
        b.display()
    );
    for (rel, pa) in &ta {
        let (da, db) = (
            fs::read(pa).expect("read"),
            fs::read(&tb[rel]).expect("read"),
        );
        if da != db {
            let first = da.iter().zip(&db).position(|(x, y)| x != y);
            panic!(
                "{} differs: {} vs {} bytes, first difference at byte {:?}",
                rel.display(),
                da.len(),
                db.len(),
                first
            );
        }
    }
}

/// Both trees hold the same files (regular files, compared recursively by relative path) with
/// the same bytes. Either may also be a single file.
pub fn assert_same_tree(a: &Path, b: &Path) {
    compare_trees(a, b, false);
}

/// As [`assert_same_tree`], but zero-length files are ignored on both sides: Transmission 3.00
/// does not create zero-length files of a torrent.
pub fn assert_same_tree_ignoring_empty(a: &Path, b: &Path) {
    compare_trees(a, b, true);
}

// ---------------------------------------------------------------------------------------------
// opentracker

/// opentracker (Debian's build: whitelist mode) on 127.0.0.1, HTTP and UDP on `port`.
///
/// It refuses to run as root, so it is started as `_opentracker` through
/// `setpriv --reuid/--regid --init-groups --pdeathsig SIGKILL`; setpriv execs in place, so the
/// pid we hold is opentracker's own and SIGHUP/SIGKILL reach it directly (runuser forks and
/// does not forward SIGKILL). Its config and whitelist live in a world-readable dir in /tmp.
/// Always in the whitelist (see [`Opentracker::start`]); never used by a real torrent.
const PLACEHOLDER_HASH: &str = "f00df00df00df00df00df00df00df00df00df00d";

pub struct Opentracker {
    pub port: u16,
    proc: Proc,
    whitelist: Mutex<Vec<InfoHash>>,
    dir: tempfile::TempDir,
}

impl Opentracker {
    pub fn start() -> Opentracker {
        let bin = require("opentracker");
        let setpriv = require("setpriv");
        let dir = world_readable_tempdir("opentracker-");
        let wl = dir.path().join("whitelist.txt");
        // Started with an empty whitelist, opentracker cannot map the file and then dies of
        // the first SIGHUP instead of reloading; a placeholder hash keeps reloads working.
        write_readable(&wl, &format!("{PLACEHOLDER_HASH}\n"));
        let mut last_log = String::new();
        for _attempt in 0..5 {
            let port = free_port();
            let conf = dir.path().join("opentracker.conf");
            write_readable(
                &conf,
                &format!(
                    "listen.tcp_udp 127.0.0.1:{port}\naccess.whitelist {}\n",
                    wl.display()
                ),
            );
            let args: Vec<String> = [
                "--reuid=_opentracker",
                "--regid=_opentracker",
                "--init-groups",
                "--pdeathsig=SIGKILL",
                "--",
            ]
            .iter()
            .map(|s| s.to_string())
            .chain([
                bin.display().to_string(),
                "-f".into(),
                conf.display().to_string(),
            ])
            .collect();
            // The log goes next to the config, opened by us before the uid change. The working
            // directory must be readable by _opentracker: it chdirs to "." (its default
            // `tracker.rootdir`) and then cannot open the whitelist from an unreadable cwd.
            let proc = Proc::start_in(
                "opentracker",
                &setpriv,
                &args,
                &dir.path().join("log.txt"),
                Some(dir.path()),
            );
            if wait_until(Duration::from_secs(5), || {
                proc.exit_code().is_some() || tcp_listening(port)
            }) && proc.exit_code().is_none()
            {
                return Opentracker {
                    port,
                    proc,
                    whitelist: Mutex::new(Vec::new()),
                    dir,
                };
            }
            last_log = proc.log_tail();
        }
        panic!("opentracker did not start in 5 attempts\n{last_log}");
    }

    /// Add `h` to the whitelist, SIGHUP the tracker, and wait until announces for `h` are
    /// accepted (the reload is asynchronous).
    pub fn whitelist(&self, h: &InfoHash) {
        let mut wl = self.whitelist.lock().unwrap();
        if !wl.contains(h) {
            wl.push(*h);
        }
        let mut text = format!("{PLACEHOLDER_HASH}\n");
        for h in wl.iter() {
            let _ = writeln!(text, "{}", h.to_hex());
        }
        // Write a new file and rename it over the old, so a reload never reads half a file.
        let tmp = self.dir.path().join("whitelist.txt.new");
        write_readable(&tmp, &text);
        fs::rename(&tmp, self.dir.path().join("whitelist.txt")).expect("rename whitelist");
        let mut n = 0;
        let ok = wait_until(Duration::from_secs(10), || {
            // Re-send SIGHUP now and then in case one arrived before the handler was set.
            if n % 10 == 0 {
                self.proc.signal(libc::SIGHUP);
            }
            n += 1;
            self.accepts(h)
        });
        assert!(
            ok,
            "opentracker did not accept {h} after SIGHUP (exit code {:?})\n{}",
            self.proc.exit_code(),
            self.proc.log_tail()
        );
    }

    /// Whether an HTTP announce for `h` is accepted. opentracker does not check the whitelist
    /// for `event=stopped`, so this sends a real announce for a throwaway peer (port 9,
    /// numwant 0) and, when accepted, a `stopped` right after so the swarm is left unchanged.
    pub fn accepts(&self, h: &InfoHash) -> bool {
        let enc: String = h.0.iter().map(|b| format!("%{b:02X}")).collect();
        // opentracker answers 400 to a peer_id that is not exactly 20 bytes.
        let url = |event: &str| {
            format!(
                "{}?info_hash={enc}&peer_id=-HA0001-harnessprobe&port=9&uploaded=0&downloaded=0&left=0&numwant=0&compact=1{event}",
                self.http_url()
            )
        };
        let get = |u: String| -> Option<Vec<u8>> {
            let mut r = ureq::get(&u).call().ok()?;
            r.body_mut().read_to_vec().ok()
        };
        match get(url("")) {
            Some(body) if body.starts_with(b"d") && !contains(&body, b"failure reason") => {
                let _ = get(url("&event=stopped"));
                true
            }
            _ => false,
        }
    }

    /// `http://127.0.0.1:PORT/announce`
    pub fn http_url(&self) -> String {
        format!("http://127.0.0.1:{}/announce", self.port)
    }

    /// `udp://127.0.0.1:PORT/announce`
    pub fn udp_url(&self) -> String {
        format!("udp://127.0.0.1:{}/announce", self.port)
    }

    pub fn log_tail(&self) -> String {
        self.proc.log_tail()
    }
}

fn contains(hay: &[u8], needle: &[u8]) -> bool {
    hay.windows(needle.len()).any(|w| w == needle)
}

fn write_readable(path: &Path, text: &str) {
    fs::write(path, text).unwrap_or_else(|e| panic!("write {}: {e}", path.display()));
    fs::set_permissions(path, fs::Permissions::from_mode(0o644)).expect("chmod");
}

// ---------------------------------------------------------------------------------------------
// Transmission

/// transmission-daemon 3.00 with one torrent, in its own config dir, peer port fixed, RPC on
/// 127.0.0.1 without auth; DHT, LPD, PEX, uTP and port mapping off; no ratio or idle limits.
///
/// Quirks: it ignores tracker peers in 127.0.0.0/8 (it accepts incoming ones), so when it
/// leeches on loopback the seeder must dial [`Transmission::peer_addr`]; it does not create
/// zero-length files; as a seeder it paces itself (4–13 MiB/s, idle for ~10 s at first).
pub struct Transmission {
    /// Peer (BitTorrent) port on 127.0.0.1.
    pub port: u16,
    /// RPC port on 127.0.0.1, for transmission-remote.
    pub rpc_port: u16,
    proc: Proc,
    _config: tempfile::TempDir,
}

impl Transmission {
    pub fn pid(&self) -> u32 {
        self.proc.pid()
    }

    /// Seed `torrent` from `data_dir` (the directory that contains the torrent's name).
    pub fn seed(torrent: &Path, data_dir: &Path) -> Self {
        Self::start(torrent, data_dir)
    }

    /// Download `torrent` into `download_dir`.
    pub fn leech(torrent: &Path, download_dir: &Path) -> Self {
        Self::start(torrent, download_dir)
    }

    /// `127.0.0.1:port`, for a seeder to dial.
    pub fn peer_addr(&self) -> SocketAddr {
        SocketAddr::from(([127, 0, 0, 1], self.port))
    }

    /// As [`Transmission::seed`]/[`Transmission::leech`] with settings.json keys replaced
    /// (e.g. `"encryption": 2`, required).
    pub fn start_with(torrent: &Path, dir: &Path, overrides: serde_json::Value) -> Self {
        Self::start_inner(torrent, dir, overrides)
    }

    fn start(torrent: &Path, dir: &Path) -> Self {
        Self::start_inner(torrent, dir, serde_json::json!({}))
    }

    fn start_inner(torrent: &Path, dir: &Path, overrides: serde_json::Value) -> Self {
        let bin = require("transmission-daemon");
        require("transmission-remote");
        fs::create_dir_all(dir).expect("create download dir");
        let mut last_log = String::new();
        for _attempt in 0..3 {
            let config = tempfile::tempdir().expect("tempdir");
            let (port, rpc_port) = (free_port(), free_port());
            let settings = serde_json::json!({
                "bind-address-ipv4": "127.0.0.1",
                "bind-address-ipv6": "::1",
                "rpc-bind-address": "127.0.0.1",
                "rpc-port": rpc_port,
                "rpc-enabled": true,
                "rpc-authentication-required": false,
                "rpc-whitelist-enabled": false,
                "rpc-host-whitelist-enabled": false,
                "peer-port": port,
                "peer-port-random-on-start": false,
                "port-forwarding-enabled": false,
                "dht-enabled": false,
                "lpd-enabled": false,
                "pex-enabled": false,
                "utp-enabled": false,
                "blocklist-enabled": false,
                "download-dir": dir,
                "incomplete-dir-enabled": false,
                "watch-dir-enabled": false,
                "rename-partial-files": false,
                "start-added-torrents": true,
                "ratio-limit-enabled": false,
                "idle-seeding-limit-enabled": false,
                "speed-limit-up-enabled": false,
                "speed-limit-down-enabled": false,
                "alt-speed-enabled": false,
                "encryption": 1,
                "message-level": 2,
                "umask": 18,
            });
            let mut settings = settings;
            if let (Some(s), Some(o)) = (settings.as_object_mut(), overrides.as_object()) {
                for (k, v) in o {
                    s.insert(k.clone(), v.clone());
                }
            }
            fs::write(config.path().join("settings.json"), settings.to_string())
                .expect("write settings.json");
            let s = |v: &str| v.to_string();
            let args = vec![
                s("-f"),
                s("-g"),
                config.path().display().to_string(),
                s("-P"),
                port.to_string(),
                s("-p"),
                rpc_port.to_string(),
                s("-r"),
                s("127.0.0.1"),
                s("-i"),
                s("127.0.0.1"),
                s("-T"),
                s("-O"),
                s("-Y"),
                s("-M"),
                s("-w"),
                dir.display().to_string(),
            ];
            let proc = Proc::start(
                "transmission-daemon",
                &bin,
                &args,
                &config.path().join("daemon.log"),
            );
            let t = Transmission {
                port,
                rpc_port,
                proc,
                _config: config,
            };
            let up = wait_until(Duration::from_secs(10), || {
                t.proc.exit_code().is_some() || t.remote(&["-l"]).status.success()
            });
            if !up || t.proc.exit_code().is_some() {
                last_log = t.proc.log_tail();
                continue;
            }
            let o = t.remote(&["-a", torrent.to_str().expect("utf-8 path")]);
            assert!(
                o.status.success(),
                "transmission-remote -a {}: {}{}",
                torrent.display(),
                String::from_utf8_lossy(&o.stdout),
                String::from_utf8_lossy(&o.stderr)
            );
            return t;
        }
        panic!("transmission-daemon did not start in 3 attempts\n{last_log}");
    }

    /// Run transmission-remote against this daemon.
    pub fn remote(&self, args: &[&str]) -> Output {
        let bin = require("transmission-remote");
        let host = format!("127.0.0.1:{}", self.rpc_port);
        let mut all = vec![host.as_str()];
        all.extend_from_slice(args);
        run(&bin, &all)
    }

    /// `transmission-remote -t 1 -i` output (the torrent's details).
    pub fn info(&self) -> String {
        String::from_utf8_lossy(&self.remote(&["-t", "1", "-i"]).stdout).into_owned()
    }

    /// Wait until the torrent is 100 % done and verified (for a seeder: its check finished).
    pub fn wait_complete(&self, timeout: Duration) -> bool {
        wait_until(timeout, || {
            let info = self.info();
            info.contains("Percent Done: 100%") && !info.contains("State: Verifying")
        })
    }

    pub fn log_tail(&self) -> String {
        format!(
            "{}\n--- transmission-remote -i ---\n{}",
            self.proc.log_tail(),
            self.info()
        )
    }
}

// ---------------------------------------------------------------------------------------------
// aria2

/// aria2c with one torrent: DHT (v4, v6), LPD and PEX off, fixed `--listen-port`, no config
/// file, all sockets bound to 127.0.0.1 (`--interface`), `--stop-with-process` our pid.
///
/// A seeder hash-checks the data (`--check-integrity`) and seeds forever (`--seed-ratio=0.0`);
/// a leecher exits 0 as soon as it is complete (`--seed-time=0`), which is what
/// [`Aria2::wait_complete`] waits for.
pub struct Aria2 {
    pub port: u16,
    proc: Proc,
    _tracker: Option<FakeTracker>,
    _logs: tempfile::TempDir,
    leech: bool,
}

impl Aria2 {
    pub fn pid(&self) -> u32 {
        self.proc.pid()
    }

    /// Seed `torrent` from `data_dir` (the directory that contains the torrent's name).
    pub fn seed(torrent: &Path, data_dir: &Path) -> Self {
        Self::start(torrent, data_dir, &[], false, &[])
    }

    /// As [`Aria2::seed`], with extra aria2c options placed after the harness's own (aria2
    /// takes the last value of an option, so these override). Used to turn on a DHT that only
    /// knows loopback nodes (`--dht-entry-point=127.0.0.1:N`).
    pub fn seed_with(torrent: &Path, data_dir: &Path, extra_args: &[String]) -> Self {
        Self::start(torrent, data_dir, &[], false, extra_args)
    }

    /// Download `torrent` into `download_dir`. aria2 has no option to add a peer by address, so
    /// `extra_peers` are served to it by a [`FakeTracker`] added with `--bt-tracker`, next to
    /// the torrent's own trackers.
    pub fn leech(torrent: &Path, download_dir: &Path, extra_peers: &[SocketAddr]) -> Self {
        Self::start(torrent, download_dir, extra_peers, true, &[])
    }

    /// As [`Aria2::leech`] with extra aria2c options (e.g. `--bt-require-crypto=true`).
    pub fn leech_with(
        torrent: &Path,
        download_dir: &Path,
        extra_peers: &[SocketAddr],
        extra_args: &[String],
    ) -> Self {
        Self::start(torrent, download_dir, extra_peers, true, extra_args)
    }

    /// `127.0.0.1:port`
    pub fn peer_addr(&self) -> SocketAddr {
        SocketAddr::from(([127, 0, 0, 1], self.port))
    }

    fn start(
        torrent: &Path,
        dir: &Path,
        extra_peers: &[SocketAddr],
        leech: bool,
        extra_args: &[String],
    ) -> Self {
        let bin = require("aria2c");
        fs::create_dir_all(dir).expect("create download dir");
        let logs = tempfile::tempdir().expect("tempdir");
        let tracker = (!extra_peers.is_empty()).then(|| FakeTracker::start(extra_peers.to_vec()));
        let mut last_log = String::new();
        for _attempt in 0..3 {
            let port = free_port();
            let mut args: Vec<String> = [
                "--no-conf=true",
                "--enable-dht=false",
                "--enable-dht6=false",
                "--bt-enable-lpd=false",
                "--enable-peer-exchange=false",
                "--disable-ipv6=true",
                "--interface=127.0.0.1",
                "--file-allocation=none",
                "--summary-interval=0",
                "--console-log-level=warn",
                "--log-level=info",
                "--bt-tracker-interval=5",
                "--bt-max-peers=0",
                "--follow-torrent=false",
            ]
            .iter()
            .map(|s| s.to_string())
            .collect();
            args.push(format!("--listen-port={port}"));
            args.push(format!("--stop-with-process={}", std::process::id()));
            args.push(format!("--dir={}", dir.display()));
            args.push(format!("--log={}", logs.path().join("aria2.log").display()));
            if leech {
                args.push("--seed-time=0".into());
            } else {
                args.push("--seed-ratio=0.0".into());
                args.push("--check-integrity=true".into());
            }
            if let Some(t) = &tracker {
                args.push(format!("--bt-tracker={}", t.url()));
            }
            args.extend_from_slice(extra_args);
            args.push(torrent.display().to_string());
            let proc = Proc::start("aria2c", &bin, &args, &logs.path().join("console.txt"));
            // aria2 opens its listen port only after its hash check, which can take a while
            // for a big seed; a port taken meanwhile is logged, not fatal, so watch the log.
            let log = logs.path().join("aria2.log");
            let bind_failed = || {
                fs::read_to_string(&log)
                    .map(|s| s.contains("IPv4 BitTorrent: failed to bind"))
                    .unwrap_or(false)
            };
            let up = wait_until(Duration::from_secs(120), || {
                proc.exit_code().is_some() || bind_failed() || tcp_listening(port)
            });
            let exited_ok = leech && proc.exit_code() == Some(0);
            if up && !bind_failed() && (proc.exit_code().is_none() || exited_ok) {
                return Aria2 {
                    port,
                    proc,
                    _tracker: tracker,
                    _logs: logs,
                    leech,
                };
            }
            last_log = format!(
                "{}\n{}",
                proc.log_tail(),
                tail(&logs.path().join("aria2.log"))
            );
        }
        panic!("aria2c did not start in 3 attempts\n{last_log}");
    }

    /// Leecher: wait until aria2 exits 0 (download complete and verified). Seeder: true while
    /// it runs (its hash check finished before [`Aria2::seed`] returned: aria2 listens only
    /// after "Verification finished successfully").
    pub fn wait_complete(&self, timeout: Duration) -> bool {
        wait_until(timeout, || {
            if self.leech {
                self.proc.exit_code() == Some(0)
            } else {
                self.proc.exit_code().is_none()
            }
        })
    }

    pub fn exit_code(&self) -> Option<i32> {
        self.proc.exit_code()
    }

    pub fn log_tail(&self) -> String {
        format!(
            "{}\n{}",
            self.proc.log_tail(),
            tail(&self._logs.path().join("aria2.log"))
        )
    }
}

fn tail(path: &Path) -> String {
    let s = fs::read_to_string(path).unwrap_or_default();
    let lines: Vec<&str> = s.lines().collect();
    let start = lines.len().saturating_sub(60);
    format!("--- {} ---\n{}", path.display(), lines[start..].join("\n"))
}

// ---------------------------------------------------------------------------------------------
// A fixed-answer HTTP tracker

/// A minimal HTTP tracker on 127.0.0.1 that answers every announce with `peers` (compact,
/// interval 5 s). Used to hand a client peers it would not learn otherwise.
pub struct FakeTracker {
    pub port: u16,
    stop: std::sync::Arc<std::sync::atomic::AtomicBool>,
    thread: Option<thread::JoinHandle<()>>,
}

impl FakeTracker {
    pub fn start(peers: Vec<SocketAddr>) -> Self {
        let mut body = Vec::new();
        let mut compact = Vec::new();
        for p in &peers {
            if let SocketAddr::V4(v4) = p {
                compact.extend_from_slice(&v4.ip().octets());
                compact.extend_from_slice(&v4.port().to_be_bytes());
            }
        }
        body.extend_from_slice(format!("d8:intervali5e5:peers{}:", compact.len()).as_bytes());
        body.extend_from_slice(&compact);
        body.push(b'e');
        FakeTracker::with_body(body)
    }

    /// A tracker that answers every announce with `body`, whatever it is (a hostile tracker).
    pub fn with_body(body: Vec<u8>) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind fake tracker");
        listener.set_nonblocking(true).expect("nonblocking");
        let port = listener.local_addr().expect("addr").port();
        let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
        let stop2 = stop.clone();
        let thread = thread::spawn(move || {
            use std::io::{Read, Write};
            while !stop2.load(Ordering::SeqCst) {
                match listener.accept() {
                    Ok((mut s, _)) => {
                        let _ = s.set_nonblocking(false);
                        let _ = s.set_read_timeout(Some(Duration::from_secs(2)));
                        let mut buf = [0u8; 4096];
                        let mut got = Vec::new();
                        while !got.windows(4).any(|w| w == b"\r\n\r\n") {
                            match s.read(&mut buf) {
                                Ok(0) | Err(_) => break,
                                Ok(n) => got.extend_from_slice(&buf[..n]),
                            }
                        }
                        let head = format!(
                            "HTTP/1.0 200 OK\r\nContent-Type: text/plain\r\nContent-Length: {}\r\n\r\n",
                            body.len()
                        );
                        let _ = s.write_all(head.as_bytes());
                        let _ = s.write_all(&body);
                    }
                    Err(_) => thread::sleep(Duration::from_millis(20)),
                }
            }
        });
        FakeTracker {
            port,
            stop,
            thread: Some(thread),
        }
    }

    pub fn url(&self) -> String {
        format!("http://127.0.0.1:{}/announce", self.port)
    }
}

impl Drop for FakeTracker {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

// ---------------------------------------------------------------------------------------------
// libtorrent 2.0 (python3-libtorrent) for BitTorrent v2 and hybrid torrents

/// A libtorrent session driven by `tests/support/lt_peer.py`: 127.0.0.1 only, DHT, LSD, UPnP,
/// NAT-PMP and uTP off. Killed on Drop.
pub struct Libtorrent {
    pub port: u16,
    proc: Proc,
    _logs: tempfile::TempDir,
}

fn lt_script() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/support/lt_peer.py")
}

/// `/usr/bin/python3` with the libtorrent module; fails the test with the package otherwise.
pub fn lt_python() -> PathBuf {
    let py = require("python3");
    let ok = Command::new(&py)
        .args(["-c", "import libtorrent"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    assert!(
        ok,
        "python3 cannot import libtorrent (Debian package: python3-libtorrent); \
         scripts/test.sh installs the test dependencies"
    );
    py
}

impl Libtorrent {
    /// Makes a `v2` (v2-only) or `hybrid` torrent of `src` with libtorrent's create_torrent.
    pub fn create(kind: &str, src: &Path, out: &Path, piece_len: u64) {
        let o = run(
            &lt_python(),
            &[
                lt_script().to_str().expect("utf-8 path"),
                "create",
                kind,
                src.to_str().expect("utf-8 path"),
                out.to_str().expect("utf-8 path"),
                &piece_len.to_string(),
            ],
        );
        assert!(o.status.success(), "libtorrent create: {o:?}");
    }

    /// Seeds `torrent` from `save_dir` (the directory holding the torrent's name); returns
    /// once libtorrent has checked its data and seeds.
    pub fn seed(torrent: &Path, save_dir: &Path) -> Self {
        Self::start("seed", torrent, save_dir, &[], "seeding")
    }

    /// As [`Libtorrent::seed`], listening on `port` (a peer a client was told about before
    /// it existed).
    pub fn seed_on(torrent: &Path, save_dir: &Path, port: u16) -> Self {
        Self::start_on("seed", torrent, save_dir, &[], "seeding", port)
    }

    /// A minimal v1-only seeder (plain BEP 3, v1 info-hash, BEP 47 padding read as zeros)
    /// from the same script: the v1 half of a hybrid swarm, since aria2 1.36 and Transmission
    /// 3.00 cannot take part in one.
    pub fn v1_seed(torrent: &Path, save_dir: &Path) -> Self {
        Self::start("v1seed", torrent, save_dir, &[], "seeding")
    }

    /// Downloads `torrent` into `save_dir` from `peers`; see [`Libtorrent::wait_done`].
    pub fn leech(torrent: &Path, save_dir: &Path, peers: &[SocketAddr]) -> Self {
        Self::start("leech", torrent, save_dir, peers, "")
    }

    fn start(mode: &str, torrent: &Path, dir: &Path, peers: &[SocketAddr], wait: &str) -> Self {
        Self::start_on(mode, torrent, dir, peers, wait, free_port())
    }

    fn start_on(
        mode: &str,
        torrent: &Path,
        dir: &Path,
        peers: &[SocketAddr],
        wait: &str,
        port: u16,
    ) -> Self {
        let py = lt_python();
        fs::create_dir_all(dir).expect("create dir");
        let logs = tempfile::tempdir().expect("tempdir");
        let mut args = vec![
            lt_script().display().to_string(),
            mode.to_string(),
            torrent.display().to_string(),
            dir.display().to_string(),
            port.to_string(),
        ];
        args.extend(peers.iter().map(|p| p.to_string()));
        let proc = Proc::start("libtorrent", &py, &args, &logs.path().join("lt.txt"));
        if !wait.is_empty() {
            let ready = wait_until(Duration::from_secs(60), || {
                proc.exit_code().is_some()
                    || fs::read_to_string(&proc.log).is_ok_and(|s| s.contains(wait))
            });
            assert!(
                ready && proc.exit_code().is_none(),
                "libtorrent did not start seeding\n{}",
                proc.log_tail()
            );
        }
        Libtorrent {
            port,
            proc,
            _logs: logs,
        }
    }

    pub fn peer_addr(&self) -> SocketAddr {
        SocketAddr::from(([127, 0, 0, 1], self.port))
    }

    /// Leecher: true once libtorrent has every piece verified (it prints "done" and exits 0).
    pub fn wait_done(&self, timeout: Duration) -> bool {
        wait_until(timeout, || self.proc.exit_code().is_some()) && self.proc.exit_code() == Some(0)
    }

    pub fn log_tail(&self) -> String {
        self.proc.log_tail()
    }
}

// ---------------------------------------------------------------------------------------------
// Web seeds: nginx, and a server that lies

/// Debian's nginx in the foreground (`daemon off`, one process, so no user switch), serving
/// `root` on 127.0.0.1 with its own config, logs and temp dirs. Killed on Drop.
pub struct Nginx {
    pub port: u16,
    proc: Proc,
    _dir: tempfile::TempDir,
}

impl Nginx {
    pub fn serve(root: &Path) -> Self {
        let bin = require("nginx");
        let mut last = String::new();
        for _attempt in 0..3 {
            let dir = tempfile::tempdir().expect("tempdir");
            let d = dir.path().display();
            let port = free_port();
            let conf = format!(
                "daemon off;\nmaster_process off;\nworker_processes 1;\npid {d}/nginx.pid;\n\
                 error_log {d}/error.log info;\nevents {{ worker_connections 64; }}\n\
                 http {{\n  access_log {d}/access.log;\n  client_body_temp_path {d}/body;\n\
                 proxy_temp_path {d}/proxy;\n  fastcgi_temp_path {d}/fastcgi;\n\
                 uwsgi_temp_path {d}/uwsgi;\n  scgi_temp_path {d}/scgi;\n\
                 server {{ listen 127.0.0.1:{port}; root {}; }}\n}}\n",
                root.display()
            );
            let conf_path = dir.path().join("nginx.conf");
            fs::write(&conf_path, conf).expect("write nginx.conf");
            let args = vec![
                "-c".to_string(),
                conf_path.display().to_string(),
                "-p".to_string(),
                dir.path().display().to_string(),
            ];
            let proc = Proc::start("nginx", &bin, &args, &dir.path().join("console.txt"));
            let up = wait_until(Duration::from_secs(10), || {
                proc.exit_code().is_some() || tcp_listening(port)
            });
            if up && proc.exit_code().is_none() {
                return Nginx {
                    port,
                    proc,
                    _dir: dir,
                };
            }
            last = format!(
                "{}\n{}",
                proc.log_tail(),
                tail(&dir.path().join("error.log"))
            );
        }
        panic!("nginx did not start in 3 attempts\n{last}");
    }

    pub fn url(&self) -> String {
        format!("http://127.0.0.1:{}/", self.port)
    }

    pub fn log_tail(&self) -> String {
        format!(
            "{}\n{}",
            self.proc.log_tail(),
            tail(&self._dir.path().join("access.log"))
        )
    }
}

/// What [`BadWebSeed`] does with a request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Lie {
    /// Serves the file, with one byte flipped in any range that covers `file_offset` of `file`.
    FlipAt {
        file: &'static str,
        file_offset: u64,
    },
    /// Answers 503 to everything.
    Error,
    /// Reads the request and never answers (the connection stays open).
    Stall,
}

/// One request [`BadWebSeed`] answered: (path, first byte, last byte, lied).
pub type Served = (String, u64, u64, bool);

/// A tiny HTTP/1.0 range server on 127.0.0.1 over `root` that lies as told; records every
/// request (path, first byte, last byte, whether it lied).
pub struct BadWebSeed {
    pub port: u16,
    pub requests: std::sync::Arc<Mutex<Vec<Served>>>,
    stop: std::sync::Arc<std::sync::atomic::AtomicBool>,
    thread: Option<thread::JoinHandle<()>>,
}

impl BadWebSeed {
    pub fn start(root: &Path, lie: Lie) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
        listener.set_nonblocking(true).expect("nonblocking");
        let port = listener.local_addr().expect("addr").port();
        let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
        let requests = std::sync::Arc::new(Mutex::new(Vec::new()));
        let (stop2, reqs2, root) = (stop.clone(), requests.clone(), root.to_path_buf());
        let thread = thread::spawn(move || {
            use std::io::{Read, Write};
            let mut stalled = Vec::new();
            while !stop2.load(Ordering::SeqCst) {
                let Ok((mut s, _)) = listener.accept() else {
                    thread::sleep(Duration::from_millis(10));
                    continue;
                };
                let _ = s.set_nonblocking(false);
                let _ = s.set_read_timeout(Some(Duration::from_secs(2)));
                let mut got = Vec::new();
                let mut buf = [0u8; 2048];
                while !got.windows(4).any(|w| w == b"\r\n\r\n") {
                    match s.read(&mut buf) {
                        Ok(0) | Err(_) => break,
                        Ok(n) => got.extend_from_slice(&buf[..n]),
                    }
                }
                if lie == Lie::Stall {
                    reqs2.lock().unwrap().push((String::new(), 0, 0, true));
                    stalled.push(s);
                    continue;
                }
                let head = String::from_utf8_lossy(&got).to_string();
                let path = head.split_whitespace().nth(1).unwrap_or("/").to_string();
                let range = head
                    .lines()
                    .find_map(|l| {
                        l.to_ascii_lowercase()
                            .strip_prefix("range: bytes=")
                            .map(str::to_string)
                    })
                    .and_then(|r| {
                        let (a, b) = r.trim().split_once('-')?;
                        Some((a.parse::<u64>().ok()?, b.parse::<u64>().ok()?))
                    });
                let rel = path.trim_start_matches('/').replace("%20", " ");
                let data = fs::read(root.join(&rel)).unwrap_or_default();
                let (a, b) = range.unwrap_or((0, data.len().saturating_sub(1) as u64));
                let b = b.min(data.len().saturating_sub(1) as u64);
                if lie == Lie::Error || data.is_empty() || a > b {
                    reqs2.lock().unwrap().push((rel, a, b, lie == Lie::Error));
                    let _ = s.write_all(
                        b"HTTP/1.0 503 Service Unavailable\r\nContent-Length: 0\r\n\r\n",
                    );
                    continue;
                }
                let mut body = data[a as usize..=b as usize].to_vec();
                let mut lied = false;
                if let Lie::FlipAt { file, file_offset } = lie
                    && rel.ends_with(file)
                    && (a..=b).contains(&file_offset)
                {
                    body[(file_offset - a) as usize] ^= 0xff;
                    lied = true;
                }
                reqs2.lock().unwrap().push((rel, a, b, lied));
                let head = format!(
                    "HTTP/1.0 206 Partial Content\r\nContent-Range: bytes {a}-{b}/{}\r\nContent-Length: {}\r\n\r\n",
                    data.len(),
                    body.len()
                );
                let _ = s.write_all(head.as_bytes());
                let _ = s.write_all(&body);
            }
        });
        BadWebSeed {
            port,
            requests,
            stop,
            thread: Some(thread),
        }
    }

    pub fn url(&self) -> String {
        format!("http://127.0.0.1:{}/", self.port)
    }
}

impl Drop for BadWebSeed {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

// libtorrent (Python bindings) for the encryption and uTP tests

/// A libtorrent 2.0 peer (Debian `python3-libtorrent`, what qBittorrent and Deluge are built
/// on) run by `lt_peer_mse.py`: one torrent, DHT/LSD/UPnP/NAT-PMP/PEX off, bound to `iface`
/// (127.0.0.1 or ::1). Its stdout lines are collected for [`LtPeer::wait_line`].
pub struct LtPeer {
    pub port: u16,
    proc: Proc,
    _dir: tempfile::TempDir,
}

/// How an [`LtPeer`] runs.
pub struct LtOptions<'a> {
    pub iface: &'a str,
    pub seed: bool,
    /// `forced`: RC4 only, both ways; anything else: libtorrent's default (both allowed).
    pub encryption: &'a str,
    pub tcp: bool,
    pub utp: bool,
    /// Peers it dials every 2 s.
    pub peers: Vec<SocketAddr>,
}

impl LtPeer {
    pub fn start(torrent: &Path, dir: &Path, o: LtOptions<'_>) -> LtPeer {
        let python = Path::new("/usr/bin/python3");
        let ok = Command::new(python)
            .args(["-c", "import libtorrent"])
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|s| s.success());
        assert!(
            ok,
            "libtorrent for Python is not installed (Debian package: python3-libtorrent); \
             scripts/test.sh installs the test dependencies"
        );
        fs::create_dir_all(dir).expect("create dir");
        let tmp = tempfile::tempdir().expect("tempdir");
        let script = tmp.path().join("lt_peer.py");
        fs::write(&script, include_str!("lt_peer_mse.py")).expect("write script");
        let port = free_port();
        let peers: Vec<(String, u16)> = o
            .peers
            .iter()
            .map(|a| (a.ip().to_string(), a.port()))
            .collect();
        let cfg = serde_json::json!({
            "iface": if o.iface.contains(':') { format!("[{}]", o.iface) } else { o.iface.to_string() },
            "port": port,
            "torrent": torrent,
            "save_path": dir,
            "seed": o.seed,
            "encryption": o.encryption,
            "tcp": o.tcp,
            "utp": o.utp,
            "peers": peers,
        });
        let proc = Proc::start(
            "libtorrent",
            python,
            &[script.display().to_string(), cfg.to_string()],
            &tmp.path().join("out.log"),
        );
        let lt = LtPeer {
            port,
            proc,
            _dir: tmp,
        };
        assert!(
            lt.wait_line("listening", Duration::from_secs(20)),
            "libtorrent did not start\n{}",
            lt.log_tail()
        );
        lt
    }

    /// Whether a line starting with `prefix` was printed within `timeout`.
    pub fn wait_line(&self, prefix: &str, timeout: Duration) -> bool {
        wait_until(timeout, || self.has_line(prefix))
    }

    pub fn has_line(&self, prefix: &str) -> bool {
        fs::read_to_string(&self.proc.log)
            .unwrap_or_default()
            .lines()
            .any(|l| l.starts_with(prefix))
    }

    pub fn output(&self) -> String {
        fs::read_to_string(&self.proc.log).unwrap_or_default()
    }

    pub fn exit_code(&self) -> Option<i32> {
        self.proc.exit_code()
    }

    pub fn pid(&self) -> u32 {
        self.proc.pid()
    }

    pub fn log_tail(&self) -> String {
        self.proc.log_tail()
    }
}
