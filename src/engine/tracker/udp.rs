//! UDP tracker announces (BEP 15).

use std::collections::HashMap;
use std::net::{Ipv4Addr, Ipv6Addr, SocketAddr};
use std::sync::{LazyLock, Mutex};
use std::time::{Duration, Instant};

use tokio::net::UdpSocket;
use tokio::time::timeout_at;

use super::http::{compact_v4, compact_v6};
use super::{AnnounceRequest, AnnounceResponse, ReplyError, TrackerError};

/// The protocol id every connect request starts with.
pub const PROTOCOL_ID: u64 = 0x0417_2710_1980;
const ACTION_CONNECT: u32 = 0;
const ACTION_ANNOUNCE: u32 = 1;
const ACTION_ERROR: u32 = 3;

/// BEP 15: a connection id may be used for one minute after it was received.
const CONN_ID_TTL: Duration = Duration::from_secs(60);
/// First retransmission wait; doubled on each retry (BEP 15 uses 15 s, far too slow for a
/// client whose callers give a whole announce a few seconds).
const FIRST_WAIT: Duration = Duration::from_secs(1);
/// Replies larger than this are truncated by the kernel; a full 200-peer IPv6 reply is 3.6 KiB.
const RECV_BUF: usize = 8192;

/// Connection ids by tracker address, shared by all torrents so one connect serves many
/// announces within the minute.
static CONN_CACHE: LazyLock<Mutex<HashMap<SocketAddr, (u64, Instant)>>> =
    LazyLock::new(|| Mutex::new(HashMap::new()));

fn cached_conn_id(addr: SocketAddr) -> Option<u64> {
    let mut cache = CONN_CACHE.lock().unwrap_or_else(|p| p.into_inner());
    cache.retain(|_, (_, t)| t.elapsed() < CONN_ID_TTL);
    cache.get(&addr).map(|(id, _)| *id)
}

fn store_conn_id(addr: SocketAddr, id: Option<u64>) {
    let mut cache = CONN_CACHE.lock().unwrap_or_else(|p| p.into_inner());
    match id {
        Some(id) => cache.insert(addr, (id, Instant::now())),
        None => cache.remove(&addr),
    };
}

/// `udp://host:port[/anything]` → (host, port). The path (BEP 41 URL data) is ignored.
fn host_port(url: &str) -> Result<(String, u16), TrackerError> {
    let bad = |reason: &str| TrackerError::BadUrl {
        url: url.to_string(),
        reason: reason.to_string(),
    };
    let parsed = url::Url::parse(url).map_err(|e| bad(&e.to_string()))?;
    let host = match parsed.host() {
        Some(url::Host::Domain(d)) => d.to_string(),
        Some(url::Host::Ipv4(a)) => a.to_string(),
        Some(url::Host::Ipv6(a)) => a.to_string(),
        None => return Err(bad("no host")),
    };
    let port = parsed.port().ok_or_else(|| bad("no port"))?;
    if port == 0 {
        return Err(bad("port 0"));
    }
    Ok((host, port))
}

/// The BEP 15 connect request.
pub fn connect_packet(tid: u32) -> [u8; 16] {
    let mut p = [0u8; 16];
    p[..8].copy_from_slice(&PROTOCOL_ID.to_be_bytes());
    p[8..12].copy_from_slice(&ACTION_CONNECT.to_be_bytes());
    p[12..].copy_from_slice(&tid.to_be_bytes());
    p
}

/// The BEP 15 announce request (98 bytes).
pub fn announce_packet(conn_id: u64, tid: u32, req: &AnnounceRequest) -> Vec<u8> {
    let mut p = Vec::with_capacity(98);
    p.extend_from_slice(&conn_id.to_be_bytes());
    p.extend_from_slice(&ACTION_ANNOUNCE.to_be_bytes());
    p.extend_from_slice(&tid.to_be_bytes());
    p.extend_from_slice(&req.info_hash.0);
    p.extend_from_slice(&req.peer_id.0);
    p.extend_from_slice(&req.downloaded.to_be_bytes());
    p.extend_from_slice(&req.left.to_be_bytes());
    p.extend_from_slice(&req.uploaded.to_be_bytes());
    p.extend_from_slice(&req.event.udp_code().to_be_bytes());
    p.extend_from_slice(&0u32.to_be_bytes()); // IP: 0 = the sender's address
    p.extend_from_slice(&req.key.to_be_bytes());
    // num_want is signed on the wire; -1 means "tracker default".
    let nw = i32::try_from(req.num_want).unwrap_or(i32::MAX);
    p.extend_from_slice(&nw.to_be_bytes());
    p.extend_from_slice(&req.port.to_be_bytes());
    p
}

