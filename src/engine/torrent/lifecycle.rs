//! A torrent's life: the startup check, the periodic loops and their run generation, pause,
//! resume, recheck, stop, resume data, and the trackers (the announce loop and on-demand
//! announces). The states and their transitions are described in the module docs of
//! [`crate::engine::torrent`].

use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use crate::engine::durable::Durability;
use crate::engine::peer::PeerCmd;
use crate::engine::resume::{self, ResumeData};
use crate::engine::tracker::{AnnounceEvent, AnnounceRequest, TrackerStatus, TrackerTiers};

use super::{CheckResult, Phase, State, Torrent, TorrentEvent, lock};

impl Torrent {
    /// Verifies what is on disk (fast resume when possible), then starts the torrent's tasks.
    pub async fn start(self: &Arc<Self>) {
        self.emit(TorrentEvent::Checking);
        let storage = self.storage.clone();
        let meta = self.meta.clone();
        let path = resume::resume_path(&self.ctx.data_dir, &self.meta.info_hash);
        let n = self.meta.num_pieces();
        let checked = tokio::task::spawn_blocking(move || {
            let prior = match resume::load(&path, n) {
                Ok(r) => r,
                Err(e) => {
                    tracing::warn!("resume data unusable, rechecking: {e}");
                    None
                }
            };
            resume::startup_bitfield(&storage, &meta.info, prior.as_ref(), |_, _| {})
        })
        .await;
        let have = match checked {
            Ok(Ok((have, kind))) => {
                let hashed = match kind {
                    resume::RecheckKind::None => 0,
                    resume::RecheckKind::Partial(n) => n,
                    resume::RecheckKind::Full => n,
                };
                let result = CheckResult {
                    have: have.count(),
                    hashed,
                };
                self.state().checked = Some(result);
                self.emit(TorrentEvent::Checked {
                    have: result.have,
                    hashed,
                });
                have
            }
            Ok(Err(e)) => return self.fail(format!("checking data: {e}")),
            Err(e) => return self.fail(format!("checking data: {e}")),
        };
        let (complete, paused, generation) = {
            let mut st = self.state();
            st.picker.set_have(have);
            let complete = st.picker.has_all();
            let paused = self.is_paused();
            st.phase = if paused {
                Phase::Paused
            } else {
                st.picker.running_phase()
            };
            (complete, paused, *self.run_gen.borrow())
        };
        // A crash-safe checkpoint right away: the next start trusts what was just verified.
        self.save_resume(false, Durability::Now).await;
        if complete {
            self.emit(TorrentEvent::Complete);
            self.emit(TorrentEvent::Seeding);
        }
        if paused {
            return;
        }
        self.spawn_loops(generation);
    }

    /// Enters the error phase (a disk problem); `force_recheck` leaves it.
    pub(super) fn fail(&self, msg: String) {
        tracing::error!("{}: {msg}", self.meta.info.name);
        {
            let mut st = self.state();
            st.phase = Phase::Error;
            st.error = Some(msg.clone());
        }
        self.emit(TorrentEvent::Error(msg));
    }

    /// Stops every task, writes resume data and announces `stopped`. With
    /// [`Durability::Batched`] the caller flushes the resume file (a whole session stopping:
    /// one syncfs, not a file and a directory fsync per torrent).
    pub async fn stop(self: &Arc<Self>, durability: Durability) {
        if self.stopped.swap(true, Ordering::SeqCst) {
            return;
        }
        self.stop_notify.notify_waiters();
        {
            let st = self.state();
            for p in st.peers.values() {
                let _ = p.tx.send(PeerCmd::Close);
            }
        }
        self.save_resume(true, durability).await;
        self.announce_once(AnnounceEvent::Stopped, Duration::from_secs(3))
            .await;
    }

