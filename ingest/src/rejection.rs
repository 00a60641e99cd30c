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
    /// A record larger than Kafka takes: its value, key and headers, as librdkafka
    /// counts them, exceed `message.max.bytes`.
    #[error(
        "record of {bytes} bytes (value, key and headers) exceeds the {limit} bytes Kafka accepts"
    )]
    RecordTooLarge {
        /// The record's size as librdkafka counts it.
        bytes: usize,
        /// librdkafka's `message.max.bytes`.
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
    /// JSON nested deeper than `--max-json-depth`.
    #[error("JSON nested deeper than {max_depth} levels at line {line} column {column}")]
    TooDeep {
        /// 1-based line of the first bracket too deep.
        line: usize,
        /// 1-based column of it.
        column: usize,
        /// The limit.
        max_depth: usize,
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
    /// The limit is for the logs, not the client.
    #[error("too many connections; retry later")]
    TooManyConnections {
        /// The configured limit.
        limit: usize,
    },
    /// The client's address holds as many connections as one client may
    /// (`--max-connections-per-client`); the new one is answered and closed. The
    /// limit is for the logs, not the client.
    #[error("too many connections from your address; retry later")]
    TooManyClientConnections {
        /// The configured limit per client.
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
    /// A browser request from a page whose origin may not send requests (see
    /// [`Policy::allow_origins`](crate::Policy::allow_origins)): an `Origin` not
    /// allowed (`Some`), or no allowed origin and `Sec-Fetch-Site: cross-site` (`None`).
    #[error("{}", match origin {
        Some(origin) => format!("requests from origin `{origin}` are not allowed (see --allow-origin)"),
        None => "cross-site requests are not allowed".to_owned(),
    })]
    CrossSite {
        /// The `Origin` sent, if any.
        origin: Option<String>,
    },
    /// The gateway is shutting down and takes no new records.
    #[error("shutting down")]
    ShuttingDown,
    /// The process-wide budget of buffered request bytes is exhausted: the request
    /// could not be read whole. The connection closes after the answer.
    #[error("the gateway is out of room for request bodies; retry later")]
    OutOfBufferSpace,
    /// The sink refused or failed the record. The client hears what it can act on,
    /// never the brokers, connection errors or in-flight counts the error carries:
    /// those are logged at debug where the rejection is made.
    #[error("{}", SinkMessage(.0))]
    Sink(#[from] SinkError),
}

/// What a client hears of a [`SinkError`]: what went wrong and what it can do, without
/// the internals the error carries for operators (bootstrap brokers, librdkafka's
/// connection errors, in-flight counts, the producer's configuration).
struct SinkMessage<'a>(&'a SinkError);

impl std::fmt::Display for SinkMessage<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.0 {
            SinkError::Overloaded { .. } => {
                f.write_str("overloaded: too many records in flight; retry later")
            }
            SinkError::QueueFull { .. } => {
                f.write_str("overloaded: the producer queue is full; retry later")
            }
            SinkError::TimedOut { timeout_ms } => {
                write!(f, "not acknowledged by Kafka within {timeout_ms} ms")
            }
            SinkError::TooLarge { bytes } => {
                write!(f, "record of {bytes} bytes is larger than Kafka accepts")
            }
            SinkError::UnknownTopic { topic, .. } => write!(f, "topic `{topic}` does not exist"),
            SinkError::BrokerUnreachable { .. } => f.write_str("Kafka is unreachable"),
            // librdkafka's produce error: its code and description, no addresses.
            SinkError::Rejected { reason } => write!(f, "Kafka rejected the record: {reason}"),
            SinkError::Config { .. } => f.write_str("the producer is misconfigured"),
            SinkError::Closed => f.write_str("the producer is closed"),
            _ => f.write_str("Kafka did not take the record"),
        }
    }
}

