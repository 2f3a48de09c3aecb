//! Fetching a magnet link's info dict from the swarm (BEP 9), before a [`Torrent`] exists.
//!
//! Peers come from the magnet's `x.pe`, the caller, its `tr=` trackers and the DHT. Up to
//! [`FetchOptions::max_connections`] are asked at once; each connection fetches the whole info
//! dict on its own and checks its SHA-1 against the info-hash, so a lying peer costs only its
//! own connection. The first verified copy wins.
//!
//! [`Torrent`]: crate::engine::torrent::Torrent

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::{Bytes, BytesMut};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::sync::mpsc;
use tokio::task::JoinSet;

use crate::bencode::{self, Owned};
use crate::engine::dht::DhtService;
use crate::engine::magnet::Magnet;
use crate::engine::metainfo::Metainfo;
use crate::engine::tracker::{AnnounceEvent, AnnounceRequest, TrackerTiers};
use crate::engine::transport::{Accept, Transport, TransportError};
use crate::engine::types::{InfoHash, PeerId};
use crate::engine::ut_metadata::{self, MAX_METADATA_SIZE, MetadataMsg, PIECE};
use crate::engine::wire::{Handshake, Message};

/// Our local id for ut_metadata on fetch connections (there is no other extension on them).
const LOCAL_ID: u8 = 1;
/// A peer that sends nothing useful for this long is given up.
const IDLE_TIMEOUT: Duration = Duration::from_secs(20);
/// A peer is dialled again at most this often (sources repeat themselves).
const REDIAL_AFTER: Duration = Duration::from_secs(15);

#[derive(Debug, Clone)]
pub struct FetchOptions {
    /// Peers to ask in addition to the magnet's `x.pe`.
    pub peers: Vec<SocketAddr>,
    /// Give up after this long (`None`: keep trying until cancelled).
    pub timeout: Option<Duration>,
    pub max_connections: usize,
    /// How often the magnet's trackers are asked for more peers.
    pub tracker_interval: Duration,
    /// How peers are dialled (encryption policy); `None`: the default transport.
    pub transport: Option<Arc<Transport>>,
}

impl Default for FetchOptions {
    fn default() -> Self {
        FetchOptions {
            peers: Vec::new(),
            timeout: None,
            max_connections: 8,
            tracker_interval: Duration::from_secs(30),
            transport: None,
        }
    }
}

/// A verified info dict, and the peers seen while fetching it (worth dialling first).
#[derive(Debug, Clone)]
pub struct Fetched {
    pub meta: Metainfo,
    pub peers: Vec<SocketAddr>,
}

#[derive(Debug, thiserror::Error)]
pub enum MetadataError {
    #[error("metadata for {info_hash} not found within {secs} s ({tried} peers tried{})",
        last.as_ref().map(|e| format!("; last: {e}")).unwrap_or_default())]
    Timeout {
        info_hash: InfoHash,
        secs: u64,
        tried: usize,
        last: Option<String>,
    },
    #[error("no source of peers for {0}: the magnet has no tr= or x.pe and the DHT is off")]
    NoSources(InfoHash),
}

