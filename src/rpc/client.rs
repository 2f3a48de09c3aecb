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
}

impl Client {
    /// Connects and reads the daemon's greeting.
    pub fn connect(path: &Path) -> Result<Client, ClientError> {
        let stream = UnixStream::connect(path).map_err(|source| ClientError::Connect {
            path: path.to_path_buf(),
            source,
        })?;
        // A wedged daemon must not hang a script forever; long operations (recheck of a
        // big torrent) stay well inside this.
        stream.set_read_timeout(Some(Duration::from_secs(600)))?;
        let writer = stream.try_clone()?;
        let mut reader = BufReader::new(stream);
        let hello: Hello = read_json(&mut reader)?;
        if hello.bidtorrent != PROTOCOL_VERSION {
            return Err(ClientError::Version(hello.bidtorrent));
        }
        Ok(Client {
            reader,
            writer,
            hello,
            next_id: 1,
        })
    }

    pub fn hello(&self) -> &Hello {
        &self.hello
    }

    /// Sends one request and decodes its result as `T`.
    pub fn call<T: DeserializeOwned>(&mut self, cmd: Command) -> Result<T, ClientError> {
        let id = self.next_id;
        self.next_id += 1;
        self.send(&Request { id, cmd })?;
        let resp: Response = read_json(&mut self.reader)?;
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
        serde_json::from_value(resp.result.unwrap_or(serde_json::Value::Null))
            .map_err(|e| ClientError::Protocol(e.to_string()))
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

fn read_json<T: DeserializeOwned>(r: &mut BufReader<UnixStream>) -> Result<T, ClientError> {
    let mut line = String::new();
    let n = r.read_line(&mut line)?;
    if n == 0 {
        return Err(ClientError::Protocol(EOF.into()));
    }
    serde_json::from_str(&line).map_err(|e| ClientError::Protocol(format!("{e}: {line}")))
}
