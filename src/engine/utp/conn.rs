//! One uTP connection's state machine: the handshake, sending with retransmission (RTO,
//! duplicate and selective ACKs), the receive window and reordering, FIN and RESET.
//!
//! It owns no socket: what it has to send goes through [`Conn::out`], and the multiplexer
//! (`socket.rs`) hands it datagrams and timer ticks. Connection ids follow libutp: the side
//! that connects picks `id`, sends its SYN with `id` and every later packet with `id + 1`, and
//! receives on `id`; the accepting side receives on `id + 1` and sends with `id`. The SYN takes
//! a sequence number; the accepting side's reply (a STATE) does not, so its first DATA carries
//! the reply's `seq_nr` and the connecting side sets its `ack_nr` to the reply's `seq_nr - 1`.

use std::collections::{HashMap, VecDeque};
use std::io;
use std::task::Waker;
use std::time::{Duration, Instant};

use super::ledbat::Ledbat;
use super::packet::{Header, Packet, PacketType, sack_seqs};

/// Bytes the application may queue before a write waits.
const SEND_BUF: usize = 1 << 20;
/// Our receive window.
const RECV_BUF: usize = 1 << 20;
/// Packets in flight at most (well under half the sequence space).
const MAX_INFLIGHT: usize = 1024;
/// Out-of-order packets kept at most.
const MAX_REORDER: u16 = 1024;
/// BEP 29: the timeout is never below 500 ms.
const MIN_RTO: Duration = Duration::from_millis(500);
const MAX_RTO: Duration = Duration::from_secs(30);
/// The first SYN's timeout, doubled at each retry.
const SYN_RTO: Duration = Duration::from_millis(1000);
/// Consecutive timeouts after which the peer is taken for gone.
const MAX_TIMEOUTS: u32 = 6;
/// SYNs sent before giving up (1 + 2 s of waiting: a peer without uTP is found out fast).
const MAX_SYNS: u32 = 2;
/// An idle connection sends a STATE this often: NAT bindings stay open, and a peer that
/// restarted without closing (killed) answers with a RESET, so its stale connection goes.
const KEEPALIVE: Duration = Duration::from_secs(15);
/// How long a closed or abandoned connection lingers for its last packets to be acked.
const LINGER: Duration = Duration::from_secs(20);
/// A peer advertising no window is probed with one packet this long after it closed it.
const ZERO_WINDOW_PROBE: Duration = Duration::from_secs(1);
/// Selective ACK bits at most (32 bytes).
const SACK_BITS: u16 = 256;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum State {
    SynSent,
    Connected,
    /// Closed with an error for the application, or cleanly (None).
    Closed(Option<io::ErrorKind>),
}

/// `a < b` in sequence space.
/// Copies the first `dst.len()` bytes of `src` into `dst` with two memcpys: iterating a
/// `VecDeque<u8>` byte by byte was a fifth of a uTP sender's CPU.
fn copy_front(src: &VecDeque<u8>, dst: &mut [u8]) {
    let (a, b) = src.as_slices();
    let first = dst.len().min(a.len());
    dst[..first].copy_from_slice(&a[..first]);
    let rest = dst.len() - first;
    dst[first..].copy_from_slice(&b[..rest]);
}

fn seq_lt(a: u16, b: u16) -> bool {
    a != b && b.wrapping_sub(a) < 0x8000
}

fn seq_le(a: u16, b: u16) -> bool {
    a == b || seq_lt(a, b)
}

#[derive(Debug)]
struct Slot {
    seq: u16,
    kind: PacketType,
    payload: Vec<u8>,
    sent_at: Instant,
    transmissions: u32,
    acked: bool,
    /// Taken for lost: to be resent, not counted in flight.
    lost: bool,
}

