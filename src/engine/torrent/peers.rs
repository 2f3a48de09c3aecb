//! Peers of one torrent: admitting and dropping them, the messages they send (called by the
//! peer tasks), interest and request pipelining, dialling more, and the per-peer controls the
//! market uses (choke now, upload allowance, transfer counters).

use std::collections::{HashMap, HashSet};
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use bytes::Bytes;
use tokio::sync::mpsc;

use crate::engine::bitfield::Bitfield;
use crate::engine::extension::PeerLink;
use crate::engine::peer::{PeerCmd, PeerCounters, UploadQueue};
use crate::engine::transport::ConnInfo;
use crate::engine::types::PeerId;
use crate::engine::wire::{BlockRef, Message};

use super::{Phase, State, Torrent};

/// One connected peer, as the torrent keeps it under the state lock.
pub(super) struct PeerEntry {
    pub(super) addr: SocketAddr,
    pub(super) peer_id: PeerId,
    pub(super) outgoing: bool,
    /// Encrypted and/or uTP, for the peer flags.
    pub(super) transport: ConnInfo,
    pub(super) bits: Bitfield,
    pub(super) am_choking: bool,
    pub(super) am_interested: bool,
    pub(super) peer_choking: bool,
    pub(super) peer_interested: bool,
    pub(super) fast: bool,
    pub(super) ext_ids: HashMap<String, u8>,
    pub(super) client: String,
    /// The port the peer listens on: the dialled one, or the `p` of its extended handshake.
    pub(super) listen_port: Option<u16>,
    pub(super) reqq: usize,
    pub(super) inflight: usize,
    pub(super) allowed_fast: Vec<u32>,
    pub(super) tx: mpsc::UnboundedSender<PeerCmd>,
    pub(super) uploads: Arc<UploadQueue>,
    pub(super) counters: Arc<PeerCounters>,
    pub(super) connected_at: Instant,
    /// When this peer and we were first both seeds (the connection is then only kept for an
    /// extension's unfinished business, see `close_finished_seeds`).
    pub(super) both_seeds_since: Option<Instant>,
    pub(super) down_rate: f64,
    pub(super) up_rate: f64,
    pub(super) last_down: u64,
    pub(super) last_up: u64,
}

impl PeerEntry {
    pub(super) fn is_seed(&self) -> bool {
        self.bits.all()
    }
}

/// Two connections to one peer opened within this of each other, before either carried
/// payload, are a simultaneous open, settled by peer id; a later duplicate is refused.
const SIMULTANEOUS_OPEN_WINDOW: Duration = Duration::from_secs(2);

/// An address we may dial, with its dialling history.
#[derive(Default)]
pub(super) struct KnownPeer {
    failures: u32,
    last_attempt: Option<Instant>,
    /// It had every piece when last seen: not worth dialling while we seed too.
    pub(super) seed: bool,
}

impl KnownPeer {
    /// Forgets the backoff: the next `connect_more` dials it at once.
    pub(super) fn retry_now(&mut self) {
        self.last_attempt = None;
    }
}

