//! Malformed, unauthorised and replayed ledger requests, over raw TCP to a real server: each
//! gets a clear error code, signed by the ledger, and leaves the books exactly as they were.
//! Also: an account with hundreds of channels stays readable (paged `balance`), and the
//! per-key rate limit. Every test runs on sled and on PostgreSQL (temporary cluster).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // tests fail loudly

#[path = "support/postgres.rs"]
mod pg;

use std::sync::Arc;

use bidtorrent::wallet::keys::{generate_key, now_secs, to_hex};
use bidtorrent::wallet::ledger::proto::{self, Reply, Request};
use bidtorrent::wallet::ledger::store::postgres;
use bidtorrent::wallet::ledger::{
    Action, Audit, ChannelState, Ledger, LedgerConfig, Outcome, Side,
};
use bidtorrent::wallet::{Amount, ChannelId, EmbeddedLedger, LedgerId, PublicKey};
use tokio::io::AsyncWriteExt;
use tokio::net::TcpStream;

/// Sends one frame; the reply must be signed by `ledger` for exactly this request.
async fn raw_from(ledger: LedgerId, addr: std::net::SocketAddr, body: &[u8]) -> Option<Reply> {
    let mut s = TcpStream::connect(addr).await.unwrap();
    proto::write_frame(&mut s, body).await.ok()?;
    let f = proto::read_frame(&mut s).await.ok()??;
    Some(proto::open_reply(Some(ledger), body, &f).unwrap())
}

/// A ledger on sled (`pg = false`) or on a fresh migrated PostgreSQL database; `None` when
/// PostgreSQL is unavailable and the test may skip.
async fn start(
    dir: &std::path::Path,
    pg: bool,
    config: LedgerConfig,
) -> Option<(EmbeddedLedger, std::net::SocketAddr)> {
    let url = if pg {
        let url = tokio::task::spawn_blocking(|| {
            let c = pg::PgCluster::shared()?;
            let url = c.fresh_db();
            postgres::migrate(&url).unwrap();
            Some(url)
        })
        .await
        .unwrap()?;
        Some(url)
    } else {
        None
    };
    Some(
        EmbeddedLedger::start_on(dir, url.as_deref(), config)
            .await
            .unwrap(),
    )
}

/// Store calls block (PostgreSQL): run them off the async workers.
async fn blocking<T: Send + 'static>(
    ledger: &Arc<Ledger>,
    f: impl FnOnce(&Ledger) -> T + Send + 'static,
) -> T {
    let l = ledger.clone();
    tokio::task::spawn_blocking(move || f(&l)).await.unwrap()
}

