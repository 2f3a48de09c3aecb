//! What carries the peer wire protocol: a byte stream that is TCP or uTP (BEP 29), optionally
//! wrapped in MSE/PE's RC4, with the encryption policy deciding how we dial and whom we accept.
//! `peer.rs` and `metadata.rs` speak BEP 3 over a [`PeerStream`] and never see which it is.
//!
//! uTP is ours ([`crate::engine::utp`]), on a UDP socket bound to the TCP listener's address
//! and port. Its congestion control is LEDBAT, so a uTP connection makes way for TCP on a
//! shared bottleneck as BEP 29 intends, which makes it the carrier to try first: see
//! `Transport::connect` for the per-peer choice (PEX's uTP flag, what earlier dials
//! learnt). Rate limits are applied by the peer task to payload, whatever carries it.
//!
//! Dialling, by [`Encryption`] mode:
//!
//! - `prefer`: MSE offering RC4 and plaintext (plaintext payload chosen when we answer and it
//!   is offered: the handshake is hidden, the payload is not re-encrypted); if the encrypted
//!   handshake fails after the connection was made, plaintext on a fresh socket.
//! - `require`: MSE offering RC4 only; no fallback.
//! - `allow`: plaintext first; if that handshake fails, MSE on a fresh socket.
//! - `off`: plaintext only.
//!
//! Accepting: the first 19 bytes tell a plaintext handshake (`\x13BitTorrent protocol`) from
//! an MSE public key (one byte would not: a random key starts with 0x13 once in 256).
//! `require` drops plaintext, `off` drops MSE; `prefer` and `allow` select a plaintext payload
//! when the dialler offers it.

use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::pin::Pin;
use std::sync::{Arc, Mutex, RwLock};
use std::task::{Context, Poll, ready};
use std::time::{Duration, Instant};

use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt, ReadBuf};
use tokio::net::TcpStream;

use crate::engine::mse::{self, CRYPTO_PLAINTEXT, CRYPTO_RC4, Cipher, MseError};
use crate::engine::torrent::lock;
use crate::engine::types::InfoHash;
use crate::engine::utp::{UtpSocket, UtpStream};
use crate::engine::wire::{HANDSHAKE_LEN, Handshake, PROTOCOL, WireError};

const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);
/// How long a uTP dial to a peer we know nothing about runs alone before TCP joins the race.
const UTP_HEAD_START: Duration = Duration::from_secs(1);
/// Peers whose uTP support is remembered at most (a cap, then forgotten all at once).
const MAX_HINTS: usize = 4096;
/// The whole handshake (MSE and BitTorrent) must be done within this.
const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);
/// A plaintext handshake starts with these 20 bytes: the length byte and the protocol name.
const PLAIN_PREFIX_LEN: usize = 20;

/// The protocol-encryption policy (`[network] encryption`, `--encryption`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Encryption {
    #[default]
    Prefer,
    Require,
    Allow,
    Off,
}

impl Encryption {
    pub const NAMES: [&'static str; 4] = ["prefer", "require", "allow", "off"];

    pub fn as_str(&self) -> &'static str {
        match self {
            Encryption::Prefer => "prefer",
            Encryption::Require => "require",
            Encryption::Allow => "allow",
            Encryption::Off => "off",
        }
    }

    /// The MSE methods (`crypto_provide` bits) we accept as the answering side.
    pub fn allowed(&self) -> u32 {
        match self {
            Encryption::Require => CRYPTO_RC4,
            Encryption::Off => 0,
            Encryption::Prefer | Encryption::Allow => CRYPTO_RC4 | CRYPTO_PLAINTEXT,
        }
    }
}

impl std::str::FromStr for Encryption {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "prefer" => Ok(Encryption::Prefer),
            "require" => Ok(Encryption::Require),
            "allow" => Ok(Encryption::Allow),
            "off" => Ok(Encryption::Off),
            other => Err(format!(
                "unknown encryption mode {other:?} (expected one of {})",
                Encryption::NAMES.join(", ")
            )),
        }
    }
}

impl std::fmt::Display for Encryption {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The session's transport settings (`[network]`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct NetOptions {
    pub encryption: Encryption,
    /// Dial and accept over TCP.
    pub tcp: bool,
    /// Dial and accept over uTP (when the session bound its uTP socket).
    pub utp: bool,
    /// Dial peers on this host (loopback addresses) over TCP first, and under `prefer`
    /// plaintext first. uTP's reason to be, LEDBAT yielding on a shared link, does not exist
    /// there, nor does a shaper for MSE to hide from, and both cost CPU (1 GiB between two of
    /// ours: ~900 MiB/s over TCP, ~680 over uTP). Off only in tests that exercise the
    /// internet policy on loopback.
    pub same_host_rules: bool,
}

impl Default for NetOptions {
    fn default() -> Self {
        NetOptions {
            encryption: Encryption::Prefer,
            tcp: true,
            utp: true,
            same_host_rules: true,
        }
    }
}

impl NetOptions {
    /// Whether `addr` gets the same-host rules ([`NetOptions::same_host_rules`]).
    fn same_host(&self, addr: SocketAddr) -> bool {
        self.same_host_rules && addr.ip().is_loopback()
    }
}

