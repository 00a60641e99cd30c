//! Scanning a head or a trailer section that arrives in pieces, so that httparse sees
//! it again only when its answer can have changed.
//!
//! While a section is incomplete the decoder answers `Partial`. It used to learn that
//! by handing the whole section to httparse on every read, so a client trickling a
//! 16 KiB head one byte at a time cost 16,384 parses of up to 16 KiB each. A [`Scan`]
//! looks at each new byte once instead, with httparse's grammar for requests (its byte
//! classes, and where it stops), and says [`Next::Parse`] only where httparse would
//! answer something other than `Partial`: a byte it refuses, the end of the section,
//! one field line more than the limit, the head limit. The decoder then parses the
//! section whole, as if it had arrived in one read, and that parse alone decides. The
//! scan decides no error itself, so the answer stays the same however the bytes were
//! split; it only has to be exact about where httparse stops, which the tests check
//! byte by byte against httparse.
//!
//! The work for one section is then linear in its length: one pass of the scan, the
//! parse of the read that started the section, and the parse that ends it (one more
//! when an error's name waits for the rest of its line, see [`crate::diagnose`]).

use crate::diagnose::{diagnose, Diagnosis, Section};
use crate::syntax::{is_field_value_byte, is_tchar, is_uri_byte};
use crate::{FrameError, Limits};

/// What a parse of a section says, when it is not an error: it is complete, or it is
/// not and `T` says why (or holds the scan that waits for the rest).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Parsed<T = Incomplete> {
    /// The section is complete and this long.
    Complete(usize),
    /// The section is not complete.
    Incomplete(T),
}

/// Why a parse answered that a section is incomplete.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Incomplete {
    /// Nothing is wrong so far; the section has not ended.
    More,
    /// httparse refused a byte, and the next LF names the error.
    UntilLineEnd,
    /// httparse refused a byte, and the next byte other than SP and HTAB names the error.
    UntilNonBlank,
}

/// The one reading of httparse's answer on `window`, the first
/// [`Limits::max_head_bytes`] of a section (`truncated` when more has arrived), for
/// heads and trailers alike: past the limit, whatever is not complete is too large.
pub(crate) fn outcome(
    result: httparse::Result<usize>,
    window: &[u8],
    truncated: bool,
    section: Section,
    limits: &Limits,
) -> Result<Parsed, FrameError> {
    let too_large = FrameError::HeadTooLarge {
        limit: limits.max_head_bytes(),
    };
    let incomplete = match result {
        Ok(httparse::Status::Complete(len)) => return Ok(Parsed::Complete(len)),
        Ok(httparse::Status::Partial) => Incomplete::More,
        Err(error) => match diagnose(window, error, section, limits) {
            Diagnosis::Decided(error) => return Err(error),
            Diagnosis::AwaitLineEnd => Incomplete::UntilLineEnd,
            Diagnosis::AwaitNonBlank => Incomplete::UntilNonBlank,
        },
    };
    // The rest of the line, or of the section, lies past the limit.
    if truncated {
        Err(too_large)
    } else {
        Ok(Parsed::Incomplete(incomplete))
    }
}

/// What [`Scan::next`] found in the bytes that arrived.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Next {
    /// httparse would still answer `Partial`.
    Partial,
    /// httparse may answer something else: parse the section.
    Parse,
}

/// How far an incomplete section was looked at, and what the bytes so far await.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Scan {
    /// Bytes of the section looked at.
    pos: usize,
    wait: Wait,
    /// Field lines completed: httparse refuses the one past the limit at its LF.
    lines: usize,
    /// The first bytes of the section as first seen. A caller may drop the empty lines
    /// that start a head (http-conn does); a different start says it did.
    front: [u8; 2],
    front_len: usize,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Wait {
    /// Nothing wrong so far; the byte at `pos` falls here in the grammar.
    Grammar(At),
    /// A parse found an error that the next LF names.
    LineEnd,
    /// A parse found an error that the next byte other than SP and HTAB names.
    NonBlank,
    /// The scan expected an answer where httparse had none, on the same bytes: a bug
    /// in the scan. Parse when the section has doubled since the parse at `parsed`
    /// bytes, which keeps the work linear, if the answer late.
    Doubling { parsed: usize },
}

