//! Properties of the decoder, checked with proptest on generated request streams.
//!
//! Each property runs 10,000 cases (override with `PROPTEST_CASES`).

use http_parse::{Decoder, Limits, Status};
use proptest::prelude::*;

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
    path: String,
    headers: Vec<(String, Vec<u8>)>,
    body: Vec<u8>,
    len: usize,
}

fn header_name() -> impl Strategy<Value = String> {
    "[A-Za-z][A-Za-z0-9-]{0,15}".prop_filter("framing headers are generated separately", |name| {
        ![
            "content-length",
            "transfer-encoding",
            "connection",
            "expect",
        ]
        .contains(&name.to_ascii_lowercase().as_str())
    })
}

fn header_value() -> impl Strategy<Value = String> {
    // httparse trims surrounding whitespace, so generated values have none.
    "([!-~]([ -~]{0,28}[!-~])?)?"
}

fn spec() -> impl Strategy<Value = Spec> {
    let body = prop_oneof![
        Just(BodySpec::None),
        proptest::collection::vec(any::<u8>(), 0..300).prop_map(BodySpec::Length),
        (
            proptest::collection::vec(proptest::collection::vec(any::<u8>(), 1..80), 0..5),
            proptest::collection::vec((header_name(), header_value()), 0..3),
        )
            .prop_map(|(chunks, trailers)| BodySpec::Chunked { chunks, trailers }),
    ];
    (
        prop_oneof![
            Just("GET"),
            Just("POST"),
            Just("PUT"),
            Just("DELETE"),
            Just("PATCH")
        ],
        "/[a-z0-9/._~-]{0,24}(\\?[a-z0-9=&]{0,12})?",
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

/// Feeds `stream` to a fresh decoder in pieces ending at `cuts`, returning every
/// complete request and whether the stream ended cleanly between requests.
fn decode_stream(stream: &[u8], cuts: &[usize]) -> (Vec<Decoded>, bool) {
    let mut decoder = Decoder::new(Limits::default());
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
                    let mut body = Vec::new();
                    request.body().copy_into(&mut body);
                    let decoded = Decoded {
                        method: request.method().to_owned(),
                        path: request.path().to_owned(),
                        headers: request
                            .headers()
                            .map(|(name, value)| (name.to_owned(), value.to_vec()))
                            .collect(),
                        body,
                        len: request.len(),
                    };
                    assert!(decoded.len <= buf.len());
                    buf.drain(..decoded.len);
                    out.push(decoded);
                }
                Ok(Status::Continue) => continue,
                Ok(Status::Partial { .. }) => break,
                Err(error) => panic!("valid stream rejected: {error:?}"),
            }
        }
    }
    (out, buf.is_empty() && decoder.is_idle())
}

fn config() -> ProptestConfig {
    let cases = std::env::var("PROPTEST_CASES")
        .ok()
        .and_then(|cases| cases.parse().ok())
        .unwrap_or(10_000);
    ProptestConfig::with_cases(cases)
}

proptest! {
    #![proptest_config(config())]

    /// (a) Feeding a pipeline split at arbitrary points gives exactly the requests
    /// that feeding it whole gives.
    #[test]
    fn split_anywhere_equals_whole(
        specs in proptest::collection::vec(spec(), 1..5),
        mut cuts in proptest::collection::vec(any::<proptest::sample::Index>(), 0..12),
    ) {
        let mut stream = Vec::new();
        for spec in &specs {
            spec.encode(&mut stream);
        }
        let (whole, whole_clean) = decode_stream(&stream, &[]);
        let mut cut_points: Vec<usize> = cuts.drain(..).map(|i| i.index(stream.len() + 1)).collect();
        cut_points.sort_unstable();
        let (split, split_clean) = decode_stream(&stream, &cut_points);
        prop_assert!(whole_clean && split_clean);
        prop_assert_eq!(whole.len(), specs.len());
        prop_assert_eq!(split, whole);
    }

    /// (c) Encoding a request and decoding it gives back the same method, path,
    /// headers and body, and consumes exactly the encoded bytes.
    #[test]
    fn encode_then_decode_round_trips(specs in proptest::collection::vec(spec(), 1..4)) {
        let mut stream = Vec::new();
        let mut lengths = Vec::new();
        for spec in &specs {
            let before = stream.len();
            spec.encode(&mut stream);
            lengths.push(stream.len() - before);
        }
        let (decoded, clean) = decode_stream(&stream, &[]);
        prop_assert!(clean);
        prop_assert_eq!(decoded.len(), specs.len());
        for ((spec, got), len) in specs.iter().zip(&decoded).zip(lengths) {
            prop_assert_eq!(&got.method, &spec.method);
            prop_assert_eq!(&got.path, &spec.path);
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

    /// (b) Arbitrary bytes never panic, and a complete request never claims more
    /// bytes than it was given.
    #[test]
    fn arbitrary_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..512)) {
        let mut decoder = Decoder::new(Limits::default());
        if let Ok(Status::Complete(request)) = decoder.decode(&bytes) {
            prop_assert!(request.len() <= bytes.len());
            prop_assert!(request.body().len() <= request.len());
        }
    }

    /// (b') Mutating one byte of a valid stream never panics either: this reaches the
    /// chunk and header paths that random bytes rarely do.
    #[test]
    fn mutated_requests_never_panic(
        spec in spec(),
        position in any::<proptest::sample::Index>(),
        byte in any::<u8>(),
    ) {
        let mut stream = Vec::new();
        spec.encode(&mut stream);
        let at = position.index(stream.len());
        stream[at] = byte;
        let mut decoder = Decoder::new(Limits::default());
        let mut buf: &[u8] = &stream;
        while let Ok(Status::Complete(request)) = decoder.decode(buf) {
            let len = request.len();
            prop_assert!(len > 0 && len <= buf.len());
            buf = &buf[len..];
        }
    }
}