/// How a connection is carried, for the peer list's flags.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct ConnInfo {
    /// RC4 was selected in an MSE handshake (flag `E`).
    pub encrypted: bool,
    /// Carried over uTP (flag `P`).
    pub utp: bool,
}

#[derive(Debug, thiserror::Error)]
pub enum TransportError {
    #[error("{0}")]
    Io(#[from] std::io::Error),
    #[error("connect timed out")]
    ConnectTimeout,
    #[error("handshake timed out")]
    Timeout,
    #[error("encryption handshake: {0}")]
    Mse(#[from] MseError),
    #[error("{0}")]
    Wire(#[from] WireError),
    #[error("handshake for another torrent")]
    WrongTorrent,
    #[error("refused: {0}")]
    Refused(&'static str),
    #[error("no transport enabled (tcp = false and uTP unavailable)")]
    NoTransport,
    #[error("uTP: {0}")]
    Utp(String),
}

/// The read half of a peer stream: bytes already received (the MSE initial payload, the
/// listener's sniffed prefix) first, then the socket, decrypted when RC4 is on.
pub struct PeerReader {
    inner: Pin<Box<dyn AsyncRead + Send>>,
    cipher: Option<Cipher>,
    prefix: Vec<u8>,
    pos: usize,
}

/// The write half: with RC4, bytes are encrypted once, as they are accepted, and kept until
/// the socket takes them, so a short write never encrypts anything twice. Callers flush after
/// a batch (as with any buffered writer) to be sure it left.
pub struct PeerWriter {
    inner: Pin<Box<dyn AsyncWrite + Send>>,
    cipher: Option<Cipher>,
    pending: Vec<u8>,
    sent: usize,
}

/// A connected, handshaken-below-BEP-3 stream.
pub struct PeerStream {
    rd: PeerReader,
    wr: PeerWriter,
    info: ConnInfo,
}

impl PeerStream {
    pub(crate) fn tcp(s: TcpStream) -> PeerStream {
        let _ = s.set_nodelay(true);
        let (r, w) = s.into_split();
        PeerStream::from_halves(Box::pin(r), Box::pin(w), ConnInfo::default())
    }

    pub(crate) fn utp(s: UtpStream) -> PeerStream {
        let (r, w) = tokio::io::split(s);
        PeerStream::from_halves(
            Box::pin(r),
            Box::pin(w),
            ConnInfo {
                encrypted: false,
                utp: true,
            },
        )
    }

    fn from_halves(
        r: Pin<Box<dyn AsyncRead + Send>>,
        w: Pin<Box<dyn AsyncWrite + Send>>,
        info: ConnInfo,
    ) -> PeerStream {
        PeerStream {
            rd: PeerReader {
                inner: r,
                cipher: None,
                prefix: Vec::new(),
                pos: 0,
            },
            wr: PeerWriter {
                inner: w,
                cipher: None,
                pending: Vec::new(),
                sent: 0,
            },
            info,
        }
    }

    /// Any in-memory stream (tests, fuzzing).
    pub fn from_io<S>(s: S) -> PeerStream
    where
        S: AsyncRead + AsyncWrite + Send + 'static,
    {
        let (r, w) = tokio::io::split(s);
        PeerStream::from_halves(Box::pin(r), Box::pin(w), ConnInfo::default())
    }

    /// Puts an MSE result in place: its ciphers and the payload it already read.
    fn established(&mut self, est: mse::Established) {
        self.info.encrypted = est.is_rc4();
        self.rd.cipher = est.read;
        self.wr.cipher = est.write;
        self.unread(est.initial);
    }

    /// Bytes to be read before anything else (they were read ahead).
    fn unread(&mut self, mut bytes: Vec<u8>) {
        bytes.extend_from_slice(&self.rd.prefix[self.rd.pos..]);
        self.rd.prefix = bytes;
        self.rd.pos = 0;
    }

    pub fn info(&self) -> ConnInfo {
        self.info
    }

    pub fn into_split(self) -> (PeerReader, PeerWriter) {
        (self.rd, self.wr)
    }
}

impl AsyncRead for PeerReader {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<std::io::Result<()>> {
        let this = self.get_mut();
        if this.pos < this.prefix.len() {
            let n = (this.prefix.len() - this.pos).min(buf.remaining());
            buf.put_slice(&this.prefix[this.pos..this.pos + n]);
            this.pos += n;
            if this.pos == this.prefix.len() {
                this.prefix = Vec::new();
                this.pos = 0;
            }
            return Poll::Ready(Ok(()));
        }
        let before = buf.filled().len();
        ready!(this.inner.as_mut().poll_read(cx, buf))?;
        if let Some(c) = this.cipher.as_mut() {
            c.apply(&mut buf.filled_mut()[before..]);
        }
        Poll::Ready(Ok(()))
    }
}

impl PeerWriter {
    /// Writes out what was encrypted and not yet taken by the socket.
    fn poll_drain(&mut self, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        while self.sent < self.pending.len() {
            let n = ready!(
                self.inner
                    .as_mut()
                    .poll_write(cx, &self.pending[self.sent..])
            )?;
            if n == 0 {
                return Poll::Ready(Err(std::io::ErrorKind::WriteZero.into()));
            }
            self.sent += n;
        }
        self.pending.clear();
        self.sent = 0;
        Poll::Ready(Ok(()))
    }
}

impl AsyncWrite for PeerWriter {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<std::io::Result<usize>> {
        let this = self.get_mut();
        if this.cipher.is_none() {
            return this.inner.as_mut().poll_write(cx, buf);
        }
        ready!(this.poll_drain(cx))?;
        this.pending.extend_from_slice(buf);
        if let Some(c) = this.cipher.as_mut() {
            c.apply(&mut this.pending);
        }
        // Start sending at once; what the socket does not take now goes on the next write or
        // flush. An error here is reported on that next call.
        if let Poll::Ready(Err(e)) = this.poll_drain(cx) {
            return Poll::Ready(Err(e));
        }
        Poll::Ready(Ok(buf.len()))
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        let this = self.get_mut();
        ready!(this.poll_drain(cx))?;
        this.inner.as_mut().poll_flush(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        let this = self.get_mut();
        ready!(this.poll_drain(cx))?;
        this.inner.as_mut().poll_shutdown(cx)
    }
}

impl AsyncRead for PeerStream {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.get_mut().rd).poll_read(cx, buf)
    }
}

impl AsyncWrite for PeerStream {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<std::io::Result<usize>> {
        Pin::new(&mut self.get_mut().wr).poll_write(cx, buf)
    }
    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.get_mut().wr).poll_flush(cx)
    }
    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.get_mut().wr).poll_shutdown(cx)
    }
}

