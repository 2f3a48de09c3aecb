//! The clients of the transfer benchmark: each can seed (up and verified before the clock
//! starts) and leech (reporting bytes verified, through its own API, while it downloads).

use std::io::{BufRead, BufReader, Read};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde_json::{Value, json};

use crate::support::*;

const BIN: &str = env!("CARGO_BIN_EXE_bidtorrent");

/// A BitTorrent program in the matrix.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Client {
    Bt,
    Qbt,
    Rqbit,
    Aria2,
    Tr,
    /// libtorrent through Python (Debian's python3-libtorrent): the uTP rows only.
    Lt,
}

/// How the two ends talk: plain TCP, both requiring MSE/PE (RC4), or uTP only.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Flavor {
    Plain,
    Enc,
    Utp,
}

impl Client {
    pub const MATRIX: [Client; 5] = [
        Client::Bt,
        Client::Qbt,
        Client::Rqbit,
        Client::Aria2,
        Client::Tr,
    ];

    pub fn key(self) -> &'static str {
        match self {
            Client::Bt => "bt",
            Client::Qbt => "qbt",
            Client::Rqbit => "rqbit",
            Client::Aria2 => "aria2",
            Client::Tr => "tr",
            Client::Lt => "lt",
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Client::Bt => "bidtorrent",
            Client::Qbt => "qBittorrent",
            Client::Rqbit => "rqbit",
            Client::Aria2 => "aria2",
            Client::Tr => "Transmission",
            Client::Lt => "libtorrent",
        }
    }

    fn from_key(k: &str) -> Option<Client> {
        [
            Client::Bt,
            Client::Qbt,
            Client::Rqbit,
            Client::Aria2,
            Client::Tr,
            Client::Lt,
        ]
        .into_iter()
        .find(|c| c.key() == k)
    }

    /// Why this client cannot run on this machine, if it cannot.
    pub fn missing(self) -> Option<String> {
        let found = |p: &str| Path::new(p).is_file();
        match self {
            Client::Qbt if !found("/usr/bin/qbittorrent-nox") => {
                Some("qbittorrent-nox is not installed (Debian: qbittorrent-nox)".into())
            }
            Client::Rqbit if rqbit_bin().is_none() => Some(
                "no rqbit binary (BENCH_RQBIT, PATH or /work/rqbit/bin/rqbit; `cargo install rqbit`)"
                    .into(),
            ),
            Client::Aria2 if !found("/usr/bin/aria2c") => Some("aria2c is not installed".into()),
            Client::Tr if !found("/usr/bin/transmission-daemon") => {
                Some("transmission-daemon is not installed".into())
            }
            Client::Lt
                if !Command::new("/usr/bin/python3")
                    .args(["-c", "import libtorrent"])
                    .stderr(Stdio::null())
                    .status()
                    .is_ok_and(|s| s.success()) =>
            {
                Some("python3-libtorrent is not installed".into())
            }
            _ => None,
        }
    }
}

/// The rqbit binary: `BENCH_RQBIT`, else `rqbit` on PATH, else /work/rqbit/bin/rqbit.
fn rqbit_bin() -> Option<PathBuf> {
    if let Ok(p) = std::env::var("BENCH_RQBIT") {
        return Some(PathBuf::from(p)).filter(|p| p.is_file());
    }
    let path = std::env::var_os("PATH").unwrap_or_default();
    std::env::split_paths(&path)
        .map(|d| d.join("rqbit"))
        .chain([PathBuf::from("/work/rqbit/bin/rqbit")])
        .find(|p| p.is_file())
}

impl Flavor {
    fn key(self) -> &'static str {
        match self {
            Flavor::Plain => "",
            Flavor::Enc => "-enc",
            Flavor::Utp => "-utp",
        }
    }

    pub fn label(self) -> &'static str {
        match self {
            Flavor::Plain => "",
            Flavor::Enc => " enc",
            Flavor::Utp => " uTP",
        }
    }
}

/// One row of the matrix: who seeds, who leeches, over what.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub struct Pair {
    pub seeder: Client,
    pub leecher: Client,
    pub flavor: Flavor,
}

impl Pair {
    /// `bt-qbt`, `aria2-bt-enc`, `lt-bt-utp`.
    pub fn key(&self) -> String {
        format!(
            "{}-{}{}",
            self.seeder.key(),
            self.leecher.key(),
            self.flavor.key()
        )
    }

