//! The `bt_market` extension for one torrent: both market roles on every connection.
//!
//! - Seller side: sends `ask`, keeps the bid book, lets the seller strategy (through
//!   [`MarketChoker`], the engine's choker) pick winners, sends `award`/`reject`, bills bytes
//!   sent under an award, accepts vouchers, returns receipts, and enforces the credit window
//!   (per block, through the engine's upload allowance) with the grace → choke → ban ladder.
//! - Buyer side: reads asks, bids according to the buyer strategy (opening a ledger channel to
//!   each seller first), and pays each seller for the bytes it delivered of every piece that
//!   passed its hash check — never more per MiB than its own bid.
//!
//! Locking: the engine calls the choker with the torrent's lock held, and the choker takes the
//! market lock; so market code never calls into the torrent (send, peers, choke) while holding
//! the market lock — it collects [`Action`]s and runs them after releasing it.

use std::collections::{HashMap, HashSet};
use std::net::IpAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, Weak};
use std::time::{Duration, Instant};

use tokio::sync::mpsc;

use crate::bencode::{Dict, Owned};
use crate::engine::choker::{ChokeDecision, Choker, PeerView, TitForTat};
use crate::engine::extension::{Extension, ExtensionFactory, PeerLink};
use crate::engine::torrent::TorrentHandle;
use crate::engine::types::InfoHash;
use crate::market::book::BidBook;
use crate::market::config::{ConfigError, Effective, MarketConfig, SellerStrategy};
use crate::market::credit::{Credit, Verdict};
use crate::market::proto::{EXTENSION, HandshakeInfo, MarketMsg, RejectReason, VERSION};
use crate::market::strategy::buyer::{self, BuyerInputs, BuyerState, MIB};
use crate::market::strategy::seller::{self, Candidate};
use crate::wallet::{
    Amount, ChannelCertificate, ChannelId, LedgerClient, LedgerId, PublicKey, Voucher,
    VoucherRefusal, Wallet, WalletError,
};

/// A buyer still pays for pieces verified this long after its award ended (blocks that were
/// in flight when the seller moved on).
const PAY_AFTER_AWARD: Duration = Duration::from_secs(20);
/// Channels are opened for a day; a download that outlives one opens another after reconnect.
const CHANNEL_SECS: u64 = 24 * 3600;
/// A certificate must stay valid at least this long to back a bid.
const MIN_CERT_LIFE: u64 = 120;
const BALANCE_REFRESH: Duration = Duration::from_secs(15);
const OPEN_RETRY: Duration = Duration::from_secs(30);

pub(crate) fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

/// What every torrent's market shares: the wallet, the ledger, the configuration.
pub struct MarketShared {
    pub wallet: Arc<Wallet>,
    pub ledger: LedgerClient,
    pub ledger_id: LedgerId,
    pub config: Mutex<MarketConfig>,
    /// Bumped on every strategy change so torrents re-read their settings.
    pub generation: AtomicU64,
    pub balance: AtomicU64,
    pub torrents: Mutex<Vec<Weak<TorrentMarket>>>,
}

impl MarketShared {
    pub fn effective(&self, ih: &InfoHash) -> Effective {
        let cfg = lock(&self.config);
        cfg.effective(&ih.to_hex()).unwrap_or(Effective {
            buyer: cfg.buyer.clone(),
            seller: cfg.seller.clone(),
        })
    }

    pub fn set(
        &self,
        torrent: Option<&InfoHash>,
        name: Option<&str>,
        params: &[(String, String)],
    ) -> Result<(), ConfigError> {
        let hex = torrent.map(|t| t.to_hex());
        lock(&self.config).set(hex.as_deref(), name, params)?;
        self.generation.fetch_add(1, Ordering::SeqCst);
        Ok(())
    }
}

pub struct Factory(pub Arc<MarketShared>);

