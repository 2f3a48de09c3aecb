//! Web seeds (BEP 19) as a source next to peers. Each URL gets a task for the run generation
//! that, while the torrent downloads, takes blocks from the picker under its own key (as a
//! peer would), fetches them with range requests, and hands them to `on_block`: a piece it
//! completes is verified exactly like one from peers (SHA-1 and/or merkle), never written
//! unverified.
//!
//! A server that errors or stalls is backed off (5 s doubling to 5 min) and its blocks go back
//! to the picker; one whose data fails a piece check is dropped for the session, with one log
//! line, and the piece is fetched again from peers.

use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::engine::bitfield::Bitfield;
use crate::engine::webseed;
use crate::engine::wire::BlockRef;

use super::{Phase, Torrent, lock};

/// One range request's limit; below the picker's 20 s request timeout, so a block fetched in
/// time is still ours when it arrives.
const FETCH_TIMEOUT: Duration = Duration::from_secs(15);
const BACKOFF_FIRST: Duration = Duration::from_secs(5);
const BACKOFF_MAX: Duration = Duration::from_secs(300);
/// Blocks asked of a web seed at once: at most one piece's worth (and 1 MiB), so a piece it
/// lied about is found, and the server dropped, before it is asked for anything else.
const MAX_BLOCKS: usize = 64;

/// What the dashboard shows for a web seed.
#[derive(Debug, Clone)]
pub struct WebSeedStatus {
    pub url: String,
    /// "not contacted", "ok", "backing off" or "dropped".
    pub state: &'static str,
    pub downloaded: u64,
    pub last_attempt: Option<Instant>,
    pub last_success: Option<Instant>,
    pub last_error: Option<String>,
}

/// A web seed's picker key: counted down from the top so it never meets a peer's key
/// (peers count up from 0).
pub(super) fn web_seed_key(i: usize) -> usize {
    usize::MAX - i
}

impl Torrent {
    /// Every web seed with its state.
    pub fn web_seed_status(&self) -> Vec<WebSeedStatus> {
        lock(&self.web_seeds).clone()
    }

    /// Starts one task per web seed for `generation` (see `spawn_loops`).
    pub(super) fn spawn_web_seeds(self: &Arc<Self>, generation: u64) {
        for i in 0..self.meta.web_seeds.len() {
            let t = self.clone();
            let mut rx = self.run_gen.subscribe();
            tokio::spawn(async move {
                tokio::select! {
                    _ = t.clone().web_seed_loop(i) => {}
                    _ = rx.wait_for(|g| *g != generation) => {}
                    _ = t.stopped() => {}
                }
                // Whatever it had asked for goes back to the peers.
                t.state().picker.release_peer(web_seed_key(i));
            });
        }
    }

    fn update_web_seed(&self, i: usize, f: impl FnOnce(&mut WebSeedStatus)) {
        if let Some(w) = lock(&self.web_seeds).get_mut(i) {
            f(w);
        }
    }