    /// `bidtorrent -> qBittorrent`, `aria2 -> bidtorrent enc`.
    pub fn label(&self) -> String {
        format!(
            "{} -> {}{}",
            self.seeder.name(),
            self.leecher.name(),
            self.flavor.label()
        )
    }

    pub fn parse(key: &str) -> Option<Pair> {
        let mut parts = key.split('-');
        let seeder = Client::from_key(parts.next()?)?;
        let leecher = Client::from_key(parts.next()?)?;
        let flavor = match parts.next() {
            None => Flavor::Plain,
            Some("enc") => Flavor::Enc,
            Some("utp") => Flavor::Utp,
            Some(_) => return None,
        };
        parts.next().is_none().then_some(Pair {
            seeder,
            leecher,
            flavor,
        })
    }

    /// Why this pair cannot be run honestly on loopback, if it cannot.
    pub fn unsupported(&self) -> Option<String> {
        let ends = [self.seeder, self.leecher];
        if self.seeder == Client::Tr && self.leecher == Client::Tr {
            return Some(
                "Transmission 3.00 drops tracker peers in 127.0.0.0/8 and cannot be handed a \
                 peer's address, so two of them never meet on loopback"
                    .into(),
            );
        }
        match self.flavor {
            Flavor::Plain if ends.contains(&Client::Lt) => {
                Some("the libtorrent rows are uTP only".into())
            }
            Flavor::Enc
                if ends
                    .iter()
                    .any(|c| !matches!(c, Client::Bt | Client::Aria2)) =>
            {
                Some("encrypted rows are bidtorrent and aria2 only".into())
            }
            Flavor::Utp if ends.iter().any(|c| !matches!(c, Client::Bt | Client::Lt)) => {
                Some("uTP rows are bidtorrent and libtorrent only".into())
            }
            _ => None,
        }
    }
}

/// What every client needs to know about the torrent under test.
pub struct Setup {
    pub root: PathBuf,
    pub torrent: PathBuf,
    /// Holds `payload.bin`, the complete data.
    pub src_dir: PathBuf,
    pub mib: u64,
    pub hash_hex: String,
}

fn s(p: &Path) -> &str {
    p.to_str().expect("utf-8 path")
}

fn loopback(port: u16) -> SocketAddr {
    SocketAddr::from(([127, 0, 0, 1], port))
}

/// An HTTP agent that hands back 4xx/5xx answers instead of failing on them.
fn agent() -> ureq::Agent {
    ureq::Agent::config_builder()
        .http_status_as_error(false)
        .timeout_global(Some(Duration::from_secs(5)))
        .build()
        .into()
}

/// Bytes verified so far and whether the download is complete.
#[derive(Clone, Copy, Debug, Default)]
pub struct Progress {
    pub verified: u64,
    pub done: bool,
}

// ---------------------------------------------------------------------------------------------
// bidtorrent

pub struct BtProc {
    child: Child,
    pub port: u16,
    /// The leecher's progress from its `--json` stdout: latest, and the first with bytes
    /// verified (time it was read, bytes).
    progress: Arc<Mutex<BtSeen>>,
}

/// What a bidtorrent leecher's `--json` stdout said: the latest progress, and the first
/// report with bytes verified (when it was read, bytes).
type BtSeen = (Progress, Option<(Instant, u64)>);

impl Drop for BtProc {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn bt_flavor(f: Flavor) -> &'static [&'static str] {
    match f {
        Flavor::Plain => &[],
        Flavor::Enc => &["--encryption", "require"],
        Flavor::Utp => &["--no-tcp"],
    }
}

