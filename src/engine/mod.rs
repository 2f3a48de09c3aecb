//! The swarm engine: metainfo, storage, peer wire, picker, choker, trackers, session.

pub mod bitfield;
pub mod choker;
pub mod create;
pub mod dht;
pub mod extension;
pub mod lsd;
pub mod magnet;
pub mod merkle;
pub mod metadata;
pub mod metainfo;
pub mod metainfo_v2;
pub mod mse;
pub mod peer;
pub mod pex;
pub mod picker;
pub mod ratelimit;
pub mod resume;
pub mod session;
pub mod storage;
pub mod torrent;
pub mod tracker;
pub mod transport;
pub mod types;
pub mod ut_metadata;
pub mod webseed;
pub mod wire;
