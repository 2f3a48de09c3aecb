//! A man in the middle between a wallet and its ledger: a TCP proxy that rewrites the
//! balance in `balance` replies (keeping the ledger's signature), or re-signs them with its
//! own key. The wallet must refuse both, say why in one line, and keep its last known
//! balance.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // tests fail loudly

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use bidtorrent::wallet::keys::generate_key;
use bidtorrent::wallet::ledger::proto::{self, Outcome, Reply, SignedReply};
use bidtorrent::wallet::{Amount, EmbeddedLedger, LedgerClient, LedgerError, Wallet, WalletError};
use ed25519_dalek::SigningKey;
use tokio::net::{TcpListener, TcpStream};

#[derive(Clone, Copy)]
enum Tamper {
    /// Multiply the balance by 1000, leave the signature as it was.
    AlterBalance,
    /// Rewrite the balance and sign the reply with the proxy's own key.
    Resign,
}

/// Forwards request frames unchanged and tampers with `balance` replies; counts them.
async fn proxy(upstream: SocketAddr, tamper: Tamper) -> (SocketAddr, Arc<AtomicUsize>) {
    let l = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = l.local_addr().unwrap();
    let hits = Arc::new(AtomicUsize::new(0));
    let h = hits.clone();
    let forger: SigningKey = generate_key();
    tokio::spawn(async move {
        while let Ok((mut down, _)) = l.accept().await {
            let h = h.clone();
            let forger = forger.clone();
            tokio::spawn(async move {
                let mut up = TcpStream::connect(upstream).await.unwrap();
                while let Ok(Some(req)) = proto::read_frame(&mut down).await {
                    proto::write_frame(&mut up, &req).await.unwrap();
                    let Ok(Some(frame)) = proto::read_frame(&mut up).await else {
                        return;
                    };
                    let mut env: SignedReply = serde_json::from_slice(&frame).unwrap();
                    let mut reply: Reply = serde_json::from_str(&env.body).unwrap();
                    if let Reply::Ok(o) = &mut reply
                        && let Outcome::Balance { balance, .. } = o.as_mut()
                    {
                        h.fetch_add(1, Ordering::SeqCst);
                        *balance = Amount(balance.0 * 1000);
                        match tamper {
                            Tamper::AlterBalance => {
                                env.body = serde_json::to_string(&reply).unwrap();
                            }
                            Tamper::Resign => {
                                env = serde_json::from_slice(&proto::sign_reply(
                                    &forger, &req, &reply,
                                ))
                                .unwrap();
                            }
                        }
                    }
                    let out = serde_json::to_vec(&env).unwrap();
                    if proto::write_frame(&mut down, &out).await.is_err() {
                        return;
                    }
                }
            });
        }
    });
    (addr, hits)
}

async fn refused(tamper: Tamper) {
    let tmp = tempfile::tempdir().unwrap();
    let (ledger, addr) = EmbeddedLedger::start(&tmp.path().join("ledger"))
        .await
        .unwrap();
    let w = Wallet::open(&tmp.path().join("wallet")).unwrap();
    ledger.mint(w.public_key(), Amount(5)).await.unwrap();
    // The honest path first: the wallet learns (pins) the ledger and its balance.
    assert_eq!(
        w.refresh(&LedgerClient::new(addr.to_string()))
            .await
            .unwrap(),
        Amount(5)
    );

    let (mitm, hits) = proxy(addr, tamper).await;
    let client = LedgerClient::pinned(mitm.to_string(), ledger.id());
    let err = w.refresh(&client).await.unwrap_err();
    assert_eq!(
        hits.load(Ordering::SeqCst),
        1,
        "the proxy saw no balance reply"
    );
    let WalletError::Ledger(LedgerError::BadReply { .. }) = &err else {
        panic!("expected a refused reply, got {err:?}");
    };
    let msg = err.to_string();
    assert!(
        msg.contains("not signed by ledger") && msg.contains(&ledger.id().to_string()),
        "unclear error: {msg}"
    );
    assert!(!msg.contains('\n'), "error is not one line: {msg}");
    // Nothing of the altered reply was stored.
    assert_eq!(w.balance().unwrap(), Amount(5));

    // A client that learns the ledger through the proxy pins the real ledger (info is not
    // touched) and refuses the altered balance all the same.
    let other = generate_key();
    ledger
        .mint(bidtorrent::wallet::PublicKey::of(&other), Amount(7))
        .await
        .unwrap();
    let fresh = LedgerClient::new(mitm.to_string());
    let r = fresh.balance(&other).await;
    assert!(matches!(r, Err(LedgerError::BadReply { .. })), "{r:?}");
    assert_eq!(fresh.ledger_id().await.unwrap(), ledger.id());
}

/// A wallet that trusted the ledger at an address keeps trusting only that ledger there:
/// an impostor with its own key at that address (it answers `info` truthfully about itself)
/// is refused, even on a fresh client.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_impostor_at_a_trusted_address_is_refused() {
    let tmp = tempfile::tempdir().unwrap();
    let (real, addr) = EmbeddedLedger::start(&tmp.path().join("real"))
        .await
        .unwrap();
    let (impostor, fake_addr) = EmbeddedLedger::start(&tmp.path().join("fake"))
        .await
        .unwrap();
    let w = Wallet::open(&tmp.path().join("wallet")).unwrap();
    real.mint(w.public_key(), Amount(5)).await.unwrap();
    impostor.mint(w.public_key(), Amount(5_000)).await.unwrap();
    w.refresh(&LedgerClient::new(addr.to_string()))
        .await
        .unwrap();
    // The wallet trusted `real` at `addr`; pretend `addr` now leads to the impostor by
    // telling the wallet the impostor's address is where it met `real`.
    w.trust_ledger(real.id(), &fake_addr.to_string()).unwrap();
    let err = w
        .refresh(&LedgerClient::new(fake_addr.to_string()))
        .await
        .unwrap_err();
    assert!(
        matches!(err, WalletError::Ledger(LedgerError::BadReply { .. })),
        "{err:?}"
    );
    assert_eq!(w.balance().unwrap(), Amount(5));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_balance_altered_in_transit_is_refused() {
    refused(Tamper::AlterBalance).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_reply_signed_by_another_key_is_refused() {
    refused(Tamper::Resign).await;
}
