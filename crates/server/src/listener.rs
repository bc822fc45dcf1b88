//! The accept loop: HTTP/1.1 (plain or TLS) served by hyper, one task per connection, with a
//! cap on connections, timeouts on silent clients, and a shutdown with a deadline.
//!
//! **Connection cap.** A connection takes a slot before it is accepted. At the cap the loop
//! stops accepting, and new connections wait in the kernel's accept queue, costing this process
//! no descriptor, until a slot frees (a connection closes or times out). So a flood of idle
//! connections can delay a health check by at most a timeout, never make the process run out
//! of descriptors and refuse everything.
//!
//! **Timeouts on the connection.** hyper's own header-read timer starts when hyper begins
//! waiting for a request, so on a kept-alive connection it measures the idle gap and the header
//! time as one. We want them apart (a minute of keep-alive is cheap, ten seconds to send a
//! header block is generous), so `TimedIo` watches the bytes: while no request is being
//! handled, a read that finds nothing arms a timer — the idle timeout between requests, the
//! header-read timeout for a connection's first request and from a request's first byte — and
//! a timer that fires fails the read, which makes hyper drop the connection. Bytes that keep
//! trickling in do not reset the header-read timer (a client sending a byte a second is cut off
//! on time). hyper's header-read timeout is set too, to the sum of both, as a backstop. While a
//! request is handled the request timeout of [`crate::limits`] applies instead. A write that
//! stays blocked for the idle timeout (a client that stopped reading its response) fails too.
//!
//! **Shutdown.** The loop stops accepting; idle connections close at once, a connection with a
//! request in flight closes after its response; whatever is still open when the grace period
//! ends is left behind, and the caller then closes the store and exits, which drops it. A
//! client stalled halfway through a request therefore delays the exit by the grace period at
//! most.

use crate::limits::Limits;
use axum::extract::ConnectInfo;
use axum::Router;
use hyper::body::Incoming;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::server::graceful::GracefulShutdown;
use std::convert::Infallible;
use std::future::Future;
use std::io;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{OwnedSemaphorePermit, Semaphore};
use tokio::time::{Instant, Sleep};
use tokio_rustls::TlsAcceptor;
use tower::ServiceExt;

/// What one connection's service tells its [`TimedIo`]: whether a request is being handled,
/// and how many have started. Both are touched only from the connection's own task (hyper
/// polls the service's futures there), so relaxed ordering is enough.
#[derive(Default)]
struct ConnState {
    active: AtomicUsize,
    started: AtomicU64,
}

/// Marks a request as handled until dropped (its response is ready, or it was abandoned).
struct Active(Arc<ConnState>);

impl Drop for Active {
    fn drop(&mut self) {
        self.0.active.fetch_sub(1, Ordering::Relaxed);
    }
}

/// Where a connection is between requests, as far as its bytes tell.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Phase {
    /// No request being handled, and no byte of the next one yet.
    Waiting,
    /// Bytes of a request arrived; its headers are not complete.
    Head,
    /// A request is being handled.
    Busy,
}

/// A connection's byte stream, with the idle and header-read timeouts applied to its reads.
struct TimedIo<S> {
    io: S,
    conn: Arc<ConnState>,
    phase: Phase,
    /// No request has started on this connection yet.
    first: bool,
    /// `conn.started` as last seen, to notice requests that came and went between two reads.
    seen: u64,
    armed: bool,
    timer: Pin<Box<Sleep>>,
    header_timeout: Duration,
    idle_timeout: Duration,
    /// Armed while a write makes no progress: a client that stops reading its response
    /// would otherwise hold the connection for ever.
    write_armed: bool,
    write_timer: Pin<Box<Sleep>>,
}

impl<S> TimedIo<S> {
    fn new(io: S, conn: Arc<ConnState>, limits: &Limits) -> TimedIo<S> {
        TimedIo {
            io,
            conn,
            phase: Phase::Waiting,
            first: true,
            seen: 0,
            armed: false,
            timer: Box::pin(tokio::time::sleep(limits.header_read_timeout)),
            header_timeout: limits.header_read_timeout,
            idle_timeout: limits.idle_timeout,
            write_armed: false,
            write_timer: Box::pin(tokio::time::sleep(limits.idle_timeout)),
        }
    }

