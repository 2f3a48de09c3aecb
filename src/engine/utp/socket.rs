//! The multiplexer: one UDP socket carrying every uTP connection, found by (peer address,
//! connection id), and the [`UtpStream`] the engine reads and writes.
//!
//! A task reads datagrams and hands each to its connection; after a burst (everything the
//! socket had ready) each connection that received data sends one ACK for all of it. Every
//! connection has a timer task for its retransmission, keep-alive and linger deadlines.
//! Datagrams go out with a non-blocking send under the connection's lock: a full socket buffer is
//! a lost packet, which retransmission covers.

use std::collections::HashMap;
use std::future::poll_fn;
use std::io;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::{Arc, Mutex, MutexGuard};
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::UdpSocket;
use tokio::sync::{Notify, mpsc};

use super::batch;
use super::conn::{Conn, State};
use super::packet::{Header, Packet, PacketType};

/// UDP payload per packet: IPv4 within a 1500-byte MTU with room for tunnels; IPv6 within the
/// 1280-byte minimum MTU every IPv6 link carries.
const UDP_PAYLOAD_V4: usize = 1400;
const UDP_PAYLOAD_V6: usize = 1232;
/// Connections accepted but not yet taken by [`UtpSocket::accept`].
const ACCEPT_BACKLOG: usize = 64;
/// Socket buffers asked of the kernel (it may grant less).
const SOCKET_BUFFER: usize = 4 << 20;
/// Datagrams handled per burst before ACKs go out.
const BURST: usize = 64;

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    match m.lock() {
        Ok(g) => g,
        Err(p) => p.into_inner(),
    }
}

type Key = (SocketAddr, u16);

struct Inner {
    udp: UdpSocket,
    /// The same socket for sending: a plain non-blocking send fails only when the kernel's
    /// buffer is full, where tokio's `try_send_to` also fails before the reactor first saw
    /// the socket writable (which would drop a SYN sent right after binding).
    send: std::net::UdpSocket,
    /// Equal-sized runs of datagrams go out as one segmentation-offload send.
    batch: batch::Sender,
    local: SocketAddr,
    epoch: Instant,
    conns: Mutex<HashMap<Key, Arc<Shared>>>,
    accept_tx: mpsc::Sender<UtpStream>,
}

struct Locked {
    conn: Conn,
    /// When the timer task will next look.
    armed: Instant,
}

struct Shared {
    state: Mutex<Locked>,
    notify: Notify,
    addr: SocketAddr,
    key: Key,
    inner: Arc<Inner>,
}

impl Shared {
    /// Sends what the connection queued and wakes the timer if it must look sooner.
    fn flush(&self, l: &mut Locked) {
        if !l.conn.out.is_empty() {
            // A full buffer drops the datagram, as the network could.
            self.inner
                .batch
                .send_all(&self.inner.send, self.addr, &l.conn.out);
            l.conn.out.clear();
        }
        if l.conn.next_deadline() < l.armed {
            self.notify.notify_one();
        }
    }
}

/// A uTP socket: connects, and accepts what peers open.
pub struct UtpSocket {
    inner: Arc<Inner>,
    accept_rx: tokio::sync::Mutex<mpsc::Receiver<UtpStream>>,
    reader: tokio::task::JoinHandle<()>,
}

impl Drop for UtpSocket {
    fn drop(&mut self) {
        self.reader.abort();
    }
}

impl std::fmt::Debug for UtpSocket {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("UtpSocket")
            .field("local", &self.inner.local)
            .finish()
    }
}

fn mss_for(addr: SocketAddr) -> usize {
    let udp = if addr.is_ipv4() {
        UDP_PAYLOAD_V4
    } else {
        UDP_PAYLOAD_V6
    };
    udp - super::packet::HEADER_LEN
}

impl UtpSocket {
    /// Binds `addr` (IPv6 addresses as the system binds them by default).
    pub async fn bind(addr: SocketAddr) -> io::Result<UtpSocket> {
        use socket2::{Domain, Protocol, Socket, Type};
        let s = Socket::new(Domain::for_address(addr), Type::DGRAM, Some(Protocol::UDP))?;
        let _ = s.set_recv_buffer_size(SOCKET_BUFFER);
        let _ = s.set_send_buffer_size(SOCKET_BUFFER);
        s.set_nonblocking(true)?;
        s.bind(&addr.into())?;
        batch::enable_gro(&s);
        let send: std::net::UdpSocket = s.try_clone()?.into();
        let udp = UdpSocket::from_std(s.into())?;
        let local = udp.local_addr()?;
        let (accept_tx, accept_rx) = mpsc::channel(ACCEPT_BACKLOG);
        let inner = Arc::new(Inner {
            udp,
            send,
            batch: batch::Sender::default(),
            local,
            epoch: Instant::now(),
            conns: Mutex::new(HashMap::new()),
            accept_tx,
        });
        let reader = tokio::spawn(read_loop(inner.clone()));
        Ok(UtpSocket {
            inner,
            accept_rx: tokio::sync::Mutex::new(accept_rx),
            reader,
        })
    }

    pub fn local_addr(&self) -> SocketAddr {
        self.inner.local
    }

