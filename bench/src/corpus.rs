//! Request streams for the parse benches: the same bytes for every parser.

/// One named input: a stream of `requests` back-to-back HTTP/1.1 requests.
#[derive(Debug, Clone)]
pub struct Case {
    /// Short name used as the criterion benchmark id.
    pub name: &'static str,
    /// The raw bytes.
    pub bytes: Vec<u8>,
    /// How many requests `bytes` holds.
    pub requests: usize,
}

/// A JSON object of roughly `size` bytes, like the payloads clients post.
pub fn json_payload(size: usize) -> Vec<u8> {
    let mut body = br#"{"event":"page_view","user":"u-123456","data":""#.to_vec();
    let filler = size.saturating_sub(body.len() + 2).max(1);
    body.extend(std::iter::repeat_n(b'x', filler));
    body.extend_from_slice(br#""}"#);
    body
}

/// A keep-alive POST with a `Content-Length` body, as a load generator sends it.
/// A REST Proxy v2 produce request to `topic` carrying `records` JSON values of about
/// `record_bytes` each (`POST /topics/{topic}`, `application/vnd.kafka.json.v2+json`).
pub fn v2_batch(topic: &str, records: usize, record_bytes: usize) -> Vec<u8> {
    let value = json_payload(record_bytes);
    let mut body = br#"{"records":["#.to_vec();
    for i in 0..records {
        if i > 0 {
            body.push(b',');
        }
        body.extend_from_slice(br#"{"value":"#);
        body.extend_from_slice(&value);
        body.push(b'}');
    }
    body.extend_from_slice(b"]}");
    let mut out = format!(
        "POST /topics/{topic} HTTP/1.1\r\nHost: 127.0.0.1:8081\r\nUser-Agent: bench/1\r\n\
         Content-Type: application/vnd.kafka.json.v2+json\r\nContent-Length: {}\r\n\r\n",
        body.len()
    )
    .into_bytes();
    out.extend_from_slice(&body);
    out
}

/// `POST /` with `body` as JSON.
pub fn post(body: &[u8]) -> Vec<u8> {
    let mut out = format!(
        "POST / HTTP/1.1\r\nHost: 127.0.0.1:8081\r\nUser-Agent: bench/1\r\n\
         Content-Type: application/json\r\nContent-Length: {}\r\n\r\n",
        body.len()
    )
    .into_bytes();
    out.extend_from_slice(body);
    out
}

fn chunked_post(body: &[u8], chunk_bytes: usize) -> Vec<u8> {
    let mut out = b"POST / HTTP/1.1\r\nHost: 127.0.0.1:8081\r\nContent-Type: application/json\r\n\
        Transfer-Encoding: chunked\r\n\r\n"
        .to_vec();
    for chunk in body.chunks(chunk_bytes) {
        out.extend_from_slice(format!("{:x}\r\n", chunk.len()).as_bytes());
        out.extend_from_slice(chunk);
        out.extend_from_slice(b"\r\n");
    }
    out.extend_from_slice(b"0\r\n\r\n");
    out
}

/// Every case: tiny POST, 1 KiB and 16 KiB JSON bodies, chunked, pipelined x16.
pub fn all() -> Vec<Case> {
    let small = post(br#"{"data":"test_payload"}"#);
    vec![
        Case {
            name: "small_post",
            bytes: small.clone(),
            requests: 1,
        },
        Case {
            name: "json_1k",
            bytes: post(&json_payload(1024)),
            requests: 1,
        },
        Case {
            name: "json_16k",
            bytes: post(&json_payload(16 * 1024)),
            requests: 1,
        },
        Case {
            name: "chunked_1k",
            bytes: chunked_post(&json_payload(1024), 256),
            requests: 1,
        },
        Case {
            name: "pipelined_x16",
            bytes: small.repeat(16),
            requests: 16,
        },
    ]
}
