//! What counts as acceptable JSON, on every path: UTF-8 (RFC 8259 §8.1), one value,
//! nested no deeper than `--max-json-depth`, and the 400 that says where it is not.

use crate::Rejection;

/// The default of `--max-json-depth`: arrays and objects nested 64 deep. Below the
/// strictest limit of the parsers a consumer is likely to use (Ruby's `JSON.parse`
/// stops at 100, Rust's serde_json at 128, Python's `json` near its recursion limit of
/// 1000, Jackson at 1000), so whatever the gateway accepts every consumer can read,
/// while real documents rarely nest past 20.
pub const DEFAULT_MAX_JSON_DEPTH: usize = 64;

/// Checks that `body` is one JSON value, in UTF-8 (RFC 8259 §8.1), nested at most
/// `max_depth` deep (`[1]` is 1 deep, `[[1]]` and `{"a":[1]}` 2, a scalar 0), without
/// building it; deeper is [`Rejection::TooDeep`] at the first bracket too deep. serde_json skips over
/// ignored strings without checking their UTF-8, hence the explicit check first (found
/// by the hostile-input corpus); it skips nesting without a limit, hence the depth
/// check after.
pub fn validate_json(body: &[u8], max_depth: usize) -> Result<(), Rejection> {
    validate_utf8(body)?;
    serde_json::from_slice::<serde::de::IgnoredAny>(body)
        .map(|_| ())
        .map_err(|error| invalid_json(&error))?;
    check_depth(body, body, max_depth)
}

/// Checks that the JSON `value` (valid JSON, within `body` or `body` itself) nests
/// arrays and objects at most `max_depth` deep: `1` is `[1]`, `2` is `[[1]]` or
/// `{"a":[1]}`, a scalar is `0`. Deeper is 400 at the line and column (in `body`) of
/// the first bracket too deep.
///
/// A value with no more brackets than `max_depth` cannot be too deep, so most bodies
/// are decided by a vectorised search for brackets that stops at the first one past
/// `max_depth`, and never walked. The walk jumps over string contents the same way.
/// (Counting every bracket byte by byte was 44% of a 16 KiB request's CPU.)
pub(crate) fn check_depth(body: &[u8], value: &[u8], max_depth: usize) -> Result<(), Rejection> {
    if memchr::memchr2_iter(b'[', b'{', value)
        .nth(max_depth)
        .is_none()
    {
        return Ok(());
    }
    let mut openers = NextHit::new(|rest| memchr::memchr3(b'"', b'[', b'{', rest));
    let mut closers = NextHit::new(|rest| memchr::memchr2(b']', b'}', rest));
    let (mut depth, mut at) = (0_usize, 0);
    loop {
        let index = match (
            openers.at_or_after(value, at),
            closers.at_or_after(value, at),
        ) {
            (Some(open), Some(close)) => open.min(close),
            (Some(index), None) | (None, Some(index)) => index,
            (None, None) => return Ok(()),
        };
        match value[index] {
            b'"' => {
                at = string_end(value, index + 1);
                continue;
            }
            b'[' | b'{' => {
                depth += 1;
                if depth > max_depth {
                    let (line, column) = line_and_column(body, offset_in(body, value) + index);
                    return Err(Rejection::TooDeep {
                        line,
                        column,
                        max_depth,
                    });
                }
            }
            _ => depth = depth.saturating_sub(1),
        }
        at = index + 1;
    }
}

/// The next position of what a vectorised search finds, remembered: a search resumes
/// only once the walk has passed the last hit, from where the walk is, so no byte is
/// searched twice and the walk stays linear.
struct NextHit<F> {
    find: F,
    hit: Option<usize>,
    exhausted: bool,
}

impl<F: Fn(&[u8]) -> Option<usize>> NextHit<F> {
    fn new(find: F) -> Self {
        Self {
            find,
            hit: None,
            exhausted: false,
        }
    }

    /// The first hit at or after `at` in `value`.
    fn at_or_after(&mut self, value: &[u8], at: usize) -> Option<usize> {
        match self.hit {
            Some(hit) if hit >= at => Some(hit),
            _ if self.exhausted || at >= value.len() => None,
            _ => {
                self.hit = (self.find)(&value[at..]).map(|found| at + found);
                self.exhausted = self.hit.is_none();
                self.hit
            }
        }
    }
}

/// The index just past the closing quote of the string whose contents start at
/// `start` (or the end of `value`, for a string that does not close).
fn string_end(value: &[u8], start: usize) -> usize {
    let mut at = start;
    while let Some(found) = memchr::memchr2(b'"', b'\\', &value[at..]) {
        let index = at + found;
        if value[index] == b'"' {
            return index + 1;
        }
        // A backslash escapes the next byte, whatever it is.
        at = index + 2;
        if at >= value.len() {
            break;
        }
    }
    value.len()
}

