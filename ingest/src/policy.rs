//! What a request becomes: its route, the one pass over its headers, the one body
//! check every write passes, and the parts of the Kafka record of `POST /`.

use std::borrow::Cow;

use kafka_sink::Record;

use crate::{Policy, Rejection};

/// The endpoints of the gateway outside the REST Proxy API.
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

/// Maps a method and path (no query: [`crate::Incoming::path`]) to a route.
pub fn route(method: &str, path: &str) -> Result<Route, Rejection> {
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

/// The method `path` takes, for a CORS preflight, or the path's 404: routing with no
/// method answers "not allowed, allowed: ..." for every path there is.
pub(crate) fn allowed_method(path: &str) -> Result<&'static str, Rejection> {
    let rejection = route("", path).err().unwrap_or(Rejection::NotFound {
        path: path.to_owned(),
    });
    rejection.allow().ok_or(rejection)
}

/// The request headers that name record headers: `X-Kafka-Header-<name>: value`.
pub const RECORD_HEADER_PREFIX: &str = "x-kafka-header-";
/// The request header that carries the record key.
pub const RECORD_KEY_HEADER: &str = "x-kafka-key";

/// A request after the one pass over its headers: what every path reads of it.
#[derive(Debug)]
pub(crate) struct Request<'a> {
    /// Method token.
    pub(crate) method: &'a str,
    /// The path, without the query.
    pub(crate) path: &'a str,
    /// What the gateway reads of the headers.
    pub(crate) headers: RequestHeaders<'a>,
    /// The decoded body.
    pub(crate) body: &'a [u8],
    /// Whether the request declared a body (`Content-Length` or chunked).
    pub(crate) body_framed: bool,
}

/// What the gateway reads of a request's headers, found in one pass over them, so that
/// every path (`POST /`, the REST Proxy API, the cross-site rules) reads the same
/// value of the same header. Borrowed from the request; allocates only for record
/// headers (`X-Kafka-Header-*`, which only `POST /` uses): the list, and a name that is
/// not lower case already.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub(crate) struct RequestHeaders<'a> {
    /// `Content-Type`, at most one (a second is refused: which one a proxy in front
    /// of the gateway honoured is unknowable).
    pub(crate) content_type: Option<&'a [u8]>,
    /// `X-Kafka-Key` (the last one).
    pub(crate) key: Option<&'a [u8]>,
    /// `X-Kafka-Header-<name>` as (`<name>` lower-cased, so every server produces the
    /// same names; value), in order.
    pub(crate) record_headers: Vec<(Cow<'a, str>, &'a [u8])>,
    /// `Origin` (the first).
    pub(crate) origin: Option<&'a [u8]>,
    /// Whether `Origin` came more than once (which no browser sends).
    pub(crate) origin_repeated: bool,
    /// `Sec-Fetch-Site` (the last).
    pub(crate) sec_fetch_site: Option<&'a [u8]>,
    /// `Access-Control-Request-Method` (the last), of a CORS preflight.
    pub(crate) access_control_request_method: Option<&'a [u8]>,
    /// `Access-Control-Request-Headers` (the last), of a CORS preflight.
    pub(crate) access_control_request_headers: Option<&'a [u8]>,
}

impl<'a> RequestHeaders<'a> {
    /// The one pass over `headers`.
    pub(crate) fn scan(
        headers: impl Iterator<Item = (&'a str, &'a [u8])>,
    ) -> Result<Self, Rejection> {
        let mut found = Self::default();
        for (name, value) in headers {
            if name.eq_ignore_ascii_case("content-type") {
                if found.content_type.is_some() {
                    return Err(Rejection::InvalidHeader {
                        name: name.to_owned(),
                        reason: "sent more than once",
                    });
                }
                found.content_type = Some(value);
            } else if name.eq_ignore_ascii_case(RECORD_KEY_HEADER) {
                found.key = Some(value);
            } else if name.eq_ignore_ascii_case("origin") {
                found.origin_repeated |= found.origin.is_some();
                found.origin = found.origin.or(Some(value));
            } else if name.eq_ignore_ascii_case("sec-fetch-site") {
                found.sec_fetch_site = Some(value);
            } else if name.eq_ignore_ascii_case("access-control-request-method") {
                found.access_control_request_method = Some(value);
            } else if name.eq_ignore_ascii_case("access-control-request-headers") {
                found.access_control_request_headers = Some(value);
            } else if let Some(suffix) = strip_prefix_ignore_case(name, RECORD_HEADER_PREFIX) {
                let suffix = if suffix.bytes().any(|b| b.is_ascii_uppercase()) {
                    Cow::Owned(suffix.to_ascii_lowercase())
                } else {
                    Cow::Borrowed(suffix)
                };
                found.record_headers.push((suffix, value));
            }
        }
        Ok(found)
    }

