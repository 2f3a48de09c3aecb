//! The one place a session is put together: the engine's [`Session`] with its peer listener,
//! the DHT and LSD when asked, and the market's extension registered before any torrent
//! starts. The daemon, the standalone dashboard, the one-shot commands and the demo all
//! assemble their sessions here, so they trade and discover peers under the same rules.
//!
//! [`start_controller`] goes one step further for the daemon and the standalone dashboard:
//! it wraps the session in the application core ([`Controller`]) and restores the saved
//! session when it persists.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use super::controller::{Controller, ControllerConfig};
use super::saved;
use crate::config::Config;
use crate::engine::lsd::LsdConfig;
use crate::engine::session::{Session, SessionConfig, SessionError};
use crate::engine::transport::NetOptions;
use crate::market::Market;
use crate::wallet::Wallet;

/// How often the seeding rules are applied.
const SEEDING_CHECK: Duration = Duration::from_secs(2);

/// The market as the daemon runs it (SPEC §4). Set once, before the session is restored.
#[derive(Clone, Default)]
pub struct MarketSetup {
    /// `[market] enabled` in the config.
    pub enabled: bool,
    /// Trading; `None` when off or unavailable.
    pub market: Option<Market>,
    /// Why an enabled market is not trading (wallet or ledger failed); never silent.
    pub unavailable: Option<String>,
    /// The wallet, when it could be opened (even if the ledger could not be reached), so
    /// `wallet` answers; the daemon holds its lock.
    pub wallet: Option<Arc<Wallet>>,
    /// `[market] ledger`.
    pub ledger_addr: String,
}

impl MarketSetup {
    /// `off`, `on`, or `unavailable: <reason>` (the `market` field of `status`).
    pub fn status(&self) -> String {
        match (&self.market, &self.unavailable) {
            _ if !self.enabled => "off".into(),
            (Some(_), _) => "on".into(),
            (None, Some(why)) => format!("unavailable: {why}"),
            (None, None) => "unavailable".into(),
        }
    }
}

/// What a session is made of.
#[derive(Clone, Default)]
pub struct SessionSpec {
    pub listen: Option<SocketAddr>,
    pub data_dir: PathBuf,
    /// Global limits, bytes/s (0 = unlimited).
    pub download_limit: u64,
    pub upload_limit: u64,
    /// When the listen port is taken, take a free one instead of failing (the dashboard:
    /// a second instance must still open).
    pub any_port_if_taken: bool,
    /// `None`: no DHT; `Some(None)`: the default bootstrap; `Some(Some(nodes))`: these.
    pub dht: Option<Option<Vec<String>>>,
    /// Where the DHT keeps its routing table between runs (`None`: nowhere).
    pub dht_state_dir: Option<PathBuf>,
    /// BEP 14 local service discovery.
    pub lsd: bool,
    /// The market whose extension every torrent of this session carries.
    pub market: Option<Market>,
    /// Transports and protocol encryption (`[network]`).
    pub network: NetOptions,
}

/// A session and how its optional parts went: those never fail the session, the caller
/// reports them.
pub struct Assembled {
    pub session: Arc<Session>,
    /// The DHT's address, or why it did not start; `None` when not asked for.
    pub dht: Option<Result<SocketAddr, String>>,
    /// Why LSD did not start, when asked for.
    pub lsd_error: Option<String>,
}

/// Starts the session, then the DHT and LSD as asked, and registers the market's extension
/// before anything can add a torrent.
pub async fn assemble(spec: SessionSpec) -> Result<Assembled, SessionError> {
    let listen = spec
        .listen
        .unwrap_or_else(|| SocketAddr::from(([0, 0, 0, 0], 6881)));
    let cfg = |listen| SessionConfig {
        listen,
        data_dir: spec.data_dir.clone(),
        download_limit: spec.download_limit,
        upload_limit: spec.upload_limit,
    };
    let session = match Session::start(cfg(listen)).await {
        Ok(s) => s,
        Err(e) if spec.any_port_if_taken && listen.port() != 0 => {
            tracing::warn!("{e}; trying a free port");
            let mut any = listen;
            any.set_port(0);
            Session::start(cfg(any)).await?
        }
        Err(e) => return Err(e),
    };
    session.set_network(spec.network);
    // uTP takes the listener's UDP port before the DHT asks for it (the DHT then moves).
    if spec.network.utp
        && let Err(e) = session.enable_utp().await
    {
        tracing::warn!("uTP unavailable: {e}");
    }
    if let Some(m) = &spec.market {
        session.register_extension(m.factory());
    }
    let dht = match spec.dht {
        Some(bootstrap) => Some(
            session
                .enable_dht_beside_listener(bootstrap, spec.dht_state_dir.clone())
                .await
                .map_err(|e| e.to_string()),
        ),
        None => None,
    };
    let mut lsd_error = None;
    if spec.lsd
        && let Err(e) = session.enable_lsd(LsdConfig::default()).await
    {
        lsd_error = Some(e.to_string());
    }
    Ok(Assembled {
        session,
        dht,
        lsd_error,
    })
}

/// What the daemon or the dashboard asks of the controller beyond the config file.
#[derive(Debug, Clone, Default)]
pub struct HostOptions {
    /// Overrides the config's `listen`.
    pub listen: Option<SocketAddr>,
    /// Overrides the config's download dir.
    pub download_dir: Option<PathBuf>,
    /// Overrides the config's limits (bytes/s; 0 = unlimited).
    pub limits: Option<(u64, u64)>,
    /// `--no-dht`: off whatever the config says.
    pub no_dht: bool,
    /// Keep the session (torrent list, strategies, limits) in the data dir and restore it.
    pub persist: bool,
    /// Take a free port when the configured one is taken.
    pub any_port_if_taken: bool,
}