impl Torrent {
    /// Admits a peer after the handshake; `None` when it must be dropped (banned, duplicate,
    /// ourselves, too many peers, stopped).
    #[allow(clippy::type_complexity)]
    pub(crate) fn register_peer(
        &self,
        addr: SocketAddr,
        peer_id: PeerId,
        fast: bool,
        outgoing: bool,
        transport: ConnInfo,
    ) -> Option<(
        usize,
        mpsc::UnboundedReceiver<PeerCmd>,
        Arc<UploadQueue>,
        Arc<PeerCounters>,
    )> {
        if self.is_stopped() || peer_id == self.ctx.peer_id {
            return None;
        }
        if self.ctx.connections.load(Ordering::Relaxed)
            >= self.ctx.max_connections.load(Ordering::Relaxed)
        {
            tracing::debug!("{addr}: refused, the session is at its connection cap");
            return None;
        }
        let mut st = self.state();
        if st.banned.contains(&addr.ip())
            || st.peers.len() >= self.opts.max_peers
            || st.phase == Phase::Paused
        {
            return None;
        }
        // Both ends dialled each other (each learnt the other from the tracker): keep one
        // connection, and the same one on both ends, or each side may drop the connection the
        // other kept and the pair sits idle until a re-dial. The rule is libtorrent's: the
        // connection opened by the greater peer id survives. A connection that has carried
        // payload or been up for a while is kept whatever its direction: closing a working
        // connection for a late duplicate cost seconds against qBittorrent and aria2, which
        // also dial the peers their tracker names (and may hold market state).
        let ours_wins = self.ctx.peer_id.0 > peer_id.0;
        let mut evict = Vec::new();
        for (&k, p) in &st.peers {
            if p.peer_id != peer_id {
                continue;
            }
            let settled = p.connected_at.elapsed() >= SIMULTANEOUS_OPEN_WINDOW
                || p.counters.downloaded.load(Ordering::Relaxed) > 0
                || p.counters.uploaded.load(Ordering::Relaxed) > 0;
            if p.outgoing == outgoing || outgoing != ours_wins || settled {
                return None;
            }
            evict.push(k);
        }
        for k in evict {
            if let Some(p) = st.peers.get(&k) {
                tracing::debug!("{}: duplicate connection of {addr}, closed", p.addr);
                let _ = p.tx.send(PeerCmd::Close);
            }
        }
        let key = st.next_key;
        st.next_key += 1;
        let (tx, rx) = mpsc::unbounded_channel();
        let uploads = Arc::new(UploadQueue::default());
        let counters = Arc::new(PeerCounters::default());
        let n = self.meta.num_pieces();
        st.peers.insert(
            key,
            PeerEntry {
                addr,
                peer_id,
                outgoing,
                transport,
                bits: Bitfield::new(n),
                am_choking: true,
                am_interested: false,
                peer_choking: true,
                peer_interested: false,
                fast,
                ext_ids: HashMap::new(),
                client: peer_id.client_name(),
                listen_port: outgoing.then_some(addr.port()),
                reqq: 250,
                inflight: 0,
                allowed_fast: Vec::new(),
                tx,
                uploads: uploads.clone(),
                counters: counters.clone(),
                connected_at: Instant::now(),
                both_seeds_since: None,
                down_rate: 0.0,
                up_rate: 0.0,
                last_down: 0,
                last_up: 0,
            },
        );
        if outgoing {
            // It answered: past failures (it was down, restarting) no longer stretch the
            // backoff of the next re-dial.
            if let Some(k) = st.known.get_mut(&addr) {
                k.failures = 0;
            }
        } else {
            // Remember incoming peers by their address so a re-dial is possible after a drop.
            st.known.entry(addr).or_default();
        }
        self.ctx.connections.fetch_add(1, Ordering::Relaxed);
        Some((key, rx, uploads, counters))
    }

    pub(crate) fn unregister_peer(self: &Arc<Self>, key: usize) {
        let link = {
            let mut st = self.state();
            let Some(p) = st.peers.remove(&key) else {
                return;
            };
            self.ctx.connections.fetch_sub(1, Ordering::Relaxed);
            st.picker.peer_removed(key, &p.bits);
            if let Some(k) = st.known.get_mut(&p.addr) {
                k.last_attempt = Some(Instant::now());
            }
            PeerLink::new(self.handle(), key, p.addr, p.peer_id)
        };
        for ext in self.extensions() {
            ext.on_disconnect(&link);
        }
    }

    pub(crate) fn note_connect_failure(&self, addr: SocketAddr) {
        let mut st = self.state();
        let k = st.known.entry(addr).or_default();
        k.failures += 1;
        k.last_attempt = Some(Instant::now());
    }

    pub fn add_peers(&self, addrs: impl IntoIterator<Item = SocketAddr>) {
        let mut st = self.state();
        for a in addrs {
            if a.port() != 0 {
                st.known.entry(a).or_default();
            }
        }
    }

