//! The market core of one torrent ([`TorrentMarket`], the `bt_market` extension): both market
//! roles on every connection.
//!
//! - Seller side: sends `ask`, keeps the bid book, lets the seller strategy (through
//!   [`MarketChoker`], the engine's choker) pick winners, sends `award`/`reject`, bills bytes
//!   sent under an award, accepts vouchers, returns receipts, and enforces the credit window
//!   (per block, through the engine's upload allowance) with the grace → choke → ban ladder.
//! - Buyer side: reads asks, bids according to the buyer strategy (opening a ledger channel to
//!   each seller first), and pays each seller for the bytes it delivered of every piece that
//!   passed its hash check — never more per MiB than its own bid.
//!
//! Split by concern: this file holds the state and the message and tick handlers; `payments`
//! the buyer's bookkeeping and the payment worker; `choker` the auction run at each rechoke;
//! `report` what the dashboard reads.
//!
//! # Locks
//!
//! Lock order: **the torrent's state lock first, the market lock second, never the reverse.**
//! The engine calls the choker ([`MarketChoker`]) and `Extension::keep_open` with the
//! torrent's state lock held, and both take the market lock. So market code never calls into
//! the torrent (a [`PeerLink`] send or close, the [`TorrentHandle`]'s peers, stats, choke,
//! allowance, rechoke) while holding the market lock: handlers read what they need from the
//! torrent first (`tick` takes the peer list and stats before locking), collect what they
//! want done as a `Vec<Action>` under the lock, and run it after releasing it (`run`). Wallet
//! and ledger work goes to the payment worker as a `Job` and never runs under either lock.
//!
//! The choker writes into the market's state: `clearing` and each peer's `award_decided`. The
//! next tick turns those into `award`/`reject` messages and billing; the choker itself sends
//! nothing.

mod choker;
mod payments;
mod report;

use std::collections::{HashMap, HashSet};
use std::net::IpAddr;
use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use tokio::sync::mpsc;

use crate::bencode::{Dict, Owned};
use crate::engine::extension::{Extension, PeerLink, TorrentHandle};
use crate::engine::torrent::{PeerInfo, TorrentStats};
use crate::engine::types::InfoHash;
use crate::market::book::BidBook;
use crate::market::config::{BuyerConfig, Effective, Lifecycle, SellerConfig, SellerStrategy};
use crate::market::credit::{Credit, Verdict};
use crate::market::proto::{EXTENSION, HandshakeInfo, MarketMsg, RejectReason, VERSION};
use crate::market::shared::{MarketShared, lock};
use crate::market::strategy::buyer::{self, BuyerInputs, BuyerState};
use crate::wallet::{Amount, ChannelCertificate, ChannelId, LedgerId, PublicKey};

pub use choker::MarketChoker;
pub use report::{BuyChannel, MarketReport, PeerMarket};

use payments::{Job, Purchase};

/// How often the wallet's balance is read again from the ledger.
const BALANCE_REFRESH: Duration = Duration::from_secs(15);

/// A seller's terms, from its `ask`.
struct SellerTerms {
    reserve: Amount,
}

/// One market-capable connection.
struct MarketPeer {
    link: PeerLink,
    info: HandshakeInfo,
    /// Award price decided at the last rechoke (we sell; written by the choker), and the one
    /// last sent (by the tick).
    award_decided: Option<Amount>,
    award_sent: Option<Amount>,
    /// The settings generation our last `ask` to it was made under.
    ask_generation: Option<u64>,
    /// The peer's terms when it sells to us.
    ask: Option<SellerTerms>,
}

/// Everything behind a torrent market's lock.
struct MarketState {
    /// The settings generation `settings` was read at (see `MarketShared::generation`).
    generation: u64,
    settings: Effective,
    peers: HashMap<usize, MarketPeer>,
    /// Connection key → the peer's market key, kept after a disconnect (see [`Purchase`]).
    public_keys: HashMap<usize, PublicKey>,
    purchases: HashMap<PublicKey, Purchase>,
    /// Seller side: credit per buyer key, so reconnecting does not wipe a debt.
    credits: HashMap<PublicKey, Credit>,
    /// Certificates of channels paying us, from bids.
    certs: HashMap<ChannelId, ChannelCertificate>,
    book: BidBook,
    /// The optimistic unchoke slot's holder, kept across rechokes.
    optimistic: Option<usize>,
    banned: HashSet<PublicKey>,
    banned_ips: HashSet<IpAddr>,
    /// Peers interested in us at the last tick: a change asks for a rechoke.
    interested: HashSet<usize>,
    buyer_state: BuyerState,
    /// The last rechoke's uniform price (written by the choker).
    clearing: Amount,
    /// Paid to sellers (buyer side) and earned from buyers (seller side) on this torrent.
    spent: Amount,
    earned: Amount,
    /// Bytes billed at a price (verified pieces from sellers we pay): what `spent` bought.
    bought: u64,
    last_refresh: Option<Instant>,
}

