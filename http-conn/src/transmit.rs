//! [`Transmit`], the owned bytes an engine writes, and the queue they come from.
//!
//! Bytes to send are appended to one buffer and handed over whole: the engine may keep
//! it until the kernel is done with it (an io_uring send), while new bytes go into a
//! second buffer; the two swap, so nothing is copied to be sent. A buffer written in part
//! goes out again first, from where the write stopped. The HTTP connection's responses
//! and the TLS layer's records each have such a queue.

use crate::read::SHRINK_ABOVE_BYTES;

/// Bytes a connection hands its engine to write: an owned buffer, so the engine may keep
/// it until the kernel is done with it (an io_uring send), and must give it back with
/// the count written ([`crate::ServerConnection::transmitted`],
/// [`crate::Driver::transmitted`]). One is out at a time; moving it moves no bytes.
#[derive(Debug, PartialEq, Eq)]
pub struct Transmit {
    buf: Vec<u8>,
    start: usize,
}

impl Transmit {
    /// The bytes to write.
    pub fn bytes(&self) -> &[u8] {
        &self.buf[self.start..]
    }

    /// How many bytes are left to write.
    pub fn len(&self) -> usize {
        self.buf.len() - self.start
    }

    /// Whether nothing is left to write.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The buffer and the offset its unsent bytes start at, for an engine whose kernel
    /// interface takes ownership of a `Vec` (the heap allocation does not move, so
    /// `buf[start..]` stays valid while it is held). Rebuild it with
    /// [`Transmit::from_parts`] to give it back.
    pub fn into_parts(self) -> (Vec<u8>, usize) {
        (self.buf, self.start)
    }

    /// The transmit [`Transmit::into_parts`] took apart. Give a connection back only
    /// the parts of the transmit it handed out.
    pub fn from_parts(buf: Vec<u8>, start: usize) -> Self {
        let start = start.min(buf.len());
        Self { buf, start }
    }
}

/// Bytes waiting to be written, handed out as [`Transmit`]s one at a time.
#[derive(Debug, Default)]
pub(crate) struct TransmitQueue {
    /// Bytes not yet handed to the engine.
    out: Vec<u8>,
    /// The buffer `out` swaps with when it is handed over (reused).
    spare: Vec<u8>,
    /// A handed-over buffer the engine gave back partly written: it goes out first.
    returned: Option<Transmit>,
    /// Unwritten bytes of the buffer the engine holds, if it holds one.
    lent: Option<usize>,
    /// The connection was dropped: a buffer given back is only reused.
    abandoned: bool,
    /// Bytes were handed to the engine at least once.
    wrote_any: bool,
}

impl TransmitQueue {
    /// The buffer to append bytes to (it must only be appended to).
    pub(crate) fn buffer(&mut self) -> &mut Vec<u8> {
        &mut self.out
    }

    /// Bytes queued and not yet written: in the engine's hands, given back partly
    /// written, or not yet handed over.
    pub(crate) fn unsent_len(&self) -> usize {
        self.lent.unwrap_or(0) + self.returned.as_ref().map_or(0, Transmit::len) + self.out.len()
    }

    /// Whether any bytes were handed to the engine to write, ever.
    pub(crate) fn wrote_any(&self) -> bool {
        self.wrote_any
    }

    /// Whether the engine holds a buffer of this queue.
    pub(crate) fn is_lent(&self) -> bool {
        self.lent.is_some()
    }

    /// The next bytes to write, handed over; `None` while the engine holds a buffer or
    /// nothing is to be written.
    pub(crate) fn take(&mut self) -> Option<Transmit> {
        if self.lent.is_some() {
            return None;
        }
        let transmit = match self.returned.take() {
            Some(transmit) => transmit,
            None if self.out.is_empty() => return None,
            None => Transmit {
                buf: std::mem::replace(&mut self.out, std::mem::take(&mut self.spare)),
                start: 0,
            },
        };
        self.lent = Some(transmit.len());
        self.wrote_any = true;
        Some(transmit)
    }

    /// The engine gives back `transmit` with `n` of its bytes written. A buffer written
    /// whole is reused; one written in part goes out again first.
    pub(crate) fn give_back(&mut self, mut transmit: Transmit, n: usize) {
        self.lent = None;
        transmit.start = (transmit.start + n).min(transmit.buf.len());
        if transmit.is_empty() || self.abandoned {
            let mut buf = transmit.buf;
            buf.clear();
            if buf.capacity() > self.spare.capacity() {
                self.spare = buf;
            }
        } else {
            self.returned = Some(transmit);
        }
    }

    /// Forgets everything unsent (the connection is dropped). A buffer the engine
    /// holds is simply reused when it comes back.
    pub(crate) fn abandon(&mut self) {
        self.abandoned = true;
        self.out.clear();
        self.returned = None;
    }

    /// Frees buffers that grew large, once nothing is queued: an idle connection keeps
    /// no more than a small response's worth.
    pub(crate) fn shrink_if_idle(&mut self) {
        if self.unsent_len() > 0 || self.lent.is_some() {
            return;
        }
        for buf in [&mut self.out, &mut self.spare] {
            if buf.capacity() > SHRINK_ABOVE_BYTES {
                *buf = Vec::new();
            }
        }
    }

    /// Capacities of the two buffers, sorted, for tests of buffer reuse.
    #[cfg(test)]
    pub(crate) fn capacities(&self) -> Vec<usize> {
        let mut capacities = vec![self.out.capacity(), self.spare.capacity()];
        capacities.sort_unstable();
        capacities
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_partly_written_buffer_goes_out_first_and_new_bytes_wait_behind_it() {
        let mut queue = TransmitQueue::default();
        queue.buffer().extend_from_slice(b"abcd");
        let lent = queue.take().unwrap();
        queue.buffer().extend_from_slice(b"ef");
        assert_eq!(queue.take(), None, "one buffer out at a time");
        assert_eq!(queue.unsent_len(), 6);
        queue.give_back(lent, 3);
        let rest = queue.take().unwrap();
        assert_eq!(
            rest.bytes(),
            b"d",
            "the rest of the same buffer goes out first"
        );
        queue.give_back(rest, 1);
        let next = queue.take().unwrap();
        assert_eq!(next.bytes(), b"ef");
        queue.give_back(next, 2);
        assert_eq!(queue.unsent_len(), 0);
    }

    #[test]
    fn handed_over_bytes_are_the_appended_bytes_not_a_copy() {
        let mut queue = TransmitQueue::default();
        queue.buffer().extend_from_slice(b"response");
        let appended_at = queue.buffer().as_ptr();
        assert_eq!(queue.take().unwrap().bytes().as_ptr(), appended_at);
    }
}
