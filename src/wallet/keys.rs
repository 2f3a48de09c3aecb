//! Identities (ed25519 public keys), 32-byte identifiers, hex, and owner-only file handling.

use std::fmt;
use std::fs;
use std::io::Write;
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::Path;
use std::str::FromStr;

use ed25519_dalek::{SigningKey, VerifyingKey};
use serde::{Deserialize, Deserializer, Serialize, Serializer};

pub use crate::units::{from_hex, to_hex};

/// Why a string is not a 32-byte identifier.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{what} {input:?} is not 64 hex digits")]
pub struct IdParseError {
    pub what: &'static str,
    pub input: String,
}

macro_rules! id32 {
    ($(#[$doc:meta])* $name:ident, $what:literal) => {
        $(#[$doc])*
        #[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
        pub struct $name(pub [u8; 32]);

        impl $name {
            pub fn as_bytes(&self) -> &[u8; 32] {
                &self.0
            }
        }
        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&to_hex(&self.0))
            }
        }
        impl fmt::Debug for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                write!(f, "{}({})", stringify!($name), to_hex(&self.0))
            }
        }
        impl FromStr for $name {
            type Err = IdParseError;
            fn from_str(s: &str) -> Result<Self, IdParseError> {
                let err = || IdParseError { what: $what, input: s.to_string() };
                let v = from_hex(s.trim()).ok_or_else(err)?;
                let a: [u8; 32] = v.try_into().map_err(|_| err())?;
                Ok($name(a))
            }
        }
        impl Serialize for $name {
            fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                s.serialize_str(&to_hex(&self.0))
            }
        }
        impl<'de> Deserialize<'de> for $name {
            fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                let s = String::deserialize(d)?;
                s.parse().map_err(serde::de::Error::custom)
            }
        }
    };
}

id32!(
    /// An account: the 32 bytes of an ed25519 public key. A ledger's id is its public key.
    PublicKey,
    "public key"
);
id32!(
    /// A payment channel, assigned by the ledger when it escrows the funds.
    ChannelId,
    "channel id"
);

/// Ledgers are named by their signing key, so a certificate names the key that must verify it.
pub type LedgerId = PublicKey;

impl PublicKey {
    pub fn of(key: &SigningKey) -> PublicKey {
        PublicKey(key.verifying_key().to_bytes())
    }

    /// The dalek key, or `None` when the bytes are not a valid curve point.
    pub fn verifying_key(&self) -> Option<VerifyingKey> {
        VerifyingKey::from_bytes(&self.0).ok()
    }
}

/// A fresh signing key from the OS-seeded thread RNG.
pub fn generate_key() -> SigningKey {
    // rand 0.10 and ed25519-dalek 3 share rand_core 0.10, but 32 random bytes are all a
    // secret key is, so this sidesteps any trait mismatch between the two.
    SigningKey::from_bytes(&rand::random::<[u8; 32]>())
}

/// Creates `dir` (and parents) and makes it owner-only (0700).
pub fn create_private_dir(dir: &Path) -> std::io::Result<()> {
    fs::create_dir_all(dir)?;
    fs::set_permissions(dir, fs::Permissions::from_mode(0o700))
}

/// Makes every file under `dir` 0600 and every directory 0700. sled creates its files with
/// the process umask, so we tighten them after it has created them.
pub fn restrict_tree(dir: &Path) -> std::io::Result<()> {
    fs::set_permissions(dir, fs::Permissions::from_mode(0o700))?;
    for entry in fs::read_dir(dir)? {
        let entry = entry?;
        let ty = entry.file_type()?;
        if ty.is_dir() {
            restrict_tree(&entry.path())?;
        } else if ty.is_file() {
            fs::set_permissions(entry.path(), fs::Permissions::from_mode(0o600))?;
        }
    }
    Ok(())
}

/// Writes a new owner-only file (0600 from creation, never world-readable for an instant),
/// synced to disk. Refuses to overwrite.
pub fn write_private_file(path: &Path, contents: &[u8]) -> std::io::Result<()> {
    let mut f = fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)?;
    f.write_all(contents)?;
    f.sync_all()
}

/// Reads a hex-encoded secret key file.
pub fn read_key_file(path: &Path) -> std::io::Result<SigningKey> {
    let text = fs::read_to_string(path)?;
    let bytes = from_hex(text.trim())
        .and_then(|v| <[u8; 32]>::try_from(v).ok())
        .ok_or_else(|| {
            std::io::Error::new(
                std::io::ErrorKind::InvalidData,
                format!(
                    "{} does not hold a 64-hex-digit ed25519 secret key",
                    path.display()
                ),
            )
        })?;
    Ok(SigningKey::from_bytes(&bytes))
}

/// Seconds since the Unix epoch (0 if the clock is before 1970).
pub fn now_secs() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

/// Microseconds since the Unix epoch, used as a naturally rising request nonce.
pub fn now_micros() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_micros() as u64)
        .unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hex_round_trip() {
        let b = [0u8, 1, 0xab, 0xff];
        assert_eq!(to_hex(&b), "0001abff");
        assert_eq!(from_hex("0001ABff").unwrap(), b);
        assert!(from_hex("abc").is_none());
        assert!(from_hex("zz").is_none());
        let k = generate_key();
        let pk = PublicKey::of(&k);
        assert_eq!(pk.to_string().parse::<PublicKey>().unwrap(), pk);
        assert!("00".parse::<PublicKey>().is_err());
    }
}