    /// The media type of `Content-Type` (`None` without one), for every path's
    /// acceptance rule.
    pub(crate) fn media_type(&self) -> Option<MediaType<'a>> {
        self.content_type.map(MediaType::parse)
    }
}

/// A `Content-Type` value reduced to what the gateway's rules compare: the media type
/// without parameters and surrounding white space, compared without regard to case
/// (RFC 9110 §8.3.1). Keeps the value as sent for the 415 answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct MediaType<'a> {
    essence: &'a [u8],
    sent: &'a [u8],
}

impl<'a> MediaType<'a> {
    /// Parses a `Content-Type` value. Compared as bytes: a value that is not ASCII
    /// matches no type, with no UTF-8 check to pay.
    pub(crate) fn parse(value: &'a [u8]) -> Self {
        let essence = value.split(|&b| b == b';').next().unwrap_or_default();
        Self {
            essence: essence.trim_ascii(),
            sent: value,
        }
    }

    /// Whether this is `name` (lower case, no parameters).
    pub(crate) fn is(&self, name: &str) -> bool {
        self.essence.eq_ignore_ascii_case(name.as_bytes())
    }

    /// A JSON media type: `application/json`, `text/json` or any `application/*+json`.
    pub(crate) fn is_json(&self) -> bool {
        if self.is("application/json") || self.is("text/json") {
            return true;
        }
        let Some(slash) = self.essence.iter().position(|&b| b == b'/') else {
            return false;
        };
        let (kind, subtype) = (&self.essence[..slash], &self.essence[slash + 1..]);
        kind.eq_ignore_ascii_case(b"application")
            && subtype.len() > b"+json".len()
            && subtype[subtype.len() - b"+json".len()..].eq_ignore_ascii_case(b"+json")
    }

    /// The value as sent, for the 415 answer.
    pub(crate) fn sent(&self) -> String {
        String::from_utf8_lossy(self.sent).into_owned()
    }
}

/// The one body check of every write (`POST /` and the REST Proxy's produce paths):
/// a body must be declared (`Content-Length` or chunked, else 411) and within
/// `max_body_bytes` (else 413). `body_framed` says whether the request declared one.
pub(crate) fn check_body(
    body_framed: bool,
    body: &[u8],
    max_body_bytes: usize,
) -> Result<(), Rejection> {
    if !body_framed {
        return Err(Rejection::LengthRequired);
    }
    if body.len() > max_body_bytes {
        return Err(Rejection::BodyTooLarge {
            limit: max_body_bytes,
        });
    }
    Ok(())
}

/// The largest record the gateway takes, decided here for every path: its body passed
/// the body limit ([`Policy::max_body_bytes`], which bounds every value since a value
/// is at most its body), and the record fits librdkafka's `message.max.bytes`
/// ([`Policy::max_message_bytes`], which bounds value, key and headers together).
/// Over either is 413: the client must send less, where a 502 from the producer would
/// invite the same request again.
pub fn check_record_size(record: &Record<'_>, policy: &Policy) -> Result<(), Rejection> {
    // The producer's own count (`Record::wire_size_bytes`), so the gateway's 413 and
    // librdkafka's refusal cannot drift apart.
    let bytes = record.wire_size_bytes();
    if bytes > policy.max_message_bytes {
        return Err(Rejection::RecordTooLarge {
            bytes,
            limit: policy.max_message_bytes,
        });
    }
    Ok(())
}

/// The parts of a Kafka record taken from one valid `POST /` request, borrowing it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct RecordParts<'h, 'a> {
    /// From `X-Kafka-Key`.
    pub(crate) key: Option<&'a [u8]>,
    /// From `X-Kafka-Header-*`, names lower-cased.
    pub(crate) headers: &'h [(Cow<'a, str>, &'a [u8])],
}

/// The record parts of a `POST /` whose body passed [`check_body`]: the media type is
/// absent, JSON, or `application/x-www-form-urlencoded` (what `curl -d` sends; the
/// body is validated as JSON either way), else 415; no record header name is empty.
pub(crate) fn record_parts<'h, 'a>(
    headers: &'h RequestHeaders<'a>,
) -> Result<RecordParts<'h, 'a>, Rejection> {
    if let Some(media_type) = headers.media_type() {
        if !(media_type.is_json() || media_type.is("application/x-www-form-urlencoded")) {
            return Err(Rejection::UnsupportedMediaType {
                content_type: media_type.sent(),
            });
        }
    }
    if headers
        .record_headers
        .iter()
        .any(|(name, _)| name.is_empty())
    {
        return Err(Rejection::InvalidHeader {
            name: RECORD_HEADER_PREFIX.to_owned(),
            reason: "record header name is empty",
        });
    }
    Ok(RecordParts {
        key: headers.key,
        headers: &headers.record_headers,
    })
}

