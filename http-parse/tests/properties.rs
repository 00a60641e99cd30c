//! Properties of the decoder, checked with proptest on generated request streams.
//!
//! Each property runs 10,000 cases (override with `PROPTEST_CASES`).

use http_parse::{Decoder, FrameError, Limits, Request, Status, Version};
use proptest::prelude::*;
use proptest::sample::{select, Index};

/// A request as a test writes it, and as the decoder must give it back.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Spec {
    method: String,
    path: String,
    headers: Vec<(String, String)>,
    body: BodySpec,
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum BodySpec {
    None,
    Length(Vec<u8>),
    Chunked {
        chunks: Vec<Vec<u8>>,
        trailers: Vec<(String, String)>,
    },
}

impl BodySpec {
    fn decoded(&self) -> Vec<u8> {
        match self {
            Self::None => Vec::new(),
            Self::Length(body) => body.clone(),
            Self::Chunked { chunks, .. } => chunks.concat(),
        }
    }
}

impl Spec {
    fn encode(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(format!("{} {} HTTP/1.1\r\n", self.method, self.path).as_bytes());
        for (name, value) in &self.headers {
            out.extend_from_slice(format!("{name}: {value}\r\n").as_bytes());
        }
        match &self.body {
            BodySpec::None => out.extend_from_slice(b"\r\n"),
            BodySpec::Length(body) => {
                out.extend_from_slice(format!("Content-Length: {}\r\n\r\n", body.len()).as_bytes());
                out.extend_from_slice(body);
            }
            BodySpec::Chunked { chunks, trailers } => {
                out.extend_from_slice(b"Transfer-Encoding: chunked\r\n\r\n");
                for chunk in chunks {
                    out.extend_from_slice(format!("{:x}\r\n", chunk.len()).as_bytes());
                    out.extend_from_slice(chunk);
                    out.extend_from_slice(b"\r\n");
                }
                out.extend_from_slice(b"0\r\n");
                for (name, value) in trailers {
                    out.extend_from_slice(format!("{name}: {value}\r\n").as_bytes());
                }
                out.extend_from_slice(b"\r\n");
            }
        }
    }
}

/// What the decoder reported for one request, owned so it can be compared.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Decoded {
    method: String,
    target: String,
    path: String,
    query: Option<String>,
    version: Version,
    headers: Vec<(String, Vec<u8>)>,
    body: Vec<u8>,
    len: usize,
    keep_alive: bool,
}

impl Decoded {
    fn of(request: &Request<'_>) -> Self {
        let mut body = Vec::new();
        request.body().copy_into(&mut body);
        Self {
            method: request.method().to_owned(),
            target: request.target().to_owned(),
            path: request.path().to_owned(),
            query: request.query().map(str::to_owned),
            version: request.version(),
            headers: request
                .headers()
                .map(|(name, value)| (name.to_owned(), value.to_vec()))
                .collect(),
            body,
            len: request.len(),
            keep_alive: request.keep_alive(),
        }
    }
}

// Regexes are compiled once, here: a `&str` strategy compiles its regex again for
// every value, which was most of this file's run time in debug builds.
fn regex(pattern: &str) -> impl Strategy<Value = String> {
    proptest::string::string_regex(pattern).expect("valid regex")
}

fn header_name() -> impl Strategy<Value = String> {
    regex("[A-Za-z][A-Za-z0-9-]{0,15}").prop_filter(
        "framing headers are generated separately",
        |name| {
            ![
                "content-length",
                "transfer-encoding",
                "connection",
                "expect",
            ]
            .contains(&name.to_ascii_lowercase().as_str())
        },
    )
}

fn header_value() -> impl Strategy<Value = String> {
    // httparse trims surrounding whitespace, so generated values have none.
    regex("([!-~]([ -~]{0,28}[!-~])?)?")
}

