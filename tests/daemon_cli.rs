//! `bidtorrent daemon` and the client commands, through the real binary: batch add through
//! stdin with broken items, restart, `kill -9` mid-download, socket permissions, a second
//! daemon, the watch directory, the documented `ls --json` shape.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // tests fail loudly

mod engine_util;

use std::io::Write;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use bidtorrent::bencode::Owned;
use engine_util::daemon::{Daemon, stderr};
use engine_util::*;

/// A torrent whose only file is named `../escape` (path traversal).
fn traversal_torrent(dir: &Path) -> PathBuf {
    let info = Owned::dict()
        .with("name", "trav")
        .with("piece length", 16384i64)
        .with("pieces", vec![0u8; 20])
        .with(
            "files",
            Owned::List(vec![Owned::dict().with("length", 10i64).with(
                "path",
                Owned::List(vec![Owned::from(".."), Owned::from("escape")]),
            )]),
        );
    let path = dir.join("traversal.torrent");
    std::fs::write(&path, Owned::dict().with("info", info).encode()).expect("write");
    path
}

/// The JSON type of a value, for shape checks.
fn kind(v: &serde_json::Value) -> &'static str {
    match v {
        serde_json::Value::Null => "null",
        serde_json::Value::Bool(_) => "bool",
        serde_json::Value::Number(_) => "number",
        serde_json::Value::String(_) => "string",
        serde_json::Value::Array(_) => "array",
        serde_json::Value::Object(_) => "object",
    }
}

/// The `ls --json` element documented in RPC.md.
fn documented_ls_shape() -> serde_json::Map<String, serde_json::Value> {
    let doc =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/RPC.md")).expect("RPC.md");
    let start = doc.find("<!-- ls-json-example -->").expect("marker") + 24;
    let end = doc.find("<!-- /ls-json-example -->").expect("end marker");
    let block = doc[start..end]
        .trim()
        .trim_start_matches("```json")
        .trim_end_matches("```");
    match serde_json::from_str(block).expect("example parses") {
        serde_json::Value::Object(m) => m,
        other => panic!("example is not an object: {other}"),
    }
}

fn assert_documented_shape(t: &serde_json::Value) {
    let doc = documented_ls_shape();
    let obj = t.as_object().expect("object");
    let mut got: Vec<&String> = obj.keys().collect();
    let mut want: Vec<&String> = doc.keys().collect();
    got.sort();
    want.sort();
    assert_eq!(got, want, "ls --json fields differ from RPC.md");
    for (k, v) in doc {
        let g = &obj[&k];
        // `error` is documented as string or null, `market` as object or null (market off).
        let ok = kind(g) == kind(&v)
            || (k == "error" && matches!(kind(g), "null" | "string"))
            || (k == "market" && matches!(kind(g), "null" | "object"));
        assert!(ok, "{k}: {} in output, {} in RPC.md", kind(g), kind(&v));
    }
}

