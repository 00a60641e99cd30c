//! The Kafka REST Proxy produce API, free of I/O: routes, body parsing and the
//! per-record answers. [`crate::Gateway`] does the producing.
//!
//! Parsing builds no DOM: serde borrows keys, values and header names from the body
//! (`&RawValue` for embedded JSON, produced as its JSON text verbatim), and base64 is
//! decoded straight into one buffer per request that every record's bytes point into.
//! A request is validated whole before anything is produced: a malformed record
//! anywhere rejects the request and nothing of it reaches Kafka.

use std::borrow::Cow;
use std::fmt::Write as _;
use std::ops::Range;

use base64::Engine as _;
use serde::Deserialize;
use serde_json::value::RawValue;

use crate::Rejection;

/// The `Content-Type` of v2 answers.
pub(crate) const V2_CONTENT_TYPE: &str = "application/vnd.kafka.v2+json";
/// The v2 request types the gateway speaks (named in its 415 answers).
pub(crate) const V2_SUPPORTED: &str =
    "application/vnd.kafka.json.v2+json, application/vnd.kafka.binary.v2+json";
/// The v3 request type.
pub(crate) const V3_SUPPORTED: &str = "application/json";

/// A REST Proxy endpoint, borrowing the path.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum RestRoute<'a> {
    /// `GET /topics`: the allowed topics that exist.
    ListTopics,
    /// `GET /v3/clusters`: the one cluster.
    ListClusters,
    /// `POST /topics/{topic}` and `POST /topics/{topic}/partitions/{partition}`.
    V2Produce {
        topic: &'a str,
        partition: Option<i32>,
    },
    /// `POST /v3/clusters/{cluster_id}/topics/{topic}/records` (`batch: false`) and
    /// `.../records:batch` (`batch: true`).
    V3Produce {
        cluster_id: &'a str,
        topic: &'a str,
        batch: bool,
    },
}

/// The REST Proxy route for `path`, `None` when the path is not a REST Proxy path.
pub(crate) fn route<'a>(method: &str, path: &'a str) -> Option<Result<RestRoute<'a>, Rejection>> {
    let rest = path.strip_prefix('/')?;
    let first = rest.split('/').next().unwrap_or_default();
    if first != "topics" && first != "v3" {
        // Every other path (`POST /` above all) leaves without splitting or allocating.
        return None;
    }
    // The longest route has six segments; a seventh means no route (kept on the stack).
    let mut segments = [""; 7];
    let mut count = 0;
    for segment in rest.split('/').take(segments.len()) {
        segments[count] = segment;
        count += 1;
    }
    let (route, allow) = match segments[..count] {
        ["topics"] => (Ok(RestRoute::ListTopics), "GET"),
        ["topics", topic] if !topic.is_empty() => (
            Ok(RestRoute::V2Produce {
                topic,
                partition: None,
            }),
            "POST",
        ),
        ["topics", topic, "partitions", partition] if !topic.is_empty() => {
            let route = partition
                .parse::<i32>()
                .map(|partition| RestRoute::V2Produce {
                    topic,
                    partition: Some(partition),
                })
                .map_err(|_| Rejection::NotFound {
                    path: path.to_owned(),
                });
            (route, "POST")
        }
        ["v3", "clusters"] => (Ok(RestRoute::ListClusters), "GET"),
        ["v3", "clusters", cluster_id, "topics", topic, records]
            if records == "records" || records == "records:batch" =>
        {
            (
                Ok(RestRoute::V3Produce {
                    cluster_id,
                    topic,
                    batch: records == "records:batch",
                }),
                "POST",
            )
        }
        _ => (
            Err(Rejection::NotFound {
                path: path.to_owned(),
            }),
            "",
        ),
    };
    Some(match route {
        Ok(_) if method != allow => Err(Rejection::MethodNotAllowed {
            method: method.to_owned(),
            allow,
        }),
        route => route,
    })
}

/// How v2 keys and values are embedded.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Embedded {
    /// `application/vnd.kafka.json.v2+json`: JSON values, produced as their JSON text.
    Json,
    /// `application/vnd.kafka.binary.v2+json`: base64 strings, produced decoded.
    Binary,
}