pub struct Conn {
    pub state: State,
    pub recv_id: u16,
    pub send_id: u16,
    epoch: Instant,
    mss: usize,
    /// The next sequence number to send.
    seq_nr: u16,
    /// The last in-order sequence number received.
    ack_nr: u16,
    // Sending.
    send_buf: VecDeque<u8>,
    inflight: VecDeque<Slot>,
    flight_bytes: usize,
    peer_wnd: usize,
    zero_window_since: Option<Instant>,
    last_ack: u16,
    dup_acks: u32,
    /// Losses at or before this sequence number belong to a window already halved.
    loss_seq: u16,
    srtt: Option<(Duration, Duration)>,
    rto: Duration,
    rto_at: Option<Instant>,
    timeouts: u32,
    syns: u32,
    pub ledbat: Ledbat,
    fin_queued: bool,
    fin_sent: bool,
    // Receiving.
    recv_buf: VecDeque<u8>,
    reorder: HashMap<u16, Vec<u8>>,
    reorder_bytes: usize,
    /// The FIN's sequence number, once seen.
    eof_seq: Option<u16>,
    ack_pending: bool,
    /// Our clock minus theirs at their last packet (what we send as timestamp difference).
    reply_micro: u32,
    /// Window we last advertised was small: announce when reading opens it.
    window_was_small: bool,
    last_sent: Instant,
    last_heard: Instant,
    /// The application dropped its stream: finish sending, FIN, then go.
    pub abandoned: Option<Instant>,
    pub read_waker: Option<Waker>,
    pub write_waker: Option<Waker>,
    pub connect_waker: Option<Waker>,
    /// Datagrams to send, drained by the multiplexer.
    pub out: Vec<Vec<u8>>,
}

impl Conn {
    fn new(now: Instant, epoch: Instant, mss: usize, recv_id: u16, send_id: u16) -> Conn {
        Conn {
            state: State::SynSent,
            recv_id,
            send_id,
            epoch,
            mss,
            seq_nr: 1,
            ack_nr: 0,
            send_buf: VecDeque::new(),
            inflight: VecDeque::new(),
            flight_bytes: 0,
            peer_wnd: mss * 2,
            zero_window_since: None,
            last_ack: 0,
            dup_acks: 0,
            loss_seq: 0,
            srtt: None,
            rto: SYN_RTO,
            rto_at: None,
            timeouts: 0,
            syns: 0,
            ledbat: Ledbat::new(now, mss, SEND_BUF),
            fin_queued: false,
            fin_sent: false,
            recv_buf: VecDeque::new(),
            reorder: HashMap::new(),
            reorder_bytes: 0,
            eof_seq: None,
            ack_pending: false,
            reply_micro: 0,
            window_was_small: false,
            last_sent: now,
            last_heard: now,
            abandoned: None,
            read_waker: None,
            write_waker: None,
            connect_waker: None,
            out: Vec::new(),
        }
    }

    /// The connecting side: sends the SYN.
    pub fn connect(now: Instant, epoch: Instant, mss: usize, id: u16) -> Conn {
        let mut c = Conn::new(now, epoch, mss, id, id.wrapping_add(1));
        c.seq_nr = 1;
        c.send_syn(now);
        c.seq_nr = 2;
        c.loss_seq = 1;
        c.last_ack = 1;
        c
    }

    /// The accepting side, from a SYN: replies with a STATE.
    pub fn accept(
        now: Instant,
        epoch: Instant,
        mss: usize,
        syn: &Header,
        initial_seq: u16,
    ) -> Conn {
        let mut c = Conn::new(now, epoch, mss, syn.conn_id.wrapping_add(1), syn.conn_id);
        c.state = State::Connected;
        c.seq_nr = initial_seq;
        c.ack_nr = syn.seq_nr;
        c.last_ack = initial_seq.wrapping_sub(1);
        c.loss_seq = c.last_ack;
        c.peer_wnd = usize::try_from(syn.wnd_size).unwrap_or(usize::MAX);
        c.reply_micro = c.now_us(now).wrapping_sub(syn.timestamp);
        c.rto = MIN_RTO.max(SYN_RTO);
        c.send_state(now);
        c
    }

    fn now_us(&self, now: Instant) -> u32 {
        // Wraps every 71 minutes, as the field does.
        now.duration_since(self.epoch).as_micros() as u32
    }

    fn window(&self) -> u32 {
        u32::try_from(RECV_BUF.saturating_sub(self.recv_buf.len())).unwrap_or(u32::MAX)
    }

    fn header(&self, now: Instant, kind: PacketType, seq_nr: u16) -> Header {
        Header {
            kind,
            conn_id: if kind == PacketType::Syn {
                self.recv_id
            } else {
                self.send_id
            },
            timestamp: self.now_us(now),
            timestamp_diff: self.reply_micro,
            wnd_size: self.window(),
            seq_nr,
            ack_nr: self.ack_nr,
        }
    }

    fn send_syn(&mut self, now: Instant) {
        let mut pkt = Vec::with_capacity(20);
        self.header(now, PacketType::Syn, 1)
            .encode(None, &[], &mut pkt);
        self.out.push(pkt);
        self.syns += 1;
        self.last_sent = now;
        self.rto_at = Some(now + SYN_RTO * (1 << (self.syns - 1).min(4)));
    }

