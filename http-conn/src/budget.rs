//! [`MemoryBudget`]: the process-wide bound on buffered request bytes.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

/// A bound on the request bytes every connection of a process may buffer beyond its
/// small initial read buffer, shared by all of them (and by every worker thread).
///
/// Each connection reserves from it before its read buffer grows past the initial size
/// and gives the bytes back when the buffer shrinks (once the connection is idle again)
/// or the connection is dropped. A connection whose growth the budget refuses answers
/// the request it was reading `503` with `Retry-After` and closes
/// ([`crate::Event::Overloaded`]): the client can resend it, to this gateway or another,
/// instead of waiting with a half-sent body.
///
/// Reserving is one atomic compare-and-swap loop; nothing blocks.
///
/// ```
/// use http_conn::MemoryBudget;
///
/// let budget = MemoryBudget::new(1024);
/// assert!(budget.try_reserve(1000));
/// assert!(!budget.try_reserve(100), "over the bound");
/// budget.release(1000);
/// assert_eq!(budget.in_use(), 0);
/// ```
#[derive(Debug)]
pub struct MemoryBudget {
    limit: usize,
    in_use: AtomicUsize,
}

impl MemoryBudget {
    /// A budget of `limit_bytes`, shared through the returned `Arc`.
    pub fn new(limit_bytes: usize) -> Arc<Self> {
        Arc::new(Self {
            limit: limit_bytes,
            in_use: AtomicUsize::new(0),
        })
    }

    /// A budget that refuses nothing (for tests and tools that need no bound).
    pub fn unbounded() -> Arc<Self> {
        Self::new(usize::MAX)
    }

    /// Reserves `bytes` if they fit under the bound; `false` (and nothing reserved)
    /// otherwise.
    pub fn try_reserve(&self, bytes: usize) -> bool {
        self.in_use
            .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |in_use| {
                in_use
                    .checked_add(bytes)
                    .filter(|&total| total <= self.limit)
            })
            .is_ok()
    }

    /// Gives back `bytes` reserved earlier.
    pub fn release(&self, bytes: usize) {
        self.in_use.fetch_sub(bytes, Ordering::Relaxed);
    }

    /// Bytes reserved now (for metrics).
    pub fn in_use(&self) -> usize {
        self.in_use.load(Ordering::Relaxed)
    }

    /// The bound.
    pub fn limit(&self) -> usize {
        self.limit
    }
}
