//! BEP 14 local service discovery: `BT-SEARCH` announces on the multicast group
//! 239.192.152.143:6771, so peers on the same LAN find each other without a tracker.
//!
//! Off by default (it broadcasts what we download to the whole LAN); [`Session::enable_lsd`]
//! turns it on. Private torrents are never announced nor matched (BEP 27).
//!
//! [`Session::enable_lsd`]: crate::engine::session::Session::enable_lsd

use std::net::{IpAddr, Ipv4Addr, SocketAddr, SocketAddrV4};
use std::sync::{Arc, Weak};
use std::time::Duration;

use tokio::net::UdpSocket;
use tokio::sync::Notify;

use crate::engine::session::Session;
use crate::engine::types::InfoHash;

pub const GROUP: Ipv4Addr = Ipv4Addr::new(239, 192, 152, 143);
pub const PORT: u16 = 6771;
/// BEP 14: announce each torrent at most once a minute; every 5 minutes is the usual pace.
const INTERVAL: Duration = Duration::from_secs(5 * 60);
const MIN_GAP: Duration = Duration::from_secs(60);
/// Larger datagrams are not announces (and are dropped unread).
const MAX_DATAGRAM: usize = 1400;

#[derive(Debug, Clone)]
pub struct LsdConfig {
    /// Interface address used to join the group and send (UNSPECIFIED: the default route's).
    pub interface: Ipv4Addr,
    pub group: Ipv4Addr,
    pub port: u16,
}

