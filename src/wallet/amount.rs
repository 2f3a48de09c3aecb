//! Token amounts: integer micro-tokens (6 decimals, like TRC-10 tokens), never floats.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

/// Micro-tokens per token.
pub const MICRO: u64 = 1_000_000;

/// An amount of tokens in micro-token units. All arithmetic is checked: amounts never
/// overflow and never go negative (SPEC §5: integers, 6 decimals).
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default, Serialize, Deserialize,
)]
#[serde(transparent)]
pub struct Amount(pub u64);

impl Amount {
    pub const ZERO: Amount = Amount(0);

    /// From micro-tokens.
    pub const fn from_micro(micro: u64) -> Amount {
        Amount(micro)
    }

    /// From whole tokens, `None` on overflow.
    pub fn from_tokens(tokens: u64) -> Option<Amount> {
        tokens.checked_mul(MICRO).map(Amount)
    }

    pub const fn micro(self) -> u64 {
        self.0
    }

    pub fn is_zero(self) -> bool {
        self.0 == 0
    }

    pub fn checked_add(self, other: Amount) -> Option<Amount> {
        self.0.checked_add(other.0).map(Amount)
    }

    pub fn checked_sub(self, other: Amount) -> Option<Amount> {
        self.0.checked_sub(other.0).map(Amount)
    }
}

impl fmt::Display for Amount {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}.{:06}", self.0 / MICRO, self.0 % MICRO)
    }
}

/// Why a string is not an amount.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AmountError {
    #[error("empty amount")]
    Empty,
    #[error("amount {0:?} is not a number of tokens (expected e.g. 12 or 1.5)")]
    Invalid(String),
    #[error("amount {0:?} is negative; token amounts are 0 or more")]
    Negative(String),
    #[error("amount {0:?} has more than 6 decimal places")]
    TooPrecise(String),
    #[error("amount {0:?} is too large")]
    Overflow(String),
}

impl FromStr for Amount {
    type Err = AmountError;

    /// Parses token units: "12", "1.5", "0.000001". No sign, no exponent, at most 6 decimals.
    fn from_str(s: &str) -> Result<Amount, AmountError> {
        let s = s.trim();
        if s.is_empty() {
            return Err(AmountError::Empty);
        }
        if s.starts_with('-')
            && s[1..]
                .trim_start()
                .starts_with(|c: char| c.is_ascii_digit() || c == '.')
        {
            return Err(AmountError::Negative(s.to_string()));
        }
        let (whole, frac) = match s.split_once('.') {
            Some((w, f)) => (w, f),
            None => (s, ""),
        };
        let digits = |p: &str| p.bytes().all(|b| b.is_ascii_digit());
        if (whole.is_empty() && frac.is_empty()) || !digits(whole) || !digits(frac) {
            return Err(AmountError::Invalid(s.to_string()));
        }
        if s.contains('.') && frac.is_empty() {
            return Err(AmountError::Invalid(s.to_string()));
        }
        if frac.len() > 6 {
            return Err(AmountError::TooPrecise(s.to_string()));
        }
        let overflow = || AmountError::Overflow(s.to_string());
        let w: u64 = if whole.is_empty() {
            0
        } else {
            whole.parse().map_err(|_| overflow())?
        };
        let mut f: u64 = if frac.is_empty() {
            0
        } else {
            frac.parse().map_err(|_| overflow())?
        };
        for _ in frac.len()..6 {
            f *= 10;
        }
        w.checked_mul(MICRO)
            .and_then(|m| m.checked_add(f))
            .map(Amount)
            .ok_or_else(overflow)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parse_and_display() {
        assert_eq!("1.5".parse::<Amount>().unwrap(), Amount(1_500_000));
        assert_eq!("12".parse::<Amount>().unwrap(), Amount(12_000_000));
        assert_eq!("0.000001".parse::<Amount>().unwrap(), Amount(1));
        assert_eq!(".5".parse::<Amount>().unwrap(), Amount(500_000));
        assert_eq!(Amount(1_234_567).to_string(), "1.234567");
        assert_eq!(Amount(5).to_string(), "0.000005");
        for bad in [
            "",
            "-1",
            "1.2.3",
            "abc",
            "1e5",
            "0.0000001",
            "99999999999999999999",
            ".",
            "+1",
            "1.",
        ] {
            assert!(bad.parse::<Amount>().is_err(), "{bad:?} parsed");
        }
        let max = Amount(u64::MAX);
        assert_eq!(max.to_string().parse::<Amount>().unwrap(), max);
        assert!(max.checked_add(Amount(1)).is_none());
        assert!(Amount(0).checked_sub(Amount(1)).is_none());
    }
}