/// Where `part` starts in `body` (0 if it is not a part of it).
fn offset_in(body: &[u8], part: &[u8]) -> usize {
    if body.as_ptr_range().contains(&part.as_ptr()) {
        part.as_ptr() as usize - body.as_ptr() as usize
    } else {
        0
    }
}

/// serde_json's syntax error as the 400 that names where it is: the message without
/// serde's own " at line L column C" (line and column are fields of their own).
pub(crate) fn invalid_json(error: &serde_json::Error) -> Rejection {
    let message = error.to_string();
    let reason = message
        .split(" at line ")
        .next()
        .unwrap_or(&message)
        .to_owned();
    Rejection::InvalidJson {
        line: error.line(),
        column: error.column(),
        reason,
    }
}

/// Checks that `body` is UTF-8, saying where it is not (as [`Rejection::InvalidJson`]).
pub(crate) fn validate_utf8(body: &[u8]) -> Result<(), Rejection> {
    // The vectorised check decides; std's, which says where, runs only on a failure.
    if simdutf8::basic::from_utf8(body).is_ok() {
        return Ok(());
    }
    if let Err(error) = std::str::from_utf8(body) {
        let (line, column) = line_and_column(body, error.valid_up_to());
        return Err(Rejection::InvalidJson {
            line,
            column,
            reason: "invalid UTF-8".to_owned(),
        });
    }
    Ok(())
}

/// The 1-based line and column (in bytes, as serde_json counts them) of `offset`.
fn line_and_column(body: &[u8], offset: usize) -> (usize, usize) {
    let before = &body[..offset];
    let line = before.iter().filter(|&&b| b == b'\n').count() + 1;
    let line_start = before
        .iter()
        .rposition(|&b| b == b'\n')
        .map_or(0, |i| i + 1);
    (line, offset - line_start + 1)
}

#[cfg(test)]
mod tests {
    use super::*;

    const DEPTH: usize = DEFAULT_MAX_JSON_DEPTH;

    fn nested(depth: usize) -> Vec<u8> {
        let mut body = vec![b'['; depth];
        body.extend(std::iter::repeat_n(b']', depth));
        body
    }

