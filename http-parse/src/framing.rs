//! The framing rules (RFC 9112 §6): which header fields decide how a request body is
//! delimited and whether the connection stays open, and which combinations are refused.

use crate::syntax::trim_ows;
use crate::{FrameError, Limits, Version};

/// How the request body is delimited on the wire.
///
/// Not `#[non_exhaustive]`: RFC 9112 §6.3 leaves a request no other way (a request
/// body cannot be delimited by closing), so a match on it can be complete.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Framing {
    /// Neither `Content-Length` nor `Transfer-Encoding`: the request has no body.
    None,
    /// `Content-Length: n`.
    Length(usize),
    /// `Transfer-Encoding: chunked`.
    Chunked,
}

/// The header fields that decide how a request is framed and whether its connection
/// stays open, accumulated one field at a time. The decoder uses it on every request;
/// a server on another HTTP stack (hyper) runs its parsed headers through it so that
/// both servers refuse the same framing shapes.
///
/// ```
/// use http_parse::{FrameError, FramingHeaders, Limits, Version};
///
/// let mut facts = FramingHeaders::default();
/// facts.add("Transfer-Encoding", b"chunked").unwrap();
/// facts.add("Content-Length", b"4").unwrap();
/// assert_eq!(facts.framing(Version::Http11, &Limits::default()), Err(FrameError::ConflictingFraming));
/// ```
#[derive(Debug, Default, Clone)]
pub struct FramingHeaders {
    content_length: Option<usize>,
    transfer_encoding: TransferEncoding,
    connection_close: bool,
    connection_keep_alive: bool,
    expect_continue: bool,
}

impl FramingHeaders {
    /// Takes one header field into account.
    ///
    /// # Errors
    ///
    /// At once on a duplicate or non-decimal `Content-Length`
    /// ([`FrameError::DuplicateContentLength`], [`FrameError::InvalidContentLength`])
    /// and on `Transfer-Encoding` codings after `chunked`
    /// ([`FrameError::InvalidTransferEncoding`]).
    pub fn add(&mut self, name: &str, value: &[u8]) -> Result<(), FrameError> {
        // Dispatch on length first: most headers match none of these four, and a jump
        // on the length rejects them without comparing bytes.
        match name.len() {
            14 if name.eq_ignore_ascii_case("content-length") => {
                if self.content_length.is_some() {
                    return Err(FrameError::DuplicateContentLength);
                }
                self.content_length = Some(parse_content_length(value)?);
            }
            17 if name.eq_ignore_ascii_case("transfer-encoding") => {
                self.transfer_encoding.add(value)?;
            }
            10 if name.eq_ignore_ascii_case("connection") => {
                for token in list(value) {
                    self.connection_close |= token.eq_ignore_ascii_case(b"close");
                    self.connection_keep_alive |= token.eq_ignore_ascii_case(b"keep-alive");
                }
            }
            6 if name.eq_ignore_ascii_case("expect") => {
                self.expect_continue |= trim_ows(value).eq_ignore_ascii_case(b"100-continue");
            }
            _ => {}
        }
        Ok(())
    }

    /// How the body is framed, once every header was added.
    ///
    /// # Errors
    ///
    /// Both `Content-Length` and `Transfer-Encoding` ([`FrameError::ConflictingFraming`]),
    /// `Transfer-Encoding` from HTTP/1.0 or not ending in `chunked`
    /// ([`FrameError::InvalidTransferEncoding`]), unknown codings
    /// ([`FrameError::UnsupportedTransferCoding`], 501) and declared lengths over the
    /// body limit ([`FrameError::BodyTooLarge`], 413).
    pub fn framing(&self, version: Version, limits: &Limits) -> Result<Framing, FrameError> {
        match (self.transfer_encoding.seen, self.content_length) {
            (true, Some(_)) => Err(FrameError::ConflictingFraming),
            (true, None) if version == Version::Http10 => Err(FrameError::InvalidTransferEncoding),
            (true, None) => self.transfer_encoding.framing(),
            (false, Some(len)) if len > limits.max_body_bytes() => Err(FrameError::BodyTooLarge {
                limit: limits.max_body_bytes(),
            }),
            (false, Some(len)) => Ok(Framing::Length(len)),
            (false, None) => Ok(Framing::None),
        }
    }

