//! Encoding the few responses a gateway sends, into a caller-owned buffer.

/// The interim response a server writes after [`Status::Continue`](crate::Status::Continue).
pub const CONTINUE: &[u8] = b"HTTP/1.1 100 Continue\r\n\r\n";

/// What the `Connection` header of a response says.
///
/// `#[non_exhaustive]`: callers build one and seldom match on it, and another value
/// (`upgrade`, for `101 Switching Protocols`) may be added without breaking them. A
/// match outside this crate needs a wildcard arm:
///
/// ```compile_fail,E0004
/// fn says_close(connection: http_parse::Connection) -> bool {
///     match connection {
///         http_parse::Connection::Close => true,
///         http_parse::Connection::KeepAlive => false,
///     }
/// }
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Connection {
    /// `Connection: keep-alive`, needed only to keep an HTTP/1.0 connection open.
    KeepAlive,
    /// `Connection: close`: the server closes after this response.
    Close,
}

/// The head of a response. `Content-Length` is always written, from the body; the
/// other headers are written when set.
///
/// `#[non_exhaustive]` with private fields: start from [`ResponseHead::new`] and add
/// headers with the `with_` methods, so that a header added later breaks no caller.
///
/// ```
/// use http_parse::{Connection, ResponseHead};
///
/// let mut out = Vec::new();
/// ResponseHead::new(503)
///     .with_content_type("text/plain")
///     .with_connection(Connection::Close)
///     .with_retry_after_secs(1)
///     .encode(b"busy", &mut out);
/// assert!(out.starts_with(b"HTTP/1.1 503 Service Unavailable\r\n"));
/// assert!(out.ends_with(b"\r\n\r\nbusy"));
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct ResponseHead<'a> {
    status: u16,
    content_type: Option<&'a str>,
    connection: Option<Connection>,
    retry_after_secs: Option<u32>,
    allow: Option<&'a str>,
    date: Option<&'a str>,
    fields: &'a [(&'a str, &'a str)],
}

impl<'a> ResponseHead<'a> {
    /// A head with just a status code; the reason phrase written is the canonical
    /// one (IANA registry), or empty for an unregistered code, which RFC 9112 §4
    /// allows.
    ///
    /// The status is a plain `u16` rather than `http::StatusCode`, so that this crate
    /// has no public dependency; [`FrameError::status`](crate::FrameError::status)
    /// returns the same type.
    ///
    /// # Panics
    ///
    /// If `status` is not a three-digit code (`100..=999`, RFC 9110 §15): a response
    /// line with any other number is malformed, and the mistake is the caller's.
    pub const fn new(status: u16) -> Self {
        assert!(
            100 <= status && status <= 999,
            "an HTTP status code has three digits"
        );
        Self {
            status,
            content_type: None,
            connection: None,
            retry_after_secs: None,
            allow: None,
            date: None,
            fields: &[],
        }
    }

    /// The status code.
    pub const fn status(&self) -> u16 {
        self.status
    }

    /// Adds `Content-Type: {content_type}`.
    pub const fn with_content_type(mut self, content_type: &'a str) -> Self {
        self.content_type = Some(content_type);
        self
    }

    /// Adds a `Connection` header.
    pub const fn with_connection(mut self, connection: Connection) -> Self {
        self.connection = Some(connection);
        self
    }

    /// Adds `Retry-After: {seconds}`, for 503.
    pub const fn with_retry_after_secs(mut self, seconds: u32) -> Self {
        self.retry_after_secs = Some(seconds);
        self
    }

    /// Adds `Allow: {allow}`, for 405.
    pub const fn with_allow(mut self, allow: &'a str) -> Self {
        self.allow = Some(allow);
        self
    }

    /// Adds `Date: {date}`. `date` is an IMF-fixdate, which an origin server with a
    /// clock must send (RFC 9110 §6.6.1); the caller formats it once per second, not
    /// per response.
    pub const fn with_date(mut self, date: &'a str) -> Self {
        self.date = Some(date);
        self
    }

    /// Adds `fields` (name, value) after the other headers, in order, e.g. the CORS
    /// fields of a gateway's answer. Written as given: each name must be a token and
    /// each value free of CR, LF and NUL (RFC 9110 §5.1, §5.5), which the caller
    /// ensures.
    pub const fn with_fields(mut self, fields: &'a [(&'a str, &'a str)]) -> Self {
        self.fields = fields;
        self
    }

