//! The ledger server: accepts framed JSON requests on TCP and answers from a `Ledger`, every
//! reply signed by the ledger key. The same code runs as `bidtorrent ledger serve` and
//! in-process as `EmbeddedLedger`.
//!
//! Bounded: at most `max_connections` at once (the rest are told `busy` and closed), an
//! idle timeout between requests, a timeout on writing a reply, frames of at most
//! `MAX_FRAME`, and the per-key rate limit in the engine.

use std::future::Future;
use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use ed25519_dalek::SigningKey;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{Semaphore, oneshot};
use tokio::task::JoinHandle;

use super::LedgerError;
use super::client::LedgerClient;
use super::engine::{Ledger, LedgerConfig};
use super::proto::{self, ErrorBody, Reply};
use crate::wallet::amount::Amount;
use crate::wallet::keys::{self, LedgerId, PublicKey};

/// How often expired channels are refunded.
const SWEEP_EVERY: Duration = Duration::from_secs(1);
/// A client that does not read its reply within this is dropped.
const WRITE_TIMEOUT: Duration = Duration::from_secs(10);

/// Serves `ledger` on `listener` until `shutdown` completes.
pub async fn serve(
    listener: TcpListener,
    ledger: Arc<Ledger>,
    shutdown: impl Future<Output = ()>,
) -> Result<(), LedgerError> {
    tokio::pin!(shutdown);
    let slots = Arc::new(Semaphore::new(ledger.config().max_connections.max(1)));
    let mut sweep = tokio::time::interval(SWEEP_EVERY);
    let mut chain_poll = tokio::time::interval(ledger.config().chain_poll);
    chain_poll.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let has_chain = ledger.chain().is_some();
    loop {
        tokio::select! {
            _ = &mut shutdown => return Ok(()),
            _ = chain_poll.tick(), if has_chain => {
                let l = ledger.clone();
                match tokio::task::spawn_blocking(move || l.poll_chain()).await {
                    Ok(Ok(Some(r))) if r.deposits + r.payouts + r.refunds > 0 => tracing::info!(
                        deposits = r.deposits, payouts = r.payouts, refunds = r.refunds,
                        block = ?r.cursor,
                        "applied vault events"
                    ),
                    Ok(Err(e)) => tracing::warn!("chain poll failed: {e}"),
                    _ => {}
                }
            }
            _ = sweep.tick() => {
                let l = ledger.clone();
                match tokio::task::spawn_blocking(move || l.sweep_expired(keys::now_secs())).await {
                    Ok(Ok(n)) if n > 0 => tracing::info!(closed = n, "refunded expired channels"),
                    Ok(Err(e)) => tracing::warn!("expiry sweep failed: {e}"),
                    _ => {}
                }
            }
            accepted = listener.accept() => match accepted {
                Ok((stream, peer)) => {
                    let l = ledger.clone();
                    let permit = slots.clone().try_acquire_owned();
                    tokio::spawn(async move {
                        let Ok(_permit) = permit else {
                            busy(stream, &l).await;
                            return;
                        };
                        if let Err(e) = connection(stream, l).await {
                            tracing::debug!(%peer, "ledger connection ended: {e}");
                        }
                    });
                }
                // Transient (e.g. out of file descriptors): keep serving the others.
                Err(e) => {
                    tracing::warn!("accept failed: {e}");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                }
            },
        }
    }
}

/// Tells a connection over the cap why it is closed.
async fn busy(mut stream: TcpStream, ledger: &Ledger) {
    let reply = Reply::Error(ErrorBody {
        code: "busy".into(),
        message: "ledger at its connection limit; retry shortly".into(),
    });
    let body = ledger.sign_reply(b"", &reply);
    let _ = tokio::time::timeout(WRITE_TIMEOUT, proto::write_frame(&mut stream, &body)).await;
}

