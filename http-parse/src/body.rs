//! Body framing: `Content-Length` and `Transfer-Encoding: chunked` (with trailers).
//!
//! Chunked scanning is resumable: [`Progress`] remembers how far it validated, so
//! a body that arrives in many reads is scanned once, not once per read; trailers
//! are scanned as heads are ([`crate::scan`]).

use memchr::memchr;

use crate::diagnose::Section;
use crate::scan::{count, outcome, Next, Parsed, Scan};
use crate::syntax::{is_tchar, reject_bare_lf};
use crate::{FrameError, Framing, Limits};

/// A complete request body: borrowed views into the caller's buffer, never a copy.
///
/// Not `#[non_exhaustive]`: like [`Framing`], it follows the only two ways RFC 9112
/// §6.3 leaves a request body to be delimited. A caller that does not care which one
/// arrived uses [`Body::chunks`] or [`Body::as_contiguous`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Body<'a> {
    /// A body framed by `Content-Length`, or no body at all (empty slice).
    Full(&'a [u8]),
    /// A `Transfer-Encoding: chunked` body, still in its wire form.
    Chunked(ChunkedBody<'a>),
}

impl<'a> Body<'a> {
    /// Decoded body length in bytes.
    pub fn len(&self) -> usize {
        match self {
            Self::Full(bytes) => bytes.len(),
            Self::Chunked(chunked) => chunked.len,
        }
    }

    /// Whether the decoded body is empty.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The body as one slice when it is contiguous on the wire: always for
    /// `Content-Length` bodies, and for chunked bodies of at most one chunk.
    pub fn as_contiguous(&self) -> Option<&'a [u8]> {
        match self {
            Self::Full(bytes) => Some(bytes),
            Self::Chunked(chunked) => {
                let mut chunks = chunked.chunks();
                match (chunks.next(), chunks.next()) {
                    (None, _) => Some(&[]),
                    (Some(only), None) => Some(only),
                    (Some(_), Some(_)) => None,
                }
            }
        }
    }

    /// The decoded body in order, one slice per chunk (one slice for `Full`).
    pub fn chunks(&self) -> Chunks<'a> {
        match self {
            Self::Full(bytes) => Chunks {
                full: Some(bytes),
                raw: &[],
            },
            Self::Chunked(chunked) => chunked.chunks(),
        }
    }

    /// Appends the decoded body to `out`; the only copying accessor, for callers that
    /// need one slice of a multi-chunk body.
    pub fn copy_into(&self, out: &mut Vec<u8>) {
        out.reserve(self.len());
        for chunk in self.chunks() {
            out.extend_from_slice(chunk);
        }
    }
}

/// A validated chunked body in wire form.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ChunkedBody<'a> {
    raw: &'a [u8],
    trailers: &'a [u8],
    len: usize,
}

impl<'a> ChunkedBody<'a> {
    /// The decoded chunk data, in order.
    pub fn chunks(&self) -> Chunks<'a> {
        Chunks {
            full: None,
            raw: self.raw,
        }
    }

    /// The raw trailer section (field lines and the final CRLF), already validated
    /// against the header limits; `b"\r\n"` when there are no trailers.
    pub fn trailers(&self) -> &'a [u8] {
        self.trailers
    }
}

/// Iterator over the data slices of a [`Body`].
#[derive(Debug, Clone)]
pub struct Chunks<'a> {
    full: Option<&'a [u8]>,
    raw: &'a [u8],
}

impl<'a> Iterator for Chunks<'a> {
    type Item = &'a [u8];

    fn next(&mut self) -> Option<&'a [u8]> {
        if let Some(full) = self.full.take() {
            return (!full.is_empty()).then_some(full);
        }
        // `raw` was validated by `Progress` with the same parser, so this cannot fail
        // unless the caller broke the buffer contract; then the iteration ends rather
        // than panicking. The line limit was enforced then, so it is not repeated.
        let SizeLine { size, len } = size_line(self.raw, usize::MAX).ok()??;
        let data = self.raw.get(len..len.checked_add(size)?)?;
        if size == 0 {
            self.raw = &[];
            return None;
        }
        self.raw = self.raw.get(len + size + 2..).unwrap_or(&[]);
        Some(data)
    }
}

