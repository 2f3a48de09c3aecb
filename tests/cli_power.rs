//! The CLI as a power user scripts it, through the real binary: a pipe closed early ends a
//! command quietly with status 0; every error is one line naming the input and its fault,
//! no cause twice; `files`/`prio`; `ls`/`info` with ETA and ratio; `peers` with its flags and
//! nothing but a note when empty; whole-number rates in JSON; `config check` on `[tui]`
//! mistakes; `seed --no-dht` and `seed --json` ending with `stopped`; the daemon's foreground
//! line; global options under their own heading.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // tests fail loudly

mod engine_util;

use std::io::{BufRead, BufReader};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use engine_util::daemon::{Daemon, stderr};
use engine_util::*;

fn run(args: &[&str]) -> Output {
    Command::new(BIN)
        .args(args)
        .stdin(Stdio::null())
        .output()
        .expect("run bidtorrent")
}

/// Runs with stdout a pipe whose reading end is already closed: every write fails (EPIPE).
fn run_into_closed_pipe(args: &[&str]) -> Output {
    let (reader, writer) = std::io::pipe().expect("pipe");
    drop(reader);
    Command::new(BIN)
        .args(args)
        .stdin(Stdio::null())
        .stdout(writer)
        .stderr(Stdio::piped())
        .output()
        .expect("run bidtorrent")
}

/// The one stderr line of a failed command; fails the test if there are more.
fn one_error_line(o: &Output) -> String {
    assert!(!o.status.success(), "expected a failure");
    let e = stderr(o);
    let lines: Vec<&str> = e.lines().filter(|l| !l.trim().is_empty()).collect();
    assert_eq!(lines.len(), 1, "one line expected: {e:?}");
    lines[0].to_string()
}

#[test]
fn a_closed_pipe_ends_quietly_with_status_0() {
    let o = run_into_closed_pipe(&["config", "default"]);
    assert!(o.status.success(), "status {:?}: {}", o.status, stderr(&o));
    assert!(stderr(&o).is_empty(), "quiet: {}", stderr(&o));

    let tmp = tempfile::tempdir().unwrap();
    let t = make_torrent(tmp.path(), "pipe.bin", &[("pipe.bin", 40_000)], 16384);
    let d = Daemon::start(&tmp.path().join("d"), None);
    d.json(&["add", s(&t), "--dir", s(&tmp.path().join("src")), "--json"]);
    for args in [
        ["ls"].as_slice(),
        &["info", "1"],
        &["peers", "1"],
        &["files", "1"],
    ] {
        let mut full = vec!["--data-dir", s(&d.data), "--socket", s(&d.socket)];
        full.extend_from_slice(args);
        let o = run_into_closed_pipe(&full);
        assert!(
            o.status.success(),
            "{args:?}: {:?} {}",
            o.status,
            stderr(&o)
        );
        assert!(stderr(&o).is_empty(), "{args:?}: {}", stderr(&o));
    }
}

