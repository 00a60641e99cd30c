//! Naming what is wrong with a section httparse refused: the most specific
//! [`FrameError`] for an `httparse::Error`, decided from the failing line alone.
//! Only on the error path, so clarity wins over speed here.

use std::mem::MaybeUninit;

use crate::syntax::{is_tchar, is_uri_byte};
use crate::{FrameError, Limits};

/// Which part of a request httparse parsed: a head (request line, then field lines)
/// or the trailer section of a chunked body (field lines only).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Section {
    Head,
    Trailers,
}

/// What an httparse error means, once the bytes that decide it are there.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Diagnosis {
    /// The error to answer.
    Decided(FrameError),
    /// Undecided until the failing line ends (its next LF).
    AwaitLineEnd,
    /// Undecided until the failing line has a byte other than SP and HTAB.
    AwaitNonBlank,
}

/// Turns an httparse error on `window` (the section bytes httparse saw) into the most
/// specific [`FrameError`], or says which byte it waits for.
///
/// Most error kinds say all there is to say. For a bad version or header name the
/// failing line tells more (505 or 400, folding or whitespace before a colon), so we
/// look at that line, and only at it: lines after it, or body bytes, must not change
/// the answer, or a request would get a different one depending on how it arrived.
pub(crate) fn diagnose(
    window: &[u8],
    error: httparse::Error,
    section: Section,
    limits: &Limits,
) -> Diagnosis {
    Diagnosis::Decided(match error {
        httparse::Error::TooManyHeaders => FrameError::TooManyHeaders {
            limit: limits.max_headers(),
        },
        httparse::Error::Version => return diagnose_version(request_line(window)),
        httparse::Error::HeaderName => {
            return diagnose_header_name(failing_line(window, section, limits))
        }
        httparse::Error::HeaderValue => FrameError::InvalidHeaderValue,
        httparse::Error::NewLine => FrameError::InvalidLineEnding,
        // httparse reports `Status` for responses only; both are request-line errors.
        httparse::Error::Token | httparse::Error::Status => diagnose_token(request_line(window)),
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

/// A token error: httparse stopped at a byte that may not be where it is in
/// `method SP target SP`. Which part it is in is decided by the bytes up to that one,
/// so the answer cannot change as more arrive.
fn diagnose_token(request_line: &[u8]) -> FrameError {
    let method_len = request_line.iter().take_while(|&&b| is_tchar(b)).count();
    match request_line.get(method_len) {
        Some(b' ') if method_len > 0 => {}
        // `GET\r\n`: a method and nothing else.
        Some(b'\r' | b'\n') if method_len > 0 => return FrameError::InvalidTarget,
        _ => return FrameError::InvalidMethod,
    }
    let target = &request_line[method_len + 1..];
    let target_len = target.iter().take_while(|&&b| is_uri_byte(b)).count();
    match target.get(target_len) {
        // httparse takes any byte above 0x7F in a target, then refuses it at the space
        // when the target is not UTF-8.
        Some(b' ') if target_len > 0 => FrameError::NonAsciiTarget,
        // `GET /\r\n`: the line ends where the version should be.
        Some(b'\r' | b'\n') if target_len > 0 => FrameError::InvalidVersion,
        _ => FrameError::InvalidTarget,
    }
}

/// A version error: httparse accepted `method SP target SP`, and what follows up to
/// the line end is not `HTTP/1.0` or `HTTP/1.1`. Undecided until the line end arrives.
fn diagnose_version(request_line: &[u8]) -> Diagnosis {
    let Some(after_target) = request_line.splitn(3, |&b| b == b' ').nth(2) else {
        return Diagnosis::AwaitLineEnd;
    };
    let Some(line_end) = memchr::memchr(b'\n', after_target) else {
        return Diagnosis::AwaitLineEnd;
    };
    let version = &after_target[..line_end];
    let version = version.strip_suffix(b"\r").unwrap_or(version);
    let last_word = version.rsplit(|&b| b == b' ').next().unwrap_or_default();
    Diagnosis::Decided(if is_http_version(version) {
        FrameError::UnsupportedVersion
    } else if is_http_version(last_word) {
        // `GET /a b HTTP/1.1`: the target has a space, the version is fine (RFC 9112
        // §3.2 wants 400, not 505).
        FrameError::SpaceInTarget
    } else {
        FrameError::InvalidVersion
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
fn failing_line<'a>(window: &'a [u8], section: Section, limits: &Limits) -> &'a [u8] {
    let line_ends: Vec<usize> = memchr::memchr_iter(b'\n', window)
        .map(|lf| lf + 1)
        .collect();
    let fails_within = |end: usize| {
        let prefix = &window[..end];
        crate::scan::count(prefix.len());
        match section {
            Section::Head => {
                let mut slots = [const { MaybeUninit::<httparse::Header<'_>>::uninit() };
                    Limits::MAX_HEADERS_CAP];
                httparse::Request::new(&mut [])
                    .parse_with_uninit_headers(prefix, &mut slots[..limits.header_slots()])
                    .is_err()
            }
            Section::Trailers => {
                let mut slots = [httparse::EMPTY_HEADER; Limits::MAX_HEADERS_CAP];
                httparse::parse_headers(prefix, &mut slots[..limits.header_slots()]).is_err()
            }
        }
    };
    let failing = line_ends.partition_point(|&end| !fails_within(end));
    let start = failing
        .checked_sub(1)
        .map_or(0, |previous| line_ends[previous]);
    let end = line_ends.get(failing).copied().unwrap_or(window.len());
    &window[start..end]
}

/// A header-name error on `line`. Undecided while the line is a name and whitespace
/// only: a colon next would make it whitespace before a colon, anything else a bad
/// name.
fn diagnose_header_name(line: &[u8]) -> Diagnosis {
    if let Some(b' ' | b'\t') = line.first() {
        return Diagnosis::Decided(FrameError::ObsoleteLineFolding);
    }
    let name_len = line.iter().take_while(|&&b| is_tchar(b)).count();
    let after_name = &line[name_len..];
    if name_len == 0 || !matches!(after_name.first(), Some(b' ' | b'\t')) {
        return Diagnosis::Decided(FrameError::InvalidHeaderName);
    }
    let Some(next) = after_name.iter().find(|&&b| b != b' ' && b != b'\t') else {
        return Diagnosis::AwaitNonBlank;
    };
    Diagnosis::Decided(if *next == b':' {
        FrameError::WhitespaceBeforeColon
    } else {
        FrameError::InvalidHeaderName
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn decided(error: FrameError) -> Diagnosis {
        Diagnosis::Decided(error)
    }

    #[test]
    fn version_errors_wait_for_the_line_end() {
        assert_eq!(diagnose_version(b"GET / HTTP/2.0"), Diagnosis::AwaitLineEnd);
        assert_eq!(
            diagnose_version(b"GET / HTTP/2.0\r\n"),
            decided(FrameError::UnsupportedVersion)
        );
        assert_eq!(
            diagnose_version(b"GET /a b HTTP/1.1\r\n"),
            decided(FrameError::SpaceInTarget)
        );
        assert_eq!(
            diagnose_version(b"GET / HTTP/2.0x\r\n"),
            decided(FrameError::InvalidVersion)
        );
    }

    #[test]
    fn header_name_errors_name_folding_and_whitespace_before_colon() {
        assert_eq!(
            diagnose_header_name(b" folded\r\n"),
            decided(FrameError::ObsoleteLineFolding)
        );
        assert_eq!(
            diagnose_header_name(b"Name \t: v\r\n"),
            decided(FrameError::WhitespaceBeforeColon)
        );
        assert_eq!(diagnose_header_name(b"Name  "), Diagnosis::AwaitNonBlank);
        assert_eq!(
            diagnose_header_name(b"Na@me: v\r\n"),
            decided(FrameError::InvalidHeaderName)
        );
    }

    #[test]
    fn token_errors_name_the_part_of_the_request_line() {
        for (line, expected) in [
            (&b"G@T / HTTP/1.1"[..], FrameError::InvalidMethod),
            (b" / HTTP/1.1", FrameError::InvalidMethod),
            (b"GET\r\n", FrameError::InvalidTarget),
            (b"GET  / HTTP/1.1", FrameError::InvalidTarget),
            (b"GET /a\x01b HTTP/1.1", FrameError::InvalidTarget),
            (b"GET /\x7f HTTP/1.1", FrameError::InvalidTarget),
            (b"GET /\xff HTTP/1.1", FrameError::NonAsciiTarget),
            (b"GET /\r\n", FrameError::InvalidVersion),
        ] {
            assert_eq!(
                diagnose_token(line),
                expected,
                "{:?}",
                String::from_utf8_lossy(line)
            );
        }
    }
}