impl BtProc {
    /// A bidtorrent seeder, returned once it has verified its data.
    /// `bidtorrent SUB TORRENT --dir DIR` on loopback with JSON events on a pipe, its state in
    /// a fresh `state-ROLE` directory.
    fn spawn(
        b: &Setup,
        f: Flavor,
        (role, sub): (&str, &str),
        dir: &Path,
        extra: &[&str],
        peer: Option<SocketAddr>,
    ) -> std::process::Child {
        let state = fresh_dir(&b.root, &format!("state-{role}"));
        let mut cmd = Command::new(BIN);
        cmd.args(["-q", "--data-dir", s(&state), sub, s(&b.torrent)])
            .args(["--dir", s(dir), "--listen", "127.0.0.1:0", "--json"])
            .args(["--tracker-interval", "2"])
            .args(extra)
            .args(bt_flavor(f));
        if let Some(a) = peer {
            cmd.args(["--peer", &a.to_string()]);
        }
        cmd.stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| panic!("spawn bidtorrent {sub}: {e}"))
    }

    fn seed(b: &Setup, f: Flavor, dial: Option<SocketAddr>) -> BtProc {
        let mut child = Self::spawn(b, f, ("seed", "seed"), &b.src_dir, &[], dial);
        let mut out = BufReader::new(child.stdout.take().expect("stdout"));
        let mut port = 0;
        let mut line = String::new();
        loop {
            line.clear();
            let n = out.read_line(&mut line).expect("read seeder");
            assert!(n > 0, "bidtorrent seeder exited");
            let v: Value = serde_json::from_str(&line).unwrap_or(Value::Null);
            if v["event"] == "listening" {
                port = v["port"].as_u64().unwrap_or(0) as u16;
            }
            if v["event"] == "seeding" {
                break;
            }
        }
        // Keep draining stdout so the seeder never blocks on a full pipe.
        std::thread::spawn(move || {
            let mut sink = [0u8; 4096];
            while matches!(out.read(&mut sink), Ok(n) if n > 0) {}
        });
        BtProc {
            child,
            port,
            progress: Arc::default(),
        }
    }

    fn leech(b: &Setup, f: Flavor, dl: &Path, peer: Option<SocketAddr>) -> BtProc {
        // No DHT: a benchmark on loopback must not reach the public routers.
        let mut child = Self::spawn(b, f, ("dl", "download"), dl, &["--no-dht"], peer);
        let out = BufReader::new(child.stdout.take().expect("stdout"));
        let progress: Arc<Mutex<BtSeen>> = Arc::default();
        let p = progress.clone();
        // Each line is timestamped as it is read: the first `progress` with bytes verified is
        // printed the moment the first piece passes its hash check.
        std::thread::spawn(move || {
            for line in out.lines() {
                let Ok(line) = line else { break };
                let at = Instant::now();
                let v: Value = serde_json::from_str(&line).unwrap_or(Value::Null);
                let mut g = p.lock().unwrap();
                if v["event"] == "progress" {
                    let verified = v["verified"].as_u64().unwrap_or(0);
                    g.0.verified = g.0.verified.max(verified);
                    if verified > 0 && g.1.is_none() {
                        g.1 = Some((at, verified));
                    }
                }
            }
        });
        BtProc {
            child,
            port: 0,
            progress,
        }
    }

    fn poll(&mut self) -> Result<Progress, String> {
        let mut p = self.progress.lock().unwrap().0;
        match self.child.try_wait() {
            // Complete: the process exits 0 once every piece is verified.
            Ok(Some(st)) if st.success() => p.done = true,
            Ok(Some(st)) => return Err(format!("bidtorrent download exited with {st}")),
            _ => {}
        }
        Ok(p)
    }
}

// ---------------------------------------------------------------------------------------------
// qBittorrent

/// qbittorrent-nox with its own profile: WebUI on 127.0.0.1 without login, DHT/LSD/PeX/UPnP
/// off, several connections per IP allowed (every peer is 127.0.0.1), no queueing, ratio or
/// speed limits, TCP only, stats refreshed every 50 ms.
pub struct Qbt {
    proc: Proc,
    web: u16,
    pub port: u16,
    http: ureq::Agent,
    hash: String,
    _profile: tempfile::TempDir,
}

