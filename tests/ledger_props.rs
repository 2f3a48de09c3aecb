//! Property tests: random sequences of mint / open / pay / redeem / close / expire / replay
//! across several accounts, run against the real ledger store and a simple model. After every
//! step: the books balance (minted = Σ balances + Σ escrowed), every balance equals the
//! model's (so none went negative or moved without cause), a seller never received more than
//! the buyer signed, and a buyer never paid more than its cap. Runs on both stores: sled,
//! and PostgreSQL in a temporary cluster started by the test.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // tests fail loudly

#[path = "support/postgres.rs"]
mod pg;

use bidtorrent::wallet::keys::generate_key;
use bidtorrent::wallet::ledger::proto::{self, Request};
use bidtorrent::wallet::ledger::store::postgres;
use bidtorrent::wallet::ledger::{Action, Ledger, LedgerConfig, Outcome};
use bidtorrent::wallet::{Amount, ChannelId, PublicKey, Voucher};
use ed25519_dalek::SigningKey;
use proptest::prelude::*;

const ACCOUNTS: usize = 4;
const GRACE: u64 = 10;

#[derive(Debug, Clone)]
enum Op {
    Mint {
        to: usize,
        amount: u64,
    },
    Open {
        buyer: usize,
        seller: usize,
        cap: u64,
        ttl: u64,
    },
    /// The buyer signs a voucher raising the cumulative by `add` (may exceed the cap: a
    /// malicious buyer; the ledger must refuse to redeem it).
    Pay {
        ch: usize,
        add: u64,
    },
    /// Redeem the latest voucher, or an older one (`old`), by the seller or someone else.
    Redeem {
        ch: usize,
        old: bool,
        by_other: bool,
    },
    Close {
        ch: usize,
        by_buyer: bool,
    },
    Advance {
        secs: u64,
    },
    /// Resend a signed request that was already sent.
    Replay {
        idx: usize,
    },
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        (0..ACCOUNTS, 0u64..2_000).prop_map(|(to, amount)| Op::Mint { to, amount }),
        (0..ACCOUNTS, 0..ACCOUNTS, 0u64..800, 0u64..60).prop_map(|(buyer, seller, cap, ttl)| {
            Op::Open {
                buyer,
                seller,
                cap,
                ttl,
            }
        }),
        (0usize..8, 0u64..200).prop_map(|(ch, add)| Op::Pay { ch, add }),
        (0usize..8, any::<bool>(), prop::bool::weighted(0.15))
            .prop_map(|(ch, old, by_other)| Op::Redeem { ch, old, by_other }),
        (0usize..8, any::<bool>()).prop_map(|(ch, by_buyer)| Op::Close { ch, by_buyer }),
        (0u64..30).prop_map(|secs| Op::Advance { secs }),
        (0usize..64).prop_map(|idx| Op::Replay { idx }),
    ]
}

struct MChan {
    id: ChannelId,
    buyer: usize,
    seller: usize,
    cap: u64,
    deadline: u64,
    redeemed: u64,
    closed: bool,
    /// Vouchers the buyer signed, in order.
    vouchers: Vec<Voucher>,
}

struct World {
    store: Ledger,
    _dir: tempfile::TempDir,
    admin: SigningKey,
    keys: Vec<SigningKey>,
    bal: Vec<u64>,
    minted: u64,
    minted_to: Vec<u64>,
    chans: Vec<MChan>,
    now: u64,
    nonce: u64,
    sent: Vec<Request>,
}

fn tmp() -> tempfile::TempDir {
    // tmpfs when there is one: the store fsyncs after every request.
    match std::path::Path::new("/dev/shm").is_dir() {
        true => tempfile::tempdir_in("/dev/shm").unwrap(),
        false => tempfile::tempdir().unwrap(),
    }
}

impl World {
    /// A fresh ledger on sled (`url = None`) or on a fresh PostgreSQL database.
    fn new(url: Option<&str>) -> World {
        let dir = tmp();
        if let Some(u) = url {
            postgres::migrate(u).unwrap();
        }
        let store = Ledger::open_with(
            dir.path(),
            url,
            LedgerConfig {
                close_grace_secs: GRACE,
                // The model sends bursts far above any sane per-key rate.
                rate_per_key: None,
                ..LedgerConfig::default()
            },
        )
        .unwrap();
        let admin = store.admin_key().unwrap();
        World {
            store,
            _dir: dir,
            admin,
            keys: (0..ACCOUNTS).map(|_| generate_key()).collect(),
            bal: vec![0; ACCOUNTS],
            minted: 0,
            minted_to: vec![0; ACCOUNTS],
            chans: vec![],
            now: 1_000_000,
            nonce: 0,
            sent: vec![],
        }
    }