/// Why the application core could not start.
#[derive(Debug, thiserror::Error)]
pub enum HostError {
    #[error(transparent)]
    Session(#[from] SessionError),
    #[error("the session state is unreadable; fix or move it away (it was not changed): {0}")]
    SavedState(String),
}

/// The application core over a fresh session, set up from the config exactly as the daemon
/// runs it: market, DHT, limits, download dir; restored from the saved session when
/// `opts.persist`. Problems restoring single torrents are logged, not fatal.
pub async fn start_controller(
    cfg: &Config,
    data_dir: &Path,
    opts: HostOptions,
) -> Result<Arc<Controller>, HostError> {
    let saved = if opts.persist {
        Some(
            saved::load(&saved::state_path(data_dir))
                .map_err(|e| HostError::SavedState(e.to_string()))?,
        )
    } else {
        None
    };
    let market = start_market(cfg, data_dir).await;
    let (down, up) = opts
        .limits
        .unwrap_or((cfg.limits.download.0, cfg.limits.upload.0));
    crate::engine::direct_io::set_enabled(cfg.disk.write_through);
    let assembled = assemble(SessionSpec {
        listen: Some(opts.listen.unwrap_or(cfg.listen)),
        data_dir: data_dir.to_path_buf(),
        download_limit: down,
        upload_limit: up,
        any_port_if_taken: opts.any_port_if_taken,
        dht: (cfg.dht.enabled && !opts.no_dht).then(|| cfg.dht.bootstrap.clone()),
        dht_state_dir: Some(data_dir.to_path_buf()),
        lsd: false,
        market: market.market.clone(),
        network: cfg.network.options(),
    })
    .await?;
    match &assembled.dht {
        Some(Ok(addr)) => tracing::info!("DHT node on {addr}"),
        // Trackers and direct peers still work without it.
        Some(Err(e)) => tracing::warn!("DHT unavailable: {e}"),
        None => {}
    }
    let download_dir = opts.download_dir.unwrap_or_else(|| cfg.download_dir());
    let download_dir = std::path::absolute(&download_dir).unwrap_or(download_dir);
    let ctl = Controller::new(
        assembled.session,
        ControllerConfig {
            data_dir: data_dir.to_path_buf(),
            download_dir,
            max_peers: cfg.torrent.max_peers,
            upload_slots: cfg.torrent.upload_slots,
            sequential: cfg.torrent.sequential,
            tracker_interval: (cfg.torrent.tracker_interval > 0)
                .then(|| Duration::from_secs(cfg.torrent.tracker_interval)),
            persist: opts.persist,
            seeding: cfg.seeding.clone(),
        },
    );
    ctl.set_market(market);
    if let Some(saved) = saved {
        for problem in ctl.restore(saved).await {
            tracing::error!("could not restore {problem}");
        }
    }
    ctl.spawn_seeding(SEEDING_CHECK);
    Ok(ctl)
}

/// Opens the wallet and joins the ledger when `[market] enabled`. Never fails the caller: a
/// wallet or ledger problem is logged as a warning and reported by `status` as
/// `unavailable: <reason>`, and the session serves plain BitTorrent.
pub async fn start_market(cfg: &Config, data_dir: &Path) -> MarketSetup {
    let mut setup = MarketSetup {
        enabled: cfg.market.enabled,
        ..MarketSetup::default()
    };
    if !cfg.market.enabled {
        return setup;
    }
    let dir = data_dir.join("wallet");
    let wallet = match Wallet::open(&dir) {
        Ok(w) => Arc::new(w),
        Err(e) => {
            let why = format!("cannot open the wallet in {}: {e}", dir.display());
            tracing::warn!("market unavailable, running as plain BitTorrent: {why}");
            setup.unavailable = Some(why);
            return setup;
        }
    };
    let ledger = crate::wallet::LedgerClient::new(cfg.market.ledger.clone());
    setup.wallet = Some(wallet.clone());
    setup.ledger_addr = cfg.market.ledger.clone();
    // Bounded: a ledger that accepts but never answers must not hold up the daemon.
    let joined = tokio::time::timeout(
        Duration::from_secs(10),
        Market::new(wallet, ledger, cfg.market.market_config()),
    )
    .await;
    match joined {
        Ok(Ok(m)) => {
            // Bans outlive the process: a buyer that did not pay stays refused after a restart.
            match m.persist_bans(&data_dir.join("market-bans.json")) {
                Ok(n) if n > 0 => tracing::info!("{n} market bans in force"),
                Ok(_) => {}
                Err(e) => tracing::warn!("{e}; bans are kept in memory only"),
            }
            tracing::info!(
                "market on: wallet {}, ledger {}, balance {}",
                m.wallet().public_key(),
                cfg.market.ledger,
                m.balance()
            );
            // The money's lifecycle: redeem, close idle channels, collect refunds.
            m.spawn_lifecycle();
            setup.market = Some(m);
        }
        Ok(Err(e)) => {
            let why = format!("ledger {}: {e}", cfg.market.ledger);
            tracing::warn!("market unavailable, running as plain BitTorrent: {why}");
            setup.unavailable = Some(why);
        }
        Err(_) => {
            let why = format!("ledger {}: no answer within 10 s", cfg.market.ledger);
            tracing::warn!("market unavailable, running as plain BitTorrent: {why}");
            setup.unavailable = Some(why);
        }
    }
    setup
}