impl Qbt {
    fn start(b: &Setup, save: &Path, seed: bool) -> Qbt {
        std::fs::create_dir_all(save).expect("mkdir save path");
        let profile = tempfile::tempdir().expect("tempdir");
        let conf_dir = profile.path().join("qBittorrent").join("config");
        std::fs::create_dir_all(&conf_dir).expect("mkdir qbt config");
        let (port, web) = (free_port(), free_port());
        let conf = format!(
            "[LegalNotice]\nAccepted=true\n\n\
             [BitTorrent]\n\
             Session\\Port={port}\n\
             Session\\InterfaceAddress=127.0.0.1\n\
             Session\\DHTEnabled=false\n\
             Session\\LSDEnabled=false\n\
             Session\\PeXEnabled=false\n\
             Session\\MultiConnectionsPerIp=true\n\
             Session\\RefreshInterval=50\n\
             Session\\Encryption=0\n\
             Session\\BTProtocol=TCP\n\
             Session\\QueueingSystemEnabled=false\n\
             Session\\GlobalMaxRatio=-1\n\
             Session\\GlobalMaxSeedingMinutes=-1\n\
             Session\\GlobalDLSpeedLimit=0\n\
             Session\\GlobalUPSpeedLimit=0\n\
             Session\\AnonymousModeEnabled=false\n\
             Session\\AddTorrentPaused=false\n\
             Session\\SSRFMitigation=false\n\
             Session\\DefaultSavePath={save}\n\
             Session\\TempPathEnabled=false\n\n\
             [Network]\nPortForwardingEnabled=false\n\n\
             [Preferences]\n\
             WebUI\\Enabled=true\n\
             WebUI\\Address=127.0.0.1\n\
             WebUI\\Port={web}\n\
             WebUI\\LocalHostAuth=false\n\
             WebUI\\CSRFProtection=false\n\
             WebUI\\HostHeaderValidation=false\n\
             WebUI\\UseUPnP=false\n",
            save = save.display()
        );
        std::fs::write(conf_dir.join("qBittorrent.conf"), conf).expect("write qBittorrent.conf");
        let args = vec![
            format!("--profile={}", profile.path().display()),
            format!("--webui-port={web}"),
            format!("--save-path={}", save.display()),
            b.torrent.display().to_string(),
        ];
        let proc = Proc::start(
            "qbittorrent-nox",
            Path::new("/usr/bin/qbittorrent-nox"),
            &args,
            &profile.path().join("out.log"),
        );
        let q = Qbt {
            proc,
            web,
            port,
            http: agent(),
            hash: b.hash_hex.clone(),
            _profile: profile,
        };
        let up = wait_until(Duration::from_secs(30), || {
            q.proc.exit_code().is_some() || q.info().is_some()
        });
        assert!(
            up && q.proc.exit_code().is_none(),
            "qBittorrent did not come up with the torrent\n{}",
            q.proc.log_tail()
        );
        q.check_preferences(port);
        if seed {
            let ok = wait_until(Duration::from_secs(600), || {
                q.info().is_some_and(|t| {
                    matches!(
                        t["state"].as_str(),
                        Some("uploading" | "stalledUP" | "queuedUP" | "forcedUP")
                    )
                })
            });
            assert!(
                ok,
                "qBittorrent seeder never reached uploading\n{:?}",
                q.info()
            );
        }
        q
    }

    fn url(&self, path: &str) -> String {
        format!("http://127.0.0.1:{}{path}", self.web)
    }

    fn get(&self, path: &str) -> Option<Value> {
        let mut r = self.http.get(&self.url(path)).call().ok()?;
        if r.status() != 200 {
            return None;
        }
        serde_json::from_str(&r.body_mut().read_to_string().ok()?).ok()
    }

    /// The torrent's entry in `/api/v2/torrents/info`.
    fn info(&self) -> Option<Value> {
        let v = self.get(&format!("/api/v2/torrents/info?hashes={}", self.hash))?;
        v.as_array()?.first().cloned()
    }

    /// Reads back `/api/v2/app/preferences` and says (once per run) what differs from the
    /// settings written.
    fn check_preferences(&self, port: u16) {
        static SAID: std::sync::Once = std::sync::Once::new();
        let Some(p) = self.get("/api/v2/app/preferences") else {
            println!("  qBittorrent: could not read /api/v2/app/preferences");
            return;
        };
        let want = json!({
            "listen_port": port,
            "current_interface_address": "127.0.0.1",
            "dht": false, "lsd": false, "pex": false, "upnp": false,
            "encryption": 0, "bittorrent_protocol": 1,
            "queueing_enabled": false, "max_ratio_enabled": false,
            "refresh_interval": 50, "dl_limit": 0, "up_limit": 0,
            "web_ui_address": "127.0.0.1", "bypass_local_auth": true,
        });
        let bad: Vec<String> = want
            .as_object()
            .into_iter()
            .flatten()
            .filter(|(k, v)| p.get(k.as_str()) != Some(v))
            .map(|(k, v)| {
                format!(
                    "{k}={} (wanted {v})",
                    p.get(k.as_str()).unwrap_or(&Value::Null)
                )
            })
            .collect();
        if !bad.is_empty() {
            println!("  qBittorrent preferences differ: {}", bad.join(", "));
        } else {
            SAID.call_once(|| println!("  qBittorrent preferences read back as configured"));
        }
    }

