//! One peer connection: handshake, then a reader and a writer running side by side so that a
//! peer that stops reading can never stall what we read from it (and the other way round).

use std::collections::{HashMap, VecDeque};
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use bytes::{BufMut, Bytes, BytesMut};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWriteExt};
use tokio::sync::{Notify, mpsc};

use crate::bencode::{self, Owned};
use crate::engine::bitfield::Bitfield;
use crate::engine::extension::PeerLink;
use crate::engine::ratelimit::{RateLimiter, acquire_all};
use crate::engine::torrent::{Torrent, TorrentHandle, lock};
// Transport (TCP/uTP, MSE): the peer task only sees a stream.
use crate::engine::transport::{Accept, PeerReader, PeerStream, PeerWriter, TransportError};
use crate::engine::wire::{BlockRef, HANDSHAKE_LEN, Handshake, Message, WireError};

const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);
const KEEPALIVE: Duration = Duration::from_secs(90);
/// Blocks served per write batch (1 MiB of 16 KiB blocks): few syscalls, and still small
/// enough to notice Cancels and chokes quickly.
const SERVE_BATCH: usize = 64;
/// Requests a peer may have outstanding with us (our `reqq`). Clients size their pipelines
/// by it: Transmission asks for ten seconds' worth of blocks at its current rate, capped at
/// the peer's `reqq`, and refills about once a second. On loopback 500 held it to ~7.5 MiB/s
/// and 4,096 to ~49 MiB/s, where aria2 (no `reqq`) fed it at ~60; 16,384 gives ~71, and
/// 65,536 no more. A queued request costs us 16 bytes.
pub const REQQ: usize = 16384;
/// More queued requests than this from one peer is a flood (twice what we advertise: a block
/// answered while its cancel is in flight is not a violation).
pub const MAX_QUEUED_UPLOADS: usize = 2 * REQQ;

/// Commands to a peer's writer (from the torrent, under its state lock: never blocking).
#[derive(Debug)]
pub enum PeerCmd {
    Send(Message),
    Requests(Vec<BlockRef>),
    Choke,
    Unchoke,
    Close,
}

/// Per-peer counters the peer task updates without the torrent lock, and the peer's own
/// upload limit (set from the choker's shares).
pub struct PeerCounters {
    pub downloaded: AtomicU64,
    pub uploaded: AtomicU64,
    pub last_recv_ms: AtomicU64,
    pub up_limit: RateLimiter,
    /// The most payload this peer may have been sent in total (`uploaded` never passes it);
    /// `u64::MAX` = no cap. The market's credit window: checked before every block, so a buyer
    /// that stops paying gets at most the window it was granted.
    pub up_allowance: AtomicU64,
}

impl Default for PeerCounters {
    fn default() -> Self {
        PeerCounters {
            downloaded: AtomicU64::new(0),
            uploaded: AtomicU64::new(0),
            last_recv_ms: AtomicU64::new(0),
            up_limit: RateLimiter::unlimited(),
            up_allowance: AtomicU64::new(u64::MAX),
        }
    }
}

impl PeerCounters {
    /// Whether `len` more bytes may be sent under the allowance.
    pub fn may_upload(&self, len: u64) -> bool {
        self.uploaded.load(Ordering::Relaxed).saturating_add(len)
            <= self.up_allowance.load(Ordering::Relaxed)
    }
}

/// What a peer asked us for and we have not sent yet.
#[derive(Default)]
pub struct UploadQueue {
    pub queue: Mutex<VecDeque<BlockRef>>,
    pub notify: Notify,
}

impl UploadQueue {
    pub fn lock(&self) -> MutexGuard<'_, VecDeque<BlockRef>> {
        lock(&self.queue)
    }
}

