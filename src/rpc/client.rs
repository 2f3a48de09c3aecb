//! The client side of the control socket: blocking, so the CLI needs no runtime; the
//! dashboard runs it on a thread of its own.

use std::io::{BufRead, BufReader, Write};
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::de::DeserializeOwned;

use super::proto::*;

#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    #[error(
        "no daemon is listening on {} ({source}); start one with `bidtorrent daemon`",
        .path.display()
    )]
    Connect {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error(
        "the daemon on {} did not answer within {}s; it may be overloaded or wedged \
         (see its log){}",
        .path.display(), .after.as_secs(), if *.adjustable { "; --timeout SECS waits longer" } else { "" }
    )]
    Timeout {
        path: PathBuf,
        after: Duration,
        /// Whether `--timeout` governs this wait (not the connect and greeting).
        adjustable: bool,
    },
    #[error("control socket: {0}")]
    Io(#[from] std::io::Error),
    #[error("control socket: unexpected reply: {0}")]
    Protocol(String),
    #[error("the daemon speaks protocol {0}; this client speaks {PROTOCOL_VERSION}")]
    Version(u32),
    /// The daemon refused the request; the message says why.
    #[error("{0}")]
    Remote(String),
}

pub struct Client {
    reader: BufReader<UnixStream>,
    writer: UnixStream,
    hello: Hello,
    next_id: u64,
    path: PathBuf,
    /// Set by [`Client::set_timeout`]: one limit for every request instead of
    /// [`default_timeout`]'s per command; `Some(None)` waits forever.
    timeout: Option<Option<Duration>>,
}

/// Connecting and reading the greeting: a daemon that cannot greet within this will not
/// answer a request either (a full accept backlog, a wedged runtime).
pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

/// How long a request may take by default. A wedged daemon must not hang a script forever
/// (issue 17: `ls` hung when the daemon ran out of descriptors), but a recheck of a big
/// torrent answers only once every piece is hashed (1 TiB at 1.5 GiB/s is 12 minutes), and
/// `reannounce` waits for the slowest tracker.
pub fn default_timeout(cmd: &Command) -> Duration {
    match cmd {
        Command::Recheck(_) => Duration::from_secs(3600),
        Command::Add(_) | Command::Remove { .. } => Duration::from_secs(600),
        Command::Reannounce(_) | Command::Accept { .. } => Duration::from_secs(120),
        _ => Duration::from_secs(30),
    }
}

impl Client {
    /// Connects and reads the daemon's greeting, each within [`CONNECT_TIMEOUT`].
    pub fn connect(path: &Path) -> Result<Client, ClientError> {
        let stream = connect_within(path, CONNECT_TIMEOUT)?;
        stream.set_read_timeout(Some(CONNECT_TIMEOUT))?;
        stream.set_write_timeout(Some(CONNECT_TIMEOUT))?;
        let writer = stream.try_clone()?;
        let mut reader = BufReader::new(stream);
        let hello: Hello =
            read_json(&mut reader).map_err(|e| timed_out(e, path, CONNECT_TIMEOUT, false))?;
        if hello.bidtorrent != PROTOCOL_VERSION {
            return Err(ClientError::Version(hello.bidtorrent));
        }
        Ok(Client {
            reader,
            writer,
            hello,
            next_id: 1,
            path: path.to_path_buf(),
            timeout: None,
        })
    }

    /// One limit for every later request (`None`: wait as long as it takes), replacing the
    /// per-command defaults.
    pub fn set_timeout(&mut self, timeout: Option<Duration>) {
        self.timeout = Some(timeout);
    }

    pub fn hello(&self) -> &Hello {
        &self.hello
    }

    /// Sends one request and decodes its result as `T`.
    pub fn call<T: DeserializeOwned>(&mut self, cmd: Command) -> Result<T, ClientError> {
        let id = self.next_id;
        self.next_id += 1;
        let limit = self.timeout.unwrap_or(Some(default_timeout(&cmd)));
        let stream = self.reader.get_ref();
        stream.set_read_timeout(limit)?;
        stream.set_write_timeout(limit)?;
        let after = limit.unwrap_or(Duration::MAX);
        self.send(&Request { id, cmd })
            .map_err(|e| timed_out(e, &self.path, after, true))?;
        // Straight into `T`: a 10,000-torrent `ls` is 7 MB, too big to build as a
        // `serde_json::Value` tree first (issue 19).
        let resp: TypedResponse<T> =
            read_json(&mut self.reader).map_err(|e| timed_out(e, &self.path, after, true))?;
        if resp.id != id {
            return Err(ClientError::Protocol(format!(
                "response to request {} while waiting for {id}",
                resp.id
            )));
        }
        if !resp.ok {
            return Err(ClientError::Remote(
                resp.error.unwrap_or_else(|| "request failed".into()),
            ));
        }
        match resp.result {
            Some(v) => Ok(v),
            None => serde_json::from_value(serde_json::Value::Null)
                .map_err(|e| ClientError::Protocol(e.to_string())),
        }
    }

