//! The read buffer a connection owns and lends to the I/O layer.
//!
//! The bytes are kept initialised (zeroed once, when the buffer grows) so that spare
//! capacity can be lent as a plain `&mut [u8]` without `unsafe`; after growth, reads and
//! compaction neither allocate nor zero anything. Growth past the initial size is
//! reserved from the process-wide [`MemoryBudget`]; a buffer that grew large goes back to
//! the initial size once the connection is idle, so an idle keep-alive connection holds
//! a few KiB whatever it sent before.

use std::sync::Arc;

use http_parse::Limits;

use crate::MemoryBudget;

/// Size of a new connection's buffer: a typical request head and small body fit.
pub(crate) const INITIAL_BYTES: usize = 4 * 1024;

/// Smallest spare space worth lending to a read; below it the buffer is compacted or
/// grown first.
pub(crate) const MIN_READ_BYTES: usize = 2 * 1024;

/// A buffer this large goes back to [`INITIAL_BYTES`] when the connection is idle.
/// Smaller ones are kept: a client sending bodies of a few KiB would otherwise pay an
/// allocation per request.
pub(crate) const SHRINK_ABOVE_BYTES: usize = 32 * 1024;

#[derive(Debug)]
pub(crate) struct ReadBuffer {
    /// `bytes.len()` is the allocated size; `start..end` holds unconsumed data.
    bytes: Vec<u8>,
    start: usize,
    end: usize,
    /// Most bytes one incomplete request may occupy (see [`ReadBuffer::limit_for`]).
    limit: usize,
    budget: Arc<MemoryBudget>,
    /// Bytes reserved from `budget`: the allocation beyond [`INITIAL_BYTES`].
    reserved: usize,
    /// The budget refused growth the buffer needed: bytes were dropped.
    refused: bool,
}

impl ReadBuffer {
    pub(crate) fn new(limits: &Limits, budget: Arc<MemoryBudget>) -> Self {
        Self {
            bytes: vec![0; INITIAL_BYTES],
            start: 0,
            end: 0,
            limit: Self::limit_for(limits),
            budget,
            reserved: 0,
            refused: false,
        }
    }

    /// The most one request can occupy on the wire: its head, its body with room for
    /// chunk framing (twice the body limit), its trailers, and one read beyond it.
    fn limit_for(limits: &Limits) -> usize {
        limits
            .max_head_bytes()
            .saturating_mul(2)
            .saturating_add(limits.max_body_bytes().saturating_mul(2))
            .saturating_add(MIN_READ_BYTES)
    }

    /// The unconsumed bytes.
    pub(crate) fn data(&self) -> &[u8] {
        &self.bytes[self.start..self.end]
    }

    pub(crate) fn len(&self) -> usize {
        self.end - self.start
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.start == self.end
    }

    /// Whether the unconsumed bytes reached the most one request may occupy.
    pub(crate) fn is_at_limit(&self) -> bool {
        self.len() >= self.limit
    }

    /// Bytes allocated, for tests of buffer reuse.
    #[cfg(test)]
    pub(crate) fn allocated(&self) -> usize {
        self.bytes.len()
    }

    /// Drops `n` bytes from the front.
    pub(crate) fn consume(&mut self, n: usize) {
        self.start += n.min(self.len());
        if self.start == self.end {
            self.start = 0;
            self.end = 0;
        }
    }

    /// Drops every unconsumed byte.
    pub(crate) fn clear(&mut self) {
        self.start = 0;
        self.end = 0;
    }

    /// Whether the budget refused growth this buffer needed (bytes were dropped: the
    /// request in progress cannot be completed).
    pub(crate) fn is_refused(&self) -> bool {
        self.refused
    }

    /// Goes back to the initial size if the buffer is empty and grew large, giving its
    /// reservation back: called when the connection is idle.
    pub(crate) fn shrink_if_idle(&mut self) {
        if self.is_empty() && self.bytes.len() > SHRINK_ABOVE_BYTES {
            self.bytes = vec![0; INITIAL_BYTES];
            self.clear();
            self.set_reserved(0);
        }
    }

    /// Spare space after the data: at least `MIN_READ_BYTES` unless the buffer is at its
    /// limit or the budget refused to let it grow (then possibly empty). Compacts before
    /// it grows.
    pub(crate) fn spare(&mut self) -> &mut [u8] {
        self.make_room(MIN_READ_BYTES, self.limit);
        &mut self.bytes[self.end..]
    }

    /// Marks `n` bytes of the spare space as data.
    pub(crate) fn commit(&mut self, n: usize) {
        assert!(
            n <= self.bytes.len() - self.end,
            "committed {n} bytes, more than the {} lent",
            self.bytes.len() - self.end
        );
        self.end += n;
    }

    /// Appends `data`, growing past the limit if it must: the bytes were already
    /// received. If the budget refuses the growth, the bytes are dropped and the buffer
    /// is marked refused.
    pub(crate) fn extend_from_slice(&mut self, data: &[u8]) {
        if !self.make_room(data.len(), usize::MAX) {
            return;
        }
        self.bytes[self.end..self.end + data.len()].copy_from_slice(data);
        self.end += data.len();
    }

