//! Buyer and seller strategies (SPEC §4), as pure functions over what the extension knows.

pub mod buyer;
pub mod seller;
