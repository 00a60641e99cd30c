//! What the client hears, encoded for either stack.

use bytes::Bytes;
use http::StatusCode;
use http_parse::{Connection, ResponseHead, Version};

use crate::{Cors, Rejection};

/// `Retry-After` of every `503`, whatever said it (overload, shutdown, readiness, the
/// connection limit): a client may try again in a second. The one place that decides
/// it; both encoders ask it.
const RETRY_AFTER_SECS: u32 = 1;

fn retry_after_secs(status: StatusCode) -> Option<u32> {
    (status == StatusCode::SERVICE_UNAVAILABLE).then_some(RETRY_AFTER_SECS)
}

/// A response, independent of the HTTP stack that sends it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reply {
    /// Status code.
    pub status: StatusCode,
    /// `Content-Type`.
    pub content_type: &'static str,
    /// Body.
    pub body: Bytes,
    /// `Allow`, if any.
    pub allow: Option<&'static str>,
    /// Whether the connection must close after this response.
    pub close: bool,
    /// The CORS header fields, for an answer to an allowed browser origin. Boxed: few
    /// answers carry them, and every reply is moved several times on its way out.
    pub cors: Option<Box<Cors>>,
}

/// Which error shape a rejection is written in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum ErrorBody {
    /// The gateway's own: `{"error": "..."}`.
    Gateway,
    /// The Kafka REST Proxy's: `{"error_code": ..., "message": "..."}`.
    RestProxy,
}

/// A rejection's client-facing message, written by serde_json straight from its
/// `Display` (escaped on the way, no `String` in between).
#[derive(Debug, Clone, Copy)]
pub(crate) struct Message<'a>(pub(crate) &'a Rejection);

impl serde::Serialize for Message<'_> {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self.0)
    }
}

#[derive(serde::Serialize)]
#[serde(untagged)]
enum ErrorShape<'a> {
    Gateway {
        error: Message<'a>,
    },
    RestProxy {
        error_code: u32,
        message: Message<'a>,
    },
}

impl Reply {
    /// A reply with `status`, `content_type` and `body`, no other header, keeping the
    /// connection open.
    pub fn new(status: StatusCode, content_type: &'static str, body: impl Into<Bytes>) -> Self {
        Self {
            status,
            content_type,
            body: body.into(),
            allow: None,
            close: false,
            cors: None,
        }
    }

    fn text(status: StatusCode, body: &'static str) -> Self {
        Self::new(status, "text/plain", Bytes::from_static(body.as_bytes()))
    }

    /// `200 Payload received`: Kafka acknowledged the record.
    pub fn received() -> Self {
        Self::text(StatusCode::OK, "Payload received")
    }

    /// `202 Payload queued`: the record is queued, not yet acknowledged (queued ack mode).
    pub fn queued() -> Self {
        Self::text(StatusCode::ACCEPTED, "Payload queued")
    }

    /// `200 OK` for probes.
    pub fn ok() -> Self {
        Self::text(StatusCode::OK, "OK")
    }

    /// `503 Not ready` for the readiness probe.
    pub fn not_ready() -> Self {
        Self::text(StatusCode::SERVICE_UNAVAILABLE, "Not ready")
    }

    /// `200` to a CORS preflight, with what the origin may send.
    pub(crate) fn preflight(cors: Cors) -> Self {
        Self {
            cors: Some(Box::new(cors)),
            ..Self::text(StatusCode::OK, "")
        }
    }

    /// Prometheus text exposition.
    pub fn metrics(text: String) -> Self {
        Self::new(
            StatusCode::OK,
            "application/openmetrics-text; version=1.0.0; charset=utf-8",
            text,
        )
    }

    /// `{"error": "..."}` with the rejection's status and headers.
    pub fn rejected(rejection: &Rejection) -> Self {
        Self::rejected_with(rejection, ErrorBody::Gateway)
    }

    /// `rejection` in the error shape `body`, with its status and headers.
    pub(crate) fn rejected_with(rejection: &Rejection, body: ErrorBody) -> Self {
        let shape = match body {
            ErrorBody::Gateway => ErrorShape::Gateway {
                error: Message(rejection),
            },
            ErrorBody::RestProxy => ErrorShape::RestProxy {
                error_code: rejection.rest_error_code(),
                message: Message(rejection),
            },
        };
        let mut out = Vec::with_capacity(64);
        // Cannot fail: a Vec takes every byte and a rejection's Display never fails.
        let _ = serde_json::to_writer(&mut out, &shape);
        Self {
            allow: rejection.allow(),
            close: rejection.closes_connection(),
            ..Self::new(rejection.status(), "application/json", out)
        }
    }

    /// `Retry-After` seconds: every `503` has it, nothing else does.
    pub fn retry_after_secs(&self) -> Option<u32> {
        retry_after_secs(self.status)
    }

    /// Appends the HTTP/1.1 encoding to `out` (the io_uring server's path). `keep_alive`
    /// is what the request allows; `Connection` is written only when it differs from
    /// the version's default. `date` is the `Date` header value, if the caller has one.
    pub fn encode_http1(
        &self,
        keep_alive: bool,
        version: Version,
        date: Option<&str>,
        out: &mut Vec<u8>,
    ) {
        let keep = keep_alive && !self.close;
        let mut head = ResponseHead::new(self.status.as_u16()).with_content_type(self.content_type);
        match (keep, version) {
            (false, _) => head = head.with_connection(Connection::Close),
            (true, Version::Http10) => head = head.with_connection(Connection::KeepAlive),
            (true, Version::Http11) => {}
        }
        if let Some(seconds) = self.retry_after_secs() {
            head = head.with_retry_after_secs(seconds);
        }
        if let Some(allow) = self.allow {
            head = head.with_allow(allow);
        }
        if let Some(date) = date {
            head = head.with_date(date);
        }
        // At most five CORS fields (see `Cors::fields`), kept on the stack.
        let mut fields = [("", ""); 5];
        let mut count = 0;
        for (field, slot) in self
            .cors
            .iter()
            .flat_map(|cors| cors.fields())
            .zip(&mut fields)
        {
            *slot = field;
            count += 1;
        }
        head.with_fields(&fields[..count]).encode(&self.body, out);
    }