    /// Makes `wanted` bytes of spare space (at most up to `limit` in all). Returns
    /// `false` if the budget refused the growth that needed.
    fn make_room(&mut self, wanted: usize, limit: usize) -> bool {
        if self.bytes.len() - self.end >= wanted {
            return true;
        }
        if self.start > 0 {
            self.bytes.copy_within(self.start..self.end, 0);
            self.end -= self.start;
            self.start = 0;
            if self.bytes.len() - self.end >= wanted {
                return true;
            }
        }
        let needed = self.end.saturating_add(wanted);
        let grown = needed
            .max(self.bytes.len().saturating_mul(2))
            .min(limit)
            .max(self.bytes.len());
        if grown == self.bytes.len() {
            return true;
        }
        if !self.set_reserved(grown - INITIAL_BYTES.min(grown)) {
            self.refused = true;
            return false;
        }
        self.bytes.resize(grown, 0);
        true
    }

    /// Makes the budget reservation `bytes`; `false` if growing it was refused.
    fn set_reserved(&mut self, bytes: usize) -> bool {
        if bytes > self.reserved {
            if !self.budget.try_reserve(bytes - self.reserved) {
                return false;
            }
        } else {
            self.budget.release(self.reserved - bytes);
        }
        self.reserved = bytes;
        true
    }
}

impl Drop for ReadBuffer {
    fn drop(&mut self) {
        self.budget.release(self.reserved);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lends_at_least_a_minimum_read_and_compacts_before_growing() {
        let mut buffer = ReadBuffer::new(&Limits::default(), MemoryBudget::unbounded());
        let lent = buffer.spare().len();
        assert!(lent >= MIN_READ_BYTES);
        buffer.commit(lent - 10);
        buffer.consume(lent - 20);
        let size = buffer.bytes.len();
        assert!(buffer.spare().len() >= MIN_READ_BYTES);
        assert_eq!(
            buffer.bytes.len(),
            size,
            "compaction made room without growing"
        );
        assert_eq!(buffer.len(), 10);
    }

    #[test]
    fn stops_lending_at_the_limit() {
        let limits = Limits::default()
            .with_max_head_bytes(100)
            .with_max_body_bytes(100);
        let mut buffer = ReadBuffer::new(&limits, MemoryBudget::unbounded());
        loop {
            let lent = buffer.spare().len();
            if lent == 0 {
                break;
            }
            buffer.commit(lent);
        }
        assert!(buffer.is_at_limit());
    }

    #[test]
    fn extends_past_the_limit_with_bytes_already_received() {
        let limits = Limits::default()
            .with_max_head_bytes(10)
            .with_max_body_bytes(10);
        let mut buffer = ReadBuffer::new(&limits, MemoryBudget::unbounded());
        let data = vec![b'x'; 10_000];
        buffer.extend_from_slice(&data);
        assert_eq!(buffer.data(), &data[..]);
    }

    #[test]
    fn growth_past_the_initial_size_is_reserved_and_given_back() {
        let budget = MemoryBudget::new(1 << 20);
        let mut buffer = ReadBuffer::new(&Limits::default(), Arc::clone(&budget));
        buffer.extend_from_slice(&vec![b'x'; 100_000]);
        assert_eq!(budget.in_use(), buffer.allocated() - INITIAL_BYTES);
        buffer.consume(100_000);
        buffer.shrink_if_idle();
        assert_eq!((buffer.allocated(), budget.in_use()), (INITIAL_BYTES, 0));
        buffer.extend_from_slice(&vec![b'x'; 10_000]);
        assert!(budget.in_use() > 0);
        drop(buffer);
        assert_eq!(budget.in_use(), 0, "a dropped buffer gives its bytes back");
    }

    #[test]
    fn a_buffer_the_budget_refuses_stops_growing_and_says_so() {
        let budget = MemoryBudget::new(8 * 1024);
        let mut buffer = ReadBuffer::new(&Limits::default(), Arc::clone(&budget));
        buffer.extend_from_slice(&vec![b'x'; 10 * 1024]);
        assert!(!buffer.is_refused());
        buffer.extend_from_slice(&vec![b'y'; 100 * 1024]);
        assert!(buffer.is_refused());
        assert_eq!(buffer.len(), 10 * 1024, "the refused bytes were dropped");
        assert!(budget.in_use() <= budget.limit());
    }

    #[test]
    fn a_small_buffer_is_kept_when_idle() {
        let mut buffer = ReadBuffer::new(&Limits::default(), MemoryBudget::unbounded());
        buffer.extend_from_slice(&vec![b'x'; 6 * 1024]);
        let grown = buffer.allocated();
        buffer.consume(6 * 1024);
        buffer.shrink_if_idle();
        assert_eq!(buffer.allocated(), grown);
    }
}
