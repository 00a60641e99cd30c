//! What a connection enforces: framing limits, the three client deadlines and the
//! pipelining bound.

use std::time::Duration;

use http_parse::Limits;

/// Settings of one [`crate::ServerConnection`]. Build it with [`Config::new`] or
/// [`Config::default`] and adjust fields; more fields may be added, so it cannot be built
/// with a struct literal outside this crate.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct Config {
    /// Framing limits handed to the decoder (head, header count, body, chunk line).
    pub limits: Limits,
    /// Time a client has from the first byte of a request head until the head is
    /// complete. Not restarted by each read, so a client trickling one byte at a time
    /// is still cut when it expires (slowloris); the connection then closes without a
    /// response. `Duration::MAX` disables it, as for every timeout here.
    pub header_timeout: Duration,
    /// Time a client has from a complete head until the body is complete; past it the
    /// client is answered `408` and the connection closes.
    pub body_timeout: Duration,
    /// Time a connection is kept with no request in progress and no response pending:
    /// from accept, and from the end of a response, until the next request's first
    /// byte. Past it the connection closes silently.
    pub idle_timeout: Duration,
    /// Most requests handed out and not yet answered; past it the connection stops
    /// reading and parsing until a response is supplied (bounds what one client can keep
    /// in flight). At least 1.
    pub max_pipelined_requests: usize,
}

impl Config {
    /// A configuration with these limits and timeouts and the default pipelining bound.
    pub fn new(
        limits: Limits,
        header_timeout: Duration,
        body_timeout: Duration,
        idle_timeout: Duration,
    ) -> Self {
        Self {
            limits,
            header_timeout,
            body_timeout,
            idle_timeout,
            ..Self::default()
        }
    }
}

impl Default for Config {
    /// Default limits, a 10 s header timeout, a 60 s body timeout, a 60 s idle timeout
    /// and 32 pipelined requests.
    fn default() -> Self {
        Self {
            limits: Limits::default(),
            header_timeout: Duration::from_secs(10),
            body_timeout: Duration::from_secs(60),
            idle_timeout: Duration::from_secs(60),
            max_pipelined_requests: 32,
        }
    }
}