    /// The selective ACK mask for what waits in the reorder buffer.
    fn sack_mask(&self) -> Option<Vec<u8>> {
        if self.reorder.is_empty() {
            return None;
        }
        let mut mask = [0u8; (SACK_BITS / 8) as usize];
        let mut top = 0usize;
        for &seq in self.reorder.keys() {
            let i = seq.wrapping_sub(self.ack_nr).wrapping_sub(2);
            if i < SACK_BITS {
                let i = usize::from(i);
                mask[i / 8] |= 1 << (i % 8);
                top = top.max(i / 8 + 1);
            }
        }
        if top == 0 {
            return None;
        }
        let len = top.div_ceil(4) * 4;
        Some(mask[..len].to_vec())
    }

    fn send_state(&mut self, now: Instant) {
        let sack = self.sack_mask();
        let mut pkt = Vec::with_capacity(20 + sack.as_ref().map_or(0, |s| s.len() + 2));
        self.header(now, PacketType::State, self.seq_nr)
            .encode(sack.as_deref(), &[], &mut pkt);
        self.out.push(pkt);
        self.ack_pending = false;
        self.window_was_small = (self.window() as usize) < self.mss * 4;
        self.last_sent = now;
    }

    fn transmit(&mut self, now: Instant, idx: usize) {
        let mut header = self.header(now, PacketType::Data, 0);
        let Some(slot) = self.inflight.get_mut(idx) else {
            return;
        };
        header.kind = slot.kind;
        header.seq_nr = slot.seq;
        let mut pkt = Vec::with_capacity(20 + slot.payload.len());
        header.encode(None, &slot.payload, &mut pkt);
        slot.transmissions += 1;
        slot.sent_at = now;
        if slot.lost || slot.transmissions == 1 {
            self.flight_bytes += slot.payload.len();
        }
        slot.lost = false;
        self.out.push(pkt);
        self.ack_pending = false;
        self.last_sent = now;
        if self.rto_at.is_none() {
            self.rto_at = Some(now + self.rto);
        }
    }

    /// Sends what the windows allow: lost packets first, then new data, then a queued FIN.
    pub fn pump(&mut self, now: Instant) {
        if self.state != State::Connected {
            return;
        }
        let limit = self.ledbat.cwnd().min(self.peer_wnd);
        let probe = match self.zero_window_since {
            Some(t) => now.duration_since(t) >= ZERO_WINDOW_PROBE,
            None => false,
        };
        let (peer_wnd, mss) = (self.peer_wnd, self.mss);
        let fits = |flight: usize, len: usize| {
            flight + len <= limit || (flight == 0 && (peer_wnd >= len.min(mss) || probe))
        };
        for i in 0..self.inflight.len() {
            let (lost, len) = match self.inflight.get(i) {
                Some(s) => (s.lost && !s.acked, s.payload.len()),
                None => break,
            };
            if lost {
                if !fits(self.flight_bytes, len) {
                    return;
                }
                self.transmit(now, i);
            }
        }
        let mut took = false;
        while !self.send_buf.is_empty() && self.inflight.len() < MAX_INFLIGHT {
            let len = self.send_buf.len().min(self.mss);
            if !fits(self.flight_bytes, len) {
                if self.flight_bytes == 0 && self.zero_window_since.is_none() {
                    self.zero_window_since = Some(now);
                }
                break;
            }
            self.zero_window_since = None;
            let mut payload = vec![0u8; len];
            copy_front(&self.send_buf, &mut payload);
            self.send_buf.drain(..len);
            self.send_next(now, PacketType::Data, payload);
            took = true;
        }
        if took && let Some(w) = self.write_waker.take() {
            w.wake();
        }
        if self.fin_queued && !self.fin_sent && self.send_buf.is_empty() {
            self.fin_sent = true;
            self.send_next(now, PacketType::Fin, Vec::new());
        }
    }

    /// Gives `payload` the next sequence number, keeps it in flight until acked, and sends it.
    fn send_next(&mut self, now: Instant, kind: PacketType, payload: Vec<u8>) {
        self.inflight.push_back(Slot {
            seq: self.seq_nr,
            kind,
            payload,
            sent_at: now,
            transmissions: 0,
            acked: false,
            lost: false,
        });
        self.seq_nr = self.seq_nr.wrapping_add(1);
        let idx = self.inflight.len() - 1;
        self.transmit(now, idx);
    }