fn media_type(content_type: Option<&[u8]>) -> String {
    let value = content_type.unwrap_or_default();
    let media_type = value.split(|&b| b == b';').next().unwrap_or_default();
    String::from_utf8_lossy(media_type)
        .trim()
        .to_ascii_lowercase()
}

/// The v2 embedded format from `Content-Type`; Schema Registry formats (avro,
/// jsonschema, protobuf) and everything else are 415 naming the supported types.
pub(crate) fn v2_embedded(content_type: Option<&[u8]>) -> Result<Embedded, Rejection> {
    match media_type(content_type).as_str() {
        "application/vnd.kafka.json.v2+json" => Ok(Embedded::Json),
        "application/vnd.kafka.binary.v2+json" => Ok(Embedded::Binary),
        _ => Err(Rejection::UnsupportedEmbeddedFormat {
            content_type: String::from_utf8_lossy(content_type.unwrap_or_default()).into_owned(),
            supported: V2_SUPPORTED,
        }),
    }
}

/// v3 takes `application/json` only.
pub(crate) fn check_v3_content_type(content_type: Option<&[u8]>) -> Result<(), Rejection> {
    if media_type(content_type) == "application/json" {
        Ok(())
    } else {
        Err(Rejection::UnsupportedEmbeddedFormat {
            content_type: String::from_utf8_lossy(content_type.unwrap_or_default()).into_owned(),
            supported: V3_SUPPORTED,
        })
    }
}

/// v3 data types (v2 JSON counts as `JSON`, v2 binary as `BINARY`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "UPPERCASE")]
pub(crate) enum DataType {
    /// JSON text, produced verbatim.
    Json,
    /// base64 in the request, produced decoded.
    Binary,
    /// A JSON string, produced as its UTF-8 bytes.
    String,
}

impl DataType {
    fn name(self) -> &'static str {
        match self {
            Self::Json => "JSON",
            Self::Binary => "BINARY",
            Self::String => "STRING",
        }
    }
}

/// Bytes of a record: borrowed from the body, or a range of the request's decode buffer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Bytes<'a> {
    Absent,
    Body(&'a [u8]),
    Decoded(usize, usize),
}

/// A key or value: its bytes and, for v3 reports, its type.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Field<'a> {
    bytes: Bytes<'a>,
    data_type: DataType,
}

impl Field<'_> {
    const ABSENT: Self = Self {
        bytes: Bytes::Absent,
        data_type: DataType::Json,
    };
}

/// One record to produce, pointing into the body and the decode buffer.
#[derive(Debug)]
pub(crate) struct RecordSpec<'a> {
    key: Field<'a>,
    value: Field<'a>,
    pub(crate) partition: Option<i32>,
    pub(crate) timestamp_ms: Option<i64>,
    headers: Range<usize>,
    id: Range<usize>,
}

/// A parsed request: its records and the buffers they point into.
#[derive(Debug, Default)]
pub(crate) struct Parsed<'a> {
    pub(crate) records: Vec<RecordSpec<'a>>,
    header_names: Vec<Cow<'a, str>>,
    header_values: Vec<Bytes<'a>>,
    /// Every base64-decoded (and unescaped) byte of the request, reused by all records.
    decoded: Vec<u8>,
    /// Batch ids, one after another (`RecordSpec::id` ranges into it).
    ids: String,
}

/// What a record looked like, kept for the v3 reports once the body is gone.
#[derive(Debug, Clone)]
pub(crate) struct RecordMeta {
    key: Option<(DataType, usize)>,
    value: Option<(DataType, usize)>,
    id: Range<usize>,
}

impl<'a> Parsed<'a> {
    fn resolve(&self, bytes: Bytes<'a>) -> Option<&[u8]> {
        match bytes {
            Bytes::Absent => None,
            Bytes::Body(slice) => Some(slice),
            Bytes::Decoded(start, end) => Some(&self.decoded[start..end]),
        }
    }

    /// Every header of every record as (name, value), for slicing per record.
    pub(crate) fn header_pairs(&self) -> Vec<(&str, &[u8])> {
        self.header_names
            .iter()
            .zip(&self.header_values)
            .map(|(name, value)| (name.as_ref(), self.resolve(*value).unwrap_or_default()))
            .collect()
    }

