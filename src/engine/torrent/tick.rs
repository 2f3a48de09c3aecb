//! The torrent's clock: once a second it updates rates, rechokes (every 10 s, or within a
//! second when asked), expires stale requests, hangs up on idle peers and finished seeds, runs
//! the extensions' ticks, dials more peers and writes a resume checkpoint now and then.

use std::collections::HashSet;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use crate::engine::choker::{Choker, OPTIMISTIC_INTERVAL, PeerView, RECHOKE_INTERVAL};
use crate::engine::extension::PeerLink;
use crate::engine::peer::PeerCmd;

use super::{Phase, Torrent};

/// A request not answered in this long is given to another peer.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(20);
/// Peers that send nothing (not even keep-alives) for this long are dropped.
const IDLE_TIMEOUT: Duration = Duration::from_secs(150);
const CHECKPOINT_INTERVAL: Duration = Duration::from_secs(30);
/// The longest an extension may hold a connection between two seeds open (e.g. the market
/// settling its last payments) before it is closed anyway.
const SEED_LINGER: Duration = Duration::from_secs(30);

impl Torrent {
    /// Asks for a rechoke within a second instead of at the next 10 s round (new bids).
    pub fn request_rechoke(&self) {
        self.state().rechoke_soon = true;
    }

    pub fn choker_name(&self) -> String {
        self.state().choker.name().to_string()
    }

    pub fn set_choker(&self, choker: Box<dyn Choker>) {
        self.state().choker = choker;
    }

    pub(super) async fn tick_loop(self: Arc<Self>) {
        let mut tick = tokio::time::interval(Duration::from_secs(1));
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let mut last_rechoke = Instant::now() - RECHOKE_INTERVAL;
        let mut last_optimistic = Instant::now() - OPTIMISTIC_INTERVAL;
        let mut last_checkpoint = Instant::now();
        let handle = self.handle();
        loop {
            tokio::select! {
                _ = tick.tick() => {}
                _ = self.stopped() => return,
            }
            let now = Instant::now();
            self.update_rates();
            let soon = std::mem::take(&mut self.state().rechoke_soon);
            if soon || now.duration_since(last_rechoke) >= RECHOKE_INTERVAL {
                let rotate = now.duration_since(last_optimistic) >= OPTIMISTIC_INTERVAL;
                if rotate {
                    last_optimistic = now;
                }
                self.rechoke(rotate);
                last_rechoke = now;
            }
            self.expire_requests(now);
            self.drop_idle(now);
            self.close_finished_seeds(now);
            for ext in self.extensions() {
                ext.on_tick(&handle);
            }
            self.connect_more();
            if now.duration_since(last_checkpoint) >= CHECKPOINT_INTERVAL
                && self.state().resume_dirty
            {
                self.save_resume(false, crate::engine::durable::Durability::Now)
                    .await;
                last_checkpoint = now;
            }
        }
    }

    /// An idle torrent's rate reaches zero instead of decaying through "3 B/s" for a minute.
    fn update_rates(&self) {
        // An EWMA over ~5 s: smooth enough for the choker, quick enough for pipelining.
        const ALPHA: f64 = 0.35;
        let mut st = self.state();
        let st = &mut *st;
        for p in st.peers.values_mut() {
            let d = p.counters.downloaded.load(Ordering::Relaxed);
            let u = p.counters.uploaded.load(Ordering::Relaxed);
            p.down_rate = p.down_rate * (1.0 - ALPHA) + (d - p.last_down) as f64 * ALPHA;
            p.up_rate = p.up_rate * (1.0 - ALPHA) + (u - p.last_up) as f64 * ALPHA;
            p.last_down = d;
            p.last_up = u;
        }
        let d = self.downloaded.load(Ordering::Relaxed);
        let u = self.uploaded.load(Ordering::Relaxed);
        st.down_rate = settle(st.down_rate * (1.0 - ALPHA) + (d - st.last_down) as f64 * ALPHA);
        st.up_rate = settle(st.up_rate * (1.0 - ALPHA) + (u - st.last_up) as f64 * ALPHA);
        st.last_down = d;
        st.last_up = u;
    }

