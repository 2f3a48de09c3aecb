//! The control socket's transport (RPC.md): accepts connections on a Unix socket and speaks
//! the line protocol, handing each request to the [`Controller`]. Nothing here knows what a
//! request means.

use std::sync::Arc;
use std::time::Duration;

use serde::Serialize;
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::net::UnixListener;
use tokio::sync::{broadcast, watch};

use super::controller::Controller;
use super::proto::*;

/// Waits until the flag is true (or its sender is gone), without holding the borrow across
/// an await (it is not `Send`).
pub async fn until_true(rx: &mut watch::Receiver<bool>) {
    let _ = rx.wait_for(|s| *s).await.map(|_| ());
}

/// Accepts connections until `stop` turns true. Each connection gets the greeting, then
/// requests are answered in order.
pub async fn serve(listener: UnixListener, ctl: Arc<Controller>, mut stop: watch::Receiver<bool>) {
    loop {
        tokio::select! {
            acc = listener.accept() => match acc {
                Ok((stream, _)) => {
                    let ctl = ctl.clone();
                    tokio::spawn(async move { connection(stream, ctl).await });
                }
                Err(e) => {
                    tracing::warn!("control socket: accept: {e}");
                    tokio::time::sleep(Duration::from_millis(100)).await;
                }
            },
            _ = until_true(&mut stop) => return,
        }
    }
}

async fn write_line<W: AsyncWriteExt + Unpin, T: Serialize>(w: &mut W, v: &T) -> bool {
    let Ok(mut line) = serde_json::to_vec(v) else {
        return false;
    };
    line.push(b'\n');
    w.write_all(&line).await.is_ok() && w.flush().await.is_ok()
}

/// Reads one line of at most `MAX_LINE` bytes. `Ok(None)` at end of stream.
async fn read_line<R: AsyncBufReadExt + Unpin>(r: &mut R) -> std::io::Result<Option<String>> {
    let mut buf = Vec::new();
    loop {
        let chunk = r.fill_buf().await?;
        if chunk.is_empty() {
            return Ok(if buf.is_empty() {
                None
            } else {
                Some(String::from_utf8_lossy(&buf).into_owned())
            });
        }
        if let Some(i) = chunk.iter().position(|&b| b == b'\n') {
            buf.extend_from_slice(&chunk[..i]);
            r.consume(i + 1);
            return Ok(Some(String::from_utf8_lossy(&buf).into_owned()));
        }
        let n = chunk.len();
        buf.extend_from_slice(chunk);
        r.consume(n);
        if buf.len() > MAX_LINE {
            return Err(std::io::Error::new(
                std::io::ErrorKind::InvalidData,
                "request line too long",
            ));
        }
    }
}

async fn connection(stream: tokio::net::UnixStream, ctl: Arc<Controller>) {
    let (r, mut w) = stream.into_split();
    let mut r = BufReader::new(r);
    let hello = Hello {
        bidtorrent: PROTOCOL_VERSION,
        version: env!("CARGO_PKG_VERSION").into(),
        pid: std::process::id(),
    };
    if !write_line(&mut w, &hello).await {
        return;
    }
    loop {
        let line = match read_line(&mut r).await {
            Ok(Some(l)) => l,
            Ok(None) => return,
            Err(e) => {
                let resp = Response {
                    id: 0,
                    ok: false,
                    result: None,
                    error: Some(format!("bad request: {e}")),
                };
                write_line(&mut w, &resp).await;
                return;
            }
        };
        if line.trim().is_empty() {
            continue;
        }
        let req: Request = match serde_json::from_str(&line) {
            Ok(r) => r,
            Err(e) => {
                let id = serde_json::from_str::<serde_json::Value>(&line)
                    .ok()
                    .and_then(|v| v.get("id").and_then(|i| i.as_u64()))
                    .unwrap_or(0);
                let resp = Response {
                    id,
                    ok: false,
                    result: None,
                    error: Some(format!("bad request: {e}")),
                };
                if !write_line(&mut w, &resp).await {
                    return;
                }
                continue;
            }
        };
        if let Command::Subscribe { interval_ms } = req.cmd {
            let rx = ctl.events().subscribe();
            let ok = Response {
                id: req.id,
                ok: true,
                result: Some(serde_json::json!({})),
                error: None,
            };
            if write_line(&mut w, &ok).await {
                stream_events(r, w, ctl, rx, interval_ms).await;
            }
            return;
        }
        if matches!(req.cmd, Command::List) {
            // The biggest answer by far (10,000 torrents: 7 MB): written straight from the
            // rows, not built as a `serde_json::Value` tree first (issue 19). Same shape as
            // a `Response`.
            #[derive(Serialize)]
            struct ListResponse<'a> {
                id: u64,
                ok: bool,
                result: &'a [TorrentSummary],
            }
            let rows = ctl.list().await;
            let resp = ListResponse {
                id: req.id,
                ok: true,
                result: &rows,
            };
            if !write_line(&mut w, &resp).await {
                return;
            }
            continue;
        }
        let resp = match ctl.handle(req.cmd).await {
            Ok(v) => Response {
                id: req.id,
                ok: true,
                result: Some(v),
                error: None,
            },
            Err(e) => Response {
                id: req.id,
                ok: false,
                result: None,
                error: Some(e),
            },
        };
        if !write_line(&mut w, &resp).await {
            return;
        }
    }
}

async fn stream_events(
    mut r: BufReader<tokio::net::unix::OwnedReadHalf>,
    mut w: tokio::net::unix::OwnedWriteHalf,
    ctl: Arc<Controller>,
    mut rx: broadcast::Receiver<Event>,
    interval_ms: u64,
) {
    let period = Duration::from_millis(interval_ms.max(100));
    let mut tick = tokio::time::interval(period);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    // `progress`: every 0.5 s, each downloading torrent whose verified bytes moved.
    let mut progress_tick = tokio::time::interval(Duration::from_millis(500));
    progress_tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut reported: std::collections::HashMap<u32, u64> = std::collections::HashMap::new();
    let mut sink = Vec::new();
    loop {
        let ev = tokio::select! {
            _ = progress_tick.tick() => {
                let now = ctl.progress().await;
                reported.retain(|id, _| now.iter().any(|p| p.0 == *id));
                for (id, verified, total, down_rate) in now {
                    if reported.insert(id, verified) == Some(verified) {
                        continue;
                    }
                    let ev = Event::Progress { id, verified, total, down_rate };
                    if !write_line(&mut w, &ev).await {
                        return;
                    }
                }
                continue;
            }
            ev = rx.recv() => match ev {
                Ok(e) => e,
                Err(broadcast::error::RecvError::Lagged(missed)) => Event::Lagged { missed },
                Err(broadcast::error::RecvError::Closed) => return,
            },
            _ = tick.tick(), if interval_ms > 0 => Event::Stats { torrents: ctl.list().await },
            // Anything the client sends after subscribing is ignored; end of stream ends it.
            n = tokio::io::AsyncReadExt::read_buf(&mut r, &mut sink) => {
                if matches!(n, Ok(0) | Err(_)) {
                    return;
                }
                sink.clear();
                continue;
            }
        };
        let last = matches!(ev, Event::Shutdown);
        if !write_line(&mut w, &ev).await || last {
            return;
        }
    }
}