    /// Key, value (empty when absent: the sink has no tombstones) and the range of
    /// `header_pairs` of record `spec`.
    pub(crate) fn parts(&self, spec: &RecordSpec<'a>) -> (Option<&[u8]>, &[u8], Range<usize>) {
        (
            self.resolve(spec.key.bytes),
            self.resolve(spec.value.bytes).unwrap_or_default(),
            spec.headers.clone(),
        )
    }

    /// What the v3 reports need of each record, plus the batch ids.
    pub(crate) fn into_meta(self) -> (Vec<RecordMeta>, String) {
        let meta = self
            .records
            .iter()
            .map(|spec| {
                let describe = |field: Field<'a>| {
                    self.resolve(field.bytes)
                        .map(|bytes| (field.data_type, bytes.len()))
                };
                RecordMeta {
                    key: describe(spec.key),
                    value: describe(spec.value),
                    id: spec.id.clone(),
                }
            })
            .collect();
        (meta, self.ids)
    }

    fn decode_base64(
        &mut self,
        field: &'static str,
        raw: &'a RawValue,
    ) -> Result<Bytes<'a>, Rejection> {
        let text = json_string(raw, field)?;
        let start = self.decoded.len();
        base64::engine::general_purpose::STANDARD
            .decode_vec(text.as_bytes(), &mut self.decoded)
            .map_err(|error| Rejection::InvalidBase64 {
                field,
                reason: error.to_string(),
            })?;
        Ok(Bytes::Decoded(start, self.decoded.len()))
    }

    fn string_bytes(
        &mut self,
        field: &'static str,
        raw: &'a RawValue,
    ) -> Result<Bytes<'a>, Rejection> {
        Ok(match json_string(raw, field)? {
            Cow::Borrowed(text) => Bytes::Body(text.as_bytes()),
            Cow::Owned(text) => {
                let start = self.decoded.len();
                self.decoded.extend_from_slice(text.as_bytes());
                Bytes::Decoded(start, self.decoded.len())
            }
        })
    }

    fn field(
        &mut self,
        name: &'static str,
        data_type: DataType,
        raw: Option<&'a RawValue>,
    ) -> Result<Field<'a>, Rejection> {
        let Some(raw) = raw else {
            return Ok(Field::ABSENT);
        };
        let bytes = match data_type {
            DataType::Json => Bytes::Body(raw.get().as_bytes()),
            DataType::Binary => self.decode_base64(name, raw)?,
            DataType::String => self.string_bytes(name, raw)?,
        };
        Ok(Field { bytes, data_type })
    }
}

/// The text of a JSON string, borrowed unless it has escapes.
fn json_string<'a>(raw: &'a RawValue, field: &'static str) -> Result<Cow<'a, str>, Rejection> {
    let text = raw.get();
    if let Some(inner) = text.strip_prefix('"').and_then(|t| t.strip_suffix('"')) {
        if !inner.contains('\\') {
            return Ok(Cow::Borrowed(inner));
        }
    }
    serde_json::from_str::<String>(text)
        .map(Cow::Owned)
        .map_err(|_| Rejection::Unprocessable {
            reason: format!("{field} must be a JSON string"),
        })
}

/// serde's verdict as the REST Proxy's: broken JSON is 400, JSON of the wrong shape 422.
fn json_error(error: serde_json::Error) -> Rejection {
    match error.classify() {
        serde_json::error::Category::Data => Rejection::Unprocessable {
            reason: error.to_string(),
        },
        _ => crate::policy::invalid_json(&error),
    }
}

fn check_count(count: usize, max_records: usize) -> Result<(), Rejection> {
    if count == 0 {
        return Err(Rejection::Unprocessable {
            reason: "no records".to_owned(),
        });
    }
    if count > max_records {
        return Err(Rejection::TooManyRecords {
            count,
            limit: max_records,
        });
    }
    Ok(())
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct V2Record<'a> {
    #[serde(borrow, default)]
    key: Option<&'a RawValue>,
    #[serde(borrow, default)]
    value: Option<&'a RawValue>,
    #[serde(default)]
    partition: Option<i32>,
}