/// Where body framing stands for the request whose head has been parsed.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Progress {
    Fixed { start: usize, end: usize },
    Chunked(ChunkedProgress),
}

#[derive(Debug, Clone, Copy)]
pub(crate) struct ChunkedProgress {
    start: usize,
    pos: usize,
    decoded: usize,
    data_end: usize,
    phase: Phase,
}

#[derive(Debug, Clone, Copy)]
enum Phase {
    SizeLine,
    Data {
        size: usize,
    },
    /// The trailer section, with the scan of what arrived of it when incomplete.
    Trailers(Option<Scan>),
}

/// What one call to [`Progress::advance`] found.
pub(crate) enum Advance<'a> {
    Partial { needed: Option<usize> },
    Complete { end: usize, body: Body<'a> },
}

impl Progress {
    pub(crate) fn new(framing: Framing, head_len: usize) -> Self {
        match framing {
            Framing::None => Self::Fixed {
                start: head_len,
                end: head_len,
            },
            // `len` is within the body limit, which a caller may set to `usize::MAX`:
            // saturating, the request then never completes instead of wrapping.
            Framing::Length(len) => Self::Fixed {
                start: head_len,
                end: head_len.saturating_add(len),
            },
            Framing::Chunked => Self::Chunked(ChunkedProgress {
                start: head_len,
                pos: head_len,
                decoded: 0,
                data_end: head_len,
                phase: Phase::SizeLine,
            }),
        }
    }

    /// How many bytes of the buffer earlier calls looked at: a buffer shorter than
    /// this broke the append-only contract.
    pub(crate) fn examined(&self) -> usize {
        match self {
            Self::Fixed { start, .. } => *start,
            Self::Chunked(chunked) => match chunked.phase {
                Phase::Trailers(Some(scan)) => chunked.pos + scan.examined(),
                _ => chunked.pos,
            },
        }
    }

    /// Frames as much of the body as `buf` holds. `buf` must be at least
    /// [`Progress::examined`] bytes long.
    pub(crate) fn advance<'a>(
        &mut self,
        buf: &'a [u8],
        limits: &Limits,
    ) -> Result<Advance<'a>, FrameError> {
        match self {
            Self::Fixed { start, end } => Ok(if buf.len() >= *end {
                Advance::Complete {
                    end: *end,
                    body: Body::Full(&buf[*start..*end]),
                }
            } else {
                Advance::Partial {
                    needed: Some(*end - buf.len()),
                }
            }),
            Self::Chunked(chunked) => chunked.advance(buf, limits),
        }
    }
}

