//! The per-connection dispatcher: connection events -> [`Gateway::submit`] -> tickets ->
//! replies -> [`ServerConnection::respond`]. I/O-free and runtime-free: futures are
//! polled with the connection's own [`Waker`], which puts the connection on its worker's
//! ready queue. Kept in one module so that it can give way to the shared dispatcher
//! `ingest` is growing.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll, Waker};
use std::time::Instant;

use http_conn::{Event, RequestId, ServerConnection};
use http_parse::Framing;
use ingest::{Gateway, Incoming, Rejection, Reply};

use crate::date::DateCache;

/// A reply still waiting for Kafka.
type ReplyFuture = Pin<Box<dyn Future<Output = Reply>>>;

/// The replies one connection awaits, in no particular order (the connection orders
/// the responses).
#[derive(Default)]
pub(crate) struct Dispatch {
    waiting: Vec<(RequestId, ReplyFuture)>,
    /// Reused for chunked bodies of more than one chunk.
    scratch: Vec<u8>,
}

impl Dispatch {
    /// Hands every event the connection has to the gateway and answers what is ready
    /// at once; then polls the replies still waiting. Call after any input and after a
    /// wake-up of `waker`.
    pub(crate) fn drive(
        &mut self,
        conn: &mut ServerConnection,
        gateway: &Arc<Gateway>,
        waker: &Waker,
        date: &DateCache,
    ) {
        // The connection times out a body only (a slow head is closed silently).
        let body_timeout = Rejection::BodyTimeout {
            timeout_ms: u64::try_from(conn.config().body_timeout.as_millis()).unwrap_or(u64::MAX),
        };
        loop {
            self.poll_waiting(conn, waker, date);
            let Some(event) = conn.poll_event() else {
                break;
            };
            let (id, reply) = match event {
                Event::Request { id, request } => {
                    let body = match request.body().as_contiguous() {
                        Some(body) => body,
                        None => {
                            self.scratch.clear();
                            request.body().copy_into(&mut self.scratch);
                            &self.scratch[..]
                        }
                    };
                    let ticket = gateway.submit(Incoming {
                        method: request.method(),
                        target: request.path(),
                        headers: request.headers(),
                        body,
                        body_framed: request.framing() != Framing::None,
                    });
                    // One allocation per request: the reply future must outlive the
                    // borrow of the request; it owns the ticket and a gateway handle.
                    let gateway = Arc::clone(gateway);
                    let future: ReplyFuture = Box::pin(async move { ticket.reply(&gateway).await });
                    self.waiting.push((id, future));
                    continue;
                }
                Event::Rejected { id, error } => (id, gateway.reject(&Rejection::Frame(error))),
                Event::TimedOut { id } => (id, gateway.reject(&body_timeout)),
            };
            respond(conn, id, &reply, date);
        }
    }

    fn poll_waiting(&mut self, conn: &mut ServerConnection, waker: &Waker, date: &DateCache) {
        let mut context = Context::from_waker(waker);
        let mut index = 0;
        while index < self.waiting.len() {
            if let Poll::Ready(reply) = self.waiting[index].1.as_mut().poll(&mut context) {
                let (id, _) = self.waiting.swap_remove(index);
                respond(conn, id, &reply, date);
            } else {
                index += 1;
            }
        }
    }
}

fn respond(conn: &mut ServerConnection, id: RequestId, reply: &Reply, date: &DateCache) {
    date.with(|date| {
        conn.respond(Instant::now(), id, reply.close, |context, out| {
            reply.encode_http1(context.keep_alive(), context.version(), Some(date), out);
        })
        .expect("each event is answered once, with the id it carried");
    });
}

#[cfg(test)]
mod tests {
    use super::*;
    use ingest::GatewaySink;
    use ingest::{AckMode, Policy};
    use kafka_sink::NullSink;

    /// No runtime: the dispatcher answers pipelined requests, a bad one and a probe in
    /// request order, polling with a waker that does nothing.
    #[test]
    fn answers_in_order_without_a_runtime() {
        let gateway = Arc::new(Gateway::new(
            Policy {
                topic: "t".into(),
                max_body_bytes: 1024,
                ack_mode: AckMode::Delivered,
            },
            GatewaySink::Null(NullSink::default()),
        ));
        let now = Instant::now();
        let mut conn = ServerConnection::new(http_conn::Config::default(), now);
        conn.handle_read(
            now,
            b"POST / HTTP/1.1\r\nContent-Type: application/json\r\nContent-Length: 2\r\n\r\n{}\
              GET /healthz HTTP/1.1\r\n\r\n\
              POST / HTTP/1.1\r\nContent-Type: application/json\r\nContent-Length: 5\r\n\r\n{oops",
        );
        let mut dispatch = Dispatch::default();
        dispatch.drive(&mut conn, &gateway, Waker::noop(), &DateCache);
        assert!(dispatch.waiting.is_empty(), "the null sink answers at once");
        let wire = String::from_utf8(conn.poll_transmit().unwrap().to_vec()).unwrap();
        let statuses: Vec<&str> = wire
            .match_indices("HTTP/1.1 ")
            .map(|(at, _)| &wire[at + 9..at + 12])
            .collect();
        assert_eq!(statuses, ["200", "200", "400"], "{wire}");
    }
}