    /// Whether the connection may stay open after the response.
    pub fn keep_alive(&self, version: Version) -> bool {
        match version {
            Version::Http11 => !self.connection_close,
            Version::Http10 => self.connection_keep_alive && !self.connection_close,
        }
    }

    /// Whether the client waits for `100 Continue` (ignored from HTTP/1.0 clients, RFC
    /// 9110 §10.1.1).
    pub fn expects_continue(&self, version: Version) -> bool {
        self.expect_continue && version == Version::Http11
    }
}

/// Accumulates `Transfer-Encoding` codings across header lines.
#[derive(Debug, Default, Clone)]
struct TransferEncoding {
    seen: bool,
    chunked_last: bool,
    unsupported: bool,
}

impl TransferEncoding {
    fn add(&mut self, value: &[u8]) -> Result<(), FrameError> {
        self.seen = true;
        for coding in list(value) {
            if coding.is_empty() {
                continue;
            }
            if self.chunked_last {
                // Anything after `chunked`, including a second `chunked`, leaves the
                // body length undefined (RFC 9112 §6.3).
                return Err(FrameError::InvalidTransferEncoding);
            }
            if coding.eq_ignore_ascii_case(b"chunked") {
                self.chunked_last = true;
            } else {
                self.unsupported = true;
            }
        }
        Ok(())
    }

    fn framing(&self) -> Result<Framing, FrameError> {
        if self.unsupported {
            Err(FrameError::UnsupportedTransferCoding)
        } else if self.chunked_last {
            Ok(Framing::Chunked)
        } else {
            Err(FrameError::InvalidTransferEncoding)
        }
    }
}

/// `Content-Length = 1*DIGIT`: no sign, no whitespace, no list, no overflow.
fn parse_content_length(value: &[u8]) -> Result<usize, FrameError> {
    if value.is_empty() || value.len() > 19 {
        return Err(FrameError::InvalidContentLength);
    }
    value.iter().try_fold(0usize, |acc, &b| {
        if !b.is_ascii_digit() {
            return Err(FrameError::InvalidContentLength);
        }
        acc.checked_mul(10)
            .and_then(|acc| acc.checked_add(usize::from(b - b'0')))
            .ok_or(FrameError::InvalidContentLength)
    })
}

/// The elements of a comma-separated list value (RFC 9110 §5.6.1), trimmed; empty
/// elements are kept for the caller to skip.
fn list(value: &[u8]) -> impl Iterator<Item = &[u8]> {
    value.split(|&b| b == b',').map(trim_ows)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn content_length_is_plain_decimal() {
        assert_eq!(parse_content_length(b"0"), Ok(0));
        assert_eq!(parse_content_length(b"0012"), Ok(12));
        for value in [
            &b""[..],
            b"+1",
            b"-1",
            b" 1",
            b"1 ",
            b"1,1",
            b"0x1",
            b"99999999999999999999",
        ] {
            assert_eq!(
                parse_content_length(value),
                Err(FrameError::InvalidContentLength),
                "{:?}",
                String::from_utf8_lossy(value)
            );
        }
    }

    #[test]
    fn chunked_must_be_the_last_coding_once() {
        let framing = |values: &[&[u8]]| {
            let mut coding = TransferEncoding::default();
            values.iter().try_for_each(|value| coding.add(value))?;
            coding.framing()
        };
        assert_eq!(framing(&[b"chunked"]), Ok(Framing::Chunked));
        assert_eq!(
            framing(&[b"gzip", b" chunked "]),
            Err(FrameError::UnsupportedTransferCoding)
        );
        assert_eq!(
            framing(&[b"chunked", b"chunked"]),
            Err(FrameError::InvalidTransferEncoding)
        );
        assert_eq!(
            framing(&[b"chunked, gzip"]),
            Err(FrameError::InvalidTransferEncoding)
        );
        assert_eq!(framing(&[b""]), Err(FrameError::InvalidTransferEncoding));
    }
}
