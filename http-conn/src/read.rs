//! The read buffer a connection owns and lends to the I/O layer.
//!
//! The bytes are kept initialised (zeroed once, when the buffer grows) so that spare
//! capacity can be lent as a plain `&mut [u8]` without `unsafe`; after growth, reads and
//! compaction neither allocate nor zero anything.

use http_parse::Limits;

/// Size of a new connection's buffer: a typical request head and small body fit.
const INITIAL_BYTES: usize = 4 * 1024;

/// Smallest spare space worth lending to a read; below it the buffer is compacted or
/// grown first.
pub(crate) const MIN_READ_BYTES: usize = 2 * 1024;

#[derive(Debug)]
pub(crate) struct ReadBuffer {
    /// `bytes.len()` is the allocated size; `start..end` holds unconsumed data.
    bytes: Vec<u8>,
    start: usize,
    end: usize,
    /// Most bytes one incomplete request may occupy (see [`ReadBuffer::limit_for`]).
    limit: usize,
}

impl ReadBuffer {
    pub(crate) fn new(limits: &Limits) -> Self {
        Self {
            bytes: vec![0; INITIAL_BYTES],
            start: 0,
            end: 0,
            limit: Self::limit_for(limits),
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

    /// Spare space after the data: at least `MIN_READ_BYTES` unless the buffer is at its
    /// limit (then possibly empty). Compacts before it grows.
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

    /// Appends `data`, growing past the limit if it must: the bytes were already received.
    pub(crate) fn extend_from_slice(&mut self, data: &[u8]) {
        self.make_room(data.len(), usize::MAX);
        self.bytes[self.end..self.end + data.len()].copy_from_slice(data);
        self.end += data.len();
    }

    fn make_room(&mut self, wanted: usize, limit: usize) {
        if self.bytes.len() - self.end >= wanted {
            return;
        }
        if self.start > 0 {
            self.bytes.copy_within(self.start..self.end, 0);
            self.end -= self.start;
            self.start = 0;
            if self.bytes.len() - self.end >= wanted {
                return;
            }
        }
        let needed = self.end.saturating_add(wanted);
        let grown = needed
            .max(self.bytes.len().saturating_mul(2))
            .min(limit)
            .max(self.bytes.len());
        self.bytes.resize(grown, 0);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lends_at_least_a_minimum_read_and_compacts_before_growing() {
        let mut buffer = ReadBuffer::new(&Limits::default());
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
        let mut buffer = ReadBuffer::new(&limits);
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
        let mut buffer = ReadBuffer::new(&limits);
        let data = vec![b'x'; 10_000];
        buffer.extend_from_slice(&data);
        assert_eq!(buffer.data(), &data[..]);
    }
}