#[derive(Debug, thiserror::Error)]
pub enum PeerError {
    #[error("{0}")]
    Io(#[from] std::io::Error),
    #[error("{0}")]
    Wire(#[from] WireError),
    #[error("handshake timed out")]
    Timeout,
    #[error("handshake for another torrent")]
    WrongTorrent,
    #[error("protocol violation: {0}")]
    Protocol(String),
    #[error("closed by us")]
    Closed,
    #[error("{0}")]
    Transport(#[from] TransportError),
}

/// Dials `addr` for `torrent` and runs the session until it ends.
pub async fn connect(torrent: Arc<Torrent>, addr: SocketAddr) {
    let ours = torrent.handshake(torrent.info_hash());
    // BEP 52: a v2-capable peer may answer a hybrid's v1 hash with its v2 hash (upgrade).
    let hashes = torrent.meta.swarm_hashes();
    let r = torrent
        .ctx()
        .transport
        .dial_accepting(addr, &ours, Accept::Only(&hashes))
        .await;
    match r {
        Ok((stream, hs)) => {
            if let Err(e) = run(torrent, stream, addr, hs, true).await {
                tracing::debug!("{addr}: {e}");
            }
        }
        Err(e) => {
            tracing::debug!("{addr}: connect: {e}");
            torrent.note_connect_failure(addr);
        }
    }
}

/// Reads the 68-byte handshake.
pub async fn read_handshake<S: AsyncRead + Unpin>(stream: &mut S) -> Result<Handshake, PeerError> {
    let mut buf = [0u8; HANDSHAKE_LEN];
    tokio::time::timeout(HANDSHAKE_TIMEOUT, stream.read_exact(&mut buf))
        .await
        .map_err(|_| PeerError::Timeout)??;
    Ok(Handshake::decode(&buf)?)
}

/// Completes an incoming connection whose handshake was read by the session's listener.
pub async fn accept(
    torrent: Arc<Torrent>,
    mut stream: PeerStream,
    addr: SocketAddr,
    theirs: Handshake,
) {
    // A hybrid answers to both hashes: echo the one the peer asked for (session.rs routed it).
    let ours = torrent.handshake(theirs.info_hash);
    if stream.write_all(&ours.encode()).await.is_err() || stream.flush().await.is_err() {
        return;
    }
    if let Err(e) = run(torrent, stream, addr, theirs, false).await {
        tracing::debug!("{addr}: {e}");
    }
}

async fn run(
    torrent: Arc<Torrent>,
    stream: PeerStream,
    addr: SocketAddr,
    theirs: Handshake,
    outgoing: bool,
) -> Result<(), PeerError> {
    let fast = theirs.supports_fast();
    let Some((key, rx, uploads, counters)) =
        torrent.register_peer(addr, theirs.peer_id, fast, outgoing, stream.info())
    else {
        return Ok(());
    };
    tracing::debug!("{addr}: connected ({})", theirs.peer_id.client_name());
    counters
        .last_recv_ms
        .store(torrent.now_ms(), Ordering::Relaxed);
    let (rd, wr) = stream.into_split();

    let link = PeerLink::new(torrent.handle(), key, addr, theirs.peer_id);
    let mut first = Vec::new();
    if theirs.supports_extended() {
        first.push(extended_handshake(&torrent, link.torrent(), addr));
    }
    if let Some(m) = torrent.initial_have(fast) {
        first.push(m);
    }
    // BEP 52 (torrent/v2.rs): piece layers a magnet's info dict lacked. Asked of every peer
    // of a v2-only torrent, which is in the v2 swarm: libtorrent does not set the v2 bit.
    first.extend(torrent.layer_requests());
    let writer = write_loop(&torrent, key, wr, rx, &uploads, &counters, first, fast);
    let reader = read_loop(&torrent, &link, rd, &uploads, &counters, fast);
    let result = tokio::select! {
        r = writer => r,
        r = reader => r,
        _ = torrent.stopped() => Ok(()),
    };
    torrent.unregister_peer(key);
    match result {
        Err(PeerError::Closed) => Ok(()),
        other => other,
    }
}

fn extended_handshake(torrent: &Torrent, handle: &TorrentHandle, addr: SocketAddr) -> Message {
    let exts = torrent.extensions();
    let mut m = Owned::dict();
    for (i, e) in exts.iter().enumerate() {
        m.insert(e.name(), i + 1);
    }
    let mut d = Owned::dict()
        .with("m", m)
        .with("v", format!("bidtorrent {}", env!("CARGO_PKG_VERSION")))
        .with("reqq", REQQ)
        .with(
            "p",
            torrent.ctx().listen_port.load(Ordering::Relaxed) as u16,
        );
    match addr.ip() {
        std::net::IpAddr::V4(ip) => d.insert("yourip", ip.octets().to_vec()),
        std::net::IpAddr::V6(ip) => d.insert("yourip", ip.octets().to_vec()),
    }
    for e in &exts {
        e.handshake_fields(handle, &mut d);
    }
    Message::Extended {
        id: 0,
        payload: Bytes::from(d.encode()),
    }
}

#[allow(clippy::too_many_arguments)]
async fn write_loop(
    torrent: &Arc<Torrent>,
    key: usize,
    mut wr: PeerWriter,
    mut rx: mpsc::UnboundedReceiver<PeerCmd>,
    uploads: &UploadQueue,
    counters: &PeerCounters,
    first: Vec<Message>,
    fast: bool,
) -> Result<(), PeerError> {
    let mut buf = BytesMut::with_capacity(256 * 1024);
    for m in first {
        m.encode(&mut buf);
    }
    loop {
        if !buf.is_empty() {
            wr.write_all(&buf).await?;
            wr.flush().await?;
            buf.clear();
        }
        // Blocks held back by the credit allowance do not count as pending: the writer sleeps
        // until a command, a new request or a raised allowance wakes it.
        let pending_uploads = uploads
            .lock()
            .front()
            .is_some_and(|b| counters.may_upload(u64::from(b.length)));
        if !pending_uploads {
            tokio::select! {
                cmd = rx.recv() => match cmd {
                    Some(c) => apply(c, &mut buf, uploads, fast)?,
                    None => return Ok(()),
                },
                _ = uploads.notify.notified() => {}
                _ = tokio::time::sleep(KEEPALIVE) => Message::KeepAlive.encode(&mut buf),
            }
        }
        while let Ok(c) = rx.try_recv() {
            apply(c, &mut buf, uploads, fast)?;
        }
        // Serve a batch of requested blocks.
        for _ in 0..SERVE_BATCH {
            let Some(b) = uploads.lock().pop_front() else {
                break;
            };
            if torrent.am_choking(key) {
                uploads.lock().clear();
                break;
            }
            if !counters.may_upload(u64::from(b.length)) {
                uploads.lock().push_front(b);
                break;
            }
            acquire_all(
                &[
                    &torrent.ctx().global_up,
                    &torrent.up_limit,
                    &counters.up_limit,
                ],
                u64::from(b.length),
            )
            .await;
            // Read straight into the outgoing buffer behind the message header: no copies
            // beyond the one from the page cache.
            let len = b.length as usize;
            buf.reserve(13 + len);
            buf.put_u32(9 + b.length);
            buf.put_u8(7);
            buf.put_u32(b.index);
            buf.put_u32(b.begin);
            let at = buf.len();
            buf.resize(at + len, 0);
            if let Err(e) =
                torrent
                    .storage
                    .read(b.index as usize, u64::from(b.begin), &mut buf[at..])
            {
                tracing::warn!("reading piece {} for upload: {e}", b.index);
                return Err(PeerError::Closed);
            }
            counters
                .uploaded
                .fetch_add(u64::from(b.length), Ordering::Relaxed);
            torrent.add_uploaded(u64::from(b.length));
        }
    }
}

fn apply(
    c: PeerCmd,
    buf: &mut BytesMut,
    uploads: &UploadQueue,
    fast: bool,
) -> Result<(), PeerError> {
    match c {
        PeerCmd::Send(m) => m.encode(buf),
        PeerCmd::Requests(v) => {
            for b in v {
                Message::Request(b).encode(buf);
            }
        }
        PeerCmd::Unchoke => Message::Unchoke.encode(buf),
        PeerCmd::Choke => {
            Message::Choke.encode(buf);
            // BEP 6: with the fast extension, pending requests are rejected explicitly.
            let dropped: Vec<BlockRef> = uploads.lock().drain(..).collect();
            if fast {
                for b in dropped {
                    Message::Reject(b).encode(buf);
                }
            }
        }
        PeerCmd::Close => return Err(PeerError::Closed),
    }
    Ok(())
}

async fn read_loop(
    torrent: &Arc<Torrent>,
    link: &PeerLink,
    mut rd: PeerReader,
    uploads: &UploadQueue,
    counters: &PeerCounters,
    fast: bool,
) -> Result<(), PeerError> {
    let key = link.key();
    let mut buf = BytesMut::with_capacity(64 * 1024);
    let n = torrent.meta.num_pieces();
    loop {
        let msg = loop {
            if let Some(m) = Message::decode(&mut buf)? {
                break m;
            }
            if buf.capacity() - buf.len() < 16 * 1024 {
                buf.reserve(64 * 1024);
            }
            let got = rd.read_buf(&mut buf).await?;
            if got == 0 {
                return Err(PeerError::Io(std::io::ErrorKind::UnexpectedEof.into()));
            }
            counters
                .last_recv_ms
                .store(torrent.now_ms(), Ordering::Relaxed);
        };
        match msg {
            Message::KeepAlive => {}
            Message::Choke => torrent.on_choke(key, true),
            Message::Unchoke => torrent.on_choke(key, false),
            Message::Interested => torrent.on_interested(key, true),
            Message::NotInterested => torrent.on_interested(key, false),
            Message::Have(i) => {
                if i as usize >= n {
                    return Err(PeerError::Protocol(format!("have {i} of {n} pieces")));
                }
                torrent.on_have(key, i);
            }
            Message::Bitfield(b) => {
                // BEP 3 wants it first, but aria2 sends it after other messages; libtorrent
                // and Transmission accept it late too, so it simply replaces the piece set.
                let bits = Bitfield::from_bytes(&b, n).ok_or_else(|| {
                    PeerError::Protocol(format!("bitfield of {} bytes for {n} pieces", b.len()))
                })?;
                torrent.on_bitfield(key, bits);
            }
            Message::HaveAll | Message::HaveNone if !fast => {
                return Err(PeerError::Protocol(
                    "fast message without fast extension".into(),
                ));
            }
            Message::HaveAll => torrent.on_bitfield(key, Bitfield::full(n)),
            Message::HaveNone => torrent.on_bitfield(key, Bitfield::new(n)),
            Message::Request(b) => {
                let have = torrent.check_request(&b).map_err(PeerError::Protocol)?;
                if !have || torrent.am_choking(key) {
                    if fast {
                        let _ = torrent.send_to(key, Message::Reject(b));
                    }
                    continue;
                }
                let mut q = uploads.lock();
                if q.len() >= MAX_QUEUED_UPLOADS {
                    return Err(PeerError::Protocol(format!(
                        "more than {MAX_QUEUED_UPLOADS} queued requests"
                    )));
                }
                q.push_back(b);
                drop(q);
                uploads.notify.notify_one();
            }
            Message::Cancel(b) => {
                uploads.lock().retain(|q| *q != b);
            }
            Message::Piece { index, begin, data } => {
                acquire_all(
                    &[&torrent.ctx().global_down, &torrent.down_limit],
                    data.len() as u64,
                )
                .await;
                counters
                    .downloaded
                    .fetch_add(data.len() as u64, Ordering::Relaxed);
                torrent.add_downloaded(data.len() as u64);
                if let Some(piece) = torrent.on_block(key, index, begin, &data) {
                    let mut piece = Unverified {
                        torrent: torrent.clone(),
                        piece: Some(piece),
                    };
                    // Waiting for a verification slot stops this reader, and TCP then slows
                    // the peer: completed pieces never pile up in memory faster than they are
                    // hashed and written. The wait may be cancelled (the connection closes);
                    // `Unverified` then hands the piece back to the picker.
                    let Some(slot) = torrent.verify_slot().await else {
                        return Err(PeerError::Closed);
                    };
                    if let Some(p) = piece.piece.take() {
                        let t = torrent.clone();
                        tokio::spawn(async move {
                            t.verify_and_store(p).await;
                            drop(slot);
                        });
                    }
                }
            }
            Message::Reject(b) => {
                if !fast {
                    return Err(PeerError::Protocol("reject without fast extension".into()));
                }
                torrent.on_reject(key, &b);
            }
            Message::AllowedFast(i) => torrent.on_allowed_fast(key, i),
            Message::Suggest(_) | Message::Port(_) => {}
            Message::Extended { id: 0, payload } => on_extended_handshake(torrent, link, &payload)?,
            Message::Extended { id, payload } => {
                // Ids we never assigned are ignored, as BEP 10 asks.
                if let Some(ext) = torrent.extension(id) {
                    ext.on_message(link, &payload)
                        .map_err(|e| PeerError::Protocol(format!("{}: {e}", ext.name())))?;
                }
            }
            // BEP 52 (torrent/v2.rs): we answer hash requests, and take the piece layers we
            // asked for once they prove themselves; a peer sending false proofs is dropped.
            Message::HashRequest(r) => {
                let _ = torrent.send_to(key, torrent.answer_hash_request(&r));
            }
            Message::Hashes { req, hashes } => {
                if let Err(e) = torrent.on_hashes(&req, &hashes) {
                    tracing::info!("dropping {}: {e}", link.addr());
                    return Err(PeerError::Protocol(e));
                }
            }
            Message::HashReject(_) => {}
        }
    }
}

/// A completed piece not yet handed to verification. Dropped with the piece still inside (the
/// reader was cancelled while waiting for a slot), it returns the piece to the picker, which
/// would otherwise keep it "pending" forever and never fetch it again.
struct Unverified {
    torrent: Arc<Torrent>,
    piece: Option<crate::engine::picker::CompletedPiece>,
}

impl Drop for Unverified {
    fn drop(&mut self) {
        if let Some(p) = self.piece.take() {
            self.torrent.return_unverified(p.index);
        }
    }
}

/// Real extended handshakes are a few hundred bytes. A bigger one is a peer making us parse
/// (and keep) what it likes, so it is a protocol violation rather than something to decode.
pub const MAX_EXTENDED_HANDSHAKE: usize = 64 * 1024;

/// What a peer's BEP 10 extended handshake says, as far as the engine reads it.
#[derive(Debug)]
pub struct ExtendedHandshake<'a> {
    /// The whole dictionary, for the extensions' own keys.
    pub dict: bencode::Dict<'a>,
    /// Extension name → the id the peer wants its messages sent with (0 and non-u8 dropped).
    pub ids: HashMap<String, u8>,
    /// `v`, at most 64 characters.
    pub client: Option<String>,
    pub reqq: Option<usize>,
    pub port: Option<u16>,
}

/// Parses an extended handshake (message id 0). Public so the fuzz target reaches it.
pub fn parse_extended_handshake(payload: &[u8]) -> Result<ExtendedHandshake<'_>, PeerError> {
    if payload.len() > MAX_EXTENDED_HANDSHAKE {
        return Err(PeerError::Protocol(format!(
            "extended handshake of {} bytes",
            payload.len()
        )));
    }
    // A peer that cannot encode its handshake (or nests it past the decoder's depth limit) is
    // broken or hostile: drop it rather than keep a connection we understand nothing of.
    let v = bencode::decode(payload)
        .map_err(|e| PeerError::Protocol(format!("extended handshake: {e}")))?;
    let bencode::Value::Dict(d) = v else {
        return Err(PeerError::Protocol(
            "extended handshake is not a dictionary".into(),
        ));
    };
    let mut ids = HashMap::new();
    if let Some(m) = d.get_dict("m") {
        for (name, id) in m.iter() {
            if let (Ok(name), Some(id)) = (std::str::from_utf8(name), id.as_int())
                && let Ok(id) = u8::try_from(id)
                && id != 0
            {
                ids.insert(name.to_string(), id);
            }
        }
    }
    Ok(ExtendedHandshake {
        client: d.get_str("v").map(|s| s.chars().take(64).collect()),
        reqq: d.get_int("reqq").and_then(|q| usize::try_from(q).ok()),
        port: d.get_int("p").and_then(|p| u16::try_from(p).ok()),
        ids,
        dict: d,
    })
}

fn on_extended_handshake(
    torrent: &Torrent,
    link: &PeerLink,
    payload: &[u8],
) -> Result<(), PeerError> {
    let hs = parse_extended_handshake(payload)?;
    let names: Vec<String> = hs.ids.keys().cloned().collect();
    torrent.on_extended_handshake(link.key(), hs.ids, hs.client, hs.reqq, hs.port);
    for ext in torrent.extensions() {
        let supported = names.iter().any(|n| n == ext.name());
        ext.on_handshake(link, &hs.dict, supported);
    }
    Ok(())
}
