//! Why a request was not accepted, and the one place that decides what the client hears.

use http::StatusCode;
use http_parse::FrameError;
use kafka_sink::SinkError;

/// Everything that can go wrong with a request. [`Rejection::status`] is the only
/// mapping from what went wrong to an HTTP status, for both servers.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum Rejection {
    /// The bytes are not acceptable HTTP/1.1 (includes 413/431/501/505 from framing).
    #[error("{0}")]
    Frame(#[from] FrameError),
    /// Malformed HTTP that the hyper stack reported in its own words.
    #[error("malformed request: {0}")]
    MalformedHttp(String),
    /// No such path.
    #[error("no such path: {path}")]
    NotFound {
        /// The path asked for.
        path: String,
    },
    /// The path exists, the method does not.
    #[error("method {method} not allowed; allowed: {allow}")]
    MethodNotAllowed {
        /// The method sent.
        method: String,
        /// The `Allow` header value.
        allow: &'static str,
    },
    /// A POST with neither `Content-Length` nor `Transfer-Encoding`.
    #[error("a Content-Length or chunked body is required")]
    LengthRequired,
    /// The body exceeds the configured limit.
    #[error("request body exceeds {limit} bytes")]
    BodyTooLarge {
        /// The limit.
        limit: usize,
    },
    /// The body was not complete within the body timeout after the head.
    #[error("request body not received within {timeout_ms} ms")]
    BodyTimeout {
        /// The configured body timeout.
        timeout_ms: u64,
    },
    /// A `Content-Type` that is not JSON.
    #[error("unsupported Content-Type `{content_type}`; send application/json")]
    UnsupportedMediaType {
        /// The type sent.
        content_type: String,
    },
    /// The body is not valid JSON.
    #[error("invalid JSON at line {line} column {column}: {reason}")]
    InvalidJson {
        /// 1-based line.
        line: usize,
        /// 1-based column.
        column: usize,
        /// What the parser expected.
        reason: String,
    },
    /// A header the gateway reads has a value it cannot use.
    #[error("invalid header {name}: {reason}")]
    InvalidHeader {
        /// Header name.
        name: String,
        /// Why.
        reason: &'static str,
    },
    /// The connection limit is reached; the new connection is answered and closed.
    #[error("too many connections (limit {limit})")]
    TooManyConnections {
        /// The configured limit.
        limit: usize,
    },
    /// The gateway is shutting down and takes no new records.
    #[error("shutting down")]
    ShuttingDown,
    /// The sink refused or failed the record.
    #[error("{0}")]
    Sink(#[from] SinkError),
}

impl Rejection {
    /// The HTTP status for this rejection.
    pub fn status(&self) -> StatusCode {
        match self {
            // http-parse answers plain codes (400, 413, 431, 500, 501, 505), all valid,
            // so the fallback is never taken.
            Self::Frame(error) => {
                StatusCode::from_u16(error.status()).unwrap_or(StatusCode::BAD_REQUEST)
            }
            Self::MalformedHttp(_) | Self::InvalidJson { .. } | Self::InvalidHeader { .. } => {
                StatusCode::BAD_REQUEST
            }
            Self::NotFound { .. } => StatusCode::NOT_FOUND,
            Self::MethodNotAllowed { .. } => StatusCode::METHOD_NOT_ALLOWED,
            Self::LengthRequired => StatusCode::LENGTH_REQUIRED,
            Self::BodyTooLarge { .. } => StatusCode::PAYLOAD_TOO_LARGE,
            Self::BodyTimeout { .. } => StatusCode::REQUEST_TIMEOUT,
            Self::UnsupportedMediaType { .. } => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            Self::ShuttingDown | Self::TooManyConnections { .. } => StatusCode::SERVICE_UNAVAILABLE,
            Self::Sink(error) => match error {
                SinkError::Overloaded { .. } | SinkError::QueueFull { .. } | SinkError::Closed => {
                    StatusCode::SERVICE_UNAVAILABLE
                }
                SinkError::TimedOut { .. } => StatusCode::GATEWAY_TIMEOUT,
                SinkError::TooLarge { .. }
                | SinkError::UnknownTopic { .. }
                | SinkError::BrokerUnreachable { .. }
                | SinkError::Rejected { .. }
                | SinkError::Config { .. } => StatusCode::BAD_GATEWAY,
                _ => StatusCode::BAD_GATEWAY,
            },
        }
    }

    /// Whether the connection must close after the response: protocol errors close
    /// (the byte stream cannot be trusted), application errors do not.
    pub fn closes_connection(&self) -> bool {
        match self {
            Self::Frame(error) => error.closes_connection(),
            Self::MalformedHttp(_)
            | Self::BodyTooLarge { .. }
            | Self::BodyTimeout { .. }
            | Self::TooManyConnections { .. } => true,
            _ => false,
        }
    }

    /// `Retry-After` seconds, for rejections that a later retry can fix.
    pub fn retry_after_secs(&self) -> Option<u32> {
        (self.status() == StatusCode::SERVICE_UNAVAILABLE).then_some(1)
    }

    /// The `Allow` header, for 405.
    pub fn allow(&self) -> Option<&'static str> {
        match self {
            Self::MethodNotAllowed { allow, .. } => Some(allow),
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sink_errors_map_to_gateway_statuses() {
        let overloaded = Rejection::Sink(SinkError::Overloaded {
            in_flight_records: 1,
            in_flight_bytes: 1,
        });
        assert_eq!(overloaded.status(), StatusCode::SERVICE_UNAVAILABLE);
        assert_eq!(overloaded.retry_after_secs(), Some(1));
        assert!(!overloaded.closes_connection());
        // The gateway enqueues without waiting: a full local queue is overload too.
        let queue_full = Rejection::Sink(SinkError::QueueFull { waited_ms: 0 });
        assert_eq!(queue_full.status(), StatusCode::SERVICE_UNAVAILABLE);
        assert_eq!(queue_full.retry_after_secs(), Some(1));
        assert_eq!(
            Rejection::Sink(SinkError::TimedOut { timeout_ms: 1 }).status(),
            StatusCode::GATEWAY_TIMEOUT
        );
        assert_eq!(
            Rejection::Sink(SinkError::Rejected { reason: "x".into() }).status(),
            StatusCode::BAD_GATEWAY
        );
        assert_eq!(
            Rejection::Sink(SinkError::TimedOut { timeout_ms: 1 }).retry_after_secs(),
            None
        );
    }

    #[test]
    fn stalled_body_is_408_and_closes() {
        let stalled = Rejection::BodyTimeout { timeout_ms: 300 };
        assert_eq!(stalled.status(), StatusCode::REQUEST_TIMEOUT);
        // The rest of the body may still arrive: the byte stream is out of step.
        assert!(stalled.closes_connection());
        assert_eq!(stalled.retry_after_secs(), None);
    }

    #[test]
    fn protocol_errors_close_and_application_errors_do_not() {
        assert!(Rejection::Frame(FrameError::ConflictingFraming).closes_connection());
        assert!(!Rejection::LengthRequired.closes_connection());
        assert!(!Rejection::NotFound { path: "/x".into() }.closes_connection());
    }
}