    /// Passes a write's result on; a write that stays blocked for the idle timeout fails.
    fn watch_write<T>(
        &mut self,
        cx: &mut Context<'_>,
        p: Poll<io::Result<T>>,
    ) -> Poll<io::Result<T>> {
        match p {
            Poll::Pending => {
                if !self.write_armed {
                    self.write_timer
                        .as_mut()
                        .reset(Instant::now() + self.idle_timeout);
                    self.write_armed = true;
                }
                if self.write_timer.as_mut().poll(cx).is_ready() {
                    self.write_armed = false;
                    return Poll::Ready(Err(io::Error::new(
                        io::ErrorKind::TimedOut,
                        "write timeout: the client stopped reading",
                    )));
                }
                Poll::Pending
            }
            ready => {
                self.write_armed = false;
                ready
            }
        }
    }

    fn arm(&mut self, after: Duration) {
        self.timer.as_mut().reset(Instant::now() + after);
        self.armed = true;
    }

    /// Brings the phase up to date with what the service did since the last read.
    fn observe(&mut self) {
        let started = self.conn.started.load(Ordering::Relaxed);
        if self.conn.active.load(Ordering::Relaxed) > 0 {
            self.phase = Phase::Busy;
            self.armed = false;
        } else if self.phase == Phase::Busy || started != self.seen {
            // A request finished (perhaps within one poll, never seen as busy): the
            // connection now waits for the next one.
            self.phase = Phase::Waiting;
            self.armed = false;
        }
        if started != self.seen {
            self.first = false;
            self.seen = started;
        }
    }
}

impl<S: AsyncRead + Unpin> AsyncRead for TimedIo<S> {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let me = self.get_mut();
        me.observe();
        let before = buf.filled().len();
        match Pin::new(&mut me.io).poll_read(cx, buf) {
            Poll::Ready(Ok(())) => {
                if buf.filled().len() > before && me.phase == Phase::Waiting {
                    me.phase = Phase::Head;
                    // A first request's clock runs from the accept; later ones' from their
                    // first byte.
                    if !(me.first && me.armed) {
                        me.arm(me.header_timeout);
                    }
                }
                Poll::Ready(Ok(()))
            }
            Poll::Pending => {
                if me.phase != Phase::Busy {
                    if !me.armed {
                        let after = if me.phase == Phase::Waiting && !me.first {
                            me.idle_timeout
                        } else {
                            me.header_timeout
                        };
                        me.arm(after);
                    }
                    if me.timer.as_mut().poll(cx).is_ready() {
                        me.armed = false;
                        let what = if me.phase == Phase::Waiting && !me.first {
                            "idle timeout"
                        } else {
                            "header read timeout"
                        };
                        return Poll::Ready(Err(io::Error::new(io::ErrorKind::TimedOut, what)));
                    }
                }
                Poll::Pending
            }
            Poll::Ready(Err(e)) => Poll::Ready(Err(e)),
        }
    }
}

impl<S: AsyncWrite + Unpin> AsyncWrite for TimedIo<S> {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let me = self.get_mut();
        let p = Pin::new(&mut me.io).poll_write(cx, buf);
        me.watch_write(cx, p)
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        let me = self.get_mut();
        let p = Pin::new(&mut me.io).poll_write_vectored(cx, bufs);
        me.watch_write(cx, p)
    }

    fn is_write_vectored(&self) -> bool {
        self.io.is_write_vectored()
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let me = self.get_mut();
        let p = Pin::new(&mut me.io).poll_flush(cx);
        me.watch_write(cx, p)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().io).poll_shutdown(cx)
    }
}

