//! End to end: the real binary in tmux, standalone, against a real seeder on loopback. Keys go
//! in with `send-keys`, the screen comes back with `capture-pane -p`: the torrent added from
//! the prompt, the seeder in the peers tab, a piece map that moves, and a clean quit.
//!
//! The `demo` market is not merged yet, so the swarm is one `bidtorrent seed`; the download is
//! rate-limited so the piece map is caught mid-transfer.

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

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

#[test]
fn dashboard_in_tmux_downloads_from_a_real_seeder() {
    if Command::new("tmux").arg("-V").output().is_err() {
        eprintln!("tmux not installed; skipping");
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
    let mut seeder = Command::new(BIN)
        .arg("--data-dir")
        .arg(root.join("seed-state"))
        .arg("seed")
        .arg(&torrent)
        .arg("--dir")
        .arg(&src)
        .args(["--listen", "127.0.0.1:0", "--json"])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let out = seeder.stdout.take().unwrap();
    cleanup.seeder = Some(seeder);
    let mut port = None;
    for line in BufReader::new(out).lines() {
        let line = line.unwrap();
        let v: serde_json::Value = serde_json::from_str(&line).unwrap();
        if v["event"] == "listening" {
            port = v["port"].as_u64();
        }
        if v["event"] == "seeding" {
            break;
        }
    }
    let port = port.expect("seeder reported its port");

    let state = root.join("xdg");
    let cmd = format!(
        "env XDG_STATE_HOME={s}/state XDG_CONFIG_HOME={s}/config XDG_RUNTIME_DIR={s}/run \
         {BIN} --data-dir {d} tui --dir {dl} --listen 127.0.0.1:0 --limit-down 160K \
         --refresh-ms 250",
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