impl MarketState {
    /// Forgets keys that are gone and leave nothing behind, so a long-running daemon meeting
    /// thousands of peers does not keep every one forever: a buyer whose credit is clear, a
    /// seller we hold no channel with and owe nothing, and the certificates and connection
    /// keys that only pointed at them. Debts, channels and strikes are kept (reconnecting must
    /// not wipe them).
    fn prune(&mut self) {
        let connected: HashSet<PublicKey> =
            self.peers.values().map(|p| p.info.public_key).collect();
        self.credits
            .retain(|pk, c| connected.contains(pk) || !c.is_clear());
        self.purchases.retain(|pk, b| {
            connected.contains(pk) || b.channel.is_some() || b.opening || b.unsettled()
        });
        let credits = &self.credits;
        self.certs
            .retain(|_, c| connected.contains(&c.buyer) || credits.contains_key(&c.buyer));
        let (peers, purchases) = (&self.peers, &self.purchases);
        self.public_keys.retain(|key, pk| {
            peers.contains_key(key) || purchases.contains_key(pk) || credits.contains_key(pk)
        });
    }

    fn new(generation: u64, settings: Effective) -> MarketState {
        MarketState {
            generation,
            settings,
            peers: HashMap::new(),
            public_keys: HashMap::new(),
            purchases: HashMap::new(),
            credits: HashMap::new(),
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
            bought: 0,
            last_refresh: None,
        }
    }
}

/// What a handler wants done to the torrent or the worker, collected under the market lock
/// and run after it is released (lock order: torrent, then market).
enum Action {
    Send(PeerLink, MarketMsg),
    Close(PeerLink),
    Choke(usize),
    Allowance(usize, Option<u64>),
    Rechoke,
    Job(Job),
    /// Record a ban session-wide and on disk (see `market::bans`).
    Ban(PublicKey, IpAddr),
}

/// What every market peer's tick reads, taken once per tick.
struct TickContext<'a> {
    now: Instant,
    stats: &'a TorrentStats,
    seller: SellerConfig,
    buyer: BuyerConfig,
    balance: Amount,
    /// Our `ask`, as sent to buyers.
    ask: MarketMsg,
    ledger_id: LedgerId,
    lifecycle: Lifecycle,
    /// Unix seconds.
    now_secs: u64,
    /// Peers that offered to sell (sent an `ask`): the missing bytes are spread over them.
    sellers: usize,
}

/// The market of one torrent: the `bt_market` extension, both roles on every connection.
pub struct TorrentMarket {
    shared: Arc<MarketShared>,
    info_hash: InfoHash,
    state: Mutex<MarketState>,
    jobs: mpsc::UnboundedSender<Job>,
}

impl TorrentMarket {
    /// Starts the market on a torrent: its state, its payment worker, and its choker in
    /// place of tit-for-tat.
    pub(crate) fn attach(
        shared: Arc<MarketShared>,
        torrent: &TorrentHandle,
        runtime: &tokio::runtime::Handle,
    ) -> Arc<TorrentMarket> {
        let (jobs, rx) = mpsc::unbounded_channel();
        let info_hash = torrent.info_hash();
        let settings = shared.effective(&info_hash);
        let generation = shared.generation.load(Ordering::SeqCst);
        let mut state = MarketState::new(generation, settings);
        // Bans from other torrents and earlier runs hold here from the start.
        state.banned = lock(&shared.bans).keys().copied().collect();
        let market = Arc::new(TorrentMarket {
            shared,
            info_hash,
            state: Mutex::new(state),
            jobs,
        });
        runtime.spawn(payments::worker(
            Arc::downgrade(&market),
            torrent.clone(),
            rx,
        ));
        torrent.set_choker(Box::new(MarketChoker::new(
            Arc::downgrade(&market),
            market.seller_slots(),
        )));
        market
    }

