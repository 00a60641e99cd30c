//! Encoding the few responses a gateway sends, into a caller-owned buffer.

use http::StatusCode;

/// The interim response a server writes after [`crate::Status::Continue`].
pub const CONTINUE: &[u8] = b"HTTP/1.1 100 Continue\r\n\r\n";

/// What the `Connection` header of a response says.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Connection {
    /// `Connection: keep-alive`, needed only to keep an HTTP/1.0 connection open.
    KeepAlive,
    /// `Connection: close`: the server closes after this response.
    Close,
}

/// The head of a response. `Content-Length` is always written, from the body.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ResponseHead<'a> {
    /// Status code; the reason phrase is the canonical one.
    pub status: StatusCode,
    /// `Content-Type`, if any.
    pub content_type: Option<&'a str>,
    /// `Connection`, if any.
    pub connection: Option<Connection>,
    /// `Retry-After` in seconds, for 503.
    pub retry_after_secs: Option<u32>,
    /// `Allow`, for 405.
    pub allow: Option<&'a str>,
    /// `Date` (IMF-fixdate), which an origin server with a clock must send (RFC 9110
    /// §6.6.1); the caller formats it once per second, not per response.
    pub date: Option<&'a str>,
}

impl<'a> ResponseHead<'a> {
    /// A head with just a status; set the other fields as needed.
    pub fn new(status: StatusCode) -> Self {
        Self {
            status,
            content_type: None,
            connection: None,
            retry_after_secs: None,
            allow: None,
            date: None,
        }
    }

    /// Appends the response (head and `body`) to `out`. Allocates only if `out` must grow,
    /// so a reused buffer makes this allocation-free.
    pub fn encode(&self, body: &[u8], out: &mut Vec<u8>) {
        let mut numbers = itoa::Buffer::new();
        out.extend_from_slice(b"HTTP/1.1 ");
        out.extend_from_slice(self.status.as_str().as_bytes());
        out.push(b' ');
        out.extend_from_slice(self.status.canonical_reason().unwrap_or("").as_bytes());
        out.extend_from_slice(b"\r\ncontent-length: ");
        out.extend_from_slice(numbers.format(body.len()).as_bytes());
        if let Some(content_type) = self.content_type {
            header(out, b"content-type", content_type.as_bytes());
        }
        match self.connection {
            Some(Connection::Close) => header(out, b"connection", b"close"),
            Some(Connection::KeepAlive) => header(out, b"connection", b"keep-alive"),
            None => {}
        }
        if let Some(seconds) = self.retry_after_secs {
            header(out, b"retry-after", numbers.format(seconds).as_bytes());
        }
        if let Some(allow) = self.allow {
            header(out, b"allow", allow.as_bytes());
        }
        if let Some(date) = self.date {
            header(out, b"date", date.as_bytes());
        }
        out.extend_from_slice(b"\r\n\r\n");
        out.extend_from_slice(body);
    }
}

fn header(out: &mut Vec<u8>, name: &[u8], value: &[u8]) {
    out.extend_from_slice(b"\r\n");
    out.extend_from_slice(name);
    out.extend_from_slice(b": ");
    out.extend_from_slice(value);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn encodes_a_plain_ok() {
        let mut out = Vec::new();
        let mut head = ResponseHead::new(StatusCode::OK);
        head.content_type = Some("text/plain");
        head.encode(b"Payload received", &mut out);
        assert_eq!(
            out,
            b"HTTP/1.1 200 OK\r\ncontent-length: 16\r\ncontent-type: text/plain\r\n\r\nPayload received"
        );
    }

    #[test]
    fn encodes_every_optional_header() {
        let mut out = Vec::new();
        let head = ResponseHead {
            status: StatusCode::SERVICE_UNAVAILABLE,
            content_type: Some("application/json"),
            connection: Some(Connection::Close),
            retry_after_secs: Some(1),
            allow: Some("POST"),
            date: Some("Wed, 25 Nov 2026 06:00:00 GMT"),
        };
        head.encode(b"{}", &mut out);
        let text = std::str::from_utf8(&out).unwrap();
        assert!(text.starts_with("HTTP/1.1 503 Service Unavailable\r\n"));
        for line in [
            "connection: close",
            "retry-after: 1",
            "allow: POST",
            "content-length: 2",
        ] {
            assert!(
                text.contains(&format!("{line}\r\n")),
                "{line} missing in {text}"
            );
        }
        assert!(text.ends_with("\r\n\r\n{}"));
    }

    #[test]
    fn encode_appends_to_the_buffer_and_reuses_its_allocation() {
        let head = ResponseHead::new(StatusCode::OK);
        let mut expected = Vec::new();
        head.encode(b"x", &mut expected);

        // Room for what is there and one response: `encode` must append after the
        // existing bytes, and must not reallocate a buffer that is big enough.
        let mut out = Vec::with_capacity(4 + expected.len());
        out.extend_from_slice(b"kept");
        let (pointer, capacity) = (out.as_ptr(), out.capacity());
        head.encode(b"x", &mut out);
        assert_eq!(&out[..4], b"kept");
        assert_eq!(&out[4..], &expected[..]);
        assert_eq!(
            out.as_ptr(),
            pointer,
            "encode reallocated a big enough buffer"
        );
        assert_eq!(out.capacity(), capacity);
    }
}
