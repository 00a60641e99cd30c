//! Grammar shared by heads, trailers and chunk lines (RFC 9110 §5.6, RFC 9112 §2.2):
//! tokens, optional whitespace and line ends, and the byte classes httparse applies
//! to them.

use crate::FrameError;

/// `tchar` (RFC 9110 §5.6.2): the bytes of a token, such as a header name.
pub(crate) fn is_tchar(b: u8) -> bool {
    matches!(b,
        b'0'..=b'9' | b'A'..=b'Z' | b'a'..=b'z'
        | b'!' | b'#' | b'$' | b'%' | b'&' | b'\'' | b'*' | b'+'
        | b'-' | b'.' | b'^' | b'_' | b'`' | b'|' | b'~')
}

/// A byte httparse takes in a request target: visible ASCII and anything above 0x7F
/// (which it then wants to be UTF-8, and the decoder refuses raw).
pub(crate) fn is_uri_byte(b: u8) -> bool {
    matches!(b, b'!'..=b'~' | 0x80..=0xff)
}

/// A byte httparse takes inside a field value: HTAB, SP, visible ASCII, obs-text
/// (RFC 9110 §5.5).
pub(crate) fn is_field_value_byte(b: u8) -> bool {
    matches!(b, b'\t' | b' '..=b'~' | 0x80..=0xff)
}

/// `bytes` without leading and trailing `OWS = *( SP / HTAB )`.
pub(crate) fn trim_ows(bytes: &[u8]) -> &[u8] {
    let start = bytes.iter().position(|&b| b != b' ' && b != b'\t');
    let end = bytes.iter().rposition(|&b| b != b' ' && b != b'\t');
    match (start, end) {
        (Some(start), Some(end)) => &bytes[start..=end],
        _ => &[],
    }
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bare_lf_is_found_anywhere_but_after_cr() {
        assert_eq!(reject_bare_lf(b""), Ok(()));
        assert_eq!(reject_bare_lf(b"a\r\nb\r\n\r\n"), Ok(()));
        for head in [&b"\n"[..], b"a\nb", b"a\r\n\n", b"\r\r\n\n"] {
            assert_eq!(reject_bare_lf(head), Err(FrameError::BareLineFeed));
        }
    }

    #[test]
    fn trim_ows_strips_spaces_and_tabs_only() {
        assert_eq!(trim_ows(b" \tchunked\t "), b"chunked");
        assert_eq!(trim_ows(b"  "), b"");
        assert_eq!(trim_ows(b"\r1\r"), b"\r1\r");
    }
}