impl ChunkedProgress {
    fn advance<'a>(&mut self, buf: &'a [u8], limits: &Limits) -> Result<Advance<'a>, FrameError> {
        loop {
            match self.phase {
                Phase::SizeLine => {
                    let Some(SizeLine { size, len }) =
                        size_line(&buf[self.pos..], limits.max_chunk_line_bytes())?
                    else {
                        return Ok(Advance::Partial { needed: None });
                    };
                    self.pos += len;
                    if size == 0 {
                        self.data_end = self.pos;
                        self.phase = Phase::Trailers(None);
                        continue;
                    }
                    self.decoded = self
                        .decoded
                        .checked_add(size)
                        .filter(|&total| total <= limits.max_body_bytes())
                        .ok_or(FrameError::BodyTooLarge {
                            limit: limits.max_body_bytes(),
                        })?;
                    self.phase = Phase::Data { size };
                }
                Phase::Data { size } => {
                    let available = buf.len() - self.pos;
                    // Saturating: `size` is only bounded by the body limit.
                    let wanted = size.saturating_add(2);
                    if available < wanted {
                        return Ok(Advance::Partial {
                            needed: Some(wanted - available),
                        });
                    }
                    if &buf[self.pos + size..self.pos + wanted] != b"\r\n" {
                        return Err(FrameError::InvalidChunkTerminator);
                    }
                    self.pos += wanted;
                    self.phase = Phase::SizeLine;
                }
                Phase::Trailers(scan) => {
                    let rest = &buf[self.pos..];
                    if let Some(mut scan) = scan {
                        let next = scan.next(rest, limits);
                        self.phase = Phase::Trailers(Some(scan));
                        if next == Next::Partial {
                            return Ok(Advance::Partial { needed: None });
                        }
                    }
                    let trailer_len = match parse_trailers(rest, limits)? {
                        Parsed::Complete(len) => len,
                        Parsed::Incomplete(scan) => {
                            self.phase = Phase::Trailers(Some(scan));
                            return Ok(Advance::Partial { needed: None });
                        }
                    };
                    let end = self.pos + trailer_len;
                    return Ok(Advance::Complete {
                        end,
                        body: Body::Chunked(ChunkedBody {
                            raw: &buf[self.start..self.data_end],
                            trailers: &buf[self.data_end..end],
                            len: self.decoded,
                        }),
                    });
                }
            }
        }
    }
}

/// A chunk-size line at the front of the chunked data.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct SizeLine {
    /// The chunk size it declares.
    size: usize,
    /// Its length including extensions and the CRLF.
    len: usize,
}

/// The one chunk-size parser: reads the line at the front of `rest`, `Ok(None)` while
/// its LF has not arrived within `max_line_bytes`. Used while framing (`Progress`) and
/// again while iterating ([`Chunks`]), so both read a line the same way.
fn size_line(rest: &[u8], max_line_bytes: usize) -> Result<Option<SizeLine>, FrameError> {
    let Some(lf) = memchr(b'\n', rest) else {
        if rest.len() >= max_line_bytes {
            return Err(FrameError::InvalidChunkSize);
        }
        return Ok(None);
    };
    if lf >= max_line_bytes {
        return Err(FrameError::InvalidChunkSize);
    }
    if lf == 0 || rest[lf - 1] != b'\r' {
        return Err(FrameError::BareLineFeed);
    }
    Ok(Some(SizeLine {
        size: parse_chunk_size_line(&rest[..lf - 1])?,
        len: lf + 1,
    }))
}

/// Parses `1*HEXDIG [ chunk-ext ]` (RFC 9112 §7.1) without the CRLF.
/// Signs, `0x` prefixes, leading whitespace and control bytes are refused.
fn parse_chunk_size_line(line: &[u8]) -> Result<usize, FrameError> {
    let digits = line.iter().take_while(|b| b.is_ascii_hexdigit()).count();
    if digits == 0 {
        return Err(FrameError::InvalidChunkSize);
    }
    let size = line[..digits].iter().try_fold(0usize, |acc, &b| {
        acc.checked_mul(16)
            .and_then(|acc| acc.checked_add(hex_value(b) as usize))
            .ok_or(FrameError::ChunkSizeOverflow)
    })?;
    if is_chunk_ext(&line[digits..]) {
        Ok(size)
    } else {
        Err(FrameError::InvalidChunkSize)
    }
}

/// Whether `rest` is a whole `chunk-ext` (RFC 9112 §7.1.1):
/// `*( BWS ";" BWS chunk-ext-name [ BWS "=" BWS chunk-ext-val ] )`, where a name is a
/// token and a value a token or a quoted-string (RFC 9110 §5.6.2, §5.6.4). We ignore
/// extensions, but a proxy in front may not: anything outside the grammar is refused
/// rather than read one way here and another way there.
fn is_chunk_ext(mut rest: &[u8]) -> bool {
    while !rest.is_empty() {
        let Some(after_semicolon) = skip_bws(rest).strip_prefix(b";") else {
            return false;
        };
        let Some(after_name) = strip_token(skip_bws(after_semicolon)) else {
            return false;
        };
        rest = after_name;
        if let Some(after_equals) = skip_bws(rest).strip_prefix(b"=") {
            let value = skip_bws(after_equals);
            let after_value = if value.first() == Some(&b'"') {
                strip_quoted_string(value)
            } else {
                strip_token(value)
            };
            let Some(after_value) = after_value else {
                return false;
            };
            rest = after_value;
        }
    }
    true
}

