//! Async client for the ledger protocol. One TCP connection per request keeps it simple and
//! robust against ledger restarts.

use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use ed25519_dalek::SigningKey;
use tokio::net::TcpStream;

use super::LedgerError;
use super::proto::{self, Action, Audit, ChannelInfo, LedgerInfo, Outcome, Reply, Request};
use super::store::LedgerStore;
use crate::wallet::amount::Amount;
use crate::wallet::keys::{self, ChannelId, LedgerId, PublicKey};

const TIMEOUT: Duration = Duration::from_secs(10);

pub struct LedgerClient {
    addr: String,
    ledger: Mutex<Option<LedgerId>>,
    last_nonce: AtomicU64,
}

impl LedgerClient {
    /// A client for the ledger at `addr` ("host:port"). Nothing is sent until a request.
    pub fn new(addr: impl Into<String>) -> LedgerClient {
        LedgerClient {
            addr: addr.into(),
            ledger: Mutex::new(None),
            last_nonce: AtomicU64::new(0),
        }
    }

    pub fn addr(&self) -> &str {
        &self.addr
    }

    /// Sends one request and returns the ledger's outcome, or its refusal as `Remote`.
    pub async fn request(&self, req: &Request) -> Result<Outcome, LedgerError> {
        let body = serde_json::to_vec(req).map_err(|e| LedgerError::Protocol(e.to_string()))?;
        let exchange = async {
            let mut s = TcpStream::connect(&self.addr).await?;
            proto::write_frame(&mut s, &body).await?;
            proto::read_frame(&mut s).await?.ok_or_else(|| {
                LedgerError::Protocol("ledger closed the connection without replying".into())
            })
        };
        let frame = tokio::time::timeout(TIMEOUT, exchange)
            .await
            .map_err(|_| {
                LedgerError::Protocol(format!("ledger at {} did not answer in time", self.addr))
            })??;
        match serde_json::from_slice::<Reply>(&frame) {
            Ok(Reply::Ok(o)) => Ok(*o),
            Ok(Reply::Error(e)) => Err(LedgerError::Remote {
                code: e.code,
                message: e.message,
            }),
            Err(e) => Err(LedgerError::Protocol(format!("unreadable reply: {e}"))),
        }
    }

    pub async fn info(&self) -> Result<LedgerInfo, LedgerError> {
        match self.request(&Request::Info {}).await? {
            Outcome::Info(i) => {
                if let Ok(mut l) = self.ledger.lock() {
                    *l = Some(i.ledger);
                }
                Ok(i)
            }
            o => Err(unexpected(o)),
        }
    }

    /// The ledger's id (its public key), fetched once.
    pub async fn ledger_id(&self) -> Result<LedgerId, LedgerError> {
        if let Some(id) = self.ledger.lock().ok().and_then(|l| *l) {
            return Ok(id);
        }
        Ok(self.info().await?.ledger)
    }

    pub async fn audit(&self) -> Result<Audit, LedgerError> {
        match self.request(&Request::Audit {}).await? {
            Outcome::Audit(a) => Ok(a),
            o => Err(unexpected(o)),
        }
    }

    pub async fn channel(&self, channel: ChannelId) -> Result<ChannelInfo, LedgerError> {
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
            let req = LedgerStore::sign_request(key, ledger, self.next_nonce(), action.clone());
            match self.request(&req).await {
                Err(LedgerError::Remote { code, .. }) if code == "stale_nonce" && tries < 3 => {
                    tries += 1;
                    tokio::time::sleep(Duration::from_millis(2)).await;
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

    /// The balance of `key`'s account and the channels it is party to.
    pub async fn balance(
        &self,
        key: &SigningKey,
    ) -> Result<(Amount, Vec<ChannelInfo>), LedgerError> {
        match self.signed(key, Action::Balance).await? {
            Outcome::Balance {
                balance, channels, ..
            } => Ok((balance, channels)),
            o => Err(unexpected(o)),
        }
    }
}

fn unexpected(o: Outcome) -> LedgerError {
    LedgerError::Protocol(format!("unexpected reply {o:?}"))
}
