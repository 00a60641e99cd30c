//! Every `unsafe` of the crate: the io_uring [`Ring`] with the memory it lends the
//! kernel (the provided-buffer ring, per-connection send and receive buffers, the
//! eventfd read buffer), [`Epoll`], [`EventFd`] and adopting accepted
//! file descriptors.
//!
//! The rule the ring keeps: memory named in a submitted operation belongs to the
//! [`Ring`] and is neither moved, reused nor freed until that operation's last
//! completion was reaped. Shutdown (and `Drop`, also while unwinding from a panic)
//! cancels every operation and reaps it before any buffer is freed; if the kernel does
//! not give every operation back, the buffers are leaked rather than freed.

use std::alloc::Layout;
use std::io::{self, Read, Write};
use std::net::TcpStream;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::sync::atomic::{AtomicU16, Ordering};
use std::time::Duration;

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
    /// A send finished: bytes written, or why not. The slot's send buffer is free again.
    Sent {
        slot: usize,
        result: io::Result<usize>,
    },
    /// The worker's eventfd was written (deliveries or shutdown).
    Woken,
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

/// The operations and buffers of one connection slot.
#[derive(Debug, Default)]
struct SlotOps {
    recv_armed: bool,
    recv_cancelling: bool,
    sending: bool,
    send_cancelling: bool,
    /// The bytes of the send in flight; untouched until its completion.
    send_buf: Vec<u8>,
    /// Without the buffer ring: this slot's receive buffer, untouched while a receive
    /// is armed.
    recv_buf: Box<[u8]>,
}