impl ExtensionFactory for Factory {
    fn create(&self, torrent: &TorrentHandle) -> Option<Arc<dyn Extension>> {
        if !lock(&self.0.config).enabled {
            return None;
        }
        // The payment worker needs a runtime; without one the torrent simply stays plain.
        let rt = tokio::runtime::Handle::try_current().ok()?;
        let (tx, rx) = mpsc::unbounded_channel();
        let ih = torrent.info_hash();
        let eff = self.0.effective(&ih);
        let tm = Arc::new(TorrentMarket {
            shared: self.0.clone(),
            info_hash: ih,
            st: Mutex::new(TmState {
                generation: self.0.generation.load(Ordering::SeqCst),
                eff,
                peers: HashMap::new(),
                key_pk: HashMap::new(),
                buys: HashMap::new(),
                sells: HashMap::new(),
                certs: HashMap::new(),
                book: BidBook::default(),
                optimistic: None,
                banned: HashSet::new(),
                banned_ips: HashSet::new(),
                interested: HashSet::new(),
                buyer_state: BuyerState::default(),
                clearing: Amount::ZERO,
                spent: Amount::ZERO,
                earned: Amount::ZERO,
                last_refresh: None,
            }),
            jobs: tx,
        });
        rt.spawn(worker(Arc::downgrade(&tm), torrent.clone(), rx));
        torrent.set_choker(Box::new(MarketChoker {
            tm: Arc::downgrade(&tm),
            tft: TitForTat::new(tm.seller_slots()),
        }));
        lock(&self.0.torrents).push(Arc::downgrade(&tm));
        Some(tm)
    }
}

struct AskInfo {
    reserve: Amount,
}

/// One market-capable connection.
struct MPeer {
    link: PeerLink,
    info: HandshakeInfo,
    /// Award price decided at the last rechoke (we sell), and the one last sent.
    decided: Option<Amount>,
    sent: Option<Amount>,
    ask_generation: Option<u64>,
    /// The peer's terms when it sells to us.
    ask: Option<AskInfo>,
}

/// What we, as buyer, have with one seller (by key, so it outlives a connection: a voucher
/// for a piece verified just after the seller left is still paid and delivered later).
#[derive(Default)]
struct Buy {
    channel: Option<ChannelCertificate>,
    opening: bool,
    open_retry: Option<Instant>,
    my_bid: Option<Amount>,
    awarded: bool,
    award_price: Option<Amount>,
    award_until: Option<Instant>,
    owed_scaled: u128,
    paid: Amount,
    acked: Amount,
    exhausted: bool,
    last_voucher_sent: Option<Instant>,
}

impl Buy {
    /// The price this buyer pays the seller for verified bytes now, if any.
    fn pay_price(&self, now: Instant) -> Option<Amount> {
        if self.awarded || self.award_until.is_some_and(|t| now < t) {
            self.award_price
        } else {
            None
        }
    }

    fn end_award(&mut self, now: Instant) {
        if self.awarded {
            self.awarded = false;
            self.award_until = Some(now + PAY_AFTER_AWARD);
        }
    }
}

struct TmState {
    generation: u64,
    eff: Effective,
    peers: HashMap<usize, MPeer>,
    /// Connection key → the peer's market key, kept after a disconnect (see [`Buy`]).
    key_pk: HashMap<usize, PublicKey>,
    buys: HashMap<PublicKey, Buy>,
    /// Seller side: credit per buyer key, so reconnecting does not wipe a debt.
    sells: HashMap<PublicKey, Credit>,
    /// Certificates of channels paying us, from bids.
    certs: HashMap<ChannelId, ChannelCertificate>,
    book: BidBook,
    optimistic: Option<usize>,
    banned: HashSet<PublicKey>,
    banned_ips: HashSet<IpAddr>,
    interested: HashSet<usize>,
    buyer_state: BuyerState,
    clearing: Amount,
    /// Paid to sellers (buyer side) and earned from buyers (seller side) on this torrent.
    spent: Amount,
    earned: Amount,
    last_refresh: Option<Instant>,
}

enum Job {
    Open {
        seller: PublicKey,
        cap: Amount,
    },
    Pay {
        seller: PublicKey,
    },
    /// Re-sends the current voucher (lost in flight, or a new connection).
    Resend {
        seller: PublicKey,
    },
    Accept {
        key: usize,
        voucher: Voucher,
    },
    Refresh,
}

enum Action {
    Send(PeerLink, MarketMsg),
    Close(PeerLink),
    Choke(usize),
    Allowance(usize, Option<u64>),
    Rechoke,
    Job(Job),
}

pub struct TorrentMarket {
    shared: Arc<MarketShared>,
    info_hash: InfoHash,
    st: Mutex<TmState>,
    jobs: mpsc::UnboundedSender<Job>,
}

/// One row of [`MarketReport`] per connected market peer.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
pub struct PeerMarket {
    pub key: usize,
    pub addr: String,
    pub public_key: String,
    /// Its bid to us and the price we awarded it (we sell).
    pub bid: Option<Amount>,
    pub awarded: Option<Amount>,
    pub earned: Amount,
    pub unpaid_bytes: u64,
    pub strikes: u32,
    /// Our bid to it and the price it awarded us (we buy).
    pub my_bid: Option<Amount>,
    pub my_award: Option<Amount>,
    pub paid: Amount,
    pub acked: Amount,
}

