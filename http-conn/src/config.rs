//! What a connection enforces: framing limits, the three client deadlines, the
//! pipelining and output bounds, and how long a closing connection lingers.

use std::time::Duration;

use http_parse::Limits;

/// The three client deadlines, with their one set of defaults: every server, and the
/// command line's defaults, take them from [`Timeouts::default`].
///
/// Only one of them applies at a time, and none while the server itself is working on
/// a request (see [`crate::ServerConnection`]). `Duration::MAX` disables one.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct Timeouts {
    /// Time a client has from the first byte of a request head until the head is
    /// complete. Not restarted by each read, so a client trickling one byte at a time
    /// is still cut when it expires (slowloris); the connection then closes without a
    /// response.
    pub header: Duration,
    /// Time a client has from a complete head until the body is complete; past it the
    /// client is answered `408` and the connection closes.
    pub body: Duration,
    /// Time a connection is kept with no request in progress and no response pending:
    /// from accept, and from the end of a response, until the next request's first
    /// byte. Past it the connection closes silently.
    pub idle: Duration,
}

impl Timeouts {
    /// These three timeouts.
    pub const fn new(header: Duration, body: Duration, idle: Duration) -> Self {
        Self { header, body, idle }
    }
}

impl Default for Timeouts {
    /// A 10 s header timeout, a 30 s body timeout and a 60 s idle timeout.
    fn default() -> Self {
        Self::new(
            Duration::from_secs(10),
            Duration::from_secs(30),
            Duration::from_secs(60),
        )
    }
}

/// Settings of one [`crate::ServerConnection`]. Build it with [`Config::new`] or
/// [`Config::default`] and adjust fields; more fields may be added, so it cannot be built
/// with a struct literal outside this crate.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct Config {
    /// Framing limits handed to the decoder (head, header count, body, chunk line).
    pub limits: Limits,
    /// The client deadlines.
    pub timeouts: Timeouts,
    /// Most requests handed out and not yet answered; past it the connection stops
    /// reading and parsing until a response is supplied (bounds what one client can keep
    /// in flight). At least 1.
    pub max_pipelined_requests: usize,
    /// Most response bytes the connection holds for a client (unsent, or answered early
    /// and waiting behind an earlier response) before it stops reading and handing out
    /// requests: a client that pipelines without reading its responses costs at most
    /// this, plus the responses of the requests already handed out.
    pub max_pending_output_bytes: usize,
    /// How long, after its last response, a closing connection keeps reading and
    /// discarding what the client still sends before it closes (nginx's
    /// `lingering_close`): closing with unread bytes makes the kernel send a reset,
    /// which can destroy the response before the client read it. Ends early when the
    /// client closes its side. `Duration::ZERO` closes at once.
    pub linger: Duration,
}

impl Config {
    /// A configuration with these limits and timeouts and the default pipelining bound.
    pub fn new(limits: Limits, timeouts: Timeouts) -> Self {
        Self {
            limits,
            timeouts,
            ..Self::default()
        }
    }
}

impl Default for Config {
    /// Default limits, [`Timeouts::default`], 32 pipelined requests, 64 KiB of pending
    /// output and a 2 s linger.
    fn default() -> Self {
        Self {
            limits: Limits::default(),
            timeouts: Timeouts::default(),
            max_pipelined_requests: 32,
            max_pending_output_bytes: 64 * 1024,
            linger: Duration::from_secs(2),
        }
    }
}