    /// The `http` crate form (the hyper server's path).
    pub fn into_http(self) -> http::Response<Bytes> {
        let mut builder = http::Response::builder()
            .status(self.status)
            .header(http::header::CONTENT_TYPE, self.content_type);
        if let Some(seconds) = self.retry_after_secs() {
            builder = builder.header(http::header::RETRY_AFTER, seconds);
        }
        if let Some(allow) = self.allow {
            builder = builder.header(http::header::ALLOW, allow);
        }
        if self.close {
            builder = builder.header(http::header::CONNECTION, "close");
        }
        for (name, value) in self.cors.iter().flat_map(|cors| cors.fields()) {
            builder = builder.header(name, value);
        }
        builder
            .body(self.body)
            .expect("static header names and valid values")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rejection_body_is_json_with_the_reason() {
        let reply = Reply::rejected(&Rejection::LengthRequired);
        assert_eq!(reply.status, StatusCode::LENGTH_REQUIRED);
        let body: serde_json::Value = serde_json::from_slice(&reply.body).unwrap();
        assert_eq!(
            body["error"],
            "a Content-Length or chunked body is required"
        );
    }

    #[test]
    fn both_encodings_carry_the_same_status_and_headers() {
        let reply = Reply::rejected(&Rejection::MethodNotAllowed {
            method: "GET".into(),
            allow: "POST",
        });
        let mut wire = Vec::new();
        reply.encode_http1(true, Version::Http11, None, &mut wire);
        let wire = String::from_utf8(wire).unwrap();
        assert!(wire.starts_with("HTTP/1.1 405 Method Not Allowed\r\n"));
        assert!(wire.contains("allow: POST\r\n") && !wire.contains("connection"));
        let response = reply.into_http();
        assert_eq!(response.status(), StatusCode::METHOD_NOT_ALLOWED);
        assert_eq!(response.headers()["allow"], "POST");
    }

    #[test]
    fn both_encodings_write_retry_after_on_every_503_and_on_nothing_else() {
        let replies = [
            Reply::not_ready(),
            Reply::rejected(&Rejection::ShuttingDown),
            Reply::rejected(&Rejection::TooManyConnections { limit: 1 }),
            Reply::rejected_with(&Rejection::ShuttingDown, ErrorBody::RestProxy),
            Reply::ok(),
            Reply::rejected(&Rejection::BodyTimeout { timeout_ms: 1 }),
            Reply::new(StatusCode::GATEWAY_TIMEOUT, "text/plain", "late"),
        ];
        for reply in replies {
            let unavailable = reply.status == StatusCode::SERVICE_UNAVAILABLE;
            let mut wire = Vec::new();
            reply.encode_http1(true, Version::Http11, None, &mut wire);
            let wire = String::from_utf8(wire).unwrap();
            assert_eq!(
                wire.contains("\r\nretry-after: 1\r\n"),
                unavailable,
                "{wire}"
            );
            let response = reply.into_http();
            assert_eq!(
                response
                    .headers()
                    .get("retry-after")
                    .map(|v| v.to_str().unwrap()),
                unavailable.then_some("1"),
            );
        }
    }

    #[test]
    fn both_encodings_carry_the_cors_fields() {
        let cors = Cors::preflight(
            "https://app.example.com".into(),
            "POST",
            Some("x-kafka-key"),
        );
        let reply = Reply::preflight(cors.clone());
        let mut wire = Vec::new();
        reply.encode_http1(true, Version::Http11, Some("d"), &mut wire);
        let wire = String::from_utf8(wire).unwrap();
        let response = reply.into_http();
        for (name, value) in cors.fields() {
            assert!(wire.contains(&format!("\r\n{name}: {value}\r\n")), "{wire}");
            assert_eq!(response.headers()[name], value);
        }
        assert!(
            wire.ends_with("\r\n\r\n"),
            "the head still ends the response"
        );
        assert_eq!(response.status(), StatusCode::OK);
    }

    #[test]
    fn both_error_shapes_carry_the_message_escaped() {
        let rejection = Rejection::NotFound {
            path: "/a\"b".into(),
        };
        let gateway: serde_json::Value =
            serde_json::from_slice(&Reply::rejected(&rejection).body).unwrap();
        assert_eq!(gateway, serde_json::json!({"error": "no such path: /a\"b"}));
        let rest = Reply::rejected_with(&rejection, ErrorBody::RestProxy);
        let rest: serde_json::Value = serde_json::from_slice(&rest.body).unwrap();
        assert_eq!(
            rest,
            serde_json::json!({"error_code": 404, "message": "no such path: /a\"b"})
        );
    }

    #[test]
    fn connection_header_follows_version_and_close() {
        let mut wire = Vec::new();
        Reply::received().encode_http1(true, Version::Http10, None, &mut wire);
        assert!(String::from_utf8_lossy(&wire).contains("connection: keep-alive\r\n"));
        wire.clear();
        Reply::received().encode_http1(false, Version::Http11, None, &mut wire);
        assert!(String::from_utf8_lossy(&wire).contains("connection: close\r\n"));
    }
}
