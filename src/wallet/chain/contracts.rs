//! The two contracts' creation bytecode, compiled from contracts/src by scripts/contracts.sh
//! (solcjs pinned in contracts/package.json) and committed under contracts/build, so the demo
//! and the tests can deploy them where no Solidity compiler is installed. tests/chain.rs
//! compiles the source again and checks these files match it.

use super::abi::{word_addr, word_u};
use super::evm::EvmChain;
use super::{Address, ChainError, ChainKey};
use crate::wallet::keys::LedgerId;

pub const TOKEN_BIN: &str = include_str!("../../../contracts/build/TestToken.bin");
pub const VAULT_BIN: &str = include_str!("../../../contracts/build/LedgerVault.bin");

/// Deploys a test token (all `supply` units to `deployer`) and a vault for ledger `ledger`
/// whose withdrawals `signer` authorises. Returns (token, vault).
pub fn deploy(
    node: &EvmChain,
    deployer: &ChainKey,
    ledger: LedgerId,
    signer: Address,
    supply: u128,
) -> Result<(Address, Address), ChainError> {
    let token = node.deploy(
        deployer,
        TOKEN_BIN,
        &[word_addr(&deployer.address()), word_u(supply)],
    )?;
    let vault = node.deploy(
        deployer,
        VAULT_BIN,
        &[word_addr(&token), word_addr(&signer), ledger.0],
    )?;
    Ok((token, vault))
}
