//! HTTP(S) tracker announces (BEP 3), compact peers (BEP 23) and `peers6` (BEP 7).

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::sync::OnceLock;
use std::time::Duration;

use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, percent_encode};

use super::{AnnounceRequest, AnnounceResponse, DEFAULT_INTERVAL, ReplyError, TrackerError};
use crate::bencode::{self, Value};

/// A tracker reply larger than this is refused: real replies are a few KiB (200 compact peers
/// are 1.2 KiB), and an unbounded read would let a hostile tracker exhaust memory.
pub const MAX_REPLY: u64 = 2 * 1024 * 1024;

/// RFC 3986 unreserved characters stay as they are; everything else is %XX, which is what
/// trackers expect for the raw 20-byte info_hash and peer_id.
const QUERY: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'.')
    .remove(b'_')
    .remove(b'~');

/// The full announce URL with the BEP 3 query appended (after `&` if the announce URL
/// already carries a query string, as private trackers' passkey URLs often do).
pub fn announce_url(base: &str, req: &AnnounceRequest) -> String {
    // A fragment would swallow our query; trackers never use one, so drop it.
    let base = base.split('#').next().unwrap_or(base);
    let sep = if !base.contains('?') {
        "?"
    } else if base.ends_with('?') || base.ends_with('&') {
        ""
    } else {
        "&"
    };
    let mut url = format!(
        "{base}{sep}info_hash={}&peer_id={}&port={}&uploaded={}&downloaded={}&left={}&compact=1&numwant={}&key={:08x}",
        percent_encode(&req.info_hash.0, QUERY),
        percent_encode(&req.peer_id.0, QUERY),
        req.port,
        req.uploaded,
        req.downloaded,
        req.left,
        req.num_want,
        req.key,
    );
    if let Some(ev) = req.event.http_name() {
        url.push_str("&event=");
        url.push_str(ev);
    }
    url
}

fn agent() -> &'static ureq::Agent {
    static AGENT: OnceLock<ureq::Agent> = OnceLock::new();
    AGENT.get_or_init(|| {
        ureq::Agent::config_builder()
            // Status is checked by us so the error names the status and the tracker.
            .http_status_as_error(false)
            .max_redirects(5)
            .user_agent(concat!("bidtorrent/", env!("CARGO_PKG_VERSION")))
            .build()
            .into()
    })
}

/// One HTTP(S) announce. ureq is blocking, so it runs on the blocking pool, bounded by ureq's
/// global timeout and, as a backstop, by a tokio timeout slightly longer. The reply is parsed
/// there too: it may be up to [`MAX_REPLY`] of a hostile tracker's choosing, and decoding it
/// must never hold up an async worker that serves peers.
pub async fn announce(
    url: &str,
    req: &AnnounceRequest,
    timeout: Duration,
) -> Result<AnnounceResponse, TrackerError> {
    let full = announce_url(url, req);
    let owned_url = url.to_string();
    let task = tokio::task::spawn_blocking(move || {
        let body = fetch(&owned_url, &full, timeout)?;
        parse_reply(&body).map_err(|e| TrackerError::from_reply(&owned_url, e))
    });
    match tokio::time::timeout(timeout + Duration::from_millis(500), task).await {
        Err(_) => Err(TrackerError::Timeout {
            url: url.to_string(),
            timeout,
        }),
        Ok(Err(join)) => Err(TrackerError::network(url, join)),
        Ok(Ok(r)) => r,
    }
}

fn fetch(url: &str, full: &str, timeout: Duration) -> Result<Vec<u8>, TrackerError> {
    let map = |e: ureq::Error| match e {
        ureq::Error::Timeout(_) => TrackerError::Timeout {
            url: url.to_string(),
            timeout,
        },
        ureq::Error::BodyExceedsLimit(n) => TrackerError::BadReply {
            url: url.to_string(),
            reason: format!("reply larger than {n} bytes"),
        },
        ureq::Error::Http(_) | ureq::Error::BadUri(_) => TrackerError::BadUrl {
            url: url.to_string(),
            reason: e.to_string(),
        },
        other => TrackerError::network(url, other),
    };
    let mut resp = agent()
        .get(full)
        .config()
        .timeout_global(Some(timeout))
        .build()
        .call()
        .map_err(map)?;
    let status = resp.status().as_u16();
    if status != 200 {
        return Err(TrackerError::HttpStatus {
            url: url.to_string(),
            status,
        });
    }
    resp.body_mut()
        .with_config()
        .limit(MAX_REPLY)
        .read_to_vec()
        .map_err(map)
}