    /// Opens a connection to `addr` (a SYN and its retry; about 3 s to give up).
    pub async fn connect(&self, addr: SocketAddr) -> io::Result<UtpStream> {
        let now = Instant::now();
        let stream = {
            let mut conns = lock(&self.inner.conns);
            let mut id = rand::random::<u16>();
            while conns.contains_key(&(addr, id)) || conns.contains_key(&(addr, id.wrapping_add(1)))
            {
                id = rand::random::<u16>();
            }
            let conn = Conn::connect(now, self.inner.epoch, mss_for(addr), id);
            let sh = self.inner.spawn_conn(conn, addr, (addr, id), now);
            conns.insert((addr, id), sh.clone());
            UtpStream { sh }
        };
        {
            let mut l = lock(&stream.sh.state);
            stream.sh.flush(&mut l);
        }
        poll_fn(|cx| {
            let mut l = lock(&stream.sh.state);
            match l.conn.state {
                State::Connected => Poll::Ready(Ok(())),
                // A RESET in answer to the SYN: nobody takes uTP there.
                State::Closed(Some(io::ErrorKind::ConnectionReset)) => Poll::Ready(Err(
                    io::Error::new(io::ErrorKind::ConnectionRefused, "uTP connection refused"),
                )),
                State::Closed(e) => Poll::Ready(Err(io::Error::new(
                    e.unwrap_or(io::ErrorKind::ConnectionAborted),
                    match e {
                        Some(io::ErrorKind::TimedOut) => "no uTP answer",
                        _ => "uTP connection closed",
                    },
                ))),
                State::SynSent => {
                    l.conn.connect_waker = Some(cx.waker().clone());
                    Poll::Pending
                }
            }
        })
        .await?;
        Ok(stream)
    }

    /// The next connection a peer opened.
    pub async fn accept(&self) -> io::Result<UtpStream> {
        self.accept_rx
            .lock()
            .await
            .recv()
            .await
            .ok_or_else(|| io::Error::other("uTP socket closed"))
    }
}

impl Inner {
    fn spawn_conn(
        self: &Arc<Self>,
        conn: Conn,
        addr: SocketAddr,
        key: Key,
        now: Instant,
    ) -> Arc<Shared> {
        let sh = Arc::new(Shared {
            state: Mutex::new(Locked { conn, armed: now }),
            notify: Notify::new(),
            addr,
            key,
            inner: self.clone(),
        });
        tokio::spawn(drive(sh.clone()));
        sh
    }

    fn reset(&self, to: SocketAddr, h: &Header) {
        let mut pkt = Vec::with_capacity(20);
        Header {
            kind: PacketType::Reset,
            conn_id: h.conn_id,
            timestamp: Instant::now().duration_since(self.epoch).as_micros() as u32,
            timestamp_diff: 0,
            wnd_size: 0,
            seq_nr: rand::random(),
            ack_nr: h.seq_nr,
        }
        .encode(None, &[], &mut pkt);
        let _ = self.send.send_to(&pkt, to);
    }

    /// The connection a RESET from `from` is for. A RESET echoes the connection id of the
    /// packet it answers: our receive id when it answers our SYN, our send id otherwise (a
    /// peer that restarted and no longer knows the connection), which is our receive id + 1
    /// when we dialled and − 1 when we accepted. Without this a peer killed mid-connection
    /// (no FIN) left our side retransmitting or idling until its timeouts.
    fn reset_target(&self, from: SocketAddr, id: u16) -> Option<Arc<Shared>> {
        let candidates: Vec<(Arc<Shared>, bool)> = {
            let conns = lock(&self.conns);
            [
                (id.wrapping_sub(1), true),
                (id.wrapping_add(1), true),
                (id, false),
            ]
            .iter()
            .filter_map(|(recv, by_send)| conns.get(&(from, *recv)).map(|c| (c.clone(), *by_send)))
            .collect()
        };
        candidates
            .into_iter()
            .find(|(sh, by_send)| {
                let l = lock(&sh.state);
                if *by_send {
                    l.conn.send_id == id
                } else {
                    l.conn.recv_id == id
                }
            })
            .map(|(sh, _)| sh)
    }

    /// One datagram; returns the connection it went to.
    fn handle(self: &Arc<Self>, buf: &[u8], from: SocketAddr) -> Option<Arc<Shared>> {
        // Not uTP (a DHT message, noise): dropped.
        let p = Packet::parse(buf).ok()?;
        let h = p.header;
        let now = Instant::now();
        let key = if h.kind == PacketType::Syn {
            (from, h.conn_id.wrapping_add(1))
        } else {
            (from, h.conn_id)
        };
        let found = if h.kind == PacketType::Reset {
            self.reset_target(from, h.conn_id)
        } else {
            lock(&self.conns).get(&key).cloned()
        };
        let sh = match found {
            Some(sh) => sh,
            None if h.kind == PacketType::Syn => {
                let Ok(permit) = self.accept_tx.try_reserve() else {
                    tracing::debug!("uTP: refusing {from}: accept backlog full");
                    self.reset(from, &h);
                    return None;
                };
                let conn = Conn::accept(now, self.epoch, mss_for(from), &h, rand::random());
                let sh = self.spawn_conn(conn, from, key, now);
                lock(&self.conns).insert(key, sh.clone());
                {
                    let mut l = lock(&sh.state);
                    sh.flush(&mut l);
                }
                permit.send(UtpStream { sh });
                return None;
            }
            None => {
                if h.kind != PacketType::Reset {
                    self.reset(from, &h);
                }
                return None;
            }
        };
        {
            let mut l = lock(&sh.state);
            l.conn.on_packet(now, &p);
            sh.flush(&mut l);
        }
        Some(sh)
    }
}

