//! The money's lifecycle run by the daemon (issue 11), with the real binary: a real `ledger
//! serve` and daemons with the market on. Every wallet command works through the control
//! socket while the daemon holds the wallet; the seller redeems on its own, the buyer sizes
//! its escrow, renews a channel that ran dry, closes idle channels and collects the refunds.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // tests fail loudly

mod engine_util;

use std::time::{Duration, Instant};

use engine_util::daemon::{Daemon, stderr};
use engine_util::ledger::{Ledger, market_config, wallet_address};
use engine_util::*;
use serde_json::Value;

fn stdout(o: &std::process::Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

fn num(v: &Value, key: &str) -> u64 {
    v[key]
        .as_u64()
        .unwrap_or_else(|| panic!("{key} missing in {v}"))
}

/// Polls `f` until it returns `Some`, for at most `within`.
fn wait_for<T>(within: Duration, what: &str, mut f: impl FnMut() -> Option<T>) -> T {
    let deadline = Instant::now() + within;
    loop {
        if let Some(v) = f() {
            return v;
        }
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(200));
    }
}

#[test]
fn every_wallet_command_works_while_the_daemon_holds_the_wallet() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let ledger = Ledger::start(&tmp.path().join("ledger"), "127.0.0.1:0", 2);
    let (sdir, bdir) = (tmp.path().join("seller"), tmp.path().join("buyer"));
    let seller_key = wallet_address(&sdir);
    let buyer_key = wallet_address(&bdir);
    ledger.mint(&buyer_key, "10");
    // The seller's own timer would redeem much later: `wallet redeem` does it now.
    let mut seller = Daemon::start(
        &sdir,
        Some(&market_config(
            &ledger.addr,
            "redeem_interval_secs = 3600\nredeem_threshold = \"100\"\n",
        )),
    );
    let buyer = Daemon::start(&bdir, Some(&market_config(&ledger.addr, "")));
    assert_eq!(buyer.json(&["status", "--json"])["market"], "on");

    // Open and pay, as the buyer, through its daemon.
    let opened = buyer.json(&[
        "wallet",
        "open",
        &seller_key,
        "1",
        "--expiry-secs",
        "3600",
        "--json",
    ]);
    let channel = opened["channel"].as_str().expect("channel").to_string();
    assert_eq!(num(&opened, "cap"), 1_000_000, "{opened}");
    let paid = buyer.cli(&["wallet", "pay", &channel[..12], "0.25"]);
    assert!(paid.status.success(), "pay: {}", stderr(&paid));
    let payment = paid.stdout.clone();
    let p: Value = serde_json::from_slice(&payment).expect("payment json");
    assert!(
        p["voucher"].is_string() && p["certificate"].is_string(),
        "{p}"
    );
    let payments = buyer.cli(&["wallet", "payments"]);
    assert!(payments.status.success(), "{}", stderr(&payments));
    assert_eq!(stdout(&payments), String::from_utf8_lossy(&payment));

    // Accept and redeem, as the seller, through its daemon.
    let accepted = seller.cli_input(&["wallet", "accept", "-"], &payment);
    assert!(accepted.status.success(), "accept: {}", stderr(&accepted));
    let shown = seller.json(&["wallet", "show", "--json"]);
    assert_eq!(num(&shown, "unredeemed"), 250_000, "{shown}");
    assert_eq!(num(&shown, "redeemed"), 0, "{shown}");
    let redeemed = seller.json(&["wallet", "redeem", "--json"]);
    assert_eq!(num(&redeemed[0], "paid"), 250_000, "{redeemed}");
    let again = seller.cli(&["wallet", "redeem"]);
    assert!(again.status.success(), "{}", stderr(&again));
    assert!(
        stdout(&again).contains("nothing to redeem"),
        "{}",
        stdout(&again)
    );
    let shown = seller.json(&["wallet", "show", "--json"]);
    assert_eq!(num(&shown, "unredeemed"), 0, "{shown}");
    assert_eq!(num(&shown, "redeemed"), 250_000, "{shown}");
    assert_eq!(num(&shown, "available"), 250_000, "{shown}");

    // The buyer's money, spelled out.
    let shown = buyer.json(&["wallet", "show", "--json"]);
    assert_eq!(num(&shown, "available"), 9_000_000, "{shown}");
    assert_eq!(num(&shown, "escrowed"), 750_000, "{shown}");
    assert_eq!(num(&shown, "refundable"), 750_000, "{shown}");
    let human = buyer.cli(&["wallet"]);
    assert!(
        stdout(&human).contains("escrowed 0.750000 (0.750000 refundable)"),
        "{}",
        stdout(&human)
    );

    // Close, as the buyer: the ledger's grace, then the daemon collects the refund itself.
    let closed = buyer.cli(&["wallet", "close", &channel[..10]]);
    assert!(closed.status.success(), "close: {}", stderr(&closed));
    assert!(stdout(&closed).contains("Closing"), "{}", stdout(&closed));
    let shown = wait_for(Duration::from_secs(20), "the refund", || {
        let v = buyer.json(&["wallet", "show", "--json"]);
        (num(&v, "escrowed") == 0).then_some(v)
    });
    assert_eq!(num(&shown, "available"), 9_750_000, "{shown}");
    let history = buyer.json(&["wallet", "history", "--json"]);
    let kinds: Vec<&str> = history
        .as_array()
        .expect("history")
        .iter()
        .map(|e| e["kind"].as_str().expect("kind"))
        .collect();
    for k in ["opened", "paid", "close_requested", "refunded"] {
        assert!(kinds.contains(&k), "no {k} in {kinds:?}");
    }
    let export = buyer.json(&["wallet", "export", "--json"]);
    assert_eq!(export["public_key"], buyer_key.as_str(), "{export}");
    assert!(export.get("secret_key").is_none());

    // Mistakes: one clear line, a failing exit.
    let bad = buyer.cli(&["wallet", "close", "zz"]);
    assert!(!bad.status.success());
    assert!(
        stderr(&bad).contains("not a channel id"),
        "{}",
        stderr(&bad)
    );
    let bad = buyer.cli(&["wallet", "pay", &channel, "0.1"]);
    assert!(!bad.status.success(), "paid on a closed channel");
    assert!(stderr(&bad).contains("not open"), "{}", stderr(&bad));

    // A clean shutdown redeems what the seller earned (its timer and threshold are far off).
    let opened = buyer.json(&["wallet", "open", &seller_key, "1", "--json"]);
    let second = opened["channel"].as_str().expect("channel").to_string();
    let paid = buyer.cli(&["wallet", "pay", &second, "0.1"]);
    assert!(paid.status.success(), "pay: {}", stderr(&paid));
    let accepted = seller.cli_input(&["wallet", "accept", "-"], &paid.stdout);
    assert!(accepted.status.success(), "accept: {}", stderr(&accepted));
    assert_eq!(
        num(&seller.json(&["wallet", "--json"]), "unredeemed"),
        100_000
    );
    assert!(seller.terminate().success());
    let ledger_addr = ledger.addr.to_string();
    let after = seller.cli(&["wallet", "show", "--json", "--ledger", &ledger_addr]);
    assert!(after.status.success(), "{}", stderr(&after));
    let after: Value = serde_json::from_slice(&after.stdout).expect("json");
    assert_eq!(num(&after, "unredeemed"), 0, "{after}");
    assert_eq!(num(&after, "redeemed"), 350_000, "{after}");
}