    pub(super) async fn save_resume(&self, clean: bool, durability: Durability) {
        let counters = (
            self.uploaded.load(Ordering::Relaxed),
            self.downloaded.load(Ordering::Relaxed),
        );
        let (have, do_save) = {
            let mut st = self.state();
            let phase_ok = st.phase != Phase::Error && st.phase != Phase::Checking;
            // A checkpoint that would say what the last one said is skipped: pausing 10,000
            // idle torrents must not cost 10,000 file writes and fsyncs (issue 19). A clean
            // stop is always written (it marks the data as needing no recheck).
            let unchanged = !st.resume_dirty && st.saved_counters == Some(counters);
            st.resume_dirty = false;
            (st.picker.have().clone(), (phase_ok && !unchanged) || clean)
        };
        if !do_save {
            return;
        }
        let storage = self.storage.clone();
        let data = ResumeData {
            info_hash: self.meta.info_hash,
            have,
            stamps: Vec::new(),
            clean,
            uploaded: counters.0,
            downloaded: counters.1,
            saved_at_unix: std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map(|d| d.as_secs() as i64)
                .unwrap_or(0),
        };
        let path = resume::resume_path(&self.ctx.data_dir, &self.meta.info_hash);
        // Never closed, so the permit always comes.
        let permit = self.ctx.resume_writers.acquire().await.ok();
        let r = tokio::task::spawn_blocking(move || -> Result<(), String> {
            // Data first, then the record that claims it: a crash between the two only costs a
            // recheck of the pieces written since the last checkpoint.
            storage.sync().map_err(|e| e.to_string())?;
            let mut data = data;
            data.stamps = storage.stamps();
            resume::save(&path, &data, durability).map_err(|e| e.to_string())
        })
        .await
        .unwrap_or_else(|e| Err(e.to_string()));
        drop(permit);
        match r {
            Ok(()) => self.state().saved_counters = Some(counters),
            Err(e) => {
                tracing::warn!("saving resume data: {e}");
                self.state().resume_dirty = true;
            }
        }
    }

    /// Runs the tick and tracker loops until the run generation moves past `generation`
    /// (pause, recheck) or the torrent stops.
    fn spawn_loops(self: &Arc<Self>, generation: u64) {
        let t = self.clone();
        let mut rx = self.run_gen.subscribe();
        tokio::spawn(async move {
            tokio::select! {
                _ = t.tick_loop() => {}
                _ = rx.wait_for(|g| *g != generation) => {}
            }
        });
        let t = self.clone();
        let mut rx = self.run_gen.subscribe();
        tokio::spawn(async move {
            tokio::select! {
                _ = t.tracker_loop() => {}
                _ = rx.wait_for(|g| *g != generation) => {}
            }
        });
        self.spawn_web_seeds(generation);
    }

    /// Ends the loops of the current generation and closes every peer. Call with the lock.
    fn halt_locked(&self, st: &State) {
        self.run_gen.send_modify(|g| *g += 1);
        for p in st.peers.values() {
            let _ = p.tx.send(PeerCmd::Close);
        }
    }

    /// Pauses: closes every peer, stops the tick and tracker loops (no dialling, no
    /// announces), refuses new peers, writes a checkpoint and announces `stopped`.
    /// Returns false when it was paused already.
    pub async fn pause(self: &Arc<Self>) -> bool {
        let was_running = {
            let mut st = self.state();
            if self.paused.swap(true, Ordering::SeqCst) {
                return false;
            }
            self.halt_locked(&st);
            let running = matches!(st.phase, Phase::Downloading | Phase::Seeding);
            if running {
                st.phase = Phase::Paused;
            }
            // While checking, `start`/`force_recheck` see the flag and end in `Paused`.
            running
        };
        if was_running {
            self.save_resume(false, Durability::Now).await;
            self.announce_once(AnnounceEvent::Stopped, Duration::from_secs(3))
                .await;
        }
        true
    }

