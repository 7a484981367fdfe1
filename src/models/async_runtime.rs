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
//! waits until they have all finished — but never past the drain deadline, which every task's waits (input,
//! output, `sleep:` work) also respect; the runtime is then dropped, closing whatever is left. The token is
//! shared by every connection and polling it takes its locks, so a connection waiting for input registers with
//! it once and then looks at the shutdown's flag, an atomic load (`StopWaiter`).

use std::cell::RefCell;
use std::io::{self, IoSlice};
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::task::{Context, Poll, Waker, ready};
use std::time::{Duration, Instant, SystemTime};

use tokio::io::{AsyncRead, ReadBuf};
use tokio::net::{TcpListener, TcpStream, UdpSocket};
use tokio_util::sync::{CancellationToken, WaitForCancellationFuture};
use tokio_util::task::TaskTracker;
use tracing::{debug, warn};

use super::deadlines::{ConnectionClock, Expiry};
use super::{Listeners, Shared};
use crate::protocol::{self, Output, Session, Step};
use crate::shutdown::Shutdown;
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
    let served = runtime.block_on(async move {
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
        // Every task ends by the drain deadline on its own; this bound is the safety net.
        let bound = shared.shutdown.drain_deadline() + Duration::from_millis(100);
        if tokio::time::timeout_at(bound.into(), tracker.wait())
            .await
            .is_err()
        {
            warn!("tasks outstayed the drain time; closing their connections");
        }
        Ok(())
    });
    // Tasks still there are dropped (their sockets closed); a worker inside inline work gives it up by the drain
    // deadline too.
    runtime.shutdown_timeout(Duration::from_secs(1));
    served
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
                super::connection_log::accept_failed(&e);
                tokio::time::sleep(Duration::from_millis(100)).await;
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
    super::connection_log::opened(&peer);
    let _ = stream.set_nodelay(true);
    let config = &shared.config;
    let mut session = protocol::new_session(config.proto, &config.page, config.max_body);
    match drive(&mut stream, session.as_mut(), &shared, &stop).await {
        Ok(why) => super::connection_log::closed(&peer, why),
        Err(e) => {
            shared.stats.error();
            super::connection_log::failed(&peer, &e);
        }
    }
    let mut unread = UnreadInput(&stream);
    super::discard_unread(&mut unread);
}

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
    shared: &Arc<Shared>,
    stop: &CancellationToken,
) -> io::Result<&'static str> {
    let mut output = Output::default();
    // When input last arrived (first: the accept). A request head that is arriving began with it.
    let mut input_at = Instant::now();
    let mut clock = ConnectionClock::accepted(input_at);
    let mut stopping = false;
    let times_input =
        shared.config.idle_timeout.is_some() || shared.config.header_timeout.is_some();
    // Set up once, not once a read: the stop's waiter stays registered, and the deadline timer is only moved
    // when the deadline moves (echo, with no idle timeout, never starts it).
    let cancelled = stop.cancelled();
    tokio::pin!(cancelled);
    let mut cancelled = StopWaiter::new(cancelled, &shared.shutdown);
    let timer = tokio::time::sleep(Duration::ZERO);
    tokio::pin!(timer);
    let mut timer_at = None;
    loop {
        match session.step() {
            Step::Request { work } => {
                if work && !do_work(shared, stop).await {
                    return Ok("drain timeout");
                }
                // The shutdown's flag, an atomic load: the token's own check takes a lock, on every request.
                if !stopping && shared.shutdown.is_requested() {
                    // Say so in this reply (HTTP: `Connection: close`) rather than close after it unannounced.
                    stopping = true;
                    session.server_stopping();
                }
                session.respond(SystemTime::now(), &mut output);
                // The socket almost always takes the whole reply at once: only a full one needs `send`'s waits.
                write_now(stream, &mut output)?;
                if !output.is_empty()
                    && let Some(expired) =
                        send(stream, &mut output, &mut clock, shared, stop, &mut stopping).await?
                {
                    return Ok(expired.reason());
                }
                shared.stats.request_served();
            }
            Step::Close => return Ok("done"),
            Step::NeedInput => {
                clock.track_head(session, input_at);
                let deadline = clock.input_deadline(shared, stopping);
                if let Some((at, _)) = deadline.filter(|(at, _)| timer_at != Some(*at)) {
                    timer.as_mut().reset(at.into());
                    timer_at = Some(at);
                }
                tokio::select! {
                    // In this order: input that has already arrived is served even when the stop came with it.
                    biased;
                    read = std::future::poll_fn(|cx| read_into(stream, session, cx)) => {
                        // The clock is read only for a deadline that counts from input (not echo's).
                        if read? > 0 && times_input {
                            input_at = Instant::now();
                            clock.input(input_at);
                        }
                    }
                    _ = &mut cancelled, if !stopping => {
                        stopping = true;
                        if session.server_stopping() && !session.has_partial_request() {
                            return Ok("server stopping");
                        }
                    }
                    _ = &mut timer, if deadline.is_some() => match deadline.map(|(_, why)| why) {
                        Some(Expiry::Header) => session.head_timed_out(),
                        Some(why) => return Ok(why.reason()),
                        None => {}
                    },
                }
            }
        }
    }
}

/// A connection's wait for the stop, registered once. Polling the token's own future takes two locks that every
/// connection shares (the token's state, then its list of waiters), and a connection polls it at each wait for
/// input, once a request. Its waker stays in that list between polls, so it is polled again only when it may be
/// ready — the shutdown's flag is set before the token is cancelled (`serve` cancels once the flag's descriptor
/// turns readable) — or when the task's waker is not the one registered: otherwise a wait is one atomic load.
struct StopWaiter<'a, 'p> {
    cancelled: Pin<&'p mut WaitForCancellationFuture<'a>>,
    shutdown: &'a Shutdown,
    registered: Option<Waker>,
}