#[test]
fn batch_add_restart_and_refusals() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let mut daemon = Daemon::start(tmp.path(), None);

    // Owner-only socket in an owner-only directory.
    let mode = std::fs::metadata(&daemon.socket)
        .expect("socket")
        .permissions()
        .mode();
    assert_eq!(mode & 0o777, 0o600, "socket mode {mode:o}");
    let dmode = std::fs::metadata(daemon.socket.parent().expect("dir"))
        .expect("dir")
        .permissions()
        .mode();
    assert_eq!(dmode & 0o777, 0o700, "socket dir mode {dmode:o}");

    // A second daemon on the same socket refuses, naming it and the pid.
    let second = Command::new(BIN)
        .args(["--data-dir", s(&daemon.data), "--socket", s(&daemon.socket)])
        .args([
            "--config",
            s(&daemon.config),
            "daemon",
            "--no-dht",
            "--listen",
            "127.0.0.1:0",
        ])
        .output()
        .expect("second daemon");
    assert!(!second.status.success());
    let msg = stderr(&second);
    assert!(
        msg.contains("already running") && msg.contains(&daemon.child.id().to_string()),
        "{msg}"
    );

    // Another socket but the same data dir: refused by the data dir's lock.
    let third = Command::new(BIN)
        .args([
            "--data-dir",
            s(&daemon.data),
            "--socket",
            s(&tmp.path().join("o.sock")),
        ])
        .args([
            "--config",
            s(&daemon.config),
            "daemon",
            "--no-dht",
            "--listen",
            "127.0.0.1:0",
        ])
        .output()
        .expect("third daemon");
    assert!(!third.status.success());
    let msg = stderr(&third);
    assert!(
        msg.contains("already running with data dir")
            && msg.contains(&daemon.child.id().to_string()),
        "{msg}"
    );

    // 47 good torrents and 3 broken ones, through stdin.
    let tdir = tmp.path().join("torrents");
    std::fs::create_dir_all(&tdir).expect("mkdir");
    let mut lines = Vec::new();
    for i in 0..47 {
        let name = format!("t{i:02}.bin");
        lines.push(make_torrent(
            &tdir,
            &name,
            &[(name.as_str(), 20_000 + i)],
            16384,
        ));
        if i == 10 {
            let bad = tdir.join("bad.torrent");
            std::fs::write(&bad, b"d4:infoi3e").expect("write");
            lines.push(bad);
        }
        if i == 20 {
            lines.push(traversal_torrent(&tdir));
        }
        if i == 30 {
            lines.push(tdir.join("missing.torrent"));
        }
    }
    let input: String = lines.iter().map(|p| format!("{}\n", p.display())).collect();
    let dl = tmp.path().join("dl");
    let t0 = Instant::now();
    let out = daemon.cli_input(&["add", "-", "--dir", s(&dl), "--json"], input.as_bytes());
    let took = t0.elapsed();
    eprintln!("batch add of 50 took {took:?}");
    assert!(
        !out.status.success(),
        "a batch with failures must exit non-zero"
    );
    let err = stderr(&out);
    let failures: Vec<&str> = err
        .lines()
        .filter(|l| l.starts_with("bidtorrent: add:"))
        .collect();
    assert_eq!(failures.len(), 3, "{err}");
    assert!(failures.iter().any(|l| l.contains("bad.torrent")), "{err}");
    assert!(
        failures
            .iter()
            .any(|l| l.contains("traversal.torrent") && l.contains("..")),
        "{err}"
    );
    assert!(
        failures.iter().any(|l| l.contains("missing.torrent")),
        "{err}"
    );
    let batch: serde_json::Value = serde_json::from_slice(&out.stdout).expect("add --json");
    let results = batch["results"].as_array().expect("results");
    assert_eq!(results.len(), 50);
    assert_eq!(results.iter().filter(|r| r["ok"] == true).count(), 47);
    assert!(!dl.join("..").join("escape").exists());

    let listed = daemon.ls();
    assert_eq!(listed.len(), 47);
    for t in &listed {
        assert_documented_shape(t);
    }

    // Adding one again is an error naming its id; nothing else changes.
    let again = daemon.cli(&["add", s(&lines[0])]);
    assert!(!again.status.success());
    assert!(
        stderr(&again).contains("already added as #1"),
        "{}",
        stderr(&again)
    );

    // Batch semantics for the other commands: an unknown id fails alone.
    let out = daemon.cli(&["pause", "1", "999", "2"]);
    assert!(!out.status.success());
    assert!(
        stderr(&out).contains("999: no torrent with id 999"),
        "{}",
        stderr(&out)
    );
    let listed = daemon.ls();
    let paused: Vec<u64> = listed
        .iter()
        .filter(|t| t["paused"] == true)
        .map(|t| t["id"].as_u64().expect("id"))
        .collect();
    assert_eq!(paused, vec![1, 2]);
    let prefix = listed[2]["info_hash"].as_str().expect("hash")[..10].to_string();
    let out = daemon.cli(&["rm", &prefix]);
    assert!(out.status.success(), "{}", stderr(&out));
    let out = daemon.cli(&["limit", "--down", "1M", "--json"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let l: serde_json::Value = serde_json::from_slice(&out.stdout).expect("limit json");
    assert_eq!(l["down"], 1 << 20);

    // A clean restart keeps the 46 left, their ids and settings.
    let before: Vec<(u64, String, bool)> = daemon
        .ls()
        .iter()
        .map(|t| {
            (
                t["id"].as_u64().expect("id"),
                t["info_hash"].as_str().expect("hash").to_string(),
                t["paused"] == true,
            )
        })
        .collect();
    assert_eq!(before.len(), 46);
    let st = daemon.terminate();
    assert!(st.success(), "SIGTERM must exit 0: {st}");
    assert!(!daemon.socket.exists(), "socket left behind");
    let daemon = Daemon::spawn(
        daemon.data.clone(),
        daemon.socket.clone(),
        daemon.config.clone(),
    );
    let after: Vec<(u64, String, bool)> = daemon
        .ls()
        .iter()
        .map(|t| {
            (
                t["id"].as_u64().expect("id"),
                t["info_hash"].as_str().expect("hash").to_string(),
                t["paused"] == true,
            )
        })
        .collect();
    assert_eq!(before, after);
    let out = daemon.cli(&["limit", "--json"]);
    let l: serde_json::Value = serde_json::from_slice(&out.stdout).expect("limit json");
    assert_eq!(l["down"], 1 << 20, "global limit must survive a restart");
}

#[test]
fn kill_9_mid_download_then_complete() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let size = 3 * 1024 * 1024;
    let t = make_torrent(tmp.path(), "big.bin", &[("big.bin", size)], 64 * 1024);
    let mut seeder = Bt::seed(tmp.path(), &t, &tmp.path().join("src"));
    let peer = format!("127.0.0.1:{}", seeder.port());
    let daemon = Daemon::start(tmp.path(), None);
    let dl = tmp.path().join("dl");
    // Slow enough to be caught half way.
    let out = daemon.cli(&["limit", "--down", "512K"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let out = daemon.cli(&["add", s(&t), "--dir", s(&dl), "--peer", &peer]);
    assert!(out.status.success(), "{}", stderr(&out));

    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let t = &daemon.ls()[0];
        let have = t["have_pieces"].as_u64().expect("have");
        if have >= 8 {
            assert!(
                t["left_bytes"].as_u64().expect("left") > 0,
                "finished too soon"
            );
            break;
        }
        assert!(Instant::now() < deadline, "no progress: {t}");
        std::thread::sleep(Duration::from_millis(100));
    }

    // Pausing a running torrent closes its peers and stops the transfer; resume restarts it.
    let out = daemon.cli(&["pause", "1"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let deadline = Instant::now() + Duration::from_secs(10);
    let a = loop {
        let t = daemon.ls()[0].clone();
        if t["phase"] == "paused" && t["peers"] == 0 {
            break t;
        }
        assert!(
            Instant::now() < deadline,
            "pause did not close the peers: {t}"
        );
        std::thread::sleep(Duration::from_millis(50));
    };
    // Not a synchronisation: a window in which a paused torrent must not move (a regression
    // that keeps downloading shows here; a correct one can never fail it).
    let window = Instant::now() + Duration::from_secs(1);
    let mut b = a.clone();
    while Instant::now() < window {
        b = daemon.ls()[0].clone();
        assert_eq!(b["peers"], 0, "a peer came back while paused: {b}");
        std::thread::sleep(Duration::from_millis(100));
    }
    assert_eq!(b["phase"], "paused", "{b}");
    assert_eq!(
        a["have_pieces"], b["have_pieces"],
        "still downloading while paused"
    );
    let out = daemon.cli(&["resume", "1"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let deadline = Instant::now() + Duration::from_secs(20);
    while daemon.ls()[0]["have_pieces"] == b["have_pieces"] {
        assert!(Instant::now() < deadline, "no progress after resume");
        std::thread::sleep(Duration::from_millis(100));
    }

    let mut daemon = daemon;
    daemon.child.kill().expect("kill -9");
    let _ = daemon.child.wait();

    // The stale socket is replaced; the torrent comes back and completes.
    let daemon = Daemon::spawn(
        daemon.data.clone(),
        daemon.socket.clone(),
        daemon.config.clone(),
    );
    let listed = daemon.ls();
    assert_eq!(listed.len(), 1);
    let out = daemon.cli(&["limit", "--down", "0"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let t = &daemon.ls()[0];
        if t["left_bytes"] == 0 && t["phase"] == "seeding" {
            break;
        }
        assert!(Instant::now() < deadline, "did not complete: {t}");
        std::thread::sleep(Duration::from_millis(200));
    }
    assert_same_tree(&tmp.path().join("src/big.bin"), &dl.join("big.bin"));
}

#[test]
fn add_wait_pause_resume_and_events() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let t = make_torrent(tmp.path(), "w.bin", &[("w.bin", 600_000)], 32 * 1024);
    let mut seeder = Bt::seed(tmp.path(), &t, &tmp.path().join("src"));
    let peer = format!("127.0.0.1:{}", seeder.port());
    let daemon = Daemon::start(tmp.path(), None);
    let dl = tmp.path().join("dl");

    // Events: subscribe on the raw socket.
    let mut sub = std::os::unix::net::UnixStream::connect(&daemon.socket).expect("connect");
    sub.set_read_timeout(Some(Duration::from_secs(30)))
        .expect("timeout");
    sub.write_all(b"{\"id\":1,\"cmd\":\"subscribe\"}\n")
        .expect("subscribe");
    let mut reader = std::io::BufReader::new(sub.try_clone().expect("clone"));
    let mut line = String::new();
    use std::io::BufRead;
    reader.read_line(&mut line).expect("hello");
    assert!(line.contains("\"bidtorrent\":1"), "{line}");
    line.clear();
    reader.read_line(&mut line).expect("ok");
    assert!(line.contains("\"ok\":true"), "{line}");

    let out = daemon.cli(&["add", s(&t), "--dir", s(&dl), "--paused", "--peer", &peer]);
    assert!(out.status.success(), "{}", stderr(&out));
    // The `added` event, then a window in which the paused torrent must neither connect nor
    // download (an observation, not a wait for something to happen).
    let mut seen: Vec<serde_json::Value> = Vec::new();
    while !seen.iter().any(|e| e["event"] == "added") {
        line.clear();
        reader.read_line(&mut line).expect("added event");
        seen.push(serde_json::from_str(&line).expect("event json"));
    }
    let window = Instant::now() + Duration::from_secs(1);
    while Instant::now() < window {
        let t0 = &daemon.ls()[0];
        assert_eq!(t0["phase"], "paused", "{t0}");
        assert_eq!(t0["peers"], 0, "paused must not connect: {t0}");
        assert_eq!(t0["have_pieces"], 0, "paused must not download: {t0}");
        std::thread::sleep(Duration::from_millis(100));
    }
    let out = daemon.cli(&["resume", "--all"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let deadline = Instant::now() + Duration::from_secs(30);
    while daemon.ls()[0]["left_bytes"] != 0 {
        assert!(Instant::now() < deadline, "did not complete");
        std::thread::sleep(Duration::from_millis(100));
    }
    let has = |seen: &[serde_json::Value], ev: &str| seen.iter().any(|e| e["event"] == ev);
    while !(has(&seen, "complete") && has(&seen, "resumed")) {
        line.clear();
        reader.read_line(&mut line).expect("event");
        seen.push(serde_json::from_str(&line).expect("event json"));
    }
    assert!(
        seen.iter().any(|e| e["event"] == "added" && e["id"] == 1),
        "{seen:?}"
    );
    assert!(seen.iter().any(|e| e["event"] == "resumed"), "{seen:?}");
    assert_same_tree(&tmp.path().join("src/w.bin"), &dl.join("w.bin"));

    // info and recheck on the finished torrent.
    let out = daemon.cli(&["info", "1", "--json"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let info: serde_json::Value = serde_json::from_slice(&out.stdout).expect("info json");
    assert_eq!(info["files"][0]["path"], "w.bin");
    assert_eq!(info["files"][0]["length"], 600_000);
    flip_byte(&dl.join("w.bin"), 100);
    let out = daemon.cli(&["recheck", "1", "--json"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let r: serde_json::Value = serde_json::from_slice(&out.stdout).expect("json");
    let n = (600_000 + 32 * 1024 - 1) / (32 * 1024);
    assert_eq!(
        r["results"][0]["message"],
        format!("{} of {n} pieces verified", n - 1)
    );

    // rm --delete-data removes the files.
    let out = daemon.cli(&["rm", "--all", "--delete-data"]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(!dl.join("w.bin").exists());
    assert!(daemon.ls().is_empty());

    // `add --wait` returns once the torrent is complete (here: its data is already there).
    let out = daemon.cli(&["add", "--wait", s(&t), "--dir", s(&tmp.path().join("src"))]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(daemon.ls()[0]["left_bytes"], 0);
}

#[test]
fn watch_dir_and_config_errors() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let watch = tmp.path().join("watch");
    std::fs::create_dir_all(&watch).expect("mkdir");
    let dl = tmp.path().join("dl");
    let config = tmp.path().join("config.toml");
    std::fs::write(
        &config,
        format!(
            "download_dir = {:?}\n[watch]\ndir = {:?}\ninterval_secs = 1\n",
            dl.display().to_string(),
            watch.display().to_string()
        ),
    )
    .expect("config");
    let check = Command::new(BIN)
        .args(["--config", s(&config), "config", "check"])
        .output()
        .expect("check");
    assert!(check.status.success(), "{}", stderr(&check));

    let daemon = Daemon::start(tmp.path(), None);
    let good = make_torrent(tmp.path(), "g.bin", &[("g.bin", 5000)], 16384);
    std::fs::copy(&good, watch.join("g.torrent")).expect("copy");
    std::fs::write(watch.join("b.torrent"), b"not bencode").expect("write");
    let deadline = Instant::now() + Duration::from_secs(15);
    while !(watch.join("g.torrent.added").exists() && watch.join("b.torrent.invalid").exists()) {
        assert!(Instant::now() < deadline, "watch dir not processed");
        std::thread::sleep(Duration::from_millis(100));
    }
    let listed = daemon.ls();
    assert_eq!(listed.len(), 1);
    assert_eq!(listed[0]["download_dir"], dl.display().to_string());

    // Garbage on the socket gets an error line and the connection stays usable.
    {
        use std::io::BufRead;
        let mut c = std::os::unix::net::UnixStream::connect(&daemon.socket).expect("connect");
        c.set_read_timeout(Some(Duration::from_secs(10)))
            .expect("timeout");
        c.write_all(b"not json\n{\"id\":5,\"cmd\":\"fly\"}\n{\"id\":6,\"cmd\":\"status\"}\n")
            .expect("write");
        let mut r = std::io::BufReader::new(c);
        let mut lines = Vec::new();
        for _ in 0..4 {
            let mut l = String::new();
            r.read_line(&mut l).expect("line");
            lines.push(serde_json::from_str::<serde_json::Value>(&l).expect("json"));
        }
        assert_eq!(lines[1]["ok"], false, "{lines:?}");
        assert!(
            lines[1]["error"]
                .as_str()
                .expect("error")
                .contains("bad request")
        );
        assert_eq!(lines[2]["id"], 5);
        assert_eq!(lines[2]["ok"], false);
        assert_eq!(lines[3]["id"], 6);
        assert_eq!(lines[3]["result"]["torrents"], 1, "{lines:?}");
    }
    drop(daemon);

    // An unknown key is an error naming the key and its line; the file is left alone.
    let text = "listen = \"127.0.0.1:0\"\n\n[limits]\ndonwload = 5\n";
    std::fs::write(&config, text).expect("config");
    let check = Command::new(BIN)
        .args(["--config", s(&config), "config", "check"])
        .output()
        .expect("check");
    assert!(!check.status.success());
    let msg = stderr(&check);
    assert!(msg.contains(":4:") && msg.contains("donwload"), "{msg}");
    assert_eq!(std::fs::read_to_string(&config).expect("read"), text);
    let d = Command::new(BIN)
        .args([
            "--config",
            s(&config),
            "--data-dir",
            s(&tmp.path().join("x")),
        ])
        .args(["daemon", "--no-dht"])
        .output()
        .expect("daemon");
    assert!(!d.status.success(), "a bad config must stop the daemon");
    assert!(stderr(&d).contains("donwload"), "{}", stderr(&d));

    // `config default` is a valid config.
    let def = Command::new(BIN)
        .args(["config", "default"])
        .output()
        .expect("default");
    std::fs::write(&config, &def.stdout).expect("write");
    let check = Command::new(BIN)
        .args(["--config", s(&config), "config", "check"])
        .output()
        .expect("check");
    assert!(check.status.success(), "{}", stderr(&check));
}

#[test]
fn no_daemon_is_a_clear_error() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let out = Command::new(BIN)
        .args(["--socket", s(&tmp.path().join("none.sock")), "ls"])
        .output()
        .expect("ls");
    assert!(!out.status.success());
    assert!(
        stderr(&out).contains("no daemon is listening"),
        "{}",
        stderr(&out)
    );
}

#[test]
fn add_magnet_fetches_metadata_and_survives_restart() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let t = make_torrent(tmp.path(), "m.bin", &[("m.bin", 300_000)], 16 * 1024);
    let mut seeder = Bt::seed(tmp.path(), &t, &tmp.path().join("src"));
    let peer = format!("127.0.0.1:{}", seeder.port());
    let meta = bidtorrent::engine::metainfo::Metainfo::from_file(&t).expect("torrent");
    let magnet = format!("magnet:?xt=urn:btih:{}&dn=m.bin", meta.info_hash.to_hex());
    let mut daemon = Daemon::start(tmp.path(), None);
    let dl = tmp.path().join("dl");
    let out = daemon.cli(&["add", &magnet, "--dir", s(&dl), "--peer", &peer]);
    assert!(out.status.success(), "{}", stderr(&out));
    let deadline = Instant::now() + Duration::from_secs(30);
    while daemon.ls()[0]["left_bytes"] != 0 {
        assert!(Instant::now() < deadline, "magnet did not complete");
        std::thread::sleep(Duration::from_millis(100));
    }
    assert_eq!(daemon.ls()[0]["info_hash"], meta.info_hash.to_hex());
    assert_same_tree(&tmp.path().join("src/m.bin"), &dl.join("m.bin"));

    // The fetched metadata was kept: a restart brings the torrent back without the swarm.
    drop(seeder);
    assert!(daemon.terminate().success());
    let daemon = Daemon::spawn(
        daemon.data.clone(),
        daemon.socket.clone(),
        daemon.config.clone(),
    );
    let ls = daemon.ls();
    assert_eq!(ls.len(), 1);
    assert_eq!(ls[0]["name"], "m.bin");

    // A bad magnet is one clear error naming the problem.
    let out = daemon.cli(&["add", "magnet:?xt=urn:btih:xyz"]);
    assert!(!out.status.success());
    assert!(stderr(&out).contains("btih"), "{}", stderr(&out));
}

/// A "daemon" that accepts connections and never says a word, or greets and then never
/// answers: `bidtorrent ls` must give up with one clear line and a failure status instead of
/// hanging (issue 17). Bounds are generous: the regression hangs for ten minutes or forever.
#[test]
fn ls_against_a_silent_daemon_times_out_with_one_line() {
    let tmp = tempfile::tempdir().expect("tempdir");
    for greet in [false, true] {
        let sock = tmp.path().join(format!("silent-{greet}.sock"));
        let listener = std::os::unix::net::UnixListener::bind(&sock).expect("bind");
        let held = std::thread::spawn(move || {
            let mut conns = Vec::new();
            for c in listener.incoming().take(1) {
                let mut c = c.expect("accept");
                if greet {
                    c.write_all(b"{\"bidtorrent\":1,\"version\":\"0\",\"pid\":1}\n")
                        .expect("greet");
                }
                conns.push(c);
            }
            // Keep the connection open, unanswered, until the client gives up.
            std::thread::sleep(Duration::from_secs(60));
            drop(conns);
        });
        let started = Instant::now();
        let mut cmd = Command::new(BIN);
        cmd.args(["--socket", s(&sock), "ls"]);
        if greet {
            cmd.args(["--timeout", "1"]);
        }
        let mut child = cmd
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .expect("spawn ls");
        while child.try_wait().expect("wait").is_none() {
            assert!(
                started.elapsed() < Duration::from_secs(45),
                "ls still waiting after 45 s (greeting sent: {greet})"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
        let out = child.wait_with_output().expect("output");
        let err = stderr(&out);
        assert!(
            !out.status.success(),
            "ls succeeded against a silent daemon"
        );
        assert!(out.stdout.is_empty(), "stdout: {:?}", out.stdout);
        assert_eq!(err.lines().count(), 1, "not one line: {err:?}");
        assert!(err.contains("did not answer within"), "{err}");
        eprintln!("greeting {greet}: {:?}: {err}", started.elapsed());
        drop(held);
    }
}

/// `add` of a FIFO used to block for good, and of a huge file to read it whole (1.5 GiB)
/// before refusing it. Both are refused at once, and the daemon stays usable.
#[test]
fn add_refuses_a_fifo_and_a_huge_file_at_once() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let daemon = Daemon::start(tmp.path(), None);
    let fifo = tmp.path().join("fifo.torrent");
    let c = std::ffi::CString::new(fifo.to_str().expect("utf-8")).expect("path");
    // SAFETY: mkfifo with a valid C string.
    assert_eq!(unsafe { libc::mkfifo(c.as_ptr(), 0o600) }, 0, "mkfifo");
    let huge = tmp.path().join("huge.torrent");
    // Sparse: 65 MiB of nothing on disk.
    std::fs::File::create(&huge)
        .and_then(|f| f.set_len(65 << 20))
        .expect("huge file");
    for (path, why) in [(&fifo, "not a regular file"), (&huge, "too big")] {
        let started = Instant::now();
        let out = daemon.cli(&["add", s(path), "--timeout", "60"]);
        let err = stderr(&out);
        assert!(!out.status.success(), "{}: added", path.display());
        assert!(err.contains(why), "{}: {err}", path.display());
        eprintln!("{}: refused in {:?}", path.display(), started.elapsed());
    }
    assert!(daemon.ls().is_empty());
}

/// Adds are persisted through a journal now, not a rewrite of session.json each: a `kill -9`
/// while adds stream in must lose no add the daemon acknowledged. One request per add, so
/// every reply is an acknowledgement, and the kill lands among them.
#[test]
fn kill_9_among_adds_loses_no_acknowledged_add() {
    use bidtorrent::rpc::proto::{AddArgs, BatchResult, Command as Rpc};
    let tmp = tempfile::tempdir().expect("tempdir");
    let n = 400;
    let torrents: Vec<PathBuf> = (0..n)
        .map(|i| {
            let name = format!("k{i:03}.bin");
            make_torrent(tmp.path(), &name, &[(&name, 500 + i)], 16 * 1024)
        })
        .collect();
    let mut daemon = Daemon::start(tmp.path(), None);
    let pid = daemon.child.id() as i32;
    let mut client = bidtorrent::rpc::Client::connect(&daemon.socket).expect("connect");
    let dir = tmp.path().join("src").display().to_string();
    let mut acked = Vec::new();
    let mut killer = None;
    for t in &torrents {
        let r: Result<BatchResult, _> = client.call(Rpc::Add(AddArgs {
            sources: vec![t.display().to_string()],
            dir: Some(dir.clone()),
            paused: true,
            ..AddArgs::default()
        }));
        let Ok(r) = r else { break };
        let item = &r.results[0];
        assert!(item.ok, "{item:?}");
        acked.push(item.name.clone().expect("name"));
        if acked.len() == 150 {
            // SAFETY: kill(2) on our own child, from another thread while adds go on.
            killer = Some(std::thread::spawn(move || unsafe {
                libc::kill(pid, libc::SIGKILL);
            }));
        }
    }
    killer.expect("150 adds").join().expect("kill");
    let _ = daemon.child.wait();
    assert!(
        acked.len() < n,
        "every add was answered: the kill came too late"
    );

    let daemon = Daemon::spawn(
        daemon.data.clone(),
        daemon.socket.clone(),
        daemon.config.clone(),
    );
    let listed: Vec<String> = daemon
        .ls()
        .iter()
        .map(|t| t["name"].as_str().expect("name").to_string())
        .collect();
    let lost: Vec<&String> = acked.iter().filter(|n| !listed.contains(n)).collect();
    assert!(lost.is_empty(), "lost after kill -9: {lost:?}");
    eprintln!(
        "{} acknowledged before the kill, {} restored",
        acked.len(),
        listed.len()
    );
}

/// `pause --all`, `label --all` and `resume --all` save every torrent in one write (issue 19);
/// what they acknowledge survives a `kill -9`, and a change to a few torrents after such a
/// batch is still journaled on top of it.
#[test]
fn batch_pause_label_resume_survive_kill_9() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let n = 120;
    let list: String = (0..n)
        .map(|i| {
            let name = format!("b{i:03}.bin");
            let t = make_torrent(tmp.path(), &name, &[(&name, 300 + i)], 16 * 1024);
            format!("{}\n", t.display())
        })
        .collect();
    let src = tmp.path().join("src");
    let mut daemon = Daemon::start(tmp.path(), None);
    let out = daemon.cli_input(&["-q", "add", "-", "--dir", s(&src)], list.as_bytes());
    assert!(out.status.success(), "{}", stderr(&out));
    daemon.wait_seeding(Duration::from_secs(60));

    let all_ok = |v: &serde_json::Value, what: &str| {
        let results = v["results"].as_array().expect("results");
        assert_eq!(results.len(), n, "{what}: {v}");
        assert!(
            results.iter().all(|r| r["ok"] == true),
            "{what}: {results:?}"
        );
    };
    all_ok(&daemon.json(&["pause", "--all", "--json"]), "pause");
    // `label` on the command line names one torrent; the protocol takes --all.
    let mut client = bidtorrent::rpc::Client::connect(&daemon.socket).expect("connect");
    let labelled: serde_json::Value = client
        .call(bidtorrent::rpc::proto::Command::Label {
            targets: bidtorrent::rpc::proto::Targets {
                all: true,
                ..Default::default()
            },
            labels: vec!["kept".into()],
        })
        .expect("label --all");
    drop(client);
    all_ok(&labelled, "label");
    // One more change on top of the batch, as a journal line.
    all_ok_one(&daemon.json(&["resume", "7", "--json"]));

    let restart = |mut d: Daemon| {
        d.child.kill().expect("kill -9");
        let _ = d.child.wait();
        Daemon::spawn(d.data.clone(), d.socket.clone(), d.config.clone())
    };
    daemon = restart(daemon);
    let ls = daemon.ls();
    assert_eq!(ls.len(), n);
    for t in &ls {
        let resumed = t["id"] == 7;
        assert_eq!(t["paused"], !resumed, "{t}");
        assert_eq!(t["labels"], serde_json::json!(["kept"]), "{t}");
    }

    all_ok(&daemon.json(&["resume", "--all", "--json"]), "resume");
    daemon = restart(daemon);
    let ls = daemon.ls();
    assert_eq!(ls.len(), n);
    assert!(ls.iter().all(|t| t["paused"] == false), "{ls:?}");
    daemon.wait_seeding(Duration::from_secs(60));
}

fn all_ok_one(v: &serde_json::Value) {
    let results = v["results"].as_array().expect("results");
    assert_eq!(results.len(), 1, "{v}");
    assert_eq!(results[0]["ok"], true, "{v}");
}

/// The event stream's `progress`: a downloading torrent's verified bytes at least every
/// 0.5 s (with slack for a loaded machine), rising, never above the total, and none once the
/// torrent completed (issue 19: outside harnesses time transfers with it).
#[test]
fn progress_events_report_verified_bytes_while_downloading() {
    use std::io::BufRead;
    let tmp = tempfile::tempdir().expect("tempdir");
    let size = 2 * 1024 * 1024;
    let t = make_torrent(tmp.path(), "p.bin", &[("p.bin", size)], 64 * 1024);
    let mut seeder = Bt::seed(tmp.path(), &t, &tmp.path().join("src"));
    let peer = format!("127.0.0.1:{}", seeder.port());
    let daemon = Daemon::start(tmp.path(), None);
    // About four seconds of transfer.
    let out = daemon.cli(&["limit", "--down", "512K"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let mut sub = std::os::unix::net::UnixStream::connect(&daemon.socket).expect("connect");
    sub.set_read_timeout(Some(Duration::from_secs(30)))
        .expect("timeout");
    sub.write_all(b"{\"id\":1,\"cmd\":\"subscribe\",\"interval_ms\":0}\n")
        .expect("subscribe");
    let mut reader = std::io::BufReader::new(sub.try_clone().expect("clone"));
    let mut line = String::new();
    reader.read_line(&mut line).expect("hello");
    line.clear();
    reader.read_line(&mut line).expect("ok");
    assert!(line.contains("\"ok\":true"), "{line}");
    let dl = tmp.path().join("dl");
    let out = daemon.cli(&["add", s(&t), "--dir", s(&dl), "--peer", &peer]);
    assert!(out.status.success(), "{}", stderr(&out));
    let mut progress: Vec<(Instant, u64)> = Vec::new();
    let completed = loop {
        line.clear();
        reader.read_line(&mut line).expect("event");
        let e: serde_json::Value = serde_json::from_str(&line).expect("event json");
        if e["event"] == "progress" {
            assert_eq!(e["id"], 1, "{e}");
            assert_eq!(e["total"], size as u64, "{e}");
            progress.push((Instant::now(), e["verified"].as_u64().expect("verified")));
        }
        if e["event"] == "complete" {
            break Instant::now();
        }
    };
    assert!(progress.len() >= 3, "too few progress events: {progress:?}");
    for w in progress.windows(2) {
        assert!(w[1].1 > w[0].1, "verified did not rise: {progress:?}");
        let gap = w[1].0.duration_since(w[0].0);
        assert!(gap < Duration::from_millis(1500), "{gap:?} between events");
    }
    assert!(progress.iter().all(|p| p.1 <= size as u64));
    // Nothing more for a finished torrent (a window, not a wait).
    sub.set_read_timeout(Some(Duration::from_millis(1200)))
        .expect("timeout");
    while completed.elapsed() < Duration::from_millis(1200) {
        line.clear();
        match reader.read_line(&mut line) {
            Ok(n) if n > 0 => assert!(!line.contains("\"progress\""), "after complete: {line}"),
            _ => break,
        }
    }
    drop(seeder);
}
