//! The Transmission door (`[rpc.http]`) against real clients on loopback: Debian's
//! `transmission-remote` 3.00, a replay of the requests Sonarr's Transmission client sends,
//! the gate (credentials, session id, Host), and a load of 1,000 requests from 50 clients.
//! Daemons run with `--no-dht` (the helper); the only peer is a local `bidtorrent seed`.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod engine_util;

use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::Path;
use std::process::{Command, Output};
use std::time::{Duration, Instant};

use engine_util::daemon::{Daemon, stderr};
use engine_util::{Bt, make_torrent, s};
use serde_json::{Value, json};

const USER: &str = "bt";
const PASS: &str = "s3cret";

fn free_port() -> u16 {
    let l = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    l.local_addr().expect("addr").port()
}

/// A daemon with the Transmission door on a free loopback port; `extra` goes into
/// `[rpc.http]`.
fn daemon_with_rpc(dir: &Path, extra: &str) -> (Daemon, u16) {
    let port = free_port();
    let dl = dir.join("dl");
    std::fs::create_dir_all(&dl).expect("mkdir");
    let cfg = format!(
        "download_dir = \"{}\"\n[rpc.http]\nlisten = \"127.0.0.1:{port}\"\nusername = \"{USER}\"\npassword = \"{PASS}\"\n{extra}\n",
        dl.display()
    );
    let d = Daemon::start(dir, Some(&cfg));
    let deadline = Instant::now() + Duration::from_secs(10);
    while TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(Instant::now() < deadline, "the RPC port never opened");
        std::thread::sleep(Duration::from_millis(20));
    }
    (d, port)
}

/// One HTTP response.
#[derive(Debug)]
struct Reply {
    status: u16,
    headers: Vec<(String, String)>,
    body: Vec<u8>,
}

impl Reply {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    fn json(&self) -> Value {
        serde_json::from_slice(&self.body)
            .unwrap_or_else(|e| panic!("{e}: {}", String::from_utf8_lossy(&self.body)))
    }
}

/// A kept-alive HTTP/1.1 connection speaking the Transmission handshake as clients do.
struct Client {
    stream: TcpStream,
    port: u16,
    auth: Option<String>,
    session: Option<String>,
    buf: Vec<u8>,
}

fn basic(user: &str, pass: &str) -> String {
    format!(
        "Basic {}",
        bidtorrent::rpc::controller::base64_encode(format!("{user}:{pass}").as_bytes())
    )
}

impl Client {
    fn new(port: u16, auth: Option<String>) -> Client {
        let stream = TcpStream::connect(("127.0.0.1", port)).expect("connect");
        stream
            .set_read_timeout(Some(Duration::from_secs(30)))
            .expect("timeout");
        Client {
            stream,
            port,
            auth,
            session: None,
            buf: Vec::new(),
        }
    }

    fn raw(&mut self, method: &str, host: &str, body: &[u8]) -> Reply {
        let mut req = format!(
            "{method} /transmission/rpc HTTP/1.1\r\nHost: {host}\r\nContent-Type: application/json\r\nContent-Length: {}\r\n",
            body.len()
        );
        if let Some(a) = &self.auth {
            req.push_str(&format!("Authorization: {a}\r\n"));
        }
        if let Some(sid) = &self.session {
            req.push_str(&format!("X-Transmission-Session-Id: {sid}\r\n"));
        }
        req.push_str("\r\n");
        self.stream.write_all(req.as_bytes()).expect("write");
        self.stream.write_all(body).expect("write body");
        self.read_reply()
    }

