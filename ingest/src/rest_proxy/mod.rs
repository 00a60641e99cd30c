//! The Kafka REST Proxy produce API (v2 `POST /topics/..`, v3 `POST
//! /v3/clusters/../records` and `records:batch`), free of I/O. [`RestProxy`] owns every
//! rule of it: the gateway only asks [`is_rest_path`] which API a path belongs to and
//! hands the request to [`RestProxy::submit`] (or a refusal to [`rejected`], for the
//! REST Proxy's error shape).
//!
//! One concern per file: `route` (paths and methods), `media_type` (request and answer
//! types), `schema` (the bodies as serde sees them), `parse` (bodies to records,
//! validated whole), `model` (the parsed records and their buffers), `timestamp` (RFC
//! 3339), `delivery` (the records on their way) and `render` (the answers).

mod delivery;
mod media_type;
mod model;
mod parse;
mod render;
mod route;
mod schema;
mod timestamp;

use std::time::Instant;

use kafka_sink::Sink;

pub(crate) use delivery::RestDelivery;
use delivery::{Answer, Slot};
use media_type::{V2_ANSWER, V3_ANSWER};
use route::RestRoute;

use crate::policy::{self, Request};
use crate::reply::ErrorBody;
use crate::{Gateway, Rejection, Reply, TopicAccess};

/// The cluster id `GET /v3/clusters` reports when there is no Kafka cluster to ask
/// (null sink), and the one v3 paths must name then.
pub const NULL_CLUSTER_ID: &str = "gateway-null-sink";

/// The default of `--max-batch-entries`.
pub const DEFAULT_MAX_BATCH_ENTRIES: usize = 1000;

/// Settings of the Kafka REST Proxy API.
#[derive(Debug, Clone)]
pub struct RestProxySettings {
    /// Topic names or globs (`*`, `?`) the API may produce to.
    pub allow_topics: Vec<String>,
    /// The cluster id v3 paths name and `GET /v3/clusters` reports.
    pub cluster_id: String,
    /// Most records (v2 records, v3 streamed records, batch entries) in one request;
    /// more get 422.
    pub max_batch_entries: usize,
}

/// Whether `path` (no query) is one of the REST Proxy's: then every answer to it,
/// errors included, is the REST Proxy's.
pub(crate) fn is_rest_path(path: &str) -> bool {
    route::is_rest_path(path)
}

/// The method `path` (a REST Proxy path) takes, for a CORS preflight, or the path's
/// 404: routing with no method answers "not allowed, allowed: ..." for every path
/// there is.
pub(crate) fn allowed_method(path: &str) -> Result<&'static str, Rejection> {
    let not_found = || Rejection::NotFound {
        path: path.to_owned(),
    };
    let rejection = match route::route("", path) {
        Some(Err(rejection)) => rejection,
        _ => not_found(),
    };
    rejection.allow().ok_or(rejection)
}

/// The REST Proxy's error shape, `{"error_code": ..., "message": "..."}`, with the
/// rejection's status and headers.
pub(crate) fn rejected(rejection: &Rejection) -> Reply {
    Reply::rejected_with(rejection, ErrorBody::RestProxy)
}

/// The answer to a REST Proxy request: at once, or once its records' fates are known.
#[derive(Debug)]
pub(crate) enum RestTicket {
    /// Answered at once (listings).
    Ready(Reply),
    /// Records queued; [`RestDelivery::poll_reply`] answers.
    Delivering(Box<RestDelivery>),
}

/// The REST Proxy API of one gateway: which topics it reaches, its cluster id, its
/// batch bound.
#[derive(Debug)]
pub(crate) struct RestProxy {
    topics: TopicAccess,
    cluster_id: String,
    max_batch_entries: usize,
}

impl RestProxy {
    /// The API with these settings. Until [`TopicAccess::set_known`] runs, every allowed
    /// topic counts as existing.
    pub(crate) fn new(settings: RestProxySettings) -> Self {
        Self {
            topics: TopicAccess::new(settings.allow_topics),
            cluster_id: settings.cluster_id,
            max_batch_entries: settings.max_batch_entries,
        }
    }

