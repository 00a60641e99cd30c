//! Naming what is wrong with a head httparse refused: the most specific
//! [`FrameError`] for an `httparse::Error`, decided from the failing line alone.
//! Only on the error path, so clarity wins over speed here.

use std::mem::MaybeUninit;

use crate::syntax::is_tchar;
use crate::{FrameError, Limits};

/// Turns an httparse error on `window` (the head bytes httparse saw) into the most
/// specific [`FrameError`], or `None` when that depends on bytes that have not arrived.
///
/// Most error kinds say all there is to say. For a bad version or header name the
/// failing line tells more (505 or 400, folding or whitespace before a colon), so we
/// look at that line, and only at it: lines after it, or body bytes, must not change
/// the answer, or a request would get a different one depending on how it arrived.
pub(crate) fn diagnose(
    window: &[u8],
    error: httparse::Error,
    limits: &Limits,
) -> Option<FrameError> {
    Some(match error {
        httparse::Error::TooManyHeaders => FrameError::TooManyHeaders {
            limit: limits.max_headers(),
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
        let mut slots =
            [const { MaybeUninit::<httparse::Header<'_>>::uninit() }; Limits::MAX_HEADERS_CAP];
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn version_errors_wait_for_the_line_end() {
        assert_eq!(diagnose_version(b"GET / HTTP/2.0"), None);
        assert_eq!(
            diagnose_version(b"GET / HTTP/2.0\r\n"),
            Some(FrameError::UnsupportedVersion)
        );
        assert_eq!(
            diagnose_version(b"GET /a b HTTP/1.1\r\n"),
            Some(FrameError::Malformed("space in request target"))
        );
        assert_eq!(
            diagnose_version(b"GET / HTTP/2.0x\r\n"),
            Some(FrameError::Malformed("invalid HTTP version"))
        );
    }

    #[test]
    fn header_name_errors_name_folding_and_whitespace_before_colon() {
        assert_eq!(
            diagnose_header_name(b" folded\r\n"),
            Some(FrameError::ObsoleteLineFolding)
        );
        assert_eq!(
            diagnose_header_name(b"Name \t: v\r\n"),
            Some(FrameError::WhitespaceBeforeColon)
        );
        assert_eq!(diagnose_header_name(b"Name  "), None);
        assert_eq!(
            diagnose_header_name(b"Na@me: v\r\n"),
            Some(FrameError::Malformed("invalid header name"))
        );
    }
}
