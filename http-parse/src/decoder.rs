//! The incremental [`Decoder`]: the state machine that turns a growing buffer into
//! requests. It parses heads with httparse and hands the rest to the other modules:
//! [`crate::framing`] for the framing rules, [`crate::diagnose`] for naming a bad
//! head, [`crate::body`] for the body, [`crate::request`] for the views it returns.

use std::mem::MaybeUninit;

use crate::body::{Advance, Progress};
use crate::diagnose::{diagnose, Diagnosis, Section};
use crate::request::{HeadFacts, HeaderSpan, Span};
use crate::syntax::reject_bare_lf;
use crate::{FrameError, FramingHeaders, Limits, Request, Version};

/// What [`Decoder::decode`] found in the buffer.
#[derive(Debug)]
pub enum Status<'a> {
    /// More bytes are needed. `needed` is the least number of further bytes that can
    /// change the answer, when known; calling again with fewer returns `Partial` again.
    Partial {
        /// Additional bytes needed, if known.
        needed: Option<usize>,
    },
    /// The head is complete, carries `Expect: 100-continue`, and the body has not fully
    /// arrived: the caller should write `HTTP/1.1 100 Continue` ([`crate::CONTINUE`]) and
    /// keep feeding bytes. Reported at most once per request.
    Continue,
    /// A whole request is at the front of the buffer.
    Complete(Request<'a>),
}

/// Everything about a parsed head that outlives httparse's borrow of the buffer.
#[derive(Debug, Clone, Copy)]
struct Head {
    method: Span,
    path: Span,
    facts: HeadFacts,
}

#[derive(Debug)]
enum State {
    Head,
    Body {
        head: Head,
        progress: Progress,
        continue_reported: bool,
    },
}

/// Incremental HTTP/1.1 request decoder.
///
/// Contract: the buffer handed to [`Decoder::decode`] always starts at the first byte of
/// the current request; between calls the caller may only append to it. After
/// [`Status::Complete`], the caller drops the first [`Request::len`] bytes and calls
/// again for the next (pipelined) request. After an error, the connection is done.
///
/// The answer depends only on the bytes, not on how they were split into reads: a
/// request that arrives whole and one that trickles in get the same [`Request`]s and
/// the same [`FrameError`]. To keep it so, the decoder looks at no more than
/// [`Limits::max_head_bytes`] of a head, and when an error can only be named from the
/// rest of its line (`HTTP/2.0` gets 505, `HTTP/2.0x` 400), it waits for that line.
///
/// The decoder keeps offsets, not borrows, so it works with any buffer type, and its
/// header table is reused: no allocation per request once it has grown.
#[derive(Debug)]
pub struct Decoder {
    limits: Limits,
    headers: Vec<HeaderSpan>,
    state: State,
}

impl Decoder {
    /// A decoder enforcing `limits`.
    pub fn new(limits: Limits) -> Self {
        Self {
            limits,
            headers: Vec::with_capacity(limits.header_slots()),
            state: State::Head,
        }
    }

    /// The limits this decoder enforces.
    pub fn limits(&self) -> &Limits {
        &self.limits
    }

    /// Whether the decoder is between requests (no partial request is pending).
    pub fn is_idle(&self) -> bool {
        matches!(self.state, State::Head)
    }

    /// Decodes the request at the front of `buf`. See the type docs for the contract.
    ///
    /// # Errors
    ///
    /// A [`FrameError`] when the bytes are not a request this crate accepts; answer
    /// [`FrameError::status`] and close the connection. The decoder is then idle again,
    /// but the stream cannot be trusted past the error.
    ///
    /// A caller that breaks the contract by handing over a buffer shorter than the one
    /// of the previous call, while a request is pending, gets
    /// [`FrameError::BufferShrank`] (never a panic). A buffer whose earlier bytes were
    /// changed is not detected: the answer is then some request or error, but not a
    /// meaningful one.
    pub fn decode<'a>(&'a mut self, buf: &'a [u8]) -> Result<Status<'a>, FrameError> {
        // The common case, a whole request in one buffer, never stores state and reuses
        // httparse's validated method and path instead of re-checking them as UTF-8.
        let (head, mut progress, continue_reported, names) = match self.state {
            State::Body {
                head,
                progress,
                continue_reported,
            } => {
                if buf.len() < progress.examined() {
                    self.state = State::Head;
                    return Err(FrameError::BufferShrank {
                        decoded: progress.examined(),
                        len: buf.len(),
                    });
                }
                (head, progress, continue_reported, None)
            }
            State::Head => {
                let Some((head, head_len, method, path)) = self.parse_head(buf)? else {
                    return Ok(Status::Partial { needed: None });
                };
                let progress = Progress::new(head.facts.framing, head_len);
                (head, progress, false, Some((method, path)))
            }
        };
        match progress.advance(buf, &self.limits) {
            Ok(Advance::Partial { needed }) => {
                let report_continue = head.facts.expect_continue && !continue_reported;
                self.state = State::Body {
                    head,
                    progress,
                    continue_reported: continue_reported || report_continue,
                };
                Ok(if report_continue {
                    Status::Continue
                } else {
                    Status::Partial { needed }
                })
            }
            Ok(Advance::Complete { end, body }) => {
                self.state = State::Head;
                // The head's bytes were checked when it was parsed; they can only fail
                // here if the caller changed them since.
                let names = match names {
                    Some(names) => names,
                    None => (
                        std::str::from_utf8(head.method.slice(buf))
                            .map_err(|_| FrameError::InvalidMethod)?,
                        std::str::from_utf8(head.path.slice(buf))
                            .map_err(|_| FrameError::NonAsciiTarget)?,
                    ),
                };
                Ok(Status::Complete(Request::new(
                    &buf[..end],
                    &self.headers,
                    names,
                    head.facts,
                    body,
                )))
            }
            Err(error) => {
                self.state = State::Head;
                Err(error)
            }
        }
    }