impl<'a, 'p> StopWaiter<'a, 'p> {
    fn new(cancelled: Pin<&'p mut WaitForCancellationFuture<'a>>, shutdown: &'a Shutdown) -> Self {
        StopWaiter {
            cancelled,
            shutdown,
            registered: None,
        }
    }
}

impl Future for StopWaiter<'_, '_> {
    type Output = ();

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        let this = &mut *self;
        let same_waker = this
            .registered
            .as_ref()
            .is_some_and(|waker| waker.will_wake(cx.waker()));
        if same_waker && !this.shutdown.is_requested() {
            return Poll::Pending;
        }
        if !same_waker {
            this.registered = Some(cx.waker().clone());
        }
        this.cancelled.as_mut().poll(cx)
    }
}

/// Reads what has arrived into the session (0 at the end of input). Through `AsyncRead`, so that a short read
/// tells the runtime the socket is drained: the next read waits for readiness instead of making a system call
/// only to hear `WouldBlock`.
fn read_into(
    stream: &mut TcpStream,
    session: &mut dyn Session,
    cx: &mut Context<'_>,
) -> Poll<io::Result<usize>> {
    SCRATCH.with_borrow_mut(|buf| {
        let mut filled = ReadBuf::new(buf);
        ready!(Pin::new(stream).poll_read(cx, &mut filled))?;
        let n = filled.filled().len();
        if n == 0 {
            session.feed_eof();
        } else {
            session.feed(&buf[..n]);
        }
        Poll::Ready(Ok(n))
    })
}

/// Writes as much of `output` as the socket takes now, without waiting. Returns how many bytes went.
fn write_now(stream: &TcpStream, output: &mut Output) -> io::Result<usize> {
    let mut sent = 0;
    while !output.is_empty() {
        let written = match output.slices() {
            (all, []) => stream.try_write(all),
            (head, page) => stream.try_write_vectored(&[IoSlice::new(head), IoSlice::new(page)]),
        };
        match written {
            Ok(0) => return Err(io::ErrorKind::WriteZero.into()),
            Ok(n) => {
                output.advance(n);
                sent += n;
            }
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(sent)
}

/// Sends the rest of `output` once the socket is full, waiting for it to drain, but never past the send deadline
/// (no progress for `--send-timeout`) or, once stopping, the drain deadline. Returns the deadline that ended it,
/// if one did.
async fn send(
    stream: &TcpStream,
    output: &mut Output,
    clock: &mut ConnectionClock,
    shared: &Shared,
    stop: &CancellationToken,
    stopping: &mut bool,
) -> io::Result<Option<Expiry>> {
    // Whether bytes went out since the clock last heard (a reply that starts waiting counts as progress).
    let mut progressed = true;
    while !output.is_empty() {
        if progressed {
            clock.output(Instant::now());
        }
        let (at, why) = clock.send_deadline(shared, *stopping);
        tokio::select! {
            biased;
            ready = stream.writable() => ready?,
            // The deadline shrinks to the drain time: look again.
            _ = stop.cancelled(), if !*stopping => *stopping = true,
            _ = tokio::time::sleep_until(at.into()) => return Ok(Some(why)),
        }
        progressed = write_now(stream, output)? > 0;
    }
    Ok(None)
}

/// Runs one request's work the way this model does: a timer for `sleep:`, on the worker thread or in the bounded
/// blocking pool for the rest. Returns false when the end of a stop cut it short (no reply is owed).
async fn do_work(shared: &Arc<Shared>, stop: &CancellationToken) -> bool {
    let work = shared.config.work;
    match work {
        Work::None => true,
        Work::Sleep(d) => {
            let drain_over = async {
                stop.cancelled().await;
                tokio::time::sleep_until(shared.shutdown.drain_deadline().into()).await;
            };
            tokio::select! {
                _ = tokio::time::sleep(d) => true,
                _ = drain_over => false,
            }
        }
        Work::Cpu(_) | Work::Block(_) if shared.config.offload.is_some() => {
            let shared = Arc::clone(shared);
            tokio::task::spawn_blocking(move || work.run_bounded(&shared.shutdown))
                .await
                .unwrap_or(false)
        }
        Work::Cpu(_) | Work::Block(_) => work.run_bounded(&shared.shutdown),
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
    // Datagrams whose work is in progress: bounded, so a flood cannot grow the server without limit.
    let waiting = Arc::new(AtomicUsize::new(0));
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
        if waiting.load(Ordering::Relaxed) >= shared.config.max_datagrams {
            shared.stats.dropped();
            continue;
        }
        let mut reply = Vec::with_capacity(len);
        protocol::datagram_reply(shared.config.proto, &buf[..len], &mut reply);
        let (socket, shared, stop) = (Arc::clone(&socket), Arc::clone(&shared), stop.clone());
        let waiting = Arc::clone(&waiting);
        waiting.fetch_add(1, Ordering::Relaxed);
        tracker.spawn(async move {
            if do_work(&shared, &stop).await {
                match socket.send_to(&reply, peer).await {
                    Ok(_) => shared.stats.request_served(),
                    Err(e) => {
                        shared.stats.error();
                        debug!(%peer, error = %e, "reply not sent");
                    }
                }
            }
            waiting.fetch_sub(1, Ordering::Relaxed);
        });
    }
}