/// Parses `{"<field>": [...]}` (no other field) and stops at `max + 1` elements, so a
/// body of many tiny records costs no more than the limit allows before it is refused.
fn bounded_list<'a, T: Deserialize<'a>>(
    body: &'a [u8],
    field: &'static str,
    max: usize,
) -> Result<Vec<T>, Rejection> {
    use serde::de::{self, DeserializeSeed, MapAccess, SeqAccess, Visitor};
    use std::cell::Cell;
    use std::marker::PhantomData;

    struct Object<'c, T> {
        field: &'static str,
        max: usize,
        exceeded: &'c Cell<bool>,
        element: PhantomData<T>,
    }
    struct List<'c, T> {
        max: usize,
        exceeded: &'c Cell<bool>,
        element: PhantomData<T>,
    }

    impl<'de, T: Deserialize<'de>> Visitor<'de> for Object<'_, T> {
        type Value = Vec<T>;
        fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            write!(f, "an object with `{}`", self.field)
        }
        fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Vec<T>, A::Error> {
            let mut list = None;
            while let Some(key) = map.next_key::<Cow<'de, str>>()? {
                if key != self.field {
                    let expected: &'static [&'static str] = match self.field {
                        "records" => &["records"],
                        _ => &["entries"],
                    };
                    return Err(de::Error::unknown_field(&key, expected));
                }
                if list.is_some() {
                    return Err(de::Error::duplicate_field(self.field));
                }
                list = Some(map.next_value_seed(List {
                    max: self.max,
                    exceeded: self.exceeded,
                    element: PhantomData,
                })?);
            }
            list.ok_or_else(|| de::Error::missing_field(self.field))
        }
    }
    impl<'de, T: Deserialize<'de>> DeserializeSeed<'de> for List<'_, T> {
        type Value = Vec<T>;
        fn deserialize<D: de::Deserializer<'de>>(
            self,
            deserializer: D,
        ) -> Result<Vec<T>, D::Error> {
            deserializer.deserialize_seq(self)
        }
    }
    impl<'de, T: Deserialize<'de>> Visitor<'de> for List<'_, T> {
        type Value = Vec<T>;
        fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            f.write_str("an array")
        }
        fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Vec<T>, A::Error> {
            let mut out = Vec::with_capacity(seq.size_hint().unwrap_or(0).min(self.max));
            while let Some(element) = seq.next_element()? {
                if out.len() == self.max {
                    self.exceeded.set(true);
                    return Err(de::Error::custom("too many records"));
                }
                out.push(element);
            }
            Ok(out)
        }
    }

    let exceeded = Cell::new(false);
    let mut deserializer = serde_json::Deserializer::from_slice(body);
    let object = Object {
        field,
        max,
        exceeded: &exceeded,
        element: PhantomData,
    };
    let parsed = de::Deserializer::deserialize_map(&mut deserializer, object)
        .and_then(|list| deserializer.end().map(|()| list));
    parsed.map_err(|error| {
        if exceeded.get() {
            Rejection::TooManyRecords {
                count: max + 1,
                limit: max,
            }
        } else {
            json_error(error)
        }
    })
}

