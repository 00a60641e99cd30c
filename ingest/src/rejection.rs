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
    /// A REST Proxy request named a topic that does not exist or is not on the
    /// allowlist (the two are answered alike).
    #[error("topic `{topic}` not found")]
    UnknownTopic {
        /// The topic asked for.
        topic: String,
    },
    /// A REST Proxy request named a partition the topic does not have.
    #[error("partition {partition} of topic `{topic}` not found")]
    UnknownPartition {
        /// The topic.
        topic: String,
        /// The partition asked for.
        partition: i32,
    },
    /// A v3 request named another cluster than the one the gateway produces to.
    #[error("cluster `{cluster_id}` not found")]
    UnknownCluster {
        /// The cluster id asked for.
        cluster_id: String,
    },
    /// A REST Proxy body that is JSON but not a valid request (unknown field, wrong
    /// type, no records, duplicate batch ids, ...).
    #[error("{reason}")]
    Unprocessable {
        /// What is wrong, with where serde found it.
        reason: String,
    },
    /// More records in one REST Proxy request than `--max-batch-entries`.
    #[error("{count} records in one request; at most {limit} are accepted")]
    TooManyRecords {
        /// Records sent (counted up to one past the limit).
        count: usize,
        /// The limit.
        limit: usize,
    },
    /// A REST Proxy request with a Content-Type (embedded format) the gateway does not
    /// speak, e.g. Schema Registry formats.
    #[error("unsupported Content-Type `{content_type}`; supported: {supported}")]
    UnsupportedEmbeddedFormat {
        /// The type sent.
        content_type: String,
        /// The supported types.
        supported: &'static str,
    },
    /// A binary key, value or header that is not valid base64.
    #[error("invalid base64 in {field}: {reason}")]
    InvalidBase64 {
        /// Which field.
        field: &'static str,
        /// The decoder's explanation.
        reason: String,
    },
    /// The gateway is shutting down and takes no new records.
    #[error("shutting down")]
    ShuttingDown,
    /// The process-wide budget of buffered request bytes is exhausted: the request
    /// could not be read whole. The connection closes after the answer.
    #[error("the gateway is out of room for request bodies; retry later")]
    OutOfBufferSpace,
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
            Self::MalformedHttp(_)
            | Self::InvalidJson { .. }
            | Self::InvalidHeader { .. }
            | Self::InvalidBase64 { .. } => StatusCode::BAD_REQUEST,
            Self::NotFound { .. }
            | Self::UnknownTopic { .. }
            | Self::UnknownPartition { .. }
            | Self::UnknownCluster { .. } => StatusCode::NOT_FOUND,
            // Too many records is 422, not 413: the body may be well under the byte
            // limit, and the REST Proxy answers a request it cannot process with 422.
            Self::Unprocessable { .. } | Self::TooManyRecords { .. } => {
                StatusCode::UNPROCESSABLE_ENTITY
            }
            Self::UnsupportedEmbeddedFormat { .. } => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            Self::MethodNotAllowed { .. } => StatusCode::METHOD_NOT_ALLOWED,
            Self::LengthRequired => StatusCode::LENGTH_REQUIRED,
            Self::BodyTooLarge { .. } => StatusCode::PAYLOAD_TOO_LARGE,
            Self::BodyTimeout { .. } => StatusCode::REQUEST_TIMEOUT,
            Self::UnsupportedMediaType { .. } => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            Self::ShuttingDown | Self::TooManyConnections { .. } | Self::OutOfBufferSpace => {
                StatusCode::SERVICE_UNAVAILABLE
            }
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

    /// The Kafka REST Proxy's `error_code` for this rejection: its specific codes where
    /// it has one (40401 unknown topic, 40402 unknown partition, 50002 Kafka refused the
    /// record, 50003 retriable Kafka error or timeout), else the HTTP status, as the
    /// REST Proxy does for generic errors. Derived from the same match as
    /// [`Rejection::status`]'s decisions, so the two cannot disagree on the class.
    pub fn rest_error_code(&self) -> u32 {
        match self {
            Self::UnknownTopic { .. } => 40401,
            Self::UnknownPartition { .. } => 40402,
            Self::Sink(error) if error.is_retriable() => 50003,
            Self::Sink(SinkError::TimedOut { .. } | SinkError::Closed) => 50003,
            Self::Sink(_) => 50002,
            _ => u32::from(self.status().as_u16()),
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
            | Self::TooManyConnections { .. }
            | Self::OutOfBufferSpace => true,
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
    fn rest_proxy_error_codes_follow_the_rest_proxy() {
        let sink = |error| Rejection::Sink(error).rest_error_code();
        assert_eq!(
            sink(SinkError::Overloaded {
                in_flight_records: 1,
                in_flight_bytes: 1
            }),
            50003
        );
        assert_eq!(sink(SinkError::QueueFull { waited_ms: 0 }), 50003);
        assert_eq!(sink(SinkError::TimedOut { timeout_ms: 1 }), 50003);
        assert_eq!(sink(SinkError::Rejected { reason: "x".into() }), 50002);
        assert_eq!(sink(SinkError::TooLarge { bytes: 1 }), 50002);
        let unknown = Rejection::UnknownTopic { topic: "t".into() };
        assert_eq!(
            (unknown.status(), unknown.rest_error_code()),
            (StatusCode::NOT_FOUND, 40401)
        );
        let too_many = Rejection::TooManyRecords { count: 2, limit: 1 };
        assert_eq!(too_many.status(), StatusCode::UNPROCESSABLE_ENTITY);
        assert_eq!(Rejection::BodyTooLarge { limit: 1 }.rest_error_code(), 413);
        let format = Rejection::UnsupportedEmbeddedFormat {
            content_type: "application/vnd.kafka.avro.v2+json".into(),
            supported: "x",
        };
        assert_eq!(format.status(), StatusCode::UNSUPPORTED_MEDIA_TYPE);
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
