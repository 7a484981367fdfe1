//! An async runtime: one tokio task per connection, run by `--workers` threads (default: one per CPU).
//!
//! A task is a connection's code written as if it were blocking — read, work, reply — but every wait is an
//! `.await` that hands the thread back to the runtime, which runs another task meanwhile. Underneath it is the
//! `poll` model's readiness loop, spread over a few threads, with the runtime keeping each connection's state in
//! its task instead of a hand-written struct.
//!
//! `sleep:D` is `tokio::time::sleep` and costs nothing while it waits. `cpu:D` and `block:D` occupy the worker
//! thread that runs them — with 2 workers, two such requests stall every other task — unless `--offload N` sends
//! them to tokio's blocking pool, bounded here to N threads (unbounded, it would grow to 512).
//!
//! Stopping follows tokio's graceful-shutdown pattern: a `CancellationToken` tells every task, a `TaskTracker`
//! waits until they have all finished.

use std::cell::RefCell;
use std::io;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Instant, SystemTime};

use tokio::io::AsyncWriteExt;
use tokio::net::{TcpListener, TcpStream, UdpSocket};
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;
use tracing::{debug, warn};

use crate::protocol::{self, Session, Step};
use crate::server::{Listeners, Shared};
use crate::work::Work;

pub fn serve(listeners: Listeners, shared: &Arc<Shared>) -> io::Result<()> {
    let (entering, leaving) = (Arc::clone(shared), Arc::clone(shared));
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(shared.config.workers)
        .max_blocking_threads(shared.config.offload.unwrap_or(1))
        .thread_name("async-worker")
        .on_thread_start(move || entering.stats.thread_entered())
        .on_thread_stop(move || leaving.stats.thread_left())
        .enable_all()
        .build()?;
    let shared = Arc::clone(shared);
    runtime.block_on(async move {
        let stop = CancellationToken::new();
        let tracker = TaskTracker::new();
        match listeners {
            Listeners::Tcp(list) => {
                for listener in list {
                    let listener = TcpListener::from_std(listener)?;
                    tracker.spawn(accept_loop(
                        listener,
                        Arc::clone(&shared),
                        stop.clone(),
                        tracker.clone(),
                    ));
                }
            }
            Listeners::Udp(list) => {
                for socket in list {
                    let socket = Arc::new(UdpSocket::from_std(socket)?);
                    tracker.spawn(datagram_loop(
                        socket,
                        Arc::clone(&shared),
                        stop.clone(),
                        tracker.clone(),
                    ));
                }
            }
        }
        wait_for_stop(&shared).await?;
        stop.cancel();
        tracker.close();
        tracker.wait().await;
        Ok(())
    })
}

/// Resolves once a stop is requested (the shutdown descriptor turns readable).
async fn wait_for_stop(shared: &Shared) -> io::Result<()> {
    let wake = tokio::net::UnixStream::from_std(shared.shutdown.wake_stream()?)?;
    wake.readable().await
}

async fn accept_loop(
    listener: TcpListener,
    shared: Arc<Shared>,
    stop: CancellationToken,
    tracker: TaskTracker,
) {
    loop {
        let accepted = tokio::select! {
            _ = stop.cancelled() => return,
            accepted = listener.accept() => accepted,
        };
        match accepted {
            Ok((stream, peer)) => {
                tracker.spawn(serve_connection(
                    stream,
                    peer,
                    Arc::clone(&shared),
                    stop.clone(),
                ));
            }
            Err(e) => {
                // Usually EMFILE: wait a moment so closing connections free descriptors; clients wait in the backlog.
                shared.stats.error();
                warn!(error = %e, "accept failed; pausing accepts");
                tokio::time::sleep(std::time::Duration::from_millis(100)).await;
            }
        }
    }
}

async fn serve_connection(
    mut stream: TcpStream,
    peer: SocketAddr,
    shared: Arc<Shared>,
    stop: CancellationToken,
) {
    let _open = shared.stats.connection_opened();
    debug!(%peer, "connection opened");
    let _ = stream.set_nodelay(true);
    let mut session = protocol::new_session(shared.config.proto, &shared.config.page);
    match drive(&mut stream, session.as_mut(), &shared, &stop).await {
        Ok(why) => debug!(%peer, why, "connection closed"),
        Err(e) => {
            shared.stats.error();
            debug!(%peer, error = %e, "connection failed");
        }
    }
    let mut unread = UnreadInput(&stream);
    super::blocking::discard_unread(&mut unread);
}

/// A write that cannot finish in this long is a client that stopped reading.
const WRITE_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(30);