/// Parses a v2 produce body. `partition` is the path's partition, if any; it wins over
/// the records' own.
pub(crate) fn parse_v2(
    body: &[u8],
    embedded: Embedded,
    partition: Option<i32>,
    max_records: usize,
) -> Result<Parsed<'_>, Rejection> {
    crate::policy::validate_utf8(body)?;
    let records: Vec<V2Record<'_>> = bounded_list(body, "records", max_records)?;
    check_count(records.len(), max_records)?;
    let data_type = match embedded {
        Embedded::Json => DataType::Json,
        Embedded::Binary => DataType::Binary,
    };
    let mut out = Parsed {
        records: Vec::with_capacity(records.len()),
        ..Parsed::default()
    };
    for record in records {
        let key = out.field("key", data_type, record.key)?;
        let value = out.field("value", data_type, record.value)?;
        out.records.push(RecordSpec {
            key,
            value,
            partition: partition.or(record.partition),
            timestamp_ms: None,
            headers: 0..0,
            id: 0..0,
        });
    }
    Ok(out)
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct V3Data<'a> {
    #[serde(rename = "type", default)]
    data_type: Option<DataType>,
    #[serde(borrow, default)]
    data: Option<&'a RawValue>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct V3Header<'a> {
    #[serde(borrow)]
    name: Cow<'a, str>,
    #[serde(borrow, default)]
    value: Option<&'a RawValue>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct V3Record<'a> {
    #[serde(default)]
    partition_id: Option<i32>,
    #[serde(borrow, default)]
    headers: Vec<V3Header<'a>>,
    #[serde(borrow, default)]
    key: Option<V3Data<'a>>,
    #[serde(borrow, default)]
    value: Option<V3Data<'a>>,
    #[serde(borrow, default)]
    timestamp: Option<Cow<'a, str>>,
}

/// A batch entry: a v3 record with an `id`. Its own struct because serde's `flatten`
/// works with neither `deny_unknown_fields` nor borrowed raw values.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct V3Entry<'a> {
    #[serde(borrow)]
    id: Cow<'a, str>,
    #[serde(default)]
    partition_id: Option<i32>,
    #[serde(borrow, default)]
    headers: Vec<V3Header<'a>>,
    #[serde(borrow, default)]
    key: Option<V3Data<'a>>,
    #[serde(borrow, default)]
    value: Option<V3Data<'a>>,
    #[serde(borrow, default)]
    timestamp: Option<Cow<'a, str>>,
}

/// Longest batch entry id.
pub(crate) const MAX_ID_CHARS: usize = 80;

impl<'a> Parsed<'a> {
    fn push_v3(&mut self, record: V3Record<'a>, id: Range<usize>) -> Result<(), Rejection> {
        let mut data = |name, data: Option<V3Data<'a>>| match data {
            None => Ok(Field::ABSENT),
            // A type left out means JSON (documented).
            Some(data) => self.field(name, data.data_type.unwrap_or(DataType::Json), data.data),
        };
        let key = data("key", record.key)?;
        let value = data("value", record.value)?;
        let first_header = self.header_names.len();
        for header in record.headers {
            let value = match header.value {
                Some(raw) if raw.get() != "null" => self.decode_base64("header value", raw)?,
                _ => Bytes::Body(b""),
            };
            self.header_names.push(header.name);
            self.header_values.push(value);
        }
        let timestamp_ms = match record.timestamp {
            None => None,
            Some(text) => {
                Some(
                    parse_rfc3339_ms(&text).ok_or_else(|| Rejection::Unprocessable {
                        reason: format!("timestamp `{text}` is not an RFC 3339 date-time"),
                    })?,
                )
            }
        };
        self.records.push(RecordSpec {
            key,
            value,
            partition: record.partition_id,
            timestamp_ms,
            headers: first_header..self.header_names.len(),
            id,
        });
        Ok(())
    }
}

/// Parses a v3 produce body: one record, or several concatenated (streaming mode).
pub(crate) fn parse_v3_records(body: &[u8], max_records: usize) -> Result<Parsed<'_>, Rejection> {
    crate::policy::validate_utf8(body)?;
    let mut out = Parsed::default();
    for record in serde_json::Deserializer::from_slice(body).into_iter::<V3Record<'_>>() {
        let record = record.map_err(json_error)?;
        if out.records.len() == max_records {
            return Err(Rejection::TooManyRecords {
                count: max_records + 1,
                limit: max_records,
            });
        }
        out.push_v3(record, 0..0)?;
    }
    check_count(out.records.len(), max_records)?;
    Ok(out)
}

