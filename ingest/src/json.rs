//! What counts as acceptable JSON, on every path: UTF-8 (RFC 8259 §8.1), one value,
//! and the 400 that says where it is not.

use crate::Rejection;

/// Checks that `body` is one JSON value, in UTF-8 (RFC 8259 §8.1), without building it.
/// serde_json skips over ignored strings without checking their UTF-8, hence the
/// explicit check first (found by the hostile-input corpus).
pub fn validate_json(body: &[u8]) -> Result<(), Rejection> {
    validate_utf8(body)?;
    serde_json::from_slice::<serde::de::IgnoredAny>(body)
        .map(|_| ())
        .map_err(|error| invalid_json(&error))
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

    #[test]
    fn invalid_json_says_where() {
        let error = validate_json(b"{\n  \"a\": tru }").unwrap_err();
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
            validate_json(b""),
            Err(Rejection::InvalidJson { .. })
        ));
        assert!(matches!(
            validate_json(b"{} {}"),
            Err(Rejection::InvalidJson { .. })
        ));
        assert!(validate_json(b" [1, \"two\", {\"3\": null}] ").is_ok());
    }

    #[test]
    fn invalid_utf8_is_invalid_json_and_says_where() {
        let error = validate_json(b"{\n \"\xff\": 1}").unwrap_err();
        assert_eq!(
            error,
            Rejection::InvalidJson {
                line: 2,
                column: 3,
                reason: "invalid UTF-8".to_owned()
            }
        );
        assert!(validate_json("{\"caf\u{e9}\": \"\u{1f600}\"}".as_bytes()).is_ok());
    }
}