    /// Messages every new connection starts with: our pieces.
    pub(crate) fn initial_have(&self, fast: bool) -> Option<Message> {
        let st = self.state();
        let have = st.picker.have();
        if fast && have.all() {
            Some(Message::HaveAll)
        } else if fast && have.none() {
            Some(Message::HaveNone)
        } else if have.none() {
            None
        } else {
            Some(Message::Bitfield(Bytes::copy_from_slice(have.as_bytes())))
        }
    }

    // Messages from a peer (called by the peer task).

    /// Applies the peer's piece set (bitfield / HaveAll / HaveNone). Returns false if invalid.
    pub(crate) fn on_bitfield(&self, key: usize, bits: Bitfield) {
        let mut st = self.state();
        let st = &mut *st;
        let Some(p) = st.peers.get_mut(&key) else {
            return;
        };
        st.picker.peer_removed(usize::MAX, &p.bits);
        st.picker.peer_added(&bits);
        p.bits = bits;
        Self::update_interest(st, key);
        self.fill(st, key);
    }

    pub(crate) fn on_have(&self, key: usize, index: u32) {
        let mut st = self.state();
        let st = &mut *st;
        let Some(p) = st.peers.get_mut(&key) else {
            return;
        };
        if p.bits.set(index as usize) {
            st.picker.peer_has(index);
        }
        Self::update_interest(st, key);
        self.fill(st, key);
    }

    pub(crate) fn on_choke(&self, key: usize, choked: bool) {
        let mut st = self.state();
        let st = &mut *st;
        let Some(p) = st.peers.get_mut(&key) else {
            return;
        };
        p.peer_choking = choked;
        if choked {
            // Requests die with a choke (BEP 3); with the fast extension the peer also sends
            // Rejects, which find nothing left to release.
            p.inflight = 0;
            st.picker.release_peer(key);
        } else {
            self.fill(st, key);
        }
    }

    pub(crate) fn on_interested(&self, key: usize, interested: bool) {
        let mut st = self.state();
        let st = &mut *st;
        let Some(p) = st.peers.get_mut(&key) else {
            return;
        };
        p.peer_interested = interested;
        if interested && p.am_choking {
            // Unchoke at once while a regular slot is free instead of waiting up to 10 s.
            let slots = st.choker.slots();
            let unchoked = st.peers.values().filter(|p| !p.am_choking).count();
            if unchoked < slots
                && let Some(p) = st.peers.get_mut(&key)
            {
                p.am_choking = false;
                let _ = p.tx.send(PeerCmd::Unchoke);
            }
        }
    }

    pub(crate) fn on_allowed_fast(&self, key: usize, index: u32) {
        let mut st = self.state();
        let st = &mut *st;
        if let Some(p) = st.peers.get_mut(&key)
            && (index as usize) < p.bits.len()
            && !p.allowed_fast.contains(&index)
            && p.allowed_fast.len() < 64
        {
            p.allowed_fast.push(index);
            self.fill(st, key);
        }
    }

    pub(crate) fn on_reject(&self, key: usize, b: &BlockRef) {
        let mut st = self.state();
        let st = &mut *st;
        st.picker.release_block(key, b);
        if let Some(p) = st.peers.get_mut(&key) {
            p.inflight = p.inflight.saturating_sub(1);
        }
        self.fill(st, key);
    }

    pub(crate) fn on_extended_handshake(
        &self,
        key: usize,
        ids: HashMap<String, u8>,
        client: Option<String>,
        reqq: Option<usize>,
        listen_port: Option<u16>,
    ) {
        let mut st = self.state();
        let st = &mut *st;
        if let Some(p) = st.peers.get_mut(&key) {
            p.ext_ids = ids;
            if let Some(c) = client {
                p.client = c;
            }
            if let Some(q) = reqq {
                p.reqq = q.clamp(1, 2000);
            }
            if let Some(port) = listen_port
                && !p.outgoing
                && port != 0
            {
                p.listen_port = Some(port);
                let a = SocketAddr::new(p.addr.ip(), port);
                st.known.entry(a).or_default();
                if p.transport.utp {
                    // It reached us over uTP: its listener takes uTP too.
                    self.ctx.transport.hint_utp(a);
                }
            }
        }
    }