/// One channel we pay into, for settlement checks.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
pub struct BuyChannel {
    pub seller: String,
    pub channel: Option<String>,
    pub paid: Amount,
    pub acked: Amount,
}

#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
pub struct MarketReport {
    pub buyer_strategy: String,
    pub seller_strategy: String,
    pub clearing: Amount,
    /// Paid to sellers and earned from buyers on this torrent.
    pub spent: Amount,
    pub earned: Amount,
    pub banned: usize,
    pub peers: Vec<PeerMarket>,
    pub channels: Vec<BuyChannel>,
}

impl TorrentMarket {
    fn state(&self) -> MutexGuard<'_, TmState> {
        lock(&self.st)
    }

    fn seller_slots(&self) -> usize {
        self.state().eff.seller.slots
    }

    pub fn info_hash(&self) -> InfoHash {
        self.info_hash
    }

    pub fn report(&self) -> MarketReport {
        let st = self.state();
        let mut peers: Vec<PeerMarket> = st
            .peers
            .iter()
            .map(|(k, p)| {
                let credit = st.sells.get(&p.info.public_key);
                let buy = st.buys.get(&p.info.public_key);
                PeerMarket {
                    key: *k,
                    addr: p.link.addr().to_string(),
                    public_key: p.info.public_key.to_string(),
                    bid: st.book.get(*k).map(|b| b.price),
                    awarded: p.sent,
                    earned: credit.map_or(Amount::ZERO, |c| c.paid_total()),
                    unpaid_bytes: credit.map_or(0, |c| c.unpaid_bytes()),
                    strikes: credit.map_or(0, |c| c.strikes),
                    my_bid: buy.and_then(|b| b.my_bid),
                    my_award: buy.and_then(|b| if b.awarded { b.award_price } else { None }),
                    paid: buy.map_or(Amount::ZERO, |b| b.paid),
                    acked: buy.map_or(Amount::ZERO, |b| b.acked),
                }
            })
            .collect();
        peers.sort_by_key(|p| p.key);
        let channels = st
            .buys
            .iter()
            .map(|(pk, b)| BuyChannel {
                seller: pk.to_string(),
                channel: b.channel.as_ref().map(|c| c.channel.to_string()),
                paid: b.paid,
                acked: b.acked,
            })
            .collect();
        MarketReport {
            buyer_strategy: st.eff.buyer.strategy.to_string(),
            seller_strategy: st.eff.seller.strategy.to_string(),
            clearing: st.clearing,
            spent: st.spent,
            earned: st.earned,
            banned: st.banned.len(),
            peers,
            channels,
        }
    }

    fn ask_for(&self, st: &TmState) -> MarketMsg {
        MarketMsg::Ask {
            price: st.eff.seller.reserve_price.0,
            clearing: st.clearing.max(st.eff.seller.reserve_price.0),
            slots: st.eff.seller.market_slots() as u32,
            ledger: self.shared.ledger_id,
            public_key: self.shared.wallet.public_key(),
            window: st.eff.seller.window,
        }
    }

    fn run(&self, torrent: &TorrentHandle, actions: Vec<Action>) {
        for a in actions {
            match a {
                Action::Send(link, m) => {
                    link.send(EXTENSION, m.encode());
                }
                // Closing at once would discard what is still queued for the peer (the reject
                // that says why), so the close follows a moment later.
                Action::Close(link) => {
                    tokio::spawn(async move {
                        tokio::time::sleep(Duration::from_millis(200)).await;
                        link.close();
                    });
                }
                Action::Choke(k) => torrent.choke_peer(k),
                Action::Allowance(k, a) => torrent.set_upload_allowance(k, a),
                Action::Rechoke => torrent.request_rechoke(),
                Action::Job(j) => {
                    let _ = self.jobs.send(j);
                }
            }
        }
    }

    fn reject(link: &PeerLink, reason: RejectReason, detail: impl Into<String>) -> Action {
        Action::Send(
            link.clone(),
            MarketMsg::Reject {
                reason,
                detail: Some(detail.into()),
            },
        )
    }

    /// The live connection to a market peer, if any.
    fn link_of(st: &TmState, pk: &PublicKey) -> Option<PeerLink> {
        st.peers
            .values()
            .find(|p| p.info.public_key == *pk)
            .map(|p| p.link.clone())
    }

    // ----- seller: a bid arrives ----------------------------------------------------------

    fn on_bid(
        &self,
        st: &mut TmState,
        key: usize,
        price: Amount,
        max_spend: Amount,
        cert: Option<ChannelCertificate>,
        out: &mut Vec<Action>,
    ) -> Result<(), String> {
        let me = self.shared.wallet.public_key();
        let Some(p) = st.peers.get(&key) else {
            return Err("bid before the market handshake".into());
        };
        let link = p.link.clone();
        let buyer = p.info.public_key;
        if price.is_zero() {
            st.book.withdraw(key);
            out.push(Action::Rechoke);
            return Ok(());
        }
        let refuse = |st: &mut TmState, out: &mut Vec<Action>, r, d: String| {
            st.book.withdraw(key);
            out.push(Self::reject(&link, r, d));
            out.push(Action::Rechoke);
            Ok(())
        };
        if st.eff.seller.strategy == SellerStrategy::TitForTat {
            return refuse(
                st,
                out,
                RejectReason::NotSelling,
                "seller runs tit-for-tat".into(),
            );
        }
        let Some(cert) = cert else {
            return Err("priced bid without a certificate".into());
        };
        if cert.ledger != self.shared.ledger_id {
            return refuse(
                st,
                out,
                RejectReason::UnknownLedger,
                format!("certificate from ledger {}", cert.ledger),
            );
        }
        if let Err(e) = cert.verify(&self.shared.ledger_id) {
            return refuse(st, out, RejectReason::BadCert, e.to_string());
        }
        if cert.seller != me || cert.buyer != buyer {
            return refuse(
                st,
                out,
                RejectReason::BadCert,
                "certificate names another buyer or seller".into(),
            );
        }
        if cert.expiry < crate::wallet::keys::now_secs() + MIN_CERT_LIFE {
            return refuse(
                st,
                out,
                RejectReason::Expired,
                "channel expires too soon".into(),
            );
        }
        if price < st.eff.seller.reserve_price.0 {
            return refuse(
                st,
                out,
                RejectReason::BelowReserve,
                format!("reserve is {} per MiB", st.eff.seller.reserve_price.0),
            );
        }
        st.certs.insert(cert.channel, cert.clone());
        st.book.place(key, price, max_spend, cert);
        out.push(Action::Rechoke);
        Ok(())
    }

    // ----- once a second ------------------------------------------------------------------

    fn tick(&self, torrent: &TorrentHandle) {
        // Torrent state first, market lock after (lock order: torrent, then market).
        let infos = torrent.peers();
        let Some(stats) = torrent.stats() else {
            return;
        };
        let now = Instant::now();
        let mut out = Vec::new();
        {
            let mut st = self.state();
            let st = &mut *st;
            let gen_now = self.shared.generation.load(Ordering::SeqCst);
            if gen_now != st.generation {
                st.generation = gen_now;
                st.eff = self.shared.effective(&self.info_hash);
                out.push(Action::Rechoke);
            }
            if st
                .last_refresh
                .is_none_or(|t| now.duration_since(t) >= BALANCE_REFRESH)
            {
                st.last_refresh = Some(now);
                out.push(Action::Job(Job::Refresh));
            }
            let interested: HashSet<usize> = infos
                .iter()
                .filter(|p| p.peer_interested)
                .map(|p| p.key)
                .collect();
            if interested != st.interested {
                st.interested = interested;
                out.push(Action::Rechoke);
            }
            let seller_cfg = st.eff.seller.clone();
            let buyer_cfg = st.eff.buyer.clone();
            let selling = seller_cfg.strategy != SellerStrategy::TitForTat;
            let balance = Amount(self.shared.balance.load(Ordering::Relaxed));
            let ask = self.ask_for(st);
            let grace = Duration::from_secs(seller_cfg.grace_secs);
            for info in &infos {
                let Some(p) = st.peers.get_mut(&info.key) else {
                    continue;
                };
                let link = p.link.clone();
                let pk = p.info.public_key;
                // --- seller side
                let credit = st.sells.entry(pk).or_default();
                credit.bill(info.uploaded);
                match (p.decided, p.sent) {
                    (Some(price), sent) if sent != Some(price) => {
                        out.push(Action::Send(
                            link.clone(),
                            MarketMsg::Award {
                                price,
                                window: seller_cfg.window,
                            },
                        ));
                        if sent.is_none() {
                            out.push(Action::Rechoke);
                        }
                        p.sent = Some(price);
                        credit.start_billing(price, info.uploaded);
                    }
                    (None, Some(_)) => {
                        out.push(Self::reject(&link, RejectReason::Outbid, "slot lost"));
                        p.sent = None;
                        credit.stop_billing(info.uploaded);
                    }
                    _ => {}
                }
                match credit.check(seller_cfg.window, grace, seller_cfg.ban_strikes, now) {
                    Verdict::Ok => {}
                    Verdict::Choke => {
                        tracing::info!("{}: choking {} for unpaid credit", stats.name, link.addr());
                        out.push(Action::Choke(info.key));
                        out.push(Self::reject(
                            &link,
                            RejectReason::Unpaid,
                            "credit window spent",
                        ));
                        out.push(Action::Rechoke);
                    }
                    Verdict::Ban => {
                        tracing::warn!("{}: banning {} for not paying", stats.name, link.addr());
                        st.banned.insert(pk);
                        // Loopback is never banned by address: every peer of a local swarm
                        // shares it. Elsewhere the address goes too (whitewashing, A9).
                        if !link.addr().ip().is_loopback() {
                            st.banned_ips.insert(link.addr().ip());
                        }
                        out.push(Self::reject(&link, RejectReason::Banned, "unpaid"));
                        out.push(Action::Close(link.clone()));
                    }
                }
                out.push(Action::Allowance(
                    info.key,
                    credit.allowance(info.uploaded, seller_cfg.window),
                ));
                let accepts_ours = p.info.ledgers.contains(&self.shared.ledger_id);
                if selling
                    && accepts_ours
                    && stats.have_pieces > 0
                    && p.ask_generation != Some(st.generation)
                {
                    p.ask_generation = Some(st.generation);
                    out.push(Action::Send(link.clone(), ask.clone()));
                }
                // --- buyer side
                let Some(a) = &p.ask else { continue };
                let reserve = a.reserve;
                let buy = st.buys.entry(pk).or_default();
                if buy.paid > buy.acked
                    && buy
                        .last_voucher_sent
                        .is_none_or(|t| now.duration_since(t) >= Duration::from_secs(5))
                {
                    buy.last_voucher_sent = Some(now);
                    out.push(Action::Job(Job::Resend { seller: pk }));
                }
                let mut inputs = BuyerInputs {
                    balance,
                    remaining: stats.left_bytes,
                    spent: st.spent,
                    down_rate: stats.down_rate,
                };
                if !info.am_interested || buy.exhausted {
                    inputs.remaining = 0;
                }
                let price = buyer::bid_price(&buyer_cfg, &inputs, &mut st.buyer_state)
                    .filter(|p| *p >= reserve);
                match price {
                    Some(price) => match &buy.channel {
                        None => {
                            if !buy.opening && buy.open_retry.is_none_or(|t| now >= t) {
                                let cap = buyer::channel_cap(&buyer_cfg, &inputs, price);
                                if cap >= price {
                                    buy.opening = true;
                                    out.push(Action::Job(Job::Open { seller: pk, cap }));
                                }
                            }
                        }
                        Some(cert) => {
                            if buyer::should_rebid(buy.my_bid, price) {
                                buy.my_bid = Some(price);
                                out.push(Action::Send(
                                    link.clone(),
                                    MarketMsg::Bid {
                                        price,
                                        max_spend: cert.cap,
                                        cert: Some(cert.clone()),
                                    },
                                ));
                            }
                        }
                    },
                    None => {
                        if buy.my_bid.take().is_some() {
                            buy.end_award(now);
                            out.push(Action::Send(
                                link.clone(),
                                MarketMsg::Bid {
                                    price: Amount::ZERO,
                                    max_spend: Amount::ZERO,
                                    cert: None,
                                },
                            ));
                        }
                    }
                }
            }
        }
        self.run(torrent, out);
    }

    // ----- jobs: wallet and ledger work, in order, off the peer tasks ------------------------

    async fn job(&self, torrent: &TorrentHandle, job: Job) {
        let wallet = self.shared.wallet.clone();
        match job {
            Job::Refresh => {
                if let Ok(b) = wallet.refresh(&self.shared.ledger).await {
                    self.shared.balance.store(b.micro(), Ordering::Relaxed);
                }
            }
            Job::Open { seller, cap } => {
                let expiry = crate::wallet::keys::now_secs() + CHANNEL_SECS;
                let r = wallet
                    .open_channel(&self.shared.ledger, seller, cap, expiry)
                    .await;
                let mut st = self.state();
                let buy = st.buys.entry(seller).or_default();
                buy.opening = false;
                match r {
                    Ok(cert) => buy.channel = Some(cert),
                    Err(e) => {
                        tracing::info!("opening a channel to {seller}: {e}");
                        buy.open_retry = Some(Instant::now() + OPEN_RETRY);
                    }
                }
            }
            Job::Resend { seller } => {
                let (channel, link) = {
                    let st = self.state();
                    let Some(c) = st.buys.get(&seller).and_then(|b| b.channel.clone()) else {
                        return;
                    };
                    (c.channel, Self::link_of(&st, &seller))
                };
                let (Some(link), Ok(Some(v))) = (link, wallet.current_voucher(&channel)) else {
                    return;
                };
                link.send(EXTENSION, MarketMsg::Voucher(v).encode());
            }
            Job::Pay { seller } => {
                let (channel, due) = {
                    let st = self.state();
                    let Some(b) = st.buys.get(&seller) else {
                        return;
                    };
                    let Some(c) = &b.channel else { return };
                    let owed = (b.owed_scaled / u128::from(MIB)).min(u128::from(u64::MAX)) as u64;
                    (c.channel, owed.saturating_sub(b.paid.micro()))
                };
                if due == 0 {
                    return;
                }
                let w = wallet.clone();
                let r = tokio::task::spawn_blocking(move || w.pay(&channel, Amount(due))).await;
                match r {
                    Ok(Ok(v)) => {
                        let link = {
                            let mut st = self.state();
                            st.spent = Amount(st.spent.micro().saturating_add(due));
                            if let Some(b) = st.buys.get_mut(&seller) {
                                b.paid = v.cumulative;
                                b.last_voucher_sent = Some(Instant::now());
                            }
                            Self::link_of(&st, &seller)
                        };
                        // A seller that already left gets it on its next connection (Resend).
                        if let Some(link) = link {
                            link.send(EXTENSION, MarketMsg::Voucher(v).encode());
                        }
                    }
                    Ok(Err(e)) => {
                        tracing::info!("paying {seller}: {e}");
                        if matches!(e, WalletError::OverCap { .. } | WalletError::Expired { .. }) {
                            let mut st = self.state();
                            if let Some(b) = st.buys.get_mut(&seller) {
                                b.exhausted = true;
                            }
                        }
                    }
                    Err(e) => tracing::warn!("paying {seller}: {e}"),
                }
            }
            Job::Accept { key, voucher } => {
                let (cert, link, pk) = {
                    let st = self.state();
                    let Some(p) = st.peers.get(&key) else { return };
                    (
                        st.certs.get(&voucher.channel).cloned(),
                        p.link.clone(),
                        p.info.public_key,
                    )
                };
                let Some(cert) = cert else {
                    let a = Self::reject(&link, RejectReason::BadVoucher, "unknown channel");
                    self.run(torrent, vec![a]);
                    return;
                };
                let w = wallet.clone();
                let v = voucher.clone();
                let r = tokio::task::spawn_blocking(move || w.accept_voucher(&v, &cert)).await;
                // Read before taking the market lock (lock order: torrent, then market).
                let up = torrent.peer_transfer(key).map(|(up, _)| up);
                let mut out = Vec::new();
                match r {
                    Ok(Ok(earned)) => {
                        let receipt = wallet.sign_receipt(&voucher);
                        let mut st = self.state();
                        let window = st.eff.seller.window;
                        st.earned = Amount(st.earned.micro().saturating_add(earned.delta.micro()));
                        let credit = st.sells.entry(pk).or_default();
                        credit.paid(earned.delta);
                        if let Some(up) = up {
                            credit.bill(up);
                            out.push(Action::Allowance(key, credit.allowance(up, window)));
                        }
                        out.push(Action::Send(link, MarketMsg::Receipt(receipt)));
                    }
                    Ok(Err(refusal)) => {
                        tracing::info!("refused a voucher from {}: {refusal}", link.addr());
                        out.push(Self::reject(
                            &link,
                            RejectReason::BadVoucher,
                            refusal.code(),
                        ));
                        let forged = matches!(
                            refusal,
                            VoucherRefusal::BadSignature
                                | VoucherRefusal::WrongChannel(_)
                                | VoucherRefusal::NotPayee(_)
                                | VoucherRefusal::BadCertificate(_)
                        );
                        self.state().sells.entry(pk).or_default().strikes += 1;
                        if forged {
                            out.push(Action::Close(link));
                        }
                    }
                    Err(e) => tracing::warn!("accepting a voucher: {e}"),
                }
                self.run(torrent, out);
            }
        }
    }
}