impl Default for LsdConfig {
    fn default() -> Self {
        LsdConfig {
            interface: Ipv4Addr::UNSPECIFIED,
            group: GROUP,
            port: PORT,
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum LsdError {
    #[error("local service discovery on {group}:{port}: {source}")]
    Socket {
        group: Ipv4Addr,
        port: u16,
        source: std::io::Error,
    },
}

/// One `BT-SEARCH` announce.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Announce {
    pub port: u16,
    pub info_hashes: Vec<InfoHash>,
    pub cookie: Option<String>,
}

impl Announce {
    pub fn encode(&self, group: Ipv4Addr, group_port: u16) -> Vec<u8> {
        let mut s = format!(
            "BT-SEARCH * HTTP/1.1\r\nHost: {group}:{group_port}\r\nPort: {}\r\n",
            self.port
        );
        for ih in &self.info_hashes {
            s.push_str(&format!("Infohash: {}\r\n", ih.to_hex()));
        }
        if let Some(c) = &self.cookie {
            s.push_str(&format!("cookie: {c}\r\n"));
        }
        s.push_str("\r\n\r\n");
        s.into_bytes()
    }

    /// Parses a datagram; `None` when it is not a well-formed announce. Never panics.
    pub fn parse(b: &[u8]) -> Option<Announce> {
        if b.len() > MAX_DATAGRAM {
            return None;
        }
        let s = std::str::from_utf8(b).ok()?;
        let mut lines = s.split("\r\n");
        if lines.next()?.trim() != "BT-SEARCH * HTTP/1.1" {
            return None;
        }
        let mut port = None;
        let mut info_hashes = Vec::new();
        let mut cookie = None;
        for line in lines {
            let Some((k, v)) = line.split_once(':') else {
                continue;
            };
            let v = v.trim();
            match k.trim().to_ascii_lowercase().as_str() {
                "port" => port = v.parse::<u16>().ok().filter(|p| *p != 0),
                "infohash" => {
                    if let Ok(h) = InfoHash::from_hex(v)
                        && info_hashes.len() < 64
                        && !info_hashes.contains(&h)
                    {
                        info_hashes.push(h);
                    }
                }
                "cookie" => cookie = Some(v.chars().take(64).collect()),
                _ => {}
            }
        }
        if info_hashes.is_empty() {
            return None;
        }
        Some(Announce {
            port: port?,
            info_hashes,
            cookie,
        })
    }
}

pub struct Lsd {
    soon: Notify,
}

impl Lsd {
    /// Joins the group and starts announcing and listening.
    pub async fn start(
        cfg: LsdConfig,
        listen_port: u16,
        session: Weak<Session>,
    ) -> Result<Arc<Lsd>, LsdError> {
        let err = |source| LsdError::Socket {
            group: cfg.group,
            port: cfg.port,
            source,
        };
        let sock = bind(&cfg).map_err(err)?;
        let sock = Arc::new(UdpSocket::from_std(sock).map_err(err)?);
        let lsd = Arc::new(Lsd {
            soon: Notify::new(),
        });
        // Our own announces come back to us over multicast loopback: the cookie tells them apart.
        let cookie = format!("{:08x}", rand::random::<u32>());
        let target = SocketAddr::V4(SocketAddrV4::new(cfg.group, cfg.port));
        {
            let sock = sock.clone();
            let session = session.clone();
            let lsd = Arc::downgrade(&lsd);
            let cookie = cookie.clone();
            let cfg = cfg.clone();
            tokio::spawn(async move {
                loop {
                    let Some(s) = session.upgrade() else { return };
                    let hashes: Vec<InfoHash> = s
                        .torrents()
                        .iter()
                        .filter(|t| !t.meta.info.private)
                        .map(|t| t.info_hash())
                        .collect();
                    drop(s);
                    // A few hashes per datagram keeps it well under one MTU.
                    for chunk in hashes.chunks(8) {
                        let a = Announce {
                            port: listen_port,
                            info_hashes: chunk.to_vec(),
                            cookie: Some(cookie.clone()),
                        };
                        if let Err(e) = sock.send_to(&a.encode(cfg.group, cfg.port), target).await {
                            tracing::debug!("LSD send: {e}");
                        }
                    }
                    let sent = tokio::time::Instant::now();
                    let Some(l) = lsd.upgrade() else { return };
                    tokio::select! {
                        _ = tokio::time::sleep(INTERVAL) => {}
                        // A new torrent is announced early, but never within a minute of the
                        // last announce (BEP 14).
                        _ = l.soon.notified() => tokio::time::sleep_until(sent + MIN_GAP).await,
                    }
                }
            });
        }
        tokio::spawn(async move {
            let mut buf = vec![0u8; MAX_DATAGRAM + 1];
            loop {
                let (n, from) = match sock.recv_from(&mut buf).await {
                    Ok(x) => x,
                    Err(e) => {
                        // Do not spin on a socket that keeps failing.
                        tracing::debug!("LSD receive: {e}");
                        tokio::time::sleep(Duration::from_secs(1)).await;
                        continue;
                    }
                };
                let Some(a) = Announce::parse(&buf[..n]) else {
                    continue;
                };
                if a.cookie.as_deref() == Some(cookie.as_str()) {
                    continue;
                }
                let Some(s) = session.upgrade() else { return };
                let peer = SocketAddr::new(from.ip(), a.port);
                for ih in &a.info_hashes {
                    if let Some(t) = s.get(ih)
                        && !t.meta.info.private
                    {
                        tracing::debug!("LSD: {peer} has {ih}");
                        t.add_peers([peer]);
                    }
                }
            }
        });
        Ok(lsd)
    }

    /// Announce again shortly (a torrent was added).
    pub fn announce_soon(&self) {
        self.soon.notify_one();
    }
}

fn bind(cfg: &LsdConfig) -> std::io::Result<std::net::UdpSocket> {
    use socket2::{Domain, Protocol, Socket, Type};
    let s = Socket::new(Domain::IPV4, Type::DGRAM, Some(Protocol::UDP))?;
    // Other clients on this host listen on the same group port.
    s.set_reuse_address(true)?;
    s.set_reuse_port(true)?;
    s.bind(&SocketAddr::new(IpAddr::V4(Ipv4Addr::UNSPECIFIED), cfg.port).into())?;
    s.join_multicast_v4(&cfg.group, &cfg.interface)?;
    s.set_multicast_loop_v4(true)?;
    if !cfg.interface.is_unspecified() {
        s.set_multicast_if_v4(&cfg.interface)?;
    }
    s.set_nonblocking(true)?;
    Ok(s.into())
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn round_trip() {
        let a = Announce {
            port: 6881,
            info_hashes: vec![InfoHash([0xab; 20]), InfoHash([1; 20])],
            cookie: Some("c00k1e".into()),
        };
        assert_eq!(Announce::parse(&a.encode(GROUP, PORT)), Some(a));
    }

    #[test]
    fn refuses_junk() {
        assert_eq!(Announce::parse(b""), None);
        assert_eq!(Announce::parse(b"GET / HTTP/1.1\r\n\r\n"), None);
        let no_port = format!(
            "BT-SEARCH * HTTP/1.1\r\nInfohash: {}\r\n\r\n",
            "ab".repeat(20)
        );
        assert_eq!(Announce::parse(no_port.as_bytes()), None);
        assert_eq!(
            Announce::parse(b"BT-SEARCH * HTTP/1.1\r\nPort: 1\r\nInfohash: zz\r\n\r\n"),
            None
        );
    }

    proptest! {
        #[test]
        fn never_panics(b in proptest::collection::vec(any::<u8>(), 0..400)) {
            let _ = Announce::parse(&b);
        }
    }
}