/// A download paid through the market: the buyer escrows no more than `channel_cap` per
/// channel and renews the channel that ran dry; the seller redeems on its timer; once the
/// download is done the buyer's idle channels are closed and refunded. At the end the books
/// agree: paid = earned = redeemed, nothing is escrowed, and the buyer holds minted − paid.
#[test]
fn the_daemon_redeems_renews_and_refunds_on_its_own() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let ledger = Ledger::start(&tmp.path().join("ledger"), "127.0.0.1:0", 2);
    let (sdir, bdir) = (tmp.path().join("seller"), tmp.path().join("buyer"));
    let _ = wallet_address(&sdir);
    let buyer_key = wallet_address(&bdir);
    ledger.mint(&buyer_key, "20");
    let torrent = make_torrent(tmp.path(), "life.bin", &[("life.bin", 4 << 20)], 65536);
    let seller = Daemon::start(
        &sdir,
        Some(&format!(
            "[limits]\nupload = \"1M\"\n{}",
            market_config(
                &ledger.addr,
                "redeem_interval_secs = 2\nredeem_threshold = \"100\"\n\
                 [market.seller]\nstrategy = \"highest-bid\"\nnon_market_share = 0.1\n"
            )
        )),
    );
    seller.json(&[
        "add",
        s(&torrent),
        "--dir",
        s(&tmp.path().join("src")),
        "--json",
    ]);
    seller.wait_seeding(Duration::from_secs(20));
    let peer = format!("127.0.0.1:{}", seller.port());
    // 4 MiB at 0.2 per MiB (highest-bid: each buyer pays its bid) is 0.8: more than one
    // channel of 0.5 holds.
    let buyer = Daemon::start(
        &bdir,
        Some(&market_config(
            &ledger.addr,
            "channel_cap = \"0.5\"\nchannel_idle_secs = 3\n\
             [market.buyer]\nstrategy = \"fixed\"\nprice = \"0.2\"\n",
        )),
    );
    buyer.json(&[
        "add",
        s(&torrent),
        "--dir",
        s(&bdir.join("dl")),
        "--peer",
        &peer,
        "--json",
    ]);
    buyer.wait_seeding(Duration::from_secs(60));
    assert_same_tree(
        &tmp.path().join("src").join("life.bin"),
        &bdir.join("dl").join("life.bin"),
    );

    let (b, s_) = wait_for(Duration::from_secs(40), "settlement", || {
        let b = buyer.json(&["wallet", "show", "--json"]);
        let s_ = seller.json(&["wallet", "show", "--json"]);
        let settled = num(&b, "paid") > 0
            && num(&b, "paid") == num(&s_, "earned")
            && num(&s_, "unredeemed") == 0
            && num(&b, "escrowed") == 0
            && b["outgoing"]
                .as_array()
                .is_some_and(|a| a.iter().all(|c| c["state"] == "closed"));
        settled.then_some((b, s_))
    });
    let paid = num(&b, "paid");
    println!(
        "paid {paid} µ, earned {}, redeemed {}, buyer available {}, channels {}",
        num(&s_, "earned"),
        num(&s_, "redeemed"),
        num(&b, "available"),
        b["outgoing"].as_array().map_or(0, |a| a.len())
    );
    assert_eq!(num(&s_, "redeemed"), paid);
    assert_eq!(num(&s_, "available"), paid);
    assert_eq!(num(&b, "available"), 20_000_000 - paid);
    let outgoing = b["outgoing"].as_array().expect("outgoing");
    assert!(outgoing.len() >= 2, "the dry channel was not renewed: {b}");
    for c in outgoing {
        assert_eq!(c["state"], "closed", "{c}");
    }
    let history = buyer.json(&["wallet", "history", "--json"]);
    let caps: Vec<u64> = history
        .as_array()
        .expect("history")
        .iter()
        .filter(|e| e["kind"] == "opened")
        .map(|e| num(e, "amount"))
        .collect();
    assert_eq!(caps.len(), outgoing.len(), "{history}");
    assert!(
        caps.iter().all(|c| *c <= 500_000),
        "over channel_cap: {caps:?}"
    );
    let audit = ledger.audit();
    assert_eq!(audit["consistent"], true, "{audit}");
    assert_eq!(num(&audit, "escrowed"), 0, "{audit}");
}

