//! Responses in request order: one slot per request handed out, answered in any order,
//! written to one contiguous transmit buffer strictly in order.
//!
//! A response for the oldest unanswered request (the usual case) is encoded straight into
//! the transmit buffer. One that completes early is encoded into a buffer taken from a
//! pool and copied over when its turn comes; the buffer goes back to the pool. Once the
//! slot queue, the pool and the transmit buffer have grown to the connection's high-water
//! mark, answering allocates nothing.

use std::collections::VecDeque;
use std::fmt;

use http_parse::Version;

use crate::RespondError;

/// The sequence number of a request on its connection: 0 for the first, then 1, 2, ...
/// Every [`crate::Event`] carries one, and [`crate::ServerConnection::respond`] takes it
/// back to say which request a response answers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct RequestId(pub(crate) u64);

impl RequestId {
    /// The position of the request on its connection, counting from 0.
    pub fn sequence(self) -> u64 {
        self.0
    }
}

impl fmt::Display for RequestId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "#{}", self.0)
    }
}

/// What a response for one request must say about the connection, decided by the
/// connection when the response is supplied.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ResponseContext {
    keep_alive: bool,
    version: Version,
}

impl ResponseContext {
    /// Whether the connection stays open after this response. When false the response
    /// must carry `Connection: close`; when true and [`Self::version`] is HTTP/1.0 it must
    /// carry `Connection: keep-alive`.
    pub fn keep_alive(&self) -> bool {
        self.keep_alive
    }

    /// The request's HTTP version (HTTP/1.1 for a rejected or timed-out request).
    pub fn version(&self) -> Version {
        self.version
    }
}

#[derive(Debug)]
struct Slot {
    /// What the request allows (false for rejections and timeouts).
    keep_alive: bool,
    version: Version,
    /// The encoded response and whether it closes the connection, once supplied.
    ready: Option<(Vec<u8>, bool)>,
}

#[derive(Debug, Default)]
pub(crate) struct Responses {
    /// Bytes to transmit; `sent..` is unsent.
    out: Vec<u8>,
    sent: usize,
    /// One slot per unanswered-or-unwritten request; `slots[0]` is request `head`. The
    /// front slot is always unanswered: an answered front is moved to `out` at once.
    slots: VecDeque<Slot>,
    head: u64,
    /// Ids handed out so far.
    next: u64,
    pool: Vec<Vec<u8>>,
    /// Set once no further response will be written (a closing response is in `out`, or
    /// the connection was dropped): responses for ids from here on are ignored.
    dropped_from: Option<u64>,
}

impl Responses {
    /// Reserves the next slot for a request that allows `keep_alive`.
    pub(crate) fn push(&mut self, keep_alive: bool, version: Version) -> RequestId {
        let id = self.next;
        self.next += 1;
        self.slots.push_back(Slot {
            keep_alive,
            version,
            ready: None,
        });
        RequestId(id)
    }

    /// Requests handed out and not yet written to the transmit buffer.
    pub(crate) fn queued(&self) -> usize {
        self.slots.len()
    }

    /// Whether some request waits for its response from the caller.
    pub(crate) fn is_waiting(&self) -> bool {
        // The front slot is unanswered whenever there is one.
        !self.slots.is_empty()
    }

    /// The id of the last request handed out, if any.
    pub(crate) fn last_id(&self) -> Option<u64> {
        self.next.checked_sub(1)
    }

    /// Whether a response that closes the connection is in the transmit buffer.
    pub(crate) fn is_closing(&self) -> bool {
        self.dropped_from.is_some()
    }

    /// Takes the response for `id`. `final_id` is the last request the connection will
    /// ever answer, when known; its response, and any that `close`s, is encoded with
    /// `keep_alive == false`.
    pub(crate) fn answer(
        &mut self,
        id: RequestId,
        final_id: Option<u64>,
        close: bool,
        encode: impl FnOnce(ResponseContext, &mut Vec<u8>),
    ) -> Result<(), RespondError> {
        if id.0 >= self.next {
            return Err(RespondError::UnknownRequest { id });
        }
        if let Some(dropped_from) = self.dropped_from {
            return if id.0 >= dropped_from {
                Ok(())
            } else {
                Err(RespondError::AlreadyAnswered { id })
            };
        }
        let Some(index) = id.0.checked_sub(self.head).map(|i| i as usize) else {
            return Err(RespondError::AlreadyAnswered { id });
        };
        let slot = &self.slots[index];
        if slot.ready.is_some() {
            return Err(RespondError::AlreadyAnswered { id });
        }
        let keep_alive = slot.keep_alive && !close && final_id != Some(id.0);
        let context = ResponseContext {
            keep_alive,
            version: slot.version,
        };
        if index == 0 {
            self.compact();
            let before = self.out.len();
            encode(context, &mut self.out);
            assert!(
                self.out.len() >= before,
                "a response encoder may only append"
            );
            self.slots.pop_front();
            self.head += 1;
            if keep_alive {
                self.flush_ready();
            } else {
                self.close_after(id.0);
            }
        } else {
            let mut bytes = self.pool.pop().unwrap_or_default();
            encode(context, &mut bytes);
            self.slots[index].ready = Some((bytes, !keep_alive));
        }
        Ok(())
    }