fn be32(b: &[u8], at: usize) -> Option<u32> {
    let s = b.get(at..at + 4)?;
    Some(u32::from_be_bytes([s[0], s[1], s[2], s[3]]))
}

fn be64(b: &[u8], at: usize) -> Option<u64> {
    let s = b.get(at..at + 8)?;
    let mut a = [0u8; 8];
    a.copy_from_slice(s);
    Some(u64::from_be_bytes(a))
}

/// `Ok(None)`: not a reply to our transaction (a stray or late datagram), keep waiting.
type Parsed<T> = Result<Option<T>, ReplyError>;

/// Header check shared by both replies: transaction id, then action (error or expected).
fn check_header(b: &[u8], tid: u32, action: u32) -> Parsed<()> {
    let (Some(act), Some(t)) = (be32(b, 0), be32(b, 4)) else {
        return Ok(None);
    };
    if t != tid {
        return Ok(None);
    }
    if act == ACTION_ERROR {
        let msg = String::from_utf8_lossy(b.get(8..).unwrap_or_default());
        return Err(ReplyError::Failure(msg.trim_end_matches('\0').to_string()));
    }
    if act != action {
        return Err(ReplyError::Malformed(format!(
            "action {act} in reply, expected {action}"
        )));
    }
    Ok(Some(()))
}

/// Parse a connect reply. Never panics.
pub fn parse_connect_reply(b: &[u8], tid: u32) -> Parsed<u64> {
    if check_header(b, tid, ACTION_CONNECT)?.is_none() {
        return Ok(None);
    }
    be64(b, 8)
        .map(Some)
        .ok_or_else(|| ReplyError::Malformed(format!("connect reply of {} bytes", b.len())))
}

/// Parse an announce reply; `v6` selects 18-byte peers (BEP 15: an IPv6 tracker answers with
/// IPv6 peers). Never panics. Unlike the HTTP reply this stays on the async task: a datagram
/// is at most `RECV_BUF` bytes of fixed-size records, read in one linear pass (microseconds),
/// less than handing it to the blocking pool would cost.
pub fn parse_announce_reply(b: &[u8], tid: u32, v6: bool) -> Parsed<AnnounceResponse> {
    if check_header(b, tid, ACTION_ANNOUNCE)?.is_none() {
        return Ok(None);
    }
    let (Some(interval), Some(leechers), Some(seeders)) = (be32(b, 8), be32(b, 12), be32(b, 16))
    else {
        return Err(ReplyError::Malformed(format!(
            "announce reply of {} bytes",
            b.len()
        )));
    };
    let rest = b.get(20..).unwrap_or_default();
    let peers = if v6 {
        compact_v6(rest).collect()
    } else {
        compact_v4(rest).collect()
    };
    Ok(Some(AnnounceResponse {
        interval: Duration::from_secs(u64::from(interval)),
        min_interval: None,
        peers,
        seeders: Some(seeders),
        leechers: Some(leechers),
        warning: None,
    }))
}

enum Step<T> {
    Done(T),
    Refused(ReplyError),
    TimedOut,
}

/// Send `packet`, wait for a reply accepted by `parse`, retransmitting with a doubling wait
/// (starting at `*wait`, carried across calls) until `deadline`.
async fn exchange<T>(
    sock: &UdpSocket,
    packet: &[u8],
    deadline: tokio::time::Instant,
    wait: &mut Duration,
    parse: impl Fn(&[u8]) -> Parsed<T>,
) -> Result<Step<T>, std::io::Error> {
    let mut buf = vec![0u8; RECV_BUF];
    loop {
        if tokio::time::Instant::now() >= deadline {
            return Ok(Step::TimedOut);
        }
        sock.send(packet).await?;
        let until = (tokio::time::Instant::now() + *wait).min(deadline);
        loop {
            match timeout_at(until, sock.recv(&mut buf)).await {
                Err(_) => break, // retransmit
                // ICMP port unreachable shows up as ConnectionRefused on a connected socket:
                // the tracker is down, so keep retrying until the deadline like a lost packet
                // (the tracker may be restarting), but do not spin.
                Ok(Err(e)) if e.kind() == std::io::ErrorKind::ConnectionRefused => {
                    tokio::time::sleep_until(until).await;
                    break;
                }
                Ok(Err(e)) => return Err(e),
                Ok(Ok(n)) => match parse(&buf[..n]) {
                    Ok(Some(v)) => return Ok(Step::Done(v)),
                    Ok(None) => continue,
                    Err(e) => return Ok(Step::Refused(e)),
                },
            }
        }
        *wait = wait.saturating_mul(2);
    }
}

