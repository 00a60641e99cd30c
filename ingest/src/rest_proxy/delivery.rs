//! The records of one REST Proxy request on their way, and the answer once every
//! record's fate is known.

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Instant;

use kafka_sink::Pending;

use super::media_type::{V2_ANSWER, V3_ANSWER};
use super::model::RecordMeta;
use super::render::{self, Outcome, V3Context};
use crate::{Gateway, Rejection, Reply};

/// Which answer a request gets.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Answer {
    /// v2: `{"offsets":[...]}`, 200.
    V2,
    /// v3 records: one report per record, concatenated.
    V3Records,
    /// v3 batch: 207 with successes and failures by id.
    V3Batch,
}

/// One record's fate: still pending, or known (delivered, failed, refused at enqueue).
#[derive(Debug)]
pub(super) enum Slot {
    Pending(Pending),
    Done(Outcome),
}

/// The records of one request on their way, and what the answer needs of them.
#[derive(Debug)]
pub(crate) struct RestDelivery {
    pub(super) answer: Answer,
    pub(super) slots: Vec<Slot>,
    pub(super) meta: Vec<RecordMeta>,
    pub(super) ids: String,
    pub(super) topic: String,
    pub(super) queued_at: Instant,
}

impl RestDelivery {
    /// Records of the request on their way to Kafka or already settled: what a
    /// connection's in-flight bound counts until the answer.
    pub(crate) fn records(&self) -> usize {
        self.slots.len()
    }

    /// The answer once every record's fate is known (in request order; they were all
    /// queued already, so this takes as long as the slowest); until then `Pending`,
    /// with `cx`'s waker woken by the first record still on its way.
    pub(crate) fn poll_reply(&mut self, cx: &mut Context<'_>, gateway: &Gateway) -> Poll<Reply> {
        for slot in &mut self.slots {
            let Slot::Pending(pending) = slot else {
                continue;
            };
            let Poll::Ready(result) = Pin::new(pending).poll(cx) else {
                return Poll::Pending;
            };
            *slot = Slot::Done(match result {
                Ok(delivery) => {
                    gateway.metrics().record_delivery(self.queued_at.elapsed());
                    Ok(delivery)
                }
                Err(error) => Err(Rejection::sink(error)),
            });
        }
        let outcomes: Vec<Outcome> = std::mem::take(&mut self.slots)
            .into_iter()
            .map(|slot| match slot {
                Slot::Done(outcome) => outcome,
                Slot::Pending(_) => unreachable!("every slot was settled above"),
            })
            .collect();
        let context = V3Context {
            cluster_id: gateway.cluster_id(),
            topic: &self.topic,
            ids: &self.ids,
        };
        Poll::Ready(match self.answer {
            Answer::V2 => Reply::new(http::StatusCode::OK, V2_ANSWER, render::v2(&outcomes)),
            Answer::V3Records => {
                // One record that failed answers with its own status; with several
                // (streaming mode) each report carries its error_code and the
                // status is 200.
                let status = match &outcomes[..] {
                    [Err(rejection)] => rejection.status(),
                    _ => http::StatusCode::OK,
                };
                Reply::new(
                    status,
                    V3_ANSWER,
                    render::v3_records(context, &self.meta, &outcomes),
                )
            }
            Answer::V3Batch => Reply::new(
                http::StatusCode::MULTI_STATUS,
                V3_ANSWER,
                render::v3_batch(context, &self.meta, &outcomes),
            ),
        })
    }
}