/// `BWS = *( SP / HTAB )`.
fn skip_bws(bytes: &[u8]) -> &[u8] {
    let spaces = bytes
        .iter()
        .take_while(|&&b| b == b' ' || b == b'\t')
        .count();
    &bytes[spaces..]
}

/// Strips a `token = 1*tchar`, or returns `None` when `bytes` does not start with one.
fn strip_token(bytes: &[u8]) -> Option<&[u8]> {
    let len = bytes.iter().take_while(|&&b| is_tchar(b)).count();
    (len > 0).then(|| &bytes[len..])
}

/// Strips a `quoted-string = DQUOTE *( qdtext / quoted-pair ) DQUOTE`, or returns
/// `None` when `bytes` does not start with a whole one.
fn strip_quoted_string(bytes: &[u8]) -> Option<&[u8]> {
    let mut i = 1;
    loop {
        match *bytes.get(i)? {
            b'"' => return Some(&bytes[i + 1..]),
            // quoted-pair = "\" ( HTAB / SP / VCHAR / obs-text )
            b'\\' => match *bytes.get(i + 1)? {
                b'\t' | b' '..=b'~' | 0x80..=0xff => i += 2,
                _ => return None,
            },
            // qdtext = HTAB / SP / %x21 / %x23-5B / %x5D-7E / obs-text
            b'\t' | b' '..=b'~' | 0x80..=0xff => i += 1,
            _ => return None,
        }
    }
}

/// Parses the trailer section at the front of `rest`: its length including the final
/// CRLF, or the scan that waits for the rest of it.
fn parse_trailers(rest: &[u8], limits: &Limits) -> Result<Parsed<Scan>, FrameError> {
    match rest {
        [b'\r', b'\n', ..] => return Ok(Parsed::Complete(2)),
        [b'\n', ..] => return Err(FrameError::BareLineFeed),
        _ => {}
    }
    // As for the head: httparse sees at most `max_head_bytes`, so the answer does not
    // depend on how many bytes past the limit have arrived.
    let window = &rest[..rest.len().min(limits.max_head_bytes())];
    count(window.len());
    let mut slots = [httparse::EMPTY_HEADER; Limits::MAX_HEADERS_CAP];
    let result = match httparse::parse_headers(window, &mut slots[..limits.header_slots()]) {
        Ok(httparse::Status::Complete((len, _))) => Ok(httparse::Status::Complete(len)),
        Ok(httparse::Status::Partial) => Ok(httparse::Status::Partial),
        Err(error) => Err(error),
    };
    let truncated = window.len() < rest.len();
    match outcome(result, window, truncated, Section::Trailers, limits)? {
        Parsed::Complete(len) => {
            reject_bare_lf(&rest[..len])?;
            Ok(Parsed::Complete(len))
        }
        Parsed::Incomplete(why) => Ok(Parsed::Incomplete(Scan::resume(
            window,
            Section::Trailers,
            why,
            limits,
        ))),
    }
}

