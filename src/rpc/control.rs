//! The application core's one door: [`Control`]. Every front end (the dashboard, the CLI's
//! client commands, any HTTP API) sends [`Command`]s through it and reads JSON results, and
//! never learns whether the [`Controller`] runs in this process ([`Local`]) or in a daemon at
//! the other end of the control socket ([`Socket`]).

use std::future::Future;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use serde::de::DeserializeOwned;

use super::client::{Client, ClientError};
use super::controller::Controller;
use super::proto::Command;

/// Why a call failed.
#[derive(Debug, thiserror::Error)]
pub enum ControlError {
    /// The controller refused the request; the message says why (the connection is fine).
    #[error("{0}")]
    Refused(String),
    /// The controller could not be reached, or answered something unreadable.
    #[error("{0}")]
    Transport(String),
}

/// A door onto the controller.
pub trait Control: Send + Sync {
    /// Answers one request (everything but `subscribe`, which only the socket streams).
    fn call(
        &self,
        cmd: Command,
    ) -> impl Future<Output = Result<serde_json::Value, ControlError>> + Send;

    /// Where the controller runs, for the status bar: the socket path, or `None` in-process.
    fn socket(&self) -> Option<&Path>;
}

/// [`Control::call`] with its result decoded as `T`.
pub async fn call_as<T: DeserializeOwned, C: Control + ?Sized>(
    c: &C,
    cmd: Command,
) -> Result<T, ControlError> {
    let v = c.call(cmd).await?;
    serde_json::from_value(v).map_err(|e| ControlError::Transport(format!("unexpected reply: {e}")))
}

/// The controller in this process.
#[derive(Clone)]
pub struct Local(pub Arc<Controller>);

impl Control for Local {
    async fn call(&self, cmd: Command) -> Result<serde_json::Value, ControlError> {
        if matches!(cmd, Command::Subscribe { .. }) {
            return Err(ControlError::Refused(
                "subscribe is only served on the control socket".into(),
            ));
        }
        self.0.handle(cmd).await.map_err(ControlError::Refused)
    }

    fn socket(&self) -> Option<&Path> {
        None
    }
}

/// A daemon's controller over its control socket. The client is blocking, so each call runs
/// on tokio's blocking pool with the connection moved in and back; a dropped connection is
/// made again on the next call (the daemon may have restarted).
pub struct Socket {
    path: PathBuf,
    client: std::sync::Mutex<Option<Client>>,
}

impl Socket {
    /// Connects (and checks the protocol version) once, so a stale socket is found at start.
    pub fn connect(path: PathBuf) -> Result<Socket, ClientError> {
        let client = Client::connect(&path)?;
        Ok(Socket {
            path,
            client: std::sync::Mutex::new(Some(client)),
        })
    }

    fn take(&self) -> Option<Client> {
        // A panic while holding the slot only loses the cached connection.
        self.client.lock().unwrap_or_else(|p| p.into_inner()).take()
    }

    fn put(&self, c: Client) {
        *self.client.lock().unwrap_or_else(|p| p.into_inner()) = Some(c);
    }
}

impl Control for Socket {
    async fn call(&self, cmd: Command) -> Result<serde_json::Value, ControlError> {
        let cached = self.take();
        let path = self.path.clone();
        let joined = tokio::task::spawn_blocking(move || {
            let mut client = match cached {
                Some(c) => c,
                None => match Client::connect(&path) {
                    Ok(c) => c,
                    Err(e) => return (None, Err(e)),
                },
            };
            let r = client.call::<serde_json::Value>(cmd);
            (Some(client), r)
        })
        .await;
        let (client, r) = joined.map_err(|e| ControlError::Transport(e.to_string()))?;
        match r {
            Ok(v) => {
                if let Some(c) = client {
                    self.put(c);
                }
                Ok(v)
            }
            // The daemon said no: the connection is fine.
            Err(ClientError::Remote(m)) => {
                if let Some(c) = client {
                    self.put(c);
                }
                Err(ControlError::Refused(m))
            }
            Err(e) => Err(ControlError::Transport(e.to_string())),
        }
    }

    fn socket(&self) -> Option<&Path> {
        Some(&self.path)
    }
}
