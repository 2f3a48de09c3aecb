//! Tokens on a chain (issue 16) against a real local EVM node: anvil from
//! contracts/node_modules (scripts/test.sh installs it with `npm ci`), started here on
//! 127.0.0.1. The vault and token contracts are deployed from the bytecode the binary embeds
//! (checked against the Solidity source by `committed_bytecode_matches_the_source`), a real
//! `ledger serve` process watches the vault, and real `wallet` commands deposit, pay and
//! withdraw.
//!
//! Outside CI (`CI` unset) a missing anvil or solcjs skips these tests with a loud message;
//! under `CI=true` it fails them.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // tests fail loudly

#[path = "support/postgres.rs"]
mod pg;

use std::io::{BufRead, BufReader};
use std::net::TcpListener;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use bidtorrent::wallet::PublicKey;
use bidtorrent::wallet::chain::evm::EvmChain;
use bidtorrent::wallet::chain::{self, Address, Chain, ChainConfig, ChainKey};
use bidtorrent::wallet::ledger::chain::{ChainBook, FAILPOINT_ENV};
use bidtorrent::wallet::ledger::{Ledger, LedgerConfig};
use serde_json::{Value, json};

const BIN: &str = env!("CARGO_BIN_EXE_bidtorrent");
/// anvil's first development account (the standard test mnemonic), funded at start.
const DEPLOYER: &str = "ac0974bec39a17e36ba4a6b4d238ff944bacb478cbed5efcae784d7bf4f2ff80";
const CHAIN_ID: u64 = 31337;
const TOKEN: u128 = 1_000_000; // units per token (six decimals)

