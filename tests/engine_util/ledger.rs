//! A real `bidtorrent ledger serve` for tests, on loopback, killed on drop; and the ledger
//! and wallet CLI calls the market tests share (mint, audit, a wallet's address).

use std::io::{BufRead, BufReader};
use std::net::{SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;

use super::BIN;
use super::daemon::stderr;

pub struct Ledger {
    pub child: Child,
    pub addr: SocketAddr,
    pub db: PathBuf,
    pub close_grace: u64,
}

impl Drop for Ledger {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Ledger {
    /// A ledger in `db` on `listen` (`127.0.0.1:0` for any port); buyers' close requests
    /// leave sellers `close_grace` seconds to redeem.
    pub fn start(db: &Path, listen: &str, close_grace: u64) -> Ledger {
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            let mut child = Command::new(BIN)
                .args(["ledger", "serve", "--json", "--listen", listen, "--db"])
                .arg(db)
                .args(["--close-grace", &close_grace.to_string()])
                .stdout(Stdio::piped())
                .stderr(Stdio::null())
                .spawn()
                .expect("spawn ledger");
            let mut line = String::new();
            BufReader::new(child.stdout.take().expect("stdout"))
                .read_line(&mut line)
                .expect("ledger line");
            let Ok(v) = serde_json::from_str::<Value>(&line) else {
                // The port of a ledger killed a moment ago may not be free yet.
                let _ = child.kill();
                let _ = child.wait();
                assert!(
                    Instant::now() < deadline,
                    "ledger did not start on {listen}"
                );
                std::thread::sleep(Duration::from_millis(100));
                continue;
            };
            let addr: SocketAddr = v["addr"].as_str().expect("addr").parse().expect("addr");
            let t = Instant::now();
            while TcpStream::connect(addr).is_err() {
                assert!(t.elapsed() < Duration::from_secs(5), "ledger not listening");
                std::thread::sleep(Duration::from_millis(5));
            }
            return Ledger {
                child,
                addr,
                db: db.to_path_buf(),
                close_grace,
            };
        }
    }

    /// kill -9, then the same ledger again on the same address.
    pub fn crash_and_restart(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let again = Ledger::start(&self.db, &self.addr.to_string(), self.close_grace);
        *self = again;
    }

    pub fn mint(&self, account: &str, tokens: &str) {
        let out = Command::new(BIN)
            .args([
                "ledger",
                "mint",
                "--json",
                "--ledger",
                &self.addr.to_string(),
            ])
            .arg("--db")
            .arg(&self.db)
            .args([account, tokens])
            .output()
            .expect("mint");
        assert!(out.status.success(), "mint: {}", stderr(&out));
    }

    /// The ledger's books (`ledger audit --json`): minted, balances, escrowed, ...
    pub fn audit(&self) -> Value {
        let out = Command::new(BIN)
            .args([
                "ledger",
                "audit",
                "--json",
                "--ledger",
                &self.addr.to_string(),
            ])
            .output()
            .expect("audit");
        assert!(out.status.success(), "audit: {}", stderr(&out));
        serde_json::from_slice(&out.stdout).expect("audit json")
    }
}

/// The public key of the wallet in `dir/state`, created now (before a daemon takes it).
pub fn wallet_address(dir: &Path) -> String {
    let out = Command::new(BIN)
        .arg("--data-dir")
        .arg(dir.join("state"))
        .args(["wallet", "address", "--json"])
        .env_remove("BIDTORRENT_LEDGER")
        .output()
        .expect("wallet address");
    assert!(out.status.success(), "wallet address: {}", stderr(&out));
    let v: Value = serde_json::from_slice(&out.stdout).expect("json");
    v["public_key"].as_str().expect("key").to_string()
}

/// A daemon config with the market on at `ledger`, plus `extra` lines.
pub fn market_config(ledger: &SocketAddr, extra: &str) -> String {
    format!("[market]\nenabled = true\nledger = \"{ledger}\"\n{extra}")
}
