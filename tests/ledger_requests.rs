//! Malformed, unauthorised and replayed ledger requests, over raw TCP to a real server: each
//! gets a clear error code and leaves the books exactly as they were.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // tests fail loudly

use bidtorrent::wallet::keys::{generate_key, now_secs, to_hex};
use bidtorrent::wallet::ledger::proto::{self, Reply, Request};
use bidtorrent::wallet::ledger::{Action, Audit, LedgerStore};
use bidtorrent::wallet::{Amount, ChannelId, EmbeddedLedger, PublicKey};
use tokio::io::AsyncWriteExt;
use tokio::net::TcpStream;

async fn raw(addr: std::net::SocketAddr, body: &[u8]) -> Option<Reply> {
    let mut s = TcpStream::connect(addr).await.unwrap();
    proto::write_frame(&mut s, body).await.ok()?;
    let f = proto::read_frame(&mut s).await.ok()??;
    Some(serde_json::from_slice(&f).unwrap())
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

#[tokio::test]
async fn bad_requests_change_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let (ledger, addr) = EmbeddedLedger::start(&dir.path().join("l")).await.unwrap();
    let buyer = generate_key();
    let seller = generate_key();
    let bpk = PublicKey::of(&buyer);
    ledger.mint(bpk, Amount(1_000)).await.unwrap();
    let id = ledger.id();
    let books = |a: &Audit| (a.minted, a.balances, a.escrowed);
    let before = books(&ledger.store().audit().unwrap());

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
        LedgerStore::sign_request(
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
    let other = LedgerStore::sign_request(&buyer, PublicKey::of(&seller), 3, Action::Balance);
    assert_eq!(code(raw(addr, &send(&other)).await), "wrong_ledger");

    // Replay: the same signed open twice; the second is refused and escrows nothing.
    let open = LedgerStore::sign_request(
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
    let after_open = books(&ledger.store().audit().unwrap());
    assert_eq!(code(raw(addr, &send(&open)).await), "stale_nonce");
    // An older nonce is refused as well.
    assert_eq!(
        code(
            raw(
                addr,
                &send(&LedgerStore::sign_request(&buyer, id, 9, Action::Balance))
            )
            .await
        ),
        "stale_nonce"
    );
    // Business refusals: over balance, to oneself, past expiry, zero cap; unknown channel.
    let o = |nonce, seller: PublicKey, cap, expiry| {
        send(&LedgerStore::sign_request(
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
    let close = LedgerStore::sign_request(
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
    assert!(
        matches!(serde_json::from_slice(&f).unwrap(), Reply::Error(e) if e.code == "malformed")
    );
    // Truncated frame: connection just drops.
    let mut s = TcpStream::connect(addr).await.unwrap();
    s.write_all(&[0, 0, 0, 50, b'{']).await.unwrap();
    drop(s);

    let a = ledger.store().audit().unwrap();
    assert!(a.consistent);
    assert_eq!(books(&a), after_open);
    assert_eq!(before.0, after_open.0);
    assert_eq!(ledger.store().balance(&bpk).unwrap(), Amount(900));
    let info = ledger.client().info().await.unwrap();
    assert_eq!(info.ledger, id);
}
