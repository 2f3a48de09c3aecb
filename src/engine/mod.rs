//! The swarm engine: metainfo, storage, peer wire, picker, choker, trackers, session.

pub mod bitfield;
pub mod choker;
pub mod create;
pub mod extension;
pub mod magnet;
pub mod metainfo;
pub mod peer;
pub mod picker;
pub mod ratelimit;
pub mod resume;
pub mod session;
pub mod storage;
pub mod torrent;
pub mod tracker;
pub mod types;
pub mod wire;