fn spec() -> impl Strategy<Value = Spec> {
    let body = prop_oneof![
        Just(BodySpec::None),
        (0usize..300, any::<u8>()).prop_map(|(len, seed)| BodySpec::Length(filler(len, seed))),
        (
            proptest::collection::vec((1usize..80, any::<u8>()), 0..5),
            proptest::collection::vec((header_name(), header_value()), 0..3),
        )
            .prop_map(|(chunks, trailers)| BodySpec::Chunked {
                chunks: chunks
                    .into_iter()
                    .map(|(len, seed)| filler(len, seed))
                    .collect(),
                trailers,
            }),
    ];
    (
        prop_oneof![
            Just("GET"),
            Just("POST"),
            Just("PUT"),
            Just("DELETE"),
            Just("PATCH")
        ],
        regex("/[a-z0-9/._~-]{0,24}(\\?[a-z0-9=&]{0,12})?"),
        proptest::collection::vec((header_name(), header_value()), 0..8),
        body,
    )
        .prop_map(|(method, path, headers, body)| Spec {
            method: method.to_owned(),
            path,
            headers,
            body,
        })
}

/// Feeds `stream` to a fresh decoder in pieces ending at `cuts`, as a server does:
/// append a piece, decode while requests complete, drop the bytes each one used.
/// Returns every complete request and how the stream ended.
fn decode_stream(stream: &[u8], cuts: &[usize], limits: Limits) -> (Vec<Decoded>, End) {
    let mut decoder = Decoder::new(limits);
    let mut buf = Vec::new();
    let mut out = Vec::new();
    let mut fed = 0;
    let ends = cuts.iter().copied().chain(std::iter::once(stream.len()));
    for end in ends {
        let end = end.clamp(fed, stream.len());
        buf.extend_from_slice(&stream[fed..end]);
        fed = end;
        loop {
            match decoder.decode(&buf) {
                Ok(Status::Complete(request)) => {
                    let decoded = Decoded::of(&request);
                    assert!(decoded.len > 0 && decoded.len <= buf.len());
                    assert!(decoded.body.len() <= decoded.len);
                    buf.drain(..decoded.len);
                    out.push(decoded);
                }
                // Reported at most once per request: asking again moves on.
                Ok(Status::Continue) => continue,
                Ok(Status::Partial { .. }) => break,
                Err(error) => return (out, End::Error(error)),
            }
        }
    }
    (out, End::Partial)
}

/// What one call to [`Decoder::decode`] answered, with `Continue` and the `needed`
/// hint folded into "more": those depend on what the decoder reported before.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Answer {
    More,
    Complete(Decoded),
    Error(FrameError),
}

fn answer(decoder: &mut Decoder, buf: &[u8]) -> Answer {
    match decoder.decode(buf) {
        Ok(Status::Complete(request)) => Answer::Complete(Decoded::of(&request)),
        Ok(Status::Partial { .. } | Status::Continue) => Answer::More,
        Err(error) => Answer::Error(error),
    }
}

/// Feeds `stream` in pieces ending at `cuts` as [`decode_stream`] does, and checks each
/// answer against a fresh decoder's on the same buffer: one that has seen no earlier
/// piece, so whatever the first decoder remembers between reads changes nothing.
fn check_each_read(stream: &[u8], cuts: &[usize], limits: Limits) -> Result<(), TestCaseError> {
    let mut decoder = Decoder::new(limits);
    let mut buf = Vec::new();
    let mut fed = 0;
    let ends = cuts.iter().copied().chain(std::iter::once(stream.len()));
    for end in ends {
        let end = end.clamp(fed, stream.len());
        buf.extend_from_slice(&stream[fed..end]);
        fed = end;
        loop {
            let got = answer(&mut decoder, &buf);
            let fresh = answer(&mut Decoder::new(limits), &buf);
            prop_assert_eq!(&got, &fresh, "after {} bytes", fed);
            match got {
                Answer::Complete(request) => {
                    buf.drain(..request.len);
                }
                Answer::More => break,
                Answer::Error(_) => return Ok(()),
            }
        }
    }
    Ok(())
}