/// Where a byte falls in `*( CRLF ) request-line *( field-line CRLF ) CRLF`, as
/// httparse reads it: LF alone ends a line too, and bare LF is refused later, once
/// the section is complete.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum At {
    /// The start of a line before the request line: an empty line, or the method.
    BeforeRequest,
    /// After the CR of an empty line before the request line.
    CrBeforeRequest,
    Method,
    /// After the space that ends the method.
    TargetStart,
    /// Inside the target, which starts at `start`; `ascii` while it has no byte above
    /// 0x7F (httparse checks UTF-8 at the space that ends it).
    Target {
        start: usize,
        ascii: bool,
    },
    /// `matched` bytes of `HTTP/1.` matched.
    Version {
        matched: usize,
    },
    /// After `HTTP/1.0` or `HTTP/1.1`.
    AfterVersion,
    CrAfterVersion,
    /// The start of a field line, or of the empty line that ends the section.
    LineStart,
    CrAtLineStart,
    Name,
    /// After the colon, in whitespace before the value.
    BeforeValue,
    Value,
    CrInValue,
}

impl Scan {
    /// The scan of `section`, which a parse just found incomplete, for `why`.
    pub(crate) fn resume(section: &[u8], kind: Section, why: Incomplete, limits: &Limits) -> Self {
        let front_len = section.len().min(2);
        let mut front = [0; 2];
        front[..front_len].copy_from_slice(&section[..front_len]);
        let mut scan = Self {
            pos: section.len(),
            wait: Wait::LineEnd,
            lines: 0,
            front,
            front_len,
        };
        match why {
            Incomplete::UntilLineEnd => {}
            Incomplete::UntilNonBlank => scan.wait = Wait::NonBlank,
            Incomplete::More => {
                scan.pos = 0;
                scan.wait = Wait::Grammar(match kind {
                    Section::Head => At::BeforeRequest,
                    Section::Trailers => At::LineStart,
                });
                if scan.lex(section, limits) == Next::Parse {
                    debug_assert!(false, "the scan and httparse disagree on {section:?}");
                    scan.pos = section.len();
                    scan.wait = Wait::Doubling {
                        parsed: section.len(),
                    };
                }
            }
        }
        scan
    }

    /// Bytes of the section looked at so far.
    pub(crate) fn examined(&self) -> usize {
        self.pos
    }

    /// Looks at what was appended to `section` since the last call.
    pub(crate) fn next(&mut self, section: &[u8], limits: &Limits) -> Next {
        let changed = section.len() < self.pos
            || section.get(..self.front_len) != Some(&self.front[..self.front_len]);
        // Past the limit httparse's answer is final, whatever the bytes.
        if changed || section.len() > limits.max_head_bytes() {
            return Next::Parse;
        }
        if let Wait::Grammar(_) = self.wait {
            return self.lex(section, limits);
        }
        let new = &section[self.pos..];
        count(new.len());
        let next = match self.wait {
            Wait::LineEnd if memchr::memchr(b'\n', new).is_some() => Next::Parse,
            Wait::NonBlank if new.iter().any(|&b| b != b' ' && b != b'\t') => Next::Parse,
            Wait::Doubling { parsed } if section.len() >= parsed.saturating_mul(2) => Next::Parse,
            Wait::Grammar(_) | Wait::LineEnd | Wait::NonBlank | Wait::Doubling { .. } => {
                Next::Partial
            }
        };
        self.pos = section.len();
        next
    }

