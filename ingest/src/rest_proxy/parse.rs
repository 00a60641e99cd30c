//! Request bodies to [`Parsed`] records, validated whole: a malformed record anywhere
//! rejects the request, and nothing of it reaches Kafka.
//!
//! No DOM is built: serde borrows keys, values and header names from the body
//! (`&RawValue` for embedded JSON, produced as its JSON text verbatim), and base64 is
//! decoded straight into one buffer per request that every record's bytes point into.

use std::collections::HashSet;

use super::media_type::Embedded;
use super::model::{DataType, Field, Parsed, RecordSpec};
use super::schema::{one_list, ListError, V2Record, V3Data, V3Entry, V3Record};
use super::timestamp;
use crate::json;
use crate::Rejection;

/// Longest batch entry id.
pub(super) const MAX_ID_CHARS: usize = 80;

/// The bounds a request body is parsed within.
#[derive(Debug, Clone, Copy)]
pub(super) struct Limits {
    /// `--max-batch-entries`: most records (v2 records, v3 streamed records, batch
    /// entries); more are 422.
    pub(super) max_records: usize,
    /// `--max-json-depth`, for every embedded JSON key and value.
    pub(super) max_json_depth: usize,
}

/// Parses a v2 produce body. `partition` is the path's partition, if any; it wins over
/// the records' own.
pub(super) fn v2(
    body: &[u8],
    embedded: Embedded,
    partition: Option<i32>,
    limits: Limits,
) -> Result<Parsed<'_>, Rejection> {
    let max_records = limits.max_records;
    json::validate_utf8(body)?;
    let records: Vec<V2Record<'_>> = one_list(body, &["records"], max_records)
        .map_err(|error| list_error(error, max_records))?;
    check_count(records.len(), max_records)?;
    let data_type = match embedded {
        Embedded::Json => DataType::Json,
        Embedded::Binary => DataType::Binary,
    };
    let mut out = Parsed::new(body, limits.max_json_depth, records.len());
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

/// Parses a v3 produce body: one record, or several concatenated (streaming mode).
pub(super) fn v3_records(body: &[u8], limits: Limits) -> Result<Parsed<'_>, Rejection> {
    let max_records = limits.max_records;
    json::validate_utf8(body)?;
    let mut out = Parsed::new(body, limits.max_json_depth, 1);
    for record in serde_json::Deserializer::from_slice(body).into_iter::<V3Record<'_>>() {
        let record = record.map_err(json_error)?;
        if out.records.len() == max_records {
            return Err(too_many(max_records));
        }
        push_v3(&mut out, record, 0..0)?;
    }
    check_count(out.records.len(), max_records)?;
    Ok(out)
}

/// Parses a v3 `records:batch` body. Ids are JSON strings of 1 to 80 characters,
/// unique within the batch.
pub(super) fn v3_batch(body: &[u8], limits: Limits) -> Result<Parsed<'_>, Rejection> {
    let max_records = limits.max_records;
    json::validate_utf8(body)?;
    let entries: Vec<V3Entry<'_>> = one_list(body, &["entries"], max_records)
        .map_err(|error| list_error(error, max_records))?;
    check_count(entries.len(), max_records)?;
    let mut out = Parsed::new(body, limits.max_json_depth, entries.len());
    let mut seen = HashSet::with_capacity(entries.len());
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
        let id = out.push_id(&entry.id);
        push_v3(&mut out, entry.into_record(), id)?;
    }
    Ok(out)
}

fn push_v3<'a>(
    out: &mut Parsed<'a>,
    record: V3Record<'a>,
    id: std::ops::Range<usize>,
) -> Result<(), Rejection> {
    let mut data = |name, data: Option<V3Data<'a>>| match data {
        None => Ok(Field::ABSENT),
        // A type left out means JSON (documented).
        Some(data) => out.field(name, data.data_type.unwrap_or(DataType::Json), data.data),
    };
    let key = data("key", record.key)?;
    let value = data("value", record.value)?;
    let first_header = out.header_count();
    for header in record.headers {
        out.push_header(header.name, header.value)?;
    }
    let timestamp_ms = record
        .timestamp
        .map(|text| timestamp::parse_ms(&text))
        .transpose()?;
    out.records.push(RecordSpec {
        key,
        value,
        partition: record.partition_id,
        timestamp_ms,
        headers: first_header..out.header_count(),
        id,
    });
    Ok(())
}