    /// Moves answered slots at the front into the transmit buffer, in order.
    fn flush_ready(&mut self) {
        while self.slots.front().is_some_and(|slot| slot.ready.is_some()) {
            let Some(Slot {
                ready: Some((mut bytes, closes)),
                ..
            }) = self.slots.pop_front()
            else {
                unreachable!("the front slot is answered")
            };
            let id = self.head;
            self.head += 1;
            self.out.extend_from_slice(&bytes);
            bytes.clear();
            self.pool.push(bytes);
            if closes {
                self.close_after(id);
                return;
            }
        }
    }

    /// The response for `id` closes the connection: later requests are never answered.
    fn close_after(&mut self, id: u64) {
        self.drop_from(id + 1);
    }

    fn drop_from(&mut self, id: u64) {
        self.dropped_from = Some(id);
        for slot in self.slots.drain(..) {
            if let Some((mut bytes, _)) = slot.ready {
                bytes.clear();
                self.pool.push(bytes);
            }
        }
    }

    /// Appends an interim response (`100 Continue`) for the request after the last one
    /// handed out, if every earlier response is already in the transmit buffer.
    pub(crate) fn interim(&mut self, bytes: &[u8]) -> bool {
        if !self.slots.is_empty() || self.dropped_from.is_some() {
            return false;
        }
        self.compact();
        self.out.extend_from_slice(bytes);
        true
    }

    /// The bytes to write next.
    pub(crate) fn unsent(&self) -> &[u8] {
        &self.out[self.sent..]
    }

    /// `n` more bytes were written.
    pub(crate) fn transmitted(&mut self, n: usize) {
        self.sent = (self.sent + n).min(self.out.len());
        if self.sent == self.out.len() {
            self.out.clear();
            self.sent = 0;
        }
    }

    /// Forgets unsent output and unanswered requests (the connection is dropped).
    pub(crate) fn abandon(&mut self) {
        self.out.clear();
        self.sent = 0;
        self.drop_from(self.head);
    }

    /// Capacities of the transmit buffer, the slot queue and the pooled buffers, for
    /// tests of buffer reuse.
    #[cfg(test)]
    pub(crate) fn capacities(&self) -> (usize, usize, Vec<usize>) {
        let mut pooled: Vec<usize> = self.pool.iter().map(Vec::capacity).collect();
        pooled.sort_unstable();
        (self.out.capacity(), self.slots.capacity(), pooled)
    }

    /// Drops the written prefix before appending, so the buffer does not creep.
    fn compact(&mut self) {
        if self.sent > 0 {
            self.out.drain(..self.sent);
            self.sent = 0;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn encode(body: &'static [u8]) -> impl FnOnce(ResponseContext, &mut Vec<u8>) {
        move |_, out| out.extend_from_slice(body)
    }

    #[test]
    fn early_responses_wait_for_earlier_ones_and_go_out_in_order() {
        let mut responses = Responses::default();
        let ids: Vec<_> = (0..3)
            .map(|_| responses.push(true, Version::Http11))
            .collect();
        responses.answer(ids[2], None, false, encode(b"c")).unwrap();
        responses.answer(ids[1], None, false, encode(b"b")).unwrap();
        assert_eq!(responses.unsent(), b"");
        assert!(responses.is_waiting());
        responses.answer(ids[0], None, false, encode(b"a")).unwrap();
        assert_eq!(responses.unsent(), b"abc");
        assert!(!responses.is_waiting());
    }

    #[test]
    fn only_the_final_response_is_told_to_close() {
        let mut responses = Responses::default();
        let first = responses.push(true, Version::Http11);
        let last = responses.push(true, Version::Http11);
        let mut seen = Vec::new();
        for id in [last, first] {
            responses
                .answer(id, Some(last.0), false, |context, _| {
                    seen.push((id, context.keep_alive()))
                })
                .unwrap();
        }
        assert_eq!(seen, [(last, false), (first, true)]);
        assert!(responses.is_closing());
    }

    #[test]
    fn interim_responses_wait_for_every_final_response_before_them() {
        let mut responses = Responses::default();
        let id = responses.push(true, Version::Http11);
        assert!(!responses.interim(b"100"));
        responses.answer(id, None, false, encode(b"200")).unwrap();
        assert!(responses.interim(b"100"));
        assert_eq!(responses.unsent(), b"200100");
    }

    #[test]
    fn a_partly_written_buffer_keeps_its_unsent_tail_in_order() {
        let mut responses = Responses::default();
        let id = responses.push(true, Version::Http11);
        responses.answer(id, None, false, encode(b"abcd")).unwrap();
        responses.transmitted(3);
        let id = responses.push(true, Version::Http11);
        responses.answer(id, None, false, encode(b"ef")).unwrap();
        assert_eq!(responses.unsent(), b"def");
    }
}
