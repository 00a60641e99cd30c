//! One request through hyper: apply the shared framing rules, collect the body
//! (bounded in size and in time), hand it to `ingest`.

use bytes::Bytes;
use http_body_util::{BodyExt, Full, LengthLimitError, Limited};
use http_parse::{Framing, FramingHeaders};
use hyper::body::Incoming as HyperBody;
use ingest::{Gateway, HttpVersion, Incoming, Rejection};

use crate::deadline::{now, Clock};

/// Answers one request. Never fails: every problem becomes a reply. hyper calls this
/// once the head is complete: the connection's `clock` then runs the body deadline,
/// from the read that completed the head, until the body is collected.
pub(crate) async fn handle(
    gateway: &Gateway,
    limits: &http_parse::Limits,
    clock: &Clock,
    request: http::Request<HyperBody>,
) -> http::Response<Full<Bytes>> {
    let response = answer(gateway, limits, clock, request).await;
    clock.response_supplied(now());
    response
}

async fn answer(
    gateway: &Gateway,
    limits: &http_parse::Limits,
    clock: &Clock,
    request: http::Request<HyperBody>,
) -> http::Response<Full<Bytes>> {
    let body_deadline = clock.head_complete();
    let (parts, body) = request.into_parts();
    // The uring server's framing rules (http-parse), applied to what hyper hands over,
    // so both servers decide "no body" (411) and "declared length over the limit" (413,
    // before reading) alike. hyper has already normalised some shapes the uring server
    // refuses: with both Content-Length and chunked it drops the length, processes by
    // Transfer-Encoding and closes the connection (RFC 9112 §6.3); it collapses equal
    // duplicate lengths and a repeated `chunked`. None of these can desynchronise it.
    let version = match parts.version {
        http::Version::HTTP_10 => HttpVersion::Http10,
        _ => HttpVersion::Http11,
    };
    let mut framing_headers = FramingHeaders::default();
    let framing = parts
        .headers
        .iter()
        .try_for_each(|(name, value)| framing_headers.add(name.as_str(), value.as_bytes()))
        .and_then(|()| framing_headers.framing(version, limits));
    let framing = match framing {
        Ok(framing) => framing,
        Err(error) => {
            return gateway
                .reject(&Rejection::Frame(error))
                .into_http()
                .map(Full::new)
        }
    };
    let limit = gateway.policy().max_body_bytes;
    let collect = Limited::new(body, limit).collect();
    let collected = match body_deadline {
        Some(deadline) => tokio::time::timeout_at(deadline.into(), collect).await,
        None => Ok(collect.await),
    };
    clock.request_received();
    let Ok(collected) = collected else {
        // The rejection closes the connection (`Connection: close`): hyper then stops
        // reading the rest of the body instead of waiting for it.
        let timeout_ms = u64::try_from(clock.timeouts().body.as_millis()).unwrap_or(u64::MAX);
        return gateway
            .reject(&Rejection::BodyTimeout { timeout_ms })
            .into_http()
            .map(Full::new);
    };
    let body = match collected {
        // One frame (the usual Content-Length body) is handed over without a copy.
        Ok(collected) => collected.to_bytes(),
        Err(error) => {
            let rejection = if error.downcast_ref::<LengthLimitError>().is_some() {
                Rejection::BodyTooLarge { limit }
            } else {
                Rejection::MalformedHttp(error.to_string())
            };
            return gateway.reject(&rejection).into_http().map(Full::new);
        }
    };
    let incoming = Incoming {
        method: parts.method.as_str(),
        path: parts.uri.path(),
        headers: parts
            .headers
            .iter()
            .map(|(name, value)| (name.as_str(), value.as_bytes())),
        body: &body,
        body_framed: framing != Framing::None,
    };
    let reply = gateway.submit(incoming).reply(gateway).await;
    reply.into_http().map(Full::new)
}
