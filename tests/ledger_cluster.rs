//! Two stateless ledger servers on one PostgreSQL database under `ledger bench` load; one is
//! killed with SIGKILL mid-run. The bench's wallets carry on through the other, then settle
//! every channel; at the end each seller holds exactly its channels' highest vouchers (no
//! voucher lost or counted twice), each buyer exactly the rest, and the books balance to
//! the micro-token — checked by the bench and again straight from the database.

#[path = "support/postgres.rs"]
mod pg;

use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;

const BIN: &str = env!("CARGO_BIN_EXE_bidtorrent");

struct Server(Child);

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn serve(db: &Path, url: &str) -> (Server, SocketAddr) {
    let mut child = Command::new(BIN)
        .args(["ledger", "serve", "--json", "--listen", "127.0.0.1:0"])
        .args(["--rate-per-key", "0", "--store", url, "--db"])
        .arg(db)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("spawn ledger");
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    let v: Value =
        serde_json::from_str(&line).unwrap_or_else(|e| panic!("ledger said {line:?}: {e}"));
    assert_eq!(v["store"], "postgres");
    (Server(child), v["addr"].as_str().unwrap().parse().unwrap())
}

#[test]
fn two_servers_one_killed_books_balance() {
    let Some(cluster) = pg::PgCluster::start(false) else {
        return;
    };
    let url = cluster.fresh_db();
    let o = Command::new(BIN)
        .args(["ledger", "migrate", "--store", &url])
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));

    let tmp = tempfile::tempdir().unwrap();
    let db = tmp.path().join("ledger");
    let (mut a, a_addr) = serve(&db, &url);
    // Same key directory: the same ledger, served twice.
    let (_b, b_addr) = serve(&db, &url);

    let bench = Command::new(BIN)
        .args([
            "ledger",
            "bench",
            "--json",
            "--clients",
            "6",
            "--seconds",
            "6",
        ])
        .args(["--ledger", &format!("{a_addr},{b_addr}"), "--db"])
        .arg(&db)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    std::thread::sleep(Duration::from_secs(2));
    let t = Instant::now();
    a.0.kill().unwrap();
    a.0.wait().unwrap();
    eprintln!("killed server {a_addr} with SIGKILL");

    let out = bench.wait_with_output().unwrap();
    assert!(
        t.elapsed() < Duration::from_secs(60),
        "bench did not finish after the kill"
    );
    let stdout = String::from_utf8_lossy(&out.stdout);
    eprintln!("bench: {stdout}");
    assert!(
        out.status.success(),
        "bench failed: {}{}",
        stdout,
        String::from_utf8_lossy(&out.stderr)
    );
    let r: Value = serde_json::from_str(stdout.trim()).unwrap();
    assert_eq!(r["books_balance"], true, "{r}");
    assert_eq!(r["problems"].as_array().unwrap().len(), 0, "{r}");
    assert!(r["ops"].as_u64().unwrap() > 50, "hardly any work done: {r}");
    assert_eq!(r["servers"], 2);

    // From the database itself, independently of any server.
    let o = Command::new(BIN)
        .args(["ledger", "audit", "--json", "--store", &url])
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let audit: Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(audit["consistent"], true, "{audit}");
    assert_eq!(audit["minted"], r["audit"]["minted"]);
}
