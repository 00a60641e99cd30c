//! Size limits the decoder enforces before it buffers or scans anything unbounded.

/// The most header lines any [`Limits`] can allow: httparse needs a fixed
/// array of header slots, and this keeps it on the stack.
pub const MAX_HEADERS_CAP: usize = 128;

/// Configurable bounds on one request. Every bound exists so that a client cannot
/// make the server buffer or scan without limit (slowloris, header floods, huge bodies).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Most header lines in the head, and separately in chunked trailers
    /// (clamped to [`MAX_HEADERS_CAP`]). Past it: 431.
    pub max_headers: usize,
    /// Most bytes of request line plus headers, and separately of chunked trailers.
    /// Past it: 431.
    pub max_head_bytes: usize,
    /// Most bytes of decoded body. Past it: 413, detected from `Content-Length` before
    /// the body is read, or while scanning chunk sizes.
    pub max_body_bytes: usize,
    /// Most bytes of one chunk-size line including extensions. Past it: 400.
    pub max_chunk_line_bytes: usize,
}

impl Default for Limits {
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
    pub(crate) fn header_slots(&self) -> usize {
        self.max_headers.clamp(1, MAX_HEADERS_CAP)
    }
}