/// How a stream ended after its last complete request.
#[derive(Debug, Clone, PartialEq, Eq)]
enum End {
    /// The decoder waits for more bytes (or there are none left).
    Partial,
    /// The decoder refused the stream.
    Error(FrameError),
}

/// The default limits, or some of them small enough that streams of a few hundred
/// bytes reach them.
fn limits() -> impl Strategy<Value = Limits> {
    let default = Limits::default();
    (
        prop_oneof![3 => Just(default.max_head_bytes()), 1 => 64usize..256],
        prop_oneof![3 => Just(default.max_headers()), 1 => 1usize..6],
        prop_oneof![3 => Just(default.max_body_bytes()), 1 => 0usize..400],
        prop_oneof![3 => Just(default.max_chunk_line_bytes()), 1 => 3usize..40],
    )
        .prop_map(
            |(max_head_bytes, max_headers, max_body_bytes, max_chunk_line_bytes)| {
                Limits::default()
                    .with_max_headers(max_headers)
                    .with_max_head_bytes(max_head_bytes)
                    .with_max_body_bytes(max_body_bytes)
                    .with_max_chunk_line_bytes(max_chunk_line_bytes)
            },
        )
}

/// Bytes that delimit or end something in HTTP/1.1, and some that are never valid.
fn interesting_byte() -> impl Strategy<Value = u8> {
    prop_oneof![
        3 => select(&b"\r\n \t:;=\"\\/0123456789aAfFzZ-.,H@\x00\x01\x7f\x80\xc3\xff"[..]),
        1 => any::<u8>(),
    ]
}

/// `len` bytes that cover the whole byte range, cheaper to generate than `len`
/// independent bytes (generation dominates the run time in debug builds).
fn filler(len: usize, seed: u8) -> Vec<u8> {
    (0..len)
        .map(|i| (i as u8).wrapping_mul(167).wrapping_add(seed))
        .collect()
}

const LONG_HEADER: &str =
    "X-Long: aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa";

/// Mostly one of `valid`, sometimes one of `broken`: a stream is worth decoding
/// when a few requests go through before something goes wrong.
fn mostly(
    valid: &'static [&'static str],
    broken: &'static [&'static str],
) -> impl Strategy<Value = &'static str> {
    prop_oneof![16 => select(valid), 1 => select(broken)]
}

/// A chunked body: chunks with extensions, valid or not, then trailers.
fn chunked_body() -> impl Strategy<Value = Vec<u8>> {
    let extension = mostly(
        &[
            "",
            "",
            "",
            ";a",
            ";a=b",
            " ; a = \"q \\\" s\"",
            ";a=\"caf\u{e9}\"",
        ],
        &[";a b", ";=x", ";a=", ";a=\"x", ";a=@"],
    );
    let trailer = mostly(
        &["X-T: 1", "X-U: two words", LONG_HEADER],
        &["Bad\x01: x", " folded", "X-V : 1"],
    );
    (
        proptest::collection::vec((1usize..40, any::<u8>(), extension), 0..4),
        proptest::collection::vec(trailer, 0..3),
    )
        .prop_map(|(chunks, trailers)| {
            let mut out = Vec::new();
            for (len, seed, extension) in chunks {
                out.extend_from_slice(format!("{len:x}{extension}\r\n").as_bytes());
                out.extend_from_slice(&filler(len, seed));
                out.extend_from_slice(b"\r\n");
            }
            out.extend_from_slice(b"0\r\n");
            for trailer in trailers {
                out.extend_from_slice(trailer.as_bytes());
                out.extend_from_slice(b"\r\n");
            }
            out.extend_from_slice(b"\r\n");
            out
        })
}

