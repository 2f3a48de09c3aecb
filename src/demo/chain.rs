//! `demo --chain` (issue 16): the demo swarm funded through a chain instead of `mint`. A local
//! anvil node is started on 127.0.0.1, a test token and a vault for the demo ledger are
//! deployed, every funded member deposits from its own chain address, the ledger credits the
//! deposits after their confirmations, the swarm trades, and afterwards every member withdraws
//! its whole ledger balance back to its chain address. The report carries the deposits, the
//! withdrawals, each member's token balance on chain before and after, and whether the
//! ledger's books and the vault agree.

use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use serde::Serialize;
use serde_json::json;

use super::{Swarm, SwarmSpec};
use crate::wallet::chain::evm::EvmChain;
use crate::wallet::chain::{self, Address, Chain, ChainConfig, ChainKey, TxHash};
use crate::wallet::ledger::chain::ChainBook;
use crate::wallet::ledger::{Ledger, LedgerConfig};
use crate::wallet::{Amount, EmbeddedLedger, Wallet};

/// anvil's first development account (the public test mnemonic): the demo's token holder.
const DEPLOYER: &str = "ac0974bec39a17e36ba4a6b4d238ff944bacb478cbed5efcae784d7bf4f2ff80";
const CHAIN_ID: u64 = 31337;
const CONFIRMATIONS: u64 = 2;
/// Gas money given to each member (10 coins).
const GAS: u128 = 10_000_000_000_000_000_000;

/// Where to find anvil: `$BIDTORRENT_ANVIL`, `anvil` on PATH, or contracts/node_modules.
pub fn find_anvil() -> anyhow::Result<PathBuf> {
    if let Some(p) = std::env::var_os("BIDTORRENT_ANVIL") {
        return Ok(PathBuf::from(p));
    }
    if let Some(path) = std::env::var_os("PATH") {
        for dir in std::env::split_paths(&path) {
            let p = dir.join("anvil");
            if p.is_file() {
                return Ok(p);
            }
        }
    }
    let local = Path::new("contracts/node_modules/.bin/anvil");
    if local.exists() {
        return Ok(local.to_path_buf());
    }
    bail!(
        "demo --chain needs anvil, a local EVM node: `npm install @foundry-rs/anvil` and put \
         node_modules/.bin on PATH (or `npm ci` in contracts/ of the source tree), or set \
         BIDTORRENT_ANVIL=/path/to/anvil"
    )
}

/// A running anvil, stopped on drop.
pub struct Anvil {
    child: Child,
    pub url: String,
}

impl Drop for Anvil {
    fn drop(&mut self) {
        // npm's `anvil` is a node wrapper that starts the real binary: stop the whole group.
        match i32::try_from(self.child.id()) {
            // SAFETY: kill(2) on the process group we created; no memory is involved.
            Ok(pid) => unsafe {
                libc::kill(-pid, libc::SIGKILL);
            },
            Err(_) => {
                let _ = self.child.kill();
            }
        }
        let _ = self.child.wait();
    }
}

