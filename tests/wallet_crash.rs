//! Crash test (SPEC §8): a real `ledger serve` process, a buyer streaming vouchers with
//! `wallet pay --repeat` into a payment file, and a seller alternating `wallet accept` and
//! `wallet redeem`. Each of the three is killed with SIGKILL at random moments, many times,
//! and restarted. Then everyone settles and we check, to the micro-token: the ledger's books
//! balance, no voucher was lost (the seller ends with exactly what the buyer spent) and none
//! was counted twice (earnings and redemptions sum to exactly that). Runs with the ledger on
//! sled and on PostgreSQL (a temporary cluster; the ledger server is what gets killed).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // tests fail loudly

#[path = "support/postgres.rs"]
mod pg;

use std::io::{BufRead, BufReader};
use std::net::{SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use bidtorrent::wallet::ledger::{Ledger, LedgerConfig};
use bidtorrent::wallet::{Amount, PublicKey};
use serde_json::Value;

const BIN: &str = env!("CARGO_BIN_EXE_bidtorrent");
const CYCLES: usize = 30;
const BUDGET: Duration = Duration::from_secs(45);
const STEP: &str = "0.001";

struct Rng(u64);
impl Rng {
    fn next(&mut self) -> u64 {
        // xorshift64*: reproducible from the printed seed.
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

fn cmd(data: &Path) -> Command {
    let mut c = Command::new(BIN);
    c.arg("--data-dir")
        .arg(data)
        .env_remove("BIDTORRENT_LEDGER");
    c
}

fn run(c: &mut Command) -> Output {
    c.stdin(Stdio::null()).output().expect("spawn bidtorrent")
}

fn ok_json(c: &mut Command) -> Value {
    let o = run(c);
    assert!(
        o.status.success(),
        "{c:?} failed: {}",
        String::from_utf8_lossy(&o.stderr)
    );
    serde_json::from_slice(&o.stdout)
        .unwrap_or_else(|e| panic!("{c:?}: {e}: {}", String::from_utf8_lossy(&o.stdout)))
}

fn start_ledger(db: &Path, listen: &str, store: Option<&str>) -> (Child, SocketAddr) {
    let mut c = Command::new(BIN);
    c.args(["ledger", "serve", "--json", "--listen", listen, "--db"])
        .arg(db);
    if let Some(url) = store {
        c.args(["--store", url]);
    }
    let mut child = c
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
    let addr: SocketAddr = v["addr"].as_str().unwrap().parse().unwrap();
    assert!(addr.ip().is_loopback());
    let t = Instant::now();
    while TcpStream::connect(addr).is_err() {
        assert!(t.elapsed() < Duration::from_secs(5), "ledger not listening");
        std::thread::sleep(Duration::from_millis(5));
    }
    (child, addr)
}

/// SIGKILLs `c` (no destructor, no flush, like a power cut); whether it was still running.
fn kill(c: &mut Child) -> bool {
    let running = matches!(c.try_wait(), Ok(None));
    let _ = c.kill();
    let _ = c.wait();
    running
}

fn amount(v: &Value) -> u64 {
    v.as_u64().unwrap_or_else(|| panic!("not an amount: {v}"))
}

fn history_sum(h: &Value, kind: &str) -> (u64, usize) {
    let entries: Vec<&Value> = h
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["kind"] == kind)
        .collect();
    (
        entries.iter().map(|e| amount(&e["amount"])).sum(),
        entries.len(),
    )
}

/// The two variants take turns: each has a time budget, and two cores.
static ONE_AT_A_TIME: std::sync::Mutex<()> = std::sync::Mutex::new(());

#[test]
fn kill_minus_nine_everywhere_loses_and_doubles_nothing_sled() {
    let _turn = ONE_AT_A_TIME.lock().unwrap_or_else(|p| p.into_inner());
    kill_minus_nine_everywhere(None);
}

#[test]
fn kill_minus_nine_everywhere_loses_and_doubles_nothing_postgres() {
    let _turn = ONE_AT_A_TIME.lock().unwrap_or_else(|p| p.into_inner());
    let Some(cluster) = pg::PgCluster::start(false) else {
        return;
    };
    let url = cluster.fresh_db();
    let o = run(Command::new(BIN).args(["ledger", "migrate", "--store", &url]));
    assert!(
        o.status.success(),
        "migrate: {}",
        String::from_utf8_lossy(&o.stderr)
    );
    kill_minus_nine_everywhere(Some(&url));
}

fn kill_minus_nine_everywhere(store: Option<&str>) {
    let started = Instant::now();
    let seed = std::env::var("BIDTORRENT_CRASH_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| bidtorrent::wallet::keys::now_micros() | 1);
    eprintln!("crash test seed {seed} (set BIDTORRENT_CRASH_SEED to replay)");
    let mut rng = Rng(seed);
    let tmp = tempfile::tempdir().unwrap();
    let ldb = tmp.path().join("ledger");
    let (buyer, seller) = (tmp.path().join("buyer"), tmp.path().join("seller"));
    let payfile: PathBuf = tmp.path().join("payment.json");

    let (mut ledger, addr) = start_ledger(&ldb, "127.0.0.1:0", store);
    let laddr = addr.to_string();
    let bpk = ok_json(cmd(&buyer).args(["wallet", "address", "--json"]))["public_key"]
        .as_str()
        .unwrap()
        .to_string();
    let spk = ok_json(cmd(&seller).args(["wallet", "address", "--json"]))["public_key"]
        .as_str()
        .unwrap()
        .to_string();
    ok_json(
        Command::new(BIN)
            .args(["ledger", "mint", "--json", "--ledger", &laddr, "--db"])
            .arg(&ldb)
            .args([&bpk, "1000"]),
    );
    ok_json(cmd(&seller).args(["wallet", "--ledger", &laddr, "show", "--json"]));
    let open =
        ok_json(cmd(&buyer).args(["wallet", "--ledger", &laddr, "open", &spk, "500", "--json"]));
    let ch = open["channel"].as_str().unwrap().to_string();
    // The buyer names its channel by a prefix, as `wallet` shows it (not all 64 digits).
    let ch_short = ch[..12].to_string();

    let stream = || {
        cmd(&buyer)
            .args([
                "wallet",
                "pay",
                &ch_short,
                STEP,
                "--repeat",
                "100000000",
                "--interval-ms",
                "1",
                "--out",
            ])
            .arg(&payfile)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("spawn buyer")
    };
    let mut buyer_proc = Some(stream());
    let mut kills = [0usize; 3];
    let mut seller_runs = 0usize;
    let mut cycles = 0;
    while cycles < CYCLES && started.elapsed() < BUDGET {
        cycles += 1;
        if buyer_proc.is_none() {
            buyer_proc = Some(stream());
        }
        let deadline = Instant::now() + Duration::from_millis(40 + rng.below(260));
        let victim = rng.below(3);
        // The seller works back to back until the deadline; the one running then may be killed.
        let mut current: Option<Child> = None;
        let mut redeem = false;
        while Instant::now() < deadline {
            if let Some(c) = current.as_mut()
                && c.try_wait().unwrap().is_none()
            {
                std::thread::sleep(Duration::from_millis(2));
                continue;
            }
            redeem = !redeem;
            let mut c = cmd(&seller);
            c.arg("wallet");
            if redeem {
                c.arg("redeem")
            } else {
                c.arg("accept").arg(&payfile)
            };
            current = Some(
                c.stdout(Stdio::null())
                    .stderr(Stdio::null())
                    .spawn()
                    .expect("spawn seller"),
            );
            seller_runs += 1;
        }
        let hit = match victim {
            0 => {
                let hit = kill(&mut ledger);
                ledger = start_ledger(&ldb, &laddr, store).0;
                hit
            }
            1 => buyer_proc.take().is_some_and(|mut b| kill(&mut b)),
            _ => current.as_mut().is_some_and(kill),
        };
        kills[victim as usize] += hit as usize;
        if let Some(mut c) = current.take() {
            let _ = c.wait();
        }
    }
    if let Some(mut b) = buyer_proc.take() {
        kills[1] += kill(&mut b) as usize;
    }

    // Settle: one more payment (its voucher covers everything spent, including a spend
    // persisted just before a kill whose voucher never reached the file), accept, redeem.
    let mut pay = cmd(&buyer);
    let o = run(pay
        .args(["wallet", "pay", &ch, STEP, "--out"])
        .arg(&payfile));
    assert!(
        o.status.success(),
        "final pay: {}",
        String::from_utf8_lossy(&o.stderr)
    );
    let o = run(cmd(&seller)
        .args(["wallet", "accept", "--json"])
        .arg(&payfile));
    assert!(
        o.status.success(),
        "final accept: {}",
        String::from_utf8_lossy(&o.stderr)
    );
    ok_json(cmd(&seller).args(["wallet", "redeem", "--json"]));

    let b = ok_json(cmd(&buyer).args(["wallet", "show", "--json"]));
    let s = ok_json(cmd(&seller).args(["wallet", "show", "--json"]));
    let bh = ok_json(cmd(&buyer).args(["wallet", "history", "--detail", "--json"]));
    let sh = ok_json(cmd(&seller).args(["wallet", "history", "--detail", "--json"]));
    let audit = ok_json(Command::new(BIN).args(["ledger", "audit", "--json", "--ledger", &laddr]));
    kill(&mut ledger);

    let out = &b["outgoing"][0];
    let spent = amount(&out["spent"]);
    let seq = out["seq"].as_u64().unwrap();
    let inc = &s["incoming"][0];
    let highest = bidtorrent::wallet::Voucher::from_hex(inc["highest"].as_str().unwrap()).unwrap();
    let redeemed = amount(&inc["redeemed"]);
    let (paid_sum, paid_n) = history_sum(&bh, "paid");
    let (earned_sum, _) = history_sum(&sh, "earned");
    let (redeemed_sum, _) = history_sum(&sh, "redeemed");
    eprintln!(
        "crash test: {cycles} cycles, kills ledger/buyer/seller = {kills:?}, {seller_runs} seller runs, \
         {paid_n} payments, spent {}, {:.1} s",
        Amount(spent),
        started.elapsed().as_secs_f64()
    );
    assert!(
        kills.iter().all(|&k| k > 0),
        "every process must have been killed: {kills:?}"
    );
    assert!(paid_n > 1, "the buyer made no payments");
    // Buyer: every persisted spend is in the history once.
    assert_eq!(paid_sum, spent);
    assert_eq!(paid_n as u64, seq);
    // Seller: nothing lost (holds exactly what the buyer spent), nothing counted twice.
    assert_eq!(
        (highest.seq, highest.cumulative.0),
        (seq, spent),
        "voucher lost"
    );
    assert_eq!(earned_sum, spent, "earnings counted twice or lost");
    assert_eq!(redeemed, spent);
    assert_eq!(redeemed_sum, spent, "redemption counted twice or lost");

    // Ledger, over the wire and again from its files after the last kill.
    assert_eq!(audit["consistent"], true, "{audit}");
    let store = Ledger::open_with(&ldb, store, LedgerConfig::default()).unwrap();
    let a = store.audit().unwrap();
    assert!(a.consistent, "books do not balance after crashes: {a:?}");
    let micro = |t: u64| Amount::from_tokens(t).unwrap();
    assert_eq!(a.minted, micro(1000));
    assert_eq!(a.escrowed.0, micro(500).0 - spent);
    assert_eq!(
        store.balance(&bpk.parse::<PublicKey>().unwrap()).unwrap(),
        micro(500)
    );
    assert_eq!(
        store.balance(&spk.parse::<PublicKey>().unwrap()).unwrap().0,
        spent
    );
    assert!(
        started.elapsed() < Duration::from_secs(60),
        "crash test over budget"
    );
}
