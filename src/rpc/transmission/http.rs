//! The HTTP/1.1 transport of the Transmission door: a bounded request parser (request line,
//! headers, a `Content-Length` body; no chunked bodies, no pipelining beyond one request at a
//! time) and a connection loop with keep-alive and timeouts. Written by hand because one POST
//! endpoint does not justify a web framework on the build (and because every byte of it is
//! outside input, the parser is small enough to fuzz whole: `fuzz/fuzz_targets/http_request.rs`).

use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// Size bounds of one request.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    /// Request line and headers together.
    pub max_head: usize,
    pub max_headers: usize,
    pub max_body: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_head: 16 << 10,
            max_headers: 64,
            max_body: 16 << 20,
        }
    }
}

/// A request's line and headers.
#[derive(Debug, Clone, PartialEq)]
pub struct Head {
    pub method: String,
    /// The request target as sent (path and query).
    pub target: String,
    /// 0 for HTTP/1.0, 1 for HTTP/1.1.
    pub minor: u8,
    /// Names lowercased, values trimmed, in the order sent.
    pub headers: Vec<(String, String)>,
    pub content_length: usize,
    /// Whether the connection stays open after the response.
    pub keep_alive: bool,
    /// `Expect: 100-continue`: the client waits for a go-ahead before the body.
    pub expect_continue: bool,
    /// Bytes of the head, blank line included.
    pub head_len: usize,
}

impl Head {
    /// The first value of a header (name in lowercase).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }

    /// The path without the query.
    pub fn path(&self) -> &str {
        self.target.split('?').next().unwrap_or("")
    }
}

/// Why a request was refused before it reached the endpoint; each maps to one status.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum HttpError {
    #[error("the request's headers are too large")]
    HeadTooLarge,
    #[error("the request body is too large")]
    BodyTooLarge,
    #[error("bad request: {0}")]
    Bad(&'static str),
    #[error("a Content-Length body is required (chunked bodies are not supported)")]
    LengthRequired,
    #[error("only HTTP/1.0 and HTTP/1.1 are spoken here")]
    Version,
}

impl HttpError {
    pub fn status(&self) -> u16 {
        match self {
            HttpError::HeadTooLarge => 431,
            HttpError::BodyTooLarge => 413,
            HttpError::Bad(_) => 400,
            HttpError::LengthRequired => 411,
            HttpError::Version => 505,
        }
    }
}

/// Where the head ends (index just past the blank line), accepting bare LF line ends too.
fn head_end(buf: &[u8]) -> Option<usize> {
    let mut i = 0;
    while let Some(off) = buf[i..].iter().position(|&b| b == b'\n') {
        let nl = i + off;
        // A blank line: "\n\n" or "\n\r\n".
        match buf.get(nl + 1) {
            Some(b'\n') => return Some(nl + 2),
            Some(b'\r') if buf.get(nl + 2) == Some(&b'\n') => return Some(nl + 3),
            _ => {}
        }
        i = nl + 1;
    }
    None
}

fn is_token(s: &str) -> bool {
    !s.is_empty()
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b))
}

