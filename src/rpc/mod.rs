//! The application core and its doors (SPEC §2, RPC.md).
//!
//! - [`controller`]: the one [`Controller`] that owns the session's torrents and answers every
//!   request; [`view`] maps engine state to the protocol's rows; [`host`] assembles a session
//!   (engine, DHT, market) for every entry point.
//! - [`control`]: the [`Control`] door, in process ([`Local`]) or over the control socket
//!   ([`Socket`]); [`server`] is the socket's transport, [`client`] its blocking client.
//! - [`proto`]: the wire types; [`saved`]: the session file.

pub mod client;
pub mod control;
pub mod controller;
pub mod fetch;
pub mod host;
pub mod proto;
pub mod saved;
pub mod seeding;
pub mod server;
pub mod transmission;
pub mod view;

pub use client::{Client, ClientError};
pub use control::{Control, ControlError, Local, Socket, call_as};
pub use controller::{Controller, ControllerConfig};
pub use proto::PROTOCOL_VERSION;
