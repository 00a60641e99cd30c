//! Size limits the decoder enforces before it buffers or scans anything unbounded.

/// Configurable bounds on one request. Every bound exists so that a client cannot
/// make the server buffer or scan without limit (slowloris, header floods, huge bodies).
///
/// Start from [`Limits::default`] and change what you need; the type is
/// `#[non_exhaustive]` with private fields, so a future limit is not a breaking change.
///
/// ```
/// use http_parse::Limits;
///
/// let limits = Limits::default()
///     .with_max_head_bytes(8 * 1024)
///     .with_max_body_bytes(64 * 1024);
/// assert_eq!(limits.max_head_bytes(), 8 * 1024);
/// assert_eq!(limits.max_headers(), Limits::default().max_headers());
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct Limits {
    max_headers: usize,
    max_head_bytes: usize,
    max_body_bytes: usize,
    max_chunk_line_bytes: usize,
}

impl Default for Limits {
    /// 64 headers, 16 KiB of head, 1 MiB of body, 1 KiB per chunk-size line.
    fn default() -> Self {
        Self {
            max_headers: 64,
            max_head_bytes: 16 * 1024,
            max_body_bytes: 1024 * 1024,
            max_chunk_line_bytes: 1024,
        }
    }
}

impl Limits {
    /// The most header lines any [`Limits`] can allow: httparse needs a fixed array of
    /// header slots, and this keeps it on the stack.
    pub const MAX_HEADERS_CAP: usize = 128;

    /// Most header lines in the head, and separately in chunked trailers. Past it: 431.
    pub const fn max_headers(&self) -> usize {
        self.max_headers
    }

    /// Sets [`Limits::max_headers`], clamped to `1..=`[`Limits::MAX_HEADERS_CAP`] (the
    /// decoder always has room for at least one header line).
    pub const fn with_max_headers(mut self, max_headers: usize) -> Self {
        self.max_headers = if max_headers == 0 {
            1
        } else if max_headers > Self::MAX_HEADERS_CAP {
            Self::MAX_HEADERS_CAP
        } else {
            max_headers
        };
        self
    }

    /// Most bytes of request line plus headers, and separately of chunked trailers.
    /// Past it: 431.
    pub const fn max_head_bytes(&self) -> usize {
        self.max_head_bytes
    }

    /// Sets [`Limits::max_head_bytes`].
    pub const fn with_max_head_bytes(mut self, max_head_bytes: usize) -> Self {
        self.max_head_bytes = max_head_bytes;
        self
    }

    /// Most bytes of decoded body. Past it: 413, detected from `Content-Length` before
    /// the body is read, or while scanning chunk sizes.
    pub const fn max_body_bytes(&self) -> usize {
        self.max_body_bytes
    }

    /// Sets [`Limits::max_body_bytes`].
    pub const fn with_max_body_bytes(mut self, max_body_bytes: usize) -> Self {
        self.max_body_bytes = max_body_bytes;
        self
    }

    /// Most bytes of one chunk-size line including extensions. Past it: 400.
    pub const fn max_chunk_line_bytes(&self) -> usize {
        self.max_chunk_line_bytes
    }

    /// Sets [`Limits::max_chunk_line_bytes`].
    pub const fn with_max_chunk_line_bytes(mut self, max_chunk_line_bytes: usize) -> Self {
        self.max_chunk_line_bytes = max_chunk_line_bytes;
        self
    }

    /// How many httparse header slots to hand out: always within `1..=MAX_HEADERS_CAP`,
    /// which the setter guarantees.
    pub(crate) fn header_slots(&self) -> usize {
        self.max_headers
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn max_headers_is_clamped_to_the_slots_there_are() {
        assert_eq!(Limits::default().with_max_headers(0).max_headers(), 1);
        assert_eq!(
            Limits::default().with_max_headers(1000).max_headers(),
            Limits::MAX_HEADERS_CAP
        );
        assert_eq!(Limits::default().with_max_headers(7).max_headers(), 7);
    }
}
