//! Who gets unchoked. The engine asks a [`Choker`] every rechoke interval; the default is the
//! BEP 3 choker, and the bidding engine plugs its own strategies in through the same trait.

use std::net::SocketAddr;
use std::time::{Duration, Instant};

/// Rechoke every 10 s and rotate the optimistic slot every 30 s, as BEP 3 clients do.
pub const RECHOKE_INTERVAL: Duration = Duration::from_secs(10);
pub const OPTIMISTIC_INTERVAL: Duration = Duration::from_secs(30);

/// What the choker sees of one connected peer.
#[derive(Debug, Clone)]
pub struct PeerView {
    pub key: usize,
    pub addr: SocketAddr,
    pub interested: bool,
    pub choked: bool,
    /// Bytes/s this peer sends us (what tit-for-tat rewards while downloading).
    pub download_rate: f64,
    /// Bytes/s we send this peer (what a seed ranks by).
    pub upload_rate: f64,
    pub is_seed: bool,
    pub connected_at: Instant,
}

#[derive(Debug, Clone, Default, PartialEq)]
pub struct ChokeDecision {
    /// Regular slots (the optimistic peer is listed separately).
    pub unchoke: Vec<usize>,
    pub optimistic: Option<usize>,
    /// Optional upload shares (peer key, weight): when the upload limit binds, unchoked peers
    /// get bandwidth in proportion to their weights (PropShare). Empty = first come, first served.
    pub shares: Vec<(usize, f64)>,
}

pub trait Choker: Send {
    fn name(&self) -> &str;
    /// A full rechoke. `rotate_optimistic` is true every OPTIMISTIC_INTERVAL.
    fn rechoke(
        &mut self,
        peers: &[PeerView],
        we_are_seed: bool,
        rotate_optimistic: bool,
    ) -> ChokeDecision;
    /// Regular upload slots; used to unchoke a newly interested peer at once while slots are
    /// free instead of making it wait for the next rechoke.
    fn slots(&self) -> usize;
}

/// The classic BEP 3 choker: `slots` best reciprocators (by rate they give us, or by rate we
/// reach them when seeding) plus one optimistic unchoke rotated every 30 s.
pub struct TitForTat {
    slots: usize,
    optimistic: Option<usize>,
}

impl TitForTat {
    pub fn new(slots: usize) -> Self {
        TitForTat {
            slots: slots.max(1),
            optimistic: None,
        }
    }
}

impl Default for TitForTat {
    fn default() -> Self {
        TitForTat::new(4)
    }
}

impl Choker for TitForTat {
    fn name(&self) -> &str {
        "tit-for-tat"
    }

    fn slots(&self) -> usize {
        self.slots
    }

    fn rechoke(
        &mut self,
        peers: &[PeerView],
        we_are_seed: bool,
        rotate_optimistic: bool,
    ) -> ChokeDecision {
        let mut candidates: Vec<&PeerView> = peers
            .iter()
            .filter(|p| p.interested && !p.is_seed)
            .collect();
        let rate = |p: &PeerView| {
            if we_are_seed {
                p.upload_rate
            } else {
                p.download_rate
            }
        };
        candidates.sort_by(|a, b| rate(b).total_cmp(&rate(a)));
        let unchoke: Vec<usize> = candidates.iter().take(self.slots).map(|p| p.key).collect();

        let still_there = self
            .optimistic
            .filter(|k| candidates.iter().any(|p| p.key == *k) && !unchoke.contains(k));
        self.optimistic = if rotate_optimistic || still_there.is_none() {
            pick_optimistic(&candidates, &unchoke)
        } else {
            still_there
        };
        ChokeDecision {
            unchoke,
            optimistic: self.optimistic,
            shares: Vec::new(),
        }
    }
}

/// A random interested peer outside the regular slots; newcomers (connected under a minute)
/// count three times, so new peers get their first pieces quickly (libtorrent does the same).
pub fn pick_optimistic(candidates: &[&PeerView], taken: &[usize]) -> Option<usize> {
    let pool: Vec<(usize, u32)> = candidates
        .iter()
        .filter(|p| !taken.contains(&p.key))
        .map(|p| {
            let weight = if p.connected_at.elapsed() < Duration::from_secs(60) {
                3
            } else {
                1
            };
            (p.key, weight)
        })
        .collect();
    let total: u32 = pool.iter().map(|(_, w)| w).sum();
    if total == 0 {
        return None;
    }
    let mut r = rand::random_range(0..total);
    for (k, w) in pool {
        if r < w {
            return Some(k);
        }
        r -= w;
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    fn peer(key: usize, interested: bool, down: f64, up: f64) -> PeerView {
        PeerView {
            key,
            addr: SocketAddr::from(([127, 0, 0, 1], 1000 + key as u16)),
            interested,
            choked: true,
            download_rate: down,
            upload_rate: up,
            is_seed: false,
            connected_at: Instant::now(),
        }
    }

    #[test]
    fn leecher_rewards_best_uploaders_and_keeps_one_optimistic() {
        let mut c = TitForTat::new(2);
        let peers: Vec<PeerView> = (0..6)
            .map(|k| peer(k, k != 5, k as f64 * 10.0, 100.0 - k as f64))
            .collect();
        let d = c.rechoke(&peers, false, true);
        assert_eq!(d.unchoke, vec![4, 3]);
        let o = d.optimistic.expect("an optimistic slot");
        assert!(![3, 4, 5].contains(&o));
        // not rotated: the same optimistic peer stays
        let d2 = c.rechoke(&peers, false, false);
        assert_eq!(d2.optimistic, Some(o));
    }

    #[test]
    fn seed_ranks_by_upload_rate() {
        let mut c = TitForTat::new(2);
        let peers: Vec<PeerView> = (0..4).map(|k| peer(k, true, 0.0, k as f64)).collect();
        let d = c.rechoke(&peers, true, true);
        assert_eq!(d.unchoke, vec![3, 2]);
    }
}