/// Reads the 68-byte BitTorrent handshake.
pub async fn read_handshake<S: AsyncRead + Unpin>(s: &mut S) -> Result<Handshake, TransportError> {
    let mut buf = [0u8; HANDSHAKE_LEN];
    s.read_exact(&mut buf).await?;
    Ok(Handshake::decode(&buf)?)
}

/// The session's transports and encryption policy, shared by every torrent and by magnet
/// fetches.
#[derive(Default)]
pub struct Transport {
    opts: RwLock<NetOptions>,
    /// The uTP socket, once the session bound it.
    utp: RwLock<Option<Arc<UtpSocket>>>,
    /// What we learnt of peers' uTP: true, it takes uTP (a PEX flag, a uTP connection);
    /// false, a uTP dial went unanswered.
    utp_hints: Mutex<HashMap<SocketAddr, bool>>,
    /// Same-host peers whose RC4-only MSE offer we refused under `prefer`, and when; see
    /// [`Transport::accept`].
    rc4_refused: Mutex<HashMap<IpAddr, Instant>>,
}

/// After refusing a same-host peer's RC4-only offer, its RC4 offers are taken for this long: a
/// peer that comes back encrypted requires encryption.
const RC4_REFUSAL_MEMORY: Duration = Duration::from_secs(60);

impl std::fmt::Debug for Transport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Transport")
            .field("opts", &self.options())
            .field("utp", &self.utp_socket().map(|s| s.local_addr()))
            .finish()
    }
}

/// How one attempt reaches the peer.
#[derive(Clone)]
enum Carrier {
    Tcp,
    Utp(Arc<UtpSocket>),
}

/// Which answering info-hashes a dial takes besides its own.
#[derive(Debug, Clone, Copy)]
pub enum Accept<'a> {
    /// Ours, or one of these.
    Only(&'a [InfoHash]),
    /// Any: the caller checks what it gets.
    Any,
}

impl Transport {
    pub fn new(opts: NetOptions) -> Transport {
        Transport {
            opts: RwLock::new(opts),
            utp: RwLock::new(None),
            utp_hints: Mutex::new(HashMap::new()),
            rc4_refused: Mutex::new(HashMap::new()),
        }
    }

    /// Binds the uTP socket on `addr` (the TCP listener's address and port) and returns it
    /// for the session's accept loop.
    pub async fn bind_utp(&self, addr: SocketAddr) -> Result<Arc<UtpSocket>, TransportError> {
        let sock = Arc::new(
            UtpSocket::bind(addr)
                .await
                .map_err(|e| TransportError::Utp(format!("binding {addr}: {e}")))?,
        );
        match self.utp.write() {
            Ok(mut u) => *u = Some(sock.clone()),
            Err(p) => *p.into_inner() = Some(sock.clone()),
        }
        Ok(sock)
    }

    /// Where the uTP socket is bound, if it is.
    pub fn utp_addr(&self) -> Option<SocketAddr> {
        self.utp_socket().map(|s| s.local_addr())
    }

    fn utp_socket(&self) -> Option<Arc<UtpSocket>> {
        match self.utp.read() {
            Ok(u) => u.clone(),
            Err(p) => p.into_inner().clone(),
        }
    }

    /// The uTP socket usable for `addr`: on, bound, and of the same address family.
    fn utp_for(&self, addr: SocketAddr) -> Option<Arc<UtpSocket>> {
        if !self.options().utp {
            return None;
        }
        self.utp_socket()
            .filter(|s| s.local_addr().is_ipv4() == addr.is_ipv4())
    }

    pub fn options(&self) -> NetOptions {
        match self.opts.read() {
            Ok(o) => *o,
            Err(p) => *p.into_inner(),
        }
    }

    pub fn set_options(&self, opts: NetOptions) {
        match self.opts.write() {
            Ok(mut o) => *o = opts,
            Err(p) => *p.into_inner() = opts,
        }
    }