    /// Undoes `pause`: the loops start again (the tracker hears `started`). Returns false
    /// when it was not paused.
    pub fn resume(self: &Arc<Self>) -> bool {
        let generation = {
            let mut st = self.state();
            if !self.paused.swap(false, Ordering::SeqCst) {
                return false;
            }
            if st.phase != Phase::Paused || self.is_stopped() {
                // Still checking: the check sees the cleared flag and starts the loops.
                return true;
            }
            st.phase = st.picker.running_phase();
            // Peers were closed by us, not lost: dial them again at once, not after backoff.
            for k in st.known.values_mut() {
                k.retry_now();
            }
            *self.run_gen.borrow()
        };
        self.spawn_loops(generation);
        true
    }

    /// Hashes every piece again (peers are closed meanwhile), then carries on as before:
    /// paused stays paused. Also clears an error state, so it is the way to retry after a
    /// disk problem is fixed.
    pub async fn force_recheck(self: &Arc<Self>) -> Result<CheckResult, String> {
        {
            let mut st = self.state();
            if st.phase == Phase::Checking {
                return Err("already checking".into());
            }
            if self.is_stopped() {
                return Err("torrent is stopped".into());
            }
            self.halt_locked(&st);
            st.phase = Phase::Checking;
            st.error = None;
        }
        self.emit(TorrentEvent::Checking);
        let storage = self.storage.clone();
        let meta = self.meta.clone();
        let checked = tokio::task::spawn_blocking(move || {
            use crate::engine::resume::PieceCheck;
            meta.info.recheck(&storage, &|_| true, &mut |_, _| {})
        })
        .await;
        let have = match checked {
            Ok(Ok(have)) => have,
            Ok(Err(e)) => {
                let msg = format!("rechecking data: {e}");
                self.fail(msg.clone());
                return Err(msg);
            }
            Err(e) => {
                let msg = format!("rechecking data: {e}");
                self.fail(msg.clone());
                return Err(msg);
            }
        };
        let result = CheckResult {
            have: have.count(),
            hashed: self.meta.num_pieces(),
        };
        let (paused, generation) = {
            let mut st = self.state();
            st.picker.set_have(have);
            st.checked = Some(result);
            st.resume_dirty = true;
            let paused = self.is_paused();
            st.phase = if paused {
                Phase::Paused
            } else {
                st.picker.running_phase()
            };
            (paused, *self.run_gen.borrow())
        };
        self.emit(TorrentEvent::Checked {
            have: result.have,
            hashed: result.hashed,
        });
        self.save_resume(false, Durability::Now).await;
        if !paused && !self.is_stopped() {
            self.spawn_loops(generation);
        }
        Ok(result)
    }

    /// Announces to the trackers now (outside the regular interval) and dials the peers they
    /// return. Returns how many peers the tracker gave.
    pub async fn reannounce(self: &Arc<Self>) -> Result<usize, String> {
        if self.is_paused() {
            return Err("torrent is paused".into());
        }
        let mut tiers = TrackerTiers::new(self.meta.announce_tiers.clone());
        if tiers.is_empty() {
            return Err("the torrent has no trackers".into());
        }
        let req = self.announce_request(AnnounceEvent::None);
        match tiers.announce(&req, Duration::from_secs(10)).await {
            Ok((_, resp)) => {
                let n = resp.peers.len();
                self.add_peers(resp.peers);
                self.connect_more();
                Ok(n)
            }
            Err(e) => Err(e.to_string()),
        }
    }

    // Trackers.

    /// Each tracker URL with the outcome of its last announce; URLs never tried yet (before
    /// the first announce, or paused) come with every field empty.
    pub fn tracker_status(&self) -> Vec<TrackerStatus> {
        let st = lock(&self.tracker_status).clone();
        if st.is_empty() {
            TrackerTiers::new(self.meta.announce_tiers.clone()).status()
        } else {
            st
        }
    }