impl Rejection {
    /// `error` as a rejection, logged in full here, where it is made (at debug: one
    /// line per refused record; the client's message keeps only what it can act on).
    pub(crate) fn sink(error: SinkError) -> Self {
        tracing::debug!(%error, "record not accepted by the sink");
        Self::Sink(error)
    }

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
            | Self::TooDeep { .. }
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
            Self::CrossSite { .. } => StatusCode::FORBIDDEN,
            Self::LengthRequired => StatusCode::LENGTH_REQUIRED,
            Self::BodyTooLarge { .. } | Self::RecordTooLarge { .. } => {
                StatusCode::PAYLOAD_TOO_LARGE
            }
            Self::BodyTimeout { .. } => StatusCode::REQUEST_TIMEOUT,
            Self::UnsupportedMediaType { .. } => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            Self::ShuttingDown
            | Self::TooManyConnections { .. }
            | Self::TooManyClientConnections { .. }
            | Self::OutOfBufferSpace => StatusCode::SERVICE_UNAVAILABLE,
            Self::Sink(error) => match error {
                SinkError::Overloaded { .. } | SinkError::QueueFull { .. } | SinkError::Closed => {
                    StatusCode::SERVICE_UNAVAILABLE
                }
                SinkError::TimedOut { .. } => StatusCode::GATEWAY_TIMEOUT,
                // Checked before producing (RecordTooLarge); should a broker's smaller
                // limit still refuse one, it is the same answer: send less.
                SinkError::TooLarge { .. } => StatusCode::PAYLOAD_TOO_LARGE,
                SinkError::UnknownTopic { .. }
                | SinkError::BrokerUnreachable { .. }
                | SinkError::Rejected { .. }
                | SinkError::Config { .. } => StatusCode::BAD_GATEWAY,
                _ => StatusCode::BAD_GATEWAY,
            },
        }
    }

    /// The Kafka REST Proxy's `error_code` for this rejection, wherever the REST Proxy
    /// API reports one: a refused request's body (v2 and v3), a v2 record's offset
    /// entry, a v3 record's report. The proxy's own codes where it has one (40401
    /// unknown topic, 40402 unknown partition, 50002 Kafka refused the record, 50003
    /// retriable Kafka error or timeout), else the HTTP status, as the REST Proxy does
    /// for generic errors. The one mapping: no answer derives a code of its own.
    pub fn rest_error_code(&self) -> u32 {
        match self {
            Self::UnknownTopic { .. } => 40401,
            Self::UnknownPartition { .. } => 40402,
            Self::Sink(error) if error.is_retriable() => 50003,
            Self::Sink(SinkError::TimedOut { .. } | SinkError::Closed) => 50003,
            Self::Sink(SinkError::TooLarge { .. }) => 413,
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
            | Self::TooManyClientConnections { .. }
            | Self::OutOfBufferSpace => true,
            _ => false,
        }
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

    /// Every variant once (and every sink error), with what the client hears: the
    /// status, the REST Proxy's `error_code`, whether the connection closes. A new
    /// variant or a changed decision shows up here.
    fn table() -> Vec<(Rejection, u16, u32, bool)> {
        let sink = Rejection::Sink;
        vec![
            (
                Rejection::Frame(FrameError::ConflictingFraming),
                400,
                400,
                true,
            ),
            (Rejection::MalformedHttp("x".into()), 400, 400, true),
            (Rejection::NotFound { path: "/x".into() }, 404, 404, false),
            (
                Rejection::MethodNotAllowed {
                    method: "GET".into(),
                    allow: "POST",
                },
                405,
                405,
                false,
            ),
            (Rejection::LengthRequired, 411, 411, false),
            (Rejection::BodyTooLarge { limit: 1 }, 413, 413, true),
            (Rejection::BodyTimeout { timeout_ms: 1 }, 408, 408, true),
            (
                Rejection::UnsupportedMediaType {
                    content_type: "text/plain".into(),
                },
                415,
                415,
                false,
            ),
            (
                Rejection::InvalidJson {
                    line: 1,
                    column: 1,
                    reason: "x".into(),
                },
                400,
                400,
                false,
            ),
            (
                Rejection::TooDeep {
                    line: 1,
                    column: 2,
                    max_depth: 1,
                },
                400,
                400,
                false,
            ),
            (
                Rejection::InvalidHeader {
                    name: "x".into(),
                    reason: "y",
                },
                400,
                400,
                false,
            ),
            (Rejection::TooManyConnections { limit: 1 }, 503, 503, true),
            (
                Rejection::TooManyClientConnections { limit: 1 },
                503,
                503,
                true,
            ),
            (Rejection::OutOfBufferSpace, 503, 503, true),
            (
                Rejection::UnknownTopic { topic: "t".into() },
                404,
                40401,
                false,
            ),
            (
                Rejection::UnknownPartition {
                    topic: "t".into(),
                    partition: 9,
                },
                404,
                40402,
                false,
            ),
            (
                Rejection::UnknownCluster {
                    cluster_id: "c".into(),
                },
                404,
                404,
                false,
            ),
            (
                Rejection::Unprocessable { reason: "x".into() },
                422,
                422,
                false,
            ),
            (
                Rejection::TooManyRecords { count: 2, limit: 1 },
                422,
                422,
                false,
            ),
            (
                Rejection::UnsupportedEmbeddedFormat {
                    content_type: "application/vnd.kafka.avro.v2+json".into(),
                    supported: "x",
                },
                415,
                415,
                false,
            ),
            (
                Rejection::InvalidBase64 {
                    field: "value",
                    reason: "x".into(),
                },
                400,
                400,
                false,
            ),
            (
                Rejection::CrossSite {
                    origin: Some("https://evil.example".into()),
                },
                403,
                403,
                false,
            ),
            (Rejection::CrossSite { origin: None }, 403, 403, false),
            (Rejection::ShuttingDown, 503, 503, false),
            (
                sink(SinkError::Overloaded {
                    in_flight_records: 1,
                    in_flight_bytes: 1,
                }),
                503,
                50003,
                false,
            ),
            // The gateway enqueues without waiting: a full local queue is overload too.
            (
                sink(SinkError::QueueFull { waited_ms: 0 }),
                503,
                50003,
                false,
            ),
            (sink(SinkError::Closed), 503, 50003, false),
            (
                sink(SinkError::TimedOut { timeout_ms: 1 }),
                504,
                50003,
                false,
            ),
            (sink(SinkError::TooLarge { bytes: 1 }), 413, 413, false),
            (
                Rejection::RecordTooLarge { bytes: 2, limit: 1 },
                413,
                413,
                false,
            ),
            (
                sink(SinkError::UnknownTopic {
                    topic: "t".into(),
                    brokers: "b".into(),
                }),
                502,
                50002,
                false,
            ),
            (
                sink(SinkError::BrokerUnreachable {
                    brokers: "b".into(),
                    reason: "r".into(),
                }),
                502,
                50002,
                false,
            ),
            (
                sink(SinkError::Rejected { reason: "x".into() }),
                502,
                50002,
                false,
            ),
            (
                sink(SinkError::Config { reason: "x".into() }),
                502,
                50002,
                false,
            ),
        ]
    }

    #[test]
    fn every_rejection_has_one_status_one_rest_error_code_and_one_close_decision() {
        for (rejection, status, code, closes) in table() {
            assert_eq!(
                (
                    rejection.status().as_u16(),
                    rejection.rest_error_code(),
                    rejection.closes_connection()
                ),
                (status, code, closes),
                "{rejection:?}"
            );
            // The REST Proxy's own codes are its status followed by two digits.
            assert_eq!(
                code / if code > 999 { 100 } else { 1 } / 100,
                u32::from(status) / 100,
                "{rejection:?}: the code and the status disagree on the class"
            );
        }
    }

    #[test]
    fn only_methods_not_allowed_carry_allow() {
        for (rejection, ..) in table() {
            let expected = matches!(rejection, Rejection::MethodNotAllowed { .. });
            assert_eq!(rejection.allow().is_some(), expected, "{rejection:?}");
        }
    }
}
