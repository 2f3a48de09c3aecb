//! Async client for the ledger protocol. One TCP connection per request keeps it simple and
//! robust against ledger restarts. Every reply must carry a valid signature by the ledger
//! this client pinned (the id it learned on first contact, or was given); anything else is
//! refused with `LedgerError::BadReply`.
//!
//! The address may list several servers of one ledger ("HOST:PORT,HOST:PORT"): when one
//! does not answer, the same signed request goes to the next (safe: the nonce makes a
//! request apply at most once).

use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::time::Duration;

use ed25519_dalek::SigningKey;
use tokio::net::TcpStream;

use super::LedgerError;
use super::proto::{
    self, AccountSummary, Action, Audit, ChannelInfo, ClosedCursor, LedgerInfo, Outcome, Reply,
    Request, Side,
};
use crate::wallet::amount::Amount;
use crate::wallet::keys::{self, ChannelId, LedgerId, PublicKey};

const TIMEOUT: Duration = Duration::from_secs(10);
/// `balance` pages followed at most (40 channels each): twice the default per-key limit
/// on live channels (as payer and as payee) fits in 50.
const MAX_PAGES: usize = 250;

/// An account as its ledger reports it: balance, summary and every live channel.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AccountView {
    pub balance: Amount,
    /// `None` from a ledger too old to send one.
    pub summary: Option<AccountSummary>,
    /// Live (open or closing) channels the account is party to.
    pub channels: Vec<ChannelInfo>,
}

pub struct LedgerClient {
    addr: String,
    addrs: Vec<String>,
    /// Index into `addrs` of the server used last.
    current: AtomicUsize,
    ledger: Mutex<Option<LedgerId>>,
    last_nonce: AtomicU64,
}

impl LedgerClient {
    /// A client for the ledger at `addr` ("host:port", or several separated by commas).
    /// Nothing is sent until a request; the ledger id is learned from the first `info`.
    pub fn new(addr: impl Into<String>) -> LedgerClient {
        let addr = addr.into();
        let addrs = addr
            .split(',')
            .map(str::trim)
            .filter(|a| !a.is_empty())
            .map(str::to_string)
            .collect();
        LedgerClient {
            addr,
            addrs,
            current: AtomicUsize::new(0),
            ledger: Mutex::new(None),
            last_nonce: AtomicU64::new(0),
        }
    }

    /// A client that accepts only replies signed by `ledger`.
    pub fn pinned(addr: impl Into<String>, ledger: LedgerId) -> LedgerClient {
        let c = LedgerClient::new(addr);
        c.pin(ledger);
        c
    }

    /// From now on, accept only replies signed by `ledger`.
    pub fn pin(&self, ledger: LedgerId) {
        if let Ok(mut l) = self.ledger.lock() {
            *l = Some(ledger);
        }
    }

    fn pinned_id(&self) -> Option<LedgerId> {
        self.ledger.lock().ok().and_then(|l| *l)
    }

    pub fn addr(&self) -> &str {
        &self.addr
    }

    /// One exchange with one server: the raw reply frame.
    async fn exchange(&self, addr: &str, body: &[u8]) -> Result<Vec<u8>, LedgerError> {
        let exchange = async {
            let mut s = TcpStream::connect(addr).await?;
            proto::write_frame(&mut s, body).await?;
            proto::read_frame(&mut s).await?.ok_or_else(|| {
                LedgerError::Protocol(format!(
                    "ledger at {addr} closed the connection without replying"
                ))
            })
        };
        tokio::time::timeout(TIMEOUT, exchange).await.map_err(|_| {
            LedgerError::Protocol(format!("ledger at {addr} did not answer in time"))
        })?
    }

    /// Sends one request and returns the ledger's outcome, or its refusal as `Remote`.
    pub async fn request(&self, req: &Request) -> Result<Outcome, LedgerError> {
        let body = serde_json::to_vec(req).map_err(|e| LedgerError::Protocol(e.to_string()))?;
        let n = self.addrs.len().max(1);
        let first = self.current.load(Ordering::Relaxed) % n;
        let mut last_err = LedgerError::Protocol(format!("no ledger address in {:?}", self.addr));
        for i in 0..n {
            let idx = (first + i) % n;
            let Some(addr) = self.addrs.get(idx) else {
                break;
            };
            let frame = match self.exchange(addr, &body).await {
                Ok(f) => f,
                Err(e) => {
                    // This server is down or stuck: the next one gets the same request.
                    tracing::debug!(%addr, "ledger server failed: {e}");
                    last_err = e;
                    continue;
                }
            };
            let reply = proto::open_reply(self.pinned_id(), &body, &frame).map_err(|why| {
                LedgerError::BadReply {
                    addr: addr.clone(),
                    why,
                }
            })?;
            match reply {
                Reply::Ok(o) => {
                    self.current.store(idx, Ordering::Relaxed);
                    return Ok(*o);
                }
                Reply::Error(e) if e.code == "busy" => {
                    last_err = LedgerError::Remote {
                        code: e.code,
                        message: e.message,
                    };
                }
                Reply::Error(e) => {
                    self.current.store(idx, Ordering::Relaxed);
                    return Err(LedgerError::Remote {
                        code: e.code,
                        message: e.message,
                    });
                }
            }
        }
        Err(last_err)
    }