async fn read_loop(inner: Arc<Inner>) {
    let mut buf = vec![0u8; 65536];
    let mut touched: Vec<Arc<Shared>> = Vec::new();
    loop {
        if inner.udp.readable().await.is_err() {
            tokio::time::sleep(Duration::from_millis(1)).await;
            continue;
        }
        let mut count = 0;
        while count < BURST {
            let (n, from, seg) = match inner.udp.try_io(tokio::io::Interest::READABLE, || {
                batch::recv(&inner.udp, &mut buf)
            }) {
                Ok(r) => r,
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
                Err(e) => {
                    // ICMP errors surface here on some systems; nothing to do but carry on.
                    tracing::trace!("uTP recv: {e}");
                    break;
                }
            };
            // A GRO read holds several datagrams of `seg` bytes (the last may be shorter).
            for dgram in buf[..n].chunks(seg.unwrap_or(n).max(1)) {
                if let Some(sh) = inner.handle(dgram, from)
                    && !touched.iter().any(|t| Arc::ptr_eq(t, &sh))
                {
                    touched.push(sh);
                }
                count += 1;
            }
        }
        let now = Instant::now();
        for sh in touched.drain(..) {
            let mut l = lock(&sh.state);
            l.conn.flush_ack(now);
            sh.flush(&mut l);
        }
    }
}

/// A connection's timers, until it is done; then it leaves the table.
async fn drive(sh: Arc<Shared>) {
    loop {
        let deadline = {
            let mut l = lock(&sh.state);
            let now = Instant::now();
            l.conn.on_tick(now);
            let next = l.conn.next_deadline().max(now + Duration::from_millis(1));
            l.armed = next;
            sh.flush(&mut l);
            if l.conn.finished(now) {
                break;
            }
            next
        };
        tokio::select! {
            _ = tokio::time::sleep_until(deadline.into()) => {}
            _ = sh.notify.notified() => {}
        }
    }
    let mut conns = lock(&sh.inner.conns);
    if conns.get(&sh.key).is_some_and(|c| Arc::ptr_eq(c, &sh)) {
        conns.remove(&sh.key);
    }
}

/// One uTP connection as a byte stream.
pub struct UtpStream {
    sh: Arc<Shared>,
}

impl std::fmt::Debug for UtpStream {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("UtpStream")
            .field("peer", &self.sh.addr)
            .finish()
    }
}

impl UtpStream {
    pub fn peer_addr(&self) -> SocketAddr {
        self.sh.addr
    }

    /// The congestion window and the queuing delay LEDBAT measures (diagnostics, tests).
    pub fn congestion(&self) -> (usize, Duration) {
        let l = lock(&self.sh.state);
        (l.conn.ledbat.cwnd(), l.conn.ledbat.queuing_delay())
    }
}

impl Drop for UtpStream {
    fn drop(&mut self) {
        let mut l = lock(&self.sh.state);
        l.conn.abandon(Instant::now());
        self.sh.flush(&mut l);
        self.sh.notify.notify_one();
    }
}

impl AsyncRead for UtpStream {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let sh = &self.sh;
        let mut l = lock(&sh.state);
        let dst = buf.initialize_unfilled();
        let r = l.conn.read(Instant::now(), dst);
        sh.flush(&mut l);
        match r {
            Some(Ok(n)) => {
                buf.advance(n);
                Poll::Ready(Ok(()))
            }
            Some(Err(e)) => Poll::Ready(Err(e)),
            None => {
                l.conn.read_waker = Some(cx.waker().clone());
                Poll::Pending
            }
        }
    }
}

impl AsyncWrite for UtpStream {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let sh = &self.sh;
        let mut l = lock(&sh.state);
        let r = l.conn.write(Instant::now(), buf);
        sh.flush(&mut l);
        match r {
            Some(r) => Poll::Ready(r),
            None => {
                l.conn.write_waker = Some(cx.waker().clone());
                Poll::Pending
            }
        }
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let mut l = lock(&self.sh.state);
        match l.conn.flushed() {
            Some(r) => Poll::Ready(r),
            None => {
                l.conn.write_waker = Some(cx.waker().clone());
                Poll::Pending
            }
        }
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let sh = &self.sh;
        let mut l = lock(&sh.state);
        let r = l.conn.shutdown(Instant::now());
        sh.flush(&mut l);
        match r {
            Some(r) => Poll::Ready(r),
            None => {
                l.conn.write_waker = Some(cx.waker().clone());
                Poll::Pending
            }
        }
    }
}