    /// Appends the response (head and `body`) to `out`. Allocates only if `out` must grow,
    /// so a reused buffer makes this allocation-free.
    pub fn encode(&self, body: &[u8], out: &mut Vec<u8>) {
        let mut numbers = itoa::Buffer::new();
        out.extend_from_slice(b"HTTP/1.1 ");
        out.extend_from_slice(numbers.format(self.status).as_bytes());
        out.push(b' ');
        out.extend_from_slice(reason_phrase(self.status).as_bytes());
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
        for (name, value) in self.fields {
            header(out, name.as_bytes(), value.as_bytes());
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

/// The canonical reason phrase of a registered status code, empty for any other.
/// The same phrases as the `http` crate's `StatusCode::canonical_reason`, so the bytes
/// on the wire did not change when this crate stopped depending on it.
fn reason_phrase(status: u16) -> &'static str {
    match status {
        100 => "Continue",
        101 => "Switching Protocols",
        102 => "Processing",
        103 => "Early Hints",
        200 => "OK",
        201 => "Created",
        202 => "Accepted",
        203 => "Non Authoritative Information",
        204 => "No Content",
        205 => "Reset Content",
        206 => "Partial Content",
        207 => "Multi-Status",
        208 => "Already Reported",
        226 => "IM Used",
        300 => "Multiple Choices",
        301 => "Moved Permanently",
        302 => "Found",
        303 => "See Other",
        304 => "Not Modified",
        305 => "Use Proxy",
        307 => "Temporary Redirect",
        308 => "Permanent Redirect",
        400 => "Bad Request",
        401 => "Unauthorized",
        402 => "Payment Required",
        403 => "Forbidden",
        404 => "Not Found",
        405 => "Method Not Allowed",
        406 => "Not Acceptable",
        407 => "Proxy Authentication Required",
        408 => "Request Timeout",
        409 => "Conflict",
        410 => "Gone",
        411 => "Length Required",
        412 => "Precondition Failed",
        413 => "Payload Too Large",
        414 => "URI Too Long",
        415 => "Unsupported Media Type",
        416 => "Range Not Satisfiable",
        417 => "Expectation Failed",
        418 => "I'm a teapot",
        421 => "Misdirected Request",
        422 => "Unprocessable Entity",
        423 => "Locked",
        424 => "Failed Dependency",
        425 => "Too Early",
        426 => "Upgrade Required",
        428 => "Precondition Required",
        429 => "Too Many Requests",
        431 => "Request Header Fields Too Large",
        451 => "Unavailable For Legal Reasons",
        500 => "Internal Server Error",
        501 => "Not Implemented",
        502 => "Bad Gateway",
        503 => "Service Unavailable",
        504 => "Gateway Timeout",
        505 => "HTTP Version Not Supported",
        506 => "Variant Also Negotiates",
        507 => "Insufficient Storage",
        508 => "Loop Detected",
        510 => "Not Extended",
        511 => "Network Authentication Required",
        _ => "",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn encodes_a_plain_ok() {
        let mut out = Vec::new();
        let head = ResponseHead::new(200).with_content_type("text/plain");
        head.encode(b"Payload received", &mut out);
        assert_eq!(
            out,
            b"HTTP/1.1 200 OK\r\ncontent-length: 16\r\ncontent-type: text/plain\r\n\r\nPayload received"
        );
    }

    #[test]
    fn encodes_every_optional_header() {
        let mut out = Vec::new();
        let head = ResponseHead::new(503)
            .with_content_type("application/json")
            .with_connection(Connection::Close)
            .with_retry_after_secs(1)
            .with_allow("POST")
            .with_date("Wed, 25 Nov 2026 06:00:00 GMT")
            .with_fields(&[("vary", "Origin"), ("x-a", "b")]);
        head.encode(b"{}", &mut out);
        let text = std::str::from_utf8(&out).unwrap();
        assert!(text.starts_with("HTTP/1.1 503 Service Unavailable\r\n"));
        for line in [
            "connection: close",
            "retry-after: 1",
            "allow: POST",
            "content-length: 2",
            "date: Wed, 25 Nov 2026 06:00:00 GMT",
            "vary: Origin",
            "x-a: b",
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
        let head = ResponseHead::new(200);
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

    #[test]
    fn unregistered_codes_get_an_empty_reason_phrase() {
        let mut out = Vec::new();
        ResponseHead::new(299).encode(b"", &mut out);
        assert!(out.starts_with(b"HTTP/1.1 299 \r\n"));
    }

    #[test]
    #[should_panic(expected = "three digits")]
    fn a_status_without_three_digits_panics() {
        ResponseHead::new(1000);
    }
}
