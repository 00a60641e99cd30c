//! Request heads and the incremental [`Decoder`].

use std::mem::MaybeUninit;

use crate::body::{Advance, Body, Progress};
use crate::limits::MAX_HEADERS_CAP;
use crate::{FrameError, Limits};

/// The HTTP versions the decoder accepts; anything else is a [`FrameError`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Version {
    /// HTTP/1.0: connections close by default.
    Http10,
    /// HTTP/1.1: connections stay open by default.
    Http11,
}

/// How the request body is delimited on the wire.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Framing {
    /// Neither `Content-Length` nor `Transfer-Encoding`: the request has no body.
    None,
    /// `Content-Length: n`.
    Length(usize),
    /// `Transfer-Encoding: chunked`.
    Chunked,
}

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

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Span {
    start: usize,
    len: usize,
}

impl Span {
    fn of(base: &[u8], part: &[u8]) -> Self {
        Self {
            start: part.as_ptr() as usize - base.as_ptr() as usize,
            len: part.len(),
        }
    }

    fn slice<'a>(&self, buf: &'a [u8]) -> &'a [u8] {
        &buf[self.start..self.start + self.len]
    }
}

#[derive(Debug, Clone, Copy)]
struct HeaderSpan {
    name: Span,
    value: Span,
}

/// Everything about a parsed head that outlives httparse's borrow of the buffer.
#[derive(Debug, Clone, Copy)]
struct Head {
    len: usize,
    method: Span,
    path: Span,
    version: Version,
    framing: Framing,
    keep_alive: bool,
    expect_continue: bool,
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
    pub fn decode<'a>(&'a mut self, buf: &'a [u8]) -> Result<Status<'a>, FrameError> {
        // The common case, a whole request in one buffer, never stores state and reuses
        // httparse's validated method and path instead of re-checking them as UTF-8.
        let (head, mut progress, continue_reported, names) = match self.state {
            State::Body {
                head,
                progress,
                continue_reported,
            } => (head, progress, continue_reported, None),
            State::Head => {
                let Some((head, method, path)) = self.parse_head(buf)? else {
                    return Ok(Status::Partial { needed: None });
                };
                let progress = Progress::new(head.framing, head.len);
                (head, progress, false, Some((method, path)))
            }
        };
        match progress.advance(buf, &self.limits) {
            Ok(Advance::Partial { needed }) => {
                let report_continue = head.expect_continue && !continue_reported;
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
                let (method, path) = match names {
                    Some(names) => names,
                    None => (
                        std::str::from_utf8(head.method.slice(buf))
                            .map_err(|_| FrameError::Malformed("method is not ASCII"))?,
                        std::str::from_utf8(head.path.slice(buf))
                            .map_err(|_| FrameError::Malformed("request target is not UTF-8"))?,
                    ),
                };
                Ok(Status::Complete(Request {
                    buf,
                    headers: &self.headers,
                    head,
                    method,
                    path,
                    body,
                    len: end,
                }))
            }
            Err(error) => {
                self.state = State::Head;
                Err(error)
            }
        }
    }

