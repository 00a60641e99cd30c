//! Every `unsafe` of the crate: the io_uring [`Ring`] with the memory it lends the
//! kernel (the provided-buffer ring, per-connection receive buffers, the send buffers
//! it holds while they are sent, the eventfd read buffer), [`Epoll`], [`EventFd`] and
//! adopting accepted file descriptors.
//!
//! The rule the ring keeps, by itself rather than by trusting its caller: memory named
//! in a submitted operation belongs to the [`Ring`] and is neither moved, reused nor
//! freed until that operation's last completion was reaped. A second send or receive
//! on a slot whose operation is in flight is refused; a received buffer is lent to a
//! callback that cannot reach the ring; a send buffer is taken and handed back with
//! its completion. Shutdown (and `Drop`, also while unwinding from a panic) cancels
//! every operation and reaps it before any buffer is freed; if the kernel does not give
//! every operation back, the buffers are leaked rather than freed.

use std::alloc::Layout;
use std::io::{self, Read, Write};
use std::net::TcpStream;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::ptr::NonNull;
use std::sync::atomic::{AtomicU16, Ordering};
use std::time::{Duration, Instant};

use io_uring::types::{BufRingEntry, CancelBuilder, Fd, SubmitArgs, Timespec};
use io_uring::{cqueue, opcode, squeue, IoUring, Submitter};

use crate::args::{UringFeature, UringFeatures};

/// `IOU_PBUF_RING_INC` (Linux 6.12): the kernel consumes a provided buffer in pieces.
/// Not re-exported by io-uring 0.7.
const IOU_PBUF_RING_INC: u16 = 2;

// ---------------------------------------------------------------------------------------
// Small wrappers
// ---------------------------------------------------------------------------------------

/// A non-blocking eventfd: the cross-thread doorbell of one worker.
#[derive(Debug)]
pub(crate) struct EventFd(std::fs::File);

impl EventFd {
    pub(crate) fn new() -> io::Result<Self> {
        // SAFETY: eventfd takes no pointers.
        let fd = unsafe { libc::eventfd(0, libc::EFD_NONBLOCK | libc::EFD_CLOEXEC) };
        if fd < 0 {
            return Err(io::Error::last_os_error());
        }
        // SAFETY: `fd` was just created and is owned by nobody else.
        Ok(Self(unsafe { std::fs::File::from_raw_fd(fd) }))
    }

    /// Rings the doorbell (never blocks: the counter only overflows after 2^64 - 2
    /// unread writes).
    pub(crate) fn notify(&self) {
        let _ = (&self.0).write(&1u64.to_ne_bytes());
    }

    /// Reads and resets the counter; 0 if nobody rang.
    pub(crate) fn take(&self) -> u64 {
        let mut bytes = [0u8; 8];
        match (&self.0).read(&mut bytes) {
            Ok(8) => u64::from_ne_bytes(bytes),
            _ => 0,
        }
    }

    pub(crate) fn raw(&self) -> RawFd {
        self.0.as_raw_fd()
    }
}

// ---------------------------------------------------------------------------------------
// epoll
// ---------------------------------------------------------------------------------------

/// An epoll instance; events carry a caller-chosen `u64` token.
#[derive(Debug)]
pub(crate) struct Epoll {
    fd: OwnedFd,
    events: Vec<libc::epoll_event>,
}

/// One readiness report from [`Epoll::wait`].
#[derive(Debug, Clone, Copy)]
pub(crate) struct Readiness {
    pub(crate) token: u64,
    pub(crate) readable: bool,
    pub(crate) writable: bool,
    /// The peer closed its side (or the socket failed): a short read is the end.
    pub(crate) hang_up: bool,
}

impl Epoll {
    pub(crate) fn new(capacity: usize) -> io::Result<Self> {
        // SAFETY: epoll_create1 takes no pointers.
        let fd = unsafe { libc::epoll_create1(libc::EPOLL_CLOEXEC) };
        if fd < 0 {
            return Err(io::Error::last_os_error());
        }
        Ok(Self {
            // SAFETY: `fd` was just created and is owned by nobody else.
            fd: unsafe { OwnedFd::from_raw_fd(fd) },
            events: vec![libc::epoll_event { events: 0, u64: 0 }; capacity],
        })
    }

    /// Watches `fd`, edge-triggered: readable, writable, peer hang-up.
    pub(crate) fn add(&self, fd: RawFd, token: u64) -> io::Result<()> {
        let mut event = libc::epoll_event {
            events: (libc::EPOLLIN | libc::EPOLLOUT | libc::EPOLLRDHUP | libc::EPOLLET) as u32,
            u64: token,
        };
        // SAFETY: `event` is a live local for the duration of the call.
        let result =
            unsafe { libc::epoll_ctl(self.fd.as_raw_fd(), libc::EPOLL_CTL_ADD, fd, &mut event) };
        if result < 0 {
            return Err(io::Error::last_os_error());
        }
        Ok(())
    }

    /// Stops watching `fd` (closing it does that too, unless it was duplicated).
    pub(crate) fn remove(&self, fd: RawFd) {
        // SAFETY: a null event is allowed for EPOLL_CTL_DEL since Linux 2.6.9.
        unsafe {
            libc::epoll_ctl(
                self.fd.as_raw_fd(),
                libc::EPOLL_CTL_DEL,
                fd,
                std::ptr::null_mut(),
            )
        };
    }

    /// Waits up to `timeout` (rounded up to a millisecond; `None`: forever) and calls
    /// `each` per event.
    pub(crate) fn wait(
        &mut self,
        timeout: Option<Duration>,
        mut each: impl FnMut(Readiness),
    ) -> io::Result<()> {
        let timeout_ms = timeout.map_or(-1, |timeout| {
            i32::try_from(timeout.as_nanos().div_ceil(1_000_000)).unwrap_or(i32::MAX)
        });
        // SAFETY: the kernel writes at most `events.len()` entries into `events`, which
        // lives for the duration of the call.
        let count = unsafe {
            libc::epoll_wait(
                self.fd.as_raw_fd(),
                self.events.as_mut_ptr(),
                i32::try_from(self.events.len()).unwrap_or(i32::MAX),
                timeout_ms,
            )
        };
        if count < 0 {
            let error = io::Error::last_os_error();
            return if error.kind() == io::ErrorKind::Interrupted {
                Ok(())
            } else {
                Err(error)
            };
        }
        for event in &self.events[..count as usize] {
            let (flags, token) = (event.events, event.u64);
            let failed = flags & (libc::EPOLLERR | libc::EPOLLHUP) as u32 != 0;
            each(Readiness {
                token,
                readable: flags & libc::EPOLLIN as u32 != 0 || failed,
                writable: flags & libc::EPOLLOUT as u32 != 0 || failed,
                hang_up: flags & (libc::EPOLLRDHUP | libc::EPOLLHUP) as u32 != 0,
            });
        }
        Ok(())
    }
}

// ---------------------------------------------------------------------------------------
// io_uring
// ---------------------------------------------------------------------------------------

/// How a worker's ring is set up.
#[derive(Debug, Clone, Copy)]
pub(crate) struct RingConfig {
    /// Submission-queue entries (`--ring-entries`).
    pub(crate) entries: u32,
    /// The features asked for; [`Ring::features`] says which are in effect.
    pub(crate) features: UringFeatures,
    /// Provided buffers (a power of two, at most 32768).
    pub(crate) buffers: u16,
    /// Bytes per provided buffer, and of each slot's own receive buffer without them.
    pub(crate) buffer_bytes: u32,
    /// Most connections the worker may hold at once: sizes the completion queue.
    pub(crate) max_connections: usize,
}

/// What the ring refuses, or why its worker cannot go on.
#[derive(Debug, thiserror::Error)]
pub(crate) enum RingError {
    /// The slot's receive is still the kernel's (armed, or being cancelled).
    #[error("connection slot {slot} already has a receive in flight")]
    RecvInFlight {
        /// The connection slot.
        slot: usize,
    },
    /// The slot's send is still the kernel's.
    #[error("connection slot {slot} already has a send in flight")]
    SendInFlight {
        /// The connection slot.
        slot: usize,
    },
    /// A send was asked to start past the end of its buffer.
    #[error("a send from offset {offset} of a {len}-byte buffer")]
    SendOffsetPastEnd {
        /// Where the send was to start.
        offset: usize,
        /// The buffer's length.
        len: usize,
    },
    /// The submission queue is full and the kernel takes none of it.
    #[error("the io_uring submission queue is full and the kernel takes none of it: {0}")]
    SubmissionStuck(io::Error),
    /// `io_uring_enter` failed.
    #[error("io_uring_enter failed: {0}")]
    Enter(io::Error),
    /// The kernel lost completions: the operations they ended (and the connections and
    /// buffers those hold) can never be accounted for.
    #[error(
        "the kernel dropped io_uring completions ({dropped} so far): the completion queue \
         of {capacity} entries was full and its overflow list could not grow"
    )]
    CompletionsDropped {
        /// The kernel's count of dropped completions.
        dropped: u32,
        /// Entries of the completion queue.
        capacity: u32,
    },
    /// The worker's eventfd cannot be read: nothing could wake the loop.
    #[error("the worker's eventfd cannot be read through io_uring: {0}")]
    Doorbell(io::Error),
}