    fn add_peer(&self, a: SocketAddr) {
        let r = self
            .http
            .post(&self.url("/api/v2/torrents/addPeers"))
            .send_form([("hashes", self.hash.as_str()), ("peers", &a.to_string())]);
        if !r.is_ok_and(|r| r.status() == 200) {
            println!("  qBittorrent: addPeers {a} failed");
        }
    }

    fn poll(&self) -> Result<Progress, String> {
        if let Some(c) = self.proc.exit_code() {
            return Err(format!("qBittorrent exited with {c}"));
        }
        let Some(t) = self.info() else {
            return Ok(Progress::default());
        };
        let completed = t["completed"].as_u64().unwrap_or(0);
        let size = t["size"].as_u64().unwrap_or(u64::MAX);
        let state = t["state"].as_str().unwrap_or("");
        Ok(Progress {
            verified: completed,
            done: completed >= size && state.ends_with("UP") && state != "checkingUP",
        })
    }
}

// ---------------------------------------------------------------------------------------------
// rqbit

/// `rqbit download` (no persistence by design) with DHT, LSD and UPnP off, listening on
/// 127.0.0.1, its HTTP API on 127.0.0.1 at a free port.
pub struct Rqbit {
    proc: Proc,
    pub port: u16,
    api: u16,
    http: ureq::Agent,
    _logs: tempfile::TempDir,
}

impl Rqbit {
    fn start(b: &Setup, dir: &Path, seed: bool, peer: Option<SocketAddr>) -> Rqbit {
        let bin = rqbit_bin().expect("rqbit binary");
        std::fs::create_dir_all(dir).expect("mkdir rqbit dir");
        let logs = tempfile::tempdir().expect("tempdir");
        let (port, api) = (free_port(), free_port());
        let mut args: Vec<String> = [
            // A finished torrent never re-dials a peer whose connection failed, and
            // Transmission (which must be dialled) can sit on a handshake longer than rqbit's
            // default 10 s.
            "--peer-read-write-timeout",
            "60s",
            "--disable-dht",
            "--disable-dht-persistence",
            "--disable-upnp-port-forward",
            "--disable-lsd",
            "--listen-ip",
            "127.0.0.1",
        ]
        .iter()
        .map(|a| a.to_string())
        .collect();
        args.extend([
            "--listen-port".into(),
            port.to_string(),
            // rqbit 9.1 `download` announces 4240 (the server's default port) otherwise.
            "--announce-port".into(),
            port.to_string(),
            "--http-api-listen-addr".into(),
            loopback(api).to_string(),
            "download".into(),
            "-o".into(),
            dir.display().to_string(),
        ]);
        if seed {
            // Use the data in place (rqbit checks it) instead of refusing to touch it.
            args.push("--overwrite".into());
        }
        if let Some(a) = peer {
            args.extend(["--initial-peers".into(), a.to_string()]);
        }
        args.push(b.torrent.display().to_string());
        let proc = Proc::start("rqbit", &bin, &args, &logs.path().join("out.log"));
        let r = Rqbit {
            proc,
            port,
            api,
            http: agent(),
            _logs: logs,
        };
        let up = wait_until(Duration::from_secs(30), || {
            r.proc.exit_code().is_some() || r.stats().is_some()
        });
        assert!(
            up && r.proc.exit_code().is_none(),
            "rqbit did not come up\n{}",
            r.proc.log_tail()
        );
        if seed {
            let ok = wait_until(Duration::from_secs(600), || {
                r.stats()
                    .is_some_and(|s| s["finished"] == true && s["state"] == "live")
            });
            assert!(
                ok,
                "rqbit seeder never finished its check\n{}",
                r.proc.log_tail()
            );
        }
        r
    }

