//! The request bodies as serde sees them: derived, borrowing from the body, unknown
//! fields refused. One hand-written piece remains, [`one_list`], because a derive has
//! no way to take the runtime bound `--max-batch-entries` (serde's way to pass one is
//! a `DeserializeSeed`).

use std::borrow::Cow;
use std::cell::Cell;
use std::marker::PhantomData;

use serde::de::{self, DeserializeSeed, MapAccess, SeqAccess, Visitor};
use serde::Deserialize;
use serde_json::value::RawValue;

use super::model::DataType;

/// A v2 record (`{"records":[...]}`'s elements).
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct V2Record<'a> {
    #[serde(borrow, default)]
    pub(super) key: Option<&'a RawValue>,
    #[serde(borrow, default)]
    pub(super) value: Option<&'a RawValue>,
    #[serde(default)]
    pub(super) partition: Option<i32>,
}

/// A v3 key or value.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct V3Data<'a> {
    #[serde(rename = "type", default)]
    pub(super) data_type: Option<DataType>,
    #[serde(borrow, default)]
    pub(super) data: Option<&'a RawValue>,
}

/// A v3 record header; its value is base64.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct V3Header<'a> {
    #[serde(borrow)]
    pub(super) name: Cow<'a, str>,
    #[serde(borrow, default)]
    pub(super) value: Option<&'a RawValue>,
}

/// A v3 record, alone or one of several concatenated (streaming mode).
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct V3Record<'a> {
    #[serde(default)]
    pub(super) partition_id: Option<i32>,
    #[serde(borrow, default)]
    pub(super) headers: Vec<V3Header<'a>>,
    #[serde(borrow, default)]
    pub(super) key: Option<V3Data<'a>>,
    #[serde(borrow, default)]
    pub(super) value: Option<V3Data<'a>>,
    #[serde(borrow, default)]
    pub(super) timestamp: Option<Cow<'a, str>>,
}

/// A batch entry: a v3 record with an `id`. Its own struct because serde's `flatten`
/// works with neither `deny_unknown_fields` nor borrowed raw values.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct V3Entry<'a> {
    #[serde(borrow)]
    pub(super) id: Cow<'a, str>,
    #[serde(default)]
    pub(super) partition_id: Option<i32>,
    #[serde(borrow, default)]
    pub(super) headers: Vec<V3Header<'a>>,
    #[serde(borrow, default)]
    pub(super) key: Option<V3Data<'a>>,
    #[serde(borrow, default)]
    pub(super) value: Option<V3Data<'a>>,
    #[serde(borrow, default)]
    pub(super) timestamp: Option<Cow<'a, str>>,
}

impl<'a> V3Entry<'a> {
    /// The record without its id.
    pub(super) fn into_record(self) -> V3Record<'a> {
        V3Record {
            partition_id: self.partition_id,
            headers: self.headers,
            key: self.key,
            value: self.value,
            timestamp: self.timestamp,
        }
    }
}

/// Why [`one_list`] failed.
pub(super) enum ListError {
    /// More than `max` elements; parsing stopped at the first one past it.
    TooMany,
    /// serde's verdict.
    Json(serde_json::Error),
}

/// Parses `{"<field>": [T, ...]}`, with no other field, and stops at element `max + 1`:
/// a body of many tiny records costs no more than the limit allows before it is
/// refused, and never a `Vec` longer than `max`.
pub(super) fn one_list<'a, T: Deserialize<'a>>(
    body: &'a [u8],
    field: &'static [&'static str; 1],
    max: usize,
) -> Result<Vec<T>, ListError> {
    let too_many = Cell::new(false);
    let seed = Object {
        field,
        max,
        too_many: &too_many,
        element: PhantomData,
    };
    let mut deserializer = serde_json::Deserializer::from_slice(body);
    seed.deserialize(&mut deserializer)
        .and_then(|list| deserializer.end().map(|()| list))
        .map_err(|error| match too_many.get() {
            true => ListError::TooMany,
            false => ListError::Json(error),
        })
}

struct Object<'c, T> {
    field: &'static [&'static str; 1],
    max: usize,
    too_many: &'c Cell<bool>,
    element: PhantomData<T>,
}

impl<'de, T: Deserialize<'de>> DeserializeSeed<'de> for Object<'_, T> {
    type Value = Vec<T>;
    fn deserialize<D: de::Deserializer<'de>>(self, deserializer: D) -> Result<Vec<T>, D::Error> {
        deserializer.deserialize_map(self)
    }
}

impl<'de, T: Deserialize<'de>> Visitor<'de> for Object<'_, T> {
    type Value = Vec<T>;
    fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "an object with `{}`", self.field[0])
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Vec<T>, A::Error> {
        let mut list = None;
        while let Some(key) = map.next_key::<Cow<'de, str>>()? {
            if key != self.field[0] {
                return Err(de::Error::unknown_field(&key, self.field));
            }
            if list.is_some() {
                return Err(de::Error::duplicate_field(self.field[0]));
            }
            list = Some(map.next_value_seed(Elements {
                max: self.max,
                too_many: self.too_many,
                element: PhantomData,
            })?);
        }
        list.ok_or_else(|| de::Error::missing_field(self.field[0]))
    }
}

struct Elements<'c, T> {
    max: usize,
    too_many: &'c Cell<bool>,
    element: PhantomData<T>,
}

impl<'de, T: Deserialize<'de>> DeserializeSeed<'de> for Elements<'_, T> {
    type Value = Vec<T>;
    fn deserialize<D: de::Deserializer<'de>>(self, deserializer: D) -> Result<Vec<T>, D::Error> {
        deserializer.deserialize_seq(self)
    }
}

impl<'de, T: Deserialize<'de>> Visitor<'de> for Elements<'_, T> {
    type Value = Vec<T>;
    fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("an array")
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Vec<T>, A::Error> {
        let mut out = Vec::with_capacity(seq.size_hint().unwrap_or(0).min(self.max));
        while let Some(element) = seq.next_element()? {
            if out.len() == self.max {
                self.too_many.set(true);
                return Err(de::Error::custom("too many records"));
            }
            out.push(element);
        }
        Ok(out)
    }
}