impl Anvil {
    pub fn start() -> anyhow::Result<Anvil> {
        let bin = find_anvil()?;
        let port = std::net::TcpListener::bind("127.0.0.1:0")?
            .local_addr()?
            .port();
        let child = Command::new(&bin)
            .args([
                "--host",
                "127.0.0.1",
                "--port",
                &port.to_string(),
                "--silent",
            ])
            .args(["--chain-id", &CHAIN_ID.to_string()])
            // Its own process group, so stopping it stops the real node behind npm's wrapper.
            .process_group(0)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .with_context(|| format!("starting {}", bin.display()))?;
        let a = Anvil {
            child,
            url: format!("http://127.0.0.1:{port}"),
        };
        let probe = EvmChain::new(a.config(Address::default(), Address::default()))?;
        let start = Instant::now();
        while probe.head().is_err() {
            if start.elapsed() > Duration::from_secs(30) {
                bail!("anvil at {} did not start within 30 s", a.url);
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        Ok(a)
    }

    fn config(&self, vault: Address, token: Address) -> ChainConfig {
        ChainConfig {
            rpc_url: self.url.clone(),
            chain_id: CHAIN_ID,
            vault,
            token,
            confirmations: CONFIRMATIONS,
            from_block: 0,
        }
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct ChainMove {
    pub peer: String,
    pub amount: Amount,
    pub tx: TxHash,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub nonce: Option<u64>,
}

#[derive(Debug, Clone, Serialize)]
pub struct ChainMember {
    pub peer: String,
    pub address: Address,
    /// Token units at the member's chain address before its deposit and after its withdrawal.
    pub before: u128,
    pub after: u128,
}

/// The chain part of the demo report.
#[derive(Debug, Clone, Serialize)]
pub struct ChainReport {
    pub rpc_url: String,
    pub token: Address,
    pub vault: Address,
    pub deposits: Vec<ChainMove>,
    pub withdrawals: Vec<ChainMove>,
    pub members: Vec<ChainMember>,
    pub audit: serde_json::Value,
    /// The ledger's books balance and the vault holds deposited − withdrawals paid.
    pub consistent: bool,
}

/// The demo's chain: the node, the deployed contracts, and what was deposited.
pub struct ChainDemo {
    pub anvil: Anvil,
    node: EvmChain,
    deployer: ChainKey,
    pub config: ChainConfig,
    deposits: Vec<ChainMove>,
    members: Vec<ChainMember>,
}

fn blocking<T>(f: impl FnOnce() -> T) -> T {
    tokio::task::block_in_place(f)
}

impl ChainDemo {
    /// Starts anvil, deploys the token and the vault for the ledger in `root/ledger`, deposits
    /// every member's `mint` from its own chain address, starts the ledger on the vault and
    /// waits until it has credited them all; then starts the swarm on that ledger (nobody is
    /// minted anything).
    pub async fn start(root: &Path, spec: &SwarmSpec) -> anyhow::Result<(ChainDemo, Swarm)> {
        let anvil = blocking(Anvil::start)?;
        let ledger_dir = root.join("ledger");
        let (id, signer) = blocking(|| -> anyhow::Result<_> {
            let id = Ledger::open(&ledger_dir, LedgerConfig::default())?.id();
            let signer = ChainKey::load_or_create(&ChainBook::key_path(&ledger_dir))?.address();
            Ok((id, signer))
        })?;
        let deployer = ChainKey::from_hex(DEPLOYER)?;
        let probe = EvmChain::new(anvil.config(Address::default(), Address::default()))?;
        let (token, vault) = blocking(|| {
            chain::contracts::deploy(&probe, &deployer, id, signer, 1_000_000_000_000_000)
        })
        .context("deploying the token and the vault")?;
        let config = anvil.config(vault, token);
        let node = EvmChain::new(config.clone())?;
        let mut demo = ChainDemo {
            anvil,
            node,
            deployer,
            config,
            deposits: Vec::new(),
            members: Vec::new(),
        };
        let mut total = 0u64;
        for p in &spec.peers {
            let wallet_dir = root.join("state").join(&p.name).join("wallet");
            let account = Wallet::open(&wallet_dir)
                .with_context(|| format!("{}: opening its wallet", p.name))?
                .public_key();
            let key = chain::local::wallet_key(&wallet_dir)?;
            let address = key.address();
            blocking(|| -> anyhow::Result<()> {
                demo.node
                    .transfer_coin(&demo.deployer, &address, GAS)
                    .context("funding gas")?;
                if !p.mint.is_zero() {
                    demo.node
                        .transfer_token(
                            &demo.deployer,
                            &demo.config.token,
                            &address,
                            p.mint.0.into(),
                        )
                        .context("funding tokens")?;
                }
                Ok(())
            })?;
            let before = blocking(|| demo.node.token_balance(&address, None))?;
            if !p.mint.is_zero() {
                let tx = blocking(|| demo.node.deposit(&key, p.mint.0, account))
                    .with_context(|| format!("{}: depositing {}", p.name, p.mint))?;
                chain::local::append(
                    &wallet_dir,
                    &chain::local::ChainEntry::Deposit {
                        time: crate::wallet::keys::now_secs(),
                        amount: p.mint,
                        tx,
                        from: address,
                    },
                )?;
                demo.deposits.push(ChainMove {
                    peer: p.name.clone(),
                    amount: p.mint,
                    tx,
                    nonce: None,
                });
                total += p.mint.0;
            }
            demo.members.push(ChainMember {
                peer: p.name.clone(),
                address,
                before,
                after: before,
            });
        }
        blocking(|| demo.mine(CONFIRMATIONS))?;
        let config = LedgerConfig {
            chain: Some(demo.config.clone()),
            chain_poll: Duration::from_millis(100),
            ..LedgerConfig::default()
        };
        let (ledger, _) = EmbeddedLedger::start_on(&ledger_dir, None, config)
            .await
            .context("starting the embedded ledger on the vault")?;
        let start = Instant::now();
        loop {
            let a = ledger.client().audit().await?;
            if a.chain.as_ref().is_some_and(|c| c.deposited.0 == total) {
                break;
            }
            if start.elapsed() > Duration::from_secs(60) {
                bail!("the ledger did not credit the deposits within 60 s");
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        let mut spec = spec.clone();
        for p in &mut spec.peers {
            p.mint = Amount::ZERO;
        }
        let swarm = Swarm::start_on(root, &spec, ledger).await?;
        Ok((demo, swarm))
    }

    fn mine(&self, blocks: u64) -> anyhow::Result<()> {
        self.node
            .rpc("anvil_mine", json!([format!("0x{blocks:x}")]))?;
        Ok(())
    }

    /// After settlement: every member withdraws its whole ledger balance to its chain address;
    /// then the ledger applies the payouts and is audited against the vault.
    pub async fn cash_out(mut self, swarm: &Swarm) -> anyhow::Result<ChainReport> {
        let ledger = swarm
            .ledger
            .as_ref()
            .context("the swarm's ledger is gone")?;
        let client = ledger.client();
        let mut withdrawals = Vec::new();
        let mut total = 0u64;
        for m in &swarm.members {
            let w = m.market.wallet();
            let balance = w.refresh(&client).await?;
            if balance.is_zero() {
                continue;
            }
            let key = chain::local::wallet_key(w.dir())?;
            let rec = w.withdraw(&client, balance, key.address()).await?;
            let tx = blocking(|| self.node.withdraw(&key, &rec.auth))
                .with_context(|| format!("{}: submitting its withdrawal", m.spec.name))?;
            chain::local::append(
                w.dir(),
                &chain::local::ChainEntry::Withdrawal {
                    time: crate::wallet::keys::now_secs(),
                    amount: balance,
                    nonce: rec.auth.nonce,
                    to: rec.auth.to,
                    tx: Some(tx),
                },
            )?;
            total += balance.0;
            withdrawals.push(ChainMove {
                peer: m.spec.name.clone(),
                amount: balance,
                tx,
                nonce: Some(rec.auth.nonce),
            });
        }
        blocking(|| self.mine(CONFIRMATIONS))?;
        let start = Instant::now();
        let audit = loop {
            let a = client.audit().await?;
            if a.chain
                .as_ref()
                .is_some_and(|c| c.withdrawals_paid.0 == total && c.vault_holdings.is_some())
            {
                break a;
            }
            if start.elapsed() > Duration::from_secs(60) {
                bail!("the ledger did not see the withdrawals paid within 60 s");
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        };
        for member in &mut self.members {
            member.after = blocking(|| self.node.token_balance(&member.address, None))?;
        }
        let consistent = audit.consistent
            && audit
                .chain
                .as_ref()
                .is_some_and(|c| c.vault_consistent == Some(true));
        Ok(ChainReport {
            rpc_url: self.config.rpc_url.clone(),
            token: self.config.token,
            vault: self.config.vault,
            deposits: self.deposits,
            withdrawals,
            members: self.members,
            audit: serde_json::to_value(&audit)?,
            consistent,
        })
    }
}