/// Parses a v3 `records:batch` body. Ids are JSON strings of 1 to 80 characters,
/// unique within the batch.
pub(crate) fn parse_v3_batch(body: &[u8], max_records: usize) -> Result<Parsed<'_>, Rejection> {
    crate::policy::validate_utf8(body)?;
    let entries: Vec<V3Entry<'_>> = bounded_list(body, "entries", max_records)?;
    check_count(entries.len(), max_records)?;
    let mut out = Parsed {
        records: Vec::with_capacity(entries.len()),
        ..Parsed::default()
    };
    let mut seen = std::collections::HashSet::with_capacity(entries.len());
    for entry in entries {
        let chars = entry.id.chars().count();
        if chars == 0 || chars > MAX_ID_CHARS {
            return Err(Rejection::Unprocessable {
                reason: format!("entry id must have 1 to {MAX_ID_CHARS} characters"),
            });
        }
        if !seen.insert(entry.id.clone()) {
            return Err(Rejection::Unprocessable {
                reason: format!("duplicate entry id `{}`", entry.id),
            });
        }
        let start = out.ids.len();
        out.ids.push_str(&entry.id);
        let id = start..out.ids.len();
        let record = V3Record {
            partition_id: entry.partition_id,
            headers: entry.headers,
            key: entry.key,
            value: entry.value,
            timestamp: entry.timestamp,
        };
        out.push_v3(record, id)?;
    }
    Ok(out)
}

/// A record's fate, as the answers report it.
pub(crate) type Outcome = Result<kafka_sink::Delivery, Rejection>;

fn push_json_string(out: &mut String, text: &str) {
    // Writing a &str to a String cannot fail.
    out.push_str(&serde_json::to_string(text).unwrap_or_else(|_| "\"\"".to_owned()));
}

/// `{"offsets":[...],"key_schema_id":null,"value_schema_id":null}` in request order.
pub(crate) fn render_v2(outcomes: &[Outcome]) -> String {
    let mut out = String::with_capacity(32 + outcomes.len() * 64);
    out.push_str("{\"offsets\":[");
    for (i, outcome) in outcomes.iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        match outcome {
            Ok(delivery) => {
                let _ = write!(
                    out,
                    "{{\"partition\":{},\"offset\":{},\"error_code\":null,\"error\":null}}",
                    delivery.partition, delivery.offset
                );
            }
            Err(rejection) => {
                let _ = write!(
                    out,
                    "{{\"partition\":null,\"offset\":null,\"error_code\":{},\"error\":",
                    rejection.rest_error_code()
                );
                push_json_string(&mut out, &rejection.to_string());
                out.push('}');
            }
        }
    }
    out.push_str("],\"key_schema_id\":null,\"value_schema_id\":null}");
    out
}

/// The v3 report of one record (without the closing brace, so a batch can add its id
/// first).
fn push_v3_report(
    out: &mut String,
    cluster_id: &str,
    topic: &str,
    meta: &RecordMeta,
    outcome: &Outcome,
) {
    match outcome {
        Ok(delivery) => {
            out.push_str("{\"error_code\":200,\"cluster_id\":");
            push_json_string(out, cluster_id);
            out.push_str(",\"topic_name\":");
            push_json_string(out, topic);
            let _ = write!(
                out,
                ",\"partition_id\":{},\"offset\":{},\"timestamp\":",
                delivery.partition, delivery.offset
            );
            match delivery.timestamp_ms {
                Some(ms) => {
                    let _ = write!(out, "\"{}\"", format_rfc3339_ms(ms));
                }
                None => out.push_str("null"),
            }
            for (name, field) in [("key", meta.key), ("value", meta.value)] {
                let _ = write!(out, ",\"{name}\":");
                match field {
                    Some((data_type, size)) => {
                        let _ =
                            write!(out, "{{\"type\":\"{}\",\"size\":{size}}}", data_type.name());
                    }
                    None => out.push_str("null"),
                }
            }
        }
        Err(rejection) => {
            let _ = write!(
                out,
                "{{\"error_code\":{},\"message\":",
                rejection.status().as_u16()
            );
            push_json_string(out, &rejection.to_string());
        }
    }
}

/// One report per record, concatenated in request order (streaming mode's shape).
pub(crate) fn render_v3_records(
    cluster_id: &str,
    topic: &str,
    meta: &[RecordMeta],
    outcomes: &[Outcome],
) -> String {
    let mut out = String::with_capacity(outcomes.len() * 200);
    for (meta, outcome) in meta.iter().zip(outcomes) {
        push_v3_report(&mut out, cluster_id, topic, meta, outcome);
        out.push('}');
    }
    out
}