    pub async fn info(&self) -> Result<LedgerInfo, LedgerError> {
        match self.request(&Request::Info {}).await? {
            Outcome::Info(i) => {
                // Trust on first use; once pinned, `request` already refused any other signer.
                if self.pinned_id().is_none() {
                    self.pin(i.ledger);
                }
                Ok(i)
            }
            o => Err(unexpected(o)),
        }
    }

    /// The ledger's id (its public key), fetched once.
    pub async fn ledger_id(&self) -> Result<LedgerId, LedgerError> {
        if let Some(id) = self.pinned_id() {
            return Ok(id);
        }
        Ok(self.info().await?.ledger)
    }

    pub async fn audit(&self) -> Result<Audit, LedgerError> {
        self.ledger_id().await?;
        match self.request(&Request::Audit {}).await? {
            Outcome::Audit(a) => Ok(a),
            o => Err(unexpected(o)),
        }
    }

    pub async fn channel(&self, channel: ChannelId) -> Result<ChannelInfo, LedgerError> {
        self.ledger_id().await?;
        match self.request(&Request::Channel { channel }).await? {
            Outcome::Channel(c) => Ok(c),
            o => Err(unexpected(o)),
        }
    }

    /// A nonce above any this client used: Unix microseconds, bumped if the clock stalls.
    fn next_nonce(&self) -> u64 {
        let now = keys::now_micros();
        let mut last = self.last_nonce.load(Ordering::SeqCst);
        loop {
            let next = now.max(last.saturating_add(1));
            match self
                .last_nonce
                .compare_exchange(last, next, Ordering::SeqCst, Ordering::SeqCst)
            {
                Ok(_) => return next,
                Err(l) => last = l,
            }
        }
    }

    /// Signs `action` with `key` and sends it. A `stale_nonce` refusal (another process using
    /// the same key raced us) is retried with a fresh nonce: the refused request was not applied.
    pub async fn signed(&self, key: &SigningKey, action: Action) -> Result<Outcome, LedgerError> {
        let ledger = self.ledger_id().await?;
        let mut tries = 0;
        loop {
            let req = proto::sign_request(key, ledger, self.next_nonce(), action.clone());
            match self.request(&req).await {
                Err(LedgerError::Remote { code, .. })
                    if (code == "stale_nonce" || code == "rate_limited") && tries < 3 =>
                {
                    tries += 1;
                    let pause = if code == "rate_limited" { 200 } else { 2 };
                    tokio::time::sleep(Duration::from_millis(pause)).await;
                }
                r => return r,
            }
        }
    }

    /// Admin: mint `amount` into `account`. Returns the account's new balance.
    pub async fn mint(
        &self,
        admin: &SigningKey,
        account: PublicKey,
        amount: Amount,
    ) -> Result<Amount, LedgerError> {
        match self.signed(admin, Action::Mint { account, amount }).await? {
            Outcome::Minted { balance, .. } => Ok(balance),
            o => Err(unexpected(o)),
        }
    }

    /// The balance of `key`'s account and its live channels (following every page).
    pub async fn balance(
        &self,
        key: &SigningKey,
    ) -> Result<(Amount, Vec<ChannelInfo>), LedgerError> {
        let v = self.account(key).await?;
        Ok((v.balance, v.channels))
    }

    /// `key`'s account: balance, summary (from the first page) and every live channel.
    pub async fn account(&self, key: &SigningKey) -> Result<AccountView, LedgerError> {
        self.account_side(key, None).await
    }

    /// `key`'s account: balance, summary (from the first page) and every live channel on
    /// `side` (both sides: `None`).
    pub async fn account_side(
        &self,
        key: &SigningKey,
        side: Option<Side>,
    ) -> Result<AccountView, LedgerError> {
        let mut view: Option<AccountView> = None;
        let mut after = None;
        for _ in 0..MAX_PAGES {
            match self.signed(key, Action::Balance { after, side }).await? {
                Outcome::Balance {
                    balance,
                    summary,
                    channels,
                    next,
                    ..
                } => {
                    let v = view.get_or_insert(AccountView {
                        balance,
                        summary,
                        channels: Vec::new(),
                    });
                    v.channels.extend(channels);
                    match next {
                        // A page must move forward, or a hostile ledger could loop us.
                        Some(n) if after.is_none_or(|a| n > a) => after = Some(n),
                        _ => return view.ok_or_else(unexpected_end),
                    }
                }
                o => return Err(unexpected(o)),
            }
        }
        Err(LedgerError::Protocol(format!(
            "more than {MAX_PAGES} pages of channels"
        )))
    }

    /// One page of `key`'s channels closed at or after `since` (Unix seconds), after
    /// `after`; with the cursor of the next page if there is one.
    pub async fn closed_channels(
        &self,
        key: &SigningKey,
        since: u64,
        after: Option<ClosedCursor>,
    ) -> Result<(Vec<ChannelInfo>, Option<ClosedCursor>), LedgerError> {
        match self
            .signed(key, Action::ClosedChannels { since, after })
            .await?
        {
            Outcome::ClosedChannels { channels, next, .. } => {
                // A page must move forward, or a hostile ledger could loop us.
                let forward = |n: &ClosedCursor| {
                    after.is_none_or(|a| (n.closed_at, n.channel) > (a.closed_at, a.channel))
                };
                Ok((channels, next.filter(forward)))
            }
            o => Err(unexpected(o)),
        }
    }
}

fn unexpected_end() -> LedgerError {
    LedgerError::Protocol("no balance page".into())
}

fn unexpected(o: Outcome) -> LedgerError {
    LedgerError::Protocol(format!("unexpected reply {o:?}"))
}