    /// Validates a request from a peer: `Err` means the peer broke the protocol.
    pub(crate) fn check_request(&self, b: &BlockRef) -> Result<bool, String> {
        let n = self.meta.num_pieces() as u32;
        if b.index >= n {
            return Err(format!("request for piece {} of {n}", b.index));
        }
        let size = self.meta.info.piece_size(b.index as usize);
        let end = u64::from(b.begin) + u64::from(b.length);
        if b.length == 0 || b.length > crate::engine::wire::MAX_REQUEST || end > size {
            return Err(format!(
                "request out of range: piece {} begin {} length {} (piece is {size} bytes)",
                b.index, b.begin, b.length
            ));
        }
        let st = self.state();
        Ok(st.picker.have().get(b.index as usize))
    }

    pub(crate) fn am_choking(&self, key: usize) -> bool {
        self.state().peers.get(&key).is_none_or(|p| p.am_choking)
    }

    pub(super) fn update_interest(st: &mut State, key: usize) {
        let Some(p) = st.peers.get(&key) else { return };
        let want = st.picker.interesting(&p.bits);
        if let Some(p) = st.peers.get_mut(&key)
            && want != p.am_interested
        {
            p.am_interested = want;
            let m = if want {
                Message::Interested
            } else {
                Message::NotInterested
            };
            let _ = p.tx.send(PeerCmd::Send(m));
        }
    }

    /// Tops up the peer's request pipeline. Depth follows its rate: about one second of data
    /// in flight, at least 16 blocks, never past the peer's `reqq`.
    pub(super) fn fill(&self, st: &mut State, key: usize) {
        let Some(p) = st.peers.get(&key) else { return };
        if !p.am_interested || st.phase != Phase::Downloading {
            return;
        }
        let depth = ((p.down_rate / f64::from(crate::engine::wire::BLOCK)) as usize + 16)
            .clamp(16, p.reqq.min(500));
        if p.inflight >= depth {
            return;
        }
        let want = depth - p.inflight;
        // Refill in batches, not one request per block received: each refill is a message
        // to the writer, a wake-up and a write(2) on both ends (issue 19). A quarter of the
        // pipeline keeps it deep enough while the batch goes out.
        if p.inflight > 0 && want < (depth / 4).min(32) {
            return;
        }
        let mut out = Vec::new();
        if p.peer_choking {
            if p.allowed_fast.is_empty() {
                return;
            }
            let mut allowed = Bitfield::new(p.bits.len());
            for &i in &p.allowed_fast {
                if p.bits.get(i as usize) {
                    allowed.set(i as usize);
                }
            }
            st.picker
                .pick(key, &allowed, want, Instant::now(), &mut out);
        } else {
            st.picker.pick(key, &p.bits, want, Instant::now(), &mut out);
        }
        if out.is_empty() {
            return;
        }
        if let Some(p) = st.peers.get_mut(&key) {
            p.inflight += out.len();
            let _ = p.tx.send(PeerCmd::Requests(out));
        }
    }

    pub(super) fn connect_more(self: &Arc<Self>) {
        let candidates: Vec<SocketAddr> = {
            let mut st = self.state();
            let st = &mut *st;
            if st.phase == Phase::Paused || st.phase == Phase::Error {
                return;
            }
            // A peer that dialled us is connected at its listening address too (told in its
            // extension handshake): dialling it there would only open a duplicate.
            let connected: HashSet<SocketAddr> = st
                .peers
                .values()
                .flat_map(|p| {
                    let listen = p.listen_port.map(|port| SocketAddr::new(p.addr.ip(), port));
                    std::iter::once(p.addr).chain(listen)
                })
                .collect();
            let global_room = self
                .ctx
                .max_connections
                .load(Ordering::Relaxed)
                .saturating_sub(self.ctx.connections.load(Ordering::Relaxed));
            let room = self
                .opts
                .max_peers
                .saturating_sub(st.peers.len())
                .min(global_room);
            let now = Instant::now();
            let mut out = Vec::new();
            for (addr, k) in st.known.iter_mut() {
                if out.len() >= room.min(8) {
                    break;
                }
                if connected.contains(addr)
                    || st.banned.contains(&addr.ip())
                    || (k.seed && st.phase == Phase::Seeding)
                {
                    continue;
                }
                let backoff = Duration::from_secs(5u64 << k.failures.min(6));
                if k.last_attempt
                    .is_some_and(|t| now.duration_since(t) < backoff)
                {
                    continue;
                }
                k.last_attempt = Some(now);
                out.push(*addr);
            }
            out
        };
        for addr in candidates {
            let t = self.clone();
            tokio::spawn(async move { crate::engine::peer::connect(t, addr).await });
        }
    }