    /// Dials `addr` and exchanges BitTorrent handshakes (`ours` out, theirs back, checked to
    /// be for the same torrent), encrypting per the policy.
    pub async fn dial(
        &self,
        addr: SocketAddr,
        ours: &Handshake,
    ) -> Result<(PeerStream, Handshake), TransportError> {
        self.dial_accepting(addr, ours, Accept::Only(&[])).await
    }

    /// [`Transport::dial`], also taking an answer for another hash: a hybrid torrent's other
    /// info-hash (BEP 52: a v2-capable peer answers the v1 hash with its v2 one), or any hash
    /// where the caller checks what it receives itself (metadata is checked against the
    /// info-hash asked for). The carrier is chosen per peer (`Transport::connect`).
    pub async fn dial_accepting(
        &self,
        addr: SocketAddr,
        ours: &Handshake,
        accept: Accept<'_>,
    ) -> Result<(PeerStream, Handshake), TransportError> {
        let (stream, carrier) = self.connect(addr).await?;
        self.dial_over(addr, ours, carrier, Some(stream), accept)
            .await
    }

    /// Records that `addr` takes uTP (BEP 11's `added.f` 0x04, or it reached us over uTP):
    /// it is dialled over uTP first, with TCP only if that fails.
    pub fn hint_utp(&self, addr: SocketAddr) {
        self.set_hint(addr, true);
    }

    fn set_hint(&self, addr: SocketAddr, utp: bool) {
        let mut h = lock(&self.utp_hints);
        if h.len() >= MAX_HINTS && !h.contains_key(&addr) {
            h.clear();
        }
        h.insert(addr, utp);
    }

    fn hint(&self, addr: SocketAddr) -> Option<bool> {
        lock(&self.utp_hints).get(&addr).copied()
    }

    /// Whether `addr` is known to take uTP.
    pub fn prefers_utp(&self, addr: SocketAddr) -> bool {
        self.hint(addr) == Some(true)
    }

    /// Reaches `addr` over a carrier, per peer:
    ///
    /// - known to take uTP: uTP, then TCP if uTP fails;
    /// - known not to answer uTP: TCP, then uTP if TCP fails;
    /// - unknown: uTP first (LEDBAT makes it the polite choice, as BEP 29 intends), with TCP
    ///   joining after [`UTP_HEAD_START`] and the first to connect taken;
    /// - on this host: TCP, then uTP if TCP fails (see [`NetOptions::same_host_rules`]).
    async fn connect(&self, addr: SocketAddr) -> Result<(PeerStream, Carrier), TransportError> {
        let utp = self.utp_for(addr);
        let tcp_on = self.options().tcp;
        let Some(u) = utp else {
            if !tcp_on {
                return Err(TransportError::NoTransport);
            }
            return Ok((connect_over(addr, &Carrier::Tcp).await?, Carrier::Tcp));
        };
        let over_utp = Carrier::Utp(u);
        if !tcp_on {
            return Ok((connect_over(addr, &over_utp).await?, over_utp));
        }
        let hint = if self.options().same_host(addr) {
            Some(false)
        } else {
            self.hint(addr)
        };
        if hint == Some(false) {
            return match connect_over(addr, &Carrier::Tcp).await {
                Ok(s) => Ok((s, Carrier::Tcp)),
                Err(e) => {
                    tracing::debug!("{addr}: over TCP: {e}; trying uTP");
                    let s = connect_over(addr, &over_utp).await?;
                    self.set_hint(addr, true);
                    Ok((s, over_utp))
                }
            };
        }
        let utp_dial = connect_over(addr, &over_utp);
        tokio::pin!(utp_dial);
        let head_start = if hint == Some(true) {
            CONNECT_TIMEOUT
        } else {
            UTP_HEAD_START
        };
        let utp_failed = match tokio::time::timeout(head_start, &mut utp_dial).await {
            Ok(Ok(s)) => {
                self.set_hint(addr, true);
                return Ok((s, over_utp.clone()));
            }
            Ok(Err(e)) => Some(e),
            Err(_) => None,
        };
        if let Some(e) = utp_failed {
            tracing::debug!("{addr}: over uTP: {e}; trying TCP");
            self.set_hint(addr, false);
            return Ok((connect_over(addr, &Carrier::Tcp).await?, Carrier::Tcp));
        }
        let tcp_dial = connect_over(addr, &Carrier::Tcp);
        tokio::pin!(tcp_dial);
        tokio::select! {
            r = &mut utp_dial => match r {
                Ok(s) => {
                    self.set_hint(addr, true);
                    Ok((s, over_utp.clone()))
                }
                Err(_) => {
                    self.set_hint(addr, false);
                    Ok((tcp_dial.await?, Carrier::Tcp))
                }
            },
            r = &mut tcp_dial => match r {
                Ok(s) => {
                    // uTP went unanswered for longer than TCP took: TCP first next time.
                    self.set_hint(addr, false);
                    Ok((s, Carrier::Tcp))
                }
                Err(_) => {
                    let s = utp_dial.await?;
                    self.set_hint(addr, true);
                    Ok((s, over_utp.clone()))
                }
            },
        }
    }