    fn rtt_sample(&mut self, rtt: Duration) {
        let (srtt, var) = match self.srtt {
            None => (rtt, rtt / 2),
            Some((s, v)) => {
                let diff = s.abs_diff(rtt);
                ((s * 7 + rtt) / 8, (v * 3 + diff) / 4)
            }
        };
        self.srtt = Some((srtt, var));
        self.rto = (srtt + var * 4).clamp(MIN_RTO, MAX_RTO);
    }

    fn mark_acked(&mut self, idx: usize, now: Instant, acked: &mut usize) {
        let Some(s) = self.inflight.get_mut(idx) else {
            return;
        };
        if s.acked {
            return;
        }
        s.acked = true;
        *acked += s.payload.len();
        if !s.lost && s.transmissions > 0 {
            self.flight_bytes = self.flight_bytes.saturating_sub(s.payload.len());
        }
        let sample = (s.transmissions == 1).then(|| now.duration_since(s.sent_at));
        if let Some(r) = sample {
            self.rtt_sample(r);
        }
    }

    fn on_loss(&mut self, seq: u16) {
        if seq_lt(self.loss_seq, seq) {
            self.ledbat.on_loss();
            self.loss_seq = self.seq_nr.wrapping_sub(1);
        }
    }

    /// Handles an incoming packet for this connection.
    pub fn on_packet(&mut self, now: Instant, p: &Packet<'_>) {
        let h = &p.header;
        self.last_heard = now;
        if h.kind == PacketType::Reset {
            self.close(Some(io::ErrorKind::ConnectionReset));
            return;
        }
        match self.state {
            State::Closed(_) => return,
            State::SynSent => {
                if h.kind == PacketType::Syn || h.ack_nr != 1 {
                    return;
                }
                self.state = State::Connected;
                self.ack_nr = h.seq_nr.wrapping_sub(1);
                self.rto = MIN_RTO;
                self.rto_at = None;
                self.rtt_sample(now.duration_since(self.last_sent));
                if let Some(w) = self.connect_waker.take() {
                    w.wake();
                }
            }
            State::Connected => {
                if h.kind == PacketType::Syn {
                    // Our STATE was lost: say it again.
                    self.send_state(now);
                    return;
                }
            }
        }
        self.reply_micro = self.now_us(now).wrapping_sub(h.timestamp);
        self.peer_wnd = usize::try_from(h.wnd_size).unwrap_or(usize::MAX);
        if self.peer_wnd >= self.mss {
            self.zero_window_since = None;
        }
        self.on_ack(now, p);
        if matches!(h.kind, PacketType::Data | PacketType::Fin) {
            self.on_data(now, p);
        }
        self.pump(now);
    }

    fn on_ack(&mut self, now: Instant, p: &Packet<'_>) {
        let h = &p.header;
        let last_sent = self.seq_nr.wrapping_sub(1);
        let acked_through = match self.inflight.front() {
            Some(s) => s.seq.wrapping_sub(1),
            None => last_sent,
        };
        // An ack for something not sent, or older than what is acked, is ignored.
        if !seq_le(h.ack_nr, last_sent) || seq_lt(h.ack_nr, acked_through) {
            return;
        }
        let flight_before = self.flight_bytes;
        let mut acked = 0usize;
        while let Some(front) = self.inflight.front() {
            if !seq_le(front.seq, h.ack_nr) {
                break;
            }
            self.mark_acked(0, now, &mut acked);
            self.inflight.pop_front();
        }
        if let (Some(mask), Some(front)) = (p.sack, self.inflight.front()) {
            let base = front.seq;
            let idxs: Vec<usize> = sack_seqs(h.ack_nr, mask)
                .map(|s| usize::from(s.wrapping_sub(base)))
                .filter(|&i| i < self.inflight.len())
                .collect();
            for i in idxs {
                self.mark_acked(i, now, &mut acked);
            }
        }
        let fresh = seq_lt(self.last_ack, h.ack_nr);
        if fresh {
            self.last_ack = h.ack_nr;
            self.dup_acks = 0;
            self.timeouts = 0;
            self.rto_at = (!self.inflight.is_empty()).then(|| now + self.rto);
        } else if h.kind == PacketType::State && acked == 0 && !self.inflight.is_empty() {
            self.dup_acks += 1;
        }
        if acked > 0 {
            if h.timestamp_diff != 0 {
                self.ledbat.sample(now, h.timestamp_diff);
            }
            self.ledbat.on_ack(acked, flight_before);
        }
        // Fast retransmit: three duplicate ACKs, or a packet with three acked after it.
        let mut later_acked = 0;
        let mut lost = Vec::new();
        for i in (0..self.inflight.len()).rev() {
            let Some(s) = self.inflight.get(i) else {
                continue;
            };
            if s.acked {
                later_acked += 1;
            } else if (later_acked >= 3 || (i == 0 && self.dup_acks >= 3))
                && !s.lost
                && s.transmissions > 0
            {
                lost.push(i);
            }
        }
        for i in lost.into_iter().rev() {
            if let Some(s) = self.inflight.get_mut(i) {
                s.lost = true;
                let (seq, len) = (s.seq, s.payload.len());
                self.flight_bytes = self.flight_bytes.saturating_sub(len);
                self.on_loss(seq);
            }
        }
        if self.dup_acks >= 3 {
            self.dup_acks = 0;
        }
        if self.fin_sent
            && self.inflight.is_empty()
            && let Some(w) = self.write_waker.take()
        {
            w.wake();
        }
    }

