//! Tracker clients: HTTP(S) (BEP 3, BEP 23 compact peers, BEP 7 `peers6`), UDP (BEP 15) and
//! the BEP 12 multitracker tier logic on top of them.
//!
//! Every reply parser here takes bytes from the network and must never panic; they return
//! [`ReplyError`] and the callers attach the tracker URL so the user sees which tracker said
//! what.

pub mod http;
pub mod udp;

use std::fmt;
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use rand::seq::SliceRandom;

use super::types::{InfoHash, PeerId};

/// The `event` of an announce (BEP 3; BEP 15 codes 0..3).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AnnounceEvent {
    /// A regular, periodic announce.
    None,
    Started,
    Completed,
    Stopped,
}

impl AnnounceEvent {
    /// The HTTP `event=` value; a regular announce leaves the parameter out.
    pub fn http_name(self) -> Option<&'static str> {
        match self {
            AnnounceEvent::None => None,
            AnnounceEvent::Started => Some("started"),
            AnnounceEvent::Completed => Some("completed"),
            AnnounceEvent::Stopped => Some("stopped"),
        }
    }

    /// The BEP 15 event code.
    pub fn udp_code(self) -> u32 {
        match self {
            AnnounceEvent::None => 0,
            AnnounceEvent::Completed => 1,
            AnnounceEvent::Started => 2,
            AnnounceEvent::Stopped => 3,
        }
    }
}

/// What we tell a tracker.
#[derive(Debug, Clone)]
pub struct AnnounceRequest {
    pub info_hash: InfoHash,
    pub peer_id: PeerId,
    /// Our listening port for peer connections.
    pub port: u16,
    pub uploaded: u64,
    pub downloaded: u64,
    pub left: u64,
    pub event: AnnounceEvent,
    pub num_want: u32,
    /// A per-session random value so the tracker can recognise us across IP changes.
    pub key: u32,
}

/// What a tracker told us.
#[derive(Debug, Clone, Default)]
pub struct AnnounceResponse {
    pub interval: Duration,
    pub min_interval: Option<Duration>,
    pub peers: Vec<SocketAddr>,
    pub seeders: Option<u32>,
    pub leechers: Option<u32>,
    pub warning: Option<String>,
}

/// Used when an HTTP tracker leaves `interval` out (BEP 3 makes it mandatory, but some omit
/// it); 30 minutes is the common default of trackers.
pub const DEFAULT_INTERVAL: Duration = Duration::from_secs(1800);

/// Why a reply could not be used, before the caller attaches the tracker URL.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ReplyError {
    /// The tracker answered, but refused (`failure reason`, UDP action 3).
    #[error("{0}")]
    Failure(String),
    /// The bytes are not a valid reply.
    #[error("{0}")]
    Malformed(String),
}

/// A failed announce. Every variant names the tracker URL.
#[derive(Debug, thiserror::Error)]
pub enum TrackerError {
    #[error("tracker {url}: unsupported URL scheme {scheme:?} (want http, https or udp)")]
    UnsupportedScheme { url: String, scheme: String },
    #[error("tracker {url}: invalid URL: {reason}")]
    BadUrl { url: String, reason: String },
    #[error("tracker {url}: no reply within {timeout:?}")]
    Timeout { url: String, timeout: Duration },
    #[error("tracker {url}: refused the announce: {reason}")]
    Failure { url: String, reason: String },
    #[error("tracker {url}: HTTP status {status}")]
    HttpStatus { url: String, status: u16 },
    #[error("tracker {url}: bad reply: {reason}")]
    BadReply { url: String, reason: String },
    #[error("tracker {url}: {reason}")]
    Network { url: String, reason: String },
    #[error("no tracker URLs to announce to")]
    NoTrackers,
    #[error("all {} trackers failed: {}", .0.len(), JoinErrors(.0))]
    AllFailed(Vec<TrackerError>),
}

impl TrackerError {
    pub(crate) fn from_reply(url: &str, e: ReplyError) -> Self {
        match e {
            ReplyError::Failure(reason) => TrackerError::Failure {
                url: url.to_string(),
                reason,
            },
            ReplyError::Malformed(reason) => TrackerError::BadReply {
                url: url.to_string(),
                reason,
            },
        }
    }

    pub(crate) fn network(url: &str, reason: impl fmt::Display) -> Self {
        TrackerError::Network {
            url: url.to_string(),
            reason: reason.to_string(),
        }
    }
}