    /// One carrier, with the encryption policy's attempt and fallback.
    async fn dial_over(
        &self,
        addr: SocketAddr,
        ours: &Handshake,
        carrier: Carrier,
        connected: Option<PeerStream>,
        accept: Accept<'_>,
    ) -> Result<(PeerStream, Handshake), TransportError> {
        let opts = self.options();
        // A peer on this host under `prefer` is dialled as `allow` would: obfuscation is for
        // traffic crossing a network that shapes it, and RC4 there only cost CPU (qBittorrent,
        // which prefers RC4, fed us at ~290 MiB/s encrypted and ~500 plaintext on loopback).
        // `require` stays encrypted everywhere.
        let encryption = match opts.encryption {
            Encryption::Prefer if opts.same_host(addr) => Encryption::Allow,
            e => e,
        };
        // The first attempt, then the fallback on a fresh socket (None: no fallback).
        let (first, fallback) = match encryption {
            Encryption::Prefer => (Some(CRYPTO_RC4 | CRYPTO_PLAINTEXT), Some(None)),
            Encryption::Require => (Some(CRYPTO_RC4), None),
            Encryption::Allow => (None, Some(Some(CRYPTO_RC4 | CRYPTO_PLAINTEXT))),
            Encryption::Off => (None, None),
        };
        match self
            .dial_once(addr, ours, first, &carrier, connected, accept)
            .await
        {
            Ok(r) => Ok(r),
            // A peer that is not there, or that is for another torrent, is not worth a
            // second socket.
            Err(e @ (TransportError::ConnectTimeout | TransportError::WrongTorrent)) => Err(e),
            Err(TransportError::Io(e)) if is_connect_error(&e) => Err(TransportError::Io(e)),
            Err(e) => match fallback {
                Some(provide) => {
                    tracing::debug!(
                        "{addr}: {} handshake failed ({e}); retrying {} on a new connection",
                        if first.is_some() {
                            "encrypted"
                        } else {
                            "plaintext"
                        },
                        if provide.is_some() {
                            "encrypted"
                        } else {
                            "plaintext"
                        },
                    );
                    self.dial_once(addr, ours, provide, &carrier, None, accept)
                        .await
                }
                None => Err(e),
            },
        }
    }

    async fn dial_once(
        &self,
        addr: SocketAddr,
        ours: &Handshake,
        mse_provide: Option<u32>,
        carrier: &Carrier,
        connected: Option<PeerStream>,
        accept: Accept<'_>,
    ) -> Result<(PeerStream, Handshake), TransportError> {
        let mut stream = match connected {
            Some(s) => s,
            None => connect_over(addr, carrier).await?,
        };
        let exchange = async {
            if let Some(provide) = mse_provide {
                let est = mse::initiate(&mut stream, ours.info_hash, provide).await?;
                stream.established(est);
            }
            stream.write_all(&ours.encode()).await?;
            stream.flush().await?;
            read_handshake(&mut stream).await
        };
        let theirs = tokio::time::timeout(HANDSHAKE_TIMEOUT, exchange)
            .await
            .map_err(|_| TransportError::Timeout)??;
        let fits = match accept {
            Accept::Any => true,
            Accept::Only(also) => {
                theirs.info_hash == ours.info_hash || also.contains(&theirs.info_hash)
            }
        };
        if !fits {
            return Err(TransportError::WrongTorrent);
        }
        Ok((stream, theirs))
    }

    /// Reads an incoming connection's handshake from `addr`, running MSE first when the peer
    /// starts with one. `skeys` lists every info-hash we answer for (torrents and pending
    /// magnets).
    ///
    /// Under `prefer`, a peer on this host that offers RC4 only is refused once: libtorrent
    /// (qBittorrent's "allow encryption") offers nothing else, and RC4 over loopback cost both
    /// ends ~2 CPU-s per GiB (qBittorrent leeched from us at ~140 MiB/s where rqbit, which
    /// has no MSE, fed it ~230). Such a peer redials in plaintext at once. One that offers RC4
    /// again within [`RC4_REFUSAL_MEMORY`] requires encryption and is accepted.
    pub async fn accept(
        &self,
        stream: PeerStream,
        addr: SocketAddr,
        skeys: impl FnOnce() -> Vec<InfoHash>,
    ) -> Result<(PeerStream, Handshake), TransportError> {
        let opts = self.options();
        let allowed = if stream.info.utp { opts.utp } else { opts.tcp };
        if !allowed {
            return Err(TransportError::Refused("transport turned off"));
        }
        let plaintext_only = opts.encryption == Encryption::Prefer
            && opts.same_host(addr)
            && lock(&self.rc4_refused)
                .get(&addr.ip())
                .is_none_or(|t| t.elapsed() >= RC4_REFUSAL_MEMORY);
        let methods = if plaintext_only {
            CRYPTO_PLAINTEXT
        } else {
            opts.encryption.allowed()
        };
        let r = tokio::time::timeout(
            HANDSHAKE_TIMEOUT,
            accept_stream(stream, opts.encryption, methods, skeys),
        )
        .await
        .map_err(|_| TransportError::Timeout)?;
        if plaintext_only && matches!(r, Err(TransportError::Mse(MseError::NoCommonMethod { .. })))
        {
            let mut refused = lock(&self.rc4_refused);
            refused.retain(|_, t| t.elapsed() < RC4_REFUSAL_MEMORY);
            refused.insert(addr.ip(), Instant::now());
        }
        r
    }
}

