//! BEP 11 peer exchange (`ut_pex`): tell connected peers which peers we are connected to, and
//! learn theirs. Off for private torrents (BEP 27).
//!
//! Rate limits follow the BEP: at most one message per minute to each peer, at most 50 added
//! and 50 dropped entries in each. Incoming messages faster than that are ignored (not punished:
//! several clients send their first two messages close together).

use std::collections::{HashMap, HashSet};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use crate::bencode::{self, Dict, Owned};
use crate::engine::extension::{Extension, ExtensionFactory, PeerLink};
use crate::engine::torrent::{TorrentHandle, lock};
use crate::engine::types::PeerId;

pub const NAME: &str = "ut_pex";
/// BEP 11: no more than one message a minute to a peer.
pub const INTERVAL: Duration = Duration::from_secs(60);
/// BEP 11: no more than 50 added and 50 dropped entries per message.
pub const MAX_ENTRIES: usize = 50;
/// Incoming messages closer together than this are ignored (a little slack under a minute).
const MIN_RECV_GAP: Duration = Duration::from_secs(45);

/// `added.f` flags (BEP 11).
pub const FLAG_SEED: u8 = 0x02;
pub const FLAG_UTP: u8 = 0x04;
pub const FLAG_CONNECTABLE: u8 = 0x10;

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PexMsg {
    /// Added peers with their flags (0 when the peer sent none).
    pub added: Vec<(SocketAddr, u8)>,
    pub dropped: Vec<SocketAddr>,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PexError {
    #[error("ut_pex: not a bencoded dictionary")]
    NotDict,
}

fn v4(c: &[u8]) -> SocketAddr {
    SocketAddr::new(
        IpAddr::V4(Ipv4Addr::new(c[0], c[1], c[2], c[3])),
        u16::from_be_bytes([c[4], c[5]]),
    )
}

fn v6(c: &[u8]) -> SocketAddr {
    let mut a = [0u8; 16];
    a.copy_from_slice(&c[..16]);
    SocketAddr::new(
        IpAddr::V6(Ipv6Addr::from(a)),
        u16::from_be_bytes([c[16], c[17]]),
    )
}

/// A peer we could dial: not port 0, not an unspecified, multicast or broadcast address.
fn dialable(a: &SocketAddr) -> bool {
    a.port() != 0
        && !a.ip().is_unspecified()
        && !a.ip().is_multicast()
        && a.ip() != IpAddr::V4(Ipv4Addr::BROADCAST)
}

impl PexMsg {
    /// Parses a ut_pex payload. Never panics; trailing partial entries are ignored, entries past
    /// `limit` per list are dropped, and undialable addresses are skipped.
    pub fn parse(payload: &[u8], limit: usize) -> Result<PexMsg, PexError> {
        let v = bencode::decode(payload).map_err(|_| PexError::NotDict)?;
        let d = v.as_dict().ok_or(PexError::NotDict)?;
        let mut m = PexMsg::default();
        let added =
            |d: &Dict<'_>, key: &str, fkey: &str, size: usize, f: fn(&[u8]) -> SocketAddr| {
                let flags = d.get_bytes(fkey).unwrap_or(&[]);
                d.get_bytes(key)
                    .unwrap_or(&[])
                    .chunks_exact(size)
                    .enumerate()
                    .map(|(i, c)| (f(c), flags.get(i).copied().unwrap_or(0)))
                    .filter(|(a, _)| dialable(a))
                    .take(limit)
                    .collect::<Vec<_>>()
            };
        m.added = added(d, "added", "added.f", 6, v4);
        m.added.extend(added(d, "added6", "added6.f", 18, v6));
        m.added.truncate(limit);
        for (key, size, f) in [
            ("dropped", 6, v4 as fn(&[u8]) -> SocketAddr),
            ("dropped6", 18, v6),
        ] {
            m.dropped.extend(
                d.get_bytes(key)
                    .unwrap_or(&[])
                    .chunks_exact(size)
                    .map(f)
                    .take(limit),
            );
        }
        m.dropped.truncate(limit);
        Ok(m)
    }

    /// The added peers flagged as taking uTP (0x04).
    pub fn utp_peers(&self) -> Vec<SocketAddr> {
        self.added
            .iter()
            .filter(|(_, f)| f & FLAG_UTP != 0)
            .map(|(a, _)| *a)
            .collect()
    }

    pub fn encode(&self) -> Vec<u8> {
        let (mut a4, mut f4, mut a6, mut f6, mut d4, mut d6) =
            (vec![], vec![], vec![], vec![], vec![], vec![]);
        for (a, f) in &self.added {
            match a {
                SocketAddr::V4(s) => {
                    a4.extend_from_slice(&s.ip().octets());
                    a4.extend_from_slice(&s.port().to_be_bytes());
                    f4.push(*f);
                }
                SocketAddr::V6(s) => {
                    a6.extend_from_slice(&s.ip().octets());
                    a6.extend_from_slice(&s.port().to_be_bytes());
                    f6.push(*f);
                }
            }
        }
        for a in &self.dropped {
            match a {
                SocketAddr::V4(s) => {
                    d4.extend_from_slice(&s.ip().octets());
                    d4.extend_from_slice(&s.port().to_be_bytes());
                }
                SocketAddr::V6(s) => {
                    d6.extend_from_slice(&s.ip().octets());
                    d6.extend_from_slice(&s.port().to_be_bytes());
                }
            }
        }
        Owned::dict()
            .with("added", a4)
            .with("added.f", f4)
            .with("added6", a6)
            .with("added6.f", f6)
            .with("dropped", d4)
            .with("dropped6", d6)
            .encode()
    }
}