    /// Bytes of payload sent to / received from a connected peer.
    pub fn peer_transfer(&self, key: usize) -> Option<(u64, u64)> {
        self.state().peers.get(&key).map(|p| {
            (
                p.counters.uploaded.load(Ordering::Relaxed),
                p.counters.downloaded.load(Ordering::Relaxed),
            )
        })
    }

    /// Chokes a peer now (a buyer over its credit window); the choker decides again at the
    /// next rechoke.
    pub fn choke_peer(&self, key: usize) {
        let mut st = self.state();
        if let Some(p) = st.peers.get_mut(&key)
            && !p.am_choking
        {
            p.am_choking = true;
            let _ = p.tx.send(PeerCmd::Choke);
        }
    }

    /// Caps the total payload a peer may be sent (`None`: no cap). Requests past the cap wait
    /// in the peer's queue until the cap rises; the peer stays unchoked meanwhile.
    pub fn set_upload_allowance(&self, key: usize, total: Option<u64>) {
        let st = self.state();
        if let Some(p) = st.peers.get(&key) {
            p.counters
                .up_allowance
                .store(total.unwrap_or(u64::MAX), Ordering::Relaxed);
            // Wake the writer: blocks held back by the old cap may go now.
            p.uploads.notify.notify_one();
        }
    }

    /// Queues `m` for the peer's writer; false when the peer is gone.
    pub(crate) fn send_to(&self, key: usize, m: Message) -> bool {
        self.state()
            .peers
            .get(&key)
            .is_some_and(|p| p.tx.send(PeerCmd::Send(m)).is_ok())
    }

    /// Sends an extension's `payload` under the id the peer gave `name`. False when the peer
    /// did not announce that extension (so plain peers are never sent a message they did not
    /// ask for) or is gone.
    pub(crate) fn send_extended(&self, key: usize, name: &str, payload: Vec<u8>) -> bool {
        let st = self.state();
        let Some(p) = st.peers.get(&key) else {
            return false;
        };
        let Some(&id) = p.ext_ids.get(name) else {
            return false;
        };
        p.tx.send(PeerCmd::Send(Message::Extended {
            id,
            payload: Bytes::from(payload),
        }))
        .is_ok()
    }