    /// The allowlist and the cache of known topics.
    pub(crate) fn topics(&self) -> &TopicAccess {
        &self.topics
    }

    /// The cluster id v3 paths must name.
    pub(crate) fn cluster_id(&self) -> &str {
        &self.cluster_id
    }

    /// Routes, validates and queues a request to one of the REST Proxy's paths (see
    /// [`is_rest_path`]), without waiting. A request is validated whole before any of
    /// its records is queued. Its answer always waits for Kafka, whatever `--ack-mode`
    /// says: it reports offsets.
    pub(crate) fn submit(
        &self,
        gateway: &Gateway,
        request: &Request<'_>,
    ) -> Result<RestTicket, Rejection> {
        let route = route::route(request.method, request.path).unwrap_or_else(|| {
            Err(Rejection::NotFound {
                path: request.path.to_owned(),
            })
        })?;
        let (topic, partition, answer) = match route {
            RestRoute::ListTopics => {
                let body = render::topics(&self.topics.list());
                return Ok(RestTicket::Ready(Reply::new(
                    http::StatusCode::OK,
                    V2_ANSWER,
                    body,
                )));
            }
            RestRoute::ListClusters => {
                let body = render::clusters(&self.cluster_id);
                return Ok(RestTicket::Ready(Reply::new(
                    http::StatusCode::OK,
                    V3_ANSWER,
                    body,
                )));
            }
            RestRoute::V2Produce { topic, partition } => (topic, partition, Answer::V2),
            RestRoute::V3Produce {
                cluster_id,
                topic,
                batch,
            } => {
                if cluster_id != self.cluster_id {
                    return Err(Rejection::UnknownCluster {
                        cluster_id: cluster_id.to_owned(),
                    });
                }
                let answer = if batch {
                    Answer::V3Batch
                } else {
                    Answer::V3Records
                };
                (topic, None, answer)
            }
        };
        let body = gateway.writable_body(request)?;
        // Unknown topics are refused before the body is even parsed: nothing is produced.
        self.topics.check(topic, partition)?;
        let media_type = request.headers.media_type();
        let limits = parse::Limits {
            max_records: self.max_batch_entries,
            max_json_depth: gateway.policy().max_json_depth,
        };
        let parsed = match answer {
            Answer::V2 => {
                let embedded = media_type::v2_embedded(media_type)?;
                parse::v2(body, embedded, partition, limits)?
            }
            Answer::V3Records => {
                media_type::check_v3(media_type)?;
                parse::v3_records(body, limits)?
            }
            Answer::V3Batch => {
                media_type::check_v3(media_type)?;
                parse::v3_batch(body, limits)?
            }
        };
        for spec in &parsed.records {
            if spec.partition.is_some() && spec.partition != partition {
                self.topics.check(topic, spec.partition)?;
            }
        }
        let headers = parsed.header_pairs();
        // Every record fits before any is queued: a request is refused whole.
        for spec in &parsed.records {
            policy::check_record_size(&parsed.record(topic, &headers, spec), gateway.policy())?;
        }
        let mut slots = Vec::with_capacity(parsed.records.len());
        for (index, spec) in parsed.records.iter().enumerate() {
            match gateway
                .sink()
                .try_enqueue(&parsed.record(topic, &headers, spec))
            {
                Ok(pending) => slots.push(Slot::Pending(pending)),
                // Nothing of the request is queued yet: the whole request gets the
                // overload answer (503, Retry-After) and can be resent as it is.
                Err(error) if index == 0 && error.is_retriable() => {
                    return Err(Rejection::sink(error))
                }
                Err(error) => slots.push(Slot::Done(Err(Rejection::sink(error)))),
            }
        }
        drop(headers);
        let (meta, ids) = parsed.into_meta();
        Ok(RestTicket::Delivering(Box::new(RestDelivery {
            answer,
            slots,
            meta,
            ids,
            topic: topic.to_owned(),
            queued_at: Instant::now(),
        })))
    }
}