/// A send the ring did not queue, with its buffer handed back.
#[derive(Debug, thiserror::Error)]
#[error("{error}")]
pub(crate) struct SendRefused {
    /// The buffer, untouched.
    pub(crate) buf: Vec<u8>,
    /// Why.
    pub(crate) error: RingError,
}

impl From<SendRefused> for RingError {
    fn from(refused: SendRefused) -> Self {
        refused.error
    }
}

/// What a reaped completion means for the loop.
#[derive(Debug)]
pub(crate) enum Completion<'a> {
    /// A connection was accepted (blocking socket; the ring does the waiting).
    Accepted(io::Result<TcpStream>),
    /// Bytes for connection slot `slot`; valid only during the callback (the buffer
    /// goes back to the kernel right after).
    Received { slot: usize, data: &'a [u8] },
    /// The peer closed its sending side.
    Eof { slot: usize },
    /// The receive failed (connection reset and the like).
    RecvFailed { slot: usize, error: io::Error },
    /// The armed receive ended without data (out of buffers, a multishot that stopped,
    /// a cancellation): re-arm it if the connection still wants bytes.
    RecvStopped { slot: usize },
    /// A send finished: `result` is how many bytes of `buf[offset..]` were written, or
    /// why none were. The buffer is the caller's again; the rest of it goes out by
    /// sending it again from `offset + n`.
    Sent {
        slot: usize,
        buf: Vec<u8>,
        offset: usize,
        result: io::Result<usize>,
    },
}

const KIND_SHIFT: u32 = 56;
const SLOT_MASK: u64 = (1 << KIND_SHIFT) - 1;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u8)]
enum Kind {
    Accept = 1,
    Recv = 2,
    Send = 3,
    Wake = 4,
    Cancel = 5,
}

impl Kind {
    fn of(user_data: u64) -> Option<Self> {
        Some(match user_data >> KIND_SHIFT {
            1 => Self::Accept,
            2 => Self::Recv,
            3 => Self::Send,
            4 => Self::Wake,
            5 => Self::Cancel,
            _ => return None,
        })
    }

    fn tag(self, slot: usize) -> u64 {
        ((self as u64) << KIND_SHIFT) | (slot as u64 & SLOT_MASK)
    }
}

/// The doorbell's two operations, in the slot bits of [`Kind::Wake`].
const WAKE_READ: usize = 0;
const WAKE_POLL: usize = 1;

/// Completions one connection can have outstanding at once: its receive (a multishot
/// posts its interim completions only where the queue has room, so it needs one
/// entry), its send, and a cancellation of each.
const COMPLETIONS_PER_CONNECTION: usize = 4;
/// Completions of the ring's own operations: the accept and its cancellation, the
/// doorbell's poll and read and their cancellations at shutdown.
const COMPLETIONS_PER_RING: usize = 6;
/// The kernel's largest completion queue (`IORING_MAX_CQ_ENTRIES`).
const MAX_CQ_ENTRIES: u32 = 65536;

/// The completion queue for `sq_entries` and `max_connections`: room for every
/// completion that can be outstanding at once (at least twice the submission queue,
/// the kernel's default), up to the kernel's limit. Past that limit (more than 16,382
/// connections on one worker, each with all four operations outstanding) completions
/// wait in the kernel's overflow list, which [`Ring::complete`] drains.
fn cq_entries(sq_entries: u32, max_connections: usize) -> u32 {
    let worst = max_connections
        .saturating_mul(COMPLETIONS_PER_CONNECTION)
        .saturating_add(COMPLETIONS_PER_RING);
    u32::try_from(worst)
        .unwrap_or(u32::MAX)
        .max(sq_entries.saturating_mul(2))
        .checked_next_power_of_two()
        .map_or(MAX_CQ_ENTRIES, |entries| entries.min(MAX_CQ_ENTRIES))
}

/// Submissions tried in a row that the kernel takes nothing from (reaping in between)
/// before [`RingError::SubmissionStuck`].
const STUCK_SUBMITS: usize = 8;
/// Rounds of reaping and flushing the kernel's overflow list in one
/// [`Ring::complete`]; what is left waits for the next.
const REAP_ROUNDS: usize = 64;

/// One completion, copied out of the completion queue.
#[derive(Debug, Clone, Copy)]
struct Cqe {
    user_data: u64,
    result: i32,
    flags: u32,
}

impl From<cqueue::Entry> for Cqe {
    fn from(cqe: cqueue::Entry) -> Self {
        Self {
            user_data: cqe.user_data(),
            result: cqe.result(),
            flags: cqe.flags(),
        }
    }
}

/// The operations and buffers of one connection slot.
#[derive(Debug, Default)]
struct SlotOps {
    /// A receive is the kernel's (until its last completion is reaped).
    recv_armed: bool,
    recv_cancelling: bool,
    /// The send in flight: its buffer and the offset it sends from, the kernel's until
    /// the completion hands them back.
    send: Option<(Vec<u8>, usize)>,
    send_cancelling: bool,
    /// Without the buffer ring: this slot's receive buffer, untouched while a receive
    /// is armed.
    recv_buf: Box<[u8]>,
}

/// The worker's eventfd as the ring reads it: a read is kept armed, so that a write
/// ends the loop's wait.
#[derive(Debug)]
struct Doorbell {
    /// `None` before [`Ring::arm_wake`] and from shutdown (or a failure) on: not
    /// re-armed.
    fd: Option<RawFd>,
    /// The read target; boxed so that its address is stable.
    buf: Box<[u8; 8]>,
    read_armed: bool,
    poll_armed: bool,
    /// The kernel answered a read of the non-blocking eventfd with `EAGAIN` instead of
    /// waiting (kernels that do not poll such a file for a read): from then on each
    /// read is linked behind a poll, so that it runs once there is something to read.
    poll_first: bool,
    /// `rw_flags` of the read: 0; a test sets `RWF_NOWAIT` to act as such a kernel.
    read_flags: i32,
    /// Why the doorbell stopped, for [`Ring::complete`] to report.
    failed: Option<io::Error>,
}

/// Memory aligned to a page, lent to the kernel; freed on drop.
#[derive(Debug)]
struct PageMemory {
    ptr: NonNull<u8>,
    layout: Layout,
}

impl PageMemory {
    /// Zeroed memory: what the kernel reads (the ring of buffer entries).
    fn zeroed(bytes: usize) -> io::Result<Self> {
        Self::allocate(bytes, true)
    }

    /// Memory left as the allocator gives it: what only the kernel writes (the
    /// provided buffers). Only bytes a completion reports written are ever read, and
    /// untouched pages cost no resident memory (zeroing 16 MiB of buffers per worker
    /// would make every page resident at start-up).
    fn uninit(bytes: usize) -> io::Result<Self> {
        Self::allocate(bytes, false)
    }

    fn allocate(bytes: usize, zeroed: bool) -> io::Result<Self> {
        if bytes == 0 {
            return Err(io::Error::from(io::ErrorKind::InvalidInput));
        }
        let layout = Layout::from_size_align(bytes, 4096).map_err(io::Error::other)?;
        // SAFETY: the layout's size is not zero (checked above).
        let ptr = unsafe {
            if zeroed {
                std::alloc::alloc_zeroed(layout)
            } else {
                std::alloc::alloc(layout)
            }
        };
        NonNull::new(ptr)
            .map(|ptr| Self { ptr, layout })
            .ok_or_else(|| io::Error::from(io::ErrorKind::OutOfMemory))
    }
}

impl Drop for PageMemory {
    fn drop(&mut self) {
        // SAFETY: allocated in `zeroed` with this layout, freed once. Memory the kernel
        // may still use is leaked instead of dropped (see `Ring::drop`).
        unsafe { std::alloc::dealloc(self.ptr.as_ptr(), self.layout) };
    }
}

/// The provided-buffer ring: `count` buffers of `size` bytes in one allocation, and the
/// page-aligned ring of entries the kernel takes them from.
#[derive(Debug)]
struct BufRing {
    entries: PageMemory,
    memory: PageMemory,
    count: u16,
    size: u32,
    tail: u16,
    incremental: bool,
    /// With incremental consumption: how much of each buffer the kernel already filled.
    consumed: Vec<u32>,
    registered: bool,
}