    /// Drops the connection to a peer (a hostile or broken one).
    pub(crate) fn close_peer(&self, key: usize) {
        if let Some(p) = self.state().peers.get(&key) {
            let _ = p.tx.send(PeerCmd::Close);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::ratelimit::RateLimiter;
    use crate::engine::storage::Storage;
    use crate::engine::torrent::{SessionCtx, TorrentOptions};
    use std::sync::atomic::{AtomicU64, AtomicUsize};

    fn torrent(dir: &std::path::Path, ours: u8) -> Arc<Torrent> {
        let meta = crate::engine::torrent::handle::one_piece_metainfo();
        let storage = Storage::open(&meta.info, dir).expect("storage");
        let ctx = Arc::new(SessionCtx {
            peer_id: PeerId([ours; 20]),
            connections: AtomicUsize::new(0),
            max_connections: AtomicUsize::new(100),
            listen_port: AtomicU64::new(6881),
            global_down: RateLimiter::new(0),
            global_up: RateLimiter::new(0),
            data_dir: dir.to_path_buf(),
            transport: Arc::default(),
            resume_writers: tokio::sync::Semaphore::new(1),
        });
        let opts = TorrentOptions {
            download_dir: dir.to_path_buf(),
            ..TorrentOptions::default()
        };
        Torrent::new(meta, storage, opts, ctx)
    }

    fn addr(port: u16) -> SocketAddr {
        SocketAddr::from(([127, 0, 0, 1], port))
    }

    /// Simultaneous open: both ends must keep the same connection, the one opened by the greater
    /// peer id, whichever of the two each end registered first.
    #[tokio::test]
    async fn a_duplicate_connection_keeps_the_one_the_greater_peer_id_opened() {
        // (our id, first connection outgoing, second outgoing, second admitted, first
        // closed). Their id is b'm' throughout.
        let cases = [
            // We are the greater id: our dial wins over their incoming connection ...
            (b'z', false, true, true, true),
            // ... and their later dial loses to ours.
            (b'z', true, false, false, false),
            // We are the smaller id: their incoming connection wins, our dial is refused ...
            (b'a', false, true, false, false),
            // ... and in the other order, their incoming connection replaces our dial.
            (b'a', true, false, true, true),
            // Two connections in the same direction: the second is refused.
            (b'a', false, false, false, false),
            (b'z', true, true, false, false),
        ];
        for (ours, first_out, second_out, admitted, closed) in cases {
            let got = duplicate(ours, first_out, second_out, |_, _| {});
            assert_eq!(
                got,
                (admitted, closed),
                "ours {ours}, first outgoing {first_out}, second outgoing {second_out}"
            );
        }

        // A connection up for longer than the window, or that carried payload, is kept even
        // against the winning direction: a late duplicate is refused.
        let aged = duplicate(b'a', true, false, |t, key| {
            if let Some(p) = t.state().peers.get_mut(&key) {
                p.connected_at = Instant::now() - SIMULTANEOUS_OPEN_WINDOW;
            }
        });
        assert_eq!(aged, (false, false));
        let carried = duplicate(b'a', true, false, |t, key| {
            if let Some(p) = t.state().peers.get(&key) {
                p.counters.downloaded.store(16384, Ordering::Relaxed);
            }
        });
        assert_eq!(carried, (false, false));
    }

    /// Registers two connections of one peer (id b'm') in a torrent whose id is `[ours; 20]`:
    /// the first, then (after `settle` ran on it) the second. Returns whether the second was
    /// admitted and whether the first was told to close.
    fn duplicate(
        ours: u8,
        first_outgoing: bool,
        second_outgoing: bool,
        settle: impl FnOnce(&Torrent, usize),
    ) -> (bool, bool) {
        let dir = tempfile::tempdir().expect("tempdir");
        let t = torrent(dir.path(), ours);
        let theirs = PeerId([b'm'; 20]);
        let info = ConnInfo::default();
        let (key, mut first_rx, ..) = t
            .register_peer(addr(40001), theirs, true, first_outgoing, info)
            .expect("first connection admitted");
        settle(&t, key);
        let second = t.register_peer(addr(40002), theirs, true, second_outgoing, info);
        let closed = matches!(first_rx.try_recv(), Ok(PeerCmd::Close));
        (second.is_some(), closed)
    }

    /// A peer that dialled us is not dialled back at the listening port it told us.
    #[tokio::test]
    async fn a_connected_peer_is_not_dialled_at_its_listening_port() {
        let dir = tempfile::tempdir().expect("tempdir");
        let t = torrent(dir.path(), b'a');
        let (key, ..) = t
            .register_peer(
                addr(40001),
                PeerId([b'b'; 20]),
                true,
                false,
                ConnInfo::default(),
            )
            .expect("admitted");
        t.state().peers.get_mut(&key).expect("peer").listen_port = Some(6882);
        t.add_peers([addr(6882), addr(6999)]);
        t.connect_more();
        // Another known peer is dialled: connect_more ran.
        assert!(
            t.state()
                .known
                .get(&addr(6999))
                .expect("known")
                .last_attempt
                .is_some()
        );
        assert!(
            t.state()
                .known
                .get(&addr(6882))
                .expect("known")
                .last_attempt
                .is_none(),
            "the peer was dialled again at its listening port"
        );
    }
}