    /// Moves through `section[pos..]` with the grammar, stopping at the first byte on
    /// which httparse would not answer `Partial`. `section` is within the head limit.
    fn lex(&mut self, section: &[u8], limits: &Limits) -> Next {
        let Wait::Grammar(mut at) = self.wait else {
            return Next::Parse;
        };
        let start = self.pos;
        let next = loop {
            let Some(&b) = section.get(self.pos) else {
                break Next::Partial;
            };
            at = match (at, b) {
                (At::BeforeRequest | At::CrBeforeRequest, b'\n') => At::BeforeRequest,
                (At::BeforeRequest, b'\r') => At::CrBeforeRequest,
                (At::BeforeRequest | At::Method, b) if is_tchar(b) => At::Method,
                (At::Method, b' ') => At::TargetStart,
                (At::TargetStart, b) if is_uri_byte(b) => At::Target {
                    start: self.pos,
                    ascii: b.is_ascii(),
                },
                (At::Target { start, ascii }, b' ') => {
                    if !ascii && std::str::from_utf8(&section[start..self.pos]).is_err() {
                        break Next::Parse;
                    }
                    At::Version { matched: 0 }
                }
                (At::Target { start, ascii }, b) if is_uri_byte(b) => At::Target {
                    start,
                    ascii: ascii && b.is_ascii(),
                },
                (At::Version { matched: 7 }, b'0' | b'1') => At::AfterVersion,
                (At::Version { matched }, b) if matched < 7 && b == b"HTTP/1."[matched] => {
                    At::Version {
                        matched: matched + 1,
                    }
                }
                (At::AfterVersion, b'\r') => At::CrAfterVersion,
                (At::AfterVersion | At::CrAfterVersion, b'\n') => At::LineStart,
                (At::LineStart, b'\r') => At::CrAtLineStart,
                (At::LineStart | At::Name, b) if is_tchar(b) => At::Name,
                (At::Name, b':') => At::BeforeValue,
                (At::BeforeValue, b' ' | b'\t') => At::BeforeValue,
                (At::BeforeValue | At::Value, b) if is_field_value_byte(b) => At::Value,
                (At::BeforeValue | At::Value, b'\r') => At::CrInValue,
                (At::BeforeValue | At::Value | At::CrInValue, b'\n') => {
                    self.lines += 1;
                    if self.lines > limits.header_slots() {
                        break Next::Parse;
                    }
                    At::LineStart
                }
                // A byte httparse refuses, or the end of the section.
                _ => break Next::Parse,
            };
            self.pos += 1;
        };
        count(self.pos - start);
        self.wait = Wait::Grammar(at);
        next
    }
}

/// Counts `bytes` handed to httparse or looked at by a scan, in tests: the work the
/// tests bound. Nothing outside tests.
#[cfg(not(test))]
#[inline(always)]
pub(crate) fn count(_bytes: usize) {}

#[cfg(test)]
thread_local! {
    static COUNTED: std::cell::Cell<usize> = const { std::cell::Cell::new(0) };
}

#[cfg(test)]
pub(crate) fn count(bytes: usize) {
    COUNTED.with(|counted| counted.set(counted.get() + bytes));
}

