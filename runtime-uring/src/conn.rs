//! One connection: read into a reused buffer, frame with `http-parse`, enqueue every
//! complete request, answer them in order with one write.
//!
//! Steady state allocates nothing per request here: the read buffer, the response
//! buffer and the batch vector are reused; bodies are slices of the read buffer
//! (chunked bodies of more than one chunk are copied into a reused scratch vector).

use std::time::Instant;

use http_parse::{Decoder, Framing, Status, Version, CONTINUE};
use ingest::{Incoming, Rejection, Reply, Ticket};
use tokio::sync::watch;
use tokio_uring::buf::BoundedBuf;
use tokio_uring::net::TcpStream;

use crate::server::Shared;

/// Smallest free space worth a read; the buffer grows by at least this much.
const READ_CHUNK_BYTES: usize = 16 * 1024;

pub(crate) async fn serve(stream: TcpStream, shared: &Shared, mut shutdown: watch::Receiver<bool>) {
    let gateway = &*shared.gateway;
    let mut decoder = Decoder::new(shared.limits);
    let mut buf: Vec<u8> = Vec::with_capacity(READ_CHUNK_BYTES);
    let mut start = 0;
    let mut out: Vec<u8> = Vec::with_capacity(1024);
    let mut scratch: Vec<u8> = Vec::new();
    let mut batch: Vec<(Ticket, bool, Version)> = Vec::new();
    let mut head_deadline: Option<Instant> = None;
    let date = &shared.date;

    loop {
        // 1. Enqueue every complete request already buffered before awaiting any
        //    delivery: a pipelined batch shares Kafka round trips.
        let mut close = false;
        let mut send_continue = false;
        let mut error_reply: Option<Reply> = None;
        while start < buf.len() {
            match decoder.decode(&buf[start..]) {
                Ok(Status::Complete(request)) => {
                    let keep_alive = request.keep_alive() && !gateway.is_shutting_down();
                    let body = match request.body().as_contiguous() {
                        Some(body) => body,
                        None => {
                            scratch.clear();
                            request.body().copy_into(&mut scratch);
                            &scratch[..]
                        }
                    };
                    let ticket = gateway
                        .submit(Incoming {
                            method: request.method(),
                            target: request.path(),
                            headers: request.headers(),
                            body,
                            body_framed: request.framing() != Framing::None,
                        })
                        .await;
                    batch.push((ticket, keep_alive, request.version()));
                    start += request.len();
                    head_deadline = None;
                    if !keep_alive {
                        close = true;
                        break;
                    }
                }
                Ok(Status::Continue) => {
                    send_continue = true;
                    break;
                }
                Ok(Status::Partial { .. }) => break,
                Err(error) => {
                    error_reply = Some(gateway.reject(&Rejection::Frame(error)));
                    close = true;
                    break;
                }
            }
        }

        // 2. Answer in request order, then the interim or error response, in one write.
        for (ticket, keep_alive, version) in batch.drain(..) {
            let reply = ticket.reply(gateway).await;
            close |= reply.close;
            date.with(|date| reply.encode_http1(keep_alive, version, Some(date), &mut out));
        }
        if send_continue {
            out.extend_from_slice(CONTINUE);
        }
        if let Some(reply) = error_reply {
            date.with(|date| reply.encode_http1(false, Version::Http11, Some(date), &mut out));
        }
        if !out.is_empty() {
            let (result, written) = stream.write_all(out).await;
            out = written;
            out.clear();
            if result.is_err() {
                return;
            }
        }
        if close {
            return;
        }

        // 3. Keep only the unconsumed tail, at the front; grow when full.
        if start == buf.len() {
            buf.clear();
        } else if start > 0 {
            buf.copy_within(start.., 0);
            buf.truncate(buf.len() - start);
        }
        start = 0;
        if buf.capacity() - buf.len() < READ_CHUNK_BYTES / 4 {
            buf.reserve(buf.capacity().max(READ_CHUNK_BYTES));
        }

        // 4. Read, bounded by the timeout that applies now: idle between requests, the
        //    header deadline while a head is incomplete (slowloris), idle per read of a body.
        let idle = buf.is_empty() && decoder.is_idle();
        let now = Instant::now();
        let timeout = if idle || !decoder.is_idle() {
            shared.idle_timeout
        } else {
            head_deadline
                .get_or_insert(now + shared.header_timeout)
                .saturating_duration_since(now)
        };
        let filled = buf.len();
        let capacity = buf.capacity();
        let reader = &stream;
        let read = async move {
            let (result, slice) = reader.read(buf.slice(filled..capacity)).await;
            (result, slice.into_inner())
        };
        let outcome = tokio::select! {
            outcome = tokio::time::timeout(timeout, read) => outcome.ok(),
            _ = shutdown.changed(), if idle => None,
        };
        let Some((result, returned)) = outcome else {
            // Timed out, or shutting down while idle. Dropping the read future does not
            // cancel the io_uring read, and tokio-uring defers the close until every op
            // on the fd completes: shutdown(2) completes the read so the socket closes.
            tracing::debug!(?timeout, idle, "closing: read timed out or shutting down");
            let _ = stream.shutdown(std::net::Shutdown::Both);
            return;
        };
        buf = returned;
        match result {
            Ok(0) | Err(_) => return,
            Ok(_) => {}
        }
    }
}