#[test]
fn each_error_is_one_line_with_its_cause_once() {
    let tmp = tempfile::tempdir().unwrap();
    let junk = tmp.path().join("junk.torrent");
    std::fs::write(&junk, b"junk").unwrap();
    let dl = tmp.path().join("dl");
    let cases: Vec<(Vec<String>, &str, &str)> = vec![
        (
            vec![
                "create".into(),
                "/nonexistent".into(),
                "-o".into(),
                s(&tmp.path().join("x.torrent")).into(),
            ],
            "/nonexistent",
            "No such file",
        ),
        (
            vec!["--socket".into(), "/no/such.sock".into(), "ls".into()],
            "/no/such.sock",
            "No such file",
        ),
        // The command's own --socket, after it, is the one used.
        (
            vec![
                "--socket".into(),
                "/no/before.sock".into(),
                "ls".into(),
                "--socket".into(),
                "/no/after.sock".into(),
            ],
            "/no/after.sock",
            "No such file",
        ),
        (
            vec![
                "download".into(),
                "notatorrent".into(),
                "--no-dht".into(),
                "--dir".into(),
                s(&dl).into(),
            ],
            "notatorrent",
            "No such file",
        ),
        (
            vec![
                "download".into(),
                s(&junk).into(),
                "--no-dht".into(),
                "--dir".into(),
                s(&dl).into(),
            ],
            "junk.torrent",
            "bencode",
        ),
        (
            vec![
                "--socket".into(),
                "/no/such.sock".into(),
                "strategy".into(),
                "cheap".into(),
            ],
            "cheap",
            "uniform-price",
        ),
    ];
    for (args, names, cause) in cases {
        let a: Vec<&str> = args.iter().map(String::as_str).collect();
        let line = one_error_line(&run(&a));
        assert!(line.contains(names), "{a:?}: names the input: {line}");
        assert_eq!(line.matches(cause).count(), 1, "{a:?}: cause once: {line}");
    }
    // A negative rate is refused as what it is, not with a tip about `--`.
    let o = run(&["--socket", "/no/such.sock", "limit", "--down", "-5M"]);
    let e = stderr(&o);
    assert!(!o.status.success());
    assert!(e.contains("non-negative"), "{e}");
    assert!(!e.contains("tip:"), "{e}");
}

#[test]
fn files_prio_ls_info_peers_and_json_rates() {
    let tmp = tempfile::tempdir().unwrap();
    let t = make_torrent(
        tmp.path(),
        "album",
        &[("one.bin", 50_000), ("two.bin", 30_000)],
        16384,
    );
    let d = Daemon::start(&tmp.path().join("d"), None);
    let dl = tmp.path().join("dl");
    d.json(&["add", s(&t), "--dir", s(&dl), "--paused", "--json"]);

    let f = d.json(&["files", "1", "--json"]);
    assert_eq!(f["files"].as_array().unwrap().len(), 2, "{f}");
    assert_eq!(f["files"][1]["path"], "album/two.bin", "{f}");
    let f = d.json(&["prio", "1", "1", "skip", "--json"]);
    assert_eq!(f["files"][1]["priority"], "skip", "{f}");
    assert_eq!(f["files"][0]["priority"], "normal", "{f}");
    let f = d.json(&["prio", "1", "all", "high", "--json"]);
    assert!(
        f["files"]
            .as_array()
            .unwrap()
            .iter()
            .all(|x| x["priority"] == "high"),
        "{f}"
    );
    let line = one_error_line(&d.cli(&["prio", "1", "0", "urgent"]));
    assert!(line.contains("urgent") && line.contains("skip"), "{line}");
    let line = one_error_line(&d.cli(&["prio", "1", "x", "skip"]));
    assert!(line.contains("x: not a file number"), "{line}");
    let human = String::from_utf8(d.cli(&["files", "1"]).stdout).unwrap();
    assert!(
        human.contains("PRIORITY") && human.contains("album/one.bin"),
        "{human}"
    );

    let ls = String::from_utf8(d.cli(&["ls"]).stdout).unwrap();
    let header = ls.lines().next().unwrap();
    assert!(header.contains("ETA") && header.contains("RATIO"), "{ls}");
    let row = ls.lines().nth(1).unwrap();
    assert!(
        row.contains("∞") && row.contains("0.00"),
        "paused: no ETA, ratio 0: {row}"
    );
    let info = String::from_utf8(d.cli(&["info", "1"]).stdout).unwrap();
    assert!(
        info.contains("eta") && info.contains("ratio       0.00 (uploaded 0 B)"),
        "{info}"
    );

    // No peers: a note, not a bare header.
    let peers = String::from_utf8(d.cli(&["peers", "1"]).stdout).unwrap();
    assert_eq!(peers.trim(), "#1: no peers connected");

    // Rates are whole bytes per second in JSON.
    let ls = d.json(&["ls", "--json"]);
    assert!(ls[0]["down_rate"].is_u64(), "{ls}");
    assert!(d.json(&["status", "--json"])["up_rate"].is_u64());
}