fn hex_value(b: u8) -> u8 {
    match b {
        b'0'..=b'9' => b - b'0',
        b'a'..=b'f' => b - b'a' + 10,
        b'A'..=b'F' => b - b'A' + 10,
        _ => 0,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn chunk_size_accepts_hex_and_extensions() {
        assert_eq!(parse_chunk_size_line(b"1a"), Ok(26));
        assert_eq!(parse_chunk_size_line(b"FF;name=value"), Ok(255));
        assert_eq!(parse_chunk_size_line(b"10 ;ext"), Ok(16));
    }

    #[test]
    fn chunk_size_rejects_smuggling_shapes() {
        for line in [
            &b""[..],
            b"-1",
            b"+1",
            b"0x10",
            b" 1",
            b"1 ",
            b"1 x",
            b"g",
            b"1;\x01",
        ] {
            assert_eq!(
                parse_chunk_size_line(line),
                Err(FrameError::InvalidChunkSize),
                "{:?}",
                String::from_utf8_lossy(line)
            );
        }
    }

    #[test]
    fn chunk_extensions_follow_rfc_9112_grammar() {
        for line in [
            &b"1;name"[..],
            b"1;name=value",
            b"1 ;name",
            b"1\t; name = value",
            b"1;a=b;c=d",
            b"1;a;b",
            b"1;a=\"quoted string\"",
            b"1;a=\"\"",
            b"1;a=\"tab\tand \\\" quoted-pair\"",
            b"1;a=\"obs-text \x80\xff\"",
            b"1;!#$%&'*+-.^_`|~09AZaz=!#$%&'*+-.^_`|~",
        ] {
            assert_eq!(
                parse_chunk_size_line(line),
                Ok(1),
                "{:?}",
                String::from_utf8_lossy(line)
            );
        }
    }

    #[test]
    fn chunk_extensions_outside_the_grammar_are_rejected() {
        for line in [
            &b"1;"[..],
            b"1;;a",
            b"1;a;",
            b"1;=v",
            b"1;a=",
            b"1;a= ",
            b"1;a b",
            b"1;a=b c",
            b"1;a=b ",
            b"1;a ",
            b"1;a@b",
            b"1;a=b@c",
            b"1;a=(b)",
            b"1;a=b,c",
            b"1;a=\"unterminated",
            b"1;a=\"x\"y",
            b"1;a=\"x\\\"",
            b"1;a=\"\x01\"",
            b"1;a=\"\x7f\"",
            b"1;a=\"\\\x01\"",
            b"1;\x80",
            b"1;a=\x80",
        ] {
            assert_eq!(
                parse_chunk_size_line(line),
                Err(FrameError::InvalidChunkSize),
                "{:?}",
                String::from_utf8_lossy(line)
            );
        }
    }

    #[test]
    fn chunk_size_overflow_is_reported() {
        assert_eq!(
            parse_chunk_size_line(b"1ffffffffffffffff"),
            Err(FrameError::ChunkSizeOverflow)
        );
    }

    #[test]
    fn size_line_waits_for_its_lf_within_the_limit() {
        assert_eq!(size_line(b"1a", 10), Ok(None));
        assert_eq!(
            size_line(b"1a\r\nxyz", 10),
            Ok(Some(SizeLine { size: 26, len: 4 }))
        );
        assert_eq!(size_line(b"1a;ext", 6), Err(FrameError::InvalidChunkSize));
        assert_eq!(size_line(b"1a;e\r\n", 5), Err(FrameError::InvalidChunkSize));
        assert_eq!(size_line(b"1a\n", 10), Err(FrameError::BareLineFeed));
    }

    #[test]
    fn chunks_read_lines_with_the_framing_parser() {
        let chunks = |raw: &'static [u8]| Chunks { full: None, raw }.collect::<Vec<_>>();
        assert_eq!(
            chunks(b"3;a=\"b\"\r\nabc\r\n2\r\nde\r\n0\r\n"),
            vec![&b"abc"[..], b"de"]
        );
        // Bytes that framing would refuse end the iteration instead of panicking.
        assert_eq!(chunks(b"3\nabc\r\n0\r\n"), Vec::<&[u8]>::new());
        assert_eq!(chunks(b"ffffffffffff\r\nabc"), Vec::<&[u8]>::new());
    }

    #[test]
    fn full_body_chunks_yield_one_slice() {
        let body = Body::Full(b"abc");
        assert_eq!(body.chunks().collect::<Vec<_>>(), vec![&b"abc"[..]]);
        assert_eq!(Body::Full(b"").chunks().count(), 0);
    }
}
