//! uTP (BEP 29), ours: the packet codec, the connection state machine with selective ACKs,
//! retransmission and a receive window, LEDBAT congestion control (RFC 6817) so that uTP makes
//! way for TCP, and a multiplexer on one UDP socket (the TCP listener's port number) giving
//! the engine [`UtpStream`]s that are `AsyncRead + AsyncWrite`.

mod batch;
pub mod conn;
pub mod ledbat;
pub mod packet;
pub mod socket;

pub use socket::{UtpSocket, UtpStream};

#[cfg(test)]
mod tests;