/// What we know about one peer that speaks ut_pex.
struct PeerPex {
    addr: SocketAddr,
    peer_id: PeerId,
    /// Addresses we have told this peer about and not yet dropped.
    told: HashSet<SocketAddr>,
    last_sent: Option<Instant>,
    last_recv: Option<Instant>,
}

#[derive(Default)]
pub struct Pex {
    peers: Mutex<HashMap<usize, PeerPex>>,
}

impl Pex {
    /// The next message for one peer, given our current (address, flags) set; updates `told`.
    fn next_message(p: &mut PeerPex, current: &HashMap<SocketAddr, u8>) -> Option<PexMsg> {
        let added: Vec<(SocketAddr, u8)> = current
            .iter()
            .filter(|(a, _)| !p.told.contains(*a) && **a != p.addr)
            .take(MAX_ENTRIES)
            .map(|(a, f)| (*a, *f))
            .collect();
        let dropped: Vec<SocketAddr> = p
            .told
            .iter()
            .filter(|a| !current.contains_key(*a))
            .take(MAX_ENTRIES)
            .copied()
            .collect();
        if added.is_empty() && dropped.is_empty() {
            return None;
        }
        for (a, _) in &added {
            p.told.insert(*a);
        }
        for a in &dropped {
            p.told.remove(a);
        }
        Some(PexMsg { added, dropped })
    }
}

impl Extension for Pex {
    fn name(&self) -> &'static str {
        NAME
    }

    fn on_handshake(&self, link: &PeerLink, _handshake: &Dict<'_>, supported: bool) {
        if supported {
            lock(&self.peers).insert(
                link.key(),
                PeerPex {
                    addr: link.addr(),
                    peer_id: link.peer_id(),
                    told: HashSet::new(),
                    last_sent: None,
                    last_recv: None,
                },
            );
        }
    }

    fn on_message(&self, link: &PeerLink, payload: &[u8]) -> Result<(), String> {
        {
            let mut peers = lock(&self.peers);
            let Some(p) = peers.get_mut(&link.key()) else {
                return Ok(());
            };
            let now = Instant::now();
            if p.last_recv
                .is_some_and(|t| now.duration_since(t) < MIN_RECV_GAP)
            {
                tracing::debug!("{}: ut_pex faster than once a minute; ignored", link.addr());
                return Ok(());
            }
            p.last_recv = Some(now);
        }
        let msg = PexMsg::parse(payload, MAX_ENTRIES).map_err(|e| e.to_string())?;
        if !msg.added.is_empty() {
            tracing::debug!("{}: ut_pex: {} peers", link.addr(), msg.added.len());
            link.torrent().hint_utp(msg.utp_peers());
            link.torrent()
                .add_peers(msg.added.into_iter().map(|(a, _)| a));
        }
        Ok(())
    }

    fn on_disconnect(&self, link: &PeerLink) {
        lock(&self.peers).remove(&link.key());
    }

    fn on_tick(&self, torrent: &TorrentHandle) {
        let now = Instant::now();
        // Our peers' dialable addresses, with BEP 11 flags.
        let current: HashMap<SocketAddr, u8> = torrent
            .dialable_peers()
            .into_iter()
            .map(|p| {
                let mut f = 0;
                if p.outgoing {
                    f |= FLAG_CONNECTABLE;
                }
                if p.seed {
                    f |= FLAG_SEED;
                }
                if p.utp {
                    f |= FLAG_UTP;
                }
                (p.addr, f)
            })
            .collect();
        let mut out = Vec::new();
        {
            let mut peers = lock(&self.peers);
            for (key, p) in peers.iter_mut() {
                if p.last_sent
                    .is_some_and(|t| now.duration_since(t) < INTERVAL)
                {
                    continue;
                }
                // The peer's own listen address is in `current` too; never tell it about itself.
                let mut cur = current.clone();
                cur.retain(|a, _| a.ip() != p.addr.ip() || a.port() != p.addr.port());
                if let Some(m) = Self::next_message(p, &cur) {
                    p.last_sent = Some(now);
                    out.push((*key, p.addr, p.peer_id, m));
                }
            }
        }
        for (key, addr, peer_id, m) in out {
            let link = PeerLink::new(torrent.clone(), key, addr, peer_id);
            link.send(NAME, m.encode());
        }
    }
}