/// serde's verdict as the REST Proxy's: broken JSON is 400, JSON of the wrong shape 422.
fn json_error(error: serde_json::Error) -> Rejection {
    match error.classify() {
        serde_json::error::Category::Data => Rejection::Unprocessable {
            reason: error.to_string(),
        },
        _ => json::invalid_json(&error),
    }
}

fn list_error(error: ListError, max_records: usize) -> Rejection {
    match error {
        ListError::TooMany => too_many(max_records),
        ListError::Json(error) => json_error(error),
    }
}

/// Counting stops one past the limit, so that is the count reported.
fn too_many(max_records: usize) -> Rejection {
    Rejection::TooManyRecords {
        count: max_records + 1,
        limit: max_records,
    }
}

fn check_count(count: usize, max_records: usize) -> Result<(), Rejection> {
    if count == 0 {
        return Err(Rejection::Unprocessable {
            reason: "no records".to_owned(),
        });
    }
    if count > max_records {
        return Err(too_many(max_records));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn limits(max_records: usize) -> Limits {
        Limits {
            max_records,
            max_json_depth: 3,
        }
    }

    #[test]
    fn json_values_are_borrowed_and_base64_shares_one_buffer() {
        let body = br#"{"records":[{"value":{"a":1}},{"value":[1]}]}"#;
        let parsed = v2(body, Embedded::Json, None, limits(10)).unwrap();
        let value = parsed.record("t", &[], &parsed.records[0]).payload;
        assert!(
            body.as_ptr_range().contains(&value.as_ptr()),
            "borrowed from the body"
        );
        let parsed = v2(
            br#"{"records":[{"key":"YQ==","value":"YmM="},{"value":"ZA=="}]}"#,
            Embedded::Binary,
            None,
            limits(10),
        )
        .unwrap();
        assert_eq!(parsed.decoded(), b"abcd");
    }

    #[test]
    fn every_json_key_and_value_is_held_to_the_depth_limit_and_nothing_else() {
        let deep = |body: &'static [u8]| v2(body, Embedded::Json, None, limits(10)).map(|_| ());
        assert_eq!(
            deep(br#"{"records":[{"key":[[[1]]],"value":[[[1]]]}]}"#),
            Ok(())
        );
        for body in [
            &br#"{"records":[{"value":[[[[1]]]]}]}"#[..],
            br#"{"records":[{"value":1},{"key":{"a":{"b":{"c":{}}}}}]}"#,
        ] {
            assert!(
                matches!(deep(body), Err(Rejection::TooDeep { .. })),
                "{body:?}"
            );
        }
        let v3 = |body: &'static [u8]| v3_records(body, limits(10)).map(|_| ());
        assert!(matches!(
            v3(br#"{"value":{"type":"JSON","data":[[[[1]]]]}}"#),
            Err(Rejection::TooDeep {
                line: 1,
                column: 35,
                ..
            })
        ));
        assert_eq!(
            v3(br#"{"value":{"type":"STRING","data":"[[[[[[["}}"#),
            Ok(())
        );
        let batch = br#"{"entries":[{"id":"a","key":{"data":[[[[1]]]]}}]}"#;
        assert!(matches!(
            v3_batch(batch, limits(10)),
            Err(Rejection::TooDeep { .. })
        ));
    }

    #[test]
    fn counting_stops_one_past_the_limit() {
        let body = br#"{"records":[{},{},{},{},{},{}]}"#;
        let error = v2(body, Embedded::Json, None, limits(3)).unwrap_err();
        assert_eq!(error, Rejection::TooManyRecords { count: 4, limit: 3 });
        let error = v3_records(br#"{}{}{}{}{}"#, limits(3)).unwrap_err();
        assert_eq!(error, Rejection::TooManyRecords { count: 4, limit: 3 });
    }
}