    /// Takes the market lock. Never call into the torrent while holding it.
    fn state(&self) -> MutexGuard<'_, MarketState> {
        lock(&self.state)
    }

    fn seller_slots(&self) -> usize {
        self.state().settings.seller.slots
    }

    pub fn info_hash(&self) -> InfoHash {
        self.info_hash
    }

    /// Live market state of this torrent (bids, awards, payments), for the dashboard.
    pub fn report(&self) -> MarketReport {
        self.state().report()
    }

    fn ask_for(&self, state: &MarketState) -> MarketMsg {
        MarketMsg::Ask {
            price: state.settings.seller.reserve_price.0,
            clearing: state.clearing.max(state.settings.seller.reserve_price.0),
            slots: state.settings.seller.market_slots() as u32,
            ledger: self.shared.ledger_id,
            public_key: self.shared.wallet.public_key(),
            window: state.settings.seller.window,
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
                Action::Ban(key, ip) => {
                    if let Err(e) = lock(&self.shared.bans).ban(key, Some(ip)) {
                        tracing::warn!("{e}");
                    }
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
    fn link_of(state: &MarketState, pk: &PublicKey) -> Option<PeerLink> {
        state
            .peers
            .values()
            .find(|p| p.info.public_key == *pk)
            .map(|p| p.link.clone())
    }

    // Seller: a bid arrives.

    fn on_bid(
        &self,
        state: &mut MarketState,
        key: usize,
        price: Amount,
        max_spend: Amount,
        cert: Option<ChannelCertificate>,
        out: &mut Vec<Action>,
    ) -> Result<(), String> {
        let me = self.shared.wallet.public_key();
        let Some(p) = state.peers.get(&key) else {
            return Err("bid before the market handshake".into());
        };
        let link = p.link.clone();
        let buyer = p.info.public_key;
        if price.is_zero() {
            state.book.withdraw(key);
            out.push(Action::Rechoke);
            return Ok(());
        }
        let refuse = |state: &mut MarketState, out: &mut Vec<Action>, r, d: String| {
            state.book.withdraw(key);
            out.push(Self::reject(&link, r, d));
            out.push(Action::Rechoke);
            Ok(())
        };
        if state.settings.seller.strategy == SellerStrategy::TitForTat {
            return refuse(
                state,
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
                state,
                out,
                RejectReason::UnknownLedger,
                format!("certificate from ledger {}", cert.ledger),
            );
        }
        if let Err(e) = cert.verify(&self.shared.ledger_id) {
            return refuse(state, out, RejectReason::BadCert, e.to_string());
        }
        if cert.seller != me || cert.buyer != buyer {
            return refuse(
                state,
                out,
                RejectReason::BadCert,
                "certificate names another buyer or seller".into(),
            );
        }
        let min_life = lock(&self.shared.config).lifecycle.min_cert_life();
        if cert.expiry < crate::wallet::keys::now_secs() + min_life {
            return refuse(
                state,
                out,
                RejectReason::Expired,
                "channel expires too soon".into(),
            );
        }
        if price < state.settings.seller.reserve_price.0 {
            return refuse(
                state,
                out,
                RejectReason::BelowReserve,
                format!(
                    "reserve is {} per MiB",
                    state.settings.seller.reserve_price.0
                ),
            );
        }
        state.certs.insert(cert.channel, cert.clone());
        state.book.place(key, price, max_spend, cert);
        out.push(Action::Rechoke);
        Ok(())
    }

    // Once a second.

    fn tick(&self, torrent: &TorrentHandle) {
        // Torrent state first, market lock after (lock order: torrent, then market).
        let infos = torrent.peers();
        let Some(stats) = torrent.stats() else {
            return;
        };
        let now = Instant::now();
        let mut out = Vec::new();
        {
            let mut state = self.state();
            let state = &mut *state;
            let gen_now = self.shared.generation.load(Ordering::SeqCst);
            if gen_now != state.generation {
                state.generation = gen_now;
                state.settings = self.shared.effective(&self.info_hash);
                out.push(Action::Rechoke);
            }
            if state
                .last_refresh
                .is_none_or(|t| now.duration_since(t) >= BALANCE_REFRESH)
            {
                state.last_refresh = Some(now);
                out.push(Action::Job(Job::Refresh));
            }
            state.prune();
            let interested: HashSet<usize> = infos
                .iter()
                .filter(|p| p.peer_interested)
                .map(|p| p.key)
                .collect();
            if interested != state.interested {
                state.interested = interested;
                out.push(Action::Rechoke);
            }
            let ctx = TickContext {
                now,
                stats: &stats,
                seller: state.settings.seller.clone(),
                buyer: state.settings.buyer.clone(),
                balance: Amount(self.shared.balance.load(Ordering::Relaxed)),
                ask: self.ask_for(state),
                ledger_id: self.shared.ledger_id,
                lifecycle: lock(&self.shared.config).lifecycle.clone(),
                now_secs: crate::wallet::keys::now_secs(),
                sellers: state.peers.values().filter(|p| p.ask.is_some()).count(),
            };
            for info in &infos {
                let Some(p) = state.peers.get(&info.key) else {
                    continue;
                };
                let link = p.link.clone();
                let public_key = p.info.public_key;
                Self::tick_seller(state, &ctx, info, &link, public_key, &mut out);
                Self::tick_buyer(state, &ctx, info, &link, public_key, &mut out);
            }
        }
        self.run(torrent, out);
    }

    /// The seller's side of one market peer's tick: bills what was sent, sends the award or
    /// the reject the last rechoke decided, climbs the unpaid ladder (choke, then ban), sets
    /// the upload allowance and sends our `ask` once per settings generation.
    fn tick_seller(
        state: &mut MarketState,
        ctx: &TickContext<'_>,
        info: &PeerInfo,
        link: &PeerLink,
        public_key: PublicKey,
        out: &mut Vec<Action>,
    ) {
        let Some(p) = state.peers.get_mut(&info.key) else {
            return;
        };
        let seller_cfg = &ctx.seller;
        let credit = state.credits.entry(public_key).or_default();
        credit.bill(info.uploaded);
        match (p.award_decided, p.award_sent) {
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
                p.award_sent = Some(price);
                credit.start_billing(price, info.uploaded);
            }
            (None, Some(_)) => {
                out.push(Self::reject(link, RejectReason::Outbid, "slot lost"));
                p.award_sent = None;
                credit.stop_billing(info.uploaded);
            }
            _ => {}
        }
        let grace = Duration::from_secs(seller_cfg.grace_secs);
        match credit.check(seller_cfg.window, grace, seller_cfg.ban_strikes, ctx.now) {
            Verdict::Ok => {}
            Verdict::Choke => {
                tracing::info!(
                    "{}: choking {} for unpaid credit",
                    ctx.stats.name,
                    link.addr()
                );
                out.push(Action::Choke(info.key));
                out.push(Self::reject(
                    link,
                    RejectReason::Unpaid,
                    "credit window spent",
                ));
                out.push(Action::Rechoke);
            }
            Verdict::Ban => {
                tracing::warn!("{}: banning {} for not paying", ctx.stats.name, link.addr());
                state.banned.insert(public_key);
                // Session-wide and on disk, so neither another torrent nor a restart lets the
                // same key start over with a fresh credit window.
                out.push(Action::Ban(public_key, link.addr().ip()));
                // Loopback is never banned by address: every peer of a local swarm shares it.
                // Elsewhere the address goes too (whitewashing, A9).
                if !link.addr().ip().is_loopback() {
                    state.banned_ips.insert(link.addr().ip());
                }
                out.push(Self::reject(link, RejectReason::Banned, "unpaid"));
                out.push(Action::Close(link.clone()));
            }
        }
        out.push(Action::Allowance(
            info.key,
            credit.allowance(info.uploaded, seller_cfg.window),
        ));
        let selling = seller_cfg.strategy != SellerStrategy::TitForTat;
        let accepts_ours = p.info.ledgers.contains(&ctx.ledger_id);
        if selling
            && accepts_ours
            && ctx.stats.have_pieces > 0
            && p.ask_generation != Some(state.generation)
        {
            p.ask_generation = Some(state.generation);
            out.push(Action::Send(link.clone(), ctx.ask.clone()));
        }
    }

    /// The buyer's side of one market peer's tick (a peer that sent us an `ask`): re-sends an
    /// unacknowledged voucher, then lets the buyer strategy price a bid: open a channel
    /// first, bid (again) when the price moved enough, or withdraw the bid.
    fn tick_buyer(
        state: &mut MarketState,
        ctx: &TickContext<'_>,
        info: &PeerInfo,
        link: &PeerLink,
        public_key: PublicKey,
        out: &mut Vec<Action>,
    ) {
        let now = ctx.now;
        let Some(p) = state.peers.get(&info.key) else {
            return;
        };
        let Some(terms) = &p.ask else { return };
        let reserve = terms.reserve;
        let purchase = state.purchases.entry(public_key).or_default();
        if purchase.paid > purchase.acked
            && purchase
                .last_voucher_sent
                .is_none_or(|t| now.duration_since(t) >= Duration::from_secs(5))
        {
            purchase.last_voucher_sent = Some(now);
            out.push(Action::Job(Job::Resend { seller: public_key }));
        }
        let mut inputs = BuyerInputs {
            balance: ctx.balance,
            remaining: ctx.stats.left_bytes,
            spent: state.spent,
            down_rate: ctx.stats.down_rate,
        };
        if !info.am_interested || purchase.exhausted {
            inputs.remaining = 0;
        }
        let price =
            buyer::bid_price(&ctx.buyer, &inputs, &mut state.buyer_state).filter(|p| *p >= reserve);
        let lc = &ctx.lifecycle;
        let may_open = !purchase.opening && purchase.open_retry.is_none_or(|t| now >= t);
        // Owed and a channel with room (a renewed one): pay now, not at the next piece.
        if purchase.due() > 0
            && !purchase.dead
            && purchase
                .channel
                .as_ref()
                .is_some_and(|c| c.cap > purchase.paid)
        {
            out.push(Action::Job(Job::Pay { seller: public_key }));
        }
        match price {
            Some(price) => {
                let cap =
                    buyer::channel_cap(&ctx.buyer, &inputs, price, ctx.sellers, lc.channel_cap.0);
                // One MiB at the bid: a channel with less room left is renewed.
                let min_room = price;
                let (open, rebid) = match &purchase.channel {
                    None => (may_open, None),
                    Some(cert) => {
                        let life = cert.expiry.saturating_sub(ctx.now_secs);
                        let room = cert.cap.micro().saturating_sub(purchase.paid.micro());
                        let in_flight = purchase.paid > purchase.acked;
                        // Renewed while the download needs it: before it expires, when it
                        // cannot take another MiB, or when it was closed under us. Not while
                        // a voucher on it waits for its receipt (unless it is dead).
                        let renew = purchase.dead
                            || ((life < lc.renew_before() || room < min_room.micro())
                                && !in_flight);
                        if renew {
                            (may_open, None)
                        } else if life >= lc.min_cert_life()
                            && buyer::should_rebid(purchase.my_bid, price)
                        {
                            (false, Some(cert.clone()))
                        } else {
                            (false, None)
                        }
                    }
                };
                if open && cap >= price {
                    purchase.opening = true;
                    out.push(Action::Job(Job::Open {
                        seller: public_key,
                        cap,
                        min_room,
                    }));
                }
                if let Some(cert) = rebid {
                    purchase.my_bid = Some(price);
                    out.push(Action::Send(
                        link.clone(),
                        MarketMsg::Bid {
                            price,
                            max_spend: cert.cap,
                            cert: Some(cert),
                        },
                    ));
                }
            }
            None => {
                // Done bidding, but still owing for pieces the last channel could not hold:
                // a channel just for the debt.
                let due = purchase.due();
                let dry = purchase.channel.as_ref().is_none_or(|c| {
                    purchase.dead
                        || c.expiry <= ctx.now_secs.saturating_add(lc.min_cert_life())
                        || c.cap.micro().saturating_sub(purchase.paid.micro()) == 0
                });
                if due > 0 && dry && may_open && purchase.paid <= purchase.acked {
                    purchase.opening = true;
                    out.push(Action::Job(Job::Open {
                        seller: public_key,
                        cap: Amount(due.min(lc.channel_cap.0.micro())),
                        min_room: Amount(due.min(lc.channel_cap.0.micro())),
                    }));
                }
                if purchase.my_bid.take().is_some() {
                    purchase.end_award(now);
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

impl Drop for TorrentMarket {
    fn drop(&mut self) {
        // The torrent is gone: its channels may serve another purchase (or be closed idle).
        let state = self.state();
        for p in state.purchases.values() {
            if let Some(c) = &p.channel {
                self.shared.release(&c.channel);
            }
        }
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
        let mut state = self.state();
        let banned_here =
            state.banned.contains(&info.public_key) || state.banned_ips.contains(&link.addr().ip());
        if banned_here
            || lock(&self.shared.bans).is_banned(&info.public_key, Some(link.addr().ip()))
        {
            state.banned.insert(info.public_key);
            drop(state);
            link.close();
            return;
        }
        state.public_keys.insert(link.key(), info.public_key);
        state.peers.insert(
            link.key(),
            MarketPeer {
                link: link.clone(),
                info,
                award_decided: None,
                award_sent: None,
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
            let mut state = self.state();
            let state = &mut *state;
            let Some(pk) = state.peers.get(&link.key()).map(|p| p.info.public_key) else {
                return Err(format!("`{}` before the market handshake", msg.kind()));
            };
            match msg {
                MarketMsg::Bid {
                    price,
                    max_spend,
                    cert,
                } => self.on_bid(state, link.key(), price, max_spend, cert, &mut out)?,
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
                        && let Some(p) = state.peers.get_mut(&link.key())
                    {
                        p.ask = Some(SellerTerms { reserve: price });
                        // New terms: let the strategy bid again.
                        if let Some(b) = state.purchases.get_mut(&pk) {
                            b.my_bid = None;
                        }
                    }
                }
                MarketMsg::Award { price, .. } => {
                    let b = state.purchases.entry(pk).or_default();
                    // An award we did not bid for is ignored; one above our bid is paid at
                    // our bid: a buyer never pays more than it offered.
                    if let Some(bid) = b.my_bid {
                        b.awarded = true;
                        b.award_price = Some(price.min(bid));
                        b.award_until = None;
                    }
                }
                MarketMsg::Reject { reason, .. } => {
                    let b = state.purchases.entry(pk).or_default();
                    b.end_award(now);
                    match reason {
                        RejectReason::Banned | RejectReason::NotSelling => b.exhausted = true,
                        RejectReason::BelowReserve | RejectReason::BadCert => b.my_bid = None,
                        _ => {}
                    }
                }
                MarketMsg::Receipt(r) => {
                    let b = state.purchases.entry(pk).or_default();
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
        let mut state = self.state();
        state.book.withdraw(link.key());
        state.interested.remove(&link.key());
        if let Some(p) = state.peers.remove(&link.key()) {
            let pk = p.info.public_key;
            if let Some(b) = state.purchases.get_mut(&pk) {
                b.end_award(now);
                b.my_bid = None;
            }
            if let Some(c) = state.credits.get_mut(&pk) {
                c.stop_billing(0);
            }
        }
    }

    fn keep_open(&self, link: &PeerLink) -> bool {
        // Both sides are seeds now; hold the connection while money is still in flight: the
        // buyer owes for verified pieces or waits for a receipt, or the seller is owed.
        let state = self.state();
        let Some(p) = state.peers.get(&link.key()) else {
            return false;
        };
        let pk = p.info.public_key;
        let buyer_unsettled = state.purchases.get(&pk).is_some_and(|b| b.unsettled());
        let seller_owed = state
            .credits
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
        let sellers = self.state().bill_verified(contributors, Instant::now());
        let out = sellers
            .into_iter()
            .map(|seller| Action::Job(Job::Pay { seller }))
            .collect();
        self.run(torrent, out);
    }

    fn on_tick(&self, torrent: &TorrentHandle) {
        self.tick(torrent);
    }
}

/// Building blocks for the unit tests of the market core: a market state and peers on a
/// detached torrent handle (nothing is sent anywhere).
#[cfg(test)]
mod fixtures {
    use std::net::SocketAddr;
    use std::sync::atomic::AtomicU64;
    use std::sync::{Arc, Mutex};

    use tokio::sync::mpsc;

    use crate::engine::extension::{PeerLink, TorrentHandle};
    use crate::engine::types::{InfoHash, PeerId};
    use crate::market::config::{
        BuyerConfig, Effective, MarketConfig, SellerConfig, SellerStrategy,
    };
    use crate::market::proto::{HandshakeInfo, VERSION};
    use crate::market::shared::MarketShared;
    use crate::wallet::{Amount, ChannelCertificate, ChannelId, LedgerClient, PublicKey, Wallet};

    use super::{MarketPeer, MarketState, TorrentMarket};

    pub(super) fn pk(n: u8) -> PublicKey {
        PublicKey([n; 32])
    }

    /// Our own key in these tests.
    pub(super) fn me() -> PublicKey {
        pk(0xAA)
    }

    pub(super) fn state(strategy: SellerStrategy) -> MarketState {
        MarketState::new(
            0,
            Effective {
                buyer: BuyerConfig::default(),
                seller: SellerConfig {
                    strategy,
                    ..SellerConfig::default()
                },
            },
        )
    }

    /// Peer `key` at 10.0.0.`key`:6881, so every peer has its own address.
    pub(super) fn addr(key: usize) -> SocketAddr {
        SocketAddr::from(([10, 0, 0, key as u8], 6881))
    }

    /// A market peer with key `key` and market key `public_key` completes its handshake.
    pub(super) fn connect(state: &mut MarketState, key: usize, public_key: PublicKey) {
        let link = PeerLink::new(TorrentHandle::detached(), key, addr(key), PeerId([7; 20]));
        state.public_keys.insert(key, public_key);
        state.peers.insert(
            key,
            MarketPeer {
                link,
                info: HandshakeInfo {
                    version: VERSION,
                    public_key,
                    ledgers: Vec::new(),
                },
                award_decided: None,
                award_sent: None,
                ask_generation: None,
                ask: None,
            },
        );
    }

    /// A whole torrent market (with a fresh wallet in `dir`, a ledger never contacted and no
    /// payment worker), for what goes through its lock.
    pub(super) fn market(dir: &std::path::Path, state: MarketState) -> Arc<TorrentMarket> {
        let shared = Arc::new(MarketShared {
            wallet: Arc::new(Wallet::open(dir).expect("wallet")),
            ledger: LedgerClient::new("127.0.0.1:9"),
            ledger_id: pk(0xEE),
            config: Mutex::new(MarketConfig::default()),
            generation: AtomicU64::new(0),
            balance: AtomicU64::new(0),
            torrents: Mutex::new(Vec::new()),
            bans: Mutex::new(crate::market::bans::Bans::default()),
            in_use: Mutex::new(Default::default()),
        });
        let (jobs, _) = mpsc::unbounded_channel();
        Arc::new(TorrentMarket {
            shared,
            info_hash: InfoHash([1; 20]),
            state: Mutex::new(state),
            jobs,
        })
    }

    /// A channel from `buyer` to us (never verified by the code under test).
    pub(super) fn cert(buyer: PublicKey) -> ChannelCertificate {
        ChannelCertificate {
            ledger: pk(0xEE),
            channel: ChannelId(buyer.0),
            buyer,
            seller: me(),
            cap: Amount(1_000_000_000),
            expiry: u64::MAX,
            signature: [0; 64],
        }
    }
}

#[cfg(test)]
mod tests {
    use super::fixtures::{addr, cert, connect, me, pk, state};
    use super::*;
    use crate::engine::torrent::Phase;
    use crate::market::strategy::buyer::MIB;

    fn stats() -> TorrentStats {
        TorrentStats {
            info_hash: InfoHash([1; 20]),
            name: "t".into(),
            phase: Phase::Seeding,
            have_pieces: 1,
            num_pieces: 1,
            total_bytes: 1,
            left_bytes: 0,
            downloaded: 0,
            uploaded: 0,
            down_rate: 0.0,
            up_rate: 0.0,
            peers: 1,
            error: None,
        }
    }

    fn info(key: usize, uploaded: u64) -> PeerInfo {
        PeerInfo {
            key,
            addr: addr(key),
            client: String::new(),
            outgoing: false,
            am_choking: false,
            am_interested: false,
            peer_choking: true,
            peer_interested: true,
            fast: true,
            have_pieces: 0,
            progress: 0.0,
            down_rate: 0.0,
            up_rate: 0.0,
            downloaded: 0,
            uploaded,
            extensions: Vec::new(),
            encrypted: false,
            utp: false,
        }
    }

    fn ctx<'a>(state: &MarketState, stats: &'a TorrentStats, now: Instant) -> TickContext<'a> {
        TickContext {
            now,
            stats,
            seller: state.settings.seller.clone(),
            buyer: state.settings.buyer.clone(),
            balance: Amount(0),
            ask: MarketMsg::Ask {
                price: Amount(1000),
                clearing: Amount(1000),
                slots: 3,
                ledger: pk(0xEE),
                public_key: me(),
                window: MIB,
            },
            ledger_id: pk(0xEE),
            lifecycle: crate::market::config::Lifecycle::default(),
            now_secs: crate::wallet::keys::now_secs(),
            sellers: 1,
        }
    }

    fn seller_tick(state: &mut MarketState, info: &PeerInfo, now: Instant) -> Vec<Action> {
        let stats = stats();
        let ctx = ctx(state, &stats, now);
        let link = state.peers[&info.key].link.clone();
        let mut out = Vec::new();
        TorrentMarket::tick_seller(state, &ctx, info, &link, pk(info.key as u8), &mut out);
        out
    }

    fn sent(out: &[Action]) -> Vec<MarketMsg> {
        out.iter()
            .filter_map(|a| match a {
                Action::Send(_, m) => Some(m.clone()),
                _ => None,
            })
            .collect()
    }

    #[test]
    fn a_decided_award_is_sent_once_billed_and_withdrawn_with_a_reject() {
        let now = Instant::now();
        let mut s = state(SellerStrategy::UniformPrice);
        connect(&mut s, 1, pk(1));
        if let Some(p) = s.peers.get_mut(&1) {
            p.award_decided = Some(Amount(2000));
        }
        let out = seller_tick(&mut s, &info(1, 100), now);
        let window = s.settings.seller.window;
        assert_eq!(
            sent(&out),
            vec![MarketMsg::Award {
                price: Amount(2000),
                window
            }]
        );
        // A first award asks for a rechoke, so the winner is unchoked at once.
        assert!(out.iter().any(|a| matches!(a, Action::Rechoke)));
        assert_eq!(s.peers[&1].award_sent, Some(Amount(2000)));
        assert_eq!(s.credits[&pk(1)].billing_price(), Some(Amount(2000)));
        // Billing starts at the award: the 100 bytes sent before it are free.
        assert!(
            out.iter()
                .any(|a| matches!(a, Action::Allowance(1, Some(x)) if *x == 100 + window))
        );

        // Nothing new: no second award.
        let out = seller_tick(&mut s, &info(1, 200), now);
        assert!(sent(&out).is_empty());

        // The slot is lost at the next rechoke: a reject, and billing stops.
        if let Some(p) = s.peers.get_mut(&1) {
            p.award_decided = None;
        }
        let out = seller_tick(&mut s, &info(1, 300), now);
        assert!(matches!(
            sent(&out).as_slice(),
            [MarketMsg::Reject {
                reason: RejectReason::Outbid,
                ..
            }]
        ));
        assert_eq!(s.peers[&1].award_sent, None);
        assert_eq!(s.credits[&pk(1)].billing_price(), None);
        assert!(out.iter().any(|a| matches!(a, Action::Allowance(1, None))));
    }

    #[test]
    fn a_buyer_pays_the_award_when_below_its_bid_and_never_above_its_bid() {
        let dir = tempfile::tempdir().unwrap();
        let mut s = state(SellerStrategy::UniformPrice);
        connect(&mut s, 1, pk(1));
        s.purchases.insert(
            pk(1),
            Purchase {
                my_bid: Some(Amount(100)),
                ..Purchase::default()
            },
        );
        let m = super::fixtures::market(dir.path(), s);
        let link = m.state().peers[&1].link.clone();
        let award = |price| MarketMsg::Award {
            price: Amount(price),
            window: 0,
        };
        // Uniform pricing awarded below the bid: the award is what is paid.
        m.on_message(&link, &award(40).encode()).unwrap();
        assert_eq!(m.state().purchases[&pk(1)].award_price, Some(Amount(40)));
        // A seller claiming more than was bid gets the bid, no more.
        m.on_message(&link, &award(250).encode()).unwrap();
        assert_eq!(m.state().purchases[&pk(1)].award_price, Some(Amount(100)));
    }

    /// What the buyer's tick asks of the payment worker: `(open, cap)` for a new channel,
    /// and whether it bid.
    fn buyer_tick(state: &mut MarketState, left: u64) -> (Option<Amount>, bool) {
        let mut st = stats();
        st.left_bytes = left;
        let now = Instant::now();
        let mut ctx = ctx(state, &st, now);
        ctx.balance = Amount(100_000_000);
        let mut i = info(1, 0);
        i.am_interested = true;
        let link = state.peers[&1].link.clone();
        let mut out = Vec::new();
        TorrentMarket::tick_buyer(state, &ctx, &i, &link, pk(1), &mut out);
        let open = out.iter().find_map(|a| match a {
            Action::Job(Job::Open { cap, .. }) => Some(*cap),
            _ => None,
        });
        let bid = sent(&out)
            .iter()
            .any(|m| matches!(m, MarketMsg::Bid { price, .. } if !price.is_zero()));
        if let Some(p) = state.purchases.get_mut(&pk(1)) {
            p.opening = false;
        }
        (open, bid)
    }

    #[test]
    fn a_channel_is_renewed_before_expiry_or_when_dry_and_a_debt_gets_its_own() {
        let mut s = state(SellerStrategy::UniformPrice);
        s.settings.buyer = crate::market::config::BuyerConfig {
            strategy: crate::market::config::BuyerStrategy::Fixed,
            price: crate::market::config::Tokens(Amount(10_000)),
            ..crate::market::config::BuyerConfig::default()
        };
        connect(&mut s, 1, pk(1));
        if let Some(p) = s.peers.get_mut(&1) {
            p.ask = Some(SellerTerms { reserve: Amount(1) });
        }
        let now = crate::wallet::keys::now_secs();
        let lc = crate::market::config::Lifecycle::default();
        // No channel yet: open one, sized to need (10 MiB at 0.01 with half again as
        // headroom), under the ceiling.
        let (open, _) = buyer_tick(&mut s, 10 * MIB);
        assert_eq!(open, Some(Amount(150_000)));
        let mut c = cert(me());
        c.seller = pk(1);
        c.cap = Amount(150_000);
        c.expiry = now + 3600;
        s.purchases
            .entry(pk(1))
            .or_default()
            .switch_to(c.clone(), Amount::ZERO);
        // A live channel with room and life: bid on it, no new channel.
        assert_eq!(buyer_tick(&mut s, 10 * MIB), (None, true));
        // Nearing its expiry while the download needs it: renewed.
        let p = s.purchases.get_mut(&pk(1)).unwrap();
        p.channel.as_mut().unwrap().expiry = now + lc.renew_before() - 1;
        assert!(
            buyer_tick(&mut s, 10 * MIB).0.is_some(),
            "not renewed before expiry"
        );
        // Dry (less than a MiB at the bid left), with a voucher waiting for its receipt: wait
        // for the receipt, then renew.
        let p = s.purchases.get_mut(&pk(1)).unwrap();
        p.channel.as_mut().unwrap().expiry = now + 3600;
        p.paid = Amount(145_000);
        p.owed_scaled = 145_000 * u128::from(MIB);
        assert_eq!(
            buyer_tick(&mut s, 10 * MIB).0,
            None,
            "renewed with a voucher in flight"
        );
        s.purchases.get_mut(&pk(1)).unwrap().acked = Amount(145_000);
        assert!(
            buyer_tick(&mut s, 10 * MIB).0.is_some(),
            "a dry channel was not renewed"
        );
        // The switch keeps what was paid: the new channel carries only new debt.
        let mut next = c.clone();
        next.channel = ChannelId([9; 32]);
        let p = s.purchases.get_mut(&pk(1)).unwrap();
        p.switch_to(next, Amount::ZERO);
        assert_eq!((p.paid_total(), p.due()), (145_000, 0));
        // The download is done, the new channel is spent too and 15 000 µ are still owed:
        // a channel just for the debt.
        p.paid = p.channel.as_ref().unwrap().cap;
        p.acked = p.paid;
        p.owed_scaled = (145_000 + 150_000 + 15_000) * u128::from(MIB);
        assert_eq!(p.due(), 15_000);
        let (open, bid) = buyer_tick(&mut s, 0);
        assert!(!bid);
        assert_eq!(open, Some(Amount(15_000)));
    }

    #[test]
    fn keys_that_are_gone_and_clear_are_forgotten_and_debts_are_kept() {
        let mut s = state(SellerStrategy::UniformPrice);
        // Buyer 1 paid up and left; buyer 2 left owing; buyer 3 is still here.
        s.credits
            .insert(pk(1), crate::market::credit::Credit::default());
        let mut debt = crate::market::credit::Credit::default();
        debt.strikes = 1;
        s.credits.insert(pk(2), debt);
        connect(&mut s, 3, pk(3));
        s.credits
            .insert(pk(3), crate::market::credit::Credit::default());
        s.certs.insert(ChannelId([1; 32]), cert(pk(1)));
        s.certs.insert(ChannelId([2; 32]), cert(pk(2)));
        s.public_keys.insert(1, pk(1));
        s.public_keys.insert(2, pk(2));
        // Seller 5: a settled purchase, no channel; seller 6: we hold a channel with it.
        s.purchases.insert(pk(5), Purchase::default());
        s.purchases.insert(
            pk(6),
            Purchase {
                channel: Some(cert(me())),
                ..Purchase::default()
            },
        );
        s.prune();
        assert!(!s.credits.contains_key(&pk(1)));
        assert!(s.credits.contains_key(&pk(2)), "a debt survives");
        assert!(s.credits.contains_key(&pk(3)), "connected");
        assert!(!s.certs.contains_key(&ChannelId([1; 32])));
        assert!(s.certs.contains_key(&ChannelId([2; 32])));
        assert!(!s.public_keys.contains_key(&1));
        assert!(s.public_keys.contains_key(&2));
        assert!(!s.purchases.contains_key(&pk(5)));
        assert!(s.purchases.contains_key(&pk(6)), "a channel survives");
    }

    #[test]
    fn a_buyer_that_does_not_pay_is_choked_then_banned_by_key_and_address() {
        let t0 = Instant::now();
        let mut s = state(SellerStrategy::UniformPrice);
        s.settings.seller.ban_strikes = 2;
        let grace = Duration::from_secs(s.settings.seller.grace_secs);
        connect(&mut s, 1, pk(1));
        if let Some(p) = s.peers.get_mut(&1) {
            p.award_decided = Some(Amount(1_000_000));
        }
        seller_tick(&mut s, &info(1, 0), t0);
        // A whole MiB sent and not paid: over half the window, the grace clock starts.
        let out = seller_tick(&mut s, &info(1, MIB), t0);
        assert!(!out.iter().any(|a| matches!(a, Action::Choke(_))));
        let out = seller_tick(&mut s, &info(1, MIB), t0 + grace);
        assert!(out.iter().any(|a| matches!(a, Action::Choke(1))));
        assert!(sent(&out).iter().any(|m| matches!(
            m,
            MarketMsg::Reject {
                reason: RejectReason::Unpaid,
                ..
            }
        )));
        assert!(s.banned.is_empty());
        let out = seller_tick(&mut s, &info(1, MIB), t0 + grace * 2);
        assert!(s.banned.contains(&pk(1)));
        assert!(s.banned_ips.contains(&addr(1).ip()));
        assert!(out.iter().any(|a| matches!(a, Action::Close(_))));
    }
}