    fn read_reply(&mut self) -> Reply {
        let mut chunk = [0u8; 8192];
        let end = loop {
            if let Some(i) = self.buf.windows(4).position(|w| w == b"\r\n\r\n") {
                break i + 4;
            }
            let n = self.stream.read(&mut chunk).expect("read");
            assert!(n > 0, "connection closed before a reply");
            self.buf.extend_from_slice(&chunk[..n]);
        };
        let head = String::from_utf8(self.buf[..end].to_vec()).expect("utf8 head");
        let mut lines = head.split("\r\n");
        let status: u16 = lines.next().expect("status line")[9..12]
            .parse()
            .expect("status");
        let headers: Vec<(String, String)> = lines
            .filter_map(|l| l.split_once(':'))
            .map(|(n, v)| (n.to_string(), v.trim().to_string()))
            .collect();
        let len: usize = headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case("content-length"))
            .map(|(_, v)| v.parse().expect("length"))
            .unwrap_or(0);
        while self.buf.len() < end + len {
            let n = self.stream.read(&mut chunk).expect("read body");
            assert!(n > 0, "connection closed in a body");
            self.buf.extend_from_slice(&chunk[..n]);
        }
        let body = self.buf[end..end + len].to_vec();
        self.buf.drain(..end + len);
        Reply {
            status,
            headers,
            body,
        }
    }

    /// A call with the 409 handshake clients do: on 409, take the id and send again.
    fn call(&mut self, method: &str, args: Value) -> Value {
        let body = serde_json::to_vec(&json!({"method": method, "arguments": args, "tag": 7}))
            .expect("json");
        let host = format!("127.0.0.1:{}", self.port);
        let mut r = self.raw("POST", &host, &body);
        if r.status == 409 {
            self.session = Some(r.header("X-Transmission-Session-Id").expect("id").into());
            r = self.raw("POST", &host, &body);
        }
        assert_eq!(
            r.status,
            200,
            "{method}: {}",
            String::from_utf8_lossy(&r.body)
        );
        let v = r.json();
        assert_eq!(v["tag"], 7, "the tag comes back");
        v
    }

    fn ok(&mut self, method: &str, args: Value) -> Value {
        let v = self.call(method, args);
        assert_eq!(v["result"], "success", "{method}: {v}");
        v["arguments"].clone()
    }
}

fn remote(port: u16, auth: &str, args: &[&str]) -> Output {
    Command::new("transmission-remote")
        .arg(format!("127.0.0.1:{port}"))
        .args(["--auth", auth])
        .args(args)
        .output()
        .expect("transmission-remote (Debian's transmission-cli) must be installed")
}

fn remote_ok(port: u16, args: &[&str]) -> String {
    let out = remote(port, &format!("{USER}:{PASS}"), args);
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        out.status.success() && !String::from_utf8_lossy(&out.stderr).contains("Error"),
        "transmission-remote {args:?}: {}\n{text}",
        stderr(&out)
    );
    text
}

fn info_hash(torrent: &Path) -> String {
    let bytes = std::fs::read(torrent).expect("read torrent");
    bidtorrent::engine::metainfo::Metainfo::from_bytes(&bytes)
        .expect("torrent")
        .info_hash
        .to_hex()
}

fn wait_until(what: &str, within: Duration, mut f: impl FnMut() -> bool) {
    let deadline = Instant::now() + within;
    while !f() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(200));
    }
}

#[test]
fn gate_refuses_bad_credentials_missing_session_and_foreign_hosts() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let (_d, port) = daemon_with_rpc(tmp.path(), "");
    let body = br#"{"method":"session-get"}"#;
    let host = format!("127.0.0.1:{port}");

    // No session id: 409 carrying one, and never X-Transmission-Rpc-Version (a 4.1 client
    // would switch to JSON-RPC 2.0, which this door does not speak).
    let mut c = Client::new(port, Some(basic(USER, PASS)));
    let r = c.raw("POST", &host, body);
    assert_eq!(r.status, 409);
    let sid = r.header("X-Transmission-Session-Id").expect("session id");
    assert!(sid.len() >= 32, "{sid}");
    assert!(r.header("X-Transmission-Rpc-Version").is_none());
    // A wrong id is the same as none.
    c.session = Some("nope".into());
    assert_eq!(c.raw("POST", &host, body).status, 409);
    c.session = Some(sid.to_string());
    assert_eq!(c.raw("POST", &host, body).status, 200);
    // DNS rebinding: a foreign name in Host is refused even with everything else right.
    assert_eq!(c.raw("POST", "evil.example:9091", body).status, 421);
    assert_eq!(
        c.raw("POST", &format!("localhost:{port}"), body).status,
        200
    );
    assert_eq!(c.raw("GET", &host, b"").status, 405);

    // Wrong or missing credentials: 401 with a Basic challenge, before the session check.
    for auth in [Some(basic(USER, "wrong")), Some(basic("x", PASS)), None] {
        let mut c = Client::new(port, auth);
        let r = c.raw("POST", &host, body);
        assert_eq!(r.status, 401);
        assert!(
            r.header("WWW-Authenticate")
                .expect("challenge")
                .starts_with("Basic")
        );
    }
    // transmission-remote with a wrong password fails and says so.
    let out = remote(port, &format!("{USER}:wrong"), &["-l"]);
    let said = format!("{}{}", stderr(&out), String::from_utf8_lossy(&out.stdout));
    assert!(
        !out.status.success() || said.contains("401") || said.contains("nauthorized"),
        "wrong credentials must be refused: {said}"
    );
    assert!(
        !said.contains("ID     Done"),
        "no list with wrong credentials: {said}"
    );

    // Bounds: a body over max_body is refused without being read.
    let mut c = Client::new(port, Some(basic(USER, PASS)));
    c.stream
        .write_all(
            format!(
                "POST /transmission/rpc HTTP/1.1\r\nHost: {host}\r\nContent-Length: {}\r\n\r\n",
                64 << 20
            )
            .as_bytes(),
        )
        .expect("write");
    assert_eq!(c.read_reply().status, 413);
    // A refused client never gets a body read: 401 comes back on the head alone, so nobody
    // without the password makes the daemon buffer megabytes.
    let mut c = Client::new(port, None);
    c.stream
        .set_read_timeout(Some(Duration::from_secs(5)))
        .expect("timeout");
    c.stream
        .write_all(
            format!(
                "POST /transmission/rpc HTTP/1.1\r\nHost: {host}\r\nContent-Length: {}\r\n\r\n",
                8 << 20
            )
            .as_bytes(),
        )
        .expect("write");
    let r = c.read_reply();
    assert_eq!(r.status, 401);
    assert_eq!(r.header("Connection"), Some("close"));
    // Another path is not served.
    let mut c = Client::new(port, Some(basic(USER, PASS)));
    let mut raw = Vec::new();
    c.stream
        .write_all(
            format!("GET /other HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n").as_bytes(),
        )
        .expect("write");
    c.stream.read_to_end(&mut raw).expect("read");
    assert!(
        raw.starts_with(b"HTTP/1.1 404"),
        "{}",
        String::from_utf8_lossy(&raw)
    );
}

