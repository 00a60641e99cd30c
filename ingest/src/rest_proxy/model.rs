//! The records of one parsed REST Proxy request, pointing into its body and one decode
//! buffer, and what the answers keep of them once the body is gone.

use std::borrow::Cow;
use std::ops::Range;

use base64::Engine as _;
use kafka_sink::Record;
use serde::{Deserialize, Serialize};
use serde_json::value::RawValue;

use crate::{json, Rejection};

/// v3 data types (v2 JSON counts as `JSON`, v2 binary as `BINARY`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "UPPERCASE")]
pub(super) enum DataType {
    /// JSON text, produced verbatim.
    Json,
    /// base64 in the request, produced decoded.
    Binary,
    /// A JSON string, produced as its UTF-8 bytes.
    String,
}

/// Bytes of a record: borrowed from the body, or a range of the request's decode buffer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Span<'a> {
    Absent,
    Body(&'a [u8]),
    Decoded(usize, usize),
}

/// A key or value: its bytes and, for v3 reports, its type.
#[derive(Debug, Clone, Copy)]
pub(super) struct Field<'a> {
    span: Span<'a>,
    data_type: DataType,
}

impl Field<'_> {
    pub(super) const ABSENT: Self = Self {
        span: Span::Absent,
        data_type: DataType::Json,
    };
}

/// One record to produce, pointing into the body and the decode buffer.
#[derive(Debug)]
pub(super) struct RecordSpec<'a> {
    pub(super) key: Field<'a>,
    pub(super) value: Field<'a>,
    pub(super) partition: Option<i32>,
    pub(super) timestamp_ms: Option<i64>,
    /// Its headers: a range of [`Parsed`]'s header lists.
    pub(super) headers: Range<usize>,
    /// Its batch id: a range of [`Parsed`]'s ids.
    pub(super) id: Range<usize>,
}

/// A parsed request: its records and the buffers they point into.
#[derive(Debug)]
pub(super) struct Parsed<'a> {
    /// The request body (where a JSON value too deep is located).
    body: &'a [u8],
    max_json_depth: usize,
    pub(super) records: Vec<RecordSpec<'a>>,
    header_names: Vec<Cow<'a, str>>,
    header_values: Vec<Span<'a>>,
    /// Every base64-decoded (and unescaped) byte of the request, reused by all records.
    decoded: Vec<u8>,
    /// Batch ids, one after another (`RecordSpec::id` ranges into it).
    ids: String,
}

/// A key's or value's type and size, kept for the v3 reports.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub(super) struct Described {
    #[serde(rename = "type")]
    pub(super) data_type: DataType,
    pub(super) size: usize,
}

/// What a record looked like, kept for the v3 reports once the body is gone.
#[derive(Debug, Clone)]
pub(super) struct RecordMeta {
    pub(super) key: Option<Described>,
    pub(super) value: Option<Described>,
    pub(super) id: Range<usize>,
}

impl<'a> Parsed<'a> {
    /// No records yet, with room for `records`, from `body`, whose embedded JSON may
    /// nest `max_json_depth` deep.
    pub(super) fn new(body: &'a [u8], max_json_depth: usize, records: usize) -> Self {
        Self {
            body,
            max_json_depth,
            records: Vec::with_capacity(records),
            header_names: Vec::new(),
            header_values: Vec::new(),
            decoded: Vec::new(),
            ids: String::new(),
        }
    }

    fn resolve(&self, span: Span<'a>) -> Option<&[u8]> {
        match span {
            Span::Absent => None,
            Span::Body(slice) => Some(slice),
            Span::Decoded(start, end) => Some(&self.decoded[start..end]),
        }
    }

    /// Every header of every record as (name, value), for slicing per record.
    pub(super) fn header_pairs(&self) -> Vec<(&str, &[u8])> {
        self.header_names
            .iter()
            .zip(&self.header_values)
            .map(|(name, value)| (name.as_ref(), self.resolve(*value).unwrap_or_default()))
            .collect()
    }

