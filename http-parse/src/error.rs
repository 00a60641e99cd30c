//! The one error type of the crate: why a request stream was rejected.

/// Why the decoder refused a request. Every variant is final for the connection:
/// after a framing error the byte stream can no longer be trusted, so the caller
/// must answer with [`FrameError::status`] and close ([`FrameError::closes_connection`]).
///
/// Each variant names what is wrong with the bytes, not where the decoder noticed it:
/// a bad header name is [`FrameError::InvalidHeaderName`] in the head and in chunked
/// trailers alike.
///
/// `#[non_exhaustive]`: the list grows with what the crate checks, and a new check
/// must not be a breaking change. Match with a wildcard arm, or just use
/// [`FrameError::status`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum FrameError {
    /// The method is not a token (RFC 9110 §9.1), e.g. `G@T`.
    #[error("malformed request: the method is not a token")]
    InvalidMethod,
    /// The request target is missing (the method is followed by a line end or by two
    /// spaces), or holds a control byte or DEL.
    #[error("malformed request: missing or invalid request target")]
    InvalidTarget,
    /// A space inside the request target, e.g. `GET /a b HTTP/1.1` (RFC 9112 §3.2:
    /// 400, not 505, although the request line then seems to end in a version).
    #[error("malformed request: space in the request target")]
    SpaceInTarget,
    /// A raw byte above 0x7F in the request target: RFC 3986 wants it
    /// percent-encoded, and a proxy in front may read raw bytes differently.
    #[error("malformed request: raw non-ASCII byte in the request target; percent-encode it")]
    NonAsciiTarget,
    /// The request line does not end in `HTTP/` DIGIT `.` DIGIT.
    #[error("malformed request: missing or invalid HTTP version")]
    InvalidVersion,
    /// A header (or trailer) field name that is not a token, e.g. `Bad\x01Name: x`.
    #[error("malformed request: invalid header name")]
    InvalidHeaderName,
    /// A header (or trailer) field value with a control byte, DEL, or a CR not
    /// followed by LF.
    #[error("malformed request: invalid byte in a header value")]
    InvalidHeaderValue,
    /// A CR not followed by LF where a line ends, or something else than the line end
    /// right after the HTTP version.
    #[error("malformed request: a line does not end in CRLF")]
    InvalidLineEnding,
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
    // The message goes to clients in 500 bodies: the figures stay in the fields, for logs.
    #[error("internal error: the server's request buffer broke the decoder's contract")]
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
            Self::InvalidMethod
            | Self::InvalidTarget
            | Self::SpaceInTarget
            | Self::NonAsciiTarget
            | Self::InvalidVersion
            | Self::InvalidHeaderName
            | Self::InvalidHeaderValue
            | Self::InvalidLineEnding
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_error_has_its_status_and_a_message() {
        let limit = 10;
        for (error, status) in [
            (FrameError::InvalidMethod, 400),
            (FrameError::InvalidTarget, 400),
            (FrameError::SpaceInTarget, 400),
            (FrameError::NonAsciiTarget, 400),
            (FrameError::InvalidVersion, 400),
            (FrameError::InvalidHeaderName, 400),
            (FrameError::InvalidHeaderValue, 400),
            (FrameError::InvalidLineEnding, 400),
            (FrameError::BareLineFeed, 400),
            (FrameError::ObsoleteLineFolding, 400),
            (FrameError::WhitespaceBeforeColon, 400),
            (FrameError::HeadTooLarge { limit }, 431),
            (FrameError::TooManyHeaders { limit }, 431),
            (FrameError::BodyTooLarge { limit }, 413),
            (FrameError::UnsupportedVersion, 505),
            (FrameError::UnsupportedTransferCoding, 501),
            (FrameError::InvalidTransferEncoding, 400),
            (FrameError::ConflictingFraming, 400),
            (FrameError::DuplicateContentLength, 400),
            (FrameError::InvalidContentLength, 400),
            (FrameError::InvalidChunkSize, 400),
            (FrameError::ChunkSizeOverflow, 400),
            (FrameError::InvalidChunkTerminator, 400),
            (FrameError::BufferShrank { decoded: 2, len: 1 }, 500),
        ] {
            assert_eq!(error.status(), status, "{error:?}");
            assert!(error.closes_connection());
            assert!(!error.to_string().is_empty());
        }
    }

    #[test]
    fn a_contract_breach_tells_the_client_no_figures() {
        let error = FrameError::BufferShrank {
            decoded: 4321,
            len: 987,
        };
        let message = error.to_string();
        assert!(
            !message.contains("4321") && !message.contains("987"),
            "{message}"
        );
    }
}
