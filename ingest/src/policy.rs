//! What a request becomes: route, validation, and the parts of the Kafka record.

use std::borrow::Cow;

use crate::Rejection;

/// The endpoints of the gateway.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Route {
    /// `POST /`: produce the body.
    Ingest,
    /// `GET /healthz`: the process is alive.
    Health,
    /// `GET /readyz`: broker reachable, not shutting down, sink not saturated.
    Ready,
    /// `GET /metrics`: Prometheus text.
    Metrics,
}

/// Maps a method and request target to a route. The query string is ignored.
pub fn route(method: &str, target: &str) -> Result<Route, Rejection> {
    let path = target.split_once('?').map_or(target, |(path, _)| path);
    let (route, allow) = match path {
        "/" => (Route::Ingest, "POST"),
        "/healthz" => (Route::Health, "GET"),
        "/readyz" => (Route::Ready, "GET"),
        "/metrics" => (Route::Metrics, "GET"),
        _ => {
            return Err(Rejection::NotFound {
                path: path.to_owned(),
            })
        }
    };
    if method == allow {
        Ok(route)
    } else {
        Err(Rejection::MethodNotAllowed {
            method: method.to_owned(),
            allow,
        })
    }
}

/// The request headers that name record headers: `X-Kafka-Header-<name>: value`.
pub const RECORD_HEADER_PREFIX: &str = "x-kafka-header-";
/// The request header that carries the record key.
pub const RECORD_KEY_HEADER: &str = "x-kafka-key";

/// The parts of a Kafka record taken from one valid ingest request, borrowing it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecordParts<'a> {
    /// From `X-Kafka-Key`.
    pub key: Option<&'a [u8]>,
    /// From `X-Kafka-Header-*`, names lower-cased so both servers produce the same names.
    pub headers: Vec<(Cow<'a, str>, &'a [u8])>,
    /// The body, verbatim.
    pub payload: &'a [u8],
}

/// Validates an ingest request and extracts its record. `body_framed` says whether the
/// request declared a body (`Content-Length` or chunked). Allocates only for record
/// headers whose names are not already lower case.
pub fn prepare<'a>(
    headers: impl Iterator<Item = (&'a str, &'a [u8])>,
    body_framed: bool,
    body: &'a [u8],
    max_body_bytes: usize,
) -> Result<RecordParts<'a>, Rejection> {
    if !body_framed {
        return Err(Rejection::LengthRequired);
    }
    if body.len() > max_body_bytes {
        return Err(Rejection::BodyTooLarge {
            limit: max_body_bytes,
        });
    }
    let mut parts = RecordParts {
        key: None,
        headers: Vec::new(),
        payload: body,
    };
    for (name, value) in headers {
        if name.eq_ignore_ascii_case("content-type") {
            check_content_type(value)?;
        } else if name.eq_ignore_ascii_case(RECORD_KEY_HEADER) {
            parts.key = Some(value);
        } else if let Some(suffix) = strip_prefix_ignore_case(name, RECORD_HEADER_PREFIX) {
            if suffix.is_empty() {
                return Err(Rejection::InvalidHeader {
                    name: name.to_owned(),
                    reason: "record header name is empty",
                });
            }
            let suffix = if suffix.bytes().any(|b| b.is_ascii_uppercase()) {
                Cow::Owned(suffix.to_ascii_lowercase())
            } else {
                Cow::Borrowed(suffix)
            };
            parts.headers.push((suffix, value));
        }
    }
    validate_json(body)?;
    Ok(parts)
}

fn strip_prefix_ignore_case<'a>(name: &'a str, prefix: &str) -> Option<&'a str> {
    let head = name.get(..prefix.len())?;
    head.eq_ignore_ascii_case(prefix)
        .then(|| &name[prefix.len()..])
}

