//! Datagrams in batches: UDP segmentation offload (GSO) to send a run of equal-sized uTP
//! packets with one system call, and receive offload (GRO) to take several with one.
//!
//! Why: a uTP packet carries at most ~1.4 KB, so a 1 GiB transfer is ~770,000 datagrams. With
//! one `sendto` and one `recvfrom` each, the kernel's per-datagram path (socket, routing,
//! loopback or driver, wake-up) cost more CPU than everything else in a transfer. The packets
//! on the wire are unchanged: the kernel (or the network card) cuts a GSO send into the same
//! datagrams, and a peer without GRO receives them one by one.
//!
//! Linux only (UDP_SEGMENT since 4.18, UDP_GRO since 5.0); elsewhere, or when the kernel
//! refuses, every datagram goes on its own as before.

use std::io::{self, IoSlice};
use std::net::{SocketAddr, UdpSocket};
use std::sync::atomic::{AtomicBool, Ordering};

use socket2::{MsgHdr, SockAddr, SockRef};

/// Linux's `SOL_UDP` level and its `UDP_SEGMENT` / `UDP_GRO` options (linux/udp.h); the libc
/// crate names them only for some targets.
#[cfg(target_os = "linux")]
const SOL_UDP: i32 = 17;
#[cfg(target_os = "linux")]
const UDP_SEGMENT: i32 = 103;
#[cfg(target_os = "linux")]
const UDP_GRO: i32 = 104;

/// The kernel takes at most 64 segments per GSO send (UDP_MAX_SEGMENTS before Linux 6.9),
/// and at most 64 KiB in all.
const MAX_SEGMENTS: usize = 64;
const MAX_GSO_BYTES: usize = 65_000;

/// `struct cmsghdr` is a `size_t` length and two ints; its data starts aligned to `size_t`.
const CMSG_HDR: usize = std::mem::size_of::<usize>() + 8;
/// Room for one control message with `len` bytes of data, as CMSG_SPACE rounds it.
const fn cmsg_space(len: usize) -> usize {
    let a = std::mem::size_of::<usize>();
    CMSG_HDR + len.div_ceil(a) * a
}
/// A receive control buffer: one UDP_GRO message (an int), with room to spare.
pub const RECV_CONTROL: usize = cmsg_space(4) * 2;

/// Sends datagrams to one address, the equal-sized runs as GSO batches.
pub struct Sender {
    gso: AtomicBool,
}

impl Default for Sender {
    fn default() -> Self {
        Sender {
            gso: AtomicBool::new(cfg!(target_os = "linux")),
        }
    }
}

impl Sender {
    /// Sends every datagram in `pkts` to `to`. A full socket buffer drops what did not fit,
    /// as the network could; retransmission covers it.
    pub fn send_all(&self, sock: &UdpSocket, to: SocketAddr, pkts: &[Vec<u8>]) {
        let mut i = 0;
        while i < pkts.len() {
            let run = self.run_len(&pkts[i..]);
            if run >= 2 {
                match send_segmented(sock, to, &pkts[i..i + run]) {
                    Ok(()) => {
                        i += run;
                        continue;
                    }
                    Err(e) if e.kind() == io::ErrorKind::WouldBlock => return,
                    Err(e) => {
                        // No GSO here (an old kernel, a device that can't checksum it): say
                        // so once and send one by one from now on.
                        tracing::debug!("uTP: UDP segmentation offload refused ({e}); off");
                        self.gso.store(false, Ordering::Relaxed);
                    }
                }
            }
            if let Err(e) = sock.send_to(&pkts[i], to)
                && e.kind() == io::ErrorKind::WouldBlock
            {
                return;
            }
            i += 1;
        }
    }

    /// How many datagrams from the start of `pkts` can go as one GSO send: all the size of
    /// the first, the last of them possibly shorter.
    fn run_len(&self, pkts: &[Vec<u8>]) -> usize {
        if !self.gso.load(Ordering::Relaxed) {
            return 1;
        }
        let Some(first) = pkts.first() else {
            return 0;
        };
        let seg = first.len();
        let mut n = 1;
        let mut bytes = seg;
        while n < pkts.len().min(MAX_SEGMENTS) {
            let len = pkts[n].len();
            if len > seg || bytes + len > MAX_GSO_BYTES {
                break;
            }
            n += 1;
            bytes += len;
            if len < seg {
                break;
            }
        }
        n
    }
}

