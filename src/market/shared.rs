//! What every torrent's market in a session shares (the wallet, the ledger, the configuration
//! and the list of live torrent markets), and the extension factory that starts a
//! [`TorrentMarket`] for each new torrent.

use std::collections::HashSet;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, Weak};

use crate::engine::extension::{Extension, ExtensionFactory, TorrentHandle};
use crate::engine::types::InfoHash;
use crate::market::bans::Bans;
use crate::market::config::{ConfigError, Effective, MarketConfig};
use crate::market::torrent_market::TorrentMarket;
use crate::wallet::{ChannelId, LedgerClient, LedgerId, Wallet};

/// Takes a market lock, recovering it if a panicking task poisoned it.
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
    /// Buyers banned for not paying, on any torrent of the session (see `bans`). Taken after
    /// a torrent market's own lock, never before it.
    pub bans: Mutex<Bans>,
    /// Outgoing channels a torrent's purchase pays on: one channel serves one purchase, so
    /// two torrents never count the same cumulative voucher. Taken after a torrent market's
    /// own lock, never before it.
    pub in_use: Mutex<HashSet<ChannelId>>,
}

impl MarketShared {
    /// Takes `channel` for one purchase; false if another already pays on it.
    pub fn claim(&self, channel: ChannelId) -> bool {
        lock(&self.in_use).insert(channel)
    }

    pub fn release(&self, channel: &ChannelId) {
        lock(&self.in_use).remove(channel);
    }

    /// Whether a purchase pays on `channel` now.
    pub fn in_use(&self, channel: &ChannelId) -> bool {
        lock(&self.in_use).contains(channel)
    }

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

/// Starts the market on every torrent of a session (while the market is enabled).
pub struct Factory(pub Arc<MarketShared>);

impl ExtensionFactory for Factory {
    fn create(&self, torrent: &TorrentHandle) -> Option<Arc<dyn Extension>> {
        if !lock(&self.0.config).enabled {
            return None;
        }
        // The payment worker needs a runtime; without one the torrent simply stays plain.
        let runtime = tokio::runtime::Handle::try_current().ok()?;
        let market = TorrentMarket::attach(self.0.clone(), torrent, &runtime);
        lock(&self.0.torrents).push(Arc::downgrade(&market));
        Some(market)
    }
}