/// The provided-buffer ring: `count` buffers of `size` bytes in one allocation, and the
/// page-aligned ring of entries the kernel takes them from.
#[derive(Debug)]
struct BufRing {
    entries: *mut BufRingEntry,
    entries_layout: Layout,
    memory: *mut u8,
    memory_layout: Layout,
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
        let entries_layout =
            Layout::from_size_align(count as usize * std::mem::size_of::<BufRingEntry>(), 4096)
                .map_err(io::Error::other)?;
        let memory_layout = Layout::from_size_align(count as usize * size as usize, 4096)
            .map_err(io::Error::other)?;
        // SAFETY: both layouts have a non-zero size (count and size are positive).
        let (entries, memory) = unsafe {
            (
                std::alloc::alloc_zeroed(entries_layout).cast::<BufRingEntry>(),
                std::alloc::alloc(memory_layout),
            )
        };
        if entries.is_null() || memory.is_null() {
            return Err(io::Error::from(io::ErrorKind::OutOfMemory));
        }
        Ok(Self {
            entries,
            entries_layout,
            memory,
            memory_layout,
            count,
            size,
            tail: 0,
            incremental: false,
            consumed: vec![0; count as usize],
            registered: false,
        })
    }

    /// Registers the ring with the kernel, incrementally consumed if asked and supported.
    fn register(&mut self, submitter: &Submitter<'_>, incremental: bool) -> io::Result<()> {
        if incremental {
            // SAFETY: `entries` holds `count` entries, lives until `Drop` (which
            // unregisters first) and is page-aligned as the kernel requires.
            let result = unsafe {
                submitter.register_buf_ring_with_flags(
                    self.entries as u64,
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
                    self.entries as u64,
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
        let entry = unsafe { &mut *self.entries.add(index) };
        entry.set_addr(self.buffer(bid) as u64);
        entry.set_len(self.size);
        entry.set_bid(bid);
        self.tail = self.tail.wrapping_add(1);
        // SAFETY: the tail field lives inside the first entry of the allocation, is
        // 2-aligned, and the kernel only reads it; Release publishes the entry first.
        unsafe {
            AtomicU16::from_ptr(BufRingEntry::tail(self.entries).cast_mut())
                .store(self.tail, Ordering::Release);
        }
    }

    fn buffer(&self, bid: u16) -> *mut u8 {
        // SAFETY: `bid < count`, so the offset stays inside the allocation.
        unsafe { self.memory.add(bid as usize * self.size as usize) }
    }
}

impl Drop for BufRing {
    fn drop(&mut self) {
        // SAFETY: allocated in `new` with these layouts; `Ring::drop` unregistered the
        // ring and reaped every operation first, or leaked this value instead.
        unsafe {
            std::alloc::dealloc(self.entries.cast(), self.entries_layout);
            std::alloc::dealloc(self.memory, self.memory_layout);
        }
    }
}

/// One worker's io_uring and every buffer it lends the kernel.
pub(crate) struct Ring {
    /// Kept for the life of the ring because it remembers the registered ring fd
    /// (io-uring 0.7 forgets it in every new `Submitter`). Declared before `ring` so it
    /// is dropped first: it borrows from the boxed ring.
    submitter: Submitter<'static>,
    ring: Box<IoUring>,
    config: RingConfig,
    /// The features in effect.
    features: UringFeatures,
    buf_ring: Option<BufRing>,
    slots: Vec<SlotOps>,
    /// The eventfd read target; boxed so that its address is stable.
    wake_buf: Box<[u8; 8]>,
    wake_fd: Option<RawFd>,
    wake_armed: bool,
    accept_armed: bool,
    accept_cancelling: bool,
    /// Operations submitted and not finished (a multishot counts once, until its last
    /// completion).
    in_flight: usize,
    reaped: Vec<(u64, i32, u32)>,
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
        use UringFeature as F;
        let asked = config.features;
        let single_issuer = asked.has(F::SingleIssuer);
        let defer_taskrun = single_issuer && asked.has(F::DeferTaskrun);
        let coop_taskrun = !defer_taskrun && asked.has(F::CoopTaskrun);
        let mut builder = IoUring::builder();
        if single_issuer {
            builder.setup_single_issuer();
        }
        if defer_taskrun {
            builder.setup_defer_taskrun();
        } else if coop_taskrun {
            builder.setup_coop_taskrun();
            builder.setup_taskrun_flag();
        }
        let mut features = UringFeatures::default()
            .with(F::SingleIssuer, single_issuer)
            .with(F::DeferTaskrun, defer_taskrun)
            .with(F::CoopTaskrun, coop_taskrun)
            .with(F::MultishotAccept, asked.has(F::MultishotAccept));
        let ring = Box::new(builder.build(config.entries)?);
        // SAFETY: the submitter borrows the boxed ring, whose heap address never moves;
        // the field order drops the submitter first, and the ring is only ever used
        // through shared references afterwards (`submission_shared`/`completion_shared`).
        let mut submitter =
            unsafe { std::mem::transmute::<Submitter<'_>, Submitter<'static>>(ring.submitter()) };
        if asked.has(F::RegisteredFd) {
            submitter.register_ring_fd()?;
            features = features.with(F::RegisteredFd, true);
        }
        let buf_ring = if asked.has(F::BufRing) {
            let mut buf_ring = BufRing::new(config.buffers, config.buffer_bytes)?;
            buf_ring.register(&submitter, asked.has(F::Incremental))?;
            features = features
                .with(F::BufRing, true)
                .with(F::Incremental, buf_ring.incremental)
                .with(F::MultishotRecv, asked.has(F::MultishotRecv));
            Some(buf_ring)
        } else {
            None
        };
        Ok(Self {
            submitter,
            ring,
            config,
            features,
            buf_ring,
            slots: Vec::new(),
            wake_buf: Box::new([0; 8]),
            wake_fd: None,
            wake_armed: false,
            accept_armed: false,
            accept_cancelling: false,
            in_flight: 0,
            reaped: Vec::with_capacity(1024),
        })
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

    /// Queues `entry`, submitting first if the submission queue is full.
    ///
    /// # Safety
    ///
    /// Memory `entry` names must stay valid until its last completion is reaped.
    unsafe fn push(&mut self, entry: squeue::Entry) {
        loop {
            // SAFETY: forwarded to the caller.
            // SAFETY (queue): this is the only submission queue handle, and it is
            // dropped (synced) before the next submit.
            if unsafe { self.ring.submission_shared().push(&entry) }.is_ok() {
                break;
            }
            let _ = self.submitter.submit();
        }
        self.in_flight += 1;
    }

    /// Accepts connections on `listener` (multishot unless switched off).
    pub(crate) fn arm_accept(&mut self, listener: RawFd) {
        if self.accept_armed {
            return;
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
        unsafe { self.push(entry.user_data(Kind::Accept.tag(0))) };
        self.accept_armed = true;
    }

    /// Stops accepting.
    pub(crate) fn cancel_accept(&mut self) {
        if self.accept_armed && !self.accept_cancelling {
            self.accept_cancelling = true;
            self.cancel(Kind::Accept.tag(0));
        }
    }

    /// Whether an accept is armed.
    pub(crate) fn accept_armed(&self) -> bool {
        self.accept_armed
    }

    /// Reads the worker's eventfd, re-armed after each wake-up.
    pub(crate) fn arm_wake(&mut self, eventfd: RawFd) {
        self.wake_fd = Some(eventfd);
        if self.wake_armed {
            return;
        }
        let entry = opcode::Read::new(Fd(eventfd), self.wake_buf.as_mut_ptr(), 8)
            .build()
            .user_data(Kind::Wake.tag(0));
        // SAFETY: `wake_buf` is boxed in this ring and freed only after every operation
        // was reaped (see `Drop`).
        unsafe { self.push(entry) };
        self.wake_armed = true;
    }

    /// Whether slot `slot` has a receive armed.
    pub(crate) fn recv_armed(&self, slot: usize) -> bool {
        self.slots.get(slot).is_some_and(|ops| ops.recv_armed)
    }

    /// Whether slot `slot` has a send in flight.
    pub(crate) fn sending(&self, slot: usize) -> bool {
        self.slots.get(slot).is_some_and(|ops| ops.sending)
    }

    /// Whether any operation of slot `slot` is unfinished (its socket must stay open
    /// and the slot unused until then).
    pub(crate) fn busy(&self, slot: usize) -> bool {
        self.slots
            .get(slot)
            .is_some_and(|ops| ops.recv_armed || ops.sending)
    }

    /// Receives on `fd` for slot `slot`: multishot into the buffer ring, single-shot
    /// from the ring, or single-shot into the slot's own buffer, as configured.
    pub(crate) fn arm_recv(&mut self, slot: usize, fd: RawFd) {
        let config = self.config;
        let tag = Kind::Recv.tag(slot);
        let entry = match &self.buf_ring {
            Some(_) if self.features.has(UringFeature::MultishotRecv) => {
                opcode::RecvMulti::new(Fd(fd), BUF_GROUP)
                    .build()
                    .user_data(tag)
            }
            Some(buf_ring) => opcode::Recv::new(Fd(fd), std::ptr::null_mut(), buf_ring.size)
                .buf_group(BUF_GROUP)
                .build()
                .flags(squeue::Flags::BUFFER_SELECT)
                .user_data(tag),
            None => {
                let ops = self.slot(slot);
                if ops.recv_buf.is_empty() {
                    ops.recv_buf = vec![0; config.buffer_bytes as usize].into_boxed_slice();
                }
                let len = u32::try_from(ops.recv_buf.len()).unwrap_or(u32::MAX);
                opcode::Recv::new(Fd(fd), ops.recv_buf.as_mut_ptr(), len)
                    .build()
                    .user_data(tag)
            }
        };
        let ops = self.slot(slot);
        debug_assert!(!ops.recv_armed);
        ops.recv_armed = true;
        ops.recv_cancelling = false;
        // SAFETY: provided buffers and the slot's `recv_buf` belong to this ring; a
        // slot's `recv_buf` is not touched while `recv_armed`, and nothing is freed
        // before every operation was reaped.
        unsafe { self.push(entry) };
    }

    /// Cancels slot `slot`'s receive, if armed (its end arrives as a completion).
    pub(crate) fn cancel_recv(&mut self, slot: usize) {
        let ops = self.slot(slot);
        if ops.recv_armed && !ops.recv_cancelling {
            ops.recv_cancelling = true;
            self.cancel(Kind::Recv.tag(slot));
        }
    }

    /// Cancels slot `slot`'s send, if any (a client that stopped reading).
    pub(crate) fn cancel_send(&mut self, slot: usize) {
        let ops = self.slot(slot);
        if ops.sending && !ops.send_cancelling {
            ops.send_cancelling = true;
            self.cancel(Kind::Send.tag(slot));
        }
    }

    /// Sends a copy of `bytes` on `fd` for slot `slot`; at most one send per slot at a
    /// time. The copy is what keeps the memory alive until the completion: the
    /// connection's own transmit buffer may grow (and move) as responses are added.
    pub(crate) fn send(&mut self, slot: usize, fd: RawFd, bytes: &[u8]) {
        let ops = self.slot(slot);
        debug_assert!(!ops.sending);
        ops.send_buf.clear();
        ops.send_buf.extend_from_slice(bytes);
        ops.sending = true;
        ops.send_cancelling = false;
        let len = u32::try_from(ops.send_buf.len()).unwrap_or(u32::MAX);
        let entry = opcode::Send::new(Fd(fd), ops.send_buf.as_ptr(), len)
            .flags(libc::MSG_NOSIGNAL)
            .build()
            .user_data(Kind::Send.tag(slot));
        // SAFETY: `send_buf` is not touched while `sending` (cleared by the completion),
        // and nothing is freed before every operation was reaped.
        unsafe { self.push(entry) };
    }

    fn cancel(&mut self, target: u64) {
        let entry = opcode::AsyncCancel::new(target)
            .build()
            .user_data(Kind::Cancel.tag(0));
        // SAFETY: a cancellation names no memory.
        unsafe { self.push(entry) };
    }

    /// Submits what is queued and waits for at least one completion or `timeout`
    /// (`None`: no limit; zero: just run deferred work and reap). The loop's one
    /// system call per iteration.
    pub(crate) fn submit_and_wait(&mut self, timeout: Option<Duration>) -> io::Result<()> {
        let submitter = &self.submitter;
        let result = match timeout {
            Some(timeout) => {
                let timespec = Timespec::from(timeout);
                let args = SubmitArgs::new().timespec(&timespec);
                submitter.submit_with_args(1, &args)
            }
            None => submitter.submit_and_wait(1),
        };
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
            Err(error) => Err(error),
        }
    }

    /// Reaps every completion and calls `each` for those the loop acts on. Buffers go
    /// back to the kernel right after their callback; ended multishots are noted so the
    /// loop re-arms them.
    pub(crate) fn complete(&mut self, mut each: impl FnMut(&mut Self, Completion<'_>)) {
        let mut reaped = std::mem::take(&mut self.reaped);
        reaped.clear();
        // SAFETY: this is the only completion queue handle; it is dropped (synced)
        // before any callback runs.
        let completions = unsafe { self.ring.completion_shared() };
        reaped.extend(completions.map(|cqe| (cqe.user_data(), cqe.result(), cqe.flags())));
        for &(user_data, result, flags) in &reaped {
            let more = cqueue::more(flags);
            if !more {
                self.in_flight -= 1;
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
                        each(self, Completion::Accepted(Ok(stream)));
                    } else if result != -libc::ECANCELED {
                        each(
                            self,
                            Completion::Accepted(Err(io::Error::from_raw_os_error(-result))),
                        );
                    }
                }
                Some(Kind::Recv) => self.complete_recv(slot, result, flags, &mut each),
                Some(Kind::Send) => {
                    let ops = self.slot(slot);
                    ops.sending = false;
                    let result = if result >= 0 {
                        Ok(result as usize)
                    } else {
                        Err(io::Error::from_raw_os_error(-result))
                    };
                    each(self, Completion::Sent { slot, result });
                }
                Some(Kind::Wake) => {
                    self.wake_armed = false;
                    each(self, Completion::Woken);
                }
                Some(Kind::Cancel) | None => {}
            }
        }
        self.reaped = reaped;
    }

    fn complete_recv(
        &mut self,
        slot: usize,
        result: i32,
        flags: u32,
        each: &mut impl FnMut(&mut Self, Completion<'_>),
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
                (Some(bid), Some(buf_ring)) => {
                    let offset = if buf_ring.incremental {
                        buf_ring.consumed[bid as usize] as usize
                    } else {
                        0
                    };
                    let keep = buf_ring.incremental && cqueue::buffer_more(flags);
                    // SAFETY: the kernel wrote `len` bytes at `offset` into buffer `bid`,
                    // which stays ours (not provided again) until `provide` below.
                    let data = unsafe {
                        std::slice::from_raw_parts(buf_ring.buffer(bid).add(offset), len)
                    };
                    each(self, Completion::Received { slot, data });
                    let buf_ring = self.buf_ring.as_mut().expect("checked above");
                    if keep {
                        buf_ring.consumed[bid as usize] += result as u32;
                    } else {
                        buf_ring.provide(bid);
                    }
                }
                _ => {
                    // The slot's own buffer: no receive is armed on it now (single-shot).
                    let recv_buf = std::mem::take(&mut self.slot(slot).recv_buf);
                    each(
                        self,
                        Completion::Received {
                            slot,
                            data: &recv_buf[..len],
                        },
                    );
                    self.slot(slot).recv_buf = recv_buf;
                }
            }
            if !more {
                each(self, Completion::RecvStopped { slot });
            }
        } else if result == 0 {
            each(self, Completion::Eof { slot });
        } else if matches!(-result, libc::ENOBUFS | libc::ECANCELED | libc::EINTR) {
            each(self, Completion::RecvStopped { slot });
        } else {
            each(
                self,
                Completion::RecvFailed {
                    slot,
                    error: io::Error::from_raw_os_error(-result),
                },
            );
        }
    }

    /// Cancels every operation and reaps them all (waiting up to `timeout` in total).
    /// Returns whether none is left; only then may the memory they name be freed.
    pub(crate) fn cancel_all_and_reap(&mut self, timeout: Duration) -> bool {
        let deadline = std::time::Instant::now() + timeout;
        self.wake_fd = None;
        let _ = self.submitter.submit();
        if self.in_flight > 0 {
            let _ = self
                .submitter
                .register_sync_cancel(Some(Timespec::from(timeout)), CancelBuilder::any());
        }
        while self.in_flight > 0 {
            let now = std::time::Instant::now();
            if now >= deadline {
                break;
            }
            let _ = self.submit_and_wait(Some(deadline - now));
            // Reap without acting: descriptors from late accepts are closed on drop.
            self.complete(|_, _| {});
        }
        self.in_flight == 0
    }
}

