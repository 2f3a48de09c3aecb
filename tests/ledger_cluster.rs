//! Two stateless ledger servers on one PostgreSQL database under `ledger bench` load; one is
//! killed with SIGKILL mid-run. The bench's wallets carry on through the other, then settle
//! every channel; at the end each seller holds exactly its channels' highest vouchers (no
//! voucher lost or counted twice), each buyer exactly the rest, and the books balance to
//! the micro-token — checked by the bench and again straight from the database.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // tests fail loudly

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

/// Runs `ledger serve` expecting it to refuse to start; returns its stderr.
fn refused_serve(db: &Path, url: &str) -> String {
    let o = Command::new(BIN)
        .args([
            "ledger",
            "serve",
            "--listen",
            "127.0.0.1:0",
            "--store",
            url,
            "--db",
        ])
        .arg(db)
        .stdin(Stdio::null())
        .output()
        .unwrap();
    assert!(!o.status.success(), "serve started on {url}");
    String::from_utf8_lossy(&o.stderr).to_string()
}

#[test]
fn two_servers_one_killed_books_balance() {
    let Some(cluster) = pg::PgCluster::start(false) else {
        return;
    };
    let url = cluster.fresh_db();
    let tmp = tempfile::tempdir().unwrap();
    let db = tmp.path().join("ledger");
    // An unprepared database is refused with what to do about it.
    let o = refused_serve(&db, &url);
    assert!(o.contains("ledger migrate"), "{o}");
    let o = Command::new(BIN)
        .args(["ledger", "migrate", "--store", &url])
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));

    let (mut a, a_addr) = serve(&db, &url);
    // Same key directory: the same ledger, served twice.
    let (_b, b_addr) = serve(&db, &url);
    // Another ledger's keys cannot serve this database.
    let o = refused_serve(&tmp.path().join("other"), &url);
    assert!(o.contains("belongs to ledger"), "{o}");

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

/// Concurrent requests from different accounts that touch the same rows, spread over two
/// servers on one database: 24 sellers close their channels with one buyer at once (24
/// concurrent refunds into one account), while the buyer asks to close them too (the same
/// channel rows). Serialised by PostgreSQL, nothing is lost: every seller holds exactly its
/// voucher, the buyer exactly the rest, the books balance.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_settlements_on_shared_rows_lose_nothing() {
    use bidtorrent::wallet::keys::{generate_key, now_secs};
    use bidtorrent::wallet::ledger::store::postgres;
    use bidtorrent::wallet::ledger::{Action, LedgerConfig, Outcome};
    use bidtorrent::wallet::{Amount, EmbeddedLedger, PublicKey, Voucher};

    let Some((_cluster, url)) = tokio::task::spawn_blocking(|| {
        let c = pg::PgCluster::start(false)?;
        let url = c.fresh_db();
        postgres::migrate(&url).unwrap();
        Some((c, url))
    })
    .await
    .unwrap() else {
        return;
    };
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("keys");
    let config = || LedgerConfig {
        rate_per_key: None,
        ..LedgerConfig::default()
    };
    let (one, _) = EmbeddedLedger::start_on(&dir, Some(&url), config())
        .await
        .unwrap();
    let (two, _) = EmbeddedLedger::start_on(&dir, Some(&url), config())
        .await
        .unwrap();
    assert_eq!(one.id(), two.id());
    let id = one.id();
    let buyer = generate_key();
    let bpk = PublicKey::of(&buyer);
    const N: u64 = 24;
    one.mint(bpk, Amount(N * 100)).await.unwrap();
    let sellers: Vec<_> = (0..N).map(|_| generate_key()).collect();
    let mut certs = Vec::new();
    let c1 = one.client();
    for s in &sellers {
        let o = c1
            .signed(
                &buyer,
                Action::Open {
                    seller: PublicKey::of(s),
                    cap: Amount(100),
                    expiry: now_secs() + 600,
                },
            )
            .await
            .unwrap();
        let Outcome::Opened { certificate } = o else {
            panic!("{o:?}")
        };
        certs.push(certificate);
    }
    let mut tasks = Vec::new();
    for (i, (s, cert)) in sellers.iter().zip(&certs).enumerate() {
        let client = if i % 2 == 0 {
            one.client()
        } else {
            two.client()
        };
        let v = Voucher::sign(&buyer, id, cert.channel, PublicKey::of(s), 1, Amount(30));
        let (s, channel) = (s.clone(), cert.channel);
        tasks.push(tokio::spawn(async move {
            client
                .signed(
                    &s,
                    Action::Close {
                        channel,
                        voucher: Some(v),
                    },
                )
                .await
        }));
    }
    // The buyer's own close requests race the sellers' on the same channel rows.
    let buyer_client = two.client();
    let channels: Vec<_> = certs.iter().map(|c| c.channel).collect();
    let b = buyer.clone();
    let buyer_task = tokio::spawn(async move {
        for channel in channels {
            let _ = buyer_client
                .signed(
                    &b,
                    Action::Close {
                        channel,
                        voucher: None,
                    },
                )
                .await;
        }
    });
    for t in tasks {
        t.await.unwrap().unwrap();
    }
    buyer_task.await.unwrap();

    let c2 = two.client();
    for s in &sellers {
        assert_eq!(c2.balance(s).await.unwrap().0, Amount(30));
    }
    assert_eq!(c2.balance(&buyer).await.unwrap().0, Amount(N * 70));
    let a = c2.audit().await.unwrap();
    assert!(a.consistent, "{a:?}");
    assert_eq!(a.escrowed, Amount::ZERO);
    assert_eq!(a.minted, Amount(N * 100));
}