    /// The Kafka record of `spec` for `topic`; `headers` is [`Parsed::header_pairs`].
    pub(super) fn record<'r>(
        &'r self,
        topic: &'r str,
        headers: &'r [(&'r str, &'r [u8])],
        spec: &RecordSpec<'a>,
    ) -> Record<'r> {
        // The sink has no tombstones: an absent value is produced empty.
        let value = self.resolve(spec.value.span).unwrap_or_default();
        let mut record = Record::new(topic, value).with_headers(&headers[spec.headers.clone()]);
        if let Some(key) = self.resolve(spec.key.span) {
            record = record.with_key(key);
        }
        if let Some(partition) = spec.partition {
            record = record.with_partition(partition);
        }
        if let Some(timestamp_ms) = spec.timestamp_ms {
            record = record.with_timestamp_ms(timestamp_ms);
        }
        record
    }

    /// What the v3 reports need of each record, plus the batch ids.
    pub(super) fn into_meta(self) -> (Vec<RecordMeta>, String) {
        let describe = |field: Field<'a>| {
            self.resolve(field.span).map(|bytes| Described {
                data_type: field.data_type,
                size: bytes.len(),
            })
        };
        let meta = self
            .records
            .iter()
            .map(|spec| RecordMeta {
                key: describe(spec.key),
                value: describe(spec.value),
                id: spec.id.clone(),
            })
            .collect();
        (meta, self.ids)
    }

    /// Appends a batch id; its range in the ids.
    pub(super) fn push_id(&mut self, id: &str) -> Range<usize> {
        let start = self.ids.len();
        self.ids.push_str(id);
        start..self.ids.len()
    }

    /// Appends a record header whose value is base64 (`None` or `null`: empty).
    pub(super) fn push_header(
        &mut self,
        name: Cow<'a, str>,
        value: Option<&'a RawValue>,
    ) -> Result<(), Rejection> {
        let value = match value {
            Some(raw) if raw.get() != "null" => self.decode_base64("header value", raw)?,
            _ => Span::Body(b""),
        };
        self.header_names.push(name);
        self.header_values.push(value);
        Ok(())
    }

    /// How many record headers the request has so far (for [`RecordSpec::headers`]).
    pub(super) fn header_count(&self) -> usize {
        self.header_names.len()
    }

    /// A key or value of type `data_type`: JSON borrowed verbatim (nested no deeper
    /// than the limit), base64 decoded, a string's UTF-8 bytes (borrowed unless it has
    /// escapes).
    pub(super) fn field(
        &mut self,
        name: &'static str,
        data_type: DataType,
        raw: Option<&'a RawValue>,
    ) -> Result<Field<'a>, Rejection> {
        let Some(raw) = raw else {
            return Ok(Field::ABSENT);
        };
        let span = match data_type {
            DataType::Json => {
                let json = raw.get().as_bytes();
                json::check_depth(self.body, json, self.max_json_depth)?;
                Span::Body(json)
            }
            DataType::Binary => self.decode_base64(name, raw)?,
            DataType::String => self.string_bytes(name, raw)?,
        };
        Ok(Field { span, data_type })
    }

    fn decode_base64(
        &mut self,
        field: &'static str,
        raw: &'a RawValue,
    ) -> Result<Span<'a>, Rejection> {
        let text = json_string(raw, field)?;
        let start = self.decoded.len();
        base64::engine::general_purpose::STANDARD
            .decode_vec(text.as_bytes(), &mut self.decoded)
            .map_err(|error| Rejection::InvalidBase64 {
                field,
                reason: error.to_string(),
            })?;
        Ok(Span::Decoded(start, self.decoded.len()))
    }

    fn string_bytes(
        &mut self,
        field: &'static str,
        raw: &'a RawValue,
    ) -> Result<Span<'a>, Rejection> {
        Ok(match json_string(raw, field)? {
            Cow::Borrowed(text) => Span::Body(text.as_bytes()),
            Cow::Owned(text) => {
                let start = self.decoded.len();
                self.decoded.extend_from_slice(text.as_bytes());
                Span::Decoded(start, self.decoded.len())
            }
        })
    }

    #[cfg(test)]
    pub(super) fn decoded(&self) -> &[u8] {
        &self.decoded
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