    /// Parses the head at the front of `buf` into the header table; `None` while it
    /// is incomplete. Returns the head, its length, the method and the path.
    fn parse_head<'a>(
        &mut self,
        buf: &'a [u8],
    ) -> Result<Option<(Head, usize, &'a str, &'a str)>, FrameError> {
        let limits = self.limits;
        // httparse never sees more than `max_head_bytes`, however many bytes have
        // arrived: a stream cut into reads then gets the same answer as the stream
        // whole, and nothing past the limit is scanned.
        let window = &buf[..buf.len().min(limits.max_head_bytes())];
        let truncated = window.len() < buf.len();
        // Uninitialised slots: zeroing 128 headers per call cost more than parsing a
        // small request (measured with perf on the parse bench).
        let mut slots =
            [const { MaybeUninit::<httparse::Header<'_>>::uninit() }; Limits::MAX_HEADERS_CAP];
        let mut request = httparse::Request::new(&mut []);
        let head_len =
            match request.parse_with_uninit_headers(window, &mut slots[..limits.header_slots()]) {
                Ok(httparse::Status::Complete(len)) => len,
                Ok(httparse::Status::Partial) if truncated => {
                    return Err(FrameError::HeadTooLarge {
                        limit: limits.max_head_bytes(),
                    });
                }
                Ok(httparse::Status::Partial) => return Ok(None),
                Err(error) => {
                    return match diagnose(window, error, Section::Head, &limits) {
                        Diagnosis::Decided(error) => Err(error),
                        // The failing line is not complete within the limit.
                        _ if truncated => Err(FrameError::HeadTooLarge {
                            limit: limits.max_head_bytes(),
                        }),
                        Diagnosis::AwaitLineEnd | Diagnosis::AwaitNonBlank => Ok(None),
                    };
                }
            };
        reject_bare_lf(&buf[..head_len])?;

        let version = match request.version {
            Some(0) => Version::Http10,
            _ => Version::Http11,
        };
        let mut framing_headers = FramingHeaders::default();
        self.headers.clear();
        for header in request.headers.iter() {
            self.headers
                .push(HeaderSpan::of(buf, header.name.as_bytes(), header.value));
            framing_headers.add(header.name, header.value)?;
        }
        let facts = HeadFacts {
            version,
            framing: framing_headers.framing(version, &limits)?,
            keep_alive: framing_headers.keep_alive(version),
            expect_continue: framing_headers.expects_continue(version),
        };

        let method = request.method.unwrap_or_default();
        let path = request.path.unwrap_or_default();
        if !path.is_ascii() {
            // httparse lets UTF-8 through; RFC 9112 §3.2 (RFC 3986) wants it
            // percent-encoded, and a proxy may decode raw bytes differently.
            return Err(FrameError::NonAsciiTarget);
        }
        let head = Head {
            method: Span::of(buf, method.as_bytes()),
            path: Span::of(buf, path.as_bytes()),
            facts,
        };
        Ok(Some((head, head_len, method, path)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_shrunk_buffer_is_an_error_not_a_panic() {
        let mut decoder = Decoder::new(Limits::default());
        let chunked = b"POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nab";
        assert!(matches!(
            decoder.decode(chunked),
            Ok(Status::Partial { .. })
        ));
        let error = decoder.decode(&chunked[..10]).unwrap_err();
        assert!(matches!(error, FrameError::BufferShrank { len: 10, .. }));
        assert_eq!(error.status(), 500);
        assert!(decoder.is_idle());

        let fixed = b"POST / HTTP/1.1\r\nContent-Length: 5\r\n\r\nab";
        assert!(matches!(decoder.decode(fixed), Ok(Status::Partial { .. })));
        assert!(matches!(
            decoder.decode(b"POST"),
            Err(FrameError::BufferShrank { decoded, len: 4 }) if decoded == fixed.len() - 2
        ));
    }
}