    fn pk(&self, i: usize) -> PublicKey {
        PublicKey::of(&self.keys[i])
    }

    fn send(&mut self, key: &SigningKey, action: Action) -> Result<Outcome, String> {
        self.nonce += 1;
        let req = proto::sign_request(key, self.store.id(), self.nonce, action);
        self.sent.push(req.clone());
        self.store.handle(req, self.now).map_err(|e| e.code())
    }

    fn finalize(&mut self, c: usize) {
        let ch = &mut self.chans[c];
        if !ch.closed {
            self.bal[ch.buyer] += ch.cap - ch.redeemed;
            ch.closed = true;
        }
    }

    fn step(&mut self, op: &Op) {
        match *op {
            Op::Mint { to, amount } => {
                let r = self.send(
                    &self.admin.clone(),
                    Action::Mint {
                        account: self.pk(to),
                        amount: Amount(amount),
                    },
                );
                assert_eq!(r.is_ok(), amount > 0, "{r:?}");
                if r.is_ok() {
                    self.bal[to] += amount;
                    self.minted += amount;
                    self.minted_to[to] += amount;
                }
                // Anyone but the admin is refused.
                let r = self.send(
                    &self.keys[to].clone(),
                    Action::Mint {
                        account: self.pk(to),
                        amount: Amount(1),
                    },
                );
                assert_eq!(r.unwrap_err(), "not_admin");
            }
            Op::Open {
                buyer,
                seller,
                cap,
                ttl,
            } => {
                let expiry = self.now + ttl;
                let action = Action::Open {
                    seller: self.pk(seller),
                    cap: Amount(cap),
                    expiry,
                };
                let r = self.send(&self.keys[buyer].clone(), action);
                let ok = buyer != seller && cap > 0 && ttl > 0 && self.bal[buyer] >= cap;
                assert_eq!(r.is_ok(), ok, "open {op:?}: {r:?}");
                if let Ok(Outcome::Opened { certificate }) = r {
                    certificate.verify(&self.store.id()).unwrap();
                    self.bal[buyer] -= cap;
                    self.chans.push(MChan {
                        id: certificate.channel,
                        buyer,
                        seller,
                        cap,
                        deadline: expiry,
                        redeemed: 0,
                        closed: false,
                        vouchers: vec![],
                    });
                }
            }
            Op::Pay { ch, add } => {
                let Some(c) = self.chans.get_mut(ch) else {
                    return;
                };
                let (seq, cum) = c
                    .vouchers
                    .last()
                    .map(|v| (v.seq, v.cumulative.0))
                    .unwrap_or((0, 0));
                let key = &self.keys[c.buyer];
                let v = Voucher::sign(
                    key,
                    PublicKey::of(&self.admin),
                    c.id,
                    PublicKey::of(&self.keys[c.seller]),
                    seq + 1,
                    Amount(cum + add),
                );
                // Sign under the right ledger id (the line above used a wrong one on purpose
                // to have a forged-ledger voucher in the mix too).
                let good = Voucher::sign(
                    key,
                    self.store.id(),
                    c.id,
                    v.payee,
                    seq + 1,
                    Amount(cum + add),
                );
                c.vouchers.push(good);
                let seller = self.keys[self.chans[ch].seller].clone();
                let r = self.send(&seller, Action::Redeem { voucher: v });
                assert!(r.is_err(), "voucher for another ledger redeemed");
            }
            Op::Redeem { ch, old, by_other } => {
                let Some(c) = self.chans.get(ch) else { return };
                let Some(v) = (if old {
                    c.vouchers.first()
                } else {
                    c.vouchers.last()
                })
                .cloned() else {
                    return;
                };
                let redeemer = if by_other {
                    (c.seller + 1) % ACCOUNTS
                } else {
                    c.seller
                };
                let cum = v.cumulative.0;
                let expect_ok = !by_other && !c.closed && self.now < c.deadline && cum <= c.cap;
                let key = self.keys[redeemer].clone();
                let r = self.send(&key, Action::Redeem { voucher: v });
                assert_eq!(r.is_ok(), expect_ok, "redeem {op:?}: {r:?}");
                if let Ok(Outcome::Redeemed { paid, redeemed, .. }) = r {
                    let c = &mut self.chans[ch];
                    let delta = cum.saturating_sub(c.redeemed);
                    assert_eq!(paid.0, delta);
                    c.redeemed = c.redeemed.max(cum);
                    assert_eq!(redeemed.0, c.redeemed);
                    self.bal[c.seller] += delta;
                }
            }
            Op::Close { ch, by_buyer } => {
                let Some(c) = self.chans.get(ch) else { return };
                let key = self.keys[if by_buyer { c.buyer } else { c.seller }].clone();
                let id = c.id;
                let r = self.send(
                    &key,
                    Action::Close {
                        channel: id,
                        voucher: None,
                    },
                );
                assert!(r.is_ok(), "close: {r:?}");
                let c = &mut self.chans[ch];
                if !c.closed {
                    if by_buyer && self.now < c.deadline {
                        c.deadline = c.deadline.min(self.now + GRACE);
                    }
                    if !by_buyer || self.now >= c.deadline {
                        self.finalize(ch);
                    }
                }
            }
            Op::Advance { secs } => {
                self.now += secs;
                self.store.sweep_expired(self.now).unwrap();
                for i in 0..self.chans.len() {
                    if self.now >= self.chans[i].deadline {
                        self.finalize(i);
                    }
                }
            }
            Op::Replay { idx } => {
                if let Some(req) = self.sent.get(idx).cloned() {
                    let r = self.store.handle(req, self.now).map_err(|e| e.code());
                    assert_eq!(r.unwrap_err(), "stale_nonce");
                }
            }
        }
    }