fn code(r: Option<Reply>) -> String {
    match r {
        Some(Reply::Error(e)) => {
            assert!(!e.message.is_empty());
            e.code
        }
        other => panic!("expected an error, got {other:?}"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_requests_change_nothing_sled() {
    bad_requests_change_nothing(false).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_requests_change_nothing_postgres() {
    bad_requests_change_nothing(true).await;
}

async fn bad_requests_change_nothing(pg: bool) {
    let dir = tempfile::tempdir().unwrap();
    let Some((ledger, addr)) = start(&dir.path().join("l"), pg, LedgerConfig::default()).await
    else {
        return;
    };
    let buyer = generate_key();
    let seller = generate_key();
    let bpk = PublicKey::of(&buyer);
    ledger.mint(bpk, Amount(1_000)).await.unwrap();
    let id = ledger.id();
    let raw = |addr, body: &[u8]| {
        let body = body.to_vec();
        async move { raw_from(id, addr, &body).await }
    };
    let books = |a: &Audit| (a.minted, a.balances, a.escrowed);
    let store = ledger.store().clone();
    let before = books(&blocking(&store, |l| l.audit().unwrap()).await);

    // Not JSON, unknown op, extra field, wrong types.
    assert_eq!(code(raw(addr, b"\xff\x00garbage").await), "malformed");
    assert_eq!(code(raw(addr, br#"{"op":"steal"}"#).await), "malformed");
    assert_eq!(
        code(raw(addr, br#"{"op":"info","x":1}"#).await),
        "malformed"
    );
    assert_eq!(
        code(raw(addr, br#"{"op":"signed","payload":5,"sig":"00"}"#).await),
        "malformed"
    );
    // Signed envelope with a broken signature field or payload.
    let bad_sig = serde_json::to_vec(&Request::Signed {
        payload: "{}".into(),
        sig: "zz".into(),
    })
    .unwrap();
    assert_eq!(code(raw(addr, &bad_sig).await), "malformed");
    let bad_payload = serde_json::to_vec(&Request::Signed {
        payload: "{".into(),
        sig: to_hex(&[0; 64]),
    })
    .unwrap();
    assert_eq!(code(raw(addr, &bad_payload).await), "malformed");

    let mint = |key: &ed25519_dalek::SigningKey, nonce| {
        proto::sign_request(
            key,
            id,
            nonce,
            Action::Mint {
                account: PublicKey::of(key),
                amount: Amount(1 << 40),
            },
        )
    };
    let send = |r: &Request| serde_json::to_vec(r).unwrap();
    // Mint by someone other than the admin.
    assert_eq!(code(raw(addr, &send(&mint(&buyer, 1))).await), "not_admin");
    // A signature that does not match: payload signed by one key, claiming another account.
    let Request::Signed { payload, sig } = mint(&buyer, 2) else {
        unreachable!()
    };
    let claimed = payload.replace(&bpk.to_string(), &PublicKey::of(&seller).to_string());
    assert_eq!(
        code(
            raw(
                addr,
                &send(&Request::Signed {
                    payload: claimed,
                    sig
                })
            )
            .await
        ),
        "bad_signature"
    );
    // A request signed for another ledger.
    let other = proto::sign_request(
        &buyer,
        PublicKey::of(&seller),
        3,
        Action::Balance {
            after: None,
            side: None,
        },
    );
    assert_eq!(code(raw(addr, &send(&other)).await), "wrong_ledger");

    // Replay: the same signed open twice; the second is refused and escrows nothing.
    let open = proto::sign_request(
        &buyer,
        id,
        10,
        Action::Open {
            seller: PublicKey::of(&seller),
            cap: Amount(100),
            expiry: now_secs() + 60,
        },
    );
    assert!(matches!(raw(addr, &send(&open)).await, Some(Reply::Ok(_))));
    let after_open = books(&blocking(&store, |l| l.audit().unwrap()).await);
    assert_eq!(code(raw(addr, &send(&open)).await), "stale_nonce");
    // An older nonce is refused as well.
    assert_eq!(
        code(
            raw(
                addr,
                &send(&proto::sign_request(
                    &buyer,
                    id,
                    9,
                    Action::Balance {
                        after: None,
                        side: None
                    }
                ))
            )
            .await
        ),
        "stale_nonce"
    );
    // Business refusals: over balance, to oneself, past expiry, zero cap; unknown channel.
    let o = |nonce, seller: PublicKey, cap, expiry| {
        send(&proto::sign_request(
            &buyer,
            id,
            nonce,
            Action::Open {
                seller,
                cap: Amount(cap),
                expiry,
            },
        ))
    };
    let spk = PublicKey::of(&seller);
    assert_eq!(
        code(raw(addr, &o(11, spk, 10_000, now_secs() + 60)).await),
        "insufficient_funds"
    );
    assert_eq!(
        code(raw(addr, &o(12, bpk, 10, now_secs() + 60)).await),
        "invalid"
    );
    assert_eq!(
        code(raw(addr, &o(13, spk, 10, now_secs() - 1)).await),
        "invalid"
    );
    assert_eq!(
        code(raw(addr, &o(14, spk, 0, now_secs() + 60)).await),
        "invalid"
    );
    let close = proto::sign_request(
        &buyer,
        id,
        15,
        Action::Close {
            channel: ChannelId([1; 32]),
            voucher: None,
        },
    );
    assert_eq!(code(raw(addr, &send(&close)).await), "unknown_channel");
    // A refused request's nonce is burned: replaying it later is refused even if it could
    // now succeed.
    assert_eq!(
        code(raw(addr, &o(11, spk, 10_000, now_secs() + 60)).await),
        "stale_nonce"
    );

    // Oversized frame: refused, connection closed, server still fine.
    let mut s = TcpStream::connect(addr).await.unwrap();
    s.write_all(&(proto::MAX_FRAME as u32 + 1).to_be_bytes())
        .await
        .unwrap();
    let f = proto::read_frame(&mut s).await.unwrap().unwrap();
    assert!(matches!(
        proto::open_reply(Some(id), b"", &f).unwrap(),
        Reply::Error(e) if e.code == "malformed"
    ));
    // Truncated frame: connection just drops.
    let mut s = TcpStream::connect(addr).await.unwrap();
    s.write_all(&[0, 0, 0, 50, b'{']).await.unwrap();
    drop(s);

    let a = blocking(&store, |l| l.audit().unwrap()).await;
    assert!(a.consistent);
    assert_eq!(books(&a), after_open);
    assert_eq!(before.0, after_open.0);
    assert_eq!(
        blocking(&store, move |l| l.balance(&bpk).unwrap()).await,
        Amount(900)
    );
    let info = ledger.client().info().await.unwrap();
    assert_eq!(info.ledger, id);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hundreds_of_channels_stay_readable_sled() {
    hundreds_of_channels_stay_readable(false).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hundreds_of_channels_stay_readable_postgres() {
    hundreds_of_channels_stay_readable(true).await;
}

/// 300 channels (far more than one 64 KiB frame could list): every reply fits a frame, the
/// client follows the pages, the summary counts them; once closed they leave the live list
/// at once and are read, paged, through `closed_channels`.
async fn hundreds_of_channels_stay_readable(pg: bool) {
    let dir = tempfile::tempdir().unwrap();
    let config = LedgerConfig {
        rate_per_key: None,
        ..LedgerConfig::default()
    };
    let Some((ledger, _)) = start(&dir.path().join("l"), pg, config).await else {
        return;
    };
    let buyer = generate_key();
    let seller = PublicKey::of(&generate_key());
    ledger
        .mint(PublicKey::of(&buyer), Amount(1_000_000))
        .await
        .unwrap();
    let client = ledger.client();
    let expiry = now_secs() + 600;
    for _ in 0..300 {
        client
            .signed(
                &buyer,
                Action::Open {
                    seller,
                    cap: Amount(10),
                    expiry,
                },
            )
            .await
            .unwrap();
    }
    let (balance, channels) = client.balance(&buyer).await.unwrap();
    assert_eq!(balance, Amount(1_000_000 - 3_000));
    assert_eq!(channels.len(), 300);
    let mut ids: Vec<_> = channels.iter().map(|c| c.channel).collect();
    ids.sort();
    ids.dedup();
    assert_eq!(ids.len(), 300, "a page repeated or skipped channels");

    // One page is bounded, and says where to continue.
    let first = client
        .signed(
            &buyer,
            Action::Balance {
                after: None,
                side: None,
            },
        )
        .await
        .unwrap();
    let Outcome::Balance { channels, next, .. } = first else {
        panic!("not a balance reply");
    };
    assert_eq!(channels.len(), proto::BALANCE_PAGE);
    assert!(next.is_some());
    let view = client.account(&buyer).await.unwrap();
    let summary = view.summary.unwrap();
    assert_eq!(
        (summary.paying.live, summary.paying.escrowed),
        (300, Amount(3_000))
    );
    // One side only.
    let paying = client
        .account_side(&buyer, Some(Side::Paying))
        .await
        .unwrap();
    assert_eq!(paying.channels.len(), 300);
    let paid_by = client
        .account_side(&buyer, Some(Side::PaidBy))
        .await
        .unwrap();
    assert!(paid_by.channels.is_empty());
    assert_eq!(paid_by.summary, Some(summary));
    assert_eq!(summary.paid_by.live, 0);
    assert_eq!(summary.minted, Amount(1_000_000));

    // Closed (expired and swept): out of the live list and the summary at once, and
    // listed page by page by `closed_channels`.
    let store = ledger.store().clone();
    let later = expiry + 1;
    let swept = blocking(&store, move |l| l.sweep_expired(later).unwrap()).await;
    assert_eq!(swept, 300);
    let view = client.account(&buyer).await.unwrap();
    assert_eq!(view.balance, Amount(1_000_000));
    assert!(
        view.channels.is_empty(),
        "{} closed channels listed as live",
        view.channels.len()
    );
    let summary = view.summary.unwrap();
    assert_eq!(
        (summary.paying.live, summary.paying.escrowed),
        (0, Amount::ZERO)
    );
    let mut closed = Vec::new();
    let mut after = None;
    loop {
        let (page, next) = client.closed_channels(&buyer, 0, after).await.unwrap();
        assert!(page.len() <= proto::BALANCE_PAGE);
        closed.extend(page);
        match next {
            Some(n) => after = Some(n),
            None => break,
        }
    }
    assert_eq!(closed.len(), 300);
    assert!(
        closed
            .iter()
            .all(|c| c.state == ChannelState::Closed && c.refunded == Amount(10))
    );
    let mut closed_ids: Vec<_> = closed.iter().map(|c| c.channel).collect();
    closed_ids.sort();
    assert_eq!(
        closed_ids, ids,
        "a closed page repeated or skipped channels"
    );
    // Closed before `since`: not listed.
    let (page, next) = client
        .closed_channels(&buyer, later + 1, None)
        .await
        .unwrap();
    assert!(page.is_empty() && next.is_none());
    let c = client.channel(ids[0]).await.unwrap();
    assert_eq!(c.refunded, Amount(10));
    assert!(blocking(&store, |l| l.audit().unwrap()).await.consistent);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_key_over_its_rate_is_refused_without_spending_anything() {
    let dir = tempfile::tempdir().unwrap();
    let config = LedgerConfig {
        rate_per_key: Some(5),
        ..LedgerConfig::default()
    };
    let Some((ledger, addr)) = start(&dir.path().join("l"), false, config).await else {
        return;
    };
    let id = ledger.id();
    let key = generate_key();
    let mut refused = 0;
    let mut last_refused = 0;
    let t = std::time::Instant::now();
    for nonce in 1..=40u64 {
        let req = proto::sign_request(
            &key,
            id,
            nonce,
            Action::Balance {
                after: None,
                side: None,
            },
        );
        let body = serde_json::to_vec(&req).unwrap();
        if let Some(Reply::Error(e)) = raw_from(id, addr, &body).await {
            assert_eq!(e.code, "rate_limited");
            refused += 1;
            last_refused = nonce;
        }
    }
    // At most the burst (10) plus what refilled meanwhile (5/s) got through.
    let allowed_max = 10 + (t.elapsed().as_secs_f64() * 5.0).ceil() as usize;
    assert!(
        40 - refused <= allowed_max,
        "{} of 40 served in {:?} at 5/s",
        40 - refused,
        t.elapsed()
    );
    assert!(refused > 0);
    // A refused request spent nothing, not even its nonce: once the bucket refills, the same
    // signed request goes through.
    tokio::time::sleep(std::time::Duration::from_millis(1200)).await;
    let again = proto::sign_request(
        &key,
        id,
        last_refused,
        Action::Balance {
            after: None,
            side: None,
        },
    );
    let again = serde_json::to_vec(&again).unwrap();
    if last_refused == 40 {
        assert!(matches!(
            raw_from(id, addr, &again).await,
            Some(Reply::Ok(_))
        ));
    }
    // Someone else is unaffected.
    let other = generate_key();
    let req = proto::sign_request(
        &other,
        id,
        1,
        Action::Balance {
            after: None,
            side: None,
        },
    );
    let body = serde_json::to_vec(&req).unwrap();
    assert!(matches!(
        raw_from(id, addr, &body).await,
        Some(Reply::Ok(_))
    ));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn connections_over_the_cap_are_told_busy_and_idle_ones_dropped() {
    let dir = tempfile::tempdir().unwrap();
    let config = LedgerConfig {
        max_connections: 1,
        idle_timeout: std::time::Duration::from_millis(800),
        ..LedgerConfig::default()
    };
    let Some((ledger, addr)) = start(&dir.path().join("l"), false, config).await else {
        return;
    };
    let id = ledger.id();
    let held = TcpStream::connect(addr).await.unwrap();
    tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    let mut s = TcpStream::connect(addr).await.unwrap();
    let f = proto::read_frame(&mut s).await.unwrap().unwrap();
    assert!(matches!(
        proto::open_reply(Some(id), b"", &f).unwrap(),
        Reply::Error(e) if e.code == "busy"
    ));
    // The idle connection is closed by the server, freeing its slot.
    let mut held = held;
    assert!(proto::read_frame(&mut held).await.unwrap().is_none());
    let info = serde_json::to_vec(&Request::Info {}).unwrap();
    assert!(matches!(
        raw_from(id, addr, &info).await,
        Some(Reply::Ok(_))
    ));
}