impl Drop for Ring {
    fn drop(&mut self) {
        if !self.cancel_all_and_reap(Duration::from_secs(2)) {
            // The kernel still holds operations naming our buffers: leak them rather
            // than free memory it may write into.
            tracing::error!(
                in_flight = self.in_flight,
                "io_uring operations survived cancellation; leaking their buffers"
            );
            std::mem::forget(self.buf_ring.take());
            std::mem::forget(std::mem::take(&mut self.slots));
            std::mem::forget(std::mem::replace(&mut self.wake_buf, Box::new([0; 8])));
            return;
        }
        if self.buf_ring.as_ref().is_some_and(|b| b.registered) {
            let _ = self.submitter.unregister_buf_ring(BUF_GROUP);
        }
    }
}

/// The raw descriptor of a socket (for submissions).
pub(crate) fn raw(stream: &TcpStream) -> RawFd {
    stream.as_raw_fd()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::args::UringFeature as F;

    fn features(on: &[UringFeature]) -> UringFeatures {
        on.iter().fold(UringFeatures::default(), |set, &feature| {
            set.with(feature, true)
        })
    }

    fn config(entries: u32, features: UringFeatures) -> RingConfig {
        RingConfig {
            entries,
            features,
            buffers: 64,
            buffer_bytes: 4096,
        }
    }

    #[test]
    fn a_ring_reports_the_features_in_effect_by_their_one_list_of_names() {
        let all = UringFeatures::all();
        let ring = Ring::new(config(8, all)).unwrap();
        // Deferred task work replaces cooperative task work; this kernel has the rest.
        assert_eq!(ring.features(), all.with(F::CoopTaskrun, false).to_string());
        let ring = Ring::new(config(
            8,
            all.with(F::BufRing, false).with(F::DeferTaskrun, false),
        ))
        .unwrap();
        assert_eq!(
            ring.features(),
            features(&[
                F::MultishotAccept,
                F::CoopTaskrun,
                F::SingleIssuer,
                F::RegisteredFd
            ])
            .to_string(),
            "multishot receive and incremental buffers need the buffer ring"
        );
    }
}
