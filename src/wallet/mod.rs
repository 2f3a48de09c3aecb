//! The wallet and the ledger (SPEC §5): an ed25519 identity, a sled store of channels,
//! vouchers and history, and a ledger service that escrows and settles.
//!
//! The market (issue 5) uses: [`Wallet`] (`open`, `public_key`, `balance`, `open_channel`,
//! `pay`, `accept_voucher`, `highest_voucher`, `redeem_all`), [`ChannelCertificate`] and
//! [`Voucher`] with fixed binary encodings, [`LedgerClient`] and [`EmbeddedLedger`].

pub mod amount;
pub mod chain;
pub mod keys;
pub mod ledger;
pub mod store;
pub mod voucher;

pub use amount::Amount;
pub use keys::{ChannelId, LedgerId, PublicKey};
pub use ledger::{EmbeddedLedger, LedgerClient, LedgerError, LedgerStore};
pub use store::{
    Earned, HistoryEntry, HistoryKind, InChannel, OutChannel, Redemption, Wallet, WalletError,
};
pub use voucher::{ChannelCertificate, DecodeError, Payment, Receipt, Voucher, VoucherRefusal};