/// The answering side over any stream: sniff, MSE if needed, then the BitTorrent handshake.
pub async fn accept_stream(
    mut stream: PeerStream,
    mode: Encryption,
    methods: u32,
    skeys: impl FnOnce() -> Vec<InfoHash>,
) -> Result<(PeerStream, Handshake), TransportError> {
    let mut head = [0u8; PLAIN_PREFIX_LEN];
    stream.read_exact(&mut head).await?;
    let plain = head[0] == 19 && &head[1..] == PROTOCOL;
    if plain {
        if mode == Encryption::Require {
            return Err(TransportError::Refused(
                "plaintext handshake while encryption is required",
            ));
        }
        stream.unread(head.to_vec());
    } else {
        if mode == Encryption::Off {
            return Err(TransportError::Refused(
                "encrypted handshake while encryption is off",
            ));
        }
        let keys = skeys();
        // The handshake is encrypted either way; the payload goes plaintext whenever the
        // dialler offers it (libtorrent's default too): RC4 over every byte was 38% of a
        // leecher's instructions (issue 19). `require` offers and accepts RC4 only.
        let est = mse::respond(
            &mut stream,
            &head,
            &keys,
            methods,
            mode != Encryption::Require,
        )
        .await?;
        let skey = est.info_hash;
        stream.established(est);
        let hs = read_handshake(&mut stream).await?;
        // The spec: the handshake must be for the torrent the SKEY named.
        if hs.info_hash != skey {
            return Err(TransportError::WrongTorrent);
        }
        return Ok((stream, hs));
    }
    let hs = read_handshake(&mut stream).await?;
    Ok((stream, hs))
}

/// One connection over one carrier.
async fn connect_over(addr: SocketAddr, carrier: &Carrier) -> Result<PeerStream, TransportError> {
    Ok(match carrier {
        Carrier::Tcp => PeerStream::tcp(
            tokio::time::timeout(CONNECT_TIMEOUT, TcpStream::connect(addr))
                .await
                .map_err(|_| TransportError::ConnectTimeout)??,
        ),
        Carrier::Utp(sock) => PeerStream::utp(
            tokio::time::timeout(CONNECT_TIMEOUT, sock.connect(addr))
                .await
                .map_err(|_| TransportError::ConnectTimeout)??,
        ),
    })
}

