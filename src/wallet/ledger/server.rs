//! The ledger server: accepts framed JSON requests on TCP and answers from a `LedgerStore`.
//! The same code runs as `bidtorrent ledger serve` and in-process as `EmbeddedLedger`.

use std::future::Future;
use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use ed25519_dalek::SigningKey;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

use super::LedgerError;
use super::client::LedgerClient;
use super::proto::{self, ErrorBody, Reply, Request};
use super::store::{LedgerConfig, LedgerStore};
use crate::wallet::amount::Amount;
use crate::wallet::keys::{self, LedgerId, PublicKey};

/// How often expired channels are refunded.
const SWEEP_EVERY: Duration = Duration::from_secs(1);
/// A connection idle this long between requests is dropped.
const IDLE_TIMEOUT: Duration = Duration::from_secs(60);

/// Serves `store` on `listener` until `shutdown` completes.
pub async fn serve(
    listener: TcpListener,
    store: Arc<LedgerStore>,
    shutdown: impl Future<Output = ()>,
) -> Result<(), LedgerError> {
    tokio::pin!(shutdown);
    let mut sweep = tokio::time::interval(SWEEP_EVERY);
    loop {
        tokio::select! {
            _ = &mut shutdown => return Ok(()),
            _ = sweep.tick() => {
                let s = store.clone();
                match tokio::task::spawn_blocking(move || s.sweep_expired(keys::now_secs())).await {
                    Ok(Ok(n)) if n > 0 => tracing::info!(closed = n, "refunded expired channels"),
                    Ok(Err(e)) => tracing::warn!("expiry sweep failed: {e}"),
                    _ => {}
                }
            }
            accepted = listener.accept() => match accepted {
                Ok((stream, peer)) => {
                    let s = store.clone();
                    tokio::spawn(async move {
                        if let Err(e) = connection(stream, s).await {
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

async fn connection(mut stream: TcpStream, store: Arc<LedgerStore>) -> Result<(), LedgerError> {
    loop {
        let frame = match tokio::time::timeout(IDLE_TIMEOUT, proto::read_frame(&mut stream)).await {
            Err(_) | Ok(Ok(None)) => return Ok(()),
            Ok(Ok(Some(f))) => f,
            Ok(Err(e)) => {
                // Oversized or truncated frame: say why, then hang up (framing is lost).
                let reply = Reply::Error(ErrorBody {
                    code: "malformed".into(),
                    message: e.to_string(),
                });
                let body =
                    serde_json::to_vec(&reply).map_err(|e| LedgerError::Protocol(e.to_string()))?;
                let _ = proto::write_frame(&mut stream, &body).await;
                return Err(e.into());
            }
        };
        let reply = match serde_json::from_slice::<Request>(&frame) {
            Err(e) => Reply::Error(ErrorBody {
                code: "malformed".into(),
                message: format!("malformed request: {e}"),
            }),
            Ok(req) => {
                let s = store.clone();
                // sled flushes block on fsync: keep them off the async workers.
                match tokio::task::spawn_blocking(move || s.handle(req, keys::now_secs())).await {
                    Ok(Ok(outcome)) => Reply::Ok(Box::new(outcome)),
                    Ok(Err(e)) => Reply::Error(ErrorBody {
                        code: e.code(),
                        message: e.to_string(),
                    }),
                    Err(e) => Reply::Error(ErrorBody {
                        code: "internal".into(),
                        message: e.to_string(),
                    }),
                }
            }
        };
        let body = serde_json::to_vec(&reply).map_err(|e| LedgerError::Protocol(e.to_string()))?;
        proto::write_frame(&mut stream, &body).await?;
    }
}

/// A ledger running inside this process on 127.0.0.1 (for `demo` and tests). Dropping it
/// stops the server.
pub struct EmbeddedLedger {
    store: Arc<LedgerStore>,
    addr: SocketAddr,
    stop: Option<oneshot::Sender<()>>,
    task: Option<JoinHandle<Result<(), LedgerError>>>,
}

impl EmbeddedLedger {
    /// Opens (or creates) the ledger in `db_dir` and serves it on an ephemeral loopback port.
    /// Must be called within a tokio runtime.
    pub async fn start(db_dir: &Path) -> Result<(EmbeddedLedger, SocketAddr), LedgerError> {
        EmbeddedLedger::start_with(db_dir, LedgerConfig::default()).await
    }

    pub async fn start_with(
        db_dir: &Path,
        config: LedgerConfig,
    ) -> Result<(EmbeddedLedger, SocketAddr), LedgerError> {
        let dir = db_dir.to_path_buf();
        let store = tokio::task::spawn_blocking(move || LedgerStore::open(&dir, config))
            .await
            .map_err(|e| LedgerError::Storage(e.to_string()))??;
        let store = Arc::new(store);
        let listener = TcpListener::bind(("127.0.0.1", 0)).await?;
        let addr = listener.local_addr()?;
        let (tx, rx) = oneshot::channel();
        let task = tokio::spawn(serve(listener, store.clone(), async {
            let _ = rx.await;
        }));
        Ok((
            EmbeddedLedger {
                store,
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
        self.store.id()
    }

    pub fn store(&self) -> &Arc<LedgerStore> {
        &self.store
    }

    pub fn admin_key(&self) -> Result<SigningKey, LedgerError> {
        self.store.admin_key()
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
        self.store.flush()
    }
}

impl Drop for EmbeddedLedger {
    fn drop(&mut self) {
        if let Some(tx) = self.stop.take() {
            let _ = tx.send(());
        }
    }
}
