//! The swarm engine: metainfo, storage, peer wire, picker, choker, trackers, session.

pub mod bitfield;
pub mod create;
pub mod magnet;
pub mod metainfo;
pub mod types;
