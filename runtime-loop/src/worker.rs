//! The one worker loop both engines run, and what they share inside it: the connection
//! table, the wake-up queue, the deadline sweep, accepting and the drain on shutdown.
//! An engine ([`Io`]) adds only how it waits and how bytes move.

use std::io::Write;
use std::net::{SocketAddr, TcpStream};
use std::sync::Arc;
use std::task::{Context, Waker};
use std::time::{Duration, Instant};

use http_conn::{Action, Driver};
use ingest::{ConnectionSlot, Dispatcher};
use runtime_common::{Shared, Shutdown, ACCEPT_BACKOFF};

use crate::wake::Notifier;

/// A kernel interface a worker loop runs on: io_uring or epoll. Everything else (the
/// loop, connections, deadlines, wake-ups, admission, drain) is [`run`]'s.
pub(crate) trait Io {
    /// What the engine keeps per connection beyond the driver.
    type Conn;
    /// Why the worker cannot go on (a broken ring, a failed wait).
    type Error;

    /// Submits what is queued and waits once for I/O, a wake-up or `timeout` (`None`:
    /// no limit; zero: just collect what is ready). The loop's one blocking call.
    fn wait(&mut self, timeout: Option<Duration>) -> Result<(), Self::Error>;

    /// Hands what the wait brought to the connections (bytes, EOF, finished writes,
    /// accepted sockets), marking each connection that can move.
    fn dispatch(
        &mut self,
        worker: &mut Worker<Self::Conn>,
        now: Instant,
    ) -> Result<(), Self::Error>;

    /// Accepts (or re-arms accepting) when the worker allows it; once draining, closes
    /// the listener when it can.
    fn accept(&mut self, worker: &mut Worker<Self::Conn>, now: Instant) -> Result<(), Self::Error>;

    /// Stops accepting: the listener is closed (now or once its last operation ended)
    /// so that new clients are refused rather than left in the backlog.
    fn stop_accepting(&mut self) -> Result<(), Self::Error>;

    /// Carries out connection `index`'s next actions until it waits or closes.
    fn service(
        &mut self,
        worker: &mut Worker<Self::Conn>,
        index: usize,
        now: Instant,
    ) -> Result<(), Self::Error>;

    /// When the loop ends (also while unwinding from a panic): ends every operation
    /// before any socket closes or buffer is freed, then closes the listener and the
    /// connections.
    fn finish(&mut self, worker: &mut Worker<Self::Conn>);
}

/// An engine and its worker, finished in the order closing needs whichever way the
/// loop ends: the engine's operations end before any socket closes.
struct Loop<I: Io> {
    io: I,
    worker: Worker<I::Conn>,
}

impl<I: Io> Drop for Loop<I> {
    fn drop(&mut self) {
        self.io.finish(&mut self.worker);
    }
}

/// Runs `io` until shutdown drained every connection (or the grace period ended).
///
/// Per iteration: one wait (until I/O, a Kafka delivery, or the earliest connection
/// deadline), then everything that arrived is fed to the connections, the woken ones are
/// marked, deadlines that passed are handled, and every marked connection is serviced.
pub(crate) fn run<I: Io>(io: I, worker: Worker<I::Conn>) -> Result<(), I::Error> {
    let mut serviced = Vec::with_capacity(256);
    let mut this = Loop { io, worker };
    let Loop { io, worker } = &mut this;
    loop {
        let now = Instant::now();
        let timeout = worker.sleep_for(now);
        let sleeping = timeout != Some(Duration::ZERO) && worker.notifier.prepare_sleep();
        io.wait(if sleeping {
            timeout
        } else {
            Some(Duration::ZERO)
        })?;
        worker.notifier.awake();
        let now = Instant::now();
        io.dispatch(worker, now)?;
        worker.collect_woken();
        if worker.shutdown_requested() && !worker.draining() {
            io.stop_accepting()?;
            worker.begin_drain();
        }
        io.accept(worker, now)?;
        worker.sweep(now);
        worker.take_dirty(&mut serviced);
        for &index in &serviced {
            io.service(worker, index, now)?;
        }
        if worker.drained() {
            break;
        }
    }
    if worker.open() > 0 {
        tracing::warn!(
            open = worker.open(),
            "shutdown stopped the drain with connections still open"
        );
    }
    // `Loop`'s drop finishes the engine, here and while unwinding.
    Ok(())
}