/// One request on the wire, built from pieces that are mostly valid and sometimes
/// not: odd versions, spaces and raw UTF-8 in targets, folded or badly named header
/// lines, conflicting framing, bare LF.
fn wire_request() -> impl Strategy<Value = Vec<u8>> {
    let request_line = (
        mostly(&[""], &["\r\n", "\n"]),
        mostly(&["GET", "POST", "POST", "PUT"], &["G@T", "get", ""]),
        mostly(
            &["/", "/topics/t1", "/a/b?c=d", "*", "/%C3%A9"],
            &["/a b", "/caf\u{e9}", "/x\ty", ""],
        ),
        mostly(
            &["HTTP/1.1", "HTTP/1.1", "HTTP/1.1", "HTTP/1.1", "HTTP/1.0"],
            &[
                "HTTP/2.0",
                "HTTP/1.2",
                "HTTP/1",
                "FOO/1.1",
                "HTTP/1.1 x",
                "HTTP/2.0 x",
            ],
        ),
        mostly(&["\r\n"], &["\n", "\r"]),
    );
    let header = mostly(
        &[
            "Host: example.com",
            "X-Kafka-Key: k1",
            "Connection: close",
            "Connection: keep-alive",
            "Expect: 100-continue",
            "X-Empty:",
            "X-Obs: caf\u{e9}",
            LONG_HEADER,
        ],
        &[
            " folded",
            "\tfolded",
            "Bad\x01Name: x",
            "X-A : y",
            "X-A \t: y",
            "X-A \tb: y",
            "Content-Length: 3",
            "Content-Length: +3",
            "Transfer-Encoding: gzip",
            "X-Bare-CR: a\rb",
            "X-Bare-LF: a\nb",
        ],
    );
    let body = prop_oneof![
        2 => Just(Vec::new()),
        2 => (0usize..300, any::<u8>()).prop_map(|(len, seed)| {
            let mut out = format!("Content-Length: {len}\r\n\r\n").into_bytes();
            out.extend_from_slice(&filler(len, seed));
            out
        }),
        3 => chunked_body().prop_map(|body| {
            let mut out = b"Transfer-Encoding: chunked\r\n\r\n".to_vec();
            out.extend_from_slice(&body);
            out
        }),
    ];
    (request_line, proptest::collection::vec(header, 0..4), body).prop_map(
        |((empty, method, target, version, end), headers, body)| {
            let mut out = format!("{empty}{method} {target} {version}{end}").into_bytes();
            for header in headers {
                out.extend_from_slice(header.as_bytes());
                out.extend_from_slice(b"\r\n");
            }
            if body.is_empty() {
                out.extend_from_slice(b"\r\n");
            }
            out.extend_from_slice(&body);
            out
        },
    )
}

/// A few bytes replaced, inserted or deleted.
fn edits() -> impl Strategy<Value = Vec<(Index, u8, u8)>> {
    prop_oneof![
        2 => Just(Vec::new()),
        1 => proptest::collection::vec((any::<Index>(), 0u8..3, interesting_byte()), 1..4),
    ]
}

fn apply(mut stream: Vec<u8>, edits: Vec<(Index, u8, u8)>) -> Vec<u8> {
    for (at, kind, byte) in edits {
        let at = at.index(stream.len() + 1);
        match kind {
            0 if at < stream.len() => stream[at] = byte,
            1 if at < stream.len() => {
                stream.remove(at);
            }
            _ => stream.insert(at, byte),
        }
    }
    stream
}

/// A byte stream for the decoder: arbitrary bytes, or a pipeline of requests (well
/// formed with arbitrary names and bodies, or built from pieces some of which are
/// broken), some with a few bytes replaced, inserted or deleted.
fn stream() -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        1 => proptest::collection::vec(any::<u8>(), 0..128),
        1 => proptest::collection::vec(interesting_byte(), 0..128),
        4 => (proptest::collection::vec(spec(), 1..4), edits()).prop_map(|(specs, edits)| {
            let mut stream = Vec::new();
            for spec in &specs {
                spec.encode(&mut stream);
            }
            apply(stream, edits)
        }),
        8 => (proptest::collection::vec(wire_request(), 1..4), edits())
            .prop_map(|(requests, edits)| apply(requests.concat(), edits)),
    ]
}