/// Accepts JSON media types, and `application/x-www-form-urlencoded` because that is
/// what `curl -d` sends: the body is validated as JSON either way.
fn check_content_type(value: &[u8]) -> Result<(), Rejection> {
    let media_type = value.split(|&b| b == b';').next().unwrap_or_default();
    let media_type = std::str::from_utf8(media_type).unwrap_or_default().trim();
    let lower = media_type.to_ascii_lowercase();
    let json = lower == "application/json"
        || lower == "text/json"
        || (lower.starts_with("application/") && lower.ends_with("+json"))
        || lower == "application/x-www-form-urlencoded";
    if json {
        Ok(())
    } else {
        Err(Rejection::UnsupportedMediaType {
            content_type: String::from_utf8_lossy(value).into_owned(),
        })
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

/// Checks that `body` is one JSON value, in UTF-8 (RFC 8259 §8.1), without building it.
/// serde_json skips over ignored strings without checking their UTF-8, hence the
/// explicit check first (found by the hostile-input corpus).
pub fn validate_json(body: &[u8]) -> Result<(), Rejection> {
    validate_utf8(body)?;
    serde_json::from_slice::<serde::de::IgnoredAny>(body)
        .map(|_| ())
        .map_err(|error| invalid_json(&error))
}

/// Checks that `body` is UTF-8, saying where it is not (as [`Rejection::InvalidJson`]).
pub(crate) fn validate_utf8(body: &[u8]) -> Result<(), Rejection> {
    if let Err(error) = std::str::from_utf8(body) {
        let offset = error.valid_up_to();
        let before = &body[..offset];
        let line = before.iter().filter(|&&b| b == b'\n').count() + 1;
        let column = offset
            - before
                .iter()
                .rposition(|&b| b == b'\n')
                .map_or(0, |i| i + 1)
            + 1;
        return Err(Rejection::InvalidJson {
            line,
            column,
            reason: "invalid UTF-8".to_owned(),
        });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers<'a>(pairs: &'a [(&'a str, &'a str)]) -> impl Iterator<Item = (&'a str, &'a [u8])> {
        pairs.iter().map(|(name, value)| (*name, value.as_bytes()))
    }

    #[test]
    fn routes_and_their_methods() {
        assert_eq!(route("POST", "/"), Ok(Route::Ingest));
        assert_eq!(route("POST", "/?source=web"), Ok(Route::Ingest));
        assert_eq!(route("GET", "/healthz"), Ok(Route::Health));
        assert_eq!(route("GET", "/readyz"), Ok(Route::Ready));
        assert_eq!(route("GET", "/metrics"), Ok(Route::Metrics));
        assert_eq!(
            route("GET", "/"),
            Err(Rejection::MethodNotAllowed {
                method: "GET".into(),
                allow: "POST"
            })
        );
        assert_eq!(route("POST", "/healthz").unwrap_err().allow(), Some("GET"));
        assert_eq!(
            route("POST", "/nope"),
            Err(Rejection::NotFound {
                path: "/nope".into()
            })
        );
    }

    #[test]
    fn valid_request_yields_key_headers_and_verbatim_payload() {
        let body = br#"{ "data" : "test_payload" }"#;
        let pairs = [
            ("Content-Type", "application/json; charset=utf-8"),
            ("X-Kafka-Key", "user-1"),
            ("X-Kafka-Header-Trace-Id", "abc"),
            ("x-kafka-header-source", "web"),
        ];
        let parts = prepare(headers(&pairs), true, body, 1024).unwrap();
        assert_eq!(parts.key, Some(&b"user-1"[..]));
        assert_eq!(
            parts.headers,
            vec![
                (Cow::Borrowed("trace-id"), &b"abc"[..]),
                (Cow::Borrowed("source"), &b"web"[..])
            ]
        );
        assert_eq!(
            parts.payload.as_ptr(),
            body.as_ptr(),
            "payload is the body, not a copy"
        );
    }

    #[test]
    fn curl_form_content_type_is_accepted_but_other_types_are_415() {
        assert!(prepare(
            headers(&[("Content-Type", "application/x-www-form-urlencoded")]),
            true,
            b"{}",
            10
        )
        .is_ok());
        assert!(prepare(
            headers(&[("content-type", "application/cloudevents+json")]),
            true,
            b"{}",
            10
        )
        .is_ok());
        for other in [
            "text/plain",
            "multipart/form-data; boundary=x",
            "application/xml",
        ] {
            let error = prepare(headers(&[("Content-Type", other)]), true, b"{}", 10).unwrap_err();
            assert_eq!(
                error.status(),
                http::StatusCode::UNSUPPORTED_MEDIA_TYPE,
                "{other}"
            );
        }
    }

    #[test]
    fn invalid_json_says_where() {
        let error = prepare(headers(&[]), true, b"{\n  \"a\": tru }", 100).unwrap_err();
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

    #[test]
    fn missing_length_is_411_and_oversized_body_is_413() {
        assert_eq!(
            prepare(headers(&[]), false, b"", 10),
            Err(Rejection::LengthRequired)
        );
        assert_eq!(
            prepare(headers(&[]), true, b"[1,2,3,4,5]", 10),
            Err(Rejection::BodyTooLarge { limit: 10 })
        );
    }

    #[test]
    fn empty_record_header_name_is_rejected() {
        let error = prepare(headers(&[("X-Kafka-Header-", "v")]), true, b"{}", 10).unwrap_err();
        assert_eq!(error.status(), http::StatusCode::BAD_REQUEST);
    }
}