fn strip_prefix_ignore_case<'a>(name: &'a str, prefix: &str) -> Option<&'a str> {
    let head = name.get(..prefix.len())?;
    head.eq_ignore_ascii_case(prefix)
        .then(|| &name[prefix.len()..])
}

#[cfg(test)]
mod tests {
    use super::*;

    fn scan<'a>(pairs: &'a [(&'a str, &'a str)]) -> Result<RequestHeaders<'a>, Rejection> {
        RequestHeaders::scan(pairs.iter().map(|(name, value)| (*name, value.as_bytes())))
    }

    /// The record key and headers, owned.
    type Owned = (Option<Vec<u8>>, Vec<(String, Vec<u8>)>);

    fn parts(pairs: &[(&str, &str)]) -> Result<Owned, Rejection> {
        let headers = scan(pairs)?;
        let parts = record_parts(&headers)?;
        Ok((
            parts.key.map(<[u8]>::to_vec),
            parts
                .headers
                .iter()
                .map(|(name, value)| (name.to_string(), value.to_vec()))
                .collect(),
        ))
    }

    #[test]
    fn routes_and_their_methods() {
        assert_eq!(route("POST", "/"), Ok(Route::Ingest));
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
    fn valid_request_yields_key_and_lower_cased_record_headers() {
        let pairs = [
            ("Content-Type", "application/json; charset=utf-8"),
            ("X-Kafka-Key", "user-1"),
            ("X-Kafka-Header-Trace-Id", "abc"),
            ("x-kafka-header-source", "web"),
        ];
        let (key, headers) = parts(&pairs).unwrap();
        assert_eq!(key.as_deref(), Some(&b"user-1"[..]));
        assert_eq!(
            headers,
            [
                ("trace-id".to_owned(), b"abc".to_vec()),
                ("source".to_owned(), b"web".to_vec())
            ]
        );
        let scanned = scan(&pairs).unwrap();
        assert!(
            matches!(scanned.record_headers[1].0, Cow::Borrowed(_)),
            "a lower-case name is not copied"
        );
    }

    #[test]
    fn curl_form_content_type_is_accepted_but_other_types_are_415() {
        for accepted in [
            "application/x-www-form-urlencoded",
            "application/cloudevents+json",
            " Application/JSON ; charset=utf-8",
            "text/json",
        ] {
            assert!(parts(&[("Content-Type", accepted)]).is_ok(), "{accepted}");
        }
        assert!(parts(&[]).is_ok(), "no Content-Type at all");
        for other in [
            "text/plain",
            "multipart/form-data; boundary=x",
            "application/xml",
            "application/+json",
            "application/jsonx",
        ] {
            let error = parts(&[("Content-Type", other)]).unwrap_err();
            assert_eq!(
                error.status(),
                http::StatusCode::UNSUPPORTED_MEDIA_TYPE,
                "{other}"
            );
        }
    }

    #[test]
    fn a_media_type_is_compared_as_ascii_bytes() {
        assert!(MediaType::parse(b"\tapplication/json ").is_json());
        assert!(MediaType::parse(b"APPLICATION/VND.API+JSON;v=1").is_json());
        assert!(!MediaType::parse(b"application/json\xc2\xa0").is_json());
        assert!(!MediaType::parse(b"\xffpplication/json").is_json());
        assert!(!MediaType::parse(b"").is_json());
        assert!(!MediaType::parse(b"json").is_json());
    }

    #[test]
    fn a_second_content_type_is_refused() {
        let error = scan(&[
            ("Content-Type", "text/plain"),
            ("content-type", "application/json"),
        ])
        .unwrap_err();
        assert_eq!(error.status(), http::StatusCode::BAD_REQUEST);
    }

    #[test]
    fn missing_length_is_411_and_oversized_body_is_413() {
        assert_eq!(check_body(false, b"", 10), Err(Rejection::LengthRequired));
        assert_eq!(
            check_body(true, b"[1,2,3,4,5]", 10),
            Err(Rejection::BodyTooLarge { limit: 10 })
        );
        assert_eq!(check_body(true, b"[1,2,3,4]", 10), Ok(()));
    }

    #[test]
    fn empty_record_header_name_is_rejected() {
        let error = parts(&[("X-Kafka-Header-", "v")]).unwrap_err();
        assert_eq!(error.status(), http::StatusCode::BAD_REQUEST);
    }
}
