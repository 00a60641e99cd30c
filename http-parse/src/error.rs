//! The one error type of the crate: why a request stream was rejected.

/// Why the decoder refused a request. Every variant is final for the connection:
/// after a framing error the byte stream can no longer be trusted, so the caller
/// must answer with [`FrameError::status`] and close ([`FrameError::closes_connection`]).
///
/// `#[non_exhaustive]`: new ways to reject a request may be added; match with a
/// wildcard arm, or just use [`FrameError::status`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum FrameError {
    /// The request line or a header line is not valid HTTP/1.1 syntax.
    #[error("malformed request: {0}")]
    Malformed(&'static str),
    /// A line ends in a bare LF where CRLF is required.
    #[error("malformed request: bare LF where CRLF is required")]
    BareLineFeed,
    /// A header line starts with whitespace (obsolete line folding, RFC 9112 §5.2).
    #[error("malformed request: obsolete line folding in headers")]
    ObsoleteLineFolding,
    /// Whitespace between a header name and its colon (RFC 9112 §5.1).
    #[error("malformed request: whitespace before a header colon")]
    WhitespaceBeforeColon,
    /// Request line plus headers (or chunked trailers) exceed the limit.
    #[error("request headers exceed {limit} bytes")]
    HeadTooLarge {
        /// The configured [`Limits::max_head_bytes`](crate::Limits::max_head_bytes).
        limit: usize,
    },
    /// More header lines than the limit.
    #[error("more than {limit} request headers")]
    TooManyHeaders {
        /// The configured [`Limits::max_headers`](crate::Limits::max_headers).
        limit: usize,
    },
    /// The declared or decoded body is larger than the limit.
    #[error("request body exceeds {limit} bytes")]
    BodyTooLarge {
        /// The configured [`Limits::max_body_bytes`](crate::Limits::max_body_bytes).
        limit: usize,
    },
    /// A well-formed `HTTP/x.y` version other than 1.0 and 1.1.
    #[error("HTTP version not supported")]
    UnsupportedVersion,
    /// A transfer coding other than `chunked`.
    #[error("transfer coding not implemented")]
    UnsupportedTransferCoding,
    /// `Transfer-Encoding` that cannot frame a request: `chunked` repeated or not
    /// last, or sent by an HTTP/1.0 client.
    #[error("invalid Transfer-Encoding")]
    InvalidTransferEncoding,
    /// Both `Content-Length` and `Transfer-Encoding`: a request-smuggling shape.
    #[error("both Content-Length and Transfer-Encoding are present")]
    ConflictingFraming,
    /// More than one `Content-Length` header, equal or not.
    #[error("duplicate Content-Length")]
    DuplicateContentLength,
    /// A `Content-Length` that is not a plain decimal number.
    #[error("invalid Content-Length")]
    InvalidContentLength,
    /// A chunk-size line that is not hex digits with optional extensions (RFC 9112
    /// §7.1.1), or that is longer than [`Limits::max_chunk_line_bytes`](crate::Limits::max_chunk_line_bytes).
    #[error("invalid chunk size line")]
    InvalidChunkSize,
    /// A chunk size too large to represent.
    #[error("chunk size overflows")]
    ChunkSizeOverflow,
    /// Chunk data not followed by CRLF.
    #[error("chunk data not terminated by CRLF")]
    InvalidChunkTerminator,
    /// The caller broke the buffer contract of [`Decoder::decode`](crate::Decoder::decode):
    /// the buffer is shorter than the bytes of the pending request already decoded
    /// (only appending is allowed until [`Status::Complete`](crate::Status::Complete)).
    /// A bug in the caller, not the client: answered with 500.
    #[error("decode buffer shrank to {len} bytes; {decoded} bytes were already decoded")]
    BufferShrank {
        /// Bytes of the pending request that earlier calls had decoded.
        decoded: usize,
        /// Length of the buffer passed to this call.
        len: usize,
    },
}

impl FrameError {
    /// The HTTP status code a server should answer with: one of 400, 413, 431, 500,
    /// 501 and 505. A plain `u16`, so that no HTTP types crate becomes part of this
    /// crate's API; [`ResponseHead::new`](crate::ResponseHead::new) takes it as is, and
    /// `http::StatusCode::from_u16` converts it.
    pub fn status(&self) -> u16 {
        match self {
            Self::HeadTooLarge { .. } | Self::TooManyHeaders { .. } => 431,
            Self::BodyTooLarge { .. } => 413,
            Self::UnsupportedVersion => 505,
            Self::UnsupportedTransferCoding => 501,
            Self::BufferShrank { .. } => 500,
            Self::Malformed(_)
            | Self::BareLineFeed
            | Self::ObsoleteLineFolding
            | Self::WhitespaceBeforeColon
            | Self::InvalidTransferEncoding
            | Self::ConflictingFraming
            | Self::DuplicateContentLength
            | Self::InvalidContentLength
            | Self::InvalidChunkSize
            | Self::ChunkSizeOverflow
            | Self::InvalidChunkTerminator => 400,
        }
    }

    /// Whether the connection must be closed after the error response. Always true:
    /// once framing fails, where the next request starts is unknown.
    pub fn closes_connection(&self) -> bool {
        true
    }
}
