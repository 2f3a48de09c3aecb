//! A ledger that cannot be jammed (issue 11). Against a real `bidtorrent ledger serve`, five
//! payers open 500 channels of one micro-token each to one key; that key's `wallet show`
//! (the real binary) still answers, with exact figures, in a bounded number of pages; the
//! 501st channel is refused in one line naming the per-key limit; the key's history shows
//! its mint; and with the ledger gone `wallet show` fails (non-zero) while `--offline` shows
//! the last known state. On sled and on PostgreSQL (temporary cluster).
//!
//! Also, on an embedded ledger: the per-payer side of the limit, and how a payee frees the
//! slots others filled (a seller's close is immediate and refunds the payer).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // tests fail loudly

#[path = "support/postgres.rs"]
mod pg;

use std::io::{BufRead, BufReader};
use std::net::{SocketAddr, TcpStream};
use std::path::Path;
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use bidtorrent::wallet::keys::{self, generate_key, now_secs};
use bidtorrent::wallet::ledger::{Action, LedgerConfig, LedgerError, Outcome};
use bidtorrent::wallet::{Amount, EmbeddedLedger, LedgerClient, PublicKey};
use serde_json::Value;

const BIN: &str = env!("CARGO_BIN_EXE_bidtorrent");
const CHANNELS: u64 = 500;
const PAYERS: u64 = 5;