#[test]
fn transmission_remote_drives_the_daemon() {
    let tmp = tempfile::tempdir().expect("tempdir");
    // A: complete on disk already (checked, then seeding). B: fetched from a local seeder.
    let a = make_torrent(
        &tmp.path().join("a"),
        "album",
        &[("one.flac", 300_000), ("two.flac", 200_000)],
        32 * 1024,
    );
    let b_size = 4 << 20;
    let b = make_torrent(
        &tmp.path().join("b"),
        "b.bin",
        &[("b.bin", b_size)],
        64 * 1024,
    );
    let mut seeder = Bt::seed(&tmp.path().join("b"), &b, &tmp.path().join("b").join("src"));
    let seed_port = seeder.port();
    let (daemon, port) = daemon_with_rpc(&tmp.path().join("d"), "");

    // Add a .torrent (sent as base64 metainfo) into the directory holding its data.
    let a_dir = tmp.path().join("a").join("src");
    let out = remote_ok(port, &["-a", s(&a), "-w", s(&a_dir)]);
    assert!(out.contains("success"), "{out}");
    wait_until("A seeding", Duration::from_secs(20), || {
        daemon.ls()[0]["phase"] == "seeding"
    });
    // Adding it again is a duplicate, still a success for the client.
    let out = remote_ok(port, &["-a", s(&a), "-w", s(&a_dir)]);
    assert!(
        out.contains("duplicate") || out.contains("success"),
        "{out}"
    );
    assert_eq!(daemon.ls().len(), 1);

    // A session limit first, so B is still downloading while its peers are listed.
    remote_ok(port, &["-d", "400"]);
    let st = daemon.json(&["status", "--json"]);
    assert_eq!(st["down_limit"], 400_000, "{st}");
    let magnet = format!(
        "magnet:?xt=urn:btih:{}&dn=b.bin&x.pe=127.0.0.1:{seed_port}",
        info_hash(&b)
    );
    let out = remote_ok(port, &["-a", &magnet]);
    assert!(out.contains("success"), "{out}");

    // -l: both rows with Transmission's columns and states.
    let list = remote_ok(port, &["-l"]);
    assert!(
        list.contains("ID") && list.contains("Done") && list.contains("Sum:"),
        "{list}"
    );
    let row_a = list
        .lines()
        .find(|l| l.contains("album"))
        .expect("album row");
    assert!(row_a.contains("100%"), "{list}");
    assert!(
        row_a.contains("Seeding") || row_a.contains("Idle"),
        "{list}"
    );
    let row_b = list.lines().find(|l| l.contains("b.bin")).expect("b row");
    assert!(
        !row_b.contains("100%"),
        "B is limited, not done yet: {list}"
    );

    // -pi: the seeder, while B downloads.
    let mut peers = String::new();
    wait_until("the seeder in -pi", Duration::from_secs(20), || {
        peers = remote_ok(port, &["-t", "2", "-pi"]);
        peers.contains("127.0.0.1")
    });
    assert!(
        peers.contains("Address") && peers.contains("Client"),
        "{peers}"
    );

    // -i and -f on A.
    let info = remote_ok(port, &["-t", "1", "-i"]);
    for want in [
        "Name: album",
        &format!("Hash: {}", info_hash(&a)),
        "Percent Done: 100%",
        &format!("Location: {}", a_dir.display()),
    ] {
        assert!(info.contains(want), "-i lacks {want:?}:\n{info}");
    }
    let files = remote_ok(port, &["-t", "1", "-f"]);
    assert!(files.contains("album (2 files)"), "{files}");
    assert!(
        files.contains("album/one.flac") && files.contains("album/two.flac"),
        "{files}"
    );
    assert!(files.contains("100%"), "{files}");

    // Stop, start, verify, a torrent limit.
    remote_ok(port, &["-t", "1", "-S"]);
    assert_eq!(daemon.ls()[0]["paused"], true);
    assert!(remote_ok(port, &["-l"]).contains("Stopped"));
    remote_ok(port, &["-t", "1", "-s"]);
    assert_eq!(daemon.ls()[0]["paused"], false);
    remote_ok(port, &["-t", "1", "-v"]);
    wait_until("A verified and seeding", Duration::from_secs(20), || {
        let t = &daemon.ls()[0];
        t["phase"] == "seeding" && t["have_pieces"] == t["num_pieces"]
    });
    remote_ok(port, &["-t", "1", "-u", "100"]);
    assert_eq!(daemon.ls()[0]["up_limit"], 100_000);

    // Lift the session limit: B completes, byte for byte.
    remote_ok(port, &["-D"]);
    wait_until("B complete", Duration::from_secs(60), || {
        daemon.ls()[1]["left_bytes"] == 0
    });
    let got = std::fs::read(tmp.path().join("d").join("dl").join("b.bin")).expect("B on disk");
    let want = std::fs::read(tmp.path().join("b").join("src").join("b.bin")).expect("source");
    assert_eq!(got.len(), b_size);
    assert!(got == want, "B's bytes differ from the seeder's");
    let row_b = remote_ok(port, &["-l"])
        .lines()
        .find(|l| l.contains("b.bin"))
        .expect("b row")
        .to_string();
    assert!(row_b.contains("100%"), "{row_b}");

    // Remove B with its data.
    remote_ok(port, &["-t", "2", "--remove-and-delete"]);
    assert_eq!(daemon.ls().len(), 1);
    assert!(
        !tmp.path().join("d").join("dl").join("b.bin").exists(),
        "--remove-and-delete leaves no data"
    );
    seeder.terminate();
}