/// The router, as one connection's hyper service.
#[derive(Clone)]
struct ConnService {
    app: Router,
    conn: Arc<ConnState>,
    /// The TCP peer, given to handlers as axum's `ConnectInfo` (failed authentications are
    /// counted per address, `crate::throttle`).
    peer: SocketAddr,
}

type ResponseFuture =
    Pin<Box<dyn Future<Output = Result<axum::response::Response, Infallible>> + Send>>;

impl hyper::service::Service<hyper::Request<Incoming>> for ConnService {
    type Response = axum::response::Response;
    type Error = Infallible;
    type Future = ResponseFuture;

    fn call(&self, mut req: hyper::Request<Incoming>) -> ResponseFuture {
        req.extensions_mut().insert(ConnectInfo(self.peer));
        self.conn.started.fetch_add(1, Ordering::Relaxed);
        self.conn.active.fetch_add(1, Ordering::Relaxed);
        let active = Active(self.conn.clone());
        let answer = self.app.clone().oneshot(req);
        Box::pin(async move {
            let resp = answer.await;
            drop(active);
            resp
        })
    }
}

/// At most one warning per interval, for conditions that can repeat thousands of times a
/// second (a full connection table, a refused accept).
pub struct Throttle {
    last: std::sync::Mutex<Option<std::time::Instant>>,
    every: Duration,
}

impl Throttle {
    pub fn new(every: Duration) -> Throttle {
        Throttle {
            last: std::sync::Mutex::new(None),
            every,
        }
    }

    /// `true` when the caller should log now.
    pub fn ready(&self) -> bool {
        let Ok(mut last) = self.last.lock() else {
            return false;
        };
        let now = std::time::Instant::now();
        match *last {
            Some(t) if now.duration_since(t) < self.every => false,
            _ => {
                *last = Some(now);
                true
            }
        }
    }
}

/// Serves `app` on `listener` until `shutdown` resolves, then drains within the grace period.
/// `max_connections` is the cap in force (the caller derives it from the open-file limit).
pub async fn serve(
    listener: TcpListener,
    app: Router,
    limits: Limits,
    max_connections: usize,
    tls: Option<TlsAcceptor>,
    shutdown: impl Future<Output = ()>,
) {
    let setup = ConnSetup {
        http: Arc::new(http_builder(&limits)),
        app,
        tls,
        limits,
    };
    let slots = Arc::new(Semaphore::new(max_connections));
    let graceful = GracefulShutdown::new();
    let (full_log, accept_log) = (
        Throttle::new(Duration::from_secs(10)),
        Throttle::new(Duration::from_secs(1)),
    );
    tokio::pin!(shutdown);
    loop {
        let Some(slot) = take_slot(&slots, max_connections, &full_log, &mut shutdown).await else {
            break;
        };
        let (stream, peer) = match accept(&listener, &accept_log, &mut shutdown).await {
            Accepted::Connection(stream, peer) => (stream, peer),
            Accepted::Failed => continue,
            Accepted::ShuttingDown => break,
        };
        // Responses are small and written whole; waiting to coalesce them only adds latency.
        let _ = stream.set_nodelay(true);
        let watcher = graceful.watcher();
        tokio::spawn(connection(setup.clone(), stream, peer, watcher, slot));
    }
    drop(listener);
    drain(graceful, setup.limits.shutdown_grace).await;
}

/// hyper's HTTP/1.1 settings under our limits.
fn http_builder(limits: &Limits) -> hyper::server::conn::http1::Builder {
    let mut http = hyper::server::conn::http1::Builder::new();
    http.timer(TokioTimer::new())
        .header_read_timeout(limits.idle_timeout + limits.header_read_timeout)
        // Above our own limits (checked in `limits::guard`, which answers in JSON), so that
        // hyper's bare 431 is only for what is far too large.
        .max_header_size(limits.max_uri_bytes + limits.max_header_bytes + 4096)
        .max_headers(crate::limits::HYPER_MAX_HEADERS);
    http
}