    async fn web_seed_loop(self: Arc<Self>, i: usize) {
        let key = web_seed_key(i);
        let Some(base) = self.meta.web_seeds.get(i).cloned() else {
            return;
        };
        let mut backoff = BACKOFF_FIRST;
        loop {
            if lock(&self.web_seeds)
                .get(i)
                .is_none_or(|w| w.state == "dropped")
            {
                return;
            }
            let blocks = {
                let mut st = self.state();
                match st.phase {
                    Phase::Seeding => return,
                    Phase::Downloading => {
                        let all = Bitfield::full(self.meta.num_pieces());
                        let per_piece =
                            crate::engine::merkle::blocks_per_piece(self.meta.info.piece_length);
                        let mut out = Vec::new();
                        st.picker.pick(
                            key,
                            &all,
                            per_piece.min(MAX_BLOCKS),
                            Instant::now(),
                            &mut out,
                        );
                        // One piece per round: a lie is caught before the next request.
                        let first = out.first().map(|b| b.index);
                        for b in out.iter().filter(|b| Some(b.index) != first) {
                            st.picker.release_block(key, b);
                        }
                        out.retain(|b| Some(b.index) == first);
                        out
                    }
                    _ => Vec::new(),
                }
            };
            if blocks.is_empty() {
                tokio::time::sleep(Duration::from_secs(1)).await;
                continue;
            }
            // The same download limits as peers' blocks, taken before asking (a body cannot
            // be throttled mid-read through ureq).
            let want: u64 = blocks.iter().map(|b| u64::from(b.length)).sum();
            crate::engine::ratelimit::acquire_all(
                &[&self.ctx().global_down, &self.down_limit],
                want,
            )
            .await;
            self.update_web_seed(i, |w| w.last_attempt = Some(Instant::now()));
            match self.fetch_blocks(&base, &blocks).await {
                Ok(data) => {
                    backoff = BACKOFF_FIRST;
                    let mut got = 0u64;
                    for (b, bytes) in blocks.iter().zip(data) {
                        got += bytes.len() as u64;
                        self.add_downloaded(bytes.len() as u64);
                        if let Some(piece) = self.on_block(key, b.index, b.begin, &bytes) {
                            let Some(_slot) = self.verify_slot().await else {
                                self.return_unverified(piece.index);
                                continue;
                            };
                            // A failure lands in `web_seed_failed` (from `piece_failed`).
                            self.verify_and_store(piece).await;
                        }
                    }
                    self.update_web_seed(i, |w| {
                        if w.state != "dropped" {
                            w.state = "ok";
                            w.last_error = None;
                        }
                        w.downloaded += got;
                        w.last_success = Some(Instant::now());
                    });
                }
                Err(e) => {
                    self.state().picker.release_peer(key);
                    tracing::info!("web seed {base}: {e}; retrying in {backoff:?}");
                    self.update_web_seed(i, |w| {
                        w.state = "backing off";
                        w.last_error = Some(e.to_string());
                    });
                    tokio::time::sleep(backoff).await;
                    backoff = (backoff * 2).min(BACKOFF_MAX);
                }
            }
        }
    }

    /// Fetches `blocks` (contiguous runs in one request each) on the blocking pool; returns
    /// each block's bytes in order.
    async fn fetch_blocks(
        &self,
        base: &str,
        blocks: &[BlockRef],
    ) -> Result<Vec<Vec<u8>>, webseed::WebSeedError> {
        let pl = self.meta.info.piece_length;
        let mut runs: Vec<(u64, u64, usize)> = Vec::new(); // (start, len, blocks)
        for b in blocks {
            let start = u64::from(b.index) * pl + u64::from(b.begin);
            match runs.last_mut() {
                Some((s, l, n)) if *s + *l == start => {
                    *l += u64::from(b.length);
                    *n += 1;
                }
                _ => runs.push((start, u64::from(b.length), 1)),
            }
        }
        let meta = self.meta.clone();
        let base_owned = base.to_string();
        let task = tokio::task::spawn_blocking(move || {
            runs.iter()
                .map(|&(s, l, _)| webseed::fetch(&base_owned, &meta.info, s, l, FETCH_TIMEOUT))
                .collect::<Result<Vec<Vec<u8>>, _>>()
        });
        // Backstop for a server that trickles bytes under ureq's per-read checks.
        let budget = FETCH_TIMEOUT * 2;
        let datas = match tokio::time::timeout(budget, task).await {
            Ok(Ok(r)) => r?,
            Ok(Err(e)) => {
                return Err(webseed::WebSeedError::Network {
                    url: base.to_string(),
                    reason: e.to_string(),
                });
            }
            Err(_) => {
                return Err(webseed::WebSeedError::Timeout {
                    url: base.to_string(),
                    timeout: budget,
                });
            }
        };
        let mut out = Vec::with_capacity(blocks.len());
        let mut it = blocks.iter();
        for data in datas {
            let mut rest = &data[..];
            while !rest.is_empty() {
                let Some(b) = it.next() else { break };
                let n = (b.length as usize).min(rest.len());
                out.push(rest[..n].to_vec());
                rest = &rest[n..];
            }
        }
        Ok(out)
    }

    /// A piece failed its check: a web seed that sent any of it is dropped for the session.
    /// Its data is never trusted again; peers fetch the piece anew.
    pub(super) fn web_seed_failed(&self, index: u32, contributors: &[(usize, u64)]) {
        let mut seeds = lock(&self.web_seeds);
        for (i, w) in seeds.iter_mut().enumerate() {
            if w.state != "dropped" && contributors.iter().any(|(k, _)| *k == web_seed_key(i)) {
                tracing::warn!(
                    "web seed {}: piece {index} failed its hash check; dropping it",
                    w.url
                );
                w.state = "dropped";
                w.last_error = Some(format!("piece {index} failed its hash check"));
            }
        }
    }
}
