//! The incremental [`Decoder`]: the state machine that turns a growing buffer into
//! requests. It parses heads with httparse and hands the rest to the other modules:
//! [`crate::scan`] for when a head that arrives in pieces is worth parsing again,
//! [`crate::framing`] for the framing rules, [`crate::diagnose`] for naming a bad
//! head, [`crate::body`] for the body, [`crate::request`] for the views it returns.

use std::mem::MaybeUninit;

use crate::body::{Advance, Progress};
use crate::diagnose::Section;
use crate::request::{HeadFacts, HeaderSpan, Span};
use crate::scan::{count, outcome, Next, Parsed, Scan};
use crate::syntax::reject_bare_lf;
use crate::{FrameError, FramingHeaders, Limits, Request, Version};

/// What [`Decoder::decode`] found in the buffer.
///
/// Not `#[non_exhaustive]`: a caller's read loop must handle every answer, and a new
/// kind of answer (an upgrade, say) would change what it has to do, so it should stop
/// the caller's build rather than fall into a wildcard arm that just reads on.
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
    target: Span,
    facts: HeadFacts,
}

/// What [`Decoder::parse_head`] found.
enum HeadParse<'a> {
    /// The head, its length, the method and the target.
    Complete(Head, usize, &'a str, &'a str),
    /// Not a whole head yet; the scan that waits for the bytes that may change that.
    Incomplete(Scan),
}