/// One UDP announce, bounded by `timeout` overall.
pub async fn announce(
    url: &str,
    req: &AnnounceRequest,
    timeout: Duration,
) -> Result<AnnounceResponse, TrackerError> {
    let deadline = tokio::time::Instant::now() + timeout;
    let timed_out = || TrackerError::Timeout {
        url: url.to_string(),
        timeout,
    };
    let (host, port) = host_port(url)?;
    let addr = match timeout_at(deadline, tokio::net::lookup_host((host.as_str(), port))).await {
        Err(_) => return Err(timed_out()),
        Ok(Err(e)) => return Err(TrackerError::network(url, format!("resolving {host}: {e}"))),
        Ok(Ok(mut addrs)) => match addrs.next() {
            Some(a) => a,
            None => return Err(TrackerError::network(url, format!("{host} has no address"))),
        },
    };
    let bind: SocketAddr = if addr.is_ipv6() {
        (Ipv6Addr::UNSPECIFIED, 0).into()
    } else {
        (Ipv4Addr::UNSPECIFIED, 0).into()
    };
    let io = |e: std::io::Error| TrackerError::network(url, e);
    let sock = UdpSocket::bind(bind).await.map_err(io)?;
    sock.connect(addr).await.map_err(io)?;

    let mut wait = FIRST_WAIT;
    // A cached id the tracker no longer accepts earns one fresh connect, no more.
    let mut may_reconnect = true;
    loop {
        let (conn_id, from_cache) = match cached_conn_id(addr) {
            Some(id) => (id, true),
            None => {
                let tid: u32 = rand::random();
                let pkt = connect_packet(tid);
                match exchange(&sock, &pkt, deadline, &mut wait, |b| {
                    parse_connect_reply(b, tid)
                })
                .await
                .map_err(io)?
                {
                    Step::Done(id) => {
                        store_conn_id(addr, Some(id));
                        (id, false)
                    }
                    Step::Refused(e) => return Err(TrackerError::from_reply(url, e)),
                    Step::TimedOut => return Err(timed_out()),
                }
            }
        };
        let tid: u32 = rand::random();
        let pkt = announce_packet(conn_id, tid, req);
        let v6 = addr.is_ipv6();
        match exchange(&sock, &pkt, deadline, &mut wait, |b| {
            parse_announce_reply(b, tid, v6)
        })
        .await
        .map_err(io)?
        {
            Step::Done(r) => return Ok(r),
            Step::Refused(e) => {
                if from_cache && may_reconnect {
                    store_conn_id(addr, None);
                    may_reconnect = false;
                    continue;
                }
                return Err(TrackerError::from_reply(url, e));
            }
            Step::TimedOut => {
                // The id may have expired at the tracker and its refusal been lost; forget it.
                store_conn_id(addr, None);
                return Err(timed_out());
            }
        }
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::engine::tracker::AnnounceEvent;
    use crate::engine::types::{InfoHash, PeerId};
    use std::sync::Arc;
    use std::sync::atomic::{AtomicUsize, Ordering};

    #[derive(Clone, Copy, PartialEq, Eq)]
    pub(crate) enum Behaviour {
        Normal,
        /// Ignore the first N datagrams (loss), then behave normally.
        DropFirst(usize),
        /// Answer every announce with an action-3 error.
        Refuse,
        /// Answer with a wrong transaction id first, then the right one.
        StrayFirst,
        /// Never answer.
        Silent,
    }

    /// An in-process BEP 15 tracker on loopback that returns two fixed peers.
    pub(crate) struct FakeUdpTracker {
        pub addr: SocketAddr,
        pub received: Arc<AtomicUsize>,
        pub connects: Arc<AtomicUsize>,
        task: tokio::task::JoinHandle<()>,
    }

    impl Drop for FakeUdpTracker {
        fn drop(&mut self) {
            self.task.abort();
        }
    }

    impl FakeUdpTracker {
        pub(crate) async fn start(b: Behaviour) -> Self {
            Self::start_on("127.0.0.1:0", b).await
        }

        /// On `bind`; bound to IPv6 it answers with IPv6 peers (18-byte entries), as BEP 15
        /// has a tracker reached over IPv6 do.
        pub(crate) async fn start_on(bind: &str, b: Behaviour) -> Self {
            let sock = UdpSocket::bind(bind).await.unwrap();
            let addr = sock.local_addr().unwrap();
            let v6 = addr.is_ipv6();
            let received = Arc::new(AtomicUsize::new(0));
            let connects = Arc::new(AtomicUsize::new(0));
            let (r, c) = (received.clone(), connects.clone());
            let task = tokio::spawn(async move {
                let mut buf = [0u8; 2048];
                loop {
                    let Ok((n, from)) = sock.recv_from(&mut buf).await else {
                        return;
                    };
                    let seen = r.fetch_add(1, Ordering::SeqCst);
                    let p = &buf[..n];
                    let tid = &p[12..16];
                    let action = u32::from_be_bytes(p[8..12].try_into().unwrap());
                    match b {
                        Behaviour::Silent => continue,
                        Behaviour::DropFirst(k) if seen < k => continue,
                        _ => {}
                    }
                    let mut out = Vec::new();
                    if action == 0 {
                        c.fetch_add(1, Ordering::SeqCst);
                        out.extend_from_slice(&0u32.to_be_bytes());
                        out.extend_from_slice(tid);
                        out.extend_from_slice(&0x1122_3344_5566_7788u64.to_be_bytes());
                    } else if b == Behaviour::Refuse {
                        out.extend_from_slice(&3u32.to_be_bytes());
                        out.extend_from_slice(tid);
                        out.extend_from_slice(b"not on my watch\0");
                    } else {
                        assert_eq!(n, 98);
                        assert_eq!(&p[..8], &0x1122_3344_5566_7788u64.to_be_bytes());
                        if b == Behaviour::StrayFirst {
                            let mut stray = vec![0, 0, 0, 1];
                            stray.extend_from_slice(&[9, 9, 9, 9]);
                            stray.extend_from_slice(&[0; 12]);
                            sock.send_to(&stray, from).await.unwrap();
                        }
                        out.extend_from_slice(&1u32.to_be_bytes());
                        out.extend_from_slice(tid);
                        out.extend_from_slice(&1800u32.to_be_bytes());
                        out.extend_from_slice(&4u32.to_be_bytes());
                        out.extend_from_slice(&2u32.to_be_bytes());
                        if v6 {
                            out.extend_from_slice(&Ipv6Addr::LOCALHOST.octets());
                            out.extend_from_slice(&[0x1a, 0xe1]);
                            out.extend_from_slice(&"fd00::2".parse::<Ipv6Addr>().unwrap().octets());
                        } else {
                            out.extend_from_slice(&[127, 0, 0, 1, 0x1a, 0xe1]);
                            out.extend_from_slice(&[127, 0, 0, 2]);
                        }
                        // port echoed back from the request
                        out.extend_from_slice(&p[96..98]);
                    }
                    let _ = sock.send_to(&out, from).await;
                }
            });
            FakeUdpTracker {
                addr,
                received,
                connects,
                task,
            }
        }

        pub(crate) fn url(&self) -> String {
            format!("udp://{}/announce", self.addr)
        }
    }

    fn req() -> AnnounceRequest {
        AnnounceRequest {
            info_hash: InfoHash([3; 20]),
            peer_id: PeerId([b'p'; 20]),
            port: 7001,
            uploaded: 5,
            downloaded: 6,
            left: 7,
            event: AnnounceEvent::Completed,
            num_want: 30,
            key: 99,
        }
    }

    #[test]
    fn packets_layout() {
        let c = connect_packet(0xabcd);
        assert_eq!(&c[..8], &[0, 0, 4, 0x17, 0x27, 0x10, 0x19, 0x80]);
        assert_eq!(&c[12..], &[0, 0, 0xab, 0xcd]);
        let a = announce_packet(1, 2, &req());
        assert_eq!(a.len(), 98);
        assert_eq!(be32(&a, 80), Some(1)); // completed
        assert_eq!(be32(&a, 88), Some(99)); // key
        assert_eq!(be32(&a, 92), Some(30)); // num_want
        assert_eq!(&a[96..], &7001u16.to_be_bytes());
    }

    #[test]
    fn replies_validate_ids_and_errors() {
        let mut r = vec![0, 0, 0, 0, 0, 0, 0, 7];
        r.extend_from_slice(&42u64.to_be_bytes());
        assert_eq!(parse_connect_reply(&r, 7), Ok(Some(42)));
        assert_eq!(parse_connect_reply(&r, 8), Ok(None));
        assert!(parse_connect_reply(&r[..12], 7).is_err());
        assert_eq!(parse_connect_reply(&r[..3], 7), Ok(None));
        let err = [0, 0, 0, 3, 0, 0, 0, 7, b'n', b'o', 0];
        assert_eq!(
            parse_connect_reply(&err, 7),
            Err(ReplyError::Failure("no".into()))
        );
        assert!(matches!(
            parse_announce_reply(&r, 7, false),
            Err(ReplyError::Malformed(_))
        ));
        let mut a = vec![0, 0, 0, 1, 0, 0, 0, 7, 0, 0, 0, 60, 0, 0, 0, 1, 0, 0, 0, 2];
        a.extend_from_slice(&[0; 18]);
        a[37] = 9;
        let v4 = parse_announce_reply(&a, 7, false).unwrap().unwrap();
        assert_eq!(v4.peers, ["0.0.0.0:9".parse().unwrap()]); // 3 × 6 bytes, two with port 0
        let v6 = parse_announce_reply(&a, 7, true).unwrap().unwrap();
        assert_eq!(v6.peers, ["[::]:9".parse().unwrap()]);
        assert_eq!((v4.seeders, v4.leechers), (Some(2), Some(1)));
        for n in 0..a.len() {
            let _ = parse_announce_reply(&a[..n], 7, false);
        }
    }

    proptest::proptest! {
        #[test]
        fn parsers_never_panic(bytes in proptest::collection::vec(proptest::num::u8::ANY, 0..256), tid in 0u32..4) {
            let _ = parse_connect_reply(&bytes, tid);
            let _ = parse_announce_reply(&bytes, tid, false);
            let _ = parse_announce_reply(&bytes, tid, true);
        }
    }

    #[tokio::test]
    async fn announce_and_cache_conn_id() {
        let t = FakeUdpTracker::start(Behaviour::StrayFirst).await;
        let r = announce(&t.url(), &req(), Duration::from_secs(5))
            .await
            .unwrap();
        assert_eq!(r.interval, Duration::from_secs(1800));
        assert_eq!((r.seeders, r.leechers), (Some(2), Some(4)));
        let peers: Vec<String> = r.peers.iter().map(|p| p.to_string()).collect();
        assert_eq!(peers, ["127.0.0.1:6881", "127.0.0.2:7001"]);
        announce(&t.url(), &req(), Duration::from_secs(5))
            .await
            .unwrap();
        assert_eq!(t.connects.load(Ordering::SeqCst), 1, "conn id reused");
    }

    #[tokio::test]
    async fn announce_over_ipv6() {
        // BEP 15 over IPv6: the socket is IPv6 and the peers come as 18-byte entries.
        let t = FakeUdpTracker::start_on("[::1]:0", Behaviour::Normal).await;
        let url = format!("udp://{}/announce", t.addr);
        assert!(url.starts_with("udp://[::1]:"), "{url}");
        let r = announce(&url, &req(), Duration::from_secs(5))
            .await
            .unwrap();
        let peers: Vec<String> = r.peers.iter().map(|p| p.to_string()).collect();
        assert_eq!(peers, ["[::1]:6881", "[fd00::2]:7001"]);
    }

    #[tokio::test]
    async fn retries_with_doubling() {
        // First two datagrams lost: connect is sent at 0 s, 1 s, 3 s.
        let t = FakeUdpTracker::start(Behaviour::DropFirst(2)).await;
        let r = announce(&t.url(), &req(), Duration::from_secs(10)).await;
        assert!(r.is_ok(), "{r:?}");
        assert_eq!(t.received.load(Ordering::SeqCst), 4);
    }

    #[tokio::test]
    async fn refusal_and_timeout_name_url() {
        let t = FakeUdpTracker::start(Behaviour::Refuse).await;
        let e = announce(&t.url(), &req(), Duration::from_secs(5))
            .await
            .unwrap_err();
        assert_eq!(
            e.to_string(),
            format!("tracker {}: refused the announce: not on my watch", t.url())
        );
        let t = FakeUdpTracker::start(Behaviour::Silent).await;
        let t0 = Instant::now();
        let e = announce(&t.url(), &req(), Duration::from_millis(1500))
            .await
            .unwrap_err();
        assert!(matches!(e, TrackerError::Timeout { .. }), "{e}");
        assert!(t0.elapsed() < Duration::from_millis(2500));
        // 0 s, then 1 s: two sends inside 1.5 s.
        assert_eq!(t.received.load(Ordering::SeqCst), 2);
        let e = announce("udp://127.0.0.1/x", &req(), Duration::from_secs(1))
            .await
            .unwrap_err();
        assert!(matches!(e, TrackerError::BadUrl { .. }), "{e}");
    }
}