async fn connection(mut stream: TcpStream, ledger: Arc<Ledger>) -> Result<(), LedgerError> {
    let idle = ledger.config().idle_timeout;
    loop {
        let frame = match tokio::time::timeout(idle, proto::read_frame(&mut stream)).await {
            Err(_) | Ok(Ok(None)) => return Ok(()),
            Ok(Ok(Some(f))) => f,
            Ok(Err(e)) => {
                // Oversized or truncated frame: say why, then hang up (framing is lost).
                let reply = Reply::Error(ErrorBody {
                    code: "malformed".into(),
                    message: e.to_string(),
                });
                let body = ledger.sign_reply(b"", &reply);
                let _ = tokio::time::timeout(WRITE_TIMEOUT, proto::write_frame(&mut stream, &body))
                    .await;
                return Err(e.into());
            }
        };
        let l = ledger.clone();
        // Store calls block (sled fsync, PostgreSQL round trips): keep them off the workers.
        let body = match tokio::task::spawn_blocking(move || {
            let body = l.answer(&frame, keys::now_secs());
            (frame, body)
        })
        .await
        {
            Ok((_, body)) => body,
            Err(e) => {
                let reply = Reply::Error(ErrorBody {
                    code: "internal".into(),
                    message: e.to_string(),
                });
                ledger.sign_reply(b"", &reply)
            }
        };
        tokio::time::timeout(WRITE_TIMEOUT, proto::write_frame(&mut stream, &body))
            .await
            .map_err(|_| LedgerError::Protocol("client did not read its reply".into()))??;
    }
}

/// A ledger running inside this process on 127.0.0.1 (for `demo` and tests). Dropping it
/// stops the server.
pub struct EmbeddedLedger {
    ledger: Arc<Ledger>,
    addr: SocketAddr,
    stop: Option<oneshot::Sender<()>>,
    task: Option<JoinHandle<Result<(), LedgerError>>>,
}

impl EmbeddedLedger {
    /// Opens (or creates) the sled ledger in `db_dir` and serves it on an ephemeral loopback
    /// port. Must be called within a tokio runtime.
    pub async fn start(db_dir: &Path) -> Result<(EmbeddedLedger, SocketAddr), LedgerError> {
        EmbeddedLedger::start_with(db_dir, LedgerConfig::default()).await
    }

    pub async fn start_with(
        db_dir: &Path,
        config: LedgerConfig,
    ) -> Result<(EmbeddedLedger, SocketAddr), LedgerError> {
        EmbeddedLedger::start_on(db_dir, None, config).await
    }

    /// Like `start_with`, on the store `url` (`None`: sled in `db_dir`; keys stay in `db_dir`).
    pub async fn start_on(
        db_dir: &Path,
        url: Option<&str>,
        config: LedgerConfig,
    ) -> Result<(EmbeddedLedger, SocketAddr), LedgerError> {
        let dir = db_dir.to_path_buf();
        let url = url.map(str::to_string);
        let ledger =
            tokio::task::spawn_blocking(move || Ledger::open_with(&dir, url.as_deref(), config))
                .await
                .map_err(|e| LedgerError::Storage(e.to_string()))??;
        let ledger = Arc::new(ledger);
        let listener = TcpListener::bind(("127.0.0.1", 0)).await?;
        let addr = listener.local_addr()?;
        let (tx, rx) = oneshot::channel();
        let task = tokio::spawn(serve(listener, ledger.clone(), async {
            let _ = rx.await;
        }));
        Ok((
            EmbeddedLedger {
                ledger,
                addr,
                stop: Some(tx),
                task: Some(task),
            },
            addr,
        ))
    }

    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    pub fn id(&self) -> LedgerId {
        self.ledger.id()
    }

    /// The ledger itself (its store calls block: from async code on a PostgreSQL store,
    /// call them through `spawn_blocking`).
    pub fn store(&self) -> &Arc<Ledger> {
        &self.ledger
    }

    pub fn admin_key(&self) -> Result<SigningKey, LedgerError> {
        self.ledger.admin_key()
    }

    /// A client for this ledger.
    pub fn client(&self) -> LedgerClient {
        LedgerClient::new(self.addr.to_string())
    }

    /// Mints through the wire protocol, signed with the admin key (demo funding).
    pub async fn mint(&self, account: PublicKey, amount: Amount) -> Result<Amount, LedgerError> {
        self.client()
            .mint(&self.admin_key()?, account, amount)
            .await
    }

    /// Stops serving and waits for the server task.
    pub async fn shutdown(mut self) -> Result<(), LedgerError> {
        if let Some(tx) = self.stop.take() {
            let _ = tx.send(());
        }
        if let Some(task) = self.task.take() {
            task.await
                .map_err(|e| LedgerError::Storage(e.to_string()))??;
        }
        self.ledger.flush()
    }
}

impl Drop for EmbeddedLedger {
    fn drop(&mut self) {
        if let Some(tx) = self.stop.take() {
            let _ = tx.send(());
        }
    }
}