pub struct PexFactory;

impl ExtensionFactory for PexFactory {
    fn create(&self, torrent: &TorrentHandle) -> Option<Arc<dyn Extension>> {
        if torrent.meta().info.private {
            return None;
        }
        Some(Arc::new(Pex::default()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn a(s: &str) -> SocketAddr {
        s.parse().expect("addr")
    }

    #[test]
    fn round_trips_v4_and_v6() {
        let m = PexMsg {
            added: vec![(a("10.0.0.1:6881"), FLAG_SEED), (a("[::1]:7000"), 0)],
            dropped: vec![a("10.0.0.2:1"), a("[::2]:2")],
        };
        let back = PexMsg::parse(&m.encode(), MAX_ENTRIES).expect("parse");
        assert_eq!(back, m);
    }

    #[test]
    fn limits_and_filters() {
        let mut m = PexMsg::default();
        for i in 0..120u16 {
            m.added
                .push((SocketAddr::from(([10, 0, 0, 1], 1000 + i)), 0));
        }
        m.added.push((a("0.0.0.0:5"), 0));
        m.added.push((a("10.0.0.9:0"), 0));
        let back = PexMsg::parse(&m.encode(), MAX_ENTRIES).expect("parse");
        assert_eq!(back.added.len(), MAX_ENTRIES);
        let back = PexMsg::parse(&m.encode(), 1000).expect("parse");
        assert_eq!(back.added.len(), 120, "undialable entries skipped");
        assert!(PexMsg::parse(b"le", 50).is_err());
        assert_eq!(
            PexMsg::parse(b"d5:added5:12345e", 50).expect("partial"),
            PexMsg::default()
        );
    }

    #[test]
    fn next_message_sends_deltas_of_at_most_50() {
        let mut p = PeerPex {
            addr: a("10.0.0.1:1"),
            peer_id: PeerId([0; 20]),
            told: HashSet::new(),
            last_sent: None,
            last_recv: None,
        };
        let mut cur: HashMap<SocketAddr, u8> = (0..70u16)
            .map(|i| (SocketAddr::from(([10, 1, 0, 1], 2000 + i)), 0))
            .collect();
        let m1 = Pex::next_message(&mut p, &cur).expect("first");
        assert_eq!(m1.added.len(), 50);
        let m2 = Pex::next_message(&mut p, &cur).expect("second");
        assert_eq!(m2.added.len(), 20);
        assert!(Pex::next_message(&mut p, &cur).is_none());
        let gone = SocketAddr::from(([10, 1, 0, 1], 2000));
        cur.remove(&gone);
        let m3 = Pex::next_message(&mut p, &cur).expect("drop");
        assert_eq!(m3.dropped, vec![gone]);
        assert!(m3.added.is_empty());
    }

    proptest! {
        #[test]
        fn never_panics(b in proptest::collection::vec(any::<u8>(), 0..300)) {
            let _ = PexMsg::parse(&b, MAX_ENTRIES);
        }
    }
}