#[test]
fn config_check_refuses_tui_mistakes_and_default_shows_tui() {
    let o = run(&["config", "default"]);
    let text = String::from_utf8(o.stdout).unwrap();
    assert!(
        text.contains("# [tui]") && text.contains("# [tui.keys]"),
        "{text}"
    );

    let tmp = tempfile::tempdir().unwrap();
    let cases = [
        ("[tui]\ntheme = \"nosuchtheme\"\n", "nosuchtheme"),
        ("[tui]\ncolor = \"purple\"\n", "purple"),
        ("[tui.keys]\nfly = \"x\"\n", "fly"),
        ("[tui.keys]\nquit = \"hyper-x\"\n", "hyper-x"),
        (
            "[tui.keys]\ndown = [\"q\", \"ctrl-c\"]\n",
            "no key is left for quit",
        ),
        ("[tui.keys]\ndown = \"x\"\nup = \"x\"\n", "bound to both"),
    ];
    for (i, (cfg, needle)) in cases.iter().enumerate() {
        let p = tmp.path().join(format!("c{i}.toml"));
        std::fs::write(&p, cfg).unwrap();
        let o = run(&["--config", s(&p), "config", "check"]);
        let e = stderr(&o);
        assert!(!o.status.success(), "{cfg}: accepted");
        assert!(e.contains(needle), "{cfg}: {e}");
        assert!(e.contains("line"), "{cfg}: names the line: {e}");
    }
    let p = tmp.path().join("good.toml");
    std::fs::write(&p, "[tui]\ntheme = \"dusk\"\n[tui.keys]\nremove = \"D\"\n").unwrap();
    let o = run(&["--config", s(&p), "config", "check"]);
    assert!(o.status.success(), "{}", stderr(&o));
}

