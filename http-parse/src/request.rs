//! Views of one decoded request: borrowed slices of the caller's buffer and of the
//! decoder's header table, never copies.

use crate::{Body, Framing};

/// The HTTP versions the decoder accepts; anything else is a [`FrameError`](crate::FrameError).
/// Exhaustive: this crate frames HTTP/1.x only.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Version {
    /// HTTP/1.0: connections close by default.
    Http10,
    /// HTTP/1.1: connections stay open by default.
    Http11,
}

/// Where a part of the request lies in the buffer: offsets, not a borrow, so that the
/// decoder can keep it between reads while the caller appends to the buffer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Span {
    start: usize,
    len: usize,
}

impl Span {
    /// The span of `part`, which must be a subslice of `base`.
    pub(crate) fn of(base: &[u8], part: &[u8]) -> Self {
        Self {
            start: part.as_ptr() as usize - base.as_ptr() as usize,
            len: part.len(),
        }
    }

    /// The bytes of the span in `buf`, or nothing when `buf` is too short (which the
    /// decoder rules out before it hands out a view).
    pub(crate) fn slice<'a>(&self, buf: &'a [u8]) -> &'a [u8] {
        buf.get(self.start..self.start + self.len)
            .unwrap_or_default()
    }
}

/// One header line of the decoder's table.
#[derive(Debug, Clone, Copy)]
pub(crate) struct HeaderSpan {
    name: Span,
    value: Span,
}

impl HeaderSpan {
    /// The spans of `name` and `value`, both subslices of `base`.
    pub(crate) fn of(base: &[u8], name: &[u8], value: &[u8]) -> Self {
        Self {
            name: Span::of(base, name),
            value: Span::of(base, value),
        }
    }
}

/// What a head says beyond its request line and header lines: the decoder works it
/// out once per request, with [`crate::FramingHeaders`].
#[derive(Debug, Clone, Copy)]
pub(crate) struct HeadFacts {
    pub(crate) version: Version,
    pub(crate) framing: Framing,
    pub(crate) keep_alive: bool,
    pub(crate) expect_continue: bool,
}

/// One complete request: views into the caller's buffer and the decoder's header table.
#[derive(Debug, Clone, Copy)]
pub struct Request<'a> {
    bytes: &'a [u8],
    headers: &'a [HeaderSpan],
    method: &'a str,
    target: &'a str,
    path: &'a str,
    query: Option<&'a str>,
    facts: HeadFacts,
    body: Body<'a>,
}

impl<'a> Request<'a> {
    /// A view of the request that occupies all of `bytes`; `headers` are spans into it.
    pub(crate) fn new(
        bytes: &'a [u8],
        headers: &'a [HeaderSpan],
        (method, target): (&'a str, &'a str),
        facts: HeadFacts,
        body: Body<'a>,
    ) -> Self {
        // Split here, once, so that no caller splits the target again.
        let (path, query) = match target.split_once('?') {
            Some((path, query)) => (path, Some(query)),
            None => (target, None),
        };
        Self {
            bytes,
            headers,
            method,
            target,
            path,
            query,
            facts,
            body,
        }
    }

    /// The method token, e.g. `"POST"`.
    pub fn method(&self) -> &'a str {
        self.method
    }

    /// The request target as sent, e.g. `"/topics/t?x=1"`, `"*"` or an absolute URI.
    /// Printable ASCII: the decoder refuses raw non-ASCII bytes and spaces in it.
    pub fn target(&self) -> &'a str {
        self.target
    }

    /// The [`target`](Self::target) up to its first `?`: for the usual origin form,
    /// the path (`"/topics/t"`). As sent, not percent-decoded.
    pub fn path(&self) -> &'a str {
        self.path
    }

    /// What follows the first `?` of the [`target`](Self::target), without it
    /// (`"x=1"`), as sent; `None` without a `?`, `Some("")` for a bare `?`.
    pub fn query(&self) -> Option<&'a str> {
        self.query
    }

    /// The protocol version.
    pub fn version(&self) -> Version {
        self.facts.version
    }

    /// How the body was delimited.
    pub fn framing(&self) -> Framing {
        self.facts.framing
    }

    /// Whether the connection may carry another request after this one's response.
    pub fn keep_alive(&self) -> bool {
        self.facts.keep_alive
    }

    /// Whether the client sent `Expect: 100-continue` (HTTP/1.1 only).
    pub fn expects_continue(&self) -> bool {
        self.facts.expect_continue
    }

    /// The header fields in order, duplicates kept.
    pub fn headers(&self) -> Headers<'a> {
        // The header lines as text, checked once (not once per name), when they are
        // UTF-8: almost always, since only a value's obs-text can make them not. The
        // vectorised check: std's cost about 190 instructions a request here.
        let lines = match (self.headers.first(), self.headers.last()) {
            (Some(first), Some(last)) => {
                let start = first.name.start;
                let end = last.value.start + last.value.len;
                self.bytes
                    .get(start..end)
                    .and_then(|lines| simdutf8::basic::from_utf8(lines).ok())
                    .map(|text| (start, text))
            }
            _ => None,
        };
        Headers {
            buf: self.bytes,
            lines,
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
        self.bytes.len()
    }

    /// Always false: a request has at least a request line. Present for API symmetry.
    pub fn is_empty(&self) -> bool {
        self.bytes.is_empty()
    }

    /// The request's bytes exactly as received: head, body and trailers.
    pub fn as_bytes(&self) -> &'a [u8] {
        self.bytes
    }
}

/// Iterator over `(name, value)` header pairs of a [`Request`].
#[derive(Debug, Clone)]
pub struct Headers<'a> {
    buf: &'a [u8],
    /// Where the header lines start in `buf`, and the lines as text, if UTF-8.
    lines: Option<(usize, &'a str)>,
    spans: std::slice::Iter<'a, HeaderSpan>,
}

impl<'a> Iterator for Headers<'a> {
    type Item = (&'a str, &'a [u8]);

    fn next(&mut self) -> Option<Self::Item> {
        let span = self.spans.next()?;
        // httparse accepted the name as a token, which is ASCII: a slice of the lines'
        // text when they are text, else checked on its own.
        let name = self
            .lines
            .and_then(|(start, text)| {
                let at = span.name.start.checked_sub(start)?;
                text.get(at..at + span.name.len)
            })
            .or_else(|| std::str::from_utf8(span.name.slice(self.buf)).ok())
            .unwrap_or_default();
        Some((name, span.value.slice(self.buf)))
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        self.spans.size_hint()
    }
}

impl ExactSizeIterator for Headers<'_> {}
