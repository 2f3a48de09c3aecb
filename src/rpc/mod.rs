//! The control socket (SPEC §2, RPC.md): a line-delimited JSON protocol over a Unix socket.
//! `server` runs inside `bidtorrent daemon`; `client` is used by the CLI and the dashboard.

pub mod client;
pub mod proto;
pub mod server;
pub mod state;

pub use client::{Client, ClientError};
pub use proto::PROTOCOL_VERSION;
