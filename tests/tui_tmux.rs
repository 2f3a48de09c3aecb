//! End to end: the real binary in tmux. Keys go in with `send-keys`, the screen comes back
//! with `capture-pane -p`.
//!
//! - On `bidtorrent demo` (a whole token market on 127.0.0.1): a bidding leecher's peers with
//!   their market roles, its bid in the Market tab, `+` raising it in the engine, a piece map
//!   that moves, and the final report after quitting.
//! - Standalone against a real `bidtorrent seed`: the torrent added from the prompt, the
//!   seeder in the peers tab, a piece map that moves, the market off and saying so.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // tests fail loudly

use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

mod engine_util;

const BIN: &str = env!("CARGO_BIN_EXE_bidtorrent");

/// Kills what the test started, even when an assertion fails.
struct Cleanup {
    socket: String,
    seeder: Option<Child>,
}

impl Drop for Cleanup {
    fn drop(&mut self) {
        let _ = Command::new("tmux")
            .args(["-L", &self.socket, "kill-server"])
            .stderr(Stdio::null())
            .status();
        if let Some(c) = &mut self.seeder {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

fn tmux(socket: &str, args: &[&str]) -> std::process::Output {
    Command::new("tmux")
        .arg("-L")
        .arg(socket)
        .args(args)
        .output()
        .expect("run tmux")
}

fn screen(socket: &str) -> String {
    String::from_utf8_lossy(&tmux(socket, &["capture-pane", "-p", "-t", "tui"]).stdout).into_owned()
}

fn wait_for(socket: &str, what: &str, timeout: Duration) -> String {
    let start = Instant::now();
    loop {
        let s = screen(socket);
        if s.contains(what) {
            return s;
        }
        assert!(
            start.elapsed() < timeout,
            "waited {timeout:?} for {what:?}; screen:\n{s}"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// "have/total pieces" from the pieces tab legend.
fn pieces_have(s: &str) -> Option<(usize, usize)> {
    let i = s.find(" pieces")?;
    let head = &s[..i];
    let tok = head.rsplit(' ').next()?;
    let (a, b) = tok.split_once('/')?;
    Some((a.parse().ok()?, b.parse().ok()?))
}

fn map_rows(s: &str) -> String {
    s.lines()
        .filter(|l| l.contains('█') || l.contains('▒') || l.contains('·'))
        .collect::<Vec<_>>()
        .join("\n")
}

/// Whether tmux is here. Without it the test is skipped on a developer's machine, but under
/// CI (the `CI` variable set, as every CI service does) a missing tmux fails it: a skipped
/// dashboard test must never pass as a green build.
fn tmux_available() -> bool {
    if Command::new("tmux").arg("-V").output().is_ok() {
        return true;
    }
    assert!(
        std::env::var_os("CI").is_none(),
        "tmux is not installed, and CI is set: install it (scripts/test.sh does) rather than skip"
    );
    eprintln!("tmux not installed; skipping (this fails under CI)");
    false
}

#[test]
fn dashboard_in_tmux_downloads_from_a_real_seeder() {
    if !tmux_available() {
        return;
    }
    let t0 = Instant::now();
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    let src = root.join("src");
    std::fs::create_dir_all(&src).unwrap();
    // 2 MiB of non-repeating bytes in 16 KiB pieces: 128 pieces.
    let payload: Vec<u8> = (0..2u32 << 20)
        .map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8)
        .collect();
    std::fs::write(src.join("payload.bin"), &payload).unwrap();
    let torrent = root.join("p.torrent");
    let st = Command::new(BIN)
        .args(["-q", "create"])
        .arg(src.join("payload.bin"))
        .arg("-o")
        .arg(&torrent)
        .args(["--piece-size", "16K", "--no-date"])
        .stdout(Stdio::null())
        .status()
        .unwrap();
    assert!(st.success());

    let socket = format!("bt-tui-e2e-{}", std::process::id());
    let mut cleanup = Cleanup {
        socket: socket.clone(),
        seeder: None,
    };
    let (seeder, port) =
        engine_util::seed_in_background(&root.join("seed-state"), &torrent, &src, &[]);
    cleanup.seeder = Some(seeder);

    let state = root.join("xdg");
    let cmd = format!(
        "env XDG_STATE_HOME={s}/state XDG_CONFIG_HOME={s}/config XDG_RUNTIME_DIR={s}/run \
         {BIN} --data-dir {d} tui --dir {dl} --listen 127.0.0.1:0 --limit-down 160K \
         --refresh-ms 250 --no-dht",
        s = state.display(),
        d = root.join("state").display(),
        dl = root.join("dl").display(),
    );
    std::fs::create_dir_all(root.join("dl")).unwrap();
    let o = tmux(
        &socket,
        &[
            "new-session",
            "-d",
            "-s",
            "tui",
            "-x",
            "160",
            "-y",
            "48",
            &cmd,
        ],
    );
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));

    // Never silent about the mode: no daemon at the socket, so standalone, and it says why.
    let s = wait_for(&socket, "STANDALONE", Duration::from_secs(10));
    assert!(s.contains("no daemon at"), "{s}");
    assert!(s.contains("No torrents"), "{s}");

    // Add from the prompt, with the seeder as a peer.
    tmux(&socket, &["send-keys", "-t", "tui", "a"]);
    let arg = format!("{} --peer 127.0.0.1:{port}", torrent.display());
    tmux(&socket, &["send-keys", "-t", "tui", "-l", &arg]);
    tmux(&socket, &["send-keys", "-t", "tui", "Enter"]);
    wait_for(&socket, "payload.bin", Duration::from_secs(10));

    // Peers tab (the default) lists the seeder.
    let peer = format!("127.0.0.1:{port}");
    let s = wait_for(&socket, &peer, Duration::from_secs(10));
    assert!(s.contains("bidtorrent"), "client name shown: {s}");

    // Pieces tab: the map moves between two captures.
    tmux(&socket, &["send-keys", "-t", "tui", "I"]);
    let first = wait_for(&socket, " pieces", Duration::from_secs(5));
    let (h1, total) = pieces_have(&first).expect("legend");
    assert_eq!(total, 128);
    assert!(h1 < total, "caught before the end: {first}");
    std::thread::sleep(Duration::from_millis(1500));
    let second = screen(&socket);
    let (h2, _) = pieces_have(&second).expect("legend");
    assert!(h2 > h1, "piece map moved: {h1} -> {h2}");
    assert_ne!(map_rows(&first), map_rows(&second));

    // Market tab: strategies shown, market off until the market lands.
    tmux(&socket, &["send-keys", "-t", "tui", "M"]);
    let s = wait_for(&socket, "market off", Duration::from_secs(5));
    assert!(s.contains("seller tit-for-tat"), "{s}");

    // Quit restores the terminal and ends the process (the tmux session closes with it).
    tmux(&socket, &["send-keys", "-t", "tui", "q"]);
    let start = Instant::now();
    while tmux(&socket, &["has-session", "-t", "tui"])
        .status
        .success()
    {
        assert!(start.elapsed() < Duration::from_secs(8), "did not quit");
        std::thread::sleep(Duration::from_millis(100));
    }
    // Logs went to the file, not the screen.
    let log = std::fs::read_to_string(state.join("state/bidtorrent/tui.log")).unwrap();
    assert!(log.contains("dashboard standalone"), "{log}");
    assert!(
        t0.elapsed() < Duration::from_secs(30),
        "took {:?}",
        t0.elapsed()
    );
}

#[test]
fn dashboard_in_tmux_on_the_demo_market() {
    if !tmux_available() {
        return;
    }
    let t0 = Instant::now();
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    let xdg = root.join("xdg");
    std::fs::create_dir_all(xdg.join("config/bidtorrent")).unwrap();
    // A quick refresh so the test sees changes soon after each key.
    std::fs::write(
        xdg.join("config/bidtorrent/config.toml"),
        "[tui]\nrefresh_ms = 250\n",
    )
    .unwrap();
    let socket = format!("bt-tui-demo-{}", std::process::id());
    let _cleanup = Cleanup {
        socket: socket.clone(),
        seeder: None,
    };
    // 4 MiB from one seeder at 256 KiB/s to three leechers (leecher-1 bids 0.2 per MiB): long
    // enough to watch it move, short enough for CI. The report lands on the shell's screen
    // once the dashboard quits; `sleep` keeps the pane open to read it.
    let cmd = format!(
        "env XDG_STATE_HOME={s}/state XDG_CONFIG_HOME={s}/config XDG_RUNTIME_DIR={s}/run \
         {BIN} --data-dir {d} demo --size 4M --leechers 3 --seed-upload 256K; \
         echo demo-exit=$?; sleep 60",
        s = xdg.display(),
        d = root.join("data").display(),
    );
    let o = tmux(
        &socket,
        &[
            "new-session",
            "-d",
            "-s",
            "tui",
            "-x",
            "160",
            "-y",
            "48",
            &cmd,
        ],
    );
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let send = |k: &str| {
        tmux(&socket, &["send-keys", "-t", "tui", k]);
    };

    // One row per member, labelled with its strategy; the status bar says DEMO.
    let s = wait_for(
        &socket,
        "leecher-1 · fixed 0.200000",
        Duration::from_secs(20),
    );
    assert!(s.contains(" DEMO "), "{s}");
    assert!(s.contains("seeder-1 · uniform-price"), "{s}");
    assert!(s.contains("leecher-2 · off"), "{s}");

    // The first row (leecher-1, the bidder) is selected; Peers is the default tab. Its peers
    // are listed with market roles: the seeder sells to it.
    send("g");
    send("P");
    // Amounts read compactly in the tables (0.20, not 0.200000).
    let s = wait_for(&socket, "seller 0.20/", Duration::from_secs(15));
    assert!(s.contains("127.0.0.1:"), "{s}");
    assert!(s.contains("bidtorrent"), "client column: {s}");

    // Market tab: the strategy with its parameter, our bid in the book, market on.
    send("M");
    let s = wait_for(
        &socket,
        "buyer  fixed (price=0.200000)",
        Duration::from_secs(5),
    );
    assert!(s.contains("market on"), "{s}");
    let s = wait_for(&socket, "out  0.20 ", Duration::from_secs(10));
    assert!(s.contains("clearing "), "{s}");

    // `+` raises the price 10 % in the member's market: the tab and the row follow.
    send("+");
    let s = wait_for(
        &socket,
        "buyer  fixed (price=0.220000)",
        Duration::from_secs(5),
    );
    assert!(s.contains("leecher-1 · fixed 0.220000"), "{s}");

    // Pieces tab: the map moves between two captures.
    send("I");
    let first = wait_for(&socket, " pieces", Duration::from_secs(5));
    let (h1, total) = pieces_have(&first).expect("legend");
    assert!(h1 < total, "caught before the end: {first}");
    std::thread::sleep(Duration::from_millis(1500));
    let second = screen(&socket);
    let (h2, _) = pieces_have(&second).expect("legend");
    assert!(h2 > h1, "piece map moved: {h1} -> {h2}");
    assert_ne!(map_rows(&first), map_rows(&second));

    // Quitting ends the demo and prints the same report as --headless.
    send("q");
    let s = wait_for(&socket, "demo-exit=", Duration::from_secs(20));
    assert!(s.contains("demo-exit=0"), "{s}");
    assert!(s.contains("settlement: paid"), "{s}");
    assert!(s.contains("ledger consistent"), "{s}");
    assert!(s.contains("leecher-1   leecher  fixed"), "{s}");
    // Logs went to the file, not the screen.
    assert!(xdg.join("state/bidtorrent/tui.log").exists());
    assert!(
        t0.elapsed() < Duration::from_secs(40),
        "took {:?}",
        t0.elapsed()
    );
}

/// Listening TCP sockets of process `pid`, as (address, port), from /proc: the inodes of its
/// socket descriptors matched against /proc/net/tcp{,6} entries in state LISTEN (0A).
fn listening_sockets(pid: u32) -> Vec<(String, u16)> {
    let mut inodes = std::collections::HashSet::new();
    if let Ok(fds) = std::fs::read_dir(format!("/proc/{pid}/fd")) {
        for fd in fds.flatten() {
            if let Ok(target) = std::fs::read_link(fd.path()) {
                let t = target.display().to_string();
                if let Some(n) = t.strip_prefix("socket:[").and_then(|r| r.strip_suffix(']')) {
                    inodes.insert(n.to_string());
                }
            }
        }
    }
    let mut out = Vec::new();
    for table in ["/proc/net/tcp", "/proc/net/tcp6"] {
        let text = std::fs::read_to_string(table).unwrap_or_default();
        for line in text.lines().skip(1) {
            let f: Vec<&str> = line.split_whitespace().collect();
            if f.len() < 10 || f[3] != "0A" || !inodes.contains(f[9]) {
                continue;
            }
            let Some((addr, port)) = f[1].split_once(':') else {
                continue;
            };
            let port = u16::from_str_radix(port, 16).unwrap_or(0);
            // IPv4 addresses are one little-endian word; show them dotted, others raw.
            let shown = if addr.len() == 8 {
                let v = u32::from_str_radix(addr, 16).unwrap_or(0).to_le_bytes();
                format!("{}.{}.{}.{}", v[0], v[1], v[2], v[3])
            } else {
                addr.to_string()
            };
            out.push((shown, port));
        }
    }
    out
}

/// The standalone dashboard runs the same controller as the daemon, set up from the same
/// config: it binds the config's `listen` (loopback only here), downloads into the config's
/// `download_dir`, and adds a magnet link (metadata from a local seeder named by `x.pe`) and
/// completes it, bytes checked.
#[test]
fn standalone_dashboard_follows_the_config_and_completes_a_magnet() {
    if Command::new("tmux").arg("-V").output().is_err() {
        assert!(std::env::var_os("CI").is_none(), "tmux is missing under CI");
        eprintln!("tmux not installed; skipping");
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    let src = root.join("src");
    std::fs::create_dir_all(&src).unwrap();
    let payload: Vec<u8> = (0..(1u32 << 20) + 12_345)
        .map(|i| (i.wrapping_mul(2_246_822_519) >> 11) as u8)
        .collect();
    std::fs::write(src.join("magnet.bin"), &payload).unwrap();
    let torrent = root.join("m.torrent");
    let st = Command::new(BIN)
        .args(["-q", "create"])
        .arg(src.join("magnet.bin"))
        .arg("-o")
        .arg(&torrent)
        .args(["--piece-size", "32K", "--no-date"])
        .stdout(Stdio::null())
        .status()
        .unwrap();
    assert!(st.success());
    let meta = bidtorrent::engine::metainfo::Metainfo::from_file(&torrent).unwrap();
    let socket = format!("bt-tui-cfg-{}", std::process::id());
    let mut cleanup = Cleanup {
        socket: socket.clone(),
        seeder: None,
    };
    let (seeder, port) =
        engine_util::seed_in_background(&root.join("seed-state"), &torrent, &src, &[]);
    cleanup.seeder = Some(seeder);

    let dl = root.join("config-downloads");
    let config = root.join("config.toml");
    std::fs::write(
        &config,
        format!(
            "listen = \"127.0.0.1:0\"\ndownload_dir = \"{}\"\n\n[dht]\nenabled = false\n",
            dl.display()
        ),
    )
    .unwrap();
    let state = root.join("xdg");
    let cmd = format!(
        "env XDG_STATE_HOME={s}/state XDG_CONFIG_HOME={s}/config XDG_RUNTIME_DIR={s}/run \
         {BIN} --config {c} --data-dir {d} --refresh-ms 250",
        s = state.display(),
        c = config.display(),
        d = root.join("state").display(),
    );
    let o = tmux(
        &socket,
        &[
            "new-session",
            "-d",
            "-s",
            "tui",
            "-x",
            "160",
            "-y",
            "48",
            &cmd,
        ],
    );
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    wait_for(&socket, "STANDALONE", Duration::from_secs(10));
    let pid: u32 = String::from_utf8_lossy(
        &tmux(&socket, &["list-panes", "-t", "tui", "-F", "#{pane_pid}"]).stdout,
    )
    .trim()
    .parse()
    .expect("pane pid");
    // `env` execs the binary, so the pane's process is the dashboard itself.
    let start = Instant::now();
    let listening = loop {
        let l = listening_sockets(pid);
        if !l.is_empty() || start.elapsed() > Duration::from_secs(5) {
            break l;
        }
        std::thread::sleep(Duration::from_millis(100));
    };
    assert!(!listening.is_empty(), "the dashboard listens for peers");
    assert!(
        listening.iter().all(|(a, _)| a == "127.0.0.1"),
        "config listen = 127.0.0.1:0 binds loopback only: {listening:?}"
    );
    assert!(
        listening.iter().all(|(_, p)| *p != 6881),
        "port 0 from the config, not the old 6881 default: {listening:?}"
    );

    let magnet = format!(
        "magnet:?xt=urn:btih:{}&dn=magnet.bin&x.pe=127.0.0.1:{port}",
        meta.info_hash.to_hex()
    );
    tmux(&socket, &["send-keys", "-t", "tui", "a"]);
    tmux(&socket, &["send-keys", "-t", "tui", "-l", &magnet]);
    tmux(&socket, &["send-keys", "-t", "tui", "Enter"]);
    wait_for(&socket, "seeding", Duration::from_secs(30));
    let got = std::fs::read(dl.join("magnet.bin")).expect("downloaded into the config's dir");
    assert!(got == payload, "the magnet's bytes match the seeder's");

    tmux(&socket, &["send-keys", "-t", "tui", "q"]);
    let start = Instant::now();
    while tmux(&socket, &["has-session", "-t", "tui"])
        .status
        .success()
    {
        assert!(start.elapsed() < Duration::from_secs(8), "did not quit");
        std::thread::sleep(Duration::from_millis(100));
    }
    // Standalone keeps no session file unless --persist.
    assert!(!root.join("state/session.json").exists());
}

/// Skipping a torrent's only file makes it `finished` (not a seed, nothing more fetched);
/// wanting it again resumes the download at once, with no pause and resume, and it completes
/// with the seeder's bytes.
#[test]
fn skipping_and_unskipping_a_file_resumes_the_download() {
    if Command::new("tmux").arg("-V").output().is_err() {
        assert!(std::env::var_os("CI").is_none(), "tmux is missing under CI");
        eprintln!("tmux not installed; skipping");
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    let src = root.join("src");
    std::fs::create_dir_all(&src).unwrap();
    let payload: Vec<u8> = (0..3u32 << 20)
        .map(|i| (i.wrapping_mul(2_654_435_761) >> 9) as u8)
        .collect();
    std::fs::write(src.join("skip.bin"), &payload).unwrap();
    let torrent = root.join("skip.torrent");
    let st = Command::new(BIN)
        .args(["-q", "create"])
        .arg(src.join("skip.bin"))
        .arg("-o")
        .arg(&torrent)
        .args(["--piece-size", "16K", "--no-date"])
        .stdout(Stdio::null())
        .status()
        .unwrap();
    assert!(st.success());
    let socket = format!("bt-tui-skip-{}", std::process::id());
    let mut cleanup = Cleanup {
        socket: socket.clone(),
        seeder: None,
    };
    let (seeder, port) =
        engine_util::seed_in_background(&root.join("seed-state"), &torrent, &src, &[]);
    cleanup.seeder = Some(seeder);
    let dl = root.join("dl");
    std::fs::create_dir_all(&dl).unwrap();
    let state = root.join("xdg");
    let cmd = format!(
        "env XDG_STATE_HOME={s}/state XDG_CONFIG_HOME={s}/config XDG_RUNTIME_DIR={s}/run \
         {BIN} --data-dir {d} tui --dir {dl} --listen 127.0.0.1:0 --limit-down 256K \
         --refresh-ms 250 --no-dht",
        s = state.display(),
        d = root.join("state").display(),
        dl = dl.display(),
    );
    let o = tmux(
        &socket,
        &[
            "new-session",
            "-d",
            "-s",
            "tui",
            "-x",
            "160",
            "-y",
            "48",
            &cmd,
        ],
    );
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    wait_for(&socket, "STANDALONE", Duration::from_secs(10));
    tmux(&socket, &["send-keys", "-t", "tui", "a"]);
    let arg = format!("{} --peer 127.0.0.1:{port}", torrent.display());
    tmux(&socket, &["send-keys", "-t", "tui", "-l", &arg]);
    tmux(&socket, &["send-keys", "-t", "tui", "Enter"]);
    wait_for(&socket, "downloading", Duration::from_secs(10));

    let command = |line: &str| {
        tmux(&socket, &["send-keys", "-t", "tui", ":"]);
        tmux(&socket, &["send-keys", "-t", "tui", "-l", line]);
        tmux(&socket, &["send-keys", "-t", "tui", "Enter"]);
    };
    // The only file skipped: finished, not seeding, and not complete.
    command("prio all skip");
    let s = wait_for(&socket, "finished", Duration::from_secs(10));
    let row = s
        .lines()
        .find(|l| l.contains("skip.bin") && l.contains("finished"))
        .expect("the torrent's row");
    assert!(!row.contains("100.0%"), "not complete: {row}");
    assert!(
        !s.contains("seeding"),
        "not a seed with the file missing:\n{s}"
    );
    // Wanted again: it downloads again by itself; the limit lifted, it completes.
    command("prio all normal");
    wait_for(&socket, "downloading", Duration::from_secs(10));
    command("limit 0 0");
    wait_for(&socket, "seeding", Duration::from_secs(30));
    let got = std::fs::read(dl.join("skip.bin")).unwrap();
    assert!(got == payload, "bytes match the seeder's");
    tmux(&socket, &["send-keys", "-t", "tui", "q"]);
}

/// Quitting the dashboard does not wait for a web seed's request stuck on a server that
/// accepted the connection and never answers (the request's own timeout is 15 s; the runtime
/// used to wait for it on exit).
#[test]
fn quitting_does_not_wait_for_a_stuck_web_seed() {
    if !tmux_available() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    let src = root.join("src");
    std::fs::create_dir_all(&src).unwrap();
    std::fs::write(src.join("ws.bin"), vec![7u8; 256 << 10]).unwrap();
    // A web server that accepts and then says nothing.
    let silent = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}/ws.bin", silent.local_addr().unwrap());
    let (accepted_tx, accepted_rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let mut held = Vec::new();
        for c in silent.incoming().flatten() {
            held.push(c);
            let _ = accepted_tx.send(());
        }
    });
    let torrent = root.join("ws.torrent");
    let st = Command::new(BIN)
        .args(["-q", "create"])
        .arg(src.join("ws.bin"))
        .arg("-o")
        .arg(&torrent)
        .args(["--piece-size", "16K", "--no-date", "--web-seed", &url])
        .stdout(Stdio::null())
        .status()
        .unwrap();
    assert!(st.success());
    let socket = format!("bt-tui-ws-{}", std::process::id());
    let _cleanup = Cleanup {
        socket: socket.clone(),
        seeder: None,
    };
    let dl = root.join("dl");
    std::fs::create_dir_all(&dl).unwrap();
    let state = root.join("xdg");
    let cmd = format!(
        "env XDG_STATE_HOME={s}/state XDG_CONFIG_HOME={s}/config XDG_RUNTIME_DIR={s}/run \
         {BIN} --data-dir {d} tui --dir {dl} --listen 127.0.0.1:0 --refresh-ms 250 --no-dht",
        s = state.display(),
        d = root.join("state").display(),
        dl = dl.display(),
    );
    let o = tmux(
        &socket,
        &[
            "new-session",
            "-d",
            "-s",
            "tui",
            "-x",
            "120",
            "-y",
            "40",
            &cmd,
        ],
    );
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    wait_for(&socket, "STANDALONE", Duration::from_secs(10));
    tmux(&socket, &["send-keys", "-t", "tui", "a"]);
    tmux(&socket, &["send-keys", "-t", "tui", "-l", s(&torrent)]);
    tmux(&socket, &["send-keys", "-t", "tui", "Enter"]);
    accepted_rx
        .recv_timeout(Duration::from_secs(15))
        .expect("the web seed is asked for a range");
    // The request now hangs; quit.
    std::thread::sleep(Duration::from_millis(300));
    let quit = Instant::now();
    tmux(&socket, &["send-keys", "-t", "tui", "q"]);
    while tmux(&socket, &["has-session", "-t", "tui"])
        .status
        .success()
    {
        assert!(
            quit.elapsed() < Duration::from_secs(10),
            "the dashboard still runs {:?} after `q`; screen:\n{}",
            quit.elapsed(),
            screen(&socket)
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    eprintln!("dashboard exited {:?} after q", quit.elapsed());
}

fn s(p: &std::path::Path) -> &str {
    p.to_str().unwrap()
}