#[derive(Debug, Clone, Copy)]
enum State {
    /// Between requests (`None`), or inside a head that has not arrived whole.
    Head(Option<Scan>),
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
/// The work is linear in the bytes, however they were split: a head that arrives in
/// pieces is parsed again only once the new bytes can change the answer (they end
/// the head, or hold a byte httparse refuses, or pass a limit), not on every read.
/// Between those parses the decoder remembers how far it looked, which is why the
/// buffer may only grow. One exception, for servers that ignore the empty lines
/// before a request (RFC 9112 §2.2): while a head is incomplete, the caller may drop
/// all the CRLFs that start the buffer; the decoder notices and looks again.
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
            state: State::Head(None),
        }
    }

    /// The limits this decoder enforces.
    pub fn limits(&self) -> &Limits {
        &self.limits
    }

    /// Whether no request head is complete whose body is still to come: true between
    /// requests and while a head is arriving, false from a complete head until its
    /// request is.
    pub fn is_idle(&self) -> bool {
        matches!(self.state, State::Head(_))
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
    /// of the previous call, while the body of a request is pending, gets
    /// [`FrameError::BufferShrank`] (never a panic); while a head is arriving, the
    /// decoder takes it as dropped empty lines and looks at the head again. A buffer
    /// whose earlier bytes were changed otherwise is not detected: the answer is then
    /// some request or error, but not a meaningful one.
    pub fn decode<'a>(&'a mut self, buf: &'a [u8]) -> Result<Status<'a>, FrameError> {
        // The common case, a whole request in one buffer, is parsed at once, never stores
        // state and reuses httparse's validated method and target instead of re-checking
        // them as UTF-8.
        let (head, mut progress, continue_reported, names) = match self.state {
            State::Body {
                head,
                progress,
                continue_reported,
            } => {
                if buf.len() < progress.examined() {
                    self.state = State::Head(None);
                    return Err(FrameError::BufferShrank {
                        decoded: progress.examined(),
                        len: buf.len(),
                    });
                }
                (head, progress, continue_reported, None)
            }
            State::Head(scan) => {
                if let Some(mut scan) = scan {
                    if scan.next(buf, &self.limits) == Next::Partial {
                        self.state = State::Head(Some(scan));
                        return Ok(Status::Partial { needed: None });
                    }
                }
                let (head, head_len, method, target) = match self.parse_head(buf) {
                    Ok(HeadParse::Complete(head, head_len, method, target)) => {
                        (head, head_len, method, target)
                    }
                    Ok(HeadParse::Incomplete(scan)) => {
                        self.state = State::Head(Some(scan));
                        return Ok(Status::Partial { needed: None });
                    }
                    Err(error) => {
                        self.state = State::Head(None);
                        return Err(error);
                    }
                };
                let progress = Progress::new(head.facts.framing, head_len);
                (head, progress, false, Some((method, target)))
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
                self.state = State::Head(None);
                // The head's bytes were checked when it was parsed; they can only fail
                // here if the caller changed them since.
                let names = match names {
                    Some(names) => names,
                    None => (
                        std::str::from_utf8(head.method.slice(buf))
                            .map_err(|_| FrameError::InvalidMethod)?,
                        std::str::from_utf8(head.target.slice(buf))
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
                self.state = State::Head(None);
                Err(error)
            }
        }
    }

    /// Parses the head at the front of `buf` into the header table, or says what an
    /// incomplete head waits for.
    fn parse_head<'a>(&mut self, buf: &'a [u8]) -> Result<HeadParse<'a>, FrameError> {
        let limits = self.limits;
        // httparse never sees more than `max_head_bytes`, however many bytes have
        // arrived: a stream cut into reads then gets the same answer as the stream
        // whole, and nothing past the limit is scanned.
        let window = &buf[..buf.len().min(limits.max_head_bytes())];
        count(window.len());
        // Uninitialised slots: zeroing 128 headers per call cost more than parsing a
        // small request (measured with perf on the parse bench).
        let mut slots =
            [const { MaybeUninit::<httparse::Header<'_>>::uninit() }; Limits::MAX_HEADERS_CAP];
        let mut request = httparse::Request::new(&mut []);
        let result = request.parse_with_uninit_headers(window, &mut slots[..limits.header_slots()]);
        let truncated = window.len() < buf.len();
        let head_len = match outcome(result, window, truncated, Section::Head, &limits)? {
            Parsed::Complete(len) => len,
            Parsed::Incomplete(why) => {
                return Ok(HeadParse::Incomplete(Scan::resume(
                    window,
                    Section::Head,
                    why,
                    &limits,
                )))
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
        let target = request.path.unwrap_or_default();
        if !target.is_ascii() {
            // httparse lets UTF-8 through; RFC 9112 §3.2 (RFC 3986) wants it
            // percent-encoded, and a proxy may decode raw bytes differently.
            return Err(FrameError::NonAsciiTarget);
        }
        let head = Head {
            method: Span::of(buf, method.as_bytes()),
            target: Span::of(buf, target.as_bytes()),
            facts,
        };
        Ok(HeadParse::Complete(head, head_len, method, target))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::scan::take_counted;

    /// Feeds `input` one byte at a time to a fresh decoder, as a slow client would.
    /// Returns what the last call answered (`Ok(true)` for a complete request) and the
    /// bytes handed to httparse or scanned on the way.
    fn trickle(limits: Limits, input: &[u8]) -> (Result<bool, FrameError>, usize) {
        let mut decoder = Decoder::new(limits);
        take_counted();
        let mut answer = Ok(false);
        for end in 1..=input.len() {
            answer = match decoder.decode(&input[..end]) {
                Ok(Status::Complete(request)) => {
                    assert_eq!(request.len(), end);
                    Ok(true)
                }
                Ok(Status::Partial { .. } | Status::Continue) => Ok(false),
                Err(error) => Err(error),
            };
            if answer != Ok(false) {
                assert_eq!(end, input.len(), "answered before the last byte");
                break;
            }
        }
        (answer, take_counted())
    }

    /// A request line, then `lines` field lines of 145 bytes.
    fn long_head(lines: usize) -> Vec<u8> {
        let mut head = b"POST /topics/events HTTP/1.1\r\n".to_vec();
        for i in 0..lines {
            head.extend_from_slice(format!("X-Header-{i:02}: {}\r\n", "v".repeat(130)).as_bytes());
        }
        head
    }

    #[test]
    fn a_head_trickled_byte_by_byte_costs_work_linear_in_its_length() {
        let mut head = long_head(60);
        head.extend_from_slice(b"\r\n");
        assert!(head.len() > 8 * 1024);
        let (answer, work) = trickle(Limits::default(), &head);
        assert_eq!(answer, Ok(true));
        // Parsing the whole head once per read would be about 33 million bytes.
        assert!(
            work <= 3 * head.len(),
            "{work} bytes of work for {}",
            head.len()
        );
    }

    #[test]
    fn trailers_trickled_byte_by_byte_cost_work_linear_in_their_length() {
        let mut request = b"POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n".to_vec();
        let head = long_head(60);
        request.extend_from_slice(&head[head.iter().position(|&b| b == b'\n').unwrap() + 1..]);
        request.extend_from_slice(b"\r\n");
        assert!(request.len() > 8 * 1024);
        let (answer, work) = trickle(Limits::default(), &request);
        assert_eq!(answer, Ok(true));
        assert!(
            work <= 3 * request.len(),
            "{work} bytes of work for {}",
            request.len()
        );
    }

    #[test]
    fn an_error_named_by_a_later_byte_costs_work_linear_in_the_bytes_before_it() {
        // Whitespace after a header name is an error whose name (whitespace before a
        // colon, or a bad name) waits for the first other byte.
        let mut head = b"GET / HTTP/1.1\r\nHost: x\r\nX-A".to_vec();
        head.extend_from_slice(&[b' '; 8 * 1024]);
        head.push(b':');
        let (answer, work) = trickle(Limits::default(), &head);
        assert_eq!(answer, Err(FrameError::WhitespaceBeforeColon));
        assert!(
            work <= 6 * head.len(),
            "{work} bytes of work for {}",
            head.len()
        );
        // A bad version is named at the end of its line.
        let mut head = b"GET / HTTP/2.0".to_vec();
        head.extend_from_slice(&[b'x'; 8 * 1024]);
        head.extend_from_slice(b"\r\n");
        let (answer, work) = trickle(Limits::default(), &head);
        assert_eq!(answer, Err(FrameError::InvalidVersion));
        assert!(
            work <= 6 * head.len(),
            "{work} bytes of work for {}",
            head.len()
        );
    }

    #[test]
    fn dropping_the_empty_lines_that_start_a_head_is_noticed() {
        // http-conn drops CRLFs before a request while the decoder is idle. Here the
        // decoder saw a lone CR; the client's next bytes complete it to an empty line,
        // which the caller drops with the CR: the buffer now starts with the method.
        let mut decoder = Decoder::new(Limits::default());
        assert!(matches!(decoder.decode(b"\r"), Ok(Status::Partial { .. })));
        let rest = b"G\n\r\n";
        let fresh = Decoder::new(Limits::default()).decode(rest).unwrap_err();
        assert_eq!(fresh, FrameError::InvalidTarget);
        assert_eq!(decoder.decode(rest).unwrap_err(), fresh);
    }

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