/// Parses a request head from the start of `buf`: `Ok(None)` while it is incomplete (and
/// within bounds).
pub fn parse_head(buf: &[u8], lim: &Limits) -> Result<Option<Head>, HttpError> {
    let Some(end) = head_end(buf) else {
        return if buf.len() > lim.max_head {
            Err(HttpError::HeadTooLarge)
        } else {
            Ok(None)
        };
    };
    if end > lim.max_head {
        return Err(HttpError::HeadTooLarge);
    }
    let text = std::str::from_utf8(&buf[..end]).map_err(|_| HttpError::Bad("not UTF-8"))?;
    let mut lines = text.split('\n').map(|l| l.strip_suffix('\r').unwrap_or(l));
    // Tolerate blank lines before the request line (RFC 9112 §2.2).
    let line = lines
        .by_ref()
        .find(|l| !l.is_empty())
        .ok_or(HttpError::Bad("no request line"))?;
    let mut parts = line.split(' ');
    let (Some(method), Some(target), Some(version), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err(HttpError::Bad("malformed request line"));
    };
    if !is_token(method) {
        return Err(HttpError::Bad("malformed method"));
    }
    if target.is_empty() || target.len() > 4096 || !target.bytes().all(|b| b.is_ascii_graphic()) {
        return Err(HttpError::Bad("malformed request target"));
    }
    let minor = match version {
        "HTTP/1.1" => 1,
        "HTTP/1.0" => 0,
        v if v.starts_with("HTTP/") => return Err(HttpError::Version),
        _ => return Err(HttpError::Bad("malformed HTTP version")),
    };
    let mut headers = Vec::new();
    for l in lines {
        if l.is_empty() {
            break;
        }
        if l.starts_with([' ', '\t']) {
            return Err(HttpError::Bad("folded header lines are not accepted"));
        }
        let (name, value) = l
            .split_once(':')
            .ok_or(HttpError::Bad("header without colon"))?;
        if !is_token(name) {
            return Err(HttpError::Bad("malformed header name"));
        }
        let value = value.trim_matches([' ', '\t']);
        if value.chars().any(|c| c.is_control() && c != '\t') {
            return Err(HttpError::Bad("control character in a header"));
        }
        if headers.len() >= lim.max_headers {
            return Err(HttpError::HeadTooLarge);
        }
        headers.push((name.to_ascii_lowercase(), value.to_string()));
    }
    let mut content_length: Option<usize> = None;
    let mut keep_alive = minor == 1;
    let mut expect_continue = false;
    for (n, v) in &headers {
        match n.as_str() {
            "content-length" => {
                if v.is_empty() || !v.bytes().all(|b| b.is_ascii_digit()) {
                    return Err(HttpError::Bad("malformed Content-Length"));
                }
                // Too many digits to be a size we would accept anyway.
                let len = if v.len() > 12 {
                    usize::MAX
                } else {
                    v.parse()
                        .map_err(|_| HttpError::Bad("malformed Content-Length"))?
                };
                // Two different lengths are a smuggling attempt.
                if content_length.is_some_and(|c| c != len) {
                    return Err(HttpError::Bad("conflicting Content-Length headers"));
                }
                content_length = Some(len);
            }
            "transfer-encoding" => return Err(HttpError::LengthRequired),
            "connection" => {
                for tok in v.split(',').map(|t| t.trim().to_ascii_lowercase()) {
                    match tok.as_str() {
                        "close" => keep_alive = false,
                        "keep-alive" => keep_alive = true,
                        _ => {}
                    }
                }
            }
            "expect" if v.eq_ignore_ascii_case("100-continue") => expect_continue = true,
            _ => {}
        }
    }
    let content_length = content_length.unwrap_or(0);
    if content_length > lim.max_body {
        return Err(HttpError::BodyTooLarge);
    }
    Ok(Some(Head {
        method: method.to_string(),
        target: target.to_string(),
        minor,
        headers,
        content_length,
        keep_alive,
        expect_continue,
        head_len: end,
    }))
}

/// A whole request from the start of `buf`: the head and its body once all of it is there.
pub fn parse_request<'a>(
    buf: &'a [u8],
    lim: &Limits,
) -> Result<Option<(Head, &'a [u8])>, HttpError> {
    let Some(head) = parse_head(buf, lim)? else {
        return Ok(None);
    };
    let end = head
        .head_len
        .checked_add(head.content_length)
        .ok_or(HttpError::BodyTooLarge)?;
    match buf.get(head.head_len..end) {
        Some(body) => Ok(Some((head, body))),
        None => Ok(None),
    }
}

/// A response ready to write.
#[derive(Debug, Clone)]
pub struct Response {
    pub status: u16,
    pub headers: Vec<(&'static str, String)>,
    pub content_type: &'static str,
    pub body: Vec<u8>,
}

impl Response {
    pub fn json(status: u16, v: &serde_json::Value) -> Response {
        Response {
            status,
            headers: Vec::new(),
            content_type: "application/json; charset=UTF-8",
            body: serde_json::to_vec(v).unwrap_or_default(),
        }
    }

    pub fn text(status: u16, text: &str) -> Response {
        Response {
            status,
            headers: Vec::new(),
            content_type: "text/html; charset=UTF-8",
            body: format!("<h1>{status}: {}</h1><p>{text}</p>", reason(status)).into_bytes(),
        }
    }

    pub fn with(mut self, name: &'static str, value: String) -> Response {
        self.headers.push((name, value));
        self
    }

    pub fn to_bytes(&self, keep_alive: bool) -> Vec<u8> {
        let mut out = format!(
            "HTTP/1.1 {} {}\r\nContent-Type: {}\r\nContent-Length: {}\r\n",
            self.status,
            reason(self.status),
            self.content_type,
            self.body.len()
        );
        for (n, v) in &self.headers {
            out.push_str(&format!("{n}: {v}\r\n"));
        }
        if !keep_alive {
            out.push_str("Connection: close\r\n");
        }
        out.push_str("\r\n");
        let mut bytes = out.into_bytes();
        bytes.extend_from_slice(&self.body);
        bytes
    }
}

pub fn reason(status: u16) -> &'static str {
    match status {
        200 => "OK",
        400 => "Bad Request",
        401 => "Unauthorized",
        403 => "Forbidden",
        404 => "Not Found",
        405 => "Method Not Allowed",
        408 => "Request Timeout",
        409 => "Conflict",
        411 => "Length Required",
        413 => "Content Too Large",
        421 => "Misdirected Request",
        429 => "Too Many Requests",
        431 => "Request Header Fields Too Large",
        503 => "Service Unavailable",
        505 => "HTTP Version Not Supported",
        _ => "Error",
    }
}