/// Why one peer could not give us the metadata.
#[derive(Debug, thiserror::Error)]
pub enum PeerFetchError {
    #[error("{0}")]
    Io(#[from] std::io::Error),
    #[error("timed out")]
    Timeout,
    #[error("handshake: {0}")]
    Handshake(String),
    #[error("peer does not support the extension protocol")]
    NoExtensions,
    #[error("peer does not offer ut_metadata")]
    NoUtMetadata,
    #[error("peer announced metadata_size {0} (must be 1..={MAX_METADATA_SIZE})")]
    BadSize(i64),
    #[error("peer rejected metadata piece {0}")]
    Rejected(u32),
    #[error("protocol violation: {0}")]
    Protocol(String),
    #[error("metadata does not match the info-hash: {0}")]
    BadMetadata(String),
}

/// Fetches and verifies the info dict of `magnet`. `peer_id` and `listen_port` are ours (sent
/// in the handshakes and tracker announces).
pub async fn fetch_metadata(
    magnet: &Magnet,
    peer_id: PeerId,
    listen_port: u16,
    dht: Option<Arc<DhtService>>,
    opts: FetchOptions,
) -> Result<Fetched, MetadataError> {
    let ih = magnet.info_hash;
    let mut fixed: Vec<SocketAddr> = magnet.peers.clone();
    fixed.extend(opts.peers.iter().copied());
    if fixed.is_empty() && magnet.trackers.is_empty() && dht.is_none() {
        return Err(MetadataError::NoSources(ih));
    }
    let tiers: Vec<Vec<String>> = magnet.trackers.iter().map(|t| vec![t.clone()]).collect();
    let (tx, mut rx) = mpsc::unbounded_channel::<SocketAddr>();
    let mut sources = JoinSet::new();
    // Fixed peers are offered again every little while, so one that was not up yet is retried.
    {
        let tx = tx.clone();
        sources.spawn(async move {
            loop {
                for a in &fixed {
                    if tx.send(*a).is_err() {
                        return;
                    }
                }
                tokio::time::sleep(REDIAL_AFTER).await;
            }
        });
    }
    if !tiers.is_empty() {
        let tx = tx.clone();
        let tiers = tiers.clone();
        let interval = opts.tracker_interval;
        sources.spawn(async move {
            let mut t = TrackerTiers::new(tiers);
            let req = AnnounceRequest {
                info_hash: ih,
                peer_id,
                port: listen_port,
                uploaded: 0,
                downloaded: 0,
                // Unknown until we have the metadata; non-zero so we are not taken for a seed.
                left: 1,
                event: AnnounceEvent::None,
                num_want: 50,
                key: u32::from_be_bytes([
                    peer_id.0[16],
                    peer_id.0[17],
                    peer_id.0[18],
                    peer_id.0[19],
                ]),
            };
            loop {
                let wait = match t.announce(&req, Duration::from_secs(15)).await {
                    Ok((_, resp)) => {
                        for a in resp.peers {
                            if tx.send(a).is_err() {
                                return;
                            }
                        }
                        interval.min(resp.interval.max(Duration::from_secs(1)))
                    }
                    Err(e) => {
                        tracing::debug!("magnet {ih}: {e}");
                        interval
                    }
                };
                tokio::time::sleep(wait).await;
            }
        });
    }
    if let Some(dht) = dht {
        let tx = tx.clone();
        sources.spawn(async move {
            loop {
                let mut found = dht.get_peers(&ih);
                let mut n = 0;
                while let Some(a) = found.recv().await {
                    n += 1;
                    if tx.send(a).is_err() {
                        return;
                    }
                }
                tracing::debug!("magnet {ih}: DHT lookup found {n} peers");
                tokio::time::sleep(Duration::from_secs(if n == 0 { 3 } else { 20 })).await;
            }
        });
    }
    drop(tx);

    let started = Instant::now();
    let deadline = opts.timeout.map(|t| tokio::time::Instant::now() + t);
    let mut seen: Vec<SocketAddr> = Vec::new();
    let mut last_dial: HashMap<SocketAddr, Instant> = HashMap::new();
    let mut queue: Vec<SocketAddr> = Vec::new();
    let mut attempts = JoinSet::new();
    let mut last_error: Option<String> = None;
    let trackers = tiers;
    let transport = opts.transport.clone().unwrap_or_default();
    loop {
        // Dial what is queued, up to the connection limit.
        while attempts.len() < opts.max_connections.max(1) {
            let Some(addr) = queue.pop() else { break };
            last_dial.insert(addr, Instant::now());
            let trackers = trackers.clone();
            let transport = transport.clone();
            attempts.spawn(async move {
                let r = fetch_from_with(&transport, addr, ih, peer_id, listen_port, trackers).await;
                (addr, r)
            });
        }
        let sleep_until =
            deadline.unwrap_or_else(|| tokio::time::Instant::now() + Duration::from_secs(3600));
        tokio::select! {
            a = rx.recv(), if !rx.is_closed() || !rx.is_empty() => {
                if let Some(a) = a {
                    if !seen.contains(&a) {
                        seen.push(a);
                    }
                    let recent = last_dial.get(&a).is_some_and(|t| t.elapsed() < REDIAL_AFTER);
                    if !recent && !queue.contains(&a) {
                        queue.push(a);
                    }
                }
            }
            Some(done) = attempts.join_next(), if !attempts.is_empty() => {
                if let Ok((addr, r)) = done {
                    match r {
                        Ok(meta) => {
                            tracing::info!("magnet {ih}: metadata ({} bytes) from {addr}", meta.info_bytes.len());
                            sources.abort_all();
                            attempts.abort_all();
                            return Ok(Fetched { meta, peers: seen });
                        }
                        Err(e) => {
                            tracing::debug!("magnet {ih}: {addr}: {e}");
                            last_error = Some(format!("{addr}: {e}"));
                        }
                    }
                }
            }
            _ = tokio::time::sleep_until(sleep_until) => {
                if deadline.is_some() {
                    sources.abort_all();
                    attempts.abort_all();
                    return Err(MetadataError::Timeout {
                        info_hash: ih,
                        secs: started.elapsed().as_secs(),
                        tried: last_dial.len(),
                        last: last_error,
                    });
                }
            }
        }
    }
}

/// Fetches the whole info dict from one peer.
pub async fn fetch_from(
    addr: SocketAddr,
    ih: InfoHash,
    peer_id: PeerId,
    listen_port: u16,
    trackers: Vec<Vec<String>>,
) -> Result<Metainfo, PeerFetchError> {
    let transport = Transport::default();
    fetch_from_with(&transport, addr, ih, peer_id, listen_port, trackers).await
}

/// [`fetch_from`] dialling through `transport` (its encryption policy).
pub async fn fetch_from_with(
    transport: &Transport,
    addr: SocketAddr,
    ih: InfoHash,
    peer_id: PeerId,
    listen_port: u16,
    trackers: Vec<Vec<String>>,
) -> Result<Metainfo, PeerFetchError> {
    // BEP 52: the v2 bit, or libtorrent hangs up on a v2-only torrent's truncated hash. A
    // hybrid's peer may answer it with its other hash (the upgrade; libtorrent does, without
    // setting the bit itself): any answer is taken, since the info dict is checked against
    // `ih` all the same and a peer of another torrent costs one refused dict.
    let (mut stream, theirs) = transport
        .dial_accepting(addr, &Handshake::new(ih, peer_id).with_v2(), Accept::Any)
        .await
        .map_err(|e| match e {
            TransportError::Io(e) => PeerFetchError::Io(e),
            TransportError::ConnectTimeout => PeerFetchError::Timeout,
            e => PeerFetchError::Handshake(e.to_string()),
        })?;
    if theirs.info_hash != ih {
        tracing::debug!(
            "{addr}: answered for {} (a hybrid's other hash?)",
            theirs.info_hash
        );
    }
    if !theirs.supports_extended() {
        return Err(PeerFetchError::NoExtensions);
    }
    let mut out = BytesMut::new();
    let hs = Owned::dict()
        .with("m", Owned::dict().with(ut_metadata::NAME, LOCAL_ID))
        .with("v", format!("bidtorrent {}", env!("CARGO_PKG_VERSION")))
        .with("p", listen_port);
    Message::Extended {
        id: 0,
        payload: Bytes::from(hs.encode()),
    }
    .encode(&mut out);
    // BEP 6: with the fast extension on both sides, a piece-set message must come first-ish.
    if theirs.supports_fast() {
        Message::HaveNone.encode(&mut out);
    }
    stream.write_all(&out).await?;
    stream.flush().await?;

    let mut fetch = Assembly::default();
    let mut buf = BytesMut::with_capacity(32 * 1024);
    loop {
        let msg = loop {
            if let Some(m) =
                Message::decode(&mut buf).map_err(|e| PeerFetchError::Protocol(e.to_string()))?
            {
                break m;
            }
            let n = tokio::time::timeout(IDLE_TIMEOUT, stream.read_buf(&mut buf))
                .await
                .map_err(|_| PeerFetchError::Timeout)??;
            if n == 0 {
                return Err(std::io::Error::from(std::io::ErrorKind::UnexpectedEof).into());
            }
        };
        let Message::Extended { id, payload } = msg else {
            continue;
        };
        let mut reply = BytesMut::new();
        if id == 0 {
            let (their_id, size) = parse_handshake(&payload)?;
            // A repeated handshake (allowed by BEP 10) must not make us ask for everything twice.
            let fresh = !fetch.started();
            fetch.start(size)?;
            let wanted = if fresh {
                ut_metadata::num_pieces(size)
            } else {
                0
            };
            for piece in 0..wanted {
                Message::Extended {
                    id: their_id,
                    payload: Bytes::from(
                        MetadataMsg::Request {
                            piece: piece as u32,
                        }
                        .encode(),
                    ),
                }
                .encode(&mut reply);
            }
            fetch.their_id = their_id;
        } else if id == LOCAL_ID {
            match MetadataMsg::parse(&payload)
                .map_err(|e| PeerFetchError::Protocol(e.to_string()))?
            {
                MetadataMsg::Data {
                    piece,
                    total_size,
                    data,
                } => {
                    if fetch.add(piece, total_size, data)?
                        && let Some(bytes) = fetch.take()
                    {
                        return Metainfo::from_info_bytes(&bytes, ih, trackers)
                            .map_err(|e| PeerFetchError::BadMetadata(e.to_string()));
                    }
                }
                MetadataMsg::Reject { piece } => return Err(PeerFetchError::Rejected(piece)),
                // We have nothing to give yet.
                MetadataMsg::Request { piece } if fetch.their_id != 0 => {
                    Message::Extended {
                        id: fetch.their_id,
                        payload: Bytes::from(MetadataMsg::Reject { piece }.encode()),
                    }
                    .encode(&mut reply);
                }
                MetadataMsg::Request { .. } => {}
            }
        }
        if !reply.is_empty() {
            stream.write_all(&reply).await?;
            stream.flush().await?;
        }
    }
}

/// The peer's ut_metadata id and metadata_size from its extended handshake.
pub fn parse_handshake(payload: &[u8]) -> Result<(u8, usize), PeerFetchError> {
    let v = bencode::decode(payload)
        .map_err(|e| PeerFetchError::Protocol(format!("extended handshake: {e}")))?;
    let d = v
        .as_dict()
        .ok_or_else(|| PeerFetchError::Protocol("extended handshake is not a dict".into()))?;
    let id = d
        .get_dict("m")
        .and_then(|m| m.get_int(ut_metadata::NAME))
        .and_then(|i| u8::try_from(i).ok())
        .filter(|i| *i != 0)
        .ok_or(PeerFetchError::NoUtMetadata)?;
    let size = d.get_int("metadata_size").unwrap_or(0);
    match usize::try_from(size) {
        Ok(s) if s > 0 && s <= MAX_METADATA_SIZE => Ok((id, s)),
        _ => Err(PeerFetchError::BadSize(size)),
    }
}

/// Pieces of one info dict as they arrive from one peer. Memory follows the data: the
/// announced `metadata_size` (up to 16 MiB, from a peer we know nothing of) sizes only a
/// table of piece slots, and each 16 KiB piece is stored when it comes. Allocating the whole
/// size up front gave any peer 16 MiB per connection for one handshake (issue 17).
#[derive(Default)]
pub struct Assembly {
    /// 0 until the extended handshake announced it.
    size: usize,
    pieces: Vec<Option<Vec<u8>>>,
    missing: usize,
    their_id: u8,
}

impl Assembly {
    /// Notes the announced size (checked by the caller to be within bounds).
    pub fn start(&mut self, size: usize) -> Result<(), PeerFetchError> {
        if self.size != 0 {
            // A second extended handshake must not change the size under us.
            return if self.size == size {
                Ok(())
            } else {
                Err(PeerFetchError::Protocol(format!(
                    "metadata_size changed from {} to {size}",
                    self.size
                )))
            };
        }
        if size == 0 || size > MAX_METADATA_SIZE {
            return Err(PeerFetchError::BadSize(size as i64));
        }
        self.size = size;
        let n = ut_metadata::num_pieces(size);
        self.pieces = vec![None; n];
        self.missing = n;
        Ok(())
    }

