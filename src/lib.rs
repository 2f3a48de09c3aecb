//! bidtorrent: a terminal BitTorrent client with a token market built in.

pub mod bencode;
pub mod cli;
pub mod config;
pub mod demo;
pub mod engine;
pub mod market;
pub mod rpc;
pub mod tui;
pub mod units;
pub mod wallet;
