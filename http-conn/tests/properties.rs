//! Properties: how the bytes are split into reads never changes what comes out.
//!
//! Each property runs proptest's default case count (override with `PROPTEST_CASES`).

mod common;

use std::time::Instant;

use common::Harness;
use http_conn::{Config, Event, ServerConnection};
use proptest::prelude::*;
use proptest::sample::Index;

#[derive(Debug, Clone)]
enum Body {
    None,
    Length(Vec<u8>),
    Chunked(Vec<Vec<u8>>),
}

#[derive(Debug, Clone)]
struct Spec {
    method: &'static str,
    path: String,
    body: Body,
}

impl Spec {
    fn encode(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(
            format!("{} {} HTTP/1.1\r\nHost: h\r\n", self.method, self.path).as_bytes(),
        );
        match &self.body {
            Body::None => out.extend_from_slice(b"\r\n"),
            Body::Length(body) => {
                out.extend_from_slice(format!("Content-Length: {}\r\n\r\n", body.len()).as_bytes());
                out.extend_from_slice(body);
            }
            Body::Chunked(chunks) => {
                out.extend_from_slice(b"Transfer-Encoding: chunked\r\n\r\n");
                for chunk in chunks.iter().filter(|chunk| !chunk.is_empty()) {
                    out.extend_from_slice(format!("{:x}\r\n", chunk.len()).as_bytes());
                    out.extend_from_slice(chunk);
                    out.extend_from_slice(b"\r\n");
                }
                out.extend_from_slice(b"0\r\n\r\n");
            }
        }
    }

    fn expected(&self) -> (String, String, Vec<u8>) {
        let body = match &self.body {
            Body::None => Vec::new(),
            Body::Length(body) => body.clone(),
            Body::Chunked(chunks) => chunks.concat(),
        };
        (self.method.to_owned(), self.path.clone(), body)
    }
}

fn spec() -> impl Strategy<Value = Spec> {
    let body = prop_oneof![
        Just(Body::None),
        prop::collection::vec(any::<u8>(), 0..64).prop_map(Body::Length),
        prop::collection::vec(prop::collection::vec(any::<u8>(), 0..16), 0..4)
            .prop_map(Body::Chunked),
    ];
    (
        prop_oneof![Just("GET"), Just("POST")],
        "/[a-z0-9]{0,8}",
        body,
    )
        .prop_map(|(method, path, body)| Spec { method, path, body })
}

/// Feeds `wire` cut at `cuts` (alternating the zero-copy and the copying entry points),
/// answering every request as soon as it comes out; returns what came out.
fn run(wire: &[u8], cuts: &[usize], copy: &[bool]) -> Vec<(String, String, Vec<u8>)> {
    let mut h = Harness::new();
    let mut seen = Vec::new();
    let mut bounds: Vec<usize> = cuts.to_vec();
    bounds.push(wire.len());
    bounds.sort_unstable();
    let mut from = 0;
    for (i, &to) in bounds.iter().enumerate() {
        if copy.get(i).copied().unwrap_or(false) {
            h.conn.handle_read(h.now, &wire[from..to]);
        } else {
            h.feed(&wire[from..to]);
        }
        from = to;
        while let Some(event) = h.conn.poll_event() {
            let Event::Request { id, request } = event else {
                panic!("{event:?}")
            };
            let mut body = Vec::new();
            request.body().copy_into(&mut body);
            seen.push((request.method().to_owned(), request.path().to_owned(), body));
            h.answer(id, "ok");
        }
        h.transmit();
    }
    seen
}

proptest! {
    #[test]
    fn any_split_of_a_pipelined_stream_gives_the_same_requests(
        specs in prop::collection::vec(spec(), 1..8),
        cuts in prop::collection::vec(any::<Index>(), 0..24),
        copy in prop::collection::vec(any::<bool>(), 0..25),
    ) {
        let mut wire = Vec::new();
        for spec in &specs {
            spec.encode(&mut wire);
        }
        let cuts: Vec<usize> = cuts.iter().map(|cut| cut.index(wire.len() + 1)).collect();
        let expected: Vec<_> = specs.iter().map(Spec::expected).collect();
        prop_assert_eq!(run(&wire, &[], &[]), expected.clone());
        prop_assert_eq!(run(&wire, &cuts, &copy), expected);
    }

    #[test]
    fn arbitrary_bytes_never_panic_and_every_event_can_be_answered(
        pieces in prop::collection::vec(prop::collection::vec(any::<u8>(), 0..64), 0..8),
        eof in any::<bool>(),
    ) {
        let now = Instant::now();
        let mut conn = ServerConnection::new(Config::default(), now);
        let mut ids = Vec::new();
        for piece in &pieces {
            conn.handle_read(now, piece);
            while let Some(event) = conn.poll_event() {
                ids.push(event.id());
            }
        }
        if eof {
            conn.handle_eof();
            while conn.poll_event().is_some() {}
        }
        for id in ids {
            prop_assert!(conn.respond(now, id, false, |_, out| out.extend_from_slice(b"x")).is_ok());
        }
        while let Some(transmit) = conn.poll_transmit() {
            let n = transmit.len();
            conn.transmitted(now, transmit, n);
        }
        if eof {
            prop_assert!(conn.is_closed());
        }
    }
}