    fn send(&mut self, req: &Request) -> Result<(), ClientError> {
        let mut line = serde_json::to_vec(req).map_err(|e| ClientError::Protocol(e.to_string()))?;
        line.push(b'\n');
        self.writer.write_all(&line)?;
        self.writer.flush()?;
        Ok(())
    }

    /// Turns the connection into an event stream (with a `stats` event every `interval_ms`,
    /// 0 = none).
    pub fn subscribe(mut self, interval_ms: u64) -> Result<Events, ClientError> {
        let _: serde_json::Value = self.call(Command::Subscribe { interval_ms })?;
        self.reader.get_ref().set_read_timeout(None)?;
        Ok(Events {
            reader: self.reader,
        })
    }
}

/// The events of a subscription; ends when the daemon stops.
pub struct Events {
    reader: BufReader<UnixStream>,
}

impl Iterator for Events {
    type Item = Result<Event, ClientError>;
    fn next(&mut self) -> Option<Self::Item> {
        match read_json::<Event>(&mut self.reader) {
            Err(ClientError::Protocol(m)) if m == EOF => None,
            other => Some(other),
        }
    }
}

const EOF: &str = "the daemon closed the connection";

/// A read or write that hit the socket's timeout becomes [`ClientError::Timeout`].
fn timed_out(e: ClientError, path: &Path, after: Duration, adjustable: bool) -> ClientError {
    match e {
        ClientError::Io(io)
            if matches!(
                io.kind(),
                std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
            ) =>
        {
            ClientError::Timeout {
                path: path.to_path_buf(),
                after,
                adjustable,
            }
        }
        other => other,
    }
}

/// `connect(2)` on a Unix socket blocks while the listener's accept backlog is full (a daemon
/// that stopped accepting); non-blocking, it fails with EAGAIN instead, so retry until
/// `within` has passed.
fn connect_within(path: &Path, within: Duration) -> Result<UnixStream, ClientError> {
    let fail = |source| ClientError::Connect {
        path: path.to_path_buf(),
        source,
    };
    let addr = socket2::SockAddr::unix(path).map_err(fail)?;
    let sock =
        socket2::Socket::new(socket2::Domain::UNIX, socket2::Type::STREAM, None).map_err(fail)?;
    sock.set_nonblocking(true).map_err(fail)?;
    let deadline = std::time::Instant::now() + within;
    loop {
        match sock.connect(&addr) {
            Ok(()) => break,
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {
                if std::time::Instant::now() >= deadline {
                    return Err(ClientError::Timeout {
                        path: path.to_path_buf(),
                        after: within,
                        adjustable: false,
                    });
                }
                std::thread::sleep(Duration::from_millis(20));
            }
            Err(e) => return Err(fail(e)),
        }
    }
    sock.set_nonblocking(false).map_err(fail)?;
    Ok(sock.into())
}

/// A [`Response`] whose result is read as `T` directly.
#[derive(serde::Deserialize)]
#[serde(bound = "T: DeserializeOwned")]
struct TypedResponse<T> {
    #[serde(default)]
    id: u64,
    ok: bool,
    #[serde(default = "none")]
    result: Option<T>,
    #[serde(default)]
    error: Option<String>,
}

fn none<T>() -> Option<T> {
    None
}

fn read_json<T: DeserializeOwned>(r: &mut BufReader<UnixStream>) -> Result<T, ClientError> {
    let mut line = String::new();
    let n = r.read_line(&mut line)?;
    if n == 0 {
        return Err(ClientError::Protocol(EOF.into()));
    }
    serde_json::from_str(&line).map_err(|e| ClientError::Protocol(format!("{e}: {line}")))
}