/// The requests Sonarr's TransmissionProxy sends, in its order, with every field it reads
/// checked for presence and type.
#[test]
fn sonarr_request_sequence() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let t = make_torrent(
        &tmp.path().join("s"),
        "show.mkv",
        &[("show.mkv", 1 << 20)],
        64 * 1024,
    );
    let mut seeder = Bt::seed(&tmp.path().join("s"), &t, &tmp.path().join("s").join("src"));
    let seed_port = seeder.port();
    let (daemon, port) = daemon_with_rpc(&tmp.path().join("d"), "");
    let host = format!("127.0.0.1:{port}");
    let mut c = Client::new(port, Some(basic(USER, PASS)));

    // 1. A bare call: Sonarr expects exactly 409 here (anything else reads as an auth problem).
    let r = c.raw("POST", &host, br#"{"method":"session-get"}"#);
    assert_eq!(r.status, 409);
    c.session = Some(r.header("X-Transmission-Session-Id").expect("id").into());

    // 2. session-get: the version's first number must be at least 2.40.
    let sg = c.ok("session-get", json!({}));
    let version = sg["version"].as_str().expect("version");
    let first: f64 = version
        .split_whitespace()
        .next()
        .and_then(|v| {
            let mut p = v.split('.');
            Some(format!("{}.{}", p.next()?, p.next()?))
        })
        .and_then(|v| v.parse().ok())
        .expect("a bare number first");
    assert!(first >= 2.40, "{version}");
    assert_eq!(sg["rpc-version"], 17);
    assert!(sg["rpc-version-minimum"].as_i64().expect("minimum") <= 17);
    assert!(sg["download-dir"].is_string());
    assert!(sg["seedRatioLimit"].is_number() && sg["seedRatioLimited"].is_boolean());
    assert!(sg["idle-seeding-limit"].is_number() && sg["idle-seeding-limit-enabled"].is_boolean());

    // 3. torrent-add with a label (Sonarr's category) into its download dir.
    let dir = tmp.path().join("tv");
    let magnet = format!(
        "magnet:?xt=urn:btih:{}&dn=show.mkv&x.pe=127.0.0.1:{seed_port}",
        info_hash(&t)
    );
    let added = c.ok(
        "torrent-add",
        json!({"filename": magnet, "download-dir": s(&dir), "paused": false, "labels": ["tv-sonarr"]}),
    );
    let hash = added["torrent-added"]["hashString"].as_str().expect("hash");
    assert_eq!(hash, info_hash(&t));
    let id = added["torrent-added"]["id"].as_u64().expect("id");
    assert!(id > 0);
    // Sonarr then sends the indexer's seed criteria by hash (here: a ratio reached at once,
    // so the torrent stops when complete and Sonarr sees isFinished).
    c.ok(
        "torrent-set",
        json!({"ids": [hash], "seedRatioLimit": 0.0, "seedRatioMode": 1}),
    );

    // 4. torrent-get polling with Sonarr's fields until finished.
    let fields = [
        "id",
        "hashString",
        "name",
        "downloadDir",
        "totalSize",
        "leftUntilDone",
        "isFinished",
        "eta",
        "status",
        "secondsDownloading",
        "secondsSeeding",
        "errorString",
        "uploadedEver",
        "downloadedEver",
        "seedRatioLimit",
        "seedRatioMode",
        "seedIdleLimit",
        "seedIdleMode",
        "fileCount",
        "labels",
    ];
    let mut last = Value::Null;
    wait_until("isFinished", Duration::from_secs(60), || {
        let got = c.ok("torrent-get", json!({"fields": fields}));
        let ts = got["torrents"].as_array().expect("torrents");
        assert_eq!(ts.len(), 1, "{got}");
        last = ts[0].clone();
        last["isFinished"] == true
    });
    let tor = &last;
    for f in fields {
        assert!(tor.get(f).is_some(), "torrent-get lacks {f}: {tor}");
    }
    for f in [
        "id",
        "totalSize",
        "leftUntilDone",
        "eta",
        "status",
        "secondsDownloading",
        "secondsSeeding",
        "uploadedEver",
        "downloadedEver",
        "seedRatioMode",
        "seedIdleLimit",
        "seedIdleMode",
        "fileCount",
    ] {
        assert!(
            tor[f].is_i64() || tor[f].is_u64(),
            "{f} must be an integer: {tor}"
        );
    }
    assert_eq!(tor["hashString"], hash);
    assert_eq!(tor["name"], "show.mkv");
    assert_eq!(tor["downloadDir"], s(&dir));
    assert_eq!(tor["totalSize"], 1 << 20);
    assert_eq!(tor["leftUntilDone"], 0);
    assert_eq!(tor["status"], 0, "stopped by its seeding rule");
    assert_eq!(tor["errorString"], "");
    assert_eq!(tor["downloadedEver"], 1 << 20);
    assert_eq!(tor["seedRatioMode"], 1);
    assert!(tor["seedRatioLimit"].is_number());
    assert_eq!(tor["fileCount"], 1);
    assert_eq!(tor["labels"], json!(["tv-sonarr"]));
    // Recorded: the stop and the label survive in the session.
    let ls = daemon.ls();
    assert_eq!(ls[0]["labels"], json!(["tv-sonarr"]));
    assert!(
        ls[0]["seed_limit"]
            .as_str()
            .expect("recorded")
            .contains("stopped"),
        "{}",
        ls[0]
    );
    let bytes = std::fs::read(dir.join("show.mkv")).expect("downloaded");
    assert!(bytes == std::fs::read(tmp.path().join("s/src/show.mkv")).expect("src"));

    // 5. torrent-remove (Sonarr keeps the data it imported).
    c.ok(
        "torrent-remove",
        json!({"ids": [hash], "delete-local-data": false}),
    );
    let got = c.ok("torrent-get", json!({"fields": ["id"]}));
    assert_eq!(got["torrents"], json!([]));
    assert!(dir.join("show.mkv").exists(), "data kept");
    seeder.terminate();
}

