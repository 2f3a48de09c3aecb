//! A second door onto the [`Controller`]: Transmission's RPC (the long-standing JSON protocol,
//! rpc-version 17) at `POST /transmission/rpc`, so `transmission-remote`, Sonarr, Radarr,
//! Flood and the other Transmission remotes can drive the daemon. Off unless `[rpc.http]` is
//! configured.
//!
//! - [`http`]: the HTTP/1.1 transport (bounded parser, keep-alive, timeouts).
//! - this file: the gate every request passes, in order: rate bound per client address,
//!   path, HTTP Basic credentials (401), Host header against DNS rebinding (421), the
//!   `X-Transmission-Session-Id` handshake (409 carrying the id), then the JSON call.
//! - [`methods`]: each method mapped onto the controller's commands; [`fields`]: the
//!   `torrent-get` fields.
//!
//! No `X-Transmission-Rpc-Version` header is ever sent: Transmission 4.1 clients switch to
//! JSON-RPC 2.0 when they see it, and this door speaks only the older protocol.

pub mod fields;
pub mod http;
pub mod methods;

use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::time::Instant;

use tokio::net::TcpListener;
use tokio::sync::{Semaphore, watch};

use self::http::{Head, Limits, Response, Timeouts};
use super::controller::Controller;
use crate::config::RpcHttp;

/// The one path served.
pub const RPC_PATH: &str = "/transmission/rpc";
pub const SESSION_HEADER: &str = "X-Transmission-Session-Id";

/// Per-address token buckets.
struct RateBound {
    per_sec: f64,
    burst: f64,
    buckets: std::sync::Mutex<HashMap<IpAddr, (f64, Instant)>>,
}

impl RateBound {
    fn allow(&self, ip: IpAddr) -> bool {
        let now = Instant::now();
        let mut b = self.buckets.lock().unwrap_or_else(|p| p.into_inner());
        // Forget quiet addresses so the map stays small under a scan.
        if b.len() > 4096 {
            let burst = self.burst;
            let per_sec = self.per_sec;
            b.retain(|_, (tokens, at)| {
                *tokens + now.duration_since(*at).as_secs_f64() * per_sec < burst
            });
        }
        let (tokens, at) = b.entry(ip).or_insert((self.burst, now));
        *tokens = (*tokens + now.duration_since(*at).as_secs_f64() * self.per_sec).min(self.burst);
        *at = now;
        if *tokens >= 1.0 {
            *tokens -= 1.0;
            true
        } else {
            false
        }
    }
}

/// What every request of the door shares.
pub struct Door {
    pub ctl: Arc<Controller>,
    cfg: RpcHttp,
    session_id: String,
    rate: RateBound,
    started: Instant,
}

impl Door {
    pub fn new(ctl: Arc<Controller>, cfg: RpcHttp) -> Arc<Door> {
        let session_id = (0..3)
            .map(|_| format!("{:016x}", rand::random::<u64>()))
            .collect::<String>();
        Arc::new(Door {
            ctl,
            rate: RateBound {
                per_sec: f64::from(cfg.requests_per_sec),
                burst: f64::from(cfg.burst),
                buckets: Default::default(),
            },
            cfg,
            session_id,
            started: Instant::now(),
        })
    }

    pub fn session_id(&self) -> &str {
        &self.session_id
    }

    pub fn uptime_secs(&self) -> u64 {
        self.started.elapsed().as_secs()
    }

    /// The gate, on a request's head, before its body is read: `Some` is the refusal to
    /// send instead.
    pub fn gate(&self, peer: IpAddr, head: &Head) -> Option<Response> {
        if !self.rate.allow(peer) {
            return Some(
                Response::text(429, "too many requests; slow down").with("Retry-After", "1".into()),
            );
        }
        let path = head.path();
        if path != RPC_PATH && path != "/transmission/rpc/" {
            return Some(Response::text(
                404,
                "the Transmission RPC is at /transmission/rpc",
            ));
        }
        if !authorized(&self.cfg, head) {
            return Some(
                Response::text(401, "wrong or missing username and password")
                    .with("WWW-Authenticate", "Basic realm=\"bidtorrent\"".into()),
            );
        }
        if !host_allowed(&self.cfg, head) {
            return Some(Response::text(
                421,
                "this Host is not accepted (DNS rebinding protection); add it to \
                 [rpc.http] host_whitelist",
            ));
        }
        if head.header("x-transmission-session-id") != Some(self.session_id.as_str()) {
            return Some(
                Response::text(409, &format!("{SESSION_HEADER}: {}", self.session_id))
                    .with(SESSION_HEADER, self.session_id.clone()),
            );
        }
        if head.method != "POST" {
            return Some(Response::text(405, "use POST").with("Allow", "POST".into()));
        }
        None
    }

