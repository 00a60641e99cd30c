//! The REST Proxy's media types: which request types each API takes, and what its
//! answers are labelled. The `Content-Type` itself is found and parsed once, by
//! [`RequestHeaders`](crate::policy::RequestHeaders), as on every other path.

use crate::policy::MediaType;
use crate::Rejection;

/// The `Content-Type` of v2 answers.
pub(super) const V2_ANSWER: &str = "application/vnd.kafka.v2+json";
/// The `Content-Type` of v3 answers.
pub(super) const V3_ANSWER: &str = "application/json";

const V2_JSON: &str = "application/vnd.kafka.json.v2+json";
const V2_BINARY: &str = "application/vnd.kafka.binary.v2+json";
/// The v2 request types the gateway speaks (named in its 415 answers).
const V2_SUPPORTED: &str =
    "application/vnd.kafka.json.v2+json, application/vnd.kafka.binary.v2+json";
/// The v3 request type.
const V3_SUPPORTED: &str = "application/json";

/// How v2 keys and values are embedded.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Embedded {
    /// `application/vnd.kafka.json.v2+json`: JSON values, produced as their JSON text.
    Json,
    /// `application/vnd.kafka.binary.v2+json`: base64 strings, produced decoded.
    Binary,
}

/// The v2 embedded format of `media_type`; Schema Registry formats (avro, jsonschema,
/// protobuf), a missing type and everything else are 415 naming the supported types.
pub(super) fn v2_embedded(media_type: Option<MediaType<'_>>) -> Result<Embedded, Rejection> {
    match media_type {
        Some(media_type) if media_type.is(V2_JSON) => Ok(Embedded::Json),
        Some(media_type) if media_type.is(V2_BINARY) => Ok(Embedded::Binary),
        _ => Err(unsupported(media_type, V2_SUPPORTED)),
    }
}

/// v3 takes `application/json` only.
pub(super) fn check_v3(media_type: Option<MediaType<'_>>) -> Result<(), Rejection> {
    match media_type {
        Some(media_type) if media_type.is(V3_SUPPORTED) => Ok(()),
        _ => Err(unsupported(media_type, V3_SUPPORTED)),
    }
}

fn unsupported(media_type: Option<MediaType<'_>>, supported: &'static str) -> Rejection {
    Rejection::UnsupportedEmbeddedFormat {
        content_type: media_type
            .map(|media_type| media_type.sent())
            .unwrap_or_default(),
        supported,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn v2_types_are_matched_without_case_or_parameters() {
        let parse = |value: &'static str| Some(MediaType::parse(value.as_bytes()));
        assert_eq!(v2_embedded(parse(V2_JSON)), Ok(Embedded::Json));
        assert_eq!(
            v2_embedded(parse("Application/Vnd.Kafka.Binary.V2+Json; charset=utf-8")),
            Ok(Embedded::Binary)
        );
        for refused in [
            parse("application/vnd.kafka.avro.v2+json"),
            parse("application/json"),
            None,
        ] {
            let error = v2_embedded(refused).unwrap_err();
            assert_eq!(error.status(), http::StatusCode::UNSUPPORTED_MEDIA_TYPE);
            assert!(error.to_string().contains(V2_JSON), "{error}");
        }
        assert_eq!(check_v3(parse(" application/JSON ;x=y")), Ok(()));
        assert!(check_v3(parse(V2_JSON)).is_err());
    }
}
