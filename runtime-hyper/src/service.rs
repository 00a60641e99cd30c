//! One request through hyper: collect the body (bounded), hand it to `ingest`.

use bytes::Bytes;
use http::header::{CONTENT_LENGTH, TRANSFER_ENCODING};
use http_body_util::{BodyExt, Full, LengthLimitError, Limited};
use hyper::body::Incoming as HyperBody;
use ingest::{Gateway, Incoming, Rejection};

/// Answers one request. Never fails: every problem becomes a reply.
pub(crate) async fn handle(
    gateway: &Gateway,
    request: http::Request<HyperBody>,
) -> http::Response<Full<Bytes>> {
    let (parts, body) = request.into_parts();
    let limit = gateway.policy().max_body_bytes;
    let body = match Limited::new(body, limit).collect().await {
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
        target: parts
            .uri
            .path_and_query()
            .map_or("/", |target| target.as_str()),
        headers: parts
            .headers
            .iter()
            .map(|(name, value)| (name.as_str(), value.as_bytes())),
        body: &body,
        body_framed: parts.headers.contains_key(CONTENT_LENGTH)
            || parts.headers.contains_key(TRANSFER_ENCODING),
    };
    let reply = gateway.submit(incoming).await.reply(gateway).await;
    reply.into_http().map(Full::new)
}