/// Errors that mean nothing answered at `addr` (so a second attempt would fail the same way).
fn is_connect_error(e: &std::io::Error) -> bool {
    use std::io::ErrorKind::*;
    matches!(
        e.kind(),
        ConnectionRefused | HostUnreachable | NetworkUnreachable | AddrNotAvailable | TimedOut
    )
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

    use super::*;
    use crate::engine::types::PeerId;
    use tokio::net::TcpListener;

    fn hs(b: u8) -> Handshake {
        Handshake::new(InfoHash([b; 20]), PeerId::generate())
    }

    /// A listener answering with `mode`; returns what it accepted (encrypted?, handshake).
    async fn serve(
        mode: Encryption,
        ih: u8,
    ) -> (
        SocketAddr,
        tokio::task::JoinHandle<Vec<Result<ConnInfo, String>>>,
    ) {
        serve_with(mode, false, ih).await
    }

    /// As [`serve`], with the same-host rules on or off for the answering side.
    async fn serve_with(
        mode: Encryption,
        same_host_rules: bool,
        ih: u8,
    ) -> (
        SocketAddr,
        tokio::task::JoinHandle<Vec<Result<ConnInfo, String>>>,
    ) {
        let l = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = l.local_addr().unwrap();
        let t = Transport::new(NetOptions {
            encryption: mode,
            same_host_rules,
            ..NetOptions::default()
        });
        let h = tokio::spawn(async move {
            let mut out = Vec::new();
            // At most two connections: a first attempt and a fallback.
            for _ in 0..2 {
                let Ok(Ok((s, from))) =
                    tokio::time::timeout(Duration::from_secs(2), l.accept()).await
                else {
                    break;
                };
                match t
                    .accept(PeerStream::tcp(s), from, || vec![InfoHash([ih; 20])])
                    .await
                {
                    Ok((mut stream, theirs)) => {
                        let ours = Handshake::new(theirs.info_hash, PeerId::generate());
                        stream.write_all(&ours.encode()).await.unwrap();
                        stream.write_all(b"payload").await.unwrap();
                        stream.flush().await.unwrap();
                        let mut back = [0u8; 4];
                        stream.read_exact(&mut back).await.unwrap();
                        assert_eq!(&back, b"pong");
                        out.push(Ok(stream.info()));
                        break;
                    }
                    Err(e) => out.push(Err(e.to_string())),
                }
            }
            out
        });
        (addr, h)
    }

    /// Dials with the internet policy (the same-host exceptions off), as the pairwise modes
    /// describe it.
    async fn dial(mode: Encryption, addr: SocketAddr, ih: u8) -> Result<ConnInfo, String> {
        dial_with(mode, false, addr, ih).await
    }

    async fn dial_with(
        mode: Encryption,
        same_host_rules: bool,
        addr: SocketAddr,
        ih: u8,
    ) -> Result<ConnInfo, String> {
        let t = Transport::new(NetOptions {
            encryption: mode,
            same_host_rules,
            ..NetOptions::default()
        });
        let (mut s, _) = t.dial(addr, &hs(ih)).await.map_err(|e| e.to_string())?;
        let mut got = [0u8; 7];
        s.read_exact(&mut got).await.unwrap();
        assert_eq!(&got, b"payload");
        s.write_all(b"pong").await.unwrap();
        s.flush().await.unwrap();
        Ok(s.info())
    }

    #[tokio::test]
    async fn modes_pairwise() {
        use Encryption::*;
        // (dialler, listener, expected: None = refused, Some(encrypted))
        let cases = [
            // an MSE handshake, then a plaintext payload (the answerer selects it when offered)
            (Prefer, Prefer, Some(false)),
            (Require, Require, Some(true)),
            (Prefer, Require, Some(true)),
            (Require, Prefer, Some(true)),
            (Off, Prefer, Some(false)),
            (Off, Require, None),
            (Require, Off, None),
            // prefer falls back to plaintext against a plaintext-only peer
            (Prefer, Off, Some(false)),
            // allow dials plaintext; answering, it selects plaintext when offered
            (Allow, Prefer, Some(false)),
            (Prefer, Allow, Some(false)),
            (Allow, Require, Some(true)),
        ];
        for (d, l, want) in cases {
            let (addr, server) = serve(l, 4).await;
            let got = dial(d, addr, 4).await;
            let served = server.await.unwrap();
            match want {
                None => assert!(got.is_err(), "{d} -> {l}: {got:?} / {served:?}"),
                Some(enc) => {
                    let info = got.unwrap_or_else(|e| panic!("{d} -> {l}: {e} / {served:?}"));
                    assert_eq!(info.encrypted, enc, "{d} -> {l}");
                    assert_eq!(served.last().unwrap().as_ref().unwrap().encrypted, enc);
                }
            }
        }
    }

    /// `prefer` dials a peer on this host in plaintext first: against one that requires
    /// encryption that costs a refused first connection, where the internet policy opens
    /// with MSE at once.
    #[tokio::test]
    async fn prefer_dials_a_same_host_peer_in_plaintext_first() {
        for (same_host_rules, connections) in [(true, 2), (false, 1)] {
            let (addr, server) = serve(Encryption::Require, 4).await;
            let info = dial_with(Encryption::Prefer, same_host_rules, addr, 4)
                .await
                .unwrap();
            assert!(info.encrypted);
            let served = server.await.unwrap();
            assert_eq!(served.len(), connections, "{served:?}");
            if connections == 2 {
                assert!(served[0].is_err(), "{served:?}");
            }
        }
    }

    /// Under `prefer`, a peer on this host that offers RC4 only is refused once (libtorrent
    /// then redials in plaintext) and taken encrypted when it comes back encrypted: it
    /// requires encryption. An offer that includes plaintext is taken in plaintext at once.
    #[tokio::test]
    async fn prefer_refuses_a_same_host_rc4_only_offer_once() {
        let (addr, server) = serve_with(Encryption::Prefer, true, 4).await;
        let first = dial(Encryption::Require, addr, 4).await;
        assert!(first.is_err(), "{first:?}");
        let second = dial(Encryption::Require, addr, 4).await.unwrap();
        assert!(second.encrypted);
        let served = server.await.unwrap();
        assert_eq!(served.len(), 2, "{served:?}");
        assert!(
            served[0]
                .as_ref()
                .is_err_and(|e| e.contains("no common method")),
            "{served:?}"
        );

        let (addr, server) = serve_with(Encryption::Prefer, true, 4).await;
        assert!(!dial(Encryption::Prefer, addr, 4).await.unwrap().encrypted);
        assert_eq!(server.await.unwrap().len(), 1);

        // The internet policy takes an RC4-only offer at once.
        let (addr, server) = serve_with(Encryption::Prefer, false, 4).await;
        assert!(dial(Encryption::Require, addr, 4).await.unwrap().encrypted);
        assert_eq!(server.await.unwrap().len(), 1);
    }

    /// A peer listening on TCP and (when `utp`) uTP on the same port; answers one dial and
    /// says which carrier it came over.
    async fn serve_both(utp: bool) -> (SocketAddr, tokio::task::JoinHandle<ConnInfo>) {
        let l = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = l.local_addr().unwrap();
        let t = Arc::new(Transport::new(NetOptions::default()));
        let sock = if utp {
            Some(t.bind_utp(addr).await.unwrap())
        } else {
            None
        };
        let h = tokio::spawn(async move {
            let (stream, from) = match &sock {
                Some(u) => tokio::select! {
                    r = l.accept() => { let (s, a) = r.unwrap(); (PeerStream::tcp(s), a) }
                    r = u.accept() => { let s = r.unwrap(); let a = s.peer_addr(); (PeerStream::utp(s), a) }
                },
                None => {
                    let (s, a) = l.accept().await.unwrap();
                    (PeerStream::tcp(s), a)
                }
            };
            let (mut stream, theirs) = t
                .accept(stream, from, || vec![InfoHash([5; 20])])
                .await
                .unwrap();
            let ours = Handshake::new(theirs.info_hash, PeerId::generate());
            stream.write_all(&ours.encode()).await.unwrap();
            stream.flush().await.unwrap();
            stream.info()
        });
        (addr, h)
    }

    /// A dialler with the internet policy, though its peers are on loopback.
    async fn dialler() -> Transport {
        let t = Transport::new(NetOptions {
            same_host_rules: false,
            ..NetOptions::default()
        });
        t.bind_utp("127.0.0.1:0".parse().unwrap()).await.unwrap();
        t
    }

    #[tokio::test]
    async fn utp_first_when_the_peer_takes_it() {
        let t = dialler().await;
        let (addr, server) = serve_both(true).await;
        let (s, _) = t.dial(addr, &hs(5)).await.unwrap();
        assert!(s.info().utp, "an unknown peer with uTP is reached over uTP");
        assert!(server.await.unwrap().utp);
        assert!(t.prefers_utp(addr));
    }

    #[tokio::test]
    async fn a_peer_on_this_host_is_dialled_over_tcp_first() {
        let t = Transport::new(NetOptions::default());
        t.bind_utp("127.0.0.1:0".parse().unwrap()).await.unwrap();
        let (addr, server) = serve_both(true).await;
        let (s, _) = t.dial(addr, &hs(5)).await.unwrap();
        assert!(
            !s.info().utp,
            "a loopback peer taking both is reached over TCP"
        );
        assert!(!server.await.unwrap().utp);
    }

    #[tokio::test]
    async fn tcp_when_utp_goes_unanswered_and_remembered() {
        let t = dialler().await;
        let (addr, server) = serve_both(false).await;
        let (s, _) = t.dial(addr, &hs(5)).await.unwrap();
        assert!(!s.info().utp);
        assert!(!server.await.unwrap().utp);
        // Known now not to answer uTP: TCP first next time.
        assert_eq!(t.hint(addr), Some(false));
        let (addr2, server2) = serve_both(true).await;
        t.set_hint(addr2, false);
        let (s, _) = t.dial(addr2, &hs(5)).await.unwrap();
        assert!(
            !s.info().utp,
            "a peer known not to take uTP is dialled over TCP"
        );
        assert!(!server2.await.unwrap().utp);
    }

    #[tokio::test]
    async fn a_pex_utp_flag_makes_utp_the_choice() {
        // The flag as BEP 11 sends it, through our parser and the PEX extension's rule.
        let (addr, server) = serve_both(true).await;
        let t = dialler().await;
        let msg = crate::engine::pex::PexMsg {
            added: vec![(addr, crate::engine::pex::FLAG_UTP)],
            dropped: vec![],
        };
        let parsed =
            crate::engine::pex::PexMsg::parse(&msg.encode(), crate::engine::pex::MAX_ENTRIES)
                .unwrap();
        assert_eq!(parsed.utp_peers(), vec![addr]);
        for a in parsed.utp_peers() {
            t.hint_utp(a);
        }
        assert!(t.prefers_utp(addr));
        let (s, _) = t.dial(addr, &hs(5)).await.unwrap();
        assert!(s.info().utp);
        assert!(server.await.unwrap().utp);
    }

    #[tokio::test]
    async fn wrong_torrent_is_refused_encrypted() {
        let (addr, server) = serve(Encryption::Require, 1).await;
        let got = dial(Encryption::Require, addr, 2).await;
        assert!(got.is_err());
        let served = server.await.unwrap();
        assert!(served[0].as_ref().unwrap_err().contains("not one of ours"));
    }

    #[tokio::test]
    async fn sniffing_needs_the_whole_protocol_string() {
        // A plaintext-looking first byte followed by anything else is not taken for a
        // plaintext handshake: it goes to MSE, which finds no sync and refuses.
        let (mut a, b) = tokio::io::duplex(4096);
        let mut junk = vec![19u8];
        junk.extend([0x41u8; 700]);
        a.write_all(&junk).await.unwrap();
        drop(a);
        let r = accept_stream(
            PeerStream::from_io(b),
            Encryption::Prefer,
            Encryption::Prefer.allowed(),
            Vec::new,
        )
        .await;
        assert!(matches!(r, Err(TransportError::Mse(_))), "{:?}", r.err());
    }

    #[tokio::test]
    async fn rc4_writer_survives_short_writes() {
        // A tiny pipe forces partial writes; every byte must arrive once, decrypted in order.
        let (a, b) = tokio::io::duplex(7);
        let mut sa = PeerStream::from_io(a);
        let mut sb = PeerStream::from_io(b);
        // Key both ends through a real MSE exchange.
        let (ea, eb) = {
            let (mut p, mut q) = tokio::io::duplex(1 << 16);
            let ih = InfoHash([8; 20]);
            let (ea, eb) = tokio::join!(mse::initiate(&mut p, ih, CRYPTO_RC4), async {
                mse::respond(&mut q, &[], &[ih], CRYPTO_RC4, false).await
            });
            (ea.unwrap(), eb.unwrap())
        };
        sa.established(ea);
        sb.established(eb);
        let data: Vec<u8> = (0..50_000u32).map(|i| (i % 251) as u8).collect();
        let send = data.clone();
        let w = tokio::spawn(async move {
            sa.write_all(&send).await.unwrap();
            sa.flush().await.unwrap();
            sa
        });
        let mut got = vec![0u8; data.len()];
        sb.read_exact(&mut got).await.unwrap();
        let _ = w.await.unwrap();
        assert_eq!(got, data);
    }
}
