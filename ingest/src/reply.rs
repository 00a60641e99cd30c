//! What the client hears, encoded for either stack.

use bytes::Bytes;
use http::StatusCode;
use http_parse::{Connection, ResponseHead, Version};

use crate::Rejection;

/// A response, independent of the HTTP stack that sends it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reply {
    /// Status code.
    pub status: StatusCode,
    /// `Content-Type`.
    pub content_type: &'static str,
    /// Body.
    pub body: Bytes,
    /// `Retry-After` seconds, if any.
    pub retry_after_secs: Option<u32>,
    /// `Allow`, if any.
    pub allow: Option<&'static str>,
    /// Whether the connection must close after this response.
    pub close: bool,
}

impl Reply {
    fn text(status: StatusCode, body: &'static str) -> Self {
        Self {
            status,
            content_type: "text/plain",
            body: Bytes::from_static(body.as_bytes()),
            retry_after_secs: None,
            allow: None,
            close: false,
        }
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
        Self {
            retry_after_secs: Some(1),
            ..Self::text(StatusCode::SERVICE_UNAVAILABLE, "Not ready")
        }
    }

    /// Prometheus text exposition.
    pub fn metrics(text: String) -> Self {
        Self {
            content_type: "application/openmetrics-text; version=1.0.0; charset=utf-8",
            body: Bytes::from(text),
            ..Self::ok()
        }
    }

    /// `{"error": "..."}` with the rejection's status and headers.
    pub fn rejected(rejection: &Rejection) -> Self {
        let body = serde_json::to_vec(&serde_json::json!({ "error": rejection.to_string() }))
            .unwrap_or_else(|_| br#"{"error":"unprintable error"}"#.to_vec());
        Self {
            status: rejection.status(),
            content_type: "application/json",
            body: Bytes::from(body),
            retry_after_secs: rejection.retry_after_secs(),
            allow: rejection.allow(),
            close: rejection.closes_connection(),
        }
    }

    /// A REST Proxy API answer.
    pub(crate) fn rest(status: StatusCode, content_type: &'static str, body: String) -> Self {
        Self {
            status,
            content_type,
            body: Bytes::from(body),
            retry_after_secs: None,
            allow: None,
            close: false,
        }
    }

    /// The REST Proxy's error shape `{"error_code": ..., "message": "..."}` with the
    /// rejection's status and headers.
    pub fn rest_rejected(rejection: &Rejection) -> Self {
        let body = serde_json::to_vec(&serde_json::json!({
            "error_code": rejection.rest_error_code(),
            "message": rejection.to_string(),
        }))
        .unwrap_or_else(|_| br#"{"error_code":500,"message":"unprintable error"}"#.to_vec());
        Self {
            body: Bytes::from(body),
            ..Self::rejected(rejection)
        }
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
        if let Some(seconds) = self.retry_after_secs {
            head = head.with_retry_after_secs(seconds);
        }
        if let Some(allow) = self.allow {
            head = head.with_allow(allow);
        }
        if let Some(date) = date {
            head = head.with_date(date);
        }
        head.encode(&self.body, out);
    }

    /// The `http` crate form (the hyper server's path).
    pub fn into_http(self) -> http::Response<Bytes> {
        let mut builder = http::Response::builder()
            .status(self.status)
            .header(http::header::CONTENT_TYPE, self.content_type);
        if let Some(seconds) = self.retry_after_secs {
            builder = builder.header(http::header::RETRY_AFTER, seconds);
        }
        if let Some(allow) = self.allow {
            builder = builder.header(http::header::ALLOW, allow);
        }
        if self.close {
            builder = builder.header(http::header::CONNECTION, "close");
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
    fn connection_header_follows_version_and_close() {
        let mut wire = Vec::new();
        Reply::received().encode_http1(true, Version::Http10, None, &mut wire);
        assert!(String::from_utf8_lossy(&wire).contains("connection: keep-alive\r\n"));
        wire.clear();
        Reply::received().encode_http1(false, Version::Http11, None, &mut wire);
        assert!(String::from_utf8_lossy(&wire).contains("connection: close\r\n"));
    }
}