struct JoinErrors<'a>(&'a [TrackerError]);

impl fmt::Display for JoinErrors<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, e) in self.0.iter().enumerate() {
            if i > 0 {
                f.write_str("; ")?;
            }
            write!(f, "{e}")?;
        }
        Ok(())
    }
}

/// One announce to one URL: `http://`, `https://` or `udp://`. `timeout` bounds the whole
/// exchange (name resolution, retries and the reply).
pub async fn announce(
    url: &str,
    req: &AnnounceRequest,
    timeout: Duration,
) -> Result<AnnounceResponse, TrackerError> {
    let scheme = url.split_once("://").map(|(s, _)| s.to_ascii_lowercase());
    match scheme.as_deref() {
        Some("http") | Some("https") => http::announce(url, req, timeout).await,
        Some("udp") => udp::announce(url, req, timeout).await,
        Some(other) => Err(TrackerError::UnsupportedScheme {
            url: url.to_string(),
            scheme: other.to_string(),
        }),
        None => Err(TrackerError::BadUrl {
            url: url.to_string(),
            reason: "no scheme".into(),
        }),
    }
}

/// Per-URL state for display (the TUI trackers tab, `info`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TrackerStatus {
    pub url: String,
    /// Index of the BEP 12 tier the URL belongs to.
    pub tier: usize,
    pub last_attempt: Option<Instant>,
    pub last_success: Option<Instant>,
    /// The error of the last attempt, cleared by a success.
    pub last_error: Option<String>,
    /// Peers returned by the last successful announce.
    pub peers: Option<usize>,
    pub seeders: Option<u32>,
    pub leechers: Option<u32>,
    pub warning: Option<String>,
}

/// BEP 12 multitracker: tiers are tried in order, URLs within a tier are shuffled once at
/// construction, and a URL that answers moves to the front of its tier so it is tried first
/// next time.
#[derive(Debug, Clone)]
pub struct TrackerTiers {
    tiers: Vec<Vec<String>>,
    status: Vec<TrackerStatus>,
}

impl TrackerTiers {
    /// Empty URLs, empty tiers and URLs repeated anywhere earlier are dropped.
    pub fn new(tiers: Vec<Vec<String>>) -> Self {
        let mut seen = std::collections::HashSet::new();
        let mut rng = rand::rng();
        let mut out = Vec::new();
        for tier in tiers {
            let mut t: Vec<String> = tier
                .into_iter()
                .map(|u| u.trim().to_string())
                .filter(|u| !u.is_empty() && seen.insert(u.clone()))
                .collect();
            if t.is_empty() {
                continue;
            }
            t.shuffle(&mut rng);
            out.push(t);
        }
        let status = out
            .iter()
            .enumerate()
            .flat_map(|(i, t)| {
                t.iter().map(move |u| TrackerStatus {
                    url: u.clone(),
                    tier: i,
                    last_attempt: None,
                    last_success: None,
                    last_error: None,
                    peers: None,
                    seeders: None,
                    leechers: None,
                    warning: None,
                })
            })
            .collect();
        TrackerTiers { tiers: out, status }
    }

    pub fn is_empty(&self) -> bool {
        self.tiers.is_empty()
    }

    /// All URLs in the order they would be tried.
    pub fn urls(&self) -> Vec<String> {
        self.tiers.iter().flatten().cloned().collect()
    }

    /// The tiers in their current order.
    pub fn tiers(&self) -> &[Vec<String>] {
        &self.tiers
    }

    /// Announce to the first URL that answers, in BEP 12 order. On success returns the URL
    /// that answered; if every URL fails, [`TrackerError::AllFailed`] lists each failure.
    pub async fn announce(
        &mut self,
        req: &AnnounceRequest,
        timeout_each: Duration,
    ) -> Result<(String, AnnounceResponse), TrackerError> {
        if self.tiers.is_empty() {
            return Err(TrackerError::NoTrackers);
        }
        let mut errors = Vec::new();
        for t in 0..self.tiers.len() {
            for i in 0..self.tiers[t].len() {
                let url = self.tiers[t][i].clone();
                let result = announce(&url, req, timeout_each).await;
                let now = Instant::now();
                let st = self.status_mut(&url);
                st.last_attempt = Some(now);
                match result {
                    Ok(resp) => {
                        st.last_success = Some(now);
                        st.last_error = None;
                        st.peers = Some(resp.peers.len());
                        st.seeders = resp.seeders;
                        st.leechers = resp.leechers;
                        st.warning = resp.warning.clone();
                        let u = self.tiers[t].remove(i);
                        self.tiers[t].insert(0, u);
                        return Ok((url, resp));
                    }
                    Err(e) => {
                        tracing::debug!("{e}");
                        st.last_error = Some(e.to_string());
                        errors.push(e);
                    }
                }
            }
        }
        Err(TrackerError::AllFailed(errors))
    }