#[test]
fn seed_takes_no_dht_and_ends_json_with_stopped() {
    let tmp = tempfile::tempdir().unwrap();
    let t = make_torrent(tmp.path(), "s.bin", &[("s.bin", 40_000)], 16384);
    let mut child = Command::new(BIN)
        .args(["--data-dir", s(&tmp.path().join("state")), "seed", s(&t)])
        .args([
            "--dir",
            s(&tmp.path().join("src")),
            "--listen",
            "127.0.0.1:0",
        ])
        .args(["--no-dht", "--json"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let l = lines.next().expect("events").unwrap();
        let v: serde_json::Value = serde_json::from_str(&l).unwrap();
        assert_ne!(v["event"], "error", "{v}");
        if v["event"] == "seeding" {
            break;
        }
        assert!(Instant::now() < deadline, "never seeding");
    }
    // SAFETY: kill(2) on our own child.
    unsafe {
        libc::kill(child.id() as i32, libc::SIGTERM);
    }
    let rest: Vec<serde_json::Value> = lines
        .map(|l| serde_json::from_str(&l.unwrap()).unwrap())
        .collect();
    assert!(child.wait().unwrap().success());
    assert_eq!(
        rest.last().map(|v| v["event"].clone()),
        Some("stopped".into()),
        "{rest:?}"
    );
}

#[test]
fn daemon_says_it_is_ready_and_help_groups_global_options() {
    let tmp = tempfile::tempdir().unwrap();
    let sock = tmp.path().join("ctl.sock");
    let cfg = tmp.path().join("config.toml");
    std::fs::write(&cfg, "").unwrap();
    let mut child = Command::new(BIN)
        .args([
            "--data-dir",
            s(&tmp.path().join("state")),
            "--socket",
            s(&sock),
        ])
        .args([
            "--config",
            s(&cfg),
            "daemon",
            "--no-dht",
            "--listen",
            "127.0.0.1:0",
        ])
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut err = BufReader::new(child.stderr.take().unwrap());
    let mut line = String::new();
    err.read_line(&mut line).unwrap();
    let _ = child.kill();
    let _ = child.wait();
    assert!(
        line.contains("daemon ready") && line.contains(s(&sock)),
        "{line}"
    );

    let help = String::from_utf8(run(&["ls", "--help"]).stdout).unwrap();
    let (own, global) = help
        .split_once("Global options:")
        .expect("a heading of their own");
    assert!(
        global.contains("--data-dir <DIR>") && !own.contains("--data-dir <DIR>"),
        "{help}"
    );

    // `--socket` and `--timeout` are offered only where a daemon is reached.
    for cmd in [
        &["create"][..],
        &["download"],
        &["seed"],
        &["ledger", "serve"],
        &["demo"],
        &["config", "check"],
        &["completions"],
        &["man"],
    ] {
        let help = String::from_utf8(run(&[cmd, &["--help"]].concat()).stdout).unwrap();
        assert!(help.contains("Usage"), "{cmd:?}: {help}");
        assert!(
            !help.contains("--socket") && !help.contains("--timeout"),
            "{cmd:?} offers a daemon connection it ignores:\n{help}"
        );
    }
    for cmd in [
        &["ls"][..],
        &["pause"],
        &["rm"],
        &["wallet", "show"],
        &["tui"],
        &["daemon"],
    ] {
        let help = String::from_utf8(run(&[cmd, &["--help"]].concat()).stdout).unwrap();
        assert!(help.contains("--socket"), "{cmd:?}: {help}");
    }
}

#[test]
fn man_page_has_examples_files_environment_and_negative_amounts_say_so() {
    let man = String::from_utf8(run(&["man"]).stdout).unwrap();
    for section in [".SH EXAMPLES", ".SH FILES", ".SH ENVIRONMENT"] {
        assert!(man.contains(section), "{section} missing");
    }
    // `--param price=-1` is refused as negative, not as "not a number".
    let tmp = tempfile::tempdir().unwrap();
    let cfg = tmp.path().join("c.toml");
    std::fs::write(
        &cfg,
        "[market.buyer]\nstrategy = \"fixed\"\nprice = \"-1\"\n",
    )
    .unwrap();
    let o = run(&["--config", s(&cfg), "config", "check"]);
    let e = stderr(&o);
    assert!(!o.status.success());
    assert!(e.contains("negative") && !e.contains("not a number"), "{e}");
}

#[test]
fn download_json_reports_progress_twice_a_second() {
    let tmp = tempfile::tempdir().unwrap();
    let t = make_torrent(tmp.path(), "p.bin", &[("p.bin", 1_200_000)], 16384);
    let (mut seeder, port) = seed_in_background(
        &tmp.path().join("seed"),
        &t,
        &tmp.path().join("src"),
        &["--limit-up", "600K"],
    );
    let out = Command::new(BIN)
        .args([
            "--data-dir",
            s(&tmp.path().join("leech")),
            "download",
            s(&t),
        ])
        .args([
            "--dir",
            s(&tmp.path().join("dl")),
            "--listen",
            "127.0.0.1:0",
        ])
        .args(["--no-dht", "--json", "--peer", &format!("127.0.0.1:{port}")])
        .output()
        .unwrap();
    let _ = seeder.kill();
    let _ = seeder.wait();
    assert!(out.status.success(), "{}", stderr(&out));
    let events: Vec<serde_json::Value> = String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let progress: Vec<u64> = events
        .iter()
        .filter(|e| e["event"] == "progress")
        .map(|e| {
            assert_eq!(e["total"], 1_200_000, "{e}");
            e["verified"].as_u64().unwrap()
        })
        .collect();
    // About two seconds at 600K/s: several reports, never going back.
    assert!(progress.len() >= 2, "{events:?}");
    assert!(progress.windows(2).all(|w| w[0] <= w[1]), "{progress:?}");
    assert!(
        events.iter().any(|e| e["event"] == "complete"),
        "{events:?}"
    );
}

/// `add http://…/x.torrent`: the daemon fetches it (bounded), instead of taking the URL for a
/// path; a URL that serves junk is one line naming it.
#[test]
fn add_fetches_a_url() {
    use std::io::{Read, Write};
    let tmp = tempfile::tempdir().unwrap();
    let t = make_torrent(tmp.path(), "web.bin", &[("web.bin", 20_000)], 16384);
    let body = std::fs::read(&t).unwrap();
    let server = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = server.local_addr().unwrap().port();
    std::thread::spawn(move || {
        for conn in server.incoming().take(2) {
            let mut c = conn.unwrap();
            let mut req = [0u8; 2048];
            let n = c.read(&mut req).unwrap_or(0);
            let path = String::from_utf8_lossy(&req[..n]).to_string();
            let payload: &[u8] = if path.starts_with("GET /web.torrent") {
                &body
            } else {
                b"this is not a torrent"
            };
            let _ = write!(
                c,
                "HTTP/1.1 200 OK\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
                payload.len()
            );
            let _ = c.write_all(payload);
        }
    });
    let d = Daemon::start(&tmp.path().join("d"), None);
    let url = format!("http://127.0.0.1:{port}/web.torrent");
    let added = d.json(&["add", &url, "--dir", s(&tmp.path().join("src")), "--json"]);
    assert_eq!(added["results"][0]["ok"], true, "{added}");
    assert_eq!(added["results"][0]["name"], "web.bin", "{added}");
    let junk = format!("http://127.0.0.1:{port}/junk.torrent");
    let line = one_error_line(&d.cli(&["add", &junk]));
    assert!(
        line.contains("junk.torrent") && line.contains("not a valid torrent"),
        "{line}"
    );
}

#[test]
fn wallet_output_into_a_closed_pipe_is_quiet() {
    let tmp = tempfile::tempdir().unwrap();
    let dd = tmp.path().join("d");
    let o = run_into_closed_pipe(&["--data-dir", s(&dd), "wallet", "address"]);
    assert!(o.status.success(), "{:?} {}", o.status, stderr(&o));
    assert!(stderr(&o).is_empty(), "{}", stderr(&o));
}

/// A paused torrent's rates read 0 at once (its rate loop stops; the last figures must not
/// stay on screen), in `ls --json` as in the dashboard.
#[test]
fn a_paused_torrent_shows_no_rate() {
    let tmp = tempfile::tempdir().unwrap();
    let t = make_torrent(tmp.path(), "r.bin", &[("r.bin", 4 << 20)], 16384);
    let (mut seeder, port) = seed_in_background(
        &tmp.path().join("seed"),
        &t,
        &tmp.path().join("src"),
        &["--limit-up", "256K"],
    );
    let d = Daemon::start(&tmp.path().join("d"), None);
    let peer = format!("127.0.0.1:{port}");
    d.json(&[
        "add",
        s(&t),
        "--dir",
        s(&tmp.path().join("dl")),
        "--peer",
        &peer,
        "--json",
    ]);
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let ls = d.json(&["ls", "--json"]);
        if ls[0]["down_rate"].as_u64().unwrap_or(0) > 0 {
            break;
        }
        assert!(Instant::now() < deadline, "never a rate: {ls}");
        std::thread::sleep(Duration::from_millis(200));
    }
    d.json(&["pause", "1", "--json"]);
    let ls = d.json(&["ls", "--json"]);
    let _ = seeder.kill();
    let _ = seeder.wait();
    assert_eq!(ls[0]["phase"], "paused", "{ls}");
    assert_eq!(ls[0]["down_rate"], 0, "{ls}");
    assert_eq!(ls[0]["up_rate"], 0, "{ls}");
}
