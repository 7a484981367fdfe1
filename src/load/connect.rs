//! Opening a connection for an event loop, shared by the engine's clients and the slow connections.
//!
//! Why one place: a client's socket is non-blocking and registered once with its thread's poll, for reading and
//! writing, under the client's token (mio is edge-triggered: one registration serves the socket's whole life).
//! A TCP connect returns before the handshake is over; whether it worked is learned at the first event, by asking
//! the socket. The clients, their retry on a new connection, their UDP sockets and the slowloris thread each did
//! this themselves.

use std::io;
use std::net::SocketAddr;

use mio::event::Source;
use mio::net::TcpStream;
use mio::{Interest, Registry, Token};

/// Why a connection could not be started.
pub(super) enum ConnectError {
    /// `connect(2)` itself failed: refused at once, no local port free, ...
    Connect(io::Error),
    /// The poll would not take the socket.
    Register(io::Error),
}

/// Starts a non-blocking connection to `target`, registered under `token`.
pub(super) fn connect(
    registry: &Registry,
    target: SocketAddr,
    token: Token,
) -> Result<TcpStream, ConnectError> {
    let mut stream = TcpStream::connect(target).map_err(ConnectError::Connect)?;
    register(registry, &mut stream, token).map_err(ConnectError::Register)?;
    Ok(stream)
}

/// Registers a client's socket under `token`, for reading and writing.
pub(super) fn register(
    registry: &Registry,
    source: &mut impl Source,
    token: Token,
) -> io::Result<()> {
    registry.register(source, token, Interest::READABLE | Interest::WRITABLE)
}

/// Whether a non-blocking connect has finished: an error is final, "not connected" means not yet.
pub(super) fn connected(stream: &TcpStream) -> io::Result<bool> {
    if let Some(e) = stream.take_error()? {
        return Err(e);
    }
    match stream.peer_addr() {
        Ok(_) => Ok(true),
        Err(e) if e.kind() == io::ErrorKind::NotConnected => Ok(false),
        Err(e) => Err(e),
    }
}