    fn check(&self) {
        let a = self.store.audit().unwrap();
        assert!(a.consistent, "books do not balance: {a:?}");
        // Each account's summary (counters kept beside the rows) matches its channels' rows.
        let infos: Vec<_> = self
            .chans
            .iter()
            .map(|c| (c, self.store.channel(&c.id).unwrap()))
            .collect();
        for i in 0..ACCOUNTS {
            let side = |pick: &dyn Fn(&MChan) -> bool| {
                let live: Vec<_> = infos
                    .iter()
                    .filter(|(c, info)| {
                        pick(c) && info.state != bidtorrent::wallet::ledger::ChannelState::Closed
                    })
                    .collect();
                (
                    live.len() as u64,
                    live.iter().map(|(_, info)| info.escrowed().0).sum::<u64>(),
                )
            };
            let s = self.store.summary(&self.pk(i)).unwrap();
            assert_eq!(
                (s.paying.live, s.paying.escrowed.0),
                side(&|c: &MChan| c.buyer == i),
                "account {i} paying"
            );
            assert_eq!(
                (s.paid_by.live, s.paid_by.escrowed.0),
                side(&|c: &MChan| c.seller == i),
                "account {i} paid by"
            );
            assert_eq!(s.minted.0, self.minted_to[i], "account {i} minted");
        }
        assert_eq!(a.minted.0, self.minted);
        for i in 0..ACCOUNTS {
            assert_eq!(
                self.store.balance(&self.pk(i)).unwrap().0,
                self.bal[i],
                "account {i}"
            );
        }
        let mut escrow = 0;
        for c in &self.chans {
            let info = self.store.channel(&c.id).unwrap();
            let max_signed = c.vouchers.iter().map(|v| v.cumulative.0).max().unwrap_or(0);
            assert!(
                info.redeemed.0 <= max_signed,
                "seller received more than the buyer signed"
            );
            assert!(info.redeemed.0 <= c.cap, "buyer paid more than its cap");
            assert_eq!(info.redeemed.0, c.redeemed);
            assert_eq!(
                info.state == bidtorrent::wallet::ledger::ChannelState::Closed,
                c.closed
            );
            if c.closed {
                assert_eq!(info.redeemed.0 + info.refunded.0, c.cap);
            } else {
                escrow += c.cap - c.redeemed;
            }
        }
        assert_eq!(a.escrowed.0, escrow);
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 48, ..ProptestConfig::default() })]

    #[test]
    fn books_always_balance_sled(ops in prop::collection::vec(op(), 1..40)) {
        let mut w = World::new(None);
        for op in &ops {
            w.step(op);
            w.check();
        }
    }
}

proptest! {
    // Each case creates and migrates a database: fewer cases, same coverage per case.
    #![proptest_config(ProptestConfig { cases: 24, ..ProptestConfig::default() })]

    #[test]
    fn books_always_balance_postgres(ops in prop::collection::vec(op(), 1..40)) {
        let Some(cluster) = pg::PgCluster::shared() else { return Ok(()) };
        let url = cluster.fresh_db();
        let mut w = World::new(Some(&url));
        for op in &ops {
            w.step(op);
            w.check();
        }
    }
}
