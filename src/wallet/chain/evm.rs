//! The EVM client: JSON-RPC 2.0 over HTTP (ureq, blocking) to one node, EIP-155 transactions
//! (RLP by alloy-rlp, secp256k1 by k256) and the vault's ABI (`abi`).

use std::time::{Duration, Instant};

use alloy_rlp::{Encodable, Header};
use serde_json::{Value, json};

use super::abi::{self, word_addr, word_u};
use super::{
    Address, Chain, ChainConfig, ChainError, ChainKey, MINE_TIMEOUT, TxHash, VaultEvent,
    WithdrawalAuth,
};
use crate::wallet::keys::{LedgerId, PublicKey};

/// A node that does not answer one request within this is unreachable.
const RPC_TIMEOUT: Duration = Duration::from_secs(20);
/// Blocks per `eth_getLogs` request (nodes cap the range they search at once).
pub const LOG_RANGE: u64 = 2_000;

pub struct EvmChain {
    config: ChainConfig,
    agent: ureq::Agent,
}

/// What a transaction asks of the chain.
pub struct TxRequest {
    /// `None` deploys `data` as a contract.
    pub to: Option<Address>,
    pub data: Vec<u8>,
    pub value: u128,
}

/// A mined transaction.
#[derive(Debug, Clone)]
pub struct Receipt {
    pub tx: TxHash,
    pub block: u64,
    pub contract: Option<Address>,
}

fn bytes_len(b: &[u8]) -> usize {
    b.length()
}

/// An unsigned integer as RLP wants it: big-endian without leading zeros.
fn trim(b: &[u8]) -> &[u8] {
    let first = b.iter().position(|x| *x != 0).unwrap_or(b.len());
    &b[first..]
}

/// The RLP list of `fields` (each already encoded).
fn rlp_list(fields: &[Vec<u8>]) -> Vec<u8> {
    let payload_length = fields.iter().map(Vec::len).sum();
    let mut out = Vec::with_capacity(payload_length + 9);
    Header {
        list: true,
        payload_length,
    }
    .encode(&mut out);
    for f in fields {
        out.extend_from_slice(f);
    }
    out
}

fn enc<T: Encodable + ?Sized>(v: &T) -> Vec<u8> {
    let mut out = Vec::new();
    v.encode(&mut out);
    out
}

/// The signed EIP-155 (legacy) transaction bytes and their hash.
pub fn sign_legacy(
    key: &ChainKey,
    chain_id: u64,
    nonce: u64,
    gas_price: u128,
    gas: u64,
    tx: &TxRequest,
) -> Result<(Vec<u8>, TxHash), ChainError> {
    let to: &[u8] = match &tx.to {
        Some(a) => &a.0,
        None => &[],
    };
    let mut fields = vec![
        enc(&nonce),
        enc(&gas_price),
        enc(&gas),
        enc(to),
        enc(&tx.value),
        enc(tx.data.as_slice()),
    ];
    debug_assert!(bytes_len(to) <= 21);
    let mut unsigned = fields.clone();
    unsigned.extend([enc(&chain_id), enc(&0u8), enc(&0u8)]);
    let digest = abi::keccak(&rlp_list(&unsigned));
    let (v, r, s) = key.sign_digest(&digest)?;
    let v = u64::from(v - 27)
        .checked_add(
            chain_id
                .checked_mul(2)
                .and_then(|c| c.checked_add(35))
                .ok_or_else(|| ChainError::Invalid(format!("chain id {chain_id} is too large")))?,
        )
        .ok_or_else(|| ChainError::Invalid("chain id too large".into()))?;
    fields.extend([enc(&v), enc(trim(&r.0)), enc(trim(&s.0))]);
    let raw = rlp_list(&fields);
    let hash = TxHash(abi::keccak(&raw));
    Ok((raw, hash))
}

fn hex(b: &[u8]) -> String {
    format!("0x{}", crate::units::to_hex(b))
}

fn qty(v: u64) -> String {
    format!("0x{v:x}")
}

impl EvmChain {
    pub fn new(config: ChainConfig) -> Result<EvmChain, ChainError> {
        let lower = config.rpc_url.to_ascii_lowercase();
        if !(lower.starts_with("http://") || lower.starts_with("https://")) {
            return Err(ChainError::Invalid(format!(
                "chain rpc_url {:?} is not an http:// or https:// URL",
                crate::units::printable(&config.rpc_url)
            )));
        }
        let agent = ureq::Agent::config_builder()
            .timeout_global(Some(RPC_TIMEOUT))
            .http_status_as_error(false)
            .build()
            .into();
        Ok(EvmChain { config, agent })
    }