fn secs(v: i64) -> Duration {
    Duration::from_secs(v.max(0) as u64)
}

/// Parse a bencoded announce reply. Never panics, whatever the bytes.
pub fn parse_reply(body: &[u8]) -> Result<AnnounceResponse, ReplyError> {
    let value = bencode::decode(body).map_err(|e| {
        let preview: String = String::from_utf8_lossy(&body[..body.len().min(60)])
            .chars()
            .map(|c| if c.is_control() { '.' } else { c })
            .collect();
        ReplyError::Malformed(format!("not bencode ({e}): {preview:?}"))
    })?;
    let Some(d) = value.as_dict() else {
        return Err(ReplyError::Malformed("reply is not a dictionary".into()));
    };
    if let Some(reason) = d.get_bytes("failure reason") {
        return Err(ReplyError::Failure(
            String::from_utf8_lossy(reason).into_owned(),
        ));
    }
    let count = |k: &str| {
        d.get_int(k)
            .and_then(|v| u32::try_from(v.max(0)).ok().or(Some(u32::MAX)))
    };
    let mut resp = AnnounceResponse {
        interval: d.get_int("interval").map(secs).unwrap_or(DEFAULT_INTERVAL),
        min_interval: d.get_int("min interval").map(secs),
        peers: Vec::new(),
        seeders: count("complete"),
        leechers: count("incomplete"),
        warning: d
            .get_bytes("warning message")
            .map(|w| String::from_utf8_lossy(w).into_owned()),
    };
    match d.get("peers") {
        Some(Value::Bytes(b)) => resp.peers.extend(compact_v4(b)),
        Some(Value::List(list)) => {
            for p in list {
                let Some(pd) = p.as_dict() else { continue };
                let ip = pd.get_str("ip").and_then(|s| s.parse::<IpAddr>().ok());
                let port = pd.get_int("port").and_then(|p| u16::try_from(p).ok());
                // Hostnames in `ip` (allowed by BEP 3) are skipped: resolving names handed
                // out by a tracker would let it make us query arbitrary DNS.
                if let (Some(ip), Some(port)) = (ip, port)
                    && port != 0
                {
                    resp.peers.push(SocketAddr::new(ip, port));
                }
            }
        }
        Some(_) => return Err(ReplyError::Malformed("`peers` has the wrong type".into())),
        None => {}
    }
    if let Some(b) = d.get_bytes("peers6") {
        resp.peers.extend(compact_v6(b));
    }
    Ok(resp)
}

/// BEP 23 compact IPv4 peers: 4 bytes address, 2 bytes port, big endian. A trailing partial
/// entry is ignored rather than failing the whole reply; port 0 entries are dropped.
pub fn compact_v4(b: &[u8]) -> impl Iterator<Item = SocketAddr> + '_ {
    b.chunks_exact(6).filter_map(|c| {
        let ip = Ipv4Addr::new(c[0], c[1], c[2], c[3]);
        let port = u16::from_be_bytes([c[4], c[5]]);
        (port != 0).then(|| SocketAddr::new(IpAddr::V4(ip), port))
    })
}