    fn stats(&self) -> Option<Value> {
        let url = format!("http://127.0.0.1:{}/torrents/0/stats/v1", self.api);
        let mut r = self.http.get(&url).call().ok()?;
        if r.status() != 200 {
            return None;
        }
        serde_json::from_str(&r.body_mut().read_to_string().ok()?).ok()
    }

    fn poll(&self) -> Result<Progress, String> {
        if let Some(c) = self.proc.exit_code() {
            return Err(format!("rqbit exited with {c}\n{}", self.proc.log_tail()));
        }
        let Some(s) = self.stats() else {
            return Ok(Progress::default());
        };
        if let Some(e) = s["error"].as_str() {
            return Err(format!("rqbit: {e}"));
        }
        Ok(Progress {
            verified: s["progress_bytes"].as_u64().unwrap_or(0),
            done: s["finished"] == true,
        })
    }
}

// ---------------------------------------------------------------------------------------------
// aria2

/// The harness's aria2 with JSON-RPC on 127.0.0.1 at a free port, the torrent under a fixed GID.
pub struct Aria2Rpc {
    aria2: Aria2,
    rpc: u16,
    http: ureq::Agent,
}

const ARIA2_GID: &str = "b1d7000000000001";

fn aria2_flavor(f: Flavor) -> Vec<String> {
    match f {
        Flavor::Enc => vec![
            "--bt-require-crypto=true".into(),
            "--bt-min-crypto-level=arc4".into(),
        ],
        _ => Vec::new(),
    }
}

impl Aria2Rpc {
    /// A leecher is handed the seeder `peer` through the harness's fixed-answer tracker (the
    /// torrent's own tracker lists it too).
    fn start(b: &Setup, f: Flavor, dir: &Path, seed: bool, peer: Option<SocketAddr>) -> Self {
        let rpc = free_port();
        let mut args = aria2_flavor(f);
        args.extend([
            "--enable-rpc=true".into(),
            format!("--rpc-listen-port={rpc}"),
            format!("--gid={ARIA2_GID}"),
        ]);
        let aria2 = if seed {
            // aria2 cannot be told a peer's address: a leecher it must dial (Transmission)
            // reaches it through the torrent's tracker, which aria2 asks every 5 s.
            Aria2::seed_with(&b.torrent, &b.src_dir, &args)
        } else {
            Aria2::leech_with(
                &b.torrent,
                dir,
                &peer.into_iter().collect::<Vec<_>>(),
                &args,
            )
        };
        Aria2Rpc {
            aria2,
            rpc,
            http: agent(),
        }
    }

    fn status(&self) -> Option<Value> {
        let body = json!({
            "jsonrpc": "2.0", "id": "bench", "method": "aria2.tellStatus",
            "params": [ARIA2_GID, ["completedLength", "totalLength", "status"]],
        });
        let url = format!("http://127.0.0.1:{}/jsonrpc", self.rpc);
        let mut r = self
            .http
            .post(&url)
            .header("Content-Type", "application/json")
            .send(body.to_string())
            .ok()?;
        let v: Value = serde_json::from_str(&r.body_mut().read_to_string().ok()?).ok()?;
        Some(v["result"].clone()).filter(|r| r.is_object())
    }