/// One connection: its socket, its driver (connection core and gateway service) and
/// the engine's per-connection state `E`.
pub(crate) struct Conn<E> {
    pub(crate) stream: TcpStream,
    pub(crate) driver: Driver<Dispatcher>,
    pub(crate) io: E,
    /// Puts this connection on the worker's ready queue when a reply it waits for
    /// resolves.
    waker: Waker,
    deadline: Option<Instant>,
    queued: bool,
    _slot: ConnectionSlot,
}

impl<E> Conn<E> {
    /// The driver's next action, with this connection's waker registered for the
    /// replies it waits for.
    pub(crate) fn poll_action(&mut self, now: Instant) -> Action {
        self.driver
            .poll_action(&mut Context::from_waker(&self.waker), now)
    }
}

/// One worker's connections and loop bookkeeping.
pub(crate) struct Worker<E> {
    pub(crate) shared: Arc<Shared>,
    /// Raised by the main thread on SIGINT/SIGTERM or when a worker died; it also
    /// rings [`Worker::notifier`] (see `server.rs`).
    shutdown: Shutdown,
    pub(crate) notifier: Arc<Notifier>,
    conns: Vec<Option<Conn<E>>>,
    generations: Vec<u32>,
    free: Vec<usize>,
    open: usize,
    dirty: Vec<usize>,
    woken: Vec<u64>,
    /// No connection deadline is earlier (it may be later: then a sweep finds nothing
    /// and recomputes it).
    earliest: Option<Instant>,
    /// Set once shutdown began: accept nothing more, let the connections finish.
    draining: bool,
    /// After a failed accept (out of descriptors and the like): no accept until then,
    /// instead of spinning on the same error.
    accept_paused_until: Option<Instant>,
}

impl<E> Worker<E> {
    pub(crate) fn new(shared: Arc<Shared>, shutdown: Shutdown, notifier: Arc<Notifier>) -> Self {
        Self {
            shared,
            shutdown,
            notifier,
            conns: Vec::new(),
            generations: Vec::new(),
            free: Vec::new(),
            open: 0,
            dirty: Vec::with_capacity(256),
            woken: Vec::with_capacity(256),
            earliest: None,
            draining: false,
            accept_paused_until: None,
        }
    }

    /// Whether the main thread asked every worker to stop.
    fn shutdown_requested(&self) -> bool {
        self.shutdown.is_requested()
    }

    /// An accept failed at `now`: pause accepting briefly.
    pub(crate) fn pause_accept(&mut self, now: Instant) {
        self.accept_paused_until = Some(now + ACCEPT_BACKOFF);
    }

    /// Whether accepting may go on (not draining, and no pause, or it ended).
    pub(crate) fn accept_allowed(&mut self, now: Instant) -> bool {
        if self.draining() {
            return false;
        }
        match self.accept_paused_until {
            Some(until) if now < until => false,
            _ => {
                self.accept_paused_until = None;
                true
            }
        }
    }

    /// Admits an accepted socket from `peer`, or answers `503` and closes it when the
    /// process or that client is at its connection limit (or the worker is draining:
    /// then it is dropped). `peer` is `None` when the engine's accept did not return
    /// it; it is then asked of the socket, only if admission counts per client. `io`
    /// makes the engine state for the slot index.
    pub(crate) fn admit(
        &mut self,
        stream: TcpStream,
        peer: Option<SocketAddr>,
        now: Instant,
        io: impl FnOnce(usize, &TcpStream) -> std::io::Result<E>,
    ) -> Option<usize> {
        if self.draining() {
            return None;
        }
        let peer = match peer {
            None if self.shared.admits_per_client() => stream.peer_addr().ok(),
            peer => peer,
        };
        let slot = match self.shared.try_admit(peer) {
            Ok(slot) => slot,
            Err(why) => {
                // The refusal is a few hundred bytes into an empty socket buffer: one
                // non-blocking write, then close.
                let _ = stream.set_nonblocking(true);
                let _ = (&stream).write(self.shared.refusal(why));
                return None;
            }
        };
        let _ = stream.set_nodelay(true);
        let index = self.free.pop().unwrap_or_else(|| {
            self.conns.push(None);
            self.generations.push(0);
            self.conns.len() - 1
        });
        let io = match io(index, &stream) {
            Ok(io) => io,
            Err(error) => {
                tracing::warn!(%error, "cannot register an accepted connection");
                self.free.push(index);
                return None;
            }
        };
        let token = (u64::from(self.generations[index]) << 32) | index as u64;
        self.conns[index] = Some(Conn {
            stream,
            driver: self.shared.driver(now),
            io,
            waker: self.notifier.waker(token),
            deadline: None,
            queued: false,
            _slot: slot,
        });
        self.open += 1;
        self.mark(index);
        Some(index)
    }