fn cmd(data: &Path, ledger: &str) -> Command {
    let mut c = Command::new(BIN);
    c.arg("--data-dir")
        .arg(data)
        .env_remove("BIDTORRENT_LEDGER")
        .args(["wallet", "--ledger", ledger]);
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

fn start_ledger(db: &Path, store: Option<&str>, extra: &[&str]) -> (Child, SocketAddr) {
    let mut c = Command::new(BIN);
    c.args([
        "ledger",
        "serve",
        "--json",
        "--listen",
        "127.0.0.1:0",
        "--db",
    ])
    .arg(db)
    .args(extra);
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

#[test]
fn five_hundred_channels_to_one_key_sled() {
    five_hundred_channels_to_one_key(None);
}

#[test]
fn five_hundred_channels_to_one_key_postgres() {
    let Some(cluster) = pg::PgCluster::shared() else {
        return;
    };
    let url = cluster.fresh_db();
    let o = run(Command::new(BIN).args(["ledger", "migrate", "--store", &url]));
    assert!(
        o.status.success(),
        "migrate: {}",
        String::from_utf8_lossy(&o.stderr)
    );
    five_hundred_channels_to_one_key(Some(&url));
}

fn five_hundred_channels_to_one_key(store: Option<&str>) {
    let kind = store.map_or("sled", |_| "postgres");
    let tmp = tempfile::tempdir().unwrap();
    let db = tmp.path().join("ledger");
    let limit = CHANNELS.to_string();
    let (mut ledger, addr) = start_ledger(&db, store, &["--max-channels-per-key", &limit]);
    let laddr = addr.to_string();
    let admin = keys::read_key_file(&db.join("admin.key")).unwrap();

    // The key being jammed: a wallet with 3 tokens minted into it.
    let victim = tmp.path().join("victim");
    let v = ok_json(cmd(&victim, &laddr).args(["address", "--json"]));
    let victim_key: PublicKey = v["public_key"].as_str().unwrap().parse().unwrap();
    let rt = tokio::runtime::Runtime::new().unwrap();
    let client = LedgerClient::new(laddr.clone());
    rt.block_on(client.mint(&admin, victim_key, Amount(3_000_000)))
        .unwrap();

    // 500 one-micro-token channels to it from five payers, concurrently.
    let opened = Instant::now();
    let payers: Vec<_> = (0..PAYERS).map(|_| generate_key()).collect();
    rt.block_on(async {
        let mut tasks = Vec::new();
        for p in &payers {
            client
                .mint(&admin, PublicKey::of(p), Amount(1_000))
                .await
                .unwrap();
            let (p, laddr) = (p.clone(), laddr.clone());
            tasks.push(tokio::spawn(async move {
                let c = LedgerClient::new(laddr);
                for _ in 0..CHANNELS / PAYERS {
                    let o = c
                        .signed(
                            &p,
                            Action::Open {
                                seller: victim_key,
                                cap: Amount(1),
                                expiry: now_secs() + 3600,
                            },
                        )
                        .await
                        .unwrap();
                    assert!(matches!(o, Outcome::Opened { .. }), "{o:?}");
                }
            }));
        }
        for t in tasks {
            t.await.unwrap();
        }
    });
    let opened = opened.elapsed();

    // The victim's `wallet show`: fresh, exact, and it answers.
    let t = Instant::now();
    let show = ok_json(cmd(&victim, &laddr).args(["show", "--json"]));
    let show_time = t.elapsed();
    assert_eq!(show["balance"], 3_000_000, "{show}");
    let s = &show["summary"];
    assert_eq!(s["paid_by"]["live"], CHANNELS, "{show}");
    assert_eq!(s["paid_by"]["escrowed"], CHANNELS, "{show}");
    assert_eq!(s["paying"]["live"], 0, "{show}");
    assert_eq!(s["paying"]["escrowed"], 0, "{show}");
    assert_eq!(s["minted"], 3_000_000, "{show}");
    assert_eq!(show["ledger"]["balance"], 3_000_000, "{show}");
    // Unwanted channels do not become the victim's records.
    assert_eq!(show["incoming"].as_array().unwrap().len(), 0);
    let text = run(cmd(&victim, &laddr).arg("show"));
    assert!(text.status.success());
    let text = String::from_utf8_lossy(&text.stdout);
    assert!(text.contains("balance  3.000000"), "{text}");
    assert!(
        text.contains("paid by 500 (0.000500 escrowed to you)"),
        "{text}"
    );

    // The mint is in the victim's history, on its own line.
    let h = ok_json(cmd(&victim, &laddr).args(["history", "--json"]));
    let h = h.as_array().unwrap();
    assert_eq!(h.len(), 1, "{h:?}");
    assert_eq!(h[0]["kind"], "minted");
    assert_eq!(h[0]["amount"], 3_000_000);

    // The 501st channel to that key is refused, in one line naming the limit, through the
    // CLI of a funded payer wallet; its funds stay where they were.
    let sixth = tmp.path().join("sixth");
    let v = ok_json(cmd(&sixth, &laddr).args(["address", "--json"]));
    let sixth_key: PublicKey = v["public_key"].as_str().unwrap().parse().unwrap();
    rt.block_on(client.mint(&admin, sixth_key, Amount(1_000_000)))
        .unwrap();
    let o = run(cmd(&sixth, &laddr).args(["open", &victim_key.to_string(), "0.000001"]));
    assert!(!o.status.success(), "the 501st channel was opened");
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(err.trim().lines().count(), 1, "{err}");
    assert!(
        err.contains(&format!("{CHANNELS} live channels as payee"))
            && err.contains("limit per key"),
        "{err}"
    );
    let six = ok_json(cmd(&sixth, &laddr).args(["show", "--json"]));
    assert_eq!(six["balance"], 1_000_000);
    assert_eq!(six["summary"]["paying"]["live"], 0);

    // The books balance.
    let audit = ok_json(Command::new(BIN).args(["ledger", "audit", "--json", "--ledger", &laddr]));
    assert_eq!(audit["consistent"], true, "{audit}");
    assert_eq!(audit["open_channels"], CHANNELS);

    // The ledger gone: fresh data cannot be had, and `wallet show` says so and fails; the
    // explicit offline view shows the last known state and succeeds.
    ledger.kill().unwrap();
    ledger.wait().unwrap();
    let o = run(cmd(&victim, &laddr).arg("show"));
    assert!(
        !o.status.success(),
        "wallet show succeeded without its ledger"
    );
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(err.trim().lines().count(), 1, "{err}");
    assert!(
        err.contains("not reachable") && err.contains("--offline"),
        "{err}"
    );
    assert!(o.stdout.is_empty(), "stale state printed as if fresh");
    let cached = ok_json(cmd(&victim, &laddr).args(["show", "--offline", "--json"]));
    assert_eq!(cached["balance"], 3_000_000);
    assert_eq!(cached["summary"]["paid_by"]["live"], CHANNELS);
    let cached = ok_json(cmd(&victim, &laddr).args(["show", "--cached", "--json"]));
    assert_eq!(cached["balance"], 3_000_000);

    eprintln!(
        "{kind}: {CHANNELS} channels to one key opened in {:.2} s; its `wallet show` answered in \
         {:.3} s",
        opened.as_secs_f64(),
        show_time.as_secs_f64()
    );
}

/// The payer side of the limit, and a payee freeing the slots others filled.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_limit_holds_for_payers_and_a_payee_can_free_its_slots() {
    let dir = tempfile::tempdir().unwrap();
    let config = LedgerConfig {
        max_channels_per_key: Some(3),
        ..LedgerConfig::default()
    };
    let (ledger, _) = EmbeddedLedger::start_with(dir.path(), config)
        .await
        .unwrap();
    let client = ledger.client();
    let payer = generate_key();
    ledger
        .mint(PublicKey::of(&payer), Amount(1_000))
        .await
        .unwrap();
    let open = |seller: PublicKey| {
        let (client, payer) = (&client, payer.clone());
        async move {
            client
                .signed(
                    &payer,
                    Action::Open {
                        seller,
                        cap: Amount(10),
                        expiry: now_secs() + 600,
                    },
                )
                .await
        }
    };
    let sellers: Vec<_> = (0..4).map(|_| generate_key()).collect();
    let mut certs = Vec::new();
    for s in &sellers[..3] {
        match open(PublicKey::of(s)).await.unwrap() {
            Outcome::Opened { certificate } => certs.push(certificate),
            o => panic!("{o:?}"),
        }
    }
    match open(PublicKey::of(&sellers[3])).await {
        Err(LedgerError::Remote { code, message }) => {
            assert_eq!(code, "too_many_channels");
            assert!(message.contains("3 live channels as payer"), "{message}");
        }
        other => panic!("a 4th channel from one payer: {other:?}"),
    }
    // The refusal moved nothing.
    let (balance, live) = client.balance(&payer).await.unwrap();
    assert_eq!((balance, live.len()), (Amount(970), 3));

    // Seller 0 closes the channel it did not want: at once, refunded, and the slot is free.
    let closed = client
        .signed(
            &sellers[0],
            Action::Close {
                channel: certs[0].channel,
                voucher: None,
            },
        )
        .await
        .unwrap();
    assert!(matches!(closed, Outcome::Closed(_)), "{closed:?}");
    let view = client.account(&payer).await.unwrap();
    assert_eq!(view.balance, Amount(980));
    let s = view.summary.unwrap();
    assert_eq!((s.paying.live, s.paying.escrowed), (2, Amount(20)));
    assert!(matches!(
        open(PublicKey::of(&sellers[3])).await.unwrap(),
        Outcome::Opened { .. }
    ));
    let seller0 = client.account(&sellers[0]).await.unwrap().summary.unwrap();
    assert_eq!(
        (seller0.paid_by.live, seller0.paid_by.escrowed),
        (0, Amount::ZERO)
    );
    let audit = client.audit().await.unwrap();
    assert!(audit.consistent, "{audit:?}");
}

/// A sled ledger from before the indexes and counters (layout 1) gets them built when it is
/// opened: summaries, live pages and the expiry sweep are then right for its old channels.
#[test]
fn an_older_sled_ledger_is_upgraded_on_open() {
    use bidtorrent::wallet::ledger::{ChannelState, Ledger, proto};
    let dir = tempfile::tempdir().unwrap();
    let config = || LedgerConfig {
        rate_per_key: None,
        ..LedgerConfig::default()
    };
    let (buyer, seller) = (generate_key(), generate_key());
    let now = 1_000_000;
    let mut nonce = 0;
    let mut send = |l: &Ledger, key: &ed25519_dalek::SigningKey, action: Action| {
        nonce += 1;
        l.handle(proto::sign_request(key, l.id(), nonce, action), now)
            .unwrap()
    };
    let mut ids = Vec::new();
    {
        let l = Ledger::open(dir.path(), config()).unwrap();
        let admin = l.admin_key().unwrap();
        let account = PublicKey::of(&buyer);
        send(
            &l,
            &admin,
            Action::Mint {
                account,
                amount: Amount(100),
            },
        );
        for expiry in [now + 10, now + 20, now + 30] {
            let o = send(
                &l,
                &buyer,
                Action::Open {
                    seller: PublicKey::of(&seller),
                    cap: Amount(10),
                    expiry,
                },
            );
            let Outcome::Opened { certificate } = o else {
                panic!("{o:?}");
            };
            ids.push(certificate.channel);
        }
        // One closed by its seller before the "upgrade".
        send(
            &l,
            &seller,
            Action::Close {
                channel: ids[0],
                voucher: None,
            },
        );
    }
    // Back to layout 1: no version, no indexes, no counters.
    {
        let db = retry_lock(|| sled::open(dir.path().join("db")));
        db.open_tree("meta").unwrap().remove(b"layout").unwrap();
        for t in ["live", "closed", "counters", "due"] {
            db.drop_tree(t).unwrap();
        }
        db.flush().unwrap();
    }
    let l = retry_lock(|| Ledger::open(dir.path(), config()));
    let s = l.summary(&PublicKey::of(&buyer)).unwrap();
    assert_eq!((s.paying.live, s.paying.escrowed), (2, Amount(20)));
    let s = l.summary(&PublicKey::of(&seller)).unwrap();
    assert_eq!((s.paid_by.live, s.paid_by.escrowed), (2, Amount(20)));
    let o = send(
        &l,
        &buyer,
        Action::Balance {
            after: None,
            side: None,
        },
    );
    let Outcome::Balance { channels, .. } = o else {
        panic!("{o:?}");
    };
    let mut live: Vec<_> = channels.iter().map(|c| c.channel).collect();
    live.sort();
    let mut want = ids[1..].to_vec();
    want.sort();
    assert_eq!(live, want);
    let o = send(
        &l,
        &seller,
        Action::ClosedChannels {
            since: 0,
            after: None,
        },
    );
    let Outcome::ClosedChannels { channels, .. } = o else {
        panic!("{o:?}");
    };
    assert_eq!(channels.len(), 1);
    assert_eq!(channels[0].channel, ids[0]);
    // The sweep finds the old channels through the rebuilt index, in deadline order.
    // (The first, due at +10, was closed by its seller already.)
    assert_eq!(l.sweep_expired(now + 20).unwrap(), 1);
    assert_eq!(l.channel(&ids[1]).unwrap().state, ChannelState::Closed);
    assert_eq!(l.channel(&ids[2]).unwrap().state, ChannelState::Open);
    assert_eq!(l.sweep_expired(now + 30).unwrap(), 1);
    assert_eq!(l.balance(&PublicKey::of(&buyer)).unwrap(), Amount(100));
    let s = l.summary(&PublicKey::of(&buyer)).unwrap();
    assert_eq!((s.paying.live, s.paying.escrowed), (0, Amount::ZERO));
    assert!(l.audit().unwrap().consistent);
}

/// Opens a sled database just closed in this process. sled releases its file lock when its
/// background flusher lets go of the database, a moment after the last handle is dropped.
fn retry_lock<T, E: std::fmt::Display>(mut open: impl FnMut() -> Result<T, E>) -> T {
    let start = std::time::Instant::now();
    loop {
        match open() {
            Ok(v) => return v,
            Err(e) if e.to_string().contains("could not acquire lock") => {
                assert!(
                    start.elapsed() < std::time::Duration::from_secs(10),
                    "still locked: {e}"
                );
                std::thread::sleep(std::time::Duration::from_millis(50));
            }
            Err(e) => panic!("{e}"),
        }
    }
}
