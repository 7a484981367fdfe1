//! Opening sockets the way a server should, with `socket2` for the options std does not expose.

use std::io;
use std::net::{SocketAddr, TcpListener, UdpSocket};

use nix::sys::resource::{Resource, getrlimit, setrlimit};
use socket2::{Domain, Protocol, Socket, Type};

/// Opens a TCP listener: `SO_REUSEADDR` (a restarted server can bind while old connections sit in TIME_WAIT) and
/// `backlog` passed to `listen(2)`. Non-blocking, so an acceptor can wait in `poll` and still hear a stop request.
pub fn tcp_listener(addr: SocketAddr, backlog: i32) -> io::Result<TcpListener> {
    let socket = Socket::new(Domain::for_address(addr), Type::STREAM, Some(Protocol::TCP))?;
    socket.set_reuse_address(true)?;
    socket.bind(&addr.into())?;
    socket.listen(backlog)?;
    socket.set_nonblocking(true)?;
    Ok(socket.into())
}

/// Opens a UDP socket, non-blocking for the same reason as the listener. No `SO_REUSEADDR` here: on Linux it
/// would let a second server bind the same UDP port silently instead of reporting it busy.
pub fn udp_socket(addr: SocketAddr) -> io::Result<UdpSocket> {
    let socket = Socket::new(Domain::for_address(addr), Type::DGRAM, Some(Protocol::UDP))?;
    socket.bind(&addr.into())?;
    socket.set_nonblocking(true)?;
    Ok(socket.into())
}

/// Raises this process's open-file soft limit to its hard limit and returns the new limit. Every socket is a
/// file descriptor, and the usual soft limit of 1,024 is far below what a server under load holds.
pub fn raise_fd_limit() -> io::Result<u64> {
    let (soft, hard) = getrlimit(Resource::RLIMIT_NOFILE)?;
    if soft < hard {
        setrlimit(Resource::RLIMIT_NOFILE, hard, hard)?;
    }
    Ok(hard)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn port_zero_gets_a_real_port_and_a_busy_port_is_refused() {
        let listener = tcp_listener("127.0.0.1:0".parse().unwrap(), 16).unwrap();
        let addr = listener.local_addr().unwrap();
        assert_ne!(addr.port(), 0);
        let err = tcp_listener(addr, 16).unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::AddrInUse);
    }

    #[test]
    fn fd_limit_reaches_the_hard_limit() {
        let limit = raise_fd_limit().unwrap();
        assert_eq!(getrlimit(Resource::RLIMIT_NOFILE).unwrap().0, limit);
    }
}