    /// One JSON-RPC call; its `result`.
    pub fn rpc(&self, method: &str, params: Value) -> Result<Value, ChainError> {
        use std::io::Read;
        let body = json!({"jsonrpc": "2.0", "id": 1, "method": method, "params": params});
        let unreachable = |why: String| ChainError::Unreachable {
            url: self.config.rpc_url.clone(),
            why,
        };
        let resp = self
            .agent
            .post(&self.config.rpc_url)
            .header("content-type", "application/json")
            .send(body.to_string())
            .map_err(|e| unreachable(e.to_string()))?;
        let status = resp.status().as_u16();
        let mut bytes = Vec::new();
        resp.into_body()
            .into_reader()
            .take(abi::MAX_REPLY as u64 + 1)
            .read_to_end(&mut bytes)
            .map_err(|e| unreachable(e.to_string()))?;
        if bytes.len() > abi::MAX_REPLY {
            return Err(ChainError::BadReply(format!(
                "{method}: reply larger than {} bytes",
                abi::MAX_REPLY
            )));
        }
        match abi::rpc_result(method, &bytes) {
            Err(ChainError::BadReply(why)) if status != 200 => {
                Err(unreachable(format!("HTTP {status} ({why})")))
            }
            r => r,
        }
    }

    /// `eth_call` of `data` on `to` at block `at`; the returned bytes.
    pub fn call(&self, to: &Address, data: &[u8], at: Option<u64>) -> Result<Value, ChainError> {
        let block = at.map(qty).unwrap_or_else(|| "latest".into());
        self.rpc(
            "eth_call",
            json!([{"to": to.to_string(), "data": hex(data)}, block]),
        )
    }

    pub fn chain_id(&self) -> Result<u64, ChainError> {
        abi::quantity(&self.rpc("eth_chainId", json!([]))?)
    }

    /// Signs `tx` with `key`, sends it and waits until it is mined; a reverted transaction is
    /// an error.
    pub fn send(&self, key: &ChainKey, tx: &TxRequest) -> Result<Receipt, ChainError> {
        let from = key.address();
        let nonce = abi::quantity(&self.rpc(
            "eth_getTransactionCount",
            json!([from.to_string(), "pending"]),
        )?)?;
        let gas_price = abi::quantity(&self.rpc("eth_gasPrice", json!([]))?)?;
        let mut call = json!({"from": from.to_string(), "data": hex(&tx.data), "value": format!("0x{:x}", tx.value)});
        if let Some(to) = &tx.to {
            call["to"] = to.to_string().into();
        }
        // Estimating first also reports a call that would revert, with the node's reason.
        let gas = abi::quantity(&self.rpc("eth_estimateGas", json!([call]))?)?;
        let gas = gas.saturating_add(gas / 4).saturating_add(10_000);
        let (raw, hash) = sign_legacy(key, self.config.chain_id, nonce, gas_price.into(), gas, tx)?;
        let sent = self.rpc("eth_sendRawTransaction", json!([hex(&raw)]))?;
        if abi::decode_word(&sent)? != hash.0 {
            return Err(ChainError::BadReply(format!(
                "node named transaction {sent} for our {hash}"
            )));
        }
        self.wait(hash, MINE_TIMEOUT)
    }