/// What every connection is served with.
#[derive(Clone)]
struct ConnSetup {
    http: Arc<hyper::server::conn::http1::Builder>,
    app: Router,
    tls: Option<TlsAcceptor>,
    limits: Limits,
}

/// A connection slot, waiting for one at the cap; `None` once shutdown begins.
async fn take_slot<S: Future<Output = ()> + Unpin>(
    slots: &Arc<Semaphore>,
    max_connections: usize,
    full_log: &Throttle,
    shutdown: &mut S,
) -> Option<OwnedSemaphorePermit> {
    if let Ok(slot) = slots.clone().try_acquire_owned() {
        return Some(slot);
    }
    if full_log.ready() {
        tracing::warn!(
            max_connections,
            "connection cap reached; new connections wait until one closes"
        );
    }
    tokio::select! {
        biased;
        () = shutdown => None,
        slot = slots.clone().acquire_owned() => slot.ok(),
    }
}

enum Accepted {
    Connection(TcpStream, SocketAddr),
    /// Accepting failed; the loop goes round again.
    Failed,
    ShuttingDown,
}

async fn accept<S: Future<Output = ()> + Unpin>(
    listener: &TcpListener,
    accept_log: &Throttle,
    shutdown: &mut S,
) -> Accepted {
    tokio::select! {
        biased;
        () = shutdown => Accepted::ShuttingDown,
        accepted = listener.accept() => match accepted {
            Ok((stream, peer)) => Accepted::Connection(stream, peer),
            Err(e) => {
                // Out of descriptors (something besides client connections holds them)
                // or a connection reset before it was accepted: wait a little rather
                // than spin on an error that is still there.
                if accept_log.ready() {
                    tracing::warn!(error = %e, "accepting a connection failed");
                }
                tokio::time::sleep(Duration::from_millis(50)).await;
                Accepted::Failed
            }
        },
    }
}

/// Serves one connection (after its TLS handshake, if any) until it closes; its slot is
/// given back then.
async fn connection(
    setup: ConnSetup,
    stream: TcpStream,
    peer: SocketAddr,
    watcher: hyper_util::server::graceful::Watcher,
    _slot: OwnedSemaphorePermit,
) {
    let ConnSetup {
        http,
        app,
        tls,
        limits,
    } = setup;
    let conn = Arc::new(ConnState::default());
    let service = ConnService {
        app,
        conn: conn.clone(),
        peer,
    };
    let ended = match tls {
        None => {
            let io = TokioIo::new(TimedIo::new(stream, conn, &limits));
            watcher.watch(http.serve_connection(io, service)).await
        }
        Some(tls) => {
            let handshake = tokio::time::timeout(limits.header_read_timeout, tls.accept(stream));
            let stream = match handshake.await {
                Ok(Ok(stream)) => stream,
                Ok(Err(e)) => {
                    tracing::debug!(error = %e, "TLS handshake failed");
                    return;
                }
                Err(_) => {
                    tracing::debug!("TLS handshake timed out");
                    return;
                }
            };
            let io = TokioIo::new(TimedIo::new(stream, conn, &limits));
            watcher.watch(http.serve_connection(io, service)).await
        }
    };
    if let Err(e) = ended {
        // hyper's own text is generic ("connection error"); the cause says which
        // timeout or I/O failure it was.
        let cause = std::error::Error::source(&e).map(ToString::to_string);
        tracing::debug!(error = %e, cause = cause.as_deref().unwrap_or(""), "connection closed");
    }
}

/// After the loop stops accepting: lets connections finish within the grace period.
async fn drain(graceful: GracefulShutdown, grace: Duration) {
    tracing::info!(
        connections = graceful.count(),
        grace_secs = grace.as_secs_f64(),
        "no longer accepting; finishing requests in flight"
    );
    match tokio::time::timeout(grace, graceful.shutdown()).await {
        Ok(()) => tracing::info!("drained: every connection closed after its requests"),
        Err(_) => tracing::warn!(
            "grace period over; connections still open (stalled clients, or requests not done) are dropped"
        ),
    }
}