    /// The connection in slot `index`, if open.
    pub(crate) fn get(&mut self, index: usize) -> Option<&mut Conn<E>> {
        self.conns.get_mut(index)?.as_mut()
    }

    /// Open connections.
    pub(crate) fn open(&self) -> usize {
        self.open
    }

    /// Slots of every open connection.
    pub(crate) fn indices(&self) -> Vec<usize> {
        (0..self.conns.len())
            .filter(|&index| self.conns[index].is_some())
            .collect()
    }

    /// Queues connection `index` for service in this iteration.
    pub(crate) fn mark(&mut self, index: usize) {
        if let Some(Some(conn)) = self.conns.get_mut(index) {
            if !conn.queued {
                conn.queued = true;
                self.dirty.push(index);
            }
        }
    }

    /// Marks the connections whose replies were woken since the last call.
    fn collect_woken(&mut self) {
        self.notifier.take_ready(&mut self.woken);
        let mut woken = std::mem::take(&mut self.woken);
        for token in woken.drain(..) {
            let index = (token & 0xffff_ffff) as usize;
            if self.generations.get(index) == Some(&((token >> 32) as u32)) {
                self.mark(index);
            }
        }
        self.woken = woken;
    }

    /// Moves the queued connections into `into` (a reused vector) for service.
    fn take_dirty(&mut self, into: &mut Vec<usize>) {
        into.clear();
        std::mem::swap(into, &mut self.dirty);
        for &index in into.iter() {
            if let Some(Some(conn)) = self.conns.get_mut(index) {
                conn.queued = false;
            }
        }
    }

    /// Records connection `index`'s next deadline after it was serviced: `deadline`,
    /// the one its last [`Action::Wait`] named.
    pub(crate) fn set_deadline(&mut self, index: usize, deadline: Option<Instant>) {
        let Some(Some(conn)) = self.conns.get_mut(index) else {
            return;
        };
        conn.deadline = deadline;
        if let Some(deadline) = conn.deadline {
            self.earliest = Some(self.earliest.map_or(deadline, |e| e.min(deadline)));
        }
    }

    /// If the earliest deadline passed: gives every expired connection its timeout
    /// (queueing it for service) and recomputes the earliest deadline. One pass over the
    /// table per expiry, not per iteration.
    fn sweep(&mut self, now: Instant) {
        if self.earliest.is_none_or(|earliest| earliest > now) {
            return;
        }
        let mut earliest: Option<Instant> = None;
        for index in 0..self.conns.len() {
            let Some(conn) = self.conns[index].as_mut() else {
                continue;
            };
            match conn.deadline {
                Some(deadline) if deadline <= now => {
                    conn.driver.handle_timeout(now);
                    conn.deadline = conn.driver.poll_timeout();
                    self.mark(index);
                }
                Some(deadline) => {
                    earliest = Some(earliest.map_or(deadline, |e| e.min(deadline)));
                }
                None => {}
            }
        }
        self.earliest = earliest;
    }

    /// Removes connection `index` (its socket closes on drop). The engine must have
    /// finished every operation on it.
    pub(crate) fn remove(&mut self, index: usize) -> Option<Conn<E>> {
        let conn = self.conns.get_mut(index)?.take()?;
        self.generations[index] = self.generations[index].wrapping_add(1);
        self.free.push(index);
        self.open -= 1;
        Some(conn)
    }

    /// Starts the drain: every connection finishes what it has and closes (the main
    /// thread decides when the drain is over: `Shutdown::is_stop_requested`).
    fn begin_drain(&mut self) {
        if self.draining {
            return;
        }
        self.draining = true;
        for index in 0..self.conns.len() {
            if let Some(conn) = self.conns[index].as_mut() {
                conn.driver.begin_shutdown();
                self.mark(index);
            }
        }
    }

    /// Whether shutdown began here.
    pub(crate) fn draining(&self) -> bool {
        self.draining
    }

    /// Whether the drain is over: nothing open, or the main thread asked to stop.
    fn drained(&self) -> bool {
        self.draining && (self.open == 0 || self.shutdown.is_stop_requested())
    }

    /// How long the loop may sleep: zero with work queued, else until the earliest
    /// deadline (or the end of an accept pause); `None`: until I/O or a wake-up (a
    /// delivery, or the next stage of the shutdown).
    fn sleep_for(&self, now: Instant) -> Option<Duration> {
        if !self.dirty.is_empty() {
            return Some(Duration::ZERO);
        }
        let until = [self.earliest, self.accept_paused_until]
            .into_iter()
            .flatten()
            .min();
        until.map(|until| until.saturating_duration_since(now))
    }
}