    /// Waits for `tx`'s receipt.
    pub fn wait(&self, tx: TxHash, timeout: Duration) -> Result<Receipt, ChainError> {
        let start = Instant::now();
        loop {
            let r = self.rpc("eth_getTransactionReceipt", json!([tx.to_string()]))?;
            if !r.is_null() {
                let status = r.get("status").map(abi::quantity).transpose()?.unwrap_or(0);
                if status != 1 {
                    return Err(ChainError::Reverted { tx });
                }
                let block = abi::quantity(r.get("blockNumber").unwrap_or(&Value::Null))?;
                let contract = match r.get("contractAddress") {
                    Some(Value::String(s)) => Some(s.parse().map_err(|_| {
                        ChainError::BadReply("receipt contractAddress is malformed".into())
                    })?),
                    _ => None,
                };
                return Ok(Receipt {
                    tx,
                    block,
                    contract,
                });
            }
            if start.elapsed() > timeout {
                return Err(ChainError::NotMined {
                    tx,
                    secs: timeout.as_secs(),
                });
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// Deploys `bytecode` (hex creation code) with ABI-encoded constructor `args`.
    pub fn deploy(
        &self,
        key: &ChainKey,
        bytecode_hex: &str,
        args: &[[u8; 32]],
    ) -> Result<Address, ChainError> {
        let mut data = crate::units::from_hex(bytecode_hex.trim())
            .ok_or_else(|| ChainError::Invalid("contract bytecode is not hex".into()))?;
        for a in args {
            data.extend_from_slice(a);
        }
        let r = self.send(
            key,
            &TxRequest {
                to: None,
                data,
                value: 0,
            },
        )?;
        r.contract
            .ok_or_else(|| ChainError::BadReply("a deployment receipt without an address".into()))
    }

    /// Sends `amount` of `token` from `key` to `to` (tests and the demo fund accounts so).
    pub fn transfer_token(
        &self,
        key: &ChainKey,
        token: &Address,
        to: &Address,
        amount: u128,
    ) -> Result<TxHash, ChainError> {
        let data = abi::call(
            "transfer(address,uint256)",
            &[word_addr(to), word_u(amount)],
        );
        Ok(self
            .send(
                key,
                &TxRequest {
                    to: Some(*token),
                    data,
                    value: 0,
                },
            )?
            .tx)
    }

    /// Sends `wei` of the chain's coin (gas money) from `key` to `to`.
    pub fn transfer_coin(
        &self,
        key: &ChainKey,
        to: &Address,
        wei: u128,
    ) -> Result<TxHash, ChainError> {
        Ok(self
            .send(
                key,
                &TxRequest {
                    to: Some(*to),
                    data: vec![],
                    value: wei,
                },
            )?
            .tx)
    }

    /// The coin balance of `who`, in wei.
    pub fn coin_balance(&self, who: &Address) -> Result<u128, ChainError> {
        let v = self.rpc("eth_getBalance", json!([who.to_string(), "latest"]))?;
        let s = v
            .as_str()
            .and_then(|s| s.strip_prefix("0x"))
            .ok_or_else(|| ChainError::BadReply("a balance is not a quantity".into()))?;
        u128::from_str_radix(s, 16)
            .map_err(|_| ChainError::BadReply("a balance is not a 128-bit quantity".into()))
    }
}

impl Chain for EvmChain {
    fn kind(&self) -> &'static str {
        "evm"
    }

    fn config(&self) -> &ChainConfig {
        &self.config
    }

    fn head(&self) -> Result<u64, ChainError> {
        abi::quantity(&self.rpc("eth_blockNumber", json!([]))?)
    }

    fn block_time(&self, block: u64) -> Result<u64, ChainError> {
        let b = self.rpc("eth_getBlockByNumber", json!([qty(block), false]))?;
        if b.is_null() {
            return Err(ChainError::BadReply(format!("block {block} is unknown")));
        }
        abi::quantity(b.get("timestamp").unwrap_or(&Value::Null))
    }

    fn vault_events(&self, from: u64, to: u64) -> Result<Vec<VaultEvent>, ChainError> {
        let topics = [
            abi::word_hex(&abi::topic(abi::DEPOSITED)),
            abi::word_hex(&abi::topic(abi::WITHDRAWN)),
        ];
        let mut out = Vec::new();
        let mut start = from;
        while start <= to {
            let end = to.min(start.saturating_add(LOG_RANGE - 1));
            let logs = self.rpc(
                "eth_getLogs",
                json!([{
                    "fromBlock": qty(start), "toBlock": qty(end),
                    "address": self.config.vault.to_string(), "topics": [topics],
                }]),
            )?;
            out.extend(abi::decode_logs(&logs, &self.config.vault)?);
            if end == u64::MAX {
                break;
            }
            start = end + 1;
        }
        Ok(out)
    }

    fn token_balance(&self, holder: &Address, at: Option<u64>) -> Result<u128, ChainError> {
        let v = self.call(
            &self.config.token,
            &abi::call("balanceOf(address)", &[word_addr(holder)]),
            at,
        )?;
        abi::word_to_u128(&abi::decode_word(&v)?)
    }

    fn vault_binding(&self) -> Result<(Address, LedgerId), ChainError> {
        let vault = self.config.vault;
        let signer = abi::word_to_addr(&abi::decode_word(&self.call(
            &vault,
            &abi::call("signer()", &[]),
            None,
        )?)?)?;
        let ledger = abi::decode_word(&self.call(&vault, &abi::call("ledger()", &[]), None)?)?;
        Ok((signer, PublicKey(ledger)))
    }

    fn nonce_used(&self, nonce: u64) -> Result<bool, ChainError> {
        let v = self.call(
            &self.config.vault,
            &abi::call("used(uint256)", &[word_u(nonce.into())]),
            None,
        )?;
        Ok(abi::word_to_u128(&abi::decode_word(&v)?)? != 0)
    }

    fn deposit(
        &self,
        key: &ChainKey,
        amount: u64,
        account: PublicKey,
    ) -> Result<TxHash, ChainError> {
        let vault = self.config.vault;
        let approve = abi::call(
            "approve(address,uint256)",
            &[word_addr(&vault), word_u(amount.into())],
        );
        self.send(
            key,
            &TxRequest {
                to: Some(self.config.token),
                data: approve,
                value: 0,
            },
        )?;
        let data = abi::call(
            "deposit(uint256,bytes32)",
            &[word_u(amount.into()), account.0],
        );
        Ok(self
            .send(
                key,
                &TxRequest {
                    to: Some(vault),
                    data,
                    value: 0,
                },
            )?
            .tx)
    }

    fn withdraw(&self, key: &ChainKey, auth: &WithdrawalAuth) -> Result<TxHash, ChainError> {
        if auth.chain_id != self.config.chain_id || auth.vault != self.config.vault {
            return Err(ChainError::Invalid(format!(
                "the authorisation is for vault {} on chain {}, not {} on chain {}",
                auth.vault, auth.chain_id, self.config.vault, self.config.chain_id
            )));
        }
        let data = abi::call(
            "withdraw(address,uint256,uint256,uint256,uint8,bytes32,bytes32)",
            &[
                word_addr(&auth.to),
                word_u(auth.amount.into()),
                word_u(auth.nonce.into()),
                word_u(auth.deadline.into()),
                word_u(auth.v.into()),
                auth.r.0,
                auth.s.0,
            ],
        );
        Ok(self
            .send(
                key,
                &TxRequest {
                    to: Some(self.config.vault),
                    data,
                    value: 0,
                },
            )?
            .tx)
    }

    fn authorise(
        &self,
        ledger_key: &ChainKey,
        ledger: LedgerId,
        to: Address,
        amount: u64,
        nonce: u64,
        deadline: u64,
    ) -> Result<WithdrawalAuth, ChainError> {
        let c = &self.config;
        let digest =
            abi::withdrawal_digest(c.chain_id, &c.vault, &ledger, &to, amount, nonce, deadline);
        let (v, r, s) = ledger_key.sign_digest(&digest)?;
        Ok(WithdrawalAuth {
            chain_id: c.chain_id,
            vault: c.vault,
            to,
            amount,
            nonce,
            deadline,
            v,
            r,
            s,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_known_key_has_its_known_address_and_signs_a_known_transaction() {
        // The first account of the standard development mnemonic (anvil, hardhat).
        let k =
            ChainKey::from_hex("ac0974bec39a17e36ba4a6b4d238ff944bacb478cbed5efcae784d7bf4f2ff80")
                .unwrap();
        assert_eq!(
            k.address().to_string(),
            "0xf39fd6e51aad88f6f4ce6ab8827279cfffb92266"
        );
        // EIP-155's own example transaction: nonce 9, 20 gwei, 21000 gas, chain 1.
        let k =
            ChainKey::from_hex("4646464646464646464646464646464646464646464646464646464646464646")
                .unwrap();
        let tx = TxRequest {
            to: Some(
                "0x3535353535353535353535353535353535353535"
                    .parse()
                    .unwrap(),
            ),
            data: vec![],
            value: 1_000_000_000_000_000_000,
        };
        let (raw, _) = sign_legacy(&k, 1, 9, 20_000_000_000, 21_000, &tx).unwrap();
        assert_eq!(
            crate::units::to_hex(&raw),
            "f86c098504a817c800825208943535353535353535353535353535353535353535880de0b6b3a76400008025a028ef61340bd939bc2195fe537567866003e1a15d3c71ff63e1590620aa636276a067cbe9d8997f761aecb703304b3800ccf555c9f3dc64214b297fb1966a3b6d83"
        );
    }
}