const BUF_GROUP: u16 = 0;

impl BufRing {
    fn new(count: u16, size: u32) -> io::Result<Self> {
        if !count.is_power_of_two() || count > 32768 || size == 0 {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                "--uring-buffers must be a power of two up to 32768, --uring-buffer-bytes positive",
            ));
        }
        // Each allocation frees itself, so a failure of the second frees the first.
        let entries = PageMemory::zeroed(count as usize * std::mem::size_of::<BufRingEntry>())?;
        let memory = PageMemory::uninit(count as usize * size as usize)?;
        Ok(Self {
            entries,
            memory,
            count,
            size,
            tail: 0,
            incremental: false,
            consumed: vec![0; count as usize],
            registered: false,
        })
    }

    fn ring_entries(&self) -> *mut BufRingEntry {
        self.entries.ptr.as_ptr().cast()
    }

    /// Registers the ring with the kernel, incrementally consumed if asked and supported.
    fn register(&mut self, submitter: &Submitter<'_>, incremental: bool) -> io::Result<()> {
        if incremental {
            // SAFETY: `entries` holds `count` entries, lives until `Drop` (which
            // unregisters first) and is page-aligned as the kernel requires.
            let result = unsafe {
                submitter.register_buf_ring_with_flags(
                    self.ring_entries() as u64,
                    self.count,
                    BUF_GROUP,
                    IOU_PBUF_RING_INC,
                )
            };
            match result {
                Ok(()) => {
                    self.incremental = true;
                    self.registered = true;
                }
                Err(error) if error.raw_os_error() == Some(libc::EINVAL) => {
                    tracing::warn!(
                        "this kernel has no incremental provided buffers (IOU_PBUF_RING_INC); \
                         each receive consumes a whole buffer"
                    );
                }
                Err(error) => return Err(error),
            }
        }
        if !self.registered {
            // SAFETY: as above.
            unsafe {
                submitter.register_buf_ring_with_flags(
                    self.ring_entries() as u64,
                    self.count,
                    BUF_GROUP,
                    0,
                )?
            };
            self.registered = true;
        }
        for bid in 0..self.count {
            self.provide(bid);
        }
        Ok(())
    }

    /// Gives buffer `bid` (back) to the kernel.
    fn provide(&mut self, bid: u16) {
        let mask = self.count - 1;
        let index = (self.tail & mask) as usize;
        self.consumed[bid as usize] = 0;
        // SAFETY: `index < count`, so the entry is inside the allocation; the kernel
        // reads entries only up to the published tail, and this one is past it.
        let entry = unsafe { &mut *self.ring_entries().add(index) };
        entry.set_addr(self.buffer(bid) as u64);
        entry.set_len(self.size);
        entry.set_bid(bid);
        self.tail = self.tail.wrapping_add(1);
        // SAFETY: the tail field lives inside the first entry of the allocation, is
        // 2-aligned, and the kernel only reads it; Release publishes the entry first.
        unsafe {
            AtomicU16::from_ptr(BufRingEntry::tail(self.ring_entries()).cast_mut())
                .store(self.tail, Ordering::Release);
        }
    }

    fn buffer(&self, bid: u16) -> *mut u8 {
        // SAFETY: `bid < count`, so the offset stays inside the allocation.
        unsafe {
            self.memory
                .ptr
                .as_ptr()
                .add(bid as usize * self.size as usize)
        }
    }
}

/// One worker's io_uring and every buffer it lends the kernel.
///
/// The rules the kernel's memory safety rests on are kept here, not by the caller: a
/// buffer named in an operation is neither reused nor freed until the operation's last
/// completion was reaped ([`send`](Self::send) and [`arm_recv`](Self::arm_recv)
/// refuse a slot whose operation is in flight); while [`complete`](Self::complete)
/// lends a received buffer to its callback, the callback cannot reach the ring; and the
/// memory goes only after every operation was cancelled and reaped (`Drop`), or is
/// leaked.
pub(crate) struct Ring {
    /// Kept for the life of the ring because it remembers the registered ring fd
    /// (io-uring 0.7 forgets it in every new `Submitter`). It borrows from `*uring`,
    /// which `Drop` frees after the submitter's last use: hence `'static`.
    submitter: Submitter<'static>,
    /// The io_uring instance, from `Box::leak` and freed in `Drop`. A raw pointer
    /// rather than a `Box`: the submitter borrows from it for the ring's whole life, and
    /// moving a `Box` would assert unique access to it (which Miri's aliasing model
    /// rejects); only shared references are ever made from this pointer.
    uring: NonNull<IoUring>,
    /// The features in effect.
    features: UringFeatures,
    buffer_bytes: u32,
    buf_ring: Option<BufRing>,
    slots: Vec<SlotOps>,
    doorbell: Doorbell,
    accept_armed: bool,
    accept_cancelling: bool,
    /// Operations queued or submitted and not finished (a multishot counts once, until
    /// its last completion).
    in_flight: usize,
    /// Completions taken out of the queue to make room while submitting, for the next
    /// [`complete`](Self::complete) to hand out.
    stash: Vec<Cqe>,
    /// The batch [`complete`](Self::complete) works through (kept for its capacity).
    batch: Vec<Cqe>,
    /// `IORING_REGISTER_SYNC_CANCEL` works (Linux 6.0+); `false` once it failed.
    sync_cancel: bool,
    cq_entries: u32,
    /// Reaps that found the kernel holding completions the queue had no room for.
    overflows: u64,
    /// The kernel's count of dropped completions when last checked.
    dropped: u32,
}

impl std::fmt::Debug for Ring {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Ring")
            .field("features", &self.features)
            .field("in_flight", &self.in_flight)
            .finish_non_exhaustive()
    }
}

impl Ring {
    /// Sets up the ring (and the buffer ring) as `config` says. Errors name the step.
    pub(crate) fn new(config: RingConfig) -> io::Result<Self> {
        Self::build(config, false)
    }

    /// [`new`](Self::new), or a ring that starts disabled (`IORING_SETUP_R_DISABLED`:
    /// it takes no submissions until enabled), for a test.
    fn build(config: RingConfig, disabled: bool) -> io::Result<Self> {
        use UringFeature as F;
        let asked = config.features;
        let single_issuer = asked.has(F::SingleIssuer);
        let defer_taskrun = single_issuer && asked.has(F::DeferTaskrun);
        let coop_taskrun = !defer_taskrun && asked.has(F::CoopTaskrun);
        let build = |cq_entries: Option<u32>| {
            let mut builder = IoUring::builder();
            if let Some(cq_entries) = cq_entries {
                builder.setup_cqsize(cq_entries);
            }
            if single_issuer {
                builder.setup_single_issuer();
            }
            if defer_taskrun {
                builder.setup_defer_taskrun();
            } else if coop_taskrun {
                builder.setup_coop_taskrun();
                builder.setup_taskrun_flag();
            }
            if disabled {
                builder.setup_r_disabled();
            }
            builder.build(config.entries)
        };
        let uring = match build(Some(cq_entries(config.entries, config.max_connections))) {
            // The ring's memory counts against RLIMIT_MEMLOCK (8 MiB by default, for all
            // of a user's rings together): a completion queue sized for the worst case
            // may not fit where the smaller default does. Completions past a full queue
            // wait in the kernel's overflow list, which `complete` drains, so the
            // smaller queue is slower under a burst, never wrong.
            Err(error) if error.raw_os_error() == Some(libc::ENOMEM) => {
                tracing::warn!(
                    "the io_uring completion queue sized for every connection does not fit \
                     (RLIMIT_MEMLOCK?); using the kernel's default size"
                );
                build(None)?
            }
            built => built?,
        };
        let cq_entries = uring.params().cq_entries();
        let uring = NonNull::from(Box::leak(Box::new(uring)));
        // SAFETY: `uring` stays valid until `Drop` frees it, after the submitter's last
        // use; only shared references are made from it (see the field).
        let submitter = unsafe { uring.as_ref() }.submitter();
        // From here on a failure drops `ring`, which frees what was set up.
        let mut ring = Self {
            submitter,
            uring,
            features: UringFeatures::default()
                .with(F::SingleIssuer, single_issuer)
                .with(F::DeferTaskrun, defer_taskrun)
                .with(F::CoopTaskrun, coop_taskrun)
                .with(F::MultishotAccept, asked.has(F::MultishotAccept))
                // The engine's choice, not the ring's: in effect whenever asked for.
                .with(F::OwnedSend, asked.has(F::OwnedSend)),
            buffer_bytes: config.buffer_bytes,
            buf_ring: None,
            slots: Vec::new(),
            doorbell: Doorbell {
                fd: None,
                buf: Box::new([0; 8]),
                read_armed: false,
                poll_armed: false,
                poll_first: false,
                read_flags: 0,
                failed: None,
            },
            accept_armed: false,
            accept_cancelling: false,
            in_flight: 0,
            stash: Vec::new(),
            batch: Vec::with_capacity(1024),
            sync_cancel: true,
            cq_entries,
            overflows: 0,
            dropped: 0,
        };
        if asked.has(F::RegisteredFd) {
            ring.submitter.register_ring_fd()?;
            ring.features = ring.features.with(F::RegisteredFd, true);
        }
        if asked.has(F::BufRing) {
            let mut buf_ring = BufRing::new(config.buffers, config.buffer_bytes)?;
            buf_ring.register(&ring.submitter, asked.has(F::Incremental))?;
            ring.features = ring
                .features
                .with(F::BufRing, true)
                .with(F::Incremental, buf_ring.incremental)
                .with(F::MultishotRecv, asked.has(F::MultishotRecv));
            ring.buf_ring = Some(buf_ring);
        }
        Ok(ring)
    }

