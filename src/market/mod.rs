//! The bidding engine (SPEC §4): the `bt_market` BEP 10 extension, the bid book, buyer and
//! seller strategies, and the credit window. Wire format: PROTOCOL.md.
//!
//! It depends on the engine only through its extension door (`Extension`, `TorrentHandle`,
//! `PeerLink`) and the `Choker` trait, and on the wallet only through its public API. The core
//! of one torrent's market is [`torrent_market::TorrentMarket`] (see its module docs for the
//! lock order); what the torrents of a session share is in [`shared`]. A session trades once a
//! [`Market`] is registered:
//!
//! ```ignore
//! let market = Market::new(wallet, ledger_client, config).await?;
//! session.register_extension(market.factory());
//! ```

pub mod bans;
pub mod book;
pub mod config;
pub mod credit;
pub mod lifecycle;
pub mod proto;
pub mod shared;
pub mod strategy;
pub mod torrent_market;

/// The market core's former path, for callers not yet moved to [`torrent_market`].
pub mod extension {
    pub use super::torrent_market::{BuyChannel, MarketReport, PeerMarket};
}

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use crate::engine::extension::ExtensionFactory;
use crate::engine::types::InfoHash;
use crate::wallet::{LedgerClient, Wallet, WalletError};

pub use config::{ConfigError, Effective, MarketConfig};
pub use torrent_market::{BuyChannel, MarketReport, PeerMarket};

#[derive(Debug, thiserror::Error)]
pub enum MarketError {
    #[error(transparent)]
    Config(#[from] ConfigError),
    #[error("connecting the wallet to the ledger: {0}")]
    Wallet(#[from] WalletError),
}

/// The market of one session: register [`Market::factory`] before adding torrents.
#[derive(Clone)]
pub struct Market {
    shared: Arc<shared::MarketShared>,
}

impl Market {
    /// Connects the wallet to the ledger (it then trusts that ledger's certificates) and
    /// checks the configuration.
    pub async fn new(
        wallet: Arc<Wallet>,
        ledger: LedgerClient,
        config: MarketConfig,
    ) -> Result<Market, MarketError> {
        config.validate()?;
        let known = wallet.connect(&ledger).await?;
        let balance = wallet.refresh(&ledger).await.unwrap_or(known.balance);
        Ok(Market {
            shared: Arc::new(shared::MarketShared {
                wallet,
                ledger,
                ledger_id: known.ledger,
                config: std::sync::Mutex::new(config),
                generation: AtomicU64::new(0),
                balance: AtomicU64::new(balance.micro()),
                torrents: std::sync::Mutex::new(Vec::new()),
                bans: std::sync::Mutex::new(bans::Bans::default()),
                in_use: std::sync::Mutex::new(Default::default()),
            }),
        })
    }

    /// Keeps the session's bans in `path` (loading those already there), so a buyer banned
    /// for not paying stays banned across restarts. Returns how many are in force.
    pub fn persist_bans(&self, path: &std::path::Path) -> Result<usize, bans::BanError> {
        let loaded = bans::Bans::load(path)?;
        let n = loaded.len();
        *shared::lock(&self.shared.bans) = loaded;
        Ok(n)
    }

    pub fn factory(&self) -> Arc<dyn ExtensionFactory> {
        Arc::new(shared::Factory(self.shared.clone()))
    }

    pub fn wallet(&self) -> &Arc<Wallet> {
        &self.shared.wallet
    }

    /// The ledger this market trades on.
    pub fn ledger(&self) -> &LedgerClient {
        &self.shared.ledger
    }

    pub fn config(&self) -> MarketConfig {
        shared::lock(&self.shared.config).clone()
    }

    /// The strategies in force globally (`None`) or for one torrent.
    pub fn strategy(&self, torrent: Option<&InfoHash>) -> Effective {
        match torrent {
            Some(ih) => self.shared.effective(ih),
            None => {
                let c = shared::lock(&self.shared.config);
                Effective {
                    buyer: c.buyer.clone(),
                    seller: c.seller.clone(),
                }
            }
        }
    }

    /// Sets a strategy (buyer or seller name) and parameters, globally or for one torrent;
    /// running torrents pick it up within a second. All-or-nothing.
    pub fn set_strategy(
        &self,
        torrent: Option<&InfoHash>,
        name: Option<&str>,
        params: &[(String, String)],
    ) -> Result<Effective, ConfigError> {
        self.shared.set(torrent, name, params)?;
        Ok(self.strategy(torrent))
    }

    /// What is stored for one torrent: only the settings that differ from the global ones
    /// (what the daemon persists so a choice survives a restart).
    pub fn torrent_override(&self, torrent: &InfoHash) -> Option<toml::Table> {
        shared::lock(&self.shared.config)
            .torrent
            .get(&torrent.to_hex())
            .cloned()
    }

    /// Puts back a saved override (`None` removes it). All-or-nothing: an override that does
    /// not validate against the current global settings changes nothing.
    pub fn set_torrent_override(
        &self,
        torrent: &InfoHash,
        ov: Option<toml::Table>,
    ) -> Result<(), ConfigError> {
        let mut cfg = shared::lock(&self.shared.config);
        let mut next = cfg.clone();
        match ov {
            Some(t) => next.torrent.insert(torrent.to_hex(), t),
            None => next.torrent.remove(&torrent.to_hex()),
        };
        next.validate()?;
        *cfg = next;
        drop(cfg);
        self.shared.generation.fetch_add(1, Ordering::SeqCst);
        Ok(())
    }

    /// Replaces the global strategies (a saved run-time choice). All-or-nothing.
    pub fn set_global(
        &self,
        buyer: config::BuyerConfig,
        seller: config::SellerConfig,
    ) -> Result<(), ConfigError> {
        let mut cfg = shared::lock(&self.shared.config);
        let mut next = cfg.clone();
        next.buyer = buyer;
        next.seller = seller;
        next.validate()?;
        *cfg = next;
        drop(cfg);
        self.shared.generation.fetch_add(1, Ordering::SeqCst);
        Ok(())
    }

    /// Live market state of a torrent (bids, awards, payments), for the dashboard and reports.
    pub fn report(&self, torrent: &InfoHash) -> Option<MarketReport> {
        let list = shared::lock(&self.shared.torrents);
        list.iter()
            .filter_map(|w| w.upgrade())
            .find(|t| t.info_hash() == *torrent)
            .map(|t| t.report())
    }

    /// Starts the channel lifecycle (redeem, close idle channels, collect refunds; see
    /// [`lifecycle`]) on the current runtime. It ends when the market is dropped.
    pub fn spawn_lifecycle(&self) -> tokio::task::JoinHandle<()> {
        tokio::spawn(lifecycle::Keeper::new(&self.shared).run())
    }

    /// A lifecycle keeper to step by hand (tests).
    pub fn keeper(&self) -> lifecycle::Keeper {
        lifecycle::Keeper::new(&self.shared)
    }

    /// Redeems every unredeemed earning now (clean shutdown, `wallet redeem`).
    pub async fn settle(&self) -> Result<Vec<crate::wallet::Redemption>, WalletError> {
        self.shared.wallet.redeem_all(&self.shared.ledger).await
    }

    /// Whether a download of this session pays on `channel` (hand-made payments on it would
    /// upset the download's accounting).
    pub fn channel_in_use(&self, channel: &crate::wallet::ChannelId) -> bool {
        self.shared.in_use(channel)
    }

    /// Last balance seen at the ledger.
    pub fn balance(&self) -> crate::wallet::Amount {
        crate::wallet::Amount(self.shared.balance.load(Ordering::Relaxed))
    }
}