/// The bytes counted on this thread since the last call.
#[cfg(test)]
pub(crate) fn take_counted() -> usize {
    COUNTED.with(|counted| counted.take())
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    /// Whether the decoder's parse of `section` says nothing but "more": the answer
    /// the scan must predict. The same special cases as the trailer parser.
    fn parse_says_more(section: &[u8], kind: Section, limits: &Limits) -> bool {
        let mut slots = [httparse::EMPTY_HEADER; Limits::MAX_HEADERS_CAP];
        let slots = &mut slots[..limits.header_slots()];
        let result = match kind {
            Section::Head => httparse::Request::new(slots).parse(section),
            Section::Trailers if section.starts_with(b"\n") || section.starts_with(b"\r\n") => {
                return false
            }
            Section::Trailers => match httparse::parse_headers(section, slots) {
                Ok(httparse::Status::Complete((len, _))) => Ok(httparse::Status::Complete(len)),
                Ok(httparse::Status::Partial) => Ok(httparse::Status::Partial),
                Err(error) => Err(error),
            },
        };
        matches!(result, Ok(httparse::Status::Partial))
    }

    /// A scan that has seen `prefix`, which must be incomplete with nothing wrong.
    fn scan_of(prefix: &[u8], kind: Section, limits: &Limits) -> Scan {
        assert!(
            parse_says_more(prefix, kind, limits),
            "{:?} must be incomplete",
            String::from_utf8_lossy(prefix)
        );
        Scan::resume(prefix, kind, Incomplete::More, limits)
    }

    /// Prefixes that end in every place of the grammar, each with the section it is in.
    const PREFIXES: &[(&[u8], Section)] = &[
        (b"", Section::Head),
        (b"\r\n", Section::Head),
        (b"\n", Section::Head),
        (b"\r", Section::Head),
        (b"\r\n\r", Section::Head),
        (b"G", Section::Head),
        (b"GET", Section::Head),
        (b"POST", Section::Head),
        (b"M-SEARCH", Section::Head),
        (b"GET ", Section::Head),
        (b"POST ", Section::Head),
        (b"GET /", Section::Head),
        (b"GET *", Section::Head),
        (b"GET /caf\xc3", Section::Head),
        (b"GET /\xff", Section::Head),
        (b"GET / ", Section::Head),
        (b"GET /caf\xc3\xa9 ", Section::Head),
        (b"GET / H", Section::Head),
        (b"GET / HTTP/", Section::Head),
        (b"GET / HTTP/1", Section::Head),
        (b"GET / HTTP/1.", Section::Head),
        (b"GET / HTTP/1.0", Section::Head),
        (b"GET / HTTP/1.1", Section::Head),
        (b"GET / HTTP/1.1\r", Section::Head),
        (b"GET / HTTP/1.1\r\n", Section::Head),
        (b"GET / HTTP/1.1\n", Section::Head),
        (b"GET / HTTP/1.1\r\n\r", Section::Head),
        (b"GET / HTTP/1.1\r\nA", Section::Head),
        (b"GET / HTTP/1.1\r\nHost", Section::Head),
        (b"GET / HTTP/1.1\r\nA:", Section::Head),
        (b"GET / HTTP/1.1\r\nA: ", Section::Head),
        (b"GET / HTTP/1.1\r\nA:\t", Section::Head),
        (b"GET / HTTP/1.1\r\nA: b", Section::Head),
        (b"GET / HTTP/1.1\r\nA: b \x80\t", Section::Head),
        (b"GET / HTTP/1.1\r\nA: b\r", Section::Head),
        (b"GET / HTTP/1.1\r\nA:\r", Section::Head),
        (b"GET / HTTP/1.1\r\nA: b\r\n", Section::Head),
        (b"GET / HTTP/1.1\r\nA: b\nB:", Section::Head),
        (b"GET / HTTP/1.1\r\nA: b\r\nB: c\r", Section::Head),
        (b"", Section::Trailers),
        (b"\r", Section::Trailers),
        (b"A", Section::Trailers),
        (b"A:", Section::Trailers),
        (b"A: b", Section::Trailers),
        (b"A: b\r", Section::Trailers),
        (b"A: b\r\n", Section::Trailers),
        (b"A: b\r\n\r", Section::Trailers),
        (b"A: b\r\nB: c\r", Section::Trailers),
    ];

    #[test]
    fn the_scan_stops_on_every_byte_where_httparse_stops_and_nowhere_else() {
        // One header slot, so that a second field line is one too many.
        for limits in [Limits::default(), Limits::default().with_max_headers(1)] {
            for &(prefix, kind) in PREFIXES {
                let scan = scan_of(prefix, kind, &limits);
                for byte in 0..=u8::MAX {
                    let mut section = prefix.to_vec();
                    section.push(byte);
                    let expected = if parse_says_more(&section, kind, &limits) {
                        Next::Partial
                    } else {
                        Next::Parse
                    };
                    assert_eq!(
                        scan.clone().next(&section, &limits),
                        expected,
                        "{:?} then {byte:#04x} ({kind:?}, {} header slots)",
                        String::from_utf8_lossy(prefix),
                        limits.header_slots()
                    );
                }
            }
        }
    }

    #[test]
    fn past_the_head_limit_the_scan_always_hands_over() {
        let limits = Limits::default().with_max_head_bytes(20);
        let head = b"GET / HTTP/1.1\r\nA: bbbb";
        let mut scan = scan_of(&head[..20], Section::Head, &limits);
        assert_eq!(scan.next(&head[..20], &limits), Next::Partial);
        assert_eq!(scan.next(&head[..21], &limits), Next::Parse);
    }

    #[test]
    fn an_undecided_error_waits_for_the_byte_that_names_it() {
        let limits = Limits::default();
        let mut line_end = Scan::resume(
            b"GET / HTTP/2",
            Section::Head,
            Incomplete::UntilLineEnd,
            &limits,
        );
        assert_eq!(line_end.next(b"GET / HTTP/2.0\r", &limits), Next::Partial);
        assert_eq!(line_end.next(b"GET / HTTP/2.0\r\n", &limits), Next::Parse);
        let mut non_blank = Scan::resume(
            b"A: b\r\nX ",
            Section::Trailers,
            Incomplete::UntilNonBlank,
            &limits,
        );
        assert_eq!(non_blank.next(b"A: b\r\nX \t ", &limits), Next::Partial);
        assert_eq!(non_blank.next(b"A: b\r\nX \t :", &limits), Next::Parse);
    }

    #[test]
    fn after_a_disagreement_the_scan_parses_again_once_the_section_doubled() {
        // Reached only if the scan were wrong about httparse (a debug assertion says
        // so in tests); release builds then stay linear rather than exact.
        let limits = Limits::default();
        let mut scan = Scan::resume(b"GET / H", Section::Head, Incomplete::More, &limits);
        scan.wait = Wait::Doubling { parsed: 7 };
        assert_eq!(scan.next(b"GET / HTTP/1", &limits), Next::Partial);
        assert_eq!(scan.next(b"GET / HTTP/1.1", &limits), Next::Parse);
    }

    /// Pieces that move through the grammar.
    const PIECES: &[&[u8]] = &[
        b"GET",
        b"POST",
        b" ",
        b"/",
        b"/a?b=c",
        b"HTTP/1.1",
        b"HTTP/1.0",
        b"\r\n",
        b"\r",
        b"\n",
        b"Host",
        b":",
        b": ",
        b"value",
        b"\t",
        b"caf\xc3\xa9",
    ];

    /// Bytes that move through the grammar, and some that break it.
    fn piece() -> impl Strategy<Value = Vec<u8>> {
        prop_oneof![
            4 => proptest::sample::select(PIECES).prop_map(<[u8]>::to_vec),
            1 => any::<u8>().prop_map(|b| vec![b]),
        ]
    }

    proptest! {
        #![proptest_config(ProptestConfig {
            rng_algorithm: proptest::test_runner::RngAlgorithm::XorShift,
            ..ProptestConfig::with_cases(2_000)
        })]

        /// Fed one byte at a time, the scan says `Parse` first on the byte after which
        /// httparse no longer says "more".
        #[test]
        fn the_scan_agrees_with_httparse_byte_by_byte(
            pieces in proptest::collection::vec(piece(), 0..24),
            trailers in any::<bool>(),
        ) {
            let kind = if trailers { Section::Trailers } else { Section::Head };
            let limits = Limits::default().with_max_headers(3);
            let section = pieces.concat();
            let mut scan: Option<Scan> = None;
            for end in 0..=section.len() {
                let prefix = &section[..end];
                let more = parse_says_more(prefix, kind, &limits);
                match &mut scan {
                    None => scan = Some(scan_of(prefix, kind, &limits)),
                    Some(scan) => {
                        let next = scan.next(prefix, &limits);
                        prop_assert_eq!(next == Next::Partial, more, "{:?}", String::from_utf8_lossy(prefix));
                    }
                }
                if !more {
                    break;
                }
            }
        }
    }
}