    fn uring(&self) -> &IoUring {
        // SAFETY: see the field: valid until `Drop`, shared references only.
        unsafe { self.uring.as_ref() }
    }

    /// The features in effect, comma-separated (for the start-up log).
    pub(crate) fn features(&self) -> String {
        self.features.to_string()
    }

    /// Operations not yet finished.
    pub(crate) fn in_flight(&self) -> usize {
        self.in_flight
    }

    fn slot(&mut self, slot: usize) -> &mut SlotOps {
        if slot >= self.slots.len() {
            self.slots.resize_with(slot + 1, SlotOps::default);
        }
        &mut self.slots[slot]
    }

    /// Queues `entries` together (a linked chain must not be split between two
    /// submissions). A full submission queue is submitted first; if the kernel takes
    /// none of it (it wants room for completions, or memory), the completions are
    /// taken out of the queue for the next [`complete`](Self::complete) and the submit
    /// tried again, a few times, instead of spinning.
    ///
    /// # Safety
    ///
    /// Memory the entries name must stay valid until their last completions are reaped.
    unsafe fn push(&mut self, entries: &[squeue::Entry]) -> Result<(), RingError> {
        let mut stuck = 0;
        loop {
            // SAFETY: forwarded to the caller. This is the only submission queue
            // handle, dropped (synced) at the end of the statement.
            let pushed = unsafe { self.uring().submission_shared().push_multiple(entries) };
            if pushed.is_ok() {
                self.in_flight += entries.len();
                return Ok(());
            }
            let error = match self.submitter.submit() {
                Ok(taken) if taken > 0 => {
                    stuck = 0;
                    continue;
                }
                Ok(_) => io::Error::other("it took no entry"),
                Err(error) if error.raw_os_error() == Some(libc::EINTR) => continue,
                Err(error) if matches!(error.raw_os_error(), Some(libc::EBUSY | libc::EAGAIN)) => {
                    error
                }
                Err(error) => return Err(RingError::SubmissionStuck(error)),
            };
            stuck += 1;
            if stuck >= STUCK_SUBMITS {
                return Err(RingError::SubmissionStuck(error));
            }
            self.stash_completions();
        }
    }

    /// Moves every completion in the queue to the stash.
    fn stash_completions(&mut self) {
        let Self { uring, stash, .. } = self;
        // SAFETY: see the field `uring`. This is the only completion queue handle,
        // dropped (synced) at the end of the statement.
        stash.extend(unsafe { uring.as_ref().completion_shared() }.map(Cqe::from));
    }

    /// Accepts connections on `listener` (multishot unless switched off).
    pub(crate) fn arm_accept(&mut self, listener: RawFd) -> Result<(), RingError> {
        if self.accept_armed {
            return Ok(());
        }
        let entry = if self.features.has(UringFeature::MultishotAccept) {
            opcode::AcceptMulti::new(Fd(listener))
                .flags(libc::SOCK_CLOEXEC)
                .build()
        } else {
            opcode::Accept::new(Fd(listener), std::ptr::null_mut(), std::ptr::null_mut())
                .flags(libc::SOCK_CLOEXEC)
                .build()
        };
        // SAFETY: accept without a peer address names no memory.
        unsafe { self.push(&[entry.user_data(Kind::Accept.tag(0))]) }?;
        self.accept_armed = true;
        Ok(())
    }

    /// Stops accepting.
    pub(crate) fn cancel_accept(&mut self) -> Result<(), RingError> {
        if self.accept_armed && !self.accept_cancelling {
            self.cancel(Kind::Accept.tag(0))?;
            self.accept_cancelling = true;
        }
        Ok(())
    }

    /// Whether an accept is armed.
    pub(crate) fn accept_armed(&self) -> bool {
        self.accept_armed
    }

    /// Keeps a read of the worker's eventfd armed (re-armed by
    /// [`complete`](Self::complete) after each wake-up) until shutdown, so that a write
    /// to it ends the loop's wait.
    pub(crate) fn arm_wake(&mut self, eventfd: RawFd) -> Result<(), RingError> {
        self.doorbell.fd = Some(eventfd);
        self.rearm_doorbell()
    }

    fn rearm_doorbell(&mut self) -> Result<(), RingError> {
        let doorbell = &mut self.doorbell;
        let Some(fd) = doorbell.fd else {
            return Ok(());
        };
        if doorbell.read_armed || doorbell.poll_armed {
            return Ok(());
        }
        let read = opcode::Read::new(Fd(fd), doorbell.buf.as_mut_ptr(), 8)
            .rw_flags(doorbell.read_flags)
            .build()
            .user_data(Kind::Wake.tag(WAKE_READ));
        let poll_first = doorbell.poll_first;
        // SAFETY: the doorbell's `buf` is boxed in this ring and freed only after every
        // operation was reaped (see `Drop`); a poll names no memory.
        if poll_first {
            let poll = opcode::PollAdd::new(Fd(fd), libc::POLLIN as u32)
                .build()
                .flags(squeue::Flags::IO_LINK)
                .user_data(Kind::Wake.tag(WAKE_POLL));
            unsafe { self.push(&[poll, read]) }?;
        } else {
            unsafe { self.push(&[read]) }?;
        }
        self.doorbell.read_armed = true;
        self.doorbell.poll_armed = poll_first;
        Ok(())
    }

    /// Whether slot `slot` has a receive armed.
    pub(crate) fn recv_armed(&self, slot: usize) -> bool {
        self.slots.get(slot).is_some_and(|ops| ops.recv_armed)
    }

    /// Whether slot `slot` has a send in flight.
    pub(crate) fn sending(&self, slot: usize) -> bool {
        self.slots.get(slot).is_some_and(|ops| ops.send.is_some())
    }

    /// Whether any operation of slot `slot` is unfinished (its socket must stay open
    /// and the slot unused until then).
    pub(crate) fn busy(&self, slot: usize) -> bool {
        self.recv_armed(slot) || self.sending(slot)
    }

    /// Receives on `fd` for slot `slot`: multishot into the buffer ring, single-shot
    /// from the ring, or single-shot into the slot's own buffer, as configured. Refused
    /// while the slot's previous receive is the kernel's.
    pub(crate) fn arm_recv(&mut self, slot: usize, fd: RawFd) -> Result<(), RingError> {
        if self.recv_armed(slot) {
            return Err(RingError::RecvInFlight { slot });
        }
        let multishot = self.features.has(UringFeature::MultishotRecv);
        let buffer_bytes = self.buffer_bytes;
        let tag = Kind::Recv.tag(slot);
        let entry = match &self.buf_ring {
            Some(_) if multishot => opcode::RecvMulti::new(Fd(fd), BUF_GROUP)
                .build()
                .user_data(tag),
            Some(buf_ring) => opcode::Recv::new(Fd(fd), std::ptr::null_mut(), buf_ring.size)
                .buf_group(BUF_GROUP)
                .build()
                .flags(squeue::Flags::BUFFER_SELECT)
                .user_data(tag),
            None => {
                let ops = self.slot(slot);
                if ops.recv_buf.is_empty() {
                    ops.recv_buf = vec![0; buffer_bytes as usize].into_boxed_slice();
                }
                let len = u32::try_from(ops.recv_buf.len()).unwrap_or(u32::MAX);
                opcode::Recv::new(Fd(fd), ops.recv_buf.as_mut_ptr(), len)
                    .build()
                    .user_data(tag)
            }
        };
        // SAFETY: provided buffers and the slot's `recv_buf` belong to this ring; a
        // slot's `recv_buf` is not touched while `recv_armed` (set below, cleared by
        // the last completion), and nothing is freed before every operation was reaped.
        unsafe { self.push(&[entry]) }?;
        let ops = self.slot(slot);
        ops.recv_armed = true;
        ops.recv_cancelling = false;
        Ok(())
    }

