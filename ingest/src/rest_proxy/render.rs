//! The REST Proxy's answers, written by serde_json from derived shapes straight into
//! the answer's buffer: escaping is serde_json's, and nothing is collected on the way
//! (sequences are written from iterators, error messages and timestamps from their
//! `Display`).

use kafka_sink::Delivery;
use serde::{Serialize, Serializer};

use super::model::{Described, RecordMeta};
use super::timestamp::Rfc3339Ms;
use crate::reply::Message;
use crate::Rejection;

/// A record's fate, as the answers report it.
pub(super) type Outcome = Result<Delivery, Rejection>;

/// A sequence written from an iterator made when it is serialized: no `Vec` between.
struct Seq<F>(F);

impl<F, I> Serialize for Seq<F>
where
    F: Fn() -> I,
    I: IntoIterator,
    I::Item: Serialize,
{
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_seq((self.0)())
    }
}

/// Serializes `value` into a buffer of `capacity` bytes to start with.
fn to_vec(value: &impl Serialize, capacity: usize) -> Vec<u8> {
    let mut out = Vec::with_capacity(capacity);
    write(&mut out, value);
    out
}

fn write(out: &mut Vec<u8>, value: &impl Serialize) {
    // Cannot fail: a Vec takes every byte, and these shapes have no fallible part (no
    // non-string map keys, and `Display` of a rejection or a timestamp never fails).
    let _ = serde_json::to_writer(out, value);
}

#[derive(Serialize)]
#[serde(bound(serialize = "Seq<F>: Serialize"))]
struct V2Answer<F> {
    offsets: Seq<F>,
    key_schema_id: Option<u32>,
    value_schema_id: Option<u32>,
}

#[derive(Serialize)]
struct V2Offset<'a> {
    partition: Option<i32>,
    offset: Option<i64>,
    error_code: Option<u32>,
    error: Option<Message<'a>>,
}

impl<'a> From<&'a Outcome> for V2Offset<'a> {
    fn from(outcome: &'a Outcome) -> Self {
        match outcome {
            Ok(delivery) => Self {
                partition: Some(delivery.partition),
                offset: Some(delivery.offset),
                error_code: None,
                error: None,
            },
            Err(rejection) => Self {
                partition: None,
                offset: None,
                error_code: Some(rejection.rest_error_code()),
                error: Some(Message(rejection)),
            },
        }
    }
}

/// `{"offsets":[...],"key_schema_id":null,"value_schema_id":null}` in request order.
pub(super) fn v2(outcomes: &[Outcome]) -> Vec<u8> {
    let answer = V2Answer {
        offsets: Seq(|| outcomes.iter().map(V2Offset::from)),
        key_schema_id: None,
        value_schema_id: None,
    };
    to_vec(&answer, 48 + outcomes.len() * 64)
}

/// One v3 delivery report; `id` only in a batch.
#[derive(Serialize)]
#[serde(untagged)]
enum V3Report<'a> {
    Delivered {
        error_code: u16,
        cluster_id: &'a str,
        topic_name: &'a str,
        partition_id: i32,
        offset: i64,
        timestamp: Option<Rfc3339Ms>,
        key: Option<Described>,
        value: Option<Described>,
        #[serde(skip_serializing_if = "Option::is_none")]
        id: Option<&'a str>,
    },
    Failed {
        error_code: u32,
        message: Message<'a>,
        #[serde(skip_serializing_if = "Option::is_none")]
        id: Option<&'a str>,
    },
}

/// Where the v3 reports of one request are.
#[derive(Debug, Clone, Copy)]
pub(super) struct V3Context<'a> {
    pub(super) cluster_id: &'a str,
    pub(super) topic: &'a str,
    /// The batch ids, one after another (`RecordMeta::id` ranges into them).
    pub(super) ids: &'a str,
}

impl<'a> V3Context<'a> {
    fn report(&self, meta: &RecordMeta, outcome: &'a Outcome, batch: bool) -> V3Report<'a> {
        let id = batch.then(|| &self.ids[meta.id.clone()]);
        match outcome {
            Ok(delivery) => V3Report::Delivered {
                error_code: 200,
                cluster_id: self.cluster_id,
                topic_name: self.topic,
                partition_id: delivery.partition,
                offset: delivery.offset,
                timestamp: delivery.timestamp_ms.map(Rfc3339Ms),
                key: meta.key,
                value: meta.value,
                id,
            },
            Err(rejection) => V3Report::Failed {
                error_code: rejection.rest_error_code(),
                message: Message(rejection),
                id,
            },
        }
    }
}

/// One report per record, concatenated in request order (streaming mode's shape).
pub(super) fn v3_records(
    context: V3Context<'_>,
    meta: &[RecordMeta],
    outcomes: &[Outcome],
) -> Vec<u8> {
    let mut out = Vec::with_capacity(outcomes.len() * 200);
    for (meta, outcome) in meta.iter().zip(outcomes) {
        write(&mut out, &context.report(meta, outcome, false));
    }
    out
}

#[derive(Serialize)]
#[serde(bound(serialize = "Seq<F>: Serialize, Seq<G>: Serialize"))]
struct V3Batch<F, G> {
    successes: Seq<F>,
    failures: Seq<G>,
}

/// `{"successes":[...],"failures":[...]}`, each report with its id.
pub(super) fn v3_batch(
    context: V3Context<'_>,
    meta: &[RecordMeta],
    outcomes: &[Outcome],
) -> Vec<u8> {
    let reports = |delivered: bool| {
        move || {
            meta.iter()
                .zip(outcomes)
                .filter(move |(_, outcome)| outcome.is_ok() == delivered)
                .map(move |(meta, outcome)| context.report(meta, outcome, true))
        }
    };
    let batch = V3Batch {
        successes: Seq(reports(true)),
        failures: Seq(reports(false)),
    };
    to_vec(&batch, 32 + outcomes.len() * 200)
}

/// `["a","b"]`.
pub(super) fn topics(topics: &[String]) -> Vec<u8> {
    to_vec(
        &topics,
        2 + topics.iter().map(|topic| topic.len() + 3).sum::<usize>(),
    )
}

#[derive(Serialize)]
struct ClusterList<'a> {
    kind: &'static str,
    data: [Cluster<'a>; 1],
}

#[derive(Serialize)]
struct Cluster<'a> {
    kind: &'static str,
    cluster_id: &'a str,
}

/// The cluster list of `GET /v3/clusters`.
pub(super) fn clusters(cluster_id: &str) -> Vec<u8> {
    let list = ClusterList {
        kind: "KafkaClusterList",
        data: [Cluster {
            kind: "KafkaCluster",
            cluster_id,
        }],
    };
    to_vec(&list, 80 + cluster_id.len())
}