/// `demo --headless --json` speaks one unit, integer micro-tokens, and reports the price
/// actually paid per MiB bought (never above the bid), not only the bid in force at the end.
#[test]
fn demo_reports_the_price_paid_in_micro_tokens() {
    let out = std::process::Command::new(BIN)
        .args([
            "demo",
            "--headless",
            "--json",
            "--seeders",
            "1",
            "--leechers",
            "3",
            "--size",
            "3M",
            "--seed-upload",
            "1M",
        ])
        .env("XDG_STATE_HOME", std::env::temp_dir())
        .output()
        .expect("demo");
    assert!(out.status.success(), "demo: {}", stderr(&out));
    let r: Value =
        serde_json::from_slice(&out.stdout).unwrap_or_else(|e| panic!("{e}: {}", stdout(&out)));
    for key in ["paid", "earned", "redeemed", "minted"] {
        assert!(r["settlement"][key].is_u64(), "settlement {key}: {r}");
    }
    let mut bidders = 0;
    for p in r["peers"].as_array().expect("peers") {
        for key in ["paid", "earned", "bytes_down", "bytes_up"] {
            assert!(p[key].is_u64(), "{key} is not an integer: {p}");
        }
        if p["bid"].is_null() {
            continue;
        }
        bidders += 1;
        let bid = num(p, "bid");
        if num(p, "paid") > 0 {
            let price = num(p, "price_paid_per_mib");
            assert!(
                price > 0 && price <= bid,
                "paid {price} per MiB on a bid of {bid}: {p}"
            );
        }
    }
    assert!(bidders > 0, "no bidder in {r}");
}