/// BEP 7 compact IPv6 peers: 16 bytes address, 2 bytes port.
pub fn compact_v6(b: &[u8]) -> impl Iterator<Item = SocketAddr> + '_ {
    b.chunks_exact(18).filter_map(|c| {
        let mut a = [0u8; 16];
        a.copy_from_slice(&c[..16]);
        let port = u16::from_be_bytes([c[16], c[17]]);
        (port != 0).then(|| SocketAddr::new(IpAddr::V6(Ipv6Addr::from(a)), port))
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::tracker::AnnounceEvent;
    use crate::engine::types::{InfoHash, PeerId};
    use std::io::{Read, Write};
    use std::net::TcpListener;

    fn req() -> AnnounceRequest {
        let mut h = [0u8; 20];
        for (i, b) in h.iter_mut().enumerate() {
            *b = (i as u8) * 13;
        }
        AnnounceRequest {
            info_hash: InfoHash(h),
            peer_id: PeerId(*b"-BT0100-ab~.-_ \x00\xff\x7f%Z"),
            port: 51413,
            uploaded: 1,
            downloaded: 2,
            left: 3,
            event: AnnounceEvent::Started,
            num_want: 80,
            key: 0xdead_beef,
        }
    }

    #[test]
    fn query_encodes_raw_bytes() {
        let u = announce_url("http://t.example/announce", &req());
        assert!(
            u.starts_with("http://t.example/announce?info_hash=%00%0D%1A"),
            "{u}"
        );
        assert!(
            u.contains("&peer_id=-BT0100-ab~.-_%20%00%FF%7F%25Z&"),
            "{u}"
        );
        for part in [
            "port=51413",
            "uploaded=1",
            "downloaded=2",
            "left=3",
            "compact=1",
            "numwant=80",
            "key=deadbeef",
            "event=started",
        ] {
            assert!(u.contains(part), "{part} missing in {u}");
        }
        let mut r = req();
        r.event = AnnounceEvent::None;
        assert!(!announce_url("http://t/a", &r).contains("event="));
    }

    #[test]
    fn query_appends_to_existing_query() {
        let u = announce_url("http://t/announce.php?passkey=abc", &req());
        assert!(
            u.starts_with("http://t/announce.php?passkey=abc&info_hash="),
            "{u}"
        );
        let u = announce_url("http://t/a?", &req());
        assert!(u.starts_with("http://t/a?info_hash="), "{u}");
        let u = announce_url("http://t/a#frag", &req());
        assert!(u.starts_with("http://t/a?info_hash="), "{u}");
    }

    #[test]
    fn parses_compact_and_dict_peers() {
        let r = parse_reply(
            b"d8:completei5e10:incompletei3e8:intervali900e12:min intervali60e5:peers12:\x7f\x00\x00\x01\x1a\xe1\x0a\x00\x00\x02\x00\x506:peers618:\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x01\x1a\xe215:warning message4:hmm!e",
        )
        .unwrap();
        assert_eq!(r.interval, Duration::from_secs(900));
        assert_eq!(r.min_interval, Some(Duration::from_secs(60)));
        assert_eq!((r.seeders, r.leechers), (Some(5), Some(3)));
        assert_eq!(r.warning.as_deref(), Some("hmm!"));
        let peers: Vec<String> = r.peers.iter().map(|p| p.to_string()).collect();
        assert_eq!(peers, ["127.0.0.1:6881", "10.0.0.2:80", "[::1]:6882"]);

        let r = parse_reply(
            b"d8:intervali60e5:peersld2:ip9:127.0.0.17:peer id20:aaaaaaaaaaaaaaaaaaaa4:porti7000eed2:ip3:::14:porti1eed2:ip7:example4:porti5eed2:ip7:1.2.3.44:porti0eed2:ip7:1.2.3.44:porti70000eei5eee",
        )
        .unwrap();
        let peers: Vec<String> = r.peers.iter().map(|p| p.to_string()).collect();
        assert_eq!(peers, ["127.0.0.1:7000", "[::1]:1"]);
        assert_eq!(r.seeders, None);
    }

    #[test]
    fn failure_and_garbage() {
        assert_eq!(
            parse_reply(b"d14:failure reason8:not heree").unwrap_err(),
            ReplyError::Failure("not here".into())
        );
        assert!(matches!(
            parse_reply(b"<html>502 bad gateway</html>"),
            Err(ReplyError::Malformed(_))
        ));
        assert!(matches!(
            parse_reply(b"li1ee"),
            Err(ReplyError::Malformed(_))
        ));
        assert!(matches!(
            parse_reply(b"d5:peersi3ee"),
            Err(ReplyError::Malformed(_))
        ));
        // Missing interval: the default; truncated compact entry: ignored.
        let r = parse_reply(b"d5:peers7:\x01\x02\x03\x04\x00\x01\x09e").unwrap();
        assert_eq!(r.interval, DEFAULT_INTERVAL);
        assert_eq!(r.peers.len(), 1);
        // Negative and huge numbers do not panic.
        let r = parse_reply(b"d8:intervali-5e8:completei-1e10:incompletei99999999999ee").unwrap();
        assert_eq!(r.interval, Duration::ZERO);
        assert_eq!(r.leechers, Some(u32::MAX));
        // Every truncation of a valid reply is an error or a reply, never a panic.
        let full = b"d8:intervali900e5:peers6:\x7f\x00\x00\x01\x1a\xe1e";
        for n in 0..full.len() {
            let _ = parse_reply(&full[..n]);
        }
    }

    proptest::proptest! {
        #[test]
        fn parse_reply_never_panics(bytes in proptest::collection::vec(proptest::num::u8::ANY, 0..512)) {
            let _ = parse_reply(&bytes);
        }

        #[test]
        fn parse_reply_never_panics_on_near_bencode(
            peers in proptest::collection::vec(proptest::num::u8::ANY, 0..64),
            interval in proptest::num::i64::ANY,
        ) {
            let mut body = format!("d8:intervali{interval}e5:peers{}:", peers.len()).into_bytes();
            body.extend_from_slice(&peers);
            body.extend_from_slice(b"6:peers6");
            body.extend_from_slice(format!("{}:", peers.len()).as_bytes());
            body.extend_from_slice(&peers);
            body.push(b'e');
            let r = parse_reply(&body).unwrap();
            proptest::prop_assert!(r.peers.len() <= peers.len() / 6 + peers.len() / 18);
        }
    }

    /// A one-shot HTTP server on loopback: returns the request line it got.
    fn serve_once(status: &str, body: &'static [u8]) -> (String, std::thread::JoinHandle<String>) {
        let l = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = l.local_addr().unwrap();
        let status = status.to_string();
        let h = std::thread::spawn(move || {
            let (mut s, _) = l.accept().unwrap();
            let mut buf = vec![0u8; 8192];
            let mut got = Vec::new();
            while !got.windows(4).any(|w| w == b"\r\n\r\n") {
                let n = s.read(&mut buf).unwrap();
                if n == 0 {
                    break;
                }
                got.extend_from_slice(&buf[..n]);
            }
            let head = format!(
                "HTTP/1.1 {status}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
                body.len()
            );
            s.write_all(head.as_bytes()).unwrap();
            s.write_all(body).unwrap();
            String::from_utf8_lossy(&got)
                .lines()
                .next()
                .unwrap_or("")
                .to_string()
        });
        (format!("http://{addr}"), h)
    }

    #[tokio::test]
    async fn announce_over_http() {
        let (base, h) = serve_once(
            "200 OK",
            b"d8:intervali120e5:peers6:\x7f\x00\x00\x01\x1a\xe1e",
        );
        let url = format!("{base}/announce?pk=1");
        let r = announce(&url, &req(), Duration::from_secs(5))
            .await
            .unwrap();
        assert_eq!(r.interval, Duration::from_secs(120));
        assert_eq!(r.peers, ["127.0.0.1:6881".parse().unwrap()]);
        let line = h.join().unwrap();
        assert!(
            line.starts_with("GET /announce?pk=1&info_hash=%00%0D"),
            "{line}"
        );
    }

    #[tokio::test]
    async fn announce_errors_name_url() {
        let (base, h) = serve_once("404 Not Found", b"nope");
        let url = format!("{base}/announce");
        let e = announce(&url, &req(), Duration::from_secs(5))
            .await
            .unwrap_err();
        assert!(matches!(e, TrackerError::HttpStatus { status: 404, .. }));
        assert!(e.to_string().contains(&url), "{e}");
        h.join().unwrap();

        let (base, h) = serve_once("200 OK", b"d14:failure reason7:go awaye");
        let url = format!("{base}/announce");
        let e = announce(&url, &req(), Duration::from_secs(5))
            .await
            .unwrap_err();
        assert_eq!(
            e.to_string(),
            format!("tracker {url}: refused the announce: go away")
        );
        h.join().unwrap();

        // A server that accepts and never answers: timeout.
        let l = TcpListener::bind("127.0.0.1:0").unwrap();
        let url = format!("http://{}/announce", l.local_addr().unwrap());
        let t0 = std::time::Instant::now();
        let e = announce(&url, &req(), Duration::from_millis(400))
            .await
            .unwrap_err();
        assert!(matches!(e, TrackerError::Timeout { .. }), "{e}");
        assert!(t0.elapsed() < Duration::from_secs(3));
        drop(l);
    }
}