    fn deliver(&mut self, payload: &[u8]) {
        self.recv_buf.extend(payload);
    }

    fn on_data(&mut self, now: Instant, p: &Packet<'_>) {
        let h = &p.header;
        if h.kind == PacketType::Fin && self.eof_seq.is_none() {
            self.eof_seq = Some(h.seq_nr);
        }
        let next = self.ack_nr.wrapping_add(1);
        if seq_le(h.seq_nr, self.ack_nr) {
            // A duplicate: our ACK was lost.
            self.send_state(now);
            return;
        }
        // A peer that ignores our window is not buffered without end: beyond twice the
        // window, and beyond one window of out-of-order data, packets are dropped unacked.
        let buffered = self.recv_buf.len() + self.reorder_bytes;
        if buffered + p.payload.len() > 2 * RECV_BUF {
            return;
        }
        if h.seq_nr == next {
            let was_empty = self.recv_buf.is_empty();
            self.deliver(p.payload);
            self.ack_nr = next;
            while let Some(more) = self.reorder.remove(&self.ack_nr.wrapping_add(1)) {
                self.reorder_bytes -= more.len();
                self.deliver(&more);
                self.ack_nr = self.ack_nr.wrapping_add(1);
            }
            self.ack_pending = true;
            if (was_empty || self.eof_reached())
                && let Some(w) = self.read_waker.take()
            {
                w.wake();
            }
        } else if h.seq_nr.wrapping_sub(next) < MAX_REORDER
            && self.reorder_bytes + p.payload.len() <= RECV_BUF
        {
            if let std::collections::hash_map::Entry::Vacant(e) = self.reorder.entry(h.seq_nr) {
                self.reorder_bytes += p.payload.len();
                e.insert(p.payload.to_vec());
            }
            // Out of order: tell the sender now, with the selective ACK.
            self.send_state(now);
        }
    }

    fn eof_reached(&self) -> bool {
        self.eof_seq == Some(self.ack_nr)
    }

    /// Sends the ACK a batch of data packets earned.
    pub fn flush_ack(&mut self, now: Instant) {
        if self.ack_pending {
            self.send_state(now);
        }
    }

    fn close(&mut self, err: Option<io::ErrorKind>) {
        if !matches!(self.state, State::Closed(_)) {
            self.state = State::Closed(err);
        }
        for w in [
            self.read_waker.take(),
            self.write_waker.take(),
            self.connect_waker.take(),
        ]
        .into_iter()
        .flatten()
        {
            w.wake();
        }
    }

    /// Timers: retransmission, SYN retries, keep-alive, the zero-window probe.
    pub fn on_tick(&mut self, now: Instant) {
        if let Some(at) = self.rto_at
            && now >= at
        {
            self.rto_at = None;
            match self.state {
                State::SynSent => {
                    if self.syns >= MAX_SYNS {
                        self.close(Some(io::ErrorKind::TimedOut));
                    } else {
                        self.send_syn(now);
                    }
                    return;
                }
                State::Connected if !self.inflight.is_empty() => {
                    self.timeouts += 1;
                    if self.timeouts > MAX_TIMEOUTS {
                        self.close(Some(io::ErrorKind::TimedOut));
                        return;
                    }
                    self.ledbat.on_timeout();
                    self.rto = (self.rto * 2).min(MAX_RTO);
                    // Everything unacked is taken for lost; the window (one packet) decides
                    // how much goes again now.
                    for s in self.inflight.iter_mut() {
                        if !s.acked && !s.lost && s.transmissions > 0 {
                            s.lost = true;
                        }
                    }
                    self.flight_bytes = 0;
                    self.loss_seq = self.seq_nr.wrapping_sub(1);
                    if let Some(i) = self.inflight.iter().position(|s| !s.acked) {
                        self.transmit(now, i);
                    }
                }
                _ => {}
            }
        }
        if self.state == State::Connected {
            self.pump(now);
            if now.duration_since(self.last_sent) >= KEEPALIVE {
                self.send_state(now);
            }
        }
    }