/// One `sendmsg` carrying `pkts` back to back, with UDP_SEGMENT set to the first one's size.
#[cfg(target_os = "linux")]
fn send_segmented(sock: &UdpSocket, to: SocketAddr, pkts: &[Vec<u8>]) -> io::Result<()> {
    let seg = u16::try_from(pkts.first().map_or(0, Vec::len))
        .map_err(|_| io::Error::from(io::ErrorKind::InvalidInput))?;
    let mut control = [0u8; cmsg_space(2)];
    control[..std::mem::size_of::<usize>()].copy_from_slice(&(CMSG_HDR + 2).to_ne_bytes());
    let at = std::mem::size_of::<usize>();
    control[at..at + 4].copy_from_slice(&SOL_UDP.to_ne_bytes());
    control[at + 4..at + 8].copy_from_slice(&UDP_SEGMENT.to_ne_bytes());
    control[CMSG_HDR..CMSG_HDR + 2].copy_from_slice(&seg.to_ne_bytes());
    let bufs: Vec<IoSlice<'_>> = pkts.iter().map(|p| IoSlice::new(p)).collect();
    let addr = SockAddr::from(to);
    let msg = MsgHdr::new()
        .with_addr(&addr)
        .with_buffers(&bufs)
        .with_control(&control);
    SockRef::from(sock).sendmsg(&msg, 0).map(|_| ())
}

#[cfg(not(target_os = "linux"))]
fn send_segmented(_: &UdpSocket, _: SocketAddr, _: &[Vec<u8>]) -> io::Result<()> {
    Err(io::ErrorKind::Unsupported.into())
}

/// Asks the kernel to hand over runs of datagrams from one sender in one read (UDP_GRO).
/// Returns whether it agreed; without it each read is one datagram.
pub fn enable_gro(sock: &socket2::Socket) -> bool {
    #[cfg(target_os = "linux")]
    {
        let one: libc::c_int = 1;
        // SAFETY: setsockopt reads `size_of::<c_int>()` bytes from a live local.
        let rc = unsafe {
            libc::setsockopt(
                std::os::fd::AsRawFd::as_raw_fd(sock),
                SOL_UDP,
                UDP_GRO,
                (&raw const one).cast(),
                std::mem::size_of::<libc::c_int>() as libc::socklen_t,
            )
        };
        rc == 0
    }
    #[cfg(not(target_os = "linux"))]
    {
        let _ = sock;
        false
    }
}

/// Reads what the socket has: one datagram, or with GRO several from one sender back to back.
/// Returns the bytes read, the sender, and the segment size when there were several.
pub fn recv(
    sock: &impl std::os::fd::AsFd,
    buf: &mut [u8],
) -> io::Result<(usize, SocketAddr, Option<usize>)> {
    use std::mem::MaybeUninit;
    // Room for either family's address (the kernel writes the sender's).
    let mut addr = SockAddr::from(SocketAddr::from((std::net::Ipv6Addr::UNSPECIFIED, 0)));
    let mut control = [MaybeUninit::<u8>::uninit(); RECV_CONTROL];
    // SAFETY: `u8` and `MaybeUninit<u8>` have one layout, and the kernel only writes
    // initialised bytes into the buffer.
    let data: &mut [MaybeUninit<u8>] =
        unsafe { &mut *(std::ptr::from_mut::<[u8]>(buf) as *mut [MaybeUninit<u8>]) };
    let mut bufs = [socket2::MaybeUninitSlice::new(data)];
    let mut msg = socket2::MsgHdrMut::new()
        .with_addr(&mut addr)
        .with_buffers(&mut bufs)
        .with_control(&mut control);
    let n = SockRef::from(sock).recvmsg(&mut msg, 0)?;
    let clen = msg.control_len().min(RECV_CONTROL);
    let from = addr.as_socket().ok_or_else(|| {
        io::Error::new(io::ErrorKind::InvalidData, "datagram from a non-IP address")
    })?;
    // SAFETY: the kernel wrote the first `clen` bytes of the control buffer.
    let control: Vec<u8> = control[..clen]
        .iter()
        .map(|b| unsafe { b.assume_init() })
        .collect();
    Ok((n, from, gro_segment(&control).filter(|&s| s < n)))
}