    fn announce_request(&self, event: AnnounceEvent) -> AnnounceRequest {
        let left = self.state().picker.bytes_left();
        AnnounceRequest {
            info_hash: self.meta.info_hash,
            peer_id: self.ctx.peer_id,
            port: self.ctx.listen_port.load(Ordering::Relaxed) as u16,
            uploaded: self.uploaded.load(Ordering::Relaxed),
            downloaded: self.downloaded.load(Ordering::Relaxed),
            left,
            event,
            num_want: 50,
            key: u32::from_be_bytes([
                self.ctx.peer_id.0[16],
                self.ctx.peer_id.0[17],
                self.ctx.peer_id.0[18],
                self.ctx.peer_id.0[19],
            ]),
        }
    }

    async fn announce_once(&self, event: AnnounceEvent, timeout: Duration) -> Option<Duration> {
        let mut tiers = TrackerTiers::new(self.meta.announce_tiers.clone());
        if tiers.is_empty() {
            return None;
        }
        let req = self.announce_request(event);
        let r = match tiers.announce(&req, timeout).await {
            Ok((_, resp)) => Some(resp.interval),
            Err(_) => None,
        };
        let mut v2_tiers = TrackerTiers::new(self.meta.announce_tiers.clone());
        self.announce_v2_swarm(&mut v2_tiers, &req).await;
        r
    }

    /// For a hybrid torrent, the same announce under the truncated v2 info-hash; peers it
    /// returns are added like any others. Nothing for v1- or v2-only torrents.
    async fn announce_v2_swarm(&self, tiers: &mut TrackerTiers, req: &AnnounceRequest) {
        let Some(v2) = self
            .meta
            .info_hash_v2_short()
            .filter(|h| *h != self.meta.info_hash)
        else {
            return;
        };
        let mut r2 = req.clone();
        r2.info_hash = v2;
        match tiers.announce(&r2, Duration::from_secs(15)).await {
            Ok((_, resp)) => {
                // Dialled by the tick's connect_more, like PEX and DHT peers.
                if req.event != AnnounceEvent::Stopped {
                    self.add_peers(resp.peers);
                }
            }
            Err(e) => tracing::debug!("v2 swarm announce: {e}"),
        }
    }

    async fn tracker_loop(self: Arc<Self>) {
        let mut tiers = TrackerTiers::new(self.meta.announce_tiers.clone());
        if tiers.is_empty() {
            return;
        }
        let mut event = AnnounceEvent::Started;
        let mut failures = 0u32;
        // A hybrid joins the v2 swarm as well (BEP 52): its own tiers, so that swarm's
        // failures do not move the v1 announce from tracker to tracker.
        let mut v2_tiers = TrackerTiers::new(self.meta.announce_tiers.clone());
        loop {
            let req = self.announce_request(event);
            let result = tiers.announce(&req, Duration::from_secs(15)).await;
            *lock(&self.tracker_status) = tiers.status();
            self.announce_v2_swarm(&mut v2_tiers, &req).await;
            let wait = match result {
                Ok((url, resp)) => {
                    tracing::debug!("{url}: {} peers", resp.peers.len());
                    failures = 0;
                    event = AnnounceEvent::None;
                    self.add_peers(resp.peers);
                    self.connect_more();
                    let interval = resp.interval.max(Duration::from_secs(30));
                    self.opts.tracker_interval.unwrap_or(interval)
                }
                Err(e) => {
                    self.emit(TorrentEvent::TrackerError(e.to_string()));
                    failures += 1;
                    let backoff = Duration::from_secs(15u64 << failures.min(5));
                    self.opts
                        .tracker_interval
                        .map_or(backoff, |i| i.min(backoff))
                }
            };
            tokio::select! {
                _ = tokio::time::sleep(wait) => {}
                _ = self.completed_notify.notified() => {
                    if event == AnnounceEvent::None {
                        event = AnnounceEvent::Completed;
                    }
                }
                _ = self.stopped() => return,
            }
        }
    }
}