/// Labels and seeding rules from the CLI and Transmission's torrent-set land in the same
/// record, and survive a restart.
#[test]
fn labels_and_seed_rules_persist_across_both_doors() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let t = make_torrent(
        &tmp.path().join("l"),
        "l.bin",
        &[("l.bin", 100_000)],
        16 * 1024,
    );
    let (mut daemon, port) = daemon_with_rpc(&tmp.path().join("d"), "");
    let src = tmp.path().join("l").join("src");
    let out = daemon.cli(&[
        "add",
        s(&t),
        "--dir",
        s(&src),
        "--label",
        "linux",
        "--label",
        "iso",
        "--seed-ratio",
        "1.5",
    ]);
    assert!(out.status.success(), "{}", stderr(&out));
    let ls = daemon.ls();
    assert_eq!(ls[0]["labels"], json!(["linux", "iso"]));
    assert_eq!(ls[0]["seed"]["ratio"], 1.5);
    assert_eq!(ls[0]["seed"]["ratio_mode"], "single");
    // ls --label filters.
    let out = daemon.cli(&["ls", "--label", "iso"]);
    assert!(String::from_utf8_lossy(&out.stdout).contains("l.bin"));
    let out = daemon.cli(&["ls", "--label", "tv"]);
    assert!(!String::from_utf8_lossy(&out.stdout).contains("l.bin"));

    let mut c = Client::new(port, Some(basic(USER, PASS)));
    c.ok(
        "torrent-set",
        json!({"ids": [1], "labels": ["tv"], "seedIdleLimit": 30, "seedIdleMode": 1, "seedRatioMode": 2}),
    );
    let got = c.ok(
        "torrent-get",
        json!({"ids": 1, "fields": ["labels", "seedRatioMode", "seedIdleLimit", "seedIdleMode"]}),
    );
    assert_eq!(
        got["torrents"][0],
        json!({"labels": ["tv"], "seedRatioMode": 2, "seedIdleLimit": 30, "seedIdleMode": 1})
    );
    // Session-wide rules through session-set.
    c.ok(
        "session-set",
        json!({"seedRatioLimit": 3.0, "seedRatioLimited": true}),
    );
    assert_eq!(
        c.ok("session-get", json!({"fields": ["seedRatioLimit"]}))["seedRatioLimit"],
        3.0
    );
    // A bad label is one clear error, not a crash.
    let v = c.call("torrent-set", json!({"ids": [1], "labels": ["a,b"]}));
    assert!(
        v["result"].as_str().expect("result").contains("comma"),
        "{v}"
    );

    let out = daemon.cli(&["label", "1", "--clear"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let out = daemon.cli(&["label", "1", "keep"]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(daemon.terminate().success());
    let again = Daemon::start(&tmp.path().join("d"), None);
    let ls = again.ls();
    assert_eq!(ls[0]["labels"], json!(["keep"]));
    assert_eq!(ls[0]["seed"]["idle_mode"], "single");
    assert_eq!(ls[0]["seed"]["ratio_mode"], "unlimited");
    let g = again.json(&["seeding", "--json"]);
    assert_eq!(g["global"]["ratio"], 3.0, "{g}");
    // The dashboard's row carries the labels (its Label column and `label:` filter read it).
    let summary: bidtorrent::rpc::proto::TorrentSummary =
        serde_json::from_value(ls[0].clone()).expect("summary");
    let row = bidtorrent::tui::control_source::row(&summary);
    assert_eq!(row.label.as_deref(), Some("keep"));
}

/// 1,000 torrent-get requests from 50 concurrent clients (the `-l` fields), bounded in time,
/// while the control socket keeps answering.
#[test]
fn load_1000_requests_from_50_clients() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let (daemon, port) = daemon_with_rpc(tmp.path(), "requests_per_sec = 100000\nburst = 100000\n");
    for i in 0..5 {
        let t = make_torrent(
            &tmp.path().join(format!("t{i}")),
            &format!("t{i}.bin"),
            &[(&format!("t{i}.bin"), 50_000)],
            16 * 1024,
        );
        let out = daemon.cli(&[
            "add",
            s(&t),
            "--dir",
            s(&tmp.path().join(format!("t{i}/src"))),
        ]);
        assert!(out.status.success(), "{}", stderr(&out));
    }
    let fields = json!([
        "error",
        "errorString",
        "eta",
        "id",
        "isFinished",
        "leftUntilDone",
        "name",
        "peersGettingFromUs",
        "peersSendingToUs",
        "rateDownload",
        "rateUpload",
        "sizeWhenDone",
        "status",
        "uploadRatio"
    ]);
    let started = Instant::now();
    let workers: Vec<_> = (0..50)
        .map(|_| {
            let fields = fields.clone();
            std::thread::spawn(move || {
                let mut c = Client::new(port, Some(basic(USER, PASS)));
                let mut lat = Vec::with_capacity(20);
                for _ in 0..20 {
                    let t0 = Instant::now();
                    let got = c.ok("torrent-get", json!({"fields": fields}));
                    lat.push(t0.elapsed());
                    assert_eq!(got["torrents"].as_array().expect("list").len(), 5);
                }
                lat
            })
        })
        .collect();
    // Meanwhile the control socket still answers promptly.
    let mut socket_worst = Duration::ZERO;
    while workers.iter().any(|w| !w.is_finished()) {
        let t0 = Instant::now();
        assert_eq!(daemon.ls().len(), 5);
        socket_worst = socket_worst.max(t0.elapsed());
        assert!(
            started.elapsed() < Duration::from_secs(120),
            "load took too long"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    let mut lat: Vec<Duration> = workers
        .into_iter()
        .flat_map(|w| w.join().expect("worker"))
        .collect();
    let total = started.elapsed();
    lat.sort();
    assert_eq!(lat.len(), 1000);
    let p50 = lat[499];
    let p99 = lat[989];
    eprintln!(
        "load: 1000 requests from 50 clients in {:.2} s ({:.0} req/s); latency p50 {:.1} ms, p99 {:.1} ms, max {:.1} ms; control socket worst {:.1} ms",
        total.as_secs_f64(),
        1000.0 / total.as_secs_f64(),
        p50.as_secs_f64() * 1e3,
        p99.as_secs_f64() * 1e3,
        lat[999].as_secs_f64() * 1e3,
        socket_worst.as_secs_f64() * 1e3
    );
    assert!(
        total < Duration::from_secs(60),
        "1000 requests took {total:?}"
    );
    assert!(p99 < Duration::from_secs(5), "p99 {p99:?}");
    assert!(
        socket_worst < Duration::from_secs(5),
        "control socket stalled {socket_worst:?}"
    );
    // And after the load, a fresh client is served at once.
    let t0 = Instant::now();
    Client::new(port, Some(basic(USER, PASS))).ok("session-stats", json!({}));
    assert!(t0.elapsed() < Duration::from_secs(2));
}

/// Under the default rate bound a flood gets 429s instead of the daemon's attention.
#[test]
fn rate_bound_answers_429() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let (_daemon, port) = daemon_with_rpc(tmp.path(), "requests_per_sec = 5\nburst = 10\n");
    let mut c = Client::new(port, Some(basic(USER, PASS)));
    let host = format!("127.0.0.1:{port}");
    let statuses: Vec<u16> = (0..30)
        .map(|_| {
            c.raw("POST", &host, br#"{"method":"session-stats"}"#)
                .status
        })
        .collect();
    assert!(statuses.contains(&429), "{statuses:?}");
    assert!(
        statuses.iter().take(10).all(|s| *s != 429),
        "the burst is served: {statuses:?}"
    );
}

/// Seeding actions applied by the controller's task: `slow-to` caps the upload and keeps
/// seeding; `keep-while-earning` without a market stops (nothing can be earned). Both are
/// recorded and survive a restart.
#[test]
fn seeding_actions_slow_to_and_keep_while_earning() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let a = make_torrent(
        &tmp.path().join("a"),
        "a.bin",
        &[("a.bin", 100_000)],
        16 * 1024,
    );
    let b = make_torrent(
        &tmp.path().join("b"),
        "b.bin",
        &[("b.bin", 100_000)],
        16 * 1024,
    );
    let (mut daemon, _port) = daemon_with_rpc(&tmp.path().join("d"), "");
    for (t, dir) in [(&a, "a"), (&b, "b")] {
        let out = daemon.cli(&["add", s(t), "--dir", s(&tmp.path().join(dir).join("src"))]);
        assert!(out.status.success(), "{}", stderr(&out));
    }
    let out = daemon.cli(&["seeding", "1", "--ratio", "0", "--action", "slow-to 50K"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let out = daemon.cli(&[
        "seeding",
        "2",
        "--ratio",
        "0",
        "--action",
        "keep-while-earning 0.05",
    ]);
    assert!(out.status.success(), "{}", stderr(&out));
    // A bad action is one clear line.
    let out = daemon.cli(&["seeding", "1", "--action", "slow"]);
    assert!(!out.status.success());
    assert!(stderr(&out).contains("seeding action"), "{}", stderr(&out));

    wait_until("both rules applied", Duration::from_secs(20), || {
        let ls = daemon.ls();
        ls[0]["seed_limit"].is_string() && ls[1]["seed_limit"].is_string()
    });
    let ls = daemon.ls();
    assert_eq!(ls[0]["up_limit"], 50 * 1024, "{}", ls[0]);
    assert_eq!(ls[0]["paused"], false, "slow-to keeps seeding: {}", ls[0]);
    assert!(
        ls[0]["seed_limit"]
            .as_str()
            .expect("note")
            .contains("slowed")
    );
    assert_eq!(ls[1]["paused"], true, "{}", ls[1]);
    assert!(
        ls[1]["seed_limit"]
            .as_str()
            .expect("note")
            .contains("market is off"),
        "{}",
        ls[1]
    );
    assert!(daemon.terminate().success());
    let again = Daemon::start(&tmp.path().join("d"), None);
    let ls = again.ls();
    assert_eq!(ls[0]["up_limit"], 50 * 1024);
    assert_eq!(ls[1]["paused"], true, "a seeding stop survives a restart");
    assert_eq!(ls[1]["seed"]["action"], "keep-while-earning 0.050000");
}

/// Serves `body` once per connection on loopback, as a minimal HTTP/1.0 server would.
fn serve_file(body: Vec<u8>) -> u16 {
    let l = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let port = l.local_addr().expect("addr").port();
    std::thread::spawn(move || {
        for mut conn in l.incoming().map_while(Result::ok) {
            let mut req = [0u8; 4096];
            let _ = conn.read(&mut req);
            let _ = conn.write_all(
                format!(
                    "HTTP/1.0 200 OK\r\nContent-Type: application/x-bittorrent\r\nContent-Length: {}\r\n\r\n",
                    body.len()
                )
                .as_bytes(),
            );
            let _ = conn.write_all(&body);
        }
    });
    port
}

/// torrent-add by URL: the daemon fetches the .torrent itself, within a size bound.
#[test]
fn torrent_add_by_url_is_fetched_and_bounded() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let t = make_torrent(
        &tmp.path().join("u"),
        "u.bin",
        &[("u.bin", 40_000)],
        16 * 1024,
    );
    let (daemon, port) = daemon_with_rpc(&tmp.path().join("d"), "");
    let mut c = Client::new(port, Some(basic(USER, PASS)));
    let web = serve_file(std::fs::read(&t).expect("torrent"));
    let src = tmp.path().join("u").join("src");
    let got = c.ok(
        "torrent-add",
        json!({"filename": format!("http://127.0.0.1:{web}/u.torrent"), "download-dir": s(&src)}),
    );
    assert_eq!(got["torrent-added"]["hashString"], info_hash(&t));
    assert_eq!(daemon.ls()[0]["name"], "u.bin");
    // Too big: refused with one clear reason, nothing added.
    let big = serve_file(vec![b'x'; (10 << 20) + 1]);
    let v = c.call(
        "torrent-add",
        json!({"filename": format!("http://127.0.0.1:{big}/big.torrent")}),
    );
    assert!(
        v["result"]
            .as_str()
            .expect("result")
            .contains("larger than"),
        "{v}"
    );
    // Not a torrent: the controller's reason.
    let junk = serve_file(b"<html>not a torrent</html>".to_vec());
    let v = c.call(
        "torrent-add",
        json!({"filename": format!("http://127.0.0.1:{junk}/x.torrent")}),
    );
    assert!(
        v["result"]
            .as_str()
            .expect("result")
            .contains("not a valid torrent"),
        "{v}"
    );
    assert_eq!(daemon.ls().len(), 1);
}

/// `session-get` reports the `[network]` in force, not fixed values.
#[test]
fn session_get_reports_encryption_and_utp_from_the_config() {
    let tmp = tempfile::tempdir().expect("tempdir");
    for (extra, encryption, utp) in [
        ("", "preferred", true),
        (
            "[network]\nencryption = \"require\"\nutp = false\n",
            "required",
            false,
        ),
        ("[network]\nencryption = \"allow\"\n", "tolerated", true),
    ] {
        let (_daemon, port) = daemon_with_rpc(&tmp.path().join(encryption), extra);
        let mut c = Client::new(port, Some(basic(USER, PASS)));
        let sg = c.ok(
            "session-get",
            json!({"fields": ["encryption", "utp-enabled"]}),
        );
        assert_eq!(sg["encryption"], encryption, "{extra}: {sg}");
        assert_eq!(sg["utp-enabled"], utp, "{extra}: {sg}");
    }
}