/// `{"successes":[...],"failures":[...]}`, each entry with its id.
pub(crate) fn render_v3_batch(
    cluster_id: &str,
    topic: &str,
    meta: &[RecordMeta],
    ids: &str,
    outcomes: &[Outcome],
) -> String {
    let mut successes = String::with_capacity(outcomes.len() * 200);
    let mut failures = String::new();
    for (meta, outcome) in meta.iter().zip(outcomes) {
        let out = if outcome.is_ok() {
            &mut successes
        } else {
            &mut failures
        };
        if !out.is_empty() {
            out.push(',');
        }
        push_v3_report(out, cluster_id, topic, meta, outcome);
        out.push_str(",\"id\":");
        push_json_string(out, &ids[meta.id.clone()]);
        out.push('}');
    }
    format!("{{\"successes\":[{successes}],\"failures\":[{failures}]}}")
}

/// `["a","b"]`.
pub(crate) fn render_topics(topics: &[String]) -> String {
    serde_json::to_string(topics).unwrap_or_else(|_| "[]".to_owned())
}

/// The cluster list of `GET /v3/clusters`.
pub(crate) fn render_clusters(cluster_id: &str) -> String {
    let mut out = String::from(
        "{\"kind\":\"KafkaClusterList\",\"data\":[{\"kind\":\"KafkaCluster\",\"cluster_id\":",
    );
    push_json_string(&mut out, cluster_id);
    out.push_str("}]}");
    out
}

/// Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's algorithm).
fn days_from_civil(year: i64, month: i64, day: i64) -> i64 {
    let year = if month <= 2 { year - 1 } else { year };
    let era = if year >= 0 { year } else { year - 399 } / 400;
    let year_of_era = year - era * 400;
    let day_of_year = (153 * ((month + 9) % 12) + 2) / 5 + day - 1;
    let day_of_era = year_of_era * 365 + year_of_era / 4 - year_of_era / 100 + day_of_year;
    era * 146_097 + day_of_era - 719_468
}

fn civil_from_days(days: i64) -> (i64, i64, i64) {
    let z = days + 719_468;
    let era = if z >= 0 { z } else { z - 146_096 } / 146_097;
    let day_of_era = z - era * 146_097;
    let year_of_era =
        (day_of_era - day_of_era / 1460 + day_of_era / 36_524 - day_of_era / 146_096) / 365;
    let day_of_year = day_of_era - (365 * year_of_era + year_of_era / 4 - year_of_era / 100);
    let mp = (5 * day_of_year + 2) / 153;
    let day = day_of_year - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    (year_of_era + era * 400 + i64::from(month <= 2), month, day)
}

/// `YYYY-MM-DDTHH:MM:SS[.fraction](Z|±HH:MM)` to ms since the epoch.
pub(crate) fn parse_rfc3339_ms(text: &str) -> Option<i64> {
    let bytes = text.as_bytes();
    let number = |range: Range<usize>| -> Option<i64> {
        let digits = bytes.get(range)?;
        digits
            .iter()
            .all(u8::is_ascii_digit)
            .then(|| digits.iter().fold(0, |n, d| n * 10 + i64::from(d - b'0')))
    };
    let separators = [(4, b'-'), (7, b'-'), (13, b':'), (16, b':')];
    if separators.iter().any(|&(at, c)| bytes.get(at) != Some(&c))
        || !matches!(bytes.get(10), Some(b'T' | b't' | b' '))
    {
        return None;
    }
    let (year, month, day) = (number(0..4)?, number(5..7)?, number(8..10)?);
    let (hour, minute, second) = (number(11..13)?, number(14..16)?, number(17..19)?);
    if !(1..=12).contains(&month)
        || !(1..=31).contains(&day)
        || hour > 23
        || minute > 59
        || second > 60
    {
        return None;
    }
    let mut at = 19;
    let mut millis = 0;
    if bytes.get(at) == Some(&b'.') {
        let start = at + 1;
        at = start;
        while bytes.get(at).is_some_and(u8::is_ascii_digit) {
            at += 1;
        }
        if at == start {
            return None;
        }
        let digits = &text[start..at.min(start + 3)];
        millis = digits.parse::<i64>().ok()? * 10_i64.pow(3 - digits.len() as u32);
    }
    let offset_minutes = match bytes.get(at) {
        Some(b'Z' | b'z') if at + 1 == bytes.len() => 0,
        Some(&sign @ (b'+' | b'-')) if at + 6 == bytes.len() && bytes[at + 3] == b':' => {
            let minutes = number(at + 1..at + 3)? * 60 + number(at + 4..at + 6)?;
            if sign == b'+' {
                minutes
            } else {
                -minutes
            }
        }
        _ => return None,
    };
    let seconds = days_from_civil(year, month, day) * 86_400 + hour * 3600 + minute * 60 + second
        - offset_minutes * 60;
    Some(seconds * 1000 + millis)
}

