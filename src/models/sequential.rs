//! The sequential server: one client at a time, served to the end (Python's `socketserver.TCPServer`).
//!
//! The loop is the whole design: accept, serve until the client leaves, accept the next. While one client is
//! being served, every other client waits — first in the listen backlog, then, once the backlog is full, with
//! their SYNs dropped or their connections refused. With per-request work W, throughput is 1/W however many
//! clients come.
//!
//! What "accept" and "serve to the end" do — wait in `poll` so a stop is heard, let the protocol decide, bound
//! every wait by a deadline — is shared with the threads and pool models, in `blocking.rs`: read it next.

use std::io;
use std::net::{TcpListener, UdpSocket};

use super::Shared;
use super::blocking::{accept_next, answer_datagram, recv_next, serve_connection};

pub fn serve_tcp(listeners: &[TcpListener], shared: &Shared) -> io::Result<()> {
    while let Some(connection) = accept_next(listeners, shared) {
        serve_connection(connection, shared);
    }
    Ok(())
}

/// Over UDP: receive one datagram, do its work, reply, then receive the next.
pub fn serve_udp(sockets: &[UdpSocket], shared: &Shared) -> io::Result<()> {
    let mut buf = vec![0u8; 64 * 1024];
    while let Some((socket, len, peer)) = recv_next(sockets, shared, &mut buf) {
        answer_datagram(&sockets[socket], &buf[..len], peer, shared);
    }
    Ok(())
}
