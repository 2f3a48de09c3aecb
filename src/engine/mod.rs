//! The swarm engine: metainfo, storage, peer wire, picker, choker, trackers, session.

pub mod bitfield;
pub mod metainfo;
pub mod tracker;
pub mod types;
