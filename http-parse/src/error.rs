//! The one error type of the crate: why a request stream was rejected.

use http::StatusCode;

/// Why the decoder refused a request. Every variant is final for the connection:
/// after a framing error the byte stream can no longer be trusted, so the caller
/// must answer with [`FrameError::status`] and close ([`FrameError::closes_connection`]).
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
        /// The configured [`crate::Limits::max_head_bytes`].
        limit: usize,
    },
    /// More header lines than the limit.
    #[error("more than {limit} request headers")]
    TooManyHeaders {
        /// The configured [`crate::Limits::max_headers`].
        limit: usize,
    },
    /// The declared or decoded body is larger than the limit.
    #[error("request body exceeds {limit} bytes")]
    BodyTooLarge {
        /// The configured [`crate::Limits::max_body_bytes`].
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
    /// §7.1.1), or that is longer than [`crate::Limits::max_chunk_line_bytes`].
    #[error("invalid chunk size line")]
    InvalidChunkSize,
    /// A chunk size too large to represent.
    #[error("chunk size overflows")]
    ChunkSizeOverflow,
    /// Chunk data not followed by CRLF.
    #[error("chunk data not terminated by CRLF")]
    InvalidChunkTerminator,
}

impl FrameError {
    /// The HTTP status a server should answer with.
    pub fn status(&self) -> StatusCode {
        match self {
            Self::HeadTooLarge { .. } | Self::TooManyHeaders { .. } => {
                StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE
            }
            Self::BodyTooLarge { .. } => StatusCode::PAYLOAD_TOO_LARGE,
            Self::UnsupportedVersion => StatusCode::HTTP_VERSION_NOT_SUPPORTED,
            Self::UnsupportedTransferCoding => StatusCode::NOT_IMPLEMENTED,
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
            | Self::InvalidChunkTerminator => StatusCode::BAD_REQUEST,
        }
    }

    /// Whether the connection must be closed after the error response. Always true:
    /// once framing fails, where the next request starts is unknown.
    pub fn closes_connection(&self) -> bool {
        true
    }
}