/// Where to cut a stream of `len` bytes: nowhere, at a few points, or after every
/// byte (a client trickling its request).
fn cut_points(cuts: &[Index], trickle: bool, len: usize) -> Vec<usize> {
    if trickle {
        return (1..len).collect();
    }
    let mut points: Vec<usize> = cuts.iter().map(|i| i.index(len + 1)).collect();
    points.sort_unstable();
    points
}

fn config() -> ProptestConfig {
    let cases = std::env::var("PROPTEST_CASES")
        .ok()
        .and_then(|cases| cases.parse().ok())
        .unwrap_or(10_000);
    ProptestConfig {
        // ChaCha, the default, is slow without optimisation; these are not crypto.
        rng_algorithm: proptest::test_runner::RngAlgorithm::XorShift,
        ..ProptestConfig::with_cases(cases)
    }
}

proptest! {
    #![proptest_config(config())]

    /// (a) The decoder's answer is a function of the byte stream, not of how it is cut
    /// into reads: any stream (arbitrary bytes, or valid and broken pipelines with
    /// chunked bodies), fed in pieces, gives the same requests and then the same error
    /// (or none) as fed whole. `Continue` and `needed` hints may differ. This also
    /// checks that no input panics and that a request never claims bytes it was not
    /// given.
    #[test]
    fn split_anywhere_equals_whole(
        stream in stream(),
        limits in limits(),
        cuts in proptest::collection::vec(any::<Index>(), 0..12),
        trickle in proptest::bool::weighted(0.1),
    ) {
        let whole = decode_stream(&stream, &[], limits);
        let split = decode_stream(&stream, &cut_points(&cuts, trickle, stream.len()), limits);
        prop_assert_eq!(split, whole);
    }

    /// (a') Stronger: not just the end, but every answer is the one a decoder that
    /// sees the buffer for the first time gives. A decoder that looks at a head again
    /// only when new bytes can change the answer must not answer late.
    #[test]
    fn each_read_is_answered_as_a_fresh_decoder_answers_it(
        stream in stream(),
        limits in limits(),
        cuts in proptest::collection::vec(any::<Index>(), 0..12),
        trickle in proptest::bool::weighted(0.1),
    ) {
        check_each_read(&stream, &cut_points(&cuts, trickle, stream.len()), limits)?;
    }

    /// (b) Encoding a request and decoding it gives back the same method, target (and
    /// its path and query), headers and body, and consumes exactly the encoded bytes.
    #[test]
    fn encode_then_decode_round_trips(specs in proptest::collection::vec(spec(), 1..4)) {
        let mut stream = Vec::new();
        let mut lengths = Vec::new();
        for spec in &specs {
            let before = stream.len();
            spec.encode(&mut stream);
            lengths.push(stream.len() - before);
        }
        let (decoded, end) = decode_stream(&stream, &[], Limits::default());
        prop_assert_eq!(end, End::Partial);
        prop_assert_eq!(decoded.len(), specs.len());
        for ((spec, got), len) in specs.iter().zip(&decoded).zip(lengths) {
            prop_assert_eq!(&got.method, &spec.method);
            prop_assert_eq!(&got.target, &spec.path);
            let (path, query) = match spec.path.split_once('?') {
                Some((path, query)) => (path, Some(query.to_owned())),
                None => (spec.path.as_str(), None),
            };
            prop_assert_eq!(&got.path, path);
            prop_assert_eq!(&got.query, &query);
            prop_assert_eq!(&got.body, &spec.body.decoded());
            prop_assert_eq!(got.len, len);
            let sent: Vec<(String, Vec<u8>)> = spec
                .headers
                .iter()
                .map(|(name, value)| (name.clone(), value.clone().into_bytes()))
                .collect();
            prop_assert_eq!(&got.headers[..sent.len()], &sent[..]);
        }
    }
}
