//! Versioned PostgreSQL schema. A migration is applied once, in its own transaction,
//! recorded in `ledger_schema`; `ledger migrate` applies what is missing, under an advisory
//! lock so two migrators cannot race. Never edit a released migration: add the next one.
//!
//! Amounts are BIGINT: the store refuses to mint past i64::MAX micro-tokens (9.2 million
//! million tokens), so every balance and escrow fits. Nonces are u64 stored order-preserving
//! as `nonce XOR 2^63` reinterpreted as i64.

pub const MIGRATIONS: &[(i32, &str, &str)] = &[
    (
        1,
        "accounts, nonces, channels and the minted total",
        r#"
CREATE TABLE ledger_meta (
    singleton boolean PRIMARY KEY DEFAULT true CHECK (singleton),
    ledger    bytea CHECK (octet_length(ledger) = 32),
    admin     bytea CHECK (octet_length(admin) = 32),
    minted    bigint NOT NULL DEFAULT 0 CHECK (minted >= 0)
);
INSERT INTO ledger_meta DEFAULT VALUES;

CREATE TABLE accounts (
    account bytea PRIMARY KEY CHECK (octet_length(account) = 32),
    balance bigint NOT NULL CHECK (balance >= 0)
);

CREATE TABLE nonces (
    account bytea PRIMARY KEY CHECK (octet_length(account) = 32),
    last    bigint NOT NULL
);

CREATE TABLE channels (
    id          bytea PRIMARY KEY CHECK (octet_length(id) = 32),
    buyer       bytea NOT NULL,
    seller      bytea NOT NULL,
    cap         bigint NOT NULL CHECK (cap > 0),
    expiry      bigint NOT NULL,
    deadline    bigint NOT NULL,
    redeemed    bigint NOT NULL CHECK (redeemed >= 0 AND redeemed <= cap),
    refunded    bigint NOT NULL CHECK (refunded >= 0),
    state       smallint NOT NULL CHECK (state IN (0, 1, 2)),
    closed_at   bigint,
    certificate bytea NOT NULL
);
CREATE INDEX channels_by_buyer ON channels (buyer, id);
CREATE INDEX channels_by_seller ON channels (seller, id);
CREATE INDEX channels_due ON channels (deadline) WHERE state <> 2;
"#,
    ),
    (
        2,
        "per-account counters (summary, open-channel limit); live and closed channel indexes",
        r#"
CREATE TABLE account_counters (
    account bytea NOT NULL CHECK (octet_length(account) = 32),
    kind    smallint NOT NULL CHECK (kind BETWEEN 0 AND 4),
    value   bigint NOT NULL CHECK (value >= 0),
    PRIMARY KEY (account, kind)
);
INSERT INTO account_counters (account, kind, value)
    SELECT buyer, 0, COUNT(*) FROM channels WHERE state <> 2 GROUP BY buyer
    UNION ALL
    SELECT buyer, 1, SUM(cap - redeemed)::bigint FROM channels WHERE state <> 2 GROUP BY buyer
    UNION ALL
    SELECT seller, 2, COUNT(*) FROM channels WHERE state <> 2 GROUP BY seller
    UNION ALL
    SELECT seller, 3, SUM(cap - redeemed)::bigint FROM channels WHERE state <> 2 GROUP BY seller;
CREATE INDEX channels_live_by_buyer ON channels (buyer, id) WHERE state <> 2;
CREATE INDEX channels_live_by_seller ON channels (seller, id) WHERE state <> 2;
CREATE INDEX channels_closed_by_buyer ON channels (buyer, closed_at, id) WHERE state = 2;
CREATE INDEX channels_closed_by_seller ON channels (seller, closed_at, id) WHERE state = 2;
"#,
    ),
];

/// The schema version this binary needs.
pub fn latest() -> i32 {
    MIGRATIONS.last().map(|m| m.0).unwrap_or(0)
}