/// The segment size a GRO read reported in its control messages: the read holds datagrams
/// of that size back to back (the last may be shorter). `None`: one datagram.
pub fn gro_segment(control: &[u8]) -> Option<usize> {
    #[cfg(target_os = "linux")]
    {
        let word = std::mem::size_of::<usize>();
        let mut at = 0;
        while at + CMSG_HDR <= control.len() {
            let len = usize::from_ne_bytes(control[at..at + word].try_into().ok()?);
            let level = i32::from_ne_bytes(control[at + word..at + word + 4].try_into().ok()?);
            let kind = i32::from_ne_bytes(control[at + word + 4..at + word + 8].try_into().ok()?);
            if len < CMSG_HDR || at + len > control.len() {
                return None;
            }
            if level == SOL_UDP && kind == UDP_GRO && len >= CMSG_HDR + 4 {
                let d = at + CMSG_HDR;
                let seg = i32::from_ne_bytes(control[d..d + 4].try_into().ok()?);
                return usize::try_from(seg).ok().filter(|&s| s > 0);
            }
            at += len.div_ceil(word) * word;
        }
        None
    }
    #[cfg(not(target_os = "linux"))]
    {
        let _ = control;
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pkts(sizes: &[usize]) -> Vec<Vec<u8>> {
        sizes
            .iter()
            .enumerate()
            .map(|(i, &n)| vec![i as u8; n])
            .collect()
    }

    #[test]
    fn runs_are_equal_sized_with_a_shorter_tail() {
        let s = Sender::default();
        if !s.gso.load(Ordering::Relaxed) {
            return;
        }
        assert_eq!(s.run_len(&pkts(&[1400, 1400, 1400, 20, 1400])), 4);
        assert_eq!(s.run_len(&pkts(&[20, 1400])), 1);
        assert_eq!(s.run_len(&pkts(&[1400; 100])), 46);
        assert_eq!(s.run_len(&pkts(&[100; 100])), MAX_SEGMENTS);
    }

    /// A GSO batch reaches a plain socket as the separate datagrams it stands for, in order.
    #[test]
    fn a_batch_arrives_as_its_datagrams() {
        let rx = UdpSocket::bind("127.0.0.1:0").unwrap();
        let tx = UdpSocket::bind("127.0.0.1:0").unwrap();
        let sizes = [1400, 1400, 1400, 1400, 700, 1400, 33];
        let sent = pkts(&sizes);
        Sender::default().send_all(&tx, rx.local_addr().unwrap(), &sent);
        let mut buf = [0u8; 2048];
        for want in &sent {
            let n = rx.recv(&mut buf).unwrap();
            assert_eq!(&buf[..n], &want[..]);
        }
    }

    /// With GRO on, a reader gets the batch back (in one read where the kernel coalesces) and
    /// the segment size splits it into the very datagrams sent.
    #[test]
    fn a_gro_reader_splits_a_batch_into_its_datagrams() {
        use socket2::{Domain, Protocol, Socket, Type};
        let rx = Socket::new(Domain::IPV4, Type::DGRAM, Some(Protocol::UDP)).unwrap();
        rx.bind(&SocketAddr::from(([127, 0, 0, 1], 0)).into())
            .unwrap();
        let gro = enable_gro(&rx);
        let rx: UdpSocket = rx.into();
        let tx = UdpSocket::bind("127.0.0.1:0").unwrap();
        let sent = pkts(&[1200, 1200, 1200, 1200, 1200, 500]);
        Sender::default().send_all(&tx, rx.local_addr().unwrap(), &sent);
        let mut got: Vec<Vec<u8>> = Vec::new();
        let mut reads = 0;
        let mut buf = vec![0u8; 65536];
        while got.len() < sent.len() {
            let (n, from, seg) = recv(&rx, &mut buf).unwrap();
            assert_eq!(from, tx.local_addr().unwrap());
            reads += 1;
            for d in buf[..n].chunks(seg.unwrap_or(n)) {
                got.push(d.to_vec());
            }
        }
        assert_eq!(got, sent);
        if gro && cfg!(target_os = "linux") {
            assert!(
                reads < sent.len(),
                "GRO on, yet {reads} reads for {} datagrams",
                sent.len()
            );
        }
    }

    #[test]
    fn control_messages_that_lie_about_their_length_are_ignored() {
        let mut c = vec![0u8; RECV_CONTROL];
        c[..std::mem::size_of::<usize>()].copy_from_slice(&usize::MAX.to_ne_bytes());
        assert_eq!(gro_segment(&c), None);
        assert_eq!(gro_segment(&[1, 2, 3]), None);
    }
}