    /// A request that passed the gate: the JSON call.
    pub async fn answer(&self, body: Vec<u8>) -> Response {
        let req: serde_json::Value = match serde_json::from_slice(&body) {
            Ok(v) => v,
            Err(_) => {
                return Response::json(
                    400,
                    &serde_json::json!({"result": "the request body is not JSON"}),
                );
            }
        };
        let tag = req.get("tag").cloned();
        let method = req.get("method").and_then(|m| m.as_str()).unwrap_or("");
        let empty = serde_json::Map::new();
        let args = req
            .get("arguments")
            .and_then(|a| a.as_object())
            .unwrap_or(&empty);
        let (result, arguments) = match methods::dispatch(self, method, args).await {
            Ok(a) => ("success".to_string(), a),
            Err(e) => {
                tracing::debug!("transmission rpc {method:?}: {e}");
                (e, serde_json::json!({}))
            }
        };
        let mut reply = serde_json::json!({"result": result, "arguments": arguments});
        if let Some(tag) = tag {
            reply["tag"] = tag;
        }
        Response::json(200, &reply)
    }
}

/// HTTP Basic credentials, when the config sets them.
fn authorized(cfg: &RpcHttp, head: &Head) -> bool {
    if cfg.username.is_empty() && cfg.password.is_empty() {
        return true;
    }
    let Some(v) = head.header("authorization") else {
        return false;
    };
    let Some(b64) = v
        .split_once(' ')
        .filter(|(scheme, _)| scheme.eq_ignore_ascii_case("basic"))
        .map(|(_, rest)| rest.trim())
    else {
        return false;
    };
    let Some(decoded) = super::controller::base64_decode(b64) else {
        return false;
    };
    let expected = format!("{}:{}", cfg.username, cfg.password);
    constant_time_eq(&decoded, expected.as_bytes())
}

/// DNS rebinding: a page on evil.example whose name resolves to 127.0.0.1 sends its
/// own name as Host. Accept IP literals, localhost and the configured names only.
pub fn host_allowed(cfg: &RpcHttp, head: &Head) -> bool {
    let Some(host) = head.header("host") else {
        // HTTP/1.0 clients may leave it out; HTTP/1.1 must send it.
        return head.minor == 0;
    };
    let name = if let Some(rest) = host.strip_prefix('[') {
        match rest.split_once(']') {
            Some((v6, _)) => return v6.parse::<std::net::Ipv6Addr>().is_ok(),
            None => return false,
        }
    } else {
        match host.rsplit_once(':') {
            Some((n, port)) if port.bytes().all(|b| b.is_ascii_digit()) => n,
            _ => host,
        }
    };
    let name = name.trim_end_matches('.').to_ascii_lowercase();
    if name.parse::<IpAddr>().is_ok() || name == "localhost" || name.ends_with(".localhost") {
        return true;
    }
    cfg.host_whitelist.iter().any(|w| {
        let w = w.trim().trim_end_matches('.').to_ascii_lowercase();
        match w.strip_prefix("*.") {
            Some(suffix) => name.ends_with(&format!(".{suffix}")),
            None => name == w,
        }
    })
}

fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    if a.len() != b.len() {
        return false;
    }
    a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// Binds `[rpc.http] listen`.
pub async fn bind(cfg: &RpcHttp) -> std::io::Result<TcpListener> {
    TcpListener::bind(cfg.listen).await
}