    /// Whether the size is known (the extended handshake came).
    pub fn started(&self) -> bool {
        self.size != 0
    }

    /// Bytes held so far: what the peer actually sent, never what it announced.
    pub fn held(&self) -> usize {
        self.pieces.iter().flatten().map(Vec::len).sum()
    }

    /// Stores one data piece; true once every piece is in. Refuses pieces that contradict the
    /// announced size, fall outside it, or have the wrong length.
    pub fn add(
        &mut self,
        piece: u32,
        total_size: u64,
        data: &[u8],
    ) -> Result<bool, PeerFetchError> {
        if self.size == 0 {
            return Err(PeerFetchError::Protocol(
                "metadata data before the extended handshake".into(),
            ));
        }
        let size = self.size;
        if total_size != size as u64 {
            return Err(PeerFetchError::Protocol(format!(
                "total_size {total_size} differs from metadata_size {size}"
            )));
        }
        let i = piece as usize;
        let Some(slot) = self.pieces.get_mut(i) else {
            return Err(PeerFetchError::Protocol(format!(
                "metadata piece {piece} of {}",
                self.pieces.len()
            )));
        };
        let start = i * PIECE;
        let len = (size - start).min(PIECE);
        if data.len() != len {
            return Err(PeerFetchError::Protocol(format!(
                "metadata piece {piece} has {} bytes, expected {len}",
                data.len()
            )));
        }
        if slot.is_none() {
            *slot = Some(data.to_vec());
            self.missing -= 1;
        }
        Ok(self.missing == 0)
    }