    fn rechoke(&self, rotate: bool) {
        let mut st = self.state();
        let st = &mut *st;
        // A finished torrent wants nothing more, so it ranks peers as a seed does.
        let seed = matches!(st.phase, Phase::Seeding | Phase::Finished);
        let views: Vec<PeerView> = st
            .peers
            .iter()
            .map(|(k, p)| PeerView {
                key: *k,
                addr: p.addr,
                interested: p.peer_interested,
                choked: p.am_choking,
                download_rate: p.down_rate,
                upload_rate: p.up_rate,
                is_seed: p.is_seed(),
                connected_at: p.connected_at,
            })
            .collect();
        let d = st.choker.rechoke(&views, seed, rotate);
        // Shares only mean something under a binding upload limit: split that limit.
        let cap = match (self.ctx.global_up.rate(), self.up_limit.rate()) {
            (0, t) => t,
            (g, 0) => g,
            (g, t) => g.min(t),
        };
        let total: f64 = d.shares.iter().map(|(_, w)| w.max(0.0)).sum();
        for (k, p) in st.peers.iter_mut() {
            let share = d
                .shares
                .iter()
                .find(|(key, _)| key == k)
                .map(|(_, w)| w.max(0.0));
            let rate = match share {
                Some(w) if cap > 0 && total > 0.0 => ((cap as f64 * w / total) as u64).max(1),
                _ => 0,
            };
            p.counters.up_limit.set_rate(rate);
            let unchoke = d.unchoke.contains(k) || d.optimistic == Some(*k);
            if unchoke && p.am_choking {
                p.am_choking = false;
                let _ = p.tx.send(PeerCmd::Unchoke);
            } else if !unchoke && !p.am_choking {
                p.am_choking = true;
                let _ = p.tx.send(PeerCmd::Choke);
            }
        }
    }

    fn expire_requests(&self, now: Instant) {
        let mut st = self.state();
        let st = &mut *st;
        let expired = st.picker.expire(REQUEST_TIMEOUT, now);
        let mut touched = HashSet::new();
        for (k, _) in expired {
            if let Some(p) = st.peers.get_mut(&k) {
                p.inflight = p.inflight.saturating_sub(1);
                touched.insert(k);
            }
        }
        let keys: Vec<usize> = st.peers.keys().copied().collect();
        for k in keys {
            self.fill(st, k);
        }
    }

    /// Hangs up on seeds once we are a seed too: keep-alives would otherwise hold such a
    /// connection open forever. An extension with unfinished business on it (see
    /// `Extension::keep_open`) gets up to SEED_LINGER; the address is then not redialled
    /// while we seed.
    fn close_finished_seeds(self: &Arc<Self>, now: Instant) {
        let candidates: Vec<(PeerLink, Instant)> = {
            let mut st = self.state();
            if st.phase != Phase::Seeding {
                return;
            }
            st.peers
                .iter_mut()
                .filter(|(_, p)| p.is_seed())
                .map(|(k, p)| {
                    let since = *p.both_seeds_since.get_or_insert(now);
                    (PeerLink::new(self.handle(), *k, p.addr, p.peer_id), since)
                })
                .collect()
        };
        if candidates.is_empty() {
            return;
        }
        let exts = self.extensions();
        let mut st = self.state();
        let st = &mut *st;
        for (link, since) in candidates {
            let linger =
                now.duration_since(since) < SEED_LINGER && exts.iter().any(|e| e.keep_open(&link));
            if linger {
                continue;
            }
            let Some(p) = st.peers.get(&link.key()) else {
                continue;
            };
            let _ = p.tx.send(PeerCmd::Close);
            let dial = p.listen_port.map(|port| SocketAddr::new(p.addr.ip(), port));
            if let Some(k) = dial.and_then(|a| st.known.get_mut(&a)) {
                k.seed = true;
            }
        }
    }

    fn drop_idle(&self, _now: Instant) {
        let st = self.state();
        let now_ms = self.started.elapsed().as_millis() as u64;
        for p in st.peers.values() {
            let last = p.counters.last_recv_ms.load(Ordering::Relaxed);
            if now_ms.saturating_sub(last) > IDLE_TIMEOUT.as_millis() as u64 {
                let _ = p.tx.send(PeerCmd::Close);
            }
        }
    }
}

/// Below this an averaged rate is noise from a transfer that has stopped: show 0.
const RATE_FLOOR: f64 = 64.0;

fn settle(rate: f64) -> f64 {
    if rate < RATE_FLOOR { 0.0 } else { rate }
}