fn tool(name: &str) -> Option<PathBuf> {
    let p = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("contracts/node_modules/.bin")
        .join(name);
    if p.exists() {
        return Some(p);
    }
    if std::env::var_os("CI").is_some() {
        panic!(
            "{} is missing under CI: scripts/test.sh must `npm ci` in contracts/",
            p.display()
        );
    }
    eprintln!(
        "\n*** SKIPPED: {} is not installed; run `npm ci` in contracts/ (scripts/test.sh does) ***\n",
        p.display()
    );
    None
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

struct Anvil {
    child: Child,
    url: String,
}

impl Drop for Anvil {
    fn drop(&mut self) {
        // npm's `anvil` is a node wrapper that starts the real binary: stop the whole group.
        unsafe {
            libc::kill(-(self.child.id() as i32), libc::SIGKILL);
        }
        let _ = self.child.wait();
    }
}

fn anvil() -> Option<Anvil> {
    let bin = tool("anvil")?;
    let port = free_port();
    let child = Command::new(bin)
        .args([
            "--host",
            "127.0.0.1",
            "--port",
            &port.to_string(),
            "--silent",
        ])
        .process_group(0)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("spawn anvil");
    let a = Anvil {
        child,
        url: format!("http://127.0.0.1:{port}"),
    };
    let probe = EvmChain::new(config(&a.url, Address::default(), Address::default(), 0)).unwrap();
    let start = Instant::now();
    while probe.head().is_err() {
        assert!(
            start.elapsed() < Duration::from_secs(30),
            "anvil did not start"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    Some(a)
}

fn config(url: &str, vault: Address, token: Address, confirmations: u64) -> ChainConfig {
    ChainConfig {
        rpc_url: url.into(),
        chain_id: CHAIN_ID,
        vault,
        token,
        confirmations,
        from_block: 0,
    }
}

/// A deployed token and vault for the ledger in `ledger_dir`.
struct World {
    _anvil: Anvil,
    cfg: ChainConfig,
    deployer: ChainKey,
    ledger_dir: PathBuf,
    ledger_port: u16,
    /// The PostgreSQL store, when not sled.
    store: Option<String>,
    _tmp: tempfile::TempDir,
}

impl World {
    fn node(&self) -> EvmChain {
        EvmChain::new(self.cfg.clone()).unwrap()
    }

    fn mine(&self, blocks: u64) {
        self.node()
            .rpc("anvil_mine", json!([format!("0x{blocks:x}")]))
            .unwrap();
    }

    fn ledger_addr(&self) -> String {
        format!("127.0.0.1:{}", self.ledger_port)
    }

    /// `ledger serve` on the vault, with `failpoint` armed if given.
    fn start_ledger(&self, failpoint: Option<&str>) -> Child {
        let mut c = Command::new(BIN);
        c.args([
            "ledger",
            "serve",
            "--json",
            "--listen",
            &self.ledger_addr(),
            "--db",
        ])
        .arg(&self.ledger_dir)
        .args([
            "--chain-rpc",
            &self.cfg.rpc_url,
            "--chain-id",
            &CHAIN_ID.to_string(),
        ])
        .args([
            "--vault",
            &self.cfg.vault.to_string(),
            "--token",
            &self.cfg.token.to_string(),
        ])
        .args([
            "--confirmations",
            &self.cfg.confirmations.to_string(),
            "--chain-poll-ms",
            "50",
        ])
        .env_remove(FAILPOINT_ENV);
        if let Some(url) = &self.store {
            c.args(["--store", url]);
        }
        if let Some(f) = failpoint {
            c.env(FAILPOINT_ENV, f);
        }
        let mut child = c
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let mut line = String::new();
        BufReader::new(child.stdout.take().unwrap())
            .read_line(&mut line)
            .unwrap();
        let v: Value = serde_json::from_str(&line).unwrap_or_else(|e| panic!("{e}: {line:?}"));
        assert_eq!(v["event"], "listening");
        child
    }

    fn wallet(&self, name: &str) -> WalletDir {
        let dir = self._tmp.path().join(name);
        std::fs::create_dir_all(&dir).unwrap();
        let cfg = dir.join("config.toml");
        std::fs::write(
            &cfg,
            format!(
                "[chain]\nrpc_url = \"{}\"\nchain_id = {CHAIN_ID}\nvault = \"{}\"\ntoken = \"{}\"\nconfirmations = {}\n",
                self.cfg.rpc_url, self.cfg.vault, self.cfg.token, self.cfg.confirmations
            ),
        )
        .unwrap();
        WalletDir {
            dir,
            cfg,
            ledger: self.ledger_addr(),
        }
    }
}

fn setup(confirmations: u64) -> Option<World> {
    setup_on(confirmations, false)
}

/// A world whose ledger keeps its books on sled, or on a fresh PostgreSQL database (`None`
/// when PostgreSQL is unavailable outside CI).
fn setup_on(confirmations: u64, postgres: bool) -> Option<World> {
    let store = if postgres {
        let c = pg::PgCluster::shared()?;
        let url = c.fresh_db();
        bidtorrent::wallet::ledger::store::postgres::migrate(&url).unwrap();
        Some(url)
    } else {
        None
    };
    let anvil = anvil()?;
    let tmp = tempfile::tempdir().unwrap();
    let ledger_dir = tmp.path().join("ledger");
    // The ledger's id and chain key exist before the vault that names them.
    let id = Ledger::open_with(&ledger_dir, store.as_deref(), LedgerConfig::default())
        .unwrap()
        .id();
    let signer = ChainKey::load_or_create(&ChainBook::key_path(&ledger_dir))
        .unwrap()
        .address();
    let deployer = ChainKey::from_hex(DEPLOYER).unwrap();
    let node = EvmChain::new(config(
        &anvil.url,
        Address::default(),
        Address::default(),
        0,
    ))
    .unwrap();
    let (token, vault) =
        chain::contracts::deploy(&node, &deployer, id, signer, 1_000_000 * TOKEN).unwrap();
    Some(World {
        cfg: config(&anvil.url, vault, token, confirmations),
        _anvil: anvil,
        deployer,
        ledger_dir,
        ledger_port: free_port(),
        store,
        _tmp: tmp,
    })
}

struct WalletDir {
    dir: PathBuf,
    cfg: PathBuf,
    ledger: String,
}

impl WalletDir {
    fn cmd(&self) -> Command {
        let mut c = Command::new(BIN);
        c.arg("--data-dir")
            .arg(&self.dir)
            .arg("--config")
            .arg(&self.cfg);
        c.args(["wallet", "--ledger", &self.ledger])
            .env_remove("BIDTORRENT_LEDGER");
        c
    }

    fn run(&self, args: &[&str]) -> Output {
        self.cmd().args(args).stdin(Stdio::null()).output().unwrap()
    }

    fn json(&self, args: &[&str]) -> Value {
        let o = self.run(&[args, &["--json"]].concat());
        assert!(
            o.status.success(),
            "wallet {args:?}: {}",
            String::from_utf8_lossy(&o.stderr)
        );
        serde_json::from_slice(&o.stdout).unwrap()
    }

    fn show(&self) -> Value {
        self.json(&["show"])
    }

    fn chain_address(&self) -> Address {
        self.show()["chain"]["address"]
            .as_str()
            .unwrap()
            .parse()
            .unwrap()
    }

    fn public_key(&self) -> PublicKey {
        self.show()["public_key"].as_str().unwrap().parse().unwrap()
    }

    /// Waits until the ledger reports `balance` micro-tokens for this wallet.
    fn wait_balance(&self, balance: u64) {
        let start = Instant::now();
        loop {
            let b = self.show()["balance"].as_u64().unwrap();
            if b == balance {
                return;
            }
            assert!(
                start.elapsed() < Duration::from_secs(30),
                "balance stuck at {b}, want {balance}"
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }
}

fn audit(w: &World) -> Value {
    let o = Command::new(BIN)
        .args(["ledger", "audit", "--json", "--ledger", &w.ledger_addr()])
        .output()
        .unwrap();
    serde_json::from_slice(&o.stdout)
        .unwrap_or_else(|e| panic!("{e}: {}", String::from_utf8_lossy(&o.stderr)))
}

/// Waits until the audit's chain half shows `paid` withdrawals paid; returns the audit.
fn wait_audit(w: &World, deposited: u64, paid: u64) -> Value {
    let start = Instant::now();
    loop {
        let a = audit(w);
        let c = &a["chain"];
        if c["deposited"] == deposited && c["withdrawals_paid"] == paid {
            return a;
        }
        assert!(
            start.elapsed() < Duration::from_secs(30),
            "audit stuck: {a}"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// Gives `who` 10 coins for gas and `tokens` of the test token.
fn fund(w: &World, who: &Address, tokens: u128) {
    let node = w.node();
    node.transfer_coin(&w.deployer, who, 10u128.pow(19))
        .unwrap();
    if tokens > 0 {
        node.transfer_token(&w.deployer, &w.cfg.token, who, tokens)
            .unwrap();
    }
}

fn kill(mut c: Child) {
    let _ = c.kill();
    let _ = c.wait();
}

#[test]
fn committed_bytecode_matches_the_source() {
    if tool("solcjs").is_none() {
        return;
    }
    let out = tempfile::tempdir().unwrap();
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let s = Command::new(root.join("scripts/contracts.sh"))
        .arg(out.path())
        .status()
        .unwrap();
    assert!(s.success());
    for name in ["TestToken.bin", "LedgerVault.bin"] {
        let fresh = std::fs::read_to_string(out.path().join(name)).unwrap();
        let committed = std::fs::read_to_string(root.join("contracts/build").join(name)).unwrap();
        assert_eq!(
            fresh.trim(),
            committed.trim(),
            "contracts/build/{name} is stale: run scripts/contracts.sh"
        );
    }
    assert_eq!(
        chain::contracts::VAULT_BIN.trim(),
        std::fs::read_to_string(root.join("contracts/build/LedgerVault.bin"))
            .unwrap()
            .trim()
    );
}

#[test]
fn deposit_pay_and_withdraw_end_to_end() {
    let Some(w) = setup(2) else { return };
    let ledger = w.start_ledger(None);
    let buyer = w.wallet("buyer");
    let seller = w.wallet("seller");
    let buyer_chain = buyer.chain_address();
    fund(&w, &buyer_chain, 50 * TOKEN);
    let node = w.node();

    // In: 20 tokens locked in the vault, credited once the deposit has 2 confirmations.
    let d = buyer.json(&["deposit", "20"]);
    assert_eq!(d["deposited"], 20 * TOKEN as u64);
    assert_eq!(node.token_balance(&buyer_chain, None).unwrap(), 30 * TOKEN);
    std::thread::sleep(Duration::from_millis(300));
    assert_eq!(
        buyer.show()["balance"],
        0,
        "credited before its confirmations"
    );
    w.mine(2);
    buyer.wait_balance(20 * TOKEN as u64);
    let shown = buyer.show();
    assert_eq!(shown["chain"]["token_balance"], 30 * TOKEN as u64);
    assert_eq!(shown["chain"]["deposits"].as_array().unwrap().len(), 1);

    // Pay a seller through the ledger: a 5-token channel, 3 tokens of vouchers, redeemed.
    let seller_key = seller.public_key().to_string();
    let open = buyer.json(&["open", &seller_key, "5"]);
    let channel = open["channel"].as_str().unwrap().to_string();
    let pay = buyer.run(&["pay", &channel, "3"]);
    assert!(
        pay.status.success(),
        "{}",
        String::from_utf8_lossy(&pay.stderr)
    );
    let payment = seller.dir.join("payment.json");
    std::fs::write(&payment, &pay.stdout).unwrap();
    assert!(
        seller
            .run(&["accept", payment.to_str().unwrap()])
            .status
            .success()
    );
    assert!(seller.run(&["redeem"]).status.success());
    seller.wait_balance(3 * TOKEN as u64);

    // Out: the seller withdraws its earnings; its chain address gains exactly that.
    let seller_chain = seller.chain_address();
    fund(&w, &seller_chain, 0);
    assert_eq!(node.token_balance(&seller_chain, None).unwrap(), 0);
    let wd = seller.json(&["withdraw", "3"]);
    assert_eq!(wd["withdrawn"], 3 * TOKEN as u64);
    assert_eq!(node.token_balance(&seller_chain, None).unwrap(), 3 * TOKEN);
    seller.wait_balance(0);
    w.mine(2);
    let a = wait_audit(&w, 20 * TOKEN as u64, 3 * TOKEN as u64);
    assert_eq!(a["consistent"], true, "{a}");
    assert_eq!(a["chain"]["vault_holdings"], 17 * TOKEN as u64);
    assert_eq!(a["chain"]["withdrawals_pending"], 0);
    let history = seller.json(&["history"]);
    assert!(
        history
            .as_array()
            .unwrap()
            .iter()
            .any(|e| e["kind"] == "withdrawal"),
        "{history}"
    );
    let shown = seller.show();
    assert_eq!(shown["chain"]["withdrawals"][0]["state"], "paid", "{shown}");

    // The same authorisation again: the vault refuses it (nonce used), whoever submits it.
    let nonce = wd["nonce"].as_u64().unwrap();
    let rec = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
        .block_on(bidtorrent::wallet::LedgerClient::new(w.ledger_addr()).withdrawal(nonce))
        .unwrap();
    let replay = node.withdraw(&w.deployer, &rec.auth);
    assert!(replay.is_err(), "a replayed authorisation paid again");
    assert!(format!("{:?}", replay.unwrap_err()).contains("nonce used"));
    assert_eq!(node.token_balance(&seller_chain, None).unwrap(), 3 * TOKEN);
    kill(ledger);
}

#[test]
fn a_ledger_killed_between_seeing_a_deposit_and_crediting_it_credits_it_once() {
    killed_between_seeing_a_deposit_and_crediting_it(false);
}

#[test]
fn a_ledger_killed_between_seeing_a_deposit_and_crediting_it_credits_it_once_postgres() {
    killed_between_seeing_a_deposit_and_crediting_it(true);
}

fn killed_between_seeing_a_deposit_and_crediting_it(postgres: bool) {
    let Some(w) = setup_on(1, postgres) else {
        return;
    };
    let buyer = w.wallet("buyer");
    let ledger = w.start_ledger(Some("deposit_seen"));
    let addr = buyer.chain_address();
    fund(&w, &addr, 10 * TOKEN);
    buyer.json(&["deposit", "4"]);
    w.mine(1);
    // The ledger sees the deposit and dies (SIGKILL) before crediting it.
    let mut ledger = ledger;
    let start = Instant::now();
    let status = loop {
        if let Some(s) = ledger.try_wait().unwrap() {
            break s;
        }
        assert!(
            start.elapsed() < Duration::from_secs(30),
            "the failpoint never fired"
        );
        std::thread::sleep(Duration::from_millis(20));
    };
    use std::os::unix::process::ExitStatusExt;
    assert_eq!(status.signal(), Some(9));
    // Restarted, it credits the deposit exactly once, however often it restarts.
    for _ in 0..3 {
        let l = w.start_ledger(None);
        buyer.wait_balance(4 * TOKEN as u64);
        std::thread::sleep(Duration::from_millis(300));
        kill(l);
    }
    let l = w.start_ledger(None);
    buyer.wait_balance(4 * TOKEN as u64);
    let a = audit(&w);
    assert_eq!(a["consistent"], true, "{a}");
    assert_eq!(a["chain"]["deposited"], 4 * TOKEN as u64);
    assert_eq!(a["chain"]["vault_holdings"], 4 * TOKEN as u64);
    kill(l);
}

#[test]
fn a_ledger_killed_between_signing_a_withdrawal_and_recording_it_loses_nothing() {
    killed_between_signing_a_withdrawal_and_recording_it(false);
}

#[test]
fn a_ledger_killed_between_signing_a_withdrawal_and_recording_it_loses_nothing_postgres() {
    killed_between_signing_a_withdrawal_and_recording_it(true);
}

fn killed_between_signing_a_withdrawal_and_recording_it(postgres: bool) {
    let Some(w) = setup_on(0, postgres) else {
        return;
    };
    let buyer = w.wallet("buyer");
    let l = w.start_ledger(None);
    let addr = buyer.chain_address();
    fund(&w, &addr, 10 * TOKEN);
    buyer.json(&["deposit", "6"]);
    buyer.wait_balance(6 * TOKEN as u64);
    kill(l);
    let mut l = w.start_ledger(Some("withdrawal_signed"));
    let o = buyer.run(&["withdraw", "2", "--json"]);
    assert!(
        !o.status.success(),
        "the withdrawal went through a ledger that died"
    );
    let start = Instant::now();
    while l.try_wait().unwrap().is_none() {
        assert!(start.elapsed() < Duration::from_secs(10));
        std::thread::sleep(Duration::from_millis(20));
    }
    // Nothing was debited and nothing can be paid: the signature never left the ledger.
    let l = w.start_ledger(None);
    buyer.wait_balance(6 * TOKEN as u64);
    assert_eq!(w.node().token_balance(&addr, None).unwrap(), 4 * TOKEN);
    let a = audit(&w);
    assert_eq!(a["consistent"], true, "{a}");
    assert_eq!(a["chain"]["withdrawn"], 0);
    // Asked again, it withdraws once.
    let wd = buyer.json(&["withdraw", "2"]);
    assert_eq!(wd["withdrawn"], 2 * TOKEN as u64);
    buyer.wait_balance(4 * TOKEN as u64);
    assert_eq!(w.node().token_balance(&addr, None).unwrap(), 6 * TOKEN);
    let a = wait_audit(&w, 6 * TOKEN as u64, 2 * TOKEN as u64);
    assert_eq!(a["consistent"], true, "{a}");
    kill(l);
}

#[test]
fn a_reorganisation_shallower_than_the_confirmations_changes_nothing() {
    let Some(w) = setup(3) else { return };
    let buyer = w.wallet("buyer");
    let l = w.start_ledger(None);
    let addr = buyer.chain_address();
    fund(&w, &addr, 10 * TOKEN);
    let node = w.node();
    buyer.json(&["deposit", "5"]);
    w.mine(1);
    // Two blocks deep (the deposit and one on top): under the 3 confirmations.
    std::thread::sleep(Duration::from_millis(500));
    assert_eq!(buyer.show()["balance"], 0);
    // Those two blocks are replaced by empty ones: the deposit never happened.
    node.rpc("anvil_reorg", json!([2, []])).unwrap();
    assert_eq!(node.token_balance(&w.cfg.vault, None).unwrap(), 0);
    w.mine(5);
    std::thread::sleep(Duration::from_millis(800));
    assert_eq!(buyer.show()["balance"], 0);
    let a = audit(&w);
    assert_eq!(a["consistent"], true, "{a}");
    assert_eq!(a["chain"]["deposited"], 0);
    // A deposit that does reach its confirmations is credited.
    buyer.json(&["deposit", "1"]);
    w.mine(3);
    buyer.wait_balance(TOKEN as u64);
    // (Audits are cached for a second: wait for one that includes the deposit.)
    let a = wait_audit(&w, TOKEN as u64, 0);
    assert_eq!(a["consistent"], true, "{a}");
    assert_eq!(a["chain"]["vault_holdings"], TOKEN as u64);
    kill(l);
}

#[test]
fn demo_chain_funds_the_swarm_through_the_vault_and_the_books_agree() {
    let Some(anvil) = tool("anvil") else { return };
    let bin_dir = anvil.parent().unwrap().to_path_buf();
    let path = std::env::join_paths(
        std::iter::once(bin_dir).chain(std::env::split_paths(&std::env::var_os("PATH").unwrap())),
    )
    .unwrap();
    let o = Command::new(BIN)
        .args([
            "demo",
            "--chain",
            "--headless",
            "--json",
            "--size",
            "1M",
            "--leechers",
            "3",
        ])
        .env("PATH", path)
        .env_remove("BIDTORRENT_ANVIL")
        .stdin(Stdio::null())
        .output()
        .unwrap();
    assert!(
        o.status.success(),
        "demo --chain: {}",
        String::from_utf8_lossy(&o.stderr)
    );
    let r: Value = serde_json::from_slice(&o.stdout).unwrap();
    let c = &r["chain"];
    assert_eq!(c["consistent"], true, "{c}");
    assert_eq!(r["settlement"]["ledger_consistent"], true);
    let deposits = c["deposits"].as_array().unwrap();
    let withdrawals = c["withdrawals"].as_array().unwrap();
    assert!(!deposits.is_empty() && !withdrawals.is_empty(), "{c}");
    // Every member's chain balance moved by exactly what it deposited and withdrew.
    let sum = |list: &[Value], peer: &Value| -> i128 {
        list.iter()
            .filter(|m| &m["peer"] == peer)
            .map(|m| m["amount"].as_u64().unwrap() as i128)
            .sum()
    };
    for m in c["members"].as_array().unwrap() {
        let before = m["before"].as_u64().unwrap() as i128;
        let after = m["after"].as_u64().unwrap() as i128;
        assert_eq!(
            after,
            before - sum(deposits, &m["peer"]) + sum(withdrawals, &m["peer"]),
            "{m}"
        );
    }
    // What the sellers earned in the swarm left the vault as their withdrawals.
    let earned = r["settlement"]["earned"].as_u64().unwrap();
    assert!(earned > 0, "nobody paid anything: {r}");
    let audit = &c["audit"]["chain"];
    assert_eq!(audit["withdrawals_pending"], 0);
    assert_eq!(
        audit["vault_holdings"].as_u64().unwrap(),
        audit["deposited"].as_u64().unwrap() - audit["withdrawals_paid"].as_u64().unwrap()
    );
}

#[test]
fn demo_chain_without_anvil_says_how_to_install_it() {
    let empty = tempfile::tempdir().unwrap();
    let o = Command::new(BIN)
        .args(["demo", "--chain", "--headless", "--json"])
        .env("PATH", empty.path())
        .env_remove("BIDTORRENT_ANVIL")
        .current_dir(empty.path())
        .stdin(Stdio::null())
        .output()
        .unwrap();
    assert!(!o.status.success());
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(err.contains("npm install @foundry-rs/anvil"), "{err}");
}

#[test]
fn an_authorisation_unused_past_its_deadline_is_refunded_and_the_vault_refuses_it() {
    let Some(w) = setup(1) else { return };
    let l = w.start_ledger(None);
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let client = bidtorrent::wallet::LedgerClient::new(w.ledger_addr());
    let key = bidtorrent::wallet::keys::generate_key();
    let node = w.node();
    // A deposit for this account, paid by the token holder.
    node.deposit(&w.deployer, (5 * TOKEN) as u64, PublicKey::of(&key))
        .unwrap();
    w.mine(1);
    let balance = |c: &bidtorrent::wallet::LedgerClient| rt.block_on(c.balance(&key)).unwrap().0;
    let start = Instant::now();
    while balance(&client).0 != 5 * TOKEN as u64 {
        assert!(
            start.elapsed() < Duration::from_secs(30),
            "deposit never credited"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    // Authorised (and debited), but never submitted.
    let to = Address([0x42; 20]);
    let rec = rt
        .block_on(client.withdraw(&key, bidtorrent::wallet::Amount(2 * TOKEN as u64), to))
        .unwrap();
    assert_eq!(balance(&client).0, 3 * TOKEN as u64);
    // Eight days later, in a confirmed block: refunded, once.
    node.rpc("evm_increaseTime", json!([8 * 24 * 3600]))
        .unwrap();
    w.mine(2);
    let start = Instant::now();
    while balance(&client).0 != 5 * TOKEN as u64 {
        assert!(start.elapsed() < Duration::from_secs(30), "never refunded");
        std::thread::sleep(Duration::from_millis(50));
    }
    let now = rt.block_on(client.withdrawal(rec.auth.nonce)).unwrap();
    assert_eq!(
        now.state,
        bidtorrent::wallet::ledger::chain::WithdrawalState::Refunded
    );
    // The vault refuses it now.
    let late = node.withdraw(&w.deployer, &rec.auth);
    assert!(format!("{:?}", late.unwrap_err()).contains("expired"));
    assert_eq!(node.token_balance(&to, None).unwrap(), 0);
    w.mine(2);
    std::thread::sleep(Duration::from_millis(300));
    assert_eq!(balance(&client).0, 5 * TOKEN as u64);
    let a = wait_audit(&w, 5 * TOKEN as u64, 0);
    assert_eq!(a["consistent"], true, "{a}");
    assert_eq!(a["chain"]["withdrawn"], 0);
    assert_eq!(a["chain"]["vault_holdings"], 5 * TOKEN as u64);
    kill(l);
}