    /// When [`Conn::on_tick`] next has something to do.
    pub fn next_deadline(&self) -> Instant {
        let mut at = self.last_sent + KEEPALIVE;
        if let Some(r) = self.rto_at {
            at = at.min(r);
        }
        if let Some(z) = self.zero_window_since {
            at = at.min(z + ZERO_WINDOW_PROBE);
        }
        if let Some(a) = self.abandoned {
            at = at.min(a + LINGER);
        }
        at
    }

    /// Whether the multiplexer can forget this connection.
    pub fn finished(&self, now: Instant) -> bool {
        let Some(at) = self.abandoned else {
            return false;
        };
        match self.state {
            State::Closed(_) => true,
            _ if now.duration_since(at) >= LINGER => true,
            State::SynSent => true,
            State::Connected => self.fin_sent && self.inflight.is_empty(),
        }
    }

    /// The application let go of the stream.
    pub fn abandon(&mut self, now: Instant) {
        if self.abandoned.is_none() {
            self.abandoned = Some(now);
            self.fin_queued = true;
            self.pump(now);
        }
    }

    // The application's side.

    /// Reads into `buf`: `Some(n)` (0 at the end of the stream), or None when nothing is
    /// there yet.
    pub fn read(&mut self, now: Instant, buf: &mut [u8]) -> Option<io::Result<usize>> {
        if !self.recv_buf.is_empty() {
            let n = buf.len().min(self.recv_buf.len());
            copy_front(&self.recv_buf, &mut buf[..n]);
            self.recv_buf.drain(..n);
            if self.window_was_small && (self.window() as usize) >= self.mss * 8 {
                // Tell the sender the window opened again.
                self.send_state(now);
            }
            return Some(Ok(n));
        }
        if self.eof_reached() {
            return Some(Ok(0));
        }
        match self.state {
            State::Closed(Some(e)) => Some(Err(e.into())),
            State::Closed(None) => Some(Ok(0)),
            _ => None,
        }
    }

    /// Queues bytes: `Some(n)`, or None when the send buffer is full.
    pub fn write(&mut self, now: Instant, buf: &[u8]) -> Option<io::Result<usize>> {
        match self.state {
            State::Closed(e) => {
                return Some(Err(e.unwrap_or(io::ErrorKind::BrokenPipe).into()));
            }
            State::SynSent => return None,
            State::Connected => {}
        }
        if self.fin_queued {
            return Some(Err(io::ErrorKind::BrokenPipe.into()));
        }
        let room = SEND_BUF.saturating_sub(self.send_buf.len());
        if room == 0 {
            return None;
        }
        let n = room.min(buf.len());
        self.send_buf.extend(&buf[..n]);
        self.pump(now);
        Some(Ok(n))
    }

    /// Whether everything written has been handed to the network.
    pub fn flushed(&self) -> Option<io::Result<()>> {
        match self.state {
            State::Closed(Some(e)) => Some(Err(e.into())),
            _ if self.send_buf.is_empty() => Some(Ok(())),
            State::Closed(None) => Some(Err(io::ErrorKind::BrokenPipe.into())),
            _ => None,
        }
    }

    /// Queues a FIN after the data; done once it is acknowledged.
    pub fn shutdown(&mut self, now: Instant) -> Option<io::Result<()>> {
        match self.state {
            State::Closed(Some(e)) => return Some(Err(e.into())),
            State::Closed(None) => return Some(Ok(())),
            _ => {}
        }
        self.fin_queued = true;
        self.pump(now);
        (self.fin_sent && self.inflight.is_empty()).then_some(Ok(()))
    }

    /// The smoothed round-trip time, once measured.
    pub fn rtt(&self) -> Option<Duration> {
        self.srtt.map(|(s, _)| s)
    }
}
