//! [`ClientClock`]: which client deadline runs, and since when. The one definition of
//! the header, body and idle timeouts, shared by [`crate::ServerConnection`] and by any
//! server that frames HTTP another way (runtime-hyper drives it from its reads and its
//! service).

use std::time::Instant;

use crate::Timeouts;

/// Which client deadline is running.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum ClientTimer {
    /// From the first byte of a request head until the head is complete: on expiry the
    /// connection closes without a response.
    Header,
    /// From the complete head until the body is complete: on expiry the client is
    /// answered `408` and the connection closes.
    Body,
    /// From accept, and from the end of the last awaited response, until the next
    /// request's first byte: on expiry the connection closes silently.
    Idle,
}

/// The client deadlines of one connection as a small state machine: the I/O layer (or
/// the connection core) reports what happened and when, and [`ClientClock::deadline`]
/// says which timeout runs and when it expires. It never reads a clock.
///
/// The rules, the same on every server:
/// - only one client deadline runs at a time;
/// - none runs while the server owes a response ([`request_received`] until
///   [`responses_supplied`]): the server is the slow one then;
/// - none runs from before the instant the client last got the floor (accept, or the
///   last awaited response): a pipelined head that began arriving while the server was
///   busy is timed from the response, not from its first byte.
///
/// [`request_received`]: ClientClock::request_received
/// [`responses_supplied`]: ClientClock::responses_supplied
///
/// ```
/// use std::time::{Duration, Instant};
/// use http_conn::{ClientClock, ClientTimer, Timeouts};
///
/// let accepted = Instant::now();
/// let timeouts = Timeouts::default();
/// let mut clock = ClientClock::new(timeouts, accepted);
/// assert_eq!(clock.deadline(), Some((ClientTimer::Idle, accepted + timeouts.idle)));
///
/// let first_byte = accepted + Duration::from_secs(1);
/// clock.request_bytes(first_byte);
/// assert_eq!(clock.deadline(), Some((ClientTimer::Header, first_byte + timeouts.header)));
///
/// clock.request_received(); // the whole request is in; the server works on it
/// assert_eq!(clock.deadline(), None);
/// let answered = first_byte + Duration::from_millis(5);
/// clock.responses_supplied(answered);
/// assert_eq!(clock.deadline(), Some((ClientTimer::Idle, answered + timeouts.idle)));
/// ```
#[derive(Debug, Clone, Copy)]
pub struct ClientClock {
    timeouts: Timeouts,
    /// When the client last got the floor: accept, or the last awaited response.
    resumed_at: Instant,
    /// Whether the server owes the client a response.
    awaiting: bool,
    /// When the first byte of the request in progress arrived.
    head_started: Option<Instant>,
    /// When the head of the request in progress was complete (its body is not).
    head_completed: Option<Instant>,
}

impl ClientClock {
    /// The clock of a connection accepted at `now`: the idle deadline runs.
    pub fn new(timeouts: Timeouts, now: Instant) -> Self {
        Self {
            timeouts,
            resumed_at: now,
            awaiting: false,
            head_started: None,
            head_completed: None,
        }
    }

    /// The timeouts this clock applies.
    pub fn timeouts(&self) -> Timeouts {
        self.timeouts
    }

    /// Bytes of a request arrived at `at`. The first such report of a request starts its
    /// header deadline; later ones change nothing (a trickling client is still cut).
    pub fn request_bytes(&mut self, at: Instant) {
        if self.head_started.is_none() {
            self.head_started = Some(at);
        }
    }

    /// The head of the request in progress was complete at `at` and its body is not:
    /// the body deadline runs from `at`. Later reports change nothing.
    pub fn head_complete(&mut self, at: Instant) {
        self.head_started.get_or_insert(at);
        self.head_completed.get_or_insert(at);
    }

    /// The request in progress was received whole (or is answered without it, as a
    /// rejection or a timeout is): the server owes a response, and no client deadline
    /// runs until [`responses_supplied`](Self::responses_supplied).
    pub fn request_received(&mut self) {
        self.awaiting = true;
        self.request_abandoned();
    }

    /// The request in progress will never complete (the client half-closed, the
    /// connection stops reading): it no longer runs a deadline.
    pub fn request_abandoned(&mut self) {
        self.head_started = None;
        self.head_completed = None;
    }

    /// The last response the server owed was supplied at `at`: the client has the
    /// floor again, and its clock restarts from `at`.
    pub fn responses_supplied(&mut self, at: Instant) {
        self.awaiting = false;
        self.resumed_at = at;
    }

    /// Whether the server owes the client a response.
    pub fn is_awaiting_response(&self) -> bool {
        self.awaiting
    }

    /// Whether a request is in progress (its first byte arrived, it is not complete).
    pub fn is_request_in_progress(&self) -> bool {
        self.head_started.is_some()
    }

    /// The deadline that runs now and when it expires; `None` while a response is owed
    /// (or when the timeout is so long that the instant overflows).
    pub fn deadline(&self) -> Option<(ClientTimer, Instant)> {
        if self.awaiting {
            return None;
        }
        let (timer, since, timeout) = match (self.head_completed, self.head_started) {
            (Some(at), _) => (ClientTimer::Body, at, self.timeouts.body),
            (None, Some(at)) => (ClientTimer::Header, at, self.timeouts.header),
            (None, None) => (ClientTimer::Idle, self.resumed_at, self.timeouts.idle),
        };
        let deadline = since.max(self.resumed_at).checked_add(timeout)?;
        Some((timer, deadline))
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    fn secs(n: u64) -> Duration {
        Duration::from_secs(n)
    }

    #[test]
    fn a_head_begun_while_the_server_was_busy_is_timed_from_the_response() {
        let start = Instant::now();
        let timeouts = Timeouts::default();
        let mut clock = ClientClock::new(timeouts, start);
        clock.request_bytes(start);
        clock.request_received();
        // The next request's first bytes arrive while the first awaits its response.
        clock.request_bytes(start + secs(1));
        assert_eq!(clock.deadline(), None, "no client deadline while busy");
        clock.responses_supplied(start + secs(20));
        assert_eq!(
            clock.deadline(),
            Some((ClientTimer::Header, start + secs(20) + timeouts.header))
        );
    }

    #[test]
    fn the_body_deadline_runs_from_the_complete_head_whatever_arrives_later() {
        let start = Instant::now();
        let timeouts = Timeouts::default();
        let mut clock = ClientClock::new(timeouts, start);
        clock.request_bytes(start + secs(1));
        clock.head_complete(start + secs(2));
        clock.head_complete(start + secs(3));
        clock.request_bytes(start + secs(4));
        assert_eq!(
            clock.deadline(),
            Some((ClientTimer::Body, start + secs(2) + timeouts.body))
        );
        clock.request_abandoned();
        assert_eq!(
            clock.deadline(),
            Some((ClientTimer::Idle, start + timeouts.idle))
        );
    }

    #[test]
    fn the_idle_deadline_restarts_when_the_responses_are_supplied() {
        let start = Instant::now();
        let timeouts = Timeouts::default();
        let mut clock = ClientClock::new(timeouts, start);
        clock.request_received();
        assert!(clock.is_awaiting_response());
        assert_eq!(clock.deadline(), None);
        clock.responses_supplied(start + secs(2));
        assert_eq!(
            clock.deadline(),
            Some((ClientTimer::Idle, start + secs(2) + timeouts.idle))
        );
    }
}