    /// Cancels slot `slot`'s receive, if armed (its end arrives as a completion).
    pub(crate) fn cancel_recv(&mut self, slot: usize) -> Result<(), RingError> {
        let ops = self.slot(slot);
        if ops.recv_armed && !ops.recv_cancelling {
            self.cancel(Kind::Recv.tag(slot))?;
            self.slot(slot).recv_cancelling = true;
        }
        Ok(())
    }

    /// Cancels slot `slot`'s send, if any (a client that stopped reading).
    pub(crate) fn cancel_send(&mut self, slot: usize) -> Result<(), RingError> {
        let ops = self.slot(slot);
        if ops.send.is_some() && !ops.send_cancelling {
            self.cancel(Kind::Send.tag(slot))?;
            self.slot(slot).send_cancelling = true;
        }
        Ok(())
    }

    /// Sends `buf[offset..]` on `fd` for slot `slot`, taking the buffer until the
    /// [`Completion::Sent`] that hands it back with the count. Refused (the buffer
    /// handed back untouched) while the slot's previous send is the kernel's: at most
    /// one send per slot at a time, so that its bytes go out in order.
    pub(crate) fn send(
        &mut self,
        slot: usize,
        fd: RawFd,
        buf: Vec<u8>,
        offset: usize,
    ) -> Result<(), SendRefused> {
        if self.sending(slot) {
            let error = RingError::SendInFlight { slot };
            return Err(SendRefused { buf, error });
        }
        let Some(rest) = buf.get(offset..) else {
            let len = buf.len();
            let error = RingError::SendOffsetPastEnd { offset, len };
            return Err(SendRefused { buf, error });
        };
        // A longer rest is sent in part, like any partial send.
        let len = u32::try_from(rest.len()).unwrap_or(u32::MAX);
        let entry = opcode::Send::new(Fd(fd), rest.as_ptr(), len)
            .flags(libc::MSG_NOSIGNAL)
            .build()
            .user_data(Kind::Send.tag(slot));
        // SAFETY: the bytes live in `buf`'s heap allocation, which does not move when
        // `buf` moves into the slot below; the slot keeps it, untouched, until the
        // completion hands it back, and `Drop` leaks it if that never comes.
        if let Err(error) = unsafe { self.push(&[entry]) } {
            return Err(SendRefused { buf, error });
        }
        let ops = self.slot(slot);
        ops.send = Some((buf, offset));
        ops.send_cancelling = false;
        Ok(())
    }

    fn cancel(&mut self, target: u64) -> Result<(), RingError> {
        let entry = opcode::AsyncCancel::new(target)
            .build()
            .user_data(Kind::Cancel.tag(0));
        // SAFETY: a cancellation names no memory.
        unsafe { self.push(&[entry]) }
    }

    /// Submits what is queued and waits for at least one completion or `timeout`
    /// (`None`: no limit; zero: just run deferred work and reap). The loop's one
    /// system call per iteration. It does not wait while completions taken out of the
    /// queue to make room for submissions wait for [`complete`](Self::complete).
    pub(crate) fn submit_and_wait(&mut self, timeout: Option<Duration>) -> Result<(), RingError> {
        let timeout = if self.stash.is_empty() {
            timeout
        } else {
            Some(Duration::ZERO)
        };
        let submitter = &self.submitter;
        let result = match timeout {
            Some(timeout) => {
                let timespec = Timespec::from(timeout);
                let args = SubmitArgs::new().timespec(&timespec);
                submitter.submit_with_args(1, &args)
            }
            None => submitter.submit_and_wait(1),
        };
        self.entered(result)
    }

    /// What an `io_uring_enter` result means: a timeout, a signal, or "reap first"
    /// (`EBUSY`, `EAGAIN`) are no error; `EBADR` says the kernel dropped completions.
    fn entered(&mut self, result: io::Result<usize>) -> Result<(), RingError> {
        match result {
            Ok(_) => Ok(()),
            Err(error)
                if matches!(
                    error.raw_os_error(),
                    Some(libc::ETIME | libc::EINTR | libc::EBUSY | libc::EAGAIN)
                ) =>
            {
                Ok(())
            }
            Err(error) if error.raw_os_error() == Some(libc::EBADR) => {
                self.check_dropped()?;
                Err(RingError::CompletionsDropped {
                    dropped: self.dropped,
                    capacity: self.cq_entries,
                })
            }
            Err(error) => Err(RingError::Enter(error)),
        }
    }

    /// Fails if the kernel dropped a completion since the last check. With
    /// `IORING_FEAT_NODROP` (Linux 5.5+) a completion the queue has no room for waits
    /// in the kernel's overflow list; it is dropped only if that list cannot grow (no
    /// memory), and then the ring can no longer tell which operations are still the
    /// kernel's: the worker must stop (its `Drop` leaks what may still be in use).
    fn check_dropped(&mut self) -> Result<(), RingError> {
        // SAFETY: see the field `uring`. This is the only completion queue handle.
        let dropped = unsafe { self.uring().completion_shared() }.overflow();
        if dropped == self.dropped {
            return Ok(());
        }
        self.dropped = dropped;
        Err(RingError::CompletionsDropped {
            dropped,
            capacity: self.cq_entries,
        })
    }

    /// Whether the kernel holds completions the queue had no room for.
    fn cq_overflowed(&self) -> bool {
        // SAFETY: see the field `uring`. This is the only submission queue handle.
        unsafe { self.uring().submission_shared() }.cq_overflow()
    }