/// Reads what a tokio stream holds right now, without waiting (for discarding unread input before a close).
struct UnreadInput<'a>(&'a TcpStream);

impl std::io::Read for UnreadInput<'_> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        self.0.try_read(buf)
    }
}

thread_local! {
    /// One read buffer per worker thread: a connection's bytes go straight to its session, so a waiting
    /// connection holds no buffer of its own.
    static SCRATCH: RefCell<Vec<u8>> = RefCell::new(vec![0; 64 * 1024]);
}

async fn drive(
    stream: &mut TcpStream,
    session: &mut dyn Session,
    shared: &Shared,
    stop: &CancellationToken,
) -> io::Result<&'static str> {
    let mut output = Vec::new();
    let mut last_input = Instant::now();
    let mut stopping = false;
    loop {
        match session.step() {
            Step::Request { work } => {
                if work {
                    do_work(shared).await;
                }
                if !stopping && stop.is_cancelled() {
                    // Say so in this reply (HTTP: `Connection: close`) rather than close after it unannounced.
                    stopping = true;
                    session.server_stopping();
                }
                session.respond(SystemTime::now(), &mut output);
                // A client that stops reading must not keep the server from stopping.
                tokio::time::timeout(WRITE_TIMEOUT, stream.write_all(&output))
                    .await
                    .map_err(|_| {
                        io::Error::new(io::ErrorKind::TimedOut, "client stopped reading")
                    })??;
                output.clear();
                shared.stats.request_served();
            }
            Step::Close => return Ok("done"),
            Step::NeedInput => {
                let deadline = super::input_deadline(shared, last_input, stopping);
                let sleep = async {
                    match deadline {
                        Some(at) => tokio::time::sleep_until(at.into()).await,
                        None => std::future::pending().await,
                    }
                };
                tokio::select! {
                    // In this order: input that has already arrived is served even when the stop came with it.
                    biased;
                    ready = stream.readable() => {
                        ready?;
                        let read = SCRATCH.with_borrow_mut(|buf| {
                            let n = stream.try_read(buf)?;
                            if n == 0 { session.feed_eof() } else { session.feed(&buf[..n]) }
                            Ok::<usize, io::Error>(n)
                        });
                        match read {
                            Ok(n) if n > 0 => last_input = Instant::now(),
                            Ok(_) => {}
                            Err(e) if e.kind() == io::ErrorKind::WouldBlock => {}
                            Err(e) => return Err(e),
                        }
                    }
                    _ = stop.cancelled(), if !stopping => {
                        stopping = true;
                        if session.server_stopping() && !session.has_partial_request() {
                            return Ok("server stopping");
                        }
                    }
                    _ = sleep => {
                        return Ok(if stopping { "drain timeout" } else { "idle timeout" });
                    }
                }
            }
        }
    }
}

/// Runs one request's work the way this model does: a timer for `sleep:`, on the worker thread or in the bounded
/// blocking pool for the rest.
async fn do_work(shared: &Shared) {
    let work = shared.config.work;
    match work {
        Work::None => {}
        Work::Sleep(d) => tokio::time::sleep(d).await,
        Work::Cpu(_) | Work::Block(_) if shared.config.offload.is_some() => {
            let _ = tokio::task::spawn_blocking(move || work.run_blocking()).await;
        }
        Work::Cpu(_) | Work::Block(_) => work.run_blocking(),
    }
}

/// UDP: one receiving task per socket; each datagram's work and reply run in a task of its own.
async fn datagram_loop(
    socket: Arc<UdpSocket>,
    shared: Arc<Shared>,
    stop: CancellationToken,
    tracker: TaskTracker,
) {
    let mut buf = vec![0u8; 64 * 1024];
    loop {
        let received = tokio::select! {
            _ = stop.cancelled() => return,
            received = socket.recv_from(&mut buf) => received,
        };
        let (len, peer) = match received {
            Ok(received) => received,
            Err(e) => {
                debug!(error = %e, "receive failed");
                continue;
            }
        };
        let mut reply = Vec::with_capacity(len);
        protocol::datagram_reply(shared.config.proto, &buf[..len], &mut reply);
        let (socket, shared) = (Arc::clone(&socket), Arc::clone(&shared));
        tracker.spawn(async move {
            do_work(&shared).await;
            match socket.send_to(&reply, peer).await {
                Ok(_) => shared.stats.request_served(),
                Err(e) => {
                    shared.stats.error();
                    debug!(%peer, error = %e, "reply not sent");
                }
            }
        });
    }
}