    /// The whole info dict once every piece is in (then the assembly is empty again).
    pub fn take(&mut self) -> Option<Vec<u8>> {
        if self.size == 0 || self.missing != 0 {
            return None;
        }
        let mut out = Vec::with_capacity(self.size);
        for p in std::mem::take(&mut self.pieces).into_iter().flatten() {
            out.extend_from_slice(&p);
        }
        self.size = 0;
        Some(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn assembly_checks_sizes_and_pieces() {
        let mut a = Assembly::default();
        assert!(a.add(0, 10, b"x").is_err(), "data before handshake");
        assert!(matches!(a.start(0), Err(PeerFetchError::BadSize(0))));
        assert!(a.start(MAX_METADATA_SIZE + 1).is_err());
        a.start(PIECE + 10).expect("start");
        assert!(a.start(PIECE + 11).is_err(), "size may not change");
        assert!(
            a.add(0, PIECE as u64 + 11, &[0; PIECE]).is_err(),
            "total_size mismatch"
        );
        assert!(
            a.add(2, PIECE as u64 + 10, &[0; 10]).is_err(),
            "piece out of range"
        );
        assert!(
            a.add(1, PIECE as u64 + 10, &[0; 11]).is_err(),
            "wrong length"
        );
        assert!(!a.add(0, PIECE as u64 + 10, &[1; PIECE]).expect("piece 0"));
        assert!(!a.add(0, PIECE as u64 + 10, &[1; PIECE]).expect("duplicate"));
        assert!(a.add(1, PIECE as u64 + 10, &[2; 10]).expect("piece 1"));
        let bytes = a.take().expect("complete");
        assert_eq!(bytes.len(), PIECE + 10);
        assert_eq!(&bytes[PIECE - 1..PIECE + 1], &[1, 2]);
    }

    /// A peer announcing the largest size gets nothing allocated for it; memory grows only
    /// with the pieces it really sends.
    #[test]
    fn assembly_allocates_as_data_arrives() {
        let mut a = Assembly::default();
        a.start(MAX_METADATA_SIZE).expect("16 MiB announced");
        assert_eq!(a.held(), 0);
        // The table of slots is all that exists: a pointer-sized slot per 16 KiB piece.
        assert!(a.pieces.capacity() * std::mem::size_of::<Option<Vec<u8>>>() <= 64 * 1024);
        a.add(3, MAX_METADATA_SIZE as u64, &[7; PIECE])
            .expect("piece 3");
        assert_eq!(a.held(), PIECE);
        assert!(a.take().is_none(), "incomplete");
    }

    #[test]
    fn handshake_bounds() {
        let hs = |size: i64| {
            Owned::dict()
                .with("m", Owned::dict().with("ut_metadata", 3u8))
                .with("metadata_size", size)
                .encode()
        };
        assert_eq!(parse_handshake(&hs(100)).expect("ok"), (3, 100));
        assert!(matches!(
            parse_handshake(&hs(0)),
            Err(PeerFetchError::BadSize(0))
        ));
        assert!(matches!(
            parse_handshake(&hs(-5)),
            Err(PeerFetchError::BadSize(-5))
        ));
        assert!(parse_handshake(&hs(1 << 40)).is_err());
        assert!(matches!(
            parse_handshake(b"d1:md11:ut_metadatai0eee"),
            Err(PeerFetchError::NoUtMetadata)
        ));
        assert!(parse_handshake(b"garbage").is_err());
    }
}