/// ms since the epoch as `YYYY-MM-DDTHH:MM:SS.mmmZ`.
pub(crate) fn format_rfc3339_ms(ms: i64) -> String {
    let (days, ms_of_day) = (ms.div_euclid(86_400_000), ms.rem_euclid(86_400_000));
    let (year, month, day) = civil_from_days(days);
    let seconds = ms_of_day / 1000;
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}.{:03}Z",
        seconds / 3600,
        seconds / 60 % 60,
        seconds % 60,
        ms_of_day % 1000
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn routes_and_their_methods() {
        assert_eq!(route("GET", "/topics"), Some(Ok(RestRoute::ListTopics)));
        assert_eq!(
            route("POST", "/topics/t/partitions/2"),
            Some(Ok(RestRoute::V2Produce {
                topic: "t",
                partition: Some(2)
            }))
        );
        assert_eq!(
            route("POST", "/v3/clusters/c/topics/t/records:batch"),
            Some(Ok(RestRoute::V3Produce {
                cluster_id: "c",
                topic: "t",
                batch: true
            }))
        );
        assert!(matches!(
            route("PUT", "/topics/t"),
            Some(Err(Rejection::MethodNotAllowed { allow: "POST", .. }))
        ));
        assert!(matches!(
            route("POST", "/v3/nope"),
            Some(Err(Rejection::NotFound { .. }))
        ));
        assert!(matches!(
            route("POST", "/topics/t/partitions/1/x"),
            Some(Err(Rejection::NotFound { .. }))
        ));
        assert_eq!(route("POST", "/"), None);
        assert_eq!(route("POST", "/topicsx"), None);
        assert_eq!(route("GET", "/healthz"), None);
    }

    #[test]
    fn timestamps_round_trip() {
        for (text, ms) in [
            ("1970-01-01T00:00:00Z", 0),
            ("2021-02-05T19:14:42Z", 1_612_552_482_000),
            ("2021-02-05T20:14:42.123456+01:00", 1_612_552_482_123),
            ("1969-12-31T23:59:59.9Z", -100),
            ("2024-02-29T12:00:00Z", 1_709_208_000_000),
        ] {
            assert_eq!(parse_rfc3339_ms(text), Some(ms), "{text}");
        }
        assert_eq!(
            format_rfc3339_ms(1_612_552_482_123),
            "2021-02-05T19:14:42.123Z"
        );
        assert_eq!(format_rfc3339_ms(-100), "1969-12-31T23:59:59.900Z");
        for bad in [
            "2021-02-05",
            "2021-13-05T19:14:42Z",
            "2021-02-05T19:14:42",
            "x",
        ] {
            assert_eq!(parse_rfc3339_ms(bad), None, "{bad}");
        }
    }

    #[test]
    fn json_values_are_borrowed_and_base64_shares_one_buffer() {
        let body = br#"{"records":[{"value":{"a":1}},{"value":[1]}]}"#;
        let parsed = parse_v2(body, Embedded::Json, None, 10).unwrap();
        let (_, value, _) = parsed.parts(&parsed.records[0]);
        assert!(
            body.as_ptr_range().contains(&value.as_ptr()),
            "borrowed from the body"
        );
        let parsed = parse_v2(
            br#"{"records":[{"key":"YQ==","value":"YmM="},{"value":"ZA=="}]}"#,
            Embedded::Binary,
            None,
            10,
        )
        .unwrap();
        assert_eq!(parsed.decoded, b"abcd");
    }
}