/// Timeouts of a connection.
#[derive(Debug, Clone, Copy)]
pub struct Timeouts {
    /// To receive a whole request once its first byte arrived (slowloris).
    pub request: Duration,
    /// Between requests on a kept-alive connection.
    pub idle: Duration,
    /// To write a response.
    pub write: Duration,
}

impl Default for Timeouts {
    fn default() -> Self {
        Timeouts {
            request: Duration::from_secs(15),
            idle: Duration::from_secs(30),
            write: Duration::from_secs(30),
        }
    }
}

/// A refused request's body up to this size is read and dropped so the connection stays
/// open (a client's first call, without a session id, is refused and retried on it); a
/// larger one is not read at all: the connection closes.
const DISCARD_MAX: usize = 64 << 10;

/// Serves requests on one connection until it closes, a bound is crossed or a timeout runs
/// out. `gate` sees each head before its body is read and may answer at once (so nobody
/// unauthenticated makes the server buffer a body); `handle` answers the rest.
pub async fn serve_connection<S, G, F, Fut>(
    mut stream: S,
    lim: Limits,
    t: Timeouts,
    gate: G,
    handle: F,
) where
    S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin,
    G: Fn(&Head) -> Option<Response>,
    F: Fn(Head, Vec<u8>) -> Fut,
    Fut: std::future::Future<Output = Response>,
{
    let mut buf: Vec<u8> = Vec::with_capacity(4096);
    let mut chunk = vec![0u8; 16 << 10];
    loop {
        // The head: idle timeout until its first byte, then the request timeout for the rest.
        let started = tokio::time::Instant::now();
        let head = loop {
            match parse_head(&buf, &lim) {
                Ok(Some(h)) => break h,
                Ok(None) => {}
                Err(e) => {
                    let r = Response::text(e.status(), &e.to_string());
                    let _ =
                        tokio::time::timeout(t.write, stream.write_all(&r.to_bytes(false))).await;
                    return;
                }
            }
            let limit = if buf.is_empty() {
                t.idle
            } else {
                t.request.saturating_sub(started.elapsed())
            };
            match tokio::time::timeout(limit, stream.read(&mut chunk)).await {
                Ok(Ok(0)) | Ok(Err(_)) => return,
                Ok(Ok(n)) => buf.extend_from_slice(&chunk[..n]),
                Err(_) => {
                    if !buf.is_empty() {
                        let r = Response::text(408, "the request took too long to arrive");
                        let _ = tokio::time::timeout(t.write, stream.write_all(&r.to_bytes(false)))
                            .await;
                    }
                    return;
                }
            }
        };
        let total = head.head_len + head.content_length;
        let refused = gate(&head);
        if let Some(r) = &refused {
            // Keep the connection only when the body is small and on its way (a client
            // that waits for 100-continue never sends it).
            let keep = head.keep_alive
                && head.content_length <= DISCARD_MAX
                && (!head.expect_continue || buf.len() >= total);
            if !keep {
                let _ = tokio::time::timeout(t.write, stream.write_all(&r.to_bytes(false))).await;
                let _ = stream.shutdown().await;
                return;
            }
        }
        if refused.is_none() && head.expect_continue && buf.len() < total {
            let go = b"HTTP/1.1 100 Continue\r\n\r\n";
            if tokio::time::timeout(t.write, stream.write_all(go))
                .await
                .is_err()
            {
                return;
            }
        }
        let started = tokio::time::Instant::now();
        while buf.len() < total {
            let left = t.request.saturating_sub(started.elapsed());
            match tokio::time::timeout(left, stream.read(&mut chunk)).await {
                Ok(Ok(0)) | Ok(Err(_)) | Err(_) => return,
                Ok(Ok(n)) => buf.extend_from_slice(&chunk[..n]),
            }
        }
        let body = buf[head.head_len..total].to_vec();
        buf.drain(..total);
        let keep = head.keep_alive;
        let resp = match refused {
            Some(r) => r,
            None => handle(head, body).await,
        };
        let bytes = resp.to_bytes(keep);
        match tokio::time::timeout(t.write, stream.write_all(&bytes)).await {
            Ok(Ok(())) => {}
            _ => return,
        }
        if !keep {
            let _ = stream.shutdown().await;
            return;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_a_post_with_body() {
        let req = b"POST /transmission/rpc HTTP/1.1\r\nHost: 127.0.0.1:9091\r\n\
                    Content-Length: 4\r\nX-Transmission-Session-Id: abc\r\n\r\n{}{}NEXT";
        let (h, body) = parse_request(req, &Limits::default())
            .expect("valid")
            .expect("complete");
        assert_eq!(h.method, "POST");
        assert_eq!(h.path(), "/transmission/rpc");
        assert_eq!(h.header("x-transmission-session-id"), Some("abc"));
        assert!(h.keep_alive);
        assert_eq!(body, b"{}{}");
    }

    #[test]
    fn incomplete_is_not_an_error() {
        let lim = Limits::default();
        assert_eq!(parse_head(b"POST / HTTP/1.1\r\nHost: x", &lim), Ok(None));
        let req = b"POST / HTTP/1.1\r\nContent-Length: 10\r\n\r\n12345";
        assert!(parse_request(req, &lim).expect("valid").is_none());
    }

    #[test]
    fn bounds_and_malformed_requests() {
        let lim = Limits {
            max_head: 64,
            max_headers: 2,
            max_body: 10,
        };
        let big = vec![b'a'; 100];
        assert_eq!(parse_head(&big, &lim), Err(HttpError::HeadTooLarge));
        assert_eq!(
            parse_head(b"POST / HTTP/1.1\r\nContent-Length: 11\r\n\r\n", &lim),
            Err(HttpError::BodyTooLarge)
        );
        assert_eq!(
            parse_head(
                b"POST / HTTP/1.1\r\nContent-Length: 99999999999999999999\r\n\r\n",
                &lim
            ),
            Err(HttpError::BodyTooLarge)
        );
        assert_eq!(
            parse_head(b"POST / HTTP/1.1\r\na: 1\r\nb: 2\r\nc: 3\r\n\r\n", &lim),
            Err(HttpError::HeadTooLarge)
        );
        let lim = Limits::default();
        for bad in [
            &b"POST /\r\n\r\n"[..],
            b"POST / HTTP/1.1 x\r\n\r\n",
            b"PO ST / HTTP/1.1\r\n\r\n",
            b"POST / HTTP/1.1\r\nno colon\r\n\r\n",
            b"POST / HTTP/1.1\r\n folded: x\r\n\r\n",
            b"POST / HTTP/1.1\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n",
            b"POST / HTTP/1.1\r\nContent-Length: -1\r\n\r\n",
            b"POST / HTTP/1.1\r\nX: a\x1bb\r\n\r\n",
        ] {
            assert!(
                matches!(parse_head(bad, &lim), Err(HttpError::Bad(_))),
                "{:?}",
                String::from_utf8_lossy(bad)
            );
        }
        assert_eq!(
            parse_head(b"POST / HTTP/2.0\r\n\r\n", &lim),
            Err(HttpError::Version)
        );
        assert_eq!(
            parse_head(
                b"POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n",
                &lim
            ),
            Err(HttpError::LengthRequired)
        );
    }

    proptest::proptest! {
        /// What the fuzz target checks, on every run: arbitrary bytes, and a valid request
        /// with bytes flipped, never panic; a complete request's body is exactly
        /// Content-Length bytes inside the input.
        #[test]
        fn never_panics(
            bytes in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..512),
            flips in proptest::collection::vec((0usize..200, proptest::prelude::any::<u8>()), 0..4),
        ) {
            let lim = Limits { max_head: 256, max_headers: 8, max_body: 64 };
            let _ = parse_request(&bytes, &lim);
            let mut req = b"POST /transmission/rpc HTTP/1.1\r\nHost: 127.0.0.1\r\n\
                Content-Length: 12\r\nConnection: keep-alive\r\n\r\n{\"method\":1}".to_vec();
            for (i, b) in flips {
                let n = req.len();
                req[i % n] = b;
            }
            if let Ok(Some((head, body))) = parse_request(&req, &lim) {
                proptest::prop_assert_eq!(body.len(), head.content_length);
                proptest::prop_assert!(head.head_len + body.len() <= req.len());
                proptest::prop_assert!(head.headers.len() <= lim.max_headers);
            }
        }
    }

    #[test]
    fn keep_alive_rules() {
        let lim = Limits::default();
        let h = |r: &[u8]| parse_head(r, &lim).expect("ok").expect("complete");
        assert!(!h(b"GET / HTTP/1.0\r\n\r\n").keep_alive);
        assert!(h(b"GET / HTTP/1.0\r\nConnection: Keep-Alive\r\n\r\n").keep_alive);
        assert!(!h(b"GET / HTTP/1.1\r\nConnection: close\r\n\r\n").keep_alive);
        assert!(h(b"POST / HTTP/1.1\nExpect: 100-continue\n\n").expect_continue);
    }
}