    fn poll(&self) -> Result<Progress, String> {
        let num = |v: &Value| v.as_str().and_then(|s| s.parse::<u64>().ok()).unwrap_or(0);
        match (self.status(), self.aria2.exit_code()) {
            (_, Some(0)) => Ok(Progress {
                verified: u64::MAX,
                done: true,
            }),
            (_, Some(c)) => Err(format!("aria2 exited with {c}\n{}", self.aria2.log_tail())),
            (None, None) => Ok(Progress::default()),
            (Some(s), None) => {
                let (have, total) = (num(&s["completedLength"]), num(&s["totalLength"]));
                Ok(Progress {
                    verified: have,
                    done: total > 0 && have == total || s["status"] == "complete",
                })
            }
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Transmission

/// Transmission's session RPC (`torrent-get`), with its X-Transmission-Session-Id handshake.
pub struct TrRpc {
    tr: Transmission,
    http: ureq::Agent,
    session: Mutex<String>,
}

impl TrRpc {
    fn new(tr: Transmission) -> TrRpc {
        TrRpc {
            tr,
            http: agent(),
            session: Mutex::new(String::new()),
        }
    }

    fn torrent(&self) -> Option<Value> {
        let url = format!("http://127.0.0.1:{}/transmission/rpc", self.tr.rpc_port);
        let body = json!({
            "method": "torrent-get",
            "arguments": {"ids": [1], "fields": ["haveValid", "sizeWhenDone", "percentDone", "status"]},
        });
        for _ in 0..2 {
            let id = self.session.lock().unwrap().clone();
            let mut r = self
                .http
                .post(&url)
                .header("X-Transmission-Session-Id", &id)
                .header("Content-Type", "application/json")
                .send(body.to_string())
                .ok()?;
            if r.status() == 409 {
                let id = r
                    .headers()
                    .get("X-Transmission-Session-Id")?
                    .to_str()
                    .ok()?;
                *self.session.lock().unwrap() = id.to_string();
                continue;
            }
            let v: Value = serde_json::from_str(&r.body_mut().read_to_string().ok()?).ok()?;
            return v["arguments"]["torrents"].get(0).cloned();
        }
        None
    }

    fn poll(&self) -> Result<Progress, String> {
        let Some(t) = self.torrent() else {
            return Ok(Progress::default());
        };
        let have = t["haveValid"].as_u64().unwrap_or(0);
        let size = t["sizeWhenDone"].as_u64().unwrap_or(0);
        Ok(Progress {
            verified: have,
            done: size > 0 && have >= size,
        })
    }
}

// ---------------------------------------------------------------------------------------------
// libtorrent (uTP rows)

fn lt_utp(seed: bool, peers: Vec<SocketAddr>) -> LtOptions<'static> {
    LtOptions {
        iface: "127.0.0.1",
        seed,
        encryption: "enabled",
        tcp: false,
        utp: true,
        peers,
    }
}

// ---------------------------------------------------------------------------------------------
// Either role

/// A running seeder, verified and ready.
pub enum Seeder {
    Bt(BtProc),
    Qbt(Qbt),
    Rqbit(Rqbit),
    Aria2(Aria2Rpc),
    Tr(TrRpc),
    Lt(LtPeer),
}

impl Seeder {
    /// Starts `c` seeding the payload and returns once it has verified the data. `dial` is a
    /// leecher it must connect to itself (one that ignores loopback tracker peers).
    pub fn start(c: Client, f: Flavor, b: &Setup, dial: Option<SocketAddr>) -> Seeder {
        match c {
            Client::Bt => Seeder::Bt(BtProc::seed(b, f, dial)),
            Client::Qbt => {
                let q = Qbt::start(b, &b.src_dir, true);
                if let Some(a) = dial {
                    q.add_peer(a);
                }
                Seeder::Qbt(q)
            }
            Client::Rqbit => Seeder::Rqbit(Rqbit::start(b, &b.src_dir, true, dial)),
            Client::Aria2 => Seeder::Aria2(Aria2Rpc::start(b, f, &b.src_dir, true, dial)),
            Client::Tr => {
                let t = Transmission::seed(&b.torrent, &b.src_dir);
                assert!(
                    t.wait_complete(Duration::from_secs(600)),
                    "Transmission seeder did not verify\n{}",
                    t.log_tail()
                );
                Seeder::Tr(TrRpc::new(t))
            }
            Client::Lt => {
                let l = LtPeer::start(
                    &b.torrent,
                    &b.src_dir,
                    lt_utp(true, dial.into_iter().collect()),
                );
                assert!(
                    l.wait_line("seeding", Duration::from_secs(600)),
                    "libtorrent seeder\n{}",
                    l.log_tail()
                );
                Seeder::Lt(l)
            }
        }
    }

    pub fn pid(&self) -> u32 {
        match self {
            Seeder::Bt(p) => p.child.id(),
            Seeder::Qbt(q) => q.proc.pid(),
            Seeder::Rqbit(r) => r.proc.pid(),
            Seeder::Aria2(a) => a.aria2.pid(),
            Seeder::Tr(t) => t.tr.pid(),
            Seeder::Lt(l) => l.pid(),
        }
    }

    pub fn addr(&self) -> SocketAddr {
        loopback(match self {
            Seeder::Bt(p) => p.port,
            Seeder::Qbt(q) => q.port,
            Seeder::Rqbit(r) => r.port,
            Seeder::Aria2(a) => a.aria2.port,
            Seeder::Tr(t) => t.tr.port,
            Seeder::Lt(l) => l.port,
        })
    }
}

/// A running leecher, observed through its own API.
pub enum Leecher {
    Bt(BtProc),
    Qbt(Qbt),
    Rqbit(Rqbit),
    Aria2(Aria2Rpc),
    Tr(TrRpc),
    Lt(LtPeer),
}

impl Leecher {
    /// Starts `c` downloading into `dl`; `peer` is the seeder, when already known.
    pub fn start(c: Client, f: Flavor, b: &Setup, dl: &Path, peer: Option<SocketAddr>) -> Self {
        match c {
            Client::Bt => Leecher::Bt(BtProc::leech(b, f, dl, peer)),
            Client::Qbt => {
                let q = Qbt::start(b, dl, false);
                if let Some(a) = peer {
                    q.add_peer(a);
                }
                Leecher::Qbt(q)
            }
            Client::Rqbit => Leecher::Rqbit(Rqbit::start(b, dl, false, peer)),
            Client::Aria2 => Leecher::Aria2(Aria2Rpc::start(b, f, dl, false, peer)),
            Client::Tr => {
                let t = TrRpc::new(Transmission::leech(&b.torrent, dl));
                // Downloading (status 4) before a seeder dials it: while it still checks the
                // empty directory it is not ready for the peer, and some seeders do not retry.
                let ready = wait_until(Duration::from_secs(60), || {
                    t.torrent().is_some_and(|v| v["status"] == 4)
                });
                assert!(
                    ready,
                    "Transmission leecher never started downloading\n{}",
                    t.tr.log_tail()
                );
                Leecher::Tr(t)
            }
            Client::Lt => Leecher::Lt(LtPeer::start(
                &b.torrent,
                dl,
                lt_utp(false, peer.into_iter().collect()),
            )),
        }
    }

    /// Whether a seeder must be handed this leecher's address: Transmission 3.00 drops tracker
    /// peers in 127.0.0.0/8 (it accepts incoming connections).
    pub fn needs_dial(c: Client) -> bool {
        c == Client::Tr
    }

    pub fn addr(&self) -> SocketAddr {
        loopback(match self {
            Leecher::Bt(p) => p.port,
            Leecher::Qbt(q) => q.port,
            Leecher::Rqbit(r) => r.port,
            Leecher::Aria2(a) => a.aria2.port,
            Leecher::Tr(t) => t.tr.port,
            Leecher::Lt(l) => l.port,
        })
    }

    pub fn pid(&self) -> u32 {
        match self {
            Leecher::Bt(p) => p.child.id(),
            Leecher::Qbt(q) => q.proc.pid(),
            Leecher::Rqbit(r) => r.proc.pid(),
            Leecher::Aria2(a) => a.aria2.pid(),
            Leecher::Tr(t) => t.tr.pid(),
            Leecher::Lt(l) => l.pid(),
        }
    }

    /// Bytes verified now and whether every piece is; an error once the leecher has failed.
    pub fn poll(&mut self) -> Result<Progress, String> {
        match self {
            Leecher::Bt(p) => p.poll(),
            Leecher::Qbt(q) => q.poll(),
            Leecher::Rqbit(r) => r.poll(),
            Leecher::Aria2(a) => a.poll(),
            Leecher::Tr(t) => t.poll(),
            // lt_peer.py reports completion only ("seeding").
            Leecher::Lt(l) => match l.exit_code() {
                Some(c) => Err(format!("libtorrent exited with {c}\n{}", l.log_tail())),
                None => Ok(Progress {
                    verified: 0,
                    done: l.has_line("seeding"),
                }),
            },
        }
    }

    /// The first report of verified bytes, timed where it was read (bidtorrent's stdout),
    /// when the client gives one more exact than the 20 ms poll.
    pub fn first_report(&self) -> Option<(Instant, u64)> {
        match self {
            Leecher::Bt(p) => p.progress.lock().unwrap().1,
            _ => None,
        }
    }
}

/// `root/name`, emptied.
pub fn fresh_dir(root: &Path, name: &str) -> PathBuf {
    let d = root.join(name);
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).expect("mkdir");
    d
}