async fn worker(
    tm: Weak<TorrentMarket>,
    torrent: TorrentHandle,
    mut rx: mpsc::UnboundedReceiver<Job>,
) {
    while let Some(job) = rx.recv().await {
        let Some(tm) = tm.upgrade() else {
            return;
        };
        if !torrent.is_alive() {
            return;
        }
        tm.job(&torrent, job).await;
    }
}

impl Extension for TorrentMarket {
    fn name(&self) -> &'static str {
        EXTENSION
    }

    fn handshake_fields(&self, _torrent: &TorrentHandle, hs: &mut Owned) {
        let info = HandshakeInfo {
            version: VERSION,
            public_key: self.shared.wallet.public_key(),
            ledgers: vec![self.shared.ledger_id],
        };
        hs.insert(EXTENSION, info.to_owned_dict());
    }

    fn on_handshake(&self, link: &PeerLink, hs: &Dict<'_>, supported: bool) {
        if !supported {
            return;
        }
        let Some(info) = HandshakeInfo::from_handshake(hs) else {
            return;
        };
        let mut st = self.state();
        if st.banned.contains(&info.public_key) || st.banned_ips.contains(&link.addr().ip()) {
            drop(st);
            link.close();
            return;
        }
        st.key_pk.insert(link.key(), info.public_key);
        st.peers.insert(
            link.key(),
            MPeer {
                link: link.clone(),
                info,
                decided: None,
                sent: None,
                ask_generation: None,
                ask: None,
            },
        );
    }

    fn on_message(&self, link: &PeerLink, payload: &[u8]) -> Result<(), String> {
        let msg = match MarketMsg::decode(payload) {
            Ok(Some(m)) => m,
            Ok(None) => return Ok(()),
            Err(e) => return Err(e.to_string()),
        };
        let mut out = Vec::new();
        let now = Instant::now();
        {
            let mut st = self.state();
            let st = &mut *st;
            let Some(pk) = st.peers.get(&link.key()).map(|p| p.info.public_key) else {
                return Err(format!("`{}` before the market handshake", msg.kind()));
            };
            match msg {
                MarketMsg::Bid {
                    price,
                    max_spend,
                    cert,
                } => self.on_bid(st, link.key(), price, max_spend, cert, &mut out)?,
                MarketMsg::Voucher(v) => out.push(Action::Job(Job::Accept {
                    key: link.key(),
                    voucher: v,
                })),
                MarketMsg::Ask {
                    price,
                    ledger,
                    public_key,
                    ..
                } => {
                    if public_key != pk {
                        return Err("ask names a key other than the handshake's".into());
                    }
                    if ledger == self.shared.ledger_id
                        && let Some(p) = st.peers.get_mut(&link.key())
                    {
                        p.ask = Some(AskInfo { reserve: price });
                        // New terms: let the strategy bid again.
                        if let Some(b) = st.buys.get_mut(&pk) {
                            b.my_bid = None;
                        }
                    }
                }
                MarketMsg::Award { price, .. } => {
                    let b = st.buys.entry(pk).or_default();
                    // An award we did not bid for is ignored; one above our bid is paid at
                    // our bid: a buyer never pays more than it offered.
                    if let Some(bid) = b.my_bid {
                        b.awarded = true;
                        b.award_price = Some(price.min(bid));
                        b.award_until = None;
                    }
                }
                MarketMsg::Reject { reason, .. } => {
                    let b = st.buys.entry(pk).or_default();
                    b.end_award(now);
                    match reason {
                        RejectReason::Banned | RejectReason::NotSelling => b.exhausted = true,
                        RejectReason::BelowReserve | RejectReason::BadCert => b.my_bid = None,
                        _ => {}
                    }
                }
                MarketMsg::Receipt(r) => {
                    let b = st.buys.entry(pk).or_default();
                    let ours = b.channel.as_ref().is_some_and(|c| c.channel == r.channel);
                    if ours && r.payee == pk && r.signature_valid() {
                        b.acked = b.acked.max(r.cumulative);
                    } else {
                        tracing::debug!("ignoring a receipt from {} that is not ours", link.addr());
                    }
                }
            }
        }
        self.run(link.torrent(), out);
        Ok(())
    }

    fn on_disconnect(&self, link: &PeerLink) {
        let now = Instant::now();
        let mut st = self.state();
        st.book.withdraw(link.key());
        st.interested.remove(&link.key());
        if let Some(p) = st.peers.remove(&link.key()) {
            let pk = p.info.public_key;
            if let Some(b) = st.buys.get_mut(&pk) {
                b.end_award(now);
                b.my_bid = None;
            }
            if let Some(c) = st.sells.get_mut(&pk) {
                c.stop_billing(0);
            }
        }
    }

    fn keep_open(&self, link: &PeerLink) -> bool {
        // Both sides are seeds now; hold the connection while money is still in flight: the
        // buyer owes for verified pieces or waits for a receipt, or the seller is owed.
        let st = self.state();
        let Some(p) = st.peers.get(&link.key()) else {
            return false;
        };
        let pk = p.info.public_key;
        let buyer_unsettled = st.buys.get(&pk).is_some_and(|b| {
            let owed = (b.owed_scaled / u128::from(MIB)).min(u128::from(u64::MAX)) as u64;
            owed > b.acked.micro()
        });
        let seller_owed = st
            .sells
            .get(&pk)
            .is_some_and(|c| c.owed().micro() > c.paid_total().micro());
        buyer_unsettled || seller_owed
    }

    fn on_piece(
        &self,
        torrent: &TorrentHandle,
        _index: u32,
        ok: bool,
        contributors: &[(usize, u64)],
    ) {
        // A piece that failed its hash is paid for by no one.
        if !ok {
            return;
        }
        let now = Instant::now();
        let mut out = Vec::new();
        {
            let mut st = self.state();
            let st = &mut *st;
            for (key, bytes) in contributors {
                let Some(pk) = st.key_pk.get(key) else {
                    continue;
                };
                let Some(b) = st.buys.get_mut(pk) else {
                    continue;
                };
                if let Some(price) = b.pay_price(now) {
                    b.owed_scaled += u128::from(*bytes) * u128::from(price.micro());
                    out.push(Action::Job(Job::Pay { seller: *pk }));
                }
            }
        }
        self.run(torrent, out);
    }

    fn on_tick(&self, torrent: &TorrentHandle) {
        self.tick(torrent);
    }
}