/// Serves the door until `stop` turns true. Connections past `max_connections` get a 503
/// and are closed.
pub async fn serve(
    listener: TcpListener,
    ctl: Arc<Controller>,
    cfg: RpcHttp,
    mut stop: watch::Receiver<bool>,
) {
    let limits = Limits {
        max_body: usize::try_from(cfg.max_body.0).unwrap_or(usize::MAX),
        ..Limits::default()
    };
    let slots = Arc::new(Semaphore::new(cfg.max_connections));
    let door = Door::new(ctl, cfg);
    loop {
        let (stream, peer): (tokio::net::TcpStream, SocketAddr) = tokio::select! {
            r = listener.accept() => match r {
                Ok(x) => x,
                Err(e) => {
                    tracing::warn!("transmission rpc: accept: {e}");
                    tokio::time::sleep(std::time::Duration::from_millis(50)).await;
                    continue;
                }
            },
            _ = super::server::until_true(&mut stop) => return,
        };
        let _ = stream.set_nodelay(true);
        let Ok(permit) = slots.clone().try_acquire_owned() else {
            tokio::spawn(async move {
                use tokio::io::AsyncWriteExt;
                let mut s = stream;
                let r = Response::text(503, "too many connections");
                let _ = tokio::time::timeout(
                    std::time::Duration::from_secs(2),
                    s.write_all(&r.to_bytes(false)),
                )
                .await;
            });
            continue;
        };
        let door = door.clone();
        tokio::spawn(async move {
            let _permit = permit;
            let ip = peer.ip();
            http::serve_connection(
                stream,
                limits,
                Timeouts::default(),
                |head| door.gate(ip, head),
                |_head, body| {
                    let door = door.clone();
                    async move { door.answer(body).await }
                },
            )
            .await;
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn head(host: Option<&str>) -> Head {
        let mut raw = "POST /transmission/rpc HTTP/1.1\r\n".to_string();
        if let Some(h) = host {
            raw.push_str(&format!("Host: {h}\r\n"));
        }
        raw.push_str("\r\n");
        http::parse_head(raw.as_bytes(), &Limits::default())
            .expect("ok")
            .expect("complete")
    }

    fn gate() -> RateBound {
        RateBound {
            per_sec: 1.0,
            burst: 2.0,
            buckets: Default::default(),
        }
    }

    #[test]
    fn rate_bound_refuses_past_the_burst() {
        let r = gate();
        let ip: IpAddr = "127.0.0.1".parse().expect("ip");
        assert!(r.allow(ip));
        assert!(r.allow(ip));
        assert!(!r.allow(ip), "third request within the burst of 2");
        assert!(r.allow("127.0.0.2".parse().expect("ip")), "per address");
    }

    #[test]
    fn host_check_against_rebinding() {
        let cfg = RpcHttp {
            host_whitelist: vec!["box.lan".into(), "*.example.org".into()],
            ..RpcHttp::default()
        };
        let h = |host: Option<&str>| host_allowed(&cfg, &head(host));
        assert!(h(Some("127.0.0.1:9091")));
        assert!(h(Some("[::1]:9091")));
        assert!(h(Some("localhost:9091")));
        assert!(h(Some("box.lan")));
        assert!(h(Some("a.example.org:80")));
        assert!(!h(Some("evil.example:9091")));
        assert!(!h(Some("example.org.evil.example")));
        assert!(!h(None), "HTTP/1.1 without Host");
    }

    #[test]
    fn basic_auth() {
        let cfg = RpcHttp {
            username: "u".into(),
            password: "p:w".into(),
            ..RpcHttp::default()
        };
        let with = |auth: &str| {
            let raw = format!("POST / HTTP/1.1\r\nAuthorization: {auth}\r\n\r\n");
            let h = http::parse_head(raw.as_bytes(), &Limits::default())
                .expect("ok")
                .expect("complete");
            authorized(&cfg, &h)
        };
        // base64("u:p:w") = dTpwOnc=
        assert!(with("Basic dTpwOnc="));
        assert!(with("basic dTpwOnc="));
        assert!(!with("Basic dTpwOng="));
        assert!(!with("Bearer dTpwOnc="));
        assert!(!with("Basic !!!"));
    }
}