    fn parse_head<'a>(
        &mut self,
        buf: &'a [u8],
    ) -> Result<Option<(Head, &'a str, &'a str)>, FrameError> {
        let limits = self.limits;
        // httparse never sees more than `max_head_bytes`, however many bytes have
        // arrived: a stream cut into reads then gets the same answer as the stream
        // whole, and nothing past the limit is scanned.
        let window = &buf[..buf.len().min(limits.max_head_bytes)];
        let truncated = window.len() < buf.len();
        // Uninitialised slots: zeroing 128 headers per call cost more than parsing a
        // small request (measured with perf on the parse bench).
        let mut slots = [const { MaybeUninit::<httparse::Header<'_>>::uninit() }; MAX_HEADERS_CAP];
        let mut request = httparse::Request::new(&mut []);
        let head_len =
            match request.parse_with_uninit_headers(window, &mut slots[..limits.header_slots()]) {
                Ok(httparse::Status::Complete(len)) => len,
                Ok(httparse::Status::Partial) if truncated => {
                    return Err(FrameError::HeadTooLarge {
                        limit: limits.max_head_bytes,
                    });
                }
                Ok(httparse::Status::Partial) => return Ok(None),
                Err(error) => {
                    return match diagnose(window, error, &limits) {
                        Some(error) => Err(error),
                        // The failing line is not complete within the limit.
                        None if truncated => Err(FrameError::HeadTooLarge {
                            limit: limits.max_head_bytes,
                        }),
                        None => Ok(None),
                    };
                }
            };
        reject_bare_lf(&buf[..head_len])?;

        let version = match request.version {
            Some(0) => Version::Http10,
            _ => Version::Http11,
        };
        let mut facts = FramingHeaders::default();
        self.headers.clear();
        for header in request.headers.iter() {
            self.headers.push(HeaderSpan {
                name: Span::of(buf, header.name.as_bytes()),
                value: Span::of(buf, header.value),
            });
            facts.add(header.name, header.value)?;
        }
        let framing = facts.framing(version, &limits)?;
        let keep_alive = facts.keep_alive(version);
        let expect_continue = facts.expects_continue(version);

        let method = request.method.unwrap_or_default();
        let path = request.path.unwrap_or_default();
        if !path.is_ascii() {
            // httparse lets UTF-8 through; RFC 9112 §3.2 (RFC 3986) wants it
            // percent-encoded, and a proxy may decode raw bytes differently.
            return Err(FrameError::Malformed(
                "raw non-ASCII byte in request target",
            ));
        }
        let head = Head {
            len: head_len,
            method: Span::of(buf, method.as_bytes()),
            path: Span::of(buf, path.as_bytes()),
            version,
            framing,
            keep_alive,
            expect_continue,
        };
        Ok(Some((head, method, path)))
    }
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
    /// Takes one header field into account. Fails at once on a duplicate or
    /// non-decimal `Content-Length` and on `Transfer-Encoding` codings after `chunked`.
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
                for token in tokens(value) {
                    self.connection_close |= token.eq_ignore_ascii_case(b"close");
                    self.connection_keep_alive |= token.eq_ignore_ascii_case(b"keep-alive");
                }
            }
            6 if name.eq_ignore_ascii_case("expect") => {
                self.expect_continue |= trim(value).eq_ignore_ascii_case(b"100-continue");
            }
            _ => {}
        }
        Ok(())
    }

    /// How the body is framed, once every header was added; refuses both
    /// `Content-Length` and `Transfer-Encoding`, `Transfer-Encoding` from HTTP/1.0,
    /// unknown codings (501) and declared lengths over the body limit (413).
    pub fn framing(&self, version: Version, limits: &Limits) -> Result<Framing, FrameError> {
        match (self.transfer_encoding.seen, self.content_length) {
            (true, Some(_)) => Err(FrameError::ConflictingFraming),
            (true, None) if version == Version::Http10 => Err(FrameError::InvalidTransferEncoding),
            (true, None) => self.transfer_encoding.framing(),
            (false, Some(len)) if len > limits.max_body_bytes => Err(FrameError::BodyTooLarge {
                limit: limits.max_body_bytes,
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
        for coding in value.split(|&b| b == b',').map(trim) {
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

/// httparse accepts a bare LF as a line end; HTTP/1.1 servers must not (it is a
/// request-smuggling vector when a proxy in front disagrees).
pub(crate) fn reject_bare_lf(head: &[u8]) -> Result<(), FrameError> {
    // One branch-free pass the compiler vectorises: a memchr call per line cost a
    // tenth of the whole decode on small requests (perf, parse bench).
    let leading = u8::from(head.first() == Some(&b'\n'));
    let bare = head
        .iter()
        .zip(&head[1.min(head.len())..])
        .fold(leading, |bare, (&prev, &byte)| {
            bare | (u8::from(byte == b'\n') & u8::from(prev != b'\r'))
        });
    if bare == 0 {
        Ok(())
    } else {
        Err(FrameError::BareLineFeed)
    }
}

/// Turns an httparse error on `window` (the head bytes httparse saw) into the most
/// specific [`FrameError`], or `None` when that depends on bytes that have not arrived.
///
/// Most error kinds say all there is to say. For a bad version or header name the
/// failing line tells more (505 or 400, folding or whitespace before a colon), so we
/// look at that line, and only at it: lines after it, or body bytes, must not change
/// the answer, or a request would get a different one depending on how it arrived.
fn diagnose(window: &[u8], error: httparse::Error, limits: &Limits) -> Option<FrameError> {
    Some(match error {
        httparse::Error::TooManyHeaders => FrameError::TooManyHeaders {
            limit: limits.max_headers,
        },
        httparse::Error::Version => return diagnose_version(request_line(window)),
        httparse::Error::HeaderName => return diagnose_header_name(failing_line(window, limits)),
        httparse::Error::HeaderValue => FrameError::Malformed("invalid header value"),
        httparse::Error::NewLine => FrameError::Malformed("invalid line ending"),
        httparse::Error::Token => FrameError::Malformed("invalid token in request line"),
        httparse::Error::Status => FrameError::Malformed("invalid request line"),
    })
}

/// The request line and what follows it: httparse skips empty lines before it.
fn request_line(window: &[u8]) -> &[u8] {
    let mut rest = window;
    while let Some(after) = rest
        .strip_prefix(b"\r\n")
        .or_else(|| rest.strip_prefix(b"\n"))
    {
        rest = after;
    }
    rest
}

/// A version error: httparse accepted `method SP target SP`, and what follows up to
/// the line end is not `HTTP/1.0` or `HTTP/1.1`. `None` until the line end arrives.
fn diagnose_version(request_line: &[u8]) -> Option<FrameError> {
    let after_target = request_line.splitn(3, |&b| b == b' ').nth(2)?;
    let line_end = memchr::memchr(b'\n', after_target)?;
    let version = &after_target[..line_end];
    let version = version.strip_suffix(b"\r").unwrap_or(version);
    let last_word = version.rsplit(|&b| b == b' ').next().unwrap_or_default();
    Some(if is_http_version(version) {
        FrameError::UnsupportedVersion
    } else if is_http_version(last_word) {
        // `GET /a b HTTP/1.1`: the target has a space, the version is fine (RFC 9112
        // §3.2 wants 400, not 505).
        FrameError::Malformed("space in request target")
    } else {
        FrameError::Malformed("invalid HTTP version")
    })
}

/// `HTTP-version = HTTP-name "/" DIGIT "." DIGIT` (RFC 9112 §2.3).
fn is_http_version(word: &[u8]) -> bool {
    matches!(word, [b'H', b'T', b'T', b'P', b'/', major, b'.', minor]
        if major.is_ascii_digit() && minor.is_ascii_digit())
}

/// The line of `window` in which httparse finds its error, from its first byte up to
/// its LF or the end of the window. httparse scans left to right, so on a prefix of
/// `window` that ends after a LF it answers `Partial` exactly when the error lies in a
/// later line: a binary search over those prefixes finds the line. Only on the error
/// path, so the few extra parses do not matter.
fn failing_line<'a>(window: &'a [u8], limits: &Limits) -> &'a [u8] {
    let line_ends: Vec<usize> = memchr::memchr_iter(b'\n', window)
        .map(|lf| lf + 1)
        .collect();
    let fails_within = |end: usize| {
        let mut slots = [const { MaybeUninit::<httparse::Header<'_>>::uninit() }; MAX_HEADERS_CAP];
        httparse::Request::new(&mut [])
            .parse_with_uninit_headers(&window[..end], &mut slots[..limits.header_slots()])
            .is_err()
    };
    let failing = line_ends.partition_point(|&end| !fails_within(end));
    let start = failing
        .checked_sub(1)
        .map_or(0, |previous| line_ends[previous]);
    let end = line_ends.get(failing).copied().unwrap_or(window.len());
    &window[start..end]
}

/// A header-name error on `line`. `None` while the line is a name and whitespace
/// only: a colon next would make it whitespace before a colon, anything else a bad
/// name.
fn diagnose_header_name(line: &[u8]) -> Option<FrameError> {
    if let Some(b' ' | b'\t') = line.first() {
        return Some(FrameError::ObsoleteLineFolding);
    }
    let name_len = line.iter().take_while(|&&b| is_tchar(b)).count();
    let after_name = &line[name_len..];
    if name_len == 0 || !matches!(after_name.first(), Some(b' ' | b'\t')) {
        return Some(FrameError::Malformed("invalid header name"));
    }
    let next = after_name.iter().find(|&&b| b != b' ' && b != b'\t')?;
    Some(if *next == b':' {
        FrameError::WhitespaceBeforeColon
    } else {
        FrameError::Malformed("invalid header name")
    })
}

/// `tchar` (RFC 9110 §5.6.2): the bytes of a token, such as a header name.
pub(crate) fn is_tchar(b: u8) -> bool {
    matches!(b,
        b'0'..=b'9' | b'A'..=b'Z' | b'a'..=b'z'
        | b'!' | b'#' | b'$' | b'%' | b'&' | b'\'' | b'*' | b'+'
        | b'-' | b'.' | b'^' | b'_' | b'`' | b'|' | b'~')
}

fn trim(bytes: &[u8]) -> &[u8] {
    let start = bytes.iter().position(|&b| b != b' ' && b != b'\t');
    let end = bytes.iter().rposition(|&b| b != b' ' && b != b'\t');
    match (start, end) {
        (Some(start), Some(end)) => &bytes[start..=end],
        _ => &[],
    }
}

fn tokens(value: &[u8]) -> impl Iterator<Item = &[u8]> {
    value.split(|&b| b == b',').map(trim)
}

/// One complete request: views into the caller's buffer and the decoder's header table.
#[derive(Debug, Clone, Copy)]
pub struct Request<'a> {
    buf: &'a [u8],
    headers: &'a [HeaderSpan],
    head: Head,
    method: &'a str,
    path: &'a str,
    body: Body<'a>,
    len: usize,
}

impl<'a> Request<'a> {
    /// The method token, e.g. `"POST"`.
    pub fn method(&self) -> &'a str {
        self.method
    }

    /// The request target as sent, e.g. `"/"` or `"/path?query"`.
    pub fn path(&self) -> &'a str {
        self.path
    }

    /// The protocol version.
    pub fn version(&self) -> Version {
        self.head.version
    }

    /// How the body was delimited.
    pub fn framing(&self) -> Framing {
        self.head.framing
    }

    /// Whether the connection may carry another request after this one's response.
    pub fn keep_alive(&self) -> bool {
        self.head.keep_alive
    }

    /// Whether the client sent `Expect: 100-continue` (HTTP/1.1 only).
    pub fn expects_continue(&self) -> bool {
        self.head.expect_continue
    }

    /// The header fields in order, duplicates kept.
    pub fn headers(&self) -> Headers<'a> {
        Headers {
            buf: self.buf,
            spans: self.headers.iter(),
        }
    }

    /// The value of the first header named `name` (ASCII case-insensitive).
    pub fn header(&self, name: &str) -> Option<&'a [u8]> {
        self.headers()
            .find(|(candidate, _)| candidate.eq_ignore_ascii_case(name))
            .map(|(_, value)| value)
    }

    /// The body.
    pub fn body(&self) -> Body<'a> {
        self.body
    }

    /// Bytes of the buffer this request occupies; drop them before decoding the next.
    pub fn len(&self) -> usize {
        self.len
    }

    /// Always false: a request has at least a request line. Present for API symmetry.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// The request's bytes exactly as received: head, body and trailers.
    pub fn as_bytes(&self) -> &'a [u8] {
        &self.buf[..self.len]
    }
}

/// Iterator over `(name, value)` header pairs of a [`Request`].
#[derive(Debug, Clone)]
pub struct Headers<'a> {
    buf: &'a [u8],
    spans: std::slice::Iter<'a, HeaderSpan>,
}

impl<'a> Iterator for Headers<'a> {
    type Item = (&'a str, &'a [u8]);

    fn next(&mut self) -> Option<Self::Item> {
        let span = self.spans.next()?;
        // httparse accepted the name as a token, which is ASCII.
        let name = std::str::from_utf8(span.name.slice(self.buf)).unwrap_or_default();
        Some((name, span.value.slice(self.buf)))
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        self.spans.size_hint()
    }
}