    /// Per-URL status, in tier order as built (not reordered by successes).
    pub fn status(&self) -> Vec<TrackerStatus> {
        self.status.clone()
    }

    fn status_mut(&mut self, url: &str) -> &mut TrackerStatus {
        // URLs are unique (deduplicated in `new`) and the status list is built from the same
        // set, so the lookup always succeeds; the fallback push keeps this panic-free anyway.
        let pos = match self.status.iter().position(|s| s.url == url) {
            Some(p) => p,
            None => {
                self.status.push(TrackerStatus {
                    url: url.to_string(),
                    tier: 0,
                    last_attempt: None,
                    last_success: None,
                    last_error: None,
                    peers: None,
                    seeders: None,
                    leechers: None,
                    warning: None,
                });
                self.status.len() - 1
            }
        };
        &mut self.status[pos]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn req() -> AnnounceRequest {
        AnnounceRequest {
            info_hash: InfoHash([1; 20]),
            peer_id: PeerId([b'a'; 20]),
            port: 6881,
            uploaded: 0,
            downloaded: 0,
            left: 10,
            event: AnnounceEvent::Started,
            num_want: 50,
            key: 7,
        }
    }

    #[test]
    fn tiers_dedup_and_drop_empty() {
        let t = TrackerTiers::new(vec![
            vec!["udp://a:1".into(), "".into()],
            vec![],
            vec!["udp://a:1".into(), "http://b/announce".into()],
        ]);
        assert_eq!(t.tiers().len(), 2);
        assert_eq!(t.urls().len(), 2);
        assert_eq!(t.status().len(), 2);
        assert!(!t.is_empty());
        assert!(TrackerTiers::new(vec![vec![]]).is_empty());
    }

    #[tokio::test]
    async fn tiers_all_fail_lists_each_url() {
        let mut t = TrackerTiers::new(vec![
            vec!["ftp://x/announce".into()],
            vec!["gopher://y/".into(), "nonsense".into()],
        ]);
        let err = t
            .announce(&req(), Duration::from_millis(200))
            .await
            .unwrap_err();
        let msg = err.to_string();
        assert!(msg.contains("all 3 trackers failed"), "{msg}");
        assert!(msg.contains("ftp://x/announce") && msg.contains("gopher://y/"));
        assert!(msg.contains("nonsense"), "{msg}");
        assert!(t.status().iter().all(|s| s.last_error.is_some()));
        let empty = TrackerTiers::new(vec![])
            .announce(&req(), Duration::from_millis(10))
            .await;
        assert!(matches!(empty, Err(TrackerError::NoTrackers)));
    }

    #[tokio::test]
    async fn tiers_move_success_to_front() {
        // A fake UDP tracker that answers, next to a URL that fails at once.
        let server = udp::tests::FakeUdpTracker::start(udp::tests::Behaviour::Normal).await;
        let good = format!("udp://{}", server.addr);
        let bad = "bogus://nowhere".to_string();
        let mut t = TrackerTiers::new(vec![vec![bad.clone(), good.clone()]]);
        let (url, resp) = t.announce(&req(), Duration::from_secs(5)).await.unwrap();
        assert_eq!(url, good);
        assert_eq!(resp.peers.len(), 2);
        assert_eq!(t.tiers()[0][0], good);
        let st = t.status();
        let g = st.iter().find(|s| s.url == good).unwrap();
        assert_eq!(g.peers, Some(2));
        assert!(g.last_error.is_none() && g.last_success.is_some());
    }

    #[test]
    fn event_codes() {
        assert_eq!(AnnounceEvent::Started.udp_code(), 2);
        assert_eq!(AnnounceEvent::Completed.udp_code(), 1);
        assert_eq!(AnnounceEvent::Stopped.http_name(), Some("stopped"));
        assert_eq!(AnnounceEvent::None.http_name(), None);
    }
}