    #[test]
    fn nesting_up_to_the_limit_is_accepted_and_one_deeper_is_400_where_it_is() {
        assert_eq!(validate_json(&nested(DEPTH), DEPTH), Ok(()));
        assert_eq!(
            validate_json(&nested(DEPTH + 1), DEPTH),
            Err(Rejection::TooDeep {
                line: 1,
                column: DEPTH + 1,
                max_depth: DEPTH
            })
        );
        // The review's body: accepted and produced before the limit.
        let error = validate_json(&nested(100_000), DEPTH).unwrap_err();
        assert_eq!(error.status(), http::StatusCode::BAD_REQUEST);
        assert!(error.to_string().contains("line 1 column 65"), "{error}");
        let objects = format!("{}1{}", r#"{"a":"#.repeat(3), "}".repeat(3));
        assert!(validate_json(objects.as_bytes(), 3).is_ok());
        assert!(matches!(
            validate_json(objects.as_bytes(), 2),
            Err(Rejection::TooDeep { column: 11, .. })
        ));
    }

    /// The depth check as the plain byte-by-byte walk it replaced: what the vectorised
    /// search must agree with.
    fn first_too_deep_byte_by_byte(value: &[u8], max_depth: usize) -> Option<usize> {
        let (mut depth, mut in_string, mut escaped) = (0_usize, false, false);
        for (at, &byte) in value.iter().enumerate() {
            if in_string {
                match byte {
                    _ if escaped => escaped = false,
                    b'\\' => escaped = true,
                    b'"' => in_string = false,
                    _ => {}
                }
                continue;
            }
            match byte {
                b'"' => in_string = true,
                b'[' | b'{' => {
                    depth += 1;
                    if depth > max_depth {
                        return Some(at);
                    }
                }
                b']' | b'}' => depth = depth.saturating_sub(1),
                _ => {}
            }
        }
        None
    }

    /// A pseudo-random JSON value up to `depth` deep whose strings hold brackets,
    /// quotes and escapes.
    fn random_json(seed: &mut u64, depth: usize, out: &mut Vec<u8>) {
        let mut next = |n: u64| {
            *seed = seed
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            (*seed >> 33) % n
        };
        match if depth == 0 { next(2) } else { next(4) } {
            0 => out.extend_from_slice(b"12"),
            1 => {
                out.push(b'"');
                for _ in 0..next(6) {
                    let piece: &[u8] =
                        [&b"["[..], b"]", b"{", b"}", b"\\\"", b"\\\\", b"x"][next(7) as usize];
                    out.extend_from_slice(piece);
                }
                out.push(b'"');
            }
            kind => {
                let (open, close) = if kind == 2 {
                    (b'[', b']')
                } else {
                    (b'{', b'}')
                };
                out.push(open);
                for item in 0..next(4) {
                    if item > 0 {
                        out.push(b',');
                    }
                    if kind == 3 {
                        out.extend_from_slice(b"\"k{\":");
                    }
                    random_json(seed, depth - 1, out);
                }
                out.push(close);
            }
        }
    }

    #[test]
    fn the_vectorised_depth_check_agrees_with_a_byte_by_byte_walk() {
        let mut seed = 7;
        for case in 0..5_000 {
            let mut value = Vec::new();
            random_json(&mut seed, case % 9, &mut value);
            for max_depth in 0..8 {
                let expected = first_too_deep_byte_by_byte(&value, max_depth);
                let found = match check_depth(&value, &value, max_depth) {
                    Ok(()) => None,
                    Err(Rejection::TooDeep { column, .. }) => Some(column - 1),
                    Err(other) => panic!("{other:?}"),
                };
                assert_eq!(found, expected, "{}", String::from_utf8_lossy(&value));
            }
        }
    }

    #[test]
    fn brackets_in_strings_do_not_nest() {
        let body = br#"["[[[[", "\"[[[[", {"k[[[": "{{{{\\"}, "]]]]"]"#;
        assert_eq!(validate_json(body, 2), Ok(()));
        assert!(validate_json(body, 1).is_err(), "the object is at depth 2");
    }

    #[test]
    fn a_value_too_deep_is_located_in_its_body() {
        let body = b"{\"records\":[\n  {\"value\": [[[1]]]}]}";
        let value = &body[25..32];
        assert_eq!(value, b"[[[1]]]");
        assert_eq!(
            check_depth(body, value, 2),
            Err(Rejection::TooDeep {
                line: 2,
                column: 15,
                max_depth: 2
            })
        );
    }

    #[test]
    fn invalid_json_says_where() {
        let error = validate_json(b"{\n  \"a\": tru }", DEPTH).unwrap_err();
        let Rejection::InvalidJson { line, column, .. } = &error else {
            panic!("{error:?}")
        };
        assert_eq!((*line, *column), (2, 11));
        assert!(error.to_string().contains("line 2 column 11"), "{error}");
        assert_eq!(error.status(), http::StatusCode::BAD_REQUEST);
    }

    #[test]
    fn empty_and_trailing_garbage_bodies_are_invalid_json() {
        assert!(matches!(
            validate_json(b"", DEPTH),
            Err(Rejection::InvalidJson { .. })
        ));
        assert!(matches!(
            validate_json(b"{} {}", DEPTH),
            Err(Rejection::InvalidJson { .. })
        ));
        assert!(validate_json(b" [1, \"two\", {\"3\": null}] ", DEPTH).is_ok());
    }

    #[test]
    fn invalid_utf8_is_invalid_json_and_says_where() {
        let error = validate_json(b"{\n \"\xff\": 1}", DEPTH).unwrap_err();
        assert_eq!(
            error,
            Rejection::InvalidJson {
                line: 2,
                column: 3,
                reason: "invalid UTF-8".to_owned()
            }
        );
        assert!(validate_json("{\"caf\u{e9}\": \"\u{1f600}\"}".as_bytes(), DEPTH).is_ok());
    }

    /// The vectorised UTF-8 check accepts exactly what std's does: every two-byte
    /// sequence, and the edge cases of RFC 3629 (overlong forms, surrogates, past
    /// U+10FFFF, truncated sequences) at every offset across the 64-byte blocks it
    /// works in.
    #[test]
    fn utf8_is_decided_as_std_decides_it() {
        let agree = |bytes: &[u8]| {
            assert_eq!(
                validate_utf8(bytes).is_ok(),
                std::str::from_utf8(bytes).is_ok(),
                "{bytes:x?}"
            );
        };
        for pair in 0..=u16::MAX {
            agree(&pair.to_be_bytes());
        }
        let edges: [&[u8]; 12] = [
            b"\xc0\xaf",
            b"\xe0\x80\xaf",
            b"\xed\xa0\x80",
            b"\xed\x9f\xbf",
            b"\xf4\x90\x80\x80",
            b"\xf4\x8f\xbf\xbf",
            b"\xf0\x9f\x98",
            b"\xe2\x82",
            b"\x80",
            b"\xff",
            "\u{e9}".as_bytes(),
            "\u{1f600}".as_bytes(),
        ];
        for edge in edges {
            for at in 0..130 {
                let mut bytes = vec![b'x'; 200];
                bytes.splice(at..at, edge.iter().copied());
                agree(&bytes);
                agree(&bytes[..at + edge.len()]);
            }
        }
    }
}