/// The engine's choker for a market torrent: runs the seller strategy over the bid book.
pub struct MarketChoker {
    tm: Weak<TorrentMarket>,
    tft: TitForTat,
}

impl Choker for MarketChoker {
    fn name(&self) -> &str {
        "market"
    }

    fn slots(&self) -> usize {
        // Market torrents unchoke only at a rechoke (the extension asks for one within a
        // second of any change), so the engine's shortcut for new peers must stay out.
        match self.tm.upgrade() {
            Some(tm) if tm.state().eff.seller.strategy == SellerStrategy::TitForTat => {
                self.tft.slots()
            }
            Some(_) => 0,
            None => self.tft.slots(),
        }
    }

    fn rechoke(&mut self, peers: &[PeerView], we_are_seed: bool, rotate: bool) -> ChokeDecision {
        let Some(tm) = self.tm.upgrade() else {
            return self.tft.rechoke(peers, we_are_seed, rotate);
        };
        let mut st = tm.state();
        let st = &mut *st;
        let cands: Vec<Candidate> = peers
            .iter()
            .map(|v| {
                let mp = st.peers.get(&v.key);
                let credit = mp.and_then(|m| st.sells.get(&m.info.public_key));
                Candidate {
                    key: v.key,
                    addr: v.addr,
                    interested: v.interested && !v.is_seed,
                    rate: if we_are_seed {
                        v.upload_rate
                    } else {
                        v.download_rate
                    },
                    reciprocation: v.download_rate,
                    bid: st.book.get(v.key).map(|b| (b.price, b.seq)),
                    award_sent: mp.is_some_and(|m| m.sent.is_some()),
                    blocked: credit.is_some_and(|c| c.delinquent)
                        || mp.is_some_and(|m| st.banned.contains(&m.info.public_key)),
                    connected_at: v.connected_at,
                }
            })
            .collect();
        let o = seller::decide(&st.eff.seller, &cands, rotate, &mut st.optimistic);
        st.clearing = o.clearing;
        for (k, p) in st.peers.iter_mut() {
            p.decided = o
                .awards
                .iter()
                .find(|(a, _)| a == k)
                .map(|(_, price)| *price);
        }
        ChokeDecision {
            unchoke: o
                .unchoke
                .iter()
                .filter(|k| Some(**k) != o.optimistic)
                .copied()
                .collect(),
            optimistic: o.optimistic,
            shares: o.shares,
        }
    }
}