    /// Reaps every completion and calls `each` for those the loop acts on. The callback
    /// gets no access to the ring: a received buffer it borrows cannot be re-provided
    /// or reused under it, and nothing is armed or reaped meanwhile. Buffers go back to
    /// the kernel right after their callback; the doorbell read is re-armed; ended
    /// multishots are reported so the loop re-arms them.
    ///
    /// If the kernel held completions back because the queue was full, they are
    /// flushed and handed out in this same call (and the first time is logged). A
    /// dropped completion fails with [`RingError::CompletionsDropped`], as does a
    /// doorbell that cannot be read with [`RingError::Doorbell`], after every
    /// completion reaped was handed out.
    pub(crate) fn complete(
        &mut self,
        mut each: impl FnMut(Completion<'_>),
    ) -> Result<(), RingError> {
        let mut batch = std::mem::take(&mut self.batch);
        let mut outcome = Ok(());
        for _ in 0..REAP_ROUNDS {
            batch.clear();
            batch.append(&mut self.stash);
            {
                let Self { uring, .. } = self;
                // SAFETY: see the field `uring`. This is the only completion queue
                // handle; it is dropped (synced) before any callback runs.
                batch.extend(unsafe { uring.as_ref().completion_shared() }.map(Cqe::from));
            }
            for &cqe in &batch {
                self.handle(cqe, &mut each);
            }
            if let Err(error) = self.rearm_doorbell() {
                outcome = outcome.and(Err(error));
            }
            let overflowed = self.cq_overflowed();
            if !overflowed && self.stash.is_empty() {
                break;
            }
            if overflowed {
                self.overflows += 1;
                if self.overflows == 1 {
                    tracing::warn!(
                        capacity = self.cq_entries,
                        "the io_uring completion queue overflowed; the kernel held \
                         completions back until they were reaped"
                    );
                }
                // While the kernel holds completions back, a submit also flushes them
                // into the queue.
                let flushed = self.submitter.submit();
                if let Err(error) = self.entered(flushed) {
                    outcome = outcome.and(Err(error));
                    break;
                }
            }
        }
        self.batch = batch;
        if let Some(error) = self.doorbell.failed.take() {
            outcome = outcome.and(Err(RingError::Doorbell(error)));
        }
        outcome.and(self.check_dropped())
    }

    fn handle(&mut self, cqe: Cqe, each: &mut impl FnMut(Completion<'_>)) {
        let Cqe {
            user_data,
            result,
            flags,
        } = cqe;
        let more = cqueue::more(flags);
        if !more {
            self.in_flight = self.in_flight.saturating_sub(1);
        }
        let slot = (user_data & SLOT_MASK) as usize;
        match Kind::of(user_data) {
            Some(Kind::Accept) => {
                if !more {
                    self.accept_armed = false;
                    self.accept_cancelling = false;
                }
                if result >= 0 {
                    // SAFETY: an accept completion's result is a new descriptor that
                    // nobody else owns.
                    let stream = unsafe { TcpStream::from_raw_fd(result) };
                    each(Completion::Accepted(Ok(stream)));
                } else if result != -libc::ECANCELED {
                    each(Completion::Accepted(Err(io::Error::from_raw_os_error(
                        -result,
                    ))));
                }
            }
            Some(Kind::Recv) => self.complete_recv(slot, result, flags, each),
            Some(Kind::Send) => {
                let ops = self.slot(slot);
                ops.send_cancelling = false;
                // Always there: a send completion ends the send this slot holds.
                if let Some((buf, offset)) = ops.send.take() {
                    let result = if result >= 0 {
                        Ok(result as usize)
                    } else {
                        Err(io::Error::from_raw_os_error(-result))
                    };
                    each(Completion::Sent {
                        slot,
                        buf,
                        offset,
                        result,
                    });
                }
            }
            Some(Kind::Wake) => self.doorbell_completed(slot, result),
            Some(Kind::Cancel) | None => {}
        }
    }

    /// A doorbell read (or the poll before it) ended; `complete` re-arms it. An error
    /// other than a signal or a cancellation would come back at once on every re-arm
    /// (a busy loop), so it stops the doorbell and is reported instead.
    fn doorbell_completed(&mut self, which: usize, result: i32) {
        let doorbell = &mut self.doorbell;
        let error = if which == WAKE_POLL {
            doorbell.poll_armed = false;
            // A failed poll fails its linked read with ECANCELED: the poll's own
            // error is the one to report.
            (result < 0 && result != -libc::ECANCELED).then_some(-result)
        } else {
            doorbell.read_armed = false;
            match result {
                _ if result >= 0 => None,
                _ if result == -libc::EAGAIN => {
                    if !doorbell.poll_first {
                        doorbell.poll_first = true;
                        tracing::info!(
                            "this kernel does not wait in a read of a non-blocking eventfd; \
                             the doorbell read now waits behind a poll"
                        );
                    }
                    None
                }
                _ if result == -libc::EINTR || result == -libc::ECANCELED => None,
                _ => Some(-result),
            }
        };
        if let Some(errno) = error {
            doorbell.fd = None;
            doorbell
                .failed
                .get_or_insert_with(|| io::Error::from_raw_os_error(errno));
        }
    }

    fn complete_recv(
        &mut self,
        slot: usize,
        result: i32,
        flags: u32,
        each: &mut impl FnMut(Completion<'_>),
    ) {
        let more = cqueue::more(flags);
        if !more {
            let ops = self.slot(slot);
            ops.recv_armed = false;
            ops.recv_cancelling = false;
        }
        if result > 0 {
            let len = result as usize;
            match (cqueue::buffer_select(flags), self.buf_ring.as_mut()) {
                (Some(bid), Some(buf_ring)) if bid < buf_ring.count => {
                    let offset = if buf_ring.incremental {
                        buf_ring.consumed[bid as usize] as usize
                    } else {
                        0
                    };
                    let keep = buf_ring.incremental && cqueue::buffer_more(flags);
                    // SAFETY: the kernel wrote `len` bytes at `offset` into buffer `bid`,
                    // which stays ours (not provided again) until `provide` below; the
                    // callback cannot reach the ring meanwhile.
                    let data = unsafe {
                        std::slice::from_raw_parts(buf_ring.buffer(bid).add(offset), len)
                    };
                    each(Completion::Received { slot, data });
                    if keep {
                        buf_ring.consumed[bid as usize] += result as u32;
                    } else {
                        buf_ring.provide(bid);
                    }
                }
                _ => {
                    // The slot's own buffer: no receive is armed on it now (single-shot).
                    let recv_buf = std::mem::take(&mut self.slot(slot).recv_buf);
                    let data = &recv_buf[..len.min(recv_buf.len())];
                    each(Completion::Received { slot, data });
                    self.slot(slot).recv_buf = recv_buf;
                }
            }
            if !more {
                each(Completion::RecvStopped { slot });
            }
        } else if result == 0 {
            each(Completion::Eof { slot });
        } else if matches!(-result, libc::ENOBUFS | libc::ECANCELED | libc::EINTR) {
            each(Completion::RecvStopped { slot });
        } else {
            each(Completion::RecvFailed {
                slot,
                error: io::Error::from_raw_os_error(-result),
            });
        }
    }

    /// Cancels every operation and reaps them all (waiting up to `timeout` in total).
    /// Returns whether none is left; only then may the memory they name be freed.
    /// Where the kernel has no synchronous cancellation (before Linux 6.0), each
    /// operation is cancelled on its own.
    pub(crate) fn cancel_all_and_reap(&mut self, timeout: Duration) -> bool {
        let deadline = Instant::now() + timeout;
        self.doorbell.fd = None;
        // Only submitted operations can be cancelled.
        let _ = self.submitter.submit();
        if self.in_flight > 0 {
            let cancelled = self.sync_cancel
                && match self
                    .submitter
                    .register_sync_cancel(Some(Timespec::from(timeout)), CancelBuilder::any())
                {
                    // ENOENT: nothing left to cancel; ETIME: what did not end in time
                    // will not end sooner by being asked again.
                    Ok(()) => true,
                    Err(error)
                        if matches!(error.raw_os_error(), Some(libc::ENOENT | libc::ETIME)) =>
                    {
                        true
                    }
                    Err(error) => {
                        tracing::debug!(%error, "no synchronous cancellation; cancelling each operation");
                        self.sync_cancel = false;
                        false
                    }
                };
            if !cancelled {
                self.cancel_each();
            }
        }
        while self.in_flight > 0 {
            let now = Instant::now();
            if now >= deadline {
                break;
            }
            let _ = self.submit_and_wait(Some(deadline - now));
            // Reap without acting: descriptors from late accepts are closed on drop,
            // send buffers freed.
            let _ = self.complete(|_| {});
        }
        self.in_flight == 0
    }

    /// Queues an asynchronous cancellation of every operation in flight, by its tag.
    fn cancel_each(&mut self) {
        let mut targets = Vec::new();
        if self.accept_armed {
            targets.push(Kind::Accept.tag(0));
        }
        if self.doorbell.read_armed {
            targets.push(Kind::Wake.tag(WAKE_READ));
        }
        if self.doorbell.poll_armed {
            targets.push(Kind::Wake.tag(WAKE_POLL));
        }
        for (slot, ops) in self.slots.iter().enumerate() {
            if ops.recv_armed {
                targets.push(Kind::Recv.tag(slot));
            }
            if ops.send.is_some() {
                targets.push(Kind::Send.tag(slot));
            }
        }
        for target in targets {
            if self.cancel(target).is_err() {
                break;
            }
        }
        let _ = self.submitter.submit();
    }
}

impl Drop for Ring {
    /// In this order: every operation cancelled and reaped; then the buffers freed (or,
    /// if the kernel did not give every operation back, leaked rather than freed under
    /// it); then the ring fd unregistered and the ring closed.
    fn drop(&mut self) {
        if self.cancel_all_and_reap(Duration::from_secs(2)) {
            if self.buf_ring.as_ref().is_some_and(|b| b.registered) {
                let _ = self.submitter.unregister_buf_ring(BUF_GROUP);
            }
            drop(self.buf_ring.take());
            self.slots.clear();
        } else {
            tracing::error!(
                in_flight = self.in_flight,
                "io_uring operations survived cancellation; leaking their buffers"
            );
            std::mem::forget(self.buf_ring.take());
            std::mem::forget(std::mem::take(&mut self.slots));
            std::mem::forget(std::mem::replace(&mut self.doorbell.buf, Box::new([0; 8])));
        }
        if self.features.has(UringFeature::RegisteredFd) {
            let _ = self.submitter.unregister_ring_fd();
        }
        // SAFETY: from `Box::leak` in `build`, freed once, here; the submitter, which
        // borrows from it, is not used after this line.
        drop(unsafe { Box::from_raw(self.uring.as_ptr()) });
    }
}

/// The raw descriptor of a socket (for submissions).
pub(crate) fn raw(stream: &TcpStream) -> RawFd {
    stream.as_raw_fd()
}

#[cfg(test)]
mod tests {
    use std::alloc::{GlobalAlloc, System};
    use std::cell::Cell;
    use std::net::TcpListener;
    use std::os::unix::net::UnixStream;

    use super::*;
    use crate::args::UringFeature as F;

    /// Counts this thread's live page-aligned allocations (what `PageMemory` makes), to
    /// see a leak.
    struct CountingAllocator;

    thread_local! {
        static PAGE_ALIGNED_LIVE: Cell<isize> = const { Cell::new(0) };
    }

    fn count(layout: Layout, by: isize) {
        if layout.align() == 4096 {
            let _ = PAGE_ALIGNED_LIVE.try_with(|live| live.set(live.get() + by));
        }
    }

    fn page_aligned_live() -> isize {
        PAGE_ALIGNED_LIVE.with(Cell::get)
    }

    // SAFETY: every call is forwarded to the system allocator unchanged; the counting
    // touches a const-initialised thread-local without a destructor, which neither
    // allocates nor fails.
    unsafe impl GlobalAlloc for CountingAllocator {
        unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
            // SAFETY: forwarded, same contract.
            let ptr = unsafe { System.alloc(layout) };
            if !ptr.is_null() {
                count(layout, 1);
            }
            ptr
        }

        unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
            // SAFETY: forwarded, same contract.
            let ptr = unsafe { System.alloc_zeroed(layout) };
            if !ptr.is_null() {
                count(layout, 1);
            }
            ptr
        }

        unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
            count(layout, -1);
            // SAFETY: forwarded, same contract.
            unsafe { System.dealloc(ptr, layout) }
        }

        unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
            // SAFETY: forwarded, same contract; the alignment (what is counted) stays.
            unsafe { System.realloc(ptr, layout, new_size) }
        }
    }

    #[global_allocator]
    static ALLOCATOR: CountingAllocator = CountingAllocator;

    /// How long a test waits for a completion that must come: a hang guard only.
    const HANG_GUARD: Duration = Duration::from_secs(20);

    fn features(on: &[UringFeature]) -> UringFeatures {
        on.iter().fold(UringFeatures::default(), |set, &feature| {
            set.with(feature, true)
        })
    }

    fn config(entries: u32, features: UringFeatures, max_connections: usize) -> RingConfig {
        RingConfig {
            entries,
            features,
            buffers: 64,
            buffer_bytes: 4096,
            max_connections,
        }
    }

    /// The engine's default set-up, without the buffer ring unless asked.
    fn ring(entries: u32, max_connections: usize) -> Ring {
        let on = features(&[F::SingleIssuer, F::DeferTaskrun]);
        Ring::new(config(entries, on, max_connections)).unwrap()
    }

    /// A completion with what it borrowed copied out.
    #[derive(Debug)]
    enum Seen {
        Sent {
            slot: usize,
            buf: Vec<u8>,
            offset: usize,
            result: io::Result<usize>,
        },
        Received {
            slot: usize,
            data: Vec<u8>,
        },
        RecvStopped {
            slot: usize,
        },
        Other(#[expect(dead_code, reason = "shown by Debug when a test fails")] String),
    }

    fn reap(ring: &mut Ring) -> Result<Vec<Seen>, RingError> {
        let mut seen = Vec::new();
        ring.complete(|completion| {
            seen.push(match completion {
                Completion::Sent {
                    slot,
                    buf,
                    offset,
                    result,
                } => Seen::Sent {
                    slot,
                    buf,
                    offset,
                    result,
                },
                Completion::Received { slot, data } => Seen::Received {
                    slot,
                    data: data.to_vec(),
                },
                Completion::RecvStopped { slot } => Seen::RecvStopped { slot },
                other => Seen::Other(format!("{other:?}")),
            });
        })?;
        Ok(seen)
    }

    /// Waits for completions until `count` were seen.
    fn wait_for(ring: &mut Ring, count: usize) -> Vec<Seen> {
        let deadline = Instant::now() + HANG_GUARD;
        let mut seen = Vec::new();
        while seen.len() < count {
            assert!(Instant::now() < deadline, "only {seen:?} completed");
            ring.submit_and_wait(Some(Duration::from_millis(100)))
                .unwrap();
            seen.extend(reap(ring).unwrap());
        }
        seen
    }

    fn sent(seen: Seen) -> (Vec<u8>, usize, usize) {
        match seen {
            Seen::Sent {
                buf,
                offset,
                result,
                ..
            } => (buf, offset, result.unwrap()),
            other => panic!("expected a send, got {other:?}"),
        }
    }

    #[test]
    fn a_second_send_on_a_busy_slot_is_refused_and_its_buffer_handed_back() {
        let mut ring = ring(8, 4);
        let (ours, mut theirs) = UnixStream::pair().unwrap();
        let fd = ours.as_raw_fd();
        ring.send(0, fd, b"first".to_vec(), 0).unwrap();
        let refused = ring.send(0, fd, b"second".to_vec(), 0).unwrap_err();
        assert!(matches!(refused.error, RingError::SendInFlight { slot: 0 }));
        assert_eq!(refused.buf, b"second");
        // Done in the kernel but not reaped: still the kernel's as far as the slot knows.
        ring.submit_and_wait(Some(Duration::ZERO)).unwrap();
        let refused = ring.send(0, fd, b"third".to_vec(), 0).unwrap_err();
        assert!(matches!(refused.error, RingError::SendInFlight { slot: 0 }));
        let seen = wait_for(&mut ring, 1);
        let (buf, offset, n) = sent(seen.into_iter().next().unwrap());
        assert_eq!((&buf[..], offset, n), (&b"first"[..], 0, 5));
        let mut received = [0; 16];
        assert_eq!(theirs.read(&mut received).unwrap(), 5);
        assert_eq!(&received[..5], b"first");
        // Free again once reaped; an offset past the end is refused too.
        let refused = ring.send(0, fd, buf, 6).unwrap_err();
        assert!(matches!(
            refused.error,
            RingError::SendOffsetPastEnd { offset: 6, len: 5 }
        ));
        ring.send(0, fd, refused.buf, 5).unwrap();
    }

    #[test]
    fn a_second_receive_on_an_armed_slot_is_refused_until_the_first_is_reaped() {
        let mut ring = ring(8, 4);
        let (ours, mut theirs) = UnixStream::pair().unwrap();
        let fd = ours.as_raw_fd();
        ring.arm_recv(0, fd).unwrap();
        assert!(matches!(
            ring.arm_recv(0, fd),
            Err(RingError::RecvInFlight { slot: 0 })
        ));
        // Cancelling does not give the buffer back: only the completion does.
        ring.cancel_recv(0).unwrap();
        assert!(matches!(
            ring.arm_recv(0, fd),
            Err(RingError::RecvInFlight { slot: 0 })
        ));
        let seen = wait_for(&mut ring, 1);
        assert!(
            matches!(seen[..], [Seen::RecvStopped { slot: 0 }]),
            "{seen:?}"
        );
        ring.arm_recv(0, fd).unwrap();
        theirs.write_all(b"ping").unwrap();
        // A single-shot receive (no buffer ring): the bytes, then its end.
        let seen = wait_for(&mut ring, 2);
        assert!(
            matches!(&seen[..], [Seen::Received { slot: 0, data }, Seen::RecvStopped { slot: 0 }] if data == b"ping"),
            "{seen:?}"
        );
        ring.arm_recv(0, fd).unwrap();
    }

    #[test]
    fn the_completion_queue_has_room_for_every_connection_at_its_worst() {
        let ring = ring(64, 1000);
        let worst = 1000 * COMPLETIONS_PER_CONNECTION + COMPLETIONS_PER_RING;
        assert!(ring.cq_entries as usize >= worst, "{}", ring.cq_entries);
        assert_eq!(
            cq_entries(64, 1_000_000),
            MAX_CQ_ENTRIES,
            "the kernel's limit"
        );
        assert_eq!(
            cq_entries(4096, 0),
            8192,
            "never below the kernel's default"
        );
        // What one connection can have outstanding at once, as counted above.
        let (mut ring, ours, _theirs) = ring_with_a_full_socket();
        let fd = ours.as_raw_fd();
        ring.arm_recv(0, fd).unwrap();
        ring.send(0, fd, vec![0; 1024], 0).unwrap();
        ring.submit_and_wait(Some(Duration::ZERO)).unwrap();
        ring.cancel_recv(0).unwrap();
        ring.cancel_send(0).unwrap();
        assert_eq!(ring.in_flight(), COMPLETIONS_PER_CONNECTION);
    }

    /// A ring and a socket pair whose sending side is full, so that a send waits.
    fn ring_with_a_full_socket() -> (Ring, UnixStream, UnixStream) {
        let (ours, theirs) = UnixStream::pair().unwrap();
        ours.set_nonblocking(true).unwrap();
        let chunk = [0u8; 65536];
        while (&ours).write(&chunk).is_ok() {}
        ours.set_nonblocking(false).unwrap();
        (ring(8, 4), ours, theirs)
    }

    #[test]
    fn an_overflowing_completion_queue_hands_out_every_completion_in_one_reap() {
        // A 2-entry submission queue and the smallest completion queue: 32 sends fill
        // the one again and again and overflow the other.
        let mut ring = ring(2, 0);
        assert!(ring.cq_entries < 32, "{}", ring.cq_entries);
        let (ours, theirs) = UnixStream::pair().unwrap();
        for slot in 0..32 {
            ring.send(slot, ours.as_raw_fd(), vec![slot as u8; 10], 0)
                .unwrap();
        }
        ring.submit_and_wait(Some(HANG_GUARD)).unwrap();
        let seen = reap(&mut ring).unwrap();
        let mut slots = seen
            .iter()
            .map(|seen| match seen {
                Seen::Sent {
                    slot,
                    result: Ok(10),
                    ..
                } => *slot,
                other => panic!("expected a whole send, got {other:?}"),
            })
            .collect::<Vec<_>>();
        slots.sort_unstable();
        assert_eq!(slots, (0..32).collect::<Vec<_>>());
        assert_eq!(ring.in_flight(), 0);
        assert!(ring.overflows > 0, "the overflow was noticed");
        drop(theirs);
    }

    #[test]
    fn a_submission_queue_the_kernel_takes_nothing_from_is_an_error_not_a_spin() {
        let (report, outcome) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            // A disabled ring: every submit fails (EBADFD), as one would that the
            // kernel takes nothing from.
            let mut ring = Ring::build(config(2, UringFeatures::default(), 0), true).unwrap();
            let (ours, _theirs) = UnixStream::pair().unwrap();
            let mut refused = None;
            for slot in 0..4 {
                if let Err(error) = ring.send(slot, ours.as_raw_fd(), vec![1; 8], 0) {
                    refused = Some((slot, error));
                    break;
                }
            }
            // Let the queued sends go, so that the ring can reap them before it goes.
            ring.submitter.register_enable_rings().unwrap();
            let _ = report.send(
                refused.map(|(slot, refused)| (slot, refused.buf, format!("{}", refused.error))),
            );
        });
        let (slot, buf, error) = outcome
            .recv_timeout(HANG_GUARD)
            .expect("push returned rather than spun")
            .expect("a send was refused");
        assert_eq!(slot, 2, "the queue held two");
        assert_eq!(buf, [1; 8], "the buffer came back");
        assert!(error.contains("submission queue is full"), "{error}");
    }

    /// Every kind of operation in flight at once: an accept, the doorbell, a receive
    /// and a send that cannot finish.
    fn everything_in_flight() -> (Ring, TcpListener, EventFd, UnixStream, UnixStream) {
        let (mut ring, ours, theirs) = ring_with_a_full_socket();
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let eventfd = EventFd::new().unwrap();
        ring.arm_accept(listener.as_raw_fd()).unwrap();
        ring.arm_wake(eventfd.raw()).unwrap();
        ring.arm_recv(0, ours.as_raw_fd()).unwrap();
        ring.send(1, ours.as_raw_fd(), vec![0; 4096], 0).unwrap();
        ring.submit_and_wait(Some(Duration::ZERO)).unwrap();
        assert!(reap(&mut ring).unwrap().is_empty());
        assert_eq!(ring.in_flight(), 4);
        (ring, listener, eventfd, ours, theirs)
    }

    #[test]
    fn shutdown_cancels_and_reaps_every_operation() {
        let (mut ring, ..) = everything_in_flight();
        assert!(ring.cancel_all_and_reap(HANG_GUARD));
        assert_eq!(ring.in_flight(), 0);
    }

    #[test]
    fn without_synchronous_cancellation_each_operation_is_cancelled_on_its_own() {
        let (mut ring, ..) = everything_in_flight();
        // As on a kernel before 6.0, where IORING_REGISTER_SYNC_CANCEL fails.
        ring.sync_cancel = false;
        assert!(ring.cancel_all_and_reap(HANG_GUARD));
        assert_eq!(ring.in_flight(), 0);
    }

    #[test]
    fn a_write_to_the_eventfd_ends_the_wait_and_the_read_is_rearmed() {
        let mut ring = ring(8, 4);
        let eventfd = EventFd::new().unwrap();
        ring.arm_wake(eventfd.raw()).unwrap();
        for _ in 0..3 {
            eventfd.notify();
            ring.submit_and_wait(Some(HANG_GUARD)).unwrap();
            assert!(reap(&mut ring).unwrap().is_empty());
            assert!(ring.doorbell.read_armed);
            assert_eq!(ring.in_flight(), 1);
            assert_eq!(eventfd.take(), 0, "the ring's read took the count");
        }
    }

    #[test]
    fn a_doorbell_that_cannot_be_read_fails_instead_of_rearming() {
        let mut ring = ring(8, 4);
        let write_only = std::fs::OpenOptions::new()
            .write(true)
            .open("/dev/null")
            .unwrap();
        ring.arm_wake(write_only.as_raw_fd()).unwrap();
        ring.submit_and_wait(Some(HANG_GUARD)).unwrap();
        let error = reap(&mut ring).unwrap_err();
        assert!(
            matches!(&error, RingError::Doorbell(error) if error.raw_os_error() == Some(libc::EBADF)),
            "{error}"
        );
        assert_eq!(ring.in_flight(), 0, "not re-armed");
    }

    #[test]
    fn a_doorbell_read_the_kernel_will_not_wait_in_waits_behind_a_poll() {
        let mut ring = ring(8, 4);
        let eventfd = EventFd::new().unwrap();
        // Act as a kernel that answers a read of a non-blocking eventfd with EAGAIN.
        ring.doorbell.read_flags = libc::RWF_NOWAIT;
        ring.arm_wake(eventfd.raw()).unwrap();
        ring.submit_and_wait(Some(HANG_GUARD)).unwrap();
        reap(&mut ring).unwrap();
        assert!(ring.doorbell.poll_first);
        assert_eq!(ring.in_flight(), 2, "a poll and the read linked behind it");
        // Nothing rung: nothing completes (a read re-armed alone would fail at once).
        ring.submit_and_wait(Some(Duration::ZERO)).unwrap();
        reap(&mut ring).unwrap();
        assert_eq!(ring.in_flight(), 2);
        for _ in 0..2 {
            eventfd.notify();
            // The poll and the read may come in one reap or two; the pair is re-armed
            // once the read came.
            ring.submit_and_wait(Some(HANG_GUARD)).unwrap();
            reap(&mut ring).unwrap();
            while ring.in_flight() < 2 {
                ring.submit_and_wait(Some(HANG_GUARD)).unwrap();
                reap(&mut ring).unwrap();
            }
            assert_eq!(eventfd.take(), 0, "the linked read took the count");
            assert_eq!(ring.in_flight(), 2, "re-armed");
        }
    }

    #[test]
    fn a_partial_send_hands_back_the_same_buffer_to_send_the_rest_from() {
        let mut ring = ring(8, 4);
        let (ours, mut theirs) = UnixStream::pair().unwrap();
        let data = (0..4 << 20).map(|i: u32| i as u8).collect::<Vec<_>>();
        let lent = data.clone();
        let address = lent.as_ptr();
        ring.send(0, ours.as_raw_fd(), lent, 0).unwrap();
        // Nobody reads yet: the socket takes only part of it.
        let (buf, offset, n) = sent(wait_for(&mut ring, 1).pop().unwrap());
        assert_eq!(offset, 0);
        assert!(0 < n && n < data.len(), "{n}");
        let reader = std::thread::spawn(move || {
            let mut received = Vec::new();
            theirs.read_to_end(&mut received).unwrap();
            received
        });
        let (mut buf, mut from) = (buf, n);
        while from < buf.len() {
            ring.send(0, ours.as_raw_fd(), buf, from).unwrap();
            let (back, offset, n) = sent(wait_for(&mut ring, 1).pop().unwrap());
            assert_eq!(offset, from);
            assert!(n > 0);
            (buf, from) = (back, offset + n);
        }
        assert_eq!(buf.as_ptr(), address, "one buffer from first send to last");
        drop(ours);
        assert!(reader.join().unwrap() == data);
    }

    #[test]
    fn a_ring_reports_the_features_in_effect_by_their_one_list_of_names() {
        let all = UringFeatures::all();
        let ring = Ring::new(config(8, all, 4)).unwrap();
        // Deferred task work replaces cooperative task work; this kernel has the rest.
        assert_eq!(ring.features(), all.with(F::CoopTaskrun, false).to_string());
        let ring = Ring::new(config(
            8,
            all.with(F::BufRing, false).with(F::DeferTaskrun, false),
            4,
        ))
        .unwrap();
        assert_eq!(
            ring.features(),
            features(&[
                F::MultishotAccept,
                F::CoopTaskrun,
                F::SingleIssuer,
                F::RegisteredFd,
                F::OwnedSend
            ])
            .to_string(),
            "multishot receive and incremental buffers need the buffer ring"
        );
    }

    #[test]
    fn a_failed_second_allocation_of_the_buffer_ring_frees_the_first() {
        let before = page_aligned_live();
        let buf_ring = BufRing::new(64, 4096).unwrap();
        assert_eq!(page_aligned_live(), before + 2);
        drop(buf_ring);
        assert_eq!(page_aligned_live(), before);
        // The entries (512 KiB) can be allocated, 32768 buffers of 4 GiB cannot.
        let error = BufRing::new(32768, u32::MAX).unwrap_err();
        assert_eq!(error.kind(), io::ErrorKind::OutOfMemory);
        assert_eq!(page_aligned_live(), before, "the entries were freed");
    }
}
