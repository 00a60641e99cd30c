//! The HTTP flags: framing limits and the three client timeouts of every connection.

use std::time::Duration;

use http_conn::Timeouts;
use http_parse::Limits;

use super::millis;

/// Framing limits and client timeouts. Their defaults are the connection core's own
/// ([`http_conn::Config::default`]), so the command line cannot drift from it.
#[derive(Debug, Clone, PartialEq, Eq, clap::Args)]
#[command(next_help_heading = "HTTP")]
pub struct HttpArgs {
    /// Largest accepted request body in bytes (413 beyond).
    #[arg(long, env = "GATEWAY_MAX_BODY_BYTES", default_value_t = defaults().limits.max_body_bytes())]
    pub max_body_bytes: usize,
    /// Deepest nesting of arrays and objects in a JSON body (POST /) or a REST Proxy JSON
    /// key or value; deeper is 400 with line and column. 64 is under what common JSON
    /// parsers accept (Ruby 100, serde_json 128, Python and Jackson about 1000), so any
    /// consumer can read what the gateway takes.
    #[arg(long, env = "GATEWAY_MAX_JSON_DEPTH", default_value_t = ingest::DEFAULT_MAX_JSON_DEPTH,
          value_parser = clap::builder::RangedU64ValueParser::<usize>::new().range(1..))]
    pub max_json_depth: usize,
    /// Origin (`scheme://host[:port]`) whose browser pages may send requests, with CORS
    /// (repeatable; comma-separated in the env var; none by default). A request with any
    /// other Origin, or with `Sec-Fetch-Site: cross-site` and no allowed Origin, gets
    /// 403: browsers send form posts to any origin without asking first.
    #[arg(long = "allow-origin", env = "GATEWAY_ALLOW_ORIGIN", value_delimiter = ',',
          value_parser = ingest::parse_origin)]
    pub allow_origins: Vec<String>,
    /// Largest request line plus headers in bytes (431 beyond).
    #[arg(long, env = "GATEWAY_MAX_HEADER_BYTES", default_value_t = defaults().limits.max_head_bytes())]
    pub max_header_bytes: usize,
    /// Most request headers (431 beyond; at most 128).
    #[arg(long, env = "GATEWAY_MAX_HEADERS", default_value_t = defaults().limits.max_headers())]
    pub max_headers: usize,
    /// Time from the first byte of a request head until the head is complete, in ms;
    /// past it the connection is closed without a response (slowloris guard).
    #[arg(long, env = "GATEWAY_HEADER_TIMEOUT_MS", default_value_t = millis(defaults().timeouts.header))]
    pub header_timeout_ms: u64,
    /// Time from the complete request head until the body is complete, in ms; past it
    /// the client gets 408 Request Timeout and the connection closes.
    #[arg(long, env = "GATEWAY_BODY_TIMEOUT_MS", default_value_t = millis(defaults().timeouts.body))]
    pub body_timeout_ms: u64,
    /// Time a connection may wait for the first byte of a request, in ms: from accept,
    /// and on keep-alive from the end of a response; past it the connection is closed
    /// silently. No client timeout runs while the gateway itself is working on a request.
    #[arg(long, env = "GATEWAY_IDLE_TIMEOUT_MS", default_value_t = millis(defaults().timeouts.idle))]
    pub idle_timeout_ms: u64,
}

/// Where every HTTP flag's default comes from.
fn defaults() -> http_conn::Config {
    http_conn::Config::default()
}

impl HttpArgs {
    /// The framing limits these flags stand for.
    pub fn limits(&self) -> Limits {
        defaults()
            .limits
            .with_max_headers(self.max_headers)
            .with_max_head_bytes(self.max_header_bytes)
            .with_max_body_bytes(self.max_body_bytes)
    }

    /// The header, body and idle timeouts these flags stand for.
    pub fn timeouts(&self) -> Timeouts {
        Timeouts::new(
            Duration::from_millis(self.header_timeout_ms),
            Duration::from_millis(self.body_timeout_ms),
            Duration::from_millis(self.idle_timeout_ms),
        )
    }

    /// The per-connection settings of a raw-TCP server ([`http_conn::ServerConnection`]):
    /// these limits and timeouts, and the core's default for everything without a flag.
    pub fn connection_config(&self) -> http_conn::Config {
        http_conn::Config::new(self.limits(), self.timeouts())
    }
}
